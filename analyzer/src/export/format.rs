//! Message formats for SIEMs: RFC 5424 with structured data, and CEF.
//!
//! Every string that comes from a packet is attacker-controlled. In RFC 5424
//! PARAM-VALUEs `"`, `\` and `]` are backslash-escaped (RFC 5424 §6.3.3) and
//! control characters (C0, DEL, C1: newlines included) are written as `\n`,
//! `\r`, `\t` or `\xHH`, so no receiver sees a line break inside a message.
//! In CEF the header escapes `\` and `|`, the extension escapes `\` and `=`,
//! newlines are `\n` / `\r`, other control characters become spaces. Values
//! are truncated on character boundaries before escaping, so an escape is
//! never cut in half. Input is always a Rust string (the ingest turned any
//! byte that was not UTF-8 into U+FFFD, and the sensor writes raw bytes as
//! `\u00XX`), so the output is always valid UTF-8.

use serde_json::Value;

use crate::record::RecordView;
use crate::rules::severity_name;
use crate::time::format_rfc3339;

/// Private enterprise number of the SD-IDs (RFC 5612's documentation number).
const PEN: &str = "32473";
/// Longest PARAM-VALUE before escaping.
const MAX_VALUE: usize = 256;
/// Transaction fields copied into structured data at most.
const MAX_TX_PARAMS: usize = 32;

/// `s` cut to at most `max` bytes on a character boundary.
pub fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

fn push_control(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c => out.push_str(&format!("\\x{:02x}", u32::from(c))),
    }
}

/// Escapes an SD PARAM-VALUE (after truncating it to 256 bytes).
pub fn sd_escape(s: &str) -> String {
    let s = truncate(s, MAX_VALUE);
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '"' | '\\' | ']' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => push_control(&mut out, c),
            c => out.push(c),
        }
    }
    out
}

/// Escapes free text for the MSG part (control characters only).
fn msg_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control() {
            push_control(&mut out, c);
        } else {
            out.push(c);
        }
    }
    out
}

/// An SD PARAM-NAME: printable US-ASCII except `=`, space, `]`, `"`; 1–32 characters.
fn sd_name(s: &str) -> String {
    let name: String = s
        .chars()
        .filter(|c| c.is_ascii_graphic() && !matches!(c, '=' | ']' | '"'))
        .take(32)
        .collect();
    if name.is_empty() {
        "_".into()
    } else {
        name
    }
}

/// Escapes a CEF header field.
pub fn cef_header_escape(s: &str) -> String {
    let s = truncate(s, 512);
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' | '|' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Escapes a CEF extension value (after truncating it to `max` bytes).
pub fn cef_value_escape(s: &str, max: usize) -> String {
    let s = truncate(s, max);
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\\' | '=' => {
                out.push('\\');
                out.push(c);
            }
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        Value::Array(a) => a.iter().map(text).collect::<Vec<_>>().join(","),
        v => v.to_string(),
    }
}

/// Scalar leaves of a JSON value as `(dotted.path, text)`, depth first.
fn leaves(prefix: &str, v: &Value, out: &mut Vec<(String, String)>) {
    if out.len() >= MAX_TX_PARAMS {
        return;
    }
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                leaves(&p, x, out);
            }
        }
        Value::Array(a) if a.iter().all(|x| !x.is_object() && !x.is_array()) => {
            out.push((prefix.to_string(), text(v)))
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                leaves(&format!("{prefix}.{i}"), x, out);
            }
        }
        v => out.push((prefix.to_string(), text(v))),
    }
}

/// The decoded transaction objects of an alert line.
fn transaction(eve: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for k in ["modbus", "s7comm", "s7commplus", "dnp3", "asset_change"] {
        if let Some(v) = eve.get(k) {
            leaves(k, v, &mut out);
        }
    }
    out.truncate(MAX_TX_PARAMS);
    out
}

/// Syslog severity of an alert severity (1 critical → 2 crit … 5 info → 6 info).
fn syslog_severity(sev: u8) -> u8 {
    match sev {
        1 => 2,
        2 => 3,
        3 => 4,
        4 => 5,
        _ => 6,
    }
}

fn header(facility: u8, sev: u8, ts: u64, hostname: &str) -> String {
    let pri = u32::from(facility) * 8 + u32::from(syslog_severity(sev));
    format!(
        "<{pri}>1 {} {hostname} otwatch - alert ",
        format_rfc3339(ts)
    )
}

/// An RFC 5424 message of at most `max` bytes.
pub(crate) fn rfc5424(
    id: u64,
    r: &RecordView<'_>,
    eve: &Value,
    facility: u8,
    hostname: &str,
    max: usize,
) -> Vec<u8> {
    let head = header(facility, r.severity, r.ts, hostname);
    let alert = &eve["alert"];
    let mut main = format!("[otwatch@{PEN}");
    let params: [(&str, String); 16] = [
        ("id", crate::render::id_text(id)),
        ("alert_id", r.alert_id.to_string()),
        ("sid", r.sid.to_string()),
        ("rev", text(&alert["rev"])),
        ("severity", r.severity.to_string()),
        ("severity_name", severity_name(r.severity).to_string()),
        ("category", text(&alert["category"])),
        ("protocol", r.protocol.to_string()),
        ("src", r.src_ip.to_string()),
        ("sport", text(&eve["src_port"])),
        ("dst", r.dest_ip.to_string()),
        ("dport", text(&eve["dest_port"])),
        ("flow_id", text(&eve["flow_id"])),
        ("sensor", r.sensor.to_string()),
        ("attack", text(&alert["metadata"]["attack_id"])),
        ("event_time", text(&eve["timestamp"])),
    ];
    for (k, v) in params {
        if !v.is_empty() {
            main.push_str(&format!(" {k}=\"{}\"", sd_escape(&v)));
        }
    }
    main.push(']');
    let mut tx: Vec<String> = transaction(eve)
        .into_iter()
        .map(|(k, v)| format!(" {}=\"{}\"", sd_name(&k), sd_escape(&v)))
        .collect();
    let msg = msg_escape(&text(&alert["signature"]));
    // Drop transaction fields from the end until the header and the SD fit with room for some text.
    let fixed = head.len() + main.len() + 1;
    while !tx.is_empty() && fixed + tx.iter().map(String::len).sum::<usize>() + 20 + 2 > max {
        tx.pop();
    }
    let mut out = head;
    out.push_str(&main);
    if !tx.is_empty() {
        out.push_str(&format!("[otwatch-tx@{PEN}"));
        for p in &tx {
            out.push_str(p);
        }
        out.push(']');
    }
    out.push(' ');
    let room = max.saturating_sub(out.len());
    let mut m = truncate(&msg, room);
    // Never end on half of a `\x` escape.
    while m.ends_with('\\') {
        m = &m[..m.len() - 1];
    }
    out.push_str(m);
    out.into_bytes()
}

/// CEF severity (0–10) of an alert severity.
fn cef_severity(sev: u8) -> u8 {
    match sev {
        1 => 10,
        2 => 8,
        3 => 5,
        4 => 3,
        _ => 1,
    }
}

/// A CEF event carried in an RFC 5424 message (no structured data), at most `max` bytes.
pub(crate) fn cef(
    id: u64,
    r: &RecordView<'_>,
    eve: &Value,
    facility: u8,
    hostname: &str,
    max: usize,
) -> Vec<u8> {
    let alert = &eve["alert"];
    let mut out = header(facility, r.severity, r.ts, hostname);
    out.push_str("- ");
    out.push_str(&format!(
        "CEF:0|otwatch|otwatch|{}|{}|{}|{}|",
        env!("CARGO_PKG_VERSION"),
        r.sid,
        cef_header_escape(&text(&alert["signature"])),
        cef_severity(r.severity)
    ));
    let tx: serde_json::Map<String, Value> =
        ["modbus", "s7comm", "s7commplus", "dnp3", "asset_change"]
            .iter()
            .filter_map(|k| eve.get(*k).map(|v| (k.to_string(), v.clone())))
            .collect();
    let ext: Vec<(&str, String, usize)> = vec![
        ("rt", (r.ts / 1000).to_string(), 32),
        ("src", r.src_ip.to_string(), 64),
        ("spt", text(&eve["src_port"]), 8),
        ("dst", r.dest_ip.to_string(), 64),
        ("dpt", text(&eve["dest_port"]), 8),
        ("proto", text(&eve["proto"]), 16),
        ("app", r.protocol.to_string(), 32),
        ("cat", text(&alert["category"]), 128),
        ("act", text(&alert["action"]), 32),
        ("externalId", crate::render::id_text(id), 32),
        ("dvchost", r.sensor.to_string(), 128),
        ("cs1Label", "alert_id".into(), 16),
        ("cs1", r.alert_id.to_string(), 256),
        ("cs2Label", "attack".into(), 16),
        ("cs2", text(&alert["metadata"]["attack_id"]), 128),
        ("cs3Label", "flow_id".into(), 16),
        ("cs3", text(&eve["flow_id"]), 32),
        ("msg", text(&alert["signature"]), 512),
        ("cs4Label", "transaction".into(), 16),
        (
            "cs4",
            if tx.is_empty() {
                String::new()
            } else {
                Value::Object(tx).to_string()
            },
            4000,
        ),
    ];
    let mut first = true;
    for (k, v, cap) in ext {
        if v.is_empty() {
            continue;
        }
        let item = format!(
            "{}{k}={}",
            if first { "" } else { " " },
            cef_value_escape(&v, cap)
        );
        if out.len() + item.len() > max {
            // Cut the raw value (never an escape) until the escaped one fits.
            let room = max.saturating_sub(out.len() + k.len() + 2);
            let mut n = room.min(v.len());
            while n > 0 {
                let val = cef_value_escape(&v, n);
                if val.len() <= room {
                    out.push_str(&format!("{}{k}={val}", if first { "" } else { " " }));
                    break;
                }
                n = n.saturating_sub((val.len() - room).max(1));
            }
            break;
        }
        out.push_str(&item);
        first = false;
    }
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::State;
    use serde_json::json;

    const HOSTILE: &str = "PLC \"A\"]\\x\nnext line\r\u{0}\u{ff}\u{85}end|=";

    fn record<'a>(json: &'a [u8]) -> RecordView<'a> {
        RecordView {
            ts: 1_795_889_246_864_895,
            received: 0,
            severity: 1,
            state: State::New,
            sid: 110001,
            state_at: 0,
            protocol: "modbus",
            src_ip: "10.0.0.2",
            dest_ip: "10.0.0.1",
            sensor: "s1",
            alert_id: "a]1",
            state_by: "",
            state_note: "",
            json,
        }
    }

    fn eve() -> Value {
        json!({"timestamp":"2026-11-28T18:07:26.864895+0000","flow_id":7,"src_port":5000,"dest_port":502,"proto":"TCP",
               "alert":{"action":"allowed","rev":1,"signature":"Write\nto PLC","category":"c","metadata":{"attack_id":["T0836"]}},
               "modbus":{"request":{"function":"write","device":HOSTILE}}})
    }

    #[test]
    fn escapes_sd_param_values() {
        assert_eq!(
            sd_escape(HOSTILE),
            "PLC \\\"A\\\"\\]\\\\x\\nnext line\\r\\x00\u{ff}\\x85end|="
        );
        assert_eq!(sd_escape(&"é".repeat(200)).len(), 256);
        assert_eq!(truncate("aé", 2), "a");
    }

    #[test]
    fn escapes_cef() {
        assert_eq!(cef_header_escape("a|b\\c\nd"), "a\\|b\\\\c d");
        assert_eq!(
            cef_value_escape("a=b\\c\nd\re\u{0}", 100),
            "a\\=b\\\\c\\nd\\re "
        );
    }

    #[test]
    fn writes_an_rfc5424_message() {
        let e = eve();
        let m = String::from_utf8(rfc5424(0x10, &record(b"{}"), &e, 16, "otwatch", 8192))
            .expect("utf8");
        assert_eq!(
            m,
            "<130>1 2026-11-28T18:07:26.864895Z otwatch otwatch - alert [otwatch@32473 id=\"0000000000000010\" \
             alert_id=\"a\\]1\" sid=\"110001\" rev=\"1\" severity=\"1\" severity_name=\"critical\" category=\"c\" \
             protocol=\"modbus\" src=\"10.0.0.2\" sport=\"5000\" dst=\"10.0.0.1\" dport=\"502\" flow_id=\"7\" \
             sensor=\"s1\" attack=\"T0836\" event_time=\"2026-11-28T18:07:26.864895+0000\"]\
             [otwatch-tx@32473 modbus.request.device=\"PLC \\\"A\\\"\\]\\\\x\\nnext line\\r\\x00\u{ff}\\x85end|=\" \
             modbus.request.function=\"write\"] Write\\nto PLC"
        );
        // A small limit drops transaction fields, then cuts the text.
        let m = rfc5424(0x10, &record(b"{}"), &e, 16, "otwatch", 420);
        assert!(m.len() <= 420);
        assert!(!String::from_utf8(m).expect("utf8").contains("otwatch-tx"));
    }

    #[test]
    fn writes_a_cef_message() {
        let e = eve();
        let m =
            String::from_utf8(cef(0x10, &record(b"{}"), &e, 16, "otwatch", 8192)).expect("utf8");
        assert!(m.starts_with(&format!(
            "<130>1 2026-11-28T18:07:26.864895Z otwatch otwatch - alert - CEF:0|otwatch|otwatch|{}|110001|Write to PLC|10|rt=1795889246864 src=10.0.0.2 spt=5000",
            env!("CARGO_PKG_VERSION")
        )), "{m}");
        assert!(m.contains(" msg=Write\\nto PLC "), "{m}");
        assert!(
            m.contains("cs4=") && m.contains("end|\\=\",\"function\""),
            "{m}"
        );
        assert!(!m.contains('\n'));
        for max in [480, 500, 600, 700] {
            let m =
                String::from_utf8(cef(0x10, &record(b"{}"), &e, 16, "otwatch", max)).expect("utf8");
            assert!(m.len() <= max, "{max}: {}", m.len());
            let trailing = m.len() - m.trim_end_matches('\\').len();
            assert_eq!(trailing % 2, 0, "half an escape at {max}: {m}");
        }
    }
}
