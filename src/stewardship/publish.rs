//! The publisher: replay the whole log (at startup and on a reload), catch up with what other
//! replicas logged, and validate, log and publish one edit or undo, retrying with backoff while
//! other replicas append first.
//!
//! Readers see, in this order, the history (feeds, `/api/changes`), then the data version, then
//! the log position (`/health`): whoever sees a version finds its change in the feed, and
//! whoever sees a position is served its version.

use std::path::Path;
use std::sync::Arc;

use serde::Serialize;

use super::log::LogState;
use super::{Steward, StewardError};
use crate::changes::{self, Change, Conflict, Edit, FieldChange, FieldErrors, NewChange};
use crate::data_export::{self, Marker};
use crate::dataset::{Dataset, Inputs, Tables};
use crate::store::Append;

/// How long an edit keeps retrying while other replicas append first. Every lost race means
/// another replica's edit went in, so the log always moves on; a time limit rather than a count
/// lets an edit outlast another replica's queue of edits sent at the same moment.
const APPEND_PATIENCE: std::time::Duration = std::time::Duration::from_secs(5);

/// The pause before retry `attempt` (from 1): doubling from 2 ms up to 64 ms, with jitter so
/// two replicas that lost to each other do not retry in step.
fn append_backoff(attempt: u32) -> std::time::Duration {
    use std::hash::BuildHasher;
    let ceiling = 2u64 << attempt.min(5);
    let jitter = std::collections::hash_map::RandomState::new().hash_one(attempt) % ceiling;
    std::time::Duration::from_millis(ceiling / 2 + jitter / 2)
}

/// What the change log did at startup or on a reload.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ReplayReport {
    /// Changes applied on top of the files.
    pub applied: usize,
    /// Changes skipped because the files already contain them (`edits.json`).
    pub already_in_files: usize,
    /// Changes that no longer apply.
    pub conflicts: Vec<Conflict>,
    /// The data version now served.
    pub data_version: String,
}

/// A published (or previewed) change.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// The logged change id; `None` for a preview.
    pub change: Option<i64>,
    /// The data version after it.
    pub data_version: String,
    /// The data version before it.
    pub previous_version: String,
    /// One line for people.
    pub summary: String,
    /// What changed.
    pub diff: Vec<FieldChange>,
    /// LAs concerned.
    pub la_codes: Vec<String>,
    /// The change as it will be (or was) logged.
    pub body: Change,
}

/// What a successful reload reports.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ReloadReport {
    /// Version served before.
    pub previous_version: String,
    /// Version served now.
    pub data_version: String,
    /// "Data as of" of the new data.
    pub data_as_of: Option<String>,
    /// LAs loaded.
    pub local_authorities: usize,
    /// Partnerships published.
    pub partnerships: usize,
    /// The change log replayed over the new files.
    pub changes: ReplayReport,
}

impl Outcome {
    /// The outcome of `entry`, logged as `change` (or previewed), in data version
    /// `data_version` after `previous_version`.
    fn of(
        change: Option<i64>,
        data_version: String,
        previous_version: String,
        entry: NewChange,
    ) -> Self {
        Self {
            change,
            data_version,
            previous_version,
            summary: entry.summary,
            diff: entry.diff,
            la_codes: entry.la_codes,
            body: entry.change,
        }
    }
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Read the marker of a data directory.
fn marker_of(data: &Path, current_version: &str) -> Result<Option<Marker>, StewardError> {
    data_export::read_marker(data).map_err(|p| StewardError::ReloadRejected {
        current: current_version.to_owned(),
        problems: vec![p],
    })
}

impl Steward {
    /// Build a dataset from `tables` over `like`'s geometry, and serve it.
    fn publish_tables(
        &self,
        like: &Dataset,
        log: &LogState,
        tables: Tables,
    ) -> Result<(), StewardError> {
        let ds = like.with_tables(tables, log.data_as_of()).map_err(|e| {
            StewardError::Failed(format!("published tables failed validation: {e}"))
        })?;
        // The history, then the data version, then the log position (see the module doc).
        self.set_log_status(log.status(self.log_status().through));
        self.swap_dataset(ds);
        self.set_log_status(log.status(log.through));
        Ok(())
    }

    /// Set the marker read with the files at startup (before [`Steward::replay_all`]).
    pub async fn set_marker(&self, marker: Option<Marker>) {
        self.log.lock().await.marker = marker;
    }

    /// Read the whole log and publish files + log. Called once at startup (after the files were
    /// loaded) and by a reload.
    ///
    /// # Errors
    /// The store's error (e.g. database unavailable).
    pub async fn replay_all(&self) -> Result<ReplayReport, StewardError> {
        let mut log = self.log.lock().await;
        let files = self.dataset();
        self.replay_locked(&mut log, &files).await
    }

    /// Replay the whole log over `log.base` and serve the result, built over `files`' geometry.
    async fn replay_locked(
        &self,
        log: &mut LogState,
        files: &Dataset,
    ) -> Result<ReplayReport, StewardError> {
        let log_id = self.store.log_id().await?;
        log.in_files_through = data_export::in_files_through(log.marker.as_ref(), &log_id);
        let all = self.store.changes_after(0).await?;
        log.through = 0;
        log.conflicts.clear();
        log.changes = Arc::default();
        log.last_change_at = None;
        let mut tables = log.base.clone();
        let (applied, already_in_files) = log.apply(&mut tables, &all);
        self.publish_tables(files, log, tables)?;
        let report = ReplayReport {
            applied,
            already_in_files,
            conflicts: log.conflicts.clone(),
            data_version: self.dataset().version.clone(),
        };
        tracing::info!(
            applied,
            already_in_files,
            conflicts = report.conflicts.len(),
            data_version = report.data_version,
            "change log replayed over the data files"
        );
        Ok(report)
    }

    /// Apply changes other replicas logged since this one last looked. Returns how many.
    ///
    /// # Errors
    /// The store's error.
    pub async fn catch_up(&self) -> Result<usize, StewardError> {
        let mut log = self.log.lock().await;
        self.catch_up_locked(&mut log).await
    }

    async fn catch_up_locked(&self, log: &mut LogState) -> Result<usize, StewardError> {
        let new = self.store.changes_after(log.through).await?;
        if new.is_empty() {
            return Ok(0);
        }
        let current = self.dataset();
        let mut tables = current.tables.clone();
        let (applied, _) = log.apply(&mut tables, &new);
        if applied == 0 {
            // Only conflicts or changes the files already hold: nothing new to serve.
            self.set_log_status(log.status(log.through));
        } else {
            // Serves the new version, then reports the log position: whoever sees the position
            // sees the version.
            self.publish_tables(&current, log, tables)?;
            tracing::info!(
                applied,
                through = log.through,
                data_version = self.dataset().version,
                "published changes from the log"
            );
        }
        Ok(applied)
    }

    /// Checks that need the store or the clock, beyond `changes::apply`.
    async fn check_context(&self, edit: &Edit) -> Result<(), StewardError> {
        let mut e = FieldErrors::new();
        if let Change::LaVerify { date: Some(d), .. } = &edit.change {
            let today = chrono::Utc::now().date_naive();
            if let Ok(day) = chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d")
                && day > today + chrono::Days::new(1)
            {
                e.insert("date".into(), format!("{d} is in the future"));
            }
        }
        if let Some(id) = edit.submission {
            match self.store.get_submission(id).await? {
                None => {
                    e.insert(
                        "submission".into(),
                        format!("no submission {}", crate::submission::reference(id)),
                    );
                }
                Some(s) => {
                    // The history is public: the submitter's details must not end up in it.
                    for detail in [s.name.as_deref(), s.email.as_deref()]
                        .into_iter()
                        .flatten()
                    {
                        if changes::mentions(edit, detail) {
                            e.insert(
                                "reason".into(),
                                "the change history is public: leave the submitter's name and email out of the reason and the fields".into(),
                            );
                        }
                    }
                }
            }
        }
        if let Some(id) = edit.verification {
            match self.store.answer(id).await? {
                None => {
                    e.insert(
                        "verification".into(),
                        format!("no response {}", crate::verification::reference(id)),
                    );
                }
                Some(a) => {
                    // The history is public: the officer's name must not end up in it.
                    if a.name
                        .as_deref()
                        .is_some_and(|n| changes::mentions(edit, n))
                    {
                        e.insert(
                            "reason".into(),
                            "the change history is public: leave the LA officer's name out of the reason and the fields".into(),
                        );
                    }
                }
            }
        }
        if e.is_empty() {
            Ok(())
        } else {
            Err(StewardError::Rejected(e))
        }
    }

    /// Validate, log and publish one edit by `editor`; with `dry_run`, only say what it would
    /// do. `reverts` names the change this one undoes.
    ///
    /// # Errors
    /// [`StewardError::Rejected`] with a message per field, [`StewardError::CannotRevert`] for
    /// an undo that no longer applies, the store's error (e.g. the database is down),
    /// [`StewardError::LogBusy`] when other replicas kept appending first.
    pub async fn edit(
        &self,
        editor: &str,
        edit: Edit,
        reverts: Option<i64>,
        dry_run: bool,
    ) -> Result<Outcome, StewardError> {
        let result = self.edit_uncounted(editor, edit, reverts, dry_run).await;
        let kind = if reverts.is_some() { "undo" } else { "edit" };
        let outcome = match &result {
            Ok(_) if dry_run => "previewed",
            Ok(_) => "published",
            Err(StewardError::Rejected(_)) => "rejected",
            Err(StewardError::CannotRevert { .. }) => "conflict",
            Err(_) => "failed",
        };
        crate::metrics::edit_counted(kind, outcome);
        result
    }

    async fn edit_uncounted(
        &self,
        editor: &str,
        edit: Edit,
        reverts: Option<i64>,
        dry_run: bool,
    ) -> Result<Outcome, StewardError> {
        self.check_context(&edit).await?;
        let mut log = self.log.lock().await;
        let started = std::time::Instant::now();
        for attempt in 0u32.. {
            if attempt > 0 {
                if started.elapsed() > APPEND_PATIENCE {
                    break;
                }
                tokio::time::sleep(append_backoff(attempt)).await;
            }
            if !dry_run {
                self.catch_up_locked(&mut log).await?;
            }
            let current = self.dataset();
            let applied = changes::apply(&current.tables, &edit.change).map_err(|fields| {
                if let Some(id) = reverts {
                    StewardError::CannotRevert {
                        id,
                        problems: fields,
                    }
                } else {
                    StewardError::Rejected(fields)
                }
            })?;
            let summary = match reverts {
                Some(id) => format!("Undo of change {id}: {}", applied.summary),
                None => applied.summary.clone(),
            };
            let new = NewChange {
                editor: editor.to_owned(),
                change: edit.change.clone(),
                reason: edit.reason.clone(),
                submission: edit.submission,
                verification: edit.verification,
                reverts,
                summary,
                la_codes: applied.la_codes,
                diff: applied.diff,
                undo: applied.inverse,
            };
            if dry_run {
                let preview = current
                    .with_tables(applied.tables, log.data_as_of())
                    .map_err(|e| StewardError::Failed(format!("preview failed validation: {e}")))?;
                let previous = current.version.clone();
                return Ok(Outcome::of(None, preview.version.clone(), previous, new));
            }
            match self.store.append_change(log.through, &new, &now()).await? {
                Append::Stale => continue,
                Append::NoSuchSubmission(id) => {
                    return Err(StewardError::Rejected(FieldErrors::from([(
                        "submission".to_owned(),
                        format!("no submission {}", crate::submission::reference(id)),
                    )])));
                }
                Append::NoSuchVerification(id) => {
                    return Err(StewardError::Rejected(FieldErrors::from([(
                        "verification".to_owned(),
                        format!("no response {}", crate::verification::reference(id)),
                    )])));
                }
                Append::Appended(logged) => {
                    log.through = logged.id;
                    log.last_change_at = Some(logged.created_at.clone());
                    Arc::make_mut(&mut log.changes).push((*logged).clone());
                    self.publish_tables(&current, &log, applied.tables)?;
                    let ds = self.dataset();
                    let entry = logged.entry;
                    tracing::info!(
                        change = logged.id,
                        kind = entry.change.kind(),
                        editor = entry.editor,
                        data_version = ds.version,
                        "change published: {}",
                        entry.summary
                    );
                    let previous = current.version.clone();
                    return Ok(Outcome::of(
                        Some(logged.id),
                        ds.version.clone(),
                        previous,
                        entry,
                    ));
                }
            }
        }
        Err(StewardError::LogBusy)
    }

    /// Undo change `id` by logging its inverse (history is never rewritten).
    ///
    /// # Errors
    /// [`StewardError::NoSuchChange`] for an unknown change, [`StewardError::CannotRevert`]
    /// when the inverse no longer applies, as [`Steward::edit`] otherwise.
    pub async fn revert(
        &self,
        editor: &str,
        id: i64,
        reason: String,
        dry_run: bool,
    ) -> Result<Outcome, StewardError> {
        let Some(original) = self
            .log_status()
            .changes
            .iter()
            .find(|c| c.id == id)
            .cloned()
        else {
            return Err(StewardError::NoSuchChange(id));
        };
        let undo = Edit {
            change: original.entry.undo,
            reason,
            submission: None,
            verification: None,
        };
        self.edit(editor, undo, Some(id), dry_run).await
    }

    /// Validate the data on disk and, if it is valid, replay the change log over it and swap it
    /// in atomically. Invalid data leaves the served data untouched and returns every problem.
    ///
    /// # Errors
    /// [`StewardError::ReloadRejected`] with the problems, [`StewardError::ReloadUnavailable`]
    /// without a data source, the store's error.
    pub async fn reload(&self) -> Result<ReloadReport, StewardError> {
        let Some(source) = self.source.clone() else {
            return Err(StewardError::ReloadUnavailable);
        };
        let mut log = self.log.lock().await;
        let current = self.dataset();
        let marker = marker_of(&source.data, &current.version)?;
        let (boundaries, data, max_zoom) = (source.boundaries, source.data, source.max_zoom);
        let cur = Arc::clone(&current);
        let loaded = tokio::task::spawn_blocking(move || {
            let inputs = Inputs::read(&boundaries, &data)?;
            // Same boundaries and LAs: keep the simplified geometry, rebuild only the records.
            let same_geometry = inputs.boundaries_hash() == cur.geometry.boundaries_hash
                && max_zoom == cur.geometry.max_zoom;
            if same_geometry
                && let Ok(tables) = inputs.tables()
                && let Ok(ds) = cur.with_tables(tables, inputs.data_as_of())
            {
                return Ok(ds);
            }
            Dataset::from_inputs(&inputs, max_zoom)
        })
        .await
        .map_err(|e| StewardError::Failed(format!("reload task failed: {e}")))?;
        let ds = match loaded {
            Err(e) => {
                let problems: Vec<String> = e.problems.iter().map(ToString::to_string).collect();
                for p in &problems {
                    tracing::warn!("reload rejected: {p}");
                }
                return Err(StewardError::ReloadRejected {
                    current: current.version.clone(),
                    problems,
                });
            }
            Ok(ds) => ds,
        };
        // The files' own dataset is never served: the log is replayed over it first, so no
        // client ever sees the data without its changes.
        let files = LogState::new(&ds);
        let saved = (
            std::mem::replace(&mut log.base, files.base),
            std::mem::replace(&mut log.files_as_of, files.files_as_of),
            std::mem::replace(&mut log.marker, marker),
        );
        let changes = match self.replay_locked(&mut log, &ds).await {
            Ok(c) => c,
            Err(e) => {
                (log.base, log.files_as_of, log.marker) = saved;
                return Err(e);
            }
        };
        let now = self.dataset();
        let report = ReloadReport {
            previous_version: current.version.clone(),
            data_version: now.version.clone(),
            data_as_of: now.data_as_of.clone(),
            local_authorities: now.summary.las,
            partnerships: now.summary.partnerships,
            changes,
        };
        tracing::info!(
            previous = report.previous_version,
            now = report.data_version,
            "data reloaded"
        );
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::append_backoff;
    use std::time::Duration;

    #[test]
    fn the_append_backoff_doubles_to_a_ceiling_and_is_jittered() {
        for attempt in 1..40 {
            let ceiling = Duration::from_millis(2 << attempt.min(5));
            let pauses: Vec<Duration> = (0..50).map(|_| append_backoff(attempt)).collect();
            assert!(
                pauses.iter().all(|p| *p >= ceiling / 2 && *p < ceiling),
                "{attempt}: {pauses:?}"
            );
            assert!(pauses.iter().all(|p| *p <= Duration::from_millis(64)));
            // Two replicas that lost to each other must not all pick the same pause.
            if ceiling >= Duration::from_millis(8) {
                assert!(
                    pauses.iter().any(|p| *p != pauses[0]),
                    "{attempt}: no jitter"
                );
            }
        }
    }
}
