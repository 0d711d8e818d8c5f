//! Replicas on PostgreSQL: migrations once under concurrent starts, TLS, propagation of a change
//! to another replica within 2 s (measured over 50 changes), one log order for concurrent
//! changes, the submission limit and submissions shared across replicas, `kill -9` after a 201,
//! and faults: the database stopped while serving, and a replica started while it is down.

mod common;

use std::time::{Duration, Instant};

use common::pg::{Cluster, fresh_database, shared_url};
use common::replica::{TOKEN, edit, get, replica, submit, tile_etag, until_version};
use common::{Server, http};
use partnership_map::store::{PostgresStore, Store};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_starting_together_migrate_once() {
    let url = fresh_database(&shared_url());
    let (a, b) = tokio::join!(PostgresStore::connect(&url), PostgresStore::connect(&url));
    let (a, b) = (a.expect("first"), b.expect("second"));
    let migrations: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations")
        .fetch_one(a.pool())
        .await
        .expect("count");
    // Each migration once, not once per replica.
    let files = std::fs::read_dir(common::repo().join("migrations/postgres"))
        .expect("migrations/postgres/")
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "sql"))
        })
        .count();
    assert_eq!(migrations, i64::try_from(files).expect("count"));
    assert_eq!(
        a.log_id().await.expect("id"),
        b.log_id().await.expect("id"),
        "one log"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sslmode_require_connects_over_tls() {
    let url = format!("{}?sslmode=require", fresh_database(&shared_url()));
    let store = PostgresStore::connect(&url).await.expect("connect");
    let ssl: bool = sqlx::query_scalar("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        .fetch_one(store.pool())
        .await
        .expect("pg_stat_ssl");
    assert!(ssl, "the connection is encrypted");
    // And the binary serves with it.
    let server = replica(&url, &[]);
    assert_eq!(get(&server, "/health").status, 200);
}

#[test]
fn a_change_through_one_replica_is_served_by_the_other_in_a_median_under_2_seconds() {
    let url = fresh_database(&shared_url());
    let a = replica(&url, &[]);
    let b = replica(&url, &[]);
    let hull_tile = "/tiles/8/127/82.pbf";
    let etag_before = tile_etag(&b, hull_tile);
    let mut latencies = Vec::new();
    // Baseline from the same run: how long A itself takes to apply and publish an edit.
    let mut on_a = Vec::new();
    for i in 0..50 {
        let body = if i == 0 {
            json!({"kind": "partnership.create", "reason": "propagation test", "partnership": {
                "id": "hull-propagated", "name": "Hull Propagated Network", "la_codes": ["E06000010"],
                "form": "school_led_network", "phases": ["primary"], "focus": ["literacy"],
                "la_involvement": "member", "legal_form": "unknown",
                "source_urls": ["https://www.example.org/p"], "evidence_date": "2025"}})
        } else {
            json!({"kind": "partnership.update", "id": "hull-propagated", "fields": {"notes": format!("Revision {i}.")}, "reason": format!("revision {i}")})
        };
        let sent = Instant::now();
        let r = edit(&a, &body);
        on_a.push(sent.elapsed());
        assert_eq!(r.status, 201, "{}", r.body);
        let want = r.json()["data_version"].as_str().expect("v").to_owned();
        // Correctness: B serves every change (NOTIFY, or the poll when a NOTIFY is lost). The
        // bound is generous because this test shares two cores with the rest of the suite; the
        // 2-second goal is checked on the median below, and measured properly in a benchmark.
        latencies.push(until_version(&b, &want, Duration::from_secs(10)));
        if i == 0 {
            // B's tiles, panel and feed show it.
            assert_ne!(tile_etag(&b, hull_tile), etag_before, "new tile ETag on B");
            let panel = get(&b, "/api/las/E06000010").json();
            assert!(
                panel["partnerships"]
                    .as_array()
                    .expect("list")
                    .iter()
                    .any(|p| p["id"] == "hull-propagated")
            );
            assert!(
                get(&b, "/changes.atom")
                    .body
                    .contains("New partnership: Hull Propagated Network")
            );
        }
    }
    latencies.sort();
    on_a.sort();
    let median = latencies[latencies.len() / 2];
    let worst = latencies[latencies.len() - 1];
    let a_median = on_a[on_a.len() / 2];
    println!(
        "propagation A → B over {} changes (after A answered 201): median {:.1} ms, worst {:.1} ms; \
         the edit request on A itself: median {:.1} ms; ratio of medians {:.2}",
        latencies.len(),
        median.as_secs_f64() * 1e3,
        worst.as_secs_f64() * 1e3,
        a_median.as_secs_f64() * 1e3,
        median.as_secs_f64() / a_median.as_secs_f64()
    );
    assert!(
        median < Duration::from_secs(2),
        "the median propagation is {median:?}, over the 2-second goal"
    );
    assert_eq!(
        get(&b, "/api/changes?la=E06000010&limit=100").json()["count"],
        50
    );
}

#[test]
fn a_lost_notification_costs_at_most_the_polling_interval() {
    let url = fresh_database(&shared_url());
    let a = replica(&url, &[]);
    let b = replica(&url, &["--log-poll-ms", "500"]);
    for i in 0..5 {
        // Cut every LISTEN connection to this test's database (other tests share the
        // cluster): notifications sent now are lost.
        let admin = url.clone();
        std::thread::spawn(move || {
            tokio::runtime::Runtime::new().expect("rt").block_on(async move {
                use sqlx::Connection;
                let mut c = sqlx::PgConnection::connect(&admin).await.expect("connect");
                sqlx::query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'LISTEN%' AND datname = current_database() AND pid <> pg_backend_pid()")
                    .execute(&mut c)
                    .await
                    .expect("terminate");
            });
        })
        .join()
        .expect("thread");
        let r = edit(
            &a,
            &json!({"kind": "partnership.update", "id": "hull-learning-partnership", "fields": {"notes": format!("Lost notification {i}.")}, "reason": "r"}),
        );
        assert_eq!(r.status, 201, "{}", r.body);
        let want = r.json()["data_version"].as_str().expect("v").to_owned();
        until_version(&b, &want, Duration::from_secs(2));
    }
}

#[test]
fn changes_made_at_once_on_both_replicas_are_applied_in_one_order_everywhere() {
    let url = fresh_database(&shared_url());
    let a = replica(&url, &[]);
    let b = replica(&url, &[]);
    let ids: Vec<String> = get(&a, "/api/partnerships").json()["partnerships"]
        .as_array()
        .expect("list")
        .iter()
        .take(20)
        .map(|p| p["id"].as_str().expect("id").to_owned())
        .collect();
    std::thread::scope(|s| {
        for (i, id) in ids.iter().enumerate() {
            let target = if i % 2 == 0 { &a } else { &b };
            s.spawn(move || {
                let r = edit(
                    target,
                    &json!({"kind": "partnership.update", "id": id, "fields": {"notes": format!("Concurrent {i}.")}, "reason": "r"}),
                );
                assert_eq!(r.status, 201, "{}", r.body);
            });
        }
    });
    let start = Instant::now();
    loop {
        let (ha, hb) = (get(&a, "/health").json(), get(&b, "/health").json());
        if ha["changes_through"] == 20 && hb["changes_through"] == 20 {
            assert_eq!(ha["data_version"], hb["data_version"]);
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(5), "{ha} / {hb}");
        std::thread::sleep(Duration::from_millis(20));
    }
    let order = |s: &Server| -> Vec<i64> {
        get(s, "/api/changes?limit=100").json()["changes"]
            .as_array()
            .expect("changes")
            .iter()
            .map(|c| c["id"].as_i64().expect("id"))
            .collect()
    };
    assert_eq!(order(&a), order(&b));
    assert_eq!(order(&a), (1..=20).rev().collect::<Vec<i64>>());
    for (i, id) in ids.iter().enumerate() {
        for s in [&a, &b] {
            let p = get(s, "/api/partnerships").json()["partnerships"]
                .as_array()
                .expect("list")
                .iter()
                .find(|p| p["id"] == id.as_str())
                .expect("there")
                .clone();
            assert_eq!(p["notes"], format!("Concurrent {i}."));
        }
    }
}

#[test]
fn submissions_and_their_limit_are_shared_by_the_replicas() {
    let url = fresh_database(&shared_url());
    let a = replica(&url, &["--submissions-per-hour", "3"]);
    let b = replica(&url, &["--submissions-per-hour", "3"]);
    for (server, n) in [(&a, 1), (&b, 2), (&a, 3)] {
        let r = submit(server, &format!("Submission number {n} from one client."));
        assert_eq!(r.status, 201, "{}", r.body);
    }
    for server in [&a, &b] {
        let r = submit(server, "One too many from the same address.");
        assert_eq!(r.status, 429, "{}", r.body);
        assert!(r.header("retry-after").is_some());
    }
    let auth = format!("Bearer {TOKEN}");
    let listed = http(
        b.addr(),
        "GET",
        "/api/admin/submissions",
        &[("Authorization", &auth)],
        None,
    )
    .json();
    assert_eq!(listed["total"], 3, "B lists what A stored");
}

#[test]
fn kill_9_of_a_replica_straight_after_a_201_leaves_the_record_with_the_other() {
    let url = fresh_database(&shared_url());
    let mut a = replica(&url, &[]);
    let b = replica(&url, &[]);
    let s = submit(&a, "Stored by A just before it died.");
    assert_eq!(s.status, 201);
    let reference = s.json()["id"].as_str().expect("ref").to_owned();
    let e = edit(
        &a,
        &json!({"kind": "la.verify", "la": "E06000026", "verified": true, "date": "2026-11-28", "reason": "r"}),
    );
    assert_eq!(e.status, 201);
    let want = e.json()["data_version"].as_str().expect("v").to_owned();
    let pid = a.child.id().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-KILL", &pid])
            .status()
            .expect("kill")
            .success()
    );
    let _ = a.child.wait();
    let auth = format!("Bearer {TOKEN}");
    let got = http(
        b.addr(),
        "GET",
        &format!("/api/admin/submissions/{reference}"),
        &[("Authorization", &auth)],
        None,
    );
    assert_eq!(got.status, 200, "{}", got.body);
    until_version(&b, &want, Duration::from_secs(2));
    assert_eq!(
        get(&b, "/api/las/E06000026").json()["local_authority"]["verified"],
        true
    );
}

#[test]
fn with_the_database_stopped_reads_work_and_writes_answer_503_until_it_is_back() {
    let cluster = Cluster::start();
    let url = fresh_database(&cluster.url);
    let a = replica(&url, &[]);
    let e = edit(
        &a,
        &json!({"kind": "la.verify", "la": "E06000026", "verified": true, "date": "2026-11-28", "reason": "r"}),
    );
    assert_eq!(e.status, 201);
    cluster.stop();
    for path in [
        "/",
        "/tiles/6/31/20.pbf",
        "/tiles.json",
        "/api/las",
        "/api/las/E06000026",
        "/api/changes",
        "/changes.atom",
        "/health",
        "/downloads",
    ] {
        let r = get(&a, path);
        assert!(
            r.status == 200 || r.status == 303,
            "{path}: {} {}",
            r.status,
            r.body
        );
    }
    assert!(
        get(&a, "/api/changes")
            .body
            .contains("verified by the LA on 2026-11-28")
    );
    let s = submit(&a, "Sent while the database is down.");
    assert_eq!(s.status, 503, "{}", s.body);
    assert!(s.header("retry-after").is_some());
    let e = edit(
        &a,
        &json!({"kind": "la.verify", "la": "E06000026", "verified": false, "reason": "r"}),
    );
    assert_eq!(e.status, 503, "{}", e.body);
    assert!(e.header("retry-after").is_some());
    cluster.start_again();
    // No restart: the pool reconnects.
    let start = Instant::now();
    loop {
        let s = submit(&a, "Sent once the database is back.");
        if s.status == 201 {
            break;
        }
        assert_eq!(s.status, 503, "{}", s.body);
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "still 503 after 20 s"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let e = edit(
        &a,
        &json!({"kind": "la.verify", "la": "E06000026", "verified": false, "reason": "r"}),
    );
    assert_eq!(e.status, 201, "{}", e.body);
}

#[test]
fn a_replica_started_while_the_database_is_down_retries_and_says_so() {
    use std::io::{BufRead, BufReader, Read};
    let cluster = Cluster::start();
    let url = fresh_database(&cluster.url);
    cluster.stop();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_partnership-map"))
        .current_dir(common::repo())
        .env("RUST_LOG", "info")
        .args([
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--max-zoom",
            "6",
            "--database-url",
            &url,
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    // Two retries logged while it is down.
    let mut retries = 0;
    let start = Instant::now();
    while retries < 2 {
        let line = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("a log line");
        if line.contains("PostgreSQL is unavailable") && line.contains("retrying in") {
            retries += 1;
        }
        assert!(start.elapsed() < Duration::from_secs(30));
    }
    cluster.start_again();
    let mut out = String::new();
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    stdout.read_line(&mut out).expect("listening line");
    assert!(out.contains("listening on http://127.0.0.1:"), "{out:?}");
    let addr = out
        .trim()
        .rsplit("http://")
        .next()
        .expect("addr")
        .to_owned();
    assert_eq!(http(&addr, "GET", "/health", &[], None).status, 200);
    let _ = child.kill();
    let _ = child.wait();
    let mut rest = String::new();
    let _ = stdout.read_to_string(&mut rest);
}
