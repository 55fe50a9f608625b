//! Durability: the analyzer is killed with SIGKILL in the middle of ingest and
//! restarted. Every batch it acknowledged before the kill is there exactly
//! once, no batch is there in part, and the sensor's spool delivers the rest.

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use otwatch_sensor::ship::{ShipConfig, Shipper};
use serde_json::Value;

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(config: &std::path::Path) -> Daemon {
    let mut child = Command::new(env!("CARGO_BIN_EXE_analyzer-testd"))
        .arg(config)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn analyzer-testd");
    let out = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(out).read_line(&mut line).expect("read");
    assert!(line.starts_with("listening "), "{line:?}");
    Daemon(child)
}

fn line(sensor: &str, id: &str, n: u64) -> String {
    let mut v = alert(n, 110001, 2, "modbus", "10.0.0.2", "10.0.0.1", n % 600);
    v["sensor"] = Value::String(sensor.into());
    v["alert_id"] = Value::String(id.into());
    v.to_string()
}

fn all_alert_ids(base: &str) -> HashMap<String, u32> {
    let mut seen = HashMap::new();
    let mut cursor: Option<String> = None;
    loop {
        let url = match &cursor {
            Some(c) => format!("{base}/api/v1/alerts?limit=1000&cursor={c}"),
            None => format!("{base}/api/v1/alerts?limit=1000"),
        };
        let (status, page) = get(&url);
        assert_eq!(status, 200, "{page}");
        for a in page["alerts"].as_array().expect("alerts") {
            let key = format!(
                "{}/{}",
                a["sensor"].as_str().unwrap_or(""),
                a["alert_id"].as_str().unwrap_or("")
            );
            *seen.entry(key).or_insert(0) += 1;
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return seen,
        }
    }
}

#[test]
fn acknowledged_batches_survive_sigkill_and_the_spool_delivers_the_rest() {
    let dir = tempfile::tempdir().expect("tmp");
    let port = free_port();
    let cfg = dir.path().join("analyzer.yaml");
    std::fs::write(
        &cfg,
        format!(
            "listen: 127.0.0.1:{port}\ndata_dir: {}\ningest_tokens: [{TOKEN}]\napi_token: {API_TOKEN}\n",
            dir.path().join("data").display()
        ),
    )
    .expect("config");
    let base = format!("http://127.0.0.1:{port}");
    let mut daemon = start(&cfg);

    // A sensor shipping through its spool the whole time.
    let mut sc = ShipConfig::new(&base, TOKEN, "ship", dir.path().join("spool"));
    sc.batch_wait = Duration::from_millis(20);
    sc.batch_lines = 200;
    sc.backoff_initial = Duration::from_millis(20);
    sc.backoff_max = Duration::from_millis(200);
    sc.timeout = Duration::from_secs(5);
    let shipper = Shipper::start(sc).expect("shipper");

    // A client posting batches of 100 directly, noting which were acknowledged.
    let acked: Arc<Mutex<Vec<u64>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let poster = {
        let (acked, stop, base) = (acked.clone(), stop.clone(), base.clone());
        std::thread::spawn(move || {
            let a = agent();
            let mut tried = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let body: String = (0..100)
                    .map(|i| line("direct", &format!("b{tried}-{i}"), tried * 100 + i) + "\n")
                    .collect();
                let r = a
                    .post(&format!("{base}/api/v1/ingest"))
                    .header("Authorization", &format!("Bearer {TOKEN}"))
                    .send(&body);
                if let Ok(r) = r {
                    if r.status().as_u16() == 200 {
                        acked.lock().expect("lock").push(tried);
                    }
                }
                tried += 1;
            }
            tried
        })
    };

    let mut shipped = 0u64;
    let ship = |n: &mut u64, count: u64| {
        for _ in 0..count {
            assert!(shipper.send_line(line("ship", &format!("s{n}"), *n).as_bytes()));
            *n += 1;
        }
    };
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_millis(600) {
        ship(&mut shipped, 50);
        std::thread::sleep(Duration::from_millis(10));
    }
    let acked_before_kill = acked.lock().expect("lock").len();
    assert!(
        acked_before_kill > 3,
        "the poster got only {acked_before_kill} batches in"
    );
    // SIGKILL in the middle of ingest.
    daemon.0.kill().expect("kill");
    daemon.0.wait().expect("wait");
    let acked_at_kill: Vec<u64> = acked.lock().expect("lock").clone();
    // The analyzer is down: the sensor keeps spooling.
    let t1 = Instant::now();
    while t1.elapsed() < Duration::from_millis(400) {
        ship(&mut shipped, 50);
        std::thread::sleep(Duration::from_millis(10));
    }
    drop(daemon);
    let daemon = start(&cfg);
    let t2 = Instant::now();
    while t2.elapsed() < Duration::from_millis(300) {
        ship(&mut shipped, 50);
        std::thread::sleep(Duration::from_millis(10));
    }
    stop.store(true, Ordering::Relaxed);
    let tried = poster.join().expect("poster");
    let st = shipper.shutdown(Duration::from_secs(30));
    assert_eq!(st.pending, 0, "{st:?}");
    assert_eq!(
        (st.delivered, st.spool_dropped, st.rejected),
        (shipped, 0, 0),
        "{st:?}"
    );
    assert!(
        st.failures > 0,
        "the shipper never saw the analyzer down: {st:?}"
    );

    let seen = all_alert_ids(&base);
    // Every stored alert is stored once.
    assert!(seen.values().all(|n| *n == 1));
    // Every batch acknowledged before the kill is there whole; no batch is there in part.
    let acked_all: Vec<u64> = acked.lock().expect("lock").clone();
    for b in 0..tried {
        let present = (0..100)
            .filter(|i| seen.contains_key(&format!("direct/b{b}-{i}")))
            .count();
        if acked_all.contains(&b) {
            assert_eq!(present, 100, "acknowledged batch {b}");
        } else {
            assert!(
                present == 0 || present == 100,
                "batch {b} is there in part: {present}"
            );
        }
    }
    assert!(acked_at_kill.iter().all(|b| acked_all.contains(b)));
    // Everything the sensor shipped arrived exactly once.
    for n in 0..shipped {
        assert_eq!(
            seen.get(&format!("ship/s{n}")),
            Some(&1),
            "shipped line {n}"
        );
    }
    drop(daemon);
}
