//! Stage 0d: dissolve whole districts into one new LA, exactly. Neighbouring districts share
//! their borders vertex for vertex (`boundaries/README.md`), so a border inside the union is
//! an edge that appears once in each direction: cancelling those pairs leaves exactly the outer
//! edges, which are chained back into rings. No coordinate moves, so the result shares its
//! outline, vertex for vertex, with the LAs around it.
//!
//! Pure functions over lon/lat rings (closed, exteriors counter-clockwise, holes clockwise).

use std::collections::HashMap;

use geo::{Contains, Coord, LineString, Polygon};

use super::LonLatLa;

type Key = [u64; 2];

fn key(p: [f64; 2]) -> Key {
    [p[0].to_bits(), p[1].to_bits()]
}

/// Twice the signed area of a closed ring (positive = counter-clockwise).
fn signed_area2(ring: &[[f64; 2]]) -> f64 {
    ring.windows(2)
        .map(|w| w[0][0] * w[1][1] - w[1][0] * w[0][1])
        .sum()
}

/// The union of `pieces`, by cancelling the edges they share. Pieces that overlap, or touch
/// along borders whose vertices differ, leave those edges in place; comparing the result with
/// the LA it must reproduce ([`same_rings`]) finds that.
#[must_use]
pub fn dissolve(pieces: &[&LonLatLa]) -> LonLatLa {
    // Directed edges still open, by start point; a pair in opposite directions cancels.
    let mut count: HashMap<(Key, Key), i32> = HashMap::new();
    let mut points: HashMap<Key, [f64; 2]> = HashMap::new();
    for la in pieces {
        for part in la.iter() {
            for (r, ring) in part.iter().enumerate() {
                let ccw = signed_area2(ring) > 0.0;
                // Exteriors counter-clockwise, holes clockwise, whatever the input did.
                let forward = (r == 0) == ccw;
                for w in ring.windows(2) {
                    let (a, b) = if forward { (w[0], w[1]) } else { (w[1], w[0]) };
                    if key(a) == key(b) {
                        continue;
                    }
                    points.insert(key(a), a);
                    points.insert(key(b), b);
                    let back = (key(b), key(a));
                    match count.get_mut(&back) {
                        Some(n) if *n > 0 => *n -= 1,
                        _ => *count.entry((key(a), key(b))).or_insert(0) += 1,
                    }
                }
            }
        }
    }
    let mut out_edges: HashMap<Key, Vec<Key>> = HashMap::new();
    let mut edges: Vec<(Key, Key)> = Vec::new();
    for (&(a, b), &n) in &count {
        for _ in 0..n {
            edges.push((a, b));
        }
    }
    // A fixed order, so the same input always gives the same rings.
    edges.sort_unstable();
    for &(a, b) in &edges {
        out_edges.entry(a).or_default().push(b);
    }
    for v in out_edges.values_mut() {
        v.reverse();
    }
    let mut rings: Vec<Vec<[f64; 2]>> = Vec::new();
    for &(start, _) in &edges {
        while out_edges.get(&start).is_some_and(|v| !v.is_empty()) {
            let mut ring = vec![points[&start]];
            let mut at = start;
            while let Some(next) = out_edges.get_mut(&at).and_then(Vec::pop) {
                ring.push(points[&next]);
                at = next;
                if at == start {
                    break;
                }
            }
            if ring.len() >= 4 && at == start {
                rings.push(ring);
            }
        }
    }
    let (exteriors, holes): (Vec<_>, Vec<_>) =
        rings.into_iter().partition(|r| signed_area2(r) > 0.0);
    let polygon = |r: &Vec<[f64; 2]>| {
        Polygon::new(
            LineString::from(
                r.iter()
                    .map(|p| Coord { x: p[0], y: p[1] })
                    .collect::<Vec<_>>(),
            ),
            Vec::new(),
        )
    };
    let shells: Vec<Polygon<f64>> = exteriors.iter().map(polygon).collect();
    let mut parts: Vec<Vec<Vec<[f64; 2]>>> = exteriors.into_iter().map(|e| vec![e]).collect();
    for hole in holes {
        // The smallest exterior around the hole's first point that is not on its border.
        let inside = hole
            .windows(2)
            .map(|w| Coord {
                x: (w[0][0] + w[1][0]) / 2.0,
                y: (w[0][1] + w[1][1]) / 2.0,
            })
            .next();
        let owner = inside.and_then(|c| {
            shells
                .iter()
                .enumerate()
                .filter(|(_, s)| s.contains(&c))
                .min_by(|a, b| {
                    signed_area2(&parts[a.0][0]).total_cmp(&signed_area2(&parts[b.0][0]))
                })
                .map(|(i, _)| i)
        });
        if let Some(i) = owner {
            parts[i].push(hole);
        }
    }
    parts
}

/// A ring as a comparable value: closing point dropped, rotated to start at its smallest
/// vertex (by bits).
fn canonical(ring: &[[f64; 2]]) -> Vec<Key> {
    let open: Vec<Key> = ring[..ring.len().saturating_sub(1)]
        .iter()
        .map(|p| key(*p))
        .collect();
    let Some(min) = (0..open.len()).min_by_key(|&i| open[i]) else {
        return open;
    };
    open[min..].iter().chain(&open[..min]).copied().collect()
}

/// Whether `a` and `b` have exactly the same rings, vertex for vertex (in any order and
/// starting anywhere): how a dissolve is checked against the LA it must reproduce.
#[must_use]
pub fn same_rings(a: &LonLatLa, b: &LonLatLa) -> bool {
    let rings = |la: &LonLatLa| {
        let mut r: Vec<Vec<Key>> = la.iter().flatten().map(|r| canonical(r)).collect();
        r.sort_unstable();
        r
    };
    rings(a) == rings(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn square(x0: f64, y0: f64, x1: f64, y1: f64) -> LonLatLa {
        vec![vec![vec![[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]]
    }

    #[test]
    fn two_squares_sharing_an_edge_become_one_rectangle() {
        let (a, b) = (square(0.0, 0.0, 1.0, 1.0), square(1.0, 0.0, 2.0, 1.0));
        let u = dissolve(&[&a, &b]);
        let want = vec![vec![vec![
            [0.0, 0.0],
            [1.0, 0.0],
            [2.0, 0.0],
            [2.0, 1.0],
            [1.0, 1.0],
            [0.0, 1.0],
            [0.0, 0.0],
        ]]];
        assert!(same_rings(&u, &want), "{u:?}");
    }

    #[test]
    fn a_ring_of_pieces_leaves_a_hole() {
        // Four pieces around a 1x1 gap in the middle of a 3x3 square, sharing their vertices
        // along every common border (as the districts do).
        let pieces = [
            vec![vec![vec![
                [0.0, 0.0],
                [3.0, 0.0],
                [3.0, 1.0],
                [2.0, 1.0],
                [1.0, 1.0],
                [0.0, 1.0],
                [0.0, 0.0],
            ]]],
            vec![vec![vec![
                [0.0, 2.0],
                [1.0, 2.0],
                [2.0, 2.0],
                [3.0, 2.0],
                [3.0, 3.0],
                [0.0, 3.0],
                [0.0, 2.0],
            ]]],
            square(0.0, 1.0, 1.0, 2.0),
            square(2.0, 1.0, 3.0, 2.0),
        ];
        let refs: Vec<&LonLatLa> = pieces.iter().collect();
        let u = dissolve(&refs);
        assert_eq!(u.len(), 1, "one part: {u:?}");
        assert_eq!(u[0].len(), 2, "an exterior and a hole: {u:?}");
        assert!(signed_area2(&u[0][0]) > 0.0 && signed_area2(&u[0][1]) < 0.0);
    }

    #[test]
    fn pieces_apart_stay_separate_parts() {
        let (a, b) = (square(0.0, 0.0, 1.0, 1.0), square(5.0, 0.0, 6.0, 1.0));
        let u = dissolve(&[&a, &b]);
        assert_eq!(u.len(), 2);
        assert!(same_rings(
            &u,
            &[a[0].clone(), b[0].clone()]
                .concat()
                .into_iter()
                .map(|r| vec![r])
                .collect()
        ));
    }
}
