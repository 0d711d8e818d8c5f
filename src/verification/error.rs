//! What a verification round can fail with. `crate::error` maps each to an HTTP status;
//! nothing here knows of HTTP.

use std::collections::BTreeMap;

use crate::changes::FieldErrors;
use crate::stewardship::StewardError;
use crate::store::StoreError;

/// Why a verification request was refused.
#[derive(Debug, thiserror::Error)]
pub enum VerificationError {
    /// No link has this token (or the text cannot be a token).
    #[error("this verification link does not exist; check that it was copied whole")]
    LinkUnknown,
    /// The link's time ran out before the LA answered.
    #[error("this verification link has expired")]
    LinkExpired,
    /// An editor revoked the link.
    #[error("this verification link was withdrawn")]
    LinkRevoked,
    /// An editor already settled the answer sent through this link.
    #[error("the answer sent through this link has been settled by the research team")]
    LinkSettled,
    /// A campaign request failed its checks: field → message.
    #[error("the request has problems in: {}", .0.keys().cloned().collect::<Vec<_>>().join(", "))]
    Invalid(FieldErrors),
    /// An LA's answer failed its checks: form field → message (the page shows each).
    #[error("the answer has problems in: {}", .0.keys().cloned().collect::<Vec<_>>().join(", "))]
    Answer(BTreeMap<String, String>),
    /// The answer's honeypot was filled in.
    #[error("this answer could not be accepted")]
    Spam,
    /// Too many answers from this client.
    #[error("too many answers from your address; try again in {retry_after} seconds")]
    RateLimited {
        /// Seconds until the next answer is allowed.
        retry_after: u64,
    },
    /// No campaign, invitation or response has this id.
    #[error("{0}")]
    NotFound(String),
    /// The action does not fit the record's state (e.g. accepting a settled response).
    #[error("{0}")]
    Conflict(String),
    /// The operating system gave no randomness for a token.
    #[error(transparent)]
    Random(#[from] super::token::RandomError),
    /// Recording an accepted verification failed (a rejected edit, the log busy, …).
    #[error(transparent)]
    Steward(#[from] StewardError),
    /// The store failed, or the database cannot be reached now.
    #[error(transparent)]
    Store(#[from] StoreError),
}
