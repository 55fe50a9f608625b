//! The anomalies the DNP3 dissector raises (EVE `anomaly.type` `dnp3`), from
//! link frames up to application objects.
//!
//! Messages are written where each anomaly is raised (see
//! [Anomalies](crate::event#anomalies)); the layers' errors name theirs with
//! `anomaly()`.

crate::anomaly_enum! {
    /// A DNP3 anomaly name.
    pub enum Dnp3Anomaly in super::NAME {
        /// Bytes before the 0x05 0x64 start octets.
        InvalidStartOctets => "invalid_start_octets",
        /// A link header whose CRC does not check.
        BadHeaderCrc => "bad_header_crc",
        /// A link data block whose CRC does not check.
        BadDataCrc => "bad_data_crc",
        /// A link LEN below 5, or no room for a transport header.
        LengthTooSmall => "length_too_small",
        /// User data in a link function that carries none.
        FrameTooLong => "frame_too_long",
        /// A datagram that ends inside a frame.
        TruncatedFrame => "truncated_frame",
        /// A link function the standard does not define.
        UnknownLinkFunction => "unknown_link_function",
        /// A transport segment without FIR while no fragment is assembled.
        TransportMissingFir => "transport_missing_fir",
        /// A transport segment out of sequence.
        TransportSequenceError => "transport_sequence_error",
        /// A fragment left unfinished by a new FIR segment.
        TransportIncompleteFragment => "transport_incomplete_fragment",
        /// A fragment beyond the size limit.
        FragmentTooLarge => "fragment_too_large",
        /// More address pairs reassembling than the limit.
        TooManyFragments => "too_many_fragments",
        /// A fragment too short for its application header.
        FragmentTooShort => "fragment_too_short",
        /// A reserved application function code.
        ReservedFunctionCode => "reserved_function_code",
        /// A fragment sent to a broadcast address.
        BroadcastDestination => "broadcast_destination",
        /// A response no request is waiting for.
        ResponseWithoutRequest => "response_without_request",
        /// More requests waiting for a response than the limit.
        TooManyOutstandingRequests => "too_many_outstanding_requests",
        /// An object header or its points running past the fragment.
        TruncatedObject => "truncated_object",
        /// A reserved object qualifier.
        ReservedQualifier => "reserved_qualifier",
        /// A range whose stop is before its start.
        BadRange => "bad_range",
        /// An object whose size is not known (the rest cannot be parsed).
        UnknownObject => "unknown_object",
        /// More object headers than the limit.
        TooManyObjects => "too_many_objects",
        /// More points than the limit.
        TooManyPoints => "too_many_points",
    }
}
