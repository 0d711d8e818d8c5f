//! The editors' API: publish a change (or preview it), undo one, read the full log with
//! editors' names, see conflicts with the data files, and reload the files.
//!
//! Thin handlers: authentication here, everything else in `crate::stewardship` and
//! `crate::changes`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::admin::authorize;
use super::changes::{ListQuery, store_query};
use super::negotiate::media_type;
use super::query::ApiQuery;
use super::state::AppState;
use crate::changes::{Change, Conflict, FieldChange, LoggedChange, parse_edit};
use crate::error::AppError;
use crate::stewardship::{Outcome, StewardError};

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
pub fn json_body(headers: &HeaderMap, body: &Bytes) -> Result<Value, AppError> {
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

/// A published (201) or previewed (200) change.
#[derive(Debug, Serialize, ToSchema)]
pub struct EditOutcome {
    /// The logged change's id; null for a preview.
    pub change: Option<i64>,
    /// Whether this was only a preview (`dry_run`).
    pub preview: bool,
    /// The data version after it.
    pub data_version: String,
    /// The data version before it.
    pub previous_version: String,
    /// One line for people.
    pub summary: String,
    /// What changed.
    pub changes: Vec<FieldChange>,
    /// LAs concerned.
    pub la_codes: Vec<String>,
    /// The change as it is (or will be) logged.
    pub body: Change,
}

/// `POST /api/admin/edits`: a change with the why. `kind` says which fields it takes.
///
/// Only its schema is used: [`parse_edit`] reads the body field by field, so that every
/// problem is named with its field (a derived decoder stops at the first).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct EditRequest {
    /// `partnership.create`, `partnership.update`, `partnership.retire`, `la_role.set`,
    /// `la_role.remove` or `la.verify`.
    pub kind: String,
    /// Why, in words; public (no email addresses).
    pub reason: String,
    /// Reference of the submission this settles, e.g. `PM-000042`.
    pub submission: Option<String>,
    /// `partnership.create`: the new record (every field of `/api/partnerships` but `la_names`).
    #[schema(value_type = Option<Object>)]
    pub partnership: Option<Value>,
    /// `partnership.update`, `partnership.retire`: the partnership's id.
    pub id: Option<String>,
    /// `la_role.*`, `la.verify`: the LA's code.
    pub la: Option<String>,
    /// `partnership.update`, `la_role.set`: field → new value.
    #[schema(value_type = Option<Object>)]
    pub fields: Option<Value>,
    /// `la.verify`: verified or not.
    pub verified: Option<bool>,
    /// `la.verify`: `YYYY-MM-DD`, required when verified.
    pub date: Option<String>,
}

/// The answer to an edit or an undo: 201 once published, 200 for a preview.
pub fn outcome_response(o: &Outcome) -> Response {
    let status = if o.change.is_some() {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    (
        status,
        [(header::CACHE_CONTROL, "no-store")],
        Json(EditOutcome {
            change: o.change,
            preview: o.change.is_none(),
            data_version: o.data_version.clone(),
            previous_version: o.previous_version.clone(),
            summary: o.summary.clone(),
            changes: o.diff.clone(),
            la_codes: o.la_codes.clone(),
            body: o.body.clone(),
        }),
    )
        .into_response()
}

/// `POST /api/admin/edits[?dry_run=true]`: `201 {"change": id, "data_version": …}` once the
/// change is live; with `dry_run`, `200` with what it would change.
///
/// # Errors
/// 401/404 (auth), 415, 400 (not JSON), 422 with a message per field, 503 (database down).
#[utoipa::path(post, path = "/api/admin/edits", tag = "admin", summary = "Publish a change (or preview it with dry_run)", security(("editor_token" = [])), params(("dry_run" = Option<bool>, Query, description = "Preview only: nothing is published")), request_body(content = EditRequest, content_type = "application/json"), responses((status = 200, description = "The preview", body = EditOutcome), (status = 201, description = "Published: tiles, APIs and downloads already show it", body = EditOutcome), (status = 400, description = "A bad dry_run or a body that is not JSON", body = crate::error::ErrorBody), (status = 401, description = "No or wrong bearer token", body = crate::error::ErrorBody, headers(("WWW-Authenticate" = String, description = "Bearer realm"))), (status = 404, description = "Not found; also every admin route while no editor is configured (the admin API is off)", body = crate::error::ErrorBody), (status = 413, description = "Body over 64 KiB", body = String, content_type = "text/plain; charset=utf-8"), (status = 415, description = "Not application/json", body = crate::error::ErrorBody), (status = 422, description = "The change was not made: a message per field", body = crate::error::FieldErrorBody), (status = 503, description = "The database is unavailable", body = crate::error::ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<EditQuery>,
    body: Bytes,
) -> Result<Response, AppError> {
    let editor = authorize(&state, &headers)?;
    let dry_run = q.dry_run()?;
    let edit = parse_edit(&json_body(&headers, &body)?).map_err(|fields| {
        crate::metrics::edit_counted("edit", "rejected");
        AppError::Steward(StewardError::Rejected(fields))
    })?;
    let outcome = state.steward.edit(&editor, edit, None, dry_run).await?;
    Ok(outcome_response(&outcome))
}

/// Body of an undo (`POST /api/admin/changes/{id}/revert`).
#[derive(Debug, Deserialize, ToSchema)]
pub struct RevertRequest {
    /// Why the change is undone (required, public).
    #[serde(default)]
    #[schema(required = true, min_length = 1, pattern = r"\S")]
    pub reason: String,
}

/// `POST /api/admin/changes/{id}/revert[?dry_run=true]` with `{"reason": "…"}`: logs a change
/// that undoes change `id`.
///
/// # Errors
/// 401/404, 400, 404 for an unknown change, 409 if it cannot be undone now, 422 without a reason.
#[utoipa::path(post, path = "/api/admin/changes/{id}/revert", tag = "admin", summary = "Undo a change (or preview the undo)", security(("editor_token" = [])), params(("id" = i64, Path, description = "Change id", minimum = 1), ("dry_run" = Option<bool>, Query, description = "Preview only")), request_body(content = RevertRequest, content_type = "application/json"), responses((status = 200, description = "The preview", body = EditOutcome), (status = 201, description = "Undone", body = EditOutcome), (status = 400, description = "A bad id, dry_run or body", body = crate::error::ErrorBody), (status = 401, description = "No or wrong bearer token", body = crate::error::ErrorBody, headers(("WWW-Authenticate" = String, description = "Bearer realm"))), (status = 404, description = "Not found; also every admin route while no editor is configured (the admin API is off)", body = crate::error::ErrorBody), (status = 409, description = "Cannot be undone now", body = crate::error::FieldErrorBody), (status = 413, description = "Body over 64 KiB", body = String, content_type = "text/plain; charset=utf-8"), (status = 415, description = "Not application/json", body = crate::error::ErrorBody), (status = 422, description = "No reason given", body = crate::error::FieldErrorBody), (status = 503, description = "The database is unavailable", body = crate::error::ErrorBody)))]
pub async fn revert(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<EditQuery>,
    body: Bytes,
) -> Result<Response, AppError> {
    let editor = authorize(&state, &headers)?;
    let dry_run = q.dry_run()?;
    let id: i64 = id
        .parse()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| AppError::ApiBadRequest(format!("{id:?} is not a change id")))?;
    let b: RevertRequest = serde_json::from_value(json_body(&headers, &body)?)
        .map_err(|e| AppError::ApiBadRequest(format!("expected {{\"reason\": \"…\"}}: {e}")))?;
    let reason = b.reason.trim().to_owned();
    if reason.is_empty() {
        return Err(AppError::Steward(StewardError::Rejected(
            [(
                "reason".to_owned(),
                "say why this change is undone".to_owned(),
            )]
            .into(),
        )));
    }
    let outcome = state.steward.revert(&editor, id, reason, dry_run).await?;
    Ok(outcome_response(&outcome))
}

/// `GET /api/admin/changes`: the full log, with editors' names.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminChangeList<'a> {
    /// Number listed.
    pub count: usize,
    /// Newest first.
    #[schema(value_type = Vec<LoggedChange>)]
    pub changes: Vec<&'a LoggedChange>,
}

/// `GET /api/admin/conflicts`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConflictList {
    /// The last change applied.
    pub through_change: i64,
    /// Number of conflicts.
    pub count: usize,
    /// Changes that no longer apply to the files.
    pub conflicts: Vec<Conflict>,
}

/// `GET /api/admin/changes?la=&since=&limit=`: the log as editors see it (with names).
///
/// # Errors
/// 401/404, 400 for bad parameters.
#[utoipa::path(get, path = "/api/admin/changes", tag = "admin", summary = "The full change log, with editors' names", security(("editor_token" = [])), params(("la" = Option<String>, Query, description = "Only changes concerning this LA (GSS code)"), ("since" = Option<String>, Query, description = "Only changes at or after this date (`2026-11-01`) or RFC 3339 time"), ("limit" = Option<u16>, Query, description = "At most this many (1–1000, default 100)", minimum = 1, maximum = 1000)), responses((status = 200, description = "Changes", body = AdminChangeList), (status = 400, description = "A bad since or limit", body = crate::error::ErrorBody), (status = 401, description = "No or wrong bearer token", body = crate::error::ErrorBody, headers(("WWW-Authenticate" = String, description = "Bearer realm"))), (status = 404, description = "Not found; also every admin route while no editor is configured (the admin API is off)", body = crate::error::ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Response, AppError> {
    authorize(&state, &headers)?;
    let query = store_query(&state.dataset(), &q)?;
    let log = state.steward.log_status();
    let items: Vec<_> = query.select(log.changes.iter().rev()).collect();
    Ok((
        [(header::CACHE_CONTROL, "no-store")],
        Json(AdminChangeList {
            count: items.len(),
            changes: items,
        }),
    )
        .into_response())
}

/// `GET /api/admin/conflicts`: logged changes that do not apply to the current data files.
///
/// # Errors
/// 401/404.
#[utoipa::path(get, path = "/api/admin/conflicts", tag = "admin", summary = "Logged changes that no longer apply to the files", security(("editor_token" = [])), responses((status = 200, description = "Conflicts", body = ConflictList), (status = 401, description = "No or wrong bearer token", body = crate::error::ErrorBody, headers(("WWW-Authenticate" = String, description = "Bearer realm"))), (status = 404, description = "Not found; also every admin route while no editor is configured (the admin API is off)", body = crate::error::ErrorBody)))]
pub async fn conflicts(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    authorize(&state, &headers)?;
    let status = state.steward.log_status();
    Ok((
        [(header::CACHE_CONTROL, "no-store")],
        Json(ConflictList {
            through_change: status.through,
            count: status.conflicts.len(),
            conflicts: status.conflicts,
        }),
    )
        .into_response())
}

/// `POST /admin/reload` (and SIGHUP): read the files again and replay the log over them.
///
/// # Errors
/// 401/404 (auth), 422 with every problem when the new data is invalid.
#[utoipa::path(post, path = "/admin/reload", tag = "admin", summary = "Re-read the data files, validate, replay the log, swap atomically", security(("editor_token" = [])), responses((status = 200, description = "Reloaded", body = crate::stewardship::ReloadReport), (status = 401, description = "No or wrong bearer token", body = crate::error::ErrorBody, headers(("WWW-Authenticate" = String, description = "Bearer realm"))), (status = 404, description = "Not found; also every admin route while no editor is configured (the admin API is off)", body = crate::error::ErrorBody), (status = 422, description = "The new data has problems; the old data is still served", body = crate::error::ReloadRejectedBody), (status = 503, description = "Reload is not configured, or the database is unavailable", body = crate::error::ErrorBody)))]
pub async fn reload(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    authorize(&state, &headers)?;
    let report = state.steward.reload().await?;
    Ok(([(header::CACHE_CONTROL, "no-store")], Json(report)).into_response())
}
