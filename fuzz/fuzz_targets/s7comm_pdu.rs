//! The S7 layer parsers on their own: COTP TPDUs and parameters, S7comm and
//! S7comm-plus PDUs, SZL answers, block ids and info, S7 times.
#![no_main]
use libfuzzer_sys::fuzz_target;
use otwatch_proto::s7comm::{cotp, plus, s7, szl};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let continuation = mode & 0x80 != 0;
    match mode % 8 {
        0 => {
            let _ = cotp::Tpdu::parse(rest);
        }
        1 => {
            let _ = cotp::Params::parse(rest);
        }
        2 => {
            let _ = s7::Pdu::parse(rest, continuation);
        }
        3 => {
            let _ = plus::Pdu::parse(rest, continuation);
        }
        4 => {
            let _ = szl::SzlResponse::parse(rest);
        }
        5 => {
            let _ = s7::BlockId::parse(rest);
        }
        6 => {
            let _ = s7::BlockInfo::parse(rest);
        }
        _ => {
            let _ = s7::S7Time::parse(rest);
        }
    }
});
