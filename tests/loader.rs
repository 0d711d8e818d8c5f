//! Data validation: each broken input yields a message naming file, line (or feature) and
//! column; all problems are collected; the shipped data loads cleanly.

mod common;

use partnership_map::dataset::{Dataset, Inputs};

/// Replace `from` by `to` in the line of `content` that contains `marker`; returns the new
/// content and the 1-based line number.
fn edit_line(content: &str, marker: &str, from: &str, to: &str) -> (String, usize) {
    let mut line_no = 0;
    let lines: Vec<String> = content
        .split('\n')
        .enumerate()
        .map(|(i, l)| {
            if line_no == 0 && l.contains(marker) {
                line_no = i + 1;
                assert!(l.contains(from), "line {} lacks {from:?}", i + 1);
                l.replacen(from, to, 1)
            } else {
                l.to_owned()
            }
        })
        .collect();
    assert!(line_no > 0, "no line contains {marker:?}");
    (lines.join("\n"), line_no)
}

fn problems(inputs: &Inputs) -> Vec<String> {
    match Dataset::from_inputs(inputs, 6) {
        Ok(_) => Vec::new(),
        Err(e) => e.problems.iter().map(ToString::to_string).collect(),
    }
}

fn expect(inputs: &Inputs, want: &str) {
    let got = problems(inputs);
    assert!(
        got.iter().any(|p| p.contains(want)),
        "wanted a problem containing\n  {want}\ngot\n  {}",
        got.join("\n  ")
    );
}

type Edit = fn(&mut Inputs) -> String;

#[test]
fn each_kind_of_bad_row_is_reported_with_file_line_and_column() {
    let cases: Vec<(&str, Edit)> = vec![
        ("unknown form", |i| {
            let (c, n) = edit_line(
                &i.partnerships.content,
                "barnet-school-improvement-partnerships,",
                ",school_led_network,",
                ",schoolled_company,",
            );
            i.partnerships.content = c;
            format!(
                "data/partnerships.csv:{n}: column \"form\": unknown value \"schoolled_company\" (expected one of: school_led_company, school_led_network,"
            )
        }),
        ("unknown phase", |i| {
            let (c, n) = edit_line(
                &i.partnerships.content,
                "barnet-school-improvement-partnerships,",
                ",all,",
                ",all;sixth_form,",
            );
            i.partnerships.content = c;
            format!("data/partnerships.csv:{n}: column \"phases\": unknown value \"sixth_form\"")
        }),
        ("unknown focus", |i| {
            let (c, n) = edit_line(
                &i.partnerships.content,
                "barnet-school-improvement-partnerships,",
                "school_to_school_support",
                "s2s",
            );
            i.partnerships.content = c;
            format!("data/partnerships.csv:{n}: column \"focus\": unknown value \"s2s\"")
        }),
        ("unknown la_involvement", |i| {
            let (c, n) = edit_line(
                &i.partnerships.content,
                "barnet-school-improvement-partnerships,",
                ",unknown,unknown,",
                ",sponsor,unknown,",
            );
            i.partnerships.content = c;
            format!(
                "data/partnerships.csv:{n}: column \"la_involvement\": unknown value \"sponsor\""
            )
        }),
        ("partnership in an LA that does not exist", |i| {
            let (c, n) = edit_line(
                &i.partnerships.content,
                "barnet-school-improvement-partnerships,",
                ",Barnet,",
                ",Barnet;Atlantis,",
            );
            i.partnerships.content = c;
            format!(
                "data/partnerships.csv:{n}: column \"la_names\": no local authority is named \"Atlantis\""
            )
        }),
        ("duplicate partnership id", |i| {
            let (c, n) = edit_line(
                &i.partnerships.content,
                "banes-school-standards-board,",
                "banes-school-standards-board,",
                "babcock-ldp-devon,",
            );
            i.partnerships.content = c;
            format!(
                "data/partnerships.csv:{n}: column \"id\": duplicate id \"babcock-ldp-devon\" (first on line 2)"
            )
        }),
        ("malformed source URL", |i| {
            let (c, n) = edit_line(
                &i.partnerships.content,
                "barnet-school-improvement-partnerships,",
                "https://docslib.org",
                "htps//docslib.org",
            );
            i.partnerships.content = c;
            format!(
                "data/partnerships.csv:{n}: column \"source_urls\": malformed URL \"htps//docslib.org"
            )
        }),
        ("bad founded year", |i| {
            let (c, n) = edit_line(
                &i.partnerships.content,
                "banes-school-standards-board,",
                ",2018,,",
                ",20018,,",
            );
            i.partnerships.content = c;
            format!("data/partnerships.csv:{n}: column \"founded\": \"20018\" is not a year")
        }),
        ("duplicate LA code", |i| {
            let (c, n) = edit_line(
                &i.local_authorities.content,
                "E06000002,Middlesbrough",
                "E06000002,",
                "E06000001,",
            );
            i.local_authorities.content = c;
            format!(
                "data/local_authorities.csv:{n}: column \"code\": duplicate code \"E06000001\" (first on line 2)"
            )
        }),
        ("duplicate LA name", |i| {
            let (c, n) = edit_line(
                &i.local_authorities.content,
                "E06000002,Middlesbrough",
                ",Middlesbrough,",
                ",Hartlepool,",
            );
            i.local_authorities.content = c;
            format!(
                "data/local_authorities.csv:{n}: column \"name\": duplicate name \"Hartlepool\""
            )
        }),
        ("malformed LA code", |i| {
            let (c, n) = edit_line(
                &i.local_authorities.content,
                "E06000002,Middlesbrough",
                "E06000002,",
                "W06000002,",
            );
            i.local_authorities.content = c;
            format!(
                "data/local_authorities.csv:{n}: column \"code\": \"W06000002\" is not an ONS GSS code"
            )
        }),
        ("unknown LA type", |i| {
            let (c, n) = edit_line(
                &i.local_authorities.content,
                "E06000002,Middlesbrough",
                ",unitary,",
                ",unitarian,",
            );
            i.local_authorities.content = c;
            format!(
                "data/local_authorities.csv:{n}: column \"la_type\": unknown value \"unitarian\""
            )
        }),
        ("unknown statistical neighbour", |i| {
            let (c, n) = edit_line(
                &i.local_authorities.content,
                "E06000001,Hartlepool",
                "E06000003;",
                "E99999999;",
            );
            i.local_authorities.content = c;
            format!(
                "data/local_authorities.csv:{n}: column \"stat_neighbours\": unknown LA code \"E99999999\""
            )
        }),
        ("not a number", |i| {
            let (c, n) = edit_line(
                &i.local_authorities.content,
                "E06000001,Hartlepool",
                ",36.0,",
                ",36,0,",
            );
            i.local_authorities.content = c;
            format!("data/local_authorities.csv:{n}: malformed CSV row")
        }),
        ("role flag that is not true or empty", |i| {
            let (c, n) = edit_line(
                &i.roles.content,
                "Barnsley,,true",
                "Barnsley,,true",
                "Barnsley,no,true",
            );
            i.roles.content = c;
            format!("data/la_school_improvement.csv:{n}: column \"funder\": unknown value \"no\"")
        }),
        ("role row for an unknown LA", |i| {
            let (c, n) = edit_line(&i.roles.content, "Barnsley,,true", "Barnsley,", "Barnsely,");
            i.roles.content = c;
            format!(
                "data/la_school_improvement.csv:{n}: column \"la_name\": no local authority is named \"Barnsely\""
            )
        }),
        ("missing column", |i| {
            i.roles.content = i.roles.content.replacen("convener,", "convenor,", 1);
            "data/la_school_improvement.csv:1: missing column(s): convener".to_owned()
        }),
        ("boundary with no LA row", |i| {
            i.boundaries.content =
                i.boundaries
                    .content
                    .replacen("\"E06000001\"", "\"E06000099\"", 1);
            "boundaries/england_upper_tier_las.geojson: feature 0 (E06000099): column \"code\": no row in data/local_authorities.csv has code or former code \"E06000099\"".to_owned()
        }),
        ("LA row with no boundary", |i| {
            i.boundaries.content =
                i.boundaries
                    .content
                    .replacen("\"E06000001\"", "\"E06000099\"", 1);
            "data/local_authorities.csv:2: column \"code\": no boundary in boundaries/england_upper_tier_las.geojson for \"E06000001\" (Hartlepool)".to_owned()
        }),
        ("empty geometry", |i| {
            let mut v: serde_json::Value =
                serde_json::from_str(&i.boundaries.content).expect("json");
            v["features"][3]["geometry"] =
                serde_json::json!({"type": "MultiPolygon", "coordinates": []});
            i.boundaries.content = v.to_string();
            "boundaries/england_upper_tier_las.geojson: feature 3 (E06000004): column \"geometry\": geometry is empty".to_owned()
        }),
        ("ring too short", |i| {
            let mut v: serde_json::Value =
                serde_json::from_str(&i.boundaries.content).expect("json");
            v["features"][5]["geometry"] = serde_json::json!({"type": "Polygon", "coordinates": [[[0.0, 51.0], [0.1, 51.0], [0.0, 51.0]]]});
            i.boundaries.content = v.to_string();
            "feature 5 (E06000006): column \"geometry\": polygon 0 ring 0: 3 positions; a ring needs at least 4".to_owned()
        }),
        ("wrong geometry type", |i| {
            let mut v: serde_json::Value =
                serde_json::from_str(&i.boundaries.content).expect("json");
            v["features"][7]["geometry"] =
                serde_json::json!({"type": "Point", "coordinates": [0.0, 51.0]});
            i.boundaries.content = v.to_string();
            "feature 7 (E06000008): column \"geometry\": type Point is not Polygon or MultiPolygon"
                .to_owned()
        }),
        ("not JSON", |i| {
            i.boundaries.content = "{\"type\": \"FeatureCollection\",\n \"features\": [".to_owned();
            "boundaries/england_upper_tier_las.geojson:2: not valid JSON".to_owned()
        }),
    ];
    for (what, edit) in cases {
        let mut inputs = common::shipped_inputs();
        let want = edit(&mut inputs);
        println!("case: {what}");
        expect(&inputs, &want);
    }
}

#[test]
fn all_problems_are_collected_not_just_the_first() {
    let mut i = common::shipped_inputs();
    i.partnerships.content = i
        .partnerships
        .content
        .replace(",school_led_network,", ",schoolled_network,");
    i.roles.content = i
        .roles
        .content
        .replacen("Barnsley,,true", "Barnsley,yes,true", 1);
    i.boundaries.content = i
        .boundaries
        .content
        .replacen("\"E06000001\"", "\"E06000099\"", 1);
    let got = problems(&i);
    let in_file = |f: &str| got.iter().filter(|p| p.starts_with(f)).count();
    let networks = common::csv_rows("partnerships.csv")
        .iter()
        .filter(|r| r["form"] == "school_led_network")
        .count();
    assert!(networks > 1);
    assert_eq!(
        in_file("data/partnerships.csv"),
        networks,
        "every school_led_network row: {got:#?}"
    );
    assert_eq!(in_file("data/la_school_improvement.csv"), 1);
    assert_eq!(in_file("boundaries/"), 1);
    assert_eq!(in_file("data/local_authorities.csv"), 1);
}

#[test]
fn the_shipped_data_loads_with_the_documented_coverage() {
    let ds = Dataset::from_inputs(&common::shipped_inputs(), 6).expect("shipped data is valid");
    let s = &ds.summary;
    let c = common::coverage();
    assert_eq!((s.las, s.partnerships), (c.las, c.partnerships));
    assert_eq!(s.las_with_partnerships, c.las_with_partnerships);
    assert_eq!(s.las_with_role, c.las_with_role);
    assert_eq!(c.roles, c.las_with_role, "one role row per LA at most");
    assert_eq!(s.las_with_data, c.las_with_data);
    assert_eq!(
        s.joined_by_former_code,
        vec![
            ("E08000016".to_owned(), "E08000038".to_owned()),
            ("E08000019".to_owned(), "E08000039".to_owned())
        ]
    );
    assert_eq!(s.vertices, 224_019);
}

#[test]
fn the_data_version_changes_with_any_input_byte() {
    let a = common::shipped_inputs();
    let mut b = a.clone();
    b.roles.content.push(' ');
    assert_ne!(a.version(), b.version());
    assert_eq!(a.version(), common::shipped_inputs().version());
}

#[test]
fn verification_columns_reach_the_tile_attributes() {
    use partnership_map::model::Value;
    let mut i = common::shipped_inputs();
    // Hartlepool's row ends with the two empty verification columns.
    let (c, _) = edit_line(
        &i.local_authorities.content,
        "E06000001,Hartlepool",
        ",97.3,0.0,2.7,,",
        ",97.3,0.0,2.7,true,2026-10-01",
    );
    i.local_authorities.content = c;
    let ds = Dataset::from_inputs(&i, 4).expect("valid");
    let attrs = &ds.attributes[0];
    let get = |k: &str| attrs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    assert_eq!(get("verified"), Some(Value::Bool(true)));
    assert_eq!(
        get("verified_date"),
        Some(Value::Str("2026-10-01".to_owned()))
    );
    let get1 = |k: &str| {
        ds.attributes[1]
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(get1("verified"), Some(Value::Bool(false)));
    assert_eq!(get1("verified_date"), None, "unknown dates are left out");

    let (c, n) = edit_line(
        &i.local_authorities.content,
        "E06000002,Middlesbrough",
        ",100.0,0.0,0.0,,",
        ",100.0,0.0,0.0,,01/10/2026",
    );
    i.local_authorities.content = c;
    let got = problems(&i);
    assert!(
        got.iter().any(|p| p.contains(&format!(
            "data/local_authorities.csv:{n}: column \"verified_date\": \"01/10/2026\" is not a date"
        ))),
        "{got:?}"
    );
}

#[test]
fn the_published_tables_write_back_the_shipped_files_byte_for_byte() {
    let inputs = common::shipped_inputs();
    let ds = Dataset::from_inputs(&inputs, 4).expect("valid");
    let [las, partnerships, roles] = ds.tables.files();
    assert_eq!(las.1, inputs.local_authorities.content);
    assert_eq!(partnerships.1, inputs.partnerships.content);
    assert_eq!(roles.1, inputs.roles.content);
    assert_eq!(ds.version, inputs.version());
}

#[test]
fn new_tables_over_the_same_geometry_publish_a_new_version_and_keep_the_polygons() {
    let ds = common::dataset();
    let mut tables = ds.tables.clone();
    let row = tables
        .local_authorities
        .rows
        .iter()
        .position(|r| r.fields[0] == "E06000026")
        .expect("Plymouth");
    tables.local_authorities.set(row, "verified", "true");
    tables
        .local_authorities
        .set(row, "verified_date", "2026-11-28");
    let next = ds.with_tables(tables, None).expect("valid");
    assert_ne!(next.version, ds.version);
    assert!(std::sync::Arc::ptr_eq(&next.geometry, &ds.geometry));
    let i = next.la_index("E06000026").expect("Plymouth");
    assert!(next.las[i].verified);
    assert_eq!(next.las[i].verified_date.as_deref(), Some("2026-11-28"));
    // Only Plymouth's line differs in the written file.
    let (before, after) = (
        ds.tables.files()[0].1.clone(),
        next.tables.files()[0].1.clone(),
    );
    let changed: Vec<(&str, &str)> = before
        .lines()
        .zip(after.lines())
        .filter(|(a, b)| a != b)
        .collect();
    assert_eq!(changed.len(), 1, "{changed:?}");
    assert!(changed[0].1.starts_with("E06000026,Plymouth,"));
    assert!(changed[0].1.ends_with(",true,2026-11-28"));
}
