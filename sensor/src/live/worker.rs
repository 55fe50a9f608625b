//! The worker loop: one thread per capture source, each with its own
//! pipeline, and [`run`], which starts them and waits for the end.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use otwatch_proto::event::Timestamp;

use crate::capture::afpacket::{KernelStats, Ring};
use crate::capture::Frame;
use crate::pipeline::{AppProto, FlowMeta, Output, Pipeline, PipelineConfig};
use crate::stats::SensorStats;

use super::capture::{Capture, Source};
use super::control::{lock, Control, WorkerCounters};
use super::report::{LiveReport, WorkerReport};

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

    /// Rule matches the overrides kept from alerting so far, for the
    /// periodic `stats` lines.
    fn suppressed_count(&self) -> u64 {
        0
    }
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
        let suppressed = self.pipeline.output().suppressed_count();
        let mut stats = self.pipeline.stats().clone();
        stats.alerts = alerts;
        stats.suppressed = suppressed;
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

    /// Every stats interval: reads the kernel's counters with `read` into
    /// `kernel` and publishes them.
    fn kernel_stats(
        &mut self,
        kernel: &mut KernelStats,
        read: impl FnOnce() -> io::Result<KernelStats>,
    ) -> io::Result<()> {
        if self.due_stats() {
            *kernel = read()?;
            self.store_kernel(kernel);
        }
        Ok(())
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
        stats.suppressed = output.suppressed_count();
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
        if let Err(e) = w.kernel_stats(&mut kernel, || ring.read_kernel_stats()) {
            error = Some(e);
            break;
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
        if let Err(e) = w.kernel_stats(&mut kernel, || read_stats(&mut source)) {
            error = Some(e);
            break;
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
/// [`LiveConfig::poll`](super::LiveConfig::poll) (check signals there, publish reloads, shut down).
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
        stats.merge(&report.stats);
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
