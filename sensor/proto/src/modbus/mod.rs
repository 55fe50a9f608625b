//! Modbus/TCP: MBAP framing over the reassembled stream, every public function
//! decoded, requests paired with responses.
//!
//! * [`mbap`]: the 7-byte header, its checks, and probes for other ports.
//! * [`pdu`]: function codes and the request / response bodies.
//! * [`codes`]: the code points as open enums.
//! * [`anomaly`]: the names of the anomalies it raises.
//! * [`eve`]: the EVE `modbus` object ([`Transaction::write_eve`]).
//!
//! [`ModbusDissector`] is one flow's state. Requests (to the server) wait in a
//! bounded table keyed by transaction id and unit id; the response with the
//! same key completes the [`Transaction`], which is emitted as one event. A
//! request that never gets its answer is still emitted, alone, when its key is
//! reused, when the table overflows, or when the flow ends.

pub mod anomaly;
pub mod codes;
pub mod eve;
pub mod mbap;
pub mod pdu;
pub mod protocol;

pub use anomaly::ModbusAnomaly;
pub use codes::{
    Access, DeviceIdCode, DeviceObjectId, DiagnosticSubfunction, ExceptionCode, FunctionCode,
    MeiType, UmasCode,
};
pub use pdu::{PduError, Request, Response};
pub use protocol::{Dissector, SPEC};

use crate::event::{AppEvent, Context, Direction, StreamDissector, Timestamp};

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

/// The layer name of Modbus anomalies.
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
            cx.raise(
                err.anomaly(),
                format_args!("{err}"),
                Some(Direction::ToServer),
            );
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
            cx.raise(
                ModbusAnomaly::TooManyOutstandingRequests,
                format_args!(
                    "more than {limit} requests without a response; the oldest is given up"
                ),
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
            cx.raise(
                err.anomaly(),
                format_args!("{err}"),
                Some(Direction::ToClient),
            );
        }
        let found = self
            .pending
            .iter()
            .position(|p| p.transaction_id == header.transaction_id && p.unit_id == header.unit_id);
        let Some(i) = found else {
            cx.raise(
                ModbusAnomaly::UnmatchedResponse,
                format_args!(
                    "response to transaction {} unit {} without a request",
                    header.transaction_id, header.unit_id
                ),
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
            cx.raise(
                ModbusAnomaly::ResponseMismatch,
                format_args!("{mismatch}"),
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
                cx.raise(err.anomaly(), format_args!("{err}"), Some(dir));
                // Do not trust the length of a bad header (it could swallow
                // the valid PDUs after it): resynchronise byte by byte.
                if !state.seen_valid {
                    cx.raise(
                        ModbusAnomaly::NonModbusTraffic,
                        format_args!(
                            "bytes on a Modbus stream do not frame as MBAP; resynchronising"
                        ),
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
                cx.raise(err.anomaly(), format_args!("{err}"), Some(dir));
            }
            let state = &mut self.frame[dir.index()];
            if state.after_error {
                cx.raise(
                    ModbusAnomaly::PduAfterParseError,
                    format_args!(
                        "valid PDUs resume after a parse error; {} bytes skipped",
                        state.skipped
                    ),
                    Some(dir),
                );
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
