#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests: `pg-cluster.sh start DIR` runs initdb in DIR, makes a
# self-signed certificate (so sslmode=require works), starts it on a free loopback port and prints
# its URL; `pg-cluster.sh stop DIR` stops it, and `start DIR` again restarts it on the same port.
# Runs the server as `postgres` when started as root. DIR's parent must be traversable by postgres.
set -euo pipefail
cmd=${1:?usage: pg-cluster.sh start|stop DIR}
dir=${2:?usage: pg-cluster.sh start|stop DIR}
bin=${PARTNERSHIP_MAP_TEST_PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)}
[ -x "$bin/pg_ctl" ] || { echo "pg-cluster.sh: no pg_ctl in $bin (Debian package postgresql)" >&2; exit 1; }
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

case "$cmd" in
start)
  if [ ! -d "$dir/data" ]; then
    mkdir -p "$dir"
    [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$dir"
    as_pg "$bin/initdb" -D "$dir/data" --auth=trust -U postgres >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; exit 1; }
    openssl req -new -x509 -days 2 -nodes -subj /CN=localhost \
      -keyout "$dir/data/server.key" -out "$dir/data/server.crt" 2>/dev/null
    chmod 600 "$dir/data/server.key"
    [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$dir/data/server.key" "$dir/data/server.crt"
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' >"$dir/port"
  fi
  port=$(cat "$dir/port")
  # Enough connections for every test binary's pools at once.
  as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w start -o \
    "-p $port -k $dir -c listen_addresses=127.0.0.1 -c ssl=on -c max_connections=400 -c fsync=off" \
    >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
  echo "postgres://postgres@127.0.0.1:$port/postgres"
  ;;
stop)
  as_pg "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
  ;;
*) echo "usage: pg-cluster.sh start|stop DIR" >&2; exit 2 ;;
esac
