//! The research team's editors: names and bearer tokens, from `--admin-tokens-file` (one
//! `name<TAB>token` per line, `#` comments) and the single `PARTNERSHIP_MAP_ADMIN_TOKEN`
//! (editor `admin`).
//!
//! Tokens are compared in constant time and never printed: `Debug` shows names only.

use subtle::{Choice, ConstantTimeEq};

/// Shortest accepted token.
pub const MIN_TOKEN: usize = 16;

/// One editor.
#[derive(Clone)]
pub struct Editor {
    /// Shown in the change log (to editors only).
    pub name: String,
    token: String,
}

impl std::fmt::Debug for Editor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Editor")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// Everyone who may use the admin API; empty turns it off.
#[derive(Debug, Clone, Default)]
pub struct Editors {
    list: Vec<Editor>,
}

fn name_ok(n: &str) -> bool {
    !n.is_empty()
        && n.chars().count() <= 64
        && n.chars()
            .all(|c| c.is_alphanumeric() || matches!(c, ' ' | '.' | '_' | '-' | '\''))
}

impl Editors {
    /// No editors: the admin API is off.
    #[must_use]
    pub fn none() -> Self {
        Self::default()
    }

    /// One editor.
    ///
    /// # Errors
    /// A message if the name or token is not acceptable.
    pub fn single(name: &str, token: &str) -> Result<Self, String> {
        let mut e = Self::none();
        e.add(name, token).map(|()| e)
    }

    /// Add an editor.
    ///
    /// # Errors
    /// A message (never containing the token) when the name or token is not acceptable or
    /// already used.
    pub fn add(&mut self, name: &str, token: &str) -> Result<(), String> {
        if !name_ok(name) {
            return Err(format!(
                "editor name {name:?} must be 1-64 letters, digits, spaces, or . _ - '"
            ));
        }
        if token.chars().count() < MIN_TOKEN {
            return Err(format!(
                "the token of editor {name:?} must be at least {MIN_TOKEN} characters"
            ));
        }
        if token.chars().any(char::is_whitespace) {
            return Err(format!("the token of editor {name:?} contains white space"));
        }
        if self.list.iter().any(|e| e.name == name) {
            return Err(format!("editor {name:?} is listed twice"));
        }
        if self.list.iter().any(|e| e.token == token) {
            return Err(format!(
                "editor {name:?} has the same token as another editor"
            ));
        }
        self.list.push(Editor {
            name: name.to_owned(),
            token: token.to_owned(),
        });
        Ok(())
    }

    /// Parse a tokens file: `name<TAB>token` per line; blank lines and `#` comments ignored.
    ///
    /// # Errors
    /// `path:line: what is wrong` for the first bad line.
    pub fn parse_file(path: &str, content: &str, into: &mut Self) -> Result<(), String> {
        for (i, line) in content.lines().enumerate() {
            let line_no = i + 1;
            let t = line.trim_end_matches('\r');
            if t.trim().is_empty() || t.trim_start().starts_with('#') {
                continue;
            }
            let Some((name, token)) = t.split_once('\t') else {
                return Err(format!(
                    "{path}:{line_no}: expected a name, a TAB, then the token"
                ));
            };
            into.add(name.trim(), token.trim())
                .map_err(|m| format!("{path}:{line_no}: {m}"))?;
        }
        Ok(())
    }

    /// Whether there is no editor (admin API off).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Number of editors.
    #[must_use]
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// The editor whose token this is. Every token is compared, in constant time in the
    /// tokens' content, whichever matches.
    #[must_use]
    pub fn authenticate(&self, given: &str) -> Option<&str> {
        let mut found: Option<&str> = None;
        for e in &self.list {
            let hit: Choice = given.as_bytes().ct_eq(e.token.as_bytes());
            if bool::from(hit) {
                found = Some(&e.name);
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tokens_file_names_each_editor() {
        let mut e = Editors::none();
        Editors::parse_file(
            "t",
            "# team\nAsha Patel\tabcdefghijklmnop1\n\nBen\tqrstuvwxyz0123456\n",
            &mut e,
        )
        .expect("valid");
        assert_eq!(e.authenticate("qrstuvwxyz0123456"), Some("Ben"));
        assert_eq!(e.authenticate("abcdefghijklmnop1"), Some("Asha Patel"));
        assert_eq!(e.authenticate("abcdefghijklmnop"), None);
        assert!(!format!("{e:?}").contains("abcdefghijklmnop1"));
    }

    #[test]
    fn a_malformed_tokens_file_says_which_line() {
        for (content, want) in [
            (
                "a\tabcdefghijklmnop1\nb abcdefghijklmnop2\n",
                "t:2: expected a name",
            ),
            (
                "a\tshort\n",
                "t:1: the token of editor \"a\" must be at least 16",
            ),
            (
                "a\tabcdefghijklmnop1\na\tabcdefghijklmnop2\n",
                "t:2: editor \"a\" is listed twice",
            ),
            (
                "a\tabcdefghijklmnop1\nb\tabcdefghijklmnop1\n",
                "t:2: editor \"b\" has the same token",
            ),
            ("\tabcdefghijklmnop1\n", "t:1: editor name"),
        ] {
            let got = Editors::parse_file("t", content, &mut Editors::none()).expect_err(content);
            assert!(got.starts_with(want), "{got}");
            assert!(!got.contains("abcdefghijklmnop"), "no token in {got}");
        }
    }
}
