//! Schemathesis (PyPI, pinned in `tests/gdal/requirements.txt`, installed by `scripts/test.sh`
//! into `target/gdal-venv`) fuzzes the real server over both OpenAPI documents with every
//! check: server errors, status codes, content types, response headers and schemas, negative
//! and positive data, missing headers, unsupported methods, ignored auth. It must end with no
//! failure and no error. Operations that change data (the POSTs) run against a second server
//! with a throwaway database; the read-only ones against the first. Fails when Schemathesis
//! cannot run.
//!
//! No hooks: every rule is in the description or in what the server answers. A tile column or
//! row at or above 2^z is a tile that does not exist (404, as OGC API – Tiles allows), and a
//! comparison `with` only the LA itself is its comparison with its statistical neighbours.
//! Not yet the defaults: the stateful phase is left out because Schemathesis takes same-origin
//! URLs in JSON answers as links, and TileJSON's `tiles` is a URL *template*: it then asks for
//! `/tiles/{date}/%7Bz%7D/…` as a schema-valid tile (the server answers 400, a malformed
//! address), which fails its positive-data check.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

const TOKEN: &str = "schemathesis-editor-token-0123456789";
/// Examples per operation and phase: enough to find shape and status mistakes, small enough
/// for CI (about two minutes in all on two cores).
const MAX_EXAMPLES: &str = "25";

fn schemathesis() -> PathBuf {
    let st = common::venv_python().with_file_name("schemathesis");
    assert!(
        st.exists(),
        "{} is missing: scripts/test.sh installs it with \
         `target/gdal-venv/bin/pip install -r tests/gdal/requirements.txt`",
        st.display()
    );
    st
}

fn start(dir: &Path) -> common::Server {
    common::Server::start(
        &[
            "--max-zoom".as_ref(),
            "8".as_ref(),
            "--db".as_ref(),
            dir.join("pm.db").as_os_str(),
            // `/metrics` on this router too, so that its description is checked as well.
            "--metrics-bind".as_ref(),
            "main".as_ref(),
        ],
        &[("PARTNERSHIP_MAP_ADMIN_TOKEN", TOKEN)],
    )
}

/// Run Schemathesis on `schema` with `extra` arguments; panics with its report unless it
/// passes and tested at least one operation.
fn run(schema: &str, extra: &[&str], report: &str) {
    let out_dir = common::repo().join("test-artifacts");
    std::fs::create_dir_all(&out_dir).expect("test-artifacts");
    let junit = out_dir.join(format!("schemathesis-{report}.xml"));
    let out = Command::new(schemathesis())
        .current_dir(common::repo())
        .env("NO_COLOR", "1")
        .args([
            "run",
            schema,
            "--checks",
            "all",
            "--max-examples",
            MAX_EXAMPLES,
        ])
        .args([
            "--workers",
            "2",
            "--seed",
            "1",
            "--no-color",
            "--generation-database",
            "none",
        ])
        .args(["--phases", "examples,coverage,fuzzing"])
        .args(["--header", &format!("Authorization: Bearer {TOKEN}")])
        .args(["--report", "junit", "--report-junit-path"])
        .arg(&junit)
        .args(extra)
        .output()
        .expect("run schemathesis");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "Schemathesis failed on {schema} ({report}):\n{stdout}\n{stderr}"
    );
    // Its count of test cases, e.g. "5011 generated, 5011 passed, 8 skipped": something was
    // tested, and nothing failed or errored.
    let summary = stdout
        .lines()
        .find(|l| l.contains(" generated,"))
        .unwrap_or_default()
        .trim();
    let count = |word: &str| -> u64 {
        summary
            .split(", ")
            .find_map(|part| part.strip_suffix(word))
            .and_then(|n| n.trim().split(' ').next_back()?.parse().ok())
            .unwrap_or(0)
    };
    assert!(
        count(" passed") > 0 && count(" failed") == 0 && !summary.contains("error"),
        "unexpected summary {summary:?}:\n{stdout}"
    );
    assert!(
        !stdout.contains("Unresolvable references"),
        "parts of the schema were skipped:\n{stdout}"
    );
    println!("{report}: {summary}");
}

#[test]
fn schemathesis_finds_nothing_over_both_documents() {
    let dir = tempfile::tempdir().expect("tmp");
    let server = start(dir.path());
    let base = &server.base;
    // Read-only operations: the whole description, then the OGC part on its own.
    run(
        &format!("{base}/api/openapi.json"),
        &["--exclude-method", "POST"],
        "read",
    );
    run(&format!("{base}/ogc/api"), &[], "ogc");
    drop(server);

    // Operations that change data, on a server with a database of its own.
    let throwaway = tempfile::tempdir().expect("tmp");
    let server = start(throwaway.path());
    // Every check but one: the positive-data check would have each schema-valid edit or
    // submission accepted, but whether an edit applies (the partnership exists, the role row
    // is there to remove, the fields fit) is decided against the data, and the server answers
    // 422 or 400 with the field named. Those answers are still checked for status, content
    // type and schema.
    run(
        &format!("{}/api/openapi.json", server.base),
        &[
            "--include-method",
            "POST",
            "--exclude-checks",
            "positive_data_acceptance",
        ],
        "write",
    );
}
