//! GIS file formats for the published features: GeoPackage ([`gpkg`]) and FlatGeobuf
//! ([`fgb`]), written with `geozero` from the very GeoJSON features the GeoJSON download and the
//! OGC items serve, so every format carries the same features and the same attributes.
//!
//! Pure functions from a [`Layer`] (GeoJSON features plus typed columns) to bytes; the
//! `downloads` module builds them once per data version and `http::ogc` per items request.
//! Column types come from the attribute schema where the caller knows it and from the values
//! otherwise, so a whole number stays a 32-bit integer where every value fits, a flag stays a
//! boolean and a missing value is NULL (never a made-up zero or empty string).

pub mod fgb;
pub mod gpkg;

use geozero::error::Result as GeozeroResult;
use geozero::{GeomProcessor, GeozeroGeometry};
use serde_json::Value;

use crate::schema::FieldType;

/// The formats written here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// GeoPackage 1.3 (`.gpkg`).
    GeoPackage,
    /// FlatGeobuf (`.fgb`).
    FlatGeobuf,
}

impl Format {
    /// Both, in the order the downloads list them.
    pub const ALL: [Self; 2] = [Self::GeoPackage, Self::FlatGeobuf];

    /// File extension, which is also the OGC `f` parameter's value.
    #[must_use]
    pub fn ext(self) -> &'static str {
        match self {
            Self::GeoPackage => "gpkg",
            Self::FlatGeobuf => "fgb",
        }
    }

    /// Media type (GeoPackage's is registered with IANA; FlatGeobuf's is the one its
    /// specification and GDAL use).
    #[must_use]
    pub fn mime(self) -> &'static str {
        match self {
            Self::GeoPackage => "application/geopackage+sqlite3",
            Self::FlatGeobuf => "application/flatgeobuf",
        }
    }

    /// The format whose [`Format::ext`] is `ext`.
    #[must_use]
    pub fn from_ext(ext: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.ext() == ext)
    }

    /// `layer` in this format.
    ///
    /// # Errors
    /// [`GisError`] if a writer fails.
    pub fn write(self, layer: &Layer<'_>) -> Result<Vec<u8>, GisError> {
        match self {
            Self::GeoPackage => gpkg::write(layer),
            Self::FlatGeobuf => fgb::write(layer),
        }
    }
}

/// The columns of the `local_authorities` layer: every attribute of the schema, in its order,
/// with its type and meaning.
#[must_use]
pub fn la_columns() -> Vec<Declared> {
    crate::schema::la_fields()
        .into_iter()
        .map(|f| Declared {
            name: f.name,
            ty: Some(ColumnType::from_field(f.ty)),
            description: Some(f.description),
        })
        .collect()
}

/// What can go wrong writing a GIS file. The features come from validated data, so each of
/// these is a bug or data the validation let through; the message says which feature.
#[derive(Debug, thiserror::Error)]
pub enum GisError {
    /// A feature's geometry is not one this writer handles, or is malformed.
    #[error("feature {feature}: {reason}")]
    Geometry {
        /// Position of the feature in the layer.
        feature: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// A feature's geometry type is not the layer's.
    #[error("feature {feature} is a {found}, but the layer holds {expected}s")]
    MixedGeometry {
        /// Position of the feature in the layer.
        feature: usize,
        /// The layer's geometry type.
        expected: String,
        /// This feature's.
        found: String,
    },
    /// A value does not fit its column's type.
    #[error("feature {feature}, column {column}: {value} is not a {expected}")]
    Value {
        /// Position of the feature in the layer.
        feature: usize,
        /// Column name.
        column: String,
        /// The value, as JSON.
        value: String,
        /// The column's type.
        expected: &'static str,
    },
    /// The GeoPackage's SQLite database failed.
    #[error("GeoPackage: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// geozero could not write a geometry.
    #[error("geometry encoding: {0}")]
    Geozero(#[from] geozero::error::GeozeroError),
    /// The FlatGeobuf writer failed.
    #[error("FlatGeobuf: {0}")]
    FlatGeobuf(#[from] flatgeobuf::Error),
}

/// A column's type, as both formats store it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    /// UTF-8 text.
    Text,
    /// A whole number that fits 32 bits (GDAL: `Integer`).
    Integer,
    /// A whole number that needs 64 bits (GDAL: `Integer64`).
    BigInteger,
    /// A double-precision number.
    Real,
    /// true/false (GDAL: `Integer(Boolean)`).
    Boolean,
}

impl ColumnType {
    /// The type an attribute of the schema starts from (whole numbers widen to 64 bits only
    /// when a value needs it).
    #[must_use]
    pub fn from_field(ty: FieldType) -> Self {
        match ty {
            FieldType::String => Self::Text,
            FieldType::Number => Self::Integer,
            FieldType::Decimal => Self::Real,
            FieldType::Boolean => Self::Boolean,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Integer => "32-bit integer",
            Self::BigInteger => "64-bit integer",
            Self::Real => "number",
            Self::Boolean => "boolean",
        }
    }
}

/// One attribute column.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// Name (as in the GeoJSON properties).
    pub name: String,
    /// Type.
    pub ty: ColumnType,
    /// Meaning, for people (GeoPackage and FlatGeobuf both keep it).
    pub description: Option<String>,
}

/// A column the caller declares: its name, meaning and, when known, its schema type.
#[derive(Debug, Clone)]
pub struct Declared {
    /// Name.
    pub name: String,
    /// Schema type, or `None` to take it from the values.
    pub ty: Option<ColumnType>,
    /// Meaning.
    pub description: Option<String>,
}

/// One typed cell.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// Text.
    Text(String),
    /// Whole number (32- or 64-bit by its column).
    Int(i64),
    /// Number.
    Real(f64),
    /// Flag.
    Bool(bool),
}

/// The geometry types a layer can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GeometryKind {
    /// `MultiPolygon` (the LAs).
    MultiPolygon,
    /// `MultiPoint` (partnerships at their LAs' label points).
    MultiPoint,
}

impl GeometryKind {
    fn parse(t: &str) -> Option<Self> {
        match t {
            "MultiPolygon" => Some(Self::MultiPolygon),
            "MultiPoint" => Some(Self::MultiPoint),
            _ => None,
        }
    }

    /// The GeoJSON name.
    #[must_use]
    pub fn geojson_name(self) -> &'static str {
        match self {
            Self::MultiPolygon => "MultiPolygon",
            Self::MultiPoint => "MultiPoint",
        }
    }
}

/// A feature's geometry, read from GeoJSON coordinates (borrowed, never copied).
#[derive(Debug, Clone, Copy)]
pub struct Shape<'a> {
    kind: GeometryKind,
    coordinates: &'a [Value],
    /// `[min_x, min_y, max_x, max_y]`.
    bbox: [f64; 4],
}

impl Shape<'_> {
    /// `[min_x, min_y, max_x, max_y]` of every coordinate.
    #[must_use]
    pub fn bbox(&self) -> [f64; 4] {
        self.bbox
    }
}

/// A layer ready to be written: its features' shapes and typed cells, checked once.
#[derive(Debug)]
pub struct Layer<'a> {
    /// Table / layer name, e.g. `local_authorities`.
    pub name: String,
    /// Title, for people.
    pub title: String,
    /// Description: what it is, the data version and the licence.
    pub description: String,
    /// Machine-readable metadata (JSON), kept by FlatGeobuf.
    pub metadata: Value,
    /// When the data last changed, `YYYY-MM-DD` (GeoPackage's `last_change`).
    pub last_change: Option<String>,
    /// The geometry type of every feature.
    pub kind: GeometryKind,
    /// Columns, in order.
    pub columns: Vec<Column>,
    /// Per feature: its shape and one cell per column (`None` = NULL).
    pub rows: Vec<(Shape<'a>, Vec<Option<Cell>>)>,
}

/// Descriptive parts of a layer.
#[derive(Debug, Clone)]
pub struct About {
    /// Table / layer name.
    pub name: String,
    /// Title.
    pub title: String,
    /// Description (version, licence).
    pub description: String,
    /// Metadata JSON.
    pub metadata: Value,
    /// `YYYY-MM-DD` of the last change.
    pub last_change: Option<String>,
    /// The geometry type every feature has (also that of an empty layer).
    pub geometry: GeometryKind,
}

impl<'a> Layer<'a> {
    /// A layer of GeoJSON `features` (all of one geometry type). Columns are `declared` in
    /// order, then any other property in the order first seen; a column's type is its
    /// declared one (whole numbers widened to 64 bits if a value needs it) or, if undeclared,
    /// the narrowest that holds every value (text when there is none).
    ///
    /// # Errors
    /// [`GisError`] naming the feature whose geometry or value does not fit.
    pub fn new(
        about: About,
        features: &'a [Value],
        declared: &[Declared],
    ) -> Result<Self, GisError> {
        let mut columns: Vec<(Declared, Option<ColumnType>)> =
            declared.iter().map(|d| (d.clone(), d.ty)).collect();
        for f in features {
            if let Some(props) = f["properties"].as_object() {
                for k in props.keys() {
                    if !columns.iter().any(|(d, _)| &d.name == k) {
                        let d = Declared {
                            name: k.clone(),
                            ty: None,
                            description: None,
                        };
                        columns.push((d, None));
                    }
                }
            }
        }
        for (feature, f) in features.iter().enumerate() {
            for (d, ty) in &mut columns {
                let v = &f["properties"][d.name.as_str()];
                *ty = widen(*ty, d.ty.is_some(), v).ok_or_else(|| GisError::Value {
                    feature,
                    column: d.name.clone(),
                    value: v.to_string(),
                    expected: ty.map_or("single type", ColumnType::name),
                })?;
            }
        }
        let columns: Vec<Column> = columns
            .into_iter()
            .map(|(d, ty)| Column {
                name: d.name,
                ty: ty.unwrap_or(ColumnType::Text),
                description: d.description,
            })
            .collect();
        let expected = about.geometry;
        let mut rows = Vec::with_capacity(features.len());
        for (feature, f) in features.iter().enumerate() {
            let shape = shape(feature, &f["geometry"])?;
            if shape.kind != expected {
                return Err(GisError::MixedGeometry {
                    feature,
                    expected: expected.geojson_name().to_owned(),
                    found: shape.kind.geojson_name().to_owned(),
                });
            }
            let cells = columns
                .iter()
                .map(|c| cell(feature, c, &f["properties"][c.name.as_str()]))
                .collect::<Result<Vec<_>, _>>()?;
            rows.push((shape, cells));
        }
        Ok(Self {
            name: about.name,
            title: about.title,
            description: about.description,
            metadata: about.metadata,
            last_change: about.last_change,
            kind: expected,
            columns,
            rows,
        })
    }

    /// `[min_x, min_y, max_x, max_y]` of every feature (`None` for an empty layer).
    #[must_use]
    pub fn extent(&self) -> Option<[f64; 4]> {
        self.rows.iter().map(|(s, _)| s.bbox).reduce(|a, b| {
            [
                a[0].min(b[0]),
                a[1].min(b[1]),
                a[2].max(b[2]),
                a[3].max(b[3]),
            ]
        })
    }
}

/// The column type after seeing `v`: `None` if `v` cannot be stored in it. A declared type
/// only widens from 32- to 64-bit integers; an undeclared one becomes the narrowest that
/// holds every value seen.
fn widen(ty: Option<ColumnType>, declared: bool, v: &Value) -> Option<Option<ColumnType>> {
    use ColumnType::{BigInteger, Boolean, Integer, Real, Text};
    let seen = match v {
        Value::Null => return Some(ty),
        Value::Bool(_) => Boolean,
        Value::Number(n) if n.as_i64().is_some_and(|i| i32::try_from(i).is_ok()) => Integer,
        Value::Number(n) if n.as_i64().is_some() => BigInteger,
        Value::Number(_) => Real,
        Value::String(_) | Value::Array(_) | Value::Object(_) => Text,
    };
    let Some(ty) = ty else {
        return Some(Some(seen));
    };
    let joined = match (ty, seen) {
        (a, b) if a == b => a,
        (Integer, BigInteger) | (BigInteger, Integer) => BigInteger,
        (Real, Integer | BigInteger) => Real,
        (Integer | BigInteger, Real) if !declared => Real,
        _ if !declared => Text,
        _ => return None,
    };
    Some(Some(joined))
}

/// The cell of column `c` for the JSON value `v` (already known to fit, see [`widen`]).
fn cell(feature: usize, c: &Column, v: &Value) -> Result<Option<Cell>, GisError> {
    let bad = || GisError::Value {
        feature,
        column: c.name.clone(),
        value: v.to_string(),
        expected: c.ty.name(),
    };
    Ok(Some(match (c.ty, v) {
        (_, Value::Null) => return Ok(None),
        (ColumnType::Text, Value::String(s)) => Cell::Text(s.clone()),
        (ColumnType::Text, other) => Cell::Text(other.to_string()),
        (ColumnType::Integer | ColumnType::BigInteger, Value::Number(n)) => {
            Cell::Int(n.as_i64().ok_or_else(bad)?)
        }
        (ColumnType::Real, Value::Number(n)) => Cell::Real(n.as_f64().ok_or_else(bad)?),
        (ColumnType::Boolean, Value::Bool(b)) => Cell::Bool(*b),
        _ => return Err(bad()),
    }))
}

/// Read a GeoJSON geometry: its type, coordinates and bbox.
fn shape(feature: usize, g: &Value) -> Result<Shape<'_>, GisError> {
    let bad = |reason: String| GisError::Geometry { feature, reason };
    let t = g["type"].as_str().unwrap_or("no geometry");
    let kind = GeometryKind::parse(t).ok_or_else(|| {
        bad(format!(
            "a {t} geometry; this writer takes MultiPolygon or MultiPoint"
        ))
    })?;
    let coordinates = g["coordinates"]
        .as_array()
        .ok_or_else(|| bad("no coordinates".to_owned()))?;
    let mut bbox = [
        f64::INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NEG_INFINITY,
    ];
    let mut seen = false;
    let s = Shape {
        kind,
        coordinates,
        bbox,
    };
    walk(&s, &mut Noop, &mut |x, y, _| {
        bbox = [
            bbox[0].min(x),
            bbox[1].min(y),
            bbox[2].max(x),
            bbox[3].max(y),
        ];
        seen = true;
        Ok(())
    })
    .map_err(|e| bad(e.to_string()))?;
    if !seen {
        return Err(bad("an empty geometry".to_owned()));
    }
    Ok(Shape { bbox, ..s })
}

/// A processor that does nothing (for walking coordinates only).
struct Noop;
impl GeomProcessor for Noop {}

/// Walk a shape's structure into `p`, and each coordinate into `p` (or `point`).
fn walk<P: GeomProcessor>(
    s: &Shape<'_>,
    p: &mut P,
    point: &mut dyn FnMut(f64, f64, usize) -> GeozeroResult<()>,
) -> GeozeroResult<()> {
    use geozero::error::GeozeroError::Geometry;
    let xy = |c: &Value| -> GeozeroResult<(f64, f64)> {
        match c.as_array().map(Vec::as_slice) {
            Some([x, y, ..]) => match (x.as_f64(), y.as_f64()) {
                (Some(x), Some(y)) if x.is_finite() && y.is_finite() => Ok((x, y)),
                _ => Err(Geometry(format!("coordinate {c} is not two numbers"))),
            },
            _ => Err(Geometry(format!("coordinate {c} is not [x, y]"))),
        }
    };
    let multi = p.multi_dim();
    let mut emit = |p: &mut P, x: f64, y: f64, i: usize| {
        point(x, y, i)?;
        if multi {
            p.coordinate(x, y, None, None, None, None, i)
        } else {
            p.xy(x, y, i)
        }
    };
    match s.kind {
        GeometryKind::MultiPoint => {
            p.multipoint_begin(s.coordinates.len(), 0)?;
            for (i, c) in s.coordinates.iter().enumerate() {
                let (x, y) = xy(c)?;
                emit(p, x, y, i)?;
            }
            p.multipoint_end(0)
        }
        GeometryKind::MultiPolygon => {
            p.multipolygon_begin(s.coordinates.len(), 0)?;
            for (pi, polygon) in s.coordinates.iter().enumerate() {
                let rings = polygon
                    .as_array()
                    .ok_or_else(|| Geometry("a polygon is not an array of rings".to_owned()))?;
                p.polygon_begin(false, rings.len(), pi)?;
                for (ri, ring) in rings.iter().enumerate() {
                    let points = ring
                        .as_array()
                        .ok_or_else(|| Geometry("a ring is not an array of points".to_owned()))?;
                    p.linestring_begin(false, points.len(), ri)?;
                    for (i, c) in points.iter().enumerate() {
                        let (x, y) = xy(c)?;
                        emit(p, x, y, i)?;
                    }
                    p.linestring_end(false, ri)?;
                }
                p.polygon_end(false, pi)?;
            }
            p.multipolygon_end(0)
        }
    }
}

impl GeozeroGeometry for Shape<'_> {
    fn process_geom<P: GeomProcessor>(&self, processor: &mut P) -> GeozeroResult<()> {
        walk(self, processor, &mut |_, _, _| Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn about() -> About {
        About {
            name: "t".to_owned(),
            title: "T".to_owned(),
            description: String::new(),
            metadata: Value::Null,
            last_change: None,
            geometry: GeometryKind::MultiPoint,
        }
    }

    fn point(props: Value) -> Value {
        json!({"type": "Feature", "geometry": {"type": "MultiPoint", "coordinates": [[1.0, 2.0]]}, "properties": props})
    }

    fn declared(name: &str, ty: ColumnType) -> Declared {
        Declared {
            name: name.to_owned(),
            ty: Some(ty),
            description: None,
        }
    }

    #[test]
    fn column_types_follow_the_schema_and_widen_only_whole_numbers() {
        let features = [
            point(json!({"n": 1, "big": 1, "x": 1, "mixed": 1, "s": "a", "none": null})),
            point(json!({"n": 2, "big": 5_000_000_000_u64, "x": 1.5, "mixed": "b"})),
        ];
        let layer = Layer::new(
            about(),
            &features,
            &[
                declared("n", ColumnType::Integer),
                declared("big", ColumnType::Integer),
            ],
        )
        .expect("layer");
        let types: Vec<(&str, ColumnType)> = layer
            .columns
            .iter()
            .map(|c| (c.name.as_str(), c.ty))
            .collect();
        assert_eq!(
            types,
            [
                ("n", ColumnType::Integer),
                ("big", ColumnType::BigInteger),
                ("mixed", ColumnType::Text),
                ("none", ColumnType::Text),
                ("s", ColumnType::Text),
                ("x", ColumnType::Real),
            ]
        );
        assert_eq!(layer.rows[1].1[1], Some(Cell::Int(5_000_000_000)));
        assert_eq!(layer.rows[0].1[2], Some(Cell::Text("1".to_owned())));
        assert_eq!(layer.rows[1].1[3], None, "a missing value is NULL");
        assert_eq!(layer.extent(), Some([1.0, 2.0, 1.0, 2.0]));
    }

    #[test]
    fn a_value_or_geometry_that_does_not_fit_names_the_feature() {
        let features = [point(json!({"flag": true})), point(json!({"flag": "yes"}))];
        let err = Layer::new(about(), &features, &[declared("flag", ColumnType::Boolean)])
            .expect_err("a string in a boolean column");
        assert_eq!(
            err.to_string(),
            "feature 1, column flag: \"yes\" is not a boolean"
        );
        let polygon = json!({"type": "Feature", "geometry": {"type": "Polygon", "coordinates": []}, "properties": {}});
        let err = Layer::new(about(), std::slice::from_ref(&polygon), &[]).expect_err("a Polygon");
        assert!(
            err.to_string().starts_with("feature 0: a Polygon geometry"),
            "{err}"
        );
        let bad = json!({"type": "Feature", "geometry": {"type": "MultiPoint", "coordinates": [["x", 1]]}, "properties": {}});
        let err = Layer::new(about(), std::slice::from_ref(&bad), &[]).expect_err("not numbers");
        assert!(err.to_string().contains("is not two numbers"), "{err}");
    }

    #[test]
    fn the_same_layer_gives_the_same_bytes() {
        let features = [point(json!({"a": 1}))];
        let layer = Layer::new(about(), &features, &[]).expect("layer");
        for format in Format::ALL {
            let once = format.write(&layer).expect("written");
            assert_eq!(format.write(&layer).expect("written"), once, "{format:?}");
        }
    }
}
