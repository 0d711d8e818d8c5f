#!/usr/bin/env bash
# Serving benchmark: the release server against Debian's nginx serving the same gzip tiles as
# static files (exported with `partnership-map export --format dir`), in one run, alternating,
# with wrk cycling over the same list of non-empty tiles. Installs nginx-light and wrk when
# missing, builds the release binary, then runs scripts/bench_serving.py, which prints the
# report (Markdown) and writes it to target/bench/report.md.
#
#   bash scripts/bench-serving.sh                    # 3 rounds, 10 s per run, --max-zoom 12
#   ROUNDS=5 DURATION=15 MAX_ZOOM=14 bash scripts/bench-serving.sh
#
# Loopback only; every run is bounded in time; both servers are stopped at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
[ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null && SUDO="sudo"
missing=()
[ -x /usr/sbin/nginx ] || missing+=(nginx-light)
command -v wrk >/dev/null || missing+=(wrk)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "== installing ${missing[*]}" >&2
  $SUDO apt-get update -qq
  # Debian starts the packaged nginx on port 80 when it can; this benchmark runs its own.
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
  if [ -f /run/nginx.pid ]; then $SUDO nginx -s stop 2>/dev/null || true; fi
fi

echo "== cargo build --release" >&2
cargo build --release --quiet

mkdir -p target/bench
python3 scripts/bench_serving.py \
  --rounds "${ROUNDS:-3}" \
  --duration "${DURATION:-10}" \
  --max-zoom "${MAX_ZOOM:-12}" \
  --tiles "${TILES:-1000}" \
  --connections "${CONNECTIONS:-64}" \
  --threads "${THREADS:-2}" \
  --out target/bench | tee target/bench/report.md
