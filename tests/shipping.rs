//! Shipping end to end (issue 13, point 6): `otwatch sensor --pcap` delivers
//! every alert of a capture to a running `otwatch analyzer`, however far the
//! replay runs ahead of it, and a spool too small for an analyzer that is down
//! drops lines, says so on stderr and makes the run fail.
//!
//! The capture is built here: Modbus/TCP "write single register" requests,
//! each answered, over a few dozen connections; a rule that alerts on every
//! write turns each request into one alert.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use otwatch_sensor::synth::{flags, tcp_frame, Conversation, Host, PcapWriter};

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
        let fin = tcp_frame(
            &conv.client,
            &conv.server,
            conv.client_seq,
            conv.server_seq,
            flags::FIN | flags::ACK,
            &[],
        );
        push(&mut pcap, &fin);
        let fin_ack = tcp_frame(
            &conv.server,
            &conv.client,
            conv.server_seq,
            conv.client_seq.wrapping_add(1),
            flags::FIN | flags::ACK,
            &[],
        );
        push(&mut pcap, &fin_ack);
        let last_ack = tcp_frame(
            &conv.client,
            &conv.server,
            conv.client_seq.wrapping_add(1),
            conv.server_seq.wrapping_add(1),
            flags::ACK,
            &[],
        );
        push(&mut pcap, &last_ack);
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
        let config = dir.join("analyzer.yaml");
        std::fs::write(
            &config,
            format!(
                "listen: 127.0.0.1:0\ndata_dir: {}\ningest_tokens: [{INGEST_TOKEN}]\napi_token: {API_TOKEN}\n",
                dir.join("data").display()
            ),
        )
        .expect("analyzer config");
        let mut child = Command::new(env!("CARGO_BIN_EXE_otwatch"))
            .args(["analyzer", "--config"])
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start otwatch analyzer");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = std::sync::mpsc::channel();
        // Reads stderr to its end, so that the analyzer never blocks on it.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                // `serving http://HOST:PORT/…`: the address, whatever follows it.
                if let Some(at) = line.find("serving http://") {
                    let rest = &line[at + "serving http://".len()..];
                    let end = rest.find(|c: char| c == '/' || c.is_whitespace());
                    let url = format!("http://{}", &rest[..end.unwrap_or(rest.len())]);
                    let _ = tx.send(url);
                }
            }
        });
        let url = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the analyzer said where it serves");
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
        .args(["--sensor-name", "ship-test", "--token", INGEST_TOKEN])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
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
    assert_eq!(
        summary_count(&stderr, "pending in the spool"),
        0,
        "{stderr}"
    );
    assert_eq!(
        summary_count(&stderr, "dropped (spool full)"),
        0,
        "{stderr}"
    );
    assert_eq!(lines_in(&spool), 0);
    assert_eq!(analyzer.stored_alerts(), 300_000);
    eprintln!("300,000 alerts shipped and stored in {:?}", t0.elapsed());
}

/// With the analyzer down and a spool of 64 KiB, the lines that do not fit
/// are dropped (the oldest first), counted, said on stderr, and the run
/// exits 1; what the spool holds is delivered by the next run.
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
        &["--analyzer", &down, "--spool-max-bytes", "65536"],
        Duration::from_secs(120),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("alerts       2000"), "{stderr}");
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
    assert!(stderr.contains(&format!("{pending} lines were not delivered in time")));
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
