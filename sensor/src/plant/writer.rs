//! A classic pcap writer (little-endian, microsecond timestamps, Ethernet)
//! that streams records to any [`io::Write`] through a buffer.

use std::io::{self, BufWriter, Write};

/// LINKTYPE_ETHERNET.
pub const LINKTYPE_ETHERNET: u32 = 1;
/// Snapshot length written in the file header.
pub const SNAPLEN: u32 = 262_144;

/// A pcap file being written.
#[derive(Debug)]
pub struct PcapStream<W: Write> {
    out: BufWriter<W>,
}

impl<W: Write> PcapStream<W> {
    /// Writes the file header.
    pub fn new(out: W) -> io::Result<PcapStream<W>> {
        let mut out = BufWriter::with_capacity(1 << 20, out);
        let mut header = [0u8; 24];
        header[0..4].copy_from_slice(&0xa1b2_c3d4u32.to_le_bytes()); // magic, µs
        header[4..6].copy_from_slice(&2u16.to_le_bytes()); // version major
        header[6..8].copy_from_slice(&4u16.to_le_bytes()); // version minor
                                                           // 8..16: time zone offset and accuracy, zero
        header[16..20].copy_from_slice(&SNAPLEN.to_le_bytes());
        header[20..24].copy_from_slice(&LINKTYPE_ETHERNET.to_le_bytes());
        out.write_all(&header)?;
        Ok(PcapStream { out })
    }

    /// Appends one frame captured at `ts_us` microseconds since the epoch.
    pub fn record(&mut self, ts_us: u64, frame: &[u8]) -> io::Result<()> {
        let mut header = [0u8; 16];
        let secs = (ts_us / 1_000_000) as u32;
        let micros = (ts_us % 1_000_000) as u32;
        let len = frame.len() as u32;
        header[0..4].copy_from_slice(&secs.to_le_bytes());
        header[4..8].copy_from_slice(&micros.to_le_bytes());
        header[8..12].copy_from_slice(&len.to_le_bytes()); // captured length
        header[12..16].copy_from_slice(&len.to_le_bytes()); // original length
        self.out.write_all(&header)?;
        self.out.write_all(frame)
    }

    /// Flushes the buffer and returns the writer.
    pub fn finish(self) -> io::Result<W> {
        self.out.into_inner().map_err(|e| e.into_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_header_and_records() {
        let mut p = PcapStream::new(Vec::new()).expect("vec");
        p.record(1_000_002_000_003, &[0xaa, 0xbb]).expect("vec");
        let bytes = p.finish().expect("vec");
        assert_eq!(bytes.len(), 24 + 16 + 2);
        assert_eq!(&bytes[0..4], &[0xd4, 0xc3, 0xb2, 0xa1]);
        assert_eq!(&bytes[20..24], &[1, 0, 0, 0]);
        // seconds 1_000_002, microseconds 3, both lengths 2
        assert_eq!(&bytes[24..28], &1_000_002u32.to_le_bytes());
        assert_eq!(&bytes[28..32], &3u32.to_le_bytes());
        assert_eq!(&bytes[32..40], &[2, 0, 0, 0, 2, 0, 0, 0]);
        assert_eq!(&bytes[40..], &[0xaa, 0xbb]);
    }
}
