#!/usr/bin/env bash
# Load test on loopback: starts the release server, warms a set of tiles, then runs wrk against
# cached gzip tiles and against /health (the baseline: the cheapest request) in the same run.
# Prints req/s and latency for both and their ratio. Bounded: DURATION seconds per run.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${DURATION:-10}"
command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
cargo build --release --quiet
log=$(mktemp)
./target/release/partnership-map serve --bind 127.0.0.1:0 >"$log" 2>/dev/null &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -f "$log" "$lua"' EXIT
for _ in $(seq 50); do grep -q listening "$log" && break; sleep 0.1; done
url=$(grep -o 'http://[0-9.:]*' "$log" | head -1)

# Tiles over England at z8 (the busiest zoom for a regional view), warmed first.
lua=$(mktemp --suffix=.lua)
{
  echo 'paths = {'
  for x in $(seq 124 131); do for y in $(seq 80 87); do echo "\"/tiles/8/$x/$y.pbf\","; done; done
  echo '}'
  echo 'i = 0'
  echo 'request = function() i = i % #paths + 1; return wrk.format("GET", paths[i], {["Accept-Encoding"]="gzip"}) end'
} >"$lua"
for x in $(seq 124 131); do for y in $(seq 80 87); do curl -s -o /dev/null -H 'Accept-Encoding: gzip' "$url/tiles/8/$x/$y.pbf"; done; done

echo "== cached gzip tiles (64 distinct z8 tiles)"
tiles=$(wrk -t2 -c64 -d"${DURATION}s" --latency -s "$lua" "$url" | tee /dev/stderr | awk '/Requests\/sec/ {print $2}')
echo "== baseline: /health"
health=$(wrk -t2 -c64 -d"${DURATION}s" --latency -H 'Accept-Encoding: gzip' "$url/health" | tee /dev/stderr | awk '/Requests\/sec/ {print $2}')
echo "tiles: $tiles req/s; /health: $health req/s; ratio tiles/health = $(python3 -c "print(round($tiles/$health, 2))")"
