//! The HTTP API. Every response is JSON (errors too: `{"error": "…"}`); bad
//! parameters are 400s. Store reads run on the blocking pool; writes go
//! through the writer thread.

mod baseline;
mod overrides;

use std::collections::HashSet;
use std::convert::Infallible;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, RawQuery, State as Ax};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::stream::Stream;
use percent_encoding::percent_decode_str;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::broadcast::error::RecvError;

use crate::auth::{self, Gate};
use crate::groups::group_json;
use crate::metrics::label;
use crate::record::{RecordView, State};
use crate::render::{detail_of, id_text, parse_id, summary_of};
use crate::rules::{parse_severity, severity_name, RuleInfo};
use crate::store::{kind, Filter};
use crate::time::{format_eve, parse_query_time};
use crate::{Analyzer, IngestError, StateReport, Subscription};

/// An error answer.
pub(crate) struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

fn bad(msg: impl Into<String>) -> ApiError {
    ApiError(StatusCode::BAD_REQUEST, msg.into())
}

fn not_found(msg: impl Into<String>) -> ApiError {
    ApiError(StatusCode::NOT_FOUND, msg.into())
}

fn unavailable(msg: impl std::fmt::Display) -> ApiError {
    ApiError(StatusCode::SERVICE_UNAVAILABLE, msg.to_string())
}

type ApiResult = Result<Response, ApiError>;

/// Runs a store read on the blocking pool.
async fn read<T: Send + 'static>(
    a: &Analyzer,
    f: impl FnOnce(&crate::store::Store) -> Result<T, crate::StoreError> + Send + 'static,
) -> Result<T, ApiError> {
    let store = a.store().clone();
    tokio::task::spawn_blocking(move || f(&store))
        .await
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
}

/// The routes, behind the access layer ([`crate::auth`]); `port` names the
/// session cookie.
pub(crate) fn router(a: Analyzer, ui: Option<Router>, port: Option<u16>) -> Router {
    let max_body = usize::try_from(a.config().max_body.0).unwrap_or(usize::MAX);
    let gate = Gate {
        analyzer: a.clone(),
        cookie: Arc::from(auth::cookie_name(port)),
    };
    let (g1, g2) = (gate.clone(), gate.clone());
    let api = Router::new()
        .route("/alerts", get(list_alerts))
        .route("/alerts/state", post(bulk_state))
        .route("/alerts/{id}", get(one_alert))
        .route("/alerts/{id}/state", post(alert_state))
        .route("/alerts/{id}/ack", post(alert_ack))
        .route("/alerts/{id}/close", post(alert_close))
        .route("/alert-groups", get(list_groups))
        .route("/alert-groups/{id}", get(one_group))
        .route("/alert-groups/{id}/alerts", get(group_alerts))
        .route("/alert-groups/{id}/state", post(group_state))
        .route("/alert-groups/{id}/ack", post(group_ack))
        .route("/alert-groups/{id}/close", post(group_close))
        .route("/counts", get(counts))
        .route("/rules", get(list_rules).put(put_rules))
        .route("/rules/{id}", get(one_rule))
        .route("/protocols", get(list_protocols))
        .route("/sensors", get(sensors))
        .route("/assets", get(list_assets))
        .route("/assets/{ip}", get(one_asset))
        .route("/stats", get(store_stats))
        .route("/baseline", get(baseline::status))
        .route("/baseline/file", get(baseline::download))
        .route("/baseline/deviations", get(baseline::deviations))
        .route("/baseline/accept", post(baseline::accept))
        .route("/baseline/keep", post(baseline::keep))
        .route("/overrides", get(overrides::list).post(overrides::add))
        .route("/overrides/remove", post(overrides::remove))
        .route("/stream", get(stream))
        .route(
            "/ingest",
            post(ingest).layer(DefaultBodyLimit::max(max_body)),
        )
        .route(
            "/login",
            post(move |h: HeaderMap, b: Bytes| auth::login(g1.clone(), h, b))
                .layer(DefaultBodyLimit::max(4096)),
        )
        .route(
            "/logout",
            post(move |h: HeaderMap| auth::logout(g2.clone(), h)),
        )
        .fallback(|| async { not_found("no such endpoint") });
    let r = Router::new()
        .nest("/api/v1", api)
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics_text));
    let r = match ui {
        Some(ui) => r.fallback_service(ui),
        None => r.fallback(|| async { not_found("no such page") }),
    };
    let body = BodyLimits {
        timeout: a.config().http.body_timeout.0,
        max: max_body,
    };
    // Outermost first: credentials are checked before a body is read; the
    // time of every request is measured, refused ones included.
    let timed = a.clone();
    r.with_state(a)
        .layer(axum::middleware::from_fn_with_state(body, body_deadline))
        .layer(axum::middleware::from_fn_with_state(gate, auth::layer))
        .layer(axum::middleware::from_fn_with_state(timed, timed_request))
}

/// Records how long each request took in
/// `otwatch_analyzer_http_request_duration_seconds` (for `/stream`, the time
/// to its first byte: the answer's head).
async fn timed_request(
    Ax(a): Ax<Analyzer>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let t0 = std::time::Instant::now();
    let handler = crate::metrics::handler_of(req.uri().path());
    let method = match *req.method() {
        axum::http::Method::GET => "GET",
        axum::http::Method::POST => "POST",
        axum::http::Method::PUT => "PUT",
        axum::http::Method::DELETE => "DELETE",
        axum::http::Method::HEAD => "HEAD",
        _ => "other",
    };
    let answer = next.run(req).await;
    let code = match answer.status().as_u16() {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    };
    let labels = vec![
        ("handler".to_string(), handler.to_string()),
        ("method".to_string(), method.to_string()),
        ("code".to_string(), code.to_string()),
    ];
    a.metrics()
        .http_duration
        .get_or_create(&labels)
        .observe(t0.elapsed().as_secs_f64());
    answer
}

/// How long a request body may take to arrive, and its largest size.
#[derive(Clone, Copy)]
struct BodyLimits {
    timeout: std::time::Duration,
    max: usize,
}

/// Reads the whole body of a request that has one within `http.body_timeout`
/// (408 and the connection closed past it), then hands the request on; the
/// routes' own size limits still apply.
async fn body_deadline(
    Ax(limits): Ax<BodyLimits>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    use axum::http::Method;
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    match tokio::time::timeout(limits.timeout, axum::body::to_bytes(body, limits.max)).await {
        Ok(Ok(bytes)) => {
            let req = axum::extract::Request::from_parts(parts, axum::body::Body::from(bytes));
            next.run(req).await
        }
        Ok(Err(_)) => ApiError(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "the body is larger than {} bytes or was cut off",
                limits.max
            ),
        )
        .into_response(),
        Err(_) => {
            let mut r = ApiError(
                StatusCode::REQUEST_TIMEOUT,
                format!(
                    "the body did not arrive within {} s",
                    limits.timeout.as_secs_f64()
                ),
            )
            .into_response();
            r.headers_mut().insert(
                header::CONNECTION,
                axum::http::HeaderValue::from_static("close"),
            );
            r
        }
    }
}

/// `/healthz`: 200 `{"status":"ok"}`, or 503 `{"status":"degraded",
/// "reason":…,"since":…}` while store writes fail (reads still work).
async fn healthz(Ax(a): Ax<Analyzer>) -> Response {
    match a.store().failure() {
        None => Json(json!({"status": "ok"})).into_response(),
        Some((reason, since)) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({
                "status": "degraded",
                "reason": reason,
                "since": crate::time::format_rfc3339(since),
            })),
        )
            .into_response(),
    }
}

/// OpenMetrics for a scraper that accepts it, else the 0.0.4 text format.
async fn metrics_text(Ax(a): Ax<Analyzer>, headers: axum::http::HeaderMap) -> Response {
    let openmetrics = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("application/openmetrics-text"));
    let kind = if openmetrics {
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    } else {
        "text/plain; version=0.0.4; charset=utf-8"
    };
    (
        [(header::CONTENT_TYPE, kind)],
        a.metrics().render(openmetrics),
    )
        .into_response()
}

async fn ingest(Ax(a): Ax<Analyzer>, body: Bytes) -> ApiResult {
    let m = a.metrics();
    match a.ingest(&body).await {
        Ok(r) => {
            m.ingest_requests
                .get_or_create(&label("result", "ok"))
                .inc();
            Ok(Json(r).into_response())
        }
        Err(IngestError::Lines(lines)) => {
            m.ingest_requests
                .get_or_create(&label("result", "bad_request"))
                .inc();
            Ok((
                StatusCode::BAD_REQUEST,
                Json(json!({"error": "invalid lines; nothing of this batch was stored", "lines": lines})),
            )
                .into_response())
        }
        Err(IngestError::Unavailable(e)) => {
            m.ingest_requests
                .get_or_create(&label("result", "unavailable"))
                .inc();
            Err(unavailable(e))
        }
    }
}

/// Query parameters: repeated keys and comma-separated values both work.
struct Params(Vec<(String, String)>);

impl Params {
    /// Decodes the query string as a form (`application/x-www-form-urlencoded`).
    /// Form decoding passes a malformed escape (`%zz`) through as text and
    /// replaces escaped bytes that are not UTF-8; the API refuses both.
    fn parse(q: Option<String>) -> Result<Params, ApiError> {
        let q = q.unwrap_or_default();
        let invalid = || bad("the query string is not valid URL encoding");
        if !escapes_well_formed(&q) || percent_decode_str(&q).decode_utf8().is_err() {
            return Err(invalid());
        }
        serde_urlencoded::from_str(&q)
            .map(Params)
            .map_err(|_| invalid())
    }

    fn check_known(&self, known: &[&str]) -> Result<(), ApiError> {
        for (k, _) in &self.0 {
            if !known.contains(&k.as_str()) {
                return Err(bad(format!(
                    "unknown parameter `{k}`; known: {}",
                    known.join(", ")
                )));
            }
        }
        Ok(())
    }

    fn list(&self, key: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .flat_map(|(_, v)| v.split(','))
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect()
    }

    fn one(&self, key: &str) -> Result<Option<&str>, ApiError> {
        let mut it = self.0.iter().filter(|(k, _)| k == key);
        let first = it.next().map(|(_, v)| v.as_str());
        if it.next().is_some() {
            return Err(bad(format!("`{key}` given twice")));
        }
        Ok(first)
    }
}

/// Whether every `%` of `q` starts an escape of two hex digits.
fn escapes_well_formed(q: &str) -> bool {
    q.split('%').skip(1).all(|rest| {
        rest.as_bytes()
            .get(..2)
            .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit))
    })
}

const FILTER_KEYS: [&str; 11] = [
    "from", "to", "severity", "protocol", "rule", "host", "src_ip", "dest_ip", "state", "sensor",
    "q",
];

fn filter_of(p: &Params) -> Result<Filter, ApiError> {
    let time = |k: &str| -> Result<Option<u64>, ApiError> {
        p.one(k)?
            .map(|v| {
                parse_query_time(v)
                    .ok_or_else(|| bad(format!("`{k}`: {v:?} is not RFC 3339 or epoch seconds")))
            })
            .transpose()
    };
    let mut f = Filter {
        from: time("from")?,
        to: time("to")?,
        ..Default::default()
    };
    for v in p.list("severity") {
        f.severity.push(
            parse_severity(v)
                .ok_or_else(|| bad(format!("`severity`: {v:?} is not 1-5 or a name")))?,
        );
    }
    for v in p.list("rule") {
        f.rule.push(
            v.parse()
                .map_err(|_| bad(format!("`rule`: {v:?} is not a rule id")))?,
        );
    }
    for v in p.list("state") {
        f.state
            .push(State::parse(v).ok_or_else(|| {
                bad(format!("`state`: {v:?} is not new, acknowledged or closed"))
            })?);
    }
    for (key, list) in [
        ("host", &mut f.host),
        ("src_ip", &mut f.src_ip),
        ("dest_ip", &mut f.dest_ip),
    ] {
        for v in p.list(key) {
            let ip: std::net::IpAddr = v
                .parse()
                .map_err(|_| bad(format!("`{key}`: {v:?} is not an IP address")))?;
            list.push(ip.to_string());
        }
    }
    f.protocol = p
        .list("protocol")
        .into_iter()
        .map(|s| s.to_ascii_lowercase())
        .collect();
    f.sensor = p.list("sensor").into_iter().map(str::to_string).collect();
    if let Some(q) = p.one("q")? {
        if q.len() > 256 {
            return Err(bad("`q` is longer than 256 bytes"));
        }
        if !q.is_empty() {
            f.text = Some(q.to_ascii_lowercase());
        }
    }
    if let (Some(a), Some(b)) = (f.from, f.to) {
        if a > b {
            return Err(bad("`from` is after `to`"));
        }
    }
    Ok(f)
}

fn cursor_text(c: (u64, u64)) -> String {
    format!("{:016x}{:016x}", c.0, c.1)
}

fn parse_cursor(s: &str) -> Option<(u64, u64)> {
    if s.len() != 32 || !s.is_ascii() {
        return None;
    }
    Some((
        u64::from_str_radix(&s[..16], 16).ok()?,
        u64::from_str_radix(&s[16..], 16).ok()?,
    ))
}

/// The filters, `limit` and `cursor` of a list request.
type ListQuery = (Filter, usize, Option<(u64, u64)>);

/// Reads the filters, `limit` (1–1000, 50) and `cursor` of a list.
fn list_query(q: Option<String>) -> Result<ListQuery, ApiError> {
    let p = Params::parse(q)?;
    let mut known = FILTER_KEYS.to_vec();
    known.extend(["limit", "cursor"]);
    p.check_known(&known)?;
    let f = filter_of(&p)?;
    let limit = match p.one("limit")? {
        None => 50,
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=1000).contains(n))
            .ok_or_else(|| bad(format!("`limit`: {v:?} is not 1 to 1000")))?,
    };
    let cursor = p
        .one("cursor")?
        .map(|c| parse_cursor(c).ok_or_else(|| bad("`cursor` is not one this API returned")))
        .transpose()?;
    Ok((f, limit, cursor))
}

async fn list_alerts(Ax(a): Ax<Analyzer>, RawQuery(q): RawQuery) -> ApiResult {
    let (f, limit, cursor) = list_query(q)?;
    let page = read(&a, move |s| s.query(&f, cursor, limit)).await?;
    let alerts: Vec<Value> = page
        .alerts
        .iter()
        .filter_map(|(id, b)| summary_of(*id, b))
        .collect();
    Ok(Json(json!({"alerts": alerts, "next_cursor": page.next.map(cursor_text)})).into_response())
}

async fn one_alert(Ax(a): Ax<Analyzer>, Path(id): Path<String>) -> ApiResult {
    let id = parse_id(&id).ok_or_else(|| bad(format!("{id:?} is not an alert id")))?;
    alert_json(&a, id, detail_of).await
}

/// Alert `id` as stored now, rendered by `view` (its summary or its detail).
async fn alert_json(a: &Analyzer, id: u64, view: fn(u64, &[u8]) -> Option<Value>) -> ApiResult {
    let bytes = read(a, move |s| s.get(id))
        .await?
        .ok_or_else(|| not_found("no such alert"))?;
    let v = view(id, &bytes).ok_or_else(|| {
        ApiError(
            StatusCode::INTERNAL_SERVER_ERROR,
            "unreadable record".into(),
        )
    })?;
    Ok(Json(v).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StateBody {
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    ids: Option<Vec<String>>,
    by: String,
    #[serde(default)]
    note: String,
}

fn parse_body(body: &Bytes) -> Result<StateBody, ApiError> {
    let b: StateBody = serde_json::from_slice(body).map_err(|e| bad(format!("body: {e}")))?;
    if b.by.trim().is_empty() || b.by.len() > 128 {
        return Err(bad("`by` must be 1 to 128 bytes"));
    }
    if b.note.len() > 4096 {
        return Err(bad("`note` is longer than 4096 bytes"));
    }
    Ok(b)
}

async fn change_state(
    a: &Analyzer,
    ids: Vec<u64>,
    state: State,
    b: &StateBody,
) -> Result<StateReport, ApiError> {
    a.set_state(ids, state, b.by.trim(), &b.note)
        .await
        .map_err(unavailable)
}

/// The state a one-alert or one-group change sets: the path's (`/ack`,
/// `/close`) or the body's (`/state`), never both.
fn path_state(fixed: Option<State>, b: &StateBody) -> Result<State, ApiError> {
    if b.ids.is_some() {
        return Err(bad("`ids` belongs to POST /api/v1/alerts/state"));
    }
    match (fixed, &b.state) {
        (Some(s), None) => Ok(s),
        (Some(_), Some(_)) => Err(bad("`state` is given by the path")),
        (None, Some(s)) => State::parse(s)
            .ok_or_else(|| bad(format!("`state`: {s:?} is not new, acknowledged or closed"))),
        (None, None) => Err(bad("missing `state`")),
    }
}

async fn single_state(a: Analyzer, id: String, body: Bytes, fixed: Option<State>) -> ApiResult {
    let id = parse_id(&id).ok_or_else(|| bad(format!("{id:?} is not an alert id")))?;
    let b = parse_body(&body)?;
    let state = path_state(fixed, &b)?;
    let changed = change_state(&a, vec![id], state, &b).await?;
    if !changed.not_found.is_empty() {
        return Err(not_found("no such alert"));
    }
    alert_json(&a, id, summary_of).await
}

async fn alert_state(Ax(a): Ax<Analyzer>, Path(id): Path<String>, body: Bytes) -> ApiResult {
    single_state(a, id, body, None).await
}

async fn alert_ack(Ax(a): Ax<Analyzer>, Path(id): Path<String>, body: Bytes) -> ApiResult {
    single_state(a, id, body, Some(State::Acknowledged)).await
}

async fn alert_close(Ax(a): Ax<Analyzer>, Path(id): Path<String>, body: Bytes) -> ApiResult {
    single_state(a, id, body, Some(State::Closed)).await
}

async fn bulk_state(Ax(a): Ax<Analyzer>, body: Bytes) -> ApiResult {
    let b = parse_body(&body)?;
    let state = b.state.as_deref().ok_or_else(|| bad("missing `state`"))?;
    let state = State::parse(state).ok_or_else(|| {
        bad(format!(
            "`state`: {state:?} is not new, acknowledged or closed"
        ))
    })?;
    let texts = b.ids.clone().ok_or_else(|| bad("missing `ids`"))?;
    if texts.is_empty() || texts.len() > 10_000 {
        return Err(bad("`ids` must list 1 to 10000 alerts"));
    }
    let mut ids = Vec::with_capacity(texts.len());
    for t in &texts {
        ids.push(parse_id(t).ok_or_else(|| bad(format!("{t:?} is not an alert id")))?);
    }
    let unique: HashSet<u64> = ids.iter().copied().collect();
    let mut ids: Vec<u64> = unique.into_iter().collect();
    ids.sort_unstable();
    let changed = change_state(&a, ids, state, &b).await?;
    let missing: Vec<String> = changed.not_found.into_iter().map(id_text).collect();
    Ok(
        Json(json!({"updated": changed.updated, "state": state.name(), "not_found": missing}))
            .into_response(),
    )
}

fn parse_group_id(id: &str) -> Result<u64, ApiError> {
    parse_id(id).ok_or_else(|| bad(format!("{id:?} is not an alert group id")))
}

/// `GET /alert-groups`: groups that pass the alert filters, newest last seen first.
async fn list_groups(Ax(a): Ax<Analyzer>, RawQuery(q): RawQuery) -> ApiResult {
    let (f, limit, cursor) = list_query(q)?;
    let page = read(&a, move |s| s.query_groups(&f, cursor, limit)).await?;
    let groups: Vec<Value> = page
        .groups
        .iter()
        .map(|r| group_json(r.id, &r.group, r.latest.as_deref()))
        .collect();
    Ok(Json(json!({"groups": groups, "next_cursor": page.next.map(cursor_text)})).into_response())
}

/// Group `id` as stored now.
async fn group_now(a: &Analyzer, id: u64) -> Result<Value, ApiError> {
    let row = read(a, move |s| s.group(id))
        .await?
        .ok_or_else(|| not_found("no such alert group"))?;
    Ok(group_json(row.id, &row.group, row.latest.as_deref()))
}

async fn one_group(Ax(a): Ax<Analyzer>, Path(id): Path<String>) -> ApiResult {
    let id = parse_group_id(&id)?;
    Ok(Json(group_now(&a, id).await?).into_response())
}

/// `GET /alert-groups/ID/alerts`: the group's members, newest first, with
/// the alert list's filters.
async fn group_alerts(
    Ax(a): Ax<Analyzer>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let id = parse_group_id(&id)?;
    let (mut f, limit, cursor) = list_query(q)?;
    f.group = Some(id);
    let (exists, page) = read(&a, move |s| {
        Ok((s.group(id)?.is_some(), s.query(&f, cursor, limit)?))
    })
    .await?;
    if !exists {
        return Err(not_found("no such alert group"));
    }
    let alerts: Vec<Value> = page
        .alerts
        .iter()
        .filter_map(|(id, b)| summary_of(*id, b))
        .collect();
    Ok(Json(json!({"alerts": alerts, "next_cursor": page.next.map(cursor_text)})).into_response())
}

async fn group_change(a: Analyzer, id: String, body: Bytes, fixed: Option<State>) -> ApiResult {
    let id = parse_group_id(&id)?;
    let b = parse_body(&body)?;
    let state = path_state(fixed, &b)?;
    let changed = a
        .set_group_state(id, state, b.by.trim(), &b.note)
        .await
        .map_err(unavailable)?
        .ok_or_else(|| not_found("no such alert group"))?;
    let group = group_now(&a, id).await?;
    Ok(
        Json(json!({"updated": changed.updated, "state": state.name(), "group": group}))
            .into_response(),
    )
}

async fn group_state(Ax(a): Ax<Analyzer>, Path(id): Path<String>, body: Bytes) -> ApiResult {
    group_change(a, id, body, None).await
}

async fn group_ack(Ax(a): Ax<Analyzer>, Path(id): Path<String>, body: Bytes) -> ApiResult {
    group_change(a, id, body, Some(State::Acknowledged)).await
}

async fn group_close(Ax(a): Ax<Analyzer>, Path(id): Path<String>, body: Bytes) -> ApiResult {
    group_change(a, id, body, Some(State::Closed)).await
}

async fn counts(Ax(a): Ax<Analyzer>, RawQuery(q): RawQuery) -> ApiResult {
    let p = Params::parse(q)?;
    p.check_known(&["by", "from", "to", "bucket"])?;
    let by = p
        .one("by")?
        .ok_or_else(|| bad("missing `by` (severity, protocol, rule, host, sensor, state, time)"))?;
    let t = |k: &str| -> Result<Option<u64>, ApiError> {
        p.one(k)?
            .map(|v| parse_query_time(v).ok_or_else(|| bad(format!("`{k}`: {v:?} is not a time"))))
            .transpose()
    };
    let (from, to) = (t("from")?, t("to")?);
    let bucket = match p.one("bucket")? {
        None => 3600,
        Some(v) => v
            .parse::<u64>()
            .ok()
            .filter(|b| *b >= 60 && b % 60 == 0 && *b <= 366 * 86_400)
            .ok_or_else(|| bad("`bucket` is a number of seconds, a multiple of 60"))?,
    };
    if by != "time" && p.one("bucket")?.is_some() {
        return Err(bad("`bucket` is only for by=time"));
    }
    if by == "state" {
        if from.is_some() || to.is_some() {
            return Err(bad(
                "counts by state are over every stored alert: no `from`/`to`",
            ));
        }
        let rows = read(&a, |s| s.counts_with_prefix("state:")).await?;
        let counts: Vec<Value> = State::ALL
            .iter()
            .map(|st| {
                let n = rows
                    .iter()
                    .find(|(k, _)| *k == st.code().to_string())
                    .map_or(0, |r| r.1);
                json!({"key": st.name(), "count": n})
            })
            .collect();
        return Ok(Json(json!({"by": "state", "counts": counts})).into_response());
    }
    let k = match by {
        "severity" => kind::SEVERITY,
        "protocol" => kind::PROTOCOL,
        "rule" => kind::RULE,
        "host" => kind::HOST,
        "sensor" => kind::SENSOR,
        "time" => kind::TIME,
        other => {
            return Err(bad(format!(
                "`by`: {other:?} is not severity, protocol, rule, host, sensor, state or time"
            )))
        }
    };
    let (f, tt) = (from.unwrap_or(0), to.unwrap_or(u64::MAX / 2));
    if f > tt {
        return Err(bad("`from` is after `to`"));
    }
    let rows = read(&a, move |s| s.rollup(k, f, tt, bucket * 1_000_000)).await?;
    let counts: Vec<Value> = rows
        .into_iter()
        .map(|(key, n)| match k {
            kind::TIME => {
                let start: u64 = key.parse().unwrap_or(0);
                json!({"start": format_eve(start), "count": n})
            }
            kind::SEVERITY => {
                let s: u8 = key.parse().unwrap_or(0);
                json!({"key": s, "name": severity_name(s), "count": n})
            }
            kind::RULE => json!({"key": key.parse::<u64>().unwrap_or(0), "count": n}),
            _ => json!({"key": key, "count": n}),
        })
        .collect();
    let mut out = json!({"by": by, "counts": counts});
    if k == kind::TIME {
        out["bucket"] = json!(bucket);
    }
    Ok(Json(out).into_response())
}

fn rule_json(r: &RuleInfo, hits: u64, last: Option<u64>, with_yaml: bool) -> Value {
    let mut v = json!({
        "id": r.id, "rev": r.rev, "name": r.name, "severity": r.severity, "protocol": r.protocol,
        "description": r.description, "attack": r.attack, "hits": hits,
        "last_hit": last.map(format_eve), "loaded": true,
    });
    if with_yaml {
        v["yaml"] = json!(r.yaml);
    }
    v
}

async fn list_rules(Ax(a): Ax<Analyzer>) -> ApiResult {
    let rules = a.rules();
    let rows = read(&a, move |s| {
        let hits = s.counts_with_prefix("rule:")?;
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        for r in rules.iter() {
            seen.insert(r.id);
            let n = hits
                .iter()
                .find(|(k, _)| *k == r.id.to_string())
                .map_or(0, |h| h.1);
            let last = if n > 0 { s.rule_last_hit(r.id)? } else { None };
            out.push(rule_json(r, n, last, false));
        }
        // Rules that fired but are not in the loaded list (older rule sets, asset changes).
        for (k, n) in hits {
            let Ok(id) = k.parse::<u32>() else { continue };
            if seen.contains(&id) {
                continue;
            }
            let last = s.rule_last_hit(id)?;
            out.push(
                json!({"id": id, "hits": n, "last_hit": last.map(format_eve), "loaded": false}),
            );
        }
        Ok(out)
    })
    .await?;
    Ok(Json(json!({"rules": rows})).into_response())
}

async fn one_rule(Ax(a): Ax<Analyzer>, Path(id): Path<String>) -> ApiResult {
    let id: u32 = id
        .parse()
        .map_err(|_| bad(format!("{id:?} is not a rule id")))?;
    let rule = a
        .rules()
        .iter()
        .find(|r| r.id == id)
        .cloned()
        .ok_or_else(|| not_found("no such rule"))?;
    let (hits, last) = read(&a, move |s| {
        Ok((s.count(&format!("rule:{id}"))?, s.rule_last_hit(id)?))
    })
    .await?;
    Ok(Json(rule_json(&rule, hits, last, true)).into_response())
}

async fn put_rules(Ax(a): Ax<Analyzer>, body: Bytes) -> ApiResult {
    let rules: Vec<RuleInfo> =
        serde_json::from_slice(&body).map_err(|e| bad(format!("body: {e}")))?;
    let mut ids = HashSet::new();
    for r in &rules {
        if !ids.insert(r.id) {
            return Err(bad(format!("rule {} is listed twice", r.id)));
        }
    }
    let n = rules.len();
    a.set_rules(rules);
    Ok(Json(json!({"rules": n})).into_response())
}

/// `/api/v1/protocols`: the decoded protocols, from the registry.
async fn list_protocols() -> Json<Value> {
    Json(crate::protocols::list())
}

fn stats_summary(stats: &Value) -> Value {
    let cap = &stats["capture"];
    let drops = cap
        .get("kernel_drops")
        .or_else(|| cap.get("drops"))
        .cloned()
        .unwrap_or(Value::Null);
    json!({
        "packets": cap.get("packets").cloned().unwrap_or(Value::Null),
        "bytes": cap.get("bytes").cloned().unwrap_or(Value::Null),
        "drops": drops,
        "flows": stats["flow"].get("active").cloned().unwrap_or(Value::Null),
    })
}

async fn sensors(Ax(a): Ax<Analyzer>) -> ApiResult {
    let (list, counts) = read(&a, |s| Ok((s.sensors()?, s.counts_with_prefix("sensor:")?))).await?;
    let out: Vec<Value> = list
        .into_iter()
        .map(|s| {
            let alerts = counts.iter().find(|(k, _)| *k == s.name).map_or(0, |c| c.1);
            json!({
                "name": s.name,
                "first_seen": format_eve(s.first_seen),
                "last_seen": format_eve(s.last_seen),
                "alerts": alerts,
                "last_stats": s.stats.as_ref().map(|st| {
                    let mut v = stats_summary(st);
                    v["timestamp"] = json!(s.stats_ts.map(format_eve));
                    v
                }),
                "stats": s.stats,
            })
        })
        .collect();
    Ok(Json(json!({"sensors": out})).into_response())
}

async fn list_assets(Ax(a): Ax<Analyzer>, RawQuery(q): RawQuery) -> ApiResult {
    let p = Params::parse(q)?;
    p.check_known(&["protocol", "role", "q"])?;
    let protocols: Vec<String> = p
        .list("protocol")
        .iter()
        .map(|s| s.to_ascii_lowercase())
        .collect();
    let roles: Vec<String> = p.list("role").iter().map(|s| s.to_string()).collect();
    let text = p.one("q")?.map(str::to_ascii_lowercase);
    let list = read(&a, |s| s.assets()).await?;
    let out: Vec<Value> = list
        .into_iter()
        .filter(|x| protocols.is_empty() || x.protocols.iter().any(|p| protocols.contains(p)))
        .filter(|x| roles.is_empty() || x.roles.iter().any(|r| roles.contains(r)))
        .filter_map(|x| serde_json::to_value(x).ok())
        .filter(|v| {
            text.as_deref()
                .is_none_or(|t| v.to_string().to_ascii_lowercase().contains(t))
        })
        .collect();
    Ok(Json(json!({"assets": out})).into_response())
}

async fn one_asset(Ax(a): Ax<Analyzer>, Path(ip): Path<String>) -> ApiResult {
    let ip: std::net::IpAddr = ip
        .parse()
        .map_err(|_| bad(format!("{ip:?} is not an IP address")))?;
    let ip = ip.to_string();
    let asset = read(&a, move |s| s.asset(&ip))
        .await?
        .ok_or_else(|| not_found("no such asset"))?;
    Ok(Json(asset).into_response())
}

async fn store_stats(Ax(a): Ax<Analyzer>) -> ApiResult {
    let dir = a.config().data_dir.clone();
    let (total, bytes, sev) = read(&a, |s| {
        Ok((
            s.count("total")?,
            s.count("bytes")?,
            s.counts_with_prefix("sev:")?,
        ))
    })
    .await?;
    let by_sev: serde_json::Map<String, Value> = sev
        .into_iter()
        .map(|(k, n)| (severity_name(k.parse().unwrap_or(0)).to_string(), json!(n)))
        .collect();
    Ok(Json(json!({
        "alerts": total,
        "live_bytes": bytes,
        "file_bytes": crate::store::Store::file_size(&dir),
        "by_severity": by_sev,
    }))
    .into_response())
}

struct StreamState {
    live: Subscription,
    backlog: std::collections::VecDeque<(u64, Vec<u8>)>,
    after: u64,
    filter: Filter,
}

fn alert_event(id: u64, bytes: &[u8], f: &Filter) -> Option<Event> {
    let r = RecordView::decode(bytes)?;
    if !f.matches(&r) {
        return None;
    }
    let v = summary_of(id, bytes)?;
    Some(
        Event::default()
            .event("alert")
            .id(id_text(id))
            .data(v.to_string()),
    )
}

async fn stream(
    Ax(a): Ax<Analyzer>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let p = Params::parse(q)?;
    p.check_known(&FILTER_KEYS)?;
    let filter = filter_of(&p)?;
    // Before the backlog is read, so that nothing committed meanwhile is missed.
    let live = a.subscribe();
    let resume = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(parse_id);
    let mut backlog = std::collections::VecDeque::new();
    let mut after = 0;
    if let Some(last) = resume {
        // Replay what was stored since, then go live (live items already replayed are skipped).
        let rows = read(&a, move |s| s.after(last, 10_000)).await?;
        after = rows.last().map_or(last, |r| r.0);
        backlog.extend(rows);
    }
    let state = StreamState {
        live,
        backlog,
        after,
        filter,
    };
    let s = futures_util::stream::unfold(state, |mut st| async move {
        while let Some((id, bytes)) = st.backlog.pop_front() {
            if let Some(ev) = alert_event(id, &bytes, &st.filter) {
                return Some((Ok(ev), st));
            }
        }
        loop {
            if *st.live.stop.borrow() {
                return None;
            }
            tokio::select! {
                r = st.live.alerts.recv() => match r {
                    Ok(p) => {
                        if p.id <= st.after {
                            continue;
                        }
                        if let Some(ev) = alert_event(p.id, &p.record, &st.filter) {
                            return Some((Ok(ev), st));
                        }
                    }
                    Err(RecvError::Lagged(n)) => {
                        st.live.skipped(n);
                        let ev = Event::default().event("skipped").data(json!({"skipped": n}).to_string());
                        return Some((Ok(ev), st));
                    }
                    Err(RecvError::Closed) => return None,
                },
                _ = st.live.stop.changed() => {}
            }
        }
    });
    Ok(Sse::new(s).keep_alive(KeepAlive::default()))
}
