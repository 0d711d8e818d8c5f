"""Headless QGIS reads one day's map as a GIS user would: through its TileJSON (tests/timeline_gis.rs).

It fetches the TileJSON, adds its `tiles` URL as a QGIS Vector Tiles layer (zoom range from the
TileJSON), renders the area around each sample point, and asks QGIS's identify tool which LA
it decodes there. Prints JSON facts on the last line: the tile URL used, whether the layer is
valid, and for each sample [name, lon, lat] the `code` and `valid_from` QGIS identified.
Usage: python3 vintage.py TILEJSON_URL SAMPLES_JSON
"""
import json
import math
import os
import sys
import urllib.parse
import urllib.request

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from qgis.core import (  # noqa: E402
    QgsApplication,
    QgsCoordinateReferenceSystem,
    QgsGeometry,
    QgsMapRendererParallelJob,
    QgsMapSettings,
    QgsPointXY,
    QgsProject,
    QgsRectangle,
    QgsVectorTileLayer,
)
from qgis.gui import QgsMapCanvas, QgsMapToolIdentify  # noqa: E402
from qgis.PyQt.QtCore import QSize  # noqa: E402

tilejson_url, samples = sys.argv[1], json.loads(sys.argv[2])
with urllib.request.urlopen(tilejson_url, timeout=60) as r:
    tilejson = json.load(r)
template = tilejson["tiles"][0]
app = QgsApplication([], True)
app.initQgis()
# QGIS's data source syntax: the URL with its braces escaped.
url = urllib.parse.quote(template, safe=":/?=&.,-_~%")
uri = f"type=xyz&url={url}&zmin={tilejson['minzoom']}&zmax={tilejson['maxzoom']}"
layer = QgsVectorTileLayer(uri, "partnership-map")
facts = {"template": template, "valid": layer.isValid(), "identified": {}}
QgsProject.instance().addMapLayer(layer)

R = 6378137.0


def mercator(lon, lat):
    return R * math.radians(lon), R * math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))


for name, lon, lat in samples:
    x, y = mercator(lon, lat)
    extent = QgsRectangle(x - 15000, y - 15000, x + 15000, y + 15000)
    settings = QgsMapSettings()
    settings.setLayers([layer])
    settings.setDestinationCrs(QgsCoordinateReferenceSystem("EPSG:3857"))
    settings.setExtent(extent)
    settings.setOutputSize(QSize(600, 600))
    job = QgsMapRendererParallelJob(settings)
    job.start()
    job.waitForFinished()
    canvas = QgsMapCanvas()
    canvas.resize(600, 600)
    canvas.setDestinationCrs(QgsCoordinateReferenceSystem("EPSG:3857"))
    canvas.setLayers([layer])
    canvas.setExtent(extent)
    tool = QgsMapToolIdentify(canvas)
    results = tool.identify(
        QgsGeometry.fromPointXY(QgsPointXY(x, y)),
        QgsMapToolIdentify.TopDownAll,
        [layer],
        QgsMapToolIdentify.VectorTileLayer,
    )
    facts["identified"][name] = [
        {k: str(r.mFeature[k]) for k in ("code", "valid_from") if k in r.mFeature.fields().names()}
        for r in results
        if "code" in r.mFeature.fields().names()
    ]
print(json.dumps(facts), flush=True)
# Skip QGIS's teardown, which can crash on exit in 3.22 after the work is done.
os._exit(0)
