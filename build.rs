//! Build script: make sure MapLibre GL JS (from npm, pinned by `web/package-lock.json`) is
//! present, so the binary can embed and serve it. Runs `npm ci` when `web/node_modules` lacks it.

use std::path::Path;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=web/package-lock.json");
    println!("cargo:rerun-if-changed=web/package.json");
    let dist = Path::new("web/node_modules/maplibre-gl/dist/maplibre-gl.mjs");
    if dist.exists() {
        return;
    }
    let status = Command::new("npm")
        .args([
            "ci",
            "--prefix",
            "web",
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
        ])
        .status();
    match status {
        Ok(s) if s.success() && dist.exists() => {}
        Ok(s) => panic!(
            "`npm ci --prefix web` failed ({s}); MapLibre GL JS is needed to build the web map"
        ),
        Err(e) => panic!(
            "cannot run npm ({e}): install Node.js and npm, then build again (MapLibre GL JS comes from npm)"
        ),
    }
}
