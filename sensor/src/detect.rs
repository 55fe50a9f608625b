//! Detection: the rule engine as an [`Output`] wrapper.
//!
//! [`Detect`] runs the [`Engine`] on every flow event and on every anomaly,
//! writes an EVE `alert` line for each match through its inner output
//! ([`AlertSink`]), then forwards the event unchanged. The alert carries
//! Suricata's `alert` object, the flow fields, the protocol object of the
//! transaction that fired and an `alert_id` unique across sensor restarts
//! (a random run id from the OS and a sequence number), which the analyzer
//! uses to ingest idempotently.
//!
//! [`test_rules`] runs the `tests:` of every rule (`otwatch rules test`).

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::sync::Arc;

use otwatch_proto::event::{Anomaly, AppEvent, Direction, Event, Timestamp};
use otwatch_proto::json::JsonWriter;
pub use otwatch_rules as rules;
use otwatch_rules::baseline::Baseline;
use otwatch_rules::{Alert, Engine, FlowInfo, RuleMeta, Ruleset, Source, Thresholds, VarOverrides};

use crate::eve::{write_app_object, write_header, write_packet_header, EveWriter, EventType};
use crate::flow::Endpoint;
use crate::pipeline::{
    AppProto, FlowMeta, FlowRecord, NullOutput, Output, PacketMeta, PipelineConfig,
};

/// Where a matched event is when an alert is written.
#[derive(Debug, Clone, Copy)]
pub enum AlertContext<'a> {
    /// An event of a flow.
    Flow {
        /// The flow.
        flow: &'a FlowMeta,
        /// Its application protocol.
        app: AppProto,
    },
    /// A frame outside any flow.
    Packet(Option<&'a PacketMeta>),
}

/// An output that can also write alerts.
pub trait AlertSink {
    /// Writes one alert; `alert_id` is unique per alert.
    fn alert(&mut self, cx: AlertContext<'_>, event: &Event<'_>, alert: &Alert<'_>, alert_id: &str);
}

impl AlertSink for NullOutput {
    fn alert(&mut self, _: AlertContext<'_>, _: &Event<'_>, _: &Alert<'_>, _: &str) {}
}

fn write_array(w: &mut JsonWriter<'_>, key: &str, items: &[String]) {
    w.key(key).begin_array();
    for i in items {
        w.str(i);
    }
    w.end_array();
}

/// Writes the body of the EVE `alert` object.
pub fn write_alert_object(w: &mut JsonWriter<'_>, rule: &RuleMeta) {
    w.field_str("action", "allowed");
    w.field_u64("gid", 1);
    w.field_u64("signature_id", u64::from(rule.id));
    w.field_u64("rev", u64::from(rule.rev));
    w.field_str("signature", &rule.name);
    w.field_str("category", &rule.category);
    w.field_u64("severity", u64::from(rule.severity.suricata()));
    w.key("metadata").begin_object();
    write_array(w, "attack_id", &rule.attack);
    w.key("severity_name").begin_array();
    w.str(rule.severity.name());
    w.end_array();
    w.key("protocol").begin_array();
    w.str(rule.protocol.name());
    w.end_array();
    if !rule.references.is_empty() {
        write_array(w, "references", &rule.references);
    }
    w.end_object();
}

impl<W: Write> AlertSink for EveWriter<W> {
    fn alert(
        &mut self,
        cx: AlertContext<'_>,
        event: &Event<'_>,
        alert: &Alert<'_>,
        alert_id: &str,
    ) {
        if !self.wants(EventType::Alert) {
            return;
        }
        self.line(|w| {
            match cx {
                AlertContext::Flow { flow, app } => {
                    // An anomaly seen in the server's answer points from it.
                    let (src, dst): (Endpoint, Endpoint) = match &event.app {
                        AppEvent::Anomaly(a) if a.direction == Some(Direction::ToClient) => {
                            (flow.server, flow.client)
                        }
                        _ => (flow.client, flow.server),
                    };
                    write_header(w, alert.ts, flow, "alert", src, dst, app);
                }
                AlertContext::Packet(packet) => {
                    write_packet_header(w, alert.ts, "alert", packet);
                }
            }
            w.key("alert").begin_object();
            write_alert_object(w, alert.rule);
            w.end_object();
            write_app_object(w, &event.app);
            if let Some(d) = alert.deviation {
                w.key("baseline").begin_object();
                d.write_eve(w);
                w.end_object();
            }
            w.field_str("alert_id", alert_id);
        });
    }
}

/// A random 64-bit run id from the operating system's random source. Should
/// that fail (no `getrandom` system call and no `/dev/urandom`), the time in
/// nanoseconds and the process id stand in: still distinct across restarts.
pub fn random_run_id() -> u64 {
    let mut bytes = [0u8; 8];
    match getrandom::getrandom(&mut bytes) {
        Ok(()) => u64::from_le_bytes(bytes),
        Err(_) => {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64);
            nanos ^ (u64::from(std::process::id()) << 32)
        }
    }
}

/// The longest alert id: 16 hex digits, a dash, a 20-digit number.
const ALERT_ID_MAX: usize = 16 + 1 + 20;

/// The ids of the alerts of one run, in the one format otwatch gives them:
/// `<run id>-<n>`, the run id as 16 hex digits ([`random_run_id`]) and `n`
/// counting from 1. Used by [`Detect`] and, for an alert line that arrives
/// without one, by the analyzer client ([`crate::ship`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlertIds {
    run_id: u64,
    seq: u64,
}

/// One alert id, on the stack.
#[derive(Debug, Clone, Copy)]
pub struct AlertId {
    text: [u8; ALERT_ID_MAX],
    len: usize,
}

impl AlertId {
    /// The id as text.
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(&self.text[..self.len]).unwrap_or("")
    }
}

impl AlertIds {
    /// Ids under a new random run id.
    pub fn random() -> AlertIds {
        AlertIds::with_run_id(random_run_id())
    }

    /// Ids under `run_id` (tests).
    pub fn with_run_id(run_id: u64) -> AlertIds {
        AlertIds { run_id, seq: 0 }
    }

    /// The next id.
    pub fn next_id(&mut self) -> AlertId {
        self.seq += 1;
        let mut id = AlertId {
            text: [0; ALERT_ID_MAX],
            len: 0,
        };
        let mut cursor = std::io::Cursor::new(&mut id.text[..]);
        let _ = write!(cursor, "{:016x}-{}", self.run_id, self.seq);
        id.len = cursor.position() as usize;
        id
    }
}

/// Runs the rule engine on the events going to `O`.
pub struct Detect<O> {
    engine: Engine,
    inner: O,
    ids: AlertIds,
    per_rule: HashMap<u32, u64>,
    learner: Option<Baseline>,
}

impl<O: Output + AlertSink> Detect<O> {
    /// Wraps `inner` with the rules of `set`.
    pub fn new(set: Arc<Ruleset>, inner: O) -> Detect<O> {
        Detect::with_run_id(set, inner, random_run_id())
    }

    /// Wraps `inner`, with a given run id (tests).
    pub fn with_run_id(set: Arc<Ruleset>, inner: O, run_id: u64) -> Detect<O> {
        Detect::build(Engine::new(set), inner, run_id)
    }

    /// Wraps `inner` with the rules of `set`, counting thresholds and
    /// detection filters in `thresholds` (shared by the workers of a live
    /// capture, so a source is counted once whichever worker sees it).
    pub fn with_thresholds(set: Arc<Ruleset>, inner: O, thresholds: Thresholds) -> Detect<O> {
        Detect::build(
            Engine::with_thresholds(set, thresholds),
            inner,
            random_run_id(),
        )
    }

    fn build(engine: Engine, inner: O, run_id: u64) -> Detect<O> {
        Detect {
            engine,
            inner,
            ids: AlertIds::with_run_id(run_id),
            per_rule: HashMap::new(),
            learner: None,
        }
    }

    /// Also learns a baseline from the transactions it sees (rules keep
    /// running while it learns).
    pub fn learning(mut self, learner: Option<Baseline>) -> Detect<O> {
        self.learner = learner;
        self
    }

    /// What was learned since the last call (an empty baseline takes its
    /// place, so learning goes on); `None` when not learning.
    pub fn take_learned(&mut self) -> Option<Baseline> {
        let limits = self.learner.as_ref()?.limits;
        self.learner.replace(Baseline::new(limits))
    }

    /// The rule engine (its deviation counters).
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The threshold table of the rule engine.
    pub fn thresholds(&self) -> &Thresholds {
        self.engine.thresholds()
    }

    /// Alerts raised.
    pub fn alerts(&self) -> u64 {
        self.engine.alerts()
    }

    /// Alerts raised per rule id.
    pub fn alerts_per_rule(&self) -> BTreeMap<u32, u64> {
        self.per_rule.iter().map(|(k, v)| (*k, *v)).collect()
    }

    /// The inner output.
    pub fn inner(&self) -> &O {
        &self.inner
    }

    /// The inner output, mutably.
    pub fn inner_mut(&mut self) -> &mut O {
        &mut self.inner
    }

    /// Gives the inner output back.
    pub fn into_inner(self) -> O {
        self.inner
    }

    fn run(&mut self, flow: &FlowInfo, cx: AlertContext<'_>, event: &Event<'_>) {
        let Detect {
            engine,
            inner,
            ids,
            per_rule,
            ..
        } = self;
        engine.inspect(flow, event, &mut |alert| {
            *per_rule.entry(alert.rule.id).or_insert(0) += 1;
            let id = ids.next_id();
            inner.alert(cx, event, alert, id.as_str());
        });
    }
}

impl<O: Output + AlertSink> Output for Detect<O> {
    fn flow_event(&mut self, flow: &FlowMeta, app: AppProto, event: &Event<'_>) {
        let info = FlowInfo {
            id: flow.id,
            src: flow.client.ip,
            src_port: flow.client.port,
            dest: flow.server.ip,
            dest_port: flow.server.port,
        };
        if let Some(learner) = &mut self.learner {
            learner.learn(&info, event.ts, &event.app);
        }
        self.run(&info, AlertContext::Flow { flow, app }, event);
        self.inner.flow_event(flow, app, event);
    }

    fn packet_anomaly(
        &mut self,
        ts: Timestamp,
        packet: Option<&PacketMeta>,
        anomaly: &Anomaly<'_>,
    ) {
        let unspecified = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
        let info = FlowInfo {
            id: 0,
            src: packet.map_or(unspecified, |p| p.src),
            src_port: 0,
            dest: packet.map_or(unspecified, |p| p.dst),
            dest_port: 0,
        };
        let event = Event {
            ts,
            app: AppEvent::Anomaly(*anomaly),
        };
        self.run(&info, AlertContext::Packet(packet), &event);
        self.inner.packet_anomaly(ts, packet, anomaly);
    }

    fn flow_end(&mut self, flow: &FlowRecord<'_>) {
        self.engine.flow_end(flow.meta.id);
        self.inner.flow_end(flow);
    }
}

/// The outcome of one rule test.
#[derive(Debug, Clone)]
pub struct TestOutcome {
    /// Rule id.
    pub rule: u32,
    /// Rule name.
    pub name: String,
    /// Capture replayed.
    pub pcap: PathBuf,
    /// Variables replaced for the test.
    pub vars: VarOverrides,
    /// Alerts the test expects.
    pub expected: u32,
    /// Alerts raised (`None` when the capture could not be read).
    pub actual: Option<u64>,
    /// Why the capture could not be read.
    pub error: Option<String>,
}

impl TestOutcome {
    /// Whether the test passed.
    pub fn passed(&self) -> bool {
        self.actual == Some(u64::from(self.expected))
    }
}

/// Replays `pcap` through `set`; alerts per rule id, or the file error.
pub fn alerts_per_rule(
    set: Arc<Ruleset>,
    pcap: &std::path::Path,
) -> Result<BTreeMap<u32, u64>, String> {
    let detect = Detect::with_run_id(set, NullOutput, 0);
    let (detect, report) = crate::replay::replay(
        &[pcap.to_path_buf()],
        PipelineConfig::default(),
        detect,
        &mut |_, _, _| {},
    );
    match report.error {
        Some(e) => Err(e.to_string()),
        None => Ok(detect.alerts_per_rule()),
    }
}

/// Runs the tests of every rule of `sources`: each distinct (capture,
/// variables, baseline) triple is replayed once through the whole ruleset
/// (so rules that set flow flags for others take part), and each rule's
/// alerts are compared with what its test expects.
pub fn test_rules(
    set: &Arc<Ruleset>,
    sources: &[Source],
) -> Result<Vec<TestOutcome>, otwatch_rules::Errors> {
    type Key = (PathBuf, VarOverrides, Option<PathBuf>);
    let mut cache: HashMap<Key, Result<BTreeMap<u32, u64>, String>> = HashMap::new();
    let mut outcomes = Vec::new();
    for (meta, tests) in set.tests() {
        for t in tests {
            let key = (t.pcap.clone(), t.vars.clone(), t.baseline.clone());
            if !cache.contains_key(&key) {
                // A test with variables or a baseline gets a ruleset of its own.
                let own = if t.vars.is_empty() && t.baseline.is_none() {
                    None
                } else {
                    Some(Ruleset::from_sources_with_vars(sources, &t.vars)?)
                };
                let outcome = match (&t.baseline, own) {
                    (_, None) => Ok(Arc::clone(set)),
                    (None, Some(rs)) => Ok(Arc::new(rs)),
                    (Some(path), Some(rs)) => otwatch_rules::baseline::file::load(path)
                        .map(|b| Arc::new(rs.with_baseline(Some(Arc::new(b)))))
                        .map_err(|e| e.to_string()),
                };
                let result = outcome.and_then(|rs| alerts_per_rule(rs, &t.pcap));
                cache.insert(key.clone(), result);
            }
            let (actual, error) = match &cache[&key] {
                Ok(counts) => (Some(counts.get(&meta.id).copied().unwrap_or(0)), None),
                Err(e) => (None, Some(e.clone())),
            };
            outcomes.push(TestOutcome {
                rule: meta.id,
                name: meta.name.clone(),
                pcap: t.pcap.clone(),
                vars: t.vars.clone(),
                expected: t.alerts,
                actual,
                error,
            });
        }
    }
    Ok(outcomes)
}

impl<O: Output + AlertSink> AlertSink for crate::assets::Tracked<O> {
    fn alert(
        &mut self,
        cx: AlertContext<'_>,
        event: &Event<'_>,
        alert: &Alert<'_>,
        alert_id: &str,
    ) {
        self.inner.alert(cx, event, alert, alert_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alert_ids_are_the_run_id_in_hex_and_a_count_from_one() {
        let mut ids = AlertIds::with_run_id(0xab);
        assert_eq!(ids.next_id().as_str(), "00000000000000ab-1");
        assert_eq!(ids.next_id().as_str(), "00000000000000ab-2");
        // The longest id fits.
        let mut last = AlertIds {
            run_id: u64::MAX,
            seq: u64::MAX - 1,
        };
        assert_eq!(
            last.next_id().as_str(),
            "ffffffffffffffff-18446744073709551615"
        );
    }

    #[test]
    fn run_ids_come_from_the_random_source() {
        // 64 random bits per id: 32 ids drawn one after the other never
        // repeat (with the clock as the source, ids drawn within one clock
        // tick would).
        let ids: Vec<u64> = (0..32).map(|_| random_run_id()).collect();
        let distinct: std::collections::HashSet<u64> = ids.iter().copied().collect();
        assert_eq!(distinct.len(), ids.len());
    }
}
