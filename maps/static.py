"""Static map images (PNG) for printed pages: patrol plans, the JAG briefing pack.

Drawn with matplotlib's Agg canvas directly (no pyplot, no global backend switch, no tiles,
no network): ward outlines, H3 cells filled with a given colour and optionally labelled, and
points. Everything is projected to British National Grid (EPSG:27700) before drawing, so a
map of Teesside is not squashed the way raw degrees would be, and a scale bar in metres can
be drawn. Output is deterministic: the same input gives the same bytes (no timestamp or
software version in the PNG metadata).

Text is drawn with ``parse_math=False``: a ``$`` in a label is a dollar sign, never TeX.
"""

from __future__ import annotations

import base64
import io

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection, PolyCollection
from matplotlib.figure import Figure

from geo import h3index
from geo.crs import WGS84, check_crs, latlng_to_bng

OUTLINE = {"colors": "#333333", "linewidths": 1.2}
CELL_EDGE = "#333333"
LABEL_BOX = {"boxstyle": "round,pad=0.2", "facecolor": "white", "edgecolor": "#333333",
             "alpha": 0.7, "linewidth": 0.6}
NICE_METRES = (50, 100, 200, 250, 500, 1000, 2000, 2500, 5000, 10_000, 20_000, 50_000)
MIN_HALF_WIDTH_M = 250.0  # a single cell still shows its surroundings
EMPTY = "Nothing to show"


def _to_bng(geoms: np.ndarray) -> np.ndarray:
    """Project shapely geometries in ``(lng, lat)`` to British National Grid metres."""
    def project(xy: np.ndarray) -> np.ndarray:
        easting, northing = latlng_to_bng(xy[:, 1], xy[:, 0])
        return np.column_stack([easting, northing])

    return shapely.transform(np.asarray(geoms, dtype=object), project)


def _rings(geoms: np.ndarray) -> list[np.ndarray]:
    """The coordinate arrays of each line part of ``geoms`` (vectorised split)."""
    parts = shapely.get_parts(np.asarray(geoms, dtype=object))
    if len(parts) == 0:
        return []
    coords, index = shapely.get_coordinates(parts, return_index=True)
    return np.split(coords, np.flatnonzero(np.diff(index)) + 1)


def _check_columns(frame: pd.DataFrame, needed: tuple[str, ...], what: str) -> None:
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        msg = f"{what}: missing column(s) {', '.join(missing)}; expected {', '.join(needed)}"
        raise ValueError(msg)


def _draw_areas(ax: Axes, areas: gpd.GeoDataFrame) -> np.ndarray:
    """Ward outlines; returns their bounds in metres (empty if none)."""
    check_crs(areas.crs, WGS84, what="areas")
    geoms = areas.geometry.to_numpy()
    geoms = geoms[~(shapely.is_missing(geoms) | shapely.is_empty(geoms))]
    if len(geoms) == 0:
        return np.empty((0, 2))
    lines = _rings(shapely.boundary(_to_bng(geoms)))
    ax.add_collection(LineCollection(lines, zorder=3, **OUTLINE))
    return np.concatenate(lines) if lines else np.empty((0, 2))


def _label(ax: Axes, x: float, y: float, text: str) -> None:
    ax.text(x, y, text, fontsize=8, ha="center", va="center", zorder=6, bbox=LABEL_BOX,
            parse_math=False)


def _draw_cells(ax: Axes, cells: pd.DataFrame) -> np.ndarray:
    """H3 hexagons filled with ``colour``, ``label`` at the centre; returns their corners."""
    _check_columns(cells, ("h3_cell", "colour"), "cells")
    if cells.empty:
        return np.empty((0, 2))
    ids = h3index.str_to_cells(cells["h3_cell"].astype(str).to_numpy())
    hexagons = _to_bng(h3index.cells_to_polygons(ids))
    rings = _rings(shapely.get_exterior_ring(hexagons))
    ax.add_collection(PolyCollection(rings, facecolors=cells["colour"].astype(str).tolist(),
                                     edgecolors=CELL_EDGE, linewidths=0.8, alpha=0.8,
                                     zorder=2))
    if "label" in cells.columns:
        lat, lng = h3index.cells_to_latlng(ids)
        easting, northing = latlng_to_bng(lat, lng)
        for x, y, text in zip(easting, northing, cells["label"], strict=True):
            if pd.notna(text) and str(text):
                _label(ax, float(x), float(y), str(text))
    return np.concatenate(rings)


def _draw_points(ax: Axes, points: pd.DataFrame) -> np.ndarray:
    """Dots at ``lat``/``lng`` in ``colour``, ``label`` beside them; returns their metres."""
    _check_columns(points, ("lat", "lng", "colour"), "points")
    if points.empty:
        return np.empty((0, 2))
    easting, northing = latlng_to_bng(points["lat"].to_numpy(float),
                                      points["lng"].to_numpy(float))
    ax.scatter(easting, northing, s=28, c=points["colour"].astype(str).tolist(),
               edgecolors="#222222", linewidths=0.6, zorder=4)
    if "label" in points.columns:
        for x, y, text in zip(easting, northing, points["label"], strict=True):
            if pd.notna(text) and str(text):
                ax.annotate(str(text), (float(x), float(y)), xytext=(5, 5),
                            textcoords="offset points", fontsize=7, zorder=6,
                            bbox=LABEL_BOX, parse_math=False)
    return np.column_stack([easting, northing])


def nice_length(span_m: float) -> int:
    """A round scale-bar length of about a quarter of ``span_m`` metres.

    Examples
    --------
    >>> nice_length(2000), nice_length(150), nice_length(1e9)
    (500, 50, 50000)
    """
    target = span_m / 4
    fitting = [n for n in NICE_METRES if n <= target]
    return fitting[-1] if fitting else NICE_METRES[0]


def _scale_bar(ax: Axes, x0: float, x1: float, y0: float, y1: float) -> None:
    """A scale bar at the bottom left and a north arrow at the top right."""
    length = nice_length(x1 - x0)
    left, bottom = x0 + 0.05 * (x1 - x0), y0 + 0.05 * (y1 - y0)
    ax.plot([left, left + length], [bottom, bottom], color="black", linewidth=3,
            solid_capstyle="butt", zorder=7)
    label = f"{length // 1000} km" if length >= 1000 else f"{length} m"
    ax.text(left + length / 2, bottom + 0.015 * (y1 - y0), label, ha="center", va="bottom",
            fontsize=8, zorder=7, parse_math=False)
    ax.annotate("N", xy=(0.95, 0.95), xytext=(0.95, 0.85), xycoords="axes fraction",
                ha="center", va="center", fontsize=10, fontweight="bold", zorder=7,
                arrowprops={"arrowstyle": "-|>", "color": "black", "linewidth": 1.5})


def _frame(ax: Axes, corners: np.ndarray) -> None:
    """Fit the view to ``corners`` with a margin, equal scale on both axes."""
    if len(corners) == 0:
        ax.text(0.5, 0.5, EMPTY, transform=ax.transAxes, ha="center", va="center",
                fontsize=10, color="#666666", parse_math=False)
        return
    (x0, y0), (x1, y1) = corners.min(axis=0), corners.max(axis=0)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    half = max((x1 - x0) / 2, (y1 - y0) / 2, MIN_HALF_WIDTH_M) * 1.1
    ax.set_xlim(cx - half, cx + half)
    ax.set_ylim(cy - half, cy + half)
    _scale_bar(ax, cx - half, cx + half, cy - half, cy + half)


def figure_for(*, areas: gpd.GeoDataFrame | None = None, cells: pd.DataFrame | None = None,
               points: pd.DataFrame | None = None, title: str = "",
               size: tuple[float, float] = (6, 5), dpi: int = 110) -> Figure:
    """The matplotlib Figure that `render_png` saves (see it for the parameters)."""
    fig = Figure(figsize=size, dpi=dpi)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0.02, 0.02, 0.96, 0.88 if title else 0.96))
    ax.set_aspect("equal")
    ax.set_axis_off()
    corners = [np.empty((0, 2))]
    if areas is not None:
        corners.append(_draw_areas(ax, areas))
    if cells is not None:
        corners.append(_draw_cells(ax, cells))
    if points is not None:
        corners.append(_draw_points(ax, points))
    _frame(ax, np.concatenate(corners))
    if title:
        fig.suptitle(title, fontsize=11, y=0.97, parse_math=False)
    return fig


def render_png(*, areas: gpd.GeoDataFrame | None = None, cells: pd.DataFrame | None = None,
               points: pd.DataFrame | None = None, title: str = "",
               size: tuple[float, float] = (6, 5), dpi: int = 110) -> bytes:
    r"""Draw a static map as PNG bytes: outlines, coloured H3 cells, points, scale bar.

    Parameters
    ----------
    areas
        Ward polygons in EPSG:4326, drawn as outlines.
    cells
        ``h3_cell`` and ``colour`` (a fill such as ``"#fd8d3c"``), optionally ``label``,
        drawn at the cell centre (e.g. a radio label ``"Bravo 7"``).
    points
        ``lat``, ``lng`` and ``colour``, optionally ``label`` drawn beside the point.
    title
        Drawn above the map.
    size, dpi
        Inches and dots per inch: the image is ``size * dpi`` pixels.

    Returns
    -------
    bytes
        A PNG, the same bytes for the same input. With nothing to draw it still is an
        image, saying so.

    Raises
    ------
    geo.crs.CRSError
        If ``areas`` is not in EPSG:4326.
    ValueError
        If a frame lacks a column (`geo.h3index.H3Error` for a bad cell id).

    Examples
    --------
    >>> png = render_png(points=pd.DataFrame({"lat": [54.57], "lng": [-1.32],
    ...                                       "colour": ["#d7191c"]}), size=(2, 2), dpi=50)
    >>> png[:8] == b"\x89PNG\r\n\x1a\n"
    True
    """
    fig = figure_for(areas=areas, cells=cells, points=points, title=title, size=size, dpi=dpi)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None})
    return buffer.getvalue()


def png_data_url(png: bytes) -> str:
    r"""The PNG as a ``data:`` URL, to embed in a page that makes no requests.

    Examples
    --------
    >>> png_data_url(b"\x89PNG")
    'data:image/png;base64,iVBORw=='
    """
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")
