//! What the stores keep of verification rounds: campaigns, invitations (the SHA-256 of each
//! link's token, never the token; the address to mail it to, which never leaves the store),
//! and the LAs' answers. Both stores implement [`VerificationStore`]; every read goes to the
//! database, so an answer sent to one replica is what every replica shows.
//!
//! An answer is settled in the change log's own transaction: appending an `la.verify` linked
//! to a response marks it verified (see `Store::append_change`), as a change linked to a
//! submission marks that accepted.

use async_trait::async_trait;

use super::StoreError;
use crate::changes::{Change, NewChange};
use crate::verification::response::{NewAnswer, StoredAnswer};
use crate::verification::{Campaign, Invitation, MailStatus, NewCampaign, NewLink};

// SQL both databases run as written: `$n` parameters, each first used in order (SQLite numbers
// `$n` parameters by first use, PostgreSQL by n, so the two agree).

/// Settle a response as verified: binds `(now, editor, response id)`.
pub const SETTLE_SQL: &str =
    "UPDATE verification_responses SET outcome = 'verified', settled_at = $1, settled_by = $2
     WHERE id = $3 AND outcome IS NULL";

/// An undo of the `la.verify` that settled a response reopens it: binds `(undone change id)`.
pub const REOPEN_SQL: &str = "UPDATE verification_responses SET outcome = NULL, settled_at = NULL, settled_by = NULL
     WHERE outcome = 'verified' AND id = (SELECT verification_id FROM changes WHERE id = $1 AND kind = 'la.verify')";

/// The retention policy: binds `(now, cutoff)`.
pub const PURGE_SQL: [&str; 2] = [
    "UPDATE verification_responses SET name = NULL, job_title = NULL, personal_data_purged_at = $1
     WHERE settled_at IS NOT NULL AND settled_at < $2 AND personal_data_purged_at IS NULL",
    "UPDATE verification_invitations SET recipient = NULL, recipient_purged_at = $1
     WHERE recipient IS NOT NULL AND (expires_at < $2 OR revoked_at < $2
        OR id IN (SELECT invitation_id FROM verification_responses WHERE settled_at < $2))",
];

/// Whether appending `n` settles the response it links to: an `la.verify` that verifies.
#[must_use]
pub fn settles(n: &NewChange) -> bool {
    matches!(n.change, Change::LaVerify { verified: true, .. })
}

/// The outcome of saving an LA's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaveAnswer {
    /// Stored (first answer or an update); the response's id.
    Saved(i64),
    /// An editor settled the answer already: nothing was changed.
    Settled,
}

/// The outcome of closing an answer without recording a verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Close {
    /// Closed now.
    Closed(Box<StoredAnswer>),
    /// It was settled already.
    AlreadySettled,
    /// No such response.
    Missing,
}

/// An invitation found by its link, with the stored hash to compare in constant time.
#[derive(Debug, Clone)]
pub struct Found {
    /// The invitation.
    pub invitation: Invitation,
    /// The stored SHA-256, hex.
    pub hash_hex: String,
}

/// Invitations with their responses, as [`INVITATION_COLUMNS`] reads them.
pub const FROM_INVITATIONS: &str =
    "FROM verification_invitations i LEFT JOIN verification_responses r ON r.invitation_id = i.id";
/// Responses with their invitations, as [`ANSWER_COLUMNS`] reads them.
pub const FROM_ANSWERS: &str =
    "FROM verification_responses r JOIN verification_invitations i ON i.id = r.invitation_id";

/// The columns an [`Invitation`] is read from, in this order, over [`FROM_INVITATIONS`].
pub const INVITATION_COLUMNS: &str = "i.id, i.campaign_id, i.la_code, i.invited_at, i.expires_at, i.opened_at, i.revoked_at, r.id, r.updated_at, r.settled_at, r.outcome, i.recipient, i.mail_status, i.mail_error, i.mailed_at, i.token_hash";

/// The values of [`INVITATION_COLUMNS`].
pub type InvitationColumns = (
    i64,
    i64,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
    Option<String>,
    Option<String>,
    String,
);

/// An invitation (and its stored hash) from its columns.
#[must_use]
pub fn decode_invitation(c: InvitationColumns) -> Found {
    let (
        id,
        campaign_id,
        la_code,
        invited_at,
        expires_at,
        opened_at,
        revoked_at,
        response_id,
        responded_at,
        settled_at,
        outcome,
        recipient,
        mail_status,
        mail_error,
        mailed_at,
        hash_hex,
    ) = c;
    Found {
        invitation: Invitation {
            id,
            campaign_id,
            la_code,
            invited_at,
            expires_at,
            opened_at,
            revoked_at,
            response_id,
            responded_at,
            settled_at,
            outcome,
            has_recipient: recipient.is_some(),
            mail_status: MailStatus::parse(&mail_status),
            mail_error,
            mailed_at,
        },
        hash_hex,
    }
}

/// The columns a [`StoredAnswer`] is read from (with its linked changes read apart), over
/// [`FROM_ANSWERS`].
pub const ANSWER_COLUMNS: &str = "r.id, r.invitation_id, i.campaign_id, i.la_code, r.created_at, r.updated_at, r.answers, r.shown, r.missing, r.name, r.job_title, r.data_version, r.outcome, r.settled_at, r.settled_by, r.settle_note, r.personal_data_purged_at";

/// A stored answer's columns as both databases return them (JSON as text).
#[derive(Debug, Clone)]
pub struct AnswerRow {
    /// `r.id`.
    pub id: i64,
    /// `r.invitation_id`.
    pub invitation_id: i64,
    /// `i.campaign_id`.
    pub campaign_id: i64,
    /// `i.la_code`.
    pub la_code: String,
    /// `r.created_at`.
    pub created_at: String,
    /// `r.updated_at`.
    pub updated_at: String,
    /// `r.answers` (JSON).
    pub answers: String,
    /// `r.shown` (JSON).
    pub shown: String,
    /// `r.missing`.
    pub missing: String,
    /// `r.name`.
    pub name: Option<String>,
    /// `r.job_title`.
    pub job_title: Option<String>,
    /// `r.data_version`.
    pub data_version: String,
    /// `r.outcome`.
    pub outcome: Option<String>,
    /// `r.settled_at`.
    pub settled_at: Option<String>,
    /// `r.settled_by`.
    pub settled_by: Option<String>,
    /// `r.settle_note`.
    pub settle_note: Option<String>,
    /// `r.personal_data_purged_at`.
    pub personal_data_purged_at: Option<String>,
}

impl AnswerRow {
    /// The answer, with the ids of the changes linked to it.
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] if a JSON column does not parse.
    pub fn decode(self, changes: Vec<i64>) -> Result<StoredAnswer, StoreError> {
        let bad = |e: serde_json::Error| StoreError::Corrupt(self.id, e.to_string());
        Ok(StoredAnswer {
            id: self.id,
            reference: crate::verification::reference(self.id),
            invitation_id: self.invitation_id,
            campaign_id: self.campaign_id,
            la_code: self.la_code,
            created_at: self.created_at,
            updated_at: self.updated_at,
            answers: serde_json::from_str(&self.answers).map_err(bad)?,
            shown: serde_json::from_str(&self.shown).map_err(bad)?,
            missing: self.missing,
            name: self.name,
            job_title: self.job_title,
            data_version: self.data_version,
            outcome: self.outcome,
            settled_at: self.settled_at,
            settled_by: self.settled_by,
            settle_note: self.settle_note,
            changes,
            personal_data_purged_at: self.personal_data_purged_at,
        })
    }
}

/// `[answers, shown]`: the JSON text columns of an answer to store.
///
/// # Errors
/// Never in practice (plain data serialises).
pub fn encode_answer(a: &NewAnswer) -> Result<[String; 2], StoreError> {
    let j =
        |v: Result<String, serde_json::Error>| v.map_err(|e| StoreError::Database(e.to_string()));
    Ok([
        j(serde_json::to_string(&a.answers))?,
        j(serde_json::to_string(&a.shown))?,
    ])
}

/// Verification rounds in the database.
#[async_trait]
pub trait VerificationStore: Send + Sync {
    /// Create a campaign and its invitations in one transaction; the campaign's id.
    async fn create_campaign(
        &self,
        c: &NewCampaign,
        created_by: &str,
        links: &[NewLink],
        now: &str,
    ) -> Result<i64, StoreError>;
    /// Every campaign, newest first.
    async fn campaigns(&self) -> Result<Vec<Campaign>, StoreError>;
    /// Invitations of one campaign (or of all), in campaign and creation order.
    async fn invitations(&self, campaign: Option<i64>) -> Result<Vec<Invitation>, StoreError>;
    /// Invitations whose hash starts as `lookup` says (see `token::TokenHash::lookup`).
    async fn invitations_by_lookup(&self, lookup: &str) -> Result<Vec<Found>, StoreError>;
    /// Note that the page was opened (the first time counts).
    async fn mark_opened(&self, invitation: i64, now: &str) -> Result<(), StoreError>;
    /// Revoke a link; `false` if there is no such invitation.
    async fn revoke_invitation(&self, invitation: i64, now: &str) -> Result<bool, StoreError>;
    /// Replace an invitation's link (new hash, issue time and expiry; the old link stops
    /// working). `false` if there is no such invitation.
    async fn reissue_link(
        &self,
        invitation: i64,
        link: &NewLink,
        now: &str,
    ) -> Result<bool, StoreError>;
    /// The address to mail an invitation to, if any (never shown or exported).
    async fn recipient(&self, invitation: i64) -> Result<Option<String>, StoreError>;
    /// Record what the mail did.
    async fn record_mail(
        &self,
        invitation: i64,
        status: MailStatus,
        error: Option<&str>,
        now: &str,
    ) -> Result<(), StoreError>;
    /// Store or update the answer to an invitation, unless an editor settled it already.
    async fn save_answer(
        &self,
        invitation: i64,
        a: &NewAnswer,
        now: &str,
    ) -> Result<SaveAnswer, StoreError>;
    /// One answer.
    async fn answer(&self, id: i64) -> Result<Option<StoredAnswer>, StoreError>;
    /// Answers, newest first; only those no editor has settled when `unsettled`.
    async fn answers(&self, unsettled: bool) -> Result<Vec<StoredAnswer>, StoreError>;
    /// Settle an answer without recording a verification.
    async fn close_answer(
        &self,
        id: i64,
        editor: &str,
        note: &str,
        now: &str,
    ) -> Result<Close, StoreError>;
    /// Per LA, when it was last invited (links not revoked): `(code, RFC 3339 time)`.
    async fn last_invited(&self) -> Result<Vec<(String, String)>, StoreError>;
}
