//! DNP3 over a reassembled stream and as UDP datagrams: link framing with
//! CRCs, transport reassembly, application decoding, pairing. Random bytes
//! almost never carry valid CRCs, so unless the input's first byte is odd the
//! harness first rewrites every link frame's CRCs to match, which lets the
//! fuzzer reach the transport and application layers.
#![no_main]
use libfuzzer_sys::fuzz_target;
use otwatch_proto::dnp3::link;
use otwatch_proto::dnp3::Dnp3Dissector;

/// Rewrites the header and block CRCs of every `05 64` frame in place.
fn fix_crcs(bytes: &mut [u8]) {
    let mut i = 0;
    while i + 10 <= bytes.len() {
        if bytes[i] != 0x05 || bytes[i + 1] != 0x64 {
            i += 1;
            continue;
        }
        let crc = link::crc(&bytes[i..i + 8]).to_le_bytes();
        bytes[i + 8..i + 10].copy_from_slice(&crc);
        // LEN counts control, addresses and user data (5 + data bytes).
        let mut data = usize::from(bytes[i + 2]).saturating_sub(5);
        let mut at = i + 10;
        while data > 0 && at < bytes.len() {
            let n = data.min(16);
            if at + n + 2 > bytes.len() {
                break;
            }
            let crc = link::crc(&bytes[at..at + n]).to_le_bytes();
            bytes[at + n..at + n + 2].copy_from_slice(&crc);
            at += n + 2;
            data -= n;
        }
        i = at;
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let mut input = rest.to_vec();
    if mode & 1 == 0 {
        // Fix CRCs inside each chunk's bytes (a frame split across chunks
        // keeps whatever CRC it has).
        let mut at = 0;
        while at < input.len() {
            let len = usize::from(input[at] & 0x7f);
            let start = at + 1;
            let end = (start + len).min(input.len());
            fix_crcs(&mut input[start..end]);
            at = end.max(start);
        }
    }
    if mode & 2 == 0 {
        otwatch_fuzz::feed_stream(&mut Dnp3Dissector::default(), &input);
    } else {
        otwatch_fuzz::feed_datagrams(&mut Dnp3Dissector::default(), &input);
    }
});
