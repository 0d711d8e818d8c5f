#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine: installs what is missing (GDAL, GEOS, Node.js, Chromium,
# poppler-utils, QGIS, PostgreSQL, nginx-light, a current GDAL and Schemathesis from PyPI and the
# npm packages), starts a throwaway PostgreSQL cluster (stopped on exit), checks formatting and lints, runs every
# Rust test in release mode, then the browser tests against the release binary.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
[ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null && SUDO="sudo"
missing=()
command -v ogrinfo >/dev/null || missing+=(gdal-bin)
# GEOS's C API for the `geos` dev-dependency (tests/tiles.rs checks every polygon with GEOS).
command -v geos-config >/dev/null || missing+=(libgeos-dev)
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
[ -x /usr/bin/chromium ] || missing+=(chromium)
# pdftotext, pdfinfo and pdfimages for the print tests (web/tests/share.test.mjs).
command -v pdftotext >/dev/null || missing+=(poppler-utils)
# QGIS for the PyQGIS rendering test (about 3 minutes the first time).
/usr/bin/python3 -c 'import qgis.core' 2>/dev/null || missing+=(qgis python3-qgis)
# PostgreSQL for the shared-store and replica tests, nginx-light for the deployment test.
ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || missing+=(postgresql)
[ -x /usr/sbin/nginx ] || missing+=(nginx-light)
command -v openssl >/dev/null || missing+=(openssl)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "== installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# A current GDAL (3.12, inside pyogrio's wheel from PyPI) for tests/gdal_current.rs: Debian's
# GDAL 3.6.2 cannot read vector tiles through OGC API - Tiles and has no PMTiles driver.
venv=target/gdal-venv
if ! "$venv/bin/python" -c 'import pyogrio' 2>/dev/null \
   || ! cmp -s tests/gdal/requirements.txt "$venv/requirements.txt"; then
  echo "== python venv from PyPI: a current GDAL (pyogrio), feedparser, Schemathesis, aiosmtpd"
  rm -rf "$venv"
  if ! python3 -m venv "$venv" 2>/dev/null; then
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-venv >/dev/null
    rm -rf "$venv" && /usr/bin/python3 -m venv "$venv"
  fi
  "$venv/bin/pip" install -q --disable-pip-version-check -r tests/gdal/requirements.txt
  cp tests/gdal/requirements.txt "$venv/requirements.txt"
fi
export PARTNERSHIP_MAP_GDAL_PYTHON="$PWD/$venv/bin/python"

echo "== throwaway PostgreSQL cluster"
pg_dir=$(mktemp -d /tmp/partnership-map-pg.XXXXXX)
chmod 755 "$pg_dir"
trap 'bash scripts/pg-cluster.sh stop "$pg_dir/cluster" 2>/dev/null; rm -rf "$pg_dir"' EXIT
PARTNERSHIP_MAP_TEST_PG=$(bash scripts/pg-cluster.sh start "$pg_dir/cluster")
export PARTNERSHIP_MAP_TEST_PG
echo "   $PARTNERSHIP_MAP_TEST_PG"

echo "== npm ci (web/: MapLibre GL JS, style validator, playwright-core)"
npm ci --prefix web --no-audit --no-fund --loglevel=error

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy -D warnings"
cargo clippy --locked --all-targets -- -D warnings

echo "== cargo test (release: the suite renders a few thousand real tiles)"
cargo test --locked --release --all-targets --no-fail-fast

echo "== browser tests (headless Chromium; screenshots in test-artifacts/)"
(cd web && node --test --test-concurrency=1 tests/)
