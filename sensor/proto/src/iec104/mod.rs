//! IEC 60870-5-104: the APCI framing and the ASDUs it carries.
//!
//! * [`apci`]: start byte, length, the I/S/U control field with its
//!   sequence numbers and U functions, framing checks, probe and
//!   resynchronisation.
//! * [`asdu`]: the data unit identifier (type, variable structure
//!   qualifier, cause with its negative and test bits, originator, common
//!   address), the information objects, and every standard element
//!   decoded (points, step positions, bitstrings, measured values,
//!   integrated totals, protection events, commands with select/execute
//!   and qualifiers, set points, system and parameter commands) with its
//!   quality and CP24/CP56 time tag.
//! * [`codes`]: type identifications and causes of transmission by name.
//! * [`eve`]: the EVE `iec104` object of an APDU.
//! * [`session`]: what a connection keeps between APDUs: each side's
//!   sequence numbers (gaps, duplicates, acknowledgements beyond what was
//!   sent, window overruns), the data transfer state, and the commands
//!   waiting for their confirmation.
//!
//! * [`anomaly`]: the names of the anomalies it raises.
//!
//! [`Iec104Dissector`] is one connection's state over TCP port 2404 (or any
//! port whose first client bytes [`apci::probe`] recognises): APDUs are
//! framed by their APCI, resynchronising after bytes that do not frame;
//! every APDU is one [`Transaction`] and one event. The session checks of
//! [`session`] raise anomalies; a command's activation waits (by type,
//! common address and object address) and its confirmation or termination
//! carries how it paired; an activation unconfirmed after t1 is raised.

pub mod apci;
pub mod asdu;
pub mod codes;
pub mod eve;
pub mod session;

pub mod anomaly;
pub mod protocol;

pub use anomaly::Iec104Anomaly;
pub use codes::{Cause, TypeId};
pub use protocol::{Dissector, SPEC};

use crate::event::{AppEvent, Context, Direction, StreamDissector};
use crate::stream::Candidate;
use apci::{Apci, ApciError, Control, UFunction};
use asdu::{Asdu, AsduError};
use session::{CommandKey, Commands, Finding, Sequences, Settled, Side};

/// The well-known IEC 104 port.
pub const PORT: u16 = 2404;

/// The layer name of IEC 104 anomalies.
const NAME: &str = "iec104";

/// C_RD_NA_1, the read command.
const READ_COMMAND: u8 = 102;

/// Limits of one connection's IEC 104 state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Iec104Config {
    /// The window k: I-frames a side may send unacknowledged (12 in the
    /// standard).
    pub k: u16,
    /// How long a command may wait for its confirmation, microseconds (the
    /// standard's t1, 15 s).
    pub t1_us: i64,
    /// Commands waiting for confirmation at most.
    pub max_commands: usize,
    /// Information objects written per event.
    pub max_objects: usize,
}

impl Default for Iec104Config {
    fn default() -> Self {
        Iec104Config {
            k: 12,
            t1_us: 15_000_000,
            max_commands: 32,
            max_objects: 64,
        }
    }
}

/// One APDU, with how it settles a command when it confirms or ends one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Transaction<'a> {
    /// Who sent it.
    pub side: Side,
    /// The APCI.
    pub apci: Apci,
    /// The ASDU of an I-frame, or why it does not decode.
    pub asdu: Option<Result<Asdu<'a>, AsduError>>,
    /// For a confirmation or termination of a command: how it paired.
    pub command: Option<Settled>,
    /// The whole APDU.
    pub apdu: &'a [u8],
    /// Information objects written to EVE at most.
    pub max_objects: usize,
}

impl Transaction<'_> {
    /// The ASDU, when it decoded.
    pub fn asdu(&self) -> Option<&Asdu<'_>> {
        self.asdu.as_ref().and_then(|a| a.as_ref().ok())
    }
}

/// Per-direction framing state.
#[derive(Debug, Default, Clone, Copy)]
struct FrameState {
    resync: bool,
    after_error: bool,
    skipped: u64,
    seen_valid: bool,
}

/// IEC 104 state of one connection.
pub struct Iec104Dissector {
    config: Iec104Config,
    frame: [FrameState; 2],
    sequences: Sequences,
    commands: Commands,
    /// A STARTDT was seen: the capture holds the session's start, so a
    /// confirmation without its activation is a real anomaly.
    started: bool,
    last_us: i64,
}

impl Default for Iec104Dissector {
    fn default() -> Self {
        Iec104Dissector::new(Iec104Config::default())
    }
}

impl ApciError {
    fn anomaly(&self) -> Iec104Anomaly {
        match self {
            ApciError::BadStart(_) => Iec104Anomaly::BadStart,
            ApciError::BadLength(_) | ApciError::LengthDoesNotFit { .. } => {
                Iec104Anomaly::BadLength
            }
            ApciError::BadUFunction(_) => Iec104Anomaly::BadUFunction,
        }
    }
}

impl Iec104Dissector {
    /// A dissector with the given limits.
    pub fn new(config: Iec104Config) -> Iec104Dissector {
        Iec104Dissector {
            config,
            frame: [FrameState::default(); 2],
            sequences: Sequences::new(config.k),
            commands: Commands::new(config.max_commands),
            started: false,
            last_us: i64::MIN,
        }
    }

    /// Raises the commands that waited longer than t1 before `now_us`.
    fn expire(&mut self, now_us: i64, cx: &mut Context<'_>) {
        let t1 = self.config.t1_us;
        self.commands.expire(now_us.saturating_sub(t1), &mut |key| {
            cx.raise(
                Iec104Anomaly::UnconfirmedCommand,
                format_args!(
                    "type {} to common address {} object {} got no confirmation within {} s",
                    key.type_id,
                    key.common_address,
                    key.ioa,
                    t1 / 1_000_000
                ),
                Some(Direction::ToServer),
            );
        });
    }

    fn on_apdu(&mut self, dir: Direction, apci: Apci, apdu: &[u8], cx: &mut Context<'_>) {
        let side = match dir {
            Direction::ToServer => Side::Controlling,
            Direction::ToClient => Side::Controlled,
        };
        let now_us = cx.ts.as_micros();
        self.last_us = now_us;
        self.expire(now_us, cx);
        if apci.control.u_function() == Some(UFunction::StartDtAct) {
            self.started = true;
        }
        self.sequences.check(side, apci.control, &mut |f| raise_finding(f, dir, cx));
        let asdu = matches!(apci.control, Control::I { .. })
            .then(|| Asdu::parse(apdu.get(apci::APCI_LEN..).unwrap_or_default()));
        if let Some(Err(err)) = &asdu {
            cx.raise(Iec104Anomaly::MalformedAsdu, format_args!("{err}"), Some(dir));
        }
        let command = match &asdu {
            Some(Ok(a)) => self.pair(side, a, now_us, dir, cx),
            _ => None,
        };
        let tx = Transaction {
            side,
            apci,
            asdu,
            command,
            apdu,
            max_objects: self.config.max_objects,
        };
        cx.emit(AppEvent::Iec104(&tx));
    }

    /// Activations wait; confirmations and terminations settle them.
    fn pair(
        &mut self,
        side: Side,
        a: &Asdu<'_>,
        now_us: i64,
        dir: Direction,
        cx: &mut Context<'_>,
    ) -> Option<Settled> {
        let t = a.type_id;
        let ioa = a.objects().next().map_or(0, |o| o.ioa);
        if !(t.is_command() || t.is_system() || t.is_parameter()) {
            // The object a read asked for, sent back with the cause
            // "requested", completes the read.
            if side == Side::Controlled && a.cause == Cause::Request && t.is_monitor() {
                let read = CommandKey {
                    type_id: READ_COMMAND,
                    common_address: a.common_address,
                    ioa,
                };
                self.commands.settle(read, now_us, true, false);
            }
            return None;
        }
        let key = CommandKey {
            type_id: t.raw(),
            common_address: a.common_address,
            ioa,
        };
        match (side, a.cause) {
            // A read (C_RD_NA_1) goes with the cause "request", not
            // "activation"; some stations confirm it, all send the object.
            (Side::Controlling, Cause::Activation | Cause::Request)
                if a.cause == Cause::Activation || t.raw() == READ_COMMAND =>
            {
                if let Some(old) = self.commands.activate(key, now_us) {
                    cx.raise(
                        Iec104Anomaly::TooManyOutstandingCommands,
                        format_args!(
                            "more than {} commands wait for confirmation; type {} to object {} is given up",
                            self.config.max_commands, old.type_id, old.ioa
                        ),
                        Some(dir),
                    );
                }
                None
            }
            (
                Side::Controlled,
                Cause::ActivationCon
                | Cause::ActivationTerm
                | Cause::DeactivationCon
                | Cause::UnknownTypeId
                | Cause::UnknownCause
                | Cause::UnknownCommonAddress
                | Cause::UnknownIoa,
            ) => {
                // A deactivation's confirmation cancels the command; the
                // unknown-* causes refuse it (negative confirmations).
                let terminated = matches!(a.cause, Cause::ActivationTerm | Cause::DeactivationCon);
                let refused = matches!(a.cause.raw(), 44..=47);
                let settled = self.commands.settle(key, now_us, terminated, a.negative || refused);
                // A station may refuse twice (a negative confirmation, then
                // the unknown-* cause): a refusal settles nothing silently.
                if settled == Settled::Unexpected && self.started && !terminated && !refused {
                    cx.raise(
                        Iec104Anomaly::UnexpectedConfirmation,
                        format_args!(
                            "confirmation of type {} to object {} that nobody activated",
                            key.type_id, key.ioa
                        ),
                        Some(dir),
                    );
                }
                Some(settled)
            }
            _ => None,
        }
    }
}

fn raise_finding(f: Finding, dir: Direction, cx: &mut Context<'_>) {
    match f {
        Finding::Gap { expected, got } => cx.raise(
            Iec104Anomaly::SequenceGap,
            format_args!("send sequence number {got} where {expected} was next"),
            Some(dir),
        ),
        Finding::Duplicate { expected, got } => cx.raise(
            Iec104Anomaly::SequenceDuplicate,
            format_args!("send sequence number {got} again or back (expected {expected})"),
            Some(dir),
        ),
        Finding::AckBeyondSent { acknowledged, sent } => cx.raise(
            Iec104Anomaly::AckBeyondSent,
            format_args!("receive sequence number {acknowledged} acknowledges frames not sent (next is {sent})"),
            Some(dir),
        ),
        Finding::WindowExceeded { outstanding, k } => cx.raise(
            Iec104Anomaly::WindowExceeded,
            format_args!("{outstanding} I-frames unacknowledged, more than k = {k}"),
            Some(dir),
        ),
        Finding::DataWhileStopped => cx.raise(
            Iec104Anomaly::DataWhileStopped,
            format_args!("I-frame after data transfer was stopped"),
            Some(dir),
        ),
    }
}

impl StreamDissector for Iec104Dissector {
    fn parse(&mut self, dir: Direction, data: &[u8], cx: &mut Context<'_>) -> usize {
        let mut pos = 0;
        loop {
            let rest = &data[pos..];
            let Some(read) = Apci::read(rest) else {
                return pos;
            };
            let state = &mut self.frame[dir.index()];
            if state.resync {
                match apci::resync_candidate(rest) {
                    Candidate::Accept => {}
                    Candidate::NeedMore => return pos,
                    Candidate::Reject => {
                        state.skipped += 1;
                        pos += 1;
                        continue;
                    }
                }
            }
            // A stream picked up after its start may begin with the byte of
            // a TCP keep-alive probe (one old byte sent again): one stray
            // byte before a valid APDU, at the very start of a direction.
            let pickup = pos == 0 && !state.seen_valid && !state.after_error && !state.resync;
            if pickup && rest[0] != apci::START && apci::resync_candidate(&rest[1..]) == Candidate::Accept {
                state.seen_valid = true;
                cx.raise(
                    Iec104Anomaly::StrayByteAtPickup,
                    format_args!("one byte {:#04x} before the first APDU of the stream (a keep-alive probe's)", rest[0]),
                    Some(dir),
                );
                pos += 1;
                continue;
            }
            let checked = read.and_then(|a| a.validate().map(|()| a));
            let apci = match checked {
                Ok(a) => a,
                Err(err) => {
                    state.after_error = true;
                    cx.raise(err.anomaly(), format_args!("{err}"), Some(dir));
                    if !state.seen_valid {
                        cx.raise(
                            Iec104Anomaly::NonIec104Traffic,
                            format_args!("bytes on an IEC 104 stream do not frame as APDUs"),
                            Some(dir),
                        );
                    }
                    state.resync = true;
                    state.skipped += 1;
                    pos += 1;
                    continue;
                }
            };
            let end = apci.frame_len();
            if rest.len() < end {
                return pos;
            }
            if state.after_error {
                cx.raise(
                    Iec104Anomaly::ApduAfterParseError,
                    format_args!("valid APDUs resume after a parse error; {} bytes skipped", state.skipped),
                    Some(dir),
                );
            }
            *state = FrameState {
                seen_valid: true,
                ..FrameState::default()
            };
            self.on_apdu(dir, apci, &rest[..end], cx);
            pos += end;
        }
    }

    fn gap(&mut self, dir: Direction, _cx: &mut Context<'_>) {
        self.frame[dir.index()].resync = true;
    }

    fn flush(&mut self, cx: &mut Context<'_>) {
        let last = self.last_us;
        if last != i64::MIN {
            self.expire(last, cx);
        }
    }
}

#[cfg(test)]
mod tests;
