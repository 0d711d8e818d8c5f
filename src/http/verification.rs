//! The research team's verification API: create a campaign (the links are shown once, as JSON
//! or as the mail-merge CSV), follow it (statuses and dates, counts, the status CSV, the
//! reminder list), issue fresh links, revoke one, and review the LAs' answers (side by side
//! with what the map says now; accept, which records `la.verify`, or close).
//!
//! Thin handlers: authentication here (the editors' bearer tokens, as the edit API), the work
//! in `crate::verification::rounds`. No response here carries a token except the links just
//! issued, and no CSV carries a name or an email address.

use std::collections::BTreeMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::admin::authorize;
use super::edits::json_body;
use super::meta::base_url;
use super::query::ApiQuery;
use super::state::AppState;
use crate::dataset::Dataset;
use crate::error::AppError;
use crate::verification::export::{self, IssuedLink};
use crate::verification::response::{Item, ItemAnswer, StoredAnswer, Verdict, suggested_edit};
use crate::verification::rounds::{CampaignStatus, Issued};
use crate::verification::{Invitation, MailStatus, Status, VerificationError, parse_reference};

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn la_name(ds: &Dataset, code: &str) -> String {
    ds.la_index(code)
        .map_or_else(String::new, |i| ds.las[i].name.clone())
}

/// An invitation as editors see it: status and dates, never the token or the address.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationView {
    /// Invitation id.
    pub id: i64,
    /// LA code.
    pub la_code: String,
    /// LA name.
    pub la_name: String,
    /// Where it stands now.
    pub status: Status,
    /// When it got there (RFC 3339 UTC).
    pub status_date: String,
    /// When the current link was issued.
    pub invited_at: String,
    /// First opened.
    pub opened_at: Option<String>,
    /// Last answered.
    pub responded_at: Option<String>,
    /// Settled by an editor.
    pub settled_at: Option<String>,
    /// When the link stops working.
    pub expires_at: String,
    /// When the link was revoked.
    pub revoked_at: Option<String>,
    /// The answer's reference, e.g. `VR-000012`.
    pub response: Option<String>,
    /// Whether the server has an address to mail it to.
    pub has_recipient: bool,
    /// What the mail did.
    pub mail_status: MailStatus,
    /// Why the last send failed.
    pub mail_error: Option<String>,
    /// When the server last tried to send it.
    pub mailed_at: Option<String>,
    /// The link: only in the answer that issued it (tokens are never stored).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
}

impl InvitationView {
    fn of(ds: &Dataset, i: &Invitation, now: &str, link: Option<String>) -> Self {
        Self {
            id: i.id,
            la_code: i.la_code.clone(),
            la_name: la_name(ds, &i.la_code),
            status: i.status(now),
            status_date: i.status_date(now).to_owned(),
            invited_at: i.invited_at.clone(),
            opened_at: i.opened_at.clone(),
            responded_at: i.responded_at.clone(),
            settled_at: i.settled_at.clone(),
            expires_at: i.expires_at.clone(),
            revoked_at: i.revoked_at.clone(),
            response: i.response_id.map(crate::verification::reference),
            has_recipient: i.has_recipient,
            mail_status: i.mail_status,
            mail_error: i.mail_error.clone(),
            mailed_at: i.mailed_at.clone(),
            link,
        }
    }
}

/// A campaign with its counts per status (every status, zeros included) and invitations.
#[derive(Debug, Serialize, ToSchema)]
pub struct CampaignView {
    /// Campaign id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// The role invitations are addressed to.
    pub contact_role: String,
    /// RFC 3339 UTC.
    pub created_at: String,
    /// The editor who created it.
    pub created_by: String,
    /// Days each link works.
    pub expiry_days: i64,
    /// Invitations per status.
    pub counts: BTreeMap<String, usize>,
    /// Every invitation, in the campaign's order.
    pub invitations: Vec<InvitationView>,
}

impl CampaignView {
    fn of(ds: &Dataset, c: &CampaignStatus, links: &[(i64, IssuedLink)]) -> Self {
        let now = now();
        Self {
            id: c.campaign.id,
            name: c.campaign.name.clone(),
            contact_role: c.campaign.contact_role.clone(),
            created_at: c.campaign.created_at.clone(),
            created_by: c.campaign.created_by.clone(),
            expiry_days: c.campaign.expiry_days,
            counts: c
                .counts(&now)
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect(),
            invitations: c
                .invitations
                .iter()
                .map(|i| {
                    let link = links
                        .iter()
                        .find(|(id, _)| *id == i.id)
                        .map(|(_, l)| l.link.clone());
                    InvitationView::of(ds, i, &now, link)
                })
                .collect(),
        }
    }
}

/// `GET /api/verification/campaigns`.
#[derive(Debug, Serialize, ToSchema)]
pub struct CampaignList {
    /// Newest first.
    pub campaigns: Vec<CampaignView>,
}

/// `POST /api/verification/campaigns`: which LAs, and how the invitation reads.
#[derive(Debug, Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct CampaignRequest {
    /// What the team calls the round, e.g. "Autumn 2026".
    pub name: String,
    /// `"all"`, or a list of LA codes.
    #[schema(value_type = Object)]
    pub las: serde_json::Value,
    /// The role the invitation is addressed to (default "Lead for school improvement").
    pub contact_role: Option<String>,
    /// Days each link works, 1–365 (default 60).
    #[schema(minimum = 1, maximum = 365)]
    pub expires_in_days: Option<i64>,
    /// LA code → email address, for the server to mail the links (`--smtp-url`). Never shown
    /// or exported.
    pub recipients: Option<BTreeMap<String, String>>,
}

/// `?format=csv` answers with the mail-merge CSV instead of JSON.
#[derive(Debug, Deserialize, Default)]
pub struct FormatQuery {
    /// `json` (default) or `csv`.
    pub format: Option<String>,
}

impl FormatQuery {
    fn csv(&self) -> Result<bool, AppError> {
        match self.format.as_deref() {
            None | Some("" | "json") => Ok(false),
            Some("csv") => Ok(true),
            Some(other) => Err(AppError::ApiBadRequest(format!(
                "format must be json or csv, not {:?}",
                other.chars().take(20).collect::<String>()
            ))),
        }
    }
}

fn csv_response(status: StatusCode, name: &str, body: String) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        body,
    )
        .into_response()
}

fn json_response(status: StatusCode, body: impl Serialize) -> Response {
    (status, [(header::CACHE_CONTROL, "no-store")], Json(body)).into_response()
}

/// The links just issued: the campaign as JSON with each new link, or the mail merge.
async fn issued(
    state: &AppState,
    issued: &Issued,
    csv: bool,
    status: StatusCode,
) -> Result<Response, AppError> {
    let ds = state.dataset();
    if csv {
        let links: Vec<IssuedLink> = issued.links.iter().map(|(_, l)| l.clone()).collect();
        return Ok(csv_response(
            status,
            &format!("verification-{}-mail-merge.csv", issued.campaign.id),
            export::mail_merge(&ds, &issued.campaign, &links),
        ));
    }
    let c = state.verification.campaign(issued.campaign.id).await?;
    Ok(json_response(
        status,
        CampaignView::of(&ds, &c, &issued.links),
    ))
}

fn id_param(what: &str, s: &str) -> Result<i64, AppError> {
    s.parse()
        .ok()
        .filter(|n: &i64| *n > 0)
        .ok_or_else(|| AppError::ApiBadRequest(format!("{s:?} is not a {what} id")))
}

/// `POST /api/verification/campaigns[?format=csv]`.
///
/// # Errors
/// 401/404 (auth), 415, 400 (not JSON), 422 with a message per field, 503.
#[utoipa::path(post, path = "/api/verification/campaigns", tag = "verification", summary = "Create a verification campaign: one secret link per LA (shown only in this answer)", security(("editor_token" = [])), params(("format" = Option<String>, Query, description = "`csv` for the mail-merge CSV (LA, contact role, link, expiry) instead of JSON", pattern = "^(json|csv)?$")), request_body(content = CampaignRequest, content_type = "application/json"), responses((status = 201, description = "Created: the campaign with each invitation's link, or the mail merge", content((CampaignView = "application/json"), (String = "text/csv; charset=utf-8"))), (status = 400, description = "A bad format or a body that is not JSON", body = crate::error::ErrorBody), (status = 401, description = "No or wrong bearer token", body = crate::error::ErrorBody, headers(("WWW-Authenticate" = String, description = "Bearer realm"))), (status = 404, description = "Every admin route while no editor is configured (the admin API is off)", body = crate::error::ErrorBody), (status = 413, description = "Body over 64 KiB", body = String, content_type = "text/plain; charset=utf-8"), (status = 415, description = "Not application/json", body = crate::error::ErrorBody), (status = 422, description = "The request has problems: a message per field", body = crate::error::FieldErrorBody), (status = 503, description = "The database is unavailable", body = crate::error::ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<FormatQuery>,
    body: Bytes,
) -> Result<Response, AppError> {
    let editor = authorize(&state, &headers)?;
    let csv = q.csv()?;
    let request = json_body(&headers, &body)?;
    let base = base_url(&state, &headers)?;
    let ds = state.dataset();
    let made = state
        .verification
        .create(&editor, &request, &ds, &base)
        .await?;
    issued(&state, &made, csv, StatusCode::CREATED).await
}

/// `GET /api/verification/campaigns`.
///
/// # Errors
/// 401/404 (auth), 503.
#[utoipa::path(get, path = "/api/verification/campaigns", tag = "verification", summary = "Every campaign, newest first, with counts per status and each invitation's status and dates", security(("editor_token" = [])), responses((status = 200, description = "Campaigns", body = CampaignList), (status = 401, description = "No or wrong bearer token", body = crate::error::ErrorBody, headers(("WWW-Authenticate" = String, description = "Bearer realm"))), (status = 404, description = "Every admin route while no editor is configured (the admin API is off)", body = crate::error::ErrorBody), (status = 503, description = "The database is unavailable", body = crate::error::ErrorBody)))]
pub async fn list(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, AppError> {
    authorize(&state, &headers)?;
    let ds = state.dataset();
    let campaigns = state
        .verification
        .campaigns()
        .await?
        .iter()
        .map(|c| CampaignView::of(&ds, c, &[]))
        .collect();
    Ok(json_response(StatusCode::OK, CampaignList { campaigns }))
}

/// `GET /api/verification/campaigns/{id}`.
///
/// # Errors
/// 401/404, 400 for a bad id, 503.
#[utoipa::path(get, path = "/api/verification/campaigns/{id}", tag = "verification", summary = "One campaign: counts per status and each invitation's status and dates", security(("editor_token" = [])), params(("id" = i64, Path, description = "Campaign id", minimum = 1)), responses((status = 200, description = "The campaign", body = CampaignView), (status = 400, description = "Not a campaign id", body = crate::error::ErrorBody), (status = 401, description = "No or wrong bearer token", body = crate::error::ErrorBody, headers(("WWW-Authenticate" = String, description = "Bearer realm"))), (status = 404, description = "No such campaign; also every admin route while no editor is configured", body = crate::error::ErrorBody), (status = 503, description = "The database is unavailable", body = crate::error::ErrorBody)))]
pub async fn one(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let c = authorized_campaign(&state, &headers, &id).await?;
    Ok(json_response(
        StatusCode::OK,
        CampaignView::of(&state.dataset(), &c, &[]),
    ))
}

/// The campaign a path names, for an editor.
async fn authorized_campaign(
    state: &AppState,
    headers: &HeaderMap,
    id: &str,
) -> Result<CampaignStatus, AppError> {
    authorize(state, headers)?;
    let id = id_param("campaign", id)?;
    Ok(state.verification.campaign(id).await?)
}

/// `GET /api/verification/campaigns/{id}/status.csv`.
///
/// # Errors
/// 401/404, 400 for a bad id, 503.
#[utoipa::path(get, path = "/api/verification/campaigns/{id}/status.csv", tag = "verification", summary = "The campaign's status as CSV: per LA, status, its date, every date, the response reference and the mail status", security(("editor_token" = [])), params(("id" = i64, Path, description = "Campaign id", minimum = 1)), responses((status = 200, description = "CSV", body = String, content_type = "text/csv; charset=utf-8"), (status = 400, description = "Not a campaign id", body = crate::error::ErrorBody), (status = 401, description = "No or wrong bearer token", body = crate::error::ErrorBody, headers(("WWW-Authenticate" = String, description = "Bearer realm"))), (status = 404, description = "No such campaign; also every admin route while no editor is configured", body = crate::error::ErrorBody), (status = 503, description = "The database is unavailable", body = crate::error::ErrorBody)))]
pub async fn status_csv(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let c = authorized_campaign(&state, &headers, &id).await?;
    let body = export::status(&state.dataset(), &c.invitations, &now());
    Ok(csv_response(
        StatusCode::OK,
        &format!("verification-{}-status.csv", c.campaign.id),
        body,
    ))
}

/// `GET /api/verification/campaigns/{id}/reminders.csv`.
///
/// # Errors
/// 401/404, 400 for a bad id, 503.
#[utoipa::path(get, path = "/api/verification/campaigns/{id}/reminders.csv", tag = "verification", summary = "The LAs that have not answered (invited, opened or expired), as CSV", security(("editor_token" = [])), params(("id" = i64, Path, description = "Campaign id", minimum = 1)), responses((status = 200, description = "CSV", body = String, content_type = "text/csv; charset=utf-8"), (status = 400, description = "Not a campaign id", body = crate::error::ErrorBody), (status = 401, description = "No or wrong bearer token", body = crate::error::ErrorBody, headers(("WWW-Authenticate" = String, description = "Bearer realm"))), (status = 404, description = "No such campaign; also every admin route while no editor is configured", body = crate::error::ErrorBody), (status = 503, description = "The database is unavailable", body = crate::error::ErrorBody)))]
pub async fn reminders_csv(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let c = authorized_campaign(&state, &headers, &id).await?;
    let body = export::reminders(&state.dataset(), &c.campaign, &c.invitations, &now());
    Ok(csv_response(
        StatusCode::OK,
        &format!("verification-{}-reminders.csv", c.campaign.id),
        body,
    ))
}

/// `POST /api/verification/campaigns/{id}/links`: which invitations get new links.
#[derive(Debug, Deserialize, ToSchema)]
pub struct LinksRequest {
    /// Invitation ids; absent or empty: every invitation still waiting for an answer.
    #[serde(default)]
    pub invitations: Vec<i64>,
}

/// `POST /api/verification/campaigns/{id}/links[?format=csv]`.
///
/// # Errors
/// 401/404, 400, 409 for a settled invitation, 415, 503.
#[utoipa::path(post, path = "/api/verification/campaigns/{id}/links", tag = "verification", summary = "Issue fresh links (the old ones stop working), for a reminder or a lost mail merge", security(("editor_token" = [])), params(("id" = i64, Path, description = "Campaign id", minimum = 1), ("format" = Option<String>, Query, description = "`csv` for the mail-merge CSV instead of JSON", pattern = "^(json|csv)?$")), request_body(content = LinksRequest, content_type = "application/json"), responses((status = 200, description = "The campaign with the new links, or the mail merge of the new links", content((CampaignView = "application/json"), (String = "text/csv; charset=utf-8"))), (status = 400, description = "A bad id, format or body", body = crate::error::ErrorBody), (status = 401, description = "No or wrong bearer token", body = crate::error::ErrorBody, headers(("WWW-Authenticate" = String, description = "Bearer realm"))), (status = 404, description = "No such campaign or invitation; also every admin route while no editor is configured", body = crate::error::ErrorBody), (status = 409, description = "An invitation's answer is settled", body = crate::error::ErrorBody), (status = 413, description = "Body over 64 KiB", body = String, content_type = "text/plain; charset=utf-8"), (status = 415, description = "Not application/json", body = crate::error::ErrorBody), (status = 503, description = "The database is unavailable", body = crate::error::ErrorBody)))]
pub async fn links(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<FormatQuery>,
    body: Bytes,
) -> Result<Response, AppError> {
    authorize(&state, &headers)?;
    let id = id_param("campaign", &id)?;
    let csv = q.csv()?;
    let r: LinksRequest = serde_json::from_value(json_body(&headers, &body)?).map_err(|e| {
        AppError::ApiBadRequest(format!("expected {{\"invitations\": [ids]}}: {e}"))
    })?;
    let which = if r.invitations.is_empty() {
        state.verification.waiting(id).await?
    } else {
        r.invitations
    };
    let base = base_url(&state, &headers)?;
    let made = state.verification.reissue(id, &which, &base).await?;
    issued(&state, &made, csv, StatusCode::OK).await
}

/// `POST /api/verification/campaigns/{id}/mail/retry`: what retrying the failed mails did.
#[derive(Debug, Serialize, ToSchema)]
pub struct MailRetryView {
    /// Invitations given a fresh link and mailed again (their old links stop working).
    pub retried: usize,
    /// Of those, mails the SMTP server took.
    pub sent: usize,
    /// Of those, mails that failed again (each invitation says why).
    pub failed: usize,
    /// The campaign as now, with each fresh link (shown only in this answer).
    pub campaign: CampaignView,
}

/// `POST /api/verification/campaigns/{id}/mail/retry`.
///
/// # Errors
/// 401/404, 400 for a bad id, 409 when the server sends no mail, 503.
#[utoipa::path(post, path = "/api/verification/campaigns/{id}/mail/retry", tag = "verification", summary = "Retry the failed invitation mails (--smtp-url): each failed, unused invitation gets a fresh link, mailed now; the old link stops working", security(("editor_token" = [])), params(("id" = i64, Path, description = "Campaign id", minimum = 1)), responses((status = 200, description = "What the retry did, and the campaign as now with the fresh links", body = MailRetryView), (status = 400, description = "Not a campaign id", body = crate::error::ErrorBody), (status = 401, description = "No or wrong bearer token", body = crate::error::ErrorBody, headers(("WWW-Authenticate" = String, description = "Bearer realm"))), (status = 404, description = "No such campaign; also every admin route while no editor is configured", body = crate::error::ErrorBody), (status = 409, description = "This server sends no mail (no --smtp-url)", body = crate::error::ErrorBody), (status = 503, description = "The database is unavailable", body = crate::error::ErrorBody)))]
pub async fn retry_mail(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    authorize(&state, &headers)?;
    let id = id_param("campaign", &id)?;
    let base = base_url(&state, &headers)?;
    let ds = state.dataset();
    let (issued, mailed) = state.verification.retry_mail(id, &ds, &base).await?;
    let c = state.verification.campaign(id).await?;
    Ok(json_response(
        StatusCode::OK,
        MailRetryView {
            retried: issued.links.len(),
            sent: mailed.sent,
            failed: mailed.failed,
            campaign: CampaignView::of(&ds, &c, &issued.links),
        },
    ))
}

/// `POST /api/verification/invitations/{id}/revoke`.
///
/// # Errors
/// 401/404, 400 for a bad id, 503.
#[utoipa::path(post, path = "/api/verification/invitations/{id}/revoke", tag = "verification", summary = "Revoke an invitation's link: it answers 410 from now on", security(("editor_token" = [])), params(("id" = i64, Path, description = "Invitation id", minimum = 1)), responses((status = 200, description = "The invitation as now", body = InvitationView), (status = 400, description = "Not an invitation id", body = crate::error::ErrorBody), (status = 401, description = "No or wrong bearer token", body = crate::error::ErrorBody, headers(("WWW-Authenticate" = String, description = "Bearer realm"))), (status = 404, description = "No such invitation; also every admin route while no editor is configured", body = crate::error::ErrorBody), (status = 503, description = "The database is unavailable", body = crate::error::ErrorBody)))]
pub async fn revoke(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    authorize(&state, &headers)?;
    let id = id_param("invitation", &id)?;
    let inv = state.verification.revoke(id).await?;
    Ok(json_response(
        StatusCode::OK,
        InvitationView::of(&state.dataset(), &inv, &now(), None),
    ))
}

/// One item of an answer, side by side: what the LA saw, what the map says now, and the LA's
/// verdict and message, with the editor action a requested change opens.
#[derive(Debug, Serialize, ToSchema)]
pub struct SideBySide {
    /// `role` or `p:<partnership id>`.
    pub key: String,
    /// Heading.
    pub title: String,
    /// What the map said when the LA answered.
    pub shown: Item,
    /// What the map says now (null when the item is gone from the map).
    pub now: Option<Item>,
    /// The LA's verdict.
    pub verdict: Verdict,
    /// The LA's message.
    pub message: String,
    /// For a requested change: the editor, opened on it and linked to the response.
    pub editor_link: Option<String>,
}

/// An answer as editors review it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AnswerView {
    /// The stored answer (with the officer's name and job title, for editors only).
    pub answer: StoredAnswer,
    /// The LA's name.
    pub la_name: String,
    /// Whether every item was confirmed and nothing is missing (accept needs nothing else).
    pub all_confirmed: bool,
    /// Items the LA asked to change or said no longer exist.
    pub requested_changes: usize,
    /// Item by item.
    pub items: Vec<SideBySide>,
    /// For what the LA says is missing: the editor, opened on a new partnership.
    pub missing_editor_link: Option<String>,
}

fn editor_link(la: &str, kind: &str, partnership: Option<&str>, reference: &str) -> String {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    q.append_pair("la", la).append_pair("kind", kind);
    if let Some(p) = partnership {
        q.append_pair("partnership", p);
    }
    q.append_pair("verification", reference);
    format!("/admin?{}#editor", q.finish())
}

impl AnswerView {
    fn of(ds: &Dataset, a: StoredAnswer) -> Self {
        let now: Vec<Item> = ds
            .la_index(&a.la_code)
            .map(|i| crate::verification::response::items(ds, i))
            .unwrap_or_default();
        let items = a
            .shown
            .iter()
            .map(|shown| {
                let given = a.answers.iter().find(|x| x.key == shown.key);
                let (verdict, message) = given
                    .map_or((Verdict::Correct, String::new()), |x: &ItemAnswer| {
                        (x.verdict, x.message.clone())
                    });
                let editor = (verdict != Verdict::Correct).then(|| {
                    let (kind, p) = suggested_edit(shown, verdict);
                    editor_link(&a.la_code, kind, p, &a.reference)
                });
                SideBySide {
                    key: shown.key.clone(),
                    title: shown.title.clone(),
                    shown: shown.clone(),
                    now: now.iter().find(|n| n.key == shown.key).cloned(),
                    verdict,
                    message,
                    editor_link: editor,
                }
            })
            .collect();
        let missing_editor_link = (!a.missing.trim().is_empty())
            .then(|| editor_link(&a.la_code, "partnership.create", None, &a.reference));
        Self {
            la_name: la_name(ds, &a.la_code),
            all_confirmed: a.all_confirmed(),
            requested_changes: a.requested_changes().count(),
            items,
            missing_editor_link,
            answer: a,
        }
    }
}

/// `GET /api/verification/responses`.
#[derive(Debug, Serialize, ToSchema)]
pub struct AnswerList {
    /// Newest first.
    pub responses: Vec<AnswerView>,
}

/// `?status=open` (default: answers no editor has settled) or `all`.
#[derive(Debug, Deserialize, Default)]
pub struct AnswersQuery {
    /// `open` or `all`.
    pub status: Option<String>,
}

/// `GET /api/verification/responses?status=open|all`.
///
/// # Errors
/// 401/404, 400 for a bad status, 503.
#[utoipa::path(get, path = "/api/verification/responses", tag = "verification", summary = "The LAs' answers, side by side with what the map says", security(("editor_token" = [])), params(("status" = Option<String>, Query, description = "`open` (default: not settled yet) or `all`", pattern = "^(open|all)?$")), responses((status = 200, description = "Answers, newest first", body = AnswerList), (status = 400, description = "A bad status", body = crate::error::ErrorBody), (status = 401, description = "No or wrong bearer token", body = crate::error::ErrorBody, headers(("WWW-Authenticate" = String, description = "Bearer realm"))), (status = 404, description = "Every admin route while no editor is configured (the admin API is off)", body = crate::error::ErrorBody), (status = 503, description = "The database is unavailable", body = crate::error::ErrorBody)))]
pub async fn answers(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<AnswersQuery>,
) -> Result<Response, AppError> {
    authorize(&state, &headers)?;
    let unsettled = match q.status.as_deref() {
        None | Some("" | "open") => true,
        Some("all") => false,
        Some(other) => {
            return Err(AppError::ApiBadRequest(format!(
                "status must be open or all, not {:?}",
                other.chars().take(20).collect::<String>()
            )));
        }
    };
    let ds = state.dataset();
    let responses = state
        .verification
        .answers(unsettled)
        .await?
        .into_iter()
        .map(|a| AnswerView::of(&ds, a))
        .collect();
    Ok(json_response(StatusCode::OK, AnswerList { responses }))
}

fn response_param(s: &str) -> Result<i64, AppError> {
    parse_reference(s).ok_or_else(|| {
        AppError::ApiBadRequest(format!("{s:?} is not a response reference like VR-000012"))
    })
}

/// `GET /api/verification/responses/{id}`.
///
/// # Errors
/// 401/404, 400 for a bad reference, 503.
#[utoipa::path(get, path = "/api/verification/responses/{id}", tag = "verification", summary = "One answer, side by side with what the map says", security(("editor_token" = [])), params(("id" = String, Path, description = "Reference, e.g. VR-000012", pattern = r"^VR-0{0,5}[1-9][0-9]{0,5}$")), responses((status = 200, description = "The answer", body = AnswerView), (status = 400, description = "Not a reference", body = crate::error::ErrorBody), (status = 401, description = "No or wrong bearer token", body = crate::error::ErrorBody, headers(("WWW-Authenticate" = String, description = "Bearer realm"))), (status = 404, description = "No such answer; also every admin route while no editor is configured", body = crate::error::ErrorBody), (status = 503, description = "The database is unavailable", body = crate::error::ErrorBody)))]
pub async fn answer(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    authorize(&state, &headers)?;
    let id = response_param(&id)?;
    let a = state.verification.answer(id).await?;
    Ok(json_response(
        StatusCode::OK,
        AnswerView::of(&state.dataset(), a),
    ))
}

/// `POST /api/verification/responses/{id}/accept`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct AcceptRequest {
    /// The public reason of the `la.verify` change (default: "The LA checked its summary …").
    /// No names or email addresses.
    #[serde(default)]
    pub reason: Option<String>,
    /// Required when the LA asked for changes: they have been dealt with in the editor.
    #[serde(default)]
    pub changes_handled: bool,
}

/// `POST /api/verification/responses/{id}/accept`.
///
/// # Errors
/// 401/404, 400, 409 (settled, or changes outstanding), 415, 422, 503.
#[utoipa::path(post, path = "/api/verification/responses/{id}/accept", tag = "verification", summary = "Accept an answer: records la.verify dated on the answer, linked to it (public in the history, without the officer's name)", security(("editor_token" = [])), params(("id" = String, Path, description = "Reference, e.g. VR-000012", pattern = r"^VR-0{0,5}[1-9][0-9]{0,5}$")), request_body(content = AcceptRequest, content_type = "application/json"), responses((status = 201, description = "Recorded and published", body = super::edits::EditOutcome), (status = 400, description = "A bad reference or body", body = crate::error::ErrorBody), (status = 401, description = "No or wrong bearer token", body = crate::error::ErrorBody, headers(("WWW-Authenticate" = String, description = "Bearer realm"))), (status = 404, description = "No such answer; also every admin route while no editor is configured", body = crate::error::ErrorBody), (status = 409, description = "Settled already, or the LA asked for changes and changes_handled is not set", body = crate::error::ErrorBody), (status = 413, description = "Body over 64 KiB", body = String, content_type = "text/plain; charset=utf-8"), (status = 415, description = "Not application/json", body = crate::error::ErrorBody), (status = 422, description = "The change was not made: a message per field", body = crate::error::FieldErrorBody), (status = 503, description = "The database is unavailable", body = crate::error::ErrorBody)))]
pub async fn accept(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, AppError> {
    let editor = authorize(&state, &headers)?;
    let id = response_param(&id)?;
    let r: AcceptRequest = serde_json::from_value(json_body(&headers, &body)?).map_err(|e| {
        AppError::ApiBadRequest(format!(
            "expected {{\"reason\": …, \"changes_handled\": …}}: {e}"
        ))
    })?;
    let outcome = state
        .verification
        .accept(&editor, id, r.reason, r.changes_handled)
        .await?;
    Ok(super::edits::outcome_response(&outcome))
}

/// `POST /api/verification/responses/{id}/close`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CloseRequest {
    /// Why it is settled without a verification (seen by editors only).
    #[serde(default)]
    pub note: String,
}

/// `POST /api/verification/responses/{id}/close`.
///
/// # Errors
/// 401/404, 400, 409 when settled already, 415, 503.
#[utoipa::path(post, path = "/api/verification/responses/{id}/close", tag = "verification", summary = "Settle an answer without recording a verification (its link then answers 410)", security(("editor_token" = [])), params(("id" = String, Path, description = "Reference, e.g. VR-000012", pattern = r"^VR-0{0,5}[1-9][0-9]{0,5}$")), request_body(content = CloseRequest, content_type = "application/json"), responses((status = 200, description = "The answer as now", body = AnswerView), (status = 400, description = "A bad reference or body", body = crate::error::ErrorBody), (status = 401, description = "No or wrong bearer token", body = crate::error::ErrorBody, headers(("WWW-Authenticate" = String, description = "Bearer realm"))), (status = 404, description = "No such answer; also every admin route while no editor is configured", body = crate::error::ErrorBody), (status = 409, description = "Settled already", body = crate::error::ErrorBody), (status = 413, description = "Body over 64 KiB", body = String, content_type = "text/plain; charset=utf-8"), (status = 415, description = "Not application/json", body = crate::error::ErrorBody), (status = 422, description = "A note over 2000 characters", body = crate::error::FieldErrorBody), (status = 503, description = "The database is unavailable", body = crate::error::ErrorBody)))]
pub async fn close(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, AppError> {
    let editor = authorize(&state, &headers)?;
    let id = response_param(&id)?;
    let r: CloseRequest = serde_json::from_value(json_body(&headers, &body)?)
        .map_err(|e| AppError::ApiBadRequest(format!("expected {{\"note\": \"…\"}}: {e}")))?;
    let note = r.note.trim();
    if note.chars().count() > 2000 {
        return Err(VerificationError::Invalid(
            [(
                "note".to_owned(),
                "keep the note under 2000 characters".to_owned(),
            )]
            .into(),
        )
        .into());
    }
    let a = state.verification.close(&editor, id, note).await?;
    Ok(json_response(
        StatusCode::OK,
        AnswerView::of(&state.dataset(), a),
    ))
}
