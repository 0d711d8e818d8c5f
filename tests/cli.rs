//! The real binary: `check` on good and bad data, `serve` on port 0, graceful SIGTERM.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
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
    assert!(stdout.contains("153 local authorities"), "{stdout}");
    assert!(stdout.contains("142 partnerships"), "{stdout}");
    assert!(stdout.contains("131 LAs with partnership data"), "{stdout}");
    assert!(stdout.contains("123 with an LA-role entry"), "{stdout}");
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
    let mut child = bin()
        .args(["serve", "--bind", "127.0.0.1:0", "--max-zoom", "10"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).expect("read");
    let url = line.trim().rsplit(' ').next().expect("url").to_owned();
    assert!(url.starts_with("http://127.0.0.1:"), "{line}");

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

    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill")
            .success()
    );
    let status = wait_with_timeout(&mut child, Duration::from_secs(10));
    assert!(status.success(), "exit after SIGTERM: {status:?}");
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().expect("stderr"), &mut err)
        .expect("read");
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
