//! Tests of the language: every error message, every operator on real
//! Modbus bytes, request/response/joined matching, addresses, variables,
//! content, thresholds, detection filters, suppression and flow flags.

use std::sync::Arc;

use otwatch_proto::event::{Anomaly, AppEvent, Event, Timestamp};
use otwatch_proto::modbus::{self, pdu, FunctionCode};
use otwatch_proto::registry::ProtocolId;

use crate::{Engine, ErrorKind, Errors, FlowInfo, Ruleset};

fn load(yaml: &str) -> Ruleset {
    Ruleset::from_str("t.yaml", yaml).unwrap_or_else(|e| panic!("{e}"))
}

fn errors(yaml: &str) -> Errors {
    match Ruleset::from_str("t.yaml", yaml) {
        Ok(_) => panic!("loaded"),
        Err(e) => e,
    }
}

fn flow(src: &str, dest_port: u16) -> FlowInfo {
    FlowInfo {
        id: 7,
        src: src.parse().expect("ip"),
        src_port: 40_000,
        dest: "10.0.0.10".parse().expect("ip"),
        dest_port,
    }
}

/// Runs one Modbus transaction (request and/or response PDU) at `secs`;
/// returns the ids of the rules that fired.
fn modbus_at(
    engine: &mut Engine,
    f: &FlowInfo,
    secs: i64,
    req: Option<&[u8]>,
    rsp: Option<&[u8]>,
) -> Vec<u32> {
    let ts = Timestamp::new(secs, 0);
    let tx = modbus::Transaction {
        transaction_id: 1,
        unit_id: 1,
        request: req.map(|p| modbus::Message {
            ts,
            function: FunctionCode::from(p[0] & 0x7f),
            pdu: p,
            body: pdu::decode_request(p),
        }),
        response: rsp.map(|p| modbus::Message {
            ts,
            function: FunctionCode::from(p[0] & 0x7f),
            pdu: p,
            body: pdu::decode_response(p),
        }),
    };
    let mut fired = Vec::new();
    engine.inspect(
        f,
        &Event {
            ts,
            app: AppEvent::Modbus(&tx),
        },
        &mut |a| fired.push(a.rule.id),
    );
    fired
}

fn fires(rule_match: &str, req: Option<&[u8]>, rsp: Option<&[u8]>) -> bool {
    let yaml = format!(
        "vars:\n  masters: [10.0.0.1, 10.0.1.0/24]\n  none: []\nrules:\n  - id: 1\n    name: t\n    severity: low\n    protocol: modbus\n    description: d\n    match: {rule_match}\n"
    );
    let mut e = Engine::new(Arc::new(load(&yaml)));
    !modbus_at(&mut e, &flow("10.0.0.5", 502), 0, req, rsp).is_empty()
}

const READ_100_10: &[u8] = &[0x03, 0x00, 0x64, 0x00, 0x0a];
const WRITE_5_DEAD: &[u8] = &[0x06, 0x00, 0x05, 0xde, 0xad];
const EXC_2: &[u8] = &[0x86, 0x02];
const DIAG_4: &[u8] = &[0x08, 0x00, 0x04, 0x00, 0x00];

#[test]
fn bundled_ruleset_compiles() {
    let set = Ruleset::bundled().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(set.len(), 99);
    assert!(
        set.tests().all(|(_, t)| !t.is_empty()),
        "every bundled rule has a test"
    );
}

#[test]
fn every_file_of_the_default_folder_is_bundled() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("default");
    let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
        .expect("rules/default")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|name| name.ends_with(".yaml"))
        .collect();
    on_disk.sort();
    let mut bundled: Vec<String> = crate::load::BUNDLED
        .iter()
        .map(|(name, _)| name.to_string())
        .collect();
    bundled.sort();
    assert_eq!(
        bundled, on_disk,
        "rules/src/load.rs BUNDLED lists rules/default/*.yaml"
    );
}

#[test]
fn equality_accepts_names_and_numbers() {
    assert!(fires("{function: diagnostics}", Some(DIAG_4), None));
    assert!(fires("{function: 8}", Some(DIAG_4), None));
    assert!(fires("{function: '0x08'}", Some(DIAG_4), None));
    assert!(fires(
        "{modbus.diagnostic.subfunction: force_listen_only_mode}",
        Some(DIAG_4),
        None
    ));
    assert!(!fires("{function: read_coils}", Some(DIAG_4), None));
}

#[test]
fn lists_match_any_of() {
    assert!(fires(
        "{function: [read_coils, read_holding_registers]}",
        Some(READ_100_10),
        None
    ));
    assert!(fires("{function: {in: [1, 3]}}", Some(READ_100_10), None));
    assert!(!fires("{function: [1, 2]}", Some(READ_100_10), None));
}

#[test]
fn ranges_and_comparisons_cover_every_address_touched() {
    assert!(fires(
        "{address: {range: [105, 200]}}",
        Some(READ_100_10),
        None
    ));
    assert!(fires(
        "{address: {range: '0-100'}}",
        Some(READ_100_10),
        None
    ));
    assert!(!fires(
        "{address: {range: [110, 200]}}",
        Some(READ_100_10),
        None
    ));
    assert!(fires("{address: 109}", Some(READ_100_10), None));
    assert!(fires(
        "{quantity: {gt: 9, lt: 11}}",
        Some(READ_100_10),
        None
    ));
    assert!(fires(
        "{quantity: {ge: 10, le: 10}}",
        Some(READ_100_10),
        None
    ));
    assert!(!fires("{quantity: {gte: 11}}", Some(READ_100_10), None));
    assert!(!fires("{quantity: {lte: 9}}", Some(READ_100_10), None));
}

#[test]
fn negation_and_exists() {
    assert!(fires(
        "{function: {not: read_coils}}",
        Some(READ_100_10),
        None
    ));
    assert!(!fires("{function: {not: [3, 4]}}", Some(READ_100_10), None));
    assert!(fires(
        "{function: {not_in: [1, 2]}}",
        Some(READ_100_10),
        None
    ));
    assert!(fires(
        "{exception: {exists: false}}",
        Some(READ_100_10),
        None
    ));
    assert!(!fires("{exception: any}", Some(READ_100_10), None));
    assert!(fires("{exception: any}", Some(WRITE_5_DEAD), Some(EXC_2)));
}

#[test]
fn masks_test_register_values() {
    assert!(fires(
        "{value: {mask: '0xde00', value: '0xde00'}}",
        Some(WRITE_5_DEAD),
        None
    ));
    assert!(fires(
        "{value: {mask: '0x00ff'}}",
        Some(&[0x06, 0, 5, 0, 0xff]),
        None
    ));
    assert!(!fires(
        "{value: {mask: 1}}",
        Some(&[0x06, 0, 5, 0, 0xfe]),
        None
    ));
    assert!(fires("{value: {any_bits: 1}}", Some(WRITE_5_DEAD), None));
}

#[test]
fn request_response_and_joined_transactions() {
    // The response of a write is an exception: joined match.
    assert!(fires(
        "{access: write, exception: illegal_data_address}",
        Some(WRITE_5_DEAD),
        Some(EXC_2)
    ));
    assert!(!fires(
        "{access: write, exception: illegal_function}",
        Some(WRITE_5_DEAD),
        Some(EXC_2)
    ));
    // Scoped fields read only their message.
    assert!(fires(
        "{request.function: write_single_register}",
        Some(WRITE_5_DEAD),
        Some(EXC_2)
    ));
    assert!(fires("{response.function: 6}", None, Some(EXC_2)));
    assert!(!fires("{request.function: 6}", None, Some(EXC_2)));
    assert!(fires("{answered: false}", Some(WRITE_5_DEAD), None));
    assert!(fires("{answered: true}", Some(WRITE_5_DEAD), Some(EXC_2)));
    // A read response's register values.
    assert!(fires(
        "{response.value: 1234}",
        Some(&[3, 0, 0, 0, 1]),
        Some(&[3, 2, 0x04, 0xd2])
    ));
}

#[test]
fn addresses_ports_and_variables() {
    assert!(fires("{src_ip: 10.0.0.0/24}", Some(READ_100_10), None));
    assert!(!fires("{src_ip: 10.0.1.0/24}", Some(READ_100_10), None));
    assert!(fires(
        "{src_ip: {not_in: $masters}}",
        Some(READ_100_10),
        None
    ));
    assert!(!fires("{src_ip: $masters}", Some(READ_100_10), None));
    assert!(fires("{ip: 10.0.0.10}", Some(READ_100_10), None));
    assert!(fires(
        "{dest_port: 502, src_port: '1024-65535'}",
        Some(READ_100_10),
        None
    ));
    assert!(!fires("{port: [102, 20000]}", Some(READ_100_10), None));
    // An empty allow-list flags nothing.
    assert!(!fires("{src_ip: {not_in: $none}}", Some(READ_100_10), None));
}

#[test]
fn content_patterns_mix_text_and_hex() {
    assert!(fires("{content: '|de ad|'}", Some(WRITE_5_DEAD), None));
    assert!(fires(
        "{request.content: ['|06 00|', '|05|']}",
        Some(WRITE_5_DEAD),
        None
    ));
    assert!(!fires(
        "{content: ['|06 00|', '|ff|']}",
        Some(WRITE_5_DEAD),
        None
    ));
    assert!(!fires(
        "{response.content: '|de ad|'}",
        Some(WRITE_5_DEAD),
        Some(EXC_2)
    ));
    assert!(fires("{content: {not: 'OTW'}}", Some(WRITE_5_DEAD), None));
    assert!(fires(
        "{function: umas, content: 'OTWATCH'}",
        Some(b"\x5a\x00\x10OTWATCH-ROGUE"),
        None
    ));
}

fn rule_with(extra: &str) -> Engine {
    let yaml = format!(
        "rules:\n  - id: 9\n    name: t\n    severity: low\n    protocol: modbus\n    description: d\n    match: {{function: 3}}\n{extra}"
    );
    Engine::new(Arc::new(load(&yaml)))
}

fn count(e: &mut Engine, src: &str, times: &[i64]) -> usize {
    let f = flow(src, 502);
    times
        .iter()
        .map(|t| modbus_at(e, &f, *t, Some(READ_100_10), None).len())
        .sum()
}

#[test]
fn threshold_limit_caps_alerts_per_window() {
    let mut e = rule_with("    threshold: {type: limit, track: by_src, count: 2, seconds: 10}\n");
    assert_eq!(count(&mut e, "10.0.0.5", &[0, 1, 2, 3]), 2);
    assert_eq!(count(&mut e, "10.0.0.6", &[4]), 1, "tracked per source");
    assert_eq!(count(&mut e, "10.0.0.5", &[11, 12, 13]), 2, "new window");
}

#[test]
fn threshold_alerts_every_nth_match() {
    let mut e =
        rule_with("    threshold: {type: threshold, track: by_pair, count: 3, seconds: 60}\n");
    assert_eq!(count(&mut e, "10.0.0.5", &[0, 1, 2, 3, 4, 5, 6]), 2);
}

#[test]
fn threshold_both_alerts_once_per_window_after_count() {
    let mut e = rule_with("    threshold: {type: both, track: by_rule, count: 3, seconds: 60}\n");
    assert_eq!(count(&mut e, "10.0.0.5", &[0, 1]), 0);
    assert_eq!(count(&mut e, "10.0.0.6", &[2, 3, 4]), 1);
    assert_eq!(count(&mut e, "10.0.0.6", &[61, 62, 63]), 1);
}

/// Two engines (two workers) over one ruleset, sharing a threshold table.
fn two_workers(extra: &str) -> (Engine, Engine) {
    let a = rule_with(extra);
    let b = Engine::with_thresholds(Arc::clone(a.ruleset()), a.thresholds().clone());
    (a, b)
}

#[test]
fn shared_threshold_limit_counts_a_source_across_workers() {
    let (mut a, mut b) =
        two_workers("    threshold: {type: limit, track: by_src, count: 2, seconds: 10}\n");
    // One source, flows on two workers: 2 alerts in the window in all, not 2 each.
    let f1 = flow("10.0.0.5", 502);
    let f2 = FlowInfo { id: 8, ..f1 };
    let mut fired = 0;
    for (t, on_a) in [(0, true), (1, false), (2, true), (3, false)] {
        let (e, f) = if on_a { (&mut a, &f1) } else { (&mut b, &f2) };
        fired += modbus_at(e, f, t, Some(READ_100_10), None).len();
    }
    assert_eq!(fired, 2);
    assert_eq!(a.thresholds().len(), 1, "one window for the source");
    // Unshared engines would have allowed 2 each.
    let mut c = rule_with("    threshold: {type: limit, track: by_src, count: 2, seconds: 10}\n");
    let mut d = rule_with("    threshold: {type: limit, track: by_src, count: 2, seconds: 10}\n");
    let apart = count(&mut c, "10.0.0.5", &[0, 2]) + count(&mut d, "10.0.0.5", &[1, 3]);
    assert_eq!(apart, 4);
}

#[test]
fn shared_threshold_counts_late_events_of_another_worker() {
    let (mut a, mut b) =
        two_workers("    threshold: {type: threshold, track: by_src, count: 3, seconds: 60}\n");
    // Worker a is ahead in time; b's events, a little older, still count in
    // the window a opened: the third match alerts.
    assert_eq!(count(&mut a, "10.0.0.5", &[10]), 0);
    assert_eq!(count(&mut b, "10.0.0.5", &[9]), 0);
    assert_eq!(count(&mut b, "10.0.0.5", &[8]), 1);
    // An event more than a window older than the start begins a new window.
    assert_eq!(count(&mut a, "10.0.0.5", &[-100, -99]), 0);
    assert_eq!(count(&mut b, "10.0.0.5", &[-98]), 1);
}

#[test]
fn shared_detection_filter_spans_workers() {
    let (mut a, mut b) =
        two_workers("    detection_filter: {track: by_src, count: 2, seconds: 60}\n");
    assert_eq!(count(&mut a, "10.0.0.5", &[0]), 0);
    assert_eq!(count(&mut b, "10.0.0.5", &[1]), 0);
    assert_eq!(count(&mut a, "10.0.0.5", &[2]), 1, "third match overall");
    assert_eq!(count(&mut b, "10.0.0.5", &[3]), 1);
}

#[test]
fn detection_filter_alerts_after_count() {
    let mut e = rule_with("    detection_filter: {track: by_flow, count: 2, seconds: 60}\n");
    assert_eq!(count(&mut e, "10.0.0.5", &[0, 1, 2, 3]), 2);
}

#[test]
fn suppression_drops_listed_hosts() {
    let mut e = rule_with("    suppress:\n      - {track: by_src, ip: [10.0.0.5]}\n");
    assert_eq!(count(&mut e, "10.0.0.5", &[0]), 0);
    assert_eq!(count(&mut e, "10.0.0.6", &[0]), 1);
    let mut e = rule_with("    suppress:\n      - {track: by_either, ip: 10.0.0.10}\n");
    assert_eq!(count(&mut e, "10.0.0.6", &[0]), 0);
}

#[test]
fn flow_flags_correlate_a_sequence() {
    let yaml = "rules:
  - {id: 1, name: set, severity: info, protocol: modbus, description: d, noalert: true,
     match: {function: diagnostics}, flow: {set: [diag]}}
  - {id: 2, name: after, severity: high, protocol: modbus, description: d,
     match: {function: 3}, flow: {require: [diag]}}
  - {id: 3, name: clear, severity: info, protocol: modbus, description: d, noalert: true,
     match: {function: 6}, flow: {unset: [diag]}}
";
    let mut e = Engine::new(Arc::new(load(yaml)));
    let f = flow("10.0.0.5", 502);
    assert!(modbus_at(&mut e, &f, 0, Some(READ_100_10), None).is_empty());
    assert!(
        modbus_at(&mut e, &f, 1, Some(DIAG_4), None).is_empty(),
        "noalert"
    );
    assert_eq!(modbus_at(&mut e, &f, 2, Some(READ_100_10), None), vec![2]);
    let other = FlowInfo { id: 8, ..f };
    assert!(
        modbus_at(&mut e, &other, 3, Some(READ_100_10), None).is_empty(),
        "per flow"
    );
    assert!(modbus_at(&mut e, &f, 4, Some(WRITE_5_DEAD), None).is_empty());
    assert!(
        modbus_at(&mut e, &f, 5, Some(READ_100_10), None).is_empty(),
        "unset"
    );
    e.flow_end(7);
}

#[test]
fn anomaly_rules_match_by_name() {
    let yaml = "rules:
  - {id: 1, name: a, severity: low, protocol: modbus, description: d, match: {anomaly: non_modbus_traffic}}
  - {id: 2, name: b, severity: low, protocol: stream, description: d, match: {anomaly: reassembly_gap, src_ip: 10.0.0.0/8}}
";
    let fired = anomalies_fire(
        yaml,
        &[
            ("modbus", "non_modbus_traffic"),
            ("modbus", "length_mismatch"),
            ("stream", "reassembly_gap"),
        ],
    );
    assert_eq!(fired, vec![1, 2]);
}

/// Runs one anomaly event per `(protocol, name)` through `yaml`'s rules;
/// returns the ids of the rules that fired.
fn anomalies_fire(yaml: &str, events: &[(&'static str, &'static str)]) -> Vec<u32> {
    let mut e = Engine::new(Arc::new(load(yaml)));
    let f = flow("10.0.0.5", 502);
    let mut fired = Vec::new();
    for &(protocol, name) in events {
        let a = Anomaly {
            protocol,
            name,
            detail: &"x",
            direction: None,
        };
        let ev = Event {
            ts: Timestamp::new(0, 0),
            app: AppEvent::Anomaly(a),
        };
        e.inspect(&f, &ev, &mut |al| fired.push(al.rule.id));
    }
    fired
}

#[test]
fn stream_and_decode_rules_take_every_name_the_proto_crate_declares() {
    // Names raised by the pipeline that the rules refused before they came
    // from the proto crate's lists.
    let yaml = "rules:
  - {id: 1, name: a, severity: low, protocol: stream, description: d, match: {anomaly: ack_regression}}
  - {id: 2, name: b, severity: low, protocol: stream, description: d, match: {anomaly: syn_on_established}}
  - {id: 3, name: c, severity: low, protocol: decode, description: d, match: {anomaly: [ip_length_zero, ip_length_beyond_frame]}}
  - {id: 4, name: d, severity: low, protocol: decode, description: d, match: {anomaly: fragment_refused}}
  - {id: 5, name: e, severity: low, protocol: decode, description: d, match: {anomaly: fragment_not_reassembled}}
";
    let fired = anomalies_fire(
        yaml,
        &[
            ("stream", "ack_regression"),
            ("stream", "syn_on_established"),
            ("decode", "ip_length_zero"),
            ("decode", "ip_length_beyond_frame"),
            ("ipv4", "fragment_refused"),
            ("ipv6", "fragment_not_reassembled"),
            // A decode name raised by another layer is not a decode anomaly.
            ("stream", "fragment_refused"),
        ],
    );
    assert_eq!(fired, vec![1, 2, 3, 3, 4, 5]);
}

#[test]
fn indexes_rules_by_function() {
    let mut yaml = String::from("rules:\n");
    for i in 0..100u32 {
        yaml.push_str(&format!(
            "  - {{id: {i}, name: r, severity: low, protocol: modbus, description: d, match: {{function: {}}}}}\n",
            1 + i % 20
        ));
    }
    yaml.push_str("  - {id: 1000, name: any, severity: low, protocol: modbus, description: d, match: {unit_id: 1}}\n");
    let set = load(&yaml);
    assert_eq!(
        set.candidates(crate::Layer::App(ProtocolId::Modbus), 3),
        6,
        "5 rules on function 3 + 1 unindexed"
    );
}

// ---- error messages -------------------------------------------------------

fn one_error(yaml: &str) -> crate::RuleError {
    let e = errors(yaml);
    assert_eq!(e.len(), 1, "{e}");
    e.0[0].clone()
}

const HEAD: &str =
    "rules:\n  - id: 1\n    name: t\n    severity: low\n    protocol: modbus\n    description: d\n";

#[test]
fn reports_unknown_rule_keys_with_position_and_choices() {
    let e = one_error(&format!(
        "{HEAD}    sevrity: high\n    match: {{function: 3}}\n"
    ));
    assert_eq!((e.pos.line, e.pos.column), (7, 5));
    assert_eq!(e.kind, ErrorKind::Syntax);
    assert!(
        e.message.contains("unknown field `sevrity`") && e.message.contains("severity"),
        "{}",
        e.message
    );
    assert_eq!(e.to_string(), format!("t.yaml:7:5: {}", e.message));
}

#[test]
fn reports_unknown_severity_with_choices() {
    let yaml = "rules:\n  - id: 1\n    name: t\n    severity: hgh\n    protocol: modbus\n    description: d\n    match: {function: 3}\n";
    let e = one_error(yaml);
    assert_eq!((e.pos.line, e.pos.column), (4, 15));
    assert!(
        e.message.contains("unknown variant `hgh`") && e.message.contains("critical"),
        "{}",
        e.message
    );
}

#[test]
fn reports_unknown_protocol_with_choices() {
    let yaml = "rules:\n  - id: 1\n    name: t\n    severity: low\n    protocol: modbuss\n    description: d\n    match: {function: 3}\n";
    let e = one_error(yaml);
    assert!(
        e.message.contains("modbuss") && e.message.contains("dnp3"),
        "{}",
        e.message
    );
    // Every protocol of the proto registry, then the anomaly-only layers.
    let mut names: Vec<&str> = ProtocolId::ALL.iter().map(|p| p.name()).collect();
    names.extend(["stream", "decode", "baseline"]);
    let protocol = |p: &str| {
        let yaml = format!("rules:\n  - id: 1\n    name: t\n    severity: low\n    protocol: {p}\n    description: d\n    match: {{anomaly: x}}\n");
        let e = one_error(&yaml);
        (e.pos.line, e.pos.column, e.message)
    };
    for wrong in ["modbuss", "Modbus", "5", "~"] {
        assert_eq!(
            protocol(wrong),
            (
                5,
                15,
                format!(
                    "unknown variant `{wrong}`, expected one of {}",
                    names.join(", ")
                )
            )
        );
    }
    // Not a scalar: the messages of a unit-only enum.
    assert_eq!(
        protocol("[modbus]"),
        (
            5,
            15,
            "externally tagged enum expected scalar or mapping".to_owned()
        )
    );
    assert_eq!(
        protocol("{modbus: 1}"),
        (5, 24, "unexpected value for unit enum variant".to_owned())
    );
    // Each name loads (the anomaly name is then the one that is wrong).
    for name in names {
        let (_, _, message) = protocol(name);
        assert!(
            message.starts_with(&format!(
                "unknown anomaly `x` for protocol {name}; valid names: "
            )),
            "{message}"
        );
    }
}

#[test]
fn reports_unknown_field_with_the_protocols_fields() {
    let e = one_error(&format!("{HEAD}    match:\n      fucntion: 3\n"));
    assert_eq!(
        (e.pos.line, e.pos.column, e.kind),
        (8, 7, ErrorKind::UnknownField)
    );
    assert!(
        e.message
            .starts_with("unknown field `fucntion` for protocol modbus; valid fields: src_ip,")
            && e.message.contains("diagnostic.subfunction"),
        "{}",
        e.message
    );
}

#[test]
fn reports_unscopable_fields() {
    let e = one_error(&format!("{HEAD}    match:\n      request.unit_id: 3\n"));
    assert_eq!(e.kind, ErrorKind::UnknownField);
    assert!(
        e.message
            .contains("only some fields take request./response."),
        "{}",
        e.message
    );
}

#[test]
fn reports_unknown_enum_value_with_names() {
    let e = one_error(&format!("{HEAD}    match:\n      function: read_colis\n"));
    assert_eq!(
        (e.pos.line, e.pos.column, e.kind),
        (8, 17, ErrorKind::UnknownValue)
    );
    assert!(
        e.message.starts_with(
            "unknown value `read_colis` for modbus.function; valid names: read_coils,"
        ),
        "{}",
        e.message
    );
}

#[test]
fn reports_numbers_out_of_range() {
    let e = one_error(&format!("{HEAD}    match:\n      unit_id: 300\n"));
    assert_eq!(e.kind, ErrorKind::BadValue);
    assert_eq!(
        e.message,
        "modbus.unit_id takes a number from 0 to 255, found `300`"
    );
}

#[test]
fn reports_unknown_operators() {
    let e = one_error(&format!("{HEAD}    match:\n      function: {{nott: 3}}\n"));
    assert_eq!(
        (e.kind, e.pos.line, e.pos.column),
        (ErrorKind::BadOperator, 8, 18)
    );
    assert!(
        e.message.starts_with(
            "unknown operator `nott` for modbus.function; valid operators: eq, in, not,"
        ),
        "{}",
        e.message
    );
    let e = one_error(&format!("{HEAD}    match:\n      src_ip: {{gt: 3}}\n"));
    assert!(
        e.message
            .starts_with("unknown operator `gt` for modbus.src_ip"),
        "{}",
        e.message
    );
    let e = one_error(&format!("{HEAD}    match:\n      address: {{value: 3}}\n"));
    assert_eq!(e.message, "`value` needs `mask`");
}

#[test]
fn reports_bad_ranges_addresses_and_patterns() {
    let e = one_error(&format!(
        "{HEAD}    match:\n      address: {{range: [9, 3]}}\n"
    ));
    assert_eq!(
        e.message,
        "range 9-3 is empty: the first bound is above the second"
    );
    let e = one_error(&format!("{HEAD}    match:\n      src_ip: 10.0.0.300\n"));
    assert!(
        e.message
            .starts_with("modbus.src_ip takes an address or network"),
        "{}",
        e.message
    );
    let e = one_error(&format!("{HEAD}    match:\n      content: '|4|'\n"));
    assert_eq!(
        e.message,
        "bad content pattern `|4|`: odd number of hex digits between `|`"
    );
    let e = one_error(&format!("{HEAD}    match:\n      content: '|zz|'\n"));
    assert!(e.message.contains("not a hex digit"), "{}", e.message);
}

#[test]
fn reports_unknown_variables_and_anomalies() {
    let e = one_error(&format!(
        "vars:\n  a: [10.0.0.1]\n{HEAD}    match:\n      src_ip: $b\n"
    ));
    assert_eq!((e.kind, e.pos.line), (ErrorKind::UnknownVar, 10));
    assert_eq!(e.message, "unknown variable `$b`; defined: a");
    let e = one_error(&format!("{HEAD}    match:\n      anomaly: bogus\n"));
    assert_eq!(e.kind, ErrorKind::UnknownValue);
    assert!(
        e.message.starts_with(
            "unknown anomaly `bogus` for protocol modbus; valid names: bad_protocol_id,"
        ),
        "{}",
        e.message
    );
}

#[test]
fn reports_rule_level_mistakes() {
    let e = one_error(&format!(
        "{HEAD}    attack: [T0814, X1]\n    match: {{function: 3}}\n"
    ));
    assert_eq!(
        e.message,
        "`X1` is not an ATT&CK technique id (T0801, T0843, T0836.001)"
    );
    let e = one_error(&format!(
        "{HEAD}    match: {{anomaly: non_modbus_traffic, function: 3}}\n"
    ));
    assert!(
        e.message.contains("cannot be combined with `anomaly`"),
        "{}",
        e.message
    );
    let e = one_error("rules:\n  - {id: 1, name: t, severity: low, protocol: stream, description: d, match: {src_ip: 10.0.0.1}}\n");
    assert_eq!(
        e.message,
        "protocol stream has only anomaly events: `match` needs `anomaly`"
    );
    let e = one_error(&format!("{HEAD}    match: {{function: 3}}\n    threshold: {{type: limit, track: by_src, count: 0, seconds: 5}}\n"));
    assert_eq!(e.message, "`count` must be at least 1");
    let e = one_error(&format!("{HEAD}    match: {{function: 3}}\n    threshold: {{type: limit, track: by_src, count: 1, seconds: 5}}\n    detection_filter: {{track: by_src, count: 1, seconds: 5}}\n"));
    assert_eq!(
        e.message,
        "a rule takes `threshold` or `detection_filter`, not both"
    );
    let e = one_error(&format!("{HEAD}    match: {{function: 3}}\n    threshold: {{type: sometimes, track: by_src, count: 1, seconds: 5}}\n"));
    assert!(
        e.message.contains("unknown variant `sometimes`") && e.message.contains("both"),
        "{}",
        e.message
    );
    let e = one_error("vars:\n  bad-name: []\nrules: []\n");
    assert_eq!(
        e.message,
        "variable name `bad-name` must be letters, digits and `_`"
    );
}

#[test]
fn reports_duplicate_ids_and_yaml_errors() {
    let e = one_error("rules:\n  - {id: 1, name: a, severity: low, protocol: modbus, description: d, match: {function: 3}}\n  - {id: 1, name: b, severity: low, protocol: modbus, description: d, match: {function: 4}}\n");
    assert_eq!((e.kind, e.pos.line), (ErrorKind::DuplicateId, 3));
    assert_eq!(e.message, "rule id 1 is already used at t.yaml:2:10");
    let e = one_error("rules: [\n");
    assert_eq!(e.kind, ErrorKind::Syntax);
    let e = one_error("rulez: []\n");
    assert!(e.message.contains("unknown field `rulez`"), "{}", e.message);
}

#[test]
fn reports_every_error_of_a_file_at_once_and_loads_nothing() {
    let yaml = "rules:
  - id: 1
    name: a
    severity: low
    protocol: modbus
    description: d
    match:
      function: nope
      unit: 3
  - id: 2
    name: b
    severity: extreme
    protocol: modbus
    description: d
    match: {function: 3}
  - id: 3
    name: c
    severity: low
    protocol: dnp3
    description: d
    match:
      function: cold_restart
      object.group: 999
";
    let e = errors(yaml);
    let lines: Vec<(u32, ErrorKind)> = e.iter().map(|e| (e.pos.line, e.kind)).collect();
    assert_eq!(
        lines,
        vec![
            (8, ErrorKind::UnknownValue),
            (9, ErrorKind::UnknownField),
            (12, ErrorKind::Syntax),
            (23, ErrorKind::BadValue)
        ],
        "{e}"
    );
}

// ---- input limits -----------------------------------------------------------

/// A rule file with one Modbus rule whose `content` is `pattern` (line 8,
/// column 16).
fn content_rule(pattern: &str) -> String {
    format!("{HEAD}    match:\n      content: '{pattern}'\n")
}

/// A fresh folder under the system's temporary folder, removed on drop.
struct TempDir(std::path::PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("otwatch-rules-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn a_64k_content_pattern_is_refused_quickly_with_its_position() {
    // 64 kB of one byte: the periodic pattern that made the automaton's
    // construction quadratic (minutes) before the length limit.
    let started = std::time::Instant::now();
    let e = one_error(&content_rule(&"A".repeat(65_536)));
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(
        (e.kind, e.pos.line, e.pos.column),
        (ErrorKind::BadValue, 8, 16)
    );
    assert_eq!(
        e.message,
        format!(
            "content pattern `{}…` (65536 characters) is 65536 bytes, more than the limit of 4096 bytes (no modbus PDU is that long)",
            "A".repeat(40)
        )
    );
    // The limit counts decoded bytes: 4097 bytes written as hex.
    let hex = format!("|{}|", "41 ".repeat(4097).trim_end());
    let e = one_error(&content_rule(&hex));
    assert!(e.message.contains("is 4097 bytes"), "{}", e.message);
}

#[test]
fn a_content_pattern_at_the_limit_compiles_fast_and_matches() {
    // 4096 bytes of one value: the worst case for a DFA, built as an NFA.
    let pattern = "A".repeat(crate::compile::MAX_CONTENT_LEN);
    let started = std::time::Instant::now();
    let set = load(&content_rule(&pattern));
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    let mut e = Engine::new(Arc::new(set));
    let f = flow("10.0.0.5", 502);
    // A buffer that holds the pattern after a function code byte, and one
    // byte short of it.
    let mut pdu = vec![0x41; crate::compile::MAX_CONTENT_LEN + 1];
    pdu[0] = 0x10;
    assert_eq!(modbus_at(&mut e, &f, 0, Some(&pdu), None), vec![1]);
    pdu[1] = 0x00;
    assert!(modbus_at(&mut e, &f, 1, Some(&pdu), None).is_empty());
}

#[test]
fn many_long_periodic_patterns_build_in_linear_time() {
    // 256 distinct patterns of 4096 bytes (1 MiB, the per-protocol limit),
    // each one byte followed by 4095 `A`: before, the DFA took about
    // n² steps per pattern.
    let mut rules = String::from("rules:\n");
    for r in 0..4 {
        rules.push_str(&format!(
            "  - id: {}\n    name: t\n    severity: low\n    protocol: modbus\n    description: d\n    match:\n      content:\n        in:\n",
            r + 1
        ));
        for i in 0..64 {
            rules.push_str(&format!(
                "          - '|{:02x}|{}'\n",
                r * 64 + i,
                "A".repeat(4095)
            ));
        }
    }
    let started = std::time::Instant::now();
    let set = load(&rules);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(set.len(), 4);
    // One more distinct pattern (two leading `B`: unlike every pattern
    // above) is past the byte limit of the protocol.
    rules.push_str(&format!(
        "  - id: 9\n    name: t\n    severity: low\n    protocol: modbus\n    description: d\n    match:\n      content: 'BB{}'\n",
        "A".repeat(4094)
    ));
    let e = one_error(&rules);
    assert_eq!((e.kind, e.pos.line), (ErrorKind::Invalid, 4 * 72 + 8));
    assert_eq!(
        e.message,
        "the distinct content patterns of protocol modbus exceed 1048576 bytes in the ruleset"
    );
}

#[test]
fn content_pattern_counts_are_limited_per_rule_and_per_protocol() {
    // 65 patterns in one rule: refused once, at the 65th (line 8 + 65).
    let mut yaml = format!("{HEAD}    match:\n      content:\n");
    for i in 0..65 {
        yaml.push_str(&format!("        - 'p{i}'\n"));
    }
    let e = one_error(&yaml);
    assert_eq!(
        (e.kind, e.pos.line, e.pos.column),
        (ErrorKind::Invalid, 73, 11)
    );
    assert_eq!(
        e.message,
        "more than 64 content patterns in one rule; split the rule"
    );
    // 64 in one rule load.
    let at_limit: String = yaml
        .lines()
        .take(8 + 64)
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(load(&at_limit).len(), 1);

    // 4097 distinct patterns over 65 rules: refused once, at the 4097th.
    let mut yaml = String::from("rules:\n");
    for r in 0..65 {
        yaml.push_str(&format!(
            "  - id: {}\n    name: t\n    severity: low\n    protocol: modbus\n    description: d\n    match:\n      content: {{in: [",
            r + 1
        ));
        for i in 0..64 {
            yaml.push_str(&format!("'r{r}p{i}', "));
        }
        yaml.push_str("]}\n");
    }
    let e = one_error(&yaml);
    assert_eq!((e.kind, e.pos.line), (ErrorKind::Invalid, 64 * 7 + 8));
    assert_eq!(
        e.message,
        "more than 4096 distinct content patterns for protocol modbus in the ruleset"
    );
    // The same pattern in many rules counts once.
    let mut same = String::from("rules:\n");
    for r in 0..5000 {
        same.push_str(&format!(
            "  - {{id: {}, name: t, severity: low, protocol: modbus, description: d, match: {{content: 'same'}}}}\n",
            r + 1
        ));
    }
    assert_eq!(load(&same).len(), 5000);
}

#[test]
fn rules_check_of_a_1_4_mb_pattern_file_returns_promptly() {
    // `otwatch rules check PATH` is `Ruleset::load(PATH)`.
    let dir = TempDir::new("big-pattern");
    let path = dir.0.join("big.yaml");
    std::fs::write(&path, content_rule(&"|de ad|".repeat(200_000))).expect("write");
    let started = std::time::Instant::now();
    let e = match Ruleset::load(&path) {
        Ok(_) => panic!("loaded"),
        Err(e) => e,
    };
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(e.len(), 1, "{e}");
    let text = e.to_string();
    assert!(
        text.starts_with(&format!(
            "{}:8:16: content pattern `|de ad||de ad|",
            path.display()
        )),
        "{text}"
    );
    assert!(
        text.contains("is 400000 bytes, more than the limit of 4096 bytes"),
        "{text}"
    );
}

#[test]
fn the_rule_file_size_limit_is_named_in_its_error() {
    let dir = TempDir::new("big-file");
    let path = dir.0.join("huge.yaml");
    let size = crate::load::MAX_RULE_FILE_BYTES + 1;
    let mut text = String::from("rules: []\n");
    text.push_str(&"#".repeat(size as usize - text.len() - 1));
    text.push('\n');
    std::fs::write(&path, &text).expect("write");
    let e = match Ruleset::load(&path) {
        Ok(_) => panic!("loaded"),
        Err(e) => e,
    };
    assert_eq!(
        e.to_string(),
        format!(
            "{}: file is 8388609 bytes, more than the limit of 8388608 bytes for a rule file",
            path.display()
        )
    );
    assert_eq!(e.0[0].kind, ErrorKind::Io);
    // Text given directly is held to the same limit.
    let e = errors(&text);
    assert_eq!(
        e.to_string(),
        "t.yaml: file is 8388609 bytes, more than the limit of 8388608 bytes for a rule file"
    );
}

/// A read of `qty` holding registers from `addr` (function 3).
fn read_regs(addr: u16, qty: u16) -> [u8; 5] {
    let [a, b] = addr.to_be_bytes();
    let [q, r] = qty.to_be_bytes();
    [0x03, a, b, q, r]
}

/// The exception answer "illegal data address" to function 3.
const ILLEGAL_ADDRESS: &[u8] = &[0x83, 0x02];

fn rule_over(rule_match: &str, extra: &str) -> Engine {
    let yaml = format!("{HEAD}    match: {rule_match}\n{extra}");
    Engine::new(Arc::new(load(&yaml)))
}

fn to_server(src: &str, dest: &str) -> FlowInfo {
    FlowInfo {
        dest: dest.parse().expect("ip"),
        ..flow(src, 502)
    }
}

#[test]
fn distinct_destinations_make_a_horizontal_scan() {
    let mut e = rule_over(
        "{function: 3}",
        "    threshold: {type: both, track: by_src, count: 3, seconds: 60, distinct: dest_ip}\n",
    );
    let poll = |e: &mut Engine, dest: &str, t| {
        modbus_at(e, &to_server("10.0.0.5", dest), t, Some(READ_100_10), None).len()
    };
    // A master polling one server all day never reaches three servers.
    let polls: usize = (0..50).map(|t| poll(&mut e, "10.0.0.10", t)).sum();
    assert_eq!(polls, 0);
    // A second server, then a third: the third distinct one alerts, once.
    assert_eq!(poll(&mut e, "10.0.0.11", 51), 0);
    assert_eq!(poll(&mut e, "10.0.0.12", 52), 1);
    assert_eq!(
        poll(&mut e, "10.0.0.13", 53),
        0,
        "`both` alerts once per window"
    );
    // The window of another source is its own.
    assert_eq!(
        modbus_at(
            &mut e,
            &to_server("10.0.0.6", "10.0.0.12"),
            54,
            Some(READ_100_10),
            None
        )
        .len(),
        0
    );
    // A remembered window holds only as many values as the count needs.
    assert_eq!(e.thresholds().distinct_values(), 3 + 1);
}

#[test]
fn distinct_rejected_addresses_tell_a_sweep_from_a_misconfigured_poller() {
    let mut e = rule_over(
        "{exception: illegal_data_address}",
        "    threshold: {type: threshold, track: by_pair, count: 10, seconds: 60, distinct: modbus.address}\n",
    );
    let f = flow("10.0.0.5", 502);
    // The same missing register polled every second: one distinct address.
    let poller: usize = (0..120)
        .map(|t| {
            modbus_at(
                &mut e,
                &f,
                t / 2,
                Some(&read_regs(40, 2)),
                Some(ILLEGAL_ADDRESS),
            )
            .len()
        })
        .sum();
    assert_eq!(poller, 0);
    // Ten different single registers rejected within the minute: a sweep.
    let sweep: Vec<usize> = (0..10)
        .map(|i| {
            modbus_at(
                &mut e,
                &f,
                61,
                Some(&read_regs(1000 + i, 1)),
                Some(ILLEGAL_ADDRESS),
            )
            .len()
        })
        .collect();
    assert_eq!(sweep, [0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    // A successful read is not an exception: the rule does not see it.
    assert_eq!(
        modbus_at(
            &mut e,
            &f,
            62,
            Some(&read_regs(2000, 1)),
            Some(&[0x03, 0x02, 0, 7])
        )
        .len(),
        0
    );
}

#[test]
fn distinct_limit_alerts_on_each_new_value_up_to_count() {
    let mut e = rule_over(
        "{function: 3}",
        "    threshold: {type: limit, track: by_src, count: 2, seconds: 60, distinct: modbus.address}\n",
    );
    let f = flow("10.0.0.5", 502);
    let fired: Vec<usize> = [10, 10, 20, 10, 30, 40]
        .iter()
        .map(|a| modbus_at(&mut e, &f, 0, Some(&read_regs(*a, 1)), None).len())
        .collect();
    // 10 new, 10 again, 20 new, 10 again, 30 new but past the limit.
    assert_eq!(fired, [1, 0, 1, 0, 0, 0]);
    // The next window starts again.
    assert_eq!(
        modbus_at(&mut e, &f, 61, Some(&read_regs(10, 1)), None).len(),
        1
    );
}

#[test]
fn distinct_detection_filter_alerts_past_count_values() {
    let mut e = rule_over(
        "{function: 3}",
        "    detection_filter: {track: by_src, count: 2, seconds: 60, distinct: modbus.address}\n",
    );
    let f = flow("10.0.0.5", 502);
    let fired: Vec<usize> = [1, 2, 1, 2, 3, 3, 1, 4]
        .iter()
        .map(|a| modbus_at(&mut e, &f, 0, Some(&read_regs(*a, 1)), None).len())
        .collect();
    // Two values are not past the count; from the third on, every match
    // alerts, whether its value is new or not.
    assert_eq!(fired, [0, 0, 0, 0, 1, 1, 1, 1]);
    // Once past the count no more values are remembered.
    assert_eq!(e.thresholds().distinct_values(), 3);
}

#[test]
fn distinct_counts_each_value_of_a_pdu_once() {
    // One read of ten registers is one address range: one value, however
    // many registers it spans, and the same range again is no new value.
    let mut e = rule_over(
        "{function: 3}",
        "    threshold: {type: threshold, track: by_src, count: 2, seconds: 60, distinct: modbus.address}\n",
    );
    let f = flow("10.0.0.5", 502);
    assert_eq!(
        modbus_at(&mut e, &f, 0, Some(&read_regs(0, 10)), None).len(),
        0
    );
    assert_eq!(
        modbus_at(&mut e, &f, 1, Some(&read_regs(0, 10)), None).len(),
        0
    );
    assert_eq!(
        modbus_at(&mut e, &f, 2, Some(&read_regs(0, 11)), None).len(),
        1
    );
    // `threshold` starts counting again after it alerts.
    assert_eq!(e.thresholds().distinct_values(), 0);
}

#[test]
fn distinct_rejects_unknown_fields_buffers_and_huge_counts() {
    let e = one_error(&format!("{HEAD}    match: {{function: 3}}\n    threshold: {{type: both, track: by_src, count: 3, seconds: 60, distinct: dest_ipp}}\n"));
    assert_eq!((e.pos.line, e.kind), (8, ErrorKind::UnknownField));
    assert!(
        e.message.starts_with(
            "`distinct: dest_ipp`: unknown field for protocol modbus; valid fields: src_ip,"
        ),
        "{}",
        e.message
    );
    let e = one_error(&format!("{HEAD}    match: {{function: 3}}\n    detection_filter: {{track: by_src, count: 3, seconds: 60, distinct: content}}\n"));
    assert_eq!(
        e.message,
        "`distinct: content`: a payload buffer cannot be counted; name a field"
    );
    let e = one_error(&format!("{HEAD}    match: {{function: 3}}\n    threshold: {{type: both, track: by_src, count: 5000, seconds: 60, distinct: dest_ip}}\n"));
    assert_eq!(
        e.message,
        "`count` is 5000, more than 1024, the most distinct values a window remembers"
    );
    // Without `distinct`, large counts stay allowed.
    load(&format!("{HEAD}    match: {{function: 3}}\n    threshold: {{type: both, track: by_src, count: 5000, seconds: 60}}\n"));
}

#[test]
fn distinct_values_stay_bounded_under_a_flood_of_sources() {
    use crate::engine::MAX_DISTINCT_VALUES;
    let mut e = rule_over(
        "{function: 3}",
        "    threshold: {type: both, track: by_src, count: 1024, seconds: 3600, distinct: modbus.address}\n",
    );
    // 1,100 sources, each reading 1,000 different addresses: 1.1 million
    // values, more than the table remembers.
    let mut f = flow("10.0.0.5", 502);
    for s in 0..1100u32 {
        f.src = std::net::IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + s));
        for a in 0..1000u16 {
            modbus_at(&mut e, &f, 0, Some(&read_regs(a, 1)), None);
        }
    }
    let t = e.thresholds();
    assert!(
        t.distinct_values() <= MAX_DISTINCT_VALUES,
        "{}",
        t.distinct_values()
    );
    assert!(t.distinct_values() > MAX_DISTINCT_VALUES - 1000);
    // What was dropped to make room is counted.
    assert!(t.evicted() >= 48, "{}", t.evicted());
}
