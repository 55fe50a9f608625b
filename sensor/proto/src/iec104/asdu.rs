//! The ASDU of IEC 60870-5-104 (IEC 60870-5-101 clause 7, with the 104
//! parameters: two-octet cause of transmission, two-octet common address,
//! three-octet information object addresses): the data unit identifier,
//! then information objects, each an address and an element whose layout
//! the type identification fixes.

use super::codes::{Cause, TimeTag, TypeId};

/// Octets of the data unit identifier: type, variable structure
/// qualifier, cause (with the originator address), common address.
pub const HEADER_LEN: usize = 6;
/// Octets of an information object address.
pub const IOA_LEN: usize = 3;

/// An ASDU, borrowed from the APDU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Asdu<'a> {
    /// Type identification.
    pub type_id: TypeId,
    /// SQ: the objects are one address and consecutive elements.
    pub sequence: bool,
    /// Number of information objects (or elements, with SQ).
    pub count: u8,
    /// Cause of transmission.
    pub cause: Cause,
    /// P/N: a negative confirmation.
    pub negative: bool,
    /// T: a test ASDU.
    pub test: bool,
    /// Originator address (0 when not used).
    pub originator: u8,
    /// Common address of the ASDU (the station, or the sector of it).
    pub common_address: u16,
    /// The information objects as on the wire.
    pub objects: &'a [u8],
}

/// Why an ASDU cannot be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AsduError {
    /// Shorter than its data unit identifier.
    Truncated(usize),
    /// The objects do not fill the bytes their type and count need.
    LengthMismatch {
        /// Bytes the type and count need.
        expected: usize,
        /// Bytes present.
        got: usize,
    },
    /// A count of zero information objects.
    NoObjects,
}

impl core::fmt::Display for AsduError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            AsduError::Truncated(n) => write!(f, "ASDU of {n} octets is shorter than its header"),
            AsduError::LengthMismatch { expected, got } => write!(
                f,
                "information objects take {got} octets where type and count need {expected}"
            ),
            AsduError::NoObjects => f.write_str("ASDU with no information object"),
        }
    }
}

impl<'a> Asdu<'a> {
    /// Decodes the ASDU of an I-format APDU (the bytes after the APCI).
    pub fn parse(b: &'a [u8]) -> Result<Asdu<'a>, AsduError> {
        let h = b.get(..HEADER_LEN).ok_or(AsduError::Truncated(b.len()))?;
        let asdu = Asdu {
            type_id: TypeId::from(h[0]),
            sequence: h[1] & 0x80 != 0,
            count: h[1] & 0x7F,
            cause: Cause::from(h[2] & 0x3F),
            negative: h[2] & 0x40 != 0,
            test: h[2] & 0x80 != 0,
            originator: h[3],
            common_address: u16::from_le_bytes([h[4], h[5]]),
            objects: &b[HEADER_LEN..],
        };
        if asdu.count == 0 {
            return Err(AsduError::NoObjects);
        }
        if let Some(expected) = asdu.expected_len() {
            if expected != asdu.objects.len() {
                return Err(AsduError::LengthMismatch {
                    expected,
                    got: asdu.objects.len(),
                });
            }
        }
        Ok(asdu)
    }

    /// Bytes the objects need, for the types of fixed element size.
    fn expected_len(&self) -> Option<usize> {
        let n = usize::from(self.count);
        if self.type_id == TypeId::FSgNa1 {
            // One object: address, file and section names, segment length,
            // the segment.
            let los = usize::from(*self.objects.get(IOA_LEN + 3)?);
            return Some(IOA_LEN + 4 + los);
        }
        let size = self.type_id.element_len()?;
        Some(if self.sequence {
            IOA_LEN + n * size
        } else {
            n * (IOA_LEN + size)
        })
    }

    /// The information objects: each address with its element (for types
    /// of unknown size, one object holding everything after the first
    /// address).
    pub fn objects(&self) -> Objects<'a> {
        Objects {
            rest: self.objects,
            left: self.count,
            sequence: self.sequence,
            size: self.type_id.element_len(),
            next_ioa: None,
        }
    }
}

/// One information object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Object<'a> {
    /// Information object address (24 bits).
    pub ioa: u32,
    /// The element's octets.
    pub element: &'a [u8],
}

/// The information objects of an ASDU, in order.
#[derive(Debug, Clone)]
pub struct Objects<'a> {
    rest: &'a [u8],
    left: u8,
    sequence: bool,
    size: Option<usize>,
    next_ioa: Option<u32>,
}

fn ioa(b: &[u8]) -> Option<u32> {
    let a = b.get(..IOA_LEN)?;
    Some(u32::from_le_bytes([a[0], a[1], a[2], 0]))
}

impl<'a> Iterator for Objects<'a> {
    type Item = Object<'a>;

    fn next(&mut self) -> Option<Object<'a>> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let address = match self.next_ioa {
            Some(a) if self.sequence => a,
            _ => {
                let a = ioa(self.rest)?;
                self.rest = &self.rest[IOA_LEN..];
                a
            }
        };
        self.next_ioa = Some(address.wrapping_add(1) & 0x00FF_FFFF);
        let size = match self.size {
            Some(size) => size,
            None => {
                // Unknown size: the rest is one element.
                self.left = 0;
                self.rest.len()
            }
        };
        let element = self.rest.get(..size)?;
        self.rest = &self.rest[size..];
        Some(Object {
            ioa: address,
            element,
        })
    }
}

/// A CP56Time2a time tag (seven octets): milliseconds within the minute,
/// minute, hour, day of month, month, year of the century, with the
/// invalid and summer-time bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cp56 {
    /// Milliseconds within the minute (0-59999).
    pub millis: u16,
    /// Minute (0-59).
    pub minute: u8,
    /// Hour (0-23).
    pub hour: u8,
    /// Day of the month (1-31).
    pub day: u8,
    /// Day of the week (1-7, 0 when unused).
    pub weekday: u8,
    /// Month (1-12).
    pub month: u8,
    /// Year of the century (0-99).
    pub year: u8,
    /// IV: the time is invalid.
    pub invalid: bool,
    /// SU: summer time.
    pub summer: bool,
}

impl Cp56 {
    /// Decodes seven octets.
    pub fn parse(b: &[u8]) -> Option<Cp56> {
        let t: &[u8; 7] = b.get(..7)?.try_into().ok()?;
        Some(Cp56 {
            millis: u16::from_le_bytes([t[0], t[1]]),
            minute: t[2] & 0x3F,
            invalid: t[2] & 0x80 != 0,
            hour: t[3] & 0x1F,
            summer: t[3] & 0x80 != 0,
            day: t[4] & 0x1F,
            weekday: t[4] >> 5,
            month: t[5] & 0x0F,
            year: t[6] & 0x7F,
        })
    }
}

impl core::fmt::Display for Cp56 {
    /// ISO 8601 without an offset (the station's own time zone).
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}",
            2000 + u16::from(self.year),
            self.month,
            self.day,
            self.hour,
            self.minute,
            self.millis / 1000,
            self.millis % 1000
        )
    }
}

/// A CP24Time2a time tag (three octets): milliseconds and minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cp24 {
    /// Milliseconds within the minute.
    pub millis: u16,
    /// Minute.
    pub minute: u8,
    /// IV: the time is invalid.
    pub invalid: bool,
}

impl Cp24 {
    /// Decodes three octets.
    pub fn parse(b: &[u8]) -> Option<Cp24> {
        let t = b.get(..3)?;
        Some(Cp24 {
            millis: u16::from_le_bytes([t[0], t[1]]),
            minute: t[2] & 0x3F,
            invalid: t[2] & 0x80 != 0,
        })
    }
}

/// What an information element says.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value {
    /// A single point, or a single command's state.
    Bool(bool),
    /// A double point or double command state (0-3), a regulating step
    /// (1 lower, 2 higher), a step position, a qualifier.
    Int(i64),
    /// A normalised value (-1 to 1 - 2^-15), or a short float.
    Float(f64),
    /// A bitstring of 32 bits.
    Bits(u32),
    /// Integrated totals: the counter and its sequence octet.
    Counter {
        /// The count.
        value: i32,
        /// Sequence number (5 bits), carry, adjusted and invalid bits.
        sequence: u8,
    },
    /// No value (a read command).
    None,
}

/// One information element, decoded.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Element {
    /// The value (or command state, or set point).
    pub value: Value,
    /// The quality descriptor (QDS, or the quality bits of SIQ/DIQ/VTI).
    pub quality: Option<u8>,
    /// A command's qualifier: QU (SCO/DCO/RCO) or QL (QOS), with S/E.
    pub qualifier: Option<u8>,
    /// Select (true) or execute, for commands and set points.
    pub select: Option<bool>,
    /// The CP56Time2a time tag.
    pub time56: Option<Cp56>,
    /// The CP24Time2a time tag.
    pub time24: Option<Cp24>,
}

fn i16_at(b: &[u8], at: usize) -> Option<i16> {
    Some(i16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn f32_at(b: &[u8], at: usize) -> Option<f32> {
    Some(f32::from_bits(u32_at(b, at)?))
}

impl Element {
    fn new(value: Value) -> Element {
        Element {
            value,
            quality: None,
            qualifier: None,
            select: None,
            time56: None,
            time24: None,
        }
    }

    /// Decodes `b`, an element of type `t` (`None` for unknown and file
    /// types, whose elements stay raw).
    pub fn decode(t: TypeId, b: &[u8]) -> Option<Element> {
        use TypeId as T;
        let first = *b.first().unwrap_or(&0);
        let normalised = |at| i16_at(b, at).map(|v| f64::from(v) / 32768.0);
        let mut e = match t {
            T::MSpNa1 | T::MSpTa1 | T::MSpTb1 => Element {
                quality: Some(first & 0xF0),
                ..Element::new(Value::Bool(first & 1 != 0))
            },
            T::MDpNa1 | T::MDpTa1 | T::MDpTb1 => Element {
                quality: Some(first & 0xF0),
                ..Element::new(Value::Int(i64::from(first & 3)))
            },
            T::MStNa1 | T::MStTa1 | T::MStTb1 => {
                // 7-bit two's complement value, transient bit 7.
                let v = i64::from(((first << 1) as i8) >> 1);
                Element {
                    quality: Some(*b.get(1)?),
                    qualifier: Some(first & 0x80),
                    ..Element::new(Value::Int(v))
                }
            }
            T::MBoNa1 | T::MBoTa1 | T::MBoTb1 => Element {
                quality: Some(*b.get(4)?),
                ..Element::new(Value::Bits(u32_at(b, 0)?))
            },
            T::MMeNa1 | T::MMeTa1 | T::MMeTd1 => Element {
                quality: Some(*b.get(2)?),
                ..Element::new(Value::Float(normalised(0)?))
            },
            T::MMeNd1 => Element::new(Value::Float(normalised(0)?)),
            T::MMeNb1 | T::MMeTb1 | T::MMeTe1 => Element {
                quality: Some(*b.get(2)?),
                ..Element::new(Value::Int(i64::from(i16_at(b, 0)?)))
            },
            T::MMeNc1 | T::MMeTc1 | T::MMeTf1 => Element {
                quality: Some(*b.get(4)?),
                ..Element::new(Value::Float(f64::from(f32_at(b, 0)?)))
            },
            T::MItNa1 | T::MItTa1 | T::MItTb1 => Element::new(Value::Counter {
                value: u32_at(b, 0)? as i32,
                sequence: *b.get(4)?,
            }),
            T::MEpTa1 | T::MEpTd1 => Element {
                quality: Some(first & 0xF8),
                ..Element::new(Value::Int(i64::from(first & 3)))
            },
            T::MEpTb1 | T::MEpTc1 | T::MEpTe1 | T::MEpTf1 => Element {
                quality: Some(*b.get(1)?),
                ..Element::new(Value::Bits(u32::from(first)))
            },
            T::MPsNa1 => Element {
                quality: Some(*b.get(4)?),
                ..Element::new(Value::Bits(u32_at(b, 0)?))
            },
            T::CScNa1 | T::CScTa1 => Element {
                qualifier: Some((first >> 2) & 0x1F),
                select: Some(first & 0x80 != 0),
                ..Element::new(Value::Bool(first & 1 != 0))
            },
            T::CDcNa1 | T::CDcTa1 | T::CRcNa1 | T::CRcTa1 => Element {
                qualifier: Some((first >> 2) & 0x1F),
                select: Some(first & 0x80 != 0),
                ..Element::new(Value::Int(i64::from(first & 3)))
            },
            T::CSeNa1 | T::CSeTa1 | T::PMeNa1 => {
                set_point(Value::Float(normalised(0)?), *b.get(2)?, t)
            }
            T::CSeNb1 | T::CSeTb1 | T::PMeNb1 => {
                set_point(Value::Int(i64::from(i16_at(b, 0)?)), *b.get(2)?, t)
            }
            T::CSeNc1 | T::CSeTc1 | T::PMeNc1 => {
                set_point(Value::Float(f64::from(f32_at(b, 0)?)), *b.get(4)?, t)
            }
            T::CBoNa1 | T::CBoTa1 => Element::new(Value::Bits(u32_at(b, 0)?)),
            // Qualifiers: COI, QOI, QCC, QRP, QPA.
            T::MEiNa1 | T::CIcNa1 | T::CCiNa1 | T::CRpNa1 | T::PAcNa1 => Element {
                qualifier: Some(first),
                ..Element::new(Value::Int(i64::from(first)))
            },
            T::CRdNa1 => Element::new(Value::None),
            T::CCsNa1 => Element {
                time56: Cp56::parse(b),
                ..Element::new(Value::None)
            },
            // Fixed test bit pattern 0x55AA, or the test sequence counter.
            T::CTsNa1 | T::CTsTa1 => Element::new(Value::Int(i64::from(i16_at(b, 0)? as u16))),
            T::CCdNa1 => Element::new(Value::Int(i64::from(i16_at(b, 0)? as u16))),
            _ => return None,
        };
        // The time tag is the element's last octets.
        match t.time_tag() {
            Some(TimeTag::Cp56) => {
                e.time56 = b.len().checked_sub(7).and_then(|at| Cp56::parse(&b[at..]));
            }
            Some(TimeTag::Cp24) => {
                e.time24 = b.len().checked_sub(3).and_then(|at| Cp24::parse(&b[at..]));
            }
            None => {}
        }
        Some(e)
    }
}

/// A set point or parameter value with its qualifier octet (QOS: QL and
/// S/E; QPM for parameters).
fn set_point(value: Value, q: u8, t: TypeId) -> Element {
    let parameter = t.is_parameter();
    Element {
        qualifier: Some(if parameter { q } else { q & 0x7F }),
        select: (!parameter).then_some(q & 0x80 != 0),
        ..Element::new(value)
    }
}
