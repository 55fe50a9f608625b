//! A full disk under the store: the analyzer's data directory on a small
//! tmpfs of its own, filled with a filler file until the store cannot grow.
//! Ingest must answer 503 with a clear message and `/healthz` report the
//! degraded state while reads go on; once the filler is deleted, ingest
//! works again without a restart, and every alert acknowledged before,
//! during (the retried batch) and after is stored exactly once.
//!
//! Mounting a tmpfs needs root: without it the test says so and passes.

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

/// A tmpfs mounted on a folder of a temporary directory; unmounted on drop,
/// also when the test fails.
struct Tmpfs {
    mnt: PathBuf,
    _dir: tempfile::TempDir,
}

impl Tmpfs {
    /// `None` (with the reason printed) when not root or mount fails.
    fn mount(size: &str) -> Option<Tmpfs> {
        let uid = Command::new("id").arg("-u").output().ok()?;
        if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
            eprintln!("analyzer_diskfull: skipped: mounting a tmpfs needs root");
            return None;
        }
        let dir = tempfile::tempdir().expect("tmp");
        let mnt = dir.path().join("mnt");
        std::fs::create_dir(&mnt).expect("mnt");
        let st = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(&mnt)
            .status();
        match st {
            Ok(s) if s.success() => Some(Tmpfs { mnt, _dir: dir }),
            other => {
                eprintln!("analyzer_diskfull: skipped: cannot mount a tmpfs: {other:?}");
                None
            }
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let ok = Command::new("umount")
            .arg(&self.mnt)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            // Still busy (a failing test left a file open): detach it now,
            // the kernel frees it when the last file closes.
            let _ = Command::new("umount").arg("-l").arg(&self.mnt).status();
        }
    }
}

/// Fills the file system of `dir` with `dir/filler` until a write fails.
fn fill(dir: &Path) -> u64 {
    let mut f = std::fs::File::create(dir.join("filler")).expect("filler");
    let block = vec![0x5au8; 64 * 1024];
    let mut n = 0u64;
    loop {
        match f.write(&block) {
            Ok(0) | Err(_) => break,
            Ok(k) => n += k as u64,
        }
    }
    let _ = f.sync_all();
    n
}

/// A batch of `count` alerts from `first`, each with a 2 kB field so that
/// the store needs new pages quickly.
fn batch(first: u64, count: u64) -> String {
    let lines: Vec<Value> = (first..first + count)
        .map(|n| {
            let mut a = alert(n, 110001, 2, "modbus", "10.0.0.2", "10.0.0.1", n % 3600);
            a["modbus"]["request"]["padding"] = Value::String(format!("{n:08}").repeat(256));
            a
        })
        .collect();
    ndjson(&lines)
}

/// Every stored alert id with how many times it is stored.
fn stored(s: &TestServer) -> BTreeMap<String, u32> {
    let mut out = BTreeMap::new();
    let mut cursor: Option<String> = None;
    loop {
        let url = match &cursor {
            Some(c) => s.url(&format!("/api/v1/alerts?limit=1000&cursor={c}")),
            None => s.url("/api/v1/alerts?limit=1000"),
        };
        let (st, body) = get(&url);
        assert_eq!(st, 200, "{body}");
        for a in body["alerts"].as_array().expect("alerts") {
            *out.entry(a["alert_id"].as_str().expect("id").to_string())
                .or_insert(0) += 1;
        }
        match body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return out,
        }
    }
}

/// The API id of the oldest stored alert.
fn first_id(s: &TestServer) -> String {
    let mut cursor: Option<String> = None;
    let mut last = None;
    loop {
        let url = match &cursor {
            Some(c) => s.url(&format!("/api/v1/alerts?limit=1000&cursor={c}")),
            None => s.url("/api/v1/alerts?limit=1000"),
        };
        let (_, body) = get(&url);
        if let Some(a) = body["alerts"].as_array().and_then(|a| a.last()) {
            last = a["id"].as_str().map(str::to_string);
        }
        match body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return last.expect("an alert"),
        }
    }
}

fn metric(s: &TestServer, name: &str) -> f64 {
    metric_value(s, name).unwrap_or_else(|| panic!("no {name} in /metrics"))
}

#[test]
fn a_full_disk_degrades_ingest_and_recovers_without_restart() {
    let Some(fs) = Tmpfs::mount("24m") else {
        return;
    };
    let s = TestServer::start(config(&fs.mnt.join("data")));
    let (h, body) = get_as(&s.url("/healthz"), None);
    assert_eq!((h, &body["status"]), (200, &Value::from("ok")));

    // Acknowledged before the disk fills.
    let mut acked: Vec<String> = Vec::new();
    let mut next = 0u64;
    for _ in 0..3 {
        let (st, body) = ingest(&s, &batch(next, 50));
        assert_eq!(st, 200, "{body}");
        acked.extend((next..next + 50).map(|n| format!("s1-{n}")));
        next += 50;
    }

    let filled = fill(&fs.mnt);
    assert!(filled > 0);
    // The store uses the free pages of its file, then needs to grow it:
    // batches are acknowledged until then, and the first refused one is
    // what a sensor would retry.
    let refused = loop {
        assert!(next < 20_000, "ingest never failed on a full disk");
        let body_text = batch(next, 50);
        let (st, body) = ingest(&s, &body_text);
        match st {
            200 => acked.extend((next..next + 50).map(|n| format!("s1-{n}"))),
            503 => {
                assert_eq!(
                    body["error"], "store write failed: no space left on device; retrying",
                    "{body}"
                );
                break (next, body_text);
            }
            other => panic!("ingest answered {other}: {body}"),
        }
        next += 50;
    };
    next += 50;

    // Degraded: /healthz says why (no credentials needed), reads go on.
    let (h, body) = get_as(&s.url("/healthz"), None);
    assert_eq!(h, 503, "{body}");
    assert_eq!(body["status"], "degraded");
    assert_eq!(
        body["reason"],
        "store write failed: no space left on device; retrying"
    );
    assert!(
        body["since"].as_str().is_some_and(|t| t.starts_with("20")),
        "{body}"
    );
    let before = stored(&s);
    assert_eq!(before.len(), acked.len(), "reads while the disk is full");
    assert!(before.values().all(|&n| n == 1));
    let (st, one) = get(&s.url(&format!("/api/v1/alerts/{}", first_id(&s))));
    assert_eq!((st, &one["alert_id"]), (200, &Value::from("s1-0")), "{one}");
    // Retries while still full are refused at once, with the same answer.
    for _ in 0..3 {
        std::thread::sleep(Duration::from_millis(300));
        let t0 = Instant::now();
        let (st, body) = ingest(&s, &refused.1);
        assert_eq!(st, 503, "{body}");
        assert!(t0.elapsed() < Duration::from_secs(5));
    }
    assert!(metric(&s, "otwatch_analyzer_store_write_errors_total") >= 1.0);
    assert_eq!(metric(&s, "otwatch_analyzer_store_failing"), 1.0);

    // Space is back: the sensor's retry of the refused batch succeeds
    // without a restart.
    std::fs::remove_file(fs.mnt.join("filler")).expect("rm filler");
    let t0 = Instant::now();
    loop {
        let (st, body) = ingest(&s, &refused.1);
        if st == 200 {
            assert_eq!(body["stored"], 50, "{body}");
            break;
        }
        assert_eq!(st, 503, "{body}");
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "ingest did not recover: {body}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    acked.extend((refused.0..refused.0 + 50).map(|n| format!("s1-{n}")));
    let (h, body) = get_as(&s.url("/healthz"), None);
    assert_eq!((h, &body["status"]), (200, &Value::from("ok")), "{body}");
    assert_eq!(metric(&s, "otwatch_analyzer_store_failing"), 0.0);

    // New alerts after the recovery, and a resend of an acknowledged batch
    // (a sensor that lost the answer) stored once.
    let (st, body) = ingest(&s, &batch(next, 50));
    assert_eq!(st, 200, "{body}");
    acked.extend((next..next + 50).map(|n| format!("s1-{n}")));
    let (st, body) = ingest(&s, &batch(0, 50));
    assert_eq!((st, &body["duplicates"]), (200, &Value::from(50)), "{body}");

    let after = stored(&s);
    let mut want: Vec<String> = acked.clone();
    want.sort();
    want.dedup();
    assert_eq!(want.len(), acked.len(), "the test acknowledged an id twice");
    assert_eq!(after.keys().cloned().collect::<Vec<_>>(), want);
    assert!(
        after.values().all(|&n| n == 1),
        "stored more than once: {:?}",
        after.iter().filter(|(_, &n)| n > 1).collect::<Vec<_>>()
    );
    s.stop();

    // And all of it is on disk: a fresh start finds the same alerts.
    let s = TestServer::start(config(&fs.mnt.join("data")));
    assert_eq!(stored(&s), after);
    s.stop();
    drop(fs);
}
