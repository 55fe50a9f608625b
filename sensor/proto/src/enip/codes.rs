//! EtherNet/IP and CIP code points (ODVA, The CIP Networks Library, volumes 1
//! and 2; Rockwell's Logix 5000 data access manual for the Logix services).

crate::open_enum! {
    /// Encapsulation commands (volume 2, table 2-3.2).
    pub enum Command: u16 {
        /// 0x0000: no reply; keeps a TCP connection alive.
        Nop = 0x0000 => "nop",
        /// 0x0004: which encapsulation services the target supports.
        ListServices = 0x0004 => "list_services",
        /// 0x0063: the target's identity (often a UDP broadcast).
        ListIdentity = 0x0063 => "list_identity",
        /// 0x0064: non-CIP interfaces of the target.
        ListInterfaces = 0x0064 => "list_interfaces",
        /// 0x0065: opens a session; the reply carries its handle.
        RegisterSession = 0x0065 => "register_session",
        /// 0x0066: ends a session (no reply).
        UnregisterSession = 0x0066 => "unregister_session",
        /// 0x006F: an unconnected (request/reply) CIP message.
        SendRrData = 0x006F => "send_rr_data",
        /// 0x0070: a connected CIP message (class 3).
        SendUnitData = 0x0070 => "send_unit_data",
        /// 0x0072: status indication.
        IndicateStatus = 0x0072 => "indicate_status",
        /// 0x0073: cancels a pending request.
        Cancel = 0x0073 => "cancel",
    }
}

impl Command {
    /// Whether the command is valid only inside a registered session.
    pub fn needs_session(self) -> bool {
        matches!(
            self,
            Command::SendRrData | Command::SendUnitData | Command::UnregisterSession
        )
    }

    /// Whether the target never answers the command.
    pub fn has_no_reply(self) -> bool {
        matches!(
            self,
            Command::Nop | Command::UnregisterSession | Command::SendUnitData
        )
    }
}

crate::open_enum! {
    /// Encapsulation status (volume 2, table 2-3.3).
    pub enum EncapStatus: u32 {
        /// 0x0000.
        Success = 0x0000 => "success",
        /// 0x0001: the sender used an invalid or unsupported command.
        InvalidCommand = 0x0001 => "invalid_command",
        /// 0x0002: the receiver lacks memory for the command.
        InsufficientMemory = 0x0002 => "insufficient_memory",
        /// 0x0003: poorly formed or incorrect data.
        IncorrectData = 0x0003 => "incorrect_data",
        /// 0x0064: invalid session handle.
        InvalidSessionHandle = 0x0064 => "invalid_session_handle",
        /// 0x0065: invalid length.
        InvalidLength = 0x0065 => "invalid_length",
        /// 0x0069: unsupported encapsulation protocol revision.
        UnsupportedProtocolRevision = 0x0069 => "unsupported_protocol_revision",
        /// 0x006A: the CIP service is not allowed on this port.
        EncapsulatedCipNotAllowed = 0x006A => "encapsulated_cip_not_allowed",
    }
}

crate::open_enum! {
    /// Common Packet Format item types (volume 2, table 2-6.3).
    pub enum ItemType: u16 {
        /// 0x0000: unconnected messages' address item.
        NullAddress = 0x0000 => "null_address",
        /// 0x000C: a ListIdentity reply's identity.
        ListIdentity = 0x000C => "list_identity",
        /// 0x0086: CIP Security information (ListIdentity).
        CipSecurityInfo = 0x0086 => "cip_security_info",
        /// 0x00A1: connected address (connection id).
        ConnectedAddress = 0x00A1 => "connected_address",
        /// 0x00B1: connected data (sequence count, then CIP).
        ConnectedData = 0x00B1 => "connected_data",
        /// 0x00B2: unconnected data (CIP).
        UnconnectedData = 0x00B2 => "unconnected_data",
        /// 0x0100: a ListServices reply's service.
        ListServices = 0x0100 => "list_services",
        /// 0x8000: socket address, originator to target.
        SockaddrOToT = 0x8000 => "sockaddr_o_t",
        /// 0x8001: socket address, target to originator.
        SockaddrTToO = 0x8001 => "sockaddr_t_o",
        /// 0x8002: sequenced address (connection id and sequence number), implicit I/O.
        SequencedAddress = 0x8002 => "sequenced_address",
    }
}

crate::open_enum! {
    /// CIP object classes otwatch names (volume 1, chapter 5; Logix classes
    /// from Rockwell's publications).
    pub enum Class: u32 {
        /// 0x01.
        Identity = 0x01 => "identity",
        /// 0x02.
        MessageRouter = 0x02 => "message_router",
        /// 0x03.
        DeviceNet = 0x03 => "devicenet",
        /// 0x04.
        Assembly = 0x04 => "assembly",
        /// 0x05.
        Connection = 0x05 => "connection",
        /// 0x06.
        ConnectionManager = 0x06 => "connection_manager",
        /// 0x07.
        Register = 0x07 => "register",
        /// 0x0F.
        Parameter = 0x0F => "parameter",
        /// 0x37.
        File = 0x37 => "file",
        /// 0x43.
        TimeSync = 0x43 => "time_sync",
        /// 0x47.
        DeviceLevelRing = 0x47 => "device_level_ring",
        /// 0x48.
        QoS = 0x48 => "qos",
        /// 0x67: PCCC (DF1 commands of PLC-5 and SLC carried in CIP).
        Pccc = 0x67 => "pccc",
        /// 0x6B: Logix symbol (tag) object.
        Symbol = 0x6B => "symbol",
        /// 0x6C: Logix template (structure layout) object.
        Template = 0x6C => "template",
        /// 0x8B: Logix wall clock time.
        WallClockTime = 0x8B => "wall_clock_time",
        /// 0xF4.
        Port = 0xF4 => "port",
        /// 0xF5.
        TcpIpInterface = 0xF5 => "tcp_ip_interface",
        /// 0xF6.
        EthernetLink = 0xF6 => "ethernet_link",
    }
}

crate::open_enum! {
    /// CIP common services (volume 1, appendix A), the same for every class.
    pub enum CommonService: u8 {
        /// 0x01.
        GetAttributesAll = 0x01 => "get_attributes_all",
        /// 0x02.
        SetAttributesAll = 0x02 => "set_attributes_all",
        /// 0x03.
        GetAttributeList = 0x03 => "get_attribute_list",
        /// 0x04.
        SetAttributeList = 0x04 => "set_attribute_list",
        /// 0x05.
        Reset = 0x05 => "reset",
        /// 0x06.
        Start = 0x06 => "start",
        /// 0x07.
        Stop = 0x07 => "stop",
        /// 0x08.
        Create = 0x08 => "create",
        /// 0x09.
        Delete = 0x09 => "delete",
        /// 0x0A: several requests in one.
        MultipleServicePacket = 0x0A => "multiple_service_packet",
        /// 0x0D.
        ApplyAttributes = 0x0D => "apply_attributes",
        /// 0x0E.
        GetAttributeSingle = 0x0E => "get_attribute_single",
        /// 0x10.
        SetAttributeSingle = 0x10 => "set_attribute_single",
        /// 0x11.
        FindNextObjectInstance = 0x11 => "find_next_object_instance",
        /// 0x14: the reply service of an error.
        ErrorResponse = 0x14 => "error_response",
        /// 0x15.
        Restore = 0x15 => "restore",
        /// 0x16.
        Save = 0x16 => "save",
        /// 0x17.
        NoOperation = 0x17 => "no_operation",
        /// 0x18.
        GetMember = 0x18 => "get_member",
        /// 0x19.
        SetMember = 0x19 => "set_member",
        /// 0x1A.
        InsertMember = 0x1A => "insert_member",
        /// 0x1B.
        RemoveMember = 0x1B => "remove_member",
        /// 0x1C.
        GroupSync = 0x1C => "group_sync",
    }
}

/// The reply bit of a CIP service byte.
pub const REPLY_BIT: u8 = 0x80;

/// The name of `service` (without the reply bit) sent to `class`: a common
/// service, or one specific to the class (0x4B..0x63 mean different things
/// to different objects). `None` when otwatch does not know it.
pub fn service_name(class: Option<u32>, service: u8) -> Option<&'static str> {
    let service = service & !REPLY_BIT;
    if let Some(name) = CommonService::from(service).name() {
        return Some(name);
    }
    let specific = match class.map(Class::from) {
        Some(Class::ConnectionManager) => match service {
            0x4E => "forward_close",
            0x52 => "unconnected_send",
            0x54 => "forward_open",
            0x56 => "get_connection_data",
            0x57 => "search_connection_data",
            0x5A => "get_connection_owner",
            0x5B => "large_forward_open",
            _ => return None,
        },
        Some(Class::File) => match service {
            0x4B => "initiate_upload",
            0x4C => "initiate_download",
            0x4D => "initiate_partial_read",
            0x4E => "initiate_partial_write",
            0x4F => "upload_transfer",
            0x50 => "download_transfer",
            0x51 => "clear_file",
            _ => return None,
        },
        Some(Class::Pccc) => match service {
            0x4B => "execute_pccc",
            _ => return None,
        },
        // Logix tag services: to a symbol instance, or to a tag by name.
        Some(Class::Symbol) => match service {
            0x4C => "read_tag",
            0x4D => "write_tag",
            0x4E => "read_modify_write_tag",
            0x52 => "read_tag_fragmented",
            0x53 => "write_tag_fragmented",
            0x55 => "get_instance_attribute_list",
            _ => return None,
        },
        Some(Class::Template) => match service {
            0x4C => "read_template",
            _ => return None,
        },
        // Reads the interface and media counters and clears them.
        Some(Class::EthernetLink) => match service {
            0x4C => "get_and_clear",
            _ => return None,
        },
        _ => return None,
    };
    Some(specific)
}

crate::open_enum! {
    /// CIP general status (volume 1, appendix B).
    pub enum GeneralStatus: u8 {
        /// 0x00.
        Success = 0x00 => "success",
        /// 0x01: connection related failure (the extended status says which).
        ConnectionFailure = 0x01 => "connection_failure",
        /// 0x02.
        ResourceUnavailable = 0x02 => "resource_unavailable",
        /// 0x03.
        InvalidParameterValue = 0x03 => "invalid_parameter_value",
        /// 0x04: the path could not be parsed.
        PathSegmentError = 0x04 => "path_segment_error",
        /// 0x05: the path names an object the device does not have.
        PathDestinationUnknown = 0x05 => "path_destination_unknown",
        /// 0x06: only part of the data was transferred.
        PartialTransfer = 0x06 => "partial_transfer",
        /// 0x07.
        ConnectionLost = 0x07 => "connection_lost",
        /// 0x08.
        ServiceNotSupported = 0x08 => "service_not_supported",
        /// 0x09.
        InvalidAttributeValue = 0x09 => "invalid_attribute_value",
        /// 0x0A.
        AttributeListError = 0x0A => "attribute_list_error",
        /// 0x0B.
        AlreadyInRequestedMode = 0x0B => "already_in_requested_mode",
        /// 0x0C.
        ObjectStateConflict = 0x0C => "object_state_conflict",
        /// 0x0D.
        ObjectAlreadyExists = 0x0D => "object_already_exists",
        /// 0x0E.
        AttributeNotSettable = 0x0E => "attribute_not_settable",
        /// 0x0F.
        PrivilegeViolation = 0x0F => "privilege_violation",
        /// 0x10: e.g. a write while the controller is in run mode.
        DeviceStateConflict = 0x10 => "device_state_conflict",
        /// 0x11.
        ReplyDataTooLarge = 0x11 => "reply_data_too_large",
        /// 0x12.
        FragmentationOfPrimitive = 0x12 => "fragmentation_of_primitive",
        /// 0x13.
        NotEnoughData = 0x13 => "not_enough_data",
        /// 0x14.
        AttributeNotSupported = 0x14 => "attribute_not_supported",
        /// 0x15.
        TooMuchData = 0x15 => "too_much_data",
        /// 0x16.
        ObjectDoesNotExist = 0x16 => "object_does_not_exist",
        /// 0x17.
        FragmentationNotInProgress = 0x17 => "fragmentation_not_in_progress",
        /// 0x18.
        NoStoredAttributeData = 0x18 => "no_stored_attribute_data",
        /// 0x19.
        StoreOperationFailure = 0x19 => "store_operation_failure",
        /// 0x1A.
        RequestTooLarge = 0x1A => "routing_failure_request_too_large",
        /// 0x1B.
        ResponseTooLarge = 0x1B => "routing_failure_response_too_large",
        /// 0x1C.
        MissingAttributeListEntry = 0x1C => "missing_attribute_list_entry",
        /// 0x1D.
        InvalidAttributeValueList = 0x1D => "invalid_attribute_value_list",
        /// 0x1E: one of a Multiple_Service_Packet's requests failed.
        EmbeddedServiceError = 0x1E => "embedded_service_error",
        /// 0x1F.
        VendorSpecific = 0x1F => "vendor_specific_error",
        /// 0x20.
        InvalidParameter = 0x20 => "invalid_parameter",
        /// 0x21.
        WriteOnceAlreadyWritten = 0x21 => "write_once_already_written",
        /// 0x22.
        InvalidReplyReceived = 0x22 => "invalid_reply_received",
        /// 0x23.
        BufferOverflow = 0x23 => "buffer_overflow",
        /// 0x24.
        InvalidMessageFormat = 0x24 => "invalid_message_format",
        /// 0x25.
        KeyFailureInPath = 0x25 => "key_failure_in_path",
        /// 0x26.
        PathSizeInvalid = 0x26 => "path_size_invalid",
        /// 0x27.
        UnexpectedAttributeInList = 0x27 => "unexpected_attribute_in_list",
        /// 0x28.
        InvalidMemberId = 0x28 => "invalid_member_id",
        /// 0x29.
        MemberNotSettable = 0x29 => "member_not_settable",
        /// 0x2A.
        Group2OnlyServerFailure = 0x2A => "group_2_only_server_failure",
        /// 0x2B.
        UnknownModbusError = 0x2B => "unknown_modbus_error",
        /// 0x2C.
        AttributeNotGettable = 0x2C => "attribute_not_gettable",
    }
}
crate::open_enum! {
    /// CIP device types: the device profile an identity names (volume 1,
    /// chapter 6).
    pub enum DeviceType: u16 {
        /// 0x0000: Generic Device (deprecated).
        GenericDevice = 0x0000 => "generic_device",
        /// 0x0002: AC Drive.
        AcDrive = 0x0002 => "ac_drive",
        /// 0x0003: Motor Overload.
        MotorOverload = 0x0003 => "motor_overload",
        /// 0x0004: Limit Switch.
        LimitSwitch = 0x0004 => "limit_switch",
        /// 0x0005: Inductive Proximity Switch.
        InductiveProximitySwitch = 0x0005 => "inductive_proximity_switch",
        /// 0x0006: Photoelectric Sensor.
        PhotoelectricSensor = 0x0006 => "photoelectric_sensor",
        /// 0x0007: General Purpose Discrete I/O.
        GeneralPurposeDiscreteIo = 0x0007 => "general_purpose_discrete_io",
        /// 0x0009: Resolver.
        Resolver = 0x0009 => "resolver",
        /// 0x000c: Communications Adapter.
        CommunicationsAdapter = 0x000c => "communications_adapter",
        /// 0x000e: Programmable Logic Controller.
        ProgrammableLogicController = 0x000e => "programmable_logic_controller",
        /// 0x0010: Position Controller.
        PositionController = 0x0010 => "position_controller",
        /// 0x0013: DC Drive.
        DcDrive = 0x0013 => "dc_drive",
        /// 0x0015: Contactor.
        Contactor = 0x0015 => "contactor",
        /// 0x0016: Motor Starter.
        MotorStarter = 0x0016 => "motor_starter",
        /// 0x0017: Soft Start.
        SoftStart = 0x0017 => "soft_start",
        /// 0x0018: Human-Machine Interface.
        HumanMachineInterface = 0x0018 => "human_machine_interface",
        /// 0x001a: Mass Flow Controller.
        MassFlowController = 0x001a => "mass_flow_controller",
        /// 0x001b: Pneumatic Valve.
        PneumaticValve = 0x001b => "pneumatic_valve",
        /// 0x001c: Vacuum Pressure Gauge.
        VacuumPressureGauge = 0x001c => "vacuum_pressure_gauge",
        /// 0x001d: Process Control Value.
        ProcessControlValue = 0x001d => "process_control_value",
        /// 0x001e: Residual Gas Analyzer.
        ResidualGasAnalyzer = 0x001e => "residual_gas_analyzer",
        /// 0x001f: DC Power Generator.
        DcPowerGenerator = 0x001f => "dc_power_generator",
        /// 0x0020: RF Power Generator.
        RfPowerGenerator = 0x0020 => "rf_power_generator",
        /// 0x0021: Turbomolecular Vacuum Pump.
        TurbomolecularVacuumPump = 0x0021 => "turbomolecular_vacuum_pump",
        /// 0x0022: Encoder.
        Encoder = 0x0022 => "encoder",
        /// 0x0023: Safety Discrete I/O Device.
        SafetyDiscreteIoDevice = 0x0023 => "safety_discrete_io_device",
        /// 0x0024: Fluid Flow Controller.
        FluidFlowController = 0x0024 => "fluid_flow_controller",
        /// 0x0025: CIP Motion Drive.
        CipMotionDrive = 0x0025 => "cip_motion_drive",
        /// 0x0026: CompoNet Repeater.
        ComponetRepeater = 0x0026 => "componet_repeater",
        /// 0x0027: Mass Flow Controller, Enhanced.
        MassFlowControllerEnhanced = 0x0027 => "mass_flow_controller_enhanced",
        /// 0x0028: CIP Modbus Device.
        CipModbusDevice = 0x0028 => "cip_modbus_device",
        /// 0x0029: CIP Modbus Translator.
        CipModbusTranslator = 0x0029 => "cip_modbus_translator",
        /// 0x002a: Safety Analog I/O Device.
        SafetyAnalogIoDevice = 0x002a => "safety_analog_io_device",
        /// 0x002b: Generic Device (keyable).
        GenericDeviceKeyable = 0x002b => "generic_device_keyable",
        /// 0x002c: Managed Ethernet Switch.
        ManagedEthernetSwitch = 0x002c => "managed_ethernet_switch",
        /// 0x002d: CIP Motion Safety Drive Device.
        CipMotionSafetyDriveDevice = 0x002d => "cip_motion_safety_drive_device",
        /// 0x002e: Safety Drive Device.
        SafetyDriveDevice = 0x002e => "safety_drive_device",
        /// 0x002f: CIP Motion Encoder.
        CipMotionEncoder = 0x002f => "cip_motion_encoder",
        /// 0x0030: CIP Motion Converter.
        CipMotionConverter = 0x0030 => "cip_motion_converter",
        /// 0x0031: CIP Motion I/O.
        CipMotionIo = 0x0031 => "cip_motion_io",
        /// 0x0032: ControlNet Physical Layer Component.
        ControlnetPhysicalLayerComponent = 0x0032 => "controlnet_physical_layer_component",
        /// 0x0033: Circuit Breaker.
        CircuitBreaker = 0x0033 => "circuit_breaker",
        /// 0x0034: HART Device.
        HartDevice = 0x0034 => "hart_device",
        /// 0x0035: CIP-HART Translator.
        CipHartTranslator = 0x0035 => "cip_hart_translator",
        /// 0x00c8: Embedded Component.
        EmbeddedComponent = 0x00c8 => "embedded_component",
    }
}

crate::open_enum! {
    /// Connection Manager extended status: why a connection request failed
    /// (volume 1, table 3-5.33).
    pub enum ConnectionStatus: u16 {
        /// 0x0100: Connection in use or duplicate Forward Open.
        ConnectionInUseOrDuplicateForwardOpen = 0x0100 => "connection_in_use_or_duplicate_forward_open",
        /// 0x0103: Transport class and trigger combination not supported.
        TransportClassAndTriggerCombinationNotSupported = 0x0103 => "transport_class_and_trigger_combination_not_supported",
        /// 0x0106: Ownership conflict.
        OwnershipConflict = 0x0106 => "ownership_conflict",
        /// 0x0107: Target connection not found.
        TargetConnectionNotFound = 0x0107 => "target_connection_not_found",
        /// 0x0108: Invalid network connection parameter.
        InvalidNetworkConnectionParameter = 0x0108 => "invalid_network_connection_parameter",
        /// 0x0109: Invalid connection size.
        InvalidConnectionSize = 0x0109 => "invalid_connection_size",
        /// 0x0110: Target for connection not configured.
        TargetForConnectionNotConfigured = 0x0110 => "target_for_connection_not_configured",
        /// 0x0111: RPI not supported.
        RpiNotSupported = 0x0111 => "rpi_not_supported",
        /// 0x0112: RPI value(s) not acceptable.
        RpiValueSNotAcceptable = 0x0112 => "rpi_value_s_not_acceptable",
        /// 0x0113: Out of connections.
        OutOfConnections = 0x0113 => "out_of_connections",
        /// 0x0114: Vendor ID or product code mismatch.
        VendorIdOrProductCodeMismatch = 0x0114 => "vendor_id_or_product_code_mismatch",
        /// 0x0115: Device type mismatch.
        DeviceTypeMismatch = 0x0115 => "device_type_mismatch",
        /// 0x0116: Revision mismatch.
        RevisionMismatch = 0x0116 => "revision_mismatch",
        /// 0x0117: Invalid produced or consumed application path.
        InvalidProducedOrConsumedApplicationPath = 0x0117 => "invalid_produced_or_consumed_application_path",
        /// 0x0118: Invalid or inconsistent configuration application path.
        InvalidOrInconsistentConfigurationApplicationPath = 0x0118 => "invalid_or_inconsistent_configuration_application_path",
        /// 0x0119: Non-listen only connection not opened.
        NonListenOnlyConnectionNotOpened = 0x0119 => "non_listen_only_connection_not_opened",
        /// 0x011a: Target object out of connections.
        TargetObjectOutOfConnections = 0x011a => "target_object_out_of_connections",
        /// 0x011b: RPI is smaller than the production inhibit time.
        RpiIsSmallerThanTheProductionInhibitTime = 0x011b => "rpi_is_smaller_than_the_production_inhibit_time",
        /// 0x011c: Transport class not supported.
        TransportClassNotSupported = 0x011c => "transport_class_not_supported",
        /// 0x011d: Production trigger not supported.
        ProductionTriggerNotSupported = 0x011d => "production_trigger_not_supported",
        /// 0x011e: Direction not supported.
        DirectionNotSupported = 0x011e => "direction_not_supported",
        /// 0x011f: Invalid O->T Fixed/Variable.
        InvalidOTFixedVariable = 0x011f => "invalid_o_t_fixed_variable",
        /// 0x0120: Invalid T->O Fixed/Variable.
        InvalidTOFixedVariable = 0x0120 => "invalid_t_o_fixed_variable",
        /// 0x0121: Invalid O->T Priority.
        InvalidOTPriority = 0x0121 => "invalid_o_t_priority",
        /// 0x0122: Invalid T->O Priority.
        InvalidTOPriority = 0x0122 => "invalid_t_o_priority",
        /// 0x0123: Invalid O->T connection type.
        InvalidOTConnectionType = 0x0123 => "invalid_o_t_connection_type",
        /// 0x0124: Invalid T->O connection type.
        InvalidTOConnectionType = 0x0124 => "invalid_t_o_connection_type",
        /// 0x0125: Invalid O->T redundant owner.
        InvalidOTRedundantOwner = 0x0125 => "invalid_o_t_redundant_owner",
        /// 0x0126: Invalid configuration size.
        InvalidConfigurationSize = 0x0126 => "invalid_configuration_size",
        /// 0x0127: Invalid O->T size.
        InvalidOTSize = 0x0127 => "invalid_o_t_size",
        /// 0x0128: Invalid T->O size.
        InvalidTOSize = 0x0128 => "invalid_t_o_size",
        /// 0x0129: Invalid configuration application path.
        InvalidConfigurationApplicationPath = 0x0129 => "invalid_configuration_application_path",
        /// 0x012a: Invalid consuming application path.
        InvalidConsumingApplicationPath = 0x012a => "invalid_consuming_application_path",
        /// 0x012b: Invalid producing application path.
        InvalidProducingApplicationPath = 0x012b => "invalid_producing_application_path",
        /// 0x012c: Configuration symbol does not exist.
        ConfigurationSymbolDoesNotExist = 0x012c => "configuration_symbol_does_not_exist",
        /// 0x012d: Consuming symbol does not exist.
        ConsumingSymbolDoesNotExist = 0x012d => "consuming_symbol_does_not_exist",
        /// 0x012e: Producing symbol does not exist.
        ProducingSymbolDoesNotExist = 0x012e => "producing_symbol_does_not_exist",
        /// 0x012f: Inconsistent application path combination.
        InconsistentApplicationPathCombination = 0x012f => "inconsistent_application_path_combination",
        /// 0x0130: Inconsistent consume data format.
        InconsistentConsumeDataFormat = 0x0130 => "inconsistent_consume_data_format",
        /// 0x0131: Inconsistent produce data format.
        InconsistentProduceDataFormat = 0x0131 => "inconsistent_produce_data_format",
        /// 0x0132: NULL ForwardOpen not supported.
        NullForwardopenNotSupported = 0x0132 => "null_forwardopen_not_supported",
        /// 0x0203: Connection timed out.
        ConnectionTimedOut = 0x0203 => "connection_timed_out",
        /// 0x0204: Unconnected request timed out.
        UnconnectedRequestTimedOut = 0x0204 => "unconnected_request_timed_out",
        /// 0x0205: Parameter error in unconnected request.
        ParameterErrorInUnconnectedRequest = 0x0205 => "parameter_error_in_unconnected_request",
        /// 0x0206: Message too large for UnconnectedSend.
        MessageTooLargeForUnconnectedsend = 0x0206 => "message_too_large_for_unconnectedsend",
        /// 0x0207: Unconnected acknowledged without reply.
        UnconnectedAcknowledgedWithoutReply = 0x0207 => "unconnected_acknowledged_without_reply",
        /// 0x0301: No buffer memory available.
        NoBufferMemoryAvailable = 0x0301 => "no_buffer_memory_available",
        /// 0x0302: Network bandwidth not available for data.
        NetworkBandwidthNotAvailableForData = 0x0302 => "network_bandwidth_not_available_for_data",
        /// 0x0303: No consumed connection ID filter available.
        NoConsumedConnectionIdFilterAvailable = 0x0303 => "no_consumed_connection_id_filter_available",
        /// 0x0304: Not configured to send scheduled priority data.
        NotConfiguredToSendScheduledPriorityData = 0x0304 => "not_configured_to_send_scheduled_priority_data",
        /// 0x0305: Schedule signature mismatch.
        ScheduleSignatureMismatch = 0x0305 => "schedule_signature_mismatch",
        /// 0x0306: Schedule signature validation not possible.
        ScheduleSignatureValidationNotPossible = 0x0306 => "schedule_signature_validation_not_possible",
        /// 0x0311: Port not available.
        PortNotAvailable = 0x0311 => "port_not_available",
        /// 0x0312: Link address not valid.
        LinkAddressNotValid = 0x0312 => "link_address_not_valid",
        /// 0x0315: Invalid segment in connection path.
        InvalidSegmentInConnectionPath = 0x0315 => "invalid_segment_in_connection_path",
        /// 0x0316: ForwardClose connection path mismatch.
        ForwardcloseConnectionPathMismatch = 0x0316 => "forwardclose_connection_path_mismatch",
        /// 0x0317: Scheduling not specified.
        SchedulingNotSpecified = 0x0317 => "scheduling_not_specified",
        /// 0x0318: Link address to self invalid.
        LinkAddressToSelfInvalid = 0x0318 => "link_address_to_self_invalid",
        /// 0x0319: Secondary resources unavailable.
        SecondaryResourcesUnavailable = 0x0319 => "secondary_resources_unavailable",
        /// 0x031a: Rack connection already established.
        RackConnectionAlreadyEstablished = 0x031a => "rack_connection_already_established",
        /// 0x031b: Module connection already established.
        ModuleConnectionAlreadyEstablished = 0x031b => "module_connection_already_established",
        /// 0x031c: Miscellaneous.
        Miscellaneous = 0x031c => "miscellaneous",
        /// 0x031d: Redundant connection mismatch.
        RedundantConnectionMismatch = 0x031d => "redundant_connection_mismatch",
        /// 0x031e: No more user configurable link consumer resources available in the producing module.
        NoMoreUserConfigurableLinkConsumerResourcesAvailableInTheProducingModule = 0x031e => "no_more_user_configurable_link_consumer_resources_available_in_the_producing_module",
        /// 0x031f: No more user configurable link consumer resources configured in the producing module.
        NoMoreUserConfigurableLinkConsumerResourcesConfiguredInTheProducingModule = 0x031f => "no_more_user_configurable_link_consumer_resources_configured_in_the_producing_module",
        /// 0x0800: Network link offline.
        NetworkLinkOffline = 0x0800 => "network_link_offline",
        /// 0x0801: Incompatible Multicast RPI.
        IncompatibleMulticastRpi = 0x0801 => "incompatible_multicast_rpi",
        /// 0x0802: Invalid Safety Connection Size.
        InvalidSafetyConnectionSize = 0x0802 => "invalid_safety_connection_size",
        /// 0x0803: Invalid Safety Connection Format.
        InvalidSafetyConnectionFormat = 0x0803 => "invalid_safety_connection_format",
        /// 0x0804: Invalid Time Correction Connection Parameters.
        InvalidTimeCorrectionConnectionParameters = 0x0804 => "invalid_time_correction_connection_parameters",
        /// 0x0805: Invalid Ping Interval EPI Multiplier.
        InvalidPingIntervalEpiMultiplier = 0x0805 => "invalid_ping_interval_epi_multiplier",
        /// 0x0806: Time Coordination Msg Min Multiplier.
        TimeCoordinationMsgMinMultiplier = 0x0806 => "time_coordination_msg_min_multiplier",
        /// 0x0807: Network Time Expectation Multiplier.
        NetworkTimeExpectationMultiplier = 0x0807 => "network_time_expectation_multiplier",
        /// 0x0808: Timeout Multiplier.
        TimeoutMultiplier = 0x0808 => "timeout_multiplier",
        /// 0x0809: Invalid Max Consumer Number.
        InvalidMaxConsumerNumber = 0x0809 => "invalid_max_consumer_number",
        /// 0x080a: Invalid CPCRC.
        InvalidCpcrc = 0x080a => "invalid_cpcrc",
        /// 0x080b: Time Correction Connection ID Invalid.
        TimeCorrectionConnectionIdInvalid = 0x080b => "time_correction_connection_id_invalid",
        /// 0x080c: SCID Mismatch.
        ScidMismatch = 0x080c => "scid_mismatch",
        /// 0x080d: TUNID not set.
        TunidNotSet = 0x080d => "tunid_not_set",
        /// 0x080e: TUNID Mismatch.
        TunidMismatch = 0x080e => "tunid_mismatch",
        /// 0x080f: Configuration operation not allowed.
        ConfigurationOperationNotAllowed = 0x080f => "configuration_operation_not_allowed",
        /// 0x0810: No target application data available.
        NoTargetApplicationDataAvailable = 0x0810 => "no_target_application_data_available",
        /// 0x0811: No originator application data available.
        NoOriginatorApplicationDataAvailable = 0x0811 => "no_originator_application_data_available",
        /// 0x0812: Node address has changed since the network was scheduled.
        NodeAddressHasChangedSinceTheNetworkWasScheduled = 0x0812 => "node_address_has_changed_since_the_network_was_scheduled",
        /// 0x0813: Not configured for off-subnet multicast.
        NotConfiguredForOffSubnetMulticast = 0x0813 => "not_configured_for_off_subnet_multicast",
        /// 0x0814: Invalid produce/consume data format.
        InvalidProduceConsumeDataFormat = 0x0814 => "invalid_produce_consume_data_format",
    }
}
