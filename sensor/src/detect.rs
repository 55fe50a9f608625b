//! Detection: the rule engine as an [`Output`] wrapper.
//!
//! [`Detect`] runs the [`Engine`] on every flow event and on every anomaly,
//! writes an EVE `alert` line for each match through its inner output
//! ([`AlertSink`]), then forwards the event unchanged. The alert carries
//! Suricata's `alert` object, the flow fields, the protocol object of the
//! transaction that fired and an `alert_id` ([`AlertIds`]): for offline
//! input made of the input (the file's digest and the frame's position), so
//! a file replayed again gives the same ids; live, a random run id from the
//! OS and a sequence number, unique across sensor restarts. The analyzer
//! ingests idempotently by it.
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

use crate::capture::InputPosition;
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

/// The longest alert id: offline, 16 hex digits and four numbers of at most
/// 20 digits, with their dashes (live ids are shorter).
const ALERT_ID_MAX: usize = 16 + 4 * (1 + 20);

/// The ids of the alerts of one run, in the two formats otwatch gives them.
///
/// * Live capture: `<run id>-<n>`, the run id as 16 hex digits
///   ([`random_run_id`], new at each start) and `n` counting from 1.
/// * Offline input (replayed files, `otwatch run` on captures, `otwatch
///   sensor --pcap`): `<file digest>-<frame>-<flow>-<rule>-<k>`, from the
///   input alone: the digest of the file's bytes as 16 hex digits
///   ([`crate::capture::digest`]), the number of the frame in that file
///   whose processing raised the alert (from 1; one past the last frame for
///   flows ended by the end of the input), the flow id of the event (as in
///   its `flow_id`; for an anomaly outside flows, 0, or a number made of the
///   datagram's addresses when fragments time out), the rule id, and `k`
///   counting from 1 the alerts of that rule and flow on that frame. The
///   same file replayed again gives the same ids, whatever the number of
///   workers (a frame and its flow are always on one worker, and the flow
///   tells apart the flows of several workers that an idle sweep ends on
///   one frame), so the analyzer, which stores an alert once per sensor and
///   id, adds nothing.
///
/// Used by [`Detect`] and, for an alert line that arrives without one, by
/// the analyzer client ([`crate::ship`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertIds {
    run_id: u64,
    seq: u64,
    /// Offline: where the events come from now.
    at: Option<InputPosition>,
    /// Offline: alerts so far at `at`, by flow and rule.
    on_frame: Vec<(u64, u32, u64)>,
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

    fn format(args: std::fmt::Arguments<'_>) -> AlertId {
        let mut id = AlertId {
            text: [0; ALERT_ID_MAX],
            len: 0,
        };
        let mut cursor = std::io::Cursor::new(&mut id.text[..]);
        let _ = cursor.write_fmt(args);
        id.len = cursor.position() as usize;
        id
    }
}

impl AlertIds {
    /// Ids under a new random run id.
    pub fn random() -> AlertIds {
        AlertIds::with_run_id(random_run_id())
    }

    /// Ids under `run_id` (tests).
    pub fn with_run_id(run_id: u64) -> AlertIds {
        AlertIds {
            run_id,
            seq: 0,
            at: None,
            on_frame: Vec::new(),
        }
    }

    /// The next id of the run-id format.
    pub fn next_id(&mut self) -> AlertId {
        self.seq += 1;
        AlertId::format(format_args!("{:016x}-{}", self.run_id, self.seq))
    }

    /// Offline input: the events that follow come from `at`.
    pub fn set_position(&mut self, at: InputPosition) {
        if self.at != Some(at) {
            self.at = Some(at);
            self.on_frame.clear();
        }
    }

    /// The id of the next alert of `rule` on `flow` (0 outside flows): from
    /// the input position once one was set, else of the run-id format.
    pub fn next_for(&mut self, flow: u64, rule: u32) -> AlertId {
        let Some(at) = self.at else {
            return self.next_id();
        };
        self.seq += 1;
        let k = match self
            .on_frame
            .iter_mut()
            .find(|(f, r, _)| *f == flow && *r == rule)
        {
            Some((_, _, k)) => {
                *k += 1;
                *k
            }
            None => {
                self.on_frame.push((flow, rule, 1));
                1
            }
        };
        AlertId::format(format_args!(
            "{:016x}-{}-{flow}-{rule}-{k}",
            at.digest, at.frame
        ))
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

    /// Goes on with `ids` (those of the engine it replaces after a reload).
    pub fn with_alert_ids(mut self, ids: AlertIds) -> Detect<O> {
        self.ids = ids;
        self
    }

    /// The alert ids, where they are.
    pub fn alert_ids(&self) -> &AlertIds {
        &self.ids
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

    /// Runs the rules on `event`; `owner` is the flow id in alert ids.
    fn run(&mut self, flow: &FlowInfo, owner: u64, cx: AlertContext<'_>, event: &Event<'_>) {
        let Detect {
            engine,
            inner,
            ids,
            per_rule,
            ..
        } = self;
        engine.inspect(flow, event, &mut |alert| {
            *per_rule.entry(alert.rule.id).or_insert(0) += 1;
            let id = ids.next_for(owner, alert.rule.id);
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
        self.run(&info, flow.id, AlertContext::Flow { flow, app }, event);
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
        // A datagram's fragments are all on one worker (dealt by their
        // addresses): its addresses tell apart the datagrams that time out
        // on one frame in several workers.
        let owner = packet.map_or(0, |p| packet_owner(p.src, p.dst));
        self.run(&info, owner, AlertContext::Packet(packet), &event);
        self.inner.packet_anomaly(ts, packet, anomaly);
    }

    fn flow_end(&mut self, flow: &FlowRecord<'_>) {
        self.engine.flow_end(flow.meta.id);
        self.inner.flow_end(flow);
    }

    fn input_position(&mut self, at: InputPosition) {
        self.ids.set_position(at);
    }
}

/// The number standing for a flow in the alert id of an anomaly outside
/// flows: made of its addresses (FNV-1a over their bytes), below 2^51 like
/// flow ids.
fn packet_owner(src: IpAddr, dst: IpAddr) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for ip in [src, dst] {
        let (v4, v6);
        let bytes: &[u8] = match ip {
            IpAddr::V4(a) => {
                v4 = a.octets();
                &v4
            }
            IpAddr::V6(a) => {
                v6 = a.octets();
                &v6
            }
        };
        for &b in bytes {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    h & ((1 << 51) - 1)
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
    test_rules_with(set, sources, None)
}

/// As [`test_rules`], with `overrides` applied to the rulesets a test with
/// variables or a baseline compiles (`set` carries them already): a match
/// an override suppresses is not an alert of the test.
pub fn test_rules_with(
    set: &Arc<Ruleset>,
    sources: &[Source],
    overrides: Option<&otwatch_rules::overrides::Overrides>,
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
                    let rs = Ruleset::from_sources_with_vars(sources, &t.vars)?;
                    Some(match overrides {
                        Some(o) => rs.with_overrides(o)?,
                        None => rs,
                    })
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
        let mut last = AlertIds::with_run_id(u64::MAX);
        last.seq = u64::MAX - 1;
        assert_eq!(
            last.next_id().as_str(),
            "ffffffffffffffff-18446744073709551615"
        );
        // Without an input position, alerts get ids of this format.
        assert_eq!(ids.next_for(7, 110001).as_str(), "00000000000000ab-3");
    }

    #[test]
    fn offline_alert_ids_are_the_input_position_flow_rule_and_a_count() {
        let mut ids = AlertIds::with_run_id(0xab);
        let at = |frame| InputPosition {
            digest: 0x0123_4567_89ab_cdef,
            frame,
        };
        ids.set_position(at(5));
        assert_eq!(
            ids.next_for(42, 110001).as_str(),
            "0123456789abcdef-5-42-110001-1"
        );
        // Another rule, another flow: each counts from 1.
        assert_eq!(
            ids.next_for(42, 110002).as_str(),
            "0123456789abcdef-5-42-110002-1"
        );
        assert_eq!(
            ids.next_for(43, 110001).as_str(),
            "0123456789abcdef-5-43-110001-1"
        );
        assert_eq!(
            ids.next_for(42, 110001).as_str(),
            "0123456789abcdef-5-42-110001-2"
        );
        // The same position again (a sweep, then the frame) keeps counting.
        ids.set_position(at(5));
        assert_eq!(
            ids.next_for(42, 110001).as_str(),
            "0123456789abcdef-5-42-110001-3"
        );
        // The next frame starts over.
        ids.set_position(at(6));
        assert_eq!(
            ids.next_for(42, 110001).as_str(),
            "0123456789abcdef-6-42-110001-1"
        );
        // The longest id fits.
        ids.set_position(InputPosition {
            digest: u64::MAX,
            frame: u64::MAX,
        });
        let id = ids.next_for(u64::MAX, u32::MAX);
        assert_eq!(
            id.as_str(),
            "ffffffffffffffff-18446744073709551615-18446744073709551615-4294967295-1"
        );
    }

    #[test]
    fn fragments_of_one_address_pair_share_a_number_below_flow_ids_limit() {
        let ip = |s: &str| {
            s.parse::<IpAddr>()
                .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
        };
        let a = packet_owner(ip("10.0.0.1"), ip("10.0.0.2"));
        assert_eq!(a, packet_owner(ip("10.0.0.1"), ip("10.0.0.2")));
        assert_ne!(a, packet_owner(ip("10.0.0.2"), ip("10.0.0.1")));
        assert_ne!(a, packet_owner(ip("10.0.0.1"), ip("10.0.0.3")));
        assert!(packet_owner(ip("::1"), ip("ff02::1")) < 1 << 51);
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
