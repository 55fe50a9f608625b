//! What dissectors produce: timestamps, directions, anomalies, and the sink
//! trait through which events leave a dissector.
//!
//! Events borrow from the packet or from the dissector's own buffers; the sink
//! decides what to do with them (match rules, write EVE JSON, count) while they
//! are alive, so no event is allocated on the hot path.
//!
//! # Anomalies
//!
//! Each layer or protocol declares its anomaly names once, as an enum made by
//! [`anomaly_enum!`](crate::anomaly_enum) (`modbus::ModbusAnomaly`,
//! [`StreamAnomaly`], [`DecodeAnomaly`], …), and raises them with
//! [`Context::raise`], which accepts only such an enum: a name that is not
//! declared cannot be emitted, and the registry's list of names (what rules may
//! name) is the enum's.
//!
//! A message is always a [`format_args!`] written where the anomaly is raised
//! (an error that caused it is shown with `{err}`, through its own `Display`).
//! One way rather than a small `Display` struct per message: the text stays
//! next to the condition it describes, nothing is allocated or formatted
//! unless a sink writes the message, and `raise` taking
//! [`core::fmt::Arguments`] keeps it the only way.

use crate::civil::civil_from_days;
use crate::json::JsonWriter;

/// A capture timestamp: seconds and nanoseconds since the Unix epoch (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp {
    /// Whole seconds since 1970-01-01T00:00:00Z.
    pub secs: i64,
    /// Nanoseconds within the second (0..1e9).
    pub nanos: u32,
}

impl Timestamp {
    /// Builds a timestamp from seconds and nanoseconds.
    pub fn new(secs: i64, nanos: u32) -> Timestamp {
        Timestamp {
            secs: secs + i64::from(nanos / 1_000_000_000),
            nanos: nanos % 1_000_000_000,
        }
    }

    /// Microseconds since the epoch.
    pub fn as_micros(self) -> i64 {
        self.secs
            .saturating_mul(1_000_000)
            .saturating_add(i64::from(self.nanos / 1000))
    }

    /// Seconds elapsed from `earlier` to `self` (0 when `earlier` is later).
    pub fn secs_since(self, earlier: Timestamp) -> u64 {
        u64::try_from(self.secs.saturating_sub(earlier.secs)).unwrap_or(0)
    }

    /// Writes RFC 3339 with microseconds and a `+0000` offset, as Suricata does:
    /// `2024-05-01T12:00:00.123456+0000`.
    pub fn write_rfc3339(self, out: &mut impl std::io::Write) {
        let days = self.secs.div_euclid(86_400);
        let secs_of_day = self.secs.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        let Ok(year4) = u32::try_from(year) else {
            return self.write_rfc3339_fmt(out, year, month, day, secs_of_day);
        };
        if year4 > 9999 {
            return self.write_rfc3339_fmt(out, year, month, day, secs_of_day);
        }
        // Every line starts with one: digits by hand, not `core::fmt`.
        let mut text = *b"0000-00-00T00:00:00.000000+0000";
        let mut put = |at: usize, width: usize, mut value: u32| {
            for i in (at..at + width).rev() {
                text[i] = b'0' + (value % 10) as u8;
                value /= 10;
            }
        };
        let secs_of_day = secs_of_day as u32; // 0..86_400
        put(0, 4, year4);
        put(5, 2, month);
        put(8, 2, day);
        put(11, 2, secs_of_day / 3600);
        put(14, 2, (secs_of_day / 60) % 60);
        put(17, 2, secs_of_day % 60);
        put(20, 6, (self.nanos / 1000) % 1_000_000);
        let _ = out.write_all(&text);
    }

    /// [`write_rfc3339`](Self::write_rfc3339) for years outside 0–9999.
    fn write_rfc3339_fmt(
        self,
        out: &mut impl std::io::Write,
        year: i64,
        month: u32,
        day: u32,
        secs_of_day: i64,
    ) {
        let _ = write!(
            out,
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:06}+0000",
            secs_of_day / 3600,
            (secs_of_day / 60) % 60,
            secs_of_day % 60,
            self.nanos / 1000
        );
    }
}

/// Which way bytes travel within a flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// From the client (master, initiator) to the server (slave, outstation, PLC).
    ToServer,
    /// From the server to the client.
    ToClient,
}

impl Direction {
    /// The other direction.
    pub fn reverse(self) -> Direction {
        match self {
            Direction::ToServer => Direction::ToClient,
            Direction::ToClient => Direction::ToServer,
        }
    }

    /// Index 0 for to-server, 1 for to-client (for per-direction arrays).
    pub fn index(self) -> usize {
        match self {
            Direction::ToServer => 0,
            Direction::ToClient => 1,
        }
    }

    /// EVE name: `to_server` or `to_client`.
    pub fn name(self) -> &'static str {
        match self {
            Direction::ToServer => "to_server",
            Direction::ToClient => "to_client",
        }
    }
}

/// Something wrong or suspicious in the traffic: a malformed header, a
/// protocol violation, an evasion attempt, a resource limit hit.
#[derive(Clone, Copy)]
pub struct Anomaly<'a> {
    /// Layer or application protocol: `decode`, `ipv4`, `tcp`, `modbus`, …
    pub protocol: &'static str,
    /// Stable snake_case name; rules match on it.
    pub name: &'static str,
    /// Human-readable detail with the offending values.
    pub detail: &'a dyn core::fmt::Display,
    /// Direction of the offending bytes, when known.
    pub direction: Option<Direction>,
}

impl core::fmt::Debug for Anomaly<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}.{}: {}", self.protocol, self.name, self.detail)
    }
}

impl<'a> Anomaly<'a> {
    /// The anomaly `kind`, named by its declaration, with its message.
    pub fn new<K: AnomalyKind>(
        kind: K,
        detail: &'a dyn core::fmt::Display,
        direction: Option<Direction>,
    ) -> Anomaly<'a> {
        Anomaly {
            protocol: kind.layer(),
            name: kind.name(),
            detail,
            direction,
        }
    }

    /// Writes the body of an EVE `anomaly` object.
    pub fn write_eve(&self, w: &mut JsonWriter<'_>) {
        w.field_str("type", self.protocol);
        w.field_str("event", self.name);
        w.key("message").display(self.detail);
        if let Some(dir) = self.direction {
            w.field_str("direction", dir.name());
        }
    }
}

/// A declared anomaly name, made by [`anomaly_enum!`](crate::anomaly_enum).
pub trait AnomalyKind: Copy {
    /// The layer or protocol that raises it ([`Anomaly::protocol`]).
    fn layer(self) -> &'static str;
    /// Its stable snake_case name ([`Anomaly::name`]).
    fn name(self) -> &'static str;
}

/// The layer name of [`StreamAnomaly`].
const STREAM: &str = "stream";
/// The layer name of [`DecodeAnomaly`] (some of its names are raised as
/// `ipv4` or `ipv6`).
const DECODE: &str = "decode";

crate::anomaly_enum! {
    /// An anomaly of TCP stream reassembly (EVE `anomaly.type` `stream`).
    pub enum StreamAnomaly in STREAM {
        /// Bytes missing from a stream (capture loss or a skipped hole).
        ReassemblyGap => "reassembly_gap",
        /// A retransmission carrying other bytes than the first copy.
        OverlapMismatch => "overlap_mismatch",
        /// Out-of-order bytes beyond the reassembly buffer.
        ReassemblyBufferFull => "reassembly_buffer_full",
        /// An incomplete PDU held beyond its limit for a dissector.
        StreamBufferOverflow => "stream_buffer_overflow",
        /// A segment outside the receiver's window.
        SegmentOutsideWindow => "segment_outside_window",
        /// An incomplete PDU still held when the flow ends.
        IncompletePduAtClose => "incomplete_pdu_at_close",
        /// An acknowledgement far behind the one believed.
        AckRegression => "ack_regression",
        /// A SYN on an established stream.
        SynOnEstablished => "syn_on_established",
    }
}

crate::anomaly_enum! {
    /// An anomaly of packet decoding below the transport (EVE `anomaly.type`
    /// `decode`, or `ipv4` / `ipv6` for fragments).
    pub enum DecodeAnomaly in DECODE {
        /// A link header cut short.
        TruncatedLinkHeader => "truncated_link_header",
        /// An 802.1Q tag cut short.
        TruncatedVlanTag => "truncated_vlan_tag",
        /// An IPv4 header cut short.
        TruncatedIpv4Header => "truncated_ipv4_header",
        /// An IPv6 header cut short.
        TruncatedIpv6Header => "truncated_ipv6_header",
        /// A TCP header cut short.
        TruncatedTcpHeader => "truncated_tcp_header",
        /// A UDP header cut short.
        TruncatedUdpHeader => "truncated_udp_header",
        /// An IP version other than 4 or 6.
        BadIpVersion => "bad_ip_version",
        /// An IPv4 header length below 5 words.
        BadIpv4HeaderLength => "bad_ipv4_header_length",
        /// An IPv4 total length smaller than its header.
        BadIpv4TotalLength => "bad_ipv4_total_length",
        /// An IPv4 header checksum that does not verify.
        BadIpv4Checksum => "bad_ipv4_checksum",
        /// A TCP checksum that does not verify.
        BadTcpChecksum => "bad_tcp_checksum",
        /// A UDP checksum that does not verify.
        BadUdpChecksum => "bad_udp_checksum",
        /// A TCP data offset below 5 or beyond the segment.
        BadTcpDataOffset => "bad_tcp_data_offset",
        /// A UDP length below 8 or beyond the datagram.
        BadUdpLength => "bad_udp_length",
        /// More VLAN tags than the decoder follows.
        TooManyVlanTags => "too_many_vlan_tags",
        /// A longer IPv6 extension header chain than the decoder follows.
        TooManyIpv6ExtensionHeaders => "too_many_ipv6_extension_headers",
        /// Overlapping IPv4 fragments with different bytes.
        FragmentOverlapMismatch => "fragment_overlap_mismatch" in "ipv4",
        /// IPv4 fragments beyond 65535 bytes or the reassembly budget.
        FragmentTooLarge => "fragment_too_large" in "ipv4",
        /// An IPv4 fragment refused by a full reassembly table.
        FragmentRefused => "fragment_refused" in "ipv4",
        /// An IPv6 fragment (counted, not reassembled).
        FragmentNotReassembled => "fragment_not_reassembled" in "ipv6",
        /// An IP length claiming more bytes than the frame carried.
        IpLengthBeyondFrame => "ip_length_beyond_frame",
        /// An IP length of 0 (left by segmentation offload) on a packet that
        /// is dropped.
        IpLengthZero => "ip_length_zero",
    }
}

pub use crate::registry::AppEvent;

/// An event with the time it happened.
#[derive(Debug, Clone, Copy)]
pub struct Event<'a> {
    /// Timestamp of the packet that completed the event.
    pub ts: Timestamp,
    /// What happened.
    pub app: AppEvent<'a>,
}

/// Receives events from dissectors.
pub trait EventSink {
    /// Called once per event; the event is only valid during the call.
    fn emit(&mut self, event: &Event<'_>);
}

/// A sink that collects nothing and counts events; handy in tests and benches.
#[derive(Debug, Default, Clone)]
pub struct CountingSink {
    /// Number of application events (not anomalies).
    pub app_events: u64,
    /// Anomaly names in order of arrival.
    pub anomalies: Vec<&'static str>,
}

impl EventSink for CountingSink {
    fn emit(&mut self, event: &Event<'_>) {
        match event.app {
            AppEvent::Anomaly(a) => self.anomalies.push(a.name),
            _ => self.app_events += 1,
        }
    }
}

/// The per-packet context handed to a dissector: the packet's time and where
/// events go.
pub struct Context<'s> {
    /// Timestamp of the packet being processed.
    pub ts: Timestamp,
    /// Where events go.
    pub sink: &'s mut dyn EventSink,
}

impl Context<'_> {
    /// Emits an application event stamped with the current packet time.
    pub fn emit(&mut self, app: AppEvent<'_>) {
        self.sink.emit(&Event { ts: self.ts, app });
    }

    /// Raises the anomaly `kind` of its layer, with a message, stamped with
    /// the current packet time (see [Anomalies](self#anomalies)).
    pub fn raise<K: AnomalyKind>(
        &mut self,
        kind: K,
        message: core::fmt::Arguments<'_>,
        direction: Option<Direction>,
    ) {
        self.emit(AppEvent::Anomaly(Anomaly::new(kind, &message, direction)));
    }
}

/// A dissector for a protocol carried over a reassembled TCP byte stream.
///
/// One instance lives per flow. The stream layer hands it in-order bytes of one
/// direction; bytes it does not consume (an incomplete PDU) are handed again,
/// followed by the next bytes, on the next call. A dissector must bound what it
/// leaves unconsumed (its maximum PDU size) and always make progress on bytes
/// it cannot parse (resynchronise), so that garbage never stalls a flow.
pub trait StreamDissector {
    /// Parses bytes of `dir`; returns how many bytes were consumed.
    fn parse(&mut self, dir: Direction, data: &[u8], cx: &mut Context<'_>) -> usize;
    /// Bytes were lost in `dir`: drop partial PDUs and resynchronise.
    fn gap(&mut self, dir: Direction, cx: &mut Context<'_>);
    /// The flow ends: emit what is still pending (requests without responses).
    fn flush(&mut self, cx: &mut Context<'_>);
}

/// A dissector for a protocol carried in UDP datagrams.
pub trait DatagramDissector {
    /// Parses one datagram payload travelling in `dir`.
    fn parse_datagram(&mut self, dir: Direction, data: &[u8], cx: &mut Context<'_>);
    /// The flow ends: emit what is still pending.
    fn flush(&mut self, cx: &mut Context<'_>);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rfc3339(secs: i64, nanos: u32) -> String {
        let mut out = Vec::new();
        Timestamp::new(secs, nanos).write_rfc3339(&mut out);
        String::from_utf8(out).expect("ascii")
    }

    #[test]
    fn stream_and_decode_anomalies_name_their_layers() {
        assert_eq!(StreamAnomaly::AckRegression.layer(), "stream");
        assert_eq!(StreamAnomaly::AckRegression.name(), "ack_regression");
        assert_eq!(DecodeAnomaly::BadIpv4Checksum.layer(), "decode");
        assert_eq!(DecodeAnomaly::FragmentRefused.layer(), "ipv4");
        assert_eq!(DecodeAnomaly::FragmentNotReassembled.layer(), "ipv6");
        for names in [&StreamAnomaly::NAMES[..], &DecodeAnomaly::NAMES[..]] {
            let mut sorted = names.to_vec();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(sorted.len(), names.len());
        }
        for kind in DecodeAnomaly::ALL {
            assert_eq!(DecodeAnomaly::from_name(kind.name()), Some(kind));
        }
    }

    #[test]
    fn raise_emits_the_declared_layer_name_and_message() {
        let mut sink = Recorded::default();
        let mut cx = Context {
            ts: Timestamp::new(1, 0),
            sink: &mut sink,
        };
        let held = 7;
        cx.raise(
            DecodeAnomaly::FragmentRefused,
            format_args!("{held} bytes refused"),
            Some(Direction::ToServer),
        );
        assert_eq!(
            sink.0,
            ["ipv4.fragment_refused: 7 bytes refused (to_server)"]
        );
    }

    /// Keeps each anomaly as `layer.name: message (direction)`.
    #[derive(Default)]
    struct Recorded(Vec<String>);

    impl EventSink for Recorded {
        fn emit(&mut self, event: &Event<'_>) {
            if let AppEvent::Anomaly(a) = event.app {
                let dir = a.direction.map_or("none", Direction::name);
                self.0.push(format!("{a:?} ({dir})"));
            }
        }
    }

    #[test]
    fn formats_timestamps_like_suricata() {
        assert_eq!(rfc3339(0, 0), "1970-01-01T00:00:00.000000+0000");
        // 2024-02-29T23:59:59.123456 (leap day)
        assert_eq!(
            rfc3339(1_709_251_199, 123_456_789),
            "2024-02-29T23:59:59.123456+0000"
        );
        assert_eq!(rfc3339(951_782_400, 0), "2000-02-29T00:00:00.000000+0000");
        // The last second of 9999 by hand, the years around it by `core::fmt`.
        assert_eq!(
            rfc3339(253_402_300_799, 999_999_999),
            "9999-12-31T23:59:59.999999+0000"
        );
        assert_eq!(
            rfc3339(253_402_300_800, 0),
            "10000-01-01T00:00:00.000000+0000"
        );
        assert_eq!(rfc3339(-1, 0), "1969-12-31T23:59:59.000000+0000");
    }
}
