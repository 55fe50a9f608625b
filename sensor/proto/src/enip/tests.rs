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
    assert_eq!(service_name(Some(0xf6), 0x4c), Some("get_and_clear"));
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

// ---- The dissector: framing, sessions, pairing, events.

mod dissector {
    use super::super::*;
    use crate::event::{Event, EventSink};
    use crate::json::JsonWriter;
    use crate::registry::ProtocolEvent;
    use crate::stream::StreamBuffer;

    use crate::testutil::hex_lines as hex;

    /// Events as text: transactions as their EVE JSON, anomalies as
    /// `anomaly:<name>`; and the identities transactions reveal.
    #[derive(Default)]
    struct Collect {
        seen: Vec<String>,
        identities: Vec<String>,
    }

    impl EventSink for Collect {
        fn emit(&mut self, event: &Event<'_>) {
            match &event.app {
                AppEvent::Enip(tx) => {
                    let mut buf = Vec::new();
                    let mut w = JsonWriter::new(&mut buf);
                    w.begin_object();
                    tx.write_eve(&mut w);
                    w.end_object();
                    let text = String::from_utf8(buf).expect("utf8");
                    serde_json::from_str::<serde_json::Value>(&text).expect("EVE is JSON");
                    self.seen.push(text);
                    let id = tx.identity();
                    if !id.is_empty() {
                        let text = |v: Option<&[u8]>| String::from_utf8_lossy(v.unwrap_or_default()).into_owned();
                        self.identities.push(format!(
                            "{} | {} | {} | {} | {} | {}",
                            text(id.vendor),
                            text(id.product),
                            text(id.model),
                            text(id.firmware.as_ref().map(|f| f.as_bytes())),
                            text(id.serial.as_ref().map(|f| f.as_bytes())),
                            text(id.order_number.as_ref().map(|f| f.as_bytes())),
                        ));
                    }
                }
                AppEvent::Anomaly(a) => {
                    assert!(SPEC.anomalies.contains(&a.name), "undeclared {}", a.name);
                    assert_eq!(a.protocol, SPEC.name);
                    self.seen.push(format!("anomaly:{}", a.name));
                }
                _ => panic!("another protocol's event"),
            }
        }
    }

    /// Feeds chunks through stream buffers, then ends the flow.
    fn run(chunks: &[(Direction, &[u8])]) -> Collect {
        let mut d = EnipDissector::default();
        let mut held = [StreamBuffer::default(), StreamBuffer::default()];
        let mut sink = Collect::default();
        for (dir, bytes) in chunks {
            let mut cx = Context {
                ts: Timestamp::new(1, 0),
                sink: &mut sink,
            };
            held[dir.index()]
                .feed(&mut d, *dir, bytes, 70 * 1024, &mut cx)
                .expect("within the bound");
        }
        let mut cx = Context {
            ts: Timestamp::new(2, 0),
            sink: &mut sink,
        };
        StreamDissector::flush(&mut d, &mut cx);
        sink
    }

    use crate::event::Direction::{ToClient as S2C, ToServer as C2S};

    /// RegisterSession, its reply, a Forward_Open and its reply
    /// (emre_enip_cip_cm.pcap frames 8-11).
    const REGISTER: &str = "65 00 04 00 00000000 00000000 0000000000000000 00000000 01 00 00 00";
    const REGISTER_REPLY: &str = "65 00 04 00 01000000 00000000 0000000000000000 00000000 01 00 00 00";
    const FORWARD_OPEN: &str = "
        6f 00 4c 00 01000000 00000000 c0a8641c00004857 00000000   SendRRData, 76 bytes, session 1
        00000000 0000 0200 0000 0000 b200 3c00   interface, timeout, 2 items, null address, data item 60
        54 02 20 06 24 01   Forward_Open to the Connection Manager
        05 9b 00000000 00000000 0e00 0100 22f51300 02 000000
        10270000 1a48 10270000 1a28 01 09
        34 04 0000 0000 0000 00 00   electronic key segment (any)
        20 04 24 06 2c 02 2c 01      assembly 6, connection points 2 and 1";
    const FORWARD_OPEN_REPLY: &str = "
        6f 00 56 00 01000000 00000000 c0a8641c00004857 00000000
        00000000 0000 0400 0000 0000 b200 1e00
        d4 00 00 00   reply to Forward_Open, success
        0200a2f1 0300a2f1 0e00 0100 22f51300 10270000 10270000 00 00
        0080 1000 0002 08ae 00000000 0000000000000000
        0180 1000 0002 08ae efc00580 0000000000000000";

    #[test]
    fn a_session_pairs_its_requests_by_sender_context() {
        let [reg, reg_r, fo, fo_r] = [REGISTER, REGISTER_REPLY, FORWARD_OPEN, FORWARD_OPEN_REPLY].map(hex);
        let c = run(&[(C2S, &reg), (S2C, &reg_r), (C2S, &fo), (S2C, &fo_r)]);
        assert_eq!(c.seen.len(), 2, "{:#?}", c.seen);
        let fo: serde_json::Value = serde_json::from_str(&c.seen[1]).expect("json");
        assert_eq!(fo["request"]["command_name"], "send_rr_data");
        assert_eq!(fo["request"]["session"], 1);
        assert_eq!(fo["request"]["cip"]["service_name"], "forward_open");
        assert_eq!(fo["request"]["cip"]["class_name"], "connection_manager");
        assert_eq!(fo["response"]["cip"]["service_name"], "forward_open");
        assert_eq!(fo["response"]["cip"]["general_status_name"], "success");
        assert_eq!(fo["response"]["sender_context"], "c0a8641c00004857");
        // What the connection is: class 1 cyclic I/O to assembly 6, 10 ms
        // each way, point-to-point out, multicast back.
        let open = &fo["request"]["cip"]["forward_open"];
        assert_eq!(open["o_t"]["type"], "point_to_point");
        assert_eq!(open["o_t"]["rpi_us"], 10_000);
        assert_eq!(open["o_t"]["size"], 26);
        assert_eq!(open["t_o"]["type"], "multicast");
        assert_eq!(open["transport_class"], 1);
        assert_eq!(open["trigger"], "cyclic");
        assert_eq!(open["originator_vendor"], 1);
        assert_eq!(open["path"]["class_name"], "assembly");
        assert_eq!(open["path"]["instance"], 6);
        assert_eq!(open["path"]["connection_points"], serde_json::json!([2, 1]));
        assert_eq!(open["path"]["electronic_key"]["vendor_id"], 0);
        // Where the target wants the I/O: its sockaddr info items.
        let items = &fo["response"]["items"];
        assert_eq!(items[0]["type_name"], "sockaddr_o_t");
        assert_eq!(items[0]["port"], 2222);
        assert_eq!(items[1]["address"], "239.192.5.128");
        let opened = &fo["response"]["cip"]["forward_open"];
        assert_eq!(opened["o_t_connection_id"], 0xf1a2_0002_u32);
        assert_eq!(opened["t_o_connection_id"], 0xf1a2_0003_u32);
        assert_eq!(opened["t_o_api_us"], 10_000);
        let reg: serde_json::Value = serde_json::from_str(&c.seen[0]).expect("json");
        assert_eq!(reg["response"]["session"], 1);
    }

    #[test]
    fn list_services_names_the_target_services() {
        // emre_enip_cip_cm.pcap frames 6 and 7.
        let request = hex("04 00 00 00 00000000 00000000 0000000000000000 00000000");
        let reply = hex("
            04 00 1a 00 00000000 00000000 0000000000000000 00000000
            0100        one item
            0001 1400   type 0x0100 communications, length 20
            0100 2001   version 1, capability flags 0x0120 (CIP over TCP and UDP)
            436f6d6d756e69636174696f6e730000   Communications");
        let c = run(&[(C2S, &request), (S2C, &reply)]);
        assert_eq!(c.seen.len(), 1, "{:?}", c.seen);
        let tx: serde_json::Value = serde_json::from_str(&c.seen[0]).expect("json");
        let service = &tx["response"]["services"][0];
        assert_eq!(service["type"], 0x100);
        assert_eq!(service["capabilities"], 0x120);
        assert_eq!(service["name"], "Communications");
    }

    #[test]
    fn requests_on_a_session_the_target_did_not_register_are_raised_once() {
        let [reg, reg_r, fo] = [REGISTER, REGISTER_REPLY, FORWARD_OPEN].map(hex);
        // The same Forward_Open on session 2, twice: one anomaly.
        let mut other = fo.clone();
        other[4] = 2;
        let c = run(&[(C2S, &reg), (S2C, &reg_r), (C2S, &other), (C2S, &other)]);
        let anomalies: Vec<&String> = c.seen.iter().filter(|s| s.starts_with("anomaly:")).collect();
        assert_eq!(anomalies, ["anomaly:unregistered_session"]);
        // After UnRegisterSession, the registered session is refused too.
        let unregister = hex("66 00 00 00 01000000 00000000 0000000000000000 00000000");
        let c = run(&[(C2S, &reg), (S2C, &reg_r), (C2S, &unregister), (C2S, &fo)]);
        assert!(c.seen.contains(&"anomaly:unregistered_session".to_string()), "{:?}", c.seen);
        // A capture that starts after the registration raises nothing.
        let c = run(&[(C2S, &fo)]);
        assert!(c.seen.iter().all(|s| !s.starts_with("anomaly:")), "{:?}", c.seen);
    }

    #[test]
    fn connected_messages_pair_by_sequence_count() {
        // emre_special_cip.pcap frames 2 and 3: Read_Tag on connection
        // 0x4c83c9a6, reply on 0x1051142a, both with sequence 30268.
        let request = hex("
            70 00 28 00 82824e23 00000000 0000000000000000 00000000
            00000000 0000 0200 a100 0400 a6c9834c b100 1400 3c76
            4c 07 91 0c 5f494f5f454d5f444f5f3030 01 00");
        let reply = hex("
            70 00 1d 00 82824e23 00000000 0000000000000000 00000000
            00000000 0000 0200 a100 0400 2a145110 b100 0900 3c76
            cc 00 00 00 c1 00 00");
        let c = run(&[(C2S, &request), (S2C, &reply)]);
        assert_eq!(c.seen.len(), 1, "{:?}", c.seen);
        let tx: serde_json::Value = serde_json::from_str(&c.seen[0]).expect("json");
        assert_eq!(tx["request"]["connection_id"], 0x4c83_c9a6_u32);
        assert_eq!(tx["response"]["connection_id"], 0x1051_142a_u32);
        assert_eq!(tx["request"]["sequence"], 30268);
        assert_eq!(tx["request"]["cip"]["tag"], "_IO_EM_DO_00");
        assert_eq!(tx["request"]["cip"]["service_name"], "read_tag");
        assert_eq!(tx["request"]["cip"]["elements"], 1);
        assert_eq!(tx["response"]["cip"]["service_name"], "read_tag");
        assert_eq!(tx["response"]["cip"]["data_type_name"], "bool");
        assert_eq!(tx["response"]["cip"]["value"], 0);
    }

    #[test]
    fn list_identity_reveals_the_device() {
        // enip_test.pcap frames 6 and 7 (nmap enip-info).
        let request = hex("63 00 00 00 00000000 00000000 c1debed100000000 00000000");
        let reply = hex("
            63 00 33 00 00000000 00000000 c1debed100000000 00000000
            0100 0c00 2d00 0100 0002 af12 0a0101a4 0000000000000000
            0100 0c00 3a00 04 03 3000 8e4d5200
            0b 313735362d454e42542f41 03");
        let c = run(&[(C2S, &request), (S2C, &reply)]);
        assert_eq!(
            c.identities,
            ["Rockwell Automation/Allen-Bradley | 1756-ENBT/A | communications_adapter | 4.3 | 0x00524d8e | 58"]
        );
        let tx: serde_json::Value = serde_json::from_str(&c.seen[0]).expect("json");
        let id = &tx["response"]["identities"][0];
        assert_eq!(id["address"], "10.1.1.164");
        assert_eq!(id["port"], 44818);
        assert_eq!(id["device_type_name"], "communications_adapter");
        assert_eq!(id["state"], 3);
    }

    #[test]
    fn identity_get_attributes_all_reveals_the_device() {
        // Get_Attributes_All of Identity instance 1 and its reply: vendor
        // 1, device type 0x0E, product code 0x0036, revision 20.11,
        // status 0x0060, serial 0x00c0ffee, "1756-L61/B LOGIX5561".
        let request = hex("
            6f 00 16 00 01000000 00000000 0100000000000000 00000000
            00000000 0000 0200 0000 0000 b200 0600
            01 02 20 01 24 01");
        let reply = hex("
            6f 00 38 00 01000000 00000000 0100000000000000 00000000
            00000000 0000 0200 0000 0000 b200 2800
            81 00 00 00
            0100 0e00 3600 14 0b 6000 eeffc000
            14 313735362d4c36312f42204c4f474958353536 31
            03");
        let c = run(&[(C2S, &request), (S2C, &reply)]);
        assert_eq!(
            c.identities,
            ["Rockwell Automation/Allen-Bradley | 1756-L61/B LOGIX5561 | programmable_logic_controller | 20.11 | 0x00c0ffee | 54"]
        );
        let tx: serde_json::Value = serde_json::from_str(&c.seen[0]).expect("json");
        assert_eq!(tx["response"]["cip"]["identity"]["vendor_name"], "Rockwell Automation/Allen-Bradley");
    }

    #[test]
    fn unknown_commands_frame_and_bad_headers_resynchronise() {
        let nop = hex("00 00 00 00 00000000 00000000 0000000000000000 00000000");
        // Command 0x0001 (not defined), length 0, as in the CL5000 firmware
        // change capture: framed and named.
        let unknown = hex("01 00 00 00 00000000 00000000 0000000000000000 00000000");
        let c = run(&[(C2S, &unknown), (C2S, &nop)]);
        assert_eq!(c.seen.iter().filter(|s| s.starts_with("anomaly:")).collect::<Vec<_>>(), ["anomaly:unknown_command"]);
        assert_eq!(c.seen.len(), 3, "{:?}", c.seen);
        // Garbage, then two NOPs: the garbage is skipped, the NOPs decode.
        let mut garbage = b"GET / HTTP/1.1\r\nHost: plc\r\n\r\n".to_vec();
        garbage.extend_from_slice(&nop);
        garbage.extend_from_slice(&nop);
        let c = run(&[(C2S, &garbage)]);
        let names: Vec<&str> = c.seen.iter().map(String::as_str).filter(|s| s.starts_with("anomaly:")).collect();
        assert_eq!(names, ["anomaly:bad_options", "anomaly:non_enip_traffic", "anomaly:message_after_parse_error"]);
        assert_eq!(c.seen.len() - names.len(), 2, "{:?}", c.seen);
        // A length beyond the limit is not trusted.
        let huge = hex("6f 00 ff ff 00000000 00000000 0000000000000000 00000000");
        let c = run(&[(C2S, &huge)]);
        assert!(c.seen.contains(&"anomaly:bad_length".to_string()), "{:?}", c.seen);
    }

    #[test]
    fn unmatched_replies_and_too_many_requests_are_raised() {
        let [_, _, fo, fo_r] = [REGISTER, REGISTER_REPLY, FORWARD_OPEN, FORWARD_OPEN_REPLY].map(hex);
        let c = run(&[(S2C, &fo_r)]);
        assert_eq!(c.seen[0], "anomaly:unmatched_response");
        // 33 requests with distinct contexts and no reply: the first is
        // given up with an anomaly, all 33 are emitted.
        let mut chunks = Vec::new();
        let mut owned = Vec::new();
        for i in 0..33u8 {
            let mut m = fo.clone();
            m[12] = i;
            owned.push(m);
        }
        for m in &owned {
            chunks.push((C2S, m.as_slice()));
        }
        let c = run(&chunks);
        assert_eq!(c.seen.iter().filter(|s| *s == "anomaly:too_many_outstanding_requests").count(), 1);
        assert_eq!(c.seen.iter().filter(|s| !s.starts_with("anomaly:")).count(), 33);
    }

    #[test]
    fn tag_names_from_packets_are_escaped_in_eve() {
        // Write_Tag to a symbol holding a quote, a backslash and a
        // control character; DINT, one element, value -2.
        let mut cip = vec![0x4d, 0x04, 0x91, 0x05];
        cip.extend_from_slice(b"a\"\\\x01b\0");
        cip.extend_from_slice(&[0xc4, 0x00, 0x01, 0x00, 0xfe, 0xff, 0xff, 0xff]);
        let mut data = hex("00000000 0000 0200 0000 0000 b200");
        data.extend_from_slice(&(cip.len() as u16).to_le_bytes());
        data.extend_from_slice(&cip);
        let mut m = hex("6f 00 00 00 01000000 00000000 0000000000000000 00000000");
        m[2..4].copy_from_slice(&(data.len() as u16).to_le_bytes());
        m.extend_from_slice(&data);
        let c = run(&[(C2S, &m)]);
        let tx: serde_json::Value = serde_json::from_str(&c.seen[0]).expect("json");
        assert_eq!(tx["request"]["cip"]["tag"], "a\"\\\u{1}b");
        assert_eq!(tx["request"]["cip"]["service_name"], "write_tag");
        assert_eq!(tx["request"]["cip"]["data_type_name"], "dint");
        assert_eq!(tx["request"]["cip"]["value"], -2);
    }

    #[test]
    fn implicit_io_is_counted_per_connection() {
        // ndpi_cip_io.pcap: two connections, two packets each; the second
        // packet of the first skips one sequence number.
        let datagrams = [
            "0200 0280 0800 787b3a00 e8cb5e04 b100 0c00 0300 fdffffffffffffff 0000",
            "0200 0280 0800 ebb49176 54cc5e04 b100 1000 c6e4 01000000 fdffffffffffffff 0000",
            "0200 0280 0800 787b3a00 eacb5e04 b100 0c00 0300 fdffffffffffffff 0000",
            "0200 0280 0800 ebb49176 55cc5e04 b100 1000 fbe4 01000000 fdffffffffffffff 0000",
        ]
        .map(hex);
        let mut d = EnipDissector::default();
        let mut sink = Collect::default();
        let mut cx = Context {
            ts: Timestamp::new(1, 0),
            sink: &mut sink,
        };
        for dg in &datagrams {
            d.parse_datagram(Direction::ToServer, dg, &mut cx);
        }
        // A datagram that is neither: raised.
        d.parse_datagram(Direction::ToServer, b"\x01\x02\x03", &mut cx);
        DatagramDissector::flush(&mut d, &mut cx);
        assert_eq!(sink.seen[0], "anomaly:malformed_datagram");
        let io: Vec<serde_json::Value> = sink.seen[1..]
            .iter()
            .map(|s| serde_json::from_str::<serde_json::Value>(s).expect("json")["io"].clone())
            .collect();
        assert_eq!(io.len(), 2);
        assert_eq!(io[0]["connection_id"], 0x003a_7b78);
        assert_eq!(io[0]["packets"], 2);
        assert_eq!(io[0]["skipped"], 1);
        assert_eq!(io[1]["packets"], 2);
        assert_eq!(io[1]["skipped"], 0);
        assert_eq!(io[1]["out_of_order"], 0);
    }

    #[test]
    fn every_fixture_split_at_every_offset_gives_the_same_events() {
        let [reg, reg_r, fo, fo_r] = [REGISTER, REGISTER_REPLY, FORWARD_OPEN, FORWARD_OPEN_REPLY].map(hex);
        let whole = run(&[(C2S, &reg), (S2C, &reg_r), (C2S, &fo), (S2C, &fo_r)]).seen;
        let mut client = reg.clone();
        client.extend_from_slice(&fo);
        for cut in 1..client.len() {
            let (a, b) = client.split_at(cut);
            // Replies follow once the client's bytes are all in.
            let split = run(&[(C2S, a), (C2S, b), (S2C, &reg_r), (S2C, &fo_r)]).seen;
            assert_eq!(split, whole, "cut at {cut}");
        }
    }
}
