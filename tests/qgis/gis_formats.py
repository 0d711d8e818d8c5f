"""Headless QGIS check of the GeoPackage and FlatGeobuf downloads (run by tests/gis_formats.rs
with Debian's python3-qgis).

Loads each source as "Add Vector Layer" does (the OGR provider: a downloaded file, or a URL
read over HTTP range requests through GDAL's /vsicurl/), and prints one JSON line of facts for
the Rust test to assert: whether the layer is valid, its feature count, CRS, geometry type,
fields with their types, every feature's attributes by LA code, and the codes a rectangle
filter (QgsFeatureRequest.setFilterRect) selects.
Usage: python3 gis_formats.py BBOX_JSON SOURCE [SOURCE ...]
"""
import json
import os
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from qgis.core import (  # noqa: E402
    QgsApplication,
    QgsFeatureRequest,
    QgsRectangle,
    QgsVectorLayer,
    QgsWkbTypes,
)
from qgis.PyQt.QtCore import QVariant  # noqa: E402

bbox = json.loads(sys.argv[1])
sources = sys.argv[2:]
app = QgsApplication([], False)
app.initQgis()


def plain(value):
    """A QGIS attribute value as JSON: NULL becomes null."""
    if value is None or (isinstance(value, QVariant) and value.isNull()):
        return None
    return value


facts = {}
for source in sources:
    layer = QgsVectorLayer(f"{source}|layername=local_authorities", "local_authorities", "ogr")
    fact = {"valid": layer.isValid()}
    if layer.isValid():
        fields = layer.fields()
        fact["count"] = layer.featureCount()
        fact["crs"] = layer.crs().authid()
        fact["geometry"] = QgsWkbTypes.displayString(layer.wkbType())
        fact["fields"] = [[f.name(), f.typeName(), QVariant.typeToName(f.type())] for f in fields]
        features = {}
        invalid = 0
        for feature in layer.getFeatures():
            attrs = {f.name(): plain(feature[f.name()]) for f in fields if f.name() != "fid"}
            features[attrs["code"]] = attrs
            if not feature.geometry().isGeosValid():
                invalid += 1
        fact["features"] = features
        fact["invalid_geometries"] = invalid
        request = QgsFeatureRequest().setFilterRect(QgsRectangle(*bbox))
        fact["in_bbox"] = sorted(f["code"] for f in layer.getFeatures(request))
    facts[source] = fact
print(json.dumps(facts), flush=True)
# Skip QGIS's teardown, which can crash on exit in 3.22 after the work is reported.
os._exit(0)
