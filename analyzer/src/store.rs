//! The alert store: one redb file under the data directory.
//!
//! Alerts are keyed by a `u64` id that grows with the time they were stored
//! (`received µs << 8`, kept strictly increasing), so retention by age and the
//! exports' cursors walk the primary table in order.
//!
//! The secondary indexes (event time, severity, protocol, rule, host) are
//! posting lists kept at two levels:
//!
//! * fresh: each transaction appends one list per indexed value it saw,
//!   keyed `(its first id, prefix)` (`INDEX_FRESH`), so its writes land at
//!   the end of one B-tree instead of dirtying a page per value;
//! * merged: every [`FRESH_TXNS`] transactions (or [`FRESH_ENTRIES`] entries)
//!   the fresh lists are merged per value into chunks keyed `(prefix, newest
//!   event time, its id)` (`INDEX`), split so that a chunk spans at most
//!   [`CHUNK_SPAN`] of event time and holds at most [`CHUNK_ENTRIES`].
//!
//! Every list holds packed `(event time, id)` pairs, newest first. Chunks of
//! one value may overlap in time (late alerts, spooled batches); a walk takes
//! the value's fresh lists and its merged chunks from [`CHUNK_SPAN`] above its
//! upper bound (as far as an overlapping chunk can reach), newest first, and
//! merges their entries through a heap. Retention deletes
//! alerts without touching the chunks: a walk skips ids that are gone, and a
//! chunk is dropped once every id it names is below the oldest alert
//! (`INDEX_GC` finds those). Triage states other than `new` have a plain
//! `(state, event time, id)` index, since they change one alert at a time.
//!
//! A filtered query walks the index of its most selective filter newest-first
//! and checks the other filters on each record's fixed header, never scanning
//! everything. Running totals per value (`COUNTS`) choose that index and serve
//! the rule hit counts; per-minute totals (`ROLLUP`) serve the charts.
//!
//! Alert groups (see [`crate::groups`]) live beside the alerts: `GROUPS`
//! by group id, the current group of each key in `GROUP_KEYS`, and
//! `(last seen, group id)` in `GROUP_BY_LAST` for the newest-first list;
//! each alert's record names its group, and a group's members are the
//! posting list of its own prefix.
//!
//! Every write goes through one writer thread (see [`crate::writer`]), which
//! groups concurrent requests into one transaction; readers use MVCC read
//! transactions and never wait for it.

use std::collections::HashMap;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError, RwLock};

use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};

use crate::assets::{self, Asset};
use crate::groups::{self, Group};
use crate::ingest::{AssetObs, StatsObs};
use crate::record::{RecordView, State};

pub(crate) const ALERTS: TableDefinition<'_, u64, &[u8]> = TableDefinition::new("alerts");
/// Posting chunks: `(prefix, newest event time, its id) → (ts, id)…` (see [`prefix`]).
pub(crate) const INDEX: TableDefinition<'_, (&[u8], u64, u64), &[u8]> =
    TableDefinition::new("index_chunks");
/// Fresh posting lists: `(first id of the transaction, prefix) → (ts, id)…`.
pub(crate) const INDEX_FRESH: TableDefinition<'_, (u64, &[u8]), &[u8]> =
    TableDefinition::new("index_fresh");
/// The chunks each merge wrote, by the largest id they name:
/// `id → (u16 prefix length, prefix, u64 ts, u64 id)…`.
pub(crate) const INDEX_GC: TableDefinition<'_, u64, &[u8]> = TableDefinition::new("index_gc");
/// Alerts in a state other than `new`: `(state, event time, id) → ()`.
pub(crate) const BY_STATE: TableDefinition<'_, (u8, u64, u64), ()> =
    TableDefinition::new("idx_triaged");
pub(crate) const DEDUP: TableDefinition<'_, &str, u64> = TableDefinition::new("dedup");
pub(crate) const COUNTS: TableDefinition<'_, &str, u64> = TableDefinition::new("counts");
pub(crate) const ROLLUP: TableDefinition<'_, (u8, u64, &str), u64> = TableDefinition::new("rollup");
pub(crate) const ASSETS: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("assets");
pub(crate) const SENSORS: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("sensors");
pub(crate) const META: TableDefinition<'_, &str, u64> = TableDefinition::new("meta");
/// Alert groups: `group id → Group` (see [`Group::encode`]).
pub(crate) const GROUPS: TableDefinition<'_, u64, &[u8]> = TableDefinition::new("groups");
/// The current group of each key (sensor, rule, source, destination).
pub(crate) const GROUP_KEYS: TableDefinition<'_, &str, u64> = TableDefinition::new("group_keys");
/// Groups by their newest member: `(last seen, group id) → ()`.
pub(crate) const GROUP_BY_LAST: TableDefinition<'_, (u64, u64), ()> =
    TableDefinition::new("group_by_last");

/// Bytes an alert costs beyond its record: index entries, de-duplication key,
/// per-minute totals, B-tree pages' slack. The `store` benchmark's 30-day
/// store (alerts sparse in time, the costlier case: about one posting chunk
/// and one rollup entry per indexed value per alert) measures ~1,400 bytes
/// of file per alert beyond its ~870-byte record; a dense live stream takes
/// less, so size-based retention errs on the side of deleting early.
pub(crate) const INDEX_OVERHEAD: u64 = 1400;

/// Event time one posting chunk may span (µs).
pub(crate) const CHUNK_SPAN: u64 = 1_000_000;
/// Entries one posting chunk may hold.
pub(crate) const CHUNK_ENTRIES: usize = 512;
/// Transactions whose fresh posting lists are merged together.
pub(crate) const FRESH_TXNS: u64 = 32;
/// Fresh entries that start a merge even before [`FRESH_TXNS`] transactions.
pub(crate) const FRESH_ENTRIES: u64 = 256 * 1024;
/// Alerts put into groups per transaction by [`Store::regroup`].
const REGROUP_CHUNK: usize = 20_000;
/// The layout version of the store, kept in `META` under `schema`.
const SCHEMA: u64 = 2;

/// Index prefixes: a tag byte, then the value.
pub(crate) mod prefix {
    /// Every alert (the event-time index).
    pub(crate) fn time(out: &mut Vec<u8>) {
        out.clear();
        out.push(b't');
    }
    /// Alerts of a severity.
    pub(crate) fn severity(out: &mut Vec<u8>, s: u8) {
        out.clear();
        out.extend_from_slice(&[b's', s]);
    }
    /// Alerts of a protocol.
    pub(crate) fn protocol(out: &mut Vec<u8>, p: &str) {
        out.clear();
        out.push(b'p');
        out.extend_from_slice(p.as_bytes());
    }
    /// Alerts of a rule.
    pub(crate) fn rule(out: &mut Vec<u8>, sid: u32) {
        out.clear();
        out.push(b'r');
        out.extend_from_slice(&sid.to_be_bytes());
    }
    /// Alerts from or to a host.
    pub(crate) fn host(out: &mut Vec<u8>, ip: &str) {
        out.clear();
        out.push(b'h');
        out.extend_from_slice(ip.as_bytes());
    }
    /// The members of a group.
    pub(crate) fn group(out: &mut Vec<u8>, id: u64) {
        out.clear();
        out.push(b'g');
        out.extend_from_slice(&id.to_be_bytes());
    }
}

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
pub struct StoreError {
    message: String,
    /// Set when the file system failed (a full disk, an I/O error): the
    /// database then refuses every later write until it is reopened.
    io: Option<std::io::ErrorKind>,
}

impl StoreError {
    /// A failure that is not an I/O error.
    pub fn new(message: impl Into<String>) -> StoreError {
        StoreError {
            message: message.into(),
            io: None,
        }
    }

    /// What failed.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Whether the file system failed (full, or an I/O error), as opposed
    /// to a problem with the data written.
    pub fn is_io(&self) -> bool {
        self.io.is_some()
    }

    /// Whether the file system is full (or over quota).
    pub(crate) fn is_full(&self) -> bool {
        matches!(
            self.io,
            Some(std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded)
        )
    }

    /// What an operator is told: the cause of an I/O failure in plain words.
    pub(crate) fn cause(&self) -> String {
        match self.io {
            Some(std::io::ErrorKind::StorageFull) => "no space left on device".to_owned(),
            Some(std::io::ErrorKind::QuotaExceeded) => "disk quota exceeded".to_owned(),
            _ => self.message.clone(),
        }
    }
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "store: {}", self.message)
    }
}

impl std::error::Error for StoreError {}

/// The I/O error kind inside a redb error, if it is one. A previous I/O
/// failure (the database latched it) counts as one.
fn io_kind(e: &redb::Error) -> Option<std::io::ErrorKind> {
    match e {
        redb::Error::Io(e) => Some(e.kind()),
        redb::Error::PreviousIo | redb::Error::DatabaseClosed => Some(std::io::ErrorKind::Other),
        _ => None,
    }
}

macro_rules! from_redb {
    ($($t:ty),*) => {$(
        impl From<$t> for StoreError {
            fn from(e: $t) -> Self {
                let e: redb::Error = e.into();
                StoreError { message: e.to_string(), io: io_kind(&e) }
            }
        }
    )*};
}
from_redb!(
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

impl From<redb::Error> for StoreError {
    fn from(e: redb::Error) -> Self {
        StoreError {
            message: e.to_string(),
            io: io_kind(&e),
        }
    }
}

impl From<std::io::Error> for StoreError {
    fn from(e: std::io::Error) -> Self {
        StoreError {
            message: e.to_string(),
            io: Some(e.kind()),
        }
    }
}

impl From<serde_json::Error> for StoreError {
    fn from(e: serde_json::Error) -> Self {
        StoreError::new(e.to_string())
    }
}

pub(crate) type Result<T> = std::result::Result<T, StoreError>;

/// The error of a read or write while [`Store::reopen`] runs or after it failed.
const REOPENING: &str = "the store is being reopened after a failed write; try again";

/// The database, and whether writes to it work.
///
/// After a failed write to its file (a full disk, an I/O error) redb
/// refuses every later operation on that handle, reads included, until the
/// database is closed and opened again. [`Store::reopen`] does that: the
/// last committed state is read back (nothing acknowledged is lost), reads
/// work again at once, and writes once the file system has room.
pub(crate) struct Store {
    dir: PathBuf,
    /// `None` only while [`Store::reopen`] runs or after it failed.
    db: RwLock<Option<Database>>,
    /// Why writes fail, and since when (µs); `None` while they work.
    failure: Mutex<Option<(String, u64)>>,
}

fn dedup_key(sensor: &str, alert_id: &str) -> String {
    let mut k = String::with_capacity(sensor.len() + alert_id.len() + 1);
    dedup_key_into(&mut k, sensor, alert_id);
    k
}

fn dedup_key_into(k: &mut String, sensor: &str, alert_id: &str) {
    k.clear();
    k.push_str(sensor);
    k.push('\0');
    k.push_str(alert_id);
}

impl Store {
    /// Opens (or creates) `DIR/alerts.redb`.
    pub(crate) fn open(dir: &Path) -> Result<Store> {
        crate::private_dir(dir)?;
        let db = Store::open_db(dir)?;
        // Alerts name hosts, commands and device identities: readable by
        // the analyzer's user only, like the API token beside them.
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(
                dir.join("alerts.redb"),
                std::fs::Permissions::from_mode(0o600),
            )?;
        }
        Ok(Store {
            dir: dir.to_path_buf(),
            db: RwLock::new(Some(db)),
            failure: Mutex::new(None),
        })
    }

    fn open_db(dir: &Path) -> Result<Database> {
        let db = Database::builder()
            .set_cache_size(256 << 20)
            .create(dir.join("alerts.redb"))?;
        let txn = db.begin_write()?;
        {
            let alerts = txn.open_table(ALERTS)?;
            let mut meta = txn.open_table(META)?;
            let schema = meta.get("schema")?.map(|g| g.value());
            match schema {
                Some(SCHEMA) => {}
                None if ReadableTableMetadata::is_empty(&alerts)? => {
                    meta.insert("schema", SCHEMA)?;
                    // A new store has no alert from before groups.
                    meta.insert("regrouped", u64::MAX)?;
                }
                found => {
                    return Err(StoreError::new(format!(
                        "{} was written by another version of otwatch (layout {}, this one reads {SCHEMA}); \
                         move it away to start a new store",
                        dir.join("alerts.redb").display(),
                        found.map_or("1".to_string(), |v| v.to_string()),
                    )))
                }
            }
            txn.open_table(INDEX)?;
            txn.open_table(INDEX_FRESH)?;
            txn.open_table(INDEX_GC)?;
            txn.open_table(BY_STATE)?;
            txn.open_table(DEDUP)?;
            txn.open_table(COUNTS)?;
            txn.open_table(ROLLUP)?;
            txn.open_table(ASSETS)?;
            txn.open_table(SENSORS)?;
            txn.open_table(GROUPS)?;
            txn.open_table(GROUP_KEYS)?;
            txn.open_table(GROUP_BY_LAST)?;
        }
        txn.commit()?;
        Ok(db)
    }

    fn handle(&self) -> std::sync::RwLockReadGuard<'_, Option<Database>> {
        // The slot is swapped whole: a panic elsewhere cannot leave it half-written.
        self.db.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether a database is open (false after a failed [`Store::reopen`]).
    pub(crate) fn is_open(&self) -> bool {
        self.handle().is_some()
    }

    /// A read transaction.
    pub(crate) fn begin_read(&self) -> Result<redb::ReadTransaction> {
        match self.handle().as_ref() {
            Some(db) => Ok(db.begin_read()?),
            None => Err(StoreError::new(REOPENING)),
        }
    }

    /// A write transaction (only the writer thread writes).
    pub(crate) fn begin_write(&self) -> Result<redb::WriteTransaction> {
        match self.handle().as_ref() {
            Some(db) => Ok(db.begin_write()?),
            None => Err(StoreError::new(REOPENING)),
        }
    }

    /// Closes the database and opens it again, after a failed write: redb
    /// recovers the last commit. Reads in progress on the old handle fail
    /// (they are answered with an error and may be retried). On failure the
    /// store has no database until the next successful call.
    pub(crate) fn reopen(&self) -> Result<()> {
        let old = self
            .db
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        // Closing releases the file's lock; the error of a database that
        // already failed says nothing new.
        if let Some(old) = old {
            let _ = old.close();
        }
        let db = Store::open_db(&self.dir)?;
        *self.db.write().unwrap_or_else(PoisonError::into_inner) = Some(db);
        Ok(())
    }

    /// Records that writes fail (`Some(why)`) or work again (`None`);
    /// returns whether that changed.
    pub(crate) fn set_failure(&self, why: Option<String>) -> bool {
        let mut f = self.failure.lock().unwrap_or_else(PoisonError::into_inner);
        let changed = f.is_some() != why.is_some();
        *f = match (f.take(), why) {
            (Some((_, since)), Some(why)) => Some((why, since)),
            (None, Some(why)) => Some((why, crate::time::now_micros())),
            (_, None) => None,
        };
        changed
    }

    /// Why writes fail and since when (µs since the epoch), or `None` when
    /// they work.
    pub(crate) fn failure(&self) -> Option<(String, u64)> {
        self.failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The data directory.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
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
    index: redb::Table<'t, (&'static [u8], u64, u64), &'static [u8]>,
    fresh: redb::Table<'t, (u64, &'static [u8]), &'static [u8]>,
    index_gc: redb::Table<'t, u64, &'static [u8]>,
    state: redb::Table<'t, (u8, u64, u64), ()>,
    dedup: redb::Table<'t, &'static str, u64>,
    counts: redb::Table<'t, &'static str, u64>,
    rollup: redb::Table<'t, (u8, u64, &'static str), u64>,
    assets: redb::Table<'t, &'static str, &'static [u8]>,
    sensors: redb::Table<'t, &'static str, &'static [u8]>,
    meta: redb::Table<'t, &'static str, u64>,
    groups: redb::Table<'t, u64, &'static [u8]>,
    group_keys: redb::Table<'t, &'static str, u64>,
    group_by_last: redb::Table<'t, (u64, u64), ()>,
    /// When fresh posting lists are merged: `(transactions, entries)`.
    pub(crate) merge_at: (u64, u64),
}

/// The per-transaction maps hash with FxHash: their keys come from
/// authenticated sensors and live for one transaction, so flooding
/// resistance buys nothing here.
type QuickMap<K, V> = rustc_hash::FxHashMap<K, V>;

/// Index prefix → `(event time, id)` of the alerts stored in this transaction.
type Postings = QuickMap<Box<[u8]>, Vec<(u64, u64)>>;

/// Count, rollup and index changes gathered during a transaction, written
/// once at its end.
///
/// Keys are built in scratch buffers and looked up by reference, so an alert
/// allocates only for a value not seen before in the transaction.
#[derive(Default)]
pub(crate) struct Deltas {
    counts: QuickMap<Box<str>, i64>,
    /// `(kind, minute)` → value → change.
    rollup: QuickMap<(u8, u64), QuickMap<Box<str>, i64>>,
    postings: Postings,
    /// The first id posted in this transaction.
    first_id: Option<u64>,
    scratch: String,
    key: Vec<u8>,
    dedup: String,
    /// The groups this transaction read or changed, by id.
    groups: QuickMap<u64, Touched>,
    /// Keys whose current group changed: key → group id.
    group_keys: QuickMap<Box<str>, u64>,
    group_key: String,
    /// Groups started in this transaction.
    pub(crate) new_groups: u64,
}

/// A group as one transaction has it.
struct Touched {
    group: Group,
    /// Its last seen time and state when the transaction read it (`None`:
    /// started in this transaction).
    before: Option<(u64, State)>,
    /// Its last member was deleted.
    deleted: bool,
}

/// A value in a count or rollup key, written without the formatting machinery
/// (this runs several times per stored alert).
trait KeyPart {
    fn push_to(self, out: &mut String);
}

impl KeyPart for &str {
    fn push_to(self, out: &mut String) {
        out.push_str(self);
    }
}

impl KeyPart for u32 {
    fn push_to(self, out: &mut String) {
        out.push_str(itoa::Buffer::new().format(self));
    }
}

impl KeyPart for u8 {
    fn push_to(self, out: &mut String) {
        out.push_str(itoa::Buffer::new().format(self));
    }
}

/// Adds `d` to `map[key]`, allocating the key only when it is new.
fn bump(map: &mut QuickMap<Box<str>, i64>, key: &str, d: i64) {
    match map.get_mut(key) {
        Some(v) => *v += d,
        None => {
            map.insert(key.into(), d);
        }
    }
}

impl Deltas {
    /// The change of the live-bytes total so far.
    pub(crate) fn pending_bytes(&self) -> i64 {
        self.counts.get("bytes").copied().unwrap_or(0)
    }

    /// Adds `d` to the running total `prefix` followed by `value`.
    fn count(&mut self, prefix: &str, value: impl KeyPart, d: i64) {
        self.scratch.clear();
        self.scratch.push_str(prefix);
        value.push_to(&mut self.scratch);
        bump(&mut self.counts, &self.scratch, d);
    }

    fn roll(&mut self, k: u8, minute: u64, v: impl KeyPart, d: i64) {
        self.scratch.clear();
        v.push_to(&mut self.scratch);
        bump(
            self.rollup.entry((k, minute)).or_default(),
            &self.scratch,
            d,
        );
    }

    /// Adds `(ts, id)` to the postings of the prefix in `self.key`.
    fn post_key(&mut self, ts: u64, id: u64) {
        match self.postings.get_mut(self.key.as_slice()) {
            Some(v) => v.push((ts, id)),
            None => {
                self.postings
                    .insert(self.key.as_slice().into(), vec![(ts, id)]);
            }
        }
    }

    /// Indexes a new alert.
    fn post(&mut self, r: &RecordView<'_>, id: u64) {
        self.first_id.get_or_insert(id);
        prefix::time(&mut self.key);
        self.post_key(r.ts, id);
        prefix::severity(&mut self.key, r.severity);
        self.post_key(r.ts, id);
        prefix::protocol(&mut self.key, r.protocol);
        self.post_key(r.ts, id);
        prefix::rule(&mut self.key, r.sid);
        self.post_key(r.ts, id);
        prefix::host(&mut self.key, r.src_ip);
        self.post_key(r.ts, id);
        if r.dest_ip != r.src_ip {
            prefix::host(&mut self.key, r.dest_ip);
            self.post_key(r.ts, id);
        }
        if r.group != 0 {
            prefix::group(&mut self.key, r.group);
            self.post_key(r.ts, id);
        }
    }

    /// Adds (`d = 1`) or removes (`d = -1`) an alert.
    fn alert(&mut self, r: &RecordView<'_>, stored_len: usize, d: i64) {
        let m = r.ts / MINUTE;
        bump(&mut self.counts, "total", d);
        bump(
            &mut self.counts,
            "bytes",
            d * (stored_len as i64 + INDEX_OVERHEAD as i64),
        );
        self.count("sev:", r.severity, d);
        self.count("proto:", r.protocol, d);
        self.count("rule:", r.sid, d);
        self.count("state:", r.state.code(), d);
        self.count("sensor:", r.sensor, d);
        self.count("host:", r.src_ip, d);
        self.roll(kind::TIME, m, "", d);
        self.roll(kind::SEVERITY, m, r.severity, d);
        self.roll(kind::PROTOCOL, m, r.protocol, d);
        self.roll(kind::RULE, m, r.sid, d);
        self.roll(kind::SENSOR, m, r.sensor, d);
        self.roll(kind::HOST, m, r.src_ip, d);
        if r.dest_ip != r.src_ip {
            self.count("host:", r.dest_ip, d);
            self.roll(kind::HOST, m, r.dest_ip, d);
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
            index: txn.open_table(INDEX)?,
            fresh: txn.open_table(INDEX_FRESH)?,
            index_gc: txn.open_table(INDEX_GC)?,
            state: txn.open_table(BY_STATE)?,
            dedup: txn.open_table(DEDUP)?,
            counts: txn.open_table(COUNTS)?,
            rollup: txn.open_table(ROLLUP)?,
            assets: txn.open_table(ASSETS)?,
            sensors: txn.open_table(SENSORS)?,
            meta: txn.open_table(META)?,
            groups: txn.open_table(GROUPS)?,
            group_keys: txn.open_table(GROUP_KEYS)?,
            group_by_last: txn.open_table(GROUP_BY_LAST)?,
            merge_at: (FRESH_TXNS, FRESH_ENTRIES),
        })
    }

    pub(crate) fn set_meta(&mut self, key: &str, v: u64) -> Result<()> {
        self.meta.insert(key, v)?;
        Ok(())
    }

    pub(crate) fn count(&self, key: &str) -> Result<u64> {
        Ok(self.counts.get(key)?.map(|v| v.value()).unwrap_or(0))
    }

    /// Appends this transaction's posting lists to the fresh level under
    /// `first_id`, and merges that level when it is due.
    fn write_fresh(&mut self, postings: Postings, first_id: u64) -> Result<()> {
        let mut value = Vec::new();
        let mut entries = 0;
        for (prefix, mut list) in postings {
            list.sort_unstable_by(|a, b| b.cmp(a));
            value.clear();
            for &(ts, id) in &list {
                value.extend_from_slice(&ts.to_le_bytes());
                value.extend_from_slice(&id.to_le_bytes());
            }
            entries += list.len() as u64;
            self.fresh.insert((first_id, &*prefix), value.as_slice())?;
        }
        let txns = self.meta.get("fresh_txns")?.map_or(0, |g| g.value()) + 1;
        let entries = self.meta.get("fresh_entries")?.map_or(0, |g| g.value()) + entries;
        if txns >= self.merge_at.0 || entries >= self.merge_at.1 {
            self.merge_fresh()
        } else {
            self.meta.insert("fresh_txns", txns)?;
            self.meta.insert("fresh_entries", entries)?;
            Ok(())
        }
    }

    /// Merges every fresh posting list into chunks per value.
    pub(crate) fn merge_fresh(&mut self) -> Result<()> {
        let mut merged = Postings::default();
        for e in self.fresh.iter()? {
            let (k, v) = e?;
            let (_, prefix) = k.value();
            let list = match merged.get_mut(prefix) {
                Some(list) => list,
                None => merged.entry(prefix.into()).or_default(),
            };
            list.extend(entries(v.value()));
        }
        self.fresh.retain(|_, _| false)?;
        self.meta.insert("fresh_txns", 0)?;
        self.meta.insert("fresh_entries", 0)?;
        self.write_postings(merged)
    }

    /// Writes posting chunks, and one `INDEX_GC` record listing them under
    /// the largest id they name.
    fn write_postings(&mut self, postings: Postings) -> Result<()> {
        let mut value = Vec::with_capacity(CHUNK_ENTRIES * 16);
        let mut written = Vec::new();
        let mut max_id = 0;
        for (prefix, mut entries) in postings {
            entries.sort_unstable_by(|a, b| b.cmp(a));
            let mut rest = entries.as_slice();
            while let Some(&(ts0, id0)) = rest.first() {
                let n = rest
                    .iter()
                    .take(CHUNK_ENTRIES)
                    .take_while(|(ts, _)| ts0 - ts <= CHUNK_SPAN)
                    .count();
                let (chunk, tail) = rest.split_at(n);
                value.clear();
                for &(ts, id) in chunk {
                    value.extend_from_slice(&ts.to_le_bytes());
                    value.extend_from_slice(&id.to_le_bytes());
                    max_id = max_id.max(id);
                }
                self.index.insert((&*prefix, ts0, id0), value.as_slice())?;
                // Prefixes are a tag and an address or protocol name: short.
                let len = prefix.len().min(usize::from(u16::MAX));
                written.extend_from_slice(&(len as u16).to_le_bytes());
                written.extend_from_slice(&prefix[..len]);
                written.extend_from_slice(&ts0.to_le_bytes());
                written.extend_from_slice(&id0.to_le_bytes());
                rest = tail;
            }
        }
        if !written.is_empty() {
            self.index_gc.insert(max_id, written.as_slice())?;
        }
        Ok(())
    }

    /// Drops the posting chunks of transactions whose alerts are all below
    /// `oldest` (deleted), `limit` transactions at most; returns how many
    /// transactions and chunks.
    pub(crate) fn drop_stale_chunks(&mut self, oldest: u64, limit: u64) -> Result<(u64, u64)> {
        let (mut done, mut chunks) = (0, 0);
        while done < limit {
            let Some((max_id, list)) = self
                .index_gc
                .first()?
                .map(|(k, v)| (k.value(), v.value().to_vec()))
            else {
                break;
            };
            if max_id >= oldest {
                break;
            }
            let mut rest = list.as_slice();
            while let Some((len, tail)) = rest.split_first_chunk::<2>() {
                let len = usize::from(u16::from_le_bytes(*len));
                if tail.len() < len + 16 {
                    break;
                }
                let (prefix, tail) = tail.split_at(len);
                let (ts, tail) = tail.split_at(8);
                let (id, tail) = tail.split_at(8);
                let ts = u64::from_le_bytes(ts.try_into().unwrap_or_default());
                let id = u64::from_le_bytes(id.try_into().unwrap_or_default());
                if self.index.remove((prefix, ts, id))?.is_some() {
                    chunks += 1;
                }
                rest = tail;
            }
            self.index_gc.remove(max_id)?;
            done += 1;
        }
        Ok((done, chunks))
    }

    /// Stores an alert unless its `(sensor, alert_id)` is stored already.
    pub(crate) fn insert_alert(
        &mut self,
        d: &mut Deltas,
        id: u64,
        a: &RecordView<'_>,
        received: u64,
        buf: &mut Vec<u8>,
    ) -> Result<bool> {
        let mut key = std::mem::take(&mut d.dedup);
        dedup_key_into(&mut key, a.sensor, a.alert_id);
        let first = self.dedup.insert(key.as_str(), id)?.map(|g| g.value());
        if let Some(first) = first {
            // A retried line: put the first id back.
            self.dedup.insert(key.as_str(), first)?;
        }
        d.dedup = key;
        if first.is_some() {
            return Ok(false);
        }
        let fresh = RecordView {
            received,
            state: State::New,
            state_at: 0,
            state_by: "",
            state_note: "",
            ..*a
        };
        let (group, inherited) = self.join_group(d, id, &fresh, true)?;
        let r = match &inherited {
            Some((by, note)) => RecordView {
                group,
                state: State::Acknowledged,
                state_at: received,
                state_by: by,
                state_note: note,
                ..fresh
            },
            None => RecordView { group, ..fresh },
        };
        r.encode(buf);
        self.alerts.insert(id, buf.as_slice())?;
        if r.state != State::New {
            self.state.insert((r.state.code(), r.ts, id), ())?;
        }
        d.post(&r, id);
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
        // The posting chunks keep naming the id until `drop_stale_chunks`.
        if r.state != State::New {
            self.state.remove((r.state.code(), r.ts, id))?;
        }
        if r.group != 0 {
            if let Some(t) = self.touch_group(d, r.group)? {
                t.group.remove(r.state);
                t.deleted = t.group.count == 0;
            }
        }
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
        if old.state != State::New {
            self.state.remove((old.state.code(), old.ts, id))?;
        }
        if state != State::New {
            self.state.insert((state.code(), old.ts, id), ())?;
        }
        if old.group != 0 {
            if let Some(t) = self.touch_group(d, old.group)? {
                t.group.changed(old.state, state, by, note, at);
            }
        }
        d.count("state:", old.state.code(), -1);
        d.count("state:", state.code(), 1);
        bump(
            &mut d.counts,
            "bytes",
            buf.len() as i64 - bytes.len() as i64,
        );
        Ok(true)
    }

    /// The group `id` in this transaction's cache, read from the table
    /// the first time; `None` when there is no such group.
    fn touch_group<'d>(&self, d: &'d mut Deltas, id: u64) -> Result<Option<&'d mut Touched>> {
        let t = match d.groups.entry(id) {
            std::collections::hash_map::Entry::Occupied(o) => o.into_mut(),
            std::collections::hash_map::Entry::Vacant(v) => {
                let Some(group) = self.groups.get(id)?.and_then(|g| Group::decode(g.value()))
                else {
                    return Ok(None);
                };
                let before = Some((group.last, group.state()));
                v.insert(Touched {
                    group,
                    before,
                    deleted: false,
                })
            }
        };
        Ok(Some(t).filter(|t| !t.deleted))
    }

    /// Whether group `id` exists.
    pub(crate) fn group_exists(&self, d: &mut Deltas, id: u64) -> Result<bool> {
        Ok(self.touch_group(d, id)?.is_some())
    }

    /// The group alert `id` belongs to: its key's current group when that
    /// takes it (see [`Group::accepts`]), else a new one. A new alert
    /// (`inherit`) joining an acknowledged group gets the group's last state
    /// change (it is stored acknowledged too); an alert put into a group
    /// later (see [`Store::regroup`]) keeps its own state.
    fn join_group(
        &self,
        d: &mut Deltas,
        id: u64,
        r: &RecordView<'_>,
        inherit: bool,
    ) -> Result<(u64, Option<(String, String)>)> {
        let mut key = std::mem::take(&mut d.group_key);
        groups::key_into(&mut key, r.sensor, r.sid, r.src_ip, r.dest_ip);
        let current = match d.group_keys.get(key.as_str()) {
            Some(g) => Some(*g),
            None => self.group_keys.get(key.as_str())?.map(|g| g.value()),
        };
        let mut becomes_current = true;
        if let Some(gid) = current {
            if let Some(t) = self.touch_group(d, gid)? {
                let g = &mut t.group;
                if g.accepts(r.ts) {
                    let inherited = (inherit && g.state() == State::Acknowledged)
                        .then(|| (g.state_by.clone(), g.state_note.clone()));
                    let state = if inherited.is_some() {
                        State::Acknowledged
                    } else {
                        r.state
                    };
                    g.add(id, &RecordView { state, ..*r });
                    d.group_key = key;
                    return Ok((gid, inherited));
                }
                // An alert older than the current group's span starts a
                // group of its own; the current one stays current.
                becomes_current = r.ts >= g.first;
            }
        }
        d.groups.insert(
            id,
            Touched {
                group: Group::new(id, r),
                before: None,
                deleted: false,
            },
        );
        d.new_groups += 1;
        if becomes_current {
            match d.group_keys.get_mut(key.as_str()) {
                Some(g) => *g = id,
                None => {
                    d.group_keys.insert(key.as_str().into(), id);
                }
            }
        }
        d.group_key = key;
        Ok((id, None))
    }

    /// The ids of group `id`'s members (this transaction's included),
    /// ascending.
    pub(crate) fn group_members(&self, d: &Deltas, id: u64) -> Result<Vec<u64>> {
        let mut p = Vec::new();
        prefix::group(&mut p, id);
        let mut out: Vec<u64> = d
            .postings
            .get(p.as_slice())
            .map(|l| l.iter().map(|e| e.1).collect())
            .unwrap_or_default();
        let mut from = 0u64;
        loop {
            let Some(first) = self.fresh.range((from, &[][..])..)?.next() else {
                break;
            };
            let seq = first?.0.value().0;
            if let Some(v) = self.fresh.get((seq, p.as_slice()))? {
                out.extend(entries(v.value()).map(|e| e.1));
            }
            let Some(next) = seq.checked_add(1) else {
                break;
            };
            from = next;
        }
        for e in self
            .index
            .range((p.as_slice(), 0u64, 0u64)..=(p.as_slice(), u64::MAX, u64::MAX))?
        {
            let (_, v) = e?;
            out.extend(entries(v.value()).map(|e| e.1));
        }
        out.sort_unstable();
        out.dedup();
        Ok(out)
    }

    /// Writes the groups this transaction touched, their list entries,
    /// the keys' current groups and the group totals (`groups`,
    /// `gstate:CODE`).
    fn write_groups(&mut self, d: &mut Deltas) -> Result<()> {
        let mut json = Vec::new();
        for (id, t) in std::mem::take(&mut d.groups) {
            if let Some((last, _)) = t.before {
                if t.deleted || last != t.group.last {
                    self.group_by_last.remove((last, id))?;
                }
            }
            if let Some((_, state)) = t.before {
                d.count("gstate:", state.code(), -1);
            } else {
                bump(&mut d.counts, "groups", 1);
            }
            if t.deleted {
                self.groups.remove(id)?;
                bump(&mut d.counts, "groups", -1);
                let mut key = String::new();
                t.group.key_into(&mut key);
                let current = self.group_keys.get(key.as_str())?.map(|g| g.value());
                if current == Some(id) && !d.group_keys.contains_key(key.as_str()) {
                    self.group_keys.remove(key.as_str())?;
                }
                continue;
            }
            d.count("gstate:", t.group.state().code(), 1);
            t.group.encode(&mut json);
            self.groups.insert(id, json.as_slice())?;
            self.group_by_last.insert((t.group.last, id), ())?;
        }
        for (key, id) in std::mem::take(&mut d.group_keys) {
            self.group_keys.insert(&*key, id)?;
        }
        Ok(())
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

    /// Writes the gathered postings, groups and count changes.
    pub(crate) fn flush(&mut self, mut d: Deltas) -> Result<()> {
        self.write_groups(&mut d)?;
        if let Some(first_id) = d.first_id {
            self.write_fresh(d.postings, first_id)?;
        }
        for (k, delta) in d.counts {
            if delta == 0 {
                continue;
            }
            let k: &str = &k;
            let old = self.counts.get(k)?.map(|g| g.value()).unwrap_or(0);
            let new = apply_delta(old, delta);
            if new == 0 && k != "total" && k != "bytes" {
                self.counts.remove(k)?;
            } else {
                self.counts.insert(k, new)?;
            }
        }
        for ((k, m), values) in d.rollup {
            for (v, delta) in values {
                if delta == 0 {
                    continue;
                }
                let key = (k, m, &*v);
                let old = self.rollup.get(key)?.map(|g| g.value()).unwrap_or(0);
                let new = apply_delta(old, delta);
                if new == 0 {
                    self.rollup.remove(key)?;
                } else {
                    self.rollup.insert(key, new)?;
                }
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
    /// Members of this group only.
    pub group: Option<u64>,
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
            && self.group.is_none_or(|g| r.group == g)
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

/// A posting list or chunk: `((newest ts, its id), packed entries)`.
type Chunk = ((u64, u64), Vec<u8>);

/// Posting chunks newest-first.
type ChunkIter = Box<dyn Iterator<Item = Result<Chunk>>>;

/// Walks the posting chunks of one prefix newest-first within a span.
///
/// Chunks come in the order of their newest entry; entries of the chunks
/// loaded so far wait in a heap, and the heap's top is returned once no chunk
/// still to load can hold anything newer.
struct ChunkWalk {
    chunks: std::iter::Peekable<ChunkIter>,
    heap: std::collections::BinaryHeap<(u64, u64)>,
    span: Span,
}

/// The packed `(ts, id)` entries of a posting list.
fn entries(bytes: &[u8]) -> impl DoubleEndedIterator<Item = (u64, u64)> + '_ {
    bytes.chunks_exact(16).map(|e| {
        let (ts, id) = e.split_at(8);
        (
            u64::from_le_bytes(ts.try_into().unwrap_or_default()),
            u64::from_le_bytes(id.try_into().unwrap_or_default()),
        )
    })
}

/// The fresh posting lists of `prefix` that may hold entries in `span`, as
/// `((newest ts, its id), entries)` newest first.
fn fresh_lists(txn: &redb::ReadTransaction, prefix: &[u8], span: Span) -> Result<Vec<Chunk>> {
    let table = txn.open_table(INDEX_FRESH)?;
    let mut out = Vec::new();
    let mut from = 0u64;
    // One list per transaction at most: step from transaction to transaction.
    while let Some(first) = table.range((from, &[][..])..)?.next() {
        let seq = first?.0.value().0;
        if let Some(v) = table.get((seq, prefix))? {
            let bytes = v.value();
            let newest = entries(bytes).next();
            let oldest = entries(bytes).next_back();
            if let (Some(newest), Some(oldest)) = (newest, oldest) {
                let below_top = match span.hi {
                    Bound::Included(h) => oldest <= h,
                    Bound::Excluded(h) => oldest < h,
                    Bound::Unbounded => true,
                };
                if newest >= span.lo && below_top {
                    out.push((newest, bytes.to_vec()));
                }
            }
        }
        let Some(next) = seq.checked_add(1) else {
            break;
        };
        from = next;
    }
    out.sort_unstable_by_key(|c| std::cmp::Reverse(c.0));
    Ok(out)
}

impl ChunkWalk {
    fn open(txn: &redb::ReadTransaction, prefix: &[u8], span: Span) -> Result<KeyIter> {
        let mut fresh = fresh_lists(txn, prefix, span)?.into_iter().peekable();
        let table = txn.open_table(INDEX)?;
        // A chunk that overlaps the span has its newest entry at most
        // `CHUNK_SPAN` above the span's top.
        let top = match span.hi {
            Bound::Included((t, _)) | Bound::Excluded((t, _)) => t.saturating_add(CHUNK_SPAN),
            Bound::Unbounded => u64::MAX,
        };
        let p = prefix.to_vec();
        let range = table.range((p.as_slice(), span.lo.0, 0u64)..=(p.as_slice(), top, u64::MAX))?;
        let mut merged = range
            .rev()
            .map(|e| {
                let (k, v) = e?;
                let (_, ts, id) = k.value();
                Ok(((ts, id), v.value().to_vec()))
            })
            .peekable();
        // Both levels newest first, by each list's newest entry.
        let chunks: ChunkIter = Box::new(std::iter::from_fn(move || {
            let take_fresh = match (fresh.peek(), merged.peek()) {
                (Some(f), Some(Ok(m))) => f.0 > m.0,
                (Some(_), None) => true,
                _ => false,
            };
            if take_fresh {
                fresh.next().map(Ok)
            } else {
                merged.next()
            }
        }));
        Ok(Box::new(ChunkWalk {
            chunks: chunks.peekable(),
            heap: Default::default(),
            span,
        }))
    }

    fn in_span(&self, k: (u64, u64)) -> bool {
        k >= self.span.lo
            && match self.span.hi {
                Bound::Included(h) => k <= h,
                Bound::Excluded(h) => k < h,
                Bound::Unbounded => true,
            }
    }
}

impl Iterator for ChunkWalk {
    type Item = Result<(u64, u64)>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let top = self.heap.peek().copied();
            let load = match self.chunks.peek() {
                None => false,
                Some(Err(_)) => return self.chunks.next().map(|r| r.map(|(k, _)| k)),
                Some(Ok((newest, _))) => top.is_none_or(|t| *newest > t),
            };
            if !load {
                return self.heap.pop().map(Ok);
            }
            if let Some(Ok((_, bytes))) = self.chunks.next() {
                for k in entries(&bytes) {
                    if self.in_span(k) {
                        self.heap.push(k);
                    }
                }
            }
        }
    }
}

/// One page of a query.
pub(crate) struct Page {
    /// `(id, stored bytes)` newest first.
    pub(crate) alerts: Vec<(u64, Vec<u8>)>,
    /// Where the next page starts, when there may be more.
    pub(crate) next: Option<(u64, u64)>,
}

/// A group as read: its id, the group, its newest member's stored bytes.
pub(crate) struct GroupRow {
    pub(crate) id: u64,
    pub(crate) group: Group,
    pub(crate) latest: Option<Vec<u8>>,
}

/// One page of groups.
pub(crate) struct GroupPage {
    /// Newest last seen first.
    pub(crate) groups: Vec<GroupRow>,
    /// Where the next page starts, when there may be more.
    pub(crate) next: Option<(u64, u64)>,
}

fn group_row(
    groups: &impl ReadableTable<u64, &'static [u8]>,
    alerts: &impl ReadableTable<u64, &'static [u8]>,
    id: u64,
) -> Result<Option<GroupRow>> {
    let Some(group) = groups.get(id)?.and_then(|g| Group::decode(g.value())) else {
        return Ok(None);
    };
    let latest = alerts.get(group.latest)?.map(|g| g.value().to_vec());
    Ok(Some(GroupRow { id, group, latest }))
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
        let txn = self.begin_read()?;
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
        // Only triaged states are indexed; `new` is most alerts anyway.
        if !f.state.is_empty() && !f.state.contains(&State::New) {
            consider(
                f.state
                    .iter()
                    .map(|s| count(format!("state:{}", s.code())))
                    .sum::<Result<u64>>()?,
                7,
            );
        }
        drop(counts);
        let mut p = Vec::new();
        let mut walk = |fill: &dyn Fn(&mut Vec<u8>)| {
            fill(&mut p);
            ChunkWalk::open(&txn, &p, span)
        };
        let iters: Vec<KeyIter> = match best.1 {
            1 => f
                .severity
                .iter()
                .map(|s| walk(&|p| prefix::severity(p, *s)))
                .collect::<Result<_>>()?,
            2 => f
                .protocol
                .iter()
                .map(|s| walk(&|p| prefix::protocol(p, s)))
                .collect::<Result<_>>()?,
            3 => f
                .rule
                .iter()
                .map(|s| walk(&|p| prefix::rule(p, *s)))
                .collect::<Result<_>>()?,
            4..=6 => {
                let list = match best.1 {
                    4 => &f.host,
                    5 => &f.src_ip,
                    _ => &f.dest_ip,
                };
                list.iter()
                    .map(|s| walk(&|p| prefix::host(p, s)))
                    .collect::<Result<_>>()?
            }
            7 => {
                let table = txn.open_table(BY_STATE)?;
                f.state
                    .iter()
                    .map(|s| {
                        let c = s.code();
                        let lo = Bound::Included((c, span.lo.0, span.lo.1));
                        let hi = match span.hi {
                            Bound::Included((t, i)) => Bound::Included((c, t, i)),
                            Bound::Excluded((t, i)) => Bound::Excluded((c, t, i)),
                            Bound::Unbounded => Bound::Included((c, u64::MAX, u64::MAX)),
                        };
                        let range = table.range((lo, hi))?;
                        Ok(Box::new(range.rev().map(|e| {
                            let (k, _) = e?;
                            let (_, ts, id) = k.value();
                            Ok((ts, id))
                        })) as KeyIter)
                    })
                    .collect::<Result<_>>()?
            }
            _ => vec![walk(&prefix::time)?],
        };
        // A group's members are its own posting list, the smallest there is.
        let iters = match f.group {
            Some(g) => vec![walk(&|p| prefix::group(p, g))?],
            None => iters,
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

    /// Puts the alerts stored before groups existed (version 1 records,
    /// without a group) into groups as if they had just arrived, oldest
    /// first, keeping their states, [`REGROUP_CHUNK`] alerts a transaction.
    /// Where it is stays in `META` (`regrouped`, the last id done;
    /// `u64::MAX` once finished), so an upgrade that is interrupted goes on
    /// at the next start. Returns how many alerts were put into groups.
    pub(crate) fn regroup(&self) -> Result<u64> {
        let mut total = 0;
        loop {
            let txn = self.begin_write()?;
            let finished;
            {
                let mut t = WriteTables::open(&txn)?;
                let from = t.meta.get("regrouped")?.map_or(0, |g| g.value());
                if from == u64::MAX {
                    return Ok(total);
                }
                let mut rows = Vec::new();
                for e in t
                    .alerts
                    .range((Bound::Excluded(from), Bound::Unbounded))?
                    .take(REGROUP_CHUNK)
                {
                    let (k, v) = e?;
                    rows.push((k.value(), v.value().to_vec()));
                }
                finished = rows.len() < REGROUP_CHUNK;
                let mut d = Deltas::default();
                let mut buf = Vec::new();
                for (id, bytes) in &rows {
                    let Some(r) = RecordView::decode(bytes) else {
                        continue;
                    };
                    if r.group != 0 {
                        continue;
                    }
                    let (group, _) = t.join_group(&mut d, *id, &r, false)?;
                    let r = RecordView { group, ..r };
                    r.encode(&mut buf);
                    t.alerts.insert(*id, buf.as_slice())?;
                    d.first_id.get_or_insert(*id);
                    prefix::group(&mut d.key, group);
                    d.post_key(r.ts, *id);
                    bump(
                        &mut d.counts,
                        "bytes",
                        buf.len() as i64 - bytes.len() as i64,
                    );
                    total += 1;
                }
                let next = match rows.last() {
                    Some((id, _)) if !finished => *id,
                    _ => u64::MAX,
                };
                t.flush(d)?;
                t.set_meta("regrouped", next)?;
            }
            txn.commit()?;
            if finished {
                return Ok(total);
            }
        }
    }

    /// Group `id` and its newest member's stored bytes (when still stored).
    pub(crate) fn group(&self, id: u64) -> Result<Option<GroupRow>> {
        let txn = self.begin_read()?;
        let groups = txn.open_table(GROUPS)?;
        let alerts = txn.open_table(ALERTS)?;
        group_row(&groups, &alerts, id)
    }

    /// The groups that pass `f` (see [`Group::matches`]), newest last seen
    /// first, `limit` from below `cursor` (`(last seen, group id)`).
    pub(crate) fn query_groups(
        &self,
        f: &Filter,
        cursor: Option<(u64, u64)>,
        limit: usize,
    ) -> Result<GroupPage> {
        let txn = self.begin_read()?;
        let by_last = txn.open_table(GROUP_BY_LAST)?;
        let groups = txn.open_table(GROUPS)?;
        let alerts = txn.open_table(ALERTS)?;
        let lo = Bound::Included((f.from.unwrap_or(0), 0));
        let hi = match cursor {
            Some(c) => Bound::Excluded(c),
            None => Bound::Unbounded,
        };
        let mut page = GroupPage {
            groups: Vec::new(),
            next: None,
        };
        if matches!(hi, Bound::Excluded(c) if c <= (f.from.unwrap_or(0), 0)) {
            return Ok(page);
        }
        let mut last_key = None;
        for (examined, e) in by_last.range((lo, hi))?.rev().enumerate() {
            let (k, _) = e?;
            let key = k.value();
            if page.groups.len() == limit || examined == SCAN_BUDGET {
                page.next = last_key;
                return Ok(page);
            }
            last_key = Some(key);
            let Some(row) = group_row(&groups, &alerts, key.1)? else {
                continue;
            };
            let latest = row.latest.as_deref().and_then(RecordView::decode);
            if row.group.matches(f, latest.as_ref()) {
                page.groups.push(row);
            }
        }
        Ok(page)
    }

    /// One alert's stored bytes.
    pub(crate) fn get(&self, id: u64) -> Result<Option<Vec<u8>>> {
        let txn = self.begin_read()?;
        let t = txn.open_table(ALERTS)?;
        Ok(t.get(id)?.map(|g| g.value().to_vec()))
    }

    /// Alerts stored after `id` (exports, stream resume), oldest first.
    pub(crate) fn after(&self, id: u64, limit: usize) -> Result<Vec<(u64, Vec<u8>)>> {
        let txn = self.begin_read()?;
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

    /// How many alerts are stored after `id` (an export's backlog), and the
    /// id of the first of them.
    pub(crate) fn count_after(&self, id: u64) -> Result<(u64, Option<u64>)> {
        let txn = self.begin_read()?;
        let t = txn.open_table(ALERTS)?;
        let mut first = None;
        let mut n = 0u64;
        for e in t.range((Bound::Excluded(id), Bound::Unbounded))? {
            let (k, _) = e?;
            first.get_or_insert(k.value());
            n += 1;
        }
        Ok((n, first))
    }

    /// The newest id stored (0 when empty).
    pub(crate) fn last_id(&self) -> Result<u64> {
        let txn = self.begin_read()?;
        let t = txn.open_table(META)?;
        Ok(t.get("last_id")?.map(|g| g.value()).unwrap_or(0))
    }

    /// A running total (`total`, `bytes`, `sev:1`, `rule:110001`, …).
    pub(crate) fn count(&self, key: &str) -> Result<u64> {
        let txn = self.begin_read()?;
        let t = txn.open_table(COUNTS)?;
        Ok(t.get(key)?.map(|g| g.value()).unwrap_or(0))
    }

    /// Every running total whose key starts with `prefix` (prefix stripped).
    pub(crate) fn counts_with_prefix(&self, prefix: &str) -> Result<Vec<(String, u64)>> {
        let txn = self.begin_read()?;
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
        let txn = self.begin_read()?;
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
        let txn = self.begin_read()?;
        let mut p = Vec::new();
        prefix::rule(&mut p, sid);
        let span = Span {
            lo: (0, 0),
            hi: Bound::Unbounded,
        };
        let fresh = fresh_lists(&txn, &p, span)?.first().map(|l| l.0 .0);
        let t = txn.open_table(INDEX)?;
        let merged = t
            .range((p.as_slice(), 0u64, 0u64)..=(p.as_slice(), u64::MAX, u64::MAX))?
            .next_back()
            .transpose()?
            .map(|e| e.0.value().1);
        Ok(fresh.max(merged))
    }

    /// Every asset, by address.
    pub(crate) fn assets(&self) -> Result<Vec<Asset>> {
        let txn = self.begin_read()?;
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
        let txn = self.begin_read()?;
        let t = txn.open_table(ASSETS)?;
        Ok(t.get(ip)?
            .and_then(|g| serde_json::from_slice(g.value()).ok()))
    }

    /// Every sensor that sent something.
    pub(crate) fn sensors(&self) -> Result<Vec<SensorRecord>> {
        let txn = self.begin_read()?;
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

    /// A small deterministic generator (xorshift).
    fn next(seed: &mut u64) -> u64 {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        *seed
    }

    /// A test alert's fields.
    struct NewAlert {
        ts: u64,
        severity: u8,
        sid: u32,
        protocol: &'static str,
        src_ip: String,
        dest_ip: String,
        alert_id: String,
        json: String,
    }

    impl NewAlert {
        fn view(&self) -> RecordView<'_> {
            RecordView {
                ts: self.ts,
                received: 0,
                severity: self.severity,
                state: State::New,
                sid: self.sid,
                state_at: 0,
                group: 0,
                protocol: self.protocol,
                src_ip: &self.src_ip,
                dest_ip: &self.dest_ip,
                sensor: "s1",
                alert_id: &self.alert_id,
                state_by: "",
                state_note: "",
                json: self.json.as_bytes(),
            }
        }
    }

    fn alert(n: u64, ts: u64) -> NewAlert {
        NewAlert {
            ts,
            severity: 1 + (n % 3) as u8,
            sid: 100 + (n % 4) as u32,
            protocol: ["modbus", "dnp3"][(n % 2) as usize],
            src_ip: format!("10.0.0.{}", n % 5),
            dest_ip: format!("10.0.1.{}", n % 2),
            alert_id: format!("a-{n:06}"),
            json: format!("{{\"n\":{n}}}"),
        }
    }

    /// Every page of a query, by cursor, as `(ts, id)` keys.
    fn walk_pages(store: &Store, f: &Filter, limit: usize) -> Vec<(u64, u64)> {
        let mut out = Vec::new();
        let mut cursor = None;
        loop {
            let page = store.query(f, cursor, limit).expect("query");
            for (id, bytes) in &page.alerts {
                let r = RecordView::decode(bytes).expect("record");
                out.push((r.ts, *id));
            }
            match page.next {
                Some(c) => cursor = Some(c),
                None => return out,
            }
        }
    }

    #[test]
    fn a_new_data_directory_and_its_store_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().expect("tmp");
        let dir = tmp.path().join("data").join("analyzer");
        let store = Store::open(&dir).expect("open");
        let mode = |p: &Path| std::fs::metadata(p).expect("stat").permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join("alerts.redb")), 0o600);
        drop(store);
        // A store made readable by others is private again at the next open.
        std::fs::set_permissions(
            dir.join("alerts.redb"),
            std::fs::Permissions::from_mode(0o644),
        )
        .expect("chmod");
        let _store = Store::open(&dir).expect("reopen");
        assert_eq!(mode(&dir.join("alerts.redb")), 0o600);
    }

    #[test]
    fn overlapping_chunks_are_merged_newest_first_and_retention_drops_them() {
        let dir = tempfile::tempdir().expect("tmp");
        let store = Store::open(dir.path()).expect("open");
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut all: Vec<(u64, u64, NewAlert)> = Vec::new();
        let mut id = 1000u64;
        let base = 1_800_000_000_000_000u64;
        // Eight transactions: most alerts close together in time, some late
        // (up to 10 s old) so that chunks of one value overlap, some spread
        // widely so that one merge writes several chunks per value. Fresh
        // lists are merged every three transactions: the walks below read
        // both levels.
        for txn_no in 0..8u64 {
            let txn = store.begin_write().expect("txn");
            {
                let mut t = WriteTables::open(&txn).expect("tables");
                t.merge_at = (3, u64::MAX);
                let mut d = Deltas::default();
                let mut buf = Vec::new();
                for i in 0..300u64 {
                    let n = txn_no * 300 + i;
                    let jitter = next(&mut seed) % 10_000_000;
                    let ts = match n % 7 {
                        0 => base + txn_no * 5_000_000 - jitter,
                        1 => base + next(&mut seed) % 3_600_000_000,
                        _ => base + txn_no * 5_000_000 + i * 1_000,
                    };
                    id += 1;
                    let a = alert(n, ts);
                    assert!(t
                        .insert_alert(&mut d, id, &a.view(), id, &mut buf)
                        .expect("insert"));
                    all.push((ts, id, a));
                }
                t.flush(d).expect("flush");
            }
            txn.commit().expect("commit");
        }
        let expect = |f: &Filter, all: &[(u64, u64, NewAlert)]| {
            let mut v: Vec<(u64, u64)> = all
                .iter()
                .filter(|(ts, _, a)| {
                    (f.severity.is_empty() || f.severity.contains(&a.severity))
                        && (f.rule.is_empty() || f.rule.contains(&a.sid))
                        && (f.host.is_empty()
                            || f.host.iter().any(|h| *h == a.src_ip || *h == a.dest_ip))
                        && f.from.is_none_or(|x| *ts >= x)
                        && f.to.is_none_or(|x| *ts <= x)
                })
                .map(|(ts, id, _)| (*ts, *id))
                .collect();
            v.sort_unstable_by(|a, b| b.cmp(a));
            v
        };
        let filters = [
            Filter::default(),
            Filter {
                severity: vec![2],
                ..Default::default()
            },
            Filter {
                severity: vec![1, 3],
                from: Some(base + 4_000_000),
                to: Some(base + 30_000_000),
                ..Default::default()
            },
            Filter {
                rule: vec![101],
                ..Default::default()
            },
            Filter {
                host: vec!["10.0.0.3".into(), "10.0.1.1".into()],
                ..Default::default()
            },
        ];
        for f in &filters {
            let want = expect(f, &all);
            assert!(!want.is_empty());
            for limit in [7, 50, 1000] {
                assert_eq!(walk_pages(&store, f, limit), want, "{f:?} limit {limit}");
            }
        }
        let chunks = |store: &Store| {
            let txn = store.begin_read().expect("read");
            let t = txn.open_table(INDEX).expect("index");
            ReadableTableMetadata::len(&t).expect("len")
        };
        let fresh = |store: &Store| {
            let txn = store.begin_read().expect("read");
            let t = txn.open_table(INDEX_FRESH).expect("fresh");
            ReadableTableMetadata::len(&t).expect("len")
        };
        assert!(fresh(&store) > 0);
        assert_eq!(
            store.rule_last_hit(101).expect("last hit"),
            all.iter()
                .filter(|(_, _, a)| a.sid == 101)
                .map(|(ts, _, _)| *ts)
                .max()
        );
        let before = chunks(&store);
        // Retention: delete the 1,200 oldest ids, then drop their chunks.
        let txn = store.begin_write().expect("txn");
        let (txns, dropped) = {
            let mut t = WriteTables::open(&txn).expect("tables");
            let mut d = Deltas::default();
            for (_, id, _) in &all[..1200] {
                assert!(t.delete_alert(&mut d, *id).expect("delete"));
            }
            let oldest = t.oldest().expect("oldest").expect("some").0;
            assert_eq!(oldest, all[1200].1);
            let gc = t.drop_stale_chunks(oldest, u64::MAX).expect("gc");
            t.flush(d).expect("flush");
            gc
        };
        txn.commit().expect("commit");
        // The first merge (transactions 1 to 3) named only deleted alerts.
        assert_eq!(txns, 1);
        assert!(dropped > 0);
        assert_eq!(chunks(&store), before - dropped);
        let left = &all[1200..];
        for f in &filters {
            assert_eq!(
                walk_pages(&store, f, 50),
                expect(f, left),
                "{f:?} after retention"
            );
        }
        assert_eq!(store.count("total").expect("count"), left.len() as u64);
        // Merging fresh lists that name deleted alerts changes no answer.
        let txn = store.begin_write().expect("txn");
        WriteTables::open(&txn)
            .expect("tables")
            .merge_fresh()
            .expect("merge");
        txn.commit().expect("commit");
        assert_eq!(fresh(&store), 0);
        for f in &filters {
            assert_eq!(walk_pages(&store, f, 50), expect(f, left), "{f:?} merged");
        }
    }

    #[test]
    fn alerts_stored_before_groups_are_put_into_groups_at_the_next_start() {
        let dir = tempfile::tempdir().expect("tmp");
        let store = Store::open(dir.path()).expect("open");
        // Alerts as an older version stored them: no group, no group index,
        // one of them acknowledged; the store not yet regrouped.
        let hour = groups::WINDOW;
        let base = 1_800_000_000_000_000u64;
        let txn = store.begin_write().expect("txn");
        {
            let mut t = WriteTables::open(&txn).expect("tables");
            let mut buf = Vec::new();
            for n in 0..5u64 {
                let mut a = alert(0, base + n * 60_000_000);
                a.alert_id = format!("old-{n}");
                // The last one comes more than an hour after the others.
                if n == 4 {
                    a.ts = base + 3 * hour;
                }
                let mut r = a.view();
                if n == 1 {
                    r.state = State::Acknowledged;
                }
                r.encode(&mut buf);
                t.alerts.insert(1000 + n, buf.as_slice()).expect("insert");
            }
            t.meta.remove("regrouped").expect("meta");
        }
        txn.commit().expect("commit");
        assert_eq!(store.regroup().expect("regroup"), 5);
        assert_eq!(store.regroup().expect("again"), 0);
        let page = store
            .query_groups(&Filter::default(), None, 10)
            .expect("groups");
        let got: Vec<(u64, u64, [u64; 3])> = page
            .groups
            .iter()
            .map(|g| (g.id, g.group.count, g.group.states))
            .collect();
        assert_eq!(got, [(1004, 1, [1, 0, 0]), (1000, 4, [3, 1, 0])]);
        let members = store
            .query(
                &Filter {
                    group: Some(1000),
                    ..Default::default()
                },
                None,
                10,
            )
            .expect("members");
        let ids: Vec<u64> = members.alerts.iter().map(|(id, _)| *id).collect();
        assert_eq!(ids, [1003, 1002, 1001, 1000]);
        assert_eq!(store.count("groups").expect("count"), 2);
    }

    #[test]
    fn case_insensitive_search() {
        assert!(contains_ci(b"Force Listen Only", b"listen"));
        assert!(!contains_ci(b"Force", b"forcex"));
        assert!(contains_ci(b"", b""));
    }
}
