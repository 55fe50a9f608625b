//! What one IEC 104 connection keeps between APDUs: the send and receive
//! sequence numbers of each side (clause 5.1), the data transfer state
//! (STARTDT/STOPDT, clause 5.3), and the commands waiting for their
//! confirmation (activation → confirmation → termination, IEC 60870-5-101
//! clause 7.4). Each check returns what it found; the dissector turns the
//! findings into anomalies.

use super::apci::{Control, UFunction};

/// Sequence numbers count modulo 2^15.
const MODULO: u16 = 1 << 15;

/// The side that sent an APDU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The controlling station (the TCP client).
    Controlling,
    /// The controlled station (the TCP server: the RTU, the substation).
    Controlled,
}

impl Side {
    fn index(self) -> usize {
        match self {
            Side::Controlling => 0,
            Side::Controlled => 1,
        }
    }

    fn other(self) -> Side {
        match self {
            Side::Controlling => Side::Controlled,
            Side::Controlled => Side::Controlling,
        }
    }
}

/// What a sequence check found wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finding {
    /// An I-frame's N(S) skips ahead of the next expected number: frames
    /// missing (not captured, or never sent).
    Gap {
        /// The number expected.
        expected: u16,
        /// The number sent.
        got: u16,
    },
    /// An I-frame's N(S) repeats or goes back: a duplicate, or a frame
    /// injected into the session with a number of its own.
    Duplicate {
        /// The number expected.
        expected: u16,
        /// The number sent.
        got: u16,
    },
    /// N(R) acknowledges frames the other side has not sent.
    AckBeyondSent {
        /// The number acknowledged.
        acknowledged: u16,
        /// The other side's next send number.
        sent: u16,
    },
    /// More I-frames unacknowledged than the window k allows.
    WindowExceeded {
        /// Frames outstanding.
        outstanding: u16,
        /// The limit.
        k: u16,
    },
    /// An I-frame while data transfer is stopped (after STOPDT con, before
    /// the next STARTDT con).
    DataWhileStopped,
}

/// Per-side sequence state.
#[derive(Debug, Clone, Copy, Default)]
struct Numbers {
    /// N(S) of the next I-frame this side sends, once one was seen.
    next_send: Option<u16>,
    /// The highest N(R) this side acknowledged.
    acknowledged: Option<u16>,
}

/// The sequence numbers and data transfer state of a connection.
#[derive(Debug, Clone)]
pub struct Sequences {
    sides: [Numbers; 2],
    /// The window k: I-frames a side may send before an acknowledgement.
    k: u16,
    /// Data transfer stopped by a confirmed STOPDT.
    stopped: bool,
}

/// `a - b` modulo 2^15.
fn distance(a: u16, b: u16) -> u16 {
    a.wrapping_sub(b) % MODULO
}

impl Sequences {
    /// A connection with window `k` (12 by default in the standard).
    pub fn new(k: u16) -> Sequences {
        Sequences {
            sides: [Numbers::default(); 2],
            k,
            stopped: false,
        }
    }

    /// Checks an APDU's control field from `side`, updates the state, and
    /// calls `found` with each finding.
    pub fn check(&mut self, side: Side, control: Control, found: &mut dyn FnMut(Finding)) {
        match control {
            Control::I { send, receive } => {
                if self.stopped {
                    found(Finding::DataWhileStopped);
                }
                let me = &mut self.sides[side.index()];
                if let Some(expected) = me.next_send {
                    if send != expected {
                        // Ahead by less than half the range: a gap; else
                        // a repeat or a number from the past.
                        if distance(send, expected) < MODULO / 2 {
                            found(Finding::Gap {
                                expected,
                                got: send,
                            });
                        } else {
                            found(Finding::Duplicate {
                                expected,
                                got: send,
                            });
                        }
                    }
                }
                me.next_send = Some((send + 1) % MODULO);
                self.acknowledge(side, receive, found);
                // Outstanding: what this side sent that the other has not
                // acknowledged yet.
                let sent = self.sides[side.index()].next_send;
                let acked = self.sides[side.other().index()].acknowledged;
                if let (Some(sent), Some(acked)) = (sent, acked) {
                    let outstanding = distance(sent, acked);
                    if outstanding > self.k && outstanding < MODULO / 2 {
                        found(Finding::WindowExceeded {
                            outstanding,
                            k: self.k,
                        });
                    }
                }
            }
            Control::S { receive } => self.acknowledge(side, receive, found),
            Control::U { .. } => match control.u_function() {
                Some(UFunction::StopDtCon) => self.stopped = true,
                Some(UFunction::StartDtCon) => self.stopped = false,
                _ => {}
            },
        }
    }

    fn acknowledge(&mut self, side: Side, receive: u16, found: &mut dyn FnMut(Finding)) {
        if let Some(sent) = self.sides[side.other().index()].next_send {
            // Acknowledging more than was sent: N(R) past the other side's
            // next send number.
            let ahead = distance(receive, sent);
            if ahead != 0 && ahead < MODULO / 2 {
                found(Finding::AckBeyondSent {
                    acknowledged: receive,
                    sent,
                });
            }
        }
        self.sides[side.index()].acknowledged = Some(receive);
    }
}

/// What a command is known by while it waits: its type, common address and
/// information object address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommandKey {
    /// Type identification.
    pub type_id: u8,
    /// Common address.
    pub common_address: u16,
    /// Information object address.
    pub ioa: u32,
}

/// How a reply settles a waiting command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    /// Confirmed (positively or negatively) `after_us` after its
    /// activation.
    Confirmed {
        /// Microseconds since the activation.
        after_us: i64,
        /// The P/N bit was set.
        negative: bool,
    },
    /// Terminated `after_us` after its activation.
    Terminated {
        /// Microseconds since the activation.
        after_us: i64,
    },
    /// A confirmation or termination for which no activation waits.
    Unexpected,
}

/// A command waiting for its confirmation or termination.
#[derive(Debug, Clone, Copy)]
struct Waiting {
    key: CommandKey,
    at_us: i64,
    confirmed: bool,
}

/// The commands of a connection waiting for their confirmation, bounded.
#[derive(Debug, Clone)]
pub struct Commands {
    waiting: Vec<Waiting>,
    limit: usize,
}

impl Commands {
    /// At most `limit` commands wait; more push the oldest out.
    pub fn new(limit: usize) -> Commands {
        Commands {
            waiting: Vec::new(),
            limit,
        }
    }

    /// Commands waiting now.
    pub fn len(&self) -> usize {
        self.waiting.len()
    }

    /// Whether none waits.
    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }

    /// An activation at `at_us`; returns the key of a command pushed out
    /// because too many wait. The same command activated twice waits twice
    /// (the station answers each).
    pub fn activate(&mut self, key: CommandKey, at_us: i64) -> Option<CommandKey> {
        let evicted = (self.waiting.len() >= self.limit).then(|| self.waiting.remove(0).key);
        self.waiting.push(Waiting {
            key,
            at_us,
            confirmed: false,
        });
        evicted
    }

    /// A confirmation (`terminated` false) or termination of `key` at
    /// `at_us`, settling the oldest matching command: for a confirmation
    /// the oldest not yet confirmed. A command sent to the broadcast
    /// address (0xFFFF) is answered by each station with its own address.
    pub fn settle(&mut self, key: CommandKey, at_us: i64, terminated: bool, negative: bool) -> Settled {
        let matches = |w: &Waiting| {
            w.key.type_id == key.type_id
                && w.key.ioa == key.ioa
                && (w.key.common_address == key.common_address || w.key.common_address == 0xFFFF)
        };
        let found = if terminated {
            self.waiting.iter().position(matches)
        } else {
            self.waiting.iter().position(|w| matches(w) && !w.confirmed)
        };
        let Some(i) = found else {
            return Settled::Unexpected;
        };
        let after_us = at_us - self.waiting[i].at_us;
        if terminated {
            self.waiting.remove(i);
            return Settled::Terminated { after_us };
        }
        // A negative confirmation ends the command; a positive one waits
        // for the termination, which set points and single commands
        // without a long execution may never send.
        if negative {
            self.waiting.remove(i);
        } else {
            self.waiting[i].confirmed = true;
        }
        Settled::Confirmed { after_us, negative }
    }

    /// Removes the commands activated before `deadline_us` that were never
    /// confirmed, and calls `expired` with each.
    pub fn expire(&mut self, deadline_us: i64, expired: &mut dyn FnMut(CommandKey)) {
        self.waiting.retain(|w| {
            let late = w.at_us < deadline_us;
            if late && !w.confirmed {
                expired(w.key);
            }
            !late
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn i(send: u16, receive: u16) -> Control {
        Control::I { send, receive }
    }

    fn run(frames: &[(Side, Control)]) -> Vec<Finding> {
        let mut s = Sequences::new(12);
        let mut out = Vec::new();
        for (side, c) in frames {
            s.check(*side, *c, &mut |f| out.push(f));
        }
        out
    }

    use Side::{Controlled as Rtu, Controlling as Master};

    #[test]
    fn a_clean_exchange_finds_nothing() {
        let frames = [
            (Master, i(0, 0)),
            (Rtu, i(0, 1)),
            (Rtu, i(1, 1)),
            (Master, Control::S { receive: 2 }),
            (Master, i(1, 2)),
        ];
        assert_eq!(run(&frames), []);
        // Numbers wrap at 2^15.
        assert_eq!(run(&[(Rtu, i(32767, 0)), (Rtu, i(0, 0))]), []);
    }

    #[test]
    fn gaps_duplicates_and_acknowledgements_beyond_what_was_sent() {
        assert_eq!(
            run(&[(Rtu, i(4, 0)), (Rtu, i(6, 0))]),
            [Finding::Gap {
                expected: 5,
                got: 6
            }]
        );
        // An injected frame reusing a number already sent.
        assert_eq!(
            run(&[(Rtu, i(4, 0)), (Rtu, i(5, 0)), (Rtu, i(5, 0))]),
            [Finding::Duplicate {
                expected: 6,
                got: 5
            }]
        );
        // The master acknowledges 9 when the RTU has sent up to 4.
        assert_eq!(
            run(&[(Rtu, i(4, 0)), (Master, Control::S { receive: 9 })]),
            [Finding::AckBeyondSent {
                acknowledged: 9,
                sent: 5
            }]
        );
    }

    #[test]
    fn the_window_and_stopped_data_transfer() {
        let mut frames = vec![(Master, Control::S { receive: 0 })];
        frames.extend((0..13).map(|n| (Rtu, i(n, 0))));
        let found = run(&frames);
        assert_eq!(
            found,
            [Finding::WindowExceeded {
                outstanding: 13,
                k: 12
            }]
        );
        let stop = Control::U { octet: 0x23 };
        let start = Control::U { octet: 0x0b };
        assert_eq!(
            run(&[(Rtu, stop), (Rtu, i(0, 0)), (Rtu, start), (Rtu, i(1, 0))]),
            [Finding::DataWhileStopped]
        );
    }

    #[test]
    fn commands_pair_by_type_address_and_object() {
        let key = CommandKey {
            type_id: 45,
            common_address: 3,
            ioa: 4501,
        };
        let other = CommandKey { ioa: 4502, ..key };
        let mut c = Commands::new(2);
        assert_eq!(c.activate(key, 1_000), None);
        assert_eq!(c.settle(other, 2_000, false, false), Settled::Unexpected);
        assert_eq!(
            c.settle(key, 3_500, false, false),
            Settled::Confirmed {
                after_us: 2_500,
                negative: false
            }
        );
        assert_eq!(
            c.settle(key, 9_000, true, false),
            Settled::Terminated { after_us: 8_000 }
        );
        assert!(c.is_empty());
        // A negative confirmation ends it.
        c.activate(key, 0);
        assert_eq!(
            c.settle(key, 10, false, true),
            Settled::Confirmed {
                after_us: 10,
                negative: true
            }
        );
        assert!(c.is_empty());
        // The same command twice waits twice; a broadcast one is answered
        // with the station's own address.
        c.activate(key, 0);
        c.activate(key, 5);
        assert!(matches!(c.settle(key, 6, false, false), Settled::Confirmed { after_us: 6, .. }));
        assert!(matches!(c.settle(key, 7, false, false), Settled::Confirmed { after_us: 2, .. }));
        assert_eq!(c.settle(key, 8, false, false), Settled::Unexpected);
        assert!(matches!(c.settle(key, 9, true, false), Settled::Terminated { after_us: 9 }));
        assert!(matches!(c.settle(key, 9, true, false), Settled::Terminated { after_us: 4 }));
        let broadcast = CommandKey { common_address: 0xFFFF, ..key };
        c.activate(broadcast, 0);
        assert!(matches!(c.settle(key, 1, true, false), Settled::Terminated { .. }));
        assert!(c.is_empty());
        // Unconfirmed past the deadline; the limit pushes the oldest out.
        c.activate(key, 0);
        c.activate(other, 50);
        let third = CommandKey { ioa: 1, ..key };
        assert_eq!(c.activate(third, 60), Some(key));
        let mut late = Vec::new();
        c.expire(55, &mut |k| late.push(k));
        assert_eq!(late, [other]);
        assert_eq!(c.len(), 1);
    }
}
