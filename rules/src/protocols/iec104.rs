//! IEC 60870-5-104 rule fields: each row of [`FIELDS`] with the code that
//! reads it from a [`Transaction`] (one APDU).

use otwatch_proto::iec104::apci::Control;
use otwatch_proto::iec104::asdu::Element;
use otwatch_proto::iec104::session::{Settled, Side};
use otwatch_proto::iec104::{self, Transaction, TypeId};

use super::{field, indexed, int, Buffers, Row, Visit};
use crate::baseline::{Op, OpClass};
use crate::cond::Val;
use crate::fields::{Kind, Scope, INT16, INT32, INT8};

/// How an IEC 104 field is read.
pub(crate) type Read = fn(&Transaction<'_>, Scope, Visit<'_>) -> bool;

/// IEC 104's own fields, after the common ones.
pub(crate) const FIELDS: &[Row<Read>] = &[
    indexed(0, field("type_id", Kind::Enum(open_enum_def!(iec104::TypeId, 0xff)), false, "ASDU type identification (C_SC_NA_1, M_ME_NC_1, C_IC_NA_1, …)",
        |tx, _, f| tx.asdu().is_some_and(|a| int(a.type_id.raw(), f)))),
    field("apci.type", Kind::Text, false, "APDU format: I, S or U",
        |tx, _, f| f(Val::Bytes(tx.apci.control.format().as_bytes()))),
    field("u.function", Kind::Text, false, "U-frame function (startdt_act, stopdt_act, testfr_act, … _con)",
        |tx, _, f| tx.apci.control.u_function().is_some_and(|u| f(Val::Bytes(u.name().as_bytes())))),
    field("send_seq", INT16, false, "send sequence number N(S) of an I-frame",
        |tx, _, f| matches!(tx.apci.control, Control::I { send, .. } if int(send, f))),
    field("recv_seq", INT16, false, "receive sequence number N(R) of an I- or S-frame",
        |tx, _, f| match tx.apci.control {
            Control::I { receive, .. } | Control::S { receive } => int(receive, f),
            Control::U { .. } => false,
        }),
    field("cause", Kind::Enum(open_enum_def!(iec104::Cause, 0x3f)), false, "cause of transmission (activation, activation_con, spontaneous, interrogated_station, …)",
        |tx, _, f| tx.asdu().is_some_and(|a| int(a.cause.raw(), f))),
    field("negative", Kind::Bool, false, "the P/N bit: a negative confirmation",
        |tx, _, f| tx.asdu().is_some_and(|a| f(Val::Bool(a.negative)))),
    field("test", Kind::Bool, false, "the T bit: a test ASDU",
        |tx, _, f| tx.asdu().is_some_and(|a| f(Val::Bool(a.test)))),
    field("originator", INT8, false, "originator address",
        |tx, _, f| tx.asdu().is_some_and(|a| int(a.originator, f))),
    field("common_address", INT16, false, "common address of the ASDU (the station)",
        |tx, _, f| tx.asdu().is_some_and(|a| int(a.common_address, f))),
    field("ioa", INT32, false, "address of each information object",
        |tx, _, f| tx.asdu().is_some_and(|a| a.objects().any(|o| int(o.ioa, f)))),
    field("select", Kind::Bool, false, "a command or set point selects (rather than executes)",
        |tx, _, f| elements(tx, &mut |e| e.select.is_some_and(|s| f(Val::Bool(s))))),
    field("qualifier", INT8, false, "qualifier of each command, set point or system command (QU, QL, QOI, QCC, QRP, QPA)",
        |tx, _, f| elements(tx, &mut |e| e.qualifier.is_some_and(|q| int(q, f)))),
    field("command.response", Kind::Text, false, "how a confirmation or termination settles its command: confirmed, negative, terminated, unexpected",
        |tx, _, f| tx.command.is_some_and(|c| f(Val::Bytes(response(c).as_bytes())))),
    field("malformed", Kind::Bool, false, "the ASDU does not decode",
        |tx, _, f| tx.asdu.is_some_and(|a| f(Val::Bool(a.is_err())))),
];

fn response(c: Settled) -> &'static str {
    match c {
        Settled::Confirmed { negative: true, .. } => "negative",
        Settled::Confirmed { .. } => "confirmed",
        Settled::Terminated { .. } => "terminated",
        Settled::Unexpected => "unexpected",
    }
}

/// Calls `f` with each decoded element until it returns true.
fn elements(tx: &Transaction<'_>, f: &mut dyn FnMut(&Element) -> bool) -> bool {
    let Some(a) = tx.asdu() else {
        return false;
    };
    a.objects()
        .filter_map(|o| Element::decode(a.type_id, o.element))
        .any(|e| f(&e))
}

/// A confirmation or termination that paired with its command.
pub(crate) fn answered(tx: &Transaction<'_>) -> bool {
    matches!(
        tx.command,
        Some(Settled::Confirmed { .. } | Settled::Terminated { .. })
    )
}

/// The APDU, as the controlling station's (0) or the controlled one's (1).
pub(crate) fn buffers<'a>(tx: &Transaction<'a>) -> Buffers<'a> {
    match tx.side {
        Side::Controlling => [Some(tx.apdu), None],
        Side::Controlled => [None, Some(tx.apdu)],
    }
}

/// Rules are indexed by type id (I-frames), 0x100 + the control octet
/// (U-frames), 0x200 (S-frames).
pub(crate) fn index_key(tx: &Transaction<'_>) -> u32 {
    match tx.apci.control {
        Control::I { .. } => tx.asdu().map_or(0, |a| u32::from(a.type_id.raw())),
        Control::U { octet } => 0x100 + u32::from(octet),
        Control::S { .. } => 0x200,
    }
}

/// The common address: the station (or sector) within the server.
pub(crate) fn station(tx: &Transaction<'_>) -> Option<u32> {
    tx.asdu().map(|a| u32::from(a.common_address))
}

/// What a control-direction ASDU does to the station.
fn class_of(t: TypeId) -> OpClass {
    match t.raw() {
        45..=51 | 58..=64 => OpClass::Control,
        100..=102 => OpClass::Read,
        103 | 104 | 106 | 107 => OpClass::Session,
        105 => OpClass::Mode,
        110..=113 => OpClass::Write,
        120..=127 => OpClass::Program,
        _ => OpClass::Other,
    }
}

/// What the controlling station asks: each activation (or file request) by
/// type, with the range of object addresses it names.
pub(crate) fn operations<'a>(tx: &Transaction<'a>, out: &mut dyn FnMut(Op<'a>)) {
    if tx.side != Side::Controlling {
        return;
    }
    let Some(a) = tx.asdu() else {
        return;
    };
    if a.type_id.is_monitor() {
        return;
    }
    let mut op = Op::new(class_of(a.type_id), u32::from(a.type_id.raw()), a.type_id.name());
    let (lo, hi) = a
        .objects()
        .fold((u32::MAX, 0), |(lo, hi), o| (lo.min(o.ioa), hi.max(o.ioa)));
    if lo <= hi {
        op = op.range(lo, hi);
    }
    out(op);
}

#[cfg(test)]
mod tests {
    use otwatch_proto::event::Direction::{ToClient as S2C, ToServer as C2S};
    use otwatch_proto::registry::ProtocolId;

    use crate::protocols::fixture::{assert_every_field_yields, unhex};

    /// STARTDT act and con.
    const STARTDT: &str = "68 04 07 00 00 00   U-format STARTDT act";
    const STARTDT_CON: &str = "68 04 0b 00 00 00   U-format STARTDT con";
    /// diverse_090813.pcap: a single command with time, selecting, and its
    /// confirmation (the same ASDU with cause 7).
    const COMMAND: &str = "
        68 15 00 00 00 00   length 21, I-format N(S) 0, N(R) 0
        3a 01               type 58 C_SC_TA_1, one object
        06 00 03 00         cause 6 activation, originator 0, common address 3
        95 11 00            IOA 4501
        81                  SCO: select, on, qualifier 0
        08 00 17 13 0d 08 0d   CP56Time2a";
    const CONFIRM: &str = "
        68 15 00 00 02 00   length 21, I-format N(S) 0, N(R) 1
        3a 01               type 58 C_SC_TA_1, one object
        07 00 03 00         cause 7 activation confirmation, common address 3
        95 11 00            IOA 4501
        81                  SCO as activated
        08 00 17 13 0d 08 0d   CP56Time2a";
    /// An S-frame acknowledging one I-frame.
    const ACK: &str = "68 04 01 00 02 00   S-format N(R) 1";

    #[test]
    fn every_field_yields_a_value() {
        let [start, start_con, command, confirm, ack] =
            [STARTDT, STARTDT_CON, COMMAND, CONFIRM, ACK].map(unhex);
        assert_every_field_yields(
            ProtocolId::Iec104,
            &[&[
                (C2S, &start),
                (S2C, &start_con),
                (C2S, &command),
                (S2C, &confirm),
                (C2S, &ack),
            ]],
        );
    }
}
