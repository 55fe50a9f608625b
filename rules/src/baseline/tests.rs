//! The baseline on real Modbus PDUs (decoded by the proto crate): learning,
//! each deviation kind, the repeat limit, the learning caps, the file (round
//! trip, every error with its position, hostile input) and Accept from an
//! alert line.

use std::sync::Arc;

use otwatch_proto::event::{AppEvent, Event, Timestamp};
use otwatch_proto::json::JsonWriter;
use otwatch_proto::modbus::{self, pdu, FunctionCode};

use super::*;
use crate::{Engine, Ruleset};

/// Read holding registers 100-109.
const READ_100_10: &[u8] = &[
    0x03, // function 3: read holding registers
    0x00, 0x64, // start address 100
    0x00, 0x0a, // quantity 10
];
/// Read holding registers 200-201: the same function elsewhere.
const READ_200_2: &[u8] = &[0x03, 0x00, 0xc8, 0x00, 0x02];
/// Read input registers 0-3: another read function.
const READ_INPUT_0_4: &[u8] = &[0x04, 0x00, 0x00, 0x00, 0x04];
/// Write single register 105 := 0xdead.
const WRITE_105: &[u8] = &[
    0x06, // function 6: write single register
    0x00, 0x69, // address 105
    0xde, 0xad, // value
];
/// Write single register 300 := 1.
const WRITE_300: &[u8] = &[0x06, 0x01, 0x2c, 0x00, 0x01];
/// Write single coil 7 on.
const COIL_7_ON: &[u8] = &[
    0x05, // function 5: write single coil
    0x00, 0x07, // coil 7
    0xff, 0x00, // on
];
/// Diagnostics 8/4: force listen only mode.
const LISTEN_ONLY: &[u8] = &[
    0x08, // function 8: diagnostics
    0x00, 0x04, // sub-function 4: force listen only mode
    0x00, 0x00, // data
];
/// Read device identification, extended (43/14 code 3).
const DEVID_EXTENDED: &[u8] = &[
    0x2b, // function 43: encapsulated interface transport
    0x0e, // MEI 14: read device identification
    0x03, // access code 3: extended
    0x00, // object 0
];

fn flow(src: &str, dest: &str, port: u16) -> FlowInfo {
    FlowInfo {
        id: 1,
        src: src.parse().expect("ip"),
        src_port: 40_000,
        dest: dest.parse().expect("ip"),
        dest_port: port,
    }
}

const MASTER: &str = "10.0.0.5";
const PLC: &str = "10.0.0.10";

/// Calls `f` with the Modbus transaction of request `req` to `unit`.
fn with_tx<R>(req: &[u8], unit: u8, f: impl FnOnce(&AppEvent<'_>) -> R) -> R {
    let tx = modbus::Transaction {
        transaction_id: 1,
        unit_id: unit,
        request: Some(modbus::Message {
            ts: Timestamp::new(0, 0),
            function: FunctionCode::from(req[0] & 0x7f),
            pdu: req,
            body: pdu::decode_request(req),
        }),
        response: None,
    };
    f(&AppEvent::Modbus(&tx))
}

/// The baseline of a master that read holding registers 100-109 and input
/// registers 0-3 and wrote register 105, on unit 1.
fn learned() -> Baseline {
    let mut b = Baseline::default();
    let f = flow(MASTER, PLC, 502);
    for (i, req) in [READ_100_10, READ_INPUT_0_4, WRITE_105, READ_100_10]
        .iter()
        .enumerate()
    {
        with_tx(req, 1, |app| {
            b.learn(&f, Timestamp::new(1000 + i as i64, 0), app)
        });
    }
    b
}

/// The deviations `b` finds in `req` from `src` to `dest:port`, unit `unit`.
fn deviations(
    b: &Baseline,
    src: &str,
    dest: &str,
    port: u16,
    req: &[u8],
    unit: u8,
) -> Vec<&'static str> {
    let mut out = Vec::new();
    with_tx(req, unit, |app| {
        b.check(&flow(src, dest, port), app, &mut |kind, _| {
            out.push(kind.name())
        })
    });
    out
}

#[test]
fn ranges_merge_what_overlaps_or_touches_and_stay_bounded() {
    let mut r = Ranges::default();
    r.insert(100, 109, 8);
    r.insert(110, 119, 8);
    r.insert(0, 9, 8);
    r.insert(105, 105, 8);
    assert_eq!(r.as_slice(), &[(0, 9), (100, 119)]);
    assert!(r.contains(100, 119) && r.contains(5, 5));
    assert!(!r.contains(9, 100) && !r.contains(120, 120) && !r.contains(10, 10));
    // Beyond the cap, the closest two are merged.
    r.insert(200, 200, 3);
    r.insert(1000, 1000, 3);
    assert_eq!(r.as_slice(), &[(0, 9), (100, 200), (1000, 1000)]);
    assert_eq!(r.to_string(), "0-9, 100-200, 1000");
}

#[test]
fn learning_keeps_servers_clients_operations_and_ranges() {
    let b = learned();
    assert_eq!((b.servers().count(), b.pairs(), b.operations()), (1, 1, 3));
    let (key, server) = b.servers().next().expect("a server");
    assert_eq!(key.port, 502);
    assert_eq!(server.stations.iter().copied().collect::<Vec<_>>(), [1]);
    assert_eq!(server.seen.count, 4);
    let client = &server.clients[&MASTER.parse::<IpAddr>().expect("ip")];
    assert_eq!(client.seen.count, 4);
    let ops = client.ops_in_order();
    // The write first, for the reviewer.
    assert_eq!(ops[0].class, OpClass::Write);
    assert_eq!(ops[0].ranges.as_slice(), &[(105, 105)]);
    let holding = ops.iter().find(|e| e.code == 3).expect("function 3");
    assert_eq!(holding.ranges.as_slice(), &[(100, 109)]);
    assert_eq!(holding.seen.count, 2);
    assert_eq!(holding.name.as_deref(), Some("read_holding_registers"));
    assert_eq!(b.learned.from, Some(Timestamp::new(1000, 0)));
    assert_eq!(b.learned.until, Some(Timestamp::new(1003, 0)));
}

#[test]
fn what_was_learned_raises_nothing() {
    let b = learned();
    for req in [READ_100_10, READ_INPUT_0_4, WRITE_105] {
        assert!(deviations(&b, MASTER, PLC, 502, req, 1).is_empty());
    }
    // A read within the learned range is within it.
    let inside = [0x03, 0x00, 0x65, 0x00, 0x02]; // 101-102
    assert!(deviations(&b, MASTER, PLC, 502, &inside, 1).is_empty());
}

#[test]
fn each_deviation_kind_on_real_pdus() {
    let b = learned();
    let d = |src, dest, port, req, unit| deviations(&b, src, dest, port, req, unit);
    assert_eq!(d(MASTER, "10.0.0.11", 502, READ_100_10, 1), ["new_server"]);
    assert_eq!(d(MASTER, PLC, 503, READ_100_10, 1), ["new_protocol"]);
    assert_eq!(d("10.0.0.66", PLC, 502, READ_100_10, 1), ["new_client"]);
    // A new pair's writes and controls are reported on their own too.
    assert_eq!(
        d("10.0.0.66", PLC, 502, WRITE_300, 1),
        ["new_client", "first_write"]
    );
    assert_eq!(
        d(MASTER, "10.0.0.11", 502, LISTEN_ONLY, 1),
        ["new_server", "first_control"]
    );
    assert_eq!(
        d(MASTER, PLC, 502, WRITE_105, 2),
        ["unknown_station", "first_write"]
    );
    assert_eq!(d(MASTER, PLC, 502, READ_100_10, 2), ["unknown_station"]);
    assert_eq!(d(MASTER, PLC, 502, READ_200_2, 1), ["read_outside_range"]);
    assert_eq!(d(MASTER, PLC, 502, WRITE_300, 1), ["write_outside_range"]);
    assert_eq!(d(MASTER, PLC, 502, COIL_7_ON, 1), ["new_write"]);
    assert_eq!(d(MASTER, PLC, 502, LISTEN_ONLY, 1), ["first_control"]);
    assert_eq!(
        d(MASTER, PLC, 502, DEVID_EXTENDED, 1),
        ["new_identification"]
    );
    let report_id = [0x11]; // function 17: report server id
    assert_eq!(d(MASTER, PLC, 502, &report_id, 1), ["new_identification"]);
    let exception_status = [0x07]; // function 7: read exception status
    assert_eq!(d(MASTER, PLC, 502, &exception_status, 1), ["new_operation"]);

    // A client that only read: its first write is a first write.
    let mut reader = Baseline::default();
    with_tx(READ_100_10, 1, |app| {
        reader.learn(&flow(MASTER, PLC, 502), Timestamp::new(1, 0), app)
    });
    assert_eq!(
        deviations(&reader, MASTER, PLC, 502, WRITE_105, 1),
        ["first_write"]
    );
    // A client that controlled before: another control is a new control.
    let mut controller = learned();
    with_tx(LISTEN_ONLY, 1, |app| {
        controller.learn(&flow(MASTER, PLC, 502), Timestamp::new(2, 0), app)
    });
    let restart = [0x08, 0x00, 0x01, 0x00, 0x00]; // 8/1 restart communications
    assert_eq!(
        deviations(&controller, MASTER, PLC, 502, &restart, 1),
        ["new_control"]
    );
}

#[test]
fn deviations_are_described_with_what_was_learned() {
    let b = learned();
    let f = flow(MASTER, PLC, 502);
    with_tx(READ_200_2, 1, |app| {
        let mut found = None;
        b.check(&f, app, &mut |kind, op| {
            found = b.describe(&f, Timestamp::new(5, 0), app, kind, op);
        });
        let d = found.expect("a deviation");
        assert_eq!(
            d.observed,
            "read read_holding_registers (3) unit 1 at 200-201"
        );
        assert_eq!(
            d.learned,
            "read read_holding_registers (3) unit 1 at 100-109 only"
        );
        assert_eq!(
            d.to_string(),
            "read_outside_range: read read_holding_registers (3) unit 1 at 200-201; learned: read read_holding_registers (3) unit 1 at 100-109 only"
        );
    });
    let rogue = flow("10.0.0.66", PLC, 502);
    with_tx(WRITE_300, 1, |app| {
        let mut found = Vec::new();
        b.check(&rogue, app, &mut |kind, op| {
            found.extend(b.describe(&rogue, Timestamp::new(5, 0), app, kind, op));
        });
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].kind, DeviationKind::NewClient);
        assert_eq!(found[0].learned, "clients 10.0.0.5");
        assert_eq!(found[1].kind, DeviationKind::FirstWrite);
        assert_eq!(
            found[1].observed,
            "write write_single_register (6) unit 1 at 300"
        );
        assert_eq!(found[1].learned, "nothing of this pair");
    });
}

/// The bundled `baseline` rules enforcing `b`.
fn engine(b: Baseline) -> Engine {
    let set = Ruleset::bundled()
        .expect("bundled rules")
        .with_baseline(Some(Arc::new(b)));
    Engine::new(Arc::new(set))
}

/// The rule ids and deviation kinds `engine` raises for `req` at `secs`.
fn alerts(engine: &mut Engine, src: &str, req: &[u8], secs: i64) -> Vec<(u32, String)> {
    let mut out = Vec::new();
    with_tx(req, 1, |app| {
        let event = Event {
            ts: Timestamp::new(secs, 0),
            app: *app,
        };
        engine.inspect(&flow(src, PLC, 502), &event, &mut |a| {
            let kind = a
                .deviation
                .map(|d| d.kind.name().to_owned())
                .unwrap_or_default();
            out.push((a.rule.id, kind));
        });
    });
    out
}

#[test]
fn the_engine_raises_the_bundled_deviation_rules_once_per_repeat_period() {
    let mut e = engine(learned());
    assert_eq!(alerts(&mut e, MASTER, READ_100_10, 10), []);
    assert_eq!(
        alerts(&mut e, MASTER, WRITE_300, 10),
        [(150_008, "write_outside_range".into())]
    );
    // The same deviation of the same pair: held back for an hour.
    assert_eq!(alerts(&mut e, MASTER, WRITE_300, 20), []);
    assert_eq!(alerts(&mut e, MASTER, WRITE_300, 10 + 3599), []);
    assert_eq!(e.deviations_held(), 2);
    assert_eq!(
        alerts(&mut e, MASTER, WRITE_300, 10 + 3600),
        [(150_008, "write_outside_range".into())]
    );
    // A write to another register of the same function is the same
    // deviation (the range is not part of it); another client is not.
    assert_eq!(
        alerts(&mut e, MASTER, &[0x06, 0x02, 0x00, 0x00, 0x01], 10 + 3601),
        []
    );
    assert_eq!(
        alerts(&mut e, "10.0.0.66", WRITE_300, 10),
        [
            (150_002, "new_client".into()),
            (150_009, "first_write".into())
        ]
    );
    // The new client's reads: nothing more within the hour.
    assert_eq!(alerts(&mut e, "10.0.0.66", READ_100_10, 11), []);
    let counts: u64 = e.deviations().map(|(_, n)| n).sum();
    assert_eq!(counts, 8);
}

#[test]
fn without_a_baseline_the_deviation_rules_are_silent() {
    let mut e = Engine::new(Arc::new(Ruleset::bundled().expect("bundled rules")));
    assert_eq!(alerts(&mut e, "10.0.0.66", WRITE_300, 10), []);
}

#[test]
fn a_flood_of_sources_while_learning_is_capped_and_counted() {
    let limits = Limits {
        clients_per_server: 8,
        ..Limits::default()
    };
    let mut b = Baseline::new(limits);
    for i in 0..1000u32 {
        let src = format!("10.9.{}.{}", i / 250, i % 250 + 1);
        with_tx(READ_100_10, 1, |app| {
            b.learn(&flow(&src, PLC, 502), Timestamp::new(i64::from(i), 0), app)
        });
    }
    assert_eq!(b.pairs(), 8);
    assert_eq!(b.dropped.clients, 992);
    // Random servers: capped too.
    let mut b = Baseline::new(Limits {
        servers: 16,
        ..Limits::default()
    });
    for i in 0..100u32 {
        let dest = format!("10.8.0.{}", i + 1);
        with_tx(READ_100_10, 1, |app| {
            b.learn(&flow(MASTER, &dest, 502), Timestamp::new(0, 0), app)
        });
    }
    assert_eq!((b.servers().count(), b.dropped.servers), (16, 84));
    // The file says so.
    assert!(file::render(&b).contains("NOT COMPLETE"));
}

#[test]
fn merging_two_halves_gives_the_whole() {
    let f = flow(MASTER, PLC, 502);
    let reqs = [
        READ_100_10,
        READ_INPUT_0_4,
        WRITE_105,
        READ_200_2,
        WRITE_300,
    ];
    let mut whole = Baseline::default();
    let (mut a, mut b) = (Baseline::default(), Baseline::default());
    for (i, req) in reqs.iter().enumerate() {
        let ts = Timestamp::new(i as i64, 0);
        with_tx(req, 1, |app| {
            whole.learn(&f, ts, app);
            if i % 2 == 0 {
                a.learn(&f, ts, app)
            } else {
                b.learn(&f, ts, app)
            }
        });
    }
    a.merge(&b);
    assert_eq!(file::render(&a), file::render(&whole));
}

#[test]
fn the_file_round_trips_and_reads_like_a_review() {
    let mut b = learned();
    // A PI service with bytes a person cannot type: kept byte for byte.
    let service: &[u8] = b"P_\"PROG\\\xff\x00";
    let op = Op::new(OpClass::Mode, 0x28, Some("plc_control")).with_text(Qual::Service, service);
    b.accept(&Accepted {
        server: ServerKey {
            ip: PLC.parse().expect("ip"),
            protocol: otwatch_proto::registry::ProtocolId::S7comm,
            port: 102,
        },
        client: MASTER.parse().expect("ip"),
        station: None,
        ts: Timestamp::new(2000, 0),
        op: Some(OpEntry::from_op(&op, Timestamp::new(2000, 0), 64)),
    });
    let text = file::render(&b);
    let back = file::parse("b.yaml", &text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(back, b);
    assert_eq!(file::render(&back), text);
    // Process-changing operations first within a client; each with its
    // description as a comment.
    let write = text.find("class: write").expect("write");
    let read = text.find("class: read").expect("read");
    assert!(write < read);
    assert!(text.contains("# read read_holding_registers (3) unit 1 at 100-109"));
    assert!(text.contains(r#"service: "P_\"PROG\\\xff\x00""#), "{text}");
}

/// The one error of parsing `text`: line, column, message.
fn parse_error(text: &str) -> (u32, u32, String) {
    let e = file::parse("b.yaml", text).expect_err("an error");
    assert_eq!(e.len(), 1, "{e}");
    let e = &e.0[0];
    (e.pos.line, e.pos.column, e.message.clone())
}

const HEAD: &str = "version: 1\nservers:\n  - server: 10.0.0.10\n    protocol: modbus\n    port: 502\n    clients:\n      - client: 10.0.0.5\n        operations:\n";

#[test]
fn file_errors_name_their_line_and_column() {
    let op = |o: &str| format!("{HEAD}          - {o}\n");
    let (line, col, msg) = parse_error(&op("{class: writes, function: 6}"));
    assert_eq!((line, col), (9, 21), "{msg}");
    assert!(
        msg.contains("unknown class `writes`") && msg.contains("firmware"),
        "{msg}"
    );
    let (line, col, msg) = parse_error(&op("{class: write, function: 6, ranges: [\"9-3\"]}"));
    assert_eq!((line, col), (9, 50), "{msg}");
    assert!(msg.contains("first <= last"), "{msg}");
    let (line, _, msg) = parse_error(&op(
        "{class: write, function: 6, first: \"2026-02-30T00:00:00Z\"}",
    ));
    assert_eq!(line, 9);
    assert!(msg.contains("is not a time"), "{msg}");
    let (line, _, msg) = parse_error(&op("{class: write, functon: 6}"));
    assert_eq!(line, 9);
    assert!(msg.contains("functon"), "{msg}");
    let twice = format!("{HEAD}          - {{class: read, function: 3, unit: 1}}\n          - {{class: read, function: 3, unit: 1}}\n");
    let (line, _, msg) = parse_error(&twice);
    assert_eq!(line, 10);
    assert!(msg.contains("listed twice"), "{msg}");
    let (line, col, msg) = parse_error(&HEAD.replace("10.0.0.10", "10.0.0.300"));
    assert_eq!((line, col), (3, 13), "{msg}");
    assert!(msg.contains("not an IP address"), "{msg}");
    let (line, _, msg) = parse_error(&HEAD.replace("modbus", "modbuss"));
    assert_eq!(line, 4);
    assert!(
        msg.contains("unknown protocol `modbuss`") && msg.contains("s7comm"),
        "{msg}"
    );
    let (line, _, msg) = parse_error(&HEAD.replace("version: 1", "version: 9"));
    assert_eq!(line, 1);
    assert!(msg.contains("version 9"), "{msg}");
    let (_, _, msg) = parse_error("servers: [");
    assert!(!msg.is_empty());
}

#[test]
fn hostile_files_are_refused_with_an_error_not_a_crash() {
    // Bigger than the limit.
    let huge = "#".repeat(file::MAX_BASELINE_FILE_BYTES as usize + 1);
    let e = file::parse("huge.yaml", &huge).expect_err("refused");
    assert!(e.to_string().contains("more than the limit"), "{e}");
    // An alias bomb: refused by the YAML reader's budget, quickly.
    let mut bomb = String::from("version: 1\nl0: &l0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..12 {
        let prev = i - 1;
        bomb.push_str(&format!("l{i}: &l{i} [*l{prev}, *l{prev}, *l{prev}, *l{prev}, *l{prev}, *l{prev}, *l{prev}, *l{prev}, *l{prev}, *l{prev}]\n"));
    }
    let started = std::time::Instant::now();
    assert!(file::parse("bomb.yaml", &bomb).is_err());
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    // More operations than a client may have.
    let mut many = String::from(HEAD);
    for code in 0..=Limits::default().operations_per_pair as u32 {
        many.push_str(&format!("          - {{class: read, function: {code}}}\n"));
    }
    let e = file::parse("many.yaml", &many).expect_err("refused");
    assert!(e.to_string().contains("the limit of a client"), "{e}");
    // Wrong types anywhere.
    assert!(file::parse("t.yaml", "version: one\n").is_err());
    assert!(file::parse("t.yaml", "version: 1\nservers: 5\n").is_err());
    assert!(file::parse("t.yaml", &HEAD.replace("port: 502", "port: 70000")).is_err());
}

#[test]
fn times_are_read_as_written() {
    for t in [0i64, 1_767_592_800, 951_782_400 /* 2000-02-29 */] {
        let ts = Timestamp::new(t, 0);
        assert_eq!(file::parse_time(&file::format_time(ts)), Some(ts));
    }
    assert_eq!(
        file::format_time(Timestamp::new(1_767_592_800, 0)),
        "2026-01-05T06:00:00Z"
    );
    assert_eq!(
        file::parse_time("2026-01-05T06:00:00.5+0000"),
        Some(Timestamp::new(1_767_592_800, 500_000_000))
    );
    // A corrupt capture clock still writes a file that reads back.
    let far = Timestamp::new(i64::MAX / 2, 0);
    assert_eq!(file::format_time(far), "9999-12-31T23:59:59Z");
    assert!(file::parse_time(&file::format_time(far)).is_some());
    assert_eq!(
        file::format_time(Timestamp::new(-62_167_219_200, 0)),
        "0000-01-01T00:00:00Z"
    );
    for bad in [
        "2026-02-30T00:00:00Z",
        "2026-01-05 06:00:00Z",
        "2026-01-05T06:00:00+0100",
        "x",
    ] {
        assert_eq!(file::parse_time(bad), None, "{bad}");
    }
}

#[test]
fn accept_reads_the_alert_line_and_silences_the_deviation() {
    let mut b = learned();
    let f = flow(MASTER, PLC, 502);
    let mut line = Vec::new();
    with_tx(WRITE_300, 1, |app| {
        let mut found = None;
        b.check(&f, app, &mut |kind, op| {
            found = b.describe(&f, Timestamp::new(5, 0), app, kind, op);
        });
        let d = found.expect("a deviation");
        let mut w = JsonWriter::new(&mut line);
        w.begin_object();
        w.key("baseline").begin_object();
        d.write_eve(&mut w);
        w.end_object();
        w.end_object();
    });
    let value: serde_json::Value = serde_json::from_slice(&line).expect("JSON");
    assert_eq!(value["baseline"]["deviation"], "write_outside_range");
    assert_eq!(
        value["baseline"]["operation"]["range"],
        serde_json::json!([300, 300])
    );
    let accepted = Accepted::from_eve(&value, Timestamp::new(6, 0)).expect("accepted");
    assert_eq!(accepted.client, MASTER.parse::<IpAddr>().expect("ip"));
    assert_eq!(accepted.station, Some(1));
    b.accept(&accepted);
    assert!(deviations(&b, MASTER, PLC, 502, WRITE_300, 1).is_empty());
    // The rest still deviates.
    assert_eq!(
        deviations(&b, MASTER, PLC, 502, COIL_7_ON, 1),
        ["new_write"]
    );
    // What is not a deviation is refused with a reason.
    let plain = serde_json::json!({"alert": {"signature_id": 110001}});
    assert!(Accepted::from_eve(&plain, Timestamp::new(6, 0))
        .expect_err("refused")
        .contains("not a baseline deviation"));
    let mut broken = value.clone();
    broken["baseline"]["client"] = serde_json::json!("not an address");
    assert!(Accepted::from_eve(&broken, Timestamp::new(6, 0)).is_err());
}

#[test]
fn saving_replaces_the_file_whole_and_keeps_it_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("otwatch-baseline-save-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("plant.yaml");
    std::fs::write(&path, "old").expect("write");
    let b = learned();
    file::save(&b, &path).expect("save");
    assert_eq!(file::load(&path).expect("load"), b);
    let mode = std::fs::metadata(&path).expect("stat").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    // Nothing but the file is left beside it.
    let names: Vec<_> = std::fs::read_dir(&dir)
        .expect("ls")
        .filter_map(|e| e.ok())
        .collect();
    assert_eq!(names.len(), 1);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_new_client_of_each_service_of_a_device_is_raised_for_each() {
    // The master knows the PLC's Modbus (502) and its S7 (102).
    let mut b = learned();
    let s7 = flow(MASTER, PLC, 102);
    with_tx(READ_100_10, 1, |app| {
        // Learned as if it were the S7 service: the key is what matters.
        b.learn(&s7, Timestamp::new(1, 0), app)
    });
    let mut e = engine(b);
    let rogue = "10.0.0.66";
    let at = |e: &mut Engine, port: u16| {
        let mut out = Vec::new();
        with_tx(READ_100_10, 1, |app| {
            let event = Event {
                ts: Timestamp::new(10, 0),
                app: *app,
            };
            e.inspect(&flow(rogue, PLC, port), &event, &mut |a| {
                out.push(a.rule.id)
            });
        });
        out
    };
    // One new-client alert per service, within the same hour.
    assert_eq!(at(&mut e, 502), [150_002]);
    assert_eq!(at(&mut e, 102), [150_002]);
    assert_eq!(at(&mut e, 502), Vec::<u32>::new());
}
