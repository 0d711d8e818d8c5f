#!/usr/bin/env python3
"""Validates boundaries/england_districts.geojson against boundaries/england_upper_tier_las.geojson.

It reads only the two written files and checks that:

* the districts are the features the upper-tier file implies: codes unique and sorted, exactly
  the properties code/name/utla_code, every upper-tier LA has at least one district, and a
  district whose code is its upper-tier code is that whole LA;
* every geometry is a valid Polygon or MultiPolygon with at most 6 decimals, outer rings
  counter-clockwise and holes clockwise (RFC 7946);
* no two districts overlap (pairwise intersection areas);
* for every upper-tier LA, its districts' edges cancel pairwise (each inner edge is used by two
  districts, in opposite directions) and the edges left over are exactly the shipped polygon's
  edges, vertex for vertex; the symmetric difference of the union and the shipped polygon is
  measured as well;
* the total area equals the upper-tier file's.

Areas are planar areas in British National Grid (EPSG:27700), as in boundaries/README.md, except
the speck check (no part or hole under 10 m²), which measures on the WGS84 ellipsoid as the build does.
Usage: python3 scripts/check_districts.py [--districts FILE] [--upper-tier FILE]
Exit status 0 when every check passes, 1 otherwise; the figures are printed either way.
"""

import argparse
import collections
import json
import os
import re
import sys

import numpy as np
import shapely
from pyproj import Geod, Transformer
from shapely.geometry import shape

TO_BNG = Transformer.from_crs(4326, 27700, always_xy=True)
GEOD = Geod(ellps="WGS84")
CODE = re.compile(r"^E0[6789]\d{6}$")


def bng(geom):
    return shapely.transform(geom, lambda a: np.column_stack(TO_BNG.transform(a[:, 0], a[:, 1])))


def km2(geom):
    return bng(geom).area / 1e6


def rings_of(coordinates, geometry_type):
    polys = [coordinates] if geometry_type == "Polygon" else coordinates
    for poly in polys:
        for i, ring in enumerate(poly):
            yield i == 0, [tuple(p) for p in ring]


def signed_area(ring):
    return sum(x1 * y2 - x2 * y1 for (x1, y1), (x2, y2) in zip(ring, ring[1:])) / 2


def directed_edges(geometry):
    for _, ring in rings_of(geometry["coordinates"], geometry["type"]):
        for a, b in zip(ring, ring[1:]):
            if a != b:
                yield a, b


def dissolve_edges(geometries):
    """The directed edges left when the edges shared by the given geometries cancel out."""
    directed = collections.Counter()
    for geometry in geometries:
        directed.update(directed_edges(geometry))
    return collections.Counter({e: n for e, n in directed.items() if (e[1], e[0]) not in directed})


def check_groups(specs, features, by_utla, upper, fail):
    if not specs:
        return
    geometry_of = {f["properties"]["code"]: f["geometry"] for f in features}
    utla_of = {f["properties"]["code"]: f["properties"]["utla_code"] for f in features}
    groups = []
    for spec in specs:
        name, _, codes = spec.partition("=")
        codes = [c.strip() for c in codes.split(",") if c.strip()]
        unknown = [c for c in codes if c not in geometry_of]
        if unknown:
            fail(f"group {name}: unknown district codes {unknown}")
            return
        edges = dissolve_edges(geometry_of[c] for c in codes)
        area = shapely.build_area(shapely.MultiLineString([list(e) for e in edges]))
        if not area.is_valid:
            fail(f"group {name}: the dissolved edges do not make a valid area")
        groups.append((name, codes, edges))
        print(f"group {name}: {len(codes)} districts, {km2(area):,.3f} km², "
              f"{len(area.geoms) if hasattr(area, 'geoms') else 1} polygon(s), {sum(edges.values())} edges")
    for i, (name_a, _, edges_a) in enumerate(groups):
        for name_b, _, edges_b in groups[i + 1:]:
            common = sum(1 for (a, b) in edges_a if (b, a) in edges_b)
            print(f"groups {name_a} and {name_b} share {common} edges, each in opposite directions")
    members = sorted(c for _, codes, _ in groups for c in codes)
    parents = {utla_of[c] for c in members}
    if len(parents) == 1:
        utla = parents.pop()
        if members == sorted(f["properties"]["code"] for f in by_utla[utla]):
            whole = collections.Counter(directed_edges(upper[utla]["geometry"]))
            joined = collections.Counter()
            for _, _, edges in groups:
                joined.update(edges)
            joined = collections.Counter({e: n for e, n in joined.items() if (e[1], e[0]) not in joined})
            exact = joined == whole
            sym = bng(
                shapely.union_all([shape(geometry_of[c]) for c in members]).symmetric_difference(
                    shape(upper[utla]["geometry"])
                )
            ).area
            print(f"the groups together rebuild {utla} {upper[utla]['properties']['name']} edge for edge: "
                  f"{exact}; symmetric difference {sym:.6f} m²")
            if not exact:
                fail(f"the groups do not rebuild {utla} exactly")


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--districts", default=os.path.join(root, "boundaries", "england_districts.geojson"))
    parser.add_argument("--upper-tier", default=os.path.join(root, "boundaries", "england_upper_tier_las.geojson"))
    parser.add_argument("--show", nargs="*", default=[], help="upper-tier codes whose districts' areas to print")
    parser.add_argument(
        "--group", action="append", default=[], metavar="NAME=CODE,CODE,...",
        help="dissolve these districts by cancelling shared edges and print the result; "
        "groups that together hold all districts of one upper-tier LA are checked against it",
    )
    args = parser.parse_args()
    failures = []

    def fail(message):
        failures.append(message)
        print(f"FAIL: {message}")

    with open(args.districts) as f:
        collection = json.load(f)
    with open(args.upper_tier) as f:
        upper = {feat["properties"]["code"]: feat for feat in json.load(f)["features"]}
    features = collection["features"]
    codes = [feat["properties"].get("code") for feat in features]

    # --- the set of districts ---
    print(f"{len(features)} districts: " + ", ".join(
        f"{n} {p}" for p, n in sorted(collections.Counter(str(c)[:3] for c in codes).items())
    ))
    if collection.get("type") != "FeatureCollection":
        fail("the file is not a FeatureCollection")
    if codes != sorted(set(codes)):
        fail("codes are not unique and sorted")
    by_utla = collections.defaultdict(list)
    for feat in features:
        props = feat["properties"]
        if sorted(props) != ["code", "name", "utla_code"]:
            fail(f"{props.get('code')}: properties are {sorted(props)}, not code/name/utla_code")
            continue
        if not CODE.match(props["code"]) or not isinstance(props["name"], str) or not props["name"]:
            fail(f"{props['code']}: bad code or name")
        if props["utla_code"] not in upper:
            fail(f"{props['code']}: utla_code {props['utla_code']} is not in {args.upper_tier}")
            continue
        by_utla[props["utla_code"]].append(feat)
        if props["code"] in upper and props["utla_code"] != props["code"]:
            fail(f"{props['code']} is an upper-tier code but its utla_code is {props['utla_code']}")
    missing = sorted(set(upper) - set(by_utla))
    if missing:
        fail(f"upper-tier LAs without a district: {missing}")
    for utla, feats in by_utla.items():
        if utla in codes and len(feats) != 1:
            fail(f"{utla} is a district and an upper-tier LA but has {len(feats)} districts")
        if len(feats) == 1 and feats[0]["properties"]["code"] != utla:
            fail(f"{utla} has one district with another code, {feats[0]['properties']['code']}")
        if len(feats) == 1 and feats[0]["properties"]["name"] != upper[utla]["properties"]["name"]:
            fail(f"{utla}: district name differs from the upper-tier name")
    two_tier = {u: f for u, f in by_utla.items() if len(f) > 1}
    print(f"{len(by_utla)} upper-tier LAs: {len(by_utla) - len(two_tier)} are one district, "
          f"{len(two_tier)} are counties of {sum(len(f) for f in two_tier.values())} districts")

    # --- geometry ---
    geoms = {}
    too_precise = wrong_orientation = 0
    parts = collections.Counter()
    for feat in features:
        code, geometry = feat["properties"]["code"], feat["geometry"]
        if geometry.get("type") not in ("Polygon", "MultiPolygon"):
            fail(f"{code}: geometry type {geometry.get('type')}")
            continue
        for outer, ring in rings_of(geometry["coordinates"], geometry["type"]):
            if any(round(v, 6) != v for p in ring for v in p):
                too_precise += 1
            if (signed_area(ring) > 0) != outer:
                wrong_orientation += 1
        geom = shape(geometry)
        parts[geometry["type"]] += 1
        if not geom.is_valid:
            fail(f"{code}: invalid geometry: {shapely.is_valid_reason(geom)}")
        geoms[code] = geom
    if too_precise:
        fail(f"{too_precise} rings have coordinates with more than 6 decimals")
    if wrong_orientation:
        fail(f"{wrong_orientation} rings are not oriented as RFC 7946 says")
    small = sorted(
        (abs(GEOD.geometry_area_perimeter(piece)[0]), code, kind)
        for code, geom in geoms.items()
        for poly in getattr(geom, "geoms", [geom])
        for kind, piece in [("part", shapely.Polygon(poly.exterior))]
        + [("hole", shapely.Polygon(h)) for h in poly.interiors]
    )
    specks = [x for x in small if x[0] < 10]
    print(f"smallest part or hole (on the WGS84 ellipsoid): {small[0][0]:.1f} m² ({small[0][1]} {small[0][2]}); "
          f"parts and holes under 10 m²: {len(specks)} {[(c, k, round(a, 2)) for a, c, k in specks]}")
    if specks:
        fail(f"{len(specks)} parts or holes are smaller than 10 m²")
    print(f"geometries: {dict(parts)}; all valid: {all(g.is_valid for g in geoms.values())}; "
          f"ring orientation RFC 7946: {wrong_orientation == 0}; at most 6 decimals: {too_precise == 0}")

    # --- overlaps ---
    order = sorted(geoms)
    tree = shapely.STRtree([geoms[c] for c in order])
    left, right = tree.query([geoms[c] for c in order], predicate="intersects")
    overlaps = []
    for i, j in zip(left, right):
        if i < j:
            inter = geoms[order[i]].intersection(geoms[order[j]])
            area = bng(inter).area if not inter.is_empty else 0.0
            if area > 0:
                same = features[codes.index(order[i])]["properties"]["utla_code"] == \
                    features[codes.index(order[j])]["properties"]["utla_code"]
                overlaps.append((area, order[i], order[j], same))
    within = [o for o in overlaps if o[3]]
    print(f"overlapping pairs of districts: {len(overlaps)}, {sum(o[0] for o in overlaps):.2f} m² in all "
          f"({', '.join(f'{a} {b} {x:.2f} m²' for x, a, b, _ in overlaps)}); within one upper-tier LA: {len(within)}")
    if within:
        fail(f"districts of one upper-tier LA overlap: {within}")

    # --- each upper-tier LA is exactly its districts ---
    inexact = []
    max_symdiff = 0.0
    inner_edges = 0
    for utla in sorted(by_utla):
        feats = by_utla[utla]
        directed = collections.Counter()
        for feat in feats:
            directed.update(directed_edges(feat["geometry"]))
        if any(n > 1 for n in directed.values()):
            inexact.append((utla, "an edge is used twice in the same direction"))
            continue
        remaining = collections.Counter()
        for (a, b) in directed:
            if (b, a) in directed:
                inner_edges += 1
            else:
                remaining[(a, b)] += 1
        shipped = collections.Counter(directed_edges(upper[utla]["geometry"]))
        if remaining != shipped:
            inexact.append((utla, f"{sum((remaining - shipped).values())} edges not in the shipped polygon, "
                                  f"{sum((shipped - remaining).values())} shipped edges missing"))
        union = shapely.union_all([geoms[f["properties"]["code"]] for f in feats])
        sym = bng(union.symmetric_difference(shape(upper[utla]["geometry"]))).area
        max_symdiff = max(max_symdiff, sym)
    for utla, why in inexact:
        fail(f"{utla}: the districts' edges do not rebuild the shipped polygon: {why}")
    print(f"upper-tier LAs rebuilt edge for edge from their districts: {len(by_utla) - len(inexact)} of "
          f"{len(by_utla)} ({inner_edges // 2} inner edges cancel in opposite pairs); largest symmetric "
          f"difference of a union and the shipped polygon: {max_symdiff:.6f} m²")

    # --- area ---
    total = sum(km2(g) for g in geoms.values())
    upper_total = sum(km2(shape(f["geometry"])) for f in upper.values())
    print(f"total area: districts {total:,.3f} km², upper-tier file {upper_total:,.3f} km², "
          f"difference {(total - upper_total) * 1e6:.3f} m²")
    if abs(total - upper_total) > 1e-3:
        fail("the total area differs from the upper-tier file's by more than 1000 m²")
    for utla in args.show:
        print(f"{utla} {upper[utla]['properties']['name']}: {km2(shape(upper[utla]['geometry'])):,.3f} km²")
        for feat in by_utla.get(utla, []):
            p = feat["properties"]
            print(f"  {p['code']} {p['name']}: {km2(geoms[p['code']]):,.3f} km²")

    check_groups(args.group, features, by_utla, upper, fail)

    if failures:
        print(f"{len(failures)} checks failed")
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
