//! LAs verify their own summaries: a campaign from creation to an accepted verification, on
//! SQLite and on PostgreSQL (the `contract!` macro runs each case on both stores). Counts per
//! status after each step; the link rules (mistyped 404; expired, revoked and settled 410, each
//! a page without data); answers shared between two servers on one database; the mail merge and
//! the CSVs without personal data; the officer's name kept out of the public history, feeds and
//! APIs; and, with the real binary, no token in the request log.

mod common;

use axum::body::Body;
use common::Resp;
use common::steward::{ASHA, Backend, app_with, call, json, send};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// Plymouth, the LA the issue walks through.
const PLYMOUTH: &str = "E06000026";
const OFFICER: &str = "Sam Quintrell-Officer";
const JOB: &str = "Head of Education Partnerships";

/// Plymouth and the first two other LAs of the data file, in the file's order.
fn three_las() -> Vec<String> {
    let rows = common::csv_rows("local_authorities.csv");
    let mut out: Vec<String> = rows
        .iter()
        .map(|r| r["code"].clone())
        .filter(|c| c != PLYMOUTH)
        .take(2)
        .collect();
    out.push(PLYMOUTH.to_owned());
    // The campaign lists LAs in the data file's order.
    let order: Vec<String> = rows.iter().map(|r| r["code"].clone()).collect();
    out.sort_by_key(|c| order.iter().position(|o| o == c));
    out
}

fn la_name(code: &str) -> String {
    common::csv_rows("local_authorities.csv")
        .into_iter()
        .find(|r| r["code"] == code)
        .map(|r| r["name"].clone())
        .expect("LA in the data")
}

/// The form keys of what the page asks Plymouth about, read from the data files: `role`,
/// then `p:<id>` for each of its partnerships, in file order.
fn plymouth_items() -> Vec<String> {
    let name = la_name(PLYMOUTH);
    let mut out = vec!["role".to_owned()];
    for r in common::csv_rows("partnerships.csv") {
        if common::split(&r["la_names"]).contains(&name) {
            out.push(format!("p:{}", r["id"]));
        }
    }
    out
}

async fn form(app: &axum::Router, path: &str, pairs: &[(String, String)]) -> Resp {
    let body = serde_urlencoded::to_string(pairs).expect("form");
    let req = axum::http::Request::builder()
        .method("POST")
        .uri(path)
        .header("host", "127.0.0.1:8080")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(body))
        .expect("request");
    send(app, req).await
}

/// `GET path` as editor Asha: the JSON.
async fn editor_get(app: &axum::Router, path: &str) -> Value {
    let r = call(app, "GET", path, Some(ASHA.1), None).await;
    assert_eq!(r.status, 200, "{path}: {}", r.text());
    json(&r)
}

/// A complete answer for Plymouth: every item correct but `change` (asked to change).
fn answer(items: &[String], change: Option<&str>) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for k in items {
        if Some(k.as_str()) == change {
            out.push((format!("answer-{k}"), "change".to_owned()));
            out.push((
                format!("message-{k}"),
                "The partnership has a new website: https://example.org/plp".to_owned(),
            ));
        } else {
            out.push((format!("answer-{k}"), "correct".to_owned()));
        }
    }
    out.push(("name".into(), OFFICER.into()));
    out.push(("job_title".into(), JOB.into()));
    out.push(("consent".into(), "true".into()));
    out
}

fn path_of(link: &str) -> String {
    let i = link.find("/verify/").expect("a verify link");
    link[i..].to_owned()
}

async fn campaign(app: &axum::Router, id: i64) -> Value {
    editor_get(app, &format!("/api/verification/campaigns/{id}")).await
}

/// The counts of a campaign, only those above zero.
async fn counts(app: &axum::Router, id: i64) -> BTreeMap<String, u64> {
    let c = campaign(app, id).await;
    let all = c["counts"].as_object().expect("counts");
    assert_eq!(all.len(), 7, "every status is counted: {all:?}");
    all.iter()
        .filter(|(_, v)| v.as_u64() != Some(0))
        .map(|(k, v)| (k.clone(), v.as_u64().expect("count")))
        .collect()
}

fn want(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
}

async fn metrics_counts(app: &axum::Router, id: i64) -> BTreeMap<String, u64> {
    let r = call(app, "GET", "/metrics", None, None).await;
    assert_eq!(r.status, 200);
    let text = r.text();
    let scrape =
        prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).expect("parse");
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == "verification_invitations")
        .filter(|s| s.labels.get("campaign") == Some(&id.to_string()))
        .filter_map(|s| match s.value {
            prometheus_parse::Value::Gauge(v) if v > 0.0 => {
                Some((s.labels.get("status").expect("status").to_owned(), v as u64))
            }
            _ => None,
        })
        .collect()
}

/// Move an invitation's expiry into the past, as time passing would.
async fn expire(backend: &Backend, invitation: i64) {
    match backend {
        Backend::Sqlite(dir) => {
            let c = rusqlite::Connection::open(dir.path().join("pm.db")).expect("open");
            c.execute(
                "UPDATE verification_invitations SET expires_at = '2000-01-01T00:00:00Z' WHERE id = ?1",
                [invitation],
            )
            .expect("expire");
        }
        Backend::Postgres(url) => {
            let pg = partnership_map::store::PostgresStore::connect(url)
                .await
                .expect("pg");
            sqlx::query("UPDATE verification_invitations SET expires_at = '2000-01-01T00:00:00Z' WHERE id = $1")
                .bind(invitation)
                .execute(pg.pool())
                .await
                .expect("expire");
        }
    }
}

fn invitation_of<'a>(c: &'a Value, code: &str) -> &'a Value {
    c["invitations"]
        .as_array()
        .expect("invitations")
        .iter()
        .find(|i| i["la_code"] == code)
        .expect("invitation")
}

/// A link page that shows no data: no LA name, no partnership, no form.
fn no_data(r: &Resp, names: &[String]) {
    let t = r.text();
    for n in names {
        assert!(!t.contains(n.as_str()), "{n} shown on a refused link: {t}");
    }
    assert!(!t.contains("<form"), "a form on a refused link");
}

async fn a_round_from_invitation_to_verified_counts_every_step(backend: Backend) {
    let (app, _) = app_with(backend.store().await, |c| {
        c.metrics = partnership_map::config::MetricsBind::Main;
    })
    .await;
    let las = three_las();
    let names: Vec<String> = las.iter().map(|c| la_name(c)).collect();

    // Create: three invitations, each with a link shown this once.
    let r = call(
        &app,
        "POST",
        "/api/verification/campaigns",
        Some(ASHA.1),
        Some(&json!({"name": "Autumn round", "las": las})),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let created = json(&r);
    let id = created["id"].as_i64().expect("id");
    assert_eq!(created["created_by"], ASHA.0);
    let codes: Vec<&str> = created["invitations"]
        .as_array()
        .expect("invitations")
        .iter()
        .map(|i| i["la_code"].as_str().expect("code"))
        .collect();
    assert_eq!(codes, las);
    assert_eq!(counts(&app, id).await, want(&[("invited", 3)]));
    assert_eq!(metrics_counts(&app, id).await, want(&[("invited", 3)]));
    let link = invitation_of(&created, PLYMOUTH)["link"]
        .as_str()
        .expect("link")
        .to_owned();
    assert!(link.starts_with("http://127.0.0.1:8080/verify/"), "{link}");
    // Links are not stored: a later read has none.
    assert!(
        invitation_of(&campaign(&app, id).await, PLYMOUTH)
            .get("link")
            .is_none()
    );
    let path = path_of(&link);

    // Open: the page shows what the map says about Plymouth, every item with a choice.
    let page = call(&app, "GET", &path, None, None).await;
    assert_eq!(page.status, 200, "{}", page.text());
    let html = page.text();
    assert!(html.contains(&la_name(PLYMOUTH)));
    let items = plymouth_items();
    for k in &items {
        for v in ["correct", "change", "gone"] {
            assert!(
                html.contains(&format!("name=\"answer-{k}\""))
                    && html.contains(&format!("value=\"{v}\"")),
                "no {v} choice for {k}"
            );
        }
    }
    for r in common::csv_rows("partnerships.csv") {
        if common::split(&r["la_names"]).contains(&la_name(PLYMOUTH)) {
            assert!(
                html.contains(&maud::html! { (r["name"]) }.into_string()),
                "{} missing",
                r["name"]
            );
            for u in common::split(&r["source_urls"]) {
                assert!(
                    html.contains(&maud::html! { (u) }.into_string()),
                    "source {u} missing"
                );
            }
        }
    }
    assert_eq!(html.matches("<main").count(), 1);
    assert_eq!(
        counts(&app, id).await,
        want(&[("invited", 2), ("opened", 1)])
    );

    // An incomplete answer: the form again, a message per field; nothing stored.
    let bad = form(&app, &path, &[("answer-role".into(), "change".into())]).await;
    assert_eq!(bad.status, 400, "{}", bad.text());
    let t = bad.text();
    for needle in [
        "at least 10 characters",
        "Give your name",
        "Give your role",
        "consent",
    ] {
        assert!(t.contains(needle), "{needle} missing from the refusal");
    }
    assert_eq!(
        counts(&app, id).await,
        want(&[("invited", 2), ("opened", 1)])
    );

    // A complete answer asking for one change.
    let change = items.get(2).cloned().unwrap_or_else(|| items[0].clone());
    let ok = form(&app, &path, &answer(&items, Some(&change))).await;
    assert_eq!(ok.status, 201, "{}", ok.text());
    let reference = ok
        .text()
        .split("id=\"reference\">")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .expect("reference")
        .to_owned();
    assert!(reference.starts_with("VR-"), "{reference}");
    assert_eq!(
        counts(&app, id).await,
        want(&[("invited", 2), ("responded", 1)])
    );
    assert_eq!(
        metrics_counts(&app, id).await,
        want(&[("invited", 2), ("responded", 1)])
    );

    // The review: side by side, the requested change with its editor link.
    let review = editor_get(&app, &format!("/api/verification/responses/{reference}")).await;
    assert_eq!(review["all_confirmed"], false);
    assert_eq!(review["requested_changes"], 1);
    assert_eq!(review["answer"]["name"], OFFICER);
    let asked: Vec<&Value> = review["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|i| i["verdict"] == "change")
        .collect();
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0]["key"], change.as_str());
    let editor_link = asked[0]["editor_link"].as_str().expect("editor link");
    assert!(
        editor_link.contains(&format!("verification={reference}")),
        "{editor_link}"
    );

    // Accepting while a change is outstanding is refused.
    let accept = format!("/api/verification/responses/{reference}/accept");
    let r = call(&app, "POST", &accept, Some(ASHA.1), Some(&json!({}))).await;
    assert_eq!(r.status, 409, "{}", r.text());

    // The change applied through the editor, linked to the response.
    let edit = if let Some(p) = change.strip_prefix("p:") {
        json!({"kind": "partnership.update", "id": p, "fields": {"website": "https://example.org/plp"}, "reason": "The LA gave the new website in its verification.", "verification": reference})
    } else {
        json!({"kind": "la_role.set", "la": PLYMOUTH, "fields": {"summary": "Updated summary from the LA's verification."}, "reason": "The LA corrected its summary in its verification.", "verification": reference})
    };
    let r = call(&app, "POST", "/api/admin/edits", Some(ASHA.1), Some(&edit)).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let applied = json(&r)["change"].as_i64().expect("change");
    assert_eq!(
        counts(&app, id).await,
        want(&[("invited", 2), ("responded", 1)])
    );

    // An edit's reason naming the officer is refused (the history is public).
    let named = json!({"kind": "la_role.set", "la": PLYMOUTH, "fields": {"summary": "x y z summary"}, "reason": format!("As {OFFICER} told us"), "verification": reference});
    let r = call(&app, "POST", "/api/admin/edits", Some(ASHA.1), Some(&named)).await;
    assert_eq!(r.status, 422, "{}", r.text());
    assert!(json(&r)["fields"]["reason"].is_string());

    // Accept: la.verify dated on the answer, linked to the response.
    let r = call(
        &app,
        "POST",
        &accept,
        Some(ASHA.1),
        Some(&json!({"changes_handled": true})),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let verify_change = json(&r)["change"].as_i64().expect("change");
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    assert_eq!(json(&r)["body"]["date"], today.as_str());
    assert_eq!(
        counts(&app, id).await,
        want(&[("invited", 2), ("verified", 1)])
    );
    assert_eq!(
        metrics_counts(&app, id).await,
        want(&[("invited", 2), ("verified", 1)])
    );
    let settled = editor_get(&app, &format!("/api/verification/responses/{reference}")).await;
    assert_eq!(settled["answer"]["outcome"], "verified");
    assert_eq!(
        settled["answer"]["changes"],
        json!([applied, verify_change])
    );
    // The admin log links both changes to the response, as submissions are linked.
    let log = editor_get(&app, "/api/admin/changes").await;
    let linked: Vec<i64> = log["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .filter(|c| c["verification"] == settled["answer"]["id"])
        .map(|c| c["id"].as_i64().expect("id"))
        .collect();
    assert_eq!(linked, [verify_change, applied]);

    // Public: verified with the date, in the API and the history; no officer anywhere.
    let la = json(&call(&app, "GET", &format!("/api/las/{PLYMOUTH}"), None, None).await);
    assert_eq!(la["local_authority"]["verified"], true);
    assert_eq!(la["local_authority"]["verified_date"], today.as_str());
    let v = json(
        &call(
            &app,
            "GET",
            &format!("/api/las/{PLYMOUTH}/verification"),
            None,
            None,
        )
        .await,
    );
    assert_eq!(v["verified"], true);
    assert_eq!(v["verified_date"], today.as_str());
    let history = call(
        &app,
        "GET",
        &format!("/api/changes?la={PLYMOUTH}"),
        None,
        None,
    )
    .await;
    let h = json(&history);
    assert!(
        h["changes"]
            .as_array()
            .expect("changes")
            .iter()
            .any(|c| c["kind"] == "la.verify" && c["id"] == verify_change)
    );
    let feed = call(
        &app,
        "GET",
        &format!("/changes.atom?la={PLYMOUTH}"),
        None,
        None,
    )
    .await;
    assert!(
        feed.text()
            .contains(&format!("verified by the LA on {today}"))
    );
    for public in [
        history.text(),
        feed.text(),
        call(&app, "GET", "/api/changes", None, None).await.text(),
        call(&app, "GET", &format!("/api/las/{PLYMOUTH}"), None, None)
            .await
            .text(),
        call(&app, "GET", "/api/las", None, None).await.text(),
    ] {
        for secret in [OFFICER, JOB, reference.as_str()] {
            assert!(!public.contains(secret), "{secret} is public");
        }
    }

    // Reused after settled: 410, no data, on both GET and POST.
    let gone = call(&app, "GET", &path, None, None).await;
    assert_eq!(gone.status, 410);
    no_data(&gone, &names);
    let again = form(&app, &path, &answer(&items, None)).await;
    assert_eq!(again.status, 410);
    no_data(&again, &names);

    // Revoked: 410.
    let c = campaign(&app, id).await;
    let second = invitation_of(&c, &las[0])["id"].as_i64().expect("id");
    let r = call(
        &app,
        "POST",
        &format!("/api/verification/invitations/{second}/revoke"),
        Some(ASHA.1),
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(json(&r)["status"], "revoked");
    let revoked_link = invitation_of(&created, &las[0])["link"]
        .as_str()
        .expect("link")
        .to_owned();
    let r = call(&app, "GET", &path_of(&revoked_link), None, None).await;
    assert_eq!(r.status, 410);
    no_data(&r, &names);
    assert_eq!(
        counts(&app, id).await,
        want(&[("invited", 1), ("revoked", 1), ("verified", 1)])
    );

    // Expired: 410.
    let third_code = las
        .iter()
        .find(|c| *c != PLYMOUTH && *c != &las[0])
        .expect("third");
    let third = invitation_of(&c, third_code)["id"].as_i64().expect("id");
    expire(&backend, third).await;
    let third_link = invitation_of(&created, third_code)["link"]
        .as_str()
        .expect("link")
        .to_owned();
    let r = call(&app, "GET", &path_of(&third_link), None, None).await;
    assert_eq!(r.status, 410);
    no_data(&r, &names);
    assert_eq!(
        counts(&app, id).await,
        want(&[("expired", 1), ("revoked", 1), ("verified", 1)])
    );
    assert_eq!(
        metrics_counts(&app, id).await,
        want(&[("expired", 1), ("revoked", 1), ("verified", 1)])
    );

    // Mistyped: 404, whether it could be a token or not.
    let mut typo = path.clone();
    let last = typo.pop().expect("char");
    typo.push(if last == 'A' { 'B' } else { 'A' });
    for bad in [typo.as_str(), "/verify/not-a-token", "/verify/"] {
        let r = call(&app, "GET", bad, None, None).await;
        assert_eq!(r.status, 404, "{bad}");
        no_data(&r, &names);
    }

    // The CSVs: statuses and reminders, with no personal data.
    let r = call(
        &app,
        "GET",
        &format!("/api/verification/campaigns/{id}/status.csv"),
        Some(ASHA.1),
        None,
    )
    .await;
    assert_eq!(r.status, 200);
    assert!(
        r.header("content-type")
            .unwrap_or("")
            .starts_with("text/csv")
    );
    let status_text = r.text();
    let rows = common::csv_text_rows(&status_text);
    let by_code: BTreeMap<&str, &BTreeMap<String, String>> =
        rows.iter().map(|r| (r["la_code"].as_str(), r)).collect();
    assert_eq!(by_code[PLYMOUTH]["status"], "verified");
    assert_eq!(by_code[PLYMOUTH]["response"], reference);
    assert_eq!(by_code[las[0].as_str()]["status"], "revoked");
    assert_eq!(by_code[third_code.as_str()]["status"], "expired");
    let r = call(
        &app,
        "GET",
        &format!("/api/verification/campaigns/{id}/reminders.csv"),
        Some(ASHA.1),
        None,
    )
    .await;
    let reminders = common::csv_text_rows(&r.text());
    let codes: Vec<&str> = reminders.iter().map(|r| r["la_code"].as_str()).collect();
    assert_eq!(codes, [third_code.as_str()]);
    for csv in [status_text, r.text()] {
        assert!(!csv.contains(OFFICER) && !csv.contains(JOB));
    }
}

async fn the_mail_merge_and_fresh_links_work_and_old_links_stop(backend: Backend) {
    let (app, _) = app_with(backend.store().await, |_| {}).await;
    let las = three_las();
    let r = call(
        &app,
        "POST",
        "/api/verification/campaigns?format=csv",
        Some(ASHA.1),
        Some(&json!({"name": "Mail merge", "las": las, "contact_role": "Director of Education", "expires_in_days": 30})),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert!(
        r.header("content-type")
            .unwrap_or("")
            .starts_with("text/csv")
    );
    let rows = common::csv_text_rows(&r.text());
    assert_eq!(rows.len(), 3);
    let in_30_days = (chrono::Utc::now() + chrono::Duration::days(30))
        .format("%Y-%m-%d")
        .to_string();
    for (row, code) in rows.iter().zip(&las) {
        assert_eq!(
            row.keys().map(String::as_str).collect::<Vec<_>>(),
            ["contact_role", "expires", "la_code", "la_name", "link"]
        );
        assert_eq!(&row["la_code"], code);
        assert_eq!(row["la_name"], la_name(code));
        assert_eq!(row["contact_role"], "Director of Education");
        assert_eq!(row["expires"], in_30_days);
        let page = call(&app, "GET", &path_of(&row["link"]), None, None).await;
        assert_eq!(page.status, 200, "{}", row["link"]);
        assert!(page.text().contains(&la_name(code)));
    }
    let id = json(
        &call(
            &app,
            "GET",
            "/api/verification/campaigns",
            Some(ASHA.1),
            None,
        )
        .await,
    )["campaigns"][0]["id"]
        .as_i64()
        .expect("id");

    // Lost the mail merge: fresh links for every LA still waiting; the old ones stop working.
    let r = call(
        &app,
        "POST",
        &format!("/api/verification/campaigns/{id}/links?format=csv"),
        Some(ASHA.1),
        Some(&json!({})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let fresh = common::csv_text_rows(&r.text());
    assert_eq!(fresh.len(), 3);
    for (old, new) in rows.iter().zip(&fresh) {
        assert_ne!(old["link"], new["link"]);
        assert_eq!(
            call(&app, "GET", &path_of(&old["link"]), None, None)
                .await
                .status,
            404
        );
        assert_eq!(
            call(&app, "GET", &path_of(&new["link"]), None, None)
                .await
                .status,
            200
        );
    }

    // A campaign request with problems names each field.
    let r = call(
        &app,
        "POST",
        "/api/verification/campaigns",
        Some(ASHA.1),
        Some(&json!({"las": ["E99999999"], "expires_in_days": 0, "recipients": {"E06000026": "nope"}, "colour": 1})),
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.text());
    let fields = json(&r)["fields"].clone();
    for f in ["name", "las", "expires_in_days", "colour"] {
        assert!(fields[f].is_string(), "{f}: {fields}");
    }
    // Without a token: 401.
    let r = call(&app, "GET", "/api/verification/campaigns", None, None).await;
    assert_eq!(r.status, 401);
}

async fn an_answer_sent_to_one_server_is_seen_by_another_and_updates_until_settled(
    backend: Backend,
) {
    let (a, _) = app_with(backend.store().await, |_| {}).await;
    let (b, _) = app_with(backend.store().await, |_| {}).await;
    let r = call(
        &a,
        "POST",
        "/api/verification/campaigns",
        Some(ASHA.1),
        Some(&json!({"name": "Replicas", "las": [PLYMOUTH]})),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let c = json(&r);
    let id = c["id"].as_i64().expect("id");
    let path = path_of(c["invitations"][0]["link"].as_str().expect("link"));
    let items = plymouth_items();

    // Opened on B, answered on A: B's review queue has it.
    assert_eq!(call(&b, "GET", &path, None, None).await.status, 200);
    let first = form(&a, &path, &answer(&items, None)).await;
    assert_eq!(first.status, 201, "{}", first.text());
    let open = editor_get(&b, "/api/verification/responses").await;
    assert_eq!(open["responses"].as_array().expect("list").len(), 1);
    assert_eq!(open["responses"][0]["all_confirmed"], true);
    let reference = open["responses"][0]["answer"]["reference"]
        .as_str()
        .expect("reference")
        .to_owned();
    assert_eq!(counts(&b, id).await, want(&[("responded", 1)]));

    // The same link changes the answer (one response, updated) while it is open.
    let page = call(&b, "GET", &path, None, None).await;
    assert!(page.text().contains("You answered on"));
    let second = form(&b, &path, &answer(&items, Some(&items[0]))).await;
    assert_eq!(second.status, 201, "{}", second.text());
    assert!(second.text().contains(&reference));
    let r = editor_get(&a, &format!("/api/verification/responses/{reference}")).await;
    assert_eq!(r["requested_changes"], 1);

    // Closed without a verification on A: the link is settled on B, the LA is not verified.
    let r = call(
        &a,
        "POST",
        &format!("/api/verification/responses/{reference}/close"),
        Some(ASHA.1),
        Some(&json!({"note": "Asked for a call instead"})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(json(&r)["answer"]["outcome"], "closed");
    assert_eq!(call(&b, "GET", &path, None, None).await.status, 410);
    assert_eq!(counts(&b, id).await, want(&[("closed", 1)]));
    let la = json(&call(&b, "GET", &format!("/api/las/{PLYMOUTH}"), None, None).await);
    assert_eq!(la["local_authority"]["verified"], false);
    let r = call(
        &b,
        "POST",
        &format!("/api/verification/responses/{reference}/accept"),
        Some(ASHA.1),
        Some(&json!({"changes_handled": true})),
    )
    .await;
    assert_eq!(r.status, 409, "{}", r.text());
    let open = editor_get(&b, "/api/verification/responses").await;
    assert_eq!(open["responses"].as_array().expect("list").len(), 0);
    let last = json(
        &call(
            &b,
            "GET",
            &format!("/api/las/{PLYMOUTH}/verification"),
            None,
            None,
        )
        .await,
    );
    assert!(last["last_invited"].as_str().is_some_and(|t| t.len() >= 10));
}

async fn answers_are_rate_limited_like_submissions(backend: Backend) {
    let (app, _) = app_with(backend.store().await, |c| {
        c.submissions_per_hour = std::num::NonZeroU32::new(2).expect("2");
    })
    .await;
    let r = call(
        &app,
        "POST",
        "/api/verification/campaigns",
        Some(ASHA.1),
        Some(&json!({"name": "Limit", "las": [PLYMOUTH]})),
    )
    .await;
    let path = path_of(json(&r)["invitations"][0]["link"].as_str().expect("link"));
    let items = plymouth_items();
    for _ in 0..2 {
        assert_eq!(form(&app, &path, &answer(&items, None)).await.status, 201);
    }
    let r = form(&app, &path, &answer(&items, None)).await;
    assert_eq!(r.status, 429);
    assert!(
        r.header("retry-after")
            .is_some_and(|s| s.parse::<u64>().is_ok())
    );
    assert!(r.text().contains("Too many answers"));
}

/// The real binary: a round through its socket, then its log holds no token.
fn tokens_never_reach_the_log(backend: &Backend) {
    let args = backend.args();
    let mut server = common::start_zoom_8(
        [args[0].as_os_str(), args[1].as_os_str()],
        &[],
        &[("PARTNERSHIP_MAP_ADMIN_TOKEN", ASHA.1)],
    );
    let auth = format!("Bearer {}", ASHA.1);
    let r = common::http(
        server.addr(),
        "POST",
        "/api/verification/campaigns",
        &[("Authorization", &auth)],
        Some(&json!({"name": "Logs", "las": [PLYMOUTH]}).to_string()),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let link = r.json()["invitations"][0]["link"]
        .as_str()
        .expect("link")
        .to_owned();
    let path = path_of(&link);
    let token = path.trim_start_matches("/verify/").to_owned();
    assert_eq!(
        common::http(server.addr(), "GET", &path, &[], None).status,
        200
    );
    let mut typo = token.clone();
    typo.replace_range(0..1, if typo.starts_with('A') { "B" } else { "A" });
    assert_eq!(
        common::http(server.addr(), "GET", &format!("/verify/{typo}"), &[], None).status,
        404
    );
    // Let the log writer flush its batch, then stop the server and read everything it logged.
    std::thread::sleep(std::time::Duration::from_millis(300));
    let _ = server.child.kill();
    let _ = server.child.wait();
    let log = server.log();
    assert!(
        log.contains("/verify/{token}"),
        "no verify request logged:\n{log}"
    );
    assert!(!log.contains(&token), "the token is in the log");
    assert!(!log.contains(&typo), "a mistyped token is in the log");
}

macro_rules! contract {
    ($backend:ident, $make:expr) => {
        mod $backend {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn a_round_from_invitation_to_verified_counts_every_step() {
                super::a_round_from_invitation_to_verified_counts_every_step($make).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn the_mail_merge_and_fresh_links_work_and_old_links_stop() {
                super::the_mail_merge_and_fresh_links_work_and_old_links_stop($make).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn an_answer_sent_to_one_server_is_seen_by_another_and_updates_until_settled() {
                super::an_answer_sent_to_one_server_is_seen_by_another_and_updates_until_settled(
                    $make,
                )
                .await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn answers_are_rate_limited_like_submissions() {
                super::answers_are_rate_limited_like_submissions($make).await;
            }
            #[test]
            fn tokens_never_reach_the_log() {
                super::tokens_never_reach_the_log(&$make);
            }
        }
    };
}

contract!(sqlite, Backend::sqlite());
contract!(postgres, Backend::postgres());
