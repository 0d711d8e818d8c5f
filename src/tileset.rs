//! How the tile set describes itself to clients and archives: the attribution its licences
//! require, TileJSON, the typed `vector_layers` and tilestats GDAL reads, and the MBTiles /
//! tippecanoe metadata. Pure functions of the dataset and `schema`, shared by the server
//! (`http::meta`), the archive export (`export`) and the drawn pictures (`render`).

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Value as Json, json};
use utoipa::ToSchema;

use crate::dataset::Dataset;
use crate::schema::{self, Field};

/// Attribution required by the boundaries' and data's licences.
pub const ATTRIBUTION: &str = "Boundaries: Source: Office for National Statistics licensed under the Open Government Licence v.3.0; Contains OS data © Crown copyright and database right 2023. \
LA figures: DfE, ONS, DWP (OGL v3.0). Rural/urban: mySociety (CC BY 4.0). \
Partnership and LA-role data: partnership-map dataset compiled from cited public sources.";

/// What the tile set is, for TileJSON and archive metadata.
pub const DESCRIPTION: &str = "England's upper-tier local authorities, as in force on the map's date, with their area-based education partnerships, the LA's role in school improvement, DfE statistical neighbours and context figures.";

/// A coordinate rounded to 6 decimals (about 0.1 m), as TileJSON, the style and the API give
/// bounds and points.
#[must_use]
pub fn round6(v: f64) -> f64 {
    (v * 1e6).round() / 1e6
}

/// Attribute → "Type: meaning." of a TileJSON vector layer.
fn fields_json(fields: &[Field]) -> BTreeMap<String, String> {
    fields
        .iter()
        .map(|f| {
            let opt = if f.optional {
                " Left out when unknown."
            } else {
                ""
            };
            (
                f.name.clone(),
                format!("{}: {}.{opt}", f.ty.tilejson_name(), f.description),
            )
        })
        .collect()
}

/// A vector layer of TileJSON.
#[derive(Debug, Serialize, ToSchema)]
pub struct VectorLayer {
    /// Layer name in the tiles.
    pub id: &'static str,
    /// What the layer holds.
    pub description: &'static str,
    /// Lowest zoom.
    pub minzoom: u8,
    /// Highest zoom.
    pub maxzoom: u8,
    /// Attribute → type and meaning.
    pub fields: BTreeMap<String, String>,
}

/// TileJSON 3.0.0 (`GET /tiles.json`).
#[derive(Debug, Serialize, ToSchema)]
pub struct TileJson {
    /// `3.0.0`.
    #[schema(pattern = r"^3\.0\.0$")]
    pub tilejson: &'static str,
    /// Name.
    pub name: &'static str,
    /// Description.
    pub description: &'static str,
    /// Version of the tile set's layout.
    pub version: &'static str,
    /// Attribution (sources and licences).
    pub attribution: &'static str,
    /// `xyz`.
    #[schema(pattern = "^xyz$")]
    pub scheme: &'static str,
    /// Tile URL templates.
    pub tiles: Vec<String>,
    /// Lowest zoom.
    pub minzoom: u8,
    /// Highest zoom.
    pub maxzoom: u8,
    /// West, south, east, north (degrees).
    pub bounds: [f64; 4],
    /// Longitude, latitude, zoom.
    pub center: [f64; 3],
    /// Version of the data in the tiles.
    pub data_version: String,
    /// The day the map shows, when asked for one.
    pub date: Option<String>,
    /// First day of the councils shown.
    pub valid_from: String,
    /// Last day of them, if a later reorganisation ends it.
    pub valid_until: Option<String>,
    /// The layers and their fields.
    pub vector_layers: Vec<VectorLayer>,
}

/// The tile URL template under `base` for the map of `day` (`/tiles/{day}/{z}/{x}/{y}.pbf`,
/// so caches never mix the councils of two days), pinned with `?v=` to the data version when
/// the day is past and its tiles never change again. Without a day, the undated
/// `/tiles/{z}/{x}/{y}.pbf` (today's map, whatever day it is).
#[must_use]
pub fn tile_url(base: &str, day: Option<&str>, pinned: Option<&str>) -> String {
    let dated = day.map_or(String::new(), |d| format!("/{d}"));
    let v = pinned.map_or(String::new(), |v| format!("?v={v}"));
    format!("{base}/tiles{dated}/{{z}}/{{x}}/{{y}}.pbf{v}")
}

/// The TileJSON document for `base`, with tiles at `tiles` (see [`tile_url`]) and `date` the
/// day it maps.
#[must_use]
pub fn tilejson(ds: &Dataset, base: &str) -> TileJson {
    tilejson_on(ds, &tile_url(base, None, None), None)
}

/// The TileJSON document of the map of `date`, with tiles at `tiles`.
#[must_use]
pub fn tilejson_on(ds: &Dataset, tiles: &str, date: Option<&str>) -> TileJson {
    let max = ds.max_zoom();
    let [w, s, e, n] = ds.geometry.bounds;
    TileJson {
        tilejson: "3.0.0",
        name: "partnership-map: area-based education partnerships in England",
        description: DESCRIPTION,
        version: "1.0.0",
        attribution: ATTRIBUTION,
        scheme: "xyz",
        tiles: vec![tiles.to_owned()],
        minzoom: 0,
        maxzoom: max,
        bounds: [round6(w), round6(s), round6(e), round6(n)],
        center: [round6((w + e) / 2.0), round6((s + n) / 2.0), 6.0],
        data_version: ds.version.clone(),
        date: date.map(str::to_owned),
        valid_from: ds.vintage_start().to_owned(),
        valid_until: ds.vintage_end().map(str::to_owned),
        vector_layers: vec![
            VectorLayer {
                id: schema::LA_LAYER,
                description: "One polygon per upper-tier local authority; feature id = DfE LA number.",
                minzoom: 0,
                maxzoom: max,
                fields: fields_json(&schema::la_fields()),
            },
            VectorLayer {
                id: schema::LABEL_LAYER,
                description: "One label point per LA, at its pole of inaccessibility; feature id = DfE LA number.",
                minzoom: 0,
                maxzoom: max,
                fields: fields_json(&schema::label_fields()),
            },
        ],
    }
}

/// `vector_layers` with each field's value its type name ("Number", "Boolean", "String"), as
/// MBTiles 1.3 requires and tippecanoe writes. GDAL types columns from exactly those words;
/// TileJSON's "Number: what it means" would make every column text in QGIS and ogr2ogr.
#[must_use]
pub fn typed_vector_layers(min: u8, max: u8) -> Json {
    let layer = |id: &str, fields: Vec<Field>| {
        let fields: serde_json::Map<String, Json> = fields
            .iter()
            .map(|f| (f.name.clone(), f.ty.tilejson_name().into()))
            .collect();
        json!({ "id": id, "minzoom": min, "maxzoom": max, "fields": fields })
    };
    json!([
        layer(schema::LA_LAYER, schema::la_fields()),
        layer(schema::LABEL_LAYER, schema::label_fields()),
    ])
}

/// Mapbox tilestats (layer, feature count, geometry type): GDAL reads the geometry type from
/// here, so the polygon layer opens as MultiPolygon rather than "Unknown".
#[must_use]
pub fn tilestats(ds: &Dataset) -> Json {
    json!({
        "layerCount": 2,
        "layers": [
            { "layer": schema::LA_LAYER, "count": ds.las.len(), "geometry": "Polygon" },
            { "layer": schema::LABEL_LAYER, "count": ds.las.len(), "geometry": "Point" },
        ]
    })
}

/// tippecanoe's `metadata.json` (every value a string, as in MBTiles), served at
/// `/tiles/metadata.json`; its rows are the MBTiles 1.3 `metadata` table.
#[derive(Debug, Serialize, ToSchema)]
pub struct TileMetadata {
    /// Name.
    pub name: String,
    /// `pbf`.
    pub format: String,
    /// `overlay`.
    #[serde(rename = "type")]
    pub kind: String,
    /// MBTiles version, `1.3`.
    pub version: String,
    /// Description.
    pub description: String,
    /// Attribution.
    pub attribution: String,
    /// `west,south,east,north`.
    pub bounds: String,
    /// `lon,lat,zoom`.
    pub center: String,
    /// Lowest zoom.
    pub minzoom: String,
    /// Highest zoom.
    pub maxzoom: String,
    /// Version of the data.
    pub data_version: String,
    /// `vector_layers` and `tilestats`, as JSON text.
    pub json: String,
}

impl TileMetadata {
    /// The MBTiles `metadata` rows: name and value.
    #[must_use]
    pub fn rows(self) -> Vec<(&'static str, String)> {
        vec![
            ("name", self.name),
            ("format", self.format),
            ("type", self.kind),
            ("version", self.version),
            ("description", self.description),
            ("attribution", self.attribution),
            ("bounds", self.bounds),
            ("center", self.center),
            ("minzoom", self.minzoom),
            ("maxzoom", self.maxzoom),
            ("data_version", self.data_version),
            ("json", self.json),
        ]
    }
}

/// The MBTiles 1.3 `metadata` rows for zooms `min..=max`. The same rows make tippecanoe's
/// `metadata.json` (served at `/tiles/metadata.json`, where GDAL's MVT driver looks for it).
#[must_use]
pub fn archive_metadata(ds: &Dataset, min: u8, max: u8) -> Vec<(&'static str, String)> {
    metadata_json(ds, min, max).rows()
}

/// tippecanoe's `metadata.json` for zooms `min..=max`: the rows of [`archive_metadata`] as one
/// JSON object.
#[must_use]
pub fn metadata_json(ds: &Dataset, min: u8, max: u8) -> TileMetadata {
    let [w, s, e, n] = ds.geometry.bounds;
    let (cx, cy) = ((w + e) / 2.0, (s + n) / 2.0);
    let json = json!({
        "vector_layers": typed_vector_layers(min, max),
        "tilestats": tilestats(ds),
    });
    TileMetadata {
        name: "partnership-map".to_owned(),
        format: "pbf".to_owned(),
        kind: "overlay".to_owned(),
        version: "1.3".to_owned(),
        description: DESCRIPTION.to_owned(),
        attribution: ATTRIBUTION.to_owned(),
        bounds: format!("{w},{s},{e},{n}"),
        center: format!("{cx},{cy},{}", min.max(6).min(max)),
        minzoom: min.to_string(),
        maxzoom: max.to_string(),
        data_version: ds.version.clone(),
        json: json.to_string(),
    }
}
