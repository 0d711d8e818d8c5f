//! Stage 3, snap: round to the integer tile grid, drop what collapses, fix winding.
//!
//! After rounding, consecutive duplicates and back-and-forth spikes are removed; a ring with
//! fewer than three distinct vertices or zero area is degenerate and dropped. Rings are then
//! oriented as MVT 2.1 requires (y down): exteriors have positive shoelace area, holes negative.

use super::clip::TilePt;

/// A point on the tile grid.
pub type GridPt = [i32; 2];

/// Round a clipped ring to the grid and clean it. `None` if it collapses.
#[must_use]
pub fn snap_ring(ring: &[TilePt], exterior: bool) -> Option<Vec<GridPt>> {
    let mut out: Vec<GridPt> = Vec::with_capacity(ring.len());
    for p in ring {
        // Values are bounded by the clip rectangle, well inside i32.
        #[allow(clippy::cast_possible_truncation)]
        let q = [p[0].round() as i32, p[1].round() as i32];
        push_clean(&mut out, q);
    }
    // Close the loop: the end may duplicate or spike back into the start.
    while out.len() > 2 {
        let n = out.len();
        if out[n - 1] == out[0] {
            out.pop();
        } else if out[n - 1] == out[1] {
            out.pop();
            out.remove(0);
        } else if out[n - 2] == out[0] {
            out.pop();
        } else {
            break;
        }
    }
    if out.len() < 3 {
        return None;
    }
    let area = area2(&out);
    if area == 0 {
        return None;
    }
    if (area > 0) != exterior {
        out.reverse();
    }
    Some(out)
}

fn push_clean(out: &mut Vec<GridPt>, q: GridPt) {
    if out.last() == Some(&q) {
        return;
    }
    if out.len() >= 2 && out[out.len() - 2] == q {
        // p, q, p: a spike of zero width.
        out.pop();
        return;
    }
    out.push(q);
}

/// Twice the signed area, MVT convention (positive = clockwise on screen = exterior).
#[must_use]
pub fn area2(ring: &[GridPt]) -> i64 {
    let n = ring.len();
    (0..n)
        .map(|i| {
            let (a, b) = (ring[i], ring[(i + 1) % n]);
            i64::from(a[0]) * i64::from(b[1]) - i64::from(b[0]) * i64::from(a[1])
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exteriors_get_positive_area_and_holes_negative() {
        let ccw = [[0.0, 0.0], [0.0, 10.0], [10.0, 10.0], [10.0, 0.0]];
        assert!(area2(&snap_ring(&ccw, true).expect("kept")) > 0);
        assert!(area2(&snap_ring(&ccw, false).expect("kept")) < 0);
    }

    #[test]
    fn rings_that_collapse_on_the_grid_are_dropped() {
        let sliver = [[0.0, 0.0], [5.0, 0.2], [10.0, 0.1], [5.0, 0.3]];
        assert_eq!(snap_ring(&sliver, true), None);
        let dot = [[0.1, 0.1], [0.2, 0.1], [0.2, 0.2]];
        assert_eq!(snap_ring(&dot, true), None);
    }

    #[test]
    fn spikes_and_duplicates_are_removed() {
        let r = [
            [0.0, 0.0],
            [10.0, 0.0],
            [10.0, 0.0],
            [20.0, 0.0],
            [10.0, 0.0],
            [10.0, 10.0],
            [0.0, 10.0],
        ];
        let s = snap_ring(&r, true).expect("kept");
        assert_eq!(s.len(), 4, "{s:?}");
    }
}
