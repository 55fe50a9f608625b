//! The EtherNet/IP encapsulation (volume 2, chapter 2): a 24-byte header,
//! then command-specific data; SendRRData and SendUnitData carry their CIP
//! message in Common Packet Format items.

use super::codes::{Command, EncapStatus, ItemType};
use crate::stream::Candidate;

/// Length of the encapsulation header.
pub const HEADER_LEN: usize = 24;
/// Largest encapsulation data length the specification allows over TCP.
pub const MAX_DATA_LEN: u16 = 65_511;

/// A decoded encapsulation header (all fields little-endian).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// The command.
    pub command: Command,
    /// Bytes of data after the header.
    pub length: u16,
    /// Session handle (0 before RegisterSession answered).
    pub session: u32,
    /// Status (0 in requests).
    pub status: EncapStatus,
    /// Sender context: the requester's 8 bytes, echoed in the reply.
    pub context: [u8; 8],
    /// Options (must be 0).
    pub options: u32,
}

impl Header {
    /// Decodes the first [`HEADER_LEN`] bytes of `b`; `None` if shorter.
    pub fn parse(b: &[u8]) -> Option<Header> {
        let b: &[u8; HEADER_LEN] = b.get(..HEADER_LEN)?.try_into().ok()?;
        let u16_at = |i: usize| u16::from_le_bytes([b[i], b[i + 1]]);
        let u32_at = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let mut context = [0; 8];
        context.copy_from_slice(&b[12..20]);
        Some(Header {
            command: Command::from(u16_at(0)),
            length: u16_at(2),
            session: u32_at(4),
            status: EncapStatus::from(u32_at(8)),
            context,
            options: u32_at(20),
        })
    }

    /// Bytes of the whole message (header and data).
    pub fn message_len(&self) -> usize {
        HEADER_LEN + usize::from(self.length)
    }

    /// Whether the data length is one the command can have: fixed for the
    /// commands without data or with a fixed body, at least the interface
    /// handle, timeout and item count for the send commands.
    pub fn length_fits(&self) -> bool {
        let n = self.length;
        match self.command {
            Command::Nop => true,
            Command::RegisterSession => n == 4,
            Command::UnregisterSession => n == 0,
            // Requests carry nothing; replies a list of items.
            Command::ListServices | Command::ListIdentity | Command::ListInterfaces => {
                n == 0 || n >= 2
            }
            Command::SendRrData | Command::SendUnitData => n >= 8,
            _ => true,
        }
    }

    /// The sender context as one number, for pairing and events.
    pub fn context_u64(&self) -> u64 {
        u64::from_le_bytes(self.context)
    }
}

/// One Common Packet Format item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Item<'a> {
    /// Its type.
    pub kind: ItemType,
    /// Its data.
    pub data: &'a [u8],
}

/// Why the items of a message cannot be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CpfError {
    /// Fewer bytes than the item count or an item header needs.
    Truncated,
    /// An item's length runs past the message.
    ItemOverrun {
        /// Index of the item.
        index: u16,
    },
}

impl core::fmt::Display for CpfError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            CpfError::Truncated => f.write_str("common packet format is truncated"),
            CpfError::ItemOverrun { index } => {
                write!(f, "common packet format item {index} runs past the message")
            }
        }
    }
}

/// The items of a Common Packet Format list: `b` starts at the item count.
#[derive(Debug, Clone)]
pub struct Items<'a> {
    rest: &'a [u8],
    left: u16,
    index: u16,
    /// Bytes after the last item (should be none).
    pub trailing: usize,
}

impl<'a> Items<'a> {
    /// Reads the item count; the items follow.
    pub fn new(b: &'a [u8]) -> Result<Self, CpfError> {
        let count = b.get(..2).ok_or(CpfError::Truncated)?;
        Ok(Items {
            rest: &b[2..],
            left: u16::from_le_bytes([count[0], count[1]]),
            index: 0,
            trailing: 0,
        })
    }

    /// The item count the message declares.
    pub fn declared(&self) -> u16 {
        self.left + self.index
    }
}

impl<'a> Iterator for Items<'a> {
    type Item = Result<Item<'a>, CpfError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            self.trailing = self.rest.len();
            return None;
        }
        self.left -= 1;
        let index = self.index;
        self.index += 1;
        let Some(h) = self.rest.get(..4) else {
            self.left = 0;
            return Some(Err(CpfError::Truncated));
        };
        let kind = ItemType::from(u16::from_le_bytes([h[0], h[1]]));
        let len = usize::from(u16::from_le_bytes([h[2], h[3]]));
        let Some(data) = self.rest.get(4..4 + len) else {
            self.left = 0;
            self.rest = &[];
            return Some(Err(CpfError::ItemOverrun { index }));
        };
        self.rest = &self.rest[4 + len..];
        Some(Ok(Item { kind, data }))
    }
}

/// The start of SendRRData and SendUnitData data: interface handle (0 for
/// CIP) and timeout, then the items.
pub const SEND_DATA_PREFIX: usize = 6;

/// The CIP message of a SendRRData or SendUnitData: from its unconnected
/// or connected data item, with the connection id and the sequence count
/// of a connected one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Carried<'a> {
    /// Interface handle (0 is CIP).
    pub interface: u32,
    /// Timeout in seconds (SendRRData).
    pub timeout: u16,
    /// The connection id of the connected address item.
    pub connection: Option<u32>,
    /// The sequence count of the connected data item.
    pub sequence: Option<u16>,
    /// The CIP message.
    pub cip: Option<&'a [u8]>,
    /// Items other than the address and the data (sockaddr info).
    pub other_items: u16,
}

impl<'a> Carried<'a> {
    /// Finds the CIP message in the data of a SendRRData or SendUnitData.
    pub fn parse(data: &'a [u8]) -> Result<Self, CpfError> {
        let prefix = data.get(..SEND_DATA_PREFIX).ok_or(CpfError::Truncated)?;
        let mut out = Carried {
            interface: u32::from_le_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]),
            timeout: u16::from_le_bytes([prefix[4], prefix[5]]),
            ..Carried::default()
        };
        for item in Items::new(&data[SEND_DATA_PREFIX..])? {
            let item = item?;
            match item.kind {
                ItemType::NullAddress => {}
                ItemType::ConnectedAddress if item.data.len() == 4 => {
                    let d = item.data;
                    out.connection = Some(u32::from_le_bytes([d[0], d[1], d[2], d[3]]));
                }
                ItemType::UnconnectedData if out.cip.is_none() => out.cip = Some(item.data),
                ItemType::ConnectedData if out.cip.is_none() && item.data.len() >= 2 => {
                    let d = item.data;
                    out.sequence = Some(u16::from_le_bytes([d[0], d[1]]));
                    out.cip = Some(&d[2..]);
                }
                _ => out.other_items = out.other_items.saturating_add(1),
            }
        }
        Ok(out)
    }
}

/// Whether `b` plausibly starts an encapsulation message: a known command,
/// options 0, a length its command can have.
pub fn looks_like_message(b: &[u8]) -> bool {
    Header::parse(b).is_some_and(|h| {
        h.command.is_known() && h.options == 0 && h.length <= MAX_DATA_LEN && h.length_fits()
    })
}

/// Stricter check for recognising EtherNet/IP on other ports from a
/// client's first bytes: a whole request with success status, and after
/// it nothing, or the start of another plausible message.
pub fn probe(b: &[u8]) -> bool {
    let Some(h) = Header::parse(b) else {
        return false;
    };
    if !looks_like_message(b) || h.status != EncapStatus::Success || b.len() < h.message_len() {
        return false;
    }
    // RegisterSession asks for protocol version 1, options 0.
    if h.command == Command::RegisterSession && b[HEADER_LEN..HEADER_LEN + 4] != [1, 0, 0, 0] {
        return false;
    }
    let rest = &b[h.message_len()..];
    rest.len() < HEADER_LEN || looks_like_message(rest)
}

/// Whether a message plausibly starts at `b[0]` while resynchronising after
/// garbage or a gap: it must look like a message and be followed by another
/// one, or end exactly where the data ends.
pub fn resync_candidate(b: &[u8]) -> Candidate {
    if b.len() < HEADER_LEN {
        return Candidate::NeedMore;
    }
    let Some(h) = Header::parse(b).filter(|_| looks_like_message(b)) else {
        return Candidate::Reject;
    };
    let end = h.message_len();
    match b.len() {
        n if n == end => Candidate::Accept,
        n if n < end + HEADER_LEN => Candidate::NeedMore,
        _ if looks_like_message(&b[end..]) => Candidate::Accept,
        _ => Candidate::Reject,
    }
}
