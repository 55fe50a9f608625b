//! The rule field vocabulary: one table per protocol, so that validation can
//! list the valid names and `rules/README.md` documents exactly what exists.
//!
//! A field has a [`Kind`] (how its values compare), says whether it may be
//! prefixed with `request.` / `response.` ([`FieldDef::scoped`]), and names
//! the [`Field`] the matcher reads from the borrowed event.

use otwatch_proto::{dnp3, modbus, s7comm};

/// Protocols a rule may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    /// Modbus/TCP.
    Modbus,
    /// S7comm and S7comm-plus.
    S7comm,
    /// DNP3.
    Dnp3,
    /// TCP stream anomalies (gaps, overlaps) of any flow.
    Stream,
    /// Decode anomalies of frames (malformed headers, fragments).
    Decode,
}

impl Protocol {
    /// Every protocol, in documentation order.
    pub const ALL: [Protocol; 5] = [
        Protocol::Modbus,
        Protocol::S7comm,
        Protocol::Dnp3,
        Protocol::Stream,
        Protocol::Decode,
    ];

    /// The name used in rules and EVE (`app_proto`, anomaly `type`).
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Modbus => "modbus",
            Protocol::S7comm => "s7comm",
            Protocol::Dnp3 => "dnp3",
            Protocol::Stream => "stream",
            Protocol::Decode => "decode",
        }
    }

    /// Looks a protocol up by name.
    pub fn from_name(name: &str) -> Option<Protocol> {
        Protocol::ALL.into_iter().find(|p| p.name() == name)
    }

    /// Index for per-protocol tables.
    pub(crate) fn index(self) -> usize {
        self as usize
    }

    /// The anomaly protocols (`Anomaly::protocol`) that belong to this rule
    /// protocol.
    pub(crate) fn owns_anomaly(self, anomaly_protocol: &str) -> bool {
        match self {
            Protocol::Decode => matches!(anomaly_protocol, "decode" | "ipv4" | "ipv6"),
            p => p.name() == anomaly_protocol,
        }
    }

    /// The fields a rule of this protocol can match on.
    pub fn fields(self) -> &'static [FieldDef] {
        match self {
            Protocol::Modbus => MODBUS_FIELDS,
            Protocol::S7comm => S7COMM_FIELDS,
            Protocol::Dnp3 => DNP3_FIELDS,
            Protocol::Stream | Protocol::Decode => ANOMALY_ONLY_FIELDS,
        }
    }

    /// Anomaly names the dissectors of this protocol raise.
    pub fn anomalies(self) -> &'static [&'static str] {
        match self {
            Protocol::Modbus => &[
                "bad_protocol_id",
                "mbap_length_zero",
                "mbap_length_too_large",
                "length_mismatch",
                "byte_count_mismatch",
                "quantity_out_of_range",
                "bad_coil_value",
                "truncated_device_id_object",
                "non_modbus_traffic",
                "pdu_after_parse_error",
                "unmatched_response",
                "response_mismatch",
                "too_many_outstanding_requests",
            ],
            Protocol::S7comm => &[
                "tpkt_bad_version",
                "tpkt_bad_length",
                "tpkt_exceeds_tpdu_size",
                "cotp_bad_tpdu",
                "cotp_bad_parameter",
                "cotp_bad_class",
                "cotp_error_tpdu",
                "cotp_reassembly_overflow",
                "non_s7_traffic",
                "s7_bad_length",
                "s7_malformed_body",
                "s7_before_setup",
                "s7_unknown_rosctr",
                "s7plus_bad_framing",
                "s7plus_bad_integrity",
                "ack_without_job",
                "too_many_outstanding_jobs",
            ],
            Protocol::Dnp3 => &[
                "invalid_start_octets",
                "bad_header_crc",
                "bad_data_crc",
                "length_too_small",
                "frame_too_long",
                "truncated_frame",
                "unknown_link_function",
                "transport_missing_fir",
                "transport_sequence_error",
                "transport_incomplete_fragment",
                "fragment_too_large",
                "too_many_fragments",
                "fragment_too_short",
                "reserved_function_code",
                "broadcast_destination",
                "response_without_request",
                "too_many_outstanding_requests",
                "truncated_object",
                "reserved_qualifier",
                "bad_range",
                "unknown_object",
                "too_many_objects",
                "too_many_points",
            ],
            Protocol::Stream => &[
                "reassembly_gap",
                "overlap_mismatch",
                "reassembly_buffer_full",
                "stream_buffer_overflow",
                "segment_outside_window",
                "incomplete_pdu_at_close",
            ],
            Protocol::Decode => &[
                "truncated_link_header",
                "truncated_vlan_tag",
                "truncated_ipv4_header",
                "truncated_ipv6_header",
                "truncated_tcp_header",
                "truncated_udp_header",
                "bad_ip_version",
                "bad_ipv4_header_length",
                "bad_ipv4_total_length",
                "bad_ipv4_checksum",
                "bad_tcp_checksum",
                "bad_udp_checksum",
                "bad_tcp_data_offset",
                "bad_udp_length",
                "too_many_vlan_tags",
                "too_many_ipv6_extension_headers",
                "fragment_overlap_mismatch",
                "fragment_too_large",
            ],
        }
    }
}

/// How a field's values compare, and which literals a rule may give.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    /// An unsigned number up to `max`.
    Int {
        /// Largest value the field can take.
        max: u64,
    },
    /// A code with names: names and numbers are both accepted.
    Enum(EnumDef),
    /// A bit set with a name per bit (DNP3 IIN): a name tests its bit.
    Bits(&'static [&'static str]),
    /// `true` or `false`.
    Bool,
    /// Bytes from the packet, compared as text (`eq`, `in`, `contains`).
    Text,
    /// An IP address: addresses, CIDR networks, `$var` lists.
    Ip,
    /// A TCP/UDP port: numbers, `a-b` ranges, `$var` lists.
    Port,
    /// Raw payload: byte-string patterns found by the protocol's automaton.
    Content,
    /// An anomaly name of the rule's protocol.
    Anomaly,
}

/// The names of an enum field.
#[derive(Clone, Copy)]
pub struct EnumDef {
    /// The value of a name.
    pub lookup: fn(&str) -> Option<u64>,
    /// Every name, for error messages and docs.
    pub names: fn() -> Vec<&'static str>,
    /// Largest number.
    pub max: u64,
}

impl core::fmt::Debug for EnumDef {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_list().entries((self.names)()).finish()
    }
}

macro_rules! open_enum_def {
    ($t:ty, $max:expr) => {
        EnumDef {
            lookup: |s| <$t>::from_name(s).map(|v| u64::from(v.raw())),
            names: || <$t>::KNOWN.iter().map(|(_, n)| *n).collect(),
            max: $max,
        }
    };
}

/// One field of the vocabulary.
#[derive(Debug, Clone, Copy)]
pub struct FieldDef {
    /// Name in rules, without the protocol prefix (`diagnostic.subfunction`).
    pub name: &'static str,
    /// Value kind.
    pub kind: Kind,
    /// Whether `request.` / `response.` may prefix it.
    pub scoped: bool,
    /// One line for docs.
    pub doc: &'static str,
    /// What the matcher reads.
    pub field: Field,
}

/// The fields the matcher can read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum Field {
    // Every protocol.
    SrcIp,
    DestIp,
    AnyIp,
    SrcPort,
    DestPort,
    AnyPort,
    Anomaly,
    Content,
    Answered,
    // Modbus.
    MbFunction,
    MbAccess,
    MbUnitId,
    MbTransactionId,
    MbException,
    MbDiagSub,
    MbAddress,
    MbQuantity,
    MbValue,
    MbMei,
    MbDeviceIdCode,
    MbDeviceIdObject,
    MbUmasCode,
    MbUserDefined,
    MbMalformed,
    // S7comm.
    S7Rosctr,
    S7Function,
    S7UdGroup,
    S7UdSub,
    S7UdType,
    S7PiService,
    S7StartMode,
    S7SzlId,
    S7SzlIndex,
    S7Area,
    S7DbNumber,
    S7ByteAddress,
    S7BlockType,
    S7BlockNumber,
    S7ErrorClass,
    S7ErrorCode,
    S7Error,
    S7Rack,
    S7Slot,
    S7Malformed,
    S7Plus,
    S7PlusOpcode,
    S7PlusFunction,
    // DNP3.
    DnFunction,
    DnIin,
    DnGroup,
    DnVariation,
    DnPointIndex,
    DnCrobOp,
    DnCrobTripClose,
    DnFileName,
    DnMaster,
    DnOutstation,
    DnSource,
    DnDestination,
    DnUnsolicited,
    DnBroadcast,
    DnSeq,
    DnMalformed,
}

const ACCESS_NAMES: &[&str] = &[
    "read",
    "write",
    "read_write",
    "diagnostics",
    "identification",
    "program",
    "other",
];

pub(crate) fn access_code(a: modbus::Access) -> u64 {
    use modbus::Access::*;
    match a {
        Read => 0,
        Write => 1,
        ReadWrite => 2,
        Diagnostics => 3,
        Identification => 4,
        Program => 5,
        Other => 6,
    }
}

const ACCESS: EnumDef = EnumDef {
    lookup: |s| ACCESS_NAMES.iter().position(|n| *n == s).map(|i| i as u64),
    names: || ACCESS_NAMES.to_vec(),
    max: 6,
};

/// S7 userdata groups whose subfunctions have names.
const S7_GROUPS: [s7comm::UserdataGroup; 7] = [
    s7comm::UserdataGroup::ModeTransition,
    s7comm::UserdataGroup::ProgrammerCommands,
    s7comm::UserdataGroup::CyclicData,
    s7comm::UserdataGroup::BlockFunctions,
    s7comm::UserdataGroup::CpuFunctions,
    s7comm::UserdataGroup::Security,
    s7comm::UserdataGroup::TimeFunctions,
];

fn s7_subfunction_lookup(name: &str) -> Option<u64> {
    for g in S7_GROUPS {
        for sub in 0..=255u8 {
            if s7comm::codes::subfunction_name(g, sub) == Some(name) {
                return Some(u64::from(g.raw()) << 8 | u64::from(sub));
            }
        }
    }
    None
}

fn s7_subfunction_names() -> Vec<&'static str> {
    let mut out = Vec::new();
    for g in S7_GROUPS {
        for sub in 0..=255u8 {
            if let Some(n) = s7comm::codes::subfunction_name(g, sub) {
                if !out.contains(&n) {
                    out.push(n);
                }
            }
        }
    }
    out
}

const fn def(
    name: &'static str,
    kind: Kind,
    scoped: bool,
    field: Field,
    doc: &'static str,
) -> FieldDef {
    FieldDef {
        name,
        kind,
        scoped,
        doc,
        field,
    }
}

const INT8: Kind = Kind::Int { max: 0xff };
const INT16: Kind = Kind::Int { max: 0xffff };
const INT32: Kind = Kind::Int { max: 0xffff_ffff };

/// Fields every protocol has.
const COMMON: [FieldDef; 9] = [
    def(
        "src_ip",
        Kind::Ip,
        false,
        Field::SrcIp,
        "client (master) address, as EVE `src_ip`",
    ),
    def(
        "dest_ip",
        Kind::Ip,
        false,
        Field::DestIp,
        "server (PLC, outstation) address, as EVE `dest_ip`",
    ),
    def("ip", Kind::Ip, false, Field::AnyIp, "either address"),
    def("src_port", Kind::Port, false, Field::SrcPort, "client port"),
    def(
        "dest_port",
        Kind::Port,
        false,
        Field::DestPort,
        "server port",
    ),
    def("port", Kind::Port, false, Field::AnyPort, "either port"),
    def(
        "anomaly",
        Kind::Anomaly,
        false,
        Field::Anomaly,
        "anomaly name (the rule then matches anomaly events of its protocol)",
    ),
    def(
        "content",
        Kind::Content,
        true,
        Field::Content,
        "raw PDU bytes: every pattern must occur (request, response or either)",
    ),
    def(
        "answered",
        Kind::Bool,
        false,
        Field::Answered,
        "the transaction has both a request and a response",
    ),
];

const ANOMALY_ONLY_FIELDS: &[FieldDef] = &COMMON;

/// Modbus fields (common fields first).
pub const MODBUS_FIELDS: &[FieldDef] = &[
    COMMON[0], COMMON[1], COMMON[2], COMMON[3], COMMON[4], COMMON[5], COMMON[6], COMMON[7], COMMON[8],
    def("function", Kind::Enum(open_enum_def!(modbus::FunctionCode, 0x7f)), true, Field::MbFunction, "function code (exception bit removed)"),
    def("access", Kind::Enum(ACCESS), true, Field::MbAccess, "what the function does: read, write, read_write, diagnostics, identification, program, other"),
    def("unit_id", INT8, false, Field::MbUnitId, "MBAP unit identifier"),
    def("transaction_id", INT16, false, Field::MbTransactionId, "MBAP transaction identifier"),
    def("exception", Kind::Enum(open_enum_def!(modbus::ExceptionCode, 0xff)), false, Field::MbException, "exception code of an exception response"),
    def("diagnostic.subfunction", Kind::Enum(open_enum_def!(modbus::DiagnosticSubfunction, 0xffff)), true, Field::MbDiagSub, "sub-function of function 8"),
    def("address", INT16, true, Field::MbAddress, "every address the PDU touches (start .. start + quantity - 1; both ranges of function 23)"),
    def("quantity", INT16, true, Field::MbQuantity, "number of coils or registers"),
    def("value", INT16, true, Field::MbValue, "each register or coil value written (request) or read (response)"),
    def("mei", Kind::Enum(open_enum_def!(modbus::MeiType, 0xff)), true, Field::MbMei, "MEI type of function 43"),
    def("device_id.code", Kind::Enum(open_enum_def!(modbus::DeviceIdCode, 0xff)), true, Field::MbDeviceIdCode, "read device identification access code"),
    def("device_id.object", INT8, true, Field::MbDeviceIdObject, "device identification object ids asked for or returned"),
    def("umas.code", Kind::Enum(open_enum_def!(modbus::UmasCode, 0xff)), true, Field::MbUmasCode, "UMAS (function 90) sub-function"),
    def("user_defined", Kind::Bool, true, Field::MbUserDefined, "function code in a user-defined range (65-72, 100-110)"),
    def("malformed", Kind::Bool, true, Field::MbMalformed, "the body does not fit its function"),
];

/// S7comm fields (common fields first).
pub const S7COMM_FIELDS: &[FieldDef] = &[
    COMMON[0], COMMON[1], COMMON[2], COMMON[3], COMMON[4], COMMON[5], COMMON[6], COMMON[7], COMMON[8],
    def("rosctr", Kind::Enum(open_enum_def!(s7comm::Rosctr, 0xff)), true, Field::S7Rosctr, "PDU type: job, ack, ack_data, userdata"),
    def("function", Kind::Enum(open_enum_def!(s7comm::Function, 0xff)), true, Field::S7Function, "job function (read_var, write_var, plc_stop, plc_control, request_download, …)"),
    def("userdata.group", Kind::Enum(open_enum_def!(s7comm::UserdataGroup, 0xff)), false, Field::S7UdGroup, "userdata function group"),
    def("userdata.subfunction", Kind::Enum(EnumDef { lookup: s7_subfunction_lookup, names: s7_subfunction_names, max: 0xffff }), false, Field::S7UdSub, "userdata subfunction by name; as a number: group * 256 + subfunction (0x0501 = security plc_password)"),
    def("userdata.type", Kind::Enum(open_enum_def!(s7comm::UserdataType, 0xff)), true, Field::S7UdType, "userdata type: push, request, response"),
    def("pi_service", Kind::Text, false, Field::S7PiService, "PI service of plc_control / plc_stop (P_PROGRAM, _INSE, _DELE, _MODU, _GARB, …)"),
    def("start_mode", Kind::Text, false, Field::S7StartMode, "hot_start or cold_start, for a P_PROGRAM start"),
    def("szl_id", INT16, false, Field::S7SzlId, "SZL id of a read SZL request or answer"),
    def("szl_index", INT16, false, Field::S7SzlIndex, "SZL index"),
    def("area", Kind::Enum(open_enum_def!(s7comm::Area, 0xff)), false, Field::S7Area, "memory area of each read/write var item (inputs, outputs, flags, db, …)"),
    def("db_number", INT16, false, Field::S7DbNumber, "DB number of each read/write var item in a data block"),
    def("byte_address", Kind::Int { max: 0xff_ffff }, false, Field::S7ByteAddress, "byte address of each read/write var item"),
    def("block_type", Kind::Enum(open_enum_def!(s7comm::BlockType, 0xffff)), false, Field::S7BlockType, "block type of a download, upload, insert, delete or block info (ob, db, fc, fb, sdb, …)"),
    def("block_number", INT32, false, Field::S7BlockNumber, "block number"),
    def("error_class", Kind::Enum(open_enum_def!(s7comm::ErrorClass, 0xff)), false, Field::S7ErrorClass, "error class of the ack"),
    def("error_code", INT16, false, Field::S7ErrorCode, "error class * 256 + error code of the ack (0xd241 style for userdata errors)"),
    def("error", Kind::Bool, false, Field::S7Error, "the ack or userdata response reports an error"),
    def("rack", INT8, false, Field::S7Rack, "PLC rack from the COTP called TSAP"),
    def("slot", INT8, false, Field::S7Slot, "PLC slot from the COTP called TSAP"),
    def("malformed", Kind::Bool, true, Field::S7Malformed, "the body does not fit its function"),
    def("plus", Kind::Bool, false, Field::S7Plus, "an S7comm-plus PDU"),
    def("plus.opcode", Kind::Enum(open_enum_def!(s7comm::codes::PlusOpcode, 0xff)), false, Field::S7PlusOpcode, "S7comm-plus opcode"),
    def("plus.function", Kind::Enum(open_enum_def!(s7comm::codes::PlusFunction, 0xffff)), false, Field::S7PlusFunction, "S7comm-plus function"),
];

/// DNP3 fields (common fields first).
pub const DNP3_FIELDS: &[FieldDef] = &[
    COMMON[0],
    COMMON[1],
    COMMON[2],
    COMMON[3],
    COMMON[4],
    COMMON[5],
    COMMON[6],
    COMMON[7],
    COMMON[8],
    def(
        "function",
        Kind::Enum(open_enum_def!(dnp3::FunctionCode, 0xff)),
        true,
        Field::DnFunction,
        "application function code",
    ),
    def(
        "iin",
        Kind::Bits(&dnp3::codes::IIN_NAMES),
        false,
        Field::DnIin,
        "internal indications of the response: a name tests its bit",
    ),
    def(
        "object.group",
        INT8,
        true,
        Field::DnGroup,
        "group of each object header",
    ),
    def(
        "object.variation",
        INT8,
        true,
        Field::DnVariation,
        "variation of each object header",
    ),
    def(
        "point.index",
        INT32,
        true,
        Field::DnPointIndex,
        "index of each point",
    ),
    def(
        "crob.op_type",
        Kind::Enum(open_enum_def!(dnp3::OpType, 0x0f)),
        true,
        Field::DnCrobOp,
        "operation of each control relay output block",
    ),
    def(
        "crob.trip_close",
        Kind::Enum(open_enum_def!(dnp3::TripClose, 0x03)),
        true,
        Field::DnCrobTripClose,
        "trip/close code of each CROB",
    ),
    def(
        "file.name",
        Kind::Text,
        true,
        Field::DnFileName,
        "file names in group 70 objects",
    ),
    def(
        "master",
        INT16,
        false,
        Field::DnMaster,
        "master link address",
    ),
    def(
        "outstation",
        INT16,
        false,
        Field::DnOutstation,
        "outstation link address (0xfffd-0xffff: broadcast)",
    ),
    def(
        "source",
        INT16,
        true,
        Field::DnSource,
        "link source address of the fragment",
    ),
    def(
        "destination",
        INT16,
        true,
        Field::DnDestination,
        "link destination address of the fragment",
    ),
    def(
        "unsolicited",
        Kind::Bool,
        false,
        Field::DnUnsolicited,
        "an unsolicited response",
    ),
    def(
        "broadcast",
        Kind::Bool,
        false,
        Field::DnBroadcast,
        "a request to a broadcast address",
    ),
    def(
        "seq",
        Kind::Int { max: 15 },
        true,
        Field::DnSeq,
        "application sequence number",
    ),
    def(
        "malformed",
        Kind::Bool,
        true,
        Field::DnMalformed,
        "object parsing stopped early",
    ),
];

/// Looks a field up by name (with or without the `protocol.` prefix, with
/// an optional `request.` / `response.` scope). Returns the field and the
/// scope.
pub(crate) fn lookup(protocol: Protocol, name: &str) -> Option<(&'static FieldDef, Scope)> {
    let name = name
        .strip_prefix(protocol.name())
        .and_then(|n| n.strip_prefix('.'))
        .unwrap_or(name);
    let (scope, bare) = if let Some(rest) = name.strip_prefix("request.") {
        (Scope::Request, rest)
    } else if let Some(rest) = name.strip_prefix("response.") {
        (Scope::Response, rest)
    } else {
        (Scope::Either, name)
    };
    let def = protocol.fields().iter().find(|f| f.name == bare)?;
    if scope != Scope::Either && !def.scoped {
        return None;
    }
    Some((def, scope))
}

/// Which message of a transaction a field is read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// The request when it carries the field, else the response.
    Either,
    /// Only the request.
    Request,
    /// Only the response.
    Response,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn looks_up_prefixed_scoped_names() {
        let (f, s) = lookup(Protocol::Modbus, "modbus.response.function").expect("field");
        assert_eq!((f.field, s), (Field::MbFunction, Scope::Response));
        let (f, s) = lookup(Protocol::Modbus, "diagnostic.subfunction").expect("field");
        assert_eq!((f.field, s), (Field::MbDiagSub, Scope::Either));
        assert!(lookup(Protocol::Modbus, "request.unit_id").is_none());
        assert!(lookup(Protocol::Dnp3, "diagnostic.subfunction").is_none());
    }

    #[test]
    fn resolves_s7_subfunction_names_with_their_group() {
        assert_eq!(s7_subfunction_lookup("plc_password"), Some(0x0501));
        assert_eq!(s7_subfunction_lookup("read_szl"), Some(0x0401));
        assert!(s7_subfunction_names().contains(&"clear_password"));
    }

    #[test]
    fn field_names_are_unique_per_protocol() {
        for p in Protocol::ALL {
            let names: Vec<_> = p.fields().iter().map(|f| f.name).collect();
            let mut sorted = names.clone();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(sorted.len(), names.len(), "{}", p.name());
        }
    }
}
