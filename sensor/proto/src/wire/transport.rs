//! TCP and UDP header decoding.

use super::{be16, be32, need, DecodeError, Layer};

/// IP protocol number of TCP.
pub const IPPROTO_TCP: u8 = 6;
/// IP protocol number of UDP.
pub const IPPROTO_UDP: u8 = 17;

/// TCP flag bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TcpFlags(pub u8);

impl TcpFlags {
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
    /// URG.
    pub const URG: u8 = 0x20;

    /// Whether all bits of `mask` are set.
    pub fn has(self, mask: u8) -> bool {
        self.0 & mask == mask
    }
}

/// The fields of a TCP header that reassembly and flow tracking use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpHeader {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgement number.
    pub ack: u32,
    /// Flags.
    pub flags: TcpFlags,
    /// Receive window (unscaled, as carried).
    pub window: u16,
    /// Window scale shift from the window scale option (RFC 7323 2.2); only
    /// read on SYN segments, where the option is allowed. Shifts above 14 are
    /// clamped to 14 as the RFC requires.
    pub window_scale: Option<u8>,
}

/// The fields of a UDP header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UdpHeader {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
}

/// Decodes a TCP header; returns it and the segment payload.
pub fn decode_tcp(bytes: &[u8]) -> Result<(TcpHeader, &[u8]), DecodeError> {
    need(bytes, 20, Layer::Tcp)?;
    let offset = bytes[12] >> 4;
    let header_len = usize::from(offset) * 4;
    if offset < 5 || header_len > bytes.len() {
        return Err(DecodeError::BadTcpDataOffset(offset));
    }
    let header = TcpHeader {
        src_port: be16(bytes, 0),
        dst_port: be16(bytes, 2),
        seq: be32(bytes, 4),
        ack: be32(bytes, 8),
        flags: TcpFlags(bytes[13]),
        window: be16(bytes, 14),
        window_scale: None,
    };
    let header = if header.flags.has(TcpFlags::SYN) {
        TcpHeader {
            window_scale: window_scale(bytes.get(20..header_len).unwrap_or(&[])),
            ..header
        }
    } else {
        header
    };
    Ok((header, &bytes[header_len..]))
}

/// TCP option kinds read here.
const OPT_END: u8 = 0;
const OPT_NOP: u8 = 1;
const OPT_WINDOW_SCALE: u8 = 3;

/// Finds the window scale option in a SYN's options; a malformed option list
/// ends the search (the segment is still decoded).
fn window_scale(mut options: &[u8]) -> Option<u8> {
    loop {
        match *options {
            [] | [OPT_END, ..] => return None,
            [OPT_NOP, ref rest @ ..] => options = rest,
            [OPT_WINDOW_SCALE, 3, shift, ..] => return Some(shift.min(14)),
            [_, len, ..] if len >= 2 => options = options.get(usize::from(len)..)?,
            _ => return None,
        }
    }
}

/// Decodes a UDP header; returns it and the datagram payload (trimmed to the
/// UDP length when that is shorter than what was captured).
pub fn decode_udp(bytes: &[u8]) -> Result<(UdpHeader, &[u8]), DecodeError> {
    need(bytes, 8, Layer::Udp)?;
    let length = be16(bytes, 4);
    let len = usize::from(length);
    if length != 0 && len < 8 {
        return Err(DecodeError::BadUdpLength(length));
    }
    let end = if length == 0 {
        bytes.len()
    } else {
        len.min(bytes.len())
    };
    let header = UdpHeader {
        src_port: be16(bytes, 0),
        dst_port: be16(bytes, 2),
    };
    Ok((header, &bytes[8..end]))
}
