//! Stage 0c: topology-preserving, per-zoom simplification of the LA coverage.
//!
//! LA boundaries form a coverage: neighbours share borders vertex for vertex. Simplifying each
//! polygon on its own would open slivers and gaps along those borders, so instead:
//!
//! 1. Find **junctions**: vertices where the set of neighbouring vertices differs between the
//!    rings that use them (the points where three LAs meet, or where a border meets the coast).
//!    This is TopoJSON's rule. A ring with no junction (an island, or an enclave and the hole it
//!    fills) is one closed arc.
//! 2. Cut every ring into **arcs** between junctions. Each arc is put into a canonical direction
//!    (and closed arcs into a canonical rotation) so that the two LAs that share it see exactly
//!    the same sequence.
//! 3. Run Douglas–Peucker once over each canonical arc, recording for every vertex the
//!    tolerance up to which it survives (its **importance**). Clamping each vertex to its
//!    parent's importance makes the result monotonic: keeping `importance > tol` is exactly
//!    Douglas–Peucker at `tol`, for every `tol` at once.
//! 4. For each zoom keep the vertices above that zoom's tolerance. Shared vertices carry the same
//!    importance on both sides, so shared borders stay identical at every zoom.
//!
//! Pure functions over plain data; no I/O.

use std::collections::HashMap;

use super::boundaries::ring_area;
use crate::tile::{Merc, grid_unit};

/// Simplification tolerance in tile grid units (3/16 of a pixel on a 256 px tile; geojson-vt uses 3 too).
pub const TOLERANCE_UNITS: f64 = 3.0;

/// A ring prepared for per-zoom filtering: Mercator coordinates (not closed) and importances.
#[derive(Debug, Clone)]
pub struct TopoRing {
    /// Vertices in Mercator metres, without the closing duplicate.
    pub coords: Vec<Merc>,
    /// Douglas–Peucker importance of each vertex, in metres; `INFINITY` for junctions.
    pub importance: Vec<f64>,
}

/// Exact key of an input vertex (input coordinates have at most 6 decimals).
type Key = (i64, i64);

fn key(p: [f64; 2]) -> Key {
    // Rounding to the input's 1e-6 degree grid: positions repeated across files compare equal.
    #[allow(clippy::cast_possible_truncation)]
    let k = ((p[0] * 1e6).round() as i64, (p[1] * 1e6).round() as i64);
    k
}

/// Build importances for every ring of every LA.
///
/// `lonlat[la][part][ring]` are closed lon/lat rings; `project` maps them to Mercator.
#[must_use]
pub fn build_topology(
    lonlat: &[Vec<Vec<Vec<[f64; 2]>>>],
    project: fn(f64, f64) -> Merc,
) -> Vec<Vec<Vec<TopoRing>>> {
    // Open rings (drop the closing duplicate) keyed for topology.
    let open = |ring: &Vec<[f64; 2]>| -> Vec<[f64; 2]> { ring[..ring.len() - 1].to_vec() };

    // 1. Junctions: None = junction, Some(pair) = the unordered pair of neighbours seen so far.
    let mut neighbours: HashMap<Key, Option<(Key, Key)>> = HashMap::new();
    for la in lonlat {
        for part in la {
            for ring in part {
                let r = open(ring);
                let n = r.len();
                for i in 0..n {
                    let (a, b) = (key(r[(i + n - 1) % n]), key(r[(i + 1) % n]));
                    let pair = if a <= b { (a, b) } else { (b, a) };
                    neighbours
                        .entry(key(r[i]))
                        .and_modify(|seen| {
                            if *seen != Some(pair) {
                                *seen = None;
                            }
                        })
                        .or_insert(Some(pair));
                }
            }
        }
    }
    let is_junction = |k: &Key| matches!(neighbours.get(k), Some(None));

    lonlat
        .iter()
        .map(|la| {
            la.iter()
                .map(|part| {
                    part.iter()
                        .map(|ring| {
                            let r = open(ring);
                            let keys: Vec<Key> = r.iter().map(|p| key(*p)).collect();
                            let coords: Vec<Merc> = r.iter().map(|p| project(p[0], p[1])).collect();
                            let importance = ring_importance(&keys, &coords, &is_junction);
                            TopoRing { coords, importance }
                        })
                        .collect()
                })
                .collect()
        })
        .collect()
}

fn ring_importance(keys: &[Key], coords: &[Merc], is_junction: &dyn Fn(&Key) -> bool) -> Vec<f64> {
    let n = keys.len();
    let mut imp = vec![0.0; n];
    let junctions: Vec<usize> = (0..n).filter(|&i| is_junction(&keys[i])).collect();
    if junctions.is_empty() {
        // Closed arc: rotate to the smallest key, direct it towards the smaller neighbour.
        let start = (0..n).min_by_key(|&i| keys[i]).unwrap_or(0);
        let forward = keys[(start + 1) % n] <= keys[(start + n - 1) % n];
        let order: Vec<usize> = (0..=n)
            .map(|s| {
                if forward {
                    (start + s) % n
                } else {
                    (start + n - s) % n
                }
            })
            .collect();
        arc_importance(&order, keys, coords, &mut imp);
        return imp;
    }
    for (j, &a) in junctions.iter().enumerate() {
        let b = junctions[(j + 1) % junctions.len()];
        let len = if b > a { b - a } else { b + n - a };
        let order: Vec<usize> = (0..=len).map(|s| (a + s) % n).collect();
        arc_importance(&order, keys, coords, &mut imp);
    }
    imp
}

/// Douglas–Peucker importance over one arc, given as ring indices `order` (endpoints fixed).
fn arc_importance(order: &[usize], keys: &[Key], coords: &[Merc], imp: &mut [f64]) {
    // Canonical direction, so both LAs sharing this arc compute on the same sequence.
    let first = keys[order[0]];
    let last = keys[order[order.len() - 1]];
    let reverse = if first == last {
        order.len() > 2 && keys[order[1]] > keys[order[order.len() - 2]]
    } else {
        first > last
    };
    let mut seq: Vec<usize> = order.to_vec();
    if reverse {
        seq.reverse();
    }
    let m = seq.len();
    imp[seq[0]] = f64::INFINITY;
    imp[seq[m - 1]] = f64::INFINITY;
    if m < 3 {
        return;
    }
    let mut stack: Vec<(usize, usize, f64)> = Vec::new();
    if keys[seq[0]] == keys[seq[m - 1]] {
        // A closed loop: also pin the vertex farthest from the start, then split there.
        let p0 = coords[seq[0]];
        let mut far = 1;
        let mut best = -1.0;
        for (i, &s) in seq.iter().enumerate().take(m - 1).skip(1) {
            let d = dist2(coords[s], p0);
            if d > best {
                best = d;
                far = i;
            }
        }
        imp[seq[far]] = f64::INFINITY;
        stack.push((0, far, f64::INFINITY));
        stack.push((far, m - 1, f64::INFINITY));
    } else {
        stack.push((0, m - 1, f64::INFINITY));
    }
    while let Some((i, j, bound)) = stack.pop() {
        if j <= i + 1 {
            continue;
        }
        let (a, b) = (coords[seq[i]], coords[seq[j]]);
        let mut k = i + 1;
        let mut best = -1.0;
        for (t, &s) in seq.iter().enumerate().take(j).skip(i + 1) {
            let d = seg_dist2(coords[s], a, b);
            if d > best {
                best = d;
                k = t;
            }
        }
        let d = best.sqrt().min(bound);
        imp[seq[k]] = d;
        stack.push((i, k, d));
        stack.push((k, j, d));
    }
}

fn dist2(a: Merc, b: Merc) -> f64 {
    (a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)
}

fn seg_dist2(p: Merc, a: Merc, b: Merc) -> f64 {
    let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
    let len2 = dx * dx + dy * dy;
    if len2 == 0.0 {
        return dist2(p, a);
    }
    let t = (((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / len2).clamp(0.0, 1.0);
    dist2(p, [a[0] + t * dx, a[1] + t * dy])
}

/// The ring as drawn at zoom `z`: vertices whose importance exceeds the zoom's tolerance.
/// `None` when fewer than 3 vertices survive or the ring shrinks below one grid unit².
#[must_use]
pub fn simplify_ring(ring: &TopoRing, z: u8) -> Option<Vec<Merc>> {
    simplify_ring_with(ring, TOLERANCE_UNITS * grid_unit(z), grid_unit(z))
}

/// [`simplify_ring`] with an explicit tolerance and minimum size, in metres.
#[must_use]
pub fn simplify_ring_with(ring: &TopoRing, tolerance: f64, min_size: f64) -> Option<Vec<Merc>> {
    let mut out: Vec<Merc> = ring
        .coords
        .iter()
        .zip(&ring.importance)
        .filter(|(_, imp)| **imp > tolerance)
        .map(|(c, _)| *c)
        .collect();
    if out.len() < 3 {
        return None;
    }
    out.push(out[0]);
    if ring_area(&out).abs() < min_size * min_size {
        return None;
    }
    out.pop();
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ident(x: f64, y: f64) -> Merc {
        [x, y]
    }

    /// Two squares sharing a wiggly vertical edge at x = 10, with a third LA to the south.
    fn two_neighbours() -> Vec<Vec<Vec<Vec<[f64; 2]>>>> {
        let edge: Vec<[f64; 2]> = (0..=20)
            .map(|i| {
                [
                    10.0 + if i % 2 == 0 {
                        0.0
                    } else {
                        0.3 * f64::from(i % 7)
                    },
                    f64::from(i),
                ]
            })
            .collect();
        let mut left = vec![[0.0, 0.0]];
        left.extend(edge.iter().copied());
        left.push([0.0, 20.0]);
        left.push([0.0, 0.0]);
        let mut right = vec![[20.0, 0.0], [20.0, 20.0]];
        right.extend(edge.iter().rev().copied());
        right.push([20.0, 0.0]);
        vec![vec![vec![left]], vec![vec![right]]]
    }

    #[test]
    fn shared_edges_simplify_identically_on_both_sides() {
        let topo = build_topology(&two_neighbours(), ident);
        for tol in [0.0, 0.1, 0.5, 1.0, 5.0] {
            let l = simplify_ring_with(&topo[0][0][0], tol, 0.0).expect("left survives");
            let r = simplify_ring_with(&topo[1][0][0], tol, 0.0).expect("right survives");
            let on_edge = |v: &Vec<Merc>| {
                let mut e: Vec<(i64, i64)> = v
                    .iter()
                    .filter(|p| p[0] > 5.0 && p[0] < 15.0)
                    .map(|p| ((p[0] * 1e3) as i64, (p[1] * 1e3) as i64))
                    .collect();
                e.sort_unstable();
                e
            };
            assert_eq!(on_edge(&l), on_edge(&r), "tolerance {tol}");
        }
        // At a large tolerance the wiggles go, but the junctions (the edge's ends) stay.
        let l = simplify_ring_with(&topo[0][0][0], 5.0, 0.0).expect("left survives");
        assert!(l.contains(&[10.0, 0.0]) && l.contains(&[10.0, 20.0]));
        assert!(l.len() < 8, "{l:?}");
    }

    #[test]
    fn importance_reproduces_douglas_peucker_monotonically() {
        let topo = build_topology(&two_neighbours(), ident);
        let mut last = usize::MAX;
        for tol in [0.0, 0.05, 0.2, 0.4, 0.8, 1.6] {
            let n = simplify_ring_with(&topo[0][0][0], tol, 0.0).map_or(0, |v| v.len());
            assert!(n <= last, "more vertices at a larger tolerance");
            last = n;
        }
    }

    #[test]
    fn tiny_rings_vanish_at_low_zoom() {
        let island = vec![vec![vec![vec![
            [0.0, 0.0],
            [1.0, 0.0],
            [1.0, 1.0],
            [0.0, 1.0],
            [0.0, 0.0],
        ]]]];
        let topo = build_topology(&island, ident);
        assert!(simplify_ring_with(&topo[0][0][0], 0.0, 0.5).is_some());
        assert!(simplify_ring_with(&topo[0][0][0], 0.0, 2.0).is_none());
    }
}
