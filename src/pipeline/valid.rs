//! Stage 3b, make valid: resolve what clipping and snapping left behind, with `i_overlay`.
//!
//! Sutherland–Hodgman leaves zero-width "bridges" along the tile edge, and rounding to the grid
//! can make rings touch or cross. The snapped rings of one feature are re-noded as one shape
//! under the non-zero fill rule (exteriors positive, holes negative), which yields simple,
//! non-overlapping rings, collinear points removed. GDAL and QGIS reject invalid polygons that
//! MapLibre would silently draw, so this runs on every feature.

use i_overlay::core::fill_rule::FillRule;
use i_overlay::core::overlay::IntOverlayOptions;
use i_overlay::core::simplify::Simplify;
use i_overlay::i_float::int::point::IntPoint;

use super::snap::{GridPt, area2};

/// Valid polygons from oriented rings (exteriors positive area, holes negative):
/// each exterior followed by its holes, oriented as MVT requires.
#[must_use]
pub fn make_valid(rings: &[Vec<GridPt>]) -> Vec<Vec<GridPt>> {
    let contours: Vec<Vec<IntPoint>> = rings
        .iter()
        .map(|r| r.iter().map(|p| IntPoint::new(p[0], p[1])).collect())
        .collect();
    let shapes = contours.simplify(FillRule::NonZero, IntOverlayOptions::ogc());
    let mut out = Vec::new();
    for shape in shapes {
        for (i, contour) in shape.into_iter().enumerate() {
            let mut ring: Vec<GridPt> = contour.into_iter().map(|p| [p.x, p.y]).collect();
            let a = area2(&ring);
            if ring.len() < 3 || a == 0 {
                continue;
            }
            if (a > 0) != (i == 0) {
                ring.reverse();
            }
            out.push(ring);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bridge_along_the_tile_edge_is_split_into_two_valid_rings() {
        // A "U" clipped at the top edge: two arms joined by a zero-width run along y = 0.
        let u = vec![
            [0, 0],
            [0, 10],
            [30, 10],
            [30, 0],
            [20, 0],
            [20, 5],
            [10, 5],
            [10, 0],
        ];
        let mut r = u.clone();
        if area2(&r) < 0 {
            r.reverse();
        }
        let out = make_valid(&[r]);
        assert!(!out.is_empty());
        assert!(out.iter().all(|r| area2(r) > 0), "{out:?}");
    }

    #[test]
    fn a_bow_tie_becomes_two_triangles() {
        let bow = vec![[0, 0], [10, 10], [10, 0], [0, 10]];
        let out = make_valid(&[bow]);
        assert_eq!(out.len(), 2, "{out:?}");
        assert!(out.iter().all(|r| area2(r) > 0));
    }

    #[test]
    fn holes_stay_holes() {
        let outer = vec![[0, 0], [0, 100], [100, 100], [100, 0]];
        let hole = vec![[10, 10], [20, 10], [20, 20], [10, 20]];
        let (mut o, mut h) = (outer, hole);
        if area2(&o) < 0 {
            o.reverse();
        }
        if area2(&h) > 0 {
            h.reverse();
        }
        let out = make_valid(&[o, h]);
        assert_eq!(out.len(), 2);
        assert!(area2(&out[0]) > 0 && area2(&out[1]) < 0);
    }
}
