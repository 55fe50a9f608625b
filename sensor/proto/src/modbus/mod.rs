//! Modbus/TCP: MBAP framing over the reassembled stream, every public function
//! decoded, requests paired with responses.
//!
//! * [`mbap`]: the 7-byte header, its checks, and probes for other ports.
//! * [`pdu`]: function codes and the request / response bodies.
//! * [`codes`]: the code points as open enums.
//!
//! [`ModbusDissector`] is one flow's state. Requests (to the server) wait in a
//! bounded table keyed by transaction id and unit id; the response with the
//! same key completes the [`Transaction`], which is emitted as one event. A
//! request that never gets its answer is still emitted, alone, when its key is
//! reused, when the table overflows, or when the flow ends.

pub mod codes;
pub mod mbap;
pub mod pdu;
pub mod protocol;

pub use protocol::{Dissector, SPEC};
pub use codes::{
    Access, DeviceIdCode, DeviceObjectId, DiagnosticSubfunction, ExceptionCode, FunctionCode,
    MeiType, UmasCode,
};
pub use pdu::{PduError, Request, Response};

use crate::event::{AppEvent, Context, Direction, StreamDissector, Timestamp};
use crate::json::JsonWriter;

/// The well-known Modbus/TCP port.
pub const PORT: u16 = 502;

/// Limits of one flow's Modbus state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModbusConfig {
    /// Requests awaiting a response before the oldest is given up.
    pub max_outstanding: usize,
}

impl Default for ModbusConfig {
    fn default() -> Self {
        ModbusConfig {
            max_outstanding: 32,
        }
    }
}

/// One PDU of a transaction with its decoded body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Message<'a, B> {
    /// Time of the packet that completed the PDU.
    pub ts: Timestamp,
    /// Function code, exception bit removed.
    pub function: FunctionCode,
    /// The PDU bytes (function code first).
    pub pdu: &'a [u8],
    /// The decoded body, or why it does not fit its function.
    pub body: Result<B, PduError>,
}

impl<'a> Message<'a, Request<'a>> {
    fn request(ts: Timestamp, pdu: &'a [u8]) -> Self {
        Message {
            ts,
            function: FunctionCode::from(pdu.first().copied().unwrap_or(0) & 0x7f),
            pdu,
            body: pdu::decode_request(pdu),
        }
    }
}

impl<'a> Message<'a, Response<'a>> {
    fn response(ts: Timestamp, pdu: &'a [u8]) -> Self {
        Message {
            ts,
            function: FunctionCode::from(pdu.first().copied().unwrap_or(0) & 0x7f),
            pdu,
            body: pdu::decode_response(pdu),
        }
    }

    /// The exception code when this is an exception response.
    pub fn exception(&self) -> Option<ExceptionCode> {
        match self.body {
            Ok(Response::Exception(code)) => Some(code),
            _ => None,
        }
    }
}

/// A request and its response, or either alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transaction<'a> {
    /// MBAP transaction identifier.
    pub transaction_id: u16,
    /// MBAP unit identifier.
    pub unit_id: u8,
    /// The request, when seen.
    pub request: Option<Message<'a, Request<'a>>>,
    /// The response, when seen.
    pub response: Option<Message<'a, Response<'a>>>,
}

impl Transaction<'_> {
    /// The function of the transaction (request first, else response).
    pub fn function(&self) -> FunctionCode {
        self.request
            .map(|r| r.function)
            .or(self.response.map(|r| r.function))
            .unwrap_or(FunctionCode::Unknown(0))
    }

    /// Writes the body of the EVE `modbus` object.
    pub fn write_eve(&self, w: &mut JsonWriter<'_>) {
        w.field_u64("transaction_id", u64::from(self.transaction_id));
        w.field_u64("unit_id", u64::from(self.unit_id));
        if let Some(req) = &self.request {
            w.key("request").begin_object();
            write_function(w, req.function);
            match &req.body {
                Ok(body) => write_request(w, body),
                Err(err) => write_error(w, err, req.pdu),
            }
            w.end_object();
        }
        if let Some(resp) = &self.response {
            w.key("response").begin_object();
            write_function(w, resp.function);
            match &resp.body {
                Ok(body) => write_response(w, body),
                Err(err) => write_error(w, err, resp.pdu),
            }
            w.end_object();
        }
    }
}

fn write_function(w: &mut JsonWriter<'_>, function: FunctionCode) {
    w.field_enum("function_code", "function", function);
    w.field_str("access", function.access().name());
}

fn write_error(w: &mut JsonWriter<'_>, err: &PduError, pdu: &[u8]) {
    w.key("error").display(err);
    w.field_hex("raw", pdu);
}

fn write_registers(w: &mut JsonWriter<'_>, key: &str, values: &[u8]) {
    w.key(key).begin_array();
    for pair in values.chunks_exact(2) {
        w.u64(u64::from(u16::from_be_bytes([pair[0], pair[1]])));
    }
    w.end_array();
}

/// Writes packed bits (LSB first) as a string of '0'/'1', `count` long.
fn write_bits(w: &mut JsonWriter<'_>, key: &str, packed: &[u8], count: usize) {
    let mut text = [0u8; 2048];
    let count = count.min(packed.len() * 8).min(text.len());
    for (i, slot) in text.iter_mut().take(count).enumerate() {
        let byte = packed.get(i / 8).copied().unwrap_or(0);
        *slot = if byte >> (i % 8) & 1 == 1 { b'1' } else { b'0' };
    }
    w.field_bytes_str(key, &text[..count]);
}

fn write_request(w: &mut JsonWriter<'_>, body: &Request<'_>) {
    match *body {
        Request::Read { address, quantity } => {
            w.field_u64("address", u64::from(address));
            w.field_u64("quantity", u64::from(quantity));
        }
        Request::WriteSingleCoil { address, on } => {
            w.field_u64("address", u64::from(address));
            w.field_bool("value", on);
        }
        Request::WriteSingleRegister { address, value } => {
            w.field_u64("address", u64::from(address));
            w.field_u64("value", u64::from(value));
        }
        Request::NoData => {}
        Request::Diagnostics { subfunction, data } => {
            w.key("diagnostic").begin_object();
            w.field_enum("subfunction", "name", subfunction);
            w.field_hex("data", data);
            w.end_object();
        }
        Request::WriteMultipleCoils {
            address,
            quantity,
            values,
        } => {
            w.field_u64("address", u64::from(address));
            w.field_u64("quantity", u64::from(quantity));
            write_bits(w, "coils", values, usize::from(quantity));
        }
        Request::WriteMultipleRegisters {
            address,
            quantity,
            values,
        } => {
            w.field_u64("address", u64::from(address));
            w.field_u64("quantity", u64::from(quantity));
            write_registers(w, "registers", values);
        }
        Request::ReadFileRecord { subrequests } => {
            w.key("file_records").begin_array();
            for sub in subrequests.chunks_exact(7) {
                w.begin_object();
                w.field_u64("reference_type", u64::from(sub[0]));
                w.field_u64("file", u64::from(u16::from_be_bytes([sub[1], sub[2]])));
                w.field_u64("record", u64::from(u16::from_be_bytes([sub[3], sub[4]])));
                w.field_u64("length", u64::from(u16::from_be_bytes([sub[5], sub[6]])));
                w.end_object();
            }
            w.end_array();
        }
        Request::WriteFileRecord { subrequests } => {
            w.field_hex("file_records", subrequests);
        }
        Request::MaskWriteRegister {
            address,
            and_mask,
            or_mask,
        } => {
            w.field_u64("address", u64::from(address));
            w.field_u64("and_mask", u64::from(and_mask));
            w.field_u64("or_mask", u64::from(or_mask));
        }
        Request::ReadWriteMultipleRegisters {
            read_address,
            read_quantity,
            write_address,
            write_quantity,
            values,
        } => {
            w.field_u64("read_address", u64::from(read_address));
            w.field_u64("read_quantity", u64::from(read_quantity));
            w.field_u64("write_address", u64::from(write_address));
            w.field_u64("write_quantity", u64::from(write_quantity));
            write_registers(w, "registers", values);
        }
        Request::ReadFifoQueue { address } => {
            w.field_u64("address", u64::from(address));
        }
        Request::ReadDeviceIdentification { code, object_id } => {
            w.key("mei").begin_object();
            w.field_enum("type", "name", MeiType::ReadDeviceIdentification);
            w.end_object();
            w.key("read_device_id").begin_object();
            w.field_enum("code", "code_name", code);
            w.field_u64("object_id", u64::from(object_id));
            w.end_object();
        }
        Request::Encapsulated { mei, data } => {
            w.key("mei").begin_object();
            w.field_enum("type", "name", mei);
            w.field_hex("data", data);
            w.end_object();
        }
        Request::Umas {
            session,
            code,
            data,
        } => {
            w.key("umas").begin_object();
            w.field_u64("session", u64::from(session));
            w.field_enum("code", "name", code);
            w.field_hex("data", data);
            w.end_object();
        }
        Request::Raw(data) => {
            w.field_hex("data", data);
        }
    }
}

fn write_response(w: &mut JsonWriter<'_>, body: &Response<'_>) {
    match *body {
        Response::Exception(code) => {
            w.key("exception").begin_object();
            w.field_enum("code", "name", code);
            w.end_object();
        }
        Response::Bits { values } => {
            w.field_u64("byte_count", values.len() as u64);
            write_bits(w, "bits", values, values.len() * 8);
        }
        Response::Registers { values } => {
            w.field_u64("byte_count", values.len() as u64);
            write_registers(w, "registers", values);
        }
        Response::WriteSingle { address, value } => {
            w.field_u64("address", u64::from(address));
            w.field_u64("value", u64::from(value));
        }
        Response::ExceptionStatus { status } => {
            w.field_u64("status", u64::from(status));
        }
        Response::Diagnostics { subfunction, data } => {
            w.key("diagnostic").begin_object();
            w.field_enum("subfunction", "name", subfunction);
            w.field_hex("data", data);
            w.end_object();
        }
        Response::CommEventCounter {
            status,
            event_count,
        } => {
            w.field_u64("status", u64::from(status));
            w.field_u64("event_count", u64::from(event_count));
        }
        Response::CommEventLog {
            status,
            event_count,
            message_count,
            events,
        } => {
            w.field_u64("status", u64::from(status));
            w.field_u64("event_count", u64::from(event_count));
            w.field_u64("message_count", u64::from(message_count));
            w.field_hex("events", events);
        }
        Response::WriteMultiple { address, quantity } => {
            w.field_u64("address", u64::from(address));
            w.field_u64("quantity", u64::from(quantity));
        }
        Response::ServerId { data } => {
            w.field_hex("server_id", data);
            w.field_bytes_str("server_id_text", printable_prefix(data));
        }
        Response::FileRecord { data } => {
            w.field_hex("file_records", data);
        }
        Response::MaskWriteRegister {
            address,
            and_mask,
            or_mask,
        } => {
            w.field_u64("address", u64::from(address));
            w.field_u64("and_mask", u64::from(and_mask));
            w.field_u64("or_mask", u64::from(or_mask));
        }
        Response::FifoQueue { count, values } => {
            w.field_u64("fifo_count", u64::from(count));
            write_registers(w, "registers", values);
        }
        Response::DeviceIdentification(id) => {
            w.key("mei").begin_object();
            w.field_enum("type", "name", MeiType::ReadDeviceIdentification);
            w.end_object();
            w.key("device_identification").begin_object();
            w.field_enum("code", "code_name", id.code);
            w.field_u64("conformity_level", u64::from(id.conformity));
            w.field_bool("more_follows", id.more_follows);
            w.field_u64("next_object_id", u64::from(id.next_object_id));
            w.field_u64("object_count", u64::from(id.count));
            w.key("objects").begin_object();
            for (oid, value) in id.objects() {
                let code = DeviceObjectId::from(oid);
                match code.name() {
                    Some(name) => w.key(name),
                    None => {
                        let mut key = [b'0', b'x', 0, 0];
                        key[2] = b"0123456789abcdef"[usize::from(oid >> 4)];
                        key[3] = b"0123456789abcdef"[usize::from(oid & 15)];
                        w.key(core::str::from_utf8(&key).unwrap_or("0x??"))
                    }
                };
                w.bytes_str(value);
            }
            w.end_object();
            w.end_object();
        }
        Response::Encapsulated { mei, data } => {
            w.key("mei").begin_object();
            w.field_enum("type", "name", mei);
            w.field_hex("data", data);
            w.end_object();
        }
        Response::Umas {
            session,
            code,
            data,
        } => {
            w.key("umas").begin_object();
            w.field_u64("session", u64::from(session));
            w.field_enum("code", "name", code);
            w.field_hex("data", data);
            w.end_object();
        }
        Response::Raw(data) => {
            w.field_hex("data", data);
        }
    }
}

/// The leading printable ASCII of a server id (often a product string).
fn printable_prefix(data: &[u8]) -> &[u8] {
    let end = data
        .iter()
        .position(|b| !(0x20..0x7f).contains(b))
        .unwrap_or(data.len());
    &data[..end]
}

/// A request waiting for its response. The PDU is copied into a buffer
/// taken from the dissector's spare list, so waiting allocates nothing once
/// the flow has warmed up.
struct Pending {
    transaction_id: u16,
    unit_id: u8,
    ts: Timestamp,
    pdu: Vec<u8>,
}

/// Per-direction framing state.
#[derive(Debug, Default, Clone, Copy)]
struct FrameState {
    /// Looking for a plausible header after garbage or a gap.
    resync: bool,
    /// The resync was caused by a parse error (not a capture gap).
    after_error: bool,
    /// Bytes skipped while resynchronising.
    skipped: u64,
    /// A valid PDU was seen in this direction.
    seen_valid: bool,
}

/// Modbus/TCP state of one flow.
pub struct ModbusDissector {
    config: ModbusConfig,
    pending: Vec<Pending>,
    /// Request buffers of answered transactions, for reuse.
    spare: Vec<Vec<u8>>,
    frame: [FrameState; 2],
}

impl Default for ModbusDissector {
    fn default() -> Self {
        ModbusDissector::new(ModbusConfig::default())
    }
}

/// Detail of the "PDU after a parse error" anomaly.
struct Resynced {
    skipped: u64,
}

impl core::fmt::Display for Resynced {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "valid PDUs resume after a parse error; {} bytes skipped",
            self.skipped
        )
    }
}

struct Outstanding {
    limit: usize,
}

impl core::fmt::Display for Outstanding {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "more than {} requests without a response; the oldest is given up",
            self.limit
        )
    }
}

struct Unmatched {
    transaction_id: u16,
    unit_id: u8,
}

impl core::fmt::Display for Unmatched {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "response to transaction {} unit {} without a request",
            self.transaction_id, self.unit_id
        )
    }
}

const NAME: &str = "modbus";

impl ModbusDissector {
    /// A dissector with the given limits.
    pub fn new(config: ModbusConfig) -> ModbusDissector {
        ModbusDissector {
            config,
            pending: Vec::new(),
            spare: Vec::new(),
            frame: [FrameState::default(); 2],
        }
    }

    /// Requests currently waiting for a response.
    pub fn outstanding(&self) -> usize {
        self.pending.len()
    }

    fn recycle(&mut self, pending: Pending) {
        if self.spare.len() < self.config.max_outstanding {
            self.spare.push(pending.pdu);
        }
    }

    fn on_request(&mut self, header: &mbap::Header, adu_pdu: &[u8], cx: &mut Context<'_>) {
        let msg = Message::request(cx.ts, adu_pdu);
        if let Err(err) = &msg.body {
            cx.anomaly(NAME, err.anomaly_name(), err, Some(Direction::ToServer));
        }
        // A reused key means the earlier request will not be answered.
        if let Some(i) = self
            .pending
            .iter()
            .position(|p| p.transaction_id == header.transaction_id && p.unit_id == header.unit_id)
        {
            let old = self.pending.remove(i);
            emit_alone(&old, cx);
            self.recycle(old);
        }
        if self.pending.len() >= self.config.max_outstanding {
            let limit = self.config.max_outstanding;
            cx.anomaly(
                NAME,
                "too_many_outstanding_requests",
                &Outstanding { limit },
                Some(Direction::ToServer),
            );
            let old = self.pending.remove(0);
            emit_alone(&old, cx);
            self.recycle(old);
        }
        let mut buf = self.spare.pop().unwrap_or_default();
        buf.clear();
        buf.extend_from_slice(adu_pdu);
        self.pending.push(Pending {
            transaction_id: header.transaction_id,
            unit_id: header.unit_id,
            ts: cx.ts,
            pdu: buf,
        });
    }

    fn on_response(&mut self, header: &mbap::Header, adu_pdu: &[u8], cx: &mut Context<'_>) {
        let response = Message::response(cx.ts, adu_pdu);
        if let Err(err) = &response.body {
            cx.anomaly(NAME, err.anomaly_name(), err, Some(Direction::ToClient));
        }
        let found = self
            .pending
            .iter()
            .position(|p| p.transaction_id == header.transaction_id && p.unit_id == header.unit_id);
        let Some(i) = found else {
            let detail = Unmatched {
                transaction_id: header.transaction_id,
                unit_id: header.unit_id,
            };
            cx.anomaly(
                NAME,
                "unmatched_response",
                &detail,
                Some(Direction::ToClient),
            );
            let tx = Transaction {
                transaction_id: header.transaction_id,
                unit_id: header.unit_id,
                request: None,
                response: Some(response),
            };
            cx.emit(AppEvent::Modbus(&tx));
            return;
        };
        let pending = self.pending.remove(i);
        if let Err(mismatch) = pdu::check_pair(&pending.pdu, adu_pdu) {
            cx.anomaly(
                NAME,
                "response_mismatch",
                &mismatch,
                Some(Direction::ToClient),
            );
        }
        let tx = Transaction {
            transaction_id: header.transaction_id,
            unit_id: header.unit_id,
            request: Some(Message::request(pending.ts, &pending.pdu)),
            response: Some(response),
        };
        cx.emit(AppEvent::Modbus(&tx));
        self.recycle(pending);
    }
}

fn emit_alone(pending: &Pending, cx: &mut Context<'_>) {
    let tx = Transaction {
        transaction_id: pending.transaction_id,
        unit_id: pending.unit_id,
        request: Some(Message::request(pending.ts, &pending.pdu)),
        response: None,
    };
    // The event time is when the request was seen.
    let saved = cx.ts;
    cx.ts = pending.ts;
    cx.emit(AppEvent::Modbus(&tx));
    cx.ts = saved;
}

impl StreamDissector for ModbusDissector {
    fn parse(&mut self, dir: Direction, data: &[u8], cx: &mut Context<'_>) -> usize {
        let mut pos = 0;
        loop {
            let rest = &data[pos..];
            let Some(header) = mbap::Header::read(rest) else {
                return pos; // need the rest of the header
            };
            let state = &mut self.frame[dir.index()];
            if state.resync {
                // Resynchronising: only a plausible frame ends the skip.
                match mbap::resync_candidate(rest) {
                    mbap::Candidate::Accept => {}
                    mbap::Candidate::NeedMore => return pos,
                    mbap::Candidate::Reject => {
                        state.skipped += 1;
                        pos += 1;
                        continue;
                    }
                }
            } else if let Err(err) = header.validate() {
                state.after_error = true;
                cx.anomaly(NAME, err.anomaly_name(), &err, Some(dir));
                // Do not trust the length of a bad header (it could swallow
                // the valid PDUs after it): resynchronise byte by byte.
                if !state.seen_valid {
                    cx.anomaly(
                        NAME,
                        "non_modbus_traffic",
                        &"bytes on a Modbus stream do not frame as MBAP; resynchronising",
                        Some(dir),
                    );
                }
                state.resync = true;
                state.skipped += 1;
                pos += 1;
                continue;
            }
            if rest.len() < header.frame_len() {
                return pos; // need the rest of the PDU
            }
            if header.oversized() {
                let err = mbap::HeaderError::LengthTooLarge(header.length);
                cx.anomaly(NAME, err.anomaly_name(), &err, Some(dir));
            }
            let state = &mut self.frame[dir.index()];
            if state.after_error {
                let detail = Resynced {
                    skipped: state.skipped,
                };
                cx.anomaly(NAME, "pdu_after_parse_error", &detail, Some(dir));
            }
            *state = FrameState {
                seen_valid: true,
                ..FrameState::default()
            };
            let adu_pdu = &rest[mbap::HEADER_LEN..header.frame_len()];
            match dir {
                Direction::ToServer => self.on_request(&header, adu_pdu, cx),
                Direction::ToClient => self.on_response(&header, adu_pdu, cx),
            }
            pos += header.frame_len();
        }
    }

    fn gap(&mut self, dir: Direction, _cx: &mut Context<'_>) {
        let state = &mut self.frame[dir.index()];
        state.resync = true;
    }

    fn flush(&mut self, cx: &mut Context<'_>) {
        for pending in core::mem::take(&mut self.pending) {
            emit_alone(&pending, cx);
            self.recycle(pending);
        }
    }
}

#[cfg(test)]
mod tests;
