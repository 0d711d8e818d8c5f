//! The OpenAPI description: every route of the router (`src/http/mod.rs`) is described with
//! the same methods, every path parameter is declared, every operation has a summary and a
//! success response; `/api/openapi.json`, `/ogc/api` (the OGC part, the landing page's
//! `service-desc`) and the Swagger UI page at `/api` are served. Schemathesis checks that the
//! server keeps these promises (`tests/schemathesis.rs`).

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::{app, get};
use serde_json::Value;

/// Every `.route("path", get(..).post(..))` of the router, read from its source: path → methods.
fn router_routes() -> BTreeMap<String, BTreeSet<String>> {
    let src = std::fs::read_to_string(common::repo().join("src/http/mod.rs")).expect("mod.rs");
    let mut routes = BTreeMap::new();
    let mut rest = src.as_str();
    while let Some(i) = rest.find(".route(") {
        rest = &rest[i + ".route(".len()..];
        // The call's arguments, up to its closing parenthesis.
        let mut depth = 1;
        let end = rest
            .char_indices()
            .find(|&(_, c)| {
                match c {
                    '(' => depth += 1,
                    ')' => depth -= 1,
                    _ => {}
                }
                depth == 0
            })
            .map(|(j, _)| j)
            .expect("closing parenthesis");
        let call = &rest[..end];
        let path = call
            .split('"')
            .nth(1)
            .expect("a .route( call starts with its path literal");
        let methods: BTreeSet<String> = ["get", "post", "put", "patch", "delete"]
            .iter()
            .filter(|m| {
                call.contains(&format!(" {m}("))
                    || call.contains(&format!(".{m}("))
                    || call.contains(&format!("({m}("))
            })
            .map(|m| (*m).to_owned())
            .collect();
        assert!(!methods.is_empty(), "no method found in .route({call})");
        routes
            .entry(path.to_owned())
            .or_insert_with(BTreeSet::new)
            .extend(methods);
    }
    routes
}

fn is_param(seg: &str) -> bool {
    seg.starts_with('{') && seg.ends_with('}')
}

/// Whether a documented path is the router's template or a concrete instance of it.
fn instance_of(doc_path: &str, route: &str) -> bool {
    let (d, r): (Vec<&str>, Vec<&str>) =
        (doc_path.split('/').collect(), route.split('/').collect());
    d.len() == r.len() && d.iter().zip(&r).all(|(a, b)| a == b || is_param(b))
}

fn methods_of(item: &Value) -> BTreeSet<String> {
    item.as_object()
        .expect("path item")
        .keys()
        .filter(|k| {
            ["get", "post", "put", "patch", "delete", "head", "options"].contains(&k.as_str())
        })
        .cloned()
        .collect()
}

fn document() -> Value {
    partnership_map::http::openapi::document_json(&common::dataset(), &[], true)
        .expect("serialises")
}

#[test]
fn links_name_operations_and_parameters_that_exist() {
    let doc = document();
    let mut ops = BTreeMap::new();
    for item in doc["paths"].as_object().expect("paths").values() {
        for op in item.as_object().expect("item").values() {
            if let Some(id) = op["operationId"].as_str() {
                ops.insert(id.to_owned(), op.clone());
            }
        }
    }
    let mut links = 0;
    for (id, op) in &ops {
        for (status, r) in op["responses"].as_object().expect("responses") {
            for (name, link) in r["links"].as_object().into_iter().flatten() {
                links += 1;
                let here = format!("{id} {status} {name}");
                let target = link["operationId"].as_str().expect("operationId");
                let to = ops
                    .get(target)
                    .unwrap_or_else(|| panic!("{here}: no {target}"));
                for (param, expr) in link["parameters"].as_object().expect("parameters") {
                    assert!(
                        to["parameters"]
                            .as_array()
                            .is_some_and(|ps| ps.iter().any(|p| p["name"] == *param)),
                        "{here}: {target} has no parameter {param}"
                    );
                    // The pointer names a property of the response's JSON body.
                    let pointer = expr
                        .as_str()
                        .and_then(|e| e.strip_prefix("$response.body#/"))
                        .expect("a body pointer");
                    let first = pointer.split('/').next().unwrap_or_default();
                    let schema = &r["content"]["application/json"]["schema"]["$ref"];
                    let name = schema
                        .as_str()
                        .and_then(|s| s.rsplit('/').next())
                        .expect("$ref");
                    assert!(
                        doc["components"]["schemas"][name]["properties"]
                            .get(first)
                            .is_some(),
                        "{here}: {name} has no {first}"
                    );
                }
            }
        }
    }
    // Create → read → undo; submission → review; campaign → its parts.
    for (from, to) in [
        ("post_api_admin_edits", "get_api_changes_id"),
        ("post_api_admin_edits", "post_api_admin_changes_id_revert"),
        (
            "post_api_submissions",
            "post_api_admin_submissions_id_review",
        ),
        (
            "get_api_verification_campaigns",
            "get_api_verification_campaigns_id",
        ),
    ] {
        let linked = ops[from]["responses"]
            .as_object()
            .expect("responses")
            .values()
            .flat_map(|r| r["links"].as_object().into_iter().flatten())
            .any(|(_, l)| l["operationId"] == to);
        assert!(linked, "no link from {from} to {to}");
    }
    assert!(links >= 10, "{links} links");
}

#[test]
fn every_route_of_the_router_is_described_with_its_methods() {
    let routes = router_routes();
    assert!(
        routes.len() > 40,
        "only {} routes read from mod.rs",
        routes.len()
    );
    let doc = document();
    let paths = doc["paths"].as_object().expect("paths");
    let mut missing = Vec::new();
    for (route, methods) in &routes {
        let described: Vec<(&String, &Value)> = paths
            .iter()
            .filter(|(p, _)| instance_of(p, route))
            .collect();
        if described.is_empty() {
            missing.push(format!("{route}: not described"));
        }
        for (p, item) in described {
            if &methods_of(item) != methods {
                missing.push(format!(
                    "{p}: documents {:?}, the router serves {methods:?}",
                    methods_of(item)
                ));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "routes without a matching description:\n{}",
        missing.join("\n")
    );
    // And nothing is described that the router does not serve.
    let stray: Vec<&String> = paths
        .keys()
        .filter(|p| !routes.keys().any(|r| instance_of(p, r)))
        .collect();
    assert!(stray.is_empty(), "described but not routed: {stray:?}");
}

#[test]
fn every_operation_has_a_summary_a_success_and_its_path_parameters() {
    let doc = document();
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")));
    let mut problems = Vec::new();
    let mut ids = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("item") {
            let here = format!("{method} {path}");
            if op["summary"].as_str().is_none_or(str::is_empty) {
                problems.push(format!("{here}: no summary"));
            }
            if let Some(id) = op["operationId"].as_str()
                && !ids.insert(id.to_owned())
            {
                problems.push(format!("{here}: operationId {id} used twice"));
            }
            let responses = op["responses"].as_object().expect("responses");
            if !responses.keys().any(|s| s.starts_with('2')) {
                problems.push(format!("{here}: no 2xx response"));
            }
            for (status, r) in responses {
                if r["description"].as_str().is_none_or(str::is_empty) {
                    problems.push(format!("{here} {status}: no description"));
                }
                // Every response with a body says what is in it.
                if let Some(content) = r["content"].as_object() {
                    for (media, c) in content {
                        if c.get("schema").is_none() {
                            problems.push(format!("{here} {status} {media}: no schema"));
                        }
                    }
                }
            }
            let declared: BTreeSet<&str> = op["parameters"]
                .as_array()
                .map(|ps| {
                    ps.iter()
                        .filter(|p| p["in"] == "path")
                        .filter_map(|p| p["name"].as_str())
                        .collect()
                })
                .unwrap_or_default();
            let in_path: BTreeSet<&str> = path
                .split('/')
                .filter(|s| is_param(s))
                .map(|s| &s[1..s.len() - 1])
                .collect();
            if declared != in_path {
                problems.push(format!(
                    "{here}: path parameters {declared:?}, template has {in_path:?}"
                ));
            }
            for p in op["parameters"].as_array().into_iter().flatten() {
                if p["description"].as_str().is_none_or(str::is_empty) {
                    problems.push(format!(
                        "{here}: parameter {} has no description",
                        p["name"]
                    ));
                }
            }
            let admin = path.starts_with("/api/admin")
                || path.starts_with("/api/verification/")
                || path == "/admin/reload";
            let secured = op["security"].as_array().is_some_and(|s| !s.is_empty());
            if admin != secured {
                problems.push(format!(
                    "{here}: bearer security {secured}, admin route {admin}"
                ));
            }
            if admin && !responses.contains_key("401") {
                problems.push(format!("{here}: no 401"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // The tile contract's statuses.
    let tile = &doc["paths"]["/tiles/{z}/{x}/{y}"]["get"]["responses"];
    for s in ["200", "204", "304", "400", "404"] {
        assert!(tile.get(s).is_some(), "tile response {s}");
    }
    let sub = &doc["paths"]["/api/submissions"]["post"]["responses"];
    for s in ["201", "400", "413", "415", "429"] {
        assert!(sub.get(s).is_some(), "submission response {s}");
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["editor_token"]["scheme"],
        "bearer"
    );
    // A review takes exactly the statuses the server knows.
    let statuses: Vec<&str> = doc["components"]["schemas"]["ReviewStatus"]["enum"]
        .as_array()
        .expect("enum")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(statuses, partnership_map::submission::STATUSES);
    // The LA schema carries every tile attribute (generated from schema.rs).
    let la = &doc["components"]["schemas"]["LaSummary"]["properties"];
    for f in partnership_map::schema::la_fields() {
        assert!(la.get(&f.name).is_some(), "LaSummary lacks {}", f.name);
    }
}

#[tokio::test]
async fn the_documents_and_the_browsable_page_are_served() {
    let app = app();
    let r = get(&app, "/api/openapi.json", &[]).await;
    assert_eq!(r.status, 200);
    assert!(
        r.header("content-type")
            .is_some_and(|t| t.starts_with("application/vnd.oai.openapi+json"))
    );
    let whole: Value = serde_json::from_slice(&r.body).expect("json");
    assert!(whole["paths"]["/api/las/{code}"]["get"].is_object());
    // No editor is configured here: the admin API is off (its routes answer 404), so the
    // served description leaves out every operation that needs an editor's token.
    assert_eq!(get(&app, "/api/admin/submissions", &[]).await.status, 404);
    let secured: Vec<String> = whole["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .flat_map(|(p, item)| {
            item.as_object()
                .into_iter()
                .flatten()
                .filter(|(_, op)| op.get("security").is_some())
                .map(move |(m, _)| format!("{m} {p}"))
        })
        .collect();
    assert!(secured.is_empty(), "{secured:?}");
    assert!(whole["paths"]["/api/admin/edits"].is_null());
    assert!(whole["paths"]["/api/submissions"]["post"].is_object());

    // The OGC landing page points at its own part with rel service-desc.
    let landing: Value = serde_json::from_slice(&get(&app, "/ogc", &[]).await.body).expect("json");
    let desc = landing["links"]
        .as_array()
        .expect("links")
        .iter()
        .find(|l| l["rel"] == "service-desc")
        .expect("service-desc link");
    assert!(
        desc["type"]
            .as_str()
            .is_some_and(|t| t.starts_with("application/vnd.oai.openapi+json"))
    );
    let href = desc["href"].as_str().expect("href");
    let path = &href[href.find("/ogc/").expect("an /ogc/ address")..];
    let r = get(&app, path, &[]).await;
    assert_eq!(r.status, 200, "{path}");
    assert_eq!(
        r.header("content-type"),
        Some("application/vnd.oai.openapi+json;version=3.0"),
        "the service-desc is OpenAPI 3.0"
    );
    assert_eq!(desc["type"], "application/vnd.oai.openapi+json;version=3.0");
    let ogc: Value = serde_json::from_slice(&r.body).expect("json");
    assert_eq!(ogc["openapi"], "3.0.3");
    // None of 3.1's JSON Schema spellings is left (tests/openapi_clients.rs runs a validator).
    let mut left = Vec::new();
    find_3_1_shapes(&ogc, "", &mut left);
    assert!(left.is_empty(), "3.1 shapes in /ogc/api: {left:?}");
    let paths: Vec<&String> = ogc["paths"].as_object().expect("paths").keys().collect();
    assert!(paths.iter().all(|p| p.starts_with("/ogc")), "{paths:?}");
    for p in [
        "/ogc",
        "/ogc/conformance",
        "/ogc/collections",
        "/ogc/collections/local_authorities/items",
        "/ogc/collections/partnerships/items",
        "/ogc/collections/{id}/items/{fid}",
    ] {
        assert!(ogc["paths"][p]["get"].is_object(), "OGC document lacks {p}");
    }
    // Each collection's attributes are its items' filters.
    let params: Vec<&str> =
        ogc["paths"]["/ogc/collections/local_authorities/items"]["get"]["parameters"]
            .as_array()
            .expect("parameters")
            .iter()
            .filter_map(|p| p["name"].as_str())
            .collect();
    for p in [
        "bbox",
        "limit",
        "offset",
        "role_convener",
        "partnership_count",
    ] {
        assert!(params.contains(&p), "items parameter {p}");
    }
    // Every schema the OGC part refers to is in it.
    let text = ogc.to_string();
    for name in text.split("#/components/schemas/").skip(1) {
        let name = &name[..name.find('"').expect("end of ref")];
        assert!(
            ogc["components"]["schemas"][name].is_object(),
            "{name} missing"
        );
    }

    let page = get(&app, "/api", &[]).await;
    assert_eq!(page.status, 200);
    let html = page.text();
    for asset in [
        "/vendor/swagger-ui/swagger-ui-bundle.js",
        "/vendor/swagger-ui/swagger-ui.css",
        "/static/api.js",
    ] {
        assert!(html.contains(asset), "{asset}");
        let a = get(&app, asset, &[]).await;
        assert_eq!(a.status, 200, "{asset}");
        assert!(a.body.len() > 300, "{asset} is {} bytes", a.body.len());
    }
}

/// JSON pointers of 3.1-only shapes: `type` lists, `const`, `prefixItems`, numeric exclusive
/// bounds, a `{"type": "null"}` schema.
fn find_3_1_shapes(v: &Value, at: &str, found: &mut Vec<String>) {
    match v {
        Value::Object(o) => {
            for (k, c) in o {
                let here = format!("{at}/{k}");
                let bad = match k.as_str() {
                    "type" => c.is_array() || c == "null",
                    "const" | "prefixItems" | "propertyNames" => true,
                    "exclusiveMinimum" | "exclusiveMaximum" => c.is_number(),
                    _ => false,
                };
                if bad {
                    found.push(here.clone());
                }
                if k != "example" && k != "examples" {
                    find_3_1_shapes(c, &here, found);
                }
            }
        }
        Value::Array(a) => {
            for (i, c) in a.iter().enumerate() {
                find_3_1_shapes(c, &format!("{at}/{i}"), found);
            }
        }
        _ => {}
    }
}
