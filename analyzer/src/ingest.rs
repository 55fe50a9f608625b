//! Parsing of ingest batches: NDJSON bodies of EVE lines.
//!
//! A batch is all or nothing: when any line is not JSON, or is an `alert`,
//! `asset` or `stats` line without its required fields, the batch is refused
//! with the number (1-based) and reason of every bad line, and nothing of it
//! is stored; the shipper drops exactly those lines and sends the rest again.
//! Lines of other event types (`modbus`, `flow`, …) are counted and dropped.
//! Empty lines are skipped (they still count in line numbers).

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::record::{RecordView, State};
use crate::time::parse_rfc3339;

/// An alert of a batch. Its text lives in the batch (the line in
/// [`Batch::text`], the fields it is indexed by in [`Batch::fields`]), so
/// parsing allocates nothing per alert.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NewAlert {
    ts: u64,
    severity: u8,
    sid: u32,
    /// Where protocol, src_ip, dest_ip, sensor and alert_id end in
    /// `Batch::fields`, each starting where the one before ends.
    ends: [usize; 5],
    /// Where the first field starts.
    start: usize,
    /// The EVE line (without the line break) in `Batch::text`.
    line: (usize, usize),
}

/// An `asset` line.
#[derive(Debug, Clone)]
pub(crate) struct AssetObs {
    pub(crate) sensor: String,
    pub(crate) ts: u64,
    pub(crate) asset: serde_json::Value,
}

/// A `stats` line.
#[derive(Debug, Clone)]
pub(crate) struct StatsObs {
    pub(crate) sensor: String,
    pub(crate) ts: u64,
    pub(crate) stats: serde_json::Value,
}

/// A parsed, valid batch.
#[derive(Debug, Default)]
pub(crate) struct Batch {
    /// The request body (bytes that are not UTF-8 replaced by U+FFFD).
    text: String,
    /// The fields alerts are indexed by, one after the other.
    fields: String,
    pub(crate) alerts: Vec<NewAlert>,
    pub(crate) assets: Vec<AssetObs>,
    pub(crate) stats: Vec<StatsObs>,
    /// Lines of other event types.
    pub(crate) other: u64,
    /// Sensors named by the lines.
    pub(crate) sensors: BTreeSet<String>,
}

impl Batch {
    fn note_sensor(&mut self, sensor: &str) {
        if !self.sensors.contains(sensor) {
            self.sensors.insert(sensor.to_string());
        }
    }

    /// The batch's alerts, in order, as new records (not received yet).
    pub(crate) fn alert_refs(&self) -> impl Iterator<Item = RecordView<'_>> {
        self.alerts.iter().map(|a| {
            let field = |i: usize| {
                let from = if i == 0 { a.start } else { a.ends[i - 1] };
                self.fields.get(from..a.ends[i]).unwrap_or_default()
            };
            RecordView {
                ts: a.ts,
                received: 0,
                severity: a.severity,
                state: State::New,
                sid: a.sid,
                state_at: 0,
                group: 0,
                protocol: field(0),
                src_ip: field(1),
                dest_ip: field(2),
                sensor: field(3),
                alert_id: field(4),
                state_by: "",
                state_note: "",
                json: self
                    .text
                    .as_bytes()
                    .get(a.line.0..a.line.1)
                    .unwrap_or_default(),
            }
        })
    }
}

/// Why one line of a batch was refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineError {
    /// 1-based line number in the request body.
    pub line: usize,
    /// What is wrong.
    pub error: String,
}

impl std::fmt::Display for LineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.error)
    }
}

#[derive(Deserialize)]
struct Head<'a> {
    #[serde(borrow, default)]
    event_type: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    timestamp: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    sensor: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    alert_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    src_ip: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    dest_ip: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    app_proto: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    alert: Option<AlertObj<'a>>,
    #[serde(default)]
    asset: Option<serde_json::Value>,
    #[serde(default)]
    stats: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct AlertObj<'a> {
    #[serde(default)]
    signature_id: Option<u64>,
    #[serde(default)]
    severity: Option<u64>,
    #[serde(borrow, default)]
    signature: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    metadata: Option<Meta<'a>>,
}

#[derive(Deserialize)]
struct Meta<'a> {
    #[serde(borrow, default)]
    protocol: Vec<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct TypeOnly<'a> {
    #[serde(borrow, default)]
    event_type: Option<Cow<'a, str>>,
}

const MAX_ID: usize = 256;
const MAX_SENSOR: usize = 128;

enum Line {
    Alert(NewAlert),
    Asset(AssetObs),
    Stats(StatsObs),
    Other,
}

/// The sensor a line names (`unknown` when it names none).
fn sensor_name<'a>(s: &'a Option<Cow<'_, str>>) -> Result<&'a str, String> {
    match s.as_deref() {
        None => Ok("unknown"),
        Some(s) if s.is_empty() || s.len() > MAX_SENSOR => {
            Err(format!("`sensor` must be 1 to {MAX_SENSOR} bytes"))
        }
        Some(s) => Ok(s),
    }
}

fn sensor_of(s: Option<Cow<'_, str>>) -> Result<String, String> {
    sensor_name(&s).map(str::to_string)
}

fn timestamp_of(ts: Option<Cow<'_, str>>) -> Result<u64, String> {
    let ts = ts.ok_or("missing `timestamp`")?;
    parse_rfc3339(&ts).ok_or_else(|| format!("`timestamp` {ts:?} is not RFC 3339"))
}

fn ip_of<'a>(name: &str, v: &'a Option<Cow<'_, str>>) -> Result<&'a str, String> {
    let v = v.as_deref().ok_or_else(|| format!("missing `{name}`"))?;
    v.parse::<IpAddr>()
        .map_err(|_| format!("`{name}` {v:?} is not an IP address"))?;
    Ok(v)
}

/// Parses one line; an alert's indexed fields are appended to `fields`.
fn parse_line(text: &str, fields: &mut String) -> Result<Line, String> {
    let head: Head<'_> = match serde_json::from_str(text) {
        Ok(h) => h,
        Err(e) => {
            // Maybe a line of a type whose fields we do not read: check it is JSON.
            return match serde_json::from_str::<TypeOnly<'_>>(text) {
                Ok(t)
                    if t.event_type
                        .as_deref()
                        .is_some_and(|t| !matches!(t, "alert" | "asset" | "stats")) =>
                {
                    Ok(Line::Other)
                }
                Ok(_) => Err(format!("bad field: {e}")),
                Err(e) => Err(format!("not a JSON object: {e}")),
            };
        }
    };
    let event_type = head.event_type.as_deref().ok_or("missing `event_type`")?;
    match event_type {
        "alert" => {
            let ts = timestamp_of(head.timestamp)?;
            let alert = head.alert.ok_or("missing `alert` object")?;
            let sid = alert.signature_id.ok_or("missing `alert.signature_id`")?;
            let sid = u32::try_from(sid)
                .map_err(|_| format!("`alert.signature_id` {sid} is too large"))?;
            let severity = alert.severity.ok_or("missing `alert.severity`")?;
            let severity = u8::try_from(severity)
                .ok()
                .filter(|s| (1..=5).contains(s))
                .ok_or_else(|| format!("`alert.severity` {severity} is not 1 to 5"))?;
            alert.signature.ok_or("missing `alert.signature`")?;
            let alert_id = head.alert_id.as_deref().ok_or("missing `alert_id`")?;
            if alert_id.is_empty() || alert_id.len() > MAX_ID {
                return Err(format!("`alert_id` must be 1 to {MAX_ID} bytes"));
            }
            let protocol = alert
                .metadata
                .and_then(|m| m.protocol.into_iter().next())
                .or(head.app_proto);
            let protocol = protocol.as_deref().unwrap_or("unknown");
            if protocol.len() > 32 {
                return Err("protocol name longer than 32 bytes".into());
            }
            let src_ip = ip_of("src_ip", &head.src_ip)?;
            let dest_ip = ip_of("dest_ip", &head.dest_ip)?;
            let sensor = sensor_name(&head.sensor)?;
            let start = fields.len();
            fields.extend(protocol.chars().map(|c| c.to_ascii_lowercase()));
            let mut ends = [fields.len(); 5];
            for (end, field) in ends[1..]
                .iter_mut()
                .zip([src_ip, dest_ip, sensor, alert_id])
            {
                fields.push_str(field);
                *end = fields.len();
            }
            Ok(Line::Alert(NewAlert {
                ts,
                severity,
                sid,
                ends,
                start,
                line: (0, text.len()),
            }))
        }
        "asset" => {
            let ts = timestamp_of(head.timestamp)?;
            let asset = head.asset.ok_or("missing `asset` object")?;
            let ip = asset
                .get("ip")
                .and_then(|v| v.as_str())
                .ok_or("missing `asset.ip`")?;
            ip.parse::<IpAddr>()
                .map_err(|_| format!("`asset.ip` {ip:?} is not an IP address"))?;
            if !asset
                .get("identity")
                .is_none_or(|i| i.is_object() || i.is_null())
            {
                return Err("`asset.identity` is not an object".into());
            }
            Ok(Line::Asset(AssetObs {
                sensor: sensor_of(head.sensor)?,
                ts,
                asset,
            }))
        }
        "stats" => {
            let ts = timestamp_of(head.timestamp)?;
            let stats = head
                .stats
                .filter(|s| s.is_object())
                .ok_or("missing `stats` object")?;
            Ok(Line::Stats(StatsObs {
                sensor: sensor_of(head.sensor)?,
                ts,
                stats,
            }))
        }
        // Protocol events, flows, anomalies, and types to come: counted.
        t if !t.is_empty() => Ok(Line::Other),
        _ => Err("empty `event_type`".into()),
    }
}

/// Parses a request body. Returns every bad line when there is one.
pub(crate) fn parse_batch(body: &[u8]) -> Result<Batch, Vec<LineError>> {
    // Bytes that are not UTF-8 cannot be JSON; keep the lines, with U+FFFD
    // in their place (checked with the fast validator first).
    let text = match std::str::from_utf8(body) {
        Ok(text) => text.to_string(),
        Err(_) => String::from_utf8_lossy(body).into_owned(),
    };
    let mut batch = Batch {
        fields: String::with_capacity(text.len() / 8),
        ..Batch::default()
    };
    let mut errors = Vec::new();
    let mut next = 0;
    for (i, raw) in text.split('\n').enumerate() {
        let at = next;
        next += raw.len() + 1;
        let line = raw.trim_ascii();
        if line.is_empty() {
            continue;
        }
        let at = at + (raw.len() - raw.trim_ascii_start().len());
        let mark = batch.fields.len();
        let parsed = parse_line(line, &mut batch.fields);
        if parsed.is_err() {
            batch.fields.truncate(mark);
        }
        match parsed {
            Ok(Line::Alert(mut a)) => {
                a.line = (at, at + line.len());
                let sensor = batch.fields.get(a.ends[2]..a.ends[3]).unwrap_or_default();
                if !batch.sensors.contains(sensor) {
                    batch.sensors.insert(sensor.to_string());
                }
                batch.alerts.push(a);
            }
            Ok(Line::Asset(a)) => {
                batch.note_sensor(&a.sensor);
                batch.assets.push(a);
            }
            Ok(Line::Stats(s)) => {
                batch.note_sensor(&s.sensor);
                batch.stats.push(s);
            }
            Ok(Line::Other) => batch.other += 1,
            Err(error) => {
                if errors.len() < 1000 {
                    errors.push(LineError { line: i + 1, error });
                }
            }
        }
    }
    if errors.is_empty() {
        batch.text = text;
        Ok(batch)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALERT: &str = r#"{"timestamp":"2026-11-28T18:07:26.864895+0000","flow_id":1,"event_type":"alert","src_ip":"10.0.0.2","src_port":5000,"dest_ip":"10.0.0.1","dest_port":502,"proto":"TCP","app_proto":"modbus","alert":{"action":"allowed","gid":1,"signature_id":110001,"rev":1,"signature":"x","category":"c","severity":1,"metadata":{"protocol":["modbus"]}},"alert_id":"s1-1","sensor":"s1"}"#;

    #[test]
    fn parses_an_alert_and_counts_other_types() {
        let body = format!("{ALERT}\n\n{{\"event_type\":\"modbus\",\"timestamp\":5}}\n{{\"event_type\":\"flow\"}}\n");
        let b = parse_batch(body.as_bytes()).expect("valid");
        assert_eq!(b.alerts.len(), 1);
        assert_eq!(b.other, 2);
        let a = b.alert_refs().next().expect("one alert");
        assert_eq!(
            (a.sid, a.severity, a.protocol, a.sensor),
            (110001, 1, "modbus", "s1")
        );
        assert_eq!(
            (a.src_ip, a.dest_ip, a.alert_id),
            ("10.0.0.2", "10.0.0.1", "s1-1")
        );
        assert_eq!(a.json, ALERT.as_bytes());
        assert_eq!(a.ts, 1_795_889_246_864_895);
    }

    #[test]
    fn alerts_keep_their_own_line_and_fields() {
        // A line of another type with a byte that is not UTF-8 (replaced by
        // U+FFFD, three bytes: later offsets move), blanks around lines,
        // CRLF line ends, an escaped sensor name and an upper-case protocol.
        let second = ALERT
            .replace(r#""sensor":"s1""#, r#""sensor":"s\u0032""#)
            .replace(r#""protocol":["modbus"]"#, r#""protocol":["DNP3"]"#)
            .replace("s1-1", "s2-9");
        let mut body = b"{\"event_type\":\"flow\",\"x\":\"\xff\"}\r\n  ".to_vec();
        body.extend_from_slice(ALERT.as_bytes());
        body.extend_from_slice(b" \r\n\n\t");
        body.extend_from_slice(second.as_bytes());
        body.extend_from_slice(b"\r\n");
        let b = parse_batch(&body).expect("valid");
        let got: Vec<_> = b
            .alert_refs()
            .map(|a| (a.protocol, a.sensor, a.alert_id, a.json))
            .collect();
        assert_eq!(
            got,
            [
                ("modbus", "s1", "s1-1", ALERT.as_bytes()),
                ("dnp3", "s2", "s2-9", second.as_bytes())
            ]
        );
        assert_eq!(b.other, 1);
        assert_eq!(
            b.sensors.iter().map(String::as_str).collect::<Vec<_>>(),
            ["s1", "s2"]
        );
    }

    #[test]
    fn reports_every_bad_line_with_its_number() {
        let no_id = ALERT.replace(r#""alert_id":"s1-1","#, "");
        let bad_sev = ALERT.replace(r#""severity":1"#, r#""severity":9"#);
        let body = format!("{ALERT}\nnot json\n{no_id}\n{bad_sev}\n{{\"event_type\":\"asset\",\"timestamp\":\"2026-11-28T18:07:26Z\"}}\n");
        let errs = parse_batch(body.as_bytes()).expect_err("invalid");
        let lines: Vec<(usize, &str)> = errs.iter().map(|e| (e.line, e.error.as_str())).collect();
        assert_eq!(lines[0].0, 2);
        assert!(
            lines[0].1.starts_with("not a JSON object"),
            "{}",
            lines[0].1
        );
        assert_eq!(
            &lines[1..],
            [
                (3, "missing `alert_id`"),
                (4, "`alert.severity` 9 is not 1 to 5"),
                (5, "missing `asset` object")
            ]
        );
    }
}
