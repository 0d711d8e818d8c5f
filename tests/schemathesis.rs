//! Schemathesis (PyPI, pinned in `tests/gdal/requirements.txt`, installed by `scripts/test.sh`
//! into `target/gdal-venv`) over both OpenAPI documents of the real server, exactly as a new
//! user would run it: `st run --checks all URL` with nothing else (no hooks, no config, every
//! default: 100 examples, every phase including the stateful one that follows the documents'
//! links), against a server started with default flags (a throwaway database and a free port
//! aside). Each run must exit 0 with no failure and no error. Fails when Schemathesis cannot run.
//!
//! A third run, beyond the defaults, covers what a default server does not describe: the
//! editors' operations (edits, reverts, reviews, verification rounds), on a server with an
//! editor token and a database of its own, with the token as a header. Its positive-data check
//! is left out: whether an edit applies (the partnership it updates exists, the role row is
//! there to remove) is decided against the data, and the server answers 422 or 400 naming the
//! field; those answers are still checked for status, content type and schema.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

const TOKEN: &str = "schemathesis-editor-token-0123456789";
/// Examples per operation and phase of the editors' run (the default runs take Schemathesis's
/// own default, 100).
const EDITOR_MAX_EXAMPLES: &str = "25";

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

/// Run `schemathesis run --checks all <schema> <extra…>` in `cwd` (where it keeps its example
/// database); panics with its report unless it exits 0, tested something, and found no
/// failure and no error.
fn run(cwd: &Path, schema: &str, extra: &[&str], report: &str) {
    let out = Command::new(schemathesis())
        .current_dir(cwd)
        .args(["run", "--checks", "all", schema])
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
fn schemathesis_with_its_defaults_finds_nothing_over_both_documents() {
    let dir = tempfile::tempdir().expect("tmp");
    let db = dir.path().join("pm.db");
    let server = common::Server::start(&["--db".as_ref(), db.as_os_str()], &[]);
    let base = &server.base;
    run(dir.path(), &format!("{base}/api/openapi.json"), &[], "api");
    run(dir.path(), &format!("{base}/ogc/api"), &[], "ogc");
}

#[test]
fn schemathesis_finds_nothing_in_the_editors_operations() {
    let dir = tempfile::tempdir().expect("tmp");
    let db = dir.path().join("pm.db");
    let server = common::Server::start(
        &["--db".as_ref(), db.as_os_str()],
        &[("PARTNERSHIP_MAP_ADMIN_TOKEN", TOKEN)],
    );
    run(
        dir.path(),
        &format!("{}/api/openapi.json", server.base),
        &[
            "--include-method",
            "POST",
            "--max-examples",
            EDITOR_MAX_EXAMPLES,
            "--exclude-checks",
            "positive_data_acceptance",
            "--header",
            &format!("Authorization: Bearer {TOKEN}"),
        ],
        "editors",
    );
}
