//! The alert store: one redb file under the data directory.
//!
//! Alerts are keyed by a `u64` id that grows with the time they were stored
//! (`received µs << 8`, kept strictly increasing), so retention by age and the
//! exports' cursors walk the primary table in order. Secondary indexes are
//! tables of `(value, event time, id) → ()`; a filtered query walks the index
//! of its most selective filter newest-first and checks the other filters on
//! each record's fixed header, never scanning everything. Running totals per
//! value (`COUNTS`) choose that index and serve the rule hit counts; per-minute
//! totals (`ROLLUP`) serve the charts.
//!
//! Every write goes through one writer thread (see [`crate::writer`]), which
//! groups concurrent requests into one transaction; readers use MVCC read
//! transactions and never wait for it.

use std::collections::HashMap;
use std::ops::Bound;
use std::path::Path;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

use crate::assets::{self, Asset};
use crate::ingest::{AssetObs, NewAlert, StatsObs};
use crate::record::{RecordView, State};

pub(crate) const ALERTS: TableDefinition<'_, u64, &[u8]> = TableDefinition::new("alerts");
pub(crate) const BY_TIME: TableDefinition<'_, (u64, u64), ()> = TableDefinition::new("idx_time");
pub(crate) const BY_SEV: TableDefinition<'_, (u8, u64, u64), ()> =
    TableDefinition::new("idx_severity");
pub(crate) const BY_PROTO: TableDefinition<'_, (&str, u64, u64), ()> =
    TableDefinition::new("idx_protocol");
pub(crate) const BY_RULE: TableDefinition<'_, (u32, u64, u64), ()> =
    TableDefinition::new("idx_rule");
pub(crate) const BY_HOST: TableDefinition<'_, (&str, u64, u64), ()> =
    TableDefinition::new("idx_host");
pub(crate) const BY_STATE: TableDefinition<'_, (u8, u64, u64), ()> =
    TableDefinition::new("idx_state");
pub(crate) const DEDUP: TableDefinition<'_, &str, u64> = TableDefinition::new("dedup");
pub(crate) const COUNTS: TableDefinition<'_, &str, u64> = TableDefinition::new("counts");
pub(crate) const ROLLUP: TableDefinition<'_, (u8, u64, &str), u64> = TableDefinition::new("rollup");
pub(crate) const ASSETS: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("assets");
pub(crate) const SENSORS: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("sensors");
pub(crate) const META: TableDefinition<'_, &str, u64> = TableDefinition::new("meta");

/// Bytes an alert costs beyond its record: index entries, de-duplication key,
/// B-tree overhead (measured with the `store` benchmark).
pub(crate) const INDEX_OVERHEAD: u64 = 800;

/// Rollup kinds (first key element of `ROLLUP`).
pub(crate) mod kind {
    pub(crate) const TIME: u8 = 0;
    pub(crate) const SEVERITY: u8 = 1;
    pub(crate) const PROTOCOL: u8 = 2;
    pub(crate) const RULE: u8 = 3;
    pub(crate) const HOST: u8 = 4;
    pub(crate) const SENSOR: u8 = 5;
}

const MINUTE: u64 = 60_000_000;

/// A storage failure.
#[derive(Debug)]
pub struct StoreError(pub String);

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "store: {}", self.0)
    }
}

impl std::error::Error for StoreError {}

macro_rules! from_redb {
    ($($t:ty),*) => {$(
        impl From<$t> for StoreError {
            fn from(e: $t) -> Self {
                StoreError(e.to_string())
            }
        }
    )*};
}
from_redb!(
    redb::Error,
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError,
    std::io::Error,
    serde_json::Error
);

pub(crate) type Result<T> = std::result::Result<T, StoreError>;

/// The database.
pub(crate) struct Store {
    pub(crate) db: Database,
}

fn dedup_key(sensor: &str, alert_id: &str) -> String {
    let mut k = String::with_capacity(sensor.len() + alert_id.len() + 1);
    k.push_str(sensor);
    k.push('\0');
    k.push_str(alert_id);
    k
}

impl Store {
    /// Opens (or creates) `DIR/alerts.redb`.
    pub(crate) fn open(dir: &Path) -> Result<Store> {
        std::fs::create_dir_all(dir)?;
        let db = Database::builder()
            .set_cache_size(256 << 20)
            .create(dir.join("alerts.redb"))?;
        let txn = db.begin_write()?;
        {
            txn.open_table(ALERTS)?;
            txn.open_table(BY_TIME)?;
            txn.open_table(BY_SEV)?;
            txn.open_table(BY_PROTO)?;
            txn.open_table(BY_RULE)?;
            txn.open_table(BY_HOST)?;
            txn.open_table(BY_STATE)?;
            txn.open_table(DEDUP)?;
            txn.open_table(COUNTS)?;
            txn.open_table(ROLLUP)?;
            txn.open_table(ASSETS)?;
            txn.open_table(SENSORS)?;
            txn.open_table(META)?;
        }
        txn.commit()?;
        Ok(Store { db })
    }

    /// Bytes of the database file.
    pub(crate) fn file_size(dir: &Path) -> u64 {
        std::fs::metadata(dir.join("alerts.redb"))
            .map(|m| m.len())
            .unwrap_or(0)
    }
}

/// Tables of one write transaction.
pub(crate) struct WriteTables<'t> {
    alerts: redb::Table<'t, u64, &'static [u8]>,
    time: redb::Table<'t, (u64, u64), ()>,
    sev: redb::Table<'t, (u8, u64, u64), ()>,
    proto: redb::Table<'t, (&'static str, u64, u64), ()>,
    rule: redb::Table<'t, (u32, u64, u64), ()>,
    host: redb::Table<'t, (&'static str, u64, u64), ()>,
    state: redb::Table<'t, (u8, u64, u64), ()>,
    dedup: redb::Table<'t, &'static str, u64>,
    counts: redb::Table<'t, &'static str, u64>,
    rollup: redb::Table<'t, (u8, u64, &'static str), u64>,
    assets: redb::Table<'t, &'static str, &'static [u8]>,
    sensors: redb::Table<'t, &'static str, &'static [u8]>,
    meta: redb::Table<'t, &'static str, u64>,
}

/// Count and rollup changes gathered during a transaction, written once at its end.
#[derive(Default)]
pub(crate) struct Deltas {
    counts: HashMap<String, i64>,
    rollup: HashMap<(u8, u64, String), i64>,
}

impl Deltas {
    /// The change of the live-bytes total so far.
    pub(crate) fn pending_bytes(&self) -> i64 {
        self.counts.get("bytes").copied().unwrap_or(0)
    }

    fn count(&mut self, key: String, d: i64) {
        *self.counts.entry(key).or_default() += d;
    }

    fn roll(&mut self, k: u8, minute: u64, v: String, d: i64) {
        *self.rollup.entry((k, minute, v)).or_default() += d;
    }

    /// Adds (`d = 1`) or removes (`d = -1`) an alert.
    fn alert(&mut self, r: &RecordView<'_>, stored_len: usize, d: i64) {
        let m = r.ts / MINUTE;
        self.count("total".into(), d);
        self.count(
            "bytes".into(),
            d * (stored_len as i64 + INDEX_OVERHEAD as i64),
        );
        self.count(format!("sev:{}", r.severity), d);
        self.count(format!("proto:{}", r.protocol), d);
        self.count(format!("rule:{}", r.sid), d);
        self.count(format!("state:{}", r.state.code()), d);
        self.count(format!("sensor:{}", r.sensor), d);
        self.count(format!("host:{}", r.src_ip), d);
        self.roll(kind::TIME, m, String::new(), d);
        self.roll(kind::SEVERITY, m, r.severity.to_string(), d);
        self.roll(kind::PROTOCOL, m, r.protocol.to_string(), d);
        self.roll(kind::RULE, m, r.sid.to_string(), d);
        self.roll(kind::SENSOR, m, r.sensor.to_string(), d);
        self.roll(kind::HOST, m, r.src_ip.to_string(), d);
        if r.dest_ip != r.src_ip {
            self.count(format!("host:{}", r.dest_ip), d);
            self.roll(kind::HOST, m, r.dest_ip.to_string(), d);
        }
    }
}

pub(crate) fn apply_delta(old: u64, d: i64) -> u64 {
    if d >= 0 {
        old.saturating_add(d as u64)
    } else {
        old.saturating_sub(d.unsigned_abs())
    }
}

/// What one ingest request changed.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct IngestReport {
    /// Alerts stored.
    pub stored: u64,
    /// Alerts already stored before (a retried batch).
    pub duplicates: u64,
    /// Asset observations merged.
    pub assets: u64,
    /// Identity-changed alerts raised.
    pub identity_changes: u64,
    /// Stats lines recorded.
    pub stats: u64,
    /// Lines of other event types, counted and dropped.
    pub ignored: u64,
}

/// Per-sensor record (`SENSORS`).
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub(crate) struct SensorRecord {
    pub(crate) name: String,
    pub(crate) first_seen: u64,
    pub(crate) last_seen: u64,
    pub(crate) stats_ts: Option<u64>,
    pub(crate) stats: Option<serde_json::Value>,
}

impl<'t> WriteTables<'t> {
    pub(crate) fn open(txn: &'t redb::WriteTransaction) -> Result<WriteTables<'t>> {
        Ok(WriteTables {
            alerts: txn.open_table(ALERTS)?,
            time: txn.open_table(BY_TIME)?,
            sev: txn.open_table(BY_SEV)?,
            proto: txn.open_table(BY_PROTO)?,
            rule: txn.open_table(BY_RULE)?,
            host: txn.open_table(BY_HOST)?,
            state: txn.open_table(BY_STATE)?,
            dedup: txn.open_table(DEDUP)?,
            counts: txn.open_table(COUNTS)?,
            rollup: txn.open_table(ROLLUP)?,
            assets: txn.open_table(ASSETS)?,
            sensors: txn.open_table(SENSORS)?,
            meta: txn.open_table(META)?,
        })
    }

    pub(crate) fn set_meta(&mut self, key: &str, v: u64) -> Result<()> {
        self.meta.insert(key, v)?;
        Ok(())
    }

    pub(crate) fn count(&self, key: &str) -> Result<u64> {
        Ok(self.counts.get(key)?.map(|v| v.value()).unwrap_or(0))
    }

    fn index(&mut self, r: &RecordView<'_>, id: u64) -> Result<()> {
        self.time.insert((r.ts, id), ())?;
        self.sev.insert((r.severity, r.ts, id), ())?;
        self.proto.insert((r.protocol, r.ts, id), ())?;
        self.rule.insert((r.sid, r.ts, id), ())?;
        self.host.insert((r.src_ip, r.ts, id), ())?;
        if r.dest_ip != r.src_ip {
            self.host.insert((r.dest_ip, r.ts, id), ())?;
        }
        self.state.insert((r.state.code(), r.ts, id), ())?;
        Ok(())
    }

    fn unindex(&mut self, r: &RecordView<'_>, id: u64) -> Result<()> {
        self.time.remove((r.ts, id))?;
        self.sev.remove((r.severity, r.ts, id))?;
        self.proto.remove((r.protocol, r.ts, id))?;
        self.rule.remove((r.sid, r.ts, id))?;
        self.host.remove((r.src_ip, r.ts, id))?;
        self.host.remove((r.dest_ip, r.ts, id))?;
        self.state.remove((r.state.code(), r.ts, id))?;
        Ok(())
    }

    /// Stores an alert unless its `(sensor, alert_id)` is stored already.
    pub(crate) fn insert_alert(
        &mut self,
        d: &mut Deltas,
        id: u64,
        a: &NewAlert,
        received: u64,
        buf: &mut Vec<u8>,
    ) -> Result<bool> {
        let key = dedup_key(&a.sensor, &a.alert_id);
        let first = self.dedup.insert(key.as_str(), id)?.map(|g| g.value());
        if let Some(first) = first {
            // A retried line: put the first id back.
            self.dedup.insert(key.as_str(), first)?;
            return Ok(false);
        }
        let r = RecordView {
            ts: a.ts,
            received,
            severity: a.severity,
            state: State::New,
            sid: a.sid,
            state_at: 0,
            protocol: &a.protocol,
            src_ip: &a.src_ip,
            dest_ip: &a.dest_ip,
            sensor: &a.sensor,
            alert_id: &a.alert_id,
            state_by: "",
            state_note: "",
            json: &a.json,
        };
        r.encode(buf);
        self.alerts.insert(id, buf.as_slice())?;
        self.index(&r, id)?;
        d.alert(&r, buf.len(), 1);
        Ok(true)
    }

    /// Deletes an alert; returns whether it existed.
    pub(crate) fn delete_alert(&mut self, d: &mut Deltas, id: u64) -> Result<bool> {
        let Some(bytes) = self.alerts.remove(id)?.map(|g| g.value().to_vec()) else {
            return Ok(false);
        };
        let Some(r) = RecordView::decode(&bytes) else {
            return Ok(true);
        };
        self.unindex(&r, id)?;
        self.dedup
            .remove(dedup_key(r.sensor, r.alert_id).as_str())?;
        d.alert(&r, bytes.len(), -1);
        Ok(true)
    }

    /// Changes an alert's state; returns whether it exists.
    #[allow(clippy::too_many_arguments)] // the state change is these five values; a struct would only wrap them
    pub(crate) fn set_state(
        &mut self,
        d: &mut Deltas,
        id: u64,
        state: State,
        by: &str,
        note: &str,
        at: u64,
        buf: &mut Vec<u8>,
    ) -> Result<bool> {
        let Some(bytes) = self.alerts.get(id)?.map(|g| g.value().to_vec()) else {
            return Ok(false);
        };
        let Some(old) = RecordView::decode(&bytes) else {
            return Ok(false);
        };
        let new = RecordView {
            state,
            state_by: by,
            state_note: note,
            state_at: at,
            ..old
        };
        new.encode(buf);
        self.alerts.insert(id, buf.as_slice())?;
        self.state.remove((old.state.code(), old.ts, id))?;
        self.state.insert((state.code(), old.ts, id), ())?;
        d.count(format!("state:{}", old.state.code()), -1);
        d.count(format!("state:{}", state.code()), 1);
        d.count("bytes".into(), buf.len() as i64 - bytes.len() as i64);
        Ok(true)
    }

    /// The oldest stored alert: `(id, received)`.
    pub(crate) fn oldest(&self) -> Result<Option<(u64, u64)>> {
        let Some((k, v)) = self.alerts.first()? else {
            return Ok(None);
        };
        let received = RecordView::decode(v.value())
            .map(|r| r.received)
            .unwrap_or(0);
        Ok(Some((k.value(), received)))
    }

    /// Merges an asset observation; returns the identity-changed alert line, if any.
    pub(crate) fn merge_asset(&mut self, obs: &AssetObs) -> Result<Option<serde_json::Value>> {
        let ip = obs
            .asset
            .get("ip")
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_string();
        let known: Option<Asset> = match self.assets.get(ip.as_str())? {
            Some(g) => serde_json::from_slice(g.value()).ok(),
            None => None,
        };
        let (asset, change) = assets::merge(known, &obs.asset, &obs.sensor, obs.ts);
        let bytes = serde_json::to_vec(&asset)?;
        self.assets.insert(ip.as_str(), bytes.as_slice())?;
        Ok(change.map(|c| assets::change_alert(&asset, &c, &obs.sensor, obs.ts)))
    }

    /// Notes that `sensor` sent something, and its stats if given.
    pub(crate) fn touch_sensor(
        &mut self,
        sensor: &str,
        now: u64,
        stats: Option<&StatsObs>,
    ) -> Result<()> {
        let mut rec: SensorRecord = match self.sensors.get(sensor)? {
            Some(g) => serde_json::from_slice(g.value()).unwrap_or_default(),
            None => SensorRecord {
                name: sensor.to_string(),
                first_seen: now,
                ..Default::default()
            },
        };
        rec.last_seen = now;
        if let Some(s) = stats {
            if rec.stats_ts.is_none_or(|t| t <= s.ts) {
                rec.stats_ts = Some(s.ts);
                rec.stats = Some(s.stats.clone());
            }
        }
        let bytes = serde_json::to_vec(&rec)?;
        self.sensors.insert(sensor, bytes.as_slice())?;
        Ok(())
    }

    /// Writes the gathered count changes.
    pub(crate) fn flush(&mut self, d: Deltas) -> Result<()> {
        for (k, delta) in d.counts {
            if delta == 0 {
                continue;
            }
            let old = self.counts.get(k.as_str())?.map(|g| g.value()).unwrap_or(0);
            let new = apply_delta(old, delta);
            if new == 0 && k != "total" && k != "bytes" {
                self.counts.remove(k.as_str())?;
            } else {
                self.counts.insert(k.as_str(), new)?;
            }
        }
        for ((k, m, v), delta) in d.rollup {
            if delta == 0 {
                continue;
            }
            let old = self
                .rollup
                .get((k, m, v.as_str()))?
                .map(|g| g.value())
                .unwrap_or(0);
            let new = apply_delta(old, delta);
            if new == 0 {
                self.rollup.remove((k, m, v.as_str()))?;
            } else {
                self.rollup.insert((k, m, v.as_str()), new)?;
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------- reads

/// A filter over alerts. Empty lists mean "any".
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Event time at or after (µs).
    pub from: Option<u64>,
    /// Event time at or before (µs).
    pub to: Option<u64>,
    /// Severities (1–5).
    pub severity: Vec<u8>,
    /// Protocols.
    pub protocol: Vec<String>,
    /// Rule ids.
    pub rule: Vec<u32>,
    /// Source or destination address.
    pub host: Vec<String>,
    /// Source address.
    pub src_ip: Vec<String>,
    /// Destination address.
    pub dest_ip: Vec<String>,
    /// States.
    pub state: Vec<State>,
    /// Sensors.
    pub sensor: Vec<String>,
    /// Case-insensitive text in the signature or the decoded fields.
    pub text: Option<String>,
}

impl Filter {
    /// Whether a record passes (the time range is checked by the caller's range).
    pub(crate) fn matches(&self, r: &RecordView<'_>) -> bool {
        (self.severity.is_empty() || self.severity.contains(&r.severity))
            && (self.protocol.is_empty() || self.protocol.iter().any(|p| p == r.protocol))
            && (self.rule.is_empty() || self.rule.contains(&r.sid))
            && (self.host.is_empty() || self.host.iter().any(|h| h == r.src_ip || h == r.dest_ip))
            && (self.src_ip.is_empty() || self.src_ip.iter().any(|h| h == r.src_ip))
            && (self.dest_ip.is_empty() || self.dest_ip.iter().any(|h| h == r.dest_ip))
            && (self.state.is_empty() || self.state.contains(&r.state))
            && (self.sensor.is_empty() || self.sensor.iter().any(|s| s == r.sensor))
            && self.text.as_deref().is_none_or(|t| {
                contains_ci(r.json, t.as_bytes())
                    || contains_ci(r.state_note.as_bytes(), t.as_bytes())
            })
            && self.from.is_none_or(|f| r.ts >= f)
            && self.to.is_none_or(|t| r.ts <= t)
    }
}

/// ASCII-case-insensitive substring search (`needle` already lower-case).
fn contains_ci(hay: &[u8], needle: &[u8]) -> bool {
    if needle.is_empty() {
        return true;
    }
    let first = needle[0];
    let n = needle.len();
    if hay.len() < n {
        return false;
    }
    (0..=hay.len() - n).any(|i| {
        hay[i].to_ascii_lowercase() == first
            && hay[i..i + n]
                .iter()
                .zip(needle)
                .all(|(a, b)| a.to_ascii_lowercase() == *b)
    })
}

type KeyIter = Box<dyn Iterator<Item = Result<(u64, u64)>>>;

/// Merges index walks that each run newest-first into one, dropping repeats.
struct MergeDesc {
    iters: Vec<std::iter::Peekable<KeyIter>>,
    last: Option<(u64, u64)>,
}

impl Iterator for MergeDesc {
    type Item = Result<(u64, u64)>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let mut best: Option<(usize, (u64, u64))> = None;
            for (i, it) in self.iters.iter_mut().enumerate() {
                match it.peek() {
                    None => {}
                    Some(Err(_)) => return it.next(),
                    Some(Ok(k)) if best.is_none_or(|(_, b)| *k > b) => best = Some((i, *k)),
                    Some(Ok(_)) => {}
                }
            }
            let (i, k) = best?;
            self.iters[i].next();
            if self.last == Some(k) {
                continue;
            }
            self.last = Some(k);
            return Some(Ok(k));
        }
    }
}

/// The range of `(ts, id)` a page may cover: from `from` up to `to` or just below the cursor.
#[derive(Clone, Copy)]
struct Span {
    lo: (u64, u64),
    hi: Bound<(u64, u64)>,
}

macro_rules! walk {
    ($txn:expr, $def:expr, $prefix:expr, $span:expr) => {{
        let table = $txn.open_table($def)?;
        let p = $prefix;
        let lo = Bound::Included((p, $span.lo.0, $span.lo.1));
        let hi = match $span.hi {
            Bound::Included((t, i)) => Bound::Included((p, t, i)),
            Bound::Excluded((t, i)) => Bound::Excluded((p, t, i)),
            Bound::Unbounded => Bound::Included((p, u64::MAX, u64::MAX)),
        };
        let range = table.range((lo, hi))?;
        Box::new(range.rev().map(|e| {
            let (k, _) = e?;
            let (_, ts, id) = k.value();
            Ok((ts, id))
        })) as KeyIter
    }};
}

/// One page of a query.
pub(crate) struct Page {
    /// `(id, stored bytes)` newest first.
    pub(crate) alerts: Vec<(u64, Vec<u8>)>,
    /// Where the next page starts, when there may be more.
    pub(crate) next: Option<(u64, u64)>,
}

/// Records a page walk may look at before it returns what it found.
pub(crate) const SCAN_BUDGET: usize = 20_000;

impl Store {
    /// Runs a filtered query: newest first, `limit` alerts from below `cursor`.
    pub(crate) fn query(
        &self,
        f: &Filter,
        cursor: Option<(u64, u64)>,
        limit: usize,
    ) -> Result<Page> {
        let txn = self.db.begin_read()?;
        let from = f.from.unwrap_or(0);
        let to = f.to.unwrap_or(u64::MAX);
        let hi = match cursor {
            Some(c) if c.0 <= to => Bound::Excluded(c),
            _ => Bound::Included((to, u64::MAX)),
        };
        let span = Span { lo: (from, 0), hi };
        let empty = Page {
            alerts: Vec::new(),
            next: None,
        };
        if from > to || matches!(hi, Bound::Excluded(c) if c <= (from, 0)) {
            return Ok(empty);
        }
        let counts = txn.open_table(COUNTS)?;
        let count = |k: String| -> Result<u64> {
            Ok(counts.get(k.as_str())?.map(|g| g.value()).unwrap_or(0))
        };
        // Pick the index with the fewest entries for this filter.
        let mut best: (u64, u8) = (count("total".into())?, 0);
        let mut consider = |est: u64, which: u8| {
            if est < best.0 {
                best = (est, which);
            }
        };
        if !f.severity.is_empty() {
            consider(
                f.severity
                    .iter()
                    .map(|s| count(format!("sev:{s}")))
                    .sum::<Result<u64>>()?,
                1,
            );
        }
        if !f.protocol.is_empty() {
            consider(
                f.protocol
                    .iter()
                    .map(|s| count(format!("proto:{s}")))
                    .sum::<Result<u64>>()?,
                2,
            );
        }
        if !f.rule.is_empty() {
            consider(
                f.rule
                    .iter()
                    .map(|s| count(format!("rule:{s}")))
                    .sum::<Result<u64>>()?,
                3,
            );
        }
        for (list, which) in [(&f.host, 4), (&f.src_ip, 5), (&f.dest_ip, 6)] {
            if !list.is_empty() {
                consider(
                    list.iter()
                        .map(|s| count(format!("host:{s}")))
                        .sum::<Result<u64>>()?,
                    which,
                );
            }
        }
        if !f.state.is_empty() {
            consider(
                f.state
                    .iter()
                    .map(|s| count(format!("state:{}", s.code())))
                    .sum::<Result<u64>>()?,
                7,
            );
        }
        drop(counts);
        let iters: Vec<KeyIter> = match best.1 {
            1 => f
                .severity
                .iter()
                .map(|s| Ok(walk!(txn, BY_SEV, *s, span)))
                .collect::<Result<_>>()?,
            2 => f
                .protocol
                .iter()
                .map(|s| Ok(walk!(txn, BY_PROTO, s.as_str(), span)))
                .collect::<Result<_>>()?,
            3 => f
                .rule
                .iter()
                .map(|s| Ok(walk!(txn, BY_RULE, *s, span)))
                .collect::<Result<_>>()?,
            4..=6 => {
                let list = match best.1 {
                    4 => &f.host,
                    5 => &f.src_ip,
                    _ => &f.dest_ip,
                };
                list.iter()
                    .map(|s| Ok(walk!(txn, BY_HOST, s.as_str(), span)))
                    .collect::<Result<_>>()?
            }
            7 => f
                .state
                .iter()
                .map(|s| Ok(walk!(txn, BY_STATE, s.code(), span)))
                .collect::<Result<_>>()?,
            _ => {
                let table = txn.open_table(BY_TIME)?;
                let range = table.range((Bound::Included(span.lo), span.hi))?;
                vec![Box::new(range.rev().map(|e| {
                    let (k, _) = e?;
                    Ok(k.value())
                })) as KeyIter]
            }
        };
        let keys = MergeDesc {
            iters: iters.into_iter().map(Iterator::peekable).collect(),
            last: None,
        };
        let alerts_t = txn.open_table(ALERTS)?;
        let mut page = Page {
            alerts: Vec::new(),
            next: None,
        };
        let mut last_key = None;
        for (examined, key) in keys.enumerate() {
            let (ts, id) = key?;
            if page.alerts.len() == limit {
                // One more exists: the page is full.
                page.next = last_key;
                return Ok(page);
            }
            if examined == SCAN_BUDGET {
                page.next = last_key;
                return Ok(page);
            }
            last_key = Some((ts, id));
            let Some(g) = alerts_t.get(id)? else { continue };
            let bytes = g.value();
            if RecordView::decode(bytes).is_some_and(|r| f.matches(&r)) {
                page.alerts.push((id, bytes.to_vec()));
            }
        }
        Ok(page)
    }

    /// One alert's stored bytes.
    pub(crate) fn get(&self, id: u64) -> Result<Option<Vec<u8>>> {
        let txn = self.db.begin_read()?;
        let t = txn.open_table(ALERTS)?;
        Ok(t.get(id)?.map(|g| g.value().to_vec()))
    }

    /// Alerts stored after `id` (exports, stream resume), oldest first.
    pub(crate) fn after(&self, id: u64, limit: usize) -> Result<Vec<(u64, Vec<u8>)>> {
        let txn = self.db.begin_read()?;
        let t = txn.open_table(ALERTS)?;
        let mut out = Vec::new();
        for e in t
            .range((Bound::Excluded(id), Bound::Unbounded))?
            .take(limit)
        {
            let (k, v) = e?;
            out.push((k.value(), v.value().to_vec()));
        }
        Ok(out)
    }

    /// The newest id stored (0 when empty).
    pub(crate) fn last_id(&self) -> Result<u64> {
        let txn = self.db.begin_read()?;
        let t = txn.open_table(META)?;
        Ok(t.get("last_id")?.map(|g| g.value()).unwrap_or(0))
    }

    /// A running total (`total`, `bytes`, `sev:1`, `rule:110001`, …).
    pub(crate) fn count(&self, key: &str) -> Result<u64> {
        let txn = self.db.begin_read()?;
        let t = txn.open_table(COUNTS)?;
        Ok(t.get(key)?.map(|g| g.value()).unwrap_or(0))
    }

    /// Every running total whose key starts with `prefix` (prefix stripped).
    pub(crate) fn counts_with_prefix(&self, prefix: &str) -> Result<Vec<(String, u64)>> {
        let txn = self.db.begin_read()?;
        let t = txn.open_table(COUNTS)?;
        let mut out = Vec::new();
        for e in t.range(prefix..)? {
            let (k, v) = e?;
            let Some(rest) = k.value().strip_prefix(prefix) else {
                break;
            };
            out.push((rest.to_string(), v.value()));
        }
        Ok(out)
    }

    /// Per-minute totals of rollup `kind` over `[from, to]` (µs), summed by value,
    /// or by `bucket` (µs) of time when `kind` is [`kind::TIME`].
    pub(crate) fn rollup(
        &self,
        k: u8,
        from: u64,
        to: u64,
        bucket: u64,
    ) -> Result<Vec<(String, u64)>> {
        let txn = self.db.begin_read()?;
        let t = txn.open_table(ROLLUP)?;
        let (m0, m1) = (from / MINUTE, to / MINUTE);
        let mut sums: HashMap<String, u64> = HashMap::new();
        let mut by_bucket: std::collections::BTreeMap<u64, u64> = Default::default();
        let range = t.range((
            Bound::Included((k, m0, "")),
            Bound::Excluded((k, m1.saturating_add(1), "")),
        ))?;
        for e in range {
            let (key, v) = e?;
            let (_, minute, value) = key.value();
            if k == kind::TIME {
                let start = minute * MINUTE / bucket * bucket;
                *by_bucket.entry(start).or_default() += v.value();
            } else {
                *sums.entry(value.to_string()).or_default() += v.value();
            }
        }
        if k == kind::TIME {
            return Ok(by_bucket
                .into_iter()
                .map(|(s, c)| (s.to_string(), c))
                .collect());
        }
        let mut out: Vec<(String, u64)> = sums.into_iter().collect();
        out.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        Ok(out)
    }

    /// The event time of a rule's newest alert.
    pub(crate) fn rule_last_hit(&self, sid: u32) -> Result<Option<u64>> {
        let txn = self.db.begin_read()?;
        let t = txn.open_table(BY_RULE)?;
        let last = t
            .range((sid, 0u64, 0u64)..=(sid, u64::MAX, u64::MAX))?
            .next_back();
        match last {
            Some(e) => Ok(Some(e?.0.value().1)),
            None => Ok(None),
        }
    }

    /// Every asset, by address.
    pub(crate) fn assets(&self) -> Result<Vec<Asset>> {
        let txn = self.db.begin_read()?;
        let t = txn.open_table(ASSETS)?;
        let mut out = Vec::new();
        for e in t.iter()? {
            let (_, v) = e?;
            if let Ok(a) = serde_json::from_slice(v.value()) {
                out.push(a);
            }
        }
        Ok(out)
    }

    /// One asset.
    pub(crate) fn asset(&self, ip: &str) -> Result<Option<Asset>> {
        let txn = self.db.begin_read()?;
        let t = txn.open_table(ASSETS)?;
        Ok(t.get(ip)?
            .and_then(|g| serde_json::from_slice(g.value()).ok()))
    }

    /// Every sensor that sent something.
    pub(crate) fn sensors(&self) -> Result<Vec<SensorRecord>> {
        let txn = self.db.begin_read()?;
        let t = txn.open_table(SENSORS)?;
        let mut out = Vec::new();
        for e in t.iter()? {
            let (_, v) = e?;
            if let Ok(s) = serde_json::from_slice(v.value()) {
                out.push(s);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_insensitive_search() {
        assert!(contains_ci(b"Force Listen Only", b"listen"));
        assert!(!contains_ci(b"Force", b"forcex"));
        assert!(contains_ci(b"", b""));
    }
}
