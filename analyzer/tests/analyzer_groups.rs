//! Alert groups: alerts of one rule, source, destination and sensor within
//! an hour of each other are one group, triaged together, through the real
//! ingest endpoint and API, across a restart of the analyzer.

mod common;

use common::*;
use serde_json::{json, Value};

/// 2026-11-28T18:00:00Z in µs.
const BASE: u64 = 1_795_888_800_000_000;
const HOUR: u64 = 3_600_000_000;

/// An alert line of rule `sid` from `src` to `dest` seen by `sensor` at
/// `BASE + at` µs; `n` makes its alert id.
fn line(n: u64, sid: u32, src: &str, dest: &str, sensor: &str, at: u64) -> Value {
    json!({
        "timestamp": otwatch_analyzer::time::format_eve(BASE + at),
        "flow_id": 1000 + n,
        "event_type": "alert",
        "src_ip": src, "src_port": 50000, "dest_ip": dest, "dest_port": 502,
        "proto": "TCP", "app_proto": "modbus",
        "alert": {
            "action": "allowed", "gid": 1, "signature_id": sid, "rev": 1,
            "signature": format!("Rule {sid}"), "category": "Test", "severity": 2,
            "metadata": {"attack_id": ["T0855"], "severity_name": ["high"], "protocol": ["modbus"]}
        },
        "modbus": {"transaction_id": n, "request": {"function_code": 6, "function": "write_single_register"}},
        "alert_id": format!("{sensor}-{n}"),
        "sensor": sensor,
    })
}

fn ingest_ok(s: &TestServer, lines: &[Value]) {
    let (status, body) = ingest(s, &ndjson(lines));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["stored"], lines.len(), "{body}");
}

fn groups(s: &TestServer, query: &str) -> Vec<Value> {
    let (status, body) = get(&s.url(&format!("/api/v1/alert-groups?{query}")));
    assert_eq!(status, 200, "{body}");
    body["groups"].as_array().expect("groups").clone()
}

/// Every member of group `id`, by cursor, `limit` a page.
fn members(s: &TestServer, id: &str, limit: usize) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor = String::new();
    loop {
        let (status, body) = get(&s.url(&format!(
            "/api/v1/alert-groups/{id}/alerts?limit={limit}{cursor}"
        )));
        assert_eq!(status, 200, "{body}");
        out.extend(body["alerts"].as_array().expect("alerts").iter().cloned());
        match body["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => return out,
        }
    }
}

fn metric(s: &TestServer, name: &str) -> Option<u64> {
    metric_value(s, name)
}

#[test]
fn ten_thousand_duplicates_are_one_group_acknowledged_at_once_across_a_restart() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = TestServer::start(config(dir.path()));
    // One alert a second for 10,000 s (2 h 47 min: never an hour apart),
    // in 20 batches of 500 as a sensor ships them.
    let all: Vec<Value> = (0..10_000u64)
        .map(|n| line(n, 150009, "10.0.0.20", "10.0.0.10", "s1", n * 1_000_000))
        .collect();
    for batch in all.chunks(500) {
        ingest_ok(&s, batch);
    }
    let listed = groups(&s, "");
    assert_eq!(listed.len(), 1, "{listed:?}");
    let g = &listed[0];
    let gid = g["id"].as_str().expect("id").to_string();
    assert_eq!(g["count"], 10_000);
    assert_eq!(g["first_seen"], "2026-11-28T18:00:00.000000+0000");
    assert_eq!(g["last_seen"], "2026-11-28T20:46:39.000000+0000");
    assert_eq!(
        (
            &g["signature_id"],
            &g["signature"],
            &g["src_ip"],
            &g["dest_ip"],
            &g["sensor"]
        ),
        (
            &json!(150009),
            &json!("Rule 150009"),
            &json!("10.0.0.20"),
            &json!("10.0.0.10"),
            &json!("s1")
        )
    );
    assert_eq!(g["state"], "new");
    assert_eq!(
        g["states"],
        json!({"new": 10_000, "acknowledged": 0, "closed": 0})
    );
    assert_eq!(g["latest"]["alert_id"], "s1-9999");
    assert_eq!(g["latest_id"], g["latest"]["id"]);
    // The group's id is its first alert's, and every alert names it.
    let (_, first) = get(&s.url("/api/v1/alerts?limit=1&to=2026-11-28T18:00:00Z"));
    assert_eq!(first["alerts"][0]["alert_id"], "s1-0");
    assert_eq!(first["alerts"][0]["id"].as_str(), Some(gid.as_str()));
    let page = get(&s.url("/api/v1/alerts?limit=1000")).1;
    assert!(page["alerts"]
        .as_array()
        .expect("alerts")
        .iter()
        .all(|a| a["group_id"] == gid.as_str()));
    let m = members(&s, &gid, 1000);
    assert_eq!(m.len(), 10_000);
    assert_eq!(m[0]["alert_id"], "s1-9999");
    assert_eq!(m[9_999]["alert_id"], "s1-0");

    // Acknowledging the group acknowledges every member.
    let (status, v) = post(
        &s.url(&format!("/api/v1/alert-groups/{gid}/ack")),
        Some(API_TOKEN),
        r#"{"by":"alice","note":"engineering laptop, known"}"#,
    );
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        (&v["updated"], &v["state"]),
        (&json!(10_000), &json!("acknowledged"))
    );
    assert_eq!(v["group"]["state"], "acknowledged");
    assert_eq!(v["group"]["state_by"], "alice");
    assert_eq!(
        v["group"]["states"],
        json!({"new": 0, "acknowledged": 10_000, "closed": 0})
    );
    let (_, c) = get(&s.url("/api/v1/counts?by=state"));
    assert_eq!(
        c["counts"],
        json!([{"key": "new", "count": 0}, {"key": "acknowledged", "count": 10_000}, {"key": "closed", "count": 0}])
    );
    assert!(members(&s, &gid, 1000)
        .iter()
        .all(|a| a["state"] == "acknowledged"
            && a["state_by"] == "alice"
            && a["state_note"] == "engineering laptop, known"));
    // A duplicate that arrives later joins the acknowledged group
    // acknowledged: the group counts it without it coming back as new.
    ingest_ok(
        &s,
        &[line(
            10_000,
            150009,
            "10.0.0.20",
            "10.0.0.10",
            "s1",
            10_030_000_000,
        )],
    );
    let g = &groups(&s, "")[0];
    assert_eq!(
        (&g["count"], &g["state"]),
        (&json!(10_001), &json!("acknowledged"))
    );
    assert_eq!(g["latest"]["state"], "acknowledged");
    assert_eq!(g["latest"]["state_by"], "alice");
    assert_eq!(metric(&s, "otwatch_analyzer_store_alert_groups"), Some(1));
    assert_eq!(
        metric(&s, "otwatch_analyzer_alert_groups_created_total"),
        Some(1)
    );
    s.stop();

    // The same data directory after a restart.
    let s = TestServer::start(config(dir.path()));
    let listed = groups(&s, "");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["id"].as_str(), Some(gid.as_str()));
    assert_eq!(listed[0]["count"], 10_001);
    assert_eq!(listed[0]["state"], "acknowledged");
    assert_eq!(
        listed[0]["states"],
        json!({"new": 0, "acknowledged": 10_001, "closed": 0})
    );
    assert_eq!(listed[0]["last_seen"], "2026-11-28T20:47:10.000000+0000");
    let (_, c) = get(&s.url("/api/v1/counts?by=state"));
    assert_eq!(
        c["counts"][1],
        json!({"key": "acknowledged", "count": 10_001})
    );
    assert_eq!(metric(&s, "otwatch_analyzer_store_alert_groups"), Some(1));
    assert_eq!(
        metric(&s, "otwatch_analyzer_store_alert_groups_open"),
        Some(1)
    );
    // Closing it closes all, and the next alert of the pair starts a group.
    let (status, v) = post(
        &s.url(&format!("/api/v1/alert-groups/{gid}/close")),
        Some(API_TOKEN),
        r#"{"by":"bob"}"#,
    );
    assert_eq!(
        (status, &v["updated"], &v["group"]["state"]),
        (200, &json!(10_001), &json!("closed"))
    );
    assert_eq!(
        metric(&s, "otwatch_analyzer_store_alert_groups_open"),
        Some(0)
    );
    ingest_ok(
        &s,
        &[line(
            10_001,
            150009,
            "10.0.0.20",
            "10.0.0.10",
            "s1",
            10_040_000_000,
        )],
    );
    let listed = groups(&s, "");
    assert_eq!(listed.len(), 2);
    assert_eq!(
        (&listed[0]["count"], &listed[0]["state"]),
        (&json!(1), &json!("new"))
    );
    assert_eq!(
        (&listed[1]["count"], &listed[1]["state"]),
        (&json!(10_001), &json!("closed"))
    );
    assert_eq!(groups(&s, "state=closed").len(), 1);
    assert_eq!(groups(&s, "state=new")[0]["latest"]["alert_id"], "s1-10001");
}

#[test]
fn rules_pairs_sensors_and_a_gap_longer_than_the_window_make_separate_groups() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = TestServer::start(config(dir.path()));
    let (a, b, plc) = ("10.0.0.20", "10.0.0.21", "10.0.0.10");
    let min = 60_000_000;
    ingest_ok(
        &s,
        &[
            // Group 1: rule 150009 a → plc, 10 min .. 30 min.
            line(0, 150009, a, plc, "s1", 10 * min),
            line(1, 150009, a, plc, "s1", 30 * min),
            // Another rule, another source, another direction, another sensor.
            line(2, 150010, a, plc, "s1", min),
            line(3, 150009, b, plc, "s1", min),
            line(4, 150009, plc, a, "s1", min),
            line(5, 150009, a, plc, "s2", min),
            // Exactly an hour after the group's last alert: still in it.
            line(6, 150009, a, plc, "s1", 90 * min),
        ],
    );
    // A late alert, before the group's first but within an hour of it, joins it.
    ingest_ok(&s, &[line(8, 150009, a, plc, "s1", 0)]);
    // More than an hour after the group's last alert: a new group, now the
    // pair's current one.
    ingest_ok(&s, &[line(7, 150009, a, plc, "s1", 90 * min + HOUR + 1)]);
    // An alert far older than the current group starts a group of its own;
    // the current one stays current and takes the next alert.
    ingest_ok(
        &s,
        &[
            line(9, 150009, a, plc, "s1", 5 * min),
            line(10, 150009, a, plc, "s1", 91 * min + HOUR + 1),
        ],
    );
    let listed = groups(&s, "limit=1000");
    let summary: Vec<(&str, String, &str, u64, &str)> = listed
        .iter()
        .map(|g| {
            (
                g["sensor"].as_str().unwrap_or(""),
                format!(
                    "{} {}",
                    g["signature_id"],
                    g["src_ip"].as_str().unwrap_or("")
                ),
                g["dest_ip"].as_str().unwrap_or(""),
                g["count"].as_u64().unwrap_or(0),
                g["latest"]["alert_id"].as_str().unwrap_or(""),
            )
        })
        .collect();
    let row = |s, r: &str, d, n, latest| (s, r.to_string(), d, n, latest);
    assert_eq!(
        summary,
        [
            // Newest last seen first.
            row("s1", "150009 10.0.0.20", plc, 2, "s1-10"),
            row("s1", "150009 10.0.0.20", plc, 4, "s1-6"),
            row("s1", "150009 10.0.0.20", plc, 1, "s1-9"),
            // The same minute: by group id (the first alert's), newest first.
            row("s2", "150009 10.0.0.20", plc, 1, "s2-5"),
            row("s1", "150009 10.0.0.10", a, 1, "s1-4"),
            row("s1", "150009 10.0.0.21", plc, 1, "s1-3"),
            row("s1", "150010 10.0.0.20", plc, 1, "s1-2"),
        ]
    );
    let first = &listed[1];
    assert_eq!(first["first_seen"], "2026-11-28T18:00:00.000000+0000");
    assert_eq!(first["last_seen"], "2026-11-28T19:30:00.000000+0000");
    // The alert list's filters apply to groups.
    assert_eq!(groups(&s, "rule=150010").len(), 1);
    assert_eq!(groups(&s, "host=10.0.0.21").len(), 1);
    assert_eq!(groups(&s, "sensor=s2").len(), 1);
    assert_eq!(groups(&s, "src_ip=10.0.0.20&rule=150009").len(), 4);
    assert_eq!(groups(&s, "severity=critical").len(), 0);
    assert_eq!(groups(&s, "protocol=modbus").len(), 7);
    assert_eq!(groups(&s, "q=write_single_register").len(), 7);
    // A group spans time: it is listed when its span meets the range.
    assert_eq!(
        groups(&s, "from=2026-11-28T19:00:00Z&to=2026-11-28T19:10:00Z").len(),
        1
    );
    // Cursor pagination, one group a page.
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let (_, body) = get(&s.url(&format!("/api/v1/alert-groups?limit=1{cursor}")));
        seen.extend(
            body["groups"]
                .as_array()
                .expect("groups")
                .iter()
                .map(|g| g["id"].clone()),
        );
        match body["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(
        seen,
        listed.iter().map(|g| g["id"].clone()).collect::<Vec<_>>()
    );
    // The members of the first group, and one group by id.
    let gid = first["id"].as_str().expect("id");
    let m = members(&s, gid, 2);
    let ids: Vec<&str> = m.iter().filter_map(|a| a["alert_id"].as_str()).collect();
    assert_eq!(ids, ["s1-6", "s1-1", "s1-0", "s1-8"]);
    let (status, one) = get(&s.url(&format!("/api/v1/alert-groups/{gid}")));
    assert_eq!((status, &one["count"]), (200, &json!(4)));
    // One member reopened after the group was closed: the group is new again.
    let (status, _) = post(
        &s.url(&format!("/api/v1/alert-groups/{gid}/state")),
        Some(API_TOKEN),
        r#"{"state":"closed","by":"bob","note":"test traffic"}"#,
    );
    assert_eq!(status, 200);
    let member = m[0]["id"].as_str().expect("id");
    let (status, v) = post(
        &s.url(&format!("/api/v1/alerts/{member}/state")),
        Some(API_TOKEN),
        r#"{"state":"new","by":"carol"}"#,
    );
    assert_eq!((status, &v["group_id"]), (200, &json!(gid)));
    let (_, one) = get(&s.url(&format!("/api/v1/alert-groups/{gid}")));
    assert_eq!(
        (&one["state"], &one["states"], &one["state_by"]),
        (
            &json!("new"),
            &json!({"new": 1, "acknowledged": 0, "closed": 3}),
            &json!("carol")
        )
    );
    assert_eq!(metric(&s, "otwatch_analyzer_store_alert_groups"), Some(7));
    assert_eq!(
        metric(&s, "otwatch_analyzer_alert_groups_created_total"),
        Some(7)
    );

    // Retention takes alerts out of their groups, and a group without
    // alerts goes.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("rt");
    let deleted = rt
        .block_on(
            s.analyzer
                .retain(std::time::Duration::from_secs(1), u64::MAX),
        )
        .expect("retain");
    assert_eq!(deleted.by_age, 11);
    assert_eq!(groups(&s, ""), Vec::<Value>::new());
    assert_eq!(get(&s.url(&format!("/api/v1/alert-groups/{gid}"))).0, 404);
    assert_eq!(metric(&s, "otwatch_analyzer_store_alert_groups"), Some(0));
    // The pair's next alert starts a group of its own.
    ingest_ok(&s, &[line(11, 150009, a, plc, "s1", 91 * min + HOUR + 2)]);
    let listed = groups(&s, "");
    assert_eq!((listed.len(), &listed[0]["count"]), (1, &json!(1)));
    assert_eq!(listed[0]["latest"]["alert_id"], "s1-11");
}

#[test]
fn bad_group_requests_are_4xx_answers() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = TestServer::start(config(dir.path()));
    ingest_ok(&s, &[line(0, 150009, "10.0.0.20", "10.0.0.10", "s1", 0)]);
    let gid = groups(&s, "")[0]["id"].as_str().expect("id").to_string();
    let missing = "00000000000000aa";
    for (path, want) in [
        (
            "/api/v1/alert-groups/xyz",
            (400, json!({"error": "\"xyz\" is not an alert group id"})),
        ),
        (
            "/api/v1/alert-groups/00000000000000aa",
            (404, json!({"error": "no such alert group"})),
        ),
        (
            "/api/v1/alert-groups/00000000000000aa/alerts",
            (404, json!({"error": "no such alert group"})),
        ),
        (
            "/api/v1/alert-groups?limit=0",
            (400, json!({"error": "`limit`: \"0\" is not 1 to 1000"})),
        ),
        (
            "/api/v1/alert-groups?cursor=zz",
            (
                400,
                json!({"error": "`cursor` is not one this API returned"}),
            ),
        ),
        (
            "/api/v1/alert-groups?state=gone",
            (
                400,
                json!({"error": "`state`: \"gone\" is not new, acknowledged or closed"}),
            ),
        ),
    ] {
        assert_eq!(get(&s.url(path)), want, "{path}");
    }
    let (status, body) = get(&s.url("/api/v1/alert-groups?colour=red"));
    assert_eq!(status, 400);
    assert!(body["error"]
        .as_str()
        .is_some_and(|e| e.starts_with("unknown parameter `colour`")));
    for (path, body, want) in [
        (
            format!("/api/v1/alert-groups/{missing}/ack"),
            r#"{"by":"a"}"#,
            404,
        ),
        (
            format!("/api/v1/alert-groups/{gid}/ack"),
            r#"{"by":""}"#,
            400,
        ),
        (
            format!("/api/v1/alert-groups/{gid}/ack"),
            r#"{"by":"a","state":"closed"}"#,
            400,
        ),
        (
            format!("/api/v1/alert-groups/{gid}/ack"),
            r#"{"by":"a","ids":[]}"#,
            400,
        ),
        (
            format!("/api/v1/alert-groups/{gid}/state"),
            r#"{"by":"a"}"#,
            400,
        ),
        (
            format!("/api/v1/alert-groups/{gid}/state"),
            r#"{"by":"a","state":"gone"}"#,
            400,
        ),
        (format!("/api/v1/alert-groups/{gid}/close"), "not json", 400),
        (
            format!("/api/v1/alert-groups/{gid}/close"),
            r#"{"by":"a","colour":1}"#,
            400,
        ),
    ] {
        let (status, v) = post(&s.url(&path), Some(API_TOKEN), body);
        assert_eq!(status, want, "{path} {body}: {v}");
        assert!(v["error"].is_string(), "{v}");
    }
    // Without credentials, like every other route.
    let (status, _) = post(
        &s.url(&format!("/api/v1/alert-groups/{gid}/ack")),
        None,
        r#"{"by":"a"}"#,
    );
    assert_eq!(status, 401);
    assert_eq!(get_as(&s.url("/api/v1/alert-groups"), None).0, 401);
    assert_eq!(get_as(&s.url("/api/v1/alert-groups"), Some(TOKEN)).0, 403);
}
