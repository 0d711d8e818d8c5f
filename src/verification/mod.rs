//! LA verification rounds: an editor's campaign invites some or all LAs, each through a secret
//! link (`/verify/{token}`, one per LA per campaign, expiring, revocable); the LA answers item
//! by item; an editor settles the answer (accepting it records `la.verify`, linked to the
//! response like a submission). This module is the pure half: the records, the statuses and
//! their counts, the checks of a campaign request and of a response, the items an LA is asked
//! about, and the CSV exports. Tokens are in [`token`]; invitation mails in [`mail`]; storage is
//! `crate::store`. Nothing here knows HTTP.

pub mod export;
pub mod mail;
pub mod response;
pub mod rounds;
pub mod token;

mod error;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::changes::FieldErrors;
use crate::dataset::Dataset;
pub use error::VerificationError;

/// Days a link works unless the campaign says otherwise.
pub const DEFAULT_EXPIRY_DAYS: i64 = 60;
/// The longest a link may work.
pub const MAX_EXPIRY_DAYS: i64 = 365;
/// The contact role printed in the mail merge unless the campaign names another.
pub const DEFAULT_CONTACT_ROLE: &str = "Lead for school improvement";
/// Longest campaign name, contact role or note, in characters.
pub const MAX_SHORT: usize = 200;

/// Where an invitation stands. The order is the order of a round: a later status wins.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// The link exists; the LA has not opened it.
    Invited,
    /// The LA opened the page at least once.
    Opened,
    /// The LA sent an answer; no editor has settled it yet.
    Responded,
    /// An editor accepted the answer: `la.verify` is recorded.
    Verified,
    /// An editor settled the answer without recording a verification.
    Closed,
    /// The link expired before the LA answered.
    Expired,
    /// An editor revoked the link before the LA answered.
    Revoked,
}

impl Status {
    /// Every status, in the order the counts list them.
    pub const ALL: [Self; 7] = [
        Self::Invited,
        Self::Opened,
        Self::Responded,
        Self::Verified,
        Self::Closed,
        Self::Expired,
        Self::Revoked,
    ];

    /// The name used in the API, CSVs and metrics.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Invited => "invited",
            Self::Opened => "opened",
            Self::Responded => "responded",
            Self::Verified => "verified",
            Self::Closed => "closed",
            Self::Expired => "expired",
            Self::Revoked => "revoked",
        }
    }

    /// Whether the LA still has to answer (what a reminder is for).
    #[must_use]
    pub fn awaits_answer(self) -> bool {
        matches!(self, Self::Invited | Self::Opened | Self::Expired)
    }
}

/// A campaign as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Campaign {
    /// Row id.
    pub id: i64,
    /// What the team calls it, e.g. "Autumn 2026 round".
    pub name: String,
    /// The role the invitation is addressed to, printed in the mail merge.
    pub contact_role: String,
    /// RFC 3339 UTC.
    pub created_at: String,
    /// The editor who created it (shown to editors only).
    pub created_by: String,
    /// Days each link works from when it is issued.
    pub expiry_days: i64,
}

/// What the mail did with an invitation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MailStatus {
    /// Not sent by the server (no recipient or no `--smtp-url`): the team sends the mail merge.
    NotSent,
    /// Handed to the SMTP server.
    Sent,
    /// The SMTP server could not be reached or refused it; retryable.
    Failed,
}

impl MailStatus {
    /// The stored name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotSent => "not_sent",
            Self::Sent => "sent",
            Self::Failed => "failed",
        }
    }

    /// From the stored name (unknown names read as not sent).
    #[must_use]
    pub fn parse(s: &str) -> Self {
        match s {
            "sent" => Self::Sent,
            "failed" => Self::Failed,
            _ => Self::NotSent,
        }
    }
}

/// An invitation as stored, with what its response and settlement did. No token, no hash, no
/// recipient address: those stay in the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Invitation {
    /// Row id.
    pub id: i64,
    /// Its campaign.
    pub campaign_id: i64,
    /// LA code.
    pub la_code: String,
    /// When the current link was issued (RFC 3339 UTC).
    pub invited_at: String,
    /// When the current link stops working.
    pub expires_at: String,
    /// First time the page was opened.
    pub opened_at: Option<String>,
    /// When an editor revoked the link.
    pub revoked_at: Option<String>,
    /// The response, once the LA answered.
    pub response_id: Option<i64>,
    /// When the LA last sent its answer.
    pub responded_at: Option<String>,
    /// When an editor settled the answer.
    pub settled_at: Option<String>,
    /// `verified` or `closed`, once settled.
    pub outcome: Option<String>,
    /// Whether the server has an address to mail the link to.
    pub has_recipient: bool,
    /// What the mail did.
    pub mail_status: MailStatus,
    /// Why the last send failed (the SMTP server's words, never an address).
    pub mail_error: Option<String>,
    /// When the server last tried to send it.
    pub mailed_at: Option<String>,
}

impl Invitation {
    /// Where it stands at `now` (RFC 3339 UTC; times compare as text).
    #[must_use]
    pub fn status(&self, now: &str) -> Status {
        match self.outcome.as_deref() {
            Some("verified") => return Status::Verified,
            Some(_) => return Status::Closed,
            None => {}
        }
        if self.responded_at.is_some() {
            Status::Responded
        } else if self.revoked_at.is_some() {
            Status::Revoked
        } else if self.expires_at.as_str() <= now {
            Status::Expired
        } else if self.opened_at.is_some() {
            Status::Opened
        } else {
            Status::Invited
        }
    }

    /// The date of its status: when it got there.
    #[must_use]
    pub fn status_date(&self, now: &str) -> &str {
        match self.status(now) {
            Status::Invited => &self.invited_at,
            Status::Opened => self.opened_at.as_deref().unwrap_or(&self.invited_at),
            Status::Responded => self.responded_at.as_deref().unwrap_or(&self.invited_at),
            Status::Verified | Status::Closed => {
                self.settled_at.as_deref().unwrap_or(&self.invited_at)
            }
            Status::Expired => &self.expires_at,
            Status::Revoked => self.revoked_at.as_deref().unwrap_or(&self.invited_at),
        }
    }

    /// Whether the link may be used at `now` to open the page and answer: `Err` says why not.
    ///
    /// # Errors
    /// [`VerificationError::LinkRevoked`], [`VerificationError::LinkExpired`] or
    /// [`VerificationError::LinkSettled`].
    pub fn usable(&self, now: &str) -> Result<(), VerificationError> {
        if self.outcome.is_some() {
            Err(VerificationError::LinkSettled)
        } else if self.revoked_at.is_some() {
            Err(VerificationError::LinkRevoked)
        } else if self.expires_at.as_str() <= now {
            Err(VerificationError::LinkExpired)
        } else {
            Ok(())
        }
    }
}

/// Counts per status, every status present (zeros included).
#[must_use]
pub fn counts<'a>(
    invitations: impl IntoIterator<Item = &'a Invitation>,
    now: &str,
) -> BTreeMap<&'static str, usize> {
    let mut out: BTreeMap<&'static str, usize> =
        Status::ALL.iter().map(|s| (s.as_str(), 0)).collect();
    for i in invitations {
        *out.entry(i.status(now).as_str()).or_default() += 1;
    }
    out
}

/// A checked request to create a campaign.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCampaign {
    /// Name.
    pub name: String,
    /// Contact role.
    pub contact_role: String,
    /// Days each link works.
    pub expiry_days: i64,
    /// LA codes, in the dataset's order, each once.
    pub la_codes: Vec<String>,
    /// LA code → address to mail the link to (personal data: never exported or shown).
    pub recipients: BTreeMap<String, String>,
}

/// One invitation to store with a new campaign (or a new link for an existing one).
#[derive(Debug, Clone)]
pub struct NewLink {
    /// LA code.
    pub la_code: String,
    /// The token's hash.
    pub hash: token::TokenHash,
    /// When it stops working.
    pub expires_at: String,
    /// Where to mail it, if anywhere.
    pub recipient: Option<String>,
}

fn text_field(
    o: &serde_json::Map<String, Value>,
    key: &str,
    default: Option<&str>,
    e: &mut FieldErrors,
) -> String {
    match o.get(key) {
        Some(Value::String(s)) if !s.trim().is_empty() => {
            let s = s.trim();
            if s.chars().count() > MAX_SHORT {
                e.insert(key.into(), format!("keep it under {MAX_SHORT} characters"));
            } else if s.chars().any(char::is_control) {
                e.insert(key.into(), "contains a control character".into());
            }
            s.to_owned()
        }
        None | Some(Value::Null) => default.map_or_else(
            || {
                e.insert(key.into(), "required".into());
                String::new()
            },
            str::to_owned,
        ),
        Some(Value::String(_)) => default.map_or_else(
            || {
                e.insert(key.into(), "required".into());
                String::new()
            },
            str::to_owned,
        ),
        Some(_) => {
            e.insert(key.into(), "must be a string".into());
            String::new()
        }
    }
}

/// Check a request to create a campaign (pure): `name`, `las` (`"all"` or a list of LA codes),
/// optional `contact_role`, `expires_in_days` (1–365, default 60) and `recipients` (LA code →
/// email, for `--smtp-url`).
///
/// # Errors
/// Every problem, by field.
pub fn parse_campaign(v: &Value, ds: &Dataset) -> Result<NewCampaign, FieldErrors> {
    let mut e = FieldErrors::new();
    let Some(o) = v.as_object() else {
        e.insert("_".into(), "the body must be a JSON object".into());
        return Err(e);
    };
    for k in o.keys() {
        if !matches!(
            k.as_str(),
            "name" | "las" | "contact_role" | "expires_in_days" | "recipients"
        ) {
            e.insert(
                k.clone(),
                "unknown field (expected: name, las, contact_role, expires_in_days, recipients)"
                    .into(),
            );
        }
    }
    let name = text_field(o, "name", None, &mut e);
    let contact_role = text_field(o, "contact_role", Some(DEFAULT_CONTACT_ROLE), &mut e);
    let expiry_days = match o.get("expires_in_days") {
        None | Some(Value::Null) => DEFAULT_EXPIRY_DAYS,
        Some(Value::Number(n)) => match n.as_i64().filter(|d| (1..=MAX_EXPIRY_DAYS).contains(d)) {
            Some(d) => d,
            None => {
                e.insert(
                    "expires_in_days".into(),
                    format!("a whole number of days from 1 to {MAX_EXPIRY_DAYS}"),
                );
                DEFAULT_EXPIRY_DAYS
            }
        },
        Some(_) => {
            e.insert(
                "expires_in_days".into(),
                format!("a whole number of days from 1 to {MAX_EXPIRY_DAYS}"),
            );
            DEFAULT_EXPIRY_DAYS
        }
    };
    let mut wanted: Vec<String> = Vec::new();
    match o.get("las") {
        Some(Value::String(s)) if s == "all" => {
            wanted = ds.las.iter().map(|l| l.code.clone()).collect();
        }
        Some(Value::Array(items)) if !items.is_empty() => {
            for item in items {
                match item.as_str() {
                    Some(code) if ds.la_index(code).is_some() => {
                        if wanted.iter().any(|w| w == code) {
                            e.insert("las".into(), format!("{code} is listed twice"));
                        }
                        wanted.push(code.to_owned());
                    }
                    Some(code) => {
                        e.insert(
                            "las".into(),
                            format!(
                                "{:?} is not an LA code we know",
                                code.chars().take(20).collect::<String>()
                            ),
                        );
                    }
                    None => {
                        e.insert("las".into(), "must be LA codes (strings)".into());
                    }
                }
            }
        }
        _ => {
            e.insert(
                "las".into(),
                "give \"all\" or a non-empty list of LA codes".into(),
            );
        }
    }
    // The dataset's order, so the mail merge and the status lists read alike.
    let la_codes: Vec<String> = ds
        .las
        .iter()
        .filter(|l| wanted.contains(&l.code))
        .map(|l| l.code.clone())
        .collect();
    let mut recipients = BTreeMap::new();
    match o.get("recipients") {
        None | Some(Value::Null) => {}
        Some(Value::Object(m)) => {
            for (code, v) in m {
                match v.as_str().map(str::trim) {
                    _ if !la_codes.contains(code) => {
                        e.insert(
                            "recipients".into(),
                            format!(
                                "{:?} is not one of the campaign's LAs",
                                code.chars().take(20).collect::<String>()
                            ),
                        );
                    }
                    Some(addr) if crate::submission::email_ok(addr) => {
                        recipients.insert(code.clone(), addr.to_owned());
                    }
                    _ => {
                        e.insert(
                            "recipients".into(),
                            format!("the address for {code} does not look like an email address"),
                        );
                    }
                }
            }
        }
        Some(_) => {
            e.insert(
                "recipients".into(),
                "must be an object of LA code → email address".into(),
            );
        }
    }
    if e.is_empty() {
        Ok(NewCampaign {
            name,
            contact_role,
            expiry_days,
            la_codes,
            recipients,
        })
    } else {
        Err(e)
    }
}

/// `now` plus `days`, as RFC 3339 UTC.
#[must_use]
pub fn expiry(now: chrono::DateTime<chrono::Utc>, days: i64) -> String {
    (now + chrono::Duration::days(days)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// A link's address: `base` (no trailing slash) + `/verify/` + token.
#[must_use]
pub fn link(base: &str, token: &token::Token) -> String {
    format!("{base}/verify/{}", token.as_str())
}

/// The public reference of a response, e.g. `VR-000012`.
#[must_use]
pub fn reference(id: i64) -> String {
    format!("VR-{id:06}")
}

/// A response reference or bare id.
#[must_use]
pub fn parse_reference(s: &str) -> Option<i64> {
    s.strip_prefix("VR-")
        .unwrap_or(s)
        .parse()
        .ok()
        .filter(|n| *n > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inv() -> Invitation {
        Invitation {
            id: 1,
            campaign_id: 1,
            la_code: "E06000026".into(),
            invited_at: "2026-11-01T10:00:00Z".into(),
            expires_at: "2026-12-31T10:00:00Z".into(),
            opened_at: None,
            revoked_at: None,
            response_id: None,
            responded_at: None,
            settled_at: None,
            outcome: None,
            has_recipient: false,
            mail_status: MailStatus::NotSent,
            mail_error: None,
            mailed_at: None,
        }
    }

    #[test]
    fn a_round_moves_through_the_statuses_with_their_dates() {
        let now = "2026-11-05T00:00:00Z";
        let mut i = inv();
        assert_eq!(i.status(now), Status::Invited);
        assert_eq!(i.status_date(now), "2026-11-01T10:00:00Z");
        i.opened_at = Some("2026-11-02T09:00:00Z".into());
        assert_eq!(i.status(now), Status::Opened);
        assert_eq!(i.status_date(now), "2026-11-02T09:00:00Z");
        assert_eq!(i.status("2027-01-01T00:00:00Z"), Status::Expired);
        assert!(matches!(
            i.usable("2027-01-01T00:00:00Z"),
            Err(VerificationError::LinkExpired)
        ));
        i.responded_at = Some("2026-11-03T09:00:00Z".into());
        assert_eq!(i.status(now), Status::Responded);
        // An answer sent in time stays an answer after the link expires.
        assert_eq!(i.status("2027-01-01T00:00:00Z"), Status::Responded);
        assert!(i.usable(now).is_ok());
        i.outcome = Some("verified".into());
        i.settled_at = Some("2026-11-04T09:00:00Z".into());
        assert_eq!(i.status(now), Status::Verified);
        assert_eq!(i.status_date(now), "2026-11-04T09:00:00Z");
        assert!(matches!(i.usable(now), Err(VerificationError::LinkSettled)));
        let mut r = inv();
        r.revoked_at = Some("2026-11-02T00:00:00Z".into());
        assert_eq!(r.status(now), Status::Revoked);
        assert!(matches!(r.usable(now), Err(VerificationError::LinkRevoked)));
        let c = counts([&i, &r, &inv()], now);
        assert_eq!(c["verified"], 1);
        assert_eq!(c["revoked"], 1);
        assert_eq!(c["invited"], 1);
        assert_eq!(c["expired"], 0);
        assert_eq!(c.len(), Status::ALL.len());
    }

    #[test]
    fn references_round_trip() {
        assert_eq!(reference(12), "VR-000012");
        assert_eq!(parse_reference("VR-000012"), Some(12));
        assert_eq!(parse_reference("12"), Some(12));
        assert_eq!(parse_reference("VR-0"), None);
    }
}
