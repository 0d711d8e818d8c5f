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

/// The PNG of an SVG document.
///
/// # Errors
/// [`PictureError::Failed`] if parsing, drawing or encoding fails.
pub fn png(svg: &str) -> Result<Vec<u8>, PictureError> {
    let pixmap = rasterise(&parse(svg)?)?;
    pixmap
        .encode_png()
        .map_err(|e| PictureError::Failed(e.to_string()))
}
