//! OpenAPI 3.1 → 3.0.3, for the clients that read only 3.0 (OWSLib; OGC API – Features Part 1
//! names 3.0 in its `oas30` class). utoipa writes 3.1; [`downgrade`] rewrites that document as
//! plain data, a pure function: JSON Schema 2020-12 shapes become their 3.0 spellings
//! (`type: [T, "null"]` → `nullable`, a `null` member of `oneOf`/`anyOf` → `nullable`,
//! `examples` → `example`, numeric `exclusiveMinimum`/`exclusiveMaximum` → the boolean form,
//! `const` → a one-value `enum`, `prefixItems` → `items`, `$ref` with siblings → `allOf`), and the
//! keywords 3.0 does not have are dropped (`propertyNames`, `$defs`, `contentMediaType`, …).
//! Only schemas are rewritten; parameters' and media types' `examples` maps mean the same in both.

use serde_json::{Map, Value, json};

/// The version written.
pub const VERSION: &str = "3.0.3";
/// The media type of a 3.0 document in JSON (what OWSLib looks for in `service-desc` links).
pub const MEDIA_TYPE: &str = "application/vnd.oai.openapi+json;version=3.0";

/// JSON Schema keywords OpenAPI 3.0's schema object does not have, and which only narrow or
/// annotate, so leaving them out keeps every valid value valid.
const DROPPED: &[&str] = &[
    "$schema",
    "$id",
    "$anchor",
    "$comment",
    "$defs",
    "$dynamicRef",
    "$dynamicAnchor",
    "propertyNames",
    "patternProperties",
    "unevaluatedProperties",
    "unevaluatedItems",
    "dependentRequired",
    "dependentSchemas",
    "contains",
    "minContains",
    "maxContains",
    "if",
    "then",
    "else",
    "contentMediaType",
    "contentEncoding",
    "contentSchema",
];

/// The 3.0.3 form of an OpenAPI 3.1 document.
#[must_use]
pub fn downgrade(mut doc: Value) -> Value {
    let types = component_types(&doc);
    if let Some(o) = doc.as_object_mut() {
        o.insert("openapi".into(), json!(VERSION));
        for k in ["webhooks", "jsonSchemaDialect"] {
            o.remove(k);
        }
        if let Some(info) = o.get_mut("info").and_then(Value::as_object_mut) {
            info.remove("summary");
            if let Some(l) = info.get_mut("license").and_then(Value::as_object_mut) {
                l.remove("identifier");
            }
        }
        if let Some(c) = o.get_mut("components").and_then(Value::as_object_mut) {
            c.remove("pathItems");
            if let Some(schemas) = c.get_mut("schemas").and_then(Value::as_object_mut) {
                for s in schemas.values_mut() {
                    schema(s, &types);
                }
            }
        }
        for (k, v) in o.iter_mut() {
            if k != "components" {
                walk(v, &types);
            }
        }
        if let Some(c) = o.get_mut("components").and_then(Value::as_object_mut) {
            for (k, v) in c.iter_mut() {
                if k != "schemas" {
                    walk(v, &types);
                }
            }
        }
    }
    doc
}

/// The `type` of each component schema, for a nullable `$ref` (3.0.3 gives `nullable` a meaning
/// only next to `type`).
fn component_types(doc: &Value) -> Map<String, Value> {
    doc.pointer("/components/schemas")
        .and_then(Value::as_object)
        .map(|s| {
            s.iter()
                .filter_map(|(name, v)| Some((name.clone(), v.get("type")?.clone())))
                .collect()
        })
        .unwrap_or_default()
}

/// Outside schemas: find the `schema` members (of parameters, media types and headers).
fn walk(v: &mut Value, types: &Map<String, Value>) {
    match v {
        Value::Object(o) => {
            for (k, child) in o.iter_mut() {
                match k.as_str() {
                    "schema" => schema(child, types),
                    // Example values are data, not description.
                    "example" | "examples" => {}
                    _ => walk(child, types),
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|c| walk(c, types)),
        _ => {}
    }
}

/// Rewrite one schema and everything under it.
fn schema(v: &mut Value, types: &Map<String, Value>) {
    match v {
        // Boolean schemas: `true` accepts anything, `false` nothing.
        Value::Bool(true) => *v = json!({}),
        Value::Bool(false) => *v = json!({"not": {}}),
        Value::Object(o) => object(o, types),
        _ => {}
    }
}

fn object(o: &mut Map<String, Value>, types: &Map<String, Value>) {
    // The shapes that involve the subschemas, while they are still as written…
    for k in DROPPED {
        o.remove(*k);
    }
    tuple(o);
    let mut nullable = false;
    for k in ["oneOf", "anyOf"] {
        nullable |= null_member(o, k, types);
    }
    // (After the unions: a lone member merged in may bring a list of types.)
    nullable |= null_type(o);
    // …then the subschemas themselves…
    if let Some(Value::Object(props)) = o.get_mut("properties") {
        props.values_mut().for_each(|s| schema(s, types));
    }
    for k in ["items", "not"] {
        if let Some(s) = o.get_mut(k) {
            schema(s, types);
        }
    }
    // (`additionalProperties` may stay a boolean in 3.0.)
    if let Some(s @ Value::Object(_)) = o.get_mut("additionalProperties") {
        schema(s, types);
    }
    for k in ["allOf", "anyOf", "oneOf"] {
        if let Some(Value::Array(a)) = o.get_mut(k) {
            a.iter_mut().for_each(|s| schema(s, types));
        }
    }
    // …and the keywords of this one.
    if let Some(c) = o.remove("const") {
        o.insert("enum".into(), json!([c]));
    }
    if let Some(Value::Array(ex)) = o.remove("examples")
        && let Some(first) = ex.into_iter().next()
    {
        o.insert("example".into(), first);
    }
    for (exclusive, bound) in [
        ("exclusiveMinimum", "minimum"),
        ("exclusiveMaximum", "maximum"),
    ] {
        if let Some(n @ Value::Number(_)) = o.remove(exclusive) {
            o.insert(bound.into(), n);
            o.insert(exclusive.into(), json!(true));
        }
    }
    if nullable {
        o.insert("nullable".into(), json!(true));
        // With `nullable`, null is allowed only if an `enum` lists it too.
        if let Some(Value::Array(e)) = o.get_mut("enum")
            && !e.contains(&Value::Null)
        {
            e.push(Value::Null);
        }
    }
    // 3.0 ignores whatever stands beside a `$ref`: put the reference into `allOf`.
    if o.contains_key("$ref") && o.keys().any(|k| k != "$ref") {
        let r = o.remove("$ref").unwrap_or(Value::Null);
        let mut all = vec![json!({ "$ref": r })];
        if let Some(Value::Array(more)) = o.remove("allOf") {
            all.extend(more);
        }
        o.insert("allOf".into(), Value::Array(all));
    }
}

/// `prefixItems` (a tuple) → `items` taking any of the positions' schemas.
fn tuple(o: &mut Map<String, Value>) {
    let Some(Value::Array(mut prefix)) = o.remove("prefixItems") else {
        return;
    };
    // `items` after a tuple is the schema of further members; `false` allows none.
    match o.remove("items") {
        Some(r @ Value::Object(_)) => prefix.push(r),
        Some(Value::Bool(true)) => prefix.push(json!({})),
        _ => {}
    }
    prefix.dedup();
    let items = if prefix.len() == 1 {
        prefix.remove(0)
    } else {
        json!({ "anyOf": prefix })
    };
    o.insert("items".into(), items);
}

/// `type: [T, "null"]` → `type: T` (the caller adds `nullable`); several non-null types become
/// an `anyOf` of one type each. Returns whether null was allowed.
fn null_type(o: &mut Map<String, Value>) -> bool {
    match o.get("type") {
        Some(Value::Array(ts)) => {
            let nullable = ts.iter().any(|t| t == "null");
            let mut rest: Vec<Value> = ts.iter().filter(|t| *t != "null").cloned().collect();
            o.remove("type");
            match rest.len() {
                0 => {}
                1 => {
                    o.insert("type".into(), rest.remove(0));
                }
                _ => {
                    let one_each: Vec<Value> =
                        rest.into_iter().map(|t| json!({"type": t})).collect();
                    let any = json!({ "anyOf": one_each });
                    match o.get_mut("allOf") {
                        Some(Value::Array(all)) => all.push(any),
                        _ => {
                            o.insert("allOf".into(), json!([any]));
                        }
                    }
                }
            }
            nullable
        }
        Some(t) if t == "null" => {
            o.remove("type");
            true
        }
        _ => false,
    }
}

/// A `{"type": "null"}` member of `oneOf`/`anyOf` → `nullable`. When one member is left it
/// takes the place of the union: merged in, or as `allOf` (with its component's `type`) when it
/// is a reference. Returns whether null was allowed.
fn null_member(o: &mut Map<String, Value>, key: &str, types: &Map<String, Value>) -> bool {
    let Some(Value::Array(members)) = o.get_mut(key) else {
        return false;
    };
    let is_null = |m: &Value| {
        m.as_object()
            .is_some_and(|m| m.len() == 1 && m.get("type").is_some_and(|t| t == "null"))
    };
    let before = members.len();
    members.retain(|m| !is_null(m));
    if members.len() == before {
        return false;
    }
    if members.len() == 1 {
        let only = members.remove(0);
        o.remove(key);
        match only {
            Value::Object(m) if m.contains_key("$ref") && m.len() == 1 => {
                let ty = m
                    .get("$ref")
                    .and_then(Value::as_str)
                    .and_then(|r| r.strip_prefix("#/components/schemas/"))
                    .and_then(|name| types.get(name))
                    .cloned();
                let mut all = vec![Value::Object(m)];
                if let Some(Value::Array(more)) = o.remove("allOf") {
                    all.extend(more);
                }
                o.insert("allOf".into(), Value::Array(all));
                if let Some(t) = ty
                    && !o.contains_key("type")
                {
                    o.insert("type".into(), t);
                }
            }
            Value::Object(m) if m.keys().all(|k| !o.contains_key(k)) => o.extend(m),
            other => {
                o.insert(key.into(), json!([other]));
            }
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 3.1 document with one of each shape, wrapped as a component schema.
    fn converted(s: Value) -> Value {
        converted_with(s, json!({}))
    }

    fn converted_with(s: Value, more: Value) -> Value {
        let mut schemas = json!({"S": s});
        if let (Some(m), Some(extra)) = (schemas.as_object_mut(), more.as_object()) {
            m.extend(extra.clone());
        }
        let doc = json!({
            "openapi": "3.1.0",
            "info": {"title": "t", "version": "1", "license": {"name": "MIT", "identifier": "MIT"}},
            "paths": {},
            "components": {"schemas": schemas},
        });
        downgrade(doc)["components"]["schemas"]["S"].clone()
    }

    #[test]
    fn the_version_and_top_level_3_1_members() {
        let doc = downgrade(json!({
            "openapi": "3.1.0",
            "info": {"title": "t", "summary": "s", "version": "1", "license": {"name": "MIT", "identifier": "MIT"}},
            "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
            "webhooks": {},
            "paths": {},
        }));
        assert_eq!(doc["openapi"], "3.0.3");
        assert_eq!(doc["info"]["license"], json!({"name": "MIT"}));
        assert!(doc["info"].get("summary").is_none());
        assert!(doc.get("webhooks").is_none());
        assert!(doc.get("jsonSchemaDialect").is_none());
    }

    #[test]
    fn a_type_list_with_null_becomes_nullable() {
        assert_eq!(
            converted(json!({"type": ["string", "null"], "minLength": 1})),
            json!({"type": "string", "minLength": 1, "nullable": true})
        );
        assert_eq!(
            converted(json!({"type": ["integer", "null"], "format": "int64"})),
            json!({"type": "integer", "format": "int64", "nullable": true})
        );
        // Two types besides null: one of each, under `allOf` so `anyOf` stays free.
        assert_eq!(
            converted(json!({"type": ["string", "number", "null"]})),
            json!({"allOf": [{"anyOf": [{"type": "string"}, {"type": "number"}]}], "nullable": true})
        );
        // No null: the list of types alone.
        assert_eq!(
            converted(json!({"type": ["string", "integer"]})),
            json!({"allOf": [{"anyOf": [{"type": "string"}, {"type": "integer"}]}]})
        );
    }

    #[test]
    fn a_null_member_of_one_of_becomes_nullable_and_a_lone_ref_an_all_of_with_its_type() {
        let s = converted_with(
            json!({"oneOf": [{"type": "null"}, {"$ref": "#/components/schemas/R"}], "description": "d"}),
            json!({"R": {"type": "object", "properties": {}}}),
        );
        assert_eq!(
            s,
            json!({"allOf": [{"$ref": "#/components/schemas/R"}], "type": "object", "description": "d", "nullable": true})
        );
        // A lone inline member is merged into the schema.
        assert_eq!(
            converted(json!({"anyOf": [{"type": "string", "maxLength": 3}, {"type": "null"}]})),
            json!({"type": "string", "maxLength": 3, "nullable": true})
        );
        // Several members stay a union.
        assert_eq!(
            converted(
                json!({"oneOf": [{"type": "null"}, {"type": "string"}, {"type": "integer"}]})
            ),
            json!({"oneOf": [{"type": "string"}, {"type": "integer"}], "nullable": true})
        );
    }

    #[test]
    fn a_nullable_enum_lists_null() {
        assert_eq!(
            converted(json!({"type": ["string", "null"], "enum": ["a", "b"]})),
            json!({"type": "string", "enum": ["a", "b", null], "nullable": true})
        );
    }

    #[test]
    fn examples_const_and_exclusive_bounds() {
        assert_eq!(
            converted(
                json!({"type": "integer", "examples": [3, 4], "exclusiveMinimum": 0, "exclusiveMaximum": 10})
            ),
            json!({"type": "integer", "example": 3, "minimum": 0, "exclusiveMinimum": true, "maximum": 10, "exclusiveMaximum": true})
        );
        assert_eq!(
            converted(json!({"const": "Feature"})),
            json!({"enum": ["Feature"]})
        );
    }

    #[test]
    fn tuples_keywords_3_0_lacks_and_boolean_schemas() {
        assert_eq!(
            converted(json!({
                "type": "array",
                "prefixItems": [{"type": "number", "maximum": 180}, {"type": "number", "maximum": 90}],
                "items": false,
                "minItems": 2,
                "maxItems": 2,
            })),
            json!({
                "type": "array",
                "items": {"anyOf": [{"type": "number", "maximum": 180}, {"type": "number", "maximum": 90}]},
                "minItems": 2,
                "maxItems": 2,
            })
        );
        assert_eq!(
            converted(
                json!({"type": "object", "propertyNames": {"type": "string"}, "additionalProperties": {"type": "string"}})
            ),
            json!({"type": "object", "additionalProperties": {"type": "string"}})
        );
        assert_eq!(
            converted(json!({"type": "object", "additionalProperties": false})),
            json!({"type": "object", "additionalProperties": false})
        );
        assert_eq!(
            converted(json!({"type": "array", "items": true})),
            json!({"type": "array", "items": {}})
        );
        assert_eq!(
            converted(
                json!({"type": "string", "contentMediaType": "image/png", "format": "binary"})
            ),
            json!({"type": "string", "format": "binary"})
        );
    }

    #[test]
    fn a_ref_with_siblings_moves_into_all_of() {
        assert_eq!(
            converted(json!({"$ref": "#/components/schemas/R", "description": "why"})),
            json!({"allOf": [{"$ref": "#/components/schemas/R"}], "description": "why"})
        );
        assert_eq!(
            converted(json!({"$ref": "#/components/schemas/R"})),
            json!({"$ref": "#/components/schemas/R"})
        );
    }

    #[test]
    fn nested_schemas_everywhere_are_rewritten_and_examples_outside_schemas_are_left() {
        let doc = downgrade(json!({
            "openapi": "3.1.0",
            "info": {"title": "t", "version": "1"},
            "paths": {"/x": {"get": {
                "parameters": [{"name": "q", "in": "query", "schema": {"type": ["string", "null"]},
                                "examples": {"a": {"value": {"type": ["kept", "null"]}}}}],
                "requestBody": {"content": {"application/json": {"schema": {
                    "type": "object",
                    "properties": {"p": {"type": "array", "items": {"type": ["integer", "null"]}}},
                }}}},
                "responses": {"200": {
                    "description": "ok",
                    "headers": {"ETag": {"schema": {"const": "x"}}},
                    "content": {"application/json": {"schema": {"allOf": [{"oneOf": [{"type": "null"}, {"type": "boolean"}]}]}}},
                }},
            }}},
            "components": {"responses": {"E": {"description": "e", "content": {"application/json": {"schema": {"examples": ["a"]}}}}}},
        }));
        let op = &doc["paths"]["/x"]["get"];
        assert_eq!(
            op["parameters"][0]["schema"],
            json!({"type": "string", "nullable": true})
        );
        assert_eq!(
            op["parameters"][0]["examples"]["a"]["value"]["type"],
            json!(["kept", "null"])
        );
        assert_eq!(
            op["requestBody"]["content"]["application/json"]["schema"]["properties"]["p"]["items"],
            json!({"type": "integer", "nullable": true})
        );
        let r = &op["responses"]["200"];
        assert_eq!(r["headers"]["ETag"]["schema"], json!({"enum": ["x"]}));
        assert_eq!(
            r["content"]["application/json"]["schema"],
            json!({"allOf": [{"type": "boolean", "nullable": true}]})
        );
        assert_eq!(
            doc["components"]["responses"]["E"]["content"]["application/json"]["schema"],
            json!({"example": "a"})
        );
    }
}
