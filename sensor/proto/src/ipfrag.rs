//! IPv4 fragment reassembly with bounded memory.
//!
//! Fragments are grouped by (source, destination, protocol, identification).
//! A datagram is returned whole once every byte from 0 to the end of the last
//! fragment is present. Memory is bounded by [`FragLimits`]: past the limit the
//! oldest datagram is dropped and counted. Fragments that overlap with
//! different bytes (an evasion technique) are reported.

use std::net::IpAddr;

use crate::event::Timestamp;

/// Limits of the reassembler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FragLimits {
    /// Datagrams being reassembled at once.
    pub max_datagrams: usize,
    /// Bytes held across all datagrams.
    pub max_bytes: usize,
    /// Seconds a datagram may wait for its missing fragments.
    pub timeout_secs: u64,
}

impl Default for FragLimits {
    fn default() -> Self {
        FragLimits {
            max_datagrams: 1024,
            max_bytes: 4 * 1024 * 1024,
            timeout_secs: 30,
        }
    }
}

/// What happened to one fragment.
#[derive(Debug, PartialEq, Eq)]
pub enum FragOutcome {
    /// Held; the datagram is not complete yet.
    Held,
    /// The datagram is complete: its payload (transport header first).
    Complete(Vec<u8>),
    /// The fragment overlaps earlier bytes with different content.
    OverlapMismatch,
    /// Dropped: the datagram would exceed 65 535 bytes.
    TooLarge,
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
    key: Key,
    first_seen: Timestamp,
    data: Vec<u8>,
    /// Received byte ranges, sorted and merged.
    have: Vec<(u32, u32)>,
    /// Total length, known once the last fragment arrived.
    total: Option<u32>,
}

/// The reassembler.
#[derive(Debug, Default)]
pub struct Defragmenter {
    limits: FragLimits,
    datagrams: Vec<Datagram>,
    held: usize,
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
        self.expire(ts);
        let end = offset + payload.len() as u32;
        if end > 65_535 {
            return FragOutcome::TooLarge;
        }
        let key = Key {
            src,
            dst,
            protocol,
            id,
        };
        let index = match self.datagrams.iter().position(|d| d.key == key) {
            Some(i) => i,
            None => {
                while self.datagrams.len() >= self.limits.max_datagrams
                    || (self.held + payload.len() > self.limits.max_bytes
                        && !self.datagrams.is_empty())
                {
                    let old = self.datagrams.remove(0);
                    self.held -= old.data.len();
                    self.stats.evicted += 1;
                }
                self.datagrams.push(Datagram {
                    key,
                    first_seen: ts,
                    data: Vec::new(),
                    have: Vec::new(),
                    total: None,
                });
                self.datagrams.len() - 1
            }
        };
        let dgram = &mut self.datagrams[index];
        let mut mismatch = false;
        if dgram.data.len() < end as usize {
            self.held += end as usize - dgram.data.len();
            dgram.data.resize(end as usize, 0);
        }
        // Compare overlaps with what is already there; first copy wins.
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
            let mut dgram = self.datagrams.remove(index);
            self.held -= dgram.data.len();
            if let Some(total) = dgram.total {
                dgram.data.truncate(total as usize);
            }
            self.stats.reassembled += 1;
            return FragOutcome::Complete(dgram.data);
        }
        if mismatch {
            FragOutcome::OverlapMismatch
        } else {
            FragOutcome::Held
        }
    }

    fn expire(&mut self, now: Timestamp) {
        let timeout = self.limits.timeout_secs;
        let before = self.datagrams.len();
        let mut freed = 0;
        self.datagrams.retain(|d| {
            let keep = now.secs_since(d.first_seen) < timeout;
            if !keep {
                freed += d.data.len();
            }
            keep
        });
        self.held -= freed;
        self.stats.timed_out += (before - self.datagrams.len()) as u64;
    }

    /// Datagrams being reassembled.
    pub fn pending(&self) -> usize {
        self.datagrams.len()
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
        assert_eq!(d.pending(), 2);
        assert_eq!(d.stats.evicted, 1);
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
}
