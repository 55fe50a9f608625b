//! The whole chain as a sensor runs it: Ethernet frames → decode → flows →
//! reassembly → dissectors → the bundled rules → asset tracking → EVE JSON.
//! Every line written must be one valid JSON object, whatever the packets
//! carried.
#![no_main]
use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use otwatch_proto::event::Timestamp;
use otwatch_proto::wire::LinkType;
use otwatch_rules::Ruleset;
use otwatch_sensor::assets::{AssetLimits, Tracked};
use otwatch_sensor::capture::Frame;
use otwatch_sensor::detect::Detect;
use otwatch_sensor::eve::{EveWriter, EventFilter};
use otwatch_sensor::pipeline::{Pipeline, PipelineConfig};

fn rules() -> Arc<Ruleset> {
    static RULES: OnceLock<Arc<Ruleset>> = OnceLock::new();
    RULES
        .get_or_init(|| Arc::new(Ruleset::bundled().expect("the bundled rules compile")))
        .clone()
}

fuzz_target!(|data: &[u8]| {
    let eve = EveWriter::new(Vec::new(), EventFilter::all());
    let detect = Detect::with_run_id(rules(), Tracked::new(eve, AssetLimits::default()), 1);
    let mut pipeline = Pipeline::new(PipelineConfig::default(), detect);
    let mut ts = Timestamp::new(1_700_000_000, 0);
    for frame in otwatch_fuzz::frames(data) {
        ts = Timestamp::new(ts.secs, ts.nanos + 1_000_000);
        pipeline.packet(Frame {
            ts,
            link_type: LinkType::Ethernet,
            data: frame,
            wire_len: frame.len() as u32,
        });
    }
    let (detect, stats) = pipeline.finish();
    let Tracked {
        assets,
        inner: mut eve,
    } = detect.into_inner();
    assets.write_eve(&mut eve);
    eve.stats(ts, &stats, 0.0);
    otwatch_fuzz::assert_json_lines(&eve.into_inner());
});
