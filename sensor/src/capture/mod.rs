//! Capture back-ends: where frames come from.
//!
//! * [`file`]: pcap and pcapng files, memory-mapped; frames are borrowed from
//!   the mapping.
//! * [`afpacket`]: live capture from a Linux AF_PACKET TPACKET_V3 ring with
//!   fanout; frames are borrowed from the ring.
//! * [`libpcap`]: live capture through libpcap with BPF filters (feature
//!   `libpcap`).
//! * [`digest`]: the digest of a capture file's bytes, for offline alert ids.
//!
//! Two modules opt in to `unsafe`, each at file level with its reason:
//! [`afpacket`] (the socket calls and the shared ring) and
//! [`file`](mod@file) (its one call that memory-maps the capture file).

pub mod afpacket;
pub mod digest;
pub mod file;
#[cfg(feature = "libpcap")]
pub mod libpcap;

use otwatch_proto::event::Timestamp;
use otwatch_proto::wire::LinkType;

/// Where a frame of offline input is: the digest of its file's bytes
/// ([`digest::digest`]) and its number in the file, from 1. After the last
/// frame of a run, `frame` is one past the last file's last frame (flows
/// ended by the end of the input).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct InputPosition {
    /// Digest of the file's bytes.
    pub digest: u64,
    /// The frame's number in the file (from 1).
    pub frame: u64,
}

/// One captured frame, borrowed from the capture buffer.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    /// Capture time.
    pub ts: Timestamp,
    /// Link type of `data`.
    pub link_type: LinkType,
    /// Captured bytes.
    pub data: &'a [u8],
    /// Length on the wire (may exceed `data.len()` when truncated by snaplen).
    pub wire_len: u32,
}
