//! The analyzer's ingest parser on arbitrary request bodies: NDJSON batches
//! from sensors are accepted whole or refused with every bad line named.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    otwatch_analyzer::fuzzing::parse_batch(data);
});
