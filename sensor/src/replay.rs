//! Offline analysis of capture files: every file through one pipeline, in the
//! order given, as fast as the machine allows.
//!
//! [`replay`] runs any [`Output`]. [`OfflineSensor`] is the one offline
//! stack of `otwatch replay`, `otwatch run` and `otwatch sensor --pcap`: the
//! rules, EVE lines, the hosts seen and the analyzer client built from one
//! [`OfflineOptions`], ending with the `asset` lines and the `stats` line.

use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use otwatch_proto::event::Timestamp;
use otwatch_proto::wire::{self, ethernet::ETHERTYPE_IPV4, ethernet::ETHERTYPE_IPV6};
use otwatch_rules::Ruleset;

use crate::assets::{AssetLimits, Tracked};
use crate::capture::file::{CaptureFile, FileError};
use crate::capture::{Frame, InputPosition};
use crate::eve::{EveWriter, EventFilter};
use crate::live::{EveSink, SensorOutput, SensorShared};
use crate::pipeline::{NullOutput, Output, Pipeline, PipelineConfig};
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
    let mut at = None;
    for (i, path) in paths.iter().enumerate() {
        let file = match CaptureFile::open(path) {
            Ok(f) => f,
            Err(e) => {
                error = Some(e);
                break;
            }
        };
        let size = file.len();
        let mut position = InputPosition {
            digest: file.digest(),
            frame: 0,
        };
        let mut since_progress = 0u32;
        let walked = file.walk(&mut |frame, offset| {
            last_ts = frame.ts;
            position.frame += 1;
            pipeline.output().input_position(position);
            pipeline.packet(frame);
            since_progress += 1;
            if since_progress == 65_536 {
                since_progress = 0;
                progress(i, offset, size);
            }
        });
        progress(i, size, size);
        at = Some(position);
        if let Err(e) = walked {
            error = Some(e);
            break;
        }
    }
    if let Some(last) = at {
        pipeline.output().input_position(past(last));
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

/// Frames the dispatcher hands a worker at once (one channel message).
const BATCH: usize = 1024;

/// Batches in flight per worker: the dispatcher runs at most this far ahead.
const BATCHES_AHEAD: usize = 8;

/// The position after `last`: where flows ended by the end of the input are.
fn past(last: InputPosition) -> InputPosition {
    InputPosition {
        frame: last.frame + 1,
        ..last
    }
}

/// What the dispatcher hands a worker. Each item carries the position of its
/// frame in the input, so alert ids are those of one pipeline.
#[derive(Debug, Clone, Copy)]
enum Item<'f> {
    /// A frame of the worker's share.
    Frame(Frame<'f>, InputPosition),
    /// Capture time changed second: the worker sweeps its idle flows
    /// as the single pipeline would on the first frame of that second (at
    /// that frame's position), so that flows end (and 5-tuples are reused)
    /// at the same moments whatever the number of workers.
    Tick(Timestamp, InputPosition),
    /// The end of the input: where the flows still open end.
    End(InputPosition),
}

/// Replays `paths` through one pipeline per output, on as many threads: the
/// calling thread walks the files and deals each frame to a worker by a
/// symmetric hash of its IP addresses ([`worker_of`]), so that both
/// directions of a flow, and every fragment of a datagram, meet in one
/// worker. With one output this is [`replay`]. The events are those of one
/// pipeline, in another order across flows (rules that count across flows
/// share their threshold tables through the outputs, see
/// [`SensorShared`]).
pub fn replay_parallel<O: Output + Send>(
    paths: &[PathBuf],
    config: PipelineConfig,
    outputs: Vec<O>,
    progress: Progress<'_>,
) -> (Vec<O>, ReplayReport) {
    if outputs.len() <= 1 {
        let mut outputs = outputs;
        let Some(output) = outputs.pop() else {
            return (outputs, replay(paths, config, NullOutput, progress).1);
        };
        let (output, report) = replay(paths, config, output, progress);
        return (vec![output], report);
    }
    let start = Instant::now();
    let mut error = None;
    let mut files = Vec::with_capacity(paths.len());
    for path in paths {
        match CaptureFile::open(path) {
            Ok(f) => files.push(f),
            Err(e) => {
                // Frames of the files before it are processed, as in `replay`.
                error = Some(e);
                break;
            }
        }
    }
    let mut dealt = Dealt {
        last_ts: Timestamp::default(),
        idle: Vec::new(),
        error,
    };
    let results = deal(&files, config, outputs, progress, &mut dealt);
    let Dealt {
        last_ts,
        mut idle,
        error,
    } = dealt;
    if results.is_empty() && !idle.is_empty() {
        let first = idle.remove(0);
        let (first, report) = replay(paths, config, first, progress);
        idle.insert(0, first);
        return (idle, report);
    }
    let mut stats = SensorStats::default();
    let mut outputs = Vec::with_capacity(results.len() + idle.len());
    for (output, worker_stats) in results {
        stats.merge(&worker_stats);
        outputs.push(output);
    }
    outputs.extend(idle);
    let report = ReplayReport {
        stats,
        elapsed: start.elapsed(),
        last_ts,
        error,
    };
    (outputs, report)
}

/// What [`deal`] leaves besides the workers' results.
struct Dealt<O> {
    last_ts: Timestamp,
    /// Outputs no thread could be started for (no events).
    idle: Vec<O>,
    error: Option<FileError>,
}

/// Runs one worker thread per output over `files`, dealing their frames
/// (see [`replay_parallel`]); returns each started worker's output and
/// counters.
fn deal<'f, O: Output + Send>(
    files: &'f [CaptureFile],
    config: PipelineConfig,
    outputs: Vec<O>,
    progress: Progress<'_>,
    dealt: &mut Dealt<O>,
) -> Vec<(O, SensorStats)> {
    std::thread::scope(|scope| {
        let (recycle_tx, recycle_rx) = mpsc::channel::<Vec<Item<'f>>>();
        let mut senders = Vec::with_capacity(outputs.len());
        let mut handles = Vec::with_capacity(outputs.len());
        let mut outputs = outputs.into_iter();
        for (i, output) in outputs.by_ref().enumerate() {
            let (tx, rx) = mpsc::sync_channel::<Vec<Item<'f>>>(BATCHES_AHEAD);
            // The output travels by channel, not in the closure, so that it
            // is still here when a thread cannot be started.
            let (give, take) = mpsc::sync_channel::<O>(1);
            let recycle = recycle_tx.clone();
            let work = move || {
                let output = take.recv().ok()?;
                let mut pipeline = Pipeline::new(config, output);
                for mut batch in rx {
                    for item in batch.drain(..) {
                        match item {
                            Item::Frame(frame, at) => {
                                pipeline.output().input_position(at);
                                pipeline.packet(frame);
                            }
                            Item::Tick(now, at) => {
                                pipeline.output().input_position(at);
                                pipeline.sweep_as_frame(now);
                            }
                            Item::End(at) => pipeline.output().input_position(at),
                        }
                    }
                    // The dispatcher may be gone already: the batch is then freed.
                    let _ = recycle.send(batch);
                }
                Some(pipeline.finish())
            };
            let spawned = std::thread::Builder::new()
                .name(format!("otwatch-r{i}"))
                .spawn_scoped(scope, work);
            match spawned {
                Ok(h) => {
                    // The thread waits for it: the send cannot fail.
                    let _ = give.send(output);
                    handles.push(h);
                    senders.push(tx);
                }
                Err(e) => {
                    // Fewer workers share the frames; this output and the
                    // rest stay without events.
                    eprintln!("otwatch: cannot start replay worker {i} ({e}); going on with {i}");
                    dealt.idle.push(output);
                    break;
                }
            }
        }
        dealt.idle.extend(outputs);
        let workers = senders.len();
        if workers == 0 {
            // Not one thread: the caller's thread replays alone (below).
            return Vec::new();
        }
        drop(recycle_tx);
        let mut batches: Vec<Vec<Item<'f>>> =
            (0..workers).map(|_| Vec::with_capacity(BATCH)).collect();
        let mut second = i64::MIN;
        let mut at = None;
        let hand_over = |w: usize, batches: &mut [Vec<Item<'f>>]| {
            let fresh = recycle_rx
                .try_recv()
                .unwrap_or_else(|_| Vec::with_capacity(BATCH));
            let full = std::mem::replace(&mut batches[w], fresh);
            // A worker that is gone has panicked: `join` below re-raises it.
            let _ = senders[w].send(full);
        };
        for (i, file) in files.iter().enumerate() {
            let size = file.len();
            let mut position = InputPosition {
                digest: file.digest(),
                frame: 0,
            };
            let mut since_progress = 0u32;
            let walked = file.walk(&mut |frame, offset| {
                dealt.last_ts = frame.ts;
                position.frame += 1;
                // Any change of second, as the single pipeline sweeps (a
                // later file's time may go back).
                if frame.ts.secs != second {
                    second = frame.ts.secs;
                    for w in 0..workers {
                        batches[w].push(Item::Tick(frame.ts, position));
                        if batches[w].len() >= BATCH {
                            hand_over(w, &mut batches);
                        }
                    }
                }
                let w = worker_of(&frame, workers);
                batches[w].push(Item::Frame(frame, position));
                if batches[w].len() >= BATCH {
                    hand_over(w, &mut batches);
                }
                since_progress += 1;
                if since_progress == 65_536 {
                    since_progress = 0;
                    progress(i, offset, size);
                }
            });
            progress(i, size, size);
            at = Some(position);
            if let Err(e) = walked {
                dealt.error.get_or_insert(e);
                break;
            }
        }
        for w in 0..workers {
            if let Some(last) = at {
                batches[w].push(Item::End(past(last)));
            }
            if !batches[w].is_empty() {
                hand_over(w, &mut batches);
            }
        }
        drop(senders);
        handles
            .into_iter()
            .filter_map(|h| match h.join() {
                Ok(r) => r,
                Err(panic) => std::panic::resume_unwind(panic),
            })
            .collect()
    })
}

/// The worker (of `workers`) that gets `frame`: a hash of its source and
/// destination IP addresses that does not depend on their order, so both
/// directions of a flow go to one worker, and so do all fragments of a
/// datagram (only the first carries the ports). Frames without an IP layer
/// go to worker 0.
pub fn worker_of(frame: &Frame<'_>, workers: usize) -> usize {
    if workers <= 1 {
        return 0;
    }
    let Ok((link, network)) = wire::link_layer(frame.link_type, frame.data) else {
        return 0;
    };
    let (a, b) = match link.ethertype {
        ETHERTYPE_IPV4 => match network.get(12..20) {
            Some(addrs) => (fold(&addrs[..4]), fold(&addrs[4..])),
            None => return 0,
        },
        ETHERTYPE_IPV6 => match network.get(8..40) {
            Some(addrs) => (fold(&addrs[..16]), fold(&addrs[16..])),
            None => return 0,
        },
        _ => return 0,
    };
    let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
    // A multiplicative mix of the ordered pair (Fibonacci hashing); the top
    // bits are the best mixed.
    let mixed = (lo.rotate_left(29) ^ hi).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    ((mixed >> 32) % workers as u64) as usize
}

/// An address as a number (IPv6: its two halves folded).
fn fold(bytes: &[u8]) -> u64 {
    let mut acc = 0u64;
    for chunk in bytes.chunks(8) {
        let mut word = [0u8; 8];
        word[..chunk.len()].copy_from_slice(chunk);
        acc = acc.rotate_left(17) ^ u64::from_be_bytes(word);
    }
    acc
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
    /// Pipelines, each on its own thread (1: the caller's thread alone).
    pub workers: usize,
    /// Where to learn a baseline into, when learning.
    pub learn: Option<Arc<crate::learn::LearnShared>>,
}

/// What an offline run did.
#[derive(Debug)]
pub struct OfflineReport {
    /// Counters (with the alerts), time, the file error if any.
    pub replay: ReplayReport,
    /// The first error writing EVE lines (later lines were dropped).
    pub write: io::Result<()>,
}

/// The offline sensor: the pipelines, the rule engine, EVE lines, the hosts
/// seen and the analyzer client, as [`OfflineOptions`] say.
#[derive(Debug)]
pub struct OfflineSensor {
    outputs: Vec<SensorOutput>,
    shared: SensorShared,
    pipeline: PipelineConfig,
}

impl OfflineSensor {
    /// Builds the outputs of `options`: one per worker, sharing the
    /// threshold and asset tables, the EVE file and the analyzer client.
    pub fn new(options: OfflineOptions) -> OfflineSensor {
        let mut shared = SensorShared::new(AssetLimits::default());
        shared.learning = options.learn;
        let outputs = (0..options.workers.max(1))
            .map(|_| {
                SensorOutput::new(
                    options.rules.clone(),
                    options.eve.clone(),
                    options.ship.clone(),
                    &shared,
                )
            })
            .collect();
        OfflineSensor {
            outputs,
            shared,
            pipeline: options.pipeline,
        }
    }

    /// Replays `paths` (see [`replay_parallel`]), then writes one `asset`
    /// line per host seen and the `stats` line, and flushes.
    pub fn replay(self, paths: &[PathBuf], progress: Progress<'_>) -> OfflineReport {
        let OfflineSensor {
            outputs,
            shared,
            pipeline,
        } = self;
        let (outputs, mut report) = replay_parallel(paths, pipeline, outputs, progress);
        let mut tees = Vec::with_capacity(outputs.len());
        report.stats.alerts = 0;
        // The workers share one threshold table.
        report.stats.threshold_windows_evicted = shared.thresholds.evicted();
        for mut output in outputs {
            report.stats.alerts += output.alerts();
            let (deviations, held) = output.deviations();
            report.stats.deviations += deviations;
            report.stats.deviations_held += held;
            report.stats.suppressed += output.suppressed();
            output.publish_assets();
            tees.extend(output.into_tee());
        }
        let mut write = Ok(());
        // Every worker's lines first, then the hosts and the counters of
        // the whole run after them, from the first.
        let mut tees = tees.into_iter();
        let first = tees.next();
        for mut tee in tees {
            if let Err(e) = tee.finish() {
                write = write.and(Err(e));
            }
        }
        if let Some(mut tee) = first {
            tee.assets(&shared.assets.take_changed());
            tee.stats(
                report.last_ts,
                &report.stats,
                None,
                report.elapsed.as_secs_f64(),
            );
            if let Err(e) = tee.finish() {
                write = write.and(Err(e));
            }
        }
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

    /// Every capture of `pcaps/`, in name order (one stream of many
    /// plants: Modbus, S7comm and DNP3 from real stacks, attacks among them).
    fn bundled_captures() -> Vec<PathBuf> {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../pcaps");
        let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        paths.retain(|p| p.extension().is_some_and(|e| e == "pcap"));
        // Not the scans: their sweep rules count across flows, which
        // several workers see in an order of their own, so which match
        // completes a count (the alert's event and id) depends on the
        // workers' timing. Every other alert is raised by its own flow.
        paths.retain(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| !n.starts_with("recon_") && n != "synth_recon.pcap")
        });
        paths.sort();
        paths
    }

    /// The EVE text of an offline run of `paths` with `workers` and the
    /// bundled rules, and its report.
    fn eve_text(paths: &[PathBuf], workers: usize) -> (String, OfflineReport) {
        let seen = MemoryLines::default();
        let offline = OfflineSensor::new(OfflineOptions {
            rules: Arc::new(Ruleset::bundled().expect("bundled rules")),
            pipeline: PipelineConfig::default(),
            eve: Some((EveSink::new(Box::new(seen.clone())), EventFilter::all())),
            ship: None,
            workers,
            learn: None,
        });
        let done = offline.replay(paths, &mut |_, _, _| {});
        (String::from_utf8(seen.take()).unwrap_or_default(), done)
    }

    /// The EVE lines of an offline run with `workers`, sorted, without what
    /// differs between runs (the elapsed time). Alert ids come from the
    /// input, so they stay.
    fn sorted_lines(paths: &[PathBuf], workers: usize) -> (Vec<String>, OfflineReport) {
        let (text, done) = eve_text(paths, workers);
        let mut lines: Vec<String> = text
            .lines()
            .map(|l| match l.find("\"uptime\":") {
                Some(i) => l[..i].to_owned(),
                None => l.to_owned(),
            })
            .collect();
        lines.sort();
        (lines, done)
    }

    #[test]
    fn workers_write_the_lines_of_one_pipeline() {
        let paths = bundled_captures();
        assert!(paths.len() >= 10, "the bundled captures: {paths:?}");
        let (one, one_done) = sorted_lines(&paths, 1);
        assert!(one_done.replay.error.is_none());
        assert!(
            one_done.replay.stats.alerts > 20,
            "the attack captures alert"
        );
        for workers in [2, 3] {
            let (many, done) = sorted_lines(&paths, workers);
            assert!(done.write.is_ok());
            assert_eq!(done.replay.stats.packets, one_done.replay.stats.packets);
            assert_eq!(done.replay.stats.alerts, one_done.replay.stats.alerts);
            assert_eq!(many.len(), one.len(), "{workers} workers");
            let differing: Vec<(&String, &String)> =
                one.iter().zip(&many).filter(|(a, b)| a != b).collect();
            assert!(
                differing.is_empty(),
                "{workers} workers: {} lines differ, first {:?}",
                differing.len(),
                differing.first()
            );
        }
    }

    /// The alert ids of the EVE lines of an offline run of `paths` with
    /// `workers`, sorted.
    fn alert_ids(paths: &[PathBuf], workers: usize) -> Vec<String> {
        let (text, done) = eve_text(paths, workers);
        assert!(done.replay.error.is_none());
        let mut ids: Vec<String> = text
            .lines()
            .filter_map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).ok()?;
                Some(v.get("alert_id")?.as_str()?.to_owned())
            })
            .collect();
        assert_eq!(ids.len() as u64, done.replay.stats.alerts);
        ids.sort();
        ids
    }

    #[test]
    fn offline_alert_ids_come_from_the_input_whatever_the_workers() {
        let paths = bundled_captures();
        let once = alert_ids(&paths, 1);
        assert!(once.len() > 20, "the attack captures alert: {once:?}");
        // Every id once: the analyzer would drop an alert that shares one.
        let distinct: std::collections::BTreeSet<&String> = once.iter().collect();
        assert_eq!(distinct.len(), once.len(), "{once:?}");
        // Each names the digest of one of the files.
        let digests: Vec<String> = paths
            .iter()
            .map(|p| {
                let f = CaptureFile::open(p).expect("opens");
                format!("{:016x}-", f.digest())
            })
            .collect();
        assert!(
            once.iter()
                .all(|id| digests.iter().any(|d| id.starts_with(d))),
            "{once:?}"
        );
        // The same files again, and with several workers: the same ids.
        assert_eq!(alert_ids(&paths, 1), once);
        assert_eq!(alert_ids(&paths, 2), once);
        assert_eq!(alert_ids(&paths, 3), once);
    }

    #[test]
    fn another_capture_gives_other_alert_ids() {
        let original = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../pcaps/modbus_attack_diagnostics.pcap");
        let bytes = std::fs::read(&original).expect("reads");
        // The same capture with the microseconds of its last frame's time
        // changed (a classic pcap record header: seconds, microseconds,
        // lengths): the same alerts, from another file.
        let dir = tempfile::tempdir().expect("tempdir");
        let changed = dir.path().join("changed.pcap");
        let mut other = bytes.clone();
        let mut at = 24;
        let mut last = 24;
        while at + 16 <= other.len() {
            last = at;
            let caplen =
                u32::from_le_bytes([other[at + 8], other[at + 9], other[at + 10], other[at + 11]]);
            at += 16 + caplen as usize;
        }
        other[last + 4] ^= 1;
        std::fs::write(&changed, &other).expect("writes");
        let a = alert_ids(std::slice::from_ref(&original), 1);
        let b = alert_ids(std::slice::from_ref(&changed), 1);
        assert!(!a.is_empty());
        assert_eq!(a.len(), b.len());
        assert!(a.iter().all(|id| !b.contains(id)), "{a:?} {b:?}");
        // A copy of the original is the same input: the same ids.
        let copy = dir.path().join("copy.pcap");
        std::fs::write(&copy, &bytes).expect("writes");
        assert_eq!(alert_ids(&[copy], 1), a);
    }

    #[test]
    fn both_directions_and_all_fragments_meet_in_one_worker() {
        use crate::synth::{tcp_frame, Host};
        use otwatch_proto::wire::LinkType;
        let host = |last: u8, port: u16| Host {
            mac: [2, 0, 0, 0, 0, last],
            ip: std::net::Ipv4Addr::new(10, 0, 0, last),
            port,
        };
        let frame = |data: &[u8]| -> usize {
            let f = Frame {
                ts: Timestamp::default(),
                link_type: LinkType::Ethernet,
                data,
                wire_len: data.len() as u32,
            };
            worker_of(&f, 4)
        };
        let mut used = [false; 4];
        for a in 1..40u8 {
            let (client, server) = (host(a, 40_000 + u16::from(a)), host(200, 502));
            let there = tcp_frame(&client, &server, 1, 1, 0x18, b"req");
            let back = tcp_frame(&server, &client, 1, 1, 0x18, b"resp");
            // Another port pair on the same hosts (a later fragment carries
            // no ports): the same worker.
            let other_ports = tcp_frame(&host(a, 1), &host(200, 2), 1, 1, 0x10, &[]);
            let w = frame(&there);
            assert_eq!(frame(&back), w, "host {a}");
            assert_eq!(frame(&other_ports), w, "host {a}");
            used[w] = true;
        }
        assert_eq!(used, [true; 4], "forty host pairs spread over four workers");
        // No IP layer (ARP), or a cut frame: worker 0.
        let mut arp = tcp_frame(&host(1, 1), &host(2, 2), 1, 1, 0x10, &[]);
        arp[12..14].copy_from_slice(&0x0806u16.to_be_bytes());
        assert_eq!(frame(&arp), 0);
        assert_eq!(frame(&arp[..20]), 0);
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
            workers: 1,
            learn: None,
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
        // Alert ids come from the capture: the same in both runs.
        assert_eq!(cut(&text), cut(&expected));
        let last = text.lines().last().unwrap_or_default();
        assert!(last.contains("\"event_type\":\"stats\""), "{last}");
        assert!(text.contains("\"event_type\":\"asset\""));
    }

    /// The baseline learned from every bundled capture, with `workers`.
    fn learned(workers: usize) -> otwatch_rules::baseline::Baseline {
        let shared = Arc::new(crate::learn::LearnShared::new());
        let offline = OfflineSensor::new(OfflineOptions {
            rules: Arc::new(Ruleset::bundled().expect("bundled rules")),
            pipeline: PipelineConfig::default(),
            eve: None,
            ship: None,
            workers,
            learn: Some(shared.clone()),
        });
        let done = offline.replay(&bundled_captures(), &mut |_, _, _| {});
        assert!(done.replay.error.is_none());
        shared.take()
    }

    #[test]
    fn several_workers_learn_the_baseline_one_worker_learns() {
        let one = learned(1);
        // Modbus, S7comm and DNP3 on 10.200.7.10 (the recordings and the
        // synthesized captures), the demo plant's S7 PLC (.11) and DNP3
        // outstation (.12), the Logix controller of the synthesized
        // EtherNet/IP attacks (.21), the IEC 104 station of the synthesized
        // ones (.31), the cpppo simulator of the pycomm3 recordings
        // (10.200.8.10) and the c104 station of the IEC 104 recordings
        // (10.200.9.10).
        let servers: Vec<String> = one
            .servers()
            .map(|(k, _)| format!("{} {} {}", k.ip, k.protocol.name(), k.port))
            .collect();
        assert_eq!(
            servers,
            [
                "10.200.7.10 modbus 502",
                "10.200.7.10 dnp3 20000",
                "10.200.7.10 s7comm 102",
                "10.200.7.11 s7comm 102",
                "10.200.7.12 dnp3 20000",
                "10.200.7.21 enip 44818",
                "10.200.7.31 iec104 2404",
                "10.200.8.10 enip 44818",
                "10.200.9.10 iec104 2404",
            ]
        );
        assert!(one.operations() > 100, "{} operations", one.operations());
        let text = otwatch_rules::baseline::file::render(&one);
        for workers in [2, 3] {
            let many = learned(workers);
            assert_eq!(many.pairs(), one.pairs(), "{workers} workers");
            assert_eq!(
                otwatch_rules::baseline::file::render(&many),
                text,
                "{workers} workers"
            );
        }
        // Read back, the file is the same baseline.
        let back = otwatch_rules::baseline::file::parse("learned.yaml", &text).expect("parses");
        assert_eq!(otwatch_rules::baseline::file::render(&back), text);
    }
}
