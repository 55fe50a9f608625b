//! The JSON the API returns for an alert.

use serde_json::{json, Map, Value};

use crate::record::{RecordView, State};
use crate::rules::severity_name;
use crate::time::format_eve;

/// The API id of a stored alert: 16 hex digits, sorting like the id.
pub(crate) fn id_text(id: u64) -> String {
    format!("{id:016x}")
}

/// Parses an API id.
pub(crate) fn parse_id(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 16 {
        return None;
    }
    u64::from_str_radix(s, 16).ok()
}

/// The list view of an alert.
pub(crate) fn summary(id: u64, r: &RecordView<'_>, eve: &Value) -> Map<String, Value> {
    let alert = &eve["alert"];
    let opt = |s: &str| {
        if s.is_empty() {
            Value::Null
        } else {
            Value::String(s.to_string())
        }
    };
    let mut m = Map::new();
    m.insert("id".into(), json!(id_text(id)));
    m.insert("timestamp".into(), eve["timestamp"].clone());
    m.insert("received".into(), json!(format_eve(r.received)));
    m.insert("severity".into(), json!(r.severity));
    m.insert("severity_name".into(), json!(severity_name(r.severity)));
    m.insert("signature_id".into(), json!(r.sid));
    m.insert("rev".into(), alert["rev"].clone());
    m.insert("signature".into(), alert["signature"].clone());
    m.insert("category".into(), alert["category"].clone());
    m.insert("protocol".into(), json!(r.protocol));
    m.insert("src_ip".into(), json!(r.src_ip));
    m.insert("src_port".into(), eve["src_port"].clone());
    m.insert("dest_ip".into(), json!(r.dest_ip));
    m.insert("dest_port".into(), eve["dest_port"].clone());
    m.insert("sensor".into(), json!(r.sensor));
    m.insert("alert_id".into(), json!(r.alert_id));
    m.insert(
        "group_id".into(),
        if r.group == 0 {
            Value::Null
        } else {
            json!(id_text(r.group))
        },
    );
    let attack = match &alert["metadata"]["attack_id"] {
        Value::Array(a) => Value::Array(a.clone()),
        _ => json!([]),
    };
    m.insert("attack".into(), attack);
    m.insert("state".into(), json!(r.state.name()));
    let changed = r.state != State::New || r.state_at != 0;
    m.insert("state_by".into(), opt(r.state_by));
    m.insert(
        "state_at".into(),
        if changed {
            json!(format_eve(r.state_at))
        } else {
            Value::Null
        },
    );
    m.insert("state_note".into(), opt(r.state_note));
    m
}

/// The list view of stored bytes (`None` when they do not decode).
pub(crate) fn summary_of(id: u64, bytes: &[u8]) -> Option<Value> {
    let r = RecordView::decode(bytes)?;
    let eve: Value = serde_json::from_slice(r.json).ok()?;
    Some(Value::Object(summary(id, &r, &eve)))
}

/// The full view: the summary, the flow, the decoded transaction and the EVE line.
pub(crate) fn detail_of(id: u64, bytes: &[u8]) -> Option<Value> {
    let r = RecordView::decode(bytes)?;
    let eve: Value = serde_json::from_slice(r.json).ok()?;
    let mut m = summary(id, &r, &eve);
    let mut flow = Map::new();
    for k in [
        "flow_id",
        "src_ip",
        "src_port",
        "dest_ip",
        "dest_port",
        "proto",
        "app_proto",
        "vlan",
    ] {
        if let Some(v) = eve.get(k) {
            flow.insert(k.into(), v.clone());
        }
    }
    m.insert("flow".into(), Value::Object(flow));
    let mut tx = Map::new();
    for k in crate::protocols::transaction_objects() {
        if let Some(v) = eve.get(k) {
            tx.insert(k.into(), v.clone());
        }
    }
    m.insert(
        "transaction".into(),
        if tx.is_empty() {
            Value::Null
        } else {
            Value::Object(tx)
        },
    );
    m.insert("eve".into(), eve);
    Some(Value::Object(m))
}
