//! A deterministic generator of mixed plant traffic: many Modbus/TCP masters
//! and devices (serial gateways among them), S7comm HMIs and an engineering
//! station, DNP3 masters and outstations, a Logix cell on EtherNet/IP,
//! substations on IEC 60870-5-104, and IT background (TLS-looking
//! sessions, HTTP, DNS), written as a classic pcap file. Optionally with
//! injected attacks and their ground truth.
//!
//! * [`modbus`]: Modbus/TCP pollers, gateways, writers, short connections.
//! * [`s7comm`]: S7comm sessions (COTP, setup, read/write var, SZL reads).
//! * [`dnp3`]: DNP3 masters and outstations (link CRCs, transport, polls).
//! * [`enip`]: EtherNet/IP HMIs polling Logix tags, set point writes, and
//!   class 1 implicit I/O over UDP.
//! * [`iec104`]: IEC 104 substations, their primary and standby control
//!   centre links, interrogations, measurands, commands and set points.
//! * [`it`]: TLS-looking sessions, HTTP and DNS.
//! * [`attacks`]: the injected attacks and their ground truth.
//! * [`writer`]: the streaming pcap writer.
//!
//! Every conversation is a source: at its wake-up time it emits the
//! frames of its next exchange (all at or after that time) and says when it
//! wakes next. A scheduler runs the sources in time order and holds emitted
//! frames in a queue ordered by timestamp, writing a frame as soon as no
//! source can still emit an earlier one; so the file is written in time order
//! while only the frames in flight sit in memory. The same seed and options
//! give the same bytes: every source draws from its own generator, seeded
//! from the run's seed and the source's number.

pub mod attacks;
pub mod dnp3;
pub mod enip;
pub mod iec104;
pub mod it;
pub mod modbus;
pub mod s7comm;
mod tcp;
pub mod writer;

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::fmt::Write as _;
use std::io;
use std::net::Ipv4Addr;

pub use attacks::Truth;
pub use writer::PcapStream;

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlantConfig {
    /// Seed of every random choice.
    pub seed: u64,
    /// Frames to write (the capture stops at exactly this many).
    pub packets: u64,
    /// Extra long-lived Modbus connections all open at the same time.
    pub concurrent_flows: u32,
    /// Whether attacks are injected.
    pub attacks: bool,
    /// Which day of the plant: the same plant (hosts, connections, the
    /// registers, tags and set points each client uses) on another day,
    /// starting `day` × 24 h after day 0, with its own timing and values.
    /// Day 0 is the plant as `seed` alone makes it.
    pub day: u32,
}

impl Default for PlantConfig {
    fn default() -> Self {
        PlantConfig {
            seed: 1,
            packets: 3_000_000,
            concurrent_flows: 0,
            attacks: false,
            day: 0,
        }
    }
}

/// Microseconds in a day.
const DAY_US: u64 = 86_400_000_000;

/// Time of the first frame: 2026-01-05 06:00:00 UTC, in microseconds since
/// the Unix epoch.
pub const START_US: u64 = 1_767_592_800_000_000;

/// Frames per second of the plant without the extra concurrent flows, as
/// measured; used to spread the concurrent flows' transactions over the
/// expected length of the capture.
const BASE_RATE: u64 = 1_500;

/// The traffic class of a frame, for the shares in the summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Class {
    /// Modbus/TCP on port 502.
    Modbus,
    /// S7comm over COTP on port 102.
    S7comm,
    /// DNP3 over TCP port 20000.
    Dnp3,
    /// EtherNet/IP over TCP port 44818 and UDP port 2222.
    Enip,
    /// IEC 60870-5-104 over TCP port 2404.
    Iec104,
    /// TLS-looking sessions on port 443.
    Tls,
    /// HTTP on port 80.
    Http,
    /// DNS over UDP port 53.
    Dns,
}

impl Class {
    /// Every class, in summary order.
    pub const ALL: [Class; 8] = [
        Class::Modbus,
        Class::S7comm,
        Class::Dnp3,
        Class::Enip,
        Class::Iec104,
        Class::Tls,
        Class::Http,
        Class::Dns,
    ];

    /// The industrial protocols, in summary order.
    pub const OT: [Class; 5] = [
        Class::Modbus,
        Class::S7comm,
        Class::Dnp3,
        Class::Enip,
        Class::Iec104,
    ];

    /// The name used in the summary (the otwatch protocol name for ICS).
    pub fn name(self) -> &'static str {
        match self {
            Class::Modbus => "modbus",
            Class::S7comm => "s7comm",
            Class::Dnp3 => "dnp3",
            Class::Enip => "enip",
            Class::Iec104 => "iec104",
            Class::Tls => "tls",
            Class::Http => "http",
            Class::Dns => "dns",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Application PDUs a frame completes (the frame carrying a PDU's last
/// byte counts it; retransmitted copies count nothing).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pdus {
    /// Requests (Modbus and DNP3 requests, confirms; S7 jobs and userdata
    /// requests).
    pub requests: u32,
    /// Responses (exceptions, unsolicited responses, S7 ack-data and
    /// userdata responses).
    pub responses: u32,
}

/// Counters of one traffic class.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClassCounts {
    /// Frames written.
    pub packets: u64,
    /// Bytes of those frames.
    pub bytes: u64,
    /// Application PDUs they completed.
    pub requests: u64,
    /// Responses they completed.
    pub responses: u64,
}

/// What a run wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlantReport {
    /// Frames written.
    pub packets: u64,
    /// Frame bytes written (without pcap record headers).
    pub bytes: u64,
    /// Frames with an 802.1Q tag.
    pub vlan_packets: u64,
    /// TCP connections opened or picked up, and UDP conversations.
    pub flows: u64,
    /// Timestamp of the first frame (µs since the epoch).
    pub first_us: u64,
    /// Timestamp of the last frame (µs since the epoch).
    pub last_us: u64,
    /// Counters per class, indexed like [`Class::ALL`].
    pub classes: [ClassCounts; 8],
    /// The attacks written, in time order.
    pub attacks: Vec<Truth>,
}

impl PlantReport {
    /// The counters of one class.
    pub fn class(&self, class: Class) -> ClassCounts {
        self.classes[class.index()]
    }

    /// Mean frame size in bytes.
    pub fn mean_frame(&self) -> f64 {
        if self.packets == 0 {
            0.0
        } else {
            self.bytes as f64 / self.packets as f64
        }
    }

    /// The one-line summary printed by `otwatch generate`.
    pub fn summary(&self) -> String {
        let share = |n: u64| {
            if self.packets == 0 {
                0.0
            } else {
                100.0 * n as f64 / self.packets as f64
            }
        };
        let mut s = format!(
            "{} packets, {} bytes, mean frame {:.0} bytes, {:.1} s of traffic;",
            self.packets,
            self.bytes,
            self.mean_frame(),
            self.last_us.saturating_sub(self.first_us) as f64 / 1e6
        );
        for class in Class::ALL {
            let _ = write!(
                s,
                " {} {:.1}%",
                class.name(),
                share(self.class(class).packets)
            );
        }
        let it: u64 = [Class::Tls, Class::Http, Class::Dns]
            .iter()
            .map(|c| self.class(*c).packets)
            .sum();
        let _ = write!(
            s,
            " (it {:.1}%); vlan {:.1}%; {} flows",
            share(it),
            share(self.vlan_packets),
            self.flows
        );
        for class in Class::OT {
            let c = self.class(class);
            let _ = write!(s, "; {} pdus {}", class.name(), c.requests + c.responses);
        }
        if !self.attacks.is_empty() {
            let _ = write!(s, "; {} attacks", self.attacks.len());
        }
        s
    }
}

/// A small, fast generator (SplitMix64): good enough for traffic shapes, and
/// fully determined by its seed.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x5851_f42d_4c95_7f2d)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `lo..=hi` (`lo` when `hi < lo`).
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        if hi <= lo {
            return lo;
        }
        let span = hi - lo + 1;
        lo + ((u128::from(self.next_u64()) * u128::from(span)) >> 64) as u64
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        ((self.next_u64() >> 11) as f64 / (1u64 << 53) as f64) < p
    }

    /// One element of `items`, or `None` when it is empty.
    pub fn pick<T: Copy>(&mut self, items: &[T]) -> Option<T> {
        if items.is_empty() {
            return None;
        }
        let i = self.range(0, items.len() as u64 - 1) as usize;
        items.get(i).copied()
    }

    /// Fills `out` with random bytes.
    pub fn fill(&mut self, out: &mut [u8]) {
        let mut chunks = out.chunks_exact_mut(8);
        for c in &mut chunks {
            c.copy_from_slice(&self.next_u64().to_le_bytes());
        }
        let rest = chunks.into_remainder();
        let last = self.next_u64().to_le_bytes();
        rest.copy_from_slice(&last[..rest.len()]);
    }

    /// A new generator for a sub-part, drawn from this one.
    pub fn fork(&mut self) -> Rng {
        Rng::new(self.next_u64())
    }
}

/// One frame waiting to be written.
#[derive(Debug)]
pub(crate) struct Packet {
    pub(crate) ts: u64,
    pub(crate) order: u64,
    pub(crate) frame: Vec<u8>,
    pub(crate) class: Class,
    pub(crate) vlan: bool,
    pub(crate) pdus: Pdus,
    pub(crate) truth: Option<Box<Truth>>,
}

impl PartialEq for Packet {
    fn eq(&self, other: &Self) -> bool {
        (self.ts, self.order) == (other.ts, other.order)
    }
}
impl Eq for Packet {}
impl PartialOrd for Packet {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Packet {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.ts, self.order).cmp(&(other.ts, other.order))
    }
}

/// What a source's step may use: the frame queue, new sources, ephemeral
/// ports, reusable buffers.
pub(crate) struct Cx {
    out: BinaryHeap<Reverse<Packet>>,
    spawned: Vec<(u64, Box<dyn Source>)>,
    order: u64,
    flows: u64,
    ports: BTreeMap<Ipv4Addr, u16>,
    spare: Vec<Vec<u8>>,
    pending_truth: Option<Box<Truth>>,
}

impl Cx {
    fn new() -> Cx {
        Cx {
            out: BinaryHeap::new(),
            spawned: Vec::new(),
            order: 0,
            flows: 0,
            ports: BTreeMap::new(),
            spare: Vec::new(),
            pending_truth: None,
        }
    }

    /// A cleared buffer for a frame.
    pub(crate) fn buffer(&mut self) -> Vec<u8> {
        let mut b = self.spare.pop().unwrap_or_else(|| Vec::with_capacity(1536));
        b.clear();
        b
    }

    /// Queues a built frame. The ground truth set by [`Cx::mark_attack`]
    /// rides on the first frame queued after it.
    pub(crate) fn push(&mut self, ts: u64, frame: Vec<u8>, class: Class, vlan: bool, pdus: Pdus) {
        self.order += 1;
        let truth = self.pending_truth.take();
        self.out.push(Reverse(Packet {
            ts,
            order: self.order,
            frame,
            class,
            vlan,
            pdus,
            truth,
        }));
    }

    /// The next frame queued carries this attack's ground truth (it is
    /// reported only if that frame is written).
    pub(crate) fn mark_attack(&mut self, truth: Truth) {
        self.pending_truth = Some(Box::new(truth));
    }

    /// Starts `source` at `at`.
    pub(crate) fn spawn(&mut self, at: u64, source: Box<dyn Source>) {
        self.spawned.push((at, source));
    }

    /// Counts a new flow.
    pub(crate) fn count_flow(&mut self) {
        self.flows += 1;
    }

    /// The next ephemeral port of a client address (49152–65535, wrapping).
    pub(crate) fn ephemeral_port(&mut self, ip: Ipv4Addr, rng: &mut Rng) -> u16 {
        let next = self
            .ports
            .entry(ip)
            .or_insert_with(|| 49_152 + rng.range(0, 8_000) as u16);
        let port = *next;
        *next = if *next >= 65_534 { 49_152 } else { *next + 1 };
        port
    }
}

/// A conversation (or a spawner of conversations) of the plant.
pub(crate) trait Source {
    /// Emits the frames of the exchange due at `now` (none earlier than
    /// `now`) and returns when to wake next, or `None` when finished.
    fn step(&mut self, now: u64, cx: &mut Cx) -> Option<u64>;

    /// Starts another day: the source's timing and values come from `salt`
    /// from now on, what it talks to and which addresses it uses stay.
    fn reseed(&mut self, _salt: u64) {}
}

/// Generates the plant into `out` (a pcap stream) and, when `truth` is
/// given, writes one JSON line per injected attack to it.
pub fn generate<W: io::Write>(
    config: &PlantConfig,
    out: W,
    truth: Option<&mut dyn io::Write>,
) -> io::Result<PlantReport> {
    let mut pcap = PcapStream::new(out)?;
    let mut root = Rng::new(config.seed);
    // Per extra connection: a handshake and three single-read transactions
    // (request, response, now and then an ACK).
    let concurrent_packets = u64::from(config.concurrent_flows) * 11;
    let base_packets = config.packets.saturating_sub(concurrent_packets).max(1);
    let expected_us = base_packets * 1_000_000 / BASE_RATE;
    let mut cx = Cx::new();
    // Sources by id; the ids of finished ones are reused (a finished source
    // has no entry left in `wake`).
    let mut sources: Vec<Option<Box<dyn Source>>> = Vec::new();
    let mut free: Vec<usize> = Vec::new();
    let mut wake: BinaryHeap<Reverse<(u64, usize)>> = BinaryHeap::new();
    let start = START_US + u64::from(config.day) * DAY_US;
    let mut day = Rng::new(config.seed ^ u64::from(config.day).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    for (at, mut source) in build_plant(&mut root, config, start, expected_us) {
        if config.day != 0 {
            source.reseed(day.next_u64());
        }
        let id = insert(&mut sources, &mut free, source);
        wake.push(Reverse((at, id)));
    }
    let mut attack_plan = if config.attacks {
        attacks::plan(&mut root, config.packets)
    } else {
        Vec::new()
    };
    attack_plan.reverse(); // popped from the end, first threshold first
    let mut report = PlantReport {
        first_us: start,
        ..PlantReport::default()
    };
    let mut truth = truth;
    while let Some(Reverse((now, id))) = wake.pop() {
        flush(
            &mut cx,
            &mut pcap,
            &mut report,
            Some(now),
            config.packets,
            &mut truth,
        )?;
        if report.packets >= config.packets {
            break;
        }
        while let Some(next) = attack_plan.last() {
            if report.packets < next.0 {
                break;
            }
            if let Some((_, source)) = attack_plan.pop() {
                let id = insert(&mut sources, &mut free, source);
                wake.push(Reverse((now + 1_000, id)));
            }
        }
        let Some(slot) = sources.get_mut(id) else {
            continue;
        };
        let next = match slot {
            Some(source) => source.step(now, &mut cx),
            None => None,
        };
        match next {
            Some(at) => wake.push(Reverse((at.max(now), id))),
            None => {
                *slot = None;
                free.push(id);
            }
        }
        for (at, source) in cx.spawned.drain(..) {
            let id = insert(&mut sources, &mut free, source);
            wake.push(Reverse((at.max(now), id)));
        }
    }
    flush(
        &mut cx,
        &mut pcap,
        &mut report,
        None,
        config.packets,
        &mut truth,
    )?;
    report.flows = cx.flows;
    pcap.finish()?;
    Ok(report)
}

/// Stores `source` in a free slot (the most recently freed) or a new one,
/// and returns its id.
fn insert(
    sources: &mut Vec<Option<Box<dyn Source>>>,
    free: &mut Vec<usize>,
    source: Box<dyn Source>,
) -> usize {
    match free.pop() {
        Some(id) => {
            if let Some(slot) = sources.get_mut(id) {
                *slot = Some(source);
                return id;
            }
            sources.push(Some(source));
            sources.len() - 1
        }
        None => {
            sources.push(Some(source));
            sources.len() - 1
        }
    }
}

/// Writes the queued frames with a timestamp up to `until` (all of them when
/// `None`), stopping at `limit` frames.
fn flush<W: io::Write>(
    cx: &mut Cx,
    pcap: &mut PcapStream<W>,
    report: &mut PlantReport,
    until: Option<u64>,
    limit: u64,
    truth: &mut Option<&mut dyn io::Write>,
) -> io::Result<()> {
    while let Some(Reverse(top)) = cx.out.peek() {
        if until.is_some_and(|t| top.ts > t) || report.packets >= limit {
            break;
        }
        let Some(Reverse(p)) = cx.out.pop() else {
            break;
        };
        pcap.record(p.ts, &p.frame)?;
        if report.packets == 0 {
            report.first_us = p.ts;
        }
        report.packets += 1;
        report.bytes += p.frame.len() as u64;
        report.last_us = p.ts;
        if p.vlan {
            report.vlan_packets += 1;
        }
        let c = &mut report.classes[p.class.index()];
        c.packets += 1;
        c.bytes += p.frame.len() as u64;
        c.requests += u64::from(p.pdus.requests);
        c.responses += u64::from(p.pdus.responses);
        if let Some(t) = p.truth {
            if let Some(w) = truth.as_mut() {
                let line = serde_json::to_string(&*t).map_err(io::Error::other)?;
                w.write_all(line.as_bytes())?;
                w.write_all(b"\n")?;
            }
            report.attacks.push(*t);
        }
        if cx.spare.len() < 4096 {
            cx.spare.push(p.frame);
        }
    }
    Ok(())
}

/// Addresses of the plant's hosts.
pub(crate) mod net {
    use std::net::Ipv4Addr;

    /// A host: its addresses and link settings.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub(crate) struct HostAddr {
        pub(crate) ip: Ipv4Addr,
        pub(crate) mac: [u8; 6],
        pub(crate) ttl: u8,
    }

    /// A host with a MAC address under `oui` derived from its IP address.
    pub(crate) fn host(ip: Ipv4Addr, oui: [u8; 3], ttl: u8) -> HostAddr {
        let o = ip.octets();
        HostAddr {
            ip,
            mac: [oui[0], oui[1], oui[2], o[1], o[2], o[3]],
            ttl,
        }
    }

    /// Siemens (PLCs).
    pub(crate) const OUI_SIEMENS: [u8; 3] = [0x00, 0x1b, 0x1b];
    /// Schneider Electric (Modbus devices).
    pub(crate) const OUI_SCHNEIDER: [u8; 3] = [0x00, 0x80, 0xf4];
    /// Moxa (serial gateways).
    pub(crate) const OUI_MOXA: [u8; 3] = [0x00, 0x90, 0xe8];
    /// SEL (DNP3 outstations).
    pub(crate) const OUI_SEL: [u8; 3] = [0x00, 0x30, 0xa7];
    /// Dell (workstations and servers).
    pub(crate) const OUI_DELL: [u8; 3] = [0x00, 0x14, 0x22];
    /// Cisco (the router that carries traffic to other subnets).
    pub(crate) const OUI_CISCO: [u8; 3] = [0x00, 0x1a, 0xa1];
}

/// The plant's sources with their start times.
fn build_plant(
    rng: &mut Rng,
    config: &PlantConfig,
    start: u64,
    expected_us: u64,
) -> Vec<(u64, Box<dyn Source>)> {
    let mut all = Vec::new();
    modbus::build(rng, start, &mut all);
    s7comm::build(rng, start, &mut all);
    dnp3::build(rng, start, &mut all);
    enip::build(rng, start, &mut all);
    iec104::build(rng, start, &mut all);
    it::build(rng, start, &mut all);
    if config.concurrent_flows > 0 {
        modbus::build_concurrent(rng, start, expected_us, config.concurrent_flows, &mut all);
    }
    all
}

/// Formats microseconds since the epoch as RFC 3339 UTC with microseconds.
pub fn rfc3339(us: u64) -> String {
    let secs = us / 1_000_000;
    let days = (secs / 86_400) as i64;
    let (y, m, d) = otwatch_proto::civil::civil_from_days(days);
    let rem = secs % 86_400;
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:06}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        us % 1_000_000
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rng_is_deterministic_and_ranges_hold() {
        let mut a = Rng::new(7);
        let mut b = Rng::new(7);
        for _ in 0..1000 {
            let (x, y) = (a.range(3, 9), b.range(3, 9));
            assert_eq!(x, y);
            assert!((3..=9).contains(&x));
        }
        assert_ne!(Rng::new(1).next_u64(), Rng::new(2).next_u64());
        assert_eq!(Rng::new(5).range(4, 4), 4);
        assert_eq!(Rng::new(5).range(9, 4), 9);
    }

    #[test]
    fn formats_rfc3339() {
        assert_eq!(rfc3339(START_US + 1_500_000), "2026-01-05T06:00:01.500000Z");
    }
}
