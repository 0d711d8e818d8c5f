//! Verification rounds on PostgreSQL (see `store::verification` for what is kept and why).
//! Every replica reads the same rows, so an answer sent to one is what the others show.

use async_trait::async_trait;
use sqlx::postgres::PgRow;
use sqlx::{FromRow, Row};

use super::{PostgresStore, classify};
use crate::store::StoreError;
use crate::store::verification::{
    ANSWER_COLUMNS, AnswerRow, Close, FROM_ANSWERS, FROM_INVITATIONS, Found, INVITATION_COLUMNS,
    InvitationColumns, SaveAnswer, VerificationStore, decode_invitation, encode_answer,
};
use crate::verification::response::{NewAnswer, StoredAnswer};
use crate::verification::{Campaign, Invitation, MailStatus, NewCampaign, NewLink};

fn found(r: &PgRow) -> Result<Found, StoreError> {
    InvitationColumns::from_row(r)
        .map(decode_invitation)
        .map_err(classify)
}

fn answer_row(r: &PgRow) -> Result<AnswerRow, sqlx::Error> {
    Ok(AnswerRow {
        id: r.try_get(0)?,
        invitation_id: r.try_get(1)?,
        campaign_id: r.try_get(2)?,
        la_code: r.try_get(3)?,
        created_at: r.try_get(4)?,
        updated_at: r.try_get(5)?,
        answers: r.try_get(6)?,
        shown: r.try_get(7)?,
        missing: r.try_get(8)?,
        name: r.try_get(9)?,
        job_title: r.try_get(10)?,
        data_version: r.try_get(11)?,
        outcome: r.try_get(12)?,
        settled_at: r.try_get(13)?,
        settled_by: r.try_get(14)?,
        settle_note: r.try_get(15)?,
        personal_data_purged_at: r.try_get(16)?,
    })
}

impl PostgresStore {
    /// Answers matching `filter` (a condition on `r` with `$1` bound to `arg`), newest first,
    /// with their linked changes.
    async fn read_answers(&self, filter: &str, arg: i64) -> Result<Vec<StoredAnswer>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {ANSWER_COLUMNS} {FROM_ANSWERS} WHERE {filter} ORDER BY r.id DESC"
        )))
        .bind(arg)
        .fetch_all(self.pool())
        .await
        .map_err(classify)?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let row = answer_row(r).map_err(classify)?;
            let changes: Vec<i64> =
                sqlx::query_scalar("SELECT id FROM changes WHERE verification_id = $1 ORDER BY id")
                    .bind(row.id)
                    .fetch_all(self.pool())
                    .await
                    .map_err(classify)?;
            out.push(row.decode(changes)?);
        }
        Ok(out)
    }

    async fn execute(
        &self,
        q: sqlx::query::Query<'_, sqlx::Postgres, sqlx::postgres::PgArguments>,
    ) -> Result<u64, StoreError> {
        q.execute(self.pool())
            .await
            .map(|r| r.rows_affected())
            .map_err(classify)
    }
}

#[async_trait]
impl VerificationStore for PostgresStore {
    async fn create_campaign(
        &self,
        c: &NewCampaign,
        created_by: &str,
        links: &[NewLink],
        now: &str,
    ) -> Result<i64, StoreError> {
        let mut tx = self.pool().begin().await.map_err(classify)?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO verification_campaigns (created_at, created_by, name, contact_role, expiry_days)
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(now)
        .bind(created_by)
        .bind(&c.name)
        .bind(&c.contact_role)
        .bind(c.expiry_days)
        .fetch_one(&mut *tx)
        .await
        .map_err(classify)?;
        for l in links {
            sqlx::query(
                "INSERT INTO verification_invitations (campaign_id, la_code, token_lookup, token_hash, invited_at, expires_at, recipient)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(id)
            .bind(&l.la_code)
            .bind(l.hash.lookup())
            .bind(l.hash.hex())
            .bind(now)
            .bind(&l.expires_at)
            .bind(&l.recipient)
            .execute(&mut *tx)
            .await
            .map_err(classify)?;
        }
        tx.commit().await.map_err(classify)?;
        Ok(id)
    }

    async fn campaigns(&self) -> Result<Vec<Campaign>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, name, contact_role, created_at, created_by, expiry_days
             FROM verification_campaigns ORDER BY id DESC",
        )
        .fetch_all(self.pool())
        .await
        .map_err(classify)?;
        rows.iter()
            .map(|r| {
                Ok(Campaign {
                    id: r.try_get(0)?,
                    name: r.try_get(1)?,
                    contact_role: r.try_get(2)?,
                    created_at: r.try_get(3)?,
                    created_by: r.try_get(4)?,
                    expiry_days: r.try_get(5)?,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()
            .map_err(classify)
    }

    async fn invitations(&self, campaign: Option<i64>) -> Result<Vec<Invitation>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {INVITATION_COLUMNS} {FROM_INVITATIONS}
             WHERE $1::bigint IS NULL OR i.campaign_id = $1 ORDER BY i.campaign_id, i.id"
        )))
        .bind(campaign)
        .fetch_all(self.pool())
        .await
        .map_err(classify)?;
        rows.iter()
            .map(|r| found(r).map(|f| f.invitation))
            .collect()
    }

    async fn invitations_by_lookup(&self, lookup: &str) -> Result<Vec<Found>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {INVITATION_COLUMNS} {FROM_INVITATIONS} WHERE i.token_lookup = $1"
        )))
        .bind(lookup)
        .fetch_all(self.pool())
        .await
        .map_err(classify)?;
        rows.iter().map(found).collect()
    }

    async fn mark_opened(&self, invitation: i64, now: &str) -> Result<(), StoreError> {
        self.execute(
            sqlx::query(
                "UPDATE verification_invitations SET opened_at = $2 WHERE id = $1 AND opened_at IS NULL",
            )
            .bind(invitation)
            .bind(now),
        )
        .await
        .map(|_| ())
    }

    async fn revoke_invitation(&self, invitation: i64, now: &str) -> Result<bool, StoreError> {
        self.execute(
            sqlx::query(
                "UPDATE verification_invitations SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1",
            )
            .bind(invitation)
            .bind(now),
        )
        .await
        .map(|n| n > 0)
    }

    async fn reissue_link(
        &self,
        invitation: i64,
        link: &NewLink,
        now: &str,
    ) -> Result<bool, StoreError> {
        self.execute(
            sqlx::query(
                "UPDATE verification_invitations SET token_lookup = $2, token_hash = $3, invited_at = $4, expires_at = $5,
                 revoked_at = NULL WHERE id = $1",
            )
            .bind(invitation)
            .bind(link.hash.lookup())
            .bind(link.hash.hex())
            .bind(now)
            .bind(&link.expires_at),
        )
        .await
        .map(|n| n > 0)
    }

    async fn recipient(&self, invitation: i64) -> Result<Option<String>, StoreError> {
        let r: Option<Option<String>> =
            sqlx::query_scalar("SELECT recipient FROM verification_invitations WHERE id = $1")
                .bind(invitation)
                .fetch_optional(self.pool())
                .await
                .map_err(classify)?;
        Ok(r.flatten())
    }

    async fn record_mail(
        &self,
        invitation: i64,
        status: MailStatus,
        error: Option<&str>,
        now: &str,
    ) -> Result<(), StoreError> {
        self.execute(
            sqlx::query(
                "UPDATE verification_invitations SET mail_status = $2, mail_error = $3, mailed_at = $4 WHERE id = $1",
            )
            .bind(invitation)
            .bind(status.as_str())
            .bind(error)
            .bind(now),
        )
        .await
        .map(|_| ())
    }

    async fn save_answer(
        &self,
        invitation: i64,
        a: &NewAnswer,
        now: &str,
    ) -> Result<SaveAnswer, StoreError> {
        let [answers, shown] = encode_answer(a)?;
        let mut tx = self.pool().begin().await.map_err(classify)?;
        // One writer per invitation at a time, on any replica.
        sqlx::query("SELECT id FROM verification_invitations WHERE id = $1 FOR UPDATE")
            .bind(invitation)
            .execute(&mut *tx)
            .await
            .map_err(classify)?;
        let existing =
            sqlx::query("SELECT id, outcome FROM verification_responses WHERE invitation_id = $1")
                .bind(invitation)
                .fetch_optional(&mut *tx)
                .await
                .map_err(classify)?;
        let existing: Option<(i64, Option<String>)> = existing
            .map(|r| Ok::<_, sqlx::Error>((r.try_get(0)?, r.try_get(1)?)))
            .transpose()
            .map_err(classify)?;
        let id = match existing {
            Some((_, Some(_))) => return Ok(SaveAnswer::Settled),
            Some((id, None)) => {
                sqlx::query(
                    "UPDATE verification_responses SET updated_at = $2, answers = $3, shown = $4, missing = $5,
                     name = $6, job_title = $7, data_version = $8 WHERE id = $1",
                )
                .bind(id)
                .bind(now)
                .bind(&answers)
                .bind(&shown)
                .bind(&a.missing)
                .bind(&a.name)
                .bind(&a.job_title)
                .bind(&a.data_version)
                .execute(&mut *tx)
                .await
                .map_err(classify)?;
                id
            }
            None => sqlx::query_scalar(
                "INSERT INTO verification_responses (invitation_id, created_at, updated_at, answers, shown, missing, name, job_title, data_version)
                 VALUES ($1, $2, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
            )
            .bind(invitation)
            .bind(now)
            .bind(&answers)
            .bind(&shown)
            .bind(&a.missing)
            .bind(&a.name)
            .bind(&a.job_title)
            .bind(&a.data_version)
            .fetch_one(&mut *tx)
            .await
            .map_err(classify)?,
        };
        tx.commit().await.map_err(classify)?;
        Ok(SaveAnswer::Saved(id))
    }

    async fn answer(&self, id: i64) -> Result<Option<StoredAnswer>, StoreError> {
        Ok(self.read_answers("r.id = $1", id).await?.pop())
    }

    async fn answers(&self, unsettled: bool) -> Result<Vec<StoredAnswer>, StoreError> {
        self.read_answers("($1 = 0 OR r.outcome IS NULL)", i64::from(unsettled))
            .await
    }

    async fn close_answer(
        &self,
        id: i64,
        editor: &str,
        note: &str,
        now: &str,
    ) -> Result<Close, StoreError> {
        let n = self
            .execute(
                sqlx::query(
                    "UPDATE verification_responses SET outcome = 'closed', settled_at = $2, settled_by = $3, settle_note = $4
                     WHERE id = $1 AND outcome IS NULL",
                )
                .bind(id)
                .bind(now)
                .bind(editor)
                .bind(note),
            )
            .await?;
        Ok(match (n, self.answer(id).await?) {
            (_, None) => Close::Missing,
            (0, Some(_)) => Close::AlreadySettled,
            (_, Some(a)) => Close::Closed(Box::new(a)),
        })
    }

    async fn last_invited(&self) -> Result<Vec<(String, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT la_code, MAX(invited_at) FROM verification_invitations
             WHERE revoked_at IS NULL GROUP BY la_code",
        )
        .fetch_all(self.pool())
        .await
        .map_err(classify)?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect::<Result<Vec<_>, sqlx::Error>>()
            .map_err(classify)
    }
}
