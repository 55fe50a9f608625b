//! Pipeline tests on synthetic frames: TCP reassembly feeding the Modbus
//! dissector (splits at every offset, reordering, retransmissions, evasion,
//! gaps, mid-stream pickup), VLAN tags, IPv4 fragments, malformed headers.

use std::net::Ipv4Addr;

use otwatch_proto::event::Timestamp;
use otwatch_proto::wire::LinkType;
use serde_json::Value;

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
            AppProto::Modbus,
            // The last frame's time.
            Timestamp::new(1_700_000_000, (frames.len() as u32 - 1) * 1000)
        )]
    );
}
