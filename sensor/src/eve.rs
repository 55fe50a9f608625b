//! EVE-style JSON lines, compatible with Suricata's EVE for the fields both
//! share: `timestamp`, `flow_id`, `event_type`, `src_ip`, `src_port`,
//! `dest_ip`, `dest_port`, `proto`, `app_proto`, `vlan`, then one object named
//! after the event type.
//!
//! Lines are rendered into one reused buffer; strings from packets are escaped
//! by [`otwatch_proto::json`], so a hostile device name cannot break a line.

use std::io::Write;
use std::net::IpAddr;

use otwatch_proto::event::{Anomaly, AppEvent, Direction, Event, Timestamp};
use otwatch_proto::json::JsonWriter;

use crate::flow::Endpoint;
use otwatch_proto::ProtocolId;

use crate::capture::afpacket::KernelStats;
use crate::pipeline::{AppProto, FlowMeta, FlowRecord, Output, PacketMeta};
use crate::stats::SensorStats;

/// EVE event types: alerts, one per decoded protocol (from the registry),
/// and the sensor's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    /// Rule matches.
    Alert,
    /// Transactions of a protocol (`modbus`, `s7comm`, `dnp3`, …).
    App(ProtocolId),
    /// Flow records at flow end.
    Flow,
    /// Anomalies.
    Anomaly,
    /// Counters at the end of a run.
    Stats,
    /// Asset observations (hosts, roles, identities).
    Asset,
}

/// How many event types there are.
const EVENT_TYPES: usize = ProtocolId::COUNT + 5;

impl EventType {
    /// Every type, in documentation order: alerts, the protocols in
    /// registry order, then the sensor's own.
    pub const ALL: [EventType; EVENT_TYPES] = {
        let mut all = [EventType::Alert; EVENT_TYPES];
        let mut i = 0;
        while i < ProtocolId::COUNT {
            all[1 + i] = EventType::App(ProtocolId::ALL[i]);
            i += 1;
        }
        all[EVENT_TYPES - 4] = EventType::Flow;
        all[EVENT_TYPES - 3] = EventType::Anomaly;
        all[EVENT_TYPES - 2] = EventType::Stats;
        all[EVENT_TYPES - 1] = EventType::Asset;
        all
    };

    /// The `event_type` value.
    pub fn name(self) -> &'static str {
        match self {
            EventType::Alert => "alert",
            EventType::App(p) => p.name(),
            EventType::Flow => "flow",
            EventType::Anomaly => "anomaly",
            EventType::Stats => "stats",
            EventType::Asset => "asset",
        }
    }

    /// Position in [`EventType::ALL`].
    fn index(self) -> usize {
        match self {
            EventType::Alert => 0,
            EventType::App(p) => 1 + p.index(),
            EventType::Flow => EVENT_TYPES - 4,
            EventType::Anomaly => EVENT_TYPES - 3,
            EventType::Stats => EVENT_TYPES - 2,
            EventType::Asset => EVENT_TYPES - 1,
        }
    }

    fn bit(self) -> u64 {
        1 << self.index()
    }
}

// The filter keeps one bit per event type.
const _: () = assert!(EVENT_TYPES <= 64);

/// A set of event types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventFilter(u64);

impl EventFilter {
    /// Every event type.
    pub fn all() -> EventFilter {
        EventFilter(EventType::ALL.iter().fold(0, |acc, t| acc | t.bit()))
    }

    /// Whether `t` is in the set.
    pub fn contains(self, t: EventType) -> bool {
        self.0 & t.bit() != 0
    }

    /// Parses a comma-separated list such as `alert,modbus,flow`.
    pub fn parse(list: &str) -> Result<EventFilter, String> {
        let mut bits = 0;
        for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let Some(t) = EventType::ALL.iter().find(|t| t.name() == item) else {
                let names: Vec<&str> = EventType::ALL.iter().map(|t| t.name()).collect();
                return Err(format!(
                    "unknown event type `{item}`; choose from {}",
                    names.join(", ")
                ));
            };
            bits |= t.bit();
        }
        Ok(EventFilter(bits))
    }
}

/// Writes EVE lines to `W`.
pub struct EveWriter<W: Write> {
    out: W,
    buf: Vec<u8>,
    filter: EventFilter,
    lines: u64,
    error: Option<std::io::Error>,
}

fn proto_name(protocol: u8) -> &'static str {
    match protocol {
        6 => "TCP",
        17 => "UDP",
        1 => "ICMP",
        58 => "IPv6-ICMP",
        _ => "IP",
    }
}

/// Writes the fields a line about a packet outside any flow starts with.
pub(crate) fn write_packet_header(
    w: &mut JsonWriter<'_>,
    ts: Timestamp,
    event_type: &str,
    packet: Option<&PacketMeta>,
) {
    w.key("timestamp");
    write_ts(w, ts);
    w.field_str("event_type", event_type);
    if let Some(p) = packet {
        write_ip(w, "src_ip", p.src);
        write_ip(w, "dest_ip", p.dst);
        w.field_str("proto", proto_name(p.protocol));
    }
}

/// Writes the fields every flow-scoped line starts with.
pub(crate) fn write_header(
    w: &mut JsonWriter<'_>,
    ts: Timestamp,
    flow: &FlowMeta,
    event_type: &str,
    src: Endpoint,
    dst: Endpoint,
    app: AppProto,
) {
    w.key("timestamp");
    write_ts(w, ts);
    w.field_u64("flow_id", flow.id);
    w.field_str("event_type", event_type);
    if flow.vlan_count > 0 {
        w.key("vlan").begin_array();
        for v in flow.vlan.iter().take(usize::from(flow.vlan_count)) {
            w.u64(u64::from(*v));
        }
        w.end_array();
    }
    write_ip(w, "src_ip", src.ip);
    w.field_u64("src_port", u64::from(src.port));
    write_ip(w, "dest_ip", dst.ip);
    w.field_u64("dest_port", u64::from(dst.port));
    w.field_str("proto", proto_name(flow.protocol));
    if let Some(app) = app {
        w.field_str("app_proto", app.name());
    }
    if let Some(digest) = &flow.community_id {
        crate::community_id::write(w, digest);
    }
}

/// Writes a timestamp value (the key was written by the caller).
pub fn write_ts(w: &mut JsonWriter<'_>, ts: Timestamp) {
    let mut text = [0u8; 40];
    let mut cursor = std::io::Cursor::new(&mut text[..]);
    ts.write_rfc3339(&mut cursor);
    let len = cursor.position() as usize;
    w.bytes_str(&text[..len]);
}

/// Writes an IP address field.
pub fn write_ip(w: &mut JsonWriter<'_>, key: &str, ip: IpAddr) {
    w.key(key).ip(ip);
}

impl<W: Write> EveWriter<W> {
    /// A writer of the event types in `filter`.
    pub fn new(out: W, filter: EventFilter) -> EveWriter<W> {
        EveWriter {
            out,
            buf: Vec::with_capacity(4096),
            filter,
            lines: 0,
            error: None,
        }
    }

    /// The underlying writer.
    pub fn into_inner(self) -> W {
        self.out
    }

    /// The underlying writer, by reference.
    pub fn get_ref(&self) -> &W {
        &self.out
    }

    /// Lines written.
    pub fn lines(&self) -> u64 {
        self.lines
    }

    /// Whether `t` is written.
    pub fn wants(&self, t: EventType) -> bool {
        self.filter.contains(t)
    }

    /// Flushes and returns the first write error, if any.
    pub fn finish(&mut self) -> Result<(), std::io::Error> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        self.out.flush()
    }

    /// Renders one line with `render` and writes it.
    pub fn line(&mut self, render: impl FnOnce(&mut JsonWriter<'_>)) {
        if self.error.is_some() {
            return;
        }
        self.buf.clear();
        {
            let mut w = JsonWriter::new(&mut self.buf);
            w.begin_object();
            render(&mut w);
            w.end_object();
        }
        self.buf.push(b'\n');
        if let Err(e) = self.out.write_all(&self.buf) {
            self.error = Some(e);
        } else {
            self.lines += 1;
        }
    }

    /// Writes the `stats` line.
    pub fn stats(&mut self, ts: Timestamp, stats: &SensorStats, elapsed_secs: f64) {
        self.stats_line(ts, stats, elapsed_secs, None, |_| {});
    }

    /// Writes a `stats` line: the counters, with `kernel` the kernel's
    /// (live capture), then what `more` adds to the `stats` object.
    pub fn stats_line(
        &mut self,
        ts: Timestamp,
        stats: &SensorStats,
        elapsed_secs: f64,
        kernel: Option<&KernelStats>,
        more: impl FnOnce(&mut JsonWriter<'_>),
    ) {
        if !self.wants(EventType::Stats) {
            return;
        }
        self.line(|w| {
            w.key("timestamp");
            write_ts(w, ts);
            w.field_str("event_type", "stats");
            w.key("stats").begin_object();
            stats.write_eve_live(w, elapsed_secs, kernel);
            more(w);
            w.end_object();
        });
    }
}

/// The EVE event type of an application event: its protocol's, or
/// `anomaly`.
pub fn event_type_of(event: &AppEvent<'_>) -> EventType {
    event.protocol().map_or(EventType::Anomaly, EventType::App)
}

/// Writes the protocol object of an application event (`"modbus": {...}`).
pub fn write_app_object(w: &mut JsonWriter<'_>, event: &AppEvent<'_>) {
    match (event.protocol_event(), event) {
        (Some(tx), _) => {
            w.key(tx.eve_object()).begin_object();
            tx.write_eve(w);
            w.end_object();
        }
        (None, AppEvent::Anomaly(a)) => {
            w.key("anomaly").begin_object();
            write_anomaly(w, a);
            w.end_object();
        }
        (None, _) => {}
    }
}

fn write_anomaly(w: &mut JsonWriter<'_>, a: &Anomaly<'_>) {
    let kind = match a.protocol {
        "decode" | "ipv4" | "ipv6" => "decode",
        "stream" => "stream",
        _ => "applayer",
    };
    w.field_str("type", kind);
    if kind == "applayer" {
        w.field_str("app_proto", a.protocol);
    }
    w.field_str("event", a.name);
    w.key("message").display(a.detail);
    if let Some(dir) = a.direction {
        w.field_str("direction", dir.name());
    }
}

impl<W: Write> Output for EveWriter<W> {
    fn flow_event(&mut self, flow: &FlowMeta, app: AppProto, event: &Event<'_>) {
        let t = event_type_of(&event.app);
        if !self.wants(t) {
            return;
        }
        let (src, dst) = match &event.app {
            AppEvent::Anomaly(a) if a.direction == Some(Direction::ToClient) => {
                (flow.server, flow.client)
            }
            _ => (flow.client, flow.server),
        };
        self.line(|w| {
            write_header(w, event.ts, flow, t.name(), src, dst, app);
            write_app_object(w, &event.app);
        });
    }

    fn packet_anomaly(
        &mut self,
        ts: Timestamp,
        packet: Option<&PacketMeta>,
        anomaly: &Anomaly<'_>,
    ) {
        if !self.wants(EventType::Anomaly) {
            return;
        }
        self.line(|w| {
            write_packet_header(w, ts, "anomaly", packet);
            w.key("anomaly").begin_object();
            write_anomaly(w, anomaly);
            w.end_object();
        });
    }

    fn flow_end(&mut self, flow: &FlowRecord<'_>) {
        if !self.wants(EventType::Flow) {
            return;
        }
        let meta = flow.meta;
        self.line(|w| {
            write_header(
                w,
                flow.end,
                meta,
                "flow",
                meta.client,
                meta.server,
                flow.app,
            );
            w.key("flow").begin_object();
            w.field_u64("pkts_toserver", flow.packets[0]);
            w.field_u64("pkts_toclient", flow.packets[1]);
            w.field_u64("bytes_toserver", flow.bytes[0]);
            w.field_u64("bytes_toclient", flow.bytes[1]);
            w.key("start");
            write_ts(w, meta.start);
            w.key("end");
            write_ts(w, flow.end);
            w.field_u64("age", flow.end.secs_since(meta.start));
            w.field_str("reason", flow.reason.name());
            w.field_u64("anomalies", u64::from(flow.anomalies));
            if meta.protocol == 6 {
                let rst = (flow.tcp_flags[0] | flow.tcp_flags[1]) & 0x04 != 0;
                let both_fin = flow.tcp_flags[0] & flow.tcp_flags[1] & 0x01 != 0;
                let state = if rst || both_fin {
                    "closed"
                } else {
                    "established"
                };
                w.field_str("state", state);
            }
            if let Some(mac) = meta.client_mac {
                w.key("src_mac").display(mac);
            }
            if let Some(mac) = meta.server_mac {
                w.key("dest_mac").display(mac);
            }
            w.end_object();
            if meta.protocol == 6 {
                w.key("tcp").begin_object();
                w.field_hex("tcp_flags_ts", &[flow.tcp_flags[0]]);
                w.field_hex("tcp_flags_tc", &[flow.tcp_flags[1]]);
                w.end_object();
            }
        });
    }
}
