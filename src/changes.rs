//! The change log's pure half: the edit format, its validation, applying an edit to the tables,
//! its inverse, and replaying a log over the shipped files.
//!
//! An edit is applied to the CSV tables (`dataset::Tables`) and the result is validated by the
//! loader's own rules (`Records::validate`), so an edit made in the product is held to exactly
//! what `partnership-map check` demands of a file. Nothing here does I/O or reads the clock:
//! the published data is `replay(shipped tables, log)`.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::dataset::{Records, Tables};

/// Every kind of change, as named in the JSON format.
pub const KINDS: &[&str] = &[
    "partnership.create",
    "partnership.update",
    "partnership.retire",
    "la_role.set",
    "la_role.remove",
    "la.verify",
];

/// Longest accepted reason, in characters.
pub const MAX_REASON: usize = 2000;
/// Longest accepted text field, in characters.
pub const MAX_TEXT: usize = 5000;

/// A published change, as the public history shows it (no names, emails or tokens).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PublicChange {
    /// Position in the log.
    pub id: i64,
    /// RFC 3339 UTC.
    pub time: String,
    /// LAs concerned.
    pub la_codes: Vec<String>,
    /// Their names.
    pub la_names: Vec<String>,
    /// Kind, e.g. `partnership.update`.
    #[schema(value_type = String)]
    pub kind: &'static str,
    /// One line for people.
    pub summary: String,
    /// Fields changed, before and after.
    pub changes: Vec<FieldChange>,
    /// Why.
    pub reason: String,
    /// The change it undoes, if it is an undo.
    pub reverts: Option<i64>,
}

impl LoggedChange {
    /// The change as the public sees it; `la_names` are the names of its `la_codes`.
    #[must_use]
    pub fn public(&self, la_names: Vec<String>) -> PublicChange {
        PublicChange {
            id: self.id,
            time: self.created_at.clone(),
            la_codes: self.entry.la_codes.clone(),
            la_names,
            kind: self.entry.change.kind(),
            summary: self.entry.summary.clone(),
            changes: self.entry.diff.clone(),
            reason: self.entry.reason.clone(),
            reverts: self.entry.reverts,
        }
    }
}

/// Problems with an edit: field → message. The key `_` holds a problem with no single field.
pub type FieldErrors = BTreeMap<String, String>;

/// One change to the published data. Field names are those of `/api/partnerships` and of the
/// CSV columns; LAs are given by code.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind")]
pub enum Change {
    /// Add a partnership (every field of `/api/partnerships` except `la_names`).
    #[serde(rename = "partnership.create")]
    PartnershipCreate {
        /// The new record.
        #[schema(value_type = Object)]
        partnership: Map<String, Value>,
    },
    /// Change some fields of a partnership (not its id).
    #[serde(rename = "partnership.update")]
    PartnershipUpdate {
        /// Partnership id.
        id: String,
        /// Field → new value.
        #[schema(value_type = Object)]
        fields: Map<String, Value>,
    },
    /// Take a partnership off the map (its history stays).
    #[serde(rename = "partnership.retire")]
    PartnershipRetire {
        /// Partnership id.
        id: String,
    },
    /// Create an LA's role row, or change some of its fields.
    #[serde(rename = "la_role.set")]
    LaRoleSet {
        /// LA code.
        la: String,
        /// Field → new value.
        #[schema(value_type = Object)]
        fields: Map<String, Value>,
    },
    /// Remove an LA's role row (the inverse of creating one).
    #[serde(rename = "la_role.remove")]
    LaRoleRemove {
        /// LA code.
        la: String,
    },
    /// Record that the LA verified its summary (with the date), or withdraw that.
    #[serde(rename = "la.verify")]
    LaVerify {
        /// LA code.
        la: String,
        /// Verified or not.
        verified: bool,
        /// `YYYY-MM-DD`, required when verified.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        date: Option<String>,
    },
}

impl Change {
    /// The kind's name, e.g. `partnership.update`.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Self::PartnershipCreate { .. } => "partnership.create",
            Self::PartnershipUpdate { .. } => "partnership.update",
            Self::PartnershipRetire { .. } => "partnership.retire",
            Self::LaRoleSet { .. } => "la_role.set",
            Self::LaRoleRemove { .. } => "la_role.remove",
            Self::LaVerify { .. } => "la.verify",
        }
    }
}

/// A change with the why: what `POST /api/admin/edits` takes.
#[derive(Debug, Clone, PartialEq)]
pub struct Edit {
    /// The change.
    pub change: Change,
    /// Why, in words; public.
    pub reason: String,
    /// The submission (row id) this change settles, if any.
    pub submission: Option<i64>,
    /// The LA's verification response (row id) this change acts on, if any: a requested
    /// change applied, or (`la.verify`) the response accepted.
    pub verification: Option<i64>,
}

/// One field's value before and after a change (API form: lists are arrays, flags booleans).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FieldChange {
    /// Field name.
    pub field: String,
    /// Value before (`null` if the record did not exist or the field was empty).
    pub old: Value,
    /// Value after (`null` if the record was removed or the field emptied).
    pub new: Value,
}

/// The effect of applying a change to some tables.
#[derive(Debug, Clone)]
pub struct Applied {
    /// The tables after the change.
    pub tables: Tables,
    /// The fields that changed, with old and new values.
    pub diff: Vec<FieldChange>,
    /// Codes of the LAs the change concerns.
    pub la_codes: Vec<String>,
    /// One line for people, e.g. "Plymouth: verified by the LA on 2026-11-28".
    pub summary: String,
    /// The change that undoes this one, against the tables after it.
    pub inverse: Change,
}

/// A change as it is logged, before the log gives it its place and time: who made it, why, and
/// what it did, as computed when it was made. The stores write it; [`LoggedChange`] carries it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NewChange {
    /// Name of the editor who made it (never shown publicly).
    pub editor: String,
    /// The change.
    pub change: Change,
    /// Why.
    pub reason: String,
    /// Submission settled by it.
    pub submission: Option<i64>,
    /// The LA's verification response it acts on; an `la.verify` linked to one settles it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification: Option<i64>,
    /// The change it undoes, if it is an undo.
    pub reverts: Option<i64>,
    /// One-line summary, as computed when it was made.
    pub summary: String,
    /// LAs concerned.
    pub la_codes: Vec<String>,
    /// Fields changed, as computed when it was made.
    pub diff: Vec<FieldChange>,
    /// The change that undoes it, as computed when it was made (never shown publicly).
    pub undo: Change,
}

/// A change as the log stores it: its place and time in the log, and the change itself. On the
/// wire it is one flat object (`id`, `created_at`, then the fields of [`NewChange`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoggedChange {
    /// Position in the log (the database's order).
    pub id: i64,
    /// RFC 3339 UTC.
    pub created_at: String,
    /// The change as it was made.
    #[serde(flatten)]
    pub entry: NewChange,
}

impl NewChange {
    /// The logged form, once the database gave it an id and time.
    #[must_use]
    pub fn logged(self, id: i64, created_at: String) -> LoggedChange {
        LoggedChange {
            id,
            created_at,
            entry: self,
        }
    }
}

/// One flat object, as serde writes it: utoipa would describe the flattened [`NewChange`] as an
/// `allOf`, so the schema is [`NewChange`]'s with the log's `id` and `created_at` in front.
impl utoipa::PartialSchema for LoggedChange {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::RefOr;
        use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, Schema, SchemaFormat, Type};
        let mut object = ObjectBuilder::new()
            .description(Some("A change as the log stores it."))
            .property(
                "id",
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
                    .description(Some("Position in the log (the database's order).")),
            )
            .required("id")
            .property(
                "created_at",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .description(Some("RFC 3339 UTC.")),
            )
            .required("created_at")
            .build();
        if let RefOr::T(Schema::Object(entry)) = <NewChange as utoipa::PartialSchema>::schema() {
            object.properties.extend(entry.properties);
            object.required.extend(entry.required);
        }
        RefOr::T(Schema::Object(object))
    }
}

impl utoipa::ToSchema for LoggedChange {
    fn schemas(
        schemas: &mut Vec<(
            String,
            utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
        )>,
    ) {
        <NewChange as utoipa::ToSchema>::schemas(schemas);
    }
}

/// A logged change that no longer applies to the files (for example, it updates a partnership
/// the files no longer have). It stays in the log and is reported; it is never dropped silently.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Conflict {
    /// The change's id.
    pub change: i64,
    /// Its summary.
    pub summary: String,
    /// What stops it applying.
    pub problems: FieldErrors,
}

// ---------------------------------------------------------------------------------------------
// Parsing the JSON format

fn err(e: &mut FieldErrors, field: &str, message: impl Into<String>) {
    e.entry(field.to_owned()).or_insert_with(|| message.into());
}

fn looks_like_email(s: &str) -> bool {
    s.split(|c: char| c.is_whitespace() || "<>()[],;:\"'".contains(c))
        .any(|w| {
            w.split_once('@')
                .is_some_and(|(a, b)| !a.is_empty() && b.contains('.'))
        })
}

/// Parse and shape-check an edit (pure): types, required keys, unknown keys, the reason.
/// What the values mean is checked when the edit is applied.
///
/// # Errors
/// Every problem, by field.
pub fn parse_edit(v: &Value) -> Result<Edit, FieldErrors> {
    let mut e = FieldErrors::new();
    let Some(o) = v.as_object() else {
        err(&mut e, "_", "the body must be a JSON object");
        return Err(e);
    };
    let kind = o.get("kind").and_then(Value::as_str).unwrap_or("");
    if !KINDS.contains(&kind) {
        err(
            &mut e,
            "kind",
            format!("expected one of: {}", KINDS.join(", ")),
        );
        return Err(e);
    }
    let allowed: &[&str] = match kind {
        "partnership.create" => &["partnership"],
        "partnership.update" => &["id", "fields"],
        "partnership.retire" => &["id"],
        "la_role.set" => &["la", "fields"],
        "la_role.remove" => &["la"],
        _ => &["la", "verified", "date"],
    };
    for k in o.keys() {
        if !matches!(
            k.as_str(),
            "kind" | "reason" | "submission" | "verification"
        ) && !allowed.contains(&k.as_str())
        {
            err(
                &mut e,
                k,
                format!(
                    "unknown field for {kind} (expected: {})",
                    allowed.join(", ")
                ),
            );
        }
    }
    let reason = match o.get("reason") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_owned(),
        Some(Value::String(_)) | None | Some(Value::Null) => {
            err(&mut e, "reason", "say why this change is made");
            String::new()
        }
        Some(_) => {
            err(&mut e, "reason", "must be a string");
            String::new()
        }
    };
    if reason.chars().count() > MAX_REASON {
        err(
            &mut e,
            "reason",
            format!("keep the reason under {MAX_REASON} characters"),
        );
    } else if looks_like_email(&reason) {
        err(
            &mut e,
            "reason",
            "the reason is public: leave email addresses out",
        );
    }
    let submission = match o.get("submission") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => {
            let id = crate::submission::parse_reference(s.trim());
            if id.is_none() {
                err(
                    &mut e,
                    "submission",
                    format!("{:?} is not a submission reference like PM-000042", clip(s)),
                );
            }
            id
        }
        Some(Value::Number(n)) => {
            let id = n.as_i64().filter(|n| *n > 0);
            if id.is_none() {
                err(&mut e, "submission", "not a submission number");
            }
            id
        }
        Some(_) => {
            err(
                &mut e,
                "submission",
                "must be a reference like \"PM-000042\"",
            );
            None
        }
    };
    let verification = match o.get("verification") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => {
            let id = crate::verification::parse_reference(s.trim());
            if id.is_none() {
                err(
                    &mut e,
                    "verification",
                    format!("{:?} is not a response reference like VR-000012", clip(s)),
                );
            }
            id
        }
        Some(Value::Number(n)) => {
            let id = n.as_i64().filter(|n| *n > 0);
            if id.is_none() {
                err(&mut e, "verification", "not a response number");
            }
            id
        }
        Some(_) => {
            err(
                &mut e,
                "verification",
                "must be a reference like \"VR-000012\"",
            );
            None
        }
    };
    let text = |e: &mut FieldErrors, key: &str| -> String {
        match o.get(key) {
            Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_owned(),
            Some(Value::String(_)) | None | Some(Value::Null) => {
                err(e, key, "required");
                String::new()
            }
            Some(_) => {
                err(e, key, "must be a string");
                String::new()
            }
        }
    };
    let object = |e: &mut FieldErrors, key: &str| -> Map<String, Value> {
        match o.get(key) {
            Some(Value::Object(m)) if !m.is_empty() => m.clone(),
            Some(Value::Object(_)) => {
                err(e, key, "give at least one field to change");
                Map::new()
            }
            None | Some(Value::Null) => {
                err(e, key, "required");
                Map::new()
            }
            Some(_) => {
                err(e, key, "must be an object of field → value");
                Map::new()
            }
        }
    };
    let change = match kind {
        "partnership.create" => Change::PartnershipCreate {
            partnership: object(&mut e, "partnership"),
        },
        "partnership.update" => Change::PartnershipUpdate {
            id: text(&mut e, "id"),
            fields: object(&mut e, "fields"),
        },
        "partnership.retire" => Change::PartnershipRetire {
            id: text(&mut e, "id"),
        },
        "la_role.set" => Change::LaRoleSet {
            la: text(&mut e, "la"),
            fields: object(&mut e, "fields"),
        },
        "la_role.remove" => Change::LaRoleRemove {
            la: text(&mut e, "la"),
        },
        _ => {
            let verified = match o.get("verified") {
                Some(Value::Bool(b)) => *b,
                _ => {
                    err(&mut e, "verified", "must be true or false");
                    false
                }
            };
            let date = match o.get("date") {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) if s.trim().is_empty() => None,
                Some(Value::String(s)) => Some(s.trim().to_owned()),
                Some(_) => {
                    err(&mut e, "date", "must be a date like 2026-11-28");
                    None
                }
            };
            Change::LaVerify {
                la: text(&mut e, "la"),
                verified,
                date,
            }
        }
    };
    if e.is_empty() {
        Ok(Edit {
            change,
            reason,
            submission,
            verification,
        })
    } else {
        Err(e)
    }
}

fn clip(s: &str) -> String {
    s.chars().take(40).collect()
}

// ---------------------------------------------------------------------------------------------
// Fields: API values <-> CSV cells

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Type {
    /// A string.
    Text,
    /// An array of strings, written `;`-separated.
    List,
    /// An array of LA codes, written as `;`-separated LA names.
    LaList,
    /// A year: a number or a string of digits; may be empty.
    Year,
    /// A string, shown as null when empty.
    OptText,
    /// `true` → `"true"`, `false` → `""`.
    Flag,
}

/// Partnership fields: API name, CSV column, type. The order is the CSV's.
const PARTNERSHIP_FIELDS: &[(&str, &str, Type)] = &[
    ("id", "id", Type::Text),
    ("name", "name", Type::Text),
    ("la_codes", "la_names", Type::LaList),
    ("form", "form", Type::Text),
    ("phases", "phases", Type::List),
    ("focus", "focus", Type::List),
    ("la_involvement", "la_involvement", Type::Text),
    ("legal_form", "legal_form", Type::Text),
    ("membership", "membership", Type::Text),
    ("founded", "founded", Type::Year),
    ("website", "website", Type::OptText),
    ("source_urls", "source_urls", Type::List),
    ("evidence_date", "evidence_date", Type::Text),
    ("notes", "notes", Type::Text),
];

/// LA-role fields (the row's `la_name` comes from the change's `la`).
const ROLE_FIELDS: &[(&str, &str, Type)] = &[
    ("funder", "funder", Type::Flag),
    ("convener", "convener", Type::Flag),
    ("deliverer", "deliverer", Type::Flag),
    ("traded_service", "traded_service", Type::Flag),
    ("summary", "summary", Type::Text),
    ("source_urls", "source_urls", Type::List),
    ("evidence_date", "evidence_date", Type::Text),
];

/// LA codes ↔ names, from the LA table.
struct Names {
    by_code: HashMap<String, String>,
    by_name: HashMap<String, String>,
}

impl Names {
    fn of(tables: &Tables) -> Self {
        let t = &tables.local_authorities;
        let mut by_code = HashMap::new();
        let mut by_name = HashMap::new();
        for i in 0..t.rows.len() {
            let (code, name) = (t.get(i, "code").to_owned(), t.get(i, "name").to_owned());
            by_code.insert(code.clone(), name.clone());
            by_name.insert(name, code);
        }
        Self { by_code, by_name }
    }
}

fn split(cell: &str) -> Vec<String> {
    cell.split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// An API value as a CSV cell.
fn to_cell(v: &Value, t: Type, names: &Names) -> Result<String, String> {
    let string = |v: &Value| match v {
        Value::String(s) => {
            let s = s.trim();
            if s.chars().count() > MAX_TEXT {
                Err(format!("keep it under {MAX_TEXT} characters"))
            } else if s.chars().any(|c| c.is_control() && c != '\n') {
                Err("contains a control character".to_owned())
            } else {
                Ok(s.to_owned())
            }
        }
        _ => Err("must be a string".to_owned()),
    };
    let list = |v: &Value| -> Result<Vec<String>, String> {
        let Value::Array(items) = v else {
            return Err("must be an array of strings".to_owned());
        };
        items
            .iter()
            .map(|i| {
                let s = string(i).map_err(|_| "must be an array of strings".to_owned())?;
                if s.contains(';') {
                    Err(format!(
                        "\"{}\" contains \";\", the list separator",
                        clip(&s)
                    ))
                } else {
                    Ok(s)
                }
            })
            .collect()
    };
    if v.is_null() {
        return Ok(String::new());
    }
    match t {
        Type::Text | Type::OptText => string(v),
        Type::List => Ok(list(v)?.join(";")),
        Type::LaList => {
            let codes = list(v)?;
            let mut out = Vec::new();
            for c in codes {
                match names.by_code.get(&c) {
                    Some(n) => out.push(n.clone()),
                    None => return Err(format!("\"{}\" is not an LA code we know", clip(&c))),
                }
            }
            Ok(out.join(";"))
        }
        Type::Year => match v {
            Value::Number(n) if n.is_u64() => Ok(n.to_string()),
            Value::String(s) => Ok(s.trim().to_owned()),
            _ => Err("must be a year like 2019, or null".to_owned()),
        },
        Type::Flag => match v {
            Value::Bool(true) => Ok("true".to_owned()),
            Value::Bool(false) => Ok(String::new()),
            _ => Err("must be true or false".to_owned()),
        },
    }
}

/// A CSV cell as an API value.
fn from_cell(cell: &str, t: Type, names: &Names) -> Value {
    match t {
        Type::Text => Value::from(cell),
        Type::OptText if cell.is_empty() => Value::Null,
        Type::OptText => Value::from(cell),
        Type::List => json!(split(cell)),
        Type::LaList => json!(
            split(cell)
                .iter()
                .map(|n| names.by_name.get(n).cloned().unwrap_or_else(|| n.clone()))
                .collect::<Vec<_>>()
        ),
        Type::Year if cell.is_empty() => Value::Null,
        Type::Year => cell
            .parse::<u64>()
            .map_or_else(|_| Value::from(cell), Value::from),
        Type::Flag => Value::Bool(cell == "true"),
    }
}

/// The record in row `row` of a table, as API values.
fn record(
    tables: &Tables,
    table: fn(&Tables) -> &crate::dataset::CsvTable,
    fields: &[(&str, &str, Type)],
    row: usize,
    names: &Names,
) -> Map<String, Value> {
    let t = table(tables);
    fields
        .iter()
        .map(|(api, col, ty)| ((*api).to_owned(), from_cell(t.get(row, col), *ty, names)))
        .collect()
}

fn is_empty_value(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Bool(b) => !b,
        _ => false,
    }
}

/// Old → new for every field that differs (empty values count as `null`).
fn diff(
    fields: &[(&str, &str, Type)],
    old: Option<&Map<String, Value>>,
    new: Option<&Map<String, Value>>,
) -> Vec<FieldChange> {
    let norm = |m: Option<&Map<String, Value>>, k: &str| {
        m.and_then(|m| m.get(k))
            .filter(|v| !is_empty_value(v))
            .cloned()
            .unwrap_or(Value::Null)
    };
    fields
        .iter()
        .filter_map(|(api, _, _)| {
            let (o, n) = (norm(old, api), norm(new, api));
            (o != n).then(|| FieldChange {
                field: (*api).to_owned(),
                old: o,
                new: n,
            })
        })
        .collect()
}

/// Check `values` against `fields`, converting each to its CSV cell.
fn cells(
    values: &Map<String, Value>,
    fields: &[(&'static str, &'static str, Type)],
    names: &Names,
    e: &mut FieldErrors,
) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    for (k, v) in values {
        match fields.iter().find(|(api, _, _)| api == k) {
            None => err(
                e,
                k,
                format!(
                    "unknown field (expected: {})",
                    fields
                        .iter()
                        .map(|(a, _, _)| *a)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ),
            Some((api, col, ty)) => match to_cell(v, *ty, names) {
                Ok(c) => out.push((*col, c)),
                Err(m) => err(e, api, m),
            },
        }
    }
    out
}

/// The loader's problems with the edited row, keyed by API field name.
fn validate(
    tables: &Tables,
    table_path: &str,
    line: usize,
    rename: &[(&str, &str)],
    e: &mut FieldErrors,
) {
    let Err(problems) = Records::validate(tables) else {
        return;
    };
    let here = format!("{table_path}:{line}");
    for p in problems.problems {
        let field = p.field.as_deref().unwrap_or("_");
        let field = rename
            .iter()
            .find(|(col, _)| *col == field)
            .map_or(field, |(_, api)| *api);
        if p.location == here {
            err(e, field, p.message);
        } else {
            // A rule across rows (none is known to fire on an edit); say where.
            err(e, "_", p.to_string());
        }
    }
}

const PARTNERSHIP_RENAMES: &[(&str, &str)] = &[("la_names", "la_codes")];
const ROLE_RENAMES: &[(&str, &str)] = &[("la_name", "la")];
const LA_RENAMES: &[(&str, &str)] = &[("verified_date", "date")];

fn find_row(t: &crate::dataset::CsvTable, column: &str, value: &str) -> Option<usize> {
    (0..t.rows.len()).find(|&i| t.get(i, column) == value)
}

fn la_name<'a>(names: &'a Names, code: &str, e: &mut FieldErrors) -> Option<&'a str> {
    let n = names.by_code.get(code).map(String::as_str);
    if n.is_none() {
        err(
            e,
            "la",
            format!("\"{}\" is not an LA code we know", clip(code)),
        );
    }
    n
}

fn codes_of(values: &[&Map<String, Value>]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for v in values {
        for c in v
            .get("la_codes")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(c) = c.as_str()
                && !out.iter().any(|o| o == c)
            {
                out.push(c.to_owned());
            }
        }
    }
    out
}

fn changed_names(d: &[FieldChange]) -> String {
    d.iter()
        .map(|f| f.field.replace('_', " "))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Apply a change to the tables (pure): the new tables, what changed, and how to undo it.
///
/// # Errors
/// Every problem, by field: an unknown target, a value of the wrong type, or anything the
/// loader would reject in the resulting row; or `_` when nothing would change.
pub fn apply(tables: &Tables, change: &Change) -> Result<Applied, FieldErrors> {
    let names = Names::of(tables);
    let mut e = FieldErrors::new();
    let mut next = tables.clone();
    let applied = match change {
        Change::PartnershipCreate { partnership } => {
            let id = partnership.get("id").and_then(Value::as_str).unwrap_or("");
            if !id.is_empty() && find_row(&tables.partnerships, "id", id.trim()).is_some() {
                err(
                    &mut e,
                    "id",
                    format!("a partnership with id \"{}\" already exists", clip(id)),
                );
            }
            let cells = cells(partnership, PARTNERSHIP_FIELDS, &names, &mut e);
            if !e.is_empty() {
                return Err(e);
            }
            next.partnerships.push(cells);
            let row = next.partnerships.rows.len() - 1;
            let line = next.partnerships.rows[row].line;
            validate(
                &next,
                &next.partnerships.path,
                line,
                PARTNERSHIP_RENAMES,
                &mut e,
            );
            let new = record(&next, |t| &t.partnerships, PARTNERSHIP_FIELDS, row, &names);
            let name = new.get("name").and_then(Value::as_str).unwrap_or("");
            let las: Vec<&str> = codes_of(&[&new])
                .iter()
                .filter_map(|c| names.by_code.get(c).map(String::as_str))
                .collect::<Vec<_>>();
            Applied {
                summary: format!("New partnership: {name} ({})", las.join(", ")),
                la_codes: codes_of(&[&new]),
                diff: diff(PARTNERSHIP_FIELDS, None, Some(&new)),
                inverse: Change::PartnershipRetire {
                    id: id.trim().to_owned(),
                },
                tables: next,
            }
        }
        Change::PartnershipUpdate { id, fields } => {
            let Some(row) = find_row(&tables.partnerships, "id", id) else {
                err(
                    &mut e,
                    "id",
                    format!("no partnership has id \"{}\"", clip(id)),
                );
                return Err(e);
            };
            if fields.contains_key("id") {
                err(
                    &mut e,
                    "id",
                    "an id cannot change: retire the partnership and create it anew",
                );
            }
            let old = record(tables, |t| &t.partnerships, PARTNERSHIP_FIELDS, row, &names);
            let cells = cells(fields, PARTNERSHIP_FIELDS, &names, &mut e);
            if !e.is_empty() {
                return Err(e);
            }
            for (col, v) in &cells {
                next.partnerships.set(row, col, v);
            }
            let line = next.partnerships.rows[row].line;
            validate(
                &next,
                &next.partnerships.path,
                line,
                PARTNERSHIP_RENAMES,
                &mut e,
            );
            let new = record(&next, |t| &t.partnerships, PARTNERSHIP_FIELDS, row, &names);
            let d = diff(PARTNERSHIP_FIELDS, Some(&old), Some(&new));
            let name = old.get("name").and_then(Value::as_str).unwrap_or(id);
            Applied {
                summary: format!("{name}: updated {}", changed_names(&d)),
                la_codes: codes_of(&[&old, &new]),
                inverse: Change::PartnershipUpdate {
                    id: id.clone(),
                    fields: d
                        .iter()
                        .map(|f| (f.field.clone(), old[&f.field].clone()))
                        .collect(),
                },
                diff: d,
                tables: next,
            }
        }
        Change::PartnershipRetire { id } => {
            let Some(row) = find_row(&tables.partnerships, "id", id) else {
                err(
                    &mut e,
                    "id",
                    format!("no partnership has id \"{}\"", clip(id)),
                );
                return Err(e);
            };
            let old = record(tables, |t| &t.partnerships, PARTNERSHIP_FIELDS, row, &names);
            next.partnerships.remove(row);
            let name = old.get("name").and_then(Value::as_str).unwrap_or(id);
            Applied {
                summary: format!("Partnership retired: {name}"),
                la_codes: codes_of(&[&old]),
                diff: diff(PARTNERSHIP_FIELDS, Some(&old), None),
                inverse: Change::PartnershipCreate { partnership: old },
                tables: next,
            }
        }
        Change::LaRoleSet { la, fields } => {
            let Some(la_name) = la_name(&names, la, &mut e) else {
                return Err(e);
            };
            let existing = find_row(&tables.roles, "la_name", la_name);
            let old = existing.map(|r| record(tables, |t| &t.roles, ROLE_FIELDS, r, &names));
            let cells = cells(fields, ROLE_FIELDS, &names, &mut e);
            if !e.is_empty() {
                return Err(e);
            }
            let row = match existing {
                Some(r) => {
                    for (col, v) in &cells {
                        next.roles.set(r, col, v);
                    }
                    r
                }
                None => {
                    next.roles
                        .push(std::iter::once(("la_name", la_name.to_owned())).chain(cells));
                    next.roles.rows.len() - 1
                }
            };
            let line = next.roles.rows[row].line;
            validate(&next, &next.roles.path, line, ROLE_RENAMES, &mut e);
            let new = record(&next, |t| &t.roles, ROLE_FIELDS, row, &names);
            let d = diff(ROLE_FIELDS, old.as_ref(), Some(&new));
            Applied {
                summary: if old.is_some() {
                    format!("{la_name}: LA role updated ({})", changed_names(&d))
                } else {
                    format!("{la_name}: LA role added")
                },
                la_codes: vec![la.clone()],
                inverse: match &old {
                    Some(old) => Change::LaRoleSet {
                        la: la.clone(),
                        fields: d
                            .iter()
                            .map(|f| (f.field.clone(), old[&f.field].clone()))
                            .collect(),
                    },
                    None => Change::LaRoleRemove { la: la.clone() },
                },
                diff: d,
                tables: next,
            }
        }
        Change::LaRoleRemove { la } => {
            let Some(la_name) = la_name(&names, la, &mut e) else {
                return Err(e);
            };
            let Some(row) = find_row(&tables.roles, "la_name", la_name) else {
                err(&mut e, "la", format!("{la_name} has no LA-role entry"));
                return Err(e);
            };
            let old = record(tables, |t| &t.roles, ROLE_FIELDS, row, &names);
            next.roles.remove(row);
            Applied {
                summary: format!("{la_name}: LA-role entry removed"),
                la_codes: vec![la.clone()],
                diff: diff(ROLE_FIELDS, Some(&old), None),
                inverse: Change::LaRoleSet {
                    la: la.clone(),
                    fields: old,
                },
                tables: next,
            }
        }
        Change::LaVerify { la, verified, date } => {
            let Some(la_name) = la_name(&names, la, &mut e) else {
                return Err(e);
            };
            let t = &tables.local_authorities;
            let Some(row) = find_row(t, "code", la) else {
                err(&mut e, "la", format!("\"{}\" has no row", clip(la)));
                return Err(e);
            };
            match (verified, date) {
                (true, None) => err(&mut e, "date", "give the date the LA verified its summary"),
                (false, Some(_)) => err(
                    &mut e,
                    "date",
                    "leave the date out when withdrawing a verification",
                ),
                _ => {}
            }
            if !e.is_empty() {
                return Err(e);
            }
            let old_verified = t.get(row, "verified") == "true";
            let old_date = Some(t.get(row, "verified_date"))
                .filter(|d| !d.is_empty())
                .map(str::to_owned);
            next.local_authorities
                .set(row, "verified", if *verified { "true" } else { "" });
            next.local_authorities
                .set(row, "verified_date", date.as_deref().unwrap_or(""));
            let line = next.local_authorities.rows[row].line;
            validate(
                &next,
                &next.local_authorities.path,
                line,
                LA_RENAMES,
                &mut e,
            );
            let as_map = |v: bool, d: &Option<String>| -> Map<String, Value> {
                [
                    ("verified".to_owned(), Value::Bool(v)),
                    ("verified_date".to_owned(), json!(d)),
                ]
                .into_iter()
                .collect()
            };
            const FIELDS: &[(&str, &str, Type)] = &[
                ("verified", "verified", Type::Flag),
                ("verified_date", "verified_date", Type::OptText),
            ];
            Applied {
                summary: match (verified, date) {
                    (true, Some(d)) => format!("{la_name}: verified by the LA on {d}"),
                    _ => format!("{la_name}: verification withdrawn"),
                },
                la_codes: vec![la.clone()],
                diff: diff(
                    FIELDS,
                    Some(&as_map(old_verified, &old_date)),
                    Some(&as_map(*verified, date)),
                ),
                inverse: Change::LaVerify {
                    la: la.clone(),
                    verified: old_verified,
                    date: old_date,
                },
                tables: next,
            }
        }
    };
    if applied.diff.is_empty() {
        err(&mut e, "_", "this change would change nothing");
    }
    if e.is_empty() { Ok(applied) } else { Err(e) }
}

/// The result of [`replay_after`].
#[derive(Debug, Clone)]
pub struct Replayed {
    /// The tables with every change that applies.
    pub tables: Tables,
    /// Changes that do not apply.
    pub conflicts: Vec<Conflict>,
    /// How many applied.
    pub applied: usize,
    /// How many were skipped because the files already contain them.
    pub in_files: usize,
    /// The highest change id looked at.
    pub through: i64,
    /// Time of the newest applied change.
    pub last_applied_at: Option<String>,
}

/// Replay `log` (in order) over `base`, skipping changes up to `in_files_through`, which the
/// files already contain (see `data_export`). Pure.
#[must_use]
pub fn replay_after(base: &Tables, log: &[LoggedChange], in_files_through: i64) -> Replayed {
    let mut r = Replayed {
        tables: base.clone(),
        conflicts: Vec::new(),
        applied: 0,
        in_files: 0,
        through: 0,
        last_applied_at: None,
    };
    for c in log {
        r.through = r.through.max(c.id);
        if c.id <= in_files_through {
            r.in_files += 1;
            continue;
        }
        match apply(&r.tables, &c.entry.change) {
            Ok(a) => {
                r.tables = a.tables;
                r.applied += 1;
                r.last_applied_at = Some(c.created_at.clone());
            }
            Err(problems) => r.conflicts.push(Conflict {
                change: c.id,
                summary: c.entry.summary.clone(),
                problems,
            }),
        }
    }
    r
}

/// Whether any string in the change contains `needle` (case-insensitive): used to keep a
/// submitter's name and email out of the public record.
#[must_use]
pub fn mentions(edit: &Edit, needle: &str) -> bool {
    let needle = needle.trim().to_lowercase();
    if needle.chars().count() < 3 {
        return false;
    }
    fn walk(v: &Value, needle: &str) -> bool {
        match v {
            Value::String(s) => s.to_lowercase().contains(needle),
            Value::Array(a) => a.iter().any(|x| walk(x, needle)),
            Value::Object(o) => o.values().any(|x| walk(x, needle)),
            _ => false,
        }
    }
    edit.reason.to_lowercase().contains(&needle)
        || serde_json::to_value(&edit.change).is_ok_and(|v| walk(&v, &needle))
}
