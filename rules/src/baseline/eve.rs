//! The `baseline` object of a deviation alert in EVE, and reading it back:
//! the review workflow accepts a deviation from its alert line.
//!
//! ```json
//! "baseline": {"deviation": "first_write",
//!   "observed": "write write_single_register (6) unit 1 at 7",
//!   "learned": "read read_holding_registers (3) unit 1 at 0-9 only",
//!   "server": "10.0.0.10", "protocol": "modbus", "port": 502,
//!   "client": "10.0.0.5", "station": 1,
//!   "operation": {"class": "write", "function": 6, "name": "write_single_register",
//!                 "unit": 1, "range": [7, 7]}}
//! ```
//!
//! Text qualifiers (an S7 PI service) are bytes from the packet: each byte
//! is written as the character of the same number, so that reading the
//! line back gives the same bytes.

use std::net::IpAddr;

use otwatch_proto::event::Timestamp;
use otwatch_proto::json::JsonWriter;
use otwatch_proto::registry::ProtocolId;
use serde_json::Value;

use super::{Accepted, Deviation, OpClass, OpEntry, OwnedValue, Qual, Ranges, Seen, ServerKey};

fn latin1(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

impl Deviation {
    /// Writes the body of the EVE `baseline` object.
    pub fn write_eve(&self, w: &mut JsonWriter<'_>) {
        let a = &self.accept;
        w.field_str("deviation", self.kind.name());
        w.field_str("observed", &self.observed);
        w.field_str("learned", &self.learned);
        w.key("server").ip(a.server.ip);
        w.field_str("protocol", a.server.protocol.name());
        w.field_u64("port", u64::from(a.server.port));
        w.key("client").ip(a.client);
        if let Some(s) = a.station {
            w.field_u64("station", u64::from(s));
        }
        let Some(op) = &a.op else {
            return;
        };
        w.key("operation").begin_object();
        w.field_str("class", op.class.name());
        w.field_u64("function", u64::from(op.code));
        if let Some(name) = &op.name {
            w.field_str("name", name);
        }
        for (q, v) in &op.quals {
            match v {
                OwnedValue::Num(n) => w.field_u64(q.name(), u64::from(*n)),
                OwnedValue::Text(t) => w.field_str(q.name(), &latin1(t)),
            };
        }
        if let Some((lo, hi)) = op.ranges.as_slice().first() {
            w.key("range").begin_array();
            w.u64(u64::from(*lo)).u64(u64::from(*hi));
            w.end_array();
        }
        w.end_object();
    }
}

impl Accepted {
    /// What Accept adds for the deviation alert `line` (an EVE alert with
    /// a `baseline` object), seen at `ts`.
    pub fn from_eve(line: &Value, ts: Timestamp) -> Result<Accepted, String> {
        let b = line
            .get("baseline")
            .ok_or("the alert is not a baseline deviation (no `baseline` object)")?;
        let text = |v: &Value, k: &str| -> Result<String, String> {
            v.get(k)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| format!("`baseline.{k}` is missing or not text"))
        };
        let num = |v: &Value, k: &str| -> Result<Option<u32>, String> {
            match v.get(k) {
                None | Some(Value::Null) => Ok(None),
                Some(n) => n
                    .as_u64()
                    .and_then(|n| u32::try_from(n).ok())
                    .map(Some)
                    .ok_or_else(|| format!("`baseline.{k}` is not a number")),
            }
        };
        let ip = |k: &str| -> Result<IpAddr, String> {
            text(b, k)?
                .parse()
                .map_err(|_| format!("`baseline.{k}` is not an IP address"))
        };
        let protocol = text(b, "protocol")?;
        let protocol = ProtocolId::from_name(&protocol)
            .ok_or_else(|| format!("unknown protocol `{protocol}`"))?;
        let port = num(b, "port")?
            .and_then(|p| u16::try_from(p).ok())
            .ok_or("`baseline.port` is missing or not a port")?;
        let op = match b.get("operation") {
            None | Some(Value::Null) => None,
            Some(o) => {
                let class = text(o, "class")?;
                let class = OpClass::from_name(&class)
                    .ok_or_else(|| format!("unknown operation class `{class}`"))?;
                let code = num(o, "function")?.ok_or("`operation.function` is missing")?;
                let mut quals = Vec::new();
                for q in Qual::ALL {
                    if q.is_text() {
                        if let Some(t) = o.get(q.name()).and_then(Value::as_str) {
                            let bytes: Option<Vec<u8>> =
                                t.chars().map(|c| u8::try_from(u32::from(c)).ok()).collect();
                            let bytes =
                                bytes.ok_or("a text qualifier has a character above \\xff")?;
                            quals.push((q, OwnedValue::Text(bytes)));
                        }
                    } else if let Some(n) = num(o, q.name())? {
                        quals.push((q, OwnedValue::Num(n)));
                    }
                }
                if quals.len() > super::op::MAX_QUALS {
                    return Err("the operation has too many qualifiers".into());
                }
                let mut ranges = Ranges::default();
                if let Some(r) = o.get("range").and_then(Value::as_array) {
                    let bound = |i: usize| {
                        r.get(i)
                            .and_then(Value::as_u64)
                            .and_then(|n| u32::try_from(n).ok())
                    };
                    match (bound(0), bound(1)) {
                        (Some(lo), Some(hi)) if lo <= hi => ranges.insert(lo, hi, usize::MAX),
                        _ => return Err("`operation.range` is not [first, last]".into()),
                    }
                }
                Some(OpEntry {
                    class,
                    code,
                    name: o.get("name").and_then(Value::as_str).map(str::to_owned),
                    quals,
                    ranges,
                    seen: Seen::new(ts),
                })
            }
        };
        Ok(Accepted {
            server: ServerKey {
                ip: ip("server")?,
                protocol,
                port,
            },
            client: ip("client")?,
            station: num(b, "station")?,
            ts,
            op,
        })
    }
}
