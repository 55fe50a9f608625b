//! End to end: the bundled ruleset on the project's own captures (exact
//! alerts, EVE alert lines), on the public corpus (every alert explained),
//! and the `otwatch rules check` / `rules test` commands.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use otwatch_rules::Ruleset;
use otwatch_sensor::detect::alerts_per_rule;
use serde_json::Value;

fn otwatch(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_otwatch"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run otwatch")
}

fn eve_lines(pcap: &Path) -> Vec<Value> {
    // Alerts, anomalies and every protocol's events.
    let mut events = vec!["alert", "anomaly"];
    events.extend(otwatch_proto::ProtocolId::ALL.iter().map(|p| p.name()));
    let out = otwatch(&[
        "replay",
        "--eve",
        "-",
        "--events",
        &events.join(","),
        pcap.to_str().expect("utf-8 path"),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("utf-8")
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect()
}

/// Alerts per signature id the bundled rules must raise on each project
/// capture (no variables configured), with the reason.
fn expected(name: &str) -> Vec<(u64, usize)> {
    match name {
        // 8/4 force listen only, 8/1 twice, 8/10 clear counters.
        "modbus_attack_diagnostics.pcap" => vec![(110001, 1), (110002, 2), (110003, 1)],
        // Device id codes 3 and 4 (one alert per hour), server id, 108
        // different functions rejected (all unassigned but 90 and the
        // user-defined ones) and 38 different addresses rejected within
        // seconds.
        "modbus_attack_recon.pcap" => vec![
            (110004, 1),
            (110005, 1),
            (110006, 1),
            (110007, 1),
            (110021, 1),
        ],
        // The rogue host is only flagged once $modbus_masters / $modbus_writers
        // are set (the rule tests do that); nothing by default.
        "modbus_attack_rogue_write.pcap" => vec![],
        // 18 UMAS requests all refused with illegal function (one function,
        // 90, so no function scan), 3 upload, 3 download, stop and start,
        // reservation.
        "modbus_attack_umas.pcap" => vec![(110014, 3), (110015, 3), (110016, 2), (110017, 1)],
        // Server id read (once per hour) and two writes to register 1000,
        // which the device refuses.
        "modbus_pymodbus_polling.pcap" | "modbus_devid_xss.pcap" => vec![(110005, 1), (110011, 2)],
        // Two stops, hot and cold start, request download, _DELE, two start
        // uploads, password set and cleared.
        "s7comm_attack_stop_start.pcap" => vec![
            (120001, 2),
            (120002, 1),
            (120003, 1),
            (120004, 1),
            (120007, 1),
            (120008, 2),
            (120009, 1),
            (120010, 1),
        ],
        // Reads and writes to DB1: flagged only with allow-lists; the
        // client's get_cpu_info and get_order_code read the module
        // identification (once per pair and hour).
        "s7comm_snap7.pcap" => vec![(120016, 1)],
        // Cold, warm restart, stop, initialize, start, disable unsolicited.
        "dnp3_attack_restart.pcap" => vec![
            (130001, 1),
            (130002, 1),
            (130003, 1),
            (130004, 1),
            (130005, 1),
            (130006, 1),
        ],
        // Time writes g50v1 and g50v3.
        "dnp3_dnp3py.pcap" => vec![(130007, 2)],
        // HTTP on 502 (framed as a huge MBAP length, then non-Modbus), a read
        // with trailing bytes and a write with a bad byte count, refused.
        "synth_modbus_malformed.pcap" => vec![(110011, 1), (110012, 3), (110013, 1)],
        // Download, block, end, _INSE and a hot start after the download.
        "synth_s7comm_download.pcap" => vec![
            (120002, 1),
            (120004, 1),
            (120005, 1),
            (120006, 1),
            (120013, 2),
            (120014, 1),
        ],
        "synth_dnp3_misc.pcap" => vec![
            (130008, 3),
            (130009, 1),
            (130010, 1),
            (130011, 1),
            (130012, 1),
            (130013, 1),
            (130014, 1),
        ],
        // Force listen only behind a benign copy with a bad TCP checksum; the
        // copy and one with a bad IPv4 checksum (two hosts); a segment far
        // outside the window; a read retransmitted as a write; overlapping
        // fragments; a forged SYN on an established stream; forged
        // acknowledgements walking the window (the real request then lies
        // outside the believed window: 140002 a second time).
        "synth_evasion.pcap" => vec![
            (110001, 1),
            (140001, 1),
            (140002, 2),
            (140003, 2),
            (140004, 1),
            (140005, 1),
            (140006, 1),
        ],
        // Every scan and sweep once and the busy device (see
        // tests/rules_synth.rs), 110005 once per device asked for its server
        // id, 120016 and 160010 once per PLC, and nothing for the
        // misconfigured poller.
        "synth_recon.pcap" => vec![
            (110005, 3),
            (110006, 1),
            (110007, 1),
            (110008, 1),
            (110018, 1),
            (110019, 1),
            (110020, 1),
            (110021, 2),
            (120016, 3),
            (120017, 1),
            (130014, 1),
            (130016, 1),
            (130017, 1),
            (130018, 1),
            (160010, 6),
            (160011, 1),
        ],
        // Real scanners against the real peers (tests/peers/record_recon.sh).
        // nmap modbus-discover: server id and basic device id of unit 1.
        "recon_nmap_modbus_discover.pcap" => vec![(110005, 1)],
        // The same over units 1-246 of one server.
        "recon_nmap_modbus_discover_aggressive.pcap" => vec![(110005, 1), (110020, 1)],
        // The same against five servers (and a sixth that refuses).
        "recon_nmap_horizontal_modbus.pcap" => vec![(110005, 5), (110018, 1), (110019, 1)],
        // nmap s7-info: SZL 0x0011 and 0x001C of one PLC, then of five.
        "recon_nmap_s7info.pcap" => vec![(120016, 1)],
        "recon_nmap_horizontal_s7.pcap" => vec![(120016, 5), (120017, 1)],
        // 14 ICS ports of one host, s7-info and modbus-discover on the open ones.
        "recon_nmap_vertical_modbus_s7.pcap" => vec![(110005, 1), (120016, 1)],
        // modscanner: holding registers 0-199, 198 refused one by one.
        "recon_modbus_modscanner_holding.pcap" => vec![(110007, 1)],
        // modbus-device-scanner reads coil 0 once on each of five hosts: an
        // ordinary read, which only a learned baseline tells from polling
        // (a new client of each server).
        "recon_modbus_device_scanner.pcap" => vec![],
        // One of each EtherNet/IP attack on a Logix controller, a refused
        // session, malformed messages.
        "synth_enip.pcap" => vec![
            (160001, 1),
            (160002, 1),
            (160003, 1),
            (160004, 1),
            (160005, 1),
            (160006, 1),
            (160007, 1),
            (160008, 2),
            (160009, 1),
            (160012, 1),
            (160013, 1),
            (160014, 1),
        ],
        // pycomm3 asks the controller who it is when it connects (ListIdentity),
        // then reads and writes tags: no attack.
        "enip_pycomm3_cpppo.pcap" | "enip_cpppo_polling.pcap" => vec![(160010, 1)],
        // IEC 104 attacks on one session: the reset process, the parameter
        // activation, the file directory call, the injected frames, the
        // malformed ASDU (the commands, clock sync, interrogation and
        // STOPDT wait for $iec104_control_centres).
        "synth_iec104.pcap" => vec![
            (170002, 1),
            (170005, 1),
            (170006, 1),
            (170008, 1),
            (170009, 1),
        ],
        // nmap enip-info over TCP and UDP; its UDP RPC probe is no EtherNet/IP.
        "recon_nmap_enip_info.pcap" => vec![(160010, 1), (160012, 1)],
        // c104 (lib60870) control centre and station: operation, supervision
        // and a second host commanding the station, quiet until
        // $iec104_control_centres is filled in (the rule tests fill it in).
        "iec104_c104_control.pcap" | "iec104_c104_polling.pcap" | "iec104_attack_rogue.pcap" => {
            vec![]
        }
        // nmap iec-identify interrogates the broadcast common address.
        "recon_nmap_iec_identify.pcap" => vec![(170010, 1)],
        other => panic!("no expectation for {other}"),
    }
}

const PROJECT_CAPTURES: &[&str] = &[
    "modbus_attack_diagnostics.pcap",
    "modbus_attack_recon.pcap",
    "modbus_attack_rogue_write.pcap",
    "modbus_attack_umas.pcap",
    "modbus_pymodbus_polling.pcap",
    "modbus_devid_xss.pcap",
    "s7comm_attack_stop_start.pcap",
    "s7comm_snap7.pcap",
    "dnp3_attack_restart.pcap",
    "dnp3_dnp3py.pcap",
    "synth_modbus_malformed.pcap",
    "synth_s7comm_download.pcap",
    "synth_dnp3_misc.pcap",
    "synth_evasion.pcap",
    "synth_recon.pcap",
    "recon_nmap_modbus_discover.pcap",
    "recon_nmap_modbus_discover_aggressive.pcap",
    "recon_nmap_horizontal_modbus.pcap",
    "recon_nmap_s7info.pcap",
    "recon_nmap_horizontal_s7.pcap",
    "recon_nmap_vertical_modbus_s7.pcap",
    "recon_modbus_modscanner_holding.pcap",
    "recon_modbus_device_scanner.pcap",
    "synth_enip.pcap",
    "enip_pycomm3_cpppo.pcap",
    "enip_cpppo_polling.pcap",
    "recon_nmap_enip_info.pcap",
    "synth_iec104.pcap",
    "iec104_c104_control.pcap",
    "iec104_c104_polling.pcap",
    "iec104_attack_rogue.pcap",
    "recon_nmap_iec_identify.pcap",
];

#[test]
fn replays_project_captures_with_exactly_the_expected_alerts() {
    let mut ids = BTreeSet::new();
    for name in PROJECT_CAPTURES {
        let lines = eve_lines(&common::project_pcap(name));
        let mut got: BTreeMap<u64, usize> = BTreeMap::new();
        for (i, line) in lines.iter().enumerate() {
            if line["event_type"] != "alert" {
                continue;
            }
            let alert = &line["alert"];
            let sid = alert["signature_id"].as_u64().expect("signature_id");
            *got.entry(sid).or_insert(0) += 1;
            assert_eq!(alert["action"], "allowed");
            assert_eq!(alert["gid"], 1);
            assert!(
                alert["rev"].as_u64().is_some()
                    && alert["signature"].is_string()
                    && alert["category"].is_string()
            );
            let severity = alert["severity"].as_u64().expect("severity");
            assert!((1..=5).contains(&severity));
            let meta = &alert["metadata"];
            assert!(meta["attack_id"].as_array().is_some_and(|a| !a.is_empty()
                && a.iter()
                    .all(|t| t.as_str().is_some_and(|t| t.starts_with('T')))));
            assert_eq!(meta["severity_name"].as_array().map(Vec::len), Some(1));
            assert!(meta["protocol"][0].is_string());
            // A decode alert is about a packet that entered no flow (it was
            // dropped): addresses and protocol, no flow, ports or app_proto.
            let packet_alert = meta["protocol"][0] == "decode";
            let keys: &[&str] = if packet_alert {
                &["timestamp", "src_ip", "dest_ip", "proto"]
            } else {
                &[
                    "timestamp",
                    "flow_id",
                    "src_ip",
                    "src_port",
                    "dest_ip",
                    "dest_port",
                    "proto",
                    "app_proto",
                ]
            };
            for key in keys {
                assert!(!line[key].is_null(), "{name}: alert without {key}: {line}");
            }
            let id = line["alert_id"].as_str().expect("alert_id").to_owned();
            assert!(ids.insert(id.clone()), "alert_id {id} repeated");
            // The event that fired follows its alerts: same timestamp (the
            // packet that completed the PDU) and the same protocol object.
            let event = lines[i + 1..]
                .iter()
                .find(|l| l["event_type"] != "alert")
                .expect("event after alert");
            assert_eq!(line["timestamp"], event["timestamp"], "{name}: {line}");
            assert_eq!(line["flow_id"], event["flow_id"]);
            let kind = event["event_type"].as_str().expect("type");
            assert_eq!(
                line[kind], event[kind],
                "{name}: protocol object of the alert"
            );
        }
        let want: BTreeMap<u64, usize> = expected(name).into_iter().collect();
        assert_eq!(got, want, "{name}");
    }
}

/// Alert ids of a replay come from the capture (its digest, the frame, the
/// flow, the rule): a second replay gives the same ids, so an analyzer
/// stores them once.
#[test]
fn alert_ids_are_the_same_in_every_replay_of_a_capture() {
    let pcap = common::project_pcap("dnp3_dnp3py.pcap");
    let first: Vec<String> = eve_lines(&pcap)
        .iter()
        .filter(|l| l["event_type"] == "alert")
        .map(|l| l["alert_id"].as_str().expect("id").to_owned())
        .collect();
    let second: Vec<String> = eve_lines(&pcap)
        .iter()
        .filter(|l| l["event_type"] == "alert")
        .map(|l| l["alert_id"].as_str().expect("id").to_owned())
        .collect();
    assert_eq!(first.len(), 2);
    assert_eq!(first, second);
    assert_ne!(first[0], first[1]);
}

#[test]
fn replay_counts_alerts_in_stats_and_accepts_a_rules_path() {
    let out = otwatch(&[
        "replay",
        "--rules",
        "rules/default",
        "--eve",
        "-",
        "--events",
        "alert,stats",
        "pcaps/dnp3_attack_restart.pcap",
    ]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).expect("utf-8");
    let stats: Value =
        serde_json::from_str(text.lines().last().expect("stats line")).expect("json");
    assert_eq!(stats["stats"]["alerts"], 6);
    assert!(String::from_utf8_lossy(&out.stderr).contains("alerts       6"));
    let bad = otwatch(&[
        "replay",
        "--rules",
        "no/such/rules",
        "pcaps/dnp3_dnp3py.pcap",
    ]);
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn rules_test_passes_on_the_bundled_ruleset() {
    let out = otwatch(&["rules", "test", "rules/default"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains("0 failed, 0 rules without tests"),
        "{stdout}"
    );
    assert!(
        stdout.lines().filter(|l| l.starts_with("PASS ")).count() == 99,
        "{stdout}"
    );
}

#[test]
fn rules_check_lists_every_error_with_its_position() {
    let dir = std::env::temp_dir().join(format!("otwatch-rules-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("bad.yaml");
    std::fs::write(
        &file,
        "rules:\n  - id: 1\n    name: a\n    severity: low\n    protocol: modbus\n    description: d\n    match: {function: nope}\n  - id: 2\n    name: b\n    severity: low\n    protocol: s7comm\n    description: d\n    match: {are: db}\n",
    )
    .expect("write");
    let out = otwatch(&["rules", "check", file.to_str().expect("path")]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let f = file.display().to_string();
    assert!(
        stderr.contains(&format!(
            "{f}:7:23: unknown value `nope` for modbus.function; valid names:"
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "{f}:13:13: unknown field `are` for protocol s7comm; valid fields:"
        )),
        "{stderr}"
    );
    assert!(stderr.contains("2 error(s); nothing loaded"), "{stderr}");
    let ok = otwatch(&["rules", "check", "rules/default"]);
    assert!(ok.status.success());
    assert_eq!(
        String::from_utf8_lossy(&ok.stdout).trim(),
        "rules/default: 99 rules OK"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Alerts the bundled rules raise on the public corpus. Each is explained;
/// every other capture of these folders raises none.
fn corpus_expected(path: &str) -> Option<(Vec<(u32, u64)>, &'static str)> {
    Some(match path {
        "modbus/digitalbond_test_data_part1.pcap" | "modbus/suricata_modbus.pcap" => (
            if path.starts_with("modbus/digital") {
                vec![(110001, 3), (110002, 3), (110003, 2), (110005, 1), (110012, 3), (110013, 2)]
            } else {
                vec![(110001, 3), (110002, 3), (110003, 2), (110005, 1), (110012, 3), (110013, 1)]
            },
            "Quickdraw rule test data: force listen only, restart communications, clear counters, server id, malformed and non-Modbus PDUs",
        ),
        "modbus/icsnpp_modbus_example.pcap" => (vec![(110005, 1), (110012, 1)], "reads the server id; one response with a wrong byte count"),
        "modbus/modicon_test.pcap" => (vec![(110012, 2), (110015, 55), (110017, 1)], "a Unity program download over UMAS (function 90): download blocks, reservation, two oversized ADUs"),
        "modbus/emre_modbus_analog.pcap" => (
            vec![(140003, 2)],
            "the capture host's DHCP and port-27127 broadcasts carry an IPv4 header checksum of 0 after earlier ones on the same addresses and ports verified: on a verified direction the offload mark is a forgery's, so they are dropped (four, two alerts)",
        ),
        "iec104/emre_similator.pcap" => (
            vec![(140003, 2)],
            "as in emre_modbus_analog: the capture host's broadcasts with an IPv4 header checksum of 0 after verified ones on the same addresses and ports",
        ),
        "modbus/zeek_4sics_min.pcap" => (vec![(110011, 1), (110012, 1)], "function 23 with a write quantity out of range, refused by the device"),
        "modbus/zeek_fuzz_1011.pcap" => (
            vec![(110012, 1), (140002, 1), (140006, 1)],
            "fuzzer output: quantity out of range; the client's last request lies gigabytes outside the window the server's (fuzzed) acknowledgements advertise, which also jump back and forth",
        ),
        "modbus/zeek_modbus_eit.pcap" => (vec![(110012, 1)], "a function 43 PDU whose length does not fit"),
        "s7comm/downloading_block_db1.pcap" => (vec![(120004, 1), (120005, 3), (120006, 1), (120013, 1), (120014, 1)], "a DB1 download and insert"),
        "s7comm/icsnpp_s7ident.pcap" => (vec![(120008, 4), (120016, 1)], "module identification (SZL 0x0011) and block uploads during identification"),
        "s7comm/snap7_s300_everything.pcap" => (vec![(120001, 1), (120003, 1), (120008, 13), (120016, 1)], "snap7 demo: stop, cold start, block uploads, module identification"),
        "s7comm/program_blocklist_onlineview.pcap" | "s7comm/reading_setting_plc_time.pcap" | "s7comm/tia_s300_goonline.pcap" => (
            vec![(120016, 1)],
            "engineering software going online reads the module identification (low severity, once per pair and hour)",
        ),
        "s7comm/snap7_s300_stop.pcap" => (vec![(120001, 1)], "a PLC stop"),
        "s7comm/step7_s300_download.pcap" => (vec![(120004, 1), (120005, 1), (120006, 1), (120013, 1), (120014, 1)], "a STEP 7 block download and insert"),
        "s7comm/tia_s300_downloadhwconfig.pcap" => (
            vec![(120001, 1), (120002, 1), (120004, 7), (120005, 13), (120006, 7), (120007, 3), (120013, 9), (120014, 8)],
            "TIA Portal hardware configuration download: stop, delete, download, insert, restart",
        ),
        "dnp3/conformance_6_6_2_4_invalid_crc.pcap" => (vec![(130014, 1)], "conformance test 6.6.2.4: frames with an invalid CRC"),
        "dnp3/openics_read_request.pcap" | "dnp3/openics_request_link.pcap" | "dnp3/openics_write_request.pcap" => (
            vec![(130014, 1)],
            "the outstation answers with a link header of length 0 and CRC 0x0000, which no outstation accepts",
        ),
        "dnp3/conformance_8_11_2_5_unsolicited_polled.pcap" => (vec![(130012, 1)], "conformance test sending 27 unsolicited responses in a burst"),
        "dnp3/digitalbond_test_data_part1.pcap" | "dnp3/ndpi_dnp3.pcapng" | "dnp3/zeek_dnp3.pcap" => (
            vec![(130001, 2), (130002, 2), (130003, 4), (130006, 7), (130007, 4), (130011, 4)],
            "Quickdraw rule test data: restarts, stop application, disable unsolicited, time writes, broadcasts",
        ),
        "dnp3/emre_dnp3_value.pcap" => (vec![(130001, 1), (130002, 1), (130007, 1)], "a cold and a warm restart and a time write from the test master"),
        "dnp3/emre_octet_string.pcap" | "dnp3/fw_lan_time_sync.pcap" | "dnp3/zeek_write.pcap" => (vec![(130007, 1)], "a time write (group 50)"),
        "dnp3/fw_cold_restart.pcap" => (vec![(130001, 1)], "a cold restart"),
        "dnp3/fw_file_list_directory.pcap" | "dnp3/fw_file_read.pcap" => (vec![(130008, 2)], "file open and close"),
        "dnp3/fw_full_exchange.pcap" | "dnp3/suricata_dnp3_eve.pcap" => (vec![(130006, 1)], "disable unsolicited"),
        "dnp3/qut_masquerading.pcap" => (vec![(130007, 7), (130012, 6)], "masquerading attack: time writes, unsolicited floods"),
        "dnp3/qut_mitm.pcap" => (
            vec![(140001, 8)],
            "man-in-the-middle attack: the capture holds the outstation's responses and the attacker's altered copies of the same TCP bytes, on 8 connections",
        ),
        "dnp3/zeek_file_del.pcap" => (vec![(130008, 1)], "a file delete"),
        "dnp3/zeek_file_read.pcap" => (vec![(130007, 2), (130008, 2)], "file open/close and time writes"),
        "enip/cip_only_pccc.pcap" => (vec![(160009, 2)], "two PCCC change CPU mode commands among 18,780 Execute_PCCC reads"),
        "enip/cip_start_plc.pcap" => (vec![(160002, 1)], "a CIP Start to the Logix controller object (class 0x8E)"),
        "enip/cl5000_change_date.pcap" | "enip/icsnpp_enip_cip_example.pcap" => (
            if path.starts_with("enip/cl5000") { vec![(160004, 1)] } else { vec![(160004, 1), (160010, 1)] },
            "the Quickdraw change date attempt: Set_Attribute_List of the Wall Clock Time object (the ICSNPP copy adds a ListIdentity broadcast)",
        ),
        "enip/cl5000_firmware_change.pcap" => (vec![(160003, 1), (160005, 1)], "a firmware transfer to class 0xA1 (5,243 blocks) ending with a reset of the Identity object"),
        "enip/cl5000_ip_address_change.pcap" => (
            vec![(160010, 1)],
            "RSLinx browsing: ListIdentity broadcasts and routed reads of the Identity and Port objects; the address change itself is not in the EtherNet/IP traffic (the rest of the capture is TLS, SMB and DHCP)",
        ),
        "enip/cl5000_reboot_or_restart.pcap" => (
            vec![(160001, 1), (160002, 1), (160003, 1), (160004, 1), (160006, 1), (160007, 1), (160014, 1)],
            "a project download from the engineering software (published as both Reboot and Software Download): the controller taken, stop, program objects created and written, clock set, reset, start, and the program read back",
        ),
        "enip/cl5000_remote_mode_change.pcap" => (
            vec![(160001, 1), (160014, 1)],
            "a CIP Stop to the Logix controller object (class 0x8E) between the vendor services that take and release the controller",
        ),
        "enip/enip_test.pcap" => (vec![(160010, 1)], "nmap's enip-info ListIdentity over TCP"),
        "iec104/emre_104_deneme.pcap" => (
            vec![(170005, 1), (170010, 1)],
            "a test master activating parameters of measured values (P_ME_NA_1, P_ME_NC_1) on a simulated station, after a general interrogation of the broadcast address (a test tool, not configured with its station's address)",
        ),
        "iec104/emre_104_ip_value.pcap" => (
            vec![(170005, 1)],
            "a test master activating parameters of measured values (P_ME_NA_1, P_ME_NC_1) on a simulated station",
        ),
        _ => return None,
    })
}

/// The folders of the public corpus.
const CORPUS_FOLDERS: [&str; 9] = [
    "modbus",
    "s7comm",
    "s7commplus",
    "dnp3",
    "enip",
    "iec104",
    "bacnet",
    "mixed",
    "other",
];

/// Why a capture that the corpus marks as an attack raises no alert with
/// the bundled rules.
fn undetected_reason(path: &str) -> &'static str {
    match path {
        "modbus/cset16_cnc_upload_exe.pcap" => "the command-and-control channel hides in the values of the usual master's ordinary reads (functions 1-3) and two coil writes; no signature tells it apart. A baseline learned on `cset16_moving_two_files` flags the master's first write (150009, `baselines_learned_on_public_captures_catch_what_the_signatures_miss`)",
        "modbus/cset16_exploit_ms08_netapi.pcap" => "the exploit is SMB (MS08-067) on port 445, no industrial protocol; the Modbus polling around it is the plant's usual, and a baseline learned on the same network rightly stays silent too",
        "s7comm/qut_change_lower_threshold_attacker.pcap" | "s7comm/qut_change_upper_threshold_master.pcap" | "s7comm/qut_conveyor_belt_off_attacker.pcap" => "the attacker (10.10.10.66) writes variables with ordinary write-var jobs: 120012 and 120015 wait for `$s7_writers` and `$s7_clients`. A baseline learned on `qut_water_tank_on_manu_flooding_hmi` flags a new client and its first write (150002, 150009)",
        "s7comm/qut_water_tank_on_manu_flooding_hmi.pcap" => "the flood is write-var jobs from the HMI, the process's usual writer, to the variables it always writes: only the written values differ, which no bundled rule watches yet",
        "dnp3/qut_replay.pcap" => "the replayed frames are the usual master's own reads and controls, byte for byte; telling a replay needs per-session sequence and time checks, which no bundled rule makes",
        "enip/cip_eth_set.pcap" => "the capture holds only the device's reply to a Set_Attribute_Single of the Ethernet Link object; the request, which names the object, was not captured",
        _ => "",
    }
}

/// The MANIFEST's marks of a capture: `attack`, `malformed`, `odd`.
fn manifest_marks(manifest: &str) -> BTreeMap<String, Vec<&'static str>> {
    let mut marks = BTreeMap::new();
    for line in manifest.lines().filter(|l| l.starts_with("| `")) {
        let Some(path) = line.split('`').nth(1) else {
            continue;
        };
        let m: Vec<&'static str> = ["attack", "malformed", "odd"]
            .into_iter()
            .filter(|m| line.contains(&format!("({m})")))
            .collect();
        marks.insert(path.to_owned(), m);
    }
    marks
}

fn alert_list(counts: &[(u32, u64)]) -> String {
    counts
        .iter()
        .map(|(id, n)| format!("{id} ×{n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The efficacy section of rules/README.md: what the bundled rules raise on
/// every capture of the public corpus, built from a replay of each.
fn efficacy_section(corpus: &Path) -> String {
    let manifest = std::fs::read_to_string(corpus.join("MANIFEST.md")).expect("MANIFEST.md");
    let marks = manifest_marks(&manifest);
    let set = Arc::new(Ruleset::bundled().expect("bundled rules"));
    let mut attacks = Vec::new();
    let mut alerted = Vec::new();
    let mut quiet: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    let (mut n_attacks, mut n_detected, mut n_files) = (0, 0, 0);
    for folder in CORPUS_FOLDERS {
        for path in common::captures_in(&corpus.join(folder)) {
            n_files += 1;
            let name = path.file_name().and_then(|n| n.to_str()).expect("name");
            let rel = format!("{folder}/{name}");
            let got: Vec<(u32, u64)> = alerts_per_rule(Arc::clone(&set), &path)
                .unwrap_or_else(|e| panic!("{rel}: {e}"))
                .into_iter()
                .collect();
            let why = corpus_expected(&rel).map_or("", |(_, why)| why);
            let m = marks.get(&rel).cloned().unwrap_or_default();
            if m.contains(&"attack") {
                n_attacks += 1;
                let (alerts, why) = if got.is_empty() {
                    let reason = undetected_reason(&rel);
                    assert!(
                        !reason.is_empty(),
                        "{rel}: an undetected attack needs a reason"
                    );
                    ("none".to_owned(), reason)
                } else {
                    n_detected += 1;
                    (alert_list(&got), why)
                };
                attacks.push(format!("| `{rel}` | {alerts} | {why} |"));
            } else if !got.is_empty() {
                let m = if m.is_empty() {
                    "—".to_owned()
                } else {
                    m.join(", ")
                };
                alerted.push(format!("| `{rel}` | {m} | {} | {why} |", alert_list(&got)));
            } else {
                quiet.entry(folder).or_default().push(format!("`{name}`"));
            }
        }
    }
    let mut out = String::new();
    out.push_str(&format!(
        "The bundled rules with no variables set, on the {n_files} public captures of \
         `../shared/pcaps` (`tests/rules_e2e.rs` replays each and checks this section; \
         `OTWATCH_WRITE_EFFICACY=1` rewrites it).\n\n"
    ));
    out.push_str(&format!(
        "**Captures of attacks** (marked so in the corpus): {n_detected} of {n_attacks} raise alerts.\n\n\
         | capture | alerts (rule ×count) | what they are, or why there is none |\n| --- | --- | --- |\n"
    ));
    for row in &attacks {
        out.push_str(row);
        out.push('\n');
    }
    out.push_str(
        "\n**Other captures that raise alerts**: conformance and rule-test data, engineering \
         sessions, malformed traffic.\n\n\
         | capture | marked | alerts (rule ×count) | why |\n| --- | --- | --- | --- |\n",
    );
    for row in &alerted {
        out.push_str(row);
        out.push('\n');
    }
    let n_quiet: usize = quiet.values().map(Vec::len).sum();
    out.push_str(&format!(
        "\n**No alert** ({n_quiet} captures, benign traffic and protocols without bundled rules):\n\n"
    ));
    for (folder, names) in &quiet {
        out.push_str(&format!("- {folder}/: {}\n", names.join(", ")));
    }
    out
}

const EFFICACY_BEGIN: &str = "<!-- efficacy: begin -->\n";
const EFFICACY_END: &str = "<!-- efficacy: end -->";

#[test]
#[ignore = "needs the public capture corpus: OTWATCH_PCAP_CORPUS (scripts/test runs it)"]
fn efficacy_table_in_rules_readme_is_current() {
    let corpus = common::corpus();
    let section = efficacy_section(&corpus);
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/README.md");
    let text = std::fs::read_to_string(&path).expect("rules/README.md");
    let (Some(b), Some(e)) = (text.find(EFFICACY_BEGIN), text.find(EFFICACY_END)) else {
        panic!("rules/README.md has no efficacy markers");
    };
    let current = &text[b + EFFICACY_BEGIN.len()..e];
    if std::env::var_os("OTWATCH_WRITE_EFFICACY").is_some() {
        let new = format!(
            "{}{section}{}",
            &text[..b + EFFICACY_BEGIN.len()],
            &text[e..]
        );
        std::fs::write(&path, new).expect("write rules/README.md");
        return;
    }
    assert!(
        current == section,
        "rules/README.md's efficacy section is out of date; run with OTWATCH_WRITE_EFFICACY=1\n{section}"
    );
}

#[test]
#[ignore = "needs the public capture corpus: OTWATCH_PCAP_CORPUS (scripts/test runs it)"]
fn corpus_alerts_are_all_explained() {
    let corpus = common::corpus();
    let set = Arc::new(Ruleset::bundled().expect("bundled rules"));
    for folder in CORPUS_FOLDERS {
        for path in common::captures_in(&corpus.join(folder)) {
            let rel = format!(
                "{folder}/{}",
                path.file_name().and_then(|n| n.to_str()).expect("name")
            );
            let got: Vec<(u32, u64)> = alerts_per_rule(Arc::clone(&set), &path)
                .unwrap_or_else(|e| panic!("{rel}: {e}"))
                .into_iter()
                .collect();
            match corpus_expected(&rel) {
                Some((want, why)) => assert_eq!(got, want, "{rel} ({why})"),
                None => assert!(got.is_empty(), "{rel}: unexpected alerts {got:?}"),
            }
        }
    }
}

/// The deviation alerts of `pcap` against the baseline learned from
/// `learn_from` (both in the corpus): (rule id, source, deviation).
fn deviations_against(corpus: &Path, learn_from: &str, pcap: &str) -> Vec<(u64, String, String)> {
    let dir = tempfile::tempdir().expect("tempdir");
    let baseline = dir.path().join("learned.yaml");
    let baseline = baseline.to_str().expect("utf-8 path");
    let learn = otwatch(&[
        "learn",
        "-o",
        baseline,
        corpus.join(learn_from).to_str().expect("utf-8 path"),
    ]);
    assert!(
        learn.status.success(),
        "{}",
        String::from_utf8_lossy(&learn.stderr)
    );
    let out = otwatch(&[
        "replay",
        "--baseline",
        baseline,
        "--events",
        "alert",
        "--eve",
        "-",
        corpus.join(pcap).to_str().expect("utf-8 path"),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("utf-8")
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("JSON"))
        .filter(|a| a["baseline"].is_object())
        .map(|a| {
            (
                a["alert"]["signature_id"].as_u64().unwrap_or(0),
                a["src_ip"].as_str().unwrap_or("").to_owned(),
                a["baseline"]["deviation"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

/// The attacks of public datasets that the bundled signatures miss (their
/// allow-list rules wait for configuration): a baseline learned on another
/// capture of the same network catches each, and is silent on that
/// network's other benign capture.
#[test]
#[ignore = "needs the public capture corpus: OTWATCH_PCAP_CORPUS (scripts/test runs it)"]
fn baselines_learned_on_public_captures_catch_what_the_signatures_miss() {
    let corpus = common::corpus();
    let rules = Arc::new(Ruleset::bundled().expect("bundled rules"));
    let no_signature = |pcap: &str| {
        let counts = alerts_per_rule(rules.clone(), &corpus.join(pcap)).expect("replay");
        assert!(
            !counts
                .keys()
                .any(|id| [110_007, 110_008, 120_004, 120_011].contains(id)),
            "{pcap}: {counts:?}"
        );
    };
    // CSET'16: six RTUs polled with functions 1-3 by 192.168.1.100; in the
    // C&C capture the same master also writes two coils ("with operate").
    no_signature("modbus/cset16_cnc_upload_exe.pcap");
    let cset = "modbus/cset16_moving_two_files.pcap";
    assert_eq!(
        deviations_against(&corpus, cset, "modbus/cset16_cnc_upload_exe.pcap"),
        [(
            150_009,
            "192.168.1.100".to_owned(),
            "first_write".to_owned()
        )]
    );
    assert_eq!(
        deviations_against(&corpus, cset, "modbus/cset16_exploit_ms08_netapi.pcap"),
        []
    );
    // QUT 2017 S7: the HMI 10.10.10.20 reads and writes the PLC; the
    // attacker 10.10.10.66 writes variables in three captures: a new client,
    // and its write.
    let qut = "s7comm/qut_water_tank_on_manu_flooding_hmi.pcap";
    for attack in [
        "s7comm/qut_change_upper_threshold_master.pcap",
        "s7comm/qut_change_lower_threshold_attacker.pcap",
        "s7comm/qut_conveyor_belt_off_attacker.pcap",
    ] {
        no_signature(attack);
        assert_eq!(
            deviations_against(&corpus, qut, attack),
            [
                (150_002, "10.10.10.66".to_owned(), "new_client".to_owned()),
                (150_009, "10.10.10.66".to_owned(), "first_write".to_owned())
            ],
            "{attack}"
        );
    }
}

#[test]
fn rules_check_reports_a_malformed_baseline_with_positions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let good = dir.path().join("good.yaml");
    let learn = otwatch(&[
        "learn",
        "-o",
        good.to_str().expect("utf-8 path"),
        "pcaps/modbus_pymodbus_polling.pcap",
    ]);
    assert!(
        learn.status.success(),
        "{}",
        String::from_utf8_lossy(&learn.stderr)
    );
    let ok = otwatch(&["rules", "check", good.to_str().expect("utf-8 path")]);
    assert!(ok.status.success());
    assert!(
        String::from_utf8_lossy(&ok.stdout)
            .contains("baseline OK (1 servers, 1 client/server pairs, 18 operations)"),
        "{}",
        String::from_utf8_lossy(&ok.stdout)
    );
    // A reviewer's typos: a class that does not exist and an address that
    // is not one.
    let text = std::fs::read_to_string(&good).expect("read");
    let bad_text = text.replacen("class: write,", "class: wrote,", 1).replacen(
        "client: 10.200.7.20",
        "client: 10.200.7.",
        1,
    );
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, &bad_text).expect("write");
    let out = otwatch(&["rules", "check", bad.to_str().expect("utf-8 path")]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line_of = |needle: &str| {
        bad_text
            .lines()
            .position(|l| l.contains(needle))
            .expect("line")
            + 1
    };
    let client = format!(
        "{}:{}:17: `10.200.7.` is not an IP address",
        bad.display(),
        line_of("client: 10.200.7.")
    );
    assert!(stderr.contains(&client), "{stderr}\nwanted {client}");
    let class = format!(
        "{}:{}:21: unknown class `wrote`",
        bad.display(),
        line_of("class: wrote")
    );
    assert!(stderr.contains(&class), "{stderr}\nwanted {class}");
    assert!(stderr.contains("2 error(s) in the baseline"), "{stderr}");
    // Replaying with it is refused before anything starts.
    let replay = otwatch(&[
        "replay",
        "--baseline",
        bad.to_str().expect("utf-8 path"),
        "pcaps/modbus_pymodbus_polling.pcap",
    ]);
    assert_eq!(replay.status.code(), Some(2));
}

/// modbus-device-scanner's sweep reads one coil of each host, which no
/// signature tells from polling; a baseline learned on the polling capture
/// names the scanner as a new client of the known PLC and each other host
/// as a new server.
#[test]
fn a_baseline_flags_the_coil_read_sweep_that_no_signature_sees() {
    let dir = tempfile::tempdir().expect("tempdir");
    let baseline = dir.path().join("baseline.yaml");
    let eve = dir.path().join("alerts.json");
    let path = |p: &Path| p.to_str().expect("utf-8 path").to_owned();
    let learn = otwatch(&[
        "learn",
        "-o",
        &path(&baseline),
        "pcaps/modbus_pymodbus_polling.pcap",
    ]);
    assert!(learn.status.success(), "{learn:?}");
    let replay = otwatch(&[
        "replay",
        "--baseline",
        &path(&baseline),
        "--events",
        "alert",
        "--eve",
        &path(&eve),
        "pcaps/recon_modbus_device_scanner.pcap",
    ]);
    assert!(replay.status.success(), "{replay:?}");
    let got: Vec<(u64, String, String)> = std::fs::read_to_string(&eve)
        .expect("EVE")
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("json"))
        .map(|e| {
            (
                e["alert"]["signature_id"].as_u64().expect("sid"),
                e["src_ip"].as_str().expect("src").to_owned(),
                e["dest_ip"].as_str().expect("dest").to_owned(),
            )
        })
        .collect();
    let mut want = vec![(150_002, "10.200.7.66".to_owned(), "10.200.7.10".to_owned())];
    want.extend((11..=14).map(|h| (150_001, "10.200.7.66".to_owned(), format!("10.200.7.{h}"))));
    assert_eq!(got, want);
}

/// An override whose rule is no longer loaded does not keep a capture from
/// running: the replay warns about it and applies the others.
#[test]
fn a_replay_ignores_an_override_of_a_rule_that_is_not_loaded() {
    let dir = tempfile::tempdir().expect("tempdir");
    let overrides = dir.path().join("overrides.yaml");
    // 110005 fires once on the polling capture (server id read by 10.200.7.20).
    std::fs::write(
        &overrides,
        "suppress:\n  - {rule: 110005, src_ip: 10.200.7.20}\n  - {rule: 199999, src_ip: 10.200.7.20}\n",
    )
    .expect("write");
    let out = otwatch(&[
        "replay",
        "--overrides",
        overrides.to_str().expect("utf-8 path"),
        "pcaps/modbus_pymodbus_polling.pcap",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("overrides.yaml:3:5: rule 199999 is not in the ruleset")
            && stderr.contains("1 override(s) name rules that are not loaded and are ignored"),
        "{stderr}"
    );
    // Both server id reads (one alert an hour without the override).
    assert!(stderr.contains("suppressed   2 matches"), "{stderr}");
    // rules check refuses the same file.
    let check = otwatch(&["rules", "check", overrides.to_str().expect("utf-8 path")]);
    assert_eq!(check.status.code(), Some(1), "{check:?}");
}

/// Tag writes from a host that the learned baseline only saw reading: the
/// baseline learned on the pycomm3 poller (reads of four tags) flags the
/// same HMI's first write, and the tags it now reads that it never read;
/// the poller's own traffic stays silent.
#[test]
fn a_baseline_of_enip_polling_flags_the_first_tag_write() {
    let pcaps = Path::new(env!("CARGO_MANIFEST_DIR")).join("pcaps");
    let quiet = deviations_against(&pcaps, "enip_cpppo_polling.pcap", "enip_cpppo_polling.pcap");
    assert_eq!(quiet, Vec::new());
    let got = deviations_against(&pcaps, "enip_cpppo_polling.pcap", "enip_pycomm3_cpppo.pcap");
    assert!(
        got.iter()
            .any(|(id, src, _)| *id == 150009 && src == "10.200.8.20"),
        "{got:#?}"
    );
    assert!(
        got.iter().all(|(_, src, _)| src == "10.200.8.20"),
        "{got:#?}"
    );
}

/// A second host commanding an IEC 104 station: the baseline learned on the
/// c104 control centre's supervision (interrogations, clock sync and
/// measurands) flags the new client and its first commands, and nothing of
/// the control centre that shares the capture.
#[test]
fn a_baseline_of_iec104_supervision_flags_the_rogue_controlling_host() {
    let pcaps = Path::new(env!("CARGO_MANIFEST_DIR")).join("pcaps");
    let quiet = deviations_against(
        &pcaps,
        "iec104_c104_polling.pcap",
        "iec104_c104_polling.pcap",
    );
    assert_eq!(quiet, Vec::new());
    let got = deviations_against(
        &pcaps,
        "iec104_c104_polling.pcap",
        "iec104_attack_rogue.pcap",
    );
    for id in [150002, 150011] {
        assert!(
            got.iter()
                .any(|(sid, src, _)| *sid == id && src == "10.200.9.30"),
            "{id}: {got:#?}"
        );
    }
    assert!(
        got.iter().all(|(_, src, _)| src == "10.200.9.30"),
        "{got:#?}"
    );
}
