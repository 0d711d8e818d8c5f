//! Stage 0d: new LAs made (partly) of split districts. Their boundary files are read and
//! checked (GeoJSON polygons, WGS84 lon/lat inside England's extent, valid rings), combined
//! with whole districts, and the coverage of a vesting date is measured by area: a file from
//! another source cannot match the districts vertex for vertex, so the new LAs must cover the
//! area of the LAs they replace within [`AREA_TOLERANCE`] instead.
//!
//! Pure functions over file contents and lon/lat rings; boolean operations and geodesic areas
//! are the `geo` crate's.

use geo::orient::{Direction, Orient};
use geo::{BooleanOps, Coord, GeodesicArea, LineString, MultiPolygon, Polygon, Validation};

use super::boundaries::parse_boundaries;
use super::problems::LoadError;
use super::{InputFile, LonLatLa};

/// Largest relative difference (of the abolished LAs' area) allowed between the new LAs' summed
/// area and the old area, for the overlap of two new LAs, and for a new LA's area outside the
/// old LAs: 0.01 %.
pub const AREA_TOLERANCE: f64 = 1e-4;

/// Read the boundary file of the new LA `new_code`: every feature must be a valid Polygon or
/// MultiPolygon whose `code` is `new_code` and whose positions lie inside `extent`
/// (`[west, south, east, north]`, England's). Returns each feature's parts, or `None` with
/// the problems recorded under the file's path and the feature's index.
pub fn read_geometry_file(
    file: &InputFile,
    new_code: &str,
    extent: [f64; 4],
    errors: &mut LoadError,
) -> Option<Vec<LonLatLa>> {
    let before = errors.problems.len();
    let features = parse_boundaries(&file.path, &file.content, errors);
    if features.is_empty() && errors.problems.len() == before {
        errors.push(&file.path, None, "the file has no feature");
    }
    for f in &features {
        let location = format!("{}: feature {} ({})", file.path, f.index, f.code);
        if f.code != new_code {
            errors.push(
                &location,
                Some("code"),
                format!(
                    "\"{}\" is not the code of the new LA this file is named after (\"{new_code}\")",
                    f.code
                ),
            );
        }
        for (pi, part) in f.parts.iter().enumerate() {
            for (ri, ring) in part.iter().enumerate() {
                if let Some((k, p)) = ring.iter().enumerate().find(|(_, p)| {
                    !(extent[0]..=extent[2]).contains(&p[0])
                        || !(extent[1]..=extent[3]).contains(&p[1])
                }) {
                    errors.push(
                        &location,
                        Some("geometry"),
                        format!(
                            "polygon {pi} ring {ri}: position {k} {p:?} is outside England's extent \
                             (longitude {:.3} to {:.3}, latitude {:.3} to {:.3}): positions must be \
                             WGS84 longitude, latitude",
                            extent[0], extent[2], extent[1], extent[3]
                        ),
                    );
                }
            }
        }
        for problem in multi_polygon(&f.parts).validation_errors() {
            errors.push(
                &location,
                Some("geometry"),
                format!("not a valid polygon: {problem}"),
            );
        }
    }
    (errors.problems.len() == before).then(|| features.into_iter().map(|f| f.parts).collect())
}

/// One LA as a `geo` multipolygon, exteriors counter-clockwise and holes clockwise.
#[must_use]
pub fn multi_polygon(la: &LonLatLa) -> MultiPolygon<f64> {
    let ring = |r: &Vec<[f64; 2]>| {
        LineString::from(
            r.iter()
                .map(|p| Coord { x: p[0], y: p[1] })
                .collect::<Vec<_>>(),
        )
    };
    MultiPolygon::new(
        la.iter()
            .filter(|part| !part.is_empty())
            .map(|part| Polygon::new(ring(&part[0]), part[1..].iter().map(ring).collect()))
            .collect(),
    )
    .orient(Direction::Default)
}

/// A `geo` multipolygon as LA parts (closed rings, exterior first).
#[must_use]
pub fn lonlat(m: &MultiPolygon<f64>) -> LonLatLa {
    let ring = |r: &LineString<f64>| r.coords().map(|c| [c.x, c.y]).collect::<Vec<_>>();
    m.iter()
        .map(|p| {
            std::iter::once(ring(p.exterior()))
                .chain(p.interiors().iter().map(ring))
                .collect()
        })
        .collect()
}

/// The union of `pieces` (which may overlap or merely touch, vertex for vertex or not).
#[must_use]
pub fn union(pieces: &[&LonLatLa]) -> LonLatLa {
    let polygons: Vec<Polygon<f64>> = pieces.iter().flat_map(|p| multi_polygon(p).0).collect();
    lonlat(&geo::unary_union(&polygons))
}

/// Geodesic area in m². The rings are oriented first (exteriors counter-clockwise): the
/// geodesic area of a ring read the other way round is the rest of the globe.
fn area(m: &MultiPolygon<f64>) -> f64 {
    m.orient(Direction::Default).geodesic_area_unsigned()
}

/// How the new LAs of one vesting date cover the LAs they replace, measured by area.
#[derive(Debug, Clone, PartialEq)]
pub struct Coverage {
    /// Area of the LAs replaced, km².
    pub old_km2: f64,
    /// Area of each new LA, km².
    pub new_km2: Vec<f64>,
    /// `(sum of the new areas − old area) / old area`.
    pub sum_difference: f64,
    /// Per pair of new LAs `(i, j)`, their overlap over the old area (every pair, `i < j`).
    pub overlaps: Vec<(usize, usize, f64)>,
    /// Per new LA, its area outside the old LAs over the old area.
    pub outside: Vec<f64>,
    /// The old area no new LA covers, over the old area.
    pub gap: f64,
}

impl Coverage {
    /// Measure how `new` covers `old` (pure; the old LAs must not overlap one another, which
    /// the checks of earlier vesting dates ensure).
    #[must_use]
    pub fn measure(old: &[&LonLatLa], new: &[&LonLatLa]) -> Self {
        let old_m: Vec<MultiPolygon<f64>> = old.iter().map(|o| multi_polygon(o)).collect();
        let new_m: Vec<MultiPolygon<f64>> = new.iter().map(|n| multi_polygon(n)).collect();
        let old_area: f64 = old_m.iter().map(area).sum();
        let old_union = geo::unary_union(old_m.iter().flat_map(|m| &m.0));
        let new_area: Vec<f64> = new_m.iter().map(area).collect();
        let new_union = geo::unary_union(new_m.iter().flat_map(|m| &m.0));
        let relative = |a: f64| if old_area > 0.0 { a / old_area } else { 1.0 };
        let mut overlaps = Vec::new();
        for (i, a) in new_m.iter().enumerate() {
            for (j, b) in new_m.iter().enumerate().skip(i + 1) {
                overlaps.push((i, j, relative(area(&a.intersection(b)))));
            }
        }
        Self {
            old_km2: old_area / 1e6,
            sum_difference: relative(new_area.iter().sum::<f64>() - old_area),
            new_km2: new_area.iter().map(|a| a / 1e6).collect(),
            overlaps,
            outside: new_m
                .iter()
                .map(|n| relative(area(&n.difference(&old_union))))
                .collect(),
            gap: relative(area(&old_union.difference(&new_union))),
        }
    }
}

/// The coverage measured for one group of new LAs made with a boundary file (what `check`
/// prints for each).
#[derive(Debug, Clone, PartialEq)]
pub struct Measured {
    /// Vesting date.
    pub date: String,
    /// Codes of the LAs replaced.
    pub replaced: Vec<String>,
    /// Codes of the new LAs, in table order.
    pub new: Vec<String>,
    /// The measures.
    pub coverage: Coverage,
}

impl Measured {
    /// One line for `check`: the measures as shares of the old area.
    #[must_use]
    pub fn summary(&self) -> String {
        let largest = |v: &mut dyn Iterator<Item = f64>| v.fold(0.0_f64, f64::max) * 100.0;
        format!(
            "on {}, {} cover {} ({:.2} km²) by area: sum {:+.4} %, largest overlap {:.4} %, largest part outside {:.4} %, gap {:.4} % (each allowed up to {:.2} %)",
            self.date,
            self.new.join(", "),
            self.replaced.join(", "),
            self.coverage.old_km2,
            self.coverage.sum_difference * 100.0,
            largest(&mut self.coverage.overlaps.iter().map(|o| o.2)),
            largest(&mut self.coverage.outside.iter().copied()),
            self.coverage.gap * 100.0,
            AREA_TOLERANCE * 100.0,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn square(x0: f64, y0: f64, x1: f64, y1: f64) -> LonLatLa {
        vec![vec![vec![[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]]
    }

    #[test]
    fn two_halves_cover_the_whole_and_a_shifted_half_is_measured() {
        let whole = square(0.0, 51.0, 1.0, 52.0);
        let (west, east) = (square(0.0, 51.0, 0.5, 52.0), square(0.5, 51.0, 1.0, 52.0));
        let c = Coverage::measure(&[&whole], &[&west, &east]);
        // Edges are geodesics, not parallels: the halves' top edges bend a little less than
        // the whole's (1.6e-5 of a 1° square), well within the tolerance.
        assert!(c.sum_difference.abs() < AREA_TOLERANCE, "{c:?}");
        assert!(c.overlaps[0].2 < 1e-9 && c.outside.iter().all(|o| *o < 1e-9) && c.gap < 1e-9);
        let shifted = square(0.4, 51.0, 0.9, 52.0);
        let c = Coverage::measure(&[&whole], &[&west, &shifted]);
        assert!(c.overlaps[0].2 > 0.09 && c.overlaps[0].2 < 0.11, "{c:?}");
        assert!(c.outside.iter().all(|o| *o < 1e-9) && c.sum_difference.abs() < AREA_TOLERANCE);
        assert!(c.gap > 0.09 && c.gap < 0.11, "{c:?}");
        let beyond = square(0.5, 51.0, 1.5, 52.0);
        let c = Coverage::measure(&[&whole], &[&west, &beyond]);
        assert!(c.outside[1] > 0.49 && c.sum_difference > 0.49, "{c:?}");
    }

    #[test]
    fn areas_do_not_depend_on_the_direction_of_the_rings() {
        let ccw = square(0.0, 51.0, 1.0, 52.0);
        let cw: LonLatLa = vec![vec![ccw[0][0].iter().rev().copied().collect()]];
        let half = square(0.0, 51.0, 0.5, 52.0);
        let a = Coverage::measure(&[&ccw], &[&half]);
        let b = Coverage::measure(&[&cw], &[&half]);
        assert!(
            (a.old_km2 - b.old_km2).abs() < 1e-6 && a.old_km2 > 7000.0,
            "{a:?} {b:?}"
        );
        assert!(
            (a.gap - 0.5).abs() < 1e-3 && (b.gap - 0.5).abs() < 1e-3,
            "{a:?} {b:?}"
        );
    }

    #[test]
    fn a_union_of_touching_pieces_is_one_part() {
        let u = union(&[&square(0.0, 51.0, 0.5, 52.0), &square(0.5, 51.0, 1.0, 52.0)]);
        assert_eq!(u.len(), 1, "{u:?}");
        let a = area(&multi_polygon(&u));
        let want = area(&multi_polygon(&square(0.0, 51.0, 1.0, 52.0)));
        assert!(((a - want) / want).abs() < 1e-9);
    }
}
