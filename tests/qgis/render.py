"""Headless QGIS check of the vector tile layer (run by tests/qgis.rs with Debian's python3-qgis).

Adds the server's tiles as a QGIS Vector Tiles layer with the QGIS style variant, renders
England to a PNG, and prints JSON facts for the Rust test to assert: the share of drawn pixels,
the colours at sampled LA points, the tiles QGIS fetched with their HTTP status and, for each
empty (204) tile, every colour drawn in its square, the colours at sampled sea points, the
attributes the identify tool decodes, and the OGC API - Features collections loaded through
QGIS's OAPIF provider.
Usage: python3 render.py BASE_URL OUT_PNG [SAMPLES_JSON [SEA_JSON]]
"""
import json
import os
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from qgis.core import (  # noqa: E402
    QgsApplication,
    QgsNetworkAccessManager,
    QgsNetworkReplyContent,
    QgsCoordinateReferenceSystem,
    QgsMapRendererParallelJob,
    QgsMapSettings,
    QgsProject,
    QgsRectangle,
    QgsGeometry,
    QgsPointXY,
    QgsVectorTileLayer,
)
from qgis.gui import QgsMapCanvas, QgsMapToolIdentify  # noqa: E402
from qgis.PyQt.QtCore import QSize  # noqa: E402
from qgis.PyQt.QtGui import QColor  # noqa: E402
from qgis.PyQt.QtNetwork import QNetworkRequest  # noqa: E402

base, out_png = sys.argv[1], sys.argv[2]
app = QgsApplication([], True)
app.initQgis()

uri = (
    f"type=xyz&url={base}/tiles/%7Bz%7D/%7Bx%7D/%7By%7D.pbf&zmin=0&zmax=12"
    f"&styleUrl={base}/styles/qgis.json"
)
layer = QgsVectorTileLayer(uri, "partnership-map")
facts = {"valid": layer.isValid(), "source_zmax": layer.sourceMaxZoom()}
res = layer.loadDefaultStyle()
# QGIS 3.22 returns (message, ok).
facts["style_loaded"] = bool(res[1]) if isinstance(res, tuple) else bool(res)
QgsProject.instance().addMapLayer(layer)

# Every tile QGIS fetches, with the server's status (the signal reaches this, the main thread,
# from the renderer's threads once the event loop runs).
fetched = {}


def on_reply(reply):
    url = reply.request().url().toString()
    if "/tiles/" in url:
        fetched[url.split("/tiles/")[1].split(".")[0]] = reply.attribute(
            QNetworkRequest.HttpStatusCodeAttribute
        )


QgsNetworkAccessManager.instance().finished[QgsNetworkReplyContent].connect(on_reply)

CANVAS = QColor(255, 255, 255)
facts["canvas"] = CANVAS.name()
settings = QgsMapSettings()
settings.setLayers([layer])
settings.setDestinationCrs(QgsCoordinateReferenceSystem("EPSG:3857"))
settings.setExtent(QgsRectangle(-720000, 6400000, 200000, 7520000))
settings.setOutputSize(QSize(600, 730))
settings.setBackgroundColor(CANVAS)


def render():
    job = QgsMapRendererParallelJob(settings)
    job.start()
    job.waitForFinished()
    return job.renderedImage()


img = render()
img.save(out_png)
for _ in range(20):
    app.processEvents()
facts["tiles"] = fetched

drawn = 0
colours = set()
total = img.width() * img.height()
for y in range(0, img.height(), 2):
    for x in range(0, img.width(), 2):
        c = img.pixelColor(x, y)
        if (c.red(), c.green(), c.blue()) not in ((255, 255, 255), (238, 243, 247)):
            drawn += 1
        colours.add(c.name())
facts["drawn_share"] = drawn / (total / 4)
facts["distinct_colours"] = len(colours)

# Colour at given map points (Mercator), for the Rust test to compare with the style.
samples = json.loads(sys.argv[3]) if len(sys.argv) > 3 else []
facts["samples"] = {}
for code, mx, my in samples:
    ext = settings.visibleExtent()
    px = int((mx - ext.xMinimum()) / settings.mapUnitsPerPixel())
    py = int((ext.yMaximum() - my) / settings.mapUnitsPerPixel())
    if 0 <= px < img.width() and 0 <= py < img.height():
        facts["samples"][code] = img.pixelColor(px, py).name()

# Blank squares: what QGIS drew in the square of each tile that answered 204 (no LA touches it,
# not even its buffer), and at sea points inside tiles that have LAs. Rendered again without
# labels, which QGIS places across tiles (a long name may reach into an empty tile's square).
settings.setFlag(QgsMapSettings.DrawLabeling, False)
bare = render()
bare.save(out_png.replace(".png", "-no-labels.png"))
ext = settings.visibleExtent()
upp = settings.mapUnitsPerPixel()
WORLD = 20037508.342789244


def tile_of(mx, my, z):
    size = 2 * WORLD / (1 << z)
    return f"{z}/{int((mx + WORLD) // size)}/{int((WORLD - my) // size)}"


facts["empty_tiles"] = {}
for tile, status in fetched.items():
    if status != 204:
        continue
    z, x, y = (int(v) for v in tile.split("/"))
    size = 2 * WORLD / (1 << z)
    # The tile's square in pixels, 2 px inside its edges (anti-aliasing of the neighbours).
    x0 = max(0, int((-WORLD + x * size - ext.xMinimum()) / upp) + 2)
    x1 = min(bare.width(), int((-WORLD + (x + 1) * size - ext.xMinimum()) / upp) - 2)
    y0 = max(0, int((ext.yMaximum() - (WORLD - y * size)) / upp) + 2)
    y1 = min(bare.height(), int((ext.yMaximum() - (WORLD - (y + 1) * size)) / upp) - 2)
    colours = {}
    for py in range(y0, y1):
        for px in range(x0, x1):
            name = bare.pixelColor(px, py).name()
            colours[name] = colours.get(name, 0) + 1
    facts["empty_tiles"][tile] = colours
sea = json.loads(sys.argv[4]) if len(sys.argv) > 4 else []
facts["sea"] = []
for mx, my in sea:
    px = int((mx - ext.xMinimum()) / upp)
    py = int((ext.yMaximum() - my) / upp)
    if 0 <= px < bare.width() and 0 <= py < bare.height():
        z = int(next(iter(fetched)).split("/")[0]) if fetched else 0
        t = tile_of(mx, my, z)
        facts["sea"].append({"tile": t, "status": fetched.get(t), "colour": bare.pixelColor(px, py).name()})

# QGIS's identify tool on Westminster: the attributes it decodes from the tiles.
canvas = QgsMapCanvas()
canvas.resize(600, 600)
canvas.setDestinationCrs(QgsCoordinateReferenceSystem("EPSG:3857"))
canvas.setLayers([layer])
canvas.setExtent(QgsRectangle(-30000, 6690000, 0, 6720000))
tool = QgsMapToolIdentify(canvas)
results = tool.identify(
    QgsGeometry.fromPointXY(QgsPointXY(-15100, 6711200)),
    QgsMapToolIdentify.TopDownAll,
    [layer],
    QgsMapToolIdentify.VectorTileLayer,
)
facts["identify"] = [
    {name: str(r.mFeature[name]) for name in r.mFeature.fields().names()} for r in results
]
# The same server as an OGC API - Features source (QGIS's OAPIF provider, as "Add WFS / OGC API").
from qgis.core import QgsVectorLayer  # noqa: E402

facts["oapif"] = {}
for typename in ("local_authorities", "partnerships"):
    oapif = QgsVectorLayer(f"url='{base}/ogc' typename='{typename}' restrictToRequestBBOX='0'", typename, "OAPIF")
    first = next(oapif.getFeatures(), None) if oapif.isValid() else None
    facts["oapif"][typename] = {
        "valid": oapif.isValid(),
        "count": oapif.featureCount(),
        "first_name": first["name"] if first else None,
    }
print(json.dumps(facts), flush=True)
# Skip QGIS's teardown: with network providers loaded it can crash on exit in 3.22, after the
# work is done and reported.
os._exit(0)
