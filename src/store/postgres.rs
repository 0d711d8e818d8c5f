//! The shared store for replicas: PostgreSQL through `sqlx` (a connection pool, TLS when the URL
//! asks for it with `sslmode=require`).
//!
//! Migrations are numbered (`migrations/postgres/`, embedded) and run at startup by sqlx's
//! migrator, which holds a PostgreSQL advisory lock while it works, so replicas starting
//! together do not race. The log's order is the database's: an append takes a transaction-level
//! advisory lock, checks that nobody appended since the replica last caught up, inserts, and
//! sends `NOTIFY` in the same transaction (delivered only once committed). A listener task turns
//! notifications into a wake-up for the replica's catch-up loop, which also polls, because a
//! notification sent while the listener was reconnecting is lost.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::postgres::{PgConnectOptions, PgListener, PgPool, PgPoolOptions, PgRow};
use sqlx::{FromRow, Row, SqlSafeStr};

use super::{
    Append, CHANGE_COLUMNS, ChangeColumns, Page, Slot, Store, StoreError, decode_change,
    encode_change, new_log_id,
};
use crate::changes::{LoggedChange, NewChange};
use crate::submission::{NewSubmission, Submission, reference};

mod rounds;

/// The channel replicas listen on; the payload is the new change's id.
pub const CHANNEL: &str = "partnership_map_changes";
/// Advisory-lock key serialising appends to the change log (an arbitrary constant).
const LOG_LOCK: i64 = 0x7061_7274_6e65_7273; // "partners"

/// Numbered migrations, embedded in the binary. Never edit one that has shipped.
fn migrator() -> Migrator {
    Migrator::with_migrations(vec![
        Migration::new(
            1,
            "init".into(),
            MigrationType::Simple,
            include_str!("../../migrations/postgres/0001_init.sql").into_sql_str(),
            false,
        ),
        Migration::new(
            2,
            "verification".into(),
            MigrationType::Simple,
            include_str!("../../migrations/postgres/0002_verification.sql").into_sql_str(),
            false,
        ),
    ])
}

/// Whether a driver error means "the database cannot be reached now" (503, retry) rather than
/// a bug (500).
fn classify(e: sqlx::Error) -> StoreError {
    let unavailable = match &e {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => true,
        // Class 08 (connection exception), 57P01–57P03 (shutdown, cannot connect now).
        sqlx::Error::Database(d) => d
            .code()
            .is_some_and(|c| c.starts_with("08") || c.starts_with("57P")),
        _ => false,
    };
    if unavailable {
        StoreError::Unavailable(e.to_string())
    } else {
        StoreError::Database(e.to_string())
    }
}

/// PostgreSQL store.
#[derive(Clone)]
pub struct PostgresStore {
    pool: PgPool,
    changed: Arc<tokio::sync::Notify>,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore").finish_non_exhaustive()
    }
}

impl PostgresStore {
    /// Connect, migrate under the advisory lock, and start listening for other replicas'
    /// changes.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] if the database cannot be reached (retry later);
    /// [`StoreError::Database`] for a bad URL or a failed migration.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::Database(format!("--database-url: {e}")))?
            .application_name("partnership-map");
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .min_connections(1)
            // Fail fast while the database is down: requests answer 503, not hang.
            .acquire_timeout(Duration::from_secs(3))
            .connect_with(options)
            .await
            .map_err(classify)?;
        migrator().run(&pool).await.map_err(|e| match e {
            sqlx::migrate::MigrateError::Execute(inner) => classify(inner),
            other => StoreError::Database(format!("migration failed: {other}")),
        })?;
        sqlx::query(
            "INSERT INTO meta (key, value) VALUES ('log_id', $1) ON CONFLICT (key) DO NOTHING",
        )
        .bind(new_log_id())
        .execute(&pool)
        .await
        .map_err(classify)?;
        let store = Self {
            pool,
            changed: Arc::new(tokio::sync::Notify::new()),
        };
        store.listen();
        Ok(store)
    }

    /// The pool, for tests that look inside.
    #[must_use]
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Forward `NOTIFY` on [`CHANNEL`] to `self.changed`, reconnecting as needed.
    fn listen(&self) {
        let (pool, changed) = (self.pool.clone(), Arc::clone(&self.changed));
        tokio::spawn(async move {
            let mut listening = false;
            loop {
                let mut listener = match PgListener::connect_with(&pool).await {
                    Ok(l) => l,
                    Err(e) => {
                        if listening {
                            tracing::warn!(
                                "change listener disconnected: {e}; polling until it is back"
                            );
                        }
                        listening = false;
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        continue;
                    }
                };
                if let Err(e) = listener.listen(CHANNEL).await {
                    tracing::warn!("LISTEN {CHANNEL} failed: {e}");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
                if !listening {
                    tracing::info!("listening for changes from other replicas (LISTEN {CHANNEL})");
                }
                listening = true;
                // Catch up on anything sent while not listening.
                changed.notify_one();
                loop {
                    match listener.try_recv().await {
                        Ok(Some(_)) => changed.notify_one(),
                        // The connection was lost; try_recv reconnects next time, but
                        // notifications in between are gone: wake the poller now.
                        Ok(None) => {
                            tracing::warn!("change listener lost its connection; reconnecting");
                            changed.notify_one();
                        }
                        Err(e) => {
                            tracing::warn!("change listener failed: {e}");
                            break;
                        }
                    }
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        });
    }
}

fn submission(r: &PgRow) -> Result<Submission, sqlx::Error> {
    let id: i64 = r.try_get("id")?;
    Ok(Submission {
        id,
        reference: reference(id),
        created_at: r.try_get("created_at")?,
        la_code: r.try_get("la_code")?,
        partnership_id: r.try_get("partnership_id")?,
        kind: r.try_get("kind")?,
        message: r.try_get("message")?,
        name: r.try_get("name")?,
        organisation: r.try_get("organisation")?,
        email: r.try_get("email")?,
        status: r.try_get("status")?,
        review_note: r.try_get("review_note")?,
        reviewed_at: r.try_get("reviewed_at")?,
        personal_data_purged_at: r.try_get("personal_data_purged_at")?,
        data_version: r.try_get("data_version")?,
        change_id: r.try_get("change_id")?,
        reviewed_by: r.try_get("reviewed_by")?,
    })
}

const SUBMISSION_COLUMNS: &str = "id, created_at, la_code, partnership_id, kind, message, name, organisation, email, status, review_note, reviewed_at, personal_data_purged_at, data_version, change_id, reviewed_by";

#[async_trait]
impl Store for PostgresStore {
    async fn insert_submission(&self, s: &NewSubmission, now: &str) -> Result<i64, StoreError> {
        let row = sqlx::query(
            "INSERT INTO submissions (created_at, la_code, partnership_id, kind, message, name, organisation, email, data_version)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
        )
        .bind(now)
        .bind(&s.la_code)
        .bind(&s.partnership_id)
        .bind(&s.kind)
        .bind(&s.message)
        .bind(&s.name)
        .bind(&s.organisation)
        .bind(&s.email)
        .bind(&s.data_version)
        .fetch_one(&self.pool)
        .await
        .map_err(classify)?;
        row.try_get(0).map_err(classify)
    }

    async fn list_submissions(
        &self,
        status: Option<&str>,
        limit: i64,
        offset: i64,
    ) -> Result<Page, StoreError> {
        let total: i64 =
            sqlx::query("SELECT COUNT(*) FROM submissions WHERE $1::text IS NULL OR status = $1")
                .bind(status)
                .fetch_one(&self.pool)
                .await
                .and_then(|r| r.try_get(0))
                .map_err(classify)?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {SUBMISSION_COLUMNS} FROM submissions WHERE $1::text IS NULL OR status = $1
             ORDER BY id DESC LIMIT $2 OFFSET $3"
        )))
        .bind(status)
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.pool)
        .await
        .map_err(classify)?;
        let items = rows
            .iter()
            .map(submission)
            .collect::<Result<Vec<_>, _>>()
            .map_err(classify)?;
        Ok(Page { total, items })
    }

    async fn get_submission(&self, id: i64) -> Result<Option<Submission>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {SUBMISSION_COLUMNS} FROM submissions WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(classify)?;
        row.as_ref().map(submission).transpose().map_err(classify)
    }

    async fn review_submission(
        &self,
        id: i64,
        status: &str,
        note: &str,
        reviewer: &str,
        now: &str,
    ) -> Result<Option<Submission>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE submissions SET status = $2, review_note = $3, reviewed_at = $4, reviewed_by = $5
             WHERE id = $1 RETURNING {SUBMISSION_COLUMNS}"
        )))
        .bind(id)
        .bind(status)
        .bind(note)
        .bind(now)
        .bind(reviewer)
        .fetch_optional(&self.pool)
        .await
        .map_err(classify)?;
        row.as_ref().map(submission).transpose().map_err(classify)
    }

    async fn purge_personal(&self, cutoff: &str, now: &str) -> Result<usize, StoreError> {
        let mut tx = self.pool.begin().await.map_err(classify)?;
        let mut n = sqlx::query(
            "UPDATE submissions SET name = NULL, organisation = NULL, email = NULL, personal_data_purged_at = $2
             WHERE reviewed_at IS NOT NULL AND reviewed_at < $1 AND personal_data_purged_at IS NULL",
        )
        .bind(cutoff)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(classify)?
        .rows_affected();
        for sql in crate::store::verification::PURGE_SQL {
            n += sqlx::query(sql)
                .bind(now)
                .bind(cutoff)
                .execute(&mut *tx)
                .await
                .map_err(classify)?
                .rows_affected();
        }
        tx.commit().await.map_err(classify)?;
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }

    async fn take_submission_slot(
        &self,
        client: &str,
        limit: u32,
        window: i64,
        now: i64,
    ) -> Result<Slot, StoreError> {
        let mut tx = self.pool.begin().await.map_err(classify)?;
        // One client's slots are counted by one replica at a time.
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))")
            .bind(client)
            .execute(&mut *tx)
            .await
            .map_err(classify)?;
        sqlx::query("DELETE FROM submission_slots WHERE at <= $1")
            .bind(now - window)
            .execute(&mut *tx)
            .await
            .map_err(classify)?;
        let row = sqlx::query("SELECT COUNT(*), MIN(at) FROM submission_slots WHERE client = $1")
            .bind(client)
            .fetch_one(&mut *tx)
            .await
            .map_err(classify)?;
        let used: i64 = row.try_get(0).map_err(classify)?;
        let oldest: Option<i64> = row.try_get(1).map_err(classify)?;
        let slot = if used >= i64::from(limit) {
            let free_at = oldest.unwrap_or(now) + window;
            Slot::Refused {
                retry_after: u64::try_from(free_at - now).unwrap_or(1).max(1),
            }
        } else {
            sqlx::query("INSERT INTO submission_slots (client, at) VALUES ($1, $2)")
                .bind(client)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(classify)?;
            Slot::Granted
        };
        tx.commit().await.map_err(classify)?;
        Ok(slot)
    }

    async fn log_id(&self) -> Result<String, StoreError> {
        sqlx::query("SELECT value FROM meta WHERE key = 'log_id'")
            .fetch_one(&self.pool)
            .await
            .and_then(|r| r.try_get(0))
            .map_err(classify)
    }

    async fn append_change(
        &self,
        after: i64,
        n: &NewChange,
        now: &str,
    ) -> Result<Append, StoreError> {
        let [body, diff, undo, las] = encode_change(n)?;
        let mut tx = self.pool.begin().await.map_err(classify)?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(LOG_LOCK)
            .execute(&mut *tx)
            .await
            .map_err(classify)?;
        let last: i64 = sqlx::query("SELECT COALESCE(MAX(id), 0) FROM changes")
            .fetch_one(&mut *tx)
            .await
            .and_then(|r| r.try_get(0))
            .map_err(classify)?;
        if last != after {
            return Ok(Append::Stale);
        }
        if let Some(s) = n.submission {
            let exists = sqlx::query("SELECT 1 FROM submissions WHERE id = $1")
                .bind(s)
                .fetch_optional(&mut *tx)
                .await
                .map_err(classify)?;
            if exists.is_none() {
                return Ok(Append::NoSuchSubmission(s));
            }
        }
        if let Some(v) = n.verification {
            let exists = sqlx::query("SELECT 1 FROM verification_responses WHERE id = $1")
                .bind(v)
                .fetch_optional(&mut *tx)
                .await
                .map_err(classify)?;
            if exists.is_none() {
                return Ok(Append::NoSuchVerification(v));
            }
        }
        let id: i64 = sqlx::query(
            "INSERT INTO changes (created_at, editor, kind, body, reason, submission_id, reverts, summary, diff, undo, la_codes, verification_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id",
        )
        .bind(now)
        .bind(&n.editor)
        .bind(n.change.kind())
        .bind(&body)
        .bind(&n.reason)
        .bind(n.submission)
        .bind(n.reverts)
        .bind(&n.summary)
        .bind(&diff)
        .bind(&undo)
        .bind(&las)
        .bind(n.verification)
        .fetch_one(&mut *tx)
        .await
        .and_then(|r| r.try_get(0))
        .map_err(classify)?;
        if let Some(v) = n
            .verification
            .filter(|_| crate::store::verification::settles(n))
        {
            sqlx::query(crate::store::verification::SETTLE_SQL)
                .bind(now)
                .bind(&n.editor)
                .bind(v)
                .execute(&mut *tx)
                .await
                .map_err(classify)?;
        }
        if let Some(r) = n.reverts {
            sqlx::query(crate::store::verification::REOPEN_SQL)
                .bind(r)
                .execute(&mut *tx)
                .await
                .map_err(classify)?;
        }
        if let Some(s) = n.submission {
            sqlx::query(
                "UPDATE submissions SET status = 'accepted', change_id = $2, reviewed_at = $3, reviewed_by = $4,
                 review_note = $5 WHERE id = $1",
            )
            .bind(s)
            .bind(id)
            .bind(now)
            .bind(&n.editor)
            .bind(format!("Settled by change {id}: {}", n.reason))
            .execute(&mut *tx)
            .await
            .map_err(classify)?;
        }
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANNEL)
            .bind(id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(classify)?;
        tx.commit().await.map_err(classify)?;
        Ok(Append::Appended(Box::new(
            n.clone().logged(id, now.to_owned()),
        )))
    }

    async fn changes_after(&self, after: i64) -> Result<Vec<LoggedChange>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {CHANGE_COLUMNS} FROM changes WHERE id > $1 ORDER BY id"
        )))
        .bind(after)
        .fetch_all(&self.pool)
        .await
        .map_err(classify)?;
        rows.iter()
            .map(|r| decode_change(ChangeColumns::from_row(r).map_err(classify)?))
            .collect()
    }

    fn notifications(&self) -> Option<Arc<tokio::sync::Notify>> {
        Some(Arc::clone(&self.changed))
    }
}
