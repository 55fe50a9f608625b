//! Modbus/TCP rule fields: each row of [`FIELDS`] with the code that reads
//! it from a [`Transaction`].

use otwatch_proto::modbus::{self, FunctionCode, Message, Request, Response, Transaction};

use super::{both, field, indexed, int, request_first, Buffers, Row, Visit};
use crate::baseline::{Op, OpClass, Qual};
use crate::cond::Val;
use crate::fields::{EnumDef, Kind, Scope, INT16, INT8};

/// How a Modbus field is read.
pub(crate) type Read = fn(&Transaction<'_>, Scope, Visit<'_>) -> bool;

/// Modbus's own fields, after the common ones.
pub(crate) const FIELDS: &[Row<Read>] = &[
    indexed(
        0,
        field("function", Kind::Enum(open_enum_def!(modbus::FunctionCode, 0x7f)), true, "function code (exception bit removed)",
        |tx, s, f| function(tx, s, f, |c| Val::Int(u64::from(c.raw())))),
    ),
    field("access", Kind::Enum(ACCESS), true, "what the function does: read, write, read_write, diagnostics, identification, program, other",
        |tx, s, f| function(tx, s, f, |c| Val::Int(access_code(c.access())))),
    field("unit_id", INT8, false, "MBAP unit identifier",
        |tx, _, f| int(tx.unit_id, f)),
    field("transaction_id", INT16, false, "MBAP transaction identifier",
        |tx, _, f| int(tx.transaction_id, f)),
    field("exception", Kind::Enum(open_enum_def!(modbus::ExceptionCode, 0xff)), false, "exception code of an exception response",
        |tx, _, f| tx.response.and_then(|r| r.exception()).is_some_and(|e| int(e.raw(), f))),
    field("diagnostic.subfunction", Kind::Enum(open_enum_def!(modbus::DiagnosticSubfunction, 0xffff)), true, "sub-function of function 8",
        |tx, s, f| bodies(tx, s, f, |b, f| match b {
            Request::Diagnostics { subfunction, .. } => int(subfunction.raw(), f),
            _ => false,
        }, |b, f| match b {
            Response::Diagnostics { subfunction, .. } => int(subfunction.raw(), f),
            _ => false,
        })),
    field("address", INT16, true, "every address the PDU touches (start .. start + quantity - 1; both ranges of function 23)",
        |tx, s, f| bodies(tx, s, f, request_address, response_address)),
    field("quantity", INT16, true, "number of coils or registers",
        |tx, s, f| bodies(tx, s, f, request_quantity, |b, f| match b {
            Response::WriteMultiple { quantity, .. } => int(quantity, f),
            _ => false,
        })),
    field("value", INT16, true, "each register or coil value written (request) or read (response)",
        |tx, s, f| bodies(tx, s, f, request_value, response_value)),
    field("mei", Kind::Enum(open_enum_def!(modbus::MeiType, 0xff)), true, "MEI type of function 43",
        |tx, s, f| bodies(tx, s, f, |b, f| match b {
            Request::ReadDeviceIdentification { .. } => f(Val::Int(14)),
            Request::Encapsulated { mei, .. } => int(mei.raw(), f),
            _ => false,
        }, |b, f| match b {
            Response::DeviceIdentification(_) => f(Val::Int(14)),
            Response::Encapsulated { mei, .. } => int(mei.raw(), f),
            _ => false,
        })),
    field("device_id.code", Kind::Enum(open_enum_def!(modbus::DeviceIdCode, 0xff)), true, "read device identification access code",
        |tx, s, f| bodies(tx, s, f, |b, f| match b {
            Request::ReadDeviceIdentification { code, .. } => int(code.raw(), f),
            _ => false,
        }, |b, f| match b {
            Response::DeviceIdentification(id) => int(id.code.raw(), f),
            _ => false,
        })),
    field("device_id.object", INT8, true, "device identification object ids asked for or returned",
        |tx, s, f| bodies(tx, s, f, |b, f| match b {
            Request::ReadDeviceIdentification { object_id, .. } => int(object_id, f),
            _ => false,
        }, |b, f| match b {
            Response::DeviceIdentification(id) => id.objects().any(|(oid, _)| int(oid, f)),
            _ => false,
        })),
    field("umas.code", Kind::Enum(open_enum_def!(modbus::UmasCode, 0xff)), true, "UMAS (function 90) sub-function",
        |tx, s, f| bodies(tx, s, f, |b, f| match b {
            Request::Umas { code, .. } => int(code.raw(), f),
            _ => false,
        }, |b, f| match b {
            Response::Umas { code, .. } => int(code.raw(), f),
            _ => false,
        })),
    field("user_defined", Kind::Bool, true, "function code in a user-defined range (65-72, 100-110)",
        |tx, s, f| function(tx, s, f, |c| Val::Bool(c.is_user_defined()))),
    field("malformed", Kind::Bool, true, "the body does not fit its function",
        |tx, s, f| both(s, f,
            |f| tx.request.is_some_and(|m| f(Val::Bool(m.body.is_err()))),
            |f| tx.response.is_some_and(|m| f(Val::Bool(m.body.is_err()))))),
];

/// Whether both messages were seen.
pub(crate) fn answered(tx: &Transaction<'_>) -> bool {
    tx.request.is_some() && tx.response.is_some()
}

/// The request and response PDUs.
pub(crate) fn buffers<'a>(tx: &Transaction<'a>) -> Buffers<'a> {
    [tx.request.map(|m| m.pdu), tx.response.map(|m| m.pdu)]
}

/// Rules are indexed by function code.
pub(crate) fn index_key(tx: &Transaction<'_>) -> u32 {
    u32::from(tx.function().raw())
}

/// The MBAP unit id.
pub(crate) fn station(tx: &Transaction<'_>) -> Option<u32> {
    Some(u32::from(tx.unit_id))
}

/// What the request does: one operation (two for function 23, its read and
/// its write), qualified by the unit id, with the addresses it touches.
pub(crate) fn operations<'a>(tx: &Transaction<'a>, out: &mut dyn FnMut(Op<'a>)) {
    use modbus::{Access, DiagnosticSubfunction as Sub, UmasCode as U};
    let Some(req) = &tx.request else {
        return;
    };
    let code = req.function;
    let op = |class| {
        Op::new(class, u32::from(code.raw()), code.name()).with(Qual::Unit, u32::from(tx.unit_id))
    };
    let by_access = match code.access() {
        Access::Read => OpClass::Read,
        Access::Write => OpClass::Write,
        Access::ReadWrite => OpClass::Write,
        Access::Diagnostics => OpClass::Diagnostic,
        Access::Identification => OpClass::Identify,
        Access::Program => OpClass::Program,
        Access::Other => OpClass::Other,
    };
    let end = |address: u16, quantity: u16| {
        let lo = u32::from(address);
        (lo, lo + u32::from(quantity.max(1)) - 1)
    };
    let Ok(body) = req.body.as_ref() else {
        return out(op(by_access));
    };
    match *body {
        Request::Read { address, quantity }
        | Request::WriteMultipleCoils {
            address, quantity, ..
        }
        | Request::WriteMultipleRegisters {
            address, quantity, ..
        } => {
            let (lo, hi) = end(address, quantity);
            out(op(by_access).range(lo, hi));
        }
        Request::WriteSingleCoil { address, .. }
        | Request::WriteSingleRegister { address, .. }
        | Request::MaskWriteRegister { address, .. }
        | Request::ReadFifoQueue { address } => {
            out(op(by_access).range(u32::from(address), u32::from(address)));
        }
        Request::ReadWriteMultipleRegisters {
            read_address,
            read_quantity,
            write_address,
            write_quantity,
            ..
        } => {
            let (lo, hi) = end(read_address, read_quantity);
            out(op(OpClass::Read).range(lo, hi));
            let (lo, hi) = end(write_address, write_quantity);
            out(op(OpClass::Write).range(lo, hi));
        }
        Request::Diagnostics { subfunction, .. } => {
            let class = match subfunction {
                Sub::ForceListenOnlyMode | Sub::RestartCommunications => OpClass::Mode,
                _ => OpClass::Diagnostic,
            };
            out(op(class).with(Qual::Subfunction, u32::from(subfunction.raw())));
        }
        Request::ReadDeviceIdentification { code, .. } => out(
            op(OpClass::Identify)
                .with(Qual::Subfunction, 14)
                .with(Qual::Code, u32::from(code.raw())),
        ),
        Request::Encapsulated { mei, .. } => {
            let class = if mei.raw() == 14 {
                OpClass::Identify
            } else {
                OpClass::Other
            };
            out(op(class).with(Qual::Subfunction, u32::from(mei.raw())));
        }
        Request::Umas { code: umas, .. } => {
            let class = match umas {
                U::StartPlc | U::StopPlc => OpClass::Mode,
                U::InitializeDownload | U::DownloadBlock | U::EndStrategyDownload => {
                    OpClass::Program
                }
                U::WriteVariables | U::WriteCoilsRegisters | U::WriteIoObject => OpClass::Write,
                U::ReadId | U::ReadProjectInfo | U::ReadPlcInfo | U::ReadCardInfo => {
                    OpClass::Identify
                }
                U::InitCommunication | U::KeepAlive | U::TakePlcReservation
                | U::ReleasePlcReservation => OpClass::Session,
                U::InitializeUpload | U::UploadBlock | U::EndStrategyUpload => OpClass::Program,
                U::Unknown(_) => OpClass::Other,
                _ => OpClass::Read,
            };
            out(op(class).with(Qual::Subfunction, u32::from(umas.raw())));
        }
        _ => out(op(by_access)),
    }
}

/// A value of each message's function code, the request's first.
fn function(
    tx: &Transaction<'_>,
    s: Scope,
    f: Visit<'_>,
    v: fn(FunctionCode) -> Val<'static>,
) -> bool {
    request_first(
        s,
        f,
        |f| tx.request.is_some_and(|m| f(v(m.function))),
        |f| tx.response.is_some_and(|m| f(v(m.function))),
    )
}

/// Values from the decoded bodies of both messages (nothing from a body
/// that does not fit its function).
fn bodies(
    tx: &Transaction<'_>,
    s: Scope,
    f: Visit<'_>,
    req: fn(Request<'_>, Visit<'_>) -> bool,
    rsp: fn(Response<'_>, Visit<'_>) -> bool,
) -> bool {
    fn body<B: Copy>(
        m: &Option<Message<'_, B>>,
        f: Visit<'_>,
        read: fn(B, Visit<'_>) -> bool,
    ) -> bool {
        m.as_ref()
            .is_some_and(|m| m.body.as_ref().is_ok_and(|b| read(*b, f)))
    }
    both(
        s,
        f,
        |f| body(&tx.request, f, req),
        |f| body(&tx.response, f, rsp),
    )
}

fn bits(packed: &[u8], count: usize, f: Visit<'_>) -> bool {
    (0..count.min(packed.len() * 8)).any(|i| f(Val::Int(u64::from(packed[i / 8] >> (i % 8) & 1))))
}

fn registers(values: &[u8], f: Visit<'_>) -> bool {
    values
        .chunks_exact(2)
        .any(|p| f(Val::Int(u64::from(u16::from_be_bytes([p[0], p[1]])))))
}

fn span(address: u16, quantity: u16) -> Val<'static> {
    let lo = u64::from(address);
    Val::Span(lo, lo + u64::from(quantity.max(1)) - 1)
}

fn request_address(b: Request<'_>, f: Visit<'_>) -> bool {
    match b {
        Request::Read { address, quantity }
        | Request::WriteMultipleCoils {
            address, quantity, ..
        }
        | Request::WriteMultipleRegisters {
            address, quantity, ..
        } => f(span(address, quantity)),
        Request::WriteSingleCoil { address, .. }
        | Request::WriteSingleRegister { address, .. }
        | Request::MaskWriteRegister { address, .. }
        | Request::ReadFifoQueue { address } => f(span(address, 1)),
        Request::ReadWriteMultipleRegisters {
            read_address,
            read_quantity,
            write_address,
            write_quantity,
            ..
        } => f(span(read_address, read_quantity)) || f(span(write_address, write_quantity)),
        _ => false,
    }
}

fn response_address(b: Response<'_>, f: Visit<'_>) -> bool {
    match b {
        Response::WriteSingle { address, .. } | Response::MaskWriteRegister { address, .. } => {
            f(span(address, 1))
        }
        Response::WriteMultiple { address, quantity } => f(span(address, quantity)),
        _ => false,
    }
}

fn request_quantity(b: Request<'_>, f: Visit<'_>) -> bool {
    match b {
        Request::Read { quantity, .. }
        | Request::WriteMultipleCoils { quantity, .. }
        | Request::WriteMultipleRegisters { quantity, .. } => int(quantity, f),
        Request::WriteSingleCoil { .. } | Request::WriteSingleRegister { .. } => f(Val::Int(1)),
        Request::ReadWriteMultipleRegisters {
            read_quantity,
            write_quantity,
            ..
        } => int(read_quantity, f) || int(write_quantity, f),
        _ => false,
    }
}

fn request_value(b: Request<'_>, f: Visit<'_>) -> bool {
    match b {
        Request::WriteSingleCoil { on, .. } => int(on, f),
        Request::WriteSingleRegister { value, .. } => int(value, f),
        Request::WriteMultipleCoils {
            quantity, values, ..
        } => bits(values, usize::from(quantity), f),
        Request::WriteMultipleRegisters { values, .. }
        | Request::ReadWriteMultipleRegisters { values, .. } => registers(values, f),
        _ => false,
    }
}

fn response_value(b: Response<'_>, f: Visit<'_>) -> bool {
    match b {
        Response::Bits { values } => bits(values, values.len() * 8, f),
        Response::Registers { values } | Response::FifoQueue { values, .. } => registers(values, f),
        Response::WriteSingle { value, .. } => int(value, f),
        _ => false,
    }
}

const ACCESS_NAMES: &[&str] = &[
    "read",
    "write",
    "read_write",
    "diagnostics",
    "identification",
    "program",
    "other",
];

fn access_code(a: modbus::Access) -> u64 {
    use modbus::Access::*;
    match a {
        Read => 0,
        Write => 1,
        ReadWrite => 2,
        Diagnostics => 3,
        Identification => 4,
        Program => 5,
        Other => 6,
    }
}

const ACCESS: EnumDef = EnumDef {
    lookup: |s| ACCESS_NAMES.iter().position(|n| *n == s).map(|i| i as u64),
    names: || ACCESS_NAMES.to_vec(),
    max: 6,
};

#[cfg(test)]
mod tests {
    use otwatch_proto::event::Direction::{ToClient as S2C, ToServer as C2S};
    use otwatch_proto::registry::ProtocolId;

    use crate::protocols::fixture::{assert_every_field_yields, unhex};

    /// Read holding registers 100-101 and its answer.
    const READ: &str = "
        00 01   transaction 1
        00 00   protocol 0
        00 06   length 6
        01      unit 1
        03      read holding registers
        00 64   address 100
        00 02   quantity 2";
    const READ_ANSWER: &str = "
        00 01 00 00   transaction 1, protocol 0
        00 07         length 7
        01            unit 1
        03            read holding registers
        04            4 bytes
        00 0a         register 100 = 10
        00 0b         register 101 = 11";
    /// Write single register 5 := 0xdead, refused with an exception.
    const WRITE: &str = "
        00 02 00 00   transaction 2, protocol 0
        00 06         length 6
        01            unit 1
        06            write single register
        00 05         address 5
        de ad         value 0xdead";
    const WRITE_EXCEPTION: &str = "
        00 02 00 00   transaction 2, protocol 0
        00 03         length 3
        01            unit 1
        86            write single register + exception bit
        02            illegal data address";
    /// Diagnostics: force listen only mode (the server does not answer).
    const DIAGNOSTICS: &str = "
        00 03 00 00   transaction 3, protocol 0
        00 06         length 6
        01            unit 1
        08            diagnostics
        00 04         sub-function 4: force listen only mode
        00 00         data";
    /// Read device identification, basic, from object 0.
    const DEVICE_ID: &str = "
        00 04 00 00   transaction 4, protocol 0
        00 05         length 5
        01            unit 1
        2b            encapsulated interface transport
        0e            MEI 14: read device identification
        01            access code 1: basic
        00            object 0: vendor name";
    /// UMAS read id (function 90).
    const UMAS: &str = "
        00 05 00 00   transaction 5, protocol 0
        00 04         length 4
        00            unit 0
        5a            UMAS
        00            session key 0
        02            read id";

    #[test]
    fn every_field_yields_a_value() {
        let [read, read_answer, write, write_exception, diagnostics, device_id, umas] = [
            READ,
            READ_ANSWER,
            WRITE,
            WRITE_EXCEPTION,
            DIAGNOSTICS,
            DEVICE_ID,
            UMAS,
        ]
        .map(unhex);
        assert_every_field_yields(
            ProtocolId::Modbus,
            &[
                &[(C2S, &read), (S2C, &read_answer)],
                &[(C2S, &write), (S2C, &write_exception)],
                &[(C2S, &diagnostics)],
                &[(C2S, &device_id)],
                &[(C2S, &umas)],
            ],
        );
    }
}
