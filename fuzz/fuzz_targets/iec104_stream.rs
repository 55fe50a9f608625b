//! IEC 60870-5-104 over a reassembled stream: APCI framing and
//! resynchronisation, ASDU decoding with every element type, the session's
//! sequence-number checks and command pairing.
#![no_main]
use libfuzzer_sys::fuzz_target;
use otwatch_proto::iec104::Iec104Dissector;

fuzz_target!(|data: &[u8]| {
    otwatch_fuzz::feed_stream(&mut Iec104Dissector::default(), data);
});
