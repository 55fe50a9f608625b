//! TCP stream reassembly for one direction of a flow.
//!
//! [`TcpStream::segment`] takes each segment of its direction and hands the
//! in-order bytes to a callback as [`StreamChunk::Data`]. A segment that arrives
//! in order is passed straight from the packet (no copy); only out-of-order
//! segments are copied, into a per-direction buffer bounded by
//! [`ReassemblyLimits::max_buffered`].
//!
//! * Retransmissions are de-duplicated; when retransmitted bytes differ from
//!   the bytes already delivered (kept in a small history window) or from a
//!   buffered segment, [`StreamChunk::OverlapMismatch`] reports an evasion
//!   attempt and the first copy wins.
//! * The receiver's window is tracked from its acknowledgements
//!   ([`TcpStream::window_update`]): a segment far outside
//!   `[ack, ack + window]` is one the receiver drops, so it is reported
//!   ([`StreamChunk::OutsideWindow`]) and never moves the stream.
//! * Once the peer has been seen, a hole is skipped ([`StreamChunk::Gap`])
//!   only when the peer acknowledges bytes this side never saw (they were
//!   lost by the capture); a segment too far ahead to buffer, or arriving when
//!   the buffer is full, is dropped and reported instead
//!   ([`StreamChunk::BufferFull`]). A forged acknowledgement is the one way
//!   left to make the stream skip: the sensor cannot tell it from the peer's
//!   own (the sender ignores an acknowledgement of data it never sent, the
//!   sensor does not see that). An acknowledgement beyond the window the
//!   receiver itself advertised is not believed, and one far behind the
//!   acknowledgement believed so far is reported (one of them was forged).
//!   When the window scale was
//!   not seen (no handshake) the largest is assumed, so a segment more than
//!   [`MAX_SEQ_DISTANCE`] from the receiver's latest acknowledgement is
//!   dropped as well; the stream restarts only at a segment near it (the
//!   receiver acknowledged what the capture lost).
//! * Once a stream is known, a SYN that does not fit it (anything but the
//!   SYN already seen) is reported ([`StreamChunk::StraySyn`]) and ignored,
//!   as the receiver ignores it (RFC 5961 4.2).
//! * Before anything of the peer was seen (a capture of one direction only),
//!   a hole is also skipped when the buffer is full or the hole is larger than
//!   the buffer, and a segment nowhere near the stream starts it over, so the
//!   dissector can resynchronise instead of waiting forever.
//! * A session whose handshake was not captured is picked up at the first
//!   segment that carries data.

/// Limits for one direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReassemblyLimits {
    /// Out-of-order bytes buffered before a gap is declared.
    pub max_buffered: usize,
    /// Out-of-order segments buffered before a gap is declared.
    pub max_segments: usize,
    /// Delivered bytes remembered to check retransmissions for changed content.
    pub history: usize,
}

impl Default for ReassemblyLimits {
    fn default() -> Self {
        ReassemblyLimits {
            max_buffered: 64 * 1024,
            max_segments: 256,
            history: 2048,
        }
    }
}

/// What reassembly hands to the stream's consumer.
#[derive(Debug, PartialEq, Eq)]
pub enum StreamChunk<'a> {
    /// The next in-order bytes.
    Data(&'a [u8]),
    /// `len` bytes were lost and skipped (capture loss or a hole never filled).
    Gap {
        /// Bytes skipped.
        len: u32,
    },
    /// A retransmitted or overlapping segment carried different bytes than the
    /// first copy at the same sequence numbers (evasion attempt).
    OverlapMismatch {
        /// Sequence number of the first differing byte.
        seq: u32,
        /// Number of overlapping bytes compared.
        len: u32,
    },
    /// A segment could not be held: the out-of-order buffer hit its limit,
    /// or the segment lies further ahead than the buffer reaches. Before the
    /// peer was seen a gap follows; afterwards the segment is dropped and the
    /// hole waits for the peer's acknowledgement.
    BufferFull {
        /// Bytes buffered when the limit was hit.
        buffered: usize,
    },
    /// A segment lies far outside the receiver's window: the receiver drops
    /// it, so reassembly ignores it (insertion or desynchronisation attempt).
    OutsideWindow {
        /// Sequence number of the segment's first data byte.
        seq: u32,
        /// Payload bytes.
        len: u32,
        /// The receiver's last acknowledgement.
        ack: u32,
        /// The right edge of its window (`ack + window`).
        window_end: u32,
    },
    /// A SYN whose sequence number does not fit a stream already known
    /// (forged, or nowhere near the connection): it neither moves the stream
    /// nor counts as data.
    StraySyn {
        /// The SYN's sequence number.
        seq: u32,
        /// The sequence number the stream expects next.
        next: u32,
    },
}

/// Counters for one direction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StreamStats {
    /// Bytes delivered in order.
    pub delivered: u64,
    /// Segments that were wholly old (retransmissions, keep-alives).
    pub retransmitted: u64,
    /// Segments buffered out of order.
    pub out_of_order: u64,
    /// Gaps skipped.
    pub gaps: u64,
    /// Bytes skipped in gaps.
    pub gap_bytes: u64,
    /// Overlaps whose bytes differed.
    pub overlap_mismatches: u64,
    /// Segments ignored because they lay far outside the receiver's window.
    pub outside_window: u64,
    /// Segments dropped because they could not be buffered (after the peer
    /// was seen; the hole waits for its acknowledgement).
    pub dropped_segments: u64,
    /// Acknowledgements ignored because they acknowledged bytes beyond the
    /// window the receiver had advertised.
    pub implausible_acks: u64,
    /// SYNs ignored because their sequence number did not fit the stream.
    pub stray_syns: u64,
    /// Times the window followed acknowledgements beyond it after a capture
    /// loss larger than the window ([`AckNews::Recovered`]).
    pub window_recoveries: u64,
    /// Acknowledgements further behind the believed one than its window
    /// (one of the two was forged).
    pub ack_regressions: u64,
}

#[derive(Debug)]
struct Pending {
    seq: u32,
    data: Vec<u8>,
}

/// Sequence numbers farther than this from the stream (either way) are a
/// desynchronisation, not a retransmission or a hole to wait for.
pub const MAX_SEQ_DISTANCE: u32 = 16 * 1024 * 1024;

/// How far beyond either edge of the receiver's window a segment may lie
/// before it counts as outside: the window itself, and at least this much
/// (the capture may show a segment before the acknowledgement that opened
/// the window for it).
pub const MIN_WINDOW_SLACK: u32 = 64 * 1024;

/// Largest window shift (RFC 7323 2.3).
pub const MAX_WINDOW_SHIFT: u8 = 14;

/// Window scaling of a connection, from the two SYNs (RFC 7323 2.2): each
/// side's advertised windows are shifted by its own option, and only when
/// both SYNs carried one. When a SYN was not captured the shift is unknown
/// and [`MAX_WINDOW_SHIFT`] is assumed: the largest window any connection
/// could have, so that no real segment is taken for one outside it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WindowScale {
    /// Per side (client, server): `None` until its SYN is seen, then the
    /// shift its window scale option offered (`Some(None)` without one).
    syn: [Option<Option<u8>>; 2],
}

impl WindowScale {
    /// Records the SYN (or SYN-ACK) of `side` (0 client, 1 server) and the
    /// shift it offered.
    pub fn syn(&mut self, side: usize, shift: Option<u8>) {
        if let Some(slot) = self.syn.get_mut(side) {
            *slot = Some(shift.map(|s| s.min(MAX_WINDOW_SHIFT)));
        }
    }

    /// The shift of the windows that `side` advertises on segments other
    /// than SYNs.
    pub fn shift(&self, side: usize) -> u8 {
        match (self.syn[0], self.syn[1]) {
            (Some(Some(a)), Some(Some(b))) => {
                if side == 0 {
                    a
                } else {
                    b
                }
            }
            (Some(_), Some(_)) => 0,
            _ => MAX_WINDOW_SHIFT,
        }
    }

    /// The window in bytes of a segment sent by `side`.
    pub fn bytes(&self, side: usize, window: u16, syn: bool) -> u32 {
        if syn {
            u32::from(window)
        } else {
            u32::from(window) << self.shift(side)
        }
    }
}

/// Wrapping sequence-number comparison: `a` is before `b`.
#[inline]
fn seq_lt(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) < 0
}

#[inline]
fn seq_diff(later: u32, earlier: u32) -> u32 {
    later.wrapping_sub(earlier)
}

/// Reassembly state of one direction.
#[derive(Debug, Default)]
pub struct TcpStream {
    /// Sequence number of the next byte to deliver; `None` until known.
    next: Option<u32>,
    /// Out-of-order segments, sorted by sequence number, not overlapping.
    pending: Vec<Pending>,
    buffered: usize,
    /// The last delivered bytes (ring), to compare retransmissions against.
    history: Vec<u8>,
    /// Write position in `history` once it is full.
    history_pos: usize,
    fin_seen: bool,
    /// Highest sequence number the peer acknowledged beyond `next` (a hole
    /// the peer proved received).
    acked: Option<u32>,
    /// The peer's latest acknowledgement and the right edge of its window
    /// (`ack + window`), once a segment of the peer was seen.
    peer: Option<(u32, u32)>,
    /// Implausible acknowledgements in a row that agree with each other:
    /// the latest, its window, and how many.
    jump: Option<(u32, u32, u8)>,
    /// Sequence number of the latest segment dropped as outside the window.
    last_outside: Option<u32>,
    /// Counters.
    pub stats: StreamStats,
}

/// What an acknowledgement revealed ([`TcpStream::window_update`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckNews {
    /// It lies further behind the acknowledgement believed so far than that
    /// one's window and slack: a receiver's acknowledgements never go back,
    /// and capture reordering moves them back by less than a window, so one
    /// of the two was forged (forged acknowledgements may have walked the
    /// window forward). Nothing changes: which one is real cannot be told.
    Regression {
        /// The acknowledgement believed so far.
        believed: u32,
    },
    /// [`RECOVERY_ACKS`] acknowledgements in a row lay beyond the window,
    /// each agreeing with the last, while the sender's segments arrived
    /// there too: the capture lost more than a window. The window now
    /// follows them.
    Recovered {
        /// The acknowledgement believed before.
        from: u32,
        /// The one believed now.
        to: u32,
    },
}

/// Implausible acknowledgements in a row, agreeing with each other and with
/// the sender's segments, after which the window follows them (capture loss
/// larger than the window).
pub const RECOVERY_ACKS: u8 = 4;

impl TcpStream {
    /// A stream that has seen nothing yet.
    pub fn new() -> TcpStream {
        TcpStream::default()
    }

    /// Whether a FIN was seen in this direction.
    pub fn fin_seen(&self) -> bool {
        self.fin_seen
    }

    /// Bytes currently held (buffered out-of-order data and history).
    pub fn memory(&self) -> usize {
        self.buffered + self.history.capacity()
    }

    /// Processes one segment of this direction.
    pub fn segment<F>(
        &mut self,
        seq: u32,
        syn: bool,
        fin: bool,
        payload: &[u8],
        limits: &ReassemblyLimits,
        out: &mut F,
    ) where
        F: FnMut(StreamChunk<'_>),
    {
        let data_seq = if syn {
            // The SYN consumes one sequence number; data (rare on SYN) follows
            // it. Once the stream is known, only a SYN that fits it (a
            // retransmission of the one seen) is taken: the receiver answers
            // any other with a challenge ACK (RFC 5961 4.2) and ignores it.
            let after = seq.wrapping_add(1);
            match self.next {
                Some(next) if next != after => {
                    self.stats.stray_syns += 1;
                    out(StreamChunk::StraySyn { seq, next });
                    return;
                }
                _ => self.next = Some(after),
            }
            after
        } else {
            seq
        };
        if payload.is_empty() {
            if fin {
                self.fin_seen = true;
            }
            return;
        }
        if let Some((ack, window_end)) = self.outside_window(data_seq, payload.len()) {
            // The receiver drops it: so does reassembly (FIN included).
            self.stats.outside_window += 1;
            self.last_outside = Some(data_seq);
            out(StreamChunk::OutsideWindow {
                seq: data_seq,
                len: payload.len() as u32,
                ack,
                window_end,
            });
            return;
        }
        if let Some((ack, window_end)) = self.peer {
            if seq_diff(ack, data_seq) > MAX_SEQ_DISTANCE
                && seq_diff(data_seq, ack) > MAX_SEQ_DISTANCE
            {
                // Nowhere near what the receiver acknowledged, although the
                // window allowed it (a window scale never seen is taken as the
                // largest): the receiver cannot have asked for it. Dropped, so
                // it can neither start the stream nor resynchronise it.
                self.stats.outside_window += 1;
                out(StreamChunk::OutsideWindow {
                    seq: data_seq,
                    len: payload.len() as u32,
                    ack,
                    window_end,
                });
                return;
            }
        }
        let next = match self.next {
            Some(next) => next,
            None => {
                // Mid-stream pickup: start at the first data we see.
                self.next = Some(data_seq);
                data_seq
            }
        };
        let end = data_seq.wrapping_add(payload.len() as u32);
        if seq_diff(next, data_seq) > MAX_SEQ_DISTANCE
            && seq_diff(data_seq, next) > MAX_SEQ_DISTANCE
        {
            // Nowhere near the stream, but near what the receiver
            // acknowledged (or the receiver was never seen): the stream moved
            // on without us (capture loss). Start over at this segment.
            self.resync_at(data_seq, out);
            self.deliver(payload, limits, out);
        } else if !seq_lt(next, end) {
            // Wholly old: a retransmission or a keep-alive probe. A probe
            // carries (at most) one byte at the sequence number before the
            // next one, of any value (Windows sends a zero): not compared.
            self.stats.retransmitted += 1;
            let keep_alive = payload.len() == 1 && end == next;
            if !keep_alive {
                self.compare_history(data_seq, payload, next, out);
            }
        } else if seq_lt(next, data_seq) {
            self.ahead(data_seq, payload, limits, out);
        } else {
            // In order, possibly overlapping what was delivered already.
            let skip = seq_diff(next, data_seq) as usize;
            if skip > 0 {
                self.stats.retransmitted += 1;
                self.compare_history(data_seq, &payload[..skip], next, out);
            }
            self.deliver(&payload[skip..], limits, out);
            self.drain_pending(limits, out);
        }
        if fin {
            self.fin_seen = true;
        }
    }

    /// The peer acknowledged `ack`. Bytes the peer acknowledged but the
    /// capture never showed were lost by the capture: once data after such a
    /// hole is here, the hole is skipped rather than waited for. (An ACK alone
    /// is not enough: capture points often record the ACK just before the data
    /// it acknowledges.)
    pub fn acknowledged<F>(&mut self, ack: u32, limits: &ReassemblyLimits, out: &mut F)
    where
        F: FnMut(StreamChunk<'_>),
    {
        let Some(next) = self.next else { return };
        if !seq_lt(next, ack) {
            return;
        }
        if !self.plausible_ack(ack) {
            // Acknowledges bytes the sender could not have sent yet: not
            // proof of anything (the sender would ignore it too).
            self.stats.implausible_acks += 1;
            return;
        }
        match self.acked {
            Some(prev) if !seq_lt(prev, ack) => {}
            _ => self.acked = Some(ack),
        }
        if let Some(first) = self.pending.first() {
            if !seq_lt(ack, first.seq) {
                let target = first.seq;
                self.skip_to(target, out);
                self.drain_pending(limits, out);
            }
        }
    }

    /// The peer (this direction's receiver) sent a segment acknowledging
    /// `ack` with a window of `window` bytes (already scaled, see
    /// [`WindowScale`]). An acknowledgement beyond the window the peer had
    /// advertised is ignored.
    ///
    /// See [`AckNews`] for what it may reveal.
    pub fn window_update(&mut self, ack: u32, window: u32) -> Option<AckNews> {
        match self.peer {
            Some((prev, end)) if seq_lt(ack, prev) => {
                // An older acknowledgement.
                let behind = seq_diff(prev, ack);
                if behind > seq_diff(end, prev).saturating_add(Self::slack(prev, end)) {
                    self.stats.ack_regressions += 1;
                    return Some(AckNews::Regression { believed: prev });
                }
            }
            Some((prev, _)) if !self.plausible_ack(ack) => {
                return self.implausible(prev, ack, window);
            }
            _ => {
                self.jump = None;
                self.peer = Some((ack, ack.wrapping_add(window)));
            }
        }
        None
    }

    /// An acknowledgement beyond the window: counted towards a recovery when
    /// it agrees with the previous implausible one (not before it, within its
    /// window and slack) and the sender's latest dropped segment lies near it.
    fn implausible(&mut self, prev: u32, ack: u32, window: u32) -> Option<AckNews> {
        let count = match self.jump {
            Some((last, last_window, n))
                if !seq_lt(ack, last)
                    && seq_diff(ack, last)
                        <= last_window
                            .saturating_add(Self::slack(last, last.wrapping_add(last_window))) =>
            {
                n.saturating_add(1)
            }
            _ => 1,
        };
        self.jump = Some((ack, window, count));
        let slack = Self::slack(ack, ack.wrapping_add(window));
        let sender_there = self.last_outside.is_some_and(|seq| {
            let from = ack.wrapping_sub(slack);
            seq_diff(seq, from) <= window.saturating_add(slack).saturating_add(slack)
        });
        if count < RECOVERY_ACKS || !sender_there {
            return None;
        }
        self.jump = None;
        self.peer = Some((ack, ack.wrapping_add(window)));
        self.stats.window_recoveries += 1;
        Some(AckNews::Recovered {
            from: prev,
            to: ack,
        })
    }

    /// Whether an acknowledgement lies within what the peer's last window
    /// allowed the sender to send.
    fn plausible_ack(&self, ack: u32) -> bool {
        match self.peer {
            Some((prev, end)) => !seq_lt(end.wrapping_add(Self::slack(prev, end)), ack),
            None => true,
        }
    }

    fn slack(ack: u32, window_end: u32) -> u32 {
        seq_diff(window_end, ack).clamp(MIN_WINDOW_SLACK, MAX_SEQ_DISTANCE)
    }

    /// `Some((ack, window_end))` when `[seq, seq + len)` lies far outside the
    /// peer's window: wholly after its right edge, or wholly before its
    /// acknowledgement, by more than the slack.
    fn outside_window(&self, seq: u32, len: usize) -> Option<(u32, u32)> {
        let (ack, window_end) = self.peer?;
        let slack = Self::slack(ack, window_end);
        let end = seq.wrapping_add(len as u32);
        let after = seq_lt(window_end.wrapping_add(slack), seq);
        let before = seq_lt(end, ack.wrapping_sub(slack));
        (after || before).then_some((ack, window_end))
    }

    /// Whether a SYN at `seq` fits this stream: nothing is known yet, or it
    /// is the SYN already seen. Another is ignored by [`TcpStream::segment`]
    /// (and must not change the connection's window scale either).
    pub fn syn_fits(&self, seq: u32) -> bool {
        self.next.is_none_or(|next| next == seq.wrapping_add(1))
    }

    /// Forgets the connection (a new one reuses the addresses and ports of a
    /// closed flow): the next SYN starts the stream afresh. Counters stay.
    pub fn restart(&mut self) {
        let stats = self.stats;
        *self = TcpStream {
            stats,
            ..TcpStream::default()
        };
    }

    /// Whether a segment of the peer was seen (its acknowledgements can then
    /// prove holes, and nothing else may skip one).
    pub fn peer_seen(&self) -> bool {
        self.peer.is_some()
    }

    /// A data segment starting after `next`.
    fn ahead<F>(&mut self, data_seq: u32, payload: &[u8], limits: &ReassemblyLimits, out: &mut F)
    where
        F: FnMut(StreamChunk<'_>),
    {
        let Some(next) = self.next else { return };
        let far = seq_diff(data_seq, next) as usize > limits.max_buffered;
        let proven = self
            .acked
            .filter(|&a| seq_lt(next, a) && (far || !seq_lt(a, data_seq)));
        if let Some(acked) = proven {
            // The peer received bytes we never saw: skip the hole up to what
            // it acknowledged, or to the first byte we hold, if earlier. (A
            // hole the peer acknowledged only in part is skipped in part
            // only when this segment could not be buffered across it.)
            let mut target = if seq_lt(acked, data_seq) {
                acked
            } else {
                data_seq
            };
            if let Some(p) = self.pending.first() {
                if seq_lt(p.seq, target) {
                    target = p.seq;
                }
            }
            self.skip_to(target, out);
            self.drain_pending(limits, out);
        }
        let Some(next) = self.next else { return };
        if next == data_seq {
            self.deliver(payload, limits, out);
            self.drain_pending(limits, out);
            return;
        }
        if !seq_lt(next, data_seq) {
            // The skip or the buffered data reached into this segment.
            let skip = seq_diff(next, data_seq) as usize;
            if skip < payload.len() {
                self.compare_history(data_seq, &payload[..skip], next, out);
                self.deliver(&payload[skip..], limits, out);
                self.drain_pending(limits, out);
            } else {
                self.compare_history(data_seq, payload, next, out);
            }
            return;
        }
        let hole = seq_diff(data_seq, next) as usize;
        if hole <= limits.max_buffered {
            // Ahead of what we have: hold it until the hole is filled.
            self.buffer(data_seq, payload, limits, out);
        } else if self.peer.is_some() {
            // Too far ahead to hold, and nothing proves the hole lost: the
            // segment is dropped; the peer's acknowledgements will tell.
            self.stats.dropped_segments += 1;
            out(StreamChunk::BufferFull {
                buffered: self.buffered,
            });
        } else {
            // Nothing of the peer seen: the hole is larger than we would ever
            // buffer, skip it now.
            let target = match self.pending.first() {
                Some(p) if seq_lt(p.seq, data_seq) => p.seq,
                _ => data_seq,
            };
            self.skip_to(target, out);
            self.drain_pending(limits, out);
            if self.next == Some(data_seq) {
                self.deliver(payload, limits, out);
                self.drain_pending(limits, out);
            } else {
                self.buffer(data_seq, payload, limits, out);
            }
        }
    }

    /// Delivers everything still buffered, declaring gaps over the holes
    /// (called when the flow ends).
    pub fn flush<F>(&mut self, limits: &ReassemblyLimits, out: &mut F)
    where
        F: FnMut(StreamChunk<'_>),
    {
        while let Some(first) = self.pending.first() {
            let target = first.seq;
            self.skip_to(target, out);
            self.drain_pending(limits, out);
        }
    }

    fn resync_at<F>(&mut self, seq: u32, out: &mut F)
    where
        F: FnMut(StreamChunk<'_>),
    {
        let Some(next) = self.next else { return };
        let len = seq_diff(seq, next);
        self.stats.gaps += 1;
        self.pending.clear();
        self.buffered = 0;
        self.history.clear();
        self.history_pos = 0;
        self.acked = None;
        self.next = Some(seq);
        out(StreamChunk::Gap { len });
    }

    fn skip_to<F>(&mut self, target: u32, out: &mut F)
    where
        F: FnMut(StreamChunk<'_>),
    {
        let Some(next) = self.next else { return };
        let len = seq_diff(target, next);
        if len == 0 || seq_lt(target, next) {
            return;
        }
        self.stats.gaps += 1;
        self.stats.gap_bytes += u64::from(len);
        self.next = Some(target);
        // History no longer lines up with sequence numbers before the gap.
        self.history.clear();
        self.history_pos = 0;
        out(StreamChunk::Gap { len });
    }

    fn deliver<F>(&mut self, data: &[u8], limits: &ReassemblyLimits, out: &mut F)
    where
        F: FnMut(StreamChunk<'_>),
    {
        if data.is_empty() {
            return;
        }
        if let Some(next) = self.next.as_mut() {
            *next = next.wrapping_add(data.len() as u32);
        }
        self.stats.delivered += data.len() as u64;
        self.remember(data, limits.history);
        out(StreamChunk::Data(data));
    }

    fn drain_pending<F>(&mut self, limits: &ReassemblyLimits, out: &mut F)
    where
        F: FnMut(StreamChunk<'_>),
    {
        while let Some(next) = self.next {
            let Some(first) = self.pending.first() else {
                break;
            };
            if seq_lt(next, first.seq) {
                break;
            }
            let p = self.pending.remove(0);
            self.buffered -= p.data.len();
            let end = p.seq.wrapping_add(p.data.len() as u32);
            if seq_lt(next, end) {
                let skip = seq_diff(next, p.seq) as usize;
                if skip > 0 {
                    self.compare_history(p.seq, &p.data[..skip], next, out);
                }
                self.deliver(&p.data[skip..], limits, out);
            } else {
                self.compare_history(p.seq, &p.data, next, out);
            }
        }
    }

    fn buffer<F>(&mut self, seq: u32, payload: &[u8], limits: &ReassemblyLimits, out: &mut F)
    where
        F: FnMut(StreamChunk<'_>),
    {
        self.stats.out_of_order += 1;
        // Trim against buffered neighbours so segments never overlap; compare
        // the overlapping bytes for evasion.
        let mut seq = seq;
        let mut data: &[u8] = payload;
        let mut insert_at = self.pending.len();
        for (i, p) in self.pending.iter().enumerate() {
            let p_end = p.seq.wrapping_add(p.data.len() as u32);
            let end = seq.wrapping_add(data.len() as u32);
            if !seq_lt(p.seq, end) {
                // p starts at or after our end: insert before it.
                insert_at = i;
                break;
            }
            if !seq_lt(seq, p_end) {
                continue; // p ends before us
            }
            // Overlap between [seq, end) and [p.seq, p_end).
            let ov_start = if seq_lt(seq, p.seq) { p.seq } else { seq };
            let ov_end = if seq_lt(end, p_end) { end } else { p_end };
            let ov_len = seq_diff(ov_end, ov_start) as usize;
            let ours = &data[seq_diff(ov_start, seq) as usize..][..ov_len];
            let theirs = &p.data[seq_diff(ov_start, p.seq) as usize..][..ov_len];
            if ours != theirs {
                self.stats.overlap_mismatches += 1;
                out(StreamChunk::OverlapMismatch {
                    seq: ov_start,
                    len: ov_len as u32,
                });
            }
            if seq_lt(seq, p.seq) {
                // Keep only our part before p; the rest is p's (first copy wins).
                // Any tail after p_end is re-buffered by a recursive call.
                let head_len = seq_diff(p.seq, seq) as usize;
                let tail = if seq_lt(p_end, end) {
                    Some((p_end, &data[seq_diff(p_end, seq) as usize..]))
                } else {
                    None
                };
                let head = &data[..head_len];
                self.insert_pending(i, seq, head, limits, out);
                if let Some((tail_seq, tail_data)) = tail {
                    self.stats.out_of_order = self.stats.out_of_order.saturating_sub(1);
                    self.buffer(tail_seq, tail_data, limits, out);
                }
                return;
            }
            // We start inside p: drop the overlapping prefix.
            if !seq_lt(p_end, end) {
                return; // wholly covered by p
            }
            data = &data[seq_diff(p_end, seq) as usize..];
            seq = p_end;
        }
        self.insert_pending(insert_at, seq, data, limits, out);
    }

    fn insert_pending<F>(
        &mut self,
        at: usize,
        seq: u32,
        data: &[u8],
        limits: &ReassemblyLimits,
        out: &mut F,
    ) where
        F: FnMut(StreamChunk<'_>),
    {
        if data.is_empty() {
            return;
        }
        if self.buffered + data.len() > limits.max_buffered
            || self.pending.len() >= limits.max_segments
        {
            out(StreamChunk::BufferFull {
                buffered: self.buffered,
            });
            if self.peer.is_some() {
                // The hole stays until the peer's acknowledgement proves it
                // lost (or the bytes arrive): a flood of out-of-order
                // segments cannot make the stream skip.
                self.stats.dropped_segments += 1;
                return;
            }
            // Give up on the hole: skip to the first buffered byte (or to this
            // segment when nothing is buffered) and deliver what follows.
            let target = match self.pending.first() {
                Some(p) if seq_lt(p.seq, seq) => p.seq,
                _ => seq,
            };
            self.skip_to(target, out);
            self.drain_pending(limits, out);
            if let Some(next) = self.next {
                if next == seq {
                    self.deliver(data, limits, out);
                    self.drain_pending(limits, out);
                    return;
                }
            }
            // Still not in order (it overlapped or sits after other data):
            // buffer it if there is room now, else drop with a gap later.
            if self.buffered + data.len() <= limits.max_buffered {
                let at = self.pending.partition_point(|p| seq_lt(p.seq, seq));
                self.buffered += data.len();
                self.pending.insert(
                    at,
                    Pending {
                        seq,
                        data: data.to_vec(),
                    },
                );
            }
            return;
        }
        self.buffered += data.len();
        self.pending.insert(
            at.min(self.pending.len()),
            Pending {
                seq,
                data: data.to_vec(),
            },
        );
    }

    /// Keeps the last `cap` delivered bytes: appended while the history
    /// fills, then written over the oldest in a ring (at most two block
    /// copies per segment).
    fn remember(&mut self, data: &[u8], cap: usize) {
        if cap == 0 {
            return;
        }
        let data = &data[data.len().saturating_sub(cap)..];
        let room = cap.saturating_sub(self.history.len());
        let (fill, rest) = data.split_at(room.min(data.len()));
        if self.history.len() < cap {
            let needed = self.history.len() + fill.len();
            if needed > self.history.capacity() {
                // Grow by doubling, but never past `cap`: the ring holds
                // exactly `cap` bytes, and a doubling past it would leave up
                // to half again as much allocated on every long-lived flow.
                let target = needed.max(self.history.capacity() * 2).min(cap);
                self.history.reserve_exact(target - self.history.len());
            }
            self.history.extend_from_slice(fill);
            self.history_pos = 0;
        }
        if rest.is_empty() {
            return;
        }
        let pos = if self.history_pos < cap {
            self.history_pos
        } else {
            0
        };
        let first = (cap - pos).min(rest.len());
        let (head, tail) = rest.split_at(first);
        self.history[pos..pos + first].copy_from_slice(head);
        self.history[..tail.len()].copy_from_slice(tail);
        self.history_pos = (pos + rest.len()) % cap;
    }

    /// Compares `old` (bytes at `seq`, all before `next`) with the history.
    fn compare_history<F>(&mut self, seq: u32, old: &[u8], next: u32, out: &mut F)
    where
        F: FnMut(StreamChunk<'_>),
    {
        let hist_len = self.history.len();
        if hist_len == 0 || old.is_empty() {
            return;
        }
        // Byte at sequence s (< next) sits `next - s` bytes back from the end.
        // While filling, `history_pos` stays 0 and the end is at `hist_len`,
        // which is the same position modulo `hist_len`.
        let end_pos = self.history_pos;
        let mut mismatch: Option<(u32, u32)> = None;
        for (i, &b) in old.iter().enumerate() {
            let s = seq.wrapping_add(i as u32);
            let back = seq_diff(next, s) as usize;
            if back == 0 || back > hist_len {
                continue; // older than what we remember
            }
            let pos = (end_pos + hist_len - back) % hist_len;
            if self.history[pos] != b {
                let m = mismatch.get_or_insert((s, 0));
                m.1 += 1;
            }
        }
        if let Some((seq, len)) = mismatch {
            self.stats.overlap_mismatches += 1;
            out(StreamChunk::OverlapMismatch { seq, len });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Eq)]
    enum Got {
        Data(Vec<u8>),
        Gap(u32),
        Mismatch(u32, u32),
        Full,
        Outside(u32),
        StraySyn(u32, u32),
    }

    fn feed(
        stream: &mut TcpStream,
        segs: &[(u32, bool, &[u8])],
        limits: ReassemblyLimits,
    ) -> Vec<Got> {
        let mut got = Vec::new();
        for &(seq, syn, data) in segs {
            stream.segment(seq, syn, false, data, &limits, &mut |c| got.push(to_got(c)));
        }
        got
    }

    /// The history as a byte-at-a-time ring (the model `remember` must
    /// match): the segment's last `cap` bytes, appended while filling, then
    /// each byte over the oldest.
    fn remember_bytewise(history: &mut Vec<u8>, pos: &mut usize, data: &[u8], cap: usize) {
        for &b in &data[data.len().saturating_sub(cap)..] {
            if history.len() < cap {
                history.push(b);
                *pos = 0;
            } else {
                history[*pos] = b;
                *pos = (*pos + 1) % cap;
            }
        }
    }

    #[test]
    fn history_keeps_the_last_bytes_as_a_ring_of_block_copies() {
        for cap in [1usize, 2, 7, 16, 2048] {
            let mut stream = TcpStream::new();
            let (mut model, mut model_pos) = (Vec::new(), 0usize);
            let mut next = 0u8;
            // Segment sizes below, at and above the cap, in a varied order.
            for (i, len) in [0usize, 1, 3, cap - 1, cap, cap + 1, 5, 2 * cap + 3, 1, 9]
                .into_iter()
                .enumerate()
            {
                let data: Vec<u8> = (0..len)
                    .map(|_| {
                        next = next.wrapping_add(7);
                        next
                    })
                    .collect();
                stream.remember(&data, cap);
                remember_bytewise(&mut model, &mut model_pos, &data, cap);
                assert_eq!(stream.history, model, "cap {cap}, segment {i}");
                assert_eq!(stream.history_pos, model_pos, "cap {cap}, segment {i}");
                assert!(stream.history.capacity() <= cap, "cap {cap}, segment {i}");
            }
        }
        // Polls of 12 and 107 bytes: the history never holds more than its cap.
        for len in [12usize, 107] {
            let mut stream = TcpStream::new();
            for _ in 0..500 {
                stream.remember(&vec![1; len], 2048);
            }
            assert_eq!(stream.history.capacity(), 2048, "{len}-byte segments");
        }
    }

    fn to_got(c: StreamChunk<'_>) -> Got {
        match c {
            StreamChunk::Data(d) => Got::Data(d.to_vec()),
            StreamChunk::Gap { len } => Got::Gap(len),
            StreamChunk::OverlapMismatch { seq, len } => Got::Mismatch(seq, len),
            StreamChunk::BufferFull { .. } => Got::Full,
            StreamChunk::OutsideWindow { seq, .. } => Got::Outside(seq),
            StreamChunk::StraySyn { seq, next } => Got::StraySyn(seq, next),
        }
    }

    fn joined(got: &[Got]) -> Vec<u8> {
        got.iter()
            .filter_map(|g| match g {
                Got::Data(d) => Some(d.clone()),
                _ => None,
            })
            .flatten()
            .collect()
    }

    #[test]
    fn delivers_in_order_after_syn() {
        let mut s = TcpStream::new();
        let got = feed(
            &mut s,
            &[(99, true, b""), (100, false, b"abc"), (103, false, b"de")],
            ReassemblyLimits::default(),
        );
        assert_eq!(
            got,
            vec![Got::Data(b"abc".to_vec()), Got::Data(b"de".to_vec())]
        );
    }

    #[test]
    fn reorders_out_of_order_segments() {
        let mut s = TcpStream::new();
        let got = feed(
            &mut s,
            &[
                (0, true, b""),
                (4, false, b"def"),
                (1, false, b"abc"),
                (7, false, b"g"),
            ],
            ReassemblyLimits::default(),
        );
        assert_eq!(joined(&got), b"abcdefg");
        assert!(got.iter().all(|g| matches!(g, Got::Data(_))));
        assert_eq!(s.stats.out_of_order, 1);
    }

    #[test]
    fn drops_identical_retransmission_silently() {
        let mut s = TcpStream::new();
        let got = feed(
            &mut s,
            &[
                (1000, false, b"hello"),
                (1000, false, b"hello"),
                (1002, false, b"llo!"),
            ],
            ReassemblyLimits::default(),
        );
        assert_eq!(joined(&got), b"hello!");
        assert_eq!(s.stats.retransmitted, 2);
        assert_eq!(s.stats.overlap_mismatches, 0);
    }

    #[test]
    fn flags_retransmission_with_different_bytes() {
        let mut s = TcpStream::new();
        let got = feed(
            &mut s,
            &[(1000, false, b"write"), (1000, false, b"wrXte")],
            ReassemblyLimits::default(),
        );
        assert_eq!(
            got,
            vec![Got::Data(b"write".to_vec()), Got::Mismatch(1002, 1)]
        );
    }

    #[test]
    fn flags_overlapping_out_of_order_segments_that_differ() {
        let mut s = TcpStream::new();
        let got = feed(
            &mut s,
            &[
                (0, false, b"a"),
                (5, false, b"fgh"),
                (4, false, b"eFG"),
                (1, false, b"bcd"),
            ],
            ReassemblyLimits::default(),
        );
        assert_eq!(joined(&got), b"abcdefgh", "first copy wins");
        assert!(got.contains(&Got::Mismatch(5, 2)));
    }

    #[test]
    fn mid_stream_pickup_starts_at_first_data() {
        let mut s = TcpStream::new();
        let got = feed(
            &mut s,
            &[(0xffff_fffe, false, b"ab"), (0, false, b"cd")],
            ReassemblyLimits::default(),
        );
        assert_eq!(joined(&got), b"abcd", "wraps around 2^32");
    }

    #[test]
    fn skips_gap_when_peer_acknowledges_missing_bytes() {
        let mut s = TcpStream::new();
        let limits = ReassemblyLimits::default();
        let mut got = feed(&mut s, &[(10, false, b"aa"), (20, false, b"bb")], limits);
        s.acknowledged(22, &limits, &mut |c| got.push(to_got(c)));
        assert_eq!(
            got,
            vec![
                Got::Data(b"aa".to_vec()),
                Got::Gap(8),
                Got::Data(b"bb".to_vec())
            ]
        );
    }

    #[test]
    fn ack_captured_before_its_data_is_not_a_gap() {
        let mut s = TcpStream::new();
        let limits = ReassemblyLimits::default();
        let mut got = feed(&mut s, &[(10, false, b"aa")], limits);
        s.acknowledged(15, &limits, &mut |c| got.push(to_got(c)));
        s.segment(12, false, false, b"bbb", &limits, &mut |c| {
            got.push(to_got(c))
        });
        assert_eq!(
            got,
            vec![Got::Data(b"aa".to_vec()), Got::Data(b"bbb".to_vec())]
        );
    }

    #[test]
    fn data_after_an_acknowledged_hole_is_delivered_at_once() {
        let mut s = TcpStream::new();
        let limits = ReassemblyLimits::default();
        let mut got = feed(&mut s, &[(10, false, b"aa")], limits);
        s.acknowledged(15, &limits, &mut |c| got.push(to_got(c)));
        s.segment(15, false, false, b"cc", &limits, &mut |c| {
            got.push(to_got(c))
        });
        assert_eq!(
            got,
            vec![
                Got::Data(b"aa".to_vec()),
                Got::Gap(3),
                Got::Data(b"cc".to_vec())
            ]
        );
    }

    #[test]
    fn resynchronises_on_a_wild_sequence_number() {
        let mut s = TcpStream::new();
        let limits = ReassemblyLimits::default();
        let got = feed(
            &mut s,
            &[
                (1000, false, b"aa"),
                (0x8000_0000, false, b"bb"),
                (0x8000_0002, false, b"cc"),
            ],
            limits,
        );
        assert_eq!(
            got,
            vec![
                Got::Data(b"aa".to_vec()),
                Got::Gap(0x8000_0000 - 1002),
                Got::Data(b"bb".to_vec()),
                Got::Data(b"cc".to_vec()),
            ]
        );
    }

    #[test]
    fn declares_gap_when_buffer_is_full() {
        let mut s = TcpStream::new();
        let limits = ReassemblyLimits {
            max_buffered: 10,
            max_segments: 8,
            history: 16,
        };
        let got = feed(
            &mut s,
            &[
                (0, false, b"a"),
                (3, false, b"xyzwv"),
                (9, false, b"pqrstu"),
            ],
            limits,
        );
        // "pqrstu" does not fit next to "xyzwv": the hole before "xyzwv" is given up.
        assert_eq!(
            got,
            vec![
                Got::Data(b"a".to_vec()),
                Got::Full,
                Got::Gap(2),
                Got::Data(b"xyzwv".to_vec())
            ]
        );
        let mut rest = Vec::new();
        s.flush(&limits, &mut |c| rest.push(to_got(c)));
        assert_eq!(rest, vec![Got::Gap(1), Got::Data(b"pqrstu".to_vec())]);
    }

    #[test]
    fn flush_delivers_buffered_data_across_holes() {
        let mut s = TcpStream::new();
        let limits = ReassemblyLimits::default();
        let mut got = feed(
            &mut s,
            &[(0, false, b"a"), (3, false, b"d"), (6, false, b"g")],
            limits,
        );
        s.flush(&limits, &mut |c| got.push(to_got(c)));
        assert_eq!(
            got,
            vec![
                Got::Data(b"a".to_vec()),
                Got::Gap(2),
                Got::Data(b"d".to_vec()),
                Got::Gap(2),
                Got::Data(b"g".to_vec())
            ]
        );
    }

    #[test]
    fn a_keep_alive_probe_with_a_garbage_byte_is_no_overlap() {
        // Windows keep-alives repeat the last byte's sequence number with a
        // zero byte (dnp3/emre_dnp3_value.pcap, every second).
        let mut s = TcpStream::new();
        let limits = ReassemblyLimits::default();
        let got = feed(&mut s, &[(100, false, b"abc"), (102, false, b"\0")], limits);
        assert_eq!(got, vec![Got::Data(b"abc".to_vec())]);
        assert_eq!((s.stats.retransmitted, s.stats.overlap_mismatches), (1, 0));
        // Two changed bytes at the end are still a mismatch.
        let got = feed(&mut s, &[(101, false, b"XY")], limits);
        assert_eq!(got, vec![Got::Mismatch(101, 2)]);
    }

    #[test]
    fn history_wraps_and_still_detects_changes() {
        let mut s = TcpStream::new();
        let limits = ReassemblyLimits {
            history: 4,
            ..ReassemblyLimits::default()
        };
        let mut got = feed(&mut s, &[(0, false, b"abcdef"), (6, false, b"gh")], limits);
        // history now holds "efgh"; a changed retransmission of 'g' is caught.
        s.segment(6, false, false, b"gX", &limits, &mut |c| {
            got.push(to_got(c))
        });
        assert_eq!(got.last(), Some(&Got::Mismatch(7, 1)));
        // bytes older than the history are not compared
        s.segment(0, false, false, b"Z", &limits, &mut |c| got.push(to_got(c)));
        assert_eq!(got.last(), Some(&Got::Mismatch(7, 1)));
    }

    /// Runs `f` with a collector of chunks; returns what it collected.
    fn collect(f: impl FnOnce(&mut Sink<'_>)) -> Vec<Got> {
        let mut got = Vec::new();
        let mut push = |c: StreamChunk<'_>| got.push(to_got(c));
        let mut sink: Sink<'_> = &mut push;
        f(&mut sink);
        got
    }

    type Sink<'a> = &'a mut dyn FnMut(StreamChunk<'_>);

    #[test]
    fn a_segment_far_beyond_the_window_never_moves_the_stream() {
        // The receiver acknowledged 1000 with a window of 64240 bytes (no
        // scaling); a 12-byte segment at 1000 + 1,000,000 is one it drops.
        let limits = ReassemblyLimits::default();
        let mut s = TcpStream::new();
        s.window_update(1000, 64_240);
        let mut got = feed(&mut s, &[(1000, false, b"ab")], limits);
        got.extend(collect(|out| {
            s.segment(1_001_000, false, false, b"forged-bytes", &limits, out)
        }));
        got.extend(collect(|out| {
            s.segment(1002, false, false, b"cd", &limits, out)
        }));
        assert_eq!(
            got,
            vec![
                Got::Data(b"ab".to_vec()),
                Got::Outside(1_001_000),
                Got::Data(b"cd".to_vec())
            ]
        );
        assert_eq!(s.stats.outside_window, 1);
        assert_eq!(s.stats.gaps, 0);
        // Far behind the acknowledgement, and 2^31 away (the old resync
        // path), alike.
        let got = collect(|out| {
            s.segment(
                1004u32.wrapping_sub(500_000),
                false,
                false,
                b"x",
                &limits,
                out,
            );
            s.segment(0x8000_0000, false, false, b"y", &limits, out);
        });
        assert_eq!(
            got,
            vec![
                Got::Outside(1004u32.wrapping_sub(500_000)),
                Got::Outside(0x8000_0000)
            ]
        );
        // Just past the right edge is still accepted (slack): buffered.
        let got = collect(|out| s.segment(1000 + 64_240 + 10, false, false, b"z", &limits, out));
        assert!(got.is_empty(), "{got:?}");
        assert_eq!(s.stats.out_of_order, 1);
    }

    #[test]
    fn a_syn_that_does_not_fit_the_stream_is_ignored() {
        // SYN at 999 (next 1000), two bytes, then a forged SYN at 1,000,999:
        // it must not set next to 1,001,000 (which would make the real bytes
        // at 1002 an old retransmission). A retransmitted SYN before any
        // data still fits.
        let limits = ReassemblyLimits::default();
        let mut s = TcpStream::new();
        assert!(s.syn_fits(999));
        let mut got = feed(&mut s, &[(999, true, b""), (999, true, b"")], limits);
        got.extend(feed(
            &mut s,
            &[
                (1000, false, b"ab"),
                (1_000_999, true, b""),
                (1002, false, b"cd"),
            ],
            limits,
        ));
        assert!(!s.syn_fits(1_000_999));
        assert_eq!(
            got,
            vec![
                Got::Data(b"ab".to_vec()),
                Got::StraySyn(1_000_999, 1002),
                Got::Data(b"cd".to_vec())
            ]
        );
        assert_eq!((s.stats.stray_syns, s.stats.retransmitted), (1, 0));
        // A new connection on a closed flow: forgotten, then taken.
        s.restart();
        assert!(s.syn_fits(5_000));
        let got = feed(&mut s, &[(5_000, true, b""), (5_001, false, b"ef")], limits);
        assert_eq!(got, vec![Got::Data(b"ef".to_vec())]);
        assert_eq!(s.stats.stray_syns, 1, "counters survive a restart");
    }

    #[test]
    fn once_the_peer_is_seen_a_segment_far_from_its_ack_is_dropped() {
        // The scale unknown: a window of 64240 << 14 (about 1 GB) is
        // assumed, so 100 MB ahead is inside it. Still nowhere near the
        // receiver's acknowledgement: dropped, whether or not the stream
        // was picked up before, never a restart.
        let limits = ReassemblyLimits::default();
        let window = WindowScale::default().bytes(1, 64_240, false);
        for picked_up in [true, false] {
            let mut s = TcpStream::new();
            s.window_update(1000, window);
            let mut got = Vec::new();
            if picked_up {
                got.extend(feed(&mut s, &[(1000, false, b"ab")], limits));
            }
            got.extend(feed(&mut s, &[(100_001_000, false, b"forged")], limits));
            assert_eq!(got.last(), Some(&Got::Outside(100_001_000)), "{picked_up}");
            assert_eq!((s.stats.outside_window, s.stats.gaps), (1, 0));
        }
        // The receiver itself acknowledged bytes far ahead (the capture lost
        // them): then the stream restarts there.
        let mut s = TcpStream::new();
        s.window_update(1000, window);
        let mut got = feed(&mut s, &[(1000, false, b"ab")], limits);
        s.window_update(100_001_000, window);
        got.extend(feed(&mut s, &[(100_001_000, false, b"cd")], limits));
        assert_eq!(
            got,
            vec![
                Got::Data(b"ab".to_vec()),
                Got::Gap(100_001_000 - 1002),
                Got::Data(b"cd".to_vec())
            ]
        );
    }

    #[test]
    fn an_acknowledgement_far_behind_the_believed_one_is_reported() {
        // Review D7: forged acknowledgements (each within the window plus
        // slack of the last) walk the believed window 1 MB forward; the real
        // receiver's next acknowledgement then lies far behind it. A small
        // regression (capture reordering) is not reported.
        let mut s = TcpStream::new();
        assert_eq!(s.window_update(1000, 64_240), None);
        let mut ack = 1000u32;
        while ack < 1_001_000 {
            ack += 100_000;
            assert_eq!(s.window_update(ack, 64_240), None, "{ack}");
        }
        assert_eq!(s.stats.implausible_acks, 0, "each step looked plausible");
        assert_eq!(s.window_update(ack - 30_000, 64_240), None, "reordering");
        assert_eq!(
            s.window_update(1012, 64_240),
            Some(AckNews::Regression { believed: ack })
        );
        assert_eq!(s.stats.ack_regressions, 1);
    }

    #[test]
    fn after_a_capture_loss_larger_than_the_window_the_window_follows() {
        // Review D8: the receiver acknowledged 1000 (window 64240), then the
        // capture lost 5 MB. Its real acknowledgements now lie beyond the
        // window (implausible) and the sender's segments outside it; after
        // RECOVERY_ACKS acknowledgements in a row that agree, with the
        // sender's segments there too, the window follows and the stream
        // skips the hole on the next acknowledgement.
        let limits = ReassemblyLimits::default();
        let mut s = TcpStream::new();
        s.window_update(1000, 64_240);
        let mut got = feed(&mut s, &[(1000, false, b"ab")], limits);
        let lost = 1002 + 5_000_000;
        let mut seq = lost;
        let mut news = None;
        for i in 0..u32::from(RECOVERY_ACKS) {
            got.extend(feed(&mut s, &[(seq, false, b"cd")], limits));
            seq += 2;
            let ack = seq;
            got.extend(collect(|out| s.acknowledged(ack, &limits, out)));
            news = s.window_update(ack, 64_240);
            if i + 1 < u32::from(RECOVERY_ACKS) {
                assert_eq!(news, None, "ack {i}");
            }
        }
        assert_eq!(
            news,
            Some(AckNews::Recovered {
                from: 1000,
                to: lost + 2 * u32::from(RECOVERY_ACKS)
            })
        );
        assert_eq!(s.stats.window_recoveries, 1);
        assert_eq!(s.stats.outside_window, u64::from(RECOVERY_ACKS));
        // The next segment and its acknowledgement: the hole is skipped.
        got.clear();
        got.extend(feed(&mut s, &[(seq, false, b"ef")], limits));
        let ack = seq + 2;
        got.extend(collect(|out| s.acknowledged(ack, &limits, out)));
        got.extend(feed(&mut s, &[(seq + 2, false, b"gh")], limits));
        assert!(got.contains(&Got::Data(b"gh".to_vec())), "{got:?}");
        assert!(got.iter().any(|g| matches!(g, Got::Gap(_))), "{got:?}");
        // Implausible acknowledgements that disagree (a forger's scattered
        // guesses) or with no segment of the sender near them do nothing.
        let mut s = TcpStream::new();
        s.window_update(1000, 64_240);
        for i in 0..8u32 {
            let ack = 10_000_000 + (i % 2) * 50_000_000;
            assert_eq!(s.window_update(ack, 64_240), None);
        }
        for i in 0..8u32 {
            assert_eq!(
                s.window_update(90_000_000 + i, 64_240),
                None,
                "no segment there"
            );
        }
        assert_eq!(s.stats.window_recoveries, 0);
    }

    #[test]
    fn without_the_peer_a_wild_segment_still_resynchronises() {
        // One direction only: nothing says where the receiver is.
        let limits = ReassemblyLimits::default();
        let mut s = TcpStream::new();
        assert!(!s.peer_seen());
        let got = feed(
            &mut s,
            &[(10, false, b"a"), (0x9000_0000, false, b"b")],
            limits,
        );
        assert_eq!(got[1], Got::Gap(0x9000_0000 - 11));
    }

    #[test]
    fn once_the_peer_is_seen_a_far_hole_waits_for_its_acknowledgement() {
        let limits = ReassemblyLimits::default();
        let mut s = TcpStream::new();
        // A scaled window of 8 MiB: 200 kB ahead is inside it, but beyond
        // what the buffer holds.
        s.window_update(0, 8 << 20);
        let mut got = feed(
            &mut s,
            &[(0, false, b"a"), (200_001, false, b"far")],
            limits,
        );
        assert_eq!(got, vec![Got::Data(b"a".to_vec()), Got::Full]);
        assert_eq!((s.stats.dropped_segments, s.stats.gaps), (1, 0));
        // The peer acknowledges up to 200,001: the hole was real capture loss.
        got = collect(|out| s.acknowledged(200_001, &limits, out));
        assert!(got.is_empty(), "nothing buffered to skip to yet");
        got = collect(|out| s.segment(200_004, false, false, b"next", &limits, out));
        assert_eq!(
            got,
            vec![Got::Gap(200_000)],
            "skipped to the acknowledgement; the 3 bytes after it are a hole small enough to buffer across"
        );
        got = collect(|out| s.segment(200_001, false, false, b"far", &limits, out));
        assert_eq!(
            got,
            vec![Got::Data(b"far".to_vec()), Got::Data(b"next".to_vec())]
        );
    }

    #[test]
    fn a_flood_of_out_of_order_segments_cannot_skip_a_hole_once_the_peer_is_seen() {
        let limits = ReassemblyLimits {
            max_buffered: 64,
            max_segments: 4,
            history: 16,
        };
        let mut s = TcpStream::new();
        s.window_update(0, 65_535);
        let mut got = feed(&mut s, &[(0, false, b"a")], limits);
        // Five forged one-byte segments after a one-byte hole at 1.
        for i in 0..5u32 {
            got.extend(collect(|out| {
                s.segment(3 + 2 * i, false, false, b"X", &limits, out)
            }));
        }
        assert_eq!(got, vec![Got::Data(b"a".to_vec()), Got::Full]);
        // The real bytes then fill the hole and everything lines up.
        got = collect(|out| s.segment(1, false, false, b"bc", &limits, out));
        assert_eq!(got[0], Got::Data(b"bc".to_vec()));
        assert_eq!(s.stats.gaps, 0);
        assert_eq!(s.stats.dropped_segments, 1);
    }

    #[test]
    fn an_acknowledgement_beyond_the_advertised_window_proves_nothing() {
        let limits = ReassemblyLimits::default();
        let mut s = TcpStream::new();
        s.window_update(100, 1000);
        let mut got = feed(&mut s, &[(100, false, b"a"), (110, false, b"b")], limits);
        // 5,000,000 is far past 1100 + slack: the sender could not have sent it.
        got.extend(collect(|out| s.acknowledged(5_000_000, &limits, out)));
        s.window_update(5_000_000, 1000);
        assert_eq!(got, vec![Got::Data(b"a".to_vec())]);
        assert_eq!(s.stats.implausible_acks, 1);
        // A plausible one does skip the hole.
        got = collect(|out| s.acknowledged(111, &limits, out));
        assert_eq!(got, vec![Got::Gap(9), Got::Data(b"b".to_vec())]);
    }

    #[test]
    fn window_scale_needs_both_syns_and_is_assumed_largest_when_unseen() {
        let mut w = WindowScale::default();
        assert_eq!(w.shift(0), MAX_WINDOW_SHIFT, "no SYN seen");
        w.syn(0, Some(7));
        assert_eq!(w.shift(1), MAX_WINDOW_SHIFT, "only the client's SYN");
        w.syn(1, None);
        assert_eq!((w.shift(0), w.shift(1)), (0, 0), "the server declined");
        w.syn(1, Some(20));
        assert_eq!(
            (w.shift(0), w.shift(1)),
            (7, 14),
            "both offered; 20 clamped"
        );
        assert_eq!(w.bytes(1, 100, false), 100 << 14);
        assert_eq!(w.bytes(1, 100, true), 100, "a SYN's window is never scaled");
    }
}
