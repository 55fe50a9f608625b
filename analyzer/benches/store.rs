//! Analyzer benchmark (a bench binary, not timed tests):
//!
//! * ingest rate: NDJSON batches of 1000 alerts through `Analyzer::ingest`
//!   (parse, index, durable commit), on a single-threaded runtime;
//! * filtered query latency (p50/p99 over HTTP on loopback, first page of 50)
//!   with `OTWATCH_BENCH_ALERTS` alerts stored (default 1,000,000);
//! * store size per alert.
//!
//! `cargo bench -p otwatch-analyzer --bench store`

use std::time::{Duration, Instant};

use otwatch_analyzer::{Config, Server};

const PROTOS: [&str; 3] = ["modbus", "s7comm", "dnp3"];

fn line(n: u64, total: u64, out: &mut String) {
    // Severities skewed towards low ones; 50 rules; 200 hosts; 30 days.
    let sev = [5, 5, 5, 4, 4, 4, 3, 3, 2, 1][(n % 10) as usize];
    let proto = PROTOS[(n % 3) as usize];
    let sid = 110_000 + (n * 7 % 50);
    let src = format!("10.1.{}.{}", n % 200 / 100, n % 100);
    let secs = n * 2_592_000 / total.max(1);
    let (d, rem) = (secs / 86_400, secs % 86_400);
    let ts = format!(
        "2026-11-{:02}T{:02}:{:02}:{:02}.{:06}+0000",
        1 + d % 30,
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        n % 1_000_000
    );
    out.push_str(&format!(
        concat!(
            r#"{{"timestamp":"{ts}","flow_id":{flow},"event_type":"alert","src_ip":"{src}","src_port":{sport},"#,
            r#""dest_ip":"10.2.0.{dst}","dest_port":502,"proto":"TCP","app_proto":"{proto}","alert":{{"action":"allowed","#,
            r#""gid":1,"signature_id":{sid},"rev":1,"signature":"Rule {sid} - write to a PLC from an unexpected host","#,
            r#""category":"Unauthorized command","severity":{sev},"metadata":{{"attack_id":["T0836"],"#,
            r#""severity_name":["x"],"protocol":["{proto}"],"references":[]}}}},"{proto}":{{"transaction_id":{tx},"#,
            r#""unit_id":1,"request":{{"function_code":6,"function":"write_single_register","access":"write","#,
            r#""address":{addr},"value":{val}}},"response":{{"function_code":6,"function":"write_single_register","#,
            r#""access":"write"}}}},"alert_id":"bench-{n}","sensor":"sensor-{sensor}"}}"#,
            "\n"
        ),
        ts = ts,
        flow = 100_000 + n % 5000,
        src = src,
        sport = 40_000 + n % 20_000,
        dst = n % 20,
        proto = proto,
        sid = sid,
        sev = sev,
        tx = n % 65_536,
        addr = n % 1000,
        val = n % 777,
        n = n,
        sensor = n % 4,
    ));
}

fn pct(v: &mut [Duration], p: f64) -> Duration {
    v.sort();
    v[((v.len() as f64 * p).ceil() as usize).clamp(1, v.len()) - 1]
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let total: u64 = std::env::var("OTWATCH_BENCH_ALERTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().expect("tmp");
    let mut config = Config::new(dir.path(), "bench-token-1");
    config.listen = "127.0.0.1:0".parse().expect("addr");
    config.retention.max_size = otwatch_analyzer::config::ByteSize(1 << 40);
    config.retention.interval =
        otwatch_analyzer::config::HumanDuration(Duration::from_secs(86_400));

    let (tx, rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("rt");
        rt.block_on(async move {
            let server = Server::bind(config).await.expect("bind");
            let analyzer = server.analyzer().clone();
            let addr = server.local_addr();
            // Ingest on this single-threaded runtime (the store thread does the writing).
            let per_batch: u64 = std::env::var("OTWATCH_BENCH_BATCH")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(1000);
            let mut body = String::new();
            let t0 = Instant::now();
            let mut n = 0;
            let mut lines = 0u64;
            while n < total {
                body.clear();
                for _ in 0..per_batch.min(total - n) {
                    line(n, total, &mut body);
                    n += 1;
                }
                lines += body.lines().count() as u64;
                let r = analyzer.ingest(body.as_bytes()).await;
                assert!(r.is_ok_and(|r| r.stored as usize == body.lines().count()));
            }
            let secs = t0.elapsed().as_secs_f64();
            tx.send((addr, lines, secs, body.len() / body.lines().count().max(1)))
                .expect("send");
            server
                .run(None, async move {
                    let _ = stop_rx.await;
                })
                .await
                .expect("run");
        });
    });
    let (addr, lines, secs, line_len) = rx.recv().expect("ingested");
    println!("ingest: {lines} alerts in {secs:.2} s = {:.0} alerts/s (one runtime thread + the store thread; lines ~{line_len} bytes)", lines as f64 / secs);
    let file = std::fs::metadata(dir.path().join("alerts.redb"))
        .map(|m| m.len())
        .unwrap_or(0);
    println!(
        "store: {file} bytes for {lines} alerts = {:.0} bytes/alert",
        file as f64 / lines as f64
    );

    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into();
    let queries = [
        "",
        "severity=critical",
        "severity=1,2&protocol=dnp3",
        "rule=110007",
        "host=10.1.0.42",
        "src_ip=10.1.1.7&severity=3",
        "protocol=s7comm&from=2026-11-10T00:00:00Z&to=2026-11-12T00:00:00Z",
        "state=new&sensor=sensor-2",
        "rule=110007&host=10.1.0.42 (matches nothing)",
        "q=register&severity=1",
    ];
    println!(
        "{:<70} {:>9} {:>9} {:>9}",
        "query (first page of 50, over HTTP)", "p50 ms", "p99 ms", "max ms"
    );
    let mut worst = Duration::ZERO;
    for q in queries {
        let mut times = Vec::new();
        for i in 0..200 {
            let t = Instant::now();
            let url = format!(
                "http://{addr}/api/v1/alerts?limit=50&{}",
                q.split(' ').next().unwrap_or("")
            );
            let mut r = agent.get(&url).call().expect("query");
            let text = r.body_mut().read_to_string().expect("body");
            let el = t.elapsed();
            if i == 0 {
                assert!(
                    text.starts_with("{\"alerts\":["),
                    "{q}: {}",
                    &text[..text.len().min(200)]
                );
            }
            if i >= 10 {
                times.push(el);
            }
        }
        let (p50, p99, max) = (
            pct(&mut times, 0.5),
            pct(&mut times, 0.99),
            pct(&mut times, 1.0),
        );
        worst = worst.max(p99);
        println!(
            "{:<70} {:>9.2} {:>9.2} {:>9.2}",
            if q.is_empty() { "(no filter)" } else { q },
            p50.as_secs_f64() * 1e3,
            p99.as_secs_f64() * 1e3,
            max.as_secs_f64() * 1e3
        );
    }
    println!("worst p99: {:.2} ms", worst.as_secs_f64() * 1e3);
    let _ = stop_tx.send(());
    let _ = server.join();
    // The file grows in regions ahead of need; compacted, it shows what the data takes.
    let path = dir.path().join("alerts.redb");
    if let Ok(mut db) = redb::Database::open(&path) {
        while db.compact().unwrap_or(false) {}
        drop(db);
        let compacted = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        println!(
            "store compacted: {compacted} bytes = {:.0} bytes/alert (the EVE line alone: ~{line_len} bytes)",
            compacted as f64 / lines as f64
        );
    }
}
