//! `otwatch`: the one command-line entry point (replay today; sensor,
//! analyzer and rules commands join it as they land).

use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use otwatch_sensor::eve::{EventFilter, EveWriter};
use otwatch_sensor::pipeline::PipelineConfig;
use otwatch_sensor::replay::{replay_to_eve, ReplayReport};

/// Passive intrusion detection for industrial control networks.
#[derive(Parser)]
#[command(name = "otwatch", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Analyse capture files offline and write EVE JSON lines.
    Replay {
        /// Where to write EVE JSON lines: a file, or `-` for standard output.
        /// Without it only the summary is printed.
        #[arg(long, value_name = "FILE|-")]
        eve: Option<String>,
        /// Event types to write, comma-separated:
        /// alert,modbus,s7comm,dnp3,flow,anomaly,stats (default: all).
        #[arg(long, value_name = "LIST")]
        events: Option<String>,
        /// Capture files (pcap or pcapng), processed in order as one stream.
        #[arg(required = true, value_name = "PCAP")]
        pcaps: Vec<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Replay { eve, events, pcaps } => run_replay(eve, events, pcaps),
    }
}

fn run_replay(eve: Option<String>, events: Option<String>, pcaps: Vec<PathBuf>) -> ExitCode {
    let filter = match events.as_deref().map(EventFilter::parse).transpose() {
        Ok(f) => f.unwrap_or_else(EventFilter::all),
        Err(msg) => {
            eprintln!("otwatch replay: {msg}");
            return ExitCode::from(2);
        }
    };
    let sink: Box<dyn Write> = match eve.as_deref() {
        None => Box::new(io::sink()),
        Some("-") => Box::new(io::stdout().lock()),
        Some(path) => match std::fs::File::create(path) {
            Ok(f) => Box::new(f),
            Err(e) => {
                eprintln!("otwatch replay: cannot create {path}: {e}");
                return ExitCode::from(2);
            }
        },
    };
    let writer = EveWriter::new(BufWriter::with_capacity(1 << 16, sink), filter);
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
    let (mut writer, report) = replay_to_eve(&pcaps, PipelineConfig::default(), writer, &mut progress);
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let write_result = writer.finish();
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

fn print_summary(report: &ReplayReport) {
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
        let _ = writeln!(err, "warning: {n} frames of link type {link} skipped (not decoded by otwatch)");
    }
    let _ = writeln!(err, "anomalies    {}", s.anomaly_total());
    for ((proto, name), n) in &s.anomalies {
        let _ = writeln!(err, "  {proto}.{name:<40} {n}");
    }
    let _ = writeln!(err, "alerts       {}", s.alerts);
    let _ = writeln!(
        err,
        "elapsed      {:.3} s ({:.0} packets/s)",
        report.elapsed.as_secs_f64(),
        report.packets_per_sec()
    );
}
