//! S7comm-plus (protocol id 0x72), the protocol of S7-1200 and S7-1500 CPUs.
//!
//! Framing: `0x72`, version, data length; for V3 an integrity part (digest
//! length and a 32-byte digest) opens the data of every PDU; a 4-byte trailer (`0x72`,
//! version, 0, 0) closes the message. A message too long for one TSDU is
//! sent in fragments, each with its own header, only the last one with the
//! trailer. Keep-alives (version 0xfe / 0xff) have no trailer.
//!
//! The data header is decoded (opcode, function code, sequence number,
//! session id, transport flags; the subscription of a notification); the
//! object tree after it is kept raw. A PDU whose data header is not
//! understood is still reported, with the reason.

use super::codes::{PlusFunction, PlusOpcode, PlusVersion};
use super::S7Anomaly;

/// Protocol id of S7comm-plus.
pub const PROTOCOL_ID: u8 = 0x72;
/// Length of the framing header.
pub const HEADER_LEN: usize = 4;
/// Length of the trailer.
pub const TRAILER_LEN: usize = 4;
/// Length of the V3 digest.
pub const DIGEST_LEN: u8 = 32;

/// Why a PDU is not (fully) understood.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlusError {
    /// Fewer bytes than the framing header.
    Truncated {
        /// Bytes needed.
        needed: usize,
        /// Bytes present.
        actual: usize,
    },
    /// The data length fits neither a complete message nor a fragment.
    LengthMismatch {
        /// Declared data length.
        declared: u16,
        /// Bytes after the header.
        available: usize,
    },
    /// The trailer is not `0x72`, version, 0, 0.
    BadTrailer {
        /// Protocol id byte of the trailer.
        id: u8,
        /// Version byte of the trailer.
        version: u8,
    },
    /// The V3 integrity part does not announce a 32-byte digest.
    BadDigestLength(u8),
    /// The data header is shorter than its opcode needs.
    ShortDataHeader {
        /// Opcode.
        opcode: u8,
        /// Bytes needed.
        needed: usize,
        /// Bytes present.
        actual: usize,
    },
    /// An opcode this version does not decode.
    UnknownOpcode(u8),
}

impl PlusError {
    /// The anomaly it raises, or `None` when the PDU is merely not
    /// understood.
    pub fn anomaly(&self) -> Option<S7Anomaly> {
        match self {
            PlusError::Truncated { .. }
            | PlusError::LengthMismatch { .. }
            | PlusError::BadTrailer { .. } => Some(S7Anomaly::S7plusBadFraming),
            PlusError::BadDigestLength(_) => Some(S7Anomaly::S7plusBadIntegrity),
            PlusError::ShortDataHeader { .. } | PlusError::UnknownOpcode(_) => None,
        }
    }
}

impl core::fmt::Display for PlusError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            PlusError::Truncated { needed, actual } => {
                write!(f, "S7comm-plus PDU of {actual} bytes, needs {needed}")
            }
            PlusError::LengthMismatch { declared, available } => write!(
                f,
                "S7comm-plus data length {declared} does not fit the {available} bytes after the header"
            ),
            PlusError::BadTrailer { id, version } => {
                write!(f, "S7comm-plus trailer starts {id:#04x} {version:#04x}, not the header's id and version")
            }
            PlusError::BadDigestLength(len) => {
                write!(f, "S7comm-plus integrity part announces a digest of {len} bytes, not 32")
            }
            PlusError::ShortDataHeader { opcode, needed, actual } => write!(
                f,
                "S7comm-plus opcode {opcode:#04x}: data header of {actual} bytes, needs {needed}"
            ),
            PlusError::UnknownOpcode(op) => write!(f, "S7comm-plus opcode {op:#04x} is not decoded"),
        }
    }
}

/// The data header of a request, response or notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataHeader {
    /// Opcode.
    pub opcode: PlusOpcode,
    /// Function code (requests and responses).
    pub function: Option<PlusFunction>,
    /// Sequence number (requests and responses).
    pub sequence: Option<u16>,
    /// Session id (requests).
    pub session_id: Option<u32>,
    /// Transport flags (requests and responses).
    pub transport_flags: Option<u8>,
    /// Subscription object id (notifications).
    pub subscription_id: Option<u32>,
}

/// What the data of a PDU is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Message {
    /// A request, response or notification.
    Data(DataHeader),
    /// A keep-alive.
    KeepAlive,
    /// A later fragment of a message (its data continues the object tree).
    Continuation,
}

/// One S7comm-plus PDU (one COTP TSDU).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pdu<'a> {
    /// Protocol version.
    pub version: PlusVersion,
    /// Declared data length.
    pub data_len: u16,
    /// The V3 integrity digest.
    pub digest: Option<&'a [u8]>,
    /// Whether the trailer is present (false: the message continues in the
    /// next PDU).
    pub has_trailer: bool,
    /// The data header, or why it is not understood.
    pub message: Result<Message, PlusError>,
    /// The bytes after the data header (the object tree), kept raw.
    pub body: &'a [u8],
}

impl<'a> Pdu<'a> {
    /// Decodes a PDU; `continuation` says the previous PDU of this direction
    /// was a fragment without trailer. Fails only without a framing header.
    pub fn parse(bytes: &'a [u8], continuation: bool) -> Result<Pdu<'a>, PlusError> {
        let Some(&[_, version, l0, l1]) = bytes.get(..HEADER_LEN) else {
            return Err(PlusError::Truncated {
                needed: HEADER_LEN,
                actual: bytes.len(),
            });
        };
        let version = PlusVersion::from(version);
        let data_len = u16::from_be_bytes([l0, l1]);
        let after = &bytes[HEADER_LEN..];
        let declared = usize::from(data_len);
        let mut pdu = Pdu {
            version,
            data_len,
            digest: None,
            has_trailer: false,
            message: Ok(Message::Continuation),
            body: &[],
        };
        let keep_alive = matches!(version, PlusVersion::KeepAlive | PlusVersion::KeepAlive2);
        let data = if keep_alive && declared <= after.len() {
            pdu.message = Ok(Message::KeepAlive);
            pdu.body = &after[..declared];
            return Ok(pdu);
        } else if declared + TRAILER_LEN == after.len() {
            let (data, trailer) = after.split_at(declared);
            if trailer[0] != PROTOCOL_ID || trailer[1] != u8::from(version) {
                pdu.message = Err(PlusError::BadTrailer {
                    id: trailer[0],
                    version: trailer[1],
                });
                pdu.body = data;
                return Ok(pdu);
            }
            pdu.has_trailer = true;
            data
        } else if declared == after.len() {
            after
        } else {
            pdu.message = Err(PlusError::LengthMismatch {
                declared: data_len,
                available: after.len(),
            });
            pdu.body = after;
            return Ok(pdu);
        };
        // Every V3 PDU, fragments included, opens with its own digest.
        let mut data = data;
        if version == PlusVersion::V3 {
            match data.split_first() {
                Some((&DIGEST_LEN, rest)) if rest.len() >= usize::from(DIGEST_LEN) => {
                    let (digest, rest) = rest.split_at(usize::from(DIGEST_LEN));
                    pdu.digest = Some(digest);
                    data = rest;
                }
                Some((&len, _)) => {
                    pdu.message = Err(PlusError::BadDigestLength(len));
                    pdu.body = data;
                    return Ok(pdu);
                }
                None => {}
            }
        }
        if continuation {
            pdu.body = data;
            return Ok(pdu);
        }
        let (message, body) = match parse_data_header(data) {
            Ok((header, body)) => (Ok(Message::Data(header)), body),
            Err(err) => (Err(err), data),
        };
        pdu.message = message;
        pdu.body = body;
        Ok(pdu)
    }

    /// The data header, when understood.
    pub fn data_header(&self) -> Option<&DataHeader> {
        match &self.message {
            Ok(Message::Data(h)) => Some(h),
            _ => None,
        }
    }
}

fn parse_data_header(data: &[u8]) -> Result<(DataHeader, &[u8]), PlusError> {
    let Some(&op) = data.first() else {
        return Err(PlusError::ShortDataHeader {
            opcode: 0,
            needed: 1,
            actual: 0,
        });
    };
    let opcode = PlusOpcode::from(op);
    let needed = match opcode {
        PlusOpcode::Request => 14,
        PlusOpcode::Response | PlusOpcode::Response2 => 10,
        PlusOpcode::Notification => 5,
        PlusOpcode::Unknown(op) => return Err(PlusError::UnknownOpcode(op)),
    };
    let Some(h) = data.get(..needed) else {
        return Err(PlusError::ShortDataHeader {
            opcode: op,
            needed,
            actual: data.len(),
        });
    };
    let be16 = |at: usize| u16::from_be_bytes([h[at], h[at + 1]]);
    let be32 = |at: usize| u32::from_be_bytes([h[at], h[at + 1], h[at + 2], h[at + 3]]);
    let mut header = DataHeader {
        opcode,
        function: None,
        sequence: None,
        session_id: None,
        transport_flags: None,
        subscription_id: None,
    };
    if opcode == PlusOpcode::Notification {
        header.subscription_id = Some(be32(1));
    } else {
        header.function = Some(PlusFunction::from(be16(3)));
        header.sequence = Some(be16(7));
        if opcode == PlusOpcode::Request {
            header.session_id = Some(be32(9));
            header.transport_flags = Some(h[13]);
        } else {
            header.transport_flags = Some(h[9]);
        }
    }
    Ok((header, &data[needed..]))
}
