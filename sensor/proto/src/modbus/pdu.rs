//! Decoding of Modbus PDUs (function code + data) into borrowed views.
//!
//! [`decode_request`] and [`decode_response`] take the PDU bytes (after the
//! MBAP header) and return a typed body. The function code is always known from
//! the first byte; a body that does not fit its function is a [`PduError`]
//! carrying the offending values, and the caller keeps the PDU with its error.

use super::codes::{
    DeviceIdCode, DeviceObjectId, DiagnosticSubfunction, ExceptionCode, FunctionCode, MeiType,
    UmasCode,
};
use super::ModbusAnomaly;

/// Largest PDU (function code + data) allowed on Modbus/TCP.
pub const MAX_PDU_LEN: usize = 253;

/// Spec limits on quantities per function.
pub mod limits {
    /// Coils or discrete inputs per read (function 1, 2).
    pub const READ_BITS: u16 = 2000;
    /// Registers per read (3, 4, and the read part of 23).
    pub const READ_REGISTERS: u16 = 125;
    /// Coils per write (15).
    pub const WRITE_COILS: u16 = 1968;
    /// Registers per write (16).
    pub const WRITE_REGISTERS: u16 = 123;
    /// Registers in the write part of function 23.
    pub const RW_WRITE_REGISTERS: u16 = 121;
    /// Registers in a FIFO queue (24).
    pub const FIFO_COUNT: u16 = 31;
}

/// Why a PDU body does not fit its function. `Copy`, carries the values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PduError {
    /// No function code at all.
    Empty,
    /// Fewer bytes than the function needs.
    TooShort {
        /// Function code byte.
        function: u8,
        /// Bytes needed (whole PDU).
        needed: usize,
        /// Bytes present.
        actual: usize,
    },
    /// More bytes than the function carries.
    TrailingBytes {
        /// Function code byte.
        function: u8,
        /// Expected PDU length.
        expected: usize,
        /// Actual PDU length.
        actual: usize,
    },
    /// A byte count field disagrees with the bytes present or with the quantity.
    ByteCountMismatch {
        /// Function code byte.
        function: u8,
        /// Declared byte count.
        declared: usize,
        /// Byte count implied by the PDU length or the quantity.
        expected: usize,
    },
    /// A quantity outside what the specification allows.
    QuantityOutOfRange {
        /// Function code byte.
        function: u8,
        /// Quantity requested.
        quantity: u16,
        /// Maximum allowed.
        max: u16,
    },
    /// Write single coil with a value other than 0xFF00 or 0x0000.
    BadCoilValue(u16),
    /// A device identification object runs past the end of the PDU.
    TruncatedObject {
        /// Object id.
        object_id: u8,
    },
}

impl PduError {
    /// The anomaly it raises.
    pub fn anomaly(&self) -> ModbusAnomaly {
        match self {
            PduError::Empty => ModbusAnomaly::MbapLengthZero,
            PduError::TooShort { .. } | PduError::TrailingBytes { .. } => {
                ModbusAnomaly::LengthMismatch
            }
            PduError::ByteCountMismatch { .. } => ModbusAnomaly::ByteCountMismatch,
            PduError::QuantityOutOfRange { .. } => ModbusAnomaly::QuantityOutOfRange,
            PduError::BadCoilValue(_) => ModbusAnomaly::BadCoilValue,
            PduError::TruncatedObject { .. } => ModbusAnomaly::TruncatedDeviceIdObject,
        }
    }
}

impl core::fmt::Display for PduError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            PduError::Empty => write!(f, "PDU has no function code"),
            PduError::TooShort {
                function,
                needed,
                actual,
            } => write!(
                f,
                "function {function:#04x}: PDU of {actual} bytes, needs {needed}"
            ),
            PduError::TrailingBytes {
                function,
                expected,
                actual,
            } => write!(
                f,
                "function {function:#04x}: PDU of {actual} bytes, expected {expected}"
            ),
            PduError::ByteCountMismatch {
                function,
                declared,
                expected,
            } => write!(
                f,
                "function {function:#04x}: byte count {declared}, expected {expected}"
            ),
            PduError::QuantityOutOfRange {
                function,
                quantity,
                max,
            } => write!(
                f,
                "function {function:#04x}: quantity {quantity} outside 1..={max}"
            ),
            PduError::BadCoilValue(v) => {
                write!(f, "coil value {v:#06x} is neither 0xff00 nor 0x0000")
            }
            PduError::TruncatedObject { object_id } => {
                write!(
                    f,
                    "device identification object {object_id:#04x} is truncated"
                )
            }
        }
    }
}

/// A request body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request<'a> {
    /// Functions 1–4: read `quantity` items from `address`.
    Read {
        /// Starting address (0-based, as on the wire).
        address: u16,
        /// Number of coils, inputs or registers.
        quantity: u16,
    },
    /// Function 5.
    WriteSingleCoil {
        /// Coil address.
        address: u16,
        /// `true` for ON (0xFF00).
        on: bool,
    },
    /// Function 6.
    WriteSingleRegister {
        /// Register address.
        address: u16,
        /// Value written.
        value: u16,
    },
    /// Functions 7, 11, 12, 17: no data.
    NoData,
    /// Function 8.
    Diagnostics {
        /// Sub-function.
        subfunction: DiagnosticSubfunction,
        /// Data field.
        data: &'a [u8],
    },
    /// Function 15.
    WriteMultipleCoils {
        /// Starting address.
        address: u16,
        /// Number of coils.
        quantity: u16,
        /// Packed coil values, LSB first.
        values: &'a [u8],
    },
    /// Function 16.
    WriteMultipleRegisters {
        /// Starting address.
        address: u16,
        /// Number of registers.
        quantity: u16,
        /// Register values, big-endian pairs.
        values: &'a [u8],
    },
    /// Function 20: sub-requests of 7 bytes (reference type, file, record, length).
    ReadFileRecord {
        /// Sub-request bytes.
        subrequests: &'a [u8],
    },
    /// Function 21: sub-requests with their record data.
    WriteFileRecord {
        /// Sub-request bytes.
        subrequests: &'a [u8],
    },
    /// Function 22.
    MaskWriteRegister {
        /// Register address.
        address: u16,
        /// AND mask.
        and_mask: u16,
        /// OR mask.
        or_mask: u16,
    },
    /// Function 23.
    ReadWriteMultipleRegisters {
        /// Read starting address.
        read_address: u16,
        /// Registers to read.
        read_quantity: u16,
        /// Write starting address.
        write_address: u16,
        /// Registers to write.
        write_quantity: u16,
        /// Values written, big-endian pairs.
        values: &'a [u8],
    },
    /// Function 24.
    ReadFifoQueue {
        /// FIFO pointer address.
        address: u16,
    },
    /// Function 43 / MEI 14.
    ReadDeviceIdentification {
        /// Access code.
        code: DeviceIdCode,
        /// First (or only) object id.
        object_id: u8,
    },
    /// Function 43 with another MEI type.
    Encapsulated {
        /// MEI type.
        mei: MeiType,
        /// MEI data.
        data: &'a [u8],
    },
    /// Function 90: UMAS.
    Umas {
        /// Session key byte.
        session: u8,
        /// UMAS function.
        code: UmasCode,
        /// Bytes after the UMAS code.
        data: &'a [u8],
    },
    /// Unknown, user-defined or vendor function: raw data after the code.
    Raw(&'a [u8]),
}

/// A response body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Response<'a> {
    /// Exception response (function code with bit 7 set).
    Exception(ExceptionCode),
    /// Functions 1, 2: packed bits.
    Bits {
        /// Packed bit values, LSB first.
        values: &'a [u8],
    },
    /// Functions 3, 4, 23: register values.
    Registers {
        /// Big-endian register pairs.
        values: &'a [u8],
    },
    /// Functions 5, 6: echo of the request.
    WriteSingle {
        /// Address.
        address: u16,
        /// Value (0xFF00/0x0000 for a coil).
        value: u16,
    },
    /// Function 7.
    ExceptionStatus {
        /// Eight exception status bits.
        status: u8,
    },
    /// Function 8: echo or counter value.
    Diagnostics {
        /// Sub-function.
        subfunction: DiagnosticSubfunction,
        /// Data field.
        data: &'a [u8],
    },
    /// Function 11.
    CommEventCounter {
        /// Status word (0xFFFF = busy).
        status: u16,
        /// Event count.
        event_count: u16,
    },
    /// Function 12.
    CommEventLog {
        /// Status word.
        status: u16,
        /// Event count.
        event_count: u16,
        /// Bus message count.
        message_count: u16,
        /// Event bytes, newest first.
        events: &'a [u8],
    },
    /// Functions 15, 16: echo of address and quantity.
    WriteMultiple {
        /// Starting address.
        address: u16,
        /// Quantity written.
        quantity: u16,
    },
    /// Function 17: device-specific server id, run indicator and data.
    ServerId {
        /// Bytes after the byte count.
        data: &'a [u8],
    },
    /// Functions 20, 21: file record data.
    FileRecord {
        /// Sub-response bytes.
        data: &'a [u8],
    },
    /// Function 22: echo.
    MaskWriteRegister {
        /// Register address.
        address: u16,
        /// AND mask.
        and_mask: u16,
        /// OR mask.
        or_mask: u16,
    },
    /// Function 24.
    FifoQueue {
        /// Number of registers in the queue.
        count: u16,
        /// Values, big-endian pairs.
        values: &'a [u8],
    },
    /// Function 43 / MEI 14.
    DeviceIdentification(DeviceId<'a>),
    /// Function 43 with another MEI type.
    Encapsulated {
        /// MEI type.
        mei: MeiType,
        /// MEI data.
        data: &'a [u8],
    },
    /// Function 90.
    Umas {
        /// Session key byte.
        session: u8,
        /// Status code (0xFE ok, 0xFD error) or echoed function.
        code: UmasCode,
        /// Bytes after the code.
        data: &'a [u8],
    },
    /// Unknown, user-defined or vendor function: raw data after the code.
    Raw(&'a [u8]),
}

/// A read device identification response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceId<'a> {
    /// Access code echoed.
    pub code: DeviceIdCode,
    /// Conformity level.
    pub conformity: u8,
    /// More objects follow in another transaction.
    pub more_follows: bool,
    /// Next object id to ask for.
    pub next_object_id: u8,
    /// Number of objects in this response.
    pub count: u8,
    /// Object list bytes (id, length, value)…, validated.
    objects: &'a [u8],
}

impl<'a> DeviceId<'a> {
    /// Iterates the objects: (id, value bytes).
    pub fn objects(&self) -> DeviceObjects<'a> {
        DeviceObjects { rest: self.objects }
    }

    /// The value of one object, if present.
    pub fn object(&self, id: DeviceObjectId) -> Option<&'a [u8]> {
        let raw = id.raw();
        self.objects().find(|(oid, _)| *oid == raw).map(|(_, v)| v)
    }
}

/// Iterator over device identification objects.
#[derive(Debug, Clone)]
pub struct DeviceObjects<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for DeviceObjects<'a> {
    type Item = (u8, &'a [u8]);
    fn next(&mut self) -> Option<Self::Item> {
        let (&id, after) = self.rest.split_first()?;
        let (&len, after) = after.split_first()?;
        let len = usize::from(len);
        if after.len() < len {
            self.rest = &[];
            return None;
        }
        let (value, rest) = after.split_at(len);
        self.rest = rest;
        Some((id, value))
    }
}

#[inline]
fn be16(b: &[u8], at: usize) -> u16 {
    match b.get(at..at + 2) {
        Some(&[x, y]) => u16::from_be_bytes([x, y]),
        _ => 0,
    }
}

fn need(pdu: &[u8], needed: usize) -> Result<(), PduError> {
    if pdu.len() < needed {
        Err(PduError::TooShort {
            function: pdu.first().copied().unwrap_or(0),
            needed,
            actual: pdu.len(),
        })
    } else {
        Ok(())
    }
}

fn exact(pdu: &[u8], expected: usize) -> Result<(), PduError> {
    need(pdu, expected)?;
    if pdu.len() > expected {
        return Err(PduError::TrailingBytes {
            function: pdu[0],
            expected,
            actual: pdu.len(),
        });
    }
    Ok(())
}

fn quantity(function: u8, quantity: u16, max: u16) -> Result<(), PduError> {
    if quantity == 0 || quantity > max {
        Err(PduError::QuantityOutOfRange {
            function,
            quantity,
            max,
        })
    } else {
        Ok(())
    }
}

/// Checks a byte count at `at` against the bytes after it; returns those bytes.
fn counted(pdu: &[u8], at: usize) -> Result<&[u8], PduError> {
    need(pdu, at + 1)?;
    let declared = usize::from(pdu[at]);
    let present = pdu.len() - at - 1;
    if declared != present {
        return Err(PduError::ByteCountMismatch {
            function: pdu[0],
            declared,
            expected: present,
        });
    }
    Ok(&pdu[at + 1..])
}

/// The function code of a PDU with the exception bit removed, and whether the
/// bit was set.
pub fn function_of(pdu: &[u8]) -> Option<(FunctionCode, bool)> {
    let &first = pdu.first()?;
    Some((FunctionCode::from(first & 0x7f), first & 0x80 != 0))
}

/// Decodes a request PDU (client to server).
pub fn decode_request(pdu: &[u8]) -> Result<Request<'_>, PduError> {
    let Some(&fc) = pdu.first() else {
        return Err(PduError::Empty);
    };
    use FunctionCode as F;
    match FunctionCode::from(fc) {
        F::ReadCoils | F::ReadDiscreteInputs | F::ReadHoldingRegisters | F::ReadInputRegisters => {
            exact(pdu, 5)?;
            let max = if fc <= 2 {
                limits::READ_BITS
            } else {
                limits::READ_REGISTERS
            };
            let q = be16(pdu, 3);
            quantity(fc, q, max)?;
            Ok(Request::Read {
                address: be16(pdu, 1),
                quantity: q,
            })
        }
        F::WriteSingleCoil => {
            exact(pdu, 5)?;
            let value = be16(pdu, 3);
            match value {
                0xff00 | 0x0000 => Ok(Request::WriteSingleCoil {
                    address: be16(pdu, 1),
                    on: value == 0xff00,
                }),
                other => Err(PduError::BadCoilValue(other)),
            }
        }
        F::WriteSingleRegister => {
            exact(pdu, 5)?;
            Ok(Request::WriteSingleRegister {
                address: be16(pdu, 1),
                value: be16(pdu, 3),
            })
        }
        F::ReadExceptionStatus
        | F::GetCommEventCounter
        | F::GetCommEventLog
        | F::ReportServerId => {
            exact(pdu, 1)?;
            Ok(Request::NoData)
        }
        F::Diagnostics => {
            need(pdu, 3)?;
            Ok(Request::Diagnostics {
                subfunction: DiagnosticSubfunction::from(be16(pdu, 1)),
                data: &pdu[3..],
            })
        }
        F::WriteMultipleCoils | F::WriteMultipleRegisters => {
            need(pdu, 6)?;
            let q = be16(pdu, 3);
            let values = counted(pdu, 5)?;
            let (max, expected) = if fc == 15 {
                (limits::WRITE_COILS, usize::from(q).div_ceil(8))
            } else {
                (limits::WRITE_REGISTERS, usize::from(q) * 2)
            };
            quantity(fc, q, max)?;
            if values.len() != expected {
                return Err(PduError::ByteCountMismatch {
                    function: fc,
                    declared: values.len(),
                    expected,
                });
            }
            let address = be16(pdu, 1);
            Ok(if fc == 15 {
                Request::WriteMultipleCoils {
                    address,
                    quantity: q,
                    values,
                }
            } else {
                Request::WriteMultipleRegisters {
                    address,
                    quantity: q,
                    values,
                }
            })
        }
        F::ReadFileRecord => {
            let subrequests = counted(pdu, 1)?;
            if subrequests.is_empty() || subrequests.len() % 7 != 0 {
                return Err(PduError::ByteCountMismatch {
                    function: fc,
                    declared: subrequests.len(),
                    expected: subrequests.len().div_ceil(7).max(1) * 7,
                });
            }
            Ok(Request::ReadFileRecord { subrequests })
        }
        F::WriteFileRecord => Ok(Request::WriteFileRecord {
            subrequests: counted(pdu, 1)?,
        }),
        F::MaskWriteRegister => {
            exact(pdu, 7)?;
            Ok(Request::MaskWriteRegister {
                address: be16(pdu, 1),
                and_mask: be16(pdu, 3),
                or_mask: be16(pdu, 5),
            })
        }
        F::ReadWriteMultipleRegisters => {
            need(pdu, 10)?;
            let read_quantity = be16(pdu, 3);
            let write_quantity = be16(pdu, 7);
            quantity(fc, read_quantity, limits::READ_REGISTERS)?;
            quantity(fc, write_quantity, limits::RW_WRITE_REGISTERS)?;
            let values = counted(pdu, 9)?;
            if values.len() != usize::from(write_quantity) * 2 {
                return Err(PduError::ByteCountMismatch {
                    function: fc,
                    declared: values.len(),
                    expected: usize::from(write_quantity) * 2,
                });
            }
            Ok(Request::ReadWriteMultipleRegisters {
                read_address: be16(pdu, 1),
                read_quantity,
                write_address: be16(pdu, 5),
                write_quantity,
                values,
            })
        }
        F::ReadFifoQueue => {
            exact(pdu, 3)?;
            Ok(Request::ReadFifoQueue {
                address: be16(pdu, 1),
            })
        }
        F::EncapsulatedInterfaceTransport => {
            need(pdu, 2)?;
            let mei = MeiType::from(pdu[1]);
            if mei == MeiType::ReadDeviceIdentification {
                exact(pdu, 4)?;
                Ok(Request::ReadDeviceIdentification {
                    code: DeviceIdCode::from(pdu[2]),
                    object_id: pdu[3],
                })
            } else {
                Ok(Request::Encapsulated {
                    mei,
                    data: &pdu[2..],
                })
            }
        }
        F::Umas => {
            need(pdu, 3)?;
            Ok(Request::Umas {
                session: pdu[1],
                code: UmasCode::from(pdu[2]),
                data: &pdu[3..],
            })
        }
        F::ModiconProgram | F::ModiconProgram2 | F::Unknown(_) => Ok(Request::Raw(&pdu[1..])),
    }
}

/// Decodes a response PDU (server to client).
pub fn decode_response(pdu: &[u8]) -> Result<Response<'_>, PduError> {
    let Some(&first) = pdu.first() else {
        return Err(PduError::Empty);
    };
    if first & 0x80 != 0 {
        exact(pdu, 2)?;
        return Ok(Response::Exception(ExceptionCode::from(pdu[1])));
    }
    let fc = first;
    use FunctionCode as F;
    match FunctionCode::from(fc) {
        F::ReadCoils | F::ReadDiscreteInputs => Ok(Response::Bits {
            values: counted(pdu, 1)?,
        }),
        F::ReadHoldingRegisters | F::ReadInputRegisters | F::ReadWriteMultipleRegisters => {
            let values = counted(pdu, 1)?;
            if values.len() % 2 != 0 {
                return Err(PduError::ByteCountMismatch {
                    function: fc,
                    declared: values.len(),
                    expected: values.len() + 1,
                });
            }
            Ok(Response::Registers { values })
        }
        F::WriteSingleCoil | F::WriteSingleRegister => {
            exact(pdu, 5)?;
            Ok(Response::WriteSingle {
                address: be16(pdu, 1),
                value: be16(pdu, 3),
            })
        }
        F::ReadExceptionStatus => {
            exact(pdu, 2)?;
            Ok(Response::ExceptionStatus { status: pdu[1] })
        }
        F::Diagnostics => {
            need(pdu, 3)?;
            Ok(Response::Diagnostics {
                subfunction: DiagnosticSubfunction::from(be16(pdu, 1)),
                data: &pdu[3..],
            })
        }
        F::GetCommEventCounter => {
            exact(pdu, 5)?;
            Ok(Response::CommEventCounter {
                status: be16(pdu, 1),
                event_count: be16(pdu, 3),
            })
        }
        F::GetCommEventLog => {
            let body = counted(pdu, 1)?;
            if body.len() < 6 {
                return Err(PduError::TooShort {
                    function: fc,
                    needed: 8,
                    actual: pdu.len(),
                });
            }
            Ok(Response::CommEventLog {
                status: be16(body, 0),
                event_count: be16(body, 2),
                message_count: be16(body, 4),
                events: &body[6..],
            })
        }
        F::WriteMultipleCoils | F::WriteMultipleRegisters => {
            exact(pdu, 5)?;
            Ok(Response::WriteMultiple {
                address: be16(pdu, 1),
                quantity: be16(pdu, 3),
            })
        }
        F::ReportServerId => Ok(Response::ServerId {
            data: counted(pdu, 1)?,
        }),
        F::ReadFileRecord | F::WriteFileRecord => Ok(Response::FileRecord {
            data: counted(pdu, 1)?,
        }),
        F::MaskWriteRegister => {
            exact(pdu, 7)?;
            Ok(Response::MaskWriteRegister {
                address: be16(pdu, 1),
                and_mask: be16(pdu, 3),
                or_mask: be16(pdu, 5),
            })
        }
        F::ReadFifoQueue => {
            need(pdu, 5)?;
            let byte_count = usize::from(be16(pdu, 1));
            let count = be16(pdu, 3);
            let implied = usize::from(count) * 2 + 2;
            if byte_count != pdu.len() - 3 || implied != byte_count {
                return Err(PduError::ByteCountMismatch {
                    function: fc,
                    declared: byte_count,
                    expected: if byte_count != pdu.len() - 3 {
                        pdu.len() - 3
                    } else {
                        implied
                    },
                });
            }
            if count > limits::FIFO_COUNT {
                return Err(PduError::QuantityOutOfRange {
                    function: fc,
                    quantity: count,
                    max: limits::FIFO_COUNT,
                });
            }
            Ok(Response::FifoQueue {
                count,
                values: &pdu[5..],
            })
        }
        F::EncapsulatedInterfaceTransport => {
            need(pdu, 2)?;
            let mei = MeiType::from(pdu[1]);
            if mei != MeiType::ReadDeviceIdentification {
                return Ok(Response::Encapsulated {
                    mei,
                    data: &pdu[2..],
                });
            }
            need(pdu, 7)?;
            let objects = &pdu[7..];
            let count = pdu[6];
            // Validate the object list once so that iteration never stops early.
            let mut rest = objects;
            for _ in 0..count {
                let Some((&id, after)) = rest.split_first() else {
                    return Err(PduError::TruncatedObject { object_id: 0xff });
                };
                let Some((&len, after)) = after.split_first() else {
                    return Err(PduError::TruncatedObject { object_id: id });
                };
                if after.len() < usize::from(len) {
                    return Err(PduError::TruncatedObject { object_id: id });
                }
                rest = &after[usize::from(len)..];
            }
            if !rest.is_empty() {
                return Err(PduError::TrailingBytes {
                    function: fc,
                    expected: pdu.len() - rest.len(),
                    actual: pdu.len(),
                });
            }
            Ok(Response::DeviceIdentification(DeviceId {
                code: DeviceIdCode::from(pdu[2]),
                conformity: pdu[3],
                more_follows: pdu[4] == 0xff,
                next_object_id: pdu[5],
                count,
                objects,
            }))
        }
        F::Umas => {
            need(pdu, 3)?;
            Ok(Response::Umas {
                session: pdu[1],
                code: UmasCode::from(pdu[2]),
                data: &pdu[3..],
            })
        }
        F::ModiconProgram | F::ModiconProgram2 | F::Unknown(_) => Ok(Response::Raw(&pdu[1..])),
    }
}

/// Why a response does not answer its request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mismatch {
    /// Different function codes.
    Function {
        /// Request function.
        request: u8,
        /// Response function (exception bit removed).
        response: u8,
    },
    /// Returned data does not have the size the request asked for.
    DataSize {
        /// Bytes expected from the request.
        expected: usize,
        /// Bytes returned.
        actual: usize,
    },
    /// An echo differs from the request.
    Echo {
        /// Name of the echoed field.
        field: &'static str,
        /// Value in the request.
        request: u16,
        /// Value in the response.
        response: u16,
    },
}

impl core::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            Mismatch::Function { request, response } => write!(
                f,
                "response function {response:#04x} does not answer request function {request:#04x}"
            ),
            Mismatch::DataSize { expected, actual } => write!(
                f,
                "response carries {actual} data bytes, the request asked for {expected}"
            ),
            Mismatch::Echo {
                field,
                request,
                response,
            } => write!(
                f,
                "response echoes {field} {response:#06x}, the request had {request:#06x}"
            ),
        }
    }
}

/// Checks that a response answers a request.
pub fn check_pair(request_pdu: &[u8], response_pdu: &[u8]) -> Result<(), Mismatch> {
    let (Some(&req_fc), Some(&resp_fc)) = (request_pdu.first(), response_pdu.first()) else {
        return Ok(());
    };
    if req_fc != resp_fc & 0x7f {
        return Err(Mismatch::Function {
            request: req_fc,
            response: resp_fc & 0x7f,
        });
    }
    let (Ok(req), Ok(resp)) = (decode_request(request_pdu), decode_response(response_pdu)) else {
        return Ok(()); // malformed halves are reported on their own
    };
    let echo = |field, request, response| {
        if request == response {
            Ok(())
        } else {
            Err(Mismatch::Echo {
                field,
                request,
                response,
            })
        }
    };
    match (req, resp) {
        (Request::Read { quantity, .. }, Response::Bits { values }) => {
            let expected = usize::from(quantity).div_ceil(8);
            if values.len() != expected {
                return Err(Mismatch::DataSize {
                    expected,
                    actual: values.len(),
                });
            }
        }
        (Request::Read { quantity, .. }, Response::Registers { values })
        | (
            Request::ReadWriteMultipleRegisters {
                read_quantity: quantity,
                ..
            },
            Response::Registers { values },
        ) => {
            let expected = usize::from(quantity) * 2;
            if values.len() != expected {
                return Err(Mismatch::DataSize {
                    expected,
                    actual: values.len(),
                });
            }
        }
        (
            Request::WriteSingleRegister { address, value },
            Response::WriteSingle {
                address: a,
                value: v,
            },
        ) => {
            echo("address", address, a)?;
            echo("value", value, v)?;
        }
        (
            Request::WriteSingleCoil { address, on },
            Response::WriteSingle {
                address: a,
                value: v,
            },
        ) => {
            echo("address", address, a)?;
            echo("value", if on { 0xff00 } else { 0 }, v)?;
        }
        (
            Request::WriteMultipleCoils {
                address, quantity, ..
            },
            Response::WriteMultiple {
                address: a,
                quantity: q,
            },
        )
        | (
            Request::WriteMultipleRegisters {
                address, quantity, ..
            },
            Response::WriteMultiple {
                address: a,
                quantity: q,
            },
        ) => {
            echo("address", address, a)?;
            echo("quantity", quantity, q)?;
        }
        (
            Request::Diagnostics { subfunction, .. },
            Response::Diagnostics { subfunction: s, .. },
        ) => {
            echo("subfunction", subfunction.raw(), s.raw())?;
        }
        (
            Request::MaskWriteRegister {
                address,
                and_mask,
                or_mask,
            },
            Response::MaskWriteRegister {
                address: a,
                and_mask: am,
                or_mask: om,
            },
        ) => {
            echo("address", address, a)?;
            echo("and_mask", and_mask, am)?;
            echo("or_mask", or_mask, om)?;
        }
        _ => {}
    }
    Ok(())
}
