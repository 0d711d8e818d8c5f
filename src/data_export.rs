//! `partnership-map data export`: the published data (shipped files plus the change log) back to
//! CSV files in exactly the shipped format, for the research team to commit and ship.
//!
//! Beside the CSVs goes `edits.json`, naming the change log and the last change the files
//! contain. A server started on those files with the same log skips the changes already in
//! them, so the round trip edit → export → commit → ship never applies a change twice.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::dataset::Dataset;

/// File name of the marker inside a data directory.
pub const MARKER_FILE: &str = "edits.json";

/// Which change log, and how much of it, a data directory already contains.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Marker {
    /// The log's id (`Store::log_id`).
    pub log_id: String,
    /// The last change the files contain.
    pub through_change: i64,
    /// The data version of the exported data.
    pub data_version: String,
    /// When the files were written (RFC 3339).
    pub exported_at: String,
}

/// Changes up to this id are already in the files: the marker's, if it names this log.
#[must_use]
pub fn in_files_through(marker: Option<&Marker>, log_id: &str) -> i64 {
    match marker {
        Some(m) if m.log_id == log_id => m.through_change,
        Some(m) => {
            tracing::warn!(
                marker_log = m.log_id,
                this_log = log_id,
                "edits.json names another change log; every change of this log is replayed"
            );
            0
        }
        None => 0,
    }
}

/// Read `edits.json` from a data directory, if there is one.
///
/// # Errors
/// `path: what is wrong` if it exists but cannot be read or parsed.
pub fn read_marker(data_dir: &Path) -> Result<Option<Marker>, String> {
    let path = data_dir.join(MARKER_FILE);
    match std::fs::read_to_string(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("{}: cannot read: {e}", path.display())),
        Ok(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| format!("{}: not a valid export marker: {e}", path.display())),
    }
}

/// Write the three CSV files (with `reorganisations.csv` and the boundary files of `geometries/`,
/// when there are any) and the marker into `dir` (created if missing). Each file is
/// written to a temporary name and renamed, so a crash never leaves half a file.
///
/// # Errors
/// The file that could not be written, and why.
pub fn write(dir: &Path, ds: &Dataset, marker: &Marker) -> Result<Vec<PathBuf>, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut files: Vec<(String, String)> = ds
        .tables
        .files()
        .into_iter()
        .map(|(name, text)| (name.to_owned(), text))
        .collect();
    // The reorganisations are read with the tables, so an exported directory serves the same
    // councils on the same dates (the change log never edits this file).
    if let Some(t) = &ds.tables.reorganisations {
        files.push((crate::dataset::REORGANISATIONS_FILE.to_owned(), t.to_csv()));
    }
    // So are the boundary files of new LAs made of split districts (`geometries/`).
    files.extend(
        ds.shapes
            .geometry_files
            .iter()
            .map(|(name, text)| (name.clone(), text.clone())),
    );
    let marker_text = serde_json::to_string_pretty(marker).map_err(|e| e.to_string())? + "\n";
    files.push((MARKER_FILE.to_owned(), marker_text));
    let mut written = Vec::new();
    for (name, text) in files {
        let path = dir.join(&name);
        let (Some(parent), Some(file_name)) = (path.parent(), path.file_name()) else {
            return Err(format!("{}: not a file name", path.display()));
        };
        std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        let tmp = parent.join(format!(".{}.tmp", file_name.to_string_lossy()));
        std::fs::write(&tmp, text)
            .and_then(|()| std::fs::rename(&tmp, &path))
            .map_err(|e| format!("{}: {e}", path.display()))?;
        written.push(path);
    }
    Ok(written)
}
