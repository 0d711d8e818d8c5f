//! The interactive map at `/`, the chrome-less `/embed`, MapLibre GL JS (embedded at build
//! time from npm) and the label glyphs.
//!
//! The page is a server-rendered shell; `web/static/map.js` does the rest in the browser with
//! the server's own style, tiles, glyphs and JSON API, so it works offline. `/` may not be
//! framed; `/embed` may be framed by any site.

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::{DOCTYPE, Markup, html};

use super::meta::base_url;
use super::pages::{EmbeddedFile, Framing, embedded, head_basics, html_response};
use super::preview;
use super::state::AppState;
use crate::error::AppError;
use crate::glyphs::{self, GlyphError};
use crate::render::Measure;
use crate::schema;

/// MapLibre GL JS files, copied from `web/node_modules` into the binary at build time.
const VENDOR: &[EmbeddedFile] = &[
    (
        "maplibre-gl.mjs",
        "text/javascript; charset=utf-8",
        include_bytes!("../../web/node_modules/maplibre-gl/dist/maplibre-gl.mjs"),
    ),
    (
        "maplibre-gl-worker.mjs",
        "text/javascript; charset=utf-8",
        include_bytes!("../../web/node_modules/maplibre-gl/dist/maplibre-gl-worker.mjs"),
    ),
    (
        "maplibre-gl.css",
        "text/css; charset=utf-8",
        include_bytes!("../../web/node_modules/maplibre-gl/dist/maplibre-gl.css"),
    ),
    (
        "LICENSE.txt",
        "text/plain; charset=utf-8",
        include_bytes!("../../web/node_modules/maplibre-gl/LICENSE.txt"),
    ),
];

/// Names of the files under `/vendor/maplibre-gl/`.
pub fn vendor_names() -> impl Iterator<Item = &'static str> {
    VENDOR.iter().map(|(n, _, _)| *n)
}

/// `GET /vendor/maplibre-gl/{file}`.
///
/// # Errors
/// 404 for an unknown file.
#[utoipa::path(get, path = "/vendor/maplibre-gl/{file}", tag = "pages", summary = "MapLibre GL JS (from npm, served by this binary)", params(("file" = String, Path, description = "`maplibre-gl.mjs`, `maplibre-gl-worker.mjs`, `maplibre-gl.css` or `LICENSE.txt`")), responses((status = 200, description = "The file", content((String = "text/javascript; charset=utf-8"), (String = "text/css; charset=utf-8"), (String = "text/plain; charset=utf-8"))), (status = 404, description = "No such file", body = String, content_type = "text/plain; charset=utf-8")))]
pub async fn vendor(Path(file): Path<String>) -> Result<Response, AppError> {
    embedded(VENDOR, &file, "public, max-age=86400")
}

/// `GET /fonts/{fontstack}/{range}.pbf`.
///
/// # Errors
/// 404 for an unknown font stack, 400 for a malformed range.
#[utoipa::path(get, path = "/fonts/{fontstack}/{range}", tag = "tiles", summary = "Label glyphs (SDF protobuf)", params(("fontstack" = String, Path, description = "Comma-separated font names; Open Sans is served"), ("range" = String, Path, description = "`{start}-{end}.pbf`, 256 code points from a multiple of 256", pattern = r"^[0-9]{1,5}-[0-9]{1,5}\.pbf$")), responses((status = 200, description = "Glyphs", body = super::openapi::Binary, content_type = "application/x-protobuf"), (status = 400, description = "A bad range", body = String, content_type = "text/plain; charset=utf-8"), (status = 404, description = "No such font", body = String, content_type = "text/plain; charset=utf-8")))]
pub async fn fonts(
    State(state): State<AppState>,
    Path((stack, range)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let glyph_err = |e: GlyphError| match e {
        GlyphError::UnknownFont(_) => AppError::NotFound(e.to_string()),
        GlyphError::BadRange(_) => AppError::BadRequest(e.to_string()),
        GlyphError::Render(m) => AppError::Store(m),
    };
    let font = glyphs::pick_font(&stack).map_err(glyph_err)?;
    let start = glyphs::parse_range(&range).map_err(glyph_err)?;
    let bytes = state.glyphs.get(font, start).await.map_err(glyph_err)?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/x-protobuf"),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=86400"),
            ),
        ],
        bytes,
    )
        .into_response())
}

fn checkbox_group(legend: &str, name: &str, values: &[&str], label: fn(&str) -> String) -> Markup {
    html! {
        details.filter-group {
            summary { (legend) }
            fieldset {
                legend.visually-hidden { (legend) }
                @for v in values {
                    label.check {
                        input type="checkbox" name=(name) value=(v);
                        " " (label(v))
                    }
                }
            }
        }
    }
}

fn words(s: &str) -> String {
    let s = s.replace('_', " ");
    let mut c = s.chars();
    c.next().map_or_else(String::new, |f| {
        f.to_uppercase().collect::<String>() + c.as_str()
    })
}

/// The day a map page shows, for map.js: `today` in England and the `date=` it was asked for
/// and serves (empty: today's map).
struct Day<'a> {
    today: &'a str,
    date: Option<&'a str>,
}

fn shell(title: &str, embed: bool, day: &Day<'_>, head_extra: &Markup, body: &Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en-GB" {
            head {
                (head_basics(title))
                (head_extra)
                link rel="stylesheet" href="/vendor/maplibre-gl/maplibre-gl.css";
                link rel="stylesheet" href="/static/map.css";
                link rel="stylesheet" href="/static/print.css" media="print";
                script type="module" src="/static/map.js" {}
                @if !embed { script type="module" src="/static/share.js" {} }
            }
            body.map-page.embed[embed] data-mode=(if embed { "embed" } else { "full" })
                data-today=(day.today) data-date=(day.date.unwrap_or(""))
                data-record-start=(crate::dataset::timeline::RECORD_START) { (body) }
        }
    }
}

/// The map page's query, read leniently: the page never fails on it, it just ignores what it
/// does not know.
struct MapQuery {
    /// `la=`: the selected LA (a code).
    la: Option<String>,
    /// `measure=`.
    measure: Measure,
    /// `date=`, when it is a well-formed day.
    date: Option<String>,
}

fn map_query(raw: Option<&str>) -> MapQuery {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(raw.unwrap_or("")).unwrap_or_default();
    let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    MapQuery {
        la: get("la").map(str::to_owned),
        measure: get("measure").and_then(Measure::parse).unwrap_or_default(),
        date: get("date")
            .filter(|d| crate::clock::parse_day(d).is_ok())
            .map(str::to_owned),
    }
}

/// The day a map page shows: the dataset of its `date=` (today's without one, or when the day
/// has no map), and that date when it is served (`None`: today's map).
async fn page_dataset(
    state: &AppState,
    date: Option<&str>,
) -> (std::sync::Arc<crate::dataset::Dataset>, Option<String>) {
    match state.dataset_on(date).await {
        Ok(ds) => (ds, date.map(str::to_owned)),
        Err(_) => (state.dataset(), None),
    }
}

/// Link-preview tags and the print picture's address for the map page.
fn preview_head(
    state: &AppState,
    headers: &HeaderMap,
    preview: impl FnOnce(&str) -> preview::Preview,
) -> Markup {
    match base_url(state, headers) {
        Ok(base) => preview::tags(&preview(&base)),
        Err(_) => html! {
            meta name="description" content="Area-based education partnerships and the role of each local authority in school improvement, across England's upper-tier local authorities.";
        },
    }
}

/// `GET /`: the interactive map.
#[utoipa::path(get, path = "/", tag = "pages", summary = "The interactive map", description = "Unknown or bad filter values are ignored by the page.", params(("la" = Option<String>, Query, description = "Selected LA (GSS code)"), ("measure" = Option<String>, Query, description = "`count`, `role` or `verified`"), ("form" = Option<String>, Query, description = "Forms, comma-separated"), ("focus" = Option<String>, Query, description = "Focus tags, comma-separated"), ("phase" = Option<String>, Query, description = "Phases, comma-separated"), ("role" = Option<String>, Query, description = "LA roles, comma-separated"), ("region" = Option<String>, Query, description = "Regions, comma-separated"), ("la_type" = Option<String>, Query, description = "LA types, comma-separated"), ("fsm" = Option<String>, Query, description = "`low`, `mid`, `high`, comma-separated"), ("rural" = Option<String>, Query, description = "Rurality classes, comma-separated"), ("verified" = Option<String>, Query, description = "`1` or `0`"), ("similar" = Option<String>, Query, description = "Outline this LA and its statistical neighbours"), ("date" = Option<String>, Query, description = "The day to map, `YYYY-MM-DD` (default today); the page ignores anything else, and a day with no map")), responses((status = 200, description = "HTML", body = String, content_type = "text/html; charset=utf-8")))]
pub async fn index(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    let mut q = map_query(raw.as_deref());
    let (ds, date) = page_dataset(&state, q.date.as_deref()).await;
    q.date = date;
    let measure = q.measure;
    let selected = q.la.as_deref().and_then(|c| ds.la_index(c));
    let head = preview_head(&state, &headers, |base| {
        preview::map(&ds, base, selected, measure)
    });
    // The same address share.js computes, so both share one cached picture.
    let m = if measure == Measure::Count {
        String::new()
    } else {
        format!("&measure={}", measure.key())
    };
    let d = q
        .date
        .as_ref()
        .map_or_else(String::new, |d| format!("&date={d}"));
    let print_src = match selected {
        Some(i) => format!("/render/la/{}.png?w=1200&h=630{m}{d}", ds.las[i].code),
        None => format!("/render/england.png?w=1200{m}{d}"),
    };
    let shown = q.date.clone().unwrap_or_else(|| state.today());
    let mut regions: Vec<&str> = ds.las.iter().map(|l| l.region_name.as_str()).collect();
    regions.sort_unstable();
    regions.dedup();
    let mut las: Vec<_> = ds.las.iter().collect();
    las.sort_by(|a, b| a.name.cmp(&b.name));
    let body = html! {
        a.skip href="#panel" { "Skip to filters and details" }
        header.bar {
            h1 { "partnership-map" span.tagline { " · how schools in England work together" } }
            div.search role="search" {
                label.visually-hidden for="search" { "Find a local authority" }
                input #search type="search" placeholder="Find a local authority…" autocomplete="off"
                    role="combobox" aria-autocomplete="list" aria-expanded="false" aria-controls="search-results";
                ul #search-results role="listbox" aria-label="Matching local authorities" hidden {}
            }
            nav.actions aria-label="Views" {
                button #toggle-panel type="button" aria-controls="panel" aria-expanded="true" { "Filters" }
                button #toggle-list type="button" aria-controls="list-view" aria-pressed="false" { "List view" }
                button #open-share type="button" { "Share / embed" }
            }
        }
        main.layout #main {
            section #panel aria-label="Filters and details" {
                // Shown on paper instead of the map canvas; share.js keeps it in step with the view.
                figure #print-map hidden {
                    img src=(print_src) alt="Map of the current view, drawn by the server" width="1200" decoding="async" fetchpriority="low";
                    figcaption { "Map: partnership-map, data as of " (ds.data_as_of.clone().unwrap_or_default()) ". " (crate::tileset::ATTRIBUTION) }
                }
                // "Map as of": map.js adds a button for today and for each vesting date
                // (from /api/reorganisations) and keeps the date in the URL.
                section #when aria-labelledby="when-h" {
                    h2 #when-h { "Councils over time" }
                    div.field {
                        label for="map-date" { "Map as of" }
                        input #map-date type="date" name="date" value=(shown)
                            min=(crate::dataset::timeline::RECORD_START) aria-describedby="date-shown";
                    }
                    div #date-marks role="group" aria-label="Jump to a date" {}
                    p #date-shown role="status" { "Showing the councils in force on " (shown) "." }
                }
                section #details aria-labelledby="details-h" aria-live="polite" {
                    h2 #details-h { "Local authority" }
                    p.hint { "Select a local authority on the map, in the list view or with the search." }
                }
                section #filters aria-labelledby="filters-h" {
                    h2 #filters-h { "Filters" }
                    p #match-count role="status" aria-live="polite" { "Loading…" }
                    div.downloads hidden {
                        button #download-image type="button" { "Download image" }
                        button #download-csv type="button" { "Download CSV" }
                    }
                    div.field {
                        label for="measure" { "Colour by" }
                        select #measure {
                            option value="count" { "Number of partnerships" }
                            option value="role" { "LA role" }
                            option value="verified" { "Verified status" }
                        }
                    }
                    div.field {
                        label for="similar" { "LAs similar to…" }
                        select #similar {
                            option value="" { "(none)" }
                            @for l in &las { option value=(l.code) { (l.name) } }
                        }
                    }
                    (checkbox_group("Form of partnership", "form", schema::FORMS, words))
                    (checkbox_group("Focus", "focus", schema::FOCUS, words))
                    (checkbox_group("Phase", "phase", schema::PHASES, words))
                    (checkbox_group("LA role", "role", schema::ROLES, words))
                    (checkbox_group("Region", "region", &regions, str::to_owned))
                    (checkbox_group("LA type", "la_type", schema::LA_TYPES, words))
                    (checkbox_group("Free school meals (primary)", "fsm", &["low", "mid", "high"], |v| match v {
                        "low" => "Below 20%".to_owned(),
                        "mid" => "20% to 30%".to_owned(),
                        _ => "Above 30%".to_owned(),
                    }))
                    (checkbox_group("Rurality (mySociety)", "rural", schema::RURAL_URBAN, str::to_owned))
                    label.check { input #verified-only type="checkbox" name="verified" value="true"; " Verified by the LA only" }
                    button #clear type="button" { "Clear all" }
                }
                section #similar-list aria-labelledby="similar-h" hidden {
                    h2 #similar-h { "Statistical neighbours" }
                    ol {}
                }
            }
            div #map role="region" aria-label="Map of local authorities; use the search or the list view to select one with the keyboard" {}
            div #legend role="group" aria-label="Legend" {}
            section #list-view aria-labelledby="list-h" hidden {
                h2 #list-h { "Local authorities" }
                table {
                    caption #list-caption { "Local authorities matching the filters" }
                    thead { tr {
                        th scope="col" aria-sort="ascending" { button type="button" data-sort="name" { "Name" } }
                        th scope="col" { button type="button" data-sort="region" { "Region" } }
                        th scope="col" { button type="button" data-sort="la_type" { "Type" } }
                        th scope="col" { button type="button" data-sort="partnership_count" { "Partnerships" } }
                        th scope="col" { button type="button" data-sort="verified" { "Verified" } }
                    } }
                    tbody {}
                }
            }
        }
        dialog #share aria-labelledby="share-h" {
            h2 #share-h { "Share or embed this map" }
            label for="share-url" { "Link to this view" }
            input #share-url type="text" readonly;
            label for="share-embed" { "Embed on your site" }
            textarea #share-embed rows="4" readonly {}
            form method="dialog" { button { "Close" } }
        }
        footer.data-note { "Data as of " span #data-as-of { (ds.data_as_of.clone().unwrap_or_default()) } ". " a href="/tiles.json" { "TileJSON" } " · " a href="/contribute" { "Suggest a correction" } }
    };
    html_response(
        StatusCode::OK,
        shell(
            "partnership-map: area-based education partnerships in England",
            false,
            &Day {
                today: &state.today(),
                date: q.date.as_deref(),
            },
            &head,
            &body,
        ),
        Framing::Deny,
    )
}

/// `GET /embed?measure=…&role=…`: the map alone, for iframes on any site.
#[utoipa::path(get, path = "/embed", tag = "pages", summary = "The map alone, for iframes on any site (postMessage protocol: README)", params(("la" = Option<String>, Query, description = "Selected LA (GSS code)"), ("measure" = Option<String>, Query, description = "`count`, `role` or `verified`"), ("form" = Option<String>, Query, description = "Forms, comma-separated"), ("focus" = Option<String>, Query, description = "Focus tags, comma-separated"), ("phase" = Option<String>, Query, description = "Phases, comma-separated"), ("role" = Option<String>, Query, description = "LA roles, comma-separated"), ("region" = Option<String>, Query, description = "Regions, comma-separated"), ("la_type" = Option<String>, Query, description = "LA types, comma-separated"), ("fsm" = Option<String>, Query, description = "`low`, `mid`, `high`, comma-separated"), ("rural" = Option<String>, Query, description = "Rurality classes, comma-separated"), ("verified" = Option<String>, Query, description = "`1` or `0`"), ("similar" = Option<String>, Query, description = "Outline this LA and its statistical neighbours"), ("date" = Option<String>, Query, description = "The day to map, `YYYY-MM-DD` (default today); the page ignores anything else, and a day with no map")), responses((status = 200, description = "HTML", body = String, content_type = "text/html; charset=utf-8")))]
pub async fn embed(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    let mut q = map_query(raw.as_deref());
    let (ds, date) = page_dataset(&state, q.date.as_deref()).await;
    q.date = date;
    let measure = q.measure;
    let head = preview_head(&state, &headers, |base| {
        preview::england(&ds, base, "/embed", measure)
    });
    let body = html! {
        main #main {
            div #map role="region" aria-label="Map of local authorities" {}
            div #legend role="group" aria-label="Legend" {}
            a.open-full #open-full href="/" target="_blank" rel="noopener" { "Open the full map" }
        }
    };
    // Any site may frame the embed; its policy is otherwise the same strict one (no inline
    // script). Host pages talk to it with postMessage (`web/static/map.js`, README).
    html_response(
        StatusCode::OK,
        shell(
            "partnership-map (embedded)",
            true,
            &Day {
                today: &state.today(),
                date: q.date.as_deref(),
            },
            &head,
            &body,
        ),
        Framing::Anyone,
    )
}
