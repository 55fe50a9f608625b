//! The two anomaly-only layers: `stream` (TCP reassembly of any flow) and
//! `decode` (frames: link, IP, TCP/UDP headers, fragments). They have no
//! fields of their own: their rules name an anomaly and may add addresses
//! and ports.
//!
//! Their anomaly names are the proto crate's declared ones
//! ([`StreamAnomaly`], [`DecodeAnomaly`]), as the protocols' are their
//! registry specs' ([`otwatch_proto::registry::Spec::anomalies`]).

use otwatch_proto::event::{AnomalyKind, DecodeAnomaly, StreamAnomaly};

/// Anomaly names of the `stream` layer.
pub(crate) const STREAM: &[&str] = &StreamAnomaly::NAMES;

/// Anomaly names of the `decode` layer.
pub(crate) const DECODE: &[&str] = &DecodeAnomaly::NAMES;

/// Whether `stream` anomalies are raised as `anomaly_protocol`.
pub(crate) fn stream_owns(anomaly_protocol: &str) -> bool {
    StreamAnomaly::ALL
        .iter()
        .any(|a| a.layer() == anomaly_protocol)
}

/// Whether `decode` anomalies are raised as `anomaly_protocol` (`decode`,
/// and `ipv4` / `ipv6` for fragments).
pub(crate) fn decode_owns(anomaly_protocol: &str) -> bool {
    DecodeAnomaly::ALL
        .iter()
        .any(|a| a.layer() == anomaly_protocol)
}
