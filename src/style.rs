//! The MapLibre styles: the shipped templates (`styles/default.json` for the web map,
//! `styles/qgis.json` for QGIS 3.22's converter) and a style pointed at a server. The templates
//! are also the source of the colours the server draws with (`render::measure`).

use serde_json::{Value as Json, json};

use crate::dataset::Dataset;
use crate::tileset::{ATTRIBUTION, round6};

/// The style template, shipped in `styles/`.
pub const STYLE_TEMPLATE: &str = include_str!("../styles/default.json");

/// The QGIS-friendly variant (`/styles/qgis.json`): same colours, one layer per category.
pub const QGIS_STYLE_TEMPLATE: &str = include_str!("../styles/qgis.json");

/// Name of the vector source in the style.
pub const SOURCE_ID: &str = "partnership-map";

/// The MapLibre style: `template` with its source pointed at `base`.
#[must_use]
pub fn style(template: &Json, ds: &Dataset, base: &str) -> Json {
    style_on(
        template,
        ds,
        base,
        &crate::tileset::tile_url(base, None, None),
    )
}

/// The MapLibre style with tiles at `tiles` (a dated URL, see `tileset::tile_url`).
#[must_use]
pub fn style_on(template: &Json, ds: &Dataset, base: &str, tiles: &str) -> Json {
    let mut style = template.clone();
    style["glyphs"] = json!(format!("{base}/fonts/{{fontstack}}/{{range}}.pbf"));
    let [w, s, e, n] = ds.geometry.bounds;
    style["center"] = json!([round6((w + e) / 2.0), round6((s + n) / 2.0)]);
    style["sources"][SOURCE_ID] = json!({
        "type": "vector",
        "tiles": [tiles],
        "minzoom": 0,
        "maxzoom": ds.max_zoom(),
        "bounds": [round6(w), round6(s), round6(e), round6(n)],
        "attribution": ATTRIBUTION,
        "promoteId": "code",
    });
    style
}
