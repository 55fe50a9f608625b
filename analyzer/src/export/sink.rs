//! Where exported alerts go: syslog transports and the EVE file.
//!
//! What counts as delivered, per transport:
//! - UDP: handed to the kernel (no acknowledgement exists);
//! - TCP and TLS: every byte of the batch acknowledged by the receiver's TCP
//!   (the send queue drained, [`super::outq`]) on a connection the receiver
//!   had not closed. A connection is checked for a close or a reset before
//!   each batch and after it; one that fails is aborted, so that what it
//!   still held is not delivered later as well, and the batch is sent again
//!   on a new one. A receiver that vanishes without a reset is noticed by
//!   keepalive and the TCP user timeout;
//! - RELP: each message answered `200` by the receiver; the answered prefix
//!   of a batch is delivered even when the rest fails.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls;

use crate::config::{
    facility_code, EveFileConfig, Format, Framing, SyslogConfig, Transport, SYSTEM_CA_BUNDLES,
};
use crate::record::RecordView;

use super::{format, outq, relp};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the receiver's TCP may take to acknowledge a written batch.
const ACK_TIMEOUT: Duration = Duration::from_secs(10);
/// Unacknowledged data older than this aborts the connection (TCP_USER_TIMEOUT).
const USER_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a new TCP or TLS connection is watched before the first batch:
/// a receiver that refuses the sender (an allowed-senders list, a client
/// certificate it does not accept, which TLS 1.3 only reports after the
/// handshake) closes it within this time, and nothing is lost to it.
const PROBATION: Duration = Duration::from_millis(500);

pub(crate) enum Conn {
    Udp(UdpSocket),
    Tcp(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
    Relp(Box<relp::Session>),
}

/// What a send achieved: how many alerts of the batch, from the first,
/// were delivered, and why the others were not.
#[derive(Debug)]
pub(crate) struct Delivery {
    pub(crate) delivered: usize,
    pub(crate) error: Option<String>,
}

impl Delivery {
    fn all(batch: &[(u64, Vec<u8>)]) -> Delivery {
        Delivery {
            delivered: batch.len(),
            error: None,
        }
    }

    fn none(error: String) -> Delivery {
        Delivery {
            delivered: 0,
            error: Some(error),
        }
    }
}

/// An export destination.
pub(crate) enum Sink {
    Syslog {
        cfg: SyslogConfig,
        facility: u8,
        conn: Option<Conn>,
        tls: Option<Arc<rustls::ClientConfig>>,
    },
    EveFile {
        cfg: EveFileConfig,
        file: Option<(tokio::fs::File, u64)>,
    },
}

fn tls_config(cfg: &SyslogConfig) -> Result<Arc<rustls::ClientConfig>, String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let bundle: &Path = match &cfg.ca_file {
        Some(p) => p,
        None => SYSTEM_CA_BUNDLES
            .iter()
            .map(Path::new)
            .find(|p| p.is_file())
            .ok_or("no system CA store found: set ca_file")?,
    };
    let shown = |e: &dyn std::fmt::Display| format!("{}: {e}", bundle.display());
    let certs = CertificateDer::pem_file_iter(bundle)
        .map_err(|e| shown(&e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| shown(&e))?;
    let mut roots = rustls::RootCertStore::empty();
    let (added, _unusable) = roots.add_parsable_certificates(certs);
    if added == 0 {
        return Err(shown(&"no usable CA certificate"));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots);
    let c = match (&cfg.cert_file, &cfg.key_file) {
        (Some(cert), Some(key)) => {
            let chain = CertificateDer::pem_file_iter(cert)
                .map_err(|e| format!("{}: {e}", cert.display()))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("{}: {e}", cert.display()))?;
            let key =
                PrivateKeyDer::from_pem_file(key).map_err(|e| format!("{}: {e}", key.display()))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| format!("client certificate: {e}"))?
        }
        _ => builder.with_no_client_auth(),
    };
    Ok(Arc::new(c))
}

impl Sink {
    pub(crate) fn syslog(cfg: SyslogConfig) -> Sink {
        let facility = facility_code(&cfg.facility).unwrap_or(16);
        Sink::Syslog {
            cfg,
            facility,
            conn: None,
            tls: None,
        }
    }

    pub(crate) fn eve_file(cfg: EveFileConfig) -> Sink {
        Sink::EveFile { cfg, file: None }
    }

    /// Hands over a batch; what was not delivered is sent again later.
    pub(crate) async fn send(&mut self, batch: &[(u64, Vec<u8>)]) -> Delivery {
        match self {
            Sink::Syslog {
                cfg,
                facility,
                conn,
                tls,
            } => {
                let d = send_syslog(cfg, *facility, conn, tls, batch).await;
                if d.error.is_some() {
                    if let Some(c) = conn.take() {
                        abort(c);
                    }
                }
                d
            }
            Sink::EveFile { cfg, file } => {
                let d = write_eve(cfg, file, batch).await;
                if d.error.is_some() {
                    *file = None;
                }
                d
            }
        }
    }

    pub(crate) async fn close(&mut self) {
        match self {
            Sink::Syslog { conn, .. } => match conn.take() {
                Some(Conn::Tcp(mut s)) => {
                    let _ = s.shutdown().await;
                }
                Some(Conn::Tls(mut s)) => {
                    let _ = s.shutdown().await;
                }
                Some(Conn::Relp(mut s)) => s.close(CONNECT_TIMEOUT).await,
                _ => {}
            },
            Sink::EveFile { file, .. } => {
                if let Some((mut f, _)) = file.take() {
                    let _ = f.flush().await;
                    let _ = f.sync_data().await;
                }
            }
        }
    }
}

/// Drops a connection that failed with an abortive close (RST), so that the
/// kernel discards what it still held instead of delivering it after the
/// batch was already queued again.
fn abort(c: Conn) {
    let tcp: Option<&TcpStream> = match &c {
        Conn::Tcp(s) => Some(s),
        Conn::Tls(s) => Some(s.get_ref().0),
        Conn::Relp(s) => Some(s.stream()),
        Conn::Udp(_) => None,
    };
    if let Some(s) = tcp {
        let _ = socket2::SockRef::from(s).set_linger(Some(Duration::ZERO));
    }
}

/// Keepalive and a TCP user timeout, so that a receiver that disappeared
/// without a word (power, cable, firewall) fails the connection.
fn tune(s: &TcpStream) {
    let _ = s.set_nodelay(true);
    let sock = socket2::SockRef::from(s);
    let keepalive = socket2::TcpKeepalive::new()
        .with_time(Duration::from_secs(30))
        .with_interval(Duration::from_secs(10))
        .with_retries(3);
    let _ = sock.set_tcp_keepalive(&keepalive);
    let _ = sock.set_tcp_user_timeout(Some(USER_TIMEOUT));
}

async fn connect(
    cfg: &SyslogConfig,
    tls: &mut Option<Arc<rustls::ClientConfig>>,
) -> Result<Conn, String> {
    let addr = cfg.address.as_str();
    if cfg.transport == Transport::Udp {
        let bind = if addr.starts_with('[') {
            "[::]:0"
        } else {
            "0.0.0.0:0"
        };
        let s = UdpSocket::bind(bind).await.map_err(|e| e.to_string())?;
        s.connect(addr).await.map_err(|e| format!("{addr}: {e}"))?;
        return Ok(Conn::Udp(s));
    }
    let s = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr))
        .await
        .map_err(|_| format!("{addr}: connect timed out"))?
        .map_err(|e| format!("{addr}: {e}"))?;
    tune(&s);
    match cfg.transport {
        Transport::Tcp | Transport::Udp => Ok(Conn::Tcp(s)),
        Transport::Relp => {
            let session = relp::Session::open(s, CONNECT_TIMEOUT)
                .await
                .map_err(|e| format!("{addr}: RELP: {e}"))?;
            Ok(Conn::Relp(Box::new(session)))
        }
        Transport::Tls => {
            if tls.is_none() {
                *tls = Some(tls_config(cfg)?);
            }
            let config = tls.clone().ok_or("no TLS config")?;
            let host = cfg.server_name.clone().unwrap_or_else(|| {
                let h = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
                h.trim_start_matches('[').trim_end_matches(']').to_string()
            });
            let name = rustls::pki_types::ServerName::try_from(host.clone())
                .map_err(|e| format!("{host}: {e}"))?;
            let connector = tokio_rustls::TlsConnector::from(config);
            let s = tokio::time::timeout(CONNECT_TIMEOUT, connector.connect(name, s))
                .await
                .map_err(|_| format!("{addr}: TLS handshake timed out"))?
                .map_err(|e| format!("{addr}: TLS: {e}"))?;
            Ok(Conn::Tls(Box::new(s)))
        }
    }
}

/// Why an idle connection is no longer usable (the receiver closed or reset
/// it), or `None` while it is. Syslog receivers send nothing on TCP; what a
/// TLS receiver sends (session tickets, alerts) is read and handled by TLS.
async fn closed_by_peer(c: &mut Conn) -> Option<String> {
    let mut buf = [0u8; 1024];
    match c {
        Conn::Udp(_) => None,
        Conn::Relp(s) => s.closed_by_peer(),
        Conn::Tcp(s) => loop {
            match s.try_read(&mut buf) {
                Ok(0) => return Some("closed by the receiver".into()),
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return None,
                Err(e) => return Some(e.to_string()),
            }
        },
        Conn::Tls(s) => loop {
            // Polled once: pending means open and quiet.
            match tokio::time::timeout(Duration::ZERO, s.read(&mut buf)).await {
                Err(_) => return None,
                Ok(Ok(0)) => return Some("closed by the receiver".into()),
                Ok(Ok(_)) => {}
                Ok(Err(e)) => return Some(e.to_string()),
            }
        },
    }
}

/// Watches a new connection for [`PROBATION`]: why the receiver closed it,
/// or `None` when it stayed open.
async fn refused(c: &mut Conn) -> Option<String> {
    let mut buf = [0u8; 1024];
    let deadline = tokio::time::Instant::now() + PROBATION;
    loop {
        let read = async {
            match c {
                Conn::Tcp(s) => s.read(&mut buf).await,
                Conn::Tls(s) => s.read(&mut buf).await,
                _ => std::future::pending().await,
            }
        };
        match tokio::time::timeout_at(deadline, read).await {
            Err(_) => return None,
            Ok(Ok(0)) => return Some("closed by the receiver".into()),
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return Some(e.to_string()),
        }
    }
}

/// Waits until the receiver's TCP acknowledged everything written on `s`,
/// on a connection still established.
async fn acknowledged(s: &TcpStream) -> Result<(), String> {
    let (local, peer) = match (s.local_addr(), s.peer_addr()) {
        (Ok(l), Ok(p)) => (l, p),
        (Err(e), _) | (_, Err(e)) => return Err(e.to_string()),
    };
    let t0 = tokio::time::Instant::now();
    let mut pause = Duration::from_millis(1);
    loop {
        match outq::send_queue(local, peer) {
            Ok(Some((outq::ESTABLISHED, 0))) => return Ok(()),
            Ok(Some((outq::ESTABLISHED, n))) if t0.elapsed() >= ACK_TIMEOUT => {
                return Err(format!(
                    "{n} bytes not acknowledged by the receiver within {ACK_TIMEOUT:?}"
                ))
            }
            Ok(Some((outq::ESTABLISHED, _))) => {}
            Ok(Some(_)) => return Err("closed by the receiver".into()),
            Ok(None) => return Err("connection reset".into()),
            Err(e) => return Err(format!("TCP table: {e}")),
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

fn render(cfg: &SyslogConfig, facility: u8, id: u64, bytes: &[u8]) -> Option<Vec<u8>> {
    let r = RecordView::decode(bytes)?;
    let eve: serde_json::Value = serde_json::from_slice(r.json).ok()?;
    Some(match cfg.format {
        Format::Rfc5424 => format::rfc5424(id, &r, &eve, facility, &cfg.hostname, cfg.max_message),
        Format::Cef => format::cef(id, &r, &eve, facility, &cfg.hostname, cfg.max_message),
    })
}

async fn send_syslog(
    cfg: &SyslogConfig,
    facility: u8,
    conn: &mut Option<Conn>,
    tls: &mut Option<Arc<rustls::ClientConfig>>,
    batch: &[(u64, Vec<u8>)],
) -> Delivery {
    let addr = &cfg.address;
    if let Some(c) = conn.as_mut() {
        if let Some(why) = closed_by_peer(c).await {
            tracing::debug!("syslog {addr}: {why}; reconnecting");
            if let Some(c) = conn.take() {
                abort(c);
            }
        }
    }
    if conn.is_none() {
        let mut c = match connect(cfg, tls).await {
            Ok(c) => c,
            Err(e) => return Delivery::none(e),
        };
        if matches!(c, Conn::Tcp(_) | Conn::Tls(_)) {
            if let Some(why) = refused(&mut c).await {
                abort(c);
                return Delivery::none(format!(
                    "{addr}: {why} right after the connection was opened: the receiver refuses this sender"
                ));
            }
        }
        *conn = Some(c);
    }
    let Some(c) = conn.as_mut() else {
        return Delivery::none("not connected".into());
    };
    // Each record's message; a record that cannot be read is skipped (and
    // said so) rather than holding back every alert after it.
    let msgs: Vec<Option<Vec<u8>>> = batch
        .iter()
        .map(|(id, bytes)| {
            let m = render(cfg, facility, *id, bytes);
            if m.is_none() {
                tracing::warn!("syslog {addr}: stored alert {id} cannot be read; skipped");
            }
            m
        })
        .collect();
    match c {
        Conn::Udp(s) => {
            for (i, m) in msgs.iter().enumerate() {
                if let Some(m) = m {
                    if let Err(e) = s.send(m).await {
                        return Delivery {
                            delivered: i,
                            error: Some(format!("{addr}: {e}")),
                        };
                    }
                }
            }
            Delivery::all(batch)
        }
        Conn::Relp(s) => {
            let sent: Vec<Vec<u8>> = msgs.iter().flatten().cloned().collect();
            let (taken, error) = s.send(&sent, WRITE_TIMEOUT + ACK_TIMEOUT).await;
            // The answered messages as a prefix of the batch: up to the
            // first message not answered, with the skipped records before it.
            let delivered = msgs
                .iter()
                .enumerate()
                .filter(|(_, m)| m.is_some())
                .nth(taken)
                .map_or(batch.len(), |(i, _)| i);
            Delivery {
                delivered,
                error: error.map(|e| format!("{addr}: RELP: {e}")),
            }
        }
        Conn::Tcp(_) | Conn::Tls(_) => {
            let mut framed = Vec::new();
            for m in msgs.iter().flatten() {
                match cfg.framing {
                    Framing::OctetCounting => {
                        framed.extend_from_slice(itoa::Buffer::new().format(m.len()).as_bytes());
                        framed.push(b' ');
                        framed.extend_from_slice(m);
                    }
                    Framing::Lf => {
                        // The formats escape line breaks; none may end a message early.
                        framed.extend(m.iter().map(|&b| if b == b'\n' { b' ' } else { b }));
                        framed.push(b'\n');
                    }
                }
            }
            let write = async {
                match c {
                    Conn::Tcp(s) => {
                        s.write_all(&framed).await?;
                        s.flush().await
                    }
                    Conn::Tls(s) => {
                        s.write_all(&framed).await?;
                        s.flush().await
                    }
                    _ => Ok(()),
                }
            };
            match tokio::time::timeout(WRITE_TIMEOUT, write).await {
                Err(_) => return Delivery::none(format!("{addr}: write timed out")),
                Ok(Err(e)) => return Delivery::none(format!("{addr}: {e}")),
                Ok(Ok(())) => {}
            }
            let tcp: &TcpStream = match c {
                Conn::Tcp(s) => s,
                Conn::Tls(s) => s.get_ref().0,
                _ => return Delivery::all(batch),
            };
            if let Err(e) = acknowledged(tcp).await {
                return Delivery::none(format!("{addr}: {e}"));
            }
            // A reset empties the send queue too: the connection must still
            // be open for the acknowledgement to mean the receiver has it.
            if let Some(why) = closed_by_peer(c).await {
                return Delivery::none(format!("{addr}: {why} while the batch was sent"));
            }
            Delivery::all(batch)
        }
    }
}

fn rotated(path: &std::path::Path, n: u32) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(format!(".{n}"));
    PathBuf::from(s)
}

/// Shifts `path.1` → `path.2` … and `path` → `path.1`, keeping `keep` files.
async fn rotate(path: &std::path::Path, keep: u32) -> std::io::Result<()> {
    if keep == 0 {
        return tokio::fs::remove_file(path).await;
    }
    let _ = tokio::fs::remove_file(rotated(path, keep)).await;
    for n in (1..keep).rev() {
        let from = rotated(path, n);
        if tokio::fs::try_exists(&from).await.unwrap_or(false) {
            tokio::fs::rename(&from, rotated(path, n + 1)).await?;
        }
    }
    tokio::fs::rename(path, rotated(path, 1)).await
}

/// Appends the batch; the alerts of lines flushed before an error count as
/// delivered.
async fn write_eve(
    cfg: &EveFileConfig,
    file: &mut Option<(tokio::fs::File, u64)>,
    batch: &[(u64, Vec<u8>)],
) -> Delivery {
    let mut flushed = 0;
    match append_eve(cfg, file, batch, &mut flushed).await {
        Ok(()) => Delivery::all(batch),
        Err(e) => Delivery {
            delivered: flushed,
            error: Some(e),
        },
    }
}

async fn append_eve(
    cfg: &EveFileConfig,
    file: &mut Option<(tokio::fs::File, u64)>,
    batch: &[(u64, Vec<u8>)],
    flushed: &mut usize,
) -> Result<(), String> {
    let err = |e: std::io::Error| format!("{}: {e}", cfg.path.display());
    for (i, (_, bytes)) in batch.iter().enumerate() {
        let Some(r) = RecordView::decode(bytes) else {
            continue;
        };
        let mut line = format::eve_line(&r);
        line.push(b'\n');
        let len = line.len() as u64;
        if file.is_none() {
            if let Some(dir) = cfg.path.parent().filter(|d| !d.as_os_str().is_empty()) {
                tokio::fs::create_dir_all(dir).await.map_err(err)?;
            }
            let f = tokio::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&cfg.path)
                .await
                .map_err(err)?;
            let size = f.metadata().await.map_err(err)?.len();
            *file = Some((f, size));
        }
        let Some((f, size)) = file.as_mut() else {
            continue;
        };
        if *size > 0 && *size + len > cfg.max_size.0 {
            f.flush().await.map_err(err)?;
            f.sync_data().await.map_err(err)?;
            *flushed = i;
            *file = None;
            rotate(&cfg.path, cfg.keep).await.map_err(err)?;
            let f = tokio::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&cfg.path)
                .await
                .map_err(err)?;
            *file = Some((f, 0));
        }
        let Some((f, size)) = file.as_mut() else {
            continue;
        };
        f.write_all(&line).await.map_err(err)?;
        *size += len;
    }
    if let Some((f, _)) = file.as_mut() {
        f.flush().await.map_err(err)?;
    }
    Ok(())
}
