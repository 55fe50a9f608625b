//! The plant-traffic generator (`otwatch generate`): deterministic output,
//! decoded cleanly by tshark and by otwatch itself, with PDU counts that
//! agree with the generator's, no anomaly and no alert on the benign plant,
//! and every injected attack raising the bundled rules its ground truth
//! names.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use otwatch_sensor::plant::{generate, Class, PlantConfig, PlantReport};
use serde_json::Value;

/// Frames per generated capture: about 45 s of plant traffic, a fraction of
/// a second to generate and replay.
const PACKETS: u64 = 70_000;

fn config(seed: u64, attacks: bool) -> PlantConfig {
    PlantConfig {
        seed,
        packets: PACKETS,
        concurrent_flows: 0,
        attacks,
        day: 0,
    }
}

fn generate_to(path: &Path, config: &PlantConfig, truth: Option<&mut Vec<u8>>) -> PlantReport {
    let file = std::fs::File::create(path).expect("create capture");
    let truth = truth.map(|t| t as &mut dyn std::io::Write);
    generate(config, file, truth).expect("generate")
}

fn in_memory(config: &PlantConfig) -> Vec<u8> {
    let mut bytes = Vec::new();
    generate(config, &mut bytes, None).expect("generate");
    bytes
}

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    let a = in_memory(&config(1, true));
    let b = in_memory(&config(1, true));
    let c = in_memory(&config(2, true));
    assert_eq!(a.len(), b.len());
    assert!(a == b, "the same seed must give byte-identical captures");
    assert!(a != c, "another seed must give another capture");
    // 24-byte file header, then exactly PACKETS records.
    let mut at = 24;
    let mut records = 0u64;
    let mut last = (0u32, 0u32);
    while at < a.len() {
        let secs = u32::from_le_bytes(a[at..at + 4].try_into().expect("4 bytes"));
        let micros = u32::from_le_bytes(a[at + 4..at + 8].try_into().expect("4 bytes"));
        let len = u32::from_le_bytes(a[at + 8..at + 12].try_into().expect("4 bytes")) as usize;
        assert!((secs, micros) >= last, "timestamps are monotonic");
        assert!(micros < 1_000_000);
        last = (secs, micros);
        at += 16 + len;
        records += 1;
    }
    assert_eq!(at, a.len());
    assert_eq!(records, PACKETS);
}

#[test]
fn shares_are_close_to_a_plant() {
    let bytes = Vec::new();
    let report = generate(&config(1, false), bytes, None).expect("generate");
    let share = |c: Class| 100.0 * report.class(c).packets as f64 / report.packets as f64;
    let it = share(Class::Tls) + share(Class::Http) + share(Class::Dns);
    let vlan = 100.0 * report.vlan_packets as f64 / report.packets as f64;
    eprintln!("{}", report.summary());
    // Aimed at modbus 42 %, s7comm 14 %, dnp3 14 %, enip 9 %, iec104 5 %,
    // IT 17 %, VLAN 25 %, mean frame 200 bytes; a short capture drifts a
    // little from those.
    assert!(
        (40.0..52.0).contains(&share(Class::Modbus)),
        "modbus {}",
        share(Class::Modbus)
    );
    assert!(
        (11.0..19.0).contains(&share(Class::S7comm)),
        "s7comm {}",
        share(Class::S7comm)
    );
    assert!(
        (11.0..19.0).contains(&share(Class::Dnp3)),
        "dnp3 {}",
        share(Class::Dnp3)
    );
    assert!(
        (6.0..14.0).contains(&share(Class::Enip)),
        "enip {}",
        share(Class::Enip)
    );
    assert!(
        (2.5..8.0).contains(&share(Class::Iec104)),
        "iec104 {}",
        share(Class::Iec104)
    );
    assert!((14.0..24.0).contains(&it), "it {it}");
    assert!((21.0..32.0).contains(&vlan), "vlan {vlan}");
    assert!(
        (170.0..240.0).contains(&report.mean_frame()),
        "mean {}",
        report.mean_frame()
    );
    assert_eq!(report.packets, PACKETS);
}

#[test]
fn tshark_finds_no_malformed_frame_and_no_error() {
    if Command::new("tshark").arg("-v").output().is_err() {
        eprintln!("tshark is not installed: test skipped (tests/peers/install.sh installs it)");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("plant.pcap");
    generate_to(&path, &config(3, false), None);
    let file = path.to_str().expect("utf-8 path");
    let malformed = common::tshark(&[
        "-n",
        "-r",
        file,
        "-Y",
        "_ws.malformed",
        "-T",
        "fields",
        "-e",
        "frame.number",
    ]);
    assert_eq!(
        malformed.lines().count(),
        0,
        "malformed frames: {malformed}"
    );
    let errors = common::tshark(&["-n", "-r", file, "-q", "-z", "expert,error"]);
    assert!(
        !errors.contains("Errors ("),
        "tshark expert errors:\n{errors}"
    );
    // tshark decodes every protocol it should.
    let counts = common::tshark(&["-n", "-r", file, "-q", "-z", "io,phs"]);
    for proto in [
        "mbtcp",
        "s7comm",
        "dnp3",
        "tls",
        "http",
        "dns",
        "cotp",
        "iec60870_104",
        "iec60870_asdu",
    ] {
        assert!(
            counts.contains(proto),
            "tshark decoded no {proto}:\n{counts}"
        );
    }
    // The same IEC 104 ASDUs, type by type, as tshark.
    let replayed = common::replay_file(&path);
    let skip = common::retransmitted_frames(&path);
    let ours = common::our_prefixed_counts(&replayed, "iec104", "");
    let theirs = common::tshark_field_counts(&path, "iec60870_asdu", "iec60870_asdu.typeid", &skip);
    assert!(!ours.is_empty());
    assert_eq!(ours, theirs, "IEC 104 ASDUs per type id: otwatch, tshark");
}

/// The plant's engineering station, which reads the PLCs' module
/// identification in turn all day (sensor/src/plant/s7comm.rs).
const ENGINEERING_STATION: &str = "10.10.1.50";

/// The plant's SCADA front-ends, the control centres of its substations
/// (sensor/src/plant/iec104.rs).
const CONTROL_CENTRES: &str = "10.10.1.40, 10.10.1.41";

/// The bundled rules as this site configures them: a copy of
/// rules/default in `dir` whose vars.yaml names the engineering station
/// and the IEC 104 control centres, as the file asks a site to do.
fn site_rules(dir: &Path) -> std::path::PathBuf {
    let out = dir.join("site-rules");
    std::fs::create_dir_all(&out).expect("mkdir");
    let default = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/default");
    for entry in std::fs::read_dir(&default).expect("rules/default") {
        let path = entry.expect("entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
            continue;
        }
        let mut text = std::fs::read_to_string(&path).expect("read rule file");
        if path.file_name().and_then(|n| n.to_str()) == Some("vars.yaml") {
            for (var, hosts) in [
                ("engineering_stations", ENGINEERING_STATION),
                ("iec104_control_centres", CONTROL_CENTRES),
            ] {
                let empty = format!("  {var}: []");
                assert!(text.contains(&empty), "vars.yaml declares {var}");
                text = text.replace(&empty, &format!("  {var}: [{hosts}]"));
            }
        }
        std::fs::write(out.join(path.file_name().expect("name")), text).expect("write");
    }
    out
}

/// Runs `otwatch replay` with the rules in `rules` (the bundled ones when
/// `None`) and returns the EVE lines.
fn replay_eve_with(path: &Path, events: &str, rules: Option<&Path>) -> Vec<Value> {
    let eve = path.with_extension("eve.json");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_otwatch"));
    cmd.args(["replay", "--events", events, "--eve"]).arg(&eve);
    if let Some(rules) = rules {
        cmd.arg("--rules").arg(rules);
    }
    let out = cmd.arg(path).output().expect("run otwatch replay");
    assert!(
        out.status.success(),
        "otwatch replay failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read_to_string(&eve)
        .expect("read EVE")
        .lines()
        .map(|l| serde_json::from_str(l).expect("EVE line is JSON"))
        .collect()
}

fn replay_eve(path: &Path, events: &str) -> Vec<Value> {
    replay_eve_with(path, events, None)
}

#[test]
fn otwatch_decodes_the_benign_plant_with_no_anomaly_and_no_alert() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("plant.pcap");
    let report = generate_to(&path, &config(4, false), None);
    let replayed = common::replay_file(&path);
    assert_eq!(replayed.stats.packets, PACKETS);
    assert_eq!(
        replayed.stats.anomalies,
        Default::default(),
        "anomalies on benign traffic"
    );
    assert_eq!(replayed.stats.checksum.bad, 0, "every checksum is right");
    for class in Class::OT {
        let ours = report.class(class);
        let app = replayed
            .stats
            .app
            .get(class.name())
            .unwrap_or_else(|| panic!("otwatch saw no {}", class.name()));
        // Retransmitted copies are not counted by either side; a PDU is
        // counted once, by the frame that completes it.
        assert_eq!(
            (app.requests, app.responses),
            (ours.requests, ours.responses),
            "{} requests and responses",
            class.name()
        );
        // IEC 104 stations send far more than they are asked (periodic and
        // spontaneous data): counted by what the stations send.
        let (count, what) = match class {
            Class::Iec104 => (ours.responses, "responses"),
            _ => (ours.requests, "requests"),
        };
        assert!(count > 1000, "{} {what} {count}", class.name());
    }
    // The plant has a misconfigured poller: the second SCADA master asks the
    // second gateway for registers its last unit lacks, and is refused at
    // every cycle. The rules must see it (one address) as no scan.
    let refused = replay_eve(&path, "modbus")
        .into_iter()
        .filter(|e| {
            e["src_ip"] == "10.10.1.11"
                && e["dest_ip"] == "10.10.3.2"
                && e["modbus"]["response"]["exception"]["code"] == 2
        })
        .count();
    assert!(
        refused >= 30,
        "{refused} refused polls of the misconfigured poller"
    );
    // Configured as the site's vars.yaml asks, the rules are silent.
    let rules = site_rules(dir.path());
    let alerts: Vec<Value> = replay_eve_with(&path, "alert", Some(&rules))
        .into_iter()
        .filter(|e| e["event_type"] == "alert")
        .collect();
    assert!(alerts.is_empty(), "alerts on benign traffic: {alerts:#?}");
    // Unconfigured, the engineering station's identification reads are
    // flagged (low severity, once per PLC and hour) and nothing else is.
    let unconfigured: Vec<Value> = replay_eve(&path, "alert")
        .into_iter()
        .filter(|e| e["event_type"] == "alert")
        .collect();
    assert!(!unconfigured.is_empty());
    for a in &unconfigured {
        assert_eq!(
            (a["alert"]["signature_id"].as_u64(), a["src_ip"].as_str()),
            (Some(120_016), Some(ENGINEERING_STATION)),
            "{a:#}"
        );
    }
}

#[test]
fn every_attack_raises_the_rules_its_ground_truth_names() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("attacks.pcap");
    let mut truth = Vec::new();
    let report = generate_to(&path, &config(5, true), Some(&mut truth));
    let truth: Vec<Value> = String::from_utf8(truth)
        .expect("utf-8")
        .lines()
        .map(|l| serde_json::from_str(l).expect("truth line is JSON"))
        .collect();
    assert_eq!(truth.len(), 12, "twelve attacks spread through the capture");
    assert_eq!(report.attacks.len(), truth.len());
    let rules = site_rules(dir.path());
    let alerts: Vec<Value> = replay_eve_with(&path, "alert", Some(&rules))
        .into_iter()
        .filter(|e| e["event_type"] == "alert")
        .collect();
    let mut explained = BTreeSet::new();
    for t in &truth {
        let src_ip = t["src"]
            .as_str()
            .and_then(|s| s.split(':').next())
            .expect("src");
        let ids: Vec<u64> = t["rule_ids"]
            .as_array()
            .expect("rule_ids")
            .iter()
            .filter_map(Value::as_u64)
            .collect();
        if ids.is_empty() {
            assert_eq!(t["detection"], "baseline");
            eprintln!(
                "baseline only (no bundled rule): {} from {src_ip}",
                t["kind"]
            );
            continue;
        }
        for id in ids {
            let found = alerts.iter().position(|a| {
                a["alert"]["signature_id"].as_u64() == Some(id) && a["src_ip"] == src_ip
            });
            let i = found
                .unwrap_or_else(|| panic!("{} did not raise rule {id}: {alerts:#?}", t["kind"]));
            explained.insert(i);
        }
    }
    // Nothing else fired.
    let unexplained: Vec<&Value> = alerts
        .iter()
        .enumerate()
        .filter(|(i, _)| !explained.contains(i))
        .map(|(_, a)| a)
        .collect();
    assert!(
        unexplained.is_empty(),
        "alerts no attack explains: {unexplained:#?}"
    );
}

#[test]
fn cli_writes_capture_summary_and_truth() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pcap = dir.path().join("cli.pcap");
    let truth = dir.path().join("truth.jsonl");
    let out = Command::new(env!("CARGO_BIN_EXE_otwatch"))
        .args([
            "generate",
            "--seed",
            "7",
            "--packets",
            "20000",
            "--attacks",
            "--truth",
        ])
        .arg(&truth)
        .arg("-o")
        .arg(&pcap)
        .output()
        .expect("run otwatch generate");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary = String::from_utf8_lossy(&out.stderr);
    assert!(summary.starts_with("20000 packets, "), "summary: {summary}");
    for word in [
        "mean frame",
        "modbus",
        "s7comm",
        "dnp3",
        "enip",
        "iec104",
        "vlan",
        "flows",
    ] {
        assert!(summary.contains(word), "summary lacks {word}: {summary}");
    }
    let library = in_memory(&PlantConfig {
        seed: 7,
        packets: 20_000,
        concurrent_flows: 0,
        attacks: true,
        day: 0,
    });
    assert!(
        std::fs::read(&pcap).expect("capture") == library,
        "CLI and library agree"
    );
    let lines = std::fs::read_to_string(&truth).expect("truth");
    assert_eq!(lines.lines().count(), 12);
    // `-` writes the capture to standard output.
    let out = Command::new(env!("CARGO_BIN_EXE_otwatch"))
        .args(["generate", "--packets", "500", "-o", "-"])
        .output()
        .expect("run otwatch generate");
    assert!(out.status.success());
    assert_eq!(&out.stdout[..4], &[0xd4, 0xc3, 0xb2, 0xa1]);
}

#[test]
fn concurrent_flows_are_open_at_the_same_time() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("concurrent.pcap");
    let report = generate_to(
        &path,
        &PlantConfig {
            seed: 1,
            packets: 60_000,
            concurrent_flows: 5_000,
            attacks: false,
            day: 0,
        },
        None,
    );
    let replayed = common::replay_file(&path);
    // Each extra connection has its own 5-tuple and stays open.
    assert!(report.flows >= 5_000, "flows {}", report.flows);
    assert!(
        replayed.stats.flows.created >= 5_000,
        "otwatch created {} flows",
        replayed.stats.flows.created
    );
    assert_eq!(replayed.stats.anomalies, Default::default());
}

/// Runs the `otwatch` binary with `args`; its standard output and error,
/// after checking it succeeded.
fn otwatch(args: &[&std::ffi::OsStr]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_otwatch"))
        .args(args)
        .output()
        .expect("run otwatch");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "otwatch {args:?} failed: {text}");
    text
}

/// The alert lines of `otwatch replay --baseline BASELINE PCAP`.
fn alerts_with_baseline(baseline: &Path, pcap: &Path) -> Vec<Value> {
    let eve = pcap.with_extension("alerts.json");
    otwatch(&[
        "replay".as_ref(),
        "--events".as_ref(),
        "alert".as_ref(),
        "--baseline".as_ref(),
        baseline.as_os_str(),
        "--eve".as_ref(),
        eve.as_os_str(),
        pcap.as_os_str(),
    ]);
    std::fs::read_to_string(&eve)
        .expect("read EVE")
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("EVE line is JSON"))
        .filter(|e| e["event_type"] == "alert")
        .collect()
}

fn is_deviation(alert: &Value) -> bool {
    alert["alert"]["signature_id"]
        .as_u64()
        .is_some_and(|id| (150_000..160_000).contains(&id))
}

fn ip_of(endpoint: &str) -> &str {
    endpoint.rsplit_once(':').map_or(endpoint, |(ip, _)| ip)
}

/// Learn on one day of the plant (a longer one, as a learning period is),
/// then check the next day with attacks and a third benign day: every
/// attack raises an alert from its attacker, the rules miss one of them
/// (the historian's first write) that only the baseline sees, no deviation alert falls on a benign
/// connection, and the benign day raises no deviation at all.
#[test]
fn a_baseline_learned_on_one_day_catches_the_next_days_attacks_and_is_silent_on_a_benign_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let day = |n: u32, packets: u64, attacks: bool| PlantConfig {
        seed: 11,
        packets,
        concurrent_flows: 0,
        attacks,
        day: n,
    };
    let learn_day = dir.path().join("day0.pcap");
    generate_to(&learn_day, &day(0, 3 * PACKETS * 3, false), None);
    let attack_day = dir.path().join("day1.pcap");
    let mut truth = Vec::new();
    generate_to(&attack_day, &day(1, 3 * PACKETS, true), Some(&mut truth));
    let benign_day = dir.path().join("day2.pcap");
    generate_to(&benign_day, &day(2, 3 * PACKETS, false), None);

    let baseline = dir.path().join("plant.baseline.yaml");
    let said = otwatch(&[
        "learn".as_ref(),
        "-o".as_ref(),
        baseline.as_os_str(),
        learn_day.as_os_str(),
    ]);
    assert!(said.contains("wrote"), "{said}");
    let learned = otwatch_rules::baseline::file::load(&baseline).expect("the baseline parses");
    // Every PLC, gateway and outstation of the plant, polled by its masters;
    // nothing left out by the learning limits.
    assert!(
        learned.servers().count() >= 50,
        "{} servers",
        learned.servers().count()
    );
    assert!(learned.dropped.is_empty(), "{:?}", learned.dropped);
    assert!(learned.servers().all(|(_, s)| !s.clients.is_empty()));
    let check = otwatch(&["rules".as_ref(), "check".as_ref(), baseline.as_os_str()]);
    assert!(check.contains("baseline OK"), "rules check: {check}");

    let truth: Vec<Value> = String::from_utf8(truth)
        .expect("truth is text")
        .lines()
        .map(|l| serde_json::from_str(l).expect("truth line"))
        .collect();
    assert_eq!(truth.len(), 12);
    let attackers: BTreeSet<&str> = truth
        .iter()
        .filter_map(|t| t["src"].as_str().map(ip_of))
        .collect();

    let alerts = alerts_with_baseline(&baseline, &attack_day);
    let mut detected = 0;
    for t in &truth {
        let src = ip_of(t["src"].as_str().unwrap_or_default());
        let dst = ip_of(t["dst"].as_str().unwrap_or_default());
        let ts = t["time"].as_str().unwrap_or_default();
        let from_attacker: Vec<&Value> = alerts
            .iter()
            .filter(|a| a["src_ip"] == src && a["timestamp"].as_str().unwrap_or("") >= &ts[..19])
            .collect();
        assert!(
            from_attacker.iter().any(|a| a["dest_ip"] == dst),
            "attack {} from {src} to {dst} raised no alert",
            t["kind"]
        );
        if t["detection"] == "baseline" {
            assert!(
                from_attacker.iter().any(|a| is_deviation(a)),
                "attack {} (no bundled rule sees it) raised no deviation alert",
                t["kind"]
            );
        }
        detected += 1;
    }
    let deviations: Vec<&Value> = alerts.iter().filter(|a| is_deviation(a)).collect();
    let on_benign: Vec<&&Value> = deviations
        .iter()
        .filter(|a| !attackers.contains(a["src_ip"].as_str().unwrap_or_default()))
        .collect();
    assert!(
        on_benign.is_empty(),
        "deviation alerts on benign connections: {on_benign:#?}"
    );
    // Each deviation alert says what was seen and what was learned.
    for a in &deviations {
        let b = &a["baseline"];
        assert!(b["observed"].as_str().is_some_and(|s| !s.is_empty()), "{a}");
        assert!(b["learned"].as_str().is_some_and(|s| !s.is_empty()), "{a}");
    }

    let benign = alerts_with_baseline(&baseline, &benign_day);
    let benign_deviations = benign.iter().filter(|a| is_deviation(a)).count();
    assert_eq!(
        benign_deviations, 0,
        "deviations on a benign day: {benign:#?}"
    );
    eprintln!(
        "baseline: {} servers, {} pairs, {} operations learned; attack day: {detected}/{} attacks detected, {} deviation alerts, {} on benign connections; benign day: {benign_deviations} deviation alerts",
        learned.servers().count(),
        learned.pairs(),
        learned.operations(),
        truth.len(),
        deviations.len(),
        on_benign.len(),
    );
}
