//! Tile maths: validated tile coordinates, Web Mercator projection and tile bounds.
//!
//! Everything in metres is EPSG:3857 (`Merc`); degrees appear only in `lonlat_*` functions.

use std::f64::consts::PI;

/// Tile extent in grid units (MVT default).
pub const EXTENT: u32 = 4096;
/// Buffer around the tile, in grid units, so strokes do not end at tile edges.
pub const BUFFER: u32 = 64;
/// WGS84 semi-major axis, the sphere of Web Mercator.
pub const EARTH_RADIUS: f64 = 6_378_137.0;
/// Half the width of the Web Mercator square, in metres.
pub const HALF_WORLD: f64 = PI * EARTH_RADIUS;
/// Highest zoom the server will ever accept, whatever the configuration.
pub const ZOOM_LIMIT: u8 = 22;

/// A point in Web Mercator metres.
pub type Merc = [f64; 2];

/// Project WGS84 longitude/latitude (degrees) to Web Mercator metres.
#[must_use]
pub fn lonlat_to_merc(lon: f64, lat: f64) -> Merc {
    let lat = lat.clamp(-85.051_128_78, 85.051_128_78);
    [
        EARTH_RADIUS * lon.to_radians(),
        EARTH_RADIUS * (PI / 4.0 + lat.to_radians() / 2.0).tan().ln(),
    ]
}

/// Unproject Web Mercator metres to WGS84 longitude/latitude (degrees).
#[must_use]
pub fn merc_to_lonlat(p: Merc) -> [f64; 2] {
    [
        (p[0] / EARTH_RADIUS).to_degrees(),
        (2.0 * (p[1] / EARTH_RADIUS).exp().atan() - PI / 2.0).to_degrees(),
    ]
}

/// Size of one tile grid unit at zoom `z`, in Mercator metres.
#[must_use]
pub fn grid_unit(z: u8) -> f64 {
    2.0 * HALF_WORLD / (f64::from(EXTENT) * f64::from(1u32 << z))
}

/// Every tile of zooms `min..=max` that meets `bounds` (`[west, south, east, north]` in
/// degrees): the pyramid the export writes and the cache pre-renders.
#[must_use]
pub fn pyramid(bounds: [f64; 4], min: u8, max: u8) -> Vec<TileCoord> {
    let [w, s, e, n] = bounds;
    let mut out = Vec::new();
    for z in min..=max {
        let a = TileCoord::containing(lonlat_to_merc(w, n), z);
        let b = TileCoord::containing(lonlat_to_merc(e, s), z);
        for x in a.x..=b.x {
            for y in a.y..=b.y {
                out.push(TileCoord { z, x, y });
            }
        }
    }
    out
}

/// Why a tile request names no valid tile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TileCoordError {
    /// A path segment is not a non-negative whole number.
    #[error("{axis} \"{value}\" is not a whole number >= 0")]
    NotANumber {
        /// `z`, `x` or `y`.
        axis: &'static str,
        /// The text received.
        value: String,
    },
    /// Zoom above the configured maximum.
    #[error(
        "zoom {z} is above this server's maximum zoom {max}; clients should overzoom from {max}"
    )]
    ZoomTooHigh {
        /// Requested zoom.
        z: u64,
        /// Configured maximum.
        max: u8,
    },
    /// x or y outside 0..2^z: a well-formed address of a tile that does not exist.
    #[error("{axis}={value} is outside 0..={limit} at zoom {z} (2^{z} columns and rows)")]
    OutOfRange {
        /// `x` or `y`.
        axis: &'static str,
        /// Requested value.
        value: u64,
        /// Largest valid value, 2^z - 1.
        limit: u64,
        /// Zoom.
        z: u8,
    },
    /// The file extension is not a vector tile format.
    #[error("unknown tile format \"{0}\" (expected .pbf or .mvt)")]
    Format(String),
}

/// A tile address checked against the zoom range: `x, y < 2^z`, `z <= max_zoom`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TileCoord {
    /// Zoom.
    pub z: u8,
    /// Column, west to east.
    pub x: u32,
    /// Row, north to south (XYZ scheme).
    pub y: u32,
}

fn number(axis: &'static str, value: &str) -> Result<u64, TileCoordError> {
    let bad = || TileCoordError::NotANumber {
        axis,
        value: value.chars().take(40).collect(),
    };
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    // More than 19 digits cannot be a valid tile at any zoom; saturate instead of failing the parse.
    Ok(value.parse::<u64>().unwrap_or(u64::MAX))
}

impl TileCoord {
    /// Validate numeric coordinates.
    ///
    /// # Errors
    /// [`TileCoordError::ZoomTooHigh`] or [`TileCoordError::OutOfRange`].
    pub fn new(z: u64, x: u64, y: u64, max_zoom: u8) -> Result<Self, TileCoordError> {
        let max = max_zoom.min(ZOOM_LIMIT);
        if z > u64::from(max) {
            return Err(TileCoordError::ZoomTooHigh { z, max });
        }
        let z = u8::try_from(z).map_err(|_| TileCoordError::ZoomTooHigh { z, max })?;
        let limit = (1u64 << z) - 1;
        for (axis, value) in [("x", x), ("y", y)] {
            if value > limit {
                return Err(TileCoordError::OutOfRange {
                    axis,
                    value,
                    limit,
                    z,
                });
            }
        }
        // Both fit: limit < 2^22.
        Ok(Self {
            z,
            x: u32::try_from(x).unwrap_or(u32::MAX),
            y: u32::try_from(y).unwrap_or(u32::MAX),
        })
    }

    /// Parse the three path segments of `/tiles/{z}/{x}/{y}.pbf` (or `.mvt`).
    ///
    /// # Errors
    /// Any [`TileCoordError`], with the offending text.
    pub fn parse(z: &str, x: &str, y_ext: &str, max_zoom: u8) -> Result<Self, TileCoordError> {
        let (y, ext) = y_ext.split_once('.').unwrap_or((y_ext, ""));
        if ext != "pbf" && ext != "mvt" {
            return Err(TileCoordError::Format(format!(
                ".{}",
                ext.chars().take(20).collect::<String>()
            )));
        }
        let (z, x, y) = (number("z", z)?, number("x", x)?, number("y", y)?);
        Self::new(z, x, y, max_zoom)
    }

    /// Mercator bounds `[min_x, min_y, max_x, max_y]` of the tile (without buffer).
    #[must_use]
    pub fn bounds(self) -> [f64; 4] {
        let size = 2.0 * HALF_WORLD / f64::from(1u32 << self.z);
        let min_x = -HALF_WORLD + f64::from(self.x) * size;
        let max_y = HALF_WORLD - f64::from(self.y) * size;
        [min_x, max_y - size, min_x + size, max_y]
    }

    /// Mercator bounds grown by [`BUFFER`] grid units on every side.
    #[must_use]
    pub fn buffered_bounds(self) -> [f64; 4] {
        let b = self.bounds();
        let pad = f64::from(BUFFER) * grid_unit(self.z);
        [b[0] - pad, b[1] - pad, b[2] + pad, b[3] + pad]
    }

    /// The tile containing a Mercator point at zoom `z`.
    #[must_use]
    pub fn containing(p: Merc, z: u8) -> Self {
        let n = f64::from(1u32 << z);
        let size = 2.0 * HALF_WORLD / n;
        let clamp = |v: f64| {
            // Truncation is the point here: tile index of the cell the point is in.
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let i = v.clamp(0.0, n - 1.0) as u32;
            i
        };
        Self {
            z,
            x: clamp(((p[0] + HALF_WORLD) / size).floor()),
            y: clamp(((HALF_WORLD - p[1]) / size).floor()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiles_outside_the_pyramid_are_rejected_with_a_reason() {
        assert!(TileCoord::parse("2", "3", "3.pbf", 12).is_ok());
        assert!(TileCoord::parse("2", "3", "3.mvt", 12).is_ok());
        let cases = [
            ("2", "4", "0.pbf", "x=4 is outside 0..=3 at zoom 2"),
            ("2", "0", "4.pbf", "y=4 is outside 0..=3 at zoom 2"),
            ("13", "0", "0.pbf", "zoom 13 is above"),
            ("-1", "0", "0.pbf", "z \"-1\" is not a whole number"),
            ("a", "0", "0.pbf", "z \"a\" is not a whole number"),
            ("1", "0", "0.png", "unknown tile format \".png\""),
            ("1", "0", "0", "unknown tile format \".\""),
            (
                "99999999999999999999999",
                "0",
                "0.pbf",
                "zoom 18446744073709551615 is above",
            ),
            ("0", "99999999999999999999999", "0.pbf", "outside 0..=0"),
        ];
        for (z, x, y, want) in cases {
            let err = TileCoord::parse(z, x, y, 12).expect_err(want).to_string();
            assert!(err.contains(want), "{z}/{x}/{y}: {err}");
        }
    }

    #[test]
    fn mercator_round_trips_and_tile_zero_covers_the_world() {
        let p = lonlat_to_merc(-1.5, 52.5);
        let back = merc_to_lonlat(p);
        assert!((back[0] + 1.5).abs() < 1e-9 && (back[1] - 52.5).abs() < 1e-9);
        let b = TileCoord { z: 0, x: 0, y: 0 }.bounds();
        assert!((b[0] + HALF_WORLD).abs() < 1e-6 && (b[3] - HALF_WORLD).abs() < 1e-6);
        let london = lonlat_to_merc(-0.1, 51.5);
        assert_eq!(
            TileCoord::containing(london, 10),
            TileCoord {
                z: 10,
                x: 511,
                y: 340
            }
        );
    }
}
