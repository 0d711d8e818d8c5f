//! Stage 3b, make valid: resolve what clipping and snapping left behind, with `i_overlay`.
//!
//! Sutherland–Hodgman leaves zero-width "bridges" along the tile edge, and rounding to the grid
//! can make rings touch or cross. The snapped rings of one feature are re-noded as one shape
//! under the non-zero fill rule (exteriors positive, holes negative), which yields simple,
//! non-overlapping rings: parts that share a stretch of edge are merged into one, and what is
//! left touches only at single points (OGC rules, as GEOS checks them). GDAL and QGIS reject
//! invalid polygons that MapLibre would silently draw, so this runs on every feature.
//!
//! Every touching point is a vertex of *each* ring that passes through it. Where a corner of
//! one ring lies on a straight edge of another, that edge keeps the (collinear) node: clients
//! convert tile units to metres or degrees in floating point, and a corner that sits exactly on
//! an edge in integers may land a hair across it afterwards, which GEOS reports as a
//! "Self-intersection" (GDAL and QGIS read 34 such polygons in the z0–12 pyramid before). A
//! vertex shared by both rings maps to the same coordinates on both, so the touch survives
//! any conversion. The input's own collinear points are still dropped, so the only collinear
//! points left are nodes the overlay made (181 of the 928,413 vertices in the z0–12 pyramid).

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
    // Keep the overlay's nodes on straight edges (touches); the input's own collinear points
    // are dropped before the overlay (`preserve_input_collinear: false`).
    let options = IntOverlayOptions {
        preserve_output_collinear: true,
        ..IntOverlayOptions::ogc()
    };
    let shapes = contours.simplify(FillRule::NonZero, options);
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

    /// Whether `p` lies on the ring's boundary, at a vertex or inside an edge.
    fn on_boundary(ring: &[GridPt], p: GridPt) -> bool {
        (0..ring.len()).any(|i| {
            let (a, b) = (ring[i], ring[(i + 1) % ring.len()]);
            let cross = i64::from(b[0] - a[0]) * i64::from(p[1] - a[1])
                - i64::from(b[1] - a[1]) * i64::from(p[0] - a[0]);
            cross == 0
                && (a[0].min(b[0])..=a[0].max(b[0])).contains(&p[0])
                && (a[1].min(b[1])..=a[1].max(b[1])).contains(&p[1])
        })
    }

    /// How many rings pass through the touching point `p`, checking that each has it as a vertex.
    fn rings_sharing(out: &[Vec<GridPt>], p: GridPt) -> usize {
        let through: Vec<_> = out.iter().filter(|r| on_boundary(r, p)).collect();
        assert!(through.iter().all(|r| r.contains(&p)), "{p:?} in {out:?}");
        through.len()
    }

    fn oriented(mut r: Vec<GridPt>, exterior: bool) -> Vec<GridPt> {
        if (area2(&r) > 0) != exterior {
            r.reverse();
        }
        r
    }

    #[test]
    fn parts_sharing_an_edge_are_merged_into_one_ring() {
        let a = oriented(vec![[0, 0], [10, 0], [10, 10], [0, 10]], true);
        let b = oriented(vec![[10, 2], [20, 2], [20, 8], [10, 8]], true);
        let out = make_valid(&[a, b]);
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(area2(&out[0]), 2 * (100 + 60));
    }

    #[test]
    fn a_corner_touching_another_parts_edge_is_a_vertex_of_both() {
        // B's corner (10, 5) lies inside A's right edge: they touch at one point only.
        let a = oriented(vec![[0, 0], [10, 0], [10, 10], [0, 10]], true);
        let b = oriented(vec![[10, 5], [20, 0], [20, 10]], true);
        let out = make_valid(&[a, b]);
        assert_eq!(rings_sharing(&out, [10, 5]), 2, "{out:?}");
    }

    #[test]
    fn a_hole_touching_its_shell_shares_the_vertex() {
        let shell = oriented(vec![[0, 0], [20, 0], [20, 20], [0, 20]], true);
        let hole = oriented(vec![[10, 0], [15, 10], [5, 10]], false);
        let out = make_valid(&[shell, hole]);
        assert_eq!(rings_sharing(&out, [10, 0]), 2, "{out:?}");
        let total: i64 = out.iter().map(|r| area2(r)).sum();
        assert_eq!(total, 2 * (400 - 50), "{out:?}");
    }
}
