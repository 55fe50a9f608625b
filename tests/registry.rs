//! The protocol registry against real traffic: every protocol it lists is
//! found on the bundled captures, its events carry
//! only the EVE objects its spec names, every summary field the UI shows
//! exists in them, and the counters go under its name.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use otwatch_proto::ProtocolId;
use serde_json::Value;

/// The value at a dotted path (`modbus.request.function`).
fn at<'v>(event: &'v Value, path: &str) -> Option<&'v Value> {
    path.split('.').try_fold(event, |v, key| v.get(key))
}

/// Bundled captures with each protocol's traffic.
const BUNDLED: [&str; 10] = [
    "modbus_pymodbus_polling.pcap",
    "modbus_attack_rogue_write.pcap",
    "s7comm_snap7.pcap",
    "synth_s7comm_download.pcap",
    "dnp3_dnp3py.pcap",
    "synth_dnp3_misc.pcap",
    "synth_enip.pcap",
    "enip_pycomm3_cpppo.pcap",
    "synth_iec104.pcap",
    "iec104_c104_control.pcap",
];

#[test]
fn every_protocol_shows_its_spec_on_real_captures() {
    // protocol -> summary fields seen, and EVE objects seen
    let mut fields: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    let mut objects: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut counted: BTreeSet<String> = BTreeSet::new();
    let mut captures: Vec<std::path::PathBuf> =
        BUNDLED.iter().map(|n| common::project_pcap(n)).collect();
    // S7comm-plus comes from a real TIA Portal session in the public corpus
    // (the bundled S7 captures are classic S7comm).
    let corpus = common::corpus().expect("OTWATCH_PCAP_CORPUS: the S7comm-plus capture is there");
    captures.push(corpus.join("s7commplus/s7_1200_hmi.pcap"));
    for path in &captures {
        let name = path.display();
        let (lines, report) = common::replay_eve(path);
        counted.extend(report.stats.app.keys().map(|k| k.to_string()));
        for event in &lines {
            let Some(kind) = event["event_type"].as_str() else {
                continue;
            };
            let Some(id) = ProtocolId::from_name(kind) else {
                continue;
            };
            let spec = id.spec();
            assert_eq!(event["app_proto"], spec.name, "{name}: {event}");
            let carried: Vec<&String> = event
                .as_object()
                .expect("an object")
                .keys()
                .filter(|k| spec.eve_objects.contains(&k.as_str()))
                .collect();
            assert_eq!(carried.len(), 1, "{name}: one {kind} object in {event}");
            objects
                .entry(spec.name.to_string())
                .or_default()
                .insert(carried[0].clone());
            for field in spec.summary_fields {
                if at(event, field).is_some() {
                    fields.entry(spec.name).or_default().insert(field);
                }
            }
        }
    }
    for id in ProtocolId::ALL {
        let spec = id.spec();
        assert!(
            counted.contains(spec.name),
            "{}: no counters under its name",
            spec.name
        );
        let seen = fields.get(spec.name).cloned().unwrap_or_default();
        let declared: BTreeSet<&str> = spec.summary_fields.iter().copied().collect();
        assert_eq!(
            seen, declared,
            "{}: summary fields never present in its events",
            spec.name
        );
        let seen = objects.get(spec.name).cloned().unwrap_or_default();
        let declared: BTreeSet<String> = spec.eve_objects.iter().map(|s| s.to_string()).collect();
        assert_eq!(
            seen, declared,
            "{}: EVE objects declared but never written",
            spec.name
        );
    }
}
