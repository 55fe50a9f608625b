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
#[ignore = "needs the public capture corpus: OTWATCH_PCAP_CORPUS (scripts/test runs it)"]
fn every_protocol_shows_its_spec_on_real_captures() {
    // protocol -> summary fields seen, and EVE objects seen
    let mut fields: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    let mut objects: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut counted: BTreeSet<String> = BTreeSet::new();
    let mut captures: Vec<std::path::PathBuf> =
        BUNDLED.iter().map(|n| common::project_pcap(n)).collect();
    // S7comm-plus comes from a real TIA Portal session in the public corpus
    // (the bundled S7 captures are classic S7comm).
    let corpus = common::corpus();
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

/// Every flow-bound line of a TCP or UDP flow carries the flow's Community
/// ID, and it is the one the reference implementation (Python
/// `communityid`, installed by tests/peers/install.sh) computes for the
/// line's addresses and ports.
#[test]
fn community_id_matches_the_reference_implementation() {
    // (src, sport, dst, dport, proto) -> community_id, from every line.
    let mut seen: BTreeMap<(String, u64, String, u64, String), String> = BTreeMap::new();
    for name in [
        "modbus_pymodbus_polling.pcap",
        "dnp3_dnp3py.pcap",
        "synth_enip.pcap",
        "iec104_attack_rogue.pcap",
        "synth_evasion.pcap",
        "synth_recon.pcap",
        "recon_nmap_vertical_modbus_s7.pcap",
    ] {
        let (lines, _) = common::replay_eve(&common::project_pcap(name));
        for e in &lines {
            if e.get("flow_id").is_none() || !matches!(e["proto"].as_str(), Some("TCP" | "UDP")) {
                continue;
            }
            let cid = e["community_id"]
                .as_str()
                .unwrap_or_else(|| panic!("{name}: no community_id in {e}"));
            let key = (
                e["src_ip"].as_str().unwrap_or("").to_owned(),
                e["src_port"].as_u64().unwrap_or(0),
                e["dest_ip"].as_str().unwrap_or("").to_owned(),
                e["dest_port"].as_u64().unwrap_or(0),
                e["proto"].as_str().unwrap_or("").to_owned(),
            );
            let known = seen.entry(key).or_insert_with(|| cid.to_owned());
            assert_eq!(known, cid, "{name}: one flow, one community_id");
        }
    }
    assert!(seen.len() > 20, "{} tuples", seen.len());
    assert!(seen.keys().any(|k| k.4 == "UDP"), "UDP flows too");
    let tuples: Vec<String> = seen
        .keys()
        .map(|(s, sp, d, dp, p)| format!("{p} {s} {sp} {d} {dp}"))
        .collect();
    let script = "import sys, communityid\n\
        c = communityid.CommunityID()\n\
        for line in sys.stdin:\n\
        \x20   p, s, sp, d, dp = line.split()\n\
        \x20   make = communityid.FlowTuple.make_tcp if p == 'TCP' else communityid.FlowTuple.make_udp\n\
        \x20   print(c.calc(make(s, d, int(sp), int(dp))))\n";
    let mut child = std::process::Command::new("python3")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 (tests/peers/install.sh)");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin
            .write_all(tuples.join("\n").as_bytes())
            .expect("write tuples");
    }
    let out = child.wait_with_output().expect("python3 ran");
    assert!(
        out.status.success(),
        "the reference implementation is missing: run tests/peers/install.sh (pip communityid)"
    );
    let reference: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    let ours: Vec<&String> = seen.values().collect();
    assert_eq!(reference.len(), ours.len());
    for ((tuple, r), o) in tuples.iter().zip(&reference).zip(ours) {
        assert_eq!(r, o, "{tuple}");
    }
}
