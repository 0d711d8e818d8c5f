//! Data stewardship, one suite for every store: every kind of change published at once, every
//! rejection, undo, the public history and feed without personal data, concurrent edits, the
//! submissions they settle, durability and export. `contract!` runs each case on SQLite and on
//! PostgreSQL (the cluster `scripts/test.sh` starts).

mod common;

use std::collections::BTreeSet;

use common::steward::{ASHA, BEN, Backend, app, call, edit, json, version};
use serde_json::{Value, json};

const HULL: &str = "E06000010";
const NEWCASTLE: &str = "E08000021";
const ROTHERHAM: &str = "E08000018";
const PLYMOUTH: &str = "E06000026";

fn new_partnership(id: &str) -> Value {
    json!({
        "id": id,
        "name": "Hull Test Reading Network",
        "la_codes": [HULL],
        "form": "school_led_network",
        "phases": ["primary"],
        "focus": ["literacy", "school_improvement"],
        "la_involvement": "member",
        "legal_form": "unknown",
        "membership": "twelve primary schools",
        "founded": 2019,
        "website": "",
        "source_urls": ["https://www.example.org/hull-reading"],
        "evidence_date": "2024",
        "notes": "Added by the stewardship test."
    })
}

/// The `partnership_count` of `code` in the z10 tile holding its label, and that tile's ETag.
async fn tile_count(app: &axum::Router, code: &str) -> (u64, String) {
    let las = json(&call(app, "GET", "/api/las", None, None).await);
    let la = las["local_authorities"]
        .as_array()
        .expect("las")
        .iter()
        .find(|l| l["code"] == code)
        .expect("LA")
        .clone();
    let (lon, lat) = (
        la["label"][0].as_f64().expect("lon"),
        la["label"][1].as_f64().expect("lat"),
    );
    let t = partnership_map::tile::TileCoord::containing(
        partnership_map::tile::lonlat_to_merc(lon, lat),
        10,
    );
    let r = call(
        app,
        "GET",
        &format!("/tiles/10/{}/{}.pbf", t.x, t.y),
        None,
        None,
    )
    .await;
    assert_eq!(r.status, 200);
    let etag = r.header("etag").expect("etag").to_owned();
    let layers = common::mvt::decode(&r.body);
    let f = layers["local_authorities"]
        .features
        .iter()
        .find(|f| f.str("code") == code)
        .expect("LA in its tile");
    match f.props["partnership_count"] {
        common::mvt::Val::Uint(n) => (n, etag),
        ref other => panic!("{other:?}"),
    }
}

async fn panel(app: &axum::Router, code: &str) -> Value {
    json(&call(app, "GET", &format!("/api/las/{code}"), None, None).await)
}

/// 201 with a change id and the new data version, which `/health` and TileJSON already serve.
async fn published(app: &axum::Router, body: &Value) -> (i64, String) {
    let before = version(app).await;
    let r = edit(app, body).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let v = json(&r);
    let id = v["change"].as_i64().expect("change id");
    let now = v["data_version"].as_str().expect("version").to_owned();
    assert_ne!(now, before, "the version moves");
    assert_eq!(version(app).await, now, "live before the 201");
    let tj = json(&call(app, "GET", "/tiles.json", None, None).await);
    assert_eq!(tj["data_version"], now.as_str());
    (id, now)
}

async fn each_kind_of_change_is_published_at_once(b: Backend) {
    let (app, _) = app(b.store().await).await;

    // partnership.create
    let (hull_before, etag_before) = tile_count(&app, HULL).await;
    let (c1, v1) = published(
        &app,
        &json!({"kind": "partnership.create", "partnership": new_partnership("hull-test-reading-network"), "reason": "Found on the council's site."}),
    )
    .await;
    assert_eq!(c1, 1);
    let (hull_after, etag_after) = tile_count(&app, HULL).await;
    assert_eq!(
        hull_after,
        hull_before + 1,
        "the tile counts the new partnership"
    );
    assert_ne!(etag_after, etag_before, "new ETag");
    let p = panel(&app, HULL).await;
    let listed = p["partnerships"]
        .as_array()
        .expect("list")
        .iter()
        .find(|x| x["id"] == "hull-test-reading-network")
        .expect("listed in Hull's panel")
        .clone();
    assert_eq!(listed["founded"], 2019);
    assert_eq!(listed["focus"], json!(["literacy", "school_improvement"]));
    assert_eq!(
        call(
            &app,
            "GET",
            "/ogc/collections/partnerships/items/hull-test-reading-network",
            None,
            None
        )
        .await
        .status,
        200
    );
    let csv = call(
        &app,
        "GET",
        &format!("/downloads/partnerships-{v1}.csv"),
        None,
        None,
    )
    .await;
    assert_eq!(csv.status, 200);
    let gz = flate2::read::GzDecoder::new(&csv.body[..]);
    let text = std::io::read_to_string(gz).unwrap_or_else(|_| csv.text());
    assert!(text.contains("hull-test-reading-network"));

    // partnership.update
    published(
        &app,
        &json!({"kind": "partnership.update", "id": "hull-test-reading-network", "fields": {"name": "Hull Reading Network", "phases": ["primary", "secondary"]}, "reason": "Renamed in 2025."}),
    )
    .await;
    let p = panel(&app, HULL).await;
    let listed = p["partnerships"]
        .as_array()
        .expect("list")
        .iter()
        .find(|x| x["id"] == "hull-test-reading-network")
        .expect("still listed")
        .clone();
    assert_eq!(listed["name"], "Hull Reading Network");
    assert_eq!(listed["phases"], json!(["primary", "secondary"]));

    // partnership.retire
    published(
        &app,
        &json!({"kind": "partnership.retire", "id": "hull-test-reading-network", "reason": "Closed in 2026."}),
    )
    .await;
    assert_eq!(tile_count(&app, HULL).await.0, hull_before);
    assert_eq!(
        call(
            &app,
            "GET",
            "/ogc/collections/partnerships/items/hull-test-reading-network",
            None,
            None
        )
        .await
        .status,
        404
    );

    // la_role.remove, then la_role.set: Newcastle upon Tyne's row goes, a new one is made;
    // then an update.
    published(
        &app,
        &json!({"kind": "la_role.remove", "la": NEWCASTLE, "reason": "To be rewritten from newer sources."}),
    )
    .await;
    assert!(panel(&app, NEWCASTLE).await["role"].is_null());
    published(
        &app,
        &json!({"kind": "la_role.set", "la": NEWCASTLE, "fields": {"convener": true, "summary": "The council convenes a city-wide education partnership.", "source_urls": ["https://www.newcastle.gov.uk/education"], "evidence_date": "2025"}, "reason": "New evidence."}),
    )
    .await;
    let role = panel(&app, NEWCASTLE).await["role"].clone();
    assert_eq!(role["convener"], true);
    assert_eq!(role["funder"], false);
    assert_eq!(role["evidence_date"], "2025");
    published(
        &app,
        &json!({"kind": "la_role.set", "la": ROTHERHAM, "fields": {"funder": true, "evidence_date": "2018/2025"}, "reason": "The council funds the partnership."}),
    )
    .await;
    let role = panel(&app, ROTHERHAM).await["role"].clone();
    assert_eq!(
        (role["funder"].clone(), role["convener"].clone()),
        (json!(true), json!(true))
    );
    assert_eq!(role["evidence_date"], "2018/2025");

    // la_role.remove
    published(
        &app,
        &json!({"kind": "la_role.remove", "la": NEWCASTLE, "reason": "The evidence was about another council."}),
    )
    .await;
    assert!(panel(&app, NEWCASTLE).await["role"].is_null());

    // la.verify, then withdrawn
    published(
        &app,
        &json!({"kind": "la.verify", "la": PLYMOUTH, "verified": true, "date": "2026-11-28", "reason": "Plymouth's officer checked the summary."}),
    )
    .await;
    let la = panel(&app, PLYMOUTH).await["local_authority"].clone();
    assert_eq!(
        (la["verified"].clone(), la["verified_date"].clone()),
        (json!(true), json!("2026-11-28"))
    );
    published(
        &app,
        &json!({"kind": "la.verify", "la": PLYMOUTH, "verified": false, "reason": "Verified against an old summary."}),
    )
    .await;
    let la = panel(&app, PLYMOUTH).await["local_authority"].clone();
    assert_eq!(la["verified"], false);
    assert!(la.get("verified_date").is_none_or(Value::is_null));
}

/// Every rule of the loader and of the edit format, one case each: 422, the field named, and
/// the data version unmoved.
async fn every_rejection_names_its_field_and_leaves_the_data_alone(b: Backend) {
    let (app, _) = app(b.store().await).await;
    let with = |f: &dyn Fn(&mut Value)| {
        let mut p = new_partnership("hull-rejected");
        f(&mut p);
        json!({"kind": "partnership.create", "partnership": p, "reason": "test"})
    };
    let cases: Vec<(&str, Value, &str, &str)> = vec![
        (
            "unknown kind",
            json!({"kind": "partnership.delete", "id": "x", "reason": "r"}),
            "kind",
            "expected one of",
        ),
        (
            "no reason",
            json!({"kind": "partnership.retire", "id": "hull-learning-partnership"}),
            "reason",
            "say why",
        ),
        (
            "email in the reason",
            json!({"kind": "partnership.retire", "id": "hull-learning-partnership", "reason": "as jo@example.org said"}),
            "reason",
            "email",
        ),
        (
            "unknown top-level field",
            json!({"kind": "partnership.retire", "id": "hull-learning-partnership", "reason": "r", "force": true}),
            "force",
            "unknown field",
        ),
        (
            "unknown partnership",
            json!({"kind": "partnership.update", "id": "no-such-thing", "fields": {"name": "x"}, "reason": "r"}),
            "id",
            "no partnership",
        ),
        (
            "id cannot change",
            json!({"kind": "partnership.update", "id": "hull-learning-partnership", "fields": {"id": "other"}, "reason": "r"}),
            "id",
            "cannot change",
        ),
        (
            "empty fields",
            json!({"kind": "partnership.update", "id": "hull-learning-partnership", "fields": {}, "reason": "r"}),
            "fields",
            "at least one",
        ),
        (
            "unknown record field",
            json!({"kind": "partnership.update", "id": "hull-learning-partnership", "fields": {"colour": "red"}, "reason": "r"}),
            "colour",
            "unknown field",
        ),
        (
            "nothing changes",
            json!({"kind": "partnership.update", "id": "hull-learning-partnership", "fields": {"form": "school_led_network"}, "reason": "r"}),
            "_",
            "change nothing",
        ),
        (
            "duplicate id",
            with(&|p| p["id"] = json!("hull-learning-partnership")),
            "id",
            "already exists",
        ),
        (
            "id not a slug",
            with(&|p| p["id"] = json!("Hull Network")),
            "id",
            "lower-case slug",
        ),
        (
            "empty name",
            with(&|p| p["name"] = json!("")),
            "name",
            "required",
        ),
        (
            "unknown form",
            with(&|p| p["form"] = json!("schoolled_network")),
            "form",
            "unknown value",
        ),
        (
            "unknown phase",
            with(&|p| p["phases"] = json!(["nursery"])),
            "phases",
            "unknown value",
        ),
        (
            "phase twice",
            with(&|p| p["phases"] = json!(["primary", "primary"])),
            "phases",
            "listed twice",
        ),
        (
            "no focus",
            with(&|p| p["focus"] = json!([])),
            "focus",
            "empty",
        ),
        (
            "list separator in a value",
            with(&|p| p["focus"] = json!(["literacy;maths"])),
            "focus",
            "separator",
        ),
        (
            "unknown LA code",
            with(&|p| p["la_codes"] = json!(["E99999999"])),
            "la_codes",
            "not an LA code",
        ),
        (
            "no LA",
            with(&|p| p["la_codes"] = json!([])),
            "la_codes",
            "at least one LA",
        ),
        (
            "LA twice",
            with(&|p| p["la_codes"] = json!([HULL, HULL])),
            "la_codes",
            "listed twice",
        ),
        (
            "unknown involvement",
            with(&|p| p["la_involvement"] = json!("sponsor")),
            "la_involvement",
            "unknown value",
        ),
        (
            "unknown legal form",
            with(&|p| p["legal_form"] = json!("plc")),
            "legal_form",
            "unknown value",
        ),
        (
            "founded not a year",
            with(&|p| p["founded"] = json!("last year")),
            "founded",
            "not a year",
        ),
        (
            "website not http",
            with(&|p| p["website"] = json!("ftp://example.org")),
            "website",
            "malformed URL",
        ),
        (
            "no source",
            with(&|p| p["source_urls"] = json!([])),
            "source_urls",
            "at least one URL",
        ),
        (
            "source not a URL",
            with(&|p| p["source_urls"] = json!(["www.example.org"])),
            "source_urls",
            "malformed URL",
        ),
        (
            "bad evidence date",
            with(&|p| p["evidence_date"] = json!("May 2024")),
            "evidence_date",
            "not a year",
        ),
        (
            "wrong type",
            with(&|p| p["phases"] = json!("primary")),
            "phases",
            "array",
        ),
        (
            "role for an unknown LA",
            json!({"kind": "la_role.set", "la": "E99999999", "fields": {"funder": true}, "reason": "r"}),
            "la",
            "not an LA code",
        ),
        (
            "new role without a summary",
            json!({"kind": "la_role.set", "la": NEWCASTLE, "fields": {"funder": true, "source_urls": ["https://www.example.org/a"], "evidence_date": "2024"}, "reason": "r"}),
            "summary",
            "required",
        ),
        (
            "flag not a boolean",
            json!({"kind": "la_role.set", "la": ROTHERHAM, "fields": {"funder": "yes"}, "reason": "r"}),
            "funder",
            "true or false",
        ),
        (
            "remove a role that is not there",
            json!({"kind": "la_role.remove", "la": NEWCASTLE, "reason": "r"}),
            "la",
            "no LA-role entry",
        ),
        (
            "verify without a date",
            json!({"kind": "la.verify", "la": PLYMOUTH, "verified": true, "reason": "r"}),
            "date",
            "give the date",
        ),
        (
            "verify with a bad date",
            json!({"kind": "la.verify", "la": PLYMOUTH, "verified": true, "date": "28/11/2026", "reason": "r"}),
            "date",
            "not a date",
        ),
        (
            "verify in the future",
            json!({"kind": "la.verify", "la": PLYMOUTH, "verified": true, "date": "2999-01-01", "reason": "r"}),
            "date",
            "future",
        ),
        (
            "unverify with a date",
            json!({"kind": "la.verify", "la": PLYMOUTH, "verified": false, "date": "2026-11-28", "reason": "r"}),
            "date",
            "leave the date out",
        ),
        (
            "verified not a boolean",
            json!({"kind": "la.verify", "la": PLYMOUTH, "verified": "yes", "date": "2026-11-28", "reason": "r"}),
            "verified",
            "true or false",
        ),
        (
            "unknown submission",
            json!({"kind": "partnership.retire", "id": "hull-learning-partnership", "reason": "r", "submission": "PM-000999"}),
            "submission",
            "no submission",
        ),
        (
            "malformed submission",
            json!({"kind": "partnership.retire", "id": "hull-learning-partnership", "reason": "r", "submission": "42x"}),
            "submission",
            "not a submission reference",
        ),
    ];
    // Every LA has a role row in the shipped data: take Newcastle's away, so a new row can be
    // refused for lacking a summary.
    let r = edit(
        &app,
        &json!({"kind": "la_role.remove", "la": NEWCASTLE, "reason": "To be rewritten."}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let before = version(&app).await;
    for (what, body, field, want) in &cases {
        let r = edit(&app, body).await;
        assert_eq!(r.status, 422, "{what}: {}", r.text());
        let v = json(&r);
        let msg = v["fields"][field]
            .as_str()
            .unwrap_or_else(|| panic!("{what}: no message for {field}: {v}"));
        assert!(
            msg.contains(want),
            "{what}: {field}: {msg:?} lacks {want:?}"
        );
    }
    assert_eq!(
        version(&app).await,
        before,
        "no rejected change moved the version"
    );
    // Not an edit at all.
    let raw = |ct: &str, body: &str| {
        let app = app.clone();
        let (ct, body) = (ct.to_owned(), body.to_owned());
        async move {
            use tower::ServiceExt;
            let req = axum::http::Request::post("/api/admin/edits")
                .header("host", "x")
                .header("authorization", format!("Bearer {}", ASHA.1))
                .header("content-type", ct)
                .body(axum::body::Body::from(body))
                .expect("req");
            app.oneshot(req)
                .await
                .expect("infallible")
                .status()
                .as_u16()
        }
    };
    assert_eq!(raw("application/json", "{not json").await, 400);
    assert_eq!(raw("text/plain", "{}").await, 415);
    assert_eq!(raw("application/json", "[1, 2]").await, 422);
    let r = call(&app, "POST", "/api/admin/edits", None, Some(&json!({}))).await;
    assert_eq!(r.status, 401);
    let r = call(
        &app,
        "POST",
        "/api/admin/edits",
        Some("not-a-real-token-000"),
        Some(&json!({})),
    )
    .await;
    assert_eq!(r.status, 401);
    let big = "x".repeat(70 * 1024);
    assert_eq!(
        raw("application/json", &format!("{{\"reason\": \"{big}\"}}")).await,
        413
    );
    assert_eq!(version(&app).await, before);
    // Only the removal made before the cases is in the history.
    assert!(
        json(&call(&app, "GET", "/api/changes", None, None).await)["changes"]
            .as_array()
            .is_some_and(|c| c.len() == 1 && c[0]["kind"] == "la_role.remove")
    );
}

async fn a_preview_changes_nothing_and_an_undo_restores_the_data(b: Backend) {
    let (app, _) = app(b.store().await).await;
    let v0 = version(&app).await;
    let update = json!({"kind": "partnership.update", "id": "hull-learning-partnership", "fields": {"notes": "Rewritten notes."}, "reason": "Newer source."});
    let preview = call(
        &app,
        "POST",
        "/api/admin/edits?dry_run=true",
        Some(ASHA.1),
        Some(&update),
    )
    .await;
    assert_eq!(preview.status, 200, "{}", preview.text());
    let p = json(&preview);
    assert_eq!(p["preview"], true);
    assert!(p["change"].is_null());
    assert_eq!(p["changes"][0]["field"], "notes");
    assert_eq!(p["changes"][0]["new"], "Rewritten notes.");
    assert_eq!(version(&app).await, v0, "a preview publishes nothing");

    let (id, v1) = published(&app, &update).await;
    assert_eq!(
        p["data_version"],
        v1.as_str(),
        "the preview predicted the version"
    );
    let r = call(
        &app,
        "POST",
        &format!("/api/admin/changes/{id}/revert"),
        Some(BEN.1),
        Some(&json!({"reason": "The old notes were right."})),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let undo = json(&r);
    assert_eq!(
        undo["data_version"],
        v0.as_str(),
        "undoing restores the exact data"
    );
    assert!(
        undo["summary"]
            .as_str()
            .is_some_and(|s| s.starts_with(&format!("Undo of change {id}")))
    );
    // History is never rewritten: both changes are there, newest first.
    let h = json(&call(&app, "GET", "/api/changes", None, None).await);
    let ids: Vec<i64> = h["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .map(|c| c["id"].as_i64().expect("id"))
        .collect();
    assert_eq!(ids, vec![id + 1, id]);
    assert_eq!(h["changes"][0]["reverts"], id);
    // Undoing it again would change nothing: 409, data unmoved.
    let again = call(
        &app,
        "POST",
        &format!("/api/admin/changes/{id}/revert"),
        Some(ASHA.1),
        Some(&json!({"reason": "again"})),
    )
    .await;
    assert_eq!(again.status, 409, "{}", again.text());
    assert_eq!(version(&app).await, v0);
    // Undo of a create retires; undo of that retire brings the record back whole.
    let (c, _) = published(&app, &json!({"kind": "partnership.create", "partnership": new_partnership("hull-undo-me"), "reason": "r"})).await;
    let r = call(
        &app,
        "POST",
        &format!("/api/admin/changes/{c}/revert"),
        Some(ASHA.1),
        Some(&json!({"reason": "added by mistake"})),
    )
    .await;
    assert_eq!(r.status, 201);
    assert_eq!(version(&app).await, v0);
    let r = call(
        &app,
        "POST",
        &format!("/api/admin/changes/{}/revert", c + 1),
        Some(ASHA.1),
        Some(&json!({"reason": "it was right after all"})),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let p = panel(&app, HULL).await;
    let back = p["partnerships"]
        .as_array()
        .expect("list")
        .iter()
        .find(|x| x["id"] == "hull-undo-me")
        .expect("back")
        .clone();
    assert_eq!(back["membership"], "twelve primary schools");
    assert_eq!(back["founded"], 2019);
    // Unknown change, no reason.
    assert_eq!(
        call(
            &app,
            "POST",
            "/api/admin/changes/999/revert",
            Some(ASHA.1),
            Some(&json!({"reason": "x"}))
        )
        .await
        .status,
        404
    );
    assert_eq!(
        call(
            &app,
            "POST",
            &format!("/api/admin/changes/{id}/revert"),
            Some(ASHA.1),
            Some(&json!({}))
        )
        .await
        .status,
        422
    );
}

async fn settling_a_submission_keeps_personal_data_out_of_the_history(b: Backend) {
    let (app, _) = app(b.store().await).await;
    let sub = call(
        &app,
        "POST",
        "/api/submissions",
        None,
        Some(&json!({"la": PLYMOUTH, "kind": "verification", "message": "We have checked the summary and it is right.", "name": "Zelda Quartermaine", "organisation": "Plymouth City Council", "email": "zelda.q@plymouth.example.org", "consent": true})),
    )
    .await;
    assert_eq!(sub.status, 201, "{}", sub.text());
    let reference = json(&sub)["id"].as_str().expect("ref").to_owned();
    // A reason naming the submitter is refused: the history is public.
    let leaky = json!({"kind": "la.verify", "la": PLYMOUTH, "verified": true, "date": "2026-11-28", "reason": "Confirmed by Zelda Quartermaine.", "submission": reference});
    let r = edit(&app, &leaky).await;
    assert_eq!(r.status, 422);
    assert!(
        json(&r)["fields"]["reason"]
            .as_str()
            .is_some_and(|m| m.contains("public"))
    );
    let ok = json!({"kind": "la.verify", "la": PLYMOUTH, "verified": true, "date": "2026-11-28", "reason": "The LA confirmed its summary.", "submission": reference});
    let (id, _) = published(&app, &ok).await;
    // The submission is accepted and points at the change.
    let s = json(
        &call(
            &app,
            "GET",
            &format!("/api/admin/submissions/{reference}"),
            Some(ASHA.1),
            None,
        )
        .await,
    );
    assert_eq!(s["status"], "accepted");
    assert_eq!(s["change_id"], id);
    assert_eq!(s["reviewed_by"], ASHA.0);
    // The editors' log names the editor; the public history and feeds name nobody.
    let admin = json(&call(&app, "GET", "/api/admin/changes", Some(BEN.1), None).await);
    assert_eq!(admin["changes"][0]["editor"], ASHA.0);
    for uri in [
        "/api/changes".to_owned(),
        format!("/api/changes?la={PLYMOUTH}"),
        format!("/api/changes/{id}"),
        "/changes.atom".to_owned(),
        format!("/changes.atom?la={PLYMOUTH}"),
    ] {
        let r = call(&app, "GET", &uri, None, None).await;
        assert_eq!(r.status, 200, "{uri}");
        let text = r.text();
        assert!(
            text.contains("verified by the LA on 2026-11-28"),
            "{uri}: {text}"
        );
        for secret in [
            "Zelda",
            "Quartermaine",
            "zelda.q@",
            "plymouth.example.org",
            reference.as_str(),
            ASHA.0,
            ASHA.1,
            BEN.0,
            "Plymouth City Council",
        ] {
            assert!(!text.contains(secret), "{uri} leaks {secret:?}: {text}");
        }
    }
    let one = json(&call(&app, "GET", &format!("/api/changes/{id}"), None, None).await);
    assert_eq!(
        one["changes"],
        json!([{"field": "verified", "old": null, "new": true}, {"field": "verified_date", "old": null, "new": "2026-11-28"}])
    );
    assert_eq!(one["la_names"], json!(["Plymouth"]));
}

async fn the_history_filters_by_la_and_date(b: Backend) {
    let (app, _) = app(b.store().await).await;
    published(&app, &json!({"kind": "la.verify", "la": PLYMOUTH, "verified": true, "date": "2026-11-28", "reason": "r"})).await;
    published(
        &app,
        &json!({"kind": "la_role.set", "la": ROTHERHAM, "fields": {"funder": true}, "reason": "r"}),
    )
    .await;
    let all = json(&call(&app, "GET", "/api/changes", None, None).await);
    assert_eq!(all["count"], 2);
    let one = json(
        &call(
            &app,
            "GET",
            &format!("/api/changes?la={ROTHERHAM}"),
            None,
            None,
        )
        .await,
    );
    assert_eq!(one["count"], 1);
    assert_eq!(one["changes"][0]["la_codes"], json!([ROTHERHAM]));
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    assert_eq!(
        json(
            &call(
                &app,
                "GET",
                &format!("/api/changes?since={today}"),
                None,
                None
            )
            .await
        )["count"],
        2
    );
    assert_eq!(
        json(&call(&app, "GET", "/api/changes?since=2999-01-01", None, None).await)["count"],
        0
    );
    assert_eq!(
        json(&call(&app, "GET", "/api/changes?limit=1", None, None).await)["count"],
        1
    );
    assert_eq!(
        call(&app, "GET", "/api/changes?since=yesterday", None, None)
            .await
            .status,
        400
    );
    assert_eq!(
        call(&app, "GET", "/api/changes?limit=0", None, None)
            .await
            .status,
        400
    );
    assert_eq!(
        call(&app, "GET", "/api/changes?la=E99999999", None, None)
            .await
            .status,
        404
    );
    assert_eq!(
        call(&app, "GET", "/changes.atom?la=E99999999", None, None)
            .await
            .status,
        404
    );
    assert_eq!(
        call(&app, "GET", "/api/changes/0", None, None).await.status,
        400
    );
    assert_eq!(
        call(&app, "GET", "/api/changes/99", None, None)
            .await
            .status,
        404
    );
    let feed = call(
        &app,
        "GET",
        &format!("/changes.atom?la={ROTHERHAM}"),
        None,
        None,
    )
    .await;
    assert!(
        feed.header("content-type")
            .is_some_and(|c| c.starts_with("application/atom+xml"))
    );
    let etag = feed.header("etag").expect("etag").to_owned();
    let again = call(
        &app,
        "GET",
        &format!("/changes.atom?la={ROTHERHAM}"),
        None,
        None,
    )
    .await;
    assert_eq!(again.header("etag"), Some(etag.as_str()));
}

async fn twenty_parallel_edits_to_different_partnerships_all_land_once(b: Backend) {
    let (app, state) = app(b.store().await).await;
    let ids: Vec<String> = state
        .dataset()
        .partnerships
        .iter()
        .take(20)
        .map(|p| p.id.clone())
        .collect();
    let tasks: Vec<_> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let app = app.clone();
            let body = json!({"kind": "partnership.update", "id": id, "fields": {"notes": format!("Parallel note {i}.")}, "reason": format!("parallel edit {i}")});
            tokio::spawn(async move { edit(&app, &body).await })
        })
        .collect();
    let mut changes = BTreeSet::new();
    for t in tasks {
        let r = t.await.expect("task");
        assert_eq!(r.status, 201, "{}", r.text());
        changes.insert(json(&r)["change"].as_i64().expect("id"));
    }
    assert_eq!(
        changes,
        (1..=20).collect::<BTreeSet<i64>>(),
        "each exactly once, in one order"
    );
    let log = json(&call(&app, "GET", "/api/changes?limit=100", None, None).await);
    assert_eq!(log["count"], 20);
    let ds = state.dataset();
    for (i, id) in ids.iter().enumerate() {
        let p = ds
            .partnerships
            .iter()
            .find(|p| &p.id == id)
            .expect("still there");
        assert_eq!(p.notes, format!("Parallel note {i}."));
    }
}

async fn a_restart_replays_the_log_over_the_files(b: Backend) {
    let (app, _) = app(b.store().await).await;
    published(&app, &json!({"kind": "partnership.create", "partnership": new_partnership("hull-replayed"), "reason": "r"})).await;
    let (_, v) = published(&app, &json!({"kind": "la.verify", "la": PLYMOUTH, "verified": true, "date": "2026-11-28", "reason": "r"})).await;
    drop(app);
    // A new process on the same database: the files plus the log give the same data.
    let (again, _) = common::steward::app(b.store().await).await;
    assert_eq!(version(&again).await, v);
    assert!(
        panel(&again, HULL).await["partnerships"]
            .as_array()
            .expect("list")
            .iter()
            .any(|p| p["id"] == "hull-replayed")
    );
    let health = json(&call(&again, "GET", "/health", None, None).await);
    assert_eq!(health["changes_through"], 2);
    assert_eq!(health["change_conflicts"], 0);
}

const TOKEN: &str = "binary-editor-token-0123456789";

fn serve(b: &Backend, extra: &[&str]) -> common::Server {
    let mut args: Vec<std::ffi::OsString> = vec!["--max-zoom".into(), "8".into()];
    args.extend(b.args());
    args.extend(extra.iter().map(Into::into));
    let refs: Vec<&std::ffi::OsStr> = args.iter().map(std::ffi::OsString::as_os_str).collect();
    common::Server::start(&refs, &[("PARTNERSHIP_MAP_ADMIN_TOKEN", TOKEN)])
}

fn post_edit(server: &common::Server, body: &Value) -> Value {
    let auth = format!("Bearer {TOKEN}");
    let r = common::http(
        server.addr(),
        "POST",
        "/api/admin/edits",
        &[("Authorization", &auth)],
        Some(&body.to_string()),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    r.json()
}

fn health(server: &common::Server) -> Value {
    common::http(server.addr(), "GET", "/health", &[], None).json()
}

fn kill_9(server: &mut common::Server) {
    let pid = server.child.id().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-KILL", &pid])
            .status()
            .expect("kill")
            .success()
    );
    assert!(!server.child.wait().expect("wait").success());
}

fn binary(args: &[std::ffi::OsString]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_partnership-map"))
        .current_dir(common::repo())
        .args(args)
        .output()
        .expect("run")
}

fn a_change_survives_kill_9_straight_after_its_201(b: Backend) {
    let mut server = serve(&b, &[]);
    let v = post_edit(
        &server,
        &json!({"kind": "partnership.create", "partnership": new_partnership("hull-durable"), "reason": "kept through a crash"}),
    );
    let version = v["data_version"].as_str().expect("version").to_owned();
    kill_9(&mut server);
    let again = serve(&b, &[]);
    assert_eq!(health(&again)["data_version"], version.as_str());
    let p = common::http(again.addr(), "GET", &format!("/api/las/{HULL}"), &[], None).json();
    assert!(
        p["partnerships"]
            .as_array()
            .expect("list")
            .iter()
            .any(|x| x["id"] == "hull-durable")
    );
}

fn export_then_check_then_the_same_version(b: Backend) {
    let mut server = serve(&b, &[]);
    post_edit(
        &server,
        &json!({"kind": "partnership.create", "partnership": new_partnership("hull-exported"), "reason": "r"}),
    );
    post_edit(
        &server,
        &json!({"kind": "partnership.update", "id": "hull-learning-partnership", "fields": {"notes": "Notes, rewritten \"in quotes\"."}, "reason": "r"}),
    );
    let live = post_edit(
        &server,
        &json!({"kind": "la.verify", "la": PLYMOUTH, "verified": true, "date": "2026-11-28", "reason": "r"}),
    );
    let live = live["data_version"].as_str().expect("version").to_owned();
    kill_9(&mut server);

    let out = tempfile::tempdir().expect("tmp");
    let mut args: Vec<std::ffi::OsString> = vec![
        "data".into(),
        "export".into(),
        "--out".into(),
        out.path().into(),
    ];
    args.extend(b.args());
    let o = binary(&args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // check passes on the exported files.
    let o = binary(&["check".into(), "--data".into(), out.path().into()]);
    let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        o.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(stdout.contains(&format!("data version {live}")), "{stdout}");
    // The diff against the shipped files is exactly the changed rows.
    let lines = |p: &std::path::Path| -> BTreeSet<String> {
        std::fs::read_to_string(p)
            .expect("read")
            .split_inclusive('\n')
            .map(str::to_owned)
            .collect()
    };
    let diff = |name: &str| {
        let (a, b) = (
            lines(&common::repo().join("data").join(name)),
            lines(&out.path().join(name)),
        );
        (
            a.difference(&b).cloned().collect::<Vec<_>>(),
            b.difference(&a).cloned().collect::<Vec<_>>(),
        )
    };
    let (gone, added) = diff("partnerships.csv");
    assert_eq!(gone.len(), 1, "{gone:?}");
    assert!(gone[0].starts_with("hull-learning-partnership,"));
    assert_eq!(added.len(), 2, "{added:?}");
    assert!(
        added
            .iter()
            .any(|l| l.starts_with("hull-exported,") && l.ends_with("\r\n"))
    );
    assert!(
        added
            .iter()
            .any(|l| l.starts_with("hull-learning-partnership,")
                && l.contains("\"Notes, rewritten \"\"in quotes\"\".\""))
    );
    let (gone, added) = diff("local_authorities.csv");
    assert_eq!((gone.len(), added.len()), (1, 1));
    assert!(
        added[0].starts_with("E06000026,Plymouth,") && added[0].ends_with(",true,2026-11-28\n")
    );
    assert_eq!(diff("la_school_improvement.csv"), (vec![], vec![]));
    // Served with an empty log: the same version.
    let empty = tempfile::tempdir().expect("tmp");
    let db = empty.path().join("empty.db");
    let fresh = common::Server::start(
        &[
            "--max-zoom".as_ref(),
            "8".as_ref(),
            "--data".as_ref(),
            out.path().as_os_str(),
            "--db".as_ref(),
            db.as_os_str(),
        ],
        &[],
    );
    assert_eq!(health(&fresh)["data_version"], live.as_str());
    // Served with the same log: edits.json says the files hold it, so nothing applies twice.
    let same = serve(&b, &["--data", out.path().to_str().expect("utf-8")]);
    let h = health(&same);
    assert_eq!(h["data_version"], live.as_str());
    assert_eq!(h["change_conflicts"], 0);
}

/// Run each case on a backend.
macro_rules! contract {
    ($backend:ident, $make:expr) => {
        mod $backend {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn each_kind_of_change_is_published_at_once() {
                super::each_kind_of_change_is_published_at_once($make).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn every_rejection_names_its_field_and_leaves_the_data_alone() {
                super::every_rejection_names_its_field_and_leaves_the_data_alone($make).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn a_preview_changes_nothing_and_an_undo_restores_the_data() {
                super::a_preview_changes_nothing_and_an_undo_restores_the_data($make).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn settling_a_submission_keeps_personal_data_out_of_the_history() {
                super::settling_a_submission_keeps_personal_data_out_of_the_history($make).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn the_history_filters_by_la_and_date() {
                super::the_history_filters_by_la_and_date($make).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn twenty_parallel_edits_to_different_partnerships_all_land_once() {
                super::twenty_parallel_edits_to_different_partnerships_all_land_once($make).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn a_restart_replays_the_log_over_the_files() {
                super::a_restart_replays_the_log_over_the_files($make).await;
            }
            #[test]
            fn a_change_survives_kill_9_straight_after_its_201() {
                super::a_change_survives_kill_9_straight_after_its_201($make);
            }
            #[test]
            fn export_then_check_then_the_same_version() {
                super::export_then_check_then_the_same_version($make);
            }
        }
    };
}

contract!(sqlite, Backend::sqlite());
contract!(postgres, Backend::postgres());
