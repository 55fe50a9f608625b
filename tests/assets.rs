//! Asset observations from our own captures of real stacks: roles, peers, and
//! the identity each protocol reveals.

mod common;

use otwatch_sensor::eve::{EveWriter, EventFilter};
use otwatch_sensor::pipeline::PipelineConfig;
use otwatch_sensor::replay::replay_to_eve;
use serde_json::Value;

fn assets(pcap: &str) -> Vec<Value> {
    let eve = EveWriter::new(Vec::new(), EventFilter::parse("asset").expect("filter"));
    let (eve, report) = replay_to_eve(
        &[common::project_pcap(pcap)],
        PipelineConfig::default(),
        eve,
        &mut |_, _, _| {},
    );
    assert!(report.error.is_none());
    let text = String::from_utf8(eve.into_inner()).expect("utf8");
    text.lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect()
}

#[test]
fn modbus_device_identification_names_the_plc_and_keeps_markup_as_text() {
    let lines = assets("modbus_devid_xss.pcap");
    assert_eq!(lines.len(), 2);
    let plc = &lines[0]["asset"];
    assert_eq!(plc["ip"], "10.200.7.10");
    assert_eq!(plc["role"], "server");
    assert_eq!(plc["protocols"], serde_json::json!(["modbus"]));
    assert_eq!(plc["mac"], "02:00:0a:c8:07:0a");
    assert_eq!(
        plc["peers"],
        serde_json::json!([{"ip": "10.200.7.20", "protocol": "modbus", "port": 502}])
    );
    let id = &plc["identity"];
    assert_eq!(id["vendor"], "<script>alert(1)</script>");
    assert_eq!(id["product"], "<img src=x onerror=alert(1)>");
    assert_eq!(id["order_number"], "OTW-PLC-1", "the Modbus product code");
    assert_eq!(id["firmware"], "1.2.3");
    assert_eq!(id["source"], "modbus_device_id");
    let master = &lines[1]["asset"];
    assert_eq!(master["ip"], "10.200.7.20");
    assert_eq!(master["role"], "client");
    assert!(master.get("identity").is_none());
}

#[test]
fn s7_szl_answers_identify_the_cpu() {
    let lines = assets("s7comm_snap7.pcap");
    let plc = &lines[0]["asset"];
    assert_eq!(plc["ip"], "10.200.7.10");
    assert_eq!(plc["protocols"], serde_json::json!(["s7comm"]));
    let id = &plc["identity"];
    // What the snap7 server reports in SZL 0x0011 and 0x001C.
    assert_eq!(id["order_number"], "6ES7 315-2EH14-0AB0");
    assert_eq!(id["firmware"], "V3.2.6");
    assert_eq!(id["module_name"], "CPU 315-2 PN/DP");
    assert_eq!(id["serial"], "S C-C2UR28922012");
    assert_eq!(id["source"], "s7_szl");
}

#[test]
fn dnp3_outstation_and_master_roles() {
    let lines = assets("dnp3_dnp3py.pcap");
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["asset"]["role"], "server");
    assert_eq!(lines[0]["asset"]["protocols"], serde_json::json!(["dnp3"]));
    assert_eq!(lines[1]["asset"]["role"], "client");
    // The link addresses dnp3py's outstation and master use.
    assert_eq!(
        lines[0]["asset"]["stations"],
        serde_json::json!([{"protocol": "dnp3", "role": "outstation", "address": 1}])
    );
    assert_eq!(
        lines[1]["asset"]["stations"],
        serde_json::json!([{"protocol": "dnp3", "role": "master", "address": 2}])
    );
}

#[test]
fn modbus_unit_ids_are_the_servers_stations() {
    let lines = assets("modbus_pymodbus_polling.pcap");
    let plc = &lines[0]["asset"];
    assert_eq!(plc["ip"], "10.200.7.10");
    assert_eq!(
        plc["stations"],
        serde_json::json!([{"protocol": "modbus", "role": "unit", "address": 1}])
    );
    assert!(
        lines[1]["asset"].get("stations").is_none(),
        "a Modbus client has no address"
    );
}

#[test]
fn iec104_controlled_station_is_named_by_its_common_address() {
    // The c104 station answers for common address 47; the two controlling
    // hosts leave the originator address 0 (unused), and nmap's broadcast
    // interrogation (65535) names no station.
    for pcap in ["iec104_attack_rogue.pcap", "recon_nmap_iec_identify.pcap"] {
        let lines = assets(pcap);
        let station = &lines[0]["asset"];
        assert_eq!(station["ip"], "10.200.9.10", "{pcap}");
        assert_eq!(station["role"], "server");
        assert_eq!(
            station["stations"],
            serde_json::json!([{"protocol": "iec104", "role": "controlled", "address": 47}]),
            "{pcap}"
        );
        for client in &lines[1..] {
            assert_eq!(client["asset"]["role"], "client", "{pcap}");
            assert!(
                client["asset"].get("stations").is_none(),
                "{pcap}: {client}"
            );
        }
    }
}

#[test]
#[ignore = "needs the public capture corpus: OTWATCH_PCAP_CORPUS (scripts/test runs it)"]
fn iec104_controlling_stations_are_named_by_their_originator_address() {
    let corpus = common::corpus();
    // Two control centres that set the originator address (9 and 1) and
    // the station they command.
    let path = corpus.join("iec104/javarmi_and_iec_misc.pcap");
    let eve = EveWriter::new(Vec::new(), EventFilter::parse("asset").expect("filter"));
    let (eve, report) = replay_to_eve(&[path], PipelineConfig::default(), eve, &mut |_, _, _| {});
    assert!(report.error.is_none());
    let text = String::from_utf8(eve.into_inner()).expect("utf8");
    let stations = |ip: &str| -> Value {
        text.lines()
            .map(|l| serde_json::from_str::<Value>(l).expect("json"))
            .find(|l| l["asset"]["ip"] == ip)
            .map(|l| l["asset"]["stations"].clone())
            .unwrap_or(Value::Null)
    };
    let controlling = |address: u32| serde_json::json!([{"protocol": "iec104", "role": "controlling", "address": address}]);
    assert_eq!(stations("192.168.1.44"), controlling(9));
    assert_eq!(stations("192.168.1.113"), controlling(1));
}

#[test]
fn cip_identities_name_each_device_with_its_vendor() {
    // Five controllers answer a ListIdentity sweep (pcaps/synth_recon.pcap):
    // each is named from its own answer.
    let lines = assets("synth_recon.pcap");
    let devices: Vec<&Value> = lines
        .iter()
        .map(|l| &l["asset"])
        .filter(|a| a["identity"]["source"] == "cip_identity")
        .collect();
    assert_eq!(devices.len(), 5, "{lines:#?}");
    for (i, a) in devices.iter().enumerate() {
        let last = 21 + i;
        assert_eq!(a["ip"], format!("10.200.7.{last}"));
        assert_eq!(a["protocols"], serde_json::json!(["enip"]));
        assert_eq!(a["role"], "server");
        let id = &a["identity"];
        assert_eq!(
            id["vendor"], "Rockwell Automation/Allen-Bradley",
            "vendor id 1"
        );
        assert_eq!(id["product"], "1756-L61/B LOGIX5561");
        assert_eq!(
            id["model"], "programmable_logic_controller",
            "device type 0x0E"
        );
        assert_eq!(id["firmware"], "20.11");
        assert_eq!(id["serial"], format!("0x00c0ff{last:02x}"));
        assert_eq!(id["order_number"], "54", "product code 0x0036");
        assert_eq!(id["source"], "cip_identity");
    }
}
