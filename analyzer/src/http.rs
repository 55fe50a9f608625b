//! The HTTP/1.1 server under the routes: at most `http.max_connections`
//! connections at once (the next clients wait in the kernel's accept queue),
//! at most `http.max_connections_per_host` of them from one address (further
//! ones from it are closed at once, so that one host holding connections open
//! cannot lock the others out), and a connection that does not send a request's headers within
//! `http.header_timeout` — counted from its start, or from the end of its
//! previous answer, so an idle keep-alive connection too — is closed. A live
//! stream is an answer in progress: it stays open.
//!
//! On shutdown the listener closes, idle connections close at once, and
//! answers in progress get [`DRAIN`] to finish.

use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};

use crate::config::HttpConfig;

/// How long shutdown waits for answers in progress.
const DRAIN: Duration = Duration::from_secs(30);

/// Whether an accept error concerns only the one connection (the next
/// accept may succeed at once).
fn one_connection(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset | Interrupted
    )
}

/// Connections open per client address.
#[derive(Clone, Default)]
struct PerHost(Arc<Mutex<HashMap<IpAddr, usize>>>);

/// One connection counted in [`PerHost`] until dropped.
struct HostSlot {
    hosts: PerHost,
    ip: IpAddr,
}

impl PerHost {
    /// Counts a connection from `ip`, or `None` when it holds `max` already.
    fn take(&self, ip: IpAddr, max: usize) -> Option<HostSlot> {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let n = map.entry(ip).or_insert(0);
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(HostSlot {
            hosts: self.clone(),
            ip,
        })
    }
}

impl Drop for HostSlot {
    fn drop(&mut self) {
        let mut map = self.hosts.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = map.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.ip);
            }
        }
    }
}

/// Resolves once `stop` holds `true` (the guard `wait_for` returns is not
/// kept: it may not be held across an await of a task that moves threads).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// Serves `app` on `listener` until `shutdown` resolves.
pub(crate) async fn serve(
    listener: TcpListener,
    app: axum::Router,
    limits: &HttpConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let max = limits.max_connections.clamp(1, 65_536);
    let slots = Arc::new(Semaphore::new(max));
    let header_timeout = limits.header_timeout.0;
    let per_host = limits.max_connections_per_host.clamp(1, max);
    let hosts = PerHost::default();
    let mut warned_host: Option<IpAddr> = None;
    let (stop_tx, mut stop) = watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        stop_tx.send_replace(true);
    });
    let mut warned_full = false;
    loop {
        if slots.available_permits() == 0 && !warned_full {
            warned_full = true;
            tracing::warn!("{max} HTTP connections open (http.max_connections): new ones wait");
        }
        let slot = tokio::select! {
            s = slots.clone().acquire_owned() => match s {
                Ok(s) => s,
                Err(_) => break,
            },
            _ = stopped(&mut stop) => break,
        };
        let tcp = tokio::select! {
            r = listener.accept() => match r {
                Ok((tcp, peer)) => (tcp, peer.ip()),
                Err(e) if one_connection(&e) => continue,
                Err(e) => {
                    // Out of file descriptors, most likely: wait for some to close.
                    tracing::error!("accepting an HTTP connection: {e}");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    continue;
                }
            },
            _ = stopped(&mut stop) => break,
        };
        let (tcp, ip) = tcp;
        let Some(host_slot) = hosts.take(ip, per_host) else {
            if warned_host != Some(ip) {
                warned_host = Some(ip);
                tracing::warn!(
                    "{ip} holds {per_host} HTTP connections (http.max_connections_per_host): closing its new ones"
                );
            }
            drop(tcp);
            continue;
        };
        if slots.available_permits() > max / 2 {
            warned_full = false;
        }
        let _ = tcp.set_nodelay(true);
        let service = TowerToHyperService::new(app.clone());
        let mut stop = stop.clone();
        tokio::spawn(async move {
            let _slot = slot;
            let _host_slot = host_slot;
            let mut builder = http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout)
                .keep_alive(true);
            let conn = builder.serve_connection(TokioIo::new(tcp), service);
            tokio::pin!(conn);
            tokio::select! {
                r = conn.as_mut() => {
                    if let Err(e) = r {
                        tracing::debug!("HTTP connection: {e}");
                    }
                    return;
                }
                _ = stopped(&mut stop) => conn.as_mut().graceful_shutdown(),
            }
            if let Err(e) = conn.await {
                tracing::debug!("HTTP connection at shutdown: {e}");
            }
        });
    }
    drop(listener);
    let all = u32::try_from(max).unwrap_or(u32::MAX);
    if tokio::time::timeout(DRAIN, slots.acquire_many(all))
        .await
        .is_err()
    {
        tracing::warn!(
            "HTTP: {} connection(s) still busy after {DRAIN:?}; closing them",
            max - slots.available_permits()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_send<T: Send>(_: &T) {}

    #[test]
    fn the_server_can_run_on_a_spawned_task() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            let limits = HttpConfig::default();
            let served = serve(listener, axum::Router::new(), &limits, async {});
            // `tokio::spawn` (as `otwatch run` does) needs this.
            is_send(&served);
        });
    }
}
