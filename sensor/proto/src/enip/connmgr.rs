//! The Connection Manager's connection services (volume 1, 3-5.5):
//! Forward_Open and Large_Forward_Open open a connection (explicit class 3
//! messaging, or implicit I/O), Forward_Close ends it. Their data names
//! the connection ids each side will use, the packet intervals, the
//! connection types and sizes, and the path to the application object.

use super::epath::Path;
use super::{le16, le32};

/// Service code of Forward_Open.
pub const FORWARD_OPEN: u8 = 0x54;
/// Service code of Large_Forward_Open.
pub const LARGE_FORWARD_OPEN: u8 = 0x5B;
/// Service code of Forward_Close.
pub const FORWARD_CLOSE: u8 = 0x4E;

/// Who the connection is: the triad every connection service repeats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Triad {
    /// Connection serial number.
    pub serial: u16,
    /// Originator vendor id.
    pub vendor: u16,
    /// Originator serial number.
    pub originator_serial: u32,
}

impl Triad {
    fn at(b: &[u8], at: usize) -> Option<Triad> {
        Some(Triad {
            serial: le16(b, at)?,
            vendor: le16(b, at + 2)?,
            originator_serial: le32(b, at + 4)?,
        })
    }
}

/// One direction's parameters of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Direction {
    /// Requested packet interval, microseconds.
    pub rpi: u32,
    /// Connection size in bytes.
    pub size: u16,
    /// Whether the size may vary.
    pub variable: bool,
    /// Connection type: 0 null, 1 multicast, 2 point-to-point.
    pub kind: u8,
    /// Priority: 0 low, 1 high, 2 scheduled, 3 urgent.
    pub priority: u8,
    /// Redundant owner bit.
    pub redundant_owner: bool,
}

impl Direction {
    fn normal(rpi: u32, p: u16) -> Direction {
        Direction {
            rpi,
            size: p & 0x01FF,
            variable: p & 0x0200 != 0,
            priority: ((p >> 10) & 3) as u8,
            kind: ((p >> 13) & 3) as u8,
            redundant_owner: p & 0x8000 != 0,
        }
    }

    fn large(rpi: u32, p: u32) -> Direction {
        Direction {
            rpi,
            size: (p & 0xFFFF) as u16,
            variable: p & 0x0200_0000 != 0,
            priority: ((p >> 26) & 3) as u8,
            kind: ((p >> 29) & 3) as u8,
            redundant_owner: p & 0x8000_0000 != 0,
        }
    }

    /// The connection type's name.
    pub fn kind_name(&self) -> &'static str {
        match self.kind {
            0 => "null",
            1 => "multicast",
            2 => "point_to_point",
            _ => "reserved",
        }
    }
}

/// A Forward_Open or Large_Forward_Open request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ForwardOpen<'a> {
    /// Whether it is the large variant (32-bit network parameters).
    pub large: bool,
    /// O→T connection id the originator proposes (the target picks its own
    /// for point-to-point connections).
    pub o_t_id: u32,
    /// T→O connection id.
    pub t_o_id: u32,
    /// The connection triad.
    pub triad: Triad,
    /// Timeout multiplier (0 = ×4, … 7 = ×512).
    pub timeout_multiplier: u8,
    /// Originator to target.
    pub o_t: Direction,
    /// Target to originator.
    pub t_o: Direction,
    /// Transport class and trigger byte.
    pub transport: u8,
    /// The connection path (electronic key, application object, points).
    pub path: Path<'a>,
}

impl<'a> ForwardOpen<'a> {
    /// Decodes a request's data; `large` for Large_Forward_Open.
    pub fn parse(b: &'a [u8], large: bool) -> Option<ForwardOpen<'a>> {
        let o_t_id = le32(b, 2)?;
        let t_o_id = le32(b, 6)?;
        let triad = Triad::at(b, 10)?;
        let timeout_multiplier = *b.get(18)?;
        let (o_t, t_o, at) = if large {
            let o_t = Direction::large(le32(b, 22)?, le32(b, 26)?);
            let t_o = Direction::large(le32(b, 30)?, le32(b, 34)?);
            (o_t, t_o, 38)
        } else {
            let o_t = Direction::normal(le32(b, 22)?, le16(b, 26)?);
            let t_o = Direction::normal(le32(b, 28)?, le16(b, 32)?);
            (o_t, t_o, 34)
        };
        let transport = *b.get(at)?;
        let words = usize::from(*b.get(at + 1)?);
        let path = b.get(at + 2..at + 2 + words * 2)?;
        Some(ForwardOpen {
            large,
            o_t_id,
            t_o_id,
            triad,
            timeout_multiplier,
            o_t,
            t_o,
            transport,
            path: Path::parse(path),
        })
    }

    /// The transport class (0-3; 1 is cyclic I/O, 3 explicit messaging).
    pub fn transport_class(&self) -> u8 {
        self.transport & 0x0F
    }

    /// The production trigger's name.
    pub fn trigger_name(&self) -> &'static str {
        match (self.transport >> 4) & 0x07 {
            0 => "cyclic",
            1 => "change_of_state",
            2 => "application_object",
            _ => "reserved",
        }
    }

    /// Whether this end is the server of the transport (bit 7).
    pub fn is_server(&self) -> bool {
        self.transport & 0x80 != 0
    }
}

/// A successful Forward_Open reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ForwardOpenReply {
    /// O→T connection id (chosen by the target).
    pub o_t_id: u32,
    /// T→O connection id.
    pub t_o_id: u32,
    /// The connection triad.
    pub triad: Triad,
    /// Actual packet intervals, microseconds.
    pub o_t_api: u32,
    /// T→O actual packet interval.
    pub t_o_api: u32,
}

impl ForwardOpenReply {
    /// Decodes a successful reply's data.
    pub fn parse(b: &[u8]) -> Option<ForwardOpenReply> {
        Some(ForwardOpenReply {
            o_t_id: le32(b, 0)?,
            t_o_id: le32(b, 4)?,
            triad: Triad::at(b, 8)?,
            o_t_api: le32(b, 16)?,
            t_o_api: le32(b, 20)?,
        })
    }
}

/// A Forward_Close request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ForwardClose<'a> {
    /// The connection triad.
    pub triad: Triad,
    /// The connection path.
    pub path: Path<'a>,
}

impl<'a> ForwardClose<'a> {
    /// Decodes a request's data.
    pub fn parse(b: &'a [u8]) -> Option<ForwardClose<'a>> {
        let triad = Triad::at(b, 2)?;
        let words = usize::from(*b.get(10)?);
        let path = b.get(12..12 + words * 2)?;
        Some(ForwardClose {
            triad,
            path: Path::parse(path),
        })
    }
}

/// The triad of a failed Forward_Open or of a Forward_Close reply.
pub fn reply_triad(b: &[u8]) -> Option<Triad> {
    Triad::at(b, 0)
}
