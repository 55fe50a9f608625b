//! The two anomaly-only layers: `stream` (TCP reassembly of any flow) and
//! `decode` (frames: link, IP, TCP/UDP headers, fragments). They have no
//! fields of their own: their rules name an anomaly and may add addresses
//! and ports.
//!
//! The protocols' anomaly names come from the proto registry
//! ([`otwatch_proto::registry::Spec::anomalies`]); these two layers' names
//! are raised by the sensor's pipeline and the frame decoder
//! (`otwatch_proto::wire::DecodeError::name`) and are listed here.

/// `Anomaly::protocol` values of `stream` anomalies.
pub(crate) const STREAM_PROTOCOLS: &[&str] = &["stream"];

/// `Anomaly::protocol` values of `decode` anomalies: the frame decoder's
/// and IP reassembly's.
pub(crate) const DECODE_PROTOCOLS: &[&str] = &["decode", "ipv4", "ipv6"];

/// Anomaly names of the `stream` layer.
pub(crate) const STREAM: &[&str] = &[
    "reassembly_gap",
    "overlap_mismatch",
    "reassembly_buffer_full",
    "stream_buffer_overflow",
    "segment_outside_window",
    "incomplete_pdu_at_close",
];

/// Anomaly names of the `decode` layer.
pub(crate) const DECODE: &[&str] = &[
    "truncated_link_header",
    "truncated_vlan_tag",
    "truncated_ipv4_header",
    "truncated_ipv6_header",
    "truncated_tcp_header",
    "truncated_udp_header",
    "bad_ip_version",
    "bad_ipv4_header_length",
    "bad_ipv4_total_length",
    "bad_ipv4_checksum",
    "bad_tcp_checksum",
    "bad_udp_checksum",
    "bad_tcp_data_offset",
    "bad_udp_length",
    "too_many_vlan_tags",
    "too_many_ipv6_extension_headers",
    "fragment_overlap_mismatch",
    "fragment_too_large",
];
