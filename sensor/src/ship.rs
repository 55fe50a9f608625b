//! Shipping of EVE lines to the analyzer, at least once.
//!
//! Two roles, never waiting on each other's slow part:
//!
//! * **Spool writer: the caller of [`Shipper::send_line`].** The line is
//!   checked (a JSON object of an event type the analyzer stores: `alert`,
//!   `asset`, `stats` by default), given `"sensor"` (and an `"alert_id"` when
//!   an alert has none, in the format of [`AlertIds`]), and appended to the open spool segment on disk, in
//!   the caller's thread, under one lock. There is no queue in memory that
//!   could fill: the cost of a line is a JSON scan and a buffered write into
//!   the page cache, whatever the analyzer does. A segment is sealed (renamed
//!   to its sequence number) after `batch_lines` lines or `batch_bytes` bytes,
//!   by the writer, or after `batch_wait`, by the sender.
//! * **Sender: one background thread.** It makes each sealed segment durable
//!   (`fdatasync`, off the writer's path) and POSTs the oldest one as an
//!   NDJSON batch to `/api/v1/ingest`; the segment is deleted only after the
//!   analyzer answered 200. Segments left by an earlier run are delivered
//!   first; a retried batch is stored once by the analyzer thanks to
//!   `alert_id`. What the sender does with each answer:
//!
//!   | answer | what happens |
//!   | --- | --- |
//!   | 200 | the lines posted leave the spool (`delivered`) |
//!   | 400 naming lines | those lines are dropped (`rejected`, said on stderr), the rest is sent again at once |
//!   | 413 (payload too large) | the request is halved and sent again at once; every later request keeps to the smaller size. A single line the analyzer refuses as too large is dropped (`rejected`) |
//!   | 401, 403 | a configuration error (the token): said once on stderr when it starts and once when it ends, never per retry; the lines stay in the spool and are retried with backoff |
//!   | anything else (connection refused, timeout, 5xx, 400 naming no line) | the lines stay in the spool and are retried with exponential backoff (with jitter) |
//!
//! # Delivery guarantee
//!
//! Every line accepted by `send_line` is, at any moment, in exactly one of
//! these states, each counted in [`ShipStats`]: in the spool (`pending`),
//! acknowledged by the analyzer (`delivered`), refused by it as invalid or too
//! large (`rejected`), or dropped because the spool was full (`spool_dropped`); a
//! line that is not a JSON object or not a shipped event type is counted in
//! `invalid` / `filtered` instead of being spooled. Nothing else loses a line.
//!
//! The spool is bounded by `spool_max_bytes`. What happens when a line does
//! not fit is [`ShipConfig::when_full`]: [`WhenFull::DropOldest`] (live
//! capture, which must never stall) deletes the oldest sealed segment not
//! being sent and counts its lines in `spool_dropped`; [`WhenFull::Wait`]
//! (offline replays) holds the writer back (counted in `held_back`) while the
//! sender delivers or retries with its backoff, whatever the analyzer
//! answers, and gives up only once no request has succeeded for
//! [`ShipConfig::give_up`] (300 s by default; never when `None`): from then
//! on, until a request succeeds again, a line that does not fit drops the
//! oldest segment as live capture does. A request succeeds when the analyzer
//! answers it with 200 or with a 400 naming lines. Giving up is said once on
//! stderr; drops are said when they start and at most every 10 seconds.
//!
//! [`Shipper::shutdown`] seals the open segment and delivers until the spool
//! is empty or its timeout passed, whatever the analyzer does: a request
//! never outlives the deadline, and a sender still stuck in one a short grace
//! later is left behind and no longer touches the spool. What is not
//! delivered stays in the spool for the next start. [`Shipper::drain`]
//! (the end of an offline replay) waits instead until the spool is empty, or
//! until the shipper gives up as above.

use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::detect::AlertIds;
use crate::eve::EventFilter;

/// What a writer does with a line that does not fit in the spool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WhenFull {
    /// Delete the oldest sealed segment that is not being sent and count its
    /// lines in `spool_dropped` (live capture: the capture threads never wait
    /// for the analyzer).
    #[default]
    DropOldest,
    /// Wait for room while the sender delivers or retries; drop the oldest
    /// segment only once no request succeeded for [`ShipConfig::give_up`]
    /// (offline replays, which may go only as fast as the analyzer takes
    /// their alerts).
    Wait,
}

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
    /// What a full spool does (see [`WhenFull`]).
    pub when_full: WhenFull,
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
    /// With [`WhenFull::Wait`], and for [`Shipper::drain`]: how long requests
    /// may fail one after the other (no 200, no 400 naming lines) before a
    /// writer stops waiting for room and a drain stops waiting for the spool
    /// to empty. `None`: wait as long as it takes.
    pub give_up: Option<Duration>,
}

impl ShipConfig {
    /// Defaults: 256 MiB spool that drops its oldest batches when full,
    /// batches of 1000 lines / 4 MiB / 1 s, backoff 0.25 s to 30 s, requests
    /// of 10 s, giving up after 300 s of failed requests.
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
            when_full: WhenFull::DropOldest,
            batch_lines: 1000,
            batch_bytes: 4 << 20,
            batch_wait: Duration::from_secs(1),
            backoff_initial: Duration::from_millis(250),
            backoff_max: Duration::from_secs(30),
            timeout: Duration::from_secs(10),
            event_types: vec!["alert".into(), "asset".into(), "stats".into()],
            give_up: Some(Duration::from_secs(300)),
        }
    }
}

/// Counters of a shipper.
#[derive(Debug, Default)]
struct Counters {
    accepted: AtomicU64,
    held_back: AtomicU64,
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
    /// Lines whose writer waited for room in a full spool ([`WhenFull::Wait`]).
    pub held_back: u64,
    /// Lines of event types not shipped.
    pub filtered: u64,
    /// Lines that were not a JSON object (not shipped).
    pub invalid: u64,
    /// Lines written to the spool.
    pub spooled: u64,
    /// Lines dropped unsent because the spool was full (or could not be written).
    pub spool_dropped: u64,
    /// Lines the analyzer acknowledged.
    pub delivered: u64,
    /// Batches the analyzer acknowledged.
    pub batches: u64,
    /// Lines the analyzer refused as invalid or too large (dropped).
    pub rejected: u64,
    /// Failed deliveries (each retried).
    pub failures: u64,
    /// Bytes in the spool now.
    pub spool_bytes: u64,
    /// Lines in the spool, not yet acknowledged.
    pub pending: u64,
}

/// How long `shutdown` waits past its deadline for a sender whose last
/// request overran before leaving it behind.
const GRACE: Duration = Duration::from_millis(250);
/// Spool drops are said on stderr at most this often.
const WARN_EVERY: Duration = Duration::from_secs(10);
/// Longest sleep of the sender with nothing to do.
const IDLE: Duration = Duration::from_millis(500);
const OPEN: &str = "open.ndjson";

/// The shipping client (see the module doc).
pub struct Shipper {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Shipper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shipper")
            .field("spool", &self.shared.cfg.spool_dir)
            .field("stats", &self.stats())
            .finish()
    }
}

/// What the writers and the sender share.
struct Shared {
    cfg: ShipConfig,
    counters: Counters,
    /// `"sensor":"<name>"` as JSON, ready to append.
    sensor_field: Vec<u8>,
    boot: u64,
    /// One lock for the spool: writers append under it, the sender takes a
    /// segment and gives it back under it (never across a request), so a
    /// line is in exactly one place at any time.
    state: Mutex<State>,
    /// Wakes the sender: a sealed segment, a stop.
    wake: Condvar,
    /// Wakes writers waiting for room and `drain`/`shutdown`: a delivery
    /// attempt ended, or the sender left.
    room: Condvar,
}

struct Open {
    w: BufWriter<File>,
    bytes: u64,
    lines: u64,
    since: Instant,
}

struct Segment {
    seq: u64,
    path: PathBuf,
    bytes: u64,
    lines: u64,
    synced: bool,
}

struct State {
    open: Option<Open>,
    /// Sealed segments, oldest first.
    sealed: VecDeque<Segment>,
    /// The segment the sender is posting: no writer deletes it.
    in_flight: Option<u64>,
    next_seq: u64,
    /// Ids for alert lines that arrive without one.
    ids: AlertIds,
    /// The line being spooled (reused: no allocation per line).
    line: Vec<u8>,
    /// The sender delivers until this instant, then leaves.
    stop: Option<Instant>,
    /// Set by `shutdown` when the sender overran its deadline: it must not
    /// touch the spool any more.
    abandoned: bool,
    sender_done: bool,
    /// Since when requests have failed one after the other (`None` while
    /// the last one succeeded, or before the first).
    failing_since: Option<Instant>,
    /// Giving up was said on stderr in this run of failures.
    gave_up_said: bool,
    warned_at: Option<Instant>,
    warned_dropped: u64,
}

impl State {
    /// Whether requests have failed for [`ShipConfig::give_up`].
    fn given_up(&self, cfg: &ShipConfig) -> bool {
        match (self.failing_since, cfg.give_up) {
            (Some(since), Some(bound)) => since.elapsed() >= bound,
            _ => false,
        }
    }

    /// How long until [`State::given_up`] turns true, if it may.
    fn until_give_up(&self, cfg: &ShipConfig) -> Option<Duration> {
        match (self.failing_since, cfg.give_up) {
            (Some(since), Some(bound)) => Some(bound.saturating_sub(since.elapsed())),
            _ => None,
        }
    }
}

fn lock(m: &Mutex<State>) -> MutexGuard<'_, State> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn wait_for<'a>(cv: &Condvar, g: MutexGuard<'a, State>, d: Duration) -> MutexGuard<'a, State> {
    cv.wait_timeout(g, d)
        .unwrap_or_else(PoisonError::into_inner)
        .0
}

fn far(from: Instant, d: Duration) -> Instant {
    from.checked_add(d)
        .unwrap_or_else(|| from + Duration::from_secs(86_400 * 365))
}

impl Shipper {
    /// Opens the spool (delivering what an earlier run left first) and starts
    /// the sender thread. Refuses a URL that is not `http://`.
    pub fn start(config: ShipConfig) -> io::Result<Shipper> {
        if !config.url.starts_with("http://") {
            // Without this, every batch would fail and be retried forever.
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "the analyzer URL {:?} must be http://HOST:PORT (the sensor does not speak TLS \
                     to the analyzer: ship over a management network or through a tunnel)",
                    config.url
                ),
            ));
        }
        fs::create_dir_all(&config.spool_dir)?;
        let counters = Counters::default();
        let (sealed, next_seq) = recover(&config.spool_dir, &counters)?;
        let boot = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_micros() as u64)
            .unwrap_or(0);
        let mut sensor_field = b"\"sensor\":".to_vec();
        serde_json::to_writer(&mut sensor_field, &config.sensor).map_err(io::Error::other)?;
        let shared = Arc::new(Shared {
            counters,
            sensor_field,
            boot,
            state: Mutex::new(State {
                open: None,
                sealed,
                in_flight: None,
                next_seq,
                ids: AlertIds::random(),
                line: Vec::with_capacity(4096),
                stop: None,
                abandoned: false,
                sender_done: false,
                failing_since: None,
                gave_up_said: false,
                warned_at: None,
                warned_dropped: 0,
            }),
            wake: Condvar::new(),
            room: Condvar::new(),
            cfg: config,
        });
        let sender = Sender::new(shared.clone());
        let thread = std::thread::Builder::new()
            .name("otwatch-ship".into())
            .spawn(move || sender.run())?;
        Ok(Shipper {
            shared,
            thread: Some(thread),
        })
    }

    /// Spools one EVE line (with or without its line break), in the caller's
    /// thread. Returns false when the line was lost: the spool was full (and,
    /// with [`WhenFull::Wait`], deliveries were failing) or could not be
    /// written; the loss is counted in `spool_dropped`. A line that is not
    /// shipped on purpose (`filtered`, `invalid`) returns true.
    pub fn send_line(&self, line: &[u8]) -> bool {
        self.spool(line, false)
    }

    /// Spools one line this sensor rendered itself ([`crate::live::ShipLines`]),
    /// without reading it back: a whole JSON object from an
    /// [`EveWriter`](crate::eve::EveWriter) whose filter is
    /// [`Shipper::event_filter`], an alert with its `alert_id`, and no
    /// `sensor` (which is added). Returns what [`Shipper::send_line`] returns.
    pub fn send_rendered(&self, line: &[u8]) -> bool {
        self.spool(line, true)
    }

    /// Spools `line`: checked (see [`Shipper::send_line`]), or as rendered.
    fn spool(&self, line: &[u8], rendered: bool) -> bool {
        let line = line.trim_ascii();
        if line.is_empty() {
            return true;
        }
        let sh = &*self.shared;
        sh.counters.accepted.fetch_add(1, Ordering::Relaxed);
        let mut st = lock(&sh.state);
        if rendered {
            sh.compose(&mut st, line, false, true);
        } else if let Record::Skip = sh.record(&mut st, line) {
            return true;
        }
        sh.append(st)
    }

    /// The event types shipped, as a filter for the writer of
    /// [`Shipper::send_rendered`]'s lines (names that are no EVE event
    /// type are left out).
    pub fn event_filter(&self) -> EventFilter {
        let mut names = String::new();
        for t in &self.shared.cfg.event_types {
            if EventFilter::parse(t).is_ok() {
                if !names.is_empty() {
                    names.push(',');
                }
                names.push_str(t);
            }
        }
        EventFilter::parse(&names).unwrap_or_else(|_| crate::live::ship_filter())
    }

    /// Seals the open segment now, so that the sender may deliver it.
    pub fn flush(&self) {
        let mut st = lock(&self.shared.state);
        self.shared.seal(&mut st);
    }

    /// The counters.
    pub fn stats(&self) -> ShipStats {
        let c = &self.shared.counters;
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        ShipStats {
            accepted: g(&c.accepted),
            held_back: g(&c.held_back),
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

    /// The spool folder.
    pub fn spool_dir(&self) -> &Path {
        &self.shared.cfg.spool_dir
    }

    /// Seals the open segment and waits until the spool is empty (true), or
    /// until requests have failed for [`ShipConfig::give_up`] or the sender
    /// stopped (false). For the end of an offline run, where the analyzer may
    /// still be busy with a backlog, or down for a while; the sender keeps
    /// running (stop it with [`Shipper::shutdown`]). With `give_up` `None` it
    /// waits for as long as the spool holds lines.
    pub fn drain(&self) -> bool {
        let sh = &*self.shared;
        let mut st = lock(&sh.state);
        sh.seal(&mut st);
        sh.wake.notify_one();
        loop {
            if sh.counters.pending_lines.load(Ordering::Relaxed) == 0 {
                return true;
            }
            if st.sender_done || st.given_up(&sh.cfg) {
                return false;
            }
            let d = st.until_give_up(&sh.cfg).map_or(IDLE, |d| d.min(IDLE));
            st = wait_for(&sh.room, st, d.max(Duration::from_millis(1)));
        }
    }

    /// The time requests may fail before an offline writer or a drain gives
    /// up ([`ShipConfig::give_up`]).
    pub fn give_up(&self) -> Option<Duration> {
        self.shared.cfg.give_up
    }

    /// Seals the open segment and delivers until the spool is empty or
    /// `timeout` passed, then stops the sender; the rest stays in the spool
    /// for the next start. Returns within `timeout` plus a short grace
    /// whatever the analyzer does.
    pub fn shutdown(mut self, timeout: Duration) -> ShipStats {
        self.stop(timeout);
        self.stats()
    }

    fn stop(&mut self, timeout: Duration) {
        let Some(thread) = self.thread.take() else {
            return;
        };
        let sh = &*self.shared;
        let now = Instant::now();
        let deadline = far(now, timeout);
        let give_up = far(deadline, GRACE);
        let mut st = lock(&sh.state);
        sh.seal(&mut st);
        st.stop = Some(deadline);
        sh.wake.notify_one();
        while !st.sender_done {
            let left = give_up.saturating_duration_since(Instant::now());
            if left.is_zero() {
                // Its request overran the deadline: leave it; what it holds
                // stays in the spool.
                st.abandoned = true;
                return;
            }
            st = wait_for(&sh.room, st, left);
        }
        drop(st);
        let _ = thread.join();
    }
}

impl Drop for Shipper {
    fn drop(&mut self) {
        self.stop(Duration::ZERO);
    }
}

enum Record {
    /// The line is in `State::line`, ready to append.
    Line,
    /// Not shipped (filtered or invalid), counted.
    Skip,
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

impl Shared {
    /// Checks `line` and writes it, with `sensor` (and `alert_id`), into `st.line`.
    fn record(&self, st: &mut State, line: &[u8]) -> Record {
        let probe: Probe<'_> = match serde_json::from_slice(line) {
            Ok(p) if line.last() == Some(&b'}') => p,
            _ => {
                self.counters.invalid.fetch_add(1, Ordering::Relaxed);
                return Record::Skip;
            }
        };
        let et = probe.event_type.as_deref().unwrap_or("");
        if !self.cfg.event_types.iter().any(|t| t == et) {
            self.counters.filtered.fetch_add(1, Ordering::Relaxed);
            return Record::Skip;
        }
        let need_id = et == "alert" && probe.alert_id.is_none();
        self.compose(st, line, need_id, probe.sensor.is_none());
        Record::Line
    }

    /// Writes `line` (a JSON object, ending in `}`) into `st.line`, with a
    /// new `alert_id` and with `sensor` when asked to.
    fn compose(&self, st: &mut State, line: &[u8], need_id: bool, need_sensor: bool) {
        let out = &mut st.line;
        out.clear();
        out.extend_from_slice(&line[..line.len().saturating_sub(1)]);
        let mut comma = !out.trim_ascii_end().ends_with(b"{");
        if need_id {
            let id = st.ids.next_id();
            if comma {
                out.push(b',');
            }
            out.extend_from_slice(b"\"alert_id\":\"");
            out.extend_from_slice(id.as_str().as_bytes());
            out.push(b'"');
            comma = true;
        }
        if need_sensor {
            if comma {
                out.push(b',');
            }
            out.extend_from_slice(&self.sensor_field);
        }
        out.extend_from_slice(b"}\n");
    }

    /// Appends `st.line` to the open segment, making room first (see
    /// [`WhenFull`]); returns whether it was spooled.
    fn append(&self, mut st: MutexGuard<'_, State>) -> bool {
        let len = st.line.len() as u64;
        let max = self.cfg.spool_max_bytes;
        let mut waited = false;
        let mut notice = None;
        let fits = loop {
            if self.counters.spool_bytes.load(Ordering::Relaxed) + len <= max {
                break true;
            }
            let waiting = self.cfg.when_full == WhenFull::Wait;
            let given_up = waiting && st.given_up(&self.cfg);
            if waiting && !given_up && !st.sender_done && st.stop.is_none() {
                if st.sealed.is_empty() && st.open.is_some() {
                    // The room is all in the open segment: let it be sent.
                    self.seal(&mut st);
                }
                if !st.sealed.is_empty() {
                    if !waited {
                        waited = true;
                        self.counters.held_back.fetch_add(1, Ordering::Relaxed);
                    }
                    self.wake.notify_one();
                    // Woken by each end of a request; the give-up moment is
                    // checked even when the sender sleeps in a long backoff.
                    let d = st
                        .until_give_up(&self.cfg)
                        .map_or(IDLE, |d| d.min(IDLE))
                        .max(Duration::from_millis(1));
                    st = wait_for(&self.room, st, d);
                    continue;
                }
            }
            if given_up && !st.gave_up_said {
                st.gave_up_said = true;
                notice = Some(format!(
                    "otwatch: no request to the analyzer succeeded for {} s: no longer waiting \
                     for room in the full spool {}; its oldest lines are dropped until a \
                     request succeeds again",
                    self.cfg.give_up.unwrap_or_default().as_secs(),
                    self.cfg.spool_dir.display()
                ));
            }
            if st.open.is_some() && st.sealed.iter().all(|s| Some(s.seq) == st.in_flight) {
                // Oldest first: what the open segment holds goes before this line.
                self.seal(&mut st);
            }
            if !self.discard_oldest(&mut st) {
                break false;
            }
        };
        let spooled = fits && self.write_line(&mut st);
        if !spooled {
            self.counters.spool_dropped.fetch_add(1, Ordering::Relaxed);
        }
        let warning = self.drop_warning(&mut st);
        drop(st);
        if let Some(n) = notice {
            eprintln!("{n}");
        }
        if let Some(w) = warning {
            eprintln!("{w}");
        }
        spooled
    }

    fn write_line(&self, st: &mut State) -> bool {
        let len = st.line.len() as u64;
        if st
            .open
            .as_ref()
            .is_some_and(|o| o.bytes + len > self.cfg.batch_bytes as u64)
        {
            self.seal(st);
        }
        if st.open.is_none() {
            match OpenOptions::new()
                .create(true)
                .append(true)
                .open(self.cfg.spool_dir.join(OPEN))
            {
                Ok(f) => {
                    st.open = Some(Open {
                        w: BufWriter::with_capacity(64 << 10, f),
                        bytes: 0,
                        lines: 0,
                        since: Instant::now(),
                    })
                }
                Err(_) => return false,
            }
        }
        let State { open, line, .. } = &mut *st;
        let Some(open) = open.as_mut() else {
            return false;
        };
        if open.w.write_all(line).is_err() {
            return false;
        }
        open.bytes += len;
        open.lines += 1;
        let full = open.lines as usize >= self.cfg.batch_lines;
        self.counters.spool_bytes.fetch_add(len, Ordering::Relaxed);
        self.counters.pending_lines.fetch_add(1, Ordering::Relaxed);
        self.counters.spooled.fetch_add(1, Ordering::Relaxed);
        if full {
            self.seal(st);
        }
        true
    }

    /// Closes the open segment into a sealed one and wakes the sender.
    fn seal(&self, st: &mut State) {
        let Some(Open {
            mut w,
            bytes,
            lines,
            ..
        }) = st.open.take()
        else {
            return;
        };
        let written = w.flush().is_ok();
        drop(w);
        let seq = st.next_seq;
        st.next_seq += 1;
        let open = self.cfg.spool_dir.join(OPEN);
        let path = self.cfg.spool_dir.join(segment_name(seq));
        if !written || fs::rename(&open, &path).is_err() {
            let _ = fs::remove_file(&open);
            self.counters.gone(lines, bytes, true);
            return;
        }
        st.sealed.push_back(Segment {
            seq,
            path,
            bytes,
            lines,
            synced: false,
        });
        self.wake.notify_one();
    }

    /// Deletes the oldest sealed segment that is not being sent, its lines
    /// dropped; returns whether there was one.
    fn discard_oldest(&self, st: &mut State) -> bool {
        let Some(i) = st.sealed.iter().position(|s| Some(s.seq) != st.in_flight) else {
            return false;
        };
        let Some(seg) = st.sealed.remove(i) else {
            return false;
        };
        let _ = fs::remove_file(&seg.path);
        self.counters.gone(seg.lines, seg.bytes, true);
        true
    }

    /// The message to print when lines were dropped since the last one (at
    /// most every [`WARN_EVERY`]).
    fn drop_warning(&self, st: &mut State) -> Option<String> {
        let dropped = self.counters.spool_dropped.load(Ordering::Relaxed);
        if dropped == st.warned_dropped || st.warned_at.is_some_and(|t| t.elapsed() < WARN_EVERY) {
            return None;
        }
        st.warned_at = Some(Instant::now());
        st.warned_dropped = dropped;
        Some(format!(
            "otwatch: the analyzer spool {} is full ({} bytes) while the analyzer does not take \
             the lines: {dropped} lines dropped so far (counted in spool_dropped)",
            self.cfg.spool_dir.display(),
            self.cfg.spool_max_bytes
        ))
    }
}

fn segment_name(seq: u64) -> String {
    format!("{seq:016}.ndjson")
}

fn count_lines(path: &Path) -> io::Result<u64> {
    let mut buf = Vec::new();
    File::open(path)?.read_to_end(&mut buf)?;
    Ok(count_in(&buf))
}

/// The segments an earlier run left (the open one sealed now), oldest first,
/// and the next sequence number; sets the spool counters.
fn recover(dir: &Path, counters: &Counters) -> io::Result<(VecDeque<Segment>, u64)> {
    let mut names: Vec<(u64, PathBuf)> = Vec::new();
    for e in fs::read_dir(dir)? {
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
    let open_path = dir.join(OPEN);
    if open_path.exists() {
        let to = dir.join(segment_name(next_seq));
        fs::rename(&open_path, &to)?;
        names.push((next_seq, to));
        next_seq += 1;
    }
    let mut sealed = VecDeque::new();
    let mut total = 0;
    let mut pending = 0;
    for (seq, path) in names {
        let bytes = fs::metadata(&path)?.len();
        let lines = count_lines(&path)?;
        if lines == 0 {
            let _ = fs::remove_file(&path);
            continue;
        }
        total += bytes;
        pending += lines;
        sealed.push_back(Segment {
            seq,
            path,
            bytes,
            lines,
            synced: false,
        });
    }
    counters.spool_bytes.store(total, Ordering::Relaxed);
    counters.pending_lines.store(pending, Ordering::Relaxed);
    Ok((sealed, next_seq))
}

/// What one delivery attempt of the oldest segment came to.
enum Outcome {
    /// 200 for the whole segment: it leaves the spool.
    Delivered,
    /// 200 for a request holding only the first `lines` lines (see
    /// `Sender::post_limit`): they were removed from the file, which now has
    /// `bytes` bytes (`ok` false when it could not be rewritten: the lines
    /// stay and are sent again).
    Partial { lines: u64, bytes: u64, ok: bool },
    /// 400 naming lines, or 413 for a request of one line: they were removed
    /// from the file, which now has `bytes` bytes (`ok` false when the file
    /// could not be rewritten); `why` says what the analyzer said.
    Rejected {
        removed: u64,
        bytes: u64,
        ok: bool,
        why: String,
    },
    /// 413 for a request of `bytes` bytes holding more than one line.
    TooLarge { bytes: usize },
    /// 401 or 403: the analyzer does not take this sensor's token.
    Refused(u16),
    /// The file cannot be read: its lines are lost.
    Unreadable,
    /// Anything else: retried later.
    Failed,
}

/// The sender thread.
struct Sender {
    shared: Arc<Shared>,
    agent: ureq::Agent,
    url: String,
    auth: String,
    backoff: Duration,
    retry_at: Instant,
    /// Largest request body, in bytes, once the analyzer answered 413 (a
    /// request always holds at least one line).
    post_limit: Option<usize>,
    /// The 401/403 said on stderr and not yet over.
    refused: Option<u16>,
    /// When refused lines were last said on stderr.
    rejected_said_at: Option<Instant>,
    /// What to say on stderr once the lock is released.
    notes: Vec<String>,
}

impl Sender {
    fn new(shared: Arc<Shared>) -> Sender {
        let cfg = &shared.cfg;
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(cfg.timeout))
            .http_status_as_error(false)
            .build()
            .into();
        Sender {
            agent,
            url: format!("{}/api/v1/ingest", cfg.url.trim_end_matches('/')),
            auth: format!("Bearer {}", cfg.token),
            backoff: cfg.backoff_initial,
            retry_at: Instant::now(),
            post_limit: None,
            refused: None,
            rejected_said_at: None,
            notes: Vec::new(),
            shared,
        }
    }

    fn run(mut self) {
        let shared = self.shared.clone();
        let sh = &*shared;
        let mut st = lock(&sh.state);
        loop {
            if st.abandoned {
                break;
            }
            let now = Instant::now();
            let limit = match st.stop {
                Some(deadline) => {
                    sh.seal(&mut st);
                    if st.sealed.is_empty() || now >= deadline {
                        break;
                    }
                    if now < self.retry_at {
                        let d = self.retry_at.min(deadline) - now;
                        st = wait_for(&sh.wake, st, d);
                        continue;
                    }
                    sh.cfg.timeout.min(deadline - now)
                }
                None => {
                    if st
                        .open
                        .as_ref()
                        .is_some_and(|o| now >= o.since + sh.cfg.batch_wait)
                    {
                        sh.seal(&mut st);
                    }
                    if st.sealed.iter().any(|s| !s.synced) {
                        st = sync_sealed(sh, st);
                        continue;
                    }
                    if st.sealed.is_empty() || now < self.retry_at {
                        let mut d = IDLE;
                        if let Some(o) = &st.open {
                            d = d.min((o.since + sh.cfg.batch_wait).saturating_duration_since(now));
                        }
                        if !st.sealed.is_empty() {
                            d = d.min(self.retry_at - now);
                        }
                        st = wait_for(&sh.wake, st, d);
                        continue;
                    }
                    sh.cfg.timeout
                }
            };
            let Some(front) = st.sealed.front() else {
                continue;
            };
            let (seq, path) = (front.seq, front.path.clone());
            st.in_flight = Some(seq);
            drop(st);
            let outcome = self.attempt(&path, limit);
            st = lock(&sh.state);
            st.in_flight = None;
            if st.abandoned {
                break;
            }
            self.settle(&mut st, seq, outcome, now);
            sh.room.notify_all();
            if !self.notes.is_empty() {
                // Said without the lock: stderr may be a slow pipe.
                drop(st);
                for note in self.notes.drain(..) {
                    eprintln!("{note}");
                }
                st = lock(&sh.state);
            }
        }
        st.sender_done = true;
        sh.room.notify_all();
    }

    /// One POST of the segment at `path`, or of its first lines when the
    /// analyzer limits the size of a request (the lock is not held).
    fn attempt(&self, path: &Path, limit: Duration) -> Outcome {
        let Ok(mut file) = File::open(path) else {
            return Outcome::Unreadable;
        };
        let mut body = Vec::new();
        if file.read_to_end(&mut body).is_err() {
            return Outcome::Unreadable;
        }
        let part_len = match self.post_limit {
            Some(max) if body.len() > max => prefix_len(&body, max),
            _ => body.len(),
        };
        let part = &body[..part_len];
        let resp = self
            .agent
            .post(&self.url)
            .config()
            .timeout_global(Some(limit))
            .build()
            .header("Authorization", &self.auth)
            .header("Content-Type", "application/x-ndjson")
            .send(part);
        let Ok(mut resp) = resp else {
            return Outcome::Failed;
        };
        let status = resp.status().as_u16();
        let Ok(text) = resp.body_mut().read_to_string() else {
            return Outcome::Failed;
        };
        let lines_in_part = count_in(part);
        match status {
            200 if part_len == body.len() => Outcome::Delivered,
            200 => Outcome::Partial {
                lines: lines_in_part,
                bytes: (body.len() - part_len) as u64,
                ok: rewrite(path, &body[part_len..]),
            },
            400 => {
                // Line numbers count the lines of the request, a prefix of the file.
                let pieces = part.split(|&b| b == b'\n').count();
                let bad: Vec<usize> = bad_lines(&text)
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|&n| n >= 1 && n <= pieces)
                    .collect();
                let (kept, removed) = without_lines(&body, &bad);
                if removed == 0 {
                    return Outcome::Failed;
                }
                Outcome::Rejected {
                    removed,
                    bytes: kept.len() as u64,
                    ok: rewrite(path, &kept),
                    why: first_error(&text),
                }
            }
            413 if lines_in_part > 1 => Outcome::TooLarge { bytes: part_len },
            413 => Outcome::Rejected {
                removed: lines_in_part,
                bytes: (body.len() - part_len) as u64,
                ok: rewrite(path, &body[part_len..]),
                why: format!(
                    "a line of {part_len} bytes is larger than the analyzer takes in one request (413)"
                ),
            },
            401 | 403 => Outcome::Refused(status),
            _ => Outcome::Failed,
        }
    }

    /// Applies an attempt's outcome to segment `seq` (under the lock); the
    /// attempt started at `started`.
    fn settle(&mut self, st: &mut State, seq: u64, outcome: Outcome, started: Instant) {
        let shared = self.shared.clone();
        let sh = &*shared;
        let c = &sh.counters;
        let Some(i) = st.sealed.iter().position(|s| s.seq == seq) else {
            return;
        };
        match outcome {
            Outcome::Delivered => {
                self.succeeded(st);
                if let Some(seg) = st.sealed.remove(i) {
                    let _ = fs::remove_file(&seg.path);
                    c.gone(seg.lines, seg.bytes, false);
                    c.delivered.fetch_add(seg.lines, Ordering::Relaxed);
                    c.batches.fetch_add(1, Ordering::Relaxed);
                }
            }
            Outcome::Partial { lines, bytes, ok } => {
                self.succeeded(st);
                let Some(seg) = st.sealed.get_mut(i) else {
                    return;
                };
                if ok {
                    let lines = lines.min(seg.lines);
                    c.gone(lines, seg.bytes.saturating_sub(bytes), false);
                    c.delivered.fetch_add(lines, Ordering::Relaxed);
                    c.batches.fetch_add(1, Ordering::Relaxed);
                    seg.lines -= lines;
                    seg.bytes = seg.bytes.min(bytes);
                    seg.synced = false;
                    if seg.lines == 0 {
                        if let Some(s) = st.sealed.remove(i) {
                            let _ = fs::remove_file(&s.path);
                            c.gone(s.lines, s.bytes, false);
                        }
                    }
                }
            }
            Outcome::Rejected {
                removed,
                bytes,
                ok,
                why,
            } => {
                self.succeeded(st);
                let Some(seg) = st.sealed.get_mut(i) else {
                    return;
                };
                let removed = removed.min(seg.lines);
                c.rejected.fetch_add(removed, Ordering::Relaxed);
                c.gone(removed, seg.bytes.saturating_sub(bytes), false);
                seg.bytes = seg.bytes.min(bytes);
                seg.lines -= removed;
                seg.synced = false;
                if !ok || seg.lines == 0 {
                    // Unwritable: what is left is lost; empty: nothing to send.
                    if let Some(s) = st.sealed.remove(i) {
                        let _ = fs::remove_file(&s.path);
                        c.gone(s.lines, s.bytes, !ok);
                    }
                }
                if self
                    .rejected_said_at
                    .is_none_or(|t| t.elapsed() >= WARN_EVERY)
                {
                    self.rejected_said_at = Some(Instant::now());
                    self.notes.push(format!(
                        "otwatch: the analyzer refused {removed} lines, which are dropped: {why}; \
                         {} refused so far (counted in rejected)",
                        c.rejected.load(Ordering::Relaxed)
                    ));
                }
            }
            Outcome::TooLarge { bytes } => {
                // Sent again at once, halved: no backoff, no failure.
                let limit = (bytes / 2).max(1);
                self.post_limit = Some(limit);
                self.notes.push(format!(
                    "otwatch: the analyzer refuses a request of {bytes} bytes as too large (413): \
                     sending at most {limit} bytes per request from now on"
                ));
            }
            Outcome::Refused(status) => {
                self.failed(st, started);
                if self.refused != Some(status) {
                    self.refused = Some(status);
                    let what = if status == 401 {
                        "401 Unauthorized: it does not know this sensor's token"
                    } else {
                        "403 Forbidden: this sensor's token may not ingest"
                    };
                    self.notes.push(format!(
                        "otwatch: the analyzer at {} answers {what} (--token, $OTWATCH_TOKEN; \
                         ingest_tokens in its config). The lines stay in the spool and are \
                         retried; this is said again only when it changes",
                        sh.cfg.url
                    ));
                }
            }
            Outcome::Unreadable => {
                if let Some(s) = st.sealed.remove(i) {
                    let _ = fs::remove_file(&s.path);
                    c.gone(s.lines, s.bytes, true);
                }
            }
            Outcome::Failed => self.failed(st, started),
        }
    }

    /// The analyzer took a request (200, or 400 naming lines).
    fn succeeded(&mut self, st: &mut State) {
        self.backoff = self.shared.cfg.backoff_initial;
        st.failing_since = None;
        st.gave_up_said = false;
        if let Some(status) = self.refused.take() {
            self.notes.push(format!(
                "otwatch: the analyzer takes this sensor's lines again (it answered {status} before)"
            ));
        }
    }

    /// A request that started at `started` failed: retried after the backoff.
    fn failed(&mut self, st: &mut State, started: Instant) {
        st.failing_since.get_or_insert(started);
        let c = &self.shared.counters;
        c.failures.fetch_add(1, Ordering::Relaxed);
        // Jitter of up to a quarter of the delay keeps sensors from retrying in step.
        let jitter =
            (self.shared.boot ^ c.failures.load(Ordering::Relaxed).wrapping_mul(0x9e37_79b9)) % 256;
        let delay = self.backoff + self.backoff / 4 * jitter as u32 / 256;
        self.retry_at = Instant::now() + delay;
        self.backoff = (self.backoff * 2).min(self.shared.cfg.backoff_max);
    }
}

/// The length of the longest run of whole lines at the start of `body` that
/// holds at most `max` bytes, or of its first line when that alone is longer.
fn prefix_len(body: &[u8], max: usize) -> usize {
    let mut end = 0;
    while end < body.len() {
        let next = body[end..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(body.len(), |p| end + p + 1);
        if end > 0 && next > max {
            break;
        }
        end = next;
    }
    end
}

/// The non-empty lines of `bytes`.
fn count_in(bytes: &[u8]) -> u64 {
    bytes
        .split(|&b| b == b'\n')
        .filter(|l| !l.trim_ascii().is_empty())
        .count() as u64
}

/// Replaces the file at `path` with `bytes` (a new file renamed over it, so
/// that a crash leaves the old or the new one); whether it worked.
fn rewrite(path: &Path, bytes: &[u8]) -> bool {
    let tmp = path.with_extension("tmp");
    fs::write(&tmp, bytes).is_ok() && fs::rename(&tmp, path).is_ok()
}

/// The first error of a 400 answer, quoted and cut to 200 characters (the
/// analyzer may quote the line, whose strings come from packets).
fn first_error(text: &str) -> String {
    let v: Option<serde_json::Value> = serde_json::from_str(text).ok();
    let e = v.as_ref().and_then(|v| {
        v.get("lines")?
            .as_array()?
            .first()?
            .get("error")?
            .as_str()
            .map(str::to_owned)
    });
    match e {
        Some(e) => {
            let cut: String = e.chars().take(200).collect();
            format!("{cut:?}")
        }
        None => "the analyzer gave no reason".to_owned(),
    }
}

/// Makes every sealed segment durable (segments are written without
/// `fdatasync`, so that a writer never waits for the disk to confirm), without
/// holding the lock while the disk works.
fn sync_sealed<'a>(sh: &'a Shared, mut st: MutexGuard<'a, State>) -> MutexGuard<'a, State> {
    let todo: Vec<PathBuf> = st
        .sealed
        .iter()
        .filter(|s| !s.synced)
        .map(|s| s.path.clone())
        .collect();
    // Marked first: a segment deleted meanwhile is not looked for again.
    for s in st.sealed.iter_mut() {
        s.synced = true;
    }
    drop(st);
    for path in &todo {
        // A segment deleted meanwhile (delivered, dropped) needs nothing.
        if let Ok(f) = File::open(path) {
            let _ = f.sync_data();
        }
    }
    lock(&sh.state)
}

/// `body` without its lines numbered in `bad` (1-based), and how many went.
fn without_lines(body: &[u8], bad: &[usize]) -> (Vec<u8>, u64) {
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
    (kept, removed)
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
    use std::io::BufRead;
    use std::net::{TcpListener, TcpStream};
    use std::sync::atomic::AtomicBool;

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

    /// The first id of a run in the format of `AlertIds`: 16 hex digits, `-1`.
    fn is_first_alert_id(id: &str) -> bool {
        id.len() == 18 && id.ends_with("-1") && id[..16].bytes().all(|b| b.is_ascii_hexdigit())
    }

    fn alert_line(n: u64) -> String {
        format!(r#"{{"event_type":"alert","alert_id":"a{n}","alert":{{"signature_id":1}}}}"#)
    }

    /// How a [`FakeAnalyzer`] answers a batch.
    #[derive(Clone, Copy, Debug)]
    enum Answer {
        /// 200 after this long.
        Slow(Duration),
        /// Reads the request and never answers.
        Silent,
        /// The first batch gets a 400 naming its line 2; later ones 200.
        RejectSecondLineOnce,
        /// 413 for a body longer than this many bytes, else 200.
        LimitBytes(usize),
        /// This status for every request, with an empty JSON body.
        Status(u16),
        /// This status for this long after the start, then 200.
        StatusFor(u16, Duration),
    }

    /// An HTTP/1.1 ingest endpoint on 127.0.0.1:0 that counts the lines of
    /// the batches it acknowledged.
    struct FakeAnalyzer {
        url: String,
        acked: Arc<AtomicU64>,
        /// The largest body acknowledged, in bytes.
        largest: Arc<AtomicU64>,
        stop: Arc<AtomicBool>,
        port: u16,
    }

    impl FakeAnalyzer {
        fn start(answer: Answer) -> FakeAnalyzer {
            FakeAnalyzer::start_on(0, answer)
        }

        /// On 127.0.0.1:`port` (0: any free port).
        fn start_on(port: u16, answer: Answer) -> FakeAnalyzer {
            let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind");
            let port = listener.local_addr().expect("addr").port();
            let acked = Arc::new(AtomicU64::new(0));
            let largest = Arc::new(AtomicU64::new(0));
            let stop = Arc::new(AtomicBool::new(false));
            let rejected_once = Arc::new(AtomicBool::new(false));
            let started = Instant::now();
            {
                let (acked, largest, stop) = (acked.clone(), largest.clone(), stop.clone());
                std::thread::spawn(move || {
                    for conn in listener.incoming() {
                        if stop.load(Ordering::Relaxed) {
                            return;
                        }
                        let Ok(conn) = conn else { continue };
                        let (acked, largest, stop, once) = (
                            acked.clone(),
                            largest.clone(),
                            stop.clone(),
                            rejected_once.clone(),
                        );
                        std::thread::spawn(move || {
                            serve(conn, answer, started, (&acked, &largest), &stop, &once)
                        });
                    }
                });
            }
            FakeAnalyzer {
                url: format!("http://127.0.0.1:{port}"),
                acked,
                largest,
                stop,
                port,
            }
        }
    }

    impl Drop for FakeAnalyzer {
        fn drop(&mut self) {
            self.stop.store(true, Ordering::Relaxed);
            // Wakes the accept loop so that it sees the stop.
            let _ = TcpStream::connect(("127.0.0.1", self.port));
        }
    }

    /// Answers the requests of one connection (keep-alive) as `answer` says.
    fn serve(
        conn: TcpStream,
        answer: Answer,
        started: Instant,
        (acked, largest): (&AtomicU64, &AtomicU64),
        stop: &AtomicBool,
        once: &AtomicBool,
    ) {
        let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
        let mut reader = io::BufReader::new(match conn.try_clone() {
            Ok(c) => c,
            Err(_) => return,
        });
        let mut conn = conn;
        loop {
            let mut length = 0usize;
            let mut header = String::new();
            loop {
                header.clear();
                match reader.read_line(&mut header) {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
                let h = header.trim_end();
                if h.is_empty() {
                    break;
                }
                if let Some((k, v)) = h.split_once(':') {
                    if k.eq_ignore_ascii_case("content-length") {
                        length = v.trim().parse().unwrap_or(0);
                    }
                }
            }
            let mut body = vec![0; length];
            if reader.read_exact(&mut body).is_err() {
                return;
            }
            let lines = body
                .split(|&b| b == b'\n')
                .filter(|l| !l.is_empty())
                .count() as u64;
            let (status, text) = match answer {
                Answer::Slow(d) => {
                    std::thread::sleep(d);
                    (200, r#"{"stored":0}"#.to_string())
                }
                Answer::Silent => {
                    while !stop.load(Ordering::Relaxed) {
                        std::thread::sleep(Duration::from_millis(20));
                    }
                    return;
                }
                Answer::RejectSecondLineOnce => {
                    if once.swap(true, Ordering::Relaxed) {
                        (200, r#"{"stored":0}"#.to_string())
                    } else {
                        (
                            400,
                            r#"{"error":"bad lines","lines":[{"line":2,"error":"x"}]}"#.to_string(),
                        )
                    }
                }
                Answer::LimitBytes(max) if length > max => {
                    (413, r#"{"error":"too large"}"#.to_string())
                }
                Answer::LimitBytes(_) => (200, r#"{"stored":0}"#.to_string()),
                Answer::Status(s) => (s, "{}".to_string()),
                Answer::StatusFor(s, d) if started.elapsed() < d => (s, "{}".to_string()),
                Answer::StatusFor(..) => (200, r#"{"stored":0}"#.to_string()),
            };
            let reason = match status {
                200 => "OK",
                400 => "Bad Request",
                401 => "Unauthorized",
                403 => "Forbidden",
                413 => "Payload Too Large",
                _ => "Other",
            };
            let head = format!(
                "HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
                text.len()
            );
            if conn.write_all(head.as_bytes()).is_err() || conn.write_all(text.as_bytes()).is_err()
            {
                return;
            }
            if status == 200 {
                acked.fetch_add(lines, Ordering::Relaxed);
                largest.fetch_max(length as u64, Ordering::Relaxed);
            }
        }
    }

    #[test]
    fn refuses_an_analyzer_url_it_cannot_reach_at_start() {
        let dir = tempfile::tempdir().expect("tempdir");
        for url in ["https://analyzer:8443", "analyzer:8080", ""] {
            let mut c = cfg(dir.path());
            c.url = url.into();
            let e = Shipper::start(c).expect_err("refused");
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
        assert!(a["alert_id"].as_str().is_some_and(is_first_alert_id), "{a}");
        let b: serde_json::Value = serde_json::from_str(&lines[1]).expect("json");
        assert_eq!(b["sensor"], "other");
        // A restart finds both lines again.
        let s = Shipper::start(cfg(dir.path())).expect("restart");
        assert_eq!(s.stats().pending, 2);
        drop(s);
    }

    #[test]
    fn a_rendered_line_is_spooled_as_a_checked_one_is() {
        // An alert line as the sensor renders it (with its alert_id, without
        // a sensor name), then an asset line.
        let alert = br#"{"timestamp":"2024-01-01T00:00:00.000000+0000","event_type":"alert","alert":{"signature_id":1},"alert_id":"00000000000000ab-1"}"#;
        let asset = b"{\"event_type\":\"asset\",\"asset\":{\"ip\":\"10.0.0.1\"}}\n";
        let spool = |rendered: bool| {
            let dir = tempfile::tempdir().expect("tempdir");
            let s = Shipper::start(cfg(dir.path())).expect("start");
            let send = |line: &[u8]| {
                if rendered {
                    s.send_rendered(line)
                } else {
                    s.send_line(line)
                }
            };
            assert!(send(alert));
            assert!(send(asset));
            let st = s.shutdown(Duration::ZERO);
            assert_eq!(
                (st.accepted, st.spooled, st.filtered, st.invalid),
                (2, 2, 0, 0)
            );
            spooled_lines(dir.path())
        };
        let rendered = spool(true);
        assert_eq!(rendered, spool(false));
        let a: serde_json::Value = serde_json::from_str(&rendered[0]).expect("json");
        assert_eq!(a["sensor"], "s1");
        assert_eq!(a["alert_id"], "00000000000000ab-1");
    }

    #[test]
    fn the_filter_of_rendered_lines_is_the_shipped_event_types() {
        use crate::eve::EventType;
        let dir = tempfile::tempdir().expect("tempdir");
        let mut c = cfg(dir.path());
        c.event_types = vec!["alert".into(), "no-such-type".into()];
        let s = Shipper::start(c).expect("start");
        let f = s.event_filter();
        assert!(f.contains(EventType::Alert));
        assert!(!f.contains(EventType::Stats));
        assert!(!f.contains(EventType::Asset));
        drop(s);
    }

    #[test]
    fn a_sensor_name_with_quotes_stays_valid_json() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut c = cfg(dir.path());
        c.sensor = "plant \"A\"\\north".into();
        let s = Shipper::start(c).expect("start");
        assert!(s.send_line(br#"{"event_type":"alert"}"#));
        // Filtered (no event type), not lost.
        assert!(s.send_line(b"{}"));
        let st = s.shutdown(Duration::ZERO);
        assert_eq!(st.spooled, 1);
        let lines = spooled_lines(dir.path());
        let a: serde_json::Value = serde_json::from_str(&lines[0]).expect("json");
        assert_eq!(a["sensor"], "plant \"A\"\\north");
        assert!(a["alert_id"].as_str().is_some_and(is_first_alert_id), "{a}");
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
        assert_eq!(st.pending as usize, spooled_lines(dir.path()).len());
    }

    /// Point 10 of issue 13: `shutdown` in the middle of a backlog returned
    /// only when a request that had started before it ended (or never, when
    /// its stop message was lost to a non-blocking receive). Now it returns
    /// by its deadline (plus the grace), and every line is either delivered
    /// or still in the spool, against an analyzer that is slow, silent or
    /// down, 200 times.
    #[test]
    fn shutdown_in_the_middle_of_a_backlog_keeps_its_deadline_and_every_line() {
        let slow = FakeAnalyzer::start(Answer::Slow(Duration::from_millis(15)));
        let silent = FakeAnalyzer::start(Answer::Silent);
        let down = {
            let l = TcpListener::bind("127.0.0.1:0").expect("bind");
            format!("http://{}", l.local_addr().expect("addr"))
        };
        let margin = GRACE + Duration::from_millis(300);
        let mut worst = Duration::ZERO;
        for i in 0..200u64 {
            let dir = tempfile::tempdir().expect("tempdir");
            let mut c = cfg(dir.path());
            c.url = match i % 3 {
                0 => slow.url.clone(),
                1 => silent.url.clone(),
                _ => down.clone(),
            };
            c.batch_lines = 20;
            // Longer than any shutdown below: a request must be cut short.
            c.timeout = Duration::from_secs(5);
            let s = Shipper::start(c).expect("start");
            let sent = 100 + i % 50;
            for n in 0..sent {
                assert!(s.send_line(alert_line(n).as_bytes()));
            }
            // Let the sender get into a request (or a backoff) first.
            std::thread::sleep(Duration::from_millis(i % 7 * 3));
            let timeout = Duration::from_millis(5 + i % 4 * 10);
            let (tx, rx) = std::sync::mpsc::channel();
            let t0 = Instant::now();
            std::thread::spawn(move || {
                let _ = tx.send(s.shutdown(timeout));
            });
            let st = rx
                .recv_timeout(timeout + Duration::from_secs(10))
                .unwrap_or_else(|_| panic!("iteration {i}: shutdown({timeout:?}) hung"));
            let took = t0.elapsed();
            worst = worst.max(took.saturating_sub(timeout));
            assert!(
                took <= timeout + margin,
                "iteration {i}: shutdown({timeout:?}) took {took:?}"
            );
            let left = spooled_lines(dir.path()).len() as u64;
            assert_eq!(st.delivered + left, sent, "iteration {i}: {st:?}");
            assert_eq!(st.pending, left, "iteration {i}: {st:?}");
            assert_eq!(st.spool_dropped, 0, "iteration {i}: {st:?}");
            if i % 3 != 0 {
                assert_eq!(st.delivered, 0, "iteration {i}: {st:?}");
            }
        }
        // At least once: the analyzer may hold a batch whose answer came too late.
        assert!(slow.acked.load(Ordering::Relaxed) > 0);
        assert!(worst <= margin, "{worst:?}");
    }

    /// Point 6 of issue 13: lines waited in a queue of 10,000 while the one
    /// shipper thread was stuck in a request, and what did not fit was lost.
    /// Now a writer appends to the spool itself: with an analyzer that never
    /// answers, 30,000 lines are all spooled, at disk speed.
    #[test]
    fn a_silent_analyzer_neither_stalls_the_writer_nor_loses_a_line() {
        let analyzer = FakeAnalyzer::start(Answer::Silent);
        let dir = tempfile::tempdir().expect("tempdir");
        let mut c = cfg(dir.path());
        c.url = analyzer.url.clone();
        c.timeout = Duration::from_secs(30);
        let s = Shipper::start(c).expect("start");
        let t0 = Instant::now();
        for n in 0..30_000 {
            assert!(s.send_line(alert_line(n).as_bytes()), "line {n}");
        }
        let took = t0.elapsed();
        assert!(took < Duration::from_secs(15), "{took:?}");
        let st = s.shutdown(Duration::ZERO);
        assert_eq!(
            (st.spooled, st.spool_dropped, st.delivered, st.pending),
            (30_000, 0, 0, 30_000),
            "{st:?}"
        );
        assert_eq!(spooled_lines(dir.path()).len(), 30_000);
    }

    /// Offline, a full spool holds the writer back while the analyzer takes
    /// batches: nothing is dropped, however small the spool.
    #[test]
    fn a_full_spool_waits_for_a_slow_analyzer_and_drops_nothing() {
        let analyzer = FakeAnalyzer::start(Answer::Slow(Duration::from_millis(5)));
        let dir = tempfile::tempdir().expect("tempdir");
        let mut c = cfg(dir.path());
        c.url = analyzer.url.clone();
        c.when_full = WhenFull::Wait;
        c.spool_max_bytes = 8 << 10;
        c.batch_lines = 25;
        c.timeout = Duration::from_secs(5);
        let s = Shipper::start(c).expect("start");
        for n in 0..3000 {
            assert!(s.send_line(alert_line(n).as_bytes()), "line {n}");
            assert!(s.stats().spool_bytes <= 8 << 10);
        }
        assert!(s.drain(), "{:?}", s.stats());
        let st = s.shutdown(Duration::from_secs(1));
        assert_eq!(
            (st.delivered, st.spool_dropped, st.pending),
            (3000, 0, 0),
            "{st:?}"
        );
        assert!(st.held_back > 0, "the spool never filled: {st:?}");
        assert_eq!(analyzer.acked.load(Ordering::Relaxed), 3000);
    }

    /// Offline with the analyzer down for good, a full spool holds the
    /// writer back for `give_up` (the requests failing all along), then
    /// drops the oldest lines instead of waiting forever; every line is
    /// accounted for.
    #[test]
    fn a_full_spool_told_to_wait_drops_once_the_give_up_bound_passed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut c = cfg(dir.path());
        c.when_full = WhenFull::Wait;
        c.spool_max_bytes = 4 << 10;
        c.batch_lines = 10;
        c.give_up = Some(Duration::from_millis(400));
        let s = Shipper::start(c).expect("start");
        let t0 = Instant::now();
        let mut lost = 0;
        for n in 0..2000 {
            if !s.send_line(alert_line(n).as_bytes()) {
                lost += 1;
            }
        }
        let took = t0.elapsed();
        // It waited for the bound, and not much longer.
        assert!(took >= Duration::from_millis(400), "{took:?}");
        assert!(took < Duration::from_secs(20), "{took:?}");
        // Given up: the drain does not wait either.
        let t1 = Instant::now();
        assert!(!s.drain());
        assert!(t1.elapsed() < Duration::from_millis(100));
        let st = s.shutdown(Duration::ZERO);
        assert!(st.held_back > 0, "{st:?}");
        assert!(st.failures > 1, "{st:?}");
        assert!(st.spool_dropped > 1000, "{st:?}");
        assert!(st.spool_dropped >= lost);
        assert_eq!(st.spool_dropped + st.pending, 2000, "{st:?}");
        assert_eq!(st.pending as usize, spooled_lines(dir.path()).len());
        // The newest lines are the ones kept.
        let last = spooled_lines(dir.path()).pop().expect("a line");
        assert!(last.contains(r#""alert_id":"a1999""#), "{last}");
    }

    /// One failed request while the spool was
    /// full made an offline writer drop. Now, with the analyzer down for two
    /// seconds (connections refused) and then up, the writer waits through
    /// the failures and every line is delivered.
    #[test]
    fn a_full_spool_told_to_wait_rides_out_an_analyzer_down_for_a_while() {
        let port = {
            let l = TcpListener::bind("127.0.0.1:0").expect("bind");
            l.local_addr().expect("addr").port()
        };
        let dir = tempfile::tempdir().expect("tempdir");
        let mut c = cfg(dir.path());
        c.url = format!("http://127.0.0.1:{port}");
        c.when_full = WhenFull::Wait;
        c.spool_max_bytes = 8 << 10;
        c.batch_lines = 25;
        c.backoff_max = Duration::from_millis(200);
        c.timeout = Duration::from_secs(5);
        c.give_up = Some(Duration::from_secs(60));
        let s = Shipper::start(c).expect("start");
        let up = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs(2));
            FakeAnalyzer::start_on(port, Answer::Slow(Duration::ZERO))
        });
        let t0 = Instant::now();
        for n in 0..3000 {
            assert!(s.send_line(alert_line(n).as_bytes()), "line {n}");
        }
        // The writer could not have finished before the analyzer came up.
        assert!(t0.elapsed() >= Duration::from_secs(2));
        assert!(s.drain(), "{:?}", s.stats());
        let analyzer = up.join().expect("analyzer");
        let st = s.shutdown(Duration::from_secs(1));
        assert_eq!(
            (st.delivered, st.spool_dropped, st.pending, st.rejected),
            (3000, 0, 0, 0),
            "{st:?}"
        );
        assert!(st.failures > 0 && st.held_back > 0, "{st:?}");
        assert_eq!(analyzer.acked.load(Ordering::Relaxed), 3000);
    }

    /// D9: a 413 was retried for ever on the same batch. Now the request is
    /// halved until the analyzer takes it, and later ones keep to that size:
    /// every line arrives, in requests of at most 1000 bytes.
    #[test]
    fn a_413_halves_the_request_until_the_analyzer_takes_it() {
        let analyzer = FakeAnalyzer::start(Answer::LimitBytes(1000));
        let dir = tempfile::tempdir().expect("tempdir");
        let mut c = cfg(dir.path());
        c.url = analyzer.url.clone();
        c.batch_lines = 100;
        c.timeout = Duration::from_secs(5);
        let s = Shipper::start(c).expect("start");
        for n in 0..500 {
            assert!(s.send_line(alert_line(n).as_bytes()), "line {n}");
        }
        assert!(s.drain(), "{:?}", s.stats());
        let st = s.shutdown(Duration::from_secs(1));
        assert_eq!(
            (st.delivered, st.rejected, st.spool_dropped, st.pending),
            (500, 0, 0, 0),
            "{st:?}"
        );
        // Each line is about 90 bytes: a batch of 100 had to be cut in many.
        assert!(st.batches >= 45, "{st:?}");
        assert_eq!(analyzer.acked.load(Ordering::Relaxed), 500);
        let largest = analyzer.largest.load(Ordering::Relaxed);
        assert!(largest > 0 && largest <= 1000, "{largest}");
        assert!(spooled_lines(dir.path()).is_empty());
    }

    /// A line that alone is larger than the analyzer takes cannot be split:
    /// it is refused (counted in `rejected`), and the lines around it arrive.
    #[test]
    fn a_line_too_large_for_the_analyzer_is_refused_and_the_rest_delivered() {
        let analyzer = FakeAnalyzer::start(Answer::LimitBytes(300));
        let dir = tempfile::tempdir().expect("tempdir");
        let mut c = cfg(dir.path());
        c.url = analyzer.url.clone();
        c.timeout = Duration::from_secs(5);
        let s = Shipper::start(c).expect("start");
        let big = format!(
            r#"{{"event_type":"alert","alert_id":"big","pad":"{}"}}"#,
            "p".repeat(400)
        );
        for n in 0..10 {
            assert!(s.send_line(alert_line(n).as_bytes()));
            if n == 4 {
                assert!(s.send_line(big.as_bytes()));
            }
        }
        assert!(s.drain(), "{:?}", s.stats());
        let st = s.shutdown(Duration::from_secs(1));
        assert_eq!(
            (st.delivered, st.rejected, st.spool_dropped, st.pending),
            (10, 1, 0, 0),
            "{st:?}"
        );
        assert_eq!(analyzer.acked.load(Ordering::Relaxed), 10);
    }

    /// D9: a 401 or 403 is no reason to drop anything: the lines stay in the
    /// spool, retried with backoff, and a drain stops waiting once requests
    /// have failed for `give_up`.
    #[test]
    fn a_401_or_403_keeps_the_lines_in_the_spool_and_the_drain_is_bounded() {
        for status in [401, 403] {
            let analyzer = FakeAnalyzer::start(Answer::Status(status));
            let dir = tempfile::tempdir().expect("tempdir");
            let mut c = cfg(dir.path());
            c.url = analyzer.url.clone();
            c.when_full = WhenFull::Wait;
            c.timeout = Duration::from_secs(5);
            c.give_up = Some(Duration::from_millis(500));
            let s = Shipper::start(c).expect("start");
            for n in 0..50 {
                assert!(s.send_line(alert_line(n).as_bytes()));
            }
            let t0 = Instant::now();
            assert!(!s.drain(), "{status}: {:?}", s.stats());
            let took = t0.elapsed();
            assert!(
                took >= Duration::from_millis(300) && took < Duration::from_secs(5),
                "{status}: {took:?}"
            );
            let st = s.shutdown(Duration::ZERO);
            assert_eq!(
                (st.delivered, st.rejected, st.spool_dropped, st.pending),
                (0, 0, 0, 50),
                "{status}: {st:?}"
            );
            assert!(st.failures > 1, "{status}: {st:?}");
            assert_eq!(spooled_lines(dir.path()).len(), 50);
        }
    }

    /// With no bound (`--ship-give-up 0`), a drain waits as long as the
    /// analyzer fails, here 2 s of 503s, far past a bound of 300 ms.
    #[test]
    fn a_drain_with_no_give_up_bound_waits_until_the_analyzer_takes_the_lines() {
        let analyzer = FakeAnalyzer::start(Answer::StatusFor(503, Duration::from_secs(2)));
        let dir = tempfile::tempdir().expect("tempdir");
        let mut c = cfg(dir.path());
        c.url = analyzer.url.clone();
        c.give_up = None;
        let s = Shipper::start(c).expect("start");
        for n in 0..20 {
            assert!(s.send_line(alert_line(n).as_bytes()));
        }
        let t0 = Instant::now();
        assert!(s.drain(), "{:?}", s.stats());
        assert!(t0.elapsed() >= Duration::from_millis(1500));
        let st = s.shutdown(Duration::ZERO);
        assert_eq!((st.delivered, st.pending), (20, 0), "{st:?}");
        assert!(st.failures > 1, "{st:?}");
        assert_eq!(analyzer.acked.load(Ordering::Relaxed), 20);
    }

    #[test]
    fn drops_the_lines_a_400_names_and_delivers_the_rest() {
        let analyzer = FakeAnalyzer::start(Answer::RejectSecondLineOnce);
        let dir = tempfile::tempdir().expect("tempdir");
        let mut c = cfg(dir.path());
        c.url = analyzer.url.clone();
        c.timeout = Duration::from_secs(5);
        let s = Shipper::start(c).expect("start");
        for n in 0..5 {
            assert!(s.send_line(alert_line(n).as_bytes()));
        }
        assert!(s.drain(), "{:?}", s.stats());
        let st = s.shutdown(Duration::from_secs(1));
        assert_eq!(
            (
                st.delivered,
                st.rejected,
                st.batches,
                st.pending,
                st.spool_bytes
            ),
            (4, 1, 1, 0, 0),
            "{st:?}"
        );
        assert_eq!(analyzer.acked.load(Ordering::Relaxed), 4);
        assert!(spooled_lines(dir.path()).is_empty());
    }

    #[test]
    fn reads_bad_line_numbers() {
        assert_eq!(
            bad_lines(r#"{"error":"x","lines":[{"line":2,"error":"e"},{"line":5,"error":"e"}]}"#),
            Some(vec![2, 5])
        );
        assert_eq!(bad_lines("oops"), None);
        assert_eq!(without_lines(b"a\nb\nc\n", &[2]), (b"a\nc\n".to_vec(), 1));
    }

    #[test]
    fn a_cut_request_holds_whole_lines_and_at_least_one() {
        let body = b"aaaa\nbb\ncccccc\n";
        assert_eq!(prefix_len(body, 100), body.len());
        assert_eq!(prefix_len(body, 8), 8); // "aaaa\nbb\n"
        assert_eq!(prefix_len(body, 7), 5); // "aaaa\n"
        assert_eq!(prefix_len(body, 1), 5); // the first line alone
        assert_eq!(prefix_len(b"no line break", 3), 13);
        assert_eq!(count_in(b"a\n\n b\n"), 2);
        assert_eq!(
            first_error(r#"{"lines":[{"line":1,"error":"bad \"x\""}]}"#),
            r#""bad \"x\"""#
        );
        assert_eq!(first_error("oops"), "the analyzer gave no reason");
    }
}
