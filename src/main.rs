//! `otwatch`: the one command-line entry point (replay, sensor, analyzer,
//! run and rules commands).

mod baseline;
mod capture;
mod check;
mod generate;
mod logging;
mod serve;

use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use otwatch_rules::load::sources_from_path as rule_sources_from_path;
use otwatch_rules::{Errors, Ruleset};
use otwatch_sensor::detect::test_rules_with;
use otwatch_sensor::eve::EventFilter;
use otwatch_sensor::live::EveSink;
use otwatch_sensor::pipeline::checksum::{ChecksumMode, ChecksumState};
use otwatch_sensor::pipeline::{PipelineConfig, Until};
use otwatch_sensor::replay::{OfflineOptions, OfflineReport, OfflineSensor, ReplayReport};

/// The analyzer's store allocates and frees a buffer for every B-tree page
/// it writes, on its writer thread, while request parsing allocates on the
/// runtime's threads: mimalloc's per-thread pages serve that with less work
/// and fewer page faults than the system allocator (the `store` benchmark
/// uses it too).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Passive intrusion detection for industrial control networks.
#[derive(Parser)]
#[command(name = "otwatch", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Whether IPv4, TCP and UDP checksums are verified (replay, sensor,
    /// run): `auto` (default) drops packets the endpoints would reject,
    /// always on a flow direction that verified before, but believes
    /// checksums left unfilled by offload where nothing verified yet, and
    /// stops verifying until its next sample (every 10 minutes) when 95 % of
    /// a sample of 1000 packets fail; `on` drops every bad one (for a SPAN
    /// or TAP port); `off` verifies nothing.
    #[arg(
        long,
        global = true,
        value_name = "auto|on|off",
        default_value = "auto"
    )]
    checksum_checks: ChecksumMode,
    /// How the process log (standard error) is written: `human` lines with
    /// time, level and target, or `json`, one object per line.
    #[arg(
        long,
        global = true,
        value_enum,
        value_name = "human|json",
        default_value = "human"
    )]
    log_format: logging::LogFormat,
    /// Which log events are written: a level (error, warn, info, debug,
    /// trace) or per-target directives such as
    /// `warn,otwatch_analyzer::export=debug`. Default: `RUST_LOG`, else info.
    #[arg(long, global = true, value_name = "LEVEL", value_parser = logging::parse_filter)]
    log_level: Option<tracing_subscriber::filter::Targets>,
}

/// The pipeline settings of this run (from the command line).
static PIPELINE: std::sync::OnceLock<PipelineConfig> = std::sync::OnceLock::new();

/// The pipeline settings every capture of this run uses.
pub(crate) fn pipeline_config() -> PipelineConfig {
    PIPELINE.get().copied().unwrap_or_default()
}

#[derive(Subcommand)]
enum Command {
    /// Analyse capture files offline and write EVE JSON lines.
    Replay {
        /// Where to write EVE JSON lines: a file, or `-` for standard output.
        /// Without it only the summary is printed.
        #[arg(long, value_name = "FILE|-")]
        eve: Option<String>,
        /// Event types to write, comma-separated (default: all).
        #[arg(long, value_name = "LIST", help = event_types_help("Event types to write"))]
        events: Option<String>,
        /// Rule file or folder of *.yaml rule files (default: the bundled
        /// ruleset, rules/default).
        #[arg(long, value_name = "PATH")]
        rules: Option<PathBuf>,
        /// Baseline file to enforce (made by `otwatch learn`): transactions
        /// outside it raise deviation alerts.
        #[arg(long, value_name = "FILE")]
        baseline: Option<PathBuf>,
        /// Rule overrides file (suppressions of a rule for a source, a
        /// destination or a pair; see rules/README.md), applied to the rules.
        #[arg(long, value_name = "FILE")]
        overrides: Option<PathBuf>,
        /// Worker threads: frames are dealt to them by a symmetric hash of
        /// their IP addresses (both directions of a flow to one worker).
        #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=256))]
        workers: u16,
        /// Stop each packet after this stage, to measure what the stages
        /// cost: read (walk the records), decode (headers, checksums),
        /// flow (flow table, TCP reassembly), dissect (protocol decoders,
        /// without rules or output). Default: the whole path.
        #[arg(long, value_name = "STAGE", value_parser = parse_until)]
        until: Option<Until>,
        /// Capture files (pcap or pcapng), processed in order as one stream.
        #[arg(required = true, value_name = "PCAP")]
        pcaps: Vec<PathBuf>,
    },
    /// Listen on an interface (or read capture files) and send alerts to an
    /// analyzer and/or EVE lines to a file. SIGINT/SIGTERM stop it cleanly,
    /// SIGHUP reloads the rules.
    Sensor(Box<SensorArgs>),
    /// Learn a baseline from captures: which servers the plant has, which
    /// clients talk to each, and what each does (functions, units, address
    /// ranges, DBs, SZL ids, object groups), as a YAML file to review and
    /// then enforce with --baseline. The rules run (and count alerts) while
    /// it learns.
    Learn {
        /// Rule file or folder (default: the bundled ruleset).
        #[arg(long, value_name = "PATH")]
        rules: Option<PathBuf>,
        /// The baseline file to write.
        #[arg(short = 'o', long = "output", value_name = "BASELINE.yaml")]
        output: PathBuf,
        /// Worker threads (as `replay --workers`).
        #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=256))]
        workers: u16,
        /// Capture files (pcap or pcapng), processed in order as one stream.
        #[arg(required = true, value_name = "PCAP")]
        pcaps: Vec<PathBuf>,
    },
    /// Write a deterministic capture of mixed plant traffic (Modbus, S7comm,
    /// DNP3, IT background), optionally with attacks and their ground truth.
    Generate(generate::GenerateArgs),
    /// The analyzer: alert store, HTTP API, live stream, exports and the web UI.
    Analyzer {
        /// Address to listen on (default 127.0.0.1:8080, or `listen` in the config).
        #[arg(long, value_name = "ADDR")]
        listen: Option<std::net::SocketAddr>,
        /// Data directory (default ./otwatch-data, or `data_dir` in the config).
        #[arg(long, value_name = "DIR")]
        data: Option<PathBuf>,
        /// YAML configuration file (validated at start, every error
        /// reported; default: OTWATCH_CONFIG, else /etc/otwatch/otwatch.yaml
        /// when it exists).
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Bearer token sensors must present (or OTWATCH_TOKEN, or the config).
        #[arg(long, value_name = "TOKEN")]
        token: Option<String>,
        /// Token of the API and of the UI's login (else api_token in the
        /// config, else OTWATCH_API_TOKEN, else DATA/api-token, made at first
        /// start).
        #[arg(long, value_name = "TOKEN")]
        api_token: Option<String>,
        /// Rules whose list and YAML the UI shows (default: the bundled ruleset).
        #[arg(long, value_name = "PATH")]
        rules: Option<PathBuf>,
    },
    /// Analyzer and sensor in one process. With no arguments: replays the
    /// bundled demo plant into ./otwatch-data and serves http://127.0.0.1:8080.
    /// With --iface: listens live (as root) until SIGINT/SIGTERM, SIGHUP
    /// reloads the rules.
    Run {
        /// Address to listen on (default 127.0.0.1:8080).
        #[arg(long, value_name = "ADDR")]
        listen: Option<std::net::SocketAddr>,
        /// Data directory (default ./otwatch-data).
        #[arg(long, value_name = "DIR")]
        data: Option<PathBuf>,
        /// YAML configuration file of the analyzer.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Rule file or folder (default: the bundled ruleset).
        #[arg(long, value_name = "PATH")]
        rules: Option<PathBuf>,
        /// Rule overrides file (default DATA/overrides.yaml, made by the
        /// UI's "Do not alert" buttons); reloaded with the rules.
        #[arg(long, value_name = "FILE")]
        overrides: Option<PathBuf>,
        /// Token of the API and of the UI's login (else api_token in the
        /// config, else OTWATCH_API_TOKEN, else DATA/api-token, made at first
        /// start and printed as a login link).
        #[arg(long, value_name = "TOKEN")]
        api_token: Option<String>,
        /// Capture files to replay instead of the demo plant.
        #[arg(long = "pcap", value_name = "PCAP")]
        pcaps: Vec<PathBuf>,
        #[command(flatten)]
        baseline: baseline::BaselineOpts,
        /// Listen on this interface (a SPAN or TAP port; needs root) instead
        /// of replaying captures; alerts, assets and stats go to the
        /// in-process analyzer.
        #[arg(long, value_name = "IF", conflicts_with = "pcaps")]
        iface: Option<String>,
        #[command(flatten)]
        capture: capture::CaptureOpts,
    },
    /// Validate rules and run their tests.
    Rules {
        #[command(subcommand)]
        command: RulesCommand,
    },
    /// Check the configuration without starting.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Write shell completions to standard output (bash: save as
    /// /usr/share/bash-completion/completions/otwatch).
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Write the manual page (roff) to standard output: `otwatch manpage |
    /// man -l -`.
    Manpage,
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Load and validate everything a start would (the analyzer's
    /// configuration file, the rules, an overrides file, a baseline) and
    /// list every error; exits 0 only when all of it is good.
    Check {
        /// The analyzer's configuration file (default: OTWATCH_CONFIG, else
        /// /etc/otwatch/otwatch.yaml when it exists).
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Rule file or folder (default: the bundled ruleset).
        #[arg(long, value_name = "PATH")]
        rules: Option<PathBuf>,
        /// Rule overrides file, checked against the rules.
        #[arg(long, value_name = "FILE")]
        overrides: Option<PathBuf>,
        /// Baseline file.
        #[arg(long, value_name = "FILE")]
        baseline: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum RulesCommand {
    /// Validate a rule file or folder, or a baseline file; lists every
    /// error with file:line:column.
    Check {
        /// Rule file or folder of *.yaml files, a baseline file, or an
        /// overrides file (a top-level `suppress:`).
        #[arg(value_name = "PATH")]
        path: PathBuf,
        /// The rules whose ids an overrides file names (default: the
        /// bundled ruleset).
        #[arg(long, value_name = "PATH")]
        rules: Option<PathBuf>,
    },
    /// Run the `tests:` of every rule (captures and the alerts they must raise).
    Test {
        /// Rule file or folder of *.yaml files.
        #[arg(value_name = "PATH")]
        path: PathBuf,
        /// Run the tests with this overrides file applied (a suppressed
        /// match does not count as an alert).
        #[arg(long, value_name = "FILE")]
        overrides: Option<PathBuf>,
    },
}

/// The help of `--events`: the event types come from the sensor (one per
/// registered protocol among them).
fn event_types_help(lead: &str) -> String {
    let names: Vec<&str> = otwatch_sensor::eve::EventType::ALL
        .iter()
        .map(|t| t.name())
        .collect();
    format!(
        "{lead}, comma-separated: {} (default: all)",
        names.join(",")
    )
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    logging::init(cli.log_format, cli.log_level.clone());
    let _ = PIPELINE.set(PipelineConfig {
        checksums: cli.checksum_checks,
        ..PipelineConfig::default()
    });
    match cli.command {
        Command::Replay {
            eve,
            events,
            rules,
            baseline,
            overrides,
            workers,
            until,
            pcaps,
        } => run_replay(ReplayArgs {
            eve,
            events,
            rules,
            baseline,
            overrides,
            workers: usize::from(workers),
            until: until.unwrap_or_default(),
            pcaps,
        }),
        Command::Sensor(args) => run_sensor(*args),
        Command::Learn {
            rules,
            output,
            workers,
            pcaps,
        } => baseline::run_learn(baseline::LearnArgs {
            rules,
            output,
            workers: usize::from(workers),
            pcaps,
        }),
        Command::Generate(args) => generate::run(args),
        Command::Analyzer {
            listen,
            data,
            config,
            token,
            api_token,
            rules,
        } => serve::run_analyzer(serve::ServeArgs {
            listen,
            data,
            config: config.or_else(check::default_config),
            rules,
            overrides: None,
            token,
            api_token,
        }),
        Command::Run {
            listen,
            data,
            config,
            rules,
            overrides,
            api_token,
            pcaps,
            baseline,
            iface,
            capture,
        } => serve::run_all(
            serve::ServeArgs {
                listen,
                data,
                config,
                rules,
                overrides,
                token: None,
                api_token,
            },
            pcaps,
            baseline,
            iface.map(|iface| (iface, capture)),
        ),
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut cmd, "otwatch", &mut io::stdout());
            ExitCode::SUCCESS
        }
        Command::Manpage => {
            let cmd = <Cli as clap::CommandFactory>::command();
            match clap_mangen::Man::new(cmd).render(&mut io::stdout()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("otwatch manpage: {e}");
                    ExitCode::from(1)
                }
            }
        }
        Command::Config {
            command:
                ConfigCommand::Check {
                    config,
                    rules,
                    overrides,
                    baseline,
                },
        } => check::run(check::CheckArgs {
            config,
            rules,
            overrides,
            baseline,
        }),
        Command::Rules {
            command: RulesCommand::Check { path, rules },
        } => rules_check(&path, rules.as_deref()),
        Command::Rules {
            command: RulesCommand::Test { path, overrides },
        } => rules_test(&path, overrides.as_deref()),
    }
}

/// Loads the rules of `--rules`, or the bundled ruleset, with the
/// suppressions of an overrides file applied (a missing file has none: the
/// one `otwatch run` owns is made at the first override added).
pub(crate) fn load_rules(path: Option<&Path>, overrides: Option<&Path>) -> Result<Ruleset, Errors> {
    let set = match path {
        Some(p) => Ruleset::load(p)?,
        None => Ruleset::bundled()?,
    };
    match overrides {
        None => Ok(set),
        Some(o) => {
            let (set, stale) =
                set.with_known_overrides(&otwatch_rules::overrides::load_or_empty(o)?);
            warn_stale_overrides(&stale);
            Ok(set)
        }
    }
}

/// Says which overrides name rules that are not loaded: they are ignored,
/// and the capture runs with the others.
pub(crate) fn warn_stale_overrides(stale: &Errors) {
    if stale.is_empty() {
        return;
    }
    eprintln!("{stale}");
    eprintln!(
        "otwatch: {} override(s) name rules that are not loaded and are ignored; remove them from the file",
        stale.len()
    );
}

/// An `--overrides FILE` given on the command line must exist (a missing
/// one is a typo, not an empty file).
pub(crate) fn given_overrides(who: &str, path: Option<&Path>) -> Result<(), ExitCode> {
    match path {
        Some(p) if !p.is_file() => {
            eprintln!("{who}: --overrides {}: no such file", p.display());
            Err(ExitCode::from(2))
        }
        _ => Ok(()),
    }
}

/// Whether a file is an overrides file: a top-level `suppress:` key and no
/// `rules:`, `vars:` or `servers:`.
fn is_overrides_file(path: &Path) -> bool {
    top_keys(path).is_some_and(|top| {
        top(b"suppress:") && !top(b"rules:") && !top(b"vars:") && !top(b"servers:")
    })
}

/// A test of a file's top-level keys (`None` when it is not a readable file).
fn top_keys(path: &Path) -> Option<impl Fn(&[u8]) -> bool> {
    if !path.is_file() {
        return None;
    }
    let text = std::fs::read(path).ok()?;
    Some(move |key: &[u8]| {
        text.split(|b| *b == b'\n')
            .any(|line| line.starts_with(key))
    })
}

/// Whether a file is a baseline rather than rules: a top-level `servers:`
/// key and no `rules:` or `vars:`.
fn is_baseline_file(path: &Path) -> bool {
    if !path.is_file() {
        return false;
    }
    let Ok(text) = std::fs::read(path) else {
        return false;
    };
    let top = |key: &[u8]| {
        text.split(|b| *b == b'\n')
            .any(|line| line.starts_with(key))
    };
    top(b"servers:") && !top(b"rules:") && !top(b"vars:")
}

fn rules_check(path: &Path, rules: Option<&Path>) -> ExitCode {
    if is_overrides_file(path) {
        let checked = otwatch_rules::overrides::load(path).and_then(|o| {
            load_rules(rules, None)
                .and_then(|set| set.with_overrides(&o))
                .map(|_| o)
        });
        return match checked {
            Ok(o) => {
                println!(
                    "{}: overrides OK ({} suppressions)",
                    path.display(),
                    o.suppress.len()
                );
                ExitCode::SUCCESS
            }
            Err(errors) => {
                eprintln!("{errors}");
                eprintln!(
                    "{}: {} error(s) in the overrides",
                    path.display(),
                    errors.len()
                );
                ExitCode::from(1)
            }
        };
    }
    if is_baseline_file(path) {
        return match otwatch_rules::baseline::file::load(path) {
            Ok(b) => {
                println!(
                    "{}: baseline OK ({} servers, {} client/server pairs, {} operations)",
                    path.display(),
                    b.servers().count(),
                    b.pairs(),
                    b.operations()
                );
                ExitCode::SUCCESS
            }
            Err(errors) => {
                eprintln!("{errors}");
                eprintln!(
                    "{}: {} error(s) in the baseline",
                    path.display(),
                    errors.len()
                );
                ExitCode::from(1)
            }
        };
    }
    match load_rules(Some(path), None) {
        Ok(set) => {
            println!("{}: {} rules OK", path.display(), set.len());
            ExitCode::SUCCESS
        }
        Err(errors) => {
            eprintln!("{errors}");
            eprintln!(
                "{}: {} error(s); nothing loaded",
                path.display(),
                errors.len()
            );
            ExitCode::from(1)
        }
    }
}

fn rules_test(path: &Path, overrides: Option<&Path>) -> ExitCode {
    let overrides = match overrides.map(otwatch_rules::overrides::load).transpose() {
        Ok(o) => o,
        Err(errors) => {
            eprintln!("{errors}");
            eprintln!(
                "{}: {} error(s) in the overrides; no test run",
                path.display(),
                errors.len()
            );
            return ExitCode::from(1);
        }
    };
    let loaded = rule_sources_from_path(path)
        .and_then(|sources| {
            let mut set = Ruleset::from_sources(&sources)?;
            if let Some(o) = &overrides {
                set = set.with_overrides(o)?;
            }
            Ok((Arc::new(set), sources))
        })
        .and_then(|(set, sources)| {
            test_rules_with(&set, &sources, overrides.as_ref()).map(|o| (set, o))
        });
    let (set, outcomes) = match loaded {
        Ok(x) => x,
        Err(errors) => {
            eprintln!("{errors}");
            eprintln!("{}: {} error(s); no test run", path.display(), errors.len());
            return ExitCode::from(1);
        }
    };
    let mut failed = 0;
    let mut untested = 0;
    for meta in set.rules() {
        let mine: Vec<_> = outcomes.iter().filter(|o| o.rule == meta.id).collect();
        if mine.is_empty() {
            untested += 1;
            println!("NO TESTS {} {}", meta.id, meta.name);
            continue;
        }
        let ok = mine.iter().all(|o| o.passed());
        println!(
            "{} {} {}",
            if ok { "PASS" } else { "FAIL" },
            meta.id,
            meta.name
        );
        for o in mine {
            let vars = if o.vars.is_empty() {
                String::new()
            } else {
                format!(" vars {:?}", o.vars)
            };
            match (&o.actual, &o.error) {
                (_, Some(e)) => {
                    println!("     FAIL {}{vars}: cannot replay: {e}", o.pcap.display())
                }
                (Some(n), None) => println!(
                    "     {} {}{vars}: {n} alert(s), expected {}",
                    if o.passed() { "ok  " } else { "FAIL" },
                    o.pcap.display(),
                    o.expected
                ),
                (None, None) => {}
            }
            if !o.passed() {
                failed += 1;
            }
        }
    }
    println!(
        "{} rules, {} tests, {} failed, {} rules without tests",
        set.len(),
        outcomes.len(),
        failed,
        untested
    );
    if failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// A stage name of `--until`.
fn parse_until(name: &str) -> Result<Until, String> {
    Until::from_name(name).ok_or_else(|| {
        let names: Vec<&str> = Until::ALL.iter().map(|u| u.name()).collect();
        format!("unknown stage {name:?}; one of {}", names.join(", "))
    })
}

/// What `otwatch replay` was asked to do.
struct ReplayArgs {
    eve: Option<String>,
    events: Option<String>,
    rules: Option<PathBuf>,
    baseline: Option<PathBuf>,
    overrides: Option<PathBuf>,
    workers: usize,
    until: Until,
    pcaps: Vec<PathBuf>,
}

fn run_replay(args: ReplayArgs) -> ExitCode {
    let ReplayArgs {
        eve,
        events,
        rules,
        baseline,
        overrides,
        workers,
        until,
        pcaps,
    } = args;
    if let Err(code) = given_overrides("otwatch replay", overrides.as_deref()) {
        return code;
    }
    let ruleset = match load_rules(rules.as_deref(), overrides.as_deref()) {
        Ok(set) => set,
        Err(errors) => {
            eprintln!("{errors}");
            eprintln!("otwatch replay: the rules have {} error(s)", errors.len());
            return ExitCode::from(2);
        }
    };
    let ruleset = match baseline::attach(ruleset, baseline.as_deref()) {
        Ok(set) => Arc::new(set),
        Err(e) => {
            eprintln!("{e}\notwatch replay: the baseline cannot be enforced");
            return ExitCode::from(2);
        }
    };
    let filter = match events.as_deref().map(EventFilter::parse).transpose() {
        Ok(f) => f.unwrap_or_else(EventFilter::all),
        Err(msg) => {
            eprintln!("otwatch replay: {msg}");
            return ExitCode::from(2);
        }
    };
    // Without --eve no line is written, so none is rendered either.
    let sink: Option<Box<dyn Write + Send>> = match eve.as_deref() {
        None => None,
        Some("-") => Some(Box::new(io::stdout())),
        Some(path) => match std::fs::File::create(path) {
            Ok(f) => Some(Box::new(f)),
            Err(e) => {
                eprintln!("otwatch replay: cannot create {path}: {e}");
                return ExitCode::from(2);
            }
        },
    };
    let sizes: Vec<u64> = pcaps
        .iter()
        .map(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0))
        .collect();
    let total: u64 = sizes.iter().sum();
    let bar = progress_bar(total);
    let mut done_before = vec![0u64; pcaps.len() + 1];
    for (i, s) in sizes.iter().enumerate() {
        done_before[i + 1] = done_before[i] + s;
    }
    let mut progress = |file: usize, offset: u64, _size: u64| {
        if let Some(bar) = &bar {
            bar.set_position(done_before[file] + offset);
        }
    };
    let offline = OfflineSensor::new(OfflineOptions {
        rules: ruleset,
        pipeline: PipelineConfig {
            until,
            ..pipeline_config()
        },
        eve: sink.map(|s| (EveSink::new(s), filter)),
        ship: None,
        workers,
        learn: None,
    });
    let OfflineReport {
        replay: report,
        write: write_result,
    } = offline.replay(&pcaps, &mut progress);
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    print_summary(&report);
    if let Some(err) = &report.error {
        eprintln!("otwatch replay: error: {err}");
        return ExitCode::from(1);
    }
    if let Err(e) = write_result {
        if e.kind() != io::ErrorKind::BrokenPipe {
            eprintln!("otwatch replay: writing EVE output failed: {e}");
            return ExitCode::from(1);
        }
    }
    ExitCode::SUCCESS
}

fn progress_bar(total: u64) -> Option<indicatif::ProgressBar> {
    // Only on a terminal, and only for inputs big enough to take a moment.
    if !io::stderr().is_terminal() || total < 64 * 1024 * 1024 {
        return None;
    }
    let bar = indicatif::ProgressBar::new(total);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({bytes_per_sec}, {eta})",
    ) {
        bar.set_style(style);
    }
    Some(bar)
}

pub(crate) fn print_summary(report: &ReplayReport) {
    let s = &report.stats;
    let mut err = io::stderr().lock();
    let _ = writeln!(err, "packets      {}", s.packets);
    let _ = writeln!(err, "bytes        {}", s.bytes);
    let _ = writeln!(
        err,
        "flows        {} (timed out {}, evicted {}, ended at shutdown {})",
        s.flows.created, s.flows.timed_out, s.flows.evicted, s.flows.flushed
    );
    for (proto, app) in &s.app {
        let _ = writeln!(
            err,
            "{proto:<12} {} PDUs ({} requests, {} responses) in {} transactions",
            app.pdus(),
            app.requests,
            app.responses,
            app.transactions
        );
    }
    for (link, n) in &s.unsupported_link {
        let _ = writeln!(
            err,
            "warning: {n} frames of link type {link} skipped (not decoded by otwatch)"
        );
    }
    let _ = writeln!(err, "anomalies    {}", s.anomaly_total());
    for ((proto, name), n) in &s.anomalies {
        let _ = writeln!(err, "  {proto}.{name:<40} {n}");
    }
    let c = &s.checksum;
    if c.state == ChecksumState::AutoDisabled {
        let _ = writeln!(
            err,
            "checksums    not verified at the end: {} of {} sampled packets failed (captured behind checksum offload, or rewritten?); {} of {} samples turned verification off; --checksum-checks on verifies anyway",
            c.sample_bad, c.sampled, c.samples_disabled, c.samples
        );
    } else if c.dropped > 0 {
        let _ = writeln!(
            err,
            "checksums    {} packets dropped for bad checksums ({})",
            c.dropped,
            c.state.name()
        );
    }
    let _ = writeln!(err, "alerts       {}", s.alerts);
    if s.threshold_windows_evicted > 0 {
        let _ = writeln!(
            err,
            "thresholds   {} open windows evicted to make room (their counts restarted)",
            s.threshold_windows_evicted
        );
    }
    if s.suppressed > 0 {
        let _ = writeln!(
            err,
            "suppressed   {} matches kept from alerting by the overrides",
            s.suppressed
        );
    }
    if s.deviations > 0 {
        let _ = writeln!(
            err,
            "deviations   {} from the baseline ({} held back as repeats)",
            s.deviations, s.deviations_held
        );
    }
    let _ = writeln!(
        err,
        "elapsed      {:.3} s ({:.0} packets/s)",
        report.elapsed.as_secs_f64(),
        report.packets_per_sec()
    );
}

/// Arguments of `otwatch sensor`.
#[derive(clap::Args)]
struct SensorArgs {
    /// Interface to listen on (a SPAN or TAP port). Needs root; see --user.
    #[arg(
        long,
        value_name = "IF",
        required_unless_present = "pcap",
        conflicts_with = "pcap"
    )]
    iface: Option<String>,
    /// Read capture files instead of an interface (as `replay`, with
    /// --workers pipelines; default one).
    #[arg(long, value_name = "FILE")]
    pcap: Vec<PathBuf>,
    #[command(flatten)]
    capture: capture::CaptureOpts,
    #[command(flatten)]
    baseline: baseline::BaselineOpts,
    /// Rule file or folder of *.yaml rule files (default: the bundled ruleset).
    /// Reloaded on SIGHUP; a reload with errors keeps the old rules.
    #[arg(long, value_name = "PATH")]
    rules: Option<PathBuf>,
    /// Rule overrides file (suppressions of a rule for a source, a
    /// destination or a pair), applied to the rules and reloaded with them.
    #[arg(long, value_name = "FILE")]
    overrides: Option<PathBuf>,
    /// Where to write EVE JSON lines: a file (appended to; opened again on
    /// SIGHUP, after logrotate moved it), or `-` for standard output.
    #[arg(long, value_name = "FILE|-")]
    eve: Option<String>,
    /// Event types written to --eve, comma-separated (default: all).
    #[arg(long, value_name = "LIST", help = event_types_help("Event types written to --eve"))]
    events: Option<String>,
    /// Analyzer base URL (http://HOST:PORT); alerts, assets and stats are
    /// shipped to its /api/v1/ingest, through an on-disk spool.
    #[arg(long, value_name = "URL")]
    analyzer: Option<String>,
    /// Bearer token for the analyzer (default: $OTWATCH_TOKEN).
    #[arg(long, value_name = "TOKEN")]
    token: Option<String>,
    /// Name of this sensor in shipped lines (default: the host name).
    #[arg(long, value_name = "NAME")]
    sensor_name: Option<String>,
    /// Spool folder for alerts not yet acknowledged by the analyzer.
    #[arg(long, value_name = "DIR", default_value = "otwatch-spool")]
    spool: PathBuf,
    /// Bound of the spool in bytes. When it is full, live capture drops the
    /// oldest lines; --pcap waits for the analyzer, and drops (and exits 1)
    /// only once it gave up (see --ship-give-up).
    #[arg(long, value_name = "BYTES", default_value_t = 256 << 20)]
    spool_max_bytes: u64,
    /// With --pcap: how long requests to the analyzer may fail one after the
    /// other (unreachable, timeouts, 5xx, 401/403) before the replay stops
    /// waiting for it: a full spool then drops its oldest lines, the end of
    /// the run stops waiting for the spool to empty, and the exit status is
    /// 1. 0: wait as long as it takes.
    #[arg(long, value_name = "SECS", default_value_t = 300)]
    ship_give_up: u64,
    /// After opening the capture, switch to this user (e.g. nobody): no
    /// root, no capabilities from then on.
    #[arg(long, value_name = "USER")]
    user: Option<String>,
}

/// `otwatch sensor`: live capture (or files) → rules → EVE lines / analyzer.
fn run_sensor(args: SensorArgs) -> ExitCode {
    use otwatch_sensor::live;
    use otwatch_sensor::ship::{ShipConfig, Shipper, WhenFull};

    const WHO: &str = "otwatch sensor";
    let fail = |msg: String| {
        eprintln!("{WHO}: {msg}");
        ExitCode::from(2)
    };
    // Everything is checked before anything starts.
    if let Err(code) = given_overrides(WHO, args.overrides.as_deref()) {
        return code;
    }
    let ruleset = match load_rules(args.rules.as_deref(), args.overrides.as_deref()) {
        Ok(set) => set,
        Err(errors) => {
            eprintln!("{errors}");
            return fail(format!("the rules have {} error(s)", errors.len()));
        }
    };
    let learning = args.baseline.learn;
    if learning.is_some() && args.baseline.baseline.is_none() {
        return fail("--learn needs --baseline FILE: the file it writes".into());
    }
    let baseline_path = args.baseline.baseline.clone();
    if learning.is_none() {
        if let Some(path) = &baseline_path {
            if let Err(e) = otwatch_rules::baseline::file::load(path) {
                eprintln!("{e}");
                return fail("the baseline cannot be enforced".into());
            }
        }
    }
    let filter = match args.events.as_deref().map(EventFilter::parse).transpose() {
        Ok(f) => f.unwrap_or_else(EventFilter::all),
        Err(msg) => return fail(msg),
    };
    let config = match args
        .iface
        .as_deref()
        .map(|i| args.capture.config(i))
        .transpose()
    {
        Ok(c) => c,
        Err(msg) => return fail(msg),
    };
    let user = match args.user.as_deref().map(live::lookup_user).transpose() {
        Ok(u) => u,
        Err(e) => return fail(format!("--user: {e}")),
    };

    // Outputs, opened while still privileged.
    let eve = match args.eve.as_deref() {
        None => None,
        Some("-") => Some(EveSink::new(Box::new(io::stdout()))),
        Some(path) => match EveSink::append_to(Path::new(path)) {
            Ok(s) => Some(s),
            Err(e) => return fail(format!("cannot open {path}: {e}")),
        },
    };
    let ship_config = match &args.analyzer {
        None => None,
        Some(url) => {
            let token = args
                .token
                .clone()
                .or_else(|| std::env::var("OTWATCH_TOKEN").ok())
                .unwrap_or_default();
            let name = args.sensor_name.clone().unwrap_or_else(|| {
                std::fs::read_to_string("/proc/sys/kernel/hostname")
                    .map(|h| h.trim().to_owned())
                    .unwrap_or_else(|_| "otwatch-sensor".to_owned())
            });
            if let Err(e) = std::fs::create_dir_all(&args.spool) {
                return fail(format!("cannot create spool {}: {e}", args.spool.display()));
            }
            if let Some(u) = user.filter(|_| args.iface.is_some()) {
                // The spool is written after the privilege drop.
                let mut paths = vec![args.spool.clone()];
                if let Ok(dir) = std::fs::read_dir(&args.spool) {
                    paths.extend(dir.filter_map(|e| e.ok().map(|e| e.path())));
                }
                for p in paths {
                    if let Err(e) = std::os::unix::fs::chown(&p, Some(u.uid), Some(u.gid)) {
                        return fail(format!("cannot hand {} to --user: {e}", p.display()));
                    }
                }
            }
            let mut ship = ShipConfig::new(url.clone(), token, name, args.spool.clone());
            ship.spool_max_bytes = args.spool_max_bytes;
            if args.iface.is_none() {
                // Files go only as fast as the analyzer takes their alerts.
                ship.when_full = WhenFull::Wait;
                ship.give_up = match args.ship_give_up {
                    0 => None,
                    s => Some(std::time::Duration::from_secs(s)),
                };
            }
            Some(ship)
        }
    };

    let Some(config) = config else {
        // Files: one pipeline, the same outputs.
        let shipper = match ship_config.map(Shipper::start).transpose() {
            Ok(s) => s.map(Arc::new),
            Err(e) => return fail(format!("cannot start the analyzer client: {e}")),
        };
        // Files with --learn: learn from them, then write the baseline.
        let learn = learning.map(|_| Arc::new(otwatch_sensor::learn::LearnShared::new()));
        let path = baseline_path.as_deref().filter(|_| learn.is_none());
        let ruleset = match baseline::attach(ruleset, path) {
            Ok(set) => Arc::new(set),
            Err(e) => return fail(e),
        };
        let offline = OfflineSensor::new(OfflineOptions {
            rules: ruleset,
            pipeline: pipeline_config(),
            eve: eve.map(|s| (s, filter)),
            ship: shipper.clone(),
            workers: args.capture.workers().unwrap_or(1),
            learn: learn.clone(),
        });
        let OfflineReport {
            replay: report,
            write,
        } = offline.replay(&args.pcap, &mut |_, _, _| {});
        if let Err(e) = write {
            eprintln!("{WHO}: writing EVE output failed: {e}");
        }
        if let (Some(shared), Some(path)) = (&learn, &baseline_path) {
            let sources: Vec<String> = args.pcap.iter().map(|p| p.display().to_string()).collect();
            if let Err(e) = baseline::write_learned(WHO, shared, path, &sources) {
                eprintln!("{WHO}: {e}");
                return ExitCode::from(1);
            }
        }
        let shipped = capture::finish_shipper(WHO, shipper, true);
        print_summary(&report);
        if let Some(err) = &report.error {
            eprintln!("{WHO}: error: {err}");
            return ExitCode::from(1);
        }
        // A line dropped, refused or left in the spool did not reach the
        // analyzer: the run did not do its job (finish_shipper said why).
        if shipped.is_some_and(|s| s.spool_dropped > 0 || s.rejected > 0 || s.pending > 0) {
            return ExitCode::from(1);
        }
        return ExitCode::SUCCESS;
    };

    let capture = match capture::open_capture(WHO, &config) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let rules_path = args.rules.clone();
    let overrides_path = args.overrides.clone();
    let reload: capture::Reload = Box::new(move || {
        load_rules(rules_path.as_deref(), overrides_path.as_deref())
            .map_err(|errors| format!("{errors}\n{} error(s)", errors.len()))
    });
    let source = format!("interface {}", config.iface);
    let learning = learning
        .zip(baseline_path.clone())
        .map(|(duration, path)| baseline::LiveLearning::new(duration, path, source));
    capture::run_live(
        capture::LiveJob {
            who: WHO,
            config,
            rules: ruleset,
            baseline: baseline_path,
            learning,
            reload_requested: None,
            reload,
            eve: eve.map(|s| (s, filter)),
            ship: ship_config,
            user: args.user.clone(),
        },
        capture,
    )
}
