//! Glue between TCP reassembly and a stream dissector: keeps the bytes a
//! dissector could not consume yet (an incomplete PDU), bounded.
//!
//! When nothing is held, in-order bytes go to the dissector straight from the
//! packet; only the tail of a PDU split across segments is copied.

use crate::event::{Context, Direction, StreamDissector};

/// Verdict on a resynchronisation candidate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Candidate {
    /// Not a frame start.
    Reject,
    /// A frame starts here.
    Accept,
    /// Plausible, but the bytes after it are needed to decide.
    NeedMore,
}

/// Bytes held for one direction, waiting for the rest of a PDU.
#[derive(Debug, Default)]
pub struct StreamBuffer {
    held: Vec<u8>,
}

/// The dissector left more unconsumed bytes than the buffer may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overflow {
    /// Bytes that were held and are now dropped.
    pub dropped: usize,
}

impl core::fmt::Display for Overflow {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "{} unconsumed stream bytes exceed the buffer limit",
            self.dropped
        )
    }
}

impl StreamBuffer {
    /// Bytes currently held.
    pub fn len(&self) -> usize {
        self.held.len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.held.is_empty()
    }

    /// Heap bytes used.
    pub fn memory(&self) -> usize {
        self.held.capacity()
    }

    /// Drops what is held (after a gap).
    pub fn clear(&mut self) {
        self.held.clear();
    }

    /// Hands `data` (after anything held) to `dissector`, keeping what it does
    /// not consume. Past `max_held` unconsumed bytes, they are dropped and the
    /// dissector is told of a gap.
    pub fn feed(
        &mut self,
        dissector: &mut dyn StreamDissector,
        dir: Direction,
        data: &[u8],
        max_held: usize,
        cx: &mut Context<'_>,
    ) -> Result<(), Overflow> {
        if self.held.is_empty() {
            let used = dissector.parse(dir, data, cx).min(data.len());
            let rest = &data[used..];
            if !rest.is_empty() {
                self.held.extend_from_slice(rest);
            }
        } else {
            self.held.extend_from_slice(data);
            let used = dissector.parse(dir, &self.held, cx).min(self.held.len());
            self.held.drain(..used);
        }
        if self.held.len() > max_held {
            let dropped = self.held.len();
            self.held.clear();
            dissector.gap(dir, cx);
            return Err(Overflow { dropped });
        }
        Ok(())
    }
}
