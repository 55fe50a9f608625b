//! The EVE `modbus` object: plain serialization of a [`Transaction`] into a
//! [`JsonWriter`], no I/O.

use super::codes::{DeviceObjectId, DiagnosticSubfunction, FunctionCode, MeiType, UmasCode};
use super::pdu::{PduError, Request, Response};
use super::Transaction;
use crate::json::JsonWriter;

impl Transaction<'_> {
    /// Writes the body of the EVE `modbus` object.
    pub fn write_eve(&self, w: &mut JsonWriter<'_>) {
        w.field_u64("transaction_id", u64::from(self.transaction_id));
        w.field_u64("unit_id", u64::from(self.unit_id));
        if let Some(req) = &self.request {
            w.field_object("request", |w| {
                write_function(w, req.function);
                match &req.body {
                    Ok(body) => write_request(w, body),
                    Err(err) => write_error(w, err, req.pdu),
                }
            });
        }
        if let Some(resp) = &self.response {
            w.field_object("response", |w| {
                write_function(w, resp.function);
                match &resp.body {
                    Ok(body) => write_response(w, body),
                    Err(err) => write_error(w, err, resp.pdu),
                }
            });
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

// Bodies that requests and responses of a function share.

fn write_diagnostic(w: &mut JsonWriter<'_>, subfunction: DiagnosticSubfunction, data: &[u8]) {
    w.key("diagnostic").begin_object();
    w.field_enum("subfunction", "name", subfunction);
    w.field_hex("data", data);
    w.end_object();
}

fn write_mask_write(w: &mut JsonWriter<'_>, address: u16, and_mask: u16, or_mask: u16) {
    w.field_u64("address", u64::from(address));
    w.field_u64("and_mask", u64::from(and_mask));
    w.field_u64("or_mask", u64::from(or_mask));
}

/// The `mei` object: its type, and the data of an encapsulated transport
/// other than device identification.
fn write_mei(w: &mut JsonWriter<'_>, mei: MeiType, data: Option<&[u8]>) {
    w.key("mei").begin_object();
    w.field_enum("type", "name", mei);
    if let Some(data) = data {
        w.field_hex("data", data);
    }
    w.end_object();
}

fn write_umas(w: &mut JsonWriter<'_>, session: u8, code: UmasCode, data: &[u8]) {
    w.key("umas").begin_object();
    w.field_u64("session", u64::from(session));
    w.field_enum("code", "name", code);
    w.field_hex("data", data);
    w.end_object();
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
        Request::Diagnostics { subfunction, data } => write_diagnostic(w, subfunction, data),
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
        } => write_mask_write(w, address, and_mask, or_mask),
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
            write_mei(w, MeiType::ReadDeviceIdentification, None);
            w.key("read_device_id").begin_object();
            w.field_enum("code", "code_name", code);
            w.field_u64("object_id", u64::from(object_id));
            w.end_object();
        }
        Request::Encapsulated { mei, data } => write_mei(w, mei, Some(data)),
        Request::Umas {
            session,
            code,
            data,
        } => write_umas(w, session, code, data),
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
        Response::Diagnostics { subfunction, data } => write_diagnostic(w, subfunction, data),
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
        } => write_mask_write(w, address, and_mask, or_mask),
        Response::FifoQueue { count, values } => {
            w.field_u64("fifo_count", u64::from(count));
            write_registers(w, "registers", values);
        }
        Response::DeviceIdentification(id) => {
            write_mei(w, MeiType::ReadDeviceIdentification, None);
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
        Response::Encapsulated { mei, data } => write_mei(w, mei, Some(data)),
        Response::Umas {
            session,
            code,
            data,
        } => write_umas(w, session, code, data),
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
