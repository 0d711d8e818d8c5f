//! Publishing: the served dataset is the shipped files plus the change log, replayed in log
//! order. Edits, undos, reloads and changes made by other replicas all pass through here.
//!
//! One publisher per process (a mutex); across processes the database orders the log:
//! `Store::append_change` appends only if nobody else appended since this replica last caught
//! up, else the replica catches up, checks the edit again and retries. A change is live in this
//! process before its 201 is sent. The pure work is `changes::apply`/`replay` and
//! `Dataset::with_tables`.

use std::path::Path;
use std::sync::Arc;

use serde::Serialize;

use super::state::AppState;
use crate::changes::{
    self, Change, Conflict, Edit, FieldChange, FieldErrors, LoggedChange, NewChange,
};
use crate::data_export::{self, Marker};
use crate::dataset::{Dataset, Inputs, Tables};
use crate::error::AppError;
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

/// The publisher's view of the log.
#[derive(Debug)]
pub struct LogState {
    /// The shipped tables (from the files), before any change.
    base: Tables,
    /// "Data as of" of the files.
    files_as_of: Option<String>,
    /// Changes up to this id are already in the files (`edits.json` from the same log).
    in_files_through: i64,
    /// The last change id looked at (applied, skipped as in the files, or in conflict).
    pub through: i64,
    /// Logged changes that do not apply to the files.
    pub conflicts: Vec<Conflict>,
    /// Every logged change seen, in log order (the history is served from here, so it keeps
    /// working while the database is down).
    changes: Arc<Vec<LoggedChange>>,
    /// Time of the newest applied change.
    last_change_at: Option<String>,
    /// The marker read with the files.
    marker: Option<Marker>,
}

impl LogState {
    /// Before the log is read: the files as loaded.
    #[must_use]
    pub fn new(ds: &Dataset) -> Self {
        Self {
            base: ds.tables.clone(),
            files_as_of: ds.data_as_of.clone(),
            in_files_through: 0,
            through: 0,
            conflicts: Vec::new(),
            changes: Arc::default(),
            last_change_at: None,
            marker: None,
        }
    }

    fn data_as_of(&self) -> Option<String> {
        let change = self
            .last_change_at
            .as_deref()
            .and_then(|t| t.get(..10))
            .map(str::to_owned);
        match (self.files_as_of.clone(), change) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        }
    }
}

/// What others may read of the log without waiting for the publisher.
#[derive(Debug, Clone, Default)]
pub struct LogStatus {
    /// The last change looked at.
    pub through: i64,
    /// Logged changes that do not apply to the files.
    pub conflicts: Vec<Conflict>,
    /// Every logged change, in log order.
    pub changes: Arc<Vec<LoggedChange>>,
}

impl LogStatus {
    /// The changes in effect (not in conflict), newest first.
    pub fn published(&self) -> impl Iterator<Item = &LoggedChange> {
        self.changes
            .iter()
            .rev()
            .filter(|c| !self.conflicts.iter().any(|k| k.change == c.id))
    }
}

fn record_status(state: &AppState, log: &LogState) {
    record_history(state, log, log.through);
}

/// Let readers see `log`'s history and conflicts, with the log position `through`.
fn record_history(state: &AppState, log: &LogState, through: i64) {
    state.set_log_status(LogStatus {
        through,
        conflicts: log.conflicts.clone(),
        changes: Arc::clone(&log.changes),
    });
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

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Apply `changes` (already ordered) to `tables`, updating the log's position, conflicts and
/// time. Returns how many were applied and how many the files already contained.
fn apply_log(log: &mut LogState, tables: &mut Tables, changes: &[LoggedChange]) -> (usize, usize) {
    let r = changes::replay_after(tables, changes, log.in_files_through);
    for k in &r.conflicts {
        tracing::warn!(
            change = k.change,
            summary = k.summary,
            problems = ?k.problems,
            "a logged change does not apply to the data files; it is kept in the log and not published"
        );
    }
    log.through = log.through.max(r.through);
    log.conflicts.extend(r.conflicts);
    let known = log.changes.last().map_or(0, |c| c.id);
    Arc::make_mut(&mut log.changes).extend(changes.iter().filter(|c| c.id > known).cloned());
    if r.last_applied_at.is_some() {
        log.last_change_at = r.last_applied_at;
    }
    *tables = r.tables;
    (r.applied, r.in_files)
}

/// Build a dataset from `tables` over `like`'s geometry, and serve it.
fn publish_tables(
    state: &AppState,
    like: &Dataset,
    log: &LogState,
    tables: Tables,
) -> Result<(), AppError> {
    let ds = like
        .with_tables(tables, log.data_as_of())
        .map_err(|e| AppError::Store(format!("published tables failed validation: {e}")))?;
    // Readers see, in this order, the history (feeds, `/api/changes`), then the data version,
    // then the log position (`/health`): whoever sees a version finds its change in the feed,
    // and whoever sees a position is served its version.
    record_history(state, log, state.log_status().through);
    state.swap_dataset(ds);
    record_status(state, log);
    Ok(())
}

/// Read the whole log and publish files + log. Called once at startup (after the files were
/// loaded) and by a reload.
///
/// # Errors
/// The store's error (e.g. database unavailable).
pub async fn replay_all(state: &AppState) -> Result<ReplayReport, AppError> {
    let mut log = state.log.lock().await;
    let files = state.dataset();
    replay_locked(state, &mut log, &files).await
}

/// Replay the whole log over `log.base` and serve the result, built over `files`' geometry.
async fn replay_locked(
    state: &AppState,
    log: &mut LogState,
    files: &Dataset,
) -> Result<ReplayReport, AppError> {
    let log_id = state.store.log_id().await?;
    log.in_files_through = data_export::in_files_through(log.marker.as_ref(), &log_id);
    let all = state.store.changes_after(0).await?;
    log.through = 0;
    log.conflicts.clear();
    log.changes = Arc::default();
    log.last_change_at = None;
    let mut tables = log.base.clone();
    let (applied, already_in_files) = apply_log(log, &mut tables, &all);
    publish_tables(state, files, log, tables)?;
    let report = ReplayReport {
        applied,
        already_in_files,
        conflicts: log.conflicts.clone(),
        data_version: state.dataset().version.clone(),
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
pub async fn catch_up(state: &AppState) -> Result<usize, AppError> {
    let mut log = state.log.lock().await;
    catch_up_locked(state, &mut log).await
}

async fn catch_up_locked(state: &AppState, log: &mut LogState) -> Result<usize, AppError> {
    let new = state.store.changes_after(log.through).await?;
    if new.is_empty() {
        return Ok(0);
    }
    let current = state.dataset();
    let mut tables = current.tables.clone();
    let (applied, _) = apply_log(log, &mut tables, &new);
    if applied == 0 {
        // Only conflicts or changes the files already hold: nothing new to serve.
        record_status(state, log);
    } else {
        // Serves the new version, then reports the log position: whoever sees the position
        // sees the version.
        publish_tables(state, &current, log, tables)?;
        tracing::info!(
            applied,
            through = log.through,
            data_version = state.dataset().version,
            "published changes from the log"
        );
    }
    Ok(applied)
}

/// Checks that need the store or the clock, beyond `changes::apply`.
async fn check_context(state: &AppState, edit: &Edit) -> Result<(), AppError> {
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
        match state.store.get_submission(id).await? {
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
    if e.is_empty() {
        Ok(())
    } else {
        Err(AppError::EditRejected(e))
    }
}

/// Validate, log and publish one edit; with `dry_run`, only say what it would do.
///
/// # Errors
/// 422 with a message per field; 503 when the database is down; 500 on other storage failures.
pub async fn edit(
    state: &AppState,
    editor: &str,
    edit: Edit,
    reverts: Option<i64>,
    dry_run: bool,
) -> Result<Outcome, AppError> {
    let result = edit_uncounted(state, editor, edit, reverts, dry_run).await;
    let kind = if reverts.is_some() { "undo" } else { "edit" };
    let outcome = match &result {
        Ok(_) if dry_run => "previewed",
        Ok(_) => "published",
        Err(AppError::EditRejected(_)) => "rejected",
        Err(AppError::CannotRevert { .. }) => "conflict",
        Err(_) => "failed",
    };
    crate::metrics::edit_counted(kind, outcome);
    result
}

async fn edit_uncounted(
    state: &AppState,
    editor: &str,
    edit: Edit,
    reverts: Option<i64>,
    dry_run: bool,
) -> Result<Outcome, AppError> {
    check_context(state, &edit).await?;
    let mut log = state.log.lock().await;
    let started = std::time::Instant::now();
    for attempt in 0u32.. {
        if attempt > 0 {
            if started.elapsed() > APPEND_PATIENCE {
                break;
            }
            tokio::time::sleep(append_backoff(attempt)).await;
        }
        if !dry_run {
            catch_up_locked(state, &mut log).await?;
        }
        let current = state.dataset();
        let applied = changes::apply(&current.tables, &edit.change).map_err(|fields| {
            if let Some(id) = reverts {
                AppError::CannotRevert {
                    id,
                    problems: fields,
                }
            } else {
                AppError::EditRejected(fields)
            }
        })?;
        let summary = match reverts {
            Some(id) => format!("Undo of change {id}: {}", applied.summary),
            None => applied.summary.clone(),
        };
        if dry_run {
            let preview = current
                .with_tables(applied.tables, log.data_as_of())
                .map_err(|e| AppError::Store(format!("preview failed validation: {e}")))?;
            return Ok(Outcome {
                change: None,
                data_version: preview.version.clone(),
                previous_version: current.version.clone(),
                summary,
                diff: applied.diff,
                la_codes: applied.la_codes,
                body: edit.change,
            });
        }
        let new = NewChange {
            editor: editor.to_owned(),
            change: edit.change.clone(),
            reason: edit.reason.clone(),
            submission: edit.submission,
            reverts,
            summary,
            la_codes: applied.la_codes.clone(),
            diff: applied.diff.clone(),
            undo: applied.inverse.clone(),
        };
        match state.store.append_change(log.through, &new, &now()).await? {
            Append::Stale => continue,
            Append::NoSuchSubmission(id) => {
                return Err(AppError::EditRejected(FieldErrors::from([(
                    "submission".to_owned(),
                    format!("no submission {}", crate::submission::reference(id)),
                )])));
            }
            Append::Appended(logged) => {
                log.through = logged.id;
                log.last_change_at = Some(logged.created_at.clone());
                Arc::make_mut(&mut log.changes).push((*logged).clone());
                publish_tables(state, &current, &log, applied.tables)?;
                let ds = state.dataset();
                let entry = logged.entry;
                tracing::info!(
                    change = logged.id,
                    kind = entry.change.kind(),
                    editor = entry.editor,
                    data_version = ds.version,
                    "change published: {}",
                    entry.summary
                );
                return Ok(Outcome {
                    change: Some(logged.id),
                    data_version: ds.version.clone(),
                    previous_version: current.version.clone(),
                    summary: entry.summary,
                    diff: entry.diff,
                    la_codes: entry.la_codes,
                    body: entry.change,
                });
            }
        }
    }
    Err(AppError::Unavailable {
        retry_after: crate::error::UNAVAILABLE_RETRY_AFTER,
    })
}

/// Undo change `id` by logging its inverse (history is never rewritten).
///
/// # Errors
/// 404 for an unknown change, 409 when the inverse no longer applies, as [`edit`] otherwise.
pub async fn revert(
    state: &AppState,
    editor: &str,
    id: i64,
    reason: String,
    dry_run: bool,
) -> Result<Outcome, AppError> {
    let Some(original) = state
        .log_status()
        .changes
        .iter()
        .find(|c| c.id == id)
        .cloned()
    else {
        return Err(AppError::ApiNotFound(format!("no change {id}")));
    };
    let undo = Edit {
        change: original.entry.undo,
        reason,
        submission: None,
    };
    edit(state, editor, undo, Some(id), dry_run).await
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

/// Read the marker of a data directory.
///
/// # Errors
/// 422-style rejection naming the file.
pub fn marker_of(data: &Path, current_version: &str) -> Result<Option<Marker>, AppError> {
    data_export::read_marker(data).map_err(|p| AppError::ReloadRejected {
        current: current_version.to_owned(),
        problems: vec![p],
    })
}

/// Validate the data on disk and, if it is valid, replay the change log over it and swap it in
/// atomically. Invalid data leaves the served data untouched and returns every problem.
///
/// # Errors
/// [`AppError::ReloadRejected`] with the problems, [`AppError::ReloadUnavailable`].
pub async fn reload(state: &AppState) -> Result<ReloadReport, AppError> {
    let Some(source) = state.config.data_source.clone() else {
        return Err(AppError::ReloadUnavailable);
    };
    let mut log = state.log.lock().await;
    let current = state.dataset();
    let marker = marker_of(&source.data, &current.version)?;
    let (boundaries, data, max_zoom) = (
        source.boundaries.clone(),
        source.data.clone(),
        source.max_zoom,
    );
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
    .map_err(|e| AppError::Store(format!("reload task failed: {e}")))?;
    let ds = match loaded {
        Err(e) => {
            let problems: Vec<String> = e.problems.iter().map(ToString::to_string).collect();
            for p in &problems {
                tracing::warn!("reload rejected: {p}");
            }
            return Err(AppError::ReloadRejected {
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
    let changes = match replay_locked(state, &mut log, &ds).await {
        Ok(c) => c,
        Err(e) => {
            (log.base, log.files_as_of, log.marker) = saved;
            return Err(e);
        }
    };
    let now = state.dataset();
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

/// Set the marker read at startup (before [`replay_all`]).
pub async fn set_marker(state: &AppState, marker: Option<Marker>) {
    state.log.lock().await.marker = marker;
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
