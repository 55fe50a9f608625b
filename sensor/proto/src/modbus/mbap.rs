//! MBAP (Modbus Application Protocol) header framing over a TCP byte stream.

use super::ModbusAnomaly;

/// Length of the MBAP header, unit id included.
pub const HEADER_LEN: usize = 7;
/// Largest MBAP length field the specification allows: unit id + a 253-byte PDU.
pub const MAX_LENGTH: u16 = 254;
/// Largest MBAP length still framed (with an anomaly): some vendor
/// extensions (Schneider UMAS) send 255 and more. Beyond this the bytes are
/// treated as garbage.
pub const MAX_TOLERATED_LENGTH: u16 = 1024;

/// A decoded MBAP header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Transaction identifier.
    pub transaction_id: u16,
    /// Protocol identifier (0 for Modbus).
    pub protocol_id: u16,
    /// Bytes following the length field (unit id + PDU).
    pub length: u16,
    /// Unit identifier.
    pub unit_id: u8,
}

/// Why an MBAP header is not acceptable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderError {
    /// Protocol identifier other than 0.
    BadProtocolId(u16),
    /// Length 0 or 1: no room for a function code.
    LengthTooSmall(u16),
    /// Length beyond 254.
    LengthTooLarge(u16),
}

impl HeaderError {
    /// The anomaly it raises.
    pub fn anomaly(&self) -> ModbusAnomaly {
        match self {
            HeaderError::BadProtocolId(_) => ModbusAnomaly::BadProtocolId,
            HeaderError::LengthTooSmall(_) => ModbusAnomaly::MbapLengthZero,
            HeaderError::LengthTooLarge(_) => ModbusAnomaly::MbapLengthTooLarge,
        }
    }
}

impl core::fmt::Display for HeaderError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            HeaderError::BadProtocolId(id) => write!(f, "MBAP protocol id {id:#06x} is not 0"),
            HeaderError::LengthTooSmall(len) => {
                write!(f, "MBAP length {len} leaves no room for a function code")
            }
            HeaderError::LengthTooLarge(len) => {
                write!(f, "MBAP length {len} exceeds {MAX_LENGTH}")
            }
        }
    }
}

impl Header {
    /// Reads a header from the first 7 bytes; `None` when fewer are present.
    pub fn read(bytes: &[u8]) -> Option<Header> {
        let b: &[u8; HEADER_LEN] = bytes.get(..HEADER_LEN)?.try_into().ok()?;
        Some(Header {
            transaction_id: u16::from_be_bytes([b[0], b[1]]),
            protocol_id: u16::from_be_bytes([b[2], b[3]]),
            length: u16::from_be_bytes([b[4], b[5]]),
            unit_id: b[6],
        })
    }

    /// Checks the protocol id and length. A length between [`MAX_LENGTH`]
    /// and [`MAX_TOLERATED_LENGTH`] passes here; [`Header::oversized`] tells.
    pub fn validate(&self) -> Result<(), HeaderError> {
        if self.length < 2 {
            return Err(HeaderError::LengthTooSmall(self.length));
        }
        if self.length > MAX_TOLERATED_LENGTH {
            return Err(HeaderError::LengthTooLarge(self.length));
        }
        if self.protocol_id != 0 {
            return Err(HeaderError::BadProtocolId(self.protocol_id));
        }
        Ok(())
    }

    /// Whether the length exceeds what the specification allows.
    pub fn oversized(&self) -> bool {
        self.length > MAX_LENGTH
    }

    /// Bytes of the whole ADU (header + PDU).
    pub fn frame_len(&self) -> usize {
        6 + usize::from(self.length)
    }
}

/// Whether `bytes` plausibly start with a Modbus/TCP ADU: used to recognise
/// Modbus on ports other than 502, and to resynchronise after garbage.
pub fn looks_like_adu(bytes: &[u8]) -> bool {
    let Some(header) = Header::read(bytes) else {
        return false;
    };
    if header.validate().is_err() || header.oversized() {
        return false;
    }
    match bytes.get(HEADER_LEN) {
        Some(&fc) => fc & 0x7f != 0,
        None => true,
    }
}

/// Stricter check for port probing: a whole ADU with a public function code
/// and nothing after it but (possibly) the start of another plausible ADU.
pub fn probe(bytes: &[u8]) -> bool {
    let Some(header) = Header::read(bytes) else {
        return false;
    };
    if header.validate().is_err() || header.oversized() || bytes.len() < header.frame_len() {
        return false;
    }
    let Some(&fc) = bytes.get(HEADER_LEN) else {
        return false;
    };
    let code = super::FunctionCode::from(fc & 0x7f);
    if !code.is_known() {
        return false;
    }
    let rest = &bytes[header.frame_len()..];
    rest.is_empty() || rest.len() < HEADER_LEN || looks_like_adu(rest)
}

pub use crate::stream::Candidate;

/// Whether a frame plausibly starts at `bytes[0]` while resynchronising after
/// garbage or a gap. Random bytes pass a single header check now and then, so
/// a candidate must also be followed by another plausible header, or end
/// exactly where the data ends.
pub fn resync_candidate(bytes: &[u8]) -> Candidate {
    if !looks_like_adu(bytes) {
        return Candidate::Reject;
    }
    let Some(header) = Header::read(bytes) else {
        return Candidate::NeedMore;
    };
    let end = header.frame_len();
    match bytes.len() {
        n if n == end => Candidate::Accept,
        n if n < end + HEADER_LEN => Candidate::NeedMore,
        _ if looks_like_adu(&bytes[end..]) => Candidate::Accept,
        _ => Candidate::Reject,
    }
}
