//! The process log: every `tracing` event of the sensor and the analyzer
//! (export and shipping failures, HTTP errors, reloads) goes to standard
//! error with its time (UTC, RFC 3339), level and target, as text for a
//! person or as one JSON object per line for a log collector.
//!
//! Which events are written: `--log-level`, else `RUST_LOG`, else `info`.
//! Both take a level (`error`, `warn`, `info`, `debug`, `trace`) or
//! per-target directives (`warn,otwatch_analyzer::export=debug`).

use std::str::FromStr;

use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum LogFormat {
    /// `2026-12-04T10:00:00.123456Z  WARN otwatch_analyzer::export: …`
    Human,
    /// `{"timestamp":"…","level":"WARN","target":"…","fields":{"message":"…"}}`
    Json,
}

/// Parses `--log-level` / `RUST_LOG` directives.
pub(crate) fn parse_filter(s: &str) -> Result<Targets, String> {
    Targets::from_str(s.trim()).map_err(|e| format!("`{s}`: {e}"))
}

/// Installs the subscriber. A `RUST_LOG` that does not parse is reported on
/// the log itself and `info` used instead.
pub(crate) fn init(format: LogFormat, level: Option<Targets>) {
    let mut bad_env = None;
    let filter = level.unwrap_or_else(|| match std::env::var("RUST_LOG") {
        Ok(v) if !v.trim().is_empty() => parse_filter(&v).unwrap_or_else(|e| {
            bad_env = Some(e);
            default_filter()
        }),
        _ => default_filter(),
    });
    let ansi = format == LogFormat::Human && std::io::IsTerminal::is_terminal(&std::io::stderr());
    let base = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(ansi);
    let result = match format {
        LogFormat::Human => tracing_subscriber::registry()
            .with(base.with_filter(filter))
            .try_init(),
        LogFormat::Json => tracing_subscriber::registry()
            .with(base.json().with_filter(filter))
            .try_init(),
    };
    if result.is_ok() {
        if let Some(e) = bad_env {
            tracing::warn!("RUST_LOG {e}; logging at info");
        }
    }
}

fn default_filter() -> Targets {
    Targets::new().with_default(tracing::Level::INFO)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_parse_levels_and_targets_and_refuse_nonsense() {
        assert!(parse_filter("warn").is_ok());
        assert!(parse_filter("info,otwatch_analyzer::export=debug").is_ok());
        assert!(parse_filter("otwatch=loud").is_err());
        assert!(parse_filter("a=b=c").is_err());
    }
}
