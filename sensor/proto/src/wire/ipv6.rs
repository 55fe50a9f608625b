//! IPv6 header decoding; extension headers are skipped.

use std::net::{IpAddr, Ipv6Addr};

use super::{be16, be32, need, DecodeError, Fragment, IpInfo, Layer};

/// Extension headers followed before giving up (an anomaly past that).
pub const MAX_EXTENSIONS: u8 = 8;

const HEADER_LEN: usize = 40;
const NEXT_HOP_BY_HOP: u8 = 0;
const NEXT_ROUTING: u8 = 43;
const NEXT_FRAGMENT: u8 = 44;
const NEXT_AH: u8 = 51;
const NEXT_DEST_OPTIONS: u8 = 60;
const NEXT_MOBILITY: u8 = 135;

fn addr(bytes: &[u8]) -> IpAddr {
    let array: [u8; 16] = bytes.try_into().unwrap_or([0; 16]);
    IpAddr::V6(Ipv6Addr::from(array))
}

/// Decodes an IPv6 header and skips its extension headers; returns the facts
/// and the upper-layer payload, trimmed to the payload length.
pub fn decode(bytes: &[u8]) -> Result<(IpInfo, &[u8]), DecodeError> {
    need(bytes, HEADER_LEN, Layer::Ipv6)?;
    let version = bytes[0] >> 4;
    if version != 6 {
        return Err(DecodeError::BadIpVersion(version));
    }
    let payload_len = usize::from(be16(bytes, 4));
    let (end, complete) = if payload_len == 0 {
        (bytes.len(), false) // jumbogram or TSO: keep what was captured
    } else {
        let declared = HEADER_LEN + payload_len;
        (declared.min(bytes.len()), declared <= bytes.len())
    };
    let mut next = bytes[6];
    let ttl = bytes[7];
    let src = addr(&bytes[8..24]);
    let dst = addr(&bytes[24..40]);
    let mut rest = &bytes[HEADER_LEN..end];
    let mut fragment = None;
    let mut seen = 0u8;
    loop {
        let ext_len = match next {
            NEXT_HOP_BY_HOP | NEXT_ROUTING | NEXT_DEST_OPTIONS | NEXT_MOBILITY => {
                need(rest, 2, Layer::Ipv6)?;
                (usize::from(rest[1]) + 1) * 8
            }
            NEXT_AH => {
                need(rest, 2, Layer::Ipv6)?;
                (usize::from(rest[1]) + 2) * 4
            }
            NEXT_FRAGMENT => {
                need(rest, 8, Layer::Ipv6)?;
                let off_flags = be16(rest, 2);
                fragment = Some(Fragment {
                    id: be32(rest, 4),
                    offset: u32::from(off_flags >> 3) * 8,
                    more: off_flags & 1 != 0,
                });
                8
            }
            _ => break,
        };
        seen += 1;
        if seen > MAX_EXTENSIONS {
            return Err(DecodeError::TooManyIpv6Extensions(MAX_EXTENSIONS));
        }
        need(rest, ext_len, Layer::Ipv6)?;
        next = rest[0];
        rest = &rest[ext_len..];
    }
    // A first fragment with offset 0 and no more-fragments flag is an atomic
    // fragment (RFC 6946): treat it as a whole datagram.
    let fragment = fragment.filter(|f| f.more || f.offset != 0);
    Ok((
        IpInfo {
            src,
            dst,
            protocol: next,
            ttl,
            fragment,
            header_len: (end - rest.len()).min(usize::from(u16::MAX)) as u16,
            complete,
        },
        rest,
    ))
}
