//! The MapLibre styles: the shipped templates (`styles/default.json` for the web map,
//! `styles/qgis.json` for QGIS 3.22's converter) and a style pointed at a server. The templates
//! are also the source of the colours the server draws with (`render::measure`).

use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};
use utoipa::ToSchema;

use crate::dataset::Dataset;
use crate::tileset::{ATTRIBUTION, round6};

/// The style template, shipped in `styles/`.
pub const STYLE_TEMPLATE: &str = include_str!("../styles/default.json");

/// The QGIS-friendly variant (`/styles/qgis.json`): same colours, one layer per category.
pub const QGIS_STYLE_TEMPLATE: &str = include_str!("../styles/qgis.json");

/// Name of the vector source in the style.
pub const SOURCE_ID: &str = "partnership-map";

/// A MapLibre style (version 8): a shipped template, or one pointed at a server. Every key of
/// the templates is named here, so a template with another key fails to load.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Style {
    /// `8`.
    pub version: u8,
    /// Name.
    pub name: String,
    /// The legend the web map shows, among others.
    #[schema(value_type = Object)]
    pub metadata: Json,
    /// Glyph URL template (on this server).
    pub glyphs: String,
    /// Longitude, latitude.
    pub center: [f64; 2],
    /// Initial zoom.
    pub zoom: f64,
    /// The tile source (pointed at this server).
    #[schema(value_type = Object)]
    pub sources: serde_json::Map<String, Json>,
    /// Drawing layers.
    #[schema(value_type = Vec<Object>)]
    pub layers: Vec<Json>,
}

/// The MapLibre style: `template` with its source pointed at `base`.
#[must_use]
pub fn style(template: &Style, ds: &Dataset, base: &str) -> Style {
    style_on(
        template,
        ds,
        base,
        &crate::tileset::tile_url(base, None, None),
    )
}

/// The MapLibre style with tiles at `tiles` (a dated URL, see `tileset::tile_url`).
#[must_use]
pub fn style_on(template: &Style, ds: &Dataset, base: &str, tiles: &str) -> Style {
    let mut style = template.clone();
    style.glyphs = format!("{base}/fonts/{{fontstack}}/{{range}}.pbf");
    let [w, s, e, n] = ds.geometry.bounds;
    style.center = [round6((w + e) / 2.0), round6((s + n) / 2.0)];
    style.sources.insert(
        SOURCE_ID.to_owned(),
        json!({
            "type": "vector",
            "tiles": [tiles],
            "minzoom": 0,
            "maxzoom": ds.max_zoom(),
            "bounds": [round6(w), round6(s), round6(e), round6(n)],
            "attribution": ATTRIBUTION,
            "promoteId": "code",
        }),
    );
    style
}
