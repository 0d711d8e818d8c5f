//! The GIS downloads and OGC items: GeoPackage and FlatGeobuf carry every LA of the GeoJSON
//! download with the same geometry and every attribute, typed. Decoded here with rusqlite (the
//! GeoPackage tables, its R-tree) and the `flatgeobuf` reader (header, features, a bbox query
//! through the spatial index compared with a brute-force search), then opened by GDAL's
//! `ogrinfo` and GeoPackage validator (Debian's gdal-bin), and by QGIS (python3-qgis) over
//! HTTP range requests. The expected counts come from the data, never from a constant.
//! Missing tools fail the tests, never skip them.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Cursor;
use std::process::Command;

use flatgeobuf::{FallibleStreamingIterator, FeatureProperties, FgbReader, GeozeroGeometry};
use geozero::{ColumnValue, GeomProcessor, PropertyProcessor};
use serde_json::{Value, json};

type Rings = Vec<Vec<Vec<[f64; 2]>>>;

/// Collects a geometry's coordinates as GeoJSON nests them (polygons → rings → points; a
/// multipoint is one polygon of one ring).
#[derive(Default)]
struct Collect(Rings);

impl GeomProcessor for Collect {
    fn xy(&mut self, x: f64, y: f64, _idx: usize) -> geozero::error::Result<()> {
        if self.0.is_empty() {
            self.0.push(vec![Vec::new()]);
        }
        let polygon = self.0.last_mut().expect("polygon");
        polygon.last_mut().expect("ring").push([x, y]);
        Ok(())
    }
    fn polygon_begin(&mut self, _: bool, _: usize, _: usize) -> geozero::error::Result<()> {
        self.0.push(Vec::new());
        Ok(())
    }
    fn linestring_begin(&mut self, _: bool, _: usize, _: usize) -> geozero::error::Result<()> {
        if let Some(polygon) = self.0.last_mut() {
            polygon.push(Vec::new());
        }
        Ok(())
    }
}

/// A FlatGeobuf feature's properties as JSON values.
#[derive(Default)]
struct Props(serde_json::Map<String, Value>);

impl PropertyProcessor for Props {
    fn property(&mut self, _i: usize, name: &str, v: &ColumnValue) -> geozero::error::Result<bool> {
        let v = match v {
            ColumnValue::Bool(b) => json!(b),
            ColumnValue::Int(n) => json!(n),
            ColumnValue::Long(n) => json!(n),
            ColumnValue::Double(x) => json!(x),
            ColumnValue::String(s) => json!(s),
            other => panic!("{name}: unexpected column value {other:?}"),
        };
        self.0.insert(name.to_owned(), v);
        Ok(false)
    }
}

fn geojson_rings(geometry: &Value) -> Rings {
    serde_json::from_value(geometry["coordinates"].clone()).expect("MultiPolygon coordinates")
}

fn bbox(rings: &Rings) -> [f64; 4] {
    rings
        .iter()
        .flatten()
        .flatten()
        .fold([f64::MAX, f64::MAX, f64::MIN, f64::MIN], |b, p| {
            [
                b[0].min(p[0]),
                b[1].min(p[1]),
                b[2].max(p[0]),
                b[3].max(p[1]),
            ]
        })
}

/// The GeoJSON download, the reference: its features by LA code.
struct Reference {
    version: String,
    features: BTreeMap<String, Value>,
}

async fn reference(app: &axum::Router) -> Reference {
    let version = common::dataset().version.clone();
    let r = common::get(
        app,
        &format!("/downloads/local_authorities-{version}.geojson"),
        &[],
    )
    .await;
    assert_eq!(r.status, 200);
    let gj: Value = serde_json::from_slice(&r.body).expect("GeoJSON");
    let features: BTreeMap<String, Value> = gj["features"]
        .as_array()
        .expect("features")
        .iter()
        .map(|f| (f["id"].as_str().expect("id").to_owned(), f.clone()))
        .collect();
    assert_eq!(
        features.len(),
        common::coverage().las,
        "one GeoJSON feature per row of local_authorities.csv"
    );
    Reference { version, features }
}

/// A download's bytes, after checking its headers (type, versioned name, ETag, licence).
async fn download(app: &axum::Router, version: &str, ext: &str, mime: &str) -> bytes::Bytes {
    let name = format!("local_authorities-{version}.{ext}");
    let page = common::get(app, "/downloads", &[]).await.text();
    assert!(page.contains(&format!("/downloads/{name}")), "{ext} listed");
    let plain = common::get(app, &format!("/downloads/local_authorities.{ext}"), &[]).await;
    assert_eq!(plain.status, 303);
    assert_eq!(
        plain.header("location"),
        Some(format!("/downloads/{name}").as_str())
    );
    let r = common::get(app, &format!("/downloads/{name}"), &[]).await;
    assert_eq!(r.status, 200, "{name}");
    assert_eq!(r.header("content-type"), Some(mime));
    assert_eq!(r.header("accept-ranges"), Some("bytes"));
    assert!(
        r.header("cache-control")
            .is_some_and(|c| c.contains("immutable"))
    );
    assert!(r.header("link").is_some_and(|l| l.contains("license")));
    assert_eq!(
        r.header("content-disposition"),
        Some(format!("attachment; filename=\"{name}\"").as_str())
    );
    let tag = r.header("etag").expect("ETag").to_owned();
    assert!(tag.starts_with("W/\""), "{tag}");
    let again = common::get(
        app,
        &format!("/downloads/{name}"),
        &[("if-none-match", &tag)],
    )
    .await;
    assert_eq!(again.status, 304);
    // gzip for clients that take it, the same bytes once unzipped, the same tag.
    let gz = common::get(
        app,
        &format!("/downloads/{name}"),
        &[("accept-encoding", "gzip")],
    )
    .await;
    assert_eq!(gz.header("content-encoding"), Some("gzip"));
    assert_eq!(gz.header("etag"), Some(tag.as_str()));
    let mut unzipped = Vec::new();
    std::io::Read::read_to_end(
        &mut flate2::read::GzDecoder::new(&gz.body[..]),
        &mut unzipped,
    )
    .expect("gzip");
    assert_eq!(unzipped, r.body.as_ref());
    r.body
}

/// Every attribute of the GeoJSON feature, and no other, has the same value in `got`
/// (booleans may come as 0/1 where the format has no boolean type).
fn assert_same_attributes(code: &str, want: &Value, got: &serde_json::Map<String, Value>) {
    let want = want.as_object().expect("properties");
    for (k, w) in want {
        let g = got.get(k).unwrap_or(&Value::Null);
        let same = match (w, g) {
            (Value::Bool(b), Value::Number(n)) => n.as_i64() == Some(i64::from(*b)),
            (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
            _ => w == g,
        };
        assert!(same, "{code}.{k}: GeoJSON {w}, got {g}");
    }
    for (k, g) in got {
        assert!(
            want.contains_key(k) || g.is_null(),
            "{code}.{k} = {g} is not in the GeoJSON"
        );
    }
}

#[tokio::test]
async fn the_geopackage_holds_every_la_with_the_geojsons_geometry_and_attributes() {
    let app = common::app();
    let reference = reference(&app).await;
    let bytes = download(
        &app,
        &reference.version,
        "gpkg",
        "application/geopackage+sqlite3",
    )
    .await;
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("las.gpkg");
    std::fs::write(&path, &bytes).expect("write");
    let db =
        rusqlite::Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("an SQLite database");
    let pragma = |p: &str| -> i64 {
        db.query_row(&format!("PRAGMA {p}"), [], |r| r.get(0))
            .expect(p)
    };
    assert_eq!(pragma("application_id"), 0x4750_4B47, "GPKG");
    assert_eq!(pragma("user_version"), 10300, "GeoPackage 1.3.0");
    let integrity: String = db
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .expect("integrity check");
    assert_eq!(integrity, "ok");
    let (data_type, srs, description): (String, i64, String) = db
        .query_row(
            "SELECT data_type, srs_id, description FROM gpkg_contents WHERE table_name = 'local_authorities'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .expect("gpkg_contents row");
    assert_eq!((data_type.as_str(), srs), ("features", 4326));
    assert!(
        description.contains(&reference.version) && description.contains("Open Government Licence")
    );
    let (org, code): (String, i64) = db
        .query_row(
            "SELECT organization, organization_coordsys_id FROM gpkg_spatial_ref_sys WHERE srs_id = 4326",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("EPSG:4326 defined");
    assert_eq!((org.as_str(), code), ("EPSG", 4326));
    let (column, geometry_type, gsrs): (String, String, i64) = db
        .query_row(
            "SELECT column_name, geometry_type_name, srs_id FROM gpkg_geometry_columns WHERE table_name = 'local_authorities'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .expect("geometry column");
    assert_eq!((geometry_type.as_str(), gsrs), ("MULTIPOLYGON", 4326));

    // Columns: fid, the geometry, then every schema attribute in order with its type.
    let mut stmt = db
        .prepare("SELECT name, type FROM pragma_table_info('local_authorities') ORDER BY cid")
        .expect("table info");
    let columns: Vec<(String, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("columns")
        .map(|c| c.expect("column"))
        .collect();
    let fields = partnership_map::schema::la_fields();
    assert_eq!(columns.len(), fields.len() + 2);
    assert_eq!(columns[0].0, "fid");
    assert_eq!(columns[1], (column.clone(), "MULTIPOLYGON".to_owned()));
    for (f, (name, ty)) in fields.iter().zip(&columns[2..]) {
        use partnership_map::schema::FieldType;
        let want: &[&str] = match f.ty {
            FieldType::String => &["TEXT"],
            FieldType::Number => &["MEDIUMINT", "INTEGER"],
            FieldType::Decimal => &["REAL"],
            FieldType::Boolean => &["BOOLEAN"],
        };
        assert_eq!(name, &f.name);
        assert!(want.contains(&ty.as_str()), "{name}: {ty}");
    }
    let described: i64 = db
        .query_row(
            "SELECT COUNT(*) FROM gpkg_data_columns WHERE table_name = 'local_authorities' AND description <> ''",
            [],
            |r| r.get(0),
        )
        .expect("data columns");
    assert_eq!(described as usize, fields.len(), "every column described");

    // Every feature: the same geometry (GeoPackage binary: header, SRS, envelope, WKB) and the
    // same attributes as the GeoJSON.
    let names: Vec<String> = columns.iter().map(|c| format!("\"{}\"", c.0)).collect();
    let mut stmt = db
        .prepare(&format!(
            "SELECT {} FROM local_authorities",
            names.join(", ")
        ))
        .expect("select");
    let mut rows = stmt.query([]).expect("rows");
    let mut seen = BTreeSet::new();
    let mut envelopes = BTreeMap::new();
    while let Some(row) = rows.next().expect("row") {
        let blob: Vec<u8> = row.get(1).expect("geometry blob");
        assert_eq!(&blob[..2], b"GP", "GeoPackage binary magic");
        assert_eq!(blob[3] & 1, 1, "little-endian header");
        assert_eq!((blob[3] >> 1) & 7, 1, "a [minx, maxx, miny, maxy] envelope");
        let srs = i32::from_le_bytes(blob[4..8].try_into().expect("4 bytes"));
        assert_eq!(srs, 4326);
        let env: Vec<f64> = blob[8..40]
            .chunks(8)
            .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")))
            .collect();
        let mut got = serde_json::Map::new();
        for (i, (name, _)) in columns.iter().enumerate().skip(2) {
            let v: rusqlite::types::Value = row.get(i).expect("value");
            got.insert(
                name.clone(),
                match v {
                    rusqlite::types::Value::Null => Value::Null,
                    rusqlite::types::Value::Integer(n) => json!(n),
                    rusqlite::types::Value::Real(x) => json!(x),
                    rusqlite::types::Value::Text(s) => json!(s),
                    rusqlite::types::Value::Blob(_) => panic!("{name}: a blob"),
                },
            );
        }
        let code = got["code"].as_str().expect("code").to_owned();
        let want = &reference.features[&code];
        assert_same_attributes(&code, &want["properties"], &got);
        let mut collect = Collect::default();
        geozero::wkb::GpkgWkb(blob.as_slice())
            .process_geom(&mut collect)
            .expect("valid GeoPackage WKB");
        let rings = geojson_rings(&want["geometry"]);
        assert_eq!(
            collect.0, rings,
            "{code}: the GeoJSON's coordinates exactly"
        );
        let b = bbox(&rings);
        assert_eq!(env, vec![b[0], b[2], b[1], b[3]], "{code}: envelope");
        let fid: i64 = row.get(0).expect("fid");
        envelopes.insert(fid, b);
        assert!(seen.insert(code.clone()), "{code} twice");
    }
    assert_eq!(seen.len(), reference.features.len(), "every LA");

    // The R-tree index has each feature, its box holding the feature's envelope (R-trees
    // store 32-bit floats, rounded outwards).
    let mut stmt = db
        .prepare("SELECT id, minx, maxx, miny, maxy FROM rtree_local_authorities_geom")
        .expect("R-tree");
    let entries: Vec<(i64, [f64; 4])> = stmt
        .query_map([], |r| {
            Ok((r.get(0)?, [r.get(1)?, r.get(3)?, r.get(2)?, r.get(4)?]))
        })
        .expect("R-tree rows")
        .map(|e| e.expect("entry"))
        .collect();
    assert_eq!(entries.len(), envelopes.len());
    for (fid, r) in entries {
        let b = envelopes[&fid];
        assert!(
            r[0] <= b[0] && r[1] <= b[1] && r[2] >= b[2] && r[3] >= b[3],
            "R-tree box of {fid}"
        );
        assert!((r[0] - b[0]).abs() < 1e-4 && (r[3] - b[3]).abs() < 1e-4);
    }
    let extension: i64 = db
        .query_row(
            "SELECT COUNT(*) FROM gpkg_extensions WHERE extension_name = 'gpkg_rtree_index' AND table_name = 'local_authorities'",
            [],
            |r| r.get(0),
        )
        .expect("extensions");
    assert_eq!(extension, 1);
}

/// The FlatGeobuf download's features, read through the `flatgeobuf` crate.
fn read_fgb(bytes: &[u8], query: Option<[f64; 4]>) -> Vec<(serde_json::Map<String, Value>, Rings)> {
    let reader = FgbReader::open(Cursor::new(bytes)).expect("a FlatGeobuf file");
    let mut features = match query {
        None => reader.select_all().expect("all"),
        Some(q) => reader
            .select_bbox(q[0], q[1], q[2], q[3])
            .expect("bbox query"),
    };
    let mut out = Vec::new();
    while let Some(f) = features.next().expect("feature") {
        let mut props = Props::default();
        f.process_properties(&mut props).expect("properties");
        let mut geometry = Collect::default();
        f.process_geom(&mut geometry).expect("geometry");
        out.push((props.0, geometry.0));
    }
    out
}

#[tokio::test]
async fn the_flatgeobuf_holds_every_la_and_its_index_answers_bbox_queries() {
    let app = common::app();
    let reference = reference(&app).await;
    let bytes = download(&app, &reference.version, "fgb", "application/flatgeobuf").await;
    let reader = FgbReader::open(Cursor::new(&bytes[..])).expect("a FlatGeobuf file");
    let header = reader.header();
    assert_eq!(header.features_count() as usize, reference.features.len());
    assert!(header.index_node_size() > 0, "a spatial index");
    assert_eq!(
        header.geometry_type(),
        flatgeobuf::GeometryType::MultiPolygon
    );
    assert_eq!(header.crs().map(|c| c.code()), Some(4326));
    assert!(
        header
            .metadata()
            .is_some_and(|m| m.contains(&reference.version))
    );
    let columns: Vec<(String, flatgeobuf::ColumnType, bool)> = header
        .columns()
        .expect("columns")
        .iter()
        .map(|c| {
            (
                c.name().to_owned(),
                c.type_(),
                c.description().is_some_and(|d| !d.is_empty()),
            )
        })
        .collect();
    let fields = partnership_map::schema::la_fields();
    assert_eq!(columns.len(), fields.len());
    for (f, (name, ty, described)) in fields.iter().zip(&columns) {
        use flatgeobuf::ColumnType as C;
        use partnership_map::schema::FieldType;
        assert_eq!(name, &f.name);
        assert!(described, "{name} described");
        let ok = match f.ty {
            FieldType::String => *ty == C::String,
            FieldType::Number => *ty == C::Int || *ty == C::Long,
            FieldType::Decimal => *ty == C::Double,
            FieldType::Boolean => *ty == C::Bool,
        };
        assert!(ok, "{name}: {ty:?}");
    }
    drop(reader);

    let all = read_fgb(&bytes, None);
    assert_eq!(all.len(), reference.features.len());
    let mut boxes = BTreeMap::new();
    for (props, rings) in &all {
        let code = props["code"].as_str().expect("code").to_owned();
        let want = &reference.features[&code];
        assert_same_attributes(&code, &want["properties"], props);
        let expected = geojson_rings(&want["geometry"]);
        assert_eq!(
            rings, &expected,
            "{code}: the GeoJSON's coordinates exactly"
        );
        boxes.insert(code, bbox(&expected));
    }
    assert_eq!(boxes.len(), reference.features.len(), "every LA once");

    // Boxes taken from the data: around each of a few LAs' centres, a box over two LAs, a box
    // in the sea west of England, and England's whole extent. The index answers exactly the
    // LAs whose boxes intersect, as a brute-force search finds them.
    let mut queries = Vec::new();
    for b in boxes.values().step_by(17) {
        let (cx, cy) = ((b[0] + b[2]) / 2.0, (b[1] + b[3]) / 2.0);
        queries.push([cx - 0.05, cy - 0.05, cx + 0.05, cy + 0.05]);
    }
    let (first, last) = (
        boxes.values().next().expect("one"),
        boxes.values().last().expect("last"),
    );
    queries.push([
        first[0].min(last[0]),
        first[1].min(last[1]),
        first[2].max(last[2]),
        first[3].max(last[3]),
    ]);
    let extent = boxes
        .values()
        .fold([f64::MAX, f64::MAX, f64::MIN, f64::MIN], |e, b| {
            [
                e[0].min(b[0]),
                e[1].min(b[1]),
                e[2].max(b[2]),
                e[3].max(b[3]),
            ]
        });
    queries.push([extent[0] - 3.0, extent[1], extent[0] - 1.0, extent[1] + 1.0]);
    queries.push(extent);
    let mut some_but_not_all = 0;
    for q in queries {
        let brute: BTreeSet<&String> = boxes
            .iter()
            .filter(|(_, b)| b[0] <= q[2] && b[2] >= q[0] && b[1] <= q[3] && b[3] >= q[1])
            .map(|(c, _)| c)
            .collect();
        let found: Vec<String> = read_fgb(&bytes, Some(q))
            .into_iter()
            .map(|(p, _)| p["code"].as_str().expect("code").to_owned())
            .collect();
        let found_set: BTreeSet<&String> = found.iter().collect();
        assert_eq!(found.len(), found_set.len(), "no feature twice for {q:?}");
        assert_eq!(found_set, brute, "bbox {q:?}");
        if !brute.is_empty() && brute.len() < boxes.len() {
            some_but_not_all += 1;
        }
    }
    assert!(some_but_not_all >= 5, "the queries select subsets");
}

#[tokio::test]
async fn downloads_answer_single_byte_ranges_for_range_reading_clients() {
    let app = common::app();
    let version = common::dataset().version.clone();
    for ext in ["fgb", "gpkg", "geojson"] {
        let uri = format!("/downloads/local_authorities-{version}.{ext}");
        let full = common::get(&app, &uri, &[]).await;
        let len = full.body.len();
        let tag = full.header("etag").expect("etag").to_owned();
        // A range is the plain file's bytes, even for a client that takes gzip.
        let r = common::get(
            &app,
            &uri,
            &[("range", "bytes=8-1023"), ("accept-encoding", "gzip")],
        )
        .await;
        assert_eq!(r.status, 206, "{ext}");
        assert_eq!(r.header("content-encoding"), None);
        assert_eq!(
            r.header("content-range"),
            Some(format!("bytes 8-1023/{len}").as_str())
        );
        assert_eq!(r.header("etag"), Some(tag.as_str()));
        assert_eq!(r.body, full.body.slice(8..1024));
        // The last bytes, and a range running past the end.
        let tail = common::get(&app, &uri, &[("range", "bytes=-100")]).await;
        assert_eq!(tail.status, 206);
        assert_eq!(tail.body, full.body.slice(len - 100..));
        let past = common::get(&app, &uri, &[("range", &format!("bytes={}-", len - 10))]).await;
        assert_eq!(past.status, 206);
        assert_eq!(past.body, full.body.slice(len - 10..));
        // Wholly outside: 416 saying the length.
        let outside = common::get(&app, &uri, &[("range", &format!("bytes={len}-"))]).await;
        assert_eq!(outside.status, 416, "{ext}");
        assert_eq!(
            outside.header("content-range"),
            Some(format!("bytes */{len}").as_str())
        );
        // If-Range with our (weak) tag, several ranges or a malformed header: the whole file.
        for headers in [
            vec![("range", "bytes=0-9"), ("if-range", tag.as_str())],
            vec![("range", "bytes=0-9,20-29")],
            vec![("range", "lines=0-9")],
        ] {
            let whole = common::get(&app, &uri, &headers).await;
            assert_eq!(whole.status, 200, "{headers:?}");
            assert_eq!(whole.body, full.body);
        }
        // A matching If-None-Match still wins: 304.
        let nm = common::get(
            &app,
            &uri,
            &[("range", "bytes=0-9"), ("if-none-match", tag.as_str())],
        )
        .await;
        assert_eq!(nm.status, 304);
    }
}

/// `(column, GDAL type)` as `ogrinfo -so` prints a schema attribute.
fn gdal_fields() -> Vec<(String, &'static [&'static str])> {
    use partnership_map::schema::FieldType;
    partnership_map::schema::la_fields()
        .into_iter()
        .map(|f| {
            let ty: &'static [&'static str] = match f.ty {
                FieldType::String => &["String"],
                FieldType::Number => &["Integer", "Integer64"],
                FieldType::Decimal => &["Real"],
                FieldType::Boolean => &["Integer(Boolean)"],
            };
            (f.name, ty)
        })
        .collect()
}

fn ogrinfo(args: &[&str]) -> String {
    let out = Command::new("ogrinfo")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("ogrinfo (Debian gdal-bin, installed by scripts/test.sh): {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "ogrinfo {args:?}: {stderr}");
    assert!(!stderr.contains("ERROR"), "ogrinfo {args:?}: {stderr}");
    stdout
}

/// The LA codes `ogrinfo` reads from `source` within the box `q` (GDAL's spatial filter).
fn codes_in_box(source: &str, q: [f64; 4]) -> BTreeSet<String> {
    let q: Vec<String> = q.iter().map(ToString::to_string).collect();
    let out = ogrinfo(&[
        "-ro",
        "-q",
        "-geom=NO",
        "-spat",
        &q[0],
        &q[1],
        &q[2],
        &q[3],
        source,
        "local_authorities",
    ]);
    out.lines()
        .filter_map(|l| l.trim().strip_prefix("code (String) = "))
        .map(str::to_owned)
        .collect()
}

#[test]
fn gdal_opens_both_files_over_http_with_every_feature_and_field() {
    let (server, _dir) = common::start_small(&[], &[]);
    let ds = common::dataset();
    let version = ds.version.clone();
    let n = common::coverage().las;
    let mut files = partnership_map::downloads::build(&ds);
    files.extend(partnership_map::downloads::build_gis(&ds));
    let file = |ext: &str| {
        files
            .iter()
            .find(|f| f.stem == "local_authorities" && f.ext == ext)
            .unwrap_or_else(|| panic!("a {ext} download"))
    };
    let dir = tempfile::tempdir().expect("tmp");
    let geojson = dir.path().join("las.geojson");
    std::fs::write(&geojson, &file("geojson").bytes).expect("write");
    let geojson = geojson.to_str().expect("utf-8").to_owned();
    for (ext, driver) in [("gpkg", "GPKG"), ("fgb", "FlatGeobuf")] {
        let url = format!(
            "/vsicurl/{}/downloads/local_authorities-{version}.{ext}",
            server.base
        );
        // Read straight from the server with range requests, as `ogrinfo /vsicurl/…` does.
        let summary = ogrinfo(&["-ro", "-so", &url, "local_authorities"]);
        assert!(
            summary.contains(&format!("using driver `{driver}' successful")),
            "{summary}"
        );
        assert!(
            summary.contains(&format!("Feature Count: {n}")),
            "{summary}"
        );
        assert!(summary.contains("Geometry: Multi Polygon"), "{summary}");
        assert!(summary.contains("ID[\"EPSG\",4326]"), "{summary}");
        let lines: Vec<&str> = summary
            .lines()
            .skip_while(|l| !l.starts_with("Data axis to CRS axis mapping"))
            .skip(1)
            .filter(|l| !l.starts_with("FID Column") && !l.starts_with("Geometry Column"))
            .collect();
        let fields = gdal_fields();
        assert_eq!(lines.len(), fields.len(), "{ext}: {lines:#?}");
        for ((name, types), line) in fields.iter().zip(&lines) {
            assert!(
                types
                    .iter()
                    .any(|t| line.starts_with(&format!("{name}: {t} ("))),
                "{ext}: {name} as {types:?}, got {line}"
            );
        }
        // Every feature read in full, every polygon valid (GEOS through GDAL's SQLite dialect).
        let column = if ext == "gpkg" { "geom" } else { "geometry" };
        let sql = format!(
            "SELECT COUNT(*) AS n, SUM(ST_IsValid({column})) AS valid FROM local_authorities"
        );
        let counted = ogrinfo(&["-ro", "-q", &url, "-dialect", "SQLite", "-sql", &sql]);
        assert!(counted.contains(&format!("n (Integer) = {n}")), "{counted}");
        assert!(
            counted.contains(&format!("valid (Integer) = {n}")),
            "{counted}"
        );
        // A spatial filter (through the file's index, over range requests) finds the same LAs
        // as the same filter over the GeoJSON: around Manchester, and the south-west.
        for q in [[-2.4, 53.3, -2.1, 53.6], [-6.0, 49.9, -4.0, 51.0]] {
            let want = codes_in_box(&geojson, q);
            assert!(!want.is_empty() && want.len() < n, "{q:?} picks some LAs");
            assert_eq!(codes_in_box(&url, q), want, "{ext} {q:?}");
        }
    }
    // GDAL's GeoPackage validator, warnings as errors, on the same bytes as served.
    let gpkg = dir.path().join("las.gpkg");
    std::fs::write(&gpkg, &file("gpkg").bytes).expect("write");
    let out = Command::new("/usr/bin/python3")
        .args([
            "-m",
            "osgeo_utils.samples.validate_gpkg",
            "--extra",
            "--warning-as-error",
        ])
        .arg(&gpkg)
        .output()
        .expect("GDAL's validate_gpkg (python3-gdal, a dependency of gdal-bin)");
    assert!(
        out.status.success(),
        "validate_gpkg: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Features of an OGC items response in a GIS format, read back with the `flatgeobuf` reader
/// or rusqlite: `(code or id, properties)`.
fn decode_items(ext: &str, bytes: &[u8]) -> Vec<serde_json::Map<String, Value>> {
    if ext == "fgb" {
        return read_fgb(bytes, None).into_iter().map(|(p, _)| p).collect();
    }
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("items.gpkg");
    std::fs::write(&path, bytes).expect("write");
    let db = rusqlite::Connection::open(&path).expect("GeoPackage");
    let table: String = db
        .query_row("SELECT table_name FROM gpkg_contents", [], |r| r.get(0))
        .expect("one table");
    let mut stmt = db
        .prepare(&format!("SELECT * FROM \"{table}\""))
        .expect("select");
    let names: Vec<String> = stmt
        .column_names()
        .iter()
        .map(|n| (*n).to_owned())
        .collect();
    let mut rows = stmt.query([]).expect("rows");
    let mut out = Vec::new();
    while let Some(row) = rows.next().expect("row") {
        let mut props = serde_json::Map::new();
        for (i, name) in names.iter().enumerate().skip(2) {
            let v = match row.get::<_, rusqlite::types::Value>(i).expect("value") {
                rusqlite::types::Value::Null => Value::Null,
                rusqlite::types::Value::Integer(n) => json!(n),
                rusqlite::types::Value::Real(x) => json!(x),
                rusqlite::types::Value::Text(s) => json!(s),
                rusqlite::types::Value::Blob(_) => panic!("{name}: blob"),
            };
            props.insert(name.clone(), v);
        }
        out.push(props);
    }
    out
}

#[tokio::test]
async fn ogc_items_come_as_geopackage_and_flatgeobuf_with_the_same_page() {
    let app = common::app();
    let ds = common::dataset();
    for (collection, key, total) in [
        ("local_authorities", "code", ds.las.len()),
        ("partnerships", "id", ds.partnerships.len()),
    ] {
        // The collection lists the formats as items links, and each items page as alternates.
        let c: Value = serde_json::from_slice(
            &common::get(&app, &format!("/ogc/collections/{collection}"), &[])
                .await
                .body,
        )
        .expect("collection");
        let item_types: Vec<&str> = c["links"]
            .as_array()
            .expect("links")
            .iter()
            .filter(|l| l["rel"] == "items")
            .filter_map(|l| l["type"].as_str())
            .collect();
        for mime in ["application/geopackage+sqlite3", "application/flatgeobuf"] {
            assert!(item_types.contains(&mime), "{collection}: {item_types:?}");
        }
        for (query, filtered) in [
            ("limit=1000", false),
            ("limit=7&offset=3", false),
            ("role_convener=true&limit=1000", true),
        ] {
            if filtered && collection == "partnerships" {
                continue;
            }
            let base = format!("/ogc/collections/{collection}/items?{query}");
            let page: Value =
                serde_json::from_slice(&common::get(&app, &base, &[]).await.body).expect("GeoJSON");
            let want: BTreeMap<String, Value> = page["features"]
                .as_array()
                .expect("features")
                .iter()
                .map(|f| {
                    (
                        f["id"].as_str().expect("id").to_owned(),
                        f["properties"].clone(),
                    )
                })
                .collect();
            if !filtered && query.starts_with("limit=1000") {
                assert_eq!(want.len(), total, "{collection}: every feature");
            }
            assert!(!want.is_empty());
            for (ext, mime) in [
                ("gpkg", "application/geopackage+sqlite3"),
                ("fgb", "application/flatgeobuf"),
            ] {
                let alternate = page["links"]
                    .as_array()
                    .expect("links")
                    .iter()
                    .find(|l| l["rel"] == "alternate" && l["type"] == mime)
                    .and_then(|l| l["href"].as_str())
                    .expect("alternate link")
                    .trim_start_matches("http://127.0.0.1:8080")
                    .to_owned();
                assert!(alternate.contains(&format!("f={ext}")), "{alternate}");
                let r = common::get(&app, &alternate, &[]).await;
                assert_eq!(r.status, 200, "{alternate}: {}", r.text());
                assert_eq!(r.header("content-type"), Some(mime));
                assert_eq!(
                    r.header("content-disposition"),
                    Some(format!("attachment; filename=\"{collection}.{ext}\"").as_str())
                );
                // Paged like the GeoJSON: a next link when more match.
                let more = page["links"]
                    .as_array()
                    .expect("links")
                    .iter()
                    .any(|l| l["rel"] == "next");
                assert_eq!(
                    r.header("link").is_some_and(|l| l.contains("rel=\"next\"")),
                    more,
                    "{alternate}"
                );
                let got = decode_items(ext, &r.body);
                assert_eq!(got.len(), want.len(), "{alternate}");
                for props in got {
                    let id = props[key].as_str().expect("key").to_owned();
                    assert_same_attributes(&id, &want[&id], &props);
                }
            }
        }
    }
    // A page past the end is an empty file of the collection's geometry type, which GDAL opens.
    let dir = tempfile::tempdir().expect("tmp");
    for ext in ["gpkg", "fgb"] {
        let r = common::get(
            &app,
            &format!("/ogc/collections/partnerships/items?offset=100000&f={ext}"),
            &[],
        )
        .await;
        assert_eq!(r.status, 200);
        let path = dir.path().join(format!("empty.{ext}"));
        std::fs::write(&path, &r.body).expect("write");
        let summary = ogrinfo(&["-ro", "-so", path.to_str().expect("utf-8"), "partnerships"]);
        assert!(summary.contains("Feature Count: 0"), "{ext}: {summary}");
        assert!(
            summary.contains("Geometry: Multi Point"),
            "{ext}: {summary}"
        );
    }
    let bad = common::get(&app, "/ogc/collections/local_authorities/items?f=shp", &[]).await;
    assert_eq!(bad.status, 400);
    assert!(bad.text().contains("gpkg"), "{}", bad.text());
}

/// The LAs whose polygons intersect the rectangle `q`, computed with `geo` over the GeoJSON.
fn intersecting(features: &BTreeMap<String, Value>, q: [f64; 4]) -> BTreeSet<String> {
    use geo::Intersects;
    let rect = geo::Rect::new((q[0], q[1]), (q[2], q[3]));
    features
        .iter()
        .filter(|(_, f)| {
            geojson_rings(&f["geometry"]).iter().any(|polygon| {
                let ring = |r: &Vec<[f64; 2]>| {
                    geo::LineString::from(r.iter().map(|p| (p[0], p[1])).collect::<Vec<_>>())
                };
                geo::Polygon::new(ring(&polygon[0]), polygon[1..].iter().map(ring).collect())
                    .intersects(&rect)
            })
        })
        .map(|(code, _)| code.clone())
        .collect()
}

#[tokio::test]
async fn qgis_adds_both_as_vector_layers_with_every_feature_and_attribute() {
    let app = common::app();
    let reference = reference(&app).await;
    let (server, dir) = common::start_small(&[], &[]);
    // The GeoPackage as a user downloads it; the FlatGeobuf straight from its URL, as QGIS's
    // "Add Vector Layer" with the HTTP protocol opens it (GDAL's /vsicurl/, range requests).
    let gpkg = dir.path().join("local_authorities.gpkg");
    let bytes = download(
        &app,
        &reference.version,
        "gpkg",
        "application/geopackage+sqlite3",
    )
    .await;
    std::fs::write(&gpkg, &bytes).expect("write");
    let gpkg = gpkg.to_str().expect("utf-8").to_owned();
    let fgb = format!(
        "/vsicurl/{}/downloads/local_authorities-{}.fgb",
        server.base, reference.version
    );
    // Around Birmingham: some LAs, not all.
    let q = [-2.0, 52.4, -1.8, 52.6];
    let expected_in_box = intersecting(&reference.features, q);
    assert!(!expected_in_box.is_empty() && expected_in_box.len() < reference.features.len());
    let facts = common::pyqgis(
        "gis_formats.py",
        &[
            serde_json::to_string(&q).expect("JSON").as_ref(),
            gpkg.as_ref(),
            fgb.as_ref(),
        ],
    );
    drop(server);
    let fields = partnership_map::schema::la_fields();
    for source in [&gpkg, &fgb] {
        let fact = &facts[source.as_str()];
        assert_eq!(fact["valid"], true, "{source}: {fact}");
        assert_eq!(
            fact["count"].as_u64(),
            Some(reference.features.len() as u64),
            "{source}"
        );
        assert_eq!(fact["crs"], "EPSG:4326");
        assert_eq!(fact["geometry"], "MultiPolygon");
        assert_eq!(fact["invalid_geometries"], 0, "{source}");
        // Every schema attribute is a field, typed (the GeoPackage adds its fid).
        let got: Vec<(String, String)> = fact["fields"]
            .as_array()
            .expect("fields")
            .iter()
            .filter(|f| f[0] != "fid")
            .map(|f| {
                (
                    f[0].as_str().expect("name").to_owned(),
                    f[2].as_str().expect("type").to_owned(),
                )
            })
            .collect();
        assert_eq!(got.len(), fields.len(), "{source}: {got:?}");
        for (f, (name, ty)) in fields.iter().zip(&got) {
            use partnership_map::schema::FieldType;
            let want: &[&str] = match f.ty {
                FieldType::String => &["QString"],
                FieldType::Number => &["int", "qlonglong"],
                FieldType::Decimal => &["double"],
                FieldType::Boolean => &["bool"],
            };
            assert_eq!(name, &f.name, "{source}");
            assert!(want.contains(&ty.as_str()), "{source}: {name} is {ty}");
        }
        let features = fact["features"].as_object().expect("features");
        assert_eq!(features.len(), reference.features.len(), "{source}");
        for (code, want) in &reference.features {
            let got = features[code].as_object().expect("attributes");
            assert_same_attributes(code, &want["properties"], got);
        }
        let in_box: BTreeSet<String> = fact["in_bbox"]
            .as_array()
            .expect("codes")
            .iter()
            .map(|c| c.as_str().expect("code").to_owned())
            .collect();
        assert_eq!(in_box, expected_in_box, "{source}: rectangle filter");
    }
}

#[test]
fn the_gis_files_are_built_when_first_asked_for_and_the_cache_is_bounded_in_bytes() {
    use partnership_map::downloads::DownloadCache;
    let ds = common::dataset();
    let cache = DownloadCache::default();
    let text: usize = cache.files(&ds).iter().map(|f| f.size()).sum();
    // The text files alone: publishing a version builds no GeoPackage or FlatGeobuf.
    assert_eq!(cache.bytes(), text as u64);
    let gis = cache.gis_files(&ds);
    assert_eq!(
        gis.iter().map(|f| f.ext).collect::<Vec<_>>(),
        ["gpkg", "fgb"]
    );
    let gis: usize = gis.iter().map(|f| f.size()).sum();
    assert_eq!(cache.bytes(), (text + gis) as u64);
    let exts: Vec<&str> = cache.all(&ds).iter().map(|f| f.ext).collect();
    assert_eq!(exts, ["geojson", "gpkg", "fgb", "csv", "json"]);
    // A cache too small for both keeps under its bound and still answers.
    let small = DownloadCache::new((text + gis / 2) as u64);
    small.files(&ds);
    assert_eq!(small.gis_files(&ds).len(), 2);
    assert!(
        small.bytes() <= (text + gis / 2) as u64,
        "{}",
        small.bytes()
    );
}
