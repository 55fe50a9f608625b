//! The review of the learned baseline: what the embedder tells the analyzer
//! about its baseline ([`BaselineHook`], [`BaselineState`]), and the grouping
//! of the deviation alerts it shows for review.
//!
//! A deviation alert is an EVE alert of the `baseline` layer that carries a
//! `baseline` object (`deviation`, `observed`, `learned`, `server`,
//! `protocol`, `port`, `client`, `station`, `operation`; see
//! `otwatch_rules::baseline`). Deviations group by what Accept would add:
//! the kind, the pair, the protocol and port, the station and the operation
//! without its address range, so that writes of one function to several
//! registers are one group and one Accept.
//!
//! A group is reviewed when each of its alerts carries the note of a review
//! ([`ACCEPTED_NOTE`], [`KEPT_NOTE`]): the analyzer keeps no other record of
//! it, so a review survives a restart and shows in the alert list too.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Map, Value};

use crate::record::RecordView;
use crate::render::id_text;
use crate::time::format_eve;

/// The note set on the alerts of a group that was accepted into the
/// baseline (they are closed).
pub const ACCEPTED_NOTE: &str = "accepted into the baseline";

/// The note set on the alerts of a group a reviewer chose to keep alerting
/// on (they are acknowledged; new ones are new).
pub const KEPT_NOTE: &str = "reviewed: keep alerting";

/// The rule layer (`alert.metadata.protocol`) of deviation alerts, as the
/// store indexes it.
pub(crate) const LAYER: &str = otwatch_rules::baseline::LAYER;

/// Deviation alerts a listing or an Accept looks at, newest first.
pub(crate) const MAX_SCAN: usize = 10_000;

/// Stored alerts as `(id, stored bytes)`.
pub(crate) type Rows = Vec<(u64, Vec<u8>)>;

/// Reloads the baseline of the sensor side after Accept changed its file:
/// `Ok` with a line for the reviewer (`baseline reloaded: 4 servers`), or
/// `Err` with why it failed.
pub type Reload = Arc<dyn Fn() -> Result<String, String> + Send + Sync>;

/// The baseline file the analyzer may change, set by the embedder
/// (`otwatch run --baseline FILE`) with [`crate::Analyzer::set_baseline`].
#[derive(Clone)]
pub struct BaselineHook {
    /// The YAML file: downloaded, read for the summary, changed by Accept
    /// (atomically, with `otwatch_rules::baseline::file::save`).
    pub path: PathBuf,
    /// Called after each Accept has saved the file, on the blocking pool.
    pub reload: Reload,
}

impl BaselineHook {
    /// A hook on `path` whose Accept calls `reload`.
    pub fn new(
        path: impl Into<PathBuf>,
        reload: impl Fn() -> Result<String, String> + Send + Sync + 'static,
    ) -> BaselineHook {
        BaselineHook {
            path: path.into(),
            reload: Arc::new(reload),
        }
    }
}

impl std::fmt::Debug for BaselineHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BaselineHook")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// Where the sensor side is with its baseline, as the embedder sets it with
/// [`crate::Analyzer::set_baseline_state`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BaselineState {
    /// No baseline is learned or enforced.
    #[default]
    None,
    /// A baseline is being learned; the file is written at `until`.
    Learning {
        /// When learning ends.
        until: SystemTime,
    },
    /// The baseline file is enforced: deviations alert.
    Enforcing {
        /// Since when (the deviations to review are those since then).
        since: SystemTime,
    },
}

impl BaselineState {
    /// The API name: `none`, `learning` or `enforcing`.
    pub fn name(&self) -> &'static str {
        match self {
            BaselineState::None => "none",
            BaselineState::Learning { .. } => "learning",
            BaselineState::Enforcing { .. } => "enforcing",
        }
    }

    /// When enforcement started, in microseconds since the epoch.
    pub(crate) fn since_micros(&self) -> Option<u64> {
        match self {
            BaselineState::Enforcing { since } => Some(micros(*since)),
            _ => None,
        }
    }

    /// When learning ends, in microseconds since the epoch.
    pub(crate) fn until_micros(&self) -> Option<u64> {
        match self {
            BaselineState::Learning { until } => Some(micros(*until)),
            _ => None,
        }
    }
}

/// Microseconds since the epoch of `t` (0 before it).
fn micros(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// The hook and the state, replaced whole.
#[derive(Debug, Clone, Default)]
pub(crate) struct Review {
    pub(crate) hook: Option<BaselineHook>,
    pub(crate) state: BaselineState,
}

impl Review {
    /// Why Accept is not possible now, or `None` when it is.
    pub(crate) fn why_no_accept(&self) -> Option<&'static str> {
        match (&self.hook, self.state) {
            (None, _) => Some(
                "no baseline file is configured here (`otwatch run --baseline FILE`, or learn one with `otwatch learn` or `--learn`)",
            ),
            (Some(_), BaselineState::Learning { .. }) => {
                Some("the baseline is still being learned; Accept works once it is enforced")
            }
            (Some(_), _) => None,
        }
    }
}

/// The group key of a deviation's `baseline` object: `None` when it is not
/// an object with a `deviation`.
pub(crate) fn group_key(b: &Value) -> Option<String> {
    let obj = b.as_object()?;
    let deviation = obj.get("deviation")?.as_str()?;
    let field = |k: &str| obj.get(k).cloned().unwrap_or(Value::Null);
    let mut parts = vec![
        json!(deviation),
        field("client"),
        field("server"),
        field("protocol"),
        field("port"),
        field("station"),
    ];
    if let Some(op) = obj.get("operation").and_then(Value::as_object) {
        // Sorted, whatever order the map keeps: one order of the qualifiers.
        let mut quals: Vec<(&String, &Value)> = op
            .iter()
            .filter(|(k, _)| *k != "range" && *k != "name")
            .collect();
        quals.sort_by(|x, y| x.0.cmp(y.0));
        parts.extend(quals.into_iter().map(|(k, v)| json!([k, v])));
    }
    Some(Value::Array(parts).to_string())
}

/// The `baseline` object of a stored deviation alert with its group key.
pub(crate) fn deviation_of(eve: &Value) -> Option<(&Value, String)> {
    let b = eve.get("baseline")?;
    Some((b, group_key(b)?))
}

/// One group of deviations, built newest alert first.
#[derive(Debug)]
pub(crate) struct Group {
    pub(crate) key: String,
    /// The newest alert's `baseline` object.
    baseline: Value,
    signature: Value,
    severity: u8,
    pub(crate) ids: Vec<u64>,
    first: u64,
    last: u64,
    accepted: usize,
    kept: usize,
}

impl Group {
    fn new(key: String, baseline: &Value, eve: &Value, r: &RecordView<'_>) -> Group {
        Group {
            key,
            baseline: baseline.clone(),
            signature: eve["alert"]["signature"].clone(),
            severity: r.severity,
            ids: Vec::new(),
            first: r.ts,
            last: r.ts,
            accepted: 0,
            kept: 0,
        }
    }

    fn add(&mut self, id: u64, r: &RecordView<'_>) {
        self.ids.push(id);
        self.first = self.first.min(r.ts);
        self.last = self.last.max(r.ts);
        self.severity = self.severity.min(r.severity);
        if r.state_note == ACCEPTED_NOTE {
            self.accepted += 1;
        } else if r.state_note == KEPT_NOTE {
            self.kept += 1;
        }
    }

    /// `accepted` or `kept` when every alert of the group was so reviewed.
    fn review(&self) -> Option<&'static str> {
        let n = self.ids.len();
        if n > 0 && self.accepted == n {
            Some("accepted")
        } else if n > 0 && self.kept == n {
            Some("kept")
        } else {
            None
        }
    }

    /// The API form of the group.
    pub(crate) fn to_json(&self) -> Value {
        let b = &self.baseline;
        let mut op = b.get("operation").cloned().unwrap_or(Value::Null);
        if let Some(o) = op.as_object_mut() {
            o.remove("range");
        }
        let mut m = Map::new();
        m.insert("key".into(), json!(self.key));
        for k in [
            "deviation",
            "client",
            "server",
            "protocol",
            "port",
            "station",
            "observed",
            "learned",
        ] {
            m.insert(k.into(), b.get(k).cloned().unwrap_or(Value::Null));
        }
        m.insert("operation".into(), op);
        m.insert("signature".into(), self.signature.clone());
        m.insert("severity".into(), json!(self.severity));
        m.insert("count".into(), json!(self.ids.len()));
        m.insert("first".into(), json!(format_eve(self.first)));
        m.insert("last".into(), json!(format_eve(self.last)));
        m.insert(
            "example_id".into(),
            json!(self.ids.first().copied().map(id_text)),
        );
        m.insert("review".into(), json!(self.review()));
        Value::Object(m)
    }
}

/// Groups stored deviation alerts (`(id, stored bytes)`, newest first);
/// groups in order of their newest alert. Records that are not deviations
/// are skipped.
pub(crate) fn group(rows: &[(u64, Vec<u8>)]) -> Vec<Group> {
    let mut groups: Vec<Group> = Vec::new();
    let mut at: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for (id, bytes) in rows {
        let Some(r) = RecordView::decode(bytes) else {
            continue;
        };
        let Ok(eve) = serde_json::from_slice::<Value>(r.json) else {
            continue;
        };
        let Some((b, key)) = deviation_of(&eve) else {
            continue;
        };
        let i = match at.get(&key) {
            Some(i) => *i,
            None => {
                at.insert(key.clone(), groups.len());
                groups.push(Group::new(key, b, &eve, &r));
                groups.len() - 1
            }
        };
        groups[i].add(*id, &r);
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::State;

    fn deviation(kind: &str, client: &str, range: [u32; 2]) -> Value {
        json!({"timestamp": "2026-11-28T18:00:00.000001+0000", "alert": {"signature": "x"},
            "baseline": {"deviation": kind, "observed": "o", "learned": "l",
            "server": "10.0.0.10", "protocol": "modbus", "port": 502, "client": client, "station": 1,
            "operation": {"class": "write", "function": 6, "name": "write_single_register",
                          "unit": 1, "range": range}}})
    }

    fn stored(ts: u64, eve: &Value, note: &str) -> Vec<u8> {
        let json = eve.to_string();
        let r = RecordView {
            ts,
            received: ts,
            severity: 2,
            state: State::New,
            sid: 150009,
            state_at: 0,
            group: 0,
            protocol: LAYER,
            src_ip: "10.0.0.5",
            dest_ip: "10.0.0.10",
            sensor: "s1",
            alert_id: "s1-1",
            state_by: "",
            state_note: note,
            json: json.as_bytes(),
        };
        let mut out = Vec::new();
        r.encode(&mut out);
        out
    }

    #[test]
    fn the_range_and_name_do_not_split_a_group() {
        let a = deviation("first_write", "10.0.0.5", [7, 7]);
        let mut b = deviation("first_write", "10.0.0.5", [100, 109]);
        b["baseline"]["operation"]["name"] = json!("other");
        assert_eq!(group_key(&a["baseline"]), group_key(&b["baseline"]));
        let c = deviation("first_write", "10.0.0.6", [7, 7]);
        assert_ne!(group_key(&a["baseline"]), group_key(&c["baseline"]));
        let d = deviation("new_write", "10.0.0.5", [7, 7]);
        assert_ne!(group_key(&a["baseline"]), group_key(&d["baseline"]));
    }

    #[test]
    fn groups_count_and_review_their_alerts() {
        let a = deviation("first_write", "10.0.0.5", [7, 7]);
        let c = deviation("first_write", "10.0.0.6", [7, 7]);
        let rows = vec![
            (3, stored(30, &a, ACCEPTED_NOTE)),
            (2, stored(20, &c, KEPT_NOTE)),
            (1, stored(10, &a, ACCEPTED_NOTE)),
            (0, stored(5, &json!({"alert": {}}), "")),
        ];
        let g = group(&rows);
        assert_eq!(g.len(), 2);
        let first = g[0].to_json();
        assert_eq!(first["count"], json!(2));
        assert_eq!(first["example_id"], json!(id_text(3)));
        assert_eq!(first["review"], json!("accepted"));
        assert_eq!(first["operation"].get("range"), None);
        assert_eq!(first["first"], json!(format_eve(10)));
        assert_eq!(g[1].to_json()["review"], json!("kept"));
    }

    #[test]
    fn a_new_alert_after_a_review_reopens_the_group() {
        let a = deviation("first_write", "10.0.0.5", [7, 7]);
        let rows = vec![(2, stored(20, &a, "")), (1, stored(10, &a, KEPT_NOTE))];
        assert_eq!(group(&rows)[0].to_json()["review"], Value::Null);
    }
}
