//! Verification invitations by email, end to end: the real binary with `--smtp-url` pointing at
//! a real local SMTP server (`python -m aiosmtpd` from the test venv, writing a Maildir) that
//! the test starts itself. A campaign for 3 LAs sends 3 mails; each is decoded (Python's
//! `mailbox`/`email`), and its link opened on the server shows that LA's verification page.
//! With the SMTP server down the campaign is still created, the 3 failures are listed with the
//! server's reason, and after the SMTP server is back a retry sends 3 mails with fresh, working
//! links (the unsent ones stop working). Neither addresses nor tokens reach the server's log.
//! On SQLite and PostgreSQL. Also: a bad template stops `check` and `serve` with its line, and
//! a server without `--smtp-url` refuses a retry with 409.

mod common;

use common::steward::{ASHA, Backend, app_with, call, json};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Plymouth, the LA the issue walks through.
const PLYMOUTH: &str = "E06000026";

/// Plymouth and the first two other LAs of the data file: code → name.
fn three_las() -> BTreeMap<String, String> {
    let rows = common::csv_rows("local_authorities.csv");
    let mut out: BTreeMap<String, String> = rows
        .iter()
        .filter(|r| r["code"] != PLYMOUTH)
        .take(2)
        .map(|r| (r["code"].clone(), r["name"].clone()))
        .collect();
    let plymouth = rows
        .iter()
        .find(|r| r["code"] == PLYMOUTH)
        .expect("Plymouth in the data");
    out.insert(PLYMOUTH.to_owned(), plymouth["name"].clone());
    out
}

/// The address the test gives each LA (what the mail must be sent to).
fn address(code: &str) -> String {
    format!("officer.{}@council.example.org", code.to_ascii_lowercase())
}

/// A real SMTP server on 127.0.0.1 writing every mail it receives to a Maildir.
struct Smtp {
    child: Child,
}

impl Smtp {
    /// `python -m aiosmtpd` on `port`, into `maildir`; panics (the test fails) when it does not
    /// answer within 20 s.
    fn start(port: u16, maildir: &Path) -> Self {
        let mut child = Command::new(common::venv_python())
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(maildir)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start python -m aiosmtpd (is aiosmtpd in the test venv?)");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
                // Wait for its greeting, so it is really an SMTP server that answers.
                use std::io::Read;
                s.set_read_timeout(Some(Duration::from_secs(5)))
                    .expect("timeout");
                let mut buf = [0u8; 64];
                let n = s.read(&mut buf).unwrap_or(0);
                assert!(
                    buf[..n].starts_with(b"220"),
                    "not an SMTP greeting: {:?}",
                    String::from_utf8_lossy(&buf[..n])
                );
                return Self { child };
            }
            if let Ok(Some(status)) = child.try_wait() {
                let mut err = String::new();
                if let Some(mut e) = child.stderr.take() {
                    let _ = std::io::Read::read_to_string(&mut e, &mut err);
                }
                panic!("aiosmtpd exited ({status}) before listening on {port}:\n{err}");
            }
            assert!(
                Instant::now() < deadline,
                "aiosmtpd did not listen on {port} within 20 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free loopback port (bound, then released).
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// One mail as received, decoded by Python's `mailbox` and `email`.
#[derive(Debug)]
struct Mail {
    /// The envelope recipient (aiosmtpd's `X-RcptTo`).
    rcpt: String,
    to: String,
    from: String,
    subject: String,
    content_type: String,
    body: String,
}

/// Every mail in `maildir`, decoded.
fn mails(maildir: &Path) -> Vec<Mail> {
    const READ: &str = r#"
import email.header, json, mailbox, sys
out = []
for _, m in mailbox.Maildir(sys.argv[1], create=False).items():
    payload = m.get_payload(decode=True)
    out.append({
        "rcpt": m["X-RcptTo"] or "",
        "to": m["To"] or "",
        "from": m["From"] or "",
        "subject": str(email.header.make_header(email.header.decode_header(m["Subject"] or ""))),
        "content_type": m.get_content_type(),
        "body": payload.decode(m.get_content_charset() or "us-ascii"),
    })
print(json.dumps(out))
"#;
    let out = Command::new(common::venv_python())
        .args(["-c", READ])
        .arg(maildir)
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "reading the Maildir failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("JSON from the reader");
    v.as_array()
        .expect("a list")
        .iter()
        .map(|m| {
            let s = |k: &str| m[k].as_str().expect("text").to_owned();
            Mail {
                rcpt: s("rcpt"),
                to: s("to"),
                from: s("from"),
                subject: s("subject"),
                content_type: s("content_type"),
                body: s("body"),
            }
        })
        .collect()
}

/// The `/verify/…` link in a mail's body (exactly one).
fn link_in(body: &str, base: &str) -> String {
    let links: Vec<&str> = body
        .split_whitespace()
        .filter(|w| w.starts_with(&format!("{base}/verify/")))
        .collect();
    assert_eq!(links.len(), 1, "one link in the mail:\n{body}");
    links[0].to_owned()
}

fn path_of(link: &str) -> String {
    let i = link.find("/verify/").expect("a verify link");
    link[i..].to_owned()
}

fn html_escaped(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Each mail goes to one of the LAs' addresses, reads as the template says, and its link opens
/// that LA's page on the server. Returns LA code → token.
fn check_mails(
    got: &[Mail],
    las: &BTreeMap<String, String>,
    server: &common::Server,
) -> BTreeMap<String, String> {
    assert_eq!(got.len(), las.len(), "one mail per LA: {got:#?}");
    let mut tokens = BTreeMap::new();
    for m in got {
        let (code, name) = las
            .iter()
            .find(|(code, _)| m.rcpt == address(code))
            .unwrap_or_else(|| panic!("a mail to an address no LA has: {:?}", m.rcpt));
        assert_eq!(m.to, address(code));
        assert!(
            m.from.contains("Research team") && m.from.ends_with("<research@map.example.org>"),
            "{}",
            m.from
        );
        assert_eq!(m.content_type, "text/plain");
        assert_eq!(
            m.subject,
            format!("Please check what the partnership map says about {name}")
        );
        assert!(
            m.body.contains(&format!("which is for {name} only")),
            "{}",
            m.body
        );
        assert!(m.body.contains("Mail test round"), "{}", m.body);
        let link = link_in(&m.body, &server.base);
        let page = common::http(server.addr(), "GET", &path_of(&link), &[], None);
        assert_eq!(page.status, 200, "{link}: {}", page.body);
        // That LA's page: its heading names it.
        let h1 = page
            .body
            .split("<h1>")
            .nth(1)
            .and_then(|h| h.split("</h1>").next())
            .unwrap_or_default();
        assert_eq!(
            h1,
            format!("Check what the map says about {}", html_escaped(name)),
            "the page of {code}"
        );
        let token = path_of(&link).trim_start_matches("/verify/").to_owned();
        assert!(
            tokens.insert(code.clone(), token).is_none(),
            "two mails to {code}"
        );
    }
    tokens
}

fn editor(server: &common::Server, method: &str, path: &str, body: Option<&Value>) -> common::Http {
    let auth = format!("Bearer {}", ASHA.1);
    common::http(
        server.addr(),
        method,
        path,
        &[("Authorization", &auth)],
        body.map(Value::to_string).as_deref(),
    )
}

/// `method path` as an editor, without a body: the JSON of its 200.
fn editor_ok(server: &common::Server, method: &str, path: &str) -> Value {
    let r = editor(server, method, path, None);
    assert_eq!(r.status, 200, "{method} {path}: {}", r.body);
    r.json()
}

/// Per LA code, the invitation as the campaign detail lists it.
fn invitations(campaign: &Value) -> BTreeMap<String, Value> {
    campaign["invitations"]
        .as_array()
        .expect("invitations")
        .iter()
        .map(|i| (i["la_code"].as_str().expect("code").to_owned(), i.clone()))
        .collect()
}

fn mailed_then_retried(backend: &Backend) {
    let las = three_las();
    let tmp = tempfile::tempdir().expect("tmp");
    let port = free_port();
    let first_box = tmp.path().join("first");
    let smtp = Smtp::start(port, &first_box);
    let args = backend.args();
    let smtp_url = format!("smtp://127.0.0.1:{port}");
    let mut server = common::start_zoom_8(
        [args[0].as_os_str(), args[1].as_os_str()],
        &[
            "--smtp-url",
            &smtp_url,
            "--mail-from",
            "Research team <research@map.example.org>",
        ],
        &[("PARTNERSHIP_MAP_ADMIN_TOKEN", ASHA.1)],
    );
    let recipients: BTreeMap<&String, String> = las.keys().map(|c| (c, address(c))).collect();
    // A campaign for the 3 LAs, each with its address: the API's answer (201).
    let create = |name: &str| {
        let body =
            json!({"name": name, "las": las.keys().collect::<Vec<_>>(), "recipients": recipients});
        let r = editor(&server, "POST", "/api/verification/campaigns", Some(&body));
        assert_eq!(r.status, 201, "{}", r.body);
        r.json()
    };

    // 1. The SMTP server is up: 3 mails, each with its LA's working link.
    let created = create("Mail test round");
    for (code, inv) in invitations(&created) {
        assert_eq!(inv["mail_status"], "sent", "{code}: {inv}");
        assert_eq!(inv["has_recipient"], true);
        assert!(inv["mail_error"].is_null(), "{inv}");
        assert!(inv["mailed_at"].as_str().is_some_and(|t| t.ends_with('Z')));
    }
    let tokens = check_mails(&mails(&first_box), &las, &server);
    for (code, inv) in invitations(&created) {
        assert_eq!(
            inv["link"].as_str().map(path_of),
            Some(format!("/verify/{}", tokens[&code])),
            "the mail carries the link the API issued for {code}"
        );
    }

    // 2. The SMTP server is down: the campaign is created all the same, the failures listed.
    smtp.stop();
    let down = create("Mail test round, SMTP down");
    let id = down["id"].as_i64().expect("id");
    let unsent: BTreeMap<String, String> = invitations(&down)
        .into_iter()
        .map(|(c, i)| (c, path_of(i["link"].as_str().expect("link"))))
        .collect();
    let detail = editor_ok(&server, "GET", &format!("/api/verification/campaigns/{id}"));
    assert_eq!(detail["counts"]["invited"], 3, "{detail}");
    assert_eq!(invitations(&detail).len(), 3);
    for (code, inv) in invitations(&detail) {
        assert_eq!(inv["mail_status"], "failed", "{code}: {inv}");
        let why = inv["mail_error"].as_str().expect("a reason");
        // The SMTP client's own words: the connection was refused.
        assert!(
            why.to_ascii_lowercase().contains("connection"),
            "{code}: {why}"
        );
        assert!(!why.contains(&address(&code)), "{why}");
        assert!(inv["link"].is_null(), "links are shown only once");
    }
    // (The unsent links are not opened here: a link the council has opened is in use, and a
    // retry leaves it alone rather than replace it.)

    // 3. The SMTP server is back: a retry sends 3 mails with fresh, working links.
    let second_box = tmp.path().join("second");
    let smtp = Smtp::start(port, &second_box);
    let retry_path = format!("/api/verification/campaigns/{id}/mail/retry");
    let retry = editor_ok(&server, "POST", &retry_path);
    assert_eq!(retry["retried"], 3, "{retry}");
    assert_eq!(retry["sent"], 3, "{retry}");
    assert_eq!(retry["failed"], 0, "{retry}");
    for (code, inv) in invitations(&retry["campaign"]) {
        assert_eq!(inv["mail_status"], "sent", "{code}: {inv}");
        assert!(inv["mail_error"].is_null(), "{inv}");
        assert_eq!(inv["status"], "invited");
    }
    let fresh = check_mails(&mails(&second_box), &las, &server);
    for (code, old) in &unsent {
        assert_ne!(old, &format!("/verify/{}", fresh[code]));
        let r = common::http(server.addr(), "GET", old, &[], None);
        assert_eq!(r.status, 404, "the unsent link of {code} stopped working");
    }
    // Nothing failed now: a second retry has nothing to do and sends nothing.
    assert_eq!(editor_ok(&server, "POST", &retry_path)["retried"], 0);
    assert_eq!(mails(&second_box).len(), 3);
    smtp.stop();

    // No address and no token in the server's log.
    std::thread::sleep(Duration::from_millis(300));
    let _ = server.child.kill();
    let _ = server.child.wait();
    let log = server.log();
    assert!(
        log.contains("verification invitation mailed"),
        "no mail logged:\n{log}"
    );
    assert!(log.contains("verification invitation not mailed"));
    for code in las.keys() {
        assert!(!log.contains(&address(code)), "an address is in the log");
    }
    for t in tokens.values().chain(fresh.values()) {
        assert!(!log.contains(t.as_str()), "a token is in the log");
    }
}

#[test]
fn sqlite_invitations_are_mailed_and_failures_retried() {
    mailed_then_retried(&Backend::sqlite());
}

#[test]
fn postgres_invitations_are_mailed_and_failures_retried() {
    mailed_then_retried(&Backend::postgres());
}

fn binary() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_partnership-map"));
    cmd.current_dir(common::repo());
    cmd
}

#[test]
fn a_template_with_a_mistake_stops_check_and_serve_with_its_line() {
    let tmp = tempfile::tempdir().expect("tmp");
    let bad: PathBuf = tmp.path().join("invitation.txt");
    std::fs::write(
        &bad,
        "Subject: Please check {la_name}\n\nOpen {link}\nby {expiry}\n",
    )
    .expect("write");
    let out = binary()
        .args(["check", "--mail-template"])
        .arg(&bad)
        .output()
        .expect("run check");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "check accepted a bad template");
    assert!(
        err.contains(&format!(
            "{}:4: unknown placeholder {{expiry}}",
            bad.display()
        )),
        "{err}"
    );
    let out = binary()
        .args([
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--smtp-url",
            "smtp://127.0.0.1:9",
        ])
        .arg("--db")
        .arg(tmp.path().join("pm.db"))
        .arg("--mail-template")
        .arg(&bad)
        .output()
        .expect("run serve");
    assert!(!out.status.success(), "serve started with a bad template");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("unknown placeholder {expiry}"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The shipped template passes, and check says nothing is mailed without --smtp-url.
    let out = binary().arg("check").output().expect("run check");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains("ok: invitation mail template (built in) (no --smtp-url: nothing is mailed)")
    );
}

#[tokio::test]
async fn without_smtp_nothing_is_mailed_and_a_retry_is_refused() {
    let backend = Backend::sqlite();
    let (app, _) = app_with(backend.store().await, |_| {}).await;
    let r = call(
        &app,
        "POST",
        "/api/verification/campaigns",
        Some(ASHA.1),
        Some(&json!({"name": "No mail", "las": [PLYMOUTH], "recipients": {PLYMOUTH: address(PLYMOUTH)}})),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let c = json(&r);
    let inv = &c["invitations"][0];
    assert_eq!(inv["has_recipient"], true);
    assert_eq!(inv["mail_status"], "not_sent");
    let id = c["id"].as_i64().expect("id");
    let r = call(
        &app,
        "POST",
        &format!("/api/verification/campaigns/{id}/mail/retry"),
        Some(ASHA.1),
        None,
    )
    .await;
    assert_eq!(r.status, 409, "{}", r.text());
    assert!(
        json(&r)["error"]
            .as_str()
            .is_some_and(|e| e.contains("--smtp-url"))
    );
    let r = call(
        &app,
        "POST",
        "/api/verification/campaigns/999999/mail/retry",
        Some(ASHA.1),
        None,
    )
    .await;
    assert_eq!(r.status, 404, "{}", r.text());
    let r = call(
        &app,
        "POST",
        &format!("/api/verification/campaigns/{id}/mail/retry"),
        None,
        None,
    )
    .await;
    assert_eq!(r.status, 401);
}
