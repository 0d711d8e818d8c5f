//! The one place that defines the dataset's vocabularies and every attribute baked into the tiles.
//!
//! The enums below are the documented values of `data/SOURCES.md`; the loader rejects anything else.
//! [`la_fields`] and [`label_fields`] list every tile attribute with its type, meaning and source.
//! The tile encoder, TileJSON's `vector_layers` and `docs/FIELDS.md` are all generated from these
//! lists, so they cannot drift apart.

use crate::model::{LaFacts, Value};

/// Values of `partnerships.csv` column `form`.
pub const FORMS: &[&str] = &[
    "school_led_company",
    "school_led_network",
    "la_convened_partnership",
    "la_traded_service",
    "third_party_organisation",
    "phase_or_subject_network",
    "cross_sector_collaboration",
    "other",
];

/// Values of `partnerships.csv` column `phases` (a `;`-separated list).
pub const PHASES: &[&str] = &[
    "early_years",
    "primary",
    "secondary",
    "special",
    "post16",
    "all",
];

/// Values of `partnerships.csv` column `focus` (a `;`-separated list).
pub const FOCUS: &[&str] = &[
    "accountability",
    "attendance",
    "careers_employment",
    "collective_voice",
    "cpd",
    "curriculum",
    "disadvantage",
    "early_years",
    "enrichment",
    "exclusions",
    "family_engagement",
    "governance",
    "leadership",
    "lifelong_learning",
    "literacy",
    "maths",
    "pe_sport",
    "peer_review",
    "post16",
    "race_equity",
    "recruitment_retention",
    "research",
    "safeguarding",
    "school_improvement",
    "school_places",
    "school_to_school_support",
    "send_inclusion",
    "stem",
    "student_voice",
    "traded_services",
    "transition",
    "wellbeing",
];

/// Values of `partnerships.csv` column `la_involvement`.
pub const LA_INVOLVEMENT: &[&str] = &["member", "funder", "convener", "owner", "none", "unknown"];

/// Values of `partnerships.csv` column `legal_form`.
pub const LEGAL_FORMS: &[&str] = &[
    "company_limited_by_guarantee",
    "charity",
    "community_interest_company",
    "unincorporated",
    "la_service",
    "unknown",
];

/// The LA's own roles in school improvement: columns of `la_school_improvement.csv`.
pub const ROLES: &[&str] = &["funder", "convener", "deliverer", "traded_service"];

/// Values of `local_authorities.csv` column `la_type`.
pub const LA_TYPES: &[&str] = &[
    "county",
    "unitary",
    "metropolitan_district",
    "london_borough",
    "city_of_london",
    "isles_of_scilly",
];

/// Values of `local_authorities.csv` column `rural_urban_mysoc`.
pub const RURAL_URBAN: &[&str] = &[
    "Urban",
    "Urban with rural areas",
    "Rural",
    "Sparse and rural",
];

/// The MVT value type of a field, as TileJSON names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    /// UTF-8 string.
    String,
    /// Whole number (encoded as MVT `uint_value`).
    Number,
    /// Decimal number (encoded as MVT `double_value`).
    Decimal,
    /// true/false (encoded as MVT `bool_value`).
    Boolean,
}

impl FieldType {
    /// The type name TileJSON's `vector_layers` uses.
    #[must_use]
    pub fn tilejson_name(self) -> &'static str {
        match self {
            Self::String => "String",
            Self::Number | Self::Decimal => "Number",
            Self::Boolean => "Boolean",
        }
    }

    /// Whether `value` has this field's type.
    #[must_use]
    pub fn matches(self, value: &Value) -> bool {
        matches!(
            (self, value),
            (Self::String, Value::Str(_))
                | (Self::Number, Value::Uint(_))
                | (Self::Decimal, Value::Double(_))
                | (Self::Boolean, Value::Bool(_))
        )
    }
}

/// Where a field's value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// ONS boundaries and codes (`boundaries/`, OGL v3).
    Ons,
    /// `data/local_authorities.csv`, DfE/ONS/DWP figures (OGL v3).
    LaTable,
    /// `data/local_authorities.csv`, mySociety columns (CC BY 4.0).
    MySociety,
    /// Derived from `data/partnerships.csv`.
    Partnerships,
    /// `data/la_school_improvement.csv`.
    LaRole,
    /// The research team's verification columns.
    Verification,
    /// `data/reorganisations.csv`: when LAs are made and abolished.
    Reorganisations,
    /// Computed by the server from the geometry.
    Computed,
}

impl Source {
    /// Short human description used in docs and TileJSON.
    #[must_use]
    pub fn describe(self) -> &'static str {
        match self {
            Self::Ons => "ONS (OGL v3)",
            Self::LaTable => "data/local_authorities.csv (DfE/ONS/DWP, OGL v3)",
            Self::MySociety => "data/local_authorities.csv (mySociety, CC BY 4.0)",
            Self::Partnerships => "data/partnerships.csv",
            Self::LaRole => "data/la_school_improvement.csv",
            Self::Verification => "data/local_authorities.csv columns verified, verified_date",
            Self::Reorganisations => "data/reorganisations.csv",
            Self::Computed => "computed by partnership-map",
        }
    }
}

/// How a field's value is read from one LA's facts.
#[derive(Clone, Copy)]
pub enum Extract {
    /// A plain accessor.
    Get(fn(&LaFacts) -> Option<Value>),
    /// Count of the LA's partnerships with this `form`.
    FormCount(&'static str),
    /// Whether any of the LA's partnerships has this focus tag.
    Focus(&'static str),
    /// Whether any of the LA's partnerships covers this phase.
    Phase(&'static str),
}

/// One attribute of a tile layer.
#[derive(Clone)]
pub struct Field {
    /// Attribute name in the tile.
    pub name: String,
    /// Value type.
    pub ty: FieldType,
    /// `true` if the attribute is left out when unknown (MVT has no null).
    pub optional: bool,
    /// Meaning, for people.
    pub description: String,
    /// Provenance.
    pub source: Source,
    /// How to compute it.
    pub extract: Extract,
}

impl Field {
    /// The value of this field for one LA, `None` when unknown.
    #[must_use]
    pub fn value(&self, la: &LaFacts) -> Option<Value> {
        match self.extract {
            Extract::Get(f) => f(la),
            Extract::FormCount(form) => Some(Value::Uint(
                la.partnerships.iter().filter(|p| p.form == form).count() as u64,
            )),
            Extract::Focus(tag) => Some(Value::Bool(
                la.partnerships
                    .iter()
                    .any(|p| p.focus.iter().any(|f| f == tag)),
            )),
            Extract::Phase(phase) => Some(Value::Bool(
                la.partnerships
                    .iter()
                    .any(|p| p.phases.iter().any(|f| f == phase)),
            )),
        }
    }
}

fn field(
    name: &str,
    ty: FieldType,
    optional: bool,
    source: Source,
    description: &str,
    get: fn(&LaFacts) -> Option<Value>,
) -> Field {
    Field {
        name: name.to_owned(),
        ty,
        optional,
        description: description.to_owned(),
        source,
        extract: Extract::Get(get),
    }
}

fn s(v: &str) -> Option<Value> {
    Some(Value::Str(v.to_owned()))
}

fn d(v: Option<f64>) -> Option<Value> {
    v.map(Value::Double)
}

fn u(v: Option<u64>) -> Option<Value> {
    v.map(Value::Uint)
}

fn b(v: bool) -> Option<Value> {
    Some(Value::Bool(v))
}

/// Every attribute of layer `local_authorities`, in tile order.
#[must_use]
#[allow(clippy::too_many_lines)]
pub fn la_fields() -> Vec<Field> {
    use FieldType::{Boolean, Decimal, Number, String};
    use Source::{
        Computed, LaRole, LaTable, MySociety, Ons, Partnerships, Reorganisations, Verification,
    };
    let mut f = vec![
        field(
            "code",
            String,
            false,
            Ons,
            "ONS GSS code of the upper-tier LA (current code; join key)",
            |l| s(&l.la.code),
        ),
        field(
            "name",
            String,
            false,
            Ons,
            "ONS name of the LA, e.g. \"Bristol, City of\"",
            |l| s(&l.la.name),
        ),
        field(
            "dfe_la_code",
            Number,
            true,
            LaTable,
            "DfE three-digit LA number (also the feature id); left out for a new LA that DfE has not numbered yet, whose feature id is then a stable number above 999",
            |l| u(l.la.dfe_la_code.map(u64::from)),
        ),
        field(
            "region",
            String,
            false,
            LaTable,
            "ONS region name, e.g. \"North East\"",
            |l| s(&l.la.region_name),
        ),
        field(
            "region_code",
            String,
            false,
            LaTable,
            "ONS region code (E12…)",
            |l| s(&l.la.region_code),
        ),
        field(
            "la_type",
            String,
            false,
            LaTable,
            "county, unitary, metropolitan_district, london_borough, city_of_london or isles_of_scilly",
            |l| s(&l.la.la_type),
        ),
        field(
            "london_inner_outer",
            String,
            true,
            LaTable,
            "inner or outer, for London only",
            |l| l.la.london_inner_outer.as_deref().and_then(s),
        ),
        field(
            "partnership_count",
            Number,
            false,
            Partnerships,
            "number of partnerships recorded in this LA (a partnership spanning several LAs counts in each)",
            |l| u(Some(l.partnerships.len() as u64)),
        ),
    ];
    for form in FORMS {
        f.push(Field {
            name: format!("form_{form}"),
            ty: Number,
            optional: false,
            description: format!("number of the LA's partnerships whose form is {form}"),
            source: Partnerships,
            extract: Extract::FormCount(form),
        });
    }
    for phase in PHASES {
        f.push(Field {
            name: format!("phase_{phase}"),
            ty: Boolean,
            optional: false,
            description: format!("true if any of the LA's partnerships covers phase {phase}"),
            source: Partnerships,
            extract: Extract::Phase(phase),
        });
    }
    for tag in FOCUS {
        f.push(Field {
            name: format!("focus_{tag}"),
            ty: Boolean,
            optional: false,
            description: format!("true if any of the LA's partnerships has focus {tag}"),
            source: Partnerships,
            extract: Extract::Focus(tag),
        });
    }
    f.extend([
        field("has_role_entry", Boolean, false, LaRole, "true if the LA has a row describing its own role", |l| b(l.role.is_some())),
        field("role_funder", Boolean, false, LaRole, "the LA funds or commissions school improvement from another body (false = not evidenced)", |l| b(l.role.as_ref().is_some_and(|r| r.funder))),
        field("role_convener", Boolean, false, LaRole, "the LA set up, chairs or hosts a partnership or board with schools (false = not evidenced)", |l| b(l.role.as_ref().is_some_and(|r| r.convener))),
        field("role_deliverer", Boolean, false, LaRole, "the LA delivers school improvement itself (false = not evidenced)", |l| b(l.role.as_ref().is_some_and(|r| r.deliverer))),
        field("role_traded_service", Boolean, false, LaRole, "the LA or a company it owns sells school improvement services (false = not evidenced)", |l| b(l.role.as_ref().is_some_and(|r| r.traded_service))),
        field("has_data", Boolean, false, Partnerships, "true if the LA has at least one partnership or an LA-role row; false = no data yet", |l| b(!l.partnerships.is_empty() || l.role.is_some())),
        field("verified", Boolean, false, Verification, "true if the LA has verified its summary", |l| b(l.la.verified)),
        field("verified_date", String, true, Verification, "date (YYYY-MM-DD) the LA verified its summary, when known", |l| l.la.verified_date.as_deref().and_then(s)),
        field("stat_neighbours", String, false, LaTable, "the 10 DfE statistical neighbours, most similar first, as comma-separated GSS codes", |l| s(&l.la.stat_neighbours.join(","))),
        field("fsm_primary_pct", Decimal, true, LaTable, "% of state-funded primary pupils eligible for free school meals, January 2025", |l| d(l.la.fsm_primary_pct)),
        field("fsm_secondary_pct", Decimal, true, LaTable, "% of state-funded secondary pupils eligible for free school meals, January 2025", |l| d(l.la.fsm_secondary_pct)),
        field("eal_primary_pct", Decimal, true, LaTable, "% of primary pupils with English as an additional language, January 2025", |l| d(l.la.eal_primary_pct)),
        field("ehcp_pct", Decimal, true, LaTable, "% of pupils with an EHC plan, January 2025", |l| d(l.la.ehcp_pct)),
        field("sen_support_pct", Decimal, true, LaTable, "% of pupils on SEN support, January 2025", |l| d(l.la.sen_support_pct)),
        field("child_low_income_pct", Decimal, true, LaTable, "% of children under 16 in relative low-income families (DWP, FYE 2025)", |l| d(l.la.child_low_income_pct)),
        field("pupils", Number, true, LaTable, "pupils on roll, reception to Y11, state-funded mainstream schools, 2024/25", |l| u(l.la.pupils)),
        field("population_0_17", Number, true, LaTable, "ONS mid-2024 population aged 0-17", |l| u(l.la.population_0_17)),
        field("rural_urban", String, true, MySociety, "mySociety composite: Urban, Urban with rural areas, Rural or Sparse and rural", |l| l.la.rural_urban.as_deref().and_then(s)),
        field("rural_pop_pct", Decimal, true, MySociety, "% of population in rural plus highly rural areas (mySociety)", |l| d(l.la.rural_pop_pct)),
        field("area_km2", Decimal, false, Computed, "land area in km² (clipped to mean high water), from the boundary polygon", |l| d(Some(l.area_km2))),
        field("valid_from", String, false, Reorganisations, "first day (YYYY-MM-DD) the LA is in force: its vesting date, or 2023-04-01 (when the map's records start) for an LA of the shipped boundaries", |l| s(&l.la.valid_from)),
        field("valid_to", String, true, Reorganisations, "first day (YYYY-MM-DD) the LA is no longer in force, when a reorganisation abolishes it", |l| l.la.valid_to.as_deref().and_then(s)),
        field("provisional_code", Boolean, false, Reorganisations, "true if ONS has not published the LA's code yet and `code` is the documented provisional one", |l| b(l.la.provisional_code)),
        field("inherited_from", String, true, Reorganisations, "for a new LA: the names of the LAs it replaces, from which its partnerships and LA-role row are carried over (comma-separated)", |l| (!l.predecessor_names.is_empty()).then(|| Value::Str(l.predecessor_names.join(", ")))),
        field("inherited_partnerships", Number, true, Reorganisations, "for a new LA: how many of its partnerships are carried over from the LAs it replaces and not yet confirmed for it", |l| l.inherited.map(|i| Value::Uint(i.partnerships.len() as u64))),
        field("role_inherited", Boolean, true, Reorganisations, "for a new LA: true if its LA-role row is carried over from the LA it replaces and not yet confirmed for it", |l| l.inherited.map(|i| Value::Bool(i.role))),
    ]);
    f
}

/// Every attribute of layer `la_labels`.
#[must_use]
pub fn label_fields() -> Vec<Field> {
    la_fields()
        .into_iter()
        .filter(|f| matches!(f.name.as_str(), "code" | "name" | "partnership_count"))
        .collect()
}

/// Name of the polygon layer.
pub const LA_LAYER: &str = "local_authorities";
/// Name of the label-point layer.
pub const LABEL_LAYER: &str = "la_labels";

/// The field reference as Markdown, the content of `docs/FIELDS.md`.
#[must_use]
pub fn fields_markdown() -> String {
    use std::fmt::Write as _;
    let mut out = String::from(
        "# Tile attributes\n\nGenerated from `src/schema.rs` (the single source of truth); \
         `cargo test` fails if this file is out of date. Regenerate with \
         `UPDATE_FIELDS_DOC=1 cargo test --test fields_doc`.\n\n\
         Optional attributes are left out of a feature when the value is unknown \
         (MVT has no null). Booleans are MVT `bool` values, so a MapLibre filter is \
         `[\"==\", [\"get\", \"role_convener\"], true]`.\n",
    );
    for (layer, fields, what) in [
        (
            LA_LAYER,
            la_fields(),
            "one polygon per LA in force on the tile set's date; feature id = `dfe_la_code` (see that field for new LAs)",
        ),
        (
            LABEL_LAYER,
            label_fields(),
            "one point per LA in force at its pole of inaccessibility; feature id = `dfe_la_code` (see that field for new LAs)",
        ),
    ] {
        let _ = write!(
            out,
            "\n## Layer `{layer}`\n\n{what}\n\n| field | type | optional | meaning | source |\n| --- | --- | --- | --- | --- |\n"
        );
        for f in fields {
            let _ = writeln!(
                out,
                "| `{}` | {:?} | {} | {} | {} |",
                f.name,
                f.ty,
                if f.optional { "yes" } else { "no" },
                f.description,
                f.source.describe()
            );
        }
    }
    out
}
