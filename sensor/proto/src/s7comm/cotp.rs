//! COTP (ISO 8073 connection-oriented transport) TPDUs as carried in TPKT:
//! connection request / confirm with their parameters (TPDU size, TSAPs),
//! disconnect, data with the end-of-TSDU bit, and the class 1–4 TPDUs that
//! ISO-on-TCP (class 0) must not use.
//!
//! An S7 TSAP is two bytes: the connection type (1 PG, 2 OP, 3 basic) and
//! `rack * 32 + slot` of the CPU. S7comm-plus uses text TSAPs such as
//! `SIMATIC-ROOT-HMI`; those are kept as they are.

use super::codes::{ConnectionType, CotpParam, TpduCode};
use super::S7Anomaly;

mod field {
    pub(super) const LI: usize = 0;
    pub(super) const CODE: usize = 1;
    /// Destination reference (CR, CC, DR, DC, ED, AK, RJ, ER, class 2–4 DT).
    pub(super) const DST_REF: usize = 2;
    /// Source reference (CR, CC, DR, DC).
    pub(super) const SRC_REF: usize = 4;
    /// Class and options (CR, CC), reason (DR).
    pub(super) const CLASS: usize = 6;
}

/// Largest TSAP kept inline.
pub const MAX_TSAP_LEN: usize = 32;

/// Why a TPDU cannot be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CotpError {
    /// No bytes after the TPKT header.
    Empty,
    /// The length indicator runs past the TPKT.
    LengthIndicator {
        /// Length indicator.
        li: u8,
        /// Bytes present after it.
        available: usize,
    },
    /// The length indicator is too small for the TPDU's fixed part.
    TooShort {
        /// TPDU type byte.
        code: u8,
        /// Length indicator.
        li: u8,
        /// Smallest length indicator for this TPDU.
        needed: u8,
    },
    /// An unknown TPDU type.
    UnknownTpdu(u8),
    /// A parameter runs past the header.
    Parameter {
        /// Parameter code.
        code: u8,
        /// Declared parameter length.
        len: u8,
    },
    /// TPDU size parameter outside 128..=8192 bytes (7..=13).
    BadTpduSize(u8),
}

impl CotpError {
    /// The anomaly it raises.
    pub fn anomaly(&self) -> S7Anomaly {
        match self {
            CotpError::Parameter { .. } | CotpError::BadTpduSize(_) => S7Anomaly::CotpBadParameter,
            _ => S7Anomaly::CotpBadTpdu,
        }
    }
}

impl core::fmt::Display for CotpError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            CotpError::Empty => write!(f, "TPKT carries no COTP header"),
            CotpError::LengthIndicator { li, available } => write!(
                f,
                "COTP length indicator {li} exceeds the {available} bytes that follow it"
            ),
            CotpError::TooShort { code, li, needed } => write!(
                f,
                "COTP TPDU {code:#04x}: length indicator {li}, needs at least {needed}"
            ),
            CotpError::UnknownTpdu(code) => write!(f, "unknown COTP TPDU type {code:#04x}"),
            CotpError::Parameter { code, len } => write!(
                f,
                "COTP parameter {code:#04x} of length {len} runs past the header"
            ),
            CotpError::BadTpduSize(v) => {
                write!(f, "COTP TPDU size code {v:#04x} is outside 0x07..=0x0d")
            }
        }
    }
}

/// A TSAP value kept inline (at most [`MAX_TSAP_LEN`] bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Tsap {
    len: u8,
    bytes: [u8; MAX_TSAP_LEN],
}

impl Tsap {
    /// Copies a TSAP (truncated to [`MAX_TSAP_LEN`] bytes).
    pub fn new(value: &[u8]) -> Tsap {
        let mut tsap = Tsap::default();
        let n = value.len().min(MAX_TSAP_LEN);
        tsap.bytes[..n].copy_from_slice(&value[..n]);
        tsap.len = n as u8;
        tsap
    }

    /// The TSAP bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len).min(MAX_TSAP_LEN)]
    }

    /// The connection type byte of a two-byte S7 TSAP.
    pub fn connection_type(&self) -> Option<ConnectionType> {
        match self.as_bytes() {
            [kind, _] => Some(ConnectionType::from(*kind)),
            _ => None,
        }
    }

    /// Rack and slot of a two-byte S7 TSAP (`rack * 32 + slot`).
    pub fn rack_slot(&self) -> Option<(u8, u8)> {
        match self.as_bytes() {
            [_, rs] => Some((rs >> 5, rs & 0x1f)),
            _ => None,
        }
    }

    /// The TSAP as text when it is printable ASCII of more than two bytes
    /// (S7comm-plus TSAPs such as `SIMATIC-ROOT-ES`).
    pub fn text(&self) -> Option<&str> {
        let bytes = self.as_bytes();
        if bytes.len() > 2 && bytes.iter().all(|b| (0x20..0x7f).contains(b)) {
            core::str::from_utf8(bytes).ok()
        } else {
            None
        }
    }
}

/// A connection request or confirm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Connect<'a> {
    /// CR or CC.
    pub code: TpduCode,
    /// Initial credit (low nibble of the type byte; 0 in class 0).
    pub credit: u8,
    /// Destination reference.
    pub dst_ref: u16,
    /// Source reference.
    pub src_ref: u16,
    /// Protocol class (high nibble; 0 on ISO-on-TCP).
    pub class: u8,
    /// Option bits (low nibble: extended formats, explicit flow control).
    pub options: u8,
    /// The variable part: parameters, validated.
    pub params: Params<'a>,
}

impl<'a> Connect<'a> {
    /// TPDU size in bytes (from the 0xc0 parameter).
    pub fn tpdu_size(&self) -> Option<u32> {
        self.params
            .find(CotpParam::TpduSize)
            .and_then(|v| v.first().copied())
            .map(|code| 1u32 << code.min(31))
    }

    /// Calling (source) TSAP.
    pub fn calling_tsap(&self) -> Option<&'a [u8]> {
        self.params.find(CotpParam::CallingTsap)
    }

    /// Called (destination) TSAP.
    pub fn called_tsap(&self) -> Option<&'a [u8]> {
        self.params.find(CotpParam::CalledTsap)
    }
}

/// A disconnect request or confirm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Disconnect<'a> {
    /// DR or DC.
    pub code: TpduCode,
    /// Destination reference.
    pub dst_ref: u16,
    /// Source reference.
    pub src_ref: u16,
    /// Reason (DR only).
    pub reason: Option<u8>,
    /// Parameters.
    pub params: Params<'a>,
}

/// The validated parameter part of a TPDU: (code, length, value) triples.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Params<'a>(&'a [u8]);

impl<'a> Params<'a> {
    /// Walks the parameters once and checks that each fits and that a TPDU
    /// size is in range.
    pub fn parse(bytes: &'a [u8]) -> Result<Params<'a>, CotpError> {
        let mut rest = bytes;
        while let [code, len, tail @ ..] = rest {
            let len_usize = usize::from(*len);
            let Some(value) = tail.get(..len_usize) else {
                return Err(CotpError::Parameter {
                    code: *code,
                    len: *len,
                });
            };
            if CotpParam::from(*code) == CotpParam::TpduSize {
                match value.first() {
                    Some(&v) if (7..=13).contains(&v) => {}
                    Some(&v) => return Err(CotpError::BadTpduSize(v)),
                    None => {
                        return Err(CotpError::Parameter {
                            code: *code,
                            len: *len,
                        })
                    }
                }
            }
            rest = &tail[len_usize..];
        }
        if let [code] = rest {
            return Err(CotpError::Parameter {
                code: *code,
                len: 0,
            });
        }
        Ok(Params(bytes))
    }

    /// The raw parameter bytes.
    pub fn raw(&self) -> &'a [u8] {
        self.0
    }

    /// Iterates over (code, value).
    pub fn iter(&self) -> ParamIter<'a> {
        ParamIter(self.0)
    }

    /// The value of the first parameter with `code`.
    pub fn find(&self, code: CotpParam) -> Option<&'a [u8]> {
        self.iter().find(|(c, _)| *c == code).map(|(_, v)| v)
    }
}

/// Iterator over COTP parameters.
#[derive(Debug, Clone)]
pub struct ParamIter<'a>(&'a [u8]);

impl<'a> Iterator for ParamIter<'a> {
    type Item = (CotpParam, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let [code, len, tail @ ..] = self.0 else {
            return None;
        };
        let value = tail.get(..usize::from(*len))?;
        self.0 = &tail[value.len()..];
        Some((CotpParam::from(*code), value))
    }
}

/// A decoded TPDU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tpdu<'a> {
    /// CR or CC.
    Connect(Connect<'a>),
    /// DR or DC.
    Disconnect(Disconnect<'a>),
    /// DT: a segment of a TSDU (an S7 PDU).
    Data {
        /// End of TSDU: this segment completes the PDU.
        eot: bool,
        /// TPDU sequence number.
        nr: u8,
        /// User data.
        payload: &'a [u8],
    },
    /// ED, EA, AK or RJ: not used by class 0.
    Other {
        /// TPDU code.
        code: TpduCode,
        /// Destination reference.
        dst_ref: u16,
        /// Bytes after the fixed part (user data of an ED).
        payload: &'a [u8],
    },
    /// ER: the peer reports a TPDU error.
    Error {
        /// Destination reference.
        dst_ref: u16,
        /// Reject cause.
        cause: u8,
        /// Parameters (0xc1: the invalid TPDU).
        params: &'a [u8],
    },
}

fn be16(b: &[u8], at: usize) -> u16 {
    match b.get(at..at + 2) {
        Some(&[hi, lo]) => u16::from_be_bytes([hi, lo]),
        _ => 0,
    }
}

impl<'a> Tpdu<'a> {
    /// Decodes the TPDU in a TPKT payload.
    pub fn parse(bytes: &'a [u8]) -> Result<Tpdu<'a>, CotpError> {
        let Some(&li) = bytes.get(field::LI) else {
            return Err(CotpError::Empty);
        };
        let header_end = usize::from(li) + 1;
        if header_end > bytes.len() {
            return Err(CotpError::LengthIndicator {
                li,
                available: bytes.len() - 1,
            });
        }
        let Some(&type_byte) = bytes.get(field::CODE) else {
            return Err(CotpError::TooShort {
                code: 0,
                li,
                needed: 1,
            });
        };
        let code = TpduCode::of(type_byte);
        let needed: u8 = match code {
            TpduCode::Cr | TpduCode::Cc | TpduCode::Dr => 6,
            TpduCode::Dc => 5,
            TpduCode::Dt => 2,
            TpduCode::Ed | TpduCode::Ea | TpduCode::Ak | TpduCode::Rj | TpduCode::Er => 4,
            TpduCode::Unknown(_) => return Err(CotpError::UnknownTpdu(type_byte)),
        };
        if li < needed || (code == TpduCode::Dt && li == 3) {
            return Err(CotpError::TooShort {
                code: type_byte,
                li,
                needed,
            });
        }
        let header = &bytes[..header_end];
        let after = &bytes[header_end..];
        let fixed_end = usize::from(needed) + 1;
        let params = &header[fixed_end.min(header.len())..];
        Ok(match code {
            TpduCode::Cr | TpduCode::Cc => {
                let class_byte = header.get(field::CLASS).copied().unwrap_or(0);
                Tpdu::Connect(Connect {
                    code,
                    credit: type_byte & 0x0f,
                    dst_ref: be16(header, field::DST_REF),
                    src_ref: be16(header, field::SRC_REF),
                    class: class_byte >> 4,
                    options: class_byte & 0x0f,
                    params: Params::parse(params)?,
                })
            }
            TpduCode::Dr | TpduCode::Dc => Tpdu::Disconnect(Disconnect {
                code,
                dst_ref: be16(header, field::DST_REF),
                src_ref: be16(header, field::SRC_REF),
                reason: if code == TpduCode::Dr {
                    header.get(field::CLASS).copied()
                } else {
                    None
                },
                params: Params::parse(params)?,
            }),
            TpduCode::Dt => {
                // Class 0 carries only EOT/NR; classes 2–4 put a destination
                // reference in front of it.
                let nr_at = if li == 2 { 2 } else { 4 };
                let nr_byte = header.get(nr_at).copied().unwrap_or(0);
                Tpdu::Data {
                    eot: nr_byte & 0x80 != 0,
                    nr: nr_byte & 0x7f,
                    payload: after,
                }
            }
            TpduCode::Er => Tpdu::Error {
                dst_ref: be16(header, field::DST_REF),
                cause: header.get(4).copied().unwrap_or(0),
                params,
            },
            _ => Tpdu::Other {
                code,
                dst_ref: be16(header, field::DST_REF),
                payload: after,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_connection_request_tsaps() {
        // From downloading_block_db1.pcap, frame 5 (TPKT header removed).
        let cr = [
            0x11, // LI 17
            0xe0, // CR, credit 0
            0x00, 0x00, // dst ref
            0x00, 0x07, // src ref
            0x00, // class 0, no options
            0xc1, 0x02, 0x01, 0x00, // calling TSAP 0x0100
            0xc2, 0x02, 0x01, 0x02, // called TSAP 0x0102: PG, rack 0, slot 2
            0xc0, 0x01, 0x0a, // TPDU size 2^10
        ];
        let Ok(Tpdu::Connect(c)) = Tpdu::parse(&cr) else {
            panic!("CR expected");
        };
        assert_eq!(
            (c.code, c.dst_ref, c.src_ref, c.class),
            (TpduCode::Cr, 0, 7, 0)
        );
        assert_eq!(c.tpdu_size(), Some(1024));
        assert_eq!(c.calling_tsap(), Some(&[0x01, 0x00][..]));
        let called = Tsap::new(c.called_tsap().expect("called TSAP"));
        assert_eq!(called.connection_type(), Some(ConnectionType::Pg));
        assert_eq!(called.rack_slot(), Some((0, 2)));
        assert_eq!(called.text(), None);
        assert_eq!(
            Tsap::new(b"SIMATIC-ROOT-HMI").text(),
            Some("SIMATIC-ROOT-HMI")
        );
    }

    #[test]
    fn decodes_data_with_and_without_eot() {
        assert_eq!(
            Tpdu::parse(&[0x02, 0xf0, 0x80, 0x32]),
            Ok(Tpdu::Data {
                eot: true,
                nr: 0,
                payload: &[0x32]
            })
        );
        assert_eq!(
            Tpdu::parse(&[0x02, 0xf0, 0x00]),
            Ok(Tpdu::Data {
                eot: false,
                nr: 0,
                payload: &[]
            })
        );
    }

    #[test]
    fn rejects_malformed_tpdus_with_exact_errors() {
        let cases: &[(&[u8], CotpError)] = &[
            (&[], CotpError::Empty),
            (
                &[0x05, 0xf0, 0x80],
                CotpError::LengthIndicator {
                    li: 5,
                    available: 2,
                },
            ),
            (&[0x02, 0x30, 0x80], CotpError::UnknownTpdu(0x30)),
            (
                &[0x01, 0xf0],
                CotpError::TooShort {
                    code: 0xf0,
                    li: 1,
                    needed: 2,
                },
            ),
            (
                &[0x03, 0xf0, 0x00, 0x00],
                CotpError::TooShort {
                    code: 0xf0,
                    li: 3,
                    needed: 2,
                },
            ),
            (
                &[0x04, 0xe0, 0, 0, 0],
                CotpError::TooShort {
                    code: 0xe0,
                    li: 4,
                    needed: 6,
                },
            ),
            (
                &[0x09, 0xe0, 0, 0, 0, 1, 0, 0xc1, 0x04, 0x01],
                CotpError::Parameter { code: 0xc1, len: 4 },
            ),
            (
                &[0x09, 0xe0, 0, 0, 0, 1, 0, 0xc0, 0x01, 0x0f],
                CotpError::BadTpduSize(0x0f),
            ),
            (
                &[0x07, 0xd0, 0, 0, 0, 1, 0, 0xc0],
                CotpError::Parameter { code: 0xc0, len: 0 },
            ),
        ];
        for (bytes, err) in cases {
            assert_eq!(Tpdu::parse(bytes), Err(*err), "{bytes:02x?}");
        }
        assert_eq!(
            CotpError::BadTpduSize(1).anomaly().name(),
            "cotp_bad_parameter"
        );
        assert_eq!(CotpError::UnknownTpdu(1).anomaly().name(), "cotp_bad_tpdu");
    }
}
