//! The control plane: the shutdown flag, published configurations, the
//! workers' counters, and the signals that drive them.

use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::capture::afpacket::KernelStats;
use crate::stats::SensorStats;

/// Live counters of one worker, updated once per ring block / per poll.
#[derive(Debug, Default)]
pub struct WorkerCounters {
    /// Frames handed to the pipeline.
    pub packets: AtomicU64,
    /// Bytes handed to the pipeline.
    pub bytes: AtomicU64,
    /// Frames the kernel passed to the socket (including drops).
    pub kernel_packets: AtomicU64,
    /// Frames the kernel dropped (ring or buffer full).
    pub kernel_drops: AtomicU64,
    /// Ring freezes (AF_PACKET) / drops by the interface (libpcap).
    pub kernel_freezes: AtomicU64,
    /// The pipeline's counters at the worker's last report. The worker
    /// replaces them once per report interval and [`Control::stats`] reads
    /// them; never touched per packet.
    pub stats: Mutex<SensorStats>,
}

/// A snapshot of every worker's counters, summed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LiveCounters {
    /// Frames handed to the pipelines.
    pub packets: u64,
    /// Bytes handed to the pipelines.
    pub bytes: u64,
    /// Kernel counters.
    pub kernel: KernelStats,
}

/// The shared state of a live run: shutdown flag, published configuration,
/// counters. Shared by reference between the caller and the workers.
pub struct Control<U> {
    shutdown: AtomicBool,
    version: AtomicU64,
    // Taken only when `version` changed (a reload), never per packet.
    current: Mutex<Arc<U>>,
    pub(super) counters: Mutex<Vec<Arc<WorkerCounters>>>,
}

impl<U> std::fmt::Debug for Control<U> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Control")
            .field("shutdown", &self.is_shutdown())
            .field("version", &self.version())
            .finish()
    }
}

pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A worker that panicked while holding the lock left consistent data
    // (plain values are swapped whole), so poisoning is ignored.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl<U> Control<U> {
    /// A control whose current configuration is `initial` (version 0).
    pub fn new(initial: Arc<U>) -> Control<U> {
        Control {
            shutdown: AtomicBool::new(false),
            version: AtomicU64::new(0),
            current: Mutex::new(initial),
            counters: Mutex::new(Vec::new()),
        }
    }

    /// Asks every worker to stop (drain, end flows, flush).
    pub fn shutdown(&self) {
        self.shutdown.store(true, Ordering::Release);
    }

    /// Whether a shutdown was asked for.
    pub fn is_shutdown(&self) -> bool {
        self.shutdown.load(Ordering::Acquire)
    }

    /// Publishes a new configuration; each worker takes it between packets.
    pub fn publish(&self, update: Arc<U>) {
        *lock(&self.current) = update;
        self.version.fetch_add(1, Ordering::AcqRel);
    }

    /// Number of configurations published so far.
    pub fn version(&self) -> u64 {
        self.version.load(Ordering::Acquire)
    }

    /// The current configuration.
    pub fn current(&self) -> Arc<U> {
        lock(&self.current).clone()
    }

    /// Every worker's counters, summed.
    pub fn counters(&self) -> LiveCounters {
        let mut sum = LiveCounters::default();
        for c in lock(&self.counters).iter() {
            sum.packets += c.packets.load(Ordering::Relaxed);
            sum.bytes += c.bytes.load(Ordering::Relaxed);
            sum.kernel.packets += c.kernel_packets.load(Ordering::Relaxed);
            sum.kernel.drops += c.kernel_drops.load(Ordering::Relaxed);
            sum.kernel.freezes += c.kernel_freezes.load(Ordering::Relaxed);
        }
        sum
    }

    /// Every worker's pipeline counters as of its last report, summed.
    pub fn stats(&self) -> SensorStats {
        let mut sum = SensorStats::default();
        for c in lock(&self.counters).iter() {
            sum.merge(&lock(&c.stats));
        }
        sum
    }
}

/// SIGINT/SIGTERM and SIGHUP, turned into flags the caller's tick reads.
#[derive(Debug, Clone)]
pub struct Signals {
    terminate: Arc<AtomicBool>,
    hangup: Arc<AtomicBool>,
}

impl Signals {
    /// Installs the handlers. A second SIGINT or SIGTERM while the first is
    /// being handled ends the process at once (exit status 1).
    pub fn install() -> io::Result<Signals> {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
        let terminate = Arc::new(AtomicBool::new(false));
        let hangup = Arc::new(AtomicBool::new(false));
        for sig in [SIGINT, SIGTERM] {
            signal_hook::flag::register_conditional_shutdown(sig, 1, terminate.clone())?;
            signal_hook::flag::register(sig, terminate.clone())?;
        }
        signal_hook::flag::register(SIGHUP, hangup.clone())?;
        Ok(Signals { terminate, hangup })
    }

    /// Whether SIGINT or SIGTERM arrived.
    pub fn terminated(&self) -> bool {
        self.terminate.load(Ordering::Acquire)
    }

    /// Whether SIGHUP arrived since the last call (clears it).
    pub fn take_hangup(&self) -> bool {
        self.hangup.swap(false, Ordering::AcqRel)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_publishes_versions() {
        let c = Control::new(Arc::new(1u32));
        assert_eq!(c.version(), 0);
        c.publish(Arc::new(2));
        assert_eq!(c.version(), 1);
        assert_eq!(*c.current(), 2);
        assert!(!c.is_shutdown());
        c.shutdown();
        assert!(c.is_shutdown());
    }
}
