//! The baseline file: YAML a person reads, reviews, diffs and edits.
//!
//! [`render`] writes servers in address order, clients in address order
//! and each pair's operations in review order (firmware, program, mode,
//! control and write first), one operation per line with its plain-words
//! description as a comment, so that a diff of two baselines shows what
//! changed line by line. [`parse`] reads it back with file:line:column
//! errors, refusing files over [`MAX_BASELINE_FILE_BYTES`] and contents
//! over the [`Limits`](super::Limits).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::Path;

use otwatch_proto::civil::{civil_from_days, days_from_civil};
use otwatch_proto::event::Timestamp;
use otwatch_proto::registry::ProtocolId;
use serde::Deserialize;
use serde_saphyr::Spanned;

use super::{
    Baseline, Client, Dropped, OpClass, OpEntry, OwnedValue, Qual, Ranges, Seen, Server, ServerKey,
};
use crate::compile::parse_yaml;
use crate::error::{ErrorKind, Errors, Pos};
use crate::load::{read_file, too_large_for};

/// Largest baseline file read, in bytes.
pub const MAX_BASELINE_FILE_BYTES: u64 = 64 << 20;

/// The format version this build reads and writes.
pub const VERSION: u32 = 1;

/// The last second [`parse_time`] reads: 9999-12-31T23:59:59Z.
const LAST_SECOND: i64 = 253_402_300_799;

/// Writes `t` as `2026-11-30T08:00:00Z` (UTC, whole seconds); a capture
/// time outside years 0-9999 (a corrupt clock) is written as the nearest
/// end of that span, so that the file always reads back.
pub fn format_time(t: Timestamp) -> String {
    let t = Timestamp::new(t.secs.clamp(-62_167_219_200, LAST_SECOND), 0);
    let days = t.secs.div_euclid(86_400);
    let s = t.secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

/// Reads `2026-11-30T08:00:00Z` (also with fractional seconds, and with
/// `+0000` or `+00:00` for `Z`).
pub fn parse_time(text: &str) -> Option<Timestamp> {
    let b = text.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let s = text.get(r)?;
        if !s.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        s.parse().ok()
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut rest = &text[19..];
    let mut nanos = 0u32;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 || digits > 9 {
            return None;
        }
        let mut n: u32 = frac[..digits].parse().ok()?;
        for _ in digits..9 {
            n *= 10;
        }
        nanos = n;
        rest = &frac[digits..];
    }
    if !matches!(rest, "Z" | "+0000" | "+00:00") {
        return None;
    }
    let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1..=12).contains(&mo)
        || d == 0
        || d > month_days[mo as usize - 1]
        || h > 23
        || mi > 59
        || s > 59
    {
        return None;
    }
    let days = days_from_civil(i64::from(y), mo, d);
    Some(Timestamp::new(
        days * 86_400 + i64::from(h * 3600 + mi * 60 + s),
        nanos,
    ))
}

/// A YAML double-quoted string of `bytes`: printable ASCII as is, the rest
/// as `\xNN` (read back byte for byte by [`parse`]).
fn quoted(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + 2);
    out.push('"');
    for &b in bytes {
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            0x20..=0x7e => out.push(b as char),
            _ => {
                let _ = write!(out, "\\x{b:02x}");
            }
        }
    }
    out.push('"');
    out
}

/// The baseline as YAML.
pub fn render(b: &Baseline) -> String {
    let mut out = String::new();
    let servers = b.servers.len();
    let ops = b.operations();
    out.push_str("# otwatch baseline: what the plant was seen doing while it was learned.\n");
    out.push_str("# Everything listed here is treated as normal; anything else raises a\n");
    out.push_str("# deviation alert (rules of the `baseline` layer). Review it before\n");
    out.push_str("# enforcing it: within each client, the operations that change the\n");
    out.push_str("# process (firmware, program, mode, control, write) come first.\n");
    out.push_str("# Edit freely and check with `otwatch rules check FILE`. Ranges are\n");
    out.push_str("# inclusive (\"100-109\"); a client or operation removed here alerts again.\n");
    let _ = writeln!(
        out,
        "# {servers} server(s), {} client/server pair(s), {ops} operation(s).",
        b.pairs
    );
    if !b.dropped.is_empty() {
        let d = &b.dropped;
        let _ = writeln!(
            out,
            "# NOT COMPLETE: the learning limits left out {} transaction(s) of new servers, {} of new clients, {} operation(s) and {} station(s).",
            d.servers, d.clients, d.operations, d.stations
        );
    }
    let _ = writeln!(out, "version: {VERSION}");
    out.push_str("learned:\n");
    if let Some(t) = b.learned.from {
        let _ = writeln!(out, "  from: \"{}\"", format_time(t));
    }
    if let Some(t) = b.learned.until {
        let _ = writeln!(out, "  until: \"{}\"", format_time(t));
    }
    out.push_str("  sources:");
    if b.learned.sources.is_empty() {
        out.push_str(" []\n");
    } else {
        out.push('\n');
        for s in &b.learned.sources {
            let _ = writeln!(out, "    - {}", quoted(s.as_bytes()));
        }
    }
    let d = &b.dropped;
    let _ = writeln!(
        out,
        "  dropped: {{servers: {}, clients: {}, operations: {}, stations: {}}}",
        d.servers, d.clients, d.operations, d.stations
    );
    out.push_str(
        "# The same deviation of the same pair alerts at most once per this many seconds.\n",
    );
    let _ = writeln!(out, "repeat_seconds: {}", b.repeat_secs);
    if b.servers.is_empty() {
        out.push_str("servers: []\n");
        return out;
    }
    out.push_str("servers:\n");
    for (key, server) in &b.servers {
        let _ = writeln!(out, "  - server: {}", key.ip);
        let _ = writeln!(out, "    protocol: {}", key.protocol.name());
        let _ = writeln!(out, "    port: {}", key.port);
        if !server.stations.is_empty() {
            let list: Vec<String> = server.stations.iter().map(u32::to_string).collect();
            let what = match key.protocol {
                ProtocolId::Dnp3 => "outstation addresses",
                ProtocolId::Modbus => "unit ids",
                _ => "stations",
            };
            let _ = writeln!(out, "    stations: [{}]  # {what}", list.join(", "));
        }
        write_seen(&mut out, "    ", &server.seen);
        out.push_str("    clients:\n");
        for (ip, client) in &server.clients {
            let _ = writeln!(out, "      - client: {ip}");
            write_seen(&mut out, "        ", &client.seen);
            let ops = client.ops_in_order();
            if ops.is_empty() {
                out.push_str("        operations: []\n");
                continue;
            }
            out.push_str("        operations:\n");
            for e in ops {
                write_op(&mut out, e);
            }
        }
    }
    out
}

fn write_seen(out: &mut String, indent: &str, seen: &Seen) {
    let _ = writeln!(
        out,
        "{indent}count: {}\n{indent}first: \"{}\"\n{indent}last: \"{}\"",
        seen.count,
        format_time(seen.first),
        format_time(seen.last)
    );
}

fn write_op(out: &mut String, e: &OpEntry) {
    let _ = write!(
        out,
        "          - {{class: {}, function: {}",
        e.class.name(),
        e.code
    );
    if let Some(name) = &e.name {
        let _ = write!(out, ", name: {}", quoted(name.as_bytes()));
    }
    for (q, v) in &e.quals {
        let _ = match v {
            OwnedValue::Num(n) => write!(out, ", {}: {n}", q.name()),
            OwnedValue::Text(t) => write!(out, ", {}: {}", q.name(), quoted(t)),
        };
    }
    if !e.ranges.is_empty() {
        let list: Vec<String> = e
            .ranges
            .as_slice()
            .iter()
            .map(|(lo, hi)| {
                if lo == hi {
                    format!("\"{lo}\"")
                } else {
                    format!("\"{lo}-{hi}\"")
                }
            })
            .collect();
        let _ = write!(out, ", ranges: [{}]", list.join(", "));
    }
    let _ = write!(
        out,
        ", count: {}, first: \"{}\", last: \"{}\"}}",
        e.seen.count,
        format_time(e.seen.first),
        format_time(e.seen.last)
    );
    let mut text = String::new();
    let _ = super::write_entry(&mut text, e);
    // The description is for people; a newline in it would end the comment.
    let text: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let _ = writeln!(out, "  # {text}");
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileDef {
    version: Spanned<u32>,
    learned: Option<LearnedDef>,
    repeat_seconds: Option<Spanned<u64>>,
    servers: Option<Vec<Spanned<ServerDef>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LearnedDef {
    from: Option<Spanned<String>>,
    until: Option<Spanned<String>>,
    sources: Option<Vec<String>>,
    dropped: Option<DroppedDef>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct DroppedDef {
    servers: Option<u64>,
    clients: Option<u64>,
    operations: Option<u64>,
    stations: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ServerDef {
    server: Spanned<String>,
    protocol: Spanned<String>,
    port: Spanned<u16>,
    stations: Option<Vec<u32>>,
    count: Option<u64>,
    first: Option<Spanned<String>>,
    last: Option<Spanned<String>>,
    clients: Option<Vec<Spanned<ClientDef>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClientDef {
    client: Spanned<String>,
    count: Option<u64>,
    first: Option<Spanned<String>>,
    last: Option<Spanned<String>>,
    operations: Option<Vec<Spanned<OpDef>>>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RangeDef {
    One(u32),
    Text(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OpDef {
    class: Spanned<String>,
    function: Spanned<u32>,
    name: Option<String>,
    unit: Option<u32>,
    area: Option<u32>,
    db: Option<u32>,
    szl: Option<u32>,
    group: Option<u32>,
    variation: Option<u32>,
    subfunction: Option<u32>,
    code: Option<u32>,
    block_type: Option<u32>,
    service: Option<Spanned<String>>,
    cip_class: Option<u32>,
    instance: Option<u32>,
    tag: Option<Spanned<String>>,
    ranges: Option<Vec<Spanned<RangeDef>>>,
    count: Option<u64>,
    first: Option<Spanned<String>>,
    last: Option<Spanned<String>>,
}

struct Cx<'a> {
    file: &'a str,
    errors: Errors,
}

impl Cx<'_> {
    fn err(&mut self, loc: &serde_saphyr::Location, kind: ErrorKind, msg: impl Into<String>) {
        self.errors
            .push(self.file, Pos::from_location(loc, 0), kind, msg);
    }

    fn time(&mut self, t: &Option<Spanned<String>>, default: Timestamp) -> Timestamp {
        let Some(t) = t else {
            return default;
        };
        match parse_time(&t.value) {
            Some(ts) => ts,
            None => {
                self.err(
                    &t.referenced,
                    ErrorKind::BadValue,
                    format!("`{}` is not a time like 2026-11-30T08:00:00Z", t.value),
                );
                default
            }
        }
    }

    fn seen(
        &mut self,
        count: Option<u64>,
        first: &Option<Spanned<String>>,
        last: &Option<Spanned<String>>,
    ) -> Seen {
        let first = self.time(first, Timestamp::default());
        let last = self.time(last, first);
        Seen {
            count: count.unwrap_or(0),
            first,
            last: last.max(first),
        }
    }
}

/// Reads a baseline file's text; `name` is the file name errors carry.
pub fn parse(name: &str, text: &str) -> Result<Baseline, Errors> {
    let mut cx = Cx {
        file: name,
        errors: Errors::default(),
    };
    if text.len() as u64 > MAX_BASELINE_FILE_BYTES {
        cx.errors.push(
            name,
            Pos::default(),
            ErrorKind::Io,
            too_large_for(text.len() as u64, MAX_BASELINE_FILE_BYTES, "baseline file"),
        );
        return Err(cx.errors);
    }
    let Some(def) = parse_yaml::<FileDef>(name, text, &mut cx.errors) else {
        return Err(cx.errors);
    };
    if def.version.value != VERSION {
        cx.err(
            &def.version.referenced,
            ErrorKind::BadValue,
            format!(
                "baseline format version {} is not known (this build reads version {VERSION})",
                def.version.value
            ),
        );
    }
    let mut b = Baseline::default();
    if let Some(r) = &def.repeat_seconds {
        b.repeat_secs = r.value;
    }
    if let Some(l) = &def.learned {
        b.learned.from = l
            .from
            .as_ref()
            .map(|_| cx.time(&l.from, Timestamp::default()));
        b.learned.until = l
            .until
            .as_ref()
            .map(|_| cx.time(&l.until, Timestamp::default()));
        b.learned.sources = l.sources.clone().unwrap_or_default();
        let d = l.dropped.as_ref();
        b.dropped = Dropped {
            servers: d.and_then(|d| d.servers).unwrap_or(0),
            clients: d.and_then(|d| d.clients).unwrap_or(0),
            operations: d.and_then(|d| d.operations).unwrap_or(0),
            stations: d.and_then(|d| d.stations).unwrap_or(0),
        };
    }
    let limits = b.limits;
    for sdef in def.servers.unwrap_or_default() {
        if b.servers.len() >= limits.servers {
            cx.err(
                &sdef.referenced,
                ErrorKind::Invalid,
                format!(
                    "more than {} servers, the limit of a baseline",
                    limits.servers
                ),
            );
            break;
        }
        let s = &sdef.value;
        // A bad server still has its clients checked, so that one run of
        // `rules check` reports every error.
        let ip = match s.server.value.parse::<IpAddr>() {
            Ok(ip) => Some(ip),
            Err(_) => {
                cx.err(
                    &s.server.referenced,
                    ErrorKind::BadValue,
                    format!("`{}` is not an IP address", s.server.value),
                );
                None
            }
        };
        let protocol = ProtocolId::from_name(&s.protocol.value);
        if protocol.is_none() {
            let names: Vec<&str> = ProtocolId::ALL.iter().map(|p| p.name()).collect();
            cx.err(
                &s.protocol.referenced,
                ErrorKind::UnknownValue,
                format!(
                    "unknown protocol `{}`, expected one of {}",
                    s.protocol.value,
                    names.join(", ")
                ),
            );
        }
        let key = ip.zip(protocol).map(|(ip, protocol)| ServerKey {
            ip,
            protocol,
            port: s.port.value,
        });
        if let Some(key) = key.filter(|k| b.servers.contains_key(k)) {
            cx.err(
                &sdef.referenced,
                ErrorKind::Invalid,
                format!(
                    "server {} {} port {} is listed twice",
                    key.ip,
                    key.protocol.name(),
                    key.port
                ),
            );
            continue;
        }
        let stations = s.stations.clone().unwrap_or_default();
        if stations.len() > limits.stations {
            cx.err(
                &sdef.referenced,
                ErrorKind::Invalid,
                format!(
                    "more than {} stations, the limit of a server",
                    limits.stations
                ),
            );
        }
        let mut server = Server {
            seen: cx.seen(s.count, &s.first, &s.last),
            stations: stations.into_iter().take(limits.stations).collect(),
            clients: BTreeMap::new(),
        };
        for cdef in s.clients.iter().flatten() {
            if server.clients.len() >= limits.clients_per_server || b.pairs >= limits.pairs {
                cx.err(
                    &cdef.referenced,
                    ErrorKind::Invalid,
                    format!(
                        "more clients than the limits of a baseline ({} per server, {} pairs)",
                        limits.clients_per_server, limits.pairs
                    ),
                );
                break;
            }
            let c = &cdef.value;
            let cip = c.client.value.parse::<IpAddr>().ok();
            if cip.is_none() {
                cx.err(
                    &c.client.referenced,
                    ErrorKind::BadValue,
                    format!("`{}` is not an IP address", c.client.value),
                );
            }
            if cip.is_some_and(|ip| server.clients.contains_key(&ip)) {
                cx.err(
                    &cdef.referenced,
                    ErrorKind::Invalid,
                    format!("client {} is listed twice for this server", c.client.value),
                );
                continue;
            }
            let mut client = Client::new(Timestamp::default());
            client.seen = cx.seen(c.count, &c.first, &c.last);
            for odef in c.operations.iter().flatten() {
                if client.ops.len() >= limits.operations_per_pair {
                    cx.err(
                        &odef.referenced,
                        ErrorKind::Invalid,
                        format!(
                            "more than {} operations, the limit of a client",
                            limits.operations_per_pair
                        ),
                    );
                    break;
                }
                let Some(entry) = op_entry(&mut cx, &odef.value, limits.ranges) else {
                    continue;
                };
                let key = entry.key();
                if client.ops.contains_key(&key) {
                    cx.err(
                        &odef.referenced,
                        ErrorKind::Invalid,
                        "this operation is listed twice for this client (merge their ranges)",
                    );
                    continue;
                }
                client.classes |= entry.class.bit();
                client.ops.insert(key, entry);
            }
            if let Some(ip) = cip {
                server.clients.insert(ip, client);
                b.pairs += 1;
            }
        }
        if let Some(key) = key {
            b.servers.insert(key, server);
        }
    }
    if cx.errors.is_empty() {
        Ok(b)
    } else {
        cx.errors.sort();
        Err(cx.errors)
    }
}

fn op_entry(cx: &mut Cx<'_>, o: &OpDef, max_ranges: usize) -> Option<OpEntry> {
    let Some(class) = OpClass::from_name(&o.class.value) else {
        let names: Vec<&str> = OpClass::ALL.iter().map(|c| c.name()).collect();
        cx.err(
            &o.class.referenced,
            ErrorKind::UnknownValue,
            format!(
                "unknown class `{}`, expected one of {}",
                o.class.value,
                names.join(", ")
            ),
        );
        return None;
    };
    let mut quals = Vec::new();
    let nums = [
        (Qual::Unit, o.unit),
        (Qual::Area, o.area),
        (Qual::Db, o.db),
        (Qual::Szl, o.szl),
        (Qual::Group, o.group),
        (Qual::Variation, o.variation),
        (Qual::Subfunction, o.subfunction),
        (Qual::Code, o.code),
        (Qual::BlockType, o.block_type),
    ];
    for (q, v) in nums {
        if let Some(v) = v {
            quals.push((q, OwnedValue::Num(v)));
        }
    }
    // In `Qual` order, as operations carry them.
    let rest = [
        (Qual::Service, None, o.service.as_ref()),
        (Qual::Class, o.cip_class, None),
        (Qual::Instance, o.instance, None),
        (Qual::Tag, None, o.tag.as_ref()),
    ];
    for (q, num, text) in rest {
        if let Some(v) = num {
            quals.push((q, OwnedValue::Num(v)));
        }
        let Some(s) = text else { continue };
        // Written by `quoted`: one character per byte.
        let mut bytes = Vec::with_capacity(s.value.len());
        for ch in s.value.chars() {
            match u8::try_from(u32::from(ch)) {
                Ok(b) => bytes.push(b),
                Err(_) => {
                    cx.err(
                        &s.referenced,
                        ErrorKind::BadValue,
                        format!(
                            "a {} is bytes: characters above \\xff cannot be in it",
                            q.name()
                        ),
                    );
                    return None;
                }
            }
        }
        quals.push((q, OwnedValue::Text(bytes)));
    }
    if quals.len() > super::op::MAX_QUALS {
        cx.err(
            &o.function.referenced,
            ErrorKind::Invalid,
            format!(
                "an operation has at most {} qualifiers (unit, area, db, …)",
                super::op::MAX_QUALS
            ),
        );
        return None;
    }
    let mut ranges = Ranges::default();
    for r in o.ranges.iter().flatten() {
        let parsed = match &r.value {
            RangeDef::One(n) => Some((*n, *n)),
            RangeDef::Text(t) => parse_range(t),
        };
        match parsed {
            Some((lo, hi)) if lo <= hi => ranges.insert(lo, hi, max_ranges),
            _ => cx.err(
                &r.referenced,
                ErrorKind::BadValue,
                "a range is a number or \"first-last\" with first <= last",
            ),
        }
    }
    Some(OpEntry {
        class,
        code: o.function.value,
        name: o.name.clone(),
        quals,
        ranges,
        seen: cx.seen(o.count, &o.first, &o.last),
    })
}

fn parse_range(text: &str) -> Option<(u32, u32)> {
    let text = text.trim();
    match text.split_once('-') {
        Some((lo, hi)) => Some((lo.trim().parse().ok()?, hi.trim().parse().ok()?)),
        None => text.parse().ok().map(|n| (n, n)),
    }
}

/// Reads a baseline file (at most [`MAX_BASELINE_FILE_BYTES`]).
pub fn load(path: &Path) -> Result<Baseline, Errors> {
    let (name, text) = read_file(path, MAX_BASELINE_FILE_BYTES, "baseline file")?;
    parse(&name, &text)
}

/// Writes the baseline to `path` atomically (a temporary file beside it,
/// written and synced, then a rename), so that a reader never sees half a
/// file; mode 0600.
pub fn save(b: &Baseline, path: &Path) -> std::io::Result<()> {
    crate::load::write_private(path, &render(b))
}
