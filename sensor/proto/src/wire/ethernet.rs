//! Ethernet II with 802.1Q / 802.1ad (QinQ) tags, and Linux cooked captures.

use super::{be16, need, DecodeError, Layer, LinkInfo};

/// EtherType of IPv4.
pub const ETHERTYPE_IPV4: u16 = 0x0800;
/// EtherType of IPv6.
pub const ETHERTYPE_IPV6: u16 = 0x86dd;
/// EtherType of an 802.1Q customer tag.
pub const ETHERTYPE_VLAN: u16 = 0x8100;
/// EtherType of an 802.1ad service tag.
pub const ETHERTYPE_QINQ: u16 = 0x88a8;
/// Pre-standard QinQ EtherType still seen in the field.
pub const ETHERTYPE_QINQ_OLD: u16 = 0x9100;

/// Tags beyond this many are an anomaly (two is QinQ).
pub const MAX_VLAN_TAGS: u8 = 4;

mod field {
    pub(super) const DST: core::ops::Range<usize> = 0..6;
    pub(super) const SRC: core::ops::Range<usize> = 6..12;
    pub(super) const ETHERTYPE: usize = 12;
    pub(super) const HEADER_LEN: usize = 14;
    pub(super) const TAG_LEN: usize = 4;
}

/// A MAC address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct MacAddr(pub [u8; 6]);

impl MacAddr {
    fn from_slice(bytes: &[u8]) -> Option<MacAddr> {
        let array: [u8; 6] = bytes.try_into().ok()?;
        Some(MacAddr(array))
    }
}

impl core::fmt::Display for MacAddr {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let m = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            m[0], m[1], m[2], m[3], m[4], m[5]
        )
    }
}

/// Decodes an Ethernet header and its VLAN tags; returns the payload.
pub fn decode<'a>(frame: &'a [u8], link: &mut LinkInfo) -> Result<&'a [u8], DecodeError> {
    need(frame, field::HEADER_LEN, Layer::Link)?;
    link.dst_mac = MacAddr::from_slice(&frame[field::DST]);
    link.src_mac = MacAddr::from_slice(&frame[field::SRC]);
    let mut ethertype = be16(frame, field::ETHERTYPE);
    let mut rest = &frame[field::HEADER_LEN..];
    let mut tags = 0u8;
    while matches!(
        ethertype,
        ETHERTYPE_VLAN | ETHERTYPE_QINQ | ETHERTYPE_QINQ_OLD
    ) {
        if tags == MAX_VLAN_TAGS {
            return Err(DecodeError::TooManyVlanTags(MAX_VLAN_TAGS));
        }
        need(rest, field::TAG_LEN, Layer::Vlan)?;
        let vid = be16(rest, 0) & 0x0fff;
        if let Some(slot) = link.vlan.get_mut(usize::from(tags)) {
            *slot = vid;
        }
        tags += 1;
        ethertype = be16(rest, 2);
        rest = &rest[field::TAG_LEN..];
    }
    link.vlan_count = tags.min(2);
    link.ethertype = ethertype;
    Ok(rest)
}

/// Decodes a Linux cooked (SLL, 16-byte) header; returns the payload.
pub fn decode_sll<'a>(frame: &'a [u8], link: &mut LinkInfo) -> Result<&'a [u8], DecodeError> {
    // packet type (2), ARPHRD type (2), address length (2), address (8), protocol (2)
    need(frame, 16, Layer::Link)?;
    let addr_len = usize::from(be16(frame, 4)).min(8);
    if addr_len == 6 {
        link.src_mac = MacAddr::from_slice(&frame[6..12]);
    }
    link.ethertype = be16(frame, 14);
    Ok(&frame[16..])
}

/// Decodes a Linux cooked v2 (SLL2, 20-byte) header; returns the payload.
pub fn decode_sll2<'a>(frame: &'a [u8], link: &mut LinkInfo) -> Result<&'a [u8], DecodeError> {
    // protocol (2), reserved (2), interface index (4), ARPHRD (2), packet type (1),
    // address length (1), address (8)
    need(frame, 20, Layer::Link)?;
    link.ethertype = be16(frame, 0);
    let addr_len = usize::from(frame[11]).min(8);
    if addr_len == 6 {
        link.src_mac = MacAddr::from_slice(&frame[12..18]);
    }
    Ok(&frame[20..])
}
