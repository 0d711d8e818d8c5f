//! FlatGeobuf writer: the `flatgeobuf` crate's `FgbWriter`, fed through geozero, with the
//! packed Hilbert R-tree (so clients read a bbox with HTTP range requests), EPSG:4326, every
//! column typed and described, and the licence and data version in the header.

use flatgeobuf::{ColumnType as FgbType, FgbCrs, FgbWriter, FgbWriterOptions, GeometryType};
use geozero::{ColumnValue, PropertyProcessor};

use super::{Cell, ColumnType, GeometryKind, GisError, Layer};

fn column_type(ty: ColumnType) -> FgbType {
    match ty {
        ColumnType::Text => FgbType::String,
        ColumnType::Integer => FgbType::Int,
        ColumnType::BigInteger => FgbType::Long,
        ColumnType::Real => FgbType::Double,
        ColumnType::Boolean => FgbType::Bool,
    }
}

/// `layer` as a FlatGeobuf file with its spatial index (pure: the same layer gives the same
/// bytes).
///
/// # Errors
/// [`GisError`] if the writer fails (a bug: the layer was checked when built).
pub fn write(layer: &Layer<'_>) -> Result<Vec<u8>, GisError> {
    let metadata = layer.metadata.to_string();
    let geometry_type = match layer.kind {
        GeometryKind::MultiPolygon => GeometryType::MultiPolygon,
        GeometryKind::MultiPoint => GeometryType::MultiPoint,
    };
    let mut fgb = FgbWriter::create_with_options(
        &layer.name,
        geometry_type,
        FgbWriterOptions {
            // An index over no features is one GDAL refuses to read: an empty page has none.
            write_index: !layer.rows.is_empty(),
            detect_type: false,
            promote_to_multi: true,
            crs: FgbCrs {
                org: Some("EPSG"),
                code: 4326,
                ..Default::default()
            },
            title: Some(&layer.title),
            description: Some(&layer.description),
            metadata: Some(&metadata),
            ..Default::default()
        },
    )?;
    for c in &layer.columns {
        fgb.add_column(&c.name, column_type(c.ty), |fbb, col| {
            col.nullable = true;
            col.description = c.description.as_deref().map(|d| fbb.create_string(d));
        });
    }
    for (feature, (shape, cells)) in layer.rows.iter().enumerate() {
        let mut values = Vec::with_capacity(cells.len());
        for (i, (c, cell)) in layer.columns.iter().zip(cells).enumerate() {
            let value = match (cell, c.ty) {
                (None, _) => continue,
                (Some(Cell::Text(s)), _) => ColumnValue::String(s),
                (Some(Cell::Int(n)), ColumnType::Integer) => {
                    ColumnValue::Int(i32::try_from(*n).map_err(|_| GisError::Value {
                        feature,
                        column: c.name.clone(),
                        value: n.to_string(),
                        expected: "32-bit integer",
                    })?)
                }
                (Some(Cell::Int(n)), _) => ColumnValue::Long(*n),
                (Some(Cell::Real(x)), _) => ColumnValue::Double(*x),
                (Some(Cell::Bool(b)), _) => ColumnValue::Bool(*b),
            };
            values.push((i, c.name.as_str(), value));
        }
        let mut failed = None;
        fgb.add_feature_geom(*shape, |w| {
            for (i, name, value) in &values {
                if let Err(e) = w.property(*i, name, value) {
                    failed.get_or_insert(e);
                }
            }
        })?;
        if let Some(e) = failed {
            return Err(e.into());
        }
    }
    let mut out = Vec::new();
    fgb.write(&mut out)?;
    Ok(out)
}
