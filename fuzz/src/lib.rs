//! Shared pieces of the fuzz targets: how a target's input bytes are cut into
//! stream chunks, frames or fragments, and the checks every target makes on
//! what the code under test produced.
//!
//! Input layouts (the seeds that `scripts/fuzz` writes follow them):
//! * stream chunks: records of `[control][bytes…]`; bit 7 of `control` is the
//!   direction (1 = to the server), bits 0–6 the number of bytes that follow
//!   (a short record takes the rest of the input); a length of 0 is a gap in
//!   that direction (bytes lost by the capture).
//! * frames: records of `[len_hi][len_lo][bytes…]`, each an Ethernet frame,
//!   stamped one millisecond after the previous one.

use otwatch_proto::event::{
    AppEvent, Context, DatagramDissector, Direction, Event, EventSink, StreamDissector, Timestamp,
};
use otwatch_proto::stream::StreamBuffer;

/// Bytes a stream may hold unconsumed (the pipeline's bound).
pub const MAX_HELD: usize = 70 * 1024;

/// One piece of a stream.
#[derive(Debug, Clone, Copy)]
pub enum Chunk<'a> {
    /// In-order bytes of one direction.
    Data(Direction, &'a [u8]),
    /// Bytes of one direction were lost.
    Gap(Direction),
}

/// Cuts `input` into stream chunks (see the module doc).
pub fn chunks(input: &[u8]) -> impl Iterator<Item = Chunk<'_>> {
    let mut rest = input;
    std::iter::from_fn(move || {
        let (&control, tail) = rest.split_first()?;
        let dir = if control & 0x80 != 0 {
            Direction::ToServer
        } else {
            Direction::ToClient
        };
        let len = usize::from(control & 0x7f);
        if len == 0 {
            rest = tail;
            return Some(Chunk::Gap(dir));
        }
        let take = len.min(tail.len());
        let (data, after) = tail.split_at(take);
        rest = after;
        Some(Chunk::Data(dir, data))
    })
}

/// Cuts `input` into frames (see the module doc).
pub fn frames(input: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = input;
    std::iter::from_fn(move || {
        let (len, tail) = match rest {
            [hi, lo, tail @ ..] => (usize::from(u16::from_be_bytes([*hi, *lo])), tail),
            _ => return None,
        };
        let take = len.min(tail.len());
        let (frame, after) = tail.split_at(take);
        rest = after;
        Some(frame)
    })
}

/// A sink that checks each event as it arrives: anomalies have a protocol, a
/// name and a message that renders; every event is counted.
#[derive(Debug, Default)]
pub struct CheckingSink {
    /// Application events seen.
    pub events: u64,
    /// Anomalies seen.
    pub anomalies: u64,
}

impl EventSink for CheckingSink {
    fn emit(&mut self, event: &Event<'_>) {
        match event.app {
            AppEvent::Anomaly(a) => {
                assert!(!a.protocol.is_empty() && !a.name.is_empty());
                assert!(
                    a.name
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
                    "anomaly names are stable snake_case: {:?}",
                    a.name
                );
                let _ = a.detail.to_string();
                self.anomalies += 1;
            }
            app => {
                // Every event renders as one valid JSON object, whatever
                // the packet held.
                if let Some(tx) = app.protocol_event() {
                    let mut buf = Vec::new();
                    let mut w = otwatch_proto::json::JsonWriter::new(&mut buf);
                    w.begin_object();
                    tx.write_eve(&mut w);
                    w.end_object();
                    if let Err(e) = serde_json::from_slice::<serde_json::Value>(&buf) {
                        panic!("EVE is not JSON ({e}): {}", String::from_utf8_lossy(&buf));
                    }
                }
                self.events += 1;
            }
        }
    }
}

/// Feeds `input` (stream chunks) to a stream dissector the way the pipeline
/// does, checking that it never holds more than its bound, then ends the flow.
pub fn feed_stream(dissector: &mut dyn StreamDissector, input: &[u8]) -> CheckingSink {
    let mut held = [StreamBuffer::default(), StreamBuffer::default()];
    let mut sink = CheckingSink::default();
    let mut ts = Timestamp::new(1_700_000_000, 0);
    for chunk in chunks(input) {
        ts = Timestamp::new(ts.secs, ts.nanos + 1_000_000);
        let mut cx = Context {
            ts,
            sink: &mut sink,
        };
        match chunk {
            Chunk::Data(dir, data) => {
                let buf = &mut held[dir.index()];
                let _ = buf.feed(dissector, dir, data, MAX_HELD, &mut cx);
                assert!(buf.len() <= MAX_HELD, "a stream holds {} bytes", buf.len());
            }
            Chunk::Gap(dir) => {
                held[dir.index()].clear();
                dissector.gap(dir, &mut cx);
            }
        }
    }
    let mut cx = Context {
        ts: Timestamp::new(ts.secs + 60, 0),
        sink: &mut sink,
    };
    dissector.flush(&mut cx);
    sink
}

/// Feeds each data chunk of `input` as one datagram, then ends the flow.
pub fn feed_datagrams(dissector: &mut dyn DatagramDissector, input: &[u8]) -> CheckingSink {
    let mut sink = CheckingSink::default();
    let mut cx = Context {
        ts: Timestamp::new(1_700_000_000, 0),
        sink: &mut sink,
    };
    for chunk in chunks(input) {
        if let Chunk::Data(dir, data) = chunk {
            dissector.parse_datagram(dir, data, &mut cx);
        }
    }
    dissector.flush(&mut cx);
    sink
}

/// Checks that `text` is JSON lines: each line one JSON object.
pub fn assert_json_lines(text: &[u8]) {
    for line in text.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let v: serde_json::Value = match serde_json::from_slice(line) {
            Ok(v) => v,
            Err(e) => panic!("not JSON ({e}): {}", String::from_utf8_lossy(line)),
        };
        assert!(
            v.is_object(),
            "not an object: {}",
            String::from_utf8_lossy(line)
        );
    }
}
