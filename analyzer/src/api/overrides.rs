//! `/api/v1/overrides`: the analyst's suppressions of a rule for a source,
//! a destination or a pair. The list, an addition and a removal; each
//! change is saved to the embedder's file (atomically, mode 0600) and then
//! the sensor is asked to reload its rules. A standalone analyzer has no
//! file: changes answer 409 saying so.

use std::path::PathBuf;

use axum::body::Bytes;
use axum::extract::State as Ax;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use otwatch_proto::event::Timestamp;
use otwatch_rules::overrides::{self, Overrides, Suppression};
use otwatch_rules::Pos;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{ApiError, ApiResult};
use crate::baseline::Reload;
use crate::Analyzer;

/// Why changes are refused when the embedder set no file.
const NO_FILE: &str = "no overrides file here: this analyzer runs without a sensor of its own (overrides are changed through `otwatch run`, or edited in the sensor's --overrides file)";

fn bad(msg: impl Into<String>) -> ApiError {
    ApiError(StatusCode::BAD_REQUEST, msg.into())
}

fn conflict(msg: impl Into<String>) -> ApiError {
    ApiError(StatusCode::CONFLICT, msg.into())
}

fn internal(msg: impl Into<String>) -> ApiError {
    ApiError(StatusCode::INTERNAL_SERVER_ERROR, msg.into())
}

/// One suppression as the API shows it.
fn entry_json(s: &Suppression, name: Option<&str>) -> Value {
    json!({
        "rule": s.rule,
        "rule_name": name,
        "src_ip": s.src,
        "dest_ip": s.dest,
        "by": s.by,
        "at": s.at,
        "note": s.note,
    })
}

/// The file's suppressions with the names of their rules.
fn list_json(a: &Analyzer, o: &Overrides) -> Value {
    let rules = a.rules();
    let name = |id: u32| rules.iter().find(|r| r.id == id).map(|r| r.name.clone());
    Value::Array(
        o.suppress
            .iter()
            .map(|s| entry_json(s, name(s.rule).as_deref()))
            .collect(),
    )
}

/// Reads the file (missing: empty) on the blocking pool.
async fn read_file(path: PathBuf) -> Result<Result<Overrides, String>, ApiError> {
    tokio::task::spawn_blocking(move || overrides::load_or_empty(&path).map_err(|e| e.to_string()))
        .await
        .map_err(|e| internal(e.to_string()))
}

/// `GET /api/v1/overrides`: the file and its suppressions.
pub(super) async fn list(Ax(a): Ax<Analyzer>) -> ApiResult {
    let Some(hook) = a.overrides() else {
        return Ok(Json(json!({
            "path": null,
            "suppress": [],
            "writable": false,
            "why_not": NO_FILE,
        }))
        .into_response());
    };
    let (suppress, error) = match read_file(hook.path.clone()).await? {
        Ok(o) => (list_json(&a, &o), Value::Null),
        Err(e) => (json!([]), json!(e)),
    };
    Ok(Json(json!({
        "path": hook.path.display().to_string(),
        "suppress": suppress,
        "file_error": error,
        "writable": true,
        "why_not": null,
    }))
    .into_response())
}

/// The body of an addition or a removal.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChangeBody {
    rule: u32,
    src_ip: Option<String>,
    dest_ip: Option<String>,
    note: Option<String>,
    by: Option<String>,
}

/// Reads and checks a change's body: the suppression it names.
fn parse_change(a: &Analyzer, body: &Bytes) -> Result<Suppression, ApiError> {
    let b: ChangeBody = serde_json::from_slice(body).map_err(|e| bad(format!("body: {e}")))?;
    let text = |v: Option<String>| v.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let s = Suppression {
        rule: b.rule,
        src: text(b.src_ip),
        dest: text(b.dest_ip),
        by: text(b.by).unwrap_or_else(|| "analyst".into()),
        at: otwatch_rules::baseline::file::format_time(Timestamp::new(
            i64::try_from(now).unwrap_or(0),
            0,
        )),
        note: text(b.note).unwrap_or_default(),
        pos: Pos::default(),
    };
    s.check().map_err(bad)?;
    if !a.rules().iter().any(|r| r.id == s.rule) {
        return Err(bad(format!(
            "rule {} is not in the ruleset the sensor runs",
            s.rule
        )));
    }
    Ok(s)
}

/// Applies `change` to the file of the hook under the tuning lock, saves
/// it and reloads; the changed list and the reload's outcome.
async fn change(
    a: &Analyzer,
    change: impl FnOnce(&mut Overrides) -> Result<Suppression, ApiError> + Send + 'static,
) -> Result<(Suppression, Overrides, Result<String, String>), ApiError> {
    let hook = a.overrides().ok_or_else(|| conflict(NO_FILE))?;
    let path = hook.path.clone();
    let reload: Reload = hook.reload.clone();
    let held = a.clone();
    tokio::task::spawn_blocking(move || {
        let _one_at_a_time = held.tuning();
        let mut o = overrides::load_or_empty(&path)
            .map_err(|e| conflict(format!("the overrides file has errors; fix it first:\n{e}")))?;
        let changed = change(&mut o)?;
        overrides::save(&o, &path)
            .map_err(|e| internal(format!("cannot write {}: {e}", path.display())))?;
        Ok((changed, o, reload()))
    })
    .await
    .map_err(|e| internal(e.to_string()))?
}

fn changed_json(
    a: &Analyzer,
    key: &str,
    s: &Suppression,
    o: &Overrides,
    reloaded: Result<String, String>,
) -> Value {
    let (ok, message) = match reloaded {
        Ok(m) => (true, m),
        Err(m) => (false, m),
    };
    let name = a
        .rules()
        .iter()
        .find(|r| r.id == s.rule)
        .map(|r| r.name.clone());
    json!({
        key: entry_json(s, name.as_deref()),
        "suppress": list_json(a, o),
        "reload": {"ok": ok, "message": message},
    })
}

/// `POST /api/v1/overrides` `{"rule", "src_ip", "dest_ip"?, "note"?,
/// "by"?}`: adds a suppression (201), unless the same rule and addresses
/// are already suppressed (409).
pub(super) async fn add(Ax(a): Ax<Analyzer>, body: Bytes) -> ApiResult {
    let s = parse_change(&a, &body)?;
    let (added, o, reloaded) = change(&a, move |o| {
        if o.suppress.iter().any(|e| e.same_target(&s)) {
            return Err(conflict(
                "this rule is already suppressed for these addresses",
            ));
        }
        if o.suppress.len() >= overrides::MAX_SUPPRESSIONS {
            return Err(conflict(format!(
                "the overrides file holds {} suppressions, its limit",
                overrides::MAX_SUPPRESSIONS
            )));
        }
        o.suppress.push(s.clone());
        Ok(s)
    })
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(changed_json(&a, "added", &added, &o, reloaded)),
    )
        .into_response())
}

/// `POST /api/v1/overrides/remove` `{"rule", "src_ip"?, "dest_ip"?}`:
/// removes the suppression of that rule and those addresses (404 when
/// there is none).
pub(super) async fn remove(Ax(a): Ax<Analyzer>, body: Bytes) -> ApiResult {
    let b: ChangeBody = serde_json::from_slice(&body).map_err(|e| bad(format!("body: {e}")))?;
    let target = Suppression {
        rule: b.rule,
        src: b.src_ip.filter(|t| !t.trim().is_empty()),
        dest: b.dest_ip.filter(|t| !t.trim().is_empty()),
        by: String::new(),
        at: String::new(),
        note: String::new(),
        pos: Pos::default(),
    };
    target.check().map_err(bad)?;
    let (removed, o, reloaded) = change(&a, move |o| {
        let i = o
            .suppress
            .iter()
            .position(|e| e.same_target(&target))
            .ok_or_else(|| {
                ApiError(
                    StatusCode::NOT_FOUND,
                    "no suppression of this rule for these addresses".into(),
                )
            })?;
        Ok(o.suppress.remove(i))
    })
    .await?;
    Ok(Json(changed_json(&a, "removed", &removed, &o, reloaded)).into_response())
}
