//! Stage 0a: validate the three CSV tables into plain model rows.
//!
//! Pure functions over parsed tables (`CsvTable`); every problem is recorded with `file:line`
//! and column. The loader and the change log (`crate::changes`) share these rules, so an edit
//! made in the product is checked exactly as `partnership-map check` checks a file.

use std::collections::{HashMap, HashSet};

use super::csv_table::CsvTable;
use super::problems::LoadError;
use crate::model::{LaRole, LocalAuthority, MadeOf, Partnership, Reorganisation};
use crate::schema;

/// One row being validated; records problems at `path:line`.
struct Row<'a, 'e> {
    table: &'a CsvTable,
    index: usize,
    line: usize,
    errors: &'e mut LoadError,
}

/// Whether `table` has every column in `required`; records the missing ones.
fn has_columns(table: &CsvTable, required: &[&str], errors: &mut LoadError) -> bool {
    let missing: Vec<&str> = required
        .iter()
        .copied()
        .filter(|c| table.column(c).is_none())
        .collect();
    if !missing.is_empty() {
        errors.push(
            format!("{}:1", table.path),
            None,
            format!("missing column(s): {}", missing.join(", ")),
        );
    }
    missing.is_empty()
}

impl Row<'_, '_> {
    fn get(&self, column: &str) -> &str {
        self.table.get(self.index, column)
    }

    fn err(&mut self, column: &str, message: impl Into<String>) {
        self.errors.push(
            format!("{}:{}", self.table.path, self.line),
            Some(column),
            message,
        );
    }

    fn required(&mut self, column: &str) -> String {
        let v = self.get(column).to_owned();
        if v.is_empty() {
            self.err(column, "required value is empty");
        }
        v
    }

    fn one_of(&mut self, column: &str, allowed: &[&str]) -> String {
        let v = self.get(column).to_owned();
        if !allowed.contains(&v.as_str()) {
            let msg = format!(
                "unknown value \"{v}\" (expected one of: {})",
                allowed.join(", ")
            );
            self.err(column, msg);
        }
        v
    }

    fn list_of(&mut self, column: &str, allowed: &[&str]) -> Vec<String> {
        let items = split_list(self.get(column));
        if items.is_empty() {
            self.err(column, "required list is empty");
        }
        let mut seen = HashSet::new();
        for item in &items {
            if !allowed.contains(&item.as_str()) {
                let msg = format!(
                    "unknown value \"{item}\" (expected one of: {})",
                    allowed.join(", ")
                );
                self.err(column, msg);
            } else if !seen.insert(item.clone()) {
                self.err(column, format!("value \"{item}\" is listed twice"));
            }
        }
        items
    }

    fn urls(&mut self, column: &str, required: bool) -> Vec<String> {
        let items = split_list(self.get(column));
        if required && items.is_empty() {
            self.err(column, "at least one URL is required");
        }
        for item in &items {
            if let Err(why) = check_url(item) {
                self.err(column, format!("malformed URL \"{item}\": {why}"));
            }
        }
        items
    }

    fn flag(&mut self, column: &str) -> bool {
        match self.get(column) {
            "true" => true,
            "" => false,
            other => {
                let msg = format!(
                    "unknown value \"{other}\" (expected \"true\" or empty; absence of evidence is left empty)"
                );
                self.err(column, msg);
                false
            }
        }
    }

    fn opt_f64(&mut self, column: &str) -> Option<f64> {
        let v = self.get(column);
        if v.is_empty() {
            return None;
        }
        match v.parse::<f64>() {
            Ok(x) if x.is_finite() && x >= 0.0 => Some(x),
            _ => {
                let msg = format!("\"{v}\" is not a non-negative number");
                self.err(column, msg);
                None
            }
        }
    }

    fn opt_u64(&mut self, column: &str) -> Option<u64> {
        let v = self.get(column);
        if v.is_empty() {
            return None;
        }
        if let Ok(n) = v.parse::<u64>() {
            Some(n)
        } else {
            let msg = format!("\"{v}\" is not a whole number");
            self.err(column, msg);
            None
        }
    }

    fn evidence_date(&mut self, column: &str) -> String {
        let v = self.get(column).to_owned();
        let ok = v == "undated"
            || v.split('/').count() <= 2
                && v.split('/')
                    .all(|y| y.len() == 4 && y.bytes().all(|b| b.is_ascii_digit()));
        if !ok {
            self.err(
                column,
                format!("\"{v}\" is not a year, a span like 2015/2023, or \"undated\""),
            );
        }
        v
    }
}

fn split_list(v: &str) -> Vec<String> {
    v.split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn check_url(s: &str) -> Result<(), String> {
    let u = url::Url::parse(s).map_err(|e| e.to_string())?;
    if !matches!(u.scheme(), "http" | "https") {
        return Err(format!("scheme \"{}\" is not http or https", u.scheme()));
    }
    if u.host_str().is_none_or(|h| !h.contains('.')) {
        return Err("no public host name".to_owned());
    }
    Ok(())
}

/// An English ONS GSS code (`E` + 8 digits), or a documented provisional code for an
/// authority ONS has not coded yet (`E` + 2 digits + `P` + 5 digits, see `data/SOURCES.md`).
/// Which entity types exist is the data's business, not this check's: no prefix list.
#[must_use]
pub fn is_gss_code(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 9
        && b[0] == b'E'
        && b[1..3].iter().all(u8::is_ascii_digit)
        && (b[3].is_ascii_digit() || b[3] == b'P')
        && b[4..].iter().all(u8::is_ascii_digit)
}

/// Whether `code` is a provisional code (see [`is_gss_code`]).
#[must_use]
pub fn is_provisional_code(code: &str) -> bool {
    is_gss_code(code) && code.as_bytes()[3] == b'P'
}

/// Whether `s` is a date written `YYYY-MM-DD` that exists.
#[must_use]
pub fn is_iso_date(s: &str) -> bool {
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok() && is_iso_date_shape(s)
}

fn is_iso_date_shape(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
        && (1..=12).contains(&s[5..7].parse::<u8>().unwrap_or(0))
        && (1..=31).contains(&s[8..10].parse::<u8>().unwrap_or(0))
}

const LA_COLUMNS: &[&str] = &[
    "code",
    "name",
    "dfe_la_code",
    "region_code",
    "region_name",
    "la_type",
    "london_inner_outer",
    "former_codes",
    "stat_neighbours",
    "stat_neighbours_closeness",
    "fsm_primary_pct_2025",
    "fsm_secondary_pct_2025",
    "eal_primary_pct_2025",
    "ehcp_pct_2025",
    "sen_support_pct_2025",
    "child_low_income_pct_fye2025",
    "pupils_mainstream_r_to_y11_2024_25",
    "population_0_17_mid2024",
    "rural_urban_mysoc",
    "rural_pop_pct_mysoc",
    "highly_rural_pop_pct_mysoc",
];

/// Parse `local_authorities.csv`. Checks codes, names and LA numbers are unique and well formed,
/// enums, numbers, and that every statistical neighbour is a known LA.
pub fn parse_local_authorities(table: &CsvTable, errors: &mut LoadError) -> Vec<LocalAuthority> {
    if !has_columns(table, LA_COLUMNS, errors) {
        return Vec::new();
    }
    let path = table.path.as_str();
    let mut out: Vec<LocalAuthority> = Vec::new();
    let mut codes: HashMap<String, usize> = HashMap::new();
    let mut names: HashMap<String, usize> = HashMap::new();
    let mut numbers: HashMap<u16, usize> = HashMap::new();
    for (index, r) in table.rows.iter().enumerate() {
        let line = &r.line;
        let mut row = Row {
            table,
            index,
            line: r.line,
            errors,
        };
        let code = row.required("code");
        if !code.is_empty() && !is_gss_code(&code) {
            row.err(
                "code",
                format!("\"{code}\" is not an ONS GSS code (E + 8 digits, or a provisional E + 2 digits + P + 5 digits)"),
            );
        }
        if let Some(first) = codes.insert(code.clone(), *line) {
            row.err(
                "code",
                format!("duplicate code \"{code}\" (first on line {first})"),
            );
        }
        let name = row.required("name");
        if let Some(first) = names.insert(name.clone(), *line) {
            row.err(
                "name",
                format!("duplicate name \"{name}\" (first on line {first})"),
            );
        }
        let dfe_raw = row.get("dfe_la_code").to_owned();
        let dfe_la_code = match dfe_raw.parse::<u16>() {
            Ok(n) if (100..=999).contains(&n) => Some(n),
            _ => {
                row.err(
                    "dfe_la_code",
                    format!("\"{dfe_raw}\" is not a three-digit DfE LA number"),
                );
                None
            }
        };
        if let Some(dfe_la_code) = dfe_la_code
            && let Some(first) = numbers.insert(dfe_la_code, *line)
        {
            row.err(
                "dfe_la_code",
                format!("duplicate LA number {dfe_la_code} (first on line {first})"),
            );
        }
        let region_code = row.required("region_code");
        let region_name = row.required("region_name");
        let la_type = row.one_of("la_type", schema::LA_TYPES);
        let london = row.get("london_inner_outer").to_owned();
        let london_inner_outer = match london.as_str() {
            "" => None,
            "inner" | "outer" => Some(london),
            other => {
                let msg =
                    format!("unknown value \"{other}\" (expected one of: inner, outer, or empty)");
                row.err("london_inner_outer", msg);
                None
            }
        };
        let former_codes = split_list(row.get("former_codes"));
        for fc in &former_codes {
            if !is_gss_code(fc) {
                row.err("former_codes", format!("\"{fc}\" is not an ONS GSS code"));
            }
        }
        let stat_neighbours = split_list(row.get("stat_neighbours"));
        let stat_neighbours_closeness = split_list(row.get("stat_neighbours_closeness"));
        if stat_neighbours.len() != stat_neighbours_closeness.len() {
            row.err(
                "stat_neighbours_closeness",
                format!(
                    "{} closeness bands for {} neighbours",
                    stat_neighbours_closeness.len(),
                    stat_neighbours.len()
                ),
            );
        }
        let rural_urban = match row.get("rural_urban_mysoc") {
            "" => None,
            _ => Some(row.one_of("rural_urban_mysoc", schema::RURAL_URBAN)),
        };
        let rural = row.opt_f64("rural_pop_pct_mysoc");
        let highly = row.opt_f64("highly_rural_pop_pct_mysoc");
        let verified = row.flag("verified");
        let vd = row.get("verified_date").to_owned();
        let verified_date = if vd.is_empty() {
            None
        } else if is_iso_date(&vd) {
            Some(vd)
        } else {
            row.err(
                "verified_date",
                format!("\"{vd}\" is not a date like 2026-03-31"),
            );
            None
        };
        if verified_date.is_some() && !verified {
            row.err(
                "verified_date",
                "a verified_date is given but verified is not \"true\"",
            );
        }
        let provisional_code = is_provisional_code(&code);
        let la = LocalAuthority {
            fsm_primary_pct: row.opt_f64("fsm_primary_pct_2025"),
            fsm_secondary_pct: row.opt_f64("fsm_secondary_pct_2025"),
            eal_primary_pct: row.opt_f64("eal_primary_pct_2025"),
            ehcp_pct: row.opt_f64("ehcp_pct_2025"),
            sen_support_pct: row.opt_f64("sen_support_pct_2025"),
            child_low_income_pct: row.opt_f64("child_low_income_pct_fye2025"),
            pupils: row.opt_u64("pupils_mainstream_r_to_y11_2024_25"),
            population_0_17: row.opt_u64("population_0_17_mid2024"),
            rural_pop_pct: match (rural, highly) {
                (Some(a), Some(b)) => Some(((a + b) * 10.0).round() / 10.0),
                _ => None,
            },
            code,
            name,
            dfe_la_code,
            region_code,
            region_name,
            la_type,
            london_inner_outer,
            former_codes,
            stat_neighbours,
            stat_neighbours_closeness,
            rural_urban,
            verified,
            verified_date,
            valid_from: super::timeline::RECORD_START.to_owned(),
            valid_to: None,
            replaced_by: Vec::new(),
            replaces: Vec::new(),
            provisional_code,
            line: *line,
        };
        out.push(la);
    }
    // Cross-row checks: neighbours and former codes must refer to the current set sensibly.
    for la in &out {
        for n in &la.stat_neighbours {
            if !codes.contains_key(n) {
                errors.push(
                    format!("{path}:{}", la.line),
                    Some("stat_neighbours"),
                    format!("unknown LA code \"{n}\""),
                );
            } else if *n == la.code {
                errors.push(
                    format!("{path}:{}", la.line),
                    Some("stat_neighbours"),
                    "an LA cannot be its own statistical neighbour",
                );
            }
        }
        for fc in &la.former_codes {
            if let Some(other) = codes.get(fc) {
                errors.push(
                    format!("{path}:{}", la.line),
                    Some("former_codes"),
                    format!("\"{fc}\" is the current code of the LA on line {other}"),
                );
            }
        }
    }
    out
}

const PARTNERSHIP_COLUMNS: &[&str] = &[
    "id",
    "name",
    "la_names",
    "form",
    "phases",
    "focus",
    "la_involvement",
    "legal_form",
    "membership",
    "founded",
    "website",
    "source_urls",
    "evidence_date",
    "notes",
];

/// Parse `partnerships.csv`, resolving `la_names` through `la_by_name` (ONS name → code).
pub fn parse_partnerships(
    table: &CsvTable,
    la_by_name: &HashMap<String, String>,
    errors: &mut LoadError,
) -> Vec<Partnership> {
    if !has_columns(table, PARTNERSHIP_COLUMNS, errors) {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut ids: HashMap<String, usize> = HashMap::new();
    for (index, r) in table.rows.iter().enumerate() {
        let line = &r.line;
        let mut row = Row {
            table,
            index,
            line: r.line,
            errors,
        };
        let id = row.required("id");
        if !id.is_empty()
            && !id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            row.err(
                "id",
                format!("\"{id}\" is not a lower-case slug (a-z, 0-9, -)"),
            );
        }
        if let Some(first) = ids.insert(id.clone(), *line) {
            row.err(
                "id",
                format!("duplicate id \"{id}\" (first on line {first})"),
            );
        }
        let name = row.required("name");
        let mut la_codes = Vec::new();
        let names = split_list(row.get("la_names"));
        if names.is_empty() {
            row.err("la_names", "at least one LA is required");
        }
        for n in names {
            match la_by_name.get(&n) {
                Some(code) if la_codes.contains(code) => {
                    row.err("la_names", format!("LA \"{n}\" is listed twice"));
                }
                Some(code) => la_codes.push(code.clone()),
                None => row.err(
                    "la_names",
                    format!("no local authority is named \"{n}\" in local_authorities.csv"),
                ),
            }
        }
        let form = row.one_of("form", schema::FORMS);
        let phases = row.list_of("phases", schema::PHASES);
        let focus = row.list_of("focus", schema::FOCUS);
        let la_involvement = row.one_of("la_involvement", schema::LA_INVOLVEMENT);
        let legal_form = row.one_of("legal_form", schema::LEGAL_FORMS);
        let founded_raw = row.get("founded").to_owned();
        let founded = if founded_raw.is_empty() {
            None
        } else if let Some(y) = founded_raw
            .parse::<u16>()
            .ok()
            .filter(|y| (1800..=2100).contains(y))
        {
            Some(y)
        } else {
            row.err("founded", format!("\"{founded_raw}\" is not a year"));
            None
        };
        let website = row.urls("website", false).into_iter().next();
        let source_urls = row.urls("source_urls", true);
        let evidence_date = row.evidence_date("evidence_date");
        out.push(Partnership {
            id,
            name,
            la_codes,
            form,
            phases,
            focus,
            la_involvement,
            legal_form,
            membership: row.get("membership").to_owned(),
            founded,
            website,
            source_urls,
            evidence_date,
            notes: row.get("notes").to_owned(),
            line: *line,
        });
    }
    out
}

const ROLE_COLUMNS: &[&str] = &[
    "la_name",
    "funder",
    "convener",
    "deliverer",
    "traded_service",
    "summary",
    "source_urls",
    "evidence_date",
];

/// Parse `la_school_improvement.csv`: one row per LA at most.
pub fn parse_roles(
    table: &CsvTable,
    la_by_name: &HashMap<String, String>,
    errors: &mut LoadError,
) -> Vec<LaRole> {
    if !has_columns(table, ROLE_COLUMNS, errors) {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (index, r) in table.rows.iter().enumerate() {
        let line = &r.line;
        let mut row = Row {
            table,
            index,
            line: r.line,
            errors,
        };
        let la_name = row.required("la_name");
        let Some(code) = la_by_name.get(&la_name).cloned() else {
            if !la_name.is_empty() {
                row.err(
                    "la_name",
                    format!("no local authority is named \"{la_name}\" in local_authorities.csv"),
                );
            }
            continue;
        };
        if let Some(first) = seen.insert(code.clone(), *line) {
            row.err(
                "la_name",
                format!("second row for \"{la_name}\" (first on line {first})"),
            );
        }
        let role = LaRole {
            la_code: code,
            funder: row.flag("funder"),
            convener: row.flag("convener"),
            deliverer: row.flag("deliverer"),
            traded_service: row.flag("traded_service"),
            summary: row.required("summary"),
            source_urls: row.urls("source_urls", true),
            evidence_date: row.evidence_date("evidence_date"),
            line: *line,
        };
        out.push(role);
    }
    out
}

const REORGANISATION_COLUMNS: &[&str] = &[
    "vesting_date",
    "status",
    "abolished_codes",
    "abolished_names",
    "new_code",
    "new_name",
    "new_la_type",
    "code_status",
    "made_of",
    "districts",
    "source_urls",
    "notes",
];

/// Values of `reorganisations.csv` column `made_of`: whole districts, a recode, or a
/// boundary file (`geometries/<new_code>.geojson`) with optional whole districts.
pub const MADE_OF: &[&str] = &["districts", "recode", "geometry"];

/// Values of `reorganisations.csv` column `status`.
pub const REORGANISATION_STATUSES: &[&str] = &["decided", "in_force"];

/// Parse `reorganisations.csv` row by row (codes, dates, enums, URLs). How the rows fit the LAs
/// and the districts is checked by `timeline::Timeline::build`.
pub fn parse_reorganisations(table: &CsvTable, errors: &mut LoadError) -> Vec<Reorganisation> {
    if !has_columns(table, REORGANISATION_COLUMNS, errors) {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut new_codes: HashMap<String, usize> = HashMap::new();
    for (index, r) in table.rows.iter().enumerate() {
        let mut row = Row {
            table,
            index,
            line: r.line,
            errors,
        };
        let vesting_date = row.required("vesting_date");
        if !vesting_date.is_empty() && !is_iso_date(&vesting_date) {
            row.err(
                "vesting_date",
                format!("\"{vesting_date}\" is not a date like 2027-04-01"),
            );
        }
        let status = row.one_of("status", REORGANISATION_STATUSES);
        let abolished = split_list(row.get("abolished_codes"));
        if abolished.is_empty() {
            row.err("abolished_codes", "required value is empty");
        }
        for c in &abolished {
            if !is_gss_code(c) {
                row.err("abolished_codes", format!("\"{c}\" is not an ONS GSS code"));
            }
        }
        let abolished_names = split_list(row.get("abolished_names"));
        if abolished_names.len() != abolished.len() {
            row.err(
                "abolished_names",
                format!(
                    "{} names for {} abolished codes",
                    abolished_names.len(),
                    abolished.len()
                ),
            );
        }
        let new_code = row.required("new_code");
        let code_status = row.one_of("code_status", &["ons", "provisional"]);
        if !new_code.is_empty() {
            if !is_gss_code(&new_code) {
                row.err(
                    "new_code",
                    format!("\"{new_code}\" is not an ONS GSS code (E + 8 digits) or a provisional code (E + 2 digits + P + 5 digits)"),
                );
            } else if (code_status == "provisional") != is_provisional_code(&new_code) {
                row.err(
                    "code_status",
                    format!("\"{code_status}\" does not fit the code \"{new_code}\" (provisional codes have P as 4th character)"),
                );
            }
            if let Some(first) = new_codes.insert(new_code.clone(), r.line) {
                row.err(
                    "new_code",
                    format!("duplicate new code \"{new_code}\" (first on line {first})"),
                );
            }
            if abolished.contains(&new_code) {
                row.err("new_code", "a new LA cannot replace itself");
            }
        }
        let new_name = row.required("new_name");
        let new_la_type = row.one_of("new_la_type", schema::LA_TYPES);
        let districts = split_list(row.get("districts"));
        let made_of = match row.one_of("made_of", MADE_OF).as_str() {
            "districts" => {
                if districts.is_empty() {
                    row.err(
                        "districts",
                        "made_of is \"districts\" but no district is listed",
                    );
                }
                MadeOf::Districts(districts)
            }
            "geometry" => MadeOf::Geometry {
                file: super::timeline::geometry_file(&new_code),
                districts,
            },
            _ => {
                if !districts.is_empty() {
                    row.err(
                        "districts",
                        "districts are listed but made_of is \"recode\"",
                    );
                }
                if abolished.len() != 1 {
                    row.err("abolished_codes", "a recode replaces exactly one LA");
                }
                MadeOf::Recode
            }
        };
        for d in made_of.whole_districts() {
            if !is_gss_code(d) {
                row.err("districts", format!("\"{d}\" is not an ONS GSS code"));
            }
        }
        let source_urls = row.urls("source_urls", true);
        let notes = row.get("notes").to_owned();
        out.push(Reorganisation {
            vesting_date,
            status,
            abolished,
            abolished_names,
            new_code,
            new_name,
            new_la_type,
            made_of,
            source_urls,
            notes,
            line: r.line,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_must_be_http_with_a_public_host() {
        assert!(check_url("https://www.example.org/a?b=1").is_ok());
        assert!(check_url("ftp://example.org").is_err());
        assert!(check_url("https://localhost/").is_err());
        assert!(check_url("www.example.org").is_err());
    }

    #[test]
    fn iso_dates_are_checked_field_by_field() {
        assert!(is_iso_date("2026-03-31"));
        assert!(!is_iso_date("2026-13-01"));
        assert!(!is_iso_date("31/03/2026"));
    }
}
