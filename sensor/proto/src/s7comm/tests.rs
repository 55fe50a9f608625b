//! Fixtures are single frames (TCP payloads) from the corpus captures named
//! beside each one, annotated field by field.

use super::*;
use crate::event::{AppEvent, Context, Direction, Event, EventSink, Timestamp};
use crate::json::JsonWriter;
use crate::stream::StreamBuffer;

use Direction::{ToClient as S2C, ToServer as C2S};

/// Joins hex fragments, ignoring blanks.
fn hex(text: &str) -> Vec<u8> {
    let digits: Vec<u8> = text.bytes().filter(|b| b.is_ascii_hexdigit()).collect();
    assert!(digits.len() % 2 == 0, "odd hex: {text}");
    digits
        .chunks(2)
        .map(|p| u8::from_str_radix(std::str::from_utf8(p).expect("ascii"), 16).expect("hex"))
        .collect()
}

/// Frames of one fixture, in capture order.
type Frames = Vec<(Direction, Vec<u8>)>;

/// What a test wants to know about one event.
#[derive(Debug, Clone, PartialEq, Default)]
struct Seen {
    json: String,
    rosctr: Option<Rosctr>,
    function: Option<Function>,
    userdata: Option<(UserdataGroup, u8)>,
    pi_service: Option<String>,
    szl: Option<(u16, u16)>,
    areas: Vec<Area>,
    db_numbers: Vec<u16>,
    block: Option<s7::BlockId>,
    error: Option<(ErrorClass, u8)>,
    identity: Vec<(String, String)>,
    paired: bool,
    plus: Option<plus::DataHeader>,
}

#[derive(Default)]
struct Recorder {
    events: Vec<Seen>,
    anomalies: Vec<&'static str>,
    /// The anomalies' messages, in the same order.
    messages: Vec<String>,
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

impl EventSink for Recorder {
    fn emit(&mut self, event: &Event<'_>) {
        match event.app {
            AppEvent::Anomaly(a) => {
                // Every name raised is one the registry declares (rules may
                // name only those).
                assert!(SPEC.anomalies.contains(&a.name), "undeclared {}", a.name);
                assert_eq!(a.protocol, SPEC.name);
                self.anomalies.push(a.name);
                self.messages.push(a.detail.to_string());
            }
            AppEvent::S7comm(t) => {
                let mut buf = Vec::new();
                let mut w = JsonWriter::new(&mut buf);
                w.begin_object();
                t.write_eve(&mut w);
                w.end_object();
                let id = t.identity();
                let mut identity = Vec::new();
                for (k, v) in [
                    ("order_number", id.order_number),
                    ("module_name", id.module_name),
                    ("plant_id", id.plant_id),
                    ("serial_number", id.serial_number),
                    ("system_name", id.system_name),
                    ("module_type_name", id.module_type_name),
                ] {
                    if let Some(v) = v {
                        identity.push((k.to_string(), text(v)));
                    }
                }
                if let Some(v) = id.firmware_version {
                    identity.push(("firmware_version".to_string(), v.to_string()));
                }
                self.events.push(Seen {
                    json: String::from_utf8(buf).expect("utf-8"),
                    rosctr: t.rosctr(),
                    function: t.function(),
                    userdata: t.userdata_function(),
                    pi_service: t.pi_service().map(text),
                    szl: t.szl(),
                    areas: t.areas().collect(),
                    db_numbers: t.db_numbers().collect(),
                    block: t.block(),
                    error: t.error(),
                    identity,
                    paired: t.request.is_some() && t.response.is_some()
                        || t.plus.is_some() && t.plus_response.is_some(),
                    plus: t.plus_header(),
                });
            }
            _ => {}
        }
    }
}

/// Feeds whole frames through a [`StreamBuffer`] per direction, then flushes.
fn run_with(config: S7Config, frames: &[(Direction, Vec<u8>)]) -> Recorder {
    run_split(config, frames, None)
}

fn run(frames: &[(Direction, Vec<u8>)]) -> Recorder {
    run_with(S7Config::default(), frames)
}

/// Like [`run_with`], but frame `split.0` is fed in two pieces at `split.1`.
fn run_split(
    config: S7Config,
    frames: &[(Direction, Vec<u8>)],
    split: Option<(usize, usize)>,
) -> Recorder {
    let mut rec = Recorder::default();
    let mut d = S7Dissector::new(config);
    let mut bufs = [StreamBuffer::default(), StreamBuffer::default()];
    for (i, (dir, bytes)) in frames.iter().enumerate() {
        let pieces: Vec<&[u8]> = match split {
            Some((j, at)) if j == i => vec![&bytes[..at], &bytes[at..]],
            _ => vec![&bytes[..]],
        };
        for piece in pieces {
            let mut cx = Context {
                ts: Timestamp::new(i as i64, 0),
                sink: &mut rec,
            };
            bufs[dir.index()]
                .feed(&mut d, *dir, piece, 70_000, &mut cx)
                .expect("no overflow");
        }
    }
    let mut cx = Context {
        ts: Timestamp::new(1000, 0),
        sink: &mut rec,
    };
    d.flush(&mut cx);
    rec
}

// ---------------------------------------------------------------- fixtures

/// downloading_block_db1.pcap frame 5: COTP connection request.
fn cr() -> Vec<u8> {
    hex(concat!(
        "03 00 00 16", // TPKT v3, length 22
        "11",          // COTP LI 17
        "e0",          // CR, credit 0
        "00 00",       // destination reference
        "00 07",       // source reference
        "00",          // class 0
        "c1 02 01 00", // calling TSAP 0x0100
        "c2 02 01 02", // called TSAP 0x0102: PG, rack 0, slot 2
        "c0 01 0a",    // TPDU size 1024
    ))
}

/// downloading_block_db1.pcap frame 6: COTP connection confirm.
fn cc() -> Vec<u8> {
    hex(concat!(
        "03 00 00 16", // TPKT
        "11 d0",       // LI 17, CC
        "00 07 00 03", // dst ref 7, src ref 3
        "00",          // class 0
        "c0 01 0a",    // TPDU size 1024
        "c1 02 01 00", // calling TSAP
        "c2 02 01 02", // called TSAP
    ))
}

/// snap7_s300_everything.pcap frame 1: setup communication job.
fn setup_job() -> Vec<u8> {
    hex(concat!(
        "03 00 00 19", // TPKT, length 25
        "02 f0 80",    // COTP DT, EOT
        "32",          // S7 protocol id
        "01",          // ROSCTR job
        "00 00",       // redundancy id
        "00 00",       // PDU reference 0
        "00 08",       // parameter length 8
        "00 00",       // data length 0
        "f0",          // function: setup communication
        "00",          // reserved
        "00 01",       // max AmQ calling 1
        "00 01",       // max AmQ called 1
        "01 e0",       // PDU size 480
    ))
}

/// snap7_s300_everything.pcap frame 2: setup communication ack_data.
fn setup_ack() -> Vec<u8> {
    hex(concat!(
        "03 00 00 1b 02 f0 80", // TPKT, DT
        "32 03",                // S7, ack_data
        "00 00 00 00",          // redundancy id, PDU ref 0
        "00 08 00 00",          // parameter length 8, data length 0
        "00 00",                // error class, error code
        "f0 00 00 01 00 01",    // setup communication, AmQ 1 / 1
        "00 f0",                // negotiated PDU size 240
    ))
}

/// snap7_s300_everything.pcap frame 51: read var job.
fn read_job() -> Vec<u8> {
    hex(concat!(
        "03 00 00 1f 02 f0 80",
        "32 01 00 00", // S7 job
        "19 00",       // PDU ref 0x1900
        "00 0e 00 00", // parameter 14, data 0
        "04",          // read var
        "01",          // 1 item
        "12",          // variable specification
        "0a",          // 10 bytes follow
        "10",          // syntax id S7ANY
        "08",          // transport size REAL
        "00 01",       // 1 element
        "00 00",       // DB 0
        "83",          // area flags (M)
        "00 00 80",    // address 16.0 (byte << 3 | bit)
    ))
}

/// snap7_s300_everything.pcap frame 52: read var ack_data.
fn read_ack() -> Vec<u8> {
    hex(concat!(
        "03 00 00 1d 02 f0 80",
        "32 03 00 00 19 00", // ack_data, ref 0x1900
        "00 02 00 08",       // parameter 2, data 8
        "00 00",             // no error
        "04 01",             // read var, 1 item
        "ff",                // return code success
        "07",                // transport size REAL (length in bytes)
        "00 04",             // 4 bytes
        "00 00 00 00",       // value
    ))
}

/// snap7_s300_everything.pcap frame 49: write var job.
fn write_job() -> Vec<u8> {
    hex(concat!(
        "03 00 00 27 02 f0 80",
        "32 01 00 00 18 00",                   // job, ref 0x1800
        "00 0e 00 08",                         // parameter 14, data 8
        "05 01",                               // write var, 1 item
        "12 0a 10 08 00 01 00 00 83 00 00 80", // S7ANY REAL x1, M 16.0
        "00",                                  // return code (reserved in jobs)
        "07",                                  // transport size REAL
        "00 04",                               // 4 bytes
        "79 e9 f6 42",                         // value written
    ))
}

/// snap7_s300_everything.pcap frame 50: write var ack_data.
fn write_ack() -> Vec<u8> {
    hex(concat!(
        "03 00 00 16 02 f0 80",
        "32 03 00 00 18 00", // ack_data, ref 0x1800
        "00 02 00 01 00 00", // parameter 2, data 1, no error
        "05 01",             // write var, 1 item
        "ff",                // item 1: success
    ))
}

/// snap7_s300_everything.pcap frame 3: read SZL 0x0011 request.
fn szl11_req() -> Vec<u8> {
    hex(concat!(
        "03 00 00 21 02 f0 80",
        "32 07 00 00 01 00", // userdata, ref 0x0100
        "00 08 00 08",       // parameter 8, data 8
        "00 01 12",          // parameter head
        "04",                // 4 bytes follow
        "11",                // method: request
        "44",                // type request (0x40), group 4 CPU functions
        "01",                // subfunction read SZL
        "00",                // sequence 0
        "ff 09 00 04",       // return code, octet string, 4 bytes
        "00 11",             // SZL id 0x0011 module identification
        "00 00",             // index 0
    ))
}

/// snap7_s300_everything.pcap frame 4: read SZL 0x0011 answer (S7-300 CPU).
fn szl11_resp() -> Vec<u8> {
    hex(concat!(
        "03 00 00 99 02 f0 80",
        "32 07 00 00 01 00 00 0c 00 7c", // userdata, ref 0x0100, parameter 12, data 124
        "00 01 12 08",                   // head, 8 bytes follow
        "12 84 01 02",                   // response, type response / CPU, read SZL, seq 2
        "00 00 00 00",                   // data unit ref 0, last unit, error 0
        "ff 09 00 78",                   // success, octet string, 120 bytes
        "00 11 00 00",                   // SZL 0x0011 index 0
        "00 1c 00 04",                   // 28-byte records, 4 of them
        // index 1: order number, module type 0x00c0, version 0x0003 0x0001
        "0001 36455337203331352d32454831342d3041423020 00c0 0003 0001",
        // index 6: basic hardware
        "0006 36455337203331352d32454831342d3041423020 00c0 0003 0001",
        // index 7: basic firmware 'V' 3 . 2 . 7
        "0007 2020202020202020202020202020202020202020 00c0 5603 0207",
        // index 0x81: boot loader
        "0081 426f6f74204c6f61646572202020202020202020 0000 4120 0909",
    ))
}

/// snap7_s300_everything.pcap frame 5: read SZL 0x001c request.
fn szl1c_req() -> Vec<u8> {
    hex("0300002102f080 3207 0000 0200 0008 0008 00011204 11 44 01 00 ff090004 001c 0000")
}

/// snap7_s300_everything.pcap frame 6: first part of the 0x001c answer.
fn szl1c_resp() -> Vec<u8> {
    hex(concat!(
        "03 00 00 f7 02 f0 80",
        "32 07 00 00 02 00 00 0c 00 da", // userdata, ref 0x0200, parameter 12, data 218
        "00 01 12 08 12 84 01 02",       // head, response CPU read SZL, seq 2
        "d5 01 00 00",                   // data unit ref 0xd5, more units follow, error 0
        "ff 09 00 d6",                   // success, octet string, 214 bytes
        "00 1c 00 00 00 22 00 0a",       // SZL 0x001c, index 0, 34-byte records, 10 records
        // 1: automation system name
        "0001 53373330302f45543230304d2073746174696f6e5f3100000000000000000000",
        // 2: module name
        "0002 504c435f31000000000000000000000000000000000000000000000000000000",
        // 3: plant identification (empty)
        "0003 0000000000000000000000000000000000000000000000000000000000000000",
        // 4: copyright
        "0004 4f726967696e616c205369656d656e732045717569706d656e74000000000000",
        // 5: serial number
        "0005 5320432d42315533393331343230313100000000000000000000000000000000",
        // 7: module type name
        "0007 435055203331352d3220504e2f44500000000000000000000000000000000000",
        // 8: cut off here, continued in the next PDU
        "0008",
    ))
}

/// snap7_s300_everything.pcap frame 57: PLC stop job.
fn stop_job() -> Vec<u8> {
    hex(concat!(
        "03 00 00 21 02 f0 80",
        "32 01 00 00 1c 00 00 10 00 00", // job, ref 0x1c00, parameter 16, data 0
        "29",                            // PLC stop
        "00 00 00 00 00",                // unknown
        "09",                            // service name length
        "50 5f 50 52 4f 47 52 41 4d",    // "P_PROGRAM"
    ))
}

/// snap7_s300_everything.pcap frame 58: PLC stop ack_data.
fn stop_ack() -> Vec<u8> {
    hex("03 00 00 14 02 f0 80 32 03 00 00 1c 00 00 01 00 00 00 00 29")
}

/// snap7_s300_everything.pcap frame 63: PLC control, cold start.
fn cold_start_job() -> Vec<u8> {
    hex(concat!(
        "03 00 00 27 02 f0 80",
        "32 01 00 00 1f 00 00 16 00 00", // job, ref 0x1f00, parameter 22
        "28",                            // PLC control (PI service)
        "00 00 00 00 00 00 fd",          // unknown
        "00 02",                         // parameter block length 2
        "43 20",                         // "C ": cold start
        "09 505f50524f4752414d",         // "P_PROGRAM"
    ))
}

/// tia_s300_downloadhwconfig.pcap: PLC control, hot start (no argument).
fn hot_start_job() -> Vec<u8> {
    hex(concat!(
        "03 00 00 25 02 f0 80",
        "32 01 00 00 91 00 00 14 00 00", // job, ref 0x9100, parameter 20
        "28 00 00 00 00 00 00 fd",       // PLC control, unknown
        "00 00",                         // empty parameter block: hot start
        "09 505f50524f4752414d",         // "P_PROGRAM"
    ))
}

/// downloading_block_db1.pcap frame 58: PLC control `_INSE` of DB1.
fn inse_job() -> Vec<u8> {
    hex(concat!(
        "03 00 00 2b 02 f0 80",
        "32 01 00 00 0f 00 00 1a 00 00", // job, ref 0x0f00, parameter 26
        "28 00 00 00 00 00 00 fd",       // PLC control
        "00 0a",                         // parameter block length 10
        "01 00",                         // 1 block, reserved
        "30 41 30 30 30 30 31 50",       // "0A00001P": DB 1, passive file system
        "05 5f494e5345",                 // "_INSE"
    ))
}

/// downloading_block_db1.pcap frame 43: request download of DB1.
fn request_download_job() -> Vec<u8> {
    hex(concat!(
        "03 00 00 31 02 f0 80",
        "32 01 00 00 0e 00 00 20 00 00", // job, ref 0x0e00, parameter 32
        "1a",                            // request download
        "00",                            // function status
        "01 00",                         // unknown
        "00 00 00 00",                   // (upload) id
        "09 5f 30 41 30 30 30 30 31 50", // file name "_0A00001P"
        "0d",                            // part 2 length 13
        "31",                            // '1'
        "30 30 30 35 30 30",             // load memory length "000500"
        "30 30 30 34 30 30",             // MC7 code length "000400"
    ))
}

/// downloading_block_db1.pcap frame 44: request download ack_data.
fn request_download_ack() -> Vec<u8> {
    hex("03 00 00 14 02 f0 80 32 03 00 00 0e 00 00 01 00 00 00 00 1a")
}

/// downloading_block_db1.pcap frame 52: download block job, sent by the PLC.
fn download_block_job() -> Vec<u8> {
    hex(concat!(
        "03 00 00 23 02 f0 80",
        "32 01 00 00 05 00 00 12 00 00", // job, ref 0x0500, parameter 18
        "1b 00 00 00 00 00 00 00",       // download block, status 0, unknown, id 0
        "09 5f3041303030303150",         // "_0A00001P"
    ))
}

/// downloading_block_db1.pcap frame 54: download block ack_data, from the PG.
fn download_block_ack() -> Vec<u8> {
    hex(concat!(
        "03 00 00 51 02 f0 80",
        "32 03 00 00 05 00 00 02 00 3c 00 00", // ack_data, ref 0x0500, parameter 2, data 60
        "1b 00",                               // download block, status 0
        "00 38",                               // 56 bytes of block
        "00 fb",                               // unknown
        "0401100c010000c7000504010000010100000052545749000000000054657374484d4900",
        "44415441444200000100c0df0000000000000000",
    ))
}

/// snap7_s300_everything.pcap frames 17–22: start upload, upload, end upload.
fn upload_frames() -> Vec<(Direction, Vec<u8>)> {
    vec![
        (
            C2S,
            hex(concat!(
                "03 00 00 23 02 f0 80 32 01 00 00 08 00 00 12 00 00",
                "1d 00 00 00",           // start upload, status, unknown
                "00 00 00 00",           // upload id 0
                "09 5f3042303030303041", // "_0B00000A": SDB 0, active
            )),
        ),
        (
            S2C,
            hex(concat!(
                "03 00 00 23 02 f0 80 32 03 00 00 08 00 00 10 00 00 00 00",
                "1d 00 01 00",       // start upload, status, unknown
                "00 00 00 07",       // upload id 7
                "07 30303030323136", // block length "0000216"
            )),
        ),
        (
            C2S,
            hex("03 00 00 19 02 f0 80 32 01 00 00 09 00 00 08 00 00 1e 00 00 00 00 00 00 07"),
        ),
        (
            C2S,
            hex("03 00 00 19 02 f0 80 32 01 00 00 0a 00 00 08 00 00 1f 00 00 00 00 00 00 07"),
        ),
        (
            S2C,
            hex("03 00 00 14 02 f0 80 32 03 00 00 0a 00 00 01 00 00 00 00 1f"),
        ),
    ]
}

/// snap7_s300_everything.pcap frames 15–16: list blocks.
fn list_blocks() -> Vec<(Direction, Vec<u8>)> {
    vec![
        (
            C2S,
            hex(concat!(
                "03 00 00 1d 02 f0 80 32 07 00 00 07 00 00 08 00 04",
                "00 01 12 04 11 43 01 00", // request, block functions, list blocks
                "0a 00 00 00",             // no payload
            )),
        ),
        (
            S2C,
            hex(concat!(
                "03 00 00 3d 02 f0 80 32 07 00 00 07 00 00 0c 00 20",
                "00 01 12 08 12 83 01 00 00 00 00 00", // response, block functions, list blocks
                "ff 09 00 1c",                         // 28 bytes
                "3038 0001 3045 0001 3043 0000 3041 0002", // OB 1, FB 1, FC 0, DB 2
                "3042 0008 3044 004d 3046 000f",       // SDB 8, SFC 77, SFB 15
            )),
        ),
    ]
}

/// step7_s300_download.pcap frames 33–34: list blocks of type OB.
fn list_blocks_of_type() -> Vec<(Direction, Vec<u8>)> {
    vec![
        (
            C2S,
            hex(concat!(
                "03 00 00 1f 02 f0 80 32 07 00 00 4f 00 00 08 00 06",
                "00 01 12 04 11 43 02 00", // request, block functions, list blocks of type
                "ff 09 00 02 30 38",       // type "08" (OB)
            )),
        ),
        (
            S2C,
            hex(concat!(
                "03 00 00 35 02 f0 80 32 07 00 00 4f 00 00 0c 00 18",
                "00 01 12 08 12 83 02 01 00 00 00 00",
                "ff 09 00 14",
                "0001 22 02",
                "0052 22 01",
                "0053 22 01",
                "0055 22 01",
                "0056 22 01", // OB1 (KOP), OB82, …
            )),
        ),
    ]
}

/// step7_s300_download.pcap frames 5–6: block info of SDB 1.
fn block_info() -> Vec<(Direction, Vec<u8>)> {
    vec![
        (
            C2S,
            hex(concat!(
                "03 00 00 25 02 f0 80 32 07 00 00 21 00 00 08 00 0c",
                "00 01 12 04 11 43 03 00", // request, block functions, block info
                "ff 09 00 08",
                "30 42 30 30 30 30 31 41", // "0B00001A": SDB 1
            )),
        ),
        (
            S2C,
            hex(concat!(
                "03 00 00 6f 02 f0 80 32 07 00 00 21 00 00 0c 00 52",
                "00 01 12 08 12 83 03 00 00 00 00 00",
                "ff 09 00 4e",
                "0100 004a 2200 7070",       // constants, info length 74
                "03 02 07 0b 0001",          // ?, flags, language SDB, type SDB, number 1
                "0000009e",                  // load memory length 158
                "80000000",                  // block security
                "023664182c1e 04ef6d80122c", // code and interface timestamps
                "0000 0032 0000 0024",       // SSB, ADD, local data, MC7 length 36
                "5354455020372020 2020202020202020 2020202020202020", // author, family, name
                "00 00 5bb1",                // version, unknown, checksum
                "3152481400000000",          // reserved
            )),
        ),
    ]
}

/// reading_setting_plc_time.pcap style clock read (snap7_s300_everything.pcap frames 45–46).
fn read_clock() -> Vec<(Direction, Vec<u8>)> {
    vec![
        (C2S, hex("03 00 00 1d 02 f0 80 32 07 00 00 16 00 00 08 00 04 00 01 12 04 11 47 01 00 0a 00 00 00")),
        (S2C, hex(concat!(
            "03 00 00 2b 02 f0 80 32 07 00 00 16 00 00 0c 00 0e",
            "00 01 12 08 12 87 01 02 00 00 00 00", // response, time functions, read clock
            "ff 09 00 0a",
            "00 19 16 02 08 14 51 37 91 62",       // 2016-02-08 14:51:37.916, weekday 2
        ))),
    ]
}

/// s7_1200_hmi.pcap frame 6: CR with an S7comm-plus text TSAP.
fn plus_cr() -> Vec<u8> {
    hex(concat!(
        "03 00 00 24 1f e0 00 00 01 12 00",
        "c1 02 06 20",                            // calling TSAP 0x0620
        "c2 10 53494d415449432d524f4f542d484d49", // called "SIMATIC-ROOT-HMI"
        "c0 01 0a",
    ))
}

/// s7_1200_hmi.pcap frame 12: S7comm-plus V1 CreateObject response.
fn plus_v1_response() -> Vec<u8> {
    hex(concat!(
        "03 00 00 89 02 f0 80",
        "72 01 00 7a", // S7comm-plus V1, 122 data bytes
        "32",          // opcode response
        "00 00",       // reserved
        "04 ca",       // function create object
        "00 00",       // reserved
        "00 01",       // sequence 1
        "36",          // transport flags
        // object tree (kept raw): session id, "6ES7 211-1BE31-0XB0 ;V3.0", …
        "1102873e8723a100000120821f0000a38169001500a3823200170000013a823b00048200823c000481",
        "40823d00048480c040823e00048480c040823f00151b313b36455337203231312d31424533312d30",
        "584230203b56332e308240001505323b32383882410003000300a200000000",
        "72 01 00 00", // trailer
    ))
}

/// s7_1200_hmi.pcap frame 17: S7comm-plus V2 SetMultiVariables response.
fn plus_v2_response() -> Vec<u8> {
    hex(concat!(
        "03 00 00 1f 02 f0 80",
        "72 02 00 10",          // V2, 16 data bytes
        "32 00 00 05 42 00 00", // response, set multi variables
        "00 02",                // sequence 2
        "34",                   // transport flags
        "00 00 00 00 00 00",    // body
        "72 02 00 00",          // trailer
    ))
}

/// emre_plc.pcap frame 21: S7comm-plus V3 SetVariable request with integrity part.
fn plus_v3_request() -> Vec<u8> {
    hex(concat!(
        "03 00 00 65 02 f0 80",
        "72 03 00 56", // V3, 86 data bytes
        "20",          // digest length 32
        "485beb6661de7862548b09c03f31f10016e35f6d44a7f89705c2ce3648516e5c", // digest
        "31 00 00 04 f2 00 00", // request, set variable
        "00 04",       // sequence 4
        "00 00 03 b5", // session id 0x3b5
        "34",          // transport flags
        "000003b5018e35000101000004e88969001200000000896a001300896b00040000000400000000", // body
        "72 03 00 00", // trailer
    ))
}

/// emre_cotp.pcap frame 8: S7comm-plus keep-alive.
fn plus_keep_alive() -> Vec<u8> {
    hex("03 00 00 1b 02 f0 80 72 fe 00 10 00000000000045ab0000000000000000")
}

/// snap7_s300_everything.pcap frame 7: follow-up request for the rest of
/// the 0x001c answer.
fn szl1c_follow_up() -> Vec<u8> {
    hex(concat!(
        "03 00 00 21 02 f0 80",
        "32 07 00 00 03 00", // userdata, ref 0x0300
        "00 0c 00 04",       // parameter 12, data 4
        "00 01 12 08",       // head, 8 bytes follow
        "12 44 01 02",       // method 0x12, request / CPU, read SZL, seq 2
        "00 00 00 00",       // data unit ref 0, last unit, error 0
        "0a 00 00 00",       // "object does not exist", null, no data
    ))
}

/// snap7_s300_everything.pcap frame 8: last part of the 0x001c answer (no
/// SZL header: the records carry on where frame 6 stopped).
fn szl1c_last() -> Vec<u8> {
    hex(concat!(
        "03 00 00 a7 02 f0 80",
        "32 07 00 00 03 00 00 0c 00 8a", // userdata, ref 0x0300, parameter 12, data 138
        "00 01 12 08 12 84 01 02",       // head, response CPU read SZL, seq 2
        "d5 00 00 00",                   // data unit ref 0xd5, last unit, error 0
        "ff 09 00 86",                   // success, octet string, 134 bytes
        // rest of record 8: memory card serial number "MMC 4A1AC019"
        "4d4d4320344131414330313900000000000000000000000000000000000000",
        "00", // (record 8 ends here: 2 + 32 bytes in all)
        // 9: manufacturer and profile (binary)
        "0009 002af60000010000000000000000000000000000000000000000000000000000",
        // 10: OEM id (binary)
        "000a 0000000000000000000000000000000000000000000000000000000000000000",
        // 11: location id (empty)
        "000b 0000000000000000000000000000000000000000000000000000000000000000",
    ))
}

/// s7comm_attack_stop_start.pcap frames 18–19: read SZL 0x0424 after PLC
/// stop; the CPU reports STOP.
fn szl424() -> Frames {
    vec![
        (
            C2S,
            hex("0300002102f080 3207 0000 0400 0008 0008 00011204 11 44 01 00 ff090004 0424 0000"),
        ),
        (
            S2C,
            hex(concat!(
                "03 00 00 3d 02 f0 80",
                "32 07 00 00 04 00 00 0c 00 20", // userdata, ref 0x0400, parameter 12, data 32
                "00 01 12 08 12 84 01 00",       // response CPU read SZL
                "00 00 00 00",                   // last unit, no error
                "ff 09 00 1c",                   // success, octet string, 28 bytes
                "04 24 00 00 00 14 00 01",       // SZL 0x0424 index 0, one 20-byte record
                "5144",                          // ereig: event id 0x5144
                "ff",                            // ae
                "04",                            // bzu-id: previous 0, requested STOP (4)
                "00000000 000000000000",         // reserved, anlinfo1..4
                "2611281807400006",              // time stamp
            )),
        ),
    ]
}

/// s7comm_attack_stop_start.pcap frames 34–35: start upload of DB1 refused
/// with 0xd241 (protection level).
fn refused_upload() -> Frames {
    vec![
        (
            C2S,
            hex(concat!(
                "03 00 00 23 02 f0 80",
                "32 01 00 00 0c 00 00 12 00 00", // job, ref 0x0c00, parameter 18
                "1d 00 0000 00000000",           // start upload, status, upload id 0
                "09 5f3041303030303141",         // "_0A00001A": DB1, active
            )),
        ),
        (
            S2C,
            hex(concat!(
                "03 00 00 13 02 f0 80",
                "32 02 00 00 0c 00 00 00 00 00", // ack, ref 0x0c00, no parameter or data
                "d2 41",                         // error class 0xd2, code 0x41
            )),
        ),
    ]
}

/// tia_s300_downloadhwconfig.pcap frame 59: the CPU pushes a mode
/// transition to STOP (an 8-byte parameter whose length byte says 16).
fn mode_push_stop() -> Vec<u8> {
    hex(concat!(
        "03 00 00 19 02 f0 80",
        "32 07 00 00 00 00 00 08 00 00", // userdata, ref 0, parameter 8, data 0
        "01 00 10",                      // parameter head (not 00 01 12)
        "10",                            // length byte: 16 (wrong, 4 follow)
        "00",                            // method
        "00",                            // type push, group 0 mode transition
        "00",                            // subfunction: current mode STOP
        "00",                            // sequence
    ))
}

/// snap7_s300_everything.pcap frame 55: read var of M, I, Q bytes and of
/// timer T0 and counter C0 (numbers, not byte addresses).
fn read_timer_counter_job() -> Vec<u8> {
    hex(concat!(
        "03 00 00 4f 02 f0 80",
        "32 01 00 00 1b 00 00 3e 00 00", // job, ref 0x1b00, parameter 62
        "04 05",                         // read var, 5 items
        "12 0a 10 02 0010 0000 83 000000", // M 0.0, 16 bytes
        "12 0a 10 02 0010 0000 81 000000", // I 0.0, 16 bytes
        "12 0a 10 02 0010 0000 82 000000", // Q 0.0, 16 bytes
        "12 0a 10 1d 0008 0000 1d 000000", // timer T0, 8 timers
        "12 0a 10 1c 0008 0000 1c 000000", // counter C0, 8 counters
    ))
}

/// s7_1200_hmi.pcap frames 20 and 22: S7comm-plus V2 GetMultiVariables
/// request (sequence 3) and its response.
fn plus_get_pair() -> Frames {
    vec![
        (
            C2S,
            hex(concat!(
                "03 00 00 53 02 f0 80",
                "72 02 00 44",       // V2, 68 data bytes
                "31 0000 054c 0000", // request, get multi variables
                "00 03",             // sequence 3
                "00 00 03 be",       // session id 0x3be
                "34",                // transport flags
                "00000000030e0032019a7b00814902880d876800814902880d8769000004e88969001200000000896a001300896b0004000000000000",
                "72 02 00 00", // trailer
            )),
        ),
        (
            S2C,
            hex(concat!(
                "03 00 00 2c 02 f0 80",
                "72 02 00 1d",       // V2, 29 data bytes
                "32 0000 054c 0000", // response, get multi variables
                "00 03",             // sequence 3
                "34",                // transport flags
                "00010008010200083203000832000000000000",
                "72 02 00 00", // trailer
            )),
        ),
    ]
}

fn all_fixtures() -> Vec<Vec<(Direction, Vec<u8>)>> {
    vec![
        vec![
            (C2S, cr()),
            (S2C, cc()),
            (C2S, setup_job()),
            (S2C, setup_ack()),
        ],
        vec![(C2S, read_job()), (S2C, read_ack())],
        vec![(C2S, write_job()), (S2C, write_ack())],
        vec![
            (C2S, szl11_req()),
            (S2C, szl11_resp()),
            (C2S, szl1c_req()),
            (S2C, szl1c_resp()),
        ],
        vec![
            (C2S, stop_job()),
            (S2C, stop_ack()),
            (C2S, cold_start_job()),
            (C2S, hot_start_job()),
        ],
        vec![
            (C2S, inse_job()),
            (C2S, request_download_job()),
            (S2C, request_download_ack()),
        ],
        vec![(S2C, download_block_job()), (C2S, download_block_ack())],
        upload_frames(),
        list_blocks(),
        list_blocks_of_type(),
        block_info(),
        read_clock(),
        vec![
            (C2S, plus_cr()),
            (S2C, plus_v1_response()),
            (S2C, plus_v2_response()),
        ],
        vec![(C2S, plus_v3_request()), (S2C, plus_keep_alive())],
        vec![
            (C2S, szl1c_req()),
            (S2C, szl1c_resp()),
            (C2S, szl1c_follow_up()),
            (S2C, szl1c_last()),
        ],
        szl424(),
        refused_upload(),
        vec![(S2C, mode_push_stop())],
        vec![(C2S, read_timer_counter_job())],
        plus_get_pair(),
    ]
}

// ------------------------------------------------------------- decoding

#[test]
fn decodes_cotp_connection_and_setup_communication() {
    let rec = run(&all_fixtures()[0]);
    assert_eq!(rec.anomalies, Vec::<&str>::new());
    assert_eq!(rec.events.len(), 1);
    let e = &rec.events[0];
    assert!(e.paired);
    assert_eq!(e.function, Some(Function::SetupCommunication));
    assert!(
        e.json.starts_with(concat!(
            r#"{"cotp":{"calling_tsap":"0100","called_tsap":"0102","connection_type":1,"#,
            r#""connection_type_name":"pg","rack":0,"slot":2,"tpdu_size":1024,"pdu_size":240},"#,
            r#""rosctr":1,"rosctr_name":"job","pdu_ref":0,"#,
        )),
        "{}",
        e.json
    );
    assert!(e.json.contains(r#""function":240,"function_name":"setup_communication","max_amq_calling":1,"max_amq_called":1,"pdu_size":480}"#));
    assert!(e.json.contains(r#""error_class":0,"error_class_name":"no_error","error_code":0,"max_amq_calling":1,"max_amq_called":1,"pdu_size":240}"#));
}

#[test]
fn only_the_first_transaction_after_a_connection_change_carries_cotp() {
    // Connection and setup, then two reads on it, then a new connection
    // request on the same flow (a reconnect) and another read.
    let mut frames = all_fixtures()[0].clone();
    frames.extend(all_fixtures()[1].clone());
    frames.extend(all_fixtures()[1].clone());
    frames.push((C2S, cr()));
    frames.push((S2C, cc()));
    frames.extend(all_fixtures()[1].clone());
    let rec = run(&frames);
    let with_cotp: Vec<bool> = rec
        .events
        .iter()
        .map(|e| e.json.contains(r#""cotp":{"#))
        .collect();
    assert_eq!(
        with_cotp,
        [true, false, false, true],
        "setup, two reads, the read after the reconnect"
    );
    assert!(rec.events[3].json.starts_with(
        r#"{"cotp":{"calling_tsap":"0100","called_tsap":"0102","connection_type":1,"#
    ));
}

#[test]
fn decodes_read_var_items_and_values() {
    let rec = run(&all_fixtures()[1]);
    let e = &rec.events[0];
    assert!(e.paired);
    assert_eq!(
        (e.rosctr, e.function),
        (Some(Rosctr::Job), Some(Function::ReadVar))
    );
    assert_eq!(e.areas, vec![Area::Flags]);
    assert_eq!(e.db_numbers, Vec::<u16>::new());
    assert_eq!(
        e.json,
        concat!(
            r#"{"rosctr":1,"rosctr_name":"job","pdu_ref":6400,"#,
            r#""request":{"rosctr":1,"rosctr_name":"job","function":4,"function_name":"read_var","item_count":1,"#,
            r#""items":[{"syntax_id":16,"syntax_id_name":"s7any","transport_size":8,"transport_size_name":"real","#,
            r#""length":1,"db_number":0,"area":131,"area_name":"flags","byte_address":16,"bit_address":0}]},"#,
            r#""response":{"rosctr":3,"rosctr_name":"ack_data","function":4,"function_name":"read_var","#,
            r#""error_class":0,"error_class_name":"no_error","error_code":0,"item_count":1,"#,
            r#""items":[{"return_code":255,"return_code_name":"success","transport_size":7,"#,
            r#""transport_size_name":"real","length":4,"value":"00000000"}]}}"#,
        )
    );
}

#[test]
fn decodes_write_var_values_and_return_codes() {
    let rec = run(&all_fixtures()[2]);
    let e = &rec.events[0];
    assert_eq!(e.function, Some(Function::WriteVar));
    assert!(e.json.contains(r#""data":[{"return_code":0,"return_code_name":"reserved","transport_size":7,"transport_size_name":"real","length":4,"value":"79e9f642"}]"#));
    assert!(e.json.contains(r#""response":{"rosctr":3,"rosctr_name":"ack_data","function":5,"function_name":"write_var","error_class":0,"error_class_name":"no_error","error_code":0,"item_count":1,"items":[{"return_code":255,"return_code_name":"success"}]}"#));
}

#[test]
fn decodes_szl_identity_answers() {
    let rec = run(&all_fixtures()[3]);
    assert_eq!(rec.anomalies, Vec::<&str>::new());
    assert_eq!(rec.events.len(), 2);
    let module = &rec.events[0];
    assert_eq!(module.userdata, Some((UserdataGroup::CpuFunctions, 1)));
    assert_eq!(module.szl, Some((0x0011, 0)));
    let pairs = |v: &[(&str, &str)]| {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        module.identity,
        pairs(&[
            ("order_number", "6ES7 315-2EH14-0AB0"),
            ("firmware_version", "V3.2.7")
        ])
    );
    assert!(module.json.contains(r#""records":[{"index":1,"index_name":"module","order_number":"6ES7 315-2EH14-0AB0","module_type":192,"version":1}"#));
    assert!(module.json.ends_with(
        r#""identity":{"order_number":"6ES7 315-2EH14-0AB0","firmware_version":"V3.2.7"}}"#
    ));
    let component = &rec.events[1];
    assert_eq!(component.szl, Some((0x001c, 0)));
    assert_eq!(
        component.identity,
        pairs(&[
            ("module_name", "PLC_1"),
            ("plant_id", ""),
            ("serial_number", "S C-B1U393142011"),
            ("system_name", "S7300/ET200M station_1"),
            ("module_type_name", "CPU 315-2 PN/DP"),
        ])
    );
    assert!(component
        .json
        .contains(r#""data_unit_ref":213,"last_data_unit":false"#));
    assert!(component
        .json
        .contains(r#"{"index":4,"index_name":"copyright","text":"Original Siemens Equipment"}"#));
}

#[test]
fn decodes_plc_stop_and_start_modes() {
    let rec = run(&all_fixtures()[4]);
    assert_eq!(rec.events.len(), 3);
    let stop = &rec.events[0];
    assert!(stop.paired);
    assert_eq!(stop.function, Some(Function::PlcStop));
    assert_eq!(stop.pi_service.as_deref(), Some("P_PROGRAM"));
    // Unanswered jobs are emitted alone at flush, in arrival order.
    let cold = &rec.events[1];
    assert!(!cold.paired);
    assert_eq!(cold.function, Some(Function::PlcControl));
    assert!(cold
        .json
        .contains(r#""pi_service":"P_PROGRAM","start_mode":"cold_start","argument":"C ""#));
    assert!(rec.events[2]
        .json
        .contains(r#""pi_service":"P_PROGRAM","start_mode":"hot_start","argument":"""#));
}

#[test]
fn decodes_block_insert_and_download() {
    let rec = run(&all_fixtures()[5]);
    let inse = &rec.events[1];
    assert_eq!(inse.pi_service.as_deref(), Some("_INSE"));
    let db1 = s7::BlockId {
        block_type: BlockType::Db,
        number: Some(1),
        file_system: b'P',
    };
    assert_eq!(inse.block, Some(db1));
    assert!(inse.json.contains(r#""blocks":[{"block_type":12353,"block_type_name":"db","block_number":1,"file_system":"P","file_system_name":"passive"}]"#));
    let download = &rec.events[0];
    assert!(download.paired);
    assert_eq!(download.function, Some(Function::RequestDownload));
    assert_eq!(download.block, Some(db1));
    assert!(download.json.contains(r#""file_name":"_0A00001P","block_type":12353,"block_type_name":"db","block_number":1,"file_system":"P","file_system_name":"passive","load_memory_length":"000500","mc7_code_length":"000400"}"#));
}

#[test]
fn pairs_download_block_jobs_sent_by_the_plc() {
    let rec = run(&all_fixtures()[6]);
    assert_eq!(rec.anomalies, Vec::<&str>::new());
    let e = &rec.events[0];
    assert!(e.paired);
    assert_eq!(e.function, Some(Function::DownloadBlock));
    assert!(
        e.json.contains(r#""status":0,"data_length":56}"#),
        "{}",
        e.json
    );
}

#[test]
fn decodes_upload_sequence() {
    let rec = run(&upload_frames());
    // start upload pair, end upload pair, and the unanswered upload job at flush.
    let functions: Vec<_> = rec.events.iter().map(|e| (e.function, e.paired)).collect();
    assert_eq!(
        functions,
        vec![
            (Some(Function::StartUpload), true),
            (Some(Function::EndUpload), true),
            (Some(Function::Upload), false),
        ]
    );
    assert_eq!(
        rec.events[0].block,
        Some(s7::BlockId {
            block_type: BlockType::Sdb,
            number: Some(0),
            file_system: b'A'
        })
    );
    assert!(rec.events[0]
        .json
        .contains(r#""upload_id":7,"block_length":"0000216""#));
}

#[test]
fn decodes_block_functions() {
    let list = run(&list_blocks());
    assert!(list.events[0].json.contains(r#""blocks":[{"block_type":12344,"block_type_name":"ob","count":1},{"block_type":12357,"block_type_name":"fb","count":1}"#));
    let of_type = run(&list_blocks_of_type());
    assert_eq!(
        of_type.events[0].block,
        Some(s7::BlockId {
            block_type: BlockType::Ob,
            number: None,
            file_system: 0
        })
    );
    assert!(of_type.events[0]
        .json
        .contains(r#""blocks":[{"block_number":1,"flags":34,"language":2,"language_name":"kop"}"#));
    let info = run(&block_info());
    assert_eq!(
        info.events[0].block,
        Some(s7::BlockId {
            block_type: BlockType::Sdb,
            number: Some(1),
            file_system: b'A'
        })
    );
    assert!(info.events[0].json.contains(concat!(
        r#""block_info":{"block_type":12354,"block_type_name":"sdb","block_number":1,"language":7,"#,
        r#""language_name":"sdb","flags":2,"load_memory_length":158,"mc7_code_length":36,"author":"STEP 7","#,
        r#""family":"","name":"","version":"0.0","checksum":23473}"#,
    )), "{}", info.events[0].json);
    assert!(run(&read_clock()).events[0]
        .json
        .contains(r#""time":"2016-02-08T14:51:37.916""#));
}

#[test]
fn decodes_s7comm_plus_headers() {
    let rec = run(&all_fixtures()[12]);
    assert_eq!(rec.anomalies, Vec::<&str>::new());
    let v1 = &rec.events[0];
    let h = v1.plus.expect("understood");
    assert_eq!(
        (h.opcode, h.function, h.sequence),
        (
            PlusOpcode::Response,
            Some(PlusFunction::CreateObject),
            Some(1)
        )
    );
    assert!(v1.json.starts_with(concat!(
        r#"{"cotp":{"calling_tsap":"0620","called_tsap":"53494d415449432d524f4f542d484d49","#,
        r#""called_tsap_text":"SIMATIC-ROOT-HMI","tpdu_size":1024},"direction":"to_client","#,
        r#""version":1,"version_name":"v1","data_length":122,"integrity":false,"fragment":false,"#,
        r#""continuation":false,"understood":true,"opcode":50,"opcode_name":"response","function":1226,"#,
        r#""function_name":"create_object","sequence":1,"transport_flags":54,"body":"1102873e"#,
    )), "{}", v1.json);
    let v2 = rec.events[1].plus.expect("understood");
    assert_eq!(
        (v2.function, v2.transport_flags),
        (Some(PlusFunction::SetMultiVariables), Some(0x34))
    );
    // The keep-alive stands alone at once; the unanswered request is
    // reported at flush.
    let rec = run(&all_fixtures()[13]);
    assert!(rec.events[0].json.contains(r#""version":254,"version_name":"keep_alive","data_length":16,"integrity":false,"fragment":false,"continuation":false,"understood":true,"keep_alive":true"#));
    let v3 = rec.events[1].plus.expect("understood");
    assert_eq!(
        (v3.opcode, v3.function, v3.sequence, v3.session_id),
        (
            PlusOpcode::Request,
            Some(PlusFunction::SetVariable),
            Some(4),
            Some(0x3b5)
        )
    );
    assert!(rec.events[1]
        .json
        .contains(r#""integrity":true,"digest":"485beb66"#));
}

#[test]
fn reports_s7comm_plus_fragments_and_unknown_opcodes() {
    // A V2 message in two PDUs: the first without trailer, the second with.
    let first = hex("03 00 00 1a 02 f0 80 72 02 00 0f 31 0000 054c 0000 0003 00000001 34 aa");
    let second = hex("03 00 00 14 02 f0 80 72 02 00 05 00 01 00 00 00 72 02 00 00");
    let unknown = hex("03 00 00 10 02 f0 80 72 02 00 01 77 72 02 00 00");
    let rec = run(&[(C2S, first), (C2S, second), (C2S, unknown)]);
    assert_eq!(rec.anomalies, Vec::<&str>::new());
    // The later fragment and the unknown opcode stand alone at once; the
    // request (first fragment) waits for a response and is flushed last.
    assert!(rec.events[0]
        .json
        .contains(r#""fragment":true,"continuation":true,"understood":true,"body":"0001000000""#));
    assert!(rec.events[1].json.contains(
        r#""understood":false,"error":"S7comm-plus opcode 0x77 is not decoded","body":"77""#
    ));
    assert!(rec.events[2].json.contains(r#""fragment":true,"continuation":false,"understood":true,"opcode":49,"opcode_name":"request","function":1356,"#));
    assert!(!rec.events[2].paired);
}

#[test]
fn stitches_a_multi_part_szl_answer() {
    let rec = run(&all_fixtures()[14]);
    assert_eq!(rec.anomalies, Vec::<&str>::new());
    assert_eq!(rec.events.len(), 2);
    // The first fragment has records 1–7 (record 8 is cut off).
    let first = &rec.events[0];
    assert!(first
        .json
        .contains(r#""record_count":10,"records":[{"index":1,"#));
    assert!(!first.json.contains("memory_card_serial_number"));
    // The follow-up transaction carries the whole list, put together.
    let last = &rec.events[1];
    assert!(last.paired);
    assert_eq!(last.szl, Some((0x001c, 0)));
    assert!(
        last.json
            .contains(r#""continuation":true,"data":"4d4d4320"#),
        "{}",
        last.json
    );
    assert!(last.json.contains(concat!(
        r#""szl":{"id":28,"name":"component_identification","index":0,"reassembled":true,"#,
        r#""record_length":34,"record_count":10,"records":[{"index":1,"index_name":"automation_system_name","#,
        r#""text":"S7300/ET200M station_1"}"#,
    )), "{}", last.json);
    assert!(last
        .json
        .contains(r#"{"index":8,"index_name":"memory_card_serial_number","text":"MMC 4A1AC019"}"#));
    assert!(last
        .json
        .contains(r#"{"index":11,"index_name":"location_id","text":""}]}"#));
    assert!(last.identity.contains(&(
        "module_type_name".to_string(),
        "CPU 315-2 PN/DP".to_string()
    )));
}

#[test]
fn szl_reassembly_overflow_gives_up_the_answer() {
    let config = S7Config {
        max_szl: 300,
        ..S7Config::default()
    };
    let rec = run_with(config, &all_fixtures()[14]);
    assert_eq!(rec.anomalies, vec!["szl_reassembly_overflow"]);
    assert_eq!(
        rec.messages,
        ["multi-part SZL answer of 348 bytes exceeds the limit of 300; dropped"]
    );
    assert_eq!(rec.events.len(), 2);
    assert!(!rec.events[1].json.contains("reassembled"));
    assert!(rec.events[1].json.contains(r#""continuation":true"#));
}

#[test]
fn decodes_the_operating_mode_list() {
    let rec = run(&szl424());
    assert_eq!(rec.anomalies, Vec::<&str>::new());
    let e = &rec.events[0];
    assert_eq!(e.szl, Some((0x0424, 0)));
    assert!(e.json.contains(concat!(
        r#""szl":{"id":1060,"name":"operating_mode","index":0,"record_length":20,"record_count":1,"#,
        r#""records":[{"event_id":20804,"mode":4,"mode_name":"stop","previous_mode":0,"previous_mode_name":"undefined"}]}"#,
    )), "{}", e.json);
}

#[test]
fn names_refusals_by_their_error_word() {
    let rec = run(&refused_upload());
    let e = &rec.events[0];
    assert_eq!(e.error, Some((ErrorClass::Unknown(0xd2), 0x41)));
    assert!(e.json.ends_with(concat!(
        r#""response":{"rosctr":2,"rosctr_name":"ack","error_class":210,"error_class_name":"unknown","#,
        r#""error_code":65,"error_name":"protection_level"}}"#,
    )), "{}", e.json);
    assert_eq!(ErrorCode::from(0xd241), ErrorCode::ProtectionLevel);
    assert_eq!(ErrorCode::from(0xd242).name(), None);
}

#[test]
fn decodes_mode_transition_pushes() {
    let rec = run(&[(S2C, mode_push_stop())]);
    assert_eq!(rec.anomalies, Vec::<&str>::new());
    let e = &rec.events[0];
    assert_eq!(e.userdata, Some((UserdataGroup::ModeTransition, 0)));
    assert!(e.json.contains(concat!(
        r#""userdata":{"type":0,"type_name":"push","method":0,"group":0,"group_name":"mode_transition","#,
        r#""subfunction":0,"subfunction_name":"stop","sequence":0}"#,
    )), "{}", e.json);
}

#[test]
fn timer_and_counter_items_carry_numbers() {
    let rec = run(&[(C2S, read_timer_counter_job())]);
    let e = &rec.events[0];
    assert_eq!(
        e.areas,
        vec![
            Area::Flags,
            Area::Inputs,
            Area::Outputs,
            Area::Timer,
            Area::Counter
        ]
    );
    assert!(
        e.json
            .contains(r#""area":29,"area_name":"timer","number":0}"#),
        "{}",
        e.json
    );
    assert!(e
        .json
        .contains(r#""area":28,"area_name":"counter","number":0}"#));
    assert!(e
        .json
        .contains(r#""area":131,"area_name":"flags","byte_address":0,"bit_address":0}"#));
}

#[test]
fn pairs_s7comm_plus_requests_and_responses_by_sequence() {
    let rec = run(&plus_get_pair());
    assert_eq!(rec.anomalies, Vec::<&str>::new());
    assert_eq!(rec.events.len(), 1);
    let e = &rec.events[0];
    assert!(e.paired);
    let h = e.plus.expect("understood");
    assert_eq!(
        (h.opcode, h.function, h.sequence, h.session_id),
        (
            PlusOpcode::Request,
            Some(PlusFunction::GetMultiVariables),
            Some(3),
            Some(0x3be)
        )
    );
    assert!(e.json.starts_with(concat!(
        r#"{"direction":"to_server","version":2,"version_name":"v2","data_length":68,"integrity":false,"#,
        r#""fragment":false,"continuation":false,"understood":true,"opcode":49,"opcode_name":"request","#,
        r#""function":1356,"function_name":"get_multi_variables","sequence":3,"session_id":958,"#,
        r#""transport_flags":52,"body":"00000000030e"#,
    )), "{}", e.json);
    assert!(e.json.contains(concat!(
        r#""response":{"direction":"to_client","version":2,"version_name":"v2","data_length":29,"#,
        r#""integrity":false,"fragment":false,"continuation":false,"understood":true,"opcode":50,"#,
        r#""opcode_name":"response","function":1356,"function_name":"get_multi_variables","sequence":3,"#,
        r#""transport_flags":52,"body":"00010008"#,
    )), "{}", e.json);

    // A response with another sequence number does not answer the request.
    let mut other = plus_get_pair();
    other[1].1[19] = 0x04; // sequence 4
    let rec = run(&other);
    assert_eq!(rec.events.len(), 2);
    assert!(rec.events.iter().all(|e| !e.paired));
}

#[test]
fn unanswered_s7comm_plus_requests_time_out() {
    let [request, response] = [plus_get_pair()[0].clone(), plus_get_pair()[1].clone()];
    let keep_alive = (S2C, plus_keep_alive());
    // run() stamps frame i at i seconds: the keep-alive 6 s after the
    // request releases it (timeout 5 s), the late response then stands alone.
    let mut frames = vec![request];
    frames.extend(std::iter::repeat_n(keep_alive, 6));
    frames.push(response);
    let rec = run(&frames);
    assert_eq!(rec.anomalies, Vec::<&str>::new());
    let firsts: Vec<bool> = rec
        .events
        .iter()
        .map(|e| e.json.contains(r#""opcode_name":"request""#))
        .collect();
    assert_eq!(
        firsts,
        vec![false, false, false, false, false, true, false, false]
    );
    assert!(rec.events.iter().all(|e| !e.paired));
    assert!(rec.events[7].json.contains(r#""opcode_name":"response""#));
}

// ------------------------------------------------------ split at every offset

#[test]
fn same_events_when_any_frame_is_split_at_any_offset() {
    for fixture in all_fixtures() {
        let whole = run(&fixture);
        for (i, (_, bytes)) in fixture.iter().enumerate() {
            for at in 1..bytes.len() {
                let split = run_split(S7Config::default(), &fixture, Some((i, at)));
                assert_eq!(split.events, whole.events, "frame {i} split at {at}");
                assert_eq!(split.anomalies, whole.anomalies, "frame {i} split at {at}");
            }
        }
    }
}

#[test]
fn reassembles_cotp_segments_into_one_pdu() {
    // The read var job of read_job() cut into three DT TPDUs without EOT but the last.
    let s7 = &read_job()[7..];
    let dt = |eot: u8, part: &[u8]| {
        let mut f = vec![0x03, 0x00, 0x00, (7 + part.len()) as u8, 0x02, 0xf0, eot];
        f.extend_from_slice(part);
        f
    };
    let frames = vec![
        (C2S, dt(0x00, &s7[..5])),
        (C2S, dt(0x01, &s7[5..20])),
        (C2S, dt(0x82, &s7[20..])),
        (S2C, read_ack()),
    ];
    let rec = run(&frames);
    assert_eq!(rec.anomalies, Vec::<&str>::new());
    assert_eq!(
        rec.events,
        run(&all_fixtures()[1])
            .events
            .iter()
            .map(|e| Seen { ..e.clone() })
            .collect::<Vec<_>>()
    );
}

// --------------------------------------------------------- malformed inputs

#[test]
fn rejects_malformed_s7_pdus_with_exact_errors() {
    use s7::{BodyError as E, HeaderError as H, Part};
    let header_cases: &[(&str, H)] = &[
        ("33 01 00 00", H::BadProtocolId(0x33)),
        (
            "32 01 00 00 00 00 00 00",
            H::Truncated {
                needed: 10,
                actual: 8,
            },
        ),
        (
            "32 03 00 00 00 00 00 00 00 00 00",
            H::Truncated {
                needed: 12,
                actual: 11,
            },
        ),
    ];
    for (bytes, err) in header_cases {
        assert_eq!(
            Pdu::parse(&hex(bytes), false).map(|p| p.header),
            Err(*err),
            "{bytes}"
        );
    }
    let body_cases: &[(&str, E)] = &[
        // parameter length 8 but only 2 bytes follow
        (
            "32 01 0000 0001 0008 0000 f0 00",
            E::LengthMismatch {
                param_len: 8,
                data_len: 0,
                available: 2,
            },
        ),
        // setup communication cut short
        (
            "32 01 0000 0001 0004 0000 f0 00 00 01",
            E::Truncated {
                part: Part::Parameter,
                needed: 6,
                actual: 4,
            },
        ),
        // read var declaring 2 items, carrying 1
        (
            "32 01 0000 0001 000e 0000 04 02 120a10020001000084000000",
            E::Truncated {
                part: Part::Parameter,
                needed: 13,
                actual: 12,
            },
        ),
        // read var item without the 0x12 marker
        (
            "32 01 0000 0001 000e 0000 04 01 110a10020001000084000000",
            E::BadVarSpec {
                item: 0,
                spec: 0x11,
            },
        ),
        // read var with a byte after its items
        (
            "32 01 0000 0001 0005 0000 04 01 12 00 00",
            E::TrailingBytes {
                part: Part::Parameter,
                extra: 1,
            },
        ),
        // read var answer whose item claims 4 bytes and carries 2
        (
            "32 03 0000 0001 0002 0006 0000 04 01 ff 04 0020 0000",
            E::Truncated {
                part: Part::Data,
                needed: 8,
                actual: 6,
            },
        ),
        // write var answer with 2 return codes for 1 item
        (
            "32 03 0000 0001 0002 0002 0000 05 01 ff ff",
            E::TrailingBytes {
                part: Part::Data,
                extra: 1,
            },
        ),
        // userdata parameter shorter than its 8 positional bytes
        (
            "32 07 0000 0001 0006 0000 00 01 12 04 11 44",
            E::Truncated {
                part: Part::Parameter,
                needed: 7,
                actual: 6,
            },
        ),
        // userdata data part announcing 4 bytes, carrying 2
        (
            "32 07 0000 0001 0008 0006 00011204 11440100 ff 09 0004 0011",
            E::Truncated {
                part: Part::Data,
                needed: 8,
                actual: 6,
            },
        ),
        // PLC control without its service name
        (
            "32 01 0000 0001 000a 0000 28 000000000000fd 0000",
            E::Truncated {
                part: Part::Parameter,
                needed: 11,
                actual: 10,
            },
        ),
        // start upload job without the file name
        (
            "32 01 0000 0001 0008 0000 1d 00 0000 00000000",
            E::Truncated {
                part: Part::Parameter,
                needed: 9,
                actual: 8,
            },
        ),
    ];
    for (bytes, err) in body_cases {
        let raw = hex(bytes);
        let pdu = Pdu::parse(&raw, false).expect("header");
        assert_eq!(pdu.body, Err(*err), "{bytes}");
    }
    assert_eq!(
        E::LengthMismatch {
            param_len: 1,
            data_len: 2,
            available: 0
        }
        .anomaly()
        .name(),
        "s7_bad_length"
    );
    assert_eq!(
        E::BadVarSpec { item: 0, spec: 0 }.anomaly().name(),
        "s7_malformed_body"
    );
}

#[test]
fn keeps_unknown_functions_and_groups_raw() {
    let raw = hex("32 01 0000 0001 0003 0002 99 01 02 aa bb");
    let pdu = Pdu::parse(&raw, false).expect("header");
    assert_eq!(pdu.body, Ok(Body::Raw));
    assert_eq!(pdu.function(), Some(Function::Unknown(0x99)));
    let raw = hex("32 07 0000 0001 0008 0006 00011204 11 4c 07 00 ff 09 0002 beef");
    let ud = Pdu::parse(&raw, false).expect("header");
    let u = ud.userdata().expect("userdata");
    assert_eq!(
        (u.group, u.subfunction, u.detail, u.payload),
        (
            UserdataGroup::Unknown(0x0c),
            7,
            Detail::None,
            &[0xbe, 0xef][..]
        )
    );
}

#[test]
fn rejects_malformed_s7comm_plus_with_exact_errors() {
    use plus::PlusError as E;
    assert_eq!(
        plus::Pdu::parse(&hex("72 02 00"), false),
        Err(E::Truncated {
            needed: 4,
            actual: 3
        })
    );
    let cases: &[(&str, E)] = &[
        (
            "72 02 00 10 31 00",
            E::LengthMismatch {
                declared: 16,
                available: 2,
            },
        ),
        (
            "72 02 00 01 32 73 02 00 00",
            E::BadTrailer {
                id: 0x73,
                version: 0x02,
            },
        ),
        ("72 03 00 02 10 00 72 03 00 00", E::BadDigestLength(0x10)),
        (
            "72 02 00 03 32 00 00 72 02 00 00",
            E::ShortDataHeader {
                opcode: 0x32,
                needed: 10,
                actual: 3,
            },
        ),
        ("72 02 00 01 99 72 02 00 00", E::UnknownOpcode(0x99)),
    ];
    for (bytes, err) in cases {
        assert_eq!(
            plus::Pdu::parse(&hex(bytes), false).map(|p| p.message),
            Ok(Err(*err)),
            "{bytes}"
        );
    }
}

// ------------------------------------------------------------- anomalies

fn tpkt_dt(s7: &str) -> Vec<u8> {
    let body = hex(s7);
    let mut f = vec![0x03, 0x00, 0x00, (7 + body.len()) as u8, 0x02, 0xf0, 0x80];
    f.extend_from_slice(&body);
    f
}

#[test]
fn every_anomaly_fires() {
    // Each case: the anomaly, its exact message, the frames that raise it.
    let cases: Vec<(&str, &str, Frames)> = vec![
        (
            "tpkt_bad_version",
            "TPKT version 0x04 is not 3",
            // TPKT version 4, length 7, COTP DT.
            vec![(C2S, setup_job()), (C2S, hex("04 00 00 07 02 f0 80"))],
        ),
        (
            "tpkt_bad_length",
            "TPKT length 5 is below the minimum of 7",
            // TPKT version 3, length 5.
            vec![(C2S, setup_job()), (C2S, hex("03 00 00 05 02 f0 80"))],
        ),
        (
            "non_s7_traffic",
            "bytes on an ISO-on-TCP stream do not frame as TPKT: TPKT version 0x47 is not 3",
            vec![(C2S, b"GET / HTTP/1.1\r\n\r\n".to_vec())],
        ),
        (
            "non_s7_traffic",
            "COTP data is neither S7comm nor S7comm-plus; protocol id 0x47",
            // A DT TPDU whose data starts "GET", not 0x32 or 0x72.
            vec![(C2S, tpkt_dt("47 45 54"))],
        ),
        (
            "cotp_bad_tpdu",
            "COTP length indicator 9 exceeds the 3 bytes that follow it",
            // TPKT length 8; COTP LI 9 with 3 bytes after it.
            vec![(C2S, hex("03 00 00 08 09 f0 80 32"))],
        ),
        (
            "cotp_bad_parameter",
            "COTP TPDU size code 0x0f is outside 0x07..=0x0d",
            // CR (0xe0), dst ref 0, src ref 1, class 0; parameter 0xc0
            // (TPDU size), length 1, code 0x0f.
            vec![(C2S, hex("03 00 00 0e 09 e0 00 00 00 01 00 c0 01 0f"))],
        ),
        (
            "cotp_bad_class",
            "COTP connection in class 4",
            // CR (0xe0), dst ref 0, src ref 1, class and options 0x40.
            vec![(C2S, hex("03 00 00 0b 06 e0 00 00 00 01 40"))],
        ),
        (
            "cotp_bad_class",
            "ISO-on-TCP (class 0) does not use COTP TPDU ak",
            // AK (0x60), dst ref 1, sequence 0.
            vec![(C2S, hex("03 00 00 09 04 60 00 01 00"))],
        ),
        (
            "cotp_error_tpdu",
            "COTP error TPDU, reject cause 0x02",
            // ER (0x70), dst ref 1, cause 2, parameter 0xc1 of length 0.
            vec![(S2C, hex("03 00 00 0b 06 70 00 01 02 c1 00"))],
        ),
        (
            "s7_bad_length",
            "S7 parameter length 16 + data length 0 do not match the 2 bytes after the header",
            vec![(C2S, tpkt_dt("32 01 0000 0001 0010 0000 04 00"))],
        ),
        (
            "s7_bad_length",
            "S7 PDU of 5 bytes is shorter than its 10-byte header",
            vec![(C2S, tpkt_dt("32 01 0000 00"))],
        ),
        (
            "s7_malformed_body",
            "S7 parameter part of 0 bytes, needs 1",
            vec![(C2S, tpkt_dt("32 01 0000 0001 0002 0000 04 01"))],
        ),
        (
            "s7_unknown_rosctr",
            "unknown S7 PDU type (ROSCTR) 0x5",
            vec![(C2S, tpkt_dt("32 05 0000 0001 0000 0000"))],
        ),
        (
            "s7_before_setup",
            "S7 PDU before setup communication: job",
            vec![(C2S, cr()), (S2C, cc()), (C2S, read_job())],
        ),
        (
            "ack_without_job",
            "ack without a job, PDU reference 6400",
            vec![(S2C, read_ack())],
        ),
        (
            "s7plus_bad_framing",
            "S7comm-plus data length 16 does not fit the 1 bytes after the header",
            vec![(C2S, tpkt_dt("72 02 00 10 31"))],
        ),
        (
            "s7plus_bad_framing",
            "S7comm-plus PDU of 2 bytes, needs 4",
            vec![(C2S, tpkt_dt("72 02"))],
        ),
        (
            "s7plus_bad_integrity",
            "S7comm-plus integrity part announces a digest of 16 bytes, not 32",
            vec![(C2S, tpkt_dt("72 03 00 02 10 00 72 03 00 00"))],
        ),
        (
            "too_many_outstanding_jobs",
            "jobs without an ack exceed the limit of 32",
            (0..33u8)
                .map(|r| (C2S, tpkt_dt(&format!("32 01 0000 00{r:02x} 0000 0000"))))
                .collect(),
        ),
    ];
    let mut fired: Vec<&str> = cases.iter().map(|(name, ..)| *name).collect();
    for (name, message, frames) in cases {
        let rec = run(&frames);
        assert_eq!(rec.anomalies, vec![name], "{name}");
        assert_eq!(rec.messages, vec![message], "{name}");
    }
    // The rest fire in their own tests (they need a limit or a negotiated
    // size): every declared name is made to fire somewhere.
    fired.extend([
        "tpkt_exceeds_tpdu_size",
        "cotp_reassembly_overflow",
        "szl_reassembly_overflow",
    ]);
    fired.sort_unstable();
    fired.dedup();
    let mut declared = S7Anomaly::NAMES.to_vec();
    declared.sort_unstable();
    assert_eq!(fired, declared);
}

#[test]
fn too_many_outstanding_jobs_gives_up_the_oldest() {
    let job = |r: u8| {
        tpkt_dt(&format!(
            "32 01 0000 00{r:02x} 0008 0000 f0 00 0001 0001 01e0"
        ))
    };
    let config = S7Config {
        max_outstanding: 2,
        ..S7Config::default()
    };
    let rec = run_with(config, &[(C2S, job(1)), (C2S, job(2)), (C2S, job(3))]);
    assert_eq!(rec.anomalies, vec!["too_many_outstanding_jobs"]);
    assert_eq!(rec.messages, ["jobs without an ack exceed the limit of 2"]);
    let refs: Vec<bool> = rec
        .events
        .iter()
        .map(|e| e.json.contains(r#""pdu_ref":1,"#))
        .collect();
    assert_eq!(refs, vec![true, false, false]);

    // S7comm-plus requests share the table: the oldest sequence goes.
    let request = |seq: u8| {
        let mut f = plus_get_pair()[0].1.clone();
        f[19] = seq;
        (C2S, f)
    };
    let rec = run_with(config, &[request(1), request(2), request(3)]);
    assert_eq!(rec.anomalies, vec!["too_many_outstanding_jobs"]);
    assert_eq!(
        rec.messages,
        ["S7comm-plus requests without a response exceed the limit of 2"]
    );
    let first = rec.events[0].plus.and_then(|h| h.sequence);
    assert_eq!(first, Some(1));
}

#[test]
fn reassembly_overflow_drops_the_pdu_and_resumes() {
    let config = S7Config {
        max_pdu: 16,
        ..S7Config::default()
    };
    let part = hex("03 00 00 11 02 f0 00 32 01 00 00 00 01 00 00 00 00");
    let rec = run_with(
        config,
        &[
            (C2S, part.clone()),
            (C2S, part.clone()),
            (C2S, hex("03 00 00 09 02 f0 80 00 00")), // the end of the dropped PDU
            (C2S, setup_job()),
        ],
    );
    assert_eq!(rec.anomalies, vec!["cotp_reassembly_overflow"]);
    assert_eq!(
        rec.messages,
        ["segmented COTP data of 20 bytes exceeds the limit of 16; dropped"]
    );
    assert_eq!(rec.events.len(), 1);
    assert_eq!(rec.events[0].function, Some(Function::SetupCommunication));
}

#[test]
fn resynchronises_after_garbage_and_gaps() {
    let mut frames = vec![(C2S, setup_job())];
    let mut garbage = b"\x03\x00\x00\x02junk".to_vec();
    garbage.extend_from_slice(&setup_job()[..5]);
    frames.push((C2S, garbage));
    frames.push((C2S, read_job()));
    frames.push((S2C, read_ack()));
    let rec = run(&frames);
    assert_eq!(rec.anomalies, vec!["tpkt_bad_length"]);
    let functions: Vec<_> = rec.events.iter().map(|e| (e.function, e.paired)).collect();
    assert_eq!(
        functions,
        vec![
            (Some(Function::ReadVar), true),
            (Some(Function::SetupCommunication), false)
        ]
    );

    // A gap in the middle of a segmented PDU drops it; the next PDU decodes.
    let mut rec = Recorder::default();
    let mut d = S7Dissector::default();
    let mut cx = Context {
        ts: Timestamp::default(),
        sink: &mut rec,
    };
    let head = hex("03 00 00 0c 02 f0 00 32 01 00 00 00");
    assert_eq!(d.parse(C2S, &head, &mut cx), head.len());
    d.gap(C2S, &mut cx);
    let tail = hex("03 00 00 0b 02 f0 80 01 00 00 00");
    assert_eq!(d.parse(C2S, &tail, &mut cx), tail.len());
    let job = read_job();
    assert_eq!(d.parse(C2S, &job, &mut cx), job.len());
    d.flush(&mut cx);
    assert_eq!(rec.anomalies, Vec::<&str>::new());
    assert_eq!(rec.events.len(), 1);
    assert_eq!(rec.events[0].function, Some(Function::ReadVar));
}

#[test]
fn ack_errors_are_exposed() {
    // snap7_s300_everything.pcap frames 43–44: start upload of OB0 refused.
    let rec = run(&[
        (C2S, hex("03 00 00 23 02 f0 80 32 01 00 00 15 00 00 12 00 00 1d 00 00 00 00 00 00 00 09 5f3038303030303041")),
        (S2C, hex(concat!("03 00 00 13 02 f0 80", "32 02 00 00 15 00 00 00 00 00", "d2 0c"))), // ack, error 0xd2 / 0x0c
    ]);
    assert_eq!(rec.events[0].error, Some((ErrorClass::Unknown(0xd2), 0x0c)));
    assert!(rec.events[0].json.contains(r#""response":{"rosctr":2,"rosctr_name":"ack","error_class":210,"error_class_name":"unknown","error_code":12}"#));
}

#[test]
fn probes_other_ports() {
    assert!(probe(&cr()));
    assert!(probe(&setup_job()));
    assert!(probe(&plus_v2_response()));
    assert!(!probe(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"));
}

#[test]
fn a_tpkt_longer_than_the_negotiated_tpdu_size_is_an_anomaly() {
    // CR and CC negotiate 1024-byte TPDUs; a DT TPDU of exactly 1024 bytes
    // is fine, one of 1096 bytes is not (it is still reassembled).
    let dt = |tpkt_len: u16| {
        let mut f = hex("03 00"); // TPKT v3
        f.extend_from_slice(&tpkt_len.to_be_bytes()); // length
        f.extend(hex("02 f0 00")); // COTP DT, LI 2, not the last TPDU
        f.resize(usize::from(tpkt_len), 0); // data
        f
    };
    let frames = vec![
        (C2S, cr()),
        (S2C, cc()),
        (C2S, dt(4 + 1024)),
        (C2S, dt(1100)),
    ];
    let rec = run(&frames);
    assert_eq!(rec.anomalies, ["tpkt_exceeds_tpdu_size"]);
    assert_eq!(
        rec.messages,
        ["TPDU of 1096 bytes exceeds the negotiated TPDU size of 1024 bytes"]
    );
    // Before a size is negotiated nothing is checked.
    let rec = run(&[(C2S, dt(1100))]);
    assert!(
        !rec.anomalies.contains(&"tpkt_exceeds_tpdu_size"),
        "{:?}",
        rec.anomalies
    );
}
