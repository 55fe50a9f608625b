//! DNP3 over TCP port 20000: a master polls outstations with integrity polls
//! (class 0123 reads) answered by multi-fragment responses (FIR/FIN over
//! several application fragments, each longer than one link frame, so the
//! transport layer spreads it over several frames), event polls (class 1, 2,
//! 3 reads) answered by events or a null response, confirms of every
//! response that asks for one, and unsolicited responses from the
//! outstations. Every link frame carries CRC-16/DNP over its header and over
//! each 16-byte block of user data.

use std::net::Ipv4Addr;

use super::net::{self, HostAddr};
use super::tcp::{Dir, Pdu, Segmenting, TcpConn};
use super::{Class, Cx, Rng, Source};

/// The DNP3 port.
pub const PORT: u16 = 20_000;
/// Link address of the master.
pub(crate) const MASTER_ADDRESS: u16 = 1;

/// Application control bits.
const FIR: u8 = 0x80;
const FIN: u8 = 0x40;
const CON: u8 = 0x20;
const UNS: u8 = 0x10;

/// Link control of a master's frame (DIR, PRM, unconfirmed user data).
pub(crate) const LINK_FROM_MASTER: u8 = 0xc4;
/// Link control of an outstation's frame (PRM, unconfirmed user data).
pub(crate) const LINK_FROM_OUTSTATION: u8 = 0x44;

/// CRC-16/DNP (polynomial 0x3D65 reflected, initial value 0, final
/// complement), as sent little-endian after each block.
pub fn crc16_dnp(bytes: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &b in bytes {
        crc = (crc >> 8) ^ CRC_TABLE[usize::from((crc ^ u16::from(b)) & 0xff)];
    }
    !crc
}

const CRC_TABLE: [u16; 256] = {
    let mut table = [0u16; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u16;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 == 1 {
                (c >> 1) ^ 0xa6bc
            } else {
                c >> 1
            };
            k += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
};

/// One link frame: header (start octets, length, control, destination,
/// source, CRC) and `user` data (at most 250 bytes) in CRC-protected
/// 16-byte blocks.
pub(crate) fn link_frame(out: &mut Vec<u8>, control: u8, dst: u16, src: u16, user: &[u8]) {
    let start = out.len();
    out.extend_from_slice(&[0x05, 0x64, (5 + user.len().min(250)) as u8, control]);
    out.extend_from_slice(&dst.to_le_bytes());
    out.extend_from_slice(&src.to_le_bytes());
    let crc = crc16_dnp(&out[start..]);
    out.extend_from_slice(&crc.to_le_bytes());
    for block in user.chunks(16).take(16) {
        out.extend_from_slice(block);
        out.extend_from_slice(&crc16_dnp(block).to_le_bytes());
    }
}

/// An application fragment in transport segments and link frames. Returns
/// the bytes and advances the transport sequence number per frame.
///
/// A fragment may start at any transport sequence number (only the
/// segments after the first must follow on). Masters here number their
/// segments within 32–63 and outstations within 0–31, starting a fragment
/// at the bottom of their half when it would not fit: analysers that key
/// transport reassembly by conversation and sequence number (tshark 4.0)
/// otherwise now and then hand a response the bytes of an old request that
/// had the same number.
pub(crate) fn frames(control: u8, dst: u16, src: u16, fragment: &[u8], tseq: &mut u8) -> Vec<u8> {
    let mut out = Vec::with_capacity(fragment.len() + fragment.len() / 8 + 16);
    let chunks: Vec<&[u8]> = fragment.chunks(249).collect();
    let n = chunks.len();
    let low = if control & 0x80 != 0 { 32 } else { 0 };
    if *tseq < low || usize::from(*tseq) + n > usize::from(low) + 32 {
        *tseq = low;
    }
    for (i, chunk) in chunks.into_iter().enumerate() {
        let mut user = Vec::with_capacity(1 + chunk.len());
        let mut th = *tseq & 0x3f;
        if i == 0 {
            th |= 0x40; // FIR
        }
        if i + 1 == n {
            th |= 0x80; // FIN
        }
        user.push(th);
        user.extend_from_slice(chunk);
        link_frame(&mut out, control, dst, src, &user);
        *tseq = (*tseq + 1) & 0x3f;
    }
    out
}

/// A block of static points: group, variation, first index, values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Block {
    group: u8,
    variation: u8,
    /// Bytes per point.
    size: usize,
    first: u16,
    count: u16,
}

/// Appends a start-stop (qualifier 0x01) object header and random points.
fn static_block(rng: &mut Rng, out: &mut Vec<u8>, b: Block) {
    out.extend_from_slice(&[b.group, b.variation, 0x01]);
    out.extend_from_slice(&b.first.to_le_bytes());
    out.extend_from_slice(&(b.first + b.count - 1).to_le_bytes());
    for _ in 0..b.count {
        if b.size == 1 {
            // flags: online, state bit now and then
            out.push(if rng.chance(0.3) { 0x81 } else { 0x01 });
        } else {
            out.push(0x01); // online
            let v = rng.range(0, 20_000) as u32;
            out.extend_from_slice(&v.to_le_bytes()[..b.size - 1]);
        }
    }
}

/// Event objects (g2v2 binary events with time, g32v1 analog events) with
/// 2-byte index prefixes and a 2-byte count (qualifier 0x28).
fn events(rng: &mut Rng, out: &mut Vec<u8>, now_ms: u64, binaries: u16, analogs: u16) {
    if binaries > 0 {
        out.extend_from_slice(&[2, 2, 0x28]);
        out.extend_from_slice(&binaries.to_le_bytes());
        for _ in 0..binaries {
            out.extend_from_slice(&(rng.range(0, 63) as u16).to_le_bytes());
            out.push(if rng.chance(0.5) { 0x81 } else { 0x01 });
            out.extend_from_slice(&now_ms.to_le_bytes()[..6]);
        }
    }
    if analogs > 0 {
        out.extend_from_slice(&[32, 1, 0x28]);
        out.extend_from_slice(&analogs.to_le_bytes());
        for _ in 0..analogs {
            out.extend_from_slice(&(rng.range(0, 99) as u16).to_le_bytes());
            out.push(0x01);
            out.extend_from_slice(&(rng.range(0, 20_000) as u32).to_le_bytes());
        }
    }
}

/// The class reads of an integrity poll (classes 1, 2, 3, then 0).
pub(crate) fn class_read(classes: &[u8]) -> Vec<u8> {
    let mut o = Vec::new();
    for &v in classes {
        o.extend_from_slice(&[60, v, 0x06]); // g60vN, all objects
    }
    o
}

/// A master's connection to one outstation.
pub(crate) struct Session {
    conn: TcpConn,
    rng: Rng,
    outstation: u16,
    started: bool,
    seq: u8,
    unsolicited_seq: u8,
    tseq_master: u8,
    tseq_outstation: u8,
    event_period: u64,
    integrity_period: u64,
    unsolicited_period: u64,
    next_integrity: u64,
    next_unsolicited: u64,
    next_event: u64,
    blocks: Vec<Block>,
}

impl Session {
    /// Sends an application fragment from the master (a request).
    fn master_sends(&mut self, cx: &mut Cx, t: u64, fragment: &[u8]) -> u64 {
        let bytes = frames(
            LINK_FROM_MASTER,
            self.outstation,
            MASTER_ADDRESS,
            fragment,
            &mut self.tseq_master,
        );
        let n = bytes.len();
        self.conn.send(
            cx,
            &mut self.rng,
            Dir::ToServer,
            t,
            &bytes,
            &[Pdu::Request(n)],
            Segmenting::OT,
        )
    }

    /// Sends an application fragment from the outstation (a response),
    /// sometimes one link frame per segment.
    fn outstation_sends(&mut self, cx: &mut Cx, t: u64, fragment: &[u8]) -> u64 {
        let bytes = frames(
            LINK_FROM_OUTSTATION,
            MASTER_ADDRESS,
            self.outstation,
            fragment,
            &mut self.tseq_outstation,
        );
        let n = bytes.len();
        if n > 292 && self.rng.chance(0.5) {
            // One TCP segment per link frame (292 bytes for a full one).
            let mut te = t;
            let mut start = 0;
            while start < n {
                let end = (start + 292).min(n);
                let pdus: &[Pdu] = if end == n {
                    &[Pdu::Response(end - start)]
                } else {
                    &[]
                };
                te = self.conn.send(
                    cx,
                    &mut self.rng,
                    Dir::ToClient,
                    te,
                    bytes.get(start..end).unwrap_or(&[]),
                    pdus,
                    Segmenting::OT,
                ) + self.rng.range(40, 300);
                start = end;
            }
            return te;
        }
        self.conn.send(
            cx,
            &mut self.rng,
            Dir::ToClient,
            t,
            &bytes,
            &[Pdu::Response(n)],
            Segmenting::OT,
        )
    }

    fn next_seq(&mut self) -> u8 {
        let s = self.seq;
        self.seq = (self.seq + 1) & 0x0f;
        s
    }

    fn confirm(&mut self, cx: &mut Cx, t: u64, seq: u8, unsolicited: bool) -> u64 {
        let ac = FIR | FIN | if unsolicited { UNS } else { 0 } | (seq & 0x0f);
        self.master_sends(cx, t, &[ac, 0x00])
    }

    fn integrity(&mut self, cx: &mut Cx, t: u64) -> u64 {
        let seq = self.next_seq();
        let mut req = vec![FIR | FIN | seq, 0x01];
        req.extend_from_slice(&class_read(&[2, 3, 4, 1]));
        let mut te = self.master_sends(cx, t, &req);
        // Points packed into fragments of at most 600 bytes.
        let mut fragments: Vec<Vec<u8>> = Vec::new();
        let mut body = Vec::new();
        for b in self.blocks.clone() {
            let mut b = b;
            while b.count > 0 {
                let room = 600usize.saturating_sub(4 + body.len() + 7);
                let fit = (room / b.size).min(usize::from(b.count)) as u16;
                if fit == 0 {
                    fragments.push(std::mem::take(&mut body));
                    continue;
                }
                let part = Block { count: fit, ..b };
                static_block(&mut self.rng, &mut body, part);
                b.first += fit;
                b.count -= fit;
            }
        }
        if !body.is_empty() {
            fragments.push(body);
        }
        let n = fragments.len();
        let mut rseq = seq;
        te += self.rng.range(10_000, 40_000);
        for (i, objects) in fragments.into_iter().enumerate() {
            let mut ac = rseq;
            if i == 0 {
                ac |= FIR;
            }
            if i + 1 == n {
                ac |= FIN;
            }
            if n > 1 {
                ac |= CON;
            }
            let mut frag = vec![ac, 0x81, 0x00, 0x00];
            frag.extend_from_slice(&objects);
            te = self.outstation_sends(cx, te, &frag);
            if n > 1 {
                let tc = te + self.rng.range(1_000, 4_000);
                te = self.confirm(cx, tc, rseq, false);
                te += self.rng.range(2_000, 6_000);
            }
            rseq = (rseq + 1) & 0x0f;
        }
        te
    }

    fn event_poll(&mut self, cx: &mut Cx, t: u64) -> u64 {
        let seq = self.next_seq();
        let mut req = vec![FIR | FIN | seq, 0x01];
        req.extend_from_slice(&class_read(&[2, 3, 4]));
        let te = self.master_sends(cx, t, &req);
        let te = te + self.rng.range(3_000, 15_000);
        let has_events = self.rng.chance(0.3);
        let ac = FIR | FIN | seq | if has_events { CON } else { 0 };
        let mut frag = vec![ac, 0x81, if has_events { 0x02 } else { 0x00 }, 0x00];
        if has_events {
            let b = self.rng.range(0, 4) as u16;
            let a = self.rng.range(1, 6) as u16;
            events(&mut self.rng, &mut frag, te / 1000, b, a);
        }
        let te = self.outstation_sends(cx, te, &frag);
        if has_events {
            let tc = te + self.rng.range(1_000, 4_000);
            return self.confirm(cx, tc, seq, false);
        }
        if self.rng.chance(0.5) {
            let ta = te + self.rng.range(200, 600);
            self.conn.ack(cx, Dir::ToServer, ta);
            return ta;
        }
        te
    }

    fn unsolicited(&mut self, cx: &mut Cx, t: u64) -> u64 {
        let seq = self.unsolicited_seq;
        self.unsolicited_seq = (seq + 1) & 0x0f;
        let mut frag = vec![FIR | FIN | CON | UNS | seq, 0x82, 0x00, 0x00];
        let b = self.rng.range(1, 3) as u16;
        let a = self.rng.range(0, 3) as u16;
        events(&mut self.rng, &mut frag, t / 1000, b, a);
        let te = self.outstation_sends(cx, t, &frag);
        let tc = te + self.rng.range(1_000, 5_000);
        self.confirm(cx, tc, seq, true)
    }
}

impl Source for Session {
    fn reseed(&mut self, salt: u64) {
        self.rng = Rng::new(salt);
    }

    fn step(&mut self, now: u64, cx: &mut Cx) -> Option<u64> {
        if !self.started {
            self.started = true;
            let t = self.conn.handshake(cx, now, self.rng.range(200, 900));
            let te = self.integrity(cx, t + 2_000);
            self.next_integrity = now + self.integrity_period;
            self.next_event = te + self.rng.range(10_000, self.event_period);
            self.next_unsolicited = now + self.rng.range(1_000_000, self.unsolicited_period);
            return Some(self.next_event.min(self.next_unsolicited));
        }
        let te = if now >= self.next_unsolicited && self.next_unsolicited <= self.next_event {
            self.next_unsolicited = now
                + self
                    .rng
                    .range(self.unsolicited_period / 2, self.unsolicited_period);
            self.unsolicited(cx, now)
        } else if now >= self.next_integrity {
            self.next_integrity = now + self.integrity_period;
            self.next_event = now + self.event_period;
            self.integrity(cx, now)
        } else {
            let jitter = self.event_period / 10;
            self.next_event = now + self.event_period - jitter + self.rng.range(0, 2 * jitter);
            self.event_poll(cx, now)
        };
        let next = self.next_event.min(self.next_unsolicited).max(te + 2_000);
        if self.next_event < next {
            self.next_event = next;
        }
        if self.next_unsolicited < next {
            self.next_unsolicited = next;
        }
        Some(next)
    }
}

/// The DNP3 master front end.
pub(crate) fn master() -> HostAddr {
    net::host(Ipv4Addr::new(10, 10, 1, 12), net::OUI_DELL, 128)
}

/// The outstations.
pub(crate) fn outstations() -> Vec<HostAddr> {
    (1..=30u8)
        .map(|i| net::host(Ipv4Addr::new(10, 10, 5, i), net::OUI_SEL, 64))
        .collect()
}

/// The link address of outstation `i` (0-based).
pub(crate) fn outstation_address(i: usize) -> u16 {
    10 + i as u16
}

/// The DNP3 sources of the plant.
pub(crate) fn build(rng: &mut Rng, start: u64, all: &mut Vec<(u64, Box<dyn Source>)>) {
    let master = master();
    for (i, &o) in outstations().iter().enumerate() {
        let mut r = rng.fork();
        let vlan = if i % 4 == 0 { Some(30) } else { None };
        let conn = TcpConn::new(
            &mut r,
            master,
            52_000 + i as u16 * 5,
            o,
            PORT,
            vlan,
            Class::Dnp3,
        );
        let blocks = vec![
            Block {
                group: 1,
                variation: 2,
                size: 1,
                first: 0,
                count: r.range(32, 64) as u16,
            },
            Block {
                group: 10,
                variation: 2,
                size: 1,
                first: 0,
                count: r.range(8, 16) as u16,
            },
            Block {
                group: 20,
                variation: 1,
                size: 5,
                first: 0,
                count: r.range(16, 40) as u16,
            },
            Block {
                group: 30,
                variation: 1,
                size: 5,
                first: 0,
                count: r.range(60, 100) as u16,
            },
            Block {
                group: 40,
                variation: 1,
                size: 5,
                first: 0,
                count: r.range(4, 12) as u16,
            },
        ];
        let s = Session {
            conn,
            outstation: outstation_address(i),
            started: false,
            seq: r.range(0, 15) as u8,
            unsolicited_seq: r.range(0, 15) as u8,
            tseq_master: r.range(0, 63) as u8,
            tseq_outstation: r.range(0, 63) as u8,
            event_period: r.range(220_000, 540_000),
            integrity_period: r.range(20_000_000, 40_000_000),
            unsolicited_period: r.range(5_000_000, 20_000_000),
            next_integrity: 0,
            next_unsolicited: 0,
            next_event: 0,
            blocks,
            rng: r,
        };
        all.push((start + rng.range(0, 500_000), Box::new(s)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_matches_the_check_value() {
        // CRC-16/DNP check value over the ASCII digits 1-9.
        assert_eq!(crc16_dnp(b"123456789"), 0xea82);
    }

    #[test]
    fn link_header_of_a_known_frame() {
        // A request link status from master 1 to outstation 10 has no user
        // data; check the header bytes and that the CRC covers them.
        let mut out = Vec::new();
        link_frame(&mut out, 0xc9, 10, 1, &[]);
        assert_eq!(&out[..8], &[0x05, 0x64, 0x05, 0xc9, 0x0a, 0x00, 0x01, 0x00]);
        let crc = crc16_dnp(&out[..8]);
        assert_eq!(&out[8..10], &crc.to_le_bytes());
        assert_eq!(out.len(), 10);
    }

    #[test]
    fn long_fragment_spans_frames_with_block_crcs() {
        let fragment: Vec<u8> = (0..600u16).map(|i| i as u8).collect();
        let mut tseq = 30;
        let bytes = frames(LINK_FROM_OUTSTATION, 1, 10, &fragment, &mut tseq);
        // 600 bytes: 249 + 249 + 102 → 3 frames; from an outstation, numbered
        // within 0-31, so 30 → 0, 1, 2
        assert_eq!(tseq, 3);
        let mut at = 0;
        let mut frames_seen = 0;
        let mut payload = Vec::new();
        while at < bytes.len() {
            assert_eq!(&bytes[at..at + 2], &[0x05, 0x64]);
            let user = usize::from(bytes[at + 2]) - 5;
            assert_eq!(
                crc16_dnp(&bytes[at..at + 8]).to_le_bytes(),
                [bytes[at + 8], bytes[at + 9]]
            );
            let mut k = at + 10;
            let mut data = Vec::new();
            let mut left = user;
            while left > 0 {
                let n = left.min(16);
                let block = &bytes[k..k + n];
                assert_eq!(
                    crc16_dnp(block).to_le_bytes(),
                    [bytes[k + n], bytes[k + n + 1]]
                );
                data.extend_from_slice(block);
                k += n + 2;
                left -= n;
            }
            let th = data[0];
            assert_eq!(th & 0x40 != 0, frames_seen == 0, "FIR only on the first");
            assert_eq!(th & 0x80 != 0, k == bytes.len(), "FIN only on the last");
            payload.extend_from_slice(&data[1..]);
            frames_seen += 1;
            at = k;
        }
        assert_eq!(frames_seen, 3);
        assert_eq!(payload, fragment);
    }
}
