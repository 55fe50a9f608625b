//! The asset inventory: `asset` observations from sensors merged per IP, and
//! the "asset identity changed" alert raised when a device reports another
//! vendor, product, model, firmware, hardware or serial than before.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::time::format_eve;

/// Rule id of the alert raised when an asset's identity changes.
pub const IDENTITY_CHANGED_SID: u32 = 900_001;

/// The object of that alert holding the change (beside the protocols' ones).
pub(crate) const ASSET_CHANGE: &str = "asset_change";

/// Identity fields compared between observations.
const COMPARED: [&str; 9] = [
    "vendor",
    "product",
    "model",
    "firmware",
    "hardware",
    "serial",
    "order_number",
    "module_name",
    "plant_id",
];

const MAX_PEERS: usize = 256;
const MAX_LIST: usize = 32;
const MAX_HISTORY: usize = 20;

/// A peer an asset talked to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Peer {
    /// Peer address.
    pub ip: String,
    /// Protocol spoken.
    #[serde(default)]
    pub protocol: String,
    /// Server port.
    #[serde(default)]
    pub port: u16,
}

/// A protocol-level address of an asset: a Modbus unit id, a DNP3
/// outstation or master address, an IEC 104 common (controlled station) or
/// originator (controlling station) address.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Station {
    /// Protocol.
    pub protocol: String,
    /// `unit`, `outstation`, `master`, `controlled`, `controlling`.
    pub role: String,
    /// The address.
    pub address: u32,
}

/// One recorded identity change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdentityChange {
    /// When it was observed (EVE timestamp).
    pub at: String,
    /// Fields that differ.
    pub changed: Vec<String>,
    /// Identity before.
    pub old: Map<String, Value>,
    /// Identity reported now.
    pub new: Map<String, Value>,
}

/// An asset as the inventory holds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Asset {
    /// Address.
    pub ip: String,
    /// MAC addresses seen with it.
    pub macs: Vec<String>,
    /// VLAN ids.
    pub vlans: Vec<u16>,
    /// `client`, `server` or both.
    pub roles: Vec<String>,
    /// Protocols spoken.
    pub protocols: Vec<String>,
    /// Sensors that reported it.
    pub sensors: Vec<String>,
    /// First observation (EVE timestamp).
    pub first_seen: String,
    /// Last observation (EVE timestamp).
    pub last_seen: String,
    /// Peers (up to 256).
    pub peers: Vec<Peer>,
    /// Station addresses (up to 256), sorted.
    #[serde(default)]
    pub stations: Vec<Station>,
    /// Device identity (merged over observations).
    pub identity: Option<Map<String, Value>>,
    /// Identity changes seen so far (the last 20 are kept).
    pub identity_changes: u64,
    /// The most recent identity changes.
    pub identity_history: Vec<IdentityChange>,
}

fn add<T: PartialEq + Ord + Clone>(list: &mut Vec<T>, v: T, cap: usize) {
    if !list.contains(&v) && list.len() < cap {
        list.push(v);
        list.sort();
    }
}

fn strs(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect(),
        Some(Value::String(s)) => vec![s.clone()],
        _ => Vec::new(),
    }
}

fn nonempty(m: &Map<String, Value>, k: &str) -> Option<String> {
    match m.get(k) {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(v @ Value::Number(_)) => Some(v.to_string()),
        _ => None,
    }
}

/// The protocol an identity source belongs to.
fn source_protocol(source: Option<&str>) -> &'static str {
    source
        .and_then(otwatch_proto::registry::by_identity_source)
        .map_or("asset", otwatch_proto::ProtocolId::name)
}

/// Merges one observation (`asset` object of an `asset` line) into `known`.
/// Returns the merged asset and, when the identity changed, the change.
pub(crate) fn merge(
    known: Option<Asset>,
    obs: &Value,
    sensor: &str,
    ts: u64,
) -> (Asset, Option<IdentityChange>) {
    let ip = obs
        .get("ip")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let seen = format_eve(ts);
    let first = obs
        .get("first_seen")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| seen.clone());
    let last = obs
        .get("last_seen")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| seen.clone());
    let mut a = known.unwrap_or_else(|| Asset {
        ip: ip.clone(),
        macs: Vec::new(),
        vlans: Vec::new(),
        roles: Vec::new(),
        protocols: Vec::new(),
        sensors: Vec::new(),
        first_seen: first.clone(),
        last_seen: last.clone(),
        peers: Vec::new(),
        stations: Vec::new(),
        identity: None,
        identity_changes: 0,
        identity_history: Vec::new(),
    });
    // EVE timestamps of one format compare correctly as text.
    if crate::time::parse_rfc3339(&first) < crate::time::parse_rfc3339(&a.first_seen) {
        a.first_seen = first;
    }
    if crate::time::parse_rfc3339(&last) > crate::time::parse_rfc3339(&a.last_seen) {
        a.last_seen = last;
    }
    for m in strs(obs.get("mac")) {
        add(&mut a.macs, m, MAX_LIST);
    }
    if let Some(Value::Array(v)) = obs.get("vlan") {
        for id in v
            .iter()
            .filter_map(Value::as_u64)
            .filter_map(|x| u16::try_from(x).ok())
        {
            add(&mut a.vlans, id, MAX_LIST);
        }
    }
    for r in strs(obs.get("role")) {
        add(&mut a.roles, r, MAX_LIST);
    }
    for p in strs(obs.get("protocols")) {
        add(&mut a.protocols, p, MAX_LIST);
    }
    add(&mut a.sensors, sensor.to_string(), MAX_LIST);
    if let Some(Value::Array(peers)) = obs.get("peers") {
        for p in peers {
            let Some(pip) = p.get("ip").and_then(Value::as_str) else {
                continue;
            };
            let peer = Peer {
                ip: pip.to_string(),
                protocol: p
                    .get("protocol")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                port: p
                    .get("port")
                    .and_then(Value::as_u64)
                    .and_then(|x| u16::try_from(x).ok())
                    .unwrap_or(0),
            };
            if !a.peers.contains(&peer) && a.peers.len() < MAX_PEERS {
                a.peers.push(peer);
            }
        }
    }
    if let Some(Value::Array(stations)) = obs.get("stations") {
        for st in stations {
            let text = |k: &str| st.get(k).and_then(Value::as_str).map(str::to_string);
            let (Some(protocol), Some(role), Some(address)) = (
                text("protocol"),
                text("role"),
                st.get("address")
                    .and_then(Value::as_u64)
                    .and_then(|x| u32::try_from(x).ok()),
            ) else {
                continue;
            };
            add(
                &mut a.stations,
                Station {
                    protocol,
                    role,
                    address,
                },
                MAX_PEERS,
            );
        }
    }
    let mut change = None;
    if let Some(Value::Object(new)) = obs.get("identity") {
        match &mut a.identity {
            None => a.identity = Some(new.clone()),
            Some(old) => {
                let (os, ns) = (nonempty(old, "source"), nonempty(new, "source"));
                let comparable = os.is_none() || ns.is_none() || os == ns;
                let changed: Vec<String> = COMPARED
                    .iter()
                    .filter(|k| {
                        let (o, n) = (nonempty(old, k), nonempty(new, k));
                        comparable && o.is_some() && n.is_some() && o != n
                    })
                    .map(|k| k.to_string())
                    .collect();
                if !changed.is_empty() {
                    change = Some(IdentityChange {
                        at: seen.clone(),
                        changed,
                        old: old.clone(),
                        new: new.clone(),
                    });
                }
                for (k, v) in new {
                    if !matches!(v, Value::Null) && v.as_str() != Some("") {
                        old.insert(k.clone(), v.clone());
                    }
                }
            }
        }
    }
    if let Some(c) = &change {
        a.identity_changes += 1;
        a.identity_history.push(c.clone());
        if a.identity_history.len() > MAX_HISTORY {
            a.identity_history.remove(0);
        }
    }
    (a, change)
}

/// The EVE alert line for an identity change (stored and exported like a sensor's alert).
pub(crate) fn change_alert(asset: &Asset, change: &IdentityChange, sensor: &str, ts: u64) -> Value {
    let source = change
        .new
        .get("source")
        .or_else(|| change.old.get("source"))
        .and_then(Value::as_str);
    let protocol = source_protocol(source);
    let attack: Vec<&str> = if change.changed.iter().any(|c| c == "firmware") {
        vec!["T0839"]
    } else {
        vec![]
    };
    json!({
        "timestamp": format_eve(ts),
        "event_type": "alert",
        "src_ip": asset.ip,
        "src_port": 0,
        "dest_ip": asset.ip,
        "dest_port": 0,
        "app_proto": protocol,
        "alert": {
            "action": "allowed",
            "gid": 1,
            "signature_id": IDENTITY_CHANGED_SID,
            "rev": 1,
            "signature": "Asset identity changed",
            "category": "Asset change",
            "severity": 2,
            "metadata": {
                "attack_id": attack,
                "severity_name": ["high"],
                "protocol": [protocol],
            },
        },
        "asset_change": {
            "ip": asset.ip,
            "changed": change.changed,
            "old": change.old,
            "new": change.new,
        },
        "alert_id": format!("asset-identity:{}:{ts}", asset.ip),
        "sensor": sensor,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs(firmware: &str) -> Value {
        json!({"ip":"10.0.0.1","mac":"00:11:22:33:44:55","vlan":[10],"role":"server","protocols":["modbus"],
               "first_seen":"2026-11-28T18:00:00.000000+0000","last_seen":"2026-11-28T18:05:00.000000+0000",
               "peers":[{"ip":"10.0.0.2","protocol":"modbus","port":502}],
               "identity":{"vendor":"Acme","product":"PLC-1","firmware":firmware,"source":"modbus_device_id"}})
    }

    #[test]
    fn merges_observations_and_flags_firmware_changes() {
        let (a, c) = merge(None, &obs("1.0"), "s1", 1);
        assert!(c.is_none());
        let (a, c) = merge(Some(a), &obs("1.0"), "s2", 2);
        assert!(c.is_none());
        assert_eq!(a.sensors, ["s1", "s2"]);
        assert_eq!(a.peers.len(), 1);
        let (a, c) = merge(Some(a), &obs("2.0"), "s1", 3);
        let c = c.expect("changed");
        assert_eq!(c.changed, ["firmware"]);
        assert_eq!(c.old["firmware"], "1.0");
        assert_eq!(
            a.identity.as_ref().map(|i| i["firmware"].clone()),
            Some(json!("2.0"))
        );
        assert_eq!(a.identity_changes, 1);
        let line = change_alert(&a, &c, "s1", 3);
        assert_eq!(line["alert"]["signature_id"], 900001);
        assert_eq!(line["alert"]["metadata"]["attack_id"], json!(["T0839"]));
    }

    #[test]
    fn stations_are_joined_over_observations_and_bad_ones_skipped() {
        let mut first = obs("1.0");
        first["stations"] = json!([{"protocol":"iec104","role":"controlled","address":47}]);
        let (a, _) = merge(None, &first, "s1", 1);
        let mut second = obs("1.0");
        second["stations"] = json!([
            {"protocol":"iec104","role":"controlled","address":47},
            {"protocol":"iec104","role":"controlled","address":48},
            {"protocol":"iec104","role":"controlled","address":-1},
            {"protocol":"iec104","role":"controlled","address":4294967296_u64},
            {"protocol":"iec104","address":49},
            "47"
        ]);
        let (a, _) = merge(Some(a), &second, "s1", 2);
        let addresses: Vec<u32> = a.stations.iter().map(|s| s.address).collect();
        assert_eq!(addresses, [47, 48]);
        // Assets stored before stations were reported still load.
        let mut stored = serde_json::to_value(&a).expect("json");
        stored.as_object_mut().expect("object").remove("stations");
        let back: Asset = serde_json::from_value(stored).expect("old record");
        assert!(back.stations.is_empty());
    }

    #[test]
    fn identities_from_other_sources_are_not_compared() {
        let (a, _) = merge(None, &obs("1.0"), "s1", 1);
        let mut o = obs("9.9");
        o["identity"]["source"] = json!("s7_szl");
        let (_, c) = merge(Some(a), &o, "s1", 2);
        assert!(c.is_none());
    }
}
