//! partnership-map: vector tiles and a web map of England's area-based education partnerships.
//!
//! Pipeline: `dataset` (load, validate, simplify per zoom, index) → `pipeline` (select, clip,
//! snap, encode one tile) → `cache` (gzip, ETag, bounded in bytes) → `http` (contract).
//! `schema` is the single list of tile attributes; `config` is the command line; `logging` and
//! `metrics` make the server observable.
//! Stewardship: `changes` (the edit format, apply, undo, replay: pure), `store` (submissions,
//! the change log and the submission limit, durable), `editors` (who may edit),
//! `data_export` (published data back to files). Sharing: `compare` builds the LA comparison
//! view; `render` draws map pictures (SVG, PNG) on the server.

pub mod background;
pub mod cache;
pub mod changes;
pub mod compare;
pub mod config;
pub mod data_export;
pub mod dataset;
pub mod downloads;
pub mod editors;
pub mod error;
pub mod export;
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
