//! Invitation mails (`--smtp-url`): the plain-text template the research team edits (a
//! `Subject:` line, a blank line, the body, with `{la_name}`, `{la_code}`, `{link}`,
//! `{expires}`, `{contact_role}` and `{campaign}` filled in), checked once at startup, and the
//! [`Mailer`] that hands each invitation to an SMTP server through `lettre`. A failed send is
//! described in the SMTP server's words, with the recipient's address and the link taken out,
//! so it can be stored, listed and logged. Nothing here knows HTTP or the store.

use std::path::Path;
use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::{Mailbox, Message};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

/// The template shipped with the binary (`templates/invitation.txt`).
pub const DEFAULT_TEMPLATE: &str = include_str!("../../templates/invitation.txt");
/// The `From` of invitation mails unless `--mail-from` says otherwise.
pub const DEFAULT_FROM: &str = "Partnership map <partnership-map@localhost>";
/// Longest wait for the SMTP server at each step of one mail (connect, each command).
pub const SMTP_TIMEOUT: Duration = Duration::from_secs(20);
/// Longest failure reason kept, in characters.
const MAX_REASON: usize = 500;

/// Why the mail settings cannot be used (a startup and `check` error).
#[derive(Debug, thiserror::Error)]
pub enum MailConfigError {
    /// `--smtp-url` does not parse (the URL itself is not repeated: it may hold a password).
    #[error(
        "--smtp-url is not a usable SMTP URL (smtp://host:port, smtp://user:password@host:587?tls=required or smtps://…): {0}"
    )]
    Url(String),
    /// `--mail-from` is not an address.
    #[error("--mail-from {0:?} is not an address like \"Research team <team@example.org>\": {1}")]
    From(String, String),
    /// The template file cannot be read.
    #[error("--mail-template {0}: {1}")]
    Read(String, std::io::Error),
    /// The template has a mistake.
    #[error("--mail-template {0}:{1}: {2}")]
    Template(String, usize, String),
}

/// What a template can say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    LaName,
    LaCode,
    Link,
    Expires,
    ContactRole,
    Campaign,
}

impl Field {
    const ALL: [(&'static str, Self); 6] = [
        ("la_name", Self::LaName),
        ("la_code", Self::LaCode),
        ("link", Self::Link),
        ("expires", Self::Expires),
        ("contact_role", Self::ContactRole),
        ("campaign", Self::Campaign),
    ];

    fn known() -> String {
        Self::ALL
            .iter()
            .map(|(n, _)| format!("{{{n}}}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Field(Field),
}

/// A checked template: the subject and the body, each text and placeholders.
#[derive(Debug, Clone)]
pub struct Template {
    subject: Vec<Part>,
    body: Vec<Part>,
}

/// What one invitation mail says.
#[derive(Debug, Clone, Copy)]
pub struct Invite<'a> {
    /// The LA's name.
    pub la_name: &'a str,
    /// The LA's code.
    pub la_code: &'a str,
    /// The link (secret: never logged).
    pub link: &'a str,
    /// When the link stops working (RFC 3339 UTC; the mail says the day).
    pub expires_at: &'a str,
    /// The role the mail is addressed to.
    pub contact_role: &'a str,
    /// The campaign's name.
    pub campaign: &'a str,
}

/// `{name}` placeholders and `{{`/`}}` for braces, in one line (`line` counts from 1).
fn parse_line(text: &str, line: usize, out: &mut Vec<Part>) -> Result<(), (usize, String)> {
    let mut literal = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                literal.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                literal.push('}');
            }
            '{' => {
                let mut name = String::new();
                let mut closed = false;
                for c in chars.by_ref() {
                    if c == '}' {
                        closed = true;
                        break;
                    }
                    name.push(c);
                }
                if !closed {
                    return Err((
                        line,
                        "a { that is never closed (write {{ for a brace, {name} for a placeholder)"
                            .into(),
                    ));
                }
                let field = Field::ALL
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, f)| *f)
                    .ok_or_else(|| {
                        let shown: String = name.chars().take(40).collect();
                        (
                            line,
                            format!(
                                "unknown placeholder {{{shown}}} (known: {}; write {{{{ and }}}} for braces)",
                                Field::known()
                            ),
                        )
                    })?;
                if !literal.is_empty() {
                    out.push(Part::Text(std::mem::take(&mut literal)));
                }
                out.push(Part::Field(field));
            }
            '}' => {
                return Err((
                    line,
                    "a lone } (write }} for a brace, {name} for a placeholder)".into(),
                ));
            }
            c => literal.push(c),
        }
    }
    if !literal.is_empty() {
        out.push(Part::Text(literal));
    }
    Ok(())
}

impl Template {
    /// Check a template: the first line is `Subject: …`, then a blank line and the body,
    /// which must give `{link}`. Errors are `(line, what is wrong)`.
    ///
    /// # Errors
    /// The first mistake, with its line.
    pub fn parse(text: &str) -> Result<Self, (usize, String)> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut lines = text.lines();
        let first = lines.next().unwrap_or("");
        let subject_text = first
            .strip_prefix("Subject:")
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                (
                    1,
                    "the first line must be the subject, e.g. \"Subject: Please check {la_name}\""
                        .to_owned(),
                )
            })?;
        let mut subject = Vec::new();
        parse_line(subject_text, 1, &mut subject)?;
        if subject.contains(&Part::Field(Field::Link)) {
            return Err((1, "keep {link} out of the subject".into()));
        }
        match lines.next() {
            Some(l) if l.trim().is_empty() => {}
            _ => return Err((2, "leave a blank line after the subject".into())),
        }
        let mut body = Vec::new();
        let mut seen = false;
        for (i, l) in lines.enumerate() {
            if seen {
                body.push(Part::Text("\n".into()));
            }
            seen = true;
            parse_line(l, i + 3, &mut body)?;
        }
        if !body.contains(&Part::Field(Field::Link)) {
            return Err((
                3,
                "the body never gives {link}: the council could not open its page".into(),
            ));
        }
        Ok(Self { subject, body })
    }

    /// The shipped template.
    ///
    /// # Errors
    /// Only if the shipped file is broken (a test checks it is not).
    pub fn default_template() -> Result<Self, MailConfigError> {
        Self::parse(DEFAULT_TEMPLATE).map_err(|(line, m)| {
            MailConfigError::Template("templates/invitation.txt (built in)".into(), line, m)
        })
    }

    /// The template at `path`.
    ///
    /// # Errors
    /// It cannot be read, or has a mistake (`path:line: what`).
    pub fn load(path: &Path) -> Result<Self, MailConfigError> {
        let shown = path.display().to_string();
        let text =
            std::fs::read_to_string(path).map_err(|e| MailConfigError::Read(shown.clone(), e))?;
        Self::parse(&text).map_err(|(line, m)| MailConfigError::Template(shown, line, m))
    }

    /// `(subject, body)` for one invitation.
    #[must_use]
    pub fn render(&self, v: &Invite<'_>) -> (String, String) {
        let expires = chrono::DateTime::parse_from_rfc3339(v.expires_at).map_or_else(
            |_| v.expires_at.to_owned(),
            |t| t.format("%-d %B %Y").to_string(),
        );
        let fill = |parts: &[Part]| {
            let mut s = String::new();
            for p in parts {
                match p {
                    Part::Text(t) => s.push_str(t),
                    Part::Field(Field::LaName) => s.push_str(v.la_name),
                    Part::Field(Field::LaCode) => s.push_str(v.la_code),
                    Part::Field(Field::Link) => s.push_str(v.link),
                    Part::Field(Field::Expires) => s.push_str(&expires),
                    Part::Field(Field::ContactRole) => s.push_str(v.contact_role),
                    Part::Field(Field::Campaign) => s.push_str(v.campaign),
                }
            }
            s
        };
        (fill(&self.subject), fill(&self.body) + "\n")
    }
}

/// Sends invitation mails through one SMTP server.
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    template: Template,
}

impl std::fmt::Debug for Mailer {
    // The URL may hold a password: not shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer")
            .field("from", &self.from.to_string())
            .finish_non_exhaustive()
    }
}

impl Mailer {
    /// A mailer for `--smtp-url`, `--mail-from` and a checked template. Nothing is connected
    /// yet: an SMTP server that is down shows as failed mails, not as a startup error.
    ///
    /// # Errors
    /// A URL or address that does not parse.
    pub fn new(url: &str, from: &str, template: Template) -> Result<Self, MailConfigError> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| MailConfigError::Url(e.to_string().replace(url, "(the URL)")))?
            .timeout(Some(SMTP_TIMEOUT))
            .build();
        let from = from
            .parse::<Mailbox>()
            .map_err(|e| MailConfigError::From(from.to_owned(), e.to_string()))?;
        Ok(Self {
            transport,
            from,
            template,
        })
    }

    /// Send one invitation to `to`.
    ///
    /// # Errors
    /// Why it was not sent, in the SMTP server's words, without the address or the link.
    pub async fn send(&self, to: &str, v: &Invite<'_>) -> Result<(), String> {
        let clean = |e: &dyn std::fmt::Display| reason(&e.to_string(), &[to, v.link]);
        let rcpt = to
            .parse::<Mailbox>()
            .map_err(|_| "the recipient's address is not a valid email address".to_owned())?;
        let (subject, body) = self.template.render(v);
        let message = Message::builder()
            .from(self.from.clone())
            .to(rcpt)
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .body(body)
            .map_err(|e| clean(&e))?;
        match self.transport.send(message).await {
            Ok(_) => Ok(()),
            Err(e) => {
                // lettre's words include its source; deeper causes are added once each.
                let mut words = e.to_string();
                let mut source = std::error::Error::source(&e).and_then(std::error::Error::source);
                while let Some(s) = source {
                    let more = s.to_string();
                    if !words.contains(&more) {
                        words.push_str(": ");
                        words.push_str(&more);
                    }
                    source = std::error::Error::source(s);
                }
                Err(clean(&words))
            }
        }
    }
}

/// A failure reason fit to store, list and log: `secrets` (the address, the link) replaced,
/// control characters made spaces, at most [`MAX_REASON`] characters.
#[must_use]
pub fn reason(text: &str, secrets: &[&str]) -> String {
    let mut s = text.to_owned();
    for secret in secrets.iter().filter(|x| !x.is_empty()) {
        s = replace_ci(&s, secret, "(withheld)");
    }
    let s: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(MAX_REASON)
        .collect();
    let s = s.trim().to_owned();
    if s.is_empty() {
        "the SMTP server refused the mail without a reason".into()
    } else {
        s
    }
}

/// `s` with every `needle` (ASCII case-insensitively: addresses) replaced.
fn replace_ci(s: &str, needle: &str, with: &str) -> String {
    let (hay, pat) = (s.to_ascii_lowercase(), needle.to_ascii_lowercase());
    let mut out = String::with_capacity(s.len());
    let mut last = 0;
    for (at, _) in hay.match_indices(&pat) {
        if at >= last {
            out.push_str(&s[last..at]);
            out.push_str(with);
            last = at + pat.len();
        }
    }
    out.push_str(&s[last..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invite() -> Invite<'static> {
        Invite {
            la_name: "Plymouth",
            la_code: "E06000026",
            link: "http://x/verify/abc",
            expires_at: "2027-02-05T10:00:00Z",
            contact_role: "Lead for school improvement",
            campaign: "Autumn round",
        }
    }

    #[test]
    fn the_shipped_template_fills_every_placeholder() {
        let t = Template::default_template().expect("the shipped template parses");
        let (subject, body) = t.render(&invite());
        assert_eq!(
            subject,
            "Please check what the partnership map says about Plymouth"
        );
        assert!(body.contains("\nhttp://x/verify/abc\n"), "{body}");
        assert!(body.contains("5 February 2027"), "{body}");
        assert!(body.contains("Dear Lead for school improvement,"), "{body}");
        assert!(body.contains("(Autumn round)"), "{body}");
        assert!(!body.contains('{') && !body.contains('}'), "{body}");
    }

    #[test]
    fn template_mistakes_name_their_line() {
        let bad = |t: &str| Template::parse(t).expect_err(t);
        assert_eq!(bad("Dear {la_name}\n\n{link}").0, 1);
        let (line, m) = bad("Subject: Hi {la_name}\n\nGo to {link}\nSee {lnk} now");
        assert_eq!(line, 4);
        assert!(m.contains("unknown placeholder {lnk}"), "{m}");
        assert!(m.contains("{la_name}"), "{m}");
        assert_eq!(bad("Subject: Hi\nBody {link}").0, 2);
        let (_, m) = bad("Subject: Hi\n\nNo link here");
        assert!(m.contains("{link}"), "{m}");
        assert_eq!(bad("Subject: Hi\n\n{link} }").0, 3);
        assert!(
            bad("Subject: Hi\n\n{link}\n{la_name")
                .1
                .contains("never closed")
        );
        let t = Template::parse("Subject: {{x}} {la_code}\n\n{link}").expect("escapes");
        let (s, b) = t.render(&invite());
        assert_eq!(s, "{x} E06000026");
        assert_eq!(b, "http://x/verify/abc\n");
    }

    #[test]
    fn reasons_never_carry_the_address_or_the_link() {
        let r = reason(
            "permanent error (550): 5.1.1 <Officer@Council.gov.uk>: unknown; http://x/verify/abc\r\n",
            &["officer@council.gov.uk", "http://x/verify/abc"],
        );
        assert_eq!(
            r,
            "permanent error (550): 5.1.1 <(withheld)>: unknown; (withheld)"
        );
        assert!(reason(&"x".repeat(2000), &[]).chars().count() <= MAX_REASON);
    }

    #[test]
    fn bad_urls_and_senders_are_refused_without_echoing_the_url() {
        let t = Template::default_template().expect("template");
        let e = Mailer::new("not a url with secret", DEFAULT_FROM, t.clone())
            .expect_err("bad url")
            .to_string();
        assert!(!e.contains("secret"), "{e}");
        let e = Mailer::new("smtp://127.0.0.1:2525", "nobody", t.clone())
            .expect_err("bad from")
            .to_string();
        assert!(e.contains("--mail-from"), "{e}");
        assert!(Mailer::new("smtp://127.0.0.1:2525", DEFAULT_FROM, t).is_ok());
    }
}
