//! Live capture from a Linux AF_PACKET socket with a TPACKET_V3 receive ring.
//!
//! The kernel writes frames into a ring of fixed-size blocks shared with us
//! through `mmap`; a block is handed over when it is full or when its timeout
//! expires (`block_status` gets `TP_STATUS_USER`). [`Ring::next_block`] waits
//! for the next such block; [`Block::for_each_frame`] hands every frame in it
//! to the caller as a [`Frame`] borrowing the ring — nothing is copied — and
//! dropping the [`Block`] gives it back to the kernel (`TP_STATUS_KERNEL`).
//!
//! The socket is receive-only: it is bound to `ETH_P_ALL` on one interface,
//! has no TX ring and this module has no send path at all. Outgoing frames of
//! the host are ignored (`PACKET_IGNORE_OUTGOING`, where the kernel has it).
//! Several rings on one interface join one `PACKET_FANOUT` group with
//! `PACKET_FANOUT_HASH | PACKET_FANOUT_FLAG_DEFRAG`: the kernel's symmetric
//! flow hash sends both directions of a flow to the same ring (one per worker),
//! after reassembling IPv4 fragments so that all of a datagram goes to one
//! place. Kernel counters (`PACKET_STATISTICS`, `tpacket_stats_v3`) give the
//! frames dropped because a ring was full and how often a ring froze.
//!
//! [`drop_privileges`] switches the process to an unprivileged user once the
//! sockets are open (the sockets and the ring keep working); it goes through
//! `nix`, with no `unsafe` of its own.
//!
//! The ring needs `unsafe` (as does the memory map of `capture::file`):
//! socket system calls through `libc` (socket options take raw pointers) and
//! reads of the memory the kernel shares with us. Each `unsafe` block says why it is sound. Frames are
//! parsed with safe, bounds-checked code over a block that the kernel has
//! handed to us, so a malformed block cannot make us read outside the ring.
#![allow(unsafe_code)]

use std::ffi::CString;
use std::io;
use std::mem::{offset_of, size_of};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use libc::{c_int, c_void, socklen_t, tpacket3_hdr, tpacket_block_desc, tpacket_hdr_v1};
use nix::errno::Errno;
use nix::sys::prctl;
use nix::unistd::{self, Gid, Uid, User};
use otwatch_proto::event::Timestamp;
use otwatch_proto::wire::LinkType;

use super::Frame;

/// Size and timing of one receive ring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RingConfig {
    /// Bytes per block: a multiple of the page size, and a power of two. The
    /// largest frame that fits is a little smaller than this.
    pub block_size: u32,
    /// Blocks in the ring (memory per ring = `block_size * block_count`).
    pub block_count: u32,
    /// A block that is not full is handed over after this many milliseconds
    /// (the latency of a quiet link), `1..=u32::MAX`.
    pub block_timeout_ms: u32,
}

impl Default for RingConfig {
    /// 1 MiB blocks, 32 of them (32 MiB per worker), 50 ms block timeout.
    fn default() -> RingConfig {
        RingConfig {
            block_size: 1 << 20,
            block_count: 32,
            block_timeout_ms: 50,
        }
    }
}

/// How a ring is attached to its interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RingOptions {
    /// Interface name.
    pub iface: String,
    /// Ring geometry.
    pub ring: RingConfig,
    /// Put the interface in promiscuous mode for as long as the socket is
    /// open (`PACKET_MR_PROMISC` membership; the kernel undoes it on close).
    pub promisc: bool,
    /// Join this `PACKET_FANOUT` group (hash mode with defragmentation).
    /// `None` when there is one ring.
    pub fanout_group: Option<u16>,
}

/// Kernel counters of a socket (`tpacket_stats_v3`), accumulated since open.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KernelStats {
    /// Frames the kernel passed to the socket, including those it dropped.
    pub packets: u64,
    /// Frames dropped because the ring was full.
    pub drops: u64,
    /// Times the ring froze (every block owned by user space).
    pub freezes: u64,
}

impl KernelStats {
    /// Adds `other` to `self`.
    pub fn add(&mut self, other: &KernelStats) {
        self.packets += other.packets;
        self.drops += other.drops;
        self.freezes += other.freezes;
    }
}

/// An AF_PACKET socket with its memory-mapped TPACKET_V3 receive ring.
pub struct Ring {
    fd: OwnedFd,
    map: memmap2::MmapRaw,
    block_size: usize,
    block_count: usize,
    next: usize,
    link_type: LinkType,
    ignores_outgoing: bool,
    stats: KernelStats,
}

impl std::fmt::Debug for Ring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ring")
            .field("fd", &self.fd.as_raw_fd())
            .field("block_size", &self.block_size)
            .field("block_count", &self.block_count)
            .field("link_type", &self.link_type)
            .finish()
    }
}

fn last_error(what: &str) -> io::Error {
    let e = io::Error::last_os_error();
    io::Error::new(e.kind(), format!("{what}: {e}"))
}

/// `setsockopt(fd, SOL_PACKET, name, value)`.
fn set_packet_option<T>(fd: &OwnedFd, name: c_int, value: &T, what: &str) -> io::Result<()> {
    // SAFETY: `value` is a live, initialised `T` and its exact size is passed,
    // so the kernel reads only memory we own; `fd` is an open socket.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_PACKET,
            name,
            (value as *const T).cast::<c_void>(),
            size_of::<T>() as socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(last_error(what))
    }
}

/// The interface index of `iface`.
pub fn interface_index(iface: &str) -> io::Result<u32> {
    let name = CString::new(iface).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("interface name {iface:?} contains NUL"),
        )
    })?;
    // SAFETY: `name` is a valid NUL-terminated string that outlives the call;
    // if_nametoindex only reads it.
    let index = unsafe { libc::if_nametoindex(name.as_ptr()) };
    if index == 0 {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("no network interface named {iface:?}"),
        ));
    }
    Ok(index)
}

/// The link type of frames read from `iface` with a raw packet socket, from
/// its ARPHRD type in `/sys/class/net/IF/type`.
fn link_type_of(iface: &str) -> io::Result<LinkType> {
    let path = format!("/sys/class/net/{iface}/type");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| io::Error::new(e.kind(), format!("{path}: {e}")))?;
    let arphrd: u16 = text.trim().parse().map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{path}: unexpected content {text:?}"),
        )
    })?;
    match arphrd {
        // Ethernet, and loopback (which carries a zeroed Ethernet header).
        libc::ARPHRD_ETHER | libc::ARPHRD_LOOPBACK => Ok(LinkType::Ethernet),
        // tun and other links without a link-layer header: bare IP packets.
        libc::ARPHRD_NONE => Ok(LinkType::RawIp),
        other => Err(io::Error::new(
            io::ErrorKind::Unsupported,
            format!("interface {iface}: link type ARPHRD {other} is not supported for capture"),
        )),
    }
}

impl RingConfig {
    /// Checks the geometry: block size a power of two and a multiple of the
    /// page size, at least one block, under 16 GiB, a timeout of 1 ms or more.
    pub fn validate(&self) -> Result<(), String> {
        // SAFETY: sysconf has no memory-safety preconditions.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        let page = u32::try_from(page).unwrap_or(4096).max(1);
        if self.block_size < page
            || self.block_size % page != 0
            || !self.block_size.is_power_of_two()
        {
            return Err(format!(
                "ring block size {} must be a power of two and a multiple of the page size ({page})",
                self.block_size
            ));
        }
        if self.block_count == 0 {
            return Err("ring block count must be at least 1".into());
        }
        if u64::from(self.block_size) * u64::from(self.block_count) > 1 << 34 {
            return Err("ring size (block size × blocks) must stay below 16 GiB".into());
        }
        if self.block_timeout_ms == 0 {
            return Err("ring block timeout must be at least 1 ms".into());
        }
        Ok(())
    }
}

fn check_config(ring: &RingConfig) -> io::Result<()> {
    ring.validate()
        .map_err(|msg| io::Error::new(io::ErrorKind::InvalidInput, msg))
}

/// TPACKET_V3 frames are 16-byte aligned; `tp_frame_size` only sizes the
/// kernel's frame accounting in V3 (frames are packed within a block).
const FRAME_SIZE: u32 = 2048;

impl Ring {
    /// Opens a receive-only AF_PACKET socket on `options.iface` with a
    /// TPACKET_V3 ring, binds it to all protocols on that interface, and joins
    /// the fanout group if one is given. Needs `CAP_NET_RAW` (root).
    pub fn open(options: &RingOptions) -> io::Result<Ring> {
        check_config(&options.ring)?;
        let ifindex = interface_index(&options.iface)?;
        let link_type = link_type_of(&options.iface)?;

        // Protocol 0: the socket receives nothing until it is bound below,
        // after the ring exists.
        // SAFETY: plain system call with constant arguments; the returned
        // descriptor is checked and then owned by `OwnedFd`.
        let raw: RawFd =
            unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
        if raw < 0 {
            return Err(last_error("socket(AF_PACKET, SOCK_RAW)"));
        }
        // SAFETY: `raw` is a freshly created descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };

        let version = libc::tpacket_versions::TPACKET_V3 as c_int;
        set_packet_option(
            &fd,
            libc::PACKET_VERSION,
            &version,
            "PACKET_VERSION TPACKET_V3",
        )?;

        let ring = &options.ring;
        let req = libc::tpacket_req3 {
            tp_block_size: ring.block_size,
            tp_block_nr: ring.block_count,
            tp_frame_size: FRAME_SIZE,
            tp_frame_nr: (ring.block_size / FRAME_SIZE) * ring.block_count,
            tp_retire_blk_tov: ring.block_timeout_ms,
            tp_sizeof_priv: 0,
            tp_feature_req_word: 0,
        };
        set_packet_option(&fd, libc::PACKET_RX_RING, &req, "PACKET_RX_RING")?;

        let len = ring.block_size as usize * ring.block_count as usize;
        // A shared, read-write mapping of the ring (memmap2 calls mmap with
        // MAP_SHARED); `MmapRaw` hands out raw pointers only, never references
        // to memory the kernel may be writing.
        let map = memmap2::MmapOptions::new()
            .len(len)
            .populate()
            .map_raw(fd.as_raw_fd())
            .map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!("mmap of the receive ring ({len} bytes): {e}"),
                )
            })?;

        // SAFETY: sockaddr_ll is plain old data; all-zero is a valid value.
        let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        addr.sll_family = libc::AF_PACKET as u16;
        addr.sll_protocol = (libc::ETH_P_ALL as u16).to_be();
        addr.sll_ifindex = ifindex as c_int;
        // SAFETY: `addr` is a valid sockaddr_ll and its exact size is passed.
        let rc = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&addr as *const libc::sockaddr_ll).cast::<libc::sockaddr>(),
                size_of::<libc::sockaddr_ll>() as socklen_t,
            )
        };
        if rc != 0 {
            return Err(last_error(&format!("bind to {}", options.iface)));
        }

        if options.promisc {
            let mreq = libc::packet_mreq {
                mr_ifindex: ifindex as c_int,
                mr_type: libc::PACKET_MR_PROMISC as u16,
                mr_alen: 0,
                mr_address: [0; 8],
            };
            set_packet_option(
                &fd,
                libc::PACKET_ADD_MEMBERSHIP,
                &mreq,
                "PACKET_ADD_MEMBERSHIP promiscuous",
            )?;
        }

        // Frames this host sends are not what a sensor watches (and on a
        // monitoring port there are none); older kernels lack the option.
        let one: c_int = 1;
        let ignores_outgoing = set_packet_option(
            &fd,
            libc::PACKET_IGNORE_OUTGOING,
            &one,
            "PACKET_IGNORE_OUTGOING",
        )
        .is_ok();

        if let Some(group) = options.fanout_group {
            let mode = libc::PACKET_FANOUT_HASH | libc::PACKET_FANOUT_FLAG_DEFRAG;
            let arg: c_int = (u32::from(group) | (mode << 16)) as c_int;
            set_packet_option(
                &fd,
                libc::PACKET_FANOUT,
                &arg,
                &format!("PACKET_FANOUT group {group}"),
            )?;
        }

        let mut this = Ring {
            fd,
            map,
            block_size: ring.block_size as usize,
            block_count: ring.block_count as usize,
            next: 0,
            link_type,
            ignores_outgoing,
            stats: KernelStats::default(),
        };
        // Start the counters at zero for this run (reading them resets them).
        this.read_kernel_stats()?;
        this.stats = KernelStats::default();
        Ok(this)
    }

    /// Link type of the frames.
    pub fn link_type(&self) -> LinkType {
        self.link_type
    }

    /// Whether the kernel ignores the host's outgoing frames on this socket.
    pub fn ignores_outgoing(&self) -> bool {
        self.ignores_outgoing
    }

    /// Number of blocks in the ring.
    pub fn blocks(&self) -> usize {
        self.block_count
    }

    /// Memory of the ring in bytes.
    pub fn memory(&self) -> usize {
        self.block_size * self.block_count
    }

    /// Pointer to the status word of block `index`.
    fn status_word(&self, index: usize) -> *mut u32 {
        let offset = index * self.block_size
            + offset_of!(tpacket_block_desc, hdr)
            + offset_of!(tpacket_hdr_v1, block_status);
        // SAFETY: `index < block_count`, so the offset lies inside the mapping
        // (the header is at the start of a block of at least one page); the
        // result is only used as a pointer, and is 4-byte aligned because the
        // mapping and the block size are page aligned and the offset is 8.
        unsafe { self.map.as_mut_ptr().add(offset).cast::<u32>() }
    }

    fn block_ready(&self, index: usize) -> bool {
        // SAFETY: the status word is a valid, aligned u32 inside the mapping
        // that the kernel also accesses; treating it as an atomic is the
        // ring protocol (the kernel writes it last with a barrier). Acquire
        // makes the block's contents visible before we read them.
        let status =
            unsafe { AtomicU32::from_ptr(self.status_word(index)) }.load(Ordering::Acquire);
        status & libc::TP_STATUS_USER != 0
    }

    /// Waits up to `timeout` for the next block the kernel has filled.
    /// `Ok(None)` when the timeout passed or a signal interrupted the wait.
    pub fn next_block(&mut self, timeout: Duration) -> io::Result<Option<Block<'_>>> {
        if !self.block_ready(self.next) {
            let mut pfd = libc::pollfd {
                fd: self.fd.as_raw_fd(),
                events: libc::POLLIN | libc::POLLERR,
                revents: 0,
            };
            let ms = c_int::try_from(timeout.as_millis()).unwrap_or(c_int::MAX);
            // SAFETY: `pfd` is one valid pollfd and we pass a count of 1.
            let rc = unsafe { libc::poll(&mut pfd, 1, ms) };
            if rc < 0 {
                let e = io::Error::last_os_error();
                return if e.kind() == io::ErrorKind::Interrupted {
                    Ok(None)
                } else {
                    Err(e)
                };
            }
            if pfd.revents & libc::POLLERR != 0 {
                // A pending socket error (e.g. the interface went down).
                let mut err: c_int = 0;
                let mut len = size_of::<c_int>() as socklen_t;
                // SAFETY: `err` and `len` are valid for writes of their sizes.
                unsafe {
                    libc::getsockopt(
                        self.fd.as_raw_fd(),
                        libc::SOL_SOCKET,
                        libc::SO_ERROR,
                        (&mut err as *mut c_int).cast::<c_void>(),
                        &mut len,
                    );
                }
                if err != 0 {
                    return Err(io::Error::from_raw_os_error(err));
                }
            }
            if !self.block_ready(self.next) {
                return Ok(None);
            }
        }
        let index = self.next;
        self.next = (self.next + 1) % self.block_count;
        let start = index * self.block_size;
        // SAFETY: the block lies inside the mapping (`index < block_count`).
        // Its status says TP_STATUS_USER (read with Acquire above), so the
        // kernel has finished writing it and will not touch it again until we
        // store TP_STATUS_KERNEL, which only `Block::drop` does. The `&mut`
        // borrow of `self` held by the `Block` makes it the only reference to
        // this memory in the process for as long as it lives.
        let data = unsafe {
            std::slice::from_raw_parts_mut(self.map.as_mut_ptr().add(start), self.block_size)
        };
        let status = self.status_word(index);
        Ok(Some(Block {
            data,
            status,
            link_type: self.link_type,
        }))
    }

    /// Reads (and resets) the kernel's counters, adds them to the totals and
    /// returns the totals since the ring was opened.
    pub fn read_kernel_stats(&mut self) -> io::Result<KernelStats> {
        let mut st = libc::tpacket_stats_v3 {
            tp_packets: 0,
            tp_drops: 0,
            tp_freeze_q_cnt: 0,
        };
        let mut len = size_of::<libc::tpacket_stats_v3>() as socklen_t;
        // SAFETY: `st` and `len` are valid for writes; `len` holds the size of
        // `st`, so the kernel writes at most that many bytes.
        let rc = unsafe {
            libc::getsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_PACKET,
                libc::PACKET_STATISTICS,
                (&mut st as *mut libc::tpacket_stats_v3).cast::<c_void>(),
                &mut len,
            )
        };
        if rc != 0 {
            return Err(last_error("PACKET_STATISTICS"));
        }
        self.stats.add(&KernelStats {
            packets: u64::from(st.tp_packets),
            drops: u64::from(st.tp_drops),
            freezes: u64::from(st.tp_freeze_q_cnt),
        });
        Ok(self.stats)
    }
}

// SAFETY: a `Ring` exclusively owns its socket and its mapping; nothing in it
// is tied to the thread that created it, so it may move to a worker thread.
// (It is not `Sync`: blocks are handed out through `&mut self`.)
unsafe impl Send for Ring {}

/// Summary of one block.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BlockSummary {
    /// Frames handed to the caller.
    pub frames: u32,
    /// Frames the block header announced but that were malformed (skipped).
    pub malformed: u32,
}

/// A block of frames the kernel has handed to us; given back on drop.
pub struct Block<'a> {
    data: &'a mut [u8],
    status: *mut u32,
    link_type: LinkType,
}

impl std::fmt::Debug for Block<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Block")
            .field("len", &self.data.len())
            .finish()
    }
}

fn read_u32(data: &[u8], at: usize) -> Option<u32> {
    let bytes = data.get(at..at.checked_add(4)?)?;
    Some(u32::from_ne_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
}

fn read_u16(data: &[u8], at: usize) -> Option<u16> {
    let bytes = data.get(at..at.checked_add(2)?)?;
    Some(u16::from_ne_bytes([bytes[0], bytes[1]]))
}

/// The fields of a `tpacket3_hdr` we use.
struct FrameHeader {
    next_offset: u32,
    sec: u32,
    nsec: u32,
    snaplen: u32,
    len: u32,
    status: u32,
    mac: u16,
    vlan_tci: u32,
    vlan_tpid: u16,
}

fn frame_header(data: &[u8], at: usize) -> Option<FrameHeader> {
    type H = tpacket3_hdr;
    let vlan = offset_of!(H, hv1);
    Some(FrameHeader {
        next_offset: read_u32(data, at + offset_of!(H, tp_next_offset))?,
        sec: read_u32(data, at + offset_of!(H, tp_sec))?,
        nsec: read_u32(data, at + offset_of!(H, tp_nsec))?,
        snaplen: read_u32(data, at + offset_of!(H, tp_snaplen))?,
        len: read_u32(data, at + offset_of!(H, tp_len))?,
        status: read_u32(data, at + offset_of!(H, tp_status))?,
        mac: read_u16(data, at + offset_of!(H, tp_mac))?,
        vlan_tci: read_u32(
            data,
            at + vlan + offset_of!(libc::tpacket_hdr_variant1, tp_vlan_tci),
        )?,
        vlan_tpid: read_u16(
            data,
            at + vlan + offset_of!(libc::tpacket_hdr_variant1, tp_vlan_tpid),
        )?,
    })
}

/// Walks the frames of a TPACKET_V3 block held in `data` (the whole block,
/// starting with its `tpacket_block_desc`), calling `on_frame` for each.
///
/// A VLAN tag the kernel took out of the frame (`TP_STATUS_VLAN_VALID`) is put
/// back in place, in the slack the kernel leaves before each frame, so the
/// decoder sees the frame as it was on the wire. Offsets are checked against
/// the block: a frame that does not fit is counted as malformed and the walk
/// stops, never reading outside `data`.
pub fn walk_block(
    data: &mut [u8],
    link_type: LinkType,
    on_frame: &mut dyn FnMut(Frame<'_>),
) -> BlockSummary {
    let mut summary = BlockSummary::default();
    let bh = offset_of!(tpacket_block_desc, hdr);
    let (Some(count), Some(first)) = (
        read_u32(data, bh + offset_of!(tpacket_hdr_v1, num_pkts)),
        read_u32(data, bh + offset_of!(tpacket_hdr_v1, offset_to_first_pkt)),
    ) else {
        return summary;
    };
    let header_len = size_of::<tpacket3_hdr>();
    let mut at = first as usize;
    for i in 0..count {
        let Some(h) = frame_header(data, at) else {
            summary.malformed += count - i;
            break;
        };
        let mut start = at + usize::from(h.mac);
        let end = start + h.snaplen as usize;
        if usize::from(h.mac) < header_len || end > data.len() {
            summary.malformed += count - i;
            break;
        }
        let mut wire_len = h.len;
        if h.status & libc::TP_STATUS_VLAN_VALID != 0
            && link_type == LinkType::Ethernet
            && h.snaplen >= 12
            && usize::from(h.mac) >= header_len + 4
        {
            // Move the two MAC addresses 4 bytes down and write the tag after
            // them; the 4 bytes before the frame belong to the kernel's
            // sockaddr_ll area of this frame, which we do not read.
            let tpid = if h.status & libc::TP_STATUS_VLAN_TPID_VALID != 0 && h.vlan_tpid != 0 {
                h.vlan_tpid
            } else {
                0x8100
            };
            data.copy_within(start..start + 12, start - 4);
            data[start + 8..start + 10].copy_from_slice(&tpid.to_be_bytes());
            data[start + 10..start + 12]
                .copy_from_slice(&((h.vlan_tci & 0xffff) as u16).to_be_bytes());
            start -= 4;
            wire_len += 4;
        }
        on_frame(Frame {
            ts: Timestamp::new(i64::from(h.sec), h.nsec),
            link_type,
            data: &data[start..end],
            wire_len,
        });
        summary.frames += 1;
        if h.next_offset == 0 {
            summary.malformed += count - i - 1;
            break;
        }
        at += h.next_offset as usize;
    }
    summary
}

impl Block<'_> {
    /// Calls `on_frame` for every frame of the block, in order.
    pub fn for_each_frame(&mut self, on_frame: &mut dyn FnMut(Frame<'_>)) -> BlockSummary {
        walk_block(self.data, self.link_type, on_frame)
    }
}

impl Drop for Block<'_> {
    fn drop(&mut self) {
        // SAFETY: `status` points at this block's aligned status word inside
        // the mapping (see `Ring::status_word`). Release orders our reads of
        // the block before the kernel may reuse it. After this store we no
        // longer touch the block: `data` ends its life with `self`.
        unsafe { AtomicU32::from_ptr(self.status) }
            .store(libc::TP_STATUS_KERNEL, Ordering::Release);
    }
}

/// A user the process switched to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Credentials {
    /// User id.
    pub uid: u32,
    /// Primary group id.
    pub gid: u32,
}

/// Looks up `user` (a name, or a numeric uid) in the user database.
pub fn lookup_user(user: &str) -> io::Result<Credentials> {
    if user.contains('\0') {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("user name {user:?} contains NUL"),
        ));
    }
    if let Ok(Some(found)) = User::from_name(user) {
        return Ok(Credentials {
            uid: found.uid.as_raw(),
            gid: found.gid.as_raw(),
        });
    }
    if let Ok(uid) = user.parse::<u32>() {
        return Ok(Credentials { uid, gid: uid });
    }
    Err(io::Error::new(
        io::ErrorKind::NotFound,
        format!("no user named {user:?}"),
    ))
}

/// Switches the whole process to `user` for good: supplementary groups are
/// cleared, then the group and user ids (real, effective and saved) are set,
/// which also clears every capability. Open sockets and mappings stay usable.
/// Fails if the switch did not take, or if root could be regained.
pub fn drop_privileges(user: &str) -> io::Result<Credentials> {
    let creds = lookup_user(user)?;
    if creds.uid == 0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("user {user:?} is root: nothing would be dropped"),
        ));
    }
    let (uid, gid) = (Uid::from_raw(creds.uid), Gid::from_raw(creds.gid));
    let failed = |call: &'static str| {
        move |e: Errno| {
            let os = io::Error::from_raw_os_error(e as i32);
            io::Error::new(os.kind(), format!("{call}: {os}"))
        }
    };
    // glibc applies each of these to every thread of the process.
    unistd::setgroups(&[gid]).map_err(failed("setgroups"))?;
    unistd::setresgid(gid, gid, gid).map_err(failed("setresgid"))?;
    unistd::setresuid(uid, uid, uid).map_err(failed("setresuid"))?;
    // No way back: execve'd children gain nothing either.
    let _ = prctl::set_no_new_privs();
    // setuid(0) must fail now.
    let (now, effective) = (unistd::getuid(), unistd::geteuid());
    let regained = unistd::setuid(Uid::from_raw(0)).is_ok();
    if now != uid || effective != uid || regained {
        return Err(io::Error::other(format!(
            "privilege drop to {user:?} did not take (uid {now}, euid {effective})"
        )));
    }
    Ok(creds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_are_looked_up_by_name_or_number() {
        // root is uid 0 with group 0 on every Linux system.
        let root = lookup_user("root").map_err(|e| e.to_string());
        assert_eq!(root, Ok(Credentials { uid: 0, gid: 0 }));
        // A number that names no user is taken as the uid (and gid).
        let numeric = lookup_user("4000000").map_err(|e| e.to_string());
        assert_eq!(
            numeric,
            Ok(Credentials {
                uid: 4_000_000,
                gid: 4_000_000
            })
        );
        let kind = |r: io::Result<Credentials>| r.err().map(|e| e.kind());
        assert_eq!(
            kind(lookup_user("no-such-user-here")),
            Some(io::ErrorKind::NotFound)
        );
        assert_eq!(
            kind(lookup_user("nob\0ody")),
            Some(io::ErrorKind::InvalidInput)
        );
        // Switching to root would drop nothing: refused before any call.
        assert_eq!(
            kind(drop_privileges("root")),
            Some(io::ErrorKind::InvalidInput)
        );
    }

    fn put_u32(b: &mut [u8], at: usize, v: u32) {
        b[at..at + 4].copy_from_slice(&v.to_ne_bytes());
    }

    fn put_u16(b: &mut [u8], at: usize, v: u16) {
        b[at..at + 2].copy_from_slice(&v.to_ne_bytes());
    }

    const BH: usize = offset_of!(tpacket_block_desc, hdr);

    /// Builds a block with the given frames the way the kernel lays it out:
    /// block descriptor, then per frame a tpacket3_hdr, sockaddr_ll slack and
    /// the frame at `tp_mac`, 16-byte aligned.
    fn block(frames: &[(&[u8], Option<u16>)]) -> Vec<u8> {
        let mut b = vec![0u8; 4096];
        let first = 48usize; // aligned size of tpacket_block_desc
        put_u32(
            &mut b,
            BH + offset_of!(tpacket_hdr_v1, num_pkts),
            frames.len() as u32,
        );
        put_u32(
            &mut b,
            BH + offset_of!(tpacket_hdr_v1, offset_to_first_pkt),
            first as u32,
        );
        let mut at = first;
        for (i, (frame, vlan)) in frames.iter().enumerate() {
            let mac = libc::TPACKET3_HDRLEN.next_multiple_of(16) + 2;
            let next = if i + 1 == frames.len() {
                0
            } else {
                (mac + frame.len()).next_multiple_of(16)
            };
            type H = tpacket3_hdr;
            put_u32(&mut b, at + offset_of!(H, tp_next_offset), next as u32);
            put_u32(&mut b, at + offset_of!(H, tp_sec), 1_700_000_000 + i as u32);
            put_u32(&mut b, at + offset_of!(H, tp_nsec), 123_456_789);
            put_u32(&mut b, at + offset_of!(H, tp_snaplen), frame.len() as u32);
            put_u32(&mut b, at + offset_of!(H, tp_len), frame.len() as u32 + 10);
            let mut status = libc::TP_STATUS_USER;
            if let Some(tci) = vlan {
                status |= libc::TP_STATUS_VLAN_VALID;
                put_u32(
                    &mut b,
                    at + offset_of!(H, hv1) + offset_of!(libc::tpacket_hdr_variant1, tp_vlan_tci),
                    u32::from(*tci),
                );
            }
            put_u32(&mut b, at + offset_of!(H, tp_status), status);
            put_u16(&mut b, at + offset_of!(H, tp_mac), mac as u16);
            b[at + mac..at + mac + frame.len()].copy_from_slice(frame);
            at += next;
        }
        b
    }

    fn collect(data: &mut [u8]) -> (Vec<(Timestamp, Vec<u8>, u32)>, BlockSummary) {
        let mut out = Vec::new();
        let summary = walk_block(data, LinkType::Ethernet, &mut |f| {
            out.push((f.ts, f.data.to_vec(), f.wire_len))
        });
        (out, summary)
    }

    #[test]
    fn layouts_match_the_kernel_abi() {
        assert_eq!(size_of::<tpacket3_hdr>(), 48);
        assert_eq!(offset_of!(tpacket_block_desc, hdr), 8);
        assert_eq!(offset_of!(tpacket_hdr_v1, num_pkts), 4);
        assert_eq!(offset_of!(tpacket3_hdr, tp_mac), 24);
    }

    #[test]
    fn walks_every_frame_of_a_block() {
        let a: Vec<u8> = (0..60).collect();
        let b: Vec<u8> = (100..200).collect();
        let mut blk = block(&[(&a, None), (&b, None)]);
        let (frames, summary) = collect(&mut blk);
        assert_eq!(
            summary,
            BlockSummary {
                frames: 2,
                malformed: 0
            }
        );
        assert_eq!(frames[0].1, a);
        assert_eq!(frames[0].0, Timestamp::new(1_700_000_000, 123_456_789));
        assert_eq!(frames[0].2, 70);
        assert_eq!(frames[1].1, b);
    }

    #[test]
    fn puts_a_stripped_vlan_tag_back() {
        let mut frame = vec![0u8; 60];
        frame[..12].copy_from_slice(&[1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2]);
        frame[12..14].copy_from_slice(&[0x08, 0x00]);
        let mut blk = block(&[(&frame, Some(0x2064))]);
        let (frames, _) = collect(&mut blk);
        let got = &frames[0].1;
        assert_eq!(got.len(), 64);
        assert_eq!(&got[..12], &frame[..12]);
        assert_eq!(&got[12..16], &[0x81, 0x00, 0x20, 0x64]);
        assert_eq!(&got[16..18], &[0x08, 0x00]);
        assert_eq!(frames[0].2, 74);
    }

    #[test]
    fn stops_at_a_frame_outside_the_block() {
        let a = [7u8; 60];
        let mut blk = block(&[(&a, None), (&a, None), (&a, None)]);
        // Second frame claims a snaplen past the end of the block.
        let second = 48 + read_u32(&blk, 48).unwrap_or(0) as usize;
        put_u32(
            &mut blk,
            second + offset_of!(tpacket3_hdr, tp_snaplen),
            1 << 20,
        );
        let (frames, summary) = collect(&mut blk);
        assert_eq!(frames.len(), 1);
        assert_eq!(
            summary,
            BlockSummary {
                frames: 1,
                malformed: 2
            }
        );
        // A num_pkts larger than what is there stops at the zero next offset.
        let mut blk = block(&[(&a, None)]);
        put_u32(&mut blk, BH + offset_of!(tpacket_hdr_v1, num_pkts), 5);
        let (frames, summary) = collect(&mut blk);
        assert_eq!(frames.len(), 1);
        assert_eq!(summary.malformed, 4);
        // A block too short for its own header yields nothing.
        let (frames, _) = collect(&mut [0u8; 10]);
        assert!(frames.is_empty());
    }

    #[test]
    fn rejects_bad_ring_geometry() {
        let ok = RingConfig::default();
        assert!(check_config(&ok).is_ok());
        assert!(check_config(&RingConfig {
            block_size: 3 << 12,
            ..ok
        })
        .is_err());
        assert!(check_config(&RingConfig {
            block_count: 0,
            ..ok
        })
        .is_err());
        assert!(check_config(&RingConfig {
            block_timeout_ms: 0,
            ..ok
        })
        .is_err());
    }

    #[test]
    fn unknown_interface_is_a_clear_error() {
        let e = interface_index("otw-no-such-if")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("otw-no-such-if"), "{e}");
    }
}
