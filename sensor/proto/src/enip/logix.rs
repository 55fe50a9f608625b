//! The data of Logix tag services (Rockwell's Logix 5000 data access
//! manual): a Read_Tag asks for a number of elements; a Write_Tag and a
//! Read_Tag reply carry a data type, then the values. The fragmented
//! variants add a byte offset.

use super::{le16, le32};

crate::open_enum! {
    /// CIP elementary data types as Logix tag services name them (volume 1,
    /// appendix C-6), and the structure marker.
    pub enum DataType: u16 {
        /// 0xC1: one bit in a byte.
        Bool = 0x00C1 => "bool",
        /// 0xC2: 8-bit signed.
        Sint = 0x00C2 => "sint",
        /// 0xC3: 16-bit signed.
        Int = 0x00C3 => "int",
        /// 0xC4: 32-bit signed.
        Dint = 0x00C4 => "dint",
        /// 0xC5: 64-bit signed.
        Lint = 0x00C5 => "lint",
        /// 0xC6: 8-bit unsigned.
        Usint = 0x00C6 => "usint",
        /// 0xC7: 16-bit unsigned.
        Uint = 0x00C7 => "uint",
        /// 0xC8: 32-bit unsigned.
        Udint = 0x00C8 => "udint",
        /// 0xC9: 64-bit unsigned.
        Ulint = 0x00C9 => "ulint",
        /// 0xCA: 32-bit float.
        Real = 0x00CA => "real",
        /// 0xCB: 64-bit float.
        Lreal = 0x00CB => "lreal",
        /// 0xD0: character string (1-byte length).
        String = 0x00D0 => "string",
        /// 0xD1: 8-bit bit string.
        Byte = 0x00D1 => "byte",
        /// 0xD2: 16-bit bit string.
        Word = 0x00D2 => "word",
        /// 0xD3: 32-bit bit string (BOOL arrays).
        Dword = 0x00D3 => "dword",
        /// 0xD4: 64-bit bit string.
        Lword = 0x00D4 => "lword",
        /// 0xDA: short string.
        ShortString = 0x00DA => "short_string",
        /// 0xA0: a structure, identified by its handle.
        Structure = 0x00A0 => "structure",
    }
}

impl DataType {
    /// Bytes of one element, for the elementary types of fixed size.
    pub fn size(self) -> Option<usize> {
        Some(match self {
            DataType::Bool | DataType::Sint | DataType::Usint | DataType::Byte => 1,
            DataType::Int | DataType::Uint | DataType::Word => 2,
            DataType::Dint | DataType::Udint | DataType::Real | DataType::Dword => 4,
            DataType::Lint | DataType::Ulint | DataType::Lreal | DataType::Lword => 8,
            _ => return None,
        })
    }
}

/// Typed tag data: a Write_Tag request's or a Read_Tag reply's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TagData<'a> {
    /// The data type.
    pub data_type: DataType,
    /// The structure handle, for structures.
    pub structure: Option<u16>,
    /// Elements written (requests; replies do not say).
    pub elements: Option<u16>,
    /// The byte offset of a fragmented service.
    pub offset: Option<u32>,
    /// The values as on the wire.
    pub values: &'a [u8],
}

/// Reads a type: two bytes, and two more with a structure's handle.
fn data_type(b: &[u8]) -> Option<(DataType, Option<u16>, usize)> {
    let raw = le16(b, 0)?;
    // A structure is 0xA0 then a length byte 0x02 on the wire.
    if raw & 0xFF == 0xA0 {
        return Some((DataType::Structure, Some(le16(b, 2)?), 4));
    }
    Some((DataType::from(raw), None, 2))
}

impl<'a> TagData<'a> {
    /// A Write_Tag (`fragmented`: Write_Tag_Fragmented) request's data.
    pub fn write_request(b: &'a [u8], fragmented: bool) -> Option<TagData<'a>> {
        let (data_type, structure, at) = data_type(b)?;
        let elements = le16(b, at)?;
        let (offset, at) = if fragmented {
            (Some(le32(b, at + 2)?), at + 6)
        } else {
            (None, at + 2)
        };
        Some(TagData {
            data_type,
            structure,
            elements: Some(elements),
            offset,
            values: b.get(at..)?,
        })
    }

    /// A Read_Tag reply's data.
    pub fn read_reply(b: &'a [u8]) -> Option<TagData<'a>> {
        let (data_type, structure, at) = data_type(b)?;
        Some(TagData {
            data_type,
            structure,
            elements: None,
            offset: None,
            values: b.get(at..)?,
        })
    }

    /// The first value as a number, for the integer and float types.
    pub fn first_value(&self) -> Option<TagValue> {
        let v = self.values;
        let int = |n: usize| -> Option<u64> {
            let b = v.get(..n)?;
            let mut le = [0u8; 8];
            le[..n].copy_from_slice(b);
            Some(u64::from_le_bytes(le))
        };
        Some(match self.data_type {
            DataType::Bool => TagValue::Int(i64::from(*v.first()? != 0)),
            DataType::Sint => TagValue::Int(i64::from(*v.first()? as i8)),
            DataType::Int => TagValue::Int(i64::from(int(2)? as u16 as i16)),
            DataType::Dint => TagValue::Int(i64::from(int(4)? as u32 as i32)),
            DataType::Lint => TagValue::Int(int(8)? as i64),
            DataType::Usint | DataType::Byte => TagValue::Int(i64::from(*v.first()?)),
            DataType::Uint | DataType::Word => TagValue::Int(int(2)? as i64),
            DataType::Udint | DataType::Dword => TagValue::Int(int(4)? as i64),
            DataType::Ulint | DataType::Lword => TagValue::Unsigned(int(8)?),
            DataType::Real => TagValue::Float(f64::from(f32::from_bits(int(4)? as u32))),
            DataType::Lreal => TagValue::Float(f64::from_bits(int(8)?)),
            _ => return None,
        })
    }
}

/// A tag's value as a number.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TagValue {
    /// A signed (or small unsigned) integer.
    Int(i64),
    /// A 64-bit unsigned integer.
    Unsigned(u64),
    /// A float.
    Float(f64),
}
