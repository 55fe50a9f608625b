//! CIP paths (EPATH, volume 1, appendix C): the segments that name the
//! object a request goes to (class, instance, attribute, member), the route
//! to another device (port segments), a Logix tag (symbolic segments) and an
//! electronic key. Paths in messages are "padded": every segment is a whole
//! number of 16-bit words.
//!
//! Decoding borrows from the packet: a [`Segments`] iterator walks the path,
//! and [`Path`] keeps what rules and events ask about.

/// The kinds of logical segment (bits 4..2 of the segment byte).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Logical {
    /// 0x20: class id.
    Class,
    /// 0x24: instance id.
    Instance,
    /// 0x28: member id (also an array element after a symbol).
    Member,
    /// 0x2C: connection point (an assembly instance in I/O connections).
    ConnectionPoint,
    /// 0x30: attribute id.
    Attribute,
    /// 0x38: service id.
    ServiceId,
    /// 0x3C: extended logical.
    Extended,
}

/// One decoded path segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Segment<'a> {
    /// A hop through a port of the device: port number and link address
    /// (a slot number on a backplane, an IP address as text on Ethernet).
    Port {
        /// Port number (1 is the backplane of a Logix chassis).
        port: u16,
        /// Link address as on the wire.
        link: &'a [u8],
    },
    /// A logical segment with its value (8, 16 or 32 bits on the wire).
    Logical {
        /// What it names.
        kind: Logical,
        /// The id.
        value: u32,
    },
    /// An electronic key (logical special, format 4): the device a
    /// connection expects.
    ElectronicKey {
        /// Vendor id.
        vendor: u16,
        /// Device type.
        device_type: u16,
        /// Product code.
        product_code: u16,
        /// Major revision (7 bits).
        major: u8,
        /// The compatibility bit: any revision compatible with this one.
        compatible: bool,
        /// Minor revision.
        minor: u8,
    },
    /// A symbol: a Logix tag name or one member of it (ANSI extended symbol
    /// 0x91, or a symbolic segment 0x60..0x7F).
    Symbol(&'a [u8]),
    /// A simple data segment (0x80): parameters of the path's target.
    Data(&'a [u8]),
    /// A network segment (0x40..0x5F): connection scheduling, safety.
    Network {
        /// The segment byte.
        kind: u8,
        /// Its data.
        data: &'a [u8],
    },
}

/// Why a path cannot be decoded further.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathError {
    /// A segment runs past the path's end, at this offset.
    Truncated(usize),
    /// A segment byte otwatch cannot size (reserved formats, data types in
    /// a path), at this offset.
    Unsupported {
        /// Offset of the segment.
        at: usize,
        /// The segment byte.
        kind: u8,
    },
}

impl core::fmt::Display for PathError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            PathError::Truncated(at) => write!(f, "path segment at offset {at} is truncated"),
            PathError::Unsupported { at, kind } => {
                write!(
                    f,
                    "path segment {kind:#04x} at offset {at} is not a path segment"
                )
            }
        }
    }
}

/// The segments of a padded path, in order. After an error it yields
/// nothing more.
#[derive(Debug, Clone)]
pub struct Segments<'a> {
    path: &'a [u8],
    at: usize,
}

impl<'a> Segments<'a> {
    /// Walks `path` (the bytes after the path size).
    pub fn new(path: &'a [u8]) -> Self {
        Segments { path, at: 0 }
    }

    fn take(&self, from: usize, len: usize) -> Result<&'a [u8], PathError> {
        from.checked_add(len)
            .and_then(|end| self.path.get(from..end))
            .ok_or(PathError::Truncated(self.at))
    }

    /// The next segment and its length on the wire (pad included).
    fn segment(&self) -> Result<(Segment<'a>, usize), PathError> {
        let at = self.at;
        let kind = self.path[at];
        match kind >> 5 {
            0b000 => self.port(kind),
            0b001 => self.logical(kind),
            0b010 => {
                if kind & 0x10 == 0 {
                    let data = self.take(at + 1, 1)?;
                    Ok((Segment::Network { kind, data }, 2))
                } else {
                    let words = usize::from(self.take(at + 1, 1)?[0]);
                    let data = self.take(at + 2, words * 2)?;
                    Ok((Segment::Network { kind, data }, 2 + words * 2))
                }
            }
            0b011 => {
                let size = usize::from(kind & 0x1F);
                if size == 0 {
                    // The extended string formats (double-byte, numeric).
                    return Err(PathError::Unsupported { at, kind });
                }
                let name = self.take(at + 1, size)?;
                Ok((Segment::Symbol(name), padded(1 + size)))
            }
            0b100 => {
                let len = usize::from(self.take(at + 1, 1)?[0]);
                match kind {
                    0x80 => Ok((Segment::Data(self.take(at + 2, len * 2)?), 2 + len * 2)),
                    0x91 => Ok((Segment::Symbol(self.take(at + 2, len)?), padded(2 + len))),
                    _ => Err(PathError::Unsupported { at, kind }),
                }
            }
            _ => Err(PathError::Unsupported { at, kind }),
        }
    }

    fn port(&self, kind: u8) -> Result<(Segment<'a>, usize), PathError> {
        let at = self.at;
        let mut next = at + 1;
        let link_len = if kind & 0x10 != 0 {
            next += 1;
            usize::from(self.take(at + 1, 1)?[0])
        } else {
            1
        };
        let mut port = u16::from(kind & 0x0F);
        if port == 0x0F {
            let b = self.take(next, 2)?;
            port = u16::from_le_bytes([b[0], b[1]]);
            next += 2;
        }
        let link = self.take(next, link_len)?;
        Ok((Segment::Port { port, link }, padded(next + link_len - at)))
    }

    fn logical(&self, kind: u8) -> Result<(Segment<'a>, usize), PathError> {
        let at = self.at;
        let logical = match (kind >> 2) & 0x07 {
            0 => Logical::Class,
            1 => Logical::Instance,
            2 => Logical::Member,
            3 => Logical::ConnectionPoint,
            4 => Logical::Attribute,
            5 => {
                // Special: the electronic key is the only format defined.
                let b = self.take(at + 1, 9)?;
                if kind & 0x03 != 0 || b[0] != 4 {
                    return Err(PathError::Unsupported { at, kind });
                }
                let key = Segment::ElectronicKey {
                    vendor: u16::from_le_bytes([b[1], b[2]]),
                    device_type: u16::from_le_bytes([b[3], b[4]]),
                    product_code: u16::from_le_bytes([b[5], b[6]]),
                    major: b[7] & 0x7F,
                    compatible: b[7] & 0x80 != 0,
                    minor: b[8],
                };
                return Ok((key, 10));
            }
            6 => Logical::ServiceId,
            _ => Logical::Extended,
        };
        let (value, len) = match kind & 0x03 {
            0 => (u32::from(self.take(at + 1, 1)?[0]), 2),
            1 => {
                let b = self.take(at + 2, 2)?;
                (u32::from(u16::from_le_bytes([b[0], b[1]])), 4)
            }
            2 => {
                let b = self.take(at + 2, 4)?;
                (u32::from_le_bytes([b[0], b[1], b[2], b[3]]), 6)
            }
            _ => return Err(PathError::Unsupported { at, kind }),
        };
        Ok((
            Segment::Logical {
                kind: logical,
                value,
            },
            len,
        ))
    }
}

/// `len` rounded up to whole 16-bit words.
fn padded(len: usize) -> usize {
    len + (len & 1)
}

impl<'a> Iterator for Segments<'a> {
    type Item = Result<Segment<'a>, PathError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.at >= self.path.len() {
            return None;
        }
        match self.segment() {
            Ok((segment, len)) => {
                // A pad byte may be missing at the very end; nothing follows it.
                self.at = (self.at + len).min(self.path.len());
                Some(Ok(segment))
            }
            Err(e) => {
                self.at = self.path.len();
                Some(Err(e))
            }
        }
    }
}

/// What a request path names, for rules and events: the first class,
/// instance, attribute and member (after the last port hop), whether it
/// names a tag, and the first error.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Path<'a> {
    /// The path bytes (for [`Path::segments`] and [`Path::write_tag`]).
    pub raw: &'a [u8],
    /// Class id.
    pub class: Option<u32>,
    /// Instance id.
    pub instance: Option<u32>,
    /// Attribute id.
    pub attribute: Option<u32>,
    /// Member id (the first array index of a tag).
    pub member: Option<u32>,
    /// Connection point.
    pub connection_point: Option<u32>,
    /// Port hops (a route through other devices).
    pub hops: u8,
    /// Whether the path has a symbolic segment: it names a tag.
    pub symbolic: bool,
    /// Why decoding stopped early.
    pub error: Option<PathError>,
}

impl<'a> Path<'a> {
    /// Decodes `raw`.
    pub fn parse(raw: &'a [u8]) -> Self {
        let mut path = Path {
            raw,
            ..Path::default()
        };
        for segment in Segments::new(raw) {
            match segment {
                Ok(Segment::Port { .. }) => path.hops = path.hops.saturating_add(1),
                Ok(Segment::Logical { kind, value }) => {
                    let slot = match kind {
                        Logical::Class => &mut path.class,
                        Logical::Instance => &mut path.instance,
                        Logical::Attribute => &mut path.attribute,
                        Logical::Member => &mut path.member,
                        Logical::ConnectionPoint => &mut path.connection_point,
                        Logical::ServiceId | Logical::Extended => continue,
                    };
                    slot.get_or_insert(value);
                }
                Ok(Segment::Symbol(_)) => path.symbolic = true,
                Ok(_) => {}
                Err(e) => path.error = Some(e),
            }
        }
        path
    }

    /// The segments again.
    pub fn segments(&self) -> Segments<'a> {
        Segments::new(self.raw)
    }

    /// Writes the tag the path names as Logix writes it: symbols joined by
    /// dots, element indices in brackets (`Line1.Motor[3]`). Symbol bytes
    /// are written as they are; escaping is the caller's. Returns whether
    /// the path names a tag.
    pub fn write_tag(&self, out: &mut impl TagSink) -> bool {
        let mut any = false;
        let mut in_index = false;
        for segment in self.segments() {
            match segment {
                Ok(Segment::Symbol(name)) => {
                    if in_index {
                        out.push_bytes(b"]");
                        in_index = false;
                    }
                    if any {
                        out.push_bytes(b".");
                    }
                    out.push_bytes(name);
                    any = true;
                }
                Ok(Segment::Logical {
                    kind: Logical::Member,
                    value,
                }) if any => {
                    out.push_bytes(if in_index { b"," } else { b"[" });
                    let mut buf = itoa::Buffer::new();
                    out.push_bytes(buf.format(value).as_bytes());
                    in_index = true;
                }
                _ => {}
            }
        }
        if in_index {
            out.push_bytes(b"]");
        }
        any
    }
}

/// Where [`Path::write_tag`] writes.
pub trait TagSink {
    /// Appends `bytes`.
    fn push_bytes(&mut self, bytes: &[u8]);
}

impl TagSink for Vec<u8> {
    fn push_bytes(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

/// A tag name rendered into a fixed buffer (cut at 256 bytes), so that
/// events and rules read it without allocating.
#[derive(Debug, Clone, Copy)]
pub struct TagText {
    buf: [u8; 256],
    len: usize,
}

impl TagSink for TagText {
    fn push_bytes(&mut self, bytes: &[u8]) {
        let room = self.buf.len() - self.len;
        let n = bytes.len().min(room);
        self.buf[self.len..self.len + n].copy_from_slice(&bytes[..n]);
        self.len += n;
    }
}

impl TagText {
    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl Path<'_> {
    /// The tag the path names ([`Path::write_tag`]), if it names one.
    pub fn tag(&self) -> Option<TagText> {
        if !self.symbolic {
            return None;
        }
        let mut text = TagText {
            buf: [0; 256],
            len: 0,
        };
        self.write_tag(&mut text).then_some(text)
    }
}
