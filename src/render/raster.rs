//! SVG → PNG with resvg/tiny-skia. Text is set in the shipped Open Sans (Apache-2.0,
//! `styles/fonts/`), compiled into the binary and loaded into one font database at first use:
//! no system fonts are read, so pictures look the same on every machine.

use std::sync::{Arc, LazyLock};

use resvg::{tiny_skia, usvg};

use super::PictureError;

/// The font family the SVG asks for.
pub const FAMILY: &str = "Open Sans";

static FONTS: LazyLock<Arc<usvg::fontdb::Database>> = LazyLock::new(|| {
    let mut db = usvg::fontdb::Database::new();
    db.load_font_data(include_bytes!("../../styles/fonts/OpenSans-Regular.ttf").to_vec());
    db.load_font_data(include_bytes!("../../styles/fonts/OpenSans-Semibold.ttf").to_vec());
    db.set_sans_serif_family(FAMILY);
    Arc::new(db)
});

/// The families in the font database (for tests: Open Sans, regular and semibold).
#[must_use]
pub fn font_faces() -> Vec<(String, u16)> {
    FONTS
        .faces()
        .flat_map(|f| {
            f.families
                .iter()
                .map(|(name, _)| (name.clone(), f.weight.0))
        })
        .collect()
}

/// Parse an SVG with the shipped fonts.
///
/// # Errors
/// [`PictureError::Failed`] if the SVG does not parse (a bug in the SVG writer).
pub fn parse(svg: &str) -> Result<usvg::Tree, PictureError> {
    let opt = usvg::Options {
        font_family: FAMILY.to_owned(),
        fontdb: Arc::clone(&FONTS),
        ..usvg::Options::default()
    };
    usvg::Tree::from_str(svg, &opt).map_err(|e| PictureError::Failed(e.to_string()))
}

/// Rasterise a parsed SVG at its own size.
///
/// # Errors
/// [`PictureError::Failed`] for an empty or impossibly large canvas.
pub fn rasterise(tree: &usvg::Tree) -> Result<tiny_skia::Pixmap, PictureError> {
    let size = tree.size().to_int_size();
    let mut pixmap = tiny_skia::Pixmap::new(size.width(), size.height()).ok_or_else(|| {
        PictureError::Failed(format!("no canvas of {}×{}", size.width(), size.height()))
    })?;
    resvg::render(tree, tiny_skia::Transform::default(), &mut pixmap.as_mut());
    Ok(pixmap)
}

/// Encode a pixmap as PNG. The pictures are opaque (a background fills them), so they are
/// written as 8-bit RGB with the `png` crate's fast DEFLATE: a third of the time of tiny-skia's
/// RGBA encoder at the default level, for files about as small. A pixmap with any transparency
/// keeps its alpha channel.
///
/// # Errors
/// [`PictureError::Failed`] if encoding fails.
pub fn encode(pixmap: &tiny_skia::Pixmap) -> Result<Vec<u8>, PictureError> {
    let fail = |e: png::EncodingError| PictureError::Failed(e.to_string());
    let opaque = pixmap.pixels().iter().all(|p| p.alpha() == 255);
    let (colour, data): (png::ColorType, Vec<u8>) = if opaque {
        // Premultiplied and straight colour are the same at full opacity.
        let rgb = pixmap
            .data()
            .chunks_exact(4)
            .flat_map(|p| [p[0], p[1], p[2]])
            .collect();
        (png::ColorType::Rgb, rgb)
    } else {
        (png::ColorType::Rgba, pixmap.clone().take_demultiplied())
    };
    let mut out = Vec::with_capacity(data.len() / 8);
    {
        let mut enc = png::Encoder::new(&mut out, pixmap.width(), pixmap.height());
        enc.set_color(colour);
        enc.set_depth(png::BitDepth::Eight);
        enc.set_compression(png::Compression::Fast);
        let mut writer = enc.write_header().map_err(fail)?;
        writer.write_image_data(&data).map_err(fail)?;
    }
    Ok(out)
}

/// The PNG of an SVG document.
///
/// # Errors
/// [`PictureError::Failed`] if parsing, drawing or encoding fails.
pub fn png(svg: &str) -> Result<Vec<u8>, PictureError> {
    encode(&rasterise(&parse(svg)?)?)
}
