//! `/api/v1/overrides`: the analyst's suppressions, on a real server on
//! port 0, with an overrides file in a temporary folder and a reload that
//! counts its calls; and a standalone analyzer, which has no file.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use common::*;
use otwatch_analyzer::{OverridesHook, RuleInfo};
use otwatch_rules::overrides;
use serde_json::{json, Value};

fn rule(id: u32, name: &str) -> RuleInfo {
    RuleInfo {
        id,
        rev: 1,
        name: name.into(),
        severity: "high".into(),
        protocol: "modbus".into(),
        description: String::new(),
        attack: Vec::new(),
        yaml: String::new(),
    }
}

fn add(s: &TestServer, body: &Value) -> (u16, Value) {
    post(
        &s.url("/api/v1/overrides"),
        Some(API_TOKEN),
        &body.to_string(),
    )
}

fn remove(s: &TestServer, body: &Value) -> (u16, Value) {
    post(
        &s.url("/api/v1/overrides/remove"),
        Some(API_TOKEN),
        &body.to_string(),
    )
}

fn listed(s: &TestServer) -> Vec<Value> {
    let (status, body) = get(&s.url("/api/v1/overrides"));
    assert_eq!(status, 200, "{body}");
    body["suppress"].as_array().cloned().unwrap_or_default()
}

#[test]
fn adds_lists_and_removes_suppressions_in_a_private_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = TestServer::start(config(dir.path()));
    s.analyzer.set_rules(vec![
        rule(
            110007,
            "Modbus write from a host that is not an engineering station",
        ),
        rule(110001, "Modbus diagnostics - force listen only mode"),
    ]);
    let path = dir.path().join("overrides.yaml");
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    s.analyzer
        .set_overrides(Some(OverridesHook::new(&path, move || {
            c.fetch_add(1, Ordering::SeqCst);
            Ok("rules reloaded".to_string())
        })));

    // No file yet: nothing listed.
    let (status, body) = get(&s.url("/api/v1/overrides"));
    assert_eq!(status, 200);
    assert_eq!(body["suppress"], json!([]));
    assert_eq!(body["writable"], true);
    assert_eq!(body["path"], path.display().to_string());

    // A source.
    let (status, body) = add(
        &s,
        &json!({"rule": 110007, "src_ip": "10.200.7.20", "note": "the test bench", "by": "ana"}),
    );
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["added"]["rule"], 110007);
    assert_eq!(body["added"]["src_ip"], "10.200.7.20");
    assert_eq!(body["added"]["dest_ip"], Value::Null);
    assert_eq!(body["added"]["by"], "ana");
    assert_eq!(
        body["reload"],
        json!({"ok": true, "message": "rules reloaded"})
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    let mode = std::fs::metadata(&path).map(|m| m.permissions().mode() & 0o777);
    assert_eq!(mode.ok(), Some(0o600), "the file is private");
    let file = overrides::load(&path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(file.suppress.len(), 1);
    assert_eq!(file.suppress[0].note, "the test bench");
    assert!(
        otwatch_rules::baseline::file::parse_time(&file.suppress[0].at).is_some(),
        "{:?}",
        file.suppress[0].at
    );

    // A pair, of another rule; the names come from the rules.
    let (status, body) = add(
        &s,
        &json!({"rule": 110001, "src_ip": "10.200.7.20", "dest_ip": "10.200.7.10"}),
    );
    assert_eq!(status, 201, "{body}");
    let list = listed(&s);
    assert_eq!(list.len(), 2);
    assert_eq!(
        list[0]["rule_name"],
        "Modbus write from a host that is not an engineering station"
    );
    assert_eq!(list[1]["dest_ip"], "10.200.7.10");
    assert_eq!(list[1]["by"], "analyst", "the default author");

    // The same target again, bad requests: refused, nothing written.
    let before = std::fs::read_to_string(&path).expect("file");
    let refused: [(Value, u16, &str); 8] = [
        (
            json!({"rule": 110007, "src_ip": "10.200.7.20"}),
            409,
            "already suppressed",
        ),
        (
            json!({"rule": 4242, "src_ip": "10.0.0.1"}),
            400,
            "rule 4242 is not in the ruleset",
        ),
        (
            json!({"rule": 110007, "src_ip": "10.0.0.300"}),
            400,
            "is not an address or a network",
        ),
        (
            json!({"rule": 110007}),
            400,
            "names `src_ip`, `dest_ip` or both",
        ),
        (
            json!({"rule": 110007, "src_ip": " "}),
            400,
            "names `src_ip`, `dest_ip` or both",
        ),
        (json!({"src_ip": "10.0.0.1"}), 400, "missing field `rule`"),
        (
            json!({"rule": 110007, "src_ip": "10.0.0.1", "extra": 1}),
            400,
            "unknown field `extra`",
        ),
        (
            json!({"rule": 110007, "src_ip": "10.0.0.1", "note": "x".repeat(2000)}),
            400,
            "longer than 1024 bytes",
        ),
    ];
    for (body, want, text) in refused {
        let (status, answer) = add(&s, &body);
        assert_eq!(status, want, "{body}: {answer}");
        let msg = answer["error"].as_str().unwrap_or_default();
        assert!(msg.contains(text), "{body}: {msg}");
    }
    let (status, _) = post(&s.url("/api/v1/overrides"), Some(API_TOKEN), "not json");
    assert_eq!(status, 400);
    assert_eq!(std::fs::read_to_string(&path).ok(), Some(before));
    assert_eq!(calls.load(Ordering::SeqCst), 2);

    // Sensors' tokens may not change it.
    let (status, _) = post(
        &s.url("/api/v1/overrides"),
        Some(TOKEN),
        &json!({"rule": 110007, "dest_ip": "10.0.0.1"}).to_string(),
    );
    assert_eq!(status, 403);

    // Removal by rule and addresses.
    let (status, body) = remove(&s, &json!({"rule": 110007, "src_ip": "10.200.7.20"}));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["removed"]["note"], "the test bench");
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    let (status, body) = remove(&s, &json!({"rule": 110007, "src_ip": "10.200.7.20"}));
    assert_eq!(status, 404, "{body}");
    let list = listed(&s);
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["rule"], 110001);
    assert_eq!(
        overrides::load(&path).map(|o| o.suppress.len()).ok(),
        Some(1)
    );

    // A file broken by hand: listed as an error, changes refused.
    std::fs::write(&path, "suppress:\n  - rule: 110007\n    src_ip: nowhere\n").expect("write");
    let (status, body) = get(&s.url("/api/v1/overrides"));
    assert_eq!(status, 200);
    assert!(
        body["file_error"]
            .as_str()
            .is_some_and(|e| e.contains(":3:13: `src_ip`")),
        "{body}"
    );
    let (status, body) = add(&s, &json!({"rule": 110001, "src_ip": "10.0.0.1"}));
    assert_eq!(status, 409, "{body}");
}

#[test]
fn a_standalone_analyzer_refuses_overrides_clearly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = TestServer::start(config(dir.path()));
    s.analyzer.set_rules(vec![rule(110007, "w")]);
    let (status, body) = get(&s.url("/api/v1/overrides"));
    assert_eq!(status, 200);
    assert_eq!(body["writable"], false);
    assert!(body["why_not"]
        .as_str()
        .is_some_and(|w| w.contains("no overrides file")));
    let (status, body) = add(&s, &json!({"rule": 110007, "src_ip": "10.0.0.1"}));
    assert_eq!(status, 409, "{body}");
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("without a sensor")),
        "{body}"
    );
    let (status, _) = remove(&s, &json!({"rule": 110007, "src_ip": "10.0.0.1"}));
    assert_eq!(status, 409);
    let (status, _) = get_as(&s.url("/api/v1/overrides"), None);
    assert_eq!(status, 401);
}
