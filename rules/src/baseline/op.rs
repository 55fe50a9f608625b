//! What a transaction does, in the terms the baseline learns: an
//! [`Op`] (a class, a function code, a few qualifiers such as the unit id or
//! the DB number, and the address range it touches).
//!
//! Each protocol's rules file (`protocols/modbus.rs`, …) says how its
//! transactions map to operations; this module holds the vocabulary.

use core::fmt;

/// What an operation does to the process, most consequential first (the
/// order a reviewer reads a baseline in).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OpClass {
    /// Firmware update.
    Firmware,
    /// Program or configuration transfer (download, upload, block
    /// insertion or deletion, file transfer).
    Program,
    /// Operating mode: stop, start, restart, listen-only, password.
    Mode,
    /// Control of outputs (DNP3 select/operate, freeze).
    Control,
    /// Writes of data.
    Write,
    /// Device identification (Modbus 43/14, S7 SZL, UMAS ids).
    Identify,
    /// Diagnostics and counters.
    Diagnostic,
    /// Reads of data.
    Read,
    /// Session housekeeping (setup, keep-alive, confirmations, time).
    Session,
    /// Anything else, including unknown functions.
    Other,
}

impl OpClass {
    /// Every class, in review order.
    pub const ALL: [OpClass; 10] = [
        OpClass::Firmware,
        OpClass::Program,
        OpClass::Mode,
        OpClass::Control,
        OpClass::Write,
        OpClass::Identify,
        OpClass::Diagnostic,
        OpClass::Read,
        OpClass::Session,
        OpClass::Other,
    ];

    /// Name in baseline files and alerts.
    pub fn name(self) -> &'static str {
        match self {
            OpClass::Firmware => "firmware",
            OpClass::Program => "program",
            OpClass::Mode => "mode",
            OpClass::Control => "control",
            OpClass::Write => "write",
            OpClass::Identify => "identify",
            OpClass::Diagnostic => "diagnostic",
            OpClass::Read => "read",
            OpClass::Session => "session",
            OpClass::Other => "other",
        }
    }

    /// Looks a class up by name.
    pub fn from_name(name: &str) -> Option<OpClass> {
        OpClass::ALL.into_iter().find(|c| c.name() == name)
    }

    /// Firmware, program, mode and control: operations that change what
    /// the controller does, not only its data.
    pub fn is_control(self) -> bool {
        matches!(
            self,
            OpClass::Firmware | OpClass::Program | OpClass::Mode | OpClass::Control
        )
    }

    /// Writes and the control classes: operations that change the process.
    pub fn changes_process(self) -> bool {
        self.is_control() || self == OpClass::Write
    }

    pub(crate) fn bit(self) -> u16 {
        1 << self as u16
    }
}

/// A qualifier of an operation: what, besides the function code, tells
/// two operations apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Qual {
    /// Modbus unit id.
    Unit,
    /// S7 memory area.
    Area,
    /// S7 data block number.
    Db,
    /// S7 SZL id.
    Szl,
    /// DNP3 object group.
    Group,
    /// DNP3 object variation.
    Variation,
    /// A sub-function (Modbus diagnostics, MEI type, UMAS code, S7
    /// userdata subfunction).
    Subfunction,
    /// A second code under the sub-function (device identification access
    /// code, S7 userdata group).
    Code,
    /// S7 block type.
    BlockType,
    /// S7 PI service or DNP3 file name.
    Service,
    /// CIP class.
    Class,
    /// CIP instance.
    Instance,
    /// Logix tag (its first symbol).
    Tag,
}

impl Qual {
    /// Every qualifier, in the order they are written.
    pub const ALL: [Qual; 13] = [
        Qual::Unit,
        Qual::Area,
        Qual::Db,
        Qual::Szl,
        Qual::Group,
        Qual::Variation,
        Qual::Subfunction,
        Qual::Code,
        Qual::BlockType,
        Qual::Service,
        Qual::Class,
        Qual::Instance,
        Qual::Tag,
    ];

    /// Key in baseline files.
    pub fn name(self) -> &'static str {
        match self {
            Qual::Unit => "unit",
            Qual::Area => "area",
            Qual::Db => "db",
            Qual::Szl => "szl",
            Qual::Group => "group",
            Qual::Variation => "variation",
            Qual::Subfunction => "subfunction",
            Qual::Code => "code",
            Qual::BlockType => "block_type",
            Qual::Service => "service",
            Qual::Class => "cip_class",
            Qual::Instance => "instance",
            Qual::Tag => "tag",
        }
    }

    /// Looks a qualifier up by name.
    pub fn from_name(name: &str) -> Option<Qual> {
        Qual::ALL.into_iter().find(|q| q.name() == name)
    }

    /// Whether its values are text ([`Qual::Service`], [`Qual::Tag`])
    /// rather than numbers.
    pub fn is_text(self) -> bool {
        matches!(self, Qual::Service | Qual::Tag)
    }
}

/// A qualifier's value, borrowed from the transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QualValue<'a> {
    /// A number.
    Num(u32),
    /// Text from the packet (attacker-controlled bytes).
    Text(&'a [u8]),
}

/// Qualifiers an operation has at most.
pub const MAX_QUALS: usize = 3;

/// One operation of a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Op<'a> {
    /// What it does.
    pub class: OpClass,
    /// Function code (Modbus, DNP3, S7 job function; S7 userdata: group *
    /// 256 + subfunction + 0x10000; S7comm-plus: opcode * 65536 + function
    /// + 0x1000000).
    pub code: u32,
    /// The function's name, when known.
    pub name: Option<&'static str>,
    /// Qualifiers, in [`Qual`] order.
    pub quals: [Option<(Qual, QualValue<'a>)>; MAX_QUALS],
    /// First and last address, index or byte touched.
    pub range: Option<(u32, u32)>,
}

impl<'a> Op<'a> {
    /// An operation with no qualifier and no range.
    pub fn new(class: OpClass, code: u32, name: Option<&'static str>) -> Op<'a> {
        Op {
            class,
            code,
            name,
            quals: [None; MAX_QUALS],
            range: None,
        }
    }

    /// Adds a numeric qualifier (ignored beyond [`MAX_QUALS`]).
    pub fn with(self, qual: Qual, value: u32) -> Op<'a> {
        self.with_value(qual, QualValue::Num(value))
    }

    /// Adds a text qualifier.
    pub fn with_text(self, qual: Qual, value: &'a [u8]) -> Op<'a> {
        self.with_value(qual, QualValue::Text(value))
    }

    fn with_value(mut self, qual: Qual, value: QualValue<'a>) -> Op<'a> {
        if let Some(slot) = self.quals.iter_mut().find(|q| q.is_none()) {
            *slot = Some((qual, value));
        }
        self
    }

    /// Sets the range touched, `first..=last`.
    pub fn range(mut self, first: u32, last: u32) -> Op<'a> {
        self.range = Some((first.min(last), first.max(last)));
        self
    }

    /// The identity of the operation, without its range: what a baseline
    /// entry is looked up by.
    pub fn key(&self) -> OpKey {
        let mut h = Fnv::new();
        h.u32(self.class as u32);
        h.u32(self.code);
        for (q, v) in self.quals.iter().flatten() {
            h.u32(*q as u32);
            match v {
                QualValue::Num(n) => h.u32(*n),
                QualValue::Text(t) => h.bytes(t),
            }
        }
        OpKey(h.0)
    }
}

/// The 64-bit hash of an operation's class, code and qualifiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OpKey(pub u64);

/// FNV-1a, 64-bit: deterministic across runs and machines (keys are
/// recomputed when a baseline file is loaded, so no seed may differ).
pub(crate) struct Fnv(pub(crate) u64);

impl Fnv {
    pub(crate) fn new() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }

    pub(crate) fn bytes(&mut self, bytes: &[u8]) {
        // Length first, so that ("ab", "c") and ("a", "bc") differ.
        self.u32(bytes.len() as u32);
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }

    pub(crate) fn u32(&mut self, v: u32) {
        for b in v.to_le_bytes() {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }

    pub(crate) fn u64(&mut self, v: u64) {
        self.u32(v as u32);
        self.u32((v >> 32) as u32);
    }
}

/// Text from a packet, shown with non-printable bytes escaped.
pub(crate) struct Printable<'a>(pub(crate) &'a [u8]);

impl fmt::Display for Printable<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            if b.is_ascii_graphic() || *b == b' ' {
                write!(f, "{}", *b as char)?;
            } else {
                write!(f, "\\x{b:02x}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_tell_class_code_and_qualifiers_apart_but_not_ranges() {
        let read = Op::new(OpClass::Read, 3, Some("read_holding_registers")).with(Qual::Unit, 1);
        assert_eq!(read.key(), read.range(0, 9).key());
        assert_ne!(read.key(), read.with(Qual::Db, 1).key());
        assert_ne!(
            read.key(),
            Op::new(OpClass::Read, 3, None).with(Qual::Unit, 2).key()
        );
        assert_ne!(
            Op::new(OpClass::Read, 23, None).key(),
            Op::new(OpClass::Write, 23, None).key()
        );
        let a = Op::new(OpClass::Mode, 0x28, None).with_text(Qual::Service, b"P_PROGRAM");
        let b = Op::new(OpClass::Mode, 0x28, None).with_text(Qual::Service, b"_INSE");
        assert_ne!(a.key(), b.key());
        // A fourth qualifier has no room and is ignored.
        let full = Op::new(OpClass::Read, 1, None)
            .with(Qual::Unit, 1)
            .with(Qual::Area, 2)
            .with(Qual::Db, 3);
        assert_eq!(full.key(), full.with(Qual::Szl, 4).key());
    }

    #[test]
    fn class_names_round_trip_in_review_order() {
        for (i, c) in OpClass::ALL.into_iter().enumerate() {
            assert_eq!(OpClass::from_name(c.name()), Some(c));
            assert_eq!(c as usize, i);
        }
        assert!(OpClass::Program.is_control() && !OpClass::Write.is_control());
        assert!(OpClass::Write.changes_process() && !OpClass::Identify.changes_process());
        for q in Qual::ALL {
            assert_eq!(Qual::from_name(q.name()), Some(q));
        }
    }

    #[test]
    fn packet_text_is_shown_escaped() {
        assert_eq!(Printable(b"P_\x00\"x").to_string(), "P_\\x00\"x");
    }
}
