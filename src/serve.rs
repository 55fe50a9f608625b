//! `otwatch analyzer` and `otwatch run`: the analyzer on its own, and the
//! analyzer with a sensor in one process (the demo and the simplest
//! deployment).
//!
//! The API token is `--api-token`, else the config's `api_token`, else
//! `$OTWATCH_API_TOKEN`, else `DATA/api-token` (made at first start); both
//! commands print the UI's address, as a login link when the token is the
//! one kept in the data directory. `otwatch run` hands its replay to the
//! analyzer in process; its live capture ships over HTTP with an ingest token
//! made at random at each start.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::SystemTime;

use otwatch_analyzer::{BaselineHook, BaselineState, Config, OverridesHook, RuleInfo, Server};
use otwatch_rules::load::{bundled_sources, sources_from_path};
use otwatch_rules::{Ruleset, Source};
use otwatch_sensor::live::{ship_filter, Capture, EveSink, LiveConfig, MemoryLines};
use otwatch_sensor::replay::{OfflineOptions, OfflineSensor};
use otwatch_sensor::ship::ShipConfig;

use crate::baseline::{BaselineOpts, LiveLearning};
use crate::capture::{open_capture, run_live, CaptureOpts, LiveJob, Reload};

/// The demo plant (pcaps/demo.pcap), bundled so that `otwatch run` works
/// from any folder.
const DEMO_PCAP: &[u8] = include_bytes!("../pcaps/demo.pcap");

/// Name of the in-process sensor in the analyzer.
const LOCAL_SENSOR: &str = "otwatch-run";

/// Command name in messages.
const WHO: &str = "otwatch run";

/// Lines handed to the analyzer per ingest call.
const BATCH_LINES: usize = 1000;

/// Where the analyzer listens and stores, from flags and an optional config file.
pub(crate) struct ServeArgs {
    pub(crate) listen: Option<SocketAddr>,
    pub(crate) data: Option<PathBuf>,
    pub(crate) config: Option<PathBuf>,
    pub(crate) rules: Option<PathBuf>,
    /// `--overrides FILE` of `otwatch run` (default: DATA/overrides.yaml).
    pub(crate) overrides: Option<PathBuf>,
    pub(crate) token: Option<String>,
    /// `--api-token`: before the config's `api_token` and the environment.
    pub(crate) api_token: Option<String>,
}

/// The analyzer's configuration from `args`. `local` is the ingest token of
/// this process's own sensor and whether that sensor ships over HTTP: it is
/// added to the configured tokens when it does, and is the only one when no
/// other is configured (the analyzer wants one; nobody outside knows it).
fn build_config(
    args: &ServeArgs,
    default_data: &str,
    local: Option<(&str, bool)>,
) -> Result<Config, Vec<String>> {
    let mut config = match &args.config {
        Some(path) => Config::load(path).map_err(|e| vec![e.to_string()])?,
        None => {
            let token = args
                .token
                .clone()
                .or_else(|| std::env::var("OTWATCH_TOKEN").ok());
            let Some(token) = token.or(local.map(|(t, _)| t.to_owned())) else {
                return Err(vec![
                    "an ingest token is needed: --token, OTWATCH_TOKEN, or ingest_tokens in --config".into(),
                ]);
            };
            Config::new(PathBuf::from(default_data), token)
        }
    };
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    if let Some(data) = &args.data {
        config.data_dir = data.clone();
    }
    if let Some(t) = &args.api_token {
        config.api_token = Some(t.clone());
    }
    if let Some((token, ships)) = local {
        let none = config.ingest_tokens.is_empty();
        if (ships || none) && !config.ingest_tokens.iter().any(|t| t == token) {
            config.ingest_tokens.push(token.to_owned());
        }
    }
    config.validate().map_err(|errors| {
        errors
            .iter()
            .map(|e| e.to_string())
            .collect::<Vec<String>>()
    })?;
    Ok(config)
}

/// The rules to load and show: `--rules PATH` or the bundled ruleset, with
/// the suppressions of the overrides file, when given (a missing file has
/// none).
fn load_rules(
    path: Option<&Path>,
    overrides: Option<&Path>,
) -> Result<(Ruleset, Vec<RuleInfo>), String> {
    let sources = match path {
        Some(p) => sources_from_path(p).map_err(|e| e.to_string())?,
        None => bundled_sources(),
    };
    let mut set = Ruleset::from_sources(&sources).map_err(|e| e.to_string())?;
    if let Some(o) = overrides {
        let o = otwatch_rules::overrides::load_or_empty(o).map_err(|e| e.to_string())?;
        let (with, stale) = set.with_known_overrides(&o);
        crate::warn_stale_overrides(&stale);
        set = with;
    }
    let infos = set
        .rules()
        .map(|meta| RuleInfo {
            id: meta.id,
            rev: meta.rev,
            name: meta.name.clone(),
            severity: meta.severity.name().to_owned(),
            protocol: meta.protocol.name().to_owned(),
            description: meta.description.clone(),
            attack: meta.attack.clone(),
            yaml: rule_yaml(&sources, &meta.file, meta.line),
        })
        .collect();
    Ok((set, infos))
}

/// The YAML text of the rule starting at `line` of `file`: its `- ` line and
/// every following line indented deeper.
fn rule_yaml(sources: &[Source], file: &str, line: u32) -> String {
    let Some(source) = sources.iter().find(|s| s.name == file) else {
        return String::new();
    };
    let lines: Vec<&str> = source.text.lines().collect();
    let start = (line as usize).saturating_sub(1);
    let Some(first) = lines.get(start) else {
        return String::new();
    };
    let indent = first.len() - first.trim_start().len();
    let mut out = String::new();
    for (i, l) in lines.iter().enumerate().skip(start) {
        let this = l.len() - l.trim_start().len();
        if i > start && !l.trim().is_empty() && this <= indent {
            break;
        }
        out.push_str(l.get(indent.min(l.len())..).unwrap_or(l));
        out.push('\n');
    }
    out.trim_end().to_owned() + "\n"
}

/// The tokio runtime, or the reason it could not start (said on stderr).
fn runtime(who: &str) -> Result<tokio::runtime::Runtime, ()> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| eprintln!("{who}: cannot start the runtime: {e}"))
}

/// Opens the store and binds the listener, or says why not on stderr.
async fn bind(who: &str, config: Config) -> Result<Server, ()> {
    Server::bind(config)
        .await
        .map_err(|e| eprintln!("{who}: {e}"))
}

/// Resolves on SIGINT or SIGTERM.
async fn stop_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
    }
}

/// `otwatch analyzer`.
pub(crate) fn run_analyzer(args: ServeArgs) -> ExitCode {
    let config = match build_config(&args, "otwatch-data", None) {
        Ok(c) => c,
        Err(errors) => return config_errors("otwatch analyzer", &errors),
    };
    let (_, rules) = match load_rules(args.rules.as_deref(), None) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{e}\notwatch analyzer: the rules have errors");
            return ExitCode::from(2);
        }
    };
    let Ok(rt) = runtime("otwatch analyzer") else {
        return ExitCode::from(1);
    };
    rt.block_on(async move {
        let Ok(server) = bind("otwatch analyzer", config).await else {
            return ExitCode::from(1);
        };
        server.analyzer().set_rules(rules);
        let who = "otwatch analyzer";
        eprintln!("{who}: serving {}", ui_address(who, &server, &args));
        match server
            .run(Some(otwatch_analyzer::ui::router()), stop_signal())
            .await
        {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("otwatch analyzer: {e}");
                ExitCode::from(1)
            }
        }
    })
}

fn config_errors(who: &str, errors: &[String]) -> ExitCode {
    for e in errors {
        eprintln!("{who}: config: {e}");
    }
    eprintln!(
        "{who}: {} configuration error(s); nothing started",
        errors.len()
    );
    ExitCode::from(2)
}

/// `otwatch run`: replays `pcaps` (default: the bundled demo plant) into an
/// in-process analyzer and serves the UI until SIGINT/SIGTERM; with `live`
/// (an interface and its capture options), listens on the interface instead
/// ([`serve_live`]).
pub(crate) fn run_all(
    args: ServeArgs,
    pcaps: Vec<PathBuf>,
    baseline: BaselineOpts,
    live: Option<(String, CaptureOpts)>,
) -> ExitCode {
    let mut args = args;
    if args.listen.is_none() && args.config.is_none() {
        args.listen = Some(SocketAddr::from(([127, 0, 0, 1], 8080)));
    }
    let (config, local_token) = match run_config(&args, live.is_some()) {
        Ok(c) => c,
        Err(errors) => return config_errors("otwatch run", &errors),
    };
    if let Err(code) = crate::given_overrides(WHO, args.overrides.as_deref()) {
        return code;
    }
    // `otwatch run` owns DATA/overrides.yaml, as it owns DATA/baseline.yaml:
    // the UI's "Do not alert" buttons write it.
    let overrides = args
        .overrides
        .clone()
        .unwrap_or_else(|| config.data_dir.join("overrides.yaml"));
    let (ruleset, rules) = match load_rules(args.rules.as_deref(), Some(&overrides)) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{e}\notwatch run: the rules (or the overrides) have errors");
            return ExitCode::from(2);
        }
    };
    args.overrides = Some(overrides);
    let baseline = baseline.owned_by_run(&config.data_dir);
    if let Some(path) = baseline
        .baseline
        .as_ref()
        .filter(|_| baseline.learn.is_none())
    {
        if let Err(e) = otwatch_rules::baseline::file::load(path) {
            eprintln!("{e}\n{WHO}: the baseline cannot be enforced");
            return ExitCode::from(2);
        }
    }
    if let Some((iface, opts)) = live {
        let live = match opts.config(&iface) {
            Ok(c) => c,
            Err(msg) => {
                eprintln!("{WHO}: {msg}");
                return ExitCode::from(2);
            }
        };
        // The capture opens (as root) before anything is served.
        let capture = match open_capture(WHO, &live) {
            Ok(c) => c,
            Err(code) => return code,
        };
        let local = (LOCAL_SENSOR, local_token);
        return serve_live(
            config,
            (ruleset, rules),
            &args,
            &baseline,
            local,
            live,
            capture,
        );
    }
    let pcaps = if pcaps.is_empty() {
        let demo = config.data_dir.join("demo.pcap");
        if let Err(e) = otwatch_analyzer::private_dir(&config.data_dir)
            .and_then(|()| std::fs::write(&demo, DEMO_PCAP))
        {
            eprintln!(
                "otwatch run: cannot write the demo capture to {}: {e}",
                demo.display()
            );
            return ExitCode::from(1);
        }
        vec![demo]
    } else {
        pcaps
    };
    // Replayed captures with --learn teach the baseline; without, a
    // --baseline is enforced on them.
    let learn = baseline
        .learn
        .map(|_| Arc::new(otwatch_sensor::learn::LearnShared::new()));
    let learn_path = baseline.baseline.clone().filter(|_| learn.is_some());
    let enforce = baseline.baseline.as_deref().filter(|_| learn.is_none());
    let enforcing = enforce.is_some();
    let ruleset = match crate::baseline::attach(ruleset, enforce) {
        Ok(set) => Arc::new(set),
        Err(e) => {
            eprintln!("{e}\n{WHO}: the baseline cannot be enforced");
            return ExitCode::from(2);
        }
    };
    let baseline_path = baseline.baseline.clone();
    let Ok(rt) = runtime("otwatch run") else {
        return ExitCode::from(1);
    };
    rt.block_on(async move {
        let Ok(server) = bind("otwatch run", config).await else {
            return ExitCode::from(1);
        };
        let analyzer = server.analyzer().clone();
        analyzer.set_rules(rules);
        // The replay is over before anyone accepts: an accepted deviation
        // is in the file for the next run.
        let state = match (&learn, enforcing) {
            (Some(_), _) => BaselineState::Learning {
                until: SystemTime::now(),
            },
            // The capture's alerts are from its own time: review them all.
            (None, true) => BaselineState::Enforcing {
                since: SystemTime::UNIX_EPOCH,
            },
            (None, false) => BaselineState::None,
        };
        if let Some(path) = &baseline_path {
            analyzer.set_baseline(Some(BaselineHook::new(path.clone(), || {
                Ok("saved; it is enforced from the next start".into())
            })));
        }
        analyzer.set_baseline_state(state);
        if let Some(path) = &args.overrides {
            analyzer.set_overrides(Some(OverridesHook::new(path.clone(), || {
                Ok("saved; applied from the next start (the capture was replayed already)".into())
            })));
        }
        let after_replay = analyzer.clone();
        let url = ui_address(WHO, &server, &args);
        let serving = tokio::spawn(server.run(Some(otwatch_analyzer::ui::router()), stop_signal()));
        // The sensor half: replay on a blocking thread, EVE lines into memory.
        let replayed = tokio::task::spawn_blocking(move || {
            let lines = MemoryLines::default();
            let filter = ship_filter();
            let offline = OfflineSensor::new(OfflineOptions {
                rules: ruleset,
                pipeline: crate::pipeline_config(),
                eve: Some((EveSink::new(Box::new(lines.clone())), filter)),
                ship: None,
                workers: 1,
                learn: learn.clone(),
            });
            let done = offline.replay(&pcaps, &mut |_, _, _| {});
            if let (Some(shared), Some(path)) = (&learn, &learn_path) {
                let sources: Vec<String> = pcaps.iter().map(|p| p.display().to_string()).collect();
                match crate::baseline::write_learned(WHO, shared, path, &sources) {
                    Ok(_) => after_replay.set_baseline_state(BaselineState::Enforcing {
                        since: SystemTime::now(),
                    }),
                    Err(e) => eprintln!("{WHO}: {e}"),
                }
            }
            (lines.take(), done.replay)
        })
        .await;
        let (lines, report) = match replayed {
            Ok(x) => x,
            Err(e) => {
                eprintln!("otwatch run: the sensor stopped: {e}");
                return ExitCode::from(1);
            }
        };
        if let Some(err) = &report.error {
            eprintln!("otwatch run: {err}");
        }
        let mut stored = 0u64;
        for batch in batches(&lines, BATCH_LINES) {
            match analyzer.ingest(&with_sensor(batch, LOCAL_SENSOR)).await {
                Ok(r) => stored += r.stored,
                Err(e) => eprintln!("otwatch run: ingest: {e}"),
            }
        }
        eprintln!(
            "otwatch run: {} packets, {} alerts ({} new in the store); serving {url} (Ctrl-C to stop)",
            report.stats.packets, report.stats.alerts, stored
        );
        match serving.await {
            Ok(Ok(())) => ExitCode::SUCCESS,
            Ok(Err(e)) => {
                eprintln!("otwatch run: {e}");
                ExitCode::from(1)
            }
            Err(e) => {
                eprintln!("otwatch run: {e}");
                ExitCode::from(1)
            }
        }
    })
}

/// `otwatch run --iface`: the analyzer on its listener, and live capture
/// (the same run as `otwatch sensor --iface`) shipping alerts, assets and
/// stats to it with the local token, until SIGINT/SIGTERM; then the capture
/// flushes into the analyzer, and only then does the analyzer stop. SIGHUP
/// reloads the rules of the sensor and of the UI's rule list.
fn serve_live(
    config: Config,
    (ruleset, infos): (Ruleset, Vec<RuleInfo>),
    args: &ServeArgs,
    baseline: &BaselineOpts,
    (sensor, token): (&str, String),
    live: LiveConfig,
    capture: Capture,
) -> ExitCode {
    let rules_path = args.rules.clone();
    let overrides_path = args.overrides.clone();
    let spool = config.data_dir.join("spool");
    let Ok(rt) = runtime(WHO) else {
        return ExitCode::from(1);
    };
    rt.block_on(async move {
        let Ok(server) = bind(WHO, config).await else {
            return ExitCode::from(1);
        };
        let analyzer = server.analyzer().clone();
        analyzer.set_rules(infos);
        let addr = server.local_addr();
        let url = ui_address(WHO, &server, args);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let serving = tokio::spawn(
            server.run(Some(otwatch_analyzer::ui::router()), async move {
                let _ = stopped.await;
            }),
        );
        eprintln!("{WHO}: serving {url} (Ctrl-C to stop)");
        // Accept in the UI saves the file, then asks the capture to reload
        // (as SIGHUP does).
        let reload_requested = Arc::new(AtomicBool::new(false));
        if let Some(path) = &baseline.baseline {
            let flag = reload_requested.clone();
            analyzer.set_baseline(Some(BaselineHook::new(path.clone(), move || {
                flag.store(true, Ordering::Release);
                Ok("saved; the sensor reloads it".into())
            })));
        }
        // So does a change of the overrides.
        if let Some(path) = &overrides_path {
            let flag = reload_requested.clone();
            analyzer.set_overrides(Some(OverridesHook::new(path.clone(), move || {
                flag.store(true, Ordering::Release);
                Ok("saved; the sensor reloads its rules".into())
            })));
        }
        let source = format!("interface {}", live.iface);
        let mut learning = baseline
            .learn
            .zip(baseline.baseline.clone())
            .map(|(duration, path)| LiveLearning::new(duration, path, source));
        analyzer.set_baseline_state(match (&learning, &baseline.baseline) {
            (Some(_), _) => BaselineState::Learning {
                until: SystemTime::now() + baseline.learn.unwrap_or_default(),
            },
            (None, Some(_)) => BaselineState::Enforcing {
                since: SystemTime::now(),
            },
            (None, None) => BaselineState::None,
        });
        if let Some(l) = &mut learning {
            let analyzer = analyzer.clone();
            l.on_enforced = Some(Box::new(move |_| {
                analyzer.set_baseline_state(BaselineState::Enforcing {
                    since: SystemTime::now(),
                })
            }));
        }
        let reload: Reload = Box::new(move || {
            let (set, infos) = load_rules(rules_path.as_deref(), overrides_path.as_deref())?;
            analyzer.set_rules(infos);
            Ok(set)
        });
        let job = LiveJob {
            who: WHO,
            config: live,
            rules: ruleset,
            baseline: baseline.baseline.clone(),
            learning,
            reload_requested: Some(reload_requested),
            reload,
            eve: None,
            ship: Some(ShipConfig::new(
                format!("http://{}", reachable(addr)),
                token,
                sensor,
                spool,
            )),
            user: None,
        };
        let code = match tokio::task::spawn_blocking(move || run_live(job, capture)).await {
            Ok(code) => code,
            Err(e) => {
                eprintln!("{WHO}: the sensor stopped: {e}");
                ExitCode::from(1)
            }
        };
        // Every line is delivered: the analyzer can stop.
        let _ = stop.send(());
        match serving.await {
            Ok(Ok(())) => code,
            Ok(Err(e)) => {
                eprintln!("{WHO}: {e}");
                ExitCode::from(1)
            }
            Err(e) => {
                eprintln!("{WHO}: {e}");
                ExitCode::from(1)
            }
        }
    })
}

/// The configuration of `otwatch run` and the ingest token of its own live
/// sensor: made at random now, never a constant, and accepted when the
/// sensor ships over HTTP (`live`) or when no other ingest token is
/// configured; a replay is handed to the analyzer in process and needs none.
fn run_config(args: &ServeArgs, live: bool) -> Result<(Config, String), Vec<String>> {
    let local = otwatch_analyzer::auth::random_token()
        .map_err(|e| vec![format!("no random source for the local token: {e}")])?;
    let config = build_config(args, "otwatch-data", Some((local.as_str(), live)))?;
    Ok((config, local))
}

/// Where the UI is: a login link (`http://HOST:PORT/?token=…`) when the API
/// token is the data directory's, whose file only this user can read; the
/// bare address when the operator gave the token (it is not echoed).
fn ui_address(who: &str, server: &Server, args: &ServeArgs) -> String {
    use otwatch_analyzer::auth::{TokenSource, TOKEN_ENV, TOKEN_FILE};
    let a = server.analyzer();
    let base = format!("http://{}/", reachable(server.local_addr()));
    let file = a.config().data_dir.join(TOKEN_FILE);
    let from = match a.api_token_source() {
        TokenSource::Config if args.api_token.is_some() => "--api-token",
        TokenSource::Config => "the config's api_token",
        TokenSource::Environment => TOKEN_ENV,
        TokenSource::Generated => {
            eprintln!("{who}: made an API token, kept in {}", file.display());
            return format!("{base}?token={}", a.api_token());
        }
        TokenSource::File => return format!("{base}?token={}", a.api_token()),
    };
    format!("{base} (log in with the API token of {from})")
}

/// The address a client on this host uses to reach a listener on `addr`
/// (loopback for a wildcard listener).
fn reachable(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::from((Ipv4Addr::LOCALHOST, addr.port()))
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::from((Ipv6Addr::LOCALHOST, addr.port()))
        }
        _ => addr,
    }
}

/// Splits EVE output into batches of at most `n` lines.
fn batches(text: &[u8], n: usize) -> impl Iterator<Item = &[u8]> {
    let mut rest = text;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let mut end = 0;
        for _ in 0..n {
            match rest[end..].iter().position(|&b| b == b'\n') {
                Some(i) => end += i + 1,
                None => {
                    end = rest.len();
                    break;
                }
            }
            if end >= rest.len() {
                break;
            }
        }
        let (batch, after) = rest.split_at(end);
        rest = after;
        Some(batch)
    })
}

/// Adds `"sensor":"<name>"` to every line (as the shipping client does).
fn with_sensor(batch: &[u8], name: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(batch.len() + 32 * 64);
    for line in batch.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        if line.first() == Some(&b'{') && line.len() > 1 {
            out.extend_from_slice(b"{\"sensor\":\"");
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b"\",");
            out.extend_from_slice(&line[1..]);
        } else {
            out.extend_from_slice(line);
        }
        out.push(b'\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard_listeners_are_reached_on_loopback() {
        let v4: SocketAddr = "0.0.0.0:8080".parse().expect("addr");
        let v6: SocketAddr = "[::]:8080".parse().expect("addr");
        let set: SocketAddr = "10.0.0.5:8080".parse().expect("addr");
        assert_eq!(reachable(v4).to_string(), "127.0.0.1:8080");
        assert_eq!(reachable(v6).to_string(), "[::1]:8080");
        assert_eq!(reachable(set), set);
    }

    #[test]
    fn batches_split_on_line_boundaries() {
        let text = b"a\nb\nc\nd\ne";
        let got: Vec<&[u8]> = batches(text, 2).collect();
        assert_eq!(got, vec![&b"a\nb\n"[..], b"c\nd\n", b"e"]);
    }

    #[test]
    fn sensor_name_is_added_to_each_line() {
        assert_eq!(
            with_sensor(b"{\"a\":1}\n{\"b\":2}\n", "s1"),
            b"{\"sensor\":\"s1\",\"a\":1}\n{\"sensor\":\"s1\",\"b\":2}\n"
        );
    }

    /// The status of one request to `addr` (plain HTTP/1.1, no client crate).
    fn status(addr: SocketAddr, method: &str, path: &str, token: &str, body: &str) -> u16 {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(addr).expect("connect");
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
             Authorization: Bearer {token}\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .expect("send");
        let mut reply = String::new();
        s.read_to_string(&mut reply).expect("reply");
        reply
            .split(' ')
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0)
    }

    #[test]
    fn run_with_its_own_tokens_accepts_no_built_in_one() {
        let dir = tempfile::tempdir().expect("tmp");
        let cfg = dir.path().join("analyzer.yaml");
        std::fs::write(
            &cfg,
            format!(
                "data_dir: {}\ningest_tokens: [configured-sensor-token]\napi_token: configured-api-token\n",
                dir.path().join("data").display()
            ),
        )
        .expect("config");
        let args = ServeArgs {
            listen: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
            data: None,
            config: Some(cfg),
            rules: None,
            overrides: None,
            token: None,
            api_token: None,
        };
        // Live: the configured token and one made at random for this start.
        let (live, local) = run_config(&args, true).expect("config");
        assert_eq!(
            live.ingest_tokens,
            ["configured-sensor-token", local.as_str()]
        );
        assert_eq!(local.len(), 64, "32 random bytes in hex");
        let (_, again) = run_config(&args, true).expect("config");
        assert_ne!(local, again, "a new token at each start");
        // Replay goes in process: only the configured token.
        let (replay, _) = run_config(&args, false).expect("config");
        assert_eq!(replay.ingest_tokens, ["configured-sensor-token"]);
        // A config without ingest tokens gets the random one only.
        let bare = dir.path().join("bare.yaml");
        std::fs::write(&bare, "data_dir: /nonexistent\ningest_tokens: []\n").expect("config");
        let bare_args = ServeArgs {
            config: Some(bare),
            listen: None,
            data: None,
            rules: None,
            overrides: None,
            token: None,
            api_token: None,
        };
        let (c, t) = run_config(&bare_args, false).expect("config");
        assert_eq!(c.ingest_tokens, [t]);

        let rt = tokio::runtime::Runtime::new().expect("runtime");
        let server = rt.block_on(Server::bind(live)).expect("bind");
        let addr = server.local_addr();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let serving = rt.spawn(server.run(None, async move {
            let _ = stopped.await;
        }));
        let line = r#"{"timestamp":"2026-11-28T18:00:00.000000+0000","event_type":"alert","src_ip":"10.0.0.9","src_port":1,"dest_ip":"10.0.0.1","dest_port":502,"proto":"TCP","app_proto":"modbus","alert":{"signature_id":1,"rev":1,"signature":"forged","category":"x","severity":1},"alert_id":"forged-1","sensor":"x"}"#;
        // The token `otwatch run` used to accept from anyone opens nothing.
        let old = "otwatch-run-local-sensor";
        assert_eq!(status(addr, "POST", "/api/v1/ingest", old, line), 401);
        assert_eq!(status(addr, "PUT", "/api/v1/rules", old, "[]"), 401);
        assert_eq!(status(addr, "GET", "/api/v1/alerts", old, ""), 401);
        // The random one ingests and reports rules, and reads nothing.
        assert_eq!(status(addr, "POST", "/api/v1/ingest", &local, line), 200);
        assert_eq!(status(addr, "GET", "/api/v1/alerts", &local, ""), 403);
        assert_eq!(status(addr, "GET", "/api/v1/alerts", &again, ""), 401);
        assert_eq!(
            status(addr, "GET", "/api/v1/alerts", "configured-api-token", ""),
            200
        );
        let _ = stop.send(());
        rt.block_on(serving).expect("join").expect("served");
    }

    #[test]
    fn rule_yaml_is_cut_from_its_file() {
        let sources = bundled_sources();
        let set = Ruleset::from_sources(&sources).expect("bundled rules");
        let first = set.rules().next().expect("a rule");
        let yaml = rule_yaml(&sources, &first.file, first.line);
        assert!(yaml.starts_with(&format!("- id: {}", first.id)), "{yaml}");
        assert!(yaml.contains("match:"), "{yaml}");
        assert!(!yaml.contains(&format!("- id: {}", first.id + 1)), "{yaml}");
    }
}
