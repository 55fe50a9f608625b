//! IPv4 fragment reassembly: input records are
//! `[src][id][flags][offset: 2][len][payload…]` (src picks one of 256 sources,
//! flags bit 0 = more fragments, bit 1 = the clock moves 10 s); a completed
//! datagram is never longer than 65,535 bytes, and the reassembler never
//! holds more datagrams or bytes than its limits.
#![no_main]
use std::net::{IpAddr, Ipv4Addr};

use libfuzzer_sys::fuzz_target;
use otwatch_proto::event::Timestamp;
use otwatch_proto::ipfrag::{Defragmenter, FragLimits, FragOutcome};

fuzz_target!(|data: &[u8]| {
    let mut defrag = Defragmenter::new(FragLimits {
        max_datagrams: 8,
        max_bytes: 16 * 1024,
        timeout_secs: 30,
    });
    let dst = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
    let mut secs = 1_700_000_000;
    let mut rest = data;
    while rest.len() >= 6 {
        let src = IpAddr::V4(Ipv4Addr::new(10, 0, 1, rest[0]));
        let id = u32::from(rest[1]);
        let flags = rest[2];
        // Offsets count 8-byte units, as on the wire.
        let offset = u32::from(u16::from_be_bytes([rest[3], rest[4]]) & 0x1fff) * 8;
        let len = usize::from(rest[5]).min(rest.len() - 6);
        let payload = &rest[6..6 + len];
        rest = &rest[6 + len..];
        if flags & 2 != 0 {
            secs += 10;
        }
        let outcome = defrag.add(
            Timestamp::new(secs, 0),
            src,
            dst,
            17,
            id,
            offset,
            flags & 1 != 0,
            payload,
        );
        match outcome {
            FragOutcome::Complete(datagram) | FragOutcome::CompleteOverlapMismatch(datagram) => {
                assert!(datagram.len() <= 65_535);
            }
            FragOutcome::Held
            | FragOutcome::OverlapMismatch
            | FragOutcome::TooLarge
            | FragOutcome::Refused => {}
        }
        // Within the limits whatever arrived.
        assert!(defrag.pending() <= 8, "{} datagrams held", defrag.pending());
        assert!(
            defrag.held_bytes() <= 16 * 1024,
            "{} bytes held",
            defrag.held_bytes()
        );
    }
});
