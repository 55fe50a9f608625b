//! DNP3 code points as open enums: link functions, application function
//! codes, control codes, command status, device attribute variations.
//!
//! Values are those of IEEE 1815; names are our snake_case renderings.

crate::open_enum! {
    /// Link-layer function: the control octet's PRM bit (0x40) and function
    /// code (low four bits), i.e. `control & 0x4f`, so that primary and
    /// secondary functions with the same number stay distinct.
    pub enum LinkFunction: u8 {
        /// Primary 0: reset of the remote link.
        ResetLinkStates = 0x40 => "reset_link_states",
        /// Primary 1: reset of user process (obsolete).
        ResetUserProcess = 0x41 => "reset_user_process",
        /// Primary 2: test function for link.
        TestLinkStates = 0x42 => "test_link_states",
        /// Primary 3: user data, link confirmation requested.
        ConfirmedUserData = 0x43 => "confirmed_user_data",
        /// Primary 4: user data, no link confirmation.
        UnconfirmedUserData = 0x44 => "unconfirmed_user_data",
        /// Primary 9: request link status.
        RequestLinkStatus = 0x49 => "request_link_status",
        /// Secondary 0: positive acknowledgement.
        Ack = 0x00 => "ack",
        /// Secondary 1: negative acknowledgement.
        Nack = 0x01 => "nack",
        /// Secondary 11: status of the link.
        LinkStatus = 0x0b => "link_status",
        /// Secondary 14: link service not functioning (obsolete).
        NotFunctioning = 0x0e => "not_functioning",
        /// Secondary 15: link service not used or not implemented.
        NotSupported = 0x0f => "not_supported",
    }
}

impl LinkFunction {
    /// Whether frames with this function carry a transport segment.
    pub fn carries_user_data(self) -> bool {
        matches!(
            self,
            LinkFunction::ConfirmedUserData | LinkFunction::UnconfirmedUserData
        )
    }
}

crate::open_enum! {
    /// Application-layer function code.
    pub enum FunctionCode: u8 {
        /// 0: confirm a response or an unsolicited response.
        Confirm = 0 => "confirm",
        /// 1: read points.
        Read = 1 => "read",
        /// 2: write points (time, IIN bits, attributes).
        Write = 2 => "write",
        /// 3: select outputs (first half of select-before-operate).
        Select = 3 => "select",
        /// 4: operate previously selected outputs.
        Operate = 4 => "operate",
        /// 5: operate outputs without a prior select.
        DirectOperate = 5 => "direct_operate",
        /// 6: direct operate, no response.
        DirectOperateNoAck = 6 => "direct_operate_no_ack",
        /// 7: copy counters to frozen counters.
        ImmediateFreeze = 7 => "immediate_freeze",
        /// 8: immediate freeze, no response.
        ImmediateFreezeNoAck = 8 => "immediate_freeze_no_ack",
        /// 9: freeze then clear counters.
        FreezeClear = 9 => "freeze_clear",
        /// 10: freeze and clear, no response.
        FreezeClearNoAck = 10 => "freeze_clear_no_ack",
        /// 11: freeze at a given time.
        FreezeAtTime = 11 => "freeze_at_time",
        /// 12: freeze at time, no response.
        FreezeAtTimeNoAck = 12 => "freeze_at_time_no_ack",
        /// 13: full restart of the outstation.
        ColdRestart = 13 => "cold_restart",
        /// 14: partial restart of the outstation.
        WarmRestart = 14 => "warm_restart",
        /// 15: initialise data to start-up values (obsolete).
        InitializeData = 15 => "initialize_data",
        /// 16: prepare applications to run.
        InitializeApplication = 16 => "initialize_application",
        /// 17: start applications.
        StartApplication = 17 => "start_application",
        /// 18: stop applications.
        StopApplication = 18 => "stop_application",
        /// 19: save configuration (deprecated).
        SaveConfiguration = 19 => "save_configuration",
        /// 20: enable unsolicited responses for classes.
        EnableUnsolicited = 20 => "enable_unsolicited",
        /// 21: disable unsolicited responses for classes.
        DisableUnsolicited = 21 => "disable_unsolicited",
        /// 22: assign points to event classes.
        AssignClass = 22 => "assign_class",
        /// 23: measure the link delay (non-LAN time sync).
        DelayMeasure = 23 => "delay_measure",
        /// 24: record current time (LAN time sync).
        RecordCurrentTime = 24 => "record_current_time",
        /// 25: open a file.
        OpenFile = 25 => "open_file",
        /// 26: close a file.
        CloseFile = 26 => "close_file",
        /// 27: delete a file.
        DeleteFile = 27 => "delete_file",
        /// 28: get file information.
        GetFileInfo = 28 => "get_file_info",
        /// 29: obtain a file authentication key.
        AuthenticateFile = 29 => "authenticate_file",
        /// 30: abort a file transfer.
        AbortFile = 30 => "abort_file",
        /// 31: activate a configuration.
        ActivateConfiguration = 31 => "activate_configuration",
        /// 32: secure authentication request.
        AuthenticationRequest = 32 => "authentication_request",
        /// 33: secure authentication error, no response.
        AuthenticationRequestNoAck = 33 => "authentication_request_no_ack",
        /// 129: solicited response.
        Response = 129 => "response",
        /// 130: unsolicited response.
        UnsolicitedResponse = 130 => "unsolicited_response",
        /// 131: secure authentication response.
        AuthenticationResponse = 131 => "authentication_response",
    }
}

impl FunctionCode {
    /// Sent by an outstation (129–131); everything else comes from a master.
    pub fn is_response(self) -> bool {
        matches!(self.raw(), 129..=131)
    }

    /// A request the outstation does not answer (confirm and the `_no_ack`
    /// variants).
    pub fn expects_no_response(self) -> bool {
        matches!(self.raw(), 0 | 6 | 8 | 10 | 12 | 33)
    }

    /// Whether a request with this function carries object data after its
    /// object headers (write, controls, freeze at time, files, applications,
    /// authentication). Reads, freezes, class assignment and the like carry
    /// headers only. Responses always carry data.
    pub fn request_carries_data(self) -> bool {
        matches!(self.raw(), 2..=6 | 11 | 12 | 16..=18 | 25..=33)
    }

    /// Reserved by the standard (34–128, 132–255): never sent by a
    /// conforming device.
    pub fn is_reserved(self) -> bool {
        !self.is_known()
    }
}

crate::open_enum! {
    /// CROB / pattern control operation type (control code bits 0–3).
    pub enum OpType: u8 {
        /// No operation.
        Nul = 0 => "nul",
        /// Pulse on.
        PulseOn = 1 => "pulse_on",
        /// Pulse off.
        PulseOff = 2 => "pulse_off",
        /// Latch on.
        LatchOn = 3 => "latch_on",
        /// Latch off.
        LatchOff = 4 => "latch_off",
    }
}

crate::open_enum! {
    /// CROB trip/close code (control code bits 6–7).
    pub enum TripClose: u8 {
        /// No trip/close selection.
        Nul = 0 => "nul",
        /// Close.
        Close = 1 => "close",
        /// Trip.
        Trip = 2 => "trip",
    }
}

crate::open_enum! {
    /// Status of a control command, echoed in responses.
    pub enum CommandStatus: u8 {
        /// Accepted.
        Success = 0 => "success",
        /// Operate arrived after the select timed out.
        Timeout = 1 => "timeout",
        /// Operate without a matching select.
        NoSelect = 2 => "no_select",
        /// Request was malformed.
        FormatError = 3 => "format_error",
        /// Operation not supported on this point.
        NotSupported = 4 => "not_supported",
        /// Already active.
        AlreadyActive = 5 => "already_active",
        /// Hardware problem.
        HardwareError = 6 => "hardware_error",
        /// Point is in local control.
        Local = 7 => "local",
        /// Too many operations requested.
        TooManyOps = 8 => "too_many_ops",
        /// Not authorised.
        NotAuthorized = 9 => "not_authorized",
        /// Inhibited by automation.
        AutomationInhibit = 10 => "automation_inhibit",
        /// Processing limited.
        ProcessingLimited = 11 => "processing_limited",
        /// Value out of range.
        OutOfRange = 12 => "out_of_range",
        /// Downstream device is local.
        DownstreamLocal = 13 => "downstream_local",
        /// Operation already complete.
        AlreadyComplete = 14 => "already_complete",
        /// Blocked.
        Blocked = 15 => "blocked",
        /// Cancelled.
        Canceled = 16 => "canceled",
        /// Blocked by another master.
        BlockedOtherMaster = 17 => "blocked_other_master",
        /// Downstream device failed.
        DownstreamFail = 18 => "downstream_fail",
        /// Outstation does not take part in the operation.
        NonParticipating = 126 => "non_participating",
        /// Undefined error.
        Undefined = 127 => "undefined",
    }
}

crate::open_enum! {
    /// Device attribute (group 0) variations of the standard set.
    pub enum AttributeVariation: u8 {
        /// 196: configuration identifier.
        ConfigId = 196 => "config_id",
        /// 197: configuration version.
        ConfigVersion = 197 => "config_version",
        /// 198: configuration build date.
        ConfigBuildDate = 198 => "config_build_date",
        /// 199: configuration last change date.
        ConfigLastChangeDate = 199 => "config_last_change_date",
        /// 200: configuration digest.
        ConfigDigest = 200 => "config_digest",
        /// 201: configuration digest algorithm.
        ConfigDigestAlgorithm = 201 => "config_digest_algorithm",
        /// 202: master resource identifier.
        MasterResourceId = 202 => "master_resource_id",
        /// 203: device location altitude.
        DeviceAltitude = 203 => "device_altitude",
        /// 204: device location longitude.
        DeviceLongitude = 204 => "device_longitude",
        /// 205: device location latitude.
        DeviceLatitude = 205 => "device_latitude",
        /// 206: user-assigned secondary operator name.
        SecondaryOperatorName = 206 => "secondary_operator_name",
        /// 207: user-assigned primary operator name.
        PrimaryOperatorName = 207 => "primary_operator_name",
        /// 208: user-assigned system name.
        SystemName = 208 => "system_name",
        /// 209: secure authentication version.
        SecureAuthVersion = 209 => "secure_auth_version",
        /// 210: number of security statistics per association.
        SecurityStatsPerAssociation = 210 => "security_stats_per_association",
        /// 211: identifier of support for user-specific attributes.
        UserSpecificAttributes = 211 => "user_specific_attributes",
        /// 212: number of master-defined data set prototypes.
        MasterDataSetPrototypes = 212 => "master_data_set_prototypes",
        /// 213: number of outstation-defined data set prototypes.
        OutstationDataSetPrototypes = 213 => "outstation_data_set_prototypes",
        /// 214: number of master-defined data sets.
        MasterDataSets = 214 => "master_data_sets",
        /// 215: number of outstation-defined data sets.
        OutstationDataSets = 215 => "outstation_data_sets",
        /// 216: maximum binary outputs per request.
        MaxBinaryOutputsPerRequest = 216 => "max_binary_outputs_per_request",
        /// 217: local timing accuracy.
        LocalTimingAccuracy = 217 => "local_timing_accuracy",
        /// 218: duration of time accuracy.
        TimeAccuracyDuration = 218 => "time_accuracy_duration",
        /// 219: support for analog output events.
        AnalogOutputEvents = 219 => "analog_output_events",
        /// 220: maximum analog output index.
        MaxAnalogOutputIndex = 220 => "max_analog_output_index",
        /// 221: number of analog outputs.
        AnalogOutputs = 221 => "analog_outputs",
        /// 222: support for binary output events.
        BinaryOutputEvents = 222 => "binary_output_events",
        /// 223: maximum binary output index.
        MaxBinaryOutputIndex = 223 => "max_binary_output_index",
        /// 224: number of binary outputs.
        BinaryOutputs = 224 => "binary_outputs",
        /// 225: support for frozen counter events.
        FrozenCounterEvents = 225 => "frozen_counter_events",
        /// 226: support for frozen counters.
        FrozenCounters = 226 => "frozen_counters",
        /// 227: support for counter events.
        CounterEvents = 227 => "counter_events",
        /// 228: maximum counter index.
        MaxCounterIndex = 228 => "max_counter_index",
        /// 229: number of counters.
        Counters = 229 => "counters",
        /// 230: support for frozen analog inputs.
        FrozenAnalogInputs = 230 => "frozen_analog_inputs",
        /// 231: support for analog input events.
        AnalogInputEvents = 231 => "analog_input_events",
        /// 232: maximum analog input index.
        MaxAnalogInputIndex = 232 => "max_analog_input_index",
        /// 233: number of analog inputs.
        AnalogInputs = 233 => "analog_inputs",
        /// 234: support for double-bit binary input events.
        DoubleBitInputEvents = 234 => "double_bit_input_events",
        /// 235: maximum double-bit binary input index.
        MaxDoubleBitInputIndex = 235 => "max_double_bit_input_index",
        /// 236: number of double-bit binary inputs.
        DoubleBitInputs = 236 => "double_bit_inputs",
        /// 237: support for binary input events.
        BinaryInputEvents = 237 => "binary_input_events",
        /// 238: maximum binary input index.
        MaxBinaryInputIndex = 238 => "max_binary_input_index",
        /// 239: number of binary inputs.
        BinaryInputs = 239 => "binary_inputs",
        /// 240: maximum transmit fragment size.
        MaxTxFragmentSize = 240 => "max_tx_fragment_size",
        /// 241: maximum receive fragment size.
        MaxRxFragmentSize = 241 => "max_rx_fragment_size",
        /// 242: device manufacturer's software (firmware) version.
        SoftwareVersion = 242 => "software_version",
        /// 243: device manufacturer's hardware version.
        HardwareVersion = 243 => "hardware_version",
        /// 244: user-assigned owner name.
        OwnerName = 244 => "owner_name",
        /// 245: user-assigned location name.
        LocationName = 245 => "location_name",
        /// 246: user-assigned ID code or number.
        UserId = 246 => "user_id",
        /// 247: user-assigned device name.
        DeviceName = 247 => "device_name",
        /// 248: device serial number.
        SerialNumber = 248 => "serial_number",
        /// 249: DNP3 subset and conformance.
        SubsetAndConformance = 249 => "subset_and_conformance",
        /// 250: device manufacturer's product name and model.
        ProductName = 250 => "product_name",
        /// 252: device manufacturer's name (vendor).
        VendorName = 252 => "vendor_name",
        /// 254: request for all attributes (requests only).
        AllAttributes = 254 => "all_attributes",
        /// 255: list of attribute variations.
        AttributeList = 255 => "attribute_list",
    }
}

crate::open_enum! {
    /// Data type code of a device attribute value.
    pub enum AttributeType: u8 {
        /// Visible (ASCII) string.
        VisibleString = 1 => "vstr",
        /// Unsigned integer (1–4 bytes, little-endian).
        Unsigned = 2 => "uint",
        /// Signed integer (1–4 bytes, little-endian).
        Signed = 3 => "int",
        /// IEEE float (4 or 8 bytes).
        Float = 4 => "flt",
        /// Octet string.
        OctetString = 5 => "ostr",
        /// Bit string.
        BitString = 6 => "bstr",
        /// DNP3 time (6 bytes).
        Time = 7 => "time",
        /// UTF-8 string.
        Unicode = 8 => "uncd",
        /// List of (variation, properties) pairs; length counts the pairs.
        List = 254 => "u8bs8list",
        /// Extended list.
        ExtendedList = 255 => "u8bs8exlist",
    }
}

/// Names of the internal indication bits, bit 0 of the first octet first.
pub const IIN_NAMES: [&str; 16] = [
    "all_stations",
    "class_1_events",
    "class_2_events",
    "class_3_events",
    "need_time",
    "local_control",
    "device_trouble",
    "device_restart",
    "no_func_code_support",
    "object_unknown",
    "parameter_error",
    "event_buffer_overflow",
    "already_executing",
    "config_corrupt",
    "reserved_2",
    "reserved_1",
];
