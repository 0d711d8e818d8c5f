//! "How do LAs like mine do it?": one LA side by side with its DfE statistical neighbours (or a
//! chosen set of up to [`MAX_CHOSEN`] LAs), and what those LAs have that it does not.
//!
//! Pure functions over the dataset: [`select`] checks the request, [`compare`] builds the table
//! (columns in statistical-neighbour rank order, rows for roles, forms, focus tags, phases,
//! verification and context figures, every cell with the partnerships behind it) and the short
//! list of differences. [`to_json`] and [`to_csv`] are the API's two representations; the HTML
//! page (`http/compare.rs`) renders the same [`Comparison`].

use std::collections::{BTreeMap, HashSet};

use serde::Serialize;
use serde_json::{Value as Json, json};
use utoipa::ToSchema;

use crate::dataset::Dataset;
use crate::downloads::PartnershipJson;
use crate::model::LocalAuthority;
use crate::schema;

/// Most LAs a chosen comparison (`with=`) may list.
pub const MAX_CHOSEN: usize = 12;

/// Most items in the "what these LAs have that yours does not" list.
pub const MAX_DIFFERENCES: usize = 6;

/// Why a comparison cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CompareError {
    /// `la=` is missing.
    #[error("la= is required: the code of the local authority to compare, e.g. la=E06000001")]
    MissingLa,
    /// `la=` names no LA.
    #[error("no local authority with code {0:?}")]
    UnknownLa(String),
    /// A code in `with=` is not shaped like an LA code.
    #[error("with= holds {0:?}, which is not an LA code like E06000001")]
    MalformedWith(String),
    /// A code in `with=` names no LA.
    #[error("with= names {0:?}, which is no local authority's code")]
    UnknownWith(String),
    /// Too many LAs in `with=`: how many, and the most allowed.
    #[error("with= lists {0} local authorities; at most {1} at a time")]
    TooMany(usize, usize),
    /// An empty item in a program's `with=` list.
    #[error(
        "with= has an empty item (a comma at an end, or two in a row): list LA codes like E06000001,E06000002"
    )]
    EmptyItem,
    /// A code named twice in a program's `with=` list.
    #[error("with= names {0} twice: name each local authority once")]
    Repeated(String),
    /// `with=` is present but names no other LA.
    #[error("with= names no other local authority: choose at least one to compare with")]
    EmptyWith,
    /// A query parameter the endpoint does not take, or one given twice.
    #[error("{0}")]
    BadParameter(String),
}

impl CompareError {
    /// Whether the error means "no such LA" (404), in `la=` or in `with=` (a well-formed code
    /// of no LA on the map compared, perhaps one of another day's), rather than a malformed
    /// request (400).
    #[must_use]
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::UnknownLa(_) | Self::UnknownWith(_))
    }
}

/// Which LAs to compare, checked against the dataset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    /// Index of the LA being compared ("yours").
    pub subject: usize,
    /// Chosen LAs (indices, without the subject); `None` = its statistical neighbours.
    pub chosen: Option<Vec<usize>>,
}

fn find(ds: &Dataset, code: &str) -> Option<usize> {
    ds.las.iter().position(|l| l.code == code)
}

fn looks_like_code(s: &str) -> bool {
    s.len() == 9 && s.starts_with('E') && s[1..].bytes().all(|b| b.is_ascii_digit())
}

/// The LAs `with=` names (each value may hold several comma-separated codes; empty pieces are
/// skipped), in the order given.
///
/// # Errors
/// [`CompareError::MalformedWith`] or [`CompareError::UnknownWith`] for the first bad code.
pub fn with_codes(ds: &Dataset, with: &[String]) -> Result<Vec<usize>, CompareError> {
    let mut found = Vec::new();
    for raw in with.iter().flat_map(|v| v.split(',')) {
        let c = raw.trim().to_ascii_uppercase();
        if c.is_empty() {
            continue;
        }
        if !looks_like_code(&c) {
            return Err(CompareError::MalformedWith(
                raw.trim().chars().take(20).collect(),
            ));
        }
        found.push(find(ds, &c).ok_or(CompareError::UnknownWith(c))?);
    }
    Ok(found)
}

/// The rules of a `with=` list sent by a program (the API and the pictures), as their OpenAPI
/// schema states them: each comma-separated item a code (checked later against the data), none
/// empty, none twice, at most `max`. The comparison page instead takes what its form sends,
/// see [`select_from_form`].
///
/// # Errors
/// [`CompareError::EmptyItem`], [`CompareError::Repeated`] or [`CompareError::TooMany`].
pub fn check_list(with: &[String], max: usize) -> Result<(), CompareError> {
    let mut seen = HashSet::new();
    for raw in with.iter().flat_map(|v| v.split(',')) {
        let c = raw.trim().to_ascii_uppercase();
        if c.is_empty() {
            return Err(CompareError::EmptyItem);
        }
        if !seen.insert(c) {
            return Err(CompareError::Repeated(
                raw.trim().chars().take(20).collect(),
            ));
        }
    }
    if seen.len() > max {
        return Err(CompareError::TooMany(seen.len(), max));
    }
    Ok(())
}

/// [`select`] for the comparison page's form, which sends what a person ticked and picked: empty
/// items (the "(none)" choice) and repeats are dropped; a form that chose no other LA shows the
/// statistical neighbours; more than [`MAX_CHOSEN`] LAs compare the first [`MAX_CHOSEN`]. Returns
/// the selection and how many chosen LAs were left out. Codes that name no LA are still errors.
///
/// # Errors
/// A [`CompareError`] for a missing or unknown `la`, or a `with` code that names no LA.
pub fn select_from_form(
    ds: &Dataset,
    la: Option<&str>,
    with: Option<&[String]>,
) -> Result<(Selection, usize), CompareError> {
    let mut sel = select(ds, la, None)?;
    let Some(with) = with else {
        return Ok((sel, 0));
    };
    let mut chosen: Vec<usize> = Vec::new();
    for i in with_codes(ds, with)? {
        if i != sel.subject && !chosen.contains(&i) {
            chosen.push(i);
        }
    }
    let left_out = chosen.len().saturating_sub(MAX_CHOSEN);
    chosen.truncate(MAX_CHOSEN);
    if !chosen.is_empty() {
        sel.chosen = Some(chosen);
    }
    Ok((sel, left_out))
}

/// Check `la=` and the `with=` values (each may hold several comma-separated codes; `None` when
/// the parameter is absent). Codes are case-insensitive; duplicates and the LA itself are dropped.
/// A `with=` that names only the LA itself chooses no other LA, which is what an absent `with=`
/// means: the comparison with its statistical neighbours (`mode` says so in the answer).
///
/// # Errors
/// A [`CompareError`] naming the first problem.
pub fn select(
    ds: &Dataset,
    la: Option<&str>,
    with: Option<&[String]>,
) -> Result<Selection, CompareError> {
    let la = la.map(str::trim).filter(|s| !s.is_empty());
    let code = la.ok_or(CompareError::MissingLa)?.to_ascii_uppercase();
    let subject = find(ds, &code).ok_or_else(|| {
        CompareError::UnknownLa(la.unwrap_or_default().chars().take(20).collect())
    })?;
    let Some(with) = with else {
        return Ok(Selection {
            subject,
            chosen: None,
        });
    };
    let mut chosen = Vec::new();
    let mut seen = HashSet::new();
    let mut named_itself = false;
    for i in with_codes(ds, with)? {
        named_itself |= i == subject;
        if i != subject && seen.insert(i) {
            chosen.push(i);
        }
    }
    if chosen.is_empty() && named_itself {
        return Ok(Selection {
            subject,
            chosen: None,
        });
    }
    if chosen.is_empty() {
        return Err(CompareError::EmptyWith);
    }
    if chosen.len() > MAX_CHOSEN {
        return Err(CompareError::TooMany(chosen.len(), MAX_CHOSEN));
    }
    Ok(Selection {
        subject,
        chosen: Some(chosen),
    })
}

/// One LA in the table.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// Index into `Dataset::las`.
    pub la: usize,
    /// The LA being compared.
    pub subject: bool,
    /// 1-based statistical-neighbour rank of this LA for the subject, if it is one.
    pub rank: Option<usize>,
    /// DfE closeness band ("Very close", "Close", …), if a neighbour.
    pub closeness: Option<String>,
}

/// Row groups, in table order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Group {
    /// The LA's own role in school improvement.
    Role,
    /// Partnership counts by form.
    Form,
    /// Focus tags present.
    Focus,
    /// Phases covered.
    Phase,
    /// Verification and evidence dates.
    Status,
    /// Context figures.
    Context,
}

impl Group {
    /// Stable key used in JSON and CSV.
    #[must_use]
    pub fn key(self) -> &'static str {
        match self {
            Self::Role => "role",
            Self::Form => "form",
            Self::Focus => "focus",
            Self::Phase => "phase",
            Self::Status => "status",
            Self::Context => "context",
        }
    }

    /// Heading for people.
    #[must_use]
    pub fn title(self) -> &'static str {
        match self {
            Self::Role => "The LA's role in school improvement",
            Self::Form => "Partnerships by form",
            Self::Focus => "Focus of the partnerships",
            Self::Phase => "Phases covered",
            Self::Status => "Verification and evidence",
            Self::Context => "Context",
        }
    }
}

/// What a cell holds.
#[derive(Debug, Clone, PartialEq)]
pub enum CellValue {
    /// Yes / no.
    Flag(bool),
    /// A count of partnerships.
    Count(usize),
    /// A figure (percentage or whole number), absent when unknown.
    Number(Option<f64>),
    /// Text, absent when unknown.
    Text(Option<String>),
}

impl CellValue {
    /// Whether the LA "has" this: a true flag or a non-zero count.
    #[must_use]
    pub fn present(&self) -> bool {
        match self {
            Self::Flag(b) => *b,
            Self::Count(n) => *n > 0,
            Self::Number(_) | Self::Text(_) => false,
        }
    }

    /// Plain text for tables and CSV: `yes`/`no`, the count, the figure or empty.
    #[must_use]
    pub fn plain(&self) -> String {
        match self {
            Self::Flag(true) => "yes".to_owned(),
            Self::Flag(false) => "no".to_owned(),
            Self::Count(n) => n.to_string(),
            Self::Number(Some(x)) => format_number(*x),
            Self::Number(None) | Self::Text(None) => String::new(),
            Self::Text(Some(s)) => s.clone(),
        }
    }
}

fn format_number(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{x:.0}")
    } else {
        format!("{x:.1}")
    }
}

/// One cell: its value and the evidence behind it.
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    /// The value.
    pub value: CellValue,
    /// Indices into `Dataset::partnerships` of the partnerships behind the value.
    pub partnerships: Vec<usize>,
    /// Whether the LA-role row is the evidence (role flags).
    pub role_evidence: bool,
}

impl Cell {
    fn plain(value: CellValue) -> Self {
        Self {
            value,
            partnerships: Vec::new(),
            role_evidence: false,
        }
    }
}

/// One row of the table.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Group.
    pub group: Group,
    /// Stable key, the tile attribute's name where there is one (`form_school_led_company`).
    pub key: String,
    /// Label for people.
    pub label: String,
    /// One cell per column.
    pub cells: Vec<Cell>,
}

/// One item of "what these LAs have that yours does not".
#[derive(Debug, Clone, PartialEq)]
pub struct Difference {
    /// The row's key.
    pub key: String,
    /// The row's group.
    pub group: Group,
    /// Column indices of the compared LAs that have it.
    pub have: Vec<usize>,
    /// How many LAs the subject is compared with.
    pub of: usize,
    /// The sentence, e.g. "6 of your 10 statistical neighbours have a school-led company; you
    /// have none."
    pub text: String,
}

/// The whole comparison.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// The LA being compared.
    pub subject: usize,
    /// `true` when the columns are the subject's statistical neighbours.
    pub neighbours: bool,
    /// The subject first, then the others in statistical-neighbour rank order (chosen LAs that
    /// are not neighbours follow in the order given).
    pub columns: Vec<Column>,
    /// Rows by group.
    pub rows: Vec<Row>,
    /// The short list of differences, most widespread first.
    pub differences: Vec<Difference>,
}

impl Comparison {
    /// How many LAs the subject is compared with.
    #[must_use]
    pub fn others(&self) -> usize {
        self.columns.len().saturating_sub(1)
    }

    /// Codes of the compared LAs (without the subject), in column order.
    #[must_use]
    pub fn other_codes<'a>(&self, ds: &'a Dataset) -> Vec<&'a str> {
        self.columns[1..]
            .iter()
            .map(|c| ds.las[c.la].code.as_str())
            .collect()
    }

    /// The query of this comparison's page and API: `la=…`, plus `with=…` for a chosen set.
    #[must_use]
    pub fn query(&self, ds: &Dataset) -> String {
        let la = &ds.las[self.subject].code;
        if self.neighbours {
            format!("la={la}")
        } else {
            format!("la={la}&with={}", self.other_codes(ds).join(","))
        }
    }

    /// The query of its map picture (`/render/england.png`): the LA outlined in black, the
    /// compared LAs in orange (its statistical neighbours through `similar=`).
    #[must_use]
    pub fn picture_query(&self, ds: &Dataset) -> String {
        let la = &ds.las[self.subject].code;
        if self.neighbours {
            format!("la={la}&similar={la}")
        } else {
            format!("la={la}&with={}", self.other_codes(ds).join(","))
        }
    }

    /// The compared LAs from the outside: "its 10 statistical neighbours", "the 3 LAs you chose".
    #[must_use]
    pub fn others_its(&self) -> String {
        self.others_phrase().replacen("your", "its", 1)
    }

    /// The phrase for the compared LAs: "your 10 statistical neighbours" or "the 3 LAs you chose".
    #[must_use]
    pub fn others_phrase(&self) -> String {
        let n = self.others();
        match (self.neighbours, n) {
            (true, 1) => "your 1 statistical neighbour".to_owned(),
            (true, _) => format!("your {n} statistical neighbours"),
            (false, 1) => "the 1 LA you chose".to_owned(),
            (false, _) => format!("the {n} LAs you chose"),
        }
    }
}

/// Human label of a partnership form, e.g. "School-led company".
#[must_use]
pub fn form_label(form: &str) -> String {
    match form {
        "la_convened_partnership" => "LA-convened partnership".to_owned(),
        "la_traded_service" => "LA traded service".to_owned(),
        "third_party_organisation" => "Third-party organisation".to_owned(),
        "school_led_company" => "School-led company".to_owned(),
        "school_led_network" => "School-led network".to_owned(),
        "cross_sector_collaboration" => "Cross-sector collaboration".to_owned(),
        "other" => "Other form".to_owned(),
        f => capitalise(&f.replace('_', " ")),
    }
}

fn form_phrase(form: &str) -> String {
    match form {
        "other" => "a partnership of another form".to_owned(),
        f => {
            let l = lower_first(&form_label(f));
            let article = if l.starts_with(['a', 'e', 'i', 'o', 'u']) || l.starts_with("LA") {
                "an"
            } else {
                "a"
            };
            format!("{article} {l}")
        }
    }
}

/// A label inside a sentence: "School-led company" → "school-led company", but "LA traded
/// service", "CPD" and "SEND and inclusion" keep their capitals.
pub fn lower_first(label: &str) -> String {
    let first = label.split([' ', '-']).next().unwrap_or("");
    if first.len() > 1 && first.chars().all(|c| c.is_ascii_uppercase()) {
        return label.to_owned();
    }
    let mut c = label.chars();
    c.next().map_or_else(String::new, |f| {
        f.to_lowercase().collect::<String>() + c.as_str()
    })
}

/// Human label of a focus tag, e.g. "SEND and inclusion".
#[must_use]
pub fn focus_label(tag: &str) -> String {
    match tag {
        "cpd" => "CPD".to_owned(),
        "stem" => "STEM".to_owned(),
        "pe_sport" => "PE and sport".to_owned(),
        "post16" => "Post-16".to_owned(),
        "send_inclusion" => "SEND and inclusion".to_owned(),
        "careers_employment" => "Careers and employment".to_owned(),
        "recruitment_retention" => "Recruitment and retention".to_owned(),
        "school_to_school_support" => "School-to-school support".to_owned(),
        t => capitalise(&t.replace('_', " ")),
    }
}

/// Human label of a phase, e.g. "Early years".
#[must_use]
pub fn phase_label(phase: &str) -> String {
    match phase {
        "post16" => "Post-16".to_owned(),
        "all" => "All phases".to_owned(),
        p => capitalise(&p.replace('_', " ")),
    }
}

/// Human label of an LA role flag.
#[must_use]
pub fn role_label(role: &str) -> &'static str {
    match role {
        "funder" => "Funds or commissions school improvement",
        "convener" => "Convenes a partnership or board with schools",
        "deliverer" => "Delivers school improvement itself",
        "traded_service" => "Sells school improvement services",
        _ => "Other role",
    }
}

/// `(singular, plural)` verb phrases of a role flag for the differences list.
fn role_verbs(role: &str) -> (&'static str, &'static str) {
    match role {
        "funder" => (
            "funds or commissions school improvement from another body",
            "fund or commission school improvement from another body",
        ),
        "convener" => (
            "convenes a partnership or board with schools",
            "convene a partnership or board with schools",
        ),
        "deliverer" => (
            "delivers school improvement itself",
            "deliver school improvement themselves",
        ),
        _ => (
            "sells school improvement services",
            "sell school improvement services",
        ),
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next().map_or_else(String::new, |f| {
        f.to_uppercase().collect::<String>() + c.as_str()
    })
}

/// The columns for a selection, in statistical-neighbour rank order.
fn columns(ds: &Dataset, sel: &Selection) -> Vec<Column> {
    let subject = &ds.las[sel.subject];
    let rank_of = |i: usize| {
        subject
            .stat_neighbours
            .iter()
            .position(|c| *c == ds.las[i].code)
    };
    let column = |i: usize| {
        let pos = rank_of(i);
        Column {
            la: i,
            subject: false,
            rank: pos.map(|p| p + 1),
            closeness: pos.and_then(|p| subject.stat_neighbours_closeness.get(p).cloned()),
        }
    };
    let mut others: Vec<Column> = match &sel.chosen {
        None => subject
            .stat_neighbours
            .iter()
            .filter_map(|c| find(ds, c))
            .map(column)
            .collect(),
        Some(chosen) => chosen.iter().copied().map(column).collect(),
    };
    // Neighbours by rank; the rest keep the order given (a stable sort).
    others.sort_by_key(|c| c.rank.unwrap_or(usize::MAX));
    let mut out = vec![Column {
        la: sel.subject,
        subject: true,
        rank: None,
        closeness: None,
    }];
    out.extend(others);
    out
}

/// Partnerships of LA `la` (indices) that satisfy `keep`.
fn partnerships_where(
    ds: &Dataset,
    la: usize,
    keep: impl Fn(&crate::model::Partnership) -> bool,
) -> Vec<usize> {
    ds.la_partnerships[la]
        .iter()
        .copied()
        .filter(|&p| keep(&ds.partnerships[p]))
        .collect()
}

/// The newest year in an evidence date ("2015/2023" → 2023), if any.
fn evidence_year(date: &str) -> Option<u16> {
    date.split('/').filter_map(|y| y.parse::<u16>().ok()).max()
}

fn rows(ds: &Dataset, cols: &[Column]) -> Vec<Row> {
    let mut out = Vec::new();
    let row = |group, key: String, label: String, cell: &dyn Fn(usize) -> Cell| Row {
        group,
        key,
        label,
        cells: cols.iter().map(|c| cell(c.la)).collect(),
    };
    for role in schema::ROLES {
        out.push(row(
            Group::Role,
            format!("role_{role}"),
            role_label(role).to_owned(),
            &|i| {
                let r = ds.la_role[i].map(|r| &ds.roles[r]);
                let on = r.is_some_and(|r| match *role {
                    "funder" => r.funder,
                    "convener" => r.convener,
                    "deliverer" => r.deliverer,
                    _ => r.traded_service,
                });
                Cell {
                    value: CellValue::Flag(on),
                    partnerships: Vec::new(),
                    role_evidence: r.is_some(),
                }
            },
        ));
    }
    out.push(row(
        Group::Form,
        "partnership_count".to_owned(),
        "All partnerships".to_owned(),
        &|i| {
            let ps = ds.la_partnerships[i].clone();
            Cell {
                value: CellValue::Count(ps.len()),
                partnerships: ps,
                role_evidence: false,
            }
        },
    ));
    for form in schema::FORMS {
        out.push(row(
            Group::Form,
            format!("form_{form}"),
            form_label(form),
            &|i| {
                let ps = partnerships_where(ds, i, |p| p.form == *form);
                Cell {
                    value: CellValue::Count(ps.len()),
                    partnerships: ps,
                    role_evidence: false,
                }
            },
        ));
    }
    let flag_row = |group,
                    prefix: &str,
                    tag: &str,
                    label: String,
                    in_list: fn(&crate::model::Partnership, &str) -> bool| {
        row(group, format!("{prefix}_{tag}"), label, &|i| {
            let ps = partnerships_where(ds, i, |p| in_list(p, tag));
            Cell {
                value: CellValue::Flag(!ps.is_empty()),
                partnerships: ps,
                role_evidence: false,
            }
        })
    };
    // Only the focus tags some compared LA has: 32 rows of "no" would hide the ones that matter.
    for tag in schema::FOCUS {
        let r = flag_row(Group::Focus, "focus", tag, focus_label(tag), |p, t| {
            p.focus.iter().any(|f| f == t)
        });
        if r.cells.iter().any(|c| c.value.present()) {
            out.push(r);
        }
    }
    for phase in schema::PHASES {
        out.push(flag_row(
            Group::Phase,
            "phase",
            phase,
            phase_label(phase),
            |p, t| p.phases.iter().any(|f| f == t),
        ));
    }
    out.push(row(
        Group::Status,
        "verified".to_owned(),
        "Verified by the LA".to_owned(),
        &|i| Cell::plain(CellValue::Flag(ds.las[i].verified)),
    ));
    out.push(row(
        Group::Status,
        "verified_date".to_owned(),
        "Date verified".to_owned(),
        &|i| Cell::plain(CellValue::Text(ds.las[i].verified_date.clone())),
    ));
    out.push(row(
        Group::Status,
        "latest_evidence".to_owned(),
        "Newest evidence (year)".to_owned(),
        &|i| {
            let years = ds.la_partnerships[i]
                .iter()
                .map(|&p| ds.partnerships[p].evidence_date.as_str())
                .chain(ds.la_role[i].map(|r| ds.roles[r].evidence_date.as_str()))
                .filter_map(evidence_year);
            Cell::plain(CellValue::Text(years.max().map(|y| y.to_string())))
        },
    ));
    type Figure = fn(&LocalAuthority) -> CellValue;
    let figures: [(&str, &str, Figure); 9] = [
        ("fsm_primary_pct", "Free school meals, primary (%)", |l| {
            CellValue::Number(l.fsm_primary_pct)
        }),
        (
            "fsm_secondary_pct",
            "Free school meals, secondary (%)",
            |l| CellValue::Number(l.fsm_secondary_pct),
        ),
        ("sen_support_pct", "SEN support (%)", |l| {
            CellValue::Number(l.sen_support_pct)
        }),
        ("ehcp_pct", "EHC plans (%)", |l| {
            CellValue::Number(l.ehcp_pct)
        }),
        (
            "eal_primary_pct",
            "English as an additional language, primary (%)",
            |l| CellValue::Number(l.eal_primary_pct),
        ),
        (
            "child_low_income_pct",
            "Children in low-income families (%)",
            |l| CellValue::Number(l.child_low_income_pct),
        ),
        ("pupils", "Pupils, reception to Y11", |l| {
            #[allow(clippy::cast_precision_loss)]
            CellValue::Number(l.pupils.map(|n| n as f64))
        }),
        ("rural_urban", "Rurality (mySociety)", |l| {
            CellValue::Text(l.rural_urban.clone())
        }),
        ("rural_pop_pct", "Rural population (%)", |l| {
            CellValue::Number(l.rural_pop_pct)
        }),
    ];
    for (key, label, get) in figures {
        out.push(row(
            Group::Context,
            key.to_owned(),
            label.to_owned(),
            &|i| Cell::plain(get(&ds.las[i])),
        ));
    }
    out
}

/// The sentence for one difference.
fn difference_text(cmp_phrase: &str, k: usize, row: &Row) -> String {
    let one = k == 1;
    let have = if one { "has" } else { "have" };
    let tag = row.key.split_once('_').map_or("", |(_, t)| t);
    match row.group {
        Group::Role => {
            let (sing, plur) = role_verbs(tag);
            format!(
                "{k} of {cmp_phrase} {}; the data does not record yours doing so.",
                if one { sing } else { plur }
            )
        }
        Group::Form => format!(
            "{k} of {cmp_phrase} {have} {}; you have none.",
            form_phrase(tag)
        ),
        Group::Focus => format!(
            "{k} of {cmp_phrase} {have} a partnership focused on {}; you have none.",
            lower_first(&focus_label(tag))
        ),
        Group::Phase => {
            let phase = if tag == "all" {
                "all phases".to_owned()
            } else {
                lower_first(&phase_label(tag))
            };
            format!("{k} of {cmp_phrase} {have} a partnership covering {phase}; you have none.")
        }
        Group::Status | Group::Context => String::new(),
    }
}

/// "What these LAs have that yours does not": every role, form, focus tag or phase the subject
/// lacks that at least two of the others have (one, when comparing with three or fewer), most
/// widespread first, ties in table order; at most [`MAX_DIFFERENCES`].
#[must_use]
pub fn differences(cols: &[Column], rows: &[Row], neighbours_phrase: &str) -> Vec<Difference> {
    let others = cols.len().saturating_sub(1);
    let threshold = if others <= 3 { 1 } else { 2 };
    let mut found: Vec<(usize, Difference)> = rows
        .iter()
        .enumerate()
        .filter(|(_, r)| {
            matches!(
                r.group,
                Group::Role | Group::Form | Group::Focus | Group::Phase
            ) && r.key != "partnership_count"
                && !r.cells[0].value.present()
        })
        .filter_map(|(order, r)| {
            let have: Vec<usize> = (1..r.cells.len())
                .filter(|&c| r.cells[c].value.present())
                .collect();
            (have.len() >= threshold && others > 0).then(|| {
                let text = difference_text(neighbours_phrase, have.len(), r);
                (
                    order,
                    Difference {
                        key: r.key.clone(),
                        group: r.group,
                        have,
                        of: others,
                        text,
                    },
                )
            })
        })
        .collect();
    found.sort_by(|a, b| b.1.have.len().cmp(&a.1.have.len()).then(a.0.cmp(&b.0)));
    found
        .into_iter()
        .take(MAX_DIFFERENCES)
        .map(|(_, d)| d)
        .collect()
}

/// Build the comparison for a checked selection.
#[must_use]
pub fn compare(ds: &Dataset, sel: &Selection) -> Comparison {
    let columns = columns(ds, sel);
    let rows = rows(ds, &columns);
    let mut cmp = Comparison {
        subject: sel.subject,
        neighbours: sel.chosen.is_none(),
        columns,
        rows,
        differences: Vec::new(),
    };
    cmp.differences = differences(&cmp.columns, &cmp.rows, &cmp.others_phrase());
    cmp
}

/// A column of a comparison (`GET /api/compare`).
#[derive(Debug, Serialize, ToSchema)]
pub struct ColumnJson {
    /// GSS code.
    pub code: String,
    /// Name.
    pub name: String,
    /// Region.
    pub region: String,
    /// LA type.
    pub la_type: String,
    /// Whether this column is the LA compared.
    pub subject: bool,
    /// Statistical-neighbour rank, if it is one.
    pub rank: Option<usize>,
    /// DfE closeness band, if it is a statistical neighbour.
    pub closeness: Option<String>,
}

/// A cell of a comparison row.
#[derive(Debug, Serialize, ToSchema)]
pub struct CellJson {
    /// A flag, a count, a figure or a text; null when unknown.
    #[schema(value_type = serde_json::Value)]
    pub value: Json,
    /// Ids of the partnerships behind the value, when there are any.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub partnerships: Vec<String>,
}

/// A row of a comparison: one measure across the LAs.
#[derive(Debug, Serialize, ToSchema)]
pub struct RowJson {
    /// `role`, `form`, `focus`, `phase`, `verification` or `context`.
    pub group: &'static str,
    /// Stable key (the tile attribute's name where there is one).
    pub key: String,
    /// For people.
    pub label: String,
    /// One per column, in column order.
    pub cells: Vec<CellJson>,
}

/// What the other LAs have that the LA compared has not.
#[derive(Debug, Serialize, ToSchema)]
pub struct DifferenceJson {
    /// The row's key.
    pub key: String,
    /// The row's group.
    pub group: &'static str,
    /// How many of the others have it.
    pub count: usize,
    /// Out of how many.
    pub of: usize,
    /// Codes of the LAs that have it.
    pub las: Vec<String>,
    /// In words.
    pub text: String,
}

/// An LA's role row, as evidence of a comparison.
#[derive(Debug, Serialize, ToSchema)]
pub struct RoleEvidence {
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

/// The evidence behind one LA's column: its role row and its partnerships in full.
#[derive(Debug, Serialize, ToSchema)]
pub struct Evidence {
    /// Its role, or null when the data has none.
    pub role: Option<RoleEvidence>,
    /// Its partnerships.
    pub partnerships: Vec<PartnershipJson>,
}

/// An LA named in a comparison.
#[derive(Debug, Serialize, ToSchema)]
pub struct NamedLa {
    /// GSS code.
    pub code: String,
    /// Name.
    pub name: String,
}

/// Addresses of the same comparison in its other forms.
#[derive(Debug, Serialize, ToSchema)]
pub struct CompareLinks {
    /// The page.
    pub html: String,
    /// The table as CSV.
    pub csv: String,
    /// The map picture with these LAs outlined.
    pub picture: String,
}

/// Whom the LA is compared with.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CompareMode {
    /// Its DfE statistical neighbours.
    StatisticalNeighbours,
    /// LAs chosen with `with`.
    Chosen,
}

/// `GET /api/compare` (JSON).
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Comparison)]
pub struct ComparisonJson {
    /// The LA compared.
    pub la: NamedLa,
    /// Whom it is compared with.
    pub mode: CompareMode,
    /// The LAs, the compared one first.
    pub columns: Vec<ColumnJson>,
    /// Table rows, with the partnership ids behind each cell.
    pub rows: Vec<RowJson>,
    /// What the other LAs have that this one has not.
    pub differences: Vec<DifferenceJson>,
    /// Per LA code: its role and partnerships in full.
    pub evidence: BTreeMap<String, Evidence>,
    /// Version of the data.
    pub data_version: String,
    /// Date of the newest evidence.
    pub data_as_of: Option<String>,
    /// The same comparison as a page, a CSV and a picture.
    pub links: CompareLinks,
}

fn cell_json(ds: &Dataset, cell: &Cell) -> CellJson {
    let value = match &cell.value {
        CellValue::Flag(b) => json!(b),
        CellValue::Count(n) => json!(n),
        CellValue::Number(x) => json!(x),
        CellValue::Text(t) => json!(t),
    };
    CellJson {
        value,
        partnerships: cell
            .partnerships
            .iter()
            .map(|&p| ds.partnerships[p].id.clone())
            .collect(),
    }
}

/// The comparison as JSON (`GET /api/compare`): columns, rows with the partnership ids behind
/// each cell, the differences, the evidence (each LA's role row and partnerships in full), and
/// `links` to its other forms.
#[must_use]
pub fn to_json(
    ds: &Dataset,
    cmp: &Comparison,
    partnership_json: impl Fn(&crate::model::Partnership) -> PartnershipJson,
    links: CompareLinks,
) -> ComparisonJson {
    let subject = &ds.las[cmp.subject];
    let columns = cmp
        .columns
        .iter()
        .map(|c| {
            let la = &ds.las[c.la];
            ColumnJson {
                code: la.code.clone(),
                name: la.name.clone(),
                region: la.region_name.clone(),
                la_type: la.la_type.clone(),
                subject: c.subject,
                rank: c.rank,
                closeness: c.closeness.clone(),
            }
        })
        .collect();
    let rows = cmp
        .rows
        .iter()
        .map(|r| RowJson {
            group: r.group.key(),
            key: r.key.clone(),
            label: r.label.clone(),
            cells: r.cells.iter().map(|c| cell_json(ds, c)).collect(),
        })
        .collect();
    let differences = cmp
        .differences
        .iter()
        .map(|d| DifferenceJson {
            key: d.key.clone(),
            group: d.group.key(),
            count: d.have.len(),
            of: d.of,
            las: d
                .have
                .iter()
                .map(|&c| ds.las[cmp.columns[c].la].code.clone())
                .collect(),
            text: d.text.clone(),
        })
        .collect();
    let evidence = cmp
        .columns
        .iter()
        .map(|c| {
            let role = ds.la_role[c.la].map(|r| {
                let r = &ds.roles[r];
                RoleEvidence {
                    funder: r.funder,
                    convener: r.convener,
                    deliverer: r.deliverer,
                    traded_service: r.traded_service,
                    summary: r.summary.clone(),
                    source_urls: r.source_urls.clone(),
                    evidence_date: r.evidence_date.clone(),
                }
            });
            let partnerships = ds.la_partnerships[c.la]
                .iter()
                .map(|&p| partnership_json(&ds.partnerships[p]))
                .collect();
            (ds.las[c.la].code.clone(), Evidence { role, partnerships })
        })
        .collect();
    ComparisonJson {
        la: NamedLa {
            code: subject.code.clone(),
            name: subject.name.clone(),
        },
        mode: if cmp.neighbours {
            CompareMode::StatisticalNeighbours
        } else {
            CompareMode::Chosen
        },
        columns,
        rows,
        differences,
        evidence,
        data_version: ds.version.clone(),
        data_as_of: ds.data_as_of.clone(),
        links,
    }
}

/// A CSV cell that a spreadsheet will not run as a formula.
#[must_use]
pub fn safe(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_owned()
    }
}

/// The comparison as CSV (`GET /api/compare?format=csv`): one row per table row, one column per
/// LA (header `Name (code)`), after `group`, `key` and `label`; the last row lists the ids of
/// each LA's partnerships. Numbers are plain, flags `yes`/`no`, unknown values empty.
#[must_use]
pub fn to_csv(ds: &Dataset, cmp: &Comparison) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header = vec!["group".to_owned(), "key".to_owned(), "label".to_owned()];
    header.extend(cmp.columns.iter().map(|c| {
        let la = &ds.las[c.la];
        safe(&format!("{} ({})", la.name, la.code))
    }));
    let mut records = vec![header];
    let la_row = |key: &str, label: &str, f: &dyn Fn(&Column) -> String| {
        let mut r = vec!["la".to_owned(), key.to_owned(), label.to_owned()];
        r.extend(cmp.columns.iter().map(|c| safe(&f(c))));
        r
    };
    records.push(la_row("code", "LA code", &|c| ds.las[c.la].code.clone()));
    records.push(la_row("rank", "Statistical neighbour rank", &|c| {
        c.rank.map(|r| r.to_string()).unwrap_or_default()
    }));
    records.push(la_row("closeness", "Closeness (DfE)", &|c| {
        c.closeness.clone().unwrap_or_default()
    }));
    for row in &cmp.rows {
        let mut r = vec![
            row.group.key().to_owned(),
            row.key.clone(),
            safe(&row.label),
        ];
        r.extend(row.cells.iter().map(|c| safe(&c.value.plain())));
        records.push(r);
    }
    records.push(la_row("partnerships", "Partnership ids", &|c| {
        ds.la_partnerships[c.la]
            .iter()
            .map(|&p| ds.partnerships[p].id.as_str())
            .collect::<Vec<_>>()
            .join(";")
    }));
    for r in records {
        // Writing to a Vec cannot fail.
        let _ = w.write_record(&r);
    }
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_read_as_english() {
        assert_eq!(form_phrase("school_led_company"), "a school-led company");
        assert_eq!(
            form_phrase("la_convened_partnership"),
            "an LA-convened partnership"
        );
        assert_eq!(form_phrase("la_traded_service"), "an LA traded service");
        assert_eq!(form_phrase("other"), "a partnership of another form");
        assert_eq!(focus_label("send_inclusion"), "SEND and inclusion");
        assert_eq!(phase_label("early_years"), "Early years");
        assert_eq!(lower_first("Post-16"), "post-16");
        assert_eq!(lower_first("CPD"), "CPD");
        assert_eq!(lower_first("PE and sport"), "PE and sport");
    }

    #[test]
    fn csv_cells_never_start_a_formula() {
        assert_eq!(safe("=SUM(A1)"), "'=SUM(A1)");
        assert_eq!(safe("-3"), "'-3");
        assert_eq!(safe("Hartlepool"), "Hartlepool");
    }

    #[test]
    fn evidence_years_take_the_newest() {
        assert_eq!(evidence_year("2015/2023"), Some(2023));
        assert_eq!(evidence_year("2019"), Some(2019));
        assert_eq!(evidence_year("undated"), None);
    }
}
