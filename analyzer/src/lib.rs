//! otwatch-analyzer: stores the alerts sensors send, serves them over HTTP and
//! forwards them to a SOC.
//!
//! * [`config`]: the YAML configuration, validated with every error at once.
//! * `ingest`: NDJSON batches of EVE lines from sensors (all-or-nothing).
//! * `store`: the redb store, its indexes, counts and filtered queries.
//! * `writer`: the one thread that writes, grouping requests into durable commits.
//! * `record`: the stored form of an alert; [`State`] of triage.
//! * `groups`: alert groups (one rule, source, destination and sensor within
//!   an hour), triaged together.
//! * [`assets`]: the asset inventory and the identity-changed alert.
//! * `api`: the HTTP API (`/api/v1`, `/metrics`, `/healthz`), live stream (SSE).
//! * [`auth`]: who may call which route (API token, ingest tokens, the UI's
//!   session cookie), where the API token comes from.
//! * `http`: the HTTP/1.1 server under the routes (connection cap, header and
//!   idle timeouts).
//! * [`export`]: syslog (RFC 5424, CEF; UDP, TCP, TLS) and EVE file exports.
//! * [`rules`]: the rules the sensors run, shown with hit counts.
//! * [`baseline`]: the learned baseline under review: the embedder's file
//!   and state, deviation alerts grouped for Accept.
//! * [`overrides`]: the analyst's rule overrides file (suppressions of a
//!   rule for a source or a pair), changed through the API.
//! * `protocols`: the decoded protocols, from `otwatch-proto`'s registry
//!   (the EVE objects an alert may carry, `/api/v1/protocols`).
//! * [`time`]: RFC 3339 timestamps as microseconds.
//!
//! Entry points: [`serve`] runs everything until a shutdown future resolves;
//! [`Analyzer`] is the cloneable handle for embedding (`otwatch run`): open it,
//! give it rules, feed it EVE lines in-process or over HTTP, serve its router.
//! Its calls answer with named reports ([`IngestReport`], [`StateReport`],
//! [`RetentionReport`]) and typed errors ([`IngestError`], [`WriteError`],
//! [`LoadError`], [`Error`]). The HTTP API is listed in `analyzer/README.md`.

#![forbid(unsafe_code)]

mod api;
pub mod assets;
pub mod auth;
pub mod baseline;
pub mod config;
pub mod export;
mod groups;
mod http;
mod ingest;
mod metrics;
pub mod overrides;
mod protocols;
mod record;
mod render;
pub mod rules;
mod store;
pub mod time;
pub mod ui;
mod writer;

/// Creates `dir` (and its missing parents) readable by this user only
/// (mode 0700); an existing folder is left as it is. The data directory
/// holds the alerts and the API token.
pub fn private_dir(dir: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

/// Entry points for the fuzz targets (`fuzz/`), compiled only when fuzzing.
#[cfg(fuzzing)]
pub mod fuzzing {
    /// Parses an ingest request body as the ingest endpoint does; every
    /// alert of an accepted batch is walked.
    pub fn parse_batch(body: &[u8]) {
        if let Ok(batch) = crate::ingest::parse_batch(body) {
            for alert in batch.alert_refs() {
                let _ = alert;
            }
        }
    }
}

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, RwLock};

use tokio::sync::{broadcast, mpsc, oneshot, watch};

pub use baseline::{BaselineHook, BaselineState};
pub use config::{Config, ConfigError, LoadError};
pub use ingest::LineError;
pub use overrides::OverridesHook;
pub use record::State;
pub use rules::RuleInfo;
pub use store::{Filter, IngestReport, StoreError};
pub use writer::RetentionReport;

use metrics::Metrics;
use store::Store;
use writer::{Hooks, Op, Published};

/// Why the analyzer could not start or run.
#[derive(Debug)]
pub enum Error {
    /// The configuration is invalid (every problem).
    Config(Vec<ConfigError>),
    /// The store could not be opened or written.
    Store(StoreError),
    /// A socket or file failed.
    Io(std::io::Error),
    /// The API token could not be found, read or made.
    Access(String),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Config(errs) => write_list(f, "invalid configuration:", errs),
            Error::Store(e) => e.fmt(f),
            Error::Io(e) => write!(f, "{e}"),
            Error::Access(e) => write!(f, "API token: {e}"),
        }
    }
}

impl std::error::Error for Error {}

/// Writes `head`, then each item on a line of its own, indented.
fn write_list<T: std::fmt::Display>(
    f: &mut std::fmt::Formatter<'_>,
    head: &str,
    items: &[T],
) -> std::fmt::Result {
    f.write_str(head)?;
    for item in items {
        write!(f, "\n  {item}")?;
    }
    Ok(())
}

/// Why a write to the store (an ingest, a state change, a retention pass)
/// did not happen. The HTTP API answers each with a 503 whose `error` is the
/// [`Display`](std::fmt::Display) text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteError {
    /// Shutdown was signalled: new requests are refused (`shutting down`).
    ShuttingDown,
    /// The writer thread has stopped (`store stopped`).
    Stopped,
    /// The store refused the write: `store write failed: CAUSE`, with
    /// `; retrying` while the writer waits to try a failing disk again.
    Store(String),
}

impl std::fmt::Display for WriteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WriteError::ShuttingDown => f.write_str("shutting down"),
            WriteError::Stopped => f.write_str("store stopped"),
            WriteError::Store(reason) => f.write_str(reason),
        }
    }
}

impl std::error::Error for WriteError {}

/// Why an ingest was refused.
#[derive(Debug)]
pub enum IngestError {
    /// Bad lines (1-based numbers); nothing of the batch was stored.
    Lines(Vec<LineError>),
    /// The store failed or is shutting down.
    Unavailable(WriteError),
}

impl std::fmt::Display for IngestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IngestError::Lines(lines) => {
                write_list(f, "invalid lines; nothing of this batch was stored:", lines)
            }
            IngestError::Unavailable(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for IngestError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            IngestError::Lines(_) => None,
            IngestError::Unavailable(e) => Some(e),
        }
    }
}

/// What a state change did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StateReport {
    /// Alerts whose state was set (an id listed twice counts twice).
    pub updated: u64,
    /// The ids given that name no stored alert, in the order given.
    pub not_found: Vec<u64>,
}

struct Inner {
    config: Config,
    /// The accepted credentials and the browser sessions.
    access: auth::Access,
    store: Arc<Store>,
    ops: mpsc::Sender<Op>,
    /// Replaced whole by `set_rules`, read by the rules endpoint: a plain
    /// lock held only to clone or swap the list.
    rules: RwLock<Arc<Vec<RuleInfo>>>,
    /// The baseline under review, replaced whole by the embedder: a plain
    /// lock held only to clone or swap it.
    review: RwLock<baseline::Review>,
    /// Held by an Accept from reading the baseline file to reloading it, so
    /// that two Accepts do not lose each other's entry.
    accepting: Mutex<()>,
    /// The overrides file, set by the embedder: a plain lock held only to
    /// clone or swap it.
    overrides: RwLock<Option<OverridesHook>>,
    /// Held by a change of the overrides file from reading it to reloading
    /// it, so that two changes do not lose each other's entry.
    tuning: Mutex<()>,
    stream: broadcast::Sender<Arc<Published>>,
    committed: watch::Receiver<u64>,
    metrics: Arc<Metrics>,
    shutdown: watch::Sender<bool>,
    /// Ingest requests being parsed or queued (the writer waits for them to
    /// group commits).
    incoming: Arc<std::sync::atomic::AtomicUsize>,
    /// Where each export is (retention counts what they miss).
    export_cursors: export::Cursors,
    /// Taken once by `close`.
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
}

/// The analyzer: a cloneable handle on the store, the writer thread and the
/// live stream. Everything it owns stops with [`Analyzer::close`].
#[derive(Clone)]
pub struct Analyzer {
    inner: Arc<Inner>,
}

impl Analyzer {
    /// Validates `config`, opens the store and starts the writer thread.
    pub fn open(config: Config) -> Result<Analyzer, Error> {
        config.validate().map_err(Error::Config)?;
        let store = Arc::new(Store::open(&config.data_dir).map_err(Error::Store)?);
        // A store from before alert groups: its alerts go into groups once.
        let regrouped = store.regroup().map_err(Error::Store)?;
        if regrouped > 0 {
            eprintln!(
                "otwatch analyzer: put {regrouped} alerts stored before alert groups existed into groups"
            );
        }
        // After the store: the data directory exists for a generated token.
        let access = auth::Access::new(&config)?;
        let (ops_tx, ops_rx) = mpsc::channel(256);
        let (stream, _) = broadcast::channel(config.stream_buffer);
        let last = store.last_id().map_err(Error::Store)?;
        let (committed_tx, committed) = watch::channel(last);
        let metrics = Arc::new(Metrics::new());
        let incoming = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let export_cursors = export::Cursors::default();
        let writer = writer::spawn(
            store.clone(),
            ops_rx,
            Hooks {
                stream: stream.clone(),
                committed: committed_tx,
                metrics: metrics.clone(),
                data_dir: config.data_dir.clone(),
                incoming: incoming.clone(),
                export_cursors: export_cursors.clone(),
            },
        );
        let (shutdown, _) = watch::channel(false);
        let rules = RwLock::new(Arc::new(config.rules.clone()));
        Ok(Analyzer {
            inner: Arc::new(Inner {
                config,
                access,
                store,
                ops: ops_tx,
                rules,
                review: RwLock::new(baseline::Review::default()),
                accepting: Mutex::new(()),
                overrides: RwLock::new(None),
                tuning: Mutex::new(()),
                stream,
                committed,
                metrics,
                shutdown,
                incoming,
                export_cursors,
                writer: Mutex::new(Some(writer)),
            }),
        })
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The API token in force: the configuration's `api_token`, else
    /// `$OTWATCH_API_TOKEN`, else `DATA_DIR/api-token` (made at first start).
    pub fn api_token(&self) -> &str {
        self.inner.access.api_token()
    }

    /// Where [`Analyzer::api_token`] came from.
    pub fn api_token_source(&self) -> auth::TokenSource {
        self.inner.access.source()
    }

    /// The store, for reads (writes go through the writer thread).
    pub(crate) fn store(&self) -> &Arc<Store> {
        &self.inner.store
    }

    /// The counters and gauges of `/metrics`.
    pub(crate) fn metrics(&self) -> &Arc<Metrics> {
        &self.inner.metrics
    }

    /// The accepted credentials and the browser sessions.
    pub(crate) fn access(&self) -> &auth::Access {
        &self.inner.access
    }

    /// Becomes `true` when shutdown is signalled.
    pub(crate) fn stopping(&self) -> watch::Receiver<bool> {
        self.inner.shutdown.subscribe()
    }

    /// The id of the last committed alert, changed after each commit.
    pub(crate) fn committed(&self) -> watch::Receiver<u64> {
        self.inner.committed.clone()
    }

    /// Where each export is.
    pub(crate) fn export_cursors(&self) -> &export::Cursors {
        &self.inner.export_cursors
    }

    /// A live-stream client: every alert committed from now on, and the
    /// shutdown signal. Counted in `otwatch_analyzer_stream_clients` while it
    /// lives.
    pub(crate) fn subscribe(&self) -> Subscription {
        let alerts = self.inner.stream.subscribe();
        self.inner.metrics.stream_clients.inc();
        Subscription {
            alerts,
            stop: self.stopping(),
            metrics: self.inner.metrics.clone(),
        }
    }

    /// Replaces the list of rules shown by `/api/v1/rules`.
    pub fn set_rules(&self, rules: Vec<RuleInfo>) {
        let mut guard = self.inner.rules.write().unwrap_or_else(|e| e.into_inner());
        *guard = Arc::new(rules);
    }

    /// The rules shown by `/api/v1/rules`.
    pub fn rules(&self) -> Arc<Vec<RuleInfo>> {
        self.inner
            .rules
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Sets the baseline file the review workflow (`/api/v1/baseline…`)
    /// downloads and changes, and what Accept calls to reload it (`None`:
    /// no file; deviations are still listed, Accept is refused). The state
    /// shown is set apart, with [`Analyzer::set_baseline_state`].
    pub fn set_baseline(&self, hook: Option<BaselineHook>) {
        let mut guard = self.inner.review.write().unwrap_or_else(|e| e.into_inner());
        guard.hook = hook;
    }

    /// Sets the overrides file `/api/v1/overrides` lists and changes, and
    /// what a change calls to have the sensor reload it (`None`: no file;
    /// the list is empty and changes are refused).
    pub fn set_overrides(&self, hook: Option<OverridesHook>) {
        let mut guard = self
            .inner
            .overrides
            .write()
            .unwrap_or_else(|e| e.into_inner());
        *guard = hook;
    }

    /// The overrides file, as set.
    pub fn overrides(&self) -> Option<OverridesHook> {
        self.inner
            .overrides
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Held while a change of the overrides file is made.
    pub(crate) fn tuning(&self) -> std::sync::MutexGuard<'_, ()> {
        self.inner.tuning.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sets where the sensor side is with its baseline: learning until a
    /// time, or enforcing since one (the deviations reviewed are those since
    /// then), or none. Call it again when learning ends.
    pub fn set_baseline_state(&self, state: BaselineState) {
        let mut guard = self.inner.review.write().unwrap_or_else(|e| e.into_inner());
        guard.state = state;
    }

    /// The baseline state last set.
    pub fn baseline_state(&self) -> BaselineState {
        self.review().state
    }

    /// The baseline file and state, as set.
    pub(crate) fn review(&self) -> baseline::Review {
        self.inner
            .review
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Held while an Accept changes the baseline file.
    pub(crate) fn accepting(&self) -> std::sync::MutexGuard<'_, ()> {
        self.inner
            .accepting
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Ingests an NDJSON body of EVE lines in-process (what `/api/v1/ingest`
    /// does after checking the token). Returns once the batch is durable.
    pub async fn ingest(&self, body: &[u8]) -> Result<IngestReport, IngestError> {
        let m = &self.inner.metrics;
        // Counted until the writer takes the batch, so that it can wait for
        // this one to group it with others into one commit.
        let incoming = &self.inner.incoming;
        incoming.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        let batch = ingest::parse_batch(body);
        if batch.is_err() {
            incoming.fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
        }
        let batch = match batch {
            Ok(b) => b,
            Err(lines) => {
                m.ingest_lines
                    .get_or_create(&metrics::label("type", "rejected"))
                    .inc_by(lines.len() as u64);
                return Err(IngestError::Lines(lines));
            }
        };
        for (t, n) in [
            ("alert", batch.alerts.len() as u64),
            ("asset", batch.assets.len() as u64),
            ("stats", batch.stats.len() as u64),
            ("other", batch.other),
        ] {
            m.ingest_lines
                .get_or_create(&metrics::label("type", t))
                .inc_by(n);
        }
        let (reply, rx) = oneshot::channel();
        if let Err(e) = self.send(Op::Ingest { batch, reply }).await {
            incoming.fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
            return Err(IngestError::Unavailable(e));
        }
        rx.await
            .map_err(|_| IngestError::Unavailable(WriteError::Stopped))?
            .map_err(IngestError::Unavailable)
    }

    pub(crate) async fn send(&self, op: Op) -> Result<(), WriteError> {
        if *self.inner.shutdown.borrow() {
            return Err(WriteError::ShuttingDown);
        }
        self.inner
            .ops
            .send(op)
            .await
            .map_err(|_| WriteError::Stopped)
    }

    /// Sets the state of alerts by API id, noting who did it and why.
    pub async fn set_state(
        &self,
        ids: Vec<u64>,
        state: State,
        by: &str,
        note: &str,
    ) -> Result<StateReport, WriteError> {
        let (reply, rx) = oneshot::channel();
        self.send(Op::SetState {
            ids,
            state,
            by: by.to_string(),
            note: note.to_string(),
            reply,
        })
        .await?;
        rx.await.map_err(|_| WriteError::Stopped)?
    }

    /// Sets the state of every member of group `group` (by API id), noting
    /// who did it and why; `None` when there is no such group.
    pub async fn set_group_state(
        &self,
        group: u64,
        state: State,
        by: &str,
        note: &str,
    ) -> Result<Option<StateReport>, WriteError> {
        let (reply, rx) = oneshot::channel();
        self.send(Op::SetGroupState {
            group,
            state,
            by: by.to_string(),
            note: note.to_string(),
            reply,
        })
        .await?;
        rx.await.map_err(|_| WriteError::Stopped)?
    }

    /// Runs retention once with the configured limits (all chunks).
    pub async fn run_retention(&self) -> Result<RetentionReport, WriteError> {
        let r = &self.inner.config.retention;
        self.retain(r.max_age.0, r.max_size.0).await
    }

    /// Deletes, oldest first, the alerts received longer than `max_age` ago,
    /// then more while the store's live data exceeds `max_bytes` (down to 90 %
    /// of it).
    pub async fn retain(
        &self,
        max_age: std::time::Duration,
        max_bytes: u64,
    ) -> Result<RetentionReport, WriteError> {
        let mut total = RetentionReport::default();
        let max_age_us = u64::try_from(max_age.as_micros()).unwrap_or(u64::MAX);
        loop {
            let (reply, rx) = oneshot::channel();
            self.send(Op::Retention {
                max_age_us,
                max_bytes,
                reply,
            })
            .await?;
            let chunk = rx.await.map_err(|_| WriteError::Stopped)??;
            total.add(&chunk.report);
            if !chunk.more {
                return Ok(total);
            }
        }
    }

    /// The HTTP routes (`/api/v1/…`, `/metrics`, `/healthz`) behind the
    /// access layer ([`auth`]). Unknown paths go to `ui` when given (the
    /// embedded web UI), else get a JSON 404.
    pub fn router(&self, ui: Option<axum::Router>) -> axum::Router {
        api::router(self.clone(), ui, None)
    }

    /// Serves on `listener` until `shutdown` resolves, with the retention task
    /// and the exports running; then stops them and closes the store. Alerts
    /// acknowledged to a sensor are durable before the acknowledgement.
    pub async fn run(
        self,
        listener: tokio::net::TcpListener,
        ui: Option<axum::Router>,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), Error> {
        let background = self.start_background();
        let stop = self.inner.shutdown.clone();
        let mut stopped = self.inner.shutdown.subscribe();
        tokio::spawn(async move {
            shutdown.await;
            stop.send_replace(true);
        });
        let port = listener.local_addr().ok().map(|a| a.port());
        let app = api::router(self.clone(), ui, port);
        let served = http::serve(listener, app, &self.inner.config.http, async move {
            let _ = stopped.wait_for(|s| *s).await;
        })
        .await;
        for task in background {
            let _ = task.await;
        }
        self.close().await;
        served.map_err(Error::Io)
    }

    /// Starts retention and exports; they end when shutdown is signalled.
    fn start_background(&self) -> Vec<tokio::task::JoinHandle<()>> {
        let mut tasks = export::start(self);
        let a = self.clone();
        tasks.push(tokio::spawn(async move {
            let mut stop = a.inner.shutdown.subscribe();
            let every = a.inner.config.retention.interval.0;
            loop {
                if let Err(e) = a.run_retention().await {
                    tracing::warn!("retention: {e}");
                }
                tokio::select! {
                    _ = tokio::time::sleep(every) => {}
                    _ = stop.wait_for(|s| *s) => return,
                }
            }
        }));
        tasks
    }

    /// Signals shutdown: the live streams end, new requests are refused.
    pub fn shutdown(&self) {
        self.inner.shutdown.send_replace(true);
    }

    /// Stops the writer after the requests already queued, and waits for it.
    pub async fn close(&self) {
        self.shutdown();
        let handle = self
            .inner
            .writer
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(h) = handle {
            let _ = self.inner.ops.send(Op::Stop).await;
            let _ = tokio::task::spawn_blocking(move || h.join()).await;
        }
    }
}

/// A client of the live stream ([`Analyzer::subscribe`]).
pub(crate) struct Subscription {
    /// Alerts as they are committed.
    pub(crate) alerts: broadcast::Receiver<Arc<Published>>,
    /// Becomes `true` at shutdown.
    pub(crate) stop: watch::Receiver<bool>,
    metrics: Arc<Metrics>,
}

impl Subscription {
    /// Counts `n` alerts this client fell too far behind to receive.
    pub(crate) fn skipped(&self, n: u64) {
        self.metrics.stream_skipped.inc_by(n);
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.metrics.stream_clients.dec();
    }
}

/// A bound, ready-to-run analyzer (for tests and embedding: the port is known
/// before serving starts).
pub struct Server {
    analyzer: Analyzer,
    listener: tokio::net::TcpListener,
}

impl Server {
    /// Opens the analyzer and binds `config.listen`.
    pub async fn bind(config: Config) -> Result<Server, Error> {
        let listen = config.listen;
        let analyzer = Analyzer::open(config)?;
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(Error::Io)?;
        Ok(Server { analyzer, listener })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    /// The analyzer handle.
    pub fn analyzer(&self) -> &Analyzer {
        &self.analyzer
    }

    /// Serves until `shutdown` resolves (see [`Analyzer::run`]).
    pub async fn run(
        self,
        ui: Option<axum::Router>,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), Error> {
        self.analyzer.run(self.listener, ui, shutdown).await
    }
}

/// Validates `config`, opens the store, listens on `config.listen` and serves
/// the API until `shutdown` resolves; then drains and closes everything.
pub async fn serve(
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    Server::bind(config).await?.run(None, shutdown).await
}
