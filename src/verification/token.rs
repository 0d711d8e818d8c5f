//! Invitation links' secrets: 32 bytes from the operating system's CSPRNG, written as URL-safe
//! base64 (43 characters). Only the SHA-256 of a token is stored; a link is found by a short,
//! non-secret prefix of that hash and then confirmed by comparing the whole hash in constant
//! time, so neither the database index nor the comparison tells an attacker how close a guess
//! came. A token is never logged, never stored and never shown again once its link is handed out.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Bytes of randomness in a token.
pub const TOKEN_BYTES: usize = 32;
/// Characters of a token as written in a link.
pub const TOKEN_CHARS: usize = 43;

/// A token's SHA-256.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct TokenHash(pub [u8; 32]);

impl std::fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenHash(…)")
    }
}

impl TokenHash {
    /// The index key a link is looked up by: hex of the hash's first 8 bytes. It narrows the
    /// search to (in practice) one row; [`TokenHash::matches`] decides.
    #[must_use]
    pub fn lookup(&self) -> String {
        self.0[..8].iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The whole hash as hex, as stored.
    #[must_use]
    pub fn hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// From stored hex; `None` if it is not 64 hex digits.
    #[must_use]
    pub fn from_hex(s: &str) -> Option<Self> {
        if s.len() != 64 || !s.is_ascii() {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, b) in out.iter_mut().enumerate() {
            *b = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
        }
        Some(Self(out))
    }

    /// Whether `other` is the same hash, compared in constant time.
    #[must_use]
    pub fn matches(&self, other: &Self) -> bool {
        bool::from(self.0.ct_eq(&other.0))
    }
}

/// A token as handed out in a link. `Debug` does not print it.
pub struct Token(String);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(…)")
    }
}

impl Token {
    /// The text of the link's last segment.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Its hash, as stored.
    #[must_use]
    pub fn hash(&self) -> TokenHash {
        hash_text(&self.0)
    }
}

/// Why a token could not be made.
#[derive(Debug, thiserror::Error)]
#[error("the operating system's random number generator failed: {0}")]
pub struct RandomError(String);

/// A new token from the OS CSPRNG.
///
/// # Errors
/// If the operating system cannot supply randomness (never on Linux after boot).
pub fn new_token() -> Result<Token, RandomError> {
    let mut bytes = [0u8; TOKEN_BYTES];
    getrandom::fill(&mut bytes).map_err(|e| RandomError(e.to_string()))?;
    Ok(Token(URL_SAFE_NO_PAD.encode(bytes)))
}

fn hash_text(s: &str) -> TokenHash {
    TokenHash(Sha256::digest(s.as_bytes()).into())
}

/// The hash of a token given in a link, or `None` when the text cannot be a token at all
/// (wrong length or characters): such a link is answered "not found" without a look-up.
#[must_use]
pub fn parse(given: &str) -> Option<TokenHash> {
    let ok = given.len() == TOKEN_CHARS
        && given
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        && URL_SAFE_NO_PAD
            .decode(given)
            .is_ok_and(|b| b.len() == TOKEN_BYTES);
    ok.then(|| hash_text(given))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_43_url_safe_characters_of_32_random_bytes() {
        let a = new_token().expect("random");
        let b = new_token().expect("random");
        assert_eq!(a.as_str().len(), TOKEN_CHARS);
        assert_ne!(a.as_str(), b.as_str());
        let decoded = URL_SAFE_NO_PAD.decode(a.as_str()).expect("base64");
        assert_eq!(decoded.len(), TOKEN_BYTES);
        assert_eq!(parse(a.as_str()), Some(a.hash()));
        assert!(!format!("{a:?}").contains(a.as_str()));
    }

    #[test]
    fn a_hash_round_trips_through_hex_and_compares() {
        let t = new_token().expect("random");
        let h = t.hash();
        let back = TokenHash::from_hex(&h.hex()).expect("hex");
        assert!(back.matches(&h));
        assert_eq!(h.lookup(), h.hex()[..16]);
        let other = new_token().expect("random").hash();
        assert!(!other.matches(&h));
        assert_eq!(TokenHash::from_hex("zz"), None);
    }

    #[test]
    fn text_that_cannot_be_a_token_is_refused_before_any_lookup() {
        for bad in [
            "",
            "short",
            &"a".repeat(44),
            &format!("{}!", "a".repeat(42)),
            &"é".repeat(20),
        ] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
    }
}
