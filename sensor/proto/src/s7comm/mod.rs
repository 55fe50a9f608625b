//! Siemens S7 over ISO-on-TCP: TPKT framing, COTP connection and data
//! TPDUs, S7comm jobs and acks paired by PDU reference, userdata functions
//! (SZL, block lists, clock, password, alarms), and S7comm-plus requests and
//! responses paired by sequence number.
//!
//! * [`tpkt`]: RFC 1006 framing, resynchronisation and the port probe.
//! * [`cotp`]: ISO 8073 TPDUs, connection parameters and S7 TSAPs.
//! * [`s7`]: S7comm header, parameter and data parts of every function.
//! * [`szl`]: system status list answers that identify a device or report
//!   its operating mode.
//! * [`plus`]: S7comm-plus framing and data header.
//! * [`codes`]: the code points as open enums.
//! * [`anomaly`]: the names of the anomalies it raises.
//!
//! [`S7Dissector`] is one flow's state. COTP data segments are reassembled
//! into whole S7 PDUs (bounded by [`S7Config::max_pdu`]). A job, or a
//! userdata request, waits in a bounded table keyed by direction and PDU
//! reference; the ack (or userdata response) with the same reference coming
//! the other way completes the [`Transaction`], emitted as one
//! [`AppEvent::S7comm`]. Jobs usually go to
//! the PLC, but during a download the PLC sends the *download block* jobs,
//! so pairing does not assume a direction. Acks without a job, userdata
//! pushes and PDUs of unknown type are emitted alone; a job never answered is
//! emitted alone when its reference is reused, when the table overflows, or
//! when the flow ends.
//!
//! A Read SZL answer too long for one PDU comes in fragments, each fetched
//! by a follow-up request; the fragments are put together (bounded by
//! [`S7Config::max_szl`]) and the transaction of the last one carries the
//! whole answer ([`Transaction::szl_whole`]), so its records and the
//! identity they reveal are decoded.
//!
//! An S7comm-plus request waits in the same table, keyed by direction and
//! sequence number, for the response with that number; it is reported alone
//! when none comes within [`S7Config::plus_timeout_secs`] of capture time.
//! Notifications, keep-alives and later fragments of a message stand alone.
//!
//! [`eve`] renders a transaction as the body of its EVE object
//! ([`Transaction::write_eve`]), and documents the fields.

pub mod anomaly;
pub mod codes;
pub mod cotp;
pub mod eve;
pub mod plus;
pub mod protocol;
pub mod s7;
pub mod szl;
pub mod tpkt;

pub use anomaly::S7Anomaly;
pub use codes::{
    Area, BlockType, ErrorClass, ErrorCode, Function, PlusFunction, PlusOpcode, PlusVersion,
    Rosctr, UserdataGroup, UserdataType,
};
pub use cotp::Tsap;
pub use protocol::{Dissector, SPEC};
pub use s7::{Body, BodyError, Detail, Pdu, Userdata};
pub use szl::Identity;
pub use tpkt::probe;

use crate::event::{AppEvent, Context, Direction, StreamDissector, Timestamp};

/// The well-known ISO-on-TCP port.
pub const PORT: u16 = 102;

/// The layer name of S7 anomalies.
const NAME: &str = "s7comm";

/// Limits of one flow's S7 state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct S7Config {
    /// Jobs awaiting an ack before the oldest is given up.
    pub max_outstanding: usize,
    /// Largest reassembled S7 / S7comm-plus PDU (sum of COTP DT segments).
    pub max_pdu: usize,
    /// Largest multi-part Read SZL answer put together from its fragments.
    pub max_szl: usize,
    /// Seconds (of capture time) an S7comm-plus request waits for its
    /// response before it is reported alone: some requests (HMI
    /// SetVariable with transport flags 0x74 on S7-1500) are never
    /// answered, and a write must not wait for the end of the flow.
    pub plus_timeout_secs: u64,
}

impl Default for S7Config {
    fn default() -> Self {
        S7Config {
            max_outstanding: 32,
            max_pdu: 65_536,
            max_szl: 16_384,
            plus_timeout_secs: 5,
        }
    }
}

/// The COTP connection as seen on the wire (empty when the flow was picked
/// up after its connection request).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Connection {
    /// A CR (or CC) was seen.
    pub seen: bool,
    /// A CC was seen.
    pub confirmed: bool,
    /// Calling (client) TSAP.
    pub calling_tsap: Tsap,
    /// Called (PLC) TSAP.
    pub called_tsap: Tsap,
    /// TPDU size in bytes.
    pub tpdu_size: Option<u32>,
    /// Protocol class of the CR.
    pub class: u8,
    /// PDU size negotiated by setup communication.
    pub pdu_size: Option<u16>,
    /// Whether the fields above changed since the last transaction of the
    /// flow: only such a transaction carries the `cotp` EVE object (the
    /// others refer to it by `flow_id`), which keeps an event per job of a
    /// long-lived connection from repeating the same block.
    pub fresh: bool,
}

impl Connection {
    /// Rack and slot of the PLC, from the called TSAP.
    pub fn rack_slot(&self) -> Option<(u8, u8)> {
        self.called_tsap.rack_slot()
    }

    /// Connection type (PG, OP, basic), from the called TSAP.
    pub fn connection_type(&self) -> Option<codes::ConnectionType> {
        self.called_tsap.connection_type()
    }
}

/// One S7comm PDU of a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Message<'a> {
    /// Time of the packet that completed the PDU.
    pub ts: Timestamp,
    /// Direction it travelled.
    pub direction: Direction,
    /// The PDU.
    pub pdu: Pdu<'a>,
}

/// One S7comm-plus PDU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlusMessage<'a> {
    /// Time of the packet that completed the PDU.
    pub ts: Timestamp,
    /// Direction it travelled.
    pub direction: Direction,
    /// The PDU.
    pub pdu: plus::Pdu<'a>,
}

/// A job and its ack (or either alone), or one S7comm-plus PDU.
///
/// `request` holds jobs, userdata requests, pushes and PDUs of unknown type;
/// `response` holds acks, ack_data and userdata responses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transaction<'a> {
    /// The COTP connection of the flow.
    pub connection: &'a Connection,
    /// The job / request, when seen.
    pub request: Option<Message<'a>>,
    /// The ack / response, when seen.
    pub response: Option<Message<'a>>,
    /// A multi-part Read SZL answer put together from all its fragments,
    /// on the transaction of the last fragment.
    pub szl_whole: Option<szl::SzlResponse<'a>>,
    /// An S7comm-plus PDU: a request, or a PDU seen alone (then `request`
    /// and `response` are `None`).
    pub plus: Option<PlusMessage<'a>>,
    /// The S7comm-plus response paired with the request in `plus` by
    /// sequence number.
    pub plus_response: Option<PlusMessage<'a>>,
}

impl<'a> Transaction<'a> {
    fn s7(
        connection: &'a Connection,
        request: Option<Message<'a>>,
        response: Option<Message<'a>>,
    ) -> Transaction<'a> {
        Transaction {
            connection,
            request,
            response,
            szl_whole: None,
            plus: None,
            plus_response: None,
        }
    }

    fn messages(&self) -> impl Iterator<Item = &Message<'a>> {
        self.request.iter().chain(self.response.iter())
    }

    fn bodies(&self) -> impl Iterator<Item = Body<'a>> + '_ {
        self.messages().filter_map(|m| m.pdu.body.ok())
    }

    fn userdatas(&self) -> impl Iterator<Item = Userdata<'a>> + '_ {
        self.bodies().filter_map(|b| match b {
            Body::Userdata(u) => Some(u),
            _ => None,
        })
    }

    /// PDU type of the first message.
    pub fn rosctr(&self) -> Option<Rosctr> {
        self.messages().next().map(|m| m.pdu.header.rosctr)
    }

    /// PDU reference.
    pub fn pdu_ref(&self) -> Option<u16> {
        self.messages().next().map(|m| m.pdu.header.pdu_ref)
    }

    /// Job function (request first, else the ack's).
    pub fn function(&self) -> Option<Function> {
        self.messages().find_map(|m| m.pdu.function())
    }

    /// Job function code and name (`None` name when unknown).
    pub fn function_code(&self) -> Option<(u8, Option<&'static str>)> {
        self.function().map(|f| (f.raw(), f.name()))
    }

    /// Userdata group and subfunction.
    pub fn userdata_function(&self) -> Option<(UserdataGroup, u8)> {
        self.userdatas().next().map(|u| (u.group, u.subfunction))
    }

    /// Name of the userdata subfunction within its group.
    pub fn userdata_subfunction_name(&self) -> Option<&'static str> {
        self.userdata_function()
            .and_then(|(g, s)| codes::subfunction_name(g, s))
    }

    /// PI service name of a PLC control or PLC stop job (`P_PROGRAM`, …).
    pub fn pi_service(&self) -> Option<&'a [u8]> {
        self.bodies().find_map(|b| match b {
            Body::PlcControl(pi) => Some(pi.service),
            Body::PlcStop { service } => Some(service),
            _ => None,
        })
    }

    /// The PI service of a PLC control job, decoded.
    pub fn pi(&self) -> Option<s7::PiService<'a>> {
        self.bodies().find_map(|b| match b {
            Body::PlcControl(pi) => Some(pi),
            _ => None,
        })
    }

    /// SZL id and index of a Read SZL request or answer (also of the
    /// follow-up that completes a multi-part answer).
    pub fn szl(&self) -> Option<(u16, u16)> {
        if let Some(r) = &self.szl_whole {
            return Some((r.id, r.index));
        }
        self.userdatas().find_map(|u| match u.detail {
            Detail::SzlRequest { id, index } => Some((id, index)),
            Detail::SzlResponse(r) => Some((r.id, r.index)),
            _ => None,
        })
    }

    /// The Read SZL answer: the whole of a multi-part answer on its last
    /// fragment, else the answer (or first fragment) in this transaction.
    pub fn szl_response(&self) -> Option<szl::SzlResponse<'a>> {
        self.szl_whole.or_else(|| {
            self.userdatas().find_map(|u| match u.detail {
                Detail::SzlResponse(r) => Some(r),
                _ => None,
            })
        })
    }

    /// The CPU operating mode an SZL xy24 answer reports (RUN, STOP, …).
    pub fn operating_mode(&self) -> Option<szl::CpuMode> {
        self.szl_response()?.modes().next().map(|m| m.mode)
    }

    /// S7ANY items of a read or write var job.
    pub fn var_items(&self) -> impl Iterator<Item = s7::AnyItem> + '_ {
        self.bodies()
            .filter_map(|b| match b {
                Body::ReadVarRequest(items) | Body::WriteVarRequest { items, .. } => Some(items),
                _ => None,
            })
            .flat_map(|items| items.iter())
            .filter_map(|item| match item {
                s7::VarItem::Any(any) => Some(any),
                s7::VarItem::Other { .. } => None,
            })
    }

    /// Areas of the read or write var items.
    pub fn areas(&self) -> impl Iterator<Item = Area> + '_ {
        self.var_items().map(|i| i.area)
    }

    /// DB numbers of the read or write var items in data blocks.
    pub fn db_numbers(&self) -> impl Iterator<Item = u16> + '_ {
        self.var_items()
            .filter(|i| matches!(i.area, Area::DataBlock | Area::InstanceDataBlock))
            .map(|i| i.db_number)
    }

    /// The block a download, upload, PLC control (`_INSE`, `_DELE`), block
    /// info or list blocks of type message names.
    pub fn block(&self) -> Option<s7::BlockId> {
        self.bodies().find_map(|b| match b {
            Body::BlockControl(bc) => bc.block(),
            Body::PlcControl(pi) => pi.blocks().next(),
            Body::Userdata(u) => match u.detail {
                Detail::BlockInfoRequest(id) => Some(id),
                Detail::BlockInfoResponse(info) => Some(s7::BlockId {
                    block_type: info.block_type,
                    number: Some(u32::from(info.number)),
                    file_system: 0,
                }),
                Detail::ListBlocksOfTypeRequest(block_type) => Some(s7::BlockId {
                    block_type,
                    number: None,
                    file_system: 0,
                }),
                _ => None,
            },
            _ => None,
        })
    }

    /// Error class and code of the ack, when it reports an error.
    pub fn error(&self) -> Option<(ErrorClass, u8)> {
        let h = self.response.as_ref()?.pdu.header;
        if !h.has_error() {
            return None;
        }
        Some((h.error_class?, h.error_code?))
    }

    /// Error code in a userdata response parameter, when not 0.
    pub fn userdata_error(&self) -> Option<u16> {
        self.userdatas()
            .find_map(|u| u.error_code.filter(|&c| c != 0))
    }

    /// What an SZL answer in this transaction reveals about the device
    /// (for a multi-part answer: all its records, on the last fragment).
    pub fn identity(&self) -> Identity<'a> {
        self.szl_response()
            .map(|r| Identity::from_szl(&r))
            .unwrap_or_default()
    }

    /// The S7comm-plus data header, when this is an understood S7comm-plus PDU.
    pub fn plus_header(&self) -> Option<plus::DataHeader> {
        self.plus
            .as_ref()
            .and_then(|p| p.pdu.data_header().copied())
    }

    /// The S7comm-plus PDUs of this transaction (request, then response).
    pub fn plus_messages(&self) -> impl Iterator<Item = &PlusMessage<'a>> {
        self.plus.iter().chain(self.plus_response.iter())
    }
}

/// A job waiting for its ack; the PDU bytes live in a buffer reused from
/// [`S7Dissector::spare`], so waiting allocates nothing once warmed up.
struct Pending {
    kind: Kind,
    direction: Direction,
    /// PDU reference (S7comm) or sequence number (S7comm-plus).
    key: u16,
    ts: Timestamp,
    bytes: Vec<u8>,
}

/// A multi-part Read SZL answer being put together.
#[derive(Debug, Default)]
struct SzlStitch {
    /// A first fragment announced more.
    active: bool,
    /// The SZL header and records so far (at most [`S7Config::max_szl`]).
    buf: Vec<u8>,
}

/// Per-direction framing and reassembly state.
#[derive(Debug, Default)]
struct DirState {
    /// Looking for a plausible TPKT after garbage or a gap.
    resync: bool,
    /// A valid TPKT has been seen in this direction.
    framed: bool,
    /// COTP DT segments of the TSDU being reassembled.
    reasm: Vec<u8>,
    /// Dropping the rest of an oversized or broken TSDU up to its EOT.
    discard: bool,
    /// The last S7comm-plus PDU had no trailer: the next one continues it.
    plus_continues: bool,
}

/// S7 / S7comm-plus state of one flow.
pub struct S7Dissector {
    config: S7Config,
    conn: Connection,
    dirs: [DirState; 2],
    pending: Vec<Pending>,
    spare: Vec<Vec<u8>>,
    szl: SzlStitch,
    setup_seen: bool,
    before_setup_reported: bool,
}

impl Default for S7Dissector {
    fn default() -> Self {
        S7Dissector::new(S7Config::default())
    }
}

impl S7Dissector {
    /// A dissector with the given limits.
    pub fn new(config: S7Config) -> S7Dissector {
        S7Dissector {
            config,
            conn: Connection::default(),
            dirs: [DirState::default(), DirState::default()],
            pending: Vec::new(),
            spare: Vec::new(),
            szl: SzlStitch::default(),
            setup_seen: false,
            before_setup_reported: false,
        }
    }

    /// Jobs (and S7comm-plus requests) currently waiting for an answer.
    pub fn outstanding(&self) -> usize {
        self.pending.len()
    }

    /// The COTP connection seen so far.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    fn on_tpkt(&mut self, dir: Direction, tpdu: &[u8], cx: &mut Context<'_>) {
        match cotp::Tpdu::parse(tpdu) {
            Err(err) => cx.raise(err.anomaly(), format_args!("{err}"), Some(dir)),
            Ok(cotp::Tpdu::Connect(c)) => self.on_connect(dir, &c, cx),
            Ok(cotp::Tpdu::Disconnect(_)) => {}
            Ok(cotp::Tpdu::Data { eot, payload, .. }) => self.on_data(dir, eot, payload, cx),
            Ok(cotp::Tpdu::Other { code, .. }) => {
                cx.raise(
                    S7Anomaly::CotpBadClass,
                    format_args!("ISO-on-TCP (class 0) does not use COTP TPDU {code}"),
                    Some(dir),
                );
            }
            Ok(cotp::Tpdu::Error { cause, .. }) => {
                cx.raise(
                    S7Anomaly::CotpErrorTpdu,
                    format_args!("COTP error TPDU, reject cause {cause:#04x}"),
                    Some(dir),
                );
            }
        }
    }

    fn on_connect(&mut self, dir: Direction, c: &cotp::Connect<'_>, cx: &mut Context<'_>) {
        if c.class != 0 {
            cx.raise(
                S7Anomaly::CotpBadClass,
                format_args!("COTP connection in class {}", c.class),
                Some(dir),
            );
        }
        let tsaps = (
            c.calling_tsap().map(Tsap::new),
            c.called_tsap().map(Tsap::new),
        );
        if c.code == codes::TpduCode::Cr {
            self.conn = Connection {
                seen: true,
                class: c.class,
                ..Connection::default()
            };
            self.setup_seen = false;
            self.before_setup_reported = false;
        } else {
            self.conn.seen = true;
            self.conn.confirmed = true;
        }
        if let Some(t) = tsaps.0 {
            self.conn.calling_tsap = t;
        }
        if let Some(t) = tsaps.1 {
            self.conn.called_tsap = t;
        }
        if let Some(size) = c.tpdu_size() {
            self.conn.tpdu_size = Some(size);
        }
        self.conn.fresh = true;
    }

    fn on_data(&mut self, dir: Direction, eot: bool, payload: &[u8], cx: &mut Context<'_>) {
        let state = &mut self.dirs[dir.index()];
        if state.discard {
            state.discard = !eot;
            return;
        }
        if eot && state.reasm.is_empty() {
            self.on_tsdu(dir, payload, cx);
            return;
        }
        if state.reasm.len() + payload.len() > self.config.max_pdu {
            let total = state.reasm.len() + payload.len();
            state.reasm.clear();
            state.discard = !eot;
            cx.raise(
                S7Anomaly::CotpReassemblyOverflow,
                format_args!(
                    "segmented COTP data of {total} bytes exceeds the limit of {}; dropped",
                    self.config.max_pdu
                ),
                Some(dir),
            );
            return;
        }
        state.reasm.extend_from_slice(payload);
        if eot {
            let mut tsdu = core::mem::take(&mut state.reasm);
            self.on_tsdu(dir, &tsdu, cx);
            tsdu.clear();
            self.dirs[dir.index()].reasm = tsdu;
        }
    }

    fn on_tsdu(&mut self, dir: Direction, tsdu: &[u8], cx: &mut Context<'_>) {
        match tsdu.first() {
            None => {}
            Some(&s7::PROTOCOL_ID) => self.on_s7(dir, tsdu, cx),
            Some(&plus::PROTOCOL_ID) => self.on_plus(dir, tsdu, cx),
            Some(&other) => {
                cx.raise(
                    S7Anomaly::NonS7Traffic,
                    format_args!(
                        "COTP data is neither S7comm nor S7comm-plus; protocol id {other:#04x}"
                    ),
                    Some(dir),
                );
            }
        }
    }

    fn on_s7(&mut self, dir: Direction, bytes: &[u8], cx: &mut Context<'_>) {
        let pdu = match Pdu::parse(bytes, false) {
            Ok(pdu) => pdu,
            Err(err) => {
                cx.raise(err.anomaly(), format_args!("{err}"), Some(dir));
                return;
            }
        };
        if let Err(err) = &pdu.body {
            cx.raise(err.anomaly(), format_args!("{err}"), Some(dir));
        }
        let header = pdu.header;
        if !header.rosctr.is_known() {
            cx.raise(
                S7Anomaly::S7UnknownRosctr,
                format_args!("unknown S7 PDU type (ROSCTR) {}", header.rosctr),
                Some(dir),
            );
        }
        if pdu.function() == Some(Function::SetupCommunication) {
            self.setup_seen = true;
            if let Ok(Body::SetupCommunication(s)) = pdu.body {
                if header.rosctr == Rosctr::AckData && self.conn.pdu_size != Some(s.pdu_size) {
                    self.conn.pdu_size = Some(s.pdu_size);
                    self.conn.fresh = true;
                }
            }
        } else if self.conn.seen && !self.setup_seen && !self.before_setup_reported {
            self.before_setup_reported = true;
            cx.raise(
                S7Anomaly::S7BeforeSetup,
                format_args!("S7 PDU before setup communication: {}", header.rosctr),
                Some(dir),
            );
        }
        let userdata_kind = (header.rosctr == Rosctr::Userdata)
            .then(|| UserdataType::from(pdu.param.get(5).copied().unwrap_or(0) >> 6));
        match (header.rosctr, userdata_kind) {
            (Rosctr::Job, _) | (_, Some(UserdataType::Request)) => {
                self.store(Kind::S7, dir, header.pdu_ref, bytes, cx);
            }
            (Rosctr::Ack | Rosctr::AckData, _) | (_, Some(UserdataType::Response)) => {
                self.answer(dir, pdu, bytes, cx);
            }
            _ => {
                let message = Message {
                    ts: cx.ts,
                    direction: dir,
                    pdu,
                };
                let tx = Transaction::s7(&self.conn, Some(message), None);
                cx.emit(AppEvent::S7comm(&tx));
                self.conn.fresh = false;
            }
        }
    }

    /// Keeps a job (or S7comm-plus request) until its answer comes.
    fn store(&mut self, kind: Kind, dir: Direction, key: u16, bytes: &[u8], cx: &mut Context<'_>) {
        if let Some(i) = self
            .pending
            .iter()
            .position(|p| p.kind == kind && p.direction == dir && p.key == key)
        {
            let old = self.pending.remove(i);
            self.emit_alone(old, cx);
        }
        if self.pending.len() >= self.config.max_outstanding && !self.pending.is_empty() {
            cx.raise(
                S7Anomaly::TooManyOutstandingJobs,
                format_args!("{}{}", kind.unanswered(), self.config.max_outstanding),
                Some(dir),
            );
            let old = self.pending.remove(0);
            self.emit_alone(old, cx);
        }
        let mut buf = self.spare.pop().unwrap_or_default();
        buf.clear();
        buf.extend_from_slice(bytes);
        self.pending.push(Pending {
            kind,
            direction: dir,
            key,
            ts: cx.ts,
            bytes: buf,
        });
    }

    /// The waiting job (or request) of `kind` that `key` answers from `dir`.
    fn take_pending(&mut self, kind: Kind, dir: Direction, key: u16) -> Option<Pending> {
        let i = self
            .pending
            .iter()
            .position(|p| p.kind == kind && p.direction == dir.reverse() && p.key == key)?;
        Some(self.pending.remove(i))
    }

    /// Pairs an ack (or userdata response), already parsed as `pdu` from
    /// `bytes`, with its job.
    fn answer(&mut self, dir: Direction, pdu: Pdu<'_>, bytes: &[u8], cx: &mut Context<'_>) {
        let pdu_ref = pdu.header.pdu_ref;
        let Some(job) = self.take_pending(Kind::S7, dir, pdu_ref) else {
            cx.raise(
                S7Anomaly::AckWithoutJob,
                format_args!("ack without a job, PDU reference {pdu_ref}"),
                Some(dir),
            );
            let message = Message {
                ts: cx.ts,
                direction: dir,
                pdu,
            };
            let tx = Transaction::s7(&self.conn, None, Some(message));
            cx.emit(AppEvent::S7comm(&tx));
            self.conn.fresh = false;
            return;
        };
        if let Ok(request) = Pdu::parse(&job.bytes, false) {
            // The answer to a follow-up request is a later fragment of a
            // multi-part answer: its data has no sub-header.
            let continuation = request
                .userdata()
                .is_some_and(|u| u.detail == Detail::Continuation);
            let response = if continuation {
                Pdu::parse(bytes, true)
            } else {
                Ok(pdu)
            };
            if let Ok(response) = response {
                let whole = response
                    .userdata()
                    .is_some_and(|u| self.stitch_szl(dir, u, cx));
                let mut tx = Transaction::s7(
                    &self.conn,
                    Some(Message {
                        ts: job.ts,
                        direction: job.direction,
                        pdu: request,
                    }),
                    Some(Message {
                        ts: cx.ts,
                        direction: dir,
                        pdu: response,
                    }),
                );
                if whole {
                    tx.szl_whole = szl::SzlResponse::parse(&self.szl.buf);
                }
                cx.emit(AppEvent::S7comm(&tx));
                self.conn.fresh = false;
                if whole {
                    self.szl.buf.clear();
                }
            }
        }
        self.spare.push(job.bytes);
    }

    /// Follows a multi-part Read SZL answer: the first fragment opens it,
    /// each answer to a follow-up request adds its bytes. True when `u`
    /// completes it (the whole answer is then in `self.szl.buf`).
    fn stitch_szl(&mut self, dir: Direction, u: &Userdata<'_>, cx: &mut Context<'_>) -> bool {
        let read_szl = u.group == UserdataGroup::CpuFunctions
            && codes::CpuSubfunction::from(u.subfunction) == codes::CpuSubfunction::ReadSzl;
        if !read_szl || u.kind != UserdataType::Response {
            return false;
        }
        let more = u.last_data_unit == Some(false);
        let state = &mut self.szl;
        match u.detail {
            Detail::Continuation if state.active => {
                let total = state.buf.len() + u.payload.len();
                if total > self.config.max_szl {
                    state.active = false;
                    state.buf.clear();
                    cx.raise(
                        S7Anomaly::SzlReassemblyOverflow,
                        format_args!(
                            "multi-part SZL answer of {total} bytes exceeds the limit of {}; dropped",
                            self.config.max_szl
                        ),
                        Some(dir),
                    );
                    return false;
                }
                state.buf.extend_from_slice(u.payload);
                state.active = more;
                !more
            }
            Detail::Continuation => false,
            _ => {
                // A new answer: only a first fragment that announces more
                // opens a multi-part answer (its payload is within one PDU).
                state.buf.clear();
                state.active = more && matches!(u.detail, Detail::SzlResponse(_));
                if state.active {
                    state.buf.extend_from_slice(u.payload);
                }
                false
            }
        }
    }

    fn emit_alone(&mut self, job: Pending, cx: &mut Context<'_>) {
        let tx = match job.kind {
            Kind::S7 => Pdu::parse(&job.bytes, false).ok().map(|pdu| {
                let message = Message {
                    ts: job.ts,
                    direction: job.direction,
                    pdu,
                };
                Transaction::s7(&self.conn, Some(message), None)
            }),
            Kind::Plus => plus::Pdu::parse(&job.bytes, false)
                .ok()
                .map(|pdu| Transaction {
                    plus: Some(PlusMessage {
                        ts: job.ts,
                        direction: job.direction,
                        pdu,
                    }),
                    ..Transaction::s7(&self.conn, None, None)
                }),
        };
        if let Some(tx) = tx {
            // The event time is when the job was seen.
            let saved = cx.ts;
            cx.ts = job.ts;
            cx.emit(AppEvent::S7comm(&tx));
            self.conn.fresh = false;
            cx.ts = saved;
        }
        self.spare.push(job.bytes);
    }

    /// Reports alone the S7comm-plus requests that waited longer than
    /// [`S7Config::plus_timeout_secs`].
    fn expire_plus(&mut self, cx: &mut Context<'_>) {
        let timeout = self.config.plus_timeout_secs;
        while let Some(i) = self
            .pending
            .iter()
            .position(|p| p.kind == Kind::Plus && cx.ts.secs_since(p.ts) > timeout)
        {
            let old = self.pending.remove(i);
            self.emit_alone(old, cx);
        }
    }

    fn on_plus(&mut self, dir: Direction, bytes: &[u8], cx: &mut Context<'_>) {
        self.expire_plus(cx);
        let state = &mut self.dirs[dir.index()];
        let pdu = match plus::Pdu::parse(bytes, state.plus_continues) {
            Ok(pdu) => pdu,
            Err(err) => {
                state.plus_continues = false;
                cx.raise(
                    err.anomaly().unwrap_or(S7Anomaly::S7plusBadFraming),
                    format_args!("{err}"),
                    Some(dir),
                );
                return;
            }
        };
        // Without trailer the message continues in the next PDU, unless the
        // framing itself is broken or this is a keep-alive.
        state.plus_continues = !pdu.has_trailer
            && match &pdu.message {
                Ok(m) => *m != plus::Message::KeepAlive,
                Err(e) => e.anomaly().is_none(),
            };
        if let Err(err) = &pdu.message {
            if let Some(kind) = err.anomaly() {
                cx.raise(kind, format_args!("{err}"), Some(dir));
            }
        }
        // Requests wait for the response with their sequence number; the
        // rest (notifications, keep-alives, later fragments) stands alone.
        let header = pdu.data_header().copied();
        if let Some(plus::DataHeader {
            opcode,
            sequence: Some(sequence),
            ..
        }) = header
        {
            if opcode == PlusOpcode::Request {
                self.store(Kind::Plus, dir, sequence, bytes, cx);
                return;
            }
            if let Some(request) = self.take_pending(Kind::Plus, dir, sequence) {
                if let Ok(req) = plus::Pdu::parse(&request.bytes, false) {
                    let tx = Transaction {
                        plus: Some(PlusMessage {
                            ts: request.ts,
                            direction: request.direction,
                            pdu: req,
                        }),
                        plus_response: Some(PlusMessage {
                            ts: cx.ts,
                            direction: dir,
                            pdu,
                        }),
                        ..Transaction::s7(&self.conn, None, None)
                    };
                    cx.emit(AppEvent::S7comm(&tx));
                    self.conn.fresh = false;
                }
                self.spare.push(request.bytes);
                return;
            }
        }
        let tx = Transaction {
            plus: Some(PlusMessage {
                ts: cx.ts,
                direction: dir,
                pdu,
            }),
            ..Transaction::s7(&self.conn, None, None)
        };
        cx.emit(AppEvent::S7comm(&tx));
        self.conn.fresh = false;
    }
}

/// What waits in the pending table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// An S7comm job or userdata request, keyed by PDU reference.
    S7,
    /// An S7comm-plus request, keyed by sequence number.
    Plus,
}

impl Kind {
    fn unanswered(self) -> &'static str {
        match self {
            Kind::S7 => "jobs without an ack exceed the limit of ",
            Kind::Plus => "S7comm-plus requests without a response exceed the limit of ",
        }
    }
}

impl StreamDissector for S7Dissector {
    fn parse(&mut self, dir: Direction, data: &[u8], cx: &mut Context<'_>) -> usize {
        let mut pos = 0;
        loop {
            let rest = data.get(pos..).unwrap_or(&[]);
            let Some(header) = tpkt::Header::read(rest) else {
                return pos; // need the rest of the header
            };
            let state = &mut self.dirs[dir.index()];
            if state.resync {
                match tpkt::looks_like_tpkt(rest) {
                    None => return pos,
                    Some(false) => {
                        pos += 1;
                        continue;
                    }
                    Some(true) => state.resync = false,
                }
            }
            if let Err(err) = header.validate() {
                if state.framed {
                    cx.raise(err.anomaly(), format_args!("{err}"), Some(dir));
                } else {
                    cx.raise(
                        S7Anomaly::NonS7Traffic,
                        format_args!("bytes on an ISO-on-TCP stream do not frame as TPKT: {err}"),
                        Some(dir),
                    );
                }
                let state = &mut self.dirs[dir.index()];
                state.resync = true;
                state.discard = !state.reasm.is_empty();
                state.reasm.clear();
                pos += 1;
                continue;
            }
            let len = header.frame_len();
            let Some(frame) = rest.get(tpkt::HEADER_LEN..len) else {
                return pos; // need the rest of the packet
            };
            state.framed = true;
            if let Some(size) = self.conn.tpdu_size {
                // The TPDU (COTP header and data) may not exceed the size the
                // connection request and confirm negotiated (ISO 8073
                // 13.3.4 b); the PDU is still decoded.
                let tpdu = frame.len();
                if tpdu > size as usize {
                    cx.raise(
                        S7Anomaly::TpktExceedsTpduSize,
                        format_args!(
                            "TPDU of {tpdu} bytes exceeds the negotiated TPDU size of {size} bytes"
                        ),
                        Some(dir),
                    );
                }
            }
            self.on_tpkt(dir, frame, cx);
            pos += len;
        }
    }

    fn gap(&mut self, dir: Direction, _cx: &mut Context<'_>) {
        let state = &mut self.dirs[dir.index()];
        state.resync = true;
        state.discard = !state.reasm.is_empty();
        state.reasm.clear();
        state.plus_continues = false;
        // A lost fragment would shift the records of a multi-part answer.
        self.szl.active = false;
        self.szl.buf.clear();
    }

    fn flush(&mut self, cx: &mut Context<'_>) {
        for job in core::mem::take(&mut self.pending) {
            self.emit_alone(job, cx);
        }
    }
}

#[cfg(test)]
mod tests;
