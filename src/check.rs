//! `otwatch config check`: everything a start would load, checked without
//! starting (as `suricata -T` does): the analyzer's configuration file, the
//! rules, an overrides file and a baseline, each error listed.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use otwatch_analyzer::config::Config;

/// Where `otwatch analyzer` looks for its configuration without `--config`.
pub(crate) const DEFAULT_CONFIG: &str = "/etc/otwatch/otwatch.yaml";

/// The configuration file to use without `--config`: `OTWATCH_CONFIG` when
/// set, else [`DEFAULT_CONFIG`] when it exists.
pub(crate) fn default_config() -> Option<PathBuf> {
    match std::env::var_os("OTWATCH_CONFIG") {
        Some(p) if !p.is_empty() => Some(PathBuf::from(p)),
        _ => Some(PathBuf::from(DEFAULT_CONFIG)).filter(|p| p.is_file()),
    }
}

/// What `otwatch config check` is asked to check.
pub(crate) struct CheckArgs {
    pub(crate) config: Option<PathBuf>,
    pub(crate) rules: Option<PathBuf>,
    pub(crate) overrides: Option<PathBuf>,
    pub(crate) baseline: Option<PathBuf>,
}

/// Checks each part, says what it found, and exits 0 only when all are good.
pub(crate) fn run(args: CheckArgs) -> ExitCode {
    let mut failed = 0usize;
    match args.config.or_else(default_config) {
        None => println!(
            "configuration: no file (--config, OTWATCH_CONFIG or {DEFAULT_CONFIG}); the analyzer's defaults apply"
        ),
        Some(path) => failed += check_config(&path),
    }
    match crate::load_rules(args.rules.as_deref(), None) {
        Ok(set) => {
            let from = args
                .rules
                .as_deref()
                .map_or("the bundled ruleset".to_string(), |p| {
                    p.display().to_string()
                });
            println!("rules: {from}: {} rules OK", set.len());
            if let Some(path) = &args.overrides {
                let checked = otwatch_rules::overrides::load(path)
                    .and_then(|o| set.with_overrides(&o).map(|_| o));
                match checked {
                    Ok(o) => println!(
                        "overrides: {}: OK ({} suppressions)",
                        path.display(),
                        o.suppress.len()
                    ),
                    Err(errors) => {
                        eprintln!("{errors}");
                        println!("overrides: {}: {} error(s)", path.display(), errors.len());
                        failed += 1;
                    }
                }
            }
        }
        Err(errors) => {
            eprintln!("{errors}");
            println!("rules: {} error(s)", errors.len());
            failed += 1;
        }
    }
    if let Some(path) = &args.baseline {
        match otwatch_rules::baseline::file::load(path) {
            Ok(b) => println!(
                "baseline: {}: OK ({} servers, {} client/server pairs)",
                path.display(),
                b.servers().count(),
                b.pairs()
            ),
            Err(errors) => {
                eprintln!("{errors}");
                println!("baseline: {}: {} error(s)", path.display(), errors.len());
                failed += 1;
            }
        }
    }
    if failed == 0 {
        println!("configuration OK");
        ExitCode::SUCCESS
    } else {
        println!("configuration has errors in {failed} part(s)");
        ExitCode::from(1)
    }
}

/// The analyzer's file: parsed and validated, every error said. 1 on errors.
fn check_config(path: &Path) -> usize {
    let config = match Config::load(path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            println!("configuration: {}: does not load", path.display());
            return 1;
        }
    };
    match config.validate() {
        Ok(()) => {
            println!(
                "configuration: {}: OK (listen {}, data {}, {} syslog export(s){})",
                path.display(),
                config.listen,
                config.data_dir.display(),
                config.exports.syslog.len(),
                if config.exports.eve_file.is_some() {
                    ", an EVE file export"
                } else {
                    ""
                }
            );
            0
        }
        Err(errors) => {
            for e in &errors {
                eprintln!("{}: {e}", path.display());
            }
            println!(
                "configuration: {}: {} error(s)",
                path.display(),
                errors.len()
            );
            1
        }
    }
}
