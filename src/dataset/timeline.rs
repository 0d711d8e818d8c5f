//! Stage 0c: councils over time. `data/reorganisations.csv` says which LAs are abolished and
//! made on which vesting date; this module gives every LA its lifetime, makes the new LAs' rows,
//! and cuts time into vintages (the spans over which the set of LAs stays the same).
//!
//! Pure functions over plain rows. ISO dates (`YYYY-MM-DD`) compare as text.

use std::collections::{BTreeSet, HashMap};

use super::problems::LoadError;
use crate::model::{LocalAuthority, Reorganisation};

/// The first day the map records: the April 2023 set of the shipped boundaries.
pub const RECORD_START: &str = "2023-04-01";

/// File name of the reorganisation table inside `--data` (optional: absent means none).
pub const REORGANISATIONS_FILE: &str = "reorganisations.csv";

/// Folder inside `--data` of the boundary files of new LAs made (partly) of split districts.
pub const GEOMETRIES_DIR: &str = "geometries";

/// The boundary file of the new LA `new_code` when `made_of` is `geometry`, relative to
/// `--data`: `geometries/<new_code>.geojson` (the table names no file; the code does).
#[must_use]
pub fn geometry_file(new_code: &str) -> String {
    format!("{GEOMETRIES_DIR}/{new_code}.geojson")
}

/// The reorganisations, and the vintages they cut time into.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Timeline {
    /// Rows of `reorganisations.csv`, in file order.
    pub reorganisations: Vec<Reorganisation>,
    /// First day of each vintage, ascending; the first is [`RECORD_START`].
    pub starts: Vec<String>,
}

impl Timeline {
    /// The vintages of `reorganisations` (pure).
    #[must_use]
    pub fn new(reorganisations: Vec<Reorganisation>) -> Self {
        let dates: BTreeSet<String> = std::iter::once(RECORD_START.to_owned())
            .chain(
                reorganisations
                    .iter()
                    .filter(|r| r.vesting_date.as_str() > RECORD_START)
                    .map(|r| r.vesting_date.clone()),
            )
            .collect();
        Self {
            reorganisations,
            starts: dates.into_iter().collect(),
        }
    }

    /// The vintage in force on `day`; `None` before the record starts.
    #[must_use]
    pub fn vintage_of(&self, day: &str) -> Option<usize> {
        if day < RECORD_START {
            return None;
        }
        Some(
            self.starts
                .iter()
                .rposition(|s| s.as_str() <= day)
                .unwrap_or(0),
        )
    }

    /// First day of vintage `k`.
    #[must_use]
    pub fn start(&self, k: usize) -> &str {
        self.starts.get(k).map_or(RECORD_START, String::as_str)
    }

    /// First day after vintage `k`, if a later vintage is known.
    #[must_use]
    pub fn end(&self, k: usize) -> Option<&str> {
        self.starts.get(k + 1).map(String::as_str)
    }

    /// Vesting dates, with the names of the LAs made and abolished on each (for the date
    /// control and the README's "what happens on vesting day").
    #[must_use]
    pub fn vesting_dates(&self) -> Vec<(&str, Vec<&Reorganisation>)> {
        self.starts
            .iter()
            .skip(1)
            .map(|d| {
                (
                    d.as_str(),
                    self.reorganisations
                        .iter()
                        .filter(|r| &r.vesting_date == d)
                        .collect(),
                )
            })
            .collect()
    }
}

/// Give every LA of `las` its lifetime and add the LAs `reorganisations` make, in vesting-date
/// order. Checks that each abolished LA exists and is in force the day before, that names agree,
/// and that new codes and names are new. Problems are recorded at `path:line`.
pub fn apply(
    las: &mut Vec<LocalAuthority>,
    reorganisations: &[Reorganisation],
    path: &str,
    errors: &mut LoadError,
) {
    let mut order: Vec<&Reorganisation> = reorganisations.iter().collect();
    order.sort_by(|a, b| {
        a.vesting_date
            .cmp(&b.vesting_date)
            .then(a.line.cmp(&b.line))
    });
    for r in order {
        let at = format!("{path}:{}", r.line);
        let index: HashMap<String, usize> = las
            .iter()
            .enumerate()
            .map(|(i, la)| (la.code.clone(), i))
            .collect();
        if r.vesting_date.as_str() <= RECORD_START {
            errors.push(
                &at,
                Some("vesting_date"),
                format!("the map's records start on {RECORD_START}; a vesting date must be later"),
            );
            continue;
        }
        if index.contains_key(r.new_code.as_str()) {
            errors.push(
                &at,
                Some("new_code"),
                format!("\"{}\" is already an LA's code", r.new_code),
            );
            continue;
        }
        if las.iter().any(|l| l.name == r.new_name) {
            errors.push(
                &at,
                Some("new_name"),
                format!("\"{}\" is already an LA's name", r.new_name),
            );
            continue;
        }
        let mut ok = true;
        for (k, code) in r.abolished.iter().enumerate() {
            let Some(&i) = index.get(code.as_str()) else {
                errors.push(
                    &at,
                    Some("abolished_codes"),
                    format!("no LA has the code \"{code}\""),
                );
                ok = false;
                continue;
            };
            let la = &las[i];
            if let Some(name) = r.abolished_names.get(k)
                && name != &la.name
            {
                errors.push(
                    &at,
                    Some("abolished_names"),
                    format!("\"{name}\" is not the name of {code} (\"{}\")", la.name),
                );
                ok = false;
            }
            if la.valid_from.as_str() >= r.vesting_date.as_str() {
                errors.push(
                    &at,
                    Some("abolished_codes"),
                    format!("{code} is not yet in force before {}", r.vesting_date),
                );
                ok = false;
            }
            if let Some(to) = &la.valid_to
                && to != &r.vesting_date
            {
                errors.push(
                    &at,
                    Some("abolished_codes"),
                    format!("{code} is already abolished on {to}"),
                );
                ok = false;
            }
        }
        if !ok {
            continue;
        }
        let first = index[r.abolished[0].as_str()];
        let region = (
            las[first].region_code.clone(),
            las[first].region_name.clone(),
        );
        for code in &r.abolished {
            let la = &mut las[index[code.as_str()]];
            la.valid_to = Some(r.vesting_date.clone());
            la.replaced_by.push(r.new_code.clone());
        }
        las.push(LocalAuthority {
            code: r.new_code.clone(),
            name: r.new_name.clone(),
            dfe_la_code: None,
            region_code: region.0,
            region_name: region.1,
            la_type: r.new_la_type.clone(),
            london_inner_outer: None,
            former_codes: Vec::new(),
            stat_neighbours: Vec::new(),
            stat_neighbours_closeness: Vec::new(),
            fsm_primary_pct: None,
            fsm_secondary_pct: None,
            eal_primary_pct: None,
            ehcp_pct: None,
            sen_support_pct: None,
            child_low_income_pct: None,
            pupils: None,
            population_0_17: None,
            rural_urban: None,
            rural_pop_pct: None,
            verified: false,
            verified_date: None,
            valid_from: r.vesting_date.clone(),
            valid_to: None,
            replaced_by: Vec::new(),
            replaces: r.abolished.clone(),
            provisional_code: super::tables::is_provisional_code(&r.new_code),
            line: 0,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::MadeOf;

    fn reorg(date: &str, new: &str) -> Reorganisation {
        Reorganisation {
            vesting_date: date.to_owned(),
            status: "decided".to_owned(),
            abolished: vec!["E10000030".to_owned()],
            abolished_names: vec!["Surrey".to_owned()],
            new_code: new.to_owned(),
            new_name: new.to_owned(),
            new_la_type: "unitary".to_owned(),
            made_of: MadeOf::Recode,
            source_urls: Vec::new(),
            notes: String::new(),
            line: 2,
        }
    }

    #[test]
    fn vintages_split_at_vesting_dates_and_refuse_days_before_the_record() {
        let t = Timeline::new(vec![
            reorg("2027-04-01", "E06P00001"),
            reorg("2028-04-01", "E06P00002"),
            reorg("2027-04-01", "E06P00003"),
        ]);
        assert_eq!(t.starts, ["2023-04-01", "2027-04-01", "2028-04-01"]);
        assert_eq!(t.vintage_of("2023-03-31"), None);
        assert_eq!(t.vintage_of("2023-04-01"), Some(0));
        assert_eq!(t.vintage_of("2027-03-31"), Some(0));
        assert_eq!(t.vintage_of("2027-04-01"), Some(1));
        assert_eq!(t.vintage_of("2030-01-01"), Some(2));
        assert_eq!(t.end(0), Some("2027-04-01"));
        assert_eq!(t.end(2), None);
        assert_eq!(t.vesting_dates()[0].1.len(), 2);
    }
}
