//! The process log: `otwatch --log-format json analyzer` writes one JSON
//! object per event on stderr, with time, level and target, and a failing
//! syslog export is logged once when it starts failing and once when it
//! delivers again, not at every retry.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const INGEST_TOKEN: &str = "log-test-ingest-0001";
const API_TOKEN: &str = "log-test-api-0001";

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// One alert line, as a sensor posts it.
const ALERT: &str = r#"{"timestamp":"2026-11-28T18:00:00.000001+0000","flow_id":1,"event_type":"alert","src_ip":"10.0.0.2","src_port":50000,"dest_ip":"10.0.0.1","dest_port":502,"proto":"TCP","app_proto":"modbus","alert":{"action":"allowed","gid":1,"signature_id":110001,"rev":1,"signature":"Modbus diagnostics","category":"Test","severity":1},"alert_id":"s1-1","sensor":"s1"}"#;

fn post_ingest(addr: &str) -> String {
    let mut conn = std::net::TcpStream::connect(addr).expect("connect to the analyzer");
    conn.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let body = format!("{ALERT}\n");
    write!(
        conn,
        "POST /api/v1/ingest HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {INGEST_TOKEN}\r\nContent-Type: application/x-ndjson\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("request");
    let mut answer = String::new();
    conn.read_to_string(&mut answer).expect("answer");
    answer
}

#[test]
fn a_failing_export_is_logged_once_as_json_and_once_when_it_recovers() {
    let dir = tempfile::tempdir().expect("tmp");
    let (http, soc) = (free_port(), free_port());
    let config = dir.path().join("analyzer.yaml");
    std::fs::write(
        &config,
        format!(
            "listen: 127.0.0.1:{http}\ndata_dir: {}\ningest_tokens: [{INGEST_TOKEN}]\napi_token: {API_TOKEN}\n\
             exports:\n  syslog:\n    - name: soc\n      address: 127.0.0.1:{soc}\n      transport: tcp\n      start: beginning\n",
            dir.path().join("data").display()
        ),
    )
    .expect("config");
    let mut child = Command::new(env!("CARGO_BIN_EXE_otwatch"))
        .args(["--log-format", "json", "analyzer", "--config"])
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start otwatch analyzer");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut lines = Vec::new();
    let t0 = Instant::now();
    while !lines.iter().any(|l: &String| l.contains("serving http://")) {
        assert!(t0.elapsed() < Duration::from_secs(60), "{lines:#?}");
        if let Ok(l) = rx.recv_timeout(Duration::from_millis(100)) {
            lines.push(l);
        }
    }
    let addr = format!("127.0.0.1:{http}");
    assert!(post_ingest(&addr).starts_with("HTTP/1.1 200"));
    // No receiver for 3.5 s: attempts at about 0, 1 and 3 s all fail.
    std::thread::sleep(Duration::from_millis(3500));
    let receiver = std::net::TcpListener::bind(("127.0.0.1", soc)).expect("receiver");
    let (mut conn, _) = receiver.accept().expect("the export reconnects");
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !got.windows(10).any(|w| w == b"alert_id=\"") {
        let n = conn.read(&mut buf).expect("the alert arrives");
        assert!(n > 0, "closed before the alert");
        got.extend_from_slice(&buf[..n]);
    }
    let t0 = Instant::now();
    while !lines.iter().any(|l| l.contains("delivering again")) {
        assert!(t0.elapsed() < Duration::from_secs(10), "{lines:#?}");
        if let Ok(l) = rx.recv_timeout(Duration::from_millis(100)) {
            lines.push(l);
        }
    }
    let _ = child.kill();
    let _ = child.wait();

    let events: Vec<serde_json::Value> = lines
        .iter()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect();
    let export: Vec<&serde_json::Value> = events
        .iter()
        .filter(|e| e["target"] == "otwatch_analyzer::export")
        .collect();
    assert_eq!(export.len(), 2, "{lines:#?}");
    let (warn, info) = (export[0], export[1]);
    assert_eq!(warn["level"], "WARN");
    let text = warn["fields"]["message"].as_str().unwrap_or_default();
    assert!(
        text.starts_with(&format!("export syslog-soc: 127.0.0.1:{soc}: "))
            && text.contains("retried"),
        "{text}"
    );
    assert_eq!(info["level"], "INFO");
    let text = info["fields"]["message"].as_str().unwrap_or_default();
    assert!(
        text.starts_with("export syslog-soc: delivering again, after ")
            && !text.contains("after 1 failed"),
        "{text}"
    );
    // RFC 3339 in UTC: 2026-12-04T10:00:00.123456Z.
    let ts = warn["timestamp"].as_str().unwrap_or_default();
    assert!(
        ts.len() >= 20 && ts.ends_with('Z') && &ts[10..11] == "T",
        "{ts}"
    );
}
