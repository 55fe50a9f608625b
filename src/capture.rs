//! Live capture from the command line, shared by `otwatch sensor --iface`
//! and `otwatch run --iface`: the capture options ([`CaptureOpts`]), opening
//! the capture while still privileged ([`open_capture`]), and the run itself
//! ([`run_live`]): workers until SIGINT/SIGTERM, rule reloads on SIGHUP,
//! periodic `stats` and `asset` lines, then the flush of flows, EVE lines
//! and the analyzer client, and the summary.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::baseline::{LearnStep, LiveLearning};

use otwatch_rules::Ruleset;
use otwatch_sensor::assets::AssetLimits;
use otwatch_sensor::eve::EventFilter;
use otwatch_sensor::live::{
    self, Capture, Control, EveSink, EveTee, LiveConfig, LiveReport, LiveReporter, LiveStatsLine,
    SensorOutput, SensorShared, Signals,
};
use otwatch_sensor::replay::ReplayReport;
use otwatch_sensor::ship::{ShipConfig, ShipStats, Shipper};

/// Capture options of `otwatch sensor` and `otwatch run` (used with `--iface`).
#[derive(clap::Args, Debug, Clone)]
pub(crate) struct CaptureOpts {
    /// Worker threads, each with its own capture ring and flows (default: one per core).
    #[arg(long, value_name = "N")]
    workers: Option<usize>,
    /// Capture back-end: afpacket (default) or libpcap (default with --bpf;
    /// needs a build with `--features libpcap`).
    #[arg(long, value_name = "NAME")]
    backend: Option<String>,
    /// BPF capture filter in tcpdump syntax (libpcap back-end).
    #[arg(long, value_name = "EXPR")]
    bpf: Option<String>,
    /// Do not put the interface in promiscuous mode.
    #[arg(long)]
    no_promisc: bool,
    /// AF_PACKET ring block size in bytes (a power of two, page multiple).
    #[arg(long, value_name = "BYTES", default_value_t = 1 << 20)]
    ring_block_size: u32,
    /// AF_PACKET ring blocks per worker.
    #[arg(long, value_name = "N", default_value_t = 32)]
    ring_blocks: u32,
    /// Milliseconds after which a partly filled ring block is handed over.
    #[arg(long, value_name = "MS", default_value_t = 50)]
    ring_timeout_ms: u32,
    /// Seconds between two `stats` lines (and `asset` lines for the hosts
    /// seen in between) while listening.
    #[arg(long, value_name = "SECS", default_value_t = 10)]
    stats_interval: u64,
}

impl CaptureOpts {
    /// `--workers`, when given.
    pub(crate) fn workers(&self) -> Option<usize> {
        self.workers
    }

    /// The capture settings for `iface`, checked (every problem at once).
    pub(crate) fn config(&self, iface: &str) -> Result<LiveConfig, String> {
        let mut config = LiveConfig::new(iface);
        if let Some(n) = self.workers {
            config.workers = n;
        }
        config.backend = match self.backend.as_deref() {
            Some(name) => live::Backend::parse(name)?,
            None if self.bpf.is_some() => live::Backend::Libpcap,
            None => live::Backend::AfPacket,
        };
        config.bpf = self.bpf.clone();
        config.promisc = !self.no_promisc;
        config.ring.block_size = self.ring_block_size;
        config.ring.block_count = self.ring_blocks;
        config.ring.block_timeout_ms = self.ring_timeout_ms;
        config.report_interval = Duration::from_secs(self.stats_interval);
        config.validate().map_err(|errors| errors.join("; "))?;
        Ok(config)
    }
}

/// Opens one capture source per worker (needs root or CAP_NET_RAW).
pub(crate) fn open_capture(who: &str, config: &LiveConfig) -> Result<Capture, ExitCode> {
    Capture::open(config).map_err(|e| {
        eprintln!("{who}: {e}");
        ExitCode::from(1)
    })
}

/// Reloads the rules on SIGHUP: the new ruleset, or why the old one stays
/// (every error, with file:line:column).
pub(crate) type Reload = Box<dyn FnMut() -> Result<Ruleset, String> + Send>;

/// Everything a live run needs besides the open capture.
pub(crate) struct LiveJob {
    /// Command name for messages (`otwatch sensor`, `otwatch run`).
    pub(crate) who: &'static str,
    /// Capture settings (those `capture` was opened with).
    pub(crate) config: LiveConfig,
    /// The rules in force at the start (without the baseline: the run
    /// attaches it).
    pub(crate) rules: Ruleset,
    /// The baseline file enforced (after learning, with `learning`).
    pub(crate) baseline: Option<PathBuf>,
    /// Live learning of the baseline first.
    pub(crate) learning: Option<LiveLearning>,
    /// Set by someone else to ask for a reload, as SIGHUP does (the
    /// analyzer's Accept in `otwatch run`).
    pub(crate) reload_requested: Option<Arc<AtomicBool>>,
    /// What SIGHUP does.
    pub(crate) reload: Reload,
    /// EVE lines: where, and which event types.
    pub(crate) eve: Option<(Arc<EveSink>, EventFilter)>,
    /// The analyzer to ship alerts, assets and stats to.
    pub(crate) ship: Option<ShipConfig>,
    /// Switch to this user once the capture is open.
    pub(crate) user: Option<String>,
}

/// Runs live capture on `capture` until SIGINT/SIGTERM (or a worker fails),
/// then ends every flow, writes the last `asset` and `stats` lines, delivers
/// what the analyzer client holds and prints the summary. Exit status 0,
/// or 1 when a worker failed or EVE lines could not be written.
pub(crate) fn run_live(job: LiveJob, capture: Capture) -> ExitCode {
    let LiveJob {
        who,
        config,
        rules,
        baseline,
        mut learning,
        reload_requested,
        mut reload,
        eve,
        ship,
        user,
    } = job;
    // The baseline is enforced from the start, or once learning wrote it.
    let rules = if learning.is_some() {
        rules
    } else {
        match crate::baseline::attach(rules, baseline.as_deref()) {
            Ok(set) => set,
            Err(e) => {
                eprintln!("{e}\n{who}: the baseline cannot be enforced");
                return ExitCode::from(2);
            }
        }
    };
    let rules = Arc::new(rules);
    if let Some(name) = &user {
        match live::drop_privileges(name) {
            Ok(c) => eprintln!("{who}: running as {name} (uid {}, gid {})", c.uid, c.gid),
            Err(e) => {
                eprintln!("{who}: cannot drop privileges: {e}");
                return ExitCode::from(1);
            }
        }
    }
    let signals = match Signals::install() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{who}: cannot install signal handlers: {e}");
            return ExitCode::from(2);
        }
    };
    let shipper = match ship.map(Shipper::start).transpose() {
        Ok(s) => s.map(Arc::new),
        Err(e) => {
            eprintln!("{who}: cannot start the analyzer client: {e}");
            return ExitCode::from(2);
        }
    };
    eprintln!(
        "{who}: listening on {} ({}, {} workers, {} rules)",
        config.iface,
        config.backend.name(),
        capture.workers(),
        rules.len()
    );
    let mut shared = SensorShared::new(AssetLimits::default());
    shared.learning = learning.as_ref().map(LiveLearning::shared);
    if let Some(path) = baseline.as_ref().filter(|_| learning.is_some()) {
        eprintln!("{who}: learning the baseline into {}", path.display());
    }
    let workers = capture.workers();
    let line = LiveStatsLine {
        iface: config.iface.clone(),
        backend: config.backend.name(),
        workers: capture.workers(),
        kernel: Default::default(),
    };
    let mut reporter = LiveReporter::new(
        EveTee::new(eve.clone(), shipper.clone()),
        shared.assets.clone(),
        line,
        config.report_interval,
    );
    let control = Control::new(rules.clone());
    let mut current = rules.clone();
    let (outputs, mut report) = live::run(
        capture,
        crate::pipeline_config(),
        |_| SensorOutput::new(rules.clone(), eve.clone(), shipper.clone(), &shared),
        &control,
        |control| {
            if signals.terminated() {
                control.shutdown();
            }
            let enforcing = !learning.as_ref().is_some_and(LiveLearning::learning);
            let mut load = || {
                let set = reload()?;
                let path = baseline.as_deref().filter(|_| enforcing);
                crate::baseline::attach(set, path).map(Arc::new)
            };
            let asked = reload_requested
                .as_ref()
                .is_some_and(|f| f.swap(false, Ordering::AcqRel));
            let hangup = signals.take_hangup();
            if hangup {
                // After a log rotation: the EVE file is opened again.
                if let Some((sink, _)) = &eve {
                    match sink.reopen() {
                        Ok(true) => eprintln!("{who}: EVE file reopened"),
                        Ok(false) => {}
                        Err(e) => eprintln!(
                            "{who}: EVE file not reopened ({e}); still writing the old one"
                        ),
                    }
                }
            }
            if hangup || asked {
                // A bad rule or baseline file keeps the rules in force and
                // says why.
                match load() {
                    Ok(set) => {
                        eprintln!("{who}: rules reloaded ({} rules)", set.len());
                        current = set.clone();
                        control.publish(set);
                    }
                    Err(why) => {
                        eprintln!("{why}");
                        eprintln!("{who}: rules not reloaded; keeping the old rules");
                    }
                }
            }
            if let Some(l) = &mut learning {
                match l.tick(who, workers) {
                    LearnStep::Wait => {}
                    LearnStep::Republish => control.publish(current.clone()),
                    LearnStep::Enforce => {
                        let path = baseline.as_deref();
                        match reload().and_then(|set| crate::baseline::attach(set, path)) {
                            Ok(set) => {
                                eprintln!("{who}: enforcing the learned baseline");
                                current = Arc::new(set);
                                control.publish(current.clone());
                            }
                            Err(why) => {
                                eprintln!("{why}");
                                eprintln!("{who}: the learned baseline is not enforced");
                            }
                        }
                    }
                }
            }
            reporter.tick(control);
        },
    );
    report.stats.alerts = outputs.iter().map(SensorOutput::alerts).sum();
    // The workers share one threshold table.
    report.stats.threshold_windows_evicted = shared.thresholds.evicted();
    let mut suppressed = 0;
    let mut outputs = outputs;
    for output in &mut outputs {
        let (deviations, held) = output.deviations();
        report.stats.deviations += deviations;
        report.stats.deviations_held += held;
        // As for the alerts: the outputs' own count, across reloads.
        suppressed += output.suppressed();
        if learning.is_some() {
            output.publish_assets();
        }
    }
    report.stats.suppressed = suppressed;
    if let Some(l) = &mut learning {
        l.finish_early(who);
    }
    let mut write_error = None;
    for mut output in outputs {
        if let Some(e) = output.take_write_error() {
            write_error.get_or_insert(e);
        }
        if let Some(mut tee) = output.into_tee() {
            if let Err(e) = tee.finish() {
                write_error.get_or_insert(e);
            }
        }
    }
    if let Err(e) = reporter.finish(&report) {
        write_error.get_or_insert(e);
    }
    finish_shipper(who, shipper, false);
    print_live_summary(&report);
    let mut code = ExitCode::SUCCESS;
    if let Some(e) = write_error {
        if e.kind() != io::ErrorKind::BrokenPipe {
            eprintln!("{who}: writing EVE output failed: {e}");
            code = ExitCode::from(1);
        }
    }
    for (i, e) in report.errors() {
        eprintln!("{who}: worker {i} stopped: {e}");
        code = ExitCode::from(1);
    }
    code
}

/// How long the end of a live run waits for every line to be delivered.
const SHIP_WAIT: Duration = Duration::from_secs(10);

/// Delivers what the shipper holds and stops it; says on stderr what was
/// delivered, what stays in the spool for the next start, what was dropped
/// and what the analyzer refused. Live (`offline` false) it stops after
/// [`SHIP_WAIT`]; offline it waits until the spool is empty, or until no
/// request succeeded for the shipper's give-up bound (`--ship-give-up`).
/// Returns the shipper's last counters.
pub(crate) fn finish_shipper(
    who: &str,
    shipper: Option<Arc<Shipper>>,
    offline: bool,
) -> Option<ShipStats> {
    let shipper = shipper?;
    match Arc::try_unwrap(shipper) {
        Ok(s) => {
            let give_up = s.give_up();
            let st = if offline {
                s.drain();
                s.shutdown(Duration::ZERO)
            } else {
                s.shutdown(SHIP_WAIT)
            };
            eprintln!(
                "analyzer     {} lines delivered in {} batches, {} pending in the spool, {} dropped (spool full), {} refused by the analyzer",
                st.delivered, st.batches, st.pending, st.spool_dropped, st.rejected
            );
            if st.pending > 0 {
                if offline {
                    eprintln!(
                        "{who}: {} lines were not delivered: no request to the analyzer succeeded for {} s (--ship-give-up); they stay in the spool for the next start",
                        st.pending,
                        give_up.unwrap_or_default().as_secs()
                    );
                } else {
                    eprintln!(
                        "{who}: {} lines were not delivered in time; they stay in the spool for the next start",
                        st.pending
                    );
                }
            }
            if st.spool_dropped > 0 {
                eprintln!(
                    "{who}: {} lines were dropped because the spool was full while the analyzer did not take them",
                    st.spool_dropped
                );
            }
            if st.rejected > 0 {
                eprintln!(
                    "{who}: {} lines were refused by the analyzer (invalid, or too large for it) and are not stored",
                    st.rejected
                );
            }
            Some(st)
        }
        Err(_) => {
            eprintln!("{who}: analyzer client still in use; lines stay in the spool");
            None
        }
    }
}

fn print_live_summary(report: &LiveReport) {
    let replay_like = ReplayReport {
        stats: report.stats.clone(),
        elapsed: report.elapsed,
        last_ts: report.last_ts,
        error: None,
    };
    crate::print_summary(&replay_like);
    let k = &report.kernel;
    let mut err = io::stderr().lock();
    let _ = writeln!(
        err,
        "kernel       {} packets, {} dropped, {} ring freezes",
        k.packets, k.drops, k.freezes
    );
    for (i, w) in report.workers.iter().enumerate() {
        let _ = writeln!(
            err,
            "  worker {i:<3} {} packets, {} kernel drops, {} rule reloads",
            w.stats.packets, w.kernel.drops, w.updates
        );
    }
}
