//! Modbus tests: real ADUs recorded from pymodbus 3.16 (`pcaps/`), a table of
//! malformed inputs with their exact errors, every anomaly made to fire, and
//! every fixture split at every offset through the stream buffer.

use super::*;
use crate::event::{Event, EventSink};
use crate::json::JsonWriter;
use crate::stream::StreamBuffer;

use crate::testutil::hex;

/// What a test sees: each event rendered (transactions as their EVE JSON,
/// anomalies as `anomaly:<name>`).
#[derive(Default)]
struct Collect {
    seen: Vec<String>,
    /// The anomalies' messages, in order.
    messages: Vec<String>,
}

impl EventSink for Collect {
    fn emit(&mut self, event: &Event<'_>) {
        match &event.app {
            AppEvent::Modbus(tx) => {
                let mut buf = Vec::new();
                let mut w = JsonWriter::new(&mut buf);
                w.begin_object();
                tx.write_eve(&mut w);
                w.end_object();
                self.seen.push(String::from_utf8(buf).expect("utf8"));
            }
            AppEvent::Anomaly(a) => {
                // Every name raised is one the registry declares (rules may
                // name only those).
                assert!(SPEC.anomalies.contains(&a.name), "undeclared {}", a.name);
                assert_eq!(a.protocol, SPEC.name);
                self.seen.push(format!("anomaly:{}", a.name));
                self.messages.push(a.detail.to_string());
            }
            #[allow(unreachable_patterns)]
            _ => {}
        }
    }
}

/// Feeds (direction, bytes) chunks through stream buffers into a dissector.
fn run(chunks: &[(Direction, &[u8])]) -> Vec<String> {
    collect(chunks).seen
}

/// Like [`run`], with the anomalies' messages.
fn collect(chunks: &[(Direction, &[u8])]) -> Collect {
    let mut d = ModbusDissector::default();
    let mut held = [StreamBuffer::default(), StreamBuffer::default()];
    let mut sink = Collect::default();
    for (dir, bytes) in chunks {
        let mut cx = Context {
            ts: Timestamp::new(1, 0),
            sink: &mut sink,
        };
        held[dir.index()]
            .feed(&mut d, *dir, bytes, 4096, &mut cx)
            .expect("no overflow");
    }
    let mut cx = Context {
        ts: Timestamp::new(2, 0),
        sink: &mut sink,
    };
    d.flush(&mut cx);
    sink
}

const TO_S: Direction = Direction::ToServer;
const TO_C: Direction = Direction::ToClient;

/// Read holding registers request, pymodbus 3.16.
const READ_HOLDING_REQ: &str = concat!(
    "0006", // transaction id 6
    "0000", // protocol id 0
    "0006", // length: unit + 5-byte PDU
    "01",   // unit id 1
    "03",   // function 3, read holding registers
    "0000", // start address 0
    "000a", // quantity 10
);

/// Its response.
const READ_HOLDING_RESP: &str = concat!(
    "0006",
    "0000",
    "0017",
    "01",                                       // MBAP: tid 6, length 23, unit 1
    "03",                                       // function 3
    "14",                                       // byte count 20
    "03e803e903ea03eb03ec03ed03ee03ef03f003f1", // registers 1000..=1009
);

#[test]
fn pairs_read_holding_registers() {
    let req = hex(READ_HOLDING_REQ);
    let resp = hex(READ_HOLDING_RESP);
    let seen = run(&[(TO_S, &req), (TO_C, &resp)]);
    assert_eq!(
        seen,
        vec![concat!(
            r#"{"transaction_id":6,"unit_id":1,"#,
            r#""request":{"function_code":3,"function":"read_holding_registers","access":"read","address":0,"quantity":10},"#,
            r#""response":{"function_code":3,"function":"read_holding_registers","access":"read","byte_count":20,"#,
            r#""registers":[1000,1001,1002,1003,1004,1005,1006,1007,1008,1009]}}"#
        )]
    );
}

#[test]
fn decodes_device_identification_objects() {
    // Read device identification, regular stream (pymodbus server with the
    // identity set by tests/peers/modbus_server.py).
    let req = hex("0002 0000 0005 01 2b 0e 02 00"); // MEI 14, code 2 (regular), object 0
    let resp = hex(concat!(
        "0002 0000 0088 01",                            // MBAP, length 136
        "2b 0e 02",                                     // function 43, MEI 14, code 2
        "83",                                           // conformity level 0x83
        "00",                                           // more follows: no
        "00",                                           // next object id
        "07",                                           // 7 objects
        "00 13 6f7477617463682d746573742d76656e646f72", // 0 vendor: otwatch-test-vendor
        "01 09 4f54572d504c432d31",                     // 1 product code: OTW-PLC-1
        "02 05 312e322e33",                             // 2 revision: 1.2.3
        "03 1b 68747470733a2f2f6f7477617463682e696e76616c69642f706c63", // 3 url
        "04 10 6f747761746368207465737420504c43",       // 4 product name
        "05 11 4f54572d504c432d31206d6f64656c2041",     // 5 model name
        "06 15 6f7477617463682d706565722d7265636f72646572", // 6 user application
    ));
    let seen = run(&[(TO_S, &req), (TO_C, &resp)]);
    assert_eq!(seen.len(), 1);
    let json = &seen[0];
    assert!(
        json.contains(r#""read_device_id":{"code":2,"code_name":"regular","object_id":0}"#),
        "{json}"
    );
    assert!(
        json.contains(concat!(
            r#""objects":{"vendor_name":"otwatch-test-vendor","product_code":"OTW-PLC-1","#,
            r#""major_minor_revision":"1.2.3","vendor_url":"https://otwatch.invalid/plc","#,
            r#""product_name":"otwatch test PLC","model_name":"OTW-PLC-1 model A","#,
            r#""user_application_name":"otwatch-peer-recorder"}"#
        )),
        "{json}"
    );
    let body = pdu::decode_response(&resp[7..]).expect("valid");
    let Response::DeviceIdentification(id) = body else {
        panic!("{body:?}")
    };
    assert_eq!(
        id.object(DeviceObjectId::ModelName),
        Some(&b"OTW-PLC-1 model A"[..])
    );
    assert_eq!(id.count, 7);
}

#[test]
fn decodes_every_public_request() {
    use Request as R;
    let cases: Vec<(&str, Request<'static>)> = vec![
        (
            "01 0000 0010",
            R::Read {
                address: 0,
                quantity: 16,
            },
        ), // read coils 0..16
        (
            "0500 00 ff00",
            R::WriteSingleCoil {
                address: 0,
                on: true,
            },
        ),
        (
            "0500 01 0000",
            R::WriteSingleCoil {
                address: 1,
                on: false,
            },
        ),
        (
            "0600 0a 01f4",
            R::WriteSingleRegister {
                address: 10,
                value: 500,
            },
        ),
        ("07", R::NoData),
        ("0b", R::NoData),
        ("0c", R::NoData),
        ("11", R::NoData),
        (
            "0800 04 0000",
            R::Diagnostics {
                subfunction: DiagnosticSubfunction::ForceListenOnlyMode,
                data: &[0, 0],
            },
        ),
        // write multiple coils: address 20, 8 coils, 1 byte 0x4d
        (
            "0f 0014 0008 01 4d",
            R::WriteMultipleCoils {
                address: 20,
                quantity: 8,
                values: &[0x4d],
            },
        ),
        // write multiple registers: address 30, 3 registers 0,1,2
        (
            "10 001e 0003 06 0000 0001 0002",
            R::WriteMultipleRegisters {
                address: 30,
                quantity: 3,
                values: &[0, 0, 0, 1, 0, 2],
            },
        ),
        // read file record: one sub-request, ref 6, file 4, record 1, length 2
        (
            "14 07 06 0004 0001 0002",
            R::ReadFileRecord {
                subrequests: &[6, 0, 4, 0, 1, 0, 2],
            },
        ),
        (
            "15 09 06 0004 0007 0001 06af",
            R::WriteFileRecord {
                subrequests: &[6, 0, 4, 0, 7, 0, 1, 6, 0xaf],
            },
        ),
        (
            "16 0028 00f2 0025",
            R::MaskWriteRegister {
                address: 40,
                and_mask: 0xf2,
                or_mask: 0x25,
            },
        ),
        // read/write: read 4 at 0, write 2 at 50 (0x0100, 0x0200)
        (
            "17 0000 0004 0032 0002 04 0100 0200",
            R::ReadWriteMultipleRegisters {
                read_address: 0,
                read_quantity: 4,
                write_address: 50,
                write_quantity: 2,
                values: &[1, 0, 2, 0],
            },
        ),
        ("18 003c", R::ReadFifoQueue { address: 60 }),
        (
            "2b 0e 04 05",
            R::ReadDeviceIdentification {
                code: DeviceIdCode::Individual,
                object_id: 5,
            },
        ),
        (
            "2b 0d 0102",
            R::Encapsulated {
                mei: MeiType::CanopenGeneralReference,
                data: &[1, 2],
            },
        ),
        (
            "5a 00 41 ff",
            R::Umas {
                session: 0,
                code: UmasCode::StopPlc,
                data: &[0xff],
            },
        ), // UMAS stop PLC
        ("41 0102", R::Raw(&[1, 2])), // user-defined function 65
    ];
    for (text, expected) in cases {
        let bytes = hex(text);
        assert_eq!(pdu::decode_request(&bytes), Ok(expected), "{text}");
    }
}

#[test]
fn decodes_every_public_response() {
    use Response as R;
    let cases: Vec<(&str, Response<'static>)> = vec![
        (
            "01 02 4992",
            R::Bits {
                values: &[0x49, 0x92],
            },
        ),
        (
            "04 04 07d0 07d1",
            R::Registers {
                values: &[7, 0xd0, 7, 0xd1],
            },
        ),
        (
            "05 0000 ff00",
            R::WriteSingle {
                address: 0,
                value: 0xff00,
            },
        ),
        ("07 00", R::ExceptionStatus { status: 0 }),
        (
            "08 0004",
            R::Diagnostics {
                subfunction: DiagnosticSubfunction::ForceListenOnlyMode,
                data: &[],
            },
        ),
        (
            "0b 0000 0003",
            R::CommEventCounter {
                status: 0,
                event_count: 3,
            },
        ),
        (
            "0c 08 0000 0001 0002 2040",
            R::CommEventLog {
                status: 0,
                event_count: 1,
                message_count: 2,
                events: &[0x20, 0x40],
            },
        ),
        (
            "0f 0014 0008",
            R::WriteMultiple {
                address: 20,
                quantity: 8,
            },
        ),
        (
            "11 03 0aff00",
            R::ServerId {
                data: &[0x0a, 0xff, 0],
            },
        ),
        (
            "14 04 03 06 0d fe",
            R::FileRecord {
                data: &[3, 6, 0x0d, 0xfe],
            },
        ),
        (
            "16 0028 00f2 0025",
            R::MaskWriteRegister {
                address: 40,
                and_mask: 0xf2,
                or_mask: 0x25,
            },
        ),
        (
            "18 000a 0004 0000 0001 0002 0003",
            R::FifoQueue {
                count: 4,
                values: &[0, 0, 0, 1, 0, 2, 0, 3],
            },
        ),
        ("83 02", R::Exception(ExceptionCode::IllegalDataAddress)),
        ("da 01", R::Exception(ExceptionCode::IllegalFunction)), // UMAS refused
        ("c1 0c", R::Exception(ExceptionCode::Unknown(0x0c))),
        (
            "5a 00 fe 01",
            R::Umas {
                session: 0,
                code: UmasCode::Ok,
                data: &[1],
            },
        ),
        ("64 aa", R::Raw(&[0xaa])),
    ];
    for (text, expected) in cases {
        let bytes = hex(text);
        assert_eq!(pdu::decode_response(&bytes), Ok(expected), "{text}");
    }
}

#[test]
fn rejects_malformed_pdus_with_exact_errors() {
    let requests: Vec<(&str, PduError)> = vec![
        ("", PduError::Empty),
        (
            "03 0000",
            PduError::TooShort {
                function: 3,
                needed: 5,
                actual: 3,
            },
        ),
        (
            "03 0000 000a 00",
            PduError::TrailingBytes {
                function: 3,
                expected: 5,
                actual: 6,
            },
        ),
        (
            "03 0000 0000",
            PduError::QuantityOutOfRange {
                function: 3,
                quantity: 0,
                max: 125,
            },
        ),
        (
            "03 0000 007e",
            PduError::QuantityOutOfRange {
                function: 3,
                quantity: 126,
                max: 125,
            },
        ),
        (
            "01 0000 07d1",
            PduError::QuantityOutOfRange {
                function: 1,
                quantity: 2001,
                max: 2000,
            },
        ),
        ("05 0000 1234", PduError::BadCoilValue(0x1234)),
        (
            "10 0000 0002 03 000100",
            PduError::ByteCountMismatch {
                function: 16,
                declared: 3,
                expected: 4,
            },
        ),
        (
            "10 0000 0002 05 00010002",
            PduError::ByteCountMismatch {
                function: 16,
                declared: 5,
                expected: 4,
            },
        ),
        (
            "0f 0000 0009 01 ff",
            PduError::ByteCountMismatch {
                function: 15,
                declared: 1,
                expected: 2,
            },
        ),
        (
            "14 05 0600040001",
            PduError::ByteCountMismatch {
                function: 20,
                declared: 5,
                expected: 7,
            },
        ),
        (
            "2b 0e 01",
            PduError::TooShort {
                function: 43,
                needed: 4,
                actual: 3,
            },
        ),
        (
            "2b 0e 01 00 00",
            PduError::TrailingBytes {
                function: 43,
                expected: 4,
                actual: 5,
            },
        ),
        (
            "07 00",
            PduError::TrailingBytes {
                function: 7,
                expected: 1,
                actual: 2,
            },
        ),
        (
            "5a 00",
            PduError::TooShort {
                function: 90,
                needed: 3,
                actual: 2,
            },
        ),
    ];
    for (text, expected) in requests {
        assert_eq!(pdu::decode_request(&hex(text)), Err(expected), "{text}");
    }
    let responses: Vec<(&str, PduError)> = vec![
        (
            "83",
            PduError::TooShort {
                function: 0x83,
                needed: 2,
                actual: 1,
            },
        ),
        (
            "03 03 000102",
            PduError::ByteCountMismatch {
                function: 3,
                declared: 3,
                expected: 4,
            },
        ),
        (
            "03 04 0001",
            PduError::ByteCountMismatch {
                function: 3,
                declared: 4,
                expected: 2,
            },
        ),
        (
            "2b 0e 01 83 00 00 02 00 03 616263 01 05 6162",
            PduError::TruncatedObject { object_id: 1 },
        ),
        (
            "2b 0e 01 83 00 00 01 00 01 61 ff",
            PduError::TrailingBytes {
                function: 43,
                expected: 10,
                actual: 11,
            },
        ),
        (
            "18 0004 0002 0000",
            PduError::ByteCountMismatch {
                function: 24,
                declared: 4,
                expected: 6,
            },
        ),
    ];
    for (text, expected) in responses {
        assert_eq!(pdu::decode_response(&hex(text)), Err(expected), "{text}");
    }
}

#[test]
fn exception_response_names_its_code() {
    let req = hex("0020 0000 0006 01 03 1000 0001"); // read 1 register at 4096
    let resp = hex("0020 0000 0003 01 83 02"); // exception 2, illegal data address
    let seen = run(&[(TO_S, &req), (TO_C, &resp)]);
    assert_eq!(seen.len(), 1);
    assert!(
        seen[0].ends_with(concat!(
            r#""response":{"function_code":3,"function":"read_holding_registers","access":"read","#,
            r#""exception":{"code":2,"name":"illegal_data_address"}}}"#
        )),
        "{}",
        seen[0]
    );
}

#[test]
fn diagnostics_subfunction_is_named() {
    let req = hex("0005 0000 0006 01 08 0004 0000"); // force listen only mode
    let seen = run(&[(TO_S, &req)]);
    assert_eq!(
        seen,
        vec![concat!(
            r#"{"transaction_id":5,"unit_id":1,"request":{"function_code":8,"function":"diagnostics","access":"diagnostics","#,
            r#""diagnostic":{"subfunction":4,"name":"force_listen_only_mode","data":"0000"}}}"#
        )],
        "a request without a response still gets its event"
    );
}

#[test]
fn unknown_function_is_kept_with_raw_bytes() {
    let req = hex("0007 0000 0004 01 42 beef"); // user-defined function 66
    let resp = hex("0007 0000 0003 01 42 01");
    let seen = run(&[(TO_S, &req), (TO_C, &resp)]);
    assert_eq!(
        seen,
        vec![concat!(
            r#"{"transaction_id":7,"unit_id":1,"request":{"function_code":66,"function":"unknown","access":"other","data":"beef"},"#,
            r#""response":{"function_code":66,"function":"unknown","access":"other","data":"01"}}"#
        )]
    );
}

#[test]
fn several_pdus_in_one_segment_and_one_split_inside_the_header() {
    let mut both = hex(READ_HOLDING_REQ);
    both.extend(hex("0007 0000 0006 01 04 0000 000a"));
    let seen = run(&[
        (TO_S, &both[..3]),
        (TO_S, &both[3..15]),
        (TO_S, &both[15..]),
    ]);
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert!(seen[0].contains(r#""transaction_id":6"#) && seen[1].contains(r#""transaction_id":7"#));
}

#[test]
fn every_fixture_split_at_every_offset_gives_the_same_events() {
    let fixtures: Vec<(Vec<u8>, Vec<u8>)> = vec![
        (hex(READ_HOLDING_REQ), hex(READ_HOLDING_RESP)),
        (
            hex("0002 0000 0005 01 2b 0e 01 00"),
            hex("0002 0000 0011 01 2b 0e 01 83 00 00 02 00 03 616263 01 02 7879"),
        ),
        (
            hex("000b 0000 000d 01 10 001e 0003 06 0000 0001 0002"),
            hex("000b 0000 0006 01 10 001e 0003"),
        ),
        (
            hex("0020 0000 0006 01 03 1000 0001"),
            hex("0020 0000 0003 01 83 02"),
        ),
    ];
    for (req, resp) in fixtures {
        let whole = run(&[(TO_S, &req), (TO_C, &resp)]);
        assert_eq!(whole.len(), 1);
        for cut in 0..=req.len() {
            let got = run(&[(TO_S, &req[..cut]), (TO_S, &req[cut..]), (TO_C, &resp)]);
            assert_eq!(got, whole, "request split at {cut}");
        }
        for cut in 0..=resp.len() {
            let got = run(&[(TO_S, &req), (TO_C, &resp[..cut]), (TO_C, &resp[cut..])]);
            assert_eq!(got, whole, "response split at {cut}");
        }
    }
}

#[test]
fn anomaly_bad_protocol_id_resynchronises() {
    let mut bytes = hex("0001 0001 0006 01 03 0000 0001"); // protocol id 1
    bytes.extend(hex(READ_HOLDING_REQ));
    let seen = run(&[(TO_S, &bytes)]);
    assert_eq!(
        seen[..3],
        [
            "anomaly:bad_protocol_id",
            "anomaly:non_modbus_traffic",
            "anomaly:pdu_after_parse_error"
        ]
    );
    assert!(seen[3].contains(r#""transaction_id":6"#));
    // A bad header with a large length does not swallow the PDUs after it.
    let mut bytes = hex("0001 0001 0100 01 03 0000 0001"); // protocol id 1, length 256
    bytes.extend(hex(READ_HOLDING_REQ));
    let seen = run(&[(TO_S, &hex(READ_HOLDING_REQ)), (TO_S, &bytes)]);
    assert_eq!(
        seen[..2],
        ["anomaly:bad_protocol_id", "anomaly:pdu_after_parse_error"]
    );
    assert_eq!(seen.len(), 4, "{seen:?}");
}

#[test]
fn anomaly_length_zero_and_non_modbus_then_resync() {
    let mut bytes = hex("0001 0000 0000 01"); // length 0
    bytes.extend(hex(READ_HOLDING_REQ));
    let seen = run(&[(TO_S, &bytes)]);
    assert_eq!(
        &seen[..3],
        [
            "anomaly:mbap_length_zero",
            "anomaly:non_modbus_traffic",
            "anomaly:pdu_after_parse_error"
        ]
    );
    assert!(seen[3].contains(r#""transaction_id":6"#), "{seen:?}");
}

#[test]
fn anomaly_length_too_large() {
    // Tolerated oversize (UMAS-style 255): decoded, flagged.
    let mut big = hex("0001 0000 00ff 00 5a");
    big.extend(std::iter::repeat_n(0u8, 253));
    let seen = run(&[(TO_S, &big)]);
    assert_eq!(seen[0], "anomaly:mbap_length_too_large");
    assert!(seen[1].contains(r#""function":"umas""#), "{seen:?}");
    // Beyond the tolerance: garbage.
    let seen = run(&[(TO_S, &hex("0001 0000 8804 01 03 0000 0001"))]);
    assert_eq!(
        seen,
        [
            "anomaly:mbap_length_too_large",
            "anomaly:non_modbus_traffic"
        ]
    );
}

#[test]
fn anomaly_non_modbus_bytes_on_port_502() {
    let seen = run(&[(TO_S, b"GET / HTTP/1.1\r\nHost: plc\r\n\r\n")]);
    // "GE" tid, "T " protocol id, "/ " length 12064: too large, then garbage.
    assert_eq!(
        seen,
        [
            "anomaly:mbap_length_too_large",
            "anomaly:non_modbus_traffic"
        ]
    );
}

#[test]
fn anomaly_length_mismatch_keeps_the_pdu() {
    // Write single register with one byte too many: MBAP length 7 for fc 6.
    let seen = run(&[(TO_S, &hex("0009 0000 0007 01 06 000a 01f4 00"))]);
    assert_eq!(seen[0], "anomaly:length_mismatch");
    assert!(
        seen[1].contains(
            r#""error":"function 0x06: PDU of 6 bytes, expected 5","raw":"06000a01f400""#
        ),
        "{seen:?}"
    );
}

#[test]
fn anomaly_messages_name_the_offending_values() {
    let mut bytes = hex("0001 0001 0006 01 03 0000 0001"); // protocol id 1
    bytes.extend(hex(READ_HOLDING_REQ));
    assert_eq!(
        collect(&[(TO_S, &bytes)]).messages,
        [
            "MBAP protocol id 0x0001 is not 0",
            "bytes on a Modbus stream do not frame as MBAP; resynchronising",
            // The 12 bytes of the bad frame, skipped one by one.
            "valid PDUs resume after a parse error; 12 bytes skipped",
        ]
    );
    assert_eq!(
        collect(&[(TO_C, &hex(READ_HOLDING_RESP))]).messages,
        ["response to transaction 6 unit 1 without a request"]
    );
}

#[test]
fn anomaly_unmatched_response() {
    let seen = run(&[(TO_C, &hex(READ_HOLDING_RESP))]);
    assert_eq!(seen[0], "anomaly:unmatched_response");
    assert!(seen[1].starts_with(r#"{"transaction_id":6,"unit_id":1,"response":"#));
}

#[test]
fn anomaly_response_mismatch() {
    let req = hex(READ_HOLDING_REQ); // asks for 10 registers
    let resp = hex("0006 0000 0007 01 03 04 0001 0002"); // returns 2
    let seen = run(&[(TO_S, &req), (TO_C, &resp)]);
    assert_eq!(seen[0], "anomaly:response_mismatch");
    assert_eq!(
        pdu::check_pair(&req[7..], &resp[7..]),
        Err(pdu::Mismatch::DataSize {
            expected: 20,
            actual: 4
        })
    );
    let wrong_fn = hex("0006 0000 0004 01 04 00 00"); // function 4 answering 3
    assert_eq!(
        pdu::check_pair(&req[7..], &wrong_fn[7..]),
        Err(pdu::Mismatch::Function {
            request: 3,
            response: 4
        })
    );
}

#[test]
fn anomaly_too_many_outstanding_requests() {
    let mut d = ModbusDissector::new(ModbusConfig { max_outstanding: 2 });
    let mut sink = Collect::default();
    let mut cx = Context {
        ts: Timestamp::new(1, 0),
        sink: &mut sink,
    };
    for tid in 1u8..=3 {
        let req = hex(&format!("00{tid:02x} 0000 0006 01 03 0000 0001"));
        d.parse(TO_S, &req, &mut cx);
    }
    assert_eq!(sink.seen[0], "anomaly:too_many_outstanding_requests");
    assert_eq!(
        sink.messages,
        ["more than 2 requests without a response; the oldest is given up"]
    );
    assert!(
        sink.seen[1].starts_with(r#"{"transaction_id":1,"#),
        "the oldest is emitted alone"
    );
    assert_eq!(d.outstanding(), 2);
}

#[test]
fn reused_transaction_id_emits_the_unanswered_request() {
    let req = hex(READ_HOLDING_REQ);
    let seen = run(&[(TO_S, &req), (TO_S, &req), (TO_C, &hex(READ_HOLDING_RESP))]);
    assert_eq!(seen.len(), 2);
    assert!(!seen[0].contains("response"));
    assert!(seen[1].contains("response"));
}

#[test]
fn anomaly_other_pdu_errors_are_named() {
    let cases = [
        ("0001 0000 0006 01 03 0000 0000", "quantity_out_of_range"),
        ("0001 0000 0006 01 05 0000 1234", "bad_coil_value"),
        (
            "0001 0000 0009 01 10 0000 0002 03 000100",
            "byte_count_mismatch",
        ),
    ];
    for (text, name) in cases {
        let seen = run(&[(TO_S, &hex(text))]);
        assert_eq!(seen[0], format!("anomaly:{name}"), "{text}");
    }
    let seen = run(&[(
        TO_C,
        &hex("0001 0000 000b 01 2b 0e 01 83 00 00 02 00 03 6162"),
    )]);
    assert!(
        seen.contains(&"anomaly:truncated_device_id_object".to_string()),
        "{seen:?}"
    );
}

#[test]
fn gap_resynchronises_without_an_anomaly() {
    let mut d = ModbusDissector::default();
    let mut sink = Collect::default();
    let mut cx = Context {
        ts: Timestamp::new(1, 0),
        sink: &mut sink,
    };
    d.gap(TO_S, &mut cx);
    // Tail of a lost PDU, then a whole one.
    let mut bytes = hex("0a 01f4");
    bytes.extend(hex(READ_HOLDING_REQ));
    let used = d.parse(TO_S, &bytes, &mut cx);
    d.flush(&mut cx);
    assert_eq!(used, bytes.len());
    assert_eq!(sink.seen.len(), 1);
    assert!(sink.seen[0].contains(r#""transaction_id":6"#));
}

#[test]
fn probes_recognise_modbus_on_other_ports() {
    assert!(mbap::probe(&hex(READ_HOLDING_REQ)));
    assert!(!mbap::probe(
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"
    ));
    assert!(
        !mbap::probe(&hex("0001 0000 0006 01 63 0000 0001")),
        "unknown function"
    );
    assert!(!mbap::probe(&hex("0001 0000 0006 01")), "incomplete");
}

#[test]
fn hostile_strings_are_escaped_in_json() {
    let resp = hex(concat!(
        "0001 0000 0028 01 2b 0e 01 83 00 00 01", // MBAP length 40; MEI 14 basic, 1 object
        "00 1e 3c7363726970743e616c657274282231222927293c2f7363726970743eff"
    ));
    let seen = run(&[(TO_S, &hex("0001 0000 0005 01 2b 0e 01 00")), (TO_C, &resp)]);
    let json = seen.last().expect("event");
    assert!(
        json.contains(r#""vendor_name":"<script>alert(\"1\")')</script>\u00ff""#),
        "{json}"
    );
}
