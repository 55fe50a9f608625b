//! Access control over real HTTP: a server on port 0, requests written by
//! hand (so every header is the one the test means), exact statuses.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use common::*;
use otwatch_analyzer::auth::{TokenSource, TOKEN_ENV, TOKEN_FILE};
use otwatch_analyzer::{Analyzer, Config};
use serde_json::{json, Value};

/// One HTTP answer.
#[derive(Debug)]
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::String(self.body.clone()))
    }
}

fn dechunk(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, after)) = rest.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || after.len() < n {
            break;
        }
        out.push_str(&after[..n]);
        rest = after[n..].trim_start_matches("\r\n");
    }
    out
}

/// Sends one request (`Connection: close`; `Host` is the server's unless
/// `headers` names one) and reads the whole answer.
fn raw(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Reply {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let mut req = format!("{method} {path} HTTP/1.1\r\nConnection: close\r\n");
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        req.push_str(&format!("Host: {addr}\r\n"));
    }
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    s.write_all(req.as_bytes()).expect("send");
    let mut reply = Vec::new();
    s.read_to_end(&mut reply).expect("read");
    let text = String::from_utf8_lossy(&reply).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").expect("an HTTP answer");
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .expect("status line");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_string()
    };
    Reply {
        status,
        headers,
        body,
    }
}

const BEARER_API: &str = "Bearer api-token-for-tests";
const NEED: &str =
    "missing or wrong credentials: send Authorization: Bearer <API token>, or log in";
const INGEST_ONLY: &str = "an ingest token may only POST /api/v1/ingest and PUT /api/v1/rules; this route needs the API token";

/// Every route of the API that reads or changes something, with a body that
/// the handler would accept.
const ROUTES: &[(&str, &str, &str)] = &[
    ("GET", "/api/v1/alerts", ""),
    ("GET", "/api/v1/alerts/0000000000000001", ""),
    ("GET", "/api/v1/counts?by=severity", ""),
    ("GET", "/api/v1/rules", ""),
    ("GET", "/api/v1/rules/110001", ""),
    ("GET", "/api/v1/protocols", ""),
    ("GET", "/api/v1/sensors", ""),
    ("GET", "/api/v1/assets", ""),
    ("GET", "/api/v1/assets/10.0.0.1", ""),
    ("GET", "/api/v1/stats", ""),
    ("GET", "/api/v1/stream", ""),
    ("GET", "/api/v1/nothing", ""),
    ("GET", "/metrics", ""),
    (
        "POST",
        "/api/v1/alerts/0000000000000001/ack",
        r#"{"by":"x"}"#,
    ),
    (
        "POST",
        "/api/v1/alerts/0000000000000001/close",
        r#"{"by":"x"}"#,
    ),
    (
        "POST",
        "/api/v1/alerts/0000000000000001/state",
        r#"{"state":"closed","by":"x"}"#,
    ),
    (
        "POST",
        "/api/v1/alerts/state",
        r#"{"ids":["0000000000000001"],"state":"closed","by":"x"}"#,
    ),
    ("POST", "/api/v1/logout", "{}"),
];

/// One critical alert in the store; returns its API id.
fn seed_one(s: &TestServer) -> String {
    let (status, v) = ingest(
        s,
        &ndjson(&[alert(1, 110001, 1, "modbus", "10.0.0.2", "10.0.0.1", 0)]),
    );
    assert_eq!(status, 200, "{v}");
    let (_, list) = get(&s.url("/api/v1/alerts"));
    list["alerts"][0]["id"].as_str().expect("id").to_string()
}

fn state_of(s: &TestServer, id: &str) -> Value {
    get(&s.url(&format!("/api/v1/alerts/{id}"))).1["state"].clone()
}

/// Logs in through `/?token=` and returns the `name=value` of the cookie.
fn login_cookie(s: &TestServer) -> String {
    let r = raw(s.addr, "GET", "/?token=api-token-for-tests", &[], "");
    assert_eq!(r.status, 303, "{r:?}");
    let set = r.header("set-cookie").expect("a cookie");
    set.split(';').next().expect("name=value").to_string()
}

#[test]
fn every_read_and_state_route_wants_credentials() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = TestServer::start_ui(config(dir.path()));
    let id = seed_one(&s);
    for (method, path, body) in ROUTES {
        for auth in [
            None,
            Some("Bearer wrong-token-123"),
            Some("Basic YXBpOmFwaS10b2tlbi1mb3ItdGVzdHM="),
            Some("api-token-for-tests"),
        ] {
            let mut h = vec![("Content-Type", "application/json")];
            if let Some(a) = auth {
                h.push(("Authorization", a));
            }
            let r = raw(s.addr, method, path, &h, body);
            assert_eq!(
                (r.status, r.json()),
                (401, json!({ "error": NEED })),
                "{method} {path} with {auth:?}"
            );
            assert_eq!(
                r.header("www-authenticate"),
                Some("Bearer realm=\"otwatch\""),
                "{method} {path}"
            );
        }
        // A cookie that is no session of this server opens nothing either.
        let port = s.addr.port();
        let forged = format!("otwatch_session_{port}={}", "ab".repeat(32));
        let r = raw(s.addr, method, path, &[("Cookie", &forged)], body);
        assert_eq!(r.status, 401, "{method} {path} with a forged cookie");
    }
    assert_eq!(state_of(&s, &id), "new", "no state change went through");
    // Open: the health check and the page (the login form), nothing else.
    assert_eq!(raw(s.addr, "GET", "/healthz", &[], "").status, 200);
    let page = raw(s.addr, "GET", "/", &[], "");
    assert_eq!(page.status, 200);
    assert!(page.body.contains("app.js"), "the UI shell");
    assert!(!page.body.contains("s1-1"), "the page holds no data");
    assert_eq!(raw(s.addr, "GET", "/app.js", &[], "").status, 200);
}

#[test]
fn the_bearer_scheme_is_case_insensitive() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = TestServer::start(config(dir.path()));
    for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
        let auth = format!("{scheme} {API_TOKEN}");
        let r = raw(
            s.addr,
            "GET",
            "/api/v1/alerts",
            &[("Authorization", &auth)],
            "",
        );
        assert_eq!(
            (r.status, r.json()),
            (200, json!({"alerts": [], "next_cursor": null})),
            "{scheme}"
        );
        let r = raw(s.addr, "GET", "/metrics", &[("Authorization", &auth)], "");
        assert_eq!(r.status, 200, "{scheme} /metrics");
        assert!(r.body.contains("otwatch_analyzer_"), "{}", r.body);
    }
}

#[test]
fn an_ingest_token_only_ingests() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = TestServer::start(config(dir.path()));
    let id = seed_one(&s);
    let sensor = format!("Bearer {TOKEN}");
    for (method, path, body) in ROUTES {
        let h = [
            ("Authorization", sensor.as_str()),
            ("Content-Type", "application/json"),
        ];
        let r = raw(s.addr, method, path, &h, body);
        assert_eq!(
            (r.status, r.json()),
            (403, json!({ "error": INGEST_ONLY })),
            "{method} {path}"
        );
    }
    assert_eq!(state_of(&s, &id), "new");
    // What a sensor needs: ingest, and reporting its loaded rules.
    let line = ndjson(&[alert(2, 110001, 1, "modbus", "10.0.0.2", "10.0.0.1", 1)]);
    let r = raw(
        s.addr,
        "POST",
        "/api/v1/ingest",
        &[("Authorization", &sensor)],
        &line,
    );
    assert_eq!((r.status, r.json()["stored"].clone()), (200, json!(1)));
    let rules = r#"[{"id":1,"rev":1,"name":"r","severity":"high","protocol":"modbus","description":"","attack":[],"yaml":""}]"#;
    let r = raw(
        s.addr,
        "PUT",
        "/api/v1/rules",
        &[("Authorization", &sensor)],
        rules,
    );
    assert_eq!((r.status, r.json()), (200, json!({"rules": 1})));
    // The API token may do everything, ingest included.
    let line = ndjson(&[alert(3, 110001, 1, "modbus", "10.0.0.2", "10.0.0.1", 2)]);
    let r = raw(
        s.addr,
        "POST",
        "/api/v1/ingest",
        &[("Authorization", BEARER_API)],
        &line,
    );
    assert_eq!((r.status, r.json()["stored"].clone()), (200, json!(1)));
    // Refused ingests are counted.
    let r = raw(
        s.addr,
        "POST",
        "/api/v1/ingest",
        &[("Authorization", "Bearer nope-nope-nope")],
        &line,
    );
    assert_eq!(r.status, 401);
    let m = raw(
        s.addr,
        "GET",
        "/metrics",
        &[("Authorization", BEARER_API)],
        "",
    );
    assert!(
        m.body
            .lines()
            .any(|l| l == "otwatch_analyzer_ingest_requests_total{result=\"unauthorized\"} 1"),
        "{}",
        m.body
    );
}

#[test]
fn the_login_link_sets_a_session_cookie_and_a_wrong_token_does_not() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = TestServer::start_ui(config(dir.path()));
    let port = s.addr.port();
    let r = raw(s.addr, "GET", "/?token=api-token-for-tests", &[], "");
    assert_eq!(r.status, 303);
    // No fragment in Location: the browser keeps the one it opened (#/alerts).
    assert_eq!(r.header("location"), Some("/"));
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let set = r.header("set-cookie").expect("Set-Cookie");
    let (pair, attrs) = set.split_once(';').expect("attributes");
    let (name, value) = pair.split_once('=').expect("name=value");
    assert_eq!(name, format!("otwatch_session_{port}"));
    assert_eq!(value.len(), 64, "a 32-byte random session id: {value}");
    assert!(value.bytes().all(|b| b.is_ascii_hexdigit()));
    assert!(!value.contains(API_TOKEN), "the cookie is not the token");
    let attrs: Vec<&str> = attrs.split(';').map(str::trim).collect();
    for want in ["Path=/", "HttpOnly", "SameSite=Strict"] {
        assert!(attrs.contains(&want), "{want} in {set}");
    }
    // The cookie opens the API for reads.
    let r = raw(s.addr, "GET", "/api/v1/alerts", &[("Cookie", pair)], "");
    assert_eq!(r.status, 200);
    // Another login gets another session.
    assert_ne!(login_cookie(&s), pair);

    // A wrong token, or an ingest token: back to the login form, no cookie.
    for bad in [
        "/?token=wrong-token-123",
        "/?token=sensor-token-1",
        "/?token=",
    ] {
        let r = raw(s.addr, "GET", bad, &[], "");
        assert_eq!(r.status, 303, "{bad}");
        assert_eq!(r.header("location"), Some("/?login=failed"), "{bad}");
        assert_eq!(r.header("set-cookie"), None, "{bad}");
    }

    // Logout ends the session on the server and clears the cookie.
    let origin = format!("http://{}", s.addr);
    let r = raw(
        s.addr,
        "POST",
        "/api/v1/logout",
        &[
            ("Cookie", pair),
            ("Origin", &origin),
            ("Content-Type", "application/json"),
        ],
        "{}",
    );
    assert_eq!(r.status, 200, "{r:?}");
    let cleared = r.header("set-cookie").expect("cleared cookie");
    assert!(
        cleared.starts_with(&format!("otwatch_session_{port}=;")),
        "{cleared}"
    );
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    let r = raw(s.addr, "GET", "/api/v1/alerts", &[("Cookie", pair)], "");
    assert_eq!(r.status, 401, "the session ended");
}

#[test]
fn the_login_form_posts_the_token_as_json_from_this_page() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = TestServer::start(config(dir.path()));
    let origin = format!("http://{}", s.addr);
    let post = |token: &str, origin: &str, ctype: &str| {
        raw(
            s.addr,
            "POST",
            "/api/v1/login",
            &[("Origin", origin), ("Content-Type", ctype)],
            &json!({ "token": token }).to_string(),
        )
    };
    let r = post(API_TOKEN, &origin, "application/json");
    assert_eq!((r.status, r.json()), (200, json!({"logged_in": true})));
    let pair = r
        .header("set-cookie")
        .and_then(|c| c.split(';').next())
        .expect("cookie")
        .to_string();
    let r = raw(s.addr, "GET", "/api/v1/stats", &[("Cookie", &pair)], "");
    assert_eq!(r.status, 200);
    for (token, from, ctype, status) in [
        ("wrong-token-123", origin.as_str(), "application/json", 401),
        (TOKEN, origin.as_str(), "application/json", 401),
        (API_TOKEN, "http://evil.example", "application/json", 403),
        (API_TOKEN, origin.as_str(), "text/plain", 415),
    ] {
        let r = post(token, from, ctype);
        assert_eq!(r.status, status, "{token} from {from} as {ctype}");
        assert_eq!(r.header("set-cookie"), None);
    }
}

#[test]
fn a_cookie_post_from_another_site_or_as_text_changes_nothing() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = TestServer::start(config(dir.path()));
    let id = seed_one(&s);
    let cookie = login_cookie(&s);
    let path = format!("/api/v1/alerts/{id}/ack");
    let bulk = json!({"ids": [id], "state": "closed", "by": "mallory"}).to_string();
    let here = format!("http://{}", s.addr);
    let referer = format!("http://{}/#/alerts", s.addr);
    for (p, body, headers, status) in [
        // The classic cross-site form post: text/plain, from another origin.
        (
            path.as_str(),
            r#"{"by":"mallory"}"#,
            vec![
                ("Origin", "http://evil.example"),
                ("Content-Type", "text/plain"),
            ],
            403,
        ),
        (
            "/api/v1/alerts/state",
            bulk.as_str(),
            vec![
                ("Origin", "http://evil.example"),
                ("Content-Type", "application/json"),
            ],
            403,
        ),
        (
            path.as_str(),
            "by=mallory",
            vec![
                ("Origin", "null"),
                ("Content-Type", "application/x-www-form-urlencoded"),
            ],
            403,
        ),
        // No Origin and no Referer: not known to come from this page.
        (
            path.as_str(),
            r#"{"by":"mallory"}"#,
            vec![("Content-Type", "application/json")],
            403,
        ),
        (
            path.as_str(),
            r#"{"by":"mallory"}"#,
            vec![
                ("Referer", "http://evil.example/page"),
                ("Content-Type", "application/json"),
            ],
            403,
        ),
        // From this page but not JSON.
        (
            path.as_str(),
            r#"{"by":"mallory"}"#,
            vec![("Origin", here.as_str()), ("Content-Type", "text/plain")],
            415,
        ),
    ] {
        let mut h = headers.clone();
        h.push(("Cookie", cookie.as_str()));
        let r = raw(s.addr, "POST", p, &h, body);
        assert_eq!(r.status, status, "{p} {headers:?}: {}", r.body);
    }
    assert_eq!(state_of(&s, &id), "new", "nothing changed");
    // The page itself: same origin (or a Referer of this host), JSON.
    let r = raw(
        s.addr,
        "POST",
        &path,
        &[
            ("Cookie", &cookie),
            ("Origin", &here),
            ("Content-Type", "application/json"),
        ],
        r#"{"by":"alice"}"#,
    );
    assert_eq!(
        (r.status, r.json()["state"].clone()),
        (200, json!("acknowledged"))
    );
    let r = raw(
        s.addr,
        "POST",
        &format!("/api/v1/alerts/{id}/close"),
        &[
            ("Cookie", &cookie),
            ("Referer", &referer),
            ("Content-Type", "application/json"),
        ],
        r#"{"by":"alice"}"#,
    );
    assert_eq!(
        (r.status, r.json()["state"].clone()),
        (200, json!("closed"))
    );
    // A bearer client needs no Origin.
    let r = raw(
        s.addr,
        "POST",
        &format!("/api/v1/alerts/{id}/state"),
        &[
            ("Authorization", BEARER_API),
            ("Content-Type", "text/plain"),
        ],
        r#"{"state":"new","by":"script"}"#,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    // A session cookie cannot ingest (a page has no business there).
    let r = raw(
        s.addr,
        "POST",
        "/api/v1/ingest",
        &[("Cookie", &cookie), ("Origin", &here)],
        &ndjson(&[alert(9, 110001, 1, "modbus", "10.0.0.2", "10.0.0.1", 0)]),
    );
    assert_eq!(r.status, 403);
}

#[test]
fn metrics_open_only_when_configured() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut c = config(dir.path());
    c.metrics_open = true;
    let s = TestServer::start(c);
    let r = raw(s.addr, "GET", "/metrics", &[], "");
    assert_eq!(r.status, 200);
    assert!(r.body.contains("otwatch_analyzer_"));
    assert_eq!(raw(s.addr, "GET", "/api/v1/alerts", &[], "").status, 401);
}

/// Opens and closes an analyzer on `dir` with no `api_token` in its config.
fn open_without_token(dir: &std::path::Path) -> Result<(String, TokenSource), String> {
    assert!(
        std::env::var_os(TOKEN_ENV).is_none(),
        "unset {TOKEN_ENV} to run this test"
    );
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let a = Analyzer::open(Config::new(dir, TOKEN)).map_err(|e| e.to_string())?;
        let out = (a.api_token().to_string(), a.api_token_source());
        a.close().await;
        Ok(out)
    })
}

#[test]
fn a_generated_token_is_kept_with_mode_0600_and_reused() {
    let dir = tempfile::tempdir().expect("tmp");
    let data = dir.path().join("data");
    let (first, source) = open_without_token(&data).expect("first start");
    assert_eq!(source, TokenSource::Generated);
    assert_eq!(first.len(), 64, "32 random bytes in hex: {first}");
    assert!(first.bytes().all(|b| b.is_ascii_hexdigit()));
    let file = data.join(TOKEN_FILE);
    let mode = std::fs::metadata(&file)
        .expect("token file")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    assert_eq!(
        std::fs::read_to_string(&file).expect("read"),
        format!("{first}\n")
    );
    let (again, source) = open_without_token(&data).expect("second start");
    assert_eq!(
        (again.as_str(), source),
        (first.as_str(), TokenSource::File)
    );
    // Another data directory, another token.
    let (other, _) = open_without_token(&dir.path().join("other")).expect("other");
    assert_ne!(other, first);
    // A token file others can read is refused, not used.
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let e = open_without_token(&data).expect_err("mode 0644");
    assert!(e.contains("others may read it (mode 0644)"), "{e}");
    // An empty or damaged file too.
    std::fs::write(&file, "\n").expect("write");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let e = open_without_token(&data).expect_err("empty");
    assert!(e.contains("must be at least 8 characters"), "{e}");
}

#[test]
fn the_environment_token_comes_before_the_file() {
    // In a child process, so that the variable is set for it alone.
    let dir = tempfile::tempdir().expect("tmp");
    let data = dir.path().join("data");
    let cfg = dir.path().join("a.yaml");
    std::fs::write(
        &cfg,
        format!(
            "listen: 127.0.0.1:0\ndata_dir: {}\ningest_tokens: [{TOKEN}]\n",
            data.display()
        ),
    )
    .expect("config");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_analyzer-testd"))
        .arg(&cfg)
        .env(TOKEN_ENV, "token-from-the-environment")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("analyzer-testd");
    let mut line = String::new();
    let out = child.stdout.take().expect("stdout");
    std::io::BufRead::read_line(&mut std::io::BufReader::new(out), &mut line).expect("read");
    let addr: SocketAddr = line
        .trim()
        .strip_prefix("listening ")
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("{line:?}"));
    let ok = raw(
        addr,
        "GET",
        "/api/v1/alerts",
        &[("Authorization", "Bearer token-from-the-environment")],
        "",
    );
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(ok.status, 200);
    assert!(
        !data.join(TOKEN_FILE).exists(),
        "no file when the variable is set"
    );
}

fn short_timeouts(dir: &std::path::Path) -> Config {
    let mut c = config(dir);
    c.http.header_timeout = otwatch_analyzer::config::HumanDuration(Duration::from_secs(1));
    c
}

/// Reads until the server closes the connection; returns how long it took.
fn time_to_close(s: &mut TcpStream) -> Duration {
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let start = Instant::now();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return start.elapsed(),
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return start.elapsed(),
            Err(e) => panic!("the server kept the connection open: {e}"),
        }
    }
}

#[test]
fn idle_and_slow_connections_are_closed() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = TestServer::start(short_timeouts(dir.path()));
    // Connected, nothing sent.
    let mut idle = TcpStream::connect(s.addr).expect("connect");
    let t = time_to_close(&mut idle);
    assert!(
        t > Duration::from_millis(800) && t < Duration::from_secs(4),
        "closed after {t:?}"
    );
    // One request answered, then idle on a keep-alive connection.
    let mut kept = TcpStream::connect(s.addr).expect("connect");
    write!(kept, "GET /healthz HTTP/1.1\r\nHost: {}\r\n\r\n", s.addr).expect("send");
    let mut first = [0u8; 512];
    let n = kept.read(&mut first).expect("answer");
    assert!(
        first[..n].starts_with(b"HTTP/1.1 200"),
        "{:?}",
        String::from_utf8_lossy(&first[..n])
    );
    let t = time_to_close(&mut kept);
    assert!(
        t > Duration::from_millis(800) && t < Duration::from_secs(4),
        "keep-alive closed after {t:?}"
    );
    // Headers sent a byte at a time, never finished.
    let mut slow = TcpStream::connect(s.addr).expect("connect");
    let start = Instant::now();
    let mut closed = false;
    for b in b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".iter() {
        if slow.write_all(&[*b]).is_err() {
            closed = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
        if start.elapsed() > Duration::from_secs(4) {
            break;
        }
    }
    if !closed {
        let t = time_to_close(&mut slow);
        assert!(
            start.elapsed() < Duration::from_secs(8),
            "slow headers closed after {t:?}"
        );
    }
    assert!(start.elapsed() < Duration::from_secs(8));
}

#[test]
fn a_body_trickled_in_is_cut_off_at_the_body_timeout() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut c = short_timeouts(dir.path());
    c.http.body_timeout = otwatch_analyzer::config::HumanDuration(Duration::from_secs(1));
    let s = TestServer::start(c);
    let mut slow = TcpStream::connect(s.addr).expect("connect");
    // Headers complete (an authorised ingest of 1,000 bytes), then 10 bytes
    // of the body, then nothing.
    write!(
        slow,
        "POST /api/v1/ingest HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {TOKEN}\r\n\
         Content-Type: application/x-ndjson\r\nContent-Length: 1000\r\n\r\n{{\"event_t",
        s.addr
    )
    .expect("send");
    let start = Instant::now();
    slow.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut answer = Vec::new();
    let _ = slow.read_to_end(&mut answer);
    let took = start.elapsed();
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("did not arrive within 1 s"), "{text}");
    assert!(
        took > Duration::from_millis(800) && took < Duration::from_secs(5),
        "answered after {took:?}"
    );
    // A body sent at once is taken as before.
    let body = "{\"event_type\":\"stats\",\"timestamp\":\"2026-11-28T18:07:26.000000+0000\",\"sensor\":\"s1\",\"stats\":{}}\n";
    let mut fast = TcpStream::connect(s.addr).expect("connect");
    write!(
        fast,
        "POST /api/v1/ingest HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {TOKEN}\r\n\
         Content-Type: application/x-ndjson\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        s.addr,
        body.len()
    )
    .expect("send");
    fast.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut answer = Vec::new();
    let _ = fast.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
}

#[test]
fn a_live_stream_outlives_the_header_timeout() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = TestServer::start(short_timeouts(dir.path()));
    let mut st = TcpStream::connect(s.addr).expect("connect");
    write!(
        st,
        "GET /api/v1/stream HTTP/1.1\r\nHost: {}\r\nAuthorization: {BEARER_API}\r\n\r\n",
        s.addr
    )
    .expect("send");
    st.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut head = [0u8; 1024];
    let n = st.read(&mut head).expect("headers");
    assert!(head[..n].starts_with(b"HTTP/1.1 200"));
    std::thread::sleep(Duration::from_millis(2500));
    let (status, _) = ingest(
        &s,
        &ndjson(&[alert(5, 110001, 1, "modbus", "10.0.0.2", "10.0.0.1", 0)]),
    );
    assert_eq!(status, 200);
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !String::from_utf8_lossy(&got).contains("s1-5") && Instant::now() < deadline {
        let mut buf = [0u8; 4096];
        match st.read(&mut buf) {
            Ok(0) => panic!("the stream was closed"),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) => panic!("stream: {e}"),
        }
    }
    assert!(String::from_utf8_lossy(&got).contains("event: alert"));
}

/// A connection from `src` (a loopback address) to `to`.
fn connect_from(src: &str, to: SocketAddr) -> TcpStream {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket
            .bind(format!("{src}:0").parse().expect("addr"))
            .expect("bind");
        socket
            .connect(to)
            .await
            .expect("connect")
            .into_std()
            .expect("std")
    })
}

#[test]
fn one_host_cannot_take_every_connection() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut c = config(dir.path());
    c.http.max_connections = 16;
    c.http.max_connections_per_host = 2;
    let s = TestServer::start(c);
    // 127.0.0.1 holds two idle connections; its third is closed at once.
    let _a = connect_from("127.0.0.1", s.addr);
    let _b = connect_from("127.0.0.1", s.addr);
    std::thread::sleep(Duration::from_millis(200));
    let mut third = connect_from("127.0.0.1", s.addr);
    third.set_nonblocking(false).expect("blocking");
    let start = Instant::now();
    let t = time_to_close(&mut third);
    assert!(
        t < Duration::from_millis(800),
        "third connection open for {t:?}"
    );
    assert!(start.elapsed() < Duration::from_secs(2));
    // Another host is served meanwhile.
    let mut other = connect_from("127.0.0.2", s.addr);
    other.set_nonblocking(false).expect("blocking");
    write!(
        other,
        "GET /healthz HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        s.addr
    )
    .expect("send");
    other
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut answer = Vec::new();
    let _ = other.read_to_end(&mut answer);
    assert!(
        answer.starts_with(b"HTTP/1.1 200"),
        "{:?}",
        String::from_utf8_lossy(&answer)
    );
}

#[test]
fn connections_beyond_the_cap_wait_for_a_free_one() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut c = config(dir.path());
    c.http.max_connections = 2;
    let s = TestServer::start(c);
    let a = TcpStream::connect(s.addr).expect("first");
    let _b = TcpStream::connect(s.addr).expect("second");
    std::thread::sleep(Duration::from_millis(200));
    let mut third = TcpStream::connect(s.addr).expect("third (kernel queue)");
    write!(
        third,
        "GET /healthz HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        s.addr
    )
    .expect("send");
    third
        .set_read_timeout(Some(Duration::from_millis(800)))
        .expect("timeout");
    let mut buf = [0u8; 512];
    match third.read(&mut buf) {
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) => {}
        other => panic!("the third connection was served while two were open: {other:?}"),
    }
    drop(a);
    third
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let n = third.read(&mut buf).expect("served once a slot freed");
    assert!(
        buf[..n].starts_with(b"HTTP/1.1 200"),
        "{:?}",
        String::from_utf8_lossy(&buf[..n])
    );
}
