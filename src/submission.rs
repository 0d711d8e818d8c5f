//! Corrections and contributions: the submitted form, its validation, and review statuses.
//!
//! Validation is a pure function of the raw fields and the current dataset, used by the JSON API
//! and the no-JavaScript form alike; it returns every field's problem at once so a page can show
//! each message next to its field.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::dataset::Dataset;

/// What a submission is about.
pub const KINDS: &[(&str, &str)] = &[
    (
        "correction",
        "A correction to this LA's summary or a partnership",
    ),
    ("new_partnership", "A partnership we have not listed"),
    (
        "la_role",
        "An update to the LA's own role in school improvement",
    ),
    ("verification", "We are the LA and we verify this summary"),
];

/// Review statuses.
pub const STATUSES: &[&str] = &["new", "accepted", "rejected", "duplicate"];

/// Field length limits, in characters.
pub const MAX_MESSAGE: usize = 5000;
/// Limit for name and organisation.
pub const MAX_SHORT: usize = 200;
/// RFC 5321 limit.
pub const MAX_EMAIL: usize = 254;

/// The raw form, as posted (JSON or form-encoded). Every field optional so that missing ones are
/// reported as validation problems, not as a parse failure.
#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
pub struct RawSubmission {
    /// LA code.
    #[serde(default)]
    pub la: String,
    /// Partnership id, optional.
    #[serde(default)]
    pub partnership: String,
    /// One of [`KINDS`].
    #[serde(default)]
    pub kind: String,
    /// Free text.
    #[serde(default)]
    pub message: String,
    /// Submitter's name.
    #[serde(default)]
    pub name: String,
    /// Submitter's organisation.
    #[serde(default)]
    pub organisation: String,
    /// Submitter's email.
    #[serde(default)]
    pub email: String,
    /// Consent to store the details: `true`, `on` or `yes`.
    #[serde(default, deserialize_with = "de_bool_ish")]
    pub consent: bool,
    /// Honeypot: hidden from people, filled in by bots.
    #[serde(default)]
    pub website: String,
}

/// The strings a form may send for a ticked consent box: HTML's `on`, the checkbox's own `true`,
/// and the spellings of form encoders (`True` is Python's).
pub const CONSENT_WORDS: &[&str] = &["true", "True", "on", "yes", "1"];

fn de_bool_ish<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum B {
        Bool(bool),
        Str(String),
    }
    Ok(match B::deserialize(d)? {
        B::Bool(b) => b,
        B::Str(s) => CONSENT_WORDS.contains(&s.as_str()),
    })
}

/// A validated submission, ready to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSubmission {
    /// LA code (exists).
    pub la_code: String,
    /// Partnership id (exists, in that LA).
    pub partnership_id: Option<String>,
    /// One of [`KINDS`].
    pub kind: String,
    /// Trimmed message.
    pub message: String,
    /// Trimmed name.
    pub name: String,
    /// Trimmed organisation (may be empty).
    pub organisation: String,
    /// Trimmed email.
    pub email: String,
    /// Data version the submitter saw.
    pub data_version: String,
}

/// Why a submission was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invalid {
    /// Field name → message, for every field with a problem.
    Fields(BTreeMap<&'static str, String>),
    /// The honeypot was filled in.
    Spam,
}

/// A stored submission, as reviewers see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Submission {
    /// Row id.
    pub id: i64,
    /// Public reference shown to the submitter, e.g. `PM-000042`.
    pub reference: String,
    /// RFC 3339 UTC.
    pub created_at: String,
    /// LA code.
    pub la_code: String,
    /// Partnership id.
    pub partnership_id: Option<String>,
    /// Kind.
    pub kind: String,
    /// Message.
    pub message: String,
    /// Name; `None` once purged.
    pub name: Option<String>,
    /// Organisation; `None` once purged.
    pub organisation: Option<String>,
    /// Email; `None` once purged.
    pub email: Option<String>,
    /// One of [`STATUSES`].
    pub status: String,
    /// Reviewer's note.
    pub review_note: Option<String>,
    /// RFC 3339 UTC.
    pub reviewed_at: Option<String>,
    /// When personal fields were deleted under the retention policy.
    pub personal_data_purged_at: Option<String>,
    /// Data version the submitter saw.
    pub data_version: String,
    /// The change that settled it, if it was applied through the editor.
    pub change_id: Option<i64>,
    /// Name of the editor who reviewed it.
    pub reviewed_by: Option<String>,
}

/// The public reference for a row id.
#[must_use]
pub fn reference(id: i64) -> String {
    format!("PM-{id:06}")
}

/// Parse a public reference or a bare id.
#[must_use]
pub fn parse_reference(s: &str) -> Option<i64> {
    s.strip_prefix("PM-")
        .unwrap_or(s)
        .parse()
        .ok()
        .filter(|n| *n > 0)
}

/// Whether `e` looks like an email address (a local part, `@`, a dotted domain).
#[must_use]
pub fn email_ok(e: &str) -> bool {
    let Some((local, domain)) = e.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && local.chars().count() <= 64
        && !local.contains(char::is_whitespace)
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
        && domain
            .chars()
            .all(|c| c.is_alphanumeric() || c == '.' || c == '-')
}

/// Why `code` cannot be the subject of a new submission on the dataset's day: unknown, or an
/// LA of another day, with a pointer to the LAs that replaced it (or that it will replace).
fn not_in_force(ds: &Dataset, code: &str) -> String {
    let Some(la) = ds.any_la(code) else {
        return format!("\"{}\" is not a local authority code we know.", clip(code));
    };
    let names = |codes: &[String]| -> String {
        let names: Vec<String> = codes
            .iter()
            .filter_map(|c| ds.name_of(c).map(|n| format!("{n} ({c})")))
            .collect();
        match names.as_slice() {
            [] => String::new(),
            [one] => one.clone(),
            [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
        }
    };
    if la.replaces.is_empty() && la.replaced_by.is_empty() {
        format!("{} is not a local authority on this day.", la.name)
    } else if la.valid_from.as_str() > ds.vintage_start() {
        format!(
            "{} only exists from {}: until then, send it about {}.",
            la.name,
            la.valid_from,
            names(&la.replaces)
        )
    } else {
        format!(
            "{} was abolished on {}: send it about {} instead. Earlier submissions about {} \
             stay on record.",
            la.name,
            la.valid_to.as_deref().unwrap_or("an earlier date"),
            names(&la.replaced_by),
            la.name
        )
    }
}

/// Validate a raw submission against the dataset.
///
/// # Errors
/// [`Invalid::Fields`] listing every problem, or [`Invalid::Spam`] for a filled honeypot.
pub fn validate(raw: &RawSubmission, ds: &Dataset) -> Result<NewSubmission, Invalid> {
    if !raw.website.trim().is_empty() {
        return Err(Invalid::Spam);
    }
    let mut e: BTreeMap<&'static str, String> = BTreeMap::new();
    let la = raw.la.trim();
    let la_index = ds.las.iter().position(|l| l.code == la);
    if la.is_empty() {
        e.insert("la", "Choose the local authority this is about.".to_owned());
    } else if la_index.is_none() {
        e.insert("la", not_in_force(ds, la));
    }
    let partnership = raw.partnership.trim();
    let partnership_id = if partnership.is_empty() {
        None
    } else {
        match ds.partnerships.iter().position(|p| p.id == partnership) {
            None => {
                e.insert(
                    "partnership",
                    format!("\"{}\" is not a partnership we know.", clip(partnership)),
                );
            }
            Some(pi) => {
                if let Some(li) = la_index
                    && !ds.la_partnerships[li].contains(&pi)
                {
                    e.insert(
                        "partnership",
                        format!(
                            "{} is not listed in {}.",
                            ds.partnerships[pi].name, ds.las[li].name
                        ),
                    );
                }
            }
        }
        Some(partnership.to_owned())
    };
    // Exactly one of the form's values (the API description lists them).
    let kind = raw.kind.as_str();
    if !KINDS.iter().any(|(k, _)| *k == kind) {
        e.insert(
            "kind",
            "Choose what kind of contribution this is.".to_owned(),
        );
    }
    // Lengths count what was sent, the surrounding spaces too, as the API description's
    // `maxLength` does; the minimum counts what is left once trimmed.
    let message = raw.message.trim();
    let chars = raw.message.chars().count();
    if message.chars().count() < 10 {
        e.insert(
            "message",
            "Tell us what should change, in at least 10 characters.".to_owned(),
        );
    } else if chars > MAX_MESSAGE {
        e.insert(
            "message",
            format!("Keep the message under {MAX_MESSAGE} characters (it has {chars})."),
        );
    }
    let name = raw.name.trim();
    if name.is_empty() {
        e.insert("name", "Give your name, so we can follow up.".to_owned());
    } else if raw.name.chars().count() > MAX_SHORT {
        e.insert(
            "name",
            format!("Keep your name under {MAX_SHORT} characters."),
        );
    }
    let organisation = raw.organisation.trim();
    if raw.organisation.chars().count() > MAX_SHORT {
        e.insert(
            "organisation",
            format!("Keep the organisation under {MAX_SHORT} characters."),
        );
    }
    if kind == "verification" && organisation.is_empty() {
        e.insert("organisation", "Say which LA you verify for.".to_owned());
    }
    let email = raw.email.trim();
    if email.is_empty() {
        e.insert(
            "email",
            "Give an email address, so we can follow up.".to_owned(),
        );
    } else if raw.email.chars().count() > MAX_EMAIL || !email_ok(email) {
        e.insert(
            "email",
            "This does not look like an email address.".to_owned(),
        );
    }
    if !raw.consent {
        e.insert(
            "consent",
            "We can only store your details with your consent.".to_owned(),
        );
    }
    if !e.is_empty() {
        return Err(Invalid::Fields(e));
    }
    Ok(NewSubmission {
        la_code: la.to_owned(),
        partnership_id,
        kind: kind.to_owned(),
        message: message.to_owned(),
        name: name.to_owned(),
        organisation: organisation.to_owned(),
        email: email.to_owned(),
        data_version: ds.version.clone(),
    })
}

fn clip(s: &str) -> String {
    s.chars().take(40).collect()
}
