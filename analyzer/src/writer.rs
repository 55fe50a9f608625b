//! The one thread that writes to the store.
//!
//! Requests (ingest batches, state changes, retention) arrive on a bounded
//! channel; the thread takes every request waiting, applies them in one
//! transaction, commits it durably, and only then answers each request, so
//! an acknowledged batch survives a crash and concurrent sensors share one
//! fsync. After the commit it publishes the new alerts to the live stream
//! and the new last id to the exporters.
//!
//! A commit that fails on the file system (a full disk, an I/O error) leaves
//! redb refusing every later operation, so the writer reopens the store at
//! once (reads go on, from the last commit), answers the failed requests and
//! every later one with `store write failed: CAUSE; retrying` (a 503) and
//! tries again after [`RETRY_FIRST`], doubling up to [`RETRY_MAX`]; after a
//! full disk only once a probe file of [`PROBE_BYTES`] can be written. The
//! first success ends the failing state. Each change of state is said once
//! on stderr and shown by `/healthz`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::{broadcast, mpsc, oneshot, watch};

use crate::ingest::{parse_batch, Batch};
use crate::metrics::{label, Metrics};
use crate::record::State;
use crate::store::{apply_delta, Deltas, IngestReport, Store, StoreError, WriteTables};
use crate::time::now_micros;
use crate::{StateReport, WriteError};

/// A stored alert as published to the live stream.
#[derive(Debug)]
pub(crate) struct Published {
    pub(crate) id: u64,
    pub(crate) record: Vec<u8>,
}

/// What retention deleted.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RetentionReport {
    /// Alerts deleted because they were received longer ago than the age limit.
    pub by_age: u64,
    /// Alerts deleted to bring the store's live data under its size limit.
    pub by_size: u64,
    /// Per export (by name): deleted alerts it had not sent yet.
    pub missed: Vec<(String, u64)>,
}

impl RetentionReport {
    /// Adds the deletions of `other` to these.
    pub(crate) fn add(&mut self, other: &RetentionReport) {
        self.by_age += other.by_age;
        self.by_size += other.by_size;
        for (name, n) in &other.missed {
            match self.missed.iter_mut().find(|(k, _)| k == name) {
                Some((_, total)) => *total += n,
                None => self.missed.push((name.clone(), *n)),
            }
        }
    }
}

/// One retention request's work: at most [`RETENTION_CHUNK`] deletions.
#[derive(Debug, Default, Clone)]
pub(crate) struct RetentionChunk {
    pub(crate) report: RetentionReport,
    /// More is due: run again now.
    pub(crate) more: bool,
}

pub(crate) enum Op {
    Ingest {
        batch: Batch,
        reply: oneshot::Sender<Result<IngestReport, WriteError>>,
    },
    SetState {
        ids: Vec<u64>,
        state: State,
        by: String,
        note: String,
        reply: oneshot::Sender<Result<StateReport, WriteError>>,
    },
    SetGroupState {
        group: u64,
        state: State,
        by: String,
        note: String,
        reply: oneshot::Sender<Result<Option<StateReport>, WriteError>>,
    },
    Retention {
        max_age_us: u64,
        max_bytes: u64,
        reply: oneshot::Sender<Result<RetentionChunk, WriteError>>,
    },
    Stop,
}

enum Outcome {
    Ingest(IngestReport),
    State(StateReport),
    GroupState(Option<StateReport>),
    Retention(RetentionChunk),
    None,
}

/// Deletions per retention request (keeps each transaction short).
const RETENTION_CHUNK: u64 = 20_000;
/// Transactions' index chunks dropped per retention request.
const GC_TRANSACTIONS: u64 = 200;
/// How long the writer waits for batches being parsed to join a commit.
const GROUP_WAIT: std::time::Duration = std::time::Duration::from_millis(20);
/// Alerts per grouped transaction before the writer commits.
const GROUP_ALERTS: usize = 50_000;
/// While writes fail: the first retry after this long, then twice as long
/// after each failed retry, up to [`RETRY_MAX`].
const RETRY_FIRST: std::time::Duration = std::time::Duration::from_millis(500);
/// The longest wait between two retries of a failing store.
const RETRY_MAX: std::time::Duration = std::time::Duration::from_secs(15);
/// Bytes the writer must be able to write to a probe file in the data
/// directory before it retries a store whose disk was full.
const PROBE_BYTES: usize = 1 << 20;
/// The probe file (removed after each probe).
const PROBE_FILE: &str = "write-probe.tmp";

/// Writes failed: every request is answered with `reason` until a retry
/// succeeds.
struct Failing {
    /// `store write failed: CAUSE; retrying`.
    reason: String,
    /// The failure was a full disk (or quota): retries wait until a probe
    /// file can be written.
    full: bool,
    since: std::time::Instant,
    last_try: std::time::Instant,
    wait: std::time::Duration,
    /// Writes tried and failed.
    attempts: u64,
    /// Requests answered with `reason` without a write.
    refused: u64,
}

pub(crate) struct Hooks {
    pub(crate) stream: broadcast::Sender<Arc<Published>>,
    pub(crate) committed: watch::Sender<u64>,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) data_dir: std::path::PathBuf,
    /// Ingest requests being parsed or queued, not yet taken by the writer.
    pub(crate) incoming: Arc<AtomicUsize>,
    /// Where the exports are: retention counts the alerts it deletes
    /// before an export sent them.
    pub(crate) export_cursors: crate::export::Cursors,
}

/// Starts the writer thread.
pub(crate) fn spawn(
    store: Arc<Store>,
    mut rx: mpsc::Receiver<Op>,
    hooks: Hooks,
) -> std::thread::JoinHandle<()> {
    std::thread::Builder::new()
        .name("otwatch-store".into())
        .spawn(move || {
            let mut w = Writer {
                store,
                hooks,
                last_id: 0,
                buf: Vec::with_capacity(4096),
                failing: None,
            };
            w.last_id = w.store.last_id().unwrap_or(0);
            w.refresh_gauges();
            while let Some(first) = rx.blocking_recv() {
                let incoming = w.hooks.incoming.clone();
                let take = |op: Op, ops: &mut Vec<Op>| {
                    let n = match &op {
                        Op::Ingest { batch, .. } => {
                            incoming.fetch_sub(1, Ordering::AcqRel);
                            batch.alerts.len()
                        }
                        _ => 0,
                    };
                    ops.push(op);
                    n
                };
                let mut ops = Vec::new();
                let mut alerts = take(first, &mut ops);
                // Group what is queued, and what is being parsed right now
                // (other sensors' batches, up to `GROUP_WAIT`): one commit,
                // one fsync, one write of each index page for all of them.
                let started = std::time::Instant::now();
                while alerts < GROUP_ALERTS && !matches!(ops.last(), Some(Op::Stop)) {
                    match rx.try_recv() {
                        Ok(op) => alerts += take(op, &mut ops),
                        Err(_)
                            if incoming.load(Ordering::Acquire) > 0
                                && started.elapsed() < GROUP_WAIT =>
                        {
                            std::thread::sleep(std::time::Duration::from_micros(200));
                        }
                        Err(_) => break,
                    }
                }
                let stop = matches!(ops.last(), Some(Op::Stop));
                w.run(ops);
                if stop {
                    break;
                }
            }
        })
        .unwrap_or_else(|e| panic!("cannot start the store thread: {e}"))
}

struct Writer {
    store: Arc<Store>,
    hooks: Hooks,
    last_id: u64,
    buf: Vec<u8>,
    failing: Option<Failing>,
}

impl Writer {
    fn next_id(&mut self, now: u64) -> u64 {
        self.last_id = (self.last_id + 1).max(now << 8);
        self.last_id
    }

    fn refresh_gauges(&self) {
        let m = &self.hooks.metrics;
        // Kept as they were when the store cannot be read.
        if let Ok(n) = self.store.count("total") {
            m.store_alerts.set(n as i64);
        }
        if let Ok(n) = self.store.count("bytes") {
            m.store_bytes.set(n as i64);
        }
        if let Ok(n) = self.store.count("groups") {
            m.store_groups.set(n as i64);
        }
        if let Ok(n) = self.store.count("gstate:2") {
            let all = self.store.count("groups").unwrap_or(0);
            m.open_groups.set(all.saturating_sub(n) as i64);
        }
        m.store_file_bytes
            .set(Store::file_size(&self.hooks.data_dir) as i64);
    }

    /// Whether a failing store may be tried again now.
    fn may_retry(&self) -> bool {
        let Some(f) = &self.failing else {
            return true;
        };
        if f.last_try.elapsed() < f.wait {
            return false;
        }
        !f.full || probe(self.store.dir())
    }

    /// After a failed write: reopen the store if the file system failed
    /// (redb refuses everything after that until reopened), record the
    /// failing state, say it once.
    fn failed(&mut self, e: &crate::store::StoreError) -> String {
        let m = &self.hooks.metrics;
        m.store_write_errors.inc();
        if !e.is_io() {
            // The data, not the disk: this request fails, the next ones are tried.
            return format!("store write failed: {}", e.message());
        }
        let reason = format!("store write failed: {}; retrying", e.cause());
        if let Err(re) = self.store.reopen() {
            // Reads fail too until a retry reopens it.
            eprintln!(
                "otwatch analyzer: cannot reopen the store in {}: {}",
                self.store.dir().display(),
                re.message()
            );
        }
        let now = std::time::Instant::now();
        let full = e.is_full();
        match &mut self.failing {
            Some(f) => {
                f.reason = reason.clone();
                f.full = full;
                f.last_try = now;
                f.wait = (f.wait * 2).min(RETRY_MAX);
                f.attempts += 1;
            }
            None => {
                eprintln!(
                    "otwatch analyzer: {reason} (data directory {}); ingest and state changes answer 503, reads go on",
                    self.store.dir().display()
                );
                self.failing = Some(Failing {
                    reason: reason.clone(),
                    full,
                    since: now,
                    last_try: now,
                    wait: RETRY_FIRST,
                    attempts: 1,
                    refused: 0,
                });
            }
        }
        m.store_failing.set(1);
        self.store.set_failure(Some(reason.clone()));
        reason
    }

    /// Opens the store again if an earlier reopen failed.
    fn ensure_open(&self) -> Result<(), StoreError> {
        if self.store.is_open() {
            Ok(())
        } else {
            self.store.reopen()
        }
    }

    /// After a successful write: leave the failing state, say it once.
    fn recovered(&mut self) {
        if let Some(f) = self.failing.take() {
            eprintln!(
                "otwatch analyzer: store writes work again after {:.1} s ({} failed writes, {} requests refused meanwhile)",
                f.since.elapsed().as_secs_f64(),
                f.attempts,
                f.refused
            );
            self.hooks.metrics.store_failing.set(0);
            self.store.set_failure(None);
        }
    }

    fn run(&mut self, ops: Vec<Op>) {
        let first_id = self.last_id;
        let mut published = Vec::new();
        let result = match self.failing {
            // Failing, and not time to retry: answer at once, touch nothing.
            Some(_) if !self.may_retry() => {
                let f = self.failing.as_mut().map(|f| {
                    f.refused += ops.len() as u64;
                    f.reason.clone()
                });
                Err(f.unwrap_or_default())
            }
            _ => match self
                .ensure_open()
                .and_then(|()| self.apply(&ops, &mut published))
            {
                Ok(outcomes) => {
                    self.recovered();
                    Ok(outcomes)
                }
                Err(e) => {
                    let why = self.failed(&e);
                    self.last_id = first_id.max(self.store.last_id().unwrap_or(first_id));
                    Err(why)
                }
            },
        };
        // Before any answer: a client that got one reads gauges that count it.
        self.refresh_gauges();
        let m = &self.hooks.metrics;
        if result.is_ok() {
            m.commits.inc();
        }
        for (i, op) in ops.into_iter().enumerate() {
            let out = result
                .as_ref()
                .map(|o| &o[i])
                .map_err(|e| WriteError::Store(e.clone()));
            match (op, out) {
                (Op::Ingest { reply, .. }, Ok(Outcome::Ingest(r))) => {
                    m.alerts_stored.inc_by(r.stored);
                    m.alerts_duplicate.inc_by(r.duplicates);
                    m.identity_changes.inc_by(r.identity_changes);
                    let _ = reply.send(Ok(r.clone()));
                }
                (Op::SetState { reply, .. }, Ok(Outcome::State(r))) => {
                    m.state_changes.inc_by(r.updated);
                    let _ = reply.send(Ok(r.clone()));
                }
                (Op::SetGroupState { reply, .. }, Ok(Outcome::GroupState(r))) => {
                    if let Some(r) = r {
                        m.state_changes.inc_by(r.updated);
                        m.group_state_changes.inc();
                    }
                    let _ = reply.send(Ok(r.clone()));
                }
                (Op::Retention { reply, .. }, Ok(Outcome::Retention(chunk))) => {
                    let r = &chunk.report;
                    m.alerts_deleted
                        .get_or_create(&label("reason", "age"))
                        .inc_by(r.by_age);
                    m.alerts_deleted
                        .get_or_create(&label("reason", "size"))
                        .inc_by(r.by_size);
                    for (name, n) in &r.missed {
                        m.export_skipped
                            .get_or_create(&label("exporter", name))
                            .inc_by(*n);
                    }
                    let _ = reply.send(Ok(chunk.clone()));
                }
                (Op::Ingest { reply, .. }, Err(e)) => {
                    let _ = reply.send(Err(e));
                }
                (Op::SetState { reply, .. }, Err(e)) => {
                    let _ = reply.send(Err(e));
                }
                (Op::SetGroupState { reply, .. }, Err(e)) => {
                    let _ = reply.send(Err(e));
                }
                (Op::Retention { reply, .. }, Err(e)) => {
                    let _ = reply.send(Err(e));
                }
                _ => {}
            }
        }
        if result.is_ok() {
            if self.hooks.stream.receiver_count() > 0 {
                for p in published {
                    let _ = self.hooks.stream.send(Arc::new(p));
                }
            }
            if self.last_id != first_id {
                self.hooks.committed.send_replace(self.last_id);
            }
        }
    }

    fn apply(
        &mut self,
        ops: &[Op],
        published: &mut Vec<Published>,
    ) -> Result<Vec<Outcome>, StoreError> {
        let txn = self.store.begin_write()?;
        let mut outcomes = Vec::with_capacity(ops.len());
        let new_groups;
        {
            let mut t = WriteTables::open(&txn)?;
            let mut d = Deltas::default();
            let want_stream = self.hooks.stream.receiver_count() > 0;
            for op in ops {
                let now = now_micros();
                let outcome = match op {
                    Op::Ingest { batch, .. } => {
                        let mut r = IngestReport {
                            assets: batch.assets.len() as u64,
                            stats: batch.stats.len() as u64,
                            ignored: batch.other,
                            ..Default::default()
                        };
                        let mut raised = Vec::new();
                        for a in &batch.assets {
                            if let Some(line) = t.merge_asset(a)? {
                                raised.push(serde_json::to_vec(&line)?);
                            }
                        }
                        let raised = if raised.is_empty() {
                            None
                        } else {
                            let body = raised.join(&b'\n');
                            parse_batch(&body).ok()
                        };
                        for a in batch
                            .alert_refs()
                            .chain(raised.iter().flat_map(Batch::alert_refs))
                        {
                            let id = self.next_id(now);
                            if t.insert_alert(&mut d, id, &a, now, &mut self.buf)? {
                                r.stored += 1;
                                if want_stream {
                                    published.push(Published {
                                        id,
                                        record: self.buf.clone(),
                                    });
                                }
                            } else {
                                r.duplicates += 1;
                            }
                        }
                        r.identity_changes = raised.map_or(0, |b| b.alerts.len() as u64);
                        for s in &batch.sensors {
                            let stats = batch
                                .stats
                                .iter()
                                .filter(|x| &x.sensor == s)
                                .max_by_key(|x| x.ts);
                            t.touch_sensor(s, now, stats)?;
                        }
                        Outcome::Ingest(r)
                    }
                    Op::SetState {
                        ids,
                        state,
                        by,
                        note,
                        ..
                    } => {
                        let mut r = StateReport::default();
                        for &id in ids {
                            if t.set_state(&mut d, id, *state, by, note, now, &mut self.buf)? {
                                r.updated += 1;
                            } else {
                                r.not_found.push(id);
                            }
                        }
                        Outcome::State(r)
                    }
                    Op::SetGroupState {
                        group,
                        state,
                        by,
                        note,
                        ..
                    } => {
                        if t.group_exists(&mut d, *group)? {
                            let mut r = StateReport::default();
                            for id in t.group_members(&d, *group)? {
                                if t.set_state(&mut d, id, *state, by, note, now, &mut self.buf)? {
                                    r.updated += 1;
                                }
                            }
                            Outcome::GroupState(Some(r))
                        } else {
                            Outcome::GroupState(None)
                        }
                    }
                    Op::Retention {
                        max_age_us,
                        max_bytes,
                        ..
                    } => {
                        let mut r = RetentionReport::default();
                        let mut exports = self.hooks.export_cursors.snapshot();
                        let mut missed = vec![0u64; exports.len()];
                        let cutoff = now.saturating_sub(*max_age_us);
                        let target = max_bytes / 10 * 9;
                        // The live size after this transaction's earlier changes.
                        let mut bytes = apply_delta(t.count("bytes")?, d.pending_bytes());
                        let mut over = bytes > *max_bytes;
                        while r.by_age + r.by_size < RETENTION_CHUNK {
                            let Some((id, received)) = t.oldest()? else {
                                break;
                            };
                            if received < cutoff {
                                r.by_age += 1;
                            } else if over && bytes > target {
                                r.by_size += 1;
                            } else {
                                break;
                            }
                            let before = d.pending_bytes();
                            t.delete_alert(&mut d, id)?;
                            for ((_, sent), n) in exports.iter().zip(&mut missed) {
                                *n += u64::from(id > *sent);
                            }
                            bytes =
                                bytes.saturating_sub((before - d.pending_bytes()).max(0) as u64);
                            over = over && bytes > target;
                        }
                        let mut more = r.by_age + r.by_size == RETENTION_CHUNK;
                        r.missed = exports
                            .drain(..)
                            .zip(missed)
                            .filter(|(_, n)| *n > 0)
                            .map(|((name, _), n)| (name, n))
                            .collect();
                        // Index chunks whose alerts are all gone now.
                        let oldest = t.oldest()?.map_or(self.last_id + 1, |(id, _)| id);
                        if t.drop_stale_chunks(oldest, GC_TRANSACTIONS)?.0 == GC_TRANSACTIONS {
                            more = true;
                        }
                        Outcome::Retention(RetentionChunk { report: r, more })
                    }
                    Op::Stop => Outcome::None,
                };
                outcomes.push(outcome);
            }
            new_groups = d.new_groups;
            t.flush(d)?;
            t.set_meta("last_id", self.last_id)?;
        }
        txn.commit()?;
        self.hooks.metrics.groups_created.inc_by(new_groups);
        Ok(outcomes)
    }
}

/// Whether [`PROBE_BYTES`] can be written to the data directory (the probe
/// file is removed either way).
fn probe(dir: &std::path::Path) -> bool {
    use std::io::Write;
    let path = dir.join(PROBE_FILE);
    let written = std::fs::File::create(&path)
        .and_then(|mut f| {
            f.write_all(&[0u8; 4096].repeat(PROBE_BYTES / 4096))?;
            f.sync_data()
        })
        .is_ok();
    let _ = std::fs::remove_file(&path);
    written
}
