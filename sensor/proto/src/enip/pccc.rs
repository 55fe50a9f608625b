//! PCCC (the DF1 command set of PLC-5, SLC 500 and MicroLogix controllers)
//! carried in CIP by the PCCC object's Execute_PCCC service: a requestor
//! id, then the command byte, status, transaction number, and for the
//! command groups with functions (0x06, 0x07, 0x0F) a function code.

use super::{le16, le32};

/// One PCCC command or reply from Execute_PCCC data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Command<'a> {
    /// Requestor vendor id.
    pub vendor: u16,
    /// Requestor serial number.
    pub serial: u32,
    /// The command byte (the reply bit 0x40 set in replies).
    pub command: u8,
    /// Status (0 in commands).
    pub status: u8,
    /// Transaction number.
    pub transaction: u16,
    /// Function code, for the command groups that have one.
    pub function: Option<u8>,
    /// The bytes after the function code.
    pub data: &'a [u8],
}

impl<'a> Command<'a> {
    /// Decodes an Execute_PCCC request's data (requestor id first).
    pub fn parse(b: &'a [u8]) -> Option<Command<'a>> {
        let id_len = usize::from(*b.first()?);
        if id_len < 7 {
            return None;
        }
        let vendor = le16(b, 1)?;
        let serial = le32(b, 3)?;
        let p = b.get(id_len..)?;
        let command = *p.first()?;
        let status = *p.get(1)?;
        let transaction = le16(p, 2)?;
        let with_function = matches!(command & 0x0F, 0x06 | 0x07 | 0x0F) && command & 0x40 == 0;
        let (function, data) = if with_function {
            (Some(*p.get(4)?), &p[5..])
        } else {
            (None, &p[4..])
        };
        Some(Command {
            vendor,
            serial,
            command,
            status,
            transaction,
            function,
            data,
        })
    }

    /// The function's name (`word_range_read`, `change_cpu_mode`).
    pub fn name(&self) -> Option<&'static str> {
        function_name(self.command, self.function?)
    }

    /// Whether the function changes the controller: its mode, program,
    /// memory or configuration (not data-table reads and writes).
    pub fn changes_controller(&self) -> bool {
        matches!(
            (self.command & 0x0F, self.function),
            (0x07, Some(_))
                | (0x0F, Some(0x05 | 0x07 | 0x0A | 0x11 | 0x3A | 0x41 | 0x50 | 0x52 | 0x53 | 0x55 | 0x57 | 0x5E | 0x80 | 0x8F))
                | (0x06, Some(0x02 | 0x04 | 0x05 | 0x06 | 0x07 | 0x08 | 0x0A))
        )
    }
}

/// The name of function `function` of PCCC command `command`.
pub fn function_name(command: u8, function: u8) -> Option<&'static str> {
    Some(match (command & 0x0F, function) {
        (0x06, 0x00) => "echo",
        (0x06, 0x01) => "read_diagnostic_counters",
        (0x06, 0x02) => "set_variables",
        (0x06, 0x03) => "diagnostic_status",
        (0x06, 0x04) => "set_timeout",
        (0x06, 0x05) => "set_naks",
        (0x06, 0x06) => "set_enqs",
        (0x06, 0x07) => "reset_diagnostic_counters",
        (0x06, 0x08) => "set_data_table_size",
        (0x06, 0x09) => "read_link_parameters",
        (0x06, 0x0a) => "set_link_parameters",
        (0x07, 0x00) => "disable_outputs",
        (0x07, 0x01) => "enable_outputs",
        (0x07, 0x03) => "enable_plc_scanning",
        (0x07, 0x04) => "enter_download_mode",
        (0x07, 0x05) => "exit_download_upload_mode",
        (0x07, 0x06) => "enter_upload_mode",
        (0x0f, 0x00) => "word_range_write",
        (0x0f, 0x01) => "word_range_read",
        (0x0f, 0x02) => "bit_write",
        (0x0f, 0x03) => "file_write",
        (0x0f, 0x04) => "file_read",
        (0x0f, 0x05) => "download_request",
        (0x0f, 0x06) => "upload",
        (0x0f, 0x07) => "shutdown",
        (0x0f, 0x08) => "physical_write",
        (0x0f, 0x09) => "physical_read",
        (0x0f, 0x0a) => "restart_request",
        (0x0f, 0x11) => "get_edit_resource",
        (0x0f, 0x12) => "return_edit_resource",
        (0x0f, 0x17) => "read_bytes_physical",
        (0x0f, 0x18) => "write_bytes_physical",
        (0x0f, 0x26) => "read_modify_write",
        (0x0f, 0x29) => "read_section_size",
        (0x0f, 0x3a) => "set_cpu_mode",
        (0x0f, 0x41) => "disable_forces",
        (0x0f, 0x50) => "download_all_request",
        (0x0f, 0x52) => "download_completed",
        (0x0f, 0x53) => "upload_all_request_upload",
        (0x0f, 0x55) => "upload_completed",
        (0x0f, 0x57) => "initialize_memory",
        (0x0f, 0x5e) => "modify_plc_2_compatibility_file",
        (0x0f, 0x67) => "typed_write",
        (0x0f, 0x68) => "typed_read",
        (0x0f, 0x79) => "read_modify_write_n",
        (0x0f, 0x80) => "change_cpu_mode",
        (0x0f, 0x81) => "open_file",
        (0x0f, 0x82) => "close_file",
        (0x0f, 0x88) => "execute_multiple_commands",
        (0x0f, 0x8f) => "apply_port_configuration",
        (0x0f, 0xa1) => "protected_typed_logical_read_with_two_address_fields",
        (0x0f, 0xa2) => "protected_typed_logical_read_with_three_address_fields",
        (0x0f, 0xa7) => "protected_typed_file_read",
        (0x0f, 0xa9) => "protected_typed_logical_write_with_two_address_fields",
        (0x0f, 0xaa) => "protected_typed_logical_write_with_three_address_fields",
        (0x0f, 0xab) => "protected_typed_logical_masked_write_with_three_address_fields",
        (0x0f, 0xaf) => "protected_typed_file_write",
        _ => return None,
    })
}
