//! DNP3 rule fields: each row of [`FIELDS`] with the code that reads it from
//! a [`Transaction`].

use otwatch_proto::dnp3::{self, Message, Transaction};

use super::{field, indexed, int, Buffers, Row, Visit};
use crate::baseline::{Op, OpClass, Qual};
use crate::cond::Val;
use crate::fields::{Kind, Scope, INT16, INT32, INT8};

/// How a DNP3 field is read.
pub(crate) type Read = fn(&Transaction<'_>, Scope, Visit<'_>) -> bool;

/// DNP3's own fields, after the common ones.
pub(crate) const FIELDS: &[Row<Read>] = &[
    indexed(
        0,
        field(
            "function",
            Kind::Enum(open_enum_def!(dnp3::FunctionCode, 0xff)),
            true,
            "application function code",
            |tx, s, f| messages(tx, s, f, true, |m, f| int(m.function().raw(), f)),
        ),
    ),
    field(
        "iin",
        Kind::Bits(&dnp3::codes::IIN_NAMES),
        false,
        "internal indications of the response: a name tests its bit",
        |tx, _, f| tx.iin().is_some_and(|i| int(i.0, f)),
    ),
    field(
        "object.group",
        INT8,
        true,
        "group of each object header",
        |tx, s, f| {
            messages(tx, s, f, false, |m, f| {
                m.object_headers().any(|h| int(h.group, f))
            })
        },
    ),
    field(
        "object.variation",
        INT8,
        true,
        "variation of each object header",
        |tx, s, f| {
            messages(tx, s, f, false, |m, f| {
                m.object_headers().any(|h| int(h.variation, f))
            })
        },
    ),
    field(
        "point.index",
        INT32,
        true,
        "index of each point",
        |tx, s, f| {
            messages(tx, s, f, false, |m, f| {
                m.points().any(|(_, p)| int(p.index, f))
            })
        },
    ),
    field(
        "crob.op_type",
        Kind::Enum(open_enum_def!(dnp3::OpType, 0x0f)),
        true,
        "operation of each control relay output block",
        |tx, s, f| {
            messages(tx, s, f, false, |m, f| {
                m.crobs().any(|(_, c)| int(c.op_type().raw(), f))
            })
        },
    ),
    field(
        "crob.trip_close",
        Kind::Enum(open_enum_def!(dnp3::TripClose, 0x03)),
        true,
        "trip/close code of each CROB",
        |tx, s, f| {
            messages(tx, s, f, false, |m, f| {
                m.crobs().any(|(_, c)| int(c.trip_close().raw(), f))
            })
        },
    ),
    field(
        "file.name",
        Kind::Text,
        true,
        "file names in group 70 objects",
        |tx, s, f| {
            messages(tx, s, f, false, |m, f| {
                m.file_names().any(|n| f(Val::Bytes(n)))
            })
        },
    ),
    field("master", INT16, false, "master link address", |tx, _, f| {
        int(tx.master, f)
    }),
    field(
        "outstation",
        INT16,
        false,
        "outstation link address (0xfffd-0xffff: broadcast)",
        |tx, _, f| int(tx.outstation, f),
    ),
    field(
        "source",
        INT16,
        true,
        "link source address of the fragment",
        |tx, s, f| messages(tx, s, f, true, |m, f| int(m.source, f)),
    ),
    field(
        "destination",
        INT16,
        true,
        "link destination address of the fragment",
        |tx, s, f| messages(tx, s, f, true, |m, f| int(m.destination, f)),
    ),
    field(
        "unsolicited",
        Kind::Bool,
        false,
        "an unsolicited response",
        |tx, _, f| f(Val::Bool(tx.response.is_some_and(|r| r.is_unsolicited()))),
    ),
    field(
        "broadcast",
        Kind::Bool,
        false,
        "a request to a broadcast address",
        |tx, _, f| {
            f(Val::Bool(
                tx.request.is_some_and(|r| r.destination >= 0xfffd),
            ))
        },
    ),
    field(
        "seq",
        Kind::Int { max: 15 },
        true,
        "application sequence number",
        |tx, s, f| messages(tx, s, f, true, |m, f| int(m.control().seq(), f)),
    ),
    field(
        "malformed",
        Kind::Bool,
        true,
        "object parsing stopped early",
        |tx, s, f| messages(tx, s, f, false, |m, f| f(Val::Bool(m.error.is_some()))),
    ),
];

/// Whether both messages were seen.
pub(crate) fn answered(tx: &Transaction<'_>) -> bool {
    tx.request.is_some() && tx.response.is_some()
}

/// The request and response application fragments.
pub(crate) fn buffers<'a>(tx: &Transaction<'a>) -> Buffers<'a> {
    [
        tx.request.map(|m| m.fragment),
        tx.response.map(|m| m.fragment),
    ]
}

/// Rules are indexed by function code.
pub(crate) fn index_key(tx: &Transaction<'_>) -> u32 {
    u32::from(tx.function().raw())
}

/// The outstation's link address.
pub(crate) fn station(tx: &Transaction<'_>) -> Option<u32> {
    Some(u32::from(tx.outstation))
}

/// What a DNP3 function does to the outstation.
fn class_of(function: dnp3::FunctionCode) -> OpClass {
    use dnp3::FunctionCode as F;
    match function {
        F::Read | F::Response | F::UnsolicitedResponse => OpClass::Read,
        F::Write | F::EnableUnsolicited | F::DisableUnsolicited | F::AssignClass => OpClass::Write,
        F::Select
        | F::Operate
        | F::DirectOperate
        | F::DirectOperateNoAck
        | F::ImmediateFreeze
        | F::ImmediateFreezeNoAck
        | F::FreezeClear
        | F::FreezeClearNoAck
        | F::FreezeAtTime
        | F::FreezeAtTimeNoAck => OpClass::Control,
        F::ColdRestart
        | F::WarmRestart
        | F::InitializeData
        | F::InitializeApplication
        | F::StartApplication
        | F::StopApplication => OpClass::Mode,
        F::SaveConfiguration
        | F::OpenFile
        | F::CloseFile
        | F::DeleteFile
        | F::GetFileInfo
        | F::AuthenticateFile
        | F::AbortFile
        | F::ActivateConfiguration => OpClass::Program,
        F::Confirm
        | F::DelayMeasure
        | F::RecordCurrentTime
        | F::AuthenticationRequest
        | F::AuthenticationRequestNoAck
        | F::AuthenticationResponse => OpClass::Session,
        _ => OpClass::Other,
    }
}

/// What the request does: its function with each object header (group,
/// variation, index range); an unsolicited response by its function alone.
pub(crate) fn operations<'a>(tx: &Transaction<'a>, out: &mut dyn FnMut(Op<'a>)) {
    let Some(m) = tx.request.as_ref().or(tx.response.as_ref().filter(|r| r.is_unsolicited()))
    else {
        return;
    };
    let function = m.function();
    let op = Op::new(class_of(function), u32::from(function.raw()), function.name());
    if m.is_unsolicited() {
        return out(op);
    }
    let mut any = false;
    for h in m.object_headers() {
        any = true;
        let mut o = op
            .with(Qual::Group, u32::from(h.group))
            .with(Qual::Variation, u32::from(h.variation));
        if let Some((start, stop)) = h.start_stop() {
            o = o.range(start, stop);
        } else if h.prefix_code() != 0 {
            // Points listed by index (controls): the lowest and highest.
            let mut span: Option<(u32, u32)> = None;
            for p in h.points() {
                let (lo, hi) = span.unwrap_or((p.index, p.index));
                span = Some((lo.min(p.index), hi.max(p.index)));
            }
            if let Some((lo, hi)) = span {
                o = o.range(lo, hi);
            }
        }
        out(o);
    }
    if !any {
        out(op);
    }
}

/// Values of each message (`first`: the request's, unless there is none).
fn messages(
    tx: &Transaction<'_>,
    s: Scope,
    f: Visit<'_>,
    first: bool,
    read: fn(&Message<'_>, Visit<'_>) -> bool,
) -> bool {
    super::messages(tx.request.as_ref(), tx.response.as_ref(), s, f, first, read)
}

#[cfg(test)]
mod tests {
    use otwatch_proto::event::Direction::{ToClient as S2C, ToServer as C2S};
    use otwatch_proto::registry::ProtocolId;

    use crate::protocols::fixture::{assert_every_field_yields, unhex};

    /// Select request (fw_select_operate.pcap frame 4).
    const SELECT: &str = "
        05 64       start octets
        1a          LEN 26: control + addresses + 21 data bytes
        c4          control: DIR, PRM, function 4 unconfirmed user data
        0a 00       destination 10
        01 00       source 1
        8a 1c       header CRC
        c0          transport: FIN, FIR, seq 0
        c0          application control: FIR, FIN, seq 0
        03          function 3 select
        0c 01 28    g12v1 CROB, qualifier 0x28: 2-byte count, 2-byte index prefix
        01 00       count 1
        00 00       index 0
        03          control code: latch on
        01          count 1
        64 00 00 00 on time 100 ms
        fd 6b       CRC of the first 16 data bytes
        64 00 00 00 off time 100 ms
        00          status success
        00 5b       CRC of the last 5 data bytes";
    /// Its response (frame 6).
    const SELECT_RESPONSE: &str = "
        05 64 1c 44 01 00 0a 00 76 36   LEN 28, control PRM + function 4, dest 1, src 10, CRC
        c6          transport: FIN, FIR, seq 6
        c0          application control: FIR, FIN, seq 0
        81          function 129 response
        00 00       IIN: none
        0c 01 28 01 00 00 00   g12v1, qualifier 0x28, count 1, index 0
        03 01 64 00            code latch on, count 1, on time (first half)
        c3 96                  block CRC
        00 00 64 00 00 00 00   on time (second half), off time 100, status success
        00 5b                  block CRC";
    /// Open file request (fw_file_read.pcap frame 1): four CRC blocks.
    const OPEN_FILE: &str = "
        05 64 36 c4 04 00 03 00 f2 c0   LEN 54, DIR PRM unconfirmed, dest 4, src 3, CRC
        e0          transport: FIN, FIR, seq 32
        c1          application control: FIR, FIN, seq 1
        19          function 25 open file
        46 03 5b    g70v3 file command, qualifier 0x5b: 2-byte size prefix, 1-byte count
        01          count 1
        28 00       object size 40
        1a 00       file name offset 26
        0e 00       file name size 14
        00 00 00    creation time (first 3 bytes)
        b9 1c       block CRC
        00 00 00    creation time (last 3 bytes)
        00 00       permissions
        00 00 00 00 authentication key
        00 00 00 00 file size
        01 00       mode 1: read
        00          maximum block size (low byte)
        47 e6       block CRC
        04          maximum block size (high byte): 1024
        04 00       request id 4
        2e 2f 74 65 73 74 66 69 6c 65 2e 74 78   './testfile.tx'
        ea 02       block CRC
        74          't'
        1d ee       block CRC";

    #[test]
    fn every_field_yields_a_value() {
        let [select, response, open_file] = [SELECT, SELECT_RESPONSE, OPEN_FILE].map(unhex);
        assert_every_field_yields(
            ProtocolId::Dnp3,
            &[&[(C2S, &select), (S2C, &response)], &[(C2S, &open_file)]],
        );
    }
}
