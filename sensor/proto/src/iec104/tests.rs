//! IEC 104 decoding tests on APDUs of the public corpus, one comment per
//! field.

use super::apci::{Apci, ApciError, Control, UFunction};
use super::asdu::{Asdu, AsduError, Value};
use super::codes::{Cause, TimeTag, TypeId};
use crate::stream::Candidate;
use proptest::prelude::*;

use crate::testutil::hex_lines as hex;

/// diverse_090813.pcap: two short floats, periodic.
const FLOATS: &str = "
    68 1a       start, length 26
    9a00 2800   I-format: N(S) 77, N(R) 20
    0d          type 13 M_ME_NC_1
    02          VSQ: SQ 0, 2 objects
    01 00       cause 1 periodic, originator 0
    0300        common address 3
    140500      IOA 1300
    0000f041 00 30.0, QDS 0
    150500      IOA 1301
    00003144 00 708.0, QDS 0";

#[test]
fn an_i_frame_carries_measured_values() {
    let b = hex(FLOATS);
    let apci = Apci::read(&b).expect("six bytes").expect("valid");
    assert_eq!(apci.frame_len(), b.len());
    assert_eq!(
        apci.control,
        Control::I {
            send: 77,
            receive: 20
        }
    );
    assert_eq!(apci.validate(), Ok(()));
    let asdu = Asdu::parse(&b[6..]).expect("asdu");
    assert_eq!(asdu.type_id, TypeId::MMeNc1);
    assert_eq!(asdu.type_id.name(), Some("M_ME_NC_1"));
    assert_eq!(asdu.cause, Cause::Periodic);
    assert!(!asdu.negative && !asdu.test && !asdu.sequence);
    assert_eq!(asdu.common_address, 3);
    let objects: Vec<(u32, Value, Option<u8>)> = asdu
        .objects()
        .map(|o| {
            let e = super::asdu::Element::decode(asdu.type_id, o.element).expect("element");
            (o.ioa, e.value, e.quality)
        })
        .collect();
    assert_eq!(
        objects,
        [
            (1300, Value::Float(30.0), Some(0)),
            (1301, Value::Float(708.0), Some(0))
        ]
    );
}

#[test]
fn a_command_with_time_selects_and_carries_its_cp56_time() {
    // diverse_090813.pcap: C_SC_TA_1, activation.
    let b = hex("
        68 15 2800 9c00   length 21, I-format N(S) 20, N(R) 78
        3a 01             type 58 C_SC_TA_1, one object
        06 00 0300        cause 6 activation, originator 0, common address 3
        951100            IOA 4501
        81                SCO: select, state on, qualifier 0
        0800 17 13 0d 08 6d   CP56: 8 ms, 23 min, 19 h, day 13, month 8, year 0x6d");
    let asdu = Asdu::parse(&b[6..]).expect("asdu");
    assert_eq!(asdu.type_id, TypeId::CScTa1);
    assert!(asdu.type_id.is_command());
    assert_eq!(asdu.type_id.time_tag(), Some(TimeTag::Cp56));
    assert_eq!(asdu.cause, Cause::Activation);
    let o = asdu.objects().next().expect("one object");
    assert_eq!(o.ioa, 4501);
    let e = super::asdu::Element::decode(asdu.type_id, o.element).expect("element");
    assert_eq!(e.value, Value::Bool(true));
    assert_eq!(e.select, Some(true));
    assert_eq!(e.qualifier, Some(0));
    let t = e.time56.expect("time");
    assert_eq!((t.minute, t.hour, t.day, t.month), (23, 19, 13, 8));
    assert_eq!(t.to_string(), "2109-08-13T19:23:00.008");
}

#[test]
fn a_sequence_of_elements_counts_addresses_up() {
    // emre_single_apdu.pcapng: sixteen single points, SQ 1, answering a
    // station interrogation.
    let b = hex("
        68 1d 0200 0200   length 29, I-format N(S) 1, N(R) 1
        01 90             type 1 M_SP_NA_1, SQ 1, 16 elements
        14 00 1e04        cause 20 interrogated by station, originator 0, common address 1054
        000000            IOA 0
        00000000 00000000 00000000 00000000   sixteen SIQ octets: off, good");
    let asdu = Asdu::parse(&b[6..]).expect("asdu");
    assert!(asdu.sequence);
    assert_eq!(asdu.cause, Cause::InterrogatedStation);
    assert_eq!(asdu.common_address, 1054);
    let ioas: Vec<u32> = asdu.objects().map(|o| o.ioa).collect();
    assert_eq!(ioas, (0..16).collect::<Vec<u32>>());
}

#[test]
fn u_and_s_frames_and_their_errors() {
    // STARTDT act, STARTDT con, TESTFR act, an S-frame acknowledging 3.
    let cases: [(&[u8], Option<UFunction>, &str); 4] = [
        (&[0x68, 4, 0x07, 0, 0, 0], Some(UFunction::StartDtAct), "U"),
        (&[0x68, 4, 0x0b, 0, 0, 0], Some(UFunction::StartDtCon), "U"),
        (&[0x68, 4, 0x43, 0, 0, 0], Some(UFunction::TestFrAct), "U"),
        (&[0x68, 4, 0x01, 0, 0x06, 0], None, "S"),
    ];
    for (b, function, format) in cases {
        let a = Apci::read(b).expect("six").expect("valid");
        assert_eq!(a.validate(), Ok(()), "{b:?}");
        assert_eq!(a.control.u_function(), function);
        assert_eq!(a.control.format(), format);
    }
    assert_eq!(
        Control::parse([0x01, 0, 0x06, 0]),
        Control::S { receive: 3 }
    );
    // Two U function bits, a U-frame with data, an I-frame without, a bad
    // start and a bad length.
    assert_eq!(
        Apci::read(&[0x68, 4, 0x0f, 0, 0, 0])
            .expect("six")
            .expect("framed")
            .validate(),
        Err(ApciError::BadUFunction(0x0f))
    );
    assert_eq!(
        Apci::read(&[0x68, 5, 0x07, 0, 0, 0, 9])
            .expect("six")
            .expect("framed")
            .validate(),
        Err(ApciError::LengthDoesNotFit {
            format: "U",
            length: 5
        })
    );
    assert_eq!(
        Apci::read(&[0x68, 4, 0x00, 0, 0, 0])
            .expect("six")
            .expect("framed")
            .validate(),
        Err(ApciError::LengthDoesNotFit {
            format: "I",
            length: 4
        })
    );
    assert_eq!(
        Apci::read(&[0x69, 4, 7, 0, 0, 0]),
        Some(Err(ApciError::BadStart(0x69)))
    );
    assert_eq!(
        Apci::read(&[0x68, 2, 7, 0, 0, 0]),
        Some(Err(ApciError::BadLength(2)))
    );
    assert_eq!(Apci::read(&[0x68, 4, 7]), None);
}

#[test]
fn malformed_asdus_are_errors() {
    // Two objects announced, one present.
    let b = hex("0d 02 01 00 0300 140500 0000f041 00");
    assert_eq!(
        Asdu::parse(&b),
        Err(AsduError::LengthMismatch {
            expected: 16,
            got: 8
        })
    );
    assert_eq!(
        Asdu::parse(&[0x0d, 0x00, 1, 0, 3, 0]),
        Err(AsduError::NoObjects)
    );
    assert_eq!(Asdu::parse(&[0x0d, 0x01]), Err(AsduError::Truncated(2)));
    // A private type (200) is kept raw: one object with everything.
    let raw = hex("c8 01 03 00 0100 010000 aabbcc");
    let private = Asdu::parse(&raw).expect("raw");
    assert_eq!(private.type_id, TypeId::Unknown(200));
    let o = private.objects().next().expect("one");
    assert_eq!((o.ioa, o.element), (1, &[0xaa, 0xbb, 0xcc][..]));
}

#[test]
fn probe_and_resynchronisation() {
    let startdt = [0x68, 4, 0x07, 0, 0, 0];
    assert!(super::apci::probe(&startdt));
    assert!(super::apci::probe(&hex(FLOATS)));
    // A response (STARTDT con) does not open a connection.
    assert!(!super::apci::probe(&[0x68, 4, 0x0b, 0, 0, 0]));
    assert!(!super::apci::probe(b"GET / HTTP/1.1\r\n"));
    let mut two = startdt.to_vec();
    two.extend_from_slice(&startdt);
    assert_eq!(super::apci::resync_candidate(&two), Candidate::Accept);
    assert_eq!(
        super::apci::resync_candidate(&startdt[..3]),
        Candidate::NeedMore
    );
    assert_eq!(super::apci::resync_candidate(b"xx"), Candidate::Reject);
}

#[test]
fn every_standard_type_is_named_and_sized() {
    let mut named = 0;
    for raw in 0..=255u8 {
        let t = TypeId::from(raw);
        if t.is_known() {
            named += 1;
            assert!(t.element_len().is_some() || t == TypeId::FSgNa1, "{t:?}");
        }
    }
    assert_eq!(named, 67);
}

proptest! {
    #[test]
    fn no_input_panics(b in proptest::collection::vec(any::<u8>(), 0..300)) {
        if let Some(Ok(a)) = Apci::read(&b) {
            let _ = a.validate();
        }
        let _ = super::apci::probe(&b);
        let _ = super::apci::resync_candidate(&b);
        if let Ok(asdu) = Asdu::parse(&b) {
            for o in asdu.objects() {
                let _ = super::asdu::Element::decode(asdu.type_id, o.element);
            }
        }
    }
}

// ---- The dissector: framing, session checks, command pairing, events.

mod dissector {
    use super::super::*;
    use super::hex;
    use crate::event::{Event, EventSink, Timestamp};
    use crate::json::JsonWriter;
    use crate::stream::StreamBuffer;
    use crate::Direction::{ToClient as S2C, ToServer as C2S};

    #[derive(Default)]
    struct Collect {
        seen: Vec<String>,
    }

    impl EventSink for Collect {
        fn emit(&mut self, event: &Event<'_>) {
            match &event.app {
                AppEvent::Iec104(tx) => {
                    let mut buf = Vec::new();
                    let mut w = JsonWriter::new(&mut buf);
                    w.begin_object();
                    tx.write_eve(&mut w);
                    w.end_object();
                    let text = String::from_utf8(buf).expect("utf8");
                    serde_json::from_str::<serde_json::Value>(&text).expect("EVE is JSON");
                    self.seen.push(text);
                }
                AppEvent::Anomaly(a) => {
                    assert!(SPEC.anomalies.contains(&a.name), "undeclared {}", a.name);
                    self.seen.push(format!("anomaly:{}", a.name));
                }
                _ => panic!("another protocol's event"),
            }
        }
    }

    /// Feeds (direction, seconds, bytes) through stream buffers.
    fn run(chunks: &[(crate::Direction, i64, &[u8])]) -> Vec<String> {
        let mut d = Iec104Dissector::default();
        let mut held = [StreamBuffer::default(), StreamBuffer::default()];
        let mut sink = Collect::default();
        let mut last = 0;
        for (dir, secs, bytes) in chunks {
            last = *secs;
            let mut cx = Context {
                ts: Timestamp::new(*secs, 0),
                sink: &mut sink,
            };
            held[dir.index()]
                .feed(&mut d, *dir, bytes, 1 << 16, &mut cx)
                .expect("within the bound");
        }
        let mut cx = Context {
            ts: Timestamp::new(last, 0),
            sink: &mut sink,
        };
        StreamDissector::flush(&mut d, &mut cx);
        sink.seen
    }

    /// A single command (C_SC_NA_1) to object 4501 of common address 3,
    /// cause `cause`, with the sequence numbers given.
    fn command(send: u16, receive: u16, cause: u8) -> Vec<u8> {
        let mut v = vec![0x68, 0x0e];
        v.extend_from_slice(&(send << 1).to_le_bytes());
        v.extend_from_slice(&(receive << 1).to_le_bytes());
        v.extend_from_slice(&[45, 1, cause, 0, 3, 0, 0x95, 0x11, 0, 0x01]);
        v
    }

    const STARTDT: [u8; 6] = [0x68, 4, 0x07, 0, 0, 0];
    const STARTDT_CON: [u8; 6] = [0x68, 4, 0x0b, 0, 0, 0];

    #[test]
    fn a_command_is_paired_with_its_confirmation_and_termination() {
        let (act, con, term) = (command(0, 0, 6), command(0, 1, 7), command(1, 1, 10));
        let seen = run(&[
            (C2S, 0, &STARTDT),
            (S2C, 0, &STARTDT_CON),
            (C2S, 1, &act),
            (S2C, 2, &con),
            (S2C, 3, &term),
        ]);
        assert!(seen.iter().all(|s| !s.starts_with("anomaly:")), "{seen:#?}");
        let v: Vec<serde_json::Value> =
            seen.iter().map(|s| serde_json::from_str(s).expect("json")).collect();
        assert_eq!(v[0]["apci"]["function"], "startdt_act");
        assert_eq!(v[2]["direction"], "control");
        assert_eq!(v[2]["asdu"]["type_name"], "C_SC_NA_1");
        assert_eq!(v[2]["asdu"]["cause_name"], "activation");
        assert_eq!(v[2]["asdu"]["objects"][0]["ioa"], 4501);
        assert_eq!(v[2]["asdu"]["objects"][0]["select"], false);
        assert_eq!(v[3]["command"]["response"], "confirmed");
        assert_eq!(v[3]["command"]["after_ms"], 1000.0);
        assert_eq!(v[4]["command"]["response"], "terminated");
    }

    #[test]
    fn injected_frames_and_unconfirmed_commands_are_raised() {
        // The master's N(S) 0 twice: the second is a duplicate.
        let seen = run(&[(C2S, 0, &command(0, 0, 6)), (C2S, 1, &command(0, 0, 6))]);
        assert!(seen.contains(&"anomaly:sequence_duplicate".to_string()), "{seen:?}");
        // An activation that nobody confirms within t1 (15 s).
        let seen = run(&[(C2S, 0, &command(0, 0, 6)), (C2S, 20, &[0x68, 4, 0x43, 0, 0, 0])]);
        assert!(seen.contains(&"anomaly:unconfirmed_command".to_string()), "{seen:?}");
        // A confirmation nobody asked for, on a session seen from its start.
        let seen = run(&[(C2S, 0, &STARTDT), (S2C, 0, &STARTDT_CON), (S2C, 1, &command(0, 0, 7))]);
        assert!(seen.contains(&"anomaly:unexpected_confirmation".to_string()), "{seen:?}");
    }

    #[test]
    fn a_read_is_settled_by_the_object_it_asked_for() {
        // C_RD_NA_1 (102) for object 4501 of common address 3, cause 5
        // (request): type, VSQ, COT, originator, common address, IOA.
        let read = [0x68, 0x0d, 0, 0, 0, 0, 102, 1, 5, 0, 3, 0, 0x95, 0x11, 0];
        // M_SP_NA_1 (1) for the same object, cause 5, SIQ "on".
        let answer = [0x68, 0x0e, 0, 0, 2, 0, 1, 1, 5, 0, 3, 0, 0x95, 0x11, 0, 0x01];
        const TESTFR: [u8; 6] = [0x68, 4, 0x43, 0, 0, 0];
        let seen = run(&[(C2S, 0, &STARTDT), (S2C, 0, &STARTDT_CON), (C2S, 1, &read), (S2C, 2, &answer), (C2S, 30, &TESTFR)]);
        assert!(seen.iter().all(|s| !s.starts_with("anomaly:")), "{seen:#?}");
        // The same read left unanswered is an unconfirmed command.
        let seen = run(&[(C2S, 0, &STARTDT), (S2C, 0, &STARTDT_CON), (C2S, 1, &read), (C2S, 30, &TESTFR)]);
        assert!(seen.contains(&"anomaly:unconfirmed_command".to_string()), "{seen:?}");
    }

    #[test]
    fn a_refusal_sent_twice_is_not_an_unexpected_confirmation() {
        // A negative confirmation (cause 7 with the P/N bit, 0x47), then the
        // station's "unknown object address" (47) for the same command.
        let seen = run(&[
            (C2S, 0, &STARTDT),
            (S2C, 0, &STARTDT_CON),
            (C2S, 1, &command(0, 0, 6)),
            (S2C, 2, &command(0, 1, 0x47)),
            (S2C, 2, &command(1, 1, 47)),
        ]);
        assert!(seen.iter().all(|s| !s.starts_with("anomaly:")), "{seen:#?}");
        let con: serde_json::Value = serde_json::from_str(&seen[3]).expect("json");
        assert_eq!(con["asdu"]["negative"], true);
    }

    #[test]
    fn garbage_is_skipped_and_malformed_asdus_are_raised() {
        let mut bytes = b"\x01\x02garbage".to_vec();
        bytes.extend_from_slice(&STARTDT);
        bytes.extend_from_slice(&STARTDT);
        let seen = run(&[(C2S, 0, &bytes)]);
        let names: Vec<&str> =
            seen.iter().map(String::as_str).filter(|s| s.starts_with("anomaly:")).collect();
        assert_eq!(names, ["anomaly:bad_start", "anomaly:non_iec104_traffic", "anomaly:apdu_after_parse_error"]);
        assert_eq!(seen.len() - names.len(), 2);
        // An M_ME_NC_1 announcing two objects and carrying one.
        let bad = hex("68 12 00 00 00 00  0d 02 03 00 0300  640000 00002041 00");
        let seen = run(&[(S2C, 0, &bad)]);
        assert_eq!(seen[0], "anomaly:malformed_asdu");
        let v: serde_json::Value = serde_json::from_str(&seen[1]).expect("json");
        assert!(v["asdu"]["error"].as_str().is_some_and(|e| e.contains("need 16")), "{v}");
    }

    #[test]
    fn every_offset_split_gives_the_same_events() {
        let mut client = STARTDT.to_vec();
        client.extend_from_slice(&command(0, 0, 6));
        let server = [STARTDT_CON.to_vec(), command(0, 1, 7)].concat();
        let whole = run(&[(C2S, 0, &client), (S2C, 0, &server)]);
        for cut in 1..client.len() {
            let split = run(&[(C2S, 0, &client[..cut]), (C2S, 0, &client[cut..]), (S2C, 0, &server)]);
            assert_eq!(split, whole, "cut at {cut}");
        }
    }
}
