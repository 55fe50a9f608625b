//! The anomalies the IEC 104 dissector raises (EVE `anomaly.type`
//! `iec104`).
//!
//! Messages are written where each anomaly is raised (see
//! [Anomalies](crate::event#anomalies)).

crate::anomaly_enum! {
    /// An IEC 104 anomaly name.
    pub enum Iec104Anomaly in super::NAME {
        /// A byte other than 0x68 where an APDU starts.
        BadStart => "bad_start",
        /// An APDU length outside 4..=253, or one that does not fit its
        /// format (an S- or U-frame with data, an I-frame without).
        BadLength => "bad_length",
        /// A U-frame naming no single function.
        BadUFunction => "bad_u_function",
        /// One byte before the first APDU of a stream picked up after its
        /// start: a TCP keep-alive probe's byte (not an error).
        StrayByteAtPickup => "stray_byte_at_pickup",
        /// Bytes on an IEC 104 stream that never framed as APDUs.
        NonIec104Traffic => "non_iec104_traffic",
        /// Valid APDUs again after bytes that did not frame.
        ApduAfterParseError => "apdu_after_parse_error",
        /// An ASDU whose objects do not fit its type and count.
        MalformedAsdu => "malformed_asdu",
        /// An I-frame's send sequence number skips ahead.
        SequenceGap => "sequence_gap",
        /// An I-frame's send sequence number repeats or goes back.
        SequenceDuplicate => "sequence_duplicate",
        /// A receive sequence number acknowledging frames never sent.
        AckBeyondSent => "ack_beyond_sent",
        /// More I-frames unacknowledged than the window k.
        WindowExceeded => "window_exceeded",
        /// An I-frame while data transfer is stopped.
        DataWhileStopped => "data_while_stopped",
        /// A command activation that got no confirmation in time.
        UnconfirmedCommand => "unconfirmed_command",
        /// A confirmation or termination of a command nobody activated.
        UnexpectedConfirmation => "unexpected_confirmation",
        /// More commands waiting for confirmation than the limit.
        TooManyOutstandingCommands => "too_many_outstanding_commands",
    }
}
