//! Tiles decoded with the independent test reader and checked for what they mean:
//! winding, extent, degenerate rings, attributes, known places, shared borders, and validity
//! as GEOS judges it (Debian's `libgeos-dev`, installed by `scripts/test.sh`).

mod common;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::f64::consts::PI;

use common::mvt::{Feature, Layer, Val, area2, decode};
use geos::{CoordSeq, Geom, Geometry};
use partnership_map::schema::{self, FieldType};
use partnership_map::tile::{BUFFER, EXTENT};

fn layers(z: u8, x: u32, y: u32) -> BTreeMap<String, Layer> {
    let ds = common::dataset();
    decode(&common::render(&ds, z, x, y).unwrap_or_else(|| panic!("{z}/{x}/{y} is not empty")))
}

/// A spread of real tiles: all of England at z4 and z6, a band at z8, London at z10 and z12.
fn sample_tiles() -> Vec<(u8, u32, u32)> {
    let ds = common::dataset();
    let mut t = common::england_tiles(&ds, 4);
    t.extend(common::england_tiles(&ds, 6));
    t.extend(
        common::england_tiles(&ds, 8)
            .into_iter()
            .filter(|(_, _, y)| *y % 3 == 0),
    );
    for x in 510..=512 {
        for y in 339..=341 {
            t.push((10, x, y));
        }
    }
    t.extend([(12, 2046, 1362), (12, 2045, 1362), (0, 0, 0), (2, 1, 1)]);
    t
}

fn each_polygon(mut f: impl FnMut((u8, u32, u32), &Feature)) {
    let ds = common::dataset();
    let mut n = 0;
    for (z, x, y) in sample_tiles() {
        let Some(bytes) = common::render(&ds, z, x, y) else {
            continue;
        };
        let l = decode(&bytes);
        for feat in &l["local_authorities"].features {
            n += 1;
            f((z, x, y), feat);
        }
    }
    assert!(n > 500, "sample too small: {n} features");
}

#[test]
fn every_polygon_starts_with_a_clockwise_exterior_ring_and_holes_are_counter_clockwise() {
    each_polygon(|t, f| {
        assert_eq!(f.geom_type, 3, "{t:?}");
        assert!(!f.rings.is_empty(), "{t:?} {} has no rings", f.str("name"));
        assert!(
            area2(&f.rings[0]) > 0,
            "{t:?} {}: first ring is not an exterior (positive area)",
            f.str("name")
        );
    });
}

/// Every non-empty tile from z0 to the maximum zoom decodes under the strict MVT 2.1 geometry
/// grammar (`common::mvt::geometry`): each polygon ring is MoveTo(1), LineTo(>=2),
/// ClosePath(1). A ring that starts where the previous one ended once lost its MoveTo (GDAL:
/// "Parsing error"), so this walks the whole pyramid rather than a sample.
///
/// And GEOS, the geometry engine behind GDAL's and QGIS's validity checks, accepts every
/// polygon of every one of those tiles (see [`geos_problem`]). It once rejected 34 of them
/// ("Self-intersection": Halton and East Riding at z2, Medway and Lincolnshire at z6, Norfolk
/// at z8, …) that the `geo` crate's OGC check passed.
#[test]
fn every_tile_of_the_pyramid_follows_the_mvt_grammar_and_every_polygon_is_valid_for_geos() {
    use rayon::prelude::*;
    let ds = common::dataset();
    let max_zoom = ds.geometry.max_zoom;
    let tiles: Vec<_> = (0..=max_zoom)
        .flat_map(|z| common::england_tiles(&ds, z))
        .collect();
    let results: Vec<_> = tiles
        .par_iter()
        .filter_map(|&(z, x, y)| common::render(&ds, z, x, y).map(|b| ((z, x, y), b)))
        .map(|(t, bytes)| {
            let grammar = common::mvt::check_grammar(&bytes);
            (t, bytes, grammar)
        })
        .collect();
    let bad: Vec<_> = results
        .iter()
        .filter_map(|(t, _, r)| r.as_ref().err().map(|e| format!("{t:?}: {e}")))
        .collect();
    assert!(
        bad.is_empty(),
        "{} of {} tiles break the MVT grammar, e.g.\n{}",
        bad.len(),
        results.len(),
        bad.iter().take(5).cloned().collect::<Vec<_>>().join("\n")
    );
    let nonempty = results.len();
    let rings: usize = results.iter().filter_map(|(_, _, r)| r.as_ref().ok()).sum();
    println!("{nonempty} tiles, {rings} polygon rings: all follow the grammar");
    assert!(nonempty > 5000, "only {nonempty} non-empty tiles");
    assert!(rings > 20_000, "only {rings} rings checked");

    let verdicts: Vec<Option<String>> = results
        .par_iter()
        .flat_map_iter(|(t, bytes, _)| {
            decode(bytes)
                .remove("local_authorities")
                .map(|l| l.features)
                .unwrap_or_default()
                .into_iter()
                .map(|f| geos_problem(*t, &f))
        })
        .collect();
    let invalid: Vec<&str> = verdicts.iter().flatten().map(String::as_str).collect();
    println!(
        "GEOS {}: {} polygons in the {nonempty} tiles of z0-{max_zoom}, {} invalid",
        geos::version().unwrap_or_default(),
        verdicts.len(),
        invalid.len()
    );
    assert!(verdicts.len() > 10_000, "only {} polygons", verdicts.len());
    assert!(
        invalid.is_empty(),
        "{} of {} polygons are invalid for GEOS, e.g.\n{}",
        invalid.len(),
        verdicts.len(),
        invalid[..invalid.len().min(20)].join("\n")
    );
}

#[test]
fn coordinates_stay_within_the_extent_plus_buffer() {
    let (lo, hi) = (-i64::from(BUFFER), i64::from(EXTENT + BUFFER));
    each_polygon(|t, f| {
        for p in f.rings.iter().flatten() {
            assert!(
                (lo..=hi).contains(&p[0]) && (lo..=hi).contains(&p[1]),
                "{t:?} {}: {p:?}",
                f.str("name")
            );
        }
    });
}

#[test]
fn no_ring_is_degenerate() {
    each_polygon(|t, f| {
        for r in &f.rings {
            let distinct: HashSet<_> = r.iter().collect();
            assert!(
                distinct.len() >= 3,
                "{t:?} {}: ring with {} distinct points",
                f.str("name"),
                distinct.len()
            );
            assert_ne!(area2(r), 0, "{t:?} {}: zero-area ring", f.str("name"));
            for w in r.windows(2) {
                assert_ne!(w[0], w[1], "{t:?} {}: repeated point", f.str("name"));
            }
        }
    });
}

#[test]
fn layers_are_version_2_with_extent_4096_and_feature_ids() {
    let l = layers(6, 31, 21);
    for (name, layer) in &l {
        assert_eq!(layer.version, 2, "{name}");
        assert_eq!(layer.extent, 4096, "{name}");
        for f in &layer.features {
            let Some(Val::Uint(n)) = f.props.get("dfe_la_code").or(Some(&Val::Uint(u64::MAX)))
            else {
                panic!()
            };
            if name == "local_authorities" {
                assert_eq!(f.id, Some(*n), "feature id is the DfE LA number");
            } else {
                assert!(f.id.is_some());
            }
        }
    }
}

fn check_fields(layer: &Layer, fields: &[schema::Field]) {
    let known: BTreeSet<&str> = fields.iter().map(|f| f.name.as_str()).collect();
    for f in &layer.features {
        for k in f.props.keys() {
            assert!(known.contains(k.as_str()), "undocumented attribute {k}");
        }
        for field in fields {
            match f.props.get(&field.name) {
                None => assert!(
                    field.optional,
                    "{} lacks required {}",
                    f.str("name"),
                    field.name
                ),
                Some(v) => {
                    let ok = matches!(
                        (field.ty, v),
                        (FieldType::String, Val::Str(_))
                            | (FieldType::Number, Val::Uint(_))
                            | (FieldType::Decimal, Val::Double(_))
                            | (FieldType::Boolean, Val::Bool(_))
                    );
                    assert!(
                        ok,
                        "{}: {} = {v:?} is not {:?}",
                        f.str("name"),
                        field.name,
                        field.ty
                    );
                }
            }
        }
    }
}

/// One feature per LA from the z6 tiles over England (every LA is at least a few units there).
fn z6_features() -> BTreeMap<String, Feature> {
    let ds = common::dataset();
    let mut out = BTreeMap::new();
    for (z, x, y) in common::england_tiles(&ds, 6) {
        if let Some(bytes) = common::render(&ds, z, x, y) {
            for f in decode(&bytes)
                .remove("local_authorities")
                .map(|l| l.features)
                .unwrap_or_default()
            {
                out.insert(f.str("code").to_owned(), f);
            }
        }
    }
    out
}

#[test]
fn every_documented_attribute_is_present_with_its_type() {
    let all = z6_features();
    assert_eq!(all.len(), 153, "every LA appears at z6");
    let las = Layer {
        version: 2,
        extent: 4096,
        features: all.into_values().collect(),
    };
    check_fields(&las, &schema::la_fields());
    // z0 carries every label point, even where the polygon is sub-pixel.
    let l = layers(0, 0, 0);
    check_fields(&l["la_labels"], &schema::label_fields());
    assert_eq!(l["la_labels"].features.len(), 153);
    // Optional fields do occur where the data has them.
    for opt in [
        "london_inner_outer",
        "fsm_primary_pct",
        "rural_urban",
        "pupils",
    ] {
        assert!(
            las.features.iter().any(|f| f.props.contains_key(opt)),
            "{opt} never present"
        );
    }
}

#[test]
fn attributes_say_what_the_csv_says() {
    let all = z6_features();
    let by_code: BTreeMap<&str, &Feature> = all.iter().map(|(k, f)| (k.as_str(), f)).collect();
    // Barking and Dagenham: BDSIP is a school_led_company; the LA is funder and convener.
    let bd = by_code["E09000002"];
    assert_eq!(bd.str("name"), "Barking and Dagenham");
    assert!(matches!(bd.props["form_school_led_company"], Val::Uint(n) if n >= 1));
    assert_eq!(bd.props["role_funder"], Val::Bool(true));
    assert_eq!(bd.props["role_convener"], Val::Bool(true));
    assert_eq!(bd.props["role_deliverer"], Val::Bool(false));
    assert_eq!(bd.props["focus_race_equity"], Val::Bool(true));
    // The Isles of Scilly: counted from the CSV, and no context figures.
    let scilly = by_code["E06000053"];
    let scilly_rows = common::csv_rows("partnerships.csv")
        .iter()
        .filter(|r| {
            common::split(&r["la_names"])
                .iter()
                .any(|n| n == "Isles of Scilly")
        })
        .count() as u64;
    assert_eq!(scilly.props["partnership_count"], Val::Uint(scilly_rows));
    assert_eq!(scilly.props["has_data"], Val::Bool(true));
    assert!(
        !scilly.props.contains_key("fsm_primary_pct"),
        "unknown values are left out"
    );
    // Hartlepool's statistical neighbours, in order.
    assert!(
        by_code["E06000001"]
            .str("stat_neighbours")
            .starts_with("E06000003,E08000024,")
    );
    // Barnsley's boundary came in under its former code and carries the current one.
    assert_eq!(by_code["E08000038"].str("name"), "Barnsley");
    // A partnership spanning several LAs counts in each: Educating Northants.
    let counts = |c: &str| match by_code[c].props["partnership_count"] {
        Val::Uint(n) => n,
        _ => 0,
    };
    assert!(counts("E06000061") >= 1 && counts("E06000062") >= 1);
    // partnership_count equals the sum of the form counts.
    for f in by_code.values() {
        let sum: u64 = schema::FORMS
            .iter()
            .map(|form| match f.props[&format!("form_{form}")] {
                Val::Uint(n) => n,
                _ => 0,
            })
            .sum();
        assert_eq!(
            Val::Uint(sum),
            f.props["partnership_count"],
            "{}",
            f.str("name")
        );
    }
}

#[test]
fn the_central_london_tile_holds_the_central_boroughs() {
    let l = layers(10, 511, 340);
    let names: BTreeSet<&str> = l["local_authorities"]
        .features
        .iter()
        .map(|f| f.str("name"))
        .collect();
    for b in [
        "City of London",
        "Westminster",
        "Camden",
        "Islington",
        "Kensington and Chelsea",
        "Hackney",
        "Southwark",
        "Lambeth",
        "Tower Hamlets",
    ] {
        assert!(names.contains(b), "{b} missing from 10/511/340: {names:?}");
    }
    for far in ["Cornwall", "Northumberland", "Kent"] {
        assert!(
            !names.contains(far),
            "{far} should not be in central London"
        );
    }
    let labels: BTreeSet<&str> = l["la_labels"]
        .features
        .iter()
        .map(|f| f.str("name"))
        .collect();
    assert!(
        labels.contains("City of London") && labels.contains("Westminster"),
        "{labels:?}"
    );
}

#[test]
fn a_tile_in_the_north_sea_is_empty() {
    let ds = common::dataset();
    assert!(common::render(&ds, 6, 33, 19).is_none());
    assert!(common::render(&ds, 8, 130, 80).is_none());
}

#[test]
fn label_points_lie_inside_their_own_polygon() {
    use geo::{Contains, LineString, Polygon};
    let ds = common::dataset();
    for (i, la) in ds.las.iter().enumerate() {
        let p = geo::Point::new(ds.geometry.labels[i][0], ds.geometry.labels[i][1]);
        let inside = ds
            .geometry
            .zoom_parts(i, ds.max_zoom())
            .iter()
            .filter(|part| !part.is_empty())
            .any(|part| {
                let ring = |r: &Vec<[f64; 2]>| {
                    LineString::from(r.iter().map(|c| (c[0], c[1])).collect::<Vec<_>>())
                };
                Polygon::new(ring(&part[0]), part[1..].iter().map(ring).collect()).contains(&p)
            });
        assert!(inside, "label of {} is outside it", la.name);
    }
}

type EdgeSet = BTreeSet<([i64; 2], [i64; 2])>;

/// Undirected edges between consecutive vertices that both polygons have, after inserting into
/// each ring the other polygon's vertices that lie on its segments (so a collinear vertex kept by
/// one side and dropped by the other does not count as a difference, but a real gap does).
fn shared_edges(a: &Feature, b: &Feature) -> (EdgeSet, EdgeSet) {
    fn on_segment(p: [i64; 2], s: [i64; 2], e: [i64; 2]) -> bool {
        let cross = (e[0] - s[0]) * (p[1] - s[1]) - (e[1] - s[1]) * (p[0] - s[0]);
        cross == 0
            && p[0] >= s[0].min(e[0])
            && p[0] <= s[0].max(e[0])
            && p[1] >= s[1].min(e[1])
            && p[1] <= s[1].max(e[1])
            && p != s
            && p != e
    }
    fn noded(f: &Feature, other: &HashSet<[i64; 2]>) -> Vec<Vec<[i64; 2]>> {
        f.rings
            .iter()
            .map(|r| {
                let mut out = Vec::new();
                for i in 0..r.len() {
                    let (s, e) = (r[i], r[(i + 1) % r.len()]);
                    out.push(s);
                    let mut mids: Vec<[i64; 2]> = other
                        .iter()
                        .copied()
                        .filter(|p| on_segment(*p, s, e))
                        .collect();
                    mids.sort_by_key(|p| (p[0] - s[0]).abs() + (p[1] - s[1]).abs());
                    out.extend(mids);
                }
                out
            })
            .collect()
    }
    let va: HashSet<[i64; 2]> = a.rings.iter().flatten().copied().collect();
    let vb: HashSet<[i64; 2]> = b.rings.iter().flatten().copied().collect();
    let (ra, rb) = (noded(a, &vb), noded(b, &va));
    let common: HashSet<[i64; 2]> = ra
        .iter()
        .flatten()
        .copied()
        .filter(|p| rb.iter().flatten().any(|q| q == p))
        .collect();
    let edges = |rings: &Vec<Vec<[i64; 2]>>| {
        let mut e = BTreeSet::new();
        for r in rings {
            for i in 0..r.len() {
                let (p, q) = (r[i], r[(i + 1) % r.len()]);
                let on_edge =
                    |v: [i64; 2]| v[0] <= -64 || v[1] <= -64 || v[0] >= 4160 || v[1] >= 4160;
                if common.contains(&p) && common.contains(&q) && !(on_edge(p) && on_edge(q)) {
                    e.insert(if p < q { (p, q) } else { (q, p) });
                }
            }
        }
        e
    };
    (edges(&ra), edges(&rb))
}

#[test]
fn neighbouring_las_share_identical_borders_at_every_zoom() {
    // (tile, LA a, LA b) pairs that share a long land border.
    let cases = [
        // Not Devon/Cornwall at z4: their Tamar estuary banks are separate lines in the
        // source (clipped at mean high water) that merely snap close together at z4.
        ((4, 7, 5), "Devon", "Somerset"),
        ((4, 7, 5), "Wiltshire", "Gloucestershire"),
        ((5, 15, 10), "North Yorkshire", "Lancashire"),
        ((6, 31, 20), "Leicestershire", "Leicester"),
        ((6, 31, 20), "Nottinghamshire", "Nottingham"),
        ((8, 127, 83), "Derbyshire", "Nottinghamshire"),
        ((10, 511, 340), "Camden", "Westminster"),
        ((10, 511, 340), "Hackney", "Islington"),
        ((12, 2046, 1362), "Westminster", "Kensington and Chelsea"),
    ];
    let mut total = 0;
    for ((z, x, y), a, b) in cases {
        let l = layers(z, x, y);
        let find = |n: &str| {
            l["local_authorities"]
                .features
                .iter()
                .find(|f| f.str("name") == n)
                .unwrap_or_else(|| panic!("{n} not in {z}/{x}/{y}"))
                .clone()
        };
        let (fa, fb) = (find(a), find(b));
        let (ea, eb) = shared_edges(&fa, &fb);
        assert!(
            ea.len() >= 3,
            "{z}/{x}/{y}: {a} and {b} share only {} edges",
            ea.len()
        );
        let only_a: Vec<_> = ea.difference(&eb).collect();
        let only_b: Vec<_> = eb.difference(&ea).collect();
        assert!(
            only_a.is_empty() && only_b.is_empty(),
            "{z}/{x}/{y} {a}/{b}: border differs: {only_a:?} vs {only_b:?}"
        );
        total += ea.len();
    }
    assert!(total > 50);
}

type Ring = Vec<[i64; 2]>;

/// Rings grouped into polygons the way GDAL's MVT driver does it: a ring with positive area
/// (clockwise on screen) starts a polygon, the negative ones after it are its holes.
fn gdal_polygons(f: &Feature) -> Vec<(Ring, Vec<Ring>)> {
    let mut polys: Vec<(Ring, Vec<Ring>)> = Vec::new();
    for r in &f.rings {
        match polys.last_mut() {
            Some(p) if area2(r) < 0 => p.1.push(r.clone()),
            _ => polys.push((r.clone(), Vec::new())),
        }
    }
    polys
}

/// Where GDAL puts a tile-grid point in EPSG:3857: the formula of `OGRMVTLayer::GetXY`, with
/// its operations in the same order.
fn gdal_xy(z: u8, x: u32, y: u32) -> impl Fn([i64; 2]) -> [f64; 2] {
    let r = 6_378_137.0;
    let dim = 2.0 * PI * r / f64::from(1u32 << z);
    let top_x = -PI * r + f64::from(x) * dim;
    let top_y = PI * r - f64::from(y) * dim;
    let ext = f64::from(EXTENT);
    #[allow(clippy::cast_precision_loss)]
    move |p| {
        [
            top_x + p[0] as f64 * dim / ext,
            top_y - p[1] as f64 * dim / ext,
        ]
    }
}

fn to_geos(polys: &[(Ring, Vec<Ring>)], at: &dyn Fn([i64; 2]) -> [f64; 2]) -> Geometry {
    let ring = |r: &Ring| {
        let mut pts: Vec<[f64; 2]> = r.iter().map(|p| at(*p)).collect();
        pts.push(pts[0]);
        CoordSeq::new_from_vec(&pts)
            .and_then(Geometry::create_linear_ring)
            .expect("ring")
    };
    let mut out: Vec<Geometry> = polys
        .iter()
        .map(|(ext, holes)| {
            Geometry::create_polygon(ring(ext), holes.iter().map(ring).collect()).expect("polygon")
        })
        .collect();
    if out.len() == 1 {
        out.pop().expect("one")
    } else {
        Geometry::create_multipolygon(out).expect("multipolygon")
    }
}

/// GEOS's verdict on one feature, grouped into polygons as GDAL groups it: `None` when GEOS
/// accepts it both in tile units (exact integers) and in EPSG:3857 metres as GDAL computes
/// them, which is what `ogrinfo`, QGIS's "Check validity" and a shapefile export see. A corner
/// that sits exactly on another ring's edge in integers can land a hair across it in metres.
fn geos_problem((z, x, y): (u8, u32, u32), f: &Feature) -> Option<String> {
    let polys = gdal_polygons(f);
    let exact = |p: [i64; 2]| {
        #[allow(clippy::cast_precision_loss)]
        [p[0] as f64, p[1] as f64]
    };
    for (space, g) in [
        ("tile units", to_geos(&polys, &exact)),
        ("EPSG:3857", to_geos(&polys, &gdal_xy(z, x, y))),
    ] {
        if !g.is_valid().expect("GEOS answers") {
            let why = g.is_valid_reason().unwrap_or_default();
            return Some(format!(
                "{z}/{x}/{y} {} ({} polygons): {why} in {space}",
                f.str("name"),
                polys.len()
            ));
        }
    }
    None
}
