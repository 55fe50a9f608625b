//! IPv4 fragment reassembly with bounded memory.
//!
//! Fragments are grouped by (source, destination, protocol, identification).
//! A datagram is returned whole once every byte from 0 to the end of the last
//! fragment is present. Memory is bounded by [`FragLimits`]: bytes held
//! (Linux's default, 4 MiB, counting a fixed cost per datagram besides its
//! bytes) and datagrams held.
//!
//! When a fragment does not fit, room is made only at the expense of a
//! source holding more datagrams than the fragment's source will: the newest
//! datagram of the source holding the most datagrams (then the most bytes)
//! is dropped ([`FragStats::evicted`]). When no source holds more, the
//! fragment is refused instead ([`FragOutcome::Refused`],
//! [`FragStats::refused`]) and what is held stays. So a datagram is never
//! pushed out by sources holding as many datagrams as its own, however many
//! there are: a source with one datagram in progress (the usual case) keeps
//! it against any flood, from one source or from thousands of spoofed ones.
//! The limit that remains: such a flood, kept up, fills the table, and then
//! new datagrams (and growth beyond the byte budget) from sources holding no
//! more than the flood's are refused until the flood's datagrams time out.
//! That is a counted, reported loss, not a silent one.
//!
//! Every eviction, refusal and timeout is counted ([`FragStats`]). Fragments that
//! overlap earlier bytes with different content (an evasion technique) are
//! reported on every path, the fragment that completes a datagram included;
//! the first copy wins.

use std::collections::HashMap;
use std::net::IpAddr;

use crate::event::Timestamp;

/// Limits of the reassembler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FragLimits {
    /// Datagrams being reassembled at once.
    pub max_datagrams: usize,
    /// Bytes held across all datagrams, [`DATAGRAM_OVERHEAD`] per datagram
    /// included.
    pub max_bytes: usize,
    /// Seconds a datagram may wait for its missing fragments.
    pub timeout_secs: u64,
}

impl Default for FragLimits {
    fn default() -> Self {
        FragLimits {
            max_datagrams: 4096,
            max_bytes: 4 * 1024 * 1024,
            timeout_secs: 30,
        }
    }
}

/// Bytes charged to each datagram besides its data (key, ranges,
/// bookkeeping), so that many tiny datagrams also fill the byte budget.
pub const DATAGRAM_OVERHEAD: usize = 128;

/// What happened to one fragment.
#[derive(Debug, PartialEq, Eq)]
pub enum FragOutcome {
    /// Held; the datagram is not complete yet.
    Held,
    /// The datagram is complete: its payload (transport header first).
    Complete(Vec<u8>),
    /// The datagram is complete, and the fragment that completed it
    /// overlapped earlier bytes with different content (the first copy is
    /// in the payload).
    CompleteOverlapMismatch(Vec<u8>),
    /// The fragment overlaps earlier bytes with different content.
    OverlapMismatch,
    /// Dropped: the datagram would exceed 65 535 bytes, or the whole byte
    /// budget of the reassembler.
    TooLarge,
    /// Refused: the table is full and no source holds more datagrams than
    /// this fragment's source would (see the module documentation). A
    /// datagram already held keeps its fragments so far.
    Refused,
}

/// Counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FragStats {
    /// Fragments seen.
    pub fragments: u64,
    /// Datagrams completed.
    pub reassembled: u64,
    /// Datagrams dropped for memory or count limits.
    pub evicted: u64,
    /// Datagrams dropped after waiting too long.
    pub timed_out: u64,
    /// Overlaps with differing bytes.
    pub overlap_mismatches: u64,
    /// Fragments dropped because their datagram would exceed 65 535 bytes
    /// (or the whole byte budget).
    pub too_large: u64,
    /// Fragments refused because the table was full of datagrams from
    /// sources holding no more than theirs.
    pub refused: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Key {
    src: IpAddr,
    dst: IpAddr,
    protocol: u8,
    id: u32,
}

#[derive(Debug)]
struct Datagram {
    first_seen: Timestamp,
    /// Arrival order, to find a source's oldest datagram.
    order: u64,
    data: Vec<u8>,
    /// Received byte ranges, sorted and merged.
    have: Vec<(u32, u32)>,
    /// Total length, known once the last fragment arrived.
    total: Option<u32>,
}

impl Datagram {
    fn cost(&self) -> usize {
        self.data.len() + DATAGRAM_OVERHEAD
    }
}

/// Bytes and datagrams one source holds.
#[derive(Debug, Clone, Copy, Default)]
struct Usage {
    bytes: usize,
    datagrams: usize,
}

/// The reassembler.
#[derive(Debug, Default)]
pub struct Defragmenter {
    limits: FragLimits,
    datagrams: HashMap<Key, Datagram>,
    sources: HashMap<IpAddr, Usage>,
    held: usize,
    arrivals: u64,
    last_expiry: Option<i64>,
    /// Counters.
    pub stats: FragStats,
}

impl Defragmenter {
    /// A reassembler with these limits.
    pub fn new(limits: FragLimits) -> Defragmenter {
        Defragmenter {
            limits,
            ..Defragmenter::default()
        }
    }

    /// Adds one fragment.
    #[allow(clippy::too_many_arguments)]
    pub fn add(
        &mut self,
        ts: Timestamp,
        src: IpAddr,
        dst: IpAddr,
        protocol: u8,
        id: u32,
        offset: u32,
        more: bool,
        payload: &[u8],
    ) -> FragOutcome {
        self.stats.fragments += 1;
        if self.last_expiry != Some(ts.secs) {
            self.last_expiry = Some(ts.secs);
            self.expire(ts);
        }
        let end = offset + payload.len() as u32;
        if end > 65_535 {
            self.stats.too_large += 1;
            return FragOutcome::TooLarge;
        }
        let key = Key {
            src,
            dst,
            protocol,
            id,
        };
        let grow = match self.datagrams.get(&key) {
            Some(d) => (end as usize).saturating_sub(d.data.len()),
            None => end as usize + DATAGRAM_OVERHEAD,
        };
        let is_new = !self.datagrams.contains_key(&key);
        let own = self.datagrams.get(&key).map_or(0, Datagram::cost);
        if own + grow > self.limits.max_bytes {
            // Larger than the whole budget even alone: dropped, and with it
            // what was held of the datagram.
            self.stats.too_large += 1;
            if let Some(old) = self.datagrams.remove(&key) {
                self.release(src, old.cost());
                self.stats.evicted += 1;
            }
            return FragOutcome::TooLarge;
        }
        // The datagrams src will hold once this fragment is in.
        let after = self.sources.get(&src).map_or(0, |u| u.datagrams) + usize::from(is_new);
        while (is_new && self.datagrams.len() >= self.limits.max_datagrams)
            || self.held + grow > self.limits.max_bytes
        {
            if !self.evict_one(&key, after) {
                self.stats.refused += 1;
                return FragOutcome::Refused;
            }
        }
        let order = self.arrivals;
        self.arrivals += 1;
        let dgram = self.datagrams.entry(key).or_insert_with(|| Datagram {
            first_seen: ts,
            order,
            data: Vec::new(),
            have: Vec::new(),
            total: None,
        });
        let usage = self.sources.entry(src).or_default();
        if is_new {
            usage.datagrams += 1;
            usage.bytes += DATAGRAM_OVERHEAD;
            self.held += DATAGRAM_OVERHEAD;
        }
        if dgram.data.len() < end as usize {
            let added = end as usize - dgram.data.len();
            self.held += added;
            usage.bytes += added;
            dgram.data.resize(end as usize, 0);
        }
        // Compare overlaps with what is already there; first copy wins.
        let mut mismatch = false;
        for (i, &byte) in payload.iter().enumerate() {
            let at = offset + i as u32;
            let present = dgram.have.iter().any(|&(s, e)| s <= at && at < e);
            if present {
                if dgram.data[at as usize] != byte {
                    mismatch = true;
                }
            } else {
                dgram.data[at as usize] = byte;
            }
        }
        insert_range(&mut dgram.have, offset, end);
        if !more {
            dgram.total = Some(end);
        }
        if mismatch {
            self.stats.overlap_mismatches += 1;
        }
        let complete = match (dgram.total, dgram.have.first()) {
            (Some(total), Some(&(0, e))) => e >= total,
            _ => false,
        };
        if complete {
            if let Some(mut dgram) = self.datagrams.remove(&key) {
                self.release(src, dgram.cost());
                if let Some(total) = dgram.total {
                    dgram.data.truncate(total as usize);
                }
                self.stats.reassembled += 1;
                return if mismatch {
                    FragOutcome::CompleteOverlapMismatch(dgram.data)
                } else {
                    FragOutcome::Complete(dgram.data)
                };
            }
        }
        if mismatch {
            FragOutcome::OverlapMismatch
        } else {
            FragOutcome::Held
        }
    }

    /// Drops the newest datagram (never `keep`) of the source holding the
    /// most datagrams, then the most bytes, if it holds more than `after`
    /// (what `keep`'s source will hold); false when no source does.
    fn evict_one(&mut self, keep: &Key, after: usize) -> bool {
        let heaviest = self
            .sources
            .iter()
            .filter(|(_, u)| u.datagrams > after)
            .max_by_key(|(_, u)| (u.datagrams, u.bytes))
            .map(|(&ip, _)| ip);
        let Some(heaviest) = heaviest else {
            return false;
        };
        // Its newest: a source flooding the table has its junk last, and a
        // datagram it had in progress before the flood stays longest.
        let victim = self
            .datagrams
            .iter()
            .filter(|(k, _)| *k != keep && k.src == heaviest)
            .max_by_key(|(_, d)| d.order)
            .map(|(k, _)| *k);
        let Some(victim) = victim else {
            return false;
        };
        if let Some(old) = self.datagrams.remove(&victim) {
            self.release(victim.src, old.cost());
            self.stats.evicted += 1;
        }
        true
    }

    fn release(&mut self, src: IpAddr, cost: usize) {
        self.held = self.held.saturating_sub(cost);
        if let Some(u) = self.sources.get_mut(&src) {
            u.bytes = u.bytes.saturating_sub(cost);
            u.datagrams = u.datagrams.saturating_sub(1);
            if u.datagrams == 0 {
                self.sources.remove(&src);
            }
        }
    }

    fn expire(&mut self, now: Timestamp) {
        let timeout = self.limits.timeout_secs;
        let expired: Vec<Key> = self
            .datagrams
            .iter()
            .filter(|(_, d)| now.secs_since(d.first_seen) >= timeout)
            .map(|(k, _)| *k)
            .collect();
        for key in expired {
            if let Some(old) = self.datagrams.remove(&key) {
                self.release(key.src, old.cost());
                self.stats.timed_out += 1;
            }
        }
    }

    /// Datagrams being reassembled.
    pub fn pending(&self) -> usize {
        self.datagrams.len()
    }

    /// Bytes held (data and per-datagram overhead).
    pub fn held_bytes(&self) -> usize {
        self.held
    }
}

fn insert_range(ranges: &mut Vec<(u32, u32)>, start: u32, end: u32) {
    ranges.push((start, end));
    ranges.sort_unstable();
    let mut merged: Vec<(u32, u32)> = Vec::with_capacity(ranges.len());
    for &(s, e) in ranges.iter() {
        match merged.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => merged.push((s, e)),
        }
    }
    *ranges = merged;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    const A: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
    const B: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));

    #[test]
    fn reassembles_out_of_order_fragments() {
        let mut d = Defragmenter::new(FragLimits::default());
        let ts = Timestamp::new(1, 0);
        assert_eq!(d.add(ts, A, B, 6, 7, 8, false, b"89"), FragOutcome::Held);
        assert_eq!(
            d.add(ts, A, B, 6, 7, 0, true, b"01234567"),
            FragOutcome::Complete(b"0123456789".to_vec())
        );
        assert_eq!(d.pending(), 0);
        assert_eq!(d.stats.reassembled, 1);
    }

    #[test]
    fn reports_overlap_with_different_bytes() {
        let mut d = Defragmenter::new(FragLimits::default());
        let ts = Timestamp::new(1, 0);
        assert_eq!(
            d.add(ts, A, B, 6, 9, 0, true, b"abcdefgh"),
            FragOutcome::Held
        );
        assert_eq!(
            d.add(ts, A, B, 6, 9, 0, true, b"abcdXfgh"),
            FragOutcome::OverlapMismatch
        );
        assert_eq!(
            d.add(ts, A, B, 6, 9, 8, false, b"ij"),
            FragOutcome::Complete(b"abcdefghij".to_vec())
        );
    }

    #[test]
    fn bounds_memory_and_times_out() {
        let limits = FragLimits {
            max_datagrams: 2,
            max_bytes: 1000,
            timeout_secs: 5,
        };
        let mut d = Defragmenter::new(limits);
        for id in 0..3 {
            d.add(Timestamp::new(1, 0), A, B, 17, id, 0, true, b"xxxxxxxx");
        }
        // The third is refused: no other source holds more than A would.
        assert_eq!(d.pending(), 2);
        assert_eq!((d.stats.evicted, d.stats.refused), (0, 1));
        d.add(Timestamp::new(10, 0), A, B, 17, 99, 0, true, b"yyyyyyyy");
        assert_eq!(d.stats.timed_out, 2);
        assert_eq!(d.pending(), 1);
        assert_eq!(
            d.add(
                Timestamp::new(10, 0),
                A,
                B,
                17,
                5,
                65_528,
                true,
                b"0123456789"
            ),
            FragOutcome::TooLarge
        );
    }

    const C: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 3));

    #[test]
    fn junk_from_other_sources_cannot_evict_a_datagram_in_progress() {
        for junk in [1_100u32, 5_000] {
            let mut d = Defragmenter::new(FragLimits::default());
            let ts = Timestamp::new(1, 0);
            // The first half of A's datagram.
            assert_eq!(
                d.add(ts, A, B, 6, 7, 0, true, &[0x11; 16]),
                FragOutcome::Held
            );
            // Incomplete first fragments of other datagrams from ten other
            // sources, 48 bytes each.
            for i in 0..junk {
                let src = IpAddr::V4(Ipv4Addr::new(192, 0, 2, (i % 10) as u8));
                d.add(ts, src, B, 17, i, 0, true, &[0xee; 48]);
            }
            // Beyond the table's 4,096 datagrams the junk is refused: the
            // ten sources hold about as many as each other.
            let lost = u64::from(junk).saturating_sub(4095);
            assert_eq!(
                d.stats.evicted + d.stats.refused,
                lost,
                "{junk} junk fragments"
            );
            assert!(d.held_bytes() <= FragLimits::default().max_bytes);
            // A's last fragment still completes the datagram.
            let mut whole = vec![0x11; 16];
            whole.extend_from_slice(&[0x22; 8]);
            assert_eq!(
                d.add(ts, A, B, 6, 7, 16, false, &[0x22; 8]),
                FragOutcome::Complete(whole),
                "{junk} junk fragments"
            );
        }
    }

    #[test]
    fn junk_from_thousands_of_spoofed_sources_cannot_evict_a_datagram_in_progress() {
        // Review D3: 5,000 sources with one 8-byte first fragment each (cost
        // 136). A's datagram (16 bytes, cost 144) is then the heaviest by
        // bytes; ranked by bytes it was the first to go. Ranked by datagrams
        // nobody holds more than A, so the junk beyond the table is refused.
        let mut d = Defragmenter::new(FragLimits::default());
        let ts = Timestamp::new(1, 0);
        assert_eq!(
            d.add(ts, A, B, 6, 7, 0, true, &[0x11; 16]),
            FragOutcome::Held
        );
        let mut refused = 0;
        for i in 0..5_000u32 {
            let src = IpAddr::V4(Ipv4Addr::from(0xc633_0000 + i)); // 198.51.x.y
            if d.add(ts, src, B, 17, i, 0, true, &[0xee; 8]) == FragOutcome::Refused {
                refused += 1;
            }
        }
        assert_eq!(refused, 5_000 - 4_095);
        assert_eq!((d.stats.refused, d.stats.evicted), (905, 0));
        assert_eq!(d.pending(), 4_096);
        let mut whole = vec![0x11; 16];
        whole.extend_from_slice(&[0x22; 8]);
        assert_eq!(
            d.add(ts, A, B, 6, 7, 16, false, &[0x22; 8]),
            FragOutcome::Complete(whole)
        );
        // A new datagram from a source holding none is refused too (the
        // limit that remains, counted), while a source flooding with many
        // datagrams gives way to it.
        let fresh = IpAddr::V4(Ipv4Addr::new(10, 9, 9, 9));
        d.add(ts, fresh, B, 6, 1, 0, true, &[1; 8]);
        assert_eq!(d.stats.refused, 905, "A's completion made room for one");
        assert_eq!(
            d.add(ts, fresh, B, 6, 2, 0, true, &[1; 8]),
            FragOutcome::Refused
        );
    }

    #[test]
    fn a_source_flooding_with_many_datagrams_gives_way() {
        // One source holds the whole table (4,096 datagrams); another
        // source's new datagram evicts the flood's newest, not its oldest.
        let mut d = Defragmenter::new(FragLimits::default());
        let ts = Timestamp::new(1, 0);
        for i in 0..4_096u32 {
            d.add(ts, C, B, 17, i, 0, true, &[0xee; 8]);
        }
        assert_eq!(
            d.add(ts, A, B, 6, 7, 0, true, &[0x11; 16]),
            FragOutcome::Held
        );
        assert_eq!((d.stats.evicted, d.stats.refused), (1, 0));
        assert_eq!(
            d.add(ts, C, B, 17, 0, 8, false, &[0xee; 8]),
            FragOutcome::Complete(vec![0xee; 16]),
            "the flood's oldest datagram is still there"
        );
        assert_eq!(
            d.add(ts, C, B, 17, 4_095, 8, false, &[0xee; 8]),
            FragOutcome::Held
        );
    }

    #[test]
    fn the_source_holding_most_datagrams_gives_way_first() {
        let limits = FragLimits {
            max_datagrams: 100,
            max_bytes: 4 * (DATAGRAM_OVERHEAD + 1000),
            timeout_secs: 30,
        };
        let mut d = Defragmenter::new(limits);
        let ts = Timestamp::new(1, 0);
        d.add(ts, A, B, 6, 1, 0, true, &[1; 100]); // A: small, oldest
        d.add(ts, C, B, 6, 2, 0, true, &[2; 1000]);
        d.add(ts, C, B, 6, 3, 0, true, &[3; 1000]);
        d.add(ts, C, B, 6, 4, 0, true, &[4; 1000]);
        // Does not fit: C holds the most datagrams, its newest (id 4) goes.
        d.add(ts, B, A, 6, 5, 0, true, &[5; 1000]);
        assert_eq!(d.stats.evicted, 1);
        assert_eq!(d.pending(), 4);
        assert_eq!(
            d.add(ts, A, B, 6, 1, 100, false, &[9; 4]),
            FragOutcome::Complete([vec![1; 100], vec![9; 4]].concat())
        );
        // C's first two datagrams are still there, its third is not.
        assert_eq!(
            d.add(ts, C, B, 6, 2, 1000, false, &[7]),
            FragOutcome::Complete([vec![2; 1000], vec![7]].concat())
        );
        assert_eq!(
            d.add(ts, C, B, 6, 3, 1000, false, &[7]),
            FragOutcome::Complete([vec![3; 1000], vec![7]].concat())
        );
        assert_eq!(d.add(ts, C, B, 6, 4, 1000, false, &[7]), FragOutcome::Held);
    }

    #[test]
    fn a_datagram_larger_than_the_budget_is_dropped_and_counted() {
        let limits = FragLimits {
            max_datagrams: 8,
            max_bytes: 1024,
            timeout_secs: 30,
        };
        let mut d = Defragmenter::new(limits);
        let ts = Timestamp::new(1, 0);
        assert_eq!(d.add(ts, A, B, 6, 1, 0, true, &[0; 800]), FragOutcome::Held);
        assert_eq!(
            d.add(ts, A, B, 6, 1, 800, true, &[0; 800]),
            FragOutcome::TooLarge
        );
        assert_eq!((d.stats.too_large, d.stats.evicted, d.pending()), (1, 1, 0));
        assert_eq!(d.held_bytes(), 0);
    }

    #[test]
    fn an_overlap_in_the_completing_fragment_is_reported() {
        let mut d = Defragmenter::new(FragLimits::default());
        let ts = Timestamp::new(1, 0);
        assert_eq!(
            d.add(ts, A, B, 6, 3, 0, true, b"abcdefgh"),
            FragOutcome::Held
        );
        // The last fragment starts 4 bytes early with other bytes there.
        assert_eq!(
            d.add(ts, A, B, 6, 3, 4, false, b"WXYZij"),
            FragOutcome::CompleteOverlapMismatch(b"abcdefghij".to_vec())
        );
        assert_eq!(d.stats.overlap_mismatches, 1);
        // The same bytes again are no mismatch.
        d.add(ts, A, B, 6, 4, 0, true, b"abcdefgh");
        assert_eq!(
            d.add(ts, A, B, 6, 4, 4, false, b"efghij"),
            FragOutcome::Complete(b"abcdefghij".to_vec())
        );
        assert_eq!(d.held_bytes(), 0);
    }
}
