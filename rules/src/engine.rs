//! The compiled ruleset and the matcher.
//!
//! [`Ruleset`] is immutable and can be shared between workers. Rules are
//! indexed by protocol, then by function (Modbus and DNP3 function code, S7
//! job function or userdata group) or anomaly name, so an event is tested
//! only against the rules that can match it plus the few that name no
//! function. Content patterns of a protocol are compiled into one
//! aho-corasick automaton, run at most once per event buffer and only when a
//! candidate rule has a `content` condition.
//!
//! [`Engine`] is one worker's mutable state: per-flow flags (each worker owns
//! its flows) and a handle on the [`Thresholds`], the threshold and
//! detection-filter windows, which the engines of several workers may share
//! so that a source spread over flows on different workers is counted once.
//! Both tables are bounded (oldest entries evicted first).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use aho_corasick::{AhoCorasick, AhoCorasickKind};
use otwatch_proto::event::{AppEvent, Event, Timestamp};

use crate::baseline::op::Fnv;
use crate::baseline::{Baseline, Deviation, DeviationKind};
use crate::compile::{
    compile, Distinct, Limit, LimitKind, Rule, RuleMeta, RuleTest, Source, VarOverrides,
};
use crate::cond::{PatternHits, Val};
use crate::error::Errors;
use crate::fields::{Common, Reader, Scope};
use crate::protocols::{self, Layer};
use crate::schema::{SuppressTrack, ThresholdType, Track};
use crate::view::FlowInfo;

/// Threshold windows tracked at most (per [`Thresholds`] table).
pub const MAX_TRACKED: usize = 65_536;
/// Distinct values remembered at most by all the windows of one
/// [`Thresholds`] table together (8 bytes each): past it the oldest windows
/// are evicted, as when [`MAX_TRACKED`] windows are tracked.
pub const MAX_DISTINCT_VALUES: usize = 1 << 20;
/// Flows with flags tracked at most (per engine).
pub const MAX_FLOWS: usize = 65_536;

/// What a rule match produces.
#[derive(Debug, Clone, Copy)]
pub struct Alert<'a> {
    /// The rule that fired.
    pub rule: &'a RuleMeta,
    /// Time of the packet that completed the matching PDU.
    pub ts: Timestamp,
    /// For a rule of the `baseline` layer: the deviation that fired it.
    pub deviation: Option<&'a Deviation>,
}

#[derive(Debug, Default)]
struct ProtoIndex {
    by_key: HashMap<u32, Vec<u32>>,
    tx_any: Vec<u32>,
    by_anomaly: HashMap<&'static str, Vec<u32>>,
    anomaly_any: Vec<u32>,
}

/// A compiled, validated set of rules.
#[derive(Debug)]
pub struct Ruleset {
    rules: Vec<Rule>,
    needs_content: Vec<bool>,
    /// Per layer ([`Layer::index`]).
    index: [ProtoIndex; Layer::COUNT],
    automata: [Option<AhoCorasick>; Layer::COUNT],
    pattern_counts: [usize; Layer::COUNT],
    flags: Vec<String>,
    baseline: Option<Arc<Baseline>>,
    /// The analyst's suppressions ([`crate::overrides`]).
    pub(crate) overrides: crate::overrides::Applied,
}

impl Ruleset {
    /// Compiles rule sources; every error of every file, or a ruleset.
    pub fn from_sources(sources: &[Source]) -> Result<Ruleset, Errors> {
        Ruleset::from_sources_with_vars(sources, &VarOverrides::new())
    }

    /// Compiles rule sources with some variables replaced.
    pub fn from_sources_with_vars(
        sources: &[Source],
        overrides: &VarOverrides,
    ) -> Result<Ruleset, Errors> {
        let compiled = compile(sources, overrides)?;
        let mut index: [ProtoIndex; Layer::COUNT] = std::array::from_fn(|_| ProtoIndex::default());
        let mut needs_content = Vec::with_capacity(compiled.rules.len());
        for (i, rule) in compiled.rules.iter().enumerate() {
            let i = i as u32;
            let p = rule.meta.protocol;
            needs_content.push(
                rule.conds
                    .iter()
                    .any(|c| c.reader == Reader::Common(Common::Content)),
            );
            let ix = &mut index[p.index()];
            if rule.anomaly {
                let names = rule
                    .conds
                    .iter()
                    .find(|c| c.reader == Reader::Common(Common::Anomaly))
                    .and_then(|c| c.cond.positive_names());
                match names {
                    Some(names) => {
                        for n in names {
                            ix.by_anomaly.entry(n).or_default().push(i);
                        }
                    }
                    None => ix.anomaly_any.push(i),
                }
                continue;
            }
            let keys = rule.conds.iter().find_map(|c| {
                let base = c.index?;
                if c.scope == Scope::Response {
                    return None;
                }
                let codes = c.cond.positive_codes()?;
                Some(
                    codes
                        .into_iter()
                        .map(|k| base + k as u32)
                        .collect::<Vec<_>>(),
                )
            });
            match keys {
                Some(keys) => {
                    for k in keys {
                        let list = ix.by_key.entry(k).or_default();
                        if list.last() != Some(&i) {
                            list.push(i);
                        }
                    }
                }
                None => ix.tx_any.push(i),
            }
        }
        let mut automata: [Option<AhoCorasick>; Layer::COUNT] = std::array::from_fn(|_| None);
        let mut pattern_counts = [0; Layer::COUNT];
        let mut errors = Errors::default();
        for p in Layer::ALL {
            let patterns = &compiled.patterns[p.index()];
            pattern_counts[p.index()] = patterns.list.len();
            if patterns.list.is_empty() {
                continue;
            }
            match automaton(&patterns.list, patterns.bytes) {
                Ok(ac) => automata[p.index()] = Some(ac),
                Err(e) => errors.push(
                    "<ruleset>",
                    crate::error::Pos::default(),
                    crate::error::ErrorKind::Invalid,
                    format!("content patterns of protocol {}: {e}", p.name()),
                ),
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Ruleset {
            rules: compiled.rules,
            needs_content,
            index,
            automata,
            pattern_counts,
            flags: compiled.flags,
            baseline: None,
            overrides: Default::default(),
        })
    }

    /// The ruleset enforcing `baseline`: transactions that deviate from it
    /// are matched, as anomalies of the `baseline` layer, against the
    /// rules of that layer.
    pub fn with_baseline(mut self, baseline: Option<Arc<Baseline>>) -> Ruleset {
        self.baseline = baseline;
        self
    }

    /// The baseline enforced, if any.
    pub fn baseline(&self) -> Option<&Arc<Baseline>> {
        self.baseline.as_ref()
    }

    /// Number of enabled rules.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// Whether there is no rule.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Every rule's description, in load order.
    pub fn rules(&self) -> impl Iterator<Item = &RuleMeta> {
        self.rules.iter().map(|r| &r.meta)
    }

    /// Every rule with its tests.
    pub fn tests(&self) -> impl Iterator<Item = (&RuleMeta, &[RuleTest])> {
        self.rules.iter().map(|r| (&r.meta, r.tests.as_slice()))
    }

    /// Flow flag names used by the rules.
    pub fn flow_flags(&self) -> &[String] {
        &self.flags
    }

    /// Rules of `protocol` whose function index is `key`, plus the
    /// unindexed ones (for tests and benchmarks).
    pub fn candidates(&self, protocol: Layer, key: u32) -> usize {
        let ix = &self.index[protocol.index()];
        ix.by_key.get(&key).map_or(0, Vec::len) + ix.tx_any.len()
    }
}

/// Content patterns of one protocol up to this many bytes in all are
/// compiled to a DFA (the fastest search); more to a contiguous NFA.
///
/// aho-corasick's DFA construction follows failure links for every state
/// and byte class, which is quadratic in the pattern length for periodic
/// patterns (64 kB of `A` took tens of seconds); its NFAs are built in time
/// linear in the patterns. Below this size the DFA's cost is bounded by a
/// small constant.
pub const DFA_MAX_PATTERN_BYTES: usize = 1024;

/// The automaton of one protocol's content patterns (`bytes`: their total
/// length).
fn automaton(list: &[Vec<u8>], bytes: usize) -> Result<AhoCorasick, aho_corasick::BuildError> {
    let kind = if bytes <= DFA_MAX_PATTERN_BYTES {
        AhoCorasickKind::DFA
    } else {
        AhoCorasickKind::ContiguousNFA
    };
    AhoCorasick::builder().kind(Some(kind)).build(list)
}

/// Which content patterns occur in this event's buffers.
struct Hits {
    bits: [Vec<u64>; 2],
    computed: bool,
}

impl PatternHits for Hits {
    fn hit(&self, buf: usize, id: u32) -> bool {
        let id = id as usize;
        self.bits[buf]
            .get(id / 64)
            .is_some_and(|w| w >> (id % 64) & 1 == 1)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum TrackKey {
    One(IpAddr),
    Pair(IpAddr, IpAddr),
    Server(IpAddr, IpAddr, u16),
    Flow(u64),
    Rule,
}

#[derive(Debug, Clone, Default)]
struct Window {
    start: i64,
    expires: i64,
    count: u32,
    alerts: u32,
    /// Hashes of the distinct values seen (rules with `distinct`), at most
    /// the rule's count plus one.
    seen: Vec<u64>,
}

impl Window {
    fn new(now: i64, span: i64) -> Window {
        Window {
            start: now,
            expires: now + span,
            ..Window::default()
        }
    }
}

/// Windows keyed by rule id (not position, so that they survive a reload
/// that reorders the rules) and what the rule tracks.
#[derive(Debug, Default)]
struct Windows {
    map: HashMap<(u32, TrackKey), Window>,
    /// Distinct values remembered by all windows.
    values: usize,
    /// Windows dropped while still open to make room.
    evicted: u64,
}

impl Windows {
    /// Makes room for one more window and `values` more distinct values:
    /// drops expired windows, then the oldest open ones.
    fn make_room(&mut self, key: (u32, TrackKey), values: usize, now: i64) {
        let new_key = !self.map.contains_key(&key);
        let full = |w: &Windows| {
            (new_key && w.map.len() >= MAX_TRACKED) || w.values + values > MAX_DISTINCT_VALUES
        };
        if !full(self) {
            return;
        }
        let mut freed = 0;
        self.map.retain(|_, w| {
            let keep = w.expires > now;
            if !keep {
                freed += w.seen.len();
            }
            keep
        });
        self.values -= freed;
        while full(self) {
            let Some(oldest) = self
                .map
                .iter()
                .filter(|(k, _)| **k != key)
                .min_by_key(|(_, w)| w.start)
                .map(|(k, _)| *k)
            else {
                break;
            };
            if let Some(w) = self.map.remove(&oldest) {
                self.values -= w.seen.len();
                self.evicted += 1;
            }
        }
    }
}

/// The threshold and detection-filter windows of one or more [`Engine`]s.
///
/// Cloning gives another handle on the same table. Live capture gives every
/// worker's engine a handle on one table, so `threshold: {track: by_src,
/// count: 5}` counts five matches of a source whichever workers its flows
/// landed on. The lock is taken only after a rule with a `threshold` or
/// `detection_filter` matched an event (rare next to the events tested), so
/// matching itself stays lock-free.
#[derive(Debug, Clone, Default)]
pub struct Thresholds {
    // Shared by the workers' engines; see above for when it is taken.
    windows: Arc<Mutex<Windows>>,
}

impl Thresholds {
    /// An empty table.
    pub fn new() -> Thresholds {
        Thresholds::default()
    }

    /// Windows currently tracked.
    pub fn len(&self) -> usize {
        self.lock().map.len()
    }

    /// Whether no window is tracked.
    pub fn is_empty(&self) -> bool {
        self.lock().map.is_empty()
    }

    /// Distinct values remembered by the windows (rules with `distinct`).
    pub fn distinct_values(&self) -> usize {
        self.lock().values
    }

    /// Open windows dropped to make room for others (their counts start
    /// again from zero).
    pub fn evicted(&self) -> u64 {
        self.lock().evicted
    }

    fn lock(&self) -> MutexGuard<'_, Windows> {
        // A window is plain data updated in place: a panic elsewhere while
        // the lock was held cannot leave it half-written in a way that
        // matters, so poisoning is ignored.
        self.windows
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// One worker's matcher: a shared ruleset, this worker's flow flags and a
/// (possibly shared) threshold table.
pub struct Engine {
    set: Arc<Ruleset>,
    hits: Hits,
    thresholds: Thresholds,
    flows: HashMap<u64, (u64, i64)>,
    alerts: u64,
    /// When each deviation (pair, kind, operation) was last raised, in
    /// seconds.
    raised: HashMap<u64, i64>,
    deviations: [u64; DeviationKind::ALL.len()],
    deviations_held: u64,
    /// Matches the overrides kept from alerting.
    suppressed: u64,
}

impl core::fmt::Debug for Engine {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Engine")
            .field("rules", &self.set.len())
            .field("windows", &self.thresholds.len())
            .field("flows", &self.flows.len())
            .field("alerts", &self.alerts)
            .finish()
    }
}

fn micros(ts: Timestamp) -> i64 {
    ts.as_micros()
}

impl Engine {
    /// An engine over `set` with a threshold table of its own.
    pub fn new(set: Arc<Ruleset>) -> Engine {
        Engine::with_thresholds(set, Thresholds::new())
    }

    /// An engine over `set` counting thresholds in `thresholds` (shared with
    /// the engines of other workers).
    pub fn with_thresholds(set: Arc<Ruleset>, thresholds: Thresholds) -> Engine {
        let words = |p: Layer| set.pattern_counts[p.index()].div_ceil(64);
        let max_words = Layer::ALL.into_iter().map(words).max().unwrap_or(0);
        Engine {
            hits: Hits {
                bits: [vec![0; max_words], vec![0; max_words]],
                computed: false,
            },
            set,
            thresholds,
            flows: HashMap::new(),
            alerts: 0,
            raised: HashMap::new(),
            deviations: [0; DeviationKind::ALL.len()],
            deviations_held: 0,
            suppressed: 0,
        }
    }

    /// Matches kept from alerting by the ruleset's overrides
    /// ([`Ruleset::with_overrides`]).
    pub fn suppressed(&self) -> u64 {
        self.suppressed
    }

    /// Deviations from the baseline found so far, per kind (each counted
    /// also when it was held back as a repeat).
    pub fn deviations(&self) -> impl Iterator<Item = (DeviationKind, u64)> + '_ {
        DeviationKind::ALL
            .into_iter()
            .zip(self.deviations.iter().copied())
    }

    /// Deviations held back because the same one of the same pair was
    /// raised within the baseline's `repeat_seconds`.
    pub fn deviations_held(&self) -> u64 {
        self.deviations_held
    }

    /// The ruleset.
    pub fn ruleset(&self) -> &Arc<Ruleset> {
        &self.set
    }

    /// Alerts raised so far.
    pub fn alerts(&self) -> u64 {
        self.alerts
    }

    /// The threshold table (a handle to share with other engines).
    pub fn thresholds(&self) -> &Thresholds {
        &self.thresholds
    }

    /// Forgets a flow's flags (call when the flow ends).
    pub fn flow_end(&mut self, flow_id: u64) {
        self.flows.remove(&flow_id);
    }

    /// Tests one event; calls `on_alert` for each alert. Returns the number
    /// of alerts. A transaction is also checked against the ruleset's
    /// baseline, and each deviation matched against the `baseline` rules.
    pub fn inspect(
        &mut self,
        flow: &FlowInfo,
        event: &Event<'_>,
        on_alert: &mut dyn FnMut(&Alert<'_>),
    ) -> usize {
        let set = Arc::clone(&self.set);
        let (protocol, tx_key, anomaly) = match (&event.app, protocols::index_key(&event.app)) {
            (_, Some((p, key))) => (Layer::App(p), key, None),
            (AppEvent::Anomaly(a), None) => {
                let Some(p) = Layer::ALL.into_iter().find(|p| p.owns_anomaly(a.protocol)) else {
                    return 0;
                };
                (p, 0, Some(a.name))
            }
            (_, None) => return 0,
        };
        let mut fired =
            self.run_rules(&set, flow, event, protocol, tx_key, anomaly, None, on_alert);
        if let (Some(baseline), None) = (&set.baseline, anomaly) {
            fired += self.enforce(&set, baseline, flow, event, on_alert);
        }
        fired
    }

    /// Checks a transaction against the baseline; each deviation not raised
    /// for the pair within `repeat_seconds` goes to the `baseline` rules.
    fn enforce(
        &mut self,
        set: &Ruleset,
        baseline: &Baseline,
        flow: &FlowInfo,
        event: &Event<'_>,
        on_alert: &mut dyn FnMut(&Alert<'_>),
    ) -> usize {
        let now = event.ts.secs;
        let repeat = i64::try_from(baseline.repeat_secs).unwrap_or(i64::MAX);
        let mut found: Vec<Deviation> = Vec::new();
        let (raised, counts, held) = (
            &mut self.raised,
            &mut self.deviations,
            &mut self.deviations_held,
        );
        baseline.check(flow, &event.app, &mut |kind, op| {
            counts[kind as usize] += 1;
            let key = Baseline::dedup_key(flow, &event.app, kind, op);
            if raised
                .get(&key)
                .is_some_and(|t| now.saturating_sub(*t) < repeat)
            {
                *held += 1;
                return;
            }
            if !raised.contains_key(&key) && raised.len() >= MAX_TRACKED {
                if let Some(oldest) = raised.iter().min_by_key(|(_, t)| **t).map(|(k, _)| *k) {
                    raised.remove(&oldest);
                }
            }
            raised.insert(key, now);
            if let Some(d) = baseline.describe(flow, event.ts, &event.app, kind, op) {
                found.push(d);
            }
        });
        let mut fired = 0;
        for d in &found {
            let anomaly = otwatch_proto::event::Anomaly::new(
                d.kind,
                d,
                Some(otwatch_proto::event::Direction::ToServer),
            );
            let deviation_event = Event {
                ts: event.ts,
                app: AppEvent::Anomaly(anomaly),
            };
            fired += self.run_rules(
                set,
                flow,
                &deviation_event,
                Layer::Baseline,
                0,
                Some(d.kind.name()),
                Some(d),
                on_alert,
            );
        }
        fired
    }

    #[allow(clippy::too_many_arguments)]
    fn run_rules(
        &mut self,
        set: &Ruleset,
        flow: &FlowInfo,
        event: &Event<'_>,
        protocol: Layer,
        tx_key: u32,
        anomaly: Option<&str>,
        deviation: Option<&Deviation>,
        on_alert: &mut dyn FnMut(&Alert<'_>),
    ) -> usize {
        let ix = &set.index[protocol.index()];
        let (first, second): (&[u32], &[u32]) = match anomaly {
            Some(name) => (
                ix.by_anomaly.get(name).map_or(&[][..], Vec::as_slice),
                &ix.anomaly_any,
            ),
            None => (
                ix.by_key.get(&tx_key).map_or(&[][..], Vec::as_slice),
                &ix.tx_any,
            ),
        };
        self.hits.computed = false;
        let mut fired = 0;
        for &ri in first.iter().chain(second) {
            let rule = &set.rules[ri as usize];
            if rule.flow_require != 0 {
                let flags = self.flows.get(&flow.id).map_or(0, |f| f.0);
                if flags & rule.flow_require != rule.flow_require {
                    continue;
                }
            }
            if set.needs_content[ri as usize] && !self.hits.computed {
                self.compute_hits(set, protocol, &event.app);
            }
            let hits = &self.hits;
            let all = rule.conds.iter().all(|c| {
                c.cond.eval(
                    &mut |f| c.reader.each_value(flow, &event.app, c.scope, f),
                    hits,
                )
            });
            if !all {
                continue;
            }
            if rule.flow_set != 0 || rule.flow_unset != 0 {
                self.update_flags(flow.id, rule.flow_set, rule.flow_unset, micros(event.ts));
            }
            if rule.noalert || suppressed(rule, flow, &self.hits) {
                continue;
            }
            if set.overrides.suppresses(ri as usize, flow, &event.app) {
                self.suppressed += 1;
                continue;
            }
            if let Some(limit) = rule.limit {
                if !self.limit_allows(rule.meta.id, limit, flow, &event.app, micros(event.ts)) {
                    continue;
                }
            }
            fired += 1;
            self.alerts += 1;
            on_alert(&Alert {
                rule: &rule.meta,
                ts: event.ts,
                deviation,
            });
        }
        fired
    }

    fn compute_hits(&mut self, set: &Ruleset, protocol: Layer, app: &AppEvent<'_>) {
        self.hits.computed = true;
        let bufs = protocols::buffers(app);
        for (b, buf) in bufs.iter().enumerate() {
            let bits = &mut self.hits.bits[b];
            bits.iter_mut().for_each(|w| *w = 0);
            let (Some(buf), Some(ac)) = (buf, &set.automata[protocol.index()]) else {
                continue;
            };
            for m in ac.find_overlapping_iter(*buf) {
                let id = m.pattern().as_usize();
                if let Some(w) = bits.get_mut(id / 64) {
                    *w |= 1 << (id % 64);
                }
            }
        }
    }

    fn update_flags(&mut self, flow: u64, set: u64, unset: u64, now: i64) {
        if !self.flows.contains_key(&flow) && self.flows.len() >= MAX_FLOWS {
            if let Some(oldest) = self.flows.iter().min_by_key(|(_, v)| v.1).map(|(k, _)| *k) {
                self.flows.remove(&oldest);
            }
        }
        let entry = self.flows.entry(flow).or_insert((0, now));
        entry.0 = (entry.0 | set) & !unset;
        entry.1 = now;
    }

    fn limit_allows(
        &self,
        rule: u32,
        limit: Limit,
        flow: &FlowInfo,
        app: &AppEvent<'_>,
        now: i64,
    ) -> bool {
        let key = match limit.track {
            Track::BySrc => TrackKey::One(flow.src),
            Track::ByDst => TrackKey::One(flow.dest),
            Track::ByPair => TrackKey::Pair(flow.src, flow.dest),
            Track::ByServer => TrackKey::Server(flow.src, flow.dest, flow.dest_port),
            Track::ByFlow => TrackKey::Flow(flow.id),
            Track::ByRule => TrackKey::Rule,
        };
        let key = (rule, key);
        let span = i64::from(limit.seconds) * 1_000_000;
        let mut values = [0u64; 8];
        let mut n_values = 0;
        if let Some(d) = limit.distinct {
            n_values = distinct_hashes(d, flow, app, &mut values);
            if n_values == 0 {
                // The field is absent from this event: nothing to count.
                return false;
            }
        }
        let mut windows = self.thresholds.lock();
        windows.make_room(key, n_values, now);
        let Windows {
            map, values: total, ..
        } = &mut *windows;
        let w = map.entry(key).or_insert_with(|| Window::new(now, span));
        // Workers do not see events in one time order: an event a little
        // older than the window's start (another worker's) counts in it.
        // One older than a whole window means time went back (another
        // capture): a new window.
        if now >= w.expires || now < w.start.saturating_sub(span) {
            *total -= w.seen.len();
            *w = Window::new(now, span);
        }
        let count = limit.count;
        let (counted, new_value) = if limit.distinct.is_some() {
            // Only as many values are remembered as the decision needs:
            // `count` for a threshold or limit, one more for a filter.
            let cap = match limit.kind {
                LimitKind::Filter => count as usize + 1,
                LimitKind::Threshold(_) => count as usize,
            };
            let mut new_value = false;
            for &h in &values[..n_values] {
                if w.seen.len() < cap && !w.seen.contains(&h) {
                    w.seen.push(h);
                    *total += 1;
                    new_value = true;
                }
            }
            (u32::try_from(w.seen.len()).unwrap_or(u32::MAX), new_value)
        } else {
            w.count += 1;
            (w.count, true)
        };
        match limit.kind {
            LimitKind::Threshold(ThresholdType::Limit) => {
                // With `distinct`, only a match that brings a new value alerts.
                if new_value && w.alerts < count {
                    w.alerts += 1;
                    true
                } else {
                    false
                }
            }
            LimitKind::Threshold(ThresholdType::Threshold) => {
                if counted >= count {
                    w.count = 0;
                    *total -= w.seen.len();
                    w.seen.clear();
                    true
                } else {
                    false
                }
            }
            LimitKind::Threshold(ThresholdType::Both) => {
                if counted >= count && w.alerts == 0 {
                    w.alerts = 1;
                    true
                } else {
                    false
                }
            }
            LimitKind::Filter => counted > count,
        }
    }
}

/// Hashes of the distinct values of the field `d` in the event, at most
/// `out.len()` of them (a PDU that carries more counts its first ones).
/// Returns how many were written.
fn distinct_hashes(d: Distinct, flow: &FlowInfo, app: &AppEvent<'_>, out: &mut [u64]) -> usize {
    let mut n = 0;
    d.reader.each_value(flow, app, d.scope, &mut |v| {
        let h = hash_val(&v);
        if !out[..n].contains(&h) {
            out[n] = h;
            n += 1;
        }
        n == out.len()
    });
    n
}

/// A 64-bit hash of a value, with its kind mixed in so that the number 1
/// and the flag `true` differ.
fn hash_val(v: &Val<'_>) -> u64 {
    let mut h = Fnv::new();
    match *v {
        Val::Int(n) => {
            h.u32(0);
            h.u64(n);
        }
        Val::Span(a, b) => {
            h.u32(1);
            h.u64(a);
            h.u64(b);
        }
        Val::Bytes(b) => {
            h.u32(2);
            h.bytes(b);
        }
        Val::Bool(b) => h.u32(if b { 4 } else { 3 }),
        Val::Ip(ip) => {
            h.u32(5);
            h.bytes(&match ip {
                IpAddr::V4(a) => a.to_ipv6_mapped().octets(),
                IpAddr::V6(a) => a.octets(),
            });
        }
        Val::Buf(i) => {
            h.u32(6);
            h.u64(i as u64);
        }
        Val::Name(s) => {
            h.u32(7);
            h.bytes(s.as_bytes());
        }
    }
    h.0
}

fn suppressed(rule: &Rule, flow: &FlowInfo, hits: &dyn PatternHits) -> bool {
    rule.suppress.iter().any(|(track, cond)| {
        cond.eval(
            &mut |f| match track {
                SuppressTrack::BySrc => f(Val::Ip(flow.src)),
                SuppressTrack::ByDst => f(Val::Ip(flow.dest)),
                SuppressTrack::ByEither => f(Val::Ip(flow.src)) || f(Val::Ip(flow.dest)),
            },
            hits,
        )
    })
}
