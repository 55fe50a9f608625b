//! The learned baseline: which servers (PLCs, outstations, RTUs) the plant
//! has, which clients talk to each, and what each client does there.
//!
//! A [`Baseline`] is learned from traffic ([`Baseline::learn`], for
//! `otwatch learn` and `--learn`), written as a YAML file a person reviews
//! ([`file`]), and enforced: [`Baseline::check`] says how a transaction
//! deviates from it, as a [`DeviationKind`]. The rule engine turns each
//! deviation into an anomaly of the `baseline` layer, so the bundled
//! deviation rules (`rules/default/baseline.yaml`) give them names,
//! severities and ATT&CK ids, and operators tune them like any rule.
//!
//! What a transaction *does* comes from its protocol's rules file
//! ([`crate::protocols::operations`]): one or more [`Op`]s, each a class
//! ([`OpClass`]), a function code, qualifiers ([`Qual`]: unit id, area, DB,
//! SZL id, object group…) and a range of addresses.
//!
//! Learning is bounded ([`Limits`]): a flood of random sources cannot grow
//! a baseline without end; what did not fit is counted in [`Dropped`] and
//! said in the file's header.

mod eve;
pub mod file;
pub mod op;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::net::IpAddr;

use otwatch_proto::event::{AppEvent, Timestamp};
use otwatch_proto::registry::ProtocolId;

pub use op::{Op, OpClass, OpKey, Qual, QualValue};

use crate::protocols;
use crate::view::FlowInfo;
use op::{Fnv, Printable};

/// The layer name of the deviations (`anomaly.type`, `protocol:` of their
/// rules).
pub const LAYER: &str = "baseline";

otwatch_proto::anomaly_enum! {
    /// How a transaction deviates from the baseline.
    pub enum DeviationKind in crate::baseline::LAYER {
        /// A server (address, protocol, port) the baseline does not have.
        NewServer => "new_server",
        /// A client the server never had.
        NewClient => "new_client",
        /// A known server address spoken to in a protocol (or on a port)
        /// it was not learned with.
        NewProtocol => "new_protocol",
        /// A Modbus unit id or DNP3 outstation address the server never
        /// answered for.
        UnknownStation => "unknown_station",
        /// A read, diagnostic or session operation the pair never did.
        NewOperation => "new_operation",
        /// An identification request (SZL, device id) the pair never made.
        NewIdentification => "new_identification",
        /// A learned read operation outside its learned ranges.
        ReadOutsideRange => "read_outside_range",
        /// A learned write operation outside its learned ranges.
        WriteOutsideRange => "write_outside_range",
        /// A write from a client that never wrote to the server.
        FirstWrite => "first_write",
        /// A write the pair never did, from a client that writes.
        NewWrite => "new_write",
        /// A control, program, mode or firmware operation from a client that
        /// never did one on the server.
        FirstControl => "first_control",
        /// A control, program, mode or firmware operation the pair never
        /// did, from a client that did others.
        NewControl => "new_control",
    }
}

/// How many of each thing a baseline holds at most.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Servers (address, protocol, port).
    pub servers: usize,
    /// Clients of one server.
    pub clients_per_server: usize,
    /// Client/server pairs in all.
    pub pairs: usize,
    /// Operations of one pair.
    pub operations_per_pair: usize,
    /// Ranges of one operation (beyond, the closest are merged).
    pub ranges: usize,
    /// Unit ids or outstation addresses of one server.
    pub stations: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            servers: 4096,
            clients_per_server: 256,
            pairs: 16_384,
            operations_per_pair: 1024,
            ranges: 64,
            stations: 256,
        }
    }
}

/// What learning left out because a [`Limits`] was reached.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Dropped {
    /// Transactions of servers that did not fit.
    pub servers: u64,
    /// Transactions of clients that did not fit.
    pub clients: u64,
    /// Operations that did not fit.
    pub operations: u64,
    /// Stations that did not fit.
    pub stations: u64,
}

impl Dropped {
    /// Whether nothing was left out.
    pub fn is_empty(&self) -> bool {
        *self == Dropped::default()
    }
}

/// How often and when something was seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seen {
    /// Transactions.
    pub count: u64,
    /// First time.
    pub first: Timestamp,
    /// Last time.
    pub last: Timestamp,
}

impl Seen {
    fn new(ts: Timestamp) -> Seen {
        Seen {
            count: 1,
            first: ts,
            last: ts,
        }
    }

    fn merge(&mut self, other: &Seen) {
        self.count = self.count.saturating_add(other.count);
        self.first = self.first.min(other.first);
        self.last = self.last.max(other.last);
    }
}

/// A server: its address, protocol and port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ServerKey {
    /// Address.
    pub ip: IpAddr,
    /// Protocol.
    pub protocol: ProtocolId,
    /// Server port.
    pub port: u16,
}

/// A qualifier's value, owned.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum OwnedValue {
    /// A number.
    Num(u32),
    /// Text (from a packet: shown escaped).
    Text(Vec<u8>),
}

impl OwnedValue {
    fn borrow(&self) -> QualValue<'_> {
        match self {
            OwnedValue::Num(n) => QualValue::Num(*n),
            OwnedValue::Text(t) => QualValue::Text(t),
        }
    }
}

/// Sorted, disjoint, non-adjacent inclusive ranges.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ranges(Vec<(u32, u32)>);

impl Ranges {
    /// The ranges, in order.
    pub fn as_slice(&self) -> &[(u32, u32)] {
        &self.0
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `lo..=hi` lies within one range.
    pub fn contains(&self, lo: u32, hi: u32) -> bool {
        let i = self.0.partition_point(|r| r.1 < lo);
        self.0.get(i).is_some_and(|r| r.0 <= lo && hi <= r.1)
    }

    /// Adds `lo..=hi`, merging what overlaps or touches; beyond `max`
    /// ranges, the two with the smallest gap between them are merged.
    pub fn insert(&mut self, lo: u32, hi: u32, max: usize) {
        let (lo, hi) = (lo.min(hi), lo.max(hi));
        let start = self.0.partition_point(|r| r.1.saturating_add(1) < lo);
        let mut end = start;
        let (mut nlo, mut nhi) = (lo, hi);
        while end < self.0.len() && self.0[end].0 <= hi.saturating_add(1) {
            nlo = nlo.min(self.0[end].0);
            nhi = nhi.max(self.0[end].1);
            end += 1;
        }
        self.0.splice(start..end, [(nlo, nhi)]);
        while self.0.len() > max.max(1) {
            let i = (0..self.0.len() - 1)
                .min_by_key(|&i| self.0[i + 1].0 - self.0[i].1)
                .unwrap_or(0);
            self.0[i].1 = self.0[i + 1].1;
            self.0.remove(i + 1);
        }
    }
}

impl std::fmt::Display for Ranges {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, (lo, hi)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write_range(f, *lo, *hi)?;
        }
        Ok(())
    }
}

fn write_range(f: &mut impl std::fmt::Write, lo: u32, hi: u32) -> std::fmt::Result {
    if lo == hi {
        write!(f, "{lo}")
    } else {
        write!(f, "{lo}-{hi}")
    }
}

/// One learned operation of a pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpEntry {
    /// What it does.
    pub class: OpClass,
    /// Function code.
    pub code: u32,
    /// Function name, when known.
    pub name: Option<String>,
    /// Qualifiers, in [`Qual`] order.
    pub quals: Vec<(Qual, OwnedValue)>,
    /// Ranges touched (empty when the operation has none).
    pub ranges: Ranges,
    /// How often, first and last time.
    pub seen: Seen,
}

impl OpEntry {
    fn from_op(op: &Op<'_>, ts: Timestamp, max_ranges: usize) -> OpEntry {
        let mut ranges = Ranges::default();
        if let Some((lo, hi)) = op.range {
            ranges.insert(lo, hi, max_ranges);
        }
        OpEntry {
            class: op.class,
            code: op.code,
            name: op.name.map(str::to_owned),
            quals: op
                .quals
                .iter()
                .flatten()
                .map(|(q, v)| {
                    let v = match v {
                        QualValue::Num(n) => OwnedValue::Num(*n),
                        QualValue::Text(t) => OwnedValue::Text(t.to_vec()),
                    };
                    (*q, v)
                })
                .collect(),
            ranges,
            seen: Seen::new(ts),
        }
    }

    /// The key it is looked up by (as [`Op::key`]).
    pub fn key(&self) -> OpKey {
        let mut op = Op::new(self.class, self.code, None);
        for (q, v) in &self.quals {
            op = match v.borrow() {
                QualValue::Num(n) => op.with(*q, n),
                QualValue::Text(t) => op.with_text(*q, t),
            };
        }
        op.key()
    }

    fn merge(&mut self, other: &OpEntry, limits: &Limits) {
        for (lo, hi) in other.ranges.as_slice() {
            self.ranges.insert(*lo, *hi, limits.ranges);
        }
        self.seen.merge(&other.seen);
    }

    /// Review order: class, then code, then qualifiers.
    fn order(&self) -> (OpClass, u32, &[(Qual, OwnedValue)]) {
        (self.class, self.code, &self.quals)
    }
}

/// One client of a server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    /// How often, first and last time.
    pub seen: Seen,
    /// What it did.
    pub ops: BTreeMap<OpKey, OpEntry>,
    classes: u16,
}

impl Client {
    fn new(ts: Timestamp) -> Client {
        Client {
            seen: Seen::new(ts),
            ops: BTreeMap::new(),
            classes: 0,
        }
    }

    /// Whether it did an operation of a class `pred` accepts.
    pub fn did(&self, pred: impl Fn(OpClass) -> bool) -> bool {
        OpClass::ALL
            .into_iter()
            .any(|c| self.classes & c.bit() != 0 && pred(c))
    }

    /// Its operations in review order (process-changing first).
    pub fn ops_in_order(&self) -> Vec<&OpEntry> {
        let mut ops: Vec<&OpEntry> = self.ops.values().collect();
        ops.sort_by(|a, b| a.order().cmp(&b.order()));
        ops
    }

    fn insert(&mut self, entry: OpEntry, limits: &Limits, dropped: &mut Dropped) {
        let key = entry.key();
        if let Some(e) = self.ops.get_mut(&key) {
            e.merge(&entry, limits);
            return;
        }
        if self.ops.len() >= limits.operations_per_pair {
            dropped.operations += entry.seen.count;
            return;
        }
        self.classes |= entry.class.bit();
        self.ops.insert(key, entry);
    }
}

/// One server and its clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    /// How often, first and last time.
    pub seen: Seen,
    /// Unit ids (Modbus) or outstation addresses (DNP3) it answered for.
    pub stations: BTreeSet<u32>,
    /// Its clients.
    pub clients: BTreeMap<IpAddr, Client>,
}

/// When and from what a baseline was learned.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Learned {
    /// First transaction.
    pub from: Option<Timestamp>,
    /// Last transaction.
    pub until: Option<Timestamp>,
    /// Captures or interfaces learned from.
    pub sources: Vec<String>,
}

/// How often the same deviation of the same pair is raised by default, in
/// seconds.
pub const DEFAULT_REPEAT_SECS: u64 = 3600;

/// A learned baseline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Baseline {
    /// When and from what.
    pub learned: Learned,
    /// How often the same deviation of a pair is raised, in seconds.
    pub repeat_secs: u64,
    /// Caps on learning.
    pub limits: Limits,
    /// What learning left out.
    pub dropped: Dropped,
    servers: BTreeMap<ServerKey, Server>,
    pairs: usize,
}

impl Default for Baseline {
    fn default() -> Baseline {
        Baseline::new(Limits::default())
    }
}

/// Where a transaction went, for learning or checking.
struct Seeing {
    key: ServerKey,
    client: IpAddr,
    station: Option<u32>,
}

impl Seeing {
    fn of(flow: &FlowInfo, app: &AppEvent<'_>) -> Option<Seeing> {
        let protocol = app.protocol()?;
        Some(Seeing {
            key: ServerKey {
                ip: flow.dest,
                protocol,
                port: flow.dest_port,
            },
            client: flow.src,
            station: protocols::station(app),
        })
    }
}

impl Baseline {
    /// An empty baseline with `limits`.
    pub fn new(limits: Limits) -> Baseline {
        Baseline {
            learned: Learned::default(),
            repeat_secs: DEFAULT_REPEAT_SECS,
            limits,
            dropped: Dropped::default(),
            servers: BTreeMap::new(),
            pairs: 0,
        }
    }

    /// The servers, in address order.
    pub fn servers(&self) -> impl Iterator<Item = (&ServerKey, &Server)> {
        self.servers.iter()
    }

    /// One server.
    pub fn server(&self, key: &ServerKey) -> Option<&Server> {
        self.servers.get(key)
    }

    /// Client/server pairs.
    pub fn pairs(&self) -> usize {
        self.pairs
    }

    /// Operations of every pair.
    pub fn operations(&self) -> usize {
        self.servers
            .values()
            .flat_map(|s| s.clients.values())
            .map(|c| c.ops.len())
            .sum()
    }

    /// Learns what the transaction `app` of `flow` shows (anomalies teach
    /// nothing). Only a new server, client or operation allocates.
    pub fn learn(&mut self, flow: &FlowInfo, ts: Timestamp, app: &AppEvent<'_>) {
        let Some(seeing) = Seeing::of(flow, app) else {
            return;
        };
        self.learned.from = Some(self.learned.from.map_or(ts, |t| t.min(ts)));
        self.learned.until = Some(self.learned.until.map_or(ts, |t| t.max(ts)));
        let limits = self.limits;
        let Some((client, dropped)) =
            self.pair_entry(seeing.key, seeing.client, seeing.station, ts)
        else {
            return;
        };
        protocols::operations(app, &mut |op| match client.ops.get_mut(&op.key()) {
            Some(e) => {
                if let Some((lo, hi)) = op.range {
                    if !e.ranges.contains(lo, hi) {
                        e.ranges.insert(lo, hi, limits.ranges);
                    }
                }
                e.seen.merge(&Seen::new(ts));
            }
            None => client.insert(OpEntry::from_op(&op, ts, limits.ranges), &limits, dropped),
        });
    }

    /// Adds what one transaction did (accepting).
    fn add(
        &mut self,
        key: ServerKey,
        client: IpAddr,
        station: Option<u32>,
        ts: Timestamp,
        ops: Vec<OpEntry>,
    ) {
        let limits = self.limits;
        let Some((entry, dropped)) = self.pair_entry(key, client, station, ts) else {
            return;
        };
        for op in ops {
            entry.insert(op, &limits, dropped);
        }
    }

    /// The client `client` of the server `key` (both made if new, within
    /// the limits), having seen one more transaction at `ts` to `station`;
    /// with the drop counters.
    fn pair_entry(
        &mut self,
        key: ServerKey,
        client: IpAddr,
        station: Option<u32>,
        ts: Timestamp,
    ) -> Option<(&mut Client, &mut Dropped)> {
        let limits = self.limits;
        let server = Self::server_entry(
            &mut self.servers,
            key,
            Seen::new(ts),
            &limits,
            &mut self.dropped,
        )?;
        if let Some(s) = station {
            add_station(server, s, &limits, &mut self.dropped);
        }
        let entry = Self::client_entry(
            server,
            client,
            Seen::new(ts),
            &limits,
            &mut self.pairs,
            &mut self.dropped,
        )?;
        Some((entry, &mut self.dropped))
    }

    /// The server of `key`, made with `seen` if new, else with `seen` added;
    /// `None` (counted) when the servers are at their limit.
    fn server_entry<'s>(
        servers: &'s mut BTreeMap<ServerKey, Server>,
        key: ServerKey,
        seen: Seen,
        limits: &Limits,
        dropped: &mut Dropped,
    ) -> Option<&'s mut Server> {
        if !servers.contains_key(&key) && servers.len() >= limits.servers {
            dropped.servers = dropped.servers.saturating_add(seen.count);
            return None;
        }
        let mut new = false;
        let server = servers.entry(key).or_insert_with(|| {
            new = true;
            Server {
                seen,
                stations: BTreeSet::new(),
                clients: BTreeMap::new(),
            }
        });
        if !new {
            server.seen.merge(&seen);
        }
        Some(server)
    }

    /// The client `ip` of `server`, as [`Baseline::server_entry`].
    fn client_entry<'s>(
        server: &'s mut Server,
        ip: IpAddr,
        seen: Seen,
        limits: &Limits,
        pairs: &mut usize,
        dropped: &mut Dropped,
    ) -> Option<&'s mut Client> {
        if !server.clients.contains_key(&ip) {
            if server.clients.len() >= limits.clients_per_server || *pairs >= limits.pairs {
                dropped.clients = dropped.clients.saturating_add(seen.count);
                return None;
            }
            *pairs += 1;
            let mut c = Client::new(seen.first);
            c.seen = seen;
            return Some(server.clients.entry(ip).or_insert(c));
        }
        let c = server.clients.get_mut(&ip)?;
        c.seen.merge(&seen);
        Some(c)
    }

    /// Adds everything `other` learned (the workers of one learning run).
    pub fn merge(&mut self, other: &Baseline) {
        let limits = self.limits;
        for (key, server) in &other.servers {
            let Some(mine) = Self::server_entry(
                &mut self.servers,
                *key,
                server.seen,
                &limits,
                &mut self.dropped,
            ) else {
                continue;
            };
            for s in &server.stations {
                add_station(mine, *s, &limits, &mut self.dropped);
            }
            for (ip, client) in &server.clients {
                let Some(c) = Self::client_entry(
                    mine,
                    *ip,
                    client.seen,
                    &limits,
                    &mut self.pairs,
                    &mut self.dropped,
                ) else {
                    continue;
                };
                for op in client.ops.values() {
                    c.insert(op.clone(), &limits, &mut self.dropped);
                }
            }
        }
        let d = &mut self.dropped;
        d.servers += other.dropped.servers;
        d.clients += other.dropped.clients;
        d.operations += other.dropped.operations;
        d.stations += other.dropped.stations;
        self.learned.from = min_opt(self.learned.from, other.learned.from);
        self.learned.until = max_opt(self.learned.until, other.learned.until);
        for s in &other.learned.sources {
            if !self.learned.sources.contains(s) {
                self.learned.sources.push(s.clone());
            }
        }
    }

    /// Adds one deviation's transaction to the baseline (the review
    /// workflow's Accept): the server, the client, the station and the
    /// operation, as if learned.
    pub fn accept(&mut self, accepted: &Accepted) {
        let ops = accepted.op.iter().cloned().collect();
        self.add(
            accepted.server,
            accepted.client,
            accepted.station,
            accepted.ts,
            ops,
        );
    }

    /// How the transaction `app` of `flow` deviates: `found` is called with
    /// each deviation and the operation it concerns (none for the pair-level
    /// deviations of a transaction with no operation). With a pair-level
    /// deviation (new server, client, protocol, station), only the
    /// transaction's writes and controls are reported besides it, as first
    /// writes and first controls.
    pub fn check(
        &self,
        flow: &FlowInfo,
        app: &AppEvent<'_>,
        found: &mut dyn FnMut(DeviationKind, Option<&Op<'_>>),
    ) {
        let Some(seeing) = Seeing::of(flow, app) else {
            return;
        };
        // A pair the baseline does not have: one pair-level deviation (with
        // the transaction's first operation), and each operation that
        // changes the process as a first write or control of its own, so
        // that a new host stopping a PLC is as loud as a known one doing it.
        let pair_level =
            |kind: DeviationKind, found: &mut dyn FnMut(DeviationKind, Option<&Op<'_>>)| {
                let mut first = None;
                protocols::operations(app, &mut |op| {
                    if first.is_none() {
                        first = Some(op);
                        found(kind, Some(&op));
                    }
                    if op.class.is_control() {
                        found(DeviationKind::FirstControl, Some(&op));
                    } else if op.class == OpClass::Write {
                        found(DeviationKind::FirstWrite, Some(&op));
                    }
                });
                if first.is_none() {
                    found(kind, None);
                }
            };
        let Some(server) = self.servers.get(&seeing.key) else {
            let known_ip = self.servers.range(ip_range(seeing.key.ip)).next().is_some();
            let kind = if known_ip {
                DeviationKind::NewProtocol
            } else {
                DeviationKind::NewServer
            };
            return pair_level(kind, found);
        };
        let Some(client) = server.clients.get(&seeing.client) else {
            return pair_level(DeviationKind::NewClient, found);
        };
        if let Some(s) = seeing.station {
            if !server.stations.is_empty() && !server.stations.contains(&s) {
                return pair_level(DeviationKind::UnknownStation, found);
            }
        }
        protocols::operations(app, &mut |op| {
            let kind = match client.ops.get(&op.key()) {
                Some(entry) => match op.range {
                    Some((lo, hi))
                        if !entry.ranges.is_empty() && !entry.ranges.contains(lo, hi) =>
                    {
                        if op.class.changes_process() {
                            DeviationKind::WriteOutsideRange
                        } else {
                            DeviationKind::ReadOutsideRange
                        }
                    }
                    _ => return,
                },
                None if op.class.is_control() => {
                    if client.did(OpClass::is_control) {
                        DeviationKind::NewControl
                    } else {
                        DeviationKind::FirstControl
                    }
                }
                None if op.class == OpClass::Write => {
                    if client.did(OpClass::changes_process) {
                        DeviationKind::NewWrite
                    } else {
                        DeviationKind::FirstWrite
                    }
                }
                None if op.class == OpClass::Identify => DeviationKind::NewIdentification,
                None => DeviationKind::NewOperation,
            };
            found(kind, Some(&op));
        });
    }

    /// The key a deviation is limited by: the pair, the server port and
    /// protocol, the kind and the operation without its range.
    pub fn dedup_key(
        flow: &FlowInfo,
        app: &AppEvent<'_>,
        kind: DeviationKind,
        op: Option<&Op<'_>>,
    ) -> u64 {
        let mut h = Fnv::new();
        for ip in [flow.src, flow.dest] {
            match ip {
                IpAddr::V4(a) => h.bytes(&a.octets()),
                IpAddr::V6(a) => h.bytes(&a.octets()),
            }
        }
        h.u32(u32::from(flow.dest_port));
        h.u32(app.protocol().map_or(u32::MAX, |p| p.index() as u32));
        h.u32(kind as u32);
        if let Some(op) = op {
            // Pair-level kinds are limited per pair, whatever the operation.
            if !matches!(
                kind,
                DeviationKind::NewServer
                    | DeviationKind::NewClient
                    | DeviationKind::NewProtocol
                    | DeviationKind::UnknownStation
            ) {
                h.u64(op.key().0);
            }
        }
        h.0
    }

    /// The whole description of a deviation: what was seen, what was
    /// learned, and what Accept would add.
    pub fn describe(
        &self,
        flow: &FlowInfo,
        ts: Timestamp,
        app: &AppEvent<'_>,
        kind: DeviationKind,
        op: Option<&Op<'_>>,
    ) -> Option<Deviation> {
        let seeing = Seeing::of(flow, app)?;
        let key = seeing.key;
        let mut observed = String::new();
        let mut learned = String::new();
        let _ = match op {
            Some(op) => write_op(&mut observed, op),
            None => write!(observed, "{} transaction", key.protocol.name()),
        };
        let server = self.servers.get(&key);
        let client = server.and_then(|s| s.clients.get(&seeing.client));
        let _ = match kind {
            DeviationKind::NewServer => {
                let n = self
                    .servers
                    .keys()
                    .filter(|k| k.protocol == key.protocol)
                    .count();
                write!(
                    learned,
                    "{n} {} server(s), none at {} port {}",
                    key.protocol.name(),
                    key.ip,
                    key.port
                )
            }
            DeviationKind::NewProtocol => {
                let spoken: Vec<String> = self
                    .servers
                    .range(ip_range(key.ip))
                    .map(|(k, _)| format!("{}/{}", k.protocol.name(), k.port))
                    .collect();
                write!(learned, "{} serves {} only", key.ip, spoken.join(", "))
            }
            DeviationKind::NewClient => {
                let clients: Vec<String> = server
                    .map(|s| s.clients.keys().map(IpAddr::to_string).collect())
                    .unwrap_or_default();
                write!(learned, "clients {}", shortlist(&clients, 8))
            }
            DeviationKind::UnknownStation => {
                let stations: Vec<String> = server
                    .map(|s| s.stations.iter().map(u32::to_string).collect())
                    .unwrap_or_default();
                let what = match key.protocol {
                    ProtocolId::Dnp3 => "outstation addresses",
                    _ => "unit ids",
                };
                write!(learned, "{what} {}", shortlist(&stations, 16))
            }
            _ => match client {
                Some(c) => {
                    let same: Vec<&OpEntry> = c
                        .ops_in_order()
                        .into_iter()
                        .filter(|e| op.is_none_or(|op| e.code == op.code))
                        .collect();
                    let list = if same.is_empty() {
                        c.ops_in_order()
                    } else {
                        same
                    };
                    let texts: Vec<String> = list
                        .iter()
                        .map(|e| {
                            let mut s = String::new();
                            let _ = write_entry(&mut s, e);
                            s
                        })
                        .collect();
                    write!(learned, "{} only", shortlist(&texts, 6))
                }
                None => write!(learned, "nothing of this pair"),
            },
        };
        Some(Deviation {
            kind,
            observed,
            learned,
            accept: Accepted {
                server: key,
                client: seeing.client,
                station: seeing.station,
                ts,
                op: op.map(|op| OpEntry::from_op(op, ts, self.limits.ranges)),
            },
        })
    }
}

/// Adds a station to a server, within the limit (counted beyond).
fn add_station(server: &mut Server, station: u32, limits: &Limits, dropped: &mut Dropped) {
    if server.stations.contains(&station) || server.stations.len() < limits.stations {
        server.stations.insert(station);
    } else {
        dropped.stations += 1;
    }
}

fn ip_range(ip: IpAddr) -> std::ops::RangeInclusive<ServerKey> {
    let lo = ServerKey {
        ip,
        protocol: ProtocolId::ALL[0],
        port: 0,
    };
    let hi = ServerKey {
        ip,
        protocol: ProtocolId::ALL[ProtocolId::COUNT - 1],
        port: u16::MAX,
    };
    lo..=hi
}

fn min_opt(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<Timestamp> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn max_opt(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<Timestamp> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

fn shortlist(items: &[String], max: usize) -> String {
    if items.is_empty() {
        return "none".to_owned();
    }
    let mut s = items[..items.len().min(max)].join("; ");
    if items.len() > max {
        let _ = write!(s, "; and {} more", items.len() - max);
    }
    s
}

fn write_qual(out: &mut String, q: Qual, v: QualValue<'_>) -> std::fmt::Result {
    use otwatch_proto::s7comm::{Area, BlockType};
    let area = |n: u32| u8::try_from(n).ok().and_then(|n| Area::from(n).name());
    let block = |n: u32| {
        u16::try_from(n)
            .ok()
            .and_then(|n| BlockType::from(n).name())
    };
    match (q, v) {
        (Qual::Szl, QualValue::Num(n)) => write!(out, " szl 0x{n:04x}"),
        (Qual::Area, QualValue::Num(n)) if area(n).is_some() => {
            write!(out, " area {}", area(n).unwrap_or_default())
        }
        (Qual::BlockType, QualValue::Num(n)) if block(n).is_some() => {
            write!(out, " block_type {}", block(n).unwrap_or_default())
        }
        (_, QualValue::Num(n)) => write!(out, " {} {n}", q.name()),
        (_, QualValue::Text(t)) => write!(out, " {} {}", q.name(), Printable(t)),
    }
}

/// `write write_multiple_registers (16) unit 1 at 100-109`.
fn write_op(out: &mut String, op: &Op<'_>) -> std::fmt::Result {
    write!(
        out,
        "{} {} ({})",
        op.class.name(),
        op.name.unwrap_or("unknown"),
        op.code
    )?;
    for (q, v) in op.quals.iter().flatten() {
        write_qual(out, *q, *v)?;
    }
    if let Some((lo, hi)) = op.range {
        out.push_str(" at ");
        write_range(out, lo, hi)?;
    }
    Ok(())
}

fn write_entry(out: &mut String, e: &OpEntry) -> std::fmt::Result {
    write!(
        out,
        "{} {} ({})",
        e.class.name(),
        e.name.as_deref().unwrap_or("unknown"),
        e.code
    )?;
    for (q, v) in &e.quals {
        write_qual(out, *q, v.borrow())?;
    }
    if !e.ranges.is_empty() {
        write!(out, " at {}", e.ranges)?;
    }
    Ok(())
}

/// What Accept adds to a baseline for a deviation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// The server.
    pub server: ServerKey,
    /// The client.
    pub client: IpAddr,
    /// The unit id or outstation address, when the protocol has one.
    pub station: Option<u32>,
    /// When it was seen.
    pub ts: Timestamp,
    /// The operation, with its range.
    pub op: Option<OpEntry>,
}

/// A deviation, described.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deviation {
    /// How it deviates.
    pub kind: DeviationKind,
    /// What was seen (`write write_multiple_registers (16) unit 1 at 100`).
    pub observed: String,
    /// What was learned (`read read_holding_registers (3) unit 1 at 0-9
    /// only`).
    pub learned: String,
    /// What Accept adds.
    pub accept: Accepted,
}

impl std::fmt::Display for Deviation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {}; learned: {}",
            self.kind.name(),
            self.observed,
            self.learned
        )
    }
}

#[cfg(test)]
mod tests;
