//! The web UI: the static files of `alerts-ui/`, embedded in the binary at
//! build time, served as the fallback of the analyzer's router (everything
//! that is not `/api/v1/…`, `/metrics` or `/healthz`).
//!
//! The UI is a single page routed by the URL fragment (`/#/alerts?…`), so the
//! server only knows a fixed list of files. Every answer carries a strict
//! Content-Security-Policy (scripts, styles and connections only from this
//! origin, no inline script): data shown by the UI comes from packets, and the
//! page renders it as text, with the policy as a second wall.
//!
//! These files hold no data and are served to anyone (they include the login
//! form); everything the page shows comes from `/api/v1`, behind the access
//! layer ([`crate::auth`]), which also answers the login link `/?token=…`.
//!
//! ```text
//! let app = analyzer.router(Some(otwatch_analyzer::ui::router()));
//! ```

use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;

/// One embedded file.
struct File {
    path: &'static str,
    mime: &'static str,
    body: &'static [u8],
}

macro_rules! ui_file {
    ($path:literal, $mime:literal) => {
        File {
            path: $path,
            mime: $mime,
            body: include_bytes!(concat!("../../alerts-ui/", $path)),
        }
    };
}

/// The files of the UI (`alerts-ui/`); `/` is `index.html`.
const FILES: &[File] = &[
    ui_file!("index.html", "text/html; charset=utf-8"),
    ui_file!("style.css", "text/css; charset=utf-8"),
    // Scripts: ES modules, `app.js` the entry (alerts-ui/README.md has the map).
    ui_file!("app.js", "text/javascript; charset=utf-8"),
    ui_file!("api.js", "text/javascript; charset=utf-8"),
    ui_file!("stream.js", "text/javascript; charset=utf-8"),
    ui_file!("router.js", "text/javascript; charset=utf-8"),
    ui_file!("keys.js", "text/javascript; charset=utf-8"),
    ui_file!("login.js", "text/javascript; charset=utf-8"),
    ui_file!("state.js", "text/javascript; charset=utf-8"),
    ui_file!("page.js", "text/javascript; charset=utf-8"),
    ui_file!("filters.js", "text/javascript; charset=utf-8"),
    ui_file!("labels.js", "text/javascript; charset=utf-8"),
    ui_file!("pages/overview.js", "text/javascript; charset=utf-8"),
    ui_file!("pages/alerts.js", "text/javascript; charset=utf-8"),
    ui_file!("pages/alert.js", "text/javascript; charset=utf-8"),
    ui_file!("pages/assets.js", "text/javascript; charset=utf-8"),
    ui_file!("pages/rules.js", "text/javascript; charset=utf-8"),
    ui_file!("pages/baseline.js", "text/javascript; charset=utf-8"),
    ui_file!("pages/overrides.js", "text/javascript; charset=utf-8"),
    ui_file!("dom.js", "text/javascript; charset=utf-8"),
    ui_file!("views.js", "text/javascript; charset=utf-8"),
    ui_file!("attack.js", "text/javascript; charset=utf-8"),
    ui_file!("favicon.svg", "image/svg+xml"),
];

/// The Content-Security-Policy of every UI answer.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
img-src 'self' data:; connect-src 'self'; font-src 'self'; manifest-src 'self'; \
base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// FNV-1a, for the ETag of an embedded file.
const fn fnv(b: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < b.len() {
        h ^= b[i] as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
        i += 1;
    }
    h
}

fn find(path: &str) -> Option<&'static File> {
    let name = match path.trim_start_matches('/') {
        "" => "index.html",
        p => p,
    };
    FILES.iter().find(|f| f.path == name)
}

fn security_headers(h: &mut HeaderMap) {
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
}

/// Answers one request for a UI file.
pub fn respond(method: &Method, uri: &Uri, req_headers: &HeaderMap) -> Response {
    let mut headers = HeaderMap::new();
    security_headers(&mut headers);
    if method != Method::GET && method != Method::HEAD {
        headers.insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return (
            StatusCode::METHOD_NOT_ALLOWED,
            headers,
            "method not allowed\n",
        )
            .into_response();
    }
    let Some(file) = find(uri.path()) else {
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        return (StatusCode::NOT_FOUND, headers, "no such page\n").into_response();
    };
    let etag = format!("\"{:016x}\"", fnv(file.body));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, v);
    }
    // Small files: always revalidate, so a new binary never serves a stale UI.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    let fresh = req_headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    if fresh {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(file.mime));
    if method == Method::HEAD {
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(file.body.len()));
        return (StatusCode::OK, headers).into_response();
    }
    (StatusCode::OK, headers, file.body).into_response()
}

/// The router serving the embedded UI; give it to [`crate::Analyzer::router`],
/// [`crate::Analyzer::run`] or [`crate::Server::run`] as `ui`.
pub fn router() -> Router {
    Router::new().fallback(|method: Method, uri: Uri, headers: HeaderMap| async move {
        respond(&method, &uri, &headers)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(path: &str, h: HeaderMap) -> Response {
        respond(&Method::GET, &path.parse().expect("uri"), &h)
    }

    #[test]
    fn serves_every_file_with_its_type_and_the_policy() {
        for f in FILES {
            let r = get(&format!("/{}", f.path), HeaderMap::new());
            assert_eq!(r.status(), StatusCode::OK, "{}", f.path);
            assert_eq!(r.headers()[header::CONTENT_TYPE], f.mime);
            assert_eq!(r.headers()[header::CONTENT_SECURITY_POLICY], CSP);
            assert!(!f.body.is_empty(), "{}", f.path);
        }
        let r = get("/", HeaderMap::new());
        assert_eq!(
            r.headers()[header::CONTENT_TYPE],
            "text/html; charset=utf-8"
        );
    }

    /// The UI's files on disk that the page loads: everything in `alerts-ui/`
    /// but the tests, the npm and lint files and the README.
    fn files_on_disk(dir: &std::path::Path, prefix: &str, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).expect("alerts-ui is readable") {
            let entry = entry.expect("directory entry");
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = format!("{prefix}{name}");
            if entry.file_type().expect("file type").is_dir() {
                if !matches!(name.as_str(), "node_modules" | "tests") && !name.starts_with('.') {
                    files_on_disk(&entry.path(), &format!("{path}/"), out);
                }
            } else if [".html", ".css", ".js", ".svg"]
                .iter()
                .any(|x| name.ends_with(x))
                && name != "eslint.config.js"
            {
                out.push(path);
            }
        }
    }

    #[test]
    fn every_file_of_the_ui_and_every_module_it_imports_is_embedded() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../alerts-ui");
        let mut on_disk = Vec::new();
        files_on_disk(&dir, "", &mut on_disk);
        for path in &on_disk {
            assert!(find(path).is_some(), "alerts-ui/{path} is not in FILES");
        }
        // Each `from './x.js'` / `from '../x.js'` names an embedded file.
        for f in FILES.iter().filter(|f| f.path.ends_with(".js")) {
            let text = std::str::from_utf8(f.body).expect("utf-8");
            let base = f.path.rsplit_once('/').map_or("", |(d, _)| d);
            for (i, _) in text.match_indices(" from '") {
                let rest = &text[i + 7..];
                let spec = &rest[..rest.find('\'').expect("closing quote")];
                let target = if let Some(up) = spec.strip_prefix("../") {
                    up.to_owned()
                } else if let Some(here) = spec.strip_prefix("./") {
                    if base.is_empty() {
                        here.to_owned()
                    } else {
                        format!("{base}/{here}")
                    }
                } else {
                    panic!("{} imports {spec}: not a file of the UI", f.path)
                };
                assert!(
                    find(&target).is_some_and(|t| t.mime.starts_with("text/javascript")),
                    "{} imports {spec}, which is not embedded as a script",
                    f.path
                );
            }
        }
    }

    #[test]
    fn unknown_paths_are_404_and_etags_revalidate() {
        assert_eq!(
            get("/nope.js", HeaderMap::new()).status(),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            get("/../Cargo.toml", HeaderMap::new()).status(),
            StatusCode::NOT_FOUND
        );
        let r = get("/app.js", HeaderMap::new());
        let etag = r.headers()[header::ETAG].clone();
        let mut h = HeaderMap::new();
        h.insert(header::IF_NONE_MATCH, etag);
        assert_eq!(get("/app.js", h).status(), StatusCode::NOT_MODIFIED);
        let post = respond(&Method::POST, &"/".parse().expect("uri"), &HeaderMap::new());
        assert_eq!(post.status(), StatusCode::METHOD_NOT_ALLOWED);
    }

    #[test]
    fn the_page_loads_nothing_from_elsewhere_and_writes_no_markup() {
        for f in FILES.iter().filter(|f| !f.mime.starts_with("image/")) {
            let text = std::str::from_utf8(f.body).expect("utf-8");
            for bad in [
                "src=\"http",
                "href=\"http",
                "url(http",
                "@import",
                "from 'http",
                "fetch('http",
                "//cdn",
            ] {
                assert!(
                    !text.contains(bad),
                    "{} loads from elsewhere ({bad})",
                    f.path
                );
            }
            for bad in [
                ".innerHTML",
                ".outerHTML",
                "insertAdjacentHTML",
                "document.write",
                "eval(",
            ] {
                assert!(
                    !text.contains(bad),
                    "{} writes markup or code ({bad})",
                    f.path
                );
            }
        }
        let index = std::str::from_utf8(FILES[0].body).expect("utf-8");
        assert!(!index.contains("<script>"), "inline script in index.html");
        // No inline event handler attribute (` onclick=`…).
        let handler = index.match_indices(" on").any(|(i, _)| {
            let rest = &index[i + 3..];
            let name = rest.bytes().take_while(u8::is_ascii_lowercase).count();
            name > 0 && rest[name..].starts_with('=')
        });
        assert!(!handler, "inline event handler in index.html");
    }
}
