//! Asset observations: which hosts speak which industrial protocols, in which
//! role, with whom, and who they say they are when the traffic reveals it
//! (Modbus read device identification, S7 SZL module and component
//! identification, DNP3 device attributes).
//!
//! [`Tracked`] wraps an [`Output`]: it updates the [`AssetTable`] from flow
//! events and flow ends, and forwards everything unchanged. The table is
//! bounded ([`AssetLimits`]); [`AssetTable::write_eve`] renders one `asset`
//! line per host for the analyzer's inventory.
//!
//! Live capture has one table per worker (no lock on the hot path) and one
//! [`SharedAssets`]: every report interval each worker moves what it
//! observed into it ([`SharedAssets::absorb`]), and the reporting thread
//! writes the hosts observed since its last report
//! ([`SharedAssets::take_changed`]).

use std::collections::{BTreeSet, HashMap};
use std::hash::BuildHasherDefault;
use std::io::Write;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use otwatch_proto::event::{Anomaly, AppEvent, Event, Timestamp};
use otwatch_proto::registry::{DeviceIdentity, Station, Stations};
use otwatch_proto::ProtocolId;

use crate::eve::{write_ip, write_ts, EveWriter, EventType};
use crate::flow::FlowHasher;
use crate::pipeline::{AppProto, FlowMeta, FlowRecord, Output, PacketMeta};
use otwatch_proto::wire::MacAddr;

/// Bounds of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AssetLimits {
    /// Hosts tracked; hosts beyond this are counted, not tracked.
    pub max_assets: usize,
    /// Peers remembered per host.
    pub max_peers: usize,
    /// Station addresses remembered per host.
    pub max_stations: usize,
}

impl Default for AssetLimits {
    fn default() -> Self {
        AssetLimits {
            max_assets: 65_536,
            max_peers: 64,
            max_stations: 64,
        }
    }
}

/// What the traffic says a device is. Strings are kept as received (bytes;
/// escaped when written).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Identity {
    /// Vendor name.
    pub vendor: Option<Vec<u8>>,
    /// Product name or code.
    pub product: Option<Vec<u8>>,
    /// Model.
    pub model: Option<Vec<u8>>,
    /// Firmware or software version.
    pub firmware: Option<Vec<u8>>,
    /// Hardware version.
    pub hardware: Option<Vec<u8>>,
    /// Serial number.
    pub serial: Option<Vec<u8>>,
    /// Order number (Siemens MLFB).
    pub order_number: Option<Vec<u8>>,
    /// Module name.
    pub module_name: Option<Vec<u8>>,
    /// Plant identification.
    pub plant_id: Option<Vec<u8>>,
    /// Where it came from: `modbus_device_id`, `s7_szl`, `dnp3_attributes`.
    pub source: Option<&'static str>,
}

impl Identity {
    fn fields(&self) -> [(&'static str, &Option<Vec<u8>>); 9] {
        [
            ("vendor", &self.vendor),
            ("product", &self.product),
            ("model", &self.model),
            ("firmware", &self.firmware),
            ("hardware", &self.hardware),
            ("serial", &self.serial),
            ("order_number", &self.order_number),
            ("module_name", &self.module_name),
            ("plant_id", &self.plant_id),
        ]
    }

    fn is_empty(&self) -> bool {
        self.fields().iter().all(|(_, v)| v.is_none())
    }

    /// Takes every field `other` knows.
    fn merge(&mut self, other: Identity) {
        let Identity {
            vendor,
            product,
            model,
            firmware,
            hardware,
            serial,
            order_number,
            module_name,
            plant_id,
            source,
        } = other;
        let pairs = [
            (&mut self.vendor, vendor),
            (&mut self.product, product),
            (&mut self.model, model),
            (&mut self.firmware, firmware),
            (&mut self.hardware, hardware),
            (&mut self.serial, serial),
            (&mut self.order_number, order_number),
            (&mut self.module_name, module_name),
            (&mut self.plant_id, plant_id),
        ];
        for (slot, value) in pairs {
            if value.is_some() {
                *slot = value;
            }
        }
        if source.is_some() {
            self.source = source;
        }
    }
}

/// A peer of a host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Peer {
    /// The peer's address.
    pub ip: IpAddr,
    /// Protocol spoken.
    pub protocol: ProtocolId,
    /// Server port of the conversation.
    pub port: u16,
}

/// One host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asset {
    /// Address.
    pub ip: IpAddr,
    /// MAC address last seen for it.
    pub mac: Option<MacAddr>,
    /// VLAN ids.
    pub vlan: [u16; 2],
    /// Number of VLAN tags.
    pub vlan_count: u8,
    /// Acts as a client (master) of some conversation.
    pub client: bool,
    /// Acts as a server (slave, PLC, outstation) of some conversation.
    pub server: bool,
    /// Industrial protocols spoken.
    pub protocols: BTreeSet<ProtocolId>,
    /// First activity.
    pub first_seen: Timestamp,
    /// Last activity.
    pub last_seen: Timestamp,
    /// Peers (bounded).
    pub peers: BTreeSet<Peer>,
    /// Its protocol-level addresses (bounded): the unit ids, outstation or
    /// common addresses it answers for, the master or originator addresses
    /// it sends from.
    pub stations: BTreeSet<(ProtocolId, Station)>,
    /// Identity, when revealed.
    pub identity: Identity,
    /// Time of the last event that revealed identity fields.
    pub identity_seen: Timestamp,
}

impl Asset {
    /// Takes the observations of `other` (the same host seen elsewhere):
    /// roles, protocols and peers are joined (peers up to `max_peers`),
    /// first/last seen widened, MAC and VLAN updated, and identity fields
    /// taken from both, the more recently revealed winning where both know
    /// a field (workers report in any order).
    pub fn merge(&mut self, other: Asset, limits: &AssetLimits) {
        let Asset {
            ip: _,
            mac,
            vlan,
            vlan_count,
            client,
            server,
            protocols,
            first_seen,
            last_seen,
            peers,
            stations,
            identity,
            identity_seen,
        } = other;
        if mac.is_some() {
            self.mac = mac;
        }
        if vlan_count > 0 || self.vlan_count == 0 {
            self.vlan = vlan;
            self.vlan_count = vlan_count;
        }
        self.client |= client;
        self.server |= server;
        self.protocols.extend(protocols);
        self.first_seen = self.first_seen.min(first_seen);
        self.last_seen = self.last_seen.max(last_seen);
        for peer in peers {
            if self.peers.len() >= limits.max_peers {
                break;
            }
            self.peers.insert(peer);
        }
        for station in stations {
            if self.stations.len() >= limits.max_stations {
                break;
            }
            self.stations.insert(station);
        }
        if identity_seen >= self.identity_seen {
            self.identity.merge(identity);
            self.identity_seen = identity_seen;
        } else {
            let newer = std::mem::replace(&mut self.identity, identity);
            self.identity.merge(newer);
        }
    }
}

/// The asset table.
#[derive(Debug, Default)]
pub struct AssetTable {
    limits: AssetLimits,
    assets: HashMap<IpAddr, Asset, BuildHasherDefault<FlowHasher>>,
    /// Hosts not tracked because the table was full.
    pub untracked: u64,
    /// The flow and stations of the last event seen, so that a flow's run
    /// of events to one station looks nothing up.
    last_stations: Option<(u64, Stations)>,
}

impl AssetTable {
    /// An empty table.
    pub fn new(limits: AssetLimits) -> AssetTable {
        AssetTable {
            limits,
            ..AssetTable::default()
        }
    }

    /// Tracked hosts.
    pub fn len(&self) -> usize {
        self.assets.len()
    }

    /// Whether nothing is tracked.
    pub fn is_empty(&self) -> bool {
        self.assets.is_empty()
    }

    /// One host.
    pub fn get(&self, ip: &IpAddr) -> Option<&Asset> {
        self.assets.get(ip)
    }

    /// Moves every host of `other` into this table, merging hosts known to
    /// both; `other` is left empty (its `untracked` count moves too).
    /// `on_host` is called with each host taken.
    pub fn absorb(&mut self, other: &mut AssetTable, on_host: &mut dyn FnMut(IpAddr)) {
        let limits = self.limits;
        self.untracked += std::mem::take(&mut other.untracked);
        other.last_stations = None;
        for (ip, asset) in other.assets.drain() {
            if let Some(known) = self.assets.get_mut(&ip) {
                known.merge(asset, &limits);
            } else if self.assets.len() < self.limits.max_assets {
                self.assets.insert(ip, asset);
            } else {
                self.untracked += 1;
                continue;
            }
            on_host(ip);
        }
    }

    fn entry(&mut self, ip: IpAddr, ts: Timestamp) -> Option<&mut Asset> {
        if !self.assets.contains_key(&ip) {
            if self.assets.len() >= self.limits.max_assets {
                self.untracked += 1;
                return None;
            }
            self.assets.insert(
                ip,
                Asset {
                    ip,
                    mac: None,
                    vlan: [0; 2],
                    vlan_count: 0,
                    client: false,
                    server: false,
                    protocols: BTreeSet::new(),
                    first_seen: ts,
                    last_seen: ts,
                    peers: BTreeSet::new(),
                    stations: BTreeSet::new(),
                    identity: Identity::default(),
                    identity_seen: Timestamp::default(),
                },
            );
        }
        self.assets.get_mut(&ip)
    }

    /// Records a conversation of `app` between the flow's endpoints.
    pub fn observe_flow(
        &mut self,
        flow: &FlowMeta,
        app: AppProto,
        start: Timestamp,
        end: Timestamp,
    ) {
        let Some(app) = app else {
            return;
        };
        let max_peers = self.limits.max_peers;
        let sides = [
            (flow.client.ip, flow.client_mac, true, flow.server.ip),
            (flow.server.ip, flow.server_mac, false, flow.client.ip),
        ];
        for (ip, mac, is_client, peer) in sides {
            let Some(asset) = self.entry(ip, start) else {
                continue;
            };
            if mac.is_some() {
                asset.mac = mac;
            }
            asset.vlan = flow.vlan;
            asset.vlan_count = flow.vlan_count;
            if is_client {
                asset.client = true;
            } else {
                asset.server = true;
            }
            asset.protocols.insert(app);
            asset.first_seen = asset.first_seen.min(start);
            asset.last_seen = asset.last_seen.max(end);
            if asset.peers.len() < max_peers {
                asset.peers.insert(Peer {
                    ip: peer,
                    protocol: app,
                    port: flow.server.port,
                });
            }
        }
    }

    /// Takes what an event reveals about the server's identity and the
    /// station addresses of both ends.
    pub fn observe_event(&mut self, flow: &FlowMeta, app: AppProto, event: &Event<'_>) {
        self.observe_stations(flow, app, event);
        let identity = identity_of(&event.app);
        if identity.is_empty() {
            return;
        }
        self.observe_flow(flow, app, event.ts, event.ts);
        if let Some(asset) = self.entry(flow.server.ip, event.ts) {
            asset.identity.merge(identity);
            asset.identity_seen = asset.identity_seen.max(event.ts);
        }
    }

    fn observe_stations(&mut self, flow: &FlowMeta, app: AppProto, event: &Event<'_>) {
        let (Some(protocol), Some(tx)) = (app, event.app.protocol_event()) else {
            return;
        };
        let stations = tx.stations();
        if stations == Stations::default() || self.last_stations == Some((flow.id, stations)) {
            return;
        }
        self.last_stations = Some((flow.id, stations));
        let max = self.limits.max_stations;
        let sides = [
            (flow.server.ip, stations.server),
            (flow.client.ip, stations.client),
        ];
        if sides.iter().any(|(ip, s)| {
            s.is_some_and(|s| {
                self.assets
                    .get(ip)
                    .is_none_or(|a| !a.stations.contains(&(protocol, s)))
            })
        }) {
            // A host first seen through its station address gets its role,
            // protocol and peer too.
            self.observe_flow(flow, app, event.ts, event.ts);
        }
        for (ip, station) in sides {
            let Some(station) = station else {
                continue;
            };
            if let Some(asset) = self.assets.get_mut(&ip) {
                if asset.stations.len() < max {
                    asset.stations.insert((protocol, station));
                }
            }
        }
    }

    /// Writes one `asset` line per host, ordered by address.
    pub fn write_eve<W: Write>(&self, eve: &mut EveWriter<W>) {
        if !eve.wants(EventType::Asset) {
            return;
        }
        let mut ips: Vec<&IpAddr> = self.assets.keys().collect();
        ips.sort();
        for ip in ips {
            let Some(a) = self.assets.get(ip) else {
                continue;
            };
            eve.line(|w| {
                w.key("timestamp");
                write_ts(w, a.last_seen);
                w.field_str("event_type", "asset");
                w.key("asset").begin_object();
                write_ip(w, "ip", a.ip);
                if let Some(mac) = a.mac {
                    w.key("mac").display(mac);
                }
                if a.vlan_count > 0 {
                    w.key("vlan").begin_array();
                    for v in a.vlan.iter().take(usize::from(a.vlan_count)) {
                        w.u64(u64::from(*v));
                    }
                    w.end_array();
                }
                let role = match (a.client, a.server) {
                    (true, true) => "client_server",
                    (true, false) => "client",
                    _ => "server",
                };
                w.field_str("role", role);
                w.key("protocols").begin_array();
                for p in &a.protocols {
                    w.str(p.name());
                }
                w.end_array();
                w.key("first_seen");
                write_ts(w, a.first_seen);
                w.key("last_seen");
                write_ts(w, a.last_seen);
                w.key("peers").begin_array();
                for p in &a.peers {
                    w.begin_object();
                    write_ip(w, "ip", p.ip);
                    w.field_str("protocol", p.protocol.name());
                    w.field_u64("port", u64::from(p.port));
                    w.end_object();
                }
                w.end_array();
                if !a.stations.is_empty() {
                    w.key("stations").begin_array();
                    for (protocol, s) in &a.stations {
                        w.begin_object();
                        w.field_str("protocol", protocol.name());
                        w.field_str("role", s.role);
                        w.field_u64("address", u64::from(s.address));
                        w.end_object();
                    }
                    w.end_array();
                }
                if !a.identity.is_empty() {
                    w.key("identity").begin_object();
                    for (key, value) in a.identity.fields() {
                        if let Some(v) = value {
                            w.field_bytes_str(key, v);
                        }
                    }
                    if let Some(source) = a.identity.source {
                        w.field_str("source", source);
                    }
                    w.end_object();
                }
                w.end_object();
            });
        }
    }
}

fn owned(bytes: Option<&[u8]>) -> Option<Vec<u8>> {
    bytes.filter(|b| !b.is_empty()).map(<[u8]>::to_vec)
}

/// The identity an event reveals (empty for most events).
pub fn identity_of(event: &AppEvent<'_>) -> Identity {
    let Some(tx) = event.protocol_event() else {
        return Identity::default();
    };
    let DeviceIdentity {
        vendor,
        product,
        model,
        firmware,
        hardware,
        serial,
        order_number,
        module_name,
        plant_id,
        source,
    } = tx.identity();
    let found = Identity {
        vendor: owned(vendor),
        product: owned(product),
        model: owned(model),
        firmware: owned(firmware.as_ref().map(|f| f.as_bytes())),
        hardware: owned(hardware),
        serial: owned(serial.as_ref().map(|f| f.as_bytes())),
        order_number: owned(order_number.as_ref().map(|f| f.as_bytes())),
        module_name: owned(module_name),
        plant_id: owned(plant_id),
        source: None,
    };
    if found.is_empty() {
        return found;
    }
    Identity { source, ..found }
}

/// The asset table of a live capture, shared by its workers: a cloneable
/// handle.
#[derive(Debug, Clone, Default)]
pub struct SharedAssets {
    // Taken by each worker once per report interval (to move its own
    // table in) and by the reporting thread (to copy out what changed);
    // never per packet or per event.
    inner: Arc<Mutex<Shared>>,
}

#[derive(Debug, Default)]
struct Shared {
    table: AssetTable,
    changed: BTreeSet<IpAddr>,
}

impl SharedAssets {
    /// An empty table bounded by `limits`.
    pub fn new(limits: AssetLimits) -> SharedAssets {
        SharedAssets {
            inner: Arc::new(Mutex::new(Shared {
                table: AssetTable::new(limits),
                changed: BTreeSet::new(),
            })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Shared> {
        // Hosts are merged whole; a panicking worker cannot leave one
        // half-merged in a way later merges would trip over.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Moves a worker's observations in; `local` is left empty.
    pub fn absorb(&self, local: &mut AssetTable) {
        if local.is_empty() && local.untracked == 0 {
            return;
        }
        let mut shared = self.lock();
        let Shared { table, changed } = &mut *shared;
        table.absorb(local, &mut |ip| {
            changed.insert(ip);
        });
    }

    /// The hosts observed since the last call (all they are known for, not
    /// just the new observations), as a table of their own to write.
    pub fn take_changed(&self) -> AssetTable {
        let mut shared = self.lock();
        let Shared { table, changed } = &mut *shared;
        let mut out = AssetTable::new(table.limits);
        for ip in std::mem::take(changed) {
            if let Some(a) = table.assets.get(&ip) {
                out.assets.insert(ip, a.clone());
            }
        }
        out
    }

    /// Hosts known.
    pub fn len(&self) -> usize {
        self.lock().table.len()
    }

    /// Whether no host is known.
    pub fn is_empty(&self) -> bool {
        self.lock().table.is_empty()
    }

    /// Hosts not tracked because the table was full.
    pub fn untracked(&self) -> u64 {
        self.lock().table.untracked
    }
}

/// An [`Output`] wrapper that keeps the asset table up to date.
pub struct Tracked<O: Output> {
    /// The table.
    pub assets: AssetTable,
    /// The wrapped output.
    pub inner: O,
}

impl<O: Output> Tracked<O> {
    /// Wraps `inner`.
    pub fn new(inner: O, limits: AssetLimits) -> Tracked<O> {
        Tracked {
            assets: AssetTable::new(limits),
            inner,
        }
    }
}

impl<O: Output> Output for Tracked<O> {
    fn flow_event(&mut self, flow: &FlowMeta, app: AppProto, event: &Event<'_>) {
        if !matches!(event.app, AppEvent::Anomaly(_)) {
            self.assets.observe_event(flow, app, event);
        }
        self.inner.flow_event(flow, app, event);
    }

    fn packet_anomaly(
        &mut self,
        ts: Timestamp,
        packet: Option<&PacketMeta>,
        anomaly: &Anomaly<'_>,
    ) {
        self.inner.packet_anomaly(ts, packet, anomaly);
    }

    fn flow_end(&mut self, flow: &FlowRecord<'_>) {
        self.assets
            .observe_flow(flow.meta, flow.app, flow.meta.start, flow.end);
        self.inner.flow_end(flow);
    }

    fn input_position(&mut self, at: crate::capture::InputPosition) {
        self.inner.input_position(at);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::Endpoint;

    fn flow(client: &str, server: &str, port: u16, start: i64) -> FlowMeta {
        let ip = |s: &str| s.parse::<IpAddr>().expect("ip");
        FlowMeta {
            id: 1,
            client: Endpoint {
                ip: ip(client),
                port: 40_000,
            },
            server: Endpoint {
                ip: ip(server),
                port,
            },
            protocol: 6,
            vlan: [0; 2],
            vlan_count: 0,
            start: Timestamp::new(start, 0),
            client_mac: None,
            server_mac: Some(MacAddr([2, 0, 0, 0, 0, 10])),
            community_id: None,
        }
    }

    fn observe(table: &mut AssetTable, client: &str, app: AppProto, port: u16, t: (i64, i64)) {
        let f = flow(client, "10.0.0.10", port, t.0);
        table.observe_flow(&f, app, f.start, Timestamp::new(t.1, 0));
    }

    #[test]
    fn workers_tables_merge_into_one_host_each() {
        let shared = SharedAssets::new(AssetLimits::default());
        // Two workers saw the PLC, each with another client and protocol.
        let mut w0 = AssetTable::new(AssetLimits::default());
        let mut w1 = AssetTable::new(AssetLimits::default());
        observe(
            &mut w0,
            "10.0.0.20",
            Some(ProtocolId::Modbus),
            502,
            (100, 150),
        );
        observe(
            &mut w1,
            "10.0.0.30",
            Some(ProtocolId::S7comm),
            102,
            (90, 120),
        );
        shared.absorb(&mut w0);
        shared.absorb(&mut w1);
        assert!(w0.is_empty() && w1.is_empty(), "moved, not copied");

        let changed = shared.take_changed();
        assert_eq!(changed.len(), 3);
        let plc = changed
            .get(&"10.0.0.10".parse().expect("ip"))
            .expect("the PLC");
        assert!(plc.server && !plc.client);
        assert_eq!(
            plc.protocols.iter().copied().collect::<Vec<_>>(),
            [ProtocolId::Modbus, ProtocolId::S7comm]
        );
        assert_eq!(plc.peers.len(), 2);
        assert_eq!(plc.first_seen, Timestamp::new(90, 0), "earliest of both");
        assert_eq!(plc.last_seen, Timestamp::new(150, 0), "latest of both");
        assert_eq!(plc.mac, Some(MacAddr([2, 0, 0, 0, 0, 10])));

        // Nothing new: nothing to write.
        assert!(shared.take_changed().is_empty());
        // One host seen again: only the hosts of that observation, with
        // everything known about them.
        observe(
            &mut w1,
            "10.0.0.30",
            Some(ProtocolId::S7comm),
            102,
            (200, 210),
        );
        shared.absorb(&mut w1);
        let changed = shared.take_changed();
        let mut ips: Vec<String> = changed.assets.keys().map(|ip| ip.to_string()).collect();
        ips.sort();
        assert_eq!(ips, ["10.0.0.10", "10.0.0.30"]);
        let plc = changed
            .get(&"10.0.0.10".parse().expect("ip"))
            .expect("the PLC");
        assert_eq!(plc.peers.len(), 2, "still both peers");
        assert_eq!(plc.last_seen, Timestamp::new(210, 0));
    }

    fn plc_with(identity: Identity, seen: i64) -> Asset {
        Asset {
            ip: "10.0.0.10".parse().expect("ip"),
            mac: None,
            vlan: [0; 2],
            vlan_count: 0,
            client: false,
            server: true,
            protocols: BTreeSet::new(),
            first_seen: Timestamp::new(seen, 0),
            last_seen: Timestamp::new(seen, 0),
            peers: BTreeSet::new(),
            // The unit id of the time it was seen at.
            stations: BTreeSet::from([(
                ProtocolId::Modbus,
                Station {
                    role: "unit",
                    address: u32::try_from(seen).unwrap_or(0),
                },
            )]),
            identity,
            identity_seen: Timestamp::new(seen, 0),
        }
    }

    #[test]
    fn merged_stations_stay_within_their_bound() {
        let mut a = plc_with(Identity::default(), 1);
        a.merge(plc_with(Identity::default(), 2), &AssetLimits::default());
        assert_eq!(a.stations.len(), 2);
        let one = AssetLimits {
            max_stations: 2,
            ..AssetLimits::default()
        };
        a.merge(plc_with(Identity::default(), 3), &one);
        let units: Vec<u32> = a.stations.iter().map(|(_, s)| s.address).collect();
        assert_eq!(units, [1, 2]);
    }

    #[test]
    fn the_more_recent_identity_wins_whatever_the_merge_order() {
        let modbus = || Identity {
            vendor: Some(b"Acme".to_vec()),
            model: Some(b"M1".to_vec()),
            source: Some("modbus_device_id"),
            ..Identity::default()
        };
        let s7 = || Identity {
            vendor: Some(b"Siemens".to_vec()),
            serial: Some(b"S C-1".to_vec()),
            source: Some("s7_szl"),
            ..Identity::default()
        };
        // The S7 answer (t=200) came after the Modbus one (t=100); the
        // workers that saw them report in either order.
        for older_first in [true, false] {
            let (first, second) = if older_first {
                (plc_with(modbus(), 100), plc_with(s7(), 200))
            } else {
                (plc_with(s7(), 200), plc_with(modbus(), 100))
            };
            let mut merged = first;
            merged.merge(
                second,
                &AssetLimits {
                    max_peers: 8,
                    ..AssetLimits::default()
                },
            );
            let id = &merged.identity;
            assert_eq!(id.vendor.as_deref(), Some(&b"Siemens"[..]), "{older_first}");
            assert_eq!(id.source, Some("s7_szl"), "{older_first}");
            assert_eq!(id.serial.as_deref(), Some(&b"S C-1"[..]));
            assert_eq!(
                id.model.as_deref(),
                Some(&b"M1"[..]),
                "fields only one knows stay"
            );
            assert_eq!(merged.identity_seen, Timestamp::new(200, 0));
            assert_eq!(merged.first_seen, Timestamp::new(100, 0));
        }
    }

    #[test]
    fn shared_table_keeps_its_bounds() {
        let limits = AssetLimits {
            max_assets: 2,
            max_peers: 1,
            max_stations: 1,
        };
        let shared = SharedAssets::new(limits);
        let mut w = AssetTable::new(AssetLimits::default());
        observe(&mut w, "10.0.0.20", Some(ProtocolId::Modbus), 502, (1, 2));
        shared.absorb(&mut w);
        observe(&mut w, "10.0.0.30", Some(ProtocolId::Modbus), 502, (3, 4));
        shared.absorb(&mut w);
        assert_eq!(shared.len(), 2, "the PLC and the first client");
        assert_eq!(shared.untracked(), 1, "the second client");
        let all = shared.take_changed();
        let plc = all.get(&"10.0.0.10".parse().expect("ip")).expect("PLC");
        assert_eq!(plc.peers.len(), 1, "max_peers");
    }
}
