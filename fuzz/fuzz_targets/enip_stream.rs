//! EtherNet/IP over a reassembled stream and as UDP datagrams: encapsulation
//! framing and resynchronisation, Common Packet Format items, CIP messages
//! with their paths and embedded requests, session checks, pairing by
//! sender context and sequence count, implicit I/O counting. The input's
//! first byte chooses: even, a TCP stream; odd, datagrams.
#![no_main]
use libfuzzer_sys::fuzz_target;
use otwatch_proto::enip::EnipDissector;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode & 1 == 0 {
        otwatch_fuzz::feed_stream(&mut EnipDissector::default(), rest);
    } else {
        otwatch_fuzz::feed_datagrams(&mut EnipDissector::default(), rest);
    }
});
