//! The research team's side: the review queue API, CSV export, the `/admin` page, and live
//! reload of the published data.
//!
//! Everything here needs `Authorization: Bearer <token>`, compared in constant time. With no
//! token configured the admin API answers 404 ("off"). The admin page itself is static (the
//! token is typed in and kept in `sessionStorage`) and may not be framed.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::html;
use serde::Deserialize;
use serde_json::json;
use subtle::ConstantTimeEq;

use super::pages::{Framing, html_response, layout};
use super::{AppState, DataSource};
use crate::dataset::Dataset;
use crate::error::AppError;
use crate::submission::{self, STATUSES, Submission};

/// Check the bearer token.
///
/// # Errors
/// [`AppError::AdminOff`] when no token is configured, [`AppError::Unauthorized`] otherwise.
pub fn authorize(state: &AppState, headers: &HeaderMap) -> Result<(), AppError> {
    let Some(expected) = &state.config.admin_token else {
        return Err(AppError::AdminOff);
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .unwrap_or("");
    // Constant time in the token's content (its length is not secret).
    if given.is_empty() || !bool::from(given.as_bytes().ct_eq(expected.as_bytes())) {
        return Err(AppError::Unauthorized);
    }
    Ok(())
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, crate::store::StoreError> + Send + 'static,
) -> Result<T, AppError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| AppError::Store(e.to_string()))?
        .map_err(AppError::from)
}

/// Query of the list endpoint.
#[derive(Debug, Deserialize)]
pub struct ListQuery {
    /// Filter by status.
    pub status: Option<String>,
    /// Page size, 1–200 (default 50).
    pub limit: Option<String>,
    /// Rows to skip.
    pub offset: Option<String>,
}

fn number(name: &str, v: Option<&String>, default: i64, max: i64) -> Result<i64, AppError> {
    match v {
        None => Ok(default),
        Some(s) => s
            .parse::<i64>()
            .ok()
            .filter(|n| (0..=max).contains(n))
            .ok_or_else(|| {
                AppError::ApiBadRequest(format!("{name} must be a whole number from 0 to {max}"))
            }),
    }
}

fn status_param(s: Option<&String>) -> Result<Option<String>, AppError> {
    match s.map(String::as_str) {
        None | Some("" | "all") => Ok(None),
        Some(v) if STATUSES.contains(&v) => Ok(Some(v.to_owned())),
        Some(v) => Err(AppError::ApiBadRequest(format!(
            "unknown status {v:?} (expected one of: {})",
            STATUSES.join(", ")
        ))),
    }
}

/// `GET /api/admin/submissions?status=&limit=&offset=`.
///
/// # Errors
/// 401/404 (auth), 400 for bad paging.
pub async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<ListQuery>,
) -> Result<Response, AppError> {
    authorize(&state, &headers)?;
    let status = status_param(q.status.as_ref())?;
    let limit = number("limit", q.limit.as_ref(), 50, 200)?.max(1);
    let offset = number("offset", q.offset.as_ref(), 0, i64::MAX)?;
    let store = state.store.clone();
    let st = status.clone();
    let page = blocking(move || store.list(st.as_deref(), limit, offset)).await?;
    let next = (offset + limit < page.total).then_some(offset + limit);
    Ok((
        [(header::CACHE_CONTROL, "no-store")],
        Json(json!({ "total": page.total, "limit": limit, "offset": offset, "next_offset": next, "status": status, "items": page.items })),
    )
        .into_response())
}

fn id_param(s: &str) -> Result<i64, AppError> {
    submission::parse_reference(s).ok_or_else(|| {
        AppError::ApiBadRequest(format!("{s:?} is not a submission id like PM-000001"))
    })
}

/// `GET /api/admin/submissions/{id}` (id or `PM-…` reference).
///
/// # Errors
/// 401/404.
pub async fn one(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    authorize(&state, &headers)?;
    let id = id_param(&id)?;
    let store = state.store.clone();
    let s = blocking(move || store.get(id)).await?.ok_or_else(|| {
        AppError::ApiNotFound(format!("no submission {}", submission::reference(id)))
    })?;
    Ok((
        [(header::CACHE_CONTROL, "no-store")],
        Json(with_instruction(&state.dataset(), s)),
    )
        .into_response())
}

fn with_instruction(ds: &Dataset, s: Submission) -> serde_json::Value {
    let instruction = (s.kind == "verification" && s.status == "accepted")
        .then(|| {
            let date = s
                .reviewed_at
                .as_deref()
                .unwrap_or(&s.created_at)
                .get(..10)
                .unwrap_or("")
                .to_owned();
            submission::verification_instruction(ds, &s.la_code, &date)
        })
        .flatten();
    let mut v = json!(s);
    v["instruction"] = json!(instruction);
    v
}

/// Body of a review.
#[derive(Debug, Deserialize)]
pub struct Review {
    /// accepted, rejected, duplicate (or new, to reopen).
    pub status: String,
    /// Reviewer's note.
    #[serde(default)]
    pub note: String,
}

/// `POST /api/admin/submissions/{id}/review` with `{"status": "accepted", "note": "…"}`.
///
/// # Errors
/// 401/404, 400 for an unknown status or an over-long note.
pub async fn review(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, AppError> {
    authorize(&state, &headers)?;
    let id = id_param(&id)?;
    let r: Review = serde_json::from_slice(&body).map_err(|e| {
        AppError::ApiBadRequest(format!("expected {{\"status\": …, \"note\": …}}: {e}"))
    })?;
    if !STATUSES.contains(&r.status.as_str()) {
        return Err(AppError::ApiBadRequest(format!(
            "unknown status {:?} (expected one of: {})",
            r.status,
            STATUSES.join(", ")
        )));
    }
    if r.note.chars().count() > 2000 {
        return Err(AppError::ApiBadRequest(
            "note must be under 2000 characters".to_owned(),
        ));
    }
    let store = state.store.clone();
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let s = blocking(move || store.review(id, &r.status, r.note.trim(), &now))
        .await?
        .ok_or_else(|| {
            AppError::ApiNotFound(format!("no submission {}", submission::reference(id)))
        })?;
    tracing::info!(
        reference = s.reference,
        status = s.status,
        "submission reviewed"
    );
    Ok((
        [(header::CACHE_CONTROL, "no-store")],
        Json(with_instruction(&state.dataset(), s)),
    )
        .into_response())
}

/// `GET /api/admin/submissions.csv?status=`: every matching submission as CSV.
///
/// # Errors
/// 401/404.
pub async fn export_csv(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<ListQuery>,
) -> Result<Response, AppError> {
    authorize(&state, &headers)?;
    let status = status_param(q.status.as_ref())?;
    let store = state.store.clone();
    let page = blocking(move || store.list(status.as_deref(), i64::MAX, 0)).await?;
    let mut w = csv::Writer::from_writer(Vec::new());
    let header_row = [
        "reference",
        "created_at",
        "la_code",
        "partnership_id",
        "kind",
        "status",
        "message",
        "name",
        "organisation",
        "email",
        "review_note",
        "reviewed_at",
        "personal_data_purged_at",
        "data_version",
    ];
    let to_err = |e: csv::Error| AppError::Store(e.to_string());
    w.write_record(header_row).map_err(to_err)?;
    for s in page.items {
        w.write_record([
            s.reference,
            s.created_at,
            s.la_code,
            s.partnership_id.unwrap_or_default(),
            s.kind,
            s.status,
            s.message,
            s.name.unwrap_or_default(),
            s.organisation.unwrap_or_default(),
            s.email.unwrap_or_default(),
            s.review_note.unwrap_or_default(),
            s.reviewed_at.unwrap_or_default(),
            s.personal_data_purged_at.unwrap_or_default(),
            s.data_version,
        ])
        .map_err(to_err)?;
    }
    let bytes = w.into_inner().map_err(|e| AppError::Store(e.to_string()))?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"partnership-map-submissions.csv\"",
            ),
            (header::CACHE_CONTROL, "no-store"),
        ],
        bytes,
    )
        .into_response())
}

/// What a successful reload reports.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ReloadReport {
    /// Version served before.
    pub previous_version: String,
    /// Version served now.
    pub data_version: String,
    /// "Data as of" of the new data.
    pub data_as_of: Option<String>,
    /// LAs loaded.
    pub local_authorities: usize,
    /// Partnerships loaded.
    pub partnerships: usize,
}

/// Validate the data on disk and, if it is valid, swap it in atomically. Invalid data leaves
/// the served data untouched and returns every problem.
///
/// # Errors
/// [`AppError::ReloadRejected`] with the problems, [`AppError::ReloadUnavailable`].
pub async fn reload(state: &AppState) -> Result<ReloadReport, AppError> {
    let Some(DataSource {
        boundaries,
        data,
        max_zoom,
    }) = state.config.data_source.clone()
    else {
        return Err(AppError::ReloadUnavailable);
    };
    let _one_at_a_time = state.reload_lock.lock().await;
    let loaded = tokio::task::spawn_blocking(move || Dataset::load(&boundaries, &data, max_zoom))
        .await
        .map_err(|e| AppError::Store(format!("reload task failed: {e}")))?;
    let current = state.dataset();
    match loaded {
        Err(e) => {
            let problems: Vec<String> = e.problems.iter().map(ToString::to_string).collect();
            for p in &problems {
                tracing::warn!("reload rejected: {p}");
            }
            Err(AppError::ReloadRejected {
                current: current.version.clone(),
                problems,
            })
        }
        Ok(ds) => {
            let report = ReloadReport {
                previous_version: current.version.clone(),
                data_version: ds.version.clone(),
                data_as_of: ds.data_as_of.clone(),
                local_authorities: ds.summary.las,
                partnerships: ds.summary.partnerships,
            };
            state.swap_dataset(ds);
            // New version → new cache keys; drop the old entries to free memory.
            state.cache.clear();
            state.warm_downloads();
            tracing::info!(
                previous = report.previous_version,
                now = report.data_version,
                "data reloaded"
            );
            Ok(report)
        }
    }
}

/// `POST /admin/reload`.
///
/// # Errors
/// 401/404 (auth), 422 with every problem when the new data is invalid.
pub async fn reload_handler(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    authorize(&state, &headers)?;
    let report = reload(&state).await?;
    Ok(([(header::CACHE_CONTROL, "no-store")], Json(report)).into_response())
}

/// `GET /admin`: the review page. Static; the script asks for the token.
pub async fn page() -> Response {
    let body = html! {
        h1 { "Review queue" }
        form #token-form {
            label for="token" { "Admin token" }
            input #token type="password" autocomplete="off" required;
            button type="submit" { "Use token" }
            button #forget type="button" { "Forget token" }
            p.hint { "Kept in this tab only (sessionStorage) and sent as a bearer token." }
        }
        section #queue hidden {
            div.toolbar {
                label for="status" { "Status" }
                select #status {
                    option value="new" { "new" }
                    option value="accepted" { "accepted" }
                    option value="rejected" { "rejected" }
                    option value="duplicate" { "duplicate" }
                    option value="all" { "all" }
                }
                button #refresh type="button" { "Refresh" }
                button #export type="button" { "Export CSV" }
                button #reload type="button" { "Reload data" }
            }
            p #summary role="status" aria-live="polite" {}
            table #items {
                caption { "Submissions, newest first" }
                thead { tr { th scope="col" { "Reference" } th scope="col" { "LA" } th scope="col" { "Kind" } th scope="col" { "Message" } th scope="col" { "From" } th scope="col" { "Status" } th scope="col" { "Review" } } }
                tbody {}
            }
            div.pager { button #prev type="button" { "Previous" } button #next type="button" { "Next" } }
        }
        p #error.error role="alert" {}
    };
    html_response(
        StatusCode::OK,
        layout("Review queue", &["admin.js"], &body),
        Framing::Deny,
    )
}
