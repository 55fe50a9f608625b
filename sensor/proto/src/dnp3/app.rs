//! DNP3 application layer header: the control octet, the function code and,
//! on responses, the two internal indication (IIN) octets.
//!
//! ```text
//! request:  AC | FC | object headers and data …
//! response: AC | FC | IIN1 | IIN2 | object headers and data …
//! AC = FIR 0x80 | FIN 0x40 | CON 0x20 | UNS 0x10 | SEQ 0x0f
//! ```

use super::codes::{FunctionCode, IIN_NAMES};
use super::Dnp3Anomaly;

/// The application control octet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AppControl(pub u8);

impl AppControl {
    /// FIR: first fragment of a message.
    pub fn fir(self) -> bool {
        self.0 & 0x80 != 0
    }
    /// FIN: last fragment of a message.
    pub fn fin(self) -> bool {
        self.0 & 0x40 != 0
    }
    /// CON: the receiver must confirm.
    pub fn con(self) -> bool {
        self.0 & 0x20 != 0
    }
    /// UNS: unsolicited response, or the confirm of one.
    pub fn uns(self) -> bool {
        self.0 & 0x10 != 0
    }
    /// Sequence number, 0–15.
    pub fn seq(self) -> u8 {
        self.0 & 0x0f
    }
}

/// Internal indications: IIN1 in the low byte, IIN2 in the high byte, so
/// bit `n` is the n-th entry of [`IIN_NAMES`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Iin(pub u16);

impl Iin {
    /// IIN1.7: the outstation restarted.
    pub const DEVICE_RESTART: u16 = 1 << 7;
    /// IIN1.4: the outstation needs time synchronisation.
    pub const NEED_TIME: u16 = 1 << 4;
    /// IIN2.0: function code not supported.
    pub const NO_FUNC_CODE_SUPPORT: u16 = 1 << 8;
    /// IIN2.1: requested object unknown.
    pub const OBJECT_UNKNOWN: u16 = 1 << 9;

    /// Whether bit `bit` (0–15, see [`IIN_NAMES`]) is set.
    pub fn bit(self, bit: u32) -> bool {
        bit < 16 && self.0 >> bit & 1 == 1
    }

    /// Whether the bit with this snake_case name is set.
    pub fn has(self, name: &str) -> bool {
        IIN_NAMES
            .iter()
            .position(|n| *n == name)
            .is_some_and(|i| self.bit(i as u32))
    }

    /// Names of the bits that are set, IIN1.0 first.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        IIN_NAMES
            .iter()
            .enumerate()
            .filter(move |(i, _)| self.bit(*i as u32))
            .map(|(_, n)| *n)
    }
}

/// A parsed application header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppHeader {
    /// Control octet.
    pub control: AppControl,
    /// Function code.
    pub function: FunctionCode,
    /// Internal indications, on responses (function 129–131) only.
    pub iin: Option<Iin>,
}

impl AppHeader {
    /// Header length in bytes: 4 for responses, 2 for requests.
    pub fn len(&self) -> usize {
        if self.iin.is_some() {
            4
        } else {
            2
        }
    }

    /// Never empty; present for API symmetry with `len`.
    pub fn is_empty(&self) -> bool {
        false
    }
}

/// The fragment is too short for its application header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderTooShort {
    /// Bytes present.
    pub available: usize,
    /// Bytes the header needs.
    pub needed: usize,
}

impl HeaderTooShort {
    /// The anomaly it raises.
    pub fn anomaly(&self) -> Dnp3Anomaly {
        Dnp3Anomaly::FragmentTooShort
    }
}

impl core::fmt::Display for HeaderTooShort {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "application fragment of {} bytes, header needs {}",
            self.available, self.needed
        )
    }
}

/// Reads the application header; the rest of the fragment holds objects.
pub fn read_header(fragment: &[u8]) -> Result<(AppHeader, &[u8]), HeaderTooShort> {
    let too_short = |needed| HeaderTooShort {
        available: fragment.len(),
        needed,
    };
    let (Some(&ac), Some(&fc)) = (fragment.first(), fragment.get(1)) else {
        return Err(too_short(2));
    };
    let function = FunctionCode::from(fc);
    if function.is_response() {
        let (Some(&iin1), Some(&iin2)) = (fragment.get(2), fragment.get(3)) else {
            return Err(too_short(4));
        };
        let header = AppHeader {
            control: AppControl(ac),
            function,
            iin: Some(Iin(u16::from_le_bytes([iin1, iin2]))),
        };
        return Ok((header, fragment.get(4..).unwrap_or(&[])));
    }
    let header = AppHeader {
        control: AppControl(ac),
        function,
        iin: None,
    };
    Ok((header, fragment.get(2..).unwrap_or(&[])))
}
