//! The OpenAPI 3.1 description of the whole HTTP API (`/api/openapi.json`), its OGC part
//! (`/ogc/api`, the landing page's `service-desc`) and the browsable rendering at `/api`.
//!
//! Every operation is described by a `#[utoipa::path]` on its own handler; this module only
//! gathers them ([`ApiDoc`]), declares the response schemas that the handlers build as JSON,
//! and fills in what depends on the data: the LA attributes (from `schema.rs`, the list the
//! tiles and TileJSON use), the highest zoom, and one items operation per OGC collection with
//! that collection's attributes as filters. `tests/openapi.rs` fails when a route of the router
//! has no description here.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::{DOCTYPE, html};
use utoipa::openapi::path::{Operation, OperationBuilder, ParameterBuilder, ParameterIn, PathItem};
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Schema, Type};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{
    ContentBuilder, HttpMethod, OpenApi as Doc, RefOr, Required, ResponseBuilder, ResponsesBuilder,
};
use utoipa::{Modify, OpenApi, ToSchema};

use super::pages::{EmbeddedFile, Framing, embedded, head_basics, html_response};
use super::state::AppState;
use crate::dataset::Dataset;
use crate::error::AppError;
use crate::schema::{self, FieldType};

// ---------------------------------------------------------------------------------------------
// Response and request schemas. The handlers build these bodies as JSON; the types below say
// what they contain (Schemathesis checks every response against them in `tests/schemathesis.rs`).
// They are never constructed.

/// Every JSON error: what is wrong and where.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ErrorBody {
    /// Human-readable reason.
    pub error: String,
}

/// A rejected submission or edit: the reason, and a message per field.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct FieldErrorBody {
    /// Summary of the problems.
    pub error: String,
    /// Field name → what is wrong with it.
    pub fields: BTreeMap<String, String>,
}

/// New data that failed validation on `POST /admin/reload`; the old data is still served.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ReloadRejectedBody {
    /// Summary.
    pub error: String,
    /// Every problem, `file:line: column: message`.
    pub problems: Vec<String>,
    /// The version still served.
    pub data_version: String,
}

/// Bytes of a binary representation (a vector tile, glyphs, a PNG).
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
#[allow(dead_code)]
pub struct Binary(Vec<u8>);

/// An LA with every tile attribute (see `docs/FIELDS.md`; the properties are generated from
/// the same list the tiles use), plus `bbox`, `label` and the statistical neighbours as lists.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct LaSummary {
    /// ONS GSS code.
    pub code: String,
}

/// The properties of a `local_authorities` feature: every tile attribute, in tile form.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct LaProperties {
    /// ONS GSS code.
    pub code: String,
}

/// `GET /api/las`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct LaList {
    /// Version of the data served.
    pub data_version: String,
    /// Date of the newest evidence, `YYYY-MM-DD`.
    pub data_as_of: Option<String>,
    /// Number of LAs in force on the day.
    pub count: u32,
    /// Every LA.
    pub local_authorities: Vec<LaSummary>,
}

/// An LA's own role in school improvement, with its sources.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct LaRole {
    /// The LA funds school improvement or partnerships.
    pub funder: bool,
    /// The LA convenes partnerships.
    pub convener: bool,
    /// The LA delivers school improvement itself.
    pub deliverer: bool,
    /// The LA sells school improvement as a traded service.
    pub traded_service: bool,
    /// Summary in words.
    pub summary: String,
    /// Sources read.
    pub source_urls: Vec<String>,
    /// Year or date of the evidence.
    pub evidence_date: String,
}

/// One of an LA's DfE statistical neighbours.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct Neighbour {
    /// 1 = closest.
    pub rank: u32,
    /// GSS code.
    pub code: String,
    /// Name.
    pub name: String,
    /// DfE's closeness band (may be empty).
    pub closeness: String,
}

/// `GET /api/las/{code}`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct LaDetail {
    /// Version of the data served.
    pub data_version: String,
    /// Date of the newest evidence.
    pub data_as_of: Option<String>,
    /// The LA's attributes; an LA not in force on the day asked (abolished, or not yet
    /// created) has only its code and name, and `history` says when it was.
    pub local_authority: LaSubject,
    /// Its role, or null when the data has none.
    pub role: Option<LaRole>,
    /// Its partnerships.
    pub partnerships: Vec<PartnershipJson>,
    /// Its statistical neighbours, closest first.
    pub neighbours: Vec<Neighbour>,
}

/// The LA of `GET /api/las/{code}`: in force on the day, or another day's.
#[derive(ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub enum LaSubject {
    /// In force on the day: every attribute.
    InForce(LaSummary),
    /// Not in force on the day.
    Other(OtherLa),
}

/// An LA of another day: its code and name only (nothing else, so it is never mistaken for
/// an LA in force).
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct OtherLa {
    /// GSS code.
    pub code: String,
    /// Name.
    pub name: String,
}

/// A partnership, as the API and the downloads publish it.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct PartnershipJson {
    /// Stable id (slug).
    pub id: String,
    /// Name.
    pub name: String,
    /// GSS codes of its LAs.
    pub la_codes: Vec<String>,
    /// Names of its LAs, in the same order.
    pub la_names: Vec<String>,
    /// Form (`schema::FORMS`).
    pub form: String,
    /// Phases.
    pub phases: Vec<String>,
    /// Focus tags.
    pub focus: Vec<String>,
    /// The LA's involvement.
    pub la_involvement: String,
    /// Legal form.
    pub legal_form: String,
    /// Who is a member.
    pub membership: String,
    /// Year founded.
    pub founded: Option<u16>,
    /// Website.
    pub website: Option<String>,
    /// Sources read.
    pub source_urls: Vec<String>,
    /// Year or date of the evidence.
    pub evidence_date: String,
    /// Notes.
    pub notes: String,
}

/// `GET /api/partnerships`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct PartnershipList {
    /// Version of the data served.
    pub data_version: String,
    /// Number of partnerships listed.
    pub count: u32,
    /// The partnerships.
    pub partnerships: Vec<PartnershipJson>,
}

/// A published change, as the public history shows it (no names, emails or tokens).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct PublicChange {
    /// Position in the log.
    pub id: i64,
    /// RFC 3339 UTC.
    pub time: String,
    /// LAs concerned.
    pub la_codes: Vec<String>,
    /// Their names.
    pub la_names: Vec<String>,
    /// Kind, e.g. `partnership.update`.
    pub kind: String,
    /// One line for people.
    pub summary: String,
    /// Fields changed, before and after.
    pub changes: Vec<crate::changes::FieldChange>,
    /// Why.
    pub reason: String,
    /// The change it undoes, if it is an undo.
    pub reverts: Option<i64>,
}

/// `GET /api/changes`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct PublicChangeList {
    /// Version of the data served.
    pub data_version: String,
    /// Number of changes listed.
    pub count: u32,
    /// Newest first.
    pub changes: Vec<PublicChange>,
}

/// `POST /api/submissions` → 201.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct SubmissionCreated {
    /// Reference, e.g. `PM-000042`.
    pub id: String,
    /// Always `new`.
    pub status: String,
    /// Thanks, for people.
    pub message: String,
}

/// `GET /api/admin/submissions`: one page of the review queue.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct SubmissionPage {
    /// Submissions matching the status.
    pub total: i64,
    /// Page size.
    pub limit: i64,
    /// Offset of this page.
    pub offset: i64,
    /// Offset of the next page, if any.
    pub next_offset: Option<i64>,
    /// The status filter, if any.
    pub status: Option<String>,
    /// The page.
    pub items: Vec<crate::submission::Submission>,
}

/// A submission's review status (`submission::STATUSES`).
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum ReviewStatus {
    /// Not reviewed yet.
    New,
    /// Taken into the data.
    Accepted,
    /// Not taken.
    Rejected,
    /// Already known.
    Duplicate,
}

/// `POST /api/admin/submissions/{id}/review`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ReviewRequest {
    /// New status.
    pub status: ReviewStatus,
    /// Reviewer's note (under 2000 characters).
    pub note: Option<String>,
}

/// `POST /api/admin/changes/{id}/revert`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct RevertRequest {
    /// Why the change is undone (required, public).
    #[schema(min_length = 1, pattern = r"\S")]
    pub reason: String,
}

/// `POST /api/admin/edits`: a change with the why. `kind` says which fields it takes.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct EditRequest {
    /// `partnership.create`, `partnership.update`, `partnership.retire`, `la_role.set`,
    /// `la_role.remove` or `la.verify`.
    pub kind: String,
    /// Why, in words; public (no email addresses).
    pub reason: String,
    /// Reference of the submission this settles, e.g. `PM-000042`.
    pub submission: Option<String>,
    /// `partnership.create`: the new record (every field of `/api/partnerships` but `la_names`).
    #[schema(value_type = Option<Object>)]
    pub partnership: Option<serde_json::Value>,
    /// `partnership.update`, `partnership.retire`: the partnership's id.
    pub id: Option<String>,
    /// `la_role.*`, `la.verify`: the LA's code.
    pub la: Option<String>,
    /// `partnership.update`, `la_role.set`: field → new value.
    #[schema(value_type = Option<Object>)]
    pub fields: Option<serde_json::Value>,
    /// `la.verify`: verified or not.
    pub verified: Option<bool>,
    /// `la.verify`: `YYYY-MM-DD`, required when verified.
    pub date: Option<String>,
}

/// A published (201) or previewed (200) change.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct EditOutcome {
    /// The logged change's id; null for a preview.
    pub change: Option<i64>,
    /// Whether this was only a preview (`dry_run`).
    pub preview: bool,
    /// The data version after it.
    pub data_version: String,
    /// The data version before it.
    pub previous_version: String,
    /// One line for people.
    pub summary: String,
    /// What changed.
    pub changes: Vec<crate::changes::FieldChange>,
    /// LAs concerned.
    pub la_codes: Vec<String>,
    /// The change as it is (or will be) logged.
    pub body: crate::changes::Change,
}

/// `GET /api/admin/changes`: the full log, with editors' names.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct AdminChangeList {
    /// Number listed.
    pub count: u32,
    /// Newest first.
    pub changes: Vec<crate::changes::LoggedChange>,
}

/// `GET /api/admin/conflicts`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ConflictList {
    /// The last change applied.
    pub through_change: i64,
    /// Number of conflicts.
    pub count: u32,
    /// Changes that no longer apply to the files.
    pub conflicts: Vec<crate::changes::Conflict>,
}

/// `GET /health`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct Health {
    /// Always `ok`.
    pub status: String,
    /// Version of the data served.
    pub data_version: String,
    /// Date of the newest evidence.
    pub data_as_of: Option<String>,
    /// LAs loaded.
    pub local_authorities: u32,
    /// Partnerships loaded.
    pub partnerships: u32,
    /// Highest zoom served.
    pub max_zoom: u8,
    /// Tile requests served by the cache since start.
    pub tile_requests: u64,
    /// Tiles rendered since start.
    pub tile_renders: u64,
    /// The last change of the log applied.
    pub changes_through: i64,
    /// Logged changes that no longer apply to the files.
    pub change_conflicts: u32,
}

/// A vector layer of TileJSON.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct VectorLayer {
    /// Layer name in the tiles.
    pub id: String,
    /// What the layer holds.
    pub description: String,
    /// Attribute → type and meaning.
    pub fields: BTreeMap<String, String>,
    /// Lowest zoom.
    pub minzoom: u8,
    /// Highest zoom.
    pub maxzoom: u8,
}

/// TileJSON 3.0.0 (`GET /tiles.json`).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct TileJson {
    /// `3.0.0`.
    pub tilejson: String,
    /// Tile URL templates.
    pub tiles: Vec<String>,
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Attribution (sources and licences).
    pub attribution: String,
    /// `xyz`.
    pub scheme: String,
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
    /// The layers and their fields.
    pub vector_layers: Vec<VectorLayer>,
}

/// tippecanoe's `metadata.json` (every value a string, as in MBTiles).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct TileMetadata {
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Attribution.
    pub attribution: String,
    /// `pbf`.
    pub format: String,
    /// `west,south,east,north`.
    pub bounds: String,
    /// `lon,lat,zoom`.
    pub center: String,
    /// Lowest zoom.
    pub minzoom: String,
    /// Highest zoom.
    pub maxzoom: String,
    /// `vector_layers` and `tilestats`, as JSON text.
    pub json: String,
    /// Version of the data.
    pub data_version: String,
}

/// A MapLibre style (version 8).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct Style {
    /// `8`.
    pub version: u8,
    /// Name.
    pub name: String,
    /// The tile source, pointed at this server.
    #[schema(value_type = Object)]
    pub sources: serde_json::Value,
    /// Drawing layers.
    #[schema(value_type = Vec<Object>)]
    pub layers: Vec<serde_json::Value>,
    /// Glyph URL template on this server.
    pub glyphs: String,
}

/// A column of a comparison.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct CompareColumn {
    /// GSS code.
    pub code: String,
    /// Name.
    pub name: String,
    /// Region.
    pub region: String,
    /// LA type.
    pub la_type: String,
    /// Whether this column is the LA compared.
    pub subject: bool,
    /// Statistical-neighbour rank, if it is one.
    pub rank: Option<u32>,
    /// DfE closeness band, if it is a statistical neighbour.
    pub closeness: Option<String>,
}

/// An LA named in a comparison.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct NamedLa {
    /// GSS code.
    pub code: String,
    /// Name.
    pub name: String,
}

/// `GET /api/compare` (JSON).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct Comparison {
    /// The LA compared.
    pub la: NamedLa,
    /// `statistical_neighbours` or `chosen`.
    pub mode: String,
    /// The LAs, the compared one first.
    pub columns: Vec<CompareColumn>,
    /// Table rows: `group`, `key`, `label`, `cells` (`value`, `partnerships`).
    #[schema(value_type = Vec<Object>)]
    pub rows: Vec<serde_json::Value>,
    /// What the other LAs have that this one has not.
    #[schema(value_type = Vec<Object>)]
    pub differences: Vec<serde_json::Value>,
    /// Per LA code: its `role` and `partnerships` in full.
    #[schema(value_type = Object)]
    pub evidence: serde_json::Value,
    /// Version of the data.
    pub data_version: String,
    /// Date of the newest evidence.
    pub data_as_of: Option<String>,
    /// `html`, `csv` and `picture` addresses of the same comparison.
    pub links: BTreeMap<String, String>,
}

/// A link of an OGC API document.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct OgcLink {
    /// Target.
    pub href: String,
    /// Relation.
    pub rel: String,
    /// Media type of the target.
    #[schema(rename = "type")]
    pub r#type: Option<String>,
    /// Title.
    pub title: Option<String>,
    /// Whether `href` is a URI template.
    pub templated: Option<bool>,
}

/// The OGC API landing page.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct OgcLanding {
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// Attribution.
    pub attribution: String,
    /// `self`, `service-desc`, `conformance`, `data`, tiling schemes, licence.
    pub links: Vec<OgcLink>,
}

/// OGC API conformance declaration.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct OgcConformance {
    /// Conformance class URIs.
    #[schema(rename = "conformsTo")]
    pub conforms_to: Vec<String>,
}

/// An OGC API collection.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct OgcCollection {
    /// `local_authorities` or `partnerships`.
    pub id: String,
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// `feature`.
    #[schema(rename = "itemType")]
    pub item_type: String,
    /// Spatial extent.
    #[schema(value_type = Object)]
    pub extent: serde_json::Value,
    /// CRS URIs.
    pub crs: Vec<String>,
    /// `self`, `items`, licence, tilesets.
    pub links: Vec<OgcLink>,
}

/// The OGC API collections.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct OgcCollections {
    /// Both collections.
    pub collections: Vec<OgcCollection>,
    /// `self`.
    pub links: Vec<OgcLink>,
}

/// A GeoJSON feature.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct Feature {
    /// `Feature`.
    #[schema(rename = "type")]
    pub r#type: String,
    /// LA code or partnership id.
    pub id: String,
    /// `MultiPolygon` (LAs, CRS84) or `MultiPoint` (partnerships, at their LAs' label points).
    #[schema(value_type = Object)]
    pub geometry: serde_json::Value,
    /// The attributes.
    #[schema(value_type = Object)]
    pub properties: serde_json::Value,
    /// Links (single-feature responses).
    pub links: Option<Vec<OgcLink>>,
}

/// A GeoJSON feature collection, one page of items.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct FeatureCollection {
    /// `FeatureCollection`.
    #[schema(rename = "type")]
    pub r#type: String,
    /// The page.
    pub features: Vec<Feature>,
    /// `self`, `collection`, `next`, `prev`.
    pub links: Vec<OgcLink>,
    /// RFC 3339 time of the response.
    #[schema(rename = "timeStamp")]
    pub time_stamp: String,
    /// Features matching the filters.
    #[schema(rename = "numberMatched")]
    pub number_matched: u32,
    /// Features in this page.
    #[schema(rename = "numberReturned")]
    pub number_returned: u32,
}

/// An OGC tile matrix set (WebMercatorQuad), or the list of them, or a tileset.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct OgcTiles {
    /// Links.
    pub links: Option<Vec<OgcLink>>,
}

// ---------------------------------------------------------------------------------------------
// The document.

/// Every operation of the HTTP API.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "partnership-map",
        description = "England's upper-tier local authorities, as in force on any day since April 2023, as Mapbox Vector Tiles with \
            their area-based education partnerships, plus TileJSON, MapLibre styles, glyphs, a JSON \
            API, OGC API – Features and Tiles, open-data downloads, map pictures, a public change \
            history, corrections from the public, and the research team's review and edit API.",
        license(name = "Code: MIT OR Apache-2.0. Boundaries: OGL v3.0 (ONS). Data: see the attribution in /tiles.json.")
    ),
    paths(
        super::tiles::tile,
        super::tiles::dated_tile,
        super::meta::dated_metadata,
        super::meta::tilejson_handler,
        super::meta::tippecanoe_metadata,
        super::meta::style_handler,
        super::web::fonts,
        super::api::las,
        super::api::la,
        super::api::partnerships,
        super::reorganisations::reorganisations,
        super::compare::api,
        super::render::england,
        super::render::la,
        super::changes::list,
        super::changes::one,
        super::changes::atom,
        super::downloads::page,
        super::downloads::file,
        super::contribute::api_submit,
        super::contribute::form_page,
        super::contribute::form_post,
        super::admin::page,
        super::admin::list,
        super::admin::export_csv,
        super::admin::one,
        super::admin::review,
        super::edits::create,
        super::edits::list,
        super::edits::revert,
        super::edits::conflicts,
        super::edits::reload,
        super::ogc::landing,
        super::ogc::landing_slash,
        super::ogc::openapi,
        super::ogc::conformance,
        super::ogc::collections,
        super::ogc::collection,
        super::ogc::item,
        super::ogc::tilesets,
        super::ogc::tileset,
        super::tiles::ogc_tile,
        super::ogc::tile_matrix_sets,
        super::ogc::tile_matrix_set,
        super::web::index,
        super::web::embed,
        super::compare::page,
        super::web::vendor,
        super::pages::asset,
        super::meta::health,
        super::metrics::metrics,
        super::verify::form_page,
        super::verify::form_post,
        super::verify::public_status,
        super::verification::create,
        super::verification::list,
        super::verification::one,
        super::verification::status_csv,
        super::verification::reminders_csv,
        super::verification::links,
        super::verification::retry_mail,
        super::verification::revoke,
        super::verification::answers,
        super::verification::answer,
        super::verification::accept,
        super::verification::close,
        api_json,
        api_page,
        vendor,
    ),
    components(schemas(LaSummary, LaProperties, FeatureCollection, ErrorBody)),
    modifiers(&Security),
    tags(
        (name = "tiles", description = "Vector tiles, TileJSON, styles and glyphs"),
        (name = "api", description = "The JSON API behind the web map"),
        (name = "pictures", description = "Map pictures drawn by the server"),
        (name = "history", description = "The public change history"),
        (name = "downloads", description = "Open-data downloads"),
        (name = "submissions", description = "Corrections from the public"),
        (name = "admin", description = "The research team's review and edit API (bearer token of a named editor)"),
        (name = "verification", description = "LAs verify their own summaries: campaigns, secret links, the LA's page, answers and their review"),
        (name = "ogc", description = "OGC API – Features (Part 1 Core) and Tiles (core)"),
        (name = "pages", description = "HTML pages and their assets"),
        (name = "meta", description = "Health and this description"),
    )
)]
pub struct ApiDoc;

/// Adds the editors' bearer token scheme.
struct Security;

impl Modify for Security {
    fn modify(&self, doc: &mut Doc) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "editor_token",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// Prefix of the OGC API's paths.
pub const OGC_PREFIX: &str = "/ogc";

/// The whole description, completed from the data served: LA attributes, highest zoom, the
/// values path and query parameters take (LA codes, file names, statuses…), and one items
/// operation per OGC collection. `downloads` are the names `/downloads/{name}` answers.
#[must_use]
pub fn document(ds: &Dataset, downloads: &[String]) -> Doc {
    let mut doc = ApiDoc::openapi();
    no_section_headings(&mut doc);
    constrain(&mut doc, ds, downloads);
    if let Some(c) = doc.components.as_mut() {
        c.schemas
            .insert("LaSummary".into(), RefOr::T(la_schema(true)));
        c.schemas
            .insert("LaProperties".into(), RefOr::T(la_schema(false)));
        // What the corrections form accepts, built from the data (see `openapi_rules`).
        c.schemas.insert(
            "RawSubmission".into(),
            RefOr::T(super::openapi_rules::submission_schema(ds)),
        );
    }
    set_max_zoom(&mut doc, ds.max_zoom());
    doc.paths.paths.insert(
        format!("{OGC_PREFIX}/collections/local_authorities/items"),
        items_path("local_authorities", &la_filters()),
    );
    doc.paths.paths.insert(
        format!("{OGC_PREFIX}/collections/partnerships/items"),
        items_path("partnerships", &partnership_filters()),
    );
    unique_operation_ids(&mut doc);
    doc
}

/// [`document`] as JSON, as served: with the links between operations (see `openapi_rules`),
/// and, while no editor is configured (`editors` false: the admin API is off and its routes
/// answer 404 like any unknown path), without the operations that need an editor's token.
///
/// # Errors
/// When the document does not serialise (a bug).
pub fn document_json(
    ds: &Dataset,
    downloads: &[String],
    editors: bool,
) -> Result<serde_json::Value, AppError> {
    let mut doc = serde_json::to_value(document(ds, downloads))
        .map_err(|e| AppError::Store(format!("OpenAPI document: {e}")))?;
    if !editors {
        super::openapi_rules::without_secured(&mut doc);
    }
    super::openapi_rules::add_links(&mut doc);
    Ok(doc)
}

/// The operations' descriptions come from the handlers' doc comments, whose rustdoc sections
/// (`# Errors`) would be top-level headings inside each operation wherever the description is
/// rendered (Swagger UI at /api breaks its heading order): each becomes a bold lead-in.
fn no_section_headings(doc: &mut Doc) {
    for item in doc.paths.paths.values_mut() {
        for op in [item.get.as_mut(), item.post.as_mut()]
            .into_iter()
            .flatten()
        {
            if let Some(d) = op.description.as_mut() {
                *d = d
                    .lines()
                    .map(|l| {
                        l.strip_prefix("# ")
                            .map_or_else(|| l.to_owned(), |h| format!("**{h}:**"))
                    })
                    .collect::<Vec<_>>()
                    .join("\n");
            }
        }
    }
}

/// Handlers in different modules share names (`list`, `one`, `page`); client generators need
/// one id per operation, so each is named by its method and path, e.g. `get_api_las_code`.
fn unique_operation_ids(doc: &mut Doc) {
    for (path, item) in &mut doc.paths.paths {
        let slug: String = path
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect::<String>()
            .split('_')
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join("_");
        // `/ogc/` is `/ogc` with a slash, `/` is the root.
        let slug = match (slug.is_empty(), path.len() > 1 && path.ends_with('/')) {
            (true, _) => "root".to_owned(),
            (false, true) => format!("{slug}_slash"),
            (false, false) => slug,
        };
        for (method, op) in [("get", item.get.as_mut()), ("post", item.post.as_mut())] {
            if let Some(op) = op {
                op.operation_id = Some(format!("{method}_{slug}"));
            }
        }
    }
}

/// The OGC part: the operations under `/ogc`, with the schemas they use.
#[must_use]
pub fn ogc_document(ds: &Dataset) -> Doc {
    let mut doc = document(ds, &[]);
    doc.paths
        .paths
        .retain(|p, _| p == OGC_PREFIX || p.starts_with(&format!("{OGC_PREFIX}/")));
    doc.info.title = "partnership-map OGC API – Features and Tiles".into();
    doc.info.description = Some(
        "The OGC API part of partnership-map's description (the whole API is at /api/openapi.json)."
            .into(),
    );
    let mut wanted = referenced(&doc.paths);
    if let Some(c) = doc.components.as_mut() {
        c.security_schemes.clear();
        // Only the schemas the OGC operations use, directly or through one another.
        let mut todo: Vec<String> = wanted.iter().cloned().collect();
        while let Some(name) = todo.pop() {
            if let Some(s) = c.schemas.get(&name) {
                todo.extend(
                    referenced(s)
                        .into_iter()
                        .filter(|n| wanted.insert(n.clone())),
                );
            }
        }
        c.schemas.retain(|name, _| wanted.contains(name));
    }
    doc.tags = None;
    doc
}

/// The component schemas `part` refers to.
fn referenced(part: &impl serde::Serialize) -> std::collections::BTreeSet<String> {
    let text = serde_json::to_string(part).unwrap_or_default();
    text.split("\"#/components/schemas/")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(str::to_owned)
        .collect()
}

fn json_schema(ty: FieldType) -> Schema {
    let t = match ty {
        FieldType::String => Type::String,
        FieldType::Number => Type::Integer,
        FieldType::Decimal => Type::Number,
        FieldType::Boolean => Type::Boolean,
    };
    let o = ObjectBuilder::new().schema_type(t);
    Schema::Object(if ty == FieldType::Number {
        o.minimum(Some(0)).build()
    } else {
        o.build()
    })
}

fn string_list() -> Schema {
    Schema::Array(
        ArrayBuilder::new()
            .items(ObjectBuilder::new().schema_type(Type::String))
            .build(),
    )
}

fn number_list(n: usize) -> Schema {
    Schema::Array(
        ArrayBuilder::new()
            .items(ObjectBuilder::new().schema_type(Type::Number))
            .min_items(Some(n))
            .max_items(Some(n))
            .build(),
    )
}

/// The LA attributes of `schema::la_fields`; `api` adds what `/api/las` adds (lists, bbox, label).
fn la_schema(api: bool) -> Schema {
    let mut o = ObjectBuilder::new().description(Some(if api {
        "An LA: every tile attribute (docs/FIELDS.md), `stat_neighbours` and `stat_neighbours_closeness` as lists, `bbox` (west, south, east, north) and `label` (lon, lat)."
    } else {
        "Every tile attribute of the LA (docs/FIELDS.md); unknown values are left out."
    }));
    for f in schema::la_fields() {
        let list = api && f.name.starts_with("stat_neighbours");
        let s = if list {
            string_list()
        } else {
            json_schema(f.ty)
        };
        o = o.property(&f.name, with_description(s, &f.description));
        if !f.optional {
            o = o.required(&f.name);
        }
    }
    if api {
        o = o
            .property("stat_neighbours", string_list())
            .property("stat_neighbours_closeness", string_list())
            .property("bbox", number_list(4))
            .property("label", number_list(2))
            .required("bbox")
            .required("label");
    }
    Schema::Object(o.build())
}

fn with_description(s: Schema, d: &str) -> Schema {
    match s {
        Schema::Object(mut o) => {
            o.description = Some(d.to_owned());
            Schema::Object(o)
        }
        Schema::Array(mut a) => {
            a.description = Some(d.to_owned());
            Schema::Array(a)
        }
        other => other,
    }
}

fn strings<I: IntoIterator<Item = S>, S: Into<String>>(values: I) -> Vec<serde_json::Value> {
    values
        .into_iter()
        .map(|v| serde_json::Value::String(v.into()))
        .collect()
}

fn enum_builder(values: &[serde_json::Value]) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(values.to_vec()))
}

fn enum_schema(values: &[serde_json::Value]) -> Schema {
    Schema::Object(enum_builder(values).build())
}

/// A comma-separated list of LA codes (`with=`), at most `max`.
fn codes_list(codes: &[serde_json::Value], max: usize) -> Schema {
    Schema::Array(
        ArrayBuilder::new()
            .items(enum_builder(codes))
            .min_items(Some(1))
            .max_items(Some(max))
            .unique_items(true)
            .build(),
    )
}

/// Set the schema of parameter `name` of every operation of `path`.
fn set_param(doc: &mut Doc, path: &str, name: &str, schema: Schema, comma_list: bool) {
    let Some(item) = doc.paths.paths.get_mut(path) else {
        return;
    };
    for op in [item.get.as_mut(), item.post.as_mut()]
        .into_iter()
        .flatten()
    {
        for p in op.parameters.iter_mut().flatten() {
            if p.name == name {
                p.schema = Some(RefOr::T(schema.clone()));
                if comma_list {
                    p.style = Some(utoipa::openapi::path::ParameterStyle::Form);
                    p.explode = Some(false);
                }
            }
        }
    }
}

/// The values the server knows: LA codes, files, names, statuses, measures.
fn constrain(doc: &mut Doc, ds: &Dataset, downloads: &[String]) {
    let codes = strings(ds.las.iter().map(|l| l.code.clone()));
    let code = enum_schema(&codes);
    for (path, name) in [
        ("/api/las/{code}", "code"),
        ("/api/partnerships", "la"),
        ("/api/compare", "la"),
    ] {
        set_param(doc, path, name, code.clone(), false);
    }
    // The page takes an empty `la` (nothing chosen yet) and shows the chooser; a picture reads
    // an empty `la` or `similar` as none given, as the map's share links send them.
    let mut page_codes = vec![serde_json::Value::String(String::new())];
    page_codes.extend(codes.iter().cloned());
    for (path, name) in [
        ("/compare", "la"),
        ("/render/{file}", "la"),
        ("/render/{file}", "similar"),
    ] {
        set_param(doc, path, name, enum_schema(&page_codes), false);
    }
    // The change history reads an empty `la` or `limit` as none given (every LA, the default
    // number), as it does `since`.
    let empty = || {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .max_length(Some(0))
    };
    let limit = Schema::OneOf(
        utoipa::openapi::schema::OneOfBuilder::new()
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(1))
                    .maximum(Some(1000)),
            )
            .item(empty())
            .build(),
    );
    for path in ["/api/changes", "/changes.atom", "/api/admin/changes"] {
        set_param(doc, path, "la", enum_schema(&page_codes), false);
        set_param(doc, path, "limit", limit.clone(), false);
    }
    for (path, max) in [
        ("/api/compare", crate::compare::MAX_CHOSEN),
        ("/render/{file}", crate::render::MAX_WITH),
    ] {
        set_param(doc, path, "with", codes_list(&codes, max), true);
    }
    // The page takes what its form sends: repeats and the empty "(none)" choice are dropped,
    // and more than 12 LAs compare the first 12 (saying so).
    set_param(
        doc,
        "/compare",
        "with",
        Schema::Array(
            ArrayBuilder::new()
                .items(enum_builder(&page_codes))
                .min_items(Some(1))
                .build(),
        ),
        true,
    );
    let pictures = strings(
        ds.las
            .iter()
            .flat_map(|l| [format!("{}.png", l.code), format!("{}.svg", l.code)]),
    );
    let fixed: [(&str, &str, Vec<serde_json::Value>); 17] = [
        ("/render/la/{file}", "file", pictures),
        (
            "/render/{file}",
            "file",
            strings(["england.png", "england.svg"]),
        ),
        (
            "/render/{file}",
            "measure",
            strings(["count", "role", "verified"]),
        ),
        (
            "/render/la/{file}",
            "measure",
            strings(["count", "role", "verified"]),
        ),
        ("/api/compare", "format", strings(["json", "csv"])),
        (
            "/styles/{name}",
            "name",
            strings(["default.json", "qgis.json"]),
        ),
        (
            "/static/{file}",
            "file",
            strings(super::pages::asset_names()),
        ),
        (
            "/vendor/maplibre-gl/{file}",
            "file",
            strings(super::web::vendor_names()),
        ),
        (
            "/vendor/swagger-ui/{file}",
            "file",
            strings(SWAGGER_UI.iter().map(|(n, _, _)| *n)),
        ),
        (
            "/fonts/{fontstack}/{range}",
            "fontstack",
            strings(crate::glyphs::FONTS.iter().map(|(n, _)| *n)),
        ),
        (
            "/ogc/collections/{id}",
            "id",
            strings(["local_authorities", "partnerships"]),
        ),
        (
            "/ogc/collections/{id}/items/{fid}",
            "id",
            strings(["local_authorities", "partnerships"]),
        ),
        (
            "/ogc/collections/{id}/tiles",
            "id",
            strings(["local_authorities"]),
        ),
        (
            "/ogc/collections/{id}/tiles/{tms}",
            "id",
            strings(["local_authorities"]),
        ),
        (
            "/ogc/collections/{id}/tiles/{tms}/{z}/{row}/{col}",
            "id",
            strings(["local_authorities"]),
        ),
        (
            "/ogc/tileMatrixSets/{id}",
            "id",
            strings(["WebMercatorQuad"]),
        ),
        (
            "/api/admin/submissions",
            "status",
            strings(
                ["", "all"]
                    .into_iter()
                    .chain(crate::submission::STATUSES.iter().copied()),
            ),
        ),
    ];
    for (path, name, values) in fixed {
        set_param(doc, path, name, enum_schema(&values), false);
    }
    set_param(
        doc,
        "/api/admin/submissions.csv",
        "status",
        enum_schema(&strings(
            ["", "all"]
                .into_iter()
                .chain(crate::submission::STATUSES.iter().copied()),
        )),
        false,
    );
    for (path, name) in [
        ("/ogc/collections/{id}/tiles/{tms}", "tms"),
        ("/ogc/collections/{id}/tiles/{tms}/{z}/{row}/{col}", "tms"),
    ] {
        set_param(
            doc,
            path,
            name,
            enum_schema(&strings(["WebMercatorQuad"])),
            false,
        );
    }
    if !downloads.is_empty() {
        set_param(
            doc,
            "/downloads/{name}",
            "name",
            enum_schema(&strings(downloads.iter().cloned())),
            false,
        );
    }
    let ranges = strings((0..256u32).map(|i| format!("{}-{}.pbf", i * 256, i * 256 + 255)));
    set_param(
        doc,
        "/fonts/{fontstack}/{range}",
        "range",
        enum_schema(&ranges),
        false,
    );
    // `since`: a date or an RFC 3339 time; empty means no limit.
    let since = Schema::OneOf(
        utoipa::openapi::schema::OneOfBuilder::new()
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .max_length(Some(0)),
            )
            .item(ObjectBuilder::new().schema_type(Type::String).format(Some(
                utoipa::openapi::SchemaFormat::KnownFormat(utoipa::openapi::KnownFormat::Date),
            )))
            .item(ObjectBuilder::new().schema_type(Type::String).format(Some(
                utoipa::openapi::SchemaFormat::KnownFormat(utoipa::openapi::KnownFormat::DateTime),
            )))
            .build(),
    );
    for path in ["/api/changes", "/changes.atom", "/api/admin/changes"] {
        set_param(doc, path, "since", since.clone(), false);
    }
}

/// The highest zoom of the tile operations is the server's `--max-zoom`.
fn set_max_zoom(doc: &mut Doc, max: u8) {
    for (path, name) in [
        ("/tiles/{z}/{x}/{y}", "z"),
        ("/tiles/{date}/{z}/{x}/{y}", "z"),
        ("/ogc/collections/{id}/tiles/{tms}/{z}/{row}/{col}", "z"),
    ] {
        let Some(op) = doc.paths.paths.get_mut(path).and_then(|p| p.get.as_mut()) else {
            continue;
        };
        for p in op.parameters.iter_mut().flatten() {
            if p.name == name
                && let Some(RefOr::T(Schema::Object(o))) = p.schema.as_mut()
            {
                o.maximum = Some(f64::from(max).into());
            }
        }
    }
}

/// Attribute filters of `local_authorities` items: every tile attribute.
fn la_filters() -> Vec<(String, Schema, String)> {
    schema::la_fields()
        .into_iter()
        .map(|f| (f.name, json_schema(f.ty), f.description))
        .collect()
}

/// Attribute filters of `partnerships` items.
fn partnership_filters() -> Vec<(String, Schema, String)> {
    super::ogc::PARTNERSHIP_FILTERS
        .iter()
        .map(|name| {
            (
                (*name).to_owned(),
                json_schema(FieldType::String),
                format!("only partnerships with this `{name}`"),
            )
        })
        .collect()
}

fn query(name: &str, s: Schema, d: &str) -> utoipa::openapi::path::Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Query)
        .required(Required::False)
        .description(Some(d))
        .schema(Some(s))
        .build()
}

/// `bbox=west,south,east,north` (CRS84 degrees), written as the server reads it.
fn bbox_param() -> utoipa::openapi::path::Parameter {
    query(
        "bbox",
        Schema::Object(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(super::ogc::bbox_pattern()))
                .build(),
        ),
        "minLon,minLat,maxLon,maxLat in CRS84 degrees, plain decimals (or six numbers, with \
         heights third and sixth): features that intersect it. West above east crosses the \
         antimeridian; a box whose south is above its north holds nothing.",
    )
}

fn json_response(schema: &str, d: &str, media: &str) -> utoipa::openapi::Response {
    ResponseBuilder::new()
        .description(d)
        .content(
            media,
            ContentBuilder::new()
                .schema(Some(RefOr::Ref(utoipa::openapi::Ref::from_schema_name(
                    schema,
                ))))
                .build(),
        )
        .build()
}

/// `GET /ogc/collections/{collection}/items`, with the collection's attributes as filters.
fn items_path(collection: &str, filters: &[(String, Schema, String)]) -> PathItem {
    let mut params = vec![
        query(
            "limit",
            Schema::Object(
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(1))
                    .maximum(Some(1000))
                    .build(),
            ),
            "Page size (default 100)",
        ),
        query(
            "offset",
            Schema::Object(
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(0))
                    .build(),
            ),
            "Features to skip",
        ),
        bbox_param(),
        query(
            "f",
            enum_schema(&strings(["json", "geojson", "gpkg", "fgb"])),
            "Format: GeoJSON (the default), `gpkg` (GeoPackage) or `fgb` (FlatGeobuf), the same \
             page either way",
        ),
    ];
    params.extend(
        filters
            .iter()
            .map(|(n, s, d)| query(n, s.clone(), &format!("Equality filter: {d}"))),
    );
    let op: Operation = OperationBuilder::new()
        .tag("ogc")
        .operation_id(Some(format!("ogc_items_{collection}")))
        .summary(Some(format!("Features of {collection}")))
        .description(Some(
            "One page of GeoJSON features; `next`/`prev` links page through. Every other \
             parameter is an equality filter on an attribute; an unknown parameter or a bad \
             value answers 400.",
        ))
        .parameters(Some(params))
        .responses(
            ResponsesBuilder::new()
                .response("200", {
                    let mut ok = json_response(
                        "FeatureCollection",
                        "GeoJSON features, or a GeoPackage or FlatGeobuf file (`f`)",
                        "application/geo+json",
                    );
                    for format in crate::gis_formats::Format::ALL {
                        let binary = RefOr::Ref(utoipa::openapi::Ref::from_schema_name("Binary"));
                        ok.content.insert(
                            format.mime().to_owned(),
                            ContentBuilder::new().schema(Some(binary)).build(),
                        );
                    }
                    ok
                })
                .response(
                    "400",
                    json_response(
                        "ErrorBody",
                        "A bad parameter, value or bbox",
                        "application/json",
                    ),
                )
                .build(),
        )
        .build();
    PathItem::new(HttpMethod::Get, op)
}

// ---------------------------------------------------------------------------------------------
// Handlers.

/// `GET /api/openapi.json`.
///
/// # Errors
/// None in practice (the document always serialises).
#[utoipa::path(get, path = "/api/openapi.json", tag = "meta",
    summary = "This description (OpenAPI 3.1)",
    responses((status = 200, description = "The OpenAPI document", content_type = "application/vnd.oai.openapi+json;version=3.1", body = Object)))]
pub async fn api_json(State(state): State<AppState>) -> Result<Response, AppError> {
    let ds = state.dataset();
    let names = crate::downloads::names(&state.downloads.files(&ds), &ds.version);
    let doc = document_json(&ds, &names, !state.config.editors.is_empty())?;
    Ok(openapi_response(
        &doc,
        "application/vnd.oai.openapi+json;version=3.1",
    ))
}

/// `/ogc/api` and `/api/openapi.json` answer with this: `doc` as JSON of `media_type`.
#[must_use]
pub fn openapi_response(doc: &serde_json::Value, media_type: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(media_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        doc.to_string(),
    )
        .into_response()
}

/// Swagger UI, copied from `web/node_modules/swagger-ui-dist` into the binary at build time.
const SWAGGER_UI: &[EmbeddedFile] = &[
    (
        "swagger-ui-bundle.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../web/node_modules/swagger-ui-dist/swagger-ui-bundle.js"),
    ),
    (
        "swagger-ui.css",
        "text/css; charset=utf-8",
        include_bytes!("../../web/node_modules/swagger-ui-dist/swagger-ui.css"),
    ),
    (
        "LICENSE",
        "text/plain; charset=utf-8",
        include_bytes!("../../web/node_modules/swagger-ui-dist/LICENSE"),
    ),
];

/// `GET /vendor/swagger-ui/{file}`.
///
/// # Errors
/// 404 for an unknown file.
#[utoipa::path(get, path = "/vendor/swagger-ui/{file}", tag = "pages",
    summary = "Swagger UI's files (from npm, served by this binary)",
    params(("file" = String, Path, description = "`swagger-ui-bundle.js`, `swagger-ui.css` or `LICENSE`")),
    responses(
        (status = 200, description = "The file", content(
            (String = "text/javascript; charset=utf-8"), (String = "text/css; charset=utf-8"), (String = "text/plain; charset=utf-8"))),
        (status = 404, description = "No such file", body = String, content_type = "text/plain; charset=utf-8")))]
pub async fn vendor(
    axum::extract::Path(file): axum::extract::Path<String>,
) -> Result<Response, AppError> {
    embedded(SWAGGER_UI, &file, "public, max-age=86400")
}

/// `GET /api`: the description, browsable (Swagger UI).
#[utoipa::path(get, path = "/api", tag = "meta",
    summary = "This description, browsable (Swagger UI)",
    responses((status = 200, description = "HTML page", body = String, content_type = "text/html; charset=utf-8")))]
pub async fn api_page() -> Response {
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                (head_basics("partnership-map API"))
                link rel="stylesheet" href="/vendor/swagger-ui/swagger-ui.css";
                link rel="stylesheet" href="/static/api.css";
                script src="/vendor/swagger-ui/swagger-ui-bundle.js" defer {}
                script src="/static/api.js" defer {}
            }
            body {
                // Swagger UI draws its own <main> (the operations); api.js puts the rest in
                // landmarks of their own.
                a.skip href="#operations" { "Skip to the operations" }
                header.site { a href="/" { "partnership-map" } " · API reference" }
                div #swagger-ui {
                    noscript {
                        main {
                            p { "The API reference needs JavaScript; the description itself is "
                                a href="/api/openapi.json" { "/api/openapi.json" } "." }
                        }
                    }
                }
            }
        }
    };
    let mut res = html_response(StatusCode::OK, page, Framing::SameOrigin);
    // Swagger UI sets element styles from script; scripts stay same-origin only.
    if let Some(csp) = res
        .headers()
        .get(header::CONTENT_SECURITY_POLICY)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'"))
        && let Ok(v) = HeaderValue::from_str(&csp)
    {
        res.headers_mut().insert(header::CONTENT_SECURITY_POLICY, v);
    }
    res
}
