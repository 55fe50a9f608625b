//! Test daemon for the durability and export tests: `analyzer-testd CONFIG.yaml`
//! validates the config, serves until SIGTERM or SIGINT, and prints
//! `listening ADDR` on stdout once the socket is bound.

#![forbid(unsafe_code)]

use std::io::Write;

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: analyzer-testd CONFIG.yaml");
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
            .run(None, async {
                let mut term =
                    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    {
                        Ok(s) => s,
                        Err(_) => return std::future::pending().await,
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
