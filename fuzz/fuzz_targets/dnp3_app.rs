//! The DNP3 application layer on its own: the header, then the object area
//! (with and without data), every header and point iterated.
#![no_main]
use libfuzzer_sys::fuzz_target;
use otwatch_proto::dnp3::{app, objects};

fuzz_target!(|data: &[u8]| {
    let Ok((_header, rest)) = app::read_header(data) else {
        return;
    };
    for with_data in [false, true] {
        let (objs, _error) = objects::parse(rest, with_data, objects::ObjectLimits::default());
        for header in objs.iter() {
            let _ = header.count();
            let _ = header.start_stop();
            for point in header.points() {
                let _ = format!("{point:?}");
            }
        }
    }
});
