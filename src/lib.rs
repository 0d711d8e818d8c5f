//! partnership-map: vector tiles and a web map of England's area-based education partnerships.
//!
//! Pipeline: `dataset` (load, validate, simplify per zoom, index) → `pipeline` (select, clip,
//! snap, encode one tile) → `cache` (gzip, ETag, bounded in bytes) → `http` (contract).
//! `schema` is the single list of tile attributes; `config` is the command line.

pub mod cache;
pub mod config;
pub mod dataset;
pub mod error;
pub mod export;
pub mod glyphs;
pub mod http;
pub mod model;
pub mod pipeline;
pub mod schema;
pub mod store;
pub mod submission;
pub mod tile;
