//! The analyzer's one YAML configuration: a serde struct with
//! `deny_unknown_fields`, checked by [`Config::validate`] before anything
//! starts, every error reported at once.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize};

use crate::rules::RuleInfo;

/// Analyzer settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address the HTTP API listens on (`127.0.0.1:8080`; port 0 picks one).
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// Folder holding the alert store and the export cursors.
    pub data_dir: PathBuf,
    /// Bearer tokens sensors present to `/api/v1/ingest` and `PUT /api/v1/rules`
    /// (the only two routes they open).
    pub ingest_tokens: Vec<String>,
    /// The token of every other route (a bearer token, or the web UI's login).
    /// When absent: `$OTWATCH_API_TOKEN`, else `DATA_DIR/api-token`, made at
    /// first start (see [`crate::auth`]).
    #[serde(default)]
    pub api_token: Option<String>,
    /// Serve `/metrics` without credentials (for a Prometheus that cannot send
    /// a bearer token). Off by default.
    #[serde(default)]
    pub metrics_open: bool,
    /// Limits of the HTTP server.
    #[serde(default)]
    pub http: HttpConfig,
    /// Largest ingest request body.
    #[serde(default = "default_max_body")]
    pub max_body: ByteSize,
    /// How long and how much is kept.
    #[serde(default)]
    pub retention: RetentionConfig,
    /// Where stored alerts are forwarded.
    #[serde(default)]
    pub exports: ExportsConfig,
    /// Rules known at start (the sensor or `otwatch run` may replace them later).
    #[serde(default)]
    pub rules: Vec<RuleInfo>,
    /// Queue of the live stream, in alerts; a client that falls further
    /// behind skips ahead (and is told how many it missed).
    #[serde(default = "default_stream_buffer")]
    pub stream_buffer: usize,
}

/// Retention of stored alerts.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionConfig {
    /// Alerts stored longer ago than this are deleted (by the time they were received).
    #[serde(default = "default_max_age")]
    pub max_age: HumanDuration,
    /// The oldest alerts are deleted while the store's live data exceeds this.
    #[serde(default = "default_max_size")]
    pub max_size: ByteSize,
    /// How often retention runs.
    #[serde(default = "default_interval")]
    pub interval: HumanDuration,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        RetentionConfig {
            max_age: default_max_age(),
            max_size: default_max_size(),
            interval: default_interval(),
        }
    }
}

/// Limits of the HTTP server.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// Time a client has to send a request's headers, counted from the
    /// connection's start or from the end of its previous answer: a connection
    /// idle this long between requests is closed too.
    #[serde(default = "default_header_timeout")]
    pub header_timeout: HumanDuration,
    /// Connections served at once; further clients wait in the kernel's
    /// accept queue until one closes.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// Connections one client address may hold at once (further ones from it
    /// are closed at once), so that one host cannot take every connection.
    #[serde(default = "default_max_connections_per_host")]
    pub max_connections_per_host: usize,
    /// Time a client has to send a whole request body once its headers are
    /// in (a body trickled in a byte at a time would hold a connection
    /// forever); past it the answer is 408 and the connection closes.
    #[serde(default = "default_body_timeout")]
    pub body_timeout: HumanDuration,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            header_timeout: default_header_timeout(),
            max_connections: default_max_connections(),
            body_timeout: default_body_timeout(),
            max_connections_per_host: default_max_connections_per_host(),
        }
    }
}

/// Export destinations.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportsConfig {
    /// Syslog receivers (RFC 5424 or CEF payloads).
    #[serde(default)]
    pub syslog: Vec<SyslogConfig>,
    /// EVE JSON lines written to a file with size-based rotation.
    #[serde(default)]
    pub eve_file: Option<EveFileConfig>,
}

/// Syslog transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// One message per datagram (RFC 5426); no delivery guarantee.
    Udp,
    /// Octet-counting framing (RFC 6587).
    Tcp,
    /// TLS with octet-counting framing (RFC 5425).
    Tls,
    /// RELP over TCP: the receiver acknowledges every message (rsyslog's
    /// `imrelp`), so an alert counts as sent only once it was taken.
    Relp,
}

/// How messages are delimited on a TCP or TLS stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Framing {
    /// `MSG-LEN SP MSG` (RFC 6587 §3.4.1, RFC 5425 §4.3).
    #[default]
    OctetCounting,
    /// Each message ends with a line feed (RFC 6587 §3.4.2), what Splunk's
    /// and Logstash's plain TCP inputs read. Messages never contain one.
    Lf,
}

/// Payload format of a syslog export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// RFC 5424 with structured data.
    Rfc5424,
    /// ArcSight CEF carried in an RFC 5424 message.
    Cef,
}

/// Where a new export starts when it has no cursor yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StartAt {
    /// Only alerts stored from now on.
    #[default]
    End,
    /// Every alert in the store.
    Beginning,
}

/// One syslog receiver.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyslogConfig {
    /// Name used for the cursor file and in metrics (`[a-z0-9_-]`).
    pub name: String,
    /// `host:port` of the receiver.
    pub address: String,
    /// `udp`, `tcp`, `tls` or `relp`.
    pub transport: Transport,
    /// `octet-counting` (default) or `lf`; TCP and TLS only.
    #[serde(default)]
    pub framing: Framing,
    /// `rfc5424` (default) or `cef`.
    #[serde(default = "default_format")]
    pub format: Format,
    /// Facility name (`local0`…`local7`, `auth`, `daemon`, …) or number 0–23.
    #[serde(default = "default_facility")]
    pub facility: String,
    /// HOSTNAME field of the messages (default: this machine's host name).
    #[serde(default = "default_hostname")]
    pub hostname: String,
    /// Largest message in bytes; longer ones are truncated on a character boundary.
    #[serde(default = "default_max_message")]
    pub max_message: usize,
    /// PEM file of the CA certificates the receiver's certificate is
    /// checked against (TLS; default: the system's CA store).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// PEM certificate chain presented to the receiver (mutual TLS; with
    /// `key_file`).
    #[serde(default)]
    pub cert_file: Option<PathBuf>,
    /// PEM private key of `cert_file`.
    #[serde(default)]
    pub key_file: Option<PathBuf>,
    /// Name checked against the receiver's certificate (TLS; default: the host of `address`).
    #[serde(default)]
    pub server_name: Option<String>,
    /// Where a new export starts.
    #[serde(default)]
    pub start: StartAt,
}

/// EVE JSON file export.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EveFileConfig {
    /// The file; rotated files get `.1`, `.2`, … appended.
    pub path: PathBuf,
    /// Size at which the file is rotated.
    #[serde(default = "default_eve_max_size")]
    pub max_size: ByteSize,
    /// Rotated files kept.
    #[serde(default = "default_keep")]
    pub keep: u32,
    /// Where a new export starts.
    #[serde(default)]
    pub start: StartAt,
}

/// A problem found by [`Config::validate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// Dotted path of the setting (`exports.syslog[0].address`).
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl std::error::Error for ConfigError {}

/// Why a configuration could not be read ([`Config::load`],
/// [`Config::from_yaml`]); shown as `PATH: what`.
#[derive(Debug)]
pub enum LoadError {
    /// The file could not be read.
    Read {
        /// The file.
        path: PathBuf,
        /// What the system said.
        error: std::io::Error,
    },
    /// The text is not a configuration: YAML syntax, an unknown key or a bad
    /// value, with its line and column.
    Parse {
        /// The file, when the text came from one.
        path: Option<PathBuf>,
        /// What is wrong, and where.
        message: String,
    },
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Read { path, error } => write!(f, "{}: {error}", path.display()),
            LoadError::Parse {
                path: Some(path),
                message,
            } => write!(f, "{}: {message}", path.display()),
            LoadError::Parse {
                path: None,
                message,
            } => f.write_str(message),
        }
    }
}

impl std::error::Error for LoadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            LoadError::Read { error, .. } => Some(error),
            LoadError::Parse { .. } => None,
        }
    }
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}
fn default_max_body() -> ByteSize {
    ByteSize(32 << 20)
}
fn default_max_age() -> HumanDuration {
    HumanDuration(Duration::from_secs(90 * 86_400))
}
fn default_max_size() -> ByteSize {
    ByteSize(10 << 30)
}
fn default_interval() -> HumanDuration {
    HumanDuration(Duration::from_secs(60))
}
fn default_header_timeout() -> HumanDuration {
    HumanDuration(Duration::from_secs(30))
}
fn default_body_timeout() -> HumanDuration {
    HumanDuration(Duration::from_secs(60))
}
fn default_max_connections_per_host() -> usize {
    64
}
fn default_max_connections() -> usize {
    512
}
fn default_stream_buffer() -> usize {
    4096
}
fn default_format() -> Format {
    Format::Rfc5424
}
fn default_facility() -> String {
    "local0".to_string()
}
/// This machine's host name when it is a valid syslog HOSTNAME, else `otwatch`.
fn default_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| valid_hostname(h))
        .unwrap_or_else(|| "otwatch".to_string())
}

/// RFC 5424 HOSTNAME: 1 to 255 printable US-ASCII characters.
fn valid_hostname(h: &str) -> bool {
    !h.is_empty() && h.len() <= 255 && h.bytes().all(|b| (33..=126).contains(&b))
}

/// The PEM bundles of the system CA store, in the order distributions keep
/// them (Debian and Ubuntu, Fedora and RHEL, openSUSE, Alpine and others).
pub const SYSTEM_CA_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/ssl/cert.pem",
];
fn default_max_message() -> usize {
    8192
}
fn default_eve_max_size() -> ByteSize {
    ByteSize(100 << 20)
}
fn default_keep() -> u32 {
    5
}

/// Facility number of a name or number.
pub fn facility_code(s: &str) -> Option<u8> {
    const NAMES: [&str; 24] = [
        "kern",
        "user",
        "mail",
        "daemon",
        "auth",
        "syslog",
        "lpr",
        "news",
        "uucp",
        "cron",
        "authpriv",
        "ftp",
        "ntp",
        "security",
        "console",
        "solaris-cron",
        "local0",
        "local1",
        "local2",
        "local3",
        "local4",
        "local5",
        "local6",
        "local7",
    ];
    if let Ok(n) = s.parse::<u8>() {
        return (n < 24).then_some(n);
    }
    NAMES
        .iter()
        .position(|n| *n == s)
        .and_then(|i| u8::try_from(i).ok())
}

impl Config {
    /// A configuration with defaults, storing under `data_dir` and accepting `token`.
    pub fn new(data_dir: impl Into<PathBuf>, token: impl Into<String>) -> Config {
        Config {
            listen: default_listen(),
            data_dir: data_dir.into(),
            ingest_tokens: vec![token.into()],
            api_token: None,
            metrics_open: false,
            http: HttpConfig::default(),
            max_body: default_max_body(),
            retention: RetentionConfig::default(),
            exports: ExportsConfig::default(),
            rules: Vec::new(),
            stream_buffer: default_stream_buffer(),
        }
    }

    /// Parses YAML text (unknown keys and bad values are errors with a position).
    pub fn from_yaml(text: &str) -> Result<Config, LoadError> {
        serde_saphyr::from_str(text).map_err(|e| LoadError::Parse {
            path: None,
            message: e.to_string(),
        })
    }

    /// Reads and parses a YAML file.
    pub fn load(path: &std::path::Path) -> Result<Config, LoadError> {
        let text = std::fs::read_to_string(path).map_err(|error| LoadError::Read {
            path: path.to_path_buf(),
            error,
        })?;
        Config::from_yaml(&text).map_err(|e| match e {
            LoadError::Parse { message, .. } => LoadError::Parse {
                path: Some(path.to_path_buf()),
                message,
            },
            other => other,
        })
    }

    /// Checks every setting; returns all problems at once.
    pub fn validate(&self) -> Result<(), Vec<ConfigError>> {
        let mut errs = Vec::new();
        let mut err = |field: String, message: String| errs.push(ConfigError { field, message });
        if self.data_dir.as_os_str().is_empty() {
            err("data_dir".into(), "must not be empty".into());
        }
        if self.ingest_tokens.is_empty() {
            err(
                "ingest_tokens".into(),
                "at least one token is needed".into(),
            );
        }
        for (i, t) in self.ingest_tokens.iter().enumerate() {
            check_token(&format!("ingest_tokens[{i}]"), t, &mut err);
        }
        if let Some(t) = &self.api_token {
            check_token("api_token", t, &mut err);
            if self.ingest_tokens.iter().any(|k| k == t) {
                err(
                    "api_token".into(),
                    "must differ from every ingest token (an ingest token only ingests)".into(),
                );
            }
        }
        if self.http.header_timeout.0 < Duration::from_millis(100)
            || self.http.header_timeout.0 > Duration::from_secs(3600)
        {
            err(
                "http.header_timeout".into(),
                "must be between 100ms and 1h".into(),
            );
        }
        if self.http.body_timeout.0 < Duration::from_millis(100)
            || self.http.body_timeout.0 > Duration::from_secs(3600)
        {
            err(
                "http.body_timeout".into(),
                "must be between 100ms and 1h".into(),
            );
        }
        if self.http.max_connections_per_host == 0 || self.http.max_connections_per_host > 65_536 {
            err(
                "http.max_connections_per_host".into(),
                "must be between 1 and 65536".into(),
            );
        }
        if self.http.max_connections == 0 || self.http.max_connections > 65_536 {
            err(
                "http.max_connections".into(),
                "must be between 1 and 65536".into(),
            );
        }
        if self.max_body.0 < 1024 {
            err("max_body".into(), "must be at least 1 KiB".into());
        }
        if self.retention.max_age.0 < Duration::from_secs(60) {
            err("retention.max_age".into(), "must be at least 1m".into());
        }
        if self.retention.max_size.0 < (1 << 20) {
            err("retention.max_size".into(), "must be at least 1 MiB".into());
        }
        if self.retention.interval.0 < Duration::from_millis(100) {
            err("retention.interval".into(), "must be at least 100ms".into());
        }
        if self.stream_buffer == 0 || self.stream_buffer > 1 << 20 {
            err(
                "stream_buffer".into(),
                "must be between 1 and 1048576".into(),
            );
        }
        let mut names = std::collections::HashSet::new();
        for (i, s) in self.exports.syslog.iter().enumerate() {
            let at = |f: &str| format!("exports.syslog[{i}].{f}");
            if s.name.is_empty()
                || s.name.len() > 64
                || !s
                    .name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
            {
                err(at("name"), "1 to 64 characters from [a-z0-9_-]".into());
            } else if !names.insert(s.name.clone()) {
                err(at("name"), format!("`{}` is used twice", s.name));
            }
            match s.address.rsplit_once(':') {
                Some((host, port))
                    if !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p != 0) => {}
                _ => err(at("address"), format!("`{}` is not host:port", s.address)),
            }
            if facility_code(&s.facility).is_none() {
                err(at("facility"), format!("unknown facility `{}`", s.facility));
            }
            if !valid_hostname(&s.hostname) {
                err(at("hostname"), "1 to 255 printable ASCII characters".into());
            }
            if !(480..=65_000).contains(&s.max_message) {
                err(at("max_message"), "must be between 480 and 65000".into());
            }
            let tls = s.transport == Transport::Tls;
            for (key, file) in [
                ("ca_file", &s.ca_file),
                ("cert_file", &s.cert_file),
                ("key_file", &s.key_file),
            ] {
                match file {
                    Some(_) if !tls => err(at(key), "only for transport tls".into()),
                    Some(p) if !p.is_file() => {
                        err(at(key), format!("{} is not a readable file", p.display()))
                    }
                    _ => {}
                }
            }
            if tls
                && s.ca_file.is_none()
                && !SYSTEM_CA_BUNDLES.iter().any(|p| Path::new(p).is_file())
            {
                err(
                    at("ca_file"),
                    format!(
                        "no system CA store ({}): name the receiver's CA",
                        SYSTEM_CA_BUNDLES.join(", ")
                    ),
                );
            }
            if tls && s.cert_file.is_some() != s.key_file.is_some() {
                err(
                    at("key_file"),
                    "mutual TLS needs both cert_file and key_file".into(),
                );
            }
            if s.server_name.is_some() && !tls {
                err(at("server_name"), "only for transport tls".into());
            }
            if s.framing == Framing::Lf && !matches!(s.transport, Transport::Tcp | Transport::Tls) {
                err(at("framing"), "only for transport tcp or tls".into());
            }
        }
        if let Some(e) = &self.exports.eve_file {
            if e.path.as_os_str().is_empty() {
                err("exports.eve_file.path".into(), "must not be empty".into());
            }
            if e.max_size.0 < 4096 {
                err(
                    "exports.eve_file.max_size".into(),
                    "must be at least 4 KiB".into(),
                );
            }
            if e.keep > 1000 {
                err("exports.eve_file.keep".into(), "at most 1000".into());
            }
        }
        let mut ids = std::collections::HashSet::new();
        for (i, r) in self.rules.iter().enumerate() {
            if !ids.insert(r.id) {
                err(
                    format!("rules[{i}].id"),
                    format!("rule {} is listed twice", r.id),
                );
            }
        }
        if errs.is_empty() {
            Ok(())
        } else {
            Err(errs)
        }
    }
}

/// What the example configuration (`analyzer/otwatch.yaml`) has where a
/// token goes: refused, so that nothing runs with a token everyone knows.
pub const TOKEN_PLACEHOLDER: &str = "REPLACE-ME";

pub(crate) fn check_token(field: &str, t: &str, err: &mut impl FnMut(String, String)) {
    if t.starts_with(TOKEN_PLACEHOLDER) {
        err(
            field.into(),
            "still the example's placeholder: make a token (`openssl rand -hex 24`)".into(),
        );
    } else if t.len() < 8 {
        err(field.into(), "must be at least 8 characters".into());
    } else if !t.bytes().all(|b| b.is_ascii_graphic()) {
        err(field.into(), "printable ASCII without spaces only".into());
    }
}

/// A duration written `90d`, `12h`, `30m`, `45s`, `250ms` (or a number of seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HumanDuration(pub Duration);

/// A size written `10GiB`, `512MiB`, `100MB`, `4096` (bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteSize(pub u64);

/// Parses `90d`, `12h`, `30m`, `45s`, `250ms` or plain seconds.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num.parse().ok()?;
    let ms = match unit.trim() {
        "" | "s" => n.checked_mul(1000)?,
        "ms" => n,
        "m" => n.checked_mul(60_000)?,
        "h" => n.checked_mul(3_600_000)?,
        "d" => n.checked_mul(86_400_000)?,
        _ => return None,
    };
    Some(Duration::from_millis(ms))
}

/// Parses `10GiB`, `512MiB`, `64KiB`, `100MB`, `1kB` or plain bytes.
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num.parse().ok()?;
    let mul: u64 = match unit.trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "TiB" => 1 << 40,
        "kB" | "KB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        "TB" => 1_000_000_000_000,
        _ => return None,
    };
    n.checked_mul(mul)
}

#[derive(Deserialize)]
#[serde(untagged)]
enum NumOrText {
    Num(u64),
    Text(String),
}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match NumOrText::deserialize(d)? {
            NumOrText::Num(n) => Ok(HumanDuration(Duration::from_secs(n))),
            NumOrText::Text(t) => parse_duration(&t).map(HumanDuration).ok_or_else(|| {
                serde::de::Error::custom(format!(
                    "`{t}` is not a duration such as 90d, 12h, 30m, 45s, 250ms"
                ))
            }),
        }
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match NumOrText::deserialize(d)? {
            NumOrText::Num(n) => Ok(ByteSize(n)),
            NumOrText::Text(t) => parse_size(&t).map(ByteSize).ok_or_else(|| {
                serde::de::Error::custom(format!(
                    "`{t}` is not a size such as 10GiB, 512MiB, 100MB"
                ))
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"
listen: 127.0.0.1:8080
data_dir: /var/lib/otwatch
ingest_tokens: [sensor-token-1]
api_token: ui-token-123
metrics_open: true
http:
  header_timeout: 10s
  max_connections: 64
retention:
  max_age: 30d
  max_size: 2GiB
  interval: 30s
exports:
  syslog:
    - name: soc
      address: 127.0.0.1:5514
      transport: tcp
      format: rfc5424
      facility: local4
    - name: arcsight
      address: 127.0.0.1:5515
      transport: udp
      format: cef
    - name: splunk
      address: 127.0.0.1:5516
      transport: tcp
      framing: lf
    - name: relay
      address: 127.0.0.1:2514
      transport: relp
  eve_file:
    path: /var/log/otwatch/alerts.json
    max_size: 100MiB
    keep: 3
rules:
  - id: 110001
    rev: 1
    name: Modbus diagnostics - force listen only mode
    severity: critical
    protocol: modbus
    attack: [T0814]
"#;

    /// `analyzer/otwatch.yaml`, the example installed as
    /// /etc/otwatch/otwatch.yaml.
    const SHIPPED: &str = include_str!("../otwatch.yaml");

    #[test]
    fn the_shipped_example_names_every_setting_and_refuses_its_placeholder() {
        let c = Config::from_yaml(SHIPPED).expect("parses");
        let errs: Vec<String> = c
            .validate()
            .expect_err("placeholder")
            .iter()
            .map(|e| e.to_string())
            .collect();
        assert_eq!(
            errs,
            ["ingest_tokens[0]: still the example's placeholder: make a token (`openssl rand -hex 24`)"]
        );
        let filled = SHIPPED.replace("REPLACE-ME-with-openssl-rand-hex-24", "a1b2c3d4e5f6a7b8");
        let c = Config::from_yaml(&filled).expect("parses");
        assert_eq!(c.validate(), Ok(()));
        assert_eq!(c.data_dir, PathBuf::from("/var/lib/otwatch"));
        // Every commented-out setting is a real one with a valid value: the
        // file still parses with all of them uncommented.
        let uncommented: String = filled
            .replace("syslog: []", "syslog:")
            .lines()
            .map(|l| {
                let body = l.trim_start();
                let indent = &l[..l.len() - body.len()];
                let setting = body.strip_prefix("# ").filter(|rest| {
                    let word = rest.strip_prefix("- ").unwrap_or(rest);
                    word.split_whitespace()
                        .next()
                        .is_some_and(|w| w.ends_with(':'))
                });
                match setting {
                    Some(rest) => format!("{indent}{rest}\n"),
                    None => format!("{l}\n"),
                }
            })
            .collect();
        let all = Config::from_yaml(&uncommented).unwrap_or_else(|e| panic!("{e}\n{uncommented}"));
        assert_eq!(all.exports.syslog[0].transport, Transport::Tls);
        assert_eq!(all.exports.syslog[0].framing, Framing::OctetCounting);
        assert!(all.exports.eve_file.is_some());
        assert_eq!(all.http.max_connections_per_host, 64);
        for key in [
            "listen:",
            "data_dir:",
            "ingest_tokens:",
            "api_token:",
            "metrics_open:",
            "max_body:",
            "header_timeout:",
            "body_timeout:",
            "max_connections:",
            "max_connections_per_host:",
            "max_age:",
            "max_size:",
            "interval:",
            "stream_buffer:",
            "syslog:",
            "name:",
            "address:",
            "transport:",
            "format:",
            "framing:",
            "facility:",
            "hostname:",
            "max_message:",
            "ca_file:",
            "cert_file:",
            "key_file:",
            "server_name:",
            "start:",
            "eve_file:",
            "path:",
            "keep:",
            "rules:",
        ] {
            assert!(SHIPPED.contains(key), "{key} is not in the example");
        }
    }

    #[test]
    fn parses_and_validates_the_documented_example() {
        let c = Config::from_yaml(EXAMPLE).expect("parses");
        assert_eq!(c.retention.max_age.0, Duration::from_secs(30 * 86_400));
        assert_eq!(c.retention.max_size.0, 2 << 30);
        assert_eq!(c.exports.syslog[1].format, Format::Cef);
        assert_eq!(c.exports.syslog[2].framing, Framing::Lf);
        assert_eq!(c.exports.syslog[3].transport, Transport::Relp);
        assert_eq!(c.exports.syslog[3].framing, Framing::OctetCounting);
        assert!(!c.exports.syslog[3].hostname.is_empty());
        assert_eq!(c.rules[0].id, 110001);
        assert!(c.metrics_open);
        assert_eq!(c.http.header_timeout.0, Duration::from_secs(10));
        assert_eq!(c.http.max_connections, 64);
        assert_eq!(c.validate(), Ok(()));
        let d = Config::from_yaml("data_dir: /x\ningest_tokens: [abcdefgh]\n").expect("parses");
        assert!(!d.metrics_open, "/metrics needs the API token by default");
        assert_eq!(d.http.header_timeout.0, Duration::from_secs(30));
    }

    #[test]
    fn rejects_unknown_keys() {
        let e =
            Config::from_yaml("data_dir: /x\ningest_tokens: [abcdefgh]\nlisten_addr: 1.2.3.4:5\n")
                .expect_err("unknown key")
                .to_string();
        assert!(e.contains("listen_addr"), "{e}");
        let e = Config::from_yaml(
            "data_dir: /x\ningest_tokens: [abcdefgh]\nretention: {max_age: 3 weeks}\n",
        )
        .expect_err("bad duration")
        .to_string();
        assert!(e.contains("not a duration"), "{e}");
    }

    #[test]
    fn load_errors_name_the_file() {
        let dir = tempfile::tempdir().expect("tmp");
        let missing = dir.path().join("missing.yaml");
        let e = Config::load(&missing).expect_err("no file");
        assert!(matches!(e, LoadError::Read { .. }), "{e:?}");
        assert!(
            e.to_string()
                .starts_with(&format!("{}: ", missing.display())),
            "{e}"
        );
        let bad = dir.path().join("bad.yaml");
        std::fs::write(
            &bad,
            "data_dir: /x\ningest_tokens: [abcdefgh]\nlisten_addr: 1\n",
        )
        .expect("write");
        let e = Config::load(&bad).expect_err("unknown key");
        let LoadError::Parse {
            path: Some(path),
            message,
        } = &e
        else {
            panic!("{e:?}");
        };
        assert_eq!(path, &bad);
        assert!(message.contains("listen_addr"), "{message}");
        assert_eq!(e.to_string(), format!("{}: {message}", bad.display()));
    }

    #[test]
    fn reports_every_error_at_once() {
        let mut c = Config::new("", "short");
        c.api_token = Some("short".into());
        c.http.max_connections = 0;
        c.retention.max_size = ByteSize(10);
        c.exports.syslog.push(SyslogConfig {
            name: "Bad Name".into(),
            address: "nowhere".into(),
            transport: Transport::Udp,
            framing: Framing::Lf,
            format: Format::Rfc5424,
            facility: "local9".into(),
            hostname: "otwatch".into(),
            max_message: 100,
            ca_file: None,
            cert_file: Some("/nonexistent/client.pem".into()),
            key_file: None,
            server_name: Some("siem".into()),
            start: StartAt::End,
        });
        let errs: Vec<String> = c
            .validate()
            .expect_err("invalid")
            .iter()
            .map(|e| e.to_string())
            .collect();
        assert_eq!(
            errs,
            [
                "data_dir: must not be empty",
                "ingest_tokens[0]: must be at least 8 characters",
                "api_token: must be at least 8 characters",
                "api_token: must differ from every ingest token (an ingest token only ingests)",
                "http.max_connections: must be between 1 and 65536",
                "retention.max_size: must be at least 1 MiB",
                "exports.syslog[0].name: 1 to 64 characters from [a-z0-9_-]",
                "exports.syslog[0].address: `nowhere` is not host:port",
                "exports.syslog[0].facility: unknown facility `local9`",
                "exports.syslog[0].max_message: must be between 480 and 65000",
                "exports.syslog[0].cert_file: only for transport tls",
                "exports.syslog[0].server_name: only for transport tls",
                "exports.syslog[0].framing: only for transport tcp or tls",
            ]
        );
    }
}
