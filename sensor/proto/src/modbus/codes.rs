//! Modbus code points (Modbus Application Protocol Specification V1.1b3).

crate::open_enum! {
    /// Public function codes, plus the vendor codes an IDS must recognise.
    pub enum FunctionCode: u8 {
        /// 0x01.
        ReadCoils = 1 => "read_coils",
        /// 0x02.
        ReadDiscreteInputs = 2 => "read_discrete_inputs",
        /// 0x03.
        ReadHoldingRegisters = 3 => "read_holding_registers",
        /// 0x04.
        ReadInputRegisters = 4 => "read_input_registers",
        /// 0x05.
        WriteSingleCoil = 5 => "write_single_coil",
        /// 0x06.
        WriteSingleRegister = 6 => "write_single_register",
        /// 0x07 (serial line only).
        ReadExceptionStatus = 7 => "read_exception_status",
        /// 0x08 (serial line only) with a sub-function.
        Diagnostics = 8 => "diagnostics",
        /// 0x0B (serial line only).
        GetCommEventCounter = 11 => "get_comm_event_counter",
        /// 0x0C (serial line only).
        GetCommEventLog = 12 => "get_comm_event_log",
        /// 0x0F.
        WriteMultipleCoils = 15 => "write_multiple_coils",
        /// 0x10.
        WriteMultipleRegisters = 16 => "write_multiple_registers",
        /// 0x11 (serial line only).
        ReportServerId = 17 => "report_server_id",
        /// 0x14.
        ReadFileRecord = 20 => "read_file_record",
        /// 0x15.
        WriteFileRecord = 21 => "write_file_record",
        /// 0x16.
        MaskWriteRegister = 22 => "mask_write_register",
        /// 0x17.
        ReadWriteMultipleRegisters = 23 => "read_write_multiple_registers",
        /// 0x18.
        ReadFifoQueue = 24 => "read_fifo_queue",
        /// 0x2B with a MEI type.
        EncapsulatedInterfaceTransport = 43 => "encapsulated_interface_transport",
        /// 0x5A: Schneider Electric UMAS (Unity) programming and control.
        Umas = 90 => "umas",
        /// 0x7D: Modicon programming (legacy Concept/ProWORX).
        ModiconProgram = 125 => "modicon_program",
        /// 0x7E: Modicon programming (legacy Concept/ProWORX).
        ModiconProgram2 = 126 => "modicon_program_2",
    }
}

/// What a function does to the server's data, for rules and summaries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Reads data or status.
    Read,
    /// Changes data.
    Write,
    /// Reads and writes in one request (function 23).
    ReadWrite,
    /// Serial-line diagnostics and counters (function 8, 11, 12).
    Diagnostics,
    /// Device identification and server id (17, 43/14).
    Identification,
    /// Vendor programming, configuration or control (UMAS, Modicon).
    Program,
    /// User-defined or unknown.
    Other,
}

impl Access {
    /// snake_case name.
    pub fn name(self) -> &'static str {
        match self {
            Access::Read => "read",
            Access::Write => "write",
            Access::ReadWrite => "read_write",
            Access::Diagnostics => "diagnostics",
            Access::Identification => "identification",
            Access::Program => "program",
            Access::Other => "other",
        }
    }
}

impl FunctionCode {
    /// What the function does.
    pub fn access(self) -> Access {
        use FunctionCode::*;
        match self {
            ReadCoils | ReadDiscreteInputs | ReadHoldingRegisters | ReadInputRegisters
            | ReadExceptionStatus | ReadFileRecord | ReadFifoQueue => Access::Read,
            WriteSingleCoil
            | WriteSingleRegister
            | WriteMultipleCoils
            | WriteMultipleRegisters
            | WriteFileRecord
            | MaskWriteRegister => Access::Write,
            ReadWriteMultipleRegisters => Access::ReadWrite,
            Diagnostics | GetCommEventCounter | GetCommEventLog => Access::Diagnostics,
            ReportServerId | EncapsulatedInterfaceTransport => Access::Identification,
            Umas | ModiconProgram | ModiconProgram2 => Access::Program,
            Unknown(_) => Access::Other,
        }
    }

    /// Whether the code is in a user-defined range (65–72, 100–110).
    pub fn is_user_defined(self) -> bool {
        matches!(self.raw(), 65..=72 | 100..=110)
    }
}

crate::open_enum! {
    /// Sub-functions of function 8 (diagnostics).
    pub enum DiagnosticSubfunction: u16 {
        /// 0x00: echo the request data.
        ReturnQueryData = 0 => "return_query_data",
        /// 0x01: restart the serial port, leave listen-only mode.
        RestartCommunications = 1 => "restart_communications",
        /// 0x02.
        ReturnDiagnosticRegister = 2 => "return_diagnostic_register",
        /// 0x03.
        ChangeAsciiInputDelimiter = 3 => "change_ascii_input_delimiter",
        /// 0x04: the server stops answering (a denial of service).
        ForceListenOnlyMode = 4 => "force_listen_only_mode",
        /// 0x0A.
        ClearCountersAndDiagnosticRegister = 10 => "clear_counters_and_diagnostic_register",
        /// 0x0B.
        ReturnBusMessageCount = 11 => "return_bus_message_count",
        /// 0x0C.
        ReturnBusCommunicationErrorCount = 12 => "return_bus_communication_error_count",
        /// 0x0D.
        ReturnBusExceptionErrorCount = 13 => "return_bus_exception_error_count",
        /// 0x0E.
        ReturnServerMessageCount = 14 => "return_server_message_count",
        /// 0x0F.
        ReturnServerNoResponseCount = 15 => "return_server_no_response_count",
        /// 0x10.
        ReturnServerNakCount = 16 => "return_server_nak_count",
        /// 0x11.
        ReturnServerBusyCount = 17 => "return_server_busy_count",
        /// 0x12.
        ReturnBusCharacterOverrunCount = 18 => "return_bus_character_overrun_count",
        /// 0x14.
        ClearOverrunCounterAndFlag = 20 => "clear_overrun_counter_and_flag",
    }
}

crate::open_enum! {
    /// Exception codes of an exception response.
    pub enum ExceptionCode: u8 {
        /// 0x01.
        IllegalFunction = 1 => "illegal_function",
        /// 0x02.
        IllegalDataAddress = 2 => "illegal_data_address",
        /// 0x03.
        IllegalDataValue = 3 => "illegal_data_value",
        /// 0x04.
        ServerDeviceFailure = 4 => "server_device_failure",
        /// 0x05.
        Acknowledge = 5 => "acknowledge",
        /// 0x06.
        ServerDeviceBusy = 6 => "server_device_busy",
        /// 0x07.
        NegativeAcknowledge = 7 => "negative_acknowledge",
        /// 0x08.
        MemoryParityError = 8 => "memory_parity_error",
        /// 0x0A.
        GatewayPathUnavailable = 10 => "gateway_path_unavailable",
        /// 0x0B.
        GatewayTargetFailedToRespond = 11 => "gateway_target_device_failed_to_respond",
    }
}

crate::open_enum! {
    /// MEI types of function 43.
    pub enum MeiType: u8 {
        /// 0x0D: CANopen general reference.
        CanopenGeneralReference = 13 => "canopen_general_reference",
        /// 0x0E: read device identification.
        ReadDeviceIdentification = 14 => "read_device_identification",
    }
}

crate::open_enum! {
    /// Read device identification access codes.
    pub enum DeviceIdCode: u8 {
        /// Basic stream (objects 0–2).
        Basic = 1 => "basic",
        /// Regular stream (objects 0–6).
        Regular = 2 => "regular",
        /// Extended stream (objects 0x80–0xFF).
        Extended = 3 => "extended",
        /// One specific object.
        Individual = 4 => "individual",
    }
}

crate::open_enum! {
    /// Device identification object ids.
    pub enum DeviceObjectId: u8 {
        /// 0x00.
        VendorName = 0 => "vendor_name",
        /// 0x01.
        ProductCode = 1 => "product_code",
        /// 0x02.
        MajorMinorRevision = 2 => "major_minor_revision",
        /// 0x03.
        VendorUrl = 3 => "vendor_url",
        /// 0x04.
        ProductName = 4 => "product_name",
        /// 0x05.
        ModelName = 5 => "model_name",
        /// 0x06.
        UserApplicationName = 6 => "user_application_name",
    }
}

crate::open_enum! {
    /// Well-known UMAS (function 90) sub-codes, as published by Schneider
    /// Electric researchers; others stay `Unknown`.
    pub enum UmasCode: u8 {
        /// 0x01.
        InitCommunication = 0x01 => "init_comm",
        /// 0x02.
        ReadId = 0x02 => "read_id",
        /// 0x03.
        ReadProjectInfo = 0x03 => "read_project_info",
        /// 0x04.
        ReadPlcInfo = 0x04 => "read_plc_info",
        /// 0x06.
        ReadCardInfo = 0x06 => "read_card_info",
        /// 0x0A.
        RepeatData = 0x0a => "repeat",
        /// 0x10.
        TakePlcReservation = 0x10 => "take_plc_reservation",
        /// 0x11.
        ReleasePlcReservation = 0x11 => "release_plc_reservation",
        /// 0x12.
        KeepAlive = 0x12 => "keep_alive",
        /// 0x20.
        ReadMemoryBlock = 0x20 => "read_memory_block",
        /// 0x22.
        ReadVariables = 0x22 => "read_variables",
        /// 0x23.
        WriteVariables = 0x23 => "write_variables",
        /// 0x24.
        ReadCoilsRegisters = 0x24 => "read_coils_registers",
        /// 0x25.
        WriteCoilsRegisters = 0x25 => "write_coils_registers",
        /// 0x30.
        InitializeUpload = 0x30 => "initialize_upload",
        /// 0x31.
        UploadBlock = 0x31 => "upload_block",
        /// 0x32.
        EndStrategyUpload = 0x32 => "end_strategy_upload",
        /// 0x33.
        InitializeDownload = 0x33 => "initialize_download",
        /// 0x34.
        DownloadBlock = 0x34 => "download_block",
        /// 0x35.
        EndStrategyDownload = 0x35 => "end_strategy_download",
        /// 0x39.
        ReadEthMasterData = 0x39 => "read_eth_master_data",
        /// 0x40.
        StartPlc = 0x40 => "start_plc",
        /// 0x41.
        StopPlc = 0x41 => "stop_plc",
        /// 0x50.
        MonitorPlc = 0x50 => "monitor_plc",
        /// 0x58.
        CheckPlc = 0x58 => "check_plc",
        /// 0x70.
        ReadIoObject = 0x70 => "read_io_object",
        /// 0x71.
        WriteIoObject = 0x71 => "write_io_object",
        /// 0x73.
        GetStatusModule = 0x73 => "get_status_module",
        /// 0xFD: error response.
        Error = 0xfd => "error",
        /// 0xFE: OK response.
        Ok = 0xfe => "ok",
    }
}
