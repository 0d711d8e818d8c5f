//! partnership-map: vector tiles and a web map of England's area-based education partnerships.
//!
//! Modules depend downwards only: `http` (routes and handlers) is on top and no other module
//! imports it; `error` maps every error to an HTTP status.
//!
//! Tiles: `dataset` (load, validate, simplify per zoom, index) → `pipeline` (select, clip,
//! snap, encode one tile) → `cache` (gzip, ETag, bounded in bytes). `tile` is the tile maths,
//! `schema` the single list of tile attributes, `tileset` and `style` how the tile set
//! describes itself (TileJSON, archive metadata, attribution, MapLibre styles), `export` the
//! static archives.
//! Stewardship: `stewardship` publishes the files plus the change log (the served dataset, the
//! log's status, edits, undos, reloads, other replicas' changes); `changes` is the edit format,
//! apply, undo and replay (pure); `store` keeps submissions, the change log and the
//! submission limit durably; `editors` says who may edit; `data_export` writes the published
//! data back to files; `downloads` builds the open-data files.
//! Sharing: `compare` builds the LA comparison view; `render` draws map pictures (SVG, PNG) on
//! the server. `config` is the command line; `logging` and `metrics` make the server
//! observable.

pub mod background;
pub mod cache;
pub mod changes;
pub mod clock;
pub mod compare;
pub mod config;
pub mod data_export;
pub mod dataset;
pub mod downloads;
pub mod editors;
pub mod error;
pub mod export;
pub mod gis_formats;
pub mod glyphs;
pub mod http;
pub mod logging;
pub mod metrics;
pub mod model;
pub mod pipeline;
pub mod render;
pub mod schema;
pub mod stewardship;
pub mod store;
pub mod style;
pub mod submission;
pub mod tile;
pub mod tileset;
pub mod verification;
