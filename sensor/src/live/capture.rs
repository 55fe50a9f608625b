//! Opening the capture: the settings of a live run, the back-end, one
//! source per worker.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::capture::afpacket::{self, Credentials, Ring, RingConfig, RingOptions};

/// Which capture back-end to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Backend {
    /// Our AF_PACKET TPACKET_V3 ring with fanout (Linux, no library).
    #[default]
    AfPacket,
    /// libpcap (cargo feature `libpcap`).
    Libpcap,
}

impl Backend {
    /// Name as on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Backend::AfPacket => "afpacket",
            Backend::Libpcap => "libpcap",
        }
    }

    /// Parses `afpacket` or `libpcap`.
    pub fn parse(text: &str) -> Result<Backend, String> {
        match text {
            "afpacket" | "af_packet" => Ok(Backend::AfPacket),
            "libpcap" | "pcap" => Ok(Backend::Libpcap),
            other => Err(format!(
                "unknown capture back-end `{other}`; choose afpacket or libpcap"
            )),
        }
    }
}

/// Settings of a live capture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveConfig {
    /// Interface to listen on.
    pub iface: String,
    /// Worker threads (one capture ring and one pipeline each).
    pub workers: usize,
    /// Capture back-end.
    pub backend: Backend,
    /// AF_PACKET ring geometry (per worker).
    pub ring: RingConfig,
    /// Promiscuous mode.
    pub promisc: bool,
    /// BPF capture filter (libpcap back-end only).
    pub bpf: Option<String>,
    /// Bytes kept per frame (libpcap back-end).
    pub snaplen: u32,
    /// libpcap buffer per worker in bytes.
    pub pcap_buffer_bytes: u32,
    /// How often idle workers wake up (shutdown, reload, flush) and the
    /// caller's tick runs.
    pub poll: Duration,
    /// Kernel counters are read this often.
    pub stats_interval: Duration,
    /// Workers publish their counters and the hosts they saw this often,
    /// for the periodic `stats` and `asset` lines ([`LiveReporter`](super::LiveReporter)).
    pub report_interval: Duration,
}

impl LiveConfig {
    /// Defaults for `iface`: AF_PACKET, one worker per core (at least 1),
    /// promiscuous, 1 MiB × 32 blocks per worker, 100 ms poll, a report
    /// every 10 s.
    pub fn new(iface: impl Into<String>) -> LiveConfig {
        LiveConfig {
            iface: iface.into(),
            workers: std::thread::available_parallelism().map_or(1, usize::from),
            backend: Backend::AfPacket,
            ring: RingConfig::default(),
            promisc: true,
            bpf: None,
            snaplen: 65_535,
            pcap_buffer_bytes: 32 << 20,
            poll: Duration::from_millis(100),
            stats_interval: Duration::from_secs(1),
            report_interval: Duration::from_secs(10),
        }
    }

    /// Every problem with the settings, all at once.
    pub fn validate(&self) -> Result<(), Vec<String>> {
        let mut errors = Vec::new();
        if self.iface.is_empty() {
            errors.push("no interface given".to_owned());
        }
        if self.workers == 0 || self.workers > 1024 {
            errors.push(format!("workers must be 1..=1024, not {}", self.workers));
        }
        if self.bpf.is_some() && self.backend == Backend::AfPacket {
            errors.push("--bpf needs the libpcap back-end (--backend libpcap)".to_owned());
        }
        if self.backend == Backend::Libpcap && !cfg!(feature = "libpcap") {
            errors.push(
                "this otwatch was built without the libpcap back-end (cargo feature `libpcap`)"
                    .to_owned(),
            );
        }
        if self.backend == Backend::AfPacket {
            if let Err(e) = self.ring.validate() {
                errors.push(e);
            }
        }
        if self.poll.is_zero() {
            errors.push("poll interval must be above zero".to_owned());
        }
        if self.report_interval.is_zero() {
            errors.push("stats interval must be above zero".to_owned());
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

/// Why a live capture could not start or stopped.
#[derive(Debug)]
pub struct LiveError {
    /// What was being done.
    pub context: String,
    /// The error.
    pub error: io::Error,
}

impl std::fmt::Display for LiveError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.context, self.error)
    }
}

impl std::error::Error for LiveError {}

pub(super) enum Source {
    AfPacket(Ring),
    #[cfg(feature = "libpcap")]
    Libpcap(crate::capture::libpcap::PcapSource),
}

/// Open capture sources, one per worker.
pub struct Capture {
    pub(super) sources: Vec<Source>,
    pub(super) config: LiveConfig,
}

impl std::fmt::Debug for Capture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Capture")
            .field("iface", &self.config.iface)
            .field("workers", &self.sources.len())
            .field("backend", &self.config.backend)
            .finish()
    }
}

/// A fanout group id unlikely to clash with another process on the host.
fn fanout_group() -> u16 {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    ((u64::from(std::process::id()) * 31 + n) & 0xffff) as u16
}

impl Capture {
    /// Opens one source per worker on `config.iface`. Needs root (or
    /// CAP_NET_RAW); call before [`drop_privileges`](super::drop_privileges).
    pub fn open(config: &LiveConfig) -> Result<Capture, LiveError> {
        if let Err(errors) = config.validate() {
            return Err(LiveError {
                context: "live capture settings".to_owned(),
                error: io::Error::new(io::ErrorKind::InvalidInput, errors.join("; ")),
            });
        }
        let mut sources = Vec::with_capacity(config.workers);
        match config.backend {
            Backend::AfPacket => {
                let options = RingOptions {
                    iface: config.iface.clone(),
                    ring: config.ring,
                    promisc: config.promisc,
                    fanout_group: (config.workers > 1).then(fanout_group),
                };
                for i in 0..config.workers {
                    let ring = Ring::open(&options).map_err(|error| LiveError {
                        context: format!("AF_PACKET capture on {} (worker {i})", config.iface),
                        error,
                    })?;
                    sources.push(Source::AfPacket(ring));
                }
            }
            #[cfg(feature = "libpcap")]
            Backend::Libpcap => {
                use crate::capture::libpcap::{PcapOptions, PcapSource};
                for i in 0..config.workers {
                    let options = PcapOptions {
                        iface: config.iface.clone(),
                        promisc: config.promisc,
                        snaplen: config.snaplen,
                        buffer_bytes: config.pcap_buffer_bytes,
                        timeout_ms: config.ring.block_timeout_ms,
                        bpf: config.bpf.clone(),
                        share: (i, config.workers),
                    };
                    let source = PcapSource::open(&options).map_err(|error| LiveError {
                        context: format!("libpcap capture on {} (worker {i})", config.iface),
                        error,
                    })?;
                    sources.push(Source::Libpcap(source));
                }
            }
            #[cfg(not(feature = "libpcap"))]
            Backend::Libpcap => unreachable!("rejected by validate()"),
        }
        Ok(Capture {
            sources,
            config: config.clone(),
        })
    }

    /// Number of workers (sources).
    pub fn workers(&self) -> usize {
        self.sources.len()
    }

    /// The settings it was opened with.
    pub fn config(&self) -> &LiveConfig {
        &self.config
    }
}

/// Looks up `user` without switching to it (to check a `--user` early).
pub fn lookup_user(user: &str) -> io::Result<Credentials> {
    afpacket::lookup_user(user)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_errors_are_reported_together() {
        let mut c = LiveConfig::new("");
        c.workers = 0;
        c.bpf = Some("tcp".into());
        let errors = c.validate().err().unwrap_or_default();
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert_eq!(Backend::parse("libpcap"), Ok(Backend::Libpcap));
        assert!(Backend::parse("dpdk").is_err());
    }
}
