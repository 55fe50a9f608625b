//! A small streaming JSON writer into a reusable byte buffer.
//!
//! Events are written straight from borrowed protocol views into one buffer that
//! the caller clears and reuses, so producing an EVE line allocates nothing once
//! the buffer has grown to its working size. Strings are escaped per RFC 8259;
//! bytes that are not valid UTF-8 (packet data is attacker-controlled) are written
//! as `\u00XX` escapes of the byte value, so every line is valid JSON and no byte
//! is silently lost.

use std::io::Write as _;

/// A protocol code point with an optional name: every `open_enum!` type.
pub trait Code: Copy {
    /// The raw value.
    fn code(self) -> u64;
    /// The snake_case name, `None` when unknown.
    fn code_name(self) -> Option<&'static str>;
}

/// Maximum nesting depth tracked for comma placement.
const MAX_DEPTH: u32 = 63;

/// Writes one JSON value (usually an object) into a byte buffer.
#[derive(Debug)]
pub struct JsonWriter<'b> {
    buf: &'b mut Vec<u8>,
    /// Bit `d` is set when the container at depth `d` already holds an element.
    has_element: u64,
    depth: u32,
    /// Set after `key()`: the next value belongs to that key and needs no comma.
    after_key: bool,
}

impl<'b> JsonWriter<'b> {
    /// Starts writing at the end of `buf` (which is not cleared).
    pub fn new(buf: &'b mut Vec<u8>) -> Self {
        JsonWriter {
            buf,
            has_element: 0,
            depth: 0,
            after_key: false,
        }
    }

    fn before_value(&mut self) {
        if self.after_key {
            self.after_key = false;
            return;
        }
        let bit = 1u64 << self.depth.min(MAX_DEPTH);
        if self.has_element & bit != 0 {
            self.buf.push(b',');
        }
        self.has_element |= bit;
    }

    fn open(&mut self, byte: u8) {
        self.before_value();
        self.buf.push(byte);
        self.depth = (self.depth + 1).min(MAX_DEPTH);
        self.has_element &= !(1u64 << self.depth);
    }

    fn close(&mut self, byte: u8) {
        self.buf.push(byte);
        self.has_element &= !(1u64 << self.depth);
        self.depth = self.depth.saturating_sub(1);
    }

    /// Opens an object.
    pub fn begin_object(&mut self) -> &mut Self {
        self.open(b'{');
        self
    }

    /// Closes the innermost object.
    pub fn end_object(&mut self) -> &mut Self {
        self.close(b'}');
        self
    }

    /// Opens an array.
    pub fn begin_array(&mut self) -> &mut Self {
        self.open(b'[');
        self
    }

    /// Closes the innermost array.
    pub fn end_array(&mut self) -> &mut Self {
        self.close(b']');
        self
    }

    /// Writes an object key; the next call writes its value.
    pub fn key(&mut self, key: &str) -> &mut Self {
        self.before_value();
        write_escaped_str(self.buf, key);
        self.buf.push(b':');
        self.after_key = true;
        self
    }

    /// Writes a string value.
    pub fn str(&mut self, value: &str) -> &mut Self {
        self.before_value();
        write_escaped_str(self.buf, value);
        self
    }

    /// Writes bytes from the wire as a string: valid UTF-8 as text, other bytes
    /// as `\u00XX` escapes.
    pub fn bytes_str(&mut self, value: &[u8]) -> &mut Self {
        self.before_value();
        write_escaped(self.buf, value);
        self
    }

    /// Writes bytes as a lower-case hex string.
    pub fn hex(&mut self, value: &[u8]) -> &mut Self {
        self.before_value();
        self.buf.push(b'"');
        for byte in value {
            self.buf.push(HEX[usize::from(byte >> 4)]);
            self.buf.push(HEX[usize::from(byte & 0x0f)]);
        }
        self.buf.push(b'"');
        self
    }

    /// Writes an unsigned integer.
    pub fn u64(&mut self, value: u64) -> &mut Self {
        self.before_value();
        self.buf
            .extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
        self
    }

    /// Writes a signed integer.
    pub fn i64(&mut self, value: i64) -> &mut Self {
        self.before_value();
        self.buf
            .extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
        self
    }

    /// Writes a float; non-finite values become `null` (JSON has no NaN).
    pub fn f64(&mut self, value: f64) -> &mut Self {
        self.before_value();
        if value.is_finite() {
            let _ = write!(self.buf, "{value}");
        } else {
            self.buf.extend_from_slice(b"null");
        }
        self
    }

    /// Writes a boolean.
    pub fn bool(&mut self, value: bool) -> &mut Self {
        self.before_value();
        self.buf
            .extend_from_slice(if value { b"true" } else { b"false" });
        self
    }

    /// Writes `null`.
    pub fn null(&mut self) -> &mut Self {
        self.before_value();
        self.buf.extend_from_slice(b"null");
        self
    }

    /// Writes an IP address as a JSON string (IPv4 without `core::fmt`: it is
    /// on every line).
    pub fn ip(&mut self, ip: std::net::IpAddr) -> &mut Self {
        match ip {
            std::net::IpAddr::V4(v4) => {
                self.before_value();
                self.buf.push(b'"');
                let mut digits = itoa::Buffer::new();
                for (i, octet) in v4.octets().into_iter().enumerate() {
                    if i > 0 {
                        self.buf.push(b'.');
                    }
                    self.buf.extend_from_slice(digits.format(octet).as_bytes());
                }
                self.buf.push(b'"');
                self
            }
            std::net::IpAddr::V6(v6) => self.display(v6),
        }
    }

    /// Writes a value produced by `Display` as a JSON string (escaped).
    pub fn display(&mut self, value: impl core::fmt::Display) -> &mut Self {
        self.before_value();
        let start = self.buf.len();
        let _ = write!(self.buf, "{value}");
        // Escape in place only when needed (rare: names and numbers are plain).
        let needs_escape = self.buf[start..]
            .iter()
            .any(|&b| b < 0x20 || b == b'"' || b == b'\\');
        if needs_escape {
            let raw: Vec<u8> = self.buf.split_off(start);
            write_escaped(self.buf, &raw);
        } else {
            self.buf.insert(start, b'"');
            self.buf.push(b'"');
        }
        self
    }

    /// `key` then `str`.
    pub fn field_str(&mut self, key: &str, value: &str) -> &mut Self {
        self.key(key).str(value)
    }

    /// `key` then `u64`.
    pub fn field_u64(&mut self, key: &str, value: u64) -> &mut Self {
        self.key(key).u64(value)
    }

    /// `key` then `bool`.
    pub fn field_bool(&mut self, key: &str, value: bool) -> &mut Self {
        self.key(key).bool(value)
    }

    /// `key` then `hex`.
    pub fn field_hex(&mut self, key: &str, value: &[u8]) -> &mut Self {
        self.key(key).hex(value)
    }

    /// `key` then `bytes_str`.
    pub fn field_bytes_str(&mut self, key: &str, value: &[u8]) -> &mut Self {
        self.key(key).bytes_str(value)
    }

    /// `key` then an object whose members `body` writes.
    pub fn field_object(&mut self, key: &str, body: impl FnOnce(&mut Self)) -> &mut Self {
        self.key(key).begin_object();
        body(self);
        self.end_object()
    }

    /// Writes a code point as two fields: `<key>` with its number and
    /// `<name_key>` with its name (or `"unknown"`).
    pub fn field_enum(&mut self, key: &str, name_key: &str, value: impl Code) -> &mut Self {
        self.field_code(key, value.code(), name_key, value.code_name())
    }

    /// Writes an open-enum code as two fields: `<key>` with the number and
    /// `<name_key>` with its name (or `"unknown"`).
    pub fn field_code(
        &mut self,
        key: &str,
        raw: u64,
        name_key: &str,
        name: Option<&str>,
    ) -> &mut Self {
        self.key(key).u64(raw);
        self.key(name_key).str(name.unwrap_or("unknown"))
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Appends `bytes` as a quoted, escaped JSON string.
pub fn write_escaped(buf: &mut Vec<u8>, bytes: &[u8]) {
    buf.push(b'"');
    let mut rest = bytes;
    while !rest.is_empty() {
        match std::str::from_utf8(rest) {
            Ok(text) => {
                escape_str(buf, text);
                break;
            }
            Err(err) => {
                let (valid, after) = rest.split_at(err.valid_up_to());
                // `valid` is UTF-8 by construction of `valid_up_to`.
                if let Ok(text) = std::str::from_utf8(valid) {
                    escape_str(buf, text);
                }
                let bad = err.error_len().unwrap_or(after.len()).max(1);
                let (bad_bytes, tail) = after.split_at(bad.min(after.len()));
                for byte in bad_bytes {
                    push_u_escape(buf, *byte);
                }
                rest = tail;
            }
        }
    }
    buf.push(b'"');
}

/// Appends text already known to be UTF-8 as a quoted, escaped JSON string
/// (no second validation).
fn write_escaped_str(buf: &mut Vec<u8>, text: &str) {
    buf.push(b'"');
    escape_str(buf, text);
    buf.push(b'"');
}

/// Bytes that need an escape in a JSON string as otwatch writes it: control
/// characters, DEL, the quote and the backslash.
const NEEDS_ESCAPE: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = true;
        b += 1;
    }
    table[0x7f] = true;
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table
};

/// Whether any of the eight bytes of `word` needs an escape (see
/// [`NEEDS_ESCAPE`]): a control character, DEL, the quote or the backslash.
/// Exact as to
/// whether one does (the classic "has a byte below / equal to" word tricks),
/// so clean text is skipped eight bytes at a time.
#[inline]
fn word_needs_escape(word: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let below_space = word.wrapping_sub(ONES * 0x20) & !word & HIGH;
    let equal = |byte: u8| {
        let x = word ^ (ONES * u64::from(byte));
        x.wrapping_sub(ONES) & !x & HIGH
    };
    below_space | equal(b'"') | equal(b'\\') | equal(0x7f) != 0
}

fn escape_str(buf: &mut Vec<u8>, text: &str) {
    let bytes = text.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        // Eight bytes at a time; the last few padded with a letter, so that
        // a short string (most keys and names) costs one word test.
        let chunk = &bytes[i..bytes.len().min(i + 8)];
        let mut eight = [b'a'; 8];
        eight[..chunk.len()].copy_from_slice(chunk);
        if !word_needs_escape(u64::from_le_bytes(eight)) {
            i += chunk.len();
            continue;
        }
        let byte = bytes[i];
        i += 1;
        if !NEEDS_ESCAPE[usize::from(byte)] {
            continue;
        }
        let escape: Option<&[u8]> = match byte {
            b'"' => Some(b"\\\""),
            b'\\' => Some(b"\\\\"),
            b'\n' => Some(b"\\n"),
            b'\r' => Some(b"\\r"),
            b'\t' => Some(b"\\t"),
            _ => None,
        };
        buf.extend_from_slice(&bytes[start..i - 1]);
        match escape {
            Some(seq) => buf.extend_from_slice(seq),
            None => push_u_escape(buf, byte),
        }
        start = i;
    }
    buf.extend_from_slice(&bytes[start..]);
}

fn push_u_escape(buf: &mut Vec<u8>, byte: u8) {
    buf.extend_from_slice(b"\\u00");
    buf.push(HEX[usize::from(byte >> 4)]);
    buf.push(HEX[usize::from(byte & 0x0f)]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(f: impl FnOnce(&mut JsonWriter<'_>)) -> String {
        let mut buf = Vec::new();
        f(&mut JsonWriter::new(&mut buf));
        String::from_utf8(buf).expect("writer produces UTF-8")
    }

    #[test]
    fn word_scan_escapes_what_the_byte_table_escapes_at_every_position() {
        // Every byte that needs an escape, and its neighbours, at each offset
        // of a string longer than two words, against a byte-by-byte rendering.
        let by_byte = |text: &str| {
            let mut out = String::from("\"");
            for c in text.chars() {
                match c {
                    '"' => out.push_str("\\\""),
                    '\\' => out.push_str("\\\\"),
                    '\n' => out.push_str("\\n"),
                    '\r' => out.push_str("\\r"),
                    '\t' => out.push_str("\\t"),
                    c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                        out.push_str(&format!("\\u{:04x}", c as u32))
                    }
                    c => out.push(c),
                }
            }
            out.push('"');
            out
        };
        let specials = (0u8..0x21).chain([b'"', b'\\', 0x7e, 0x7f, b'!', b'#', b'[', b']']);
        for byte in specials {
            for at in 0..19 {
                let mut text: Vec<u8> = b"abcdefghijklmnopqrs".to_vec();
                text[at] = byte;
                let text = String::from_utf8(text).unwrap_or_default();
                let got = render(|w| {
                    w.str(&text);
                });
                assert_eq!(got, by_byte(&text), "byte {byte:#04x} at {at}");
            }
        }
        // Multi-byte characters pass through whole.
        let text = "température °C ✓ 温度";
        assert_eq!(
            render(|w| {
                w.str(text);
            }),
            format!("\"{text}\"")
        );
    }

    #[test]
    fn writes_ip_addresses_as_strings() {
        let v4: std::net::IpAddr = std::net::Ipv4Addr::new(10, 0, 255, 7).into();
        let v6: std::net::IpAddr = "fe80::1".parse().unwrap_or(v4);
        let text = render(|w| {
            w.begin_array().ip(v4).ip(v6).end_array();
        });
        assert_eq!(text, r#"["10.0.255.7","fe80::1"]"#);
    }

    #[test]
    fn nests_objects_and_arrays_with_commas() {
        let text = render(|w| {
            w.begin_object();
            w.field_u64("a", 1);
            w.key("b")
                .begin_array()
                .u64(2)
                .u64(3)
                .begin_object()
                .end_object();
            w.end_array();
            w.key("c").begin_object().field_bool("d", true).end_object();
            w.field_str("e", "x");
            w.end_object();
        });
        assert_eq!(text, r#"{"a":1,"b":[2,3,{}],"c":{"d":true},"e":"x"}"#);
    }

    #[test]
    fn field_object_wraps_its_members() {
        let text = render(|w| {
            w.begin_object();
            w.field_object("a", |w| {
                w.field_u64("b", 1).field_object("c", |_| {});
            });
            w.field_bool("d", false);
            w.end_object();
        });
        assert_eq!(text, r#"{"a":{"b":1,"c":{}},"d":false}"#);
    }

    #[test]
    fn every_ascii_byte_is_escaped_as_json_wants_in_keys_and_values() {
        for byte in 0u8..=0x7f {
            let text = (byte as char).to_string();
            let want = match byte {
                b'"' => "\\\"".to_string(),
                b'\\' => "\\\\".to_string(),
                b'\n' => "\\n".to_string(),
                b'\r' => "\\r".to_string(),
                b'\t' => "\\t".to_string(),
                0x00..=0x1f | 0x7f => format!("\\u{byte:04x}"),
                _ => text.clone(),
            };
            let value = render(|w| {
                w.str(&text);
            });
            assert_eq!(value, format!("\"{want}\""), "byte {byte:#04x}");
            let key = render(|w| {
                w.begin_object().key(&text).null().end_object();
            });
            assert_eq!(key, format!("{{\"{want}\":null}}"), "byte {byte:#04x}");
            // Bytes from the wire take the same escapes.
            let wire = render(|w| {
                w.bytes_str(&[byte]);
            });
            assert_eq!(wire, value, "byte {byte:#04x}");
        }
    }

    #[test]
    fn integers_render_at_their_extremes() {
        let text = render(|w| {
            w.begin_array()
                .u64(0)
                .u64(u64::MAX)
                .i64(i64::MIN)
                .i64(-1)
                .end_array();
        });
        assert_eq!(text, "[0,18446744073709551615,-9223372036854775808,-1]");
    }

    #[test]
    fn escapes_attacker_strings() {
        let text = render(|w| {
            w.bytes_str(b"<script>\"q\"\\\n\x01\xff\xfeok\xc3\xa9");
        });
        assert_eq!(text, r#""<script>\"q\"\\\n\u0001\u00ff\u00feoké""#);
        let value: serde_like::Value = serde_like::parse(&text);
        assert!(value.is_string);
    }

    #[test]
    fn hex_and_display() {
        let text = render(|w| {
            w.begin_array()
                .hex(&[0x00, 0xab, 0x10])
                .display(42)
                .display("a\"b")
                .end_array();
        });
        assert_eq!(text, r#"["00ab10","42","a\"b"]"#);
    }

    /// Minimal validity check without a JSON dependency in this crate.
    mod serde_like {
        pub(super) struct Value {
            pub(super) is_string: bool,
        }
        pub(super) fn parse(text: &str) -> Value {
            let bytes = text.as_bytes();
            let mut escaped = false;
            for &b in &bytes[1..bytes.len() - 1] {
                assert!(b >= 0x20, "raw control byte in JSON string");
                if escaped {
                    escaped = false;
                } else if b == b'\\' {
                    escaped = true;
                } else {
                    assert_ne!(b, b'"', "unescaped quote");
                }
            }
            Value {
                is_string: bytes[0] == b'"' && bytes[bytes.len() - 1] == b'"',
            }
        }
    }
}
