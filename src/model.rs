//! Plain data types of the dataset: local authorities, partnerships, LA roles and tile values.
//!
//! No I/O and no behaviour beyond trivial accessors: loading lives in `dataset`, tile work in `pipeline`.

/// One row of `data/local_authorities.csv`.
#[derive(Debug, Clone, PartialEq)]
pub struct LocalAuthority {
    /// Current ONS GSS code.
    pub code: String,
    /// ONS name.
    pub name: String,
    /// DfE three-digit LA number; `None` for a new LA that DfE has not numbered yet.
    pub dfe_la_code: Option<u16>,
    /// ONS region code.
    pub region_code: String,
    /// ONS region name.
    pub region_name: String,
    /// One of [`crate::schema::LA_TYPES`].
    pub la_type: String,
    /// `inner` / `outer` for London.
    pub london_inner_outer: Option<String>,
    /// Earlier GSS codes of the same LA.
    pub former_codes: Vec<String>,
    /// DfE statistical neighbours, most similar first.
    pub stat_neighbours: Vec<String>,
    /// DfE closeness band per neighbour.
    pub stat_neighbours_closeness: Vec<String>,
    /// % primary pupils eligible for FSM.
    pub fsm_primary_pct: Option<f64>,
    /// % secondary pupils eligible for FSM.
    pub fsm_secondary_pct: Option<f64>,
    /// % primary pupils with EAL.
    pub eal_primary_pct: Option<f64>,
    /// % pupils with an EHC plan.
    pub ehcp_pct: Option<f64>,
    /// % pupils on SEN support.
    pub sen_support_pct: Option<f64>,
    /// % children in low-income families.
    pub child_low_income_pct: Option<f64>,
    /// Mainstream pupils R–Y11.
    pub pupils: Option<u64>,
    /// Population aged 0–17.
    pub population_0_17: Option<u64>,
    /// mySociety rural/urban class.
    pub rural_urban: Option<String>,
    /// mySociety rural + highly rural population share.
    pub rural_pop_pct: Option<f64>,
    /// The LA has verified its summary.
    pub verified: bool,
    /// When it did, `YYYY-MM-DD`.
    pub verified_date: Option<String>,
    /// First day in force (`YYYY-MM-DD`): the vesting date of the reorganisation that made it,
    /// or the first day the map records for an LA of the shipped boundaries.
    pub valid_from: String,
    /// First day no longer in force, if a reorganisation abolishes it.
    pub valid_to: Option<String>,
    /// The LAs that replace it on `valid_to`.
    pub replaced_by: Vec<String>,
    /// The LAs it replaces on `valid_from`.
    pub replaces: Vec<String>,
    /// Its code is provisional: ONS has not published one yet.
    pub provisional_code: bool,
    /// 1-based line in the CSV file (0 for an LA made by `data/reorganisations.csv`).
    pub line: usize,
}

impl LocalAuthority {
    /// The MVT feature id: the DfE LA number, or for an LA DfE has not numbered yet a stable
    /// number from its code, above every three-digit LA number.
    #[must_use]
    pub fn feature_id(&self) -> u64 {
        self.dfe_la_code.map_or_else(
            || 1_000 + (xxhash_rust::xxh3::xxh3_64(self.code.as_bytes()) >> 40),
            u64::from,
        )
    }

    /// Whether the LA is in force on `day` (`YYYY-MM-DD`; ISO dates compare as text).
    #[must_use]
    pub fn in_force_on(&self, day: &str) -> bool {
        self.valid_from.as_str() <= day && self.valid_to.as_deref().is_none_or(|to| day < to)
    }
}

/// How a new LA's area is made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MadeOf {
    /// The union of these whole lower-tier districts (`boundaries/england_districts.geojson`).
    Districts(Vec<String>),
    /// The same area as the one LA it replaces, under a new code (e.g. ONS's code arriving for
    /// a provisional one).
    Recode,
    /// The polygons of a GeoJSON file (the parts of districts that are split), together with
    /// these whole lower-tier districts (possibly none).
    Geometry {
        /// The file, relative to the data directory (`geometries/<new_code>.geojson`).
        file: String,
        /// Whole districts added to the file's polygons.
        districts: Vec<String>,
    },
}

impl MadeOf {
    /// The word the table uses for it (`made_of` column).
    #[must_use]
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Districts(_) => "districts",
            Self::Recode => "recode",
            Self::Geometry { .. } => "geometry",
        }
    }

    /// The whole districts it takes (none for a recode).
    #[must_use]
    pub fn whole_districts(&self) -> &[String] {
        match self {
            Self::Districts(d) | Self::Geometry { districts: d, .. } => d,
            Self::Recode => &[],
        }
    }
}

/// One row of `data/reorganisations.csv`: one new LA made on a vesting date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reorganisation {
    /// Vesting date, `YYYY-MM-DD`: the new LA's first day, the abolished LAs' first day gone.
    pub vesting_date: String,
    /// `decided` or `in_force`.
    pub status: String,
    /// Codes of the LAs it abolishes (all of their area goes to the new LAs of this date).
    pub abolished: Vec<String>,
    /// Their names, as the table writes them.
    pub abolished_names: Vec<String>,
    /// The new LA's code (ONS, or provisional).
    pub new_code: String,
    /// The new LA's name.
    pub new_name: String,
    /// One of [`crate::schema::LA_TYPES`].
    pub new_la_type: String,
    /// How its area is made.
    pub made_of: MadeOf,
    /// Sources for the decision.
    pub source_urls: Vec<String>,
    /// Free text.
    pub notes: String,
    /// 1-based line in the CSV file.
    pub line: usize,
}

/// What a new LA carries over from the LAs it replaces, until an editor confirms it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inherited {
    /// Codes of the LAs it replaces.
    pub from: Vec<String>,
    /// Indexes of partnerships that name a predecessor but not (yet) this LA.
    pub partnerships: Vec<usize>,
    /// Its role row is the predecessor's, not its own.
    pub role: bool,
}

/// One row of `data/partnerships.csv`, with its LA names resolved to codes.
#[derive(Debug, Clone, PartialEq)]
pub struct Partnership {
    /// Stable slug.
    pub id: String,
    /// Name as used in the sources.
    pub name: String,
    /// Codes of the LAs it covers.
    pub la_codes: Vec<String>,
    /// One of [`crate::schema::FORMS`].
    pub form: String,
    /// Subset of [`crate::schema::PHASES`].
    pub phases: Vec<String>,
    /// Subset of [`crate::schema::FOCUS`].
    pub focus: Vec<String>,
    /// One of [`crate::schema::LA_INVOLVEMENT`].
    pub la_involvement: String,
    /// One of [`crate::schema::LEGAL_FORMS`].
    pub legal_form: String,
    /// Free text.
    pub membership: String,
    /// Year founded, where a source states it.
    pub founded: Option<u16>,
    /// Own website.
    pub website: Option<String>,
    /// Sources read.
    pub source_urls: Vec<String>,
    /// Year, span or `undated`.
    pub evidence_date: String,
    /// Free text.
    pub notes: String,
    /// 1-based line in the CSV file.
    pub line: usize,
}

/// One row of `data/la_school_improvement.csv`.
#[derive(Debug, Clone, PartialEq)]
pub struct LaRole {
    /// LA code resolved from the row's `la_name`.
    pub la_code: String,
    /// Funds or commissions school improvement.
    pub funder: bool,
    /// Convenes a partnership.
    pub convener: bool,
    /// Delivers school improvement itself.
    pub deliverer: bool,
    /// Sells school improvement services.
    pub traded_service: bool,
    /// Free text.
    pub summary: String,
    /// Sources read.
    pub source_urls: Vec<String>,
    /// Year, span or `undated`.
    pub evidence_date: String,
    /// 1-based line in the CSV file.
    pub line: usize,
}

/// Everything known about one LA, the input of attribute extraction.
#[derive(Debug, Clone, Copy)]
pub struct LaFacts<'a> {
    /// The LA row.
    pub la: &'a LocalAuthority,
    /// Partnerships covering the LA.
    pub partnerships: &'a [&'a Partnership],
    /// The LA's role row, if any.
    pub role: Option<&'a LaRole>,
    /// Area of the polygon in km².
    pub area_km2: f64,
    /// What it carries over from the LAs it replaces, not yet confirmed for it.
    pub inherited: Option<&'a Inherited>,
    /// Names of the LAs it replaces (for `inherited_from`).
    pub predecessor_names: &'a [String],
}

/// A tile attribute value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// String.
    Str(String),
    /// Unsigned whole number.
    Uint(u64),
    /// Decimal.
    Double(f64),
    /// Boolean.
    Bool(bool),
}

impl Value {
    /// JSON form, for APIs and docs.
    #[must_use]
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Self::Str(s) => serde_json::Value::from(s.as_str()),
            Self::Uint(n) => serde_json::Value::from(*n),
            Self::Double(x) => serde_json::Value::from(*x),
            Self::Bool(b) => serde_json::Value::from(*b),
        }
    }
}
