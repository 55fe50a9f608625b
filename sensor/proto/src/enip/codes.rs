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
