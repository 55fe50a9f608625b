//! DNP3 decoding checked against tshark on real captures, and every operation
//! of our own dnp3py captures checked field by field in the EVE output.
//!
//! Counting method, per file:
//!
//! * Application functions: our PDU count per function code (stats keys
//!   `"N"`, one per request, response, unsolicited response or confirm) equals
//!   tshark's `dnp3.al.func` occurrences. tshark reassembles DNP3 transport
//!   segments, so `dnp3.al.func` appears once per application fragment (in
//!   the frame of the last segment) — exactly what otwatch counts.
//! * Link functions: our `link_pri:N` / `link_sec:N` (one per link frame with
//!   a good header CRC) equal tshark's `dnp3.ctl.prifunc` (frames with PRM 1)
//!   and `dnp3.ctl.secfunc` (PRM 0) occurrences.
//! * tshark decodes every frame (`tcp.analyze_sequence_numbers:FALSE`) minus
//!   the frames its TCP analysis calls retransmissions: otwatch de-duplicates
//!   retransmitted bytes, so counting them would double count (ndpi_dnp3 and
//!   the QUT captures repeat hundreds of segments). That is right for DNP3 too:
//!   with sequence analysis off, tshark hands every segment to its DNP3
//!   dissector, whose transport reassembly then sees repeated segments as new
//!   ones. UDP files have no retransmission analysis; every datagram counts.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use otwatch_sensor::eve::{EveWriter, EventFilter};
use otwatch_sensor::pipeline::PipelineConfig;
use otwatch_sensor::replay::replay;
use serde_json::Value;

type Counts = BTreeMap<u64, u64>;
type Diff = BTreeMap<u64, i64>;

/// What is compared: application functions, primary and secondary link
/// functions.
const KINDS: [&str; 3] = ["al.func", "prifunc", "secfunc"];

/// Files where otwatch and tshark differ: the difference (ours − tshark) per
/// kind of [`KINDS`] and function code, and why. Every other file must match
/// exactly.
fn explained(file: &str) -> ([Diff; 3], &'static str) {
    match file {
        "icsnpp_dnp3_example.pcap" => (
            [
                BTreeMap::from([(0, -1), (129, 4), (130, 1)]),
                Diff::new(),
                Diff::new(),
            ],
            "tshark 4.0 loses the application fragments whose transport segments wrap the \
             transport sequence number from 63 to 0: the responses completed in frames 18, 114 \
             and 210 (segments 62/63 then 0) and the unsolicited response completed in frame 810 \
             (62, 63, 0) get no dnp3.al.func. And frame 311, a one-segment response (function \
             129, application sequence 8) with transport sequence 0, is shown as a 49-byte \
             'reassembled' buffer of zeros, i.e. function 0. otwatch decodes all five as sent",
        ),
        "qut_mitm.pcap" => (
            [
                BTreeMap::from([(1, -4), (129, -4), (130, -3)]),
                BTreeMap::from([(4, -11)]),
                Diff::new(),
            ],
            "ARP-spoofing man in the middle captured on the attacker: every segment is there \
             twice (victim to attacker, attacker to the real peer), and the attacker injects \
             its own requests into the master's connection (from frame 1738 on port 56579, the \
             confirm of frame 2332 on 56580), so the two copies of each direction carry \
             different bytes at the same TCP sequence numbers. otwatch reassembles one byte \
             stream per direction and keeps the first copy of every byte (an overlap_mismatch \
             anomaly each time); tshark dissects each segment on its own. Lost to otwatch: the \
             master's reads in frames 1781, 1829, 1993 and the attacker's read in frame 1880 \
             (they overlap earlier injected bytes), the real outstation's unsolicited responses \
             in frames 1853, 1877, 1904 (they overlap the attacker's forged responses), and on \
             port 56580 the outstation's responses in frames 2358, 2369, 2380, 2398 (the \
             attacker forwarded frame 2340's 41-byte response as 42 bytes, so each later \
             response overlaps one byte of the attacker's copy and loses its 0x05 start \
             octet). One link frame each: 11 unconfirmed user data frames",
        ),
        _ => ([Diff::new(), Diff::new(), Diff::new()], ""),
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_string()
}

/// Our counts per kind of [`KINDS`].
fn our_counts(path: &Path) -> [Counts; 3] {
    let report = common::replay_file(path);
    assert!(
        report.error.is_none(),
        "{}: {:?}",
        path.display(),
        report.error
    );
    ["", "link_pri:", "link_sec:"]
        .map(|prefix| common::our_prefixed_counts(&report, "dnp3", prefix))
}

/// tshark's counts per kind of [`KINDS`] (one tshark run for the three).
fn tshark_counts(path: &Path) -> [Counts; 3] {
    let skip = common::retransmitted_frames(path);
    let fields = ["dnp3.al.func", "dnp3.ctl.prifunc", "dnp3.ctl.secfunc"];
    let mut counts: [Counts; 3] = Default::default();
    for (_, values) in common::tshark_rows(path, "dnp3", &fields, &skip) {
        for (count, occurrences) in counts.iter_mut().zip(values) {
            for v in occurrences {
                let code = v
                    .parse()
                    .unwrap_or_else(|_| panic!("{}: value {v:?}", path.display()));
                *count.entry(code).or_insert(0) += 1;
            }
        }
    }
    counts
}

/// Compares one file; returns a description of every unexplained difference.
fn check(path: &Path) -> Vec<String> {
    let name = file_name(path);
    let ours = our_counts(path);
    let theirs = tshark_counts(path);
    let (expected, why) = explained(&name);
    let mut failures = Vec::new();
    for (k, kind) in KINDS.iter().enumerate() {
        let diff = common::difference(&ours[k], &theirs[k]);
        if diff != expected[k] {
            failures.push(format!(
                "{name} {kind}: ours {:?}\n  tshark {:?}\n  difference {diff:?}, explained {:?} ({why})",
                ours[k], theirs[k], expected[k]
            ));
        }
    }
    failures
}

/// Checks files on two threads (tshark start-up dominates).
fn check_all(files: &[PathBuf]) {
    let half = files.len().div_ceil(2).max(1);
    let failures: Vec<String> = std::thread::scope(|s| {
        let workers: Vec<_> = files
            .chunks(half)
            .map(|chunk| s.spawn(move || chunk.iter().flat_map(|f| check(f)).collect::<Vec<_>>()))
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("worker"))
            .collect()
    });
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
#[ignore = "needs the public capture corpus: OTWATCH_PCAP_CORPUS (scripts/test runs it)"]
fn dnp3_counts_match_tshark_on_the_corpus() {
    let corpus = common::corpus();
    let mut files = common::captures_in(&corpus.join("dnp3"));
    files.extend(common::captures_in(&corpus.join("mixed")));
    check_all(&files);
}

#[test]
fn dnp3_counts_match_tshark_on_project_captures() {
    check_all(&[
        common::project_pcap("dnp3_dnp3py.pcap"),
        common::project_pcap("dnp3_attack_restart.pcap"),
    ]);
}

// ---------------------------------------------------------------- EVE output

/// Replays one file into an EVE writer; returns every line, parsed, and the
/// run's DNP3 counters.
fn eve(path: &Path) -> (Vec<Value>, BTreeMap<String, u64>) {
    let writer = EveWriter::new(Vec::new(), EventFilter::all());
    let (mut writer, report) = replay(
        &[path.to_path_buf()],
        PipelineConfig::default(),
        writer,
        &mut |_, _, _| {},
    );
    assert!(
        report.error.is_none(),
        "{}: {:?}",
        path.display(),
        report.error
    );
    writer.finish().expect("in memory");
    let text = String::from_utf8(writer.into_inner()).expect("utf8");
    let lines = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("valid JSON"))
        .collect();
    let counters = report
        .stats
        .app
        .get("dnp3")
        .map(|s| s.functions())
        .unwrap_or_default();
    (lines, counters)
}

/// Counters from `(key, count)` pairs.
fn counters(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
    pairs.iter().map(|(k, n)| (k.to_string(), *n)).collect()
}

fn of_type<'a>(lines: &'a [Value], t: &str) -> Vec<&'a Value> {
    lines.iter().filter(|l| l["event_type"] == t).collect()
}

/// One message in a line: `function/sequence`, `uns`/`con` when set, IIN
/// names in brackets (responses), then `gGvV×count` per object header.
fn describe(m: &Value) -> String {
    if m.is_null() {
        return "-".into();
    }
    let mut s = format!(
        "{}/{}",
        m["function"].as_str().unwrap_or("?"),
        m["control"]["sequence"]
    );
    for flag in ["uns", "con"] {
        if m["control"][flag] == true {
            s += &format!(" {flag}");
        }
    }
    if let Some(iin) = m["iin"]["indicators"].as_array() {
        let names: Vec<&str> = iin.iter().filter_map(Value::as_str).collect();
        s += &format!(" [{}]", names.join(","));
    }
    for o in m["objects"].as_array().into_iter().flatten() {
        s += &format!(" g{}v{}×{}", o["group"], o["variation"], o["count"]);
    }
    assert_eq!(m["complete"], true, "every message decodes completely: {m}");
    s
}

/// `type master→outstation request | response` per DNP3 event.
fn transactions(lines: &[Value]) -> Vec<String> {
    of_type(lines, "dnp3")
        .iter()
        .map(|e| {
            let d = &e["dnp3"];
            format!(
                "{} {}→{} {} | {}",
                d["type"].as_str().unwrap_or("?"),
                d["master"],
                d["outstation"],
                describe(&d["request"]),
                describe(&d["response"])
            )
        })
        .collect()
}

/// The points of object header `n` of a message.
fn points(m: &Value, n: usize) -> &Vec<Value> {
    m["objects"][n]["points"]
        .as_array()
        .unwrap_or_else(|| panic!("no points in object {n}: {m}"))
}

/// Index, operation, count, on time, off time and status of a CROB point.
fn crob(p: &Value) -> (i64, &str, i64, i64, i64, &str) {
    let int = |k: &str| p[k].as_i64().unwrap_or(-1);
    let text = |k: &str| p[k].as_str().unwrap_or("?");
    (
        int("index"),
        text("operation"),
        int("count"),
        int("on_time"),
        int("off_time"),
        text("status_name"),
    )
}

#[test]
fn dnp3py_capture_decodes_every_operation() {
    let (lines, dnp3) = eve(&common::project_pcap("dnp3_dnp3py.pcap"));
    assert_eq!(of_type(&lines, "anomaly").len(), 0, "no anomalies");
    let expected = [
        // Integrity poll; the outstation has just restarted and needs time.
        "request_response 2→1 read/0 g60v2×0 g60v3×0 g60v4×0 g60v1×0 | response/0 [need_time,device_restart] g1v2×4 g10v2×4 g30v1×4 g40v2×2 g20v1×2",
        // Clear IIN1.7 (restart).
        "request_response 2→1 write/1 g80v1×1 | response/1 [need_time]",
        "request_response 2→1 delay_measure/2 | response/2 [need_time] g52v2×1",
        "request_response 2→1 write/3 g50v1×1 | response/3 []",
        "request_response 2→1 record_current_time/4 | response/4 []",
        "request_response 2→1 write/5 g50v3×1 | response/5 []",
        // Select-before-operate and direct operate of binary outputs.
        "request_response 2→1 select/6 g12v1×1 | response/6 [] g12v1×1",
        "request_response 2→1 operate/7 g12v1×1 | response/7 [class_1_events,class_3_events] g12v1×1",
        "request_response 2→1 direct_operate/8 g12v1×1 | response/8 [class_1_events,class_3_events] g12v1×1",
        // Analog outputs.
        "request_response 2→1 direct_operate/9 g41v1×1 | response/9 [class_1_events,class_2_events,class_3_events] g41v1×1",
        "request_response 2→1 select/10 g41v1×1 | response/10 [class_1_events,class_2_events,class_3_events] g41v1×1",
        "request_response 2→1 operate/11 g41v1×1 | response/11 [class_1_events,class_2_events,class_3_events] g41v1×1",
        // Event polls, class 1, 2, 3.
        "request_response 2→1 read/12 g60v2×0 | response/12 [class_2_events,class_3_events] g2v1×2",
        "request_response 2→1 read/13 g60v3×0 | response/13 [class_3_events] g32v1×2",
        "request_response 2→1 read/14 g60v4×0 | response/14 [] g22v5×2",
        "request_response 2→1 enable_unsolicited/15 g60v2×0 g60v3×0 g60v4×0 | response/15 []",
        // A control, then the events it makes arrive unsolicited and are
        // confirmed.
        "request_response 2→1 direct_operate/0 g12v1×1 | response/0 [class_1_events,class_3_events] g12v1×1",
        "unsolicited 2→1 - | unsolicited_response/0 uns con [] g2v1×1 g22v5×1",
        "request 2→1 confirm/0 uns | -",
        "request_response 2→1 direct_operate/1 g41v1×1 | response/1 [class_2_events] g41v1×1",
        "unsolicited 2→1 - | unsolicited_response/1 uns con [] g32v1×1",
        "request 2→1 confirm/1 uns | -",
        "request_response 2→1 read/2 g60v2×0 g60v3×0 g60v4×0 | response/2 []",
        "request_response 2→1 read/3 g60v2×0 g60v3×0 g60v4×0 g60v1×0 | response/3 [] g1v2×4 g10v2×4 g30v1×4 g40v2×2 g20v1×2",
    ];
    assert_eq!(transactions(&lines), expected);

    let tx: Vec<&Value> = of_type(&lines, "dnp3")
        .into_iter()
        .map(|e| &e["dnp3"])
        .collect();
    // Integrity response: analog inputs 100, 200, 300.
    let values: Vec<i64> = points(&tx[0]["response"], 2)
        .iter()
        .filter_map(|p| p["value"].as_i64())
        .collect();
    assert_eq!(values, [100, 200, 300, 400]);
    // Clear restart: g80v1 index 7 written 0.
    assert_eq!(
        points(&tx[1]["request"], 0)[0],
        serde_json::json!({"index": 7, "state": false})
    );
    // Time writes: 2026-01-01T00:00:00Z, absolute (g50v1) and LAN (g50v3).
    assert_eq!(
        points(&tx[3]["request"], 0)[0]["time_ms"],
        1_767_225_600_000u64
    );
    assert_eq!(
        points(&tx[5]["request"], 0)[0]["time_ms"],
        1_767_225_600_000u64
    );
    // CROBs: select + operate latch on index 0, direct operate pulse on 500 ms
    // index 1, later latch off index 0; the outstation echoes each, success.
    for (t, index, operation, on_time) in [
        (6, 0, "latch_on", 0),
        (7, 0, "latch_on", 0),
        (8, 1, "pulse_on", 500),
        (16, 0, "latch_off", 0),
    ] {
        for side in ["request", "response"] {
            let m = &tx[t][side];
            assert_eq!(
                m["objects"][0]["qualifier"], 0x17,
                "{t} {side}: 1-byte count, 1-byte index prefix"
            );
            let p = &points(m, 0)[0];
            let expected = (index, operation, 1, on_time, 0, "success");
            assert_eq!(crob(p), expected, "{t} {side}");
            assert_eq!(p["trip_close"], "nul", "{t} {side}");
        }
    }
    // Analog output blocks: direct operate index 0 = 1234, select + operate
    // index 1 = 42, direct operate index 0 = 2345.
    for (t, index, value) in [(9, 0, 1234), (10, 1, 42), (11, 1, 42), (19, 0, 2345)] {
        for side in ["request", "response"] {
            let p = &points(&tx[t][side], 0)[0];
            assert_eq!(
                (p["index"].as_i64(), p["value"].as_i64()),
                (Some(index), Some(value)),
                "{t} {side}"
            );
            assert_eq!(p["status_name"], "success", "{t} {side}");
        }
    }
    // Events: binary outputs' inputs change (g2v1), analog events carry the
    // set points (g32v1), counter events count the controls (g22v5).
    let bits: Vec<(i64, bool)> = points(&tx[12]["response"], 0)
        .iter()
        .map(|p| {
            (
                p["index"].as_i64().unwrap_or(-1),
                p["state"].as_bool().unwrap_or(false),
            )
        })
        .collect();
    assert_eq!(bits, [(0, false), (1, true)]);
    let analog: Vec<i64> = points(&tx[13]["response"], 0)
        .iter()
        .filter_map(|p| p["value"].as_i64())
        .collect();
    assert_eq!(analog, [1234, 42]);
    let counts: Vec<i64> = points(&tx[14]["response"], 0)
        .iter()
        .filter_map(|p| p["value"].as_i64())
        .collect();
    assert_eq!(counts, [1, 2]);
    assert!(
        points(&tx[14]["response"], 0)
            .iter()
            .all(|p| p["time_ms"].as_u64().is_some()),
        "g22v5 has times"
    );
    assert_eq!(points(&tx[17]["response"], 1)[0]["value"], 3);
    assert_eq!(points(&tx[20]["response"], 0)[0]["value"], 2345);
    // The final integrity poll sees the written set points.
    let values: Vec<i64> = points(&tx[23]["response"], 2)
        .iter()
        .filter_map(|p| p["value"].as_i64())
        .collect();
    assert_eq!(values, [2345, 42, 300, 400]);
    // Link layer: Reset Link States and its ACK, then unconfirmed user data
    // for all 44 fragments.
    assert_eq!(
        dnp3,
        counters(&[
            ("0", 2),
            ("1", 6),
            ("2", 3),
            ("3", 2),
            ("4", 2),
            ("5", 4),
            ("20", 1),
            ("23", 1),
            ("24", 1),
            ("129", 20),
            ("130", 2),
            ("link_pri:0", 1),
            ("link_pri:4", 44),
            ("link_sec:0", 1),
        ])
    );
}

#[test]
fn dnp3py_restart_capture_decodes_every_operation() {
    let (lines, dnp3) = eve(&common::project_pcap("dnp3_attack_restart.pcap"));
    assert_eq!(of_type(&lines, "anomaly").len(), 0, "no anomalies");
    let expected = [
        "request_response 2→1 read/0 g60v2×0 g60v3×0 g60v4×0 g60v1×0 | response/0 [need_time,device_restart] g1v2×4 g10v2×4 g30v1×4 g40v2×2 g20v1×2",
        "request_response 2→1 write/1 g80v1×1 | response/1 [need_time]",
        // Restarts: the outstation announces when it will be back (g52v2, ms).
        "request_response 2→1 cold_restart/2 | response/2 [need_time] g52v2×1",
        "request_response 2→1 warm_restart/3 | response/3 [need_time] g52v2×1",
        "request_response 2→1 disable_unsolicited/4 g60v2×0 g60v3×0 g60v4×0 | response/4 [need_time]",
        // Application control the outstation does not support (IIN2.0).
        "request_response 2→1 stop_application/5 | response/5 [need_time,no_func_code_support]",
        "request_response 2→1 initialize_data/6 | response/6 [need_time,no_func_code_support]",
        "request_response 2→1 start_application/7 | response/7 [need_time,no_func_code_support]",
        "request_response 2→1 read/8 g60v2×0 g60v3×0 g60v4×0 g60v1×0 | response/8 [need_time] g1v2×4 g10v2×4 g30v1×4 g40v2×2 g20v1×2",
    ];
    assert_eq!(transactions(&lines), expected);
    let tx: Vec<&Value> = of_type(&lines, "dnp3")
        .into_iter()
        .map(|e| &e["dnp3"])
        .collect();
    assert_eq!(
        points(&tx[2]["response"], 0)[0]["delay"],
        5000,
        "cold restart: 5 s"
    );
    assert_eq!(
        points(&tx[3]["response"], 0)[0]["delay"],
        1000,
        "warm restart: 1 s"
    );
    assert_eq!(
        dnp3,
        counters(&[
            ("1", 2),
            ("2", 1),
            ("13", 1),
            ("14", 1),
            ("15", 1),
            ("17", 1),
            ("18", 1),
            ("21", 1),
            ("129", 9),
            ("link_pri:0", 1),
            ("link_pri:4", 18),
            ("link_sec:0", 1),
        ])
    );
}

#[test]
#[ignore = "needs the public capture corpus: OTWATCH_PCAP_CORPUS (scripts/test runs it)"]
fn udp_select_operate_gives_exact_events() {
    let corpus = common::corpus();
    let (lines, dnp3) = eve(&corpus.join("dnp3/zeek_udp_select_operate.pcap"));
    assert_eq!(of_type(&lines, "anomaly").len(), 0, "no anomalies");
    let events = of_type(&lines, "dnp3");
    assert!(
        events.iter().all(|e| e["proto"] == "UDP"
            && e["src_ip"] == "192.168.80.160"
            && e["src_port"] == 1128),
        "master 192.168.80.160:1128 over UDP"
    );
    assert_eq!(
        transactions(&lines),
        [
            "request_response 100→1 select/9 g12v1×1 | response/9 [need_time,device_restart] g12v1×1",
            "request_response 100→1 operate/10 g12v1×1 | response/10 [need_time,device_restart] g12v1×1",
            // The response spans three datagrams (transport segments).
            "request_response 100→1 read/11 g60v2×0 g60v3×0 g60v4×0 g10v0×0 | response/11 [need_time,device_restart] g10v2×512",
        ]
    );
    let tx: Vec<&Value> = events.iter().map(|e| &e["dnp3"]).collect();
    for (t, m) in tx.iter().take(2).enumerate() {
        for side in ["request", "response"] {
            let qualifier = &m[side]["objects"][0]["qualifier"];
            assert_eq!(
                qualifier, 0x28,
                "{t} {side}: 2-byte count, 2-byte index prefix"
            );
            let point = crob(&points(&m[side], 0)[0]);
            assert_eq!(point, (1, "latch_on", 1, 100, 100, "success"), "{t} {side}");
        }
    }
    let read = &tx[2]["response"]["objects"][0];
    assert_eq!(
        (&read["start"], &read["stop"], &read["points_truncated"]),
        (
            &serde_json::json!(0),
            &serde_json::json!(511),
            &serde_json::json!(512 - 32)
        )
    );
    assert_eq!(
        points(&tx[2]["response"], 0)[1],
        serde_json::json!({"index": 1, "flags": 129, "state": true})
    );
    // Besides the 8 user data frames: the outstation's Request Link Status
    // (primary 9) and the master's Link Status (secondary 11).
    assert_eq!(
        dnp3,
        counters(&[
            ("1", 1),
            ("3", 1),
            ("4", 1),
            ("129", 3),
            ("link_pri:4", 8),
            ("link_pri:9", 1),
            ("link_sec:11", 1)
        ])
    );
    let flows = of_type(&lines, "flow");
    assert_eq!(flows.len(), 1);
    assert_eq!(
        (&flows[0]["app_proto"], &flows[0]["proto"]),
        (&serde_json::json!("dnp3"), &serde_json::json!("UDP"))
    );
}
