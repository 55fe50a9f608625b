//! Shipping of EVE lines to the analyzer, at least once.
//!
//! The pipeline hands lines to [`Shipper::send_line`], which never blocks: the
//! line goes onto a bounded channel (or is counted in `queue_full` when the
//! channel is full). One background thread takes lines off the channel, keeps
//! only the event types the analyzer stores (`alert`, `asset`, `stats` by
//! default), adds `"sensor"` (and an `"alert_id"` to an alert without one),
//! and appends them to an on-disk spool. Lines are grouped into sealed spool
//! segments of at most `batch_lines` lines / `batch_bytes` bytes, or after
//! `batch_wait`; each sealed segment is POSTed as one NDJSON batch to
//! `/api/v1/ingest` and deleted only after the analyzer answered 200. A
//! failure (connection refused, timeout, 5xx, 401) leaves it in the spool and
//! is retried with exponential backoff (with jitter) while new lines keep
//! being spooled; a 400 names the bad lines, which are dropped (counted in
//! `rejected`) before the rest is sent again. Segments left by an earlier
//! run are delivered first, so nothing is lost while the analyzer is down or
//! the sensor restarts; a retried batch is stored once by the analyzer
//! thanks to `alert_id`.
//!
//! The spool is bounded by `spool_max_bytes`: when it is full, the oldest
//! sealed segment is deleted and its lines are counted in `spool_dropped`.
//! [`Shipper::shutdown`] spools what is queued and tries to deliver everything
//! before its deadline; what is left stays in the spool for the next start.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Shipper settings.
#[derive(Debug, Clone)]
pub struct ShipConfig {
    /// Analyzer base URL (`http://10.0.0.5:8080`); `/api/v1/ingest` is appended.
    pub url: String,
    /// Bearer token accepted by the analyzer.
    pub token: String,
    /// This sensor's name, added to every line as `"sensor"`.
    pub sensor: String,
    /// Folder of the spool (created when missing).
    pub spool_dir: PathBuf,
    /// Bound of the spool on disk.
    pub spool_max_bytes: u64,
    /// Lines waiting between `send_line` and the spool.
    pub queue_lines: usize,
    /// Lines per batch at most.
    pub batch_lines: usize,
    /// Bytes per batch at most.
    pub batch_bytes: usize,
    /// A batch is sealed this long after its first line.
    pub batch_wait: Duration,
    /// First retry delay; doubles per failure up to `backoff_max`.
    pub backoff_initial: Duration,
    /// Longest retry delay.
    pub backoff_max: Duration,
    /// Timeout of one request.
    pub timeout: Duration,
    /// Event types shipped (others are dropped by the shipper).
    pub event_types: Vec<String>,
}

impl ShipConfig {
    /// Defaults: 256 MiB spool, batches of 1000 lines / 4 MiB / 1 s, backoff 0.25 s to 30 s.
    pub fn new(
        url: impl Into<String>,
        token: impl Into<String>,
        sensor: impl Into<String>,
        spool_dir: impl Into<PathBuf>,
    ) -> ShipConfig {
        ShipConfig {
            url: url.into(),
            token: token.into(),
            sensor: sensor.into(),
            spool_dir: spool_dir.into(),
            spool_max_bytes: 256 << 20,
            queue_lines: 10_000,
            batch_lines: 1000,
            batch_bytes: 4 << 20,
            batch_wait: Duration::from_secs(1),
            backoff_initial: Duration::from_millis(250),
            backoff_max: Duration::from_secs(30),
            timeout: Duration::from_secs(10),
            event_types: vec!["alert".into(), "asset".into(), "stats".into()],
        }
    }
}

/// Counters of a shipper.
#[derive(Debug, Default)]
struct Counters {
    accepted: AtomicU64,
    queue_full: AtomicU64,
    filtered: AtomicU64,
    invalid: AtomicU64,
    spooled: AtomicU64,
    spool_dropped: AtomicU64,
    delivered: AtomicU64,
    batches: AtomicU64,
    rejected: AtomicU64,
    failures: AtomicU64,
    spool_bytes: AtomicU64,
    pending_lines: AtomicU64,
}

impl Counters {
    /// `lines` lines taking `bytes` bytes of spool are no longer pending;
    /// `lost` counts them as dropped.
    fn gone(&self, lines: u64, bytes: u64, lost: bool) {
        self.pending_lines.fetch_sub(lines, Ordering::Relaxed);
        self.spool_bytes.fetch_sub(bytes, Ordering::Relaxed);
        if lost {
            self.spool_dropped.fetch_add(lines, Ordering::Relaxed);
        }
    }
}

/// A snapshot of a shipper's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ShipStats {
    /// Lines taken by `send_line`.
    pub accepted: u64,
    /// Lines refused because the queue was full.
    pub queue_full: u64,
    /// Lines of event types not shipped.
    pub filtered: u64,
    /// Lines that were not a JSON object (not shipped).
    pub invalid: u64,
    /// Lines written to the spool.
    pub spooled: u64,
    /// Spooled lines deleted unsent because the spool was full.
    pub spool_dropped: u64,
    /// Lines the analyzer acknowledged.
    pub delivered: u64,
    /// Batches the analyzer acknowledged.
    pub batches: u64,
    /// Lines the analyzer refused as invalid (dropped).
    pub rejected: u64,
    /// Failed deliveries (each retried).
    pub failures: u64,
    /// Bytes in the spool now.
    pub spool_bytes: u64,
    /// Lines in the spool or queue, not yet acknowledged.
    pub pending: u64,
}

enum Msg {
    Line(Vec<u8>),
    Flush(mpsc::Sender<()>),
    Stop(Instant),
}

/// The shipping client (see the module doc).
pub struct Shipper {
    tx: SyncSender<Msg>,
    counters: Arc<Counters>,
    thread: Option<JoinHandle<()>>,
}

impl Shipper {
    /// Opens the spool (delivering what an earlier run left) and starts the thread.
    pub fn start(config: ShipConfig) -> io::Result<Shipper> {
        fs::create_dir_all(&config.spool_dir)?;
        let counters = Arc::new(Counters::default());
        let (tx, rx) = mpsc::sync_channel(config.queue_lines.max(1));
        let mut worker = Worker::new(config, counters.clone())?;
        let thread = std::thread::Builder::new()
            .name("otwatch-ship".into())
            .spawn(move || worker.run(rx))?;
        Ok(Shipper {
            tx,
            counters,
            thread: Some(thread),
        })
    }

    /// Queues one EVE line (with or without its line break). Never blocks;
    /// returns false when the queue is full (the line is counted and dropped).
    pub fn send_line(&self, line: &[u8]) -> bool {
        let line = line.trim_ascii();
        if line.is_empty() {
            return true;
        }
        match self.tx.try_send(Msg::Line(line.to_vec())) {
            Ok(()) => {
                self.counters.accepted.fetch_add(1, Ordering::Relaxed);
                self.counters.pending_lines.fetch_add(1, Ordering::Relaxed);
                true
            }
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.counters.queue_full.fetch_add(1, Ordering::Relaxed);
                false
            }
        }
    }

    /// Seals the open batch now and waits until it is spooled (not delivered).
    pub fn flush(&self) {
        let (tx, rx) = mpsc::channel();
        if self.tx.send(Msg::Flush(tx)).is_ok() {
            let _ = rx.recv();
        }
    }

    /// The counters.
    pub fn stats(&self) -> ShipStats {
        let c = &self.counters;
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        ShipStats {
            accepted: g(&c.accepted),
            queue_full: g(&c.queue_full),
            filtered: g(&c.filtered),
            invalid: g(&c.invalid),
            spooled: g(&c.spooled),
            spool_dropped: g(&c.spool_dropped),
            delivered: g(&c.delivered),
            batches: g(&c.batches),
            rejected: g(&c.rejected),
            failures: g(&c.failures),
            spool_bytes: g(&c.spool_bytes),
            pending: g(&c.pending_lines),
        }
    }

    /// Spools everything queued and delivers until the spool is empty or
    /// `timeout` passed; the rest stays in the spool for the next start.
    pub fn shutdown(mut self, timeout: Duration) -> ShipStats {
        let _ = self.tx.send(Msg::Stop(Instant::now() + timeout));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.stats()
    }
}

impl Drop for Shipper {
    fn drop(&mut self) {
        if let Some(t) = self.thread.take() {
            let _ = self.tx.send(Msg::Stop(Instant::now()));
            let _ = t.join();
        }
    }
}

const OPEN: &str = "open.ndjson";

struct Segment {
    path: PathBuf,
    bytes: u64,
    lines: u64,
}

struct Worker {
    cfg: ShipConfig,
    counters: Arc<Counters>,
    agent: ureq::Agent,
    url: String,
    sealed: std::collections::VecDeque<Segment>,
    open: Option<(BufWriter<File>, u64, u64, Instant)>,
    next_seq: u64,
    ids: u64,
    boot: u64,
    backoff: Duration,
    retry_at: Instant,
}

fn segment_name(seq: u64) -> String {
    format!("{seq:016}.ndjson")
}

fn count_lines(path: &Path) -> io::Result<u64> {
    let mut buf = Vec::new();
    File::open(path)?.read_to_end(&mut buf)?;
    Ok(buf
        .split(|&b| b == b'\n')
        .filter(|l| !l.trim_ascii().is_empty())
        .count() as u64)
}

#[derive(serde::Deserialize)]
struct Probe<'a> {
    #[serde(borrow, default)]
    event_type: Option<std::borrow::Cow<'a, str>>,
    #[serde(default)]
    sensor: Option<serde::de::IgnoredAny>,
    #[serde(default)]
    alert_id: Option<serde::de::IgnoredAny>,
}

impl Worker {
    fn new(cfg: ShipConfig, counters: Arc<Counters>) -> io::Result<Worker> {
        if !cfg.url.starts_with("http://") {
            // Without this, every batch would fail and be retried forever.
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "the analyzer URL {:?} must be http://HOST:PORT (the sensor does not speak TLS \
                     to the analyzer: ship over a management network or through a tunnel)",
                    cfg.url
                ),
            ));
        }
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(cfg.timeout))
            .http_status_as_error(false)
            .build()
            .into();
        let url = format!("{}/api/v1/ingest", cfg.url.trim_end_matches('/'));
        let mut names: Vec<(u64, PathBuf)> = Vec::new();
        for e in fs::read_dir(&cfg.spool_dir)? {
            let p = e?.path();
            let Some(stem) = p
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".ndjson"))
            else {
                continue;
            };
            if let Ok(seq) = stem.parse::<u64>() {
                names.push((seq, p));
            }
        }
        names.sort();
        let mut next_seq = names.last().map_or(1, |n| n.0 + 1);
        // A batch that was open when the last run stopped is sealed now.
        let open_path = cfg.spool_dir.join(OPEN);
        if open_path.exists() {
            let to = cfg.spool_dir.join(segment_name(next_seq));
            fs::rename(&open_path, &to)?;
            names.push((next_seq, to));
            next_seq += 1;
        }
        let mut sealed = std::collections::VecDeque::new();
        let mut total = 0;
        let mut pending = 0;
        for (_, path) in names {
            let bytes = fs::metadata(&path)?.len();
            let lines = count_lines(&path)?;
            if lines == 0 {
                let _ = fs::remove_file(&path);
                continue;
            }
            total += bytes;
            pending += lines;
            sealed.push_back(Segment { path, bytes, lines });
        }
        counters.spool_bytes.store(total, Ordering::Relaxed);
        counters.pending_lines.store(pending, Ordering::Relaxed);
        let boot = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_micros() as u64)
            .unwrap_or(0);
        Ok(Worker {
            backoff: cfg.backoff_initial,
            cfg,
            counters,
            agent,
            url,
            sealed,
            open: None,
            next_seq,
            ids: 0,
            boot,
            retry_at: Instant::now(),
        })
    }

    fn run(&mut self, rx: Receiver<Msg>) {
        let mut stop_at = None;
        loop {
            // Take lines until the batch is due or a delivery can be tried.
            let wait = if stop_at.is_some() {
                Duration::ZERO
            } else if self.sealed.is_empty() {
                match &self.open {
                    Some((_, _, _, since)) => self.cfg.batch_wait.saturating_sub(since.elapsed()),
                    None => Duration::from_millis(500),
                }
            } else {
                self.retry_at.saturating_duration_since(Instant::now())
            };
            match rx.recv_timeout(wait) {
                Ok(Msg::Line(l)) => {
                    self.spool(&l);
                    // Take whatever else is queued without waiting.
                    while let Ok(m) = rx.try_recv() {
                        match m {
                            Msg::Line(l) => self.spool(&l),
                            Msg::Flush(done) => {
                                self.seal();
                                let _ = done.send(());
                            }
                            Msg::Stop(at) => stop_at = Some(at),
                        }
                    }
                }
                Ok(Msg::Flush(done)) => {
                    self.seal();
                    let _ = done.send(());
                }
                Ok(Msg::Stop(at)) => stop_at = Some(at),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    stop_at = Some(stop_at.unwrap_or_else(Instant::now))
                }
            }
            if self
                .open
                .as_ref()
                .is_some_and(|o| o.3.elapsed() >= self.cfg.batch_wait)
                || stop_at.is_some()
            {
                self.seal();
            }
            if let Some(deadline) = stop_at {
                while let Ok(m) = rx.try_recv() {
                    if let Msg::Line(l) = m {
                        self.spool(&l);
                    }
                }
                self.seal();
                while !self.sealed.is_empty() && Instant::now() < deadline {
                    if !self.deliver_one() {
                        let pause = self.retry_at.saturating_duration_since(Instant::now());
                        std::thread::sleep(
                            pause.min(deadline.saturating_duration_since(Instant::now())),
                        );
                    }
                }
                return;
            }
            while !self.sealed.is_empty() && Instant::now() >= self.retry_at {
                if !self.deliver_one() {
                    break;
                }
                // Keep the queue moving between batches.
                if let Ok(Msg::Line(l)) = rx.try_recv() {
                    self.spool(&l);
                }
            }
        }
    }

    /// Adds `sensor` (and `alert_id`) and appends the line to the open batch.
    fn spool(&mut self, line: &[u8]) {
        let probe: Probe<'_> = match serde_json::from_slice(line) {
            Ok(p) if line.last() == Some(&b'}') => p,
            _ => {
                self.counters.invalid.fetch_add(1, Ordering::Relaxed);
                self.counters.pending_lines.fetch_sub(1, Ordering::Relaxed);
                return;
            }
        };
        let et = probe.event_type.as_deref().unwrap_or("");
        if !self.cfg.event_types.iter().any(|t| t == et) {
            self.counters.filtered.fetch_add(1, Ordering::Relaxed);
            self.counters.pending_lines.fetch_sub(1, Ordering::Relaxed);
            return;
        }
        let mut out = Vec::with_capacity(line.len() + 96);
        out.extend_from_slice(&line[..line.len() - 1]);
        let mut add = |k: &str, v: &str| {
            if !out.trim_ascii_end().ends_with(b"{") {
                out.push(b',');
            }
            out.extend_from_slice(serde_json::to_string(k).unwrap_or_default().as_bytes());
            out.push(b':');
            out.extend_from_slice(serde_json::to_string(v).unwrap_or_default().as_bytes());
        };
        if et == "alert" && probe.alert_id.is_none() {
            self.ids += 1;
            add(
                "alert_id",
                &format!("{}-{}-{}", self.cfg.sensor, self.boot, self.ids),
            );
        }
        if probe.sensor.is_none() {
            add("sensor", &self.cfg.sensor);
        }
        out.extend_from_slice(b"}\n");
        let len = out.len() as u64;
        // Make room: drop the oldest sealed batches while the spool would overflow.
        while self.counters.spool_bytes.load(Ordering::Relaxed) + len > self.cfg.spool_max_bytes
            && self.discard_front(true)
        {}
        if self.counters.spool_bytes.load(Ordering::Relaxed) + len > self.cfg.spool_max_bytes {
            // Only the open batch is left and it is full: drop this line.
            self.counters.gone(1, 0, true);
            return;
        }
        if self
            .open
            .as_ref()
            .is_some_and(|o| o.1 as usize + out.len() > self.cfg.batch_bytes)
        {
            self.seal();
        }
        if self.open.is_none() {
            match OpenOptions::new()
                .create(true)
                .append(true)
                .open(self.cfg.spool_dir.join(OPEN))
            {
                Ok(f) => self.open = Some((BufWriter::new(f), 0, 0, Instant::now())),
                Err(_) => {
                    self.counters.gone(1, 0, true);
                    return;
                }
            }
        }
        let Some(open) = self.open.as_mut() else {
            return;
        };
        if open.0.write_all(&out).is_err() {
            self.counters.gone(1, 0, true);
            return;
        }
        open.1 += len;
        open.2 += 1;
        self.counters.spool_bytes.fetch_add(len, Ordering::Relaxed);
        self.counters.spooled.fetch_add(1, Ordering::Relaxed);
        if open.2 as usize >= self.cfg.batch_lines {
            self.seal();
        }
    }

    /// Closes the open batch into a sealed segment.
    fn seal(&mut self) {
        let Some((mut w, bytes, lines, _)) = self.open.take() else {
            return;
        };
        let synced = w.flush().is_ok() && w.get_ref().sync_data().is_ok();
        drop(w);
        let seq = self.next_seq;
        self.next_seq += 1;
        let path = self.cfg.spool_dir.join(segment_name(seq));
        if !synced || fs::rename(self.cfg.spool_dir.join(OPEN), &path).is_err() {
            self.counters.gone(lines, bytes, true);
            let _ = fs::remove_file(self.cfg.spool_dir.join(OPEN));
            return;
        }
        self.sealed.push_back(Segment { path, bytes, lines });
    }

    /// Deletes the oldest sealed segment, its lines delivered or (`lost`)
    /// dropped; returns whether there was one.
    fn discard_front(&mut self, lost: bool) -> bool {
        let Some(seg) = self.sealed.pop_front() else {
            return false;
        };
        let _ = fs::remove_file(&seg.path);
        self.counters.gone(seg.lines, seg.bytes, lost);
        if !lost {
            self.counters
                .delivered
                .fetch_add(seg.lines, Ordering::Relaxed);
            self.counters.batches.fetch_add(1, Ordering::Relaxed);
        }
        true
    }

    fn fail(&mut self) {
        self.counters.failures.fetch_add(1, Ordering::Relaxed);
        // Jitter of up to a quarter of the delay keeps sensors from retrying in step.
        let jitter = (self.boot
            ^ self
                .counters
                .failures
                .load(Ordering::Relaxed)
                .wrapping_mul(0x9e37_79b9))
            % 256;
        let delay = self.backoff + self.backoff / 4 * jitter as u32 / 256;
        self.retry_at = Instant::now() + delay;
        self.backoff = (self.backoff * 2).min(self.cfg.backoff_max);
    }

    /// Tries the oldest sealed batch once; returns whether it left the spool.
    fn deliver_one(&mut self) -> bool {
        let Some(seg) = self.sealed.front() else {
            return true;
        };
        let Ok(body) = fs::read(&seg.path) else {
            self.discard_front(true);
            return true;
        };
        let resp = self
            .agent
            .post(&self.url)
            .header("Authorization", &format!("Bearer {}", self.cfg.token))
            .header("Content-Type", "application/x-ndjson")
            .send(&body[..]);
        let mut resp = match resp {
            Ok(r) => r,
            Err(_) => {
                self.fail();
                return false;
            }
        };
        let status = resp.status().as_u16();
        let text = resp.body_mut().read_to_string().unwrap_or_default();
        match status {
            200 => {
                self.backoff = self.cfg.backoff_initial;
                self.discard_front(false);
                true
            }
            400 => match bad_lines(&text) {
                Some(bad) if !bad.is_empty() => {
                    self.drop_lines(&body, &bad);
                    true
                }
                _ => {
                    self.fail();
                    false
                }
            },
            _ => {
                self.fail();
                false
            }
        }
    }

    /// Rewrites the front segment without the refused lines (1-based numbers).
    fn drop_lines(&mut self, body: &[u8], bad: &[usize]) {
        let Some(seg) = self.sealed.front_mut() else {
            return;
        };
        let mut kept = Vec::with_capacity(body.len());
        let mut removed = 0;
        for (i, line) in body.split(|&b| b == b'\n').enumerate() {
            if line.is_empty() {
                continue;
            }
            if bad.contains(&(i + 1)) {
                removed += 1;
                continue;
            }
            kept.extend_from_slice(line);
            kept.push(b'\n');
        }
        let tmp = seg.path.with_extension("tmp");
        let ok = fs::write(&tmp, &kept).is_ok() && fs::rename(&tmp, &seg.path).is_ok();
        self.counters.rejected.fetch_add(removed, Ordering::Relaxed);
        self.counters
            .gone(removed, seg.bytes.saturating_sub(kept.len() as u64), false);
        seg.bytes = kept.len() as u64;
        seg.lines = seg.lines.saturating_sub(removed);
        if !ok {
            self.discard_front(true);
        } else if seg.lines == 0 {
            // Nothing left to deliver: not a delivery, not a loss.
            if let Some(s) = self.sealed.pop_front() {
                let _ = fs::remove_file(&s.path);
                self.counters.gone(0, s.bytes, false);
            }
        }
    }
}

/// The line numbers of a 400 answer: `{"lines":[{"line":3,…},…]}`.
fn bad_lines(text: &str) -> Option<Vec<usize>> {
    let v: serde_json::Value = serde_json::from_str(text).ok()?;
    let lines = v.get("lines")?.as_array()?;
    Some(
        lines
            .iter()
            .filter_map(|l| l.get("line")?.as_u64())
            .map(|n| n as usize)
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(dir: &Path) -> ShipConfig {
        let mut c = ShipConfig::new("http://127.0.0.1:9", "token", "s1", dir);
        c.batch_wait = Duration::from_millis(20);
        c.backoff_initial = Duration::from_millis(10);
        c.backoff_max = Duration::from_millis(20);
        c.timeout = Duration::from_millis(200);
        c
    }

    fn spooled_lines(dir: &Path) -> Vec<String> {
        let mut names: Vec<PathBuf> = fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .collect();
        names.sort();
        names
            .iter()
            .flat_map(|p| {
                fs::read_to_string(p)
                    .unwrap_or_default()
                    .lines()
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    #[test]
    fn refuses_an_analyzer_url_it_cannot_reach_at_start() {
        let dir = tempfile::tempdir().expect("tempdir");
        for url in ["https://analyzer:8443", "analyzer:8080", ""] {
            let mut c = cfg(dir.path());
            c.url = url.into();
            let e = Shipper::start(c).err().expect("refused");
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{url}");
            assert!(e.to_string().contains("must be http://HOST:PORT"), "{e}");
        }
    }

    #[test]
    fn spools_with_sensor_and_alert_id_while_the_analyzer_is_down() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = Shipper::start(cfg(dir.path())).expect("start");
        assert!(s.send_line(br#"{"event_type":"alert","alert":{"signature_id":1}}"#));
        assert!(s.send_line(b"{\"event_type\":\"modbus\"}\n"));
        assert!(s.send_line(br#"{"event_type":"stats","sensor":"other","stats":{}}"#));
        assert!(s.send_line(b"not json"));
        let st = s.shutdown(Duration::from_millis(100));
        assert_eq!(
            (
                st.accepted,
                st.filtered,
                st.invalid,
                st.spooled,
                st.delivered
            ),
            (4, 1, 1, 2, 0)
        );
        assert!(st.failures >= 1);
        assert_eq!(st.pending, 2);
        let lines = spooled_lines(dir.path());
        assert_eq!(lines.len(), 2);
        let a: serde_json::Value = serde_json::from_str(&lines[0]).expect("json");
        assert_eq!(a["sensor"], "s1");
        assert!(a["alert_id"]
            .as_str()
            .is_some_and(|id| id.starts_with("s1-")));
        let b: serde_json::Value = serde_json::from_str(&lines[1]).expect("json");
        assert_eq!(b["sensor"], "other");
        // A restart finds both lines again.
        let s = Shipper::start(cfg(dir.path())).expect("restart");
        assert_eq!(s.stats().pending, 2);
        drop(s);
    }

    #[test]
    fn bounded_spool_drops_the_oldest_batches_and_counts_them() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut c = cfg(dir.path());
        c.spool_max_bytes = 4096;
        c.batch_lines = 10;
        let s = Shipper::start(c).expect("start");
        let line = format!(
            r#"{{"event_type":"alert","alert_id":"x","pad":"{}"}}"#,
            "p".repeat(60)
        );
        for _ in 0..200 {
            s.send_line(line.as_bytes());
            s.flush();
        }
        let st = s.shutdown(Duration::ZERO);
        assert!(st.spool_bytes <= 4096, "{st:?}");
        assert!(st.spool_dropped > 0, "{st:?}");
        assert_eq!(st.spooled, 200);
        assert_eq!(st.spool_dropped + st.pending, 200, "{st:?}");
    }

    #[test]
    fn reads_bad_line_numbers() {
        assert_eq!(
            bad_lines(r#"{"error":"x","lines":[{"line":2,"error":"e"},{"line":5,"error":"e"}]}"#),
            Some(vec![2, 5])
        );
        assert_eq!(bad_lines("oops"), None);
    }
}
