//! Offline analysis of capture files: every file through one pipeline, in the
//! order given, as fast as the machine allows.

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use otwatch_proto::event::Timestamp;

use crate::assets::{AssetLimits, Tracked};
use crate::capture::file::{CaptureFile, FileError};
use crate::eve::EveWriter;
use crate::pipeline::{Output, Pipeline, PipelineConfig};
use crate::stats::SensorStats;

/// What a replay produced.
#[derive(Debug)]
pub struct ReplayReport {
    /// Counters.
    pub stats: SensorStats,
    /// Wall-clock time spent.
    pub elapsed: Duration,
    /// Timestamp of the last frame.
    pub last_ts: Timestamp,
    /// The file error that stopped the run, if any (frames before it were
    /// processed).
    pub error: Option<FileError>,
}

impl ReplayReport {
    /// Packets per second of wall-clock time.
    pub fn packets_per_sec(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.stats.packets as f64 / secs
        } else {
            0.0
        }
    }
}

/// Progress callback: (file index, bytes done in this file, file size).
pub type Progress<'a> = &'a mut dyn FnMut(usize, u64, u64);

/// Replays `paths` through one pipeline into `output`. Stops at the first
/// unreadable file, after processing every frame before the error.
pub fn replay<O: Output>(
    paths: &[PathBuf],
    config: PipelineConfig,
    output: O,
    progress: Progress<'_>,
) -> (O, ReplayReport) {
    let start = Instant::now();
    let mut pipeline = Pipeline::new(config, output);
    let mut last_ts = Timestamp::default();
    let mut error = None;
    for (i, path) in paths.iter().enumerate() {
        let file = match CaptureFile::open(path) {
            Ok(f) => f,
            Err(e) => {
                error = Some(e);
                break;
            }
        };
        let size = file.len();
        let mut since_progress = 0u32;
        let walked = file.walk(&mut |frame, offset| {
            last_ts = frame.ts;
            pipeline.packet(frame);
            since_progress += 1;
            if since_progress == 65_536 {
                since_progress = 0;
                progress(i, offset, size);
            }
        });
        progress(i, size, size);
        if let Err(e) = walked {
            error = Some(e);
            break;
        }
    }
    let (output, stats) = pipeline.finish();
    let report = ReplayReport {
        stats,
        elapsed: start.elapsed(),
        last_ts,
        error,
    };
    (output, report)
}

/// Replays into an EVE writer, tracking assets, and appends the `asset`
/// lines and the `stats` line.
pub fn replay_to_eve<W: Write>(
    paths: &[PathBuf],
    config: PipelineConfig,
    eve: EveWriter<W>,
    progress: Progress<'_>,
) -> (EveWriter<W>, ReplayReport) {
    let tracked = Tracked::new(eve, AssetLimits::default());
    let (tracked, report) = replay(paths, config, tracked, progress);
    let Tracked {
        assets,
        inner: mut eve,
    } = tracked;
    assets.write_eve(&mut eve);
    eve.stats(report.last_ts, &report.stats, report.elapsed.as_secs_f64());
    (eve, report)
}
