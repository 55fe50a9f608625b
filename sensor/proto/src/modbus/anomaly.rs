//! The anomalies the Modbus dissector raises (EVE `anomaly.type` `modbus`).
//!
//! Messages are written where each anomaly is raised (see
//! [Anomalies](crate::event#anomalies)); the framer's and the PDU decoder's
//! errors name theirs with `anomaly()`.

crate::anomaly_enum! {
    /// A Modbus anomaly name.
    pub enum ModbusAnomaly in super::NAME {
        /// MBAP protocol identifier other than 0.
        BadProtocolId => "bad_protocol_id",
        /// MBAP length (or PDU) with no room for a function code.
        MbapLengthZero => "mbap_length_zero",
        /// MBAP length beyond what the specification allows.
        MbapLengthTooLarge => "mbap_length_too_large",
        /// A PDU shorter or longer than its function needs.
        LengthMismatch => "length_mismatch",
        /// A byte count that disagrees with the bytes or the quantity.
        ByteCountMismatch => "byte_count_mismatch",
        /// A quantity outside what the specification allows.
        QuantityOutOfRange => "quantity_out_of_range",
        /// Write single coil with a value other than 0xFF00 or 0x0000.
        BadCoilValue => "bad_coil_value",
        /// A device identification object running past the PDU.
        TruncatedDeviceIdObject => "truncated_device_id_object",
        /// Bytes on a Modbus flow that never framed as MBAP.
        NonModbusTraffic => "non_modbus_traffic",
        /// Valid PDUs again after bytes that did not frame.
        PduAfterParseError => "pdu_after_parse_error",
        /// A response whose transaction was never requested.
        UnmatchedResponse => "unmatched_response",
        /// A response that does not answer its request's function or range.
        ResponseMismatch => "response_mismatch",
        /// More requests waiting for a response than the limit.
        TooManyOutstandingRequests => "too_many_outstanding_requests",
    }
}
