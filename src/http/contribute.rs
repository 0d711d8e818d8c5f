//! Corrections from the public: the form at `/contribute` and `POST /api/submissions`.
//!
//! The same validation and storage serve three clients: the JSON API, the form with
//! JavaScript (which posts JSON), and the form without JavaScript (a plain POST to
//! `/contribute` answered with a server-rendered page). A submission is acknowledged only
//! after SQLite has committed it with `synchronous=FULL`.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{Extensions, HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::negotiate::media_type;
use super::pages::{Framing, html_response, layout};
use super::proxy::request_client_ip;
use super::query::ApiQuery;
use super::state::AppState;
use crate::dataset::Dataset;
use crate::error::AppError;
use crate::store::Slot;
use crate::submission::{self, Invalid, KINDS, RawSubmission};
use utoipa::ToSchema;

/// Parse a JSON or form-encoded body.
fn parse_body(headers: &HeaderMap, body: &Bytes) -> Result<RawSubmission, AppError> {
    let ctype = media_type(
        headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok()),
    );
    match ctype.as_str() {
        "application/json" => serde_json::from_slice(body).map_err(|e| {
            AppError::ApiBadRequest(format!("body is not the expected JSON object: {e}"))
        }),
        "application/x-www-form-urlencoded" => serde_urlencoded::from_bytes(body)
            .map_err(|e| AppError::ApiBadRequest(format!("form body could not be read: {e}"))),
        other => Err(AppError::UnsupportedMediaType(other.to_owned())),
    }
}

/// Rate-limit, validate and store. Returns the stored submission's reference.
async fn accept(
    state: &AppState,
    ext: &Extensions,
    headers: &HeaderMap,
    raw: &RawSubmission,
) -> Result<String, AppError> {
    let ds = state.dataset();
    let new = match submission::validate(raw, &ds) {
        Ok(n) => n,
        Err(Invalid::Fields(f)) => {
            crate::metrics::submission_refused("invalid");
            return Err(AppError::Invalid(f));
        }
        Err(Invalid::Spam) => {
            crate::metrics::submission_refused("spam");
            return Err(AppError::ApiBadRequest(
                "this submission could not be accepted".to_owned(),
            ));
        }
    };
    // Count only well-formed submissions, so a typo does not use up someone's quota. The count
    // lives in the database, so the limit holds across replicas; the client is the TCP peer,
    // or the address a trusted proxy forwarded.
    let now = chrono::Utc::now();
    let slot = state
        .store
        .take_submission_slot(
            &request_client_ip(&state.config, ext, headers).to_string(),
            state.config.submissions_per_hour.get(),
            3600,
            now.timestamp(),
        )
        .await?;
    if let Slot::Refused { retry_after } = slot {
        crate::metrics::submission_refused("rate_limited");
        return Err(AppError::RateLimited { retry_after });
    }
    let now = now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let id = state.store.insert_submission(&new, &now).await?;
    let reference = submission::reference(id);
    crate::metrics::submission_accepted();
    // No personal data in logs: only the reference and the LA.
    tracing::info!(
        reference,
        la = raw.la.trim(),
        kind = raw.kind.trim(),
        "submission stored"
    );
    Ok(reference)
}

/// `POST /api/submissions` → 201.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubmissionCreated {
    /// Reference, e.g. `PM-000042`.
    #[schema(pattern = r"^PM-[0-9]{6,}$")]
    pub id: String,
    /// Always `new`.
    #[schema(value_type = String, pattern = "^new$")]
    pub status: &'static str,
    /// Thanks, for people.
    #[schema(value_type = String)]
    pub message: &'static str,
}

/// `POST /api/submissions` (JSON or form-encoded) → 201 `{"id": "PM-000001", ...}`.
///
/// # Errors
/// 400 with field messages, 415, 429 with `Retry-After`, 413 (body limit layer), 500 on storage failure.
#[utoipa::path(post, path = "/api/submissions", tag = "submissions", summary = "Suggest a correction", request_body(description = "The submission (at most 32 KiB)", content((crate::submission::RawSubmission = "application/json"), (crate::submission::RawSubmission = "application/x-www-form-urlencoded"))), responses((status = 201, description = "Stored", body = SubmissionCreated), (status = 400, description = "`fields` holds a message per field; or the body cannot be read", body = crate::error::ErrorBody), (status = 413, description = "Body over 32 KiB", body = String, content_type = "text/plain; charset=utf-8"), (status = 415, description = "Not JSON or form-encoded", body = crate::error::ErrorBody), (status = 429, description = "Too many submissions from this address", body = crate::error::ErrorBody, headers(("Retry-After" = String, description = "Seconds"))), (status = 503, description = "The database is unavailable", body = crate::error::ErrorBody, headers(("Retry-After" = String, description = "Seconds")))))]
pub async fn api_submit(
    State(state): State<AppState>,
    ext: Extensions,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    let raw = parse_body(&headers, &body)?;
    let reference = accept(&state, &ext, &headers, &raw).await?;
    Ok((
        StatusCode::CREATED,
        [(header::CACHE_CONTROL, "no-store")],
        axum::Json(SubmissionCreated {
            id: reference,
            status: "new",
            message: "Thank you. Your submission is stored and the research team will review it.",
        }),
    )
        .into_response())
}

/// Query of `GET /contribute`.
#[derive(Debug, Deserialize, Default)]
pub struct FormQuery {
    /// Preselected LA code.
    #[serde(default)]
    pub la: String,
    /// Preselected partnership id.
    #[serde(default)]
    pub partnership: String,
    /// Preselected kind.
    #[serde(default)]
    pub kind: String,
}

/// `GET /contribute?la=CODE`: the form, the LA preselected.
#[utoipa::path(get, path = "/contribute", tag = "submissions", summary = "The corrections form (works without JavaScript)", params(("la" = Option<String>, Query, description = "Preselected LA"), ("partnership" = Option<String>, Query, description = "Preselected partnership id"), ("kind" = Option<String>, Query, description = "Preselected kind")), responses((status = 200, description = "HTML", body = String, content_type = "text/html; charset=utf-8"), (status = 400, description = "A repeated or malformed parameter", body = crate::error::ErrorBody)))]
pub async fn form_page(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<FormQuery>,
) -> Response {
    let raw = RawSubmission {
        la: q.la,
        partnership: q.partnership,
        kind: q.kind,
        ..RawSubmission::default()
    };
    html_response(
        StatusCode::OK,
        form(&state.dataset(), &raw, &BTreeMap::new()),
        Framing::SameOrigin,
    )
}

/// `POST /contribute`: the no-JavaScript path. Answers with a confirmation page, or the form
/// again with a message next to each field.
///
/// # Errors
/// Only for bodies that are not a form, and storage failures.
#[utoipa::path(post, path = "/contribute", tag = "submissions", summary = "The form's no-JavaScript submit", request_body(description = "The form (at most 32 KiB)", content((crate::submission::RawSubmission = "application/x-www-form-urlencoded"), (crate::submission::RawSubmission = "application/json"))), responses((status = 201, description = "Confirmation page", body = String, content_type = "text/html; charset=utf-8"), (status = 400, description = "The form again with a message per field (HTML), or a body that cannot be read (JSON)", content((String = "text/html; charset=utf-8"), (crate::error::ErrorBody = "application/json"))), (status = 413, description = "Body over 32 KiB", body = String, content_type = "text/plain; charset=utf-8"), (status = 415, description = "Not a form", body = crate::error::ErrorBody), (status = 429, description = "Too many submissions (the form again, saying so)", body = String, content_type = "text/html; charset=utf-8", headers(("Retry-After" = String, description = "Seconds"))), (status = 503, description = "The database is unavailable", body = crate::error::ErrorBody)))]
pub async fn form_post(
    State(state): State<AppState>,
    ext: Extensions,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    let raw = parse_body(&headers, &body)?;
    let ds = state.dataset();
    match accept(&state, &ext, &headers, &raw).await {
        Ok(reference) => Ok(html_response(
            StatusCode::CREATED,
            confirmation(&ds, &raw, &reference),
            Framing::SameOrigin,
        )),
        Err(AppError::Invalid(fields)) => Ok(html_response(
            StatusCode::BAD_REQUEST,
            form(&ds, &raw, &fields),
            Framing::SameOrigin,
        )),
        Err(AppError::RateLimited { retry_after }) => {
            let mut fields = BTreeMap::new();
            fields.insert(
                "form",
                format!(
                    "Too many submissions from your address. Please try again in {} minutes.",
                    retry_after.div_ceil(60)
                ),
            );
            let mut res = html_response(
                StatusCode::TOO_MANY_REQUESTS,
                form(&ds, &raw, &fields),
                Framing::SameOrigin,
            );
            if let Ok(v) = retry_after.to_string().parse() {
                res.headers_mut().insert(header::RETRY_AFTER, v);
            }
            Ok(res)
        }
        Err(e) => Err(e),
    }
}

fn confirmation(ds: &Dataset, raw: &RawSubmission, reference: &str) -> Markup {
    let la_name = ds
        .las
        .iter()
        .find(|l| l.code == raw.la.trim())
        .map_or("", |l| l.name.as_str());
    layout(
        "Thank you",
        &[],
        &html! {
            h1 { "Thank you" }
            p.confirmation role="status" {
                "Your submission about " strong { (la_name) } " is stored. Your reference is "
                strong #reference { (reference) } "."
            }
            p { "The research team reviews every submission. Quote the reference if you contact us about it." }
            p { a href=(format!("/contribute?la={}", raw.la.trim())) { "Send another" } }
        },
    )
}

fn field_error(errors: &BTreeMap<&'static str, String>, name: &str) -> Markup {
    html! {
        @if let Some(msg) = errors.get(name) {
            p.error id=(format!("{name}-error")) { (msg) }
        }
    }
}

fn described(errors: &BTreeMap<&'static str, String>, name: &str) -> Option<String> {
    errors.contains_key(name).then(|| format!("{name}-error"))
}

/// The contribution form, filled with `raw` and showing `errors` next to their fields.
#[must_use]
pub fn form(ds: &Dataset, raw: &RawSubmission, errors: &BTreeMap<&'static str, String>) -> Markup {
    let mut las: Vec<_> = ds.las.iter().collect();
    las.sort_by(|a, b| a.name.cmp(&b.name));
    let la_index = ds.las.iter().position(|l| l.code == raw.la.trim());
    // Every LA's partnerships, for the script to refill the list when the LA changes.
    let by_la: serde_json::Map<String, serde_json::Value> = ds
        .las
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let ps: Vec<_> = ds.la_partnerships[i]
                .iter()
                .map(|&p| json!({"id": ds.partnerships[p].id, "name": ds.partnerships[p].name}))
                .collect();
            (l.code.clone(), json!(ps))
        })
        .collect();
    let partnerships: Vec<(&str, &str)> = la_index
        .map(|i| {
            ds.la_partnerships[i]
                .iter()
                .map(|&p| {
                    (
                        ds.partnerships[p].id.as_str(),
                        ds.partnerships[p].name.as_str(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let title = la_index.map_or_else(
        || "Suggest a correction".to_owned(),
        |i| format!("Suggest a correction: {}", ds.las[i].name),
    );
    layout(
        &title,
        &["contribute.js"],
        &html! {
            h1 { (title) }
            p { "Tell the research team what is wrong or missing for a local authority. We read every submission; we publish facts, never your name or email." }
            @if let Some(msg) = errors.get("form") { p.error.form-error role="alert" { (msg) } }
            @if !errors.is_empty() && !errors.contains_key("form") {
                div.error-summary role="alert" tabindex="-1" {
                    h2 { "Please check the form" }
                    ul { @for (k, m) in errors { li { a href=(format!("#f-{k}")) { (m) } } } }
                }
            }
            form #contribute method="post" action="/contribute" novalidate {
                div.field {
                    label for="f-la" { "Local authority" }
                    select #f-la name="la" required aria-describedby=[described(errors, "la")] aria-invalid=[errors.contains_key("la").then_some("true")] {
                        option value="" { "Choose…" }
                        @for l in &las {
                            option value=(l.code) selected[l.code == raw.la.trim()] { (l.name) }
                        }
                    }
                    (field_error(errors, "la"))
                }
                div.field {
                    label for="f-partnership" { "Partnership this is about (optional)" }
                    select #f-partnership name="partnership" aria-describedby=[described(errors, "partnership")] {
                        option value="" { "None / the LA as a whole" }
                        @for (id, name) in &partnerships {
                            option value=(id) selected[*id == raw.partnership.trim()] { (name) }
                        }
                    }
                    (field_error(errors, "partnership"))
                }
                fieldset.field aria-describedby=[described(errors, "kind")] {
                    legend { "What is it?" }
                    @for (k, label) in KINDS {
                        div.choice {
                            input type="radio" name="kind" id=(format!("f-kind-{k}")) value=(k) checked[*k == raw.kind.trim()] required;
                            label for=(format!("f-kind-{k}")) { (label) }
                        }
                    }
                    (field_error(errors, "kind"))
                }
                div.field {
                    label for="f-message" { "Message" }
                    textarea #f-message name="message" rows="6" maxlength=(submission::MAX_MESSAGE) required aria-describedby=[described(errors, "message")] aria-invalid=[errors.contains_key("message").then_some("true")] { (raw.message) }
                    (field_error(errors, "message"))
                }
                div.field {
                    label for="f-name" { "Your name" }
                    input #f-name type="text" name="name" autocomplete="name" maxlength=(submission::MAX_SHORT) value=(raw.name) required aria-describedby=[described(errors, "name")] aria-invalid=[errors.contains_key("name").then_some("true")];
                    (field_error(errors, "name"))
                }
                div.field {
                    label for="f-organisation" { "Organisation (required when verifying for an LA)" }
                    input #f-organisation type="text" name="organisation" autocomplete="organization" maxlength=(submission::MAX_SHORT) value=(raw.organisation) aria-describedby=[described(errors, "organisation")];
                    (field_error(errors, "organisation"))
                }
                div.field {
                    label for="f-email" { "Email" }
                    input #f-email type="email" name="email" autocomplete="email" maxlength=(submission::MAX_EMAIL) value=(raw.email) required aria-describedby=[described(errors, "email")] aria-invalid=[errors.contains_key("email").then_some("true")];
                    (field_error(errors, "email"))
                }
                div.field.hp aria-hidden="true" {
                    label for="f-website" { "Leave this empty" }
                    input #f-website type="text" name="website" tabindex="-1" autocomplete="off";
                }
                div.field.choice {
                    input #f-consent type="checkbox" name="consent" value="true" checked[raw.consent] required aria-describedby=[described(errors, "consent")];
                    label for="f-consent" { "I agree that partnership-map stores my name, organisation and email to follow up this submission. They are never published and are deleted after review (see the privacy note)." }
                    (field_error(errors, "consent"))
                }
                button type="submit" { "Send" }
                p #result role="status" aria-live="polite" {}
            }
            script #partnerships-by-la type="application/json" { (maud::PreEscaped(serde_json::Value::Object(by_la).to_string().replace('<', "\\u003c"))) }
        },
    )
}
