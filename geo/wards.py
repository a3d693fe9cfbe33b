"""Assign points to the area (ward) that contains them, vectorised.

The index covers every ward with H3 cells once. A point whose cell lies wholly inside one
ward takes that ward with no geometry test; only points in cells that a ward boundary
crosses are tested, and only against the small piece of each ward inside their cell. Points
that fall in no ward get ``None``: they are kept and flagged by the caller, never dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import shapely

from geo import h3index
from geo._parallel import map_chunks


@dataclass
class WardIndex:
    """A point-in-ward index over polygons in EPSG:4326.

    Parameters
    ----------
    codes
        One code per polygon.
    geometries
        shapely Polygons or MultiPolygons, ``(lng, lat)``.
    resolution
        The H3 resolution of the cover. Use the resolution the points are indexed at, so
        the point cells can be reused (`assign` accepts them).

    Examples
    --------
    >>> square = shapely.box(-1.40, 54.50, -1.30, 54.60)
    >>> index = WardIndex(np.array(["W1"]), np.array([square]), resolution=9)
    >>> index.assign(np.array([54.55, 54.70]), np.array([-1.35, -1.35])).tolist()
    ['W1', None]
    """

    codes: np.ndarray
    geometries: np.ndarray
    resolution: int = h3index.DEFAULT_RESOLUTION
    _full_cells: np.ndarray = field(init=False, repr=False)
    _full_ward: np.ndarray = field(init=False, repr=False)
    _full_lookup: pd.Index = field(init=False, repr=False)
    _edge_cells: np.ndarray = field(init=False, repr=False)
    _edge_ward: np.ndarray = field(init=False, repr=False)
    _tree: shapely.STRtree = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.codes = np.asarray(self.codes, dtype=object)
        self.geometries = np.asarray(self.geometries, dtype=object)
        if len(self.codes) != len(self.geometries):
            msg = f"{len(self.codes)} codes for {len(self.geometries)} geometries"
            raise ValueError(msg)
        self._build_cover()
        shapely.prepare(self.geometries)
        self._tree = shapely.STRtree(self.geometries)

    def _build_cover(self) -> None:
        full, full_ward, edge, edge_ward = [], [], [], []
        for i, geom in enumerate(self.geometries):
            inside = h3index.polygon_to_cells(geom, resolution=self.resolution, contain="full")
            touching = h3index.polygon_to_cells(
                geom, resolution=self.resolution, contain="overlap"
            )
            crossing = np.setdiff1d(touching, inside, assume_unique=True)
            full.append(inside)
            full_ward.append(np.full(len(inside), i))
            edge.append(crossing)
            edge_ward.append(np.full(len(crossing), i))
        full_cells = np.concatenate(full) if full else np.array([], np.uint64)
        # Overlapping boundary sets could cover a cell twice; the first ward wins, as in
        # the edge test, so that the lookup stays a plain hash index.
        self._full_cells, first = np.unique(full_cells, return_index=True)
        self._full_ward = np.concatenate(full_ward)[first] if full else np.array([], int)
        self._full_lookup = pd.Index(self._full_cells)
        edge_cells = np.concatenate(edge) if edge else np.array([], np.uint64)
        order = np.argsort(edge_cells, kind="stable")
        self._edge_cells = edge_cells[order]
        self._edge_ward = np.concatenate(edge_ward)[order] if edge else np.array([], int)

    def assign(
        self, lat: np.ndarray, lng: np.ndarray, *, cells: np.ndarray | None = None
    ) -> np.ndarray:
        """Return the code of the ward containing each point, or ``None`` outside all.

        Parameters
        ----------
        lat, lng
            WGS84 degrees.
        cells
            The points' ``uint64`` cells at this index's resolution, if already computed.
        """
        lat = np.asarray(lat, dtype=np.float64)
        lng = np.asarray(lng, dtype=np.float64)
        if cells is None:
            cells = h3index.latlng_to_cells(lat, lng, resolution=self.resolution)
        ward = self._lookup_full(cells)
        todo = np.flatnonzero(ward < 0)
        if len(todo):
            ward[todo] = map_chunks(self._test_edges, lat[todo], lng[todo], cells[todo])
        out = np.full(len(lat), None, dtype=object)
        hit = ward >= 0
        out[hit] = self.codes[ward[hit]]
        return out

    def _lookup_full(self, cells: np.ndarray) -> np.ndarray:
        ward = np.full(len(cells), -1, dtype=np.int64)
        if len(self._full_cells) == 0:
            return ward
        pos = self._full_lookup.get_indexer(cells)
        hit = pos >= 0
        ward[hit] = self._full_ward[pos[hit]]
        return ward

    def _test_edges(self, lat: np.ndarray, lng: np.ndarray, cells: np.ndarray) -> np.ndarray:
        """Test points in boundary cells against the wards that cross their cell."""
        ward = np.full(len(lat), -1, dtype=np.int64)
        lo = np.searchsorted(self._edge_cells, cells, "left")
        hi = np.searchsorted(self._edge_cells, cells, "right")
        count = hi - lo
        point = np.repeat(np.arange(len(lat)), count)
        first = np.repeat(lo - np.cumsum(np.r_[0, count[:-1]]), count)
        candidate = self._edge_ward[first + np.arange(count.sum())]
        # Whole ward polygons, not hexagon-clipped pieces: clipping moves ward lines by
        # ~1e-16 degrees, enough to put a point on a line into the wrong ward.
        inside = shapely.contains_xy(self.geometries[candidate], lng[point], lat[point])
        ward[point[inside]] = candidate[inside]
        # A point that H3's spherical cell and the planar hexagon disagree about may lie in
        # a ward that does not cross its cell: settle those against every ward.
        rest = np.flatnonzero((ward < 0) & (count > 0))
        if len(rest):
            p, g = self._tree.query(shapely.points(lng[rest], lat[rest]), predicate="within")
            ward[rest[p]] = g
        return ward
