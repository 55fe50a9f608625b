//! The EVE `enip` object: plain serialization of a [`Transaction`] into a
//! [`JsonWriter`], no I/O.
//!
//! `request` and `response` carry the encapsulation header (command,
//! session, status, sender context), the connection id and sequence count
//! of a connected message, and the CIP message: a request's service, class,
//! instance, attribute, member, tag and route, with the requests it embeds
//! in `embedded`; a reply's general and extended status, named by the
//! request it answers. Identities of a ListIdentity reply are listed; an
//! I/O connection's counts are the `io` object.

use super::cip::{self, Request, Response};
use super::codes::{
    service_name, Class, Command, CommonService, ConnectionStatus, GeneralStatus, ItemType,
};
use super::encap::{Items, SEND_DATA_PREFIX};
use super::epath::Segment;
use super::connmgr;
use super::identity::Identity;
use super::logix::{TagData, TagValue};
use super::pccc;
use super::vendors::vendor_name;
use super::{IoCounts, Message, Transaction, MAX_DEPTH};
use crate::json::JsonWriter;

impl Transaction<'_> {
    /// Writes the body of the EVE `enip` object.
    pub fn write_eve(&self, w: &mut JsonWriter<'_>) {
        w.field_str("transport", self.transport.name());
        let request = self.cip_request();
        if let Some(m) = &self.request {
            w.field_object("request", |w| write_message(w, m, None));
        }
        if let Some(m) = &self.response {
            w.field_object("response", |w| write_message(w, m, request.as_ref()));
        }
        if let Some(io) = &self.io {
            w.field_object("io", |w| write_io(w, io));
        }
    }
}

fn write_message(w: &mut JsonWriter<'_>, m: &Message<'_>, request: Option<&Request<'_>>) {
    let h = &m.header;
    w.field_enum("command", "command_name", h.command);
    w.field_u64("length", u64::from(h.length));
    w.field_u64("session", u64::from(h.session));
    w.field_enum("status", "status_name", h.status);
    w.field_hex("sender_context", &h.context);
    if h.options != 0 {
        w.field_u64("options", u64::from(h.options));
    }
    if let Some(carried) = m.carried() {
        match carried {
            Ok(c) => {
                if let Some(id) = c.connection {
                    w.field_u64("connection_id", u64::from(id));
                }
                if let Some(seq) = c.sequence {
                    w.field_u64("sequence", u64::from(seq));
                }
                if c.other_items > 0 {
                    write_other_items(w, m.data);
                }
            }
            Err(err) => {
                w.key("error").display(err);
            }
        }
    }
    match m.cip() {
        Some(Ok(cip::Message::Request(r))) => {
            w.field_object("cip", |w| write_request(w, &r, 0));
        }
        Some(Ok(cip::Message::Response(r))) => {
            w.field_object("cip", |w| write_response(w, &r, request, 0));
        }
        Some(Err(err)) => {
            w.field_object("cip", |w| {
                w.key("error").display(err);
                if let Some(Ok(c)) = m.carried() {
                    w.field_hex("raw", c.cip.unwrap_or_default());
                }
            });
        }
        None => {}
    }
    if h.command == Command::ListServices && !m.data.is_empty() {
        write_services(w, m.data);
    }
    let mut identities = m.identities().peekable();
    if identities.peek().is_some() {
        w.key("identities").begin_array();
        for id in identities {
            w.begin_object();
            write_identity(w, &id);
            w.end_object();
        }
        w.end_array();
    }
}

/// The socket address items of a send command (where the other side wants
/// a connection's I/O sent), and any other item by its type.
fn write_other_items(w: &mut JsonWriter<'_>, data: &[u8]) {
    let Some(Ok(items)) = data.get(SEND_DATA_PREFIX..).map(Items::new) else {
        return;
    };
    w.key("items").begin_array();
    for item in items.map_while(Result::ok) {
        let kind = item.kind;
        if matches!(
            kind,
            ItemType::NullAddress
                | ItemType::ConnectedAddress
                | ItemType::ConnectedData
                | ItemType::UnconnectedData
        ) {
            continue;
        }
        w.begin_object();
        w.field_enum("type", "type_name", kind);
        let d = item.data;
        if matches!(kind, ItemType::SockaddrOToT | ItemType::SockaddrTToO) && d.len() >= 8 {
            w.field_u64("port", u64::from(u16::from_be_bytes([d[2], d[3]])));
            w.key("address")
                .ip(std::net::IpAddr::from([d[4], d[5], d[6], d[7]]));
        } else {
            w.field_hex("data", d);
        }
        w.end_object();
    }
    w.end_array();
}

/// The items of a ListServices reply: each service's type, version,
/// capability flags and name.
fn write_services(w: &mut JsonWriter<'_>, data: &[u8]) {
    let Ok(items) = Items::new(data) else {
        return;
    };
    w.key("services").begin_array();
    for item in items.map_while(Result::ok) {
        let d = item.data;
        w.begin_object();
        w.field_u64("type", u64::from(item.kind.raw()));
        if let (Some(version), Some(flags)) = (super::le16(d, 0), super::le16(d, 2)) {
            w.field_u64("version", u64::from(version));
            w.field_u64("capabilities", u64::from(flags));
            let name = d.get(4..).unwrap_or_default();
            let name = name.split(|&b| b == 0).next().unwrap_or_default();
            w.field_bytes_str("name", name);
        }
        w.end_object();
    }
    w.end_array();
}

/// The name of `service` sent to `class`.
fn name_of(class: Option<u32>, symbolic: bool, service: u8) -> Option<&'static str> {
    let class = match (class, symbolic) {
        (None, true) => Some(Class::Symbol.raw()),
        (class, _) => class,
    };
    service_name(class, service)
}

fn write_request(w: &mut JsonWriter<'_>, r: &Request<'_>, depth: u8) {
    let p = &r.path;
    w.field_code(
        "service",
        u64::from(r.service),
        "service_name",
        name_of(p.class, p.symbolic, r.service),
    );
    if let Some(class) = p.class {
        w.field_enum("class", "class_name", Class::from(class));
    }
    for (key, value) in [
        ("instance", p.instance),
        ("attribute", p.attribute),
        ("member", p.member),
        ("connection_point", p.connection_point),
    ] {
        if let Some(v) = value {
            w.field_u64(key, u64::from(v));
        }
    }
    if let Some(tag) = p.tag() {
        w.field_bytes_str("tag", tag.as_bytes());
    }
    if let Some(err) = p.error {
        w.key("path_error").display(err);
    }
    write_request_data(w, r);
    if depth >= MAX_DEPTH {
        return;
    }
    match cip::embedded_requests(r) {
        None => {}
        Some(Err(err)) => {
            w.key("embedded_error").display(err);
        }
        Some(Ok(inner)) => {
            if let Some(route) = r.route() {
                write_route(w, &route);
            }
            w.key("embedded").begin_array();
            for b in inner {
                w.begin_object();
                match b.map(cip::Message::parse) {
                    Ok(Ok(cip::Message::Request(inner))) => write_request(w, &inner, depth + 1),
                    other => write_inner_error(w, other, "a reply where a request belongs"),
                }
                w.end_object();
            }
            w.end_array();
        }
    }
}

/// What the request's data says, for the services whose data matters.
fn write_request_data(w: &mut JsonWriter<'_>, r: &Request<'_>) {
    let tag_service = r.path.symbolic || r.path.class == Some(Class::Symbol.raw());
    let connection_manager = r.path.class == Some(Class::ConnectionManager.raw());
    match r.service {
        0x4C | 0x52 if tag_service => {
            if let Some(n) = super::le16(r.data, 0) {
                w.field_u64("elements", u64::from(n));
            }
        }
        0x4D | 0x53 if tag_service => {
            if let Some(data) = TagData::write_request(r.data, r.service == 0x53) {
                write_tag_data(w, &data);
            }
        }
        connmgr::FORWARD_OPEN | connmgr::LARGE_FORWARD_OPEN if connection_manager => {
            let large = r.service == connmgr::LARGE_FORWARD_OPEN;
            if let Some(fo) = connmgr::ForwardOpen::parse(r.data, large) {
                w.field_object("forward_open", |w| write_forward_open(w, &fo));
            }
        }
        connmgr::FORWARD_CLOSE if connection_manager => {
            if let Some(fc) = connmgr::ForwardClose::parse(r.data) {
                w.field_object("forward_close", |w| {
                    write_triad(w, &fc.triad);
                    write_connection_path(w, &fc.path);
                });
            }
        }
        0x4B if r.path.class == Some(Class::Pccc.raw()) => {
            if let Some(p) = pccc::Command::parse(r.data) {
                w.field_object("pccc", |w| {
                    w.field_u64("command", u64::from(p.command));
                    w.field_u64("function", u64::from(p.function.unwrap_or(0)));
                    w.field_str(
                        "function_name",
                        p.name().unwrap_or("unknown"),
                    );
                    w.field_u64("transaction", u64::from(p.transaction));
                });
            }
        }
        _ => {}
    }
}

fn write_triad(w: &mut JsonWriter<'_>, t: &connmgr::Triad) {
    w.field_u64("connection_serial", u64::from(t.serial));
    w.field_u64("originator_vendor", u64::from(t.vendor));
    w.field_u64("originator_serial", u64::from(t.originator_serial));
}

/// What a connection path names: the application object and its
/// connection points (and the key, when one is given).
fn write_connection_path(w: &mut JsonWriter<'_>, path: &super::epath::Path<'_>) {
    w.key("path").begin_object();
    if let Some(class) = path.class {
        w.field_enum("class", "class_name", Class::from(class));
    }
    if let Some(i) = path.instance {
        w.field_u64("instance", u64::from(i));
    }
    w.key("connection_points").begin_array();
    for segment in path.segments().map_while(Result::ok) {
        if let Segment::Logical {
            kind: super::epath::Logical::ConnectionPoint,
            value,
        } = segment
        {
            w.u64(u64::from(value));
        }
    }
    w.end_array();
    for segment in path.segments().map_while(Result::ok) {
        if let Segment::ElectronicKey {
            vendor,
            device_type,
            product_code,
            major,
            compatible,
            minor,
        } = segment
        {
            w.key("electronic_key").begin_object();
            w.field_u64("vendor_id", u64::from(vendor));
            w.field_u64("device_type", u64::from(device_type));
            w.field_u64("product_code", u64::from(product_code));
            w.key("revision").display(format_args!("{major}.{minor}"));
            w.field_bool("compatible", compatible);
            w.end_object();
        }
    }
    if let Some(err) = path.error {
        w.key("error").display(err);
    }
    w.end_object();
}

fn write_forward_open(w: &mut JsonWriter<'_>, fo: &connmgr::ForwardOpen<'_>) {
    w.field_bool("large", fo.large);
    w.field_u64("o_t_connection_id", u64::from(fo.o_t_id));
    w.field_u64("t_o_connection_id", u64::from(fo.t_o_id));
    write_triad(w, &fo.triad);
    w.field_u64("timeout_multiplier", u64::from(fo.timeout_multiplier));
    for (key, d) in [("o_t", &fo.o_t), ("t_o", &fo.t_o)] {
        w.key(key).begin_object();
        w.field_u64("rpi_us", u64::from(d.rpi));
        w.field_u64("size", u64::from(d.size));
        w.field_bool("variable", d.variable);
        w.field_str("type", d.kind_name());
        w.field_u64("priority", u64::from(d.priority));
        w.field_bool("redundant_owner", d.redundant_owner);
        w.end_object();
    }
    w.field_u64("transport_class", u64::from(fo.transport_class()));
    w.field_str("trigger", fo.trigger_name());
    write_connection_path(w, &fo.path);
}

fn write_tag_data(w: &mut JsonWriter<'_>, data: &TagData<'_>) {
    w.field_enum("data_type", "data_type_name", data.data_type);
    if let Some(handle) = data.structure {
        w.field_u64("structure_handle", u64::from(handle));
    }
    if let Some(n) = data.elements {
        w.field_u64("elements", u64::from(n));
    }
    if let Some(offset) = data.offset {
        w.field_u64("offset", u64::from(offset));
    }
    match data.first_value() {
        Some(TagValue::Int(v)) => {
            w.key("value").i64(v);
        }
        Some(TagValue::Unsigned(v)) => {
            w.field_u64("value", v);
        }
        Some(TagValue::Float(v)) => {
            w.key("value").f64(v);
        }
        None => {}
    }
    w.field_u64("data_length", data.values.len() as u64);
}

fn write_route(w: &mut JsonWriter<'_>, route: &super::epath::Path<'_>) {
    w.key("route").begin_array();
    for segment in route.segments().map_while(Result::ok) {
        if let Segment::Port { port, link } = segment {
            w.begin_object();
            w.field_u64("port", u64::from(port));
            match link {
                [slot] => {
                    w.field_u64("link", u64::from(*slot));
                }
                text => {
                    w.field_bytes_str("link", text);
                }
            }
            w.end_object();
        }
    }
    w.end_array();
}

fn write_response(
    w: &mut JsonWriter<'_>,
    r: &Response<'_>,
    request: Option<&Request<'_>>,
    depth: u8,
) {
    // An Unconnected_Send is answered by its embedded request's reply.
    let inner_request = request.filter(|q| q.is_unconnected_send() && r.service != q.service);
    let embedded = inner_request
        .and_then(|q| cip::embedded_requests(q)?.ok()?.next()?.ok())
        .and_then(|b| match cip::Message::parse(b) {
            Ok(cip::Message::Request(q)) => Some(q),
            _ => None,
        });
    let request = embedded.as_ref().or(request).filter(|q| q.service == r.service);
    let name = match request {
        Some(q) => name_of(q.path.class, q.path.symbolic, r.service),
        None => CommonService::from(r.service).name(),
    };
    w.field_code("service", u64::from(r.service), "service_name", name);
    w.field_enum("general_status", "general_status_name", r.status);
    if let Some(ext) = r.extended_status() {
        w.field_u64("extended_status", u64::from(ext));
        let connection_manager = request.is_some_and(|q| {
            q.path.class == Some(Class::ConnectionManager.raw())
        });
        if r.status == GeneralStatus::ConnectionFailure || connection_manager {
            w.field_str(
                "extended_status_name",
                ConnectionStatus::from(ext).name().unwrap_or("unknown"),
            );
        }
    }
    let opens = request.is_some_and(|q| {
        q.path.class == Some(Class::ConnectionManager.raw())
            && matches!(q.service, connmgr::FORWARD_OPEN | connmgr::LARGE_FORWARD_OPEN)
    });
    if opens && r.status == GeneralStatus::Success {
        if let Some(fo) = connmgr::ForwardOpenReply::parse(r.data) {
            w.field_object("forward_open", |w| {
                w.field_u64("o_t_connection_id", u64::from(fo.o_t_id));
                w.field_u64("t_o_connection_id", u64::from(fo.t_o_id));
                write_triad(w, &fo.triad);
                w.field_u64("o_t_api_us", u64::from(fo.o_t_api));
                w.field_u64("t_o_api_us", u64::from(fo.t_o_api));
            });
        }
    }
    let tag_service = request.is_some_and(|q| {
        q.path.symbolic || q.path.class == Some(Class::Symbol.raw())
    });
    if tag_service && matches!(r.service, 0x4C | 0x52) && r.status == GeneralStatus::Success {
        if let Some(data) = TagData::read_reply(r.data) {
            write_tag_data(w, &data);
        }
    }
    let identity_request = request.is_some_and(|q| {
        q.service == 0x01 && q.path.class == Some(Class::Identity.raw())
    });
    if identity_request && r.status == GeneralStatus::Success {
        if let Some(id) = Identity::parse_attributes(r.data) {
            w.field_object("identity", |w| write_identity(w, &id));
        }
    }
    if depth >= MAX_DEPTH {
        return;
    }
    let Some(list) = cip::embedded_replies(r) else {
        return;
    };
    let mut asked = request
        .and_then(|q| cip::embedded_requests(q)?.ok())
        .into_iter()
        .flatten();
    match list {
        Err(err) => {
            w.key("embedded_error").display(err);
        }
        Ok(list) => {
            w.key("embedded").begin_array();
            for b in list {
                let q = asked.next().and_then(Result::ok).and_then(|b| {
                    match cip::Message::parse(b) {
                        Ok(cip::Message::Request(q)) => Some(q),
                        _ => None,
                    }
                });
                w.begin_object();
                match b.map(cip::Message::parse) {
                    Ok(Ok(cip::Message::Response(inner))) => {
                        write_response(w, &inner, q.as_ref(), depth + 1);
                    }
                    other => write_inner_error(w, other, "a request where a reply belongs"),
                }
                w.end_object();
            }
            w.end_array();
        }
    }
}

/// Why an embedded message is not the request (or reply) its place holds:
/// `wrong_way` when it decodes as the other kind.
fn write_inner_error(
    w: &mut JsonWriter<'_>,
    inner: Result<Result<cip::Message<'_>, cip::CipError>, cip::EmbeddedError>,
    wrong_way: &str,
) {
    match inner {
        Ok(Ok(_)) => {
            w.field_str("error", wrong_way);
        }
        Ok(Err(err)) => {
            w.key("error").display(err);
        }
        Err(err) => {
            w.key("error").display(err);
        }
    }
}

fn write_identity(w: &mut JsonWriter<'_>, id: &Identity<'_>) {
    w.field_u64("vendor_id", u64::from(id.vendor));
    if let Some(name) = vendor_name(id.vendor) {
        w.field_str("vendor_name", name);
    }
    w.field_enum("device_type", "device_type_name", id.device_type);
    w.field_u64("product_code", u64::from(id.product_code));
    w.key("revision").display(id.revision());
    w.field_u64("status", u64::from(id.status));
    w.key("serial_number").display(format_args!("{:#010x}", id.serial));
    w.field_bytes_str("product_name", id.product_name);
    if let Some(state) = id.state {
        w.field_u64("state", u64::from(state));
    }
    if let Some(s) = &id.socket {
        w.field_u64("encapsulation_version", u64::from(s.version));
        w.key("address")
            .ip(std::net::IpAddr::from(s.addr));
        w.field_u64("port", u64::from(s.port));
    }
}

fn write_io(w: &mut JsonWriter<'_>, io: &IoCounts) {
    w.field_u64("connection_id", u64::from(io.connection));
    w.field_u64("packets", io.packets);
    w.field_u64("bytes", io.bytes);
    w.field_u64("first_sequence", u64::from(io.first_sequence));
    w.field_u64("last_sequence", u64::from(io.last_sequence));
    w.field_u64("out_of_order", io.out_of_order);
    w.field_u64("skipped", io.skipped);
}
