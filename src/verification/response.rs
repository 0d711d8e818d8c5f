//! An LA's answer: the items it is asked about (what the map says of it: its role and each of
//! its partnerships, with their sources), the answer per item (correct, needs a change with a
//! message, no longer exists), what is missing, and who answered (name, job title, consent:
//! the submissions' rules). Parsing and checking are pure, shared by the form and the API.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::dataset::Dataset;
use crate::submission::{MAX_MESSAGE, MAX_SHORT};

/// One thing the map says about the LA, as shown on the page and kept with the answer so the
/// review compares the answer with what the LA actually saw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Item {
    /// `role`, or `p:<partnership id>`.
    pub key: String,
    /// `role` or `partnership`.
    pub kind: String,
    /// The partnership id (partnerships only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partnership: Option<String>,
    /// Heading, e.g. "Your council's role" or the partnership's name.
    pub title: String,
    /// What the map says, line by line.
    pub lines: Vec<String>,
    /// Source URLs.
    pub sources: Vec<String>,
    /// Evidence date.
    pub evidence_date: String,
}

fn words(s: &str) -> String {
    s.replace('_', " ")
}

/// The LA's role flags, as words ("funder, convener"), or "none recorded".
#[must_use]
pub fn role_words(r: &crate::model::LaRole) -> String {
    let flags: Vec<&str> = [
        (r.funder, "funder"),
        (r.convener, "convener"),
        (r.deliverer, "deliverer"),
        (r.traded_service, "traded service"),
    ]
    .into_iter()
    .filter_map(|(on, w)| on.then_some(w))
    .collect();
    if flags.is_empty() {
        "none recorded".to_owned()
    } else {
        flags.join(", ")
    }
}

/// Everything the map says about LA `la` (index into `ds.las`): its role, then each of its
/// partnerships in file order.
#[must_use]
pub fn items(ds: &Dataset, la: usize) -> Vec<Item> {
    let mut out = Vec::new();
    match ds.la_role[la].map(|r| &ds.roles[r]) {
        Some(r) => out.push(Item {
            key: "role".into(),
            kind: "role".into(),
            partnership: None,
            title: "Your council's role in school improvement".into(),
            lines: vec![format!("Roles: {}.", role_words(r)), r.summary.clone()],
            sources: r.source_urls.clone(),
            evidence_date: r.evidence_date.clone(),
        }),
        None => out.push(Item {
            key: "role".into(),
            kind: "role".into(),
            partnership: None,
            title: "Your council's role in school improvement".into(),
            lines: vec!["The map has no description of your council's role yet.".into()],
            sources: Vec::new(),
            evidence_date: String::new(),
        }),
    }
    for &pi in &ds.la_partnerships[la] {
        let p = &ds.partnerships[pi];
        let mut lines = vec![
            format!("Form: {}.", words(&p.form)),
            format!(
                "Phases: {}. Focus: {}.",
                p.phases
                    .iter()
                    .map(|s| words(s))
                    .collect::<Vec<_>>()
                    .join(", "),
                p.focus
                    .iter()
                    .map(|s| words(s))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            format!("The council's involvement: {}.", words(&p.la_involvement)),
        ];
        if !p.membership.is_empty() {
            lines.push(format!("Members: {}", p.membership));
        }
        if let Some(y) = p.founded {
            lines.push(format!("Founded: {y}."));
        }
        if let Some(w) = &p.website {
            lines.push(format!("Website: {w}"));
        }
        if !p.notes.is_empty() {
            lines.push(p.notes.clone());
        }
        out.push(Item {
            key: format!("p:{}", p.id),
            kind: "partnership".into(),
            partnership: Some(p.id.clone()),
            title: p.name.clone(),
            lines,
            sources: p.source_urls.clone(),
            evidence_date: p.evidence_date.clone(),
        });
    }
    out
}

/// An answer about one item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// What the map says is right.
    Correct,
    /// It needs a change (the message says what).
    Change,
    /// It no longer exists.
    Gone,
}

impl Verdict {
    /// The form value.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Correct => "correct",
            Self::Change => "change",
            Self::Gone => "gone",
        }
    }

    /// How the page words it.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Self::Correct => "Correct",
            Self::Change => "Needs a change",
            Self::Gone => "No longer exists",
        }
    }

    /// Every verdict, in the form's order.
    pub const ALL: [Self; 3] = [Self::Correct, Self::Change, Self::Gone];

    fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

/// The answer about one item, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ItemAnswer {
    /// The item's key.
    pub key: String,
    /// The verdict.
    pub verdict: Verdict,
    /// What should change (required for "needs a change"), or any comment.
    pub message: String,
}

/// The form as posted: `answer-<key>`, `message-<key>` per item, and the fixed fields. Kept as
/// strings so the page can be shown again with what was typed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawResponse {
    /// Item key → verdict as sent.
    pub answers: BTreeMap<String, String>,
    /// Item key → message.
    pub messages: BTreeMap<String, String>,
    /// What is missing from the map.
    pub missing: String,
    /// Who answers.
    pub name: String,
    /// Their job title.
    pub job_title: String,
    /// Consent to store name and job title.
    pub consent: bool,
    /// Honeypot.
    pub website: String,
}

impl RawResponse {
    /// From form pairs (`application/x-www-form-urlencoded`, decoded).
    #[must_use]
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        let mut r = Self::default();
        for (k, v) in pairs {
            if let Some(key) = k.strip_prefix("answer-") {
                r.answers.insert(key.to_owned(), v);
            } else if let Some(key) = k.strip_prefix("message-") {
                r.messages.insert(key.to_owned(), v);
            } else {
                match k.as_str() {
                    "missing" => r.missing = v,
                    "name" => r.name = v,
                    "job_title" => r.job_title = v,
                    "consent" => r.consent = matches!(v.as_str(), "true" | "on" | "yes" | "1"),
                    "website" => r.website = v,
                    _ => {}
                }
            }
        }
        r
    }

    /// The form filled in from a stored answer (to update it).
    #[must_use]
    pub fn from_stored(s: &StoredAnswer) -> Self {
        Self {
            answers: s
                .answers
                .iter()
                .map(|a| (a.key.clone(), a.verdict.as_str().to_owned()))
                .collect(),
            messages: s
                .answers
                .iter()
                .map(|a| (a.key.clone(), a.message.clone()))
                .collect(),
            missing: s.missing.clone(),
            name: s.name.clone().unwrap_or_default(),
            job_title: s.job_title.clone().unwrap_or_default(),
            consent: s.name.is_some(),
            website: String::new(),
        }
    }
}

/// A checked answer, ready to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAnswer {
    /// Per item, in the items' order.
    pub answers: Vec<ItemAnswer>,
    /// What the LA saw.
    pub shown: Vec<Item>,
    /// What is missing (may be empty).
    pub missing: String,
    /// Name.
    pub name: String,
    /// Job title.
    pub job_title: String,
    /// The data version the page showed.
    pub data_version: String,
}

impl NewAnswer {
    /// Whether every item was confirmed and nothing is missing.
    #[must_use]
    pub fn all_confirmed(&self) -> bool {
        all_confirmed(&self.answers, &self.missing)
    }
}

fn all_confirmed(answers: &[ItemAnswer], missing: &str) -> bool {
    answers.iter().all(|a| a.verdict == Verdict::Correct) && missing.trim().is_empty()
}

/// Why an answer was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// Field name (`answer-<key>`, `message-<key>`, `name`, …) → message.
    Fields(BTreeMap<String, String>),
    /// The honeypot was filled in.
    Spam,
}

fn too_long(s: &str, max: usize) -> bool {
    s.chars().count() > max
}

/// Check an answer against the items shown (pure). Every item needs a verdict; "needs a
/// change" needs a message of at least 10 characters; name, job title and consent are required.
///
/// # Errors
/// Every problem, by form field.
pub fn validate(
    raw: &RawResponse,
    shown: &[Item],
    data_version: &str,
) -> Result<NewAnswer, Refused> {
    if !raw.website.trim().is_empty() {
        return Err(Refused::Spam);
    }
    let mut e = BTreeMap::new();
    let mut answers = Vec::new();
    for item in shown {
        let message = raw
            .messages
            .get(&item.key)
            .map_or("", |m| m.trim())
            .to_owned();
        let verdict = raw
            .answers
            .get(&item.key)
            .and_then(|v| Verdict::parse(v.trim()));
        match verdict {
            None => {
                e.insert(
                    format!("answer-{}", item.key),
                    format!("Choose an answer for “{}”.", item.title),
                );
            }
            Some(Verdict::Change) if message.chars().count() < 10 => {
                e.insert(
                    format!("message-{}", item.key),
                    format!(
                        "Say what should change in “{}”, in at least 10 characters.",
                        item.title
                    ),
                );
            }
            Some(_) if too_long(&message, MAX_MESSAGE) => {
                e.insert(
                    format!("message-{}", item.key),
                    format!("Keep the message under {MAX_MESSAGE} characters."),
                );
            }
            Some(verdict) => answers.push(ItemAnswer {
                key: item.key.clone(),
                verdict,
                message,
            }),
        }
    }
    let missing = raw.missing.trim();
    if too_long(missing, MAX_MESSAGE) {
        e.insert(
            "missing".into(),
            format!("Keep this under {MAX_MESSAGE} characters."),
        );
    }
    let name = raw.name.trim();
    if name.is_empty() {
        e.insert(
            "name".into(),
            "Give your name, so the research team can follow up.".into(),
        );
    } else if too_long(name, MAX_SHORT) {
        e.insert(
            "name".into(),
            format!("Keep your name under {MAX_SHORT} characters."),
        );
    }
    let job_title = raw.job_title.trim();
    if job_title.is_empty() {
        e.insert("job_title".into(), "Give your role at the council.".into());
    } else if too_long(job_title, MAX_SHORT) {
        e.insert(
            "job_title".into(),
            format!("Keep your role under {MAX_SHORT} characters."),
        );
    }
    if !raw.consent {
        e.insert(
            "consent".into(),
            "We can only store your answer with your consent.".into(),
        );
    }
    if !e.is_empty() {
        return Err(Refused::Fields(e));
    }
    Ok(NewAnswer {
        answers,
        shown: shown.to_vec(),
        missing: missing.to_owned(),
        name: name.to_owned(),
        job_title: job_title.to_owned(),
        data_version: data_version.to_owned(),
    })
}

/// A stored answer, as editors see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct StoredAnswer {
    /// Row id.
    pub id: i64,
    /// e.g. `VR-000012`.
    pub reference: String,
    /// The invitation it answers.
    pub invitation_id: i64,
    /// The campaign.
    pub campaign_id: i64,
    /// LA code.
    pub la_code: String,
    /// First sent (RFC 3339 UTC).
    pub created_at: String,
    /// Last sent; the date of the verification an editor accepts.
    pub updated_at: String,
    /// Per item.
    pub answers: Vec<ItemAnswer>,
    /// What the LA saw.
    pub shown: Vec<Item>,
    /// What is missing.
    pub missing: String,
    /// Name; `None` once purged.
    pub name: Option<String>,
    /// Job title; `None` once purged.
    pub job_title: Option<String>,
    /// The data version the page showed.
    pub data_version: String,
    /// `verified` or `closed` once settled.
    pub outcome: Option<String>,
    /// When settled.
    pub settled_at: Option<String>,
    /// Who settled it (an editor).
    pub settled_by: Option<String>,
    /// The editor's note when closing it.
    pub settle_note: Option<String>,
    /// The changes linked to it, in log order (the `la.verify` that settled it among them).
    pub changes: Vec<i64>,
    /// When personal fields were deleted under the retention policy.
    pub personal_data_purged_at: Option<String>,
}

impl StoredAnswer {
    /// Whether every item was confirmed and nothing is missing.
    #[must_use]
    pub fn all_confirmed(&self) -> bool {
        all_confirmed(&self.answers, &self.missing)
    }

    /// The items the LA asked to change or said no longer exist, with the answer.
    pub fn requested_changes(&self) -> impl Iterator<Item = (&Item, &ItemAnswer)> {
        self.answers
            .iter()
            .filter(|a| a.verdict != Verdict::Correct)
            .filter_map(|a| self.shown.iter().find(|i| i.key == a.key).map(|i| (i, a)))
    }

    /// The date an accepted verification is recorded with: the day the LA last sent it.
    #[must_use]
    pub fn date(&self) -> &str {
        self.updated_at.get(..10).unwrap_or(&self.updated_at)
    }
}

/// The editor action a requested change opens: the kind of change (as the edit API names it)
/// and the partnership it is about.
#[must_use]
pub fn suggested_edit(item: &Item, verdict: Verdict) -> (&'static str, Option<&str>) {
    match (item.partnership.as_deref(), verdict) {
        (None, _) => ("la_role.set", None),
        (Some(p), Verdict::Gone) => ("partnership.retire", Some(p)),
        (Some(p), _) => ("partnership.update", Some(p)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown() -> Vec<Item> {
        ["role", "p:a", "p:b"]
            .iter()
            .map(|k| Item {
                key: (*k).into(),
                kind: "partnership".into(),
                partnership: None,
                title: format!("Item {k}"),
                lines: vec![],
                sources: vec![],
                evidence_date: String::new(),
            })
            .collect()
    }

    fn pairs(p: &[(&str, &str)]) -> RawResponse {
        RawResponse::from_pairs(
            p.iter()
                .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
                .collect(),
        )
    }

    #[test]
    fn every_item_needs_an_answer_and_a_change_needs_words() {
        let raw = pairs(&[
            ("answer-role", "correct"),
            ("answer-p:a", "change"),
            ("message-p:a", "short"),
            ("name", " "),
        ]);
        let Err(Refused::Fields(e)) = validate(&raw, &shown(), "v1") else {
            panic!("refused");
        };
        assert!(e["answer-p:b"].contains("Item p:b"));
        assert!(e["message-p:a"].contains("at least 10"));
        assert!(e.contains_key("name"));
        assert!(e.contains_key("job_title"));
        assert!(e.contains_key("consent"));
        assert!(!e.contains_key("answer-role"));
    }

    #[test]
    fn a_complete_answer_is_kept_in_the_items_order() {
        let raw = pairs(&[
            ("answer-p:b", "gone"),
            ("answer-role", "correct"),
            ("answer-p:a", "change"),
            ("message-p:a", "The website moved to example.org"),
            ("name", "Sam Officer"),
            ("job_title", "Head of school improvement"),
            ("consent", "on"),
        ]);
        let ok = validate(&raw, &shown(), "v1").expect("valid");
        let keys: Vec<_> = ok.answers.iter().map(|a| a.key.as_str()).collect();
        assert_eq!(keys, ["role", "p:a", "p:b"]);
        assert_eq!(ok.answers[2].verdict, Verdict::Gone);
        assert!(!ok.all_confirmed());
        let spam = pairs(&[("website", "http://spam")]);
        assert_eq!(validate(&spam, &shown(), "v1"), Err(Refused::Spam));
    }
}
