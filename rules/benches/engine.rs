//! Per-event cost of the matcher with 10 and with 1,000 rules.
//!
//! The event is a polled Modbus read (read holding registers with its
//! response), the bulk of OT traffic. Both rulesets hold the same 10 rules
//! that can match a read (function 3 or unindexed); the large one adds 990
//! rules on other functions, diagnostics sub-functions, UMAS codes, S7comm
//! and DNP3, as a large site ruleset would. Rules are indexed by protocol
//! and function, so the 990 cost nothing for this event. A third case
//! shows the limit of the index: 100 rules on the event's own function.
//!
//! `cargo bench -p otwatch-rules --bench engine`

#![allow(missing_docs)] // criterion's macros generate undocumented items

use std::hint::black_box;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion};
use otwatch_proto::event::{AppEvent, Event, Timestamp};
use otwatch_proto::modbus::{self, pdu, FunctionCode};
use otwatch_rules::{Engine, FlowInfo, Ruleset};

fn rule(id: u32, protocol: &str, m: &str) -> String {
    format!("  - {{id: {id}, name: r{id}, severity: low, protocol: {protocol}, description: d, match: {m}}}\n")
}

fn base_rules() -> String {
    let mut y = String::from("rules:\n");
    for i in 0..8u32 {
        y.push_str(&rule(
            i,
            "modbus",
            &format!(
                "{{function: 3, address: {{range: [{}, {}]}}}}",
                5000 + i * 10,
                5009 + i * 10
            ),
        ));
    }
    y.push_str(&rule(8, "modbus", "{unit_id: 200}"));
    y.push_str(&rule(9, "modbus", "{src_ip: {not_in: [10.0.0.0/8]}}"));
    y
}

fn large_rules(n: u32) -> String {
    let mut y = base_rules();
    let other_functions = [
        1u32, 2, 4, 5, 6, 7, 8, 11, 12, 15, 16, 17, 20, 21, 22, 23, 24, 43, 90,
    ];
    for i in 0..n {
        let id = 100 + i;
        let r = match i % 5 {
            0 => rule(
                id,
                "modbus",
                &format!(
                    "{{function: {}, address: {}}}",
                    other_functions[i as usize % other_functions.len()],
                    i
                ),
            ),
            1 => rule(
                id,
                "modbus",
                &format!(
                    "{{function: diagnostics, diagnostic.subfunction: {}}}",
                    i % 21
                ),
            ),
            2 => rule(
                id,
                "modbus",
                &format!("{{function: umas, umas.code: {}}}", i % 256),
            ),
            3 => rule(
                id,
                "s7comm",
                &format!("{{function: write_var, db_number: {i}}}"),
            ),
            _ => rule(
                id,
                "dnp3",
                &format!("{{function: {}, object.group: {}}}", 1 + i % 30, i % 120),
            ),
        };
        y.push_str(&r);
    }
    y
}

fn same_function_rules(n: u32) -> String {
    let mut y = base_rules();
    for i in 0..n {
        y.push_str(&rule(
            100 + i,
            "modbus",
            &format!("{{function: 3, address: {}}}", 10_000 + i),
        ));
    }
    y
}

fn bench(c: &mut Criterion) {
    let req: &[u8] = &[0x03, 0x00, 0x64, 0x00, 0x0a];
    let rsp: &[u8] = &[
        0x03, 0x14, 0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7, 0, 8, 0, 9, 0, 10,
    ];
    let ts = Timestamp::new(1_800_000_000, 0);
    let tx = modbus::Transaction {
        transaction_id: 7,
        unit_id: 1,
        request: Some(modbus::Message {
            ts,
            function: FunctionCode::ReadHoldingRegisters,
            pdu: req,
            body: pdu::decode_request(req),
        }),
        response: Some(modbus::Message {
            ts,
            function: FunctionCode::ReadHoldingRegisters,
            pdu: rsp,
            body: pdu::decode_response(rsp),
        }),
    };
    let event = Event {
        ts,
        app: AppEvent::Modbus(&tx),
    };
    let flow = FlowInfo {
        id: 1,
        src: "10.0.0.20".parse().expect("ip"),
        src_port: 50_000,
        dest: "10.0.0.10".parse().expect("ip"),
        dest_port: 502,
    };
    let cases = [
        ("modbus_read/10_rules", base_rules()),
        ("modbus_read/1000_rules", large_rules(990)),
        (
            "modbus_read/110_rules_same_function",
            same_function_rules(100),
        ),
    ];
    for (name, yaml) in cases {
        let set = Ruleset::from_str("bench.yaml", &yaml).unwrap_or_else(|e| panic!("{e}"));
        let mut engine = Engine::new(Arc::new(set));
        c.bench_function(name, |b| {
            b.iter(|| {
                let n = engine.inspect(black_box(&flow), black_box(&event), &mut |_| {});
                black_box(n)
            })
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
