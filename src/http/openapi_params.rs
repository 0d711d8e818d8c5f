//! The values the parameters of the OpenAPI description take, filled in from the data served:
//! LA codes, file names, statuses, the highest zoom, and the lists and empty values each
//! operation accepts.

use utoipa::openapi::OpenApi as Doc;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Schema, Type};

use crate::dataset::Dataset;

pub(super) fn strings<I: IntoIterator<Item = S>, S: Into<String>>(
    values: I,
) -> Vec<serde_json::Value> {
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

pub(super) fn enum_schema(values: &[serde_json::Value]) -> Schema {
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
pub(super) fn constrain(doc: &mut Doc, ds: &Dataset, downloads: &[String]) {
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
            strings(super::swagger::SWAGGER_UI.iter().map(|(n, _, _)| *n)),
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
pub(super) fn set_max_zoom(doc: &mut Doc, max: u8) {
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
