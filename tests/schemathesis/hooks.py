"""Schemathesis hooks for tests/schemathesis.rs (loaded through SCHEMATHESIS_HOOKS=hooks).

Two rules of the API span several parameters, which OpenAPI cannot state:

- a tile's column and row are below 2^zoom (the document gives each its own range: 0-4095,
  zoom 0-12), on /tiles/{z}/{x}/{y}, /tiles/{date}/{z}/{x}/{y} and the OGC tile route;
- a comparison's `with` must name some LA other than `la` itself.

Just before a request is sent, these hooks bring a request whose parameters are each valid
back inside those rules (the column modulo 2^zoom; `with` without `la` dropped), so that the
positive-data check asks for things that exist. A request that breaks a documented rule
(non-numbers, negative numbers, zoom too high, a bad extension, an unknown code) is sent
unchanged, and the server must still reject it.
"""

import re

import schemathesis


def _fit(z, n):
    return n % (1 << z)


def _int(v):
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return v
    if isinstance(v, str) and re.fullmatch(r"[0-9]{1,4}", v):
        return int(v)
    return None


def _tiles(p):
    z, x = _int(p.get("z")), _int(p.get("x"))
    m = re.fullmatch(r"([0-9]{1,4})\.(pbf|mvt)", p["y"]) if isinstance(p.get("y"), str) else None
    if z is not None and z <= 12 and x is not None and m:
        p["x"] = _fit(z, x)
        p["y"] = f"{_fit(z, int(m.group(1)))}.{m.group(2)}"


def _ogc_tiles(p):
    z, row, col = _int(p.get("z")), _int(p.get("row")), _int(p.get("col"))
    if z is not None and z <= 12 and row is not None and col is not None:
        p["row"] = _fit(z, row)
        p["col"] = _fit(z, col)


def _codes(w):
    if isinstance(w, str):
        return w.split(",")
    if isinstance(w, list):
        return w
    return None


def _compare(q):
    la, w = q.get("la"), _codes(q.get("with"))
    if isinstance(la, str) and w and all(c == la for c in w):
        del q["with"]


@schemathesis.hook
def before_call(ctx, case, **kwargs):
    path = case.operation.path
    params = case.path_parameters
    if path in ("/tiles/{z}/{x}/{y}", "/tiles/{date}/{z}/{x}/{y}") and params:
        _tiles(params)
    elif path == "/ogc/collections/{id}/tiles/{tms}/{z}/{row}/{col}" and params:
        _ogc_tiles(params)
    elif path in ("/api/compare", "/compare") and isinstance(case.query, dict):
        _compare(case.query)
