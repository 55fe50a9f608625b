//! Where exported alerts go: syslog transports and the EVE file.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpStream, UdpSocket};
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls;

use crate::config::{facility_code, EveFileConfig, Format, SyslogConfig, Transport};
use crate::record::RecordView;

use super::format;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

pub(crate) enum Conn {
    Udp(UdpSocket),
    Tcp(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
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
    use rustls::pki_types::CertificateDer;
    let path = cfg.ca_file.as_ref().ok_or("no ca_file")?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in
        CertificateDer::pem_file_iter(path).map_err(|e| format!("{}: {e}", path.display()))?
    {
        let cert = cert.map_err(|e| format!("{}: {e}", path.display()))?;
        roots
            .add(cert)
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let c = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
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

    /// Hands over a batch; an error leaves the batch to be sent again.
    pub(crate) async fn send(&mut self, batch: &[(u64, Vec<u8>)]) -> Result<(), String> {
        match self {
            Sink::Syslog {
                cfg,
                facility,
                conn,
                tls,
            } => {
                let r = send_syslog(cfg, *facility, conn, tls, batch).await;
                if r.is_err() {
                    *conn = None;
                }
                r
            }
            Sink::EveFile { cfg, file } => {
                let r = write_eve(cfg, file, batch).await;
                if r.is_err() {
                    *file = None;
                }
                r
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

async fn connect(
    cfg: &SyslogConfig,
    tls: &mut Option<Arc<rustls::ClientConfig>>,
) -> Result<Conn, String> {
    let addr = cfg.address.as_str();
    match cfg.transport {
        Transport::Udp => {
            let bind = if addr.starts_with('[') {
                "[::]:0"
            } else {
                "0.0.0.0:0"
            };
            let s = UdpSocket::bind(bind).await.map_err(|e| e.to_string())?;
            s.connect(addr).await.map_err(|e| format!("{addr}: {e}"))?;
            Ok(Conn::Udp(s))
        }
        Transport::Tcp | Transport::Tls => {
            let s = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr))
                .await
                .map_err(|_| format!("{addr}: connect timed out"))?
                .map_err(|e| format!("{addr}: {e}"))?;
            let _ = s.set_nodelay(true);
            if cfg.transport == Transport::Tcp {
                return Ok(Conn::Tcp(s));
            }
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
) -> Result<(), String> {
    if conn.is_none() {
        *conn = Some(connect(cfg, tls).await?);
    }
    let Some(c) = conn.as_mut() else {
        return Err("not connected".into());
    };
    let mut framed = Vec::new();
    for (id, bytes) in batch {
        let Some(msg) = render(cfg, facility, *id, bytes) else {
            continue;
        };
        match c {
            Conn::Udp(s) => {
                s.send(&msg)
                    .await
                    .map_err(|e| format!("{}: {e}", cfg.address))?;
            }
            Conn::Tcp(_) | Conn::Tls(_) => {
                // RFC 6587 §3.4.1 / RFC 5425 §4.3: MSG-LEN SP SYSLOG-MSG.
                framed.extend_from_slice(format!("{} ", msg.len()).as_bytes());
                framed.extend_from_slice(&msg);
            }
        }
    }
    let write = async {
        match c {
            Conn::Udp(_) => Ok(()),
            Conn::Tcp(s) => {
                s.write_all(&framed).await?;
                s.flush().await
            }
            Conn::Tls(s) => {
                s.write_all(&framed).await?;
                s.flush().await
            }
        }
    };
    tokio::time::timeout(WRITE_TIMEOUT, write)
        .await
        .map_err(|_| format!("{}: write timed out", cfg.address))?
        .map_err(|e| format!("{}: {e}", cfg.address))
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

async fn write_eve(
    cfg: &EveFileConfig,
    file: &mut Option<(tokio::fs::File, u64)>,
    batch: &[(u64, Vec<u8>)],
) -> Result<(), String> {
    let err = |e: std::io::Error| format!("{}: {e}", cfg.path.display());
    for (_, bytes) in batch {
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
