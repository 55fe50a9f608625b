//! Community ID flow hashing, version 1: the flow identifier Zeek, Suricata,
//! Arkime and Security Onion share, so that an analyst can pivot from an
//! otwatch event to the same connection in those tools.
//!
//! The hash is SHA-1 over the seed (two bytes, big-endian; 0 unless a site
//! sets another), the two addresses, the IP protocol number, a zero byte
//! and the two ports (big-endian), with the endpoint that sorts lower
//! (address, then port) first so that both directions hash alike; the
//! identifier is `1:` and the digest in standard base64. It is computed once
//! per flow ([`digest`]) and written with every flow-bound line
//! ([`write`]).

use std::net::IpAddr;

use otwatch_proto::json::JsonWriter;

use crate::flow::Endpoint;

/// The SHA-1 digest of a flow's Community ID.
pub type Digest = [u8; 20];

/// The digest of the flow between `a` and `b` over IP protocol `protocol`.
/// For protocols without ports (ICMP types are not mapped here) the ports
/// given are hashed as they are.
pub fn digest(seed: u16, a: Endpoint, b: Endpoint, protocol: u8) -> Digest {
    let key = |e: &Endpoint| (e.ip, e.port);
    let (lo, hi) = if key(&a) <= key(&b) { (a, b) } else { (b, a) };
    // Largest input: 2 + 16 + 16 + 1 + 1 + 2 + 2 bytes.
    let mut input = [0u8; 40];
    let mut n = 0;
    let mut put = |bytes: &[u8]| {
        input[n..n + bytes.len()].copy_from_slice(bytes);
        n += bytes.len();
    };
    put(&seed.to_be_bytes());
    match (lo.ip, hi.ip) {
        (IpAddr::V4(x), IpAddr::V4(y)) => {
            put(&x.octets());
            put(&y.octets());
        }
        (x, y) => {
            put(&v6(x));
            put(&v6(y));
        }
    }
    put(&[protocol, 0]);
    put(&lo.port.to_be_bytes());
    put(&hi.port.to_be_bytes());
    sha1(&input[..n])
}

/// An address as 16 bytes (IPv4 mapped, for a flow that mixes families,
/// which a real flow never does).
fn v6(ip: IpAddr) -> [u8; 16] {
    match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => v6.octets(),
    }
}

/// Writes `"community_id":"1:<base64>"`.
pub fn write(w: &mut JsonWriter<'_>, digest: &Digest) {
    let mut text = [0u8; 30];
    text[..2].copy_from_slice(b"1:");
    base64(digest, &mut text[2..]);
    w.key("community_id").bytes_str(&text);
}

/// Standard base64 (with padding) of 20 bytes: 28 characters.
fn base64(bytes: &Digest, out: &mut [u8]) {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut o = 0;
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let v = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for (i, slot) in out[o..o + 4].iter_mut().enumerate() {
            *slot = if i <= chunk.len() {
                ALPHABET[(v >> (18 - 6 * i) & 0x3f) as usize]
            } else {
                b'='
            };
        }
        o += 4;
    }
}

/// SHA-1 (FIPS 180-4) of a short message.
fn sha1(message: &[u8]) -> Digest {
    let mut h: [u32; 5] = [
        0x6745_2301,
        0xefcd_ab89,
        0x98ba_dcfe,
        0x1032_5476,
        0xc3d2_e1f0,
    ];
    // The message, a 1 bit, zeros, and the length in bits: one or two
    // blocks for what is hashed here.
    let mut padded = [0u8; 128];
    padded[..message.len()].copy_from_slice(message);
    padded[message.len()] = 0x80;
    let blocks = if message.len() + 9 <= 64 { 1 } else { 2 };
    let bits = (message.len() as u64) * 8;
    padded[blocks * 64 - 8..blocks * 64].copy_from_slice(&bits.to_be_bytes());
    for block in padded[..blocks * 64].chunks_exact(64) {
        let mut w = [0u32; 80];
        for (i, word) in block.chunks_exact(4).enumerate() {
            w[i] = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
        }
        for i in 16..80 {
            w[i] = (w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]).rotate_left(1);
        }
        let [mut a, mut b, mut c, mut d, mut e] = h;
        for (i, wi) in w.iter().enumerate() {
            let (f, k) = match i {
                0..=19 => ((b & c) | (!b & d), 0x5a82_7999),
                20..=39 => (b ^ c ^ d, 0x6ed9_eba1),
                40..=59 => ((b & c) | (b & d) | (c & d), 0x8f1b_bcdc),
                _ => (b ^ c ^ d, 0xca62_c1d6),
            };
            let t = a
                .rotate_left(5)
                .wrapping_add(f)
                .wrapping_add(e)
                .wrapping_add(k)
                .wrapping_add(*wi);
            e = d;
            d = c;
            c = b.rotate_left(30);
            b = a;
            a = t;
        }
        for (x, y) in h.iter_mut().zip([a, b, c, d, e]) {
            *x = x.wrapping_add(y);
        }
    }
    let mut out = [0u8; 20];
    for (chunk, word) in out.chunks_exact_mut(4).zip(h) {
        chunk.copy_from_slice(&word.to_be_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(d: &Digest) -> String {
        let mut buf = Vec::new();
        let mut w = JsonWriter::new(&mut buf);
        w.begin_object();
        write(&mut w, d);
        w.end_object();
        let v: serde_json::Value = serde_json::from_slice(&buf).expect("json");
        v["community_id"].as_str().expect("a string").to_owned()
    }

    fn ep(ip: &str, port: u16) -> Endpoint {
        Endpoint {
            ip: ip.parse().expect("ip"),
            port,
        }
    }

    #[test]
    fn sha1_of_the_standard_test_messages() {
        // FIPS 180 examples: "abc" and the 56-byte two-block message.
        let hex = |d: Digest| d.iter().map(|b| format!("{b:02x}")).collect::<String>();
        assert_eq!(
            hex(sha1(b"abc")),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        assert_eq!(
            hex(sha1(
                b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"
            )),
            "84983e441c3bd26ebaae4aa1f95129e5e54670f1"
        );
        assert_eq!(hex(sha1(b"")), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    }

    /// Values of the reference implementation (Python `communityid` 1.5.0)
    /// for the same tuples; the third is also the specification's example.
    #[test]
    fn matches_the_reference_implementation() {
        let cases = [
            (
                ep("10.200.7.20", 40_000),
                ep("10.200.7.10", 502),
                6,
                0,
                "1:mQTCVKnySc5eWEVCYlJwZuThcuY=",
            ),
            (
                ep("fe80::1", 20_000),
                ep("fe80::2", 20_000),
                17,
                0,
                "1:FwZmKI21yCxlDBAsHCExT+6JE4E=",
            ),
            (
                ep("128.232.110.120", 34_855),
                ep("66.35.250.204", 80),
                6,
                0,
                "1:LQU9qZlK+B5F3KDmev6m5PMibrg=",
            ),
            (
                ep("128.232.110.120", 34_855),
                ep("66.35.250.204", 80),
                6,
                1,
                "1:3V71V58M3Ksw/yuFALMcW0LAHvc=",
            ),
        ];
        for (a, b, protocol, seed, expected) in cases {
            assert_eq!(text(&digest(seed, a, b, protocol)), expected, "{a:?} {b:?}");
            assert_eq!(text(&digest(seed, b, a, protocol)), expected, "reversed");
        }
    }

    #[test]
    fn both_directions_hash_alike_and_base64_is_padded() {
        let (a, b) = (ep("10.200.7.20", 40_000), ep("10.200.7.10", 502));
        let one = digest(0, a, b, 6);
        assert_eq!(one, digest(0, b, a, 6));
        assert_ne!(one, digest(1, a, b, 6), "the seed counts");
        assert_ne!(one, digest(0, a, b, 17), "the protocol counts");
        let t = text(&one);
        assert!(
            t.starts_with("1:") && t.ends_with('=') && t.len() == 30,
            "{t}"
        );
    }
}
