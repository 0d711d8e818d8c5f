//! The OpenAPI 3.1 description of the whole HTTP API (`/api/openapi.json`) and its OGC part
//! (`/ogc/api`, the landing page's `service-desc`).
//!
//! Every operation is described by a `#[utoipa::path]` on its own handler, and every JSON body
//! by the type the handler answers with (deriving `Serialize` and `ToSchema`, next to the code
//! that builds it); this module gathers them ([`ApiDoc`]) and completes the document from the
//! data served: the LA attributes and the OGC items operations (`openapi_data.rs`, from
//! `schema.rs`, the list the tiles and TileJSON use), the values the parameters take
//! (`openapi_params.rs`), and the links between operations (`openapi_rules.rs`). The browsable
//! rendering at `/api` is `swagger.rs`. `tests/openapi.rs` fails when a route of the router has
//! no description here.

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{OpenApi as Doc, RefOr};
use utoipa::{Modify, OpenApi, ToSchema};

use super::openapi_data::{items_path, la_filters, la_schema, partnership_filters};
use super::openapi_params::{constrain, set_max_zoom};
use super::state::AppState;
use crate::dataset::Dataset;
use crate::error::AppError;

/// Bytes of a binary representation (a vector tile, glyphs, a PNG): the schema of the binary
/// bodies, which the handlers answer with as bytes.
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
#[allow(dead_code)]
pub struct Binary(Vec<u8>);

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
        super::swagger::api_page,
        super::swagger::vendor,
    ),
    components(schemas(
        super::api::LaSummary,
        super::openapi_data::LaProperties,
        super::ogc_body::FeatureCollection,
        crate::error::ErrorBody
    )),
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
