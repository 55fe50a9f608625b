//! DNP3 transport function: one header octet (FIN 0x80, FIR 0x40, sequence
//! 0x3f) in front of every link frame's user data; segments are joined into
//! application fragments per (source, destination) address pair.
//!
//! Reassembly buffers belong to the flow and are reused; a fragment carried
//! in a single segment (FIR and FIN both set) is handed on without a copy.

use super::Dnp3Anomaly;

/// The transport header octet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TransportHeader(pub u8);

impl TransportHeader {
    /// FIN: last segment of a fragment.
    pub fn fin(self) -> bool {
        self.0 & 0x80 != 0
    }
    /// FIR: first segment of a fragment.
    pub fn fir(self) -> bool {
        self.0 & 0x40 != 0
    }
    /// Sequence number, 0–63.
    pub fn seq(self) -> u8 {
        self.0 & 0x3f
    }
}

/// Limits of one flow's reassembly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransportConfig {
    /// Largest application fragment reassembled, in bytes.
    pub max_fragment: usize,
    /// Address pairs reassembled at the same time.
    pub max_pairs: usize,
}

impl Default for TransportConfig {
    fn default() -> Self {
        TransportConfig {
            max_fragment: 8192,
            max_pairs: 8,
        }
    }
}

/// A transport-level problem. `Copy`, carries the values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportError {
    /// A segment without FIR arrived while no fragment was being assembled.
    MissingFir {
        /// Its sequence number.
        seq: u8,
    },
    /// A segment's sequence number is not the one expected.
    OutOfSequence {
        /// Sequence number expected.
        expected: u8,
        /// Sequence number received.
        received: u8,
    },
    /// A new FIR segment arrived before the previous fragment was finished.
    IncompleteFragment {
        /// Bytes of the discarded fragment.
        discarded: usize,
    },
    /// The fragment grew past the limit; it is discarded.
    FragmentTooLarge {
        /// Bytes it would have had.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// More address pairs than the limit: the least recently used is dropped.
    TooManyPairs {
        /// The limit.
        max: usize,
    },
}

impl TransportError {
    /// The anomaly it raises.
    pub fn anomaly(&self) -> Dnp3Anomaly {
        match self {
            TransportError::MissingFir { .. } => Dnp3Anomaly::TransportMissingFir,
            TransportError::OutOfSequence { .. } => Dnp3Anomaly::TransportSequenceError,
            TransportError::IncompleteFragment { .. } => Dnp3Anomaly::TransportIncompleteFragment,
            TransportError::FragmentTooLarge { .. } => Dnp3Anomaly::FragmentTooLarge,
            TransportError::TooManyPairs { .. } => Dnp3Anomaly::TooManyFragments,
        }
    }
}

impl core::fmt::Display for TransportError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            TransportError::MissingFir { seq } => {
                write!(
                    f,
                    "transport segment {seq} without FIR and no fragment in progress"
                )
            }
            TransportError::OutOfSequence { expected, received } => {
                write!(f, "transport sequence {received}, expected {expected}")
            }
            TransportError::IncompleteFragment { discarded } => {
                write!(
                    f,
                    "new fragment started; {discarded} bytes of an unfinished one discarded"
                )
            }
            TransportError::FragmentTooLarge { size, max } => {
                write!(f, "fragment of {size} bytes exceeds {max}")
            }
            TransportError::TooManyPairs { max } => write!(
                f,
                "more than {max} address pairs reassembling at once; the oldest is dropped"
            ),
        }
    }
}

#[derive(Debug, Default)]
struct Slot {
    /// Which TCP/UDP direction fed it (for resets after a gap).
    lane: usize,
    source: u16,
    destination: u16,
    /// A fragment is being assembled in `buf`.
    active: bool,
    /// The fragment in progress was dropped (too large, out of sequence):
    /// its remaining segments are skipped quietly until the next FIR.
    discarding: bool,
    /// Sequence number of the last segment accepted.
    last_seq: u8,
    last_used: u64,
    buf: Vec<u8>,
}

/// Per-flow reassembly state, all address pairs and both directions.
#[derive(Debug, Default)]
pub struct Reassembler {
    config: TransportConfig,
    slots: Vec<Slot>,
    clock: u64,
}

impl Reassembler {
    /// A reassembler with the given limits.
    pub fn new(config: TransportConfig) -> Reassembler {
        Reassembler {
            config,
            slots: Vec::new(),
            clock: 0,
        }
    }

    /// Heap bytes held by the buffers.
    pub fn memory(&self) -> usize {
        self.slots.iter().map(|s| s.buf.capacity()).sum()
    }

    /// Drops fragments in progress (after a gap); buffers are kept.
    pub fn reset(&mut self) {
        for slot in &mut self.slots {
            slot.active = false;
            slot.discarding = true;
            slot.buf.clear();
        }
    }

    /// Drops the fragments in progress that were fed through `lane` (a
    /// direction index), after bytes were lost there.
    pub fn reset_lane(&mut self, lane: usize) {
        for slot in self.slots.iter_mut().filter(|s| s.lane == lane) {
            slot.active = false;
            slot.discarding = true;
            slot.buf.clear();
        }
    }

    /// Takes one segment (transport header first) from `source` to
    /// `destination`. Returns the application fragment when this segment
    /// completes one; problems go to `report`.
    pub fn push<'x>(
        &'x mut self,
        lane: usize,
        source: u16,
        destination: u16,
        segment: &'x [u8],
        report: &mut dyn FnMut(TransportError),
    ) -> Option<&'x [u8]> {
        let (&th, payload) = segment.split_first()?;
        let th = TransportHeader(th);
        self.clock += 1;
        let clock = self.clock;
        let max_fragment = self.config.max_fragment;
        let found = self
            .slots
            .iter()
            .position(|s| s.source == source && s.destination == destination);
        if th.fir() && th.fin() {
            // A whole fragment in one segment: no copy.
            if let Some(i) = found {
                let slot = &mut self.slots[i];
                if slot.active {
                    report(TransportError::IncompleteFragment {
                        discarded: slot.buf.len(),
                    });
                }
                slot.active = false;
                slot.discarding = false;
                slot.buf.clear();
                slot.last_seq = th.seq();
                slot.last_used = clock;
            }
            if payload.len() > max_fragment {
                report(TransportError::FragmentTooLarge {
                    size: payload.len(),
                    max: max_fragment,
                });
                return None;
            }
            return Some(payload);
        }
        let i = match found {
            Some(i) => i,
            None if !th.fir() => {
                report(TransportError::MissingFir { seq: th.seq() });
                return None;
            }
            None => self.new_slot(source, destination, report),
        };
        let slot = &mut self.slots[i];
        slot.last_used = clock;
        slot.lane = lane;
        if th.fir() {
            if slot.active {
                report(TransportError::IncompleteFragment {
                    discarded: slot.buf.len(),
                });
            }
            slot.buf.clear();
            slot.active = true;
            slot.discarding = false;
        } else if !slot.active {
            if !slot.discarding {
                report(TransportError::MissingFir { seq: th.seq() });
            }
            return None;
        } else if th.seq() == slot.last_seq {
            return None; // a repeated segment: discarded, as the standard says
        } else if th.seq() != (slot.last_seq + 1) & 0x3f {
            report(TransportError::OutOfSequence {
                expected: (slot.last_seq + 1) & 0x3f,
                received: th.seq(),
            });
            slot.active = false;
            slot.discarding = true;
            slot.buf.clear();
            return None;
        }
        slot.last_seq = th.seq();
        let size = slot.buf.len() + payload.len();
        if size > max_fragment {
            report(TransportError::FragmentTooLarge {
                size,
                max: max_fragment,
            });
            slot.active = false;
            slot.discarding = true;
            slot.buf.clear();
            return None;
        }
        slot.buf.extend_from_slice(payload);
        if th.fin() {
            slot.active = false;
            return Some(&slot.buf);
        }
        None
    }

    fn new_slot(
        &mut self,
        source: u16,
        destination: u16,
        report: &mut dyn FnMut(TransportError),
    ) -> usize {
        if self.slots.len() < self.config.max_pairs.max(1) {
            self.slots.push(Slot {
                source,
                destination,
                ..Slot::default()
            });
            return self.slots.len() - 1;
        }
        // Reuse an idle slot first, else the least recently used one.
        let idle = self.slots.iter().position(|s| !s.active);
        let i = idle.unwrap_or_else(|| {
            report(TransportError::TooManyPairs {
                max: self.config.max_pairs,
            });
            self.slots
                .iter()
                .enumerate()
                .min_by_key(|(_, s)| s.last_used)
                .map_or(0, |(i, _)| i)
        });
        let slot = &mut self.slots[i];
        slot.source = source;
        slot.destination = destination;
        slot.active = false;
        slot.buf.clear();
        i
    }
}
