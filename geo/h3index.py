"""Every H3 call in placerisk goes through this module.

Cells are handled as ``uint64`` numpy arrays inside the code (vectorised through h3ronpy)
and as 15-character hex strings in the store, the API and exports, which is what QGIS, h3-js
and the H3 command-line tools read. Mind the order: H3 takes ``(lat, lng)``; shapely and
GeoJSON take ``(lng, lat)``.
"""

from __future__ import annotations

import h3
import h3ronpy
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely
from arro3.core import list_flatten, list_offsets
from h3ronpy.vector import (
    ContainmentMode,
    cells_to_coordinates,
    cells_to_wkb_polygons,
    coordinates_to_cells,
    geometry_to_cells,
)

from geo._parallel import map_chunks

DEFAULT_RESOLUTION = 9


class H3Error(ValueError):
    """An H3 cell or resolution is not valid."""


def check_resolution(resolution: int) -> int:
    """Return ``resolution`` if it is an H3 resolution (0-15), else raise `H3Error`."""
    if (isinstance(resolution, bool) or not isinstance(resolution, int | np.integer)
            or not 0 <= int(resolution) <= 15):
        msg = f"H3 resolution must be an integer 0-15, got {resolution!r}"
        raise H3Error(msg)
    return int(resolution)


def latlng_to_cells(lat: np.ndarray, lng: np.ndarray, *, resolution: int) -> np.ndarray:
    """Index points to H3 cells, vectorised.

    Parameters
    ----------
    lat, lng
        WGS84 degrees. Check them first (`geo.crs.latlng_problems`): H3 silently accepts
        swapped or British National Grid numbers.
    resolution
        H3 resolution, 0-15.

    Returns
    -------
    numpy.ndarray
        ``uint64`` cells, one per point.

    Examples
    --------
    >>> cells = latlng_to_cells(np.array([54.5705]), np.array([-1.3183]), resolution=9)
    >>> cells_to_str(cells).tolist()
    ['89194655863ffff']
    """
    check_resolution(resolution)
    lat = np.ascontiguousarray(lat, dtype=np.float64)
    lng = np.ascontiguousarray(lng, dtype=np.float64)
    if len(lng) != len(lat):
        msg = f"{len(lat)} latitudes but {len(lng)} longitudes"
        raise H3Error(msg)
    bad = ~(np.isfinite(lat) & np.isfinite(lng))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        msg = f"item {i}: lat {lat[i]}, lng {lng[i]} is not a finite coordinate (NaN or infinite)"
        raise H3Error(msg)
    return map_chunks(lambda a, b: _to_numpy(coordinates_to_cells(a, b, resolution)), lat, lng)


def _to_numpy(arr: object) -> np.ndarray:
    return np.asarray(arr).astype(np.uint64, copy=False)


def cells_to_str(cells: npt.NDArray[np.uint64]) -> npt.NDArray[np.object_]:
    """Format ``uint64`` cells as hex strings (object array)."""
    cells = np.asarray(cells, dtype=np.uint64)
    if len(cells) == 0:
        return np.array([], dtype=object)
    # Points share few cells: format each distinct cell once (also shares the str objects).
    codes: npt.NDArray[np.intp]
    distinct: npt.NDArray[np.uint64]
    codes, distinct = pd.factorize(cells)
    return np.asarray(h3ronpy.cells_to_string(distinct)).astype(object)[codes]


def str_to_cells(cells: np.ndarray | list[str]) -> np.ndarray:
    """Parse hex strings to ``uint64`` cells; raise `H3Error` naming the first bad one."""
    values = np.asarray(cells, dtype=object)
    if len(values) == 0:
        return np.array([], dtype=np.uint64)
    try:
        return _to_numpy(h3ronpy.cells_parse(values))
    except (ValueError, TypeError):
        pass
    for i, text in enumerate(values):
        if not is_cell(text):
            msg = f"item {i}: {text!r} is not an H3 cell id (15 hex digits, like 89194655863ffff)"
            raise H3Error(msg) from None
    raise H3Error("cannot parse the H3 cell ids")  # pragma: no cover


def is_cell(text: str) -> bool:
    """Tell whether ``text`` is a valid H3 cell id."""
    return isinstance(text, str) and bool(h3.is_valid_cell(text))


def cell_resolution(cell: str) -> int:
    """Return the resolution of a hex cell id."""
    return int(h3.get_resolution(cell))


def cells_to_parent(cells: list[str], *, resolution: int) -> list[str]:
    """Return the parent of each hex cell id at the coarser ``resolution``."""
    return [h3.cell_to_parent(c, resolution) for c in cells]


def cells_to_parents(cells: np.ndarray, *, resolution: int) -> np.ndarray:
    """The ``uint64`` parent of each ``uint64`` cell at the coarser ``resolution``, vectorised.

    Examples
    --------
    >>> c = latlng_to_cells(np.array([54.57]), np.array([-1.31]), resolution=9)
    >>> cells_to_str(cells_to_parents(c, resolution=7)).tolist()
    ['871946558ffffff']
    """
    cells = np.asarray(cells, dtype=np.uint64)
    if len(cells) == 0:
        return cells
    return _to_numpy(h3ronpy.change_resolution(cells, check_resolution(resolution)))


def cells_to_latlng(cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the centre ``(lat, lng)`` of each ``uint64`` cell."""
    batch = cells_to_coordinates(np.asarray(cells, dtype=np.uint64))
    return np.asarray(batch.column("lat")), np.asarray(batch.column("lng"))


def cells_to_polygons(cells: npt.NDArray[np.uint64]) -> npt.NDArray[np.object_]:
    """Return the cells' boundaries as shapely Polygons in ``(lng, lat)`` order."""
    cells = np.asarray(cells, dtype=np.uint64)
    if len(cells) == 0:
        return np.array([], dtype=object)
    polygons: npt.NDArray[np.object_] = shapely.from_wkb(np.asarray(cells_to_wkb_polygons(cells)))
    return polygons


def polygon_to_cells(geom: object, *, resolution: int, contain: str = "full") -> np.ndarray:
    """Cover a WGS84 (lng, lat) polygon with cells.

    Parameters
    ----------
    geom
        A shapely Polygon or MultiPolygon in EPSG:4326.
    resolution
        H3 resolution.
    contain
        ``"full"``: cells wholly inside the polygon; ``"overlap"``: every cell that touches
        it; ``"centroid"``: cells whose centre lies inside (H3's default).
    """
    modes = {
        "full": ContainmentMode.ContainsBoundary,
        "overlap": ContainmentMode.IntersectsBoundary,
        "centroid": ContainmentMode.ContainsCentroid,
    }
    if contain not in modes:
        msg = f"contain must be one of {sorted(modes)}, got {contain!r}"
        raise H3Error(msg)
    cells = geometry_to_cells(geom, check_resolution(resolution), containment_mode=modes[contain])
    return np.unique(_to_numpy(cells))


def grid_disk(cell: str, k: int = 1) -> list[str]:
    """Return the cells within ``k`` steps of ``cell``, itself included."""
    return list(h3.grid_disk(cell, k))


def grid_disks(cells: np.ndarray, *, k: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Return the cells within ``k`` steps of each of many cells, vectorised.

    The vectorised twin of `grid_disk`, for ``uint64`` cells.

    Parameters
    ----------
    cells
        ``uint64`` cells.
    k
        Grid distance, 0 or more.

    Returns
    -------
    origin : numpy.ndarray
        ``int64`` position in ``cells`` of each pair's centre cell.
    neighbour : numpy.ndarray
        ``uint64`` cell within ``k`` steps of ``cells[origin]``, the centre itself included.

    Examples
    --------
    >>> origin, neighbour = grid_disks(str_to_cells(["89194655863ffff"]), k=1)
    >>> origin.tolist(), len(np.unique(neighbour))
    ([0, 0, 0, 0, 0, 0, 0], 7)
    """
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 0:
        msg = f"grid distance k must be a non-negative integer, got {k!r}"
        raise H3Error(msg)
    cells = np.asarray(cells, dtype=np.uint64)
    if len(cells) == 0:
        return np.array([], dtype=np.int64), np.array([], dtype=np.uint64)
    disks = h3ronpy.grid_disk(cells, int(k))
    offsets = np.asarray(list_offsets(disks), dtype=np.int64)
    sizes = offsets[1:] - offsets[:-1]
    origin = np.repeat(np.arange(len(cells), dtype=np.int64), sizes)
    return origin, _to_numpy(list_flatten(disks))
