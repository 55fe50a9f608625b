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
//! host sent. [`ChecksumMode::Auto`], the default, copes with them:
//!
//! * A checksum that carries the mark of offload (a TCP/UDP checksum field
//!   holding the pseudo-header sum, an IPv4 header checksum of zero; see
//!   `otwatch_proto::wire::checksum`) is accepted, unless its direction of
//!   the flow has already carried a verified checksum on a segment other than
//!   a SYN: a host's offload does not come and go within a connection, a
//!   forged copy does.
//! * While the first [`SAMPLE`] packets are sampled, a bad checksum is also
//!   accepted when bad ones outnumber good ones so far: the capture as a
//!   whole looks rewritten or offloaded rather than attacked.
//! * After the sample, if more than one packet in [`DISABLE_RATIO`] failed
//!   (the ratio Suricata's `checksum-checks: auto` uses), verification stops
//!   for the rest of the capture: [`ChecksumState::AutoDisabled`], reported
//!   in the stats and by the caller on stderr.
//!
//! The price of `auto` is that a packet forged with the offload mark on a
//! direction not yet verified, or a flood of bad packets in the first
//! [`SAMPLE`] packets of a capture, is believed; `on` believes only verified
//! checksums (for a SPAN or TAP port, where every packet was checksummed on
//! the wire).

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

/// Packets sampled in `auto` mode before deciding.
pub const SAMPLE: u64 = 1000;

/// `auto` stops verifying when more than one sampled packet in this many
/// failed.
pub const DISABLE_RATIO: u64 = 10;

/// Checksum anomalies reported per second of capture time; the rest are
/// counted only.
pub const ANOMALIES_PER_SECOND: u32 = 100;

/// Where verification stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ChecksumState {
    /// `auto`, still sampling the first packets.
    #[default]
    AutoSampling,
    /// `auto`, the sample verified: checking on.
    AutoOn,
    /// `auto`, the sample mostly failed: checking off for the rest of the
    /// capture.
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
    /// Bad packets accepted while the sample looked rewritten or offloaded.
    pub accepted_in_sample: u64,
    /// Bad packets dropped.
    pub dropped: u64,
    /// Packets sampled by `auto`, and how many of them failed.
    pub sampled: u64,
    /// Sampled packets that failed.
    pub sample_bad: u64,
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
        self.dropped += other.dropped;
        self.sampled += other.sampled;
        self.sample_bad += other.sample_bad;
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
}

impl Checksums {
    pub(crate) fn new(mode: ChecksumMode) -> Checksums {
        Checksums {
            stats: ChecksumStats {
                state: ChecksumState::of(mode),
                ..ChecksumStats::default()
            },
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

    /// Judges a packet from its verdicts. `proven` says whether the packet's
    /// direction of its flow already carried a verified checksum (asked only
    /// for an offload-marked bad checksum in `auto`).
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
        if sampling {
            s.sampled += 1;
            if bad {
                s.sample_bad += 1;
            }
        }
        let decision = if !bad {
            Decision::Accept
        } else if s.state == ChecksumState::On {
            Decision::Drop
        } else if sampling && s.sample_bad * 2 > s.sampled {
            s.accepted_in_sample += 1;
            Decision::Accept
        } else if offload && !proven() {
            self.stats.offload_accepted += 1;
            Decision::Accept
        } else {
            Decision::Drop
        };
        let s = &mut self.stats;
        if decision == Decision::Drop {
            s.dropped += 1;
        }
        if sampling && s.sampled >= SAMPLE {
            s.state = if s.sample_bad * DISABLE_RATIO > s.sampled {
                ChecksumState::AutoDisabled
            } else {
                ChecksumState::AutoOn
            };
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
    fn auto_accepts_a_capture_that_is_mostly_bad_and_then_stops_verifying() {
        let mut c = Checksums::new(ChecksumMode::Auto);
        // A rewritten capture: every checksum wrong, none with the mark.
        for i in 0..SAMPLE {
            assert!(c.verifying(), "packet {i}");
            assert_eq!(c.judge(&[FORGED], || true), Decision::Accept, "packet {i}");
        }
        assert_eq!(c.stats.state, ChecksumState::AutoDisabled);
        assert!(!c.verifying());
        assert_eq!(c.stats.accepted_in_sample, SAMPLE);
        assert_eq!(c.stats.state.name(), "auto_disabled");
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
        // Exactly one in ten is not more than one in ten.
        let mut c = Checksums::new(ChecksumMode::Auto);
        for i in 0..SAMPLE {
            let v = if i % 10 == 0 { OFFLOAD } else { GOOD };
            c.judge(&[v], || false);
        }
        assert_eq!(c.stats.state, ChecksumState::AutoOn);
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
