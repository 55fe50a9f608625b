//! Decoding tests on bytes laid out as the ODVA volumes describe them, one
//! comment per field.

use super::cip::{Embedded, Message, UnconnectedSend};
use super::codes::{Command, EncapStatus, GeneralStatus, ItemType};
use super::encap::{Carried, Header, Items, HEADER_LEN};
use super::epath::{Logical, Path, PathError, Segment, Segments};
use proptest::prelude::*;

fn tag(path: &[u8]) -> String {
    let mut out = Vec::new();
    Path::parse(path).write_tag(&mut out);
    String::from_utf8(out).expect("tag names here are ASCII")
}

fn request(b: &[u8]) -> super::cip::Request<'_> {
    match Message::parse(b).expect("a valid CIP message") {
        Message::Request(r) => r,
        other => panic!("not a request: {other:?}"),
    }
}

#[test]
fn register_session_header() {
    let b = [
        0x65, 0x00, // command: RegisterSession
        0x04, 0x00, // length: 4
        0x00, 0x00, 0x00, 0x00, // session handle: none yet
        0x00, 0x00, 0x00, 0x00, // status: success
        0x5f, 0x70, 0x79, 0x63, 0x6f, 0x6d, 0x6d, 0x5f, // sender context "_pycomm_"
        0x00, 0x00, 0x00, 0x00, // options
        0x01, 0x00, // protocol version 1
        0x00, 0x00, // option flags
    ];
    let h = Header::parse(&b).expect("24 bytes");
    assert_eq!(h.command, Command::RegisterSession);
    assert_eq!(h.command.name(), Some("register_session"));
    assert_eq!(h.length, 4);
    assert_eq!(h.session, 0);
    assert_eq!(h.status, EncapStatus::Success);
    assert_eq!(&h.context, b"_pycomm_");
    assert_eq!(h.options, 0);
    assert!(!h.command.needs_session());
    assert_eq!(b.len() - HEADER_LEN, usize::from(h.length));
    assert!(Header::parse(&b[..23]).is_none());
}

#[test]
fn unknown_command_and_status_are_kept() {
    let mut b = [0u8; 24];
    b[0] = 0x99; // command 0x0099: not defined
    b[8] = 0x42; // status 0x42: not defined
    let h = Header::parse(&b).expect("24 bytes");
    assert_eq!(h.command, Command::Unknown(0x99));
    assert_eq!(h.status, EncapStatus::Unknown(0x42));
}

/// SendRRData data carrying Get_Attributes_All to the Identity object.
const LIST_IDENTITY_RR: [u8; 24] = [
    0x00, 0x00, 0x00, 0x00, // interface handle: CIP
    0x0a, 0x00, // timeout: 10 s
    0x02, 0x00, // item count: 2
    0x00, 0x00, 0x00, 0x00, // null address item, length 0
    0xb2, 0x00, 0x06, 0x00, // unconnected data item, length 6
    0x01, // service: Get_Attributes_All
    0x02, // path size: 2 words
    0x20, 0x01, // class 0x01 (Identity)
    0x24, 0x01, // instance 1
    0x00, 0x00, // (not part of the items: trailing)
];

#[test]
fn send_rr_data_carries_an_unconnected_request() {
    let c = Carried::parse(&LIST_IDENTITY_RR[..22]).expect("valid items");
    assert_eq!(
        (
            c.interface,
            c.timeout,
            c.connection,
            c.sequence,
            c.other_items
        ),
        (0, 10, None, None, 0)
    );
    let r = request(c.cip.expect("a data item"));
    assert_eq!(r.service, 0x01);
    assert_eq!(r.service_name(), Some("get_attributes_all"));
    assert_eq!(
        (r.path.class, r.path.instance, r.path.attribute),
        (Some(1), Some(1), None)
    );
    assert!(r.data.is_empty());

    let mut items = Items::new(&LIST_IDENTITY_RR[6..]).expect("a count");
    assert_eq!(items.declared(), 2);
    assert_eq!(
        items.next().expect("an item").expect("a valid item").kind,
        ItemType::NullAddress
    );
    assert_eq!(
        items.next().expect("an item").expect("a valid item").kind,
        ItemType::UnconnectedData
    );
    assert!(items.next().is_none());
    assert_eq!(items.trailing, 2);
}

#[test]
fn send_unit_data_carries_connection_and_sequence() {
    let b = [
        0x00, 0x00, 0x00, 0x00, // interface handle
        0x00, 0x00, // timeout: 0 for connected messages
        0x02, 0x00, // item count
        0xa1, 0x00, 0x04, 0x00, // connected address item, length 4
        0x78, 0x56, 0x34, 0x12, // connection id 0x12345678
        0xb1, 0x00, 0x0c, 0x00, // connected data item, length 12
        0x07, 0x00, // sequence count 7
        0x4c, // service: Read Tag
        0x03, // path size: 3 words
        0x91, 0x03, b'P', b'V', b'1', 0x00, // ANSI symbol "PV1", padded
        0x01, 0x00, // element count 1
    ];
    let c = Carried::parse(&b).expect("valid items");
    assert_eq!(c.connection, Some(0x1234_5678));
    assert_eq!(c.sequence, Some(7));
    let r = request(c.cip.expect("a data item"));
    assert_eq!(r.service_name(), Some("read_tag"));
    assert!(r.path.symbolic);
    assert_eq!(r.path.class, None);
    assert_eq!(r.data, &[0x01, 0x00]);
    assert_eq!(tag(r.path.raw), "PV1");
}

#[test]
fn item_longer_than_the_message_is_an_error() {
    let b = [
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // interface, timeout
        0x02, 0x00, // item count
        0x00, 0x00, 0x00, 0x00, // null address
        0xb2, 0x00, 0x40, 0x00, // unconnected data, length 64: only 2 follow
        0x01, 0x02,
    ];
    assert_eq!(
        Carried::parse(&b),
        Err(super::encap::CpfError::ItemOverrun { index: 1 })
    );
    // A count larger than the items present.
    let b = [
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00,
    ];
    assert_eq!(Carried::parse(&b), Err(super::encap::CpfError::Truncated));
}

#[test]
fn paths_of_every_logical_size() {
    let p = [
        0x21, 0x00, 0x6b, 0x00, // class, 16-bit: 0x006B (Symbol)
        0x25, 0x00, 0x34, 0x12, // instance, 16-bit: 0x1234
        0x32, 0x00, 0x01, 0x00, 0x01, 0x00, // attribute, 32-bit: 0x00010001
        0x28, 0x05, // member, 8-bit: 5
        0x2c, 0x64, // connection point 100
    ];
    let path = Path::parse(&p);
    assert_eq!(path.class, Some(0x6b));
    assert_eq!(path.instance, Some(0x1234));
    assert_eq!(path.attribute, Some(0x0001_0001));
    assert_eq!(path.member, Some(5));
    assert_eq!(path.connection_point, Some(100));
    assert_eq!(path.error, None);
    assert_eq!(path.segments().count(), 5);
}

#[test]
fn tag_names_with_members_and_indices() {
    let p = [
        0x91, 0x05, b'L', b'i', b'n', b'e', b'1', 0x00, // "Line1", padded
        0x91, 0x05, b'M', b'o', b't', b'o', b'r', 0x00, // "Motor", padded
        0x28, 0x03, // element 3
        0x91, 0x02, b'S', b'p', // "Sp", no pad needed
    ];
    assert_eq!(tag(&p), "Line1.Motor[3].Sp");
    let two_dims = [
        0x91, 0x01, b'A', 0x00, // "A"
        0x28, 0x01, // index 1
        0x29, 0x00, 0x00, 0x01, // index 256, 16-bit
    ];
    assert_eq!(tag(&two_dims), "A[1,256]");
    // A program-scoped tag: symbols only.
    let scoped = [
        0x91, 0x0c, b'P', b'r', b'o', b'g', b'r', b'a', b'm', b':', b'M', b'a', b'i',
        b'n', // "Program:Main"
        0x91, 0x01, b'x', 0x00, // "x"
    ];
    assert_eq!(tag(&scoped), "Program:Main.x");
    assert_eq!(tag(&[0x20, 0x01, 0x24, 0x01]), "");
}

#[test]
fn ports_keys_and_data_segments() {
    let p = [
        0x01, 0x00, // port 1 (backplane), slot 0
        0x12, 0x08, b'1', b'0', b'.', b'0', b'.', b'0', b'.', b'1', // port 2, link "10.0.0.1"
        0x0f, 0x12, 0x00, 0x01, // port 18 (extended), slot 1, pad
        0x34, 0x04, // electronic key, format 4
        0x01, 0x00, // vendor 1
        0x0e, 0x00, // device type 14 (programmable logic controller)
        0x36, 0x00, // product code 54
        0x94, // major revision 20, compatibility bit set
        0x0b, // minor revision 11
        0x80, 0x01, 0xaa, 0xbb, // simple data segment, one word
        0x43, 0x05, // network segment: scheduled, data 5
    ];
    let segs: Vec<_> = Segments::new(&p)
        .collect::<Result<_, _>>()
        .expect("valid segments");
    assert_eq!(
        segs[0],
        Segment::Port {
            port: 1,
            link: &[0]
        }
    );
    assert_eq!(
        segs[1],
        Segment::Port {
            port: 2,
            link: b"10.0.0.1"
        }
    );
    assert_eq!(
        segs[2],
        Segment::Port {
            port: 18,
            link: &[1]
        }
    );
    assert_eq!(
        segs[3],
        Segment::ElectronicKey {
            vendor: 1,
            device_type: 14,
            product_code: 54,
            major: 20,
            compatible: true,
            minor: 11
        }
    );
    assert_eq!(segs[4], Segment::Data(&[0xaa, 0xbb]));
    assert_eq!(
        segs[5],
        Segment::Network {
            kind: 0x43,
            data: &[5]
        }
    );
    assert_eq!(segs.len(), 6);
    assert_eq!(Path::parse(&p).hops, 3);
}

#[test]
fn bad_paths_are_errors_with_their_offset() {
    // A 16-bit instance cut after its pad byte.
    let p = Path::parse(&[0x20, 0x01, 0x25, 0x00, 0x34]);
    assert_eq!(p.class, Some(1));
    assert_eq!(p.error, Some(PathError::Truncated(2)));
    // Reserved logical format 3.
    let p = Path::parse(&[0x23, 0x01]);
    assert_eq!(p.error, Some(PathError::Unsupported { at: 0, kind: 0x23 }));
    // A data type segment is not a path segment.
    let p = Path::parse(&[0x20, 0x02, 0xc3, 0x00]);
    assert_eq!(p.error, Some(PathError::Unsupported { at: 2, kind: 0xc3 }));
    // A symbol longer than the path.
    assert_eq!(
        Path::parse(&[0x91, 0x09, b'a']).error,
        Some(PathError::Truncated(0))
    );
    // Only format 4 keys are defined.
    assert!(matches!(
        Path::parse(&[0x34, 0x05, 0, 0, 0, 0, 0, 0, 0, 0]).error,
        Some(PathError::Unsupported { .. })
    ));
    assert_eq!(
        Segments::new(&[0x24]).next(),
        Some(Err(PathError::Truncated(0)))
    );
    let _ = Logical::Class;
}

#[test]
fn replies_with_general_and_extended_status() {
    let ok = [
        0xcc, // reply to Read Tag (0x4C | 0x80)
        0x00, // reserved
        0x00, // general status: success
        0x00, // extended status size: 0 words
        0xc4, 0x00, // data type DINT
        0x2a, 0x00, 0x00, 0x00, // value 42
    ];
    let Message::Response(r) = Message::parse(&ok).expect("a reply") else {
        panic!()
    };
    assert_eq!(
        (r.service, r.status, r.extended_status()),
        (0x4c, GeneralStatus::Success, None)
    );
    assert_eq!(r.data.len(), 6);

    let refused = [
        0xd4, // reply to Forward_Open
        0x00, // reserved
        0x01, // general status: connection failure
        0x01, // extended status size: 1 word
        0x00, 0x01, // extended status 0x0100: connection in use
    ];
    let Message::Response(r) = Message::parse(&refused).expect("a reply") else {
        panic!()
    };
    assert_eq!(r.status, GeneralStatus::ConnectionFailure);
    assert_eq!(r.status.name(), Some("connection_failure"));
    assert_eq!(r.extended_status(), Some(0x0100));

    assert_eq!(
        Message::parse(&[0x8e, 0x00, 0x05, 0x02, 0x00]),
        Err(super::cip::CipError::StatusOverrun)
    );
    assert_eq!(
        Message::parse(&[0x0e, 0x03, 0x20, 0x01]),
        Err(super::cip::CipError::PathOverrun)
    );
    assert_eq!(
        Message::parse(&[0x0e]),
        Err(super::cip::CipError::Truncated)
    );
    let Message::Response(r) = Message::parse(&[0xff, 0x00, 0x77, 0x00]).expect("a reply") else {
        panic!()
    };
    assert_eq!((r.service, r.status), (0x7f, GeneralStatus::Unknown(0x77)));
}

#[test]
fn multiple_service_packet_embeds_each_request() {
    let b = [
        0x0a, // service: Multiple_Service_Packet
        0x02, // path size: 2 words
        0x20, 0x02, // class 0x02 (Message Router)
        0x24, 0x01, // instance 1
        0x02, 0x00, // 2 requests
        0x06, 0x00, // first at offset 6 (from the count)
        0x0e, 0x00, // second at offset 14
        0x0e, 0x03, 0x20, 0x01, 0x24, 0x01, 0x30,
        0x07, // Get_Attribute_Single identity/1/7 (product name)
        0x10, 0x03, 0x20, 0xf5, 0x24, 0x01, 0x30, 0x05, 0x0a,
        0x00, // Set_Attribute_Single TCP/IP/1/5 + data
    ];
    let r = request(&b);
    assert_eq!(r.service_name(), Some("multiple_service_packet"));
    let inner: Vec<_> = Embedded::new(r.data)
        .expect("a count and offsets")
        .map(|m| request(m.expect("a valid offset")))
        .collect();
    assert_eq!(inner.len(), 2);
    assert_eq!(inner[0].service_name(), Some("get_attribute_single"));
    assert_eq!(
        (inner[0].path.class, inner[0].path.attribute),
        (Some(1), Some(7))
    );
    assert_eq!(inner[1].service_name(), Some("set_attribute_single"));
    assert_eq!(
        (inner[1].path.class, inner[1].path.attribute),
        (Some(0xf5), Some(5))
    );
    assert_eq!(inner[1].data, &[0x0a, 0x00]);

    // An offset into the offsets table, and one past the end.
    let bad = [0x02, 0x00, 0x02, 0x00, 0x08, 0x00];
    let got: Vec<_> = Embedded::new(&bad).expect("a count and offsets").collect();
    assert_eq!(
        got,
        vec![Err(super::cip::EmbeddedError::BadOffset { index: 0 })]
    );
    assert!(Embedded::new(&[0x05, 0x00, 0x06, 0x00]).is_err());
}

#[test]
fn unconnected_send_routes_an_embedded_request() {
    let b = [
        0x52, // service: Unconnected_Send
        0x02, // path size
        0x20, 0x06, // class 0x06 (Connection Manager)
        0x24, 0x01, // instance 1
        0x0a, // priority / tick time
        0xf0, // timeout ticks
        0x06, 0x00, // embedded request: 6 bytes
        0x07, 0x02, 0x20, 0x01, 0x24, 0x01, // Stop, to Identity/1... of the routed device
        0x01, // route path: 1 word
        0x00, // reserved
        0x01, 0x02, // port 1 (backplane), slot 2
    ];
    let r = request(&b);
    assert_eq!(r.service_name(), Some("unconnected_send"));
    let u = UnconnectedSend::parse(r.data).expect("a valid unconnected send");
    assert_eq!((u.priority_tick, u.timeout_ticks), (0x0a, 0xf0));
    let inner = request(u.request);
    assert_eq!(inner.service_name(), Some("stop"));
    assert_eq!(u.route.hops, 1);
    assert_eq!(
        u.route.segments().next(),
        Some(Ok(Segment::Port {
            port: 1,
            link: &[2]
        }))
    );
    // The same service to a tag is Read Tag Fragmented.
    let frag = [
        0x52, 0x02, 0x91, 0x01, b'T', 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00,
    ];
    assert_eq!(request(&frag).service_name(), Some("read_tag_fragmented"));
    // An odd-length embedded request is padded before the route.
    let odd = [
        0x0a, 0xf0, 0x03, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00,
    ];
    let u = UnconnectedSend::parse(&odd).expect("a valid unconnected send");
    assert_eq!((u.request.len(), u.route.hops), (3, 1));
    assert!(UnconnectedSend::parse(&odd[..9]).is_none());
}

#[test]
fn class_specific_services_are_named_by_their_class() {
    use super::codes::service_name;
    assert_eq!(service_name(Some(0x06), 0x54), Some("forward_open"));
    assert_eq!(service_name(Some(0x06), 0x5b), Some("large_forward_open"));
    assert_eq!(service_name(Some(0x06), 0x4e), Some("forward_close"));
    assert_eq!(
        service_name(Some(0x37), 0x4e),
        Some("initiate_partial_write")
    );
    assert_eq!(
        service_name(Some(0x6b), 0x4e),
        Some("read_modify_write_tag")
    );
    assert_eq!(service_name(Some(0x67), 0x4b), Some("execute_pccc"));
    assert_eq!(service_name(Some(0x01), 0x05 | 0x80), Some("reset"));
    assert_eq!(service_name(Some(0x01), 0x4b), None);
    assert_eq!(service_name(None, 0x4c), None);
}

proptest! {
    #[test]
    fn no_input_panics(b in proptest::collection::vec(any::<u8>(), 0..96)) {
        let _ = Header::parse(&b);
        let _ = Carried::parse(&b);
        if let Ok(items) = Items::new(&b) {
            for _ in items {}
        }
        let path = Path::parse(&b);
        let mut out = Vec::new();
        path.write_tag(&mut out);
        for s in Segments::new(&b).take(200) {
            let _ = s;
        }
        if let Ok(Message::Request(r)) = Message::parse(&b) {
            let _ = r.service_name();
        }
        if let Ok(e) = Embedded::new(&b) {
            for _ in e {}
        }
        let _ = UnconnectedSend::parse(&b);
    }
}
