//! The editors' API: publish a change (or preview it), undo one, read the full log with
//! editors' names, see conflicts with the data files, and reload the files.
//!
//! Thin handlers: authentication here, everything else in `publish` and `changes`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::admin::authorize;
use super::changes::{ListQuery, store_query};
use super::negotiate::media_type;
use super::publish;
use crate::changes::parse_edit;
use crate::error::AppError;

/// `?dry_run=true` previews a change without making it.
#[derive(Debug, Deserialize, Default)]
pub struct EditQuery {
    /// `true`/`1` for a preview.
    #[serde(default)]
    pub dry_run: Option<String>,
}

impl EditQuery {
    fn dry_run(&self) -> Result<bool, AppError> {
        match self.dry_run.as_deref() {
            None | Some("" | "false" | "0") => Ok(false),
            Some("true" | "1") => Ok(true),
            Some(other) => Err(AppError::ApiBadRequest(format!(
                "dry_run must be true or false, not {:?}",
                other.chars().take(20).collect::<String>()
            ))),
        }
    }
}

/// The JSON body, or 415/400.
fn json_body(headers: &HeaderMap, body: &Bytes) -> Result<Value, AppError> {
    let ctype = media_type(
        headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok()),
    );
    if ctype != "application/json" {
        return Err(AppError::UnsupportedMediaType(ctype));
    }
    serde_json::from_slice(body)
        .map_err(|e| AppError::ApiBadRequest(format!("the body is not valid JSON: {e}")))
}

fn outcome_response(o: &publish::Outcome) -> Response {
    let status = if o.change.is_some() {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    (
        status,
        [(header::CACHE_CONTROL, "no-store")],
        Json(json!({
            "change": o.change,
            "preview": o.change.is_none(),
            "data_version": o.data_version,
            "previous_version": o.previous_version,
            "summary": o.summary,
            "changes": o.diff,
            "la_codes": o.la_codes,
            "body": o.body,
        })),
    )
        .into_response()
}

/// `POST /api/admin/edits[?dry_run=true]`: `201 {"change": id, "data_version": …}` once the
/// change is live; with `dry_run`, `200` with what it would change.
///
/// # Errors
/// 401/404 (auth), 415, 400 (not JSON), 422 with a message per field, 503 (database down).
pub async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<EditQuery>,
    body: Bytes,
) -> Result<Response, AppError> {
    let editor = authorize(&state, &headers)?;
    let dry_run = q.dry_run()?;
    let edit = parse_edit(&json_body(&headers, &body)?).map_err(AppError::EditRejected)?;
    let outcome = publish::edit(&state, &editor, edit, None, dry_run).await?;
    Ok(outcome_response(&outcome))
}

/// Body of an undo.
#[derive(Debug, Deserialize)]
struct RevertBody {
    #[serde(default)]
    reason: String,
}

/// `POST /api/admin/changes/{id}/revert[?dry_run=true]` with `{"reason": "…"}`: logs a change
/// that undoes change `id`.
///
/// # Errors
/// 401/404, 400, 404 for an unknown change, 409 if it cannot be undone now, 422 without a reason.
pub async fn revert(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<EditQuery>,
    body: Bytes,
) -> Result<Response, AppError> {
    let editor = authorize(&state, &headers)?;
    let dry_run = q.dry_run()?;
    let id: i64 = id
        .parse()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| AppError::ApiBadRequest(format!("{id:?} is not a change id")))?;
    let b: RevertBody = serde_json::from_value(json_body(&headers, &body)?)
        .map_err(|e| AppError::ApiBadRequest(format!("expected {{\"reason\": \"…\"}}: {e}")))?;
    let reason = b.reason.trim().to_owned();
    if reason.is_empty() {
        return Err(AppError::EditRejected(
            [(
                "reason".to_owned(),
                "say why this change is undone".to_owned(),
            )]
            .into(),
        ));
    }
    let outcome = publish::revert(&state, &editor, id, reason, dry_run).await?;
    Ok(outcome_response(&outcome))
}

/// `GET /api/admin/changes?la=&since=&limit=`: the log as editors see it (with names).
///
/// # Errors
/// 401/404, 400 for bad parameters.
pub async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<ListQuery>,
) -> Result<Response, AppError> {
    authorize(&state, &headers)?;
    let query = store_query(&state.dataset(), &q)?;
    let log = state.log_status();
    let items: Vec<_> = query.select(log.changes.iter().rev()).collect();
    Ok((
        [(header::CACHE_CONTROL, "no-store")],
        Json(json!({ "count": items.len(), "changes": items })),
    )
        .into_response())
}

/// `GET /api/admin/conflicts`: logged changes that do not apply to the current data files.
///
/// # Errors
/// 401/404.
pub async fn conflicts(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    authorize(&state, &headers)?;
    let status = state.log_status();
    Ok((
        [(header::CACHE_CONTROL, "no-store")],
        Json(json!({
            "through_change": status.through,
            "count": status.conflicts.len(),
            "conflicts": status.conflicts,
        })),
    )
        .into_response())
}

/// `POST /admin/reload` (and SIGHUP): read the files again and replay the log over them.
///
/// # Errors
/// 401/404 (auth), 422 with every problem when the new data is invalid.
pub async fn reload(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    authorize(&state, &headers)?;
    let report = publish::reload(&state).await?;
    Ok(([(header::CACHE_CONTROL, "no-store")], Json(report)).into_response())
}
