//! Offline analysis of capture files: every file through one pipeline, in the
//! order given, as fast as the machine allows.
//!
//! [`replay`] runs any [`Output`]. [`OfflineSensor`] is the one offline
//! stack of `otwatch replay`, `otwatch run` and `otwatch sensor --pcap`: the
//! rules, EVE lines, the hosts seen and the analyzer client built from one
//! [`OfflineOptions`], ending with the `asset` lines and the `stats` line.

use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use otwatch_proto::event::Timestamp;
use otwatch_rules::Ruleset;

use crate::assets::{AssetLimits, Tracked};
use crate::capture::file::{CaptureFile, FileError};
use crate::eve::{EveWriter, EventFilter};
use crate::live::{EveSink, SensorOutput, SensorShared};
use crate::pipeline::{Output, Pipeline, PipelineConfig};
use crate::ship::Shipper;
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
        crate::live::per_second(self.stats.packets, self.elapsed)
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

/// What an offline run is built from.
#[derive(Debug)]
pub struct OfflineOptions {
    /// The rules.
    pub rules: Arc<Ruleset>,
    /// Pipeline settings.
    pub pipeline: PipelineConfig,
    /// Where EVE lines go, and which event types.
    pub eve: Option<(Arc<EveSink>, EventFilter)>,
    /// The analyzer client (alerts, assets and stats).
    pub ship: Option<Arc<Shipper>>,
}

/// What an offline run did.
#[derive(Debug)]
pub struct OfflineReport {
    /// Counters (with the alerts), time, the file error if any.
    pub replay: ReplayReport,
    /// The first error writing EVE lines (later lines were dropped).
    pub write: io::Result<()>,
}

/// The offline sensor: the pipeline, the rule engine, EVE lines, the hosts
/// seen and the analyzer client, as [`OfflineOptions`] say.
#[derive(Debug)]
pub struct OfflineSensor {
    output: SensorOutput,
    shared: SensorShared,
    pipeline: PipelineConfig,
}

impl OfflineSensor {
    /// Builds the outputs of `options`.
    pub fn new(options: OfflineOptions) -> OfflineSensor {
        let shared = SensorShared::new(AssetLimits::default());
        let output = SensorOutput::new(options.rules, options.eve, options.ship, &shared);
        OfflineSensor {
            output,
            shared,
            pipeline: options.pipeline,
        }
    }

    /// Replays `paths` (see [`replay`]), then writes one `asset` line per
    /// host seen and the `stats` line, and flushes.
    pub fn replay(self, paths: &[PathBuf], progress: Progress<'_>) -> OfflineReport {
        let OfflineSensor {
            output,
            shared,
            pipeline,
        } = self;
        let (mut output, mut report) = replay(paths, pipeline, output, progress);
        report.stats.alerts = output.alerts();
        output.publish_assets();
        let write = match output.into_tee() {
            Some(mut tee) => {
                tee.assets(&shared.assets.take_changed());
                tee.stats(
                    report.last_ts,
                    &report.stats,
                    None,
                    report.elapsed.as_secs_f64(),
                );
                tee.finish()
            }
            None => Ok(()),
        };
        OfflineReport {
            replay: report,
            write,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::Detect;
    use crate::live::MemoryLines;

    /// `"alert_id":"<run id>-<n>"` with the run id (random per run) cut out.
    fn without_run_ids(text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(i) = rest.find("\"alert_id\":\"") {
            let start = i + "\"alert_id\":\"".len();
            out.push_str(&rest[..start]);
            rest = &rest[start..];
            if let Some(dash) = rest.find('-') {
                rest = &rest[dash..];
            }
        }
        out.push_str(rest);
        out
    }

    #[test]
    fn the_offline_stack_writes_what_rules_eve_and_assets_write_on_their_own() {
        // A pymodbus client sending diagnostics requests (restart, force
        // listen only mode, clear counters) that the bundled rules alert on.
        let pcap = [
            PathBuf::from(env!("CARGO_MANIFEST_DIR")),
            "../pcaps/modbus_attack_diagnostics.pcap".into(),
        ]
        .iter()
        .collect::<PathBuf>();
        let rules = Arc::new(Ruleset::bundled().expect("bundled rules"));

        let seen = MemoryLines::default();
        let sink = EveSink::new(Box::new(seen.clone()));
        let offline = OfflineSensor::new(OfflineOptions {
            rules: rules.clone(),
            pipeline: PipelineConfig::default(),
            eve: Some((sink, EventFilter::all())),
            ship: None,
        });
        let done = offline.replay(std::slice::from_ref(&pcap), &mut |_, _, _| {});
        assert!(done.write.is_ok());
        assert!(done.replay.error.is_none());
        let text = String::from_utf8(seen.take()).unwrap_or_default();

        // The same capture through the rule engine, the asset table and an
        // EVE writer assembled by hand.
        let eve = EveWriter::new(Vec::new(), EventFilter::all());
        let detect = Detect::new(rules, Tracked::new(eve, AssetLimits::default()));
        let (detect, report) = replay(
            &[pcap],
            PipelineConfig::default(),
            detect,
            &mut |_, _, _| {},
        );
        let alerts = detect.alerts();
        let Tracked {
            assets,
            inner: mut eve,
        } = detect.into_inner();
        assets.write_eve(&mut eve);
        let mut stats = report.stats.clone();
        stats.alerts = alerts;
        eve.stats(report.last_ts, &stats, done.replay.elapsed.as_secs_f64());
        let expected = String::from_utf8(eve.into_inner()).unwrap_or_default();

        assert!(alerts > 0, "the diagnostics requests raise alerts");
        assert_eq!(done.replay.stats.alerts, alerts);
        let alert_lines = text.matches("\"event_type\":\"alert\"").count() as u64;
        assert_eq!(alert_lines, alerts, "one line per alert");
        // Elapsed time differs between the two runs: compare without it.
        let cut = |t: &str| {
            t.lines()
                .map(|l| match l.find("\"uptime\":") {
                    Some(i) => l[..i].to_owned(),
                    None => l.to_owned(),
                })
                .collect::<Vec<_>>()
                .join("\n")
        };
        assert_eq!(
            cut(&without_run_ids(&text)),
            cut(&without_run_ids(&expected))
        );
        let last = text.lines().last().unwrap_or_default();
        assert!(last.contains("\"event_type\":\"stats\""), "{last}");
        assert!(text.contains("\"event_type\":\"asset\""));
    }
}
