//! The APCI of IEC 60870-5-104 (clause 5): a start byte 0x68, the length of
//! what follows (4 to 253), and four control octets that make the frame an
//! I-format (numbered information transfer, an ASDU follows), an S-format
//! (numbered supervisory: an acknowledgement) or a U-format (unnumbered
//! control: STARTDT, STOPDT, TESTFR).

use crate::stream::Candidate;

/// The start byte of every APDU.
pub const START: u8 = 0x68;
/// Length of the APCI: start, length and the four control octets.
pub const APCI_LEN: usize = 6;
/// Smallest length field (the control octets alone).
pub const MIN_LENGTH: u8 = 4;
/// Largest length field (an APDU is at most 255 octets).
pub const MAX_LENGTH: u8 = 253;

/// The U-format functions (one bit each in the first control octet).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UFunction {
    /// STARTDT act: start data transfer.
    StartDtAct,
    /// STARTDT con.
    StartDtCon,
    /// STOPDT act: stop data transfer.
    StopDtAct,
    /// STOPDT con.
    StopDtCon,
    /// TESTFR act: a keep-alive test frame.
    TestFrAct,
    /// TESTFR con.
    TestFrCon,
}

impl UFunction {
    /// Every function, in bit order (0x04 to 0x80).
    pub const ALL: [UFunction; 6] = [
        UFunction::StartDtAct,
        UFunction::StartDtCon,
        UFunction::StopDtAct,
        UFunction::StopDtCon,
        UFunction::TestFrAct,
        UFunction::TestFrCon,
    ];

    /// The bit of the first control octet.
    pub fn bit(self) -> u8 {
        0x04 << (self as u8)
    }

    /// Its name in EVE and rules.
    pub fn name(self) -> &'static str {
        match self {
            UFunction::StartDtAct => "startdt_act",
            UFunction::StartDtCon => "startdt_con",
            UFunction::StopDtAct => "stopdt_act",
            UFunction::StopDtCon => "stopdt_con",
            UFunction::TestFrAct => "testfr_act",
            UFunction::TestFrCon => "testfr_con",
        }
    }

    /// The function of a U-format control octet, when exactly one bit is
    /// set.
    pub fn from_octet(b: u8) -> Option<UFunction> {
        UFunction::ALL.into_iter().find(|f| b & 0xFC == f.bit())
    }
}

/// The control field, by format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// Numbered information transfer: the sender's send sequence number
    /// and the receive sequence number it acknowledges.
    I {
        /// N(S), 15 bits.
        send: u16,
        /// N(R), 15 bits.
        receive: u16,
    },
    /// Numbered supervisory: acknowledges up to `receive`.
    S {
        /// N(R), 15 bits.
        receive: u16,
    },
    /// Unnumbered control: the first control octet (one function bit set
    /// in a valid frame).
    U {
        /// The first control octet.
        octet: u8,
    },
}

impl Control {
    /// Decodes the four control octets.
    pub fn parse(c: [u8; 4]) -> Control {
        let seq = |lo: u8, hi: u8| (u16::from(lo) >> 1) | (u16::from(hi) << 7);
        if c[0] & 0x01 == 0 {
            Control::I {
                send: seq(c[0], c[1]),
                receive: seq(c[2], c[3]),
            }
        } else if c[0] & 0x03 == 0x01 {
            Control::S {
                receive: seq(c[2], c[3]),
            }
        } else {
            Control::U { octet: c[0] }
        }
    }

    /// `I`, `S` or `U`.
    pub fn format(&self) -> &'static str {
        match self {
            Control::I { .. } => "I",
            Control::S { .. } => "S",
            Control::U { .. } => "U",
        }
    }

    /// The U function, for a valid U-format frame.
    pub fn u_function(&self) -> Option<UFunction> {
        match *self {
            Control::U { octet } => UFunction::from_octet(octet),
            _ => None,
        }
    }
}

/// One APDU's APCI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Apci {
    /// The length field: octets after it (control octets and ASDU).
    pub length: u8,
    /// The control field.
    pub control: Control,
}

/// Why an APCI is not acceptable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApciError {
    /// The first byte is not 0x68.
    BadStart(u8),
    /// A length below 4 (no room for the control octets) or above 253.
    BadLength(u8),
    /// An S- or U-format frame with an ASDU after it, or an I-format frame
    /// without one.
    LengthDoesNotFit {
        /// The format.
        format: &'static str,
        /// The length field.
        length: u8,
    },
    /// A U-format frame with no or several function bits, or other bits set.
    BadUFunction(u8),
}

impl core::fmt::Display for ApciError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            ApciError::BadStart(b) => write!(f, "APDU starts with {b:#04x}, not 0x68"),
            ApciError::BadLength(n) => write!(f, "APDU length {n} is outside 4..=253"),
            ApciError::LengthDoesNotFit { format, length } => {
                write!(f, "{format}-format APDU with length {length}")
            }
            ApciError::BadUFunction(b) => {
                write!(
                    f,
                    "U-format control octet {b:#04x} names no single function"
                )
            }
        }
    }
}

impl Apci {
    /// Reads the APCI at the start of `b`; `None` when fewer than six
    /// bytes are present.
    pub fn read(b: &[u8]) -> Option<Result<Apci, ApciError>> {
        let h: &[u8; APCI_LEN] = b.get(..APCI_LEN)?.try_into().ok()?;
        if h[0] != START {
            return Some(Err(ApciError::BadStart(h[0])));
        }
        let length = h[1];
        if !(MIN_LENGTH..=MAX_LENGTH).contains(&length) {
            return Some(Err(ApciError::BadLength(length)));
        }
        Some(Ok(Apci {
            length,
            control: Control::parse([h[2], h[3], h[4], h[5]]),
        }))
    }

    /// Bytes of the whole APDU.
    pub fn frame_len(&self) -> usize {
        2 + usize::from(self.length)
    }

    /// Checks the length against the format and the U function bits.
    pub fn validate(&self) -> Result<(), ApciError> {
        let has_asdu = self.length > MIN_LENGTH;
        match self.control {
            Control::I { .. } if !has_asdu => Err(ApciError::LengthDoesNotFit {
                format: "I",
                length: self.length,
            }),
            Control::S { .. } | Control::U { .. } if has_asdu => Err(ApciError::LengthDoesNotFit {
                format: self.control.format(),
                length: self.length,
            }),
            Control::U { octet } if UFunction::from_octet(octet).is_none() => {
                Err(ApciError::BadUFunction(octet))
            }
            _ => Ok(()),
        }
    }
}

/// Whether `b` plausibly starts an APDU: start byte, length in range, a
/// control field that fits it.
pub fn looks_like_apdu(b: &[u8]) -> bool {
    matches!(Apci::read(b), Some(Ok(a)) if a.validate().is_ok())
}

/// Stricter check for recognising IEC 104 on other ports: whole valid
/// APDUs, the first a STARTDT or TESTFR act (how a controlling station
/// opens a connection) or an I-format frame.
pub fn probe(b: &[u8]) -> bool {
    let Some(Ok(a)) = Apci::read(b) else {
        return false;
    };
    if a.validate().is_err() || b.len() < a.frame_len() {
        return false;
    }
    let opens = matches!(
        a.control.u_function(),
        Some(UFunction::StartDtAct | UFunction::TestFrAct)
    ) || matches!(a.control, Control::I { .. });
    let rest = &b[a.frame_len()..];
    opens && (rest.len() < APCI_LEN || looks_like_apdu(rest))
}

/// Whether an APDU plausibly starts at `b[0]` while resynchronising: it
/// must look like one and be followed by another, or end where the data
/// ends.
pub fn resync_candidate(b: &[u8]) -> Candidate {
    if b.len() < APCI_LEN {
        return if b.first().is_none_or(|&s| s == START) {
            Candidate::NeedMore
        } else {
            Candidate::Reject
        };
    }
    let Some(Ok(a)) = Apci::read(b).filter(|_| looks_like_apdu(b)) else {
        return Candidate::Reject;
    };
    let end = a.frame_len();
    match b.len() {
        n if n == end => Candidate::Accept,
        n if n < end + APCI_LEN => Candidate::NeedMore,
        _ if looks_like_apdu(&b[end..]) => Candidate::Accept,
        _ => Candidate::Reject,
    }
}
