//! Header decoding on real frames (pymodbus and the public corpus), tags and
//! link types built around them, and a table of malformed headers with their
//! exact errors.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::*;

use crate::testutil::hex;

/// A Modbus read device identification request recorded from pymodbus
/// (pcaps/modbus_pymodbus_polling.pcap, first Modbus frame).
fn pymodbus_frame() -> Vec<u8> {
    hex(concat!(
        "02000ac8070a",                    // destination MAC 02:00:0a:c8:07:0a (PLC)
        "02000ac80714",                    // source MAC 02:00:0a:c8:07:14 (master)
        "0800",                            // EtherType IPv4
        "45 00 003f c92e 4000 40 06 4ddd", // IPv4: IHL 5, total 63, DF, TTL 64, TCP
        "0ac80714 0ac8070a",               // 10.200.7.20 -> 10.200.7.10
        "d60e 01f6",                       // TCP 54798 -> 502
        "23a17ab8 9b5bd8f6",               // seq, ack
        "80 18 003f 23df 0000",            // data offset 8 words, PSH+ACK, window 63
        "0101080aafee3f893d4dd04e",        // options: NOP NOP timestamps
        "0001 0000 0005 01 2b0e0100",      // Modbus: tid 1, len 5, unit 1, 43/14 basic
    ))
}

#[test]
fn decodes_a_real_ethernet_ipv4_tcp_frame() {
    let frame = pymodbus_frame();
    let p = decode(LinkType::Ethernet, &frame).expect("valid");
    assert_eq!(p.link.src_mac, Some(MacAddr([2, 0, 0x0a, 0xc8, 7, 0x14])));
    assert_eq!(p.link.vlan_count, 0);
    let ip = p.ip.expect("ip");
    assert_eq!(ip.src, IpAddr::V4(Ipv4Addr::new(10, 200, 7, 20)));
    assert_eq!(ip.dst, IpAddr::V4(Ipv4Addr::new(10, 200, 7, 10)));
    assert_eq!((ip.ttl, ip.protocol, ip.fragment), (64, 6, None));
    let Transport::Tcp(tcp, payload) = p.transport else {
        panic!("tcp")
    };
    assert_eq!((tcp.src_port, tcp.dst_port), (54798, 502));
    assert_eq!(tcp.seq, 0x23a1_7ab8);
    assert!(tcp.flags.has(TcpFlags::PSH | TcpFlags::ACK));
    assert_eq!(
        payload,
        &hex("0001 0000 0005 01 2b0e0100")[..],
        "options skipped"
    );
}

#[test]
fn ethernet_padding_is_trimmed_by_the_ip_total_length() {
    let mut frame = pymodbus_frame();
    frame.extend_from_slice(&[0; 6]);
    let p = decode(LinkType::Ethernet, &frame).expect("valid");
    let Transport::Tcp(_, payload) = p.transport else {
        panic!("tcp")
    };
    assert_eq!(payload.len(), 11);
}

#[test]
fn decodes_vlan_and_qinq_tags() {
    let base = pymodbus_frame();
    let mut one = base.clone();
    one.splice(12..12, hex("8100 a005")); // PCP 5, VID 5
    let p = decode(LinkType::Ethernet, &one).expect("valid");
    assert_eq!((p.link.vlan, p.link.vlan_count), ([5, 0], 1));
    let mut two = base.clone();
    two.splice(12..12, hex("88a8 0064 8100 0014")); // S-tag 100, C-tag 20
    let p = decode(LinkType::Ethernet, &two).expect("valid");
    assert_eq!((p.link.vlan, p.link.vlan_count), ([100, 20], 2));
    assert!(matches!(p.transport, Transport::Tcp(..)));
    let mut old = base;
    old.splice(12..12, hex("9100 0007 8100 0008"));
    assert_eq!(
        decode(LinkType::Ethernet, &old).expect("valid").link.vlan,
        [7, 8]
    );
}

#[test]
fn decodes_a_real_linux_cooked_frame() {
    // icsnpp_s7comm_plus.pcap frame 1 (Linux SLL): a TCP ACK from port 102.
    let frame = hex(concat!(
        "0003 0001 0006 ac641746 0d51 0000", // sent by us, ARPHRD 1, 6-byte address
        "0800",                              // protocol IPv4
        "4500 0028 49e6 4000 4006 6f95 c0a80001 c0a80003",
        "0066 c002 5229b932 37ad2ee0 5010 2000 dc2d 0000",
        "000000000000", // Ethernet padding beyond total length 40
    ));
    let p = decode(LinkType::LinuxSll, &frame).expect("valid");
    assert_eq!(
        p.link.src_mac,
        Some(MacAddr([0xac, 0x64, 0x17, 0x46, 0x0d, 0x51]))
    );
    let Transport::Tcp(tcp, payload) = p.transport else {
        panic!("tcp")
    };
    assert_eq!(tcp.src_port, 102);
    assert!(payload.is_empty());
}

#[test]
fn decodes_sll2_raw_ip_and_loopback() {
    let ip_packet = pymodbus_frame()[14..].to_vec();
    // SLL2: protocol, reserved, ifindex, ARPHRD, packet type, addr len, address.
    let mut sll2 = hex("0800 0000 00000002 0001 04 06 02000ac80714 0000");
    sll2.extend_from_slice(&ip_packet);
    let p = decode(LinkType::LinuxSll2, &sll2).expect("valid");
    assert_eq!(p.link.src_mac, Some(MacAddr([2, 0, 0x0a, 0xc8, 7, 0x14])));
    assert!(matches!(p.transport, Transport::Tcp(..)));
    assert!(matches!(
        decode(LinkType::RawIp, &ip_packet).expect("raw").transport,
        Transport::Tcp(..)
    ));
    let mut null = vec![2, 0, 0, 0]; // AF_INET in little-endian host order
    null.extend_from_slice(&ip_packet);
    assert!(matches!(
        decode(LinkType::Null, &null).expect("null").transport,
        Transport::Tcp(..)
    ));
}

#[test]
fn skips_ipv6_extension_headers() {
    let mut v6 = hex("86dd");
    v6.splice(0..0, hex("020000000002 020000000001"));
    // IPv6: payload 8 (hop-by-hop) + 8 (fragment, atomic) + 8 (UDP) + 2, next header 0.
    v6.extend(hex("60000000 001a 00 40"));
    v6.extend(hex(
        "fe800000000000000000000000000001 fe800000000000000000000000000002",
    ));
    v6.extend(hex("2c 00 0104 00000000")); // hop-by-hop: next = fragment (44), PadN
    v6.extend(hex("11 00 0000 12345678")); // fragment header: next = UDP, offset 0, M=0 (atomic)
    v6.extend(hex("4e20 4e20 000a 0000 abcd")); // UDP 20000 -> 20000, 2 bytes
    let p = decode(LinkType::Ethernet, &v6).expect("valid");
    let ip = p.ip.expect("ip");
    assert_eq!(
        ip.src,
        IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1))
    );
    assert_eq!(ip.protocol, 17);
    assert_eq!(ip.fragment, None, "an atomic fragment is a whole datagram");
    let Transport::Udp(udp, payload) = p.transport else {
        panic!("udp")
    };
    assert_eq!(udp.dst_port, 20000);
    assert_eq!(payload, &[0xab, 0xcd]);
}

#[test]
fn non_ip_frames_are_not_errors() {
    let arp = hex("ffffffffffff 020000000001 0806 0001080006040001");
    let p = decode(LinkType::Ethernet, &arp).expect("valid");
    assert!(p.ip.is_none());
    assert_eq!(p.link.ethertype, 0x0806);
}

#[test]
fn rejects_malformed_headers_with_exact_errors() {
    let good = pymodbus_frame();
    let with = |at: usize, byte: u8| {
        let mut f = good.clone();
        f[at] = byte;
        f
    };
    let mut five_tags = good.clone();
    five_tags.splice(
        12..12,
        hex("8100 0001 8100 0002 8100 0003 8100 0004 8100 0005"),
    );
    let cases: Vec<(Vec<u8>, DecodeError)> = vec![
        (
            good[..10].to_vec(),
            DecodeError::Truncated {
                layer: Layer::Link,
                needed: 14,
                available: 10,
            },
        ),
        (
            good[..16].to_vec(),
            DecodeError::Truncated {
                layer: Layer::Ipv4,
                needed: 20,
                available: 2,
            },
        ),
        (with(14, 0x75), DecodeError::BadIpVersion(7)),
        (with(14, 0x43), DecodeError::BadIpv4HeaderLength(3)),
        // IHL 15: a 60-byte IPv4 header leaves 3 bytes for TCP.
        (
            with(14, 0x4f),
            DecodeError::Truncated {
                layer: Layer::Tcp,
                needed: 20,
                available: 3,
            },
        ),
        (
            {
                let mut f = good.clone();
                f[16] = 0;
                f[17] = 10;
                f
            },
            DecodeError::BadIpv4TotalLength(10),
        ),
        (with(46, 0x20), DecodeError::BadTcpDataOffset(2)),
        (with(46, 0xf0), DecodeError::BadTcpDataOffset(15)),
        (
            {
                let mut f = good[..40].to_vec();
                f[16] = 0;
                f[17] = 26;
                f
            },
            DecodeError::Truncated {
                layer: Layer::Tcp,
                needed: 20,
                available: 6,
            },
        ),
        (five_tags, DecodeError::TooManyVlanTags(4)),
    ];
    for (frame, expected) in cases {
        assert_eq!(
            decode(LinkType::Ethernet, &frame),
            Err(expected),
            "{expected}"
        );
    }
    let ipv6_short = hex("60000000");
    assert_eq!(
        decode(LinkType::RawIp, &ipv6_short),
        Err(DecodeError::Truncated {
            layer: Layer::Ipv6,
            needed: 40,
            available: 4
        })
    );
    assert_eq!(
        decode(LinkType::RawIp, &[]),
        Err(DecodeError::Truncated {
            layer: Layer::Link,
            needed: 1,
            available: 0
        })
    );
    assert_eq!(
        decode(LinkType::RawIp, &[0x15]),
        Err(DecodeError::BadIpVersion(1))
    );
}

#[test]
fn udp_length_below_eight_is_rejected() {
    let ip = hex("4500 001c 0000 0000 4011 0000 0a000001 0a000002 4e20 4e20 0004 0000");
    assert_eq!(
        decode(LinkType::RawIp, &ip),
        Err(DecodeError::BadUdpLength(4))
    );
}

#[test]
fn fragments_keep_their_payload_for_reassembly() {
    // More-fragments set, offset 0: the transport header is not decoded here.
    let mut f = pymodbus_frame();
    f[20] = 0x20;
    f[21] = 0x00;
    let p = decode(LinkType::Ethernet, &f).expect("valid");
    let frag = p.ip.expect("ip").fragment.expect("fragment");
    assert_eq!((frag.offset, frag.more, frag.id), (0, true, 0xc92e));
    assert!(matches!(p.transport, Transport::Other(rest) if rest.len() == 43));
}

#[test]
fn reads_the_window_scale_of_a_syn_only() {
    // A Linux SYN: 10.0.0.1:40000 -> 10.0.0.2:502, data offset 10 words.
    let syn = hex(concat!(
        "4500 003c 0000 4000 4006 0000 0a000001 0a000002", // IPv4, total 60, TCP
        "9c40 01f6 00000100 00000000",                     // ports, seq 256, ack 0
        "a0 02 faf0 0000 0000",                            // 10 words, SYN, window 64240
        "0204 05b4",                                       // MSS 1460
        "0402",                                            // SACK permitted
        "080a 00000001 00000000",                          // timestamps
        "01",                                              // NOP
        "0303 07",                                         // window scale 7
    ));
    let p = decode(LinkType::RawIp, &syn).expect("valid");
    let Transport::Tcp(tcp, _) = p.transport else {
        panic!("tcp")
    };
    assert_eq!((tcp.window, tcp.window_scale), (64240, Some(7)));
    // A shift above 14 is clamped (RFC 7323 2.3).
    let mut big = syn.clone();
    big[59] = 20;
    let Transport::Tcp(tcp, _) = decode(LinkType::RawIp, &big).expect("valid").transport else {
        panic!("tcp")
    };
    assert_eq!(tcp.window_scale, Some(14));
    // The same options on a segment without SYN are not read.
    let mut ack = syn.clone();
    ack[33] = 0x10;
    let Transport::Tcp(tcp, _) = decode(LinkType::RawIp, &ack).expect("valid").transport else {
        panic!("tcp")
    };
    assert_eq!(tcp.window_scale, None);
    // A malformed option (length 0) ends the search without an error.
    let mut bad = syn;
    bad[41] = 0; // MSS option length 0
    let Transport::Tcp(tcp, _) = decode(LinkType::RawIp, &bad).expect("valid").transport else {
        panic!("tcp")
    };
    assert_eq!(tcp.window_scale, None);
}

#[test]
fn keeps_the_ip_packet_and_segment_for_checksums() {
    let frame = pymodbus_frame();
    let p = decode(LinkType::Ethernet, &frame).expect("valid");
    assert_eq!(p.network.len(), 63, "IPv4 total length");
    assert_eq!(p.ipv4_header().map(<[u8]>::len), Some(20));
    assert_eq!(p.segment.len(), 43, "TCP header 32 + Modbus 11");
    let ip = p.ip.expect("ip");
    assert!(ip.complete);
    assert_eq!(ip.header_len, 20);
    // This frame was captured on the sending host (veth): the IPv4 header
    // checksum is real, the TCP one is the pseudo-header sum left for the card.
    assert_eq!(
        checksum::ipv4_header(p.ipv4_header().expect("v4")),
        checksum::Verdict::Good
    );
    assert!(matches!(
        checksum::transport(&ip, p.segment),
        checksum::Verdict::Bad { offload: true, .. }
    ));
    // Cut by a snap length: the IP length promises more than was captured.
    let cut = decode(LinkType::Ethernet, &frame[..70]).expect("valid");
    assert!(!cut.ip.expect("ip").complete);
}
