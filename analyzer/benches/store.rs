//! Analyzer benchmark (a bench binary, not timed tests):
//!
//! * ingest rate: NDJSON batches of 1000 alerts through `Analyzer::ingest`
//!   (parse, index, durable commit), on a single-threaded runtime, once as a
//!   live stream (event times close together, as alerts arrive; one shipper,
//!   then four at once) and once as a
//!   back-fill of 30 days (every batch spread over many minutes);
//! * filtered query latency (p50/p99 over HTTP on loopback, first page of 50)
//!   with `OTWATCH_BENCH_ALERTS` alerts stored (default 1,000,000);
//! * store size per alert.
//!
//! `cargo bench -p otwatch-analyzer --bench store`
//! (`OTWATCH_BENCH_ALERTS=N` stores N alerts; `OTWATCH_BENCH_BATCH=N` sets the
//! batch size; `OTWATCH_BENCH_INGEST_ONLY=1` stops after the ingest figures, `=live` after
//! the first.)

use std::time::{Duration, Instant};

use otwatch_analyzer::{Config, Server};

/// The allocator the `otwatch` binary uses.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// 2026-11-01T00:00:00Z in µs since the epoch.
const DAY0: u64 = 1_793_491_200_000_000;

const PROTOS: [&str; 3] = ["modbus", "s7comm", "dnp3"];

/// Four sensors, each with a run id, numbering their alerts as the sensor does.
const RUN_IDS: [u64; 4] = [
    0x3f2a_91c4_5d10_7e88,
    0x81b7_0c2e_f4a9_1365,
    0x5c09_d3e1_27ab_40f2,
    0xe6d4_18a7_9b35_c201,
];

/// Appends alert `n` with event time `ts` (µs since the epoch) to `out`.
fn line(n: u64, ts: u64, out: &mut String) {
    use std::fmt::Write;
    // Severities skewed towards low ones; 50 rules; 200 hosts.
    let sev = [5, 5, 5, 4, 4, 4, 3, 3, 2, 1][(n % 10) as usize];
    let proto = PROTOS[(n % 3) as usize];
    let sid = 110_000 + (n * 7 % 50);
    let sensor = (n % 4) as usize;
    // Days counted from 2026-11-01 (the generator keeps within November).
    let secs = ts.saturating_sub(DAY0) / 1_000_000;
    let (d, rem) = (secs / 86_400, secs % 86_400);
    let _ = write!(
        out,
        concat!(
            r#"{{"timestamp":"2026-11-{day:02}T{h:02}:{m:02}:{s:02}.{us:06}+0000","flow_id":{flow},"#,
            r#""event_type":"alert","src_ip":"10.1.{s1}.{s2}","src_port":{sport},"#,
            r#""dest_ip":"10.2.0.{dst}","dest_port":502,"proto":"TCP","app_proto":"{proto}","alert":{{"action":"allowed","#,
            r#""gid":1,"signature_id":{sid},"rev":1,"signature":"Rule {sid} - write to a PLC from an unexpected host","#,
            r#""category":"Unauthorized command","severity":{sev},"metadata":{{"attack_id":["T0836"],"#,
            r#""severity_name":["x"],"protocol":["{proto}"],"references":[]}}}},"{proto}":{{"transaction_id":{tx},"#,
            r#""unit_id":1,"request":{{"function_code":6,"function":"write_single_register","access":"write","#,
            r#""address":{addr},"value":{val}}},"response":{{"function_code":6,"function":"write_single_register","#,
            r#""access":"write"}}}},"alert_id":"{run:016x}-{seq}","sensor":"sensor-{sensor}"}}"#,
            "\n"
        ),
        day = 1 + d % 30,
        h = rem / 3600,
        m = rem / 60 % 60,
        s = rem % 60,
        us = ts % 1_000_000,
        flow = 100_000 + n % 5000,
        s1 = n % 200 / 100,
        s2 = n % 100,
        sport = 40_000 + n % 20_000,
        dst = n % 20,
        proto = proto,
        sid = sid,
        sev = sev,
        tx = n % 65_536,
        addr = n % 1000,
        val = n % 777,
        run = RUN_IDS[sensor],
        seq = n / 4,
        sensor = sensor,
    );
}

/// The request bodies of alerts `first..total` in batches of `per_batch`,
/// alert `n` at time `ts(n)`, from `sensors` shippers: shipper `k` sends the
/// alerts `n ≡ first + k mod sensors`.
fn bodies(
    first: u64,
    total: u64,
    per_batch: u64,
    sensors: u64,
    ts: impl Fn(u64) -> u64,
) -> Vec<Vec<String>> {
    (0..sensors)
        .map(|k| {
            let mut out = Vec::new();
            let mut n = first + k;
            while n < total {
                let mut body = String::new();
                let mut lines = 0;
                while lines < per_batch && n < total {
                    line(n, ts(n), &mut body);
                    n += sensors;
                    lines += 1;
                }
                out.push(body);
            }
            out
        })
        .collect()
}

/// Sends each shipper's bodies one after the other (the next once the
/// previous one is acknowledged), the shippers at once; returns the seconds
/// taken.
async fn ingest(analyzer: &otwatch_analyzer::Analyzer, shippers: &[Vec<String>]) -> f64 {
    let t0 = Instant::now();
    let runs = shippers.iter().map(|bodies| async move {
        for body in bodies {
            let lines = body.lines().count() as u64;
            let r = analyzer.ingest(body.as_bytes()).await;
            assert!(r.is_ok_and(|r| r.stored == lines), "a batch was not stored");
        }
    });
    futures_util::future::join_all(runs).await;
    t0.elapsed().as_secs_f64()
}

/// CPU seconds this process has used (user + system, all threads), from
/// `/proc/self/stat` (0 where that is not readable).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name, which is in parentheses.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<f64> = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|v| v.parse().ok())
        .collect();
    // Linux reports clock ticks of 1/100 s.
    f.iter().sum::<f64>() / 100.0
}

fn bench_config(dir: &std::path::Path) -> Config {
    let mut config = Config::new(dir, "bench-token-1");
    config.listen = "127.0.0.1:0".parse().expect("addr");
    config.retention.max_size = otwatch_analyzer::config::ByteSize(1 << 40);
    config.retention.interval =
        otwatch_analyzer::config::HumanDuration(Duration::from_secs(86_400));
    config
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
    let per_batch: u64 = std::env::var("OTWATCH_BENCH_BATCH")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let rt = || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("rt")
    };

    // 1. A live stream (the request bodies made before the clock starts):
    //    alerts stored as they happen, 50,000 a second of event
    //    time (an alert storm), from four sensors shipping one after the
    //    other, then at once (the store groups concurrent batches into one
    //    commit, and parsing overlaps writing).
    let live_total = total.min(300_000);
    for sensors in [1, 4] {
        let dir = tempfile::tempdir().expect("tmp");
        let shippers = bodies(0, live_total, per_batch, sensors, |n| DAY0 + n * 20);
        let line_len =
            shippers.iter().flatten().map(String::len).sum::<usize>() / live_total.max(1) as usize;
        let cpu0 = cpu_seconds();
        let secs = rt().block_on(async {
            let server = Server::bind(bench_config(dir.path())).await.expect("bind");
            ingest(server.analyzer(), &shippers).await
        });
        let cpu = cpu_seconds() - cpu0;
        println!(
            "ingest, live stream from {sensors} sensor(s): {live_total} alerts in {secs:.2} s = {:.0} alerts/s; \
             {:.1} µs of CPU per alert = {:.0} alerts per CPU-second (batches of {per_batch}, lines ~{line_len} bytes)",
            live_total as f64 / secs,
            cpu * 1e6 / live_total as f64,
            live_total as f64 / cpu.max(1e-9),
        );
    }
    if std::env::var("OTWATCH_BENCH_INGEST_ONLY").is_ok_and(|v| v == "live") {
        return;
    }

    // 2. A back-fill of 30 days (each batch spans ~43 minutes of event time at
    //    a million alerts), kept for the query figures.
    let dir = tempfile::tempdir().expect("tmp");
    let config = bench_config(dir.path());
    let (tx, rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = std::thread::spawn(move || {
        rt().block_on(async move {
            let server = Server::bind(config).await.expect("bind");
            let addr = server.local_addr();
            let span = 30 * 86_400 * 1_000_000u64;
            // Generated a hundred batches at a time, to keep memory small.
            let step = per_batch * 100;
            let (mut secs, mut bytes) = (0.0, 0);
            let mut first = 0;
            while first < total {
                let k = step.min(total - first);
                let shippers = bodies(first, first + k, per_batch, 1, |n| {
                    DAY0 + n * (span / total.max(1))
                });
                bytes += shippers.iter().flatten().map(String::len).sum::<usize>();
                secs += ingest(server.analyzer(), &shippers).await;
                first += k;
            }
            let line_len = bytes / total.max(1) as usize;
            tx.send((addr, total, secs, line_len)).expect("send");
            server
                .run(None, async move {
                    let _ = stop_rx.await;
                })
                .await
                .expect("run");
        });
    });
    let (addr, lines, secs, line_len) = rx.recv().expect("ingested");
    println!(
        "ingest, 30-day back-fill: {lines} alerts in {secs:.2} s = {:.0} alerts/s",
        lines as f64 / secs
    );
    if std::env::var_os("OTWATCH_BENCH_INGEST_ONLY").is_some() {
        let _ = stop_tx.send(());
        let _ = server.join();
        return;
    }
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
        print_tables(&db, lines);
        while db.compact().unwrap_or(false) {}
        drop(db);
        let compacted = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        println!(
            "store compacted: {compacted} bytes = {:.0} bytes/alert (the EVE line alone: ~{line_len} bytes)",
            compacted as f64 / lines as f64
        );
    }
}

/// Where the bytes go: per table, what its keys and values take and what its
/// B-tree pages take, per alert.
fn print_tables(db: &redb::Database, alerts: u64) {
    use redb::{ReadableDatabase, ReadableTableMetadata, TableHandle};
    let Ok(txn) = db.begin_read() else { return };
    let Ok(tables) = txn.list_tables() else {
        return;
    };
    println!(
        "{:<14} {:>12} {:>16} {:>16}",
        "table", "entries", "data B/alert", "pages B/alert"
    );
    for handle in tables {
        let name = handle.name().to_string();
        let Ok(t) = txn.open_untyped_table(handle) else {
            continue;
        };
        let (Ok(stats), Ok(len)) = (t.stats(), t.len()) else {
            continue;
        };
        let pages = (stats.leaf_pages() + stats.branch_pages()) * 4096;
        println!(
            "{name:<14} {len:>12} {:>16.0} {:>16.0}",
            stats.stored_bytes() as f64 / alerts as f64,
            pages as f64 / alerts as f64,
        );
    }
}
