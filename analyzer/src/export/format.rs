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
//!
//! RFC 5424 messages carry the decoded transaction as one SD-PARAM per leaf
//! (`[otwatch-tx@32473 modbus.request.function="…" …]`), named by its dotted
//! path. An SD-NAME has at most 32 characters, so a longer path is renamed,
//! never cut, and every name is unique within its message (see `Names`):
//! the Modbus device identification fields become `modbus.devid.NAME`
//! (`vendor_name`, `product_code`, `revision`, `vendor_url`, `product_name`,
//! `model_name`, `user_app_name`, …), other long paths have common parts
//! shortened (`request` → `req`, `transport_size_name` → `tsize_name`, …),
//! and what still does not fit is `FIRST~HASH.END`
//! (`dnp3~1f2e3d.0.file.permissions`).

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

/// Longest SD-NAME (RFC 5424 §6.3.3).
const MAX_NAME: usize = 32;

/// Short names of transaction fields whose dotted path is longer than
/// [`MAX_NAME`], by path prefix: the prefix is replaced, then the rest of
/// the path is looked up in [`SHORT_LEAVES`]. The Modbus device
/// identification (function 43 / MEI 14) fields are the ones a SIEM needs
/// told apart: vendor, product code, revision, URL, product, model,
/// application.
const SHORT_PREFIXES: &[(&str, &str)] = &[
    (
        "modbus.response.device_identification.objects.",
        "modbus.devid.",
    ),
    ("modbus.response.device_identification.", "modbus.devid."),
    ("modbus.request.read_device_id.", "modbus.devid.request_"),
];

/// Field names shortened after a [`SHORT_PREFIXES`] replacement.
const SHORT_LEAVES: &[(&str, &str)] = &[
    ("major_minor_revision", "revision"),
    ("user_application_name", "user_app_name"),
];

/// Parts of a long path shortened when no [`SHORT_PREFIXES`] entry makes it
/// fit: every part of the path found here is replaced.
const SHORT_PARTS: &[(&str, &str)] = &[
    ("request", "req"),
    ("response", "rsp"),
    ("objects", "obj"),
    ("points", "pt"),
    ("userdata", "ud"),
    ("records", "rec"),
    ("block_info", "binfo"),
    ("transport_size", "tsize"),
    ("transport_size_name", "tsize_name"),
    ("return_code", "rc"),
    ("return_code_name", "rc_name"),
    ("syntax_id", "syntax"),
    ("syntax_id_name", "syntax_name"),
    ("subfunction", "subfn"),
    ("subfunction_name", "subfn_name"),
    ("file_system", "fs"),
    ("file_system_name", "fs_name"),
    ("block_type", "btype"),
    ("block_type_name", "btype_name"),
    ("block_number", "bnum"),
    ("data_unit_ref", "du_ref"),
    ("last_data_unit", "last_du"),
    ("relative_time_ms", "rel_time_ms"),
    ("language", "lang"),
    ("language_name", "lang_name"),
    ("load_memory_length", "load_mem_len"),
    ("previous_mode", "prev_mode"),
    ("previous_mode_name", "prev_mode_name"),
    ("order_number", "order_no"),
    ("calling_tsap_text", "calling_tsap_txt"),
    ("request_id", "req_id"),
];

/// `path` with every part found in [`SHORT_PARTS`] shortened.
fn short_parts(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for (i, part) in path.split('.').enumerate() {
        if i > 0 {
            out.push('.');
        }
        out.push_str(
            SHORT_PARTS
                .iter()
                .find(|(l, _)| *l == part)
                .map_or(part, |(_, s)| s),
        );
    }
    out
}

/// `s` with every character an SD-NAME cannot hold (anything but printable
/// US-ASCII other than `=`, `]`, `"`) replaced by `_`; `_` when empty.
fn name_chars(s: &str) -> String {
    let name: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && !matches!(c, '=' | ']' | '"') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if name.is_empty() {
        "_".into()
    } else {
        name
    }
}

/// FNV-1a (32 bits) of `s` and a salt, for the fallback names.
fn fnv1a(s: &str, salt: u32) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in s.bytes().chain(salt.to_le_bytes()) {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

/// The name from the tables, if `path` has one and it fits.
fn table_name(path: &str) -> Option<String> {
    let (prefix, short) = SHORT_PREFIXES.iter().find(|(p, _)| path.starts_with(p))?;
    let rest = &path[prefix.len()..];
    let rest = SHORT_LEAVES
        .iter()
        .find(|(l, _)| *l == rest)
        .map_or(rest, |(_, s)| s);
    let name = format!("{short}{rest}");
    (name.len() <= MAX_NAME).then_some(name)
}

/// The fallback name of a long `path`: its first dotted part (at most 8
/// characters), `~`, six hex digits of a hash of the whole path (and the
/// salt), `.`, then as much of the end of the path (with [`SHORT_PARTS`]
/// applied) as fits, cut after a dot where one is in reach.
fn hashed_name(path: &str, salt: u32) -> String {
    let head: String = path
        .split('.')
        .next()
        .unwrap_or("")
        .chars()
        .take(8)
        .collect();
    let mut name = format!("{head}~{:06x}", fnv1a(path, salt) & 0x00ff_ffff);
    let room = MAX_NAME - name.len() - 1;
    let short = short_parts(path);
    // `path` is ASCII (see `name_chars`): any byte offset is a boundary.
    let tail = if short.len() <= room {
        short.as_str()
    } else {
        let start = short.len() - room;
        let tail = &short[start..];
        let mid_part = short.as_bytes()[start - 1] != b'.';
        match tail.find('.') {
            Some(i) if mid_part && i + 1 < tail.len() => &tail[i + 1..],
            _ => tail,
        }
    };
    name.push('.');
    name.push_str(tail);
    name
}

/// SD-NAMEs of one message's transaction fields, unique within it.
///
/// * A path of at most 32 characters is its own name (characters an
///   SD-NAME cannot hold become `_`).
/// * A longer one takes its short name from [`SHORT_PREFIXES`] and
///   [`SHORT_LEAVES`] (`modbus.response.device_identification.objects.
///   vendor_name` → `modbus.devid.vendor_name`), else from [`SHORT_PARTS`]
///   if that makes it fit (`s7comm.request.items.0.transport_size_name` →
///   `s7comm.req.items.0.tsize_name`).
/// * Any other long path, or a name already taken in this message, gets
///   [`hashed_name`] (`dnp3~1f2e3d.0.file.permissions`), salted again
///   until it is unused.
#[derive(Default)]
struct Names {
    used: std::collections::HashSet<String>,
}

impl Names {
    fn name(&mut self, path: &str) -> String {
        let path = name_chars(path);
        let first = if path.len() <= MAX_NAME {
            Some(path.clone())
        } else {
            table_name(&path).or_else(|| {
                let short = short_parts(&path);
                (short.len() <= MAX_NAME).then_some(short)
            })
        };
        let name = match first {
            Some(n) if !self.used.contains(&n) => n,
            _ => (0u32..)
                .map(|salt| hashed_name(&path, salt))
                .find(|n| !self.used.contains(n))
                .unwrap_or_else(|| "_".to_owned()),
        };
        self.used.insert(name.clone());
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
    for k in crate::protocols::transaction_objects() {
        if let Some(v) = eve.get(k) {
            leaves(k, v, &mut out);
        }
    }
    out.truncate(MAX_TX_PARAMS);
    out
}

/// The API id of an alert's group; empty for none (the field is left out).
fn group_text(group: u64) -> String {
    if group == 0 {
        String::new()
    } else {
        crate::render::id_text(group)
    }
}

/// The EVE line of a stored alert as the EVE-file export writes it: the
/// line as received with `"group_id":"…"` (the API id of its group) added
/// as its last key, or put in place of one the line already had.
pub(crate) fn eve_line(r: &RecordView<'_>) -> Vec<u8> {
    let mut out = Vec::with_capacity(r.json.len() + 32);
    if r.group == 0 {
        out.extend_from_slice(r.json);
        return out;
    }
    let id = crate::render::id_text(r.group);
    let has_key = r.json.windows(10).any(|w| w == b"\"group_id\"");
    let body = r.json.trim_ascii_end();
    match body.strip_suffix(b"}") {
        Some(head) if !has_key => {
            out.extend_from_slice(head);
            let empty = head.trim_ascii_end().ends_with(b"{");
            out.extend_from_slice(if empty {
                b"\"group_id\":\""
            } else {
                b",\"group_id\":\""
            });
            out.extend_from_slice(id.as_bytes());
            out.extend_from_slice(b"\"}");
        }
        _ => match serde_json::from_slice::<Value>(r.json) {
            Ok(Value::Object(mut m)) => {
                m.insert("group_id".into(), Value::String(id));
                out = Value::Object(m).to_string().into_bytes();
            }
            _ => out.extend_from_slice(r.json),
        },
    }
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
    let params: [(&str, String); 18] = [
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
        ("community_id", text(&eve["community_id"])),
        ("sensor", r.sensor.to_string()),
        ("group_id", group_text(r.group)),
        ("attack", text(&alert["metadata"]["attack_id"])),
        ("event_time", text(&eve["timestamp"])),
    ];
    for (k, v) in params {
        if !v.is_empty() {
            main.push_str(&format!(" {k}=\"{}\"", sd_escape(&v)));
        }
    }
    main.push(']');
    let mut names = Names::default();
    let mut tx: Vec<String> = transaction(eve)
        .into_iter()
        .map(|(k, v)| format!(" {}=\"{}\"", names.name(&k), sd_escape(&v)))
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
    let tx: serde_json::Map<String, Value> = crate::protocols::transaction_objects()
        .filter_map(|k| eve.get(k).map(|v| (k.to_string(), v.clone())))
        .collect();
    let community_id = text(&eve["community_id"]);
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
        ("cs5Label", "group_id".into(), 16),
        ("cs5", group_text(r.group), 32),
        // The label only with its value (lines of flows without ports have none).
        (
            "cs6Label",
            if community_id.is_empty() {
                String::new()
            } else {
                "community_id".into()
            },
            16,
        ),
        ("cs6", community_id, 32),
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
            group: 0x0f,
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
             sensor=\"s1\" group_id=\"000000000000000f\" attack=\"T0836\" event_time=\"2026-11-28T18:07:26.864895+0000\"]\
             [otwatch-tx@32473 modbus.request.device=\"PLC \\\"A\\\"\\]\\\\x\\nnext line\\r\\x00\u{ff}\\x85end|=\" \
             modbus.request.function=\"write\"] Write\\nto PLC"
        );
        // A small limit drops transaction fields, then cuts the text.
        let m = rfc5424(0x10, &record(b"{}"), &e, 16, "otwatch", 420);
        assert!(m.len() <= 420);
        assert!(!String::from_utf8(m).expect("utf8").contains("otwatch-tx"));
    }

    /// The `modbus` object of a read device identification transaction, as
    /// the sensor writes it (function 43, MEI 14, regular stream).
    fn device_identification() -> Value {
        json!({"transaction_id": 9, "unit_id": 1,
               "request": {"function_code": 43, "function": "encapsulated_interface_transport", "access": "identification",
                           "mei": {"type": 14, "name": "read_device_identification"},
                           "read_device_id": {"code": 2, "code_name": "regular", "object_id": 0}},
               "response": {"function_code": 43, "function": "encapsulated_interface_transport", "access": "identification",
                            "mei": {"type": 14, "name": "read_device_identification"},
                            "device_identification": {"code": 2, "code_name": "regular", "conformity_level": 130,
                                "more_follows": false, "next_object_id": 0, "object_count": 8,
                                "objects": {"vendor_name": "Vendor", "product_code": "OTW-PLC-1",
                                            "major_minor_revision": "1.2.3", "vendor_url": "http://vendor.example",
                                            "product_name": "Product", "model_name": "Model",
                                            "user_application_name": "App", "0x80": "private"}}}})
    }

    fn names_of(tx: &Value) -> Vec<(String, String)> {
        let eve = json!({"modbus": tx});
        let mut names = Names::default();
        transaction(&eve)
            .into_iter()
            .map(|(k, v)| (names.name(&k), v))
            .collect()
    }

    #[test]
    fn device_identification_fields_get_unique_short_names() {
        let got = names_of(&device_identification());
        let find = |n: &str| {
            got.iter()
                .find(|(k, _)| k == n)
                .map(|(_, v)| v.as_str())
                .unwrap_or_else(|| panic!("no {n} in {got:?}"))
        };
        assert_eq!(find("modbus.devid.vendor_name"), "Vendor");
        assert_eq!(find("modbus.devid.product_code"), "OTW-PLC-1");
        assert_eq!(find("modbus.devid.revision"), "1.2.3");
        assert_eq!(find("modbus.devid.vendor_url"), "http://vendor.example");
        assert_eq!(find("modbus.devid.product_name"), "Product");
        assert_eq!(find("modbus.devid.model_name"), "Model");
        assert_eq!(find("modbus.devid.user_app_name"), "App");
        assert_eq!(find("modbus.devid.0x80"), "private");
        assert_eq!(find("modbus.devid.conformity_level"), "130");
        assert_eq!(find("modbus.devid.next_object_id"), "0");
        assert_eq!(find("modbus.devid.code_name"), "regular");
        assert_eq!(find("modbus.devid.request_code_name"), "regular");
        assert_eq!(find("modbus.devid.request_object_id"), "0");
        // Short paths keep their names.
        assert_eq!(
            find("modbus.response.mei.name"),
            "read_device_identification"
        );
        assert_eq!(find("modbus.request.function_code"), "43");
        let mut names: Vec<&str> = got.iter().map(|(k, _)| k.as_str()).collect();
        assert!(names.iter().all(|n| n.len() <= 32), "{names:?}");
        let n = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), n, "a name is used twice");
        assert_eq!(n, 29, "every leaf: 2 + 8 request + 19 response");
    }

    #[test]
    fn other_long_paths_are_shortened_or_hashed_and_never_collide() {
        // Paths the sensor writes (S7 SZL records, read items, DNP3 file
        // objects: over 32 characters), a field that spells a shortened
        // name itself, a key with characters an SD-NAME cannot hold, and
        // paths that differ only far from their end.
        let eve = json!({
            "s7comm": {
                "request": {"items": [{"transport_size_name": "byte"}],
                            "a very \"long\" = ]key that keeps going and going": 1},
                "response": {"userdata": {"szl": {"records": [{"order_number": "6ES7 315-2EH14-0AB0"}]}}},
                "req": {"items": [{"tsize_name": "spoof"}]},
                "x".repeat(40): {"y": 1},
                "z".repeat(40): {"y": 2}
            },
            "dnp3": {"request": {"objects": [{"points": [{"file": {"permissions": 420}}]}]}}
        });
        let mut names = Names::default();
        let got: Vec<(String, String, String)> = transaction(&eve)
            .into_iter()
            .map(|(k, v)| {
                let n = names.name(&k);
                (k, n, v)
            })
            .collect();
        for (path, name, _) in &got {
            assert!(name.len() <= 32, "{path} → {name}");
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_graphic() && !matches!(c, '=' | ']' | '"')),
                "{path} → {name}"
            );
        }
        let mut all: Vec<&str> = got.iter().map(|(_, n, _)| n.as_str()).collect();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), got.len(), "{got:?}");
        let name = |p: &str| {
            got.iter()
                .find(|(k, _, _)| k == p)
                .map(|(_, n, _)| n.clone())
                .unwrap_or_else(|| panic!("no {p} in {got:?}"))
        };
        assert_eq!(
            name("s7comm.response.userdata.szl.records.0.order_number"),
            "s7comm.rsp.ud.szl.rec.0.order_no"
        );
        // The short field came first (transaction order), so the long path
        // whose shortened name it spells is hashed.
        assert_eq!(
            name("s7comm.req.items.0.tsize_name"),
            "s7comm.req.items.0.tsize_name"
        );
        let t = name("s7comm.request.items.0.transport_size_name");
        assert!(
            t.starts_with("s7comm~") && t.ends_with(".items.0.tsize_name"),
            "{t}"
        );
        let f = name("dnp3.request.objects.0.points.0.file.permissions");
        assert!(
            f.starts_with("dnp3~") && f.ends_with(".0.file.permissions"),
            "{f}"
        );
        let hostile = name("s7comm.request.a very \"long\" = ]key that keeps going and going");
        assert!(
            hostile.starts_with("s7comm~") && hostile.ends_with("_going_and_going"),
            "{hostile}"
        );
        let (x, z) = (
            name(&format!("s7comm.{}.y", "x".repeat(40))),
            name(&format!("s7comm.{}.y", "z".repeat(40))),
        );
        assert!(x.ends_with(".y") && z.ends_with(".y") && x != z, "{x} {z}");
        // Deterministic: the same message gets the same names.
        let mut again = Names::default();
        let second: Vec<String> = transaction(&eve)
            .into_iter()
            .map(|(k, _)| again.name(&k))
            .collect();
        assert_eq!(
            second,
            got.iter().map(|(_, n, _)| n.clone()).collect::<Vec<_>>()
        );
    }

    #[test]
    fn a_name_taken_by_a_short_field_sends_the_long_one_to_a_hash() {
        // A sensor line that has both `modbus.devid.vendor_name` (short,
        // its own name) and the long device identification path.
        let tx = json!({"devid": {"vendor_name": "spoof"},
                        "response": {"device_identification": {"objects": {"vendor_name": "real"}}}});
        let got = names_of(&tx);
        assert_eq!(
            got[0],
            ("modbus.devid.vendor_name".to_owned(), "spoof".to_owned())
        );
        assert!(
            got[1].0.starts_with("modbus~") && got[1].0.ends_with(".vendor_name"),
            "{got:?}"
        );
        assert_eq!(got[1].1, "real");
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
            m.contains(" cs5Label=group_id cs5=000000000000000f "),
            "{m}"
        );
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

    #[test]
    fn the_community_id_goes_to_syslog_and_cef_when_the_line_has_one() {
        let mut e = eve();
        e["community_id"] = json!("1:mQTCVKnySc5eWEVCYlJwZuThcuY=");
        let m = String::from_utf8(rfc5424(0x10, &record(b"{}"), &e, 16, "otwatch", 8192))
            .expect("utf8");
        assert!(
            m.contains(" flow_id=\"7\" community_id=\"1:mQTCVKnySc5eWEVCYlJwZuThcuY=\" "),
            "{m}"
        );
        let m =
            String::from_utf8(cef(0x10, &record(b"{}"), &e, 16, "otwatch", 8192)).expect("utf8");
        // CEF escapes the base64 padding.
        assert!(
            m.contains(" cs6Label=community_id cs6=1:mQTCVKnySc5eWEVCYlJwZuThcuY\\= "),
            "{m}"
        );
        let without = String::from_utf8(cef(0x10, &record(b"{}"), &eve(), 16, "otwatch", 8192))
            .expect("utf8");
        assert!(!without.contains("cs6"), "{without}");
    }

    #[test]
    fn the_eve_line_gets_its_group_id_as_the_last_key() {
        let line = |json: &'static [u8], group: u64| {
            let r = RecordView {
                group,
                ..record(json)
            };
            String::from_utf8(eve_line(&r)).expect("utf8")
        };
        assert_eq!(
            line(b"{\"a\":1}", 0x1f),
            "{\"a\":1,\"group_id\":\"000000000000001f\"}"
        );
        assert_eq!(line(b"{\"a\":1}", 0), "{\"a\":1}");
        assert_eq!(line(b"{ }", 1), "{ \"group_id\":\"0000000000000001\"}");
        // A line that names a group itself gets the analyzer's instead.
        let v: Value =
            serde_json::from_str(&line(b"{\"group_id\":\"x\",\"a\":1}", 2)).expect("json");
        assert_eq!(v, json!({"group_id": "0000000000000002", "a": 1}));
    }

    #[test]
    fn the_transaction_is_every_registered_protocol_object() {
        let objects: Vec<&str> = crate::protocols::transaction_objects().collect();
        for object in &objects {
            // With a key of no registered protocol beside it, left out.
            let eve = json!({ *object: {"function": "write"}, "http": {"url": "/"} });
            assert_eq!(
                transaction(&eve),
                [(format!("{object}.function"), "write".to_string())],
                "{object}"
            );
        }
        assert!(objects.contains(&"modbus") && objects.contains(&"s7commplus"));
    }
}
