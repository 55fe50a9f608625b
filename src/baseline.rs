//! The learned baseline on the command line: `otwatch learn`, the
//! `--baseline FILE` and `--learn DURATION` options of `sensor` and `run`,
//! and live learning's end (write the file, then enforce it).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use otwatch_rules::baseline::{file, Baseline};
use otwatch_rules::Ruleset;
use otwatch_sensor::learn::{self, LearnShared};
use otwatch_sensor::replay::{OfflineOptions, OfflineReport, OfflineSensor};

/// `--baseline` and `--learn` of `sensor` and `run`.
#[derive(clap::Args, Debug, Clone, Default)]
pub(crate) struct BaselineOpts {
    /// Baseline file to enforce (reloaded with the rules on SIGHUP): a
    /// transaction outside it raises a deviation alert (rules of the
    /// `baseline` layer). With --learn, the file learning writes, and then
    /// enforces.
    #[arg(long, value_name = "FILE")]
    pub(crate) baseline: Option<PathBuf>,
    /// Learn the baseline for this long first (`8h`, `7d`; with --pcap: the
    /// whole capture, whatever the duration), write it to --baseline (for
    /// `run`, default DATA/baseline.yaml), then enforce it. The rules detect
    /// as usual while it learns.
    #[arg(long, value_name = "DURATION", value_parser = parse_learn)]
    pub(crate) learn: Option<Duration>,
}

impl BaselineOpts {
    /// `otwatch run` owns a baseline file in its data directory: the one
    /// --learn writes and, when it exists, the one enforced, unless
    /// --baseline names another.
    pub(crate) fn owned_by_run(mut self, data_dir: &Path) -> BaselineOpts {
        if self.baseline.is_none() {
            let own = data_dir.join("baseline.yaml");
            if self.learn.is_some() || own.is_file() {
                self.baseline = Some(own);
            }
        }
        self
    }
}

fn parse_learn(text: &str) -> Result<Duration, String> {
    otwatch_analyzer::config::parse_duration(text)
        .ok_or_else(|| format!("{text:?} is not a duration (30m, 8h, 7d)"))
}

/// `set` enforcing the baseline of `path`, when given.
pub(crate) fn attach(set: Ruleset, path: Option<&Path>) -> Result<Ruleset, String> {
    match path {
        None => Ok(set),
        Some(p) => {
            let b =
                file::load(p).map_err(|e| format!("{e}\n{} error(s) in the baseline", e.len()))?;
            Ok(set.with_baseline(Some(Arc::new(b))))
        }
    }
}

/// Writes what `shared` learned to `path`, naming `sources`; says what it
/// holds on stderr.
pub(crate) fn write_learned(
    who: &str,
    shared: &LearnShared,
    path: &Path,
    sources: &[String],
) -> Result<Baseline, String> {
    let mut b = shared.take();
    for s in sources {
        if !b.learned.sources.contains(s) {
            b.learned.sources.push(s.clone());
        }
    }
    file::save(&b, path).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    eprintln!("{}; wrote {}", learn::summary(who, &b), path.display());
    Ok(b)
}

/// What `otwatch learn` was asked to do.
pub(crate) struct LearnArgs {
    pub(crate) rules: Option<PathBuf>,
    pub(crate) output: PathBuf,
    pub(crate) workers: usize,
    pub(crate) pcaps: Vec<PathBuf>,
}

/// `otwatch learn`: replays the captures through the rules (their alerts
/// are counted, not written) and writes the baseline they show.
pub(crate) fn run_learn(args: LearnArgs) -> ExitCode {
    const WHO: &str = "otwatch learn";
    let ruleset = match crate::load_rules(args.rules.as_deref(), None) {
        Ok(set) => Arc::new(set),
        Err(errors) => {
            eprintln!("{errors}");
            eprintln!("{WHO}: the rules have {} error(s)", errors.len());
            return ExitCode::from(2);
        }
    };
    let shared = Arc::new(LearnShared::new());
    let offline = OfflineSensor::new(OfflineOptions {
        rules: ruleset,
        pipeline: crate::pipeline_config(),
        eve: None,
        ship: None,
        workers: args.workers,
        learn: Some(shared.clone()),
    });
    let OfflineReport { replay: report, .. } = offline.replay(&args.pcaps, &mut |_, _, _| {});
    crate::print_summary(&report);
    if let Some(err) = &report.error {
        eprintln!("{WHO}: error: {err}; no baseline written");
        return ExitCode::from(1);
    }
    let sources: Vec<String> = args.pcaps.iter().map(|p| p.display().to_string()).collect();
    match write_learned(WHO, &shared, &args.output, &sources) {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{WHO}: {e}");
            ExitCode::from(1)
        }
    }
}

/// Where live learning is.
#[derive(Debug)]
enum Phase {
    /// Learning until the deadline.
    Learning(Instant),
    /// The workers were asked to stop; waiting for them since then.
    Collecting(Instant),
    /// Written and enforced.
    Done,
}

/// How long the end of learning waits for every worker to hand over what
/// it learned (an idle worker wakes at its poll interval).
const COLLECT_WAIT: Duration = Duration::from_secs(10);

/// Live learning: `tick` from the live run's control loop.
pub(crate) struct LiveLearning {
    shared: Arc<LearnShared>,
    path: PathBuf,
    source: String,
    phase: Phase,
    /// Called with the path once the baseline is written and enforced.
    pub(crate) on_enforced: Option<Box<dyn FnMut(&Path) + Send>>,
}

/// What a tick asks of the live run.
pub(crate) enum LearnStep {
    /// Nothing to do.
    Wait,
    /// Publish the rules again (the workers hand over and stop learning).
    Republish,
    /// Learning is over and written: enforce the file.
    Enforce,
}

impl LiveLearning {
    /// Learning for `duration` into `path`.
    pub(crate) fn new(duration: Duration, path: PathBuf, source: String) -> LiveLearning {
        LiveLearning {
            shared: Arc::new(LearnShared::new()),
            path,
            source,
            phase: Phase::Learning(Instant::now() + duration),
            on_enforced: None,
        }
    }

    /// The baseline the workers learn into.
    pub(crate) fn shared(&self) -> Arc<LearnShared> {
        self.shared.clone()
    }

    /// Whether the baseline is still being learned.
    pub(crate) fn learning(&self) -> bool {
        !matches!(self.phase, Phase::Done)
    }

    /// Advances: at the deadline the workers are asked to stop; once all
    /// `workers` stopped (or after [`COLLECT_WAIT`]) the file is written.
    pub(crate) fn tick(&mut self, who: &str, workers: usize) -> LearnStep {
        let now = Instant::now();
        match self.phase {
            Phase::Learning(until) if now >= until => {
                self.shared.request_stop();
                self.phase = Phase::Collecting(now);
                LearnStep::Republish
            }
            Phase::Collecting(since)
                if self.shared.stopped() >= workers
                    || now.duration_since(since) >= COLLECT_WAIT =>
            {
                self.phase = Phase::Done;
                match write_learned(who, &self.shared, &self.path, &[self.source.clone()]) {
                    Ok(_) => {
                        if let Some(f) = &mut self.on_enforced {
                            f(&self.path);
                        }
                        LearnStep::Enforce
                    }
                    Err(e) => {
                        eprintln!("{who}: {e}; nothing enforced");
                        LearnStep::Wait
                    }
                }
            }
            _ => LearnStep::Wait,
        }
    }

    /// The run ended while learning: writes what was learned so far (the
    /// workers' outputs have published it).
    pub(crate) fn finish_early(&mut self, who: &str) {
        if !self.learning() {
            return;
        }
        self.phase = Phase::Done;
        eprintln!("{who}: stopped before the learning period ended; writing what was learned");
        if let Err(e) = write_learned(who, &self.shared, &self.path, &[self.source.clone()]) {
            eprintln!("{who}: {e}");
        }
    }
}
