//! The web map's measures (what colours an LA), with the same colours, breaks and legend as
//! `web/static/map.js` and `styles/default.json`. A browser test evaluates the web map's own
//! MapLibre expressions for every LA and compares them with the colours drawn here.

use crate::dataset::Dataset;
use crate::model::Value;

/// Colour of an LA without any evidence yet (the style's `la-fill-no-data` layer).
pub const NO_DATA: &str = "#d4d4d4";
/// Map background (the style's `background` layer).
pub const BACKGROUND: &str = "#eef3f7";
/// Fill opacity of the LA polygons (the style's `fill-opacity`).
pub const FILL_OPACITY: f64 = 0.9;
/// Outline colour of every LA (`la-outline`).
pub const OUTLINE: &str = "#4a4a4a";
/// Outline of statistical neighbours / compared LAs (`la-similar`).
pub const SIMILAR: &str = "#d55e00";
/// Outline of the selected LA (`la-selected`).
pub const SELECTED: &str = "#000000";

/// What colours the LAs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Measure {
    /// Number of partnerships (ColorBrewer YlGnBu steps).
    #[default]
    Count,
    /// The LA's role in school improvement (Okabe–Ito).
    Role,
    /// Verified by the LA.
    Verified,
}

/// Partnership-count steps: `(lowest count, colour, legend label)`.
const COUNT_STEPS: &[(u64, &str, &str)] = &[
    (0, "#ffffcc", "0 (LA role only)"),
    (1, "#c7e9b4", "1"),
    (2, "#7fcdbb", "2"),
    (3, "#41b6c4", "3–4"),
    (5, "#2c7fb8", "5–7"),
    (8, "#253494", "8 or more"),
];

const SEVERAL: &str = "#56b4e9";
const CONVENER: &str = "#0072b2";
const DELIVERER: &str = "#e69f00";
const FUNDER: &str = "#009e73";
const TRADED: &str = "#cc79a7";
const NO_ROLE: &str = "#f2f2f2";
const VERIFIED: &str = "#0072b2";
const UNVERIFIED: &str = "#f0f0f0";

fn attr<'a>(ds: &'a Dataset, la: usize, name: &str) -> Option<&'a Value> {
    ds.attributes[la]
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

fn flag(ds: &Dataset, la: usize, name: &str) -> bool {
    matches!(attr(ds, la, name), Some(Value::Bool(true)))
}

impl Measure {
    /// Parse the web map's `measure=` value.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "count" => Some(Self::Count),
            "role" => Some(Self::Role),
            "verified" => Some(Self::Verified),
            _ => None,
        }
    }

    /// The URL value.
    #[must_use]
    pub fn key(self) -> &'static str {
        match self {
            Self::Count => "count",
            Self::Role => "role",
            Self::Verified => "verified",
        }
    }

    /// The legend's title.
    #[must_use]
    pub fn title(self) -> &'static str {
        match self {
            Self::Count => "Number of partnerships",
            Self::Role => "LA's role in school improvement",
            Self::Verified => "Verified by the LA",
        }
    }

    /// The legend: `(label, colour)`, with "No data yet" while some LA has no evidence.
    #[must_use]
    pub fn legend(self, ds: &Dataset) -> Vec<(&'static str, &'static str)> {
        let mut out: Vec<(&str, &str)> = match self {
            Self::Count => COUNT_STEPS.iter().map(|&(_, c, l)| (l, c)).collect(),
            Self::Role => vec![
                ("Several roles", SEVERAL),
                ("Convener", CONVENER),
                ("Deliverer", DELIVERER),
                ("Funder", FUNDER),
                ("Traded service", TRADED),
                ("No LA-role entry", NO_ROLE),
            ],
            Self::Verified => vec![("Verified", VERIFIED), ("Not yet verified", UNVERIFIED)],
        };
        if (0..ds.las.len()).any(|i| !flag(ds, i, "has_data")) {
            out.push(("No data yet", NO_DATA));
        }
        out
    }

    /// The fill colour of LA `la`, exactly as the web map's expression computes it.
    #[must_use]
    pub fn colour(self, ds: &Dataset, la: usize) -> &'static str {
        if !flag(ds, la, "has_data") {
            return NO_DATA;
        }
        match self {
            Self::Count => {
                let n = match attr(ds, la, "partnership_count") {
                    Some(Value::Uint(n)) => *n,
                    _ => 0,
                };
                COUNT_STEPS
                    .iter()
                    .rev()
                    .find(|(from, _, _)| n >= *from)
                    .map_or(COUNT_STEPS[0].1, |s| s.1)
            }
            Self::Role => {
                if !flag(ds, la, "has_role_entry") {
                    return NO_ROLE;
                }
                let roles = ["funder", "convener", "deliverer", "traded_service"]
                    .iter()
                    .filter(|r| flag(ds, la, &format!("role_{r}")))
                    .count();
                if roles >= 2 {
                    SEVERAL
                } else if flag(ds, la, "role_convener") {
                    CONVENER
                } else if flag(ds, la, "role_deliverer") {
                    DELIVERER
                } else if flag(ds, la, "role_funder") {
                    FUNDER
                } else if flag(ds, la, "role_traded_service") {
                    TRADED
                } else {
                    NO_ROLE
                }
            }
            Self::Verified => {
                if flag(ds, la, "verified") {
                    VERIFIED
                } else {
                    UNVERIFIED
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The count steps are the ones in `styles/default.json` (the style the web map loads).
    #[test]
    fn count_steps_match_the_shipped_style() {
        let style: serde_json::Value =
            serde_json::from_str(crate::style::STYLE_TEMPLATE).expect("style");
        let layer = style["layers"]
            .as_array()
            .expect("layers")
            .iter()
            .find(|l| l["id"] == "la-fill")
            .expect("la-fill");
        let step = layer["paint"]["fill-color"].as_array().expect("step");
        assert_eq!(step[0], "step");
        let mut stops = vec![(0, step[2].as_str().expect("base").to_owned())];
        for pair in step[3..].chunks(2) {
            stops.push((
                pair[0].as_u64().expect("break"),
                pair[1].as_str().expect("colour").to_owned(),
            ));
        }
        let ours: Vec<(u64, String)> = COUNT_STEPS
            .iter()
            .map(|(n, c, _)| (*n, (*c).to_owned()))
            .collect();
        assert_eq!(stops, ours);
        let no_data = style["layers"]
            .as_array()
            .expect("layers")
            .iter()
            .find(|l| l["id"] == "la-fill-no-data")
            .expect("no-data layer");
        assert_eq!(no_data["paint"]["fill-color"], NO_DATA);
        assert_eq!(no_data["paint"]["fill-opacity"], FILL_OPACITY);
        let bg = &style["layers"][0];
        assert_eq!(bg["paint"]["background-color"], BACKGROUND);
    }
}
