//! Helpers shared by the analyzer's tests.
#![allow(dead_code, unreachable_pub, missing_docs)]

use std::net::SocketAddr;
use std::time::Duration;

use otwatch_analyzer::config::{Format, Framing, StartAt, SyslogConfig, Transport};
use otwatch_analyzer::{Analyzer, Config, Server};
use serde_json::{json, Value};

/// The ingest token of the test configurations.
pub const TOKEN: &str = "sensor-token-1";
/// The API token of the test configurations ([`config`]); [`get`] sends it.
pub const API_TOKEN: &str = "api-token-for-tests";

/// An analyzer serving on a port of its own, on a runtime of its own.
pub struct TestServer {
    pub addr: SocketAddr,
    pub analyzer: Analyzer,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TestServer {
    pub fn start(config: Config) -> TestServer {
        TestServer::start_with(config, false)
    }

    /// With the embedded web UI behind the API.
    pub fn start_ui(config: Config) -> TestServer {
        TestServer::start_with(config, true)
    }

    fn start_with(mut config: Config, ui: bool) -> TestServer {
        config.listen = "127.0.0.1:0".parse().expect("addr");
        let (tx, rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("rt");
            rt.block_on(async move {
                let server = Server::bind(config).await.expect("bind");
                tx.send((server.local_addr(), server.analyzer().clone()))
                    .expect("send");
                server
                    .run(ui.then(otwatch_analyzer::ui::router), async move {
                        let _ = stop_rx.await;
                    })
                    .await
                    .expect("run");
            });
        });
        let (addr, analyzer) = rx.recv().expect("started");
        TestServer {
            addr,
            analyzer,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(20)))
        .build()
        .into()
}

/// GET with the API token → (status, JSON body).
pub fn get(url: &str) -> (u16, Value) {
    get_as(url, Some(API_TOKEN))
}

/// GET with `token` as the bearer token (none: no credentials) → (status, JSON body).
pub fn get_as(url: &str, token: Option<&str>) -> (u16, Value) {
    let mut req = agent().get(url);
    if let Some(t) = token {
        req = req.header("Authorization", &format!("Bearer {t}"));
    }
    let mut r = req.call().expect("request");
    let status = r.status().as_u16();
    let text = r.body_mut().read_to_string().expect("body");
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// POST with a body → (status, JSON body).
pub fn post(url: &str, token: Option<&str>, body: &str) -> (u16, Value) {
    let mut req = agent().post(url);
    if let Some(t) = token {
        req = req.header("Authorization", &format!("Bearer {t}"));
    }
    let mut r = req
        .header("Content-Type", "application/x-ndjson")
        .send(body)
        .expect("request");
    let status = r.status().as_u16();
    let text = r.body_mut().read_to_string().expect("body");
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

pub fn ingest(s: &TestServer, body: &str) -> (u16, Value) {
    post(&s.url("/api/v1/ingest"), Some(TOKEN), body)
}

/// An alert line: `n` picks the alert id; time is 2026-11-28T18:00:00 + `secs`.
pub fn alert(
    n: u64,
    sid: u32,
    severity: u8,
    protocol: &str,
    src: &str,
    dest: &str,
    secs: u64,
) -> Value {
    let names = ["critical", "high", "medium", "low", "info"];
    let min = secs / 60;
    let sec = secs % 60;
    json!({
        "timestamp": format!("2026-11-28T18:{min:02}:{sec:02}.000001+0000"),
        "flow_id": 1000 + n,
        "event_type": "alert",
        "src_ip": src, "src_port": 50000, "dest_ip": dest, "dest_port": 502,
        "proto": "TCP", "app_proto": protocol,
        "alert": {
            "action": "allowed", "gid": 1, "signature_id": sid, "rev": 1,
            "signature": format!("Rule {sid}"), "category": "Test",
            "severity": severity,
            "metadata": {"attack_id": ["T0814"], "severity_name": [names[usize::from(severity) - 1]], "protocol": [protocol], "references": []}
        },
        protocol: {"transaction_id": n, "request": {"function_code": 8, "function": "diagnostics"}},
        "alert_id": format!("s1-{n}"),
        "sensor": "s1",
    })
}

pub fn ndjson(lines: &[Value]) -> String {
    lines.iter().map(|l| l.to_string() + "\n").collect()
}

pub fn config(dir: &std::path::Path) -> Config {
    let mut c = Config::new(dir, TOKEN);
    c.api_token = Some(API_TOKEN.into());
    c.retention.interval = otwatch_analyzer::config::HumanDuration(Duration::from_secs(3600));
    c
}

/// A syslog export named `name` to a loopback port, from the first alert.
pub fn syslog(name: &str, port: u16, transport: Transport, format: Format) -> SyslogConfig {
    SyslogConfig {
        name: name.into(),
        address: format!("127.0.0.1:{port}"),
        transport,
        framing: Framing::OctetCounting,
        format,
        facility: "local4".into(),
        hostname: "otwatch-test".into(),
        max_message: 8192,
        ca_file: None,
        cert_file: None,
        key_file: None,
        server_name: None,
        start: StartAt::Beginning,
    }
}

/// The value of the metric line `name` (with its labels, `name{a="b"}`) on
/// `/metrics`, if it is there and parses as `T`.
pub fn metric_value<T: std::str::FromStr>(s: &TestServer, name: &str) -> Option<T> {
    let mut r = agent()
        .get(&s.url("/metrics"))
        .header("Authorization", &format!("Bearer {API_TOKEN}"))
        .call()
        .expect("metrics");
    let text = r.body_mut().read_to_string().expect("metrics text");
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}
