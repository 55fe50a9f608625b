//! TPKT (RFC 1006) framing: a 4-byte header (version 3, reserved, length of
//! the whole packet) in front of each COTP TPDU on the TCP stream.

use super::codes::TpduCode;
use super::S7Anomaly;

/// Length of the TPKT header.
pub const HEADER_LEN: usize = 4;
/// The only TPKT version.
pub const VERSION: u8 = 3;
/// Smallest TPKT length: the header and a 3-byte COTP DT header.
pub const MIN_LENGTH: u16 = 7;

mod field {
    pub(super) const VERSION: usize = 0;
    pub(super) const RESERVED: usize = 1;
    pub(super) const LENGTH: core::ops::Range<usize> = 2..4;
}

/// A decoded TPKT header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Version (3).
    pub version: u8,
    /// Reserved byte (0).
    pub reserved: u8,
    /// Length of the packet, header included.
    pub length: u16,
}

/// Why a TPKT header is not acceptable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TpktError {
    /// Version other than 3.
    BadVersion(u8),
    /// Length below 7: no room for a COTP header.
    LengthTooSmall(u16),
}

impl TpktError {
    /// The anomaly it raises.
    pub fn anomaly(&self) -> S7Anomaly {
        match self {
            TpktError::BadVersion(_) => S7Anomaly::TpktBadVersion,
            TpktError::LengthTooSmall(_) => S7Anomaly::TpktBadLength,
        }
    }
}

impl core::fmt::Display for TpktError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            TpktError::BadVersion(v) => write!(f, "TPKT version {v:#04x} is not 3"),
            TpktError::LengthTooSmall(len) => {
                write!(f, "TPKT length {len} is below the minimum of {MIN_LENGTH}")
            }
        }
    }
}

impl Header {
    /// Reads a header from the first 4 bytes; `None` when fewer are present.
    pub fn read(bytes: &[u8]) -> Option<Header> {
        let b: &[u8; HEADER_LEN] = bytes.get(..HEADER_LEN)?.try_into().ok()?;
        Some(Header {
            version: b[field::VERSION],
            reserved: b[field::RESERVED],
            length: u16::from_be_bytes([b[field::LENGTH.start], b[field::LENGTH.start + 1]]),
        })
    }

    /// Checks the version and the length.
    pub fn validate(&self) -> Result<(), TpktError> {
        if self.version != VERSION {
            return Err(TpktError::BadVersion(self.version));
        }
        if self.length < MIN_LENGTH {
            return Err(TpktError::LengthTooSmall(self.length));
        }
        Ok(())
    }

    /// Bytes of the whole packet.
    pub fn frame_len(&self) -> usize {
        usize::from(self.length)
    }
}

/// Whether `bytes` plausibly start a TPKT carrying COTP: a valid header with
/// a zero reserved byte, and a COTP length indicator and TPDU code that fit.
/// `None` when more bytes are needed to tell. Used to resynchronise.
pub fn looks_like_tpkt(bytes: &[u8]) -> Option<bool> {
    let header = Header::read(bytes)?;
    if header.validate().is_err() || header.reserved != 0 {
        return Some(false);
    }
    let li = *bytes.get(HEADER_LEN)?;
    let code = *bytes.get(HEADER_LEN + 1)?;
    let fits = usize::from(li) < header.frame_len() - HEADER_LEN && li >= 2;
    Some(fits && TpduCode::of(code).is_known())
}

/// Whether `bytes` (the start of a TCP stream on a port other than 102) look
/// like ISO-on-TCP carrying S7comm or S7comm-plus: a plausible TPKT with a
/// connection request, or a DT whose payload starts with 0x32 or 0x72.
pub fn probe(bytes: &[u8]) -> bool {
    if looks_like_tpkt(bytes) != Some(true) {
        return false;
    }
    let Some(header) = Header::read(bytes) else {
        return false;
    };
    let end = header.frame_len().min(bytes.len());
    let Some(tpdu) = bytes.get(HEADER_LEN..end) else {
        return false;
    };
    match super::cotp::Tpdu::parse(tpdu) {
        Ok(super::cotp::Tpdu::Connect(c)) => c.code == TpduCode::Cr,
        Ok(super::cotp::Tpdu::Data { payload, .. }) => {
            matches!(payload.first(), Some(0x32 | 0x72))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_validates_headers() {
        let h = Header::read(&[0x03, 0x00, 0x00, 0x16]).expect("4 bytes");
        assert_eq!(
            h,
            Header {
                version: 3,
                reserved: 0,
                length: 22
            }
        );
        assert_eq!(h.validate(), Ok(()));
        assert_eq!(Header::read(&[0x03, 0x00, 0x00]), None);
    }

    #[test]
    fn rejects_bad_headers_with_their_values() {
        let cases: &[(&[u8], TpktError, &str)] = &[
            (
                &[0x04, 0x00, 0x00, 0x16],
                TpktError::BadVersion(4),
                "tpkt_bad_version",
            ),
            (
                &[0x03, 0x00, 0x00, 0x06],
                TpktError::LengthTooSmall(6),
                "tpkt_bad_length",
            ),
            (
                &[0x03, 0x00, 0x00, 0x00],
                TpktError::LengthTooSmall(0),
                "tpkt_bad_length",
            ),
        ];
        for (bytes, err, name) in cases {
            let h = Header::read(bytes).expect("4 bytes");
            assert_eq!(h.validate(), Err(*err), "{bytes:02x?}");
            assert_eq!(err.anomaly().name(), *name);
        }
        assert_eq!(
            TpktError::BadVersion(4).to_string(),
            "TPKT version 0x04 is not 3"
        );
    }

    #[test]
    fn probes_iso_on_tcp() {
        // CR with TSAPs 0x0100 / 0x0102 and TPDU size 1024.
        let cr = [
            0x03, 0x00, 0x00, 0x16, 0x11, 0xe0, 0x00, 0x00, 0x00, 0x07, 0x00, 0xc1, 0x02, 0x01,
            0x00, 0xc2, 0x02, 0x01, 0x02, 0xc0, 0x01, 0x0a,
        ];
        assert!(probe(&cr));
        // DT carrying an S7 header.
        assert!(probe(&[
            0x03, 0x00, 0x00, 0x09, 0x02, 0xf0, 0x80, 0x32, 0x01
        ]));
        // DT carrying something else.
        assert!(!probe(&[
            0x03, 0x00, 0x00, 0x09, 0x02, 0xf0, 0x80, 0x47, 0x45
        ]));
        assert!(!probe(b"GET / HTTP/1.1\r\n"));
        assert!(!probe(&[0x03, 0x00]));
    }
}
