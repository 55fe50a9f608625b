//! Modbus PDU decoding: the first byte says request (even) or response (odd),
//! the rest is one PDU (or, for the pair check, a request and a response cut
//! at the byte the second byte names).
#![no_main]
use libfuzzer_sys::fuzz_target;
use otwatch_proto::modbus::pdu;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 3 {
        0 => {
            let _ = pdu::decode_request(rest);
        }
        1 => {
            let _ = pdu::decode_response(rest);
        }
        _ => {
            let Some((&cut, rest)) = rest.split_first() else {
                return;
            };
            let (request, response) = rest.split_at(usize::from(cut).min(rest.len()));
            let _ = pdu::function_of(request);
            let _ = pdu::check_pair(request, response);
        }
    }
});
