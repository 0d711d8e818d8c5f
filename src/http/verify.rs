//! The LA's side of a verification round: `/verify/{token}`, a plain HTML form (no login, no
//! JavaScript needed) showing exactly what the map says about the council, item by item, with
//! an answer per item, what is missing, and who answers; and the public
//! `GET /api/las/{code}/verification` the map's panel reads ("Not yet verified (last invited …)").
//!
//! A link that is mistyped answers 404, one expired, revoked or already settled 410, each with
//! a page that says what to do and shows no data. The token is in the path only: the request
//! log writes `/verify/{token}` instead (see `crate::logging`), and the page sends no referrer
//! to other sites.

use std::collections::BTreeMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{Extensions, HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use serde::Serialize;
use utoipa::ToSchema;

use super::negotiate::media_type;
use super::pages::{Framing, html_response, layout};
use super::proxy::request_client_ip;
use super::state::AppState;
use crate::dataset::Dataset;
use crate::error::AppError;
use crate::submission::{MAX_MESSAGE, MAX_SHORT};
use crate::verification::VerificationError;
use crate::verification::response::{Item, RawResponse, Verdict, items};

/// The date part of an RFC 3339 time, written for people ("28 November 2026").
fn day(t: &str) -> String {
    chrono::NaiveDate::parse_from_str(t.get(..10).unwrap_or(t), "%Y-%m-%d")
        .map_or_else(|_| t.to_owned(), |d| d.format("%-d %B %Y").to_string())
}

/// A page with the headers of every page, kept out of search engines.
fn page(status: StatusCode, markup: Markup) -> Response {
    let mut res = html_response(status, markup, Framing::Deny);
    res.headers_mut().insert(
        "x-robots-tag",
        HeaderValue::from_static("noindex, nofollow"),
    );
    res
}

/// The page for a link that cannot be used: what happened and what to do; no data.
fn link_problem(e: VerificationError) -> Result<Response, AppError> {
    let (title, what): (&str, &str) = match &e {
        VerificationError::LinkUnknown => (
            "This link does not work",
            "Check that the whole link was copied from the email. If it still does not work, reply to the email and the research team will send you a new one.",
        ),
        VerificationError::LinkExpired => (
            "This link has expired",
            "Verification links work for a limited time. Reply to the invitation email and the research team will send you a new one.",
        ),
        VerificationError::LinkRevoked => (
            "This link has been withdrawn",
            "The research team has withdrawn this link; they may have sent you a new one. If not, reply to the invitation email.",
        ),
        VerificationError::LinkSettled => (
            "Your answer has been dealt with",
            "The research team has reviewed the answer sent through this link, so it can no longer be changed. To suggest a further correction, use the corrections form on the map.",
        ),
        _ => return Err(AppError::from(e)),
    };
    let status = AppError::from(e).status();
    Ok(page(
        status,
        layout(
            title,
            &[],
            &html! {
                h1 { (title) }
                p { (what) }
                p { a href="/" { "Go to the partnership map" } }
            },
        ),
    ))
}

/// The form field's element id, for the error summary's links.
fn target_id(shown: &[Item], field: &str) -> String {
    let index = |key: &str| shown.iter().position(|i| i.key == key).unwrap_or(0);
    if let Some(key) = field.strip_prefix("answer-") {
        format!("a-{}-correct", index(key))
    } else if let Some(key) = field.strip_prefix("message-") {
        format!("m-{}", index(key))
    } else {
        format!("v-{field}")
    }
}

fn error_for<'a>(errors: &'a BTreeMap<String, String>, field: &str) -> Option<&'a String> {
    errors.get(field)
}

fn error_line(errors: &BTreeMap<String, String>, field: &str, id: &str) -> Markup {
    html! {
        @if let Some(m) = error_for(errors, field) { p.error id=(format!("{id}-error")) { (m) } }
    }
}

fn described(
    errors: &BTreeMap<String, String>,
    field: &str,
    id: &str,
    hint: Option<&str>,
) -> Option<String> {
    let mut ids: Vec<String> = hint.map(str::to_owned).into_iter().collect();
    if errors.contains_key(field) {
        ids.push(format!("{id}-error"));
    }
    (!ids.is_empty()).then(|| ids.join(" "))
}

fn item_block(
    n: usize,
    item: &Item,
    raw: &RawResponse,
    errors: &BTreeMap<String, String>,
) -> Markup {
    let answer_field = format!("answer-{}", item.key);
    let message_field = format!("message-{}", item.key);
    let chosen = raw.answers.get(&item.key).map(String::as_str);
    let group_id = format!("a-{n}");
    let message_id = format!("m-{n}");
    let hint_id = format!("m-{n}-hint");
    html! {
        section.verify-item aria-labelledby=(format!("i-{n}")) {
            h2 #(format!("i-{n}")) { (item.title) }
            div.said {
                p.hint { "What the map says:" }
                @for line in &item.lines { p { (line) } }
                @if !item.sources.is_empty() {
                    p { "Sources" @if !item.evidence_date.is_empty() { " (evidence: " (item.evidence_date) ")" } ":" }
                    ul.sources {
                        @for u in &item.sources { li { a href=(u) rel="noopener noreferrer" { (u) } } }
                    }
                }
            }
            fieldset.field aria-describedby=[described(errors, &answer_field, &group_id, None)] {
                legend { "Is this right? (" (item.title) ")" }
                @for v in Verdict::ALL {
                    div.choice {
                        input type="radio" name=(answer_field) id=(format!("{group_id}-{}", v.as_str())) value=(v.as_str()) checked[chosen == Some(v.as_str())] required;
                        label for=(format!("{group_id}-{}", v.as_str())) { (v.label()) }
                    }
                }
                (error_line(errors, &answer_field, &group_id))
            }
            div.field {
                label for=(message_id) { "What should change? (needed for “Needs a change”)" }
                p.hint #(hint_id) { "For example a new name, website or source, or a role the council no longer has." }
                textarea #(message_id) name=(message_field) rows="3" maxlength=(MAX_MESSAGE) aria-describedby=[described(errors, &message_field, &message_id, Some(&hint_id))] aria-invalid=[errors.contains_key(&message_field).then_some("true")] {
                    (raw.messages.get(&item.key).map_or("", String::as_str))
                }
                (error_line(errors, &message_field, &message_id))
            }
        }
    }
}

/// The form: what the map says about the LA, item by item, filled with `raw` and showing
/// `errors` next to their fields.
fn form(
    ds: &Dataset,
    la: usize,
    token: &str,
    expires_at: &str,
    raw: &RawResponse,
    errors: &BTreeMap<String, String>,
    updating: Option<&str>,
) -> Markup {
    let name = &ds.las[la].name;
    let shown = items(ds, la);
    let title = format!("Check what the map says about {name}");
    let general = errors.get("form");
    layout(
        &title,
        &[],
        &html! {
            h1 { (title) }
            p { "The partnership map shows how schools in England work together in each local authority. The research team asks every council to check its entry. Please read each item below and say whether it is right." }
            p { "Your answers go to the research team, who update the map. The map shows your council as verified once they have accepted your answer. Your name and role are never published." }
            p.hint { "This link works until " (day(expires_at)) ". You can use it again to change your answer until the research team has dealt with it." }
            @if let Some(when) = updating {
                p.confirmation role="status" { "You answered on " (day(when)) ". Your answers are filled in below; send the form again to change them." }
            }
            @if let Some(m) = general { p.error.form-error role="alert" { (m) } }
            @if !errors.is_empty() && general.is_none() {
                div.error-summary role="alert" tabindex="-1" {
                    h2 { "Please check the form" }
                    ul { @for (k, m) in errors { li { a href=(format!("#{}", target_id(&shown, k))) { (m) } } } }
                }
            }
            form #verify method="post" action=(format!("/verify/{token}")) novalidate {
                @for (n, item) in shown.iter().enumerate() { (item_block(n, item, raw, errors)) }
                section.verify-item aria-labelledby="missing-h" {
                    h2 #missing-h { "Anything missing?" }
                    div.field {
                        label for="v-missing" { "Partnerships or roles the map does not show (optional)" }
                        textarea #v-missing name="missing" rows="4" maxlength=(MAX_MESSAGE) aria-describedby=[described(errors, "missing", "v-missing", None)] { (raw.missing) }
                        (error_line(errors, "missing", "v-missing"))
                    }
                }
                fieldset.field {
                    legend { "About you" }
                    div.field {
                        label for="v-name" { "Your name" }
                        input #v-name type="text" name="name" autocomplete="name" maxlength=(MAX_SHORT) value=(raw.name) required aria-describedby=[described(errors, "name", "v-name", None)] aria-invalid=[errors.contains_key("name").then_some("true")];
                        (error_line(errors, "name", "v-name"))
                    }
                    div.field {
                        label for="v-job_title" { "Your role at the council" }
                        input #v-job_title type="text" name="job_title" autocomplete="organization-title" maxlength=(MAX_SHORT) value=(raw.job_title) required aria-describedby=[described(errors, "job_title", "v-job_title", None)] aria-invalid=[errors.contains_key("job_title").then_some("true")];
                        (error_line(errors, "job_title", "v-job_title"))
                    }
                    div.field.hp aria-hidden="true" {
                        label for="v-website" { "Leave this empty" }
                        input #v-website type="text" name="website" tabindex="-1" autocomplete="off";
                    }
                    div.field.choice {
                        input #v-consent type="checkbox" name="consent" value="true" checked[raw.consent] required aria-describedby=[described(errors, "consent", "v-consent", None)];
                        label for="v-consent" { "I agree that partnership-map stores my name and role with this answer, so the research team can follow it up. They are never published and are deleted after review." }
                        (error_line(errors, "consent", "v-consent"))
                    }
                }
                button type="submit" { "Send my answer" }
            }
        },
    )
}

fn confirmation(ds: &Dataset, la: usize, reference: &str) -> Markup {
    let name = &ds.las[la].name;
    layout(
        "Thank you",
        &[],
        &html! {
            h1 { "Thank you" }
            p.confirmation role="status" {
                "Your answer about " strong { (name) } " is stored. Its reference is " strong #reference { (reference) } "."
            }
            p { "The research team reviews every answer. The map shows your council as verified once they have accepted it. Until then you can use the same link to change your answer." }
            p { a href=(format!("/?la={}", ds.las[la].code)) { "See " (name) " on the map" } }
        },
    )
}

/// `GET /verify/{token}`: the page, or a clear 404/410 page with no data.
///
/// # Errors
/// Only storage failures (503/500).
#[utoipa::path(get, path = "/verify/{token}", tag = "verification", summary = "The LA's verification page (the secret link of an invitation; works without JavaScript)", params(("token" = String, Path, description = "The secret of the link, as mailed")), responses((status = 200, description = "The page: what the map says, item by item, and the form", body = String, content_type = "text/html; charset=utf-8"), (status = 404, description = "No such link (a page saying so)", body = String, content_type = "text/html; charset=utf-8"), (status = 410, description = "The link expired, was withdrawn, or its answer was settled (a page saying so)", body = String, content_type = "text/html; charset=utf-8"), (status = 503, description = "The database is unavailable", body = crate::error::ErrorBody)))]
pub async fn form_page(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Response, AppError> {
    let opened = match state.verification.open(&token).await {
        Ok(o) => o,
        Err(e) => return link_problem(e),
    };
    let ds = state.dataset();
    let Some(la) = ds.la_index(&opened.invitation.la_code) else {
        return link_problem(VerificationError::LinkUnknown);
    };
    let raw = opened
        .answer
        .as_ref()
        .map(RawResponse::from_stored)
        .unwrap_or_default();
    let updating = opened.answer.as_ref().map(|a| a.updated_at.as_str());
    Ok(page(
        StatusCode::OK,
        form(
            &ds,
            la,
            &token,
            &opened.invitation.expires_at,
            &raw,
            &BTreeMap::new(),
            updating,
        ),
    ))
}

/// `POST /verify/{token}`: store the answer; the thank-you page, or the form again with a
/// message next to each field.
///
/// # Errors
/// 415 for a body that is not a form, storage failures.
#[utoipa::path(post, path = "/verify/{token}", tag = "verification", summary = "Send (or change) the LA's answer: the page's no-JavaScript submit", params(("token" = String, Path, description = "The secret of the link, as mailed")), request_body(description = "The form: `answer-<item>` (correct, change, gone) and `message-<item>` per item, `missing`, `name`, `job_title`, `consent` (at most 64 KiB)", content_type = "application/x-www-form-urlencoded", content = BTreeMap<String, String>), responses((status = 201, description = "Stored: the thank-you page with the reference", body = String, content_type = "text/html; charset=utf-8"), (status = 400, description = "The form again with a message per field", body = String, content_type = "text/html; charset=utf-8"), (status = 404, description = "No such link (a page saying so)", body = String, content_type = "text/html; charset=utf-8"), (status = 410, description = "The link expired, was withdrawn, or its answer was settled", body = String, content_type = "text/html; charset=utf-8"), (status = 413, description = "Body over 64 KiB", body = String, content_type = "text/plain; charset=utf-8"), (status = 415, description = "Not a form", body = crate::error::ErrorBody), (status = 429, description = "Too many answers from this address (the form again, saying so)", body = String, content_type = "text/html; charset=utf-8", headers(("Retry-After" = String, description = "Seconds"))), (status = 503, description = "The database is unavailable", body = crate::error::ErrorBody)))]
pub async fn form_post(
    State(state): State<AppState>,
    Path(token): Path<String>,
    ext: Extensions,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    let ctype = media_type(
        headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok()),
    );
    if ctype != "application/x-www-form-urlencoded" {
        return Err(AppError::UnsupportedMediaType(ctype));
    }
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&body)
        .map_err(|e| AppError::ApiBadRequest(format!("form body could not be read: {e}")))?;
    let raw = RawResponse::from_pairs(pairs);
    let ds = state.dataset();
    let client = request_client_ip(&state.config, &ext, &headers).to_string();
    let result = state
        .verification
        .respond(
            &token,
            &raw,
            &ds,
            &client,
            state.config.submissions_per_hour.get(),
        )
        .await;
    let (invitation, errors, status, retry) = match result {
        Ok((inv, id)) => {
            let Some(la) = ds.la_index(&inv.la_code) else {
                return link_problem(VerificationError::LinkUnknown);
            };
            return Ok(page(
                StatusCode::CREATED,
                confirmation(&ds, la, &crate::verification::reference(id)),
            ));
        }
        Err(VerificationError::Answer(fields)) => {
            let inv = state.verification.find(&token).await?;
            (inv, fields, StatusCode::BAD_REQUEST, None)
        }
        Err(VerificationError::Spam) => {
            let inv = state.verification.find(&token).await?;
            let e = BTreeMap::from([(
                "form".to_owned(),
                "This answer could not be accepted.".to_owned(),
            )]);
            (inv, e, StatusCode::BAD_REQUEST, None)
        }
        Err(VerificationError::RateLimited { retry_after }) => {
            let inv = state.verification.find(&token).await?;
            let e = BTreeMap::from([(
                "form".to_owned(),
                format!(
                    "Too many answers from your address. Please try again in {} minutes.",
                    retry_after.div_ceil(60)
                ),
            )]);
            let status = AppError::from(VerificationError::RateLimited { retry_after }).status();
            (inv, e, status, Some(retry_after))
        }
        Err(e) => return link_problem(e),
    };
    let Some(la) = ds.la_index(&invitation.la_code) else {
        return link_problem(VerificationError::LinkUnknown);
    };
    let mut res = page(
        status,
        form(&ds, la, &token, &invitation.expires_at, &raw, &errors, None),
    );
    if let Some(r) = retry.and_then(|r| HeaderValue::from_str(&r.to_string()).ok()) {
        res.headers_mut().insert(header::RETRY_AFTER, r);
    }
    Ok(res)
}

/// `GET /api/las/{code}/verification`.
#[derive(Debug, Serialize, ToSchema)]
pub struct PublicVerification {
    /// LA code.
    pub code: String,
    /// Whether an editor accepted the LA's verification (as in the tiles and `/api/las`).
    pub verified: bool,
    /// The date the LA verified its summary.
    pub verified_date: Option<String>,
    /// When the LA was last invited to verify (RFC 3339 UTC), if ever.
    pub last_invited: Option<String>,
}

/// `GET /api/las/{code}/verification`: verified (and when), or when last invited.
///
/// # Errors
/// 404 for an unknown LA.
#[utoipa::path(get, path = "/api/las/{code}/verification", tag = "api", summary = "An LA's verification: verified by the LA (and when), or when it was last invited", params(("code" = String, Path, description = "GSS code")), responses((status = 200, description = "The LA's verification status", body = PublicVerification), (status = 404, description = "No LA with this code", body = crate::error::ErrorBody)))]
pub async fn public_status(
    State(state): State<AppState>,
    Path(code): Path<String>,
) -> Result<Response, AppError> {
    let ds = state.dataset();
    let i = ds.la_index(&code).ok_or_else(|| {
        AppError::ApiNotFound(format!(
            "no local authority with code {:?}",
            code.chars().take(20).collect::<String>()
        ))
    })?;
    let la = &ds.las[i];
    let body = PublicVerification {
        code: la.code.clone(),
        verified: la.verified,
        verified_date: la.verified_date.clone(),
        last_invited: state.verification.last_invited(&la.code).await,
    };
    Ok(([(header::CACHE_CONTROL, "no-cache")], Json(body)).into_response())
}
