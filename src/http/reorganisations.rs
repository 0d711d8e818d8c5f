//! `GET /api/reorganisations`: the reorganisation table as the web map's date control needs it
//! (each vesting date, and on it which councils are abolished and which are made), read from the
//! loaded timeline, with today's date in England and the first day the map records.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Serialize;
use utoipa::ToSchema;

use super::conditional::json_with_etag;
use super::state::AppState;
use crate::dataset::Dataset;
use crate::dataset::timeline::RECORD_START;
use crate::error::AppError;
use crate::model::Reorganisation;

/// A council named by the table.
#[derive(Debug, Serialize, ToSchema)]
pub struct NamedLa {
    /// GSS code (or a provisional code, see `provisional_code`).
    pub code: String,
    /// Name.
    pub name: String,
}

/// One new council, as one row of `data/reorganisations.csv` makes it.
#[derive(Debug, Serialize, ToSchema)]
pub struct NewCouncil {
    /// Its code.
    pub code: String,
    /// Its name.
    pub name: String,
    /// Its type (one of the LA types).
    pub la_type: String,
    /// The code is provisional: ONS has not published one yet.
    pub provisional_code: bool,
    /// `districts` (the union of whole lower-tier districts), `recode` (the same area under
    /// a new code) or `geometry` (a boundary file for the parts of split districts, with any
    /// whole districts).
    pub made_of: String,
    /// The councils it replaces.
    pub replaces: Vec<NamedLa>,
    /// `decided` or `in_force`, as the table says.
    pub status: String,
    /// Sources for the decision.
    pub source_urls: Vec<String>,
    /// Notes from the table.
    pub notes: String,
}

/// Everything that changes on one vesting date.
#[derive(Debug, Serialize, ToSchema)]
pub struct VestingDate {
    /// The vesting date, `YYYY-MM-DD`: the new councils' first day.
    #[schema(format = Date)]
    pub date: String,
    /// The date has come (it is today or earlier in England).
    pub reached: bool,
    /// Every council abolished on the date.
    pub abolished: Vec<NamedLa>,
    /// Every council made on the date.
    pub new: Vec<NewCouncil>,
}

/// `GET /api/reorganisations`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReorganisationList {
    /// Today in England, `YYYY-MM-DD` (the map's default day).
    #[schema(format = Date)]
    pub today: String,
    /// The first day the map records, `YYYY-MM-DD`; earlier days have no map.
    #[schema(format = Date)]
    pub record_start: String,
    /// The vesting dates, earliest first.
    pub vesting_dates: Vec<VestingDate>,
}

fn named(ds: &Dataset, code: &str, fallback: Option<&String>) -> NamedLa {
    NamedLa {
        code: code.to_owned(),
        name: ds
            .any_la(code)
            .map(|l| l.name.clone())
            .or_else(|| fallback.cloned())
            .unwrap_or_default(),
    }
}

fn new_council(ds: &Dataset, r: &Reorganisation) -> NewCouncil {
    NewCouncil {
        code: r.new_code.clone(),
        name: r.new_name.clone(),
        la_type: r.new_la_type.clone(),
        provisional_code: ds.any_la(&r.new_code).is_some_and(|l| l.provisional_code),
        made_of: r.made_of.as_str().to_owned(),
        replaces: r
            .abolished
            .iter()
            .enumerate()
            .map(|(k, c)| named(ds, c, r.abolished_names.get(k)))
            .collect(),
        status: r.status.clone(),
        source_urls: r.source_urls.clone(),
        notes: r.notes.clone(),
    }
}

/// The vesting dates of `ds`'s timeline, as of `today` (pure).
#[must_use]
pub fn list(ds: &Dataset, today: &str) -> ReorganisationList {
    let vesting_dates = ds
        .timeline()
        .vesting_dates()
        .into_iter()
        .map(|(date, rows)| {
            let mut abolished: Vec<NamedLa> = Vec::new();
            for r in &rows {
                for (k, c) in r.abolished.iter().enumerate() {
                    if !abolished.iter().any(|a| &a.code == c) {
                        abolished.push(named(ds, c, r.abolished_names.get(k)));
                    }
                }
            }
            VestingDate {
                date: date.to_owned(),
                reached: date <= today,
                abolished,
                new: rows.iter().map(|r| new_council(ds, r)).collect(),
            }
        })
        .collect();
    ReorganisationList {
        today: today.to_owned(),
        record_start: RECORD_START.to_owned(),
        vesting_dates,
    }
}

/// `GET /api/reorganisations`: the vesting dates and what changes on each.
///
/// # Errors
/// None in practice (the body is always built); typed for the router.
#[utoipa::path(get, path = "/api/reorganisations", tag = "api", summary = "Councils over time: each vesting date, the councils it abolishes and the ones it makes", description = "From `data/reorganisations.csv` as loaded. `today` is the map's default day; the web map's date control marks each vesting date.", params(("If-None-Match" = Option<String>, Header, description = "An ETag from an earlier response: 304 when it still matches")), responses((status = 200, description = "The vesting dates, earliest first", body = ReorganisationList, headers(("ETag" = String, description = "Weak"))), (status = 304, description = "If-None-Match matched")))]
pub async fn reorganisations(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let body = list(&state.dataset(), &state.today());
    let value = serde_json::to_value(&body).map_err(|e| AppError::Store(e.to_string()))?;
    Ok(json_with_etag(&headers, &value))
}
