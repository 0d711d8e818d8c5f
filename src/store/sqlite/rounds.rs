//! Verification rounds on SQLite (see `store::verification` for what is kept and why).

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};

use super::SqliteStore;
use crate::store::StoreError;
use crate::store::verification::{
    ANSWER_COLUMNS, AnswerRow, Close, FROM_ANSWERS, FROM_INVITATIONS, Found, INVITATION_COLUMNS,
    InvitationColumns, SaveAnswer, VerificationStore, decode_invitation, encode_answer,
};
use crate::verification::response::{NewAnswer, StoredAnswer};
use crate::verification::{Campaign, Invitation, MailStatus, NewCampaign, NewLink};

fn found(r: &rusqlite::Row<'_>) -> rusqlite::Result<Found> {
    InvitationColumns::try_from(r).map(decode_invitation)
}

fn answer_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AnswerRow> {
    Ok(AnswerRow {
        id: r.get(0)?,
        invitation_id: r.get(1)?,
        campaign_id: r.get(2)?,
        la_code: r.get(3)?,
        created_at: r.get(4)?,
        updated_at: r.get(5)?,
        answers: r.get(6)?,
        shown: r.get(7)?,
        missing: r.get(8)?,
        name: r.get(9)?,
        job_title: r.get(10)?,
        data_version: r.get(11)?,
        outcome: r.get(12)?,
        settled_at: r.get(13)?,
        settled_by: r.get(14)?,
        settle_note: r.get(15)?,
        personal_data_purged_at: r.get(16)?,
    })
}

/// Answers matching `filter` (a condition on `r`), newest first, with their linked changes.
fn read_answers(
    c: &Connection,
    filter: &str,
    p: impl rusqlite::Params,
) -> Result<Vec<StoredAnswer>, StoreError> {
    let rows = c
        .prepare(&format!(
            "SELECT {ANSWER_COLUMNS} {FROM_ANSWERS} WHERE {filter} ORDER BY r.id DESC"
        ))?
        .query_map(p, answer_row)?
        .collect::<Result<Vec<_>, _>>()?;
    let mut linked = c.prepare("SELECT id FROM changes WHERE verification_id = ?1 ORDER BY id")?;
    rows.into_iter()
        .map(|row| {
            let changes = linked
                .query_map(params![row.id], |r| r.get(0))?
                .collect::<Result<Vec<i64>, _>>()?;
            row.decode(changes)
        })
        .collect()
}

#[async_trait]
impl VerificationStore for SqliteStore {
    async fn create_campaign(
        &self,
        c: &NewCampaign,
        created_by: &str,
        links: &[NewLink],
        now: &str,
    ) -> Result<i64, StoreError> {
        let (c, created_by, links, now) = (
            c.clone(),
            created_by.to_owned(),
            links.to_vec(),
            now.to_owned(),
        );
        self.with(move |conn| {
            let tx = conn.transaction()?;
            tx.execute(
                "INSERT INTO verification_campaigns (created_at, created_by, name, contact_role, expiry_days)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![now, created_by, c.name, c.contact_role, c.expiry_days],
            )?;
            let id = tx.last_insert_rowid();
            for l in &links {
                tx.execute(
                    "INSERT INTO verification_invitations (campaign_id, la_code, token_lookup, token_hash, invited_at, expires_at, recipient)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    params![id, l.la_code, l.hash.lookup(), l.hash.hex(), now, l.expires_at, l.recipient],
                )?;
            }
            tx.commit()?;
            Ok(id)
        })
        .await
    }

    async fn campaigns(&self) -> Result<Vec<Campaign>, StoreError> {
        self.with(|c| {
            Ok(c.prepare(
                "SELECT id, name, contact_role, created_at, created_by, expiry_days
                 FROM verification_campaigns ORDER BY id DESC",
            )?
            .query_map([], |r| {
                Ok(Campaign {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    contact_role: r.get(2)?,
                    created_at: r.get(3)?,
                    created_by: r.get(4)?,
                    expiry_days: r.get(5)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    async fn invitations(&self, campaign: Option<i64>) -> Result<Vec<Invitation>, StoreError> {
        self.with(move |c| {
            Ok(c.prepare(&format!(
                "SELECT {INVITATION_COLUMNS} {FROM_INVITATIONS}
                 WHERE ?1 IS NULL OR i.campaign_id = ?1 ORDER BY i.campaign_id, i.id"
            ))?
            .query_map(params![campaign], |r| found(r).map(|f| f.invitation))?
            .collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    async fn invitations_by_lookup(&self, lookup: &str) -> Result<Vec<Found>, StoreError> {
        let lookup = lookup.to_owned();
        self.with(move |c| {
            Ok(c.prepare(&format!(
                "SELECT {INVITATION_COLUMNS} {FROM_INVITATIONS} WHERE i.token_lookup = ?1"
            ))?
            .query_map(params![lookup], found)?
            .collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    async fn mark_opened(&self, invitation: i64, now: &str) -> Result<(), StoreError> {
        let now = now.to_owned();
        self.with(move |c| {
            c.execute(
                "UPDATE verification_invitations SET opened_at = ?2 WHERE id = ?1 AND opened_at IS NULL",
                params![invitation, now],
            )?;
            Ok(())
        })
        .await
    }

    async fn revoke_invitation(&self, invitation: i64, now: &str) -> Result<bool, StoreError> {
        let now = now.to_owned();
        self.with(move |c| {
            let n = c.execute(
                "UPDATE verification_invitations SET revoked_at = COALESCE(revoked_at, ?2) WHERE id = ?1",
                params![invitation, now],
            )?;
            Ok(n > 0)
        })
        .await
    }

    async fn reissue_link(
        &self,
        invitation: i64,
        link: &NewLink,
        now: &str,
    ) -> Result<bool, StoreError> {
        let (link, now) = (link.clone(), now.to_owned());
        self.with(move |c| {
            let n = c.execute(
                "UPDATE verification_invitations SET token_lookup = ?2, token_hash = ?3, invited_at = ?4, expires_at = ?5,
                 revoked_at = NULL WHERE id = ?1",
                params![invitation, link.hash.lookup(), link.hash.hex(), now, link.expires_at],
            )?;
            Ok(n > 0)
        })
        .await
    }

    async fn recipient(&self, invitation: i64) -> Result<Option<String>, StoreError> {
        self.with(move |c| {
            Ok(c.query_row(
                "SELECT recipient FROM verification_invitations WHERE id = ?1",
                params![invitation],
                |r| r.get::<_, Option<String>>(0),
            )
            .optional()?
            .flatten())
        })
        .await
    }

    async fn record_mail(
        &self,
        invitation: i64,
        status: MailStatus,
        error: Option<&str>,
        now: &str,
    ) -> Result<(), StoreError> {
        let (error, now) = (error.map(str::to_owned), now.to_owned());
        self.with(move |c| {
            c.execute(
                "UPDATE verification_invitations SET mail_status = ?2, mail_error = ?3, mailed_at = ?4 WHERE id = ?1",
                params![invitation, status.as_str(), error, now],
            )?;
            Ok(())
        })
        .await
    }

    async fn save_answer(
        &self,
        invitation: i64,
        a: &NewAnswer,
        now: &str,
    ) -> Result<SaveAnswer, StoreError> {
        let [answers, shown] = encode_answer(a)?;
        let (a, now) = (a.clone(), now.to_owned());
        self.with(move |c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let existing: Option<(i64, Option<String>)> = tx
                .query_row(
                    "SELECT id, outcome FROM verification_responses WHERE invitation_id = ?1",
                    params![invitation],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            let id = match existing {
                Some((_, Some(_))) => return Ok(SaveAnswer::Settled),
                Some((id, None)) => {
                    tx.execute(
                        "UPDATE verification_responses SET updated_at = ?2, answers = ?3, shown = ?4, missing = ?5,
                         name = ?6, job_title = ?7, data_version = ?8 WHERE id = ?1",
                        params![id, now, answers, shown, a.missing, a.name, a.job_title, a.data_version],
                    )?;
                    id
                }
                None => {
                    tx.execute(
                        "INSERT INTO verification_responses (invitation_id, created_at, updated_at, answers, shown, missing, name, job_title, data_version)
                         VALUES (?1, ?2, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                        params![invitation, now, answers, shown, a.missing, a.name, a.job_title, a.data_version],
                    )?;
                    tx.last_insert_rowid()
                }
            };
            tx.commit()?;
            Ok(SaveAnswer::Saved(id))
        })
        .await
    }

    async fn answer(&self, id: i64) -> Result<Option<StoredAnswer>, StoreError> {
        self.with(move |c| Ok(read_answers(c, "r.id = ?1", params![id])?.pop()))
            .await
    }

    async fn answers(&self, unsettled: bool) -> Result<Vec<StoredAnswer>, StoreError> {
        self.with(move |c| {
            read_answers(
                c,
                "(?1 = 0 OR r.outcome IS NULL)",
                params![i64::from(unsettled)],
            )
        })
        .await
    }

    async fn close_answer(
        &self,
        id: i64,
        editor: &str,
        note: &str,
        now: &str,
    ) -> Result<Close, StoreError> {
        let (editor, note, now) = (editor.to_owned(), note.to_owned(), now.to_owned());
        self.with(move |c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let outcome: Option<Option<String>> = tx
                .query_row(
                    "SELECT outcome FROM verification_responses WHERE id = ?1",
                    params![id],
                    |r| r.get(0),
                )
                .optional()?;
            let result = match outcome {
                None => Close::Missing,
                Some(Some(_)) => Close::AlreadySettled,
                Some(None) => {
                    tx.execute(
                        "UPDATE verification_responses SET outcome = 'closed', settled_at = ?2, settled_by = ?3, settle_note = ?4
                         WHERE id = ?1",
                        params![id, now, editor, note],
                    )?;
                    match read_answers(&tx, "r.id = ?1", params![id])?.pop() {
                        Some(a) => Close::Closed(Box::new(a)),
                        None => Close::Missing,
                    }
                }
            };
            tx.commit()?;
            Ok(result)
        })
        .await
    }

    async fn last_invited(&self) -> Result<Vec<(String, String)>, StoreError> {
        self.with(|c| {
            Ok(c.prepare(
                "SELECT la_code, MAX(invited_at) FROM verification_invitations
                 WHERE revoked_at IS NULL GROUP BY la_code",
            )?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }
}
