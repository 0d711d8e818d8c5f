//! The real binary: `check` on good and bad data, `serve` on port 0, graceful SIGTERM.

mod common;

use std::process::Command;
use std::time::Duration;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_partnership-map"));
    c.current_dir(common::repo()).env("RUST_LOG", "info");
    c
}

#[test]
fn check_prints_a_summary_of_the_shipped_data() {
    let out = bin().arg("check").output().expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let c = common::coverage();
    for want in [
        format!("{} local authorities", c.las),
        format!("{} partnerships", c.partnerships),
        format!("{} LAs with partnership data", c.las_with_partnerships),
        format!("{} with an LA-role entry", c.las_with_role),
        format!("{} with any data", c.las_with_data),
    ] {
        assert!(stdout.contains(&want), "{want:?} not in {stdout}");
    }
    assert!(
        stdout.contains("boundary E08000016 joined to E08000038 through former_codes"),
        "{stdout}"
    );
}

#[test]
fn check_lists_every_problem_in_broken_data_and_fails() {
    let dir = tempfile::tempdir().expect("tmp");
    let data = dir.path().join("data");
    std::fs::create_dir(&data).expect("mkdir");
    for f in ["local_authorities.csv", "la_school_improvement.csv"] {
        std::fs::copy(common::repo().join("data").join(f), data.join(f)).expect("copy");
    }
    let p = std::fs::read_to_string(common::repo().join("data/partnerships.csv")).expect("read");
    std::fs::write(
        data.join("partnerships.csv"),
        p.replacen(",school_led_network,", ",schoolled_network,", 1)
            .replacen(",Devon,", ",Devonshire,", 1),
    )
    .expect("write");
    let out = bin()
        .arg("check")
        .arg("--data")
        .arg(&data)
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("2 problems in the data"), "{stderr}");
    assert!(
        stderr.contains(
            "partnerships.csv:2: column \"la_names\": no local authority is named \"Devonshire\""
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("column \"form\": unknown value \"schoolled_network\""),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn missing_files_are_named() {
    let out = bin()
        .args(["check", "--boundaries", "/nonexistent"])
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("/nonexistent/england_upper_tier_las.geojson: cannot read file"),
        "{stderr}"
    );
}

#[test]
fn serve_listens_answers_and_shuts_down_gracefully_on_sigterm() {
    let dir = tempfile::tempdir().expect("tmp");
    let db = dir.path().join("pm.db");
    let mut server = common::Server::start(
        &[
            "--max-zoom".as_ref(),
            "10".as_ref(),
            "--db".as_ref(),
            db.as_os_str(),
        ],
        &[],
    );
    let url = server.base.clone();

    let rt = tokio::runtime::Runtime::new().expect("rt");
    rt.block_on(async {
        let addr = url.trim_start_matches("http://").to_owned();
        let health = raw_get(&addr, "/health").await;
        assert!(health.starts_with("HTTP/1.1 200"), "{health}");
        assert!(health.contains("\"status\":\"ok\""), "{health}");
        let tile = raw_get(&addr, "/tiles/11/0/0.pbf").await;
        assert!(
            tile.starts_with("HTTP/1.1 400"),
            "max zoom flag honoured: {tile}"
        );
    });

    signal(&server, "-TERM");
    let status = wait_with_timeout(&mut server.child, Duration::from_secs(10));
    assert!(status.success(), "exit after SIGTERM: {status:?}");
    let err = server.log();
    assert!(
        err.contains("route=\"/health\"")
            && err.contains("status=200")
            && err.contains("latency_us="),
        "one log line per request: {err}"
    );
    assert!(err.contains("shut down cleanly"), "{err}");
}

fn wait_with_timeout(child: &mut std::process::Child, limit: Duration) -> std::process::ExitStatus {
    let start = std::time::Instant::now();
    loop {
        if let Some(s) = child.try_wait().expect("wait") {
            return s;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("server did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

async fn raw_get(addr: &str, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    s.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .expect("write");
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.expect("read");
    String::from_utf8_lossy(&buf).into_owned()
}

fn start(db: &std::path::Path) -> common::Server {
    common::Server::start(
        &[
            "--max-zoom".as_ref(),
            "6".as_ref(),
            "--db".as_ref(),
            db.as_os_str(),
        ],
        &[("PARTNERSHIP_MAP_ADMIN_TOKEN", "durability-token-0123456789")],
    )
}

async fn raw(addr: &str, request: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    s.write_all(request.as_bytes()).await.expect("write");
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.expect("read");
    String::from_utf8_lossy(&buf).into_owned()
}

/// POST `body` as a submission; asserts the 201 and returns its reference.
async fn submit(addr: &str, body: &str) -> String {
    let response = raw(
        addr,
        &format!(
            "POST /api/submissions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
    )
    .await;
    assert!(response.starts_with("HTTP/1.1 201"), "{response}");
    response
        .split("\"id\":\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("id")
        .to_owned()
}

/// Send `sig` (`-KILL`, `-TERM`, `-HUP`) to the server process.
fn signal(server: &common::Server, sig: &str) {
    let pid = server.child.id().to_string();
    assert!(
        Command::new("kill")
            .args([sig, &pid])
            .status()
            .expect("kill")
            .success()
    );
}

#[test]
fn an_acknowledged_submission_survives_kill_9() {
    let dir = tempfile::tempdir().expect("tmp");
    let db = dir.path().join("var/pm.db");
    let mut server = start(&db);
    let rt = tokio::runtime::Runtime::new().expect("rt");
    let body = r#"{"la":"E08000038","kind":"correction","message":"Barnsley Alliance has a new chair.","name":"Durable Dana","email":"dana@example.org","consent":true}"#;
    let id = rt.block_on(submit(server.addr(), body));
    // Straight after the 201: SIGKILL, no chance to flush anything.
    signal(&server, "-KILL");
    let status = server.child.wait().expect("wait");
    assert!(!status.success(), "killed, not exited");
    let err = server.log();
    assert!(
        !err.contains("dana@example.org") && !err.contains("Durable Dana"),
        "no personal data in logs: {err}"
    );

    let mut again = start(&db);
    let got = rt.block_on(raw(
        again.addr(),
        &format!("GET /api/admin/submissions/{id} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer durability-token-0123456789\r\nConnection: close\r\n\r\n"),
    ));
    assert!(got.starts_with("HTTP/1.1 200"), "{got}");
    assert!(
        got.contains("Barnsley Alliance has a new chair.") && got.contains("dana@example.org"),
        "{got}"
    );
    // The log names a submission by its reference only. Log lines are written in batches off
    // the request path, so a SIGKILL may lose the last few milliseconds of them (never the
    // data): check the log of a server stopped with SIGTERM, which flushes it.
    let id2 = rt.block_on(submit(again.addr(), body));
    signal(&again, "-TERM");
    again.child.wait().expect("wait");
    let err = again.log();
    assert!(err.contains(&id2), "the log names the reference: {err}");
    assert!(
        !err.contains("dana@example.org") && !err.contains("Durable Dana"),
        "no personal data in logs: {err}"
    );
}

#[test]
fn sighup_reloads_the_data() {
    let dir = tempfile::tempdir().expect("tmp");
    let data = dir.path().join("data");
    std::fs::create_dir(&data).expect("mkdir");
    for f in [
        "local_authorities.csv",
        "la_school_improvement.csv",
        "partnerships.csv",
    ] {
        std::fs::copy(common::repo().join("data").join(f), data.join(f)).expect("copy");
    }
    let db = dir.path().join("pm.db");
    let server = common::Server::start(
        &[
            "--max-zoom".as_ref(),
            "4".as_ref(),
            "--data".as_ref(),
            data.as_os_str(),
            "--db".as_ref(),
            db.as_os_str(),
        ],
        &[],
    );
    let addr = server.addr().to_owned();
    let rt = tokio::runtime::Runtime::new().expect("rt");
    let version = |rt: &tokio::runtime::Runtime| {
        let h = rt.block_on(raw(
            &addr,
            "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        ));
        h.split("\"data_version\":\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .expect("version")
            .to_owned()
    };
    let before = version(&rt);
    let p = data.join("la_school_improvement.csv");
    let text = std::fs::read_to_string(&p).expect("read");
    std::fs::write(
        &p,
        text.replacen("Barnsley Council's cabinet", "Barnsley Council cabinet", 1),
    )
    .expect("write");
    signal(&server, "-HUP");
    let mut after = before.clone();
    for _ in 0..100 {
        std::thread::sleep(Duration::from_millis(50));
        after = version(&rt);
        if after != before {
            break;
        }
    }
    assert_ne!(after, before, "SIGHUP reloaded the data");
}

#[test]
fn export_writes_an_archive_and_prints_a_summary() {
    let dir = tempfile::tempdir().expect("tmp");
    let out_file = dir.path().join("england.pmtiles");
    let out = bin()
        .args(["export", "--format", "pmtiles", "--max-zoom", "7", "--out"])
        .arg(&out_file)
        .output()
        .expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("tiles of") && stdout.contains("zooms 0-7"),
        "{stdout}"
    );
    assert!(std::fs::metadata(&out_file).expect("written").len() > 10_000);
    let bad = bin()
        .args(["export", "--format", "zip", "--out", "x"])
        .output()
        .expect("run");
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("invalid value 'zip'"));
}
