//! S7comm, COTP and S7comm-plus code points as open enums.
//!
//! Names follow the de-facto reference for S7comm (the Wireshark dissector by
//! Thomas Wiens and the Snap7 / libnodave client libraries), written as
//! snake_case identifiers for events and rules.

crate::open_enum! {
    /// ISO 8073 TPDU codes (the high nibble of CR, CC, AK, RJ and DT also
    /// carries credit or flag bits; [`TpduCode::of`] masks them).
    pub enum TpduCode: u8 {
        /// Expedited data.
        Ed = 0x10 => "ed",
        /// Expedited data acknowledgement.
        Ea = 0x20 => "ea",
        /// Reject.
        Rj = 0x50 => "rj",
        /// Data acknowledgement.
        Ak = 0x60 => "ak",
        /// TPDU error.
        Er = 0x70 => "er",
        /// Disconnect request.
        Dr = 0x80 => "dr",
        /// Disconnect confirm.
        Dc = 0xc0 => "dc",
        /// Connection confirm.
        Cc = 0xd0 => "cc",
        /// Connection request.
        Cr = 0xe0 => "cr",
        /// Data.
        Dt = 0xf0 => "dt",
    }
}

impl TpduCode {
    /// The TPDU code of a COTP type byte, credit (CDT) and flag bits removed.
    pub fn of(byte: u8) -> TpduCode {
        match byte & 0xf0 {
            0xe0 | 0xd0 | 0x60 | 0x50 | 0xf0 => TpduCode::from(byte & 0xf0),
            _ => TpduCode::from(byte),
        }
    }
}

crate::open_enum! {
    /// COTP variable-part parameter codes (CR, CC, DR, DC).
    pub enum CotpParam: u8 {
        /// Acknowledge time.
        AckTime = 0x85 => "ack_time",
        /// Residual error rate.
        ResidualErrorRate = 0x86 => "residual_error_rate",
        /// Throughput.
        Throughput = 0x87 => "throughput",
        /// Priority.
        Priority = 0x88 => "priority",
        /// Transit delay.
        TransitDelay = 0x89 => "transit_delay",
        /// Reassignment time.
        ReassignmentTime = 0x8b => "reassignment_time",
        /// TPDU size as a power of two.
        TpduSize = 0xc0 => "tpdu_size",
        /// Calling (source) TSAP.
        CallingTsap = 0xc1 => "calling_tsap",
        /// Called (destination) TSAP.
        CalledTsap = 0xc2 => "called_tsap",
        /// Checksum.
        Checksum = 0xc3 => "checksum",
        /// Version number.
        Version = 0xc4 => "version",
        /// Protection parameters.
        Protection = 0xc5 => "protection",
        /// Additional option selection.
        AdditionalOptions = 0xc6 => "additional_options",
        /// Alternative protocol classes.
        AlternativeClasses = 0xc7 => "alternative_classes",
        /// Additional information on a disconnect.
        DisconnectInfo = 0xe0 => "disconnect_info",
        /// Preferred maximum TPDU size.
        PreferredMaxTpduSize = 0xf0 => "preferred_max_tpdu_size",
    }
}

crate::open_enum! {
    /// The first byte of a two-byte S7 TSAP: the kind of connection.
    pub enum ConnectionType: u8 {
        /// Programming device (engineering station).
        Pg = 0x01 => "pg",
        /// Operator panel / HMI.
        Op = 0x02 => "op",
        /// Other S7 client (basic communication).
        S7Basic = 0x03 => "s7_basic",
    }
}

crate::open_enum! {
    /// S7comm PDU types (remote operating service control).
    pub enum Rosctr: u8 {
        /// A request.
        Job = 0x01 => "job",
        /// An acknowledgement without data (usually an error).
        Ack = 0x02 => "ack",
        /// A response with parameters and data.
        AckData = 0x03 => "ack_data",
        /// Extended functions (programming, diagnostics, SZL, clock, …).
        Userdata = 0x07 => "userdata",
    }
}

crate::open_enum! {
    /// Error classes in the header of an ack.
    pub enum ErrorClass: u8 {
        /// No error.
        NoError = 0x00 => "no_error",
        /// Application relationship.
        ApplicationRelationship = 0x81 => "application_relationship",
        /// Object definition.
        ObjectDefinition = 0x82 => "object_definition",
        /// No resources available.
        NoResources = 0x83 => "no_resources",
        /// Error on service processing.
        ServiceProcessing = 0x84 => "service_processing",
        /// Error on supplies.
        Supplies = 0x85 => "supplies",
        /// Access error.
        Access = 0x87 => "access",
    }
}

crate::open_enum! {
    /// Error codes as one word: the error class and code of an ack header
    /// (`0xd241` = class 0xd2, code 0x41), or the error code of a userdata
    /// response parameter. Only codes an IDS acts on are named (the
    /// refusals snap7 and S7-300/400 CPUs give to protected or unsupported
    /// functions).
    pub enum ErrorCode: u16 {
        /// The service is not implemented on the module (or a frame error).
        NotImplemented = 0x8104 => "not_implemented",
        /// The answer would not fit the negotiated PDU size.
        PduSizeExceeded = 0x8500 => "pdu_size_exceeded",
        /// The requested object does not exist.
        ObjectNotAvailable = 0xd209 => "object_not_available",
        /// The function is not permitted at the current protection level
        /// (know-how / write protection: a password is needed).
        ProtectionLevel = 0xd241 => "protection_level",
        /// The password entered is wrong.
        InvalidPassword = 0xd602 => "invalid_password",
        /// No password to clear.
        NoPasswordToClear = 0xd604 => "no_password_to_clear",
        /// No password to set (legitimation not possible).
        NoPasswordToSet = 0xd605 => "no_password_to_set",
        /// A parameter value is invalid.
        InvalidValue = 0xdc01 => "invalid_value",
    }
}

crate::open_enum! {
    /// Job function codes (first parameter byte of a job and its ack).
    pub enum Function: u8 {
        /// 0x00: CPU services.
        CpuServices = 0x00 => "cpu_services",
        /// 0x01: mode transition.
        ModeTransition = 0x01 => "mode_transition",
        /// 0x04: read variables.
        ReadVar = 0x04 => "read_var",
        /// 0x05: write variables.
        WriteVar = 0x05 => "write_var",
        /// 0x1a: request download (start of a block download).
        RequestDownload = 0x1a => "request_download",
        /// 0x1b: download block.
        DownloadBlock = 0x1b => "download_block",
        /// 0x1c: download ended.
        DownloadEnded = 0x1c => "download_ended",
        /// 0x1d: start upload.
        StartUpload = 0x1d => "start_upload",
        /// 0x1e: upload.
        Upload = 0x1e => "upload",
        /// 0x1f: end upload.
        EndUpload = 0x1f => "end_upload",
        /// 0x28: PLC control (PI service: start, compress, copy RAM to ROM, insert / delete blocks).
        PlcControl = 0x28 => "plc_control",
        /// 0x29: PLC stop.
        PlcStop = 0x29 => "plc_stop",
        /// 0xf0: setup communication.
        SetupCommunication = 0xf0 => "setup_communication",
    }
}

crate::open_enum! {
    /// Memory areas addressed by S7ANY items.
    pub enum Area: u8 {
        /// Data record (RDREC, CP firmware update).
        DataRecord = 0x01 => "data_record",
        /// S7-200 system info.
        SystemInfo200 = 0x03 => "system_info_200",
        /// S7-200 system flags.
        SystemFlags200 = 0x05 => "system_flags_200",
        /// S7-200 analog inputs.
        AnalogInputs200 = 0x06 => "analog_inputs_200",
        /// S7-200 analog outputs.
        AnalogOutputs200 = 0x07 => "analog_outputs_200",
        /// S7 counters (C).
        Counter = 0x1c => "counter",
        /// S7 timers (T).
        Timer = 0x1d => "timer",
        /// IEC counters (S7-200).
        IecCounter200 = 0x1e => "iec_counter_200",
        /// IEC timers (S7-200).
        IecTimer200 = 0x1f => "iec_timer_200",
        /// Direct peripheral access (P).
        Peripheral = 0x80 => "peripheral",
        /// Process inputs (I).
        Inputs = 0x81 => "inputs",
        /// Process outputs (Q).
        Outputs = 0x82 => "outputs",
        /// Flags / merker (M).
        Flags = 0x83 => "flags",
        /// Data blocks (DB).
        DataBlock = 0x84 => "db",
        /// Instance data blocks (DI).
        InstanceDataBlock = 0x85 => "instance_db",
        /// Local data (L).
        Local = 0x86 => "local",
        /// Previous local data (V).
        PreviousLocal = 0x87 => "previous_local",
    }
}

crate::open_enum! {
    /// Syntax ids of a variable specification.
    pub enum SyntaxId: u8 {
        /// S7ANY pointer (area, DB, byte.bit address).
        S7Any = 0x10 => "s7any",
        /// Short parameter.
        ParameterShort = 0x11 => "parameter_short",
        /// Extended parameter.
        ParameterExtended = 0x12 => "parameter_extended",
        /// PBC R_ID.
        PbcRid = 0x13 => "pbc_r_id",
        /// Alarm lock/free dataset.
        AlarmLockFree = 0x15 => "alarm_lockfree",
        /// Alarm indication dataset.
        AlarmInd = 0x16 => "alarm_ind",
        /// Alarm acknowledge dataset.
        AlarmAck = 0x19 => "alarm_ack",
        /// Alarm query request dataset.
        AlarmQueryReq = 0x1a => "alarm_queryreq",
        /// Notify indication dataset.
        NotifyInd = 0x1c => "notify_ind",
        /// Sinumerik NCK access.
        Nck = 0x82 => "nck",
        /// Sinumerik NCK access, metric units.
        NckMetric = 0x83 => "nck_metric",
        /// Sinumerik NCK access, inch units.
        NckInch = 0x84 => "nck_inch",
        /// Drive ES routing.
        DriveEsAny = 0xa2 => "drive_es_any",
        /// DB read (S7-400).
        DbRead = 0xb0 => "dbread",
        /// S7-1200 symbolic access.
        Symbolic1200 = 0xb2 => "s7_1200_symbolic",
    }
}

crate::open_enum! {
    /// Transport size of an S7ANY item (the element type requested).
    pub enum TransportSize: u8 {
        /// BOOL.
        Bit = 0x01 => "bit",
        /// BYTE.
        Byte = 0x02 => "byte",
        /// CHAR.
        Char = 0x03 => "char",
        /// WORD.
        Word = 0x04 => "word",
        /// INT.
        Int = 0x05 => "int",
        /// DWORD.
        Dword = 0x06 => "dword",
        /// DINT.
        Dint = 0x07 => "dint",
        /// REAL.
        Real = 0x08 => "real",
        /// DATE.
        Date = 0x09 => "date",
        /// TIME_OF_DAY.
        TimeOfDay = 0x0a => "tod",
        /// TIME.
        Time = 0x0b => "time",
        /// S5TIME.
        S5Time = 0x0c => "s5time",
        /// DATE_AND_TIME.
        DateAndTime = 0x0f => "date_and_time",
        /// S7 counter.
        Counter = 0x1c => "counter",
        /// S7 timer.
        Timer = 0x1d => "timer",
        /// IEC counter.
        IecCounter = 0x1e => "iec_counter",
        /// IEC timer.
        IecTimer = 0x1f => "iec_timer",
        /// High-speed counter.
        HsCounter = 0x20 => "hs_counter",
    }
}

crate::open_enum! {
    /// Transport size of a data item (how its length is counted).
    pub enum DataTransportSize: u8 {
        /// No data.
        Null = 0x00 => "null",
        /// Bits; length in bits.
        Bit = 0x03 => "bit",
        /// BYTE/WORD/DWORD; length in bits.
        ByteWordDword = 0x04 => "byte_word_dword",
        /// INT; length in bits.
        Integer = 0x05 => "integer",
        /// DINT; length in bytes.
        Dinteger = 0x06 => "dinteger",
        /// REAL; length in bytes.
        Real = 0x07 => "real",
        /// Octet string; length in bytes.
        OctetString = 0x09 => "octet_string",
        /// NCK address 1.
        NckAddress1 = 0x11 => "nck_address1",
        /// NCK address 2.
        NckAddress2 = 0x12 => "nck_address2",
    }
}

impl DataTransportSize {
    /// Whether the length field counts bits rather than bytes.
    pub fn length_in_bits(self) -> bool {
        matches!(
            self,
            DataTransportSize::Bit | DataTransportSize::ByteWordDword | DataTransportSize::Integer
        )
    }
}

crate::open_enum! {
    /// Return code of a data item (and of userdata data).
    pub enum ReturnCode: u8 {
        /// Reserved (used in requests).
        Reserved = 0x00 => "reserved",
        /// Hardware fault.
        HardwareFault = 0x01 => "hardware_fault",
        /// Accessing the object not allowed.
        AccessDenied = 0x03 => "access_denied",
        /// Address out of range.
        InvalidAddress = 0x05 => "invalid_address",
        /// Data type not supported.
        DataTypeNotSupported = 0x06 => "data_type_not_supported",
        /// Data type inconsistent.
        DataTypeInconsistent = 0x07 => "data_type_inconsistent",
        /// Object does not exist.
        ObjectDoesNotExist = 0x0a => "object_does_not_exist",
        /// Success.
        Success = 0xff => "success",
    }
}

crate::open_enum! {
    /// Kind of a userdata PDU (top two bits of the type/group byte).
    pub enum UserdataType: u8 {
        /// Push / indication from the PLC (no request).
        Push = 0 => "push",
        /// Request.
        Request = 1 => "request",
        /// Response.
        Response = 2 => "response",
    }
}

crate::open_enum! {
    /// Userdata function groups (low six bits of the type/group byte).
    pub enum UserdataGroup: u8 {
        /// Mode transition (pushed operating mode changes).
        ModeTransition = 0x00 => "mode_transition",
        /// Programmer commands (test and installation functions).
        ProgrammerCommands = 0x01 => "programmer_commands",
        /// Cyclic data.
        CyclicData = 0x02 => "cyclic_data",
        /// Block functions.
        BlockFunctions = 0x03 => "block_functions",
        /// CPU functions (SZL, alarms and messages).
        CpuFunctions = 0x04 => "cpu_functions",
        /// Security (PLC password).
        Security = 0x05 => "security",
        /// Programmable block communication (BSEND/BRECV).
        PbcBsend = 0x06 => "pbc_bsend",
        /// Time functions.
        TimeFunctions = 0x07 => "time_functions",
        /// Data record routing.
        DataRecordRouting = 0x20 => "data_record_routing",
        /// NC programming (Sinumerik).
        NcProgramming = 0x3f => "nc_programming",
    }
}

crate::open_enum! {
    /// Mode transition group: the mode announced.
    pub enum ModeSubfunction: u8 {
        /// STOP.
        Stop = 0x00 => "stop",
        /// Warm restart.
        WarmRestart = 0x01 => "warm_restart",
        /// RUN.
        Run = 0x02 => "run",
        /// Hot restart.
        HotRestart = 0x03 => "hot_restart",
        /// HOLD.
        Hold = 0x04 => "hold",
        /// Cold restart.
        ColdRestart = 0x06 => "cold_restart",
        /// RUN (redundant).
        RunRedundant = 0x09 => "run_redundant",
        /// Link up.
        LinkUp = 0x0b => "link_up",
        /// Update.
        Update = 0x0c => "update",
    }
}

crate::open_enum! {
    /// Programmer commands (test and installation functions).
    pub enum ProgSubfunction: u8 {
        /// Block status.
        BlockStatus = 0x01 => "block_status",
        /// Variable status.
        VariableStatus = 0x02 => "variable_status",
        /// Output ISTACK.
        OutputIstack = 0x03 => "output_istack",
        /// Output BSTACK.
        OutputBstack = 0x04 => "output_bstack",
        /// Output LSTACK.
        OutputLstack = 0x05 => "output_lstack",
        /// Time measurement.
        TimeMeasurement = 0x06 => "time_measurement",
        /// Force selection.
        ForceSelection = 0x07 => "force_selection",
        /// Modify variable.
        ModifyVariable = 0x08 => "modify_variable",
        /// Force.
        Force = 0x09 => "force",
        /// Breakpoint.
        Breakpoint = 0x0a => "breakpoint",
        /// Exit HOLD.
        ExitHold = 0x0b => "exit_hold",
        /// Memory reset.
        MemoryReset = 0x0c => "memory_reset",
        /// Disable job.
        DisableJob = 0x0d => "disable_job",
        /// Enable job.
        EnableJob = 0x0e => "enable_job",
        /// Delete job.
        DeleteJob = 0x0f => "delete_job",
        /// Read job list.
        ReadJobList = 0x10 => "read_job_list",
        /// Read job.
        ReadJob = 0x11 => "read_job",
        /// Replace job.
        ReplaceJob = 0x12 => "replace_job",
        /// Block status v2.
        BlockStatusV2 = 0x13 => "block_status_v2",
        /// Flash LED.
        FlashLed = 0x16 => "flash_led",
    }
}

crate::open_enum! {
    /// Cyclic data subfunctions.
    pub enum CyclicSubfunction: u8 {
        /// Cyclic transfer.
        CyclicTransfer = 0x01 => "cyclic_transfer",
        /// Unsubscribe.
        Unsubscribe = 0x04 => "unsubscribe",
        /// Change-driven transfer.
        ChangeDrivenTransfer = 0x05 => "change_driven_transfer",
        /// Change-driven transfer, modify.
        ChangeDrivenTransferModify = 0x07 => "change_driven_transfer_modify",
        /// RDREC.
        Rdrec = 0x08 => "rdrec",
    }
}

crate::open_enum! {
    /// Block function subfunctions.
    pub enum BlockSubfunction: u8 {
        /// List blocks (count per type).
        ListBlocks = 0x01 => "list_blocks",
        /// List blocks of one type.
        ListBlocksOfType = 0x02 => "list_blocks_of_type",
        /// Get block info.
        BlockInfo = 0x03 => "block_info",
    }
}

crate::open_enum! {
    /// CPU function subfunctions.
    pub enum CpuSubfunction: u8 {
        /// Read SZL (system status list).
        ReadSzl = 0x01 => "read_szl",
        /// Message service.
        MessageService = 0x02 => "message_service",
        /// Diagnostic message.
        DiagnosticMessage = 0x03 => "diagnostic_message",
        /// ALARM_8 indication.
        Alarm8Indication = 0x05 => "alarm8_indication",
        /// NOTIFY indication.
        NotifyIndication = 0x06 => "notify_indication",
        /// ALARM_8 lock.
        Alarm8Lock = 0x07 => "alarm8_lock",
        /// ALARM_8 unlock.
        Alarm8Unlock = 0x08 => "alarm8_unlock",
        /// SCAN indication.
        ScanIndication = 0x09 => "scan_indication",
        /// ALARM ack.
        AlarmAck = 0x0b => "alarm_ack",
        /// ALARM ack indication.
        AlarmAckIndication = 0x0c => "alarm_ack_indication",
        /// ALARM lock indication.
        AlarmLockIndication = 0x0d => "alarm_lock_indication",
        /// ALARM unlock indication.
        AlarmUnlockIndication = 0x0e => "alarm_unlock_indication",
        /// AR_SEND indication.
        ArSendIndication = 0x10 => "ar_send_indication",
        /// ALARM_SQ indication.
        AlarmSqIndication = 0x11 => "alarm_sq_indication",
        /// ALARM_S indication.
        AlarmSIndication = 0x12 => "alarm_s_indication",
        /// ALARM query.
        AlarmQuery = 0x13 => "alarm_query",
        /// NOTIFY_8 indication.
        Notify8Indication = 0x16 => "notify8_indication",
    }
}

crate::open_enum! {
    /// Security subfunctions.
    pub enum SecuritySubfunction: u8 {
        /// Set (send) the PLC password.
        PlcPassword = 0x01 => "plc_password",
        /// Clear the session password.
        ClearPassword = 0x02 => "clear_password",
    }
}

crate::open_enum! {
    /// Time function subfunctions.
    pub enum TimeSubfunction: u8 {
        /// Read clock.
        ReadClock = 0x01 => "read_clock",
        /// Set clock.
        SetClock = 0x02 => "set_clock",
        /// Read clock (following).
        ReadClockFollowing = 0x03 => "read_clock_following",
        /// Set clock (variant 2).
        SetClock2 = 0x04 => "set_clock_2",
    }
}

/// The name of a userdata subfunction within its group, when known.
pub fn subfunction_name(group: UserdataGroup, subfunction: u8) -> Option<&'static str> {
    match group {
        UserdataGroup::ModeTransition => ModeSubfunction::from(subfunction).name(),
        UserdataGroup::ProgrammerCommands => ProgSubfunction::from(subfunction).name(),
        UserdataGroup::CyclicData => CyclicSubfunction::from(subfunction).name(),
        UserdataGroup::BlockFunctions => BlockSubfunction::from(subfunction).name(),
        UserdataGroup::CpuFunctions => CpuSubfunction::from(subfunction).name(),
        UserdataGroup::Security => SecuritySubfunction::from(subfunction).name(),
        UserdataGroup::TimeFunctions => TimeSubfunction::from(subfunction).name(),
        _ => None,
    }
}

crate::open_enum! {
    /// Block types as transferred in ASCII ("08" = OB, "0A" = DB, …).
    pub enum BlockType: u16 {
        /// Organisation block.
        Ob = 0x3038 => "ob",
        /// CMod.
        Cmod = 0x3039 => "cmod",
        /// Data block.
        Db = 0x3041 => "db",
        /// System data block.
        Sdb = 0x3042 => "sdb",
        /// Function.
        Fc = 0x3043 => "fc",
        /// System function.
        Sfc = 0x3044 => "sfc",
        /// Function block.
        Fb = 0x3045 => "fb",
        /// System function block.
        Sfb = 0x3046 => "sfb",
    }
}

impl BlockType {
    /// The block type from its numeric form (0x08 = OB, 0x0a = DB, …), as
    /// used in block info answers: the two hex digits in ASCII.
    pub fn from_numeric(value: u8) -> BlockType {
        const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
        let hi = DIGITS[usize::from(value >> 4)];
        let lo = DIGITS[usize::from(value & 0x0f)];
        BlockType::from(u16::from_be_bytes([hi, lo]))
    }
}

/// Name of a destination file system letter in a block file name.
pub fn file_system_name(letter: u8) -> Option<&'static str> {
    match letter {
        b'P' => Some("passive"),
        b'A' => Some("active"),
        b'B' => Some("active_and_passive"),
        _ => None,
    }
}

crate::open_enum! {
    /// Block languages (block info answers).
    pub enum BlockLanguage: u8 {
        /// Not defined.
        NotDefined = 0x00 => "not_defined",
        /// Statement list.
        Awl = 0x01 => "awl",
        /// Ladder.
        Kop = 0x02 => "kop",
        /// Function block diagram.
        Fup = 0x03 => "fup",
        /// SCL.
        Scl = 0x04 => "scl",
        /// Data block.
        Db = 0x05 => "db",
        /// GRAPH.
        Graph = 0x06 => "graph",
        /// System data block.
        Sdb = 0x07 => "sdb",
        /// DB created by the PLC program.
        CpuDb = 0x08 => "cpu_db",
        /// SDB after overall reset.
        SdbAfterReset = 0x11 => "sdb_after_reset",
        /// SDB (routing).
        SdbRouting = 0x12 => "sdb_routing",
        /// Encrypted (S7 block privacy).
        Encrypted = 0x29 => "encrypt",
    }
}

/// Name of an SZL (system status list) by its partial list number (low byte
/// of the SZL id), when known.
pub fn szl_name(id: u16) -> Option<&'static str> {
    Some(match id & 0x00ff {
        0x00 => "szl_ids",
        0x11 => "module_identification",
        0x12 => "cpu_characteristics",
        0x13 => "user_memory_areas",
        0x14 => "system_areas",
        0x15 => "block_types",
        0x19 => "module_led_status",
        0x1c => "component_identification",
        0x22 => "interrupt_status",
        0x24 => "operating_mode",
        0x25 => "process_image_partitions",
        0x31 => "communication_capabilities",
        0x32 => "communication_status",
        0x37 => "ethernet_details",
        0x74 => "led_status",
        0x91 => "module_status",
        0x92 => "rack_status",
        0x94 => "rack_status_ext",
        0x96 => "module_status_pn",
        0xa0 => "diagnostic_buffer",
        0xb1 => "module_diagnostic_info",
        0xb2 => "module_diagnostic_record_physical",
        0xb3 => "module_diagnostic_record_logical",
        0xb4 => "diagnostic_data_dp_slave",
        _ => return None,
    })
}

crate::open_enum! {
    /// S7comm-plus protocol versions (the byte after 0x72).
    pub enum PlusVersion: u8 {
        /// V1: connection setup (CreateObject of the session).
        V1 = 0x01 => "v1",
        /// V2: data, without integrity part (S7-1200, early S7-1500).
        V2 = 0x02 => "v2",
        /// V3: data with an integrity part (S7-1500 firmware 1.5 and later).
        V3 = 0x03 => "v3",
        /// System / keep-alive.
        KeepAlive = 0xfe => "keep_alive",
        /// Keep-alive (older firmware).
        KeepAlive2 = 0xff => "keep_alive_2",
    }
}

crate::open_enum! {
    /// S7comm-plus opcodes.
    pub enum PlusOpcode: u8 {
        /// Response variant seen with V13 HMIs.
        Response2 = 0x02 => "response2",
        /// Request.
        Request = 0x31 => "request",
        /// Response.
        Response = 0x32 => "response",
        /// Notification (subscriptions, alarms).
        Notification = 0x33 => "notification",
    }
}

crate::open_enum! {
    /// S7comm-plus function codes.
    pub enum PlusFunction: u16 {
        /// Error.
        Error = 0x04b1 => "error",
        /// Explore (browse the object tree).
        Explore = 0x04bb => "explore",
        /// Create object (also: start a session).
        CreateObject = 0x04ca => "create_object",
        /// Delete object (also: end a session).
        DeleteObject = 0x04d4 => "delete_object",
        /// Set variable.
        SetVariable = 0x04f2 => "set_variable",
        /// Get variable.
        GetVariable = 0x04fc => "get_variable",
        /// Add link.
        AddLink = 0x0506 => "add_link",
        /// Remove link.
        RemoveLink = 0x051a => "remove_link",
        /// Get link.
        GetLink = 0x0524 => "get_link",
        /// Set multiple variables.
        SetMultiVariables = 0x0542 => "set_multi_variables",
        /// Get multiple variables.
        GetMultiVariables = 0x054c => "get_multi_variables",
        /// Begin sequence.
        BeginSequence = 0x0556 => "begin_sequence",
        /// End sequence.
        EndSequence = 0x0560 => "end_sequence",
        /// Invoke.
        Invoke = 0x056b => "invoke",
        /// Set variable substreamed.
        SetVarSubstreamed = 0x057c => "set_var_substreamed",
        /// Get variable substreamed.
        GetVarSubstreamed = 0x0586 => "get_var_substreamed",
        /// Get variables address.
        GetVariablesAddress = 0x0590 => "get_variables_address",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_credit_bits_of_tpdu_codes() {
        assert_eq!(TpduCode::of(0xe0), TpduCode::Cr);
        assert_eq!(TpduCode::of(0xe3), TpduCode::Cr);
        assert_eq!(TpduCode::of(0xd0), TpduCode::Cc);
        assert_eq!(TpduCode::of(0xf0), TpduCode::Dt);
        assert_eq!(TpduCode::of(0x80), TpduCode::Dr);
        assert_eq!(TpduCode::of(0x81), TpduCode::Unknown(0x81));
    }

    #[test]
    fn converts_numeric_block_types() {
        assert_eq!(BlockType::from_numeric(0x08), BlockType::Ob);
        assert_eq!(BlockType::from_numeric(0x0a), BlockType::Db);
        assert_eq!(BlockType::from_numeric(0x0f), BlockType::Sfb);
        assert_eq!(BlockType::from_numeric(0x42), BlockType::Unknown(0x3432));
    }

    #[test]
    fn names_subfunctions_per_group() {
        assert_eq!(
            subfunction_name(UserdataGroup::CpuFunctions, 1),
            Some("read_szl")
        );
        assert_eq!(
            subfunction_name(UserdataGroup::BlockFunctions, 3),
            Some("block_info")
        );
        assert_eq!(
            subfunction_name(UserdataGroup::Security, 2),
            Some("clear_password")
        );
        assert_eq!(subfunction_name(UserdataGroup::PbcBsend, 1), None);
        assert_eq!(szl_name(0x0111), Some("module_identification"));
        assert_eq!(szl_name(0x001c), Some("component_identification"));
    }
}
