//! Property tests: arbitrary bytes (well past one MTU) never make a decoder
//! or dissector panic, a dissector always makes progress (never holds more
//! than its bound), and a stream of valid PDUs yields the same events however
//! TCP cuts it into segments ("split anywhere").

use otwatch_proto::dnp3::link::crc;
use otwatch_proto::dnp3::Dnp3Dissector;
use otwatch_proto::enip::EnipDissector;
use otwatch_proto::event::{
    AppEvent, Context, CountingSink, DatagramDissector, Direction, Event, EventSink,
    StreamDissector, Timestamp,
};
use otwatch_proto::iec104::Iec104Dissector;
use otwatch_proto::json::JsonWriter;
use otwatch_proto::modbus::ModbusDissector;
use otwatch_proto::reassembly::{ReassemblyLimits, TcpStream};
use otwatch_proto::s7comm::S7Dissector;
use otwatch_proto::stream::StreamBuffer;
use otwatch_proto::wire::{self, LinkType};
use proptest::prelude::*;

/// Feeds chunks alternating direction through stream buffers.
fn feed(dissector: &mut dyn StreamDissector, chunks: &[(bool, Vec<u8>)]) {
    let mut held = [StreamBuffer::default(), StreamBuffer::default()];
    let mut sink = CountingSink::default();
    for (to_server, bytes) in chunks {
        let dir = if *to_server {
            Direction::ToServer
        } else {
            Direction::ToClient
        };
        let mut cx = Context {
            ts: Timestamp::new(1, 0),
            sink: &mut sink,
        };
        let _ = held[dir.index()].feed(dissector, dir, bytes, 70 * 1024, &mut cx);
        assert!(held[dir.index()].len() <= 70 * 1024);
    }
    let mut cx = Context {
        ts: Timestamp::new(2, 0),
        sink: &mut sink,
    };
    dissector.gap(Direction::ToServer, &mut cx);
    dissector.flush(&mut cx);
}

/// Byte strings biased towards the protocols' magic values, so that the
/// generator reaches deep into the parsers rather than failing at byte 0.
fn protocol_bytes() -> impl Strategy<Value = Vec<u8>> {
    let seeds: Vec<Vec<u8>> = vec![
        vec![0, 1, 0, 0, 0, 6, 1, 3, 0, 0, 0, 2], // Modbus read
        vec![3, 0, 0, 0x1f, 2, 0xf0, 0x80, 0x32, 1, 0, 0, 0, 1], // TPKT/COTP DT/S7 job
        vec![3, 0, 0, 0x16, 0x11, 0xe0, 0, 0, 0, 1, 0], // TPKT/COTP CR
        vec![3, 0, 0, 0x10, 2, 0xf0, 0x80, 0x72, 1, 0, 4], // S7comm-plus
        vec![0x05, 0x64, 0x0b, 0xc4, 0x01, 0, 0x02, 0], // DNP3 link header
        // EtherNet/IP SendRRData header (length 0x1e), session 1, then the
        // CPF prefix: interface 0, timeout 0, 2 items, null address,
        // unconnected data of 14 bytes, a Multiple_Service_Packet.
        vec![
            0x6f, 0, 0x1e, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            0, 0, 0, 2, 0, 0, 0, 0, 0, 0xb2, 0, 14, 0, 0x0a, 2, 0x20, 2, 0x24, 1,
        ],
        // IEC 104: STARTDT act, then an I-frame with a single command.
        vec![
            0x68, 4, 7, 0, 0, 0, 0x68, 0x0e, 0, 0, 0, 0, 45, 1, 6, 0, 3, 0, 1, 0, 0, 1,
        ],
        // 2222 implicit I/O: 2 items, sequenced address, connected data.
        vec![
            2, 0, 0x02, 0x80, 8, 0, 1, 0, 0, 0, 5, 0, 0, 0, 0xb1, 0, 2, 0, 1, 0,
        ],
    ];
    (
        proptest::sample::select(seeds),
        // Up to past a jumbo frame: PDUs split over several segments.
        proptest::collection::vec(any::<u8>(), 0..9000),
        any::<bool>(),
    )
        .prop_map(|(seed, tail, prefix)| {
            if prefix {
                let mut v = seed;
                v.extend(tail);
                v
            } else {
                tail
            }
        })
}

fn chunks() -> impl Strategy<Value = Vec<(bool, Vec<u8>)>> {
    proptest::collection::vec((any::<bool>(), protocol_bytes()), 1..12)
}

proptest! {
    // Fewer cases than for short inputs, each up to ~100 kB (12 chunks of up
    // to 9 kB): about a minute in a debug build.
    #![proptest_config(ProptestConfig { cases: 400, .. ProptestConfig::default() })]

    #[test]
    fn wire_decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..9000), lt in 0usize..8) {
        let link = [LinkType::Ethernet, LinkType::LinuxSll, LinkType::LinuxSll2, LinkType::RawIp,
            LinkType::Null, LinkType::Loop, LinkType::Ipv4, LinkType::Ipv6][lt];
        let _ = wire::decode(link, &bytes);
    }

    #[test]
    fn modbus_never_panics(c in chunks()) {
        feed(&mut ModbusDissector::default(), &c);
    }

    #[test]
    fn s7comm_never_panics(c in chunks()) {
        feed(&mut S7Dissector::default(), &c);
    }

    #[test]
    fn dnp3_stream_and_datagrams_never_panic(c in chunks()) {
        feed(&mut Dnp3Dissector::default(), &c);
        let mut d = Dnp3Dissector::default();
        let mut sink = CountingSink::default();
        let mut cx = Context { ts: Timestamp::new(1, 0), sink: &mut sink };
        for (to_server, bytes) in &c {
            let dir = if *to_server { Direction::ToServer } else { Direction::ToClient };
            d.parse_datagram(dir, bytes, &mut cx);
        }
        DatagramDissector::flush(&mut d, &mut cx);
    }

    #[test]
    fn enip_stream_and_datagrams_never_panic(c in chunks()) {
        feed(&mut EnipDissector::default(), &c);
        let mut d = EnipDissector::default();
        let mut sink = CountingSink::default();
        let mut cx = Context { ts: Timestamp::new(1, 0), sink: &mut sink };
        for (to_server, bytes) in &c {
            let dir = if *to_server { Direction::ToServer } else { Direction::ToClient };
            d.parse_datagram(dir, bytes, &mut cx);
        }
        DatagramDissector::flush(&mut d, &mut cx);
    }

    #[test]
    fn iec104_never_panics(c in chunks()) {
        feed(&mut Iec104Dissector::default(), &c);
    }

    #[test]
    fn reassembly_never_panics_and_stays_bounded(
        segs in proptest::collection::vec((any::<u32>(), any::<bool>(), proptest::collection::vec(any::<u8>(), 0..4096)), 1..40),
        acks in proptest::collection::vec((any::<u32>(), any::<u32>()), 0..10),
    ) {
        let limits = ReassemblyLimits { max_buffered: 8192, max_segments: 8, history: 64 };
        let mut s = TcpStream::new();
        let base = segs[0].0;
        for (i, (off, syn, data)) in segs.iter().enumerate() {
            // Mostly near the stream, sometimes anywhere.
            let seq = if i % 7 == 6 { *off } else { base.wrapping_add(off % 16384) };
            s.segment(seq, *syn, false, data, &limits, &mut |_| {});
            if let Some((a, w)) = acks.get(i) {
                let ack = base.wrapping_add(a % 32768);
                s.acknowledged(ack, &limits, &mut |_| {});
                s.window_update(ack, w >> (i % 32));
            }
            prop_assert!(s.memory() <= 8192 + 4096 + 64);
        }
        s.flush(&limits, &mut |_| {});
    }
}

// ---- Split anywhere: the same events however the stream is segmented.

/// Records every event as text: the transaction's EVE object, or the
/// anomaly's name.
#[derive(Default)]
struct Recorder(Vec<String>);

impl EventSink for Recorder {
    fn emit(&mut self, event: &Event<'_>) {
        let mut buf = Vec::new();
        let mut w = JsonWriter::new(&mut buf);
        w.begin_object();
        match (event.app, event.app.protocol_event()) {
            (AppEvent::Anomaly(a), _) => {
                w.field_str("anomaly", a.name);
            }
            (_, Some(tx)) => tx.write_eve(&mut w),
            (_, None) => {}
        }
        w.end_object();
        self.0.push(String::from_utf8_lossy(&buf).into_owned());
    }
}

/// Runs a conversation (messages in order, each with its direction) through
/// TCP reassembly and the dissector. Consecutive messages of one direction
/// form a run; each run is cut at the offsets in `cuts` (taken modulo the
/// run's length), and the pieces are sent as in-order segments.
fn run_segmented(
    dissector: &mut dyn StreamDissector,
    messages: &[(Direction, Vec<u8>)],
    cuts: &[usize],
) -> Vec<String> {
    let limits = ReassemblyLimits::default();
    let mut streams = [TcpStream::new(), TcpStream::new()];
    let mut held = [StreamBuffer::default(), StreamBuffer::default()];
    let mut seq = [1000u32, 5000u32];
    for (d, s) in streams.iter_mut().enumerate() {
        s.segment(
            seq[d].wrapping_sub(1),
            true,
            false,
            &[],
            &limits,
            &mut |_| {},
        );
    }
    let mut rec = Recorder::default();
    let mut runs: Vec<(Direction, Vec<u8>)> = Vec::new();
    for (dir, bytes) in messages {
        match runs.last_mut() {
            Some((d, run)) if d == dir => run.extend_from_slice(bytes),
            _ => runs.push((*dir, bytes.clone())),
        }
    }
    let mut cut_iter = cuts.iter().cycle();
    for (dir, run) in &runs {
        let d = dir.index();
        let mut points: Vec<usize> = (0..3)
            .filter_map(|_| cut_iter.next())
            .map(|c| if run.is_empty() { 0 } else { c % run.len() })
            .collect();
        if cuts.is_empty() {
            points.clear();
        }
        points.push(0);
        points.push(run.len());
        points.sort_unstable();
        points.dedup();
        for w in points.windows(2) {
            let piece = &run[w[0]..w[1]];
            let (stream, held) = (&mut streams[d], &mut held[d]);
            stream.segment(seq[d], false, false, piece, &limits, &mut |chunk| {
                if let otwatch_proto::reassembly::StreamChunk::Data(data) = chunk {
                    let mut cx = Context {
                        ts: Timestamp::new(1, 0),
                        sink: &mut rec,
                    };
                    let _ = held.feed(dissector, *dir, data, 70 * 1024, &mut cx);
                }
            });
            seq[d] = seq[d].wrapping_add(piece.len() as u32);
        }
    }
    let mut cx = Context {
        ts: Timestamp::new(2, 0),
        sink: &mut rec,
    };
    dissector.flush(&mut cx);
    rec.0
}

fn mbap(tid: u16, pdu: &[u8]) -> Vec<u8> {
    let mut v = tid.to_be_bytes().to_vec(); // transaction id
    v.extend_from_slice(&[0, 0]); // protocol id
    v.extend_from_slice(&((pdu.len() + 1) as u16).to_be_bytes()); // length
    v.push(1); // unit
    v.extend_from_slice(pdu);
    v
}

/// A Modbus exchange: (kind, tid, value) -> request and response.
fn modbus_exchange(kind: u8, tid: u16, value: u16) -> [(Direction, Vec<u8>); 2] {
    let v = value.to_be_bytes();
    let (req, resp): (Vec<u8>, Vec<u8>) = match kind % 4 {
        // read holding registers at `value`, quantity 2 -> two registers
        0 => (
            vec![3, v[0], v[1], 0, 2],
            vec![3, 4, v[0], v[1], v[1], v[0]],
        ),
        // write single register 7 = value -> echo
        1 => (vec![6, 0, 7, v[0], v[1]], vec![6, 0, 7, v[0], v[1]]),
        // write 2 registers at 10 -> address and quantity
        2 => (
            vec![16, 0, 10, 0, 2, 4, v[0], v[1], v[1], v[0]],
            vec![16, 0, 10, 0, 2],
        ),
        // read 10 coils at 0 -> 2 bytes of coils, or an exception
        _ if value % 2 == 0 => (vec![1, 0, 0, 0, 10], vec![1, 2, v[0], v[1] & 3]),
        _ => (vec![1, 0, 0, 0, 10], vec![0x81, 2]),
    };
    [
        (Direction::ToServer, mbap(tid, &req)),
        (Direction::ToClient, mbap(tid, &resp)),
    ]
}

fn tpkt_dt(s7: &[u8]) -> Vec<u8> {
    let mut v = vec![3, 0]; // TPKT version 3, reserved
    v.extend_from_slice(&((7 + s7.len()) as u16).to_be_bytes()); // length
    v.extend_from_slice(&[2, 0xf0, 0x80]); // COTP DT, last data unit
    v.extend_from_slice(s7);
    v
}

/// COTP CR and CC (TPDU size 1024, called TSAP rack 0 slot 2), setup
/// communication job and ack data.
fn s7_opening() -> Vec<(Direction, Vec<u8>)> {
    let cr = vec![
        3, 0, 0, 0x16, 0x11, 0xe0, 0, 0, 0, 1, 0, // TPKT, CR, refs, class 0
        0xc0, 1, 0x0a, 0xc1, 2, 1, 0, 0xc2, 2, 1, 2, // TPDU size, TSAPs
    ];
    let mut cc = cr.clone();
    cc[5] = 0xd0; // CC
    let setup = [0xf0, 0, 0, 1, 0, 1, 0x01, 0xe0]; // setup communication, PDU 480
    let mut job = vec![0x32, 1, 0, 0, 0, 0, 0, 8, 0, 0]; // job, ref 0, param 8, data 0
    job.extend_from_slice(&setup);
    let mut ack = vec![0x32, 3, 0, 0, 0, 0, 0, 8, 0, 0, 0, 0]; // ack data, no error
    ack.extend_from_slice(&setup);
    vec![
        (Direction::ToServer, cr),
        (Direction::ToClient, cc),
        (Direction::ToServer, tpkt_dt(&job)),
        (Direction::ToClient, tpkt_dt(&ack)),
    ]
}

/// Read var DB1 at byte `value` (4 bytes), PDU reference `pdu_ref`, and its
/// answer.
fn s7_read(pdu_ref: u16, value: u16) -> [(Direction, Vec<u8>); 2] {
    let r = pdu_ref.to_be_bytes();
    let bit = (u32::from(value) * 8).to_be_bytes();
    let mut job = vec![0x32, 1, 0, 0, r[0], r[1], 0, 14, 0, 0]; // job, param 14, data 0
    job.extend_from_slice(&[4, 1]); // read var, one item
    job.extend_from_slice(&[0x12, 0x0a, 0x10, 0x02, 0, 4, 0, 1, 0x84]); // any, byte x4, DB1
    job.extend_from_slice(&bit[1..]); // address in bits
    let mut ack = vec![0x32, 3, 0, 0, r[0], r[1], 0, 2, 0, 8, 0, 0]; // param 2, data 8
    ack.extend_from_slice(&[4, 1]); // read var, one item
    ack.extend_from_slice(&[0xff, 4, 0, 32]); // success, length in bits: 32
    ack.extend_from_slice(&[r[1], bit[3], 0x5a, 0xa5]); // data
    [
        (Direction::ToServer, tpkt_dt(&job)),
        (Direction::ToClient, tpkt_dt(&ack)),
    ]
}

/// A DNP3 link frame (CRCs included) carrying `user` data.
fn dnp3_frame(control: u8, dst: u16, src: u16, user: &[u8]) -> Vec<u8> {
    let mut head = vec![0x05, 0x64, (5 + user.len()) as u8, control]; // start, length, control
    head.extend_from_slice(&dst.to_le_bytes());
    head.extend_from_slice(&src.to_le_bytes());
    let mut v = head.clone();
    v.extend_from_slice(&crc(&head).to_le_bytes());
    for block in user.chunks(16) {
        v.extend_from_slice(block);
        v.extend_from_slice(&crc(block).to_le_bytes());
    }
    v
}

/// A DNP3 class 0 read (sequence `seq`) and a null response, or a
/// direct operate of analog output `value` and its echo.
fn dnp3_exchange(kind: u8, seq: u8, value: u16) -> [(Direction, Vec<u8>); 2] {
    let s = seq & 0x0f;
    let (req_app, resp_objects): (Vec<u8>, Vec<u8>) = if kind % 2 == 0 {
        (vec![0xc0 | s, 1, 0x3c, 1, 6], vec![]) // read g60v1 all
    } else {
        let v = value.to_le_bytes();
        let obj = vec![41, 2, 0x17, 1, 0, v[0], v[1], 0]; // g41v2, index 0, value, status
        let mut app = vec![0xc0 | s, 5]; // direct operate
        app.extend_from_slice(&obj);
        (app, obj)
    };
    let mut req = vec![0xc0 | (seq & 0x3f)]; // transport FIR, FIN, sequence
    req.extend_from_slice(&req_app);
    let mut resp = vec![0xc0 | (seq & 0x3f), 0xc0 | s, 129, 0, 0]; // response, IIN 0
    resp.extend_from_slice(&resp_objects);
    [
        (Direction::ToServer, dnp3_frame(0xc4, 1, 2, &req)),
        (Direction::ToClient, dnp3_frame(0x44, 2, 1, &resp)),
    ]
}

/// Conversations: exchanges in order, a few of them pipelined (requests
/// sent ahead of the responses).
fn conversation<F>(exchanges: &[(u8, u16)], pipelined: bool, make: F) -> Vec<(Direction, Vec<u8>)>
where
    F: Fn(usize, u8, u16) -> [(Direction, Vec<u8>); 2],
{
    let pairs: Vec<[(Direction, Vec<u8>); 2]> = exchanges
        .iter()
        .enumerate()
        .map(|(i, &(kind, value))| make(i, kind, value))
        .collect();
    if pipelined {
        let (reqs, resps): (Vec<_>, Vec<_>) = pairs.into_iter().map(|[a, b]| (a, b)).unzip();
        reqs.into_iter().chain(resps).collect()
    } else {
        pairs.into_iter().flatten().collect()
    }
}

/// An EtherNet/IP SendRRData carrying `cip` (session 1, context `context`).
fn enip_send(context: u64, cip: &[u8]) -> Vec<u8> {
    let mut data = vec![0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0xb2, 0];
    data.extend_from_slice(&(cip.len() as u16).to_le_bytes());
    data.extend_from_slice(cip);
    let mut m = vec![0x6f, 0];
    m.extend_from_slice(&(data.len() as u16).to_le_bytes());
    m.extend_from_slice(&1u32.to_le_bytes()); // session
    m.extend_from_slice(&0u32.to_le_bytes()); // status
    m.extend_from_slice(&context.to_le_bytes());
    m.extend_from_slice(&0u32.to_le_bytes()); // options
    m.extend_from_slice(&data);
    m
}

/// A Logix tag read (kind even) or write of `value`, and its reply.
fn enip_exchange(kind: u8, context: u64, value: u16) -> [(Direction, Vec<u8>); 2] {
    // Path: ANSI symbol "Tank" (0x91, length 4).
    let path = [0x91, 4, b'T', b'a', b'n', b'k'];
    let (req, resp) = if kind % 2 == 0 {
        let mut req = vec![0x4c, 3];
        req.extend_from_slice(&path);
        req.extend_from_slice(&[1, 0]);
        let mut resp = vec![0xcc, 0, 0, 0, 0xc3, 0];
        resp.extend_from_slice(&value.to_le_bytes());
        (req, resp)
    } else {
        let mut req = vec![0x4d, 3];
        req.extend_from_slice(&path);
        req.extend_from_slice(&[0xc3, 0, 1, 0]);
        req.extend_from_slice(&value.to_le_bytes());
        (req, vec![0xcd, 0, 0, 0])
    };
    [
        (Direction::ToServer, enip_send(context, &req)),
        (Direction::ToClient, enip_send(context, &resp)),
    ]
}

/// An IEC 104 set point (C_SE_NB_1, scaled `value`) activated by the
/// controlling station and confirmed, as the `i`-th exchange of a session.
fn iec104_exchange(i: u16, value: u16) -> [(Direction, Vec<u8>); 2] {
    let apdu = |send: u16, receive: u16, cause: u8| {
        let mut v = vec![0x68, 0x10];
        v.extend_from_slice(&(send << 1).to_le_bytes());
        v.extend_from_slice(&(receive << 1).to_le_bytes());
        // Type 49, one object, cause, originator 0, common address 1,
        // IOA 100, the value, QOS 0.
        v.extend_from_slice(&[49, 1, cause, 0, 1, 0, 100, 0, 0]);
        v.extend_from_slice(&value.to_le_bytes());
        v.push(0);
        v
    };
    [
        (Direction::ToServer, apdu(i, i, 6)),
        (Direction::ToClient, apdu(i, i + 1, 7)),
    ]
}

fn split_case() -> impl Strategy<Value = (Vec<(u8, u16)>, bool, Vec<usize>)> {
    (
        proptest::collection::vec((any::<u8>(), any::<u16>()), 1..8),
        any::<bool>(),
        proptest::collection::vec(any::<usize>(), 1..24),
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, .. ProptestConfig::default() })]

    #[test]
    fn modbus_events_do_not_depend_on_segmentation((ex, pipelined, cuts) in split_case()) {
        let msgs = conversation(&ex, pipelined, |i, k, v| modbus_exchange(k, i as u16 + 1, v));
        let whole = run_segmented(&mut ModbusDissector::default(), &msgs, &[]);
        let split = run_segmented(&mut ModbusDissector::default(), &msgs, &cuts);
        prop_assert_eq!(whole.len(), ex.len(), "{:?}", whole);
        prop_assert_eq!(whole, split);
    }

    #[test]
    fn s7comm_events_do_not_depend_on_segmentation((ex, pipelined, cuts) in split_case()) {
        let mut msgs = s7_opening();
        msgs.extend(conversation(&ex, pipelined, |i, _, v| s7_read(i as u16 + 1, v)));
        let whole = run_segmented(&mut S7Dissector::default(), &msgs, &[]);
        let split = run_segmented(&mut S7Dissector::default(), &msgs, &cuts);
        prop_assert_eq!(whole.len(), ex.len() + 1, "{:?}", whole);
        prop_assert!(!whole.iter().any(|e| e.contains("anomaly")), "{:?}", whole);
        prop_assert_eq!(whole, split);
    }

    #[test]
    fn dnp3_events_do_not_depend_on_segmentation((ex, _pipelined, cuts) in split_case()) {
        // DNP3 masters wait for each answer: no pipelining.
        let msgs = conversation(&ex, false, |i, k, v| dnp3_exchange(k, i as u8, v));
        let whole = run_segmented(&mut Dnp3Dissector::default(), &msgs, &[]);
        let split = run_segmented(&mut Dnp3Dissector::default(), &msgs, &cuts);
        prop_assert_eq!(whole.len(), ex.len(), "{:?}", whole);
        prop_assert_eq!(whole, split);
    }

    #[test]
    fn iec104_events_do_not_depend_on_segmentation((ex, _pipelined, cuts) in split_case()) {
        let msgs = conversation(&ex, false, |i, _, v| iec104_exchange(i as u16, v));
        let whole = run_segmented(&mut Iec104Dissector::default(), &msgs, &[]);
        let split = run_segmented(&mut Iec104Dissector::default(), &msgs, &cuts);
        prop_assert_eq!(whole.len(), 2 * ex.len(), "{:?}", whole);
        prop_assert!(!whole.iter().any(|e| e.contains("anomaly")), "{:?}", whole);
        prop_assert_eq!(whole, split);
    }

    #[test]
    fn enip_events_do_not_depend_on_segmentation((ex, pipelined, cuts) in split_case()) {
        let msgs = conversation(&ex, pipelined, |i, k, v| enip_exchange(k, i as u64 + 1, v));
        let whole = run_segmented(&mut EnipDissector::default(), &msgs, &[]);
        let split = run_segmented(&mut EnipDissector::default(), &msgs, &cuts);
        prop_assert_eq!(whole.len(), ex.len(), "{:?}", whole);
        prop_assert!(!whole.iter().any(|e| e.contains("anomaly")), "{:?}", whole);
        prop_assert_eq!(whole, split);
    }
}
