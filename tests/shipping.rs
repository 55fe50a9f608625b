//! Shipping end to end (issue 13, point 6): `otwatch sensor --pcap` delivers
//! every alert of a capture to a running `otwatch analyzer`, however far the
//! replay runs ahead of it, also when the analyzer comes up late or takes only
//! small requests; a spool too small for an analyzer that stays down past
//! `--ship-give-up` drops lines, says so on stderr and makes the run fail; a
//! wrong token keeps every line in the spool and fails the run; lines the
//! analyzer refuses fail the run.
//!
//! The capture is built here: Modbus/TCP "write single register" requests,
//! each answered, over a few dozen connections; a rule that alerts on every
//! write turns each request into one alert.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use otwatch_sensor::synth::{Conversation, Host, PcapWriter};

const INGEST_TOKEN: &str = "ship-test-ingest-0001";
const API_TOKEN: &str = "ship-test-api-0001";
const T0: u32 = 1_796_000_000; // 2026-11-30

/// One rule: every Modbus write is an alert.
const EVERY_WRITE: &str = "\
rules:
  - id: 990001
    name: Modbus write (every one)
    severity: low
    protocol: modbus
    description: Any write of a coil or register.
    match:
      access: write
";

fn host(last: u8, port: u16) -> Host {
    Host {
        mac: [2, 0, 10, 201, 0, last],
        ip: Ipv4Addr::new(10, 201, 0, last),
        port,
    }
}

/// A Modbus/TCP "write single register" ADU (request, and its echo as the
/// response).
fn write_register(tid: u16, address: u16, value: u16) -> [u8; 12] {
    let t = tid.to_be_bytes();
    let a = address.to_be_bytes();
    let v = value.to_be_bytes();
    [
        t[0], t[1], // MBAP transaction id
        0, 0, // protocol id: Modbus
        0, 6, // length: unit id + 5 PDU bytes
        1, // unit id
        6, // function 6: write single register
        a[0], a[1], // register address
        v[0], v[1], // value
    ]
}

/// Writes a capture of `connections` connections of `per_connection` answered
/// writes each (one after the other, 100 µs between frames) to `path`.
fn modbus_writes_pcap(path: &Path, connections: u16, per_connection: u16) {
    let mut pcap = PcapWriter::new(1);
    let mut micros: u64 = 0;
    let mut push = |pcap: &mut PcapWriter, frame: &[u8]| {
        micros += 100;
        pcap.record(
            T0 + (micros / 1_000_000) as u32,
            (micros % 1_000_000) as u32,
            frame,
        );
    };
    let server = host(10, 502);
    for c in 0..connections {
        let mut conv = Conversation::new(host(20 + (c % 200) as u8, 40_000 + c), server);
        for f in conv.handshake() {
            push(&mut pcap, &f);
        }
        for n in 0..per_connection {
            let adu = write_register(n, 100 + n % 50, n);
            let request = conv.to_server(&adu);
            push(&mut pcap, &request);
            let response = conv.to_client(&adu);
            push(&mut pcap, &response);
        }
        for f in conv.close() {
            push(&mut pcap, &f);
        }
    }
    std::fs::write(path, pcap.into_bytes()).expect("write capture");
}

/// `otwatch analyzer` on a port of its own; killed when dropped.
struct Analyzer {
    child: Child,
    url: String,
}

impl Analyzer {
    fn start(dir: &Path) -> Analyzer {
        Analyzer::start_with(dir, 0, "")
    }

    /// On 127.0.0.1:`port` (0: a free one), with `extra` lines of config.
    fn start_with(dir: &Path, port: u16, extra: &str) -> Analyzer {
        let config = dir.join("analyzer.yaml");
        std::fs::write(
            &config,
            format!(
                "listen: 127.0.0.1:{port}\ndata_dir: {}\ningest_tokens: [{INGEST_TOKEN}]\napi_token: {API_TOKEN}\n{extra}",
                dir.join("data").display()
            ),
        )
        .expect("analyzer config");
        let (child, rx) = common::otwatch_with_stderr_lines(&[
            "analyzer".as_ref(),
            "--config".as_ref(),
            config.as_os_str(),
        ]);
        // `serving http://HOST:PORT/…`: the address, whatever follows it.
        let t0 = Instant::now();
        let url = loop {
            let line = rx
                .recv_timeout(Duration::from_secs(60).saturating_sub(t0.elapsed()))
                .expect("the analyzer said where it serves");
            if let Some(at) = line.find("serving http://") {
                let rest = &line[at + "serving http://".len()..];
                let end = rest.find(|c: char| c == '/' || c.is_whitespace());
                break format!("http://{}", &rest[..end.unwrap_or(rest.len())]);
            }
        };
        Analyzer { child, url }
    }

    /// `GET /api/v1/stats` with the API token → the number of stored alerts.
    fn stored_alerts(&self) -> u64 {
        let addr = self.url.trim_start_matches("http://");
        let mut conn = std::net::TcpStream::connect(addr).expect("connect to the analyzer");
        conn.set_read_timeout(Some(Duration::from_secs(30)))
            .expect("timeout");
        write!(
            conn,
            "GET /api/v1/stats HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {API_TOKEN}\r\nConnection: close\r\n\r\n"
        )
        .expect("request");
        let mut answer = String::new();
        conn.read_to_string(&mut answer).expect("answer");
        let (head, body) = answer.split_once("\r\n\r\n").expect("HTTP answer");
        assert!(head.starts_with("HTTP/1.1 200"), "{answer}");
        let v: serde_json::Value = serde_json::from_str(body).expect("json");
        v["alerts"].as_u64().expect("alerts count")
    }
}

impl Drop for Analyzer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `otwatch sensor --pcap` with `args`, bounded by `limit`.
fn sensor(pcap: &Path, rules: &Path, spool: &Path, args: &[&str], limit: Duration) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_otwatch"));
    cmd.arg("sensor")
        .arg("--pcap")
        .arg(pcap)
        .arg("--rules")
        .arg(rules)
        .arg("--spool")
        .arg(spool)
        .args(["--sensor-name", "ship-test"]);
    if !args.contains(&"--token") {
        cmd.args(["--token", INGEST_TOKEN]);
    }
    cmd.args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
    let child = cmd.spawn().expect("start otwatch sensor");
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(limit) {
        Ok(out) => out.expect("otwatch sensor ran"),
        Err(_) => {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
            panic!("otwatch sensor did not finish within {limit:?}");
        }
    }
}

/// The number after `label` in the `analyzer …` summary line.
fn summary_count(stderr: &str, label: &str) -> u64 {
    let line = stderr
        .lines()
        .find(|l| l.starts_with("analyzer "))
        .unwrap_or_else(|| panic!("no analyzer summary in:\n{stderr}"));
    let words: Vec<&str> = line
        .split_whitespace()
        .map(|w| w.trim_end_matches(','))
        .collect();
    let at = words
        .windows(label.split(' ').count())
        .position(|w| w.join(" ") == label)
        .unwrap_or_else(|| panic!("no {label:?} in {line:?}"));
    words[at - 1]
        .parse()
        .unwrap_or_else(|_| panic!("no count before {label:?} in {line:?}"))
}

/// Asserts the counts of the `analyzer …` summary line, by label.
fn assert_summary(stderr: &str, expected: &[(&str, u64)]) {
    for (label, n) in expected {
        assert_eq!(summary_count(stderr, label), *n, "{label}: {stderr}");
    }
}

fn lines_in(dir: &Path) -> u64 {
    let mut n = 0;
    for e in std::fs::read_dir(dir).expect("spool dir").flatten() {
        let p: PathBuf = e.path();
        if p.extension().is_some_and(|x| x == "ndjson") {
            let text = std::fs::read_to_string(&p).expect("segment");
            n += text.lines().filter(|l| !l.trim().is_empty()).count() as u64;
        }
    }
    n
}

/// 300,000 alerts replayed much faster than one analyzer stores them: the
/// sensor used to drop what did not fit in its 10,000-line queue (173,463
/// of 300,000 in the report) and exit 0. Now all are stored.
#[test]
fn sensor_pcap_delivers_300000_alerts_to_a_live_analyzer() {
    let t0 = Instant::now();
    let dir = tempfile::tempdir().expect("tmp");
    let pcap = dir.path().join("writes.pcap");
    // 60 connections × 5,000 writes = 300,000 alerts.
    modbus_writes_pcap(&pcap, 60, 5_000);
    let rules = dir.path().join("every-write.yaml");
    std::fs::write(&rules, EVERY_WRITE).expect("rules");
    let analyzer = Analyzer::start(dir.path());
    let spool = dir.path().join("spool");
    let out = sensor(
        &pcap,
        &rules,
        &spool,
        &["--analyzer", &analyzer.url],
        Duration::from_secs(600),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("alerts       300000"), "{stderr}");
    // The alerts, plus the asset lines and the stats line.
    assert!(
        summary_count(&stderr, "lines delivered") > 300_000,
        "{stderr}"
    );
    assert_summary(
        &stderr,
        &[("pending in the spool", 0), ("dropped (spool full)", 0)],
    );
    assert_eq!(lines_in(&spool), 0);
    assert_eq!(analyzer.stored_alerts(), 300_000);
    eprintln!("300,000 alerts shipped and stored in {:?}", t0.elapsed());
}

/// With the analyzer down past `--ship-give-up` and a spool of 64 KiB, the
/// lines that do not fit are dropped (the oldest first), counted, said on
/// stderr, and the run exits 1; what the spool holds is delivered by the next
/// run.
#[test]
fn sensor_pcap_with_a_full_spool_and_no_analyzer_counts_drops_and_fails() {
    let dir = tempfile::tempdir().expect("tmp");
    let pcap = dir.path().join("writes.pcap");
    // 4 connections × 500 writes = 2,000 alerts, far more than 64 KiB of lines.
    modbus_writes_pcap(&pcap, 4, 500);
    let rules = dir.path().join("every-write.yaml");
    std::fs::write(&rules, EVERY_WRITE).expect("rules");
    let down = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        format!("http://{}", l.local_addr().expect("addr"))
    };
    let spool = dir.path().join("spool");
    let out = sensor(
        &pcap,
        &rules,
        &spool,
        &[
            "--analyzer",
            &down,
            "--spool-max-bytes",
            "65536",
            "--ship-give-up",
            "2",
        ],
        Duration::from_secs(120),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("alerts       2000"), "{stderr}");
    assert_eq!(
        stderr
            .matches("no request to the analyzer succeeded for 2 s: no longer waiting")
            .count(),
        1,
        "{stderr}"
    );
    assert!(
        stderr.contains("is full (65536 bytes) while the analyzer does not take the lines"),
        "{stderr}"
    );
    let dropped = summary_count(&stderr, "dropped (spool full)");
    let pending = summary_count(&stderr, "pending in the spool");
    assert!(dropped > 0, "{stderr}");
    assert!(stderr.contains(&format!(
        "{dropped} lines were dropped because the spool was full"
    )));
    assert!(stderr.contains(&format!(
        "{pending} lines were not delivered: no request to the analyzer succeeded for 2 s"
    )));
    assert_eq!(summary_count(&stderr, "lines delivered"), 0, "{stderr}");
    // Every line is either dropped or in the spool (alerts, assets, stats).
    assert_eq!(lines_in(&spool), pending);
    assert!(dropped + pending > 2000, "{stderr}");
    let bytes: u64 = std::fs::read_dir(&spool)
        .expect("spool")
        .flatten()
        .map(|e| e.metadata().map(|m| m.len()).unwrap_or(0))
        .sum();
    assert!(bytes <= 65536, "{bytes}");

    // The next run, with the analyzer up, delivers what was kept first.
    let analyzer = Analyzer::start(dir.path());
    let empty = dir.path().join("empty.pcap");
    modbus_writes_pcap(&empty, 0, 0);
    let out = sensor(
        &empty,
        &rules,
        &spool,
        &["--analyzer", &analyzer.url],
        Duration::from_secs(120),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        summary_count(&stderr, "lines delivered") > pending,
        "{stderr}"
    );
    assert_eq!(lines_in(&spool), 0);
    let stored = analyzer.stored_alerts();
    assert!(stored > 0 && stored < 2000, "{stored}");
}

/// A free port on 127.0.0.1 (bound, then let go).
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// One failed request while the spool was full made the replay
/// drop and exit 1. Now an analyzer that comes up 3 s after the replay
/// started (connections refused until then) gets every alert: the replay
/// waits for it, nothing is dropped, exit 0.
#[test]
fn sensor_pcap_waits_for_an_analyzer_that_comes_up_late() {
    let dir = tempfile::tempdir().expect("tmp");
    let pcap = dir.path().join("writes.pcap");
    // 4 connections × 500 writes = 2,000 alerts, far more than 64 KiB of lines.
    modbus_writes_pcap(&pcap, 4, 500);
    let rules = dir.path().join("every-write.yaml");
    std::fs::write(&rules, EVERY_WRITE).expect("rules");
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let spool = dir.path().join("spool");
    let run = {
        let (pcap, rules, spool) = (pcap.clone(), rules.clone(), spool.clone());
        std::thread::spawn(move || {
            sensor(
                &pcap,
                &rules,
                &spool,
                &["--analyzer", &url, "--spool-max-bytes", "65536"],
                Duration::from_secs(300),
            )
        })
    };
    std::thread::sleep(Duration::from_secs(3));
    let analyzer = Analyzer::start_with(dir.path(), port, "");
    let out = run.join().expect("sensor thread");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("alerts       2000"), "{stderr}");
    assert_summary(
        &stderr,
        &[
            ("dropped (spool full)", 0),
            ("pending in the spool", 0),
            ("refused by the analyzer", 0),
        ],
    );
    assert!(summary_count(&stderr, "lines delivered") > 2000, "{stderr}");
    assert_eq!(lines_in(&spool), 0);
    assert_eq!(analyzer.stored_alerts(), 2000);
}

/// An analyzer whose `max_body` (16 KiB) is below the sensor's
/// batches (1,000 lines, several hundred kB) answered 413 to the same batch
/// for ever. Now the requests are halved until it takes them: every alert
/// is stored, exit 0.
#[test]
fn sensor_pcap_splits_batches_an_analyzer_refuses_as_too_large() {
    let dir = tempfile::tempdir().expect("tmp");
    let pcap = dir.path().join("writes.pcap");
    // 2 connections × 1,000 writes = 2,000 alerts.
    modbus_writes_pcap(&pcap, 2, 1_000);
    let rules = dir.path().join("every-write.yaml");
    std::fs::write(&rules, EVERY_WRITE).expect("rules");
    let analyzer = Analyzer::start_with(dir.path(), 0, "max_body: 16384\n");
    let spool = dir.path().join("spool");
    let out = sensor(
        &pcap,
        &rules,
        &spool,
        &["--analyzer", &analyzer.url],
        Duration::from_secs(300),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("as too large (413): sending at most"),
        "{stderr}"
    );
    assert_summary(
        &stderr,
        &[("refused by the analyzer", 0), ("pending in the spool", 0)],
    );
    assert_eq!(lines_in(&spool), 0);
    assert_eq!(analyzer.stored_alerts(), 2000);
}

/// A 401 was retried for ever, silently. Now it is said once on
/// stderr (not per retry), every line stays in the spool, and the replay
/// gives up after `--ship-give-up` with exit 1; the next run with the right
/// token delivers them.
#[test]
fn sensor_pcap_with_a_wrong_token_keeps_the_lines_and_fails_after_the_bound() {
    let dir = tempfile::tempdir().expect("tmp");
    let pcap = dir.path().join("writes.pcap");
    modbus_writes_pcap(&pcap, 1, 100);
    let rules = dir.path().join("every-write.yaml");
    std::fs::write(&rules, EVERY_WRITE).expect("rules");
    let analyzer = Analyzer::start(dir.path());
    let spool = dir.path().join("spool");
    let t0 = Instant::now();
    let out = sensor(
        &pcap,
        &rules,
        &spool,
        &[
            "--analyzer",
            &analyzer.url,
            "--token",
            "not-the-ingest-token",
            "--ship-give-up",
            "3",
        ],
        Duration::from_secs(120),
    );
    let took = t0.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(took >= Duration::from_secs(3), "{took:?}");
    // Several requests were refused (backoff from 0.25 s over 3 s), one message.
    assert_eq!(
        stderr.matches("answers 401 Unauthorized").count(),
        1,
        "{stderr}"
    );
    let pending = summary_count(&stderr, "pending in the spool");
    // The 100 alerts, the asset lines and the stats line.
    assert!(pending > 100, "{stderr}");
    assert_eq!(lines_in(&spool), pending);
    assert_summary(&stderr, &[("dropped (spool full)", 0)]);
    assert_eq!(summary_count(&stderr, "lines delivered"), 0, "{stderr}");
    assert!(stderr.contains(&format!(
        "{pending} lines were not delivered: no request to the analyzer succeeded for 3 s"
    )));
    assert_eq!(analyzer.stored_alerts(), 0);

    let empty = dir.path().join("empty.pcap");
    modbus_writes_pcap(&empty, 0, 0);
    let out = sensor(
        &empty,
        &rules,
        &spool,
        &["--analyzer", &analyzer.url],
        Duration::from_secs(120),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(lines_in(&spool), 0);
    assert_eq!(analyzer.stored_alerts(), 100);
}

/// An ingest endpoint on 127.0.0.1:0 that answers the first batch with a 400
/// naming its line 1 (as the analyzer names invalid lines) and every later
/// one with 200; it counts the lines it acknowledged.
struct RefusingAnalyzer {
    url: String,
    acked: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl RefusingAnalyzer {
    fn start() -> RefusingAnalyzer {
        use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
        use std::sync::Arc;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let acked = Arc::new(AtomicU64::new(0));
        let refused = Arc::new(AtomicBool::new(false));
        let counted = acked.clone();
        // Lives as long as the test process; each connection is served in turn.
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
                let Ok(read) = conn.try_clone() else { continue };
                let mut reader = BufReader::new(read);
                let mut conn = conn;
                loop {
                    let mut length = 0usize;
                    let mut line = String::new();
                    let mut ended = false;
                    loop {
                        line.clear();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            ended = true;
                            break;
                        }
                        let h = line.trim_end();
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
                    if ended || reader.read_exact(&mut body).is_err() {
                        break;
                    }
                    let lines = body
                        .split(|&b| b == b'\n')
                        .filter(|l| !l.is_empty())
                        .count() as u64;
                    let (head, text) = if refused.swap(true, Ordering::Relaxed) {
                        counted.fetch_add(lines, Ordering::Relaxed);
                        ("200 OK", r#"{"stored":0}"#)
                    } else {
                        (
                            "400 Bad Request",
                            r#"{"error":"invalid lines; nothing of this batch was stored","lines":[{"line":1,"error":"missing field `timestamp`"}]}"#,
                        )
                    };
                    let answer = format!(
                        "HTTP/1.1 {head}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{text}",
                        text.len()
                    );
                    if conn.write_all(answer.as_bytes()).is_err() {
                        break;
                    }
                }
            }
        });
        RefusingAnalyzer { url, acked }
    }
}

/// A line the analyzer refused (400) was counted but the run
/// still exited 0. It is lost data: the run says how many and exits 1, and
/// the other lines are delivered.
#[test]
fn sensor_pcap_fails_when_the_analyzer_refused_a_line() {
    let dir = tempfile::tempdir().expect("tmp");
    let pcap = dir.path().join("writes.pcap");
    modbus_writes_pcap(&pcap, 1, 20);
    let rules = dir.path().join("every-write.yaml");
    std::fs::write(&rules, EVERY_WRITE).expect("rules");
    let analyzer = RefusingAnalyzer::start();
    let spool = dir.path().join("spool");
    let out = sensor(
        &pcap,
        &rules,
        &spool,
        &["--analyzer", &analyzer.url],
        Duration::from_secs(120),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_summary(&stderr, &[("refused by the analyzer", 1)]);
    assert!(
        stderr.contains("1 lines were refused by the analyzer (invalid, or too large for it)"),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            r#"the analyzer refused 1 lines, which are dropped: "missing field `timestamp`""#
        ),
        "{stderr}"
    );
    assert_summary(&stderr, &[("pending in the spool", 0)]);
    let delivered = summary_count(&stderr, "lines delivered");
    // The 20 alerts, the asset lines and the stats line, less the one refused.
    assert!(delivered >= 20, "{stderr}");
    assert_eq!(
        analyzer.acked.load(std::sync::atomic::Ordering::Relaxed),
        delivered
    );
    assert_eq!(lines_in(&spool), 0);
}
