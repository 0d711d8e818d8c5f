//! Stage 1, select: the polygon parts whose full-resolution bbox meets the buffered tile.
//!
//! Pure: an R-tree query over the shared dataset, nothing copied.

use std::collections::BTreeMap;

use rstar::AABB;

use crate::dataset::Dataset;
use crate::tile::TileCoord;

/// Candidate parts grouped by LA index, in LA order (deterministic tiles).
#[must_use]
pub fn candidates(ds: &Dataset, tile: TileCoord) -> BTreeMap<usize, Vec<usize>> {
    let b = tile.buffered_bounds();
    let env = AABB::from_corners([b[0], b[1]], [b[2], b[3]]);
    let mut out: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for e in ds.geometry.index.locate_in_envelope_intersecting(&env) {
        let (la, part) = e.data;
        out.entry(la as usize).or_default().push(part as usize);
    }
    for parts in out.values_mut() {
        parts.sort_unstable();
    }
    out
}

/// Whether no part's bbox meets the buffered tile, so the tile is certainly empty: no polygon,
/// and no label (a label lies inside its LA's largest part, so inside that part's bbox).
#[must_use]
pub fn nothing_near(ds: &Dataset, tile: TileCoord) -> bool {
    let b = tile.buffered_bounds();
    let env = AABB::from_corners([b[0], b[1]], [b[2], b[3]]);
    ds.geometry
        .index
        .locate_in_envelope_intersecting(&env)
        .next()
        .is_none()
}
