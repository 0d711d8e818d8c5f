//! [`Rounds`]: what the handlers ask of a verification round, over the store and the steward.
//! Creating a campaign (tokens made here, only their hashes stored), finding an invitation by
//! its link (constant-time comparison of the whole hash), recording that the page was opened,
//! storing an answer (rate-limited like submissions), revoking and reissuing links, and settling
//! an answer: accepting records `la.verify` dated on the answer, through the steward, linked to
//! the response; closing settles it without a verification. With a [`Mailer`] (`--smtp-url`),
//! each new link whose invitation has an address is mailed, and what the SMTP server did is
//! recorded per invitation; failed mails are retried with a fresh link (tokens are stored only
//! hashed, so the old link cannot be mailed again: it stops working).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::Value;

use super::export::IssuedLink;
use super::mail::{Invite, Mailer};
use super::response::{self, NewAnswer, RawResponse, Refused, StoredAnswer};
use super::token::{self, TokenHash};
use super::{
    Campaign, Invitation, MailStatus, NewLink, Status, VerificationError, counts, expiry, link,
};
use crate::changes::{Change, Edit};
use crate::dataset::Dataset;
use crate::stewardship::{Outcome, Steward};
use crate::store::verification::{Close, SaveAnswer};
use crate::store::{Slot, Store};

/// How long the per-LA "last invited" dates are served from memory before the store is asked
/// again (another replica may have created a campaign meanwhile).
const LAST_INVITED_TTL: Duration = Duration::from_secs(15);
/// Mails handed to the SMTP server at once.
const MAIL_CONCURRENCY: usize = 4;

fn now_text(now: chrono::DateTime<chrono::Utc>) -> String {
    now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// A campaign just created (or links just reissued): the links, shown this once.
#[derive(Debug, Clone)]
pub struct Issued {
    /// The campaign.
    pub campaign: Campaign,
    /// One link per invitation issued, in the campaign's order.
    pub links: Vec<(i64, IssuedLink)>,
}

/// A campaign with its invitations.
#[derive(Debug, Clone)]
pub struct CampaignStatus {
    /// The campaign.
    pub campaign: Campaign,
    /// Its invitations.
    pub invitations: Vec<Invitation>,
}

impl CampaignStatus {
    /// Counts per status at `now`.
    #[must_use]
    pub fn counts(&self, now: &str) -> BTreeMap<&'static str, usize> {
        counts(&self.invitations, now)
    }
}

/// What mailing some links did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Mailed {
    /// Handed to the SMTP server.
    pub sent: usize,
    /// Not sent (the reason is stored with each invitation).
    pub failed: usize,
}

/// A page opened through a valid link.
#[derive(Debug, Clone)]
pub struct Opened {
    /// The invitation.
    pub invitation: Invitation,
    /// The answer sent before through this link, to update.
    pub answer: Option<StoredAnswer>,
}

/// Verification rounds: the service handlers call.
pub struct Rounds {
    store: Arc<dyn Store>,
    steward: Arc<Steward>,
    mailer: Option<Arc<Mailer>>,
    last_invited: RwLock<Option<LastInvited>>,
}

/// When it was read, and per LA code the time of its latest link not revoked.
type LastInvited = (Instant, Arc<HashMap<String, String>>);

impl Rounds {
    /// Rounds over `store`, publishing accepted verifications through `steward`, mailing
    /// links through `mailer` when there is one.
    #[must_use]
    pub fn new(store: Arc<dyn Store>, steward: Arc<Steward>, mailer: Option<Arc<Mailer>>) -> Self {
        Self {
            store,
            steward,
            mailer,
            last_invited: RwLock::new(None),
        }
    }

    /// Create a campaign from an editor's request (see [`super::parse_campaign`]); links are
    /// built on `base` (the public address, no trailing slash).
    ///
    /// # Errors
    /// [`VerificationError::Invalid`] per field, the store's error, no randomness.
    pub async fn create(
        &self,
        editor: &str,
        request: &Value,
        ds: &Dataset,
        base: &str,
    ) -> Result<Issued, VerificationError> {
        let c = super::parse_campaign(request, ds).map_err(VerificationError::Invalid)?;
        let now = chrono::Utc::now();
        let expires_at = expiry(now, c.expiry_days);
        let mut tokens = Vec::with_capacity(c.la_codes.len());
        let mut links = Vec::with_capacity(c.la_codes.len());
        for code in &c.la_codes {
            let t = token::new_token()?;
            links.push(NewLink {
                la_code: code.clone(),
                hash: t.hash(),
                expires_at: expires_at.clone(),
                recipient: c.recipients.get(code).cloned(),
            });
            tokens.push(t);
        }
        let id = self
            .store
            .create_campaign(&c, editor, &links, &now_text(now))
            .await?;
        self.forget_last_invited();
        let status = self.campaign(id).await?;
        let issued: Vec<(i64, IssuedLink)> = status
            .invitations
            .iter()
            .zip(&tokens)
            .map(|(inv, t)| {
                (
                    inv.id,
                    IssuedLink {
                        la_code: inv.la_code.clone(),
                        link: link(base, t),
                        expires_at: inv.expires_at.clone(),
                    },
                )
            })
            .collect();
        tracing::info!(
            campaign = id,
            invitations = tokens.len(),
            "verification campaign created"
        );
        // The campaign stands whatever the mail does: failures are recorded, to retry.
        self.mail(&status.campaign, &issued, ds).await;
        Ok(Issued {
            campaign: status.campaign,
            links: issued,
        })
    }

    /// Whether invitations are mailed (`--smtp-url`).
    #[must_use]
    pub fn mails(&self) -> bool {
        self.mailer.is_some()
    }

    /// Mail each of `links` whose invitation has an address (with a mailer), recording per
    /// invitation `sent`, or `failed` with the SMTP server's words. Never fails: a store error
    /// while recording is logged (the mail status then stays as it was).
    async fn mail(&self, campaign: &Campaign, links: &[(i64, IssuedLink)], ds: &Dataset) -> Mailed {
        let Some(mailer) = &self.mailer else {
            return Mailed::default();
        };
        // The futures are made first: a stream over a closure borrowing them would not be
        // `Send` for every lifetime, as the handlers' futures must be.
        let sends: Vec<_> = links
            .iter()
            .map(|(id, l)| self.mail_one(mailer, campaign, *id, l, ds))
            .collect();
        let outcomes: Vec<Option<bool>> = futures_util::stream::iter(sends)
            .buffer_unordered(MAIL_CONCURRENCY)
            .collect()
            .await;
        let outcomes: Vec<bool> = outcomes.into_iter().flatten().collect();
        let sent = outcomes.iter().filter(|s| **s).count();
        Mailed {
            sent,
            failed: outcomes.len() - sent,
        }
    }

    /// Mail one link if its invitation has an address: `Some(sent)`, or `None` if not tried.
    async fn mail_one(
        &self,
        mailer: &Mailer,
        campaign: &Campaign,
        id: i64,
        l: &IssuedLink,
        ds: &Dataset,
    ) -> Option<bool> {
        let to = match self.store.recipient(id).await {
            Ok(Some(to)) => to,
            Ok(None) => return None,
            Err(e) => {
                tracing::warn!(
                    campaign = campaign.id,
                    invitation = id,
                    "cannot read where to mail the invitation: {e}"
                );
                return None;
            }
        };
        let la_name = ds
            .la_index(&l.la_code)
            .map_or(l.la_code.as_str(), |i| ds.las[i].name.as_str());
        let invite = Invite {
            la_name,
            la_code: &l.la_code,
            link: &l.link,
            expires_at: &l.expires_at,
            contact_role: &campaign.contact_role,
            campaign: &campaign.name,
        };
        let result = mailer.send(&to, &invite).await;
        let now = now_text(chrono::Utc::now());
        // No address and no link in the log: the campaign, the invitation and the LA.
        let recorded = match &result {
            Ok(()) => {
                crate::metrics::verification_mail("sent");
                tracing::info!(
                    campaign = campaign.id,
                    invitation = id,
                    la = l.la_code,
                    "verification invitation mailed"
                );
                self.store
                    .record_mail(id, MailStatus::Sent, None, &now)
                    .await
            }
            Err(why) => {
                crate::metrics::verification_mail("failed");
                tracing::warn!(
                    campaign = campaign.id,
                    invitation = id,
                    la = l.la_code,
                    reason = why.as_str(),
                    "verification invitation not mailed"
                );
                self.store
                    .record_mail(id, MailStatus::Failed, Some(why), &now)
                    .await
            }
        };
        if let Err(e) = recorded {
            tracing::warn!(
                campaign = campaign.id,
                invitation = id,
                "cannot record what the mail did: {e}"
            );
        }
        Some(result.is_ok())
    }

    /// Retry the campaign's failed mails: each invitation whose mail failed and whose link the
    /// LA has not used (invited or expired; not opened, answered, settled or revoked) gets a
    /// fresh link (the old one stops working: only its hash is stored, so it cannot be mailed
    /// again), mailed now. The links issued are returned, shown this once.
    ///
    /// # Errors
    /// [`VerificationError::NotFound`], [`VerificationError::Conflict`] without a mailer, the
    /// store's error, no randomness.
    pub async fn retry_mail(
        &self,
        campaign: i64,
        ds: &Dataset,
        base: &str,
    ) -> Result<(Issued, Mailed), VerificationError> {
        let status = self.campaign(campaign).await?;
        if self.mailer.is_none() {
            return Err(VerificationError::Conflict(
                "this server sends no mail (start it with --smtp-url); send the mail merge instead"
                    .into(),
            ));
        }
        let now = now_text(chrono::Utc::now());
        let which: Vec<i64> = status
            .invitations
            .iter()
            .filter(|i| {
                i.mail_status == MailStatus::Failed
                    && i.has_recipient
                    && matches!(i.status(&now), Status::Invited | Status::Expired)
            })
            .map(|i| i.id)
            .collect();
        let issued = self.reissue(campaign, &which, base).await?;
        let mailed = self.mail(&issued.campaign, &issued.links, ds).await;
        tracing::info!(
            campaign,
            retried = which.len(),
            sent = mailed.sent,
            failed = mailed.failed,
            "failed verification mails retried"
        );
        Ok((issued, mailed))
    }

    /// Every campaign, newest first, with its invitations.
    ///
    /// # Errors
    /// The store's error.
    pub async fn campaigns(&self) -> Result<Vec<CampaignStatus>, VerificationError> {
        let all = self.store.invitations(None).await?;
        Ok(self
            .store
            .campaigns()
            .await?
            .into_iter()
            .map(|campaign| CampaignStatus {
                invitations: all
                    .iter()
                    .filter(|i| i.campaign_id == campaign.id)
                    .cloned()
                    .collect(),
                campaign,
            })
            .collect())
    }

    /// One campaign with its invitations.
    ///
    /// # Errors
    /// [`VerificationError::NotFound`], the store's error.
    pub async fn campaign(&self, id: i64) -> Result<CampaignStatus, VerificationError> {
        let campaign = self
            .store
            .campaigns()
            .await?
            .into_iter()
            .find(|c| c.id == id)
            .ok_or_else(|| VerificationError::NotFound(format!("no campaign {id}")))?;
        let invitations = self.store.invitations(Some(id)).await?;
        Ok(CampaignStatus {
            campaign,
            invitations,
        })
    }

    async fn invitation(&self, id: i64) -> Result<Invitation, VerificationError> {
        self.store
            .invitations(None)
            .await?
            .into_iter()
            .find(|i| i.id == id)
            .ok_or_else(|| VerificationError::NotFound(format!("no invitation {id}")))
    }

    /// The invitation a link's token belongs to. The text is checked for shape first; the
    /// stored hash found by its prefix is then compared whole, in constant time.
    ///
    /// # Errors
    /// [`VerificationError::LinkUnknown`], the store's error.
    pub async fn find(&self, given: &str) -> Result<Invitation, VerificationError> {
        let hash = token::parse(given).ok_or(VerificationError::LinkUnknown)?;
        let candidates = self.store.invitations_by_lookup(&hash.lookup()).await?;
        let mut hit = None;
        for f in candidates {
            let stored = TokenHash::from_hex(&f.hash_hex);
            if stored.is_some_and(|s| s.matches(&hash)) {
                hit = Some(f.invitation);
            }
        }
        hit.ok_or(VerificationError::LinkUnknown)
    }

    /// Open the page: the link must be usable; the first opening is recorded.
    ///
    /// # Errors
    /// The link's error ([`VerificationError::LinkUnknown`], `LinkExpired`, `LinkRevoked`,
    /// `LinkSettled`), the store's error.
    pub async fn open(&self, given: &str) -> Result<Opened, VerificationError> {
        let now = now_text(chrono::Utc::now());
        let mut invitation = self.find(given).await?;
        invitation.usable(&now)?;
        if invitation.opened_at.is_none() {
            self.store.mark_opened(invitation.id, &now).await?;
            invitation.opened_at = Some(now);
        }
        let answer = match invitation.response_id {
            Some(id) => self.store.answer(id).await?,
            None => None,
        };
        Ok(Opened { invitation, answer })
    }

    /// Store (or update) the LA's answer sent through a link, checked against what the map
    /// says now. `client` is counted against `per_hour` answers, the submissions' limit.
    ///
    /// # Errors
    /// The link's errors, [`VerificationError::Answer`] per field, `Spam`, `RateLimited`, the
    /// store's error.
    pub async fn respond(
        &self,
        given: &str,
        raw: &RawResponse,
        ds: &Dataset,
        client: &str,
        per_hour: u32,
    ) -> Result<(Invitation, i64), VerificationError> {
        let now = chrono::Utc::now();
        let invitation = self.find(given).await?;
        invitation.usable(&now_text(now))?;
        let la = ds
            .la_index(&invitation.la_code)
            .ok_or_else(|| VerificationError::NotFound("this LA is no longer on the map".into()))?;
        let shown = response::items(ds, la);
        let answer: NewAnswer = match response::validate(raw, &shown, &ds.version) {
            Ok(a) => a,
            Err(Refused::Fields(f)) => {
                crate::metrics::verification_answer("invalid");
                return Err(VerificationError::Answer(f));
            }
            Err(Refused::Spam) => {
                crate::metrics::verification_answer("spam");
                return Err(VerificationError::Spam);
            }
        };
        let slot = self
            .store
            .take_submission_slot(&format!("verify {client}"), per_hour, 3600, now.timestamp())
            .await?;
        if let Slot::Refused { retry_after } = slot {
            crate::metrics::verification_answer("rate_limited");
            return Err(VerificationError::RateLimited { retry_after });
        }
        match self
            .store
            .save_answer(invitation.id, &answer, &now_text(now))
            .await?
        {
            SaveAnswer::Settled => Err(VerificationError::LinkSettled),
            SaveAnswer::Saved(id) => {
                crate::metrics::verification_answer("stored");
                // No personal data in logs: the reference and the LA only.
                tracing::info!(
                    response = super::reference(id),
                    la = invitation.la_code,
                    "verification answer stored"
                );
                Ok((invitation, id))
            }
        }
    }

    /// Revoke an invitation's link.
    ///
    /// # Errors
    /// [`VerificationError::NotFound`], the store's error.
    pub async fn revoke(&self, invitation: i64) -> Result<Invitation, VerificationError> {
        let now = now_text(chrono::Utc::now());
        if !self.store.revoke_invitation(invitation, &now).await? {
            return Err(VerificationError::NotFound(format!(
                "no invitation {invitation}"
            )));
        }
        self.forget_last_invited();
        self.invitation(invitation).await
    }

    /// New links (the old ones stop working) for the given invitations, each working for the
    /// campaign's number of days from now. Settled invitations are refused.
    ///
    /// # Errors
    /// [`VerificationError::NotFound`], [`VerificationError::Conflict`] for a settled one, the
    /// store's error, no randomness.
    pub async fn reissue(
        &self,
        campaign: i64,
        which: &[i64],
        base: &str,
    ) -> Result<Issued, VerificationError> {
        let status = self.campaign(campaign).await?;
        let now = chrono::Utc::now();
        let expires_at = expiry(now, status.campaign.expiry_days);
        let mut links = Vec::new();
        for &id in which {
            let inv = status
                .invitations
                .iter()
                .find(|i| i.id == id)
                .ok_or_else(|| {
                    VerificationError::NotFound(format!(
                        "no invitation {id} in campaign {campaign}"
                    ))
                })?;
            if inv.outcome.is_some() {
                return Err(VerificationError::Conflict(format!(
                    "the answer of invitation {id} is settled; it needs no new link"
                )));
            }
            let t = token::new_token()?;
            let new = NewLink {
                la_code: inv.la_code.clone(),
                hash: t.hash(),
                expires_at: expires_at.clone(),
                recipient: None,
            };
            self.store.reissue_link(id, &new, &now_text(now)).await?;
            links.push((
                id,
                IssuedLink {
                    la_code: inv.la_code.clone(),
                    link: link(base, &t),
                    expires_at: expires_at.clone(),
                },
            ));
        }
        self.forget_last_invited();
        Ok(Issued {
            campaign: status.campaign,
            links,
        })
    }

    /// The invitations of a campaign still waiting for an answer (invited, opened, expired).
    ///
    /// # Errors
    /// [`VerificationError::NotFound`], the store's error.
    pub async fn waiting(&self, campaign: i64) -> Result<Vec<i64>, VerificationError> {
        let now = now_text(chrono::Utc::now());
        Ok(self
            .campaign(campaign)
            .await?
            .invitations
            .iter()
            .filter(|i| i.status(&now).awaits_answer())
            .map(|i| i.id)
            .collect())
    }

    /// One answer.
    ///
    /// # Errors
    /// [`VerificationError::NotFound`], the store's error.
    pub async fn answer(&self, id: i64) -> Result<StoredAnswer, VerificationError> {
        self.store.answer(id).await?.ok_or_else(|| {
            VerificationError::NotFound(format!("no response {}", super::reference(id)))
        })
    }

    /// Answers, newest first (only unsettled ones with `unsettled`).
    ///
    /// # Errors
    /// The store's error.
    pub async fn answers(&self, unsettled: bool) -> Result<Vec<StoredAnswer>, VerificationError> {
        Ok(self.store.answers(unsettled).await?)
    }

    /// Accept an answer: record `la.verify`, dated on the day the LA last sent it, linked to
    /// the response (which it settles). When the LA asked for changes, `changes_handled` says
    /// the editor has dealt with them (applied in the editor, linked to the response).
    ///
    /// # Errors
    /// [`VerificationError::NotFound`], [`VerificationError::Conflict`] when settled already
    /// or changes are outstanding, the steward's errors.
    pub async fn accept(
        &self,
        editor: &str,
        id: i64,
        reason: Option<String>,
        changes_handled: bool,
    ) -> Result<Outcome, VerificationError> {
        let a = self.answer(id).await?;
        if a.outcome.is_some() {
            return Err(VerificationError::Conflict(format!(
                "{} is settled already ({})",
                a.reference,
                a.outcome.as_deref().unwrap_or("")
            )));
        }
        if !a.all_confirmed() && !changes_handled {
            let asked = a.requested_changes().count();
            return Err(VerificationError::Conflict(format!(
                "{} asks for {asked} change(s){}: apply them in the editor (linked to {}), then accept with changes_handled",
                a.reference,
                if a.missing.trim().is_empty() {
                    ""
                } else {
                    " and says something is missing"
                },
                a.reference
            )));
        }
        let edit = Edit {
            change: Change::LaVerify {
                la: a.la_code.clone(),
                verified: true,
                date: Some(a.date().to_owned()),
            },
            reason: reason
                .map(|r| r.trim().to_owned())
                .filter(|r| !r.is_empty())
                .unwrap_or_else(|| {
                    "The LA checked its summary on the map and confirmed it through a verification link."
                        .to_owned()
                }),
            submission: None,
            verification: Some(id),
        };
        Ok(self.steward.edit(editor, edit, None, false).await?)
    }

    /// Settle an answer without recording a verification.
    ///
    /// # Errors
    /// [`VerificationError::NotFound`], [`VerificationError::Conflict`] when settled already,
    /// the store's error.
    pub async fn close(
        &self,
        editor: &str,
        id: i64,
        note: &str,
    ) -> Result<StoredAnswer, VerificationError> {
        let now = now_text(chrono::Utc::now());
        match self.store.close_answer(id, editor, note, &now).await? {
            Close::Closed(a) => Ok(*a),
            Close::AlreadySettled => Err(VerificationError::Conflict(format!(
                "{} is settled already",
                super::reference(id)
            ))),
            Close::Missing => Err(VerificationError::NotFound(format!(
                "no response {}",
                super::reference(id)
            ))),
        }
    }

    fn forget_last_invited(&self) {
        if let Ok(mut g) = self.last_invited.write() {
            *g = None;
        }
    }

    /// When LA `code` was last invited (a link not revoked), from memory refreshed every
    /// 15 s. While the database is down the last known dates are served.
    pub async fn last_invited(&self, code: &str) -> Option<String> {
        let fresh = self
            .last_invited
            .read()
            .ok()
            .and_then(|g| g.clone())
            .filter(|(at, _)| at.elapsed() < LAST_INVITED_TTL);
        let map = match fresh {
            Some((_, m)) => m,
            None => match self.store.last_invited().await {
                Ok(rows) => {
                    let m = Arc::new(rows.into_iter().collect::<HashMap<_, _>>());
                    if let Ok(mut g) = self.last_invited.write() {
                        *g = Some((Instant::now(), Arc::clone(&m)));
                    }
                    m
                }
                Err(e) => {
                    tracing::warn!("cannot read when LAs were last invited: {e}");
                    self.last_invited
                        .read()
                        .ok()
                        .and_then(|g| g.as_ref().map(|(_, m)| Arc::clone(m)))
                        .unwrap_or_default()
                }
            },
        };
        map.get(code).cloned()
    }

    /// Per campaign, its invitations per status now (zeros included), for `/metrics`.
    ///
    /// # Errors
    /// The store's error.
    pub async fn status_counts(
        &self,
    ) -> Result<Vec<(i64, BTreeMap<&'static str, usize>)>, VerificationError> {
        let now = now_text(chrono::Utc::now());
        Ok(self
            .campaigns()
            .await?
            .iter()
            .map(|c| (c.campaign.id, c.counts(&now)))
            .collect())
    }
}
