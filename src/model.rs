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
    /// DfE three-digit LA number.
    pub dfe_la_code: u16,
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
    /// 1-based line in the CSV file.
    pub line: usize,
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
