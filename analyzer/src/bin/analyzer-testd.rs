//! Test daemon: `analyzer-testd [--ui] [--baseline FILE] CONFIG.yaml`
//! validates the config,
//! serves until SIGTERM or SIGINT, and prints `listening ADDR` on stdout once
//! the socket is bound. The durability and export tests start it plain; the
//! browser tests of the web UI (`scripts/test-ui.sh`) with `--ui`, which puts
//! the embedded UI (`otwatch_analyzer::ui`) behind the API as the router's
//! fallback. Credentials are the analyzer's: without `api_token` in the
//! config (or `OTWATCH_API_TOKEN`), the API token is the data directory's
//! `api-token` file, made at first start. `--baseline FILE` sets FILE as the
//! baseline under review, enforced since the start; its reload reads the
//! file back and prints `reloaded N servers` on stdout (the browser test of
//! the Baseline page).

#![forbid(unsafe_code)]

use std::io::Write;

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let ui = args.first().is_some_and(|a| a == "--ui");
    if ui {
        args.remove(0);
    }
    let mut baseline = None;
    if args.first().is_some_and(|a| a == "--baseline") && args.len() > 1 {
        args.remove(0);
        baseline = Some(std::path::PathBuf::from(args.remove(0)));
    }
    let [path] = args.as_slice() else {
        eprintln!("usage: analyzer-testd [--ui] [--baseline FILE] CONFIG.yaml");
        std::process::exit(2);
    };
    let config = match otwatch_analyzer::Config::load(std::path::Path::new(path)) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    let result = rt.block_on(async {
        let server = otwatch_analyzer::Server::bind(config).await?;
        if let Some(file) = baseline {
            enforce(server.analyzer(), file);
        }
        println!("listening {}", server.local_addr());
        let _ = std::io::stdout().flush();
        server
            .run(ui.then(otwatch_analyzer::ui::router), async {
                let Ok(mut term) =
                    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                else {
                    return std::future::pending().await;
                };
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            })
            .await
    });
    if let Err(e) = result {
        eprintln!("{e}");
        std::process::exit(1);
    }
}

/// Sets `file` as the baseline under review, enforced from now on.
fn enforce(analyzer: &otwatch_analyzer::Analyzer, file: std::path::PathBuf) {
    let reloaded = file.clone();
    analyzer.set_baseline(Some(otwatch_analyzer::BaselineHook::new(file, move || {
        let b = otwatch_rules::baseline::file::load(&reloaded).map_err(|e| e.to_string())?;
        let line = format!("reloaded {} servers", b.servers().count());
        println!("{line}");
        let _ = std::io::stdout().flush();
        Ok(line)
    })));
    analyzer.set_baseline_state(otwatch_analyzer::BaselineState::Enforcing {
        since: std::time::SystemTime::now(),
    });
}
