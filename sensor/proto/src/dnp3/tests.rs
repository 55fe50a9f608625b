//! DNP3 tests: annotated fixtures (real frames from public captures and
//! frames built with CRCs computed by [`frame`]), malformed inputs with their
//! exact errors, one test per anomaly, and split-at-every-offset streaming.

use super::objects::{self, ObjectError, ObjectLimits, Range, Value};
use super::transport::{Reassembler, TransportConfig, TransportError};
use super::*;
use crate::event::{
    AppEvent, Context, DatagramDissector, Direction, Event, EventSink, StreamDissector, Timestamp,
};
use crate::json::JsonWriter;
use crate::stream::StreamBuffer;

// ---------------------------------------------------------------- helpers

/// Reads annotated hex: on each line, the leading two-digit hex tokens are
/// bytes and the rest of the line is a comment.
fn unhex(text: &str) -> Vec<u8> {
    text.lines()
        .flat_map(|line| {
            line.split_whitespace()
                .take_while(|t| t.len() == 2 && t.bytes().all(|b| b.is_ascii_hexdigit()))
                .map(|t| u8::from_str_radix(t, 16).expect("hex"))
        })
        .collect()
}

/// Builds a link frame, computing the header and block CRCs.
fn frame(control: u8, dest: u16, src: u16, user_data: &[u8]) -> Vec<u8> {
    assert!(user_data.len() <= 250);
    let mut out = vec![0x05, 0x64, 5 + user_data.len() as u8, control];
    out.extend_from_slice(&dest.to_le_bytes());
    out.extend_from_slice(&src.to_le_bytes());
    let crc = link::crc(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    for block in user_data.chunks(16) {
        out.extend_from_slice(block);
        out.extend_from_slice(&link::crc(block).to_le_bytes());
    }
    out
}

/// Splits an application fragment into transport segments of at most
/// `max` payload bytes and wraps each in a link frame.
fn frames(control: u8, dest: u16, src: u16, fragment: &[u8], first_seq: u8, max: usize) -> Vec<u8> {
    let chunks: Vec<&[u8]> = fragment.chunks(max).collect();
    let mut out = Vec::new();
    for (i, chunk) in chunks.iter().enumerate() {
        let mut th = (first_seq + i as u8) & 0x3f;
        if i == 0 {
            th |= 0x40;
        }
        if i + 1 == chunks.len() {
            th |= 0x80;
        }
        let mut seg = vec![th];
        seg.extend_from_slice(chunk);
        out.extend(frame(control, dest, src, &seg));
    }
    out
}

/// Master 1 → outstation 10, unconfirmed user data, DIR and PRM set.
fn master(fragment: &[u8]) -> Vec<u8> {
    frames(0xc4, 10, 1, fragment, 0, 249)
}

/// Outstation 10 → master 1, unconfirmed user data, PRM set.
fn outstation(fragment: &[u8]) -> Vec<u8> {
    frames(0x44, 1, 10, fragment, 0, 249)
}

#[derive(Default)]
struct Recorder {
    lines: Vec<String>,
    /// The anomalies' messages, in order.
    messages: Vec<String>,
}

impl EventSink for Recorder {
    fn emit(&mut self, event: &Event<'_>) {
        match event.app {
            AppEvent::Anomaly(a) => {
                // Every name raised is one the registry declares (rules may
                // name only those).
                assert!(SPEC.anomalies.contains(&a.name), "undeclared {}", a.name);
                assert_eq!(a.protocol, SPEC.name);
                self.lines.push(format!("anomaly:{}", a.name));
                self.messages.push(a.detail.to_string());
            }
            AppEvent::Dnp3(tx) => {
                let mut buf = Vec::new();
                let mut w = JsonWriter::new(&mut buf);
                w.begin_object();
                tx.write_eve(&mut w);
                w.end_object();
                self.lines.push(String::from_utf8(buf).expect("utf8"));
            }
            _ => {}
        }
    }
}

fn dir_of(to_server: bool) -> Direction {
    if to_server {
        Direction::ToServer
    } else {
        Direction::ToClient
    }
}

/// Feeds whole chunks over TCP (through a StreamBuffer) and flushes.
fn run_tcp_with(config: Dnp3Config, chunks: &[(bool, Vec<u8>)]) -> Vec<String> {
    record_tcp(config, chunks).lines
}

/// Like [`run_tcp_with`], with the anomalies' messages.
fn record_tcp(config: Dnp3Config, chunks: &[(bool, Vec<u8>)]) -> Recorder {
    let mut sink = Recorder::default();
    let mut d = Dnp3Dissector::new(config);
    let mut bufs: [StreamBuffer; 2] = Default::default();
    for (to_server, bytes) in chunks {
        let dir = dir_of(*to_server);
        let mut cx = Context {
            ts: Timestamp::new(1, 0),
            sink: &mut sink,
        };
        bufs[dir.index()]
            .feed(&mut d, dir, bytes, link::MAX_FRAME_LEN, &mut cx)
            .expect("bounded");
    }
    let mut cx = Context {
        ts: Timestamp::new(2, 0),
        sink: &mut sink,
    };
    StreamDissector::flush(&mut d, &mut cx);
    sink
}

fn run_tcp(chunks: &[(bool, Vec<u8>)]) -> Vec<String> {
    run_tcp_with(Dnp3Config::default(), chunks)
}

fn anomalies(lines: &[String]) -> Vec<&str> {
    lines
        .iter()
        .filter_map(|l| l.strip_prefix("anomaly:"))
        .collect()
}

fn events(lines: &[String]) -> Vec<&String> {
    lines
        .iter()
        .filter(|l| !l.starts_with("anomaly:"))
        .collect()
}

// ---------------------------------------------------------------- link

#[test]
fn crc_matches_real_frame_header() {
    // Header of a select request (fw_select_operate.pcap, frame 4).
    let header = unhex("05 64 1a c4 0a 00 01 00");
    assert_eq!(link::crc(&header).to_le_bytes(), [0x8a, 0x1c]);
    // A data block of the same frame.
    let block = unhex("c0 c0 03 0c 01 28 01 00 00 00 03 01 64 00 00 00");
    assert_eq!(link::crc(&block).to_le_bytes(), [0xfd, 0x6b]);
}

/// Select request, fw_select_operate.pcap frame 4.
const SELECT: &str = "
    05 64       start octets
    1a          LEN 26: control + addresses + 21 data bytes
    c4          control: DIR, PRM, function 4 unconfirmed user data
    0a 00       destination 10
    01 00       source 1
    8a 1c       header CRC
    c0          transport: FIN, FIR, seq 0
    c0          application control: FIR, FIN, seq 0
    03          function 3 select
    0c 01 28    g12v1 CROB, qualifier 0x28: 2-byte count, 2-byte index prefix
    01 00       count 1
    00 00       index 0
    03          control code: latch on
    01          count 1
    64 00 00 00 on time 100 ms
    fd 6b       CRC of the first 16 data bytes
    64 00 00 00 off time 100 ms
    00          status success
    00 5b       CRC of the last 5 data bytes";

/// Its response, frame 6.
const SELECT_RESPONSE: &str = "
    05 64 1c 44 01 00 0a 00 76 36   LEN 28, control PRM + function 4, dest 1, src 10, CRC
    c6          transport: FIN, FIR, seq 6
    c0          application control: FIR, FIN, seq 0
    81          function 129 response
    00 00       IIN: none
    0c 01 28 01 00 00 00   g12v1, qualifier 0x28, count 1, index 0
    03 01 64 00            code latch on, count 1, on time (first half)
    c3 96                  block CRC
    00 00 64 00 00 00 00   on time (second half), off time 100, status success
    00 5b                  block CRC";

#[test]
fn decodes_real_select_request_field_by_field() {
    let bytes = unhex(SELECT);
    let header = link::read_header(&bytes).expect("complete").expect("valid");
    assert_eq!(header.length, 26);
    assert!(header.control.dir() && header.control.prm());
    assert_eq!(header.control.function(), LinkFunction::UnconfirmedUserData);
    assert_eq!((header.destination, header.source), (10, 1));
    assert_eq!(header.frame_len(), bytes.len());
    let mut scratch = [0u8; link::MAX_USER_DATA];
    let n = link::extract_data(&header, &bytes, &mut scratch).expect("CRCs");
    assert_eq!(n, 21);
    let fragment = &scratch[1..n];
    let msg = Message::decode(
        Timestamp::default(),
        &header,
        fragment,
        ObjectLimits::default(),
    )
    .expect("header");
    assert_eq!(msg.function(), FunctionCode::Select);
    assert!(msg.control().fir() && msg.control().fin() && msg.control().seq() == 0);
    assert_eq!(msg.error, None);
    let crobs: Vec<_> = msg.crobs().collect();
    assert_eq!(crobs.len(), 1);
    let (index, crob) = crobs[0];
    assert_eq!(index, 0);
    assert_eq!(crob.op_type(), OpType::LatchOn);
    assert_eq!(crob.trip_close(), TripClose::Nul);
    assert_eq!((crob.count, crob.on_time, crob.off_time), (1, 100, 100));
    assert_eq!(crob.status, CommandStatus::Success);
}

#[test]
fn pairs_real_select_with_its_response() {
    let lines = run_tcp(&[(true, unhex(SELECT)), (false, unhex(SELECT_RESPONSE))]);
    assert_eq!(anomalies(&lines), Vec::<&str>::new());
    let ev = events(&lines);
    assert_eq!(ev.len(), 1);
    assert_eq!(
        ev[0].as_str(),
        concat!(
            r#"{"type":"request_response","master":1,"outstation":10,"#,
            r#""request":{"src":1,"dst":10,"dir":true,"link_function_code":4,"link_function":"unconfirmed_user_data","#,
            r#""control":{"fir":true,"fin":true,"con":false,"uns":false,"sequence":0},"#,
            r#""function_code":3,"function":"select","object_count":1,"objects":[{"group":12,"variation":1,"qualifier":40,"#,
            r#""prefix_code":2,"range_code":8,"count":1,"points":[{"index":0,"control_code":3,"op_type":3,"operation":"latch_on","#,
            r#""tcc":0,"trip_close":"nul","queue":false,"clear":false,"count":1,"on_time":100,"off_time":100,"status":0,"status_name":"success"}]}],"#,
            r#""complete":true},"#,
            r#""response":{"src":10,"dst":1,"dir":false,"link_function_code":4,"link_function":"unconfirmed_user_data","#,
            r#""control":{"fir":true,"fin":true,"con":false,"uns":false,"sequence":0},"#,
            r#""function_code":129,"function":"response","iin":{"raw":0,"indicators":[]},"object_count":1,"objects":[{"group":12,"variation":1,"qualifier":40,"#,
            r#""prefix_code":2,"range_code":8,"count":1,"points":[{"index":0,"control_code":3,"op_type":3,"operation":"latch_on","#,
            r#""tcc":0,"trip_close":"nul","queue":false,"clear":false,"count":1,"on_time":100,"off_time":100,"status":0,"status_name":"success"}]}],"#,
            r#""complete":true}}"#
        )
    );
}

/// Open file request, fw_file_read.pcap frame 1: four CRC blocks.
const OPEN_FILE: &str = "
    05 64 36 c4 04 00 03 00 f2 c0   LEN 54, DIR PRM unconfirmed, dest 4, src 3, CRC
    e0          transport: FIN, FIR, seq 32
    c1          application control: FIR, FIN, seq 1
    19          function 25 open file
    46 03 5b    g70v3 file command, qualifier 0x5b: 2-byte size prefix, 1-byte count
    01          count 1
    28 00       object size 40
    1a 00       file name offset 26
    0e 00       file name size 14
    00 00 00    creation time (first 3 bytes)
    b9 1c       block CRC
    00 00 00    creation time (last 3 bytes)
    00 00       permissions
    00 00 00 00 authentication key
    00 00 00 00 file size
    01 00       mode 1: read
    00          maximum block size (low byte)
    47 e6       block CRC
    04          maximum block size (high byte): 1024
    04 00       request id 4
    2e 2f 74 65 73 74 66 69 6c 65 2e 74 78   './testfile.tx'
    ea 02       block CRC
    74          't'
    1d ee       block CRC";

#[test]
fn decodes_real_open_file_name_and_mode() {
    let lines = run_tcp(&[(true, unhex(OPEN_FILE))]);
    assert_eq!(anomalies(&lines), Vec::<&str>::new());
    let ev = events(&lines);
    assert_eq!(ev.len(), 1, "flushed alone");
    assert!(
        ev[0].contains(r#""function_code":25,"function":"open_file""#),
        "{}",
        ev[0]
    );
    assert!(
        ev[0].contains(
            r#""file":{"object":"command","name":"./testfile.txt","mode":1,"mode_name":"read""#
        ),
        "{}",
        ev[0]
    );
    assert!(
        ev[0].contains(r#""max_block":1024,"request_id":4"#),
        "{}",
        ev[0]
    );

    let bytes = unhex(OPEN_FILE);
    let header = link::read_header(&bytes).expect("complete").expect("valid");
    let mut scratch = [0u8; link::MAX_USER_DATA];
    let n = link::extract_data(&header, &bytes, &mut scratch).expect("CRCs");
    let msg = Message::decode(
        Timestamp::default(),
        &header,
        &scratch[1..n],
        ObjectLimits::default(),
    )
    .expect("header");
    let names: Vec<&[u8]> = msg.file_names().collect();
    assert_eq!(names, vec![&b"./testfile.txt"[..]]);
}

/// Write over UDP, zeek_udp_write.pcap.
const UDP_WRITE: &str = "
    05 64 0e c4 01 00 64 00 cd 12   LEN 14, DIR PRM unconfirmed, dest 1, src 100, CRC
    cc          transport: FIN, FIR, seq 12
    ce          application control: FIR, FIN, seq 14
    02          function 2 write
    50 01 00    g80v1 internal indications, qualifier 0x00: 1-byte start/stop
    07 07       start 7, stop 7 (IIN1.7 device restart)
    00          packed bit 0: clear it
    38 35       block CRC";

/// Its response.
const UDP_WRITE_RESPONSE: &str = "
    05 64 0a 44 64 00 01 00 cb e1   LEN 10, PRM unconfirmed, dest 100, src 1, CRC
    f7          transport: FIN, FIR, seq 55
    ce          application control: FIR, FIN, seq 14
    81 00 00    response, IIN none
    ec 52       block CRC";

#[test]
fn udp_datagram_with_two_frames() {
    let mut datagram = unhex(UDP_WRITE);
    // A second frame in the same datagram: a record-current-time request
    // (which expects a response) built with computed CRCs.
    datagram.extend(frames(0xc4, 1, 100, &[0xc0 | 0x0f, 24], 0, 249));
    let mut sink = Recorder::default();
    let mut d = Dnp3Dissector::default();
    let mut cx = Context {
        ts: Timestamp::new(1, 0),
        sink: &mut sink,
    };
    d.parse_datagram(Direction::ToServer, &datagram, &mut cx);
    d.parse_datagram(Direction::ToClient, &unhex(UDP_WRITE_RESPONSE), &mut cx);
    DatagramDissector::flush(&mut d, &mut cx);
    let lines = sink.lines;
    assert_eq!(anomalies(&lines), Vec::<&str>::new());
    let ev = events(&lines);
    assert_eq!(ev.len(), 2);
    assert!(
        ev[0].contains(r#""function":"write""#) && ev[0].contains(r#""function":"response""#),
        "{}",
        ev[0]
    );
    assert!(ev[0].contains(r#""group":80,"variation":1,"qualifier":0,"prefix_code":0,"range_code":0,"start":7,"stop":7,"count":1,"points":[{"index":7,"state":false}]"#), "{}", ev[0]);
    assert!(
        ev[1].contains(r#""type":"request""#) && ev[1].contains("record_current_time"),
        "{}",
        ev[1]
    );
    assert_eq!(d.stats().frames, 3);
}

/// Unsolicited response and its confirm (fw_unsolicited_response_confirm.pcap).
const UNSOLICITED: &str = "
    05 64 0a 44 01 00 0a 00 6e 25   LEN 10, PRM unconfirmed, dest 1, src 10, CRC
    c0          transport: FIN, FIR, seq 0
    f0          application control: FIR, FIN, CON, UNS, seq 0
    82 00 00    unsolicited response, IIN none
    44 66       block CRC";
const UNSOLICITED_CONFIRM: &str = "
    05 64 08 c4 0a 00 01 00 fc 42   LEN 8, DIR PRM unconfirmed, dest 10, src 1, CRC
    c0          transport: FIN, FIR, seq 0
    d0          application control: FIR, FIN, UNS, seq 0
    00          confirm
    1b 49       block CRC";

#[test]
fn recognises_unsolicited_response_and_confirm() {
    let lines = run_tcp(&[
        (false, unhex(UNSOLICITED)),
        (true, unhex(UNSOLICITED_CONFIRM)),
    ]);
    assert_eq!(anomalies(&lines), Vec::<&str>::new());
    let ev = events(&lines);
    assert_eq!(ev.len(), 2);
    assert!(
        ev[0].starts_with(r#"{"type":"unsolicited","master":1,"outstation":10,"response":"#),
        "{}",
        ev[0]
    );
    assert!(ev[0].contains(r#""con":true,"uns":true"#));
    assert!(
        ev[1].starts_with(r#"{"type":"request","#) && ev[1].contains(r#""function":"confirm""#),
        "{}",
        ev[1]
    );
}

/// Delay measurement and response (zeek_del_measure.pcap).
const DELAY_MEASURE: &str = "
    05 64 08 c4 02 00 03 00 36 ac   LEN 8, DIR PRM unconfirmed, dest 2, src 3, CRC
    e3          transport: FIN, FIR, seq 35
    c4          application control: FIR, FIN, seq 4
    17          function 23 delay measure
    4b 5a       block CRC";
const DELAY_RESPONSE: &str = "
    05 64 10 44 03 00 02 00 f9 46   LEN 16, PRM unconfirmed, dest 3, src 2, CRC
    d8          transport: FIN, FIR, seq 24
    c4          application control: FIR, FIN, seq 4
    81 00 00    response, IIN none
    34 02 07    g52v2 fine time delay, qualifier 0x07: 1-byte count
    01          count 1
    01 00       1 ms
    87 dd       block CRC";

#[test]
fn pairs_delay_measure_and_decodes_g52() {
    let lines = run_tcp(&[(true, unhex(DELAY_MEASURE)), (false, unhex(DELAY_RESPONSE))]);
    assert_eq!(anomalies(&lines), Vec::<&str>::new());
    let ev = events(&lines);
    assert_eq!(ev.len(), 1);
    assert!(ev[0].contains(r#""function":"delay_measure""#), "{}", ev[0]);
    assert!(ev[0].contains(r#""group":52,"variation":2,"qualifier":7,"prefix_code":0,"range_code":7,"count":1,"points":[{"index":0,"delay":1}]"#), "{}", ev[0]);
}

// ---------------------------------------------------------------- built fixtures

/// Class 0 read: g60v1, qualifier 0x06 (all points).
fn class0_read(seq: u8) -> Vec<u8> {
    vec![0xc0 | seq, 0x01, 0x3c, 0x01, 0x06]
}

/// A response with device attributes: vendor, product, firmware.
fn attributes_response(seq: u8) -> Vec<u8> {
    let mut f = vec![0xc0 | seq, 0x81, 0x80, 0x00]; // IIN1.7 device restart
    for (variation, text) in [(252u8, &b"ACME"[..]), (250, b"RTU-9"), (242, b"1.2.3")] {
        f.extend_from_slice(&[0x00, variation, 0x00, 0x00, 0x00]); // g0vN, qualifier 0x00, start 0, stop 0
        f.extend_from_slice(&[0x01, text.len() as u8]); // data type VSTR, length
        f.extend_from_slice(text);
    }
    f.extend_from_slice(&[0x00, 240, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x08]); // g0v240 UINT 2048
    f
}

/// A response with analog inputs big enough to need several segments.
fn analog_response(seq: u8, points: u16) -> Vec<u8> {
    let mut f = vec![0xc0 | seq, 0x81, 0x00, 0x00];
    f.extend_from_slice(&[30, 1, 0x01]); // g30v1, qualifier 0x01: 2-byte start/stop
    f.extend_from_slice(&0u16.to_le_bytes());
    f.extend_from_slice(&(points - 1).to_le_bytes());
    for i in 0..points {
        f.push(0x01); // flags: online
        f.extend_from_slice(&(i32::from(i) * -3).to_le_bytes());
    }
    f
}

#[test]
fn reassembles_multi_segment_response_and_keeps_device_attributes() {
    let read = class0_read(3);
    let lines = run_tcp(&[
        (true, master(&read)),
        (false, frames(0x44, 1, 10, &analog_response(3, 120), 5, 60)),
        (true, master(&[0xc4, 0x01, 0x00, 0xfc, 0x06])), // read g0v252 (seq 4)
        (false, outstation(&attributes_response(4))),
    ]);
    assert_eq!(anomalies(&lines), Vec::<&str>::new());
    let ev = events(&lines);
    assert_eq!(ev.len(), 2);
    assert!(ev[0].contains(r#""group":30,"variation":1,"qualifier":1,"prefix_code":0,"range_code":1,"start":0,"stop":119,"count":120"#), "{}", ev[0]);
    assert!(
        ev[0].contains(r#"{"index":1,"flags":1,"value":-3}"#),
        "{}",
        ev[0]
    );
    assert!(ev[0].contains(r#""points_truncated":88"#), "{}", ev[0]);
    assert!(
        ev[1].contains(r#""iin":{"raw":128,"indicators":["device_restart"]}"#),
        "{}",
        ev[1]
    );
    assert!(ev[1].contains(r#"{"index":0,"attribute_code":252,"attribute":"vendor_name","data_type_code":1,"data_type":"vstr","value":"ACME"}"#), "{}", ev[1]);
    assert!(ev[1].contains(r#""attribute":"max_tx_fragment_size","data_type_code":2,"data_type":"uint","value":2048"#), "{}", ev[1]);
}

#[test]
fn accessors_for_inventory() {
    let fragment = attributes_response(0);
    let header = link::Header {
        length: 5,
        control: link::Control(0x44),
        destination: 1,
        source: 10,
    };
    let msg = Message::decode(
        Timestamp::default(),
        &header,
        &fragment,
        ObjectLimits::default(),
    )
    .expect("header");
    let tx = Transaction {
        master: 1,
        outstation: 10,
        request: None,
        response: Some(msg),
    };
    assert_eq!(tx.vendor_name(), Some(&b"ACME"[..]));
    assert_eq!(tx.product_name(), Some(&b"RTU-9"[..]));
    assert_eq!(tx.software_version(), Some(&b"1.2.3"[..]));
    assert_eq!(tx.hardware_version(), None);
    assert!(tx
        .iin()
        .is_some_and(|iin| iin.has("device_restart") && !iin.has("need_time")));
    let headers: Vec<(u8, u8, u8, u32)> = msg
        .object_headers()
        .map(|h| (h.group, h.variation, h.qualifier, h.count()))
        .collect();
    assert_eq!(
        headers,
        vec![
            (0, 252, 0, 1),
            (0, 250, 0, 1),
            (0, 242, 0, 1),
            (0, 240, 0, 1)
        ]
    );
    assert_eq!(msg.attributes().last().and_then(|a| a.as_int()), Some(2048));
}

#[test]
fn decodes_points_of_common_groups() {
    let mut f = vec![0xc0, 0x82, 0x00, 0x00];
    f.extend_from_slice(&[1, 1, 0x00, 0, 9, 0b1010_0101, 0b0000_0001]); // g1v1 packed, 10 bits
    f.extend_from_slice(&[2, 2, 0x17, 1, 5, 0x81, 1, 2, 3, 4, 5, 6]); // g2v2 index 5, time
    f.extend_from_slice(&[3, 1, 0x00, 0, 1, 0b0000_1001]); // g3v1 double bits 1 and 2
    f.extend_from_slice(&[20, 1, 0x00, 7, 7, 0x01, 0x10, 0, 0, 0]); // g20v1 counter 16
    f.extend_from_slice(&[30, 5, 0x00, 2, 2, 0x01]); // g30v5 float 1.5
    f.extend_from_slice(&1.5f32.to_le_bytes());
    f.extend_from_slice(&[41, 2, 0x17, 1, 3, 0x2c, 0x01, 0x00]); // g41v2 index 3 value 300 status 0
    f.extend_from_slice(&[50, 1, 0x07, 1, 0xe8, 0x03, 0, 0, 0, 0]); // g50v1 time 1000 ms
    f.extend_from_slice(&[110, 3, 0x00, 0, 0, b'a', b'b', b'c']); // g110v3 octet string
    f.extend_from_slice(&[60, 2, 0x06]); // class 1, no data
    let (objects, error) = objects::parse(&f[4..], true, ObjectLimits::default());
    assert_eq!(error, None);
    assert_eq!(objects.len(), 9);
    let all: Vec<(u8, u32, Value<'_>)> = objects
        .iter()
        .flat_map(|h| h.points().map(move |p| (h.group, p.index, p.value)))
        .collect();
    assert_eq!(all[0], (1, 0, Value::Bit(true)));
    assert_eq!(all[1], (1, 1, Value::Bit(false)));
    assert_eq!(all[8], (1, 8, Value::Bit(true)));
    assert_eq!(
        all[10],
        (
            2,
            5,
            Value::Binary {
                flags: 0x81,
                time: Some(Time::Absolute(0x0605_0403_0201))
            }
        )
    );
    assert_eq!(all[11], (3, 0, Value::DoubleBit(1)));
    assert_eq!(all[12], (3, 1, Value::DoubleBit(2)));
    assert_eq!(
        all[13],
        (
            20,
            7,
            Value::Counter {
                flags: Some(1),
                value: 16,
                time: None
            }
        )
    );
    assert_eq!(
        all[14],
        (
            30,
            2,
            Value::Analog {
                flags: Some(1),
                value: 1.5,
                time: None
            }
        )
    );
    assert_eq!(
        all[15],
        (
            41,
            3,
            Value::AnalogCommand {
                value: 300.0,
                status: CommandStatus::Success,
                time: None
            }
        )
    );
    assert_eq!(all[16], (50, 0, Value::Time(1000)));
    assert_eq!(all[17], (110, 0, Value::OctetString(b"abc")));
    assert_eq!(all.len(), 18);
}

#[test]
fn read_request_lists_indexes_but_no_data() {
    // read g1v2 qualifier 0x17: count 2, indexes 3 and 9; then g30 all points.
    let f = [0xc1, 0x01, 1, 2, 0x17, 2, 3, 9, 30, 0, 0x06];
    let (objects, error) = objects::parse(&f[2..], false, ObjectLimits::default());
    assert_eq!(error, None);
    let first = objects.iter().next().expect("header");
    assert_eq!(first.range, Range::Count(2));
    let idx: Vec<u32> = first.points().map(|p| p.index).collect();
    assert_eq!(idx, vec![3, 9]);
    assert!(first.points().all(|p| p.value == Value::None));
    assert_eq!(objects.len(), 2);
}

// ---------------------------------------------------------------- malformed input: exact errors

#[test]
fn malformed_link_headers() {
    let good = frame(0xc4, 10, 1, &[0xc0, 0xc0, 0x01]);
    let mut bad_crc = good.clone();
    bad_crc[8] ^= 0xff;
    let short = frame(0xc4, 10, 1, &[]); // user data function with LEN 5
    let mut tiny = vec![0x05, 0x64, 0x04, 0xc9, 0x0a, 0x00, 0x01, 0x00];
    let crc = link::crc(&tiny);
    tiny.extend_from_slice(&crc.to_le_bytes());
    type Case = (&'static str, Vec<u8>, Option<Result<(), LinkError>>);
    let cases: Vec<Case> = vec![
        ("too short to tell", good[..9].to_vec(), None),
        ("no start octets", vec![0u8; 10], None),
        (
            "bad header crc",
            bad_crc.clone(),
            Some(Err(LinkError::BadHeaderCrc {
                computed: link::crc(&good[..8]),
                received: u16::from_le_bytes([good[8] ^ 0xff, good[9]]),
            })),
        ),
        (
            "user data without transport",
            short,
            Some(Err(LinkError::LengthTooSmall(5))),
        ),
        (
            "length below 5",
            tiny,
            Some(Err(LinkError::LengthTooSmall(4))),
        ),
        ("good", good.clone(), Some(Ok(()))),
    ];
    for (name, bytes, expected) in cases {
        let got = link::read_header(&bytes).map(|r| r.map(|_| ()));
        assert_eq!(got, expected, "{name}");
    }
    let mut bad_data = good.clone();
    bad_data[11] ^= 1;
    let header = link::read_header(&bad_data)
        .expect("complete")
        .expect("valid");
    let mut scratch = [0u8; link::MAX_USER_DATA];
    assert_eq!(
        link::extract_data(&header, &bad_data, &mut scratch),
        Err(LinkError::BadDataCrc {
            block: 0,
            computed: link::crc(&bad_data[10..13]),
            received: u16::from_le_bytes([good[13], good[14]]),
        })
    );
}

#[test]
fn malformed_transport_sequences() {
    let mut r = Reassembler::new(TransportConfig {
        max_fragment: 8,
        max_pairs: 1,
    });
    let mut errors = Vec::new();
    let mut push = |r: &mut Reassembler, src: u16, seg: &[u8]| {
        let mut report = |e: TransportError| errors.push(e);
        r.push(0, src, 1, seg, &mut report).map(<[u8]>::to_vec)
    };
    assert_eq!(push(&mut r, 2, &[0x05, 1]), None); // no FIR
    assert_eq!(push(&mut r, 2, &[0x40, 1, 2]), None); // FIR seq 0
    assert_eq!(push(&mut r, 2, &[0x01, 3]), None); // seq 1
    assert_eq!(push(&mut r, 2, &[0x01, 3]), None); // repeat: dropped quietly
    assert_eq!(push(&mut r, 2, &[0x83, 4]), None); // seq 3: out of sequence
    assert_eq!(push(&mut r, 2, &[0x84, 4]), None); // rest of the dropped fragment: quiet
    assert_eq!(push(&mut r, 2, &[0x40, 1]), None);
    assert_eq!(push(&mut r, 2, &[0x40, 1]), None); // new FIR: previous discarded
    assert_eq!(push(&mut r, 2, &[0x01, 1, 2, 3, 4, 5, 6, 7, 8]), None); // too large
    assert_eq!(push(&mut r, 3, &[0x40, 1]), None); // second pair, first one idle
    assert_eq!(push(&mut r, 4, &[0x40, 1]), None); // third pair while the second is active
    assert_eq!(push(&mut r, 4, &[0x81, 2]), Some(vec![1, 2]));
    assert_eq!(push(&mut r, 5, &[0xc0, 9]), Some(vec![9])); // single segment: no slot needed
    assert_eq!(
        errors,
        vec![
            TransportError::MissingFir { seq: 5 },
            TransportError::OutOfSequence {
                expected: 2,
                received: 3
            },
            TransportError::IncompleteFragment { discarded: 1 },
            TransportError::FragmentTooLarge { size: 9, max: 8 },
            TransportError::TooManyPairs { max: 1 },
        ]
    );
}

#[test]
fn malformed_objects() {
    let limits = ObjectLimits::default();
    let cases: Vec<(&str, Vec<u8>, bool, ObjectError, usize)> = vec![
        (
            "header cut",
            vec![1, 2],
            true,
            ObjectError::TruncatedHeader {
                offset: 0,
                needed: 3,
                available: 2,
            },
            0,
        ),
        (
            "range cut",
            vec![30, 1, 0x01, 0],
            true,
            ObjectError::TruncatedHeader {
                offset: 0,
                needed: 7,
                available: 4,
            },
            0,
        ),
        (
            "reserved bit",
            vec![60, 1, 0x86],
            false,
            ObjectError::ReservedQualifier {
                group: 60,
                variation: 1,
                qualifier: 0x86,
            },
            0,
        ),
        (
            "reserved prefix",
            vec![60, 1, 0x76],
            false,
            ObjectError::ReservedQualifier {
                group: 60,
                variation: 1,
                qualifier: 0x76,
            },
            0,
        ),
        (
            "reserved range",
            vec![60, 1, 0x0a],
            false,
            ObjectError::ReservedQualifier {
                group: 60,
                variation: 1,
                qualifier: 0x0a,
            },
            0,
        ),
        (
            "stop below start",
            vec![60, 1, 0x06, 1, 2, 0x00, 5, 4],
            false,
            ObjectError::BadRange {
                group: 1,
                variation: 2,
                start: 5,
                stop: 4,
            },
            1,
        ),
        (
            "unknown object",
            vec![60, 1, 0x06, 99, 1, 0x00, 0, 0, 7],
            true,
            ObjectError::UnknownObject {
                group: 99,
                variation: 1,
                qualifier: 0,
            },
            1,
        ),
        (
            "octet string of length 0",
            vec![110, 0, 0x00, 0, 0],
            true,
            ObjectError::UnknownObject {
                group: 110,
                variation: 0,
                qualifier: 0,
            },
            0,
        ),
        (
            "free format without size",
            vec![70, 3, 0x07, 1, 0],
            true,
            ObjectError::UnknownObject {
                group: 70,
                variation: 3,
                qualifier: 7,
            },
            0,
        ),
        (
            "packed with index prefix",
            vec![1, 1, 0x17, 1, 0, 1],
            true,
            ObjectError::UnknownObject {
                group: 1,
                variation: 1,
                qualifier: 0x17,
            },
            0,
        ),
        (
            "data cut",
            vec![30, 1, 0x00, 0, 1, 1, 0, 0, 0, 0],
            true,
            ObjectError::Truncated {
                group: 30,
                variation: 1,
                needed: 10,
                available: 5,
            },
            0,
        ),
        (
            "index list cut",
            vec![1, 2, 0x28, 2, 0, 1, 0],
            false,
            ObjectError::Truncated {
                group: 1,
                variation: 2,
                needed: 4,
                available: 2,
            },
            0,
        ),
        (
            "attribute cut",
            vec![0, 252, 0x00, 0, 0, 1, 9, b'a'],
            true,
            ObjectError::Truncated {
                group: 0,
                variation: 252,
                needed: 11,
                available: 3,
            },
            0,
        ),
    ];
    for (name, bytes, with_data, expected, parsed) in cases {
        let (objects, error) = objects::parse(&bytes, with_data, limits);
        assert_eq!(error, Some(expected), "{name}");
        assert_eq!(objects.len(), parsed, "{name}");
    }
    let few = ObjectLimits {
        max_objects: 2,
        max_points: 3,
    };
    let (objects, error) = objects::parse(&[60, 1, 6, 60, 2, 6, 60, 3, 6], false, few);
    assert_eq!(
        (objects.len(), error),
        (2, Some(ObjectError::TooManyObjects { max: 2 }))
    );
    let (objects, error) = objects::parse(&[1, 1, 0x00, 0, 1, 0, 1, 1, 0x00, 0, 1, 0], true, few);
    assert_eq!(
        (objects.len(), error),
        (
            1,
            Some(ObjectError::TooManyPoints {
                group: 1,
                variation: 1,
                count: 4,
                max: 3
            })
        )
    );
}

#[test]
fn application_header_too_short() {
    assert_eq!(
        app::read_header(&[0xc0]).err(),
        Some(app::HeaderTooShort {
            available: 1,
            needed: 2
        })
    );
    assert_eq!(
        app::read_header(&[0xc0, 0x81, 0]).err(),
        Some(app::HeaderTooShort {
            available: 3,
            needed: 4
        })
    );
    let (h, rest) = app::read_header(&[0xc2, 0x81, 0x01, 0x02, 9]).expect("header");
    assert_eq!(h.iin, Some(Iin(0x0201)));
    assert_eq!(
        h.iin.map(|i| i.names().collect::<Vec<_>>()),
        Some(vec!["all_stations", "object_unknown"])
    );
    assert_eq!(rest, &[9]);
}

// ---------------------------------------------------------------- pairing

/// Feeds chunks at the given packet times (milliseconds) over TCP and
/// flushes.
fn run_tcp_timed(config: Dnp3Config, chunks: &[(i64, bool, Vec<u8>)]) -> Vec<String> {
    let at = |ms: i64| Timestamp::new(ms / 1000, (ms % 1000) as u32 * 1_000_000);
    let mut sink = Recorder::default();
    let mut d = Dnp3Dissector::new(config);
    let mut bufs: [StreamBuffer; 2] = Default::default();
    let mut last = 0;
    for (ms, to_server, bytes) in chunks {
        let dir = dir_of(*to_server);
        let mut cx = Context {
            ts: at(*ms),
            sink: &mut sink,
        };
        bufs[dir.index()]
            .feed(&mut d, dir, bytes, link::MAX_FRAME_LEN, &mut cx)
            .expect("bounded");
        last = *ms;
    }
    let mut cx = Context {
        ts: at(last),
        sink: &mut sink,
    };
    StreamDissector::flush(&mut d, &mut cx);
    sink.lines
}

/// A select (3), operate (4) or direct operate (5) of one CROB, latch on,
/// at `index`; as a response (129) it echoes the request with status 0.
fn crob_fragment(seq: u8, function: u8, index: u16) -> Vec<u8> {
    let mut f = vec![0xc0 | seq, function];
    if function == 0x81 {
        f.extend_from_slice(&[0x00, 0x00]); // IIN
    }
    f.extend_from_slice(&[12, 1, 0x28, 0x01, 0x00]); // g12v1, 2-byte count 1, 2-byte index prefix
    f.extend_from_slice(&index.to_le_bytes());
    f.extend_from_slice(&[0x03, 0x01, 0x64, 0, 0, 0, 0x64, 0, 0, 0, 0x00]); // latch on, 100/100 ms
    f
}

/// The value text after `"key":` in `json` (up to the next `,` or `}`).
fn value_of<'a>(json: &'a str, key: &str) -> Option<&'a str> {
    let at = json.find(&format!("\"{key}\":"))? + key.len() + 3;
    let rest = json.get(at..)?;
    let end = rest.find([',', '}']).unwrap_or(rest.len());
    Some(rest[..end].trim_matches('"'))
}

/// The request and response (function name / sequence number @ first point
/// index) of each event, or `anomaly:NAME`.
fn summary(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .map(|l| {
            if l.starts_with("anomaly:") {
                return l.clone();
            }
            let response_at = l.find(r#""response":{"#).unwrap_or(l.len());
            let request = l.find(r#""request":{"#).map(|at| &l[at..response_at]);
            let response = l.get(response_at..).filter(|r| !r.is_empty());
            let part = |m: Option<&str>| {
                let Some(m) = m else {
                    return "-".to_string();
                };
                let index = m
                    .find(r#""points":[{"index":"#)
                    .and_then(|at| value_of(&m[at + 10..], "index"))
                    .map(|i| format!("@{i}"))
                    .unwrap_or_default();
                format!(
                    "{}/{}{index}",
                    value_of(m, "function").unwrap_or("?"),
                    value_of(m, "sequence").unwrap_or("?")
                )
            };
            format!(
                "{} {} {}",
                value_of(l, "type").unwrap_or("?"),
                part(request),
                part(response)
            )
        })
        .collect()
}

#[test]
fn pairs_requests_sent_before_the_first_answer_in_order() {
    // icsnpp_dnp3_example.pcap, frames 776–787: the master sends select
    // (seq 7) and operate (seq 8) of indexes 8, 10 and 12 without waiting;
    // the outstation answers each in order, echoing the index.
    let lines = run_tcp(&[
        (true, master(&crob_fragment(7, 3, 8))),
        (true, master(&crob_fragment(8, 4, 8))),
        (true, master(&crob_fragment(7, 3, 10))),
        (true, master(&crob_fragment(8, 4, 10))),
        (true, master(&crob_fragment(7, 3, 12))),
        (false, outstation(&crob_fragment(7, 0x81, 8))),
        (false, outstation(&crob_fragment(8, 0x81, 8))),
        (true, master(&crob_fragment(8, 4, 12))),
        (false, outstation(&crob_fragment(7, 0x81, 10))),
        (false, outstation(&crob_fragment(8, 0x81, 10))),
        (false, outstation(&crob_fragment(7, 0x81, 12))),
        (false, outstation(&crob_fragment(8, 0x81, 12))),
    ]);
    assert_eq!(
        summary(&lines),
        vec![
            "request_response select/7@8 response/7@8",
            "request_response operate/8@8 response/8@8",
            "request_response select/7@10 response/7@10",
            "request_response operate/8@10 response/8@10",
            "request_response select/7@12 response/7@12",
            "request_response operate/8@12 response/8@12",
        ]
    );
}

#[test]
fn response_gives_up_the_earlier_requests_of_its_pair() {
    let lines = run_tcp(&[
        (true, master(&class0_read(1))), // never answered
        (true, frames(0xc4, 11, 1, &class0_read(1), 0, 249)), // another outstation
        (true, master(&class0_read(2))),
        (false, outstation(&[0xc2, 0x81, 0, 0])),
        (false, frames(0x44, 1, 11, &[0xc1, 0x81, 0, 0], 0, 249)),
    ]);
    assert_eq!(
        summary(&lines),
        vec![
            "request read/1 -",
            "request_response read/2 response/2",
            "request_response read/1 response/1",
        ]
    );
}

/// Secure Authentication challenge (g120v1, qualifier 0x5b: 1-byte count,
/// 2-byte size prefix): CSQ, user, MAC algorithm, reason, challenge data.
fn challenge(seq: u8) -> Vec<u8> {
    let mut f = vec![0xc0 | seq, 0x83, 0x00, 0x00, 120, 1, 0x5b, 0x01, 12, 0x00];
    f.extend_from_slice(&[7, 0, 0, 0, 1, 0, 4, 1, 0xde, 0xad, 0xbe, 0xef]);
    f
}

/// The master's authentication reply (g120v2): CSQ, user, 16-byte MAC.
fn auth_reply(seq: u8) -> Vec<u8> {
    let mut f = vec![0xc0 | seq, 0x20, 120, 2, 0x5b, 0x01, 22, 0x00];
    f.extend_from_slice(&[7, 0, 0, 0, 1, 0]);
    f.extend_from_slice(&[0x5a; 16]);
    f
}

#[test]
fn pairs_the_response_that_follows_an_authentication_challenge() {
    // The outstation challenges the critical operate with the request's
    // sequence number; the master replies; the outstation then answers the
    // operate. Whatever sequence number the reply and the final response
    // carry, the operate gets that response.
    for (challenge_seq, reply_seq, response_seq) in [(5, 5, 5), (5, 6, 6), (5, 6, 5), (9, 9, 9)] {
        let lines = run_tcp(&[
            (true, master(&crob_fragment(5, 5, 2))),
            (false, outstation(&challenge(challenge_seq))),
            (true, master(&auth_reply(reply_seq))),
            (false, outstation(&crob_fragment(response_seq, 0x81, 2))),
        ]);
        assert_eq!(
            summary(&lines),
            vec![
                format!("response - authentication_response/{challenge_seq}@0"),
                format!("request authentication_request/{reply_seq}@0 -"),
                format!("request_response direct_operate/5@2 response/{response_seq}@2"),
            ],
            "challenge {challenge_seq}, reply {reply_seq}, response {response_seq}"
        );
    }
    // A failed authentication: the outstation's error (g120v7, function
    // 131) is the answer to the challenged request.
    let mut error = vec![0xc5, 0x83, 0x00, 0x00, 120, 7, 0x5b, 0x01, 15, 0x00];
    // CSQ 7, user 1, association 0, error 1 (authentication failed), time 0.
    error.extend_from_slice(&[7, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
    let lines = run_tcp(&[
        (true, master(&crob_fragment(5, 5, 2))),
        (false, outstation(&challenge(5))),
        (true, master(&auth_reply(5))),
        (false, outstation(&error)),
    ]);
    assert_eq!(
        summary(&lines),
        vec![
            "response - authentication_response/5@0",
            "request authentication_request/5@0 -",
            "request_response direct_operate/5@2 authentication_response/5@0",
        ]
    );
    // A key-status request (g120v4) answered by a 131 pairs as usual.
    let lines = run_tcp(&[
        (true, master(&[0xc1, 0x20, 120, 4, 0x07, 0x01, 0x01, 0x00])),
        (false, outstation(&[0xc1, 0x83, 0x00, 0x00])),
    ]);
    assert_eq!(
        summary(&lines),
        vec!["request_response authentication_request/1@0 authentication_response/1"]
    );
}

#[test]
fn gives_up_an_unanswered_request_after_the_timeout() {
    let other = |frag: &[u8], to_server: bool| {
        if to_server {
            frames(0xc4, 11, 1, frag, 0, 249)
        } else {
            frames(0x44, 1, 11, frag, 0, 249)
        }
    };
    // Read 1 to outstation 10 is never answered; the master meanwhile polls
    // outstation 11. The first DNP3 bytes more than 30 s after read 1 give
    // it up; until then it waits.
    let chunks = vec![
        (100_000, true, master(&class0_read(1))),
        (110_000, true, other(&class0_read(2), true)),
        (111_000, false, other(&[0xc2, 0x81, 0, 0], false)),
        (130_000, true, other(&class0_read(3), true)), // exactly 30 s: waits
        (130_001, false, other(&[0xc3, 0x81, 0, 0], false)), // 30.001 s: given up
    ];
    assert_eq!(
        summary(&run_tcp_timed(Dnp3Config::default(), &chunks)),
        vec![
            "request_response read/2 response/2",
            "request read/1 -",
            "request_response read/3 response/3",
        ]
    );
    // Without a timeout it waits until the end of the flow.
    let no_timeout = Dnp3Config {
        response_timeout_ms: 0,
        ..Dnp3Config::default()
    };
    assert_eq!(
        summary(&run_tcp_timed(no_timeout, &chunks)),
        vec![
            "request_response read/2 response/2",
            "request_response read/3 response/3",
            "request read/1 -",
        ]
    );
    // A response 30 s after its request still pairs; 30.001 s does not.
    for (delay, expected) in [
        (30_000, vec!["request_response read/1 response/1"]),
        (
            30_001,
            vec![
                "request read/1 -",
                "anomaly:response_without_request",
                "response - response/1",
            ],
        ),
    ] {
        let chunks = vec![
            (100_000, true, master(&class0_read(1))),
            (100_000 + delay, false, outstation(&[0xc1, 0x81, 0, 0])),
        ];
        assert_eq!(
            summary(&run_tcp_timed(Dnp3Config::default(), &chunks)),
            expected,
            "{delay} ms"
        );
    }
}

#[test]
fn broadcast_request_is_emitted_at_once() {
    let lines = run_tcp(&[
        (
            true,
            frames(0xc4, 0xffff, 1, &[0xc3, 0x15, 60, 2, 6], 0, 249),
        ), // disable unsolicited
        (true, master(&class0_read(4))),
        (false, outstation(&[0xc4, 0x81, 0, 0])),
    ]);
    assert_eq!(
        summary(&lines),
        vec![
            "anomaly:broadcast_destination",
            "request disable_unsolicited/3 -",
            "request_response read/4 response/4",
        ]
    );
}

#[test]
fn counts_the_link_function_of_a_header_without_transport_octet() {
    // conformance_6_6_2_4_invalid_crc.pcap: unconfirmed user data with
    // LEN 5, its header CRC good; tshark shows the link function.
    let mut sink = Recorder::default();
    let mut d = Dnp3Dissector::default();
    let mut cx = Context {
        ts: Timestamp::default(),
        sink: &mut sink,
    };
    let short = frame(0xc4, 1024, 1, &[]);
    let mut tiny = vec![0x05, 0x64, 0x02, 0xc4, 0x0a, 0x00, 0x01, 0x00]; // LEN 2
    let crc = link::crc(&tiny);
    tiny.extend_from_slice(&crc.to_le_bytes());
    d.parse(Direction::ToServer, &[short, tiny].concat(), &mut cx);
    assert_eq!(
        d.stats().link_function_counts().collect::<Vec<_>>(),
        vec![(true, 4, 1)],
        "LEN 2 is no header"
    );
    assert_eq!(
        anomalies(&sink.lines),
        vec!["length_too_small", "length_too_small"]
    );
}

// ---------------------------------------------------------------- every anomaly fires

#[test]
fn every_anomaly_fires() {
    let good_req = master(&class0_read(0));
    let mut bad_header = good_req.clone();
    bad_header[9] ^= 0xff;
    let mut bad_data = good_req.clone();
    bad_data[11] ^= 0xff;
    let small = config_small();
    let mut pairs_overflow = Vec::new();
    for src in 0..3u16 {
        pairs_overflow.push((
            true,
            frames(0xc4, 10, 100 + src, &[0xc0; 300], 0, 249)[..292].to_vec(),
        ));
    }
    type Case = (
        &'static str,
        Dnp3Config,
        Vec<(bool, Vec<u8>)>,
        Vec<&'static str>,
    );
    let cases: Vec<Case> = vec![
        (
            "invalid_start_octets",
            Dnp3Config::default(),
            vec![(true, [&[1u8, 2, 3][..], &good_req].concat())],
            vec!["invalid_start_octets"],
        ),
        (
            "bad_header_crc",
            Dnp3Config::default(),
            vec![(true, bad_header)],
            vec!["bad_header_crc"],
        ),
        (
            "bad_data_crc",
            Dnp3Config::default(),
            vec![(true, bad_data)],
            vec!["bad_data_crc"],
        ),
        (
            "length_too_small",
            Dnp3Config::default(),
            vec![(true, frame(0xc4, 10, 1, &[]))],
            vec!["length_too_small"],
        ),
        (
            "frame_too_long",
            Dnp3Config::default(),
            vec![(true, frame(0xc9, 10, 1, &[1, 2]))],
            vec!["frame_too_long"],
        ),
        (
            "unknown_link_function",
            Dnp3Config::default(),
            vec![(true, frame(0xc5, 10, 1, &[]))],
            vec!["unknown_link_function"],
        ),
        (
            "transport_missing_fir",
            Dnp3Config::default(),
            vec![(true, frame(0xc4, 10, 1, &[0x81, 0xc0, 0x01]))],
            vec!["transport_missing_fir"],
        ),
        (
            "transport_sequence_error",
            Dnp3Config::default(),
            vec![(
                true,
                [
                    frame(0xc4, 10, 1, &[0x40, 0xc0]),
                    frame(0xc4, 10, 1, &[0x82, 0x01]),
                ]
                .concat(),
            )],
            vec!["transport_sequence_error"],
        ),
        (
            "transport_incomplete_fragment",
            Dnp3Config::default(),
            vec![(
                true,
                [frame(0xc4, 10, 1, &[0x40, 0xc0]), good_req.clone()].concat(),
            )],
            vec!["transport_incomplete_fragment"],
        ),
        (
            "fragment_too_large",
            small,
            vec![(true, master(&[0xc0; 100]))],
            vec!["fragment_too_large"],
        ),
        (
            "too_many_fragments",
            Dnp3Config {
                transport: TransportConfig {
                    max_fragment: 1024,
                    max_pairs: 2,
                },
                ..Dnp3Config::default()
            },
            pairs_overflow,
            vec!["too_many_fragments"],
        ),
        (
            "fragment_too_short",
            Dnp3Config::default(),
            vec![(false, outstation(&[0xc0, 0x81]))],
            vec!["fragment_too_short"],
        ),
        (
            "reserved_function_code",
            Dnp3Config::default(),
            vec![(true, master(&[0xc0, 0x40, 1, 2]))],
            vec!["reserved_function_code"],
        ),
        (
            "broadcast_destination",
            Dnp3Config::default(),
            vec![(
                true,
                frames(0xc4, 0xffff, 1, &[0xc0, 0x15, 60, 2, 6], 0, 249),
            )],
            vec!["broadcast_destination"],
        ),
        (
            "unknown_object",
            Dnp3Config::default(),
            vec![(false, outstation(&[0xc0, 0x82, 0, 0, 99, 1, 0x00, 0, 0]))],
            vec!["unknown_object"],
        ),
        (
            "truncated_object",
            Dnp3Config::default(),
            vec![(false, outstation(&[0xc0, 0x82, 0, 0, 30, 1, 0x00, 0, 0, 1]))],
            vec!["truncated_object"],
        ),
        (
            "reserved_qualifier",
            Dnp3Config::default(),
            vec![(true, master(&[0xc0, 0x01, 60, 1, 0x0c]))],
            vec!["reserved_qualifier"],
        ),
        (
            "bad_range",
            Dnp3Config::default(),
            vec![(true, master(&[0xc0, 0x01, 1, 2, 0x00, 3, 2]))],
            vec!["bad_range"],
        ),
        (
            "too_many_objects",
            small,
            vec![(true, master(&[0xc0, 0x01, 60, 1, 6, 60, 2, 6, 60, 3, 6]))],
            vec!["too_many_objects"],
        ),
        (
            "too_many_points",
            small,
            vec![(
                false,
                outstation(&[0xc0, 0x82, 0, 0, 1, 1, 0x00, 0, 9, 0, 0]),
            )],
            vec!["too_many_points"],
        ),
        (
            "response_without_request",
            Dnp3Config::default(),
            vec![(false, outstation(&[0xc5, 0x81, 0, 0]))],
            vec!["response_without_request"],
        ),
        (
            "too_many_outstanding_requests",
            small,
            vec![
                (true, frames(0xc4, 10, 1, &class0_read(0), 0, 249)),
                (true, frames(0xc4, 11, 1, &class0_read(0), 0, 249)),
                (true, frames(0xc4, 12, 1, &class0_read(0), 0, 249)),
            ],
            vec!["too_many_outstanding_requests"],
        ),
        (
            "truncated_frame (udp)",
            Dnp3Config::default(),
            vec![],
            vec!["truncated_frame"],
        ),
    ];
    // Every declared name is among the expected ones.
    let mut fired: Vec<&str> = cases.iter().flat_map(|c| c.3.iter().copied()).collect();
    fired.sort_unstable();
    fired.dedup();
    let mut declared = Dnp3Anomaly::NAMES.to_vec();
    declared.sort_unstable();
    assert_eq!(fired, declared);
    for (name, config, chunks, expected) in cases {
        let lines = if chunks.is_empty() {
            let mut sink = Recorder::default();
            let mut d = Dnp3Dissector::new(config);
            let mut cx = Context {
                ts: Timestamp::default(),
                sink: &mut sink,
            };
            d.parse_datagram(
                Direction::ToServer,
                &good_req[..good_req.len() - 1],
                &mut cx,
            );
            sink.lines
        } else {
            run_tcp_with(config, &chunks)
        };
        assert_eq!(anomalies(&lines), expected, "{name}: {lines:?}");
    }
}

#[test]
fn anomaly_messages_name_the_offending_values() {
    let good_req = master(&class0_read(0));
    let read = |dst: u16| (true, frames(0xc4, dst, 1, &class0_read(0), 0, 249));
    type Case = (&'static str, Dnp3Config, Vec<(bool, Vec<u8>)>);
    let cases: Vec<Case> = vec![
        (
            "3 bytes before the 0x05 0x64 start octets",
            Dnp3Config::default(),
            vec![(true, [&[1u8, 2, 3][..], &good_req].concat())],
        ),
        (
            // Link control 0xc5: DIR, PRM, function 5 (not defined).
            "link control 0xc5: function 5 (prm 1) is not defined",
            Dnp3Config::default(),
            vec![(true, frame(0xc5, 10, 1, &[]))],
        ),
        (
            // Application control 0xc0 (FIR, FIN, seq 0), function 0x40.
            "application function code 64 (0x40) is reserved",
            Dnp3Config::default(),
            vec![(true, master(&[0xc0, 0x40, 1, 2]))],
        ),
        (
            // Disable unsolicited (0x15) of class 1 (g60v2) to 0xffff.
            "fragment to broadcast address 0xffff (disable_unsolicited)",
            Dnp3Config::default(),
            vec![(
                true,
                frames(0xc4, 0xffff, 1, &[0xc0, 0x15, 60, 2, 6], 0, 249),
            )],
        ),
        (
            // Response (0x81), FIR and FIN, seq 5, IIN 0.
            "response sequence 5 from 10 to 1 without a request",
            Dnp3Config::default(),
            vec![(false, outstation(&[0xc5, 0x81, 0, 0]))],
        ),
        (
            // Response, FIN without FIR (a later fragment), seq 3.
            "response fragment 3 from 10 to 1 continues no response",
            Dnp3Config::default(),
            vec![(false, outstation(&[0x43, 0x81, 0, 0]))],
        ),
        (
            // Three reads to three outstations, two may wait.
            "more than 2 requests without a response; the oldest is given up",
            config_small(),
            vec![read(10), read(11), read(12)],
        ),
    ];
    for (message, config, chunks) in cases {
        assert_eq!(record_tcp(config, &chunks).messages, [message]);
    }
}

fn config_small() -> Dnp3Config {
    Dnp3Config {
        transport: TransportConfig {
            max_fragment: 64,
            max_pairs: 2,
        },
        objects: ObjectLimits {
            max_objects: 2,
            max_points: 8,
        },
        max_outstanding: 2,
        ..Dnp3Config::default()
    }
}

#[test]
fn header_survives_bad_body() {
    let lines = run_tcp(&[(
        false,
        outstation(&[0xc0, 0x82, 0x02, 0, 60, 1, 0x06, 99, 1, 0x00, 0, 0, 1]),
    )]);
    assert_eq!(anomalies(&lines), vec!["unknown_object"]);
    let ev = events(&lines);
    assert_eq!(ev.len(), 1);
    assert!(ev[0].contains(r#""function":"unsolicited_response","iin":{"raw":2,"indicators":["class_1_events"]},"object_count":1,"objects":[{"group":60,"variation":1"#), "{}", ev[0]);
    assert!(ev[0].contains(r#""complete":false,"error":"g99v1 with qualifier 0x00 has no known size","error_name":"unknown_object""#), "{}", ev[0]);
}

#[test]
fn multi_fragment_response_continuation_is_not_an_orphan() {
    let first = [0x82, 0x81, 0, 0, 1, 2, 0x00, 0, 0, 0x01]; // FIR, seq 2
    let last = [0x43, 0x81, 0, 0, 1, 2, 0x00, 1, 1, 0x81]; // FIN, seq 3
    let lines = run_tcp(&[
        (true, master(&class0_read(2))),
        (false, outstation(&first)),
        (false, outstation(&last)),
    ]);
    assert_eq!(anomalies(&lines), Vec::<&str>::new());
    let ev = events(&lines);
    assert_eq!(ev.len(), 2);
    assert!(ev[0].starts_with(r#"{"type":"request_response""#));
    assert!(ev[1].starts_with(r#"{"type":"response""#));
}

#[test]
fn gap_resynchronises_quietly() {
    let mut sink = Recorder::default();
    let mut d = Dnp3Dissector::default();
    let req = master(&class0_read(1));
    let mut cx = Context {
        ts: Timestamp::default(),
        sink: &mut sink,
    };
    let used = d.parse(Direction::ToServer, &req[..7], &mut cx);
    assert_eq!(used, 0);
    d.gap(Direction::ToServer, &mut cx);
    let mut after = req[7..].to_vec();
    after.extend_from_slice(&req);
    let used = d.parse(Direction::ToServer, &after, &mut cx);
    assert_eq!(used, after.len());
    StreamDissector::flush(&mut d, &mut cx);
    assert_eq!(anomalies(&sink.lines), Vec::<&str>::new());
    assert_eq!(events(&sink.lines).len(), 1);
}

#[test]
fn garbage_never_stalls_and_holds_at_most_one_frame() {
    let mut sink = Recorder::default();
    let mut d = Dnp3Dissector::default();
    let mut cx = Context {
        ts: Timestamp::default(),
        sink: &mut sink,
    };
    let garbage = vec![0x05u8; 1000];
    let used = d.parse(Direction::ToServer, &garbage, &mut cx);
    assert_eq!(used, 999, "a trailing 0x05 may start a frame");
    // A header announcing the longest frame is held until complete.
    let long = master(&[0xc0; 249]);
    assert_eq!(long.len(), link::MAX_FRAME_LEN);
    assert_eq!(d.parse(Direction::ToServer, &long[..291], &mut cx), 0);
    assert_eq!(d.parse(Direction::ToServer, &long, &mut cx), long.len());
    assert_eq!(
        anomalies(&sink.lines),
        vec!["invalid_start_octets", "reserved_function_code"]
    );
}

#[test]
fn probe_recognises_dnp3() {
    assert!(probe(&unhex(SELECT)));
    assert!(probe(&unhex(DELAY_MEASURE)[..10]));
    assert!(!probe(&unhex(SELECT)[..9]));
    assert!(!probe(b"GET / HTTP/1.1\r\n"));
    assert!(!probe(&frame(0xc5, 1, 2, &[])), "unknown link function");
}

// ---------------------------------------------------------------- split at every offset

#[test]
fn split_at_every_offset_gives_the_same_events() {
    let fixtures: Vec<Vec<(bool, Vec<u8>)>> = vec![
        vec![(true, unhex(SELECT)), (false, unhex(SELECT_RESPONSE))],
        vec![(true, unhex(OPEN_FILE))],
        vec![
            (false, unhex(UNSOLICITED)),
            (true, unhex(UNSOLICITED_CONFIRM)),
        ],
        vec![(true, unhex(DELAY_MEASURE)), (false, unhex(DELAY_RESPONSE))],
        vec![
            (true, master(&class0_read(3))),
            (false, frames(0x44, 1, 10, &analog_response(3, 60), 5, 60)),
        ],
        vec![(true, [&[9u8, 9][..], &master(&class0_read(1))].concat())],
        vec![
            (true, master(&crob_fragment(7, 3, 8))),
            (true, master(&crob_fragment(8, 4, 8))),
            (false, outstation(&crob_fragment(7, 0x81, 8))),
            (false, outstation(&crob_fragment(8, 0x81, 8))),
        ],
    ];
    for (n, fixture) in fixtures.iter().enumerate() {
        let expected = run_tcp(fixture);
        assert!(!events(&expected).is_empty(), "fixture {n}");
        for (k, (to_server, bytes)) in fixture.iter().enumerate() {
            for cut in 1..bytes.len() {
                let mut chunks = fixture[..k].to_vec();
                chunks.push((*to_server, bytes[..cut].to_vec()));
                chunks.push((*to_server, bytes[cut..].to_vec()));
                chunks.extend_from_slice(&fixture[k + 1..]);
                assert_eq!(
                    run_tcp(&chunks),
                    expected,
                    "fixture {n} chunk {k} cut at {cut}"
                );
            }
        }
    }
}

#[test]
fn byte_by_byte_feed_gives_the_same_events() {
    let fixture = vec![
        (true, master(&class0_read(3))),
        (false, frames(0x44, 1, 10, &analog_response(3, 60), 5, 60)),
    ];
    let expected = run_tcp(&fixture);
    let mut chunks = Vec::new();
    for (to_server, bytes) in &fixture {
        for b in bytes {
            chunks.push((*to_server, vec![*b]));
        }
    }
    assert_eq!(run_tcp(&chunks), expected);
}

mod prop {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Arbitrary bytes (with the start octets sprinkled in) never panic,
        /// never stall, and leave at most one frame unconsumed.
        #[test]
        fn arbitrary_bytes_never_panic(mut data in proptest::collection::vec(any::<u8>(), 0..1200), starts in proptest::collection::vec(0usize..1200, 0..8)) {
            for at in starts {
                if at + 1 < data.len() {
                    data[at] = 0x05;
                    data[at + 1] = 0x64;
                }
            }
            let mut sink = Recorder::default();
            let mut d = Dnp3Dissector::default();
            let mut cx = Context { ts: Timestamp::default(), sink: &mut sink };
            let used = d.parse(Direction::ToServer, &data, &mut cx);
            prop_assert!(data.len() - used < link::MAX_FRAME_LEN);
            d.parse_datagram(Direction::ToClient, &data, &mut cx);
            StreamDissector::flush(&mut d, &mut cx);
        }

        /// Arbitrary object bytes parse without panicking, in both modes, and
        /// iterating what parsed never panics either.
        #[test]
        fn arbitrary_objects_never_panic(data in proptest::collection::vec(any::<u8>(), 0..400), with_data in any::<bool>()) {
            let (objects, _) = objects::parse(&data, with_data, ObjectLimits::default());
            for header in objects.iter() {
                for point in header.points().take(10_000) {
                    let _ = point;
                }
            }
            let header = link::Header { length: 5, control: link::Control(0x44), destination: 1, source: 2 };
            if let Ok(msg) = Message::decode(Timestamp::default(), &header, &data, ObjectLimits::default()) {
                let tx = Transaction { master: 1, outstation: 2, request: None, response: Some(msg) };
                let mut buf = Vec::new();
                let mut w = JsonWriter::new(&mut buf);
                w.begin_object();
                tx.write_eve(&mut w);
                w.end_object();
                prop_assert!(std::str::from_utf8(&buf).is_ok());
            }
        }
    }
}

/// Found by the `dnp3_app` fuzz target: class data objects (g60) carry no
/// object bytes whatever their count, so a response listing g60v2 with a
/// four-byte count of 2^32 - 1 parses, and walking its "points" (EVE
/// rendering, the point-index rule field) went through four billion empty
/// points, stalling the sensor.
#[test]
fn class_objects_with_a_huge_count_have_no_points() {
    let bytes = [
        60, 2,    // group 60 variation 2: class 1 data
        0x09, // qualifier: no prefix, four-byte count
        0xff, 0xff, 0xff, 0xff, // count 4,294,967,295
    ];
    for with_data in [false, true] {
        let (objects, error) = objects::parse(&bytes, with_data, ObjectLimits::default());
        assert_eq!(error, None);
        let header = objects.iter().next().expect("one header");
        assert_eq!(header.count(), u32::MAX);
        assert_eq!(header.points().count(), 0, "with_data {with_data}");
    }
    // Through the dissector: a read of class 1 answered by such a response
    // is one event, rendered at once.
    let started = std::time::Instant::now();
    let lines = run_tcp(&[
        (true, master(&[0xc0, 0x01, 60, 2, 0x06])),
        (
            false,
            outstation(&[0xc0, 0x81, 0x00, 0x00, 60, 2, 0x09, 0xff, 0xff, 0xff, 0xff]),
        ),
    ]);
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    let paired: Vec<&String> = events(&lines)
        .into_iter()
        .filter(|l| l.contains("\"response\"") && l.contains("4294967295"))
        .collect();
    assert_eq!(paired.len(), 1, "{lines:#?}");
    assert!(!paired[0].contains("\"points\""), "{}", paired[0]);
}
