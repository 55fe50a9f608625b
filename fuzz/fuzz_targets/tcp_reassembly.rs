//! TCP reassembly of one direction, with the peer's acknowledgements: input
//! records are `[flags][seq: 4][ack: 4][len][payload…]`; flags bit 0 = SYN,
//! bit 1 = FIN, bit 2 = an ACK from the peer comes with it, bit 3 = the
//! sequence number is absolute (else an offset from the first one), bit 4 =
//! the peer's ACK also updates its receive window (bits 5-7 pick its size,
//! 1 KiB shifted by 0-7 × 2). Checks
//! that memory stays within the limits and delivered bytes never exceed the
//! bytes offered.
#![no_main]
use libfuzzer_sys::fuzz_target;
use otwatch_proto::reassembly::{ReassemblyLimits, StreamChunk, TcpStream};

fuzz_target!(|data: &[u8]| {
    let limits = ReassemblyLimits {
        max_buffered: 4096,
        max_segments: 16,
        history: 512,
    };
    let mut stream = TcpStream::new();
    let mut rest = data;
    let mut base: Option<u32> = None;
    let mut offered = 0u64;
    let mut delivered = 0u64;
    let mut count = |c: StreamChunk<'_>| {
        if let StreamChunk::Data(d) = c {
            delivered += d.len() as u64;
        }
    };
    while rest.len() >= 10 {
        let flags = rest[0];
        let seq = u32::from_be_bytes([rest[1], rest[2], rest[3], rest[4]]);
        let ack = u32::from_be_bytes([rest[5], rest[6], rest[7], rest[8]]);
        let len = usize::from(rest[9]).min(rest.len() - 10);
        let payload = &rest[10..10 + len];
        rest = &rest[10 + len..];
        let first = *base.get_or_insert(seq);
        let seq = if flags & 8 != 0 {
            seq
        } else {
            first.wrapping_add(seq % 65_536)
        };
        let ack = if flags & 8 != 0 {
            ack
        } else {
            first.wrapping_add(ack % 65_536)
        };
        offered += payload.len() as u64;
        stream.segment(
            seq,
            flags & 1 != 0,
            flags & 2 != 0,
            payload,
            &limits,
            &mut count,
        );
        if flags & 16 != 0 {
            stream.window_update(ack, 1024 << (u32::from(flags >> 5) * 2));
        }
        if flags & 4 != 0 {
            stream.acknowledged(ack, &limits, &mut count);
        }
        assert!(stream.memory() <= limits.max_buffered + limits.history + 1024);
    }
    stream.flush(&limits, &mut count);
    assert!(
        delivered <= offered,
        "delivered {delivered} of {offered} bytes offered"
    );
});
