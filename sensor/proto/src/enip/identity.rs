//! What a device says of itself: the CIP Identity item of a ListIdentity
//! reply (volume 2, 2-4.3) and the reply to Get_Attributes_All on the
//! Identity object (volume 1, 5-2), which share the attribute layout.

use super::codes::DeviceType;
use super::{le16, le32};

/// Item type of the CIP Identity item in a ListIdentity reply.
pub const IDENTITY_ITEM: u16 = 0x000C;

/// A device's identity, borrowed from the packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Identity<'a> {
    /// Vendor id (ODVA assigns them; see [`super::vendors::vendor_name`]).
    pub vendor: u16,
    /// Device type (the CIP device profile).
    pub device_type: DeviceType,
    /// The vendor's product code.
    pub product_code: u16,
    /// Major revision.
    pub major: u8,
    /// Minor revision.
    pub minor: u8,
    /// Status word (owned, configured, faults).
    pub status: u16,
    /// Serial number.
    pub serial: u32,
    /// Product name (a SHORT_STRING).
    pub product_name: &'a [u8],
    /// State (ListIdentity only; optional in Get_Attributes_All).
    pub state: Option<u8>,
    /// The encapsulation protocol version and the socket address the
    /// device gives for itself (ListIdentity only).
    pub socket: Option<Socket>,
}

/// The socket address of a ListIdentity reply (sockaddr_in, big-endian).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Socket {
    /// Encapsulation protocol version.
    pub version: u16,
    /// TCP or UDP port.
    pub port: u16,
    /// IPv4 address.
    pub addr: [u8; 4],
}

impl<'a> Identity<'a> {
    /// The Identity attributes 1..7 (and the state when present), as the
    /// reply to Get_Attributes_All carries them.
    pub fn parse_attributes(b: &'a [u8]) -> Option<Identity<'a>> {
        let name_len = usize::from(*b.get(14)?);
        let product_name = b.get(15..15 + name_len)?;
        Some(Identity {
            vendor: le16(b, 0)?,
            device_type: DeviceType::from(le16(b, 2)?),
            product_code: le16(b, 4)?,
            major: b[6],
            minor: b[7],
            status: le16(b, 8)?,
            serial: le32(b, 10)?,
            product_name,
            state: b.get(15 + name_len).copied(),
            socket: None,
        })
    }

    /// The data of a CIP Identity item: version, socket address, then the
    /// attributes and the state.
    pub fn parse_item(b: &'a [u8]) -> Option<Identity<'a>> {
        let sock = b.get(2..18)?;
        let mut id = Identity::parse_attributes(&b[18..])?;
        id.socket = Some(Socket {
            version: le16(b, 0)?,
            port: u16::from_be_bytes([sock[2], sock[3]]),
            addr: [sock[4], sock[5], sock[6], sock[7]],
        });
        Some(id)
    }

    /// The revision as the vendor writes it: `major.minor`.
    pub fn revision(&self) -> impl core::fmt::Display {
        struct Rev(u8, u8);
        impl core::fmt::Display for Rev {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                write!(f, "{}.{}", self.0, self.1)
            }
        }
        Rev(self.major & 0x7F, self.minor)
    }
}
