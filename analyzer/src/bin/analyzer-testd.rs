//! Test daemon: `analyzer-testd [--ui] CONFIG.yaml` validates the config,
//! serves until SIGTERM or SIGINT, and prints `listening ADDR` on stdout once
//! the socket is bound. The durability and export tests start it plain; the
//! browser tests of the web UI (`scripts/test-ui.sh`) with `--ui`, which puts
//! the embedded UI (`otwatch_analyzer::ui`) behind the API as the router's
//! fallback. Credentials are the analyzer's: without `api_token` in the
//! config (or `OTWATCH_API_TOKEN`), the API token is the data directory's
//! `api-token` file, made at first start.

#![forbid(unsafe_code)]

use std::io::Write;

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let ui = args.first().is_some_and(|a| a == "--ui");
    if ui {
        args.remove(0);
    }
    let [path] = args.as_slice() else {
        eprintln!("usage: analyzer-testd [--ui] CONFIG.yaml");
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
