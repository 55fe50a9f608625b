//! Counters of a sensor run, and their EVE `stats` rendering.

use std::collections::BTreeMap;

use otwatch_proto::ipfrag::FragStats;
use otwatch_proto::json::JsonWriter;
use otwatch_proto::reassembly::StreamStats;
use otwatch_proto::registry::{Tally, TallyKey};

use crate::capture::afpacket::KernelStats;
use crate::flow::FlowStats;
use crate::pipeline::checksum::ChecksumStats;

/// PDU counters of one application protocol.
#[derive(Debug, Clone, Default)]
pub struct AppStats {
    /// Transactions (events) emitted.
    pub transactions: u64,
    /// Requests seen.
    pub requests: u64,
    /// Responses seen (including unsolicited).
    pub responses: u64,
    /// PDUs by function code below 256, indexed by the code (empty until
    /// the first): counting a PDU is an array increment.
    codes: Vec<u64>,
    /// Other counters: larger codes and the protocols' own keys, in the
    /// order first seen (a protocol has a few dozen at most).
    keys: Vec<(TallyKey, u64)>,
}

/// Function codes counted by index.
const CODES: usize = 256;

impl AppStats {
    /// Adds one PDU with function `key`.
    pub fn count_function(&mut self, key: u64) {
        match usize::try_from(key) {
            Ok(code) if code < CODES => {
                if self.codes.is_empty() {
                    self.codes = vec![0; CODES];
                }
                self.codes[code] += 1;
            }
            _ => self.count_key(TallyKey::new("", key), 1),
        }
    }

    /// Adds `n` occurrences of a protocol's own counter key.
    pub fn count_key(&mut self, key: TallyKey, n: u64) {
        match self.keys.iter_mut().find(|(k, _)| *k == key) {
            Some((_, count)) => *count += n,
            None => self.keys.push((key, n)),
        }
    }

    /// The counters by their `stats` key: function codes in decimal (Modbus
    /// keeps the exception bit, so 131 is an exception to function 3), the
    /// protocols' own keys as `kind:value` (`rosctr:1`, `link_pri:4`).
    pub fn functions(&self) -> BTreeMap<String, u64> {
        let mut out = BTreeMap::new();
        for (code, n) in self.codes.iter().enumerate() {
            if *n > 0 {
                out.insert(code.to_string(), *n);
            }
        }
        for (key, n) in &self.keys {
            *out.entry(key.to_string()).or_insert(0) += n;
        }
        out
    }

    /// Adds the counters of `from`.
    pub fn merge(&mut self, from: &AppStats) {
        self.transactions += from.transactions;
        self.requests += from.requests;
        self.responses += from.responses;
        if !from.codes.is_empty() {
            if self.codes.is_empty() {
                self.codes = vec![0; CODES];
            }
            for (to, n) in self.codes.iter_mut().zip(&from.codes) {
                *to += n;
            }
        }
        for (key, n) in &from.keys {
            self.count_key(*key, *n);
        }
    }

    /// PDUs in total.
    pub fn pdus(&self) -> u64 {
        self.requests + self.responses
    }
}

/// Equal when every counter is (whatever order the keys came in).
impl PartialEq for AppStats {
    fn eq(&self, other: &AppStats) -> bool {
        (self.transactions, self.requests, self.responses)
            == (other.transactions, other.requests, other.responses)
            && self.functions() == other.functions()
    }
}

impl Eq for AppStats {}

/// A protocol event's counters land here (see
/// [`otwatch_proto::registry::ProtocolEvent::tally`]).
impl Tally for AppStats {
    fn transaction(&mut self) {
        self.transactions += 1;
    }

    fn request(&mut self) {
        self.requests += 1;
    }

    fn response(&mut self) {
        self.responses += 1;
    }

    fn function(&mut self, code: u64) {
        self.count_function(code);
    }

    fn key(&mut self, key: TallyKey, n: u64) {
        self.count_key(key, n);
    }
}

/// Every counter of a run.
#[derive(Debug, Clone, Default)]
pub struct SensorStats {
    /// Frames received.
    pub packets: u64,
    /// Bytes received (captured length).
    pub bytes: u64,
    /// Frames of link types otwatch does not decode, by LINKTYPE value.
    pub unsupported_link: BTreeMap<i32, u64>,
    /// Frames that were not IP (ARP, PROFINET, GOOSE, LLDP…).
    pub non_ip: u64,
    /// IPv4 fragments seen.
    pub ipv4_fragments: u64,
    /// IPv4 datagrams reassembled from fragments.
    pub ipv4_reassembled: u64,
    /// IPv6 fragments seen (counted, not reassembled).
    pub ipv6_fragments: u64,
    /// IPv4 defragmenter counters (evictions, timeouts, overlaps).
    pub defrag: FragStats,
    /// Checksum verification: state and counters.
    pub checksum: ChecksumStats,
    /// TCP segments.
    pub tcp: u64,
    /// UDP datagrams.
    pub udp: u64,
    /// Other IP protocols.
    pub other_ip: u64,
    /// TCP flows no dissector claimed, bypassed from then on: counted,
    /// not reassembled.
    pub bypassed_flows: u64,
    /// Malformed frames by error name.
    pub decode_errors: BTreeMap<&'static str, u64>,
    /// Reassembly counters summed over ended flows.
    pub stream: StreamStats,
    /// Flow table counters.
    pub flows: FlowStats,
    /// Per application protocol.
    pub app: BTreeMap<&'static str, AppStats>,
    /// Anomalies by `protocol.name`.
    pub anomalies: BTreeMap<(&'static str, &'static str), u64>,
    /// Alerts raised.
    pub alerts: u64,
    /// Deviations from the baseline found (including those held back).
    pub deviations: u64,
    /// Deviations held back because the same one of the same pair was
    /// raised within the baseline's `repeat_seconds`.
    pub deviations_held: u64,
    /// Threshold and detection-filter windows dropped while still open to
    /// make room (their counts started again from zero).
    pub threshold_windows_evicted: u64,
    /// Rule matches the overrides kept from alerting.
    pub suppressed: u64,
}

impl SensorStats {
    /// Adds the counters of `from` (another worker's, a report's).
    pub fn merge(&mut self, from: &SensorStats) {
        // Field by field; keep in step with the struct.
        self.packets += from.packets;
        self.bytes += from.bytes;
        for (k, v) in &from.unsupported_link {
            *self.unsupported_link.entry(*k).or_insert(0) += v;
        }
        self.non_ip += from.non_ip;
        self.ipv4_fragments += from.ipv4_fragments;
        self.ipv4_reassembled += from.ipv4_reassembled;
        self.ipv6_fragments += from.ipv6_fragments;
        self.tcp += from.tcp;
        self.udp += from.udp;
        self.other_ip += from.other_ip;
        self.bypassed_flows += from.bypassed_flows;
        for (k, v) in &from.decode_errors {
            *self.decode_errors.entry(k).or_insert(0) += v;
        }
        self.add_stream(&from.stream);
        self.merge_checks(from);
        self.flows.created += from.flows.created;
        self.flows.timed_out += from.flows.timed_out;
        self.flows.evicted += from.flows.evicted;
        self.flows.flushed += from.flows.flushed;
        self.flows.active += from.flows.active;
        for (proto, s) in &from.app {
            self.app.entry(proto).or_default().merge(s);
        }
        for (k, v) in &from.anomalies {
            *self.anomalies.entry(*k).or_insert(0) += v;
        }
        self.alerts += from.alerts;
        self.deviations += from.deviations;
        self.deviations_held += from.deviations_held;
        self.threshold_windows_evicted += from.threshold_windows_evicted;
        self.suppressed += from.suppressed;
    }

    /// Total anomalies.
    pub fn anomaly_total(&self) -> u64 {
        self.anomalies.values().sum()
    }

    /// Adds an anomaly.
    pub fn count_anomaly(&mut self, protocol: &'static str, name: &'static str) {
        *self.anomalies.entry((protocol, name)).or_insert(0) += 1;
    }

    /// Adds a stream's counters.
    pub fn add_stream(&mut self, s: &StreamStats) {
        self.stream.delivered += s.delivered;
        self.stream.retransmitted += s.retransmitted;
        self.stream.out_of_order += s.out_of_order;
        self.stream.gaps += s.gaps;
        self.stream.gap_bytes += s.gap_bytes;
        self.stream.overlap_mismatches += s.overlap_mismatches;
        self.stream.outside_window += s.outside_window;
        self.stream.dropped_segments += s.dropped_segments;
        self.stream.implausible_acks += s.implausible_acks;
        self.stream.stray_syns += s.stray_syns;
        self.stream.ack_regressions += s.ack_regressions;
        self.stream.window_recoveries += s.window_recoveries;
    }

    /// Adds another worker's checksum and defragmenter counters.
    pub fn merge_checks(&mut self, from: &SensorStats) {
        self.checksum.merge(&from.checksum);
        let (d, f) = (&mut self.defrag, &from.defrag);
        d.fragments += f.fragments;
        d.reassembled += f.reassembled;
        d.evicted += f.evicted;
        d.timed_out += f.timed_out;
        d.overlap_mismatches += f.overlap_mismatches;
        d.too_large += f.too_large;
        d.refused += f.refused;
    }

    /// Writes the body of the EVE `stats` object.
    pub fn write_eve(&self, w: &mut JsonWriter<'_>, elapsed_secs: f64) {
        self.write_eve_live(w, elapsed_secs, None);
    }

    /// Writes the body of the EVE `stats` object; with `kernel` (live
    /// capture), `capture` also carries the kernel's counters under
    /// Suricata's names, `kernel_packets` and `kernel_drops`.
    pub fn write_eve_live(
        &self,
        w: &mut JsonWriter<'_>,
        elapsed_secs: f64,
        kernel: Option<&KernelStats>,
    ) {
        w.key("uptime").f64(elapsed_secs);
        w.key("capture").begin_object();
        w.field_u64("packets", self.packets);
        w.field_u64("bytes", self.bytes);
        if let Some(k) = kernel {
            w.field_u64("kernel_packets", k.packets);
            w.field_u64("kernel_drops", k.drops);
        }
        w.end_object();
        w.key("decoder").begin_object();
        w.field_u64("non_ip", self.non_ip);
        w.field_u64(
            "unsupported_link_type",
            self.unsupported_link.values().sum(),
        );
        w.field_u64("tcp", self.tcp);
        w.field_u64("udp", self.udp);
        w.field_u64("other_ip", self.other_ip);
        w.field_u64("ipv4_fragments", self.ipv4_fragments);
        w.field_u64("ipv4_reassembled", self.ipv4_reassembled);
        w.field_u64("ipv6_fragments", self.ipv6_fragments);
        w.key("defrag").begin_object();
        w.field_u64("reassembled", self.defrag.reassembled);
        w.field_u64("evicted", self.defrag.evicted);
        w.field_u64("timed_out", self.defrag.timed_out);
        w.field_u64("overlap_mismatches", self.defrag.overlap_mismatches);
        w.field_u64("too_large", self.defrag.too_large);
        w.field_u64("refused", self.defrag.refused);
        w.end_object();
        w.key("errors").begin_object();
        for (name, n) in &self.decode_errors {
            w.field_u64(name, *n);
        }
        w.end_object();
        w.end_object();
        let c = &self.checksum;
        w.key("checksum").begin_object();
        w.field_str("mode", c.state.name());
        w.field_u64("verified", c.verified);
        w.field_u64("bad", c.bad);
        w.field_u64("dropped", c.dropped);
        w.field_u64("offload_accepted", c.offload_accepted);
        w.field_u64("accepted_in_sample", c.accepted_in_sample);
        w.field_u64("accepted_unproven", c.accepted_unproven);
        w.field_u64("sampled", c.sampled);
        w.field_u64("sample_bad", c.sample_bad);
        w.field_u64("samples", c.samples);
        w.field_u64("samples_disabled", c.samples_disabled);
        w.field_u64("anomalies_suppressed", c.anomalies_suppressed);
        w.end_object();
        w.key("flow").begin_object();
        w.field_u64("created", self.flows.created);
        w.field_u64("timed_out", self.flows.timed_out);
        w.field_u64("evicted", self.flows.evicted);
        w.field_u64("ended_at_shutdown", self.flows.flushed);
        w.field_u64("active", self.flows.active);
        w.field_u64("bypassed", self.bypassed_flows);
        w.end_object();
        w.key("tcp").begin_object();
        w.field_u64("reassembled_bytes", self.stream.delivered);
        w.field_u64("retransmitted_segments", self.stream.retransmitted);
        w.field_u64("out_of_order_segments", self.stream.out_of_order);
        w.field_u64("gaps", self.stream.gaps);
        w.field_u64("gap_bytes", self.stream.gap_bytes);
        w.field_u64("overlap_mismatches", self.stream.overlap_mismatches);
        w.field_u64("outside_window_segments", self.stream.outside_window);
        w.field_u64("dropped_segments", self.stream.dropped_segments);
        w.field_u64("implausible_acks", self.stream.implausible_acks);
        w.field_u64("stray_syns", self.stream.stray_syns);
        w.field_u64("ack_regressions", self.stream.ack_regressions);
        w.field_u64("window_recoveries", self.stream.window_recoveries);
        w.end_object();
        w.key("app_layer").begin_object();
        for (proto, s) in &self.app {
            w.key(proto).begin_object();
            w.field_u64("transactions", s.transactions);
            w.field_u64("requests", s.requests);
            w.field_u64("responses", s.responses);
            w.key("functions").begin_object();
            for (k, n) in &s.functions() {
                w.field_u64(k, *n);
            }
            w.end_object();
            w.end_object();
        }
        w.end_object();
        w.key("anomalies").begin_object();
        for ((proto, name), n) in &self.anomalies {
            let mut key = String::with_capacity(proto.len() + name.len() + 1);
            key.push_str(proto);
            key.push('.');
            key.push_str(name);
            w.field_u64(&key, *n);
        }
        w.end_object();
        w.field_u64("alerts", self.alerts);
        if self.threshold_windows_evicted > 0 {
            w.field_u64("threshold_windows_evicted", self.threshold_windows_evicted);
        }
        if self.deviations > 0 {
            w.key("baseline").begin_object();
            w.field_u64("deviations", self.deviations);
            w.field_u64("held", self.deviations_held);
            w.end_object();
        }
        if self.suppressed > 0 {
            w.key("overrides").begin_object();
            w.field_u64("suppressed", self.suppressed);
            w.end_object();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_functions_by_decimal_key() {
        let mut s = AppStats::default();
        s.count_function(3);
        s.count_function(3);
        s.count_function(131);
        assert_eq!(s.functions().get("3"), Some(&2));
        assert_eq!(s.functions().get("131"), Some(&1));
        s.count_function(0);
        s.count_function(255);
        s.count_function(256);
        s.count_function(u64::MAX);
        s.count_key(TallyKey::new("rosctr", 1), 2);
        s.count_key(TallyKey::pair("userdata", 4, 1), 1);
        s.count_key(TallyKey::new("rosctr", 1), 1);
        let f = s.functions();
        assert_eq!(f.get("0"), Some(&1));
        assert_eq!(f.get("255"), Some(&1));
        assert_eq!(f.get("256"), Some(&1));
        assert_eq!(f.get("18446744073709551615"), Some(&1));
        assert_eq!(f.get("rosctr:1"), Some(&3));
        assert_eq!(f.get("userdata:4/1"), Some(&1));
        assert_eq!(f.len(), 8);
        // Merged counters, and equality whatever the order keys came in.
        let mut other = AppStats::default();
        other.count_key(TallyKey::pair("userdata", 4, 1), 1);
        other.count_function(3);
        let mut sum = AppStats::default();
        sum.merge(&other);
        sum.merge(&other);
        assert_eq!(sum.functions().get("3"), Some(&2));
        let mut reordered = AppStats::default();
        reordered.count_function(3);
        reordered.count_key(TallyKey::pair("userdata", 4, 1), 1);
        assert_eq!(reordered, other);
    }
}
