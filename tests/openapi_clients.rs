//! Standard clients read the API descriptions without workarounds, each from PyPI (pinned in
//! `tests/gdal/requirements.txt`, installed by `scripts/test.sh` into `target/gdal-venv`):
//! - OWSLib finds the OGC landing page's `service-desc` link, which it accepts only as OpenAPI
//!   3.0 (`application/vnd.oai.openapi+json;version=3.0`), and returns the document; the
//!   conformance declaration claims OGC API – Features' `oas30` class;
//! - openapi-spec-validator finds `/ogc/api` valid OpenAPI 3.0, `/api/openapi.json` valid 3.1,
//!   and the whole description converted to 3.0 (`http::oas30::downgrade`) valid 3.0 as well.
//!
//! Fails when the venv is missing.

mod common;

use std::process::Command;

use serde_json::Value;

#[test]
fn owslib_reads_the_service_description_as_openapi_3_0() {
    let python = common::venv_python();
    let (server, _db) = common::start_small(&[], &[]);
    let url = format!("{}/ogc", server.base);
    let out = Command::new(&python)
        .args([
            "-c",
            "import sys; from owslib.ogcapi.features import Features; \
             print(len(Features(sys.argv[1]).api()['paths']))",
        ])
        .arg(&url)
        .output()
        .expect("run OWSLib");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "OWSLib failed: {}{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed: usize = stdout
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("OWSLib printed {stdout:?}, not a number"));

    // What the server itself serves at /ogc/api.
    let r = common::http(server.addr(), "GET", "/ogc/api", &[], None);
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-type"),
        Some("application/vnd.oai.openapi+json;version=3.0")
    );
    let doc = r.json();
    assert!(
        doc["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.0.")),
        "{}",
        doc["openapi"]
    );
    let paths = doc["paths"].as_object().expect("paths").len();
    assert!(paths > 10, "only {paths} paths in /ogc/api");
    assert_eq!(
        printed, paths,
        "OWSLib's document has another number of paths"
    );

    // The conformance declaration claims OpenAPI 3.0 again.
    let conf: Value = common::http(server.addr(), "GET", "/ogc/conformance", &[], None).json();
    let classes: Vec<&str> = conf["conformsTo"]
        .as_array()
        .expect("conformsTo")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        classes.contains(&"http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30"),
        "{classes:?}"
    );
}

#[test]
fn openapi_spec_validator_accepts_both_documents_and_the_whole_one_in_3_0() {
    let python = common::venv_python();
    let (server, _db) = common::start_small(&[], &[]);
    let dir = tempfile::tempdir().expect("tmp");
    let ogc = common::http(server.addr(), "GET", "/ogc/api", &[], None).json();
    let whole = common::http(server.addr(), "GET", "/api/openapi.json", &[], None).json();
    assert!(
        whole["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1."))
    );
    let whole_30 = partnership_map::http::oas30::downgrade(whole.clone());
    let mut files = Vec::new();
    for (name, doc, version) in [
        ("ogc.json", &ogc, "3.0"),
        ("whole.json", &whole, "3.1"),
        ("whole-3.0.json", &whole_30, "3.0"),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, doc.to_string()).expect("write");
        assert!(
            doc["openapi"]
                .as_str()
                .is_some_and(|v| v.starts_with(version)),
            "{name} is {}",
            doc["openapi"]
        );
        files.push(path);
    }
    let out = Command::new(&python)
        .args(["-m", "openapi_spec_validator"])
        .args(&files)
        .output()
        .expect("run openapi-spec-validator");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "openapi-spec-validator: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // One "OK" line per document.
    assert_eq!(
        stdout.lines().filter(|l| l.ends_with(": OK")).count(),
        3,
        "{stdout}"
    );
}
