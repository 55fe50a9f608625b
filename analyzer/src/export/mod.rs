//! Exports of stored alerts: syslog receivers (RFC 5424 or CEF over UDP, TCP,
//! TLS or RELP) and an EVE JSON file with size-based rotation.
//!
//! The store is the spool: each export keeps a cursor (the id of the last
//! alert it handed over, in `DATA_DIR/export-NAME.cursor`) and reads the
//! alerts stored after it, oldest first, in batches. A batch that fails is
//! retried with exponential backoff (1 s up to 60 s) until it goes through,
//! so a SIEM that is down for a while misses nothing that retention kept.
//! The cursor moves only past what the receiver acknowledged (see
//! [`sink`] for what that means per transport): delivery is at least once,
//! and exactly once unless a connection fails while a batch is in flight.
//! UDP has no acknowledgement at all.
//!
//! Failures are logged once when an export starts failing (warn) and once
//! when it delivers again (info); the attempts between are debug events,
//! and every one counts in `otwatch_analyzer_export_errors_total`.

pub mod format;
mod outq;
mod relp;
mod sink;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::config::StartAt;
use crate::metrics::label;
use crate::Analyzer;

pub(crate) use sink::Sink;

/// Alerts read per batch.
const BATCH: usize = 500;

fn cursor_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("export-{name}.cursor"))
}

fn load_cursor(path: &Path) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

fn save_cursor(path: &Path, id: u64) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, format!("{id}\n"))?;
    std::fs::rename(&tmp, path)
}

/// Seconds since the alert with store id `id` was received (ids are the
/// receive time in microseconds shifted left by 8).
fn lag_seconds(id: u64) -> i64 {
    let received_us = id >> 8;
    let now_us = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX));
    i64::try_from(now_us.saturating_sub(received_us) / 1_000_000).unwrap_or(i64::MAX)
}

/// Each running export's name and the id of the last alert it handed over,
/// for retention to count what it deletes before an export sent it.
#[derive(Debug, Default, Clone)]
pub(crate) struct Cursors(Arc<Mutex<Vec<(String, u64)>>>);

impl Cursors {
    fn set(&self, name: &str, id: u64) {
        let mut list = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match list.iter_mut().find(|(n, _)| n == name) {
            Some(entry) => entry.1 = id,
            None => list.push((name.to_string(), id)),
        }
    }

    /// A copy of every export's cursor.
    pub(crate) fn snapshot(&self) -> Vec<(String, u64)> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// Starts one task per configured export. Their cursors are known (and
/// registered) before this returns, so retention never misses one.
pub(crate) fn start(a: &Analyzer) -> Vec<tokio::task::JoinHandle<()>> {
    let cfg = a.config();
    let mut exports: Vec<(String, StartAt, Sink)> = cfg
        .exports
        .syslog
        .iter()
        .map(|s| {
            (
                format!("syslog-{}", s.name),
                s.start,
                Sink::syslog(s.clone()),
            )
        })
        .collect();
    if let Some(e) = &cfg.exports.eve_file {
        exports.push(("eve-file".to_string(), e.start, Sink::eve_file(e.clone())));
    }
    let names: Vec<String> = exports.iter().map(|(n, _, _)| n.clone()).collect();
    a.metrics().preset(&names);
    exports
        .into_iter()
        .map(|(name, start, sink)| {
            let path = cursor_path(&cfg.data_dir, &name);
            let cursor = match load_cursor(&path) {
                Some(c) => c,
                None => {
                    let c = match start {
                        StartAt::Beginning => 0,
                        StartAt::End => a.store().last_id().unwrap_or(0),
                    };
                    let _ = save_cursor(&path, c);
                    c
                }
            };
            a.export_cursors().set(&name, cursor);
            tokio::spawn(run(a.clone(), name, path, cursor, sink))
        })
        .collect()
}

async fn run(a: Analyzer, name: String, path: PathBuf, mut cursor: u64, mut sink: Sink) {
    let m = a.metrics().clone();
    let labels = label("exporter", &name);
    let mut committed = a.committed();
    let mut stop = a.stopping();
    let mut backoff = Duration::from_secs(1);
    let mut deadline: Option<tokio::time::Instant> = None;
    // Since when, and how many attempts, the export has been failing.
    let mut failing: Option<(std::time::Instant, u32)> = None;
    let mut measured: Option<tokio::time::Instant> = None;
    loop {
        // Backlog and lag: after each failed attempt, else at most every
        // 10 s (counting walks the backlog).
        if failing.is_some() || measured.is_none_or(|t| t.elapsed() >= Duration::from_secs(10)) {
            measured = Some(tokio::time::Instant::now());
            let store = a.store().clone();
            let after = cursor;
            if let Ok(Ok((n, first))) =
                tokio::task::spawn_blocking(move || store.count_after(after)).await
            {
                m.export_backlog
                    .get_or_create(&labels)
                    .set(i64::try_from(n).unwrap_or(i64::MAX));
                m.export_lag
                    .get_or_create(&labels)
                    .set(first.map_or(0, lag_seconds));
            }
        }
        if deadline.is_none() && *stop.borrow() {
            // Shutting down: a few seconds to hand over what is left.
            deadline = Some(tokio::time::Instant::now() + Duration::from_secs(5));
        }
        if deadline.is_some_and(|d| tokio::time::Instant::now() >= d) {
            break;
        }
        let store = a.store().clone();
        let after = cursor;
        let batch = match tokio::task::spawn_blocking(move || store.after(after, BATCH)).await {
            Ok(Ok(b)) => b,
            _ => Vec::new(),
        };
        if batch.is_empty() {
            m.export_backlog.get_or_create(&labels).set(0);
            m.export_lag.get_or_create(&labels).set(0);
            if deadline.is_some() {
                break;
            }
            tokio::select! {
                _ = committed.changed() => {}
                _ = stop.wait_for(|s| *s) => {}
                _ = tokio::time::sleep(Duration::from_secs(5)) => {}
            }
            continue;
        }
        let d = sink.send(&batch).await;
        if d.delivered > 0 {
            cursor = batch[d.delivered - 1].0;
            a.export_cursors().set(&name, cursor);
            m.export_sent
                .get_or_create(&labels)
                .inc_by(d.delivered as u64);
            if let Err(e) = save_cursor(&path, cursor) {
                tracing::warn!("export {name}: cannot save cursor: {e}");
            }
        }
        match d.error {
            None => {
                backoff = Duration::from_secs(1);
                if let Some((since, attempts)) = failing.take() {
                    tracing::info!(
                        "export {name}: delivering again, after {attempts} failed attempts over {:.0?}",
                        since.elapsed()
                    );
                }
            }
            Some(e) => {
                m.export_errors.get_or_create(&labels).inc();
                match &mut failing {
                    None => {
                        tracing::warn!(
                            "export {name}: {e}; the alerts stay in the store and are retried"
                        );
                        failing = Some((std::time::Instant::now(), 1));
                    }
                    Some((_, attempts)) => {
                        *attempts += 1;
                        tracing::debug!("export {name}: {e}; retrying in {backoff:?}");
                    }
                }
                if deadline.is_some() {
                    break;
                }
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = stop.wait_for(|s| *s) => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(60));
            }
        }
    }
    sink.close().await;
}
