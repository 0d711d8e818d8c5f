//! Build script: make sure MapLibre GL JS and Swagger UI (from npm, pinned by
//! `web/package-lock.json`) are present, so the binary can embed and serve them. Runs `npm ci` when `web/node_modules` lacks it.

use std::path::Path;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=web/package-lock.json");
    println!("cargo:rerun-if-changed=web/package.json");
    let dist = Path::new("web/node_modules/maplibre-gl/dist/maplibre-gl.mjs");
    let swagger = Path::new("web/node_modules/swagger-ui-dist/swagger-ui-bundle.js");
    if dist.exists() && swagger.exists() {
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
        Ok(s) if s.success() && dist.exists() && swagger.exists() => {}
        Ok(s) => panic!(
            "`npm ci --prefix web` failed ({s}); MapLibre GL JS and Swagger UI are needed to build the web map and /api"
        ),
        Err(e) => panic!(
            "cannot run npm ({e}): install Node.js and npm, then build again (MapLibre GL JS comes from npm)"
        ),
    }
}
