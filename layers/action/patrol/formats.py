"""Patrol plans as GPX 1.1 and KML 2.2 text, for handheld GPS units, phones and Google Earth.

Built with `xml.etree.ElementTree`, which escapes every value, so a ward code or label with
``<``, ``&`` or quotes still gives well-formed XML. Nothing here writes files.

Mind the order: GPX has ``lat`` and ``lon`` attributes; KML coordinates are ``lng,lat,alt``.
Times are the plan's naive local date-times, written without a time zone.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np
import pandas as pd
import shapely

from geo import h3index
from layers.action.patrol.shift import PatrolPlan

GPX_NS = "http://www.topografix.com/GPX/1/1"
KML_NS = "http://www.opengis.net/kml/2.2"
CREATOR = "placerisk"


def _sub(parent: ET.Element, tag: str, text: object = None, **attrib: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attrib)
    if text is not None:
        element.text = str(text)
    return element


def _text(root: ET.Element) -> str:
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _title(plan: PatrolPlan) -> str:
    return f"Patrol plan {plan.plan_id}, ward {plan.ward_code}, {plan.date.isoformat()}"


def _ordered_cells(plan: PatrolPlan) -> pd.DataFrame:
    """The plan's cells in tour order with ``visits``, their planned number of visits."""
    counts = plan.visits["h3_cell"].value_counts()
    cells = plan.cells.sort_values("order")
    return cells.assign(visits=cells["h3_cell"].map(counts).fillna(0).astype(np.int64))


def _describe(row: pd.Series) -> str:
    return (f"visit {int(row['visits'])} times, dwell {int(row['dwell_minutes'])} min, "
            f"score {float(row['score']):.3g}")


def _routes(cells: pd.DataFrame) -> list[tuple[int, pd.DataFrame]]:
    """Each officer's cells in visiting order, officers with no cells left out."""
    return [(int(officer), route) for officer, route in cells.groupby("officer", sort=True)]


def _gpx_point(parent: ET.Element, tag: str, row: pd.Series, desc: str | None = None) -> None:
    point = _sub(parent, tag, lat=f"{float(row['lat']):.6f}", lon=f"{float(row['lng']):.6f}")
    _sub(point, "name", row["label"])
    if desc is not None:
        _sub(point, "desc", desc)
        if pd.notna(row["category"]):
            _sub(point, "type", row["category"])


def to_gpx(plan: PatrolPlan) -> str:
    """The plan as GPX 1.1: a waypoint per cell and a route per officer.

    Each ``<wpt>`` is named by the cell's radio label; its ``<desc>`` reads "visit N times,
    dwell X min, score S". Each ``<rte>`` lists one officer's cells in visiting order.

    Examples
    --------
    >>> cells = pd.DataFrame({"h3_cell": ["89194655863ffff"], "score": [2.0],
    ...                       "category": ["hot spot"], "ward_code": ["E05001"]})
    >>> import datetime as dt
    >>> from layers.action.patrol.shift import plan_shift
    >>> gpx = to_gpx(plan_shift(cells, ward_code="E05001", date=dt.date(2025, 3, 31)))
    >>> root = ET.fromstring(gpx)
    >>> root.tag, len(root.findall(f"{{{GPX_NS}}}wpt"))
    ('{http://www.topografix.com/GPX/1/1}gpx', 1)
    """
    root = ET.Element("gpx", {"xmlns": GPX_NS, "version": "1.1", "creator": CREATOR})
    metadata = _sub(root, "metadata")
    _sub(metadata, "name", _title(plan))
    _sub(metadata, "time", plan.start.isoformat())
    cells = _ordered_cells(plan)
    for _, row in cells.iterrows():
        _gpx_point(root, "wpt", row, _describe(row))
    for officer, route in _routes(cells):
        rte = _sub(root, "rte")
        _sub(rte, "name", f"Officer {officer}")
        _sub(rte, "number", officer)
        for _, row in route.iterrows():
            _gpx_point(rte, "rtept", row)
    return _text(root)


def _coordinates(lng: np.ndarray, lat: np.ndarray) -> str:
    """KML coordinate tuples, ``lng,lat,0`` separated by spaces."""
    return " ".join(f"{x:.6f},{y:.6f},0" for x, y in zip(lng, lat, strict=True))


def _kml_cell(document: ET.Element, row: pd.Series, hexagon: object | None) -> None:
    placemark = _sub(document, "Placemark")
    _sub(placemark, "name", row["label"])
    _sub(placemark, "description", _describe(row))
    parent = _sub(placemark, "MultiGeometry") if hexagon is not None else placemark
    point = _sub(parent, "Point")
    _sub(point, "coordinates", _coordinates(np.array([row["lng"]]), np.array([row["lat"]])))
    if hexagon is not None:
        ring = shapely.get_coordinates(shapely.get_exterior_ring(hexagon))  # (lng, lat)
        boundary = _sub(_sub(parent, "Polygon"), "outerBoundaryIs")
        _sub(_sub(boundary, "LinearRing"), "coordinates", _coordinates(ring[:, 0], ring[:, 1]))


def to_kml(plan: PatrolPlan, *, hexagons: bool = True) -> str:
    """The plan as KML 2.2: a Placemark per cell and a route line per officer.

    Each cell's Placemark holds its centre Point (and, with ``hexagons``, the hexagon's
    boundary as a Polygon in a MultiGeometry). Each officer with two cells or more gets a
    LineString Placemark through the cells in visiting order. Coordinates are ``lng,lat,0``.

    Examples
    --------
    >>> cells = pd.DataFrame({"h3_cell": ["89194655863ffff"], "score": [2.0],
    ...                       "category": ["hot spot"], "ward_code": ["E05001"]})
    >>> import datetime as dt
    >>> from layers.action.patrol.shift import plan_shift
    >>> kml = to_kml(plan_shift(cells, ward_code="E05001", date=dt.date(2025, 3, 31)))
    >>> point = ET.fromstring(kml).find(f".//{{{KML_NS}}}Point/{{{KML_NS}}}coordinates")
    >>> point.text
    '-1.317965,54.571365,0'
    """
    root = ET.Element("kml", {"xmlns": KML_NS})
    document = _sub(root, "Document")
    _sub(document, "name", _title(plan))
    cells = _ordered_cells(plan)
    polygons: list[object | None] = [None] * len(cells)
    if hexagons and len(cells):
        polygons = list(h3index.cells_to_polygons(
            h3index.str_to_cells(cells["h3_cell"].to_numpy())))
    for (_, row), hexagon in zip(cells.iterrows(), polygons, strict=True):
        _kml_cell(document, row, hexagon)
    for officer, route in _routes(cells):
        if len(route) < 2:
            continue  # a line needs two points
        placemark = _sub(document, "Placemark")
        _sub(placemark, "name", f"Officer {officer} route")
        line = _sub(placemark, "LineString")
        _sub(line, "tessellate", 1)
        _sub(line, "coordinates", _coordinates(route["lng"].to_numpy(), route["lat"].to_numpy()))
    return _text(root)
