"""Reads the server's OGC API - Tiles and an exported PMTiles archive with a current GDAL.

Run by tests/gdal_current.rs with the venv from tests/gdal/requirements.txt (pyogrio bundles
GDAL 3.12). Prints one JSON object of facts for the Rust test to assert.
Usage: python read.py BASE_URL PMTILES_PATH
"""
import json
import math
import sys
import urllib.request

import pyogrio
from pyogrio import raw

base, pmtiles = sys.argv[1], sys.argv[2]
facts = {"gdal": pyogrio.__gdal_version_string__, "drivers": {}}
drivers = pyogrio.list_drivers()
for name in ("OGCAPI", "MVT", "PMTiles"):
    facts["drivers"][name] = drivers.get(name)


def summarise(path, layer, **open_options):
    """Every feature of one layer: count, distinct codes, CRS, one LA's attributes."""
    meta, _fids, geoms, fields = raw.read(path, layer=layer, **open_options)
    names = list(meta["fields"])
    codes = fields[names.index("code")]
    out = {
        "features": len(geoms),
        "codes": sorted(set(str(c) for c in codes)),
        "crs": meta["crs"],
        "fields": len(names),
        "empty_geometries": sum(1 for g in geoms if g is None),
    }
    for i, code in enumerate(codes):
        if code == "E09000033":
            out["westminster"] = {
                k: (v.item() if hasattr(v, "item") else v)
                for k, v in ((n, fields[j][i]) for j, n in enumerate(names))
                if k in ("name", "region", "partnership_count", "role_convener", "la_type")
            }
            break
    return out


# OGC API - Tiles. GDAL takes the collection's CRS84 bbox as if it were in the tile matrix
# set's CRS for vector tiles, so give it England in EPSG:3857 metres (as the README says).
collection = f"OGCAPI:{base}/ogc/collections/local_authorities"
R = 6378137.0


def merc(lon, lat):
    return (math.radians(lon) * R, R * math.log(math.tan(math.pi / 4 + math.radians(lat) / 2)))


with urllib.request.urlopen(f"{base}/ogc/collections/local_authorities") as resp:
    bbox = json.load(resp)["extent"]["spatial"]["bbox"][0]
minx, miny = merc(bbox[0], bbox[1])
maxx, maxy = merc(bbox[2], bbox[3])
oo = {"MINX": minx, "MINY": miny, "MAXX": maxx, "MAXY": maxy}
info = pyogrio.read_info(collection, layer="Zoom level 0", **oo)
facts["ogcapi"] = {
    "layer0_crs": info["crs"],
    "zooms": {},
}
for z in (2, 6, 10):
    facts["ogcapi"]["zooms"][str(z)] = summarise(collection, f"Zoom level {z}", **oo)

# Which zoom levels GDAL offers, probed one by one (pyogrio lists layers without open options).
offered = []
for z in range(0, 16):
    try:
        pyogrio.read_info(collection, layer=f"Zoom level {z}", **oo)
        offered.append(z)
    except Exception:  # noqa: BLE001 - a missing layer is the answer, not a failure
        pass
facts["ogcapi"]["offered_zooms"] = offered

# PMTiles archive written by `partnership-map export`.
facts["pmtiles"] = {}
for z in (0, 4, 8):
    facts["pmtiles"][str(z)] = summarise(pmtiles, "local_authorities", ZOOM_LEVEL=z)

print(json.dumps(facts))
