//! A new LA made of whole districts and parts of a split district (`made_of` = `geometry`,
//! `data/geometries/<new_code>.geojson`). Each test copies the shipped data and boundaries
//! into a temporary folder and adds a future vesting date that abolishes a real two-tier
//! county: its first district is cut in two along a line (geo boolean operations, here in the
//! test; nothing is shipped), one new LA takes the other districts whole plus one piece, the
//! other takes the second piece alone. The loader must make them, their areas must add up to
//! the county's within 0.01 %, tiles and the API must serve them, and each kind of broken
//! boundary file must be refused with its file, place and measure.

mod common;

use std::path::{Path, PathBuf};

use geo::{BooleanOps, BoundingRect, Coord, GeodesicArea, LineString, MultiPolygon, Polygon};
use partnership_map::dataset::split::{AREA_TOLERANCE, lonlat, multi_polygon};
use partnership_map::dataset::{Dataset, GEOMETRIES_DIR, LoadError};
use serde_json::{Value, json};

/// One district of `boundaries/england_districts.geojson`.
struct District {
    code: String,
    geometry: MultiPolygon<f64>,
}

/// The scenario: a copy of the shipped folders and the split of one county.
struct Split {
    dir: tempfile::TempDir,
    date: String,
    county: String,
    /// The first of its districts, the one that is split.
    split: District,
    /// Its other districts, taken whole by the first new LA.
    whole: Vec<District>,
    /// The two pieces of the split district.
    pieces: [MultiPolygon<f64>; 2],
    /// Codes of the two new LAs.
    new: [String; 2],
    /// 1-based lines of their rows in the copied `reorganisations.csv`.
    lines: [usize; 2],
    /// A district of another county (for a piece outside).
    elsewhere: District,
}

fn to_geo(geometry: &Value) -> MultiPolygon<f64> {
    let polygon = |rings: &Value| -> Polygon<f64> {
        let ring = |r: &Value| -> LineString<f64> {
            r.as_array()
                .expect("ring")
                .iter()
                .map(|p| Coord {
                    x: p[0].as_f64().expect("lon"),
                    y: p[1].as_f64().expect("lat"),
                })
                .collect::<Vec<_>>()
                .into()
        };
        let rings = rings.as_array().expect("rings");
        Polygon::new(ring(&rings[0]), rings[1..].iter().map(ring).collect())
    };
    match geometry["type"].as_str() {
        Some("Polygon") => MultiPolygon::new(vec![polygon(&geometry["coordinates"])]),
        Some("MultiPolygon") => MultiPolygon::new(
            geometry["coordinates"]
                .as_array()
                .expect("polygons")
                .iter()
                .map(polygon)
                .collect(),
        ),
        other => panic!("unexpected geometry {other:?}"),
    }
}

/// `geometry` as GeoJSON (closed rings, exterior first).
fn to_geojson(geometry: &MultiPolygon<f64>) -> Value {
    json!({"type": "MultiPolygon", "coordinates": lonlat(geometry)})
}

/// A FeatureCollection of `(code, name, geometry)` features.
fn collection(features: &[(&str, &str, Value)]) -> String {
    let features: Vec<Value> = features
        .iter()
        .map(|(code, name, geometry)| {
            json!({"type": "Feature", "properties": {"code": code, "name": name}, "geometry": geometry})
        })
        .collect();
    serde_json::to_string_pretty(&json!({"type": "FeatureCollection", "features": features}))
        .expect("json")
}

/// Geodesic area in km².
fn km2(m: &MultiPolygon<f64>) -> f64 {
    m.geodesic_area_unsigned() / 1e6
}

/// The half-plane left of the line through `c` in direction `d`, as a large quadrilateral.
fn half_plane(c: Coord<f64>, d: Coord<f64>) -> Polygon<f64> {
    let far = 10.0;
    let n = Coord { x: -d.y, y: d.x };
    let a = c - d * far;
    let b = c + d * far;
    Polygon::new(
        LineString::from(vec![a, b, b + n * far, a + n * far, a]),
        Vec::new(),
    )
}

/// Cut `m` along the line through the centre of its bounding box at 60° from east.
fn cut(m: &MultiPolygon<f64>) -> [MultiPolygon<f64>; 2] {
    let c = m.bounding_rect().expect("a box").center();
    let d = Coord {
        x: 60f64.to_radians().cos(),
        y: 60f64.to_radians().sin(),
    };
    let left = m.intersection(&half_plane(c, d));
    let right = m.intersection(&half_plane(c, -d));
    [left, right]
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        if entry.path().is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name())).expect("copy");
        }
    }
}

impl Split {
    /// Copy the shipped folders, pick the county and cut its first district.
    fn new() -> Self {
        let ds = common::dataset();
        let repo = common::repo();
        let dir = tempfile::tempdir().expect("tmp");
        copy_dir(&repo.join("boundaries"), &dir.path().join("boundaries"));
        copy_dir(&repo.join("data"), &dir.path().join("data"));
        // A vesting date a year after the table's last one.
        let last = ds.timeline().starts.last().expect("a start").clone();
        let year: i32 = last[..4].parse().expect("year");
        let date = format!("{}{}", year + 1, &last[4..]);
        // The first county (in file order) of at least three districts that is in force on
        // the eve of that date and that no shipped row abolishes.
        let text = std::fs::read_to_string(repo.join("boundaries/england_districts.geojson"))
            .expect("districts");
        let file: Value = serde_json::from_str(&text).expect("json");
        let features = file["features"].as_array().expect("features");
        let upper = |f: &Value| {
            f["properties"]["utla_code"]
                .as_str()
                .expect("utla")
                .to_owned()
        };
        let code = |f: &Value| f["properties"]["code"].as_str().expect("code").to_owned();
        let county = features
            .iter()
            .map(upper)
            .find(|u| {
                features.iter().filter(|f| &upper(f) == u).count() >= 3
                    && ds
                        .any_la(u)
                        .is_some_and(|l| l.valid_to.is_none() && l.replaced_by.is_empty())
            })
            .expect("a two-tier county the table leaves alone");
        let mut districts: Vec<District> = features
            .iter()
            .filter(|f| upper(f) == county)
            .map(|f| District {
                code: code(f),
                geometry: to_geo(&f["geometry"]),
            })
            .collect();
        let split = districts.remove(0);
        let elsewhere = features
            .iter()
            .find(|f| upper(f) != county)
            .map(|f| District {
                code: code(f),
                geometry: to_geo(&f["geometry"]),
            })
            .expect("another district");
        let pieces = cut(&split.geometry);
        for p in &pieces {
            assert!(
                km2(p) > 0.05 * km2(&split.geometry),
                "the line cuts {} in two real pieces",
                split.code
            );
        }
        // The new LAs are of the type of the shipped table's first new LA, with provisional
        // codes of its family, unused.
        let model = &ds.timeline().reorganisations[0];
        let new = [90001, 90002].map(|n| format!("{}P{n:05}", &model.new_code[..3]));
        for c in &new {
            assert!(ds.any_la(c).is_none(), "{c} is free");
        }
        let la = ds.any_la(&county).expect("county");
        let table = dir.path().join("data/reorganisations.csv");
        let mut csv = std::fs::read_to_string(&table).expect("table");
        if !csv.ends_with('\n') {
            csv.push('\n');
        }
        let first_line = csv.lines().count() + 1;
        let whole: Vec<&str> = districts.iter().map(|d| d.code.as_str()).collect();
        for (k, (name, whole)) in [
            ("Test Split West", whole.join(";")),
            ("Test Split East", String::new()),
        ]
        .iter()
        .enumerate()
        {
            csv.push_str(&format!(
                "{date},decided,{county},{},{},{name},{},provisional,geometry,{whole},https://www.example.org/split,test fixture: {} is split\n",
                la.name, new[k], model.new_la_type, split.code
            ));
        }
        std::fs::write(&table, csv).expect("write table");
        let s = Self {
            dir,
            date,
            county,
            split,
            whole: districts,
            pieces,
            new,
            lines: [first_line, first_line + 1],
            elsewhere,
        };
        s.write(
            0,
            &collection(&[(s.new[0].as_str(), "West piece", to_geojson(&s.pieces[0]))]),
        );
        s.write(
            1,
            &collection(&[(s.new[1].as_str(), "East piece", to_geojson(&s.pieces[1]))]),
        );
        s
    }

    fn boundaries(&self) -> PathBuf {
        self.dir.path().join("boundaries")
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Path of new LA `k`'s boundary file.
    fn file(&self, k: usize) -> PathBuf {
        self.data()
            .join(GEOMETRIES_DIR)
            .join(format!("{}.geojson", self.new[k]))
    }

    fn write(&self, k: usize, text: &str) {
        std::fs::create_dir_all(self.data().join(GEOMETRIES_DIR)).expect("mkdir");
        std::fs::write(self.file(k), text).expect("write");
    }

    fn load(&self) -> Result<Dataset, LoadError> {
        Dataset::load(&self.boundaries(), &self.data(), 10)
    }

    /// The problems of a load that must fail.
    fn problems(&self) -> Vec<String> {
        let e = self.load().expect_err("the load is refused");
        e.problems.iter().map(ToString::to_string).collect()
    }

    /// `reorganisations.csv:<line>` of new LA `k`'s row.
    fn row(&self, k: usize) -> String {
        format!("reorganisations.csv:{}", self.lines[k])
    }

    /// The county's area from its districts, km² (geodesic).
    fn county_km2(&self) -> f64 {
        km2(&self.split.geometry) + self.whole.iter().map(|d| km2(&d.geometry)).sum::<f64>()
    }
}

/// The problem that contains every one of `needles`.
fn find<'a>(problems: &'a [String], needles: &[&str]) -> &'a str {
    problems
        .iter()
        .find(|p| needles.iter().all(|n| p.contains(n)))
        .unwrap_or_else(|| panic!("no problem with {needles:?} in {problems:#?}"))
}

/// The number just before `suffix` in `text` (e.g. the measured percentage).
fn number_before(text: &str, suffix: &str) -> f64 {
    let end = text
        .find(suffix)
        .unwrap_or_else(|| panic!("{suffix:?} in {text}"));
    let start = text[..end]
        .rfind(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+' || c == '-'))
        .map_or(0, |i| i + 1);
    text[start..end]
        .parse()
        .unwrap_or_else(|e| panic!("{:?} in {text}: {e}", &text[start..end]))
}

#[tokio::test]
async fn a_county_with_a_split_district_becomes_two_new_las_that_add_up_to_it() {
    let s = Split::new();
    let ds = s.load().expect("the split loads");
    let k = ds.timeline().vintage_of(&s.date).expect("a vintage");
    let (before, after) = (ds.on_vintage(k - 1), ds.on_vintage(k));
    assert!(before.la_index(&s.county).is_some());
    assert!(after.la_index(&s.county).is_none(), "the county is gone");
    let area = |d: &Dataset, code: &str| d.geometry.areas[d.la_index(code).expect("in force")];
    let old = area(&before, &s.county);
    let new: Vec<f64> = s.new.iter().map(|c| area(&after, c)).collect();
    let ratio = new.iter().sum::<f64>() / old;
    println!(
        "{}: {} + {} km² = {:.2} km² for {old} km² of {}: ratio {ratio:.7}",
        s.date,
        new[0],
        new[1],
        new.iter().sum::<f64>(),
        s.county
    );
    assert!((ratio - 1.0).abs() < AREA_TOLERANCE, "ratio {ratio}");
    // Each new LA is what its row says: the whole districts and the first piece, the second
    // piece alone (geodesic areas of the fixture, within the tolerance of the county's area).
    let want = [
        km2(&s.pieces[0]) + s.whole.iter().map(|d| km2(&d.geometry)).sum::<f64>(),
        km2(&s.pieces[1]),
    ];
    for (i, c) in s.new.iter().enumerate() {
        let got = km2(&multi_polygon(&ds.shapes.lonlat[c]));
        assert!(
            (got - want[i]).abs() / s.county_km2() < AREA_TOLERANCE,
            "{c}: {got} km² vs {} km²",
            want[i]
        );
    }
    // The loader's own measures, as `check` prints them, are within the tolerance too.
    let m = ds
        .shapes
        .coverage
        .iter()
        .find(|m| m.date == s.date)
        .expect("the split's coverage is measured");
    println!("{}", m.summary());
    assert_eq!(m.replaced, std::slice::from_ref(&s.county));
    assert!(m.coverage.sum_difference.abs() < AREA_TOLERANCE, "{m:?}");
    assert!(m.coverage.gap < AREA_TOLERANCE, "{m:?}");
    assert!(
        m.coverage.overlaps.iter().all(|o| o.2 < AREA_TOLERANCE),
        "{m:?}"
    );
    assert!(
        m.coverage.outside.iter().all(|o| *o < AREA_TOLERANCE),
        "{m:?}"
    );
    // The map of the day serves them: the API lists them, and a tile under each one's label
    // point has its polygon.
    let app = partnership_map::http::router(common::state_with(ds, 64 << 20));
    let las = common::get(&app, &format!("/api/las?date={}", s.date), &[]).await;
    assert_eq!(las.status, 200, "{}", las.text());
    let body: Value = serde_json::from_slice(&las.body).expect("json");
    let listed = body["local_authorities"].as_array().expect("list");
    assert!(listed.iter().all(|l| l["code"] != s.county.as_str()));
    let reorganisations: Value =
        serde_json::from_slice(&common::get(&app, "/api/reorganisations", &[]).await.body)
            .expect("json");
    let day = reorganisations["vesting_dates"]
        .as_array()
        .expect("dates")
        .iter()
        .find(|d| d["date"] == s.date.as_str())
        .expect("the new vesting date");
    for code in &s.new {
        let made = day["new"]
            .as_array()
            .expect("new")
            .iter()
            .find(|n| n["code"] == code.as_str())
            .expect("listed as new");
        assert_eq!(made["made_of"], "geometry");
        let la = listed
            .iter()
            .find(|l| l["code"] == code.as_str())
            .unwrap_or_else(|| panic!("{code} in /api/las?date={}", s.date));
        let (lon, lat) = (
            la["label"][0].as_f64().expect("lon"),
            la["label"][1].as_f64().expect("lat"),
        );
        let z = 10;
        let t = partnership_map::tile::TileCoord::containing(
            partnership_map::tile::lonlat_to_merc(lon, lat),
            z,
        );
        let path = format!("/tiles/{}/{z}/{}/{}.pbf", s.date, t.x, t.y);
        let tile = common::get(&app, &path, &[]).await;
        assert_eq!(tile.status, 200, "{path}");
        let layers = common::mvt::decode(&tile.body);
        assert!(
            layers["local_authorities"]
                .features
                .iter()
                .any(|f| matches!(
                    f.props.get("code"),
                    Some(common::mvt::Val::Str(c)) if c == code
                )),
            "{path} draws {code}"
        );
        let detail = common::get(&app, &format!("/api/las/{code}?date={}", s.date), &[]).await;
        assert_eq!(detail.status, 200, "{}", detail.text());
    }
}

#[test]
fn a_missing_or_unreadable_boundary_file_is_named() {
    let s = Split::new();
    std::fs::remove_file(s.file(1)).expect("rm");
    let problems = s.problems();
    find(
        &problems,
        &[
            &s.row(1),
            &format!("{}.geojson", s.new[1]),
            "does not exist",
        ],
    );

    // Invalid JSON: the file and the line of the mistake.
    s.write(
        1,
        "{\n  \"type\": \"FeatureCollection\",\n  \"features\": [\n    {\"type\": \"Feature\",,}\n  ]\n}\n",
    );
    let problems = s.problems();
    find(
        &problems,
        &[&format!("{}.geojson:4", s.new[1]), "not valid JSON"],
    );

    // A file no row reads.
    s.write(
        1,
        &collection(&[(s.new[1].as_str(), "East piece", to_geojson(&s.pieces[1]))]),
    );
    let stray = s.data().join(GEOMETRIES_DIR).join("E99P99999.geojson");
    std::fs::write(
        &stray,
        collection(&[("E99P99999", "Stray", to_geojson(&s.pieces[1]))]),
    )
    .expect("write");
    let problems = s.problems();
    find(&problems, &["E99P99999.geojson", "no row of"]);
}

#[test]
fn a_gap_an_overlap_and_a_piece_outside_are_measured_and_refused() {
    let s = Split::new();
    let county = s.county_km2();
    // A gap: the second piece loses the part left of a second cut.
    let [kept, removed] = cut(&s.pieces[1]);
    s.write(
        1,
        &collection(&[(s.new[1].as_str(), "East piece", to_geojson(&kept))]),
    );
    let problems = s.problems();
    let sum = find(&problems, &[&s.row(0), "add up to", &s.county]);
    let measured = number_before(sum, " % of the");
    let expected = -100.0 * km2(&removed) / county;
    assert!(
        (measured - expected).abs() < 0.01,
        "measured {measured} % vs {expected} %: {sum}"
    );
    let gap = find(&problems, &[&s.row(0), "is in none of"]);
    assert!(
        (number_before(gap, " % of the area") + expected).abs() < 0.01,
        "{gap}"
    );

    // An overlap: the second LA takes the whole split district, the first keeps its piece.
    s.write(
        1,
        &collection(&[(
            s.new[1].as_str(),
            "East piece",
            to_geojson(&s.split.geometry),
        )]),
    );
    let problems = s.problems();
    let overlap = find(&problems, &[&s.row(1), "overlap on"]);
    let expected = 100.0 * km2(&s.pieces[0]) / county;
    assert!(
        (number_before(overlap, " % of the area") - expected).abs() < 0.01,
        "expected {expected} %: {overlap}"
    );
    assert!(
        overlap.contains(&format!("{}.geojson", s.new[1])),
        "{overlap}"
    );

    // A piece outside: the second LA also takes a district of another county.
    s.write(
        1,
        &collection(&[
            (s.new[1].as_str(), "East piece", to_geojson(&s.pieces[1])),
            (
                s.new[1].as_str(),
                "Stray piece",
                to_geojson(&s.elsewhere.geometry),
            ),
        ]),
    );
    let problems = s.problems();
    let outside = find(&problems, &[&s.row(1), "reaches outside"]);
    let expected = 100.0 * km2(&s.elsewhere.geometry) / county;
    assert!(
        (number_before(outside, " % of that area") - expected).abs() < 0.01,
        "expected {expected} %: {outside}"
    );
    // Nothing of the split itself is refused: the row of the first LA is fine.
    assert!(
        !problems
            .iter()
            .any(|p| p.contains(&s.row(0)) && p.contains("overlap")),
        "{problems:#?}"
    );
}

#[test]
fn boundary_files_must_be_valid_lonlat_polygons_of_their_own_la() {
    let s = Split::new();
    // A bow tie (self-intersecting ring) inside the piece's box, as feature 1.
    let b = s.pieces[1].bounding_rect().expect("box");
    let (lo, hi) = (b.min(), b.max());
    let low = lo.y + 0.3 * (hi.y - lo.y);
    let bow = json!({"type": "Polygon", "coordinates": [[
        [lo.x, lo.y], [hi.x, hi.y], [hi.x, lo.y], [lo.x, low], [lo.x, lo.y]
    ]]});
    s.write(
        1,
        &collection(&[
            (s.new[1].as_str(), "East piece", to_geojson(&s.pieces[1])),
            (s.new[1].as_str(), "Bow tie", bow),
        ]),
    );
    let problems = s.problems();
    find(
        &problems,
        &[
            &format!("{}.geojson: feature 1", s.new[1]),
            "self-intersection",
        ],
    );

    // Latitude and longitude swapped: outside England's extent, said so.
    let swapped: Vec<Vec<Vec<[f64; 2]>>> = lonlat(&s.pieces[1])
        .into_iter()
        .map(|part| {
            part.into_iter()
                .map(|ring| ring.into_iter().map(|p| [p[1], p[0]]).collect())
                .collect()
        })
        .collect();
    s.write(
        1,
        &collection(&[(
            &s.new[1],
            "East piece",
            json!({"type": "MultiPolygon", "coordinates": swapped}),
        )]),
    );
    let problems = s.problems();
    find(
        &problems,
        &[
            &format!("{}.geojson: feature 0", s.new[1]),
            "outside England's extent",
            "WGS84",
        ],
    );

    // The file of one LA with another LA's code.
    s.write(
        1,
        &collection(&[(s.new[0].as_str(), "East piece", to_geojson(&s.pieces[1]))]),
    );
    let problems = s.problems();
    find(
        &problems,
        &[
            &format!("{}.geojson: feature 0", s.new[1]),
            "is not the code",
        ],
    );

    // A point is not a polygon.
    s.write(
        1,
        &collection(&[(
            s.new[1].as_str(),
            "East piece",
            json!({"type": "Point", "coordinates": [0.0, 52.0]}),
        )]),
    );
    let problems = s.problems();
    find(
        &problems,
        &[
            &format!("{}.geojson", s.new[1]),
            "not Polygon or MultiPolygon",
        ],
    );
}

#[test]
fn data_export_writes_the_boundary_files_back_beside_the_table() {
    let s = Split::new();
    let ds = s.load().expect("loads");
    let out = s.dir.path().join("export");
    let marker = partnership_map::data_export::Marker {
        log_id: "test".to_owned(),
        through_change: 0,
        data_version: ds.version.clone(),
        exported_at: "2026-01-01T00:00:00Z".to_owned(),
    };
    partnership_map::data_export::write(&out, &ds, &marker).expect("export");
    for k in 0..2 {
        let rel = format!("{GEOMETRIES_DIR}/{}.geojson", s.new[k]);
        assert_eq!(
            std::fs::read(out.join(&rel)).expect("exported"),
            std::fs::read(s.file(k)).expect("source"),
            "{rel} byte for byte"
        );
    }
    let again = Dataset::load(&s.boundaries(), &out, 10).expect("the export loads");
    let k = again.timeline().vintage_of(&s.date).expect("vintage");
    let v = again.on_vintage(k);
    for c in &s.new {
        assert!(v.la_index(c).is_some(), "{c} in force from the export");
    }
}
