//! The publisher's view of the change log (the files' tables, the position, conflicts and the
//! history), and the part of it readers see without waiting for the publisher.

use std::sync::Arc;

use crate::changes::{self, Conflict, LoggedChange};
use crate::data_export::Marker;
use crate::dataset::{Dataset, Tables};

/// The publisher's view of the log.
#[derive(Debug)]
pub(super) struct LogState {
    /// The shipped tables (from the files), before any change.
    pub(super) base: Tables,
    /// "Data as of" of the files.
    pub(super) files_as_of: Option<String>,
    /// Changes up to this id are already in the files (`edits.json` from the same log).
    pub(super) in_files_through: i64,
    /// The last change id looked at (applied, skipped as in the files, or in conflict).
    pub(super) through: i64,
    /// Logged changes that do not apply to the files.
    pub(super) conflicts: Vec<Conflict>,
    /// Every logged change seen, in log order (the history is served from here, so it keeps
    /// working while the database is down).
    pub(super) changes: Arc<Vec<LoggedChange>>,
    /// Time of the newest applied change.
    pub(super) last_change_at: Option<String>,
    /// The marker read with the files.
    pub(super) marker: Option<Marker>,
}

impl LogState {
    /// Before the log is read: the files as loaded.
    pub(super) fn new(ds: &Dataset) -> Self {
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

    /// "Data as of": the files' date or the newest applied change's, whichever is later.
    pub(super) fn data_as_of(&self) -> Option<String> {
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

    /// What readers may see: the history and conflicts, with the log position `through`.
    pub(super) fn status(&self, through: i64) -> LogStatus {
        LogStatus {
            through,
            conflicts: self.conflicts.clone(),
            changes: Arc::clone(&self.changes),
        }
    }

    /// Apply `changes` (already ordered) to `tables`, updating the position, conflicts and
    /// time. Returns how many were applied and how many the files already contained.
    pub(super) fn apply(
        &mut self,
        tables: &mut Tables,
        changes: &[LoggedChange],
    ) -> (usize, usize) {
        let r = changes::replay_after(tables, changes, self.in_files_through);
        for k in &r.conflicts {
            tracing::warn!(
                change = k.change,
                summary = k.summary,
                problems = ?k.problems,
                "a logged change does not apply to the data files; it is kept in the log and not published"
            );
        }
        self.through = self.through.max(r.through);
        self.conflicts.extend(r.conflicts);
        let known = self.changes.last().map_or(0, |c| c.id);
        Arc::make_mut(&mut self.changes).extend(changes.iter().filter(|c| c.id > known).cloned());
        if r.last_applied_at.is_some() {
            self.last_change_at = r.last_applied_at;
        }
        *tables = r.tables;
        (r.applied, r.in_files)
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
