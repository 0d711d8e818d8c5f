//! The public JSON API behind the web map: LAs with summary fields, one LA in full, and
//! partnerships. Field names are stable and match the tile attributes (`docs/FIELDS.md`).
//! Nothing here ever contains a submitter's details.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{PartialSchema, ToSchema};

use super::conditional::json_with_etag;
use super::query::{ApiQuery, DateQuery};
use super::state::AppState;
use crate::dataset::Dataset;
use crate::downloads::{PartnershipJson, partnership_json};
use crate::error::AppError;
use crate::tileset::round6;

/// An LA with every tile attribute (see `docs/FIELDS.md`), plus `bbox`, `label` and the
/// statistical neighbours as lists. Its properties follow the attribute list of `schema.rs`, so
/// `openapi::document` replaces this schema with one generated from that list.
#[derive(Debug, Serialize, ToSchema)]
#[serde(transparent)]
#[schema(value_type = Object)]
pub struct LaSummary(serde_json::Map<String, Value>);

/// `GET /api/las`.
#[derive(Debug, Serialize, ToSchema)]
pub struct LaList {
    /// Version of the data served.
    pub data_version: String,
    /// Date of the newest evidence, `YYYY-MM-DD`.
    pub data_as_of: Option<String>,
    /// The day asked for (default today), `YYYY-MM-DD`.
    pub date: String,
    /// First day of the map's councils as on that day.
    pub valid_from: String,
    /// Last day of them, if a later reorganisation ends it.
    pub valid_until: Option<String>,
    /// Number of LAs in force on the day.
    pub count: usize,
    /// Every LA in force on the day.
    pub local_authorities: Vec<LaSummary>,
}

/// An LA named with its code, and where the API describes it (`link`, dated when it is not in
/// force today).
#[derive(Debug, Serialize, ToSchema)]
pub struct LaLink {
    /// GSS code.
    pub code: String,
    /// Name.
    pub name: String,
    /// A day it is in force (its last for a predecessor, its first for a successor).
    pub date: Option<String>,
    /// `/api/las/{code}`, with `?date=` when dated.
    pub link: String,
}

/// When an LA is in force, and which LAs it replaced or that replace it.
#[derive(Debug, Serialize, ToSchema)]
pub struct LaHistory {
    /// First day in force.
    pub valid_from: String,
    /// Last day in force, if it was abolished.
    pub valid_to: Option<String>,
    /// Whether its code is provisional (ONS has not published it yet).
    pub provisional_code: bool,
    /// The LAs it replaced.
    pub replaces: Vec<LaLink>,
    /// The LAs that replace it.
    pub replaced_by: Vec<LaLink>,
}

/// An LA's own role in school improvement, with its sources.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = LaRole)]
pub struct LaRoleJson {
    /// The LAs whose role a new council carries until its own is researched, if any.
    pub inherited_from: Option<String>,
    /// Whether the role is the LA's own (not carried over from a predecessor).
    pub confirmed: bool,
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

/// A partnership of an LA, and whether the LA carries it from a predecessor.
#[derive(Debug, Serialize, ToSchema)]
pub struct LaPartnership {
    /// The partnership.
    #[serde(flatten)]
    pub partnership: PartnershipJson,
    /// The predecessors it is carried from, if it names none of this LA's own codes.
    pub inherited_from: Option<String>,
    /// Whether it names this LA itself.
    pub confirmed: bool,
}

/// One of an LA's DfE statistical neighbours.
#[derive(Debug, Serialize, ToSchema)]
pub struct Neighbour {
    /// 1 = closest.
    pub rank: usize,
    /// GSS code.
    pub code: String,
    /// Name.
    pub name: String,
    /// DfE's closeness band (may be empty).
    pub closeness: String,
    /// Whether it is in force on the day.
    pub in_force: bool,
}

/// Whether DfE figures of an LA are published.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Published {
    /// Published.
    Published,
    /// A new council: not yet published.
    NotYetPublished,
    /// None.
    None,
}

/// The LA of `/api/las/{code}`: all its attributes when in force on the day, else its name.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum LaDetailSubject {
    /// In force: every attribute.
    InForce(LaSummary),
    /// Not in force on the day.
    Named {
        /// GSS code.
        code: String,
        /// Name.
        name: String,
    },
}

/// `anyOf`, not the `oneOf` a derived schema of an untagged enum would be: every LA in force
/// also has the code and name that an LA of another day is given.
impl utoipa::PartialSchema for LaDetailSubject {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{AnyOfBuilder, ObjectBuilder, Type};
        let text = || ObjectBuilder::new().schema_type(Type::String);
        AnyOfBuilder::new()
            .item(utoipa::openapi::Ref::from_schema_name(LaSummary::name()))
            .item(
                ObjectBuilder::new()
                    .description(Some("An LA not in force on the day: its code and name."))
                    .property("code", text().description(Some("GSS code.")))
                    .property("name", text().description(Some("Name.")))
                    .required("code")
                    .required("name"),
            )
            .into()
    }
}

impl ToSchema for LaDetailSubject {
    fn schemas(
        schemas: &mut Vec<(
            String,
            utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
        )>,
    ) {
        schemas.push((LaSummary::name().into(), LaSummary::schema()));
    }
}

/// `GET /api/las/{code}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct LaDetail {
    /// Version of the data served.
    pub data_version: String,
    /// Date of the newest evidence.
    pub data_as_of: Option<String>,
    /// The day asked for (default today).
    pub date: String,
    /// Whether the LA is in force on the day (else only its name and history are given).
    pub in_force: bool,
    /// The LA.
    pub local_authority: LaDetailSubject,
    /// When it is in force, and what it replaced or what replaces it.
    pub history: LaHistory,
    /// Its role, or null when the data has none.
    pub role: Option<LaRoleJson>,
    /// Its partnerships.
    pub partnerships: Vec<LaPartnership>,
    /// Its statistical neighbours, closest first.
    pub neighbours: Vec<Neighbour>,
    /// Whether its statistical neighbours are published (LAs in force only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub neighbours_status: Option<Published>,
    /// Whether its context figures are published (LAs in force only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub figures_status: Option<Published>,
    /// For a new council, why figures are missing; null otherwise (LAs in force only).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub status_note: Option<Option<String>>,
}

/// A partnership of `/api/partnerships`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ListedPartnership {
    /// The partnership.
    #[serde(flatten)]
    pub partnership: PartnershipJson,
    /// The LAs in force on the day that it covers (its own, and new LAs that inherit it);
    /// given when every partnership is listed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub las_in_force: Option<Vec<String>>,
}

/// `GET /api/partnerships`.
#[derive(Debug, Serialize, ToSchema)]
pub struct PartnershipList {
    /// Version of the data served.
    pub data_version: String,
    /// Number of partnerships listed.
    pub count: usize,
    /// The partnerships.
    pub partnerships: Vec<ListedPartnership>,
}

/// Summary of LA `i`: every tile attribute, plus bounds, label point and neighbours as a list.
fn la_summary(ds: &Dataset, i: usize) -> LaSummary {
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
    LaSummary(o)
}

/// `{code, name, valid_from, link}` of the LAs with these codes (successors or predecessors).
fn la_links(
    ds: &Dataset,
    codes: &[String],
    date_of: impl Fn(&crate::model::LocalAuthority) -> Option<String>,
) -> Vec<LaLink> {
    codes
        .iter()
        .filter_map(|c| ds.any_la(c))
        .map(|l| {
            let day = date_of(l);
            let link = day.as_ref().map_or_else(
                || format!("/api/las/{}", l.code),
                |d| format!("/api/las/{}?date={d}", l.code),
            );
            LaLink {
                code: l.code.clone(),
                name: l.name.clone(),
                date: day,
                link,
            }
        })
        .collect()
}

/// When an LA is in force, and which LAs it replaced or that replace it (with links).
fn history(ds: &Dataset, la: &crate::model::LocalAuthority) -> LaHistory {
    LaHistory {
        valid_from: la.valid_from.clone(),
        valid_to: la.valid_to.clone(),
        provisional_code: la.provisional_code,
        replaces: la_links(ds, &la.replaces, |l| {
            l.valid_to
                .as_ref()
                .and_then(|d| crate::clock::day_before(d))
        }),
        replaced_by: la_links(ds, &la.replaced_by, |l| Some(l.valid_from.clone())),
    }
}

fn find_la(ds: &Dataset, code: &str) -> Result<usize, AppError> {
    ds.las.iter().position(|l| l.code == code).ok_or_else(|| {
        AppError::ApiNotFound(format!(
            "no local authority with code {:?}",
            code.chars().take(20).collect::<String>()
        ))
    })
}

#[utoipa::path(get, path = "/api/las", tag = "api", summary = "All LAs with every tile attribute", params(DateQuery, ("If-None-Match" = Option<String>, Header, description = "An ETag from an earlier response: 304 when it still matches")), responses((status = 400, description = "A malformed date", body = crate::error::ErrorBody), (status = 404, description = "A day before the map's records start", body = crate::error::ErrorBody), (status = 200, description = "The LAs in force on the day", body = LaList, headers(("ETag" = String, description = "Weak"))), (status = 304, description = "If-None-Match matched")))]
pub async fn las(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<DateQuery>,
) -> Result<Response, AppError> {
    let ds = state.dataset_on(q.date.as_deref()).await?;
    let items: Vec<LaSummary> = (0..ds.las.len()).map(|i| la_summary(&ds, i)).collect();
    Ok(json_with_etag(
        &headers,
        &LaList {
            data_version: ds.version.clone(),
            data_as_of: ds.data_as_of.clone(),
            date: q.date.clone().unwrap_or_else(|| state.today()),
            valid_from: ds.vintage_start().to_owned(),
            valid_until: ds.vintage_end().map(str::to_owned),
            count: items.len(),
            local_authorities: items,
        },
    ))
}

/// `GET /api/las/{code}`: one LA in full: summary, its own role, every partnership, neighbours.
///
/// # Errors
/// 404 (JSON) for an unknown code.
#[utoipa::path(get, path = "/api/las/{code}", tag = "api", summary = "One LA in full: attributes, role, partnerships, neighbours", params(("code" = String, Path, description = "GSS code, e.g. E06000026"), DateQuery, ("If-None-Match" = Option<String>, Header, description = "An ETag from an earlier response: 304 when it still matches")), responses((status = 200, description = "The LA", body = LaDetail, headers(("ETag" = String, description = "Weak"))), (status = 304, description = "If-None-Match matched"), (status = 400, description = "A malformed date", body = crate::error::ErrorBody), (status = 404, description = "No LA with this code in the records, or a day before they start", body = crate::error::ErrorBody)))]
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
            &LaDetail {
                data_version: ds.version.clone(),
                data_as_of: ds.data_as_of.clone(),
                date,
                in_force: false,
                local_authority: LaDetailSubject::Named {
                    code: la.code.clone(),
                    name: la.name.clone(),
                },
                history: history(&ds, la),
                role: None,
                partnerships: Vec::new(),
                neighbours: Vec::new(),
                neighbours_status: None,
                figures_status: None,
                status_note: None,
            },
        ));
    };
    let la = &ds.las[i];
    let inherited = ds.inherited[i].as_ref();
    let from_names = |codes: &[String]| ds.la_names(codes).join(", ");
    let role = ds.la_role[i].map(|r| {
        let r = &ds.roles[r];
        let inherited_from = inherited.filter(|h| h.role).map(|h| from_names(&h.from));
        LaRoleJson {
            confirmed: inherited_from.is_none(),
            inherited_from,
            funder: r.funder,
            convener: r.convener,
            deliverer: r.deliverer,
            traded_service: r.traded_service,
            summary: r.summary.clone(),
            source_urls: r.source_urls.clone(),
            evidence_date: r.evidence_date.clone(),
        }
    });
    let partnerships: Vec<LaPartnership> = ds.la_partnerships[i]
        .iter()
        .map(|&p| {
            let carried = inherited.is_some_and(|h| h.partnerships.contains(&p));
            LaPartnership {
                partnership: partnership_json(&ds, &ds.partnerships[p]),
                inherited_from: inherited.filter(|_| carried).map(|h| from_names(&h.from)),
                confirmed: !carried,
            }
        })
        .collect();
    let new_la = !la.replaces.is_empty();
    let published = |yes: bool| {
        if yes {
            Published::Published
        } else if new_la {
            Published::NotYetPublished
        } else {
            Published::None
        }
    };
    let neighbours_status = published(!la.stat_neighbours.is_empty());
    let figures_status = published(la.pupils.is_some() || la.fsm_primary_pct.is_some());
    let status_note = new_la.then(|| {
        format!(
            "{} is a new council from {}. DfE has not yet published its statistical neighbours or its context figures, so none are shown (the figures of {} are not copied).",
            la.name,
            la.valid_from,
            from_names(&la.replaces)
        )
    });
    let neighbours: Vec<Neighbour> = la
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
            Neighbour {
                rank: rank + 1,
                code: code.clone(),
                name: name.to_owned(),
                closeness: closeness.to_owned(),
                in_force: ds.la_index(code).is_some(),
            }
        })
        .collect();
    Ok(json_with_etag(
        &headers,
        &LaDetail {
            data_version: ds.version.clone(),
            data_as_of: ds.data_as_of.clone(),
            date,
            in_force: true,
            local_authority: LaDetailSubject::InForce(la_summary(&ds, i)),
            history: history(&ds, la),
            role,
            partnerships,
            neighbours,
            neighbours_status: Some(neighbours_status),
            figures_status: Some(figures_status),
            status_note: Some(status_note),
        },
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
#[utoipa::path(get, path = "/api/partnerships", tag = "api", summary = "Partnerships, all or one LA's", params(("la" = Option<String>, Query, description = "GSS code: only this LA's partnerships"), DateQuery, ("If-None-Match" = Option<String>, Header, description = "An ETag from an earlier response: 304 when it still matches")), responses((status = 200, description = "The partnerships", body = PartnershipList, headers(("ETag" = String, description = "Weak"))), (status = 304, description = "If-None-Match matched"), (status = 400, description = "A repeated or malformed parameter", body = crate::error::ErrorBody), (status = 404, description = "No LA with this code", body = crate::error::ErrorBody)))]
pub async fn partnerships(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<PartnershipQuery>,
    ApiQuery(d): ApiQuery<DateQuery>,
) -> Result<Response, AppError> {
    let ds = state.dataset_on(d.date.as_deref()).await?;
    let items: Vec<ListedPartnership> = match q.la.as_deref() {
        Some(code) => {
            let i = find_la(&ds, code)?;
            ds.la_partnerships[i]
                .iter()
                .map(|&p| ListedPartnership {
                    partnership: partnership_json(&ds, &ds.partnerships[p]),
                    las_in_force: None,
                })
                .collect()
        }
        None => ds
            .partnerships
            .iter()
            .enumerate()
            .map(|(pi, p)| {
                // The LAs in force that it covers on this day (its own, and new LAs that
                // inherit it from one it names).
                let in_force: Vec<String> = (0..ds.las.len())
                    .filter(|&i| ds.la_partnerships[i].contains(&pi))
                    .map(|i| ds.las[i].code.clone())
                    .collect();
                ListedPartnership {
                    partnership: partnership_json(&ds, p),
                    las_in_force: Some(in_force),
                }
            })
            .collect(),
    };
    Ok(json_with_etag(
        &headers,
        &PartnershipList {
            data_version: ds.version.clone(),
            count: items.len(),
            partnerships: items,
        },
    ))
}
