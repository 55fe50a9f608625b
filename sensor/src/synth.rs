//! Synthetic captures for tests and benchmarks: Ethernet/IPv4/TCP/UDP frames
//! and a pcap file writer. Checksums are left zero unless
//! [`fill_checksums`] computes them: a capture whose checksums all fail is
//! taken for one recorded behind checksum offload and believed by the
//! pipeline's default `auto` mode, while a frame that must be believed over
//! a corrupted copy (insertion tests) needs real checksums.

use std::net::Ipv4Addr;

/// Writes a classic little-endian, microsecond pcap file into memory.
#[derive(Debug, Clone)]
pub struct PcapWriter {
    bytes: Vec<u8>,
}

impl PcapWriter {
    /// A file with the given LINKTYPE (1 = Ethernet).
    pub fn new(link_type: u32) -> PcapWriter {
        let mut bytes = Vec::with_capacity(1 << 16);
        bytes.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
        bytes.extend_from_slice(&2u16.to_le_bytes());
        bytes.extend_from_slice(&4u16.to_le_bytes());
        bytes.extend_from_slice(&0i32.to_le_bytes());
        bytes.extend_from_slice(&0u32.to_le_bytes());
        bytes.extend_from_slice(&262_144u32.to_le_bytes());
        bytes.extend_from_slice(&link_type.to_le_bytes());
        PcapWriter { bytes }
    }

    /// Appends one record.
    pub fn record(&mut self, secs: u32, micros: u32, frame: &[u8]) {
        self.bytes.extend_from_slice(&secs.to_le_bytes());
        self.bytes.extend_from_slice(&micros.to_le_bytes());
        self.bytes
            .extend_from_slice(&(frame.len() as u32).to_le_bytes());
        self.bytes
            .extend_from_slice(&(frame.len() as u32).to_le_bytes());
        self.bytes.extend_from_slice(frame);
    }

    /// The file's bytes.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether only the header was written.
    pub fn is_empty(&self) -> bool {
        self.bytes.len() <= 24
    }
}

/// One side of a synthetic TCP connection.
#[derive(Debug, Clone, Copy)]
pub struct Host {
    /// MAC address.
    pub mac: [u8; 6],
    /// IPv4 address.
    pub ip: Ipv4Addr,
    /// TCP/UDP port.
    pub port: u16,
}

/// Builds an Ethernet + IPv4 + TCP frame.
pub fn tcp_frame(src: &Host, dst: &Host, seq: u32, ack: u32, flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(54 + payload.len());
    ethernet_ipv4(&mut f, src, dst, 6, 20 + payload.len());
    f.extend_from_slice(&src.port.to_be_bytes());
    f.extend_from_slice(&dst.port.to_be_bytes());
    f.extend_from_slice(&seq.to_be_bytes());
    f.extend_from_slice(&ack.to_be_bytes());
    f.push(5 << 4); // data offset 5 words
    f.push(flags);
    f.extend_from_slice(&64_240u16.to_be_bytes()); // window
    f.extend_from_slice(&[0, 0, 0, 0]); // checksum, urgent pointer
    f.extend_from_slice(payload);
    f
}

/// Builds an Ethernet + IPv4 + UDP frame.
pub fn udp_frame(src: &Host, dst: &Host, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(42 + payload.len());
    ethernet_ipv4(&mut f, src, dst, 17, 8 + payload.len());
    f.extend_from_slice(&src.port.to_be_bytes());
    f.extend_from_slice(&dst.port.to_be_bytes());
    f.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    f.extend_from_slice(&[0, 0]);
    f.extend_from_slice(payload);
    f
}

fn ethernet_ipv4(f: &mut Vec<u8>, src: &Host, dst: &Host, protocol: u8, l4_len: usize) {
    f.extend_from_slice(&dst.mac);
    f.extend_from_slice(&src.mac);
    f.extend_from_slice(&0x0800u16.to_be_bytes());
    f.push(0x45); // IPv4, IHL 5
    f.push(0);
    f.extend_from_slice(&((20 + l4_len) as u16).to_be_bytes());
    f.extend_from_slice(&[0, 0, 0x40, 0]); // id 0, don't fragment
    f.push(64); // TTL
    f.push(protocol);
    f.extend_from_slice(&[0, 0]); // checksum
    f.extend_from_slice(&src.ip.octets());
    f.extend_from_slice(&dst.ip.octets());
}

/// Computes the IPv4 header checksum and the TCP or UDP checksum of an
/// Ethernet + IPv4 frame built here (other frames are left as they are).
pub fn fill_checksums(frame: &mut [u8]) {
    use otwatch_proto::wire::checksum;
    use std::net::IpAddr;
    let Some(ip) = frame.get_mut(14..) else {
        return;
    };
    if ip.len() < 20 || ip[0] != 0x45 {
        return;
    }
    let total = usize::from(u16::from_be_bytes([ip[2], ip[3]])).min(ip.len());
    let protocol = ip[9];
    let src = IpAddr::V4(Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]));
    let dst = IpAddr::V4(Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19]));
    let fragmented = u16::from_be_bytes([ip[6], ip[7]]) & 0x3fff != 0;
    checksum::fill_ipv4_header(&mut ip[..20]);
    if !fragmented && (protocol == 6 || protocol == 17) && total > 20 {
        checksum::fill_transport(src, dst, protocol, &mut ip[20..total]);
    }
}

/// TCP flag bits for [`tcp_frame`].
pub mod flags {
    /// FIN.
    pub const FIN: u8 = 0x01;
    /// SYN.
    pub const SYN: u8 = 0x02;
    /// RST.
    pub const RST: u8 = 0x04;
    /// PSH.
    pub const PSH: u8 = 0x08;
    /// ACK.
    pub const ACK: u8 = 0x10;
}

/// A synthetic TCP conversation that tracks sequence numbers.
#[derive(Debug, Clone)]
pub struct Conversation {
    /// The client.
    pub client: Host,
    /// The server.
    pub server: Host,
    /// Next client sequence number.
    pub client_seq: u32,
    /// Next server sequence number.
    pub server_seq: u32,
}

impl Conversation {
    /// A conversation with arbitrary initial sequence numbers.
    pub fn new(client: Host, server: Host) -> Conversation {
        Conversation {
            client,
            server,
            client_seq: 0x1000_0000,
            server_seq: 0x2000_0000,
        }
    }

    /// The three-way handshake frames.
    pub fn handshake(&mut self) -> [Vec<u8>; 3] {
        let syn = tcp_frame(
            &self.client,
            &self.server,
            self.client_seq,
            0,
            flags::SYN,
            &[],
        );
        self.client_seq = self.client_seq.wrapping_add(1);
        let syn_ack = tcp_frame(
            &self.server,
            &self.client,
            self.server_seq,
            self.client_seq,
            flags::SYN | flags::ACK,
            &[],
        );
        self.server_seq = self.server_seq.wrapping_add(1);
        let ack = tcp_frame(
            &self.client,
            &self.server,
            self.client_seq,
            self.server_seq,
            flags::ACK,
            &[],
        );
        [syn, syn_ack, ack]
    }

    /// A data segment from the client.
    pub fn to_server(&mut self, payload: &[u8]) -> Vec<u8> {
        let f = tcp_frame(
            &self.client,
            &self.server,
            self.client_seq,
            self.server_seq,
            flags::PSH | flags::ACK,
            payload,
        );
        self.client_seq = self.client_seq.wrapping_add(payload.len() as u32);
        f
    }

    /// The closing frames: the client's FIN, the server's FIN (acknowledging
    /// the client's) and the client's last ACK. The sequence numbers are left
    /// as they were before the FINs.
    pub fn close(&self) -> [Vec<u8>; 3] {
        let fin = tcp_frame(
            &self.client,
            &self.server,
            self.client_seq,
            self.server_seq,
            flags::FIN | flags::ACK,
            &[],
        );
        let fin_ack = tcp_frame(
            &self.server,
            &self.client,
            self.server_seq,
            self.client_seq.wrapping_add(1),
            flags::FIN | flags::ACK,
            &[],
        );
        let last_ack = tcp_frame(
            &self.client,
            &self.server,
            self.client_seq.wrapping_add(1),
            self.server_seq.wrapping_add(1),
            flags::ACK,
            &[],
        );
        [fin, fin_ack, last_ack]
    }

    /// A data segment from the server.
    pub fn to_client(&mut self, payload: &[u8]) -> Vec<u8> {
        let f = tcp_frame(
            &self.server,
            &self.client,
            self.server_seq,
            self.client_seq,
            flags::PSH | flags::ACK,
            payload,
        );
        self.server_seq = self.server_seq.wrapping_add(payload.len() as u32);
        f
    }
}

/// Link and network settings of one frame built by [`build_tcp`] or
/// [`build_udp`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameSpec {
    /// Source MAC address.
    pub src_mac: [u8; 6],
    /// Destination MAC address.
    pub dst_mac: [u8; 6],
    /// 802.1Q VLAN id (12 bits; priority 0), or untagged.
    pub vlan: Option<u16>,
    /// Source IPv4 address.
    pub src_ip: Ipv4Addr,
    /// Destination IPv4 address.
    pub dst_ip: Ipv4Addr,
    /// IPv4 identification field.
    pub ip_id: u16,
    /// Time to live.
    pub ttl: u8,
}

/// The TCP header fields of a frame built by [`build_tcp`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpSpec {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgement number (sent as is; meaningful with ACK set).
    pub ack: u32,
    /// Flag bits ([`flags`]).
    pub flags: u8,
    /// Receive window (unscaled).
    pub window: u16,
}

/// Writes Ethernet (optionally 802.1Q-tagged) + IPv4 + TCP with `payload`
/// into `buf` (cleared first), with the IPv4 header and TCP checksums
/// computed. A SYN carries an MSS option of 1460.
pub fn build_tcp(buf: &mut Vec<u8>, l3: &FrameSpec, tcp: &TcpSpec, payload: &[u8]) {
    let options: &[u8] = if tcp.flags & flags::SYN != 0 {
        &[2, 4, 0x05, 0xb4] // kind 2 (MSS), length 4, 1460
    } else {
        &[]
    };
    let tcp_len = 20 + options.len() + payload.len();
    buf.clear();
    let ip_at = link_ipv4(buf, l3, 6, tcp_len);
    let tcp_at = buf.len();
    buf.extend_from_slice(&tcp.src_port.to_be_bytes());
    buf.extend_from_slice(&tcp.dst_port.to_be_bytes());
    buf.extend_from_slice(&tcp.seq.to_be_bytes());
    buf.extend_from_slice(&tcp.ack.to_be_bytes());
    buf.push((((20 + options.len()) / 4) as u8) << 4); // data offset in words
    buf.push(tcp.flags);
    buf.extend_from_slice(&tcp.window.to_be_bytes());
    buf.extend_from_slice(&[0, 0, 0, 0]); // checksum (below), urgent pointer
    buf.extend_from_slice(options);
    buf.extend_from_slice(payload);
    finish_transport(buf, l3, ip_at, tcp_at, 6, tcp_at + 16);
}

/// Writes Ethernet (optionally 802.1Q-tagged) + IPv4 + UDP with `payload`
/// into `buf` (cleared first), with the IPv4 header and UDP checksums
/// computed.
pub fn build_udp(buf: &mut Vec<u8>, l3: &FrameSpec, src_port: u16, dst_port: u16, payload: &[u8]) {
    let udp_len = 8 + payload.len();
    buf.clear();
    let ip_at = link_ipv4(buf, l3, 17, udp_len);
    let udp_at = buf.len();
    buf.extend_from_slice(&src_port.to_be_bytes());
    buf.extend_from_slice(&dst_port.to_be_bytes());
    buf.extend_from_slice(&(udp_len as u16).to_be_bytes());
    buf.extend_from_slice(&[0, 0]); // checksum (below)
    buf.extend_from_slice(payload);
    finish_transport(buf, l3, ip_at, udp_at, 17, udp_at + 6);
}

/// Writes the link header and the IPv4 header (checksum filled) of a frame
/// carrying `l4_len` bytes of `protocol`; returns where the IPv4 header
/// starts.
fn link_ipv4(buf: &mut Vec<u8>, l3: &FrameSpec, protocol: u8, l4_len: usize) -> usize {
    buf.extend_from_slice(&l3.dst_mac);
    buf.extend_from_slice(&l3.src_mac);
    if let Some(vlan) = l3.vlan {
        buf.extend_from_slice(&0x8100u16.to_be_bytes());
        buf.extend_from_slice(&(vlan & 0x0fff).to_be_bytes());
    }
    buf.extend_from_slice(&0x0800u16.to_be_bytes());
    let ip_at = buf.len();
    buf.push(0x45); // IPv4, IHL 5
    buf.push(0); // DSCP/ECN
    buf.extend_from_slice(&((20 + l4_len) as u16).to_be_bytes());
    buf.extend_from_slice(&l3.ip_id.to_be_bytes());
    buf.extend_from_slice(&[0x40, 0]); // don't fragment, offset 0
    buf.push(l3.ttl);
    buf.push(protocol);
    buf.extend_from_slice(&[0, 0]); // checksum (below)
    buf.extend_from_slice(&l3.src_ip.octets());
    buf.extend_from_slice(&l3.dst_ip.octets());
    otwatch_proto::wire::checksum::fill_ipv4_header(&mut buf[ip_at..ip_at + 20]);
    ip_at
}

/// Fills the TCP or UDP checksum at `sum_at` over the pseudo-header and the
/// segment starting at `l4_at`.
fn finish_transport(
    buf: &mut [u8],
    l3: &FrameSpec,
    ip_at: usize,
    l4_at: usize,
    protocol: u8,
    sum_at: usize,
) {
    use otwatch_proto::wire::checksum;
    debug_assert_eq!(ip_at + 20, l4_at);
    let segment = &buf[l4_at..];
    let mut acc =
        checksum::pseudo_header(l3.src_ip.into(), l3.dst_ip.into(), protocol, segment.len());
    acc = checksum::sum(segment, acc);
    let mut value = !checksum::fold(acc);
    if protocol == 17 && value == 0 {
        value = 0xffff; // a UDP checksum of zero means "none"
    }
    buf[sum_at..sum_at + 2].copy_from_slice(&value.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use otwatch_proto::wire::checksum;

    fn spec(vlan: Option<u16>) -> FrameSpec {
        FrameSpec {
            src_mac: [2, 0, 0, 0, 0, 1],
            dst_mac: [2, 0, 0, 0, 0, 2],
            vlan,
            src_ip: Ipv4Addr::new(10, 0, 0, 1),
            dst_ip: Ipv4Addr::new(10, 0, 0, 2),
            ip_id: 0x1234,
            ttl: 64,
        }
    }

    /// Whether the IPv4 header at `ip` and the transport segment after it
    /// both sum to 0xffff (valid checksums).
    fn checksums_hold(frame: &[u8], ip: usize, protocol: u8) -> bool {
        let header_ok = checksum::fold(checksum::sum(&frame[ip..ip + 20], 0)) == 0xffff;
        let segment = &frame[ip + 20..];
        let src = Ipv4Addr::new(
            frame[ip + 12],
            frame[ip + 13],
            frame[ip + 14],
            frame[ip + 15],
        );
        let dst = Ipv4Addr::new(
            frame[ip + 16],
            frame[ip + 17],
            frame[ip + 18],
            frame[ip + 19],
        );
        let acc = checksum::pseudo_header(src.into(), dst.into(), protocol, segment.len());
        header_ok && checksum::fold(checksum::sum(segment, acc)) == 0xffff
    }

    #[test]
    fn tagged_tcp_frame_has_valid_checksums() {
        let tcp = TcpSpec {
            src_port: 50_000,
            dst_port: 502,
            seq: 7,
            ack: 9,
            flags: flags::PSH | flags::ACK,
            window: 64_240,
        };
        let mut buf = Vec::new();
        build_tcp(&mut buf, &spec(Some(20)), &tcp, b"odd-length payload!");
        // 802.1Q tag: TPID, then priority 0 and VLAN 20; IPv4 follows.
        assert_eq!(&buf[12..18], &[0x81, 0x00, 0x00, 0x14, 0x08, 0x00]);
        assert_eq!(buf.len(), 18 + 20 + 20 + 19);
        assert_eq!(&buf[22..24], &[0x12, 0x34]); // IP id
        assert!(checksums_hold(&buf, 18, 6));
    }

    #[test]
    fn syn_carries_mss_and_udp_checksum_holds() {
        let tcp = TcpSpec {
            src_port: 1,
            dst_port: 2,
            seq: 0,
            ack: 0,
            flags: flags::SYN,
            window: 1000,
        };
        let mut buf = Vec::new();
        build_tcp(&mut buf, &spec(None), &tcp, &[]);
        assert_eq!(buf[14 + 20 + 12], 6 << 4); // data offset: 24 bytes
        assert_eq!(&buf[54..58], &[2, 4, 0x05, 0xb4]); // MSS 1460
        assert!(checksums_hold(&buf, 14, 6));
        build_udp(&mut buf, &spec(None), 5353, 53, &[1, 2, 3]);
        assert_eq!(buf.len(), 14 + 20 + 8 + 3);
        assert!(checksums_hold(&buf, 14, 17));
    }
}
