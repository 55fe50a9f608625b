//! The anomalies the EtherNet/IP dissector raises (EVE `anomaly.type`
//! `enip`).
//!
//! Messages are written where each anomaly is raised (see
//! [Anomalies](crate::event#anomalies)).

crate::anomaly_enum! {
    /// An EtherNet/IP anomaly name.
    pub enum EnipAnomaly in super::NAME {
        /// An encapsulation command the specification does not define.
        UnknownCommand => "unknown_command",
        /// An encapsulation length beyond the limit, or a message shorter
        /// than its command needs.
        BadLength => "bad_length",
        /// Options other than 0 in an encapsulation header.
        BadOptions => "bad_options",
        /// Bytes on an EtherNet/IP stream that never framed as
        /// encapsulation headers.
        NonEnipTraffic => "non_enip_traffic",
        /// Valid messages again after bytes that did not frame.
        MessageAfterParseError => "message_after_parse_error",
        /// Common Packet Format items that do not fit the message.
        MalformedItems => "malformed_items",
        /// A CIP message shorter than its header, or whose path or status
        /// runs past it.
        MalformedCip => "malformed_cip",
        /// A request path that does not decode.
        MalformedPath => "malformed_path",
        /// Embedded requests (Multiple_Service_Packet, Unconnected_Send)
        /// that do not fit their packet.
        MalformedEmbedded => "malformed_embedded",
        /// A command that needs a session sent without the one the target
        /// registered on this connection (or after it was unregistered).
        UnregisteredSession => "unregistered_session",
        /// A reply whose request was never seen.
        UnmatchedResponse => "unmatched_response",
        /// More requests waiting for a reply than the limit.
        TooManyOutstandingRequests => "too_many_outstanding_requests",
        /// A UDP datagram that is neither an encapsulation message nor
        /// implicit I/O.
        MalformedDatagram => "malformed_datagram",
    }
}
