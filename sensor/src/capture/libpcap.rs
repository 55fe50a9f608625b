//! Live capture through libpcap (cargo feature `libpcap`): BPF capture
//! filters, and systems without AF_PACKET.
//!
//! Frames are read with `Capture::for_each`, which hands each frame to us
//! straight from libpcap's buffer (its own memory-mapped ring on Linux), so
//! nothing is copied. libpcap has no fanout, so several workers each open
//! their own handle on the interface, and each handle's BPF filter keeps one
//! share of the traffic ([`share_filter`]): a hash of the two IP addresses
//! that is the same for both directions and for every fragment of a
//! datagram, so a flow stays whole on one worker (all flows between two hosts
//! share a worker); frames that are not IP go to the first worker. The kernel
//! runs the filter before copying, so a frame is copied into one handle only.
//!
//! `for_each` blocks inside `pcap_loop`; [`PcapSource::breaker`] gives a
//! handle that makes it return (libpcap ≥ 1.10 wakes the waiting thread),
//! which the live driver uses for periodic housekeeping and shutdown.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};

use otwatch_proto::event::Timestamp;
use otwatch_proto::wire::LinkType;
use pcap::{Active, BreakLoop, Capture, Precision};

use super::Frame;

/// How a libpcap handle is opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PcapOptions {
    /// Interface name.
    pub iface: String,
    /// Promiscuous mode.
    pub promisc: bool,
    /// Bytes kept per frame.
    pub snaplen: u32,
    /// libpcap's buffer (ring) size in bytes.
    pub buffer_bytes: u32,
    /// Read timeout in milliseconds (how long libpcap may hold frames).
    pub timeout_ms: u32,
    /// User capture filter (tcpdump syntax), if any.
    pub bpf: Option<String>,
    /// This handle's share: (index, count) of the workers.
    pub share: (usize, usize),
}

/// Kernel/libpcap counters of one handle.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PcapStats {
    /// Frames received by the filter.
    pub received: u64,
    /// Frames dropped because the buffer was full.
    pub dropped: u64,
    /// Frames dropped by the interface or its driver.
    pub if_dropped: u64,
}

/// The BPF expression that keeps worker `index`'s share of `count`.
///
/// The share of an IP packet is a hash of its two addresses: their sum
/// (the same in both directions; BPF arithmetic wraps modulo 2^32),
/// multiplied by an odd constant so that every bit of the sum reaches the
/// upper half, then bits 16.. modulo `count`. Ports are left out so that
/// fragments (which carry none after the first) land with their datagram.
pub fn share_filter(index: usize, count: usize) -> Option<String> {
    if count <= 1 {
        return None;
    }
    let mix = |sum: &str| format!("((({sum}) * 0x9e3779b1) >> 16) % {count} = {index}");
    let v4 = format!("(ip and {})", mix("ip[12:4] + ip[16:4]"));
    let v6 = format!(
        "(ip6 and {})",
        mix("ip6[8:4] + ip6[12:4] + ip6[16:4] + ip6[20:4] + ip6[24:4] + ip6[28:4] + ip6[32:4] + ip6[36:4]")
    );
    if index == 0 {
        Some(format!("({v4} or {v6} or (not ip and not ip6))"))
    } else {
        Some(format!("({v4} or {v6})"))
    }
}

/// The filter a handle is given: the user's filter and the worker's share.
pub fn combined_filter(user: Option<&str>, share: (usize, usize)) -> Option<String> {
    match (
        user.map(str::trim).filter(|s| !s.is_empty()),
        share_filter(share.0, share.1),
    ) {
        (None, None) => None,
        (Some(u), None) => Some(u.to_owned()),
        (None, Some(s)) => Some(s),
        (Some(u), Some(s)) => Some(format!("({u}) and {s}")),
    }
}

/// An open libpcap handle on an interface.
pub struct PcapSource {
    capture: Capture<Active>,
    link_type: LinkType,
    filter: Option<String>,
}

impl std::fmt::Debug for PcapSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PcapSource")
            .field("link_type", &self.link_type)
            .field("filter", &self.filter)
            .finish()
    }
}

fn pcap_error(what: &str, e: pcap::Error) -> io::Error {
    io::Error::other(format!("libpcap: {what}: {e}"))
}

impl PcapSource {
    /// Opens `options.iface` and installs the filter. A filter that does not
    /// compile is an error naming it.
    pub fn open(options: &PcapOptions) -> io::Result<PcapSource> {
        let inactive = Capture::from_device(options.iface.as_str())
            .map_err(|e| pcap_error(&format!("interface {}", options.iface), e))?;
        let mut capture = inactive
            .promisc(options.promisc)
            .snaplen(i32::try_from(options.snaplen).unwrap_or(i32::MAX))
            .buffer_size(i32::try_from(options.buffer_bytes).unwrap_or(i32::MAX))
            .timeout(i32::try_from(options.timeout_ms).unwrap_or(i32::MAX))
            .precision(Precision::Nano)
            .open()
            .map_err(|e| pcap_error(&format!("opening {}", options.iface), e))?;
        let filter = combined_filter(options.bpf.as_deref(), options.share);
        if let Some(f) = &filter {
            capture
                .filter(f, true)
                .map_err(|e| pcap_error(&format!("capture filter {f:?}"), e))?;
        }
        // Receive-only, and only what arrives on the interface.
        capture
            .direction(pcap::Direction::In)
            .map_err(|e| pcap_error("setting direction in", e))?;
        let link_type = LinkType::from_linktype(capture.get_datalink().0);
        Ok(PcapSource {
            capture,
            link_type,
            filter,
        })
    }

    /// Link type of the frames.
    pub fn link_type(&self) -> LinkType {
        self.link_type
    }

    /// The BPF filter in force.
    pub fn filter(&self) -> Option<&str> {
        self.filter.as_deref()
    }

    /// A handle that makes a running [`PcapSource::for_each`] return; set
    /// `requested` before calling it.
    pub fn breaker(&mut self) -> BreakLoop {
        self.capture.breakloop_handle()
    }

    /// Hands every frame to `on_frame` until the loop is broken or fails.
    /// `Ok(())` when it was broken on request: `requested` was set (it is
    /// cleared here) before `BreakLoop::breakloop` was called.
    pub fn for_each(
        &mut self,
        requested: &AtomicBool,
        on_frame: &mut dyn FnMut(Frame<'_>),
    ) -> io::Result<()> {
        let link_type = self.link_type;
        let result = self.capture.for_each(None, |packet| {
            let h = packet.header;
            // With nanosecond precision libpcap stores nanoseconds in tv_usec.
            let nanos = u32::try_from(h.ts.tv_usec).unwrap_or(0);
            on_frame(Frame {
                ts: Timestamp::new(h.ts.tv_sec, nanos),
                link_type,
                data: packet.data,
                wire_len: h.len,
            });
        });
        // pcap_loop returns PCAP_ERROR_BREAK after pcap_breakloop, which the
        // crate reports as an error with whatever text libpcap last stored.
        match result {
            Ok(()) => Ok(()),
            Err(_) if requested.swap(false, Ordering::AcqRel) => Ok(()),
            Err(e) => Err(pcap_error("reading", e)),
        }
    }

    /// libpcap's counters since the handle was opened.
    pub fn stats(&mut self) -> io::Result<PcapStats> {
        let s = self.capture.stats().map_err(|e| pcap_error("stats", e))?;
        Ok(PcapStats {
            received: u64::from(s.received),
            dropped: u64::from(s.dropped),
            if_dropped: u64::from(s.if_dropped),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_worker_keeps_the_user_filter_alone() {
        assert_eq!(combined_filter(None, (0, 1)), None);
        assert_eq!(
            combined_filter(Some("tcp port 502"), (0, 1)).as_deref(),
            Some("tcp port 502")
        );
        assert_eq!(combined_filter(Some("  "), (0, 1)), None);
    }

    #[test]
    fn shares_send_non_ip_to_the_first_worker_only() {
        let first = share_filter(0, 2).unwrap_or_default();
        let second = share_filter(1, 2).unwrap_or_default();
        assert!(first.contains("not ip and not ip6"));
        assert!(!second.contains("not ip"));
        assert!(second.contains("% 2 = 1"), "{second}");
        let both = combined_filter(Some("tcp"), (1, 2)).unwrap_or_default();
        assert!(both.starts_with("(tcp) and ("), "{both}");
    }

    /// An Ethernet + IPv4 (+ 4 bytes) frame from `src` to `dst`.
    fn ipv4_frame(src: [u8; 4], dst: [u8; 4]) -> Vec<u8> {
        let mut f = vec![0u8; 14 + 24];
        f[12..14].copy_from_slice(&[0x08, 0x00]); // EtherType IPv4
        f[14] = 0x45; // version 4, IHL 5
        f[16..18].copy_from_slice(&24u16.to_be_bytes()); // total length
        f[22] = 64; // TTL
        f[23] = 6; // TCP
        f[26..30].copy_from_slice(&src);
        f[30..34].copy_from_slice(&dst);
        f
    }

    #[test]
    fn shares_keep_both_directions_together_and_spread_hosts() {
        let Ok(dead) = Capture::dead(pcap::Linktype::ETHERNET) else {
            panic!("libpcap cannot open a dead handle");
        };
        let programs: Vec<pcap::BpfProgram> = (0..2)
            .map(|i| {
                let f = share_filter(i, 2).unwrap_or_default();
                dead.compile(&f, true)
                    .unwrap_or_else(|e| panic!("{f}: {e}"))
            })
            .collect();
        let mut per_worker = [0; 2];
        // Even addresses only: a plain sum modulo 2 would send all to one worker.
        for a in (10..60).step_by(10) {
            for b in (a + 10..=60).step_by(10) {
                let there = ipv4_frame([10, 201, 2, a], [10, 201, 2, b]);
                let back = ipv4_frame([10, 201, 2, b], [10, 201, 2, a]);
                let takers: Vec<usize> = (0..2).filter(|i| programs[*i].filter(&there)).collect();
                let back_takers: Vec<usize> =
                    (0..2).filter(|i| programs[*i].filter(&back)).collect();
                assert_eq!(takers.len(), 1, "exactly one worker takes .{a} -> .{b}");
                assert_eq!(
                    takers, back_takers,
                    "both directions of .{a} <-> .{b} on one worker"
                );
                per_worker[takers[0]] += 1;
            }
        }
        assert!(per_worker[0] > 0 && per_worker[1] > 0, "{per_worker:?}");
        // ARP (not IP) goes to the first worker only.
        let mut arp = vec![0u8; 42];
        arp[12..14].copy_from_slice(&[0x08, 0x06]);
        assert!(programs[0].filter(&arp));
        assert!(!programs[1].filter(&arp));
    }
}
