//! The review workflow of the learned baseline: a real server on port 0,
//! deviation alerts shaped as `otwatch replay --baseline` writes them (the
//! reads-only Modbus baseline against the polling capture), a baseline file
//! in a temporary folder and a reload that counts its calls.

mod common;

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::*;
use otwatch_analyzer::{BaselineHook, BaselineState};
use otwatch_proto::registry::ProtocolId;
use otwatch_rules::baseline::{file, OpClass, ServerKey};
use serde_json::{json, Value};

const SERVER: &str = "10.200.7.10";
const CLIENT: &str = "10.200.7.20";
/// 2026-11-28T18:00:00Z, the time of [`alert`]'s lines.
const T0: u64 = 1_795_888_800;

/// The reads-only baseline of the bundled rules' tests, copied into `dir`.
fn baseline_file(dir: &Path) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../rules/default/baselines/modbus_reads_only.yaml");
    let path = dir.join("plant.yaml");
    std::fs::copy(src, &path).expect("copy the baseline");
    path
}

/// A first-write deviation of the polling client: `function` at `first..=last`,
/// `secs` after [`T0`].
fn first_write(n: u64, function: u32, name: &str, first: u32, last: u32, secs: u64) -> Value {
    let mut v = alert(n, 150009, 2, "baseline", CLIENT, SERVER, secs);
    v["app_proto"] = json!("modbus");
    v["alert"]["signature"] = json!("First write from a client that only read");
    v["modbus"] = json!({"transaction_id": n, "unit_id": 1,
        "request": {"function_code": function, "function": name, "access": "write", "address": first}});
    let at = if first == last {
        format!("{first}")
    } else {
        format!("{first}-{last}")
    };
    v["baseline"] = json!({
        "deviation": "first_write",
        "observed": format!("write {name} ({function}) unit 1 at {at}"),
        "learned": "read read_holding_registers (3) unit 1 at 0-9, 500-501 only",
        "server": SERVER, "protocol": "modbus", "port": 502, "client": CLIENT, "station": 1,
        "operation": {"class": "write", "function": function, "name": name, "unit": 1,
                      "range": [first, last]},
    });
    v
}

/// A reload hook on `path` that counts its calls.
fn counting_hook(path: &Path) -> (BaselineHook, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let hook = BaselineHook::new(path, move || {
        c.fetch_add(1, Ordering::SeqCst);
        Ok("baseline reloaded".to_string())
    });
    (hook, calls)
}

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(T0 + secs)
}

/// A server enforcing the baseline in `dir` since [`T0`] + 60 s, fed with:
/// a first write of function 6 before enforcement (not listed), two of
/// function 6 at registers 10 and 11 (one group), one of function 5, and a
/// signature alert (not a deviation).
fn seeded(dir: &Path) -> (TestServer, PathBuf, Arc<AtomicUsize>) {
    let s = TestServer::start(config(dir));
    let path = baseline_file(dir);
    let (hook, calls) = counting_hook(&path);
    s.analyzer.set_baseline(Some(hook));
    s.analyzer
        .set_baseline_state(BaselineState::Enforcing { since: at(60) });
    let lines = [
        first_write(1, 6, "write_single_register", 10, 10, 30),
        first_write(2, 6, "write_single_register", 10, 10, 120),
        first_write(3, 6, "write_single_register", 11, 11, 180),
        first_write(4, 5, "write_single_coil", 0, 0, 240),
        alert(5, 110001, 1, "modbus", CLIENT, SERVER, 300),
    ];
    let (status, body) = ingest(&s, &ndjson(&lines));
    assert_eq!(status, 200, "{body}");
    (s, path, calls)
}

fn deviations(s: &TestServer) -> Value {
    let (status, body) = get(&s.url("/api/v1/baseline/deviations"));
    assert_eq!(status, 200, "{body}");
    body
}

/// The API id of the alert with the sensor's id `alert_id`.
fn api_id(s: &TestServer, alert_id: &str) -> String {
    let (status, body) = get(&s.url("/api/v1/alerts?limit=100"));
    assert_eq!(status, 200, "{body}");
    body["alerts"]
        .as_array()
        .expect("alerts")
        .iter()
        .find(|a| a["alert_id"] == alert_id)
        .and_then(|a| a["id"].as_str())
        .expect("stored")
        .to_string()
}

fn accept(s: &TestServer, body: &Value) -> (u16, Value) {
    post(
        &s.url("/api/v1/baseline/accept"),
        Some(API_TOKEN),
        &body.to_string(),
    )
}

/// The write operations of the polling client in the file at `path`:
/// (function, ranges).
fn writes(path: &Path) -> Vec<(u32, Vec<(u32, u32)>)> {
    let b = file::load(path).expect("the saved file parses");
    let key = ServerKey {
        ip: SERVER.parse().expect("ip"),
        protocol: ProtocolId::from_name("modbus").expect("modbus"),
        port: 502,
    };
    let client: IpAddr = CLIENT.parse().expect("ip");
    let server = b.server(&key).expect("the server is in the file");
    let ops = &server.clients.get(&client).expect("the client").ops;
    ops.values()
        .filter(|o| o.class == OpClass::Write)
        .map(|o| (o.code, o.ranges.as_slice().to_vec()))
        .collect()
}

#[test]
fn every_baseline_route_needs_credentials() {
    let dir = tempfile::tempdir().expect("tmp");
    let (s, _, calls) = seeded(dir.path());
    for path in [
        "/api/v1/baseline",
        "/api/v1/baseline/file",
        "/api/v1/baseline/deviations",
    ] {
        let (status, _) = get_as(&s.url(path), None);
        assert_eq!(status, 401, "{path}");
    }
    let id = api_id(&s, "s1-2");
    for path in ["/api/v1/baseline/accept", "/api/v1/baseline/keep"] {
        let (status, _) = post(&s.url(path), None, &json!({ "id": id }).to_string());
        assert_eq!(status, 401, "{path}");
        // An ingest token only ingests.
        let (status, _) = post(&s.url(path), Some(TOKEN), &json!({ "id": id }).to_string());
        assert_eq!(status, 403, "{path}");
    }
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

#[test]
fn without_a_baseline_the_state_is_none_and_accept_is_refused() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = TestServer::start(config(dir.path()));
    let (status, body) = get(&s.url("/api/v1/baseline"));
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"state": "none", "since": null, "until": null, "path": null, "summary": null,
            "file_error": null, "can_accept": false,
            "why_not": "no baseline file is configured here (`otwatch run --baseline FILE`, or learn one with `otwatch learn` or `--learn`)"})
    );
    let (status, body) = get(&s.url("/api/v1/baseline/file"));
    assert_eq!(
        (status, body),
        (404, json!({"error": "no baseline file is configured"}))
    );
    // A separate sensor enforcing a baseline: its deviations are still listed.
    let (status, _) = ingest(
        &s,
        &ndjson(&[first_write(1, 6, "write_single_register", 10, 10, 0)]),
    );
    assert_eq!(status, 200);
    let list = deviations(&s);
    assert_eq!(list["groups"].as_array().map(Vec::len), Some(1));
    assert_eq!(list["since"], Value::Null);
    let id = api_id(&s, "s1-1");
    let (status, body) = accept(&s, &json!({ "id": id }));
    assert_eq!(
        (status, body),
        (
            503,
            json!({"error": "no baseline file is configured: nothing to accept into"})
        )
    );
}

#[test]
fn the_state_says_what_is_enforced_and_summarises_the_file() {
    let dir = tempfile::tempdir().expect("tmp");
    let (s, path, _) = seeded(dir.path());
    let (status, body) = get(&s.url("/api/v1/baseline"));
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({
            "state": "enforcing", "since": "2026-11-28T18:01:00.000000Z", "until": null,
            "path": path.display().to_string(),
            "summary": {"servers": 1, "pairs": 1, "operations": 12, "learned": {
                "from": "2026-11-28T18:07:21Z", "until": "2026-11-28T18:07:22Z",
                "sources": ["../../pcaps/modbus_pymodbus_polling.pcap"]}},
            "file_error": null, "can_accept": true, "why_not": null,
        })
    );
    s.analyzer.set_baseline_state(BaselineState::Learning {
        until: at(3600 * 24),
    });
    let (_, body) = get(&s.url("/api/v1/baseline"));
    assert_eq!(
        (&body["state"], &body["until"], &body["can_accept"]),
        (
            &json!("learning"),
            &json!("2026-11-29T18:00:00.000000Z"),
            &json!(false)
        )
    );
}

#[test]
fn the_file_downloads_as_yaml() {
    let dir = tempfile::tempdir().expect("tmp");
    let (s, path, _) = seeded(dir.path());
    let mut r = agent()
        .get(&s.url("/api/v1/baseline/file"))
        .header("Authorization", &format!("Bearer {API_TOKEN}"))
        .call()
        .expect("request");
    assert_eq!(r.status().as_u16(), 200);
    let header = |name: &str| {
        r.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    assert_eq!(
        header("content-type").as_deref(),
        Some("text/yaml; charset=utf-8")
    );
    assert_eq!(
        header("content-disposition").as_deref(),
        Some("attachment; filename=\"plant.yaml\"")
    );
    let text = r.body_mut().read_to_string().expect("body");
    assert_eq!(text, std::fs::read_to_string(&path).expect("file"));
    // Gone (learning has not written it yet): a JSON 404.
    std::fs::remove_file(&path).expect("rm");
    let (status, body) = get(&s.url("/api/v1/baseline/file"));
    assert_eq!(status, 404);
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("does not exist")),
        "{body}"
    );
}

#[test]
fn deviations_since_enforcement_are_grouped_by_what_accept_adds() {
    let dir = tempfile::tempdir().expect("tmp");
    let (s, _, _) = seeded(dir.path());
    let list = deviations(&s);
    let example = api_id(&s, "s1-3");
    let coil = api_id(&s, "s1-4");
    let key = |f: u32| {
        json!([
            "first_write",
            CLIENT,
            SERVER,
            "modbus",
            502,
            1,
            ["class", "write"],
            ["function", f],
            ["unit", 1]
        ])
        .to_string()
    };
    assert_eq!(
        list,
        json!({
            "since": "2026-11-28T18:01:00.000000Z",
            "more_groups": false, "scanned": 3, "truncated": false,
            "groups": [
                {"key": key(5), "deviation": "first_write",
                 "client": CLIENT, "server": SERVER, "protocol": "modbus", "port": 502, "station": 1,
                 "observed": "write write_single_coil (5) unit 1 at 0",
                 "learned": "read read_holding_registers (3) unit 1 at 0-9, 500-501 only",
                 "operation": {"class": "write", "function": 5, "name": "write_single_coil", "unit": 1},
                 "signature": "First write from a client that only read", "severity": 2,
                 "count": 1, "first": "2026-11-28T18:04:00.000001+0000",
                 "last": "2026-11-28T18:04:00.000001+0000", "example_id": coil, "review": null},
                {"key": key(6), "deviation": "first_write",
                 "client": CLIENT, "server": SERVER, "protocol": "modbus", "port": 502, "station": 1,
                 "observed": "write write_single_register (6) unit 1 at 11",
                 "learned": "read read_holding_registers (3) unit 1 at 0-9, 500-501 only",
                 "operation": {"class": "write", "function": 6, "name": "write_single_register", "unit": 1},
                 "signature": "First write from a client that only read", "severity": 2,
                 "count": 2, "first": "2026-11-28T18:02:00.000001+0000",
                 "last": "2026-11-28T18:03:00.000001+0000", "example_id": example, "review": null},
            ],
        })
    );
    let (status, body) = get(&s.url("/api/v1/baseline/deviations?limit=1"));
    assert_eq!(status, 200);
    assert_eq!(
        (
            body["groups"].as_array().map(Vec::len),
            &body["more_groups"]
        ),
        (Some(1), &json!(true))
    );
    let (status, body) = get(&s.url("/api/v1/baseline/deviations?limit=0"));
    assert_eq!(
        (status, body),
        (400, json!({"error": "`limit`: \"0\" is not 1 to 1000"}))
    );
}

#[test]
fn accept_adds_the_group_to_the_file_reloads_and_closes_its_alerts() {
    let dir = tempfile::tempdir().expect("tmp");
    let (s, path, calls) = seeded(dir.path());
    assert_eq!(writes(&path), vec![]);
    let id = api_id(&s, "s1-2");
    let (status, body) = accept(&s, &json!({"id": id, "by": "ana"}));
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({
            "accepted": {"deviation": "first_write", "server": SERVER, "protocol": "modbus",
                "port": 502, "client": CLIENT, "station": 1,
                "operation": {"class": "write", "function": 6, "name": "write_single_register",
                              "unit": 1, "range": [10, 10]}},
            "alerts": 2,
            "path": path.display().to_string(),
            "summary": {"servers": 1, "pairs": 1, "operations": 13, "learned": {
                "from": "2026-11-28T18:07:21Z", "until": "2026-11-28T18:07:22Z",
                "sources": ["../../pcaps/modbus_pymodbus_polling.pcap"]}},
            "reload": {"ok": true, "message": "baseline reloaded"},
        })
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    // Exactly the group's operation, with the registers of both alerts; the
    // alert from before enforcement (also register 10) changes nothing more.
    assert_eq!(writes(&path), vec![(6, vec![(10, 11)])]);
    let list = deviations(&s);
    let reviews: Vec<&Value> = list["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .map(|g| &g["review"])
        .collect();
    assert_eq!(reviews, vec![&Value::Null, &json!("accepted")]);
    let (_, one) = get(&s.url(&format!("/api/v1/alerts/{id}")));
    assert_eq!(
        (&one["state"], &one["state_by"], &one["state_note"]),
        (
            &json!("closed"),
            &json!("ana"),
            &json!("accepted into the baseline")
        )
    );
    let (_, before) = get(&s.url(&format!("/api/v1/alerts/{}", api_id(&s, "s1-1"))));
    assert_eq!(before["state"], json!("new"), "before enforcement");
}

#[test]
fn keep_alerting_marks_the_group_and_leaves_the_file() {
    let dir = tempfile::tempdir().expect("tmp");
    let (s, path, calls) = seeded(dir.path());
    let before = std::fs::read(&path).expect("file");
    let id = api_id(&s, "s1-4");
    let (status, body) = post(
        &s.url("/api/v1/baseline/keep"),
        Some(API_TOKEN),
        &json!({ "id": id }).to_string(),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["alerts"], json!(1));
    assert_eq!(std::fs::read(&path).expect("file"), before);
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    let list = deviations(&s);
    assert_eq!(list["groups"][0]["review"], json!("kept"));
    let (_, one) = get(&s.url(&format!("/api/v1/alerts/{id}")));
    assert_eq!(
        (&one["state"], &one["state_note"]),
        (&json!("acknowledged"), &json!("reviewed: keep alerting"))
    );
}

#[test]
fn accept_refuses_what_it_cannot_accept() {
    let dir = tempfile::tempdir().expect("tmp");
    let (s, path, calls) = seeded(dir.path());
    let before = std::fs::read(&path).expect("file");
    let cases = [
        (
            json!({"id": "00000000000fffff"}),
            404,
            json!({"error": "no such alert"}),
        ),
        (
            json!({"id": api_id(&s, "s1-5")}),
            409,
            json!({"error": "the alert is not a baseline deviation (no `baseline` object)"}),
        ),
        (
            json!({"id": "zz"}),
            400,
            json!({"error": "\"zz\" is not an alert id"}),
        ),
    ];
    for (body, status, answer) in cases {
        assert_eq!(accept(&s, &body), (status, answer), "{body}");
    }
    let (status, body) = accept(&s, &json!({"alert": "x"}));
    assert_eq!(status, 400, "{body}");
    // A baseline object that does not read back (an unknown protocol).
    let mut odd = first_write(9, 6, "write_single_register", 12, 12, 400);
    odd["baseline"]["protocol"] = json!("nosuch");
    assert_eq!(ingest(&s, &ndjson(&[odd])).0, 200);
    let (status, body) = accept(&s, &json!({"id": api_id(&s, "s1-9")}));
    assert_eq!(
        (status, body),
        (
            409,
            json!({"error": "the deviation cannot be accepted: unknown protocol `nosuch`"})
        )
    );
    // While learning, there is nothing enforced to accept into.
    s.analyzer
        .set_baseline_state(BaselineState::Learning { until: at(7200) });
    let (status, _) = accept(&s, &json!({"id": api_id(&s, "s1-2")}));
    assert_eq!(status, 409);
    assert_eq!(std::fs::read(&path).expect("file"), before);
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

#[test]
fn a_file_that_cannot_be_written_is_a_500_with_the_reason() {
    let dir = tempfile::tempdir().expect("tmp");
    let (s, path, calls) = seeded(dir.path());
    // The atomic save writes `.NAME.PID.tmp` beside the file first: a folder
    // in its place makes the write fail, even for root.
    let tmp = dir
        .path()
        .join(format!(".plant.yaml.{}.tmp", std::process::id()));
    std::fs::create_dir(&tmp).expect("mkdir");
    let (status, body) = accept(&s, &json!({"id": api_id(&s, "s1-2")}));
    assert_eq!(status, 500, "{body}");
    let msg = body["error"].as_str().unwrap_or_default();
    assert!(
        msg.starts_with(&format!("cannot write {}: ", path.display())),
        "{msg}"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    assert_eq!(writes(&path), vec![]);
    let (_, one) = get(&s.url(&format!("/api/v1/alerts/{}", api_id(&s, "s1-2"))));
    assert_eq!(one["state"], json!("new"), "not accepted");
    // A file that no longer parses: the reason, and nothing changed.
    std::fs::remove_dir(&tmp).expect("rmdir");
    std::fs::write(&path, "version: 1\nservers: [oops\n").expect("write");
    let (status, body) = accept(&s, &json!({"id": api_id(&s, "s1-2")}));
    assert_eq!(status, 500, "{body}");
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.starts_with("the baseline file: ")),
        "{body}"
    );
}

#[test]
fn a_failed_reload_is_reported_after_the_file_was_saved() {
    let dir = tempfile::tempdir().expect("tmp");
    let (s, path, _) = seeded(dir.path());
    s.analyzer.set_baseline(Some(BaselineHook::new(&path, || {
        Err("the sensor is gone".to_string())
    })));
    let (status, body) = accept(&s, &json!({"id": api_id(&s, "s1-4")}));
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["reload"],
        json!({"ok": false, "message": "the sensor is gone"})
    );
    assert_eq!(writes(&path), vec![(5, vec![(0, 0)])]);
}
