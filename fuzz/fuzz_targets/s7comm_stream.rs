//! ISO-on-TCP over a reassembled stream: TPKT framing, COTP, S7comm and
//! S7comm-plus decoding, job/ack pairing, multi-part SZL stitching.
#![no_main]
use libfuzzer_sys::fuzz_target;
use otwatch_proto::s7comm::S7Dissector;

fuzz_target!(|data: &[u8]| {
    otwatch_fuzz::feed_stream(&mut S7Dissector::default(), data);
});
