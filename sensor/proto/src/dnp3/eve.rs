//! The EVE `dnp3` object: plain serialization of a [`Transaction`] into a
//! [`JsonWriter`], no I/O. Objects, points and byte strings are capped
//! ([`EVE_MAX_OBJECTS`], [`EVE_MAX_POINTS`], [`EVE_MAX_BYTES`]).

use super::{FileObject, Message, ObjectHeader, Point, Range, Time, Transaction, Value};
use crate::json::JsonWriter;

/// Object headers written per message in EVE output.
pub const EVE_MAX_OBJECTS: usize = 32;
/// Points written per object header in EVE output.
pub const EVE_MAX_POINTS: usize = 32;
/// Bytes of an octet string, file data or raw object written in EVE output.
pub const EVE_MAX_BYTES: usize = 256;

impl Transaction<'_> {
    /// Writes the body of the EVE `dnp3` object.
    pub fn write_eve(&self, w: &mut JsonWriter<'_>) {
        w.field_str("type", self.kind());
        w.field_u64("master", u64::from(self.master));
        w.field_u64("outstation", u64::from(self.outstation));
        if let Some(req) = &self.request {
            w.field_object("request", |w| write_message(w, req));
        }
        if let Some(resp) = &self.response {
            w.field_object("response", |w| write_message(w, resp));
        }
    }
}

fn write_message(w: &mut JsonWriter<'_>, m: &Message<'_>) {
    w.field_u64("src", u64::from(m.source));
    w.field_u64("dst", u64::from(m.destination));
    w.field_bool("dir", m.link_control.dir());
    let lf = m.link_control.function();
    w.field_code(
        "link_function_code",
        u64::from(lf.raw() & 0x0f),
        "link_function",
        lf.name(),
    );
    let c = m.control();
    w.key("control").begin_object();
    w.field_bool("fir", c.fir());
    w.field_bool("fin", c.fin());
    w.field_bool("con", c.con());
    w.field_bool("uns", c.uns());
    w.field_u64("sequence", u64::from(c.seq()));
    w.end_object();
    let f = m.function();
    w.field_enum("function_code", "function", f);
    if let Some(iin) = m.iin() {
        w.key("iin").begin_object();
        w.field_u64("raw", u64::from(iin.0));
        w.key("indicators").begin_array();
        for name in iin.names() {
            w.str(name);
        }
        w.end_array();
        w.end_object();
    }
    w.field_u64("object_count", m.objects.len() as u64);
    w.key("objects").begin_array();
    for header in m.objects.iter().take(EVE_MAX_OBJECTS) {
        write_object(w, &header);
    }
    w.end_array();
    if m.objects.len() > EVE_MAX_OBJECTS {
        w.field_u64(
            "objects_truncated",
            (m.objects.len() - EVE_MAX_OBJECTS) as u64,
        );
    }
    w.field_bool("complete", m.error.is_none() && !f.is_reserved());
    if let Some(err) = &m.error {
        w.key("error").display(err);
        w.field_str("error_name", err.anomaly().name());
    }
    if f.is_reserved() {
        w.field_hex("data", cap(m.fragment));
    }
}

fn cap(bytes: &[u8]) -> &[u8] {
    bytes.get(..EVE_MAX_BYTES).unwrap_or(bytes)
}

fn write_object(w: &mut JsonWriter<'_>, h: &ObjectHeader<'_>) {
    w.begin_object();
    w.field_u64("group", u64::from(h.group));
    w.field_u64("variation", u64::from(h.variation));
    w.field_u64("qualifier", u64::from(h.qualifier));
    w.field_u64("prefix_code", u64::from(h.prefix_code()));
    w.field_u64("range_code", u64::from(h.range_code()));
    match h.range {
        Range::StartStop { start, stop } => {
            w.field_u64("start", u64::from(start));
            w.field_u64("stop", u64::from(stop));
        }
        Range::All => {}
        Range::Count(_) => {}
    }
    w.field_u64("count", u64::from(h.count()));
    let mut points = h.points();
    let mut any = false;
    for p in points.by_ref().take(EVE_MAX_POINTS) {
        if !any {
            w.key("points").begin_array();
            any = true;
        }
        write_point(w, h.group, &p);
    }
    if any {
        w.end_array();
        let rest = points.count();
        if rest > 0 {
            w.field_u64("points_truncated", rest as u64);
        }
    }
    w.end_object();
}

fn write_time(w: &mut JsonWriter<'_>, time: Option<Time>) {
    match time {
        Some(Time::Absolute(ms)) => {
            w.field_u64("time_ms", ms);
        }
        Some(Time::Relative(ms)) => {
            w.field_u64("relative_time_ms", u64::from(ms));
        }
        None => {}
    }
}

fn write_point(w: &mut JsonWriter<'_>, group: u8, p: &Point<'_>) {
    w.begin_object();
    w.field_u64("index", u64::from(p.index));
    match p.value {
        Value::None => {}
        Value::Bit(on) => {
            w.field_bool("state", on);
        }
        Value::DoubleBit(state) => {
            w.field_u64("state", u64::from(state));
        }
        Value::Binary { flags, time } => {
            w.field_u64("flags", u64::from(flags));
            if matches!(group, 3 | 4) {
                w.field_u64("state", u64::from(flags >> 6));
            } else {
                w.field_bool("state", flags & 0x80 != 0);
            }
            write_time(w, time);
        }
        Value::Counter { flags, value, time } => {
            if let Some(flags) = flags {
                w.field_u64("flags", u64::from(flags));
            }
            w.field_u64("value", u64::from(value));
            write_time(w, time);
        }
        Value::Analog { flags, value, time } => {
            if let Some(flags) = flags {
                w.field_u64("flags", u64::from(flags));
            }
            w.key("value").f64(value);
            write_time(w, time);
        }
        Value::AnalogCommand {
            value,
            status,
            time,
        } => {
            w.key("value").f64(value);
            w.field_enum("status", "status_name", status);
            write_time(w, time);
        }
        Value::Crob(c) => {
            w.field_u64("control_code", u64::from(c.code));
            let op = c.op_type();
            w.field_enum("op_type", "operation", op);
            let tc = c.trip_close();
            w.field_enum("tcc", "trip_close", tc);
            w.field_bool("queue", c.queue());
            w.field_bool("clear", c.clear());
            w.field_u64("count", u64::from(c.count));
            w.field_u64("on_time", u64::from(c.on_time));
            w.field_u64("off_time", u64::from(c.off_time));
            w.field_enum("status", "status_name", c.status);
        }
        Value::Time(ms) => {
            w.field_u64("time_ms", ms);
        }
        Value::TimeInterval {
            time,
            interval,
            units,
        } => {
            w.field_u64("time_ms", time);
            w.field_u64("interval", u64::from(interval));
            if let Some(units) = units {
                w.field_u64("units", u64::from(units));
            }
        }
        Value::Delay(d) => {
            w.field_u64("delay", u64::from(d));
        }
        Value::Attribute(a) => {
            w.field_enum("attribute_code", "attribute", a.variation);
            w.field_enum("data_type_code", "data_type", a.data_type);
            if a.is_text() {
                w.field_bytes_str("value", cap(a.value));
            } else if let Some(v) = a.as_int() {
                w.key("value").i64(v);
            } else {
                w.field_hex("value_hex", cap(a.value));
            }
        }
        Value::OctetString(bytes) => {
            w.field_u64("length", bytes.len() as u64);
            w.field_hex("value_hex", cap(bytes));
        }
        Value::File(f) => write_file(w, &f),
        Value::Auth(bytes) | Value::Raw(bytes) => {
            w.field_u64("length", bytes.len() as u64);
            w.field_hex("data", cap(bytes));
        }
    }
    w.end_object();
}

fn write_file(w: &mut JsonWriter<'_>, f: &FileObject<'_>) {
    w.key("file").begin_object();
    match *f {
        FileObject::Authentication {
            user,
            password_len,
            key,
        } => {
            w.field_str("object", "authentication");
            w.field_bytes_str("user", cap(user));
            w.field_u64("password_length", u64::from(password_len));
            w.field_u64("key", u64::from(key));
        }
        FileObject::Command {
            name,
            created,
            permissions,
            key,
            size,
            mode,
            max_block,
            request_id,
        } => {
            w.field_str("object", "command");
            w.field_bytes_str("name", cap(name));
            w.field_u64("mode", u64::from(mode));
            w.field_str(
                "mode_name",
                match mode {
                    0 => "null",
                    1 => "read",
                    2 => "write",
                    3 => "append",
                    _ => "unknown",
                },
            );
            w.field_u64("created_ms", created);
            w.field_u64("permissions", u64::from(permissions));
            w.field_u64("key", u64::from(key));
            w.field_u64("size", u64::from(size));
            w.field_u64("max_block", u64::from(max_block));
            w.field_u64("request_id", u64::from(request_id));
        }
        FileObject::CommandStatus {
            handle,
            size,
            max_block,
            request_id,
            status,
            text,
        } => {
            w.field_str("object", "command_status");
            w.field_u64("handle", u64::from(handle));
            w.field_u64("size", u64::from(size));
            w.field_u64("max_block", u64::from(max_block));
            w.field_u64("request_id", u64::from(request_id));
            w.field_u64("status", u64::from(status));
            if !text.is_empty() {
                w.field_bytes_str("text", cap(text));
            }
        }
        FileObject::Transport {
            handle,
            block,
            last,
            data,
        } => {
            w.field_str("object", "transport");
            w.field_u64("handle", u64::from(handle));
            w.field_u64("block", u64::from(block));
            w.field_bool("last", last);
            w.field_u64("length", data.len() as u64);
            w.field_hex("data", cap(data));
        }
        FileObject::TransportStatus {
            handle,
            block,
            last,
            status,
            text,
        } => {
            w.field_str("object", "transport_status");
            w.field_u64("handle", u64::from(handle));
            w.field_u64("block", u64::from(block));
            w.field_bool("last", last);
            w.field_u64("status", u64::from(status));
            if !text.is_empty() {
                w.field_bytes_str("text", cap(text));
            }
        }
        FileObject::Descriptor {
            name,
            file_type,
            size,
            created,
            permissions,
            request_id,
        } => {
            w.field_str("object", "descriptor");
            w.field_bytes_str("name", cap(name));
            w.field_u64("file_type", u64::from(file_type));
            w.field_u64("size", u64::from(size));
            w.field_u64("created_ms", created);
            w.field_u64("permissions", u64::from(permissions));
            w.field_u64("request_id", u64::from(request_id));
        }
        FileObject::Specification { name } => {
            w.field_str("object", "specification");
            w.field_bytes_str("name", cap(name));
        }
        FileObject::Raw(data) => {
            w.field_str("object", "raw");
            w.field_hex("data", cap(data));
        }
    }
    w.end_object();
}
