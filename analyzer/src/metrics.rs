//! Prometheus counters of the analyzer (`/metrics`).
//!
//! Served as OpenMetrics when the scraper asks for it (`Accept:
//! application/openmetrics-text`, what Prometheus sends), else in the
//! Prometheus text format 0.0.4 (what `promtool check metrics`, curl and
//! older scrapers read). Every family is there from the start, with its
//! known label values at zero; the process metrics Prometheus' client
//! libraries define (`process_cpu_seconds_total`, memory, file descriptors,
//! start time) and `otwatch_analyzer_build_info` come with them.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// Kernel clock ticks per second of /proc times (USER_HZ, 100 on Linux).
const TICKS_PER_SECOND: f64 = 100.0;

/// The process metrics of Prometheus' client libraries, from /proc/self, in
/// OpenMetrics form; a value /proc does not give is left out.
fn process_metrics(out: &mut String) {
    use std::fmt::Write;
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // After the command name in parentheses: state is field 3, utime 14,
    // stime 15, starttime 22, vsize 23 (proc(5)).
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let field = |n: usize| fields.get(n - 3).and_then(|v| v.parse::<f64>().ok());
    let mut family = |name: &str, kind: &str, help: &str, sample: &str, value: Option<f64>| {
        if let Some(v) = value {
            let _ = write!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{sample} {v}\n"
            );
        }
    };
    let cpu = match (field(14), field(15)) {
        (Some(u), Some(s)) => Some((u + s) / TICKS_PER_SECOND),
        _ => None,
    };
    family(
        "process_cpu_seconds",
        "counter",
        "Total user and system CPU time spent in seconds.",
        "process_cpu_seconds_total",
        cpu,
    );
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map(|kb| kb * 1024.0);
    family(
        "process_resident_memory_bytes",
        "gauge",
        "Resident memory size in bytes.",
        "process_resident_memory_bytes",
        rss,
    );
    family(
        "process_virtual_memory_bytes",
        "gauge",
        "Virtual memory size in bytes.",
        "process_virtual_memory_bytes",
        field(23),
    );
    let fds = std::fs::read_dir("/proc/self/fd")
        .ok()
        .map(|d| d.count() as f64);
    family(
        "process_open_fds",
        "gauge",
        "Number of open file descriptors.",
        "process_open_fds",
        fds,
    );
    let max_fds = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| l.split_whitespace().nth(3))
                .and_then(|v| v.parse::<f64>().ok())
        });
    family(
        "process_max_fds",
        "gauge",
        "Maximum number of open file descriptors.",
        "process_max_fds",
        max_fds,
    );
    let boot = std::fs::read_to_string("/proc/stat").ok().and_then(|t| {
        t.lines()
            .find_map(|l| l.strip_prefix("btime "))
            .and_then(|v| v.trim().parse::<f64>().ok())
    });
    let start = match (boot, field(22)) {
        (Some(b), Some(t)) => Some(b + t / TICKS_PER_SECOND),
        _ => None,
    };
    family(
        "process_start_time_seconds",
        "gauge",
        "Start time of the process since unix epoch in seconds.",
        "process_start_time_seconds",
        start,
    );
}

/// OpenMetrics text as the Prometheus text format 0.0.4: a counter family
/// is named with its `_total` (as its samples are), and the `# UNIT` and
/// `# EOF` lines, which 0.0.4 does not have, are left out.
fn to_text_004(om: &str) -> String {
    let lines: Vec<&str> = om.lines().collect();
    let counters: std::collections::HashSet<&str> = lines
        .iter()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|rest| rest.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(om.len() + 256);
    for l in lines {
        if l.starts_with("# UNIT ") || l == "# EOF" {
            continue;
        }
        let meta = ["# HELP ", "# TYPE "]
            .iter()
            .find_map(|p| l.strip_prefix(p).map(|rest| (*p, rest)));
        match meta {
            Some((p, rest)) => {
                let (name, tail) = rest.split_once(' ').unwrap_or((rest, ""));
                out.push_str(p);
                out.push_str(name);
                if counters.contains(name) {
                    out.push_str("_total");
                }
                out.push(' ');
                out.push_str(tail);
            }
            None => out.push_str(l),
        }
        out.push('\n');
    }
    out
}

type Labels = Vec<(String, String)>;

/// Every counter, cheap to update from any thread.
pub(crate) struct Metrics {
    registry: Registry,
    pub(crate) ingest_requests: Family<Labels, Counter>,
    pub(crate) ingest_lines: Family<Labels, Counter>,
    pub(crate) alerts_stored: Counter,
    pub(crate) alerts_duplicate: Counter,
    pub(crate) alerts_deleted: Family<Labels, Counter>,
    pub(crate) identity_changes: Counter,
    pub(crate) state_changes: Counter,
    pub(crate) groups_created: Counter,
    pub(crate) group_state_changes: Counter,
    pub(crate) store_alerts: Gauge,
    pub(crate) store_groups: Gauge,
    pub(crate) open_groups: Gauge,
    pub(crate) store_bytes: Gauge,
    pub(crate) store_file_bytes: Gauge,
    pub(crate) commits: Counter,
    pub(crate) store_write_errors: Counter,
    pub(crate) store_failing: Gauge,
    pub(crate) stream_clients: Gauge,
    pub(crate) stream_skipped: Counter,
    pub(crate) export_sent: Family<Labels, Counter>,
    pub(crate) export_errors: Family<Labels, Counter>,
    pub(crate) export_skipped: Family<Labels, Counter>,
    pub(crate) export_backlog: Family<Labels, Gauge>,
    pub(crate) export_lag: Family<Labels, Gauge>,
    pub(crate) http_duration: Family<Labels, Histogram, fn() -> Histogram>,
}

/// Buckets of the HTTP request durations: 0.5 ms to about 16 s.
fn http_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

/// The API resources, the `handler` label of the HTTP metrics (a bounded
/// set: anything else is `ui` or `other`).
const API_RESOURCES: &[&str] = &[
    "alerts",
    "assets",
    "baseline",
    "counts",
    "ingest",
    "login",
    "logout",
    "overrides",
    "protocols",
    "rules",
    "sensors",
    "stats",
    "stream",
];

/// The `handler` label of a request path: `/api/v1/RESOURCE`, `/metrics`,
/// `/healthz`, `ui` for the UI's files, `other` for the rest.
pub(crate) fn handler_of(path: &str) -> &'static str {
    if let Some(rest) = path.strip_prefix("/api/v1/") {
        let first = rest.split('/').next().unwrap_or("");
        return API_RESOURCES
            .iter()
            .find(|r| **r == first)
            .copied()
            .unwrap_or("other");
    }
    match path {
        "/metrics" => "metrics",
        "/healthz" => "healthz",
        p if p.starts_with("/api/") => "other",
        _ => "ui",
    }
}

/// One label pair.
pub(crate) fn label(k: &str, v: &str) -> Labels {
    vec![(k.to_string(), v.to_string())]
}

impl Metrics {
    pub(crate) fn new() -> Metrics {
        let mut registry = Registry::with_prefix("otwatch_analyzer");
        let m = Metrics {
            registry: Registry::default(),
            ingest_requests: Family::default(),
            ingest_lines: Family::default(),
            alerts_stored: Counter::default(),
            alerts_duplicate: Counter::default(),
            alerts_deleted: Family::default(),
            identity_changes: Counter::default(),
            state_changes: Counter::default(),
            groups_created: Counter::default(),
            group_state_changes: Counter::default(),
            store_alerts: Gauge::default(),
            store_groups: Gauge::default(),
            open_groups: Gauge::default(),
            store_bytes: Gauge::default(),
            store_file_bytes: Gauge::default(),
            commits: Counter::default(),
            store_write_errors: Counter::default(),
            store_failing: Gauge::default(),
            stream_clients: Gauge::default(),
            stream_skipped: Counter::default(),
            export_sent: Family::default(),
            export_errors: Family::default(),
            export_skipped: Family::default(),
            export_backlog: Family::default(),
            export_lag: Family::default(),
            http_duration: Family::new_with_constructor(http_histogram),
        };
        let r = &mut registry;
        r.register(
            "ingest_requests",
            "Ingest requests by result",
            m.ingest_requests.clone(),
        );
        r.register(
            "ingest_lines",
            "Ingested lines by event type (rejected: refused lines)",
            m.ingest_lines.clone(),
        );
        r.register("alerts_stored", "Alerts stored", m.alerts_stored.clone());
        r.register(
            "alerts_duplicate",
            "Alerts received again and not stored twice",
            m.alerts_duplicate.clone(),
        );
        r.register(
            "alerts_deleted",
            "Alerts deleted by retention, by reason",
            m.alerts_deleted.clone(),
        );
        r.register(
            "identity_changes",
            "Asset identity changes raised as alerts",
            m.identity_changes.clone(),
        );
        r.register(
            "state_changes",
            "Alert state changes",
            m.state_changes.clone(),
        );
        r.register(
            "alert_groups_created",
            "Alert groups started (an alert of a rule, source, destination and sensor with no open group within an hour)",
            m.groups_created.clone(),
        );
        r.register(
            "alert_group_state_changes",
            "State changes applied to a whole alert group",
            m.group_state_changes.clone(),
        );
        r.register(
            "store_alerts",
            "Alerts in the store",
            m.store_alerts.clone(),
        );
        r.register(
            "store_alert_groups",
            "Alert groups in the store",
            m.store_groups.clone(),
        );
        r.register(
            "store_alert_groups_open",
            "Alert groups in the store with a member that is not closed",
            m.open_groups.clone(),
        );
        r.register(
            "store_bytes",
            "Estimated live bytes of the store",
            m.store_bytes.clone(),
        );
        r.register(
            "store_file_bytes",
            "Size of the store file",
            m.store_file_bytes.clone(),
        );
        r.register("commits", "Store transactions committed", m.commits.clone());
        r.register(
            "store_write_errors",
            "Store transactions that failed (a full disk, an I/O error); their requests were answered 503",
            m.store_write_errors.clone(),
        );
        r.register(
            "store_failing",
            "1 while store writes fail (ingest answers 503 and /healthz reports degraded), else 0",
            m.store_failing.clone(),
        );
        r.register(
            "stream_clients",
            "Connected live-stream clients",
            m.stream_clients.clone(),
        );
        r.register(
            "stream_skipped",
            "Alerts a slow live-stream client skipped",
            m.stream_skipped.clone(),
        );
        r.register(
            "export_sent",
            "Alerts delivered, by exporter: acknowledged by the receiver (TCP, TLS, RELP), written (EVE file) or sent (UDP)",
            m.export_sent.clone(),
        );
        r.register(
            "export_errors",
            "Export failures (each retried), by exporter",
            m.export_errors.clone(),
        );
        r.register(
            "export_backlog",
            "Stored alerts an exporter has not delivered yet, by exporter",
            m.export_backlog.clone(),
        );
        r.register(
            "export_lag_seconds",
            "Age of the oldest alert an exporter has not delivered (0: none waiting), by exporter",
            m.export_lag.clone(),
        );
        r.register(
            "http_request_duration_seconds",
            "Time to answer HTTP requests, by handler, method and status class",
            m.http_duration.clone(),
        );
        r.register(
            "export_skipped",
            "Alerts deleted by retention before an exporter sent them, by exporter",
            m.export_skipped.clone(),
        );
        Metrics { registry, ..m }
    }

    /// Creates the samples of every label value known before it occurs, so
    /// that a family is visible (at zero) before its first event.
    pub(crate) fn preset(&self, exporters: &[String]) {
        for r in ["ok", "bad_request", "unavailable", "unauthorized"] {
            let _ = self.ingest_requests.get_or_create(&label("result", r));
        }
        for t in ["alert", "asset", "stats", "other", "rejected"] {
            let _ = self.ingest_lines.get_or_create(&label("type", t));
        }
        for r in ["age", "size"] {
            let _ = self.alerts_deleted.get_or_create(&label("reason", r));
        }
        for name in exporters {
            let l = label("exporter", name);
            let _ = self.export_sent.get_or_create(&l);
            let _ = self.export_errors.get_or_create(&l);
            let _ = self.export_skipped.get_or_create(&l);
            let _ = self.export_backlog.get_or_create(&l);
            let _ = self.export_lag.get_or_create(&l);
        }
    }

    /// The exposition: OpenMetrics 1.0 when `openmetrics`, else the
    /// Prometheus text format 0.0.4.
    pub(crate) fn render(&self, openmetrics: bool) -> String {
        let mut out = String::new();
        if encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        // Before the closing `# EOF`: the process and build metrics.
        if let Some(cut) = out.rfind("# EOF") {
            out.truncate(cut);
        }
        process_metrics(&mut out);
        out.push_str(&format!(
            "# HELP otwatch_analyzer_build_info The running version (always 1).\n\
             # TYPE otwatch_analyzer_build_info gauge\n\
             otwatch_analyzer_build_info{{version=\"{}\"}} 1\n",
            env!("CARGO_PKG_VERSION")
        ));
        if openmetrics {
            out.push_str("# EOF\n");
            out
        } else {
            to_text_004(&out)
        }
    }
}
