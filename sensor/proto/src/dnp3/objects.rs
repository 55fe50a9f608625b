//! DNP3 object headers and point values.
//!
//! ```text
//! object header: GROUP | VARIATION | QUALIFIER | range (0, 1, 2, 4 or 8 bytes)
//! QUALIFIER = reserved 0x80 | prefix code 0x70 | range code 0x0f
//! then, per point when the function carries data: prefix (index or size) | object
//! ```
//!
//! [`parse`] walks a fragment's objects once to validate them and returns the
//! longest valid prefix as [`Objects`] plus the error that stopped it, if any;
//! iterating [`Objects`] afterwards re-reads the validated bytes without
//! allocating.

use super::codes::{AttributeType, AttributeVariation, CommandStatus, OpType, TripClose};
use super::Dnp3Anomaly;

/// Limits on what one fragment may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ObjectLimits {
    /// Object headers per fragment.
    pub max_objects: usize,
    /// Points carrying data per fragment.
    pub max_points: u64,
}

impl Default for ObjectLimits {
    fn default() -> Self {
        ObjectLimits {
            max_objects: 512,
            max_points: 16_384,
        }
    }
}

/// Why object parsing stopped. `Copy`, carries the values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectError {
    /// Fewer bytes than an object header and its range need.
    TruncatedHeader {
        /// Offset of the header in the object area.
        offset: usize,
        /// Bytes needed.
        needed: usize,
        /// Bytes present.
        available: usize,
    },
    /// Qualifier with the reserved bit or a reserved prefix or range code.
    ReservedQualifier {
        /// Group.
        group: u8,
        /// Variation.
        variation: u8,
        /// Qualifier octet.
        qualifier: u8,
    },
    /// A start/stop range whose stop is below its start.
    BadRange {
        /// Group.
        group: u8,
        /// Variation.
        variation: u8,
        /// Start index.
        start: u32,
        /// Stop index.
        stop: u32,
    },
    /// An object (group, variation, qualifier) whose size is not known: the
    /// rest of the fragment cannot be parsed.
    UnknownObject {
        /// Group.
        group: u8,
        /// Variation.
        variation: u8,
        /// Qualifier octet.
        qualifier: u8,
    },
    /// Object data runs past the end of the fragment.
    Truncated {
        /// Group.
        group: u8,
        /// Variation.
        variation: u8,
        /// Bytes needed.
        needed: u64,
        /// Bytes present.
        available: usize,
    },
    /// More object headers than the limit.
    TooManyObjects {
        /// The limit.
        max: usize,
    },
    /// More points than the limit.
    TooManyPoints {
        /// Group of the header that crossed the limit.
        group: u8,
        /// Variation.
        variation: u8,
        /// Points in the fragment so far, that header included.
        count: u64,
        /// The limit.
        max: u64,
    },
}

impl ObjectError {
    /// The anomaly it raises.
    pub fn anomaly(&self) -> Dnp3Anomaly {
        match self {
            ObjectError::TruncatedHeader { .. } | ObjectError::Truncated { .. } => {
                Dnp3Anomaly::TruncatedObject
            }
            ObjectError::ReservedQualifier { .. } => Dnp3Anomaly::ReservedQualifier,
            ObjectError::BadRange { .. } => Dnp3Anomaly::BadRange,
            ObjectError::UnknownObject { .. } => Dnp3Anomaly::UnknownObject,
            ObjectError::TooManyObjects { .. } => Dnp3Anomaly::TooManyObjects,
            ObjectError::TooManyPoints { .. } => Dnp3Anomaly::TooManyPoints,
        }
    }
}

impl core::fmt::Display for ObjectError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            ObjectError::TruncatedHeader {
                offset,
                needed,
                available,
            } => write!(
                f,
                "object header at offset {offset} needs {needed} bytes, {available} left"
            ),
            ObjectError::ReservedQualifier {
                group,
                variation,
                qualifier,
            } => {
                write!(
                    f,
                    "g{group}v{variation}: reserved qualifier {qualifier:#04x}"
                )
            }
            ObjectError::BadRange {
                group,
                variation,
                start,
                stop,
            } => {
                write!(
                    f,
                    "g{group}v{variation}: range stop {stop} below start {start}"
                )
            }
            ObjectError::UnknownObject {
                group,
                variation,
                qualifier,
            } => write!(
                f,
                "g{group}v{variation} with qualifier {qualifier:#04x} has no known size"
            ),
            ObjectError::Truncated {
                group,
                variation,
                needed,
                available,
            } => write!(
                f,
                "g{group}v{variation}: objects need {needed} bytes, {available} left"
            ),
            ObjectError::TooManyObjects { max } => {
                write!(f, "more than {max} object headers in a fragment")
            }
            ObjectError::TooManyPoints {
                group,
                variation,
                count,
                max,
            } => {
                write!(
                    f,
                    "g{group}v{variation}: {count} points exceed {max} per fragment"
                )
            }
        }
    }
}

/// The range part of an object header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Range {
    /// Range codes 0–5: start and stop index (or virtual address), inclusive.
    StartStop {
        /// First index.
        start: u32,
        /// Last index.
        stop: u32,
    },
    /// Range code 6: all points, no range field.
    All,
    /// Range codes 7–9 and 0xB: a count of objects.
    Count(u32),
}

/// How objects of one group and variation are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    /// No object data (class data, g60).
    NoData,
    /// Packed bits per point (1 or 2).
    Packed(u8),
    /// Flags octet, then a 48-bit time (`time` 6) or a 16-bit relative time (2).
    Binary { time: u8 },
    /// Numbers: optional flags (or, for commands, status after the value).
    Number(NumSpec),
    /// Control relay output block or pattern control block (11 bytes).
    Crob,
    /// g50 v1/v3, g51: 48-bit time.
    Time,
    /// g50v2: time and 32-bit interval.
    TimeInterval,
    /// g50v4: time, interval count and units.
    IndexedTime,
    /// g52: 16-bit delay.
    Delay,
    /// g0: data type, length, value.
    Attribute,
    /// g110–g113: the variation is the length.
    OctetString,
    /// Size comes from a size prefix (g70, most of g120, data sets …).
    FreeFormat,
    /// Known fixed size, kept raw.
    Fixed(u8),
    /// Not known.
    Unknown,
}

/// Number formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Num {
    I16,
    I32,
    U16,
    U32,
    F32,
    F64,
}

impl Num {
    fn width(self) -> usize {
        match self {
            Num::I16 | Num::U16 => 2,
            Num::I32 | Num::U32 | Num::F32 => 4,
            Num::F64 => 8,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct NumSpec {
    kind: NumKind,
    flags: bool,
    num: Num,
    time: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NumKind {
    Counter,
    Analog,
    /// Value then command status (g41).
    Command,
    /// Status then value (g43).
    CommandEvent,
}

const fn num(kind: NumKind, flags: bool, num: Num, time: bool) -> Layout {
    Layout::Number(NumSpec {
        kind,
        flags,
        num,
        time,
    })
}

fn layout(group: u8, variation: u8) -> Layout {
    use Num::*;
    use NumKind::*;
    match (group, variation) {
        (0, _) => Layout::Attribute,
        (1, 1) | (10, 1) | (80, 1) | (12, 3) => Layout::Packed(1),
        (3, 1) => Layout::Packed(2),
        (1, 2) | (3, 2) | (10, 2) => Layout::Binary { time: 0 },
        (2 | 4 | 11 | 13, 1) => Layout::Binary { time: 0 },
        (2 | 4 | 11 | 13, 2) => Layout::Binary { time: 6 },
        (2 | 4, 3) => Layout::Binary { time: 2 },
        (12, 1 | 2) => Layout::Crob,
        // Counters and frozen counters: flag/no flag, 32/16 bits, delta, time.
        (20 | 22 | 23, 1 | 3) | (21, 1 | 3) => num(Counter, true, U32, false),
        (20 | 22 | 23, 2 | 4) | (21, 2 | 4) => num(Counter, true, U16, false),
        (22 | 23, 5 | 7) | (21, 5 | 7) => num(Counter, true, U32, true),
        (22 | 23, 6 | 8) | (21, 6 | 8) => num(Counter, true, U16, true),
        (20, 5 | 7) | (21, 9 | 11) => num(Counter, false, U32, false),
        (20, 6 | 8) | (21, 10 | 12) => num(Counter, false, U16, false),
        // Analog inputs.
        (30, 1) | (31, 1) | (32 | 33 | 40 | 42, 1) => num(Analog, true, I32, false),
        (30, 2) | (31, 2) | (32 | 33 | 40 | 42, 2) => num(Analog, true, I16, false),
        (30, 3) | (31, 5) => num(Analog, false, I32, false),
        (30, 4) | (31, 6) => num(Analog, false, I16, false),
        (30, 5) | (31, 7) | (32 | 33 | 42, 5) | (40, 3) => num(Analog, true, F32, false),
        (30, 6) | (31, 8) | (32 | 33 | 42, 6) | (40, 4) => num(Analog, true, F64, false),
        (31, 3) | (32 | 33 | 42, 3) => num(Analog, true, I32, true),
        (31, 4) | (32 | 33 | 42, 4) => num(Analog, true, I16, true),
        (32 | 33 | 42, 7) => num(Analog, true, F32, true),
        (32 | 33 | 42, 8) => num(Analog, true, F64, true),
        (34, 1) => num(Analog, false, U16, false),
        (34, 2) => num(Analog, false, U32, false),
        (34, 3) => num(Analog, false, F32, false),
        // Analog output blocks and command events.
        (41, 1) => num(Command, false, I32, false),
        (41, 2) => num(Command, false, I16, false),
        (41, 3) => num(Command, false, F32, false),
        (41, 4) => num(Command, false, F64, false),
        (43, 1) => num(CommandEvent, false, I32, false),
        (43, 2) => num(CommandEvent, false, I16, false),
        (43, 3) => num(CommandEvent, false, I32, true),
        (43, 4) => num(CommandEvent, false, I16, true),
        (43, 5) => num(CommandEvent, false, F32, false),
        (43, 6) => num(CommandEvent, false, F64, false),
        (43, 7) => num(CommandEvent, false, F32, true),
        (43, 8) => num(CommandEvent, false, F64, true),
        (50, 1 | 3) | (51, 1 | 2) => Layout::Time,
        (50, 2) => Layout::TimeInterval,
        (50, 4) => Layout::IndexedTime,
        (52, 1 | 2) => Layout::Delay,
        (60, 1..=4) => Layout::NoData,
        (70, 1..=8) => Layout::FreeFormat,
        (90, 1) => Layout::FreeFormat,
        (101, 1) => Layout::Fixed(2),
        (101, 2) => Layout::Fixed(4),
        (101, 3) => Layout::Fixed(8),
        (102, 1) => Layout::Fixed(1),
        (110..=113, _) => Layout::OctetString,
        (120, 3) => Layout::Fixed(6),
        (120, 4) => Layout::Fixed(2),
        (120, 1..=15) => Layout::FreeFormat,
        (121, 1) => Layout::Fixed(7),
        (122, 1) => Layout::Fixed(7),
        (122, 2) => Layout::Fixed(13),
        (85..=88, 1) => Layout::FreeFormat,
        _ => Layout::Unknown,
    }
}

impl Layout {
    /// Fixed object size in bytes, when there is one.
    fn fixed_size(self, variation: u8) -> Option<usize> {
        Some(match self {
            Layout::NoData => 0,
            Layout::Binary { time } => 1 + usize::from(time),
            Layout::Number(s) => {
                usize::from(s.flags)
                    + s.num.width()
                    + if s.time { 6 } else { 0 }
                    + usize::from(matches!(s.kind, NumKind::Command | NumKind::CommandEvent))
            }
            Layout::Crob => 11,
            Layout::Time => 6,
            Layout::TimeInterval => 10,
            Layout::IndexedTime => 11,
            Layout::Delay => 2,
            Layout::OctetString if variation > 0 => usize::from(variation),
            Layout::Fixed(n) => usize::from(n),
            _ => return None,
        })
    }
}

/// Bytes of a prefix code: (size, is an object size rather than an index).
fn prefix_size(code: u8) -> Option<(usize, bool)> {
    match code {
        0 => Some((0, false)),
        1 => Some((1, false)),
        2 => Some((2, false)),
        3 => Some((4, false)),
        4 => Some((1, true)),
        5 => Some((2, true)),
        6 => Some((4, true)),
        _ => None,
    }
}

fn le(bytes: &[u8]) -> u32 {
    let mut v = 0u32;
    for (i, b) in bytes.iter().take(4).enumerate() {
        v |= u32::from(*b) << (8 * i);
    }
    v
}

fn le48(bytes: &[u8]) -> u64 {
    let mut v = 0u64;
    for (i, b) in bytes.iter().take(6).enumerate() {
        v |= u64::from(*b) << (8 * i);
    }
    v
}

/// One object header with the bytes of its prefixes and objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ObjectHeader<'a> {
    /// Object group.
    pub group: u8,
    /// Object variation.
    pub variation: u8,
    /// Qualifier octet.
    pub qualifier: u8,
    /// Range or count.
    pub range: Range,
    /// Prefixes and objects that follow the header (empty without data).
    data: &'a [u8],
    /// Whether object data follows (responses, writes, controls …).
    with_data: bool,
}

impl<'a> ObjectHeader<'a> {
    /// Prefix code (qualifier bits 4–6).
    pub fn prefix_code(&self) -> u8 {
        self.qualifier >> 4 & 7
    }

    /// Range specifier code (qualifier bits 0–3).
    pub fn range_code(&self) -> u8 {
        self.qualifier & 0x0f
    }

    /// Number of points the header covers (0 for "all points").
    pub fn count(&self) -> u32 {
        match self.range {
            Range::StartStop { start, stop } => stop.wrapping_sub(start).wrapping_add(1),
            Range::All => 0,
            Range::Count(n) => n,
        }
    }

    /// Start and stop index, for range qualifiers.
    pub fn start_stop(&self) -> Option<(u32, u32)> {
        match self.range {
            Range::StartStop { start, stop } => Some((start, stop)),
            _ => None,
        }
    }

    /// The raw prefix and object bytes that follow the header.
    pub fn data(&self) -> &'a [u8] {
        self.data
    }

    /// The points: decoded values when object data follows, indexes only
    /// when a request lists them by prefix, nothing for plain ranges in
    /// requests without data.
    pub fn points(&self) -> Points<'a> {
        let (psize, is_size) = prefix_size(self.prefix_code()).unwrap_or((0, false));
        let layout = layout(self.group, self.variation);
        // Objects without data (class data, g60) never have points: their
        // count may be anything up to 2^32 (qualifier 0x09) while no byte
        // follows, and walking it would stall the sensor.
        let count = if layout == Layout::NoData {
            0
        } else if self.with_data || (psize > 0 && !is_size) {
            self.count()
        } else {
            0
        };
        Points {
            group: self.group,
            variation: self.variation,
            layout,
            with_data: self.with_data,
            prefix: psize,
            prefix_is_size: is_size,
            start: match self.range {
                Range::StartStop { start, .. } => start,
                _ => 0,
            },
            count,
            next: 0,
            rest: self.data,
            packed: self.data,
        }
    }
}

/// The objects of a fragment that parsed, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Objects<'a> {
    bytes: &'a [u8],
    with_data: bool,
    headers: usize,
    points: u64,
}

impl<'a> Objects<'a> {
    /// Number of object headers.
    pub fn len(&self) -> usize {
        self.headers
    }

    /// Whether there are no object headers.
    pub fn is_empty(&self) -> bool {
        self.headers == 0
    }

    /// Points carrying data, over all headers.
    pub fn point_count(&self) -> u64 {
        self.points
    }

    /// The validated object bytes.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// Iterates the object headers.
    pub fn iter(&self) -> ObjectIter<'a> {
        ObjectIter {
            rest: self.bytes,
            with_data: self.with_data,
        }
    }
}

impl<'a> IntoIterator for &Objects<'a> {
    type Item = ObjectHeader<'a>;
    type IntoIter = ObjectIter<'a>;
    fn into_iter(self) -> ObjectIter<'a> {
        self.iter()
    }
}

/// Iterator over validated object headers.
#[derive(Debug, Clone)]
pub struct ObjectIter<'a> {
    rest: &'a [u8],
    with_data: bool,
}

impl<'a> Iterator for ObjectIter<'a> {
    type Item = ObjectHeader<'a>;
    fn next(&mut self) -> Option<ObjectHeader<'a>> {
        if self.rest.is_empty() {
            return None;
        }
        let (header, used, _) = parse_one(self.rest, 0, self.with_data).ok()?;
        self.rest = self.rest.get(used..).unwrap_or(&[]);
        Some(header)
    }
}

/// Parses the object area of a fragment. `with_data` says whether objects
/// follow their headers (responses and requests whose function carries data).
/// Returns what parsed and the error that stopped parsing, if any.
pub fn parse(
    bytes: &[u8],
    with_data: bool,
    limits: ObjectLimits,
) -> (Objects<'_>, Option<ObjectError>) {
    let mut pos = 0;
    let mut headers = 0;
    let mut points = 0u64;
    let mut error = None;
    while pos < bytes.len() {
        if headers >= limits.max_objects {
            error = Some(ObjectError::TooManyObjects {
                max: limits.max_objects,
            });
            break;
        }
        let rest = bytes.get(pos..).unwrap_or(&[]);
        match parse_one(rest, pos, with_data) {
            Ok((header, used, n)) => {
                if n > 0 && points + n > limits.max_points {
                    error = Some(ObjectError::TooManyPoints {
                        group: header.group,
                        variation: header.variation,
                        count: points + n,
                        max: limits.max_points,
                    });
                    break;
                }
                points += n;
                headers += 1;
                pos += used;
            }
            Err(err) => {
                error = Some(err);
                break;
            }
        }
    }
    let objects = Objects {
        bytes: bytes.get(..pos).unwrap_or(&[]),
        with_data,
        headers,
        points,
    };
    (objects, error)
}

/// Parses one header and walks its objects. Returns the header, the bytes
/// used and the number of data-carrying points.
fn parse_one(
    bytes: &[u8],
    offset: usize,
    with_data: bool,
) -> Result<(ObjectHeader<'_>, usize, u64), ObjectError> {
    let truncated_header = |needed| ObjectError::TruncatedHeader {
        offset,
        needed,
        available: bytes.len(),
    };
    let (Some(&group), Some(&variation), Some(&qualifier)) =
        (bytes.first(), bytes.get(1), bytes.get(2))
    else {
        return Err(truncated_header(3));
    };
    let reserved = ObjectError::ReservedQualifier {
        group,
        variation,
        qualifier,
    };
    let prefix_code = qualifier >> 4 & 7;
    let range_code = qualifier & 0x0f;
    let Some((psize, prefix_is_size)) = prefix_size(prefix_code) else {
        return Err(reserved);
    };
    if qualifier & 0x80 != 0 {
        return Err(reserved);
    }
    let range_len = match range_code {
        0 | 3 => 2,
        1 | 4 => 4,
        2 | 5 => 8,
        6 => 0,
        7 | 0x0b => 1,
        8 => 2,
        9 => 4,
        _ => return Err(reserved),
    };
    let Some(field) = bytes.get(3..3 + range_len) else {
        return Err(truncated_header(3 + range_len));
    };
    let range = match range_code {
        0..=5 => {
            let half = range_len / 2;
            let start = le(field.get(..half).unwrap_or(&[]));
            let stop = le(field.get(half..).unwrap_or(&[]));
            if stop < start {
                return Err(ObjectError::BadRange {
                    group,
                    variation,
                    start,
                    stop,
                });
            }
            Range::StartStop { start, stop }
        }
        6 => Range::All,
        _ => Range::Count(le(field)),
    };
    // Objects with a size prefix always carry their data, even in requests
    // that otherwise carry none (a file read lists g70v5 handles and blocks).
    let with_data = with_data || prefix_is_size;
    let head_len = 3 + range_len;
    let body = bytes.get(head_len..).unwrap_or(&[]);
    let mut header = ObjectHeader {
        group,
        variation,
        qualifier,
        range,
        data: &[],
        with_data,
    };
    let count = u64::from(header.count());
    let count = if matches!(
        range,
        Range::StartStop {
            start: 0,
            stop: u32::MAX
        }
    ) {
        1 << 32
    } else {
        count
    };
    let truncated = |needed: u64| ObjectError::Truncated {
        group,
        variation,
        needed,
        available: body.len(),
    };

    if !with_data {
        // Requests without data may still list indexes in prefixes.
        let need = count.saturating_mul(psize as u64);
        if need > body.len() as u64 {
            return Err(truncated(need));
        }
        let need = need as usize;
        header.data = body.get(..need).unwrap_or(&[]);
        return Ok((header, head_len + need, 0));
    }

    if range == Range::All {
        // "All points": no objects follow, whatever the function.
        return Ok((header, head_len, 0));
    }
    let lay = layout(group, variation);
    let unknown = ObjectError::UnknownObject {
        group,
        variation,
        qualifier,
    };
    if lay == Layout::Unknown {
        return Err(unknown);
    }
    if lay == Layout::NoData {
        header.data = &[];
        return Ok((header, head_len, 0));
    }
    if let Layout::Packed(bits) = lay {
        if psize != 0 {
            return Err(unknown);
        }
        let need = (count * u64::from(bits)).div_ceil(8);
        if need > body.len() as u64 {
            return Err(truncated(need));
        }
        let need = need as usize;
        header.data = body.get(..need).unwrap_or(&[]);
        return Ok((header, head_len + need, count));
    }
    let fixed = lay.fixed_size(variation);
    if !prefix_is_size && fixed.is_none() && lay != Layout::Attribute {
        return Err(unknown);
    }
    if let (Some(size), false) = (fixed, prefix_is_size) {
        let need = count.saturating_mul((size + psize) as u64);
        if need > body.len() as u64 {
            return Err(truncated(need));
        }
        let need = need as usize;
        header.data = body.get(..need).unwrap_or(&[]);
        return Ok((header, head_len + need, count));
    }
    // Variable sizes: walk the objects. Each takes at least one byte, so the
    // walk is bounded by the fragment length.
    let mut pos = 0usize;
    let mut seen = 0u64;
    while seen < count {
        let Some(prefix) = body.get(pos..pos + psize) else {
            return Err(truncated(pos as u64 + psize as u64));
        };
        pos += psize;
        let len = if prefix_is_size {
            le(prefix) as usize
        } else {
            // Device attribute: type, length, value (a list counts pairs).
            let (Some(&dt), Some(&n)) = (body.get(pos), body.get(pos + 1)) else {
                return Err(truncated(pos as u64 + 2));
            };
            2 + attribute_value_len(dt, n)
        };
        if body.len() - pos < len {
            return Err(truncated(pos as u64 + len as u64));
        }
        pos += len;
        seen += 1;
        if psize == 0 && len == 0 {
            break; // cannot happen for attributes; guards the walk anyway
        }
    }
    header.data = body.get(..pos).unwrap_or(&[]);
    Ok((header, head_len + pos, count))
}

fn attribute_value_len(data_type: u8, len: u8) -> usize {
    if data_type == 254 {
        2 * usize::from(len)
    } else {
        usize::from(len)
    }
}

/// A DNP3 time: milliseconds since 1970-01-01 UTC, or relative milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Time {
    /// 48-bit absolute time in milliseconds since the epoch.
    Absolute(u64),
    /// 16-bit time relative to a common time-of-occurrence object.
    Relative(u16),
}

/// A control relay output block (g12v1) or pattern control block (g12v2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Crob {
    /// Control code octet.
    pub code: u8,
    /// Times to repeat the operation.
    pub count: u8,
    /// On time in milliseconds.
    pub on_time: u32,
    /// Off time in milliseconds.
    pub off_time: u32,
    /// Status (0 in requests; the result in responses).
    pub status: CommandStatus,
}

impl Crob {
    /// Operation type (bits 0–3).
    pub fn op_type(&self) -> OpType {
        OpType::from(self.code & 0x0f)
    }
    /// Queue bit (obsolete).
    pub fn queue(&self) -> bool {
        self.code & 0x10 != 0
    }
    /// Clear bit.
    pub fn clear(&self) -> bool {
        self.code & 0x20 != 0
    }
    /// Trip/close code (bits 6–7).
    pub fn trip_close(&self) -> TripClose {
        TripClose::from(self.code >> 6)
    }
}

/// A device attribute (group 0) value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attribute<'a> {
    /// Attribute variation (what it is).
    pub variation: AttributeVariation,
    /// Data type code.
    pub data_type: AttributeType,
    /// Length octet as sent (for lists: number of pairs).
    pub length: u8,
    /// Value bytes.
    pub value: &'a [u8],
}

impl Attribute<'_> {
    /// Unsigned or signed integer value, for numeric attributes.
    pub fn as_int(&self) -> Option<i64> {
        let raw = u64::from(le(self.value));
        match (self.data_type, self.value.len()) {
            (AttributeType::Unsigned, 1..=4) => Some(raw as i64),
            (AttributeType::Signed, n @ 1..=4) => {
                let shift = 64 - 8 * n as u32;
                Some(((raw << shift) as i64) >> shift)
            }
            _ => None,
        }
    }

    /// Whether the value is text (visible string or UTF-8).
    pub fn is_text(&self) -> bool {
        matches!(
            self.data_type,
            AttributeType::VisibleString | AttributeType::Unicode
        )
    }
}

/// A file-control object (group 70).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileObject<'a> {
    /// v2: authentication; the password itself is never exposed.
    Authentication {
        /// User name.
        user: &'a [u8],
        /// Password length.
        password_len: u16,
        /// Authentication key.
        key: u32,
    },
    /// v3: file command (open, delete).
    Command {
        /// File name.
        name: &'a [u8],
        /// Creation time, ms since the epoch.
        created: u64,
        /// Permission bits.
        permissions: u16,
        /// Authentication key.
        key: u32,
        /// File size.
        size: u32,
        /// Operational mode: 0 null, 1 read, 2 write, 3 append.
        mode: u16,
        /// Maximum block size.
        max_block: u16,
        /// Request identifier.
        request_id: u16,
    },
    /// v4: file command status.
    CommandStatus {
        /// File handle.
        handle: u32,
        /// File size.
        size: u32,
        /// Maximum block size.
        max_block: u16,
        /// Request identifier.
        request_id: u16,
        /// Status code.
        status: u8,
        /// Optional text.
        text: &'a [u8],
    },
    /// v5: file transport (a block of file data).
    Transport {
        /// File handle.
        handle: u32,
        /// Block number (bit 31 removed).
        block: u32,
        /// Last block.
        last: bool,
        /// File data.
        data: &'a [u8],
    },
    /// v6: file transport status.
    TransportStatus {
        /// File handle.
        handle: u32,
        /// Block number (bit 31 removed).
        block: u32,
        /// Last block.
        last: bool,
        /// Status code.
        status: u8,
        /// Optional text.
        text: &'a [u8],
    },
    /// v7: file descriptor (directory entry, file info).
    Descriptor {
        /// File name.
        name: &'a [u8],
        /// 0 directory, 1 simple file.
        file_type: u16,
        /// File size.
        size: u32,
        /// Creation time, ms since the epoch.
        created: u64,
        /// Permission bits.
        permissions: u16,
        /// Request identifier.
        request_id: u16,
    },
    /// v8: file specification string.
    Specification {
        /// File name or specification.
        name: &'a [u8],
    },
    /// v1 (obsolete) or an object too short for its variation.
    Raw(&'a [u8]),
}

impl<'a> FileObject<'a> {
    /// The file name, for variations that carry one.
    pub fn name(&self) -> Option<&'a [u8]> {
        match *self {
            FileObject::Command { name, .. }
            | FileObject::Descriptor { name, .. }
            | FileObject::Specification { name } => Some(name),
            _ => None,
        }
    }

    fn decode(variation: u8, b: &'a [u8]) -> FileObject<'a> {
        let u16_at = |at: usize| b.get(at..at + 2).map_or(0, |x| le(x) as u16);
        let u32_at = |at: usize| b.get(at..at + 4).map_or(0, le);
        let slice = |off: u16, len: u16| {
            let (off, len) = (usize::from(off), usize::from(len));
            b.get(off..off + len).unwrap_or(&[])
        };
        match variation {
            2 if b.len() >= 12 => FileObject::Authentication {
                user: slice(u16_at(0), u16_at(2)),
                password_len: u16_at(6),
                key: u32_at(8),
            },
            3 if b.len() >= 26 => FileObject::Command {
                name: slice(u16_at(0), u16_at(2)),
                created: le48(b.get(4..10).unwrap_or(&[])),
                permissions: u16_at(10),
                key: u32_at(12),
                size: u32_at(16),
                mode: u16_at(20),
                max_block: u16_at(22),
                request_id: u16_at(24),
            },
            4 if b.len() >= 13 => FileObject::CommandStatus {
                handle: u32_at(0),
                size: u32_at(4),
                max_block: u16_at(8),
                request_id: u16_at(10),
                status: b.get(12).copied().unwrap_or(0),
                text: b.get(13..).unwrap_or(&[]),
            },
            5 if b.len() >= 8 => FileObject::Transport {
                handle: u32_at(0),
                block: u32_at(4) & 0x7fff_ffff,
                last: u32_at(4) & 0x8000_0000 != 0,
                data: b.get(8..).unwrap_or(&[]),
            },
            6 if b.len() >= 9 => FileObject::TransportStatus {
                handle: u32_at(0),
                block: u32_at(4) & 0x7fff_ffff,
                last: u32_at(4) & 0x8000_0000 != 0,
                status: b.get(8).copied().unwrap_or(0),
                text: b.get(9..).unwrap_or(&[]),
            },
            7 if b.len() >= 20 => FileObject::Descriptor {
                name: slice(u16_at(0), u16_at(2)),
                file_type: u16_at(4),
                size: u32_at(6),
                created: le48(b.get(10..16).unwrap_or(&[])),
                permissions: u16_at(16),
                request_id: u16_at(18),
            },
            8 => FileObject::Specification { name: b },
            _ => FileObject::Raw(b),
        }
    }
}

/// A point's decoded value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value<'a> {
    /// No object data (an index listed in a request).
    None,
    /// A packed single bit (g1v1, g10v1, g12v3, g80v1).
    Bit(bool),
    /// A packed double bit (g3v1): 0 intermediate, 1 off, 2 on, 3 indeterminate.
    DoubleBit(u8),
    /// Flags octet (state in bit 7, or bits 6–7 for double bits) and time.
    Binary {
        /// Flags octet.
        flags: u8,
        /// Event time.
        time: Option<Time>,
    },
    /// A counter.
    Counter {
        /// Flags octet, when the variation has one.
        flags: Option<u8>,
        /// Count.
        value: u32,
        /// Freeze or event time.
        time: Option<Time>,
    },
    /// An analog value (input, output status, deadband).
    Analog {
        /// Flags octet, when the variation has one.
        flags: Option<u8>,
        /// Value (integers are exact).
        value: f64,
        /// Event time.
        time: Option<Time>,
    },
    /// An analog output command (g41) or command event (g43).
    AnalogCommand {
        /// Set point.
        value: f64,
        /// Command status.
        status: CommandStatus,
        /// Event time (g43).
        time: Option<Time>,
    },
    /// A control relay output block (g12v1) or pattern control block (g12v2).
    Crob(Crob),
    /// Absolute time (g50v1, g50v3, g51).
    Time(u64),
    /// Time and interval (g50v2, g50v4 with units).
    TimeInterval {
        /// Time in ms since the epoch.
        time: u64,
        /// Interval (ms for v2; count of `units` for v4).
        interval: u32,
        /// Interval units (g50v4).
        units: Option<u8>,
    },
    /// Time delay (g52): seconds for v1, milliseconds for v2.
    Delay(u16),
    /// Device attribute (g0).
    Attribute(Attribute<'a>),
    /// Octet string (g110–g113).
    OctetString(&'a [u8]),
    /// File control (g70).
    File(FileObject<'a>),
    /// Secure authentication object (g120), kept raw.
    Auth(&'a [u8]),
    /// A known object kept raw.
    Raw(&'a [u8]),
}

/// One point of an object header.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point<'a> {
    /// Point index: from the prefix, or the range start plus the position.
    pub index: u32,
    /// Decoded value.
    pub value: Value<'a>,
}

/// Iterator over the points of an object header.
#[derive(Debug, Clone)]
pub struct Points<'a> {
    group: u8,
    variation: u8,
    layout: Layout,
    with_data: bool,
    prefix: usize,
    prefix_is_size: bool,
    start: u32,
    count: u32,
    next: u32,
    rest: &'a [u8],
    packed: &'a [u8],
}

impl<'a> Iterator for Points<'a> {
    type Item = Point<'a>;

    fn next(&mut self) -> Option<Point<'a>> {
        if self.next >= self.count {
            return None;
        }
        let i = self.next;
        self.next += 1;
        let default_index = self.start.wrapping_add(i);
        if let (Layout::Packed(bits), true) = (self.layout, self.with_data) {
            let bit = (i as usize) * usize::from(bits);
            let byte = *self.packed.get(bit / 8)?;
            let v = byte >> (bit % 8);
            let value = if bits == 2 {
                Value::DoubleBit(v & 3)
            } else {
                Value::Bit(v & 1 == 1)
            };
            return Some(Point {
                index: default_index,
                value,
            });
        }
        let prefix = self.rest.get(..self.prefix)?;
        self.rest = self.rest.get(self.prefix..)?;
        let index = if self.prefix > 0 && !self.prefix_is_size {
            le(prefix)
        } else {
            default_index
        };
        if !self.with_data {
            return Some(Point {
                index,
                value: Value::None,
            });
        }
        let len = if self.prefix_is_size {
            le(prefix) as usize
        } else if self.layout == Layout::Attribute {
            2 + attribute_value_len(*self.rest.first()?, *self.rest.get(1)?)
        } else {
            self.layout.fixed_size(self.variation)?
        };
        let object = self.rest.get(..len)?;
        self.rest = self.rest.get(len..)?;
        Some(Point {
            index,
            value: decode(self.group, self.variation, self.layout, object),
        })
    }
}

fn read_num(num: Num, b: &[u8]) -> f64 {
    let raw = le(b.get(..num.width().min(4)).unwrap_or(&[]));
    match num {
        Num::I16 => f64::from(raw as u16 as i16),
        Num::I32 => f64::from(raw as i32),
        Num::U16 => f64::from(raw as u16),
        Num::U32 => f64::from(raw),
        Num::F32 => f64::from(f32::from_bits(raw)),
        Num::F64 => match b.get(..8).and_then(|x| <[u8; 8]>::try_from(x).ok()) {
            Some(bytes) => f64::from_le_bytes(bytes),
            None => f64::NAN,
        },
    }
}

fn decode<'a>(group: u8, variation: u8, layout: Layout, b: &'a [u8]) -> Value<'a> {
    let first = b.first().copied().unwrap_or(0);
    let time_at = |at: usize| Time::Absolute(le48(b.get(at..at + 6).unwrap_or(&[])));
    match layout {
        Layout::Binary { time } => Value::Binary {
            flags: first,
            time: match time {
                6 => Some(time_at(1)),
                2 => Some(Time::Relative(le(b.get(1..3).unwrap_or(&[])) as u16)),
                _ => None,
            },
        },
        Layout::Number(s) => {
            let w = s.num.width();
            match s.kind {
                NumKind::Counter | NumKind::Analog => {
                    let at = usize::from(s.flags);
                    let value = read_num(s.num, b.get(at..).unwrap_or(&[]));
                    let flags = s.flags.then_some(first);
                    let time = s.time.then(|| time_at(at + w));
                    if s.kind == NumKind::Counter {
                        Value::Counter {
                            flags,
                            value: value as u32,
                            time,
                        }
                    } else {
                        Value::Analog { flags, value, time }
                    }
                }
                NumKind::Command => Value::AnalogCommand {
                    value: read_num(s.num, b),
                    status: CommandStatus::from(b.get(w).copied().unwrap_or(0)),
                    time: None,
                },
                NumKind::CommandEvent => Value::AnalogCommand {
                    value: read_num(s.num, b.get(1..).unwrap_or(&[])),
                    status: CommandStatus::from(first),
                    time: s.time.then(|| time_at(1 + w)),
                },
            }
        }
        Layout::Crob => Value::Crob(Crob {
            code: first,
            count: b.get(1).copied().unwrap_or(0),
            on_time: le(b.get(2..6).unwrap_or(&[])),
            off_time: le(b.get(6..10).unwrap_or(&[])),
            status: CommandStatus::from(b.get(10).copied().unwrap_or(0) & 0x7f),
        }),
        Layout::Time => Value::Time(le48(b)),
        Layout::TimeInterval => Value::TimeInterval {
            time: le48(b),
            interval: le(b.get(6..10).unwrap_or(&[])),
            units: None,
        },
        Layout::IndexedTime => Value::TimeInterval {
            time: le48(b),
            interval: le(b.get(6..10).unwrap_or(&[])),
            units: b.get(10).copied(),
        },
        Layout::Delay => Value::Delay(le(b) as u16),
        Layout::Attribute => {
            let length = b.get(1).copied().unwrap_or(0);
            Value::Attribute(Attribute {
                variation: AttributeVariation::from(variation),
                data_type: AttributeType::from(first),
                length,
                value: b.get(2..).unwrap_or(&[]),
            })
        }
        Layout::OctetString => Value::OctetString(b),
        _ if group == 70 => Value::File(FileObject::decode(variation, b)),
        _ if group == 120 => Value::Auth(b),
        _ => Value::Raw(b),
    }
}
