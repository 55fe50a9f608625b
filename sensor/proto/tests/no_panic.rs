//! Property tests: arbitrary bytes never make a decoder or dissector panic,
//! and a dissector always makes progress (never holds more than its bound).

use otwatch_proto::dnp3::Dnp3Dissector;
use otwatch_proto::event::{
    Context, CountingSink, DatagramDissector, Direction, StreamDissector, Timestamp,
};
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
    ];
    (
        proptest::sample::select(seeds),
        proptest::collection::vec(any::<u8>(), 0..300),
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
    #![proptest_config(ProptestConfig { cases: 2000, .. ProptestConfig::default() })]

    #[test]
    fn wire_decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200), lt in 0usize..8) {
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
    fn reassembly_never_panics_and_stays_bounded(
        segs in proptest::collection::vec((any::<u32>(), any::<bool>(), proptest::collection::vec(any::<u8>(), 0..64)), 1..40),
        acks in proptest::collection::vec(any::<u32>(), 0..10),
    ) {
        let limits = ReassemblyLimits { max_buffered: 512, max_segments: 8, history: 64 };
        let mut s = TcpStream::new();
        let base = segs[0].0;
        for (i, (off, syn, data)) in segs.iter().enumerate() {
            // Mostly near the stream, sometimes anywhere.
            let seq = if i % 7 == 6 { *off } else { base.wrapping_add(off % 2048) };
            s.segment(seq, *syn, false, data, &limits, &mut |_| {});
            if let Some(a) = acks.get(i) {
                s.acknowledged(base.wrapping_add(a % 4096), &limits, &mut |_| {});
            }
            prop_assert!(s.memory() <= 512 + 64 + 64);
        }
        s.flush(&limits, &mut |_| {});
    }
}
