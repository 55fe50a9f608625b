//! Replay throughput on a large, Modbus-heavy capture generated here: 64
//! masters polling 16 PLCs each over long-lived TCP sessions (requests,
//! responses and bare ACKs — small OT packets), compared with a bare walk of
//! the same file's records.
//!
//! `cargo bench -p otwatch-sensor --bench replay`

#![allow(missing_docs)] // criterion's macros generate undocumented items

use std::net::Ipv4Addr;
use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use otwatch_sensor::capture::file::CaptureFile;
use otwatch_sensor::eve::{EveWriter, EventFilter};
use otwatch_sensor::pipeline::{NullOutput, Pipeline, PipelineConfig};
use otwatch_sensor::synth::{flags, tcp_frame, Conversation, Host, PcapWriter};

/// Transactions per session; each gives a request, a response and an ACK.
const ROUNDS: usize = 400;
const MASTERS: u8 = 64;
const PLCS: u8 = 16;

/// Builds the capture and returns its path and packet count.
fn capture() -> (PathBuf, u64) {
    let path = std::env::temp_dir().join("otwatch-bench-modbus.pcap");
    let mut sessions: Vec<Conversation> = Vec::new();
    for m in 0..MASTERS {
        for p in 0..PLCS {
            let client = Host {
                mac: [2, 0, 0, 1, 0, m],
                ip: Ipv4Addr::new(10, 1, m, 1),
                port: 40_000 + u16::from(p),
            };
            let server = Host {
                mac: [2, 0, 0, 2, 0, p],
                ip: Ipv4Addr::new(10, 2, 0, p),
                port: 502,
            };
            sessions.push(Conversation::new(client, server));
        }
    }
    let mut pcap = PcapWriter::new(1);
    let mut packets = 0u64;
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
    for round in 0..ROUNDS {
        for (i, s) in sessions.iter_mut().enumerate() {
            let tid = (round as u16).wrapping_mul(31).wrapping_add(i as u16);
            let fc = [3u8, 4, 1, 6][round % 4];
            let (req, resp): (Vec<u8>, Vec<u8>) = match fc {
                3 | 4 => (
                    [&tid.to_be_bytes()[..], &[0, 0, 0, 6, 1, fc, 0, 0, 0, 4]].concat(),
                    [
                        &tid.to_be_bytes()[..],
                        &[0, 0, 0, 11, 1, fc, 8, 0, 1, 0, 2, 0, 3, 0, 4],
                    ]
                    .concat(),
                ),
                1 => (
                    [&tid.to_be_bytes()[..], &[0, 0, 0, 6, 1, 1, 0, 0, 0, 16]].concat(),
                    [&tid.to_be_bytes()[..], &[0, 0, 0, 5, 1, 1, 2, 0x49, 0x92]].concat(),
                ),
                _ => (
                    [&tid.to_be_bytes()[..], &[0, 0, 0, 6, 1, 6, 0, 10, 1, 0xf4]].concat(),
                    [&tid.to_be_bytes()[..], &[0, 0, 0, 6, 1, 6, 0, 10, 1, 0xf4]].concat(),
                ),
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
        }
    }
    std::fs::write(&path, pcap.into_bytes()).expect("write bench capture");
    (path, packets)
}

fn bench(c: &mut Criterion) {
    let (path, packets) = capture();
    let file = CaptureFile::open(&path).expect("open");
    let mut group = c.benchmark_group("modbus_capture");
    group.throughput(Throughput::Elements(packets));
    group.sample_size(10);
    group.bench_function("record_walk", |b| {
        b.iter(|| {
            let mut bytes = 0usize;
            file.walk(&mut |frame, _| bytes += frame.data.len())
                .expect("walk");
            bytes
        })
    });
    group.bench_function("sensor_path", |b| {
        b.iter(|| {
            let mut p = Pipeline::new(PipelineConfig::default(), NullOutput);
            file.walk(&mut |frame, _| p.packet(frame)).expect("walk");
            let (_, stats) = p.finish();
            assert_eq!(stats.app["modbus"].transactions, packets / 3);
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

criterion_group!(benches, bench);
criterion_main!(benches);
