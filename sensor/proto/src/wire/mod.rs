//! Zero-copy decoding of link, network and transport headers.
//!
//! [`decode`] takes the bytes of one captured frame and its link type and returns
//! a [`Packet`] whose payload slices borrow from the frame: nothing is copied.
//! Every read is preceded by a length check, so a malformed header is a typed
//! [`DecodeError`] (which the pipeline counts and reports as an anomaly), never
//! a panic.
//!
//! Layers: [`ethernet`] (with 802.1Q / 802.1ad VLAN tags), Linux cooked capture
//! SLL and SLL2, raw IP and BSD loopback, then [`ipv4`] / [`ipv6`] (extension
//! headers skipped), then TCP and UDP in [`transport`]. [`checksum`] verifies
//! IPv4 header, TCP and UDP checksums on request (decoding never does: a
//! capture taken behind checksum offload carries unfilled checksums, and the
//! pipeline decides what to believe).

pub mod checksum;
pub mod ethernet;
pub mod ipv4;
pub mod ipv6;
pub mod transport;

use std::net::IpAddr;

use crate::event::DecodeAnomaly;

pub use ethernet::MacAddr;
pub use transport::{TcpFlags, TcpHeader, UdpHeader};

/// Link types of capture files and sockets that otwatch decodes
/// (values from the tcpdump.org LINKTYPE registry).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkType {
    /// LINKTYPE_ETHERNET (1).
    Ethernet,
    /// LINKTYPE_NULL (0): BSD loopback, 4-byte host-order address family.
    Null,
    /// LINKTYPE_LOOP (108): OpenBSD loopback, network-order address family.
    Loop,
    /// LINKTYPE_RAW (101) and DLT_RAW (12, 14): IPv4 or IPv6 without link header.
    RawIp,
    /// LINKTYPE_IPV4 (228).
    Ipv4,
    /// LINKTYPE_IPV6 (229).
    Ipv6,
    /// LINKTYPE_LINUX_SLL (113).
    LinuxSll,
    /// LINKTYPE_LINUX_SLL2 (276).
    LinuxSll2,
    /// A link type otwatch does not decode (e.g. BACnet MS/TP, 165): frames are
    /// counted and skipped.
    Other(i32),
}

impl LinkType {
    /// Maps a LINKTYPE_ value to a link type.
    pub fn from_linktype(value: i32) -> LinkType {
        match value {
            0 => LinkType::Null,
            1 => LinkType::Ethernet,
            12 | 14 | 101 => LinkType::RawIp,
            108 => LinkType::Loop,
            113 => LinkType::LinuxSll,
            228 => LinkType::Ipv4,
            229 => LinkType::Ipv6,
            276 => LinkType::LinuxSll2,
            other => LinkType::Other(other),
        }
    }

    /// Whether frames of this link type are decoded.
    pub fn is_supported(self) -> bool {
        !matches!(self, LinkType::Other(_))
    }
}

/// The protocol layer where decoding stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layer {
    /// Link header (Ethernet, SLL, loopback).
    Link,
    /// 802.1Q tag.
    Vlan,
    /// IPv4 header.
    Ipv4,
    /// IPv6 header or extension header.
    Ipv6,
    /// TCP header.
    Tcp,
    /// UDP header.
    Udp,
}

impl Layer {
    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Layer::Link => "link",
            Layer::Vlan => "vlan",
            Layer::Ipv4 => "ipv4",
            Layer::Ipv6 => "ipv6",
            Layer::Tcp => "tcp",
            Layer::Udp => "udp",
        }
    }
}

/// Why a frame could not be decoded. Each variant carries the offending value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeError {
    /// Fewer bytes than the header needs.
    Truncated {
        /// Layer being decoded.
        layer: Layer,
        /// Bytes the header needs.
        needed: usize,
        /// Bytes available.
        available: usize,
    },
    /// The IP version nibble is neither 4 nor 6.
    BadIpVersion(u8),
    /// IPv4 IHL below 5 (header shorter than 20 bytes).
    BadIpv4HeaderLength(u8),
    /// IPv4 total length smaller than its header.
    BadIpv4TotalLength(u16),
    /// TCP data offset below 5 or beyond the segment.
    BadTcpDataOffset(u8),
    /// UDP length field below 8 or beyond the datagram.
    BadUdpLength(u16),
    /// More VLAN tags than this decoder follows.
    TooManyVlanTags(u8),
    /// IPv6 extension header chain longer than this decoder follows.
    TooManyIpv6Extensions(u8),
}

impl DecodeError {
    /// The anomaly it raises.
    pub fn anomaly(&self) -> DecodeAnomaly {
        match self {
            DecodeError::Truncated { layer, .. } => match layer {
                Layer::Link => DecodeAnomaly::TruncatedLinkHeader,
                Layer::Vlan => DecodeAnomaly::TruncatedVlanTag,
                Layer::Ipv4 => DecodeAnomaly::TruncatedIpv4Header,
                Layer::Ipv6 => DecodeAnomaly::TruncatedIpv6Header,
                Layer::Tcp => DecodeAnomaly::TruncatedTcpHeader,
                Layer::Udp => DecodeAnomaly::TruncatedUdpHeader,
            },
            DecodeError::BadIpVersion(_) => DecodeAnomaly::BadIpVersion,
            DecodeError::BadIpv4HeaderLength(_) => DecodeAnomaly::BadIpv4HeaderLength,
            DecodeError::BadIpv4TotalLength(_) => DecodeAnomaly::BadIpv4TotalLength,
            DecodeError::BadTcpDataOffset(_) => DecodeAnomaly::BadTcpDataOffset,
            DecodeError::BadUdpLength(_) => DecodeAnomaly::BadUdpLength,
            DecodeError::TooManyVlanTags(_) => DecodeAnomaly::TooManyVlanTags,
            DecodeError::TooManyIpv6Extensions(_) => DecodeAnomaly::TooManyIpv6ExtensionHeaders,
        }
    }

    /// Stable snake_case name used as the anomaly name (its
    /// [`anomaly`](DecodeError::anomaly)'s).
    pub fn name(&self) -> &'static str {
        self.anomaly().name()
    }
}

impl core::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            DecodeError::Truncated {
                layer,
                needed,
                available,
            } => write!(
                f,
                "{} header truncated: needs {needed} bytes, {available} available",
                layer.name()
            ),
            DecodeError::BadIpVersion(v) => write!(f, "IP version {v:#x} is neither 4 nor 6"),
            DecodeError::BadIpv4HeaderLength(ihl) => {
                write!(f, "IPv4 header length {ihl} words is below 5")
            }
            DecodeError::BadIpv4TotalLength(len) => {
                write!(f, "IPv4 total length {len} is smaller than its header")
            }
            DecodeError::BadTcpDataOffset(off) => {
                write!(f, "TCP data offset {off} words is invalid")
            }
            DecodeError::BadUdpLength(len) => write!(f, "UDP length {len} is invalid"),
            DecodeError::TooManyVlanTags(n) => write!(f, "more than {n} VLAN tags"),
            DecodeError::TooManyIpv6Extensions(n) => {
                write!(f, "more than {n} IPv6 extension headers")
            }
        }
    }
}

impl std::error::Error for DecodeError {}

/// Reads a big-endian u16 at `at`; callers check the length first.
#[inline]
pub(crate) fn be16(bytes: &[u8], at: usize) -> u16 {
    match bytes.get(at..at + 2) {
        Some(&[a, b]) => u16::from_be_bytes([a, b]),
        _ => 0,
    }
}

/// Reads a big-endian u32 at `at`; callers check the length first.
#[inline]
pub(crate) fn be32(bytes: &[u8], at: usize) -> u32 {
    match bytes.get(at..at + 4) {
        Some(&[a, b, c, d]) => u32::from_be_bytes([a, b, c, d]),
        _ => 0,
    }
}

#[inline]
pub(crate) fn need(bytes: &[u8], needed: usize, layer: Layer) -> Result<(), DecodeError> {
    if bytes.len() < needed {
        Err(DecodeError::Truncated {
            layer,
            needed,
            available: bytes.len(),
        })
    } else {
        Ok(())
    }
}

/// Link-layer facts of a frame.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkInfo {
    /// Source MAC address, when the link type carries one.
    pub src_mac: Option<MacAddr>,
    /// Destination MAC address, when the link type carries one.
    pub dst_mac: Option<MacAddr>,
    /// VLAN ids, outermost first (0 = untagged); QinQ fills both.
    pub vlan: [u16; 2],
    /// Number of VLAN tags seen (0, 1 or 2).
    pub vlan_count: u8,
    /// EtherType of the payload after tags.
    pub ethertype: u16,
}

/// IPv4 fragment facts, present when the datagram is a fragment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fragment {
    /// IPv4 identification or IPv6 fragment identification.
    pub id: u32,
    /// Fragment offset in bytes.
    pub offset: u32,
    /// More-fragments flag.
    pub more: bool,
}

/// Network-layer facts of a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpInfo {
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// Transport protocol number (after IPv6 extension headers).
    pub protocol: u8,
    /// TTL or hop limit.
    pub ttl: u8,
    /// Set for IP fragments.
    pub fragment: Option<Fragment>,
    /// Bytes of the IP header (IPv4 options, IPv6 extension headers
    /// included).
    pub header_len: u16,
    /// Every byte the IP length field declares was captured (false for a
    /// snap-length cut and for length 0, which segmentation offload leaves):
    /// only then can the transport checksum be verified.
    pub complete: bool,
}

/// The transport layer of a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport<'a> {
    /// A TCP segment.
    Tcp(TcpHeader, &'a [u8]),
    /// A UDP datagram.
    Udp(UdpHeader, &'a [u8]),
    /// Another protocol, or a fragment whose transport header is not here.
    Other(&'a [u8]),
}

/// One decoded frame: borrowed views, nothing copied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet<'a> {
    /// Link-layer facts.
    pub link: LinkInfo,
    /// Network-layer facts; `None` for non-IP frames (ARP, PROFINET, GOOSE…).
    pub ip: Option<IpInfo>,
    /// Transport layer and its payload.
    pub transport: Transport<'a>,
    /// The IP packet from its first header byte, trimmed to the IP length
    /// (empty for non-IP frames).
    pub network: &'a [u8],
    /// The transport header and payload as the IP length delimits them (the
    /// bytes a TCP or UDP checksum covers; the IP payload for other protocols).
    pub segment: &'a [u8],
}

impl<'a> Packet<'a> {
    /// The IPv4 header, options included (`None` for IPv6 and non-IP frames).
    pub fn ipv4_header(&self) -> Option<&'a [u8]> {
        let ip = self.ip.as_ref()?;
        if !ip.src.is_ipv4() {
            return None;
        }
        self.network.get(..usize::from(ip.header_len))
    }

    /// Whether the IP length field holds zero (IPv4 total length, IPv6
    /// payload length): what segmentation offload leaves on the packets a
    /// host sends (and an IPv6 jumbogram carries). A receiving stack drops
    /// an IPv4 packet with total length 0.
    pub fn ip_length_zero(&self) -> bool {
        let at = match self.ip.as_ref() {
            Some(ip) if ip.src.is_ipv4() => 2,
            Some(_) => 4,
            None => return false,
        };
        matches!(self.network.get(at..at + 2), Some(&[0, 0]))
    }
}

/// Decodes one frame of the given link type.
pub fn decode(link_type: LinkType, frame: &[u8]) -> Result<Packet<'_>, DecodeError> {
    if let LinkType::Other(_) = link_type {
        return Ok(Packet {
            link: LinkInfo::default(),
            ip: None,
            transport: Transport::Other(frame),
            network: &[],
            segment: frame,
        });
    }
    let (link, network) = link_layer(link_type, frame)?;
    decode_network(link, network)
}

/// The link layer of a frame: its facts (MACs, VLAN tags, EtherType) and the
/// network-layer bytes after it. A link type otwatch does not decode has no
/// network layer (an empty slice). The replay dispatcher reads addresses
/// from this to choose a worker without decoding the rest.
pub fn link_layer(link_type: LinkType, frame: &[u8]) -> Result<(LinkInfo, &[u8]), DecodeError> {
    let mut link = LinkInfo::default();
    let network: &[u8] = match link_type {
        LinkType::Ethernet => ethernet::decode(frame, &mut link)?,
        LinkType::LinuxSll => ethernet::decode_sll(frame, &mut link)?,
        LinkType::LinuxSll2 => ethernet::decode_sll2(frame, &mut link)?,
        LinkType::Null | LinkType::Loop => {
            need(frame, 4, Layer::Link)?;
            let family = if link_type == LinkType::Null {
                let raw = [frame[0], frame[1], frame[2], frame[3]];
                // Host order of the capturing machine: accept either.
                u32::from_le_bytes(raw).min(u32::from_be_bytes(raw))
            } else {
                be32(frame, 0)
            };
            link.ethertype = match family {
                2 => ethernet::ETHERTYPE_IPV4,
                24 | 28 | 30 => ethernet::ETHERTYPE_IPV6,
                _ => 0,
            };
            &frame[4..]
        }
        LinkType::RawIp => {
            link.ethertype = match frame.first().map(|b| b >> 4) {
                Some(4) => ethernet::ETHERTYPE_IPV4,
                Some(6) => ethernet::ETHERTYPE_IPV6,
                Some(v) => return Err(DecodeError::BadIpVersion(v)),
                None => {
                    return Err(DecodeError::Truncated {
                        layer: Layer::Link,
                        needed: 1,
                        available: 0,
                    })
                }
            };
            frame
        }
        LinkType::Ipv4 => {
            link.ethertype = ethernet::ETHERTYPE_IPV4;
            frame
        }
        LinkType::Ipv6 => {
            link.ethertype = ethernet::ETHERTYPE_IPV6;
            frame
        }
        LinkType::Other(_) => &[],
    };
    Ok((link, network))
}

/// Decodes the network layer and below, given link facts already filled.
pub fn decode_network(link: LinkInfo, network: &[u8]) -> Result<Packet<'_>, DecodeError> {
    let (ip, payload) = match link.ethertype {
        ethernet::ETHERTYPE_IPV4 => ipv4::decode(network)?,
        ethernet::ETHERTYPE_IPV6 => ipv6::decode(network)?,
        _ => {
            return Ok(Packet {
                link,
                ip: None,
                transport: Transport::Other(network),
                network: &[],
                segment: network,
            })
        }
    };
    let transport = decode_transport(&ip, payload)?;
    let whole = network
        .get(..usize::from(ip.header_len) + payload.len())
        .unwrap_or(network);
    Ok(Packet {
        link,
        ip: Some(ip),
        transport,
        network: whole,
        segment: payload,
    })
}

/// Decodes TCP or UDP from an IP payload (also used on reassembled fragments).
pub fn decode_transport<'a>(ip: &IpInfo, payload: &'a [u8]) -> Result<Transport<'a>, DecodeError> {
    if let Some(frag) = ip.fragment {
        if frag.offset != 0 || frag.more {
            return Ok(Transport::Other(payload));
        }
    }
    Ok(match ip.protocol {
        transport::IPPROTO_TCP => {
            let (header, data) = transport::decode_tcp(payload)?;
            Transport::Tcp(header, data)
        }
        transport::IPPROTO_UDP => {
            let (header, data) = transport::decode_udp(payload)?;
            Transport::Udp(header, data)
        }
        _ => Transport::Other(payload),
    })
}

#[cfg(test)]
mod tests;
