//! otwatch-proto: everything otwatch knows about bytes on the wire, and nothing
//! about where they come from or where events go.
//!
//! Pure decoding: no I/O, no `unsafe`, no allocation per packet on the common
//! path. Views borrow from the capture buffer; dissectors copy out only what a
//! pending request or an incomplete PDU needs to outlive its packet.
//!
//! * [`wire`] — Ethernet / VLAN / SLL / IPv4 / IPv6 / TCP / UDP header views.
//! * [`ipfrag`] — bounded IPv4 fragment reassembly.
//! * [`reassembly`] — TCP stream reassembly per direction.
//! * [`stream`] — holds incomplete PDUs between segments for a stream dissector.
//! * [`registry`] — the table of protocols: their ids, specs, events and
//!   dissectors, and how a flow's protocol is found.
//! * [`event`] — timestamps, directions, anomalies (and the names of the
//!   stream and decode layers'), the event sink and the dissector traits.
//! * [`json`] — the allocation-free JSON writer used for EVE output.
//! * [`civil`] — civil dates to and from day counts since 1970-01-01.
//! * [`modbus`] — Modbus/TCP.
//! * [`s7comm`] — ISO-on-TCP (TPKT, COTP), S7comm and S7comm-plus.
//! * [`dnp3`] — DNP3 (IEEE 1815) over TCP and UDP.
//! * [`enip`] — EtherNet/IP and CIP over TCP and UDP.
//! * [`iec104`] — IEC 60870-5-104.
//! * [`macros`] — `open_enum!` for protocol code points, `anomaly_enum!` for
//!   anomaly names.

#![forbid(unsafe_code)]

pub mod macros;

pub mod civil;
pub mod event;
pub mod ipfrag;
pub mod json;
pub mod reassembly;
pub mod registry;
pub mod stream;
pub mod wire;

// The protocols: one line each. The order matters where two protocols could
// claim one flow: ports and probes are tried in this order (none overlap
// today). Each line declares the protocol's module and its variant in the
// registry's enums; its doc comment documents those variants.
registry::protocols! {
    /// Modbus/TCP.
    Modbus => modbus,
    /// DNP3 (IEEE 1815) over TCP and UDP.
    Dnp3 => dnp3,
    /// S7comm and S7comm-plus over ISO-on-TCP.
    S7comm => s7comm,
    /// EtherNet/IP and CIP over TCP and UDP.
    Enip => enip,
    /// IEC 60870-5-104.
    Iec104 => iec104,
}

pub use event::{AppEvent, Context, Direction, Event, EventSink, Timestamp};
pub use registry::{ProtocolConfig, ProtocolId};

/// Helpers shared by the unit tests of the protocol modules.
#[cfg(test)]
pub(crate) mod testutil {
    /// Bytes from hex digits; anything else (spaces, comments' punctuation)
    /// is skipped.
    pub(crate) fn hex(text: &str) -> Vec<u8> {
        let clean: String = text.chars().filter(|c| c.is_ascii_hexdigit()).collect();
        (0..clean.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&clean[i..i + 2], 16).expect("hex"))
            .collect()
    }

    /// Bytes from hex with comments: on each line, the leading tokens made
    /// only of hex digit pairs are bytes, the rest of the line is a
    /// comment (which may hold hex-looking words).
    pub(crate) fn hex_lines(text: &str) -> Vec<u8> {
        let mut out = Vec::new();
        for line in text.lines() {
            for token in line.split_whitespace() {
                if token.len() % 2 != 0 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
                    break;
                }
                for i in (0..token.len()).step_by(2) {
                    out.push(u8::from_str_radix(&token[i..i + 2], 16).expect("hex pair"));
                }
            }
        }
        out
    }
}
