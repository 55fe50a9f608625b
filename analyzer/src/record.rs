//! The stored form of an alert: a small fixed header that filters read
//! without touching the JSON, the mutable triage state, then the EVE line.
//!
//! ```text
//! u8 version (2) | u64 ts | u64 received | u8 severity | u8 state | u32 sid | u64 state_at
//! | u64 group | 7 × (u16 len, bytes): protocol, src_ip, dest_ip, sensor, alert_id,
//! state_by, state_note | the EVE line (rest of the value)
//! ```
//!
//! `group` is the id of the alert's group (see [`crate::groups`]). Records
//! of version 1, written before groups existed, have no `group` field and
//! decode with group 0 (none) until `Store::regroup` rewrites them.

use serde::{Deserialize, Serialize};

/// Triage state of an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Not looked at yet.
    New,
    /// Someone is on it.
    Acknowledged,
    /// Done.
    Closed,
}

impl State {
    /// Every state.
    pub const ALL: [State; 3] = [State::New, State::Acknowledged, State::Closed];

    /// The stored code.
    pub fn code(self) -> u8 {
        match self {
            State::New => 0,
            State::Acknowledged => 1,
            State::Closed => 2,
        }
    }

    /// The state of a stored code.
    pub fn from_code(c: u8) -> State {
        match c {
            1 => State::Acknowledged,
            2 => State::Closed,
            _ => State::New,
        }
    }

    /// The name used in the API.
    pub fn name(self) -> &'static str {
        match self {
            State::New => "new",
            State::Acknowledged => "acknowledged",
            State::Closed => "closed",
        }
    }

    /// Parses an API name (`ack` is accepted for `acknowledged`).
    pub fn parse(s: &str) -> Option<State> {
        match s {
            "new" => Some(State::New),
            "acknowledged" | "ack" => Some(State::Acknowledged),
            "closed" => Some(State::Closed),
            _ => None,
        }
    }
}

const VERSION: u8 = 2;
/// The fixed header of a version 1 record (no group).
const FIXED_V1: usize = 1 + 8 + 8 + 1 + 1 + 4 + 8;
const FIXED: usize = FIXED_V1 + 8;

/// A decoded record borrowing the stored bytes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RecordView<'a> {
    pub(crate) ts: u64,
    pub(crate) received: u64,
    pub(crate) severity: u8,
    pub(crate) state: State,
    pub(crate) sid: u32,
    pub(crate) state_at: u64,
    /// The id of the alert's group (0: none, a record from before groups).
    pub(crate) group: u64,
    pub(crate) protocol: &'a str,
    pub(crate) src_ip: &'a str,
    pub(crate) dest_ip: &'a str,
    pub(crate) sensor: &'a str,
    pub(crate) alert_id: &'a str,
    pub(crate) state_by: &'a str,
    pub(crate) state_note: &'a str,
    pub(crate) json: &'a [u8],
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    let mut end = s.len().min(u16::MAX as usize);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    out.extend_from_slice(&(end as u16).to_le_bytes());
    out.extend_from_slice(&s.as_bytes()[..end]);
}

impl<'a> RecordView<'a> {
    /// Encodes into `out` (cleared first).
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        out.clear();
        out.push(VERSION);
        out.extend_from_slice(&self.ts.to_le_bytes());
        out.extend_from_slice(&self.received.to_le_bytes());
        out.push(self.severity);
        out.push(self.state.code());
        out.extend_from_slice(&self.sid.to_le_bytes());
        out.extend_from_slice(&self.state_at.to_le_bytes());
        out.extend_from_slice(&self.group.to_le_bytes());
        for s in [
            self.protocol,
            self.src_ip,
            self.dest_ip,
            self.sensor,
            self.alert_id,
            self.state_by,
            self.state_note,
        ] {
            put_str(out, s);
        }
        out.extend_from_slice(self.json);
    }

    /// Decodes stored bytes; `None` when they are not a record of this version.
    pub(crate) fn decode(b: &'a [u8]) -> Option<RecordView<'a>> {
        let fixed = match b.first() {
            Some(1) => FIXED_V1,
            Some(&VERSION) => FIXED,
            _ => return None,
        };
        if b.len() < fixed {
            return None;
        }
        let u64_at = |at: usize| -> Option<u64> {
            Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
        };
        let ts = u64_at(1)?;
        let received = u64_at(9)?;
        let severity = b[17];
        let state = State::from_code(b[18]);
        let sid = u32::from_le_bytes(b.get(19..23)?.try_into().ok()?);
        let state_at = u64_at(23)?;
        let group = if fixed == FIXED { u64_at(31)? } else { 0 };
        let mut at = fixed;
        let mut strs = [""; 7];
        for s in &mut strs {
            let len = usize::from(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?));
            *s = std::str::from_utf8(b.get(at + 2..at + 2 + len)?).ok()?;
            at += 2 + len;
        }
        let [protocol, src_ip, dest_ip, sensor, alert_id, state_by, state_note] = strs;
        Some(RecordView {
            ts,
            received,
            severity,
            state,
            sid,
            state_at,
            group,
            protocol,
            src_ip,
            dest_ip,
            sensor,
            alert_id,
            state_by,
            state_note,
            json: b.get(at..)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_truncation() {
        let r = RecordView {
            ts: 1,
            received: 2,
            severity: 3,
            state: State::Closed,
            sid: 110001,
            state_at: 4,
            group: 5,
            protocol: "modbus",
            src_ip: "10.0.0.1",
            dest_ip: "10.0.0.2",
            sensor: "s1",
            alert_id: "a-1",
            state_by: "ålice",
            state_note: "",
            json: b"{}",
        };
        let mut buf = Vec::new();
        r.encode(&mut buf);
        let d = RecordView::decode(&buf).expect("decodes");
        assert_eq!(
            (d.ts, d.received, d.severity, d.state, d.sid, d.state_at),
            (1, 2, 3, State::Closed, 110001, 4)
        );
        assert_eq!((d.group, d.state_by, d.json), (5, "ålice", &b"{}"[..]));
        for cut in 0..buf.len() - 2 {
            assert!(RecordView::decode(&buf[..cut]).is_none(), "cut at {cut}");
        }
    }

    #[test]
    fn reads_a_version_1_record_without_a_group() {
        // Version 1: the same header without the group.
        let mut v1 = vec![1u8];
        v1.extend_from_slice(&7u64.to_le_bytes());
        v1.extend_from_slice(&8u64.to_le_bytes());
        v1.extend_from_slice(&[2, 1]);
        v1.extend_from_slice(&110001u32.to_le_bytes());
        v1.extend_from_slice(&9u64.to_le_bytes());
        for s in ["modbus", "10.0.0.1", "10.0.0.2", "s1", "a-1", "bob", "n"] {
            v1.extend_from_slice(&(s.len() as u16).to_le_bytes());
            v1.extend_from_slice(s.as_bytes());
        }
        v1.extend_from_slice(b"{}");
        let d = RecordView::decode(&v1).expect("decodes");
        assert_eq!(
            (d.ts, d.state, d.sid, d.group),
            (7, State::Acknowledged, 110001, 0)
        );
        assert_eq!((d.alert_id, d.state_note, d.json), ("a-1", "n", &b"{}"[..]));
    }
}
