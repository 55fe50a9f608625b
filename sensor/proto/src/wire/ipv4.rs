//! IPv4 header decoding.

use std::net::{IpAddr, Ipv4Addr};

use super::{be16, need, DecodeError, Fragment, IpInfo, Layer};

mod field {
    pub(super) const VER_IHL: usize = 0;
    pub(super) const TOTAL_LEN: usize = 2;
    pub(super) const IDENT: usize = 4;
    pub(super) const FLAGS_FRAG: usize = 6;
    pub(super) const TTL: usize = 8;
    pub(super) const PROTOCOL: usize = 9;
    pub(super) const SRC: core::ops::Range<usize> = 12..16;
    pub(super) const DST: core::ops::Range<usize> = 16..20;
    pub(super) const MIN_LEN: usize = 20;
}

fn addr(bytes: &[u8]) -> IpAddr {
    match bytes {
        &[a, b, c, d] => IpAddr::V4(Ipv4Addr::new(a, b, c, d)),
        _ => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
    }
}

/// Decodes an IPv4 header; returns its facts and the payload, trimmed to the
/// total length (Ethernet padding removed). A total length beyond the captured
/// bytes keeps what was captured (snap length or truncation) and clears
/// [`IpInfo::complete`]. The header checksum is not verified here
/// ([`super::checksum::ipv4_header`] does).
pub fn decode(bytes: &[u8]) -> Result<(IpInfo, &[u8]), DecodeError> {
    need(bytes, field::MIN_LEN, Layer::Ipv4)?;
    let version = bytes[field::VER_IHL] >> 4;
    if version != 4 {
        return Err(DecodeError::BadIpVersion(version));
    }
    let ihl = bytes[field::VER_IHL] & 0x0f;
    if ihl < 5 {
        return Err(DecodeError::BadIpv4HeaderLength(ihl));
    }
    let header_len = usize::from(ihl) * 4;
    need(bytes, header_len, Layer::Ipv4)?;
    let total_len = be16(bytes, field::TOTAL_LEN);
    // TSO-captured packets carry total length 0; treat as "all captured bytes".
    let (end, complete) = if total_len == 0 {
        (bytes.len(), false)
    } else if usize::from(total_len) < header_len {
        return Err(DecodeError::BadIpv4TotalLength(total_len));
    } else {
        let declared = usize::from(total_len);
        (declared.min(bytes.len()), declared <= bytes.len())
    };
    let flags_frag = be16(bytes, field::FLAGS_FRAG);
    let more = flags_frag & 0x2000 != 0;
    let offset = u32::from(flags_frag & 0x1fff) * 8;
    let fragment = (more || offset != 0).then_some(Fragment {
        id: u32::from(be16(bytes, field::IDENT)),
        offset,
        more,
    });
    let info = IpInfo {
        src: addr(&bytes[field::SRC]),
        dst: addr(&bytes[field::DST]),
        protocol: bytes[field::PROTOCOL],
        ttl: bytes[field::TTL],
        fragment,
        header_len: header_len as u16,
        complete,
    };
    Ok((info, &bytes[header_len..end]))
}
