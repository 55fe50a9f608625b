//! The anomalies the S7 dissector raises (EVE `anomaly.type` `s7comm`), from
//! TPKT framing up to S7comm-plus.
//!
//! Messages are written where each anomaly is raised (see
//! [Anomalies](crate::event#anomalies)); the layers' errors name theirs with
//! `anomaly()`.

crate::anomaly_enum! {
    /// An S7 anomaly name.
    pub enum S7Anomaly in super::NAME {
        /// TPKT version other than 3.
        TpktBadVersion => "tpkt_bad_version",
        /// TPKT length too small for its header.
        TpktBadLength => "tpkt_bad_length",
        /// A TPDU larger than the negotiated TPDU size.
        TpktExceedsTpduSize => "tpkt_exceeds_tpdu_size",
        /// A COTP TPDU that does not parse.
        CotpBadTpdu => "cotp_bad_tpdu",
        /// A bad COTP connection parameter.
        CotpBadParameter => "cotp_bad_parameter",
        /// A COTP class or TPDU that ISO-on-TCP (class 0) does not use.
        CotpBadClass => "cotp_bad_class",
        /// A COTP error TPDU.
        CotpErrorTpdu => "cotp_error_tpdu",
        /// Segmented COTP data beyond the PDU limit.
        CotpReassemblyOverflow => "cotp_reassembly_overflow",
        /// Bytes that are neither TPKT nor S7comm / S7comm-plus.
        NonS7Traffic => "non_s7_traffic",
        /// S7 lengths that do not match the PDU.
        S7BadLength => "s7_bad_length",
        /// An S7 body that does not fit its function.
        S7MalformedBody => "s7_malformed_body",
        /// An S7 PDU before setup communication.
        S7BeforeSetup => "s7_before_setup",
        /// An unknown S7 PDU type (ROSCTR).
        S7UnknownRosctr => "s7_unknown_rosctr",
        /// Broken S7comm-plus framing.
        S7plusBadFraming => "s7plus_bad_framing",
        /// An S7comm-plus integrity digest of the wrong length.
        S7plusBadIntegrity => "s7plus_bad_integrity",
        /// An ack whose job was never seen.
        AckWithoutJob => "ack_without_job",
        /// More jobs (or S7comm-plus requests) waiting than the limit.
        TooManyOutstandingJobs => "too_many_outstanding_jobs",
        /// A multi-part SZL answer beyond its limit.
        SzlReassemblyOverflow => "szl_reassembly_overflow",
    }
}
