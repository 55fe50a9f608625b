//! Outputs of a live run: EVE lines batched per worker into one shared
//! writer, the tee to the EVE writer and the analyzer, and the sensor's
//! output (rules, lines, hosts seen).

use std::io::{self, Write};
use std::sync::{Arc, Mutex};

use otwatch_proto::event::{Anomaly, Event, Timestamp};

use crate::assets::{AssetLimits, AssetTable, SharedAssets, Tracked};
use crate::detect::rules::baseline::{Baseline, Limits};
use crate::detect::rules::{Alert, Ruleset, Thresholds};
use crate::detect::{AlertContext, AlertSink, Detect};
use crate::eve::{EveWriter, EventFilter};
use crate::learn::LearnShared;
use crate::pipeline::{AppProto, FlowMeta, FlowRecord, Output, PacketMeta};
use crate::ship::Shipper;
use crate::stats::SensorStats;

use super::control::lock;
use super::report::{write_stats_line, LiveStatsLine};
use super::worker::LiveOutput;

/// The destination shared by every worker's EVE lines. Workers hand over
/// whole buffers of complete lines ([`EveBatch`]), so lines never interleave
/// and the lock is taken once per batch, not per line.
pub struct EveSink {
    // The one writer; the lock serialises whole batches from the workers.
    out: Mutex<Box<dyn Write + Send>>,
    // The file the writer appends to, reopened by `reopen` (none for
    // standard output or memory).
    path: Option<std::path::PathBuf>,
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
            path: None,
        })
    }

    /// A sink appending to the file at `path` (created when missing), which
    /// [`EveSink::reopen`] opens again after a log rotation moved it.
    pub fn append_to(path: &std::path::Path) -> io::Result<Arc<EveSink>> {
        let f = open_append(path)?;
        Ok(Arc::new(EveSink {
            out: Mutex::new(Box::new(f)),
            path: Some(path.to_path_buf()),
        }))
    }

    /// Flushes the file and opens its path again (what logrotate's
    /// `postrotate` asks for with SIGHUP): the file it was moved to is
    /// complete, new lines go to a new file at the path. `Ok(false)` for a
    /// sink without a file; on an error the old file stays in use.
    pub fn reopen(&self) -> io::Result<bool> {
        let Some(path) = &self.path else {
            return Ok(false);
        };
        let mut out = lock(&self.out);
        out.flush()?;
        *out = Box::new(open_append(path)?);
        Ok(true)
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

fn open_append(path: &std::path::Path) -> io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
}

/// Lines kept in memory, for a caller that takes them itself (`otwatch run`
/// ingests the lines of its replay into the analyzer it serves). Clones
/// share one buffer.
#[derive(Debug, Clone, Default)]
pub struct MemoryLines(Arc<Mutex<Vec<u8>>>);

impl MemoryLines {
    /// Takes what was written so far, leaving the buffer empty.
    pub fn take(&self) -> Vec<u8> {
        std::mem::take(&mut *lock(&self.0))
    }
}

impl Write for MemoryLines {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        lock(&self.0).extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
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

/// Lines for the analyzer: each `write` (one whole line from the `EveWriter`
/// of an [`EveTee`], with the shipper's filter) is appended to the shipper's
/// spool in the calling worker, which never waits for the analyzer (see
/// [`crate::ship`]). The lines are not parsed back
/// ([`Shipper::send_rendered`]).
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
        self.0.send_rendered(line);
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
    /// types it ships, [`Shipper::event_filter`]: by default those the
    /// analyzer stores, [`ship_filter`]).
    pub fn new(eve: Option<(Arc<EveSink>, EventFilter)>, ship: Option<Arc<Shipper>>) -> EveTee {
        EveTee {
            eve: eve.map(|(sink, filter)| EveWriter::new(EveBatch::new(sink), filter)),
            ship: ship.map(|s| {
                let filter = s.event_filter();
                EveWriter::new(ShipLines(s), filter)
            }),
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
    /// The baseline being learned, when learning: each worker learns on
    /// its own and adds what it learned here at each report.
    pub learning: Option<Arc<LearnShared>>,
}

impl SensorShared {
    /// Empty tables; at most `limits` hosts.
    pub fn new(limits: AssetLimits) -> SensorShared {
        SensorShared {
            thresholds: Thresholds::new(),
            assets: SharedAssets::new(limits),
            learning: None,
        }
    }
}

/// The output of `otwatch sensor` and `otwatch run --iface` (and of the
/// offline stack, [`OfflineSensor`](crate::replay::OfflineSensor)): rules, then
/// EVE lines and alerts, and the hosts seen (kept by worker, moved into the
/// shared asset table at each report). A reload ([`Control::publish`](super::Control::publish) with a
/// new [`Ruleset`]) swaps the rule engine between two packets; flows keep
/// their state, per-flow flags restart, threshold windows carry over (they
/// are keyed by rule id).
pub struct SensorOutput {
    detect: Option<Detect<Tracked<EveTee>>>,
    shared: SensorShared,
    alerts_before: u64,
    suppressed_before: u64,
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
            detect: Some(
                Detect::with_thresholds(rules, tracked, shared.thresholds.clone()).learning(
                    shared
                        .learning
                        .as_ref()
                        .map(|_| Baseline::new(Limits::default())),
                ),
            ),
            shared: shared.clone(),
            alerts_before: 0,
            suppressed_before: 0,
            write_error: None,
        }
    }

    /// Alerts raised (across reloads).
    pub fn alerts(&self) -> u64 {
        self.alerts_before + self.detect.as_ref().map_or(0, Detect::alerts)
    }

    /// Rule matches the overrides kept from alerting (across reloads).
    pub fn suppressed(&self) -> u64 {
        self.suppressed_before + self.detect.as_ref().map_or(0, |d| d.engine().suppressed())
    }

    /// The first error writing EVE lines, if any (later lines were dropped).
    pub fn take_write_error(&mut self) -> Option<io::Error> {
        self.write_error.take()
    }

    /// Moves the hosts seen so far into the shared asset table, and what
    /// was learned into the shared baseline.
    pub fn publish_assets(&mut self) {
        if let Some(d) = &mut self.detect {
            self.shared.assets.absorb(&mut d.inner_mut().assets);
            if let (Some(shared), Some(local)) = (&self.shared.learning, d.take_learned()) {
                shared.absorb(&local);
            }
        }
    }

    /// Deviations from the baseline found so far by this worker's current
    /// rules, and those held back as repeats.
    pub fn deviations(&self) -> (u64, u64) {
        self.detect.as_ref().map_or((0, 0), |d| {
            let e = d.engine();
            (e.deviations().map(|(_, n)| n).sum(), e.deviations_held())
        })
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

    fn input_position(&mut self, at: crate::capture::InputPosition) {
        if let Some(d) = &mut self.detect {
            d.input_position(at);
        }
    }
}

impl LiveOutput for SensorOutput {
    type Update = Ruleset;

    fn update(&mut self, rules: &Arc<Ruleset>) {
        if let Some(mut old) = self.detect.take() {
            self.alerts_before += old.alerts();
            self.suppressed_before += old.engine().suppressed();
            // What was learned goes to the run's baseline; a worker asked
            // to stop learning stops here.
            let mut learner = old.take_learned();
            if let (Some(shared), Some(local)) = (&self.shared.learning, &learner) {
                shared.absorb(local);
                if shared.stop() {
                    shared.worker_stopped();
                    learner = None;
                }
            }
            let learner = learner.map(|l| Baseline::new(l.limits));
            // The ids go on where they were: a reload does not restart them.
            let ids = old.alert_ids().clone();
            self.detect = Some(
                Detect::with_thresholds(
                    rules.clone(),
                    old.into_inner(),
                    self.shared.thresholds.clone(),
                )
                .learning(learner)
                .with_alert_ids(ids),
            );
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

    fn suppressed_count(&self) -> u64 {
        self.suppressed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_hand_over_whole_lines_only() {
        let seen = MemoryLines::default();
        let sink = EveSink::new(Box::new(seen.clone()));
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
        let text = String::from_utf8(seen.take()).unwrap_or_default();
        assert_eq!(text.lines().count(), 400);
        assert!(text
            .lines()
            .all(|l| l == line_a.trim_end() || l == line_b.trim_end()));
    }
}
