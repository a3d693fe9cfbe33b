"""The base map's PMTiles archive, served by the app itself with HTTP range requests.

``GET /tiles/base.pmtiles`` answers the byte ranges the pmtiles Leaflet plugin asks for
(``206 Partial Content``; Starlette's `FileResponse` handles ``Range`` and ``If-Range``), to
any signed-in role: the archive holds a base map, no store data, but only the app's users
need it. `check_tiles` refuses at start-up what could not be drawn: a missing or malformed
archive, vector tiles (the plugin draws raster tiles only), a script not installed, or a
tile server the Content-Security-Policy cannot name.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse

from api.security import content_security_policy
from api.settings import Settings
from layers.errors import NotFoundError
from maps import assets

MAGIC = b"PMTiles"
HEADER_BYTES = 127
RASTER_TYPES = {2: "png", 3: "jpeg", 4: "webp", 5: "avif"}
VECTOR_TYPES = {1: "mvt", 6: "mlt"}
MEDIA_TYPE = "application/vnd.pmtiles"


class TilesError(ValueError):
    """The configured base map cannot be served or drawn."""


@dataclass(frozen=True)
class PMTilesInfo:
    """What the header of a PMTiles (version 3) archive says."""

    tile_type: str
    min_zoom: int
    max_zoom: int


def read_pmtiles_header(path: str | Path) -> PMTilesInfo:
    """Read and check the 127-byte header of a PMTiles version 3 archive of raster tiles.

    Raises
    ------
    TilesError
        When the file is missing, not a PMTiles v3 archive, or holds vector tiles.
    """
    path = Path(path)
    try:
        with open(path, "rb") as f:
            head = f.read(HEADER_BYTES)
    except OSError as exc:
        msg = f"PLACERISK_PMTILES={path}: cannot read it ({exc.strerror})"
        raise TilesError(msg) from exc
    if len(head) < HEADER_BYTES or not head.startswith(MAGIC):
        msg = f"PLACERISK_PMTILES={path} is not a PMTiles archive (no PMTiles header)"
        raise TilesError(msg)
    if head[7] != 3:
        msg = f"PLACERISK_PMTILES={path} is PMTiles version {head[7]}; expected version 3"
        raise TilesError(msg)
    tile_type, min_zoom, max_zoom = struct.unpack_from("<BBB", head, 99)
    if tile_type in VECTOR_TYPES:
        msg = (f"PLACERISK_PMTILES={path} holds vector tiles ({VECTOR_TYPES[tile_type]}); "
               "the map draws raster tiles only: give an archive of PNG, JPEG or WebP tiles")
        raise TilesError(msg)
    if tile_type not in RASTER_TYPES:
        msg = f"PLACERISK_PMTILES={path}: unknown tile type {tile_type}"
        raise TilesError(msg)
    return PMTilesInfo(RASTER_TYPES[tile_type], min_zoom, max_zoom)


def check_tiles(settings: Settings) -> PMTilesInfo | None:
    """Refuse base-map settings that would fail on the first page; the PMTiles header if used.

    Raises
    ------
    TilesError
        See the module docstring.
    ValueError
        From `api.security.tile_origin`, for a tile URL the CSP cannot name.
    """
    for tiles in (settings.tiles, settings.guardian_tiles):
        content_security_policy(settings, tiles=tiles)
    if not settings.uses_pmtiles():
        return None
    if not settings.pmtiles:
        msg = "the base map is 'pmtiles' but PLACERISK_PMTILES names no file"
        raise TilesError(msg)
    info = read_pmtiles_header(settings.pmtiles)
    if assets.pmtiles_js() is None:
        msg = (f"PLACERISK_PMTILES is set but the pmtiles script is not installed in "
               f"{assets.VENDOR_DIR}/pmtiles: run `make install` (needs npm)")
        raise TilesError(msg)
    return info


router = APIRouter(tags=["maps"])


@router.get(assets.PMTILES_FILE_ROUTE, response_class=FileResponse,
            responses={200: {"content": {MEDIA_TYPE: {}}, "description": "The whole archive."},
                       206: {"content": {MEDIA_TYPE: {}},
                             "description": "The byte range asked for (HTTP Range)."},
                       404: {"description": "No PMTiles base map is configured."},
                       416: {"description": "A range outside the archive."}})
def base_map_archive(request: Request) -> FileResponse:
    """The base map's PMTiles archive, in the byte ranges asked for (HTTP Range)."""
    path = request.app.state.settings.pmtiles
    if not path:
        msg = "no PMTiles base map is configured (PLACERISK_PMTILES)"
        raise NotFoundError(msg)
    return FileResponse(path, media_type=MEDIA_TYPE)
