//! API tests: a real server on port 0, exact JSON answers.

mod common;

use std::io::{BufRead, BufReader};

use common::*;
use otwatch_analyzer::config::{Format, Transport};
use serde_json::{json, Value};

/// Replaces the fields that depend on the clock with placeholders.
fn scrub(mut v: Value) -> Value {
    if let Some(o) = v.as_object_mut() {
        if let Some(id) = o.get("id").and_then(Value::as_str) {
            assert_eq!(id.len(), 16, "id {id}");
            o.insert("id".into(), json!("ID"));
        }
        if o.contains_key("received") {
            o.insert("received".into(), json!("RECEIVED"));
        }
        if o.get("group_id").is_some_and(Value::is_string) {
            o.insert("group_id".into(), json!("GROUP"));
        }
        if o.get("state_at").is_some_and(|v| !v.is_null()) {
            o.insert("state_at".into(), json!("STATE_AT"));
        }
    }
    v
}

fn list(s: &TestServer, query: &str) -> Vec<Value> {
    let (status, body) = get(&s.url(&format!("/api/v1/alerts?{query}")));
    assert_eq!(status, 200, "{body}");
    body["alerts"].as_array().expect("alerts").clone()
}

fn alert_ids(v: &[Value]) -> Vec<String> {
    v.iter()
        .map(|a| a["alert_id"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// Ten alerts over ten minutes: s1-0 … s1-9.
fn seed(s: &TestServer) {
    let lines: Vec<Value> = (0..10u64)
        .map(|n| {
            let sev = (n % 5) as u8 + 1;
            let proto = if n % 2 == 0 { "modbus" } else { "s7comm" };
            let src = if n < 5 { "10.0.0.2" } else { "10.0.0.3" };
            alert(
                n,
                110000 + (n % 3) as u32,
                sev,
                proto,
                src,
                "10.0.0.1",
                n * 60,
            )
        })
        .collect();
    let (status, body) = ingest(s, &ndjson(&lines));
    assert_eq!(status, 200, "{body}");
}

#[test]
fn ingest_requires_the_bearer_token() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = TestServer::start(config(dir.path()));
    let body = ndjson(&[alert(1, 110001, 1, "modbus", "10.0.0.2", "10.0.0.1", 0)]);
    let (status, v) = post(&s.url("/api/v1/ingest"), None, &body);
    let refused = json!({"error": "missing or wrong credentials: send Authorization: Bearer <API token>, or log in"});
    assert_eq!((status, v), (401, refused.clone()));
    let (status, v) = post(&s.url("/api/v1/ingest"), Some("wrong-token"), &body);
    assert_eq!((status, v), (401, refused));
    assert_eq!(list(&s, "").len(), 0);
}

#[test]
fn rejects_a_batch_with_bad_lines_and_stores_nothing() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = TestServer::start(config(dir.path()));
    let good = alert(1, 110001, 1, "modbus", "10.0.0.2", "10.0.0.1", 0);
    let mut no_sev = alert(2, 110001, 1, "modbus", "10.0.0.2", "10.0.0.1", 0);
    no_sev["alert"]
        .as_object_mut()
        .expect("obj")
        .remove("severity");
    let mut bad_ip = alert(3, 110001, 1, "modbus", "10.0.0.2", "10.0.0.1", 0);
    bad_ip["src_ip"] = json!("not-an-ip");
    let body = format!(
        "{good}\n{{\"event_type\":\"alert\"\n{no_sev}\n{{\"event_type\":\"flow\"}}\n{bad_ip}\n"
    );
    let (status, v) = ingest(&s, &body);
    assert_eq!(status, 400);
    assert_eq!(
        v["error"],
        "invalid lines; nothing of this batch was stored"
    );
    let lines: Vec<(u64, String)> = v["lines"]
        .as_array()
        .expect("lines")
        .iter()
        .map(|l| {
            (
                l["line"].as_u64().unwrap_or(0),
                l["error"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0].0, 2);
    assert!(
        lines[0]
            .1
            .starts_with("not a JSON object: EOF while parsing"),
        "{}",
        lines[0].1
    );
    assert_eq!(lines[1], (3, "missing `alert.severity`".to_string()));
    assert_eq!(
        lines[2],
        (5, "`src_ip` \"not-an-ip\" is not an IP address".to_string())
    );
    assert_eq!(list(&s, "").len(), 0);
}

#[test]
fn a_retried_batch_is_stored_once_and_other_types_are_counted() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = TestServer::start(config(dir.path()));
    let mut lines: Vec<Value> = (0..3)
        .map(|n| alert(n, 110001, 2, "modbus", "10.0.0.2", "10.0.0.1", n))
        .collect();
    lines.push(json!({"event_type": "modbus", "timestamp": "x"}));
    lines.push(json!({"event_type": "anomaly"}));
    let body = ndjson(&lines);
    let (status, v) = ingest(&s, &body);
    assert_eq!(status, 200);
    assert_eq!(
        v,
        json!({"stored": 3, "duplicates": 0, "assets": 0, "identity_changes": 0, "stats": 0, "ignored": 2})
    );
    let (status, v) = ingest(&s, &body);
    assert_eq!(status, 200);
    assert_eq!(
        v,
        json!({"stored": 0, "duplicates": 3, "assets": 0, "identity_changes": 0, "stats": 0, "ignored": 2})
    );
    assert_eq!(alert_ids(&list(&s, "")), ["s1-2", "s1-1", "s1-0"]);
    let (_, stats) = get(&s.url("/api/v1/stats"));
    assert_eq!(stats["alerts"], 3);
}

#[test]
fn one_alert_has_its_flow_and_decoded_transaction() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = TestServer::start(config(dir.path()));
    let line = alert(7, 110001, 1, "modbus", "10.0.0.2", "10.0.0.1", 5);
    ingest(&s, &ndjson(std::slice::from_ref(&line)));
    let listed = list(&s, "");
    let id = listed[0]["id"].as_str().expect("id").to_string();
    assert_eq!(
        scrub(listed[0].clone()),
        json!({
            "id": "ID", "timestamp": "2026-11-28T18:00:05.000001+0000", "received": "RECEIVED",
            "severity": 1, "severity_name": "critical", "signature_id": 110001, "rev": 1,
            "signature": "Rule 110001", "category": "Test", "protocol": "modbus",
            "src_ip": "10.0.0.2", "src_port": 50000, "dest_ip": "10.0.0.1", "dest_port": 502,
            "sensor": "s1", "alert_id": "s1-7", "group_id": "GROUP", "attack": ["T0814"],
            "state": "new", "state_by": null, "state_at": null, "state_note": null,
        })
    );
    let (status, one) = get(&s.url(&format!("/api/v1/alerts/{id}")));
    assert_eq!(status, 200);
    let mut expected = listed[0].clone();
    let o = expected.as_object_mut().expect("obj");
    o.insert(
        "flow".into(),
        json!({"flow_id": 1007, "src_ip": "10.0.0.2", "src_port": 50000, "dest_ip": "10.0.0.1",
               "dest_port": 502, "proto": "TCP", "app_proto": "modbus"}),
    );
    o.insert(
        "transaction".into(),
        json!({"modbus": {"transaction_id": 7, "request": {"function_code": 8, "function": "diagnostics"}}}),
    );
    o.insert("eve".into(), line);
    assert_eq!(one, expected);
    assert_eq!(
        get(&s.url("/api/v1/alerts/00000000000000ff")),
        (404, json!({"error": "no such alert"}))
    );
    assert_eq!(
        get(&s.url("/api/v1/alerts/xyz")),
        (400, json!({"error": "\"xyz\" is not an alert id"}))
    );
}

#[test]
fn filters_and_cursor_pagination() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = TestServer::start(config(dir.path()));
    seed(&s);
    assert_eq!(alert_ids(&list(&s, "severity=critical")), ["s1-5", "s1-0"]);
    assert_eq!(
        alert_ids(&list(&s, "severity=1,2")),
        ["s1-6", "s1-5", "s1-1", "s1-0"]
    );
    assert_eq!(
        alert_ids(&list(&s, "severity=1&severity=2&protocol=modbus")),
        ["s1-6", "s1-0"]
    );
    assert_eq!(
        alert_ids(&list(&s, "rule=110002")),
        ["s1-8", "s1-5", "s1-2"]
    );
    assert_eq!(
        alert_ids(&list(&s, "host=10.0.0.3&protocol=s7comm")),
        ["s1-9", "s1-7", "s1-5"]
    );
    assert_eq!(
        alert_ids(&list(&s, "src_ip=10.0.0.2&rule=110000")),
        ["s1-3", "s1-0"]
    );
    assert_eq!(
        alert_ids(&list(&s, "dest_ip=10.0.0.2")),
        Vec::<String>::new()
    );
    assert_eq!(list(&s, "host=10.0.0.1").len(), 10);
    assert_eq!(
        alert_ids(&list(
            &s,
            "from=2026-11-28T18:02:00Z&to=2026-11-28T18:04:00.000001Z"
        )),
        ["s1-4", "s1-3", "s1-2"]
    );
    assert_eq!(alert_ids(&list(&s, "q=%22transaction_id%22%3A7")), ["s1-7"]);
    assert_eq!(alert_ids(&list(&s, "q=RULE+110001&severity=5")), ["s1-4"]);
    assert_eq!(
        alert_ids(&list(&s, "sensor=s1&severity=4")),
        ["s1-8", "s1-3"]
    );
    // Pages of three, newest first, every alert once.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let q = match &cursor {
            Some(c) => format!("/api/v1/alerts?limit=3&cursor={c}"),
            None => "/api/v1/alerts?limit=3".to_string(),
        };
        let (status, page) = get(&s.url(&q));
        assert_eq!(status, 200);
        seen.extend(alert_ids(page["alerts"].as_array().expect("alerts")));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    let all: Vec<String> = (0..10).rev().map(|n| format!("s1-{n}")).collect();
    assert_eq!(seen, all);
    // The same with a filter through an index.
    let (_, page) = get(&s.url("/api/v1/alerts?protocol=modbus&limit=2"));
    assert_eq!(
        alert_ids(page["alerts"].as_array().expect("a")),
        ["s1-8", "s1-6"]
    );
    let c = page["next_cursor"].as_str().expect("cursor");
    let (_, page) = get(&s.url(&format!(
        "/api/v1/alerts?protocol=modbus&limit=2&cursor={c}"
    )));
    assert_eq!(
        alert_ids(page["alerts"].as_array().expect("a")),
        ["s1-4", "s1-2"]
    );
}

#[test]
fn bad_parameters_are_400s_with_a_message() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = TestServer::start(config(dir.path()));
    for (q, msg) in [
        ("/api/v1/alerts?severity=huge", "`severity`: \"huge\" is not 1-5 or a name"),
        ("/api/v1/alerts?severity=0", "`severity`: \"0\" is not 1-5 or a name"),
        ("/api/v1/alerts?limit=0", "`limit`: \"0\" is not 1 to 1000"),
        ("/api/v1/alerts?limit=abc", "`limit`: \"abc\" is not 1 to 1000"),
        ("/api/v1/alerts?from=yesterday", "`from`: \"yesterday\" is not RFC 3339 or epoch seconds"),
        ("/api/v1/alerts?from=20&to=10", "`from` is after `to`"),
        // A day that does not exist (it used to be read as March 2).
        ("/api/v1/alerts?from=2026-02-30T00:00:00Z", "`from`: \"2026-02-30T00:00:00Z\" is not RFC 3339 or epoch seconds"),
        ("/api/v1/counts?by=severity&to=2026-04-31T00:00:00Z", "`to`: \"2026-04-31T00:00:00Z\" is not a time"),
        ("/api/v1/alerts?cursor=zz", "`cursor` is not one this API returned"),
        ("/api/v1/alerts?host=10.0.0", "`host`: \"10.0.0\" is not an IP address"),
        ("/api/v1/alerts?state=done", "`state`: \"done\" is not new, acknowledged or closed"),
        ("/api/v1/alerts?rule=-1", "`rule`: \"-1\" is not a rule id"),
        ("/api/v1/alerts?limit=1&limit=2", "`limit` given twice"),
        ("/api/v1/alerts?q=%ff", "the query string is not valid URL encoding"),
        // Escapes that are not `%` and two hex digits, in values and in keys.
        ("/api/v1/alerts?q=%zz", "the query string is not valid URL encoding"),
        ("/api/v1/alerts?q=100%", "the query string is not valid URL encoding"),
        ("/api/v1/alerts?q=%4", "the query string is not valid URL encoding"),
        ("/api/v1/assets?%zz=1", "the query string is not valid URL encoding"),
        ("/api/v1/counts?by=state&q=%C3", "the query string is not valid URL encoding"),
        ("/api/v1/alerts?colour=red", "unknown parameter `colour`; known: from, to, severity, protocol, rule, host, src_ip, dest_ip, state, sensor, q, limit, cursor"),
        ("/api/v1/counts", "missing `by` (severity, protocol, rule, host, sensor, state, time)"),
        ("/api/v1/counts?by=colour", "`by`: \"colour\" is not severity, protocol, rule, host, sensor, state or time"),
        ("/api/v1/counts?by=time&bucket=61", "`bucket` is a number of seconds, a multiple of 60"),
        ("/api/v1/assets/not-an-ip", "\"not-an-ip\" is not an IP address"),
        ("/api/v1/rules/x", "\"x\" is not a rule id"),
    ] {
        assert_eq!(get(&s.url(q)), (400, json!({ "error": msg })), "{q}");
    }
    assert_eq!(
        get(&s.url("/api/v1/nothing")),
        (404, json!({"error": "no such endpoint"}))
    );
    let (status, v) = post(
        &s.url("/api/v1/alerts/state"),
        Some(API_TOKEN),
        "{\"ids\":[],\"state\":\"closed\",\"by\":\"a\"}",
    );
    assert_eq!(
        (status, v),
        (400, json!({"error": "`ids` must list 1 to 10000 alerts"}))
    );
    let (status, v) = post(
        &s.url("/api/v1/alerts/0000000000000001/ack"),
        Some(API_TOKEN),
        "{\"by\":\"\"}",
    );
    assert_eq!(
        (status, v),
        (400, json!({"error": "`by` must be 1 to 128 bytes"}))
    );
    let (status, v) = post(
        &s.url("/api/v1/alerts/0000000000000001/ack"),
        Some(API_TOKEN),
        "{\"by\":\"a\",\"who\":1}",
    );
    assert_eq!(status, 400);
    assert!(
        v["error"]
            .as_str()
            .is_some_and(|e| e.starts_with("body: unknown field `who`")),
        "{v}"
    );
}

#[test]
fn acknowledge_and_close_single_and_bulk() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = TestServer::start(config(dir.path()));
    seed(&s);
    let all = list(&s, "");
    let id = |n: usize| all[9 - n]["id"].as_str().expect("id").to_string();
    let (status, v) = post(
        &s.url(&format!("/api/v1/alerts/{}/ack", id(0))),
        Some(API_TOKEN),
        r#"{"by":"alice","note":"looking"}"#,
    );
    assert_eq!(status, 200);
    assert_eq!(
        (
            v["state"].clone(),
            v["state_by"].clone(),
            v["state_note"].clone()
        ),
        (json!("acknowledged"), json!("alice"), json!("looking"))
    );
    assert!(v["state_at"].as_str().is_some_and(|t| t.ends_with("+0000")));
    let (status, v) = post(
        &s.url(&format!("/api/v1/alerts/{}/close", id(1))),
        Some(API_TOKEN),
        r#"{"by":"bob"}"#,
    );
    assert_eq!(
        (status, v["state"].clone(), v["state_note"].clone()),
        (200, json!("closed"), Value::Null)
    );
    let (status, v) = post(
        &s.url(&format!("/api/v1/alerts/{}/state", id(2))),
        Some(API_TOKEN),
        r#"{"state":"closed","by":"bob","note":"false positive"}"#,
    );
    assert_eq!((status, v["state"].clone()), (200, json!("closed")));
    let body =
        json!({"ids": [id(3), id(4), "00000000000000aa"], "state": "acknowledged", "by": "carol"})
            .to_string();
    let (status, v) = post(&s.url("/api/v1/alerts/state"), Some(API_TOKEN), &body);
    assert_eq!(
        (status, v),
        (
            200,
            json!({"updated": 2, "state": "acknowledged", "not_found": ["00000000000000aa"]})
        )
    );
    assert_eq!(
        alert_ids(&list(&s, "state=acknowledged")),
        ["s1-4", "s1-3", "s1-0"]
    );
    assert_eq!(alert_ids(&list(&s, "state=closed")), ["s1-2", "s1-1"]);
    assert_eq!(list(&s, "state=new").len(), 5);
    assert_eq!(alert_ids(&list(&s, "q=false+positive")), ["s1-2"]);
    let (_, c) = get(&s.url("/api/v1/counts?by=state"));
    assert_eq!(
        c,
        json!({"by": "state", "counts": [{"key": "new", "count": 5}, {"key": "acknowledged", "count": 3}, {"key": "closed", "count": 2}]})
    );
    let (status, v) = post(
        &s.url("/api/v1/alerts/00000000000000aa/close"),
        Some(API_TOKEN),
        r#"{"by":"bob"}"#,
    );
    assert_eq!((status, v), (404, json!({"error": "no such alert"})));
}

#[test]
fn counts_for_charts() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = TestServer::start(config(dir.path()));
    seed(&s);
    let (_, v) = get(&s.url("/api/v1/counts?by=severity"));
    assert_eq!(
        v,
        json!({"by": "severity", "counts": [
            {"key": 1, "name": "critical", "count": 2}, {"key": 2, "name": "high", "count": 2},
            {"key": 3, "name": "medium", "count": 2}, {"key": 4, "name": "low", "count": 2},
            {"key": 5, "name": "info", "count": 2}]})
    );
    let (_, v) =
        get(&s.url("/api/v1/counts?by=rule&from=2026-11-28T18:00:00Z&to=2026-11-28T18:04:59Z"));
    assert_eq!(
        v,
        json!({"by": "rule", "counts": [{"key": 110000, "count": 2}, {"key": 110001, "count": 2}, {"key": 110002, "count": 1}]})
    );
    let (_, v) = get(&s.url("/api/v1/counts?by=host"));
    assert_eq!(
        v,
        json!({"by": "host", "counts": [{"key": "10.0.0.1", "count": 10}, {"key": "10.0.0.2", "count": 5}, {"key": "10.0.0.3", "count": 5}]})
    );
    let (_, v) = get(&s.url("/api/v1/counts?by=time&bucket=300"));
    assert_eq!(
        v,
        json!({"by": "time", "bucket": 300, "counts": [
            {"start": "2026-11-28T18:00:00.000000+0000", "count": 5},
            {"start": "2026-11-28T18:05:00.000000+0000", "count": 5}]})
    );
    let (_, v) = get(&s.url("/api/v1/counts?by=protocol"));
    assert_eq!(
        v,
        json!({"by": "protocol", "counts": [{"key": "modbus", "count": 5}, {"key": "s7comm", "count": 5}]})
    );
}

#[test]
fn rules_with_hit_counts() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = TestServer::start(config(dir.path()));
    seed(&s);
    let rule = |id: u32| otwatch_analyzer::RuleInfo {
        id,
        rev: 2,
        name: format!("Rule {id}"),
        severity: "high".into(),
        protocol: "modbus".into(),
        description: "d".into(),
        attack: vec!["T0814".into()],
        yaml: format!("- id: {id}\n"),
    };
    s.analyzer.set_rules(vec![rule(110000), rule(110005)]);
    let (_, v) = get(&s.url("/api/v1/rules"));
    assert_eq!(
        v,
        json!({"rules": [
            {"id": 110000, "rev": 2, "name": "Rule 110000", "severity": "high", "protocol": "modbus",
             "description": "d", "attack": ["T0814"], "hits": 4, "last_hit": "2026-11-28T18:09:00.000001+0000", "loaded": true},
            {"id": 110005, "rev": 2, "name": "Rule 110005", "severity": "high", "protocol": "modbus",
             "description": "d", "attack": ["T0814"], "hits": 0, "last_hit": null, "loaded": true},
            {"id": 110001, "hits": 3, "last_hit": "2026-11-28T18:07:00.000001+0000", "loaded": false},
            {"id": 110002, "hits": 3, "last_hit": "2026-11-28T18:08:00.000001+0000", "loaded": false}]})
    );
    let (_, v) = get(&s.url("/api/v1/rules/110005"));
    assert_eq!(v["yaml"], "- id: 110005\n");
    // The sensor may replace the list over HTTP with its token.
    let mut req = agent().put(&s.url("/api/v1/rules"));
    req = req.header("Authorization", &format!("Bearer {TOKEN}"));
    let r = req
        .send(serde_json::to_string(&vec![rule(1)]).expect("json"))
        .expect("put");
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(s.analyzer.rules().len(), 1);
}

#[test]
fn sensors_with_their_last_stats() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = TestServer::start(config(dir.path()));
    let stats = |ts: &str, packets: u64| {
        json!({"timestamp": ts, "event_type": "stats", "sensor": "s1",
               "stats": {"capture": {"packets": packets, "bytes": packets * 60, "kernel_drops": 3}, "flow": {"active": 12, "created": 40}}})
    };
    let body = ndjson(&[
        stats("2026-11-28T18:00:00.000000+0000", 100),
        stats("2026-11-28T18:01:00.000000+0000", 200),
        alert(1, 110001, 1, "modbus", "10.0.0.2", "10.0.0.1", 0),
    ]);
    let (status, v) = ingest(&s, &body);
    assert_eq!(
        (status, v["stats"].clone(), v["stored"].clone()),
        (200, json!(2), json!(1))
    );
    // An older stats line arriving late does not replace the newer one.
    ingest(&s, &ndjson(&[stats("2026-11-28T17:00:00.000000+0000", 5)]));
    let (_, v) = get(&s.url("/api/v1/sensors"));
    let sensor = &v["sensors"][0];
    assert_eq!(sensor["name"], "s1");
    assert_eq!(sensor["alerts"], 1);
    assert_eq!(
        sensor["last_stats"],
        json!({"timestamp": "2026-11-28T18:01:00.000000+0000", "packets": 200, "bytes": 12000, "drops": 3, "flows": 12})
    );
}

#[test]
fn assets_merge_and_an_identity_change_raises_an_alert() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = TestServer::start(config(dir.path()));
    let asset = |fw: &str, ts: &str| {
        json!({"timestamp": ts, "event_type": "asset", "sensor": "s1",
               "asset": {"ip": "10.0.0.1", "mac": "00:11:22:33:44:55", "vlan": [10], "role": "server",
                         "protocols": ["s7comm"], "first_seen": ts, "last_seen": ts,
                         "peers": [{"ip": "10.0.0.2", "protocol": "s7comm", "port": 102}],
                         "identity": {"vendor": "Siemens", "model": "6ES7 315-2EH14-0AB0", "firmware": fw,
                                      "module_name": "CPU \"315\"]\n", "source": "s7_szl"}}})
    };
    let (status, v) = ingest(
        &s,
        &ndjson(&[asset("V3.2.6", "2026-11-28T18:00:00.000000+0000")]),
    );
    assert_eq!(
        (status, v["assets"].clone(), v["identity_changes"].clone()),
        (200, json!(1), json!(0))
    );
    // Same identity again (a retry, or the next report): nothing new.
    let (_, v) = ingest(
        &s,
        &ndjson(&[asset("V3.2.6", "2026-11-28T18:01:00.000000+0000")]),
    );
    assert_eq!(v["identity_changes"], 0);
    let (_, v) = ingest(
        &s,
        &ndjson(&[asset("V3.3.0", "2026-11-28T18:02:00.000000+0000")]),
    );
    assert_eq!(
        (v["identity_changes"].clone(), v["stored"].clone()),
        (json!(1), json!(1))
    );
    let (status, a) = get(&s.url("/api/v1/assets/10.0.0.1"));
    assert_eq!(status, 200);
    assert_eq!(a["first_seen"], "2026-11-28T18:00:00.000000+0000");
    assert_eq!(a["last_seen"], "2026-11-28T18:02:00.000000+0000");
    assert_eq!(a["identity"]["firmware"], "V3.3.0");
    assert_eq!(a["identity_changes"], 1);
    assert_eq!(a["roles"], json!(["server"]));
    assert_eq!(
        a["peers"],
        json!([{"ip": "10.0.0.2", "protocol": "s7comm", "port": 102}])
    );
    let (_, all) = get(&s.url("/api/v1/assets?protocol=s7comm"));
    assert_eq!(all["assets"].as_array().map(Vec::len), Some(1));
    let (_, none) = get(&s.url("/api/v1/assets?protocol=modbus"));
    assert_eq!(none, json!({"assets": []}));
    assert_eq!(
        get(&s.url("/api/v1/assets/10.9.9.9")),
        (404, json!({"error": "no such asset"}))
    );
    let alerts = list(&s, "rule=900001");
    assert_eq!(alerts.len(), 1);
    assert_eq!(
        scrub(alerts[0].clone()),
        json!({"id": "ID", "timestamp": "2026-11-28T18:02:00.000000+0000", "received": "RECEIVED",
               "severity": 2, "severity_name": "high", "signature_id": 900001, "rev": 1,
               "signature": "Asset identity changed", "category": "Asset change", "protocol": "s7comm",
               "src_ip": "10.0.0.1", "src_port": 0, "dest_ip": "10.0.0.1", "dest_port": 0, "sensor": "s1",
               "alert_id": "asset-identity:10.0.0.1:1795888920000000", "group_id": "GROUP", "attack": ["T0839"],
               "state": "new", "state_by": null, "state_at": null, "state_note": null})
    );
    let (_, one) = get(&s.url(&format!(
        "/api/v1/alerts/{}",
        alerts[0]["id"].as_str().expect("id")
    )));
    assert_eq!(
        one["transaction"]["asset_change"]["changed"],
        json!(["firmware"])
    );
    assert_eq!(
        one["transaction"]["asset_change"]["old"]["firmware"],
        "V3.2.6"
    );
    assert_eq!(
        one["transaction"]["asset_change"]["new"]["firmware"],
        "V3.3.0"
    );
}

#[test]
fn stream_sends_new_alerts_as_server_sent_events() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = TestServer::start(config(dir.path()));
    let r = agent()
        .get(&s.url("/api/v1/stream?severity=1"))
        .header("Authorization", &format!("Bearer {API_TOKEN}"))
        .call()
        .expect("stream");
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(
        r.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("text/event-stream")
    );
    let mut reader = BufReader::new(r.into_body().into_reader());
    // Subscribed once the headers arrived: a low-severity alert is filtered out, a critical one comes.
    let body = ndjson(&[
        alert(1, 110001, 4, "modbus", "10.0.0.2", "10.0.0.1", 0),
        alert(2, 110001, 1, "modbus", "10.0.0.2", "10.0.0.1", 1),
    ]);
    assert_eq!(ingest(&s, &body).0, 200);
    let mut event = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).expect("read");
        let line = line.trim_end().to_string();
        if line.is_empty() && !event.is_empty() {
            break;
        }
        if !line.is_empty() && !line.starts_with(':') {
            event.push(line);
        }
    }
    assert_eq!(event[0], "event: alert");
    let data: Value = serde_json::from_str(
        event
            .iter()
            .find_map(|l| l.strip_prefix("data: "))
            .expect("data"),
    )
    .expect("json");
    assert_eq!(data["alert_id"], "s1-2");
    assert_eq!(
        event.iter().find_map(|l| l.strip_prefix("id: ")),
        data["id"].as_str()
    );
    drop(reader);
    s.stop();
}

/// `/metrics` with an `Accept` header: the body and its content type.
fn scrape(s: &TestServer, accept: Option<&str>) -> (String, String) {
    let mut req = agent()
        .get(&s.url("/metrics"))
        .header("Authorization", &format!("Bearer {API_TOKEN}"));
    if let Some(a) = accept {
        req = req.header("Accept", a);
    }
    let mut r = req.call().expect("metrics");
    let kind = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    (r.body_mut().read_to_string().expect("text"), kind)
}

/// `promtool check metrics` (Debian's `prometheus` package): its findings.
fn promtool(text: &str) -> String {
    use std::io::Write;
    let mut child = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool (apt-get install prometheus)");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("promtool");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "promtool failed: {said}");
    said
}

#[test]
fn metrics_and_health() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut c = config(dir.path());
    c.exports
        .syslog
        .push(syslog("soc", 9, Transport::Tcp, Format::Rfc5424));
    let s = TestServer::start(c);
    // Before anything happened, every family is there, its known labels at 0.
    let (text, kind) = scrape(&s, None);
    assert_eq!(kind, "text/plain; version=0.0.4; charset=utf-8");
    for want in [
        "otwatch_analyzer_ingest_requests_total{result=\"ok\"} 0",
        "otwatch_analyzer_ingest_lines_total{type=\"alert\"} 0",
        "otwatch_analyzer_alerts_deleted_total{reason=\"age\"} 0",
        "otwatch_analyzer_export_skipped_total{exporter=\"syslog-soc\"} 0",
        "otwatch_analyzer_alerts_stored_total 0",
        "otwatch_analyzer_store_alerts 0",
    ] {
        assert!(
            text.lines().any(|l| l == want),
            "missing {want:?} in\n{text}"
        );
    }
    assert_eq!(promtool(&text), "", "{text}");

    seed(&s);
    assert_eq!(get(&s.url("/healthz")), (200, json!({"status": "ok"})));
    let (text, _) = scrape(&s, None);
    for want in [
        "otwatch_analyzer_alerts_stored_total 10",
        "otwatch_analyzer_store_alerts 10",
        "otwatch_analyzer_ingest_lines_total{type=\"alert\"} 10",
        "otwatch_analyzer_ingest_requests_total{result=\"ok\"} 1",
        "# TYPE otwatch_analyzer_alerts_stored_total counter",
        "# TYPE process_cpu_seconds_total counter",
        &format!(
            "otwatch_analyzer_build_info{{version=\"{}\"}} 1",
            env!("CARGO_PKG_VERSION")
        ),
    ] {
        assert!(
            text.lines().any(|l| l == want),
            "missing {want:?} in\n{text}"
        );
    }
    for family in [
        "process_resident_memory_bytes ",
        "process_open_fds ",
        "process_max_fds ",
        "process_start_time_seconds ",
    ] {
        assert!(
            text.lines().any(|l| l.starts_with(family)),
            "{family}\n{text}"
        );
    }
    assert_eq!(promtool(&text), "", "{text}");
    // The export to a closed port keeps the ten alerts: its backlog says so
    // once it has failed (and retried after 1 s).
    let t0 = std::time::Instant::now();
    loop {
        let backlog: Option<u64> = metric_value(
            &s,
            "otwatch_analyzer_export_backlog{exporter=\"syslog-soc\"}",
        );
        if backlog == Some(10) {
            break;
        }
        assert!(t0.elapsed().as_secs() < 10, "backlog {backlog:?}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let lag: u64 = metric_value(
        &s,
        "otwatch_analyzer_export_lag_seconds{exporter=\"syslog-soc\"}",
    )
    .expect("lag");
    assert!(lag < 60, "{lag}");
    // Every request is timed, refused ones too, by handler, method and class.
    let (text, _) = scrape(&s, None);
    for want in [
        "otwatch_analyzer_http_request_duration_seconds_count{handler=\"ingest\",method=\"POST\",code=\"2xx\"} 1",
        "otwatch_analyzer_http_request_duration_seconds_count{handler=\"healthz\",method=\"GET\",code=\"2xx\"} 1",
        "# TYPE otwatch_analyzer_http_request_duration_seconds histogram",
    ] {
        assert!(text.lines().any(|l| l == want), "missing {want:?} in\n{text}");
    }
    let bucket = "otwatch_analyzer_http_request_duration_seconds_bucket{le=\"0.0005\",handler=\"metrics\",method=\"GET\",code=\"2xx\"}";
    assert!(text.contains(bucket), "{text}");
    assert_eq!(promtool(&text), "", "{text}");

    // What Prometheus asks for: OpenMetrics, with its own counter naming.
    let (om, kind) = scrape(
        &s,
        Some("application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"),
    );
    assert_eq!(
        kind,
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    assert!(om.ends_with("# EOF\n"), "{om}");
    assert_eq!(om.matches("# EOF").count(), 1);
    assert!(om
        .lines()
        .any(|l| l == "# TYPE otwatch_analyzer_alerts_stored counter"));
    assert!(om
        .lines()
        .any(|l| l == "otwatch_analyzer_alerts_stored_total 10"));
}

/// The library calls `otwatch run` makes answer with named reports and typed
/// errors: a state change says how many alerts it set and which ids it did
/// not find; after shutdown, writes are refused with `WriteError::ShuttingDown`.
#[test]
fn library_calls_answer_with_reports_and_typed_errors() {
    use otwatch_analyzer::{IngestError, State, StateReport, WriteError};
    let dir = tempfile::tempdir().expect("tmp");
    let s = TestServer::start(config(dir.path()));
    seed(&s);
    let ids: Vec<u64> = list(&s, "limit=2")
        .iter()
        .map(|a| u64::from_str_radix(a["id"].as_str().expect("id"), 16).expect("hex id"))
        .collect();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("rt");
    // No stored alert has id 1: ids are made from the time they were received.
    let report = rt
        .block_on(
            s.analyzer
                .set_state(vec![ids[0], 1, ids[1]], State::Closed, "tester", ""),
        )
        .expect("state change");
    assert_eq!(
        report,
        StateReport {
            updated: 2,
            not_found: vec![1]
        }
    );
    let a = s.analyzer.clone();
    a.shutdown();
    let refused = rt.block_on(a.set_state(vec![ids[0]], State::New, "tester", ""));
    assert_eq!(refused, Err(WriteError::ShuttingDown));
    let refused = rt.block_on(
        a.ingest(ndjson(&[alert(99, 110000, 1, "modbus", "10.0.0.2", "10.0.0.1", 1)]).as_bytes()),
    );
    match refused {
        Err(e @ IngestError::Unavailable(WriteError::ShuttingDown)) => {
            assert_eq!(e.to_string(), "shutting down");
        }
        other => panic!("{other:?}"),
    }
    // Bad lines are refused before the shutdown matters, each named.
    let bad = rt.block_on(a.ingest(b"{}\n\n[1]\n"));
    match bad {
        Err(e @ IngestError::Lines(_)) => assert_eq!(
            e.to_string(),
            "invalid lines; nothing of this batch was stored:\n  line 1: missing `event_type`\n  line 3: not a JSON object: \
             invalid type: integer `1`, expected a string at line 1 column 2"
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        rt.block_on(a.run_retention()).map(|r| r.by_age),
        Err(WriteError::ShuttingDown)
    );
    s.stop();
}

/// Query strings are forms: `+` and `%20` are spaces, `%2C` is a comma that
/// separates values like a plain one, escaped UTF-8 is text.
#[test]
fn query_strings_are_decoded_as_forms() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = TestServer::start(config(dir.path()));
    seed(&s);
    let plain = alert_ids(&list(&s, "protocol=modbus,s7comm&limit=3"));
    assert_eq!(plain, ["s1-9", "s1-8", "s1-7"]);
    assert_eq!(
        alert_ids(&list(&s, "protocol=modbus%2Cs7comm&limit=3")),
        plain
    );
    // s1-1, s1-4 and s1-7 fired rule 110001 ("Rule 110001").
    let want = ["s1-7", "s1-4", "s1-1"];
    assert_eq!(alert_ids(&list(&s, "q=Rule+110001")), want);
    assert_eq!(alert_ids(&list(&s, "q=Rule%20110001")), want);
    assert_eq!(alert_ids(&list(&s, "%71=rule%20110001")), want);
    // Escaped UTF-8 decodes; no alert has this text.
    assert_eq!(alert_ids(&list(&s, "q=R%C3%A8gle")), Vec::<String>::new());
}

/// `/api/v1/protocols` lists every protocol of the registry, in its order,
/// with what the UI needs to show it (credentials: analyzer_auth.rs).
#[test]
fn protocols_come_from_the_registry() {
    use otwatch_proto::registry::ProtocolId;
    let dir = tempfile::tempdir().expect("tmp");
    let s = TestServer::start(config(dir.path()));
    let (status, body) = get(&s.url("/api/v1/protocols"));
    assert_eq!(status, 200, "{body}");
    let list = body["protocols"].as_array().expect("protocols");
    let names: Vec<&str> = list.iter().filter_map(|p| p["name"].as_str()).collect();
    let registry: Vec<&str> = ProtocolId::ALL.iter().map(|p| p.name()).collect();
    assert_eq!(names, registry);
    // Each entry says what the protocol's spec says.
    for (p, entry) in ProtocolId::ALL.iter().zip(list) {
        let spec = p.spec();
        assert_eq!(
            entry,
            &json!({
                "name": spec.name,
                "title": spec.title,
                "color": spec.color,
                "eve_objects": spec.eve_objects,
                "fields": spec.summary_fields,
            })
        );
        let color = spec.color;
        assert!(
            color.len() == 7
                && color.starts_with('#')
                && color[1..].bytes().all(|b| b.is_ascii_hexdigit()),
            "{entry}"
        );
    }
    let entry = |name: &str| {
        list.iter()
            .find(|p| p["name"] == name)
            .cloned()
            .unwrap_or(Value::Null)
    };
    assert_eq!(entry("modbus")["title"], "Modbus/TCP");
    assert_eq!(entry("modbus")["eve_objects"], json!(["modbus"]));
    // S7comm-plus events are decoded under s7comm: both objects are listed.
    assert_eq!(
        entry("s7comm")["eve_objects"],
        json!(["s7comm", "s7commplus"])
    );
    s.stop();
}

/// An alert's detail shows the decoded object of whichever registered
/// protocol it carries (S7comm-plus's too), and nothing that is not one.
#[test]
fn the_detail_shows_every_registered_protocol_object() {
    use otwatch_proto::registry::ProtocolId;
    let dir = tempfile::tempdir().expect("tmp");
    let s = TestServer::start(config(dir.path()));
    let objects: Vec<(&str, &str)> = ProtocolId::ALL
        .iter()
        .flat_map(|p| p.spec().eve_objects.iter().map(|o| (p.name(), *o)))
        .collect();
    let lines: Vec<Value> = objects
        .iter()
        .zip(1u64..)
        .map(|((protocol, object), n)| {
            let mut line = alert(n, 110001, 2, protocol, "10.0.0.2", "10.0.0.1", n);
            let decoded = line[*protocol].take();
            if let Some(o) = line.as_object_mut() {
                o.remove(*protocol);
                o.insert((*object).to_string(), decoded);
                // A key of no registered protocol is part of the line only.
                o.insert("http".into(), json!({"url": "/"}));
            }
            line
        })
        .collect();
    let (status, body) = ingest(&s, &ndjson(&lines));
    assert_eq!(status, 200, "{body}");
    let listed = list(&s, "limit=100");
    assert_eq!(listed.len(), objects.len());
    for (line, (_, object)) in lines.iter().zip(&objects) {
        let id = listed
            .iter()
            .find(|a| a["alert_id"] == line["alert_id"])
            .and_then(|a| a["id"].as_str())
            .expect("listed");
        let (status, one) = get(&s.url(&format!("/api/v1/alerts/{id}")));
        assert_eq!(status, 200, "{one}");
        assert_eq!(
            one["transaction"],
            json!({ *object: line[*object].clone() }),
            "{object}"
        );
        assert_eq!(one["eve"]["http"], json!({"url": "/"}));
    }
    s.stop();
}
