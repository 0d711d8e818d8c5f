#!/usr/bin/env python3
"""Builds boundaries/england_districts.geojson: the 296 English lower-tier districts of April 2023.

The districts are made from the same ONS MSOA (December 2021) BGC polygons as
boundaries/england_upper_tier_las.geojson, and they are made to fit that file exactly:

* a unitary authority, metropolitan district or London borough is one district, and its
  district polygon is the shipped upper-tier polygon, copied unchanged;
* the districts of a county are the faces of the shipped county polygon cut by the district
  borders inside it, so the outer edges of a county's districts are the shipped county's edges,
  vertex for vertex, and two districts of a county share every vertex of their common border.

Sources (public git repositories; pass a clone or a bare mirror of each):

* drkane/geo-lookups at commit e20a072d5fc0918437abaa3622be63f40b71d9dd:
  boundaries/msoa/<UTLA code>.geojson, the ONS MSOA 2021 BGC polygons split by upper-tier LA
* humaniverse/geographr at commit c026be5cc76cb576358082b53f1f13d69ab577ae:
  data/lookup_ltla23_utla23.rda (ONS LTLA23 -> UTLA23), data/lookup_lsoa21_ward24_ltla24.rda
  (ONS LSOA21 -> LTLA24, a cross-check only)
* LibrariesHacked/geography-db at commit 65006868d6180b5829d636f03807befb60dfc691:
  data/lower_upper_lookup.csv (a second copy of ONS LTLA23 -> UTLA23, a cross-check only)

Usage (Python 3.11+, with the packages in scripts/requirements-boundaries.txt):

    git clone https://github.com/drkane/geo-lookups
    git clone https://github.com/humaniverse/geographr
    git clone https://github.com/LibrariesHacked/geography-db
    python3 scripts/build_districts.py --geo-lookups geo-lookups --geographr geographr \
        --geography-db geography-db
    python3 scripts/check_districts.py

The files are read from the pinned commits with `git show`, whatever is checked out. The build
first remakes the upper-tier file from the same MSOAs by the pipeline in boundaries/README.md and
stops unless all 153 polygons come out identical to the shipped ones: that proves the sources are
the ones the shipped file was made from.
"""

import argparse
import collections
import csv
import io
import json
import os
import re
import subprocess
import sys
import tempfile

import numpy as np
import pyreadr
import shapely
import shapely.ops
from pyproj import Geod, Transformer
from shapely.geometry import LineString, MultiLineString, MultiPolygon, Point, Polygon, shape

GEO_LOOKUPS_COMMIT = "e20a072d5fc0918437abaa3622be63f40b71d9dd"
GEOGRAPHR_COMMIT = "c026be5cc76cb576358082b53f1f13d69ab577ae"
GEOGRAPHY_DB_COMMIT = "65006868d6180b5829d636f03807befb60dfc691"

# The source repository keeps Barnsley and Sheffield under their 2024 codes (same MSOAs).
LATER_CODE_OF = {"E08000016": "E08000038", "E08000019": "E08000039"}
CODE_2023_OF = {v: k for k, v in LATER_CODE_OF.items()}

GRID = 1e-6  # 6 decimal places
SPECK_M2 = 10.0  # parts and holes smaller than this are dropped, as in the upper-tier file
GEOD = Geod(ellps="WGS84")
TO_BNG = Transformer.from_crs(4326, 27700, always_xy=True)


class BuildError(Exception):
    pass


def git_show(repo, commit, path):
    proc = subprocess.run(
        ["git", "-C", repo, "show", f"{commit}:{path}"], capture_output=True, check=False
    )
    if proc.returncode != 0:
        raise BuildError(
            f"{repo}: cannot read {path} at commit {commit}: {proc.stderr.decode().strip()}"
        )
    return proc.stdout


def read_rda(repo, commit, path):
    with tempfile.NamedTemporaryFile(suffix=".rda") as tmp:
        tmp.write(git_show(repo, commit, path))
        tmp.flush()
        frames = pyreadr.read_r(tmp.name)
    if len(frames) != 1:
        raise BuildError(f"{path}: expected one data frame, found {len(frames)}")
    return next(iter(frames.values()))


# --- lookups -----------------------------------------------------------------------------


def load_ltla_utla(args):
    """The 296 English rows of the ONS LTLA23 -> UTLA23 lookup, checked against a second copy."""
    frame = read_rda(args.geographr, GEOGRAPHR_COMMIT, "data/lookup_ltla23_utla23.rda")
    rows = {
        r.ltla23_code: (r.ltla23_name, r.utla23_code, r.utla23_name)
        for r in frame.itertuples(index=False)
        if r.ltla23_code.startswith("E")
    }
    text = git_show(args.geography_db, GEOGRAPHY_DB_COMMIT, "data/lower_upper_lookup.csv")
    other = {
        r["LTLA23CD"]: (r["LTLA23NM"], r["UTLA23CD"], r["UTLA23NM"])
        for r in csv.DictReader(io.StringIO(text.decode("utf-8-sig")))
        if r["LTLA23CD"].startswith("E")
    }
    if rows != other:
        diff = sorted(set(rows.items()) ^ set(other.items()))[:5]
        raise BuildError(f"the two copies of the LTLA23->UTLA23 lookup disagree: {diff}")
    return rows


def read_csv(repo, commit, path):
    return list(csv.DictReader(io.StringIO(git_show(repo, commit, path).decode("utf-8-sig"))))


def cross_check_msoa_districts(args, msoas, districts):
    """Checks the MSOA -> April 2023 district assignment against ONS lookups carried by other
    repositories. Raises on any disagreement with a 2021-2023 lookup; returns what was compared."""
    lad_of_msoa = {code: lad for code, _, lad, _ in msoas}
    lad_of_msoa_name = {name: lad for _, name, lad, _ in msoas}
    utla_of = {lad: utla for lad, (_, utla, _) in districts.items()}
    lad23_of_lad22 = {
        r.ltla22_code: r.ltla23_code
        for r in read_rda(args.geographr, GEOGRAPHR_COMMIT, "data/lookup_ltla22_ltla23.rda").itertuples(index=False)
    }
    figures = {}

    # 1. ONS MSOA11 -> MSOA21 -> LAD22 (geographr), LAD22 mapped to LAD23.
    frame = read_rda(args.geographr, GEOGRAPHR_COMMIT, "data/lookup_msoa11_msoa21_ltla22.rda")
    pairs = {(r.msoa21_code, lad23_of_lad22[r.ltla22_code]) for r in frame.itertuples(index=False) if r.msoa21_code.startswith("E")}
    bad = sorted((m, lad, lad_of_msoa.get(m)) for m, lad in pairs if lad_of_msoa.get(m) != lad)
    if bad:
        raise BuildError(f"MSOAs whose district differs from the ONS MSOA21->LAD22 lookup: {bad[:5]}")
    figures["msoa21_lad22"] = len({m for m, _ in pairs})

    # 2. ONS LSOA11 -> LSOA21 -> LAD22 (geography-db): an LSOA's name is its MSOA's name plus a letter.
    rows = read_csv(args.geography_db, GEOGRAPHY_DB_COMMIT, "data/lsoa11_to_lsoa21_to_lad.csv")
    pairs = {(r["LSOA21NM"], lad23_of_lad22[r["LAD22CD"]]) for r in rows if r["LSOA21CD"].startswith("E")}
    bad = sorted((n, lad) for n, lad in pairs if lad_of_msoa_name.get(n[:-1]) != lad)
    if bad:
        raise BuildError(f"LSOAs whose district (ONS LSOA21->LAD22) differs from their MSOA's: {bad[:5]}")
    figures["lsoa21_lad22"] = len(pairs)

    # 3. ONS LSOA21 -> UTLA23 (geography-db), every English LSOA.
    rows = read_csv(args.geography_db, GEOGRAPHY_DB_COMMIT, "data/lsoa21_to_utla23.csv")
    pairs = {(r["LSOA21NM"], r["UTLA23CD"]) for r in rows if r["LSOA21CD"].startswith("E")}
    bad = sorted((n, u) for n, u in pairs if utla_of.get(lad_of_msoa_name.get(n[:-1])) != u)
    if bad:
        raise BuildError(f"LSOAs whose upper-tier LA (ONS LSOA21->UTLA23) differs from their MSOA's: {bad[:5]}")
    figures["lsoa21_utla23"] = len(pairs)

    # 4. ONS LSOA21 -> ward 2024 -> LTLA24 (geographr), a best-fit lookup of a later year:
    # disagreements are reported, not fatal.
    frame = read_rda(args.geographr, GEOGRAPHR_COMMIT, "data/lookup_lsoa21_ward24_ltla24.rda")
    pairs = {
        (r.lsoa21_code, r.lsoa21_name, CODE_2023_OF.get(r.ltla24_code, r.ltla24_code))
        for r in frame.itertuples(index=False)
        if r.lsoa21_code.startswith("E")
    }
    figures["lsoa21_ltla24"] = len(pairs)
    figures["lsoa21_ltla24_disagreeing"] = sorted(
        (c, n, lad, lad_of_msoa_name.get(n[:-1])) for c, n, lad in pairs if lad_of_msoa_name.get(n[:-1]) != lad
    )
    return figures


def load_msoas(args, districts):
    """Every English MSOA with its April 2023 district, checked against three lookups."""
    utlas = sorted({utla for _, utla, _ in districts.values()})
    msoas = []
    for utla in utlas:
        path = f"boundaries/msoa/{LATER_CODE_OF.get(utla, utla)}.geojson"
        collection = json.loads(git_show(args.geo_lookups, GEO_LOOKUPS_COMMIT, path))
        for feature in collection["features"]:
            props = feature["properties"]
            lad = CODE_2023_OF.get(props["LADCD_ACTIVE"], props["LADCD_ACTIVE"])
            if lad not in districts:
                raise BuildError(f"{path}: MSOA {props['MSOA21CD']}: unknown district {lad}")
            if districts[lad][1] != utla:
                raise BuildError(
                    f"{path}: MSOA {props['MSOA21CD']} is in district {lad}, which the "
                    f"lookup puts in {districts[lad][1]}, not {utla}"
                )
            msoas.append((props["MSOA21CD"], props["MSOA21NM"], lad, feature["geometry"]))
    codes = collections.Counter(m[0] for m in msoas)
    repeated = [c for c, n in codes.items() if n > 1]
    if repeated:
        raise BuildError(f"MSOAs in more than one file: {repeated[:5]}")
    missing = set(districts) - {m[2] for m in msoas}
    if missing:
        raise BuildError(f"districts without an MSOA: {sorted(missing)}")

    # An MSOA's name is its Census 2021 district's short name and a number: each name prefix
    # must belong to one district only.
    lads_of_prefix = collections.defaultdict(set)
    for code, name, lad, _ in msoas:
        lads_of_prefix[re.sub(r" \d{3}$", "", name)].add(lad)
    split = {p: sorted(l) for p, l in lads_of_prefix.items() if len(l) > 1}
    if split:
        raise BuildError(f"MSOA name prefixes found in more than one district: {split}")
    renamed = sorted((p, districts[next(iter(l))][0]) for p, l in lads_of_prefix.items() if p != districts[next(iter(l))][0])
    figures = cross_check_msoa_districts(args, msoas, districts)
    figures["msoas"] = len(msoas)
    figures["prefixes"] = len(lads_of_prefix)
    figures["renamed"] = renamed
    return msoas, figures


# --- geometry helpers --------------------------------------------------------------------


def polygons(geom):
    return [g for g in getattr(geom, "geoms", [geom]) if g.geom_type == "Polygon"]


def geodesic_area(geom):
    return abs(GEOD.geometry_area_perimeter(geom)[0])


def drop_specks(geom):
    """Drops polygon parts and holes under SPECK_M2, as was done for the upper-tier file."""
    kept = []
    for poly in polygons(geom):
        if geodesic_area(Polygon(poly.exterior)) < SPECK_M2:
            continue
        holes = [h for h in poly.interiors if geodesic_area(Polygon(h)) >= SPECK_M2]
        kept.append(Polygon(poly.exterior, holes))
    return kept[0] if len(kept) == 1 else MultiPolygon(kept)


def upper_tier_pipeline(raw):
    """The pipeline of boundaries/README.md applied to one dissolved, unrounded authority."""
    cleaned = drop_specks(raw)
    rounded = shapely.transform(cleaned, lambda a: np.round(a, 6))
    if not rounded.is_valid:
        rounded = drop_specks(shapely.set_precision(cleaned, GRID))
    return shapely.orient_polygons(rounded)


def segments(geom):
    """The undirected segments of every ring, as pairs of coordinate tuples."""
    for poly in polygons(geom):
        for ring in shapely.get_rings(poly):
            pts = [tuple(p) for p in shapely.get_coordinates(ring)]
            for a, b in zip(pts, pts[1:]):
                if a != b:
                    yield (a, b) if a < b else (b, a)


def line_segments(geom):
    for line in getattr(geom, "geoms", [geom]):
        pts = [tuple(p) for p in shapely.get_coordinates(line)]
        for a, b in zip(pts, pts[1:]):
            if a != b:
                yield (a, b) if a < b else (b, a)


# --- the districts of one county ---------------------------------------------------------


def internal_segments(raw_districts):
    """Segments shared by two districts (unrounded); every other segment must be on the outline."""
    count = collections.Counter()
    for raw in raw_districts.values():
        count.update(set(segments(raw)))
    if any(n > 2 for n in count.values()):
        raise BuildError("a segment is shared by more than two districts")
    return [s for s, n in count.items() if n == 2], {s for s, n in count.items() if n == 1}


def conform_internal_lines(internal, county, name):
    """Rounds the internal district borders onto the grid and makes them meet the shipped county
    outline only at its vertices, without moving any outline vertex.

    Returns the internal segments (undirected, on the grid), noded with each other and with the
    outline, and a count of the repairs that were needed.
    """
    outline = set(segments(county))
    outline_vertices = {p for s in outline for p in s}
    outline_lines = [LineString(s) for s in outline]
    tree = shapely.STRtree(outline_lines)
    lines = shapely.transform(
        shapely.line_merge(MultiLineString([LineString(s) for s in internal])),
        lambda a: np.round(a, 6),
    )
    repairs = collections.Counter()
    for _ in range(100):
        # Snap-round the internal lines among themselves (the outline is left alone).
        noded = shapely.union_all(lines, grid_size=GRID)
        segs = set(line_segments(noded))
        on_outline = segs & outline
        repairs["internal segment on the outline, dropped"] += len(on_outline)
        segs -= on_outline
        degree = collections.Counter(p for s in segs for p in s)
        seg_lines = [LineString(s) for s in segs]
        seg_list = list(segs)
        hits_i, hits_o = tree.query(seg_lines, predicate="intersects")
        bad_vertices = set()
        crossing = []
        for i, o in zip(hits_i, hits_o):
            seg = seg_list[i]
            meet = seg_lines[i].intersection(outline_lines[o])
            ok = meet.geom_type == "Point" and (meet.x, meet.y) in seg and (meet.x, meet.y) in outline_vertices
            if ok:
                continue
            bad = [p for p in seg if p not in outline_vertices and not county_strictly_contains(county, p)]
            if bad:
                bad_vertices.update(bad)
            else:
                crossing.append(seg)
        if not bad_vertices and not crossing:
            return segs, +repairs
        adjacency = collections.defaultdict(set)
        for a, b in segs:
            adjacency[a].add(b)
            adjacency[b].add(a)
        moves = {}
        for p in sorted(bad_vertices):
            if adjacency[p] & moves.keys() or any(p in seg for seg in crossing):
                continue  # a neighbour changes this round; look again next round
            if degree[p] == 2:
                moves[p] = None  # delete the vertex: join its two neighbours
                repairs["internal vertex on or outside the outline, deleted"] += 1
            else:
                moves[p] = nearest_outline_vertex(p, outline_vertices)
                repairs["internal end off an outline vertex, moved to the nearest"] += 1
        replace = {}
        for seg in crossing:
            # Both ends are inside or on outline vertices, yet the segment leaves the county
            # (rounding moved it across a narrow inlet or sliver). Mend the end nearest to where
            # it crosses: an inner vertex of a line is deleted; an end on an outline vertex is
            # moved to the outline vertex nearest to the crossing.
            ends_area = shapely.union_all([Point(e).buffer(GRID / 10) for e in seg])
            away = LineString(seg).intersection(county.boundary).difference(ends_area)
            if away.is_empty:
                raise BuildError(f"{name}: segment {seg} meets the outline off its vertices")
            e = min(seg, key=lambda q: away.distance(Point(q)))
            near = shapely.ops.nearest_points(away, Point(e))[0]
            if e in moves or adjacency[e] & moves.keys() or seg in replace:
                continue
            if e not in outline_vertices and degree[e] == 2:
                moves[e] = None
                repairs["internal segment crossing the outline, inner vertex deleted"] += 1
            elif e in outline_vertices:
                other = seg[1] if seg[0] == e else seg[0]
                v = nearest_outline_vertex((near.x, near.y), outline_vertices - {e})
                replace[seg] = (v, other)
                repairs["internal end crossing the outline, moved to the outline vertex there"] += 1
            else:
                raise BuildError(f"{name}: segment {seg} leaves the county and cannot be mended")
        lines = rebuild_lines(segs, moves, replace)
    raise BuildError(f"{name}: the internal lines did not settle after 100 rounds")


def county_strictly_contains(county, point):
    return county.contains_properly(Point(point))


def nearest_outline_vertex(p, outline_vertices):
    return min(outline_vertices, key=lambda q: (q[0] - p[0]) ** 2 + (q[1] - p[1]) ** 2)


def rebuild_lines(segs, moves, replace):
    """Applies vertex moves (to a point), vertex deletions (None) and segment replacements."""
    out = [LineString(new) for new in replace.values()]
    segs = segs - replace.keys()
    adjacency = collections.defaultdict(list)
    for a, b in segs:
        adjacency[a].append(b)
        adjacency[b].append(a)
    for a, b in segs:
        if moves.get(a, a) is None or moves.get(b, b) is None:
            continue
        a2, b2 = moves.get(a, a), moves.get(b, b)
        if a2 != b2:
            out.append(LineString([a2, b2]))
    for p, target in moves.items():
        if target is None:
            left, right = adjacency[p]
            left, right = moves.get(left, left), moves.get(right, right)
            if left is not None and right is not None and left != right:
                out.append(LineString([left, right]))
    return MultiLineString(out)


def county_districts(code, county, raw_county, raw_districts):
    """Cuts the shipped county polygon into its districts."""
    internal, single = internal_segments(raw_districts)
    if single != set(segments(raw_county)):
        raise BuildError(f"{code}: the unrounded districts do not tile the unrounded county exactly")
    segs, repairs = conform_internal_lines(internal, county, code)
    outline = set(segments(county))
    edges = [LineString(s) for s in outline | segs]
    faces, cuts, dangles, invalid = shapely.polygonize_full(edges)
    for label, extra in (("cut edges", cuts), ("dangles", dangles), ("invalid rings", invalid)):
        if not extra.is_empty:
            raise BuildError(f"{code}: polygonizing the districts left {label}: {extra.wkt[:200]}")
    faces = [f for f in faces.geoms if county.contains(f.representative_point())]
    codes = sorted(raw_districts)
    tree = shapely.STRtree([raw_districts[c] for c in codes])
    owner = {}
    for i, face in enumerate(faces):
        best, best_area = None, 0.0
        for j in tree.query(face, predicate="intersects"):
            area = face.intersection(raw_districts[codes[j]]).area
            if area > best_area:
                best, best_area = codes[j], area
        if best is None:
            raise BuildError(f"{code}: face {i} at {face.representative_point()} is in no district")
        owner[i] = best
    # A face that is a speck of its district but shares an edge with another district goes to
    # the district it shares its longest edge with.
    face_segments = [set(segments(f)) for f in faces]
    edge_faces = collections.defaultdict(list)
    for i, segs_i in enumerate(face_segments):
        for s in segs_i:
            edge_faces[s].append(i)
    reassigned = 0
    for i, face in enumerate(faces):
        if geodesic_area(face) >= SPECK_M2:
            continue
        shared = collections.Counter()
        for s in face_segments[i]:
            for j in edge_faces[s]:
                if j != i:
                    shared[owner[j]] += LineString(s).length
        if shared and owner[i] not in shared:
            owner[i] = shared.most_common(1)[0][0]
            reassigned += 1
    if reassigned:
        repairs["speck face moved to the district it borders"] += reassigned
    result = {}
    for c in codes:
        mine = [i for i in owner if owner[i] == c]
        if not mine:
            raise BuildError(f"{code}: district {c} got no face")
        count = collections.Counter()
        for i in mine:
            count.update(face_segments[i])
        boundary = [LineString(s) for s, n in count.items() if n == 1]
        area = shapely.build_area(MultiLineString(boundary))
        if not area.is_valid or area.is_empty:
            raise BuildError(f"{code}: district {c} is not a valid area")
        result[c] = shapely.orient_polygons(area)
    return result, repairs


# --- output ------------------------------------------------------------------------------


def rounded_coords(geom):
    def ring(r):
        return [[round(x, 6), round(y, 6)] for x, y in r.coords]

    polys = [[ring(p.exterior)] + [ring(h) for h in p.interiors] for p in polygons(geom)]
    if len(polys) == 1:
        return {"type": "Polygon", "coordinates": polys[0]}
    return {"type": "MultiPolygon", "coordinates": polys}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--geo-lookups", required=True, help="clone of drkane/geo-lookups")
    parser.add_argument("--geographr", required=True, help="clone of humaniverse/geographr")
    parser.add_argument("--geography-db", required=True, help="clone of LibrariesHacked/geography-db")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parser.add_argument(
        "--upper-tier", default=os.path.join(root, "boundaries", "england_upper_tier_las.geojson")
    )
    parser.add_argument("--out", default=os.path.join(root, "boundaries", "england_districts.geojson"))
    args = parser.parse_args()

    districts = load_ltla_utla(args)
    msoas, counts = load_msoas(args, districts)
    print(
        f"{len(districts)} districts, {counts['msoas']} MSOAs. The district of each agrees with ONS "
        f"MSOA21->LAD22 ({counts['msoa21_lad22']} MSOAs), LSOA21->LAD22 ({counts['lsoa21_lad22']} "
        f"LSOAs) and LSOA21->UTLA23 ({counts['lsoa21_utla23']} LSOAs). {counts['prefixes']} "
        f"MSOA name prefixes each fall in one district; those unlike the district's name: {counts['renamed']}. The best-fit LSOA21->LTLA24 lookup "
        f"({counts['lsoa21_ltla24']} LSOAs) disagrees on {len(counts['lsoa21_ltla24_disagreeing'])}: "
        f"{counts['lsoa21_ltla24_disagreeing']}"
    )
    with open(args.upper_tier) as f:
        shipped_features = json.load(f)["features"]
    shipped_json = {f["properties"]["code"]: f for f in shipped_features}
    shipped = {c: shape(f["geometry"]) for c, f in shipped_json.items()}
    utlas = sorted({utla for _, utla, _ in districts.values()})
    if sorted(shipped) != utlas:
        raise BuildError(f"{args.upper_tier}: its codes are not the 153 of the lookup")

    parts = collections.defaultdict(list)
    repaired = 0
    for code, _, lad, geometry in msoas:
        geom = shape(geometry)
        if not geom.is_valid:
            geom = shapely.make_valid(geom)
            repaired += 1
        parts[lad].append(geom)
    raw_district = {lad: shapely.union_all(geoms) for lad, geoms in sorted(parts.items())}
    print(f"dissolved {len(msoas)} MSOAs ({repaired} repaired with make_valid) into {len(raw_district)} districts")

    # Provenance: the same pipeline remakes the shipped upper-tier file, polygon for polygon.
    members = collections.defaultdict(list)
    for lad, (_, utla, _) in districts.items():
        members[utla].append(lad)
    raw_county = {}
    for utla in utlas:
        raw = raw_county[utla] = shapely.union_all([g for lad in members[utla] for g in parts[lad]])
        remade = upper_tier_pipeline(raw)
        if not shapely.equals_exact(remade.normalize(), shipped[utla].normalize(), 0):
            raise BuildError(f"{utla}: the remade polygon differs from {args.upper_tier}")
    print(f"the same MSOAs remake all {len(utlas)} upper-tier polygons exactly")

    features = []
    total_repairs = collections.Counter()
    for utla in utlas:
        lads = sorted(members[utla])
        if lads == [utla]:
            geometry = shipped_json[utla]["geometry"]
            features.append((utla, geometry))
            continue
        cut, repairs = county_districts(
            utla, shipped[utla], raw_county[utla], {lad: raw_district[lad] for lad in lads})
        total_repairs.update(repairs)
        if repairs:
            print(f"{utla} {shipped_json[utla]['properties']['name']}: {dict(repairs)}")
        for lad in lads:
            features.append((lad, rounded_coords(cut[lad])))
    features.sort()
    # How far the written districts are from the unrounded dissolve of their MSOAs (minus the
    # sub-10 m² specks), measured in British National Grid metres.
    def bng(geom):
        return shapely.transform(geom, lambda a: np.column_stack(TO_BNG.transform(a[:, 0], a[:, 1])))

    worst_area = worst_distance = (0.0, None)
    for lad, geometry in features:
        written, unrounded = bng(shape(geometry)), bng(drop_specks(raw_district[lad]))
        worst_area = max(worst_area, (abs(written.area - unrounded.area), lad))
        worst_distance = max(worst_distance, (written.hausdorff_distance(unrounded), lad))
    print(
        f"largest change from the unrounded dissolve: area {worst_area[0]:.0f} m² ({worst_area[1]}), "
        f"Hausdorff distance {worst_distance[0]:.1f} m ({worst_distance[1]})"
    )
    out = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"code": lad, "name": districts[lad][0], "utla_code": districts[lad][1]},
                "geometry": geometry,
            }
            for lad, geometry in features
        ],
    }
    with open(args.out, "w") as f:
        json.dump(out, f, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {len(features)} districts to {args.out}; repairs: {dict(total_repairs)}")


if __name__ == "__main__":
    try:
        main()
    except BuildError as err:
        print(f"build_districts: {err}", file=sys.stderr)
        sys.exit(1)
