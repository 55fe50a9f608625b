//! DNP3 (IEEE 1815) over TCP and UDP: link frames with their CRCs, transport
//! reassembly, application fragments with their objects and points, requests
//! paired with responses by application sequence number.
//!
//! * [`link`]: the FT3 frame, CRC-16, resynchronisation, the port probe.
//! * [`transport`]: FIR/FIN/sequence and fragment reassembly per address pair.
//! * [`app`]: application control, function code, internal indications.
//! * [`objects`]: object headers, qualifiers, point values.
//! * [`codes`]: the code points as open enums.
//! * [`anomaly`]: the names of the anomalies it raises.
//! * [`eve`]: the EVE `dnp3` object ([`Transaction::write_eve`]).
//!
//! [`Dnp3Dissector`] is one flow's state. Roles come from the application
//! function code (129–131 are sent by outstations), not from the TCP
//! direction, because a master may well be the TCP server. A request waits
//! (its fragment copied into a reused buffer) until a response with the same
//! sequence number from the same outstation completes the [`Transaction`].
//! Outstations answer in order, so a response completes the oldest such
//! request (a master may send several before the first answer) and gives up
//! the requests of that master and outstation sent before it. A Secure
//! Authentication challenge (g120v1 in function 131) leaves the challenged
//! request waiting for the response that follows the master's reply (g120v2).
//! Requests still unanswered after [`Dnp3Config::response_timeout_ms`] of
//! packet time, or beyond [`Dnp3Config::max_outstanding`], are emitted alone;
//! so are unsolicited responses, confirms, `_no_ack` requests, broadcasts and
//! authentication replies.

pub mod anomaly;
pub mod app;
pub mod codes;
pub mod eve;
pub mod link;
pub mod objects;
pub mod protocol;
pub mod transport;

pub use anomaly::Dnp3Anomaly;
pub use app::{AppControl, AppHeader, Iin};
pub use codes::{
    AttributeType, AttributeVariation, CommandStatus, FunctionCode, LinkFunction, OpType, TripClose,
};
pub use eve::{EVE_MAX_BYTES, EVE_MAX_OBJECTS, EVE_MAX_POINTS};
pub use link::LinkError;
pub use objects::{
    Attribute, Crob, FileObject, ObjectError, ObjectHeader, ObjectLimits, Objects, Point, Range,
    Time, Value,
};
pub use protocol::{Dissector, SPEC};
pub use transport::{TransportConfig, TransportError};

use crate::event::{AppEvent, Context, DatagramDissector, Direction, StreamDissector, Timestamp};

/// The well-known DNP3 port (TCP and UDP).
pub const PORT: u16 = 20000;

/// Whether `bytes` start with a DNP3 link frame (start octets, header CRC,
/// known link function): recognises DNP3 on other ports.
pub fn probe(bytes: &[u8]) -> bool {
    link::probe(bytes)
}

/// Limits of one flow's DNP3 state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dnp3Config {
    /// Transport reassembly limits.
    pub transport: TransportConfig,
    /// Object and point limits per fragment.
    pub objects: ObjectLimits,
    /// Requests awaiting a response before the oldest is given up.
    pub max_outstanding: usize,
    /// Packet time, in milliseconds, after which a request without a
    /// response is given up and emitted alone (checked whenever the flow
    /// brings more DNP3 bytes); 0 waits until the cap or the end of the flow.
    pub response_timeout_ms: u64,
}

impl Default for Dnp3Config {
    fn default() -> Self {
        Dnp3Config {
            transport: TransportConfig::default(),
            objects: ObjectLimits::default(),
            max_outstanding: 32,
            response_timeout_ms: 30_000,
        }
    }
}

/// One application fragment, decoded.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Message<'a> {
    /// Time of the packet that completed the fragment.
    pub ts: Timestamp,
    /// Link source address.
    pub source: u16,
    /// Link destination address.
    pub destination: u16,
    /// Link control octet of the frame that completed the fragment.
    pub link_control: link::Control,
    /// Application header.
    pub header: AppHeader,
    /// The whole fragment (application header first).
    pub fragment: &'a [u8],
    /// The objects that parsed (all of them when `error` is `None`).
    pub objects: Objects<'a>,
    /// Why object parsing stopped early, if it did.
    pub error: Option<ObjectError>,
}

impl<'a> Message<'a> {
    /// Decodes a fragment; an error when it is too short for its header.
    pub fn decode(
        ts: Timestamp,
        link: &link::Header,
        fragment: &'a [u8],
        limits: ObjectLimits,
    ) -> Result<Message<'a>, app::HeaderTooShort> {
        let (header, rest) = app::read_header(fragment)?;
        let function = header.function;
        let (objects, error) = if function.is_reserved() {
            (Objects::default(), None)
        } else {
            let with_data = function.is_response() || function.request_carries_data();
            objects::parse(rest, with_data, limits)
        };
        Ok(Message {
            ts,
            source: link.source,
            destination: link.destination,
            link_control: link.control,
            header,
            fragment,
            objects,
            error,
        })
    }

    /// Application function code.
    pub fn function(&self) -> FunctionCode {
        self.header.function
    }

    /// Function name (snake_case), `None` when reserved.
    pub fn function_name(&self) -> Option<&'static str> {
        self.header.function.name()
    }

    /// Application control octet (FIR, FIN, CON, UNS, SEQ).
    pub fn control(&self) -> AppControl {
        self.header.control
    }

    /// Internal indications (responses only).
    pub fn iin(&self) -> Option<Iin> {
        self.header.iin
    }

    /// Whether this is an unsolicited response.
    pub fn is_unsolicited(&self) -> bool {
        self.header.function == FunctionCode::UnsolicitedResponse
    }

    /// Object headers, in order.
    pub fn object_headers(&self) -> objects::ObjectIter<'a> {
        self.objects.iter()
    }

    /// Whether an object header of `group` is present (headers only: no
    /// point is decoded).
    pub fn has_group(&self, group: u8) -> bool {
        self.objects.iter().any(|h| h.group == group)
    }

    /// Every point of every object header.
    pub fn points(&self) -> impl Iterator<Item = (ObjectHeader<'a>, Point<'a>)> + 'a {
        self.points_of(None)
    }

    /// Every point of the object headers of `group` (of all, with `None`):
    /// the points of other groups are not decoded.
    fn points_of(
        &self,
        group: Option<u8>,
    ) -> impl Iterator<Item = (ObjectHeader<'a>, Point<'a>)> + 'a {
        self.objects
            .iter()
            .filter(move |h| group.is_none_or(|g| h.group == g))
            .flat_map(|h| h.points().map(move |p| (h, p)))
    }

    /// Control relay output blocks (g12v1/v2) with their point indexes.
    pub fn crobs(&self) -> impl Iterator<Item = (u32, Crob)> + 'a {
        self.points_of(Some(12)).filter_map(|(_, p)| match p.value {
            Value::Crob(crob) => Some((p.index, crob)),
            _ => None,
        })
    }

    /// File names in group 70 objects (file commands, descriptors,
    /// specification strings).
    pub fn file_names(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.points_of(Some(70)).filter_map(|(_, p)| match p.value {
            Value::File(file) => file.name(),
            _ => None,
        })
    }

    /// Device attributes (group 0) carried with data.
    pub fn attributes(&self) -> impl Iterator<Item = Attribute<'a>> + 'a {
        self.points_of(Some(0)).filter_map(|(_, p)| match p.value {
            Value::Attribute(attr) => Some(attr),
            _ => None,
        })
    }

    /// The value of one device attribute, if present.
    pub fn attribute(&self, variation: AttributeVariation) -> Option<&'a [u8]> {
        self.attributes()
            .find(|a| a.variation == variation)
            .map(|a| a.value)
    }
}

/// A request and its response, or either alone.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Transaction<'a> {
    /// Master address (request source, response destination).
    pub master: u16,
    /// Outstation address.
    pub outstation: u16,
    /// The request, when seen.
    pub request: Option<Message<'a>>,
    /// The response, when seen.
    pub response: Option<Message<'a>>,
}

impl<'a> Transaction<'a> {
    /// `request_response`, `request`, `response` or `unsolicited`.
    pub fn kind(&self) -> &'static str {
        match (&self.request, &self.response) {
            (Some(_), Some(_)) => "request_response",
            (Some(_), None) => "request",
            (None, Some(r)) if r.is_unsolicited() => "unsolicited",
            _ => "response",
        }
    }

    /// The function of the transaction: the request's, else the response's.
    pub fn function(&self) -> FunctionCode {
        self.request
            .or(self.response)
            .map_or(FunctionCode::Unknown(0xff), |m| m.function())
    }

    /// Internal indications of the response.
    pub fn iin(&self) -> Option<Iin> {
        self.response.and_then(|r| r.iin())
    }

    /// Device attribute from the response (or, for writes, the request).
    pub fn attribute(&self, variation: AttributeVariation) -> Option<&'a [u8]> {
        self.response
            .and_then(|r| r.attribute(variation))
            .or_else(|| self.request.and_then(|r| r.attribute(variation)))
    }

    /// Vendor name (g0v252).
    pub fn vendor_name(&self) -> Option<&'a [u8]> {
        self.attribute(AttributeVariation::VendorName)
    }

    /// Product name and model (g0v250).
    pub fn product_name(&self) -> Option<&'a [u8]> {
        self.attribute(AttributeVariation::ProductName)
    }

    /// Software / firmware version (g0v242).
    pub fn software_version(&self) -> Option<&'a [u8]> {
        self.attribute(AttributeVariation::SoftwareVersion)
    }

    /// Hardware version (g0v243).
    pub fn hardware_version(&self) -> Option<&'a [u8]> {
        self.attribute(AttributeVariation::HardwareVersion)
    }

    /// Serial number (g0v248).
    pub fn serial_number(&self) -> Option<&'a [u8]> {
        self.attribute(AttributeVariation::SerialNumber)
    }
}

/// Counters of one flow.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Dnp3Stats {
    /// Link frames with a good header CRC.
    pub frames: u64,
    /// Of those, frames without user data (link resets, status, acks).
    pub link_only_frames: u64,
    /// Application fragments completed.
    pub fragments: u64,
    /// Bytes skipped while looking for start octets.
    pub skipped_bytes: u64,
    /// Frames per link function: index `prm << 4 | function code`
    /// (0–15 secondary, 16–31 primary).
    pub link_functions: [u64; 32],
}

impl Dnp3Stats {
    /// Counts one frame's link function.
    fn count_link(&mut self, control: link::Control) {
        let c = control.0;
        let index = usize::from((c >> 2) & 0x10 | (c & 0x0f));
        if let Some(n) = self.link_functions.get_mut(index) {
            *n += 1;
        }
    }

    /// Link frames per (primary, function code), for those seen.
    pub fn link_function_counts(&self) -> impl Iterator<Item = (bool, u8, u64)> + '_ {
        self.link_functions
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .map(|(i, n)| (i >= 16, (i & 0x0f) as u8, *n))
    }
}

/// A request waiting for its response, its fragment in a reused buffer.
#[derive(Debug)]
struct Pending {
    master: u16,
    outstation: u16,
    seq: u8,
    ts: Timestamp,
    link: link::Header,
    buf: Vec<u8>,
    /// The outstation answered with a Secure Authentication challenge
    /// (g120v1 in function 131): the response to the request itself comes
    /// after the master's authentication reply.
    challenged: bool,
}

impl Pending {
    fn is_pair(&self, master: u16, outstation: u16) -> bool {
        self.master == master && self.outstation == outstation
    }

    /// The request's function code.
    fn function(&self) -> Option<FunctionCode> {
        self.buf.get(1).map(|&fc| FunctionCode::from(fc))
    }
}

/// Per-direction framing state.
#[derive(Debug, Default, Clone, Copy)]
struct FrameState {
    /// Bytes are being skipped; further garbage is not reported again.
    in_garbage: bool,
    /// After a gap: framing errors are expected and not reported.
    quiet: bool,
}

/// Application-layer state: pending requests and expected continuations.
#[derive(Debug, Default)]
struct Pairing {
    pending: Vec<Pending>,
    spare: Vec<Vec<u8>>,
    /// (master, outstation, next sequence) of multi-fragment responses.
    continuations: Vec<(u16, u16, u8)>,
}

/// DNP3 state of one flow (TCP or UDP).
#[derive(Debug)]
pub struct Dnp3Dissector {
    config: Dnp3Config,
    frame: [FrameState; 2],
    scratch: [u8; link::MAX_USER_DATA],
    transport: transport::Reassembler,
    pairing: Pairing,
    stats: Dnp3Stats,
}

impl Default for Dnp3Dissector {
    fn default() -> Self {
        Dnp3Dissector::new(Dnp3Config::default())
    }
}

/// The layer name of DNP3 anomalies.
const NAME: &str = "dnp3";

impl Dnp3Dissector {
    /// A dissector with the given limits.
    pub fn new(config: Dnp3Config) -> Dnp3Dissector {
        Dnp3Dissector {
            config,
            frame: [FrameState::default(); 2],
            scratch: [0; link::MAX_USER_DATA],
            transport: transport::Reassembler::new(config.transport),
            pairing: Pairing::default(),
            stats: Dnp3Stats::default(),
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> Dnp3Stats {
        self.stats
    }

    /// Requests currently waiting for a response.
    pub fn outstanding(&self) -> usize {
        self.pairing.pending.len()
    }

    /// Heap bytes held by reassembly and pending-request buffers.
    pub fn memory(&self) -> usize {
        self.transport.memory()
            + self
                .pairing
                .pending
                .iter()
                .map(|p| p.buf.capacity())
                .sum::<usize>()
            + self.pairing.spare.iter().map(Vec::capacity).sum::<usize>()
    }

    /// Scans `data` for frames. With `datagram`, a frame cut short by the
    /// end is an anomaly and everything is consumed.
    fn scan(&mut self, dir: Direction, data: &[u8], datagram: bool, cx: &mut Context<'_>) -> usize {
        let lane = dir.index();
        let mut pos = 0;
        while let Some(rest) = data.get(pos..).filter(|r| !r.is_empty()) {
            match link::find_start(rest) {
                Some(0) => {}
                found => {
                    let skip = found.unwrap_or(rest.len());
                    self.skip(lane, dir, skip, cx);
                    pos += skip;
                    continue;
                }
            }
            if rest.len() < link::HEADER_LEN {
                return self.incomplete(dir, pos, data.len(), link::HEADER_LEN, datagram, cx);
            }
            match link::read_header(rest) {
                None => {
                    self.skip(lane, dir, 1, cx);
                    pos += 1;
                }
                Some(Err(err @ LinkError::LengthTooSmall(length))) => {
                    if !self.frame[lane].quiet {
                        cx.raise(err.anomaly(), format_args!("{err}"), Some(dir));
                    }
                    // A user-data function with LEN 5 (no transport header)
                    // is still a well-formed header whose CRC checked: its
                    // link function is counted. LEN below 5 cannot be a
                    // header at all.
                    if length >= link::MIN_LENGTH {
                        if let Some(control) = link::header_control(rest) {
                            self.stats.count_link(control);
                        }
                    }
                    self.stats.frames += 1;
                    pos += link::HEADER_LEN;
                }
                Some(Err(err)) => {
                    let state = &mut self.frame[lane];
                    if !state.quiet {
                        cx.raise(err.anomaly(), format_args!("{err}"), Some(dir));
                    }
                    // The rest of the broken frame is skipped quietly.
                    state.in_garbage = true;
                    self.stats.skipped_bytes += 2;
                    pos += 2;
                }
                Some(Ok(header)) => {
                    let len = header.frame_len();
                    let Some(frame) = rest.get(..len) else {
                        return self.incomplete(dir, pos, data.len(), len, datagram, cx);
                    };
                    self.frame[lane] = FrameState::default();
                    self.on_frame(dir, &header, frame, cx);
                    pos += len;
                }
            }
        }
        pos
    }

    fn skip(&mut self, lane: usize, dir: Direction, n: usize, cx: &mut Context<'_>) {
        let state = &mut self.frame[lane];
        if !state.in_garbage && !state.quiet {
            cx.raise(
                Dnp3Anomaly::InvalidStartOctets,
                format_args!("{n} bytes before the 0x05 0x64 start octets"),
                Some(dir),
            );
        }
        state.in_garbage = true;
        self.stats.skipped_bytes += n as u64;
    }

    fn incomplete(
        &mut self,
        dir: Direction,
        pos: usize,
        end: usize,
        needed: usize,
        datagram: bool,
        cx: &mut Context<'_>,
    ) -> usize {
        if !datagram {
            return pos; // wait for the rest: at most one frame is held
        }
        let err = LinkError::Truncated {
            needed,
            available: end - pos,
        };
        cx.raise(err.anomaly(), format_args!("{err}"), Some(dir));
        end
    }

    fn on_frame(
        &mut self,
        dir: Direction,
        header: &link::Header,
        frame: &[u8],
        cx: &mut Context<'_>,
    ) {
        self.stats.frames += 1;
        self.stats.count_link(header.control);
        let function = header.control.function();
        if !function.is_known() {
            let raw = header.control.0;
            cx.raise(
                Dnp3Anomaly::UnknownLinkFunction,
                format_args!(
                    "link control {raw:#04x}: function {} (prm {}) is not defined",
                    raw & 0x0f,
                    raw >> 6 & 1
                ),
                Some(dir),
            );
            self.stats.link_only_frames += 1;
            return;
        }
        if !function.carries_user_data() {
            self.stats.link_only_frames += 1;
            if header.data_len() > 0 {
                let err = LinkError::FrameTooLong {
                    function,
                    length: header.length,
                };
                cx.raise(err.anomaly(), format_args!("{err}"), Some(dir));
            }
            return;
        }
        let n = match link::extract_data(header, frame, &mut self.scratch) {
            Ok(n) => n,
            Err(err) => {
                cx.raise(err.anomaly(), format_args!("{err}"), Some(dir));
                return;
            }
        };
        let segment = self.scratch.get(..n).unwrap_or(&[]);
        let mut report =
            |err: TransportError| cx.raise(err.anomaly(), format_args!("{err}"), Some(dir));
        let fragment = self.transport.push(
            dir.index(),
            header.source,
            header.destination,
            segment,
            &mut report,
        );
        if let Some(fragment) = fragment {
            self.stats.fragments += 1;
            on_fragment(&mut self.pairing, &self.config, dir, header, fragment, cx);
        }
    }
}

fn on_fragment(
    pairing: &mut Pairing,
    config: &Dnp3Config,
    dir: Direction,
    link: &link::Header,
    fragment: &[u8],
    cx: &mut Context<'_>,
) {
    let msg = match Message::decode(cx.ts, link, fragment, config.objects) {
        Ok(msg) => msg,
        Err(err) => {
            cx.raise(err.anomaly(), format_args!("{err}"), Some(dir));
            return;
        }
    };
    let function = msg.function();
    if function.is_reserved() {
        let raw = function.raw();
        cx.raise(
            Dnp3Anomaly::ReservedFunctionCode,
            format_args!("application function code {raw} ({raw:#04x}) is reserved"),
            Some(dir),
        );
    }
    if link.is_broadcast() {
        let dst = link.destination;
        cx.raise(
            Dnp3Anomaly::BroadcastDestination,
            format_args!("fragment to broadcast address {dst:#06x} ({function})"),
            Some(dir),
        );
    }
    if let Some(err) = &msg.error {
        cx.raise(err.anomaly(), format_args!("{err}"), Some(dir));
    }
    if function.is_response() {
        on_response(pairing, config, dir, msg, cx);
    } else {
        on_request(pairing, config, dir, link, msg, cx);
    }
}

/// Group and variation of the first object header of a message, read from
/// the raw fragment (so that it is known even when the object is malformed).
fn first_object(msg: &Message<'_>) -> Option<(u8, u8)> {
    let objects = msg.fragment.get(msg.header.len()..)?;
    Some((*objects.first()?, *objects.get(1)?))
}

/// Secure Authentication challenge (g120v1).
const AUTH_CHALLENGE: (u8, u8) = (120, 1);
/// Secure Authentication reply (g120v2).
const AUTH_REPLY: (u8, u8) = (120, 2);

fn on_response(
    pairing: &mut Pairing,
    config: &Dnp3Config,
    dir: Direction,
    msg: Message<'_>,
    cx: &mut Context<'_>,
) {
    let function = msg.function();
    let seq = msg.control().seq();
    let (master, outstation) = (msg.destination, msg.source);
    let alone = Transaction {
        master,
        outstation,
        request: None,
        response: Some(msg),
    };
    if function == FunctionCode::UnsolicitedResponse {
        cx.emit(AppEvent::Dnp3(&alone));
        return;
    }
    let continuation = pairing
        .continuations
        .iter()
        .position(|&(m, o, _)| m == master && o == outstation);
    if !msg.control().fir() {
        match continuation {
            Some(i) if pairing.continuations[i].2 == seq => {
                if msg.control().fin() {
                    pairing.continuations.swap_remove(i);
                } else {
                    pairing.continuations[i].2 = (seq + 1) & 0x0f;
                }
            }
            _ => {
                cx.raise(
                    Dnp3Anomaly::ResponseWithoutRequest,
                    format_args!(
                        "response fragment {seq} from {outstation} to {master} continues no response"
                    ),
                    Some(dir),
                );
            }
        }
        cx.emit(AppEvent::Dnp3(&alone));
        return;
    }
    if let Some(i) = continuation {
        pairing.continuations.swap_remove(i);
    }
    if !msg.control().fin() && pairing.continuations.len() < config.max_outstanding.max(1) {
        pairing
            .continuations
            .push((master, outstation, (seq + 1) & 0x0f));
    }
    // The oldest request of this master and outstation with the same
    // sequence number: outstations answer in order, also when a master sends
    // several requests before the first answer.
    let same_seq = pairing
        .pending
        .iter()
        .position(|p| p.is_pair(master, outstation) && p.seq == seq);
    if function == FunctionCode::AuthenticationResponse
        && first_object(&msg) == Some(AUTH_CHALLENGE)
    {
        // A challenge of a critical request (IEEE 1815-2012 clause 7): the
        // request stays pending for the response that follows the master's
        // authentication reply. A challenge of the master's own
        // authentication request pairs normally.
        let is_auth = |p: &Pending| p.function() == Some(FunctionCode::AuthenticationRequest);
        let challenged = match same_seq {
            Some(i) => (!is_auth(&pairing.pending[i])).then_some(i),
            // An outstation that does not echo the sequence number
            // challenges the master's latest request.
            None => pairing
                .pending
                .iter()
                .rposition(|p| p.is_pair(master, outstation) && !is_auth(p)),
        };
        if let Some(i) = challenged {
            pairing.pending[i].challenged = true;
            cx.emit(AppEvent::Dnp3(&alone));
            return;
        }
    }
    // Else the request whose challenge was answered (the response may carry
    // the sequence number of the authentication reply).
    let found = same_seq.or_else(|| {
        pairing
            .pending
            .iter()
            .position(|p| p.is_pair(master, outstation) && p.challenged)
    });
    let Some(i) = found else {
        cx.raise(
            Dnp3Anomaly::ResponseWithoutRequest,
            format_args!(
                "{function} sequence {seq} from {outstation} to {master} without a request"
            ),
            Some(dir),
        );
        cx.emit(AppEvent::Dnp3(&alone));
        return;
    };
    // Requests of this pair sent before the one answered will not be
    // answered any more: they are given up, oldest first.
    let mut k = 0;
    let mut i = i;
    while k < i {
        if pairing.pending[k].is_pair(master, outstation) {
            let old = pairing.pending.remove(k);
            emit_alone(&old, config, cx);
            pairing.recycle(old.buf);
            i -= 1;
        } else {
            k += 1;
        }
    }
    let pending = pairing.pending.remove(i);
    if let Ok(request) = Message::decode(pending.ts, &pending.link, &pending.buf, config.objects) {
        let tx = Transaction {
            master,
            outstation,
            request: Some(request),
            response: Some(msg),
        };
        cx.emit(AppEvent::Dnp3(&tx));
    }
    pairing.recycle(pending.buf);
}

fn on_request(
    pairing: &mut Pairing,
    config: &Dnp3Config,
    dir: Direction,
    link: &link::Header,
    msg: Message<'_>,
    cx: &mut Context<'_>,
) {
    let function = msg.function();
    let (master, outstation) = (msg.source, msg.destination);
    // Emitted at once: requests that get no response (confirms, `_no_ack`,
    // reserved codes, broadcasts) and authentication replies (the response
    // that follows answers the challenged request, which is pending).
    let answered_elsewhere =
        function == FunctionCode::AuthenticationRequest && first_object(&msg) == Some(AUTH_REPLY);
    if function.expects_no_response()
        || function.is_reserved()
        || link.is_broadcast()
        || answered_elsewhere
    {
        let tx = Transaction {
            master,
            outstation,
            request: Some(msg),
            response: None,
        };
        cx.emit(AppEvent::Dnp3(&tx));
        return;
    }
    if pairing.pending.len() >= config.max_outstanding.max(1) {
        let limit = config.max_outstanding;
        cx.raise(
            Dnp3Anomaly::TooManyOutstandingRequests,
            format_args!("more than {limit} requests without a response; the oldest is given up"),
            Some(dir),
        );
        let old = pairing.pending.remove(0);
        emit_alone(&old, config, cx);
        pairing.recycle(old.buf);
    }
    let mut buf = pairing.spare.pop().unwrap_or_default();
    buf.extend_from_slice(msg.fragment);
    pairing.pending.push(Pending {
        master,
        outstation,
        seq: msg.control().seq(),
        ts: cx.ts,
        link: *link,
        buf,
        challenged: false,
    });
}

impl Pairing {
    fn recycle(&mut self, mut buf: Vec<u8>) {
        buf.clear();
        if self.spare.len() < 4 {
            self.spare.push(buf);
        }
    }

    /// Gives up the requests that waited longer than `timeout_ms` of packet
    /// time before `now`, emitting them alone, oldest first.
    fn expire(&mut self, now: Timestamp, config: &Dnp3Config, cx: &mut Context<'_>) {
        let timeout = config.response_timeout_ms;
        if timeout == 0 || self.pending.is_empty() {
            return;
        }
        let mut k = 0;
        while k < self.pending.len() {
            if millis_between(self.pending[k].ts, now) > timeout {
                let old = self.pending.remove(k);
                emit_alone(&old, config, cx);
                self.recycle(old.buf);
            } else {
                k += 1;
            }
        }
    }
}

/// Milliseconds from `earlier` to `later` (0 when `later` is earlier).
fn millis_between(earlier: Timestamp, later: Timestamp) -> u64 {
    let ms = |t: Timestamp| i128::from(t.secs) * 1000 + i128::from(t.nanos / 1_000_000);
    u64::try_from(ms(later) - ms(earlier)).unwrap_or(0)
}

fn emit_alone(pending: &Pending, config: &Dnp3Config, cx: &mut Context<'_>) {
    let Ok(request) = Message::decode(pending.ts, &pending.link, &pending.buf, config.objects)
    else {
        return;
    };
    let tx = Transaction {
        master: pending.master,
        outstation: pending.outstation,
        request: Some(request),
        response: None,
    };
    let saved = cx.ts;
    cx.ts = pending.ts;
    cx.emit(AppEvent::Dnp3(&tx));
    cx.ts = saved;
}

impl StreamDissector for Dnp3Dissector {
    fn parse(&mut self, dir: Direction, data: &[u8], cx: &mut Context<'_>) -> usize {
        self.pairing.expire(cx.ts, &self.config, cx);
        self.scan(dir, data, false, cx)
    }

    fn gap(&mut self, dir: Direction, cx: &mut Context<'_>) {
        self.pairing.expire(cx.ts, &self.config, cx);
        self.frame[dir.index()] = FrameState {
            in_garbage: true,
            quiet: true,
        };
        self.transport.reset_lane(dir.index());
    }

    fn flush(&mut self, cx: &mut Context<'_>) {
        for pending in core::mem::take(&mut self.pairing.pending) {
            emit_alone(&pending, &self.config, cx);
        }
    }
}

impl DatagramDissector for Dnp3Dissector {
    fn parse_datagram(&mut self, dir: Direction, data: &[u8], cx: &mut Context<'_>) {
        self.pairing.expire(cx.ts, &self.config, cx);
        self.frame[dir.index()].in_garbage = false;
        self.scan(dir, data, true, cx);
    }

    fn flush(&mut self, cx: &mut Context<'_>) {
        StreamDissector::flush(self, cx);
    }
}

#[cfg(test)]
mod tests;
