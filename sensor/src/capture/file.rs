//! Offline capture from pcap and pcapng files.
//!
//! The file is memory-mapped and walked record by record with `pcap-parser`'s
//! streaming functions: each frame handed to the caller borrows the mapping,
//! nothing is copied and nothing is allocated per record. A truncated or
//! corrupt file stops with a [`FileError`] naming the file and the byte offset,
//! after every record before it was delivered.

// Mapping a file is the one `unsafe` operation here: `memmap2::Mmap::map` is
// unsafe because another process could truncate or rewrite the file while it
// is mapped (a SIGBUS, or bytes changing under our borrowed slices). Capture
// files are read-only inputs that otwatch opens itself; the same trade-off is
// made by every mmap-based reader. Nothing else in this module is unsafe.
#![allow(unsafe_code)]

use std::fs::File;
use std::path::{Path, PathBuf};

use otwatch_proto::event::Timestamp;
use otwatch_proto::wire::LinkType;
use pcap_parser::nom;
use pcap_parser::pcapng::Block;
use pcap_parser::{Linktype, PcapError};

use super::Frame;

/// Why a capture file could not be read (to the end).
#[derive(Debug)]
pub struct FileError {
    /// The file.
    pub path: PathBuf,
    /// Byte offset where reading stopped.
    pub offset: u64,
    /// What went wrong.
    pub kind: FileErrorKind,
}

/// What went wrong reading a capture file.
#[derive(Debug)]
pub enum FileErrorKind {
    /// The file could not be opened or mapped.
    Io(std::io::Error),
    /// Neither a pcap nor a pcapng header.
    UnknownFormat {
        /// The first four bytes.
        magic: [u8; 4],
    },
    /// The file ends in the middle of a record.
    Truncated {
        /// Bytes missing, when known.
        needed: Option<usize>,
    },
    /// A record or block is malformed.
    Corrupt(String),
}

impl std::fmt::Display for FileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let path = self.path.display();
        let offset = self.offset;
        match &self.kind {
            FileErrorKind::Io(e) => write!(f, "{path}: {e}"),
            FileErrorKind::UnknownFormat { magic } => write!(
                f,
                "{path}: not a pcap or pcapng file (magic {:02x}{:02x}{:02x}{:02x})",
                magic[0], magic[1], magic[2], magic[3]
            ),
            FileErrorKind::Truncated { needed: Some(n) } => {
                write!(
                    f,
                    "{path}: truncated at byte offset {offset} ({n} more bytes needed)"
                )
            }
            FileErrorKind::Truncated { needed: None } => {
                write!(f, "{path}: truncated at byte offset {offset}")
            }
            FileErrorKind::Corrupt(what) => {
                write!(f, "{path}: corrupt at byte offset {offset}: {what}")
            }
        }
    }
}

impl std::error::Error for FileError {}

/// An open, memory-mapped capture file.
pub struct CaptureFile {
    path: PathBuf,
    map: memmap2::Mmap,
}

/// Counters of one file walk.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WalkStats {
    /// Records delivered.
    pub frames: u64,
    /// Bytes of captured data delivered.
    pub bytes: u64,
}

impl CaptureFile {
    /// Opens and maps `path`.
    pub fn open(path: &Path) -> Result<CaptureFile, FileError> {
        let err = |e| FileError {
            path: path.to_path_buf(),
            offset: 0,
            kind: FileErrorKind::Io(e),
        };
        let file = File::open(path).map_err(err)?;
        // SAFETY: see the module comment; the mapping is read-only.
        let map = unsafe { memmap2::Mmap::map(&file) }.map_err(err)?;
        Ok(CaptureFile {
            path: path.to_path_buf(),
            map,
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Size of the file in bytes.
    pub fn len(&self) -> u64 {
        self.map.len() as u64
    }

    /// The digest of the file's bytes (see [`super::digest`]): one pass
    /// over the whole mapping.
    pub fn digest(&self) -> u64 {
        super::digest::digest(&self.map)
    }

    /// Whether the file is empty.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Walks every record, calling `on_frame` with each frame and the byte
    /// offset just past it (for progress). Returns counters, or the error that
    /// stopped the walk (after every frame before it was delivered).
    pub fn walk<'f>(
        &'f self,
        on_frame: &mut dyn FnMut(Frame<'f>, u64),
    ) -> Result<WalkStats, FileError> {
        let data: &[u8] = &self.map;
        let Some(magic) = data.get(..4) else {
            return Err(self.error(
                0,
                FileErrorKind::Truncated {
                    needed: Some(4 - data.len()),
                },
            ));
        };
        match magic {
            [0xd4, 0xc3, 0xb2, 0xa1]
            | [0xa1, 0xb2, 0xc3, 0xd4]
            | [0x4d, 0x3c, 0xb2, 0xa1]
            | [0xa1, 0xb2, 0x3c, 0x4d]
            | [0x34, 0xcd, 0xb2, 0xa1]
            | [0xa1, 0xb2, 0xcd, 0x34] => self.walk_pcap(data, on_frame),
            [0x0a, 0x0d, 0x0d, 0x0a] => self.walk_pcapng(data, on_frame),
            _ => {
                let mut m = [0u8; 4];
                m.copy_from_slice(magic);
                Err(self.error(0, FileErrorKind::UnknownFormat { magic: m }))
            }
        }
    }

    fn error(&self, offset: usize, kind: FileErrorKind) -> FileError {
        FileError {
            path: self.path.clone(),
            offset: offset as u64,
            kind,
        }
    }

    fn parse_error(&self, offset: usize, err: nom::Err<PcapError<&[u8]>>) -> FileError {
        let kind = match err {
            nom::Err::Incomplete(nom::Needed::Size(n)) => FileErrorKind::Truncated {
                needed: Some(n.get()),
            },
            nom::Err::Incomplete(nom::Needed::Unknown) => FileErrorKind::Truncated { needed: None },
            nom::Err::Error(e) | nom::Err::Failure(e) => match e {
                PcapError::Incomplete(n) => FileErrorKind::Truncated { needed: Some(n) },
                PcapError::Eof => FileErrorKind::Truncated { needed: None },
                PcapError::NomError(_, kind) => FileErrorKind::Corrupt(format!("{kind:?}")),
                PcapError::HeaderNotRecognized => {
                    FileErrorKind::Corrupt("header not recognised".into())
                }
                _ => FileErrorKind::Corrupt("unreadable record".into()),
            },
        };
        self.error(offset, kind)
    }

    fn walk_pcap<'f>(
        &self,
        data: &'f [u8],
        on_frame: &mut dyn FnMut(Frame<'f>, u64),
    ) -> Result<WalkStats, FileError> {
        let (mut rest, header) =
            pcap_parser::parse_pcap_header(data).map_err(|e| self.parse_error(0, e))?;
        let link_type = LinkType::from_linktype(header.network.0);
        let nanos = header.is_nanosecond_precision();
        let big = header.is_bigendian();
        let modified = header.is_modified_format();
        let mut stats = WalkStats::default();
        while !rest.is_empty() {
            let offset = data.len() - rest.len();
            let parsed = if modified {
                pcap_parser::parse_pcap_frame_modified(rest)
            } else if big {
                pcap_parser::parse_pcap_frame_be(rest)
            } else {
                pcap_parser::parse_pcap_frame(rest)
            };
            let (after, record) = parsed.map_err(|e| self.parse_error(offset, e))?;
            let sub = if nanos {
                record.ts_usec
            } else {
                record.ts_usec.saturating_mul(1000)
            };
            let frame = Frame {
                ts: Timestamp::new(i64::from(record.ts_sec), sub),
                link_type,
                data: record.data,
                wire_len: record.origlen,
            };
            stats.frames += 1;
            stats.bytes += record.data.len() as u64;
            rest = after;
            on_frame(frame, (data.len() - rest.len()) as u64);
        }
        Ok(stats)
    }

    fn walk_pcapng<'f>(
        &self,
        data: &'f [u8],
        on_frame: &mut dyn FnMut(Frame<'f>, u64),
    ) -> Result<WalkStats, FileError> {
        /// Per interface: link type (None when unsupported), ticks per second, offset.
        struct Iface {
            link_type: LinkType,
            resolution: u64,
            ts_offset: i64,
        }
        let mut ifaces: Vec<Iface> = Vec::new();
        let mut big = false;
        let mut rest = data;
        let mut stats = WalkStats::default();
        while !rest.is_empty() {
            let offset = data.len() - rest.len();
            // A section header decides the byte order of what follows.
            if rest.get(..4) == Some(&[0x0a, 0x0d, 0x0d, 0x0a]) {
                let (after, shb) = pcap_parser::pcapng::parse_sectionheaderblock(rest)
                    .map_err(|e| match e {
                        nom::Err::Incomplete(_) => self.parse_error(offset, e),
                        nom::Err::Error(PcapError::HeaderNotRecognized)
                        | nom::Err::Failure(PcapError::HeaderNotRecognized) => self.error(
                            offset,
                            FileErrorKind::Corrupt(
                                "section header block: byte-order magic is neither 0x1a2b3c4d nor 0x4d3c2b1a"
                                    .into(),
                            ),
                        ),
                        _ => {
                            let big = rest.get(8..12) == Some(&[0x1a, 0x2b, 0x3c, 0x4d]);
                            self.error(offset, pcapng_problem(rest, big))
                        }
                    })?;
                big = shb.big_endian();
                ifaces.clear();
                rest = after;
                continue;
            }
            let parsed = if big {
                pcap_parser::pcapng::parse_block_be(rest)
            } else {
                pcap_parser::pcapng::parse_block_le(rest)
            };
            let (after, block) = parsed.map_err(|e| match e {
                // Incomplete inside a block the file holds whole is a field
                // that runs past its block, not a cut file.
                nom::Err::Incomplete(_) if !block_fits(rest, big) => self.parse_error(offset, e),
                _ => self.error(offset, pcapng_problem(rest, big)),
            })?;
            rest = after;
            let end = (data.len() - rest.len()) as u64;
            match block {
                Block::InterfaceDescription(idb) => {
                    let resolution = idb.ts_resolution().unwrap_or(1_000_000).max(1);
                    ifaces.push(Iface {
                        link_type: LinkType::from_linktype(idb.linktype.0),
                        resolution,
                        ts_offset: idb.ts_offset(),
                    });
                }
                Block::EnhancedPacket(epb) => {
                    let Some(iface) = ifaces.get(epb.if_id as usize) else {
                        return Err(self.error(
                            offset,
                            FileErrorKind::Corrupt(format!(
                                "packet refers to interface {} but only {} are described",
                                epb.if_id,
                                ifaces.len()
                            )),
                        ));
                    };
                    let link_type = iface.link_type;
                    let ticks = (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
                    let secs = (ticks / iface.resolution) as i64 + iface.ts_offset;
                    let frac = ticks % iface.resolution;
                    let nanos =
                        (u128::from(frac) * 1_000_000_000 / u128::from(iface.resolution)) as u32;
                    let caplen = (epb.caplen as usize).min(epb.data.len());
                    let frame = Frame {
                        ts: Timestamp::new(secs, nanos),
                        link_type,
                        data: &epb.data[..caplen],
                        wire_len: epb.origlen,
                    };
                    stats.frames += 1;
                    stats.bytes += caplen as u64;
                    on_frame(frame, end);
                }
                Block::SimplePacket(spb) => {
                    let Some(iface) = ifaces.first() else {
                        continue;
                    };
                    let link_type = iface.link_type;
                    let caplen = (spb.origlen as usize).min(spb.data.len());
                    let frame = Frame {
                        ts: Timestamp::default(),
                        link_type,
                        data: &spb.data[..caplen],
                        wire_len: spb.origlen,
                    };
                    stats.frames += 1;
                    stats.bytes += caplen as u64;
                    on_frame(frame, end);
                }
                _ => {}
            }
        }
        Ok(stats)
    }
}

/// The name of a pcapng block type (pcapng specification, section 11.1).
fn block_name(kind: u32) -> &'static str {
    match kind {
        0x0a0d_0d0a => "section header block",
        0x0000_0001 => "interface description block",
        0x0000_0002 => "packet block (obsolete)",
        0x0000_0003 => "simple packet block",
        0x0000_0004 => "name resolution block",
        0x0000_0005 => "interface statistics block",
        0x0000_0006 => "enhanced packet block",
        0x0000_000a => "decryption secrets block",
        0x0000_0bad | 0x4000_0bad => "custom block",
        0x8000_0001 => "process information block",
        _ => "block of an unknown type",
    }
}

/// Whether the pcapng block at the start of `rest` declares a length the
/// file holds.
fn block_fits(rest: &[u8], big: bool) -> bool {
    match rest.get(4..8) {
        Some(&[a, b, c, d]) => {
            let len = if big {
                u32::from_be_bytes([a, b, c, d])
            } else {
                u32::from_le_bytes([a, b, c, d])
            };
            len as usize <= rest.len()
        }
        _ => false,
    }
}

/// Says in words what is wrong with the pcapng block at the start of `block`
/// after pcap-parser refused it: the parser reports only that a check
/// failed.
fn pcapng_problem(block: &[u8], big: bool) -> FileErrorKind {
    let word = |at: usize| {
        block.get(at..at + 4).map(|b| {
            let b = [b[0], b[1], b[2], b[3]];
            if big {
                u32::from_be_bytes(b)
            } else {
                u32::from_le_bytes(b)
            }
        })
    };
    let (Some(kind), Some(len)) = (word(0), word(4)) else {
        return FileErrorKind::Truncated {
            needed: Some(8usize.saturating_sub(block.len())),
        };
    };
    let name = block_name(kind);
    let len_usize = len as usize;
    if len < 12 {
        return FileErrorKind::Corrupt(format!(
            "{name} (type {kind:#010x}): block length {len} is below the minimum of 12"
        ));
    }
    if len % 4 != 0 {
        return FileErrorKind::Corrupt(format!(
            "{name} (type {kind:#010x}): block length {len} is not a multiple of 4"
        ));
    }
    if len_usize > block.len() {
        return FileErrorKind::Truncated {
            needed: Some(len_usize - block.len()),
        };
    }
    let trailer = word(len_usize - 4).unwrap_or(0);
    if trailer != len {
        return FileErrorKind::Corrupt(format!(
            "{name} (type {kind:#010x}): block length {len} does not match its trailer {trailer}"
        ));
    }
    if kind == 6 {
        let caplen = word(20).unwrap_or(0);
        let padded = u64::from(caplen).div_ceil(4) * 4;
        if 32 + padded > u64::from(len) {
            return FileErrorKind::Corrupt(format!(
                "enhanced packet block: captured length {caplen} runs past the block of {len} bytes"
            ));
        }
    }
    FileErrorKind::Corrupt(format!(
        "{name} (type {kind:#010x}) of {len} bytes is malformed: its fields or options do not fit the block"
    ))
}

/// Re-exported so callers can name pcap link types.
pub type PcapLinktype = Linktype;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::PcapWriter;

    /// A temporary file removed on drop.
    struct TempFile(PathBuf);

    impl TempFile {
        fn with(name: &str, bytes: &[u8]) -> TempFile {
            let path =
                std::env::temp_dir().join(format!("otwatch-test-{}-{name}", std::process::id()));
            std::fs::write(&path, bytes).expect("write temp capture");
            TempFile(path)
        }
    }

    impl Drop for TempFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    type Seen = Vec<(Timestamp, LinkType, Vec<u8>)>;

    fn frames(path: &Path) -> (Seen, Result<WalkStats, FileError>) {
        let file = CaptureFile::open(path).expect("open");
        let mut seen = Vec::new();
        let result = file.walk(&mut |f, _| seen.push((f.ts, f.link_type, f.data.to_vec())));
        (seen, result)
    }

    fn three_records() -> Vec<u8> {
        let mut w = PcapWriter::new(1);
        w.record(10, 1, &[1; 20]);
        w.record(11, 2, &[2; 30]);
        w.record(12, 3, &[3; 40]);
        w.into_bytes()
    }

    #[test]
    fn reads_every_record_of_a_pcap() {
        let f = TempFile::with("ok.pcap", &three_records());
        let (seen, result) = frames(&f.0);
        let stats = result.expect("whole file");
        assert_eq!(stats.frames, 3);
        assert_eq!(stats.bytes, 90);
        assert_eq!(
            seen[1].0,
            Timestamp::new(11, 2000),
            "microseconds become nanoseconds"
        );
        assert_eq!(seen[2].2, vec![3; 40]);
        assert_eq!(seen[0].1, LinkType::Ethernet);
    }

    #[test]
    fn truncated_file_reports_file_and_offset_after_delivering_what_precedes() {
        let bytes = three_records();
        // Header 24 + (16 + 20) + (16 + 30) = 106: the third record starts there.
        let cut = &bytes[..106 + 16 + 10];
        let f = TempFile::with("cut.pcap", cut);
        let (seen, result) = frames(&f.0);
        assert_eq!(seen.len(), 2, "both whole records were delivered");
        let err = result.expect_err("truncated");
        assert_eq!(err.offset, 106);
        assert!(
            matches!(err.kind, FileErrorKind::Truncated { .. }),
            "{err:?}"
        );
        let text = err.to_string();
        assert!(
            text.contains("cut.pcap") && text.contains("byte offset 106"),
            "{text}"
        );
        // A cut inside a record header.
        let f = TempFile::with("cut2.pcap", &bytes[..24 + 8]);
        let (seen, result) = frames(&f.0);
        assert!(seen.is_empty());
        assert_eq!(result.expect_err("truncated").offset, 24);
    }

    #[test]
    fn rejects_unknown_format_and_missing_file() {
        let f = TempFile::with("junk.pcap", b"GIF89a....");
        let err = frames(&f.0).1.expect_err("not a capture");
        assert!(matches!(err.kind, FileErrorKind::UnknownFormat { magic } if &magic == b"GIF8"));
        let missing = CaptureFile::open(Path::new("/nonexistent/x.pcap"))
            .err()
            .expect("missing");
        assert!(matches!(missing.kind, FileErrorKind::Io(_)));
        assert!(missing.to_string().starts_with("/nonexistent/x.pcap: "));
    }

    #[test]
    fn reads_nanosecond_and_big_endian_pcaps() {
        // Nanosecond magic, little-endian, link type 113 (Linux SLL).
        let mut nano = Vec::new();
        nano.extend_from_slice(&0xa1b2_3c4du32.to_le_bytes());
        nano.extend_from_slice(&[2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0]);
        nano.extend_from_slice(&113u32.to_le_bytes());
        for v in [5u32, 999_999_999, 4, 4] {
            nano.extend_from_slice(&v.to_le_bytes());
        }
        nano.extend_from_slice(&[9, 9, 9, 9]);
        let f = TempFile::with("nano.pcap", &nano);
        let (seen, result) = frames(&f.0);
        result.expect("ok");
        assert_eq!(seen[0].0, Timestamp::new(5, 999_999_999));
        assert_eq!(seen[0].1, LinkType::LinuxSll);
        // Big-endian microsecond file, raw IP (101).
        let mut big = Vec::new();
        big.extend_from_slice(&0xa1b2_c3d4u32.to_be_bytes());
        big.extend_from_slice(&[0, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff]);
        big.extend_from_slice(&101u32.to_be_bytes());
        for v in [7u32, 5, 2, 2] {
            big.extend_from_slice(&v.to_be_bytes());
        }
        big.extend_from_slice(&[0x45, 0]);
        let f = TempFile::with("big.pcap", &big);
        let (seen, result) = frames(&f.0);
        result.expect("ok");
        assert_eq!(
            seen[0],
            (Timestamp::new(7, 5000), LinkType::RawIp, vec![0x45, 0])
        );
    }

    fn pcapng_block(kind: u32, body: &[u8]) -> Vec<u8> {
        let len = (12 + body.len()) as u32;
        let mut b = Vec::new();
        b.extend_from_slice(&kind.to_le_bytes());
        b.extend_from_slice(&len.to_le_bytes());
        b.extend_from_slice(body);
        b.extend_from_slice(&len.to_le_bytes());
        b
    }

    #[test]
    fn reads_pcapng_with_two_interfaces_and_resolutions() {
        let mut file = Vec::new();
        // Section header: byte-order magic, version 1.0, section length unknown.
        let mut shb = Vec::new();
        shb.extend_from_slice(&0x1a2b_3c4du32.to_le_bytes());
        shb.extend_from_slice(&[1, 0, 0, 0]);
        shb.extend_from_slice(&(-1i64).to_le_bytes());
        file.extend(pcapng_block(0x0a0d_0d0a, &shb));
        // Interface 0: Ethernet, default microsecond resolution.
        file.extend(pcapng_block(1, &[1, 0, 0, 0, 0, 0, 0, 0]));
        // Interface 1: SLL2 (276) with if_tsresol = 9 (nanoseconds).
        let mut idb = vec![0x14, 0x01, 0, 0, 0, 0, 0, 0];
        idb.extend_from_slice(&[9, 0, 1, 0, 9, 0, 0, 0]); // option 9, length 1, value 9, padding
        idb.extend_from_slice(&[0, 0, 0, 0]); // end of options
        file.extend(pcapng_block(1, &idb));
        // Enhanced packets: interface, timestamp high/low, captured and original length, data.
        let epb = |iface: u32, ticks: u64, data: &[u8]| {
            let mut b = Vec::new();
            b.extend_from_slice(&iface.to_le_bytes());
            b.extend_from_slice(&((ticks >> 32) as u32).to_le_bytes());
            b.extend_from_slice(&(ticks as u32).to_le_bytes());
            b.extend_from_slice(&(data.len() as u32).to_le_bytes());
            b.extend_from_slice(&(data.len() as u32).to_le_bytes());
            b.extend_from_slice(data);
            while b.len() % 4 != 0 {
                b.push(0);
            }
            pcapng_block(6, &b)
        };
        file.extend(epb(0, 1_500_000, &[0xaa; 14]));
        file.extend(epb(1, 2_000_000_123, &[0xbb; 21]));
        let f = TempFile::with("two.pcapng", &file);
        let (seen, result) = frames(&f.0);
        assert_eq!(result.expect("ok").frames, 2);
        assert_eq!(seen[0].0, Timestamp::new(1, 500_000_000));
        assert_eq!(seen[0].1, LinkType::Ethernet);
        assert_eq!(seen[1].0, Timestamp::new(2, 123));
        assert_eq!(seen[1].1, LinkType::LinuxSll2);
        assert_eq!(seen[1].2.len(), 21, "padding is not part of the frame");
        // A packet naming an interface that was never described.
        let mut bad = file.clone();
        bad.extend(epb(7, 0, &[1]));
        let f = TempFile::with("bad.pcapng", &bad);
        let (seen, result) = frames(&f.0);
        assert_eq!(seen.len(), 2);
        let err = result.expect_err("unknown interface");
        assert_eq!(err.offset, file.len() as u64);
        assert!(matches!(err.kind, FileErrorKind::Corrupt(_)));
    }

    #[test]
    fn unsupported_link_types_are_delivered_as_other() {
        let mut w = PcapWriter::new(165); // BACnet MS/TP
        w.record(1, 0, &[0x55, 0xff]);
        let f = TempFile::with("mstp.pcap", &w.into_bytes());
        let (seen, result) = frames(&f.0);
        result.expect("ok");
        assert_eq!(seen[0].1, LinkType::Other(165));
    }

    #[test]
    fn a_corrupt_pcapng_block_is_named_in_words() {
        let mut shb = Vec::new();
        shb.extend_from_slice(&0x1a2b_3c4du32.to_le_bytes());
        shb.extend_from_slice(&[1, 0, 0, 0]);
        shb.extend_from_slice(&(-1i64).to_le_bytes());
        let mut head = pcapng_block(0x0a0d_0d0a, &shb);
        head.extend(pcapng_block(1, &[1, 0, 0, 0, 0, 0, 0, 0]));
        // An enhanced packet block: interface 0, timestamp 0, 4 bytes captured
        // of 4, the data; then one corruption each.
        let mut epb = Vec::new();
        for v in [0u32, 0, 0, 4, 4] {
            epb.extend_from_slice(&v.to_le_bytes());
        }
        epb.extend_from_slice(&[1, 2, 3, 4]);
        let good = pcapng_block(6, &epb);
        let with = |edit: &dyn Fn(&mut Vec<u8>)| {
            let mut b = good.clone();
            edit(&mut b);
            let mut file = head.clone();
            file.extend(b);
            file
        };
        let cases: Vec<(&str, Vec<u8>, &str)> = vec![
            (
                "trailer",
                with(&|b| b[32..36].copy_from_slice(&40u32.to_le_bytes())),
                "enhanced packet block (type 0x00000006): block length 36 does not match its trailer 40",
            ),
            (
                "short",
                with(&|b| b[4..8].copy_from_slice(&8u32.to_le_bytes())),
                "block length 8 is below the minimum of 12",
            ),
            (
                "unaligned",
                with(&|b| {
                    b[4..8].copy_from_slice(&18u32.to_le_bytes());
                }),
                "block length 18 is not a multiple of 4",
            ),
            (
                "epb",
                {
                    // An enhanced packet block claiming 200 captured bytes in 36.
                    let mut epb = Vec::new();
                    for v in [0u32, 0, 0, 200, 200] {
                        epb.extend_from_slice(&v.to_le_bytes());
                    }
                    epb.extend_from_slice(&[0; 4]);
                    let mut file = head.clone();
                    file.extend(pcapng_block(6, &epb));
                    file
                },
                "enhanced packet block: captured length 200 runs past the block of 36 bytes",
            ),
        ];
        for (name, bytes, want) in cases {
            let f = TempFile::with(&format!("corrupt-{name}.pcapng"), &bytes);
            let err = frames(&f.0).1.expect_err(name);
            assert_eq!(err.offset, head.len() as u64, "{name}");
            let text = err.to_string();
            assert!(text.contains(want), "{name}: {text}");
            assert!(!text.contains("Verify"), "{name}: {text}");
        }
        // A block that runs past the end of the file is a truncation.
        let mut cut = head.clone();
        cut.extend_from_slice(&good[..12]);
        let f = TempFile::with("corrupt-cut.pcapng", &cut);
        let err = frames(&f.0).1.expect_err("cut");
        assert!(matches!(err.kind, FileErrorKind::Truncated { .. }), "{err}");
    }
}
