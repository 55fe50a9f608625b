//! EtherNet/IP (ODVA) and the CIP it carries.
//!
//! * [`encap`]: the 24-byte encapsulation header, its framing checks and
//!   probe, and the Common Packet Format items of SendRRData and
//!   SendUnitData.
//! * [`cip`]: CIP requests and replies, Multiple_Service_Packet and
//!   Unconnected_Send with the requests they embed.
//! * [`epath`]: the paths of requests (class, instance, attribute, tag,
//!   route, electronic key).
//! * [`identity`]: the identity a device gives (ListIdentity,
//!   Get_Attributes_All of the Identity object); [`vendors`] names its
//!   vendor id.
//! * [`connmgr`]: Forward_Open, Large_Forward_Open and Forward_Close.
//! * [`logix`]: the data of Logix tag services (types, element counts).
//! * [`pccc`]: PCCC commands carried by Execute_PCCC.
//! * [`codes`]: commands, item types, classes, services and statuses by name.
//! * [`anomaly`]: the names of the anomalies it raises.
//! * [`eve`]: the EVE `enip` object ([`Transaction::write_eve`]).
//!
//! [`EnipDissector`] is one flow's state, over TCP (port 44818, or any port
//! whose first client bytes [`encap::probe`] recognises) and over UDP (port
//! 44818: ListIdentity and its answers; port 2222: implicit I/O).
//!
//! Over TCP, messages are framed by their header; bytes that do not frame
//! are skipped until a plausible header followed by another (or the end of
//! the data) is found. Requests wait in a bounded table: a reply is paired
//! with its request by sender context (every command but SendUnitData), a
//! connected SendUnitData reply by the sequence count of its connected data
//! item (its request went to the target's connection id, the reply comes on
//! the originator's, and the count is echoed). A pair, or a message alone,
//! is one [`Transaction`]; a request without a reply is emitted alone when
//! its key is reused, when the table overflows, or when the flow ends. The
//! session the target registers is remembered, and commands that need one
//! without it raise an anomaly.
//!
//! Implicit I/O (UDP 2222) is not an event per packet: each connection id
//! is counted (packets, bytes, sequence numbers out of order or skipped),
//! and one event per connection is written when the flow ends.

pub mod anomaly;
pub mod cip;
pub mod codes;
pub mod connmgr;
pub mod encap;
pub mod epath;
pub mod eve;
pub mod identity;
pub mod logix;
pub mod pccc;
pub mod protocol;
pub mod vendors;

pub use anomaly::EnipAnomaly;
pub use codes::{Class, Command, DeviceType, EncapStatus, GeneralStatus, ItemType};
pub use identity::Identity;
pub use protocol::{Dissector, SPEC};

use crate::event::{
    AppEvent, Context, DatagramDissector, Direction, StreamDissector, Timestamp,
};
use crate::stream::Candidate;
use encap::{Carried, CpfError, Header, Items, HEADER_LEN};

/// The well-known port of encapsulation messages (TCP and UDP).
pub const PORT: u16 = 44818;
/// The well-known port of implicit (class 0 and 1) I/O over UDP.
pub const IO_PORT: u16 = 2222;

/// The layer name of EtherNet/IP anomalies.
const NAME: &str = "enip";

/// Requests or replies embedded in others are followed this deep.
pub const MAX_DEPTH: u8 = 4;

/// A little-endian `u16` at `at`, if `b` holds it.
pub(crate) fn le16(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at.checked_add(2)?)?;
    Some(u16::from_le_bytes([s[0], s[1]]))
}

/// A little-endian `u32` at `at`, if `b` holds it.
pub(crate) fn le32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

/// Limits of one flow's EtherNet/IP state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnipConfig {
    /// Requests awaiting a reply before the oldest is given up.
    pub max_outstanding: usize,
    /// I/O connections counted per flow; more are counted together.
    pub max_io_connections: usize,
}

impl Default for EnipConfig {
    fn default() -> Self {
        EnipConfig {
            max_outstanding: 32,
            max_io_connections: 16,
        }
    }
}

/// How the message travelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// A TCP stream.
    Tcp,
    /// A UDP datagram.
    Udp,
}

impl Transport {
    /// Its name in EVE.
    pub fn name(self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::Udp => "udp",
        }
    }
}

/// One encapsulation message: its header and data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Message<'a> {
    /// Time of the packet that completed it.
    pub ts: Timestamp,
    /// The header.
    pub header: Header,
    /// The data after the header.
    pub data: &'a [u8],
}

impl<'a> Message<'a> {
    /// Decodes a whole message (`b` holds at least its length).
    fn new(ts: Timestamp, b: &'a [u8]) -> Option<Message<'a>> {
        let header = Header::parse(b)?;
        let data = b.get(HEADER_LEN..header.message_len())?;
        Some(Message { ts, header, data })
    }

    /// The items of a SendRRData or SendUnitData, and the CIP message they
    /// carry; `None` for other commands.
    pub fn carried(&self) -> Option<Result<Carried<'a>, CpfError>> {
        let send = matches!(
            self.header.command,
            Command::SendRrData | Command::SendUnitData
        );
        (send && !self.is_bare_error()).then(|| Carried::parse(self.data))
    }

    /// Whether this is a reply refusing the command with a status and no
    /// data (a target may answer so: invalid session, unsupported command).
    pub fn is_bare_error(&self) -> bool {
        self.header.status != EncapStatus::Success && self.data.is_empty()
    }

    /// The CIP message of a send command.
    pub fn cip(&self) -> Option<Result<cip::Message<'a>, cip::CipError>> {
        let carried = self.carried()?.ok()?;
        carried.cip.map(cip::Message::parse)
    }

    /// The connection id and sequence count of a connected message.
    pub fn connected(&self) -> Option<(u32, u16)> {
        let carried = self.carried()?.ok()?;
        Some((carried.connection?, carried.sequence?))
    }

    /// The CIP identity items of a ListIdentity reply.
    pub fn identities(&self) -> impl Iterator<Item = Identity<'a>> + 'a {
        let items = (self.header.command == Command::ListIdentity && !self.data.is_empty())
            .then(|| Items::new(self.data).ok())
            .flatten();
        items.into_iter().flatten().filter_map(|item| {
            let item = item.ok()?;
            (item.kind.raw() == identity::IDENTITY_ITEM)
                .then(|| Identity::parse_item(item.data))
                .flatten()
        })
    }
}

/// Counts of one implicit I/O connection (UDP 2222).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IoCounts {
    /// The connection id of the sequenced address item (0 for the
    /// connections beyond the table, counted together).
    pub connection: u32,
    /// Packets.
    pub packets: u64,
    /// Bytes of connected data.
    pub bytes: u64,
    /// The first and the last sequence number seen.
    pub first_sequence: u32,
    /// The last sequence number seen.
    pub last_sequence: u32,
    /// Packets whose sequence number is not after the one before.
    pub out_of_order: u64,
    /// Sequence numbers skipped (packets lost before the sensor, or sent
    /// by someone else).
    pub skipped: u64,
}

/// A request and its reply, either alone, or an I/O connection's counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transaction<'a> {
    /// TCP or UDP.
    pub transport: Transport,
    /// The request, when seen.
    pub request: Option<Message<'a>>,
    /// The reply, when seen.
    pub response: Option<Message<'a>>,
    /// Implicit I/O counts (UDP 2222), instead of messages.
    pub io: Option<IoCounts>,
}

impl<'a> Transaction<'a> {
    /// The encapsulation command (request first, else reply).
    pub fn command(&self) -> Option<Command> {
        self.request.or(self.response).map(|m| m.header.command)
    }

    /// The top-level CIP request, when it decodes.
    pub fn cip_request(&self) -> Option<cip::Request<'a>> {
        match self.request?.cip()? {
            Ok(cip::Message::Request(r)) => Some(r),
            _ => None,
        }
    }

    /// The top-level CIP reply, when it decodes.
    pub fn cip_response(&self) -> Option<cip::Response<'a>> {
        match self.response?.cip()? {
            Ok(cip::Message::Response(r)) => Some(r),
            _ => None,
        }
    }

    /// Calls `f` with the CIP request and each request it embeds
    /// (Multiple_Service_Packet, Unconnected_Send), outermost first, until
    /// `f` returns true; returns whether it did.
    pub fn any_request(&self, f: &mut dyn FnMut(&cip::Request<'a>) -> bool) -> bool {
        self.cip_request()
            .is_some_and(|r| cip::any_request(&r, 0, f))
    }

    /// Calls `f` with the CIP reply and each reply a
    /// Multiple_Service_Packet reply embeds, until `f` returns true.
    pub fn any_response(&self, f: &mut dyn FnMut(&cip::Response<'a>) -> bool) -> bool {
        self.cip_response()
            .is_some_and(|r| cip::any_response(&r, 0, f))
    }
}

/// What a pending request is paired by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    /// Command and sender context.
    Context(u16, u64),
    /// Sequence count of a connected message.
    Sequence(u16),
}

impl Key {
    fn of(header: &Header, msg: &Message<'_>) -> Key {
        if header.command == Command::SendUnitData {
            if let Some((_, sequence)) = msg.connected() {
                return Key::Sequence(sequence);
            }
        }
        Key::Context(header.command.raw(), header.context_u64())
    }
}

/// A request waiting for its reply: the whole message, copied into a
/// buffer from the spare list.
struct Pending {
    key: Key,
    ts: Timestamp,
    bytes: Vec<u8>,
}

/// Per-direction framing state.
#[derive(Debug, Default, Clone, Copy)]
struct FrameState {
    resync: bool,
    after_error: bool,
    skipped: u64,
    seen_valid: bool,
}

/// EtherNet/IP state of one flow.
pub struct EnipDissector {
    config: EnipConfig,
    transport: Transport,
    pending: Vec<Pending>,
    spare: Vec<Vec<u8>>,
    frame: [FrameState; 2],
    /// The session the target registered on this connection.
    session: Option<u32>,
    /// The session was unregistered.
    unregistered: bool,
    /// The last session handle an anomaly was raised for.
    reported_session: Option<u32>,
    io: Vec<IoCounts>,
}

impl Default for EnipDissector {
    fn default() -> Self {
        EnipDissector::new(EnipConfig::default())
    }
}

impl EnipDissector {
    /// A dissector with the given limits.
    pub fn new(config: EnipConfig) -> EnipDissector {
        EnipDissector {
            config,
            transport: Transport::Tcp,
            pending: Vec::new(),
            spare: Vec::new(),
            frame: [FrameState::default(); 2],
            session: None,
            unregistered: false,
            reported_session: None,
            io: Vec::new(),
        }
    }

    /// Requests currently waiting for a reply.
    pub fn outstanding(&self) -> usize {
        self.pending.len()
    }

    /// The session the target registered, if seen.
    pub fn session(&self) -> Option<u32> {
        self.session
    }

    fn recycle(&mut self, pending: Pending) {
        if self.spare.len() < self.config.max_outstanding {
            self.spare.push(pending.bytes);
        }
    }

    fn emit_alone(&self, pending: &Pending, cx: &mut Context<'_>) {
        let Some(request) = Message::new(pending.ts, &pending.bytes) else {
            return;
        };
        let tx = Transaction {
            transport: self.transport,
            request: Some(request),
            response: None,
            io: None,
        };
        let saved = cx.ts;
        cx.ts = pending.ts;
        cx.emit(AppEvent::Enip(&tx));
        cx.ts = saved;
    }

    /// Checks a message's contents and raises what is wrong with them.
    fn check(&mut self, msg: &Message<'_>, dir: Direction, cx: &mut Context<'_>) {
        let h = &msg.header;
        if !h.command.is_known() {
            cx.raise(
                EnipAnomaly::UnknownCommand,
                format_args!("encapsulation command {:#06x} is not defined", h.command.raw()),
                Some(dir),
            );
        } else if !h.length_fits() && !msg.is_bare_error() {
            cx.raise(
                EnipAnomaly::BadLength,
                format_args!(
                    "{} with {} bytes of data",
                    h.command.name().unwrap_or("command"),
                    h.length
                ),
                Some(dir),
            );
        }
        if h.options != 0 {
            cx.raise(
                EnipAnomaly::BadOptions,
                format_args!(
                    "encapsulation options {:#010x} are not 0 (the target discards the message)",
                    h.options
                ),
                Some(dir),
            );
        }
        if let Some(Err(err)) = msg.carried() {
            cx.raise(EnipAnomaly::MalformedItems, format_args!("{err}"), Some(dir));
        }
        match msg.cip() {
            Some(Err(err)) => {
                cx.raise(EnipAnomaly::MalformedCip, format_args!("{err}"), Some(dir));
            }
            Some(Ok(m)) => check_cip(&m, 0, dir, cx),
            None => {}
        }
        if dir == Direction::ToServer && self.transport == Transport::Tcp {
            self.check_session(h, cx);
        }
    }

    fn check_session(&mut self, h: &Header, cx: &mut Context<'_>) {
        if !h.command.needs_session() {
            return;
        }
        let bad = h.session == 0
            || self.unregistered
            || self.session.is_some_and(|s| s != h.session);
        if !bad || self.reported_session == Some(h.session) {
            return;
        }
        self.reported_session = Some(h.session);
        let why = if self.unregistered {
            "after the session was unregistered"
        } else if h.session == 0 {
            "without a session"
        } else {
            "with a session the target did not register on this connection"
        };
        cx.raise(
            EnipAnomaly::UnregisteredSession,
            format_args!(
                "{} {why} (handle {:#010x})",
                h.command.name().unwrap_or("command"),
                h.session
            ),
            Some(Direction::ToServer),
        );
    }

    fn on_request(&mut self, msg: &Message<'_>, bytes: &[u8], cx: &mut Context<'_>) {
        let h = msg.header;
        if h.command == Command::UnregisterSession {
            self.unregistered = true;
        }
        if matches!(h.command, Command::Nop | Command::UnregisterSession) {
            // Never answered: an event of its own.
            let tx = Transaction {
                transport: self.transport,
                request: Some(*msg),
                response: None,
                io: None,
            };
            cx.emit(AppEvent::Enip(&tx));
            return;
        }
        let key = Key::of(&h, msg);
        if let Some(i) = self.pending.iter().position(|p| p.key == key) {
            let old = self.pending.remove(i);
            self.emit_alone(&old, cx);
            self.recycle(old);
        }
        if self.pending.len() >= self.config.max_outstanding {
            let limit = self.config.max_outstanding;
            cx.raise(
                EnipAnomaly::TooManyOutstandingRequests,
                format_args!("more than {limit} requests without a reply; the oldest is given up"),
                Some(Direction::ToServer),
            );
            let old = self.pending.remove(0);
            self.emit_alone(&old, cx);
            self.recycle(old);
        }
        let mut buf = self.spare.pop().unwrap_or_default();
        buf.clear();
        buf.extend_from_slice(bytes);
        self.pending.push(Pending {
            key,
            ts: cx.ts,
            bytes: buf,
        });
    }

    fn on_response(&mut self, msg: &Message<'_>, cx: &mut Context<'_>) {
        let h = msg.header;
        if h.command == Command::RegisterSession && h.status == EncapStatus::Success {
            self.session = Some(h.session);
            self.unregistered = false;
            self.reported_session = None;
        }
        if h.status == EncapStatus::InvalidSessionHandle
            && self.transport == Transport::Tcp
            && self.reported_session != Some(h.session)
        {
            // The target itself refuses the handle: it was never registered
            // on this connection, whether or not the capture saw its start.
            self.reported_session = Some(h.session);
            cx.raise(
                EnipAnomaly::UnregisteredSession,
                format_args!(
                    "the target refused session handle {:#010x} (invalid session handle)",
                    h.session
                ),
                Some(Direction::ToClient),
            );
        }
        let key = Key::of(&h, msg);
        let Some(i) = self.pending.iter().position(|p| p.key == key) else {
            // Over UDP a ListIdentity is broadcast and answered from every
            // device's own address: replies come on flows of their own.
            if self.transport == Transport::Tcp {
                cx.raise(
                    EnipAnomaly::UnmatchedResponse,
                    format_args!(
                        "{} reply without a request",
                        h.command.name().unwrap_or("command")
                    ),
                    Some(Direction::ToClient),
                );
            }
            let tx = Transaction {
                transport: self.transport,
                request: None,
                response: Some(*msg),
                io: None,
            };
            cx.emit(AppEvent::Enip(&tx));
            return;
        };
        let pending = self.pending.remove(i);
        let request = Message::new(pending.ts, &pending.bytes);
        let tx = Transaction {
            transport: self.transport,
            request,
            response: Some(*msg),
            io: None,
        };
        cx.emit(AppEvent::Enip(&tx));
        self.recycle(pending);
    }

    fn on_message(&mut self, dir: Direction, bytes: &[u8], cx: &mut Context<'_>) {
        let Some(msg) = Message::new(cx.ts, bytes) else {
            return;
        };
        self.check(&msg, dir, cx);
        match dir {
            Direction::ToServer => self.on_request(&msg, bytes, cx),
            Direction::ToClient => self.on_response(&msg, cx),
        }
    }

    /// Counts one implicit I/O packet; false when `data` is not one.
    fn on_io(&mut self, data: &[u8]) -> bool {
        let Ok(items) = Items::new(data) else {
            return false;
        };
        let (mut address, mut payload) = (None, None);
        for item in items {
            let Ok(item) = item else {
                return false;
            };
            match item.kind {
                ItemType::SequencedAddress if item.data.len() == 8 => {
                    address = Some((le32(item.data, 0), le32(item.data, 4)));
                }
                ItemType::ConnectedData => payload = Some(item.data.len()),
                _ => {}
            }
        }
        let (Some((Some(connection), Some(sequence))), Some(bytes)) = (address, payload) else {
            return false;
        };
        let full = self.io.len() >= self.config.max_io_connections;
        let slot = match self.io.iter().position(|c| c.connection == connection) {
            Some(i) => i,
            None if full => match self.io.iter().position(|c| c.connection == 0) {
                Some(i) => i,
                None => {
                    self.io.push(IoCounts::default());
                    self.io.len() - 1
                }
            },
            None => {
                self.io.push(IoCounts {
                    connection,
                    first_sequence: sequence,
                    last_sequence: sequence.wrapping_sub(1),
                    ..IoCounts::default()
                });
                self.io.len() - 1
            }
        };
        let c = &mut self.io[slot];
        c.packets += 1;
        c.bytes += bytes as u64;
        if c.connection != 0 {
            let step = sequence.wrapping_sub(c.last_sequence);
            if step == 0 || step > u32::MAX / 2 {
                c.out_of_order += 1;
            } else {
                c.skipped += u64::from(step - 1);
                c.last_sequence = sequence;
            }
        }
        true
    }
}

/// Raises what is wrong inside a CIP message: its path, and the requests
/// or replies it embeds, recursively.
fn check_cip(m: &cip::Message<'_>, depth: u8, dir: Direction, cx: &mut Context<'_>) {
    let r = match m {
        cip::Message::Request(r) => r,
        cip::Message::Response(r) => {
            if let Some(Err(err)) = cip::embedded_replies(r) {
                cx.raise(EnipAnomaly::MalformedEmbedded, format_args!("{err}"), Some(dir));
            }
            return;
        }
    };
    if let Some(err) = r.path.error {
        cx.raise(EnipAnomaly::MalformedPath, format_args!("{err}"), Some(dir));
    }
    if depth >= MAX_DEPTH {
        return;
    }
    match cip::embedded_requests(r) {
        None => {}
        Some(Err(err)) => {
            cx.raise(EnipAnomaly::MalformedEmbedded, format_args!("{err}"), Some(dir));
        }
        Some(Ok(list)) => {
            for inner in list {
                match inner.map(cip::Message::parse) {
                    Ok(Ok(m)) => check_cip(&m, depth + 1, dir, cx),
                    Ok(Err(err)) => {
                        cx.raise(EnipAnomaly::MalformedEmbedded, format_args!("{err}"), Some(dir));
                    }
                    Err(err) => {
                        cx.raise(EnipAnomaly::MalformedEmbedded, format_args!("{err}"), Some(dir));
                        return;
                    }
                }
            }
        }
    }
}

impl StreamDissector for EnipDissector {
    fn parse(&mut self, dir: Direction, data: &[u8], cx: &mut Context<'_>) -> usize {
        self.transport = Transport::Tcp;
        let mut pos = 0;
        loop {
            let rest = &data[pos..];
            let Some(header) = Header::parse(rest) else {
                return pos;
            };
            let state = &mut self.frame[dir.index()];
            if state.resync {
                match encap::resync_candidate(rest) {
                    Candidate::Accept => {}
                    Candidate::NeedMore => return pos,
                    Candidate::Reject => {
                        state.skipped += 1;
                        pos += 1;
                        continue;
                    }
                }
            } else if header.length > encap::MAX_DATA_LEN || header.options != 0 {
                state.after_error = true;
                // A target discards a message with options set, and a length
                // beyond the limit is garbage: neither is trusted to frame.
                let kind = if header.options != 0 {
                    EnipAnomaly::BadOptions
                } else {
                    EnipAnomaly::BadLength
                };
                cx.raise(
                    kind,
                    format_args!(
                        "encapsulation header (command {:#06x}, length {}, options {:#x}) does not frame; resynchronising",
                        header.command.raw(),
                        header.length,
                        header.options
                    ),
                    Some(dir),
                );
                if !state.seen_valid {
                    cx.raise(
                        EnipAnomaly::NonEnipTraffic,
                        format_args!("bytes on an EtherNet/IP stream do not frame as encapsulation"),
                        Some(dir),
                    );
                }
                state.resync = true;
                state.skipped += 1;
                pos += 1;
                continue;
            }
            let end = header.message_len();
            if rest.len() < end {
                return pos;
            }
            let state = &mut self.frame[dir.index()];
            if state.after_error {
                cx.raise(
                    EnipAnomaly::MessageAfterParseError,
                    format_args!(
                        "valid messages resume after a parse error; {} bytes skipped",
                        state.skipped
                    ),
                    Some(dir),
                );
            }
            *state = FrameState {
                seen_valid: true,
                ..FrameState::default()
            };
            self.on_message(dir, &rest[..end], cx);
            pos += end;
        }
    }

    fn gap(&mut self, dir: Direction, _cx: &mut Context<'_>) {
        self.frame[dir.index()].resync = true;
    }

    fn flush(&mut self, cx: &mut Context<'_>) {
        for pending in core::mem::take(&mut self.pending) {
            self.emit_alone(&pending, cx);
            self.recycle(pending);
        }
        for counts in core::mem::take(&mut self.io) {
            let tx = Transaction {
                transport: Transport::Udp,
                request: None,
                response: None,
                io: Some(counts),
            };
            cx.emit(AppEvent::Enip(&tx));
        }
    }
}

impl DatagramDissector for EnipDissector {
    fn parse_datagram(&mut self, dir: Direction, data: &[u8], cx: &mut Context<'_>) {
        self.transport = Transport::Udp;
        let encapsulated = Header::parse(data)
            .is_some_and(|h| h.message_len() == data.len() && h.command.is_known());
        if encapsulated {
            self.on_message(dir, data, cx);
        } else if !self.on_io(data) {
            cx.raise(
                EnipAnomaly::MalformedDatagram,
                format_args!(
                    "{}-byte datagram is neither an encapsulation message nor implicit I/O",
                    data.len()
                ),
                Some(dir),
            );
        }
    }

    fn flush(&mut self, cx: &mut Context<'_>) {
        StreamDissector::flush(self, cx);
    }
}

#[cfg(test)]
mod tests;
