//! `partnership-map export`: write every non-empty tile of the pyramid to a PMTiles v3 or
//! MBTiles 1.3 archive, or to a directory of `z/x/y.pbf` files, for static hosting.
//!
//! Tiles are rendered in parallel (rayon) by the same pipeline and compressed by the same code as
//! the server, so the export holds byte for byte the gzip tiles the server sends. Metadata
//! carries `vector_layers`, bounds, centre and attribution, as in TileJSON.

use std::path::Path;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;

use crate::cache::EncodedTile;
use crate::dataset::Dataset;
use crate::pipeline::{RenderError, render_tile};
use crate::tile::{TileCoord, pyramid};
use crate::tileset::{
    ATTRIBUTION, archive_metadata, metadata_json, tilejson, tilestats, typed_vector_layers,
};

/// Archive format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// PMTiles v3 (one file, HTTP range requests).
    Pmtiles,
    /// MBTiles 1.3 (SQLite).
    Mbtiles,
    /// A directory of `z/x/y.pbf` files, gzip-compressed (as tippecanoe's
    /// `--output-to-directory` writes them), plus tippecanoe's `metadata.json`.
    Dir,
}

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The zoom range is empty or beyond what the data was prepared for.
    #[error("zoom range {0}..={1} is not within 0..={2} (raise --max-zoom to prepare more zooms)")]
    Zooms(u8, u8, u8),
    /// Rendering failed.
    #[error(transparent)]
    Render(#[from] RenderError),
    /// Writing the PMTiles archive failed.
    #[error("writing PMTiles: {0}")]
    Pmtiles(String),
    /// Writing the MBTiles archive failed.
    #[error("writing MBTiles: {0}")]
    Mbtiles(#[from] rusqlite::Error),
    /// `--out` names something that is not an earlier export directory.
    #[error(
        "{0}: exists and is not an export directory (no metadata.json); choose a new or empty directory"
    )]
    NotAnExport(String),
    /// File system.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
}

/// What an export wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Tiles examined (the pyramid over England's bounds).
    pub examined: usize,
    /// Non-empty tiles written.
    pub tiles: usize,
    /// Sum of the gzip tile sizes.
    pub tile_bytes: u64,
    /// Size of the archive file.
    pub file_bytes: u64,
    /// Wall time.
    pub elapsed: Duration,
}

fn pmtiles_id(c: TileCoord) -> u64 {
    pmtiles::TileCoord::new(c.z, c.x, c.y).map_or(u64::MAX, |t| pmtiles::TileId::from(t).value())
}

/// Render and write the archive.
///
/// # Errors
/// [`ExportError`] with the cause.
pub fn export(
    ds: &Dataset,
    format: Format,
    out: &Path,
    min: u8,
    max: u8,
    progress: bool,
) -> Result<Summary, ExportError> {
    if min > max || max > ds.max_zoom() {
        return Err(ExportError::Zooms(min, max, ds.max_zoom()));
    }
    let started = Instant::now();
    let mut coords = pyramid(ds.geometry.bounds, min, max);
    coords.sort_by_key(|c| pmtiles_id(*c));
    let bar = if progress {
        ProgressBar::new(coords.len() as u64)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} rendering [{bar:40}] {pos}/{len} tiles {per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let rendered: Vec<(TileCoord, EncodedTile)> = coords
        .par_iter()
        .map(|&c| {
            let t = render_tile(ds, c).map(|raw| raw.map(|r| (c, EncodedTile::new(&r))));
            bar.inc(1);
            t
        })
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .flatten()
        .collect();
    bar.finish_and_clear();
    let io = |source: std::io::Error| ExportError::Io {
        path: out.display().to_string(),
        source,
    };
    if format == Format::Dir {
        write_dir(ds, out, min, max, &rendered)?;
        return Ok(Summary {
            examined: coords.len(),
            tiles: rendered.len(),
            tile_bytes: rendered.iter().map(|(_, t)| t.gzip.len() as u64).sum(),
            file_bytes: dir_size(out).map_err(io)?,
            elapsed: started.elapsed(),
        });
    }
    if out.exists() {
        std::fs::remove_file(out).map_err(io)?;
    }
    let [w, s, e, n] = ds.geometry.bounds;
    let (cx, cy) = ((w + e) / 2.0, (s + n) / 2.0);
    let meta = tilejson(ds, "");
    match format {
        Format::Pmtiles => {
            let file = std::fs::File::create(out).map_err(io)?;
            let metadata = serde_json::json!({
                "name": meta.name,
                "description": meta.description,
                "attribution": ATTRIBUTION,
                "version": meta.version,
                "data_version": ds.version,
                "vector_layers": typed_vector_layers(min, max),
                "tilestats": tilestats(ds),
            });
            let mut writer = pmtiles::PmTilesWriter::new(pmtiles::TileType::Mvt)
                .precompressed(pmtiles::Compression::Gzip)
                .min_zoom(min)
                .max_zoom(max)
                .bounds(w, s, e, n)
                .center(cx, cy)
                .center_zoom(min.max(6).min(max))
                .metadata(metadata.to_string())
                .create(std::io::BufWriter::new(file))
                .map_err(|e| ExportError::Pmtiles(e.to_string()))?;
            for (c, t) in &rendered {
                let coord = pmtiles::TileCoord::new(c.z, c.x, c.y)
                    .map_err(|e| ExportError::Pmtiles(e.to_string()))?;
                writer
                    .add_tile(coord, &t.gzip)
                    .map_err(|e| ExportError::Pmtiles(e.to_string()))?;
            }
            writer
                .finalize()
                .map_err(|e| ExportError::Pmtiles(e.to_string()))?;
        }
        Format::Dir => {}
        Format::Mbtiles => {
            let mut db = rusqlite::Connection::open(out)?;
            db.execute_batch(
                "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;
                 CREATE TABLE metadata (name TEXT, value TEXT);
                 CREATE TABLE tiles (zoom_level INTEGER, tile_column INTEGER, tile_row INTEGER, tile_data BLOB);
                 CREATE UNIQUE INDEX tile_index ON tiles (zoom_level, tile_column, tile_row);",
            )?;
            let tx = db.transaction()?;
            {
                let mut m = tx.prepare("INSERT INTO metadata (name, value) VALUES (?1, ?2)")?;
                for (k, v) in archive_metadata(ds, min, max) {
                    m.execute(rusqlite::params![k, v])?;
                }
                let mut t = tx.prepare("INSERT INTO tiles (zoom_level, tile_column, tile_row, tile_data) VALUES (?1, ?2, ?3, ?4)")?;
                for (c, tile) in &rendered {
                    // MBTiles rows count from the south (TMS).
                    let row = (1u32 << c.z) - 1 - c.y;
                    t.execute(rusqlite::params![c.z, c.x, row, &tile.gzip[..]])?;
                }
            }
            tx.commit()?;
        }
    }
    let file_bytes = std::fs::metadata(out).map_err(io)?.len();
    Ok(Summary {
        examined: coords.len(),
        tiles: rendered.len(),
        tile_bytes: rendered.iter().map(|(_, t)| t.gzip.len() as u64).sum(),
        file_bytes,
        elapsed: started.elapsed(),
    })
}

/// Write `out/z/x/y.pbf` (the gzip bytes) and `out/metadata.json`. An earlier export in `out` is
/// replaced; any other existing content makes it refuse, so a mistyped `--out` deletes nothing.
fn write_dir(
    ds: &Dataset,
    out: &Path,
    min: u8,
    max: u8,
    rendered: &[(TileCoord, EncodedTile)],
) -> Result<(), ExportError> {
    let io = |path: &Path| {
        let path = path.display().to_string();
        move |source: std::io::Error| ExportError::Io { path, source }
    };
    if out.exists() {
        let entries: Vec<std::fs::DirEntry> = std::fs::read_dir(out)
            .map_err(io(out))?
            .collect::<Result<_, _>>()
            .map_err(io(out))?;
        let ours = |e: &std::fs::DirEntry| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            name == "metadata.json" || name.parse::<u8>().is_ok()
        };
        let previous_export = out.join("metadata.json").is_file();
        if !entries.is_empty() && (!previous_export || !entries.iter().all(ours)) {
            return Err(ExportError::NotAnExport(out.display().to_string()));
        }
        for e in entries {
            let p = e.path();
            if p.is_dir() {
                std::fs::remove_dir_all(&p).map_err(io(&p))?;
            } else {
                std::fs::remove_file(&p).map_err(io(&p))?;
            }
        }
    }
    std::fs::create_dir_all(out).map_err(io(out))?;
    let mut made = std::collections::HashSet::new();
    for (c, t) in rendered {
        let dir = out.join(c.z.to_string()).join(c.x.to_string());
        if made.insert((c.z, c.x)) {
            std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        }
        let file = dir.join(format!("{}.pbf", c.y));
        std::fs::write(&file, &t.gzip).map_err(io(&file))?;
    }
    let file = out.join("metadata.json");
    let text = serde_json::to_string(&metadata_json(ds, min, max)).unwrap_or_default();
    std::fs::write(&file, text).map_err(io(&file))
}

/// Total size of the files under `dir`.
fn dir_size(dir: &Path) -> std::io::Result<u64> {
    let mut total = 0;
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        let meta = e.metadata()?;
        total += if meta.is_dir() {
            dir_size(&e.path())?
        } else {
            meta.len()
        };
    }
    Ok(total)
}
