//! Stage 0d: every LA's rings at every prepared zoom, packed into one copy of the boundaries.
//!
//! Per-zoom simplification (see `generalise`) keeps a subset of each ring's vertices, and a
//! vertex kept at zoom `z` is kept at every higher zoom. So each vertex is stored once, in
//! Mercator centimetres as `i32` (8 bytes where `[f64; 2]` takes 16), with the lowest zoom that
//! keeps it; vertices that no prepared zoom keeps are not stored at all. Each ring also records
//! the zooms at which it is drawn (at least 3 vertices and one grid unit² of area). Reading a
//! ring at zoom `z` filters its vertices by that zoom. Pure data; no I/O.
//!
//! Rings are cut into chunks of [`CHUNK`] vertices with bounding boxes, so that a tile reads a
//! long ring cheaply: a chunk that lies wholly beyond one side of the tile's window contributes
//! only its first and last vertex. Replacing a run of vertices that all lie in an open
//! half-plane outside the window by the straight segment between its ends moves the boundary
//! only inside that half-plane, so the polygon's intersection with the window, which is all a
//! tile shows, is unchanged.

use super::generalise::{TOLERANCE_UNITS, TopoRing};
use crate::tile::{Merc, grid_unit};

/// Vertices per chunk.
pub const CHUNK: usize = 32;
/// Stored units per Mercator metre.
const UNITS_PER_M: f64 = 100.0;
/// `min_zoom` of a vertex no prepared zoom keeps (never stored).
const NEVER: u8 = u8::MAX;

#[derive(Debug, Clone, Copy)]
struct Ring {
    /// First vertex in `points`.
    start: u32,
    /// Stored vertices.
    len: u32,
    /// First chunk box in `boxes`.
    chunk: u32,
    /// Bit `z` set: the ring is drawn at zoom `z`.
    zooms: u32,
}

/// Handle of one ring (valid for the [`PackedRings`] it came from).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RingId(u32);

/// Every LA's parts and rings, each vertex stored once with its lowest zoom.
#[derive(Debug, Default)]
pub struct PackedRings {
    points: Vec<[i32; 2]>,
    min_zoom: Vec<u8>,
    /// Per chunk: `[min_x, min_y, max_x, max_y]` in stored units.
    boxes: Vec<[i32; 4]>,
    rings: Vec<Ring>,
    /// Per part: first ring, ring count.
    parts: Vec<(u32, u32)>,
    /// Per LA: first part, part count.
    las: Vec<(u32, u32)>,
}

fn quantise(p: Merc) -> [i32; 2] {
    // |x|, |y| <= 20_037_508.35 m, so centimetres fit an i32 (2^31 cm = 21_474 km).
    #[allow(clippy::cast_possible_truncation)]
    let q = |v: f64| (v * UNITS_PER_M).round() as i32;
    [q(p[0]), q(p[1])]
}

fn merc(p: [i32; 2]) -> Merc {
    [f64::from(p[0]) / UNITS_PER_M, f64::from(p[1]) / UNITS_PER_M]
}

fn u32_of(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Whether the vertices kept at `z` (`min_zoom <= z`) form a ring worth drawing: at least 3
/// of them, enclosing at least one grid unit² (the rule of `generalise::simplify_ring`).
fn drawn_at(coords: &[Merc], min_zoom: &[u8], z: u8) -> bool {
    let mut kept = coords
        .iter()
        .zip(min_zoom)
        .filter(|(_, m)| **m <= z)
        .map(|(c, _)| *c);
    let Some(first) = kept.next() else {
        return false;
    };
    let (mut n, mut area2, mut prev) = (1usize, 0.0, first);
    for p in kept {
        area2 += prev[0] * p[1] - p[0] * prev[1];
        prev = p;
        n += 1;
    }
    area2 += prev[0] * first[1] - first[0] * prev[1];
    let unit = grid_unit(z);
    n >= 3 && (area2 / 2.0).abs() >= unit * unit
}

impl PackedRings {
    /// Pack the topology's rings for zooms `0..=max_zoom`.
    #[must_use]
    pub fn build(topo: &[Vec<Vec<TopoRing>>], max_zoom: u8) -> Self {
        let tolerance: Vec<f64> = (0..=max_zoom)
            .map(|z| TOLERANCE_UNITS * grid_unit(z))
            .collect();
        let lowest_zoom = |importance: f64| -> u8 {
            tolerance
                .iter()
                .position(|t| importance > *t)
                .and_then(|z| u8::try_from(z).ok())
                .unwrap_or(NEVER)
        };
        let mut out = Self::default();
        for la in topo {
            out.las.push((u32_of(out.parts.len()), u32_of(la.len())));
            for part in la {
                out.parts
                    .push((u32_of(out.rings.len()), u32_of(part.len())));
                for ring in part {
                    let mins: Vec<u8> = ring.importance.iter().map(|i| lowest_zoom(*i)).collect();
                    let zooms = (0..=max_zoom)
                        .filter(|&z| drawn_at(&ring.coords, &mins, z))
                        .fold(0u32, |m, z| m | (1 << z));
                    let start = out.points.len();
                    for (c, m) in ring.coords.iter().zip(&mins) {
                        if *m != NEVER {
                            out.points.push(quantise(*c));
                            out.min_zoom.push(*m);
                        }
                    }
                    let chunk = out.boxes.len();
                    for ch in out.points[start..].chunks(CHUNK) {
                        let mut b = [i32::MAX, i32::MAX, i32::MIN, i32::MIN];
                        for p in ch {
                            b = [
                                b[0].min(p[0]),
                                b[1].min(p[1]),
                                b[2].max(p[0]),
                                b[3].max(p[1]),
                            ];
                        }
                        out.boxes.push(b);
                    }
                    out.rings.push(Ring {
                        start: u32_of(start),
                        len: u32_of(out.points.len() - start),
                        chunk: u32_of(chunk),
                        zooms,
                    });
                }
            }
        }
        out
    }

    /// Number of LAs.
    #[must_use]
    pub fn la_count(&self) -> usize {
        self.las.len()
    }

    /// Number of polygon parts of LA `la` (the part indices of the R-tree).
    #[must_use]
    pub fn part_count(&self, la: usize) -> usize {
        self.las.get(la).map_or(0, |l| l.1 as usize)
    }

    /// The rings of part `part` of LA `la` drawn at zoom `z`, exterior first. None at all when
    /// the exterior is not drawn at this zoom (a hole without its exterior means nothing).
    pub fn part_rings(&self, la: usize, part: usize, z: u8) -> impl Iterator<Item = RingId> + '_ {
        let (first, n) = self
            .las
            .get(la)
            .filter(|l| (part as u32) < l.1)
            .and_then(|l| self.parts.get(l.0 as usize + part))
            .copied()
            .unwrap_or((0, 0));
        let drawn = move |i: u32| {
            self.rings
                .get(i as usize)
                .is_some_and(|r| z < 32 && (r.zooms >> z) & 1 == 1)
        };
        let exterior = n > 0 && drawn(first);
        (first..first + n)
            .filter(move |&i| exterior && drawn(i))
            .map(RingId)
    }

    /// The vertices of `ring` kept at zoom `z`, open (no closing duplicate), into `out`
    /// (cleared first). With a `window` (Mercator `[min_x, min_y, max_x, max_y]`), chunks wholly
    /// beyond one side of it give only their first and last kept vertex (see the module doc).
    pub fn ring_points(&self, ring: RingId, z: u8, window: Option<[f64; 4]>, out: &mut Vec<Merc>) {
        out.clear();
        let Some(r) = self.rings.get(ring.0 as usize) else {
            return;
        };
        let (start, len) = (r.start as usize, r.len as usize);
        let points = &self.points[start..start + len];
        let mins = &self.min_zoom[start..start + len];
        let window = window.map(|w| w.map(|v| v * UNITS_PER_M));
        for (c, (chunk, zs)) in points.chunks(CHUNK).zip(mins.chunks(CHUNK)).enumerate() {
            let beyond = window.is_some_and(|w| {
                let b = self.boxes[r.chunk as usize + c];
                f64::from(b[2]) < w[0]
                    || f64::from(b[0]) > w[2]
                    || f64::from(b[3]) < w[1]
                    || f64::from(b[1]) > w[3]
            });
            if beyond {
                let first = zs.iter().position(|m| *m <= z);
                let last = zs.iter().rposition(|m| *m <= z);
                if let (Some(a), Some(b)) = (first, last) {
                    out.push(merc(chunk[a]));
                    if b != a {
                        out.push(merc(chunk[b]));
                    }
                }
            } else {
                out.extend(
                    chunk
                        .iter()
                        .zip(zs)
                        .filter(|(_, m)| **m <= z)
                        .map(|(p, _)| merc(*p)),
                );
            }
        }
    }

    /// Bytes held (for the memory budget and tests).
    #[must_use]
    pub fn heap_bytes(&self) -> usize {
        self.points.capacity() * 8
            + self.min_zoom.capacity()
            + self.boxes.capacity() * 16
            + self.rings.capacity() * std::mem::size_of::<Ring>()
            + (self.parts.capacity() + self.las.capacity()) * 8
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::generalise::{build_topology, simplify_ring};

    /// A long wiggly ring (one LA, one part) around a square of ~40 km.
    fn topo() -> Vec<Vec<Vec<TopoRing>>> {
        let n = 400;
        let ring: Vec<[f64; 2]> = (0..=n)
            .map(|i| {
                let t = f64::from(i % n) / f64::from(n) * std::f64::consts::TAU;
                let r = 0.2 + 0.004 * f64::from(i % 7);
                [-1.0 + r * t.cos(), 52.0 + r * t.sin()]
            })
            .collect();
        build_topology(&[vec![vec![ring]]], crate::tile::lonlat_to_merc)
    }

    #[test]
    fn every_zoom_reads_back_the_simplified_ring_to_the_centimetre() {
        let t = topo();
        let packed = PackedRings::build(&t, 14);
        for z in 0..=14 {
            let want = simplify_ring(&t[0][0][0], z);
            let ids: Vec<RingId> = packed.part_rings(0, 0, z).collect();
            let mut got = Vec::new();
            if let Some(id) = ids.first() {
                packed.ring_points(*id, z, None, &mut got);
            }
            match want {
                None => assert!(ids.is_empty(), "z{z}: drawn but should not be"),
                Some(w) => {
                    assert_eq!(got.len(), w.len(), "z{z}");
                    for (a, b) in got.iter().zip(&w) {
                        assert!((a[0] - b[0]).abs() <= 0.005 && (a[1] - b[1]).abs() <= 0.005);
                    }
                }
            }
        }
        // One copy of the vertices: far less than one [f64; 2] copy per zoom.
        let per_zoom: usize = (0..=14)
            .filter_map(|z| simplify_ring(&t[0][0][0], z))
            .map(|r| r.len() * 16)
            .sum();
        assert!(
            packed.heap_bytes() * 3 < per_zoom,
            "{} vs {per_zoom}",
            packed.heap_bytes()
        );
    }

    #[test]
    fn a_window_keeps_the_vertices_near_it_and_only_the_ends_of_far_runs() {
        let t = topo();
        let packed = PackedRings::build(&t, 14);
        let id = packed.part_rings(0, 0, 14).next().expect("drawn");
        let mut all = Vec::new();
        packed.ring_points(id, 14, None, &mut all);
        // A window around the ring's eastmost vertex.
        let east = all
            .iter()
            .copied()
            .max_by(|a, b| a[0].total_cmp(&b[0]))
            .expect("vertex");
        let w = [
            east[0] - 2000.0,
            east[1] - 2000.0,
            east[0] + 10.0,
            east[1] + 2000.0,
        ];
        let mut near = Vec::new();
        packed.ring_points(id, 14, Some(w), &mut near);
        assert!(
            near.len() < all.len() / 2,
            "{} of {}",
            near.len(),
            all.len()
        );
        // Every vertex inside the window is still there, in order.
        let inside = |p: &Merc| p[0] >= w[0] && p[0] <= w[2] && p[1] >= w[1] && p[1] <= w[3];
        let a: Vec<&Merc> = all.iter().filter(|p| inside(p)).collect();
        let b: Vec<&Merc> = near.iter().filter(|p| inside(p)).collect();
        assert!(!a.is_empty());
        assert_eq!(a, b);
        // And what was left out is the interior of runs beyond one side: the kept subsequence.
        let mut it = all.iter();
        assert!(near.iter().all(|p| it.any(|q| q == p)));
    }
}
