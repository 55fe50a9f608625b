//! Learning a baseline while the sensor runs (`otwatch learn`, `--learn`).
//!
//! Each worker learns into a [`Baseline`] of its own (no lock per event);
//! at every report, and when it stops learning, it adds what it learned to
//! the run's [`LearnShared`]. Live learning ends in two steps: the control
//! thread raises [`LearnShared::stop`] and publishes the rules again, each
//! worker hands over what it learned and stops ([`LearnShared::stopped`]
//! counts them), and then the baseline is written and enforced.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

use otwatch_rules::baseline::Baseline;

/// The baseline a run learns into, shared by its workers.
#[derive(Debug, Default)]
pub struct LearnShared {
    baseline: Mutex<Baseline>,
    stop: AtomicBool,
    stopped: AtomicUsize,
}

impl LearnShared {
    /// An empty baseline with the default limits.
    pub fn new() -> LearnShared {
        LearnShared::default()
    }

    /// The baseline learned so far.
    pub fn baseline(&self) -> MutexGuard<'_, Baseline> {
        // Merging is plain data; a panic elsewhere cannot leave it half
        // updated in a way that matters.
        self.baseline
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Adds what one worker learned.
    pub fn absorb(&self, local: &Baseline) {
        if local.pairs() > 0 || local.learned.from.is_some() {
            self.baseline().merge(local);
        }
    }

    /// Asks the workers to stop learning at their next rules update.
    pub fn request_stop(&self) {
        self.stop.store(true, Ordering::Release);
    }

    /// Whether the workers were asked to stop.
    pub fn stop(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }

    /// Counts one worker that stopped learning.
    pub fn worker_stopped(&self) {
        self.stopped.fetch_add(1, Ordering::AcqRel);
    }

    /// Workers that stopped learning.
    pub fn stopped(&self) -> usize {
        self.stopped.load(Ordering::Acquire)
    }

    /// Takes the baseline learned (an empty one stays).
    pub fn take(&self) -> Baseline {
        std::mem::take(&mut *self.baseline())
    }
}

/// Says on stderr what a learned baseline holds, and what the learning
/// limits left out.
pub fn summary(who: &str, b: &Baseline) -> String {
    let mut s = format!(
        "{who}: learned {} server(s), {} client/server pair(s), {} operation(s)",
        b.servers().count(),
        b.pairs(),
        b.operations()
    );
    if !b.dropped.is_empty() {
        let d = &b.dropped;
        s.push_str(&format!(
            "; the learning limits left out {} transaction(s) of new servers, {} of new clients, {} operation(s), {} station(s)",
            d.servers, d.clients, d.operations, d.stations
        ));
    }
    s
}
