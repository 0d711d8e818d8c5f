//! The embedded store: SQLite in WAL mode with `synchronous=FULL`, so every write is on disk
//! (fsynced) before the call returns and survives `kill -9` and power loss.
//!
//! One connection behind a mutex (SQLite serialises writers anyway); each call runs on tokio's
//! blocking pool. Migrations are numbered in code and applied at startup through
//! `PRAGMA user_version`, inside one transaction.

use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};

use super::{
    Append, CHANGE_COLUMNS, ChangeColumns, Page, Slot, Store, StoreError, decode_change,
    encode_change, new_log_id,
};
use crate::changes::{LoggedChange, NewChange};
use crate::submission::{NewSubmission, Submission, reference};

mod rounds;

/// Numbered migrations; index + 1 is the schema version. Never edit one that has shipped.
const MIGRATIONS: &[&str] = &[
    "CREATE TABLE submissions (
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
    CREATE INDEX submissions_status ON submissions(status, id);",
    "CREATE TABLE changes (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        created_at TEXT NOT NULL,
        editor TEXT NOT NULL,
        kind TEXT NOT NULL,
        body TEXT NOT NULL,
        reason TEXT NOT NULL,
        submission_id INTEGER REFERENCES submissions(id),
        reverts INTEGER REFERENCES changes(id),
        summary TEXT NOT NULL,
        diff TEXT NOT NULL,
        undo TEXT NOT NULL
    );
    CREATE TABLE change_las (
        la_code TEXT NOT NULL,
        change_id INTEGER NOT NULL REFERENCES changes(id),
        PRIMARY KEY (la_code, change_id)
    );
    ALTER TABLE submissions ADD COLUMN change_id INTEGER REFERENCES changes(id);
    ALTER TABLE submissions ADD COLUMN reviewed_by TEXT;
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE submission_slots (client TEXT NOT NULL, at INTEGER NOT NULL);
    CREATE INDEX submission_slots_client ON submission_slots(client, at);
    CREATE INDEX submission_slots_at ON submission_slots(at);",
    // History is served from memory since the log is replayed there; the LAs of a change now
    // travel with it as a JSON array, as they do on PostgreSQL.
    "ALTER TABLE changes ADD COLUMN la_codes TEXT NOT NULL DEFAULT '[]';
    UPDATE changes SET la_codes = (
        SELECT coalesce(json_group_array(la_code), '[]')
        FROM (SELECT la_code FROM change_las WHERE change_id = changes.id ORDER BY rowid)
    );
    DROP TABLE change_las;",
    // Verification rounds (see `store::verification`); a change may act on an LA's answer.
    "CREATE TABLE verification_campaigns (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        created_at TEXT NOT NULL,
        created_by TEXT NOT NULL,
        name TEXT NOT NULL,
        contact_role TEXT NOT NULL,
        expiry_days INTEGER NOT NULL
    );
    CREATE TABLE verification_invitations (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        campaign_id INTEGER NOT NULL REFERENCES verification_campaigns(id),
        la_code TEXT NOT NULL,
        token_lookup TEXT NOT NULL,
        token_hash TEXT NOT NULL,
        invited_at TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        opened_at TEXT,
        revoked_at TEXT,
        recipient TEXT,
        mail_status TEXT NOT NULL DEFAULT 'not_sent',
        mail_error TEXT,
        mailed_at TEXT,
        recipient_purged_at TEXT,
        UNIQUE (campaign_id, la_code)
    );
    CREATE INDEX verification_invitations_lookup ON verification_invitations(token_lookup);
    CREATE INDEX verification_invitations_la ON verification_invitations(la_code);
    CREATE TABLE verification_responses (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        invitation_id INTEGER NOT NULL UNIQUE REFERENCES verification_invitations(id),
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        answers TEXT NOT NULL,
        shown TEXT NOT NULL,
        missing TEXT NOT NULL,
        name TEXT,
        job_title TEXT,
        data_version TEXT NOT NULL,
        outcome TEXT,
        settled_at TEXT,
        settled_by TEXT,
        settle_note TEXT,
        personal_data_purged_at TEXT
    );
    ALTER TABLE changes ADD COLUMN verification_id INTEGER REFERENCES verification_responses(id);
    CREATE INDEX changes_verification ON changes(verification_id);",
];

/// The schema version a database has after [`SqliteStore::open`]: one per migration.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// SQLite store.
#[derive(Clone)]
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
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
        tx.execute(
            "INSERT OR IGNORE INTO meta (key, value) VALUES ('log_id', ?1)",
            params![new_log_id()],
        )?;
        tx.commit()?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// Run `f` with the connection on the blocking pool.
    async fn with<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let conn = Arc::clone(&self.conn);
        tokio::task::spawn_blocking(move || {
            let mut c = conn.lock().map_err(|_| StoreError::Poisoned)?;
            f(&mut c)
        })
        .await
        .map_err(|e| StoreError::Task(e.to_string()))?
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

const COLUMNS: &str = "id, created_at, la_code, partnership_id, kind, message, name, organisation, email, status, review_note, reviewed_at, personal_data_purged_at, data_version, change_id, reviewed_by";

fn submission(r: &rusqlite::Row<'_>) -> rusqlite::Result<Submission> {
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
        change_id: r.get(14)?,
        reviewed_by: r.get(15)?,
    })
}

#[async_trait]
impl Store for SqliteStore {
    async fn insert_submission(&self, s: &NewSubmission, now: &str) -> Result<i64, StoreError> {
        let (s, now) = (s.clone(), now.to_owned());
        self.with(move |c| {
            c.execute(
                "INSERT INTO submissions (created_at, la_code, partnership_id, kind, message, name, organisation, email, data_version)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![now, s.la_code, s.partnership_id, s.kind, s.message, s.name, s.organisation, s.email, s.data_version],
            )?;
            Ok(c.last_insert_rowid())
        })
        .await
    }

    async fn list_submissions(
        &self,
        status: Option<&str>,
        limit: i64,
        offset: i64,
    ) -> Result<Page, StoreError> {
        let status = status.map(str::to_owned);
        self.with(move |c| {
            let total: i64 = c.query_row(
                "SELECT COUNT(*) FROM submissions WHERE ?1 IS NULL OR status = ?1",
                params![status],
                |r| r.get(0),
            )?;
            let mut stmt = c.prepare(&format!(
                "SELECT {COLUMNS} FROM submissions WHERE ?1 IS NULL OR status = ?1 ORDER BY id DESC LIMIT ?2 OFFSET ?3"
            ))?;
            let items = stmt
                .query_map(params![status, limit, offset], submission)?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Page { total, items })
        })
        .await
    }

    async fn get_submission(&self, id: i64) -> Result<Option<Submission>, StoreError> {
        self.with(move |c| {
            Ok(c.query_row(
                &format!("SELECT {COLUMNS} FROM submissions WHERE id = ?1"),
                params![id],
                submission,
            )
            .optional()?)
        })
        .await
    }

    async fn review_submission(
        &self,
        id: i64,
        status: &str,
        note: &str,
        reviewer: &str,
        now: &str,
    ) -> Result<Option<Submission>, StoreError> {
        let (status, note, reviewer, now) = (
            status.to_owned(),
            note.to_owned(),
            reviewer.to_owned(),
            now.to_owned(),
        );
        self.with(move |c| {
            let n = c.execute(
                "UPDATE submissions SET status = ?2, review_note = ?3, reviewed_at = ?4, reviewed_by = ?5 WHERE id = ?1",
                params![id, status, note, now, reviewer],
            )?;
            if n == 0 {
                return Ok(None);
            }
            Ok(c.query_row(
                &format!("SELECT {COLUMNS} FROM submissions WHERE id = ?1"),
                params![id],
                submission,
            )
            .optional()?)
        })
        .await
    }

    async fn purge_personal(&self, cutoff: &str, now: &str) -> Result<usize, StoreError> {
        let (cutoff, now) = (cutoff.to_owned(), now.to_owned());
        self.with(move |c| {
            let tx = c.transaction()?;
            let mut n = tx.execute(
                "UPDATE submissions SET name = NULL, organisation = NULL, email = NULL, personal_data_purged_at = ?2
                 WHERE reviewed_at IS NOT NULL AND reviewed_at < ?1 AND personal_data_purged_at IS NULL",
                params![cutoff, now],
            )?;
            for sql in crate::store::verification::PURGE_SQL {
                n += tx.execute(sql, params![now, cutoff])?;
            }
            tx.commit()?;
            Ok(n)
        })
        .await
    }

    async fn take_submission_slot(
        &self,
        client: &str,
        limit: u32,
        window: i64,
        now: i64,
    ) -> Result<Slot, StoreError> {
        let client = client.to_owned();
        self.with(move |c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            tx.execute(
                "DELETE FROM submission_slots WHERE at <= ?1",
                params![now - window],
            )?;
            let (used, oldest): (i64, Option<i64>) = tx.query_row(
                "SELECT COUNT(*), MIN(at) FROM submission_slots WHERE client = ?1",
                params![client],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            let slot = if used >= i64::from(limit) {
                let free_at = oldest.unwrap_or(now) + window;
                Slot::Refused {
                    retry_after: u64::try_from(free_at - now).unwrap_or(1).max(1),
                }
            } else {
                tx.execute(
                    "INSERT INTO submission_slots (client, at) VALUES (?1, ?2)",
                    params![client, now],
                )?;
                Slot::Granted
            };
            tx.commit()?;
            Ok(slot)
        })
        .await
    }

    async fn log_id(&self) -> Result<String, StoreError> {
        self.with(|c| {
            Ok(
                c.query_row("SELECT value FROM meta WHERE key = 'log_id'", [], |r| {
                    r.get(0)
                })?,
            )
        })
        .await
    }

    async fn append_change(
        &self,
        after: i64,
        n: &NewChange,
        now: &str,
    ) -> Result<Append, StoreError> {
        let (n, now) = (n.clone(), now.to_owned());
        self.with(move |c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let last: i64 =
                tx.query_row("SELECT COALESCE(MAX(id), 0) FROM changes", [], |r| r.get(0))?;
            if last != after {
                return Ok(Append::Stale);
            }
            if let Some(s) = n.submission {
                let exists: Option<i64> = tx
                    .query_row("SELECT id FROM submissions WHERE id = ?1", params![s], |r| {
                        r.get(0)
                    })
                    .optional()?;
                if exists.is_none() {
                    return Ok(Append::NoSuchSubmission(s));
                }
            }
            if let Some(v) = n.verification {
                let exists: Option<i64> = tx
                    .query_row("SELECT id FROM verification_responses WHERE id = ?1", params![v], |r| {
                        r.get(0)
                    })
                    .optional()?;
                if exists.is_none() {
                    return Ok(Append::NoSuchVerification(v));
                }
            }
            let [body, diff, undo, las] = encode_change(&n)?;
            tx.execute(
                "INSERT INTO changes (created_at, editor, kind, body, reason, submission_id, reverts, summary, diff, undo, la_codes, verification_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                params![now, n.editor, n.change.kind(), body, n.reason, n.submission, n.reverts, n.summary, diff, undo, las, n.verification],
            )?;
            let id = tx.last_insert_rowid();
            if let Some(v) = n.verification.filter(|_| crate::store::verification::settles(&n)) {
                tx.execute(crate::store::verification::SETTLE_SQL, params![now, n.editor, v])?;
            }
            if let Some(r) = n.reverts {
                tx.execute(crate::store::verification::REOPEN_SQL, params![r])?;
            }
            if let Some(s) = n.submission {
                tx.execute(
                    "UPDATE submissions SET status = 'accepted', change_id = ?2, reviewed_at = ?3, reviewed_by = ?4,
                     review_note = ?5 WHERE id = ?1",
                    params![s, id, now, n.editor, format!("Settled by change {id}: {}", n.reason)],
                )?;
            }
            tx.commit()?;
            Ok(Append::Appended(Box::new(n.logged(id, now))))
        })
        .await
    }

    async fn changes_after(&self, after: i64) -> Result<Vec<LoggedChange>, StoreError> {
        self.with(move |c| {
            c.prepare(&format!(
                "SELECT {CHANGE_COLUMNS} FROM changes WHERE id > ?1 ORDER BY id"
            ))?
            .query_map(params![after], |r| ChangeColumns::try_from(r))?
            .map(|r| r.map_err(StoreError::from).and_then(decode_change))
            .collect()
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A database written by the release before migration 3 (LAs in `change_las`) upgrades
    /// with each change keeping its LAs, in the order they were stored.
    #[tokio::test]
    async fn migration_3_moves_change_las_into_the_change() {
        let dir = std::env::temp_dir().join(format!("pm-mig3-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("test setup");
        let path = dir.join("old.sqlite");
        {
            let c = Connection::open(&path).expect("test setup");
            for (i, sql) in MIGRATIONS[..2].iter().enumerate() {
                c.execute_batch(sql).expect("test setup");
                c.pragma_update(None, "user_version", i + 1)
                    .expect("test setup");
            }
            c.execute_batch(
                r#"INSERT INTO changes (created_at, editor, kind, body, reason, summary, diff, undo)
                   VALUES ('2026-11-01T00:00:00Z', 'ed', 'la.verify',
                           '{"type":"la.verify","la":"E06000010","verified":true,"verified_on":"2026-11-01"}',
                           'checked', 's', '[]', '[]');
                   INSERT INTO change_las (la_code, change_id) VALUES ('E06000010', 1), ('E06000002', 1);"#,
            )
            .expect("test setup");
        }
        let store = SqliteStore::open(&path).expect("test setup");
        assert_eq!(store.schema_version().expect("test setup"), SCHEMA_VERSION);
        let rows = store.with(|c| {
            Ok(
                c.query_row("SELECT la_codes FROM changes WHERE id = 1", [], |r| {
                    r.get::<_, String>(0)
                })?,
            )
        });
        let las: Vec<String> =
            serde_json::from_str(&rows.await.expect("test setup")).expect("test setup");
        assert_eq!(las, ["E06000010", "E06000002"]);
        let gone: i64 = store
            .with(|c| {
                Ok(c.query_row(
                    "SELECT count(*) FROM sqlite_master WHERE name = 'change_las'",
                    [],
                    |r| r.get(0),
                )?)
            })
            .await
            .expect("test setup");
        assert_eq!(gone, 0);
        std::fs::remove_dir_all(&dir).expect("test setup");
    }
}
