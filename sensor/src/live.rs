//! Live capture: worker threads, each with its own capture ring and its own
//! [`Pipeline`] (its own flows), signals, reloads and counters.
//!
//! The pieces, in the order a sensor uses them:
//!
//! 1. [`Capture::open`] opens one capture source per worker (as root): an
//!    AF_PACKET TPACKET_V3 ring per worker joined in one fanout group (the
//!    default), or a libpcap handle per worker (feature `libpcap`, with BPF
//!    filters). The kernel spreads flows over the workers with a symmetric
//!    hash, so each worker sees both directions of its flows.
//! 2. [`drop_privileges`] switches to an unprivileged user; the open sockets
//!    keep working.
//! 3. [`Signals::install`] turns SIGINT/SIGTERM into a shutdown request and
//!    SIGHUP into a reload request, both read by the caller's tick.
//! 4. [`run`] starts the workers, calls the caller's tick on this thread every
//!    [`LiveConfig::poll`], and on shutdown lets each worker drain its ring,
//!    end its flows ([`Pipeline::finish`]) and flush its output, then returns
//!    every output and a [`LiveReport`].
//! 5. [`LiveReporter`], called from the tick, writes `stats` and `asset`
//!    lines every [`LiveConfig::report_interval`], and the last ones at the
//!    end.
//!
//! A worker whose ring stays empty for a poll interval runs its pipeline's
//! idle-flow sweep ([`Pipeline::tick`]) with the current time in the
//! frames' time base, so flows on a quiet network still time out. Every
//! report interval it hands its open flows and gathered observations to its
//! output ([`LiveOutput::active_flow`], [`LiveOutput::report`]) and
//! publishes its counters ([`Control::stats`]).
//!
//! Each worker needs its own [`Output`]: `run` takes a factory. Outputs are
//! [`LiveOutput`]s: they can be flushed (a worker flushes when idle and every
//! `poll`) and can take a new configuration between two packets
//! ([`Control::publish`]; for [`SensorOutput`] a new ruleset), which is how
//! SIGHUP reloads rules without stopping capture. A worker looks at the
//! published version once per ring block (an atomic load): no lock on the hot
//! path.
//!
//! [`SensorOutput`] is the output of `otwatch sensor` and `otwatch run
//! --iface`: the rule engine, EVE lines to one shared writer ([`EveSink`],
//! written in whole per-worker batches under a mutex), alerts to the
//! analyzer ([`Shipper`]) and the hosts seen. The workers' outputs share a
//! [`SensorShared`]: the rules' threshold windows and the asset table, each
//! behind a lock taken only when a thresholded rule matched or at a report.
//!
//! ```no_run
//! use std::sync::Arc;
//! use otwatch_sensor::detect::rules::Ruleset;
//! use otwatch_sensor::eve::EventFilter;
//! use otwatch_sensor::assets::AssetLimits;
//! use otwatch_sensor::live::{
//!     self, Capture, Control, EveSink, EveTee, LiveConfig, LiveReporter, LiveStatsLine,
//!     SensorOutput, SensorShared, Signals,
//! };
//! use otwatch_sensor::pipeline::PipelineConfig;
//!
//! let rules = Arc::new(Ruleset::bundled().expect("bundled rules"));
//! let mut config = LiveConfig::new("eth1");
//! config.workers = 2;
//! let capture = Capture::open(&config).expect("capture");      // as root
//! live::drop_privileges("nobody").expect("privilege drop");
//! let signals = Signals::install().expect("signals");
//! let eve = EveSink::new(Box::new(std::io::stdout()));
//! let shared = SensorShared::new(AssetLimits::default());
//! let line = LiveStatsLine {
//!     iface: "eth1".into(),
//!     backend: config.backend.name(),
//!     workers: capture.workers(),
//!     kernel: Default::default(),
//! };
//! let tee = EveTee::new(Some((eve.clone(), EventFilter::all())), None);
//! let mut reporter = LiveReporter::new(tee, shared.assets.clone(), line, config.report_interval);
//! let control = Control::new(rules.clone());
//! let (outputs, report) = live::run(
//!     capture,
//!     PipelineConfig::default(),
//!     |_worker| {
//!         let eve = Some((eve.clone(), EventFilter::all()));
//!         SensorOutput::new(rules.clone(), eve, None, &shared)
//!     },
//!     &control,
//!     |control| {
//!         if signals.terminated() {
//!             control.shutdown();
//!         }
//!         if signals.take_hangup() {
//!             if let Ok(set) = Ruleset::bundled() {
//!                 control.publish(Arc::new(set));
//!             }
//!         }
//!         reporter.tick(control);
//!     },
//! );
//! for output in outputs {
//!     if let Some(mut tee) = output.into_tee() {
//!         let _ = tee.finish();
//!     }
//! }
//! let _ = reporter.finish(&report);
//! eprintln!("{} packets, {} kernel drops", report.stats.packets, report.kernel.drops);
//! ```

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use otwatch_proto::event::{Anomaly, Event, Timestamp};

use crate::assets::{AssetLimits, AssetTable, SharedAssets, Tracked};
use crate::capture::afpacket::{self, KernelStats, Ring, RingConfig, RingOptions};
use crate::capture::Frame;
use crate::detect::rules::{Alert, Ruleset, Thresholds};
use crate::detect::{AlertContext, AlertSink, Detect};
use crate::eve::{write_ts, EveWriter, EventFilter, EventType};
use crate::pipeline::{
    AppProto, FlowMeta, FlowRecord, Output, PacketMeta, Pipeline, PipelineConfig,
};
use crate::ship::Shipper;
use crate::stats::SensorStats;

pub use crate::capture::afpacket::{drop_privileges, Credentials};

/// Which capture back-end to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Backend {
    /// Our AF_PACKET TPACKET_V3 ring with fanout (Linux, no library).
    #[default]
    AfPacket,
    /// libpcap (cargo feature `libpcap`).
    Libpcap,
}

impl Backend {
    /// Name as on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Backend::AfPacket => "afpacket",
            Backend::Libpcap => "libpcap",
        }
    }

    /// Parses `afpacket` or `libpcap`.
    pub fn parse(text: &str) -> Result<Backend, String> {
        match text {
            "afpacket" | "af_packet" => Ok(Backend::AfPacket),
            "libpcap" | "pcap" => Ok(Backend::Libpcap),
            other => Err(format!(
                "unknown capture back-end `{other}`; choose afpacket or libpcap"
            )),
        }
    }
}

/// Settings of a live capture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveConfig {
    /// Interface to listen on.
    pub iface: String,
    /// Worker threads (one capture ring and one pipeline each).
    pub workers: usize,
    /// Capture back-end.
    pub backend: Backend,
    /// AF_PACKET ring geometry (per worker).
    pub ring: RingConfig,
    /// Promiscuous mode.
    pub promisc: bool,
    /// BPF capture filter (libpcap back-end only).
    pub bpf: Option<String>,
    /// Bytes kept per frame (libpcap back-end).
    pub snaplen: u32,
    /// libpcap buffer per worker in bytes.
    pub pcap_buffer_bytes: u32,
    /// How often idle workers wake up (shutdown, reload, flush) and the
    /// caller's tick runs.
    pub poll: Duration,
    /// Kernel counters are read this often.
    pub stats_interval: Duration,
    /// Workers publish their counters and the hosts they saw this often,
    /// for the periodic `stats` and `asset` lines ([`LiveReporter`]).
    pub report_interval: Duration,
}

impl LiveConfig {
    /// Defaults for `iface`: AF_PACKET, one worker per core (at least 1),
    /// promiscuous, 1 MiB × 32 blocks per worker, 100 ms poll, a report
    /// every 10 s.
    pub fn new(iface: impl Into<String>) -> LiveConfig {
        LiveConfig {
            iface: iface.into(),
            workers: std::thread::available_parallelism().map_or(1, usize::from),
            backend: Backend::AfPacket,
            ring: RingConfig::default(),
            promisc: true,
            bpf: None,
            snaplen: 65_535,
            pcap_buffer_bytes: 32 << 20,
            poll: Duration::from_millis(100),
            stats_interval: Duration::from_secs(1),
            report_interval: Duration::from_secs(10),
        }
    }

    /// Every problem with the settings, all at once.
    pub fn validate(&self) -> Result<(), Vec<String>> {
        let mut errors = Vec::new();
        if self.iface.is_empty() {
            errors.push("no interface given".to_owned());
        }
        if self.workers == 0 || self.workers > 1024 {
            errors.push(format!("workers must be 1..=1024, not {}", self.workers));
        }
        if self.bpf.is_some() && self.backend == Backend::AfPacket {
            errors.push("--bpf needs the libpcap back-end (--backend libpcap)".to_owned());
        }
        if self.backend == Backend::Libpcap && !cfg!(feature = "libpcap") {
            errors.push(
                "this otwatch was built without the libpcap back-end (cargo feature `libpcap`)"
                    .to_owned(),
            );
        }
        if self.backend == Backend::AfPacket {
            if let Err(e) = self.ring.validate() {
                errors.push(e);
            }
        }
        if self.poll.is_zero() {
            errors.push("poll interval must be above zero".to_owned());
        }
        if self.report_interval.is_zero() {
            errors.push("stats interval must be above zero".to_owned());
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

/// Why a live capture could not start or stopped.
#[derive(Debug)]
pub struct LiveError {
    /// What was being done.
    pub context: String,
    /// The error.
    pub error: io::Error,
}

impl std::fmt::Display for LiveError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.context, self.error)
    }
}

impl std::error::Error for LiveError {}

enum Source {
    AfPacket(Ring),
    #[cfg(feature = "libpcap")]
    Libpcap(crate::capture::libpcap::PcapSource),
}

/// Open capture sources, one per worker.
pub struct Capture {
    sources: Vec<Source>,
    config: LiveConfig,
}

impl std::fmt::Debug for Capture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Capture")
            .field("iface", &self.config.iface)
            .field("workers", &self.sources.len())
            .field("backend", &self.config.backend)
            .finish()
    }
}

/// A fanout group id unlikely to clash with another process on the host.
fn fanout_group() -> u16 {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    ((u64::from(std::process::id()) * 31 + n) & 0xffff) as u16
}

impl Capture {
    /// Opens one source per worker on `config.iface`. Needs root (or
    /// CAP_NET_RAW); call before [`drop_privileges`].
    pub fn open(config: &LiveConfig) -> Result<Capture, LiveError> {
        if let Err(errors) = config.validate() {
            return Err(LiveError {
                context: "live capture settings".to_owned(),
                error: io::Error::new(io::ErrorKind::InvalidInput, errors.join("; ")),
            });
        }
        let mut sources = Vec::with_capacity(config.workers);
        match config.backend {
            Backend::AfPacket => {
                let options = RingOptions {
                    iface: config.iface.clone(),
                    ring: config.ring,
                    promisc: config.promisc,
                    fanout_group: (config.workers > 1).then(fanout_group),
                };
                for i in 0..config.workers {
                    let ring = Ring::open(&options).map_err(|error| LiveError {
                        context: format!("AF_PACKET capture on {} (worker {i})", config.iface),
                        error,
                    })?;
                    sources.push(Source::AfPacket(ring));
                }
            }
            #[cfg(feature = "libpcap")]
            Backend::Libpcap => {
                use crate::capture::libpcap::{PcapOptions, PcapSource};
                for i in 0..config.workers {
                    let options = PcapOptions {
                        iface: config.iface.clone(),
                        promisc: config.promisc,
                        snaplen: config.snaplen,
                        buffer_bytes: config.pcap_buffer_bytes,
                        timeout_ms: config.ring.block_timeout_ms,
                        bpf: config.bpf.clone(),
                        share: (i, config.workers),
                    };
                    let source = PcapSource::open(&options).map_err(|error| LiveError {
                        context: format!("libpcap capture on {} (worker {i})", config.iface),
                        error,
                    })?;
                    sources.push(Source::Libpcap(source));
                }
            }
            #[cfg(not(feature = "libpcap"))]
            Backend::Libpcap => unreachable!("rejected by validate()"),
        }
        Ok(Capture {
            sources,
            config: config.clone(),
        })
    }

    /// Number of workers (sources).
    pub fn workers(&self) -> usize {
        self.sources.len()
    }

    /// The settings it was opened with.
    pub fn config(&self) -> &LiveConfig {
        &self.config
    }
}

/// What a live worker's output does besides [`Output`].
pub trait LiveOutput: Output + Send {
    /// A configuration published to every worker (e.g. a ruleset).
    type Update: Send + Sync;

    /// Takes a newly published configuration; called between two packets.
    fn update(&mut self, update: &Arc<Self::Update>);

    /// Writes out what is buffered (called when the worker is idle, every
    /// poll interval, and at the end).
    fn flush(&mut self);

    /// A flow that is still open, with its last activity: every report
    /// interval the worker visits its open flows (long-lived OT sessions
    /// may not end for months) before calling [`LiveOutput::report`].
    fn active_flow(&mut self, flow: &FlowMeta, app: AppProto, last: Timestamp) {
        let _ = (flow, app, last);
    }

    /// Publishes what the output gathered since the last report (e.g. the
    /// hosts it saw); called every report interval and once after the
    /// worker's flows ended.
    fn report(&mut self) {}

    /// Alerts raised so far, for the periodic `stats` lines.
    fn alert_count(&self) -> u64 {
        0
    }
}

/// Live counters of one worker, updated once per ring block / per poll.
#[derive(Debug, Default)]
pub struct WorkerCounters {
    /// Frames handed to the pipeline.
    pub packets: AtomicU64,
    /// Bytes handed to the pipeline.
    pub bytes: AtomicU64,
    /// Frames the kernel passed to the socket (including drops).
    pub kernel_packets: AtomicU64,
    /// Frames the kernel dropped (ring or buffer full).
    pub kernel_drops: AtomicU64,
    /// Ring freezes (AF_PACKET) / drops by the interface (libpcap).
    pub kernel_freezes: AtomicU64,
    /// The pipeline's counters at the worker's last report. The worker
    /// replaces them once per report interval and [`Control::stats`] reads
    /// them; never touched per packet.
    pub stats: Mutex<SensorStats>,
}

/// A snapshot of every worker's counters, summed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LiveCounters {
    /// Frames handed to the pipelines.
    pub packets: u64,
    /// Bytes handed to the pipelines.
    pub bytes: u64,
    /// Kernel counters.
    pub kernel: KernelStats,
}

/// The shared state of a live run: shutdown flag, published configuration,
/// counters. Shared by reference between the caller and the workers.
pub struct Control<U> {
    shutdown: AtomicBool,
    version: AtomicU64,
    // Taken only when `version` changed (a reload), never per packet.
    current: Mutex<Arc<U>>,
    counters: Mutex<Vec<Arc<WorkerCounters>>>,
}

impl<U> std::fmt::Debug for Control<U> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Control")
            .field("shutdown", &self.is_shutdown())
            .field("version", &self.version())
            .finish()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A worker that panicked while holding the lock left consistent data
    // (plain values are swapped whole), so poisoning is ignored.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl<U> Control<U> {
    /// A control whose current configuration is `initial` (version 0).
    pub fn new(initial: Arc<U>) -> Control<U> {
        Control {
            shutdown: AtomicBool::new(false),
            version: AtomicU64::new(0),
            current: Mutex::new(initial),
            counters: Mutex::new(Vec::new()),
        }
    }

    /// Asks every worker to stop (drain, end flows, flush).
    pub fn shutdown(&self) {
        self.shutdown.store(true, Ordering::Release);
    }

    /// Whether a shutdown was asked for.
    pub fn is_shutdown(&self) -> bool {
        self.shutdown.load(Ordering::Acquire)
    }

    /// Publishes a new configuration; each worker takes it between packets.
    pub fn publish(&self, update: Arc<U>) {
        *lock(&self.current) = update;
        self.version.fetch_add(1, Ordering::AcqRel);
    }

    /// Number of configurations published so far.
    pub fn version(&self) -> u64 {
        self.version.load(Ordering::Acquire)
    }

    /// The current configuration.
    pub fn current(&self) -> Arc<U> {
        lock(&self.current).clone()
    }

    /// Every worker's counters, summed.
    pub fn counters(&self) -> LiveCounters {
        let mut sum = LiveCounters::default();
        for c in lock(&self.counters).iter() {
            sum.packets += c.packets.load(Ordering::Relaxed);
            sum.bytes += c.bytes.load(Ordering::Relaxed);
            sum.kernel.packets += c.kernel_packets.load(Ordering::Relaxed);
            sum.kernel.drops += c.kernel_drops.load(Ordering::Relaxed);
            sum.kernel.freezes += c.kernel_freezes.load(Ordering::Relaxed);
        }
        sum
    }

    /// Every worker's pipeline counters as of its last report, summed.
    pub fn stats(&self) -> SensorStats {
        let mut sum = SensorStats::default();
        for c in lock(&self.counters).iter() {
            merge_stats(&mut sum, &lock(&c.stats));
        }
        sum
    }
}

/// What one worker did.
#[derive(Debug)]
pub struct WorkerReport {
    /// Pipeline counters.
    pub stats: SensorStats,
    /// Kernel counters of its socket.
    pub kernel: KernelStats,
    /// Timestamp of its last frame.
    pub last_ts: Timestamp,
    /// Configurations it took while running.
    pub updates: u64,
    /// The error that stopped it, if any.
    pub error: Option<io::Error>,
}

/// What a live run did.
#[derive(Debug)]
pub struct LiveReport {
    /// Per worker, in worker order.
    pub workers: Vec<WorkerReport>,
    /// Every worker's pipeline counters, summed.
    pub stats: SensorStats,
    /// Every worker's kernel counters, summed.
    pub kernel: KernelStats,
    /// Wall-clock time from start to the end of the last worker.
    pub elapsed: Duration,
    /// Latest frame timestamp of any worker.
    pub last_ts: Timestamp,
}

impl LiveReport {
    /// Frames per second of wall-clock time.
    pub fn packets_per_sec(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.stats.packets as f64 / secs
        } else {
            0.0
        }
    }

    /// The errors that stopped workers.
    pub fn errors(&self) -> impl Iterator<Item = (usize, &io::Error)> {
        self.workers
            .iter()
            .enumerate()
            .filter_map(|(i, w)| w.error.as_ref().map(|e| (i, e)))
    }
}

/// Adds the counters of `from` to `into`.
pub fn merge_stats(into: &mut SensorStats, from: &SensorStats) {
    // Field by field; keep in step with `SensorStats`.
    into.packets += from.packets;
    into.bytes += from.bytes;
    for (k, v) in &from.unsupported_link {
        *into.unsupported_link.entry(*k).or_insert(0) += v;
    }
    into.non_ip += from.non_ip;
    into.ipv4_fragments += from.ipv4_fragments;
    into.ipv4_reassembled += from.ipv4_reassembled;
    into.ipv6_fragments += from.ipv6_fragments;
    into.tcp += from.tcp;
    into.udp += from.udp;
    into.other_ip += from.other_ip;
    for (k, v) in &from.decode_errors {
        *into.decode_errors.entry(k).or_insert(0) += v;
    }
    into.add_stream(&from.stream);
    into.merge_checks(from);
    into.flows.created += from.flows.created;
    into.flows.timed_out += from.flows.timed_out;
    into.flows.evicted += from.flows.evicted;
    into.flows.flushed += from.flows.flushed;
    into.flows.active += from.flows.active;
    for (proto, s) in &from.app {
        let t = into.app.entry(proto).or_default();
        t.transactions += s.transactions;
        t.requests += s.requests;
        t.responses += s.responses;
        for (k, n) in &s.functions {
            t.count_key_n(k, *n);
        }
    }
    for (k, v) in &from.anomalies {
        *into.anomalies.entry(*k).or_insert(0) += v;
    }
    into.alerts += from.alerts;
}

/// Per-worker state handed to the capture loops.
struct Worker<'c, O: LiveOutput> {
    pipeline: Pipeline<O>,
    control: &'c Control<O::Update>,
    counters: Arc<WorkerCounters>,
    seen_version: u64,
    updates: u64,
    last_ts: Timestamp,
    last_flush: Instant,
    last_stats: Instant,
    last_report: Instant,
    poll: Duration,
    stats_interval: Duration,
    report_interval: Duration,
    packets: u64,
    bytes: u64,
    /// When `last_ts` was current (the block of the last frame was taken),
    /// on the monotonic clock: with it an idle worker knows the time in its
    /// frames' time base without a frame.
    clock: Option<Instant>,
    clock_packets: u64,
    /// Whether `auto` checksum verification was off at the last report.
    checksums_off: bool,
}

impl<O: LiveOutput> Worker<'_, O> {
    #[inline]
    fn frame(&mut self, frame: Frame<'_>) {
        self.last_ts = frame.ts;
        self.packets += 1;
        self.bytes += frame.data.len() as u64;
        self.pipeline.packet(frame);
    }

    /// Between blocks: publish counters, take a new configuration, report,
    /// flush.
    fn housekeeping(&mut self, idle: bool) {
        let now = Instant::now();
        if self.packets != self.clock_packets {
            self.clock_packets = self.packets;
            self.clock = Some(now);
        }
        self.counters.packets.store(self.packets, Ordering::Relaxed);
        self.counters.bytes.store(self.bytes, Ordering::Relaxed);
        let version = self.control.version();
        if version != self.seen_version {
            self.seen_version = version;
            let update = self.control.current();
            self.pipeline.output().update(&update);
            self.updates += 1;
        }
        if now.duration_since(self.last_report) >= self.report_interval {
            self.last_report = now;
            self.report();
        }
        if idle || now.duration_since(self.last_flush) >= self.poll {
            self.pipeline.output().flush();
            self.last_flush = now;
        }
    }

    /// No frame came within a poll: run the pipeline's idle-flow sweep at
    /// the current time in the frames' time base (the last frame's
    /// timestamp plus the time since it was taken), so that flows on a
    /// quiet network still time out.
    fn idle_tick(&mut self) {
        let Some(seen) = self.clock else {
            // No frame yet: no flow to expire.
            return;
        };
        self.pipeline.tick(advance(self.last_ts, seen.elapsed()));
    }

    /// Hands open flows and gathered observations to the output and
    /// publishes the pipeline's counters.
    fn report(&mut self) {
        self.pipeline
            .for_each_flow(&mut |out, flow, app, last| out.active_flow(flow, app, last));
        self.pipeline.output().report();
        let alerts = self.pipeline.output().alert_count();
        let mut stats = self.pipeline.stats().clone();
        stats.alerts = alerts;
        let c = &stats.checksum;
        let off = c.state == crate::pipeline::checksum::ChecksumState::AutoDisabled;
        if off != self.checksums_off {
            self.checksums_off = off;
            if off {
                eprintln!(
                    "otwatch: checksums not verified until the next sample: {} of {} sampled packets failed (captured behind checksum offload, or a flood of bad packets); --checksum-checks on verifies anyway",
                    c.sample_bad, c.sampled
                );
            } else {
                eprintln!("otwatch: checksums verified again (a new sample)");
            }
        }
        *lock(&self.counters.stats) = stats;
    }

    fn due_stats(&mut self) -> bool {
        if self.last_stats.elapsed() >= self.stats_interval {
            self.last_stats = Instant::now();
            true
        } else {
            false
        }
    }

    fn store_kernel(&self, k: &KernelStats) {
        self.counters
            .kernel_packets
            .store(k.packets, Ordering::Relaxed);
        self.counters.kernel_drops.store(k.drops, Ordering::Relaxed);
        self.counters
            .kernel_freezes
            .store(k.freezes, Ordering::Relaxed);
    }

    fn finish(mut self, kernel: KernelStats, error: Option<io::Error>) -> (O, WorkerReport) {
        self.housekeeping(true);
        self.store_kernel(&kernel);
        let (mut output, mut stats) = self.pipeline.finish();
        // The flows just ended: what they showed goes out with the rest.
        output.report();
        output.flush();
        stats.alerts = output.alert_count();
        *lock(&self.counters.stats) = stats.clone();
        let report = WorkerReport {
            stats,
            kernel,
            last_ts: self.last_ts,
            updates: self.updates,
            error,
        };
        (output, report)
    }
}

/// `ts` moved on by `by` (saturating; never panics).
fn advance(ts: Timestamp, by: Duration) -> Timestamp {
    let mut secs = ts
        .secs
        .saturating_add(i64::try_from(by.as_secs()).unwrap_or(i64::MAX));
    let mut nanos = ts.nanos.min(999_999_999) + by.subsec_nanos();
    if nanos >= 1_000_000_000 {
        nanos -= 1_000_000_000;
        secs = secs.saturating_add(1);
    }
    Timestamp { secs, nanos }
}

fn run_afpacket<O: LiveOutput>(
    mut ring: Ring,
    mut w: Worker<'_, O>,
    block_timeout: Duration,
) -> (O, WorkerReport) {
    let mut error = None;
    let mut kernel = KernelStats::default();
    // Blocks drained after the shutdown request: everything the kernel had
    // handed over, plus the block it was filling (its timeout retires it).
    let mut drained = 0usize;
    let drain_limit = ring.blocks() + 1;
    loop {
        let stopping = w.control.is_shutdown();
        let wait = if stopping {
            block_timeout + Duration::from_millis(20)
        } else {
            w.poll
        };
        match ring.next_block(wait) {
            Ok(Some(mut block)) => {
                block.for_each_frame(&mut |frame| w.frame(frame));
                drop(block);
                w.housekeeping(false);
                if stopping {
                    drained += 1;
                    if drained > drain_limit {
                        break;
                    }
                }
            }
            Ok(None) => {
                if stopping {
                    break;
                }
                w.idle_tick();
                w.housekeeping(true);
            }
            Err(e) => {
                error = Some(e);
                break;
            }
        }
        if w.due_stats() {
            match ring.read_kernel_stats() {
                Ok(k) => {
                    kernel = k;
                    w.store_kernel(&k);
                }
                Err(e) => {
                    error = Some(e);
                    break;
                }
            }
        }
    }
    match ring.read_kernel_stats() {
        Ok(k) => kernel = k,
        Err(e) => {
            error.get_or_insert(e);
        }
    }
    w.finish(kernel, error)
}

#[cfg(feature = "libpcap")]
fn run_libpcap<O: LiveOutput>(
    mut source: crate::capture::libpcap::PcapSource,
    mut w: Worker<'_, O>,
    requested: &AtomicBool,
) -> (O, WorkerReport) {
    let mut error = None;
    let mut kernel = KernelStats::default();
    let read_stats = |source: &mut crate::capture::libpcap::PcapSource| {
        source.stats().map(|s| KernelStats {
            packets: s.received,
            drops: s.dropped,
            freezes: s.if_dropped,
        })
    };
    while !w.control.is_shutdown() {
        let before = w.packets;
        if let Err(e) = source.for_each(requested, &mut |frame| w.frame(frame)) {
            error = Some(e);
            break;
        }
        // `for_each` returns every poll interval (the control thread breaks
        // the loop): no frame in it means a quiet network.
        if w.packets == before {
            w.idle_tick();
        }
        w.housekeeping(false);
        if w.due_stats() {
            match read_stats(&mut source) {
                Ok(k) => {
                    kernel = k;
                    w.store_kernel(&k);
                }
                Err(e) => {
                    error = Some(e);
                    break;
                }
            }
        }
    }
    match read_stats(&mut source) {
        Ok(k) => kernel = k,
        Err(e) => {
            error.get_or_insert(e);
        }
    }
    w.finish(kernel, error)
}

/// Runs the capture until [`Control::shutdown`] (from `on_tick`, a signal or
/// another thread) or until a worker fails. `make_output(i)` builds worker
/// `i`'s output; `on_tick` runs on the calling thread every
/// [`LiveConfig::poll`] (check signals there, publish reloads, shut down).
/// Returns every worker's output (flows ended, flushed) and the report.
pub fn run<O, F, T>(
    capture: Capture,
    pipeline: PipelineConfig,
    mut make_output: F,
    control: &Control<O::Update>,
    mut on_tick: T,
) -> (Vec<O>, LiveReport)
where
    O: LiveOutput,
    F: FnMut(usize) -> O,
    T: FnMut(&Control<O::Update>),
{
    let start = Instant::now();
    let Capture { sources, config } = capture;
    let counters: Vec<Arc<WorkerCounters>> = sources.iter().map(|_| Arc::default()).collect();
    *lock(&control.counters) = counters.clone();
    let block_timeout = Duration::from_millis(u64::from(config.ring.block_timeout_ms));
    // One "break requested" flag per libpcap worker (see PcapSource::for_each).
    let requested: Vec<AtomicBool> = sources.iter().map(|_| AtomicBool::new(false)).collect();

    let results: Vec<(O, WorkerReport)> = std::thread::scope(|scope| {
        let mut handles = Vec::with_capacity(sources.len());
        #[cfg(feature = "libpcap")]
        let mut breakers: Vec<(usize, pcap::BreakLoop)> = Vec::new();
        for (i, source) in sources.into_iter().enumerate() {
            let worker = Worker {
                pipeline: Pipeline::new(pipeline, make_output(i)),
                control,
                counters: counters[i].clone(),
                seen_version: control.version(),
                updates: 0,
                last_ts: Timestamp::default(),
                last_flush: Instant::now(),
                last_stats: Instant::now(),
                last_report: Instant::now(),
                poll: config.poll,
                stats_interval: config.stats_interval,
                report_interval: config.report_interval,
                packets: 0,
                bytes: 0,
                clock: None,
                clock_packets: 0,
                checksums_off: false,
            };
            let builder = std::thread::Builder::new().name(format!("otwatch-w{i}"));
            let spawned = match source {
                Source::AfPacket(ring) => {
                    builder.spawn_scoped(scope, move || run_afpacket(ring, worker, block_timeout))
                }
                #[cfg(feature = "libpcap")]
                Source::Libpcap(mut src) => {
                    breakers.push((i, src.breaker()));
                    let flag = &requested[i];
                    builder.spawn_scoped(scope, move || run_libpcap(src, worker, flag))
                }
            };
            match spawned {
                Ok(h) => handles.push(h),
                Err(e) => {
                    // Could not start a thread: stop the ones already running.
                    eprintln!("otwatch: cannot start worker {i}: {e}");
                    control.shutdown();
                    break;
                }
            }
        }
        let wake_all = |_control: &Control<O::Update>| {
            #[cfg(feature = "libpcap")]
            for (i, b) in &breakers {
                requested[*i].store(true, Ordering::Release);
                b.breakloop();
            }
        };
        while !control.is_shutdown() && !handles.iter().any(|h| h.is_finished()) {
            std::thread::sleep(config.poll);
            on_tick(control);
            wake_all(control);
        }
        control.shutdown();
        wake_all(control);
        handles
            .into_iter()
            .map(|h| match h.join() {
                Ok(r) => r,
                Err(panic) => std::panic::resume_unwind(panic),
            })
            .collect()
    });
    drop(requested);

    let mut outputs = Vec::with_capacity(results.len());
    let mut workers = Vec::with_capacity(results.len());
    let mut stats = SensorStats::default();
    let mut kernel = KernelStats::default();
    let mut last_ts = Timestamp::default();
    for (output, report) in results {
        merge_stats(&mut stats, &report.stats);
        kernel.add(&report.kernel);
        if (report.last_ts.secs, report.last_ts.nanos) > (last_ts.secs, last_ts.nanos) {
            last_ts = report.last_ts;
        }
        outputs.push(output);
        workers.push(report);
    }
    let report = LiveReport {
        workers,
        stats,
        kernel,
        elapsed: start.elapsed(),
        last_ts,
    };
    (outputs, report)
}

/// SIGINT/SIGTERM and SIGHUP, turned into flags the caller's tick reads.
#[derive(Debug, Clone)]
pub struct Signals {
    terminate: Arc<AtomicBool>,
    hangup: Arc<AtomicBool>,
}

impl Signals {
    /// Installs the handlers. A second SIGINT or SIGTERM while the first is
    /// being handled ends the process at once (exit status 1).
    pub fn install() -> io::Result<Signals> {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
        let terminate = Arc::new(AtomicBool::new(false));
        let hangup = Arc::new(AtomicBool::new(false));
        for sig in [SIGINT, SIGTERM] {
            signal_hook::flag::register_conditional_shutdown(sig, 1, terminate.clone())?;
            signal_hook::flag::register(sig, terminate.clone())?;
        }
        signal_hook::flag::register(SIGHUP, hangup.clone())?;
        Ok(Signals { terminate, hangup })
    }

    /// Whether SIGINT or SIGTERM arrived.
    pub fn terminated(&self) -> bool {
        self.terminate.load(Ordering::Acquire)
    }

    /// Whether SIGHUP arrived since the last call (clears it).
    pub fn take_hangup(&self) -> bool {
        self.hangup.swap(false, Ordering::AcqRel)
    }
}

/// The destination shared by every worker's EVE lines. Workers hand over
/// whole buffers of complete lines ([`EveBatch`]), so lines never interleave
/// and the lock is taken once per batch, not per line.
pub struct EveSink {
    // The one writer; the lock serialises whole batches from the workers.
    out: Mutex<Box<dyn Write + Send>>,
}

impl std::fmt::Debug for EveSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EveSink")
    }
}

impl EveSink {
    /// A sink writing to `out` (a file or standard output).
    pub fn new(out: Box<dyn Write + Send>) -> Arc<EveSink> {
        Arc::new(EveSink {
            out: Mutex::new(out),
        })
    }

    /// Writes one buffer of whole lines.
    pub fn write_batch(&self, buf: &[u8]) -> io::Result<()> {
        lock(&self.out).write_all(buf)
    }

    /// Flushes the writer.
    pub fn flush(&self) -> io::Result<()> {
        lock(&self.out).flush()
    }
}

/// Bytes a worker gathers before writing them to the [`EveSink`].
pub const EVE_BATCH_BYTES: usize = 64 * 1024;

/// A worker's buffer of EVE lines for an [`EveSink`]. `EveWriter` writes each
/// line with one `write_all`, so the buffer only ever holds whole lines when
/// it is handed over (when it passes [`EVE_BATCH_BYTES`], or on `flush`).
#[derive(Debug)]
pub struct EveBatch {
    buf: Vec<u8>,
    sink: Arc<EveSink>,
}

impl EveBatch {
    /// An empty batch for `sink`.
    pub fn new(sink: Arc<EveSink>) -> EveBatch {
        EveBatch {
            buf: Vec::with_capacity(EVE_BATCH_BYTES + 4096),
            sink,
        }
    }

    fn hand_over(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let result = self.sink.write_batch(&self.buf);
        self.buf.clear();
        result
    }
}

impl Write for EveBatch {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= EVE_BATCH_BYTES && self.buf.last() == Some(&b'\n') {
            self.hand_over()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.hand_over()?;
        self.sink.flush()
    }
}

/// Lines for the analyzer: each `write` (one whole line from `EveWriter`)
/// is appended to the shipper's spool in the calling worker, which never
/// waits for the analyzer (see [`crate::ship`]).
#[derive(Clone)]
pub struct ShipLines(pub Arc<Shipper>);

impl std::fmt::Debug for ShipLines {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ShipLines")
    }
}

impl Write for ShipLines {
    fn write(&mut self, line: &[u8]) -> io::Result<usize> {
        // A line lost to a full spool is counted by the shipper (`spool_dropped`).
        self.0.send_line(line);
        Ok(line.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// EVE lines to a shared file and/or to the analyzer.
pub struct EveTee {
    /// Lines for the EVE file or standard output.
    pub eve: Option<EveWriter<EveBatch>>,
    /// Lines for the analyzer (alerts and stats).
    pub ship: Option<EveWriter<ShipLines>>,
}

impl std::fmt::Debug for EveTee {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EveTee")
            .field("eve_lines", &self.eve.as_ref().map(EveWriter::lines))
            .field("ship_lines", &self.ship.as_ref().map(EveWriter::lines))
            .finish()
    }
}

impl EveTee {
    /// Lines to `eve` (the event types of its filter) and to `ship` (the
    /// types the analyzer stores, [`ship_filter`]).
    pub fn new(eve: Option<(Arc<EveSink>, EventFilter)>, ship: Option<Arc<Shipper>>) -> EveTee {
        EveTee {
            eve: eve.map(|(sink, filter)| EveWriter::new(EveBatch::new(sink), filter)),
            ship: ship.map(|s| EveWriter::new(ShipLines(s), ship_filter())),
        }
    }

    /// Writes one `asset` line per host of `assets` to both.
    pub fn assets(&mut self, assets: &AssetTable) {
        if let Some(w) = &mut self.eve {
            assets.write_eve(w);
        }
        if let Some(w) = &mut self.ship {
            assets.write_eve(w);
        }
    }

    /// Writes the `stats` line (with the live-capture counters) to both.
    pub fn stats(
        &mut self,
        ts: Timestamp,
        stats: &SensorStats,
        live: Option<&LiveStatsLine>,
        elapsed_secs: f64,
    ) {
        if let Some(w) = &mut self.eve {
            write_stats_line(w, ts, stats, live, elapsed_secs);
        }
        if let Some(w) = &mut self.ship {
            write_stats_line(w, ts, stats, live, elapsed_secs);
        }
    }

    /// Flushes both; returns the EVE writer's first error.
    pub fn finish(&mut self) -> io::Result<()> {
        if let Some(w) = &mut self.ship {
            let _ = w.finish();
        }
        match &mut self.eve {
            Some(w) => w.finish(),
            None => Ok(()),
        }
    }
}

impl Output for EveTee {
    fn flow_event(&mut self, flow: &FlowMeta, app: AppProto, event: &Event<'_>) {
        if let Some(w) = &mut self.eve {
            w.flow_event(flow, app, event);
        }
        if let Some(w) = &mut self.ship {
            w.flow_event(flow, app, event);
        }
    }

    fn packet_anomaly(
        &mut self,
        ts: Timestamp,
        packet: Option<&PacketMeta>,
        anomaly: &Anomaly<'_>,
    ) {
        if let Some(w) = &mut self.eve {
            w.packet_anomaly(ts, packet, anomaly);
        }
        if let Some(w) = &mut self.ship {
            w.packet_anomaly(ts, packet, anomaly);
        }
    }

    fn flow_end(&mut self, flow: &FlowRecord<'_>) {
        if let Some(w) = &mut self.eve {
            w.flow_end(flow);
        }
        if let Some(w) = &mut self.ship {
            w.flow_end(flow);
        }
    }
}

impl AlertSink for EveTee {
    fn alert(
        &mut self,
        cx: AlertContext<'_>,
        event: &Event<'_>,
        alert: &Alert<'_>,
        alert_id: &str,
    ) {
        if let Some(w) = &mut self.eve {
            w.alert(cx, event, alert, alert_id);
        }
        if let Some(w) = &mut self.ship {
            w.alert(cx, event, alert, alert_id);
        }
    }
}

/// Event types shipped to the analyzer.
pub fn ship_filter() -> EventFilter {
    EventFilter::parse("alert,stats,asset").unwrap_or_else(|_| EventFilter::all())
}

/// What the workers of one sensor share: the threshold table of the rules
/// (so that a source is counted once whichever workers its flows landed
/// on) and the asset table. Cloning gives handles on the same tables.
#[derive(Debug, Clone, Default)]
pub struct SensorShared {
    /// Threshold and detection-filter windows.
    pub thresholds: Thresholds,
    /// Hosts seen, for the `asset` lines.
    pub assets: SharedAssets,
}

impl SensorShared {
    /// Empty tables; at most `limits` hosts.
    pub fn new(limits: AssetLimits) -> SensorShared {
        SensorShared {
            thresholds: Thresholds::new(),
            assets: SharedAssets::new(limits),
        }
    }
}

/// The output of `otwatch sensor` and `otwatch run --iface`: rules, then
/// EVE lines and alerts, and the hosts seen (kept by worker, moved into the
/// shared asset table at each report). A reload ([`Control::publish`] with a
/// new [`Ruleset`]) swaps the rule engine between two packets; flows keep
/// their state, per-flow flags restart, threshold windows carry over (they
/// are keyed by rule id).
pub struct SensorOutput {
    detect: Option<Detect<Tracked<EveTee>>>,
    shared: SensorShared,
    alerts_before: u64,
    write_error: Option<io::Error>,
}

impl std::fmt::Debug for SensorOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SensorOutput")
            .field("alerts", &self.alerts())
            .finish()
    }
}

impl SensorOutput {
    /// Rules from `rules`, lines to `eve` (with `filter`) and to `ship`;
    /// thresholds counted and hosts gathered in `shared`.
    pub fn new(
        rules: Arc<Ruleset>,
        eve: Option<(Arc<EveSink>, EventFilter)>,
        ship: Option<Arc<Shipper>>,
        shared: &SensorShared,
    ) -> SensorOutput {
        let tracked = Tracked::new(EveTee::new(eve, ship), AssetLimits::default());
        SensorOutput {
            detect: Some(Detect::with_thresholds(
                rules,
                tracked,
                shared.thresholds.clone(),
            )),
            shared: shared.clone(),
            alerts_before: 0,
            write_error: None,
        }
    }

    /// Alerts raised (across reloads).
    pub fn alerts(&self) -> u64 {
        self.alerts_before + self.detect.as_ref().map_or(0, Detect::alerts)
    }

    /// The first error writing EVE lines, if any (later lines were dropped).
    pub fn take_write_error(&mut self) -> Option<io::Error> {
        self.write_error.take()
    }

    /// Moves the hosts seen so far into the shared asset table.
    pub fn publish_assets(&mut self) {
        if let Some(d) = &mut self.detect {
            self.shared.assets.absorb(&mut d.inner_mut().assets);
        }
    }

    /// The EVE and analyzer writers.
    pub fn into_tee(self) -> Option<EveTee> {
        self.detect.map(|d| d.into_inner().inner)
    }
}

impl Output for SensorOutput {
    fn flow_event(&mut self, flow: &FlowMeta, app: AppProto, event: &Event<'_>) {
        if let Some(d) = &mut self.detect {
            d.flow_event(flow, app, event);
        }
    }

    fn packet_anomaly(
        &mut self,
        ts: Timestamp,
        packet: Option<&PacketMeta>,
        anomaly: &Anomaly<'_>,
    ) {
        if let Some(d) = &mut self.detect {
            d.packet_anomaly(ts, packet, anomaly);
        }
    }

    fn flow_end(&mut self, flow: &FlowRecord<'_>) {
        if let Some(d) = &mut self.detect {
            d.flow_end(flow);
        }
    }
}

impl LiveOutput for SensorOutput {
    type Update = Ruleset;

    fn update(&mut self, rules: &Arc<Ruleset>) {
        if let Some(old) = self.detect.take() {
            self.alerts_before += old.alerts();
            self.detect = Some(Detect::with_thresholds(
                rules.clone(),
                old.into_inner(),
                self.shared.thresholds.clone(),
            ));
        }
    }

    fn flush(&mut self) {
        if let Some(d) = &mut self.detect {
            if let Some(w) = &mut d.inner_mut().inner.eve {
                if let Err(e) = w.finish() {
                    self.write_error.get_or_insert(e);
                }
            }
        }
    }

    fn active_flow(&mut self, flow: &FlowMeta, app: AppProto, last: Timestamp) {
        if let Some(d) = &mut self.detect {
            d.inner_mut()
                .assets
                .observe_flow(flow, app, flow.start, last);
        }
    }

    fn report(&mut self) {
        self.publish_assets();
    }

    fn alert_count(&self) -> u64 {
        self.alerts()
    }
}

/// Live-capture facts for the `stats` line.
#[derive(Debug, Clone)]
pub struct LiveStatsLine {
    /// Interface.
    pub iface: String,
    /// Back-end name.
    pub backend: &'static str,
    /// Workers.
    pub workers: usize,
    /// Kernel counters summed over workers.
    pub kernel: KernelStats,
}

/// Writes an EVE `stats` line; with `live`, the kernel's counters appear
/// as Suricata writes them (`capture.kernel_packets`,
/// `capture.kernel_drops`) and in a `live_capture` object with the
/// interface, back-end and workers (`kernel_packets`, `kernel_drops`,
/// `kernel_freezes`).
pub fn write_stats_line<W: Write>(
    eve: &mut EveWriter<W>,
    ts: Timestamp,
    stats: &SensorStats,
    live: Option<&LiveStatsLine>,
    elapsed_secs: f64,
) {
    if !eve.wants(EventType::Stats) {
        return;
    }
    eve.line(|w| {
        w.key("timestamp");
        write_ts(w, ts);
        w.field_str("event_type", "stats");
        w.key("stats").begin_object();
        stats.write_eve_live(w, elapsed_secs, live.map(|l| &l.kernel));
        if let Some(live) = live {
            w.key("live_capture").begin_object();
            w.field_str("interface", &live.iface);
            w.field_str("backend", live.backend);
            w.field_u64("workers", live.workers as u64);
            w.field_u64("kernel_packets", live.kernel.packets);
            w.field_u64("kernel_drops", live.kernel.drops);
            w.field_u64("kernel_freezes", live.kernel.freezes);
            w.end_object();
        }
        w.end_object();
    });
}

/// Writes the `stats` and `asset` lines of a live run: every
/// [`LiveConfig::report_interval`] from the caller's tick (the counters and
/// hosts the workers published at their last report), and once more at the
/// end. Asset lines are written for the hosts seen since the last report,
/// each with everything known about it.
pub struct LiveReporter {
    tee: EveTee,
    assets: SharedAssets,
    live: LiveStatsLine,
    interval: Duration,
    start: Instant,
    last: Instant,
    error: Option<io::Error>,
}

impl std::fmt::Debug for LiveReporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveReporter")
            .field("iface", &self.live.iface)
            .field("interval", &self.interval)
            .finish()
    }
}

impl LiveReporter {
    /// A reporter writing to `tee`, hosts from `assets`, for the capture
    /// described by `live`, every `interval`.
    pub fn new(
        tee: EveTee,
        assets: SharedAssets,
        live: LiveStatsLine,
        interval: Duration,
    ) -> LiveReporter {
        let now = Instant::now();
        LiveReporter {
            tee,
            assets,
            live,
            interval,
            start: now,
            last: now,
            error: None,
        }
    }

    /// Writes the periodic lines when the interval has passed (call from
    /// [`run`]'s tick).
    pub fn tick<U>(&mut self, control: &Control<U>) {
        if self.last.elapsed() < self.interval {
            return;
        }
        self.last = Instant::now();
        self.live.kernel = control.counters().kernel;
        let stats = control.stats();
        self.write(&stats);
    }

    fn write(&mut self, stats: &SensorStats) {
        let changed = self.assets.take_changed();
        self.tee.assets(&changed);
        let elapsed = self.start.elapsed().as_secs_f64();
        self.tee.stats(now(), stats, Some(&self.live), elapsed);
        if let Err(e) = self.tee.finish() {
            self.error.get_or_insert(e);
        }
    }

    /// The last lines, from the final report (every flow ended, every
    /// worker's hosts published); returns the first write error.
    pub fn finish(mut self, report: &LiveReport) -> io::Result<()> {
        self.live.kernel = report.kernel;
        self.live.workers = report.workers.len();
        self.write(&report.stats);
        match self.error {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// The current time as a timestamp (for lines written when no frame was
/// seen).
pub fn now() -> Timestamp {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    Timestamp::new(i64::try_from(d.as_secs()).unwrap_or(0), d.subsec_nanos())
}

/// Looks up `user` without switching to it (to check a `--user` early).
pub fn lookup_user(user: &str) -> io::Result<Credentials> {
    afpacket::lookup_user(user)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer into a buffer the test keeps a handle on.
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            lock(&self.0).extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn batches_hand_over_whole_lines_only() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = EveSink::new(Box::new(Shared(seen.clone())));
        let mut a = EveBatch::new(sink.clone());
        let mut b = EveBatch::new(sink);
        let line_a = format!("{{\"a\":\"{}\"}}\n", "x".repeat(1000));
        let line_b = format!("{{\"b\":\"{}\"}}\n", "y".repeat(700));
        for _ in 0..200 {
            a.write_all(line_a.as_bytes()).unwrap_or_default();
            b.write_all(line_b.as_bytes()).unwrap_or_default();
        }
        a.flush().unwrap_or_default();
        b.flush().unwrap_or_default();
        let text = String::from_utf8(lock(&seen).clone()).unwrap_or_default();
        assert_eq!(text.lines().count(), 400);
        assert!(text
            .lines()
            .all(|l| l == line_a.trim_end() || l == line_b.trim_end()));
    }

    #[test]
    fn control_publishes_versions() {
        let c = Control::new(Arc::new(1u32));
        assert_eq!(c.version(), 0);
        c.publish(Arc::new(2));
        assert_eq!(c.version(), 1);
        assert_eq!(*c.current(), 2);
        assert!(!c.is_shutdown());
        c.shutdown();
        assert!(c.is_shutdown());
    }

    #[test]
    fn config_errors_are_reported_together() {
        let mut c = LiveConfig::new("");
        c.workers = 0;
        c.bpf = Some("tcp".into());
        let errors = c.validate().err().unwrap_or_default();
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert_eq!(Backend::parse("libpcap"), Ok(Backend::Libpcap));
        assert!(Backend::parse("dpdk").is_err());
    }

    #[test]
    fn advance_carries_nanoseconds_and_saturates() {
        let ts = Timestamp::new(100, 900_000_000);
        assert_eq!(
            advance(ts, Duration::from_millis(250)),
            Timestamp::new(101, 150_000_000)
        );
        assert_eq!(advance(ts, Duration::ZERO), ts);
        let end = advance(
            Timestamp::new(i64::MAX, 999_999_999),
            Duration::from_secs(5),
        );
        assert_eq!(end.secs, i64::MAX, "no overflow");
        assert!(end.nanos < 1_000_000_000);
    }

    #[test]
    fn live_stats_line_has_suricata_kernel_counters() {
        let mut w = EveWriter::new(Vec::new(), EventFilter::all());
        let stats = SensorStats {
            packets: 10,
            ..SensorStats::default()
        };
        let live = LiveStatsLine {
            iface: "eth1".into(),
            backend: "afpacket",
            workers: 2,
            kernel: KernelStats {
                packets: 12,
                drops: 2,
                freezes: 1,
            },
        };
        write_stats_line(&mut w, Timestamp::new(0, 0), &stats, Some(&live), 1.0);
        write_stats_line(&mut w, Timestamp::new(0, 0), &stats, None, 1.0);
        let text = String::from_utf8(w.into_inner()).unwrap_or_default();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_default())
            .collect();
        assert_eq!(lines.len(), 2);
        let capture = &lines[0]["stats"]["capture"];
        assert_eq!(capture["packets"], 10);
        assert_eq!(capture["kernel_packets"], 12);
        assert_eq!(capture["kernel_drops"], 2);
        let kept = &lines[0]["stats"]["live_capture"];
        assert_eq!(kept["kernel_packets"], 12);
        assert_eq!(kept["kernel_drops"], 2);
        assert_eq!(kept["kernel_freezes"], 1);
        // Without live capture there are no kernel counters at all.
        assert!(lines[1]["stats"]["capture"].get("kernel_drops").is_none());
        assert!(lines[1]["stats"].get("live_capture").is_none());
    }

    #[test]
    fn reporter_writes_changed_assets_then_stats() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = EveSink::new(Box::new(Shared(seen.clone())));
        let shared = SensorShared::new(AssetLimits::default());
        let line = LiveStatsLine {
            iface: "eth1".into(),
            backend: "afpacket",
            workers: 1,
            kernel: KernelStats::default(),
        };
        let tee = EveTee::new(Some((sink, EventFilter::all())), None);
        let mut reporter =
            LiveReporter::new(tee, shared.assets.clone(), line, Duration::from_secs(3600));
        // A worker's output saw a Modbus flow and reported it.
        let mut local = AssetTable::new(AssetLimits::default());
        let flow = FlowMeta {
            id: 1,
            client: crate::flow::Endpoint {
                ip: "10.0.0.20"
                    .parse()
                    .unwrap_or(std::net::Ipv4Addr::LOCALHOST.into()),
                port: 40_000,
            },
            server: crate::flow::Endpoint {
                ip: "10.0.0.10"
                    .parse()
                    .unwrap_or(std::net::Ipv4Addr::LOCALHOST.into()),
                port: 502,
            },
            protocol: 6,
            vlan: [0; 2],
            vlan_count: 0,
            start: Timestamp::new(1, 0),
            client_mac: None,
            server_mac: None,
        };
        local.observe_flow(&flow, Some(otwatch_proto::ProtocolId::Modbus), flow.start, Timestamp::new(2, 0));
        shared.assets.absorb(&mut local);
        // Not due yet: nothing written.
        let control = Control::new(Arc::new(()));
        reporter.tick(&control);
        assert!(lock(&seen).is_empty());
        let report = LiveReport {
            workers: Vec::new(),
            stats: SensorStats::default(),
            kernel: KernelStats::default(),
            elapsed: Duration::ZERO,
            last_ts: Timestamp::default(),
        };
        assert!(reporter.finish(&report).is_ok());
        let text = String::from_utf8(lock(&seen).clone()).unwrap_or_default();
        let types: Vec<String> = text
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap_or_default();
                format!("{}:{}", v["event_type"], v["asset"]["ip"])
            })
            .collect();
        assert_eq!(
            types,
            [
                "\"asset\":\"10.0.0.10\"",
                "\"asset\":\"10.0.0.20\"",
                "\"stats\":null"
            ]
        );
    }

    #[test]
    fn merges_worker_stats() {
        let mut a = SensorStats {
            packets: 3,
            ..SensorStats::default()
        };
        a.app.entry("modbus").or_default().count_function(3);
        let mut b = SensorStats {
            packets: 4,
            ..SensorStats::default()
        };
        b.app.entry("modbus").or_default().count_function(3);
        b.count_anomaly("decode", "x");
        let mut sum = SensorStats::default();
        merge_stats(&mut sum, &a);
        merge_stats(&mut sum, &b);
        assert_eq!(sum.packets, 7);
        assert_eq!(sum.app["modbus"].functions.get("3"), Some(&2));
        assert_eq!(sum.anomaly_total(), 1);
    }
}
