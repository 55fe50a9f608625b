//! Internet checksums (RFC 1071) of IPv4 headers and of TCP and UDP over IPv4
//! and IPv6 (RFC 793, RFC 768, RFC 8200 section 8.1 pseudo-headers).
//!
//! A receiver drops a segment whose checksum does not verify, so an IDS that
//! believed such a segment would see bytes the endpoint never accepted (an
//! insertion). [`ipv4_header`] and [`transport`] say whether a header or a
//! segment verifies, and when it does not, whether the stored value is the
//! mark of checksum offload rather than damage or forgery:
//!
//! * a TCP or UDP checksum field holding the folded sum of the pseudo-header
//!   alone (not complemented) is what Linux and Windows leave in a packet
//!   whose checksum the network card is to fill in ("partial" checksums:
//!   captures taken on the sending host, veth and loopback show it);
//! * an IPv4 header checksum of zero is what Windows leaves when the card
//!   computes the IPv4 header checksum.
//!
//! Summing is a single pass over 32-bit big-endian words of the borrowed
//! slice, folded at the end; nothing is allocated.

use std::net::IpAddr;

use super::transport::{IPPROTO_TCP, IPPROTO_UDP};
use super::IpInfo;

/// The outcome of verifying one checksum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The checksum verifies.
    Good,
    /// The checksum does not verify.
    Bad {
        /// The value stored in the packet.
        stored: u16,
        /// The value that would have verified.
        expected: u16,
        /// The stored value is the mark of checksum offload (see the module
        /// documentation): the packet was captured before the card filled
        /// the checksum in.
        offload: bool,
    },
    /// Nothing to verify: a UDP checksum of zero over IPv4 ("no checksum"),
    /// or a protocol without a checksum here.
    Absent,
    /// Cannot be verified: the capture holds fewer bytes than the IP length
    /// declares (snap length), or the length field is zero (segmentation
    /// offload super-packets), or the segment is a fragment.
    Unverifiable,
}

impl Verdict {
    /// Whether the checksum was verified and failed.
    pub fn is_bad(self) -> bool {
        matches!(self, Verdict::Bad { .. })
    }
}

/// Adds the 16-bit big-endian words of `data` (a trailing odd byte is padded
/// with zero) to `acc`. The result must go through [`fold`].
#[inline]
pub fn sum(data: &[u8], acc: u64) -> u64 {
    // One's complement addition is associative and 2^16 = 1 (mod 0xffff), so
    // 32-bit words summed into 64 bits fold to the same 16-bit sum.
    let mut acc = acc;
    let mut words = data.chunks_exact(4);
    for w in &mut words {
        acc += u64::from(u32::from_be_bytes([w[0], w[1], w[2], w[3]]));
    }
    match *words.remainder() {
        [a, b, c] => acc += u64::from(u16::from_be_bytes([a, b])) + (u64::from(c) << 8),
        [a, b] => acc += u64::from(u16::from_be_bytes([a, b])),
        [a] => acc += u64::from(a) << 8,
        _ => {}
    }
    acc
}

/// Folds a sum from [`sum`] to 16 bits (end-around carry).
#[inline]
pub fn fold(mut acc: u64) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
}

/// The sum of a TCP or UDP pseudo-header: addresses, protocol and the
/// upper-layer length (IPv4: RFC 793 3.1; IPv6: RFC 8200 8.1).
pub fn pseudo_header(src: IpAddr, dst: IpAddr, protocol: u8, length: usize) -> u64 {
    let mut acc = u64::from(protocol) + length as u64;
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            acc = sum(&s.octets(), acc);
            acc = sum(&d.octets(), acc);
        }
        (s, d) => {
            acc = sum(&v6_octets(s), acc);
            acc = sum(&v6_octets(d), acc);
        }
    }
    acc
}

fn v6_octets(addr: IpAddr) -> [u8; 16] {
    match addr {
        IpAddr::V6(a) => a.octets(),
        IpAddr::V4(a) => a.to_ipv6_mapped().octets(),
    }
}

/// Offset of the checksum in an IPv4 header.
const IPV4_CHECKSUM: usize = 10;
/// Offset of the checksum in a TCP header.
const TCP_CHECKSUM: usize = 16;
/// Offset of the checksum in a UDP header.
const UDP_CHECKSUM: usize = 6;

fn stored_at(bytes: &[u8], at: usize) -> Option<u16> {
    match bytes.get(at..at + 2) {
        Some(&[a, b]) => Some(u16::from_be_bytes([a, b])),
        _ => None,
    }
}

/// The checksum that verifies: the complement of the sum with the checksum
/// field counted as zero.
fn expected_value(total: u64, stored: u16) -> u16 {
    // Remove the stored value from the sum (adding its complement is
    // subtraction in one's complement arithmetic), then complement.
    !fold(u64::from(fold(total)) + u64::from(!stored))
}

/// Verifies the checksum of an IPv4 header (`header` is exactly the header,
/// options included).
pub fn ipv4_header(header: &[u8]) -> Verdict {
    let Some(stored) = stored_at(header, IPV4_CHECKSUM) else {
        return Verdict::Unverifiable;
    };
    let total = sum(header, 0);
    if fold(total) == 0xffff {
        return Verdict::Good;
    }
    Verdict::Bad {
        stored,
        expected: expected_value(total, stored),
        offload: stored == 0,
    }
}

/// Verifies the checksum of a TCP segment or UDP datagram: `segment` is the
/// whole transport header and payload as the IP length delimits it, `ip` the
/// packet's network facts. A fragment, a capture cut short, or a protocol
/// other than TCP and UDP is not verified.
pub fn transport(ip: &IpInfo, segment: &[u8]) -> Verdict {
    if ip.fragment.is_some() || !ip.complete {
        return Verdict::Unverifiable;
    }
    let at = match ip.protocol {
        IPPROTO_TCP => TCP_CHECKSUM,
        IPPROTO_UDP => UDP_CHECKSUM,
        _ => return Verdict::Absent,
    };
    let Some(stored) = stored_at(segment, at) else {
        return Verdict::Unverifiable;
    };
    if ip.protocol == IPPROTO_UDP && stored == 0 {
        // Zero means "not computed" over IPv4; IPv6 forbids it (RFC 8200 8.1).
        return if ip.src.is_ipv4() {
            Verdict::Absent
        } else {
            Verdict::Bad {
                stored,
                expected: expected_value(
                    sum(
                        segment,
                        pseudo_header(ip.src, ip.dst, ip.protocol, segment.len()),
                    ),
                    stored,
                ),
                offload: false,
            }
        };
    }
    let pseudo = pseudo_header(ip.src, ip.dst, ip.protocol, segment.len());
    let total = sum(segment, pseudo);
    if fold(total) == 0xffff {
        return Verdict::Good;
    }
    Verdict::Bad {
        stored,
        expected: expected_value(total, stored),
        offload: stored == fold(pseudo),
    }
}

/// Writes a correct checksum into an IPv4 header (tests and synthesized
/// captures).
pub fn fill_ipv4_header(header: &mut [u8]) {
    if let Some(field) = header.get_mut(IPV4_CHECKSUM..IPV4_CHECKSUM + 2) {
        field.copy_from_slice(&[0, 0]);
        let value = !fold(sum(header, 0));
        header[IPV4_CHECKSUM..IPV4_CHECKSUM + 2].copy_from_slice(&value.to_be_bytes());
    }
}

/// Writes a correct checksum into a TCP or UDP segment carried between `src`
/// and `dst` (tests and synthesized captures). A computed UDP checksum of
/// zero is sent as 0xffff (RFC 768).
pub fn fill_transport(src: IpAddr, dst: IpAddr, protocol: u8, segment: &mut [u8]) {
    let at = if protocol == IPPROTO_UDP {
        UDP_CHECKSUM
    } else {
        TCP_CHECKSUM
    };
    if segment.len() < at + 2 {
        return;
    }
    segment[at..at + 2].copy_from_slice(&[0, 0]);
    let pseudo = pseudo_header(src, dst, protocol, segment.len());
    let mut value = !fold(sum(segment, pseudo));
    if value == 0 && protocol == IPPROTO_UDP {
        value = 0xffff;
    }
    segment[at..at + 2].copy_from_slice(&value.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{decode, LinkType, Transport};
    use std::net::Ipv4Addr;

    use crate::testutil::hex;

    /// A TCP ACK from a PLC on port 102, captured on the wire (its checksums
    /// were filled in by the sender's card): icsnpp_s7comm_plus.pcap frame 1
    /// without its Linux cooked header.
    fn wire_ack() -> Vec<u8> {
        hex(concat!(
            "45 00 0028 49e6 4000 40 06 6f95", // IPv4: total 40, DF, TTL 64, TCP, checksum 0x6f95
            "c0a80001 c0a80003",               // 192.168.0.1 -> 192.168.0.3
            "0066 c002",                       // TCP 102 -> 49154
            "5229b932 37ad2ee0",               // seq, ack
            "50 10 2000 dc2d 0000",            // 5 words, ACK, window 8192, checksum 0xdc2d
        ))
    }

    #[test]
    fn sums_words_of_every_length_as_rfc_1071_does() {
        // RFC 1071 section 3 example: 00 01 f2 03 f4 f5 f6 f7 sums to 0xddf2.
        let bytes = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(fold(sum(&bytes, 0)), 0xddf2);
        // Every prefix agrees with a plain 16-bit loop (odd byte padded).
        for n in 0..=bytes.len() {
            let mut plain = 0u64;
            for pair in bytes[..n].chunks(2) {
                let hi = u64::from(pair[0]) << 8;
                let lo = pair.get(1).map_or(0, |&b| u64::from(b));
                plain += hi | lo;
            }
            assert_eq!(fold(sum(&bytes[..n], 0)), fold(plain), "prefix {n}");
        }
    }

    #[test]
    fn verifies_a_real_ipv4_header_and_tcp_segment() {
        let pkt = wire_ack();
        assert_eq!(ipv4_header(&pkt[..20]), Verdict::Good);
        let p = decode(LinkType::RawIp, &pkt).expect("valid");
        let ip = p.ip.expect("ip");
        assert!(matches!(p.transport, Transport::Tcp(..)));
        assert_eq!(transport(&ip, p.segment), Verdict::Good);
    }

    #[test]
    fn a_flipped_bit_is_bad_and_names_the_value_that_verifies() {
        let mut pkt = wire_ack();
        pkt[11] ^= 0x01; // IPv4 checksum 0x6f95 -> 0x6f94
        assert_eq!(
            ipv4_header(&pkt[..20]),
            Verdict::Bad {
                stored: 0x6f94,
                expected: 0x6f95,
                offload: false
            }
        );
        let mut pkt = wire_ack();
        pkt[20 + 13] = 0x18; // PSH added: the TCP checksum no longer verifies
        let p = decode(LinkType::RawIp, &pkt).expect("valid");
        assert_eq!(
            transport(&p.ip.expect("ip"), p.segment),
            Verdict::Bad {
                stored: 0xdc2d,
                expected: 0xdc25,
                offload: false
            }
        );
    }

    #[test]
    fn recognises_the_marks_of_checksum_offload() {
        // A pure ACK captured on its sender (pcaps/modbus_pymodbus_polling.pcap
        // style): the TCP checksum field holds the pseudo-header sum.
        let src = IpAddr::V4(Ipv4Addr::new(10, 200, 7, 20));
        let dst = IpAddr::V4(Ipv4Addr::new(10, 200, 7, 10));
        let mut pkt = wire_ack();
        pkt[12..16].copy_from_slice(&[10, 200, 7, 20]);
        pkt[16..20].copy_from_slice(&[10, 200, 7, 10]);
        fill_ipv4_header(&mut pkt[..20]);
        let partial = fold(pseudo_header(src, dst, 6, 20));
        pkt[36..38].copy_from_slice(&partial.to_be_bytes());
        let p = decode(LinkType::RawIp, &pkt).expect("valid");
        assert!(matches!(
            transport(&p.ip.expect("ip"), p.segment),
            Verdict::Bad { offload: true, stored, .. } if stored == partial
        ));
        // An IPv4 header checksum left zero for the card.
        pkt[10..12].copy_from_slice(&[0, 0]);
        assert!(matches!(
            ipv4_header(&pkt[..20]),
            Verdict::Bad {
                offload: true,
                stored: 0,
                ..
            }
        ));
    }

    #[test]
    fn udp_zero_means_none_over_ipv4_only() {
        // IPv4 UDP 20000 -> 20000 carrying 2 bytes, checksum 0.
        let mut v4 =
            hex("4500 001e 0000 0000 4011 0000 0a000001 0a000002 4e20 4e20 000a 0000 abcd");
        fill_ipv4_header(&mut v4[..20]);
        let p = decode(LinkType::RawIp, &v4).expect("valid");
        assert_eq!(transport(&p.ip.expect("ip"), p.segment), Verdict::Absent);
        // Filled in, it verifies.
        let (src, dst) = (
            IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
            IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)),
        );
        fill_transport(src, dst, 17, &mut v4[20..]);
        let p = decode(LinkType::RawIp, &v4).expect("valid");
        assert_eq!(transport(&p.ip.expect("ip"), p.segment), Verdict::Good);
        // IPv6 UDP with checksum 0 is bad (RFC 8200 8.1).
        let mut v6 = hex("60000000 000a 11 40");
        v6.extend(hex("fe800000000000000000000000000001"));
        v6.extend(hex("fe800000000000000000000000000002"));
        v6.extend(hex("4e20 4e20 000a 0000 abcd"));
        let p = decode(LinkType::RawIp, &v6).expect("valid");
        let ip = p.ip.expect("ip");
        assert!(transport(&ip, p.segment).is_bad());
        let (s6, d6) = (ip.src, ip.dst);
        fill_transport(s6, d6, 17, &mut v6[40..]);
        let p = decode(LinkType::RawIp, &v6).expect("valid");
        assert_eq!(transport(&p.ip.expect("ip"), p.segment), Verdict::Good);
    }

    #[test]
    fn a_capture_cut_short_is_not_verified() {
        let pkt = wire_ack();
        let cut = &pkt[..36]; // snap length cut inside the TCP header
        let p = decode(LinkType::RawIp, cut);
        // The TCP header is incomplete: a decode error, not a checksum verdict.
        assert!(p.is_err());
        let mut longer = wire_ack();
        longer[2..4].copy_from_slice(&60u16.to_be_bytes()); // declares 20 more bytes
        fill_ipv4_header(&mut longer[..20]);
        let p = decode(LinkType::RawIp, &longer).expect("valid");
        assert_eq!(
            transport(&p.ip.expect("ip"), p.segment),
            Verdict::Unverifiable
        );
    }
}
