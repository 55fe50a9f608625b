//! S7comm (protocol id 0x32) PDUs: the header, and the parameter and data
//! parts of every job, ack and userdata function decoded into borrowed views.
//!
//! [`Pdu::parse`] needs only the header to succeed; a parameter or data part
//! that does not fit its function is a [`BodyError`] kept beside the header,
//! so the PDU is still reported. Unknown functions, groups and subfunctions
//! are kept raw ([`Body::Raw`], [`Detail::None`]).

use super::codes::{
    Area, BlockLanguage, BlockSubfunction, BlockType, CpuSubfunction, DataTransportSize,
    ErrorClass, Function, ReturnCode, Rosctr, SecuritySubfunction, SyntaxId, TimeSubfunction,
    TransportSize, UserdataGroup, UserdataType,
};
use super::szl::SzlResponse;
use super::S7Anomaly;

/// Protocol id of S7comm.
pub const PROTOCOL_ID: u8 = 0x32;
/// Header length of jobs and userdata.
pub const HEADER_LEN: usize = 10;
/// Header length of acks (error class and code added).
pub const ACK_HEADER_LEN: usize = 12;
/// Variable specification marker in front of every request item.
pub const VAR_SPEC: u8 = 0x12;
/// Userdata parameter length that carries the data unit reference, the last
/// data unit flag and the error code (responses).
pub const USERDATA_RESPONSE_PARAM_LEN: usize = 12;

mod field {
    pub(super) const PROTOCOL_ID: usize = 0;
    pub(super) const ROSCTR: usize = 1;
    pub(super) const REDUNDANCY_ID: usize = 2;
    pub(super) const PDU_REF: usize = 4;
    pub(super) const PARAM_LEN: usize = 6;
    pub(super) const DATA_LEN: usize = 8;
    pub(super) const ERROR_CLASS: usize = 10;
    pub(super) const ERROR_CODE: usize = 11;
}

/// A decoded S7comm header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// PDU type.
    pub rosctr: Rosctr,
    /// Redundancy identification (reserved).
    pub redundancy_id: u16,
    /// PDU reference: an ack carries the reference of its job.
    pub pdu_ref: u16,
    /// Length of the parameter part.
    pub param_len: u16,
    /// Length of the data part.
    pub data_len: u16,
    /// Error class (ack and ack_data only).
    pub error_class: Option<ErrorClass>,
    /// Error code (ack and ack_data only).
    pub error_code: Option<u8>,
}

impl Header {
    /// Header length for this PDU type.
    pub fn header_len(&self) -> usize {
        header_len(self.rosctr)
    }

    /// Error class and code as one word (`0xd241`), acks only.
    pub fn error_word(&self) -> Option<u16> {
        Some(u16::from_be_bytes([
            self.error_class?.raw(),
            self.error_code?,
        ]))
    }

    /// Whether the header reports an error (class other than 0, or code).
    pub fn has_error(&self) -> bool {
        self.error_class.is_some_and(|c| c != ErrorClass::NoError)
            || self.error_code.is_some_and(|c| c != 0)
    }
}

fn header_len(rosctr: Rosctr) -> usize {
    match rosctr {
        Rosctr::Ack | Rosctr::AckData => ACK_HEADER_LEN,
        _ => HEADER_LEN,
    }
}

/// Why there is no S7comm header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderError {
    /// First byte is not 0x32.
    BadProtocolId(u8),
    /// Fewer bytes than the header.
    Truncated {
        /// Header length for the PDU type.
        needed: usize,
        /// Bytes present.
        actual: usize,
    },
}

impl HeaderError {
    /// The anomaly it raises.
    pub fn anomaly(&self) -> S7Anomaly {
        match self {
            HeaderError::BadProtocolId(_) => S7Anomaly::NonS7Traffic,
            HeaderError::Truncated { .. } => S7Anomaly::S7BadLength,
        }
    }
}

impl core::fmt::Display for HeaderError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            HeaderError::BadProtocolId(id) => write!(f, "S7 protocol id {id:#04x} is not 0x32"),
            HeaderError::Truncated { needed, actual } => {
                write!(
                    f,
                    "S7 PDU of {actual} bytes is shorter than its {needed}-byte header"
                )
            }
        }
    }
}

/// Which part of the PDU an error is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// Parameter part.
    Parameter,
    /// Data part.
    Data,
}

impl Part {
    fn name(self) -> &'static str {
        match self {
            Part::Parameter => "parameter",
            Part::Data => "data",
        }
    }
}

/// Why a parameter or data part does not fit its function. `Copy`, carries
/// the offending values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyError {
    /// Parameter and data lengths in the header do not add up to the PDU.
    LengthMismatch {
        /// Declared parameter length.
        param_len: u16,
        /// Declared data length.
        data_len: u16,
        /// Bytes after the header.
        available: usize,
    },
    /// A part ends before a field it must hold.
    Truncated {
        /// The part.
        part: Part,
        /// Bytes needed.
        needed: usize,
        /// Bytes present.
        actual: usize,
    },
    /// Bytes left over after the declared items.
    TrailingBytes {
        /// The part.
        part: Part,
        /// Bytes left over.
        extra: usize,
    },
    /// A request item does not start with the variable specification 0x12.
    BadVarSpec {
        /// Item number (0-based).
        item: u8,
        /// The byte found.
        spec: u8,
    },
}

impl BodyError {
    /// The anomaly it raises.
    pub fn anomaly(&self) -> S7Anomaly {
        match self {
            BodyError::LengthMismatch { .. } => S7Anomaly::S7BadLength,
            _ => S7Anomaly::S7MalformedBody,
        }
    }
}

impl core::fmt::Display for BodyError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            BodyError::LengthMismatch { param_len, data_len, available } => write!(
                f,
                "S7 parameter length {param_len} + data length {data_len} do not match the {available} bytes after the header"
            ),
            BodyError::Truncated { part, needed, actual } => write!(
                f,
                "S7 {} part of {actual} bytes, needs {needed}",
                part.name()
            ),
            BodyError::TrailingBytes { part, extra } => {
                write!(f, "S7 {} part has {extra} bytes after its items", part.name())
            }
            BodyError::BadVarSpec { item, spec } => {
                write!(f, "S7 item {item} starts with {spec:#04x}, not the variable specification 0x12")
            }
        }
    }
}

/// A cursor over one part with length-checked reads.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    part: Part,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8], part: Part) -> Self {
        Reader { buf, pos: 0, part }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], BodyError> {
        let end = self.pos + n;
        let bytes = self.buf.get(self.pos..end).ok_or(BodyError::Truncated {
            part: self.part,
            needed: end,
            actual: self.buf.len(),
        })?;
        self.pos = end;
        Ok(bytes)
    }

    fn u8(&mut self) -> Result<u8, BodyError> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, BodyError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Result<u32, BodyError> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn counted(&mut self) -> Result<&'a [u8], BodyError> {
        let n = self.u8()?;
        self.take(usize::from(n))
    }

    fn rest(&self) -> &'a [u8] {
        self.buf.get(self.pos..).unwrap_or(&[])
    }

    fn at_end(&self) -> bool {
        self.pos >= self.buf.len()
    }
}

/// One S7comm PDU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pdu<'a> {
    /// The header.
    pub header: Header,
    /// The whole PDU, header included.
    pub bytes: &'a [u8],
    /// Parameter part (clamped to the bytes present).
    pub param: &'a [u8],
    /// Data part (clamped to the bytes present).
    pub data: &'a [u8],
    /// The decoded body, or why it does not fit.
    pub body: Result<Body<'a>, BodyError>,
}

impl<'a> Pdu<'a> {
    /// Decodes a PDU. `continuation` says the PDU answers a follow-up request
    /// of a multi-part userdata answer (its data has no sub-header).
    pub fn parse(bytes: &'a [u8], continuation: bool) -> Result<Pdu<'a>, HeaderError> {
        let Some(&id) = bytes.get(field::PROTOCOL_ID) else {
            return Err(HeaderError::Truncated {
                needed: HEADER_LEN,
                actual: 0,
            });
        };
        if id != PROTOCOL_ID {
            return Err(HeaderError::BadProtocolId(id));
        }
        let rosctr = Rosctr::from(bytes.get(field::ROSCTR).copied().unwrap_or(0));
        let hlen = header_len(rosctr);
        let Some(h) = bytes.get(..hlen) else {
            return Err(HeaderError::Truncated {
                needed: hlen,
                actual: bytes.len(),
            });
        };
        let be = |at: usize| u16::from_be_bytes([h[at], h[at + 1]]);
        let is_ack = hlen == ACK_HEADER_LEN;
        let header = Header {
            rosctr,
            redundancy_id: be(field::REDUNDANCY_ID),
            pdu_ref: be(field::PDU_REF),
            param_len: be(field::PARAM_LEN),
            data_len: be(field::DATA_LEN),
            error_class: is_ack.then(|| ErrorClass::from(h[field::ERROR_CLASS])),
            error_code: is_ack.then(|| h[field::ERROR_CODE]),
        };
        let after = &bytes[hlen..];
        let plen = usize::from(header.param_len);
        let dlen = usize::from(header.data_len);
        let param = &after[..plen.min(after.len())];
        let data = &after[param.len()..(plen + dlen).min(after.len())];
        let body = if plen + dlen != after.len() {
            Err(BodyError::LengthMismatch {
                param_len: header.param_len,
                data_len: header.data_len,
                available: after.len(),
            })
        } else {
            decode_body(&header, param, data, continuation)
        };
        Ok(Pdu {
            header,
            bytes,
            param,
            data,
            body,
        })
    }

    /// The job function (first parameter byte of jobs and acks).
    pub fn function(&self) -> Option<Function> {
        match self.header.rosctr {
            Rosctr::Job | Rosctr::Ack | Rosctr::AckData => {
                self.param.first().map(|&f| Function::from(f))
            }
            _ => None,
        }
    }

    /// The userdata view, when this is a well-formed userdata PDU.
    pub fn userdata(&self) -> Option<&Userdata<'a>> {
        match &self.body {
            Ok(Body::Userdata(u)) => Some(u),
            _ => None,
        }
    }
}

/// The decoded parameter and data parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body<'a> {
    /// No parameter part (an ack that only carries the header's error).
    Empty,
    /// An ack_data echoing the function (and possibly a status byte).
    Ack {
        /// Function acknowledged.
        function: Function,
        /// Status byte, when present.
        status: Option<u8>,
    },
    /// Setup communication (job and ack_data have the same layout).
    SetupCommunication(Setup),
    /// Read var job: the items to read.
    ReadVarRequest(VarItems<'a>),
    /// Read var ack_data: one data item per requested item.
    ReadVarResponse(DataItems<'a>),
    /// Write var job: the items and the values written.
    WriteVarRequest {
        /// Items.
        items: VarItems<'a>,
        /// Values.
        data: DataItems<'a>,
    },
    /// Write var ack_data: one return code per item.
    WriteVarResponse(ReturnCodes<'a>),
    /// Block download / upload functions (0x1a–0x1f).
    BlockControl(BlockControl<'a>),
    /// PLC control (PI service) job.
    PlcControl(PiService<'a>),
    /// PLC stop job.
    PlcStop {
        /// PI service name (`P_PROGRAM`).
        service: &'a [u8],
    },
    /// Userdata.
    Userdata(Userdata<'a>),
    /// A function this version does not decode; parameter and data are in the
    /// [`Pdu`].
    Raw,
}

/// Setup communication parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Setup {
    /// Maximum parallel jobs the caller accepts.
    pub max_amq_calling: u16,
    /// Maximum parallel jobs the callee accepts.
    pub max_amq_called: u16,
    /// PDU size proposed (job) or negotiated (ack_data).
    pub pdu_size: u16,
}

fn decode_body<'a>(
    header: &Header,
    param: &'a [u8],
    data: &'a [u8],
    continuation: bool,
) -> Result<Body<'a>, BodyError> {
    if header.rosctr == Rosctr::Userdata {
        return Userdata::parse(param, data, continuation).map(Body::Userdata);
    }
    let Some(&first) = param.first() else {
        return Ok(Body::Empty);
    };
    let function = Function::from(first);
    let job = header.rosctr == Rosctr::Job;
    let ack_data = header.rosctr == Rosctr::AckData;
    match function {
        Function::SetupCommunication => {
            let mut r = Reader::new(param, Part::Parameter);
            r.take(2)?;
            Ok(Body::SetupCommunication(Setup {
                max_amq_calling: r.u16()?,
                max_amq_called: r.u16()?,
                pdu_size: r.u16()?,
            }))
        }
        Function::ReadVar if job => {
            let count = *param.get(1).ok_or(BodyError::Truncated {
                part: Part::Parameter,
                needed: 2,
                actual: 1,
            })?;
            Ok(Body::ReadVarRequest(VarItems::parse(count, &param[2..])?))
        }
        Function::ReadVar if ack_data => {
            let count = *param.get(1).ok_or(BodyError::Truncated {
                part: Part::Parameter,
                needed: 2,
                actual: 1,
            })?;
            Ok(Body::ReadVarResponse(DataItems::parse(count, data)?))
        }
        Function::WriteVar if job => {
            let count = *param.get(1).ok_or(BodyError::Truncated {
                part: Part::Parameter,
                needed: 2,
                actual: 1,
            })?;
            let items = VarItems::parse(count, &param[2..])?;
            let data = DataItems::parse(count, data)?;
            Ok(Body::WriteVarRequest { items, data })
        }
        Function::WriteVar if ack_data => {
            let count = *param.get(1).ok_or(BodyError::Truncated {
                part: Part::Parameter,
                needed: 2,
                actual: 1,
            })?;
            if data.len() < usize::from(count) {
                return Err(BodyError::Truncated {
                    part: Part::Data,
                    needed: usize::from(count),
                    actual: data.len(),
                });
            }
            if data.len() > usize::from(count) {
                return Err(BodyError::TrailingBytes {
                    part: Part::Data,
                    extra: data.len() - usize::from(count),
                });
            }
            Ok(Body::WriteVarResponse(ReturnCodes(data)))
        }
        Function::RequestDownload
        | Function::DownloadBlock
        | Function::DownloadEnded
        | Function::StartUpload
        | Function::Upload
        | Function::EndUpload => {
            if job || ack_data {
                BlockControl::parse(function, job, param, data).map(Body::BlockControl)
            } else {
                Ok(Body::Raw)
            }
        }
        Function::PlcControl if job => PiService::parse(param).map(Body::PlcControl),
        Function::PlcStop if job => {
            let mut r = Reader::new(param, Part::Parameter);
            r.take(6)?;
            Ok(Body::PlcStop {
                service: r.counted()?,
            })
        }
        Function::PlcControl | Function::PlcStop if ack_data || header.rosctr == Rosctr::Ack => {
            Ok(Body::Ack {
                function,
                status: param.get(1).copied(),
            })
        }
        _ => Ok(Body::Raw),
    }
}

/// The items of a read or write var job, validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VarItems<'a> {
    count: u8,
    bytes: &'a [u8],
}

/// One item of a read or write var job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VarItem<'a> {
    /// An S7ANY address.
    Any(AnyItem),
    /// Another addressing mode, kept raw.
    Other {
        /// Syntax id.
        syntax_id: SyntaxId,
        /// Bytes after the syntax id.
        spec: &'a [u8],
    },
}

/// An S7ANY address: `area`, `db_number`, `byte_address.bit_address`,
/// `length` elements of `transport_size`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnyItem {
    /// Element type.
    pub transport_size: TransportSize,
    /// Number of elements.
    pub length: u16,
    /// DB number (0 outside DB / DI).
    pub db_number: u16,
    /// Memory area.
    pub area: Area,
    /// Byte address.
    pub byte_address: u32,
    /// Bit address (0–7).
    pub bit_address: u8,
}

impl AnyItem {
    /// The timer or counter number, for items in the timer and counter
    /// areas: there the address field holds a number, not a byte.bit
    /// address.
    pub fn number(&self) -> Option<u32> {
        matches!(self.area, Area::Timer | Area::Counter)
            .then_some(self.byte_address << 3 | u32::from(self.bit_address))
    }
}

impl<'a> VarItems<'a> {
    fn parse(count: u8, bytes: &'a [u8]) -> Result<VarItems<'a>, BodyError> {
        let mut r = Reader::new(bytes, Part::Parameter);
        for item in 0..count {
            let spec = r.u8()?;
            if spec != VAR_SPEC {
                return Err(BodyError::BadVarSpec { item, spec });
            }
            r.counted()?;
        }
        if !r.at_end() {
            return Err(BodyError::TrailingBytes {
                part: Part::Parameter,
                extra: r.rest().len(),
            });
        }
        Ok(VarItems { count, bytes })
    }

    /// Declared (and present) number of items.
    pub fn count(&self) -> u8 {
        self.count
    }

    /// Iterates over the items.
    pub fn iter(&self) -> impl Iterator<Item = VarItem<'a>> + 'a {
        let mut rest = self.bytes;
        core::iter::from_fn(move || {
            let [_, len, tail @ ..] = rest else {
                return None;
            };
            let body = tail.get(..usize::from(*len))?;
            rest = &tail[body.len()..];
            let (&syntax, spec) = body.split_first()?;
            let syntax_id = SyntaxId::from(syntax);
            Some(match spec {
                [ts, l0, l1, d0, d1, area, a0, a1, a2] if syntax_id == SyntaxId::S7Any => {
                    let address = u32::from_be_bytes([0, *a0, *a1, *a2]);
                    VarItem::Any(AnyItem {
                        transport_size: TransportSize::from(*ts),
                        length: u16::from_be_bytes([*l0, *l1]),
                        db_number: u16::from_be_bytes([*d0, *d1]),
                        area: Area::from(*area),
                        byte_address: address >> 3,
                        bit_address: (address & 7) as u8,
                    })
                }
                _ => VarItem::Other { syntax_id, spec },
            })
        })
    }
}

/// Data items of a read var answer or a write var job, validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataItems<'a> {
    count: u8,
    bytes: &'a [u8],
}

/// One data item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataItem<'a> {
    /// Return code (0 in write jobs).
    pub return_code: ReturnCode,
    /// Transport size (how `length` counts).
    pub transport_size: DataTransportSize,
    /// Length field as on the wire (bits or bytes).
    pub length: u16,
    /// The value bytes.
    pub data: &'a [u8],
}

/// Bytes of value following a data item header. An item whose return code
/// reports an error carries no value, whatever its length field says.
fn data_byte_len(return_code: ReturnCode, transport_size: DataTransportSize, length: u16) -> usize {
    if !matches!(return_code, ReturnCode::Success | ReturnCode::Reserved) {
        0
    } else if transport_size.length_in_bits() {
        usize::from(length).div_ceil(8)
    } else {
        usize::from(length)
    }
}

impl<'a> DataItems<'a> {
    fn parse(count: u8, bytes: &'a [u8]) -> Result<DataItems<'a>, BodyError> {
        let mut r = Reader::new(bytes, Part::Data);
        for item in 0..count {
            let rc = ReturnCode::from(r.u8()?);
            let ts = DataTransportSize::from(r.u8()?);
            let len = data_byte_len(rc, ts, r.u16()?);
            r.take(len)?;
            if len % 2 == 1 && item + 1 < count {
                r.take(1)?; // fill byte
            }
        }
        if !r.at_end() {
            return Err(BodyError::TrailingBytes {
                part: Part::Data,
                extra: r.rest().len(),
            });
        }
        Ok(DataItems { count, bytes })
    }

    /// Number of items.
    pub fn count(&self) -> u8 {
        self.count
    }

    /// Iterates over the items.
    pub fn iter(&self) -> impl Iterator<Item = DataItem<'a>> + 'a {
        let mut rest = self.bytes;
        let mut left = self.count;
        core::iter::from_fn(move || {
            if left == 0 {
                return None;
            }
            left -= 1;
            let [rc, ts, l0, l1, tail @ ..] = rest else {
                return None;
            };
            let return_code = ReturnCode::from(*rc);
            let transport_size = DataTransportSize::from(*ts);
            let length = u16::from_be_bytes([*l0, *l1]);
            let n = data_byte_len(return_code, transport_size, length);
            let data = tail.get(..n)?;
            let skip = if n % 2 == 1 && left > 0 { n + 1 } else { n };
            rest = tail.get(skip..).unwrap_or(&[]);
            Some(DataItem {
                return_code,
                transport_size,
                length,
                data,
            })
        })
    }
}

/// Return codes of a write var answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReturnCodes<'a>(&'a [u8]);

impl<'a> ReturnCodes<'a> {
    /// Iterates over the codes.
    pub fn iter(&self) -> impl Iterator<Item = ReturnCode> + 'a {
        self.0.iter().map(|&b| ReturnCode::from(b))
    }

    /// Number of codes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A block named by type, number and file system (`0A00001P` or, as a
/// file name, `_0A00001P`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockId {
    /// Block type.
    pub block_type: BlockType,
    /// Block number (`None` when the five characters are not digits).
    pub number: Option<u32>,
    /// Destination file system letter (`P`, `A`, `B`).
    pub file_system: u8,
}

impl BlockId {
    /// Parses the 8-character form `TTNNNNNF`.
    pub fn parse(bytes: &[u8]) -> Option<BlockId> {
        let [t0, t1, n @ .., fs] = bytes else {
            return None;
        };
        if n.len() != 5 {
            return None;
        }
        let number = n.iter().try_fold(0u32, |acc, &d| {
            d.is_ascii_digit().then(|| acc * 10 + u32::from(d - b'0'))
        });
        Some(BlockId {
            block_type: BlockType::from(u16::from_be_bytes([*t0, *t1])),
            number,
            file_system: *fs,
        })
    }

    /// Parses a block file name `_TTNNNNNF` (or `$…` for a header upload).
    pub fn from_file_name(name: &[u8]) -> Option<BlockId> {
        match name {
            [b'_' | b'$', rest @ ..] if rest.len() == 8 => BlockId::parse(rest),
            _ => None,
        }
    }
}

/// Download / upload parameters (functions 0x1a–0x1f); fields are set as the
/// function and direction carry them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockControl<'a> {
    /// The function.
    pub function: Function,
    /// Function status byte (bit 0: more data follows, bit 1: error).
    pub status: Option<u8>,
    /// Error code (download ended, end upload).
    pub error_code: Option<u16>,
    /// Upload id (or the unused id of download jobs).
    pub upload_id: Option<u32>,
    /// File name (`_0A00001P`).
    pub file_name: Option<&'a [u8]>,
    /// Load memory length, ASCII digits (request download).
    pub load_memory_length: Option<&'a [u8]>,
    /// MC7 code length, ASCII digits (request download).
    pub mc7_code_length: Option<&'a [u8]>,
    /// Block length, ASCII digits (start upload answer).
    pub block_length: Option<&'a [u8]>,
    /// Block bytes transferred (upload answer, download block answer).
    pub block_data: Option<&'a [u8]>,
}

impl<'a> BlockControl<'a> {
    fn parse(
        function: Function,
        job: bool,
        param: &'a [u8],
        data: &'a [u8],
    ) -> Result<BlockControl<'a>, BodyError> {
        let mut bc = BlockControl {
            function,
            status: None,
            error_code: None,
            upload_id: None,
            file_name: None,
            load_memory_length: None,
            mc7_code_length: None,
            block_length: None,
            block_data: None,
        };
        let mut r = Reader::new(param, Part::Parameter);
        r.u8()?;
        if job {
            bc.status = Some(r.u8()?);
            match function {
                Function::DownloadEnded | Function::EndUpload => bc.error_code = Some(r.u16()?),
                _ => {
                    r.u16()?;
                }
            }
            bc.upload_id = Some(r.u32()?);
            if function != Function::Upload && function != Function::EndUpload {
                bc.file_name = Some(r.counted()?);
            }
            if function == Function::RequestDownload && !r.at_end() {
                let part2 = r.counted()?;
                let mut p = Reader::new(part2, Part::Parameter);
                p.u8()?;
                bc.load_memory_length = Some(p.take(6)?);
                bc.mc7_code_length = Some(p.take(6)?);
            }
            if !data.is_empty() {
                bc.block_data = Some(data);
            }
        } else {
            if !r.at_end() {
                bc.status = Some(r.u8()?);
            }
            if function == Function::StartUpload && !r.at_end() {
                r.u16()?;
                bc.upload_id = Some(r.u32()?);
                bc.block_length = Some(r.counted()?);
            }
            if !data.is_empty() {
                let mut d = Reader::new(data, Part::Data);
                let len = d.u16()?;
                d.u16()?;
                bc.block_data = Some(d.take(usize::from(len))?);
            }
        }
        Ok(bc)
    }

    /// The block named by the file name.
    pub fn block(&self) -> Option<BlockId> {
        self.file_name.and_then(BlockId::from_file_name)
    }
}

/// A PLC control (PI service) job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PiService<'a> {
    /// Parameter block.
    pub parameter: &'a [u8],
    /// Service name (`P_PROGRAM`, `_INSE`, `_DELE`, `_MODU`, `_GARB`, `_N_…`).
    pub service: &'a [u8],
}

impl<'a> PiService<'a> {
    fn parse(param: &'a [u8]) -> Result<PiService<'a>, BodyError> {
        let mut r = Reader::new(param, Part::Parameter);
        r.take(8)?;
        let len = r.u16()?;
        let parameter = r.take(usize::from(len))?;
        let service = r.counted()?;
        Ok(PiService { parameter, service })
    }

    /// Blocks named by `_INSE`, `_INS2` and `_DELE` (count, reserved byte,
    /// then 8 characters per block).
    pub fn blocks(&self) -> impl Iterator<Item = BlockId> + 'a {
        let listed = matches!(self.service, b"_INSE" | b"_INS2" | b"_DELE");
        let count = if listed {
            self.parameter.first().copied().unwrap_or(0)
        } else {
            0
        };
        let list = self.parameter.get(2..).unwrap_or(&[]);
        list.chunks_exact(8)
            .take(usize::from(count))
            .filter_map(BlockId::parse)
    }

    /// The start mode of `P_PROGRAM`: no argument is a hot (warm) restart,
    /// `C` a cold restart.
    pub fn start_mode(&self) -> Option<&'static str> {
        if self.service != b"P_PROGRAM" {
            return None;
        }
        match super::szl::trim_text(self.parameter) {
            b"" => Some("hot_start"),
            b"C" => Some("cold_start"),
            _ => None,
        }
    }

    /// The argument string of `P_PROGRAM`, `_MODU`, `_GARB`.
    pub fn argument(&self) -> Option<&'a [u8]> {
        matches!(self.service, b"P_PROGRAM" | b"_MODU" | b"_GARB").then_some(self.parameter)
    }

    /// Length-prefixed arguments of the Sinumerik `_N_…` services (each
    /// string padded to an odd length).
    pub fn nc_arguments(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        let mut rest = if self.service.starts_with(b"_N_") {
            self.parameter
        } else {
            &[]
        };
        core::iter::from_fn(move || {
            let (&len, tail) = rest.split_first()?;
            let value = tail.get(..usize::from(len))?;
            let skip = usize::from(len) + usize::from(len % 2 == 0);
            rest = tail.get(skip..).unwrap_or(&[]);
            Some(value)
        })
    }
}

/// A userdata PDU: the parameter head and the data part's return code,
/// transport size and payload, with the payload decoded where known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Userdata<'a> {
    /// Method (0x11 request, 0x12 response/push).
    pub method: u8,
    /// Type: push, request or response.
    pub kind: UserdataType,
    /// Function group.
    pub group: UserdataGroup,
    /// Subfunction within the group.
    pub subfunction: u8,
    /// Sequence number.
    pub sequence: u8,
    /// Data unit reference (multi-part answers).
    pub data_unit_ref: Option<u8>,
    /// Whether this is the last data unit.
    pub last_data_unit: Option<bool>,
    /// Error code of a response.
    pub error_code: Option<u16>,
    /// Return code of the data part.
    pub return_code: Option<ReturnCode>,
    /// Transport size of the data part.
    pub transport_size: Option<DataTransportSize>,
    /// The payload after the 4-byte data header.
    pub payload: &'a [u8],
    /// The payload decoded.
    pub detail: Detail<'a>,
}

/// A decoded userdata payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detail<'a> {
    /// Not decoded: kept raw in [`Userdata::payload`].
    None,
    /// Read SZL request.
    SzlRequest {
        /// SZL id.
        id: u16,
        /// SZL index.
        index: u16,
    },
    /// Read SZL answer (first fragment).
    SzlResponse(SzlResponse<'a>),
    /// A follow-up request or a later fragment of a multi-part answer.
    Continuation,
    /// List blocks answer: (block type, count) pairs.
    ListBlocks(&'a [u8]),
    /// List blocks of type request.
    ListBlocksOfTypeRequest(BlockType),
    /// List blocks of type answer: (number, flags, language) entries.
    ListBlocksOfTypeResponse(&'a [u8]),
    /// Block info request.
    BlockInfoRequest(BlockId),
    /// Block info answer.
    BlockInfoResponse(BlockInfo<'a>),
    /// A clock value (read clock answer, set clock request).
    Clock(S7Time),
    /// A PLC password (the scrambled value is never reported).
    Password {
        /// Length of the value.
        length: usize,
    },
}

impl<'a> Userdata<'a> {
    fn parse(
        param: &'a [u8],
        data: &'a [u8],
        continuation: bool,
    ) -> Result<Userdata<'a>, BodyError> {
        // The fields are positional: the length byte after the 3-byte head
        // is not trusted (mode-transition pushes of S7-300 CPUs announce 16
        // bytes in an 8-byte parameter); the parameter length in the header
        // decides whether the 4 response fields are present.
        let mut r = Reader::new(param, Part::Parameter);
        r.take(4)?;
        let method = r.u8()?;
        let type_group = r.u8()?;
        let subfunction = r.u8()?;
        let sequence = r.u8()?;
        let (mut data_unit_ref, mut last_data_unit, mut error_code) = (None, None, None);
        if param.len() >= USERDATA_RESPONSE_PARAM_LEN {
            data_unit_ref = Some(r.u8()?);
            last_data_unit = Some(r.u8()? == 0);
            error_code = Some(r.u16()?);
        }
        let kind = UserdataType::from(type_group >> 6);
        let group = UserdataGroup::from(type_group & 0x3f);
        let (mut return_code, mut transport_size, mut payload) = (None, None, &[][..]);
        if !data.is_empty() {
            let mut d = Reader::new(data, Part::Data);
            return_code = Some(ReturnCode::from(d.u8()?));
            transport_size = Some(DataTransportSize::from(d.u8()?));
            let len = d.u16()?;
            payload = d.take(usize::from(len))?;
        }
        let mut ud = Userdata {
            method,
            kind,
            group,
            subfunction,
            sequence,
            data_unit_ref,
            last_data_unit,
            error_code,
            return_code,
            transport_size,
            payload,
            detail: Detail::None,
        };
        ud.detail = ud.decode_detail(continuation);
        Ok(ud)
    }

    fn decode_detail(&self, continuation: bool) -> Detail<'a> {
        let p = self.payload;
        let request = self.kind == UserdataType::Request;
        let response = self.kind == UserdataType::Response;
        let ok = self.return_code == Some(ReturnCode::Success);
        match self.group {
            UserdataGroup::CpuFunctions
                if CpuSubfunction::from(self.subfunction) == CpuSubfunction::ReadSzl =>
            {
                if request {
                    match p {
                        [a, b, c, d, ..] => Detail::SzlRequest {
                            id: u16::from_be_bytes([*a, *b]),
                            index: u16::from_be_bytes([*c, *d]),
                        },
                        [] if self.data_unit_ref.is_some() => Detail::Continuation,
                        _ => Detail::None,
                    }
                } else if response && continuation {
                    Detail::Continuation
                } else if response && ok {
                    SzlResponse::parse(p).map_or(Detail::None, Detail::SzlResponse)
                } else {
                    Detail::None
                }
            }
            UserdataGroup::BlockFunctions => match BlockSubfunction::from(self.subfunction) {
                BlockSubfunction::ListBlocks if response && ok => Detail::ListBlocks(p),
                BlockSubfunction::ListBlocksOfType if request => match p {
                    [a, b] => {
                        Detail::ListBlocksOfTypeRequest(BlockType::from(u16::from_be_bytes([
                            *a, *b,
                        ])))
                    }
                    _ => Detail::None,
                },
                BlockSubfunction::ListBlocksOfType if response && ok => {
                    Detail::ListBlocksOfTypeResponse(p)
                }
                BlockSubfunction::BlockInfo if request => {
                    BlockId::parse(p).map_or(Detail::None, Detail::BlockInfoRequest)
                }
                BlockSubfunction::BlockInfo if response && ok => {
                    BlockInfo::parse(p).map_or(Detail::None, Detail::BlockInfoResponse)
                }
                _ => Detail::None,
            },
            UserdataGroup::TimeFunctions => {
                let sub = TimeSubfunction::from(self.subfunction);
                let carries_time = match sub {
                    TimeSubfunction::ReadClock | TimeSubfunction::ReadClockFollowing => {
                        response && ok
                    }
                    TimeSubfunction::SetClock | TimeSubfunction::SetClock2 => request,
                    TimeSubfunction::Unknown(_) => false,
                };
                match S7Time::parse(p) {
                    Some(t) if carries_time => Detail::Clock(t),
                    _ => Detail::None,
                }
            }
            UserdataGroup::Security
                if SecuritySubfunction::from(self.subfunction)
                    == SecuritySubfunction::PlcPassword
                    && request =>
            {
                Detail::Password { length: p.len() }
            }
            _ => Detail::None,
        }
    }

    /// (block type, count) pairs of a list blocks answer.
    pub fn block_counts(&self) -> impl Iterator<Item = (BlockType, u16)> + 'a {
        let p = match self.detail {
            Detail::ListBlocks(p) => p,
            _ => &[],
        };
        p.chunks_exact(4).map(|c| {
            (
                BlockType::from(u16::from_be_bytes([c[0], c[1]])),
                u16::from_be_bytes([c[2], c[3]]),
            )
        })
    }

    /// (number, flags, language) entries of a list blocks of type answer.
    pub fn block_list(&self) -> impl Iterator<Item = (u16, u8, BlockLanguage)> + 'a {
        let p = match self.detail {
            Detail::ListBlocksOfTypeResponse(p) => p,
            _ => &[],
        };
        p.chunks_exact(4).map(|c| {
            (
                u16::from_be_bytes([c[0], c[1]]),
                c[2],
                BlockLanguage::from(c[3]),
            )
        })
    }
}

/// A block info answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockInfo<'a> {
    /// Block type.
    pub block_type: BlockType,
    /// Block number.
    pub number: u16,
    /// Language.
    pub language: BlockLanguage,
    /// Block flags.
    pub flags: u8,
    /// Length in load memory.
    pub load_memory_length: u32,
    /// MC7 code length.
    pub mc7_code_length: u16,
    /// Author (8 characters).
    pub author: &'a [u8],
    /// Family (8 characters).
    pub family: &'a [u8],
    /// Name (8 characters).
    pub name: &'a [u8],
    /// Version (major in the high nibble).
    pub version: u8,
    /// Checksum.
    pub checksum: u16,
}

impl<'a> BlockInfo<'a> {
    /// Decodes the 78-byte block info answer.
    pub fn parse(p: &'a [u8]) -> Option<BlockInfo<'a>> {
        let p = p.get(..70)?;
        Some(BlockInfo {
            flags: p[9],
            language: BlockLanguage::from(p[10]),
            block_type: BlockType::from_numeric(p[11]),
            number: u16::from_be_bytes([p[12], p[13]]),
            load_memory_length: u32::from_be_bytes([p[14], p[15], p[16], p[17]]),
            mc7_code_length: u16::from_be_bytes([p[40], p[41]]),
            author: &p[42..50],
            family: &p[50..58],
            name: &p[58..66],
            version: p[66],
            checksum: u16::from_be_bytes([p[68], p[69]]),
        })
    }
}

/// A PLC clock value (BCD on the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct S7Time {
    /// Year.
    pub year: u16,
    /// Month (1–12).
    pub month: u8,
    /// Day (1–31).
    pub day: u8,
    /// Hour.
    pub hour: u8,
    /// Minute.
    pub minute: u8,
    /// Second.
    pub second: u8,
    /// Milliseconds.
    pub millis: u16,
    /// Weekday (1 = Sunday).
    pub weekday: u8,
}

fn bcd(b: u8) -> Option<u8> {
    let (hi, lo) = (b >> 4, b & 0x0f);
    (hi < 10 && lo < 10).then_some(hi * 10 + lo)
}

impl S7Time {
    /// Decodes the 10-byte clock value (two reserved bytes, then year (BCD,
    /// 90–99 = 19xx), month, day, hour, minute, second, milliseconds and
    /// weekday).
    pub fn parse(p: &[u8]) -> Option<S7Time> {
        let [_, _, y, mo, d, h, mi, s, ms0, ms1] = p else {
            return None;
        };
        let yy = u16::from(bcd(*y)?);
        let ms_hi = bcd(*ms0)?;
        let ms_lo = bcd(ms1 & 0xf0)? / 10;
        Some(S7Time {
            year: if yy < 90 { 2000 + yy } else { 1900 + yy },
            month: bcd(*mo)?,
            day: bcd(*d)?,
            hour: bcd(*h)?,
            minute: bcd(*mi)?,
            second: bcd(*s)?,
            millis: u16::from(ms_hi) * 10 + u16::from(ms_lo),
            weekday: ms1 & 0x0f,
        })
    }
}

impl core::fmt::Display for S7Time {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}",
            self.year, self.month, self.day, self.hour, self.minute, self.second, self.millis
        )
    }
}
