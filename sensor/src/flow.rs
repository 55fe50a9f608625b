//! The flow table: bidirectional flows keyed by 5-tuple and VLAN, with
//! per-state idle timeouts, a cap on flows and on memory, and LRU eviction.
//!
//! Flows live in a slab (a `Vec` with a free list) and are found through a hash
//! map from [`FlowKey`] to slot. Each timeout class (TCP new, TCP established,
//! TCP closed, UDP, other) keeps an intrusive doubly linked list ordered by last
//! activity, so expiring flows is popping list heads and touching a flow is an
//! O(1) unlink/relink: no scan of the table on the hot path.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::net::IpAddr;

use otwatch_proto::event::Timestamp;

/// The hasher of the flow table and the asset table: rustc-hash's FxHasher,
/// small, fast and not keyed. Flow keys come from the network, but the
/// tables' sizes are capped and eviction is LRU, so a collision flood
/// degrades lookups without growing memory.
pub type FlowHasher = rustc_hash::FxHasher;

/// The mixing behind [`FlowKey::flow_id`]. Flow ids appear in every EVE line
/// of a flow and are what a SIEM correlates on, so their values are fixed
/// here rather than left to a hash crate whose output may change between
/// versions. Not used for hash tables.
#[derive(Default, Clone, Copy)]
struct FlowIdHasher(u64);

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FlowIdHasher {
    #[inline]
    fn mix(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FlowIdHasher {
    #[inline]
    fn finish(&self) -> u64 {
        // Final avalanche so that low bits depend on every input bit.
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h
    }
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.mix(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.mix(u64::from_le_bytes(word));
        }
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.mix(u64::from(i));
    }
    #[inline]
    fn write_u16(&mut self, i: u16) {
        self.mix(u64::from(i));
    }
    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.mix(u64::from(i));
    }
    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.mix(i);
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.mix(i as u64);
    }
}

/// An endpoint: address and port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Endpoint {
    /// IP address.
    pub ip: IpAddr,
    /// Port (0 for protocols without ports).
    pub port: u16,
}

/// A direction-independent flow key: the lower endpoint first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FlowKey {
    /// The lower endpoint.
    pub lo: Endpoint,
    /// The higher endpoint.
    pub hi: Endpoint,
    /// IP protocol number.
    pub protocol: u8,
    /// VLAN ids (outer, inner); 0 when untagged.
    pub vlan: [u16; 2],
}

impl FlowKey {
    /// Builds the canonical key of a packet from `src` to `dst`.
    pub fn new(src: Endpoint, dst: Endpoint, protocol: u8, vlan: [u16; 2]) -> FlowKey {
        let (lo, hi) = if src <= dst { (src, dst) } else { (dst, src) };
        FlowKey {
            lo,
            hi,
            protocol,
            vlan,
        }
    }

    /// A 51-bit flow id (safe as a JSON number in every consumer), stable for
    /// the key and the flow's start time.
    pub fn flow_id(&self, start: Timestamp) -> u64 {
        let mut h = FlowIdHasher::default();
        std::hash::Hash::hash(self, &mut h);
        h.write_u64(start.secs as u64);
        h.write_u32(start.nanos);
        (h.finish() & ((1 << 51) - 1)).max(1)
    }
}

/// Timeout classes; each has its own idle timeout and LRU list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum TimeoutClass {
    /// TCP before the handshake completed (or picked up mid-stream, no data yet).
    TcpNew = 0,
    /// TCP carrying data.
    TcpEstablished = 1,
    /// TCP after FIN from both sides or RST.
    TcpClosed = 2,
    /// UDP.
    Udp = 3,
    /// Other IP protocols.
    Other = 4,
}

const CLASSES: usize = 5;

/// Flow table limits and timeouts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowConfig {
    /// Flows tracked at once; the least recently active is evicted past this.
    pub max_flows: usize,
    /// Approximate bytes of flow state (buffers included) before eviction.
    pub memcap: usize,
    /// Idle timeouts in seconds, by [`TimeoutClass`].
    pub timeouts: [u64; CLASSES],
}

impl Default for FlowConfig {
    fn default() -> Self {
        FlowConfig {
            max_flows: 65_536,
            memcap: 256 * 1024 * 1024,
            // OT sessions stay open for months with polls every few seconds;
            // an hour of silence on an established session is a real end.
            timeouts: [60, 3600, 30, 120, 60],
        }
    }
}

/// Counters of the flow table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FlowStats {
    /// Flows created.
    pub created: u64,
    /// Flows ended by their idle timeout.
    pub timed_out: u64,
    /// Flows evicted because of the flow or memory cap.
    pub evicted: u64,
    /// Flows ended when the capture ended.
    pub flushed: u64,
    /// Flows currently tracked.
    pub active: u64,
}

/// Why a flow ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    /// Idle timeout.
    Timeout,
    /// Evicted by the flow or memory cap.
    Evicted,
    /// End of capture or shutdown.
    Shutdown,
}

impl EndReason {
    /// EVE name.
    pub fn name(self) -> &'static str {
        match self {
            EndReason::Timeout => "timeout",
            EndReason::Evicted => "forced",
            EndReason::Shutdown => "shutdown",
        }
    }
}

const NIL: u32 = u32::MAX;

struct Slot<T> {
    key: FlowKey,
    last: Timestamp,
    class: TimeoutClass,
    prev: u32,
    next: u32,
    memory: usize,
    value: Option<T>,
}

/// The table, generic over the per-flow state `T`.
pub struct FlowTable<T> {
    config: FlowConfig,
    index: HashMap<FlowKey, u32, BuildHasherDefault<FlowHasher>>,
    slots: Vec<Slot<T>>,
    free: Vec<u32>,
    heads: [u32; CLASSES],
    tails: [u32; CLASSES],
    /// A class's list is out of time order: a flow was linked with an older
    /// activity than the tail's (capture time went back, as when a later
    /// file of one replay starts earlier). Expiry then scans the whole list
    /// instead of stopping at the first live head, so what ends depends only
    /// on each flow's own activity, not on the list's order.
    disordered: [bool; CLASSES],
    memory: usize,
    /// Counters.
    pub stats: FlowStats,
}

/// Fixed overhead charged per flow on top of its buffers.
pub const FLOW_OVERHEAD: usize = 512;

impl<T> FlowTable<T> {
    /// An empty table.
    pub fn new(config: FlowConfig) -> FlowTable<T> {
        FlowTable {
            config,
            index: HashMap::default(),
            slots: Vec::new(),
            free: Vec::new(),
            heads: [NIL; CLASSES],
            tails: [NIL; CLASSES],
            disordered: [false; CLASSES],
            memory: 0,
            stats: FlowStats::default(),
        }
    }

    /// Bytes charged to flows.
    pub fn memory(&self) -> usize {
        self.memory
    }

    /// Number of flows tracked.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// Whether no flow is tracked.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// Finds the slot of `key`.
    pub fn find(&self, key: &FlowKey) -> Option<u32> {
        self.index.get(key).copied()
    }

    /// Inserts a new flow; the caller has checked it is absent. Flows over the
    /// caps are evicted first and handed to `ended`.
    pub fn insert(
        &mut self,
        key: FlowKey,
        now: Timestamp,
        class: TimeoutClass,
        value: T,
        ended: &mut dyn FnMut(T, EndReason),
    ) -> u32 {
        while self.index.len() >= self.config.max_flows.max(1)
            || self.memory + FLOW_OVERHEAD > self.config.memcap && !self.index.is_empty()
        {
            if !self.evict_one(ended) {
                break;
            }
        }
        let slot = Slot {
            key,
            last: now,
            class,
            prev: NIL,
            next: NIL,
            memory: FLOW_OVERHEAD,
            value: Some(value),
        };
        let id = match self.free.pop() {
            Some(id) => {
                self.slots[id as usize] = slot;
                id
            }
            None => {
                self.slots.push(slot);
                (self.slots.len() - 1) as u32
            }
        };
        self.memory += FLOW_OVERHEAD;
        self.index.insert(key, id);
        self.link_tail(id);
        self.stats.created += 1;
        self.stats.active = self.index.len() as u64;
        id
    }

    /// The flow in `slot`, to read.
    pub fn get(&self, slot: u32) -> Option<&T> {
        self.slots.get(slot as usize)?.value.as_ref()
    }

    /// The flow in `slot`.
    pub fn get_mut(&mut self, slot: u32) -> Option<&mut T> {
        self.slots.get_mut(slot as usize)?.value.as_mut()
    }

    /// Marks activity: moves the flow to the tail of its (possibly new) class
    /// and updates its memory charge.
    pub fn touch(&mut self, slot: u32, now: Timestamp, class: TimeoutClass, memory: usize) {
        let Some(s) = self.slots.get_mut(slot as usize) else {
            return;
        };
        let old_memory = s.memory;
        s.memory = FLOW_OVERHEAD + memory;
        s.last = now;
        self.memory = self.memory + FLOW_OVERHEAD + memory - old_memory;
        let relink = {
            let s = &self.slots[slot as usize];
            s.class != class || s.next != NIL
        };
        if relink {
            self.unlink(slot);
            self.slots[slot as usize].class = class;
            self.link_tail(slot);
        } else {
            // Already the tail: still behind its predecessor if time went back.
            let prev = self.slots[slot as usize].prev;
            if prev != NIL && self.slots[prev as usize].last > now {
                self.disordered[class as usize] = true;
            }
        }
    }

    /// Ends flows idle longer than their class timeout at `now`.
    pub fn expire(&mut self, now: Timestamp, ended: &mut dyn FnMut(T, EndReason)) {
        for class in 0..CLASSES {
            let timeout = self.config.timeouts[class];
            if self.disordered[class] {
                self.expire_scan(class, now, timeout, ended);
                continue;
            }
            loop {
                let head = self.heads[class];
                if head == NIL {
                    break;
                }
                let last = self.slots[head as usize].last;
                if now.secs_since(last) < timeout {
                    break;
                }
                if let Some(value) = self.remove(head) {
                    self.stats.timed_out += 1;
                    ended(value, EndReason::Timeout);
                }
            }
        }
    }

    /// Expiry of a list out of time order: every flow of the class idle for
    /// `timeout` ends, wherever it is in the list. The list is in order
    /// again once what stays is (removals keep the order of the rest).
    fn expire_scan(
        &mut self,
        class: usize,
        now: Timestamp,
        timeout: u64,
        ended: &mut dyn FnMut(T, EndReason),
    ) {
        let mut sorted = true;
        let mut previous: Option<Timestamp> = None;
        let mut at = self.heads[class];
        while at != NIL {
            let (next, last) = {
                let s = &self.slots[at as usize];
                (s.next, s.last)
            };
            if now.secs_since(last) >= timeout {
                if let Some(value) = self.remove(at) {
                    self.stats.timed_out += 1;
                    ended(value, EndReason::Timeout);
                }
            } else {
                if previous.is_some_and(|p| last < p) {
                    sorted = false;
                }
                previous = Some(last);
            }
            at = next;
        }
        if sorted {
            self.disordered[class] = false;
        }
    }

    /// Visits every tracked flow (in slot order), e.g. to report on flows
    /// that are still open.
    pub fn for_each(&self, f: &mut dyn FnMut(&T)) {
        for value in self.slots.iter().filter_map(|s| s.value.as_ref()) {
            f(value);
        }
    }

    /// Ends every flow (end of capture).
    pub fn drain(&mut self, ended: &mut dyn FnMut(T, EndReason)) {
        for class in 0..CLASSES {
            while self.heads[class] != NIL {
                let head = self.heads[class];
                if let Some(value) = self.remove(head) {
                    self.stats.flushed += 1;
                    ended(value, EndReason::Shutdown);
                }
            }
        }
    }

    fn evict_one(&mut self, ended: &mut dyn FnMut(T, EndReason)) -> bool {
        // The least recently active flow across classes, closed ones first.
        let order = [
            TimeoutClass::TcpClosed,
            TimeoutClass::TcpNew,
            TimeoutClass::Other,
            TimeoutClass::Udp,
            TimeoutClass::TcpEstablished,
        ];
        let victim = order
            .iter()
            .map(|c| self.heads[*c as usize])
            .filter(|&h| h != NIL)
            .min_by_key(|&h| {
                // Prefer closed flows outright, else the oldest activity.
                let s = &self.slots[h as usize];
                (s.class != TimeoutClass::TcpClosed, s.last)
            });
        let Some(victim) = victim else { return false };
        if let Some(value) = self.remove(victim) {
            self.stats.evicted += 1;
            ended(value, EndReason::Evicted);
        }
        true
    }

    fn remove(&mut self, slot: u32) -> Option<T> {
        self.unlink(slot);
        let s = self.slots.get_mut(slot as usize)?;
        let value = s.value.take();
        self.memory -= s.memory;
        s.memory = 0;
        let key = s.key;
        self.index.remove(&key);
        self.free.push(slot);
        self.stats.active = self.index.len() as u64;
        value
    }

    fn unlink(&mut self, slot: u32) {
        let (prev, next, class) = {
            let s = &self.slots[slot as usize];
            (s.prev, s.next, s.class as usize)
        };
        if prev == NIL {
            if self.heads[class] == slot {
                self.heads[class] = next;
            }
        } else {
            self.slots[prev as usize].next = next;
        }
        if next == NIL {
            if self.tails[class] == slot {
                self.tails[class] = prev;
            }
        } else {
            self.slots[next as usize].prev = prev;
        }
        let s = &mut self.slots[slot as usize];
        s.prev = NIL;
        s.next = NIL;
    }

    fn link_tail(&mut self, slot: u32) {
        let class = self.slots[slot as usize].class as usize;
        let tail = self.tails[class];
        if tail != NIL && self.slots[slot as usize].last < self.slots[tail as usize].last {
            self.disordered[class] = true;
        }
        {
            let s = &mut self.slots[slot as usize];
            s.prev = tail;
            s.next = NIL;
        }
        if tail == NIL {
            self.heads[class] = slot;
        } else {
            self.slots[tail as usize].next = slot;
        }
        self.tails[class] = slot;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn key(port: u16) -> FlowKey {
        let a = Endpoint {
            ip: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
            port,
        };
        let b = Endpoint {
            ip: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)),
            port: 502,
        };
        FlowKey::new(a, b, 6, [0, 0])
    }

    fn ts(secs: i64) -> Timestamp {
        Timestamp::new(secs, 0)
    }

    #[test]
    fn flow_ids_keep_the_values_of_earlier_versions() {
        // Values written by the sensor before the flow table moved to
        // rustc-hash: a SIEM correlating on flow_id across an upgrade sees
        // the same ids.
        let at = Timestamp::new(1_700_000_000, 123_456_789);
        assert_eq!(key(40_000).flow_id(at), 1_863_271_218_807_988);
        assert_eq!(key(1).flow_id(ts(0)), 1_058_511_598_008_461);
        let ip = |text: &str| text.parse().unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
        let a = Endpoint {
            ip: ip("fd00::1:2"),
            port: 20_000,
        };
        let b = Endpoint {
            ip: ip("fd00::9"),
            port: 20_000,
        };
        // UDP over IPv6 in two VLAN tags.
        let v6 = FlowKey::new(a, b, 17, [100, 200]);
        assert_eq!(v6.flow_id(ts(1)), 1_928_070_349_254_396);
    }

    #[test]
    fn key_is_direction_independent() {
        let a = Endpoint {
            ip: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 9)),
            port: 40000,
        };
        let b = Endpoint {
            ip: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)),
            port: 502,
        };
        assert_eq!(FlowKey::new(a, b, 6, [5, 0]), FlowKey::new(b, a, 6, [5, 0]));
        assert_ne!(
            FlowKey::new(a, b, 6, [5, 0]),
            FlowKey::new(a, b, 6, [6, 0]),
            "VLAN is part of the key"
        );
        assert!(FlowKey::new(a, b, 6, [0, 0]).flow_id(ts(1)) < 1 << 51);
    }

    #[test]
    fn flows_expire_by_their_own_activity_when_time_went_back() {
        // A replay of two files: the first a day later than the second. A
        // flow of the first file stays at the head of its list, "newer"
        // than what follows; the second file's flows must still end when
        // idle, not wait behind it.
        let mut t: FlowTable<u16> = FlowTable::new(FlowConfig::default());
        let mut ended = Vec::new();
        let mut end = |v, r| ended.push((v, r));
        let day = 86_400;
        t.insert(key(1), ts(day), TimeoutClass::TcpClosed, 1, &mut end);
        t.insert(key(2), ts(0), TimeoutClass::TcpClosed, 2, &mut end);
        let s3 = t.insert(key(3), ts(0), TimeoutClass::TcpClosed, 3, &mut end);
        t.touch(s3, ts(50), TimeoutClass::TcpClosed, 0);
        t.expire(ts(60), &mut end); // flow 2 closed and idle 60 s (> 30)
        t.expire(ts(day + 100), &mut end);
        assert_eq!(
            ended,
            vec![
                (2, EndReason::Timeout),
                (1, EndReason::Timeout),
                (3, EndReason::Timeout)
            ]
        );
        assert!(t.is_empty());
    }

    #[test]
    fn expires_by_class_timeout_in_lru_order() {
        let mut t: FlowTable<u16> = FlowTable::new(FlowConfig::default());
        let mut ended = Vec::new();
        let mut end = |v, r| ended.push((v, r));
        let s1 = t.insert(key(1), ts(0), TimeoutClass::TcpEstablished, 1, &mut end);
        let _s2 = t.insert(key(2), ts(10), TimeoutClass::TcpEstablished, 2, &mut end);
        let s3 = t.insert(key(3), ts(10), TimeoutClass::TcpNew, 3, &mut end);
        t.touch(s1, ts(20), TimeoutClass::TcpEstablished, 0);
        t.touch(s3, ts(20), TimeoutClass::TcpClosed, 0);
        t.expire(ts(3610), &mut end); // flow 2 idle 3600 s; closed flow 3 idle 3590 s > 30
        assert_eq!(
            ended,
            vec![(2, EndReason::Timeout), (3, EndReason::Timeout)]
        );
        assert_eq!(t.len(), 1);
        assert_eq!(t.stats.timed_out, 2);
    }

    #[test]
    fn evicts_least_recent_when_full_and_reuses_slots() {
        let config = FlowConfig {
            max_flows: 2,
            ..FlowConfig::default()
        };
        let mut t: FlowTable<u16> = FlowTable::new(config);
        let mut ended = Vec::new();
        let mut end = |v, r| ended.push((v, r));
        let a = t.insert(key(1), ts(0), TimeoutClass::TcpEstablished, 1, &mut end);
        t.insert(key(2), ts(1), TimeoutClass::TcpEstablished, 2, &mut end);
        t.touch(a, ts(2), TimeoutClass::TcpEstablished, 0);
        let c = t.insert(key(3), ts(3), TimeoutClass::TcpEstablished, 3, &mut end);
        assert_eq!(ended, vec![(2, EndReason::Evicted)]);
        assert_eq!(c, 1, "slot of the evicted flow is reused");
        assert_eq!(t.find(&key(2)), None);
        assert_eq!(t.stats.evicted, 1);
        let mut rest = Vec::new();
        t.drain(&mut |v, r| rest.push((v, r)));
        assert_eq!(
            rest,
            vec![(1, EndReason::Shutdown), (3, EndReason::Shutdown)]
        );
        assert_eq!(t.memory(), 0);
    }

    #[test]
    fn memcap_evicts() {
        let config = FlowConfig {
            memcap: FLOW_OVERHEAD * 2 + 100,
            ..FlowConfig::default()
        };
        let mut t: FlowTable<u16> = FlowTable::new(config);
        let mut ended = Vec::new();
        let mut end = |v, r| ended.push((v, r));
        let a = t.insert(key(1), ts(0), TimeoutClass::Udp, 1, &mut end);
        t.touch(a, ts(0), TimeoutClass::Udp, 200);
        t.insert(key(2), ts(1), TimeoutClass::Udp, 2, &mut end);
        assert_eq!(ended, vec![(1, EndReason::Evicted)]);
    }
}
