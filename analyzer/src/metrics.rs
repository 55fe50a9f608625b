//! Prometheus counters of the analyzer (`/metrics`).

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

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
            "export_skipped",
            "Alerts deleted by retention before an exporter sent them, by exporter",
            m.export_skipped.clone(),
        );
        Metrics { registry, ..m }
    }

    /// The text exposition.
    pub(crate) fn render(&self) -> String {
        let mut out = String::new();
        if encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}
