//! The public JSON API behind the web map: LAs with summary fields, one LA in full, and
//! partnerships. Field names are stable and match the tile attributes (`docs/FIELDS.md`).
//! Nothing here ever contains a submitter's details.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};

use super::conditional::json_with_etag;
use super::query::{ApiQuery, DateQuery};
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

/// `{code, name, valid_from, link}` of the LAs with these codes (successors or predecessors).
fn la_links(
    ds: &Dataset,
    codes: &[String],
    date_of: impl Fn(&crate::model::LocalAuthority) -> Option<String>,
) -> Vec<Value> {
    codes
        .iter()
        .filter_map(|c| ds.any_la(c))
        .map(|l| {
            let day = date_of(l);
            let link = day.as_ref().map_or_else(
                || format!("/api/las/{}", l.code),
                |d| format!("/api/las/{}?date={d}", l.code),
            );
            json!({ "code": l.code, "name": l.name, "date": day, "link": link })
        })
        .collect()
}

/// When an LA is in force, and which LAs it replaced or that replace it (with links).
fn history(ds: &Dataset, la: &crate::model::LocalAuthority) -> Value {
    json!({
        "valid_from": la.valid_from,
        "valid_to": la.valid_to,
        "provisional_code": la.provisional_code,
        "replaces": la_links(ds, &la.replaces, |l| l.valid_to.as_ref().and_then(|d| crate::clock::day_before(d))),
        "replaced_by": la_links(ds, &la.replaced_by, |l| Some(l.valid_from.clone())),
    })
}

fn find_la(ds: &Dataset, code: &str) -> Result<usize, AppError> {
    ds.las.iter().position(|l| l.code == code).ok_or_else(|| {
        AppError::ApiNotFound(format!(
            "no local authority with code {:?}",
            code.chars().take(20).collect::<String>()
        ))
    })
}

#[utoipa::path(get, path = "/api/las", tag = "api", summary = "All LAs with every tile attribute", params(DateQuery, ("If-None-Match" = Option<String>, Header, description = "An ETag from an earlier response: 304 when it still matches")), responses((status = 400, description = "A malformed date", body = super::openapi::ErrorBody), (status = 404, description = "A day before the map's records start", body = super::openapi::ErrorBody), (status = 200, description = "The LAs in force on the day", body = super::openapi::LaList, headers(("ETag" = String, description = "Weak"))), (status = 304, description = "If-None-Match matched")))]
pub async fn las(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<DateQuery>,
) -> Result<Response, AppError> {
    let ds = state.dataset_on(q.date.as_deref()).await?;
    let items: Vec<Value> = (0..ds.las.len()).map(|i| la_summary(&ds, i)).collect();
    Ok(json_with_etag(
        &headers,
        &json!({
            "data_version": ds.version,
            "data_as_of": ds.data_as_of,
            "date": q.date.clone().unwrap_or_else(|| state.today()),
            "valid_from": ds.vintage_start(),
            "valid_until": ds.vintage_end(),
            "count": items.len(),
            "local_authorities": items,
        }),
    ))
}

/// `GET /api/las/{code}`: one LA in full: summary, its own role, every partnership, neighbours.
///
/// # Errors
/// 404 (JSON) for an unknown code.
#[utoipa::path(get, path = "/api/las/{code}", tag = "api", summary = "One LA in full: attributes, role, partnerships, neighbours", params(("code" = String, Path, description = "GSS code, e.g. E06000026"), DateQuery, ("If-None-Match" = Option<String>, Header, description = "An ETag from an earlier response: 304 when it still matches")), responses((status = 200, description = "The LA", body = super::openapi::LaDetail, headers(("ETag" = String, description = "Weak"))), (status = 304, description = "If-None-Match matched"), (status = 400, description = "A malformed date", body = super::openapi::ErrorBody), (status = 404, description = "No LA with this code in the records, or a day before they start", body = super::openapi::ErrorBody)))]
pub async fn la(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(code): Path<String>,
    ApiQuery(q): ApiQuery<DateQuery>,
) -> Result<Response, AppError> {
    let ds = state.dataset_on(q.date.as_deref()).await?;
    let date = q.date.clone().unwrap_or_else(|| state.today());
    let Some(i) = ds.la_index(&code) else {
        // An LA of another day: say when it was in force and what replaced it.
        let Some(la) = ds.any_la(&code) else {
            return Err(find_la(&ds, &code)
                .err()
                .unwrap_or_else(|| AppError::ApiNotFound(code.clone())));
        };
        return Ok(json_with_etag(
            &headers,
            &json!({
                "data_version": ds.version,
                "data_as_of": ds.data_as_of,
                "date": date,
                "in_force": false,
                "local_authority": { "code": la.code, "name": la.name },
                "history": history(&ds, la),
                "role": null,
                "partnerships": [],
                "neighbours": [],
            }),
        ));
    };
    let la = &ds.las[i];
    let inherited = ds.inherited[i].as_ref();
    let from_names = |codes: &[String]| ds.la_names(codes).join(", ");
    let role = ds.la_role[i].map(|r| {
        let r = &ds.roles[r];
        let inherited_from = inherited.filter(|h| h.role).map(|h| from_names(&h.from));
        json!({
            "inherited_from": inherited_from,
            "confirmed": inherited_from.is_none(),
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
        .map(|&p| {
            let mut j = partnership_json(&ds, &ds.partnerships[p]);
            let carried = inherited.is_some_and(|h| h.partnerships.contains(&p));
            j["inherited_from"] = if carried {
                json!(inherited.map(|h| from_names(&h.from)))
            } else {
                Value::Null
            };
            j["confirmed"] = json!(!carried);
            j
        })
        .collect();
    let new_la = !la.replaces.is_empty();
    let neighbours_status = if !la.stat_neighbours.is_empty() {
        "published"
    } else if new_la {
        "not_yet_published"
    } else {
        "none"
    };
    let figures_status = if la.pupils.is_some() || la.fsm_primary_pct.is_some() {
        "published"
    } else if new_la {
        "not_yet_published"
    } else {
        "none"
    };
    let status_note = new_la.then(|| {
        format!(
            "{} is a new council from {}. DfE has not yet published its statistical neighbours or its context figures, so none are shown (the figures of {} are not copied).",
            la.name,
            la.valid_from,
            from_names(&la.replaces)
        )
    });
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
            let name = ds.name_of(code).unwrap_or("");
            json!({ "rank": rank + 1, "code": code, "name": name, "closeness": closeness, "in_force": ds.la_index(code).is_some() })
        })
        .collect();
    Ok(json_with_etag(
        &headers,
        &json!({
            "data_version": ds.version,
            "data_as_of": ds.data_as_of,
            "date": date,
            "in_force": true,
            "local_authority": la_summary(&ds, i),
            "history": history(&ds, la),
            "role": role,
            "partnerships": partnerships,
            "neighbours": neighbours,
            "neighbours_status": neighbours_status,
            "figures_status": figures_status,
            "status_note": status_note,
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
#[utoipa::path(get, path = "/api/partnerships", tag = "api", summary = "Partnerships, all or one LA's", params(("la" = Option<String>, Query, description = "GSS code: only this LA's partnerships"), DateQuery, ("If-None-Match" = Option<String>, Header, description = "An ETag from an earlier response: 304 when it still matches")), responses((status = 200, description = "The partnerships", body = super::openapi::PartnershipList, headers(("ETag" = String, description = "Weak"))), (status = 304, description = "If-None-Match matched"), (status = 400, description = "A repeated or malformed parameter", body = super::openapi::ErrorBody), (status = 404, description = "No LA with this code", body = super::openapi::ErrorBody)))]
pub async fn partnerships(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<PartnershipQuery>,
    ApiQuery(d): ApiQuery<DateQuery>,
) -> Result<Response, AppError> {
    let ds = state.dataset_on(d.date.as_deref()).await?;
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
            .enumerate()
            .map(|(pi, p)| {
                let mut j = partnership_json(&ds, p);
                // The LAs in force that it covers on this day (its own, and new LAs that
                // inherit it from one it names).
                let in_force: Vec<&str> = (0..ds.las.len())
                    .filter(|&i| ds.la_partnerships[i].contains(&pi))
                    .map(|i| ds.las[i].code.as_str())
                    .collect();
                j["las_in_force"] = json!(in_force);
                j
            })
            .collect(),
    };
    Ok(json_with_etag(
        &headers,
        &json!({ "data_version": ds.version, "count": items.len(), "partnerships": items }),
    ))
}
