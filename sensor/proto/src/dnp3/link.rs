//! DNP3 data link layer: the FT3 frame with its 0x05 0x64 start octets, a
//! 10-byte header and user data in 16-byte blocks, each protected by a CRC.
//!
//! ```text
//! 05 64 | LEN | CTRL | DEST lo hi | SRC lo hi | CRC lo hi |  (header, 10 bytes)
//! up to 16 data bytes | CRC lo hi | … (LEN - 5 data bytes in all)
//! ```
//!
//! LEN counts CTRL, DEST, SRC and the user data, not the CRCs; it is at least
//! 5 and at most 255, so a frame carries at most 250 data bytes and is at most
//! [`MAX_FRAME_LEN`] bytes long.

use super::codes::LinkFunction;
use super::Dnp3Anomaly;

/// The two start octets.
pub const START: [u8; 2] = [0x05, 0x64];
/// Header length including its CRC.
pub const HEADER_LEN: usize = 10;
/// Smallest LEN field: control and addresses, no data.
pub const MIN_LENGTH: u8 = 5;
/// Most user data bytes in one frame (LEN 255).
pub const MAX_USER_DATA: usize = 250;
/// Longest frame on the wire: header, 250 data bytes and 16 block CRCs.
pub const MAX_FRAME_LEN: usize = 292;
/// Data bytes per CRC block.
pub const BLOCK_LEN: usize = 16;
/// Lowest broadcast destination address.
pub const BROADCAST_MIN: u16 = 0xfffd;

/// Field offsets within the header.
mod field {
    pub(super) const LENGTH: usize = 2;
    pub(super) const CONTROL: usize = 3;
    pub(super) const DEST: usize = 4;
    pub(super) const SRC: usize = 6;
    pub(super) const CRC: usize = 8;
}

/// The DNP3 CRC-16: polynomial 0x3D65, reflected (0xA6BC), initial value 0,
/// result inverted. Transmitted low byte first.
pub fn crc(bytes: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &byte in bytes {
        crc = (crc >> 8) ^ CRC_TABLE[usize::from((crc as u8) ^ byte)];
    }
    !crc
}

const CRC_TABLE: [u16; 256] = {
    let mut table = [0u16; 256];
    let mut i = 0;
    while i < 256 {
        let mut value = i as u16;
        let mut bit = 0;
        while bit < 8 {
            value = if value & 1 != 0 {
                (value >> 1) ^ 0xa6bc
            } else {
                value >> 1
            };
            bit += 1;
        }
        table[i] = value;
        i += 1;
    }
    table
};

/// The link control octet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Control(pub u8);

impl Control {
    /// DIR: set on frames from a master.
    pub fn dir(self) -> bool {
        self.0 & 0x80 != 0
    }
    /// PRM: set on primary (initiating) frames.
    pub fn prm(self) -> bool {
        self.0 & 0x40 != 0
    }
    /// FCB: frame count bit (primary frames).
    pub fn fcb(self) -> bool {
        self.prm() && self.0 & 0x20 != 0
    }
    /// FCV: frame count valid (primary frames).
    pub fn fcv(self) -> bool {
        self.prm() && self.0 & 0x10 != 0
    }
    /// DFC: data flow control, receiver busy (secondary frames).
    pub fn dfc(self) -> bool {
        !self.prm() && self.0 & 0x10 != 0
    }
    /// The function, primary or secondary.
    pub fn function(self) -> LinkFunction {
        LinkFunction::from(self.0 & 0x4f)
    }
}

/// A link header whose CRC checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// LEN: control + addresses + user data bytes.
    pub length: u8,
    /// Control octet.
    pub control: Control,
    /// Destination address.
    pub destination: u16,
    /// Source address.
    pub source: u16,
}

impl Header {
    /// User data bytes (CRCs excluded).
    pub fn data_len(&self) -> usize {
        usize::from(self.length.saturating_sub(MIN_LENGTH))
    }

    /// Bytes of the whole frame on the wire, CRCs included.
    pub fn frame_len(&self) -> usize {
        let data = self.data_len();
        HEADER_LEN + data + 2 * data.div_ceil(BLOCK_LEN)
    }

    /// Whether the destination is one of the broadcast addresses.
    pub fn is_broadcast(&self) -> bool {
        self.destination >= BROADCAST_MIN
    }
}

/// Why bytes do not form a usable link frame. `Copy`, carries the values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkError {
    /// The header CRC does not match.
    BadHeaderCrc {
        /// CRC computed over the 8 header bytes.
        computed: u16,
        /// CRC on the wire.
        received: u16,
    },
    /// LEN below 5, or a user-data frame with no room for a transport header.
    LengthTooSmall(u8),
    /// A data block CRC does not match.
    BadDataCrc {
        /// Block number, from 0.
        block: u8,
        /// CRC computed over the block.
        computed: u16,
        /// CRC on the wire.
        received: u16,
    },
    /// A frame whose function carries no user data has LEN above 5.
    FrameTooLong {
        /// Link function.
        function: LinkFunction,
        /// LEN field.
        length: u8,
    },
    /// A datagram ends inside a frame.
    Truncated {
        /// Bytes the frame needs.
        needed: usize,
        /// Bytes present.
        available: usize,
    },
}

impl LinkError {
    /// The anomaly it raises.
    pub fn anomaly(&self) -> Dnp3Anomaly {
        match self {
            LinkError::BadHeaderCrc { .. } => Dnp3Anomaly::BadHeaderCrc,
            LinkError::LengthTooSmall(_) => Dnp3Anomaly::LengthTooSmall,
            LinkError::BadDataCrc { .. } => Dnp3Anomaly::BadDataCrc,
            LinkError::FrameTooLong { .. } => Dnp3Anomaly::FrameTooLong,
            LinkError::Truncated { .. } => Dnp3Anomaly::TruncatedFrame,
        }
    }
}

impl core::fmt::Display for LinkError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            LinkError::BadHeaderCrc { computed, received } => {
                write!(
                    f,
                    "link header CRC {received:#06x}, computed {computed:#06x}"
                )
            }
            LinkError::LengthTooSmall(len) => {
                write!(
                    f,
                    "link length {len:#04x} too small for the frame's function"
                )
            }
            LinkError::BadDataCrc {
                block,
                computed,
                received,
            } => write!(
                f,
                "link data block {block} CRC {received:#06x}, computed {computed:#06x}"
            ),
            LinkError::FrameTooLong { function, length } => write!(
                f,
                "link function {function} carries no user data but length is {length:#04x}"
            ),
            LinkError::Truncated { needed, available } => {
                write!(f, "frame needs {needed} bytes, datagram holds {available}")
            }
        }
    }
}

/// Reads and checks the header at the start of `bytes`: `None` when fewer
/// than 10 bytes are present or they do not start with 0x05 0x64.
pub fn read_header(bytes: &[u8]) -> Option<Result<Header, LinkError>> {
    let b: &[u8; HEADER_LEN] = bytes.get(..HEADER_LEN)?.try_into().ok()?;
    if b[..2] != START {
        return None;
    }
    let computed = crc(&b[..field::CRC]);
    let received = u16::from_le_bytes([b[field::CRC], b[field::CRC + 1]]);
    if computed != received {
        return Some(Err(LinkError::BadHeaderCrc { computed, received }));
    }
    let header = Header {
        length: b[field::LENGTH],
        control: Control(b[field::CONTROL]),
        destination: u16::from_le_bytes([b[field::DEST], b[field::DEST + 1]]),
        source: u16::from_le_bytes([b[field::SRC], b[field::SRC + 1]]),
    };
    if header.length < MIN_LENGTH
        || (header.control.function().carries_user_data() && header.length == MIN_LENGTH)
    {
        return Some(Err(LinkError::LengthTooSmall(header.length)));
    }
    Some(Ok(header))
}

/// The control octet of a header at the start of `bytes` (whether or not
/// the header is valid).
pub(crate) fn header_control(bytes: &[u8]) -> Option<Control> {
    bytes.get(field::CONTROL).copied().map(Control)
}

/// Checks the block CRCs of a whole frame (`frame` is exactly
/// `header.frame_len()` bytes) and copies its user data into `out`, returning
/// the number of data bytes.
pub fn extract_data(
    header: &Header,
    frame: &[u8],
    out: &mut [u8; MAX_USER_DATA],
) -> Result<usize, LinkError> {
    let mut remaining = header.data_len();
    let mut body = frame.get(HEADER_LEN..).unwrap_or(&[]);
    let mut written = 0;
    let mut block = 0u8;
    while remaining > 0 {
        let n = remaining.min(BLOCK_LEN);
        let (Some(data), Some(tail)) = (body.get(..n), body.get(n..n + 2)) else {
            return Err(LinkError::Truncated {
                needed: header.frame_len(),
                available: frame.len(),
            });
        };
        let computed = crc(data);
        let received = u16::from_le_bytes([tail[0], tail[1]]);
        if computed != received {
            return Err(LinkError::BadDataCrc {
                block,
                computed,
                received,
            });
        }
        if let Some(dst) = out.get_mut(written..written + n) {
            dst.copy_from_slice(data);
        }
        written += n;
        remaining -= n;
        block = block.wrapping_add(1);
        body = body.get(n + 2..).unwrap_or(&[]);
    }
    Ok(written)
}

/// Position of the next 0x05 0x64 in `bytes`, or of a trailing lone 0x05
/// that may start one.
pub fn find_start(bytes: &[u8]) -> Option<usize> {
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == START[0] {
            match bytes.get(i + 1) {
                Some(&b) if b == START[1] => return Some(i),
                None => return Some(i),
                _ => {}
            }
        }
        i += 1;
    }
    None
}

/// Whether `bytes` start with a DNP3 link frame: start octets, a header with
/// a good CRC and a known link function. Used to recognise DNP3 on ports
/// other than 20000.
pub fn probe(bytes: &[u8]) -> bool {
    match read_header(bytes) {
        Some(Ok(header)) => header.control.function().is_known(),
        _ => false,
    }
}
