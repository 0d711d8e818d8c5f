//! Durable storage behind one async trait: submissions and their review, the change log, and
//! the per-client submission limit. SQLite (`sqlite`) is the embedded default; PostgreSQL
//! implements the same trait for replicas.
//!
//! Every write is committed durably before the call returns, so a 201 that follows it survives
//! `kill -9`. The log's order is the database's: [`Store::append_change`] only appends when no
//! other writer got there first, so every replica applies the same changes in the same order.

pub mod postgres;
pub mod sqlite;
pub mod verification;

use async_trait::async_trait;

use crate::changes::{LoggedChange, NewChange};
use crate::submission::{NewSubmission, Submission};
pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;
pub use verification::VerificationStore;

/// A storage failure (never the client's fault).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite said no.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The database cannot be reached now (e.g. PostgreSQL is down); retrying later may work.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    /// Any other database failure.
    #[error("database error: {0}")]
    Database(String),
    /// Creating the database directory failed.
    #[error("cannot create {path}: {source}")]
    Io {
        /// The directory.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// A stored row could not be decoded (a bug or a hand-edited database).
    #[error("stored row {0} cannot be read: {1}")]
    Corrupt(i64, String),
    /// The connection mutex was poisoned by a panic elsewhere.
    #[error("database connection unavailable")]
    Poisoned,
    /// A blocking database task failed.
    #[error("database task failed: {0}")]
    Task(String),
}

/// A page of submissions.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Page {
    /// Matching rows in total.
    pub total: i64,
    /// This page, newest first.
    pub items: Vec<Submission>,
}

/// The columns of the `changes` table a logged change is read from, in this order.
pub const CHANGE_COLUMNS: &str = "id, created_at, editor, body, reason, submission_id, reverts, summary, diff, undo, la_codes, verification_id";

/// The values of [`CHANGE_COLUMNS`], as both databases return them (JSON as text).
pub type ChangeColumns = (
    i64,
    String,
    String,
    String,
    String,
    Option<i64>,
    Option<i64>,
    String,
    String,
    String,
    String,
    Option<i64>,
);

/// `[body, diff, undo, la_codes]`: the JSON text columns of a change to log.
///
/// # Errors
/// Never in practice (plain data serialises).
pub fn encode_change(c: &NewChange) -> Result<[String; 4], StoreError> {
    let j =
        |v: Result<String, serde_json::Error>| v.map_err(|e| StoreError::Database(e.to_string()));
    Ok([
        j(serde_json::to_string(&c.change))?,
        j(serde_json::to_string(&c.diff))?,
        j(serde_json::to_string(&c.undo))?,
        j(serde_json::to_string(&c.la_codes))?,
    ])
}

/// A logged change from its stored columns.
///
/// # Errors
/// [`StoreError::Corrupt`] if a JSON column does not parse.
pub fn decode_change(columns: ChangeColumns) -> Result<LoggedChange, StoreError> {
    let (
        id,
        created_at,
        editor,
        body,
        reason,
        submission,
        reverts,
        summary,
        diff,
        undo,
        la_codes,
        verification,
    ) = columns;
    let bad = |e: serde_json::Error| StoreError::Corrupt(id, e.to_string());
    let entry = NewChange {
        editor,
        change: serde_json::from_str(&body).map_err(bad)?,
        reason,
        submission,
        verification,
        reverts,
        summary,
        la_codes: serde_json::from_str(&la_codes).map_err(bad)?,
        diff: serde_json::from_str(&diff).map_err(bad)?,
        undo: serde_json::from_str(&undo).map_err(bad)?,
    };
    Ok(entry.logged(id, created_at))
}

/// The outcome of [`Store::append_change`].
#[derive(Debug, Clone)]
pub enum Append {
    /// Logged, with its id and time.
    Appended(Box<LoggedChange>),
    /// Another writer appended after `after` first: catch up, check again, retry.
    Stale,
    /// The linked submission does not exist.
    NoSuchSubmission(i64),
    /// The linked verification response does not exist.
    NoSuchVerification(i64),
}

/// The outcome of taking a submission slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// Within the limit; counted.
    Granted,
    /// Over the limit: seconds until a slot frees up.
    Refused {
        /// Seconds to wait.
        retry_after: u64,
    },
}

/// What the server needs from its database (verification rounds: [`VerificationStore`]).
#[async_trait]
pub trait Store: VerificationStore + Send + Sync {
    /// Store a new submission durably; returns its id.
    async fn insert_submission(&self, s: &NewSubmission, now: &str) -> Result<i64, StoreError>;
    /// List submissions, newest first, optionally by status.
    async fn list_submissions(
        &self,
        status: Option<&str>,
        limit: i64,
        offset: i64,
    ) -> Result<Page, StoreError>;
    /// One submission.
    async fn get_submission(&self, id: i64) -> Result<Option<Submission>, StoreError>;
    /// Record a review decision; `None` if there is no such submission.
    async fn review_submission(
        &self,
        id: i64,
        status: &str,
        note: &str,
        reviewer: &str,
        now: &str,
    ) -> Result<Option<Submission>, StoreError>;
    /// Delete name, organisation and email of submissions reviewed before `cutoff`, the name
    /// and job title of verification answers settled before it, and the mail addresses of
    /// invitations that ended (expired, revoked or settled) before it.
    async fn purge_personal(&self, cutoff: &str, now: &str) -> Result<usize, StoreError>;

    /// Count a submission from `client` against `limit` per `window` seconds (a sliding
    /// window), and forget slots older than the window (so the table stays bounded).
    async fn take_submission_slot(
        &self,
        client: &str,
        limit: u32,
        window: i64,
        now: i64,
    ) -> Result<Slot, StoreError>;

    /// A random id of this change log, fixed when the database was created. `data export`
    /// records it, so files exported from this log skip the changes they already contain.
    async fn log_id(&self) -> Result<String, StoreError>;
    /// Append a change, if the last logged id is still `after`; in the same transaction,
    /// mark its submission accepted and point the review at the change.
    async fn append_change(
        &self,
        after: i64,
        c: &NewChange,
        now: &str,
    ) -> Result<Append, StoreError>;
    /// Every change with an id above `after`, in log order.
    async fn changes_after(&self, after: i64) -> Result<Vec<LoggedChange>, StoreError>;

    /// Woken when another process may have appended to the log (PostgreSQL's `NOTIFY`);
    /// `None` for a store only this process writes (SQLite).
    fn notifications(&self) -> Option<std::sync::Arc<tokio::sync::Notify>> {
        None
    }
}

/// A new random-looking id for a change log (time, process and address entropy; it need only
/// be unique, not secret).
#[must_use]
pub fn new_log_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let local = 0u8;
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    h.update(&nanos.to_le_bytes());
    h.update(&std::process::id().to_le_bytes());
    h.update(&(std::ptr::addr_of!(local) as usize).to_le_bytes());
    format!("{:032x}", h.digest128())
}
