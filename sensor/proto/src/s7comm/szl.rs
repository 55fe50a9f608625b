//! SZL (System-Zustandsliste, system status list) answers that identify a
//! device: module identification (partial list 0x11) and component
//! identification (partial list 0x1c); and the operating mode (partial list
//! 0x24: RUN, STOP, …). Other lists are kept raw.

/// Record length of a module identification record (0x0011 / 0x0111).
pub const MODULE_ID_RECORD_LEN: u16 = 28;
/// Record length of a component identification record (0x001c / 0x011c).
pub const COMPONENT_RECORD_LEN: u16 = 34;
/// Record length of an operating mode record (0x0424 and the other xy24
/// lists).
pub const MODE_RECORD_LEN: u16 = 20;

/// The header and records of the first fragment of a Read SZL answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SzlResponse<'a> {
    /// SZL id.
    pub id: u16,
    /// SZL index.
    pub index: u16,
    /// Length of one record in bytes.
    pub record_len: u16,
    /// Number of records in the whole list (all fragments).
    pub record_count: u16,
    /// Record bytes in this fragment (the last record may be cut off when
    /// the answer continues in another PDU).
    pub records: &'a [u8],
}

impl<'a> SzlResponse<'a> {
    /// Decodes the 8-byte SZL header and keeps the records; `None` when the
    /// payload is shorter than the header.
    pub fn parse(payload: &'a [u8]) -> Option<SzlResponse<'a>> {
        let head = payload.get(..8)?;
        Some(SzlResponse {
            id: u16::from_be_bytes([head[0], head[1]]),
            index: u16::from_be_bytes([head[2], head[3]]),
            record_len: u16::from_be_bytes([head[4], head[5]]),
            record_count: u16::from_be_bytes([head[6], head[7]]),
            records: payload.get(8..).unwrap_or(&[]),
        })
    }

    /// Whole records present in this fragment.
    pub fn records(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        let len = usize::from(self.record_len).max(1);
        let usable = if self.record_len == 0 {
            &[][..]
        } else {
            self.records
        };
        usable.chunks_exact(len)
    }

    /// Module identification records, when this is partial list 0x11.
    pub fn module_ids(&self) -> impl Iterator<Item = ModuleId<'a>> + 'a {
        let ok = self.id & 0xff == 0x11 && self.record_len == MODULE_ID_RECORD_LEN;
        self.records()
            .filter(move |_| ok)
            .filter_map(ModuleId::parse)
    }

    /// Operating mode records, when this is partial list 0x24.
    pub fn modes(&self) -> impl Iterator<Item = ModeRecord> + 'a {
        let ok = self.id & 0xff == 0x24 && self.record_len == MODE_RECORD_LEN;
        self.records()
            .filter(move |_| ok)
            .filter_map(ModeRecord::parse)
    }

    /// Component identification records, when this is partial list 0x1c.
    pub fn components(&self) -> impl Iterator<Item = Component<'a>> + 'a {
        let ok = self.id & 0xff == 0x1c && self.record_len == COMPONENT_RECORD_LEN;
        self.records()
            .filter(move |_| ok)
            .filter_map(Component::parse)
    }
}

/// One module identification record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModuleId<'a> {
    /// Record index: 1 module, 6 basic hardware, 7 basic firmware, …
    pub index: u16,
    /// Order number (MLFB), 20 characters, blank-padded.
    pub order_number: &'a [u8],
    /// Module type id.
    pub module_type: u16,
    /// Version, first word (for index 7: 'V' and the major number).
    pub version_high: u16,
    /// Version, second word (minor and patch).
    pub version_low: u16,
}

impl<'a> ModuleId<'a> {
    fn parse(record: &'a [u8]) -> Option<ModuleId<'a>> {
        let r = record.get(..28)?;
        Some(ModuleId {
            index: u16::from_be_bytes([r[0], r[1]]),
            order_number: &r[2..22],
            module_type: u16::from_be_bytes([r[22], r[23]]),
            version_high: u16::from_be_bytes([r[24], r[25]]),
            version_low: u16::from_be_bytes([r[26], r[27]]),
        })
    }

    /// The version as `V3.2.7` when the first byte is a letter (firmware,
    /// boot loader records).
    pub fn version(&self) -> Option<Version> {
        let [prefix, major] = self.version_high.to_be_bytes();
        let [minor, patch] = self.version_low.to_be_bytes();
        prefix.is_ascii_uppercase().then_some(Version {
            prefix,
            major,
            minor,
            patch,
        })
    }
}

/// A firmware version (`V3.2.7`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Version {
    /// Prefix letter (`V` for released firmware).
    pub prefix: u8,
    /// Major.
    pub major: u8,
    /// Minor.
    pub minor: u8,
    /// Patch.
    pub patch: u8,
}

impl core::fmt::Display for Version {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "{}{}.{}.{}",
            char::from(self.prefix),
            self.major,
            self.minor,
            self.patch
        )
    }
}

/// One operating mode record (`ereig`, `ae`, `bzu-id`, …): the mode the
/// CPU is in (or was requested to go to) and the mode before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModeRecord {
    /// Event id of the last mode transition.
    pub event_id: u16,
    /// Current (requested) mode, low nibble of `bzu-id`.
    pub mode: CpuMode,
    /// Previous mode, high nibble of `bzu-id`.
    pub previous: CpuMode,
}

impl ModeRecord {
    fn parse(record: &[u8]) -> Option<ModeRecord> {
        let [e0, e1, _ae, bzu, ..] = record else {
            return None;
        };
        Some(ModeRecord {
            event_id: u16::from_be_bytes([*e0, *e1]),
            mode: CpuMode::from(bzu & 0x0f),
            previous: CpuMode::from(bzu >> 4),
        })
    }
}

crate::open_enum! {
    /// CPU operating modes as coded in SZL xy24 records (snap7 reads the
    /// low nibble as the CPU status: 0x08 RUN, 0x04 STOP).
    pub enum CpuMode: u8 {
        /// Not given (no previous mode).
        Undefined = 0x00 => "undefined",
        /// STOP (update).
        StopUpdate = 0x01 => "stop_update",
        /// STOP (overall reset).
        StopReset = 0x02 => "stop_reset",
        /// STOP (self initialisation).
        StopInit = 0x03 => "stop_init",
        /// STOP.
        Stop = 0x04 => "stop",
        /// STARTUP (complete restart).
        StartupComplete = 0x05 => "startup_complete_restart",
        /// STARTUP (cold restart).
        StartupCold = 0x06 => "startup_cold_restart",
        /// STARTUP (restart).
        StartupRestart = 0x07 => "startup_restart",
        /// RUN.
        Run = 0x08 => "run",
        /// HOLD.
        Hold = 0x0a => "hold",
        /// DEFECT.
        Defect = 0x0d => "defect",
    }
}

/// One component identification record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Component<'a> {
    /// Record index (see [`component_name`]).
    pub index: u16,
    /// The 32-byte field (text for most indexes).
    pub value: &'a [u8],
}

impl<'a> Component<'a> {
    fn parse(record: &'a [u8]) -> Option<Component<'a>> {
        let r = record.get(..34)?;
        Some(Component {
            index: u16::from_be_bytes([r[0], r[1]]),
            value: &r[2..34],
        })
    }

    /// Whether the value is text (all indexes but 9 and 10, which are binary).
    pub fn is_text(&self) -> bool {
        !matches!(self.index, 9 | 10)
    }
}

/// Name of a component identification index.
pub fn component_name(index: u16) -> Option<&'static str> {
    Some(match index {
        1 => "automation_system_name",
        2 => "module_name",
        3 => "plant_id",
        4 => "copyright",
        5 => "serial_number",
        6 => "reserved_6",
        7 => "module_type_name",
        8 => "memory_card_serial_number",
        9 => "manufacturer_and_profile",
        10 => "oem_id",
        11 => "location_id",
        _ => return None,
    })
}

/// Name of a module identification index.
pub fn module_id_name(index: u16) -> Option<&'static str> {
    Some(match index {
        1 => "module",
        6 => "basic_hardware",
        7 => "basic_firmware",
        0x81 => "firmware_extension",
        0x82 => "firmware_extension_2",
        _ => return None,
    })
}

/// Strips trailing blanks and NULs from a fixed-width text field.
pub fn trim_text(text: &[u8]) -> &[u8] {
    let end = text
        .iter()
        .rposition(|&b| b != b' ' && b != 0)
        .map_or(0, |i| i + 1);
    &text[..end]
}

/// What an SZL answer reveals about the device; fields are trimmed text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Identity<'a> {
    /// Order number (module identification, index 1).
    pub order_number: Option<&'a [u8]>,
    /// Firmware version (module identification, index 7).
    pub firmware_version: Option<Version>,
    /// Name of the automation system (component index 1).
    pub system_name: Option<&'a [u8]>,
    /// Module name (component index 2).
    pub module_name: Option<&'a [u8]>,
    /// Plant identification (component index 3).
    pub plant_id: Option<&'a [u8]>,
    /// Serial number of the module (component index 5).
    pub serial_number: Option<&'a [u8]>,
    /// Module type name (component index 7).
    pub module_type_name: Option<&'a [u8]>,
}

impl<'a> Identity<'a> {
    /// Collects the identity strings of one SZL answer.
    pub fn from_szl(szl: &SzlResponse<'a>) -> Identity<'a> {
        let mut id = Identity::default();
        for m in szl.module_ids() {
            match m.index {
                1 => id.order_number = Some(trim_text(m.order_number)),
                7 => id.firmware_version = m.version(),
                _ => {}
            }
        }
        for c in szl.components() {
            let text = Some(trim_text(c.value));
            match c.index {
                1 => id.system_name = text,
                2 => id.module_name = text,
                3 => id.plant_id = text,
                5 => id.serial_number = text,
                7 => id.module_type_name = text,
                _ => {}
            }
        }
        id
    }

    /// Whether nothing was found.
    pub fn is_empty(&self) -> bool {
        *self == Identity::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_fixed_width_text() {
        assert_eq!(trim_text(b"PLC_1\0\0\0"), b"PLC_1");
        assert_eq!(trim_text(b"6ES7 315-2EH14-0AB0 "), b"6ES7 315-2EH14-0AB0");
        assert_eq!(trim_text(b"    "), b"");
    }

    #[test]
    fn ignores_records_of_the_wrong_length() {
        let payload = [
            0x00, 0x11, 0x00, 0x00, 0x00, 0x05, 0x00, 0x01, 1, 2, 3, 4, 5,
        ];
        let szl = SzlResponse::parse(&payload).expect("header");
        assert_eq!(szl.module_ids().count(), 0);
        assert_eq!(szl.records().count(), 1);
        assert!(Identity::from_szl(&szl).is_empty());
        assert_eq!(SzlResponse::parse(&payload[..7]), None);
    }
}
