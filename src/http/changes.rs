//! The public change history: `GET /api/changes?la=&since=`, `GET /api/changes/{id}` and the
//! Atom 1.0 feeds `GET /changes.atom[?la=]`.
//!
//! Public entries carry the time, LAs, kind, summary, the fields changed (old and new) and the
//! reason: never an editor's name or token, never a submitter's name or email, never the
//! reference of the submission a change settled.

use atom_syndication::{Content, Entry, Feed, Link, Person, Text};
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::conditional::{json_with_etag, revalidated};
use super::meta::base_url;
use super::query::ApiQuery;
use super::state::AppState;
use crate::changes::{LoggedChange, PublicChange};
use crate::dataset::Dataset;
use crate::error::AppError;
use utoipa::ToSchema;

/// Default and largest page of changes.
const DEFAULT_LIMIT: i64 = 100;
const MAX_LIMIT: i64 = 1000;
/// Entries in a feed.
const FEED_ENTRIES: i64 = 50;

/// Query of the change lists.
#[derive(Debug, Deserialize, Default)]
pub struct ListQuery {
    /// LA code.
    pub la: Option<String>,
    /// A date (`YYYY-MM-DD`) or RFC 3339 time.
    pub since: Option<String>,
    /// 1–1000 (default 100).
    pub limit: Option<String>,
}

/// Which changes to list.
#[derive(Debug, Clone, Default)]
pub struct ChangeQuery {
    /// Only changes concerning this LA.
    pub la: Option<String>,
    /// Only changes made at or after this RFC 3339 time.
    pub since: Option<String>,
    /// At most this many, newest first.
    pub limit: i64,
}

impl ChangeQuery {
    /// The matching changes, newest first (pure).
    pub fn select<'a>(
        &'a self,
        newest_first: impl Iterator<Item = &'a LoggedChange> + 'a,
    ) -> impl Iterator<Item = &'a LoggedChange> + 'a {
        newest_first
            .filter(|c| {
                self.la
                    .as_ref()
                    .is_none_or(|la| c.entry.la_codes.contains(la))
            })
            .filter(|c| {
                self.since
                    .as_deref()
                    .is_none_or(|s| c.created_at.as_str() >= s)
            })
            .take(usize::try_from(self.limit).unwrap_or(0))
    }
}

/// Check the query.
///
/// # Errors
/// 400 for a bad date or limit, 404 for an unknown LA.
pub fn store_query(ds: &Dataset, q: &ListQuery) -> Result<ChangeQuery, AppError> {
    let la = match q.la.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(code) => {
            // Any LA of the timeline: an abolished council's history (and feed) stays
            // readable, and a council about to be created has a feed to subscribe to.
            if ds.any_la(code).is_none() {
                return Err(AppError::ApiNotFound(format!(
                    "no local authority with code {:?}",
                    code.chars().take(20).collect::<String>()
                )));
            }
            Some(code.to_owned())
        }
    };
    let since = match q.since.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(s) => {
            if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
                Some(format!("{d}T00:00:00Z"))
            } else if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
                Some(
                    t.with_timezone(&chrono::Utc)
                        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                )
            } else {
                return Err(AppError::ApiBadRequest(format!(
                    "since must be a date like 2026-11-01 or an RFC 3339 time, not {:?}",
                    s.chars().take(40).collect::<String>()
                )));
            }
        }
    };
    let limit = match q.limit.as_deref() {
        None | Some("") => DEFAULT_LIMIT,
        Some(s) => s
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| {
                AppError::ApiBadRequest(format!(
                    "limit must be a whole number from 1 to {MAX_LIMIT}"
                ))
            })?,
    };
    Ok(ChangeQuery { la, since, limit })
}

/// A change as the public sees it.
#[must_use]
pub fn public(ds: &Dataset, c: &LoggedChange) -> PublicChange {
    c.public(
        ds.la_names(&c.entry.la_codes)
            .into_iter()
            .map(str::to_owned)
            .collect(),
    )
}

/// `GET /api/changes`.
#[derive(Debug, Serialize, ToSchema)]
pub struct PublicChangeList {
    /// Version of the data served.
    pub data_version: String,
    /// Number of changes listed.
    pub count: usize,
    /// Newest first.
    pub changes: Vec<PublicChange>,
}

/// `GET /api/changes?la={code}&since={date}&limit=`: newest first, from memory (it keeps
/// working while the database is down).
///
/// # Errors
/// 400/404 for bad parameters.
#[utoipa::path(get, path = "/api/changes", tag = "history", summary = "The public change history, newest first", params(("la" = Option<String>, Query, description = "Only changes concerning this LA (GSS code)"), ("since" = Option<String>, Query, description = "Only changes at or after this date (`2026-11-01`) or RFC 3339 time"), ("limit" = Option<u16>, Query, description = "At most this many (1–1000, default 100)", minimum = 1, maximum = 1000), ("If-None-Match" = Option<String>, Header, description = "An ETag from an earlier response: 304 when it still matches")), responses((status = 200, description = "Changes", body = PublicChangeList, headers(("ETag" = String, description = "Weak"))), (status = 304, description = "If-None-Match matched"), (status = 400, description = "A bad since or limit", body = crate::error::ErrorBody), (status = 404, description = "No LA with this code", body = crate::error::ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Response, AppError> {
    let ds = state.dataset();
    let query = store_query(&ds, &q)?;
    let log = state.steward.log_status();
    let changes: Vec<PublicChange> = query
        .select(log.published())
        .map(|c| public(&ds, c))
        .collect();
    Ok(json_with_etag(
        &headers,
        &PublicChangeList {
            data_version: ds.version.clone(),
            count: changes.len(),
            changes,
        },
    ))
}

/// `GET /api/changes/{id}`: one change.
///
/// # Errors
/// 400 for a bad id, 404 for an unknown one.
#[utoipa::path(get, path = "/api/changes/{id}", tag = "history", summary = "One published change", params(("id" = i64, Path, description = "Change id", minimum = 1), ("If-None-Match" = Option<String>, Header, description = "An ETag from an earlier response: 304 when it still matches")), responses((status = 200, description = "The change", body = crate::changes::PublicChange, headers(("ETag" = String, description = "Weak"))), (status = 304, description = "If-None-Match matched"), (status = 400, description = "Not a change id", body = crate::error::ErrorBody), (status = 404, description = "No such change", body = crate::error::ErrorBody)))]
pub async fn one(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let n: i64 = id
        .parse()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| AppError::ApiBadRequest(format!("{id:?} is not a change id")))?;
    let log = state.steward.log_status();
    let c = log
        .published()
        .find(|c| c.id == n)
        .ok_or_else(|| AppError::ApiNotFound(format!("no change {n}")))?;
    Ok(json_with_etag(&headers, &public(&state.dataset(), c)))
}

fn time(s: &str) -> atom_syndication::FixedDateTime {
    chrono::DateTime::parse_from_rfc3339(s).unwrap_or_default()
}

fn show(v: &Value) -> String {
    match v {
        Value::Null => "(empty)".to_owned(),
        Value::String(s) => s.clone(),
        Value::Array(a) => a
            .iter()
            .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_owned))
            .collect::<Vec<_>>()
            .join(", "),
        other => other.to_string(),
    }
}

/// "A", "A and B", "A, B and C".
fn and_list(names: &[&str]) -> String {
    match names {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// `2027-04-01` as "1 April 2027" (the text unchanged if it is not a date).
fn long_day(d: &str) -> String {
    crate::clock::parse_day(d).map_or_else(|_| d.to_owned(), |d| d.format("%-d %B %Y").to_string())
}

/// A reorganisation seen from one feed: the abolished LA, the vesting day and the new LAs.
struct Reorganised<'a> {
    old: &'a crate::model::LocalAuthority,
    day: &'a str,
    new: Vec<&'a crate::model::LocalAuthority>,
}

/// The reorganisations that abolished an LA, from the timeline (pure).
fn reorganisations(ds: &Dataset) -> Vec<Reorganised<'_>> {
    ds.all_las
        .iter()
        .filter(|l| !l.replaced_by.is_empty())
        .filter_map(|old| {
            Some(Reorganised {
                old,
                day: old.valid_to.as_deref()?,
                new: old
                    .replaced_by
                    .iter()
                    .filter_map(|c| ds.any_la(c))
                    .collect(),
            })
        })
        .collect()
}

/// What a feed says about the reorganisation of its LA (or of none): a subtitle and links
/// to the feeds of the LAs before or after it, each with a title.
fn lineage(ds: &Dataset, base: &str, la: &str, today: &str) -> (Option<String>, Vec<Link>) {
    let mut lines = Vec::new();
    let mut links = Vec::new();
    let related = |code: &str, title: String| {
        let mut l = Link::default();
        l.set_href(format!("{base}/changes.atom?la={code}"));
        l.set_rel("related");
        l.set_mime_type(Some("application/atom+xml".to_owned()));
        l.set_title(Some(title));
        l
    };
    for r in reorganisations(ds) {
        let names: Vec<&str> = r.new.iter().map(|l| l.name.as_str()).collect();
        let when = long_day(r.day);
        if r.old.code == la {
            let verb = if today >= r.day {
                "Replaced"
            } else {
                "To be replaced"
            };
            lines.push(format!("{verb} by {} on {when}.", and_list(&names)));
            for n in &r.new {
                links.push(related(&n.code, format!("{} (from {when})", n.name)));
            }
        } else if r.new.iter().any(|n| n.code == la) {
            let verb = if today >= r.day {
                "Replaced"
            } else {
                "Replaces"
            };
            let last = crate::clock::day_before(r.day).map_or_else(String::new, |d| long_day(&d));
            lines.push(format!(
                "{verb} {} on {when} (in force until {last}).",
                r.old.name
            ));
            links.push(related(
                &r.old.code,
                format!("{} (until {last})", r.old.name),
            ));
        }
    }
    ((!lines.is_empty()).then(|| lines.join(" ")), links)
}

/// One entry per reorganisation in force by `today` that concerns `la` (or every one, for the
/// feed of all changes): "Surrey replaced by East Surrey and West Surrey", dated at the
/// midnight it took effect in England, linking to the new LAs on the map of that day.
fn reorganisation_entries(ds: &Dataset, base: &str, la: Option<&str>, today: &str) -> Vec<Entry> {
    reorganisations(ds)
        .into_iter()
        .filter(|r| today >= r.day)
        .filter(|r| la.is_none_or(|c| r.old.code == c || r.new.iter().any(|n| n.code == c)))
        .filter_map(|r| {
            let day = crate::clock::parse_day(r.day).ok()?;
            let at = chrono::DateTime::from_timestamp(crate::clock::london_midnight(day), 0)?
                .with_timezone(&chrono_tz::Europe::London)
                .fixed_offset();
            let names: Vec<&str> = r.new.iter().map(|l| l.name.as_str()).collect();
            let mut e = Entry::default();
            e.set_id(format!(
                "{base}/api/las/{}?date={}#replaced",
                r.old.code, r.day
            ));
            e.set_title(Text::plain(format!(
                "{} replaced by {}",
                r.old.name,
                and_list(&names)
            )));
            e.set_updated(at);
            e.set_published(Some(at));
            let mut links = vec![{
                let mut l = Link::default();
                l.set_href(format!("{base}/?la={}&date={}", r.old.code, r.day));
                l.set_rel("alternate");
                l.set_mime_type(Some("text/html".to_owned()));
                l
            }];
            for n in &r.new {
                let mut l = Link::default();
                l.set_href(format!("{base}/api/las/{}?date={}", n.code, r.day));
                l.set_rel("related");
                l.set_mime_type(Some("application/json".to_owned()));
                l.set_title(Some(n.name.clone()));
                links.push(l);
            }
            e.set_links(links);
            let mut content = Content::default();
            content.set_content_type(Some("text".to_owned()));
            content.set_value(Some(format!(
                "On {} {} was abolished and replaced by {}. Their partnerships and LA role were \
                 carried across, marked as inherited until editors confirm them for the new \
                 councils.\n",
                long_day(r.day),
                r.old.name,
                and_list(&names)
            )));
            e.set_content(Some(content));
            let mut cat = atom_syndication::Category::default();
            cat.set_term("la.reorganised");
            e.set_categories(vec![cat]);
            Some(e)
        })
        .collect()
}

/// The feed as Atom 1.0 XML (pure). `today` (`YYYY-MM-DD`, England) decides which
/// reorganisations have taken effect.
#[must_use]
pub fn feed(
    ds: &Dataset,
    base: &str,
    la: Option<&str>,
    today: &str,
    items: &[LoggedChange],
) -> String {
    let la_name = la.and_then(|c| ds.name_of(c)).map(str::to_owned);
    let self_url = match la {
        Some(c) => format!("{base}/changes.atom?la={c}"),
        None => format!("{base}/changes.atom"),
    };
    let page = match la {
        // An LA not in force today opens on a day it was (or will be).
        Some(c) => match ds.any_la(c).filter(|_| ds.la_index(c).is_none()) {
            Some(l) if l.valid_from.as_str() > today => {
                format!("{base}/?la={c}&date={}", l.valid_from)
            }
            Some(l) => match l.valid_to.as_deref().and_then(crate::clock::day_before) {
                Some(d) => format!("{base}/?la={c}&date={d}"),
                None => format!("{base}/?la={c}"),
            },
            None => format!("{base}/?la={c}"),
        },
        None => format!("{base}/"),
    };
    let link = |href: String, rel: &str, ty: &str| {
        let mut l = Link::default();
        l.set_href(href);
        l.set_rel(rel);
        l.set_mime_type(Some(ty.to_owned()));
        l
    };
    let mut entries: Vec<Entry> = items
        .iter()
        .map(|c| {
            let mut e = Entry::default();
            e.set_id(format!("{base}/api/changes/{}", c.id));
            e.set_title(Text::plain(c.entry.summary.clone()));
            e.set_updated(time(&c.created_at));
            e.set_published(Some(time(&c.created_at)));
            let target = match c.entry.la_codes.first() {
                Some(code) => format!("{base}/?la={code}"),
                None => format!("{base}/"),
            };
            e.set_links(vec![
                link(target, "alternate", "text/html"),
                link(
                    format!("{base}/api/changes/{}", c.id),
                    "related",
                    "application/json",
                ),
            ]);
            let mut body = format!("Why: {}\n", c.entry.reason);
            for f in &c.entry.diff {
                body.push_str(&format!(
                    "{}: {} → {}\n",
                    f.field.replace('_', " "),
                    show(&f.old),
                    show(&f.new)
                ));
            }
            let mut content = Content::default();
            content.set_content_type(Some("text".to_owned()));
            content.set_value(Some(body));
            e.set_content(Some(content));
            let mut cat = atom_syndication::Category::default();
            cat.set_term(c.entry.change.kind());
            e.set_categories(vec![cat]);
            e
        })
        .collect();
    // Reorganisations among the changes, newest first; the feed keeps its length.
    let total = entries.len();
    entries.extend(reorganisation_entries(ds, base, la, today));
    entries.sort_by(|a, b| b.updated().cmp(a.updated()));
    entries.truncate(
        usize::try_from(FEED_ENTRIES)
            .unwrap_or(usize::MAX)
            .max(total),
    );
    let (subtitle, related) = la.map_or((None, Vec::new()), |c| lineage(ds, base, c, today));
    let mut f = Feed::default();
    f.set_id(self_url.clone());
    f.set_subtitle(subtitle.map(Text::plain));
    f.set_title(Text::plain(match &la_name {
        Some(n) => format!("{n}: changes to the partnership map"),
        None => "Changes to the partnership map".to_owned(),
    }));
    // The newest change, or (with none yet) the day the data files were last changed.
    let updated = entries.first().map_or_else(
        || {
            ds.data_as_of
                .as_deref()
                .map_or_else(chrono::DateTime::default, |d| {
                    time(&format!("{d}T00:00:00Z"))
                })
        },
        |e| *e.updated(),
    );
    f.set_updated(updated);
    let mut author = Person::default();
    author.set_name("partnership-map research team");
    f.set_authors(vec![author]);
    let mut links = vec![
        link(self_url, "self", "application/atom+xml"),
        link(page, "alternate", "text/html"),
    ];
    links.extend(related);
    f.set_links(links);
    f.set_entries(entries);
    f.to_string()
}

/// `GET /changes.atom[?la={code}]`: the latest changes as an Atom 1.0 feed.
///
/// # Errors
/// 400 (bad Host), 404 for an unknown LA.
#[utoipa::path(get, path = "/changes.atom", tag = "history", summary = "Atom 1.0 feed of the latest changes (at most 50)", params(("la" = Option<String>, Query, description = "Only changes concerning this LA (GSS code)"), ("since" = Option<String>, Query, description = "Only changes at or after this date (`2026-11-01`) or RFC 3339 time"), ("limit" = Option<u16>, Query, description = "At most this many (1–1000, default 100)", minimum = 1, maximum = 1000), ("If-None-Match" = Option<String>, Header, description = "An ETag from an earlier response: 304 when it still matches")), responses((status = 200, description = "The feed", body = String, content_type = "application/atom+xml; charset=utf-8", headers(("ETag" = String, description = "Weak"))), (status = 304, description = "If-None-Match matched"), (status = 400, description = "A bad since or limit (JSON), or a malformed Host (text)", content((crate::error::ErrorBody = "application/json"), (String = "text/plain; charset=utf-8"))), (status = 404, description = "No LA with this code", body = crate::error::ErrorBody)))]
pub async fn atom(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Response, AppError> {
    let ds = state.dataset();
    let base = base_url(&state, &headers)?;
    let mut query = store_query(&ds, &q)?;
    query.limit = query.limit.min(FEED_ENTRIES);
    let log = state.steward.log_status();
    let items: Vec<LoggedChange> = query.select(log.published()).cloned().collect();
    let xml = feed(&ds, &base, query.la.as_deref(), &state.today(), &items);
    Ok(revalidated(
        &headers,
        xml,
        "application/atom+xml; charset=utf-8",
    ))
}
