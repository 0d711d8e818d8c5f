//! Stage 2, clip: cut rings to the buffered tile rectangle (Sutherland–Hodgman), in tile units.
//!
//! A rectangle clipper, not general boolean operations: it is linear in the ring's size and
//! never fails. Intersections are computed from each segment's endpoints in a canonical order,
//! so two neighbours that share an edge (traversed in opposite directions) get bit-identical
//! cut points. The output may run along the clip rectangle; that is fine for MVT polygons.

/// A point in tile units (f64, before snapping; y grows downwards).
pub type TilePt = [f64; 2];

#[derive(Clone, Copy)]
enum Edge {
    Left(f64),
    Right(f64),
    Top(f64),
    Bottom(f64),
}

impl Edge {
    fn inside(self, p: TilePt) -> bool {
        match self {
            Self::Left(v) => p[0] >= v,
            Self::Right(v) => p[0] <= v,
            Self::Top(v) => p[1] >= v,
            Self::Bottom(v) => p[1] <= v,
        }
    }

    fn intersect(self, a: TilePt, b: TilePt) -> TilePt {
        // Canonical order: the same segment gives the same point whichever way it is walked.
        let (a, b) = if (a[0], a[1]) <= (b[0], b[1]) {
            (a, b)
        } else {
            (b, a)
        };
        match self {
            Self::Left(v) | Self::Right(v) => {
                let t = (v - a[0]) / (b[0] - a[0]);
                [v, a[1] + t * (b[1] - a[1])]
            }
            Self::Top(v) | Self::Bottom(v) => {
                let t = (v - a[1]) / (b[1] - a[1]);
                [a[0] + t * (b[0] - a[0]), v]
            }
        }
    }
}

/// Clip an open ring (no closing duplicate) to `[lo, hi]` on both axes.
/// Returns an empty vector when nothing of the ring is inside.
#[must_use]
pub fn clip_ring(ring: &[TilePt], lo: f64, hi: f64) -> Vec<TilePt> {
    let (mut min, mut max) = ([f64::MAX; 2], [f64::MIN; 2]);
    for p in ring {
        min = [min[0].min(p[0]), min[1].min(p[1])];
        max = [max[0].max(p[0]), max[1].max(p[1])];
    }
    if min[0] >= lo && min[1] >= lo && max[0] <= hi && max[1] <= hi {
        return ring.to_vec();
    }
    if max[0] < lo || max[1] < lo || min[0] > hi || min[1] > hi {
        return Vec::new();
    }
    let mut current = ring.to_vec();
    for edge in [
        Edge::Left(lo),
        Edge::Right(hi),
        Edge::Top(lo),
        Edge::Bottom(hi),
    ] {
        if current.is_empty() {
            break;
        }
        let input = std::mem::take(&mut current);
        let mut prev = input[input.len() - 1];
        for &p in &input {
            match (edge.inside(prev), edge.inside(p)) {
                (true, true) => current.push(p),
                (true, false) => current.push(edge.intersect(prev, p)),
                (false, true) => {
                    current.push(edge.intersect(prev, p));
                    current.push(p);
                }
                (false, false) => {}
            }
            prev = p;
        }
    }
    current
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_square_overlapping_the_corner_is_cut_to_the_overlap() {
        let sq = [[-10.0, -10.0], [10.0, -10.0], [10.0, 10.0], [-10.0, 10.0]];
        let c = clip_ring(&sq, 0.0, 100.0);
        let mut got: Vec<(i64, i64)> = c.iter().map(|p| (p[0] as i64, p[1] as i64)).collect();
        got.sort_unstable();
        got.dedup();
        assert_eq!(got, vec![(0, 0), (0, 10), (10, 0), (10, 10)]);
    }

    #[test]
    fn rings_wholly_outside_vanish_and_inside_pass_unchanged() {
        let far = [[200.0, 200.0], [210.0, 200.0], [210.0, 210.0]];
        assert!(clip_ring(&far, 0.0, 100.0).is_empty());
        let inside = [[1.0, 1.0], [2.0, 1.0], [2.0, 2.0]];
        assert_eq!(clip_ring(&inside, 0.0, 100.0), inside.to_vec());
    }

    #[test]
    fn shared_segment_cut_points_do_not_depend_on_direction() {
        let a = [-3.3, 7.7];
        let b = [5.1, -1.9];
        let e = Edge::Left(0.0);
        assert_eq!(e.intersect(a, b), e.intersect(b, a));
    }
}
