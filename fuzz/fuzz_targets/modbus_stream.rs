//! Modbus/TCP over a reassembled stream: MBAP framing, resynchronisation,
//! PDU decoding and request/response pairing.
#![no_main]
use libfuzzer_sys::fuzz_target;
use otwatch_proto::modbus::ModbusDissector;

fuzz_target!(|data: &[u8]| {
    otwatch_fuzz::feed_stream(&mut ModbusDissector::default(), data);
});
