//! The EVE `s7comm` object: plain serialization of a [`Transaction`] into a
//! [`JsonWriter`], no I/O.
//!
//! Both S7comm and S7comm-plus produce `event_type: "s7comm"`;
//! [`Transaction::write_eve`] writes the body of the protocol object (the
//! EVE writer names it `s7comm`, or `s7commplus` for S7comm-plus):
//!
//! ```json
//! {"cotp":{"calling_tsap":"0100","called_tsap":"0102","connection_type":1,
//!          "connection_type_name":"pg","rack":0,"slot":2,"tpdu_size":1024},
//!  "rosctr":1,"rosctr_name":"job","pdu_ref":24,
//!  "request":{"rosctr":1,"rosctr_name":"job","function":5,"function_name":"write_var",
//!    "item_count":1,"items":[{"syntax_id":16,"syntax_id_name":"s7any","transport_size":8,
//!      "transport_size_name":"real","length":1,"db_number":0,"area":131,"area_name":"flags",
//!      "byte_address":16,"bit_address":0}],
//!    "data":[{"return_code":0,"return_code_name":"reserved","transport_size":7,
//!      "transport_size_name":"real","length":4,"value":"79e9f642"}]},
//!  "response":{"rosctr":3,"rosctr_name":"ack_data","function":5,"function_name":"write_var",
//!    "error_class":0,"error_class_name":"no_error","error_code":0,
//!    "item_count":1,"items":[{"return_code":255,"return_code_name":"success"}]}}
//! ```
//!
//! `cotp` is written on the first transaction after the connection request,
//! confirm or setup communication changed the connection, not on every job
//! of a long-lived connection ([`Connection::fresh`]).
//!
//! Items in the timer and counter areas have a `number` instead of
//! `byte_address` / `bit_address`. An ack that reports an error the
//! [`ErrorCode`] table knows adds `error_name` (`0xd241` =
//! `protection_level`). Userdata messages carry a `userdata` object (`type`,
//! `group`, `group_name`, `subfunction`, `subfunction_name`, `sequence`, …)
//! and their decoded payload (`szl`, `blocks`, `block`, `block_info`,
//! `time`, `password_length`) or the raw `data` in hex. An `szl` answer
//! lists its `records` where the list is known (module and component
//! identification, operating mode); the response to the follow-up that
//! completes a multi-part answer adds the whole `szl` with
//! `"reassembled":true`. An SZL answer that identifies the device adds a
//! top-level `identity` object (`order_number`, `firmware_version`,
//! `module_name`, `plant_id`, `serial_number`, …). A body that does not fit
//! its function has `error` (the reason) with the raw `parameter` and
//! `data`.
//!
//! An S7comm-plus transaction writes `cotp` and the fields of its first PDU
//! (the request, or the PDU seen alone) and, when paired, the response in
//! `response`:
//!
//! ```json
//! {"direction":"to_server","version":3,"version_name":"v3","data_length":86,
//!  "integrity":true,"digest":"2c0a…","fragment":false,"continuation":false,"understood":true,
//!  "opcode":49,"opcode_name":"request","function":1266,"function_name":"set_variable",
//!  "sequence":3,"session_id":949,"transport_flags":52,"body":"…",
//!  "response":{"direction":"to_client","version":3,…,"opcode":50,"opcode_name":"response",
//!    "function":1266,"function_name":"set_variable","sequence":3,"transport_flags":52,"body":"…"}}
//! ```
//!
//! When the data header is not understood, `understood` is false and `error`
//! says why; the raw `body` is always present.

use super::{
    codes, plus, s7, szl, Body, Connection, Detail, ErrorCode, Message, Pdu, PlusMessage,
    Transaction, Userdata,
};
use crate::json::JsonWriter;

impl Connection {
    /// Writes the `cotp` object: on the first transaction after the
    /// connection request, confirm or setup communication changed it
    /// (nothing when no CR / CC was seen, or nothing changed).
    pub fn write_eve(&self, w: &mut JsonWriter<'_>) {
        if !self.seen || !self.fresh {
            return;
        }
        w.key("cotp").begin_object();
        for (key, tsap) in [
            ("calling_tsap", &self.calling_tsap),
            ("called_tsap", &self.called_tsap),
        ] {
            w.field_hex(key, tsap.as_bytes());
            if let Some(text) = tsap.text() {
                let mut name = [0u8; 24];
                let n = key.len();
                name[..n].copy_from_slice(key.as_bytes());
                name[n..n + 5].copy_from_slice(b"_text");
                w.field_str(core::str::from_utf8(&name[..n + 5]).unwrap_or(key), text);
            }
        }
        if let Some(kind) = self.connection_type() {
            w.field_enum("connection_type", "connection_type_name", kind);
        }
        if let Some((rack, slot)) = self.rack_slot() {
            w.field_u64("rack", u64::from(rack));
            w.field_u64("slot", u64::from(slot));
        }
        if let Some(size) = self.tpdu_size {
            w.field_u64("tpdu_size", u64::from(size));
        }
        if let Some(size) = self.pdu_size {
            w.field_u64("pdu_size", u64::from(size));
        }
        w.end_object();
    }
}

impl Transaction<'_> {
    /// Writes the body of the EVE object (see the module docs).
    pub fn write_eve(&self, w: &mut JsonWriter<'_>) {
        self.connection.write_eve(w);
        if let Some(p) = &self.plus {
            write_plus(w, p);
            if let Some(r) = &self.plus_response {
                w.field_object("response", |w| write_plus(w, r));
            }
            return;
        }
        if let Some(first) = self.messages().next() {
            let r = first.pdu.header.rosctr;
            w.field_enum("rosctr", "rosctr_name", r);
            w.field_u64("pdu_ref", u64::from(first.pdu.header.pdu_ref));
        }
        if let Some(req) = &self.request {
            w.field_object("request", |w| write_message(w, req));
        }
        if let Some(resp) = &self.response {
            w.field_object("response", |w| {
                write_message(w, resp);
                if let Some(r) = &self.szl_whole {
                    write_szl_answer(w, r, true);
                }
            });
        }
        let id = self.identity();
        if !id.is_empty() {
            w.key("identity").begin_object();
            let texts = [
                ("order_number", id.order_number),
                ("system_name", id.system_name),
                ("module_name", id.module_name),
                ("plant_id", id.plant_id),
                ("serial_number", id.serial_number),
                ("module_type_name", id.module_type_name),
            ];
            for (key, value) in texts {
                if let Some(v) = value {
                    w.field_bytes_str(key, v);
                }
            }
            if let Some(v) = id.firmware_version {
                w.key("firmware_version").display(v);
            }
            w.end_object();
        }
    }
}

fn write_plus(w: &mut JsonWriter<'_>, m: &PlusMessage<'_>) {
    let p = &m.pdu;
    w.field_str("direction", m.direction.name());
    w.field_enum("version", "version_name", p.version);
    w.field_u64("data_length", u64::from(p.data_len));
    w.field_bool("integrity", p.digest.is_some());
    if let Some(d) = p.digest {
        w.field_hex("digest", d);
    }
    let continuation = matches!(p.message, Ok(plus::Message::Continuation));
    let fragment =
        continuation || (!p.has_trailer && matches!(p.message, Ok(plus::Message::Data(_))));
    w.field_bool("fragment", fragment);
    w.field_bool("continuation", continuation);
    w.field_bool("understood", p.message.is_ok());
    match &p.message {
        Ok(plus::Message::Data(h)) => {
            w.field_enum("opcode", "opcode_name", h.opcode);
            if let Some(f) = h.function {
                w.field_enum("function", "function_name", f);
            }
            if let Some(s) = h.sequence {
                w.field_u64("sequence", u64::from(s));
            }
            if let Some(s) = h.session_id {
                w.field_u64("session_id", u64::from(s));
            }
            if let Some(f) = h.transport_flags {
                w.field_u64("transport_flags", u64::from(f));
            }
            if let Some(s) = h.subscription_id {
                w.field_u64("subscription_id", u64::from(s));
            }
        }
        Ok(plus::Message::KeepAlive) => {
            w.field_bool("keep_alive", true);
        }
        Ok(plus::Message::Continuation) => {}
        Err(err) => {
            w.key("error").display(err);
        }
    }
    w.field_hex("body", p.body);
}

fn write_message(w: &mut JsonWriter<'_>, m: &Message<'_>) {
    let pdu = &m.pdu;
    let h = pdu.header;
    w.field_enum("rosctr", "rosctr_name", h.rosctr);
    if let Some(f) = pdu.function() {
        w.field_enum("function", "function_name", f);
    }
    if let (Some(class), Some(code)) = (h.error_class, h.error_code) {
        w.field_enum("error_class", "error_class_name", class);
        w.field_u64("error_code", u64::from(code));
        if let Some(name) = h.error_word().and_then(|e| ErrorCode::from(e).name()) {
            w.field_str("error_name", name);
        }
    }
    match &pdu.body {
        Ok(body) => write_body(w, body, pdu),
        Err(err) => {
            w.key("error").display(err);
            w.field_hex("parameter", pdu.param);
            w.field_hex("data", pdu.data);
        }
    }
}

fn write_var_items(w: &mut JsonWriter<'_>, items: &s7::VarItems<'_>) {
    w.field_u64("item_count", u64::from(items.count()));
    w.key("items").begin_array();
    for item in items.iter() {
        w.begin_object();
        match item {
            s7::VarItem::Any(a) => {
                w.field_code("syntax_id", 0x10, "syntax_id_name", Some("s7any"));
                w.field_enum("transport_size", "transport_size_name", a.transport_size);
                w.field_u64("length", u64::from(a.length));
                w.field_u64("db_number", u64::from(a.db_number));
                w.field_enum("area", "area_name", a.area);
                if let Some(number) = a.number() {
                    w.field_u64("number", u64::from(number));
                } else {
                    w.field_u64("byte_address", u64::from(a.byte_address));
                    w.field_u64("bit_address", u64::from(a.bit_address));
                }
            }
            s7::VarItem::Other { syntax_id, spec } => {
                w.field_enum("syntax_id", "syntax_id_name", syntax_id);
                w.field_hex("spec", spec);
            }
        }
        w.end_object();
    }
    w.end_array();
}

fn write_data_items(w: &mut JsonWriter<'_>, key: &str, items: &s7::DataItems<'_>) {
    w.key(key).begin_array();
    for item in items.iter() {
        w.begin_object();
        w.field_enum("return_code", "return_code_name", item.return_code);
        w.field_enum("transport_size", "transport_size_name", item.transport_size);
        w.field_u64("length", u64::from(item.length));
        w.field_hex("value", item.data);
        w.end_object();
    }
    w.end_array();
}

fn write_block_id(w: &mut JsonWriter<'_>, id: &s7::BlockId) {
    w.field_enum("block_type", "block_type_name", id.block_type);
    if let Some(n) = id.number {
        w.field_u64("block_number", u64::from(n));
    }
    if id.file_system != 0 {
        w.field_bytes_str("file_system", &[id.file_system]);
        if let Some(name) = codes::file_system_name(id.file_system) {
            w.field_str("file_system_name", name);
        }
    }
}

fn write_body(w: &mut JsonWriter<'_>, body: &Body<'_>, pdu: &Pdu<'_>) {
    match body {
        Body::Empty => {}
        Body::Ack { status, .. } => {
            if let Some(s) = status {
                w.field_u64("status", u64::from(*s));
            }
        }
        Body::SetupCommunication(s) => {
            w.field_u64("max_amq_calling", u64::from(s.max_amq_calling));
            w.field_u64("max_amq_called", u64::from(s.max_amq_called));
            w.field_u64("pdu_size", u64::from(s.pdu_size));
        }
        Body::ReadVarRequest(items) => write_var_items(w, items),
        Body::ReadVarResponse(data) => {
            w.field_u64("item_count", u64::from(data.count()));
            write_data_items(w, "items", data);
        }
        Body::WriteVarRequest { items, data } => {
            write_var_items(w, items);
            write_data_items(w, "data", data);
        }
        Body::WriteVarResponse(codes) => {
            w.field_u64("item_count", codes.len() as u64);
            w.key("items").begin_array();
            for rc in codes.iter() {
                w.begin_object();
                w.field_enum("return_code", "return_code_name", rc);
                w.end_object();
            }
            w.end_array();
        }
        Body::BlockControl(bc) => {
            if let Some(s) = bc.status {
                w.field_u64("status", u64::from(s));
            }
            if let Some(e) = bc.error_code {
                w.field_u64("error_code", u64::from(e));
            }
            if let Some(id) = bc.upload_id {
                w.field_u64("upload_id", u64::from(id));
            }
            if let Some(name) = bc.file_name {
                w.field_bytes_str("file_name", name);
            }
            if let Some(id) = bc.block() {
                write_block_id(w, &id);
            }
            for (key, value) in [
                ("load_memory_length", bc.load_memory_length),
                ("mc7_code_length", bc.mc7_code_length),
                ("block_length", bc.block_length),
            ] {
                if let Some(digits) = value {
                    w.field_bytes_str(key, digits);
                }
            }
            if let Some(data) = bc.block_data {
                w.field_u64("data_length", data.len() as u64);
            }
        }
        Body::PlcControl(pi) => {
            w.field_bytes_str("pi_service", pi.service);
            if let Some(mode) = pi.start_mode() {
                w.field_str("start_mode", mode);
            }
            if let Some(arg) = pi.argument() {
                w.field_bytes_str("argument", arg);
            }
            if matches!(pi.service, b"_INSE" | b"_INS2" | b"_DELE") {
                w.key("blocks").begin_array();
                for id in pi.blocks() {
                    w.begin_object();
                    write_block_id(w, &id);
                    w.end_object();
                }
                w.end_array();
            } else if pi.service.starts_with(b"_N_") {
                w.key("arguments").begin_array();
                for arg in pi.nc_arguments() {
                    w.bytes_str(arg);
                }
                w.end_array();
            } else if pi.argument().is_none() {
                w.field_hex("parameter", pi.parameter);
            }
        }
        Body::PlcStop { service } => {
            w.field_bytes_str("pi_service", service);
        }
        Body::Userdata(u) => write_userdata(w, u),
        Body::Raw => {
            w.field_hex("parameter", pdu.param);
            w.field_hex("data", pdu.data);
        }
    }
}

fn write_userdata(w: &mut JsonWriter<'_>, u: &Userdata<'_>) {
    w.key("userdata").begin_object();
    w.field_enum("type", "type_name", u.kind);
    w.field_u64("method", u64::from(u.method));
    w.field_enum("group", "group_name", u.group);
    w.field_code(
        "subfunction",
        u64::from(u.subfunction),
        "subfunction_name",
        codes::subfunction_name(u.group, u.subfunction),
    );
    w.field_u64("sequence", u64::from(u.sequence));
    if let Some(r) = u.data_unit_ref {
        w.field_u64("data_unit_ref", u64::from(r));
    }
    if let Some(last) = u.last_data_unit {
        w.field_bool("last_data_unit", last);
    }
    if let Some(e) = u.error_code {
        w.field_u64("error_code", u64::from(e));
        if let Some(name) = ErrorCode::from(e).name() {
            w.field_str("error_name", name);
        }
    }
    w.end_object();
    if let Some(rc) = u.return_code {
        w.field_enum("return_code", "return_code_name", rc);
    }
    if let Some(ts) = u.transport_size {
        w.field_enum("transport_size", "transport_size_name", ts);
    }
    match u.detail {
        Detail::None => {
            if !u.payload.is_empty() {
                w.field_hex("data", u.payload);
            }
        }
        Detail::Continuation => {
            w.field_bool("continuation", true);
            if !u.payload.is_empty() {
                w.field_hex("data", u.payload);
            }
        }
        Detail::SzlRequest { id, index } => {
            w.key("szl").begin_object();
            write_szl_id(w, id, index);
            w.end_object();
        }
        Detail::SzlResponse(r) => write_szl_answer(w, &r, false),
        Detail::ListBlocks(_) => {
            w.key("blocks").begin_array();
            for (t, count) in u.block_counts() {
                w.begin_object();
                w.field_enum("block_type", "block_type_name", t);
                w.field_u64("count", u64::from(count));
                w.end_object();
            }
            w.end_array();
        }
        Detail::ListBlocksOfTypeRequest(t) => {
            w.field_enum("block_type", "block_type_name", t);
        }
        Detail::ListBlocksOfTypeResponse(_) => {
            w.key("blocks").begin_array();
            for (number, flags, lang) in u.block_list() {
                w.begin_object();
                w.field_u64("block_number", u64::from(number));
                w.field_u64("flags", u64::from(flags));
                w.field_enum("language", "language_name", lang);
                w.end_object();
            }
            w.end_array();
        }
        Detail::BlockInfoRequest(id) => {
            w.key("block").begin_object();
            write_block_id(w, &id);
            w.end_object();
        }
        Detail::BlockInfoResponse(info) => {
            w.key("block_info").begin_object();
            w.field_enum("block_type", "block_type_name", info.block_type);
            w.field_u64("block_number", u64::from(info.number));
            w.field_enum("language", "language_name", info.language);
            w.field_u64("flags", u64::from(info.flags));
            w.field_u64("load_memory_length", u64::from(info.load_memory_length));
            w.field_u64("mc7_code_length", u64::from(info.mc7_code_length));
            w.field_bytes_str("author", szl::trim_text(info.author));
            w.field_bytes_str("family", szl::trim_text(info.family));
            w.field_bytes_str("name", szl::trim_text(info.name));
            w.key("version").display(VersionNibbles(info.version));
            w.field_u64("checksum", u64::from(info.checksum));
            w.end_object();
        }
        Detail::Clock(t) => {
            w.key("time").display(t);
        }
        Detail::Password { length } => {
            w.field_u64("password_length", length as u64);
        }
    }
}

struct VersionNibbles(u8);

impl core::fmt::Display for VersionNibbles {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}.{}", self.0 >> 4, self.0 & 0x0f)
    }
}

/// Writes the `szl` object of an answer; `whole` marks a multi-part answer
/// put together from its fragments.
fn write_szl_answer(w: &mut JsonWriter<'_>, r: &szl::SzlResponse<'_>, whole: bool) {
    w.key("szl").begin_object();
    write_szl_id(w, r.id, r.index);
    if whole {
        w.field_bool("reassembled", true);
    }
    w.field_u64("record_length", u64::from(r.record_len));
    w.field_u64("record_count", u64::from(r.record_count));
    write_szl_records(w, r);
    w.end_object();
}

fn write_szl_id(w: &mut JsonWriter<'_>, id: u16, index: u16) {
    w.field_u64("id", u64::from(id));
    w.field_str("name", codes::szl_name(id).unwrap_or("unknown"));
    w.field_u64("index", u64::from(index));
}

fn write_szl_records(w: &mut JsonWriter<'_>, r: &szl::SzlResponse<'_>) {
    if r.module_ids().next().is_some() {
        w.key("records").begin_array();
        for m in r.module_ids() {
            w.begin_object();
            w.field_u64("index", u64::from(m.index));
            w.field_str(
                "index_name",
                szl::module_id_name(m.index).unwrap_or("unknown"),
            );
            w.field_bytes_str("order_number", szl::trim_text(m.order_number));
            w.field_u64("module_type", u64::from(m.module_type));
            match m.version() {
                Some(v) => {
                    w.key("version").display(v);
                }
                None => {
                    w.field_u64("version", u64::from(m.version_low));
                }
            }
            w.end_object();
        }
        w.end_array();
    } else if r.components().next().is_some() {
        w.key("records").begin_array();
        for c in r.components() {
            w.begin_object();
            w.field_u64("index", u64::from(c.index));
            w.field_str(
                "index_name",
                szl::component_name(c.index).unwrap_or("unknown"),
            );
            if c.is_text() {
                w.field_bytes_str("text", szl::trim_text(c.value));
            } else {
                w.field_hex("value", c.value);
            }
            w.end_object();
        }
        w.end_array();
    } else if r.modes().next().is_some() {
        w.key("records").begin_array();
        for m in r.modes() {
            w.begin_object();
            w.field_u64("event_id", u64::from(m.event_id));
            w.field_enum("mode", "mode_name", m.mode);
            w.field_enum("previous_mode", "previous_mode_name", m.previous);
            w.end_object();
        }
        w.end_array();
    } else {
        w.field_hex("data", r.records);
    }
}
