//! The bodies the OGC API answers with (`ogc.rs` builds them): landing page, conformance,
//! collections, GeoJSON features and pages of them, tile matrix sets and tilesets. Each is
//! typed, and its schema in the OpenAPI description is derived from the type.

use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

/// A link of an OGC API document.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = OgcLink)]
pub struct Link {
    /// Target.
    pub href: String,
    /// Relation.
    pub rel: String,
    /// Media type of the target.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// Title.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Whether `href` is a URI template.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub templated: Option<bool>,
}

impl Link {
    /// A link to `href` of relation `rel` and media type `media_type`.
    #[must_use]
    pub fn new(rel: &str, media_type: &str, href: String) -> Self {
        Self {
            href,
            rel: rel.to_owned(),
            media_type: Some(media_type.to_owned()),
            title: None,
            templated: None,
        }
    }

    /// The same link with a title.
    #[must_use]
    pub fn titled(mut self, title: &str) -> Self {
        self.title = Some(title.to_owned());
        self
    }
}

/// The OGC API landing page.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = OgcLanding)]
pub struct Landing {
    /// Title.
    pub title: &'static str,
    /// Description.
    pub description: &'static str,
    /// Attribution.
    pub attribution: &'static str,
    /// `self`, `service-desc`, `service-doc`, `conformance`, `data`, tiling schemes, licence.
    pub links: Vec<Link>,
}

/// OGC API conformance declaration.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = OgcConformance)]
pub struct Conformance {
    /// Conformance class URIs.
    #[serde(rename = "conformsTo")]
    pub conforms_to: Vec<&'static str>,
}

/// An OGC API collection.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = OgcCollection)]
pub struct Collection {
    /// `local_authorities` or `partnerships`.
    pub id: &'static str,
    /// Title.
    pub title: &'static str,
    /// Description.
    pub description: String,
    /// `feature`.
    pub item_type: &'static str,
    /// CRS URIs.
    pub crs: Vec<&'static str>,
    /// Spatial extent: `spatial.bbox` (west, south, east, north) in `spatial.crs`.
    #[schema(value_type = Object)]
    pub extent: Value,
    /// `self`, `items` (GeoJSON, GeoPackage, FlatGeobuf), licence, tilesets.
    pub links: Vec<Link>,
}

/// The OGC API collections.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = OgcCollections)]
pub struct Collections {
    /// `self`.
    pub links: Vec<Link>,
    /// Both collections.
    pub collections: Vec<Collection>,
}

/// A GeoJSON feature.
#[derive(Debug, Serialize, ToSchema)]
pub struct Feature {
    /// `Feature`.
    #[serde(rename = "type")]
    #[schema(value_type = String, pattern = "^Feature$")]
    pub kind: &'static str,
    /// LA code or partnership id.
    pub id: String,
    /// `MultiPolygon` (LAs, CRS84) or `MultiPoint` (partnerships, at their LAs' label points).
    #[schema(value_type = Object)]
    pub geometry: Value,
    /// The attributes.
    #[schema(value_type = Object)]
    pub properties: Map<String, Value>,
    /// `self` and `collection` (single-feature responses).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub links: Option<Vec<Link>>,
}

impl Feature {
    /// A feature without links.
    #[must_use]
    pub fn new(id: String, geometry: Value, properties: Map<String, Value>) -> Self {
        Self {
            kind: "Feature",
            id,
            geometry,
            properties,
            links: None,
        }
    }
}

/// A GeoJSON feature collection, one page of items.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FeatureCollection {
    /// `FeatureCollection`.
    #[serde(rename = "type")]
    #[schema(value_type = String, pattern = "^FeatureCollection$")]
    pub kind: &'static str,
    /// RFC 3339 time of the response.
    pub time_stamp: String,
    /// Features matching the filters.
    pub number_matched: usize,
    /// Features in this page.
    pub number_returned: usize,
    /// The page.
    pub features: Vec<Feature>,
    /// `self`, `collection`, `alternate` (GeoPackage, FlatGeobuf), `next`, `prev`.
    pub links: Vec<Link>,
}

/// A tile matrix set, as the list names it.
#[derive(Debug, Serialize, ToSchema)]
pub struct TileMatrixSetRef {
    /// `WebMercatorQuad`.
    pub id: &'static str,
    /// Title.
    pub title: &'static str,
    /// Its OGC URI.
    pub uri: &'static str,
    /// `self`.
    pub links: Vec<Link>,
}

/// `GET /ogc/tileMatrixSets`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TileMatrixSets {
    /// The tile matrix sets.
    pub tile_matrix_sets: Vec<TileMatrixSetRef>,
}

/// A vector tileset, as the list of a collection's tilesets names it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TilesetRef {
    /// Title.
    pub title: &'static str,
    /// `vector`.
    pub data_type: &'static str,
    /// CRS URI.
    pub crs: &'static str,
    /// URI of its tile matrix set.
    #[serde(rename = "tileMatrixSetURI")]
    pub tile_matrix_set_uri: &'static str,
    /// Address of its tile matrix set's definition.
    pub tile_matrix_set_definition: String,
    /// `self`, the tileset, the tiling scheme.
    pub links: Vec<Link>,
}

/// `GET /ogc/collections/{id}/tiles`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Tilesets {
    /// `self`.
    pub links: Vec<Link>,
    /// The tilesets.
    pub tilesets: Vec<TilesetRef>,
}

/// The tiles of one zoom that hold the collection.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TileMatrixLimits {
    /// The zoom.
    pub tile_matrix: String,
    /// First row.
    pub min_tile_row: u32,
    /// Last row.
    pub max_tile_row: u32,
    /// First column.
    pub min_tile_col: u32,
    /// Last column.
    pub max_tile_col: u32,
}

/// `GET /ogc/collections/{id}/tiles/{tms}`: the vector tileset.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Tileset {
    /// Title.
    pub title: &'static str,
    /// `vector`.
    pub data_type: &'static str,
    /// CRS URI.
    pub crs: &'static str,
    /// URI of its tile matrix set.
    #[serde(rename = "tileMatrixSetURI")]
    pub tile_matrix_set_uri: &'static str,
    /// Address of its tile matrix set's definition.
    pub tile_matrix_set_definition: String,
    /// Per zoom, the tiles that hold the collection.
    pub tile_matrix_set_limits: Vec<TileMatrixLimits>,
    /// `lowerLeft`, `upperRight` and `crs`.
    #[schema(value_type = Object)]
    pub bounding_box: Value,
    /// The layers in the tiles, with their attributes.
    #[schema(value_type = Vec<Object>)]
    pub layers: Vec<Value>,
    /// `self`, the tiling scheme, the tile template (`item`), TileJSON.
    pub links: Vec<Link>,
    /// Tile extent in tile units.
    pub extent: u32,
}
