//! Durable storage of submissions behind a small trait; SQLite is the embedded implementation.
//!
//! SQLite runs in WAL mode with `synchronous=FULL`, so a submission is on disk (fsynced) before
//! the 201 goes out: it survives `kill -9` and power loss. Migrations are numbered in code and
//! applied at startup through `PRAGMA user_version`. A PostgreSQL store would implement the
//! same trait (see README, "Storage").

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension, params};

use crate::submission::{NewSubmission, Submission, reference};

/// A storage failure (never the client's fault).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite said no.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// Creating the database directory failed.
    #[error("cannot create {path}: {source}")]
    Io {
        /// The directory.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The connection mutex was poisoned by a panic elsewhere.
    #[error("database connection unavailable")]
    Poisoned,
}

/// A page of submissions.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Page {
    /// Matching rows in total.
    pub total: i64,
    /// This page, newest first.
    pub items: Vec<Submission>,
}

/// What the server needs from a submission store.
pub trait SubmissionStore: Send + Sync {
    /// Store a new submission durably; returns its id.
    ///
    /// # Errors
    /// On storage failure.
    fn insert(&self, s: &NewSubmission, now: &str) -> Result<i64, StoreError>;
    /// List, newest first, optionally by status.
    ///
    /// # Errors
    /// On storage failure.
    fn list(&self, status: Option<&str>, limit: i64, offset: i64) -> Result<Page, StoreError>;
    /// One submission.
    ///
    /// # Errors
    /// On storage failure.
    fn get(&self, id: i64) -> Result<Option<Submission>, StoreError>;
    /// Record a review decision; `None` if there is no such submission.
    ///
    /// # Errors
    /// On storage failure.
    fn review(
        &self,
        id: i64,
        status: &str,
        note: &str,
        now: &str,
    ) -> Result<Option<Submission>, StoreError>;
    /// Delete name, organisation and email of submissions reviewed before `cutoff`; returns how many.
    ///
    /// # Errors
    /// On storage failure.
    fn purge_personal(&self, cutoff: &str, now: &str) -> Result<usize, StoreError>;
}

/// Numbered migrations; index + 1 is the schema version. Never edit one that has shipped.
const MIGRATIONS: &[&str] = &["CREATE TABLE submissions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        created_at TEXT NOT NULL,
        la_code TEXT NOT NULL,
        partnership_id TEXT,
        kind TEXT NOT NULL,
        message TEXT NOT NULL,
        name TEXT,
        organisation TEXT,
        email TEXT,
        status TEXT NOT NULL DEFAULT 'new',
        review_note TEXT,
        reviewed_at TEXT,
        personal_data_purged_at TEXT,
        data_version TEXT NOT NULL
    );
    CREATE INDEX submissions_status ON submissions(status, id);"];

/// SQLite store (one connection; SQLite serialises writers anyway).
pub struct SqliteStore {
    conn: Mutex<Connection>,
}

impl SqliteStore {
    /// Open or create the database file, creating its directory, and migrate it.
    ///
    /// # Errors
    /// If the file cannot be opened or migrated.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::Io {
                path: dir.display().to_string(),
                source,
            })?;
        }
        Self::init(Connection::open(path)?)
    }

    /// A private in-memory database (tests, benchmarks).
    ///
    /// # Errors
    /// If SQLite cannot start.
    pub fn open_in_memory() -> Result<Self, StoreError> {
        Self::init(Connection::open_in_memory()?)
    }

    fn init(mut conn: Connection) -> Result<Self, StoreError> {
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        let tx = conn.transaction()?;
        for (i, sql) in MIGRATIONS.iter().enumerate() {
            let v = i64::try_from(i).unwrap_or(i64::MAX) + 1;
            if v > version {
                tx.execute_batch(sql)?;
                tx.pragma_update(None, "user_version", v)?;
            }
        }
        tx.commit()?;
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    /// The schema version after migration.
    ///
    /// # Errors
    /// On storage failure.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        let c = self.conn.lock().map_err(|_| StoreError::Poisoned)?;
        Ok(c.pragma_query_value(None, "user_version", |r| r.get(0))?)
    }

    /// `(journal_mode, synchronous)` as SQLite reports them.
    ///
    /// # Errors
    /// On storage failure.
    pub fn durability(&self) -> Result<(String, i64), StoreError> {
        let c = self.conn.lock().map_err(|_| StoreError::Poisoned)?;
        let mode: String = c.pragma_query_value(None, "journal_mode", |r| r.get(0))?;
        let sync: i64 = c.pragma_query_value(None, "synchronous", |r| r.get(0))?;
        Ok((mode, sync))
    }
}

const COLUMNS: &str = "id, created_at, la_code, partnership_id, kind, message, name, organisation, email, status, review_note, reviewed_at, personal_data_purged_at, data_version";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Submission> {
    let id: i64 = r.get(0)?;
    Ok(Submission {
        id,
        reference: reference(id),
        created_at: r.get(1)?,
        la_code: r.get(2)?,
        partnership_id: r.get(3)?,
        kind: r.get(4)?,
        message: r.get(5)?,
        name: r.get(6)?,
        organisation: r.get(7)?,
        email: r.get(8)?,
        status: r.get(9)?,
        review_note: r.get(10)?,
        reviewed_at: r.get(11)?,
        personal_data_purged_at: r.get(12)?,
        data_version: r.get(13)?,
    })
}

impl SubmissionStore for SqliteStore {
    fn insert(&self, s: &NewSubmission, now: &str) -> Result<i64, StoreError> {
        let c = self.conn.lock().map_err(|_| StoreError::Poisoned)?;
        c.execute(
            "INSERT INTO submissions (created_at, la_code, partnership_id, kind, message, name, organisation, email, data_version)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![now, s.la_code, s.partnership_id, s.kind, s.message, s.name, s.organisation, s.email, s.data_version],
        )?;
        Ok(c.last_insert_rowid())
    }

    fn list(&self, status: Option<&str>, limit: i64, offset: i64) -> Result<Page, StoreError> {
        let c = self.conn.lock().map_err(|_| StoreError::Poisoned)?;
        let total: i64 = c.query_row(
            "SELECT COUNT(*) FROM submissions WHERE ?1 IS NULL OR status = ?1",
            params![status],
            |r| r.get(0),
        )?;
        let mut stmt = c.prepare(&format!(
            "SELECT {COLUMNS} FROM submissions WHERE ?1 IS NULL OR status = ?1 ORDER BY id DESC LIMIT ?2 OFFSET ?3"
        ))?;
        let items = stmt
            .query_map(params![status, limit, offset], row)?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Page { total, items })
    }

    fn get(&self, id: i64) -> Result<Option<Submission>, StoreError> {
        let c = self.conn.lock().map_err(|_| StoreError::Poisoned)?;
        Ok(c.query_row(
            &format!("SELECT {COLUMNS} FROM submissions WHERE id = ?1"),
            params![id],
            row,
        )
        .optional()?)
    }

    fn review(
        &self,
        id: i64,
        status: &str,
        note: &str,
        now: &str,
    ) -> Result<Option<Submission>, StoreError> {
        {
            let c = self.conn.lock().map_err(|_| StoreError::Poisoned)?;
            let n = c.execute(
                "UPDATE submissions SET status = ?2, review_note = ?3, reviewed_at = ?4 WHERE id = ?1",
                params![id, status, note, now],
            )?;
            if n == 0 {
                return Ok(None);
            }
        }
        self.get(id)
    }

    fn purge_personal(&self, cutoff: &str, now: &str) -> Result<usize, StoreError> {
        let c = self.conn.lock().map_err(|_| StoreError::Poisoned)?;
        Ok(c.execute(
            "UPDATE submissions SET name = NULL, organisation = NULL, email = NULL, personal_data_purged_at = ?2
             WHERE reviewed_at IS NOT NULL AND reviewed_at < ?1 AND personal_data_purged_at IS NULL",
            params![cutoff, now],
        )?)
    }
}
