//! `/api/v1/baseline…`: the review workflow of the learned baseline. The
//! state and a summary of the file, its download, the deviations since
//! enforcement started grouped for review, Accept (the group's entries are
//! added to the file, which is saved and reloaded; its alerts are closed
//! with [`ACCEPTED_NOTE`]) and keep alerting (its alerts are acknowledged
//! with [`KEPT_NOTE`]).

use std::path::{Path, PathBuf};

use axum::body::Bytes;
use axum::extract::{RawQuery, State as Ax};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use otwatch_proto::event::Timestamp;
use otwatch_rules::baseline::file::{self, MAX_BASELINE_FILE_BYTES};
use otwatch_rules::baseline::{Accepted, Baseline};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{bad, not_found, read, unavailable, ApiError, ApiResult, Params};
use crate::baseline::{
    deviation_of, group, group_key, Reload, Rows, ACCEPTED_NOTE, KEPT_NOTE, LAYER, MAX_SCAN,
};
use crate::record::{RecordView, State};
use crate::render::parse_id;
use crate::store::{Filter, Store};
use crate::time::format_rfc3339;
use crate::{Analyzer, StoreError};

fn conflict(msg: impl Into<String>) -> ApiError {
    ApiError(StatusCode::CONFLICT, msg.into())
}

fn internal(msg: impl Into<String>) -> ApiError {
    ApiError(StatusCode::INTERNAL_SERVER_ERROR, msg.into())
}

/// Runs blocking file work on the blocking pool.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| internal(e.to_string()))?
}

/// The numbers of a baseline the page shows.
fn summary_json(b: &Baseline) -> Value {
    json!({
        "servers": b.servers().count(),
        "pairs": b.pairs(),
        "operations": b.operations(),
        "learned": {
            "from": b.learned.from.map(file::format_time),
            "until": b.learned.until.map(file::format_time),
            "sources": b.learned.sources,
        },
    })
}

/// `GET /api/v1/baseline`: the state, the file and whether Accept works.
pub(super) async fn status(Ax(a): Ax<Analyzer>) -> ApiResult {
    let review = a.review();
    let path = review.hook.as_ref().map(|h| h.path.clone());
    let (summary, file_error) = match path.clone() {
        None => (Value::Null, Value::Null),
        Some(p) => match blocking(move || Ok(file::load(&p))).await? {
            Ok(b) => (summary_json(&b), Value::Null),
            Err(e) => (Value::Null, json!(e.to_string())),
        },
    };
    let why_not = review.why_no_accept();
    Ok(Json(json!({
        "state": review.state.name(),
        "since": review.state.since_micros().map(format_rfc3339),
        "until": review.state.until_micros().map(format_rfc3339),
        "path": path.map(|p| p.display().to_string()),
        "summary": summary,
        "file_error": file_error,
        "can_accept": why_not.is_none(),
        "why_not": why_not,
    }))
    .into_response())
}

/// The download name of `path`: its file name when it is plain, else
/// `baseline.yaml`.
fn download_name(path: &Path) -> String {
    path.file_name()
        .and_then(|n| n.to_str())
        .filter(|n| {
            !n.is_empty()
                && n.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        })
        .unwrap_or("baseline.yaml")
        .to_string()
}

/// Reads the file (at most the size a baseline may have).
fn read_file(path: &Path) -> Result<Vec<u8>, ApiError> {
    use std::io::Read;
    let shown = path.display();
    let f = std::fs::File::open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => not_found(format!(
            "the baseline file {shown} does not exist (yet: learning writes it when it ends)"
        )),
        _ => internal(format!("cannot read {shown}: {e}")),
    })?;
    let mut out = Vec::new();
    f.take(MAX_BASELINE_FILE_BYTES + 1)
        .read_to_end(&mut out)
        .map_err(|e| internal(format!("cannot read {shown}: {e}")))?;
    if out.len() as u64 > MAX_BASELINE_FILE_BYTES {
        return Err(internal(format!(
            "{shown} is larger than {MAX_BASELINE_FILE_BYTES} bytes"
        )));
    }
    Ok(out)
}

/// `GET /api/v1/baseline/file`: the YAML file as an attachment.
pub(super) async fn download(Ax(a): Ax<Analyzer>) -> ApiResult {
    let hook = a
        .review()
        .hook
        .ok_or_else(|| not_found("no baseline file is configured"))?;
    let path = hook.path.clone();
    let bytes = blocking(move || read_file(&path)).await?;
    let disposition = format!("attachment; filename=\"{}\"", download_name(&hook.path));
    Ok((
        [
            (header::CONTENT_TYPE, "text/yaml; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, disposition),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        bytes,
    )
        .into_response())
}

/// Deviation alerts since `since`, newest first, at most [`MAX_SCAN`];
/// `true` when there are more.
fn scan(s: &Store, since: Option<u64>) -> Result<(Rows, bool), StoreError> {
    let f = Filter {
        protocol: vec![LAYER.to_string()],
        from: since,
        ..Default::default()
    };
    let mut rows = Vec::new();
    let mut cursor = None;
    loop {
        let page = s.query(&f, cursor, (MAX_SCAN - rows.len()).min(1000))?;
        rows.extend(page.alerts);
        match page.next {
            None => return Ok((rows, false)),
            Some(_) if rows.len() >= MAX_SCAN => return Ok((rows, true)),
            next => cursor = next,
        }
    }
}

/// `GET /api/v1/baseline/deviations?limit=N`: the groups, newest first.
pub(super) async fn deviations(Ax(a): Ax<Analyzer>, RawQuery(q): RawQuery) -> ApiResult {
    let p = Params::parse(q)?;
    p.check_known(&["limit"])?;
    let limit = match p.one("limit")? {
        None => 200,
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=1000).contains(n))
            .ok_or_else(|| bad(format!("`limit`: {v:?} is not 1 to 1000")))?,
    };
    let since = a.review().state.since_micros();
    let (rows, truncated) = read(&a, move |s| scan(s, since)).await?;
    let groups = group(&rows);
    let shown: Vec<Value> = groups.iter().take(limit).map(|g| g.to_json()).collect();
    Ok(Json(json!({
        "since": since.map(format_rfc3339),
        "groups": shown,
        "more_groups": groups.len() > limit,
        "scanned": rows.len(),
        "truncated": truncated,
    }))
    .into_response())
}

/// The body of Accept and keep alerting.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReviewBody {
    /// The API id of one alert of the group.
    id: String,
    /// Who reviews (shown with the alerts' state).
    #[serde(default)]
    by: Option<String>,
}

fn parse_review(body: &Bytes) -> Result<(u64, String), ApiError> {
    let b: ReviewBody = serde_json::from_slice(body).map_err(|e| bad(format!("body: {e}")))?;
    let id = parse_id(&b.id).ok_or_else(|| bad(format!("{:?} is not an alert id", b.id)))?;
    let by = b.by.as_deref().map(str::trim).unwrap_or_default();
    if by.len() > 128 {
        return Err(bad("`by` is longer than 128 bytes"));
    }
    let by = if by.is_empty() { "baseline review" } else { by };
    Ok((id, by.to_string()))
}

/// The alert reviewed and the alerts of its group.
struct Reviewed {
    /// The alert's EVE line and event time.
    eve: Value,
    ts: u64,
    /// The group's alerts since enforcement (the alert itself included).
    members: Rows,
}

/// Finds alert `id`, checks that it is a deviation, and gathers its group.
async fn reviewed(a: &Analyzer, id: u64) -> Result<Reviewed, ApiError> {
    let bytes = read(a, move |s| s.get(id))
        .await?
        .ok_or_else(|| not_found("no such alert"))?;
    let r = RecordView::decode(&bytes).ok_or_else(|| internal("unreadable record"))?;
    let ts = r.ts;
    let eve: Value = serde_json::from_slice(r.json).map_err(|_| internal("unreadable record"))?;
    let key = eve
        .get("baseline")
        .and_then(group_key)
        .ok_or_else(|| conflict("the alert is not a baseline deviation (no `baseline` object)"))?;
    let since = a.review().state.since_micros();
    let (rows, _) = read(a, move |s| scan(s, since)).await?;
    let mut members: Rows = rows
        .into_iter()
        .filter(|(_, b)| {
            RecordView::decode(b)
                .and_then(|r| serde_json::from_slice::<Value>(r.json).ok())
                .is_some_and(|e| deviation_of(&e).is_some_and(|(_, k)| k == key))
        })
        .collect();
    if !members.iter().any(|(m, _)| *m == id) {
        members.push((id, bytes));
    }
    Ok(Reviewed { eve, ts, members })
}

fn timestamp(micros: u64) -> Timestamp {
    let secs = i64::try_from(micros / 1_000_000).unwrap_or(i64::MAX);
    Timestamp::new(secs, u32::try_from(micros % 1_000_000 * 1000).unwrap_or(0))
}

/// What Accept adds for each stored deviation alert that reads back.
fn accepted_of(members: &[(u64, Vec<u8>)]) -> Vec<Accepted> {
    members
        .iter()
        .filter_map(|(_, b)| {
            let r = RecordView::decode(b)?;
            let eve: Value = serde_json::from_slice(r.json).ok()?;
            Accepted::from_eve(&eve, timestamp(r.ts)).ok()
        })
        .collect()
}

/// Loads the file, adds `entries`, saves it and reloads: the new summary
/// and what the reload said.
fn apply(
    path: &Path,
    entries: &[Accepted],
    reload: &Reload,
) -> Result<(Value, Result<String, String>), ApiError> {
    let mut b = file::load(path).map_err(|e| internal(format!("the baseline file: {e}")))?;
    for e in entries {
        b.accept(e);
    }
    file::save(&b, path).map_err(|e| internal(format!("cannot write {}: {e}", path.display())))?;
    Ok((summary_json(&b), reload()))
}

/// What the answer shows of the entry added.
fn added_json(eve: &Value) -> Value {
    let b = &eve["baseline"];
    let mut out = serde_json::Map::new();
    for k in [
        "deviation",
        "server",
        "protocol",
        "port",
        "client",
        "station",
        "operation",
    ] {
        out.insert(k.into(), b.get(k).cloned().unwrap_or(Value::Null));
    }
    Value::Object(out)
}

/// `POST /api/v1/baseline/accept` `{"id": "…", "by": "…"}`: adds the
/// group of alert `id` to the baseline file, saves and reloads it, and
/// closes the group's alerts with [`ACCEPTED_NOTE`].
pub(super) async fn accept(Ax(a): Ax<Analyzer>, body: Bytes) -> ApiResult {
    let (id, by) = parse_review(&body)?;
    let review = a.review();
    let hook = review
        .hook
        .clone()
        .ok_or_else(|| unavailable("no baseline file is configured: nothing to accept into"))?;
    if let Some(why) = review.why_no_accept() {
        return Err(conflict(why));
    }
    let target = reviewed(&a, id).await?;
    Accepted::from_eve(&target.eve, timestamp(target.ts))
        .map_err(|e| conflict(format!("the deviation cannot be accepted: {e}")))?;
    let entries = accepted_of(&target.members);
    let path: PathBuf = hook.path.clone();
    let reload = hook.reload.clone();
    let held = a.clone();
    let (summary, reloaded) = blocking(move || {
        let _one_at_a_time = held.accepting();
        apply(&path, &entries, &reload)
    })
    .await?;
    let ids: Vec<u64> = target.members.iter().map(|(m, _)| *m).collect();
    let closed = a
        .set_state(ids, State::Closed, &by, ACCEPTED_NOTE)
        .await
        .map_err(|e| unavailable(format!("the baseline file was changed, but {e}")))?;
    let (ok, message) = match reloaded {
        Ok(m) => (true, m),
        Err(m) => (false, m),
    };
    Ok(Json(json!({
        "accepted": added_json(&target.eve),
        "alerts": closed.updated,
        "path": hook.path.display().to_string(),
        "summary": summary,
        "reload": {"ok": ok, "message": message},
    }))
    .into_response())
}

/// `POST /api/v1/baseline/keep` `{"id": "…", "by": "…"}`: the reviewer
/// keeps alerting on the group of alert `id`: its alerts are acknowledged
/// with [`KEPT_NOTE`], the baseline is not changed.
pub(super) async fn keep(Ax(a): Ax<Analyzer>, body: Bytes) -> ApiResult {
    let (id, by) = parse_review(&body)?;
    let target = reviewed(&a, id).await?;
    let ids: Vec<u64> = target.members.iter().map(|(m, _)| *m).collect();
    let done = a
        .set_state(ids, State::Acknowledged, &by, KEPT_NOTE)
        .await
        .map_err(unavailable)?;
    Ok(Json(json!({"kept": added_json(&target.eve), "alerts": done.updated})).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_download_name_is_plain_or_a_default() {
        assert_eq!(download_name(Path::new("/x/plant.yaml")), "plant.yaml");
        assert_eq!(download_name(Path::new("/x/a \"b\".yaml")), "baseline.yaml");
        assert_eq!(download_name(Path::new("/")), "baseline.yaml");
    }

    #[test]
    fn microseconds_become_a_timestamp() {
        let t = timestamp(1_764_352_800_000_123);
        assert_eq!((t.secs, t.nanos), (1_764_352_800, 123_000));
    }
}
