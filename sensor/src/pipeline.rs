//! The per-worker packet pipeline: decode → flow table → TCP reassembly →
//! dissector → output (where the rule engine sits).
//!
//! [`Pipeline::packet`] is the hot path. It borrows the frame, finds or creates
//! the flow, hands in-order stream bytes to the flow's dissector, and forwards
//! every event to the [`Output`]. Nothing on this path allocates per packet in
//! steady state: flows and their buffers are allocated when a flow starts and
//! reused while it lives.

use std::net::IpAddr;

use otwatch_proto::event::{Anomaly, AppEvent, Context, Direction, Event, EventSink, Timestamp};
use otwatch_proto::event::{AnomalyKind, DecodeAnomaly, StreamAnomaly};
use otwatch_proto::ipfrag::{Defragmenter, FragLimits, FragOutcome};
use otwatch_proto::reassembly::{AckNews, ReassemblyLimits, StreamChunk, TcpStream, WindowScale};
use otwatch_proto::registry::{self, Carrier, Dissector, ProtocolConfig, ProtocolId};
use otwatch_proto::stream::StreamBuffer;
use otwatch_proto::wire::checksum::{self as csum, Verdict};
use otwatch_proto::wire::{self, IpInfo, LinkInfo, MacAddr, Transport};

use crate::capture::{Frame, InputPosition};
use crate::flow::{EndReason, Endpoint, FlowConfig, FlowKey, FlowTable, TimeoutClass};
use crate::stats::SensorStats;

pub mod checksum;

use checksum::{ChecksumMode, Checksums, Decision};

/// Settings of a pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PipelineConfig {
    /// Flow table.
    pub flows: FlowConfig,
    /// TCP reassembly per direction.
    pub reassembly: ReassemblyLimits,
    /// IPv4 fragment reassembly.
    pub fragments: FragLimits,
    /// Limits of each protocol's dissectors.
    pub protocols: ProtocolConfig,
    /// How IPv4 header, TCP and UDP checksums are verified.
    pub checksums: ChecksumMode,
    /// The last stage each packet goes through (the benchmark's per-stage
    /// costs); [`Until::All`] in every real use.
    pub until: Until,
}

/// The last stage of the packet path a pipeline runs (`otwatch replay
/// --until`): the benchmark times each prefix of the path to tell what each
/// stage costs. Anything short of [`Until::All`] leaves the output without
/// events, so it is for measuring only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum Until {
    /// Count the frames only (the capture's record walk).
    Read,
    /// Decode link, IP and transport headers and verify checksums.
    Decode,
    /// Find or create each packet's flow and reassemble TCP streams (and
    /// recognise their protocol), without dissecting.
    Flow,
    /// Dissect, counting events, without handing them to the output.
    Dissect,
    /// The whole path: events go to the output (rules, EVE lines).
    #[default]
    All,
}

impl Until {
    /// Every stage, in path order.
    pub const ALL: [Until; 5] = [
        Until::Read,
        Until::Decode,
        Until::Flow,
        Until::Dissect,
        Until::All,
    ];

    /// The stage's name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Until::Read => "read",
            Until::Decode => "decode",
            Until::Flow => "flow",
            Until::Dissect => "dissect",
            Until::All => "all",
        }
    }

    /// The stage called `name`.
    pub fn from_name(name: &str) -> Option<Until> {
        Until::ALL.into_iter().find(|u| u.name() == name)
    }
}

/// Bytes a stream dissector may leave unconsumed before the stream is
/// resynchronised (larger than any supported PDU: TPKT allows 65 535).
pub const MAX_HELD: usize = 70 * 1024;

/// The application protocol of a flow: `None` while it is not (or not yet)
/// recognised.
pub type AppProto = Option<ProtocolId>;

/// EVE `app_proto` value of a flow's protocol (`unknown` when none).
pub fn app_proto_name(app: AppProto) -> &'static str {
    app.map_or("unknown", ProtocolId::name)
}

/// Facts about a flow that do not change while it lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowMeta {
    /// EVE flow id.
    pub id: u64,
    /// The client (initiator, master).
    pub client: Endpoint,
    /// The server (responder, slave, outstation, PLC).
    pub server: Endpoint,
    /// IP protocol number.
    pub protocol: u8,
    /// VLAN ids.
    pub vlan: [u16; 2],
    /// Number of VLAN tags.
    pub vlan_count: u8,
    /// First packet time.
    pub start: Timestamp,
    /// Client MAC address, when seen.
    pub client_mac: Option<MacAddr>,
    /// Server MAC address, when seen.
    pub server_mac: Option<MacAddr>,
    /// Its Community ID digest, for protocols with ports (TCP, UDP, SCTP).
    pub community_id: Option<crate::community_id::Digest>,
}

/// A flow at its end, for the EVE `flow` event.
#[derive(Debug, Clone, Copy)]
pub struct FlowRecord<'a> {
    /// Constant facts.
    pub meta: &'a FlowMeta,
    /// Recognised application protocol.
    pub app: AppProto,
    /// Last packet time.
    pub end: Timestamp,
    /// Packets to server / to client.
    pub packets: [u64; 2],
    /// Bytes to server / to client.
    pub bytes: [u64; 2],
    /// TCP flags seen, ORed, per direction.
    pub tcp_flags: [u8; 2],
    /// Why it ended.
    pub reason: EndReason,
    /// Anomalies raised on this flow.
    pub anomalies: u32,
}

/// Where events go: the rule engine, EVE writers, the analyzer client.
pub trait Output {
    /// An event of a flow (application event or flow-scoped anomaly).
    fn flow_event(&mut self, flow: &FlowMeta, app: AppProto, event: &Event<'_>);
    /// An anomaly of a frame that belongs to no flow (decode errors).
    fn packet_anomaly(&mut self, ts: Timestamp, packet: Option<&PacketMeta>, anomaly: &Anomaly<'_>);
    /// A flow ended.
    fn flow_end(&mut self, flow: &FlowRecord<'_>);
    /// Offline input only: where the events that follow come from, the
    /// frame about to be processed (with the idle-flow sweep it starts) or
    /// the end of the input. Alert ids are made from it
    /// ([`crate::detect::AlertIds`]); live capture never calls it. The
    /// default ignores it.
    fn input_position(&mut self, _at: InputPosition) {}
}

/// Addresses of a frame, for anomalies that belong to no flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacketMeta {
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// IP protocol.
    pub protocol: u8,
}

/// An output that discards everything.
#[derive(Debug, Default, Clone, Copy)]
pub struct NullOutput;

impl Output for NullOutput {
    fn flow_event(&mut self, _: &FlowMeta, _: AppProto, _: &Event<'_>) {}
    fn packet_anomaly(&mut self, _: Timestamp, _: Option<&PacketMeta>, _: &Anomaly<'_>) {}
    fn flow_end(&mut self, _: &FlowRecord<'_>) {}
}

enum App {
    /// Waiting for the first payload to recognise the protocol.
    Detecting { tries: u8 },
    /// Not an application protocol otwatch decodes.
    Unknown,
    /// Recognised, with its dissector.
    Known(Dissector),
}

impl App {
    fn proto(&self) -> AppProto {
        match self {
            App::Detecting { .. } | App::Unknown => None,
            App::Known(d) => Some(d.id()),
        }
    }

    fn stream(&mut self) -> Option<&mut dyn otwatch_proto::event::StreamDissector> {
        match self {
            App::Known(d) => d.stream(),
            App::Detecting { .. } | App::Unknown => None,
        }
    }

    fn datagram(&mut self) -> Option<&mut dyn otwatch_proto::event::DatagramDissector> {
        match self {
            App::Known(d) => d.datagram(),
            App::Detecting { .. } | App::Unknown => None,
        }
    }

    /// Gives up recognising after `DETECT_TRIES` payloads.
    fn count_try(&mut self) {
        if let App::Detecting { tries } = self {
            *tries += 1;
            if *tries >= DETECT_TRIES {
                *self = App::Unknown;
            }
        }
    }
}

/// Payload chunks tried before a flow on a non-standard port is given up.
const DETECT_TRIES: u8 = 4;

struct TcpState {
    streams: [TcpStream; 2],
    held: [StreamBuffer; 2],
    scale: WindowScale,
}

/// `FlowState::proven` bits: a direction carried a verified checksum.
const PROVEN_IP: u8 = 1;
const PROVEN_L4: u8 = 2;

struct FlowState {
    meta: FlowMeta,
    last: Timestamp,
    packets: [u64; 2],
    bytes: [u64; 2],
    tcp_flags: [u8; 2],
    tcp: Option<Box<TcpState>>,
    app: App,
    anomalies: u32,
    closed: bool,
    /// Per direction, `PROVEN_*` bits: checksums that verified on a segment
    /// other than a SYN (offload's unfilled checksums are then not believed
    /// on that direction).
    proven: [u8; 2],
}

impl FlowState {
    fn memory(&self) -> usize {
        match &self.tcp {
            Some(t) => {
                t.streams[0].memory()
                    + t.streams[1].memory()
                    + t.held[0].memory()
                    + t.held[1].memory()
            }
            None => 0,
        }
    }

    fn direction(&self, src: Endpoint) -> Direction {
        if src == self.meta.client {
            Direction::ToServer
        } else {
            Direction::ToClient
        }
    }
}

/// Counts events and forwards them to the output with the flow's facts.
struct FlowSink<'a, O: Output> {
    meta: &'a FlowMeta,
    app: AppProto,
    out: &'a mut O,
    stats: &'a mut SensorStats,
    anomalies: &'a mut u32,
    /// False when the pipeline stops after dissection ([`Until::Dissect`]).
    forward: bool,
}

impl<O: Output> EventSink for FlowSink<'_, O> {
    fn emit(&mut self, event: &Event<'_>) {
        if let AppEvent::Anomaly(a) = &event.app {
            *self.anomalies += 1;
            self.stats.count_anomaly(a.protocol, a.name);
        } else if let (Some(id), Some(tx)) = (event.app.protocol(), event.app.protocol_event()) {
            tx.tally(self.stats.app.entry(id.name()).or_default());
        }
        if self.forward {
            self.out.flow_event(self.meta, self.app, event);
        }
    }
}

/// One worker's pipeline.
pub struct Pipeline<O: Output> {
    config: PipelineConfig,
    flows: FlowTable<FlowState>,
    defrag: Defragmenter,
    checksums: Checksums,
    output: O,
    stats: SensorStats,
    last_expiry: i64,
    /// Capture second of the last `fragment_refused` anomaly.
    last_refusal_report: i64,
}

impl<O: Output> Pipeline<O> {
    /// A pipeline sending events to `output`.
    pub fn new(config: PipelineConfig, output: O) -> Pipeline<O> {
        Pipeline {
            config,
            flows: FlowTable::new(config.flows),
            defrag: Defragmenter::new(config.fragments),
            checksums: Checksums::new(config.checksums),
            output,
            stats: SensorStats::default(),
            last_expiry: i64::MIN,
            last_refusal_report: i64::MIN,
        }
    }

    /// Counters so far.
    pub fn stats(&mut self) -> &SensorStats {
        self.sync_stats();
        &self.stats
    }

    fn sync_stats(&mut self) {
        self.stats.flows = self.flows.stats;
        self.stats.ipv4_reassembled = self.defrag.stats.reassembled;
        self.stats.defrag = self.defrag.stats;
        self.stats.checksum = self.checksums.stats;
    }

    /// The output.
    pub fn output(&mut self) -> &mut O {
        &mut self.output
    }

    /// Runs the idle-flow sweep at `now` without a packet, as a packet
    /// stamped `now` would: flows idle past their timeout end (their pending
    /// requests are reported unanswered by the dissector's flush, and their
    /// `flow` records go to the output). Live capture calls this when the
    /// network is quiet, with the wall clock in the frames' time base; on a
    /// busy network the packets' own timestamps drive the sweep. Runs at most
    /// once per second of `now`, and never for a time already swept.
    pub fn tick(&mut self, now: Timestamp) {
        if now.secs > self.last_expiry {
            self.last_expiry = now.secs;
            self.expire(now);
        }
    }

    /// The idle-flow sweep a frame at `now` starts (see [`Pipeline::packet`]),
    /// without the frame: a replay worker runs it where the single pipeline
    /// would, on the first frame of each new second of the input, even when
    /// the next file's time goes back, so that flows end at the same frames
    /// whatever the number of workers.
    pub fn sweep_as_frame(&mut self, now: Timestamp) {
        if now.secs != self.last_expiry {
            self.last_expiry = now.secs;
            self.expire(now);
        }
    }

    /// Calls `f` with the output and each open flow's facts, application
    /// protocol and last activity (live capture reports open flows'
    /// hosts as assets without waiting for the flows to end).
    pub fn for_each_flow(&mut self, f: &mut dyn FnMut(&mut O, &FlowMeta, AppProto, Timestamp)) {
        let Pipeline { flows, output, .. } = self;
        flows.for_each(&mut |flow| f(output, &flow.meta, flow.app.proto(), flow.last));
    }

    /// Ends every flow (end of capture); returns the output and the counters.
    pub fn finish(mut self) -> (O, SensorStats) {
        let mut ended = Vec::new();
        self.flows.drain(&mut |f, r| ended.push((f, r)));
        for (flow, reason) in ended {
            end_flow(
                flow,
                reason,
                &self.config,
                &mut self.output,
                &mut self.stats,
            );
        }
        self.sync_stats();
        (self.output, self.stats)
    }

    /// Processes one frame.
    pub fn packet(&mut self, frame: Frame<'_>) {
        self.stats.packets += 1;
        self.stats.bytes += frame.data.len() as u64;
        if self.config.until == Until::Read {
            return;
        }
        self.sweep_as_frame(frame.ts);
        if let wire::LinkType::Other(raw) = frame.link_type {
            *self.stats.unsupported_link.entry(raw).or_insert(0) += 1;
            return;
        }
        let packet = match wire::decode(frame.link_type, frame.data) {
            Ok(p) => p,
            Err(err) => {
                let kind = err.anomaly();
                *self.stats.decode_errors.entry(kind.name()).or_insert(0) += 1;
                self.stats.count_anomaly(kind.layer(), kind.name());
                let message = format_args!("{err}");
                if self.config.until == Until::All {
                    let anomaly = Anomaly::new(kind, &message, None);
                    self.output.packet_anomaly(frame.ts, None, &anomaly);
                }
                return;
            }
        };
        let Some(ip) = packet.ip else {
            self.stats.non_ip += 1;
            return;
        };
        self.checksums.tick(frame.ts.secs);
        let verifying = self.checksums.verifying();
        let ip_verdict = match packet.ipv4_header() {
            Some(header) if verifying => csum::ipv4_header(header),
            _ => Verdict::Absent,
        };
        // An IP length beyond the frame: a snap-length cut only when the
        // capture recorded fewer bytes than the wire carried. Otherwise the
        // length lies and the receiving stack drops the packet; believing it
        // would also leave its transport checksum unverified.
        let mut length_zero = false;
        if !ip.complete && self.config.checksums != ChecksumMode::Off {
            if packet.ip_length_zero() {
                length_zero = verifying;
            } else if frame.data.len() as u64 >= u64::from(frame.wire_len) {
                self.length_beyond_frame(frame.ts, &ip, frame.data.len());
                return;
            }
        }
        if let Some(frag) = ip.fragment {
            if length_zero {
                // Segmentation offload never leaves a fragment behind (it
                // cuts segments, each with its own header, and the packets
                // it builds carry DF), so on a fragment a zero length is
                // never offload's: the receiver drops it, so does the sensor.
                self.bad_checksum(frame.ts, &ip, None, Verdict::Absent, LENGTH_ZERO);
                self.checksums.stats.dropped += 1;
            } else {
                self.fragment(frame.ts, &packet, &ip, frag, ip_verdict);
            }
            return;
        }
        let l4_verdict = if length_zero {
            // Judged like offload's unfilled checksum: believed in `auto`
            // only on a direction that never verified, dropped in `on`.
            LENGTH_ZERO
        } else if verifying {
            csum::transport(&ip, packet.segment)
        } else {
            Verdict::Absent
        };
        if self.config.until == Until::Decode {
            return;
        }
        self.transport(
            frame.ts,
            &packet.link,
            &ip,
            packet.transport,
            [ip_verdict, l4_verdict],
        );
    }

    /// An IP fragment: IPv4 fragments are judged by their header checksum
    /// and reassembled (a whole datagram goes on as a packet would); IPv6
    /// fragments are counted.
    fn fragment(
        &mut self,
        ts: Timestamp,
        packet: &wire::Packet<'_>,
        ip: &IpInfo,
        frag: wire::Fragment,
        ip_verdict: Verdict,
    ) {
        let ip = *ip;
        let verifying = self.checksums.verifying();
        match ip.src {
            IpAddr::V4(_) => {
                self.stats.ipv4_fragments += 1;
                let Transport::Other(payload) = packet.transport else {
                    return;
                };
                // The offload mark is never believed on a fragment. A
                // receiver sees fragments as their sender put them on the
                // wire, checksummed; the mark appears only on a capture
                // taken on the sender, and Linux fills the header checksum
                // of every fragment in software (fragmentation happens in
                // the IP layer, after offload's choices: segmentation
                // offload sends DF segments, never fragments). A capture on
                // a sender whose card fills IPv4 header checksums of
                // fragments (some Windows drivers) has those dropped and
                // counted: `--checksum-checks off` there.
                let ip_verdict = match ip_verdict {
                    Verdict::Bad {
                        stored, expected, ..
                    } => Verdict::Bad {
                        stored,
                        expected,
                        offload: false,
                    },
                    other => other,
                };
                if self.checksums.judge(&[ip_verdict], || true) == Decision::Drop {
                    self.bad_checksum(ts, &ip, None, ip_verdict, Verdict::Absent);
                    return;
                }
                let outcome = self.defrag.add(
                    ts,
                    ip.src,
                    ip.dst,
                    ip.protocol,
                    frag.id,
                    frag.offset,
                    frag.more,
                    payload,
                );
                let overlap = matches!(
                    outcome,
                    FragOutcome::OverlapMismatch | FragOutcome::CompleteOverlapMismatch(_)
                );
                if overlap {
                    self.ip_anomaly(
                        ts,
                        &ip,
                        DecodeAnomaly::FragmentOverlapMismatch,
                        format_args!("overlapping IPv4 fragments carry different bytes; the first copy is kept"),
                    );
                }
                match outcome {
                    FragOutcome::Complete(datagram)
                    | FragOutcome::CompleteOverlapMismatch(datagram) => {
                        let whole = IpInfo {
                            fragment: None,
                            complete: true,
                            ..ip
                        };
                        let l4 = if verifying {
                            csum::transport(&whole, &datagram)
                        } else {
                            Verdict::Absent
                        };
                        match wire::decode_transport(&whole, &datagram) {
                            Ok(t) => {
                                self.transport(ts, &packet.link, &whole, t, [Verdict::Absent, l4])
                            }
                            Err(err) => self.decode_error(ts, &whole, err),
                        }
                    }
                    FragOutcome::TooLarge => {
                        self.ip_anomaly(
                            ts,
                            &ip,
                            DecodeAnomaly::FragmentTooLarge,
                            format_args!(
                                "IPv4 fragments extend beyond 65535 bytes or the reassembly budget"
                            ),
                        );
                    }
                    FragOutcome::Refused => {
                        // One report per second: a flood refuses many.
                        if ts.secs != self.last_refusal_report {
                            self.last_refusal_report = ts.secs;
                            self.ip_anomaly(
                                ts,
                                &ip,
                                DecodeAnomaly::FragmentRefused,
                                format_args!("IPv4 fragment refused: the reassembly table is full of datagrams from sources holding no more than this one's (a flood of fragments); what is held stays"),
                            );
                        }
                    }
                    FragOutcome::OverlapMismatch | FragOutcome::Held => {}
                }
            }
            IpAddr::V6(_) => {
                self.stats.ipv6_fragments += 1;
                if frag.offset == 0 {
                    self.ip_anomaly(
                        ts,
                        &ip,
                        DecodeAnomaly::FragmentNotReassembled,
                        format_args!(
                            "IPv6 fragment seen; IPv6 fragments are counted, not reassembled"
                        ),
                    );
                }
            }
        }
    }

    /// Counts and reports a packet whose IP length claims more bytes than
    /// the (uncut) frame carried.
    fn length_beyond_frame(&mut self, ts: Timestamp, ip: &IpInfo, captured: usize) {
        let kind = DecodeAnomaly::IpLengthBeyondFrame;
        *self.stats.decode_errors.entry(kind.name()).or_insert(0) += 1;
        if !self.checksums.anomaly_allowed(ts.secs) {
            return;
        }
        self.ip_anomaly(
            ts,
            ip,
            kind,
            format_args!(
                "the IP length claims more than the {captured} bytes the frame carried (the capture did not cut it); the endpoint drops the packet, so does the sensor"
            ),
        );
    }

    /// Counts and reports a packet dropped for a bad checksum.
    fn bad_checksum(
        &mut self,
        ts: Timestamp,
        ip: &IpInfo,
        ports: Option<(u16, u16)>,
        ip_verdict: Verdict,
        l4: Verdict,
    ) {
        let (kind, verdict) = if ip_verdict.is_bad() {
            (DecodeAnomaly::BadIpv4Checksum, ip_verdict)
        } else if l4 == LENGTH_ZERO && !ip.complete {
            (DecodeAnomaly::IpLengthZero, l4)
        } else if ip.protocol == wire::transport::IPPROTO_UDP {
            (DecodeAnomaly::BadUdpChecksum, l4)
        } else {
            (DecodeAnomaly::BadTcpChecksum, l4)
        };
        *self.stats.decode_errors.entry(kind.name()).or_insert(0) += 1;
        if !self.checksums.anomaly_allowed(ts.secs) {
            return;
        }
        let detail = ChecksumDetail {
            kind,
            verdict,
            ports,
        };
        self.ip_anomaly(ts, ip, kind, format_args!("{detail}"));
    }

    fn decode_error(&mut self, ts: Timestamp, ip: &IpInfo, err: wire::DecodeError) {
        let kind = err.anomaly();
        *self.stats.decode_errors.entry(kind.name()).or_insert(0) += 1;
        self.ip_anomaly(ts, ip, kind, format_args!("{err}"));
    }

    /// Reports an anomaly of a packet outside any flow.
    fn ip_anomaly(
        &mut self,
        ts: Timestamp,
        ip: &IpInfo,
        kind: DecodeAnomaly,
        message: core::fmt::Arguments<'_>,
    ) {
        self.stats.count_anomaly(kind.layer(), kind.name());
        let meta = PacketMeta {
            src: ip.src,
            dst: ip.dst,
            protocol: ip.protocol,
        };
        let anomaly = Anomaly::new(kind, &message, None);
        if self.config.until == Until::All {
            self.output.packet_anomaly(ts, Some(&meta), &anomaly);
        }
    }

    fn expire(&mut self, now: Timestamp) {
        let mut ended: Vec<(FlowState, EndReason)> = Vec::new();
        self.flows.expire(now, &mut |f, r| ended.push((f, r)));
        for (flow, reason) in ended {
            end_flow(
                flow,
                reason,
                &self.config,
                &mut self.output,
                &mut self.stats,
            );
        }
    }

    /// Judges a TCP or UDP packet by its checksums (the IPv4 header's, the
    /// transport's); false when it is dropped.
    #[allow(clippy::too_many_arguments)]
    fn checksums_accept(
        &mut self,
        ts: Timestamp,
        link: &LinkInfo,
        ip: &IpInfo,
        src: Endpoint,
        dst: Endpoint,
        verdicts: [Verdict; 2],
    ) -> bool {
        let flows = &self.flows;
        let proven = || {
            let key = FlowKey::new(src, dst, ip.protocol, link.vlan);
            flows
                .find(&key)
                .and_then(|slot| flows.get(slot))
                .is_some_and(|f| {
                    let bits = f.proven[f.direction(src).index()];
                    let need_ip = verdicts[0].is_bad() && bits & PROVEN_IP != 0;
                    let need_l4 = verdicts[1].is_bad() && bits & PROVEN_L4 != 0;
                    need_ip || need_l4
                })
        };
        if self.checksums.judge(&verdicts, proven) == Decision::Accept {
            return true;
        }
        self.bad_checksum(ts, ip, Some((src.port, dst.port)), verdicts[0], verdicts[1]);
        false
    }

    /// A TCP segment, UDP datagram or other IP packet: classify it, judge
    /// its checksums, find its flow and count it there, then hand the
    /// payload to the transport's handler.
    fn transport(
        &mut self,
        ts: Timestamp,
        link: &LinkInfo,
        ip: &IpInfo,
        transport: Transport<'_>,
        verdicts: [Verdict; 2],
    ) {
        let seg = Segment::classify(ip, transport);
        match seg.carried {
            Carried::Tcp(..) => self.stats.tcp += 1,
            Carried::Udp(_) => self.stats.udp += 1,
            Carried::Other(_) => self.stats.other_ip += 1,
        }
        let checked = !matches!(seg.carried, Carried::Other(_));
        if checked && !self.checksums_accept(ts, link, ip, seg.src, seg.dst, verdicts) {
            return;
        }
        let slot = self.flow_slot(ts, link, &seg);
        let Some(flow) = self.flows.get_mut(slot) else {
            return;
        };
        let dir = flow.direction(seg.src);
        let d = dir.index();
        if checked && !seg.is_syn() {
            // Offload fills a SYN's checksum in software on some systems
            // and leaves the rest of the connection unfilled.
            let good = |v: Verdict, bit: u8| if v == Verdict::Good { bit } else { 0 };
            flow.proven[d] |= good(verdicts[0], PROVEN_IP) | good(verdicts[1], PROVEN_L4);
        }
        flow.last = ts;
        flow.packets[d] += 1;
        flow.bytes[d] += seg.payload().len() as u64;
        let cx = FlowCx {
            output: &mut self.output,
            stats: &mut self.stats,
            config: &self.config,
        };
        let class = match seg.carried {
            Carried::Tcp(tcp, payload) => tcp_segment(flow, dir, ts, &tcp, payload, cx),
            Carried::Udp(payload) => {
                udp_datagram(flow, dir, ts, payload, cx);
                TimeoutClass::Udp
            }
            Carried::Other(_) => TimeoutClass::Other,
        };
        let memory = flow.memory();
        self.flows.touch(slot, ts, class, memory);
    }

    /// Finds or creates the flow of a segment.
    fn flow_slot(&mut self, ts: Timestamp, link: &LinkInfo, seg: &Segment<'_>) -> u32 {
        let (src, dst, protocol) = (seg.src, seg.dst, seg.protocol);
        let key = FlowKey::new(src, dst, protocol, link.vlan);
        if let Some(slot) = self.flows.find(&key) {
            return slot;
        }
        // Who is the client? The SYN sender; else the side not on a service
        // port; else the higher port; else whoever spoke first.
        let src_is_client = if seg.is_syn_only() {
            true
        } else if seg.is_syn_ack() {
            false
        } else if registry::is_service_port(dst.port) != registry::is_service_port(src.port) {
            registry::is_service_port(dst.port)
        } else if src.port != dst.port {
            src.port > dst.port
        } else {
            true
        };
        let (client, server, client_mac, server_mac) = if src_is_client {
            (src, dst, link.src_mac, link.dst_mac)
        } else {
            (dst, src, link.dst_mac, link.src_mac)
        };
        let meta = FlowMeta {
            id: key.flow_id(ts),
            client,
            server,
            protocol,
            vlan: link.vlan,
            vlan_count: link.vlan_count,
            start: ts,
            client_mac,
            server_mac,
            community_id: matches!(protocol, 6 | 17 | 132)
                .then(|| crate::community_id::digest(0, client, server, protocol)),
        };
        let state = FlowState {
            meta,
            last: ts,
            packets: [0; 2],
            bytes: [0; 2],
            tcp_flags: [0; 2],
            tcp: None,
            app: App::Detecting { tries: 0 },
            anomalies: 0,
            closed: false,
            proven: [0; 2],
        };
        let class = match protocol {
            wire::transport::IPPROTO_TCP => TimeoutClass::TcpNew,
            wire::transport::IPPROTO_UDP => TimeoutClass::Udp,
            _ => TimeoutClass::Other,
        };
        let mut ended = Vec::new();
        let slot = self
            .flows
            .insert(key, ts, class, state, &mut |f, r| ended.push((f, r)));
        for (flow, reason) in ended {
            end_flow(
                flow,
                reason,
                &self.config,
                &mut self.output,
                &mut self.stats,
            );
        }
        slot
    }
}

/// A TCP segment, UDP datagram or other IP packet, classified once: who
/// sent it to whom, and what it carries.
struct Segment<'p> {
    src: Endpoint,
    dst: Endpoint,
    /// IP protocol number.
    protocol: u8,
    carried: Carried<'p>,
}

/// What a segment carries, by transport.
enum Carried<'p> {
    Tcp(wire::TcpHeader, &'p [u8]),
    Udp(&'p [u8]),
    Other(&'p [u8]),
}

impl<'p> Segment<'p> {
    fn classify(ip: &IpInfo, transport: Transport<'p>) -> Segment<'p> {
        let (src_port, dst_port, carried) = match transport {
            Transport::Tcp(tcp, payload) => {
                (tcp.src_port, tcp.dst_port, Carried::Tcp(tcp, payload))
            }
            Transport::Udp(udp, payload) => (udp.src_port, udp.dst_port, Carried::Udp(payload)),
            Transport::Other(payload) => (0, 0, Carried::Other(payload)),
        };
        Segment {
            src: Endpoint {
                ip: ip.src,
                port: src_port,
            },
            dst: Endpoint {
                ip: ip.dst,
                port: dst_port,
            },
            protocol: ip.protocol,
            carried,
        }
    }

    fn payload(&self) -> &'p [u8] {
        match self.carried {
            Carried::Tcp(_, p) | Carried::Udp(p) | Carried::Other(p) => p,
        }
    }

    fn tcp_flags(&self) -> wire::TcpFlags {
        match &self.carried {
            Carried::Tcp(tcp, _) => tcp.flags,
            _ => wire::TcpFlags(0),
        }
    }

    fn is_syn(&self) -> bool {
        self.tcp_flags().has(wire::TcpFlags::SYN)
    }

    /// A SYN without ACK: its sender is the client.
    fn is_syn_only(&self) -> bool {
        self.is_syn() && !self.tcp_flags().has(wire::TcpFlags::ACK)
    }

    /// A SYN-ACK: its sender is the server.
    fn is_syn_ack(&self) -> bool {
        self.tcp_flags()
            .has(wire::TcpFlags::SYN | wire::TcpFlags::ACK)
    }
}

/// What a transport handler needs of the pipeline besides the flow.
struct FlowCx<'a, O: Output> {
    output: &'a mut O,
    stats: &'a mut SensorStats,
    config: &'a PipelineConfig,
}

/// A TCP segment of `flow` travelling in `dir`: closes the flow on RST or
/// both FINs, feeds reassembly (acknowledgements and window of this side
/// first, then this side's bytes) and the dissector; returns the flow's
/// timeout class.
fn tcp_segment<O: Output>(
    flow: &mut FlowState,
    dir: Direction,
    ts: Timestamp,
    tcp: &wire::TcpHeader,
    payload: &[u8],
    cx: FlowCx<'_, O>,
) -> TimeoutClass {
    let d = dir.index();
    let syn = tcp.flags.has(wire::TcpFlags::SYN);
    flow.tcp_flags[d] |= tcp.flags.0;
    let was_closed = flow.closed;
    if tcp.flags.has(wire::TcpFlags::RST)
        || flow.tcp_flags[0] & wire::TcpFlags::FIN != 0
            && flow.tcp_flags[1] & wire::TcpFlags::FIN != 0
    {
        flow.closed = true;
    }
    if let App::Unknown = flow.app {
        // Bypass: no dissector claimed the flow, so its bytes are of no use;
        // from now on it is only counted (no reassembly, no history).
        if let Some(state) = flow.tcp.take() {
            for stream in &state.streams {
                cx.stats.add_stream(&stream.stats);
            }
            cx.stats.bypassed_flows += 1;
        }
        return tcp_timeout_class(flow, payload);
    }
    let FlowState {
        meta,
        tcp: state,
        app,
        anomalies,
        ..
    } = flow;
    let state = state.get_or_insert_with(|| {
        Box::new(TcpState {
            streams: [TcpStream::new(), TcpStream::new()],
            held: [StreamBuffer::default(), StreamBuffer::default()],
            scale: WindowScale::default(),
        })
    });
    let TcpState {
        streams,
        held,
        scale,
    } = &mut **state;
    // A SYN that does not fit a known stream is ignored by the receiver: it
    // must neither move the stream (reassembly reports it), nor change the
    // window scale, nor have its acknowledgement believed. On a closed flow
    // it is a new connection on the same addresses and ports.
    let mut stray_syn = syn && !streams[d].syn_fits(tcp.seq);
    if stray_syn && was_closed {
        streams[d].restart();
        stray_syn = false;
    }
    if syn && !stray_syn {
        scale.syn(d, tcp.window_scale);
    }
    let config = cx.config;
    let mut sink = FlowSink {
        meta,
        app: app.proto(),
        out: cx.output,
        stats: cx.stats,
        anomalies,
        forward: cx.config.until == Until::All,
    };
    let [to_server, to_client] = streams;
    let (this, other) = if d == 0 {
        (to_server, to_client)
    } else {
        (to_client, to_server)
    };
    if tcp.flags.has(wire::TcpFlags::ACK) && !stray_syn {
        // The peer's acknowledgement reveals bytes the capture lost.
        let other_held = &mut held[1 - d];
        other.acknowledged(tcp.ack, &config.reassembly, &mut |chunk| {
            on_chunk(
                chunk,
                dir.reverse(),
                ts,
                app,
                other_held,
                &mut sink,
                meta,
                config,
            );
        });
        // This side's window bounds what the other may send.
        let news = other.window_update(tcp.ack, scale.bytes(d, tcp.window, syn));
        if let Some(AckNews::Regression { believed }) = news {
            let mut cx = Context {
                ts,
                sink: &mut sink,
            };
            cx.raise(
                StreamAnomaly::AckRegression,
                format_args!(
                    "acknowledgement {} lies far behind {believed}, acknowledged before by the same side: a receiver's acknowledgements never go back, so one of them was forged (forged acknowledgements can make the sensor skip real bytes)",
                    tcp.ack
                ),
                Some(dir),
            );
        }
    }
    let this_held = &mut held[d];
    this.segment(
        tcp.seq,
        syn,
        tcp.flags.has(wire::TcpFlags::FIN),
        payload,
        &config.reassembly,
        &mut |chunk| on_chunk(chunk, dir, ts, app, this_held, &mut sink, meta, config),
    );
    tcp_timeout_class(flow, payload)
}

/// The idle timeout a TCP flow gets after a segment carrying `payload`.
fn tcp_timeout_class(flow: &FlowState, payload: &[u8]) -> TimeoutClass {
    if flow.closed {
        TimeoutClass::TcpClosed
    } else if flow.packets[0] > 0 && flow.packets[1] > 0 || !payload.is_empty() {
        TimeoutClass::TcpEstablished
    } else {
        TimeoutClass::TcpNew
    }
}

/// A UDP datagram of `flow` travelling in `dir`: recognises the protocol on
/// the first payloads, then hands each payload to the dissector.
fn udp_datagram<O: Output>(
    flow: &mut FlowState,
    dir: Direction,
    ts: Timestamp,
    payload: &[u8],
    cx: FlowCx<'_, O>,
) {
    if payload.is_empty() {
        return;
    }
    detect(
        &mut flow.app,
        &flow.meta,
        cx.config,
        Carrier::Udp,
        payload,
        dir,
    );
    let FlowState {
        meta,
        app,
        anomalies,
        ..
    } = flow;
    let proto = app.proto();
    if cx.config.until < Until::Dissect {
        return;
    }
    if let Some(dissector) = app.datagram() {
        let mut sink = FlowSink {
            meta,
            app: proto,
            out: cx.output,
            stats: cx.stats,
            anomalies,
            forward: cx.config.until == Until::All,
        };
        let mut cx = Context {
            ts,
            sink: &mut sink,
        };
        dissector.parse_datagram(dir, payload, &mut cx);
    }
}

/// Picks the dissector of a flow from its ports, or by probing the first
/// payloads (`first`, travelling in `dir`) on other ports.
fn detect(
    app: &mut App,
    meta: &FlowMeta,
    config: &PipelineConfig,
    carrier: Carrier,
    first: &[u8],
    dir: Direction,
) {
    let App::Detecting { .. } = app else {
        return;
    };
    let found = registry::by_port(carrier, meta.server.port, meta.client.port)
        .or_else(|| registry::by_probe(carrier, first, dir));
    match found {
        Some(id) => *app = App::Known(Dissector::new(id, &config.protocols)),
        None => app.count_try(),
    }
}

#[allow(clippy::too_many_arguments)]
fn on_chunk<O: Output>(
    chunk: StreamChunk<'_>,
    dir: Direction,
    ts: Timestamp,
    app: &mut App,
    held: &mut StreamBuffer,
    sink: &mut FlowSink<'_, O>,
    meta: &FlowMeta,
    config: &PipelineConfig,
) {
    match chunk {
        StreamChunk::Data(data) => {
            if let App::Detecting { .. } = app {
                detect(app, meta, config, Carrier::Tcp, data, dir);
                sink.app = app.proto();
            }
            if config.until < Until::Dissect {
                return;
            }
            let Some(dissector) = app.stream() else {
                return;
            };
            let mut cx = Context { ts, sink };
            if let Err(overflow) = held.feed(dissector, dir, data, MAX_HELD, &mut cx) {
                cx.raise(
                    StreamAnomaly::StreamBufferOverflow,
                    format_args!("{overflow}"),
                    Some(dir),
                );
            }
        }
        StreamChunk::Gap { len } => {
            held.clear();
            let mut cx = Context { ts, sink };
            cx.raise(
                StreamAnomaly::ReassemblyGap,
                format_args!("{len} bytes missing from the stream (capture loss); resynchronising"),
                Some(dir),
            );
            if let Some(dissector) = app.stream() {
                dissector.gap(dir, &mut cx);
            }
        }
        StreamChunk::OverlapMismatch { seq, len } => {
            let mut cx = Context { ts, sink };
            cx.raise(
                StreamAnomaly::OverlapMismatch,
                format_args!(
                    "retransmitted bytes at sequence {seq} differ from the first copy ({len} bytes); first copy kept"
                ),
                Some(dir),
            );
        }
        StreamChunk::BufferFull { buffered } => {
            let mut cx = Context { ts, sink };
            cx.raise(
                StreamAnomaly::ReassemblyBufferFull,
                format_args!(
                    "a segment could not be held in the out-of-order buffer ({buffered} bytes held)"
                ),
                Some(dir),
            );
        }
        StreamChunk::OutsideWindow {
            seq,
            len,
            ack,
            window_end,
        } => {
            let mut cx = Context { ts, sink };
            cx.raise(
                StreamAnomaly::SegmentOutsideWindow,
                format_args!(
                    "{len} bytes at sequence {seq} lie far outside the receiver's window {ack}..{window_end}; the receiver drops them, so does reassembly"
                ),
                Some(dir),
            );
        }
        StreamChunk::StraySyn { seq, next } => {
            let mut cx = Context { ts, sink };
            cx.raise(
                StreamAnomaly::SynOnEstablished,
                format_args!(
                    "SYN at sequence {seq} on a stream that expects {next}; the receiver ignores it, so does reassembly (stream and window scale unchanged)"
                ),
                Some(dir),
            );
        }
    }
}

/// The verdict standing for an IP length of zero (see [`Pipeline::packet`]):
/// it carries the offload mark, so `auto` judges it as it judges offload's
/// unfilled checksums.
const LENGTH_ZERO: Verdict = Verdict::Bad {
    stored: 0,
    expected: 0,
    offload: true,
};

struct ChecksumDetail {
    kind: DecodeAnomaly,
    verdict: Verdict,
    ports: Option<(u16, u16)>,
}

impl core::fmt::Display for ChecksumDetail {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        if self.kind == DecodeAnomaly::IpLengthZero {
            write!(
                f,
                "the IP length field is 0, which only offload leaves on a host's own packets, where offload cannot be (a fragment, a direction that carried verified checksums, or checksum checks on); the endpoint drops the packet, so does the sensor"
            )?;
            if let Some((sp, dp)) = self.ports {
                write!(f, " (ports {sp} -> {dp})")?;
            }
            return Ok(());
        }
        let header = match self.kind {
            DecodeAnomaly::BadIpv4Checksum => "IPv4 header",
            DecodeAnomaly::BadUdpChecksum => "UDP",
            _ => "TCP",
        };
        match self.verdict {
            Verdict::Bad {
                stored, expected, ..
            } => write!(
                f,
                "{header} checksum {stored:#06x} is wrong (should be {expected:#06x}); the endpoint drops the packet, so does the sensor"
            )?,
            _ => write!(f, "{header} checksum is wrong; the packet is dropped")?,
        }
        if let Some((sp, dp)) = self.ports {
            write!(f, " (ports {sp} -> {dp})")?;
        }
        Ok(())
    }
}

/// Ends a flow: drains reassembly, flushes the dissector, emits the record.
fn end_flow<O: Output>(
    flow: FlowState,
    reason: EndReason,
    config: &PipelineConfig,
    output: &mut O,
    stats: &mut SensorStats,
) {
    let FlowState {
        meta,
        last,
        packets,
        bytes,
        tcp_flags,
        tcp,
        mut app,
        mut anomalies,
        ..
    } = flow;
    {
        let mut sink = FlowSink {
            meta: &meta,
            app: app.proto(),
            out: output,
            stats,
            anomalies: &mut anomalies,
            forward: config.until == Until::All,
        };
        if let Some(mut state) = tcp {
            let TcpState { streams, held, .. } = &mut *state;
            for (d, (stream, held)) in streams.iter_mut().zip(held.iter_mut()).enumerate() {
                let dir = if d == 0 {
                    Direction::ToServer
                } else {
                    Direction::ToClient
                };
                stream.flush(&config.reassembly, &mut |chunk| {
                    on_chunk(chunk, dir, last, &mut app, held, &mut sink, &meta, config);
                });
                sink.stats.add_stream(&stream.stats);
                if !held.is_empty() && app.stream().is_some() {
                    let bytes = held.len();
                    let mut cx = Context {
                        ts: last,
                        sink: &mut sink,
                    };
                    cx.raise(
                        StreamAnomaly::IncompletePduAtClose,
                        format_args!(
                            "{bytes} bytes of an unfinished PDU were left when the flow ended"
                        ),
                        Some(dir),
                    );
                }
            }
        }
        let mut cx = Context {
            ts: last,
            sink: &mut sink,
        };
        if meta.protocol == wire::transport::IPPROTO_UDP {
            if let Some(dissector) = app.datagram() {
                dissector.flush(&mut cx);
            }
        } else if let Some(dissector) = app.stream() {
            dissector.flush(&mut cx);
        }
    }
    if let App::Known(d) = &app {
        // Counted apart first: a flow that counted nothing adds no entry.
        let mut at_end = crate::stats::AppStats::default();
        d.tally_end(&mut at_end);
        if at_end != crate::stats::AppStats::default() {
            stats.app.entry(d.id().name()).or_default().merge(&at_end);
        }
    }
    let record = FlowRecord {
        meta: &meta,
        app: app.proto(),
        end: last,
        packets,
        bytes,
        tcp_flags,
        reason,
        anomalies,
    };
    if config.until == Until::All {
        output.flow_end(&record);
    }
}

#[cfg(test)]
mod tests;
