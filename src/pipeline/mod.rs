//! Stages 1–4 of the per-tile pipeline: select → clip → snap → make valid → encode.
//!
//! [`render_tile`] is a pure, synchronous function of the shared dataset and a validated tile
//! address. Simplification already happened once per zoom at load time (see
//! `dataset::generalise`), so a request only filters, cuts and rounds.

pub mod clip;
pub mod encode;
pub mod select;
pub mod snap;
pub mod valid;

use crate::dataset::Dataset;
use crate::schema::{LA_LAYER, LABEL_LAYER};
use crate::tile::{BUFFER, EXTENT, TileCoord, grid_unit};
use clip::TilePt;
use encode::{PointFeature, PolygonFeature};

/// Why a tile could not be rendered (never the client's fault).
#[derive(Debug, Clone, thiserror::Error)]
pub enum RenderError {
    /// The MVT encoder refused the geometry.
    #[error("MVT encoding failed: {0}")]
    Encode(String),
    /// The dataset was prepared for fewer zooms than requested.
    #[error("zoom {0} was not prepared by the dataset")]
    ZoomNotPrepared(u8),
}

/// Render one tile to uncompressed MVT bytes, or `None` if no LA touches it.
///
/// # Errors
/// [`RenderError`] on an internal failure.
pub fn render_tile(ds: &Dataset, tile: TileCoord) -> Result<Option<Vec<u8>>, RenderError> {
    render_tile_from(ds, tile.z, tile)
}

/// [`render_tile`] with the polygons as simplified for zoom `geometry_zoom` instead of the
/// tile's own zoom. Benchmarks use it to compare against less simplified geometry.
///
/// # Errors
/// [`RenderError::ZoomNotPrepared`] when the dataset has no such zoom.
pub fn render_tile_from(
    ds: &Dataset,
    geometry_zoom: u8,
    tile: TileCoord,
) -> Result<Option<Vec<u8>>, RenderError> {
    prepare(ds, geometry_zoom, tile)?.encode()
}

/// What a tile holds, ready to encode: stages 1–3 done.
pub struct TileContent<'a> {
    polygons: Vec<PolygonFeature<'a>>,
    points: Vec<PointFeature<'a>>,
}

/// Content with at most this many vertices has a [`TileContent::fingerprint`].
const FINGERPRINT_MAX_POINTS: usize = 64;

impl TileContent<'_> {
    /// Stage 4: the MVT bytes, or `None` if the tile is empty.
    ///
    /// # Errors
    /// [`RenderError::Encode`] if the encoder rejects the input (a bug, not bad data).
    pub fn encode(&self) -> Result<Option<Vec<u8>>, RenderError> {
        encode::encode(&self.polygons, &self.points, LA_LAYER, LABEL_LAYER)
    }

    /// For small non-empty content (an LA's interior at high zoom is one square, repeated in
    /// thousands of tiles): a 128-bit hash of everything [`TileContent::encode`] writes, so
    /// equal fingerprints within one dataset mean equal bytes. Features are identified by their
    /// id and their attribute list (which belongs to the dataset). `None` for empty or larger
    /// content.
    #[must_use]
    pub fn fingerprint(&self) -> Option<u128> {
        let vertices: usize = self
            .polygons
            .iter()
            .flat_map(|f| &f.rings)
            .map(Vec::len)
            .sum::<usize>()
            + self.points.len();
        if vertices == 0 || vertices > FINGERPRINT_MAX_POINTS {
            return None;
        }
        let mut h = xxhash_rust::xxh3::Xxh3::new();
        let mut word = |v: u64| h.update(&v.to_le_bytes());
        word(self.polygons.len() as u64);
        for f in &self.polygons {
            word(f.id);
            word(f.attributes.as_ptr() as u64);
            word(f.attributes.len() as u64);
            word(f.rings.len() as u64);
            for ring in &f.rings {
                word(ring.len() as u64);
                for p in ring {
                    word((u64::from(p[0].cast_unsigned()) << 32) | u64::from(p[1].cast_unsigned()));
                }
            }
        }
        word(self.points.len() as u64);
        for f in &self.points {
            word(f.id);
            word(f.attributes.as_ptr() as u64);
            word(f.attributes.len() as u64);
            word(
                (u64::from(f.point[0].cast_unsigned()) << 32)
                    | u64::from(f.point[1].cast_unsigned()),
            );
        }
        Some(h.digest128())
    }
}

/// Stages 1–3 of one tile: select, clip, snap, make valid (everything but encoding).
///
/// # Errors
/// [`RenderError::ZoomNotPrepared`] when the dataset has no such zoom.
pub fn prepare(
    ds: &Dataset,
    geometry_zoom: u8,
    tile: TileCoord,
) -> Result<TileContent<'_>, RenderError> {
    if geometry_zoom > ds.max_zoom() || tile.z > ds.max_zoom() {
        return Err(RenderError::ZoomNotPrepared(tile.z.max(geometry_zoom)));
    }
    let rings = &ds.geometry.rings;
    let b = tile.bounds();
    let window = tile.buffered_bounds();
    let unit = grid_unit(tile.z);
    let to_tile = |p: &[f64; 2]| -> TilePt { [(p[0] - b[0]) / unit, (b[3] - p[1]) / unit] };
    let (lo, hi) = (-f64::from(BUFFER), f64::from(EXTENT + BUFFER));

    let mut polygons = Vec::new();
    let mut merc = Vec::new();
    let mut projected: Vec<TilePt> = Vec::new();
    for (la, parts) in select::candidates(ds, tile) {
        let mut out_rings = Vec::new();
        for part in parts {
            let mut exterior_kept = false;
            for (ri, ring) in rings.part_rings(la, part, geometry_zoom).enumerate() {
                if ri > 0 && !exterior_kept {
                    break;
                }
                // Only the vertices that can matter inside the buffered tile (see dataset::rings).
                rings.ring_points(ring, geometry_zoom, Some(window), &mut merc);
                projected.clear();
                projected.extend(merc.iter().map(to_tile));
                let clipped = clip::clip_ring(&projected, lo, hi);
                if let Some(r) = snap::snap_ring(&clipped, ri == 0) {
                    out_rings.push(r);
                    exterior_kept |= ri == 0;
                }
            }
        }
        let out_rings = valid::make_valid(&out_rings);
        if !out_rings.is_empty() {
            polygons.push(PolygonFeature {
                id: ds.las[la].feature_id(),
                rings: out_rings,
                attributes: &ds.attributes[la],
            });
        }
    }

    let mut points = Vec::new();
    let [min_x, min_y, max_x, max_y] = b;
    for (la, p) in ds.geometry.labels.iter().enumerate() {
        // Labels only inside the tile proper, so each is drawn from exactly one tile.
        if p[0] >= min_x && p[0] < max_x && p[1] > min_y && p[1] <= max_y {
            let t = to_tile(p);
            #[allow(clippy::cast_possible_truncation)]
            let point = [t[0].round() as i32, t[1].round() as i32];
            points.push(PointFeature {
                id: ds.las[la].feature_id(),
                point,
                attributes: &ds.label_attributes[la],
            });
        }
    }
    Ok(TileContent { polygons, points })
}
