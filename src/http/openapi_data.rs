//! The parts of the OpenAPI description generated from the data's attribute list
//! (`schema.rs`): the LA schemas (`LaSummary`, `LaProperties`) and one OGC items operation per
//! collection, with one equality filter per attribute.

use utoipa::ToSchema;
use utoipa::openapi::path::{Operation, OperationBuilder, ParameterBuilder, ParameterIn, PathItem};
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Schema, Type};
use utoipa::openapi::{
    ContentBuilder, HttpMethod, RefOr, Required, ResponseBuilder, ResponsesBuilder,
};

use super::openapi_params::{enum_schema, strings};
use crate::schema::{self, FieldType};

/// The properties of a `local_authorities` feature: every tile attribute, in tile form. A
/// placeholder: `openapi::document` puts the schema [`la_schema`] generates in its place.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct LaProperties {
    /// ONS GSS code.
    pub code: String,
}

pub(super) fn json_schema(ty: FieldType) -> Schema {
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
pub(super) fn la_schema(api: bool) -> Schema {
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

/// Attribute filters of `local_authorities` items: every tile attribute.
pub(super) fn la_filters() -> Vec<(String, Schema, String)> {
    schema::la_fields()
        .into_iter()
        .map(|f| (f.name, json_schema(f.ty), f.description))
        .collect()
}

/// Attribute filters of `partnerships` items.
pub(super) fn partnership_filters() -> Vec<(String, Schema, String)> {
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
pub(super) fn items_path(collection: &str, filters: &[(String, Schema, String)]) -> PathItem {
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
    // `date`: the features of that day's map, described as on every dated operation.
    params.extend(
        <super::query::DateQuery as utoipa::IntoParams>::into_params(|| Some(ParameterIn::Query)),
    );
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
                        "A bad parameter, value, bbox or date",
                        "application/json",
                    ),
                )
                .response(
                    "404",
                    json_response(
                        "ErrorBody",
                        "A day before the map's records start",
                        "application/json",
                    ),
                )
                .build(),
        )
        .build();
    PathItem::new(HttpMethod::Get, op)
}
