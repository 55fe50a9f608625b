//! EtherNet/IP and CIP rule fields: each row of [`FIELDS`] with the code that
//! reads it from a [`Transaction`].
//!
//! CIP fields read the request (or reply) and every request (reply) it
//! embeds: a Stop inside a Multiple_Service_Packet, or a Set_Attribute
//! routed by an Unconnected_Send, matches as if sent alone.

use otwatch_proto::enip::cip::{Request, Response};
use otwatch_proto::enip::codes::{service_name, Class, Command, GeneralStatus};
use otwatch_proto::enip::epath::Segment;
use otwatch_proto::enip::logix::{DataType, TagData};
use otwatch_proto::enip::{self, pccc, Identity, Message, Transaction};

use super::{both, field, indexed, int, request_first, Buffers, Row, Visit};
use crate::baseline::{Op, OpClass, Qual};
use crate::cond::Val;
use crate::fields::{Kind, Scope, INT16, INT32, INT8};

/// How an EtherNet/IP field is read.
pub(crate) type Read = fn(&Transaction<'_>, Scope, Visit<'_>) -> bool;

/// EtherNet/IP's own fields, after the common ones.
pub(crate) const FIELDS: &[Row<Read>] = &[
    indexed(0, field("command", Kind::Enum(open_enum_def!(enip::Command, 0xffff)), true, "encapsulation command (list_identity, register_session, send_rr_data, send_unit_data, …)",
        |tx, s, f| headers(tx, s, f, true, |m, f| int(m.header.command.raw(), f)))),
    field("session", INT32, false, "encapsulation session handle",
        |tx, _, f| tx.request.or(tx.response).is_some_and(|m| int(m.header.session, f))),
    field("status", Kind::Enum(open_enum_def!(enip::EncapStatus, 0xffff_ffff)), false, "encapsulation status of the reply",
        |tx, _, f| tx.response.is_some_and(|m| int(m.header.status.raw(), f))),
    field("connection_id", INT32, true, "connection id of a connected message",
        |tx, s, f| headers(tx, s, f, false, |m, f| m.connected().is_some_and(|(id, _)| int(id, f)))),
    field("cip.service", INT8, true, "CIP service code (reply bit removed), of the message and of each it embeds",
        |tx, s, f| cip(tx, s, f, |r, f| int(r.service, f), |r, f| int(r.service, f))),
    field("cip.service_name", Kind::Text, false, "name of each CIP service requested, for the class it is sent to (stop, reset, set_attribute_single, read_tag, write_tag, forward_open, …)",
        |tx, _, f| tx.any_request(&mut |r| name(r).is_some_and(|n| f(Val::Bytes(n.as_bytes()))))),
    field("cip.class", Kind::Enum(open_enum_def!(enip::Class, 0xffff_ffff)), false, "class of each request path (a tag name is the symbol class)",
        |tx, _, f| tx.any_request(&mut |r| class(r).is_some_and(|c| int(c, f)))),
    field("cip.instance", INT32, false, "instance of each request path",
        |tx, _, f| tx.any_request(&mut |r| r.path.instance.is_some_and(|v| int(v, f)))),
    field("cip.attribute", INT32, false, "attribute of each request path",
        |tx, _, f| tx.any_request(&mut |r| r.path.attribute.is_some_and(|v| int(v, f)))),
    field("cip.tag", Kind::Text, false, "Logix tag each request names (Line1.Motor[3])",
        |tx, _, f| tx.any_request(&mut |r| r.path.tag().is_some_and(|t| f(Val::Bytes(t.as_bytes()))))),
    field("cip.status", Kind::Enum(open_enum_def!(enip::GeneralStatus, 0xff)), false, "general status of the reply and of each it embeds",
        |tx, _, f| tx.any_response(&mut |r| int(r.status.raw(), f))),
    field("cip.extended_status", INT16, false, "first extended status word of the reply and of each it embeds",
        |tx, _, f| tx.any_response(&mut |r| r.extended_status().is_some_and(|v| int(v, f)))),
    field("cip.data_type", Kind::Enum(open_enum_def!(DataType, 0xffff)), true, "data type a tag write carries or a tag read returns",
        |tx, s, f| both(s, f,
            |f| tx.any_request(&mut |r| tag_write(r).is_some_and(|d| int(d.data_type.raw(), f))),
            |f| tx.any_response(&mut |r| tag_read(tx, r).is_some_and(|d| int(d.data_type.raw(), f))))),
    field("cip.embedded", Kind::Bool, false, "the request carries others (Multiple_Service_Packet, Unconnected_Send)",
        |tx, _, f| tx.cip_request().is_some_and(|r| f(Val::Bool(enip::cip::embedded_requests(&r).is_some())))),
    field("pccc.function", Kind::Text, false, "name of the PCCC function an Execute_PCCC carries (word_range_read, change_cpu_mode, …)",
        |tx, _, f| tx.any_request(&mut |r| pccc_of(r).and_then(|p| p.name()).is_some_and(|n| f(Val::Bytes(n.as_bytes()))))),
    field("pccc.changes_controller", Kind::Bool, false, "the PCCC function changes the controller (mode, program, memory, configuration)",
        |tx, _, f| tx.any_request(&mut |r| pccc_of(r).is_some_and(|p| f(Val::Bool(p.changes_controller()))))),
    field("identity.vendor_id", INT16, false, "vendor id of an identity (ListIdentity, Identity Get_Attributes_All)",
        |tx, _, f| identities(tx, &mut |id| int(id.vendor, f))),
    field("identity.device_type", Kind::Enum(open_enum_def!(enip::DeviceType, 0xffff)), false, "device type of an identity",
        |tx, _, f| identities(tx, &mut |id| int(id.device_type.raw(), f))),
    field("identity.product_code", INT16, false, "product code of an identity",
        |tx, _, f| identities(tx, &mut |id| int(id.product_code, f))),
    field("identity.product_name", Kind::Text, false, "product name of an identity",
        |tx, _, f| identities(tx, &mut |id| f(Val::Bytes(id.product_name)))),
    field("io.skipped", Kind::Int { max: u64::MAX }, false, "sequence numbers an implicit I/O connection skipped",
        |tx, _, f| tx.io.is_some_and(|io| int(io.skipped, f))),
    field("io.out_of_order", Kind::Int { max: u64::MAX }, false, "implicit I/O packets whose sequence number went back",
        |tx, _, f| tx.io.is_some_and(|io| int(io.out_of_order, f))),
    field("malformed", Kind::Bool, true, "the items or the CIP message do not decode",
        |tx, s, f| headers(tx, s, f, false, |m, f| {
            let bad = matches!(m.carried(), Some(Err(_))) || matches!(m.cip(), Some(Err(_)));
            f(Val::Bool(bad))
        })),
];

/// The class a request goes to: a tag name's is the symbol class.
fn class(r: &Request<'_>) -> Option<u32> {
    match (r.path.class, r.path.symbolic) {
        (None, true) => Some(Class::Symbol.raw()),
        (class, _) => class,
    }
}

/// The name of a request's service for its class.
fn name(r: &Request<'_>) -> Option<&'static str> {
    service_name(class(r), r.service)
}

fn is_tag(r: &Request<'_>) -> bool {
    class(r) == Some(Class::Symbol.raw())
}

fn tag_write<'a>(r: &Request<'a>) -> Option<TagData<'a>> {
    match r.service {
        0x4D | 0x53 if is_tag(r) => TagData::write_request(r.data, r.service == 0x53),
        _ => None,
    }
}

/// A tag read reply's data, when the transaction asked for a tag read.
fn tag_read<'a>(tx: &Transaction<'a>, r: &Response<'a>) -> Option<TagData<'a>> {
    let asked = tx.any_request(&mut |q| is_tag(q) && q.service == r.service);
    (asked && matches!(r.service, 0x4C | 0x52) && r.status == GeneralStatus::Success)
        .then(|| TagData::read_reply(r.data))
        .flatten()
}

fn pccc_of<'a>(r: &Request<'a>) -> Option<pccc::Command<'a>> {
    (r.service == 0x4B && r.path.class == Some(Class::Pccc.raw()))
        .then(|| pccc::Command::parse(r.data))
        .flatten()
}

/// Each identity the reply gives.
fn identities(tx: &Transaction<'_>, f: &mut dyn FnMut(&Identity<'_>) -> bool) -> bool {
    if let Some(m) = &tx.response {
        if m.identities().any(|id| f(&id)) {
            return true;
        }
    }
    let asked = tx.cip_request().is_some_and(|r| {
        r.service == 0x01 && r.path.class == Some(Class::Identity.raw())
    });
    asked
        && tx.cip_response().is_some_and(|r| {
            r.status == GeneralStatus::Success
                && Identity::parse_attributes(r.data).is_some_and(|id| f(&id))
        })
}

/// Values of each message's header (`first`: the request's, unless there
/// is none).
fn headers(
    tx: &Transaction<'_>,
    s: Scope,
    f: Visit<'_>,
    first: bool,
    read: fn(&Message<'_>, Visit<'_>) -> bool,
) -> bool {
    super::messages(tx.request.as_ref(), tx.response.as_ref(), s, f, first, read)
}

/// Values of the CIP request and reply, embedded ones included.
fn cip(
    tx: &Transaction<'_>,
    s: Scope,
    f: Visit<'_>,
    req: fn(&Request<'_>, Visit<'_>) -> bool,
    rsp: fn(&Response<'_>, Visit<'_>) -> bool,
) -> bool {
    request_first(
        s,
        f,
        |f| tx.any_request(&mut |r| req(r, f)),
        |f| tx.any_response(&mut |r| rsp(r, f)),
    )
}

/// Whether both messages were seen.
pub(crate) fn answered(tx: &Transaction<'_>) -> bool {
    tx.request.is_some() && tx.response.is_some()
}

/// The request and reply encapsulation data.
pub(crate) fn buffers<'a>(tx: &Transaction<'a>) -> Buffers<'a> {
    [tx.request.map(|m| m.data), tx.response.map(|m| m.data)]
}

/// Rules are indexed by encapsulation command.
pub(crate) fn index_key(tx: &Transaction<'_>) -> u32 {
    tx.command().map_or(0, |c| u32::from(c.raw()))
}

/// EtherNet/IP has no station address within a server.
pub(crate) fn station(_tx: &Transaction<'_>) -> Option<u32> {
    None
}

/// What a CIP request does to the device.
fn class_of(r: &Request<'_>) -> OpClass {
    let class = class(r).map(Class::from);
    match (class, r.service) {
        // Logix tag services.
        (Some(Class::Symbol), 0x4D | 0x4E | 0x53) => OpClass::Write,
        (Some(Class::Symbol), _) => OpClass::Read,
        (Some(Class::Template), _) => OpClass::Read,
        // File object: uploads and downloads (programs, firmware, EDS).
        (Some(Class::File), 0x4B..=0x51) => OpClass::Program,
        (Some(Class::Pccc), _) => match pccc::Command::parse(r.data) {
            Some(p) if p.changes_controller() => OpClass::Program,
            _ => OpClass::Other,
        },
        (Some(Class::ConnectionManager), _) => OpClass::Session,
        (_, 0x05..=0x07) => OpClass::Mode,
        (Some(Class::Identity), 0x01 | 0x0E) => OpClass::Identify,
        (_, 0x01 | 0x03 | 0x0E | 0x11 | 0x18) => OpClass::Read,
        (_, 0x02 | 0x04 | 0x08 | 0x09 | 0x0D | 0x10 | 0x15 | 0x16 | 0x19..=0x1B) => {
            OpClass::Write
        }
        (_, 0x0A) => OpClass::Other,
        _ => OpClass::Other,
    }
}

/// What the transaction does: each CIP request (embedded ones rather than
/// their carrier), by service, qualified by class and tag; encapsulation
/// commands without CIP by their command.
pub(crate) fn operations<'a>(tx: &Transaction<'a>, out: &mut dyn FnMut(Op<'a>)) {
    let Some(m) = &tx.request else {
        return;
    };
    let Some(top) = tx.cip_request() else {
        let command = m.header.command;
        let class = match command {
            Command::ListIdentity | Command::ListServices | Command::ListInterfaces => {
                OpClass::Identify
            }
            _ => OpClass::Session,
        };
        return out(Op::new(class, 0x10000 + u32::from(command.raw()), command.name()));
    };
    top_requests(&top, 0, &mut |r| {
        let mut op = Op::new(class_of(r), u32::from(r.service), name(r));
        if let Some(c) = class(r) {
            op = op.with(Qual::Class, c);
        }
        // A tag by its first symbol (the tag, or its program's scope).
        let symbol = r.path.segments().map_while(Result::ok).find_map(|s| match s {
            Segment::Symbol(name) => Some(name),
            _ => None,
        });
        if let Some(tag) = symbol {
            op = op.with_text(Qual::Tag, tag);
        } else if let Some(i) = r.path.instance {
            op = op.with(Qual::Instance, i);
        }
        out(op);
    });
}

/// Calls `f` with each request that embeds no other, depth first.
fn top_requests<'a>(r: &Request<'a>, depth: u8, f: &mut dyn FnMut(&Request<'a>)) {
    let inner = (depth < enip::MAX_DEPTH)
        .then(|| enip::cip::embedded_requests(r))
        .flatten();
    let Some(Ok(inner)) = inner else {
        return f(r);
    };
    for b in inner.map_while(Result::ok) {
        if let Ok(enip::cip::Message::Request(q)) = enip::cip::Message::parse(b) {
            top_requests(&q, depth + 1, f);
        }
    }
}


#[cfg(test)]
mod tests {
    use otwatch_proto::event::Direction::{ToClient as S2C, ToServer as C2S};
    use otwatch_proto::registry::ProtocolId;

    use crate::protocols::fixture::{assert_every_field_yields_on, unhex};

    /// ListIdentity over TCP (enip_test.pcap frames 6 and 7, nmap's
    /// enip-info): request, then the reply with one CIP Identity item.
    const LIST_IDENTITY: &str = "
        63 00       command 0x0063 ListIdentity
        00 00       length 0
        00 00 00 00 session 0
        00 00 00 00 status 0
        c1 de be d1 00 00 00 00   sender context
        00 00 00 00 options";
    const LIST_IDENTITY_REPLY: &str = "
        63 00 33 00 00 00 00 00 00 00 00 00   ListIdentity, length 51, session 0, status 0
        c1 de be d1 00 00 00 00 00 00 00 00   sender context, options
        01 00       item count 1
        0c 00 2d 00 item 0x000C CIP Identity, length 45
        01 00       encapsulation protocol version 1
        00 02 af 12 0a 01 01 a4   sockaddr: AF_INET, port 44818, 10.1.1.164
        00 00 00 00 00 00 00 00   sin_zero
        01 00       vendor 1 (Rockwell Automation/Allen-Bradley)
        0c 00       device type 0x0C communications adapter
        3a 00       product code 58
        04 03       revision 4.3
        30 00       status
        8e 4d 52 00 serial number 0x00524d8e
        0b 31 37 35 36 2d 45 4e 42 54 2f 41   product name (11): 1756-ENBT/A
        03          state";
    /// RegisterSession and its reply (emre_enip_cip_cm.pcap frames 8, 9).
    const REGISTER: &str = "
        65 00 04 00 00 00 00 00 00 00 00 00   RegisterSession, length 4, session 0, status 0
        00 00 00 00 00 00 00 00 00 00 00 00   sender context, options
        01 00 00 00 protocol version 1, options 0";
    const REGISTER_REPLY: &str = "
        65 00 04 00 01 00 00 00 00 00 00 00   RegisterSession, length 4, session 1, status 0
        00 00 00 00 00 00 00 00 00 00 00 00   sender context, options
        01 00 00 00 protocol version 1, options 0";
    /// Forward_Open in a SendRRData (frame 10).
    const FORWARD_OPEN: &str = "
        6f 00 4c 00 01 00 00 00 00 00 00 00   SendRRData, length 76, session 1, status 0
        c0 a8 64 1c 00 00 48 57 00 00 00 00   sender context, options
        00 00 00 00 interface handle 0 (CIP)
        00 00       timeout 0
        02 00       item count 2
        00 00 00 00 null address item
        b2 00 3c 00 unconnected data item, length 60
        54          service 0x54 Forward_Open
        02 20 06 24 01   path 2 words: class 6 (Connection Manager), instance 1
        05 9b       priority/tick time, timeout ticks
        00 00 00 00 O->T connection id (chosen by the target)
        00 00 00 00 T->O connection id
        0e 00       connection serial number
        01 00       originator vendor id
        22 f5 13 00 originator serial number
        02          timeout multiplier
        00 00 00    reserved
        10 27 00 00 O->T RPI 10 ms
        1a 48       O->T network connection parameters
        10 27 00 00 T->O RPI 10 ms
        1a 28       T->O network connection parameters
        01          transport class 1, cyclic
        09          connection path size 9 words
        34 04 00 00 00 00 00 00 00 00   electronic key (any device)
        20 04 24 06 2c 02 2c 01         class 4 (Assembly), instance 6, connection points 2 and 1";
    /// Its reply (frame 11).
    const FORWARD_OPEN_REPLY: &str = "
        6f 00 56 00 01 00 00 00 00 00 00 00   SendRRData, length 86, session 1, status 0
        c0 a8 64 1c 00 00 48 57 00 00 00 00   sender context, options
        00 00 00 00 00 00 04 00               interface, timeout, item count 4
        00 00 00 00 null address item
        b2 00 1e 00 unconnected data item, length 30
        d4 00 00 00 reply to Forward_Open, reserved, status success, no extended status
        02 00 a2 f1 O->T connection id
        03 00 a2 f1 T->O connection id
        0e 00 01 00 22 f5 13 00   serial, vendor, originator serial
        10 27 00 00 10 27 00 00   O->T and T->O actual packet intervals
        00 00       application reply size 0, reserved
        00 80 10 00 sockaddr info O->T, length 16
        00 02 08 ae 00 00 00 00 00 00 00 00 00 00 00 00   AF_INET, port 2222
        01 80 10 00 sockaddr info T->O, length 16
        00 02 08 ae ef c0 05 80 00 00 00 00 00 00 00 00   AF_INET, port 2222, 239.192.5.128";
    /// Forward_Open refused: general status 0x01 connection failure, one
    /// extended status word 0x0100 (connection in use), the
    /// Forward_Open's identifiers and remaining path size.
    const FORWARD_OPEN_REFUSED: &str = "
        6f 00 2a 00 01 00 00 00 00 00 00 00   SendRRData, length 42, session 1, status 0
        c0 a8 64 1c 00 00 48 57 00 00 00 00   sender context (that of the request), options
        00 00 00 00 00 00 02 00 00 00 00 00   interface, timeout, 2 items, null address
        b2 00 1a 00 unconnected data item, length 26
        d4 00 01 01 reply to Forward_Open, reserved, status 0x01, 1 extended word
        00 01       extended status 0x0100 connection in use
        0e 00 01 00 22 f5 13 00   serial, vendor, originator serial
        09 00       remaining path size, reserved
        00 00 00 00 00 00 00 00 00 00 00 00   padding of the reply";
    /// A connected Read_Tag by name and its reply (emre_special_cip.pcap
    /// frames 2, 3).
    const READ_TAG: &str = "
        70 00 28 00 82 82 4e 23 00 00 00 00   SendUnitData, length 40, session 0x234e8282
        00 00 00 00 00 00 00 00 00 00 00 00   sender context, options
        00 00 00 00 00 00 02 00               interface, timeout, item count 2
        a1 00 04 00 a6 c9 83 4c               connected address item: connection id 0x4c83c9a6
        b1 00 14 00 3c 76                     connected data item, length 20, sequence 30268
        4c 07       service 0x4C Read_Tag, path 7 words
        91 0c 5f 49 4f 5f 45 4d 5f 44 4f 5f 30 30   symbol (12): _IO_EM_DO_00
        01 00       one element";
    const READ_TAG_REPLY: &str = "
        70 00 1d 00 82 82 4e 23 00 00 00 00   SendUnitData, length 29, session 0x234e8282
        00 00 00 00 00 00 00 00 00 00 00 00   sender context, options
        00 00 00 00 00 00 02 00               interface, timeout, item count 2
        a1 00 04 00 2a 14 51 10               connected address item: connection id 0x1051142a
        b1 00 09 00 3c 76                     connected data item, length 9, sequence 30268
        cc 00 00 00 reply to Read_Tag, status success
        c1 00 00    type BOOL, value 0";
    /// A Logix Multiple_Service_Packet of reads (cip_multiple_1.pcap,
    /// the first two of its eleven embedded requests).
    const MULTIPLE: &str = "
        70 00 2e 00 00 01 02 11 00 00 00 00   SendUnitData, length 46
        00 00 00 00 00 00 00 00 00 00 00 00   sender context, options
        00 00 00 00 00 00 02 00               interface, timeout, item count 2
        a1 00 04 00 01 0b 7c 00               connected address: connection id 0x007c0b01
        b1 00 1a 00 89 07                     connected data, length 26, sequence 1929
        0a 02 20 02 24 01   Multiple_Service_Packet to the Message Router (class 2, instance 1)
        02 00 06 00 0c 00   two requests, at offsets 6 and 12
        01 02 20 01 24 01   Get_Attributes_All, Identity instance 1
        03 02 20 8b 24 01 01 00 06 00   Get_Attribute_List, class 0x8B instance 1: attribute 6";
    /// Get_Attribute_Single of the Port object routed by an
    /// Unconnected_Send, and its refusal (cl5000_ip_address_change.pcap
    /// frames 7, 8).
    const ROUTED: &str = "
        6f 00 26 00 00 01 02 11 00 00 00 00   SendRRData, length 38, session 0x11020100
        06 81 30 00 18 a7 e1 00 00 00 00 00   sender context, options
        00 00 00 00 0a 00 02 00 00 00 00 00   interface, timeout 10, 2 items, null address
        b2 00 16 00 unconnected data, length 22
        52 02 20 06 24 01   Unconnected_Send to the Connection Manager, instance 1
        06 9a       priority/tick time, timeout ticks
        08 00       embedded request of 8 bytes
        0e 03 20 f4 24 00 30 08   Get_Attribute_Single: class 0xF4 (Port), instance 0, attribute 8
        01 00       route: 1 word, reserved
        01 00       port 1 (backplane), slot 0";
    const ROUTED_REPLY: &str = "
        6f 00 14 00 00 01 02 11 00 00 00 00   SendRRData, length 20
        06 81 30 00 18 a7 e1 00 00 00 00 00   sender context, options
        00 00 00 00 0a 00 02 00 00 00 00 00   interface, timeout, 2 items, null address
        b2 00 04 00 unconnected data, length 4
        8e 00 05 00 reply to Get_Attribute_Single, status 0x05 path destination unknown";
    /// Execute_PCCC with a diagnostic status command (cip_only_pccc.pcap
    /// frame 17078).
    const PCCC: &str = "
        6f 00 22 00 6f 85 0d dc 00 00 00 00   SendRRData, length 34, session 0xdc0d856f
        24 a8 06 00 38 bc 27 0c 00 00 00 00   sender context, options
        00 00 00 00 0a 00 02 00 00 00 00 00   interface, timeout 10, 2 items, null address
        b2 00 12 00 unconnected data, length 18
        4b 02 20 67 24 01   Execute_PCCC to class 0x67 instance 1
        07 4d 00 e0 31 2b 3d   requestor id: length 7, vendor 0x004d, serial 0x3d2b31e0
        06 00 b7 e6 03      command 0x06, status 0, transaction 0xe6b7, function 3 diagnostic status";
    /// Class 1 implicit I/O over UDP 2222 (ndpi_cip_io.pcap frames 1, 2).
    const IO_1: &str = "
        02 00       item count 2
        02 80 08 00 sequenced address item, length 8
        78 7b 3a 00 connection id 0x003a7b78
        e8 cb 5e 04 sequence number 0x045ecbe8
        b1 00 0c 00 connected data item, length 12
        03 00 fd ff ff ff ff ff ff ff 00 00   sequence count, data";
    const IO_2: &str = "
        02 00 02 80 08 00 78 7b 3a 00   2 items, sequenced address, connection 0x003a7b78
        ea cb 5e 04 sequence 0x045ecbea: one skipped
        b1 00 0c 00 03 00 fd ff ff ff ff ff ff ff 00 00   connected data";

    #[test]
    fn every_field_yields_a_value() {
        let [li, li_r, reg, reg_r, fo, fo_r, fo_x, rt, rt_r, msp, routed, routed_r, pccc, io1, io2] = [
            LIST_IDENTITY,
            LIST_IDENTITY_REPLY,
            REGISTER,
            REGISTER_REPLY,
            FORWARD_OPEN,
            FORWARD_OPEN_REPLY,
            FORWARD_OPEN_REFUSED,
            READ_TAG,
            READ_TAG_REPLY,
            MULTIPLE,
            ROUTED,
            ROUTED_REPLY,
            PCCC,
            IO_1,
            IO_2,
        ]
        .map(unhex);
        assert_every_field_yields_on(
            ProtocolId::Enip,
            &[
                &[(C2S, &li), (S2C, &li_r)],
                &[
                    (C2S, &reg),
                    (S2C, &reg_r),
                    (C2S, &fo),
                    (S2C, &fo_r),
                    (C2S, &fo),
                    (S2C, &fo_x),
                ],
                &[(C2S, &rt), (S2C, &rt_r), (C2S, &msp)],
                &[(C2S, &routed), (S2C, &routed_r)],
                &[(C2S, &pccc)],
            ],
            &[&[(C2S, &io1), (C2S, &io2)]],
        );
    }
}
