//! Alert groups: the duplicates of one finding, triaged together.
//!
//! Alerts of one rule (`signature_id`) between one source and one
//! destination address, seen by one sensor, belong to one group while they
//! keep coming: an alert joins the key's current group when its event time
//! is within [`WINDOW`] (one hour) of the group's span (after its last alert,
//! or before its first for a late one). Past that, or once every member of
//! the group is closed, the next alert starts a new group, which becomes the
//! key's current one. A group is what an analyst triages:
//!
//! * its state follows its members: `new` while any member is new,
//!   `acknowledged` while none is new and one is acknowledged, `closed` when
//!   all are closed;
//! * acknowledging or closing a group sets every member (one transaction);
//! * an alert that joins an acknowledged group is stored acknowledged, with
//!   the group's last state change (by, note): the analyst on it sees the
//!   count grow without it coming back as new;
//! * a closed group takes no new member: a recurrence is a new group.
//!
//! Groups are written by the writer thread in the transaction that stores
//! their alerts (`GROUPS`, the key's current group in `GROUP_KEYS`, and
//! `GROUP_BY_LAST` for the newest-first list); their members are a posting
//! list of the store's index (prefix `g` + group id), so a group's members
//! page like any filtered query and retention drops them as it drops the
//! other index entries. Nothing is held in memory between transactions: the
//! writer caches the groups one transaction touches (at most one per alert
//! of it).
//!
//! A group's id is the id of its first alert. Its `count`, `states` and the
//! store's totals go down when retention deletes members; a group without
//! members is deleted. `first_seen` and `last_seen` are the event times of
//! the oldest and newest alert the group ever had.

use serde_json::{json, Value};

use crate::record::{RecordView, State};
use crate::render::{id_text, summary_of};
use crate::rules::severity_name;
use crate::store::Filter;
use crate::time::format_eve;

/// How far (µs of event time) an alert may be from a group's span to join it.
pub(crate) const WINDOW: u64 = 3_600_000_000;

/// A stored group (`GROUPS`, in the form of [`Group::encode`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Group {
    pub(crate) sensor: String,
    pub(crate) sid: u32,
    pub(crate) src_ip: String,
    pub(crate) dest_ip: String,
    /// Protocol and severity of the newest member.
    pub(crate) protocol: String,
    pub(crate) severity: u8,
    /// Event time of the oldest and the newest member (µs).
    pub(crate) first: u64,
    pub(crate) last: u64,
    /// Members stored.
    pub(crate) count: u64,
    /// The id of the newest member (by event time, then id).
    pub(crate) latest: u64,
    /// Members per state, by [`State::code`].
    pub(crate) states: [u64; 3],
    /// The last state change of the group or of one of its members.
    pub(crate) state_by: String,
    pub(crate) state_note: String,
    pub(crate) state_at: u64,
}

impl Group {
    /// A group of one alert.
    pub(crate) fn new(id: u64, r: &RecordView<'_>) -> Group {
        let mut states = [0; 3];
        states[usize::from(r.state.code())] = 1;
        Group {
            sensor: r.sensor.to_string(),
            sid: r.sid,
            src_ip: r.src_ip.to_string(),
            dest_ip: r.dest_ip.to_string(),
            protocol: r.protocol.to_string(),
            severity: r.severity,
            first: r.ts,
            last: r.ts,
            count: 1,
            latest: id,
            states,
            state_by: String::new(),
            state_note: String::new(),
            state_at: 0,
        }
    }

    /// The stored form (rewritten once per transaction that touches the
    /// group, so kept small and cheap):
    ///
    /// ```text
    /// u8 version (1) | u32 sid | u8 severity | u64 first | u64 last | u64 count
    /// | u64 latest | 3 × u64 states | u64 state_at
    /// | 6 × (u16 len, bytes): sensor, src_ip, dest_ip, protocol, state_by, state_note
    /// ```
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        out.clear();
        out.push(1);
        out.extend_from_slice(&self.sid.to_le_bytes());
        out.push(self.severity);
        for n in [self.first, self.last, self.count, self.latest]
            .into_iter()
            .chain(self.states)
            .chain([self.state_at])
        {
            out.extend_from_slice(&n.to_le_bytes());
        }
        for s in [
            &self.sensor,
            &self.src_ip,
            &self.dest_ip,
            &self.protocol,
            &self.state_by,
            &self.state_note,
        ] {
            let mut end = s.len().min(usize::from(u16::MAX));
            while !s.is_char_boundary(end) {
                end -= 1;
            }
            out.extend_from_slice(&(end as u16).to_le_bytes());
            out.extend_from_slice(&s.as_bytes()[..end]);
        }
    }

    /// Reads the stored form; `None` when it is not one.
    pub(crate) fn decode(b: &[u8]) -> Option<Group> {
        let (&1, rest) = b.split_first()? else {
            return None;
        };
        let (sid, rest) = rest.split_first_chunk::<4>()?;
        let (&severity, mut rest) = rest.split_first()?;
        let mut n = [0u64; 8];
        for v in &mut n {
            let (x, r) = rest.split_first_chunk::<8>()?;
            *v = u64::from_le_bytes(*x);
            rest = r;
        }
        let mut strs: [String; 6] = Default::default();
        for s in &mut strs {
            let (len, r) = rest.split_first_chunk::<2>()?;
            let (text, r) = r.split_at_checked(usize::from(u16::from_le_bytes(*len)))?;
            *s = std::str::from_utf8(text).ok()?.to_string();
            rest = r;
        }
        let [sensor, src_ip, dest_ip, protocol, state_by, state_note] = strs;
        let [first, last, count, latest, new, acknowledged, closed, state_at] = n;
        Some(Group {
            sensor,
            sid: u32::from_le_bytes(*sid),
            src_ip,
            dest_ip,
            protocol,
            severity,
            first,
            last,
            count,
            latest,
            states: [new, acknowledged, closed],
            state_by,
            state_note,
            state_at,
        })
    }

    /// Its key (see [`key_into`]).
    pub(crate) fn key_into(&self, out: &mut String) {
        key_into(out, &self.sensor, self.sid, &self.src_ip, &self.dest_ip);
    }

    /// The group's state, from its members'.
    pub(crate) fn state(&self) -> State {
        if self.states[0] > 0 {
            State::New
        } else if self.states[1] > 0 {
            State::Acknowledged
        } else {
            State::Closed
        }
    }

    /// Whether an alert of this group's key at event time `ts` joins it.
    pub(crate) fn accepts(&self, ts: u64) -> bool {
        self.state() != State::Closed
            && ts <= self.last.saturating_add(WINDOW)
            && ts.saturating_add(WINDOW) >= self.first
    }

    /// Counts alert `id` (event time `ts`, severity, protocol, state) in.
    pub(crate) fn add(&mut self, id: u64, r: &RecordView<'_>) {
        self.count += 1;
        self.states[usize::from(r.state.code())] += 1;
        self.first = self.first.min(r.ts);
        if (r.ts, id) >= (self.last, self.latest) {
            self.last = r.ts;
            self.latest = id;
            self.severity = r.severity;
            if self.protocol != r.protocol {
                self.protocol = r.protocol.to_string();
            }
        }
    }

    /// Counts a member out (deleted by retention).
    pub(crate) fn remove(&mut self, state: State) {
        self.count = self.count.saturating_sub(1);
        let n = &mut self.states[usize::from(state.code())];
        *n = n.saturating_sub(1);
    }

    /// A member went from state `old` to `new`, by `by` at `at`.
    pub(crate) fn changed(&mut self, old: State, new: State, by: &str, note: &str, at: u64) {
        let n = &mut self.states[usize::from(old.code())];
        *n = n.saturating_sub(1);
        self.states[usize::from(new.code())] += 1;
        if self.state_at <= at {
            self.state_by = by.to_string();
            self.state_note = note.to_string();
            self.state_at = at;
        }
    }

    /// Whether the group passes the filters of the alert list: its newest
    /// member's severity and protocol, its rule, addresses and sensor, its
    /// state, a span that meets `from`–`to`, and the text in its newest
    /// member (`latest`, when it is still stored).
    pub(crate) fn matches(&self, f: &Filter, latest: Option<&RecordView<'_>>) -> bool {
        let probe = RecordView {
            ts: self.last,
            received: 0,
            severity: self.severity,
            state: self.state(),
            sid: self.sid,
            state_at: self.state_at,
            group: f.group.unwrap_or(0),
            protocol: &self.protocol,
            src_ip: &self.src_ip,
            dest_ip: &self.dest_ip,
            sensor: &self.sensor,
            alert_id: "",
            state_by: &self.state_by,
            state_note: &self.state_note,
            json: latest.map_or(&[][..], |r| r.json),
        };
        let time = Filter {
            from: None,
            to: None,
            ..f.clone()
        };
        f.from.is_none_or(|from| self.last >= from)
            && f.to.is_none_or(|to| self.first <= to)
            && time.matches(&probe)
    }
}

/// The key of a group: sensor, rule, source and destination (`GROUP_KEYS`).
pub(crate) fn key_into(out: &mut String, sensor: &str, sid: u32, src_ip: &str, dest_ip: &str) {
    out.clear();
    out.push_str(sensor);
    out.push('\0');
    out.push_str(itoa::Buffer::new().format(sid));
    out.push('\0');
    out.push_str(src_ip);
    out.push('\0');
    out.push_str(dest_ip);
}

/// The API's view of a group; `latest` is its newest member's stored bytes.
pub(crate) fn group_json(id: u64, g: &Group, latest: Option<&[u8]>) -> Value {
    let latest = latest.and_then(|b| summary_of(g.latest, b));
    let opt = |s: &str| {
        if s.is_empty() {
            Value::Null
        } else {
            Value::String(s.to_string())
        }
    };
    let signature = latest
        .as_ref()
        .map_or(Value::Null, |l| l["signature"].clone());
    let category = latest
        .as_ref()
        .map_or(Value::Null, |l| l["category"].clone());
    json!({
        "id": id_text(id),
        "signature_id": g.sid,
        "signature": signature,
        "category": category,
        "severity": g.severity,
        "severity_name": severity_name(g.severity),
        "protocol": g.protocol,
        "src_ip": g.src_ip,
        "dest_ip": g.dest_ip,
        "sensor": g.sensor,
        "count": g.count,
        "first_seen": format_eve(g.first),
        "last_seen": format_eve(g.last),
        "state": g.state().name(),
        "states": {
            "new": g.states[0],
            "acknowledged": g.states[1],
            "closed": g.states[2],
        },
        "state_by": opt(&g.state_by),
        "state_at": if g.state_at == 0 { Value::Null } else { json!(format_eve(g.state_at)) },
        "state_note": opt(&g.state_note),
        "latest_id": id_text(g.latest),
        "latest": latest,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(ts: u64, state: State) -> RecordView<'static> {
        RecordView {
            ts,
            received: 0,
            severity: 2,
            state,
            sid: 110001,
            state_at: 0,
            group: 0,
            protocol: "modbus",
            src_ip: "10.0.0.1",
            dest_ip: "10.0.0.2",
            sensor: "s1",
            alert_id: "a",
            state_by: "",
            state_note: "",
            json: b"{}",
        }
    }

    #[test]
    fn the_stored_form_round_trips_and_refuses_truncation() {
        let mut g = Group::new(7, &alert(5, State::New));
        g.changed(State::New, State::Acknowledged, "ålice", "on it", 9);
        g.protocol = "é".repeat(40_000);
        let mut buf = Vec::new();
        g.encode(&mut buf);
        let back = Group::decode(&buf).expect("decodes");
        // A string longer than 65,535 bytes is cut on a character boundary.
        assert_eq!(back.protocol.len(), 65_534);
        assert_eq!(
            Group {
                protocol: g.protocol[..65_534].to_string(),
                ..g.clone()
            },
            back
        );
        g.protocol = "modbus".into();
        g.encode(&mut buf);
        assert_eq!(Group::decode(&buf), Some(g));
        for cut in 0..buf.len() {
            assert_eq!(Group::decode(&buf[..cut]), None, "cut at {cut}");
        }
    }

    #[test]
    fn the_window_reaches_an_hour_past_the_last_and_before_the_first_alert() {
        let mut g = Group::new(1, &alert(10 * WINDOW, State::New));
        assert!(g.accepts(11 * WINDOW));
        assert!(!g.accepts(11 * WINDOW + 1));
        assert!(g.accepts(9 * WINDOW));
        assert!(!g.accepts(9 * WINDOW - 1));
        g.add(2, &alert(11 * WINDOW, State::New));
        assert!(g.accepts(12 * WINDOW));
        assert_eq!(
            (g.first, g.last, g.count, g.latest),
            (10 * WINDOW, 11 * WINDOW, 2, 2)
        );
        // A late alert counts but is not the latest.
        g.add(3, &alert(10 * WINDOW - 5, State::New));
        assert_eq!((g.first, g.latest, g.count), (10 * WINDOW - 5, 2, 3));
    }

    #[test]
    fn the_state_follows_the_members_and_a_closed_group_takes_no_more() {
        let mut g = Group::new(1, &alert(1, State::New));
        g.add(2, &alert(2, State::New));
        assert_eq!(g.state(), State::New);
        g.changed(State::New, State::Acknowledged, "ann", "on it", 5);
        assert_eq!(g.state(), State::New);
        g.changed(State::New, State::Acknowledged, "ann", "on it", 6);
        assert_eq!(g.state(), State::Acknowledged);
        assert!(g.accepts(3));
        g.changed(State::Acknowledged, State::Closed, "bob", "", 7);
        assert_eq!(g.state(), State::Acknowledged);
        g.changed(State::Acknowledged, State::Closed, "bob", "done", 8);
        assert_eq!(g.state(), State::Closed);
        assert_eq!(
            (g.state_by.as_str(), g.state_note.as_str()),
            ("bob", "done")
        );
        assert!(!g.accepts(3));
        g.remove(State::Closed);
        assert_eq!((g.count, g.states), (1, [0, 0, 1]));
    }
}
