//! Pipeline tests on synthetic frames: TCP reassembly feeding the Modbus
//! dissector (splits at every offset, reordering, retransmissions, evasion,
//! gaps, mid-stream pickup), VLAN tags, IPv4 fragments, malformed headers.

use std::net::Ipv4Addr;

use otwatch_proto::event::Timestamp;
use otwatch_proto::wire::LinkType;
use serde_json::Value;

use super::checksum::ChecksumMode;
use super::*;
use crate::eve::{EveWriter, EventFilter};
use crate::synth::{self, Conversation, Host};

fn client() -> Host {
    Host {
        mac: [2, 0, 0, 0, 0, 0x14],
        ip: Ipv4Addr::new(10, 1, 1, 20),
        port: 40000,
    }
}

fn server() -> Host {
    Host {
        mac: [2, 0, 0, 0, 0, 0x0a],
        ip: Ipv4Addr::new(10, 1, 1, 10),
        port: 502,
    }
}

/// Read holding registers: tid 6, unit 1, address 0, quantity 2.
const REQ: [u8; 12] = [0, 6, 0, 0, 0, 6, 1, 3, 0, 0, 0, 2];
/// Its response: registers 1000, 1001.
const RESP: [u8; 13] = [0, 6, 0, 0, 0, 7, 1, 3, 4, 0x03, 0xe8, 0x03, 0xe9];

/// Feeds Ethernet frames to a pipeline, 1 ms apart.
fn feed<O: Output>(p: &mut Pipeline<O>, frames: &[Vec<u8>]) {
    for (i, f) in frames.iter().enumerate() {
        p.packet(Frame {
            ts: Timestamp::new(1_700_000_000, i as u32 * 1000),
            link_type: LinkType::Ethernet,
            data: f,
            wire_len: f.len() as u32,
        });
    }
}

/// Runs frames through a pipeline; returns the EVE lines (parsed).
fn run(frames: &[Vec<u8>]) -> (Vec<Value>, SensorStats) {
    let eve = EveWriter::new(Vec::new(), EventFilter::all());
    let mut p = Pipeline::new(PipelineConfig::default(), eve);
    feed(&mut p, frames);
    let (mut eve, stats) = p.finish();
    let _ = eve.finish();
    let text = String::from_utf8(eve_bytes(eve)).expect("utf8");
    let lines = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("valid JSON"))
        .collect();
    (lines, stats)
}

fn eve_bytes(eve: EveWriter<Vec<u8>>) -> Vec<u8> {
    eve.into_inner()
}

fn of_type<'a>(lines: &'a [Value], t: &str) -> Vec<&'a Value> {
    lines.iter().filter(|l| l["event_type"] == t).collect()
}

fn anomalies(lines: &[Value]) -> Vec<String> {
    of_type(lines, "anomaly")
        .iter()
        .map(|l| l["anomaly"]["event"].as_str().unwrap_or("").to_string())
        .collect()
}

fn exchange(split_req: usize, split_resp: usize) -> Vec<Vec<u8>> {
    let mut c = Conversation::new(client(), server());
    let mut frames: Vec<Vec<u8>> = c.handshake().into();
    frames.push(c.to_server(&REQ[..split_req]));
    frames.push(c.to_server(&REQ[split_req..]));
    frames.push(c.to_client(&RESP[..split_resp]));
    frames.push(c.to_client(&RESP[split_resp..]));
    frames
}

#[test]
fn one_transaction_with_flow_fields() {
    let (lines, stats) = run(&exchange(REQ.len(), RESP.len()));
    let modbus = of_type(&lines, "modbus");
    assert_eq!(modbus.len(), 1);
    let m = modbus[0];
    assert_eq!(m["src_ip"], "10.1.1.20");
    assert_eq!(m["src_port"], 40000);
    assert_eq!(m["dest_ip"], "10.1.1.10");
    assert_eq!(m["dest_port"], 502);
    assert_eq!(m["proto"], "TCP");
    assert_eq!(m["app_proto"], "modbus");
    assert_eq!(m["modbus"]["request"]["quantity"], 2);
    assert_eq!(
        m["modbus"]["response"]["registers"],
        serde_json::json!([1000, 1001])
    );
    let flow = of_type(&lines, "flow");
    assert_eq!(flow.len(), 1);
    assert_eq!(flow[0]["flow_id"], m["flow_id"]);
    assert_eq!(
        flow[0]["flow"]["pkts_toserver"], 4,
        "SYN, ACK and two data segments (one empty)"
    );
    assert_eq!(flow[0]["flow"]["src_mac"], "02:00:00:00:00:14");
    assert_eq!(stats.flows.created, 1);
    assert!(anomalies(&lines).is_empty());
}

#[test]
fn every_split_of_request_and_response_decodes_the_same() {
    let (whole, _) = run(&exchange(REQ.len(), RESP.len()));
    let expected = &of_type(&whole, "modbus")[0]["modbus"];
    for a in 0..=REQ.len() {
        for b in 0..=RESP.len() {
            let (lines, _) = run(&exchange(a, b));
            let modbus = of_type(&lines, "modbus");
            assert_eq!(modbus.len(), 1, "split {a}/{b}");
            assert_eq!(&modbus[0]["modbus"], expected, "split {a}/{b}");
            assert!(
                anomalies(&lines).is_empty(),
                "split {a}/{b}: {:?}",
                anomalies(&lines)
            );
        }
    }
}

#[test]
fn out_of_order_and_retransmitted_segments() {
    let mut c = Conversation::new(client(), server());
    let mut frames: Vec<Vec<u8>> = c.handshake().into();
    let first = c.to_server(&REQ[..5]);
    let second = c.to_server(&REQ[5..]);
    frames.push(second.clone()); // arrives first
    frames.push(first.clone());
    frames.push(first); // retransmission, same bytes
    frames.push(c.to_client(&RESP));
    let (lines, stats) = run(&frames);
    assert_eq!(of_type(&lines, "modbus").len(), 1);
    assert!(anomalies(&lines).is_empty(), "{:?}", anomalies(&lines));
    assert_eq!(stats.stream.out_of_order, 1);
    assert_eq!(stats.stream.retransmitted, 1);
}

#[test]
fn retransmission_with_different_bytes_is_an_evasion_anomaly() {
    let mut c = Conversation::new(client(), server());
    let mut frames: Vec<Vec<u8>> = c.handshake().into();
    let seq = c.client_seq;
    frames.push(c.to_server(&REQ));
    let mut evil = REQ;
    evil[7] = 6; // write single register instead of read
    frames.push(synth::tcp_frame(
        &client(),
        &server(),
        seq,
        c.server_seq,
        synth::flags::ACK | synth::flags::PSH,
        &evil,
    ));
    frames.push(c.to_client(&RESP));
    let (lines, _) = run(&frames);
    assert_eq!(anomalies(&lines), ["overlap_mismatch"]);
    let m = of_type(&lines, "modbus");
    assert_eq!(
        m[0]["modbus"]["request"]["function_code"], 3,
        "the first copy wins"
    );
}

#[test]
fn mid_stream_pickup_without_handshake() {
    let mut c = Conversation::new(client(), server());
    let _ = c.handshake(); // not captured
    let frames = vec![c.to_client(&RESP), c.to_server(&REQ), c.to_client(&RESP)];
    let (lines, _) = run(&frames);
    let m = of_type(&lines, "modbus");
    assert_eq!(m.len(), 2, "an unmatched response, then a full transaction");
    assert_eq!(anomalies(&lines), ["unmatched_response"]);
    assert_eq!(
        m[1]["src_port"], 40000,
        "the client is the side not on port 502"
    );
}

#[test]
fn lost_segment_is_a_gap_and_the_stream_resynchronises() {
    let mut c = Conversation::new(client(), server());
    let mut frames: Vec<Vec<u8>> = c.handshake().into();
    let _lost = c.to_server(&REQ[..4]); // never captured
    frames.push(c.to_server(&REQ[4..]));
    let mut second = REQ;
    second[1] = 7; // tid 7
    frames.push(c.to_server(&second));
    let mut resp = RESP;
    resp[1] = 7;
    frames.push(c.to_client(&resp));
    // The server acknowledges everything, revealing the hole.
    frames.push(synth::tcp_frame(
        &server(),
        &client(),
        c.server_seq,
        c.client_seq,
        synth::flags::ACK,
        &[],
    ));
    let (lines, stats) = run(&frames);
    let m = of_type(&lines, "modbus");
    assert_eq!(m.len(), 1, "{lines:?}");
    assert_eq!(m[0]["modbus"]["transaction_id"], 7);
    assert!(anomalies(&lines).contains(&"reassembly_gap".to_string()));
    assert_eq!(stats.stream.gaps, 1);
}

#[test]
fn a_flow_no_dissector_claims_is_bypassed_after_detection_gives_up() {
    // An HTTP session on port 8080: no port, no probe matches.
    let web = Host {
        port: 8080,
        ..server()
    };
    let mut c = Conversation::new(client(), web);
    let mut frames: Vec<Vec<u8>> = c.handshake().into();
    // Four payloads give up detection (DETECT_TRIES)...
    for _ in 0..2 {
        frames.push(c.to_server(b"GET /index.html HTTP/1.1\r\nHost: plc\r\n\r\n"));
        frames.push(c.to_client(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"));
    }
    let claimed_bytes = 2 * (39 + 38);
    // ... then bytes are lost, and more come: a reassembled flow would
    // report the hole and deliver the bytes after it.
    let _lost = c.to_server(b"GET /lost HTTP/1.1\r\n\r\n");
    frames.push(c.to_server(b"GET /after HTTP/1.1\r\n\r\n"));
    frames.push(c.to_client(b"HTTP/1.1 404 Not Found\r\n\r\n"));
    let (lines, stats) = run(&frames);
    assert_eq!(stats.bypassed_flows, 1);
    assert_eq!(
        stats.stream.delivered, claimed_bytes,
        "nothing reassembled after the bypass"
    );
    assert_eq!(stats.stream.gaps, 0, "{lines:?}");
    assert!(anomalies(&lines).is_empty(), "{lines:?}");
    // The flow is still counted whole.
    let flow = of_type(&lines, "flow");
    assert_eq!(flow.len(), 1);
    assert_eq!(flow[0]["flow"]["pkts_toserver"], 2 + 3);
    assert_eq!(flow[0]["flow"]["pkts_toclient"], 1 + 3);
    assert!(flow[0].get("app_proto").is_none(), "{:?}", flow[0]);
    // The count is in the `stats` line.
    let mut eve = EveWriter::new(Vec::new(), EventFilter::all());
    eve.stats(Timestamp::new(1_700_000_001, 0), &stats, 0.0);
    let _ = eve.finish();
    let line: Value = serde_json::from_slice(&eve_bytes(eve)).expect("a stats line");
    assert_eq!(line["stats"]["flow"]["bypassed"], 1, "{line}");
}

#[test]
fn vlan_and_qinq_tags_are_decoded_and_keyed() {
    let mut c = Conversation::new(client(), server());
    let tag = |mut f: Vec<u8>, tags: &[(u16, u16)]| {
        let mut inserted = Vec::new();
        for &(tpid, vid) in tags {
            inserted.extend_from_slice(&tpid.to_be_bytes());
            inserted.extend_from_slice(&vid.to_be_bytes());
        }
        f.splice(12..12, inserted);
        f
    };
    let frames = vec![
        tag(c.to_server(&REQ), &[(0x88a8, 100), (0x8100, 20)]),
        tag(c.to_client(&RESP), &[(0x88a8, 100), (0x8100, 20)]),
    ];
    let (lines, _) = run(&frames);
    let m = of_type(&lines, "modbus");
    assert_eq!(m.len(), 1);
    assert_eq!(m[0]["vlan"], serde_json::json!([100, 20]));
}

#[test]
fn ipv4_fragments_are_reassembled() {
    let mut c = Conversation::new(client(), server());
    let frame = c.to_server(&REQ);
    // Split the IP payload (TCP header + 12 bytes = 32) at byte 16.
    let ip = &frame[14..];
    let payload = &ip[20..];
    let frag = |offset: usize, more: bool, part: &[u8]| {
        let mut f = frame[..14].to_vec();
        let mut h = ip[..20].to_vec();
        h[2..4].copy_from_slice(&((20 + part.len()) as u16).to_be_bytes());
        h[4..6].copy_from_slice(&0x1234u16.to_be_bytes());
        let flags_off = (if more { 0x2000 } else { 0 }) | (offset / 8) as u16;
        h[6..8].copy_from_slice(&flags_off.to_be_bytes());
        f.extend_from_slice(&h);
        f.extend_from_slice(part);
        // Fragments carry a filled IPv4 header checksum (the offload mark is
        // not believed on a fragment).
        synth::fill_checksums(&mut f);
        f
    };
    let frames = vec![
        frag(16, false, &payload[16..]),
        frag(0, true, &payload[..16]),
        c.to_client(&RESP),
    ];
    let (lines, stats) = run(&frames);
    assert_eq!(stats.ipv4_fragments, 2);
    assert_eq!(stats.ipv4_reassembled, 1);
    assert_eq!(of_type(&lines, "modbus").len(), 1);
}

#[test]
fn malformed_headers_are_counted_anomalies_not_panics() {
    let mut c = Conversation::new(client(), server());
    let good = c.to_server(&REQ);
    let mut bad_version = good.clone();
    bad_version[14] = 0x75; // IP version 7
    let mut bad_ihl = good.clone();
    bad_ihl[14] = 0x43; // IHL 3
    let mut bad_tcp_offset = good.clone();
    bad_tcp_offset[14 + 20 + 12] = 0x20; // data offset 2 words
    let truncated = good[..30].to_vec();
    let (lines, stats) = run(&[bad_version, bad_ihl, bad_tcp_offset, truncated, good]);
    assert_eq!(
        anomalies(&lines),
        [
            "bad_ip_version",
            "bad_ipv4_header_length",
            "bad_tcp_data_offset",
            "truncated_ipv4_header"
        ]
    );
    assert_eq!(stats.decode_errors.values().sum::<u64>(), 4);
    assert_eq!(
        of_type(&lines, "modbus").len(),
        1,
        "the good frame still decodes"
    );
}

#[test]
fn modbus_on_another_port_is_recognised_by_probe() {
    let mut s = server();
    s.port = 5020;
    let mut c = Conversation::new(client(), s);
    let frames = vec![c.to_server(&REQ), c.to_client(&RESP)];
    let (lines, _) = run(&frames);
    let m = of_type(&lines, "modbus");
    assert_eq!(m.len(), 1);
    assert_eq!(m[0]["dest_port"], 5020);
}

#[test]
fn flows_time_out_and_emit_pending_requests() {
    let mut c = Conversation::new(client(), server());
    let req = c.to_server(&REQ);
    let eve = EveWriter::new(Vec::new(), EventFilter::all());
    let mut p = Pipeline::new(PipelineConfig::default(), eve);
    p.packet(Frame {
        ts: Timestamp::new(1000, 0),
        link_type: LinkType::Ethernet,
        data: &req,
        wire_len: 0,
    });
    // Another flow two hours later expires the first.
    let mut other = Conversation::new(
        Host {
            port: 40001,
            ..client()
        },
        server(),
    );
    let f = other.to_server(&REQ);
    p.packet(Frame {
        ts: Timestamp::new(1000 + 7200, 0),
        link_type: LinkType::Ethernet,
        data: &f,
        wire_len: 0,
    });
    assert_eq!(p.stats().flows.created, 2);
    let (eve, stats) = p.finish();
    assert_eq!(stats.flows.timed_out, 1);
    let text = String::from_utf8(eve.into_inner()).expect("utf8");
    let first: Value = serde_json::from_str(text.lines().next().expect("line")).expect("json");
    assert_eq!(first["event_type"], "modbus");
    assert_eq!(
        first["timestamp"], "1970-01-01T00:16:40.000000+0000",
        "stamped with the request time"
    );
    assert!(first["modbus"].get("response").is_none());
}

/// Lines written so far by a pipeline's EVE writer, parsed.
fn lines_so_far(p: &mut Pipeline<EveWriter<Vec<u8>>>) -> Vec<Value> {
    String::from_utf8_lossy(p.output().get_ref())
        .lines()
        .map(|l| serde_json::from_str(l).expect("valid JSON"))
        .collect()
}

#[test]
fn tick_expires_quiet_flows_and_reports_unanswered_requests() {
    // A request that is never answered, then silence: no packet will come
    // to drive the idle sweep, so only `tick` can end the flow.
    let mut config = PipelineConfig::default();
    config.flows.timeouts[TimeoutClass::TcpEstablished as usize] = 30;
    let mut p = Pipeline::new(config, EveWriter::new(Vec::new(), EventFilter::all()));
    let mut c = Conversation::new(client(), server());
    let mut frames: Vec<Vec<u8>> = c.handshake().into();
    frames.push(c.to_server(&REQ));
    let start = 1_700_000_000;
    for f in &frames {
        p.packet(Frame {
            ts: Timestamp::new(start, 0),
            link_type: LinkType::Ethernet,
            data: f,
            wire_len: f.len() as u32,
        });
    }
    assert!(
        lines_so_far(&mut p).is_empty(),
        "the request waits for its response"
    );

    // Before the timeout: nothing ends.
    p.tick(Timestamp::new(start + 29, 999_999_999));
    assert!(lines_so_far(&mut p).is_empty(), "29.9 s idle is not 30");
    assert_eq!(p.stats().flows.active, 1);

    // At the timeout: the flow ends, its pending request is reported alone.
    p.tick(Timestamp::new(start + 30, 0));
    let lines = lines_so_far(&mut p);
    let modbus = of_type(&lines, "modbus");
    assert_eq!(modbus.len(), 1, "{lines:?}");
    assert_eq!(modbus[0]["modbus"]["request"]["function_code"], 3);
    assert!(
        modbus[0]["modbus"].get("response").is_none(),
        "unanswered: {}",
        modbus[0]
    );
    let flows = of_type(&lines, "flow");
    assert_eq!(flows.len(), 1);
    assert_eq!(flows[0]["flow"]["reason"], "timeout");
    assert_eq!(flows[0]["flow_id"], modbus[0]["flow_id"]);
    let stats = p.stats().clone();
    assert_eq!(stats.flows.timed_out, 1);
    assert_eq!(stats.flows.active, 0);
    assert_eq!(stats.packets, 4, "tick is not a packet");

    // A tick for a time already swept (or earlier) does nothing; the flow
    // is gone, so the end of the capture has nothing left to flush.
    p.tick(Timestamp::new(start + 30, 500));
    p.tick(Timestamp::new(start + 1, 0));
    assert_eq!(lines_so_far(&mut p).len(), lines.len());
    let (_, stats) = p.finish();
    assert_eq!(stats.flows.flushed, 0);
    assert_eq!(stats.flows.timed_out, 1);
}

#[test]
fn for_each_flow_lists_open_flows_with_their_protocol() {
    let mut p = Pipeline::new(
        PipelineConfig::default(),
        EveWriter::new(Vec::new(), EventFilter::all()),
    );
    let frames = exchange(REQ.len(), RESP.len());
    feed(&mut p, &frames);
    let mut seen = Vec::new();
    p.for_each_flow(&mut |_, meta, app, last| {
        seen.push((meta.client.ip, meta.server.port, app, last))
    });
    assert_eq!(
        seen,
        vec![(
            client().ip.into(),
            502,
            Some(ProtocolId::Modbus),
            // The last frame's time.
            Timestamp::new(1_700_000_000, (frames.len() as u32 - 1) * 1000)
        )]
    );
}

// ---- What the endpoints accept: checksums, the receive window, fragments.

/// Diagnostics, force listen only mode (function 8, sub-function 4): tid 9,
/// unit 1, data 0x0000. The bundled rule 110001 alerts on it.
const FORCE_LISTEN_ONLY: [u8; 12] = [0, 9, 0, 0, 0, 6, 1, 8, 0, 4, 0, 0];
/// A benign copy of the same bytes: diagnostics sub-function 0 (return
/// query data).
const QUERY_DATA: [u8; 12] = [0, 9, 0, 0, 0, 6, 1, 8, 0, 0, 0, 0];

/// Frames with their checksums computed, as a SPAN port records them.
fn checksummed(frames: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    frames
        .into_iter()
        .map(|mut f| {
            synth::fill_checksums(&mut f);
            f
        })
        .collect()
}

/// Runs frames through the bundled rules; EVE lines, stats, alerts per rule.
fn run_with_rules(
    config: PipelineConfig,
    frames: &[Vec<u8>],
) -> (
    Vec<Value>,
    SensorStats,
    std::collections::BTreeMap<u32, u64>,
) {
    use crate::detect::rules::Ruleset;
    use crate::detect::Detect;
    let set = std::sync::Arc::new(Ruleset::bundled().expect("bundled rules"));
    let detect = Detect::with_run_id(set, EveWriter::new(Vec::new(), EventFilter::all()), 1);
    let mut p = Pipeline::new(config, detect);
    feed(&mut p, frames);
    let (detect, stats) = p.finish();
    let per_rule = detect.alerts_per_rule();
    let text = String::from_utf8(detect.into_inner().into_inner()).expect("utf8");
    let lines = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("valid JSON"))
        .collect();
    (lines, stats, per_rule)
}

/// The handshake, then `attack` (the frames before the real request), the
/// real force-listen-only request and its echo, all checksummed.
fn insertion(attack: impl FnOnce(&mut Conversation) -> Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    let mut c = Conversation::new(client(), server());
    let mut frames: Vec<Vec<u8>> = checksummed(c.handshake().into());
    frames.extend(attack(&mut c));
    let mut real = checksummed(vec![c.to_server(&FORCE_LISTEN_ONLY)]);
    frames.append(&mut real);
    // The server acknowledges the request (no echo in listen-only mode).
    frames.extend(checksummed(vec![synth::tcp_frame(
        &server(),
        &client(),
        c.server_seq,
        c.client_seq,
        synth::flags::ACK,
        &[],
    )]));
    frames
}

/// A copy of the next client segment carrying `payload`, checksummed, then
/// corrupted by `spoil`.
fn forged_copy(c: &Conversation, payload: &[u8], spoil: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut f = synth::tcp_frame(
        &client(),
        &server(),
        c.client_seq,
        c.server_seq,
        synth::flags::PSH | synth::flags::ACK,
        payload,
    );
    synth::fill_checksums(&mut f);
    spoil(&mut f);
    f
}

fn assert_listen_only_alert(
    lines: &[Value],
    per_rule: &std::collections::BTreeMap<u32, u64>,
    why: &str,
) {
    let m = of_type(lines, "modbus");
    assert_eq!(m.len(), 1, "{why}: {lines:?}");
    assert_eq!(
        m[0]["modbus"]["request"]["diagnostic"]["subfunction"], 4,
        "{why}: {}",
        m[0]
    );
    assert_eq!(per_rule.get(&110001), Some(&1), "{why}: {per_rule:?}");
}

#[test]
fn insertion_with_a_bad_tcp_checksum_is_dropped_and_the_attack_alerts() {
    // Issue 13 case 3: the benign copy has a TCP checksum the PLC rejects.
    let frames = insertion(|c| {
        vec![forged_copy(c, &QUERY_DATA, |f| {
            f[14 + 20 + 16] ^= 0x5a; // TCP checksum, high byte
        })]
    });
    let (lines, stats, per_rule) = run_with_rules(PipelineConfig::default(), &frames);
    assert_listen_only_alert(&lines, &per_rule, "bad TCP checksum");
    assert_eq!(stats.decode_errors.get("bad_tcp_checksum"), Some(&1));
    assert_eq!(anomalies(&lines), ["bad_tcp_checksum"]);
    assert_eq!(stats.checksum.dropped, 1);
    assert_eq!(
        stats.stream.overlap_mismatches, 0,
        "the copy never reached reassembly"
    );
}

#[test]
fn insertion_with_a_bad_ipv4_checksum_is_dropped_and_the_attack_alerts() {
    // Issue 13 case 3, the IPv4 header variant (TCP checksum correct).
    let frames = insertion(|c| {
        vec![forged_copy(c, &QUERY_DATA, |f| {
            f[14 + 10] ^= 0x01; // IPv4 header checksum
        })]
    });
    let (lines, stats, per_rule) = run_with_rules(PipelineConfig::default(), &frames);
    assert_listen_only_alert(&lines, &per_rule, "bad IPv4 checksum");
    assert_eq!(stats.decode_errors.get("bad_ipv4_checksum"), Some(&1));
    assert_eq!(anomalies(&lines), ["bad_ipv4_checksum"]);
}

#[test]
fn a_forged_copy_with_the_offload_mark_is_dropped_on_a_verified_direction() {
    // The TCP checksum set to the pseudo-header sum, as offload leaves it:
    // believed only on a direction that never verified.
    let frames = insertion(|c| {
        vec![forged_copy(c, &QUERY_DATA, |f| {
            let src = std::net::IpAddr::V4(client().ip);
            let dst = std::net::IpAddr::V4(server().ip);
            let len = f.len() - 34;
            let partial = otwatch_proto::wire::checksum::fold(
                otwatch_proto::wire::checksum::pseudo_header(src, dst, 6, len),
            );
            f[14 + 20 + 16..14 + 20 + 18].copy_from_slice(&partial.to_be_bytes());
        })]
    });
    let (lines, stats, per_rule) = run_with_rules(PipelineConfig::default(), &frames);
    assert_listen_only_alert(&lines, &per_rule, "offload-marked copy");
    assert_eq!(stats.decode_errors.get("bad_tcp_checksum"), Some(&1));
}

#[test]
fn checksums_off_believes_the_first_copy_as_before() {
    // With verification off the insertion wins again (the behaviour the
    // default now prevents): the first copy is decoded, the real one is a
    // changed retransmission.
    let frames = insertion(|c| {
        vec![forged_copy(c, &QUERY_DATA, |f| {
            f[14 + 20 + 16] ^= 0x5a;
        })]
    });
    let config = PipelineConfig {
        checksums: ChecksumMode::Off,
        ..PipelineConfig::default()
    };
    let (lines, _, per_rule) = run_with_rules(config, &frames);
    let m = of_type(&lines, "modbus");
    assert_eq!(m[0]["modbus"]["request"]["diagnostic"]["subfunction"], 0);
    assert_eq!(per_rule.get(&110001), None);
    assert!(anomalies(&lines).contains(&"overlap_mismatch".to_string()));
}

#[test]
fn a_capture_with_unfilled_checksums_still_decodes() {
    // Every synthesized frame has zero checksums, like a capture taken
    // behind offload: auto believes them (the exchange decodes), on drops
    // them all.
    let frames = exchange(REQ.len(), RESP.len());
    let (lines, stats) = run(&frames);
    assert_eq!(of_type(&lines, "modbus").len(), 1);
    assert_eq!(stats.checksum.dropped, 0);
    assert_eq!(stats.checksum.accepted_in_sample, stats.checksum.bad);
    let config = PipelineConfig {
        checksums: ChecksumMode::On,
        ..PipelineConfig::default()
    };
    let (lines, stats, _) = run_with_rules(config, &frames);
    assert!(of_type(&lines, "modbus").is_empty());
    assert_eq!(stats.checksum.dropped, frames.len() as u64);
    assert_eq!(stats.flows.created, 0, "dropped before the flow table");
}

#[test]
fn a_segment_far_outside_the_window_does_not_move_the_stream() {
    // Issue 13 case 4: 12 bytes at sequence + 1,000,000, outside the PLC's
    // window of 64,240 bytes (no window scaling in the handshake), then the
    // attack at the right sequence number.
    let frames = insertion(|c| {
        vec![{
            let mut f = synth::tcp_frame(
                &client(),
                &server(),
                c.client_seq.wrapping_add(1_000_000),
                c.server_seq,
                synth::flags::PSH | synth::flags::ACK,
                &QUERY_DATA,
            );
            synth::fill_checksums(&mut f);
            f
        }]
    });
    let (lines, stats, per_rule) = run_with_rules(PipelineConfig::default(), &frames);
    assert_listen_only_alert(&lines, &per_rule, "far segment");
    assert_eq!(anomalies(&lines), ["segment_outside_window"]);
    assert_eq!(stats.stream.outside_window, 1);
    assert_eq!(stats.stream.gaps, 0);
    assert_eq!(
        stats.anomalies.get(&("stream", "segment_outside_window")),
        Some(&1)
    );
}

/// Splits the IP payload of an Ethernet/IPv4 frame into fragments at `cuts`
/// (multiples of 8), with identification `id`.
fn fragments(frame: &[u8], id: u16, cuts: &[usize]) -> Vec<Vec<u8>> {
    let ip = &frame[14..];
    let payload = &ip[20..];
    let mut bounds = vec![0];
    bounds.extend_from_slice(cuts);
    bounds.push(payload.len());
    bounds
        .windows(2)
        .map(|w| {
            let (start, end) = (w[0], w[1]);
            let part = &payload[start..end];
            let mut f = frame[..14].to_vec();
            let mut h = ip[..20].to_vec();
            h[2..4].copy_from_slice(&((20 + part.len()) as u16).to_be_bytes());
            h[4..6].copy_from_slice(&id.to_be_bytes());
            let more = end < payload.len();
            let flags_off = (if more { 0x2000 } else { 0 }) | (start / 8) as u16;
            h[6..8].copy_from_slice(&flags_off.to_be_bytes());
            f.extend_from_slice(&h);
            f.extend_from_slice(part);
            synth::fill_checksums(&mut f);
            f
        })
        .collect()
}

#[test]
fn junk_fragments_from_other_sources_do_not_evict_the_attack() {
    // Issue 13 case 5: the attack's request in two fragments, with junk
    // incomplete fragments from ten other sources in between (the issue's
    // 1,100, which filled the old table of 1,024 datagrams, and 5,000, more
    // than the 4,096 datagrams the table now holds).
    for junk in [1_100u32, 5_000] {
        let mut c = Conversation::new(client(), server());
        let mut frames = checksummed(c.handshake().into());
        let mut request = c.to_server(&FORCE_LISTEN_ONLY);
        synth::fill_checksums(&mut request);
        let parts = fragments(&request, 0x4242, &[16]);
        frames.push(parts[0].clone());
        for i in 0..junk {
            let from = Host {
                mac: [2, 0, 0, 0, 1, 1],
                ip: Ipv4Addr::new(192, 0, 2, (i % 10) as u8 + 1),
                port: 1000,
            };
            let mut udp = synth::udp_frame(&from, &server(), &[0xee; 40]);
            synth::fill_checksums(&mut udp);
            frames.push(fragments(&udp, i as u16, &[24])[0].clone());
        }
        frames.push(parts[1].clone());
        let (lines, stats, per_rule) = run_with_rules(PipelineConfig::default(), &frames);
        assert_listen_only_alert(&lines, &per_rule, &format!("{junk} junk fragments"));
        assert_eq!(stats.defrag.reassembled, 1);
        assert_eq!(
            stats.defrag.evicted + stats.defrag.refused,
            u64::from(junk).saturating_sub(4_095),
            "evictions and refusals are counted"
        );
    }
}

#[test]
fn junk_fragments_from_5000_spoofed_sources_do_not_evict_the_attack() {
    // Review D3: one tiny junk first fragment (8 bytes) from each of 5,000
    // spoofed sources. Ranked by bytes, the attack's datagram (its first
    // fragment carries the 20-byte TCP header) was the heaviest and the
    // first to go; now nobody holds more datagrams than its source, so the
    // junk beyond the table is refused (counted, one anomaly per second).
    let mut c = Conversation::new(client(), server());
    let mut frames = checksummed(c.handshake().into());
    let mut request = c.to_server(&FORCE_LISTEN_ONLY);
    synth::fill_checksums(&mut request);
    let parts = fragments(&request, 0x4444, &[24]);
    frames.push(parts[0].clone());
    for i in 0..5_000u32 {
        let [_, _, hi, lo] = (0xc633_0000u32 + i).to_be_bytes();
        let from = Host {
            mac: [2, 0, 0, 0, 1, 1],
            ip: Ipv4Addr::new(198, 51, hi, lo),
            port: 1000,
        };
        let mut udp = synth::udp_frame(&from, &server(), &[0xee; 24]);
        synth::fill_checksums(&mut udp);
        // IP payload: UDP header 8 + 24 bytes; the first fragment has 8.
        frames.push(fragments(&udp, i as u16, &[8])[0].clone());
    }
    frames.push(parts[1].clone());
    let (lines, stats, per_rule) = run_with_rules(PipelineConfig::default(), &frames);
    assert_listen_only_alert(&lines, &per_rule, "5,000 spoofed sources");
    assert_eq!(stats.defrag.reassembled, 1);
    assert_eq!((stats.defrag.refused, stats.defrag.evicted), (905, 0));
    let refused = anomalies(&lines)
        .iter()
        .filter(|a| *a == "fragment_refused")
        .count();
    assert!((1..=6).contains(&refused), "one per second: {refused}");
}

#[test]
fn an_overlap_in_the_completing_fragment_is_reported() {
    // Issue 13 case 5, second half: the fragment that completes the attack
    // starts 8 bytes early and carries other bytes there (another Modbus
    // transaction id): the first copy wins and the overlap is reported.
    let mut c = Conversation::new(client(), server());
    let mut frames = checksummed(c.handshake().into());
    let mut request = c.to_server(&FORCE_LISTEN_ONLY);
    synth::fill_checksums(&mut request);
    // IP payload: TCP header 0..20, Modbus 20..32; first fragment 0..24.
    frames.push(fragments(&request, 0x4343, &[24])[0].clone());
    let mut other = request.clone();
    other[14 + 20 + 20 + 1] = 7; // Modbus transaction id 9 -> 7, inside 16..24
    frames.push(fragments(&other, 0x4343, &[16])[1].clone()); // 16..32, last
    let (lines, stats, per_rule) = run_with_rules(PipelineConfig::default(), &frames);
    assert_listen_only_alert(&lines, &per_rule, "overlapping last fragment");
    let m = of_type(&lines, "modbus");
    assert_eq!(m[0]["modbus"]["transaction_id"], 9, "the first copy wins");
    assert_eq!(anomalies(&lines), ["fragment_overlap_mismatch"]);
    assert_eq!(stats.defrag.overlap_mismatches, 1);
}

#[test]
fn a_pdu_left_incomplete_at_close_is_an_anomaly() {
    let mut c = Conversation::new(client(), server());
    let mut frames: Vec<Vec<u8>> = c.handshake().into();
    frames.push(c.to_server(&REQ));
    frames.push(c.to_client(&RESP));
    frames.push(c.to_server(&REQ[..7])); // the capture ends mid-request
    let (lines, _) = run(&frames);
    assert_eq!(anomalies(&lines), ["incomplete_pdu_at_close"]);
    let a = of_type(&lines, "anomaly");
    assert!(a[0]["anomaly"].to_string().contains("7 bytes"), "{}", a[0]);
}

/// Sets the IPv4 total length of an Ethernet frame and refills the header
/// checksum, so that only the length is wrong.
fn set_total_length(f: &mut [u8], total: u16) {
    f[14 + 2..14 + 4].copy_from_slice(&total.to_be_bytes()); // IPv4 total length
    otwatch_proto::wire::checksum::fill_ipv4_header(&mut f[14..14 + 20]);
}

#[test]
fn insertion_with_an_ip_length_beyond_the_frame_is_dropped() {
    // Review D1: the benign copy claims one byte more than the frame holds
    // (IPv4 header checksum correct). The capture did not cut the frame
    // (`wire_len` is its length), so the length lies: the PLC drops the
    // packet, and its TCP checksum could not be verified over bytes that
    // are not there. Before, the copy was believed in every mode.
    for mode in [ChecksumMode::Auto, ChecksumMode::On] {
        let frames = insertion(|c| {
            vec![forged_copy(c, &QUERY_DATA, |f| {
                let total = (f.len() - 14) as u16;
                set_total_length(f, total + 1);
            })]
        });
        let config = PipelineConfig {
            checksums: mode,
            ..PipelineConfig::default()
        };
        let (lines, stats, per_rule) = run_with_rules(config, &frames);
        let why = format!("length + 1, {}", mode.name());
        assert_listen_only_alert(&lines, &per_rule, &why);
        assert_eq!(anomalies(&lines), ["ip_length_beyond_frame"], "{why}");
        assert_eq!(stats.decode_errors.get("ip_length_beyond_frame"), Some(&1));
        assert_eq!(stats.stream.overlap_mismatches, 0, "{why}");
    }
}

#[test]
fn a_frame_cut_by_the_snap_length_is_still_believed() {
    // The same long length, but the capture recorded fewer bytes than the
    // wire carried: a snap-length cut, not a lie. The packet is kept and its
    // transport checksum is unverifiable.
    let mut c = Conversation::new(client(), server());
    let mut frames = checksummed(c.handshake().into());
    frames.extend(checksummed(vec![c.to_server(&REQ)]));
    let full = frames.pop().expect("request");
    let eve = EveWriter::new(Vec::new(), EventFilter::all());
    let mut p = Pipeline::new(PipelineConfig::default(), eve);
    feed(&mut p, &frames);
    p.packet(Frame {
        ts: Timestamp::new(1_700_000_001, 0),
        link_type: LinkType::Ethernet,
        data: &full[..full.len() - 2], // the last two bytes of the request were cut
        wire_len: full.len() as u32,
    });
    let stats = p.stats().clone();
    assert_eq!(stats.decode_errors.get("ip_length_beyond_frame"), None);
    assert_eq!(stats.checksum.dropped, 0);
    assert_eq!(stats.tcp, 4, "the cut frame reached TCP");
}

#[test]
fn a_zero_ip_length_is_dropped_on_a_verified_direction_and_with_checks_on() {
    // Review D1: total length 0 is what segmentation offload leaves on a
    // host's own packets; a receiver drops it. In `auto` it is believed only
    // where offload could be (a direction never verified), in `on` never.
    let zero = |c: &mut Conversation| vec![forged_copy(c, &QUERY_DATA, |f| set_total_length(f, 0))];
    for mode in [ChecksumMode::Auto, ChecksumMode::On] {
        // The handshake's verified ACK proves the client's direction.
        let frames = insertion(zero);
        let config = PipelineConfig {
            checksums: mode,
            ..PipelineConfig::default()
        };
        let (lines, stats, per_rule) = run_with_rules(config, &frames);
        let why = format!("length 0, {}", mode.name());
        assert_listen_only_alert(&lines, &per_rule, &why);
        assert!(
            anomalies(&lines).contains(&"ip_length_zero".to_string()),
            "{why}"
        );
        assert_eq!(stats.decode_errors.get("ip_length_zero"), Some(&1), "{why}");
    }
}

#[test]
fn a_forged_syn_far_from_the_stream_does_not_move_it() {
    // Review D2: issue 13 case 4 with the SYN flag set. A bare SYN at the
    // client's sequence + 1,000,000 (without a window scale option) used to
    // set the stream's next byte 1 MB ahead, so the real request counted as
    // an old retransmission and was never decoded. The PLC ignores it
    // (challenge ACK); so must reassembly, and the window scale must stay.
    let frames = insertion(|c| {
        let mut syn = synth::tcp_frame(
            &client(),
            &server(),
            c.client_seq.wrapping_add(1_000_000),
            0,
            synth::flags::SYN,
            &[],
        );
        synth::fill_checksums(&mut syn);
        vec![syn]
    });
    let (lines, stats, per_rule) = run_with_rules(PipelineConfig::default(), &frames);
    assert_listen_only_alert(&lines, &per_rule, "forged SYN");
    assert_eq!(anomalies(&lines), ["syn_on_established"]);
    assert_eq!(stats.stream.stray_syns, 1);
    assert_eq!(stats.stream.retransmitted, 0);
    assert_eq!(stats.stream.gaps, 0);
}

#[test]
fn a_syn_on_a_closed_flow_starts_a_new_connection() {
    // The same addresses and ports reused after both FINs: the new SYN (a new
    // initial sequence number) starts the stream afresh, no anomaly.
    let mut c = Conversation::new(client(), server());
    let mut frames: Vec<Vec<u8>> = c.handshake().into();
    frames.push(c.to_server(&REQ));
    frames.push(c.to_client(&RESP));
    let fin = |from: &Host, to: &Host, seq, ack| {
        synth::tcp_frame(
            from,
            to,
            seq,
            ack,
            synth::flags::FIN | synth::flags::ACK,
            &[],
        )
    };
    frames.push(fin(&client(), &server(), c.client_seq, c.server_seq));
    frames.push(fin(&server(), &client(), c.server_seq, c.client_seq + 1));
    let mut again = Conversation::new(client(), server());
    again.client_seq = c.client_seq.wrapping_add(5_000_000);
    again.server_seq = c.server_seq.wrapping_add(7_000_000);
    frames.extend(again.handshake());
    frames.push(again.to_server(&REQ));
    frames.push(again.to_client(&RESP));
    let (lines, stats) = run(&checksummed(frames));
    assert_eq!(
        of_type(&lines, "modbus").len(),
        2,
        "{:?}",
        anomalies(&lines)
    );
    assert!(anomalies(&lines).is_empty(), "{:?}", anomalies(&lines));
    assert_eq!(stats.stream.stray_syns, 0);
}

#[test]
fn far_segments_after_a_mid_stream_pickup_are_dropped() {
    // Review D6: no handshake, so the window scale is unknown and the
    // largest (shift 14, a window near 1 GB) is assumed. A segment 100 MB
    // ahead used to restart the stream and have its forged PDU decoded.
    // Once the receiver was seen it is dropped, whether the stream was
    // already picked up (first case) or this would be its first data.
    for picked_up in [true, false] {
        let mut c = Conversation::new(client(), server());
        let _ = c.handshake(); // not captured
        let mut frames = Vec::new();
        if picked_up {
            frames.push(c.to_server(&REQ));
        }
        frames.push(c.to_client(&RESP));
        frames.push(synth::tcp_frame(
            &client(),
            &server(),
            c.client_seq.wrapping_add(100_000_000),
            c.server_seq,
            synth::flags::PSH | synth::flags::ACK,
            &FORCE_LISTEN_ONLY,
        ));
        frames.push(c.to_server(&REQ));
        frames.push(c.to_client(&RESP));
        let (lines, stats, per_rule) =
            run_with_rules(PipelineConfig::default(), &checksummed(frames));
        let why = format!("picked up before: {picked_up}");
        assert_eq!(
            per_rule.get(&110001),
            None,
            "{why}: the forged PDU was decoded"
        );
        assert_eq!(stats.stream.outside_window, 1, "{why}");
        assert_eq!(stats.stream.gaps, 0, "{why}");
        let a = anomalies(&lines);
        assert!(
            a.contains(&"segment_outside_window".to_string()),
            "{why}: {a:?}"
        );
        let m = of_type(&lines, "modbus");
        let read = m
            .iter()
            .filter(|l| l["modbus"]["request"]["function_code"] == 3)
            .count();
        assert_eq!(read, if picked_up { 2 } else { 1 }, "{why}: {m:?}");
    }
}

#[test]
fn fragments_with_a_zero_ipv4_checksum_are_not_believed() {
    // Review D5: the benign copy's second and third fragments (TCP checksum
    // of the benign bytes, Modbus sub-function 0) carry IPv4 header checksum
    // 0, the offload mark. The PLC drops them and reassembles the real
    // fragments; the sensor used to believe the mark on every fragment, keep
    // the benign copies (first copy wins) and decode the benign request.
    let mut c = Conversation::new(client(), server());
    let mut frames = checksummed(c.handshake().into());
    let benign = forged_copy(&c, &QUERY_DATA, |_| {});
    // IP payload: 0..8 ports and seq, 8..24 ack .. TCP checksum .. Modbus
    // transaction and protocol ids, 24..32 the rest of the Modbus request.
    for mut f in fragments(&benign, 0x4545, &[8, 24]).into_iter().skip(1) {
        f[14 + 10..14 + 12].copy_from_slice(&[0, 0]); // IPv4 header checksum 0
        frames.push(f);
    }
    let mut request = c.to_server(&FORCE_LISTEN_ONLY);
    synth::fill_checksums(&mut request);
    frames.extend(fragments(&request, 0x4545, &[8, 24]));
    let (lines, stats, per_rule) = run_with_rules(PipelineConfig::default(), &frames);
    assert_listen_only_alert(&lines, &per_rule, "zero-checksum fragments");
    assert_eq!(
        anomalies(&lines),
        ["bad_ipv4_checksum", "bad_ipv4_checksum"]
    );
    assert_eq!(stats.checksum.offload_accepted, 0);
    assert_eq!(stats.defrag.overlap_mismatches, 0);
}

#[test]
fn forged_acknowledgements_walking_the_window_are_reported() {
    // Review D7 (detected, not prevented): nine forged server ACKs, each
    // within the window plus slack of the last, move the believed window
    // about 1 MB ahead; a forged segment there is skipped to. The server's
    // real acknowledgement of the real request then lies far behind what
    // was believed: `stream.ack_regression`.
    let frames = insertion(|c| {
        let mut frames = Vec::new();
        let base = c.client_seq;
        for step in 1..=9u32 {
            let mut ack = synth::tcp_frame(
                &server(),
                &client(),
                c.server_seq,
                base.wrapping_add(step * 110_000),
                synth::flags::ACK,
                &[],
            );
            synth::fill_checksums(&mut ack);
            frames.push(ack);
        }
        let mut far = synth::tcp_frame(
            &client(),
            &server(),
            base.wrapping_add(990_000),
            c.server_seq,
            synth::flags::PSH | synth::flags::ACK,
            &QUERY_DATA,
        );
        synth::fill_checksums(&mut far);
        frames.push(far);
        frames
    });
    let (lines, stats, _) = run_with_rules(PipelineConfig::default(), &frames);
    assert!(
        anomalies(&lines).contains(&"ack_regression".to_string()),
        "{:?}",
        anomalies(&lines)
    );
    assert_eq!(stats.stream.ack_regressions, 1);
}

#[test]
fn each_stage_does_its_part_and_only_the_whole_path_writes() {
    // Two transactions, the second split over two segments, one of them
    // with a TCP checksum that fails (it is dropped from the decode stage
    // on: a verified direction).
    let mut frames = exchange(REQ.len(), 5);
    let mut bad = Conversation::new(client(), server());
    bad.client_seq = 0x1000_0001 + REQ.len() as u32;
    bad.server_seq = 0x2000_0001 + RESP.len() as u32;
    frames = checksummed(frames);
    let mut spoiled = bad.to_server(&REQ);
    synth::fill_checksums(&mut spoiled);
    let last = spoiled.len() - 1;
    spoiled[last] ^= 0xff;
    frames.push(spoiled);
    let stage = |until: Until| {
        let config = PipelineConfig {
            until,
            ..PipelineConfig::default()
        };
        let mut p = Pipeline::new(config, EveWriter::new(Vec::new(), EventFilter::all()));
        feed(&mut p, &frames);
        let (mut eve, stats) = p.finish();
        let _ = eve.finish();
        (eve_bytes(eve), stats)
    };
    let (read_lines, read) = stage(Until::Read);
    assert_eq!(read.packets, frames.len() as u64);
    assert_eq!(
        (read.tcp, read.flows.created),
        (0, 0),
        "read decodes nothing"
    );
    assert!(read_lines.is_empty());

    let (decode_lines, decode) = stage(Until::Decode);
    assert_eq!(decode.tcp, 0, "transport counters are the flow stage's");
    assert_eq!(decode.flows.created, 0);
    assert!(decode_lines.is_empty());

    let (flow_lines, flow) = stage(Until::Flow);
    assert_eq!(flow.flows.created, 1);
    assert_eq!(flow.checksum.dropped, 1, "the spoiled copy");
    assert!(flow.app.is_empty(), "nothing dissected");
    assert!(flow_lines.is_empty());

    let (dissect_lines, dissect) = stage(Until::Dissect);
    let (all_lines, all) = stage(Until::All);
    assert_eq!(dissect.app, all.app, "the same PDUs decoded");
    assert_eq!(all.app.get("modbus").map(|m| m.transactions), Some(1));
    assert!(dissect_lines.is_empty(), "no event reaches the output");
    let text = String::from_utf8(all_lines).unwrap_or_default();
    assert_eq!(text.matches("\"event_type\":\"modbus\"").count(), 1);
    assert_eq!(text.matches("\"event_type\":\"flow\"").count(), 1);

    for u in Until::ALL {
        assert_eq!(Until::from_name(u.name()), Some(u));
    }
    assert_eq!(Until::from_name("rules"), None);
}
