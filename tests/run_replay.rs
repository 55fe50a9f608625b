//! `otwatch run` on captures, started again on the same data directory:
//! alert ids come from the input, so a second start stores nothing new.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

mod common;
use common::{http_get, http_post, login_link};

/// A started `otwatch run`, stopped (SIGTERM, then killed) when dropped.
struct Run {
    child: Child,
    stderr: PathBuf,
    /// HOST:PORT of its listener.
    host: String,
    /// The API token of its login link.
    token: String,
}

impl Drop for Run {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Run {
    /// Starts `otwatch run` on `data` with `args` and waits until its replay
    /// is stored and it serves.
    fn start(data: &Path, name: &str, args: &[&str]) -> Run {
        let stderr = data.with_extension(format!("{name}.err"));
        let child = Command::new(env!("CARGO_BIN_EXE_otwatch"))
            .args(["run", "--listen", "127.0.0.1:0"])
            .arg("--data")
            .arg(data)
            .args(args)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr).expect("stderr file"))
            .spawn()
            .expect("start otwatch run");
        let mut run = Run {
            child,
            stderr,
            host: String::new(),
            token: String::new(),
        };
        // `otwatch run: N packets, M alerts (K new in the store); serving
        // http://HOST:PORT/?token=TOKEN (Ctrl-C to stop)`
        let needle = "new in the store); serving http://";
        let deadline = Instant::now() + Duration::from_secs(120);
        let text = loop {
            let text = run.stderr_text();
            if text.contains(needle) {
                break text;
            }
            if let Ok(Some(status)) = run.child.try_wait() {
                panic!("otwatch run exited ({status}):\n{text}");
            }
            assert!(
                Instant::now() < deadline,
                "otwatch run never served:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        (run.host, run.token) = login_link(&text);
        run
    }

    fn stderr_text(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// GET `path` with the API token: the JSON body of a 200.
    fn get(&self, path: &str) -> Value {
        http_get(&self.host, &self.token, path)
    }

    /// The line of the summary: packets, alerts and new ones in the store.
    fn summary(&self) -> (u64, u64, u64) {
        let text = self.stderr_text();
        let line = text
            .lines()
            .find(|l| l.contains("new in the store"))
            .unwrap_or_default();
        let numbers: Vec<u64> = line
            .split(|c: char| !c.is_ascii_digit())
            .filter_map(|n| n.parse().ok())
            .collect();
        match numbers[..] {
            [packets, alerts, new, ..] => (packets, alerts, new),
            _ => panic!("no summary in:\n{text}"),
        }
    }
}

/// Every alert id the analyzer serves, newest first.
fn alert_ids(run: &Run) -> Vec<String> {
    let mut ids = Vec::new();
    let mut path = "/api/v1/alerts?limit=500".to_owned();
    loop {
        let page = run.get(&path);
        for a in page["alerts"].as_array().into_iter().flatten() {
            ids.push(a["alert_id"].as_str().unwrap_or_default().to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(cursor) if !cursor.is_empty() => {
                path = format!("/api/v1/alerts?limit=500&cursor={cursor}");
            }
            _ => break,
        }
    }
    ids
}

#[test]
fn run_started_twice_on_one_capture_stores_its_alerts_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");

    // The bundled demo capture (written into the data directory at each
    // start, the same bytes every time).
    let first = Run::start(&data, "first", &[]);
    let (packets, alerts, new) = first.summary();
    assert!(
        alerts > 10,
        "the demo plant raises alerts: {}",
        first.stderr_text()
    );
    assert_eq!(new, alerts, "a fresh store takes every alert");
    let stored = first.get("/api/v1/stats")["alerts"].as_u64();
    assert_eq!(stored, Some(alerts));
    let ids = alert_ids(&first);
    assert_eq!(ids.len() as u64, alerts);
    drop(first);

    let second = Run::start(&data, "second", &[]);
    assert_eq!(
        second.summary(),
        (packets, alerts, 0),
        "nothing new the second time"
    );
    assert_eq!(second.get("/api/v1/stats")["alerts"].as_u64(), Some(alerts));
    assert_eq!(alert_ids(&second), ids);
    // One sensor, the same name at both starts.
    let sensors = second.get("/api/v1/sensors");
    let names: Vec<&str> = sensors["sensors"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(names, ["otwatch-run"], "{sensors}");
    drop(second);

    // Another capture on the same store: its alerts are new.
    let capture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("pcaps/modbus_attack_diagnostics.pcap");
    let capture = capture.to_string_lossy().into_owned();
    let third = Run::start(&data, "third", &["--pcap", &capture]);
    let (_, other_alerts, other_new) = third.summary();
    assert!(other_alerts > 0);
    assert_eq!(other_new, other_alerts, "{}", third.stderr_text());
    assert_eq!(
        third.get("/api/v1/stats")["alerts"].as_u64(),
        Some(alerts + other_alerts)
    );
}

impl Run {
    /// POST the JSON `body` to `path` with the API token: status and body.
    fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        http_post(&self.host, &self.token, path, body)
    }
}

/// The stored alerts by (rule, source, destination).
fn alert_groups(run: &Run) -> std::collections::BTreeMap<(u64, String, String), u64> {
    let mut groups = std::collections::BTreeMap::new();
    let page = run.get("/api/v1/alerts?limit=1000");
    for a in page["alerts"].as_array().into_iter().flatten() {
        let key = (
            a["signature_id"].as_u64().unwrap_or(0),
            a["src_ip"].as_str().unwrap_or_default().to_owned(),
            a["dest_ip"].as_str().unwrap_or_default().to_owned(),
        );
        *groups.entry(key).or_insert(0) += 1;
    }
    groups
}

#[test]
fn an_override_added_through_the_api_stops_the_alerts_of_its_pair() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let first = Run::start(&data, "first", &[]);
    let (_, alerts, _) = first.summary();
    let groups = alert_groups(&first);
    // The rule and pair with the most alerts, and one of the same rule
    // with another pair, if any, which must go on alerting.
    let ((rule, src, dest), n) = groups
        .iter()
        .max_by_key(|(_, n)| **n)
        .map(|(k, n)| (k.clone(), *n))
        .expect("alerts");
    let (status, body) = first.post(
        "/api/v1/overrides",
        &serde_json::json!({"rule": rule, "src_ip": src, "dest_ip": dest, "note": "e2e"}),
    );
    assert_eq!(status, 201, "{body}");
    assert!(
        body["reload"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("next start")),
        "{body}"
    );
    let file = data.join("overrides.yaml");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&file)
            .map(|m| m.permissions().mode() & 0o777)
            .ok(),
        Some(0o600)
    );
    let listed = first.get("/api/v1/overrides");
    assert_eq!(
        listed["suppress"][0]["rule"].as_u64(),
        Some(rule),
        "{listed}"
    );
    drop(first);

    // The next start replays the capture with the override: that pair's
    // alerts of that rule are not raised (the stored ones stay).
    let second = Run::start(&data, "second", &[]);
    let (_, again, new) = second.summary();
    assert_eq!(again, alerts - n, "{}", second.stderr_text());
    assert_eq!(new, 0);
    drop(second);

    // The same through `otwatch replay --overrides`, with the count of
    // suppressed matches in the summary and the stats line.
    let demo = data.join("demo.pcap");
    let out = Command::new(env!("CARGO_BIN_EXE_otwatch"))
        .args([
            "replay",
            "--eve",
            "-",
            "--events",
            "alert,stats",
            "--overrides",
        ])
        .arg(&file)
        .arg(&demo)
        .output()
        .expect("replay");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "suppressed   {n} matches kept from alerting by the overrides"
        )),
        "{stderr}"
    );
    let eve = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<Value> = eve
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let alert_lines = lines.iter().filter(|l| l["event_type"] == "alert").count() as u64;
    assert_eq!(alert_lines, alerts - n);
    let stats = lines
        .iter()
        .find(|l| l["event_type"] == "stats")
        .expect("stats");
    assert_eq!(
        stats["stats"]["overrides"]["suppressed"].as_u64(),
        Some(n),
        "{stats}"
    );

    // `rules check` validates the file; an unknown rule id is an error at
    // its position.
    let check = |path: &Path| {
        Command::new(env!("CARGO_BIN_EXE_otwatch"))
            .args(["rules", "check"])
            .arg(path)
            .output()
            .expect("rules check")
    };
    let ok = check(&file);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(String::from_utf8_lossy(&ok.stdout).contains("overrides OK (1 suppressions)"));
    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "suppress:\n  - rule: 110007\n    src_ip: 10.0.0.1\n  - rule: 4242\n    src_ip: 10.0.0.1\n",
    )
    .expect("write");
    // `rules test --overrides`: a test whose alert an override hides fails.
    let hide = dir.path().join("hide.yaml");
    std::fs::write(
        &hide,
        "suppress:\n  - {rule: 110001, src_ip: 10.200.7.20}\n",
    )
    .expect("write");
    let rules = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/default");
    let tested = Command::new(env!("CARGO_BIN_EXE_otwatch"))
        .args(["rules", "test"])
        .arg(&rules)
        .arg("--overrides")
        .arg(&hide)
        .output()
        .expect("rules test");
    assert_eq!(tested.status.code(), Some(1));
    let report = String::from_utf8_lossy(&tested.stdout);
    assert!(report.contains("FAIL 110001 "), "{report}");
    assert!(report.contains(" tests, 1 failed,"), "{report}");
    let out = check(&bad);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "{}:4:5: rule 4242 is not in the ruleset",
            bad.display()
        )),
        "{err}"
    );
}
