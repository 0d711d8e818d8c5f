//! Map label glyphs: MapLibre glyph PBFs (signed distance fields) rendered from the shipped
//! Open Sans fonts (Apache 2.0, `styles/fonts/`), on demand per 256-character range, cached.
//!
//! This keeps the style free of external font URLs: `glyphs` points at this server.

use bytes::Bytes;
use pbf_font_tools::freetype::Library;
use pbf_font_tools::prost::Message;

/// The font stacks this server can render, with their font files.
pub const FONTS: &[(&str, &[u8])] = &[
    (
        "Open Sans Regular",
        include_bytes!("../styles/fonts/OpenSans-Regular.ttf"),
    ),
    (
        "Open Sans Semibold",
        include_bytes!("../styles/fonts/OpenSans-Semibold.ttf"),
    ),
];

/// Why a glyph request cannot be answered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GlyphError {
    /// None of the fonts in the stack is served here.
    #[error(
        "no font of the stack {0:?} is served here (available: Open Sans Regular, Open Sans Semibold)"
    )]
    UnknownFont(String),
    /// The range is not `N*256-(N*256+255).pbf` within Unicode's BMP.
    #[error("{0:?} is not a glyph range like 0-255.pbf")]
    BadRange(String),
    /// FreeType failed (a server problem).
    #[error("glyph rendering failed: {0}")]
    Render(String),
}

/// Parse `"{start}-{end}.pbf"`; `start` must be a multiple of 256 and `end = start + 255`.
///
/// # Errors
/// [`GlyphError::BadRange`].
pub fn parse_range(s: &str) -> Result<u32, GlyphError> {
    let bad = || GlyphError::BadRange(s.chars().take(30).collect());
    let body = s.strip_suffix(".pbf").ok_or_else(bad)?;
    let (a, b) = body.split_once('-').ok_or_else(bad)?;
    let (a, b): (u32, u32) = (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?);
    if a % 256 != 0 || b != a + 255 || b > 65535 {
        return Err(bad());
    }
    Ok(a)
}

/// Pick the first font of a comma-separated stack that is served here.
///
/// # Errors
/// [`GlyphError::UnknownFont`].
pub fn pick_font(stack: &str) -> Result<usize, GlyphError> {
    stack
        .split(',')
        .map(str::trim)
        .find_map(|name| FONTS.iter().position(|(n, _)| *n == name))
        .ok_or_else(|| GlyphError::UnknownFont(stack.chars().take(100).collect()))
}

/// Render one range of one font to PBF bytes (pure CPU work; call off the async runtime).
///
/// # Errors
/// [`GlyphError::Render`].
pub fn render(font: usize, start: u32) -> Result<Vec<u8>, GlyphError> {
    let err = |e: &dyn std::fmt::Display| GlyphError::Render(e.to_string());
    let lib = Library::init().map_err(|e| err(&e))?;
    let face = lib
        .new_memory_face(FONTS[font].1.to_vec(), 0)
        .map_err(|e| err(&e))?;
    let mut stack = pbf_font_tools::glyph_range_for_face(&face, start, start + 255, 24, 8, 0.25)
        .map_err(|e| err(&e))?;
    stack.name = FONTS[font].0.to_owned();
    let glyphs = pbf_font_tools::Glyphs {
        stacks: vec![stack],
    };
    Ok(glyphs.encode_to_vec())
}

/// Rendered ranges, kept for the life of the process (a few KB each, at most 2 × 256 of them).
#[derive(Clone)]
pub struct GlyphCache {
    inner: moka::future::Cache<(usize, u32), Bytes>,
}

impl Default for GlyphCache {
    fn default() -> Self {
        Self {
            inner: moka::future::Cache::new(512),
        }
    }
}

impl GlyphCache {
    /// The range, rendered once however many ask at the same time.
    ///
    /// # Errors
    /// [`GlyphError::Render`].
    pub async fn get(&self, font: usize, start: u32) -> Result<Bytes, GlyphError> {
        self.inner
            .try_get_with((font, start), async move {
                tokio::task::spawn_blocking(move || render(font, start).map(Bytes::from))
                    .await
                    .map_err(|e| GlyphError::Render(e.to_string()))?
            })
            .await
            .map_err(|e| (*e).clone())
    }
}
