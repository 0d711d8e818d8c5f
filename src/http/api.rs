//! The public JSON API behind the web map: LAs with summary fields, one LA in full, and
//! partnerships. Field names are stable and match the tile attributes (`docs/FIELDS.md`).
//! Nothing here ever contains a submitter's details.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};

use super::conditional::json_with_etag;
use super::query::ApiQuery;
use super::state::AppState;
use crate::dataset::Dataset;
use crate::downloads::partnership_json;
use crate::error::AppError;
use crate::tileset::round6;

/// Summary of LA `i`: every tile attribute, plus bounds, label point and neighbours as a list.
fn la_summary(ds: &Dataset, i: usize) -> Value {
    let mut o: serde_json::Map<String, Value> = ds.attributes[i]
        .iter()
        .map(|(k, v)| (k.clone(), v.to_json()))
        .collect();
    let la = &ds.las[i];
    o.insert("stat_neighbours".into(), json!(la.stat_neighbours));
    o.insert(
        "stat_neighbours_closeness".into(),
        json!(la.stat_neighbours_closeness),
    );
    o.insert("bbox".into(), json!(ds.geometry.la_bounds[i].map(round6)));
    o.insert("label".into(), json!(ds.label_lonlat(i).map(round6)));
    Value::Object(o)
}

fn find_la(ds: &Dataset, code: &str) -> Result<usize, AppError> {
    ds.las.iter().position(|l| l.code == code).ok_or_else(|| {
        AppError::ApiNotFound(format!(
            "no local authority with code {:?}",
            code.chars().take(20).collect::<String>()
        ))
    })
}

#[utoipa::path(get, path = "/api/las", tag = "api", summary = "All LAs with every tile attribute", params(("If-None-Match" = Option<String>, Header, description = "An ETag from an earlier response: 304 when it still matches")), responses((status = 200, description = "The LAs", body = super::openapi::LaList, headers(("ETag" = String, description = "Weak"))), (status = 304, description = "If-None-Match matched")))]
pub async fn las(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let ds = state.dataset();
    let items: Vec<Value> = (0..ds.las.len()).map(|i| la_summary(&ds, i)).collect();
    json_with_etag(
        &headers,
        &json!({
            "data_version": ds.version,
            "data_as_of": ds.data_as_of,
            "count": items.len(),
            "local_authorities": items,
        }),
    )
}

/// `GET /api/las/{code}`: one LA in full: summary, its own role, every partnership, neighbours.
///
/// # Errors
/// 404 (JSON) for an unknown code.
#[utoipa::path(get, path = "/api/las/{code}", tag = "api", summary = "One LA in full: attributes, role, partnerships, neighbours", params(("code" = String, Path, description = "GSS code, e.g. E06000026"), ("If-None-Match" = Option<String>, Header, description = "An ETag from an earlier response: 304 when it still matches")), responses((status = 200, description = "The LA", body = super::openapi::LaDetail, headers(("ETag" = String, description = "Weak"))), (status = 304, description = "If-None-Match matched"), (status = 404, description = "No LA with this code", body = super::openapi::ErrorBody)))]
pub async fn la(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(code): Path<String>,
) -> Result<Response, AppError> {
    let ds = state.dataset();
    let i = find_la(&ds, &code)?;
    let la = &ds.las[i];
    let role = ds.la_role[i].map(|r| {
        let r = &ds.roles[r];
        json!({
            "funder": r.funder,
            "convener": r.convener,
            "deliverer": r.deliverer,
            "traded_service": r.traded_service,
            "summary": r.summary,
            "source_urls": r.source_urls,
            "evidence_date": r.evidence_date,
        })
    });
    let partnerships: Vec<Value> = ds.la_partnerships[i]
        .iter()
        .map(|&p| partnership_json(&ds, &ds.partnerships[p]))
        .collect();
    let neighbours: Vec<Value> = la
        .stat_neighbours
        .iter()
        .zip(
            la.stat_neighbours_closeness
                .iter()
                .map(String::as_str)
                .chain(std::iter::repeat("")),
        )
        .enumerate()
        .map(|(rank, (code, closeness))| {
            let name = ds
                .las
                .iter()
                .find(|l| &l.code == code)
                .map_or("", |l| l.name.as_str());
            json!({ "rank": rank + 1, "code": code, "name": name, "closeness": closeness })
        })
        .collect();
    Ok(json_with_etag(
        &headers,
        &json!({
            "data_version": ds.version,
            "data_as_of": ds.data_as_of,
            "local_authority": la_summary(&ds, i),
            "role": role,
            "partnerships": partnerships,
            "neighbours": neighbours,
        }),
    ))
}

/// Query of `/api/partnerships`.
#[derive(Debug, Deserialize)]
pub struct PartnershipQuery {
    /// LA code; all partnerships when absent.
    pub la: Option<String>,
}

/// `GET /api/partnerships?la={code}`.
///
/// # Errors
/// 404 (JSON) for an unknown LA code.
#[utoipa::path(get, path = "/api/partnerships", tag = "api", summary = "Partnerships, all or one LA's", params(("la" = Option<String>, Query, description = "GSS code: only this LA's partnerships"), ("If-None-Match" = Option<String>, Header, description = "An ETag from an earlier response: 304 when it still matches")), responses((status = 200, description = "The partnerships", body = super::openapi::PartnershipList, headers(("ETag" = String, description = "Weak"))), (status = 304, description = "If-None-Match matched"), (status = 400, description = "A repeated or malformed parameter", body = super::openapi::ErrorBody), (status = 404, description = "No LA with this code", body = super::openapi::ErrorBody)))]
pub async fn partnerships(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<PartnershipQuery>,
) -> Result<Response, AppError> {
    let ds = state.dataset();
    let items: Vec<Value> = match q.la.as_deref() {
        Some(code) => {
            let i = find_la(&ds, code)?;
            ds.la_partnerships[i]
                .iter()
                .map(|&p| partnership_json(&ds, &ds.partnerships[p]))
                .collect()
        }
        None => ds
            .partnerships
            .iter()
            .map(|p| partnership_json(&ds, p))
            .collect(),
    };
    Ok(json_with_etag(
        &headers,
        &json!({ "data_version": ds.version, "count": items.len(), "partnerships": items }),
    ))
}
