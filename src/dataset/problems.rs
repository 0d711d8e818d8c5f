//! Data problems found while loading: where (file, line or feature, column) and what is wrong.
//!
//! Loading collects every problem instead of stopping at the first, so one run of
//! `partnership-map check` shows the whole list.

use std::fmt;

/// One problem in an input file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// `path:line`, `path: feature N (code)` or just `path`.
    pub location: String,
    /// The column or property concerned, if any.
    pub field: Option<String>,
    /// What is wrong, in words.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.field {
            Some(field) => write!(f, "{}: column \"{field}\": {}", self.location, self.message),
            None => write!(f, "{}: {}", self.location, self.message),
        }
    }
}

/// Every problem found in one load. Loading fails if this is not empty.
#[derive(Debug, Clone, Default, PartialEq, Eq, thiserror::Error)]
pub struct LoadError {
    /// The problems, in file order.
    pub problems: Vec<Problem>,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.problems.len();
        writeln!(
            f,
            "{n} problem{} in the data:",
            if n == 1 { "" } else { "s" }
        )?;
        for p in &self.problems {
            writeln!(f, "  {p}")?;
        }
        Ok(())
    }
}

impl LoadError {
    /// Record a problem.
    pub fn push(
        &mut self,
        location: impl Into<String>,
        field: Option<&str>,
        message: impl Into<String>,
    ) {
        self.problems.push(Problem {
            location: location.into(),
            field: field.map(str::to_owned),
            message: message.into(),
        });
    }

    /// Add `other`'s problems after these.
    pub fn append(&mut self, other: LoadError) {
        self.problems.extend(other.problems);
    }

    /// `Ok(value)` if nothing was recorded.
    ///
    /// # Errors
    /// Returns `self` when at least one problem was recorded.
    pub fn into_result<T>(self, value: T) -> Result<T, Self> {
        if self.problems.is_empty() {
            Ok(value)
        } else {
            Err(self)
        }
    }
}
