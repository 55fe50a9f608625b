//! One synthetic TCP connection: sequence numbers, acknowledgements, IP ids,
//! segmentation of application bytes, retransmissions, and the frames they
//! make.

use super::net::HostAddr;
use super::{Class, Cx, Pdus, Rng};
use crate::synth::{build_tcp, flags, FrameSpec, TcpSpec};

/// Largest TCP payload of one segment (Ethernet MTU 1500).
pub(crate) const MSS: usize = 1460;

/// Which way a segment goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dir {
    /// Client to server.
    ToServer,
    /// Server to client.
    ToClient,
}

/// One end of the connection.
#[derive(Debug, Clone)]
struct End {
    host: HostAddr,
    port: u16,
    /// Next sequence number to send.
    seq: u32,
    ip_id: u16,
    window: u16,
}

/// Where an application PDU ends in a buffer handed to [`TcpConn::send`],
/// and whether it is a request or a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pdu {
    /// A request ending at this offset (exclusive).
    Request(usize),
    /// A response ending at this offset (exclusive).
    Response(usize),
}

impl Pdu {
    fn end(self) -> usize {
        match self {
            Pdu::Request(e) | Pdu::Response(e) => e,
        }
    }
}

/// How [`TcpConn::send`] cuts the bytes into segments.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Segmenting {
    /// Probability of cutting a buffer that would fit one segment in two.
    pub(crate) split: f64,
    /// Probability of sending a segment twice (a retransmission, same bytes).
    pub(crate) retransmit: f64,
    /// Microseconds between back-to-back segments.
    pub(crate) gap_us: u64,
}

impl Segmenting {
    /// The defaults of OT traffic: some splits, rare retransmissions.
    pub(crate) const OT: Segmenting = Segmenting {
        split: 0.03,
        retransmit: 0.002,
        gap_us: 30,
    };
    /// Bulk transfers: full segments, rare retransmissions.
    pub(crate) const BULK: Segmenting = Segmenting {
        split: 0.0,
        retransmit: 0.001,
        gap_us: 12,
    };
}

/// Where to cut a buffer in two: inside one of its PDUs, at least
/// [`MIN_HEAD`] bytes past the PDU's start, so that every segment that
/// starts a PDU carries its whole header (as real stacks do; a header cut
/// into pieces also throws some analysers off for the rest of the stream).
fn split_point(rng: &mut Rng, len: usize, pdus: &[Pdu]) -> Option<usize> {
    let mut spans: Vec<(usize, usize)> = Vec::new();
    let mut start = 0;
    for p in pdus {
        spans.push((start, p.end()));
        start = p.end();
    }
    if spans.is_empty() {
        spans.push((0, len));
    }
    spans.retain(|&(s, e)| e >= s + MIN_HEAD + 2);
    let (s, e) = *spans.get(rng.range(0, spans.len().max(1) as u64 - 1) as usize)?;
    Some(rng.range((s + MIN_HEAD) as u64, e as u64 - 2) as usize)
}

/// Bytes of a PDU a segment that starts it always carries.
const MIN_HEAD: usize = 10;

/// A TCP connection between a client and a server.
#[derive(Debug, Clone)]
pub(crate) struct TcpConn {
    client: End,
    server: End,
    vlan: Option<u16>,
    class: Class,
}

impl TcpConn {
    /// A connection from `client:client_port` to `server:server_port`.
    pub(crate) fn new(
        rng: &mut Rng,
        client: HostAddr,
        client_port: u16,
        server: HostAddr,
        server_port: u16,
        vlan: Option<u16>,
        class: Class,
    ) -> TcpConn {
        let end = |rng: &mut Rng, host, port| End {
            host,
            port,
            seq: rng.next_u64() as u32,
            ip_id: rng.next_u64() as u16,
            window: 64_240,
        };
        TcpConn {
            client: end(rng, client, client_port),
            server: end(rng, server, server_port),
            vlan,
            class,
        }
    }

    /// The client's address and port.
    pub(crate) fn client(&self) -> (HostAddr, u16) {
        (self.client.host, self.client.port)
    }

    /// The server's address and port.
    pub(crate) fn server(&self) -> (HostAddr, u16) {
        (self.server.host, self.server.port)
    }

    /// Queues one segment from `dir` with `payload` and the PDUs it
    /// completes; advances the sender's sequence number by the payload (and
    /// by one for SYN or FIN).
    pub(crate) fn segment(
        &mut self,
        cx: &mut Cx,
        dir: Dir,
        ts: u64,
        tcp_flags: u8,
        payload: &[u8],
        pdus: Pdus,
    ) {
        let (from, to) = match dir {
            Dir::ToServer => (&mut self.client, &self.server),
            Dir::ToClient => (&mut self.server, &self.client),
        };
        let spec = FrameSpec {
            src_mac: from.host.mac,
            dst_mac: to.host.mac,
            vlan: self.vlan,
            src_ip: from.host.ip,
            dst_ip: to.host.ip,
            ip_id: from.ip_id,
            ttl: from.host.ttl,
        };
        let ack = if tcp_flags & flags::ACK != 0 {
            to.seq
        } else {
            0
        };
        let tcp = TcpSpec {
            src_port: from.port,
            dst_port: to.port,
            seq: from.seq,
            ack,
            flags: tcp_flags,
            window: from.window,
        };
        let mut buf = cx.buffer();
        build_tcp(&mut buf, &spec, &tcp, payload);
        from.ip_id = from.ip_id.wrapping_add(1);
        let mut advance = payload.len() as u32;
        if tcp_flags & (flags::SYN | flags::FIN) != 0 {
            advance += 1;
        }
        from.seq = from.seq.wrapping_add(advance);
        cx.push(ts, buf, self.class, self.vlan.is_some(), pdus);
    }

    /// Queues a copy of a segment already sent (same sequence number and
    /// bytes): a retransmission. It counts no PDU.
    fn retransmit(&mut self, cx: &mut Cx, dir: Dir, ts: u64, payload: &[u8]) {
        let from = match dir {
            Dir::ToServer => &mut self.client,
            Dir::ToClient => &mut self.server,
        };
        from.seq = from.seq.wrapping_sub(payload.len() as u32);
        self.segment(
            cx,
            dir,
            ts,
            flags::PSH | flags::ACK,
            payload,
            Pdus::default(),
        );
    }

    /// The three-way handshake from `ts`, with `rtt_us` between SYN and
    /// SYN-ACK; returns the time of the client's ACK.
    pub(crate) fn handshake(&mut self, cx: &mut Cx, ts: u64, rtt_us: u64) -> u64 {
        cx.count_flow();
        let none = Pdus::default();
        self.segment(cx, Dir::ToServer, ts, flags::SYN, &[], none);
        self.segment(
            cx,
            Dir::ToClient,
            ts + rtt_us,
            flags::SYN | flags::ACK,
            &[],
            none,
        );
        let t = ts + rtt_us + rtt_us / 4 + 20;
        self.segment(cx, Dir::ToServer, t, flags::ACK, &[], none);
        t
    }

    /// An ACK without data from `dir`.
    pub(crate) fn ack(&mut self, cx: &mut Cx, dir: Dir, ts: u64) {
        self.segment(cx, dir, ts, flags::ACK, &[], Pdus::default());
    }

    /// Sends `data` from `dir` starting at `ts`: cut into segments of at most
    /// [`MSS`] bytes, sometimes cut once more inside, sometimes with a
    /// segment sent twice. `pdus` lists where the PDUs in `data` end; each is
    /// counted by the segment that carries its last byte. Returns the time of
    /// the last segment.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn send(
        &mut self,
        cx: &mut Cx,
        rng: &mut Rng,
        dir: Dir,
        ts: u64,
        data: &[u8],
        pdus: &[Pdu],
        how: Segmenting,
    ) -> u64 {
        let mut cuts: Vec<usize> = Vec::new();
        let mut at = 0;
        while data.len() - at > MSS {
            at += MSS;
            cuts.push(at);
        }
        if cuts.is_empty() && rng.chance(how.split) {
            if let Some(cut) = split_point(rng, data.len(), pdus) {
                cuts.push(cut);
            }
        }
        cuts.push(data.len());
        let mut start = 0;
        let mut t = ts;
        let mut next_pdu = 0;
        for (i, &end) in cuts.iter().enumerate() {
            if i > 0 {
                t += how.gap_us + rng.range(0, how.gap_us);
            }
            let mut count = Pdus::default();
            while let Some(p) = pdus.get(next_pdu) {
                if p.end() > end {
                    break;
                }
                match p {
                    Pdu::Request(_) => count.requests += 1,
                    Pdu::Response(_) => count.responses += 1,
                }
                next_pdu += 1;
            }
            let payload = data.get(start..end).unwrap_or(&[]);
            self.segment(cx, dir, t, flags::PSH | flags::ACK, payload, count);
            // A one-byte segment sent again looks like a keep-alive probe.
            if payload.len() >= 2 && rng.chance(how.retransmit) {
                t += rng.range(200, 3_000);
                self.retransmit(cx, dir, t, payload);
            }
            start = end;
        }
        t
    }

    /// Closes the connection from `dir`: FIN, FIN-ACK, last ACK.
    pub(crate) fn close(&mut self, cx: &mut Cx, dir: Dir, ts: u64, rtt_us: u64) -> u64 {
        let other = match dir {
            Dir::ToServer => Dir::ToClient,
            Dir::ToClient => Dir::ToServer,
        };
        let none = Pdus::default();
        self.segment(cx, dir, ts, flags::FIN | flags::ACK, &[], none);
        self.segment(cx, other, ts + rtt_us, flags::FIN | flags::ACK, &[], none);
        let t = ts + rtt_us + rtt_us / 4 + 20;
        self.segment(cx, dir, t, flags::ACK, &[], none);
        t
    }
}
