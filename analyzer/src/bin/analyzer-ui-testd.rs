//! Test daemon for the browser tests of the web UI (`scripts/test-ui.sh`):
//! `analyzer-ui-testd CONFIG.yaml` is `analyzer-testd` with the embedded UI
//! (`otwatch_analyzer::ui`) as the router's fallback. It serves until SIGTERM
//! or SIGINT and prints `listening ADDR` on stdout once the socket is bound.

#![forbid(unsafe_code)]

use std::io::Write;

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: analyzer-ui-testd CONFIG.yaml");
        std::process::exit(2);
    };
    let config = match otwatch_analyzer::Config::load(std::path::Path::new(&path)) {
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
            .run(Some(otwatch_analyzer::ui::router()), async {
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
