//! `otwatch generate`: writes a deterministic capture of mixed plant traffic
//! (see `otwatch_sensor::plant`) and prints a one-line summary.

use std::fs::File;
use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use otwatch_sensor::plant::{generate, PlantConfig};

/// Options of `otwatch generate`.
#[derive(clap::Args, Debug)]
pub(crate) struct GenerateArgs {
    /// Where to write the capture (classic pcap, Ethernet, microsecond
    /// timestamps), or `-` for standard output.
    #[arg(short = 'o', long = "output", value_name = "FILE|-")]
    output: String,
    /// Seed of every random choice: the same seed and options give the same
    /// bytes.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Frames to write.
    #[arg(long, default_value_t = 3_000_000)]
    packets: u64,
    /// Extra long-lived Modbus connections, all open at the same time
    /// (distinct clients; opened early, a few transactions each).
    #[arg(long, value_name = "N", default_value_t = 0)]
    concurrent_flows: u32,
    /// Inject attacks spread through the capture.
    #[arg(long)]
    attacks: bool,
    /// Write the ground truth of the attacks as JSON lines to this file.
    #[arg(long, value_name = "FILE", requires = "attacks")]
    truth: Option<PathBuf>,
    /// Which day of the plant: the same hosts, connections and addresses,
    /// 24 h later per day, with that day's own timing and values (to learn
    /// a baseline on one day and check it on the next).
    #[arg(long, default_value_t = 0)]
    day: u32,
}

/// Runs `otwatch generate`.
pub(crate) fn run(args: GenerateArgs) -> ExitCode {
    let config = PlantConfig {
        seed: args.seed,
        packets: args.packets,
        concurrent_flows: args.concurrent_flows,
        attacks: args.attacks,
        day: args.day,
    };
    let mut truth_file = match &args.truth {
        Some(path) => match File::create(path) {
            Ok(f) => Some(io::BufWriter::new(f)),
            Err(e) => {
                eprintln!("otwatch generate: cannot create {}: {e}", path.display());
                return ExitCode::FAILURE;
            }
        },
        None => None,
    };
    let truth = truth_file.as_mut().map(|w| w as &mut dyn Write);
    let result = if args.output == "-" {
        generate(&config, io::stdout().lock(), truth)
    } else {
        match File::create(&args.output) {
            Ok(f) => generate(&config, f, truth),
            Err(e) => {
                eprintln!("otwatch generate: cannot create {}: {e}", args.output);
                return ExitCode::FAILURE;
            }
        }
    };
    let report = match result {
        Ok(r) => r,
        Err(e) => {
            eprintln!("otwatch generate: cannot write {}: {e}", args.output);
            return ExitCode::FAILURE;
        }
    };
    if let Some(mut w) = truth_file {
        if let Err(e) = w.flush() {
            eprintln!("otwatch generate: cannot write the ground truth: {e}");
            return ExitCode::FAILURE;
        }
    }
    eprintln!("{}", report.summary());
    ExitCode::SUCCESS
}
