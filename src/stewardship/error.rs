//! What publishing can fail with. `crate::error` maps each to an HTTP status; nothing here
//! knows of HTTP.

use crate::changes::FieldErrors;
use crate::store::StoreError;

fn fields(f: &FieldErrors) -> String {
    f.iter()
        .map(|(k, v)| format!("{k}: {v}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Why an edit, undo, replay or reload did not publish.
#[derive(Debug, thiserror::Error)]
pub enum StewardError {
    /// The edit failed validation: field → message. The data version did not move.
    #[error("the change was not made: {}", fields(.0))]
    Rejected(FieldErrors),
    /// A change cannot be undone because later data no longer fits its inverse.
    #[error("change {id} cannot be undone now: {}", fields(.problems))]
    CannotRevert {
        /// The change.
        id: i64,
        /// Why.
        problems: FieldErrors,
    },
    /// No logged change has this id.
    #[error("no change {0}")]
    NoSuchChange(i64),
    /// The map has no record of that day (before its records start).
    #[error("{0}")]
    NoSuchDay(String),
    /// New data failed validation; the old data is still served.
    #[error("the new data has problems; still serving data version {current}")]
    ReloadRejected {
        /// Version still served.
        current: String,
        /// Every problem, `file:line: column: message`.
        problems: Vec<String>,
    },
    /// Reload is not possible (no data directories known).
    #[error("reload is not configured")]
    ReloadUnavailable,
    /// Other replicas kept appending first for longer than an edit waits; retrying later works.
    #[error("the change log is busy; try again")]
    LogBusy,
    /// The store failed, or the database cannot be reached now.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Publishing failed in a way that is a bug (e.g. published tables failed validation).
    #[error("{0}")]
    Failed(String),
}
