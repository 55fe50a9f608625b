//! Reporting: what a run did, worker counters summed, the `stats` line
//! and the periodic reporter of `stats` and `asset` lines.

use std::io::{self, Write};
use std::time::{Duration, Instant};

use otwatch_proto::event::Timestamp;

use crate::assets::SharedAssets;
use crate::capture::afpacket::KernelStats;
use crate::eve::EveWriter;
use crate::stats::SensorStats;

use super::control::Control;
use super::output::EveTee;

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
        per_second(self.stats.packets, self.elapsed)
    }

    /// The errors that stopped workers.
    pub fn errors(&self) -> impl Iterator<Item = (usize, &io::Error)> {
        self.workers
            .iter()
            .enumerate()
            .filter_map(|(i, w)| w.error.as_ref().map(|e| (i, e)))
    }
}

/// `count` per second of `elapsed` (0 when no time passed).
pub(crate) fn per_second(count: u64, elapsed: Duration) -> f64 {
    let secs = elapsed.as_secs_f64();
    if secs > 0.0 {
        count as f64 / secs
    } else {
        0.0
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
    eve.stats_line(ts, stats, elapsed_secs, live.map(|l| &l.kernel), |w| {
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
    });
}

/// Writes the `stats` and `asset` lines of a live run: every
/// [`LiveConfig::report_interval`](super::LiveConfig::report_interval) from the caller's tick (the counters and
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
    /// [`run`](super::run)'s tick).
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::assets::{AssetLimits, AssetTable};
    use crate::eve::EventFilter;
    use crate::live::output::{EveSink, MemoryLines, SensorShared};
    use crate::pipeline::FlowMeta;

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
        let seen = MemoryLines::default();
        let sink = EveSink::new(Box::new(seen.clone()));
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
            community_id: None,
        };
        local.observe_flow(
            &flow,
            Some(otwatch_proto::ProtocolId::Modbus),
            flow.start,
            Timestamp::new(2, 0),
        );
        shared.assets.absorb(&mut local);
        // Not due yet: nothing written.
        let control = Control::new(Arc::new(()));
        reporter.tick(&control);
        assert!(seen.take().is_empty());
        let report = LiveReport {
            workers: Vec::new(),
            stats: SensorStats::default(),
            kernel: KernelStats::default(),
            elapsed: Duration::ZERO,
            last_ts: Timestamp::default(),
        };
        assert!(reporter.finish(&report).is_ok());
        let text = String::from_utf8(seen.take()).unwrap_or_default();
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
        sum.merge(&a);
        sum.merge(&b);
        assert_eq!(sum.packets, 7);
        assert_eq!(sum.app["modbus"].functions().get("3"), Some(&2));
        assert_eq!(sum.anomaly_total(), 1);
    }
}
