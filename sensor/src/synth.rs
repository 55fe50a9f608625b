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
