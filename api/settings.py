"""Settings of the served app and the CLI, read from options and the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass

DEFAULT_TILES = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
NO_TILES = "none"
PMTILES = "pmtiles"  # the tiles value for the PMTiles file the app serves (PLACERISK_PMTILES)
DEFAULT_GUARDIAN_TILES = NO_TILES  # a tile server would learn which areas guardians look at
DEFAULT_ATTRIBUTION = "&copy; OpenStreetMap contributors"
DEFAULT_MAX_BODY_BYTES = 1024 * 1024
DEFAULT_RETENTION_DAYS = 365


@dataclass(frozen=True)
class Settings:
    """What the app needs to know.

    Attributes
    ----------
    db
        SQLite path or ``postgresql://`` URL (``--db`` / ``PLACERISK_DB``).
    tiles
        The analysts' and police's base map (``PLACERISK_TILES``): a tile URL template,
        ``"none"`` for no base map, or ``"pmtiles"`` for the file `pmtiles`. Default
        OpenStreetMap's tile server, or ``"pmtiles"`` when a PMTiles file is configured.
    guardian_tiles
        The guardian view's base map, the same choices (``PLACERISK_GUARDIAN_TILES``);
        default ``"none"``: areas and ward outlines over a plain background, so that no
        tile server learns which areas guardians look at.
    pmtiles
        A local PMTiles archive of raster tiles that the app serves itself, with HTTP range
        requests, at `maps.assets.PMTILES_FILE_ROUTE` (``PLACERISK_PMTILES``).
    attribution
        Attribution shown for the tiles (``PLACERISK_TILES_ATTRIBUTION``).
    page_size_max
        Largest page a list endpoint returns.
    guardian_k
        The guardian view suppresses cells with fewer distinct places of concern than this
        (``PLACERISK_GUARDIAN_K``; at least 3).
    session_hours, token_hours
        How long a browser session and an API token last (``PLACERISK_SESSION_HOURS``,
        ``PLACERISK_TOKEN_HOURS``).
    production
        Production mode (``PLACERISK_PRODUCTION=1``): no ``/docs``, cookies always Secure.
    max_body_bytes
        Largest request body accepted, chunked uploads included; larger ones get 413
        (``PLACERISK_MAX_BODY_BYTES``, 1 MiB by default).
    retention_days
        Days an erased place is kept before ``placerisk retention --apply`` deletes it for
        good (``PLACERISK_RETENTION_DAYS``, 365 by default).
    """

    db: str | None = None
    tiles: str = DEFAULT_TILES
    guardian_tiles: str = DEFAULT_GUARDIAN_TILES
    pmtiles: str | None = None
    attribution: str = DEFAULT_ATTRIBUTION
    page_size_max: int = 1000
    guardian_k: int = 5
    session_hours: float = 8.0
    token_hours: float = 12.0
    production: bool = False
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    retention_days: int = DEFAULT_RETENTION_DAYS

    @classmethod
    def from_env(cls, db: str | None = None) -> Settings:
        """Build settings from the environment, with ``db`` taking precedence."""
        pmtiles = os.environ.get("PLACERISK_PMTILES") or None
        return cls(
            db=db or os.environ.get("PLACERISK_DB"),
            tiles=os.environ.get("PLACERISK_TILES") or (PMTILES if pmtiles else DEFAULT_TILES),
            guardian_tiles=os.environ.get("PLACERISK_GUARDIAN_TILES") or DEFAULT_GUARDIAN_TILES,
            pmtiles=pmtiles,
            attribution=os.environ.get("PLACERISK_TILES_ATTRIBUTION", DEFAULT_ATTRIBUTION),
            guardian_k=int(os.environ.get("PLACERISK_GUARDIAN_K", "5")),
            session_hours=float(os.environ.get("PLACERISK_SESSION_HOURS", "8")),
            token_hours=float(os.environ.get("PLACERISK_TOKEN_HOURS", "12")),
            production=os.environ.get("PLACERISK_PRODUCTION", "").strip().lower()
            in ("1", "true", "yes"),
            max_body_bytes=int(os.environ.get("PLACERISK_MAX_BODY_BYTES",
                                              str(DEFAULT_MAX_BODY_BYTES))),
            retention_days=int(os.environ.get("PLACERISK_RETENTION_DAYS",
                                              str(DEFAULT_RETENTION_DAYS))),
        )

    @property
    def tiles_enabled(self) -> bool:
        """False when the analysts' base map is switched off."""
        return base_map(self.tiles) is not None

    def uses_pmtiles(self) -> bool:
        """Whether any view's base map is the PMTiles file."""
        return PMTILES in (base_map(self.tiles), base_map(self.guardian_tiles))


def base_map(tiles: str) -> str | None:
    """The base map a tiles setting asks for: ``None`` when switched off.

    Examples
    --------
    >>> base_map("none") is None, base_map(" PMTiles "), base_map("/t/{z}/{x}/{y}.png")
    (True, 'pmtiles', '/t/{z}/{x}/{y}.png')
    """
    value = tiles.strip()
    if value.lower() in ("", NO_TILES, "off"):
        return None
    return PMTILES if value.lower() == PMTILES else value
