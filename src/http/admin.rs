//! The research team's side: the review queue API, its CSV export, and the `/admin` page.
//!
//! Everything here needs `Authorization: Bearer <token>` of a named editor (see `editors`),
//! compared in constant time. With no editor configured the admin API answers 404 ("off"). The admin page itself is static (the
//! token is typed in and kept in `sessionStorage`) and may not be framed.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::html;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::pages::{Framing, html_response, layout};
use super::query::ApiQuery;
use super::state::AppState;
use crate::error::AppError;
use crate::submission::{self, STATUSES};
use utoipa::ToSchema;

/// Check the bearer token; the editor's name.
///
/// # Errors
/// [`AppError::AdminOff`] when no editor is configured, [`AppError::Unauthorized`] otherwise.
pub fn authorize(state: &AppState, headers: &HeaderMap) -> Result<String, AppError> {
    let editors = &state.config.editors;
    if editors.is_empty() {
        return Err(AppError::AdminOff);
    }
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .unwrap_or("");
    editors
        .authenticate(given)
        .map(str::to_owned)
        .ok_or(AppError::Unauthorized)
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

/// `GET /api/admin/submissions`: one page of the review queue.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubmissionPage {
    /// Submissions matching the status.
    pub total: i64,
    /// Page size.
    pub limit: i64,
    /// Offset of this page.
    pub offset: i64,
    /// Offset of the next page, if any.
    pub next_offset: Option<i64>,
    /// The status filter, if any.
    pub status: Option<String>,
    /// The page.
    pub items: Vec<submission::Submission>,
}

/// `GET /api/admin/submissions?status=&limit=&offset=`.
///
/// # Errors
/// 401/404 (auth), 400 for bad paging.
#[utoipa::path(get, path = "/api/admin/submissions", tag = "admin", summary = "The review queue", security(("editor_token" = [])), params(("status" = Option<String>, Query, description = "One status; `all` or empty for every status"), ("limit" = Option<u8>, Query, description = "Page size, 1–200 (default 50)", minimum = 0, maximum = 200), ("offset" = Option<i64>, Query, description = "Submissions to skip", minimum = 0)), responses((status = 200, description = "A page", body = SubmissionPage), (status = 400, description = "A bad parameter", body = crate::error::ErrorBody), (status = 401, description = "No or wrong bearer token", body = crate::error::ErrorBody, headers(("WWW-Authenticate" = String, description = "Bearer realm"))), (status = 404, description = "Not found; also every admin route while no editor is configured (the admin API is off)", body = crate::error::ErrorBody), (status = 503, description = "The database is unavailable", body = crate::error::ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Response, AppError> {
    authorize(&state, &headers)?;
    let status = status_param(q.status.as_ref())?;
    let limit = number("limit", q.limit.as_ref(), 50, 200)?.max(1);
    let offset = number("offset", q.offset.as_ref(), 0, i64::MAX)?;
    let page = state
        .store
        .list_submissions(status.as_deref(), limit, offset)
        .await?;
    let next = (offset + limit < page.total).then_some(offset + limit);
    Ok((
        [(header::CACHE_CONTROL, "no-store")],
        Json(SubmissionPage {
            total: page.total,
            limit,
            offset,
            next_offset: next,
            status,
            items: page.items,
        }),
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
#[utoipa::path(get, path = "/api/admin/submissions/{id}", tag = "admin", summary = "One submission", security(("editor_token" = [])), params(("id" = String, Path, description = "Reference, e.g. PM-000042", pattern = r"^PM-0{0,5}[1-9][0-9]{0,5}$")), responses((status = 200, description = "The submission", body = crate::submission::Submission), (status = 400, description = "Not a reference", body = crate::error::ErrorBody), (status = 401, description = "No or wrong bearer token", body = crate::error::ErrorBody, headers(("WWW-Authenticate" = String, description = "Bearer realm"))), (status = 404, description = "Not found; also every admin route while no editor is configured (the admin API is off)", body = crate::error::ErrorBody), (status = 503, description = "The database is unavailable", body = crate::error::ErrorBody)))]
pub async fn one(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    authorize(&state, &headers)?;
    let id = id_param(&id)?;
    let s = state.store.get_submission(id).await?.ok_or_else(|| {
        AppError::ApiNotFound(format!("no submission {}", submission::reference(id)))
    })?;
    Ok(([(header::CACHE_CONTROL, "no-store")], Json(s)).into_response())
}

/// A submission's review status (`submission::STATUSES`).
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)] // Only its schema is used: the handler checks the text against `STATUSES`.
pub enum ReviewStatus {
    /// Not reviewed yet.
    New,
    /// Taken into the data.
    Accepted,
    /// Not taken.
    Rejected,
    /// Already known.
    Duplicate,
}

/// Body of a review (`POST /api/admin/submissions/{id}/review`).
#[derive(Debug, Deserialize, ToSchema)]
pub struct ReviewRequest {
    /// New status: accepted, rejected, duplicate (or new, to reopen).
    #[schema(value_type = ReviewStatus)]
    pub status: String,
    /// Reviewer's note (at most 2000 characters).
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub note: String,
}

/// `POST /api/admin/submissions/{id}/review` with `{"status": "accepted", "note": "…"}`.
///
/// # Errors
/// 401/404, 400 for an unknown status or an over-long note.
#[utoipa::path(post, path = "/api/admin/submissions/{id}/review", tag = "admin", summary = "Set a submission's status and note", security(("editor_token" = [])), params(("id" = String, Path, description = "Reference, e.g. PM-000042", pattern = r"^PM-0{0,5}[1-9][0-9]{0,5}$")), request_body(content = ReviewRequest, content_type = "application/json"), responses((status = 200, description = "The submission as now", body = crate::submission::Submission), (status = 400, description = "A bad reference, body, status or note", body = crate::error::ErrorBody), (status = 401, description = "No or wrong bearer token", body = crate::error::ErrorBody, headers(("WWW-Authenticate" = String, description = "Bearer realm"))), (status = 404, description = "Not found; also every admin route while no editor is configured (the admin API is off)", body = crate::error::ErrorBody), (status = 413, description = "Body over 64 KiB", body = String, content_type = "text/plain; charset=utf-8"), (status = 503, description = "The database is unavailable", body = crate::error::ErrorBody)))]
pub async fn review(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, AppError> {
    let reviewer = authorize(&state, &headers)?;
    let id = id_param(&id)?;
    let r: ReviewRequest = serde_json::from_slice(&body).map_err(|e| {
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
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let s = state
        .store
        .review_submission(id, &r.status, r.note.trim(), &reviewer, &now)
        .await?
        .ok_or_else(|| {
            AppError::ApiNotFound(format!("no submission {}", submission::reference(id)))
        })?;
    tracing::info!(
        reference = s.reference,
        status = s.status,
        "submission reviewed"
    );
    Ok(([(header::CACHE_CONTROL, "no-store")], Json(s)).into_response())
}

/// `GET /api/admin/submissions.csv?status=`: every matching submission as CSV.
///
/// # Errors
/// 401/404.
#[utoipa::path(get, path = "/api/admin/submissions.csv", tag = "admin", summary = "The submissions as CSV", security(("editor_token" = [])), params(("status" = Option<String>, Query, description = "One status; `all` or empty for every status")), responses((status = 200, description = "CSV", body = String, content_type = "text/csv; charset=utf-8"), (status = 400, description = "A bad status", body = crate::error::ErrorBody), (status = 401, description = "No or wrong bearer token", body = crate::error::ErrorBody, headers(("WWW-Authenticate" = String, description = "Bearer realm"))), (status = 404, description = "Not found; also every admin route while no editor is configured (the admin API is off)", body = crate::error::ErrorBody), (status = 503, description = "The database is unavailable", body = crate::error::ErrorBody)))]
pub async fn export_csv(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Response, AppError> {
    authorize(&state, &headers)?;
    let status = status_param(q.status.as_ref())?;
    let page = state
        .store
        .list_submissions(status.as_deref(), i64::MAX, 0)
        .await?;
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
        "reviewed_by",
        "change_id",
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
            s.reviewed_by.unwrap_or_default(),
            s.change_id.map(|c| c.to_string()).unwrap_or_default(),
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

/// The vocabularies the editor's forms offer, as JSON for `editor.js` (a data block, not a
/// script: the CSP still allows no inline script).
fn vocabulary() -> String {
    json!({
        "form": crate::schema::FORMS,
        "phases": crate::schema::PHASES,
        "focus": crate::schema::FOCUS,
        "la_involvement": crate::schema::LA_INVOLVEMENT,
        "legal_form": crate::schema::LEGAL_FORMS,
        "roles": crate::schema::ROLES,
    })
    .to_string()
}

/// The verification rounds on `/admin`: start a round (the mail merge is downloaded at once:
/// its links are shown only then; with `--smtp-url` the links are also mailed to the addresses
/// given), follow each round's counts, mails (failures listed, retried) and CSVs, and review the answers
/// side by side with what the map says (`verification.js` fills it from the API).
fn verification_section() -> maud::Markup {
    html! {
        section #verification aria-labelledby="verification-h" {
            h2 #verification-h { "Verification rounds" }
            p.hint { "Each council gets a private link to a page showing what the map says about it. Its answer comes back here; the map shows it as verified only once you accept." }
            form #vr-form novalidate {
                h3 { "Start a round" }
                div.field {
                    label for="vr-name" { "Name of the round" }
                    input #vr-name type="text" required maxlength="200" aria-describedby="vr-name-error";
                    p.error #vr-name-error hidden {}
                }
                fieldset.field {
                    legend { "Which councils" }
                    div.choice { input #vr-all type="radio" name="vr-scope" value="all" checked; label for="vr-all" { "All councils" } }
                    div.choice { input #vr-chosen type="radio" name="vr-scope" value="chosen"; label for="vr-chosen" { "The councils chosen below" } }
                }
                div.field {
                    label for="vr-las" { "Councils (Ctrl or Cmd to choose several)" }
                    select #vr-las multiple size="8" aria-describedby="vr-las-error" {}
                    p.error #vr-las-error hidden {}
                }
                div.field {
                    label for="vr-role" { "Addressed to (the contact role printed in the mail merge)" }
                    input #vr-role type="text" maxlength="200" value=(crate::verification::DEFAULT_CONTACT_ROLE);
                }
                div.field {
                    label for="vr-days" { "Links work for (days)" }
                    input #vr-days type="number" min="1" max=(crate::verification::MAX_EXPIRY_DAYS) value=(crate::verification::DEFAULT_EXPIRY_DAYS) aria-describedby="vr-days-error";
                    p.error #vr-days-error hidden {}
                }
                div.field {
                    label for="vr-recipients" { "Email addresses, for the server to mail each council its link (optional; needs --smtp-url)" }
                    p.hint #vr-recipients-hint { "One council per line: its code, then the address, e.g. E06000026 officer@plymouth.gov.uk. Addresses are never shown again or exported." }
                    textarea #vr-recipients rows="4" aria-describedby="vr-recipients-hint vr-recipients-error" {}
                    p.error #vr-recipients-error hidden {}
                }
                button type="submit" { "Start the round and download the mail merge" }
            }
            p #vr-created.confirmation role="status" aria-live="polite" tabindex="-1" {}
            table #vr-campaigns {
                caption { "Rounds, newest first: councils per status" }
                thead { tr {
                    th scope="col" { "Round" } th scope="col" { "Started" }
                    @for s in crate::verification::Status::ALL { th scope="col" { (s.as_str()) } }
                    th scope="col" { "Mail" }
                    th scope="col" { "Files" }
                } }
                tbody {}
            }
            h3 #vr-answers-h { "Answers waiting for review" }
            div #vr-answers aria-labelledby="vr-answers-h" {}
        }
    }
}

/// `GET /admin`: the review queue, the editor, the change log and conflicts. Static: the
/// scripts ask for the token, keep it in `sessionStorage`, and call the admin API.
#[utoipa::path(get, path = "/admin", tag = "admin", summary = "The research team's page (token typed in)", responses((status = 200, description = "HTML", body = String, content_type = "text/html; charset=utf-8")))]
pub async fn page() -> Response {
    let body = html! {
        h1 { "Research team" }
        form #token-form {
            label for="token" { "Editor token" }
            input #token type="password" autocomplete="off" required;
            button type="submit" { "Use token" }
            button #forget type="button" { "Forget token" }
            p.hint { "Kept in this tab only (sessionStorage) and sent as a bearer token." }
        }
        p #error.error role="alert" {}
        div #workspace hidden {
            nav.tabs aria-label="Sections" {
                a href="#queue" { "Review queue" } " · "
                a href="#editor" { "Editor" } " · "
                a href="#verification" { "Verification rounds" } " · "
                a href="#log" { "Change log" }
            }
            section #queue aria-labelledby="queue-h" {
                h2 #queue-h { "Review queue" }
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
                    button #reload type="button" { "Reload data files" }
                }
                p #summary role="status" aria-live="polite" {}
                table #items {
                    caption { "Submissions, newest first" }
                    thead { tr { th scope="col" { "Reference" } th scope="col" { "LA" } th scope="col" { "Kind" } th scope="col" { "Message" } th scope="col" { "From" } th scope="col" { "Status" } th scope="col" { "Actions" } } }
                    tbody {}
                }
                div.pager { button #prev type="button" { "Previous" } button #next type="button" { "Next" } }
            }
            section #editor aria-labelledby="editor-h" {
                h2 #editor-h tabindex="-1" { "Editor" }
                p.hint { "Choose a local authority and what to change. Every change is checked like the data files, previewed, and published at once; the public sees the reason and the fields changed, never who sent a correction." }
                form #choose {
                    div.field {
                        label for="ed-la" { "Local authority" }
                        select #ed-la required {}
                    }
                    div.field {
                        label for="ed-action" { "What to change" }
                        select #ed-action required {
                            option value="partnership.update" { "Update a partnership" }
                            option value="partnership.create" { "Add a partnership" }
                            option value="partnership.retire" { "Retire a partnership" }
                            option value="la_role.set" { "Set the LA's role" }
                            option value="la.verify" { "Record the LA's verification" }
                        }
                    }
                    div.field #ed-partnership-field {
                        label for="ed-partnership" { "Partnership" }
                        select #ed-partnership {}
                    }
                    button type="submit" { "Open the form" }
                }
                div #ed-errors.error-summary role="alert" tabindex="-1" hidden {}
                form #edit-form hidden novalidate {
                    h3 #ed-title {}
                    p #ed-from.hint {}
                    div #ed-fields {}
                    div.field data-field="reason" {
                        label for="ed-reason" { "Reason (public)" }
                        p.hint #ed-reason-hint { "Why this change is made, e.g. the source that shows it. Shown in the public history: no names or email addresses." }
                        textarea #ed-reason rows="3" required aria-describedby="ed-reason-hint ed-reason-error" {}
                        p.error #ed-reason-error hidden {}
                    }
                    div.field data-field="submission" {
                        label for="ed-submission" { "Settles submission (optional)" }
                        input #ed-submission type="text" placeholder="PM-000042" aria-describedby="ed-submission-error";
                        p.error #ed-submission-error hidden {}
                    }
                    div.field data-field="verification" {
                        label for="ed-verification" { "Acts on an LA's verification answer (optional)" }
                        p.hint #ed-asked hidden {}
                        input #ed-verification type="text" placeholder="VR-000012" aria-describedby="ed-asked ed-verification-error";
                        p.error #ed-verification-error hidden {}
                    }
                    div.toolbar {
                        button type="submit" { "Preview the change" }
                        button #ed-cancel type="button" { "Cancel" }
                    }
                }
                section #preview hidden aria-labelledby="preview-h" tabindex="-1" {
                    h3 #preview-h { "Preview" }
                    p #preview-summary {}
                    table #preview-table {
                        caption { "Fields that will change" }
                        thead { tr { th scope="col" { "Field" } th scope="col" { "Now" } th scope="col" { "After" } } }
                        tbody {}
                    }
                    p.hint #preview-version {}
                    div.toolbar {
                        button #publish type="button" { "Publish this change" }
                        button #back type="button" { "Back to the form" }
                    }
                }
                p #ed-done.confirmation role="status" aria-live="polite" tabindex="-1" {}
            }
            (verification_section())
            section #log aria-labelledby="log-h" {
                h2 #log-h { "Change log" }
                p.hint { "Every change, newest first. Undo adds a change that reverses one; history is never rewritten." }
                div #conflicts {}
                table #changes {
                    caption { "Changes, newest first" }
                    thead { tr { th scope="col" { "#" } th scope="col" { "When" } th scope="col" { "Editor" } th scope="col" { "Change" } th scope="col" { "Reason" } th scope="col" { "Actions" } } }
                    tbody {}
                }
            }
        }
        script #vocabulary type="application/json" { (maud::PreEscaped(vocabulary().replace("</", "<\\/"))) }
    };
    html_response(
        StatusCode::OK,
        layout("Research team", &["admin.js"], &body),
        Framing::Deny,
    )
}
