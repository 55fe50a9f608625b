//! S7comm throughput against Modbus: two captures of the same shape,
//! generated here (64 clients polling 16 PLCs each over long-lived TCP
//! sessions; per transaction a request, a response and a bare ACK), one
//! carrying S7comm in TPKT / COTP DT, the other Modbus/TCP, each replayed
//! through the sensor path.
//!
//! Each S7 session opens with the TCP handshake, COTP CR / CC and setup
//! communication, then cycles through: read var of DB1.DBW0 (1 word), read
//! var of DB10.DBD4 and MB0..7 (2 items), write var of DB1.DBW2, read var of
//! inputs IB0..15; PDU references increase per session, as a client's do.
//!
//! `cargo bench -p otwatch-sensor --bench s7`

// criterion_group! generates an undocumented public function.
#![allow(missing_docs)]

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use otwatch_sensor::capture::file::CaptureFile;
use otwatch_sensor::eve::{EveWriter, EventFilter};
use otwatch_sensor::pipeline::{NullOutput, Pipeline, PipelineConfig};
use otwatch_sensor::synth::{flags, tcp_frame, Conversation, Host, PcapWriter};

/// Transactions per session; each gives a request, a response and an ACK.
const ROUNDS: usize = 400;
const CLIENTS: u8 = 64;
const PLCS: u8 = 16;

/// TPKT + COTP DT (EOT) around an S7 PDU.
fn iso(s7: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(7 + s7.len());
    f.extend_from_slice(&[0x03, 0x00]);
    f.extend_from_slice(&((7 + s7.len()) as u16).to_be_bytes());
    f.extend_from_slice(&[0x02, 0xf0, 0x80]);
    f.extend_from_slice(s7);
    f
}

/// An S7 header: job / userdata (10 bytes) or ack_data (12, no error).
fn s7_header(rosctr: u8, pdu_ref: u16, param_len: usize, data_len: usize) -> Vec<u8> {
    let mut h = vec![0x32, rosctr, 0, 0];
    h.extend_from_slice(&pdu_ref.to_be_bytes());
    h.extend_from_slice(&(param_len as u16).to_be_bytes());
    h.extend_from_slice(&(data_len as u16).to_be_bytes());
    if rosctr == 3 {
        h.extend_from_slice(&[0, 0]);
    }
    h
}

/// An S7ANY item: transport size, count, DB, area, byte address.
fn any_item(ts: u8, count: u16, db: u16, area: u8, byte: u32) -> [u8; 12] {
    let [c0, c1] = count.to_be_bytes();
    let [d0, d1] = db.to_be_bytes();
    let [_, a0, a1, a2] = (byte << 3).to_be_bytes();
    [0x12, 0x0a, 0x10, ts, c0, c1, d0, d1, area, a0, a1, a2]
}

/// Job and ack_data of transaction `round` with PDU reference `pdu_ref`.
fn s7_transaction(round: usize, pdu_ref: u16) -> (Vec<u8>, Vec<u8>) {
    let items: Vec<[u8; 12]> = match round % 4 {
        0 => vec![any_item(0x04, 1, 1, 0x84, 0)],
        1 => vec![
            any_item(0x06, 1, 10, 0x84, 4),
            any_item(0x02, 8, 0, 0x83, 0),
        ],
        2 => vec![any_item(0x04, 1, 1, 0x84, 2)],
        _ => vec![any_item(0x02, 16, 0, 0x81, 0)],
    };
    let lens: Vec<usize> = match round % 4 {
        0 | 2 => vec![2],
        1 => vec![4, 8],
        _ => vec![16],
    };
    let write = round % 4 == 2;
    let function = if write { 0x05 } else { 0x04 };
    let mut param = vec![function, items.len() as u8];
    for it in &items {
        param.extend_from_slice(it);
    }
    // Data items: return code, transport size 4 (length in bits), length, value.
    let data_items = |rc: u8| {
        let mut d = Vec::new();
        for (i, &n) in lens.iter().enumerate() {
            d.extend_from_slice(&[rc, 0x04]);
            d.extend_from_slice(&((n * 8) as u16).to_be_bytes());
            d.extend((0..n).map(|b| (round + b) as u8));
            if n % 2 == 1 && i + 1 < lens.len() {
                d.push(0);
            }
        }
        d
    };
    let (job_data, ack_param, ack_data) = if write {
        (data_items(0x00), vec![function, 1], vec![0xff])
    } else {
        (
            Vec::new(),
            vec![function, items.len() as u8],
            data_items(0xff),
        )
    };
    let mut job = s7_header(1, pdu_ref, param.len(), job_data.len());
    job.extend_from_slice(&param);
    job.extend_from_slice(&job_data);
    let mut ack = s7_header(3, pdu_ref, ack_param.len(), ack_data.len());
    ack.extend_from_slice(&ack_param);
    ack.extend_from_slice(&ack_data);
    (iso(&job), iso(&ack))
}

/// Modbus transaction of the reference capture (as benches/replay.rs).
fn modbus_transaction(round: usize, tid: u16) -> (Vec<u8>, Vec<u8>) {
    let t = tid.to_be_bytes();
    match [3u8, 4, 1, 6][round % 4] {
        fc @ (3 | 4) => (
            [&t[..], &[0, 0, 0, 6, 1, fc, 0, 0, 0, 4]].concat(),
            [&t[..], &[0, 0, 0, 11, 1, fc, 8, 0, 1, 0, 2, 0, 3, 0, 4]].concat(),
        ),
        1 => (
            [&t[..], &[0, 0, 0, 6, 1, 1, 0, 0, 0, 16]].concat(),
            [&t[..], &[0, 0, 0, 5, 1, 1, 2, 0x49, 0x92]].concat(),
        ),
        _ => (
            [&t[..], &[0, 0, 0, 6, 1, 6, 0, 10, 1, 0xf4]].concat(),
            [&t[..], &[0, 0, 0, 6, 1, 6, 0, 10, 1, 0xf4]].concat(),
        ),
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Proto {
    S7,
    Modbus,
}

/// Builds one capture; returns its path, packet count and transaction count.
fn capture(proto: Proto) -> (PathBuf, u64, u64) {
    let (name, port) = match proto {
        Proto::S7 => ("otwatch-bench-s7.pcap", 102),
        Proto::Modbus => ("otwatch-bench-s7-modbus-reference.pcap", 502),
    };
    let path = std::env::temp_dir().join(name);
    let mut sessions: Vec<Conversation> = Vec::new();
    for c in 0..CLIENTS {
        for p in 0..PLCS {
            let client = Host {
                mac: [2, 0, 0, 1, 0, c],
                ip: Ipv4Addr::new(10, 1, c, 1),
                port: 40_000 + u16::from(p),
            };
            let server = Host {
                mac: [2, 0, 0, 2, 0, p],
                ip: Ipv4Addr::new(10, 2, 0, p),
                port,
            };
            sessions.push(Conversation::new(client, server));
        }
    }
    let mut pcap = PcapWriter::new(1);
    let (mut packets, mut transactions) = (0u64, 0u64);
    let mut micros = 0u32;
    let mut secs = 1_700_000_000u32;
    let mut tick = |pcap: &mut PcapWriter, frame: &[u8]| {
        micros += 7;
        if micros >= 1_000_000 {
            micros -= 1_000_000;
            secs += 1;
        }
        pcap.record(secs, micros, frame);
    };
    if proto == Proto::S7 {
        // TCP handshake, COTP CR / CC (rack 0, slot 2), setup communication.
        let cr = [
            0x03, 0x00, 0x00, 0x16, 0x11, 0xe0, 0x00, 0x00, 0x00, 0x01, 0x00, 0xc1, 0x02, 0x01,
            0x00, 0xc2, 0x02, 0x01, 0x02, 0xc0, 0x01, 0x0a,
        ];
        let cc = [
            0x03, 0x00, 0x00, 0x16, 0x11, 0xd0, 0x00, 0x01, 0x00, 0x01, 0x00, 0xc0, 0x01, 0x0a,
            0xc1, 0x02, 0x01, 0x00, 0xc2, 0x02, 0x01, 0x02,
        ];
        let setup = |rosctr: u8| {
            let mut s = s7_header(rosctr, 0, 8, 0);
            s.extend_from_slice(&[0xf0, 0x00, 0x00, 0x01, 0x00, 0x01, 0x01, 0xe0]);
            iso(&s)
        };
        for s in sessions.iter_mut() {
            for f in s.handshake() {
                tick(&mut pcap, &f);
            }
            let f = s.to_server(&cr);
            tick(&mut pcap, &f);
            let f = s.to_client(&cc);
            tick(&mut pcap, &f);
            let f = s.to_server(&setup(1));
            tick(&mut pcap, &f);
            let f = s.to_client(&setup(3));
            tick(&mut pcap, &f);
            packets += 7;
            transactions += 1;
        }
    }
    for round in 0..ROUNDS {
        for (i, s) in sessions.iter_mut().enumerate() {
            let id = (round as u16)
                .wrapping_mul(31)
                .wrapping_add(i as u16)
                .wrapping_add(1);
            let (req, resp) = match proto {
                Proto::S7 => s7_transaction(round, id),
                Proto::Modbus => modbus_transaction(round, id),
            };
            let f = s.to_server(&req);
            tick(&mut pcap, &f);
            let f = s.to_client(&resp);
            tick(&mut pcap, &f);
            let ack = tcp_frame(
                &s.client,
                &s.server,
                s.client_seq,
                s.server_seq,
                flags::ACK,
                &[],
            );
            tick(&mut pcap, &ack);
            packets += 3;
            transactions += 1;
        }
    }
    std::fs::write(&path, pcap.into_bytes()).expect("write bench capture");
    (path, packets, transactions)
}

fn bench_capture(
    c: &mut Criterion,
    group: &str,
    app: &str,
    path: &Path,
    packets: u64,
    transactions: u64,
) {
    let file = CaptureFile::open(path).expect("open");
    let mut group = c.benchmark_group(group);
    group.throughput(Throughput::Elements(packets));
    group.sample_size(10);
    group.bench_function("sensor_path", |b| {
        b.iter(|| {
            let mut p = Pipeline::new(PipelineConfig::default(), NullOutput);
            file.walk(&mut |frame, _| p.packet(frame)).expect("walk");
            let (_, stats) = p.finish();
            assert_eq!(stats.app[app].transactions, transactions);
            assert!(stats.anomalies.is_empty(), "{:?}", stats.anomalies);
            stats.packets
        })
    });
    group.bench_function("sensor_path_with_eve", |b| {
        b.iter(|| {
            let eve = EveWriter::new(std::io::sink(), EventFilter::all());
            let mut p = Pipeline::new(PipelineConfig::default(), eve);
            file.walk(&mut |frame, _| p.packet(frame)).expect("walk");
            let (eve, _) = p.finish();
            eve.lines()
        })
    });
    group.finish();
}

fn bench(c: &mut Criterion) {
    let (path, packets, transactions) = capture(Proto::S7);
    bench_capture(c, "s7_capture", "s7comm", &path, packets, transactions);
    let (path, packets, transactions) = capture(Proto::Modbus);
    bench_capture(
        c,
        "modbus_reference_capture",
        "modbus",
        &path,
        packets,
        transactions,
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
