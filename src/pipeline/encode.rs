//! Stage 4, encode: the only module that touches the `mvt` crate.
//!
//! Input is already clipped, snapped and oriented; this writes MVT 2.1 layers with extent
//! [`EXTENT`], one feature per LA, attributes as typed tags. Empty layers are left out.

use mvt::{GeomEncoder, GeomType, Tile};

use super::RenderError;
use super::snap::GridPt;
use crate::model::Value;
use crate::tile::EXTENT;

/// One LA polygon feature: rings in MVT order (each exterior followed by its holes).
pub struct PolygonFeature<'a> {
    /// Feature id.
    pub id: u64,
    /// Rings, oriented.
    pub rings: Vec<Vec<GridPt>>,
    /// Tags.
    pub attributes: &'a [(String, Value)],
}

/// One label point feature.
pub struct PointFeature<'a> {
    /// Feature id.
    pub id: u64,
    /// Position on the grid.
    pub point: GridPt,
    /// Tags.
    pub attributes: &'a [(String, Value)],
}

fn mvt_err(e: mvt::Error) -> RenderError {
    RenderError::Encode(e.to_string())
}

fn tag(feature: &mut mvt::Feature, key: &str, value: &Value) {
    match value {
        Value::Str(s) => feature.add_tag_string(key, s),
        Value::Uint(n) => feature.add_tag_uint(key, *n),
        Value::Double(x) => feature.add_tag_double(key, *x),
        Value::Bool(b) => feature.add_tag_bool(key, *b),
    }
}

/// The ring's points, starting at the first one that is not `cursor` (where the previous
/// ring ended). `mvt` 0.15 drops the MoveTo of a ring that starts at the cursor, which leaves
/// a LineTo straight after a ClosePath: GDAL refuses such a tile ("Parsing error") and
/// MapLibre glues the points onto the previous ring. Rings that touch at a vertex (common
/// after make-valid) hit this; starting elsewhere on the ring avoids it without changing the
/// shape. Rings have at least 3 distinct points, so such a start exists.
fn ring_from(ring: &[GridPt], cursor: Option<GridPt>) -> impl Iterator<Item = &GridPt> {
    let start = ring.iter().position(|p| Some(*p) != cursor).unwrap_or(0);
    ring[start..].iter().chain(&ring[..start])
}

/// Encode the two layers. `Ok(None)` when both are empty.
///
/// # Errors
/// [`RenderError::Encode`] if the encoder rejects the input (a bug, not bad data).
pub fn encode(
    polygons: &[PolygonFeature<'_>],
    points: &[PointFeature<'_>],
    polygon_layer: &str,
    point_layer: &str,
) -> Result<Option<Vec<u8>>, RenderError> {
    if polygons.is_empty() && points.is_empty() {
        return Ok(None);
    }
    let mut tile = Tile::new(EXTENT);
    if !polygons.is_empty() {
        let mut layer = tile.create_layer(polygon_layer);
        for f in polygons {
            let mut enc = GeomEncoder::<f64>::new(GeomType::Polygon);
            let mut cursor = None;
            for ring in &f.rings {
                for p in ring_from(ring, cursor) {
                    enc.add_point(f64::from(p[0]), f64::from(p[1]))
                        .map_err(mvt_err)?;
                    cursor = Some(*p);
                }
                enc.complete_geom().map_err(mvt_err)?;
            }
            let mut feature = layer.into_feature(enc.encode().map_err(mvt_err)?);
            feature.set_id(f.id);
            for (k, v) in f.attributes {
                tag(&mut feature, k, v);
            }
            layer = feature.into_layer();
        }
        tile.add_layer(layer).map_err(mvt_err)?;
    }
    if !points.is_empty() {
        let mut layer = tile.create_layer(point_layer);
        for f in points {
            let geom = GeomEncoder::<f64>::new(GeomType::Point)
                .point(f64::from(f.point[0]), f64::from(f.point[1]))
                .map_err(mvt_err)?
                .encode()
                .map_err(mvt_err)?;
            let mut feature = layer.into_feature(geom);
            feature.set_id(f.id);
            for (k, v) in f.attributes {
                tag(&mut feature, k, v);
            }
            layer = feature.into_layer();
        }
        tile.add_layer(layer).map_err(mvt_err)?;
    }
    tile.to_bytes().map(Some).map_err(mvt_err)
}
