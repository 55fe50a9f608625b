//! Reading field values out of borrowed events, without allocating: every
//! field is a walk over the dissector's views that hands values to a
//! callback until it says "found".

use std::net::IpAddr;

use otwatch_proto::event::AppEvent;
use otwatch_proto::modbus::{self, Request, Response};
use otwatch_proto::{dnp3, s7comm};

use crate::cond::Val;
use crate::fields::{access_code, Field, Scope};

/// The flow facts rules match on. `src` is the client (master), `dest` the
/// server (PLC, outstation), as in EVE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowInfo {
    /// EVE flow id (0 for frames outside any flow).
    pub id: u64,
    /// Client address.
    pub src: IpAddr,
    /// Client port.
    pub src_port: u16,
    /// Server address.
    pub dest: IpAddr,
    /// Server port.
    pub dest_port: u16,
}

type Visit<'f> = &'f mut dyn FnMut(Val<'_>) -> bool;

/// Calls `f` with each value of `field` in the event until it returns true.
pub(crate) fn each_value(
    flow: &FlowInfo,
    app: &AppEvent<'_>,
    field: Field,
    scope: Scope,
    f: Visit<'_>,
) -> bool {
    match field {
        Field::SrcIp => return f(Val::Ip(flow.src)),
        Field::DestIp => return f(Val::Ip(flow.dest)),
        Field::AnyIp => return f(Val::Ip(flow.src)) || f(Val::Ip(flow.dest)),
        Field::SrcPort => return f(Val::Int(u64::from(flow.src_port))),
        Field::DestPort => return f(Val::Int(u64::from(flow.dest_port))),
        Field::AnyPort => {
            return f(Val::Int(u64::from(flow.src_port))) || f(Val::Int(u64::from(flow.dest_port)))
        }
        _ => {}
    }
    match app {
        AppEvent::Anomaly(a) => field == Field::Anomaly && f(Val::Name(a.name)),
        AppEvent::Modbus(tx) => modbus_values(tx, field, scope, f),
        AppEvent::S7comm(tx) => s7_values(tx, field, scope, f),
        AppEvent::Dnp3(tx) => dnp3_values(tx, field, scope, f),
    }
}

/// Fields that, unscoped, are the request's (the response's only when
/// there is no request): what the transaction *is*. Every other field is
/// read from both messages.
fn request_first(field: Field) -> bool {
    matches!(
        field,
        Field::MbFunction
            | Field::MbAccess
            | Field::MbUserDefined
            | Field::S7Function
            | Field::S7Rosctr
            | Field::S7UdType
            | Field::DnFunction
            | Field::DnSource
            | Field::DnDestination
            | Field::DnSeq
    )
}

/// Runs `req` then, unless the scope forbids it or (for request-first
/// fields) the request carried the field, `rsp`.
fn either(
    scope: Scope,
    field: Field,
    f: Visit<'_>,
    req: impl FnOnce(Visit<'_>) -> bool,
    rsp: impl FnOnce(Visit<'_>) -> bool,
) -> bool {
    let mut seen = false;
    if scope != Scope::Response {
        let hit = req(&mut |v| {
            seen = true;
            f(v)
        });
        if hit {
            return true;
        }
        if scope == Scope::Request || (seen && request_first(field)) {
            return false;
        }
    }
    rsp(f)
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

fn modbus_values(tx: &modbus::Transaction<'_>, field: Field, scope: Scope, f: Visit<'_>) -> bool {
    match field {
        Field::MbUnitId => f(Val::Int(u64::from(tx.unit_id))),
        Field::MbTransactionId => f(Val::Int(u64::from(tx.transaction_id))),
        Field::Answered => f(Val::Bool(tx.request.is_some() && tx.response.is_some())),
        Field::MbException => tx
            .response
            .and_then(|r| r.exception())
            .is_some_and(|e| f(Val::Int(u64::from(e.raw())))),
        Field::Content => {
            (scope != Scope::Response && tx.request.is_some() && f(Val::Buf(0)))
                || (scope != Scope::Request && tx.response.is_some() && f(Val::Buf(1)))
        }
        _ => either(
            scope,
            field,
            f,
            |f| {
                tx.request
                    .as_ref()
                    .is_some_and(|m| modbus_request(m, field, f))
            },
            |f| {
                tx.response
                    .as_ref()
                    .is_some_and(|m| modbus_response(m, field, f))
            },
        ),
    }
}

fn modbus_function(function: modbus::FunctionCode, field: Field, f: Visit<'_>) -> Option<bool> {
    Some(match field {
        Field::MbFunction => f(Val::Int(u64::from(function.raw()))),
        Field::MbAccess => f(Val::Int(access_code(function.access()))),
        Field::MbUserDefined => f(Val::Bool(function.is_user_defined())),
        _ => return None,
    })
}

fn modbus_request(m: &modbus::Message<'_, Request<'_>>, field: Field, f: Visit<'_>) -> bool {
    if let Some(hit) = modbus_function(m.function, field, f) {
        return hit;
    }
    if field == Field::MbMalformed {
        return f(Val::Bool(m.body.is_err()));
    }
    let Ok(body) = &m.body else { return false };
    match (field, *body) {
        (Field::MbDiagSub, Request::Diagnostics { subfunction, .. }) => {
            f(Val::Int(u64::from(subfunction.raw())))
        }
        (Field::MbAddress, Request::Read { address, quantity }) => f(span(address, quantity)),
        (Field::MbAddress, Request::WriteSingleCoil { address, .. })
        | (Field::MbAddress, Request::WriteSingleRegister { address, .. })
        | (Field::MbAddress, Request::MaskWriteRegister { address, .. })
        | (Field::MbAddress, Request::ReadFifoQueue { address }) => f(span(address, 1)),
        (
            Field::MbAddress,
            Request::WriteMultipleCoils {
                address, quantity, ..
            },
        )
        | (
            Field::MbAddress,
            Request::WriteMultipleRegisters {
                address, quantity, ..
            },
        ) => f(span(address, quantity)),
        (
            Field::MbAddress,
            Request::ReadWriteMultipleRegisters {
                read_address,
                read_quantity,
                write_address,
                write_quantity,
                ..
            },
        ) => f(span(read_address, read_quantity)) || f(span(write_address, write_quantity)),
        (Field::MbQuantity, Request::Read { quantity, .. })
        | (Field::MbQuantity, Request::WriteMultipleCoils { quantity, .. })
        | (Field::MbQuantity, Request::WriteMultipleRegisters { quantity, .. }) => {
            f(Val::Int(u64::from(quantity)))
        }
        (Field::MbQuantity, Request::WriteSingleCoil { .. })
        | (Field::MbQuantity, Request::WriteSingleRegister { .. }) => f(Val::Int(1)),
        (
            Field::MbQuantity,
            Request::ReadWriteMultipleRegisters {
                read_quantity,
                write_quantity,
                ..
            },
        ) => f(Val::Int(u64::from(read_quantity))) || f(Val::Int(u64::from(write_quantity))),
        (Field::MbValue, Request::WriteSingleCoil { on, .. }) => f(Val::Int(u64::from(on))),
        (Field::MbValue, Request::WriteSingleRegister { value, .. }) => {
            f(Val::Int(u64::from(value)))
        }
        (
            Field::MbValue,
            Request::WriteMultipleCoils {
                quantity, values, ..
            },
        ) => bits(values, usize::from(quantity), f),
        (Field::MbValue, Request::WriteMultipleRegisters { values, .. })
        | (Field::MbValue, Request::ReadWriteMultipleRegisters { values, .. }) => {
            registers(values, f)
        }
        (Field::MbMei, Request::ReadDeviceIdentification { .. }) => f(Val::Int(14)),
        (Field::MbMei, Request::Encapsulated { mei, .. }) => f(Val::Int(u64::from(mei.raw()))),
        (Field::MbDeviceIdCode, Request::ReadDeviceIdentification { code, .. }) => {
            f(Val::Int(u64::from(code.raw())))
        }
        (Field::MbDeviceIdObject, Request::ReadDeviceIdentification { object_id, .. }) => {
            f(Val::Int(u64::from(object_id)))
        }
        (Field::MbUmasCode, Request::Umas { code, .. }) => f(Val::Int(u64::from(code.raw()))),
        _ => false,
    }
}

fn modbus_response(m: &modbus::Message<'_, Response<'_>>, field: Field, f: Visit<'_>) -> bool {
    if let Some(hit) = modbus_function(m.function, field, f) {
        return hit;
    }
    if field == Field::MbMalformed {
        return f(Val::Bool(m.body.is_err()));
    }
    let Ok(body) = &m.body else { return false };
    match (field, *body) {
        (Field::MbDiagSub, Response::Diagnostics { subfunction, .. }) => {
            f(Val::Int(u64::from(subfunction.raw())))
        }
        (Field::MbAddress, Response::WriteSingle { address, .. })
        | (Field::MbAddress, Response::MaskWriteRegister { address, .. }) => f(span(address, 1)),
        (Field::MbAddress, Response::WriteMultiple { address, quantity }) => {
            f(span(address, quantity))
        }
        (Field::MbQuantity, Response::WriteMultiple { quantity, .. }) => {
            f(Val::Int(u64::from(quantity)))
        }
        (Field::MbValue, Response::Bits { values }) => bits(values, values.len() * 8, f),
        (Field::MbValue, Response::Registers { values })
        | (Field::MbValue, Response::FifoQueue { values, .. }) => registers(values, f),
        (Field::MbValue, Response::WriteSingle { value, .. }) => f(Val::Int(u64::from(value))),
        (Field::MbMei, Response::DeviceIdentification(_)) => f(Val::Int(14)),
        (Field::MbMei, Response::Encapsulated { mei, .. }) => f(Val::Int(u64::from(mei.raw()))),
        (Field::MbDeviceIdCode, Response::DeviceIdentification(id)) => {
            f(Val::Int(u64::from(id.code.raw())))
        }
        (Field::MbDeviceIdObject, Response::DeviceIdentification(id)) => {
            id.objects().any(|(oid, _)| f(Val::Int(u64::from(oid))))
        }
        (Field::MbUmasCode, Response::Umas { code, .. }) => f(Val::Int(u64::from(code.raw()))),
        _ => false,
    }
}

fn s7_values(tx: &s7comm::Transaction<'_>, field: Field, scope: Scope, f: Visit<'_>) -> bool {
    let int = |v: u64, f: Visit<'_>| f(Val::Int(v));
    match field {
        Field::Answered => f(Val::Bool(
            (tx.request.is_some() && tx.response.is_some())
                || (tx.plus.is_some() && tx.plus_response.is_some()),
        )),
        Field::Content => {
            (scope != Scope::Response && tx.request.is_some() && f(Val::Buf(0)))
                || (scope != Scope::Request && tx.response.is_some() && f(Val::Buf(1)))
        }
        Field::S7Rosctr | Field::S7Function | Field::S7UdType | Field::S7Malformed => either(
            scope,
            field,
            f,
            |f| tx.request.as_ref().is_some_and(|m| s7_message(m, field, f)),
            |f| {
                tx.response
                    .as_ref()
                    .is_some_and(|m| s7_message(m, field, f))
            },
        ),
        Field::S7UdGroup => tx
            .userdata_function()
            .is_some_and(|(g, _)| int(u64::from(g.raw()), f)),
        Field::S7UdSub => tx
            .userdata_function()
            .is_some_and(|(g, s)| int(u64::from(g.raw()) << 8 | u64::from(s), f)),
        Field::S7PiService => tx.pi_service().is_some_and(|s| f(Val::Bytes(s))),
        Field::S7StartMode => tx
            .pi()
            .and_then(|p| p.start_mode())
            .is_some_and(|m| f(Val::Bytes(m.as_bytes()))),
        Field::S7SzlId => tx.szl().is_some_and(|(id, _)| int(u64::from(id), f)),
        Field::S7SzlIndex => tx.szl().is_some_and(|(_, ix)| int(u64::from(ix), f)),
        Field::S7Area => tx.areas().any(|a| f(Val::Int(u64::from(a.raw())))),
        Field::S7DbNumber => tx.db_numbers().any(|n| f(Val::Int(u64::from(n)))),
        Field::S7ByteAddress => tx
            .var_items()
            .any(|i| f(Val::Int(u64::from(i.byte_address)))),
        Field::S7BlockType => tx
            .block()
            .is_some_and(|b| int(u64::from(b.block_type.raw()), f)),
        Field::S7BlockNumber => tx
            .block()
            .and_then(|b| b.number)
            .is_some_and(|n| int(u64::from(n), f)),
        Field::S7ErrorClass => tx.error().is_some_and(|(c, _)| int(u64::from(c.raw()), f)),
        Field::S7ErrorCode => match tx.error() {
            Some((c, code)) => int(u64::from(c.raw()) << 8 | u64::from(code), f),
            None => tx.userdata_error().is_some_and(|e| int(u64::from(e), f)),
        },
        Field::S7Error => f(Val::Bool(
            tx.error().is_some() || tx.userdata_error().is_some(),
        )),
        Field::S7Rack => tx
            .connection
            .rack_slot()
            .is_some_and(|(r, _)| int(u64::from(r), f)),
        Field::S7Slot => tx
            .connection
            .rack_slot()
            .is_some_and(|(_, s)| int(u64::from(s), f)),
        Field::S7Plus => f(Val::Bool(tx.plus.is_some())),
        Field::S7PlusOpcode => tx
            .plus_header()
            .is_some_and(|h| int(u64::from(h.opcode.raw()), f)),
        Field::S7PlusFunction => tx
            .plus_header()
            .and_then(|h| h.function)
            .is_some_and(|func| int(u64::from(func.raw()), f)),
        _ => false,
    }
}

fn s7_message(m: &s7comm::Message<'_>, field: Field, f: Visit<'_>) -> bool {
    match field {
        Field::S7Rosctr => f(Val::Int(u64::from(m.pdu.header.rosctr.raw()))),
        Field::S7Function => m
            .pdu
            .function()
            .is_some_and(|func| f(Val::Int(u64::from(func.raw())))),
        Field::S7UdType => m
            .pdu
            .userdata()
            .is_some_and(|u| f(Val::Int(u64::from(u.kind.raw())))),
        Field::S7Malformed => f(Val::Bool(m.pdu.body.is_err())),
        _ => false,
    }
}

fn dnp3_values(tx: &dnp3::Transaction<'_>, field: Field, scope: Scope, f: Visit<'_>) -> bool {
    match field {
        Field::Answered => f(Val::Bool(tx.request.is_some() && tx.response.is_some())),
        Field::Content => {
            (scope != Scope::Response && tx.request.is_some() && f(Val::Buf(0)))
                || (scope != Scope::Request && tx.response.is_some() && f(Val::Buf(1)))
        }
        Field::DnIin => tx.iin().is_some_and(|i| f(Val::Int(u64::from(i.0)))),
        Field::DnMaster => f(Val::Int(u64::from(tx.master))),
        Field::DnOutstation => f(Val::Int(u64::from(tx.outstation))),
        Field::DnUnsolicited => f(Val::Bool(tx.response.is_some_and(|r| r.is_unsolicited()))),
        Field::DnBroadcast => f(Val::Bool(
            tx.request.is_some_and(|r| r.destination >= 0xfffd),
        )),
        _ => either(
            scope,
            field,
            f,
            |f| {
                tx.request
                    .as_ref()
                    .is_some_and(|m| dnp3_message(m, field, f))
            },
            |f| {
                tx.response
                    .as_ref()
                    .is_some_and(|m| dnp3_message(m, field, f))
            },
        ),
    }
}

fn dnp3_message(m: &dnp3::Message<'_>, field: Field, f: Visit<'_>) -> bool {
    match field {
        Field::DnFunction => f(Val::Int(u64::from(m.function().raw()))),
        Field::DnGroup => m.object_headers().any(|h| f(Val::Int(u64::from(h.group)))),
        Field::DnVariation => m
            .object_headers()
            .any(|h| f(Val::Int(u64::from(h.variation)))),
        Field::DnPointIndex => m.points().any(|(_, p)| f(Val::Int(u64::from(p.index)))),
        Field::DnCrobOp => m
            .crobs()
            .any(|(_, c)| f(Val::Int(u64::from(c.op_type().raw())))),
        Field::DnCrobTripClose => m
            .crobs()
            .any(|(_, c)| f(Val::Int(u64::from(c.trip_close().raw())))),
        Field::DnFileName => m.file_names().any(|n| f(Val::Bytes(n))),
        Field::DnSource => f(Val::Int(u64::from(m.source))),
        Field::DnDestination => f(Val::Int(u64::from(m.destination))),
        Field::DnSeq => f(Val::Int(u64::from(m.control().seq()))),
        Field::DnMalformed => f(Val::Bool(m.error.is_some())),
        _ => false,
    }
}

/// The raw bytes content patterns are searched in: request (0) and
/// response (1) PDU or fragment.
pub(crate) fn buffers<'a>(app: &AppEvent<'a>) -> [Option<&'a [u8]>; 2] {
    match app {
        AppEvent::Modbus(tx) => [tx.request.map(|m| m.pdu), tx.response.map(|m| m.pdu)],
        AppEvent::S7comm(tx) => [
            tx.request.map(|m| m.pdu.bytes),
            tx.response.map(|m| m.pdu.bytes),
        ],
        AppEvent::Dnp3(tx) => [
            tx.request.map(|m| m.fragment),
            tx.response.map(|m| m.fragment),
        ],
        AppEvent::Anomaly(_) => [None, None],
    }
}
