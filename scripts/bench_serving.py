#!/usr/bin/env python3
"""Serving benchmark driver (run through scripts/bench-serving.sh, which installs nginx and wrk).

Measures, in one run and alternating between the two servers each round:
- warm throughput with wrk cycling over the same list of non-empty tiles, gzip and identity:
  req/s, p50/p99 latency and server CPU microseconds per request (utime+stime from /proc,
  summed over nginx's master and workers, or over all threads of partnership-map);
- a cold pass: the first request for each tile of the list, one connection, started 2 s after
  the server process starts;
- partnership-map's time to first tile after the process starts, and its RSS (idle, and after
  the benchmark) beside the tile cache's bytes.

Prints a Markdown report with medians and ratios to nginx. Standard library only.
"""

import argparse
import gzip
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BINARY = os.path.join(ROOT, "target", "release", "partnership-map")
CLK_TCK = os.sysconf("SC_CLK_TCK")


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pids):
    """utime + stime of the given processes (all their threads, dead ones included)."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except FileNotFoundError:
            pass
    return total / CLK_TCK


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def children(pid):
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        out.append(int(d))
            except (FileNotFoundError, ProcessLookupError, IndexError):
                pass
    return out


class Nginx:
    name = "nginx"

    def __init__(self, root, workdir):
        self.root, self.workdir = root, workdir
        self.proc = None

    def start(self):
        self.port = free_port()
        conf = os.path.join(self.workdir, "nginx.conf")
        tmp = os.path.join(self.workdir, "tmp")
        os.makedirs(tmp, exist_ok=True)
        with open(conf, "w") as f:
            f.write(f"""
worker_processes 2;
daemon off;
pid {self.workdir}/nginx.pid;
error_log {self.workdir}/error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  keepalive_timeout 65;
  open_file_cache max=100000 inactive=120s;
  open_file_cache_valid 120s;
  open_file_cache_min_uses 1;
  open_file_cache_errors on;
  client_body_temp_path {tmp}/body;
  proxy_temp_path {tmp}/proxy;
  fastcgi_temp_path {tmp}/fastcgi;
  uwsgi_temp_path {tmp}/uwsgi;
  scgi_temp_path {tmp}/scgi;
  types {{ application/vnd.mapbox-vector-tile pbf; application/json json; }}
  server {{
    listen 127.0.0.1:{self.port};
    location /tiles/ {{
      alias {self.root}/;
      gzip_static on;
      gzip_vary on;
      add_header Cache-Control "public, max-age=3600";
      add_header Access-Control-Allow-Origin "*";
    }}
  }}
}}
""")
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            ["/usr/sbin/nginx", "-c", conf, "-p", self.workdir],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(self.port, self.proc)
        self.base = f"http://127.0.0.1:{self.port}"

    def pids(self):
        return [self.proc.pid] + children(self.proc.pid)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


class PartnershipMap:
    name = "partnership-map"

    def __init__(self, max_zoom, workdir):
        self.max_zoom, self.workdir = max_zoom, workdir
        self.proc = None
        self.logfile = os.path.join(workdir, "partnership-map.log")

    def start(self):
        db = os.path.join(self.workdir, "pm.db")
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(db + suffix):
                os.remove(db + suffix)
        args = [BINARY, "serve", "--bind", "127.0.0.1:0", "--max-zoom", str(self.max_zoom), "--db", db]
        if supports(BINARY, "--metrics-bind"):
            args += ["--metrics-bind", "127.0.0.1:0"]
        # Default logging, as shipped: one line per request on stderr, here into a file.
        self.log = open(self.logfile, "ab")
        env = {k: v for k, v in os.environ.items() if k != "RUST_LOG"}
        self.started = time.monotonic()
        self.proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=self.log, env=env)
        line = self.proc.stdout.readline().decode()
        if "listening on" not in line:
            raise SystemExit(f"partnership-map did not start: {line!r}")
        self.base = line.strip().rsplit(" ", 1)[-1]
        self.metrics = None
        line = self.proc.stdout.readline().decode() if "--metrics-bind" in args else ""
        if "metrics" in line:
            self.metrics = line.strip().rsplit(" ", 1)[-1]

    def pids(self):
        return [self.proc.pid]

    def cache_bytes(self):
        """The tile cache's bytes as the server reports them (None if it does not)."""
        if self.metrics:
            text = urllib.request.urlopen(self.metrics, timeout=5).read().decode()
            for line in text.splitlines():
                if line.startswith("tile_cache_bytes "):
                    return float(line.split()[1])
        return None

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self.log.close()
        self.proc = None


_SUPPORTS = {}


def supports(binary, flag):
    if flag not in _SUPPORTS:
        out = subprocess.run([binary, "serve", "--help"], capture_output=True, text=True).stdout
        _SUPPORTS[flag] = flag in out
    return _SUPPORTS[flag]


def wait_port(port, proc, timeout=10):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.01)
    raise SystemExit(f"nothing listening on {port}")


def lua_paths(paths):
    return "local paths = {\n" + ",\n".join(f'"/tiles/{p}.pbf"' for p in paths) + "\n}\n"


DONE = """
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, "max_us": %d, ' ..
    '"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.max, e.connect, e.read, e.write, e.status, e.timeout))
end
"""


def write_scripts(workdir, paths):
    scripts = {}
    for enc, hdr in (("gzip", '{["Accept-Encoding"] = "gzip"}'), ("identity", "{}")):
        cycle = os.path.join(workdir, f"cycle-{enc}.lua")
        with open(cycle, "w") as f:
            f.write(lua_paths(paths))
            f.write(f"local headers = {hdr}\n")
            f.write("""
local threads = 0
function setup(thread)
  thread:set("start", threads * 397)
  threads = threads + 1
end
function init(args) i = start or 0 end
function request()
  i = i % #paths + 1
  return wrk.format("GET", paths[i], headers)
end
""")
            f.write(DONE)
        once = os.path.join(workdir, f"once-{enc}.lua")
        with open(once, "w") as f:
            f.write(lua_paths(paths))
            f.write(f"local headers = {hdr}\n")
            f.write("""
local i = 0
local seen = 0
function request()
  i = math.min(i + 1, #paths)
  return wrk.format("GET", paths[i], headers)
end
function response(status, hdrs, body)
  seen = seen + 1
  if seen >= #paths then wrk.thread:stop() end
end
""")
            f.write(DONE)
        scripts[enc] = (cycle, once)
    return scripts


def wrk(base, script, threads, connections, duration):
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--timeout", "5s", "-s", script, base],
        capture_output=True, text=True, timeout=duration + 60)
    for line in out.stdout.splitlines():
        if line.startswith("RESULT "):
            r = json.loads(line[len("RESULT "):])
            r["errors"] = r["connect"] + r["read"] + r["write"] + r["status"] + r["timeout"]
            return r
    raise SystemExit(f"wrk printed no result:\n{out.stdout}\n{out.stderr}")


def measure(server, script, args, duration):
    before = cpu_seconds(server.pids())
    r = wrk(server.base, script, args.threads, args.connections, duration)
    cpu = cpu_seconds(server.pids()) - before
    r["rps"] = r["requests"] / (r["duration_us"] / 1e6)
    r["cpu_us"] = cpu * 1e6 / max(r["requests"], 1)
    return r


def first_tile_seconds(server, path):
    """Start the server and time, from the spawn, until a tile comes back 200."""
    server.start()
    host, port = server.base.removeprefix("http://").split(":")
    req = f"GET /tiles/{path}.pbf HTTP/1.1\r\nHost: {host}\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n".encode()
    while True:
        try:
            with socket.create_connection((host, int(port)), 1) as s:
                s.sendall(req)
                head = s.recv(64)
                if head.startswith(b"HTTP/1.1 200"):
                    return time.monotonic() - server.started
        except OSError:
            pass
        time.sleep(0.002)


def cold_pass(server, once, delay=2.0):
    """The first request for every tile of the list, one connection, `delay` s after the start."""
    wait = server.started + delay - time.monotonic()
    if wait > 0:
        time.sleep(wait)
    # wrk waits out its duration even after the script stops its thread: keep it short.
    return wrk(server.base, once, 1, 1, 15)


def fmt_ms(us):
    return f"{us / 1000:.3f}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--max-zoom", type=int, default=12)
    ap.add_argument("--tiles", type=int, default=1000)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default="target/bench")
    args = ap.parse_args()
    out = os.path.join(ROOT, args.out)
    os.makedirs(out, exist_ok=True)
    workdir = tempfile.mkdtemp(prefix="bench-", dir=out)
    # nginx's workers run as another user when started as root: let them read the tiles.
    os.chmod(workdir, 0o755)

    # 1. Export the tiles and lay them out for nginx: gzip_static serves y.pbf.gz to clients
    #    that accept gzip and y.pbf (the same tile, decompressed) to those that do not.
    export = os.path.join(out, f"export-z{args.max_zoom}")
    t0 = time.monotonic()
    ex = subprocess.run([BINARY, "--max-zoom", str(args.max_zoom), "export", "--format", "dir", "--out", export],
                        cwd=ROOT, capture_output=True, text=True)
    if ex.returncode != 0:
        raise SystemExit(f"export failed: {ex.stderr}")
    log(f"export: {ex.stdout.strip()} ({time.monotonic() - t0:.1f} s wall)")
    root = os.path.join(workdir, "nginx-root")
    tiles = []
    for z in sorted(os.listdir(export), key=lambda s: (not s.isdigit(), int(s) if s.isdigit() else 0)):
        if not z.isdigit():
            continue
        for x in sorted(os.listdir(os.path.join(export, z)), key=int):
            os.makedirs(os.path.join(root, z, x), exist_ok=True)
            for name in sorted(os.listdir(os.path.join(export, z, x)), key=lambda n: int(n.split(".")[0])):
                y = name.split(".")[0]
                src = os.path.join(export, z, x, name)
                with open(src, "rb") as f:
                    gz = f.read()
                with open(os.path.join(root, z, x, f"{y}.pbf.gz"), "wb") as f:
                    f.write(gz)
                with open(os.path.join(root, z, x, f"{y}.pbf"), "wb") as f:
                    f.write(gzip.decompress(gz))
                tiles.append(f"{z}/{x}/{y}")
    # 2. The list: non-empty tiles spread evenly over the whole pyramid (so in proportion to
    #    each zoom's share of it), in a fixed order; one more, outside the list, for the
    #    time-to-first-tile probe.
    n = min(args.tiles, len(tiles) - 1)
    step = len(tiles) / n
    picked = [int(i * step) for i in range(n)]
    paths = [tiles[i] for i in picked]
    probe = next(tiles[i] for i in range(len(tiles)) if i not in set(picked) and tiles[i].split("/")[0] == str(min(10, args.max_zoom)))
    by_zoom = {}
    for p in paths:
        z = int(p.split("/")[0])
        by_zoom[z] = by_zoom.get(z, 0) + 1
    log(f"{len(tiles)} non-empty tiles; the list has {len(paths)}: " + ", ".join(f"z{z} {c}" for z, c in sorted(by_zoom.items())))
    scripts = write_scripts(workdir, paths)

    nginx = Nginx(root, workdir)
    pm = PartnershipMap(args.max_zoom, workdir)
    servers = [nginx, pm]
    results = {(s.name, enc): [] for s in servers for enc in ("gzip", "identity")}
    cold = {s.name: [] for s in servers}
    first_tile = []
    try:
        for r in range(args.rounds):
            order = servers if r % 2 == 0 else servers[::-1]
            for s in order:
                # A fresh start each round: the cold pass, then warm-up, then the warm runs.
                if s is pm:
                    first_tile.append(first_tile_seconds(pm, probe))
                else:
                    s.start()
                c = cold_pass(s, scripts["gzip"][1])
                cold[s.name].append(c)
                log(f"round {r + 1} {s.name} cold: {c['requests']} requests, p50 {fmt_ms(c['p50_us'])} ms, "
                    f"p99 {fmt_ms(c['p99_us'])} ms, errors {c['errors']}")
                if c["errors"]:
                    raise SystemExit(f"{s.name} answered the cold pass with errors: {c}")
                for enc in ("gzip", "identity"):
                    wrk(s.base, scripts[enc][0], args.threads, args.connections, 2)  # warm-up
                    m = measure(s, scripts[enc][0], args, args.duration)
                    results[(s.name, enc)].append(m)
                    if m["errors"]:
                        raise SystemExit(f"{s.name} answered {enc} requests with errors: {m}")
                    log(f"round {r + 1} {s.name} {enc}: {m['rps']:.0f} req/s, p50 {fmt_ms(m['p50_us'])} ms, "
                        f"p99 {fmt_ms(m['p99_us'])} ms, {m['cpu_us']:.2f} CPU us/request, errors: connect {m['connect']} "
                        f"read {m['read']} write {m['write']} status {m['status']} timeout {m['timeout']}")
                if s is pm:
                    pm_rss_after = rss_kib(pm.proc.pid)
                    pm_cache_after = pm.cache_bytes()
                s.stop()
        # Idle memory: a fresh start, left alone for 5 s (the background pre-render done).
        pm.start()
        time.sleep(5)
        idle_rss = rss_kib(pm.proc.pid)
        idle_cache = pm.cache_bytes()
        pm.stop()
    finally:
        nginx.stop()
        pm.stop()

    def med(vals):
        return statistics.median(vals)

    lines = []
    p = lines.append
    p(f"## Serving benchmark: partnership-map vs nginx (static gzip tiles)\n")
    p(f"- {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} cores, load average at the end "
      f"{os.getloadavg()[0]:.1f}; `--max-zoom {args.max_zoom}`; {len(tiles)} non-empty tiles exported, "
      f"the list cycles over {len(paths)} of them (" + ", ".join(f"z{z}: {c}" for z, c in sorted(by_zoom.items())) + ").")
    p(f"- {args.rounds} rounds, the order of the two servers alternating; each server restarted every round; "
      f"`wrk -t{args.threads} -c{args.connections} -d{args.duration}s` after a 2 s warm-up; partnership-map with "
      f"its default request logging (to a file). CPU is utime+stime from /proc over the run, all processes/threads "
      f"of the server.\n")
    p("| round | server | encoding | req/s | p50 ms | p99 ms | CPU µs/request | errors |")
    p("|---|---|---|---|---|---|---|---|")
    for r in range(args.rounds):
        for s in servers:
            for enc in ("gzip", "identity"):
                m = results[(s.name, enc)][r]
                p(f"| {r + 1} | {s.name} | {enc} | {m['rps']:.0f} | {fmt_ms(m['p50_us'])} | {fmt_ms(m['p99_us'])} | "
                  f"{m['cpu_us']:.2f} | {m['errors']} |")
    p("")
    p("Medians over the rounds, and partnership-map / nginx:\n")
    p("| measure | nginx | partnership-map | ratio | goal |")
    p("|---|---|---|---|---|")
    verdicts = []
    for enc in ("gzip", "identity"):
        n_, m_ = results[("nginx", enc)], results[("partnership-map", enc)]
        for key, label, goal, fmt in (
                ("cpu_us", f"warm {enc}: server CPU µs per request", 1.5, "{:.2f}"),
                ("rps", f"warm {enc}: req/s", None, "{:.0f}"),
                ("p50_us", f"warm {enc}: p50 ms", None, None),
                ("p99_us", f"warm {enc}: p99 ms", None, None)):
            a, b = med([x[key] for x in n_]), med([x[key] for x in m_])
            ratio = b / a if a else float("nan")
            fa, fb = ((fmt.format(a), fmt.format(b)) if fmt else (fmt_ms(a), fmt_ms(b)))
            g = ""
            if goal:
                ok = ratio <= goal
                g = f"≤ {goal}× nginx: {'met' if ok else 'NOT met'}"
                verdicts.append(ok)
            elif key == "rps" and enc == "gzip":
                g = "≥ 0.7× nginx (issue table): " + ("met" if ratio >= 0.7 else "not met")
            p(f"| {label} | {fa} | {fb} | {ratio:.2f} | {g} |")
    for key, label, goal_ms in (("p50_us", "cold pass p50 ms", 0.15), ("p99_us", "cold pass p99 ms", 1.0)):
        a, b = med([c[key] for c in cold["nginx"]]), med([c[key] for c in cold["partnership-map"]])
        ok = b / 1000 <= goal_ms
        verdicts.append(ok)
        p(f"| {label} ({len(paths)} tiles, 2 s after start) | {fmt_ms(a)} | {fmt_ms(b)} | {b / a:.2f} | ≤ {goal_ms} ms: {'met' if ok else 'NOT met'} |")
    ft = med(first_tile)
    verdicts.append(ft < 0.5)
    p(f"| first tile after the process starts, s (median of {len(first_tile)}) | | {ft:.3f} | | < 0.5 s: {'met' if ft < 0.5 else 'NOT met'} |")
    def mb(kib):
        return kib / 1024
    if idle_cache is not None:
        budget = 80 + idle_cache / 2**20
        ok = mb(idle_rss) <= budget
        verdicts.append(ok)
        p(f"| idle RSS 5 s after start, MB (tile cache {idle_cache / 2**20:.1f} MB) | | {mb(idle_rss):.1f} | | ≤ 80 MB + cache = {budget:.1f}: {'met' if ok else 'NOT met'} |")
        p(f"| RSS after the benchmark, MB (tile cache {pm_cache_after / 2**20:.1f} MB) | | {mb(pm_rss_after):.1f} | | |")
    else:
        p(f"| idle RSS 5 s after start, MB | | {mb(idle_rss):.1f} | | (no cache figure reported) |")
        p(f"| RSS after the benchmark, MB | | {mb(pm_rss_after):.1f} | | |")
    p("")
    p(f"Goals met: {sum(verdicts)} of {len(verdicts)}.")
    print("\n".join(lines))
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
