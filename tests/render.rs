//! Map pictures drawn by the server: decoded and checked against the data and the web map's
//! style (colours, legend, outlines, names), the HTTP contract (ETag, 304, gzip for SVG, 400 for
//! bad parameters without drawing anything, 404) and caching by data version.

mod common;

use std::collections::BTreeMap;

use common::{csv_rows, get, split};
use partnership_map::dataset::Dataset;
use partnership_map::render::raster;
use partnership_map::tile::lonlat_to_merc;
use resvg::tiny_skia::Pixmap;
use serde_json::Value;

/// The web map's count colours and no-data colour, from the shipped style itself.
fn style_colours() -> (Vec<(u64, String)>, String, String) {
    let style: Value = serde_json::from_str(
        &std::fs::read_to_string(common::repo().join("styles/default.json")).expect("style"),
    )
    .expect("style JSON");
    let layers = style["layers"].as_array().expect("layers");
    let layer = |id: &str| layers.iter().find(|l| l["id"] == id).expect("layer");
    let step = layer("la-fill")["paint"]["fill-color"]
        .as_array()
        .expect("step")
        .clone();
    let mut stops = vec![(0, step[2].as_str().expect("base").to_owned())];
    for pair in step[3..].chunks(2) {
        stops.push((
            pair[0].as_u64().expect("n"),
            pair[1].as_str().expect("c").to_owned(),
        ));
    }
    let no_data = layer("la-fill-no-data")["paint"]["fill-color"]
        .as_str()
        .expect("c")
        .to_owned();
    let bg = layer("background")["paint"]["background-color"]
        .as_str()
        .expect("c")
        .to_owned();
    (stops, no_data, bg)
}

/// Expected count-measure colour of every LA, from the CSV files and the style.
fn expected_count_colours() -> BTreeMap<String, String> {
    let (stops, no_data, _) = style_colours();
    let las = csv_rows("local_authorities.csv");
    let code_of: BTreeMap<String, String> = las
        .iter()
        .map(|r| (r["name"].clone(), r["code"].clone()))
        .collect();
    let mut count: BTreeMap<String, u64> = BTreeMap::new();
    for p in csv_rows("partnerships.csv") {
        for n in split(&p["la_names"]) {
            *count.entry(code_of[&n].clone()).or_default() += 1;
        }
    }
    let with_role: Vec<String> = csv_rows("la_school_improvement.csv")
        .iter()
        .map(|r| code_of[r["la_name"].trim()].clone())
        .collect();
    las.iter()
        .map(|r| {
            let code = &r["code"];
            let n = count.get(code).copied().unwrap_or(0);
            let colour = if n == 0 && !with_role.contains(code) {
                no_data.clone()
            } else {
                stops
                    .iter()
                    .rev()
                    .find(|(from, _)| n >= *from)
                    .expect("step")
                    .1
                    .clone()
            };
            (code.clone(), colour)
        })
        .collect()
}

fn rgb(hex: &str) -> [f64; 3] {
    let v = u32::from_str_radix(hex.trim_start_matches('#'), 16).expect("hex");
    [
        f64::from(v >> 16),
        f64::from((v >> 8) & 0xff),
        f64::from(v & 0xff),
    ]
}

/// `fill` at opacity 0.9 over `bg`, as the style draws it.
fn blended(fill: &str, bg: &str) -> [f64; 3] {
    let (f, b) = (rgb(fill), rgb(bg));
    [0, 1, 2].map(|i| 0.9 * f[i] + 0.1 * b[i])
}

/// An attribute of the root `<svg>` element.
fn root_attr<'a>(svg: &'a str, name: &str) -> &'a str {
    let root = &svg[..svg.find('>').expect("root")];
    let start = root
        .find(&format!(" {name}=\""))
        .unwrap_or_else(|| panic!("no {name}"))
        + name.len()
        + 3;
    &root[start..start + root[start..].find('"').expect("end")]
}

/// `(origin, scale)` of a picture: Mercator metres → pixels.
fn mapping(svg: &str) -> ([f64; 2], f64) {
    let o: Vec<f64> = root_attr(svg, "data-origin")
        .split(' ')
        .map(|v| v.parse().expect("origin"))
        .collect();
    (
        ([o[0], o[1]]),
        root_attr(svg, "data-scale").parse().expect("scale"),
    )
}

fn pixel(png: &Pixmap, x: f64, y: f64) -> [f64; 3] {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let p = png.pixel(x as u32, y as u32).expect("inside").demultiply();
    [
        f64::from(p.red()),
        f64::from(p.green()),
        f64::from(p.blue()),
    ]
}

/// `fill` of each `<path data-code=… fill=…>` in the SVG's LA group.
fn svg_fills(svg: &str) -> BTreeMap<String, String> {
    let las = &svg[svg.find("<g id=\"las\"").expect("las group")..];
    let las = &las[..las.find("</g>").expect("end")];
    las.split("<path data-code=\"")
        .skip(1)
        .map(|p| {
            let code = &p[..9];
            let fill = &p[p.find("fill=\"").expect("fill") + 6..];
            (code.to_owned(), fill[..7].to_owned())
        })
        .collect()
}

#[tokio::test]
async fn england_is_every_la_in_the_web_maps_colours_with_legend_and_attribution() {
    let app = common::app();
    let want = expected_count_colours();
    let r = get(&app, "/render/england.svg?w=1200", &[]).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-type"),
        Some("image/svg+xml; charset=utf-8")
    );
    let svg = r.text();
    assert_eq!(
        svg_fills(&svg),
        want,
        "one path per LA, coloured as the web map colours it"
    );
    // The legend is the web map's, title and entries.
    assert!(svg.contains(">Number of partnerships</text>"));
    for label in ["0 (LA role only)", "1", "2", "3–4", "5–7", "8 or more"] {
        assert!(
            svg.contains(&format!(">{label}</text></g>")),
            "legend entry {label}"
        );
    }
    assert!(svg.contains(
        "Office for National Statistics licensed under the Open Government Licence v.3.0"
    ));
    assert!(svg.contains("Contains OS data © Crown copyright and database right 2023"));
    assert_eq!(root_attr(&svg, "width"), "1200");
    // Names are drawn (from zoom 5, as in the style) and never overlap one another.
    assert!(svg.matches("class=\"label\"").count() > 20);
}

#[tokio::test]
async fn the_png_is_the_svg_rasterised_colours_at_each_county_match_the_data() {
    let app = common::app();
    let ds = common::dataset();
    let want = expected_count_colours();
    let (_, _, bg) = style_colours();
    // 350 px: below zoom 5, so no labels sit on the label points sampled here.
    let svg = get(&app, "/render/england.svg?w=350", &[]).await.text();
    let r = get(&app, "/render/england.png?w=350", &[]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("image/png"));
    let png = Pixmap::decode_png(&r.body).expect("a PNG");
    assert_eq!(png.width(), 350);
    assert_eq!(root_attr(&svg, "height"), png.height().to_string());
    let (origin, scale) = mapping(&svg);
    let mut checked = 0;
    for (i, la) in ds.las.iter().enumerate() {
        if la.la_type != "county" {
            continue;
        }
        let [lon, lat] = ds.label_lonlat(i);
        let m = lonlat_to_merc(lon, lat);
        let (x, y) = ((m[0] - origin[0]) * scale, (origin[1] - m[1]) * scale);
        let got = pixel(&png, x, y);
        let expect = blended(&want[&la.code], &bg);
        let diff = (0..3)
            .map(|k| (got[k] - expect[k]).abs())
            .fold(0.0, f64::max);
        assert!(
            diff <= 3.0,
            "{}: pixel {got:?}, expected {expect:?}",
            la.name
        );
        checked += 1;
    }
    assert!(checked >= 15, "only {checked} counties checked");
}

#[tokio::test]
async fn an_la_picture_frames_the_la_outlined_and_named_among_its_neighbours() {
    let app = common::app();
    let ds = common::dataset();
    let i = ds
        .las
        .iter()
        .position(|l| l.code == "E06000001")
        .expect("Hartlepool");
    let r = get(&app, "/render/la/E06000001.svg", &[]).await;
    assert_eq!(r.status, 200);
    let svg = r.text();
    assert_eq!(root_attr(&svg, "width"), "1200");
    assert_eq!(root_attr(&svg, "height"), "630");
    let selected = &svg[svg.find("<g id=\"selected\"").expect("selected outline")..];
    assert!(selected[..selected.find("</g>").expect("end")].contains("data-code=\"E06000001\""));
    assert!(svg.contains("class=\"label selected\""));
    assert!(svg.contains(">Hartlepool</text>"), "the LA's name is drawn");
    // The LAs around it are drawn too, and the LA sits in the middle of the map area.
    let fills = svg_fills(&svg);
    assert!(
        fills.len() > 3 && fills.len() < 40,
        "{} LAs drawn",
        fills.len()
    );
    let (origin, scale) = mapping(&svg);
    let [lon, lat] = ds.label_lonlat(i);
    let m = lonlat_to_merc(lon, lat);
    let (x, y) = ((m[0] - origin[0]) * scale, (origin[1] - m[1]) * scale);
    assert!(
        (x - 600.0).abs() < 200.0 && y > 100.0 && y < 500.0,
        "label at {x},{y}"
    );
    let png = get(&app, "/render/la/E06000001.png?w=600", &[]).await;
    let png = Pixmap::decode_png(&png.body).expect("png");
    assert_eq!((png.width(), png.height()), (600, 315));
}

#[tokio::test]
async fn similar_and_with_outline_the_las_in_orange_and_the_legend_says_so() {
    let app = common::app();
    let f: BTreeMap<String, BTreeMap<String, String>> = csv_rows("local_authorities.csv")
        .into_iter()
        .map(|r| (r["code"].clone(), r))
        .collect();
    let svg = get(
        &app,
        "/render/england.svg?la=E06000001&similar=E06000001&w=800",
        &[],
    )
    .await
    .text();
    let similar = &svg[svg.find("<g id=\"similar\"").expect("similar")..];
    let similar = &similar[..similar.find("</g>").expect("end")];
    let mut codes: Vec<String> = similar
        .split("data-code=\"")
        .skip(1)
        .map(|s| s[..9].to_owned())
        .collect();
    codes.sort();
    let mut want = split(&f["E06000001"]["stat_neighbours"]);
    want.push("E06000001".to_owned());
    want.sort();
    assert_eq!(codes, want);
    assert!(svg.contains("Orange outline: statistical neighbours"));
    let svg = get(
        &app,
        "/render/england.svg?la=E06000001&with=E06000002,E06000003&w=800",
        &[],
    )
    .await
    .text();
    assert!(svg.contains("Orange outline: LAs compared"));
}

#[tokio::test]
async fn text_is_set_in_the_shipped_open_sans() {
    let faces = raster::font_faces();
    assert!(faces.contains(&("Open Sans".to_owned(), 400)), "{faces:?}");
    assert!(faces.contains(&("Open Sans".to_owned(), 600)), "{faces:?}");
    // With the fonts loaded, text draws glyphs; an SVG of nothing but text is not blank.
    let png = raster::png(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="200" height="40"><text x="4" y="28" font-family="Open Sans" font-size="20" font-weight="600">Hartlepool</text></svg>"#,
    )
    .expect("png");
    let p = Pixmap::decode_png(&png).expect("decode");
    let inked = p.pixels().iter().filter(|px| px.alpha() > 128).count();
    assert!(inked > 150, "only {inked} pixels of text");
}

#[tokio::test]
async fn pictures_are_cached_with_etags_and_svg_is_gzipped() {
    let ds = Dataset::from_inputs(&common::shipped_inputs(), 12).expect("valid");
    let state = common::state_with(ds, 1 << 20);
    let app = partnership_map::http::router(state.clone());
    let r = get(
        &app,
        "/render/england.png?w=400",
        &[("origin", "https://school.example")],
    )
    .await;
    assert_eq!(r.status, 200);
    let tag = r.header("etag").expect("etag").to_owned();
    assert!(tag.starts_with('"'), "strong ETag");
    assert_eq!(r.header("cache-control"), Some("public, max-age=3600"));
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    let renders = state.pictures.renders();
    let again = get(
        &app,
        "/render/england.png?w=400",
        &[("if-none-match", &tag)],
    )
    .await;
    assert_eq!(again.status, 304);
    assert!(again.body.is_empty());
    let third = get(&app, "/render/england.png?w=400", &[]).await;
    assert_eq!(third.body, r.body);
    assert_eq!(state.pictures.renders(), renders, "served from the cache");
    let gz = get(
        &app,
        "/render/england.svg?w=400",
        &[("accept-encoding", "gzip")],
    )
    .await;
    assert_eq!(gz.header("content-encoding"), Some("gzip"));
    assert_eq!(gz.header("vary"), Some("Accept-Encoding"));
    let plain = get(&app, "/render/england.svg?w=400", &[]).await;
    assert_eq!(plain.header("content-encoding"), None);
    assert!(plain.text().starts_with("<svg"));
    assert_ne!(gz.header("etag"), plain.header("etag"));
    let mut raw = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz.body[..]), &mut raw)
        .expect("gunzip");
    assert_eq!(raw, plain.body);
}

#[tokio::test]
async fn bad_parameters_are_refused_before_anything_is_drawn() {
    let ds = Dataset::from_inputs(&common::shipped_inputs(), 12).expect("valid");
    let state = common::state_with(ds, 1 << 20);
    let app = partnership_map::http::router(state.clone());
    for (uri, status, needle) in [
        ("/render/england.png?w=199", 400, "from 200 to 3000"),
        ("/render/england.png?w=3001", 400, "from 200 to 3000"),
        ("/render/england.png?w=100000000", 400, "from 200 to 3000"),
        ("/render/england.png?w=1e9", 400, "whole number"),
        ("/render/england.png?w=-5", 400, "whole number"),
        ("/render/england.png?w=abc", 400, "whole number"),
        ("/render/england.png?h=5000", 400, "from 200 to 3000"),
        ("/render/england.png?w=400&w=500", 400, "twice"),
        (
            "/render/england.png?measure=colour",
            400,
            "count, role, verified",
        ),
        ("/render/england.png?zoom=4", 400, "unknown parameter"),
        (
            "/render/england.png?la=E99999999",
            404,
            "names no local authority",
        ),
        (
            "/render/england.png?with=E06000001,nope",
            404,
            "names no local authority",
        ),
        (
            "/render/la/E06000001.png?similar=E06000002",
            400,
            "unknown parameter",
        ),
        ("/render/la/E06000001.png?w=9999", 400, "from 200 to 3000"),
        ("/render/la/E99999999.png", 404, "no local authority"),
        ("/render/la/E06000001.jpg", 404, ".png or .svg"),
        ("/render/england.gif", 404, "england.png"),
    ] {
        let r = get(&app, uri, &[]).await;
        assert_eq!(r.status.as_u16(), status, "{uri}: {}", r.text());
        assert!(r.text().contains(needle), "{uri}: {}", r.text());
        assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
    }
    assert_eq!(
        state.pictures.renders(),
        0,
        "nothing was drawn for a bad request"
    );
}

#[tokio::test]
async fn a_new_data_version_draws_a_new_picture() {
    let inputs = common::shipped_inputs();
    let state = common::state_with(Dataset::from_inputs(&inputs, 12).expect("valid"), 8 << 20);
    let app = partnership_map::http::router(state.clone());
    let before = get(&app, "/render/la/E06000001.svg?w=400", &[]).await;
    // A new partnership for Hartlepool changes its count, so its colour.
    let mut changed = inputs.clone();
    changed.partnerships.content.push_str(
        "test-hartlepool-company,Test Hartlepool Company,Hartlepool;Middlesbrough,school_led_company,all,school_improvement,member,unknown,all schools,,,https://www.example.org/a;https://www.example.org/b,2025,Added by the render test.\n",
    );
    let new = Dataset::from_inputs(&changed, 12).expect("valid");
    state.steward.swap_dataset(new);
    let after = get(&app, "/render/la/E06000001.svg?w=400", &[]).await;
    assert_ne!(before.header("etag"), after.header("etag"));
    let colour = |svg: &str| svg_fills(svg)["E06000001"].clone();
    assert_ne!(colour(&before.text()), colour(&after.text()));
}
