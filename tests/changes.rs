//! The change log's pure core on the shipped tables: every kind's inverse restores the files
//! byte for byte, and a replay skips what the files already contain and reports what no
//! longer fits.

mod common;

use partnership_map::changes::{Change, LoggedChange, NewChange, apply, parse_edit, replay_after};
use serde_json::{Value, json};

fn change(v: Value) -> Change {
    parse_edit(&v).expect("well formed").change
}

fn cases() -> Vec<Change> {
    vec![
        change(
            json!({"kind": "partnership.create", "reason": "r", "partnership": {
            "id": "pure-test", "name": "Pure Test", "la_codes": ["E06000010", "E06000011"], "form": "other",
            "phases": ["all"], "focus": ["cpd"], "la_involvement": "none", "legal_form": "charity",
            "source_urls": ["https://www.example.org/x"], "evidence_date": "2020/2024", "notes": "a, \"quoted\"\nline"}}),
        ),
        change(
            json!({"kind": "partnership.update", "id": "hull-learning-partnership", "reason": "r",
            "fields": {"website": "https://www.example.org/hull", "founded": 2001, "la_codes": ["E06000010", "E06000011"]}}),
        ),
        change(
            json!({"kind": "partnership.retire", "id": "hull-learning-partnership", "reason": "r"}),
        ),
        change(
            json!({"kind": "la_role.set", "la": "E08000021", "reason": "r", "fields": {
            "deliverer": true, "summary": "s", "source_urls": ["https://www.example.org/n"], "evidence_date": "2025"}}),
        ),
        change(
            json!({"kind": "la_role.set", "la": "E08000018", "reason": "r", "fields": {"convener": false, "summary": "New summary."}}),
        ),
        change(json!({"kind": "la_role.remove", "la": "E08000018", "reason": "r"})),
        change(
            json!({"kind": "la.verify", "la": "E06000026", "verified": true, "date": "2026-11-28", "reason": "r"}),
        ),
    ]
}

#[test]
fn every_kind_of_change_is_undone_byte_for_byte() {
    let ds = common::dataset();
    let original = ds.tables.files();
    for c in cases() {
        let done = apply(&ds.tables, &c).unwrap_or_else(|e| panic!("{c:?}: {e:?}"));
        assert!(!done.diff.is_empty());
        assert_ne!(done.tables.files(), original, "{c:?} changed something");
        let undone = apply(&done.tables, &done.inverse)
            .unwrap_or_else(|e| panic!("inverse of {c:?}: {e:?}"));
        // A retired or removed row comes back at the end of its file: same rows, maybe moved.
        let sorted = |files: [(&'static str, String); 3]| {
            files.map(|(n, t)| {
                let mut l: Vec<String> = t.split_inclusive('\n').map(str::to_owned).collect();
                l.sort();
                (n, l)
            })
        };
        match c {
            Change::PartnershipRetire { .. } | Change::LaRoleRemove { .. } => {
                assert_eq!(
                    sorted(undone.tables.files()),
                    sorted(original.clone()),
                    "{c:?}"
                );
            }
            _ => assert_eq!(undone.tables.files(), original, "{c:?}"),
        }
        // Undoing the undo redoes the change.
        let redone = apply(&undone.tables, &undone.inverse).expect("redo");
        assert_eq!(
            sorted(redone.tables.files()),
            sorted(done.tables.files()),
            "{c:?}"
        );
    }
}

fn logged(id: i64, c: Change) -> LoggedChange {
    NewChange {
        editor: "e".into(),
        undo: c.clone(),
        change: c,
        reason: "r".into(),
        submission: None,
        verification: None,
        reverts: None,
        summary: format!("change {id}"),
        la_codes: vec![],
        diff: vec![],
    }
    .logged(id, format!("2026-11-2{id}T10:00:00Z"))
}

#[test]
fn a_replay_skips_changes_in_the_files_and_reports_those_that_no_longer_fit() {
    let ds = common::dataset();
    let log = vec![
        logged(1, cases()[0].clone()),
        logged(2, cases()[6].clone()),
        logged(
            3,
            change(
                json!({"kind": "partnership.update", "id": "no-such-partnership", "fields": {"name": "x"}, "reason": "r"}),
            ),
        ),
        logged(4, cases()[3].clone()),
    ];
    let r = replay_after(&ds.tables, &log, 1);
    assert_eq!((r.in_files, r.applied, r.through), (1, 2, 4));
    assert_eq!(r.conflicts.len(), 1);
    assert_eq!(r.conflicts[0].change, 3);
    assert!(r.conflicts[0].problems["id"].contains("no partnership"));
    assert_eq!(r.last_applied_at.as_deref(), Some("2026-11-24T10:00:00Z"));
    let csv = &r.tables.files()[1].1;
    assert!(
        !csv.contains("pure-test"),
        "change 1 was skipped as already in the files"
    );
}
