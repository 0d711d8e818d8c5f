//! `GET /compare?la={code}[&with=code,…]`: an LA side by side with its statistical neighbours
//! (or up to 12 chosen LAs), server-rendered so it works without JavaScript, prints cleanly and
//! turns its rows into cards on small screens; and `GET /api/compare` (JSON, or CSV with
//! `format=csv`) with the same content. The comparison itself is `crate::compare`.

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use maud::{DOCTYPE, Markup, html};

use super::conditional::{json_with_etag, revalidated};
use super::meta::base_url;
use super::pages::{Framing, head_basics, html_response};
use super::preview;
use super::state::AppState;
use crate::compare::{self, CellValue, Column, CompareError, Comparison, Group, Selection};
use crate::dataset::Dataset;
use crate::downloads::partnership_json;
use crate::error::AppError;
use crate::tileset::ATTRIBUTION;

/// The checked query of both endpoints.
struct CompareQuery {
    la: Option<String>,
    with: Option<Vec<String>>,
    csv: bool,
    /// `?date=`: compare on the map of that day.
    date: Option<String>,
}

fn parse_query(raw: Option<&str>, api: bool) -> Result<CompareQuery, CompareError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw.unwrap_or(""))
        .map_err(|e| CompareError::BadParameter(format!("the query string is malformed: {e}")))?;
    let mut q = CompareQuery {
        la: None,
        with: None,
        csv: false,
        date: None,
    };
    let mut format_seen = false;
    for (k, v) in pairs {
        match k.as_str() {
            "la" if q.la.is_some() => {
                return Err(CompareError::BadParameter(
                    "la= is given twice; compare one LA at a time".to_owned(),
                ));
            }
            "la" => q.la = Some(v),
            "with" => q.with.get_or_insert_with(Vec::new).push(v),
            "date" if q.date.is_none() => q.date = Some(v),
            "format" if api && !format_seen => {
                format_seen = true;
                q.csv = match v.as_str() {
                    "json" => false,
                    "csv" => true,
                    other => {
                        return Err(CompareError::BadParameter(format!(
                            "format={:?} is not json or csv",
                            other.chars().take(20).collect::<String>()
                        )));
                    }
                };
            }
            other => {
                return Err(CompareError::BadParameter(format!(
                    "unknown or repeated parameter {:?} (this takes la, with, date{})",
                    other.chars().take(20).collect::<String>(),
                    if api { ", format" } else { "" }
                )));
            }
        }
    }
    Ok(q)
}

fn select(ds: &Dataset, q: &CompareQuery) -> Result<Selection, CompareError> {
    compare::select(ds, q.la.as_deref(), q.with.as_deref())
}

/// `GET /api/compare?la={code}[&with=…][&format=csv]`.
///
/// # Errors
/// 404 (JSON) for an unknown `la`; 400 (JSON) for a missing `la`, an unknown or malformed
/// `with` code, more than 12 LAs, an unknown parameter or format.
#[utoipa::path(get, path = "/api/compare", tag = "api", summary = "Compare an LA with its statistical neighbours or chosen LAs", params(("la" = String, Query, description = "GSS code of the LA compared"), ("with" = Option<String>, Query, description = "Up to 12 GSS codes, comma-separated, each once (instead of the statistical neighbours)"), ("format" = Option<String>, Query, description = "`csv` for the table as CSV"), super::query::DateQuery, ("If-None-Match" = Option<String>, Header, description = "An ETag from an earlier response: 304 when it still matches")), responses((status = 200, description = "The comparison", content((compare::ComparisonJson = "application/json"), (String = "text/csv; charset=utf-8")), headers(("ETag" = String, description = "Weak"))), (status = 304, description = "If-None-Match matched"), (status = 400, description = "A missing la, a malformed with code, too many LAs, an unknown or repeated parameter, a malformed date", body = crate::error::ErrorBody), (status = 404, description = "No LA with a code in la or with on the map of that day, or a day before the records start", body = crate::error::ErrorBody)))]
pub async fn api(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let q = parse_query(raw.as_deref(), true)?;
    if let Some(with) = q.with.as_deref() {
        compare::check_list(with, compare::MAX_CHOSEN)?;
    }
    let ds = state.dataset_on(q.date.as_deref()).await?;
    let sel = select(&ds, &q)?;
    let cmp = compare::compare(&ds, &sel);
    if !q.csv {
        let dated = date_suffix(q.date.as_deref());
        let query = format!("{}{dated}", cmp.query(&ds));
        let links = compare::CompareLinks {
            html: format!("/compare?{query}"),
            csv: format!("/api/compare?{query}&format=csv"),
            picture: format!("/render/england.png?{}{dated}", cmp.picture_query(&ds)),
        };
        let body = compare::to_json(&ds, &cmp, |p| partnership_json(&ds, p), links);
        return Ok(json_with_etag(&headers, &body));
    }
    let csv = compare::to_csv(&ds, &cmp);
    let name = format!(
        "compare-{}-{}.csv",
        ds.las[cmp.subject].code,
        ds.data_as_of.as_deref().unwrap_or(&ds.version)
    );
    let mut r = revalidated(&headers, csv, "text/csv; charset=utf-8");
    if r.status() == StatusCode::OK
        && let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\""))
    {
        r.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(r)
}

/// `GET /compare?la={code}[&with=…]`: the comparison page; without `la`, a form to choose one.
#[utoipa::path(get, path = "/compare", tag = "pages", summary = "The comparison view (without la: a form to choose one)", params(("la" = Option<String>, Query, description = "GSS code"), ("with" = Option<String>, Query, description = "GSS codes, comma-separated or repeated, as the page's form sends them: empty items and repeats are dropped, no other LA means the statistical neighbours, and more than 12 compare the first 12 (the page says so)"), super::query::DateQuery), responses((status = 200, description = "HTML", body = String, content_type = "text/html; charset=utf-8"), (status = 400, description = "A bad parameter (HTML page saying which)", body = String, content_type = "text/html; charset=utf-8"), (status = 404, description = "No LA with this code (HTML)", body = String, content_type = "text/html; charset=utf-8")))]
pub async fn page(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    let base = base_url(&state, &headers).ok();
    let q = match parse_query(raw.as_deref(), false) {
        Ok(q) => q,
        Err(e) => return error_page(&state.dataset(), &e.into(), None, None),
    };
    // `?date=`: the comparison on the map of that day (its LAs, data and neighbours).
    let ds = match state.dataset_on(q.date.as_deref()).await {
        Ok(ds) => ds,
        Err(e) => return error_page(&state.dataset(), &e, None, None),
    };
    let day = q.date.as_deref();
    if q.la.as_deref().is_none_or(str::is_empty) {
        // No LA chosen yet: the chooser, unless a `with` given holds something that is no
        // LA's code.
        if let Some(with) = q.with.as_deref()
            && let Err(e) = compare::with_codes(&ds, with)
        {
            return error_page(&ds, &e.into(), None, day);
        }
        return html_response(
            StatusCode::OK,
            shell(
                &ds,
                "Compare local authorities",
                None,
                &html! {
                    h1 { "Compare local authorities" }
                    p.lede { "Choose a local authority to see how it compares with its statistical neighbours." }
                    (dated_note(day))
                    (chooser(&ds, None, day))
                },
            ),
            Framing::SameOrigin,
        );
    }
    let (sel, left_out) = match compare::select_from_form(&ds, q.la.as_deref(), q.with.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            let subject =
                q.la.as_deref()
                    .and_then(|c| compare::select(&ds, Some(c), None).ok());
            return error_page(&ds, &e.into(), subject.map(|s| s.subject), day);
        }
    };
    let cmp = compare::compare(&ds, &sel);
    let query = format!("{}{}", cmp.query(&ds), date_suffix(day));
    let preview = base
        .as_deref()
        .map(|b| preview::compare(&ds, b, &cmp, &date_suffix(day)));
    let la = &ds.las[cmp.subject];
    html_response(
        StatusCode::OK,
        shell(
            &ds,
            &format!("How {} compares", la.name),
            preview.as_ref(),
            &html! {
                @if left_out > 0 {
                    div.notice role="status" {
                        p { "You chose " (left_out + compare::MAX_CHOSEN) " local authorities; this compares the first " (compare::MAX_CHOSEN) ", the most at a time." }
                    }
                }
                (comparison(&ds, &cmp, &query, base.as_deref(), day))
            },
        ),
        Framing::SameOrigin,
    )
}

/// The chooser with what is wrong, and the status the API gives the same mistake; a `date=`
/// with no map (malformed, or before the records start) gives today's chooser.
fn error_page(ds: &Dataset, e: &AppError, subject: Option<usize>, day: Option<&str>) -> Response {
    let body = html! {
        h1 { "Compare local authorities" }
        div.error-summary role="alert" {
            p { strong { "This comparison cannot be shown: " } (e.to_string()) }
        }
        (chooser(ds, subject, day))
    };
    html_response(
        e.status(),
        shell(ds, "Compare local authorities", None, &body),
        Framing::SameOrigin,
    )
}

/// `&date=…` for the links of a dated comparison; nothing for today's.
fn date_suffix(day: Option<&str>) -> String {
    day.map_or_else(String::new, |d| format!("&date={d}"))
}

/// Says which day's map a dated page compares on.
fn dated_note(day: Option<&str>) -> Markup {
    html! {
        @if let Some(d) = day {
            p.dated role="note" { "On the map of " strong { (d) } ": the local authorities in force that day, and the data as published then. " a href="/compare" { "Compare on today's map" } }
        }
    }
}

/// The page skeleton: site header, wide main column, footer with attribution and data date.
fn shell(ds: &Dataset, title: &str, preview: Option<&preview::Preview>, body: &Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en-GB" {
            head {
                (head_basics(&format!("{title} · partnership-map")))
                @if let Some(p) = preview { (preview::tags(p)) }
                link rel="stylesheet" href="/static/site.css";
                link rel="stylesheet" href="/static/compare.css";
                link rel="stylesheet" href="/static/print.css" media="print";
            }
            body.compare-page {
                a.skip href="#main" { "Skip to content" }
                header.site { a href="/" { "partnership-map" } " · area-based education partnerships in England" }
                main #main { (body) }
                footer.site {
                    p { "Data as of " (ds.data_as_of.as_deref().unwrap_or("unknown")) " (data version " (ds.version) "). " (ATTRIBUTION) }
                }
            }
        }
    }
}

/// A form to pick the LA (and go).
fn chooser(ds: &Dataset, selected: Option<usize>, day: Option<&str>) -> Markup {
    let mut las: Vec<(usize, &str)> = ds
        .las
        .iter()
        .enumerate()
        .map(|(i, l)| (i, l.name.as_str()))
        .collect();
    las.sort_by(|a, b| a.1.cmp(b.1));
    html! {
        form.chooser method="get" action="/compare" {
            @if let Some(d) = day { input type="hidden" name="date" value=(d); }
            div.field {
                label for="c-la" { "Local authority" }
                select #c-la name="la" {
                    @for (i, name) in &las {
                        option value=(ds.las[*i].code) selected[selected == Some(*i)] { (name) }
                    }
                }
            }
            button type="submit" { "Compare with its statistical neighbours" }
        }
    }
}

fn column_heading(ds: &Dataset, c: &Column) -> Markup {
    let la = &ds.las[c.la];
    html! {
        a href=(format!("#ev-{}", la.code)) { (la.name) }
        br;
        span.rank {
            @if c.subject { "Your LA" }
            @else if let Some(r) = c.rank {
                "Neighbour " (r) @if let Some(cl) = &c.closeness { " · " (cl.to_lowercase()) }
            }
            @else { "Chosen" }
        }
    }
}

/// The evidence references of a cell: the numbers of the partnerships behind it in that LA's
/// evidence list, each a link to the partnership.
fn refs(ds: &Dataset, col: &Column, partnerships: &[usize]) -> Markup {
    let la = &ds.las[col.la];
    let numbered: Vec<(usize, &str)> = partnerships
        .iter()
        .filter_map(|p| {
            ds.la_partnerships[col.la]
                .iter()
                .position(|q| q == p)
                .map(|k| (k + 1, ds.partnerships[*p].name.as_str()))
        })
        .collect();
    html! {
        @if !numbered.is_empty() {
            " "
            span.refs {
                "("
                @for (j, (k, name)) in numbered.iter().enumerate() {
                    @if j > 0 { ", " }
                    a href=(format!("#p-{}-{k}", la.code)) title=(name) aria-label=(format!("Evidence {k}: {name}")) { (k) }
                }
                ")"
            }
        }
    }
}

fn cell(ds: &Dataset, col: &Column, c: &compare::Cell) -> Markup {
    let la = &ds.las[col.la];
    let shown = match &c.value {
        CellValue::Flag(true) => "Yes".to_owned(),
        CellValue::Flag(false) => "No".to_owned(),
        CellValue::Count(n) => n.to_string(),
        CellValue::Number(None) | CellValue::Text(None) => "–".to_owned(),
        other => other.plain(),
    };
    let muted = !c.value.present() && matches!(c.value, CellValue::Flag(_) | CellValue::Count(_));
    html! {
        td.subject[col.subject] data-la=(la.name) {
            @if c.role_evidence && c.value.present() {
                a.v href=(format!("#role-{}", la.code)) aria-label=(format!("Yes: see {}'s role", la.name)) { (shown) }
            } @else {
                span.v.none[muted] { (shown) }
            }
            (refs(ds, col, &c.partnerships))
        }
    }
}

fn source_list(urls: &[String], date: &str) -> Markup {
    html! {
        ul.sources {
            @for u in urls {
                li { a href=(u) rel="noopener noreferrer" { (u) } " (evidence: " (date) ")" }
            }
        }
    }
}

fn words(s: &str) -> String {
    s.replace('_', " ")
}

fn evidence(ds: &Dataset, col: &Column) -> Markup {
    let la = &ds.las[col.la];
    let role = ds.la_role[col.la].map(|r| &ds.roles[r]);
    html! {
        article.evidence id=(format!("ev-{}", la.code)) {
            h3 {
                (la.name)
                @if col.subject { " (your LA)" }
                @else if let Some(r) = col.rank { " (neighbour " (r) ")" }
            }
            p.meta {
                (la.region_name) " · " (words(&la.la_type)) " · "
                @if la.verified { "verified by the LA" @if let Some(d) = &la.verified_date { " on " (d) } }
                @else { "not yet verified by the LA" }
                " · " a href=(format!("/?la={}", la.code)) { "on the map" }
            }
            div.role id=(format!("role-{}", la.code)) {
                h4 { "The LA's role" }
                @if let Some(r) = role {
                    @let flags: Vec<&str> = [(r.funder, "funder"), (r.convener, "convener"), (r.deliverer, "deliverer"), (r.traded_service, "traded service")]
                        .iter().filter(|(on, _)| *on).map(|(_, w)| *w).collect();
                    p { "Roles: " @if flags.is_empty() { "none flagged" } @else { (flags.join(", ")) } "." }
                    p { (r.summary) }
                    (source_list(&r.source_urls, &r.evidence_date))
                } @else {
                    p.hint { "No LA-role entry yet." }
                }
            }
            h4 { "Partnerships (" (ds.la_partnerships[col.la].len()) ")" }
            @if ds.la_partnerships[col.la].is_empty() {
                p.hint { "None recorded yet." }
            } @else {
                ol.partnerships {
                    @for (k, &pi) in ds.la_partnerships[col.la].iter().enumerate() {
                        @let p = &ds.partnerships[pi];
                        li id=(format!("p-{}-{}", la.code, k + 1)) {
                            strong.pname { (p.name) }
                            p.meta {
                                (compare::form_label(&p.form)) " · phases: " (p.phases.iter().map(|x| compare::phase_label(x)).collect::<Vec<_>>().join(", "))
                                " · focus: " (p.focus.iter().map(|x| compare::focus_label(x)).collect::<Vec<_>>().join(", "))
                                @if p.la_codes.len() > 1 { " · covers " (p.la_codes.len()) " LAs" }
                            }
                            @if let Some(w) = &p.website { p { "Website: " a href=(w) rel="noopener noreferrer" { (w) } } }
                            (source_list(&p.source_urls, &p.evidence_date))
                        }
                    }
                }
            }
        }
    }
}

/// The whole comparison page body.
#[allow(clippy::too_many_lines)]
fn comparison(
    ds: &Dataset,
    cmp: &Comparison,
    query: &str,
    base: Option<&str>,
    day: Option<&str>,
) -> Markup {
    let la = &ds.las[cmp.subject];
    let others = cmp.others_its();
    let dated = date_suffix(day);
    let picture = format!("/render/england.png?w=800&{}{dated}", cmp.picture_query(ds));
    let groups = [
        Group::Role,
        Group::Form,
        Group::Focus,
        Group::Phase,
        Group::Status,
        Group::Context,
    ];
    let ncols = cmp.columns.len();
    let chosen: Vec<usize> = cmp.columns[1..].iter().map(|c| c.la).collect();
    let mut neighbour_idx: Vec<(usize, &str)> = la
        .stat_neighbours
        .iter()
        .enumerate()
        .filter_map(|(r, c)| {
            ds.las.iter().position(|l| &l.code == c).map(|i| {
                (
                    i,
                    la.stat_neighbours_closeness
                        .get(r)
                        .map_or("", String::as_str),
                )
            })
        })
        .collect();
    neighbour_idx.dedup();
    let mut all: Vec<(usize, &str)> = ds
        .las
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != cmp.subject && !neighbour_idx.iter().any(|(n, _)| n == i))
        .map(|(i, l)| (i, l.name.as_str()))
        .collect();
    all.sort_by(|a, b| a.1.cmp(b.1));
    let extra: Vec<usize> = chosen
        .iter()
        .copied()
        .filter(|i| !neighbour_idx.iter().any(|(n, _)| n == i))
        .collect();
    html! {
        nav.crumbs aria-label="Back" {
            a href=(format!("/?la={}&similar={}{dated}", la.code, la.code)) { "← Back to the map" }
        }
        (dated_note(day))
        h1 { "How " (la.name) " compares with " (others) }
        p.lede {
            @if cmp.neighbours {
                "Its 10 DfE statistical neighbours are the local authorities most like it on pupils' and families' characteristics; they are shown in rank order, the closest first."
            } @else {
                "The local authorities you chose, statistical neighbours first in rank order."
            }
            " Data as of " strong.data-date { (ds.data_as_of.as_deref().unwrap_or("unknown")) } "."
        }
        figure.map-picture {
            img src=(picture) width="800" alt=(format!("Map of England: {} outlined in black, {} in orange", la.name, others));
            figcaption { (la.name) " (black outline) and " (others) " (orange outline), coloured by number of partnerships." }
        }
        section #differences aria-labelledby="diff-h" {
            h2 #diff-h { "What these LAs have that yours does not" }
            @if cmp.differences.is_empty() {
                p { "Nothing stands out: every role, form, focus and phase that "
                    @if cmp.others() <= 3 { "any" } @else { "two or more" }
                    " of them have, " (la.name) " has too." }
            } @else {
                ul.differences {
                    @for d in &cmp.differences {
                        li data-key=(d.key) {
                            (d.text)
                            " "
                            span.who {
                                "("
                                @for (j, &c) in d.have.iter().enumerate() {
                                    @if j > 0 { ", " }
                                    @let other = &ds.las[cmp.columns[c].la];
                                    a href=(format!("#ev-{}", other.code)) { (other.name) }
                                }
                                ")"
                            }
                        }
                    }
                }
            }
        }
        section #side-by-side aria-labelledby="table-h" {
            h2 #table-h { "Side by side" }
            p.hint.screen-only { "Numbers in brackets are the partnerships behind a figure: follow one to its evidence below." }
            div.table-wrap tabindex="0" role="region" aria-labelledby="table-caption" {
                table.cmp {
                    caption #table-caption { (la.name) " and " (others) ", data as of " (ds.data_as_of.as_deref().unwrap_or("unknown")) }
                    thead {
                        tr {
                            td.corner {}
                            @for c in &cmp.columns {
                                th scope="col" .subject[c.subject] { (column_heading(ds, c)) }
                            }
                        }
                    }
                    @for g in groups {
                        @let rows: Vec<&compare::Row> = cmp.rows.iter().filter(|r| r.group == g).collect();
                        @if !rows.is_empty() {
                            tbody data-group=(g.key()) {
                                tr.group { th scope="colgroup" colspan=(ncols + 1) { (g.title()) } }
                                @for r in rows {
                                    tr data-key=(r.key) {
                                        th scope="row" { (r.label) }
                                        @for (c, col) in r.cells.iter().zip(&cmp.columns) {
                                            (cell(ds, col, c))
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            p.hint { "Focus tags no compared LA has are left out. Context figures: DfE, ONS and DWP (Open Government Licence v3.0); rurality: mySociety (CC BY 4.0). \"No\" for a role means the sources read do not show it." }
        }
        section #downloads.screen-only aria-labelledby="dl-h" {
            h2 #dl-h { "Take it with you" }
            ul {
                li { a #download-csv href=(format!("/api/compare?{query}&format=csv")) download { "Download this comparison (CSV)" } }
                li { a href=(format!("/api/compare?{query}")) { "The same as JSON" } }
                li { a href=(picture.replace("w=800", "w=1600")) { "The map picture (PNG)" } }
            }
        }
        section #choose.screen-only aria-labelledby="choose-h" {
            h2 #choose-h { "Compare with other LAs" }
            form method="get" action="/compare" {
                input type="hidden" name="la" value=(la.code);
                @if let Some(d) = day { input type="hidden" name="date" value=(d); }
                fieldset {
                    legend { "Statistical neighbours of " (la.name) }
                    @for (i, closeness) in &neighbour_idx {
                        label.check {
                            input type="checkbox" name="with" value=(ds.las[*i].code) checked[chosen.contains(i)];
                            " " (ds.las[*i].name) @if !closeness.is_empty() { span.hint { " (" (closeness.to_lowercase()) ")" } }
                        }
                    }
                    @for i in &extra {
                        label.check {
                            input type="checkbox" name="with" value=(ds.las[*i].code) checked;
                            " " (ds.las[*i].name)
                        }
                    }
                }
                div.field {
                    label for="add-la" { "Add another local authority" }
                    select #add-la name="with" {
                        option value="" { "(none)" }
                        @for (i, name) in &all {
                            @if !extra.contains(i) { option value=(ds.las[*i].code) { (name) } }
                        }
                    }
                }
                p.hint { "Up to " (compare::MAX_CHOSEN) " at a time." }
                button type="submit" { "Update the comparison" }
                " "
                a href=(format!("/compare?la={}{dated}", la.code)) { "Back to the 10 statistical neighbours" }
            }
        }
        section #evidence aria-labelledby="ev-h" {
            h2 #ev-h { "Evidence" }
            @for c in &cmp.columns { (evidence(ds, c)) }
        }
        p.print-only.printed-from {
            "Printed from " (base.map_or_else(String::new, |b| format!("{b}/compare?{query}")))
            " · data as of " (ds.data_as_of.as_deref().unwrap_or("unknown"))
        }
    }
}
