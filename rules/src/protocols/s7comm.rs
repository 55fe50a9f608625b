//! S7comm and S7comm-plus rule fields: each row of [`FIELDS`] with the code
//! that reads it from a [`Transaction`].

use otwatch_proto::s7comm::{self, Message, Transaction};

use super::{field, indexed, int, Buffers, Row, Visit};
use crate::baseline::{Op, OpClass, Qual};
use crate::cond::Val;
use crate::fields::{EnumDef, Kind, Scope, INT16, INT32, INT8};

/// How an S7comm field is read.
pub(crate) type Read = fn(&Transaction<'_>, Scope, Visit<'_>) -> bool;

/// Index key of an S7 userdata group (the group is added).
const USERDATA_KEY: u32 = 0x100;
/// Index key of S7 PDUs with neither function nor userdata group.
const OTHER_KEY: u32 = 0x200;

/// S7comm's own fields, after the common ones.
pub(crate) const FIELDS: &[Row<Read>] = &[
    field("rosctr", Kind::Enum(open_enum_def!(s7comm::Rosctr, 0xff)), true, "PDU type: job, ack, ack_data, userdata",
        |tx, s, f| messages(tx, s, f, true, |m, f| int(m.pdu.header.rosctr.raw(), f))),
    indexed(
        0,
        field("function", Kind::Enum(open_enum_def!(s7comm::Function, 0xff)), true, "job function (read_var, write_var, plc_stop, plc_control, request_download, …)",
        |tx, s, f| messages(tx, s, f, true, |m, f| m.pdu.function().is_some_and(|func| int(func.raw(), f)))),
    ),
    indexed(
        USERDATA_KEY,
        field("userdata.group", Kind::Enum(open_enum_def!(s7comm::UserdataGroup, 0xff)), false, "userdata function group",
        |tx, _, f| tx.userdata_function().is_some_and(|(g, _)| int(g.raw(), f))),
    ),
    field("userdata.subfunction", Kind::Enum(EnumDef { lookup: subfunction_lookup, names: subfunction_names, max: 0xffff }), false, "userdata subfunction by name; as a number: group * 256 + subfunction (0x0501 = security plc_password)",
        |tx, _, f| tx.userdata_function().is_some_and(|(g, s)| int(u64::from(g.raw()) << 8 | u64::from(s), f))),
    field("userdata.type", Kind::Enum(open_enum_def!(s7comm::UserdataType, 0xff)), true, "userdata type: push, request, response",
        |tx, s, f| messages(tx, s, f, true, |m, f| m.pdu.userdata().is_some_and(|u| int(u.kind.raw(), f)))),
    field("pi_service", Kind::Text, false, "PI service of plc_control / plc_stop (P_PROGRAM, _INSE, _DELE, _MODU, _GARB, …)",
        |tx, _, f| tx.pi_service().is_some_and(|s| f(Val::Bytes(s)))),
    field("start_mode", Kind::Text, false, "hot_start or cold_start, for a P_PROGRAM start",
        |tx, _, f| tx.pi().and_then(|p| p.start_mode()).is_some_and(|m| f(Val::Bytes(m.as_bytes())))),
    field("szl_id", INT16, false, "SZL id of a read SZL request or answer",
        |tx, _, f| tx.szl().is_some_and(|(id, _)| int(id, f))),
    field("szl_index", INT16, false, "SZL index",
        |tx, _, f| tx.szl().is_some_and(|(_, ix)| int(ix, f))),
    field("area", Kind::Enum(open_enum_def!(s7comm::Area, 0xff)), false, "memory area of each read/write var item (inputs, outputs, flags, db, …)",
        |tx, _, f| tx.areas().any(|a| int(a.raw(), f))),
    field("db_number", INT16, false, "DB number of each read/write var item in a data block",
        |tx, _, f| tx.db_numbers().any(|n| int(n, f))),
    field("byte_address", Kind::Int { max: 0xff_ffff }, false, "byte address of each read/write var item",
        |tx, _, f| tx.var_items().any(|i| int(i.byte_address, f))),
    field("block_type", Kind::Enum(open_enum_def!(s7comm::BlockType, 0xffff)), false, "block type of a download, upload, insert, delete or block info (ob, db, fc, fb, sdb, …)",
        |tx, _, f| tx.block().is_some_and(|b| int(b.block_type.raw(), f))),
    field("block_number", INT32, false, "block number",
        |tx, _, f| tx.block().and_then(|b| b.number).is_some_and(|n| int(n, f))),
    field("error_class", Kind::Enum(open_enum_def!(s7comm::ErrorClass, 0xff)), false, "error class of the ack",
        |tx, _, f| tx.error().is_some_and(|(c, _)| int(c.raw(), f))),
    field("error_code", INT16, false, "error class * 256 + error code of the ack (0xd241 style for userdata errors)",
        |tx, _, f| match tx.error() {
            Some((c, code)) => int(u64::from(c.raw()) << 8 | u64::from(code), f),
            None => tx.userdata_error().is_some_and(|e| int(e, f)),
        }),
    field("error", Kind::Bool, false, "the ack or userdata response reports an error",
        |tx, _, f| f(Val::Bool(tx.error().is_some() || tx.userdata_error().is_some()))),
    field("rack", INT8, false, "PLC rack from the COTP called TSAP",
        |tx, _, f| tx.connection.rack_slot().is_some_and(|(r, _)| int(r, f))),
    field("slot", INT8, false, "PLC slot from the COTP called TSAP",
        |tx, _, f| tx.connection.rack_slot().is_some_and(|(_, s)| int(s, f))),
    field("malformed", Kind::Bool, true, "the body does not fit its function",
        |tx, s, f| messages(tx, s, f, false, |m, f| f(Val::Bool(m.pdu.body.is_err())))),
    field("plus", Kind::Bool, false, "an S7comm-plus PDU",
        |tx, _, f| f(Val::Bool(tx.plus.is_some()))),
    field("plus.opcode", Kind::Enum(open_enum_def!(s7comm::codes::PlusOpcode, 0xff)), false, "S7comm-plus opcode",
        |tx, _, f| tx.plus_header().is_some_and(|h| int(h.opcode.raw(), f))),
    field("plus.function", Kind::Enum(open_enum_def!(s7comm::codes::PlusFunction, 0xffff)), false, "S7comm-plus function",
        |tx, _, f| tx.plus_header().and_then(|h| h.function).is_some_and(|func| int(func.raw(), f))),
];

/// Whether both messages were seen (S7comm or S7comm-plus).
pub(crate) fn answered(tx: &Transaction<'_>) -> bool {
    (tx.request.is_some() && tx.response.is_some())
        || (tx.plus.is_some() && tx.plus_response.is_some())
}

/// The request and response S7 PDUs.
pub(crate) fn buffers<'a>(tx: &Transaction<'a>) -> Buffers<'a> {
    [
        tx.request.map(|m| m.pdu.bytes),
        tx.response.map(|m| m.pdu.bytes),
    ]
}

/// Rules are indexed by job function, else by userdata group.
pub(crate) fn index_key(tx: &Transaction<'_>) -> u32 {
    match (tx.function(), tx.userdata_function()) {
        (Some(f), _) => u32::from(f.raw()),
        (None, Some((g, _))) => USERDATA_KEY + u32::from(g.raw()),
        (None, None) => OTHER_KEY,
    }
}

/// S7 has no station within a connection's PLC.
pub(crate) fn station(_tx: &Transaction<'_>) -> Option<u32> {
    None
}

/// Operation code of an S7 userdata function: group * 256 + subfunction,
/// above the job function codes.
const USERDATA_OP: u32 = 0x1_0000;
/// Operation code of an S7comm-plus function: opcode * 65536 + function,
/// above the userdata codes.
const PLUS_OP: u32 = 0x100_0000;

/// Bytes of one element of a transport size.
fn element_bytes(size: s7comm::codes::TransportSize) -> u32 {
    use s7comm::codes::TransportSize as T;
    match size {
        T::Word | T::Int | T::Date | T::S5Time | T::Counter | T::Timer => 2,
        T::Dword | T::Dint | T::Real | T::TimeOfDay | T::Time => 4,
        T::DateAndTime => 8,
        _ => 1,
    }
}

/// What the job or userdata request does: each read or write var item (its
/// area, DB and bytes), a PI service, a block transfer, a userdata function
/// (with the SZL id of a read SZL); an S7comm-plus request by function.
pub(crate) fn operations<'a>(tx: &Transaction<'a>, out: &mut dyn FnMut(Op<'a>)) {
    use s7comm::{Function as F, UserdataGroup as G};
    if let Some(plus) = &tx.plus {
        let Some(h) = plus.pdu.data_header() else {
            return;
        };
        if plus.direction != otwatch_proto::event::Direction::ToServer {
            return;
        }
        let func = h.function.map_or(0, |f| f.raw());
        let class = match h.function.and_then(|f| f.name()) {
            Some("get_multi_variables" | "get_variable" | "get_var_substreamed" | "get_link") => {
                OpClass::Read
            }
            Some("set_multi_variables" | "set_variable" | "set_var_substreamed") => OpClass::Write,
            Some("explore" | "get_variables_address") => OpClass::Identify,
            Some("create_object" | "delete_object" | "begin_sequence" | "end_sequence") => {
                OpClass::Session
            }
            Some("invoke") => OpClass::Control,
            _ => OpClass::Other,
        };
        let code = PLUS_OP + (u32::from(h.opcode.raw()) << 16 | u32::from(func));
        return out(Op::new(class, code, h.function.and_then(|f| f.name())));
    }
    let Some(req) = &tx.request else {
        return;
    };
    if req.direction != otwatch_proto::event::Direction::ToServer {
        return;
    }
    let Ok(body) = req.pdu.body else {
        if let Some(f) = req.pdu.function() {
            out(Op::new(OpClass::Other, u32::from(f.raw()), f.name()));
        }
        return;
    };
    let job = |class, f: F| Op::new(class, u32::from(f.raw()), f.name());
    match body {
        s7comm::s7::Body::ReadVarRequest(items) | s7comm::s7::Body::WriteVarRequest { items, .. } => {
            let (class, f) = match body {
                s7comm::s7::Body::ReadVarRequest(_) => (OpClass::Read, F::ReadVar),
                _ => (OpClass::Write, F::WriteVar),
            };
            for item in items.iter() {
                let s7comm::s7::VarItem::Any(any) = item else {
                    out(job(class, f));
                    continue;
                };
                let mut op = job(class, f).with(Qual::Area, u32::from(any.area.raw()));
                if matches!(any.area, s7comm::Area::DataBlock | s7comm::Area::InstanceDataBlock) {
                    op = op.with(Qual::Db, u32::from(any.db_number));
                }
                let bytes = u32::from(any.length.max(1)) * element_bytes(any.transport_size);
                out(op.range(any.byte_address, any.byte_address.saturating_add(bytes - 1)));
            }
        }
        s7comm::s7::Body::PlcControl(pi) => {
            let class = match pi.service {
                b"_INSE" | b"_DELE" | b"_MODU" | b"_GARB" | b"_N_LOGIN_" => OpClass::Program,
                _ => OpClass::Mode,
            };
            out(job(class, F::PlcControl).with_text(Qual::Service, pi.service));
        }
        s7comm::s7::Body::PlcStop { service } => {
            out(job(OpClass::Mode, F::PlcStop).with_text(Qual::Service, service));
        }
        s7comm::s7::Body::Userdata(u) => {
            let class = match u.group {
                G::CpuFunctions if u.subfunction == 1 => OpClass::Identify,
                G::CpuFunctions => OpClass::Diagnostic,
                G::BlockFunctions => OpClass::Identify,
                G::ProgrammerCommands => OpClass::Write,
                G::CyclicData => OpClass::Read,
                G::Security | G::ModeTransition => OpClass::Mode,
                G::TimeFunctions if matches!(u.subfunction, 2 | 4) => OpClass::Write,
                G::TimeFunctions => OpClass::Session,
                _ => OpClass::Other,
            };
            let code = USERDATA_OP + (u32::from(u.group.raw()) << 8 | u32::from(u.subfunction));
            let mut op = Op::new(class, code, s7comm::codes::subfunction_name(u.group, u.subfunction));
            if let Some((id, _)) = tx.szl() {
                op = op.with(Qual::Szl, u32::from(id));
            }
            out(op);
        }
        _ => {
            let Some(f) = req.pdu.function() else {
                return;
            };
            let class = match f {
                F::SetupCommunication => OpClass::Session,
                F::RequestDownload | F::DownloadBlock | F::DownloadEnded | F::StartUpload
                | F::Upload | F::EndUpload => OpClass::Program,
                F::CpuServices | F::ModeTransition => OpClass::Mode,
                _ => OpClass::Other,
            };
            let mut op = job(class, f);
            if let Some(b) = tx.block() {
                op = op.with(Qual::BlockType, u32::from(b.block_type.raw()));
            }
            out(op);
        }
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

/// S7 userdata groups whose subfunctions have names.
const GROUPS: [s7comm::UserdataGroup; 7] = [
    s7comm::UserdataGroup::ModeTransition,
    s7comm::UserdataGroup::ProgrammerCommands,
    s7comm::UserdataGroup::CyclicData,
    s7comm::UserdataGroup::BlockFunctions,
    s7comm::UserdataGroup::CpuFunctions,
    s7comm::UserdataGroup::Security,
    s7comm::UserdataGroup::TimeFunctions,
];

/// Every named userdata subfunction: group * 256 + subfunction, and name.
fn subfunctions() -> impl Iterator<Item = (u64, &'static str)> {
    GROUPS.into_iter().flat_map(|g| {
        (0..=255u8).filter_map(move |sub| {
            let name = s7comm::codes::subfunction_name(g, sub)?;
            Some((u64::from(g.raw()) << 8 | u64::from(sub), name))
        })
    })
}

fn subfunction_lookup(name: &str) -> Option<u64> {
    subfunctions().find(|(_, n)| *n == name).map(|(v, _)| v)
}

fn subfunction_names() -> Vec<&'static str> {
    let mut out = Vec::new();
    for (_, n) in subfunctions() {
        if !out.contains(&n) {
            out.push(n);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use otwatch_proto::event::Direction::{ToClient as S2C, ToServer as C2S};
    use otwatch_proto::registry::ProtocolId;

    use super::*;
    use crate::protocols::fixture::{assert_every_field_yields, unhex};

    #[test]
    fn resolves_subfunction_names_with_their_group() {
        assert_eq!(subfunction_lookup("plc_password"), Some(0x0501));
        assert_eq!(subfunction_lookup("read_szl"), Some(0x0401));
        assert!(subfunction_names().contains(&"clear_password"));
    }

    /// COTP connection request (downloading_block_db1.pcap frame 5).
    const CR: &str = "
        03 00 00 16   TPKT v3, length 22
        11            COTP length 17
        e0            connection request, credit 0
        00 00         destination reference
        00 07         source reference
        00            class 0
        c1 02 01 00   calling TSAP 0x0100
        c2 02 01 02   called TSAP 0x0102: rack 0, slot 2
        c0 01 0a      TPDU size 1024";
    /// Its confirm (frame 6).
    const CC: &str = "
        03 00 00 16   TPKT v3, length 22
        11 d0         COTP length 17, connection confirm
        00 07 00 03   destination reference 7, source reference 3
        00            class 0
        c0 01 0a      TPDU size 1024
        c1 02 01 00   calling TSAP
        c2 02 01 02   called TSAP";
    /// Setup communication job and its ack_data (snap7_s300_everything.pcap
    /// frames 1-2).
    const SETUP: &str = "
        03 00 00 19   TPKT, length 25
        02 f0 80      COTP data, last unit
        32 01         S7, job
        00 00 00 00   redundancy id, PDU reference 0
        00 08 00 00   parameter length 8, data length 0
        f0 00         setup communication, reserved
        00 01 00 01   max AmQ calling 1, called 1
        01 e0         PDU size 480";
    const SETUP_ACK: &str = "
        03 00 00 1b 02 f0 80   TPKT length 27, COTP data
        32 03                  S7, ack_data
        00 00 00 00            redundancy id, PDU reference 0
        00 08 00 00            parameter length 8, data length 0
        00 00                  no error
        f0 00 00 01 00 01      setup communication, AmQ 1 / 1
        00 f0                  PDU size 240";
    /// Read var of DB1.DBB16, 4 bytes, and its answer.
    const READ_DB: &str = "
        03 00 00 1f 02 f0 80   TPKT length 31, COTP data
        32 01 00 00            S7 job
        19 00                  PDU reference 0x1900
        00 0e 00 00            parameter length 14, data length 0
        04 01                  read var, 1 item
        12 0a 10               variable specification, 10 bytes, S7ANY
        02                     transport size BYTE
        00 04                  4 elements
        00 01                  data block 1
        84                     area: data blocks
        00 00 80               address 16.0 (byte << 3 | bit)";
    const READ_DB_ACK: &str = "
        03 00 00 1d 02 f0 80   TPKT length 29, COTP data
        32 03 00 00 19 00      ack_data, reference 0x1900
        00 02 00 08            parameter length 2, data length 8
        00 00                  no error
        04 01                  read var, 1 item
        ff                     success
        04                     transport size: length in bits
        00 20                  length in bits: 32
        01 02 03 04            the bytes";
    /// Read SZL 0x0011 index 0 (snap7_s300_everything.pcap frame 3).
    const SZL: &str = "
        03 00 00 21 02 f0 80   TPKT length 33, COTP data
        32 07 00 00 01 00      userdata, reference 0x0100
        00 08 00 08            parameter length 8, data length 8
        00 01 12 04            parameter head, 4 bytes follow
        11                     method: request
        44                     type request, group 4 CPU functions
        01                     read SZL
        00                     sequence 0
        ff 09 00 04            success, octet string, 4 bytes
        00 11                  SZL 0x0011 module identification
        00 00                  index 0";
    /// PLC control: cold start of P_PROGRAM (snap7_s300_everything.pcap
    /// frame 63).
    const COLD_START: &str = "
        03 00 00 27 02 f0 80   TPKT length 39, COTP data
        32 01 00 00 1f 00      job, reference 0x1f00
        00 16 00 00            parameter length 22, data length 0
        28                     PLC control
        00 00 00 00 00 00 fd   unknown
        00 02                  parameter block length 2
        43 20                  'C ': cold start
        09                     service name length 9
        50 5f 50 52 4f 47 52 41 4d   'P_PROGRAM'";
    /// PLC control `_INSE` of DB1 (downloading_block_db1.pcap frame 58).
    const INSERT: &str = "
        03 00 00 2b 02 f0 80   TPKT length 43, COTP data
        32 01 00 00 0f 00      job, reference 0x0f00
        00 1a 00 00            parameter length 26, data length 0
        28                     PLC control
        00 00 00 00 00 00 fd   unknown
        00 0a                  parameter block length 10
        01 00                  1 block, reserved
        30 41 30 30 30 30 31 50   '0A00001P': DB 1, passive file system
        05                     service name length 5
        5f 49 4e 53 45         '_INSE'";
    /// Start upload of DB1, refused (error class 0xd2, code 0x41).
    const UPLOAD: &str = "
        03 00 00 23 02 f0 80   TPKT length 35, COTP data
        32 01 00 00 0c 00      job, reference 0x0c00
        00 12 00 00            parameter length 18, data length 0
        1d 00                  start upload, status 0
        00 00                  unknown
        00 00 00 00            upload id 0
        09                     file name length 9
        5f 30 41 30 30 30 30 31 41   '_0A00001A': DB 1";
    const UPLOAD_REFUSED: &str = "
        03 00 00 13 02 f0 80   TPKT length 19, COTP data
        32 02 00 00 0c 00      ack, reference 0x0c00
        00 00 00 00            no parameter, no data
        d2 41                  error class 0xd2, code 0x41";
    /// S7comm-plus V2 GetMultiVariables request and response (s7_1200_hmi.pcap
    /// frames 20 and 22).
    const PLUS: &str = "
        03 00 00 53 02 f0 80   TPKT length 83, COTP data
        72 02 00 44            S7comm-plus V2, 68 data bytes
        31 00 00               request, reserved
        05 4c                  get multi variables
        00 00                  reserved
        00 03                  sequence 3
        00 00 03 be            session id 0x3be
        34                     transport flags
        00 00 00 00 03 0e 00 32 01 9a 7b 00 81 49 02 88 0d 87 68 00   body
        81 49 02 88 0d 87 69 00 00 04 e8 89 69 00 12 00 00 00 00 89   body
        6a 00 13 00 89 6b 00 04 00 00 00 00 00 00                     body
        72 02 00 00            trailer";
    const PLUS_RESPONSE: &str = "
        03 00 00 2c 02 f0 80   TPKT length 44, COTP data
        72 02 00 1d            S7comm-plus V2, 29 data bytes
        32 00 00               response, reserved
        05 4c                  get multi variables
        00 00                  reserved
        00 03                  sequence 3
        34                     transport flags
        00 01 00 08 01 02 00 08 32 03 00 08 32 00 00 00 00 00 00   body
        72 02 00 00            trailer";

    #[test]
    fn every_field_yields_a_value() {
        let frames = [
            CR,
            CC,
            SETUP,
            SETUP_ACK,
            READ_DB,
            READ_DB_ACK,
            SZL,
            COLD_START,
            INSERT,
            UPLOAD,
            UPLOAD_REFUSED,
            PLUS,
            PLUS_RESPONSE,
        ]
        .map(unhex);
        let [cr, cc, setup, setup_ack, read, read_ack, szl, cold, insert, upload, refused, plus, plus_rsp] =
            &frames;
        assert_every_field_yields(
            ProtocolId::S7comm,
            &[
                &[
                    (C2S, cr),
                    (S2C, cc),
                    (C2S, setup),
                    (S2C, setup_ack),
                    (C2S, read),
                    (S2C, read_ack),
                    (C2S, szl),
                    (C2S, cold),
                    (C2S, insert),
                    (C2S, upload),
                    (S2C, refused),
                ],
                &[(C2S, plus), (S2C, plus_rsp)],
            ],
        );
    }
}
