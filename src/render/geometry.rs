//! Where the renderer reads geometry, and how it maps Web Mercator metres to pixels.
//!
//! The functions here are the only code of the renderer that reads `Dataset::geometry`;
//! [`la_rings`] is the one place that knows how the per-zoom simplified rings are stored: if
//! that representation changes, only this function does.

use crate::dataset::Dataset;
use crate::tile::{HALF_WORLD, Merc, lonlat_to_merc};

/// The rings of LA `la` simplified for zoom `z` (clamped to the prepared zooms), as Web
/// Mercator points: each polygon part's exterior, then its holes; open rings.
pub fn la_rings(
    ds: &Dataset,
    la: usize,
    z: u8,
) -> impl Iterator<Item = impl Iterator<Item = Merc> + '_> + '_ {
    ds.geometry
        .zoom_parts(la, z)
        .into_iter()
        .flatten()
        .map(Vec::into_iter)
}

/// LA `la`'s label point (the pole of inaccessibility of its largest part), Mercator.
#[must_use]
pub fn label_point(ds: &Dataset, la: usize) -> Merc {
    ds.geometry.labels[la]
}

/// LA `la`'s bounds in Mercator metres: `(min, max)`.
#[must_use]
pub fn la_bounds(ds: &Dataset, la: usize) -> (Merc, Merc) {
    let [w, s, e, n] = ds.geometry.la_bounds[la];
    (lonlat_to_merc(w, s), lonlat_to_merc(e, n))
}

/// England's bounds in Mercator metres.
#[must_use]
pub fn england_bounds(ds: &Dataset) -> (Merc, Merc) {
    let [w, s, e, n] = ds.geometry.bounds;
    (lonlat_to_merc(w, s), lonlat_to_merc(e, n))
}

/// A pixel rectangle `x, y, width, height`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rect {
    /// Left.
    pub x: f64,
    /// Top.
    pub y: f64,
    /// Width.
    pub w: f64,
    /// Height.
    pub h: f64,
}

impl Rect {
    /// Whether two rectangles overlap.
    #[must_use]
    pub fn intersects(&self, o: &Rect) -> bool {
        self.x < o.x + o.w && o.x < self.x + self.w && self.y < o.y + o.h && o.y < self.y + self.h
    }

    /// Whether `o` lies inside.
    #[must_use]
    pub fn contains(&self, o: &Rect) -> bool {
        o.x >= self.x
            && o.y >= self.y
            && o.x + o.w <= self.x + self.w
            && o.y + o.h <= self.y + self.h
    }
}

/// Mercator → pixels for one map area.
#[derive(Debug, Clone, Copy)]
pub struct Frame {
    /// The map area in pixels.
    pub area: Rect,
    /// Mercator point at the area's top-left corner.
    pub origin: Merc,
    /// Pixels per metre.
    pub scale: f64,
}

impl Frame {
    /// The frame that fits `bounds` (grown by `pad` of its size on each side) into `area`,
    /// centred; the area keeps its shape, so more map shows along the longer side.
    #[must_use]
    pub fn fit(bounds: (Merc, Merc), pad: f64, area: Rect) -> Self {
        let (lo, hi) = bounds;
        let (bw, bh) = ((hi[0] - lo[0]).max(1.0), (hi[1] - lo[1]).max(1.0));
        let (bw, bh) = (bw * (1.0 + 2.0 * pad), bh * (1.0 + 2.0 * pad));
        let scale = (area.w / bw).min(area.h / bh);
        let centre = [(lo[0] + hi[0]) / 2.0, (lo[1] + hi[1]) / 2.0];
        Self {
            area,
            origin: [
                centre[0] - area.w / 2.0 / scale,
                centre[1] + area.h / 2.0 / scale,
            ],
            scale,
        }
    }

    /// A point in pixels.
    #[must_use]
    pub fn px(&self, p: Merc) -> [f64; 2] {
        [
            self.area.x + (p[0] - self.origin[0]) * self.scale,
            self.area.y + (self.origin[1] - p[1]) * self.scale,
        ]
    }

    /// The Mercator bounds the area shows: `(min, max)`.
    #[must_use]
    pub fn shown(&self) -> (Merc, Merc) {
        (
            [self.origin[0], self.origin[1] - self.area.h / self.scale],
            [self.origin[0] + self.area.w / self.scale, self.origin[1]],
        )
    }

    /// The MapLibre zoom (512 px tiles) that shows the map at this scale, for style values
    /// that depend on zoom (line widths, label sizes).
    #[must_use]
    pub fn maplibre_zoom(&self) -> f64 {
        (2.0 * HALF_WORLD * self.scale / 512.0).log2()
    }

    /// The prepared zoom whose simplification (3/16 of a 256 px tile pixel) stays below one
    /// pixel of this picture.
    #[must_use]
    pub fn geometry_zoom(&self, max: u8) -> u8 {
        let z = (2.0 * HALF_WORLD * self.scale / 256.0).log2().ceil();
        if z <= 0.0 {
            0
        } else {
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let z = z.min(f64::from(max)) as u8;
            z
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_maps_its_bounds_inside_the_area_keeping_shape() {
        let area = Rect {
            x: 10.0,
            y: 20.0,
            w: 400.0,
            h: 200.0,
        };
        let f = Frame::fit(([0.0, 0.0], [100.0, 100.0]), 0.0, area);
        // Square bounds in a 2:1 area: 200 px tall, centred horizontally.
        assert!((f.scale - 2.0).abs() < 1e-9);
        assert_eq!(f.px([50.0, 50.0]), [210.0, 120.0]);
        assert_eq!(f.px([0.0, 100.0]), [110.0, 20.0]);
        let (lo, hi) = f.shown();
        assert!((lo[0] + 50.0).abs() < 1e-9 && (hi[0] - 150.0).abs() < 1e-9);
    }
}
