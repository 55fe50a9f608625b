//! Who may call what: one route layer in front of every handler.
//!
//! | route | who |
//! | --- | --- |
//! | `GET /healthz`, the UI's static files | anyone |
//! | `POST /api/v1/login` | anyone (it checks the API token and sets the session cookie) |
//! | `POST /api/v1/ingest`, `PUT /api/v1/rules` | a bearer ingest token, or the API token as a bearer token |
//! | every other `/api/…` route | the API token as a bearer token, or the session cookie |
//! | `GET /metrics` | like the API, unless `metrics_open` |
//!
//! The API token comes from the configuration's `api_token`, else
//! `$OTWATCH_API_TOKEN`, else the file `DATA_DIR/api-token` (mode 0600),
//! written with 32 random bytes at first start ([`TokenSource`]).
//!
//! A browser logs in by opening `/?token=TOKEN` (answered with a redirect to
//! `/` that sets the cookie; the browser keeps the URL's `#/route`) or by
//! posting the token to `/api/v1/login`. The cookie holds a random session id
//! kept here with its expiry, not the token nor anything derived from it:
//! logging out ends the session on the server, sessions expire, a restart
//! ends them all, and a cookie that leaks never reveals the token.
//!
//! A request authenticated by the cookie that changes state must come from a
//! page of this server (its `Origin`, or else its `Referer`, names the `Host`
//! it was sent to) and carry a JSON body: a form or a `text/plain` post from
//! another site is refused before any handler runs. Bearer tokens are not sent
//! by browsers on their own, so bearer requests need no such check.

use std::collections::HashMap;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;
use subtle::ConstantTimeEq;

use crate::config::{check_token, Config};
use crate::metrics::label;
use crate::Analyzer;

/// The environment variable read when the configuration has no `api_token`.
pub const TOKEN_ENV: &str = "OTWATCH_API_TOKEN";

/// The file, in the data directory, holding the generated API token.
pub const TOKEN_FILE: &str = "api-token";

/// A session ends after this long without a request…
const SESSION_IDLE: Duration = Duration::from_secs(12 * 3600);
/// …and this long after its login in any case.
const SESSION_MAX: Duration = Duration::from_secs(7 * 86_400);
/// Sessions kept at once; a login beyond it ends the least recently used one.
const MAX_SESSIONS: usize = 256;

/// Where the API token in force came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenSource {
    /// `api_token` in the configuration (or a command-line flag that set it).
    Config,
    /// The `OTWATCH_API_TOKEN` environment variable.
    Environment,
    /// `DATA_DIR/api-token`, written at an earlier start.
    File,
    /// Made at this start and written to `DATA_DIR/api-token`.
    Generated,
}

/// The credentials the analyzer accepts, and the browser sessions.
pub(crate) struct Access {
    api_token: String,
    source: TokenSource,
    ingest_tokens: Vec<String>,
    metrics_open: bool,
    sessions: Mutex<HashMap<[u8; 32], Session>>,
}

#[derive(Clone, Copy)]
struct Session {
    created: Instant,
    last: Instant,
}

/// Compares in time independent of where the strings differ.
fn same(a: &str, b: &str) -> bool {
    bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    s
}

fn unhex32(s: &str) -> Option<[u8; 32]> {
    let b = s.as_bytes();
    if b.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in b.chunks_exact(2).enumerate() {
        let hi = char::from(pair[0]).to_digit(16)?;
        let lo = char::from(pair[1]).to_digit(16)?;
        out[i] = u8::try_from(hi * 16 + lo).ok()?;
    }
    Some(out)
}

/// 32 bytes from the operating system's random source.
pub(crate) fn random32() -> std::io::Result<[u8; 32]> {
    let mut b = [0u8; 32];
    getrandom::getrandom(&mut b).map_err(|e| std::io::Error::other(e.to_string()))?;
    Ok(b)
}

/// A random token (64 hex digits), for `otwatch run`'s own sensor and for a
/// first start without an API token.
pub fn random_token() -> std::io::Result<String> {
    Ok(hex(&random32()?))
}

fn token_error(what: &str, message: String) -> crate::Error {
    crate::Error::Access(format!("{what}: {message}"))
}

fn checked(what: &str, token: &str) -> Result<(), crate::Error> {
    let mut problem = None;
    check_token(what, token, &mut |_, m| problem = Some(m));
    match problem {
        Some(m) => Err(token_error(what, m)),
        None => Ok(()),
    }
}

/// Reads `DATA_DIR/api-token`, refusing a file others may read.
fn read_token_file(path: &Path) -> Result<String, crate::Error> {
    let shown = path.display().to_string();
    let meta = std::fs::metadata(path).map_err(|e| token_error(&shown, e.to_string()))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(token_error(
            &shown,
            format!(
                "others may read it (mode {mode:04o}); `chmod 600` it or remove it for a new token"
            ),
        ));
    }
    let text = std::fs::read_to_string(path).map_err(|e| token_error(&shown, e.to_string()))?;
    let token = text.trim_end_matches(['\n', '\r']).to_string();
    checked(&shown, &token)?;
    Ok(token)
}

/// Writes a new random token to `path` (mode 0600, never over an existing
/// file); returns `None` when the file appeared meanwhile.
fn write_token_file(path: &Path) -> Result<Option<String>, crate::Error> {
    let shown = path.display().to_string();
    let token = random_token().map_err(|e| token_error("random source", e.to_string()))?;
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path);
    let mut file = match file {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Ok(None),
        Err(e) => return Err(token_error(&shown, e.to_string())),
    };
    file.write_all(format!("{token}\n").as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| token_error(&shown, e.to_string()))?;
    Ok(Some(token))
}

/// The API token: the configuration's, else `$OTWATCH_API_TOKEN`, else the
/// data directory's file, made now if there is none.
fn resolve(config: &Config) -> Result<(String, TokenSource), crate::Error> {
    if let Some(t) = &config.api_token {
        return Ok((t.clone(), TokenSource::Config));
    }
    if let Some(t) = std::env::var_os(TOKEN_ENV) {
        let t = t
            .into_string()
            .map_err(|_| token_error(TOKEN_ENV, "not UTF-8".into()))?;
        checked(TOKEN_ENV, &t)?;
        return Ok((t, TokenSource::Environment));
    }
    let path: PathBuf = config.data_dir.join(TOKEN_FILE);
    if !path.exists() {
        if let Some(t) = write_token_file(&path)? {
            return Ok((t, TokenSource::Generated));
        }
    }
    Ok((read_token_file(&path)?, TokenSource::File))
}

/// What a request presented.
enum Who {
    Nobody,
    /// The API token as a bearer token.
    ApiBearer,
    /// One of the ingest tokens.
    Sensor,
    /// A live session cookie.
    Session,
    /// A token, cookie or scheme that is not accepted.
    Wrong,
}

/// What a route needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Need {
    Nothing,
    Sensor,
    Api,
    Metrics,
    /// `GET /?token=…`: the login link.
    LoginLink,
}

fn classify(method: &Method, path: &str, query: Option<&str>) -> Need {
    match path {
        "/healthz" | "/api/v1/login" => Need::Nothing,
        "/metrics" => Need::Metrics,
        "/api/v1/ingest" => Need::Sensor,
        "/api/v1/rules" if method == Method::PUT => Need::Sensor,
        "/" if method == Method::GET && query_value(query, "token").is_some() => Need::LoginLink,
        p if p == "/api" || p.starts_with("/api/") => Need::Api,
        // The UI's files: the page and its scripts hold no data.
        _ => Need::Nothing,
    }
}

/// The bearer token of `Authorization` (the scheme in any case): `Some(Err)`
/// for another scheme.
fn bearer(headers: &HeaderMap) -> Option<Result<&str, ()>> {
    let v = headers.get(header::AUTHORIZATION)?;
    let Ok(v) = v.to_str() else {
        return Some(Err(()));
    };
    let v = v.trim();
    let (scheme, rest) = v.split_once([' ', '\t']).unwrap_or((v, ""));
    if !scheme.eq_ignore_ascii_case("bearer") || rest.trim().is_empty() {
        return Some(Err(()));
    }
    Some(Ok(rest.trim()))
}

/// The value of cookie `name` in the request's `Cookie` headers.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim_matches('"'))
}

/// The decoded value of `key` in a query string, decoded as a form
/// (a malformed escape stays as it is, bytes that are not UTF-8 become U+FFFD).
fn query_value(query: Option<&str>, key: &str) -> Option<String> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query?).ok()?;
    pairs.into_iter().find(|(k, _)| k == key).map(|(_, v)| v)
}

impl Access {
    /// The credentials of `config` (the API token found as [`resolve`] says).
    pub(crate) fn new(config: &Config) -> Result<Access, crate::Error> {
        let (api_token, source) = resolve(config)?;
        if config.ingest_tokens.iter().any(|k| k == &api_token) {
            return Err(token_error(
                "api_token",
                "must differ from every ingest token (an ingest token only ingests)".into(),
            ));
        }
        Ok(Access {
            api_token,
            source,
            ingest_tokens: config.ingest_tokens.clone(),
            metrics_open: config.metrics_open,
            sessions: Mutex::new(HashMap::new()),
        })
    }

    pub(crate) fn api_token(&self) -> &str {
        &self.api_token
    }

    pub(crate) fn source(&self) -> TokenSource {
        self.source
    }

    fn is_api_token(&self, t: &str) -> bool {
        same(&self.api_token, t)
    }

    fn is_ingest_token(&self, t: &str) -> bool {
        // Every token is compared, so the time does not say which one matched.
        self.ingest_tokens
            .iter()
            .fold(false, |hit, k| hit | same(k, t))
    }

    fn who(&self, headers: &HeaderMap, cookie_name: &str) -> Who {
        match bearer(headers) {
            Some(Ok(t)) if self.is_api_token(t) => return Who::ApiBearer,
            Some(Ok(t)) if self.is_ingest_token(t) => return Who::Sensor,
            Some(_) => return Who::Wrong,
            None => {}
        }
        match cookie(headers, cookie_name) {
            Some(id) if self.session_alive(id) => Who::Session,
            Some(_) => Who::Wrong,
            None => Who::Nobody,
        }
    }

    fn sessions(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Session>> {
        self.sessions.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts a session; returns its id for the cookie.
    fn open_session(&self) -> std::io::Result<String> {
        let id = random32()?;
        let now = Instant::now();
        let mut s = self.sessions();
        s.retain(|_, v| alive(v, now));
        if s.len() >= MAX_SESSIONS {
            if let Some(oldest) = s.iter().min_by_key(|(_, v)| v.last).map(|(k, _)| *k) {
                s.remove(&oldest);
            }
        }
        s.insert(
            id,
            Session {
                created: now,
                last: now,
            },
        );
        Ok(hex(&id))
    }

    /// Whether `id` is a live session (and marks it used).
    fn session_alive(&self, id: &str) -> bool {
        let Some(key) = unhex32(id) else {
            return false;
        };
        let now = Instant::now();
        let mut s = self.sessions();
        match s.get_mut(&key) {
            Some(v) if alive(v, now) => {
                v.last = now;
                true
            }
            Some(_) => {
                s.remove(&key);
                false
            }
            None => false,
        }
    }

    fn close_session(&self, id: &str) {
        if let Some(key) = unhex32(id) {
            self.sessions().remove(&key);
        }
    }
}

fn alive(s: &Session, now: Instant) -> bool {
    now.duration_since(s.last) < SESSION_IDLE && now.duration_since(s.created) < SESSION_MAX
}

/// State of the route layer: the analyzer and the name of the session cookie
/// (it names the port: browsers share cookies between the ports of a host).
#[derive(Clone)]
pub(crate) struct Gate {
    pub(crate) analyzer: Analyzer,
    pub(crate) cookie: std::sync::Arc<str>,
}

/// The session cookie's name for a server on `port`.
pub(crate) fn cookie_name(port: Option<u16>) -> String {
    match port {
        Some(p) => format!("otwatch_session_{p}"),
        None => "otwatch_session".to_string(),
    }
}

/// Why a request is refused: its status and message.
struct Refusal(StatusCode, &'static str);

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        deny(self.0, self.1)
    }
}

fn deny(status: StatusCode, msg: &str) -> Response {
    let mut r = (status, Json(json!({ "error": msg }))).into_response();
    if status == StatusCode::UNAUTHORIZED {
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"otwatch\""),
        );
    }
    r
}

const NEED_CREDENTIALS: &str =
    "missing or wrong credentials: send Authorization: Bearer <API token>, or log in";
const INGEST_ONLY: &str =
    "an ingest token may only POST /api/v1/ingest and PUT /api/v1/rules; this route needs the API token";
const NO_SESSION_INGEST: &str =
    "ingest takes a bearer token (an ingest token or the API token), not the UI's session";

/// The host part of an `Origin` or `Referer` value (`http://h:p/…` → `h:p`).
fn origin_host(v: &str) -> Option<&str> {
    let rest = v
        .strip_prefix("http://")
        .or_else(|| v.strip_prefix("https://"))?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    Some(&rest[..end])
}

/// The same-origin and JSON-body checks of a state change made with the
/// session cookie.
fn csrf_check(headers: &HeaderMap) -> Result<(), Refusal> {
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let from = headers
        .get(header::ORIGIN)
        .or_else(|| headers.get(header::REFERER))
        .and_then(|v| v.to_str().ok());
    let same_site = match (host, from.and_then(origin_host)) {
        (Some(h), Some(o)) => o.eq_ignore_ascii_case(h),
        _ => false,
    };
    if !same_site {
        return Err(Refusal(
            StatusCode::FORBIDDEN,
            "a change made with the session cookie must come from this server's page (Origin or Referer of this Host)",
        ));
    }
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"));
    if !json {
        return Err(Refusal(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "a change made with the session cookie takes Content-Type: application/json",
        ));
    }
    Ok(())
}

fn changes_state(m: &Method) -> bool {
    !matches!(*m, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The route layer: lets a request through to its handler only with the
/// credentials its route needs.
pub(crate) async fn layer(State(g): State<Gate>, req: Request, next: Next) -> Response {
    let access = g.analyzer.access();
    let need = classify(req.method(), req.uri().path(), req.uri().query());
    let need = match need {
        Need::Metrics if access.metrics_open => Need::Nothing,
        Need::Metrics => Need::Api,
        n => n,
    };
    if need == Need::Nothing {
        return next.run(req).await;
    }
    if need == Need::LoginLink {
        return login_link(access, &g.cookie, req.uri().query());
    }
    let who = access.who(req.headers(), &g.cookie);
    let verdict = match (need, who) {
        (Need::Sensor, Who::Sensor | Who::ApiBearer) => Ok(()),
        (Need::Sensor, Who::Session) => Err(Refusal(StatusCode::FORBIDDEN, NO_SESSION_INGEST)),
        (Need::Api, Who::ApiBearer) => Ok(()),
        (Need::Api, Who::Session) if changes_state(req.method()) => csrf_check(req.headers()),
        (Need::Api, Who::Session) => Ok(()),
        (Need::Api, Who::Sensor) => Err(Refusal(StatusCode::FORBIDDEN, INGEST_ONLY)),
        _ => Err(Refusal(StatusCode::UNAUTHORIZED, NEED_CREDENTIALS)),
    };
    match verdict {
        Ok(()) => next.run(req).await,
        Err(r) => {
            if need == Need::Sensor && req.uri().path() == "/api/v1/ingest" {
                g.analyzer
                    .metrics()
                    .ingest_requests
                    .get_or_create(&label("result", "unauthorized"))
                    .inc();
            }
            r.into_response()
        }
    }
}

fn set_cookie(name: &str, id: &str) -> Option<HeaderValue> {
    HeaderValue::from_str(&format!(
        "{name}={id}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}",
        SESSION_MAX.as_secs()
    ))
    .ok()
}

fn clear_cookie(name: &str) -> Option<HeaderValue> {
    HeaderValue::from_str(&format!(
        "{name}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"
    ))
    .ok()
}

/// A redirect that the browser follows keeping the fragment (`#/alerts`) of
/// the URL it opened, since `Location` has none (RFC 9110, 10.2.2).
fn redirect(to: &'static str, cookie: Option<HeaderValue>) -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    let h = r.headers_mut();
    h.insert(header::LOCATION, HeaderValue::from_static(to));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if let Some(c) = cookie {
        h.insert(header::SET_COOKIE, c);
    }
    r
}

/// `GET /?token=…`: a session and a redirect to `/`, or, for a wrong token,
/// to the login form (`/?login=failed`) without a cookie.
fn login_link(access: &Access, cookie_name: &str, query: Option<&str>) -> Response {
    let token = query_value(query, "token").unwrap_or_default();
    if !access.is_api_token(&token) {
        return redirect("/?login=failed", None);
    }
    match access.open_session() {
        Ok(id) => redirect("/", set_cookie(cookie_name, &id)),
        Err(e) => deny(StatusCode::SERVICE_UNAVAILABLE, &e.to_string()),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginBody {
    token: String,
}

/// `POST /api/v1/login` with `{"token": "…"}` from the UI's login form: sets
/// the session cookie.
pub(crate) async fn login(g: Gate, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    if let Err(r) = csrf_check(&headers) {
        return r.into_response();
    }
    let Ok(b) = serde_json::from_slice::<LoginBody>(&body) else {
        return deny(StatusCode::BAD_REQUEST, "body: expected {\"token\": \"…\"}");
    };
    let access = g.analyzer.access();
    if !access.is_api_token(b.token.trim()) {
        return deny(StatusCode::UNAUTHORIZED, "wrong token");
    }
    match access.open_session() {
        Ok(id) => {
            let mut r = Json(json!({"logged_in": true})).into_response();
            if let Some(c) = set_cookie(&g.cookie, &id) {
                r.headers_mut().insert(header::SET_COOKIE, c);
            }
            r
        }
        Err(e) => deny(StatusCode::SERVICE_UNAVAILABLE, &e.to_string()),
    }
}

/// `POST /api/v1/logout`: ends the session of the cookie and clears it.
pub(crate) async fn logout(g: Gate, headers: HeaderMap) -> Response {
    if let Some(id) = cookie(&headers, &g.cookie) {
        g.analyzer.access().close_session(id);
    }
    let mut r = Json(json!({"logged_in": false})).into_response();
    if let Some(c) = clear_cookie(&g.cookie) {
        r.headers_mut().insert(header::SET_COOKIE, c);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).expect("value"));
        }
        h
    }

    #[test]
    fn every_route_is_classified() {
        let get = Method::GET;
        for (m, path, q, need) in [
            (&get, "/healthz", None, Need::Nothing),
            (&get, "/", None, Need::Nothing),
            (&get, "/app.js", None, Need::Nothing),
            (&get, "/", Some("token=abc"), Need::LoginLink),
            (&get, "/", Some("x=1&token="), Need::LoginLink),
            (&get, "/", Some("login=failed"), Need::Nothing),
            (&get, "/metrics", None, Need::Metrics),
            (&Method::POST, "/api/v1/ingest", None, Need::Sensor),
            (&Method::PUT, "/api/v1/rules", None, Need::Sensor),
            (&get, "/api/v1/rules", None, Need::Api),
            (&get, "/api/v1/protocols", None, Need::Api),
            (&get, "/api/v1/alerts", None, Need::Api),
            (
                &Method::POST,
                "/api/v1/alerts/0000000000000001/ack",
                None,
                Need::Api,
            ),
            (&get, "/api/v1/nothing", None, Need::Api),
            (&get, "/api", None, Need::Api),
            (&get, "/api/v2/x", None, Need::Api),
            (&Method::POST, "/api/v1/login", None, Need::Nothing),
            (&Method::POST, "/api/v1/logout", None, Need::Api),
        ] {
            assert_eq!(classify(m, path, q), need, "{m} {path} {q:?}");
        }
    }

    #[test]
    fn bearer_scheme_in_any_case() {
        for v in ["Bearer abc", "bearer abc", "BEARER abc", "  bEaReR   abc  "] {
            let h = headers(&[("authorization", v)]);
            assert_eq!(bearer(&h), Some(Ok("abc")), "{v}");
        }
        for v in ["Basic YWJj", "Bearer", "Bearerabc", "Token abc"] {
            let h = headers(&[("authorization", v)]);
            assert_eq!(bearer(&h), Some(Err(())), "{v}");
        }
        assert_eq!(bearer(&HeaderMap::new()), None);
    }

    #[test]
    fn cookies_are_found_by_exact_name() {
        let h = headers(&[
            ("cookie", "a=1; otwatch_session_80=xyz"),
            ("cookie", "otwatch_session_8080=abc"),
        ]);
        assert_eq!(cookie(&h, "otwatch_session_8080"), Some("abc"));
        assert_eq!(cookie(&h, "otwatch_session_80"), Some("xyz"));
        assert_eq!(cookie(&h, "otwatch_session"), None);
    }

    #[test]
    fn csrf_wants_this_host_and_json() {
        let ok = [
            ("host", "127.0.0.1:8080"),
            ("origin", "http://127.0.0.1:8080"),
            ("content-type", "application/json; charset=utf-8"),
        ];
        assert!(csrf_check(&headers(&ok)).is_ok());
        // Behind a TLS proxy the page's origin is https.
        let proxied = [
            ("host", "ids.example"),
            ("origin", "https://ids.example"),
            ("content-type", "application/json"),
        ];
        assert!(csrf_check(&headers(&proxied)).is_ok());
        let referer = [
            ("host", "127.0.0.1:8080"),
            ("referer", "http://127.0.0.1:8080/#/alerts"),
            ("content-type", "application/json"),
        ];
        assert!(csrf_check(&headers(&referer)).is_ok());
        let status = |pairs: &[(&'static str, &str)]| {
            csrf_check(&headers(pairs)).err().map(|r| r.0.as_u16())
        };
        assert_eq!(
            status(&[
                ("host", "127.0.0.1:8080"),
                ("origin", "http://evil.example"),
                ("content-type", "application/json"),
            ]),
            Some(403)
        );
        assert_eq!(
            status(&[
                ("host", "127.0.0.1:8080"),
                ("origin", "http://127.0.0.1:8080.evil.example"),
                ("content-type", "application/json"),
            ]),
            Some(403)
        );
        assert_eq!(
            status(&[
                ("host", "127.0.0.1:8080"),
                ("origin", "null"),
                ("content-type", "application/json"),
            ]),
            Some(403)
        );
        assert_eq!(
            status(&[
                ("host", "127.0.0.1:8080"),
                ("content-type", "application/json")
            ]),
            Some(403)
        );
        assert_eq!(
            status(&[
                ("host", "127.0.0.1:8080"),
                ("origin", "http://127.0.0.1:8080"),
                ("content-type", "text/plain"),
            ]),
            Some(415)
        );
    }

    #[test]
    fn query_values_are_decoded() {
        assert_eq!(
            query_value(Some("a=1&token=x%2By+z"), "token").as_deref(),
            Some("x+y z")
        );
        assert_eq!(query_value(Some("token"), "token").as_deref(), Some(""));
        assert_eq!(query_value(Some("%zz=1"), "token"), None);
        assert_eq!(
            query_value(Some("token=%4"), "token").as_deref(),
            Some("%4")
        );
        assert_eq!(
            query_value(Some("token=%ff"), "token").as_deref(),
            Some("\u{fffd}")
        );
    }

    #[test]
    fn session_ids_round_trip_and_expire() {
        let id = random32().expect("random");
        assert_eq!(unhex32(&hex(&id)), Some(id));
        assert_eq!(unhex32("zz"), None);
        assert_eq!(unhex32(&"g".repeat(64)), None);
        let now = Instant::now();
        let fresh = Session {
            created: now,
            last: now,
        };
        assert!(alive(&fresh, now));
        assert!(!alive(&fresh, now + SESSION_IDLE));
        let busy = Session {
            created: now,
            last: now + SESSION_MAX,
        };
        assert!(!alive(&busy, now + SESSION_MAX));
    }
}
