//! `docs/FIELDS.md` is generated from `src/schema.rs`; this fails when they drift apart.
//! `UPDATE_FIELDS_DOC=1 cargo test --test fields_doc` rewrites it.

#[test]
fn docs_fields_md_matches_the_schema() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/FIELDS.md");
    let want = partnership_map::schema::fields_markdown();
    if std::env::var_os("UPDATE_FIELDS_DOC").is_some() {
        std::fs::write(&path, &want).expect("write docs/FIELDS.md");
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == want,
        "docs/FIELDS.md is out of date: run UPDATE_FIELDS_DOC=1 cargo test --test fields_doc"
    );
    assert!(want.contains("| `role_convener` | Boolean |"));
}
