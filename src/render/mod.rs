//! Map pictures drawn by the server, for reports, slides and link previews:
//! `/render/england.{png,svg}` (a choropleth of every LA) and `/render/la/{code}.{png,svg}` (an
//! LA highlighted among the LAs around it, with its name).
//!
//! [`Picture::parse`] checks a request (pure); [`svg::draw`] writes the SVG from the per-zoom
//! simplified geometry, with the web map's measures, colours, legend and attribution
//! ([`measure`]); [`raster::png`] rasterises it with resvg/tiny-skia, text in the shipped Open
//! Sans; [`PictureCache`] keeps what was drawn, by data version. No browser runs on the server.

mod cache;
mod geometry;
pub mod measure;
pub mod raster;
pub mod svg;
mod text;

use crate::dataset::Dataset;
pub use cache::{CONCURRENT_RENDERS, Drawn, PICTURE_CACHE_BYTES, PictureCache, draw};
pub use measure::Measure;

/// Narrowest picture, in pixels.
pub const MIN_SIZE: u32 = 200;
/// Widest (and tallest, when `h` is given) picture, in pixels.
pub const MAX_SIZE: u32 = 3000;
/// Width when `w` is absent.
pub const DEFAULT_WIDTH: u32 = 1200;
/// Most LAs `with=` may outline.
pub const MAX_WITH: usize = crate::compare::MAX_CHOSEN + 1;

/// What the picture shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum View {
    /// All of England.
    England,
    /// One LA (index into `Dataset::las`) among the LAs around it.
    La(usize),
}

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// PNG, rasterised by resvg.
    Png,
    /// The SVG itself.
    Svg,
}

impl Format {
    /// From a file extension.
    #[must_use]
    pub fn from_extension(ext: &str) -> Option<Self> {
        match ext {
            "png" => Some(Self::Png),
            "svg" => Some(Self::Svg),
            _ => None,
        }
    }

    /// The extension.
    #[must_use]
    pub fn extension(self) -> &'static str {
        match self {
            Self::Png => "png",
            Self::Svg => "svg",
        }
    }

    /// The MIME type.
    #[must_use]
    pub fn mime(self) -> &'static str {
        match self {
            Self::Png => "image/png",
            Self::Svg => "image/svg+xml; charset=utf-8",
        }
    }
}

/// Why a picture cannot be drawn.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PictureError {
    /// A malformed, out-of-range, repeated or unknown query parameter.
    #[error("{0}")]
    BadParameter(String),
    /// The path names no LA, or no picture format.
    #[error("{0}")]
    NotFound(String),
    /// Rasterising failed (a server bug).
    #[error("rendering the picture failed: {0}")]
    Failed(String),
}

/// A checked picture request: the cache key and everything the renderer needs.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Picture {
    /// England or one LA.
    pub view: View,
    /// Width in pixels, [`MIN_SIZE`]..=[`MAX_SIZE`].
    pub width: u32,
    /// Height in pixels; `None` = the view's natural height for `width`.
    pub height: Option<u32>,
    /// What colours the LAs.
    pub measure: Measure,
    /// LA outlined in black (`la=`, England only; the LA itself in the LA view).
    pub selected: Option<usize>,
    /// LA whose statistical neighbours are outlined in orange (`similar=`, England only).
    pub similar: Option<usize>,
    /// Other LAs outlined in orange (`with=`, England only).
    pub with: Vec<usize>,
}

fn bad(msg: impl Into<String>) -> PictureError {
    PictureError::BadParameter(msg.into())
}

fn size_param(name: &str, v: &str) -> Result<u32, PictureError> {
    let why = || {
        bad(format!(
            "{name}={:?} is not allowed: give a whole number of pixels from {MIN_SIZE} to {MAX_SIZE}",
            v.chars().take(12).collect::<String>()
        ))
    };
    // Digits only, and few of them: "1e9", "-1", "+5" and "99999999999" are refused unparsed.
    if v.is_empty() || v.len() > 5 || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(why());
    }
    let n: u32 = v.parse().map_err(|_| why())?;
    if (MIN_SIZE..=MAX_SIZE).contains(&n) {
        Ok(n)
    } else {
        Err(why())
    }
}

fn la_param(ds: &Dataset, name: &str, v: &str) -> Result<usize, PictureError> {
    let code = v.trim().to_ascii_uppercase();
    // No LA by that code on the map drawn (perhaps one of another day's): not found, as for
    // an LA's own picture.
    ds.las.iter().position(|l| l.code == code).ok_or_else(|| {
        PictureError::NotFound(format!(
            "{name}={:?} names no local authority on this map (use a code like E06000001)",
            v.chars().take(20).collect::<String>()
        ))
    })
}

/// The LA named by a path file like `E06000001.png`, and the format.
///
/// # Errors
/// [`PictureError::NotFound`] for an unknown code or extension.
pub fn parse_la_file(ds: &Dataset, file: &str) -> Result<(usize, Format), PictureError> {
    let (code, ext) = file.rsplit_once('.').unwrap_or((file, ""));
    let format = Format::from_extension(ext).ok_or_else(|| {
        PictureError::NotFound(format!(
            "no picture {:?}: use /render/la/{{code}}.png or .svg",
            file.chars().take(30).collect::<String>()
        ))
    })?;
    let code = code.to_ascii_uppercase();
    let la = ds.las.iter().position(|l| l.code == code).ok_or_else(|| {
        PictureError::NotFound(format!(
            "no local authority with code {:?}",
            code.chars().take(20).collect::<String>()
        ))
    })?;
    Ok((la, format))
}

impl Picture {
    /// Check the query of a picture request. England takes `w`, `h`, `measure`, `la`, `similar`
    /// and `with`; an LA view takes `w`, `h` and `measure`.
    ///
    /// # Errors
    /// [`PictureError::BadParameter`] for an unknown or repeated parameter, a size outside
    /// [`MIN_SIZE`]..=[`MAX_SIZE`] (a huge `w` is refused before anything is drawn), an unknown
    /// measure, or more than [`MAX_WITH`] LAs in `with`; [`PictureError::NotFound`] for a code
    /// of no LA on this map.
    pub fn parse(
        ds: &Dataset,
        view: View,
        query: &[(String, String)],
    ) -> Result<Self, PictureError> {
        let allowed: &[&str] = match view {
            View::England => &["w", "h", "measure", "la", "similar", "with", "date"],
            View::La(_) => &["w", "h", "measure", "date"],
        };
        let mut seen = std::collections::HashSet::new();
        for (k, _) in query {
            if !allowed.contains(&k.as_str()) {
                return Err(bad(format!(
                    "unknown parameter {:?} (this picture takes: {})",
                    k.chars().take(20).collect::<String>(),
                    allowed.join(", ")
                )));
            }
            if !seen.insert(k.as_str()) {
                return Err(bad(format!("parameter {k:?} is given twice")));
            }
        }
        let get = |k: &str| query.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        let width = get("w").map_or(Ok(DEFAULT_WIDTH), |v| size_param("w", v))?;
        let height = get("h").map(|v| size_param("h", v)).transpose()?;
        let measure = match get("measure") {
            None => Measure::default(),
            Some(m) => Measure::parse(m).ok_or_else(|| {
                bad(format!(
                    "measure={:?} is not one of: count, role, verified",
                    m.chars().take(20).collect::<String>()
                ))
            })?,
        };
        let opt_la = |k: &str| {
            get(k)
                .filter(|v| !v.is_empty())
                .map(|v| la_param(ds, k, v))
                .transpose()
        };
        let (selected, similar) = match view {
            View::England => (opt_la("la")?, opt_la("similar")?),
            View::La(i) => (Some(i), None),
        };
        let mut with = Vec::new();
        if let Some(list) = get("with") {
            crate::compare::check_list(&[list.to_owned()], MAX_WITH)
                .map_err(|e| bad(e.to_string()))?;
            for code in list.split(',') {
                with.push(la_param(ds, "with", code)?);
            }
        }
        Ok(Self {
            view,
            width,
            height,
            measure,
            selected,
            similar,
            with,
        })
    }

    /// A file name for `Content-Disposition`, e.g. `partnership-map-hartlepool-1200.png`.
    #[must_use]
    pub fn file_name(&self, ds: &Dataset, format: Format) -> String {
        let what = match self.view {
            View::England => format!("england-{}", self.measure.key()),
            View::La(i) => ds.las[i]
                .name
                .to_ascii_lowercase()
                .split(|c: char| !c.is_ascii_alphanumeric())
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join("-"),
        };
        format!(
            "partnership-map-{what}-{}.{}",
            self.width,
            format.extension()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_whole_pixels_in_range() {
        assert_eq!(size_param("w", "1200"), Ok(1200));
        assert_eq!(size_param("w", "200"), Ok(200));
        assert_eq!(size_param("w", "3000"), Ok(3000));
        for bad in [
            "199",
            "3001",
            "0",
            "",
            "1e9",
            "-5",
            "+500",
            "12.5",
            "999999999999",
            "abc",
        ] {
            assert!(size_param("w", bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn formats_come_from_the_extension() {
        assert_eq!(Format::from_extension("png"), Some(Format::Png));
        assert_eq!(Format::from_extension("svg"), Some(Format::Svg));
        assert_eq!(Format::from_extension("jpg"), None);
    }
}
