//! Which packets the pipeline believes, judged by their checksums as the
//! endpoints would judge them.
//!
//! An endpoint drops a packet whose IPv4 header, TCP or UDP checksum does not
//! verify; a sensor that believed it would decode bytes the endpoint never
//! saw (an insertion). So by default a packet with a bad checksum is counted,
//! reported as an anomaly and kept out of the flow table, reassembly and
//! request/response pairing.
//!
//! Captures taken on a host that offloads checksums to its network card (and
//! on veth pairs and loopback) carry unfilled checksums on the packets that
//! host sent; some drivers leave garbage rather than a recognisable mark, and
//! rewritten captures have wrong checksums everywhere. [`ChecksumMode::Auto`],
//! the default, copes with them without letting a forger choose what is
//! believed:
//!
//! * A bad checksum on a direction of a flow that already carried a verified
//!   checksum (on a segment other than a SYN) is always dropped: a host's
//!   offload does not come and go within a connection, a forged copy does.
//!   No flood of bad packets changes this (short of turning verification off,
//!   below).
//! * On a direction not proven yet, a checksum that carries the mark of
//!   offload (a TCP/UDP checksum field holding the pseudo-header sum, an IPv4
//!   header checksum of zero; see `otwatch_proto::wire::checksum`) is
//!   accepted. A bad checksum without the mark is accepted there only while
//!   the capture shows such checksums as a habit: while a sample is being
//!   taken, and after a sample in which at least one packet in
//!   [`LENIENT_RATIO`] failed without the mark
//!   ([`ChecksumState::AutoLenient`]). After a clean sample it is dropped
//!   ([`ChecksumState::AutoOn`]).
//! * Samples are the first [`SAMPLE`] verified packets that do not carry the
//!   offload mark (those are judged by the mark alone). Only when at least
//!   [`DISABLE_PERCENT`] % of a sample failed does verification stop
//!   ([`ChecksumState::AutoDisabled`], reported in the stats and on stderr),
//!   and then only until the next sample: a new one is taken every
//!   [`RESAMPLE_SECS`] seconds of capture time or [`RESAMPLE_PACKETS`]
//!   packets, so a flood of bad packets after a restart cannot switch
//!   verification off for good.
//!
//! The price of `auto`: a forged packet is believed when it is the first of
//! its flow direction to be seen (before any real packet of that direction
//! verified) and carries the offload mark, or (in a lenient or sampling
//! state) any bad checksum; and a flood that makes [`DISABLE_PERCENT`] % of a
//! sample fail turns verification off until the next sample. `on` believes
//! only verified checksums (for a SPAN or TAP port, where every packet was
//! checksummed on the wire).

use otwatch_proto::wire::checksum::Verdict;

/// How checksums are verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ChecksumMode {
    /// Verify, accept offload's unfilled checksums, and stop verifying when
    /// the first packets mostly fail (see the module documentation).
    #[default]
    Auto,
    /// Verify every packet; every bad checksum is dropped.
    On,
    /// Verify nothing.
    Off,
}

impl ChecksumMode {
    /// The mode's name on the command line (`auto`, `on`, `off`).
    pub fn name(self) -> &'static str {
        match self {
            ChecksumMode::Auto => "auto",
            ChecksumMode::On => "on",
            ChecksumMode::Off => "off",
        }
    }
}

impl std::str::FromStr for ChecksumMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "auto" => Ok(ChecksumMode::Auto),
            "on" | "yes" => Ok(ChecksumMode::On),
            "off" | "no" => Ok(ChecksumMode::Off),
            other => Err(format!(
                "checksum mode `{other}` is not one of auto, on, off"
            )),
        }
    }
}

/// Packets (verified, without the offload mark) in one sample of `auto`.
pub const SAMPLE: u64 = 1000;

/// `auto` stops verifying when at least this share (in percent) of a
/// sample failed.
pub const DISABLE_PERCENT: u64 = 95;

/// After a sample in which more than one packet in this many failed without
/// the offload mark, such failures are believed on directions not yet
/// proven ([`ChecksumState::AutoLenient`]).
pub const LENIENT_RATIO: u64 = 10;

/// Capture seconds after which `auto` takes a new sample.
pub const RESAMPLE_SECS: i64 = 600;

/// Packets after which `auto` takes a new sample.
pub const RESAMPLE_PACKETS: u64 = 1_000_000;

/// Checksum anomalies reported per second of capture time; the rest are
/// counted only.
pub const ANOMALIES_PER_SECOND: u32 = 100;

/// Where verification stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ChecksumState {
    /// `auto`, taking a sample.
    #[default]
    AutoSampling,
    /// `auto`, the last sample verified: bad checksums without the offload
    /// mark are dropped everywhere.
    AutoOn,
    /// `auto`, the last sample had failures without the offload mark: they
    /// are believed on flow directions not proven yet.
    AutoLenient,
    /// `auto`, nearly all of the last sample failed: checking off until the
    /// next sample.
    AutoDisabled,
    /// `on`.
    On,
    /// `off`.
    Off,
}

impl ChecksumState {
    /// The name in the EVE stats (`checksum.mode`).
    pub fn name(self) -> &'static str {
        match self {
            ChecksumState::AutoSampling => "auto",
            ChecksumState::AutoOn => "auto_on",
            ChecksumState::AutoLenient => "auto_lenient",
            ChecksumState::AutoDisabled => "auto_disabled",
            ChecksumState::On => "on",
            ChecksumState::Off => "off",
        }
    }

    fn of(mode: ChecksumMode) -> ChecksumState {
        match mode {
            ChecksumMode::Auto => ChecksumState::AutoSampling,
            ChecksumMode::On => ChecksumState::On,
            ChecksumMode::Off => ChecksumState::Off,
        }
    }
}

/// Counters of checksum verification.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChecksumStats {
    /// Where verification stands.
    pub state: ChecksumState,
    /// Packets with at least one checksum verified.
    pub verified: u64,
    /// Of those, packets with a checksum that failed (dropped or accepted).
    pub bad: u64,
    /// Bad packets accepted because they carry the mark of offload.
    pub offload_accepted: u64,
    /// Bad packets without the mark accepted while a sample was taken (on
    /// directions not proven).
    pub accepted_in_sample: u64,
    /// Bad packets without the mark accepted in the lenient state (on
    /// directions not proven).
    pub accepted_unproven: u64,
    /// Bad packets dropped.
    pub dropped: u64,
    /// Packets in `auto`'s current (or last) sample.
    pub sampled: u64,
    /// Of those, packets that failed.
    pub sample_bad: u64,
    /// Samples `auto` completed.
    pub samples: u64,
    /// Of those, samples that turned verification off.
    pub samples_disabled: u64,
    /// Anomalies not emitted over [`ANOMALIES_PER_SECOND`] (the drops are
    /// still counted).
    pub anomalies_suppressed: u64,
}

impl ChecksumStats {
    /// Adds another worker's counters; a worker that disabled verification
    /// makes the sum say so.
    pub fn merge(&mut self, other: &ChecksumStats) {
        if other.state == ChecksumState::AutoDisabled || self.verified == 0 && self.bad == 0 {
            self.state = other.state;
        }
        self.verified += other.verified;
        self.bad += other.bad;
        self.offload_accepted += other.offload_accepted;
        self.accepted_in_sample += other.accepted_in_sample;
        self.accepted_unproven += other.accepted_unproven;
        self.dropped += other.dropped;
        self.sampled += other.sampled;
        self.sample_bad += other.sample_bad;
        self.samples += other.samples;
        self.samples_disabled += other.samples_disabled;
        self.anomalies_suppressed += other.anomalies_suppressed;
    }
}

/// What to do with a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Believe it.
    Accept,
    /// Drop it: a bad checksum the endpoint would drop too.
    Drop,
}

/// The verification state of one pipeline.
#[derive(Debug, Default)]
pub(crate) struct Checksums {
    /// Counters and state.
    pub(crate) stats: ChecksumStats,
    anomaly_second: i64,
    anomalies_this_second: u32,
    /// Whether the mode is `auto` (samples are taken).
    auto: bool,
    /// Capture second the current state began (for the next sample); `None`
    /// until the first packet.
    since: Option<i64>,
    /// Packets since the current state began.
    packets_since: u64,
    /// Capture second of the latest packet.
    last_secs: i64,
}

impl Checksums {
    pub(crate) fn new(mode: ChecksumMode) -> Checksums {
        Checksums {
            stats: ChecksumStats {
                state: ChecksumState::of(mode),
                ..ChecksumStats::default()
            },
            auto: mode == ChecksumMode::Auto,
            ..Checksums::default()
        }
    }

    /// Whether packets are to be verified at all.
    #[inline]
    pub(crate) fn verifying(&self) -> bool {
        !matches!(
            self.stats.state,
            ChecksumState::Off | ChecksumState::AutoDisabled
        )
    }

    /// Called for every packet at capture second `secs`: in `auto`, starts
    /// a new sample once [`RESAMPLE_SECS`] or [`RESAMPLE_PACKETS`] have
    /// passed since the last decision.
    #[inline]
    pub(crate) fn tick(&mut self, secs: i64) {
        if !self.auto {
            return;
        }
        self.packets_since += 1;
        self.last_secs = secs;
        let since = *self.since.get_or_insert(secs);
        if self.stats.state != ChecksumState::AutoSampling
            && (secs.saturating_sub(since) >= RESAMPLE_SECS
                || self.packets_since >= RESAMPLE_PACKETS)
        {
            self.stats.state = ChecksumState::AutoSampling;
            self.stats.sampled = 0;
            self.stats.sample_bad = 0;
            self.restart_clock(secs);
        }
    }

    fn restart_clock(&mut self, secs: i64) {
        self.since = Some(secs);
        self.packets_since = 0;
    }

    /// Judges a packet from its verdicts. `proven` says whether the packet's
    /// direction of its flow already carried a verified checksum (asked only
    /// for a bad checksum in `auto`).
    pub(crate) fn judge(
        &mut self,
        verdicts: &[Verdict],
        proven: impl FnOnce() -> bool,
    ) -> Decision {
        let verified = verdicts
            .iter()
            .any(|v| matches!(v, Verdict::Good | Verdict::Bad { .. }));
        if !verified {
            return Decision::Accept;
        }
        let bad = verdicts.iter().any(|v| v.is_bad());
        let offload = bad
            && verdicts
                .iter()
                .all(|v| !v.is_bad() || matches!(v, Verdict::Bad { offload: true, .. }));
        let s = &mut self.stats;
        s.verified += 1;
        if bad {
            s.bad += 1;
        }
        let sampling = s.state == ChecksumState::AutoSampling;
        if sampling && !offload {
            s.sampled += 1;
            if bad {
                s.sample_bad += 1;
            }
        }
        let decision = if !bad {
            Decision::Accept
        } else if s.state == ChecksumState::On {
            Decision::Drop
        } else if proven() {
            // Whatever the sample says: this direction verified before.
            Decision::Drop
        } else if offload {
            self.stats.offload_accepted += 1;
            Decision::Accept
        } else if sampling {
            self.stats.accepted_in_sample += 1;
            Decision::Accept
        } else if self.stats.state == ChecksumState::AutoLenient {
            self.stats.accepted_unproven += 1;
            Decision::Accept
        } else {
            Decision::Drop
        };
        let s = &mut self.stats;
        if decision == Decision::Drop {
            s.dropped += 1;
        }
        if sampling && s.sampled >= SAMPLE {
            s.samples += 1;
            s.state = if s.sample_bad * 100 >= s.sampled * DISABLE_PERCENT {
                s.samples_disabled += 1;
                ChecksumState::AutoDisabled
            } else if s.sample_bad * LENIENT_RATIO > s.sampled {
                ChecksumState::AutoLenient
            } else {
                ChecksumState::AutoOn
            };
            // The clock of the next sample starts at this decision.
            let now = self.last_secs;
            self.restart_clock(now);
        }
        decision
    }

    /// Whether an anomaly for a dropped packet at `secs` may be emitted.
    pub(crate) fn anomaly_allowed(&mut self, secs: i64) -> bool {
        if secs != self.anomaly_second {
            self.anomaly_second = secs;
            self.anomalies_this_second = 0;
        }
        if self.anomalies_this_second < ANOMALIES_PER_SECOND {
            self.anomalies_this_second += 1;
            true
        } else {
            self.stats.anomalies_suppressed += 1;
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: Verdict = Verdict::Good;
    const FORGED: Verdict = Verdict::Bad {
        stored: 0xdead,
        expected: 0x1234,
        offload: false,
    };
    const OFFLOAD: Verdict = Verdict::Bad {
        stored: 0x9697,
        expected: 0x1234,
        offload: true,
    };

    #[test]
    fn on_drops_every_bad_checksum_and_off_verifies_nothing() {
        let mut on = Checksums::new(ChecksumMode::On);
        assert_eq!(on.judge(&[GOOD, OFFLOAD], || false), Decision::Drop);
        assert_eq!(on.judge(&[GOOD, FORGED], || false), Decision::Drop);
        assert_eq!(on.judge(&[GOOD, GOOD], || false), Decision::Accept);
        assert_eq!((on.stats.verified, on.stats.dropped), (3, 2));
        let off = Checksums::new(ChecksumMode::Off);
        assert!(!off.verifying());
    }

    #[test]
    fn auto_drops_a_forged_packet_among_good_ones() {
        let mut c = Checksums::new(ChecksumMode::Auto);
        for _ in 0..10 {
            assert_eq!(c.judge(&[GOOD, GOOD], || true), Decision::Accept);
        }
        assert_eq!(c.judge(&[GOOD, FORGED], || true), Decision::Drop);
        assert_eq!(c.judge(&[FORGED, GOOD], || true), Decision::Drop);
        // The offload mark on a direction that verified before is a forgery.
        assert_eq!(c.judge(&[GOOD, OFFLOAD], || true), Decision::Drop);
        // On a direction that never verified, it is offload.
        assert_eq!(c.judge(&[GOOD, OFFLOAD], || false), Decision::Accept);
        assert_eq!(c.stats.dropped, 3);
        assert_eq!(c.stats.offload_accepted, 1);
    }

    #[test]
    fn auto_accepts_a_rewritten_capture_and_then_stops_verifying() {
        // Every checksum wrong, none with the mark, no direction ever
        // verified: believed during the sample, then verification stops.
        let mut c = Checksums::new(ChecksumMode::Auto);
        for i in 0..SAMPLE {
            c.tick(1);
            assert!(c.verifying(), "packet {i}");
            assert_eq!(c.judge(&[FORGED], || false), Decision::Accept, "packet {i}");
        }
        assert_eq!(c.stats.state, ChecksumState::AutoDisabled);
        assert!(!c.verifying());
        assert_eq!(c.stats.accepted_in_sample, SAMPLE);
        assert_eq!((c.stats.samples, c.stats.samples_disabled), (1, 1));
        assert_eq!(c.stats.state.name(), "auto_disabled");
    }

    #[test]
    fn a_flood_of_bad_packets_neither_is_believed_nor_turns_verification_off() {
        // Review D4: after a restart, 110 forged packets among the first
        // 1,000 (and, first of all, while they are the majority) used to be
        // believed and to turn verification off for good. On directions that
        // verified they are dropped, and 11 % is far from 95 %.
        let mut c = Checksums::new(ChecksumMode::Auto);
        for i in 0..110 {
            c.tick(1);
            assert_eq!(c.judge(&[GOOD, FORGED], || true), Decision::Drop, "{i}");
        }
        for _ in 110..SAMPLE {
            c.tick(1);
            assert_eq!(c.judge(&[GOOD, GOOD], || true), Decision::Accept);
        }
        assert_eq!((c.stats.sampled, c.stats.sample_bad), (SAMPLE, 110));
        assert!(c.verifying());
        assert_eq!(c.stats.state, ChecksumState::AutoLenient);
        assert_eq!(c.stats.dropped, 110);
        assert_eq!(c.stats.accepted_in_sample, 0);
        // Lenient: a failure without the mark is believed only where the
        // direction never verified.
        assert_eq!(c.judge(&[FORGED], || true), Decision::Drop);
        assert_eq!(c.judge(&[FORGED], || false), Decision::Accept);
        assert_eq!(c.stats.accepted_unproven, 1);
    }

    #[test]
    fn a_disabling_flood_lasts_only_until_the_next_sample() {
        // 1,000 forged packets on unproven directions right after a start
        // turn verification off; ten minutes of capture time later a new
        // sample of real traffic turns it back on.
        let mut c = Checksums::new(ChecksumMode::Auto);
        for _ in 0..SAMPLE {
            c.tick(100);
            c.judge(&[FORGED], || false);
        }
        assert_eq!(c.stats.state, ChecksumState::AutoDisabled);
        c.tick(100 + RESAMPLE_SECS - 1);
        assert!(!c.verifying(), "not yet");
        c.tick(100 + RESAMPLE_SECS);
        assert_eq!(c.stats.state, ChecksumState::AutoSampling);
        assert!(c.verifying());
        assert_eq!(c.judge(&[GOOD, FORGED], || true), Decision::Drop);
        for _ in 1..SAMPLE {
            c.tick(100 + RESAMPLE_SECS + 1);
            c.judge(&[GOOD, GOOD], || true);
        }
        assert_eq!(c.stats.state, ChecksumState::AutoOn);
        assert_eq!((c.stats.samples, c.stats.samples_disabled), (2, 1));
        assert_eq!(
            c.judge(&[FORGED], || false),
            Decision::Drop,
            "clean: strict"
        );
        // A million packets also start a new sample.
        for _ in 0..RESAMPLE_PACKETS {
            c.tick(100 + RESAMPLE_SECS + 2);
        }
        assert_eq!(c.stats.state, ChecksumState::AutoSampling);
        // `on` and `off` never sample.
        let mut on = Checksums::new(ChecksumMode::On);
        for _ in 0..10 {
            on.tick(1_000_000);
        }
        assert_eq!(on.stats.state, ChecksumState::On);
    }

    #[test]
    fn auto_keeps_verifying_when_the_sample_is_clean() {
        let mut c = Checksums::new(ChecksumMode::Auto);
        for i in 0..SAMPLE {
            let v = if i % 20 == 0 { FORGED } else { GOOD };
            c.judge(&[v], || true);
        }
        assert_eq!((c.stats.sampled, c.stats.sample_bad), (SAMPLE, 50));
        assert_eq!(c.stats.state, ChecksumState::AutoOn, "5% bad");
        assert_eq!(c.judge(&[FORGED], || true), Decision::Drop);
        // Offload-marked failures are judged by the mark, not sampled: one
        // in ten of them leaves the sample clean.
        let mut c = Checksums::new(ChecksumMode::Auto);
        for i in 0..SAMPLE + SAMPLE / 9 + 1 {
            let v = if i % 10 == 0 { OFFLOAD } else { GOOD };
            c.judge(&[v], || false);
        }
        assert_eq!(c.stats.state, ChecksumState::AutoOn);
        assert_eq!(c.stats.sample_bad, 0);
        // Unverifiable and absent checksums are not sampled.
        let mut c = Checksums::new(ChecksumMode::Auto);
        c.judge(&[Verdict::Absent, Verdict::Unverifiable], || true);
        assert_eq!(c.stats.sampled, 0);
    }

    #[test]
    fn anomalies_are_rate_limited_per_second() {
        let mut c = Checksums::new(ChecksumMode::On);
        let allowed = (0..250).filter(|_| c.anomaly_allowed(7)).count();
        assert_eq!(allowed, ANOMALIES_PER_SECOND as usize);
        assert_eq!(c.stats.anomalies_suppressed, 150);
        assert!(c.anomaly_allowed(8), "a new second");
    }

    #[test]
    fn modes_parse_from_the_command_line() {
        assert_eq!("auto".parse(), Ok(ChecksumMode::Auto));
        assert_eq!("on".parse(), Ok(ChecksumMode::On));
        assert_eq!("off".parse(), Ok(ChecksumMode::Off));
        assert!("maybe".parse::<ChecksumMode>().is_err());
    }
}
