"""Settings of the served app and the CLI, read from options and the environment.

This is the one module that reads the environment (``tests/test_environment.py`` keeps it
so): `Settings.from_env` reads every setting, `env_db` only ``PLACERISK_DB``. The rest of
placerisk is handed what it needs: the store its database (`layers.store.engine.open_store`),
the maps their vendor folder (`maps.assets.use_vendor_dir`).
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass

DEFAULT_TILES = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
NO_TILES = "none"
PMTILES = "pmtiles"  # the tiles value for the PMTiles file the app serves (PLACERISK_PMTILES)
DEFAULT_GUARDIAN_TILES = NO_TILES  # a tile server would learn which areas guardians look at
DEFAULT_ATTRIBUTION = "&copy; OpenStreetMap contributors"
DEFAULT_MAX_BODY_BYTES = 1024 * 1024
DEFAULT_RETENTION_DAYS = 365
DEFAULT_SIGNIN_PER_ADDRESS = 30.0
DEFAULT_SIGNIN_PER_NAME = 6.0
DEFAULT_HEAVY_SLOTS = 2  # this machine class has 2 cores; a slot more would only share them
DEFAULT_HEAVY_QUEUE = 8
ENV_DB = "PLACERISK_DB"
ENV_VENDOR = "PLACERISK_VENDOR"


class SettingsError(ValueError):
    """A setting from the environment that cannot be used."""


def parse_proxies(value: str) -> tuple[str, ...]:
    """The trusted proxies of ``PLACERISK_TRUSTED_PROXIES``: addresses or networks.

    Comma-separated IPv4 or IPv6 addresses and CIDR networks, normalised; empty for none.

    Raises
    ------
    SettingsError
        For anything else, ``*`` included: trusting every peer would let any client forge
        the address the audit log records.

    Examples
    --------
    >>> parse_proxies("10.0.0.7, 192.168.1.0/24,::1")
    ('10.0.0.7', '192.168.1.0/24', '::1')
    >>> parse_proxies("")
    ()
    """
    proxies = []
    for item in (part.strip() for part in value.split(",")):
        if not item:
            continue
        try:
            proxies.append(str(ipaddress.ip_network(item, strict=False)) if "/" in item
                           else str(ipaddress.ip_address(item)))
        except ValueError:
            msg = (f"PLACERISK_TRUSTED_PROXIES: {item!r} is not an IP address or network; "
                   "name the address of your reverse proxy, such as 127.0.0.1 or 10.0.0.0/24")
            raise SettingsError(msg) from None
    return tuple(proxies)


def env_db() -> str | None:
    """The database ``PLACERISK_DB`` names; ``None`` when it is unset or empty.

    Read on its own, for the CLI's choice of store (`api.cli._common.chosen_db`): a command
    that only needs its store does not fail on a setting it does not use.
    """
    return os.environ.get(ENV_DB) or None


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
    trusted_proxies
        Addresses or networks of the reverse proxies whose ``X-Forwarded-For`` and
        ``X-Forwarded-Proto`` are believed (``PLACERISK_TRUSTED_PROXIES``, comma-separated).
        None by default: the client address is the peer's, whatever a header says.
    signin_per_address, signin_per_name
        Failed sign-ins allowed per minute from one client address and for one user name
        (``PLACERISK_SIGNIN_PER_ADDRESS``, 30, and ``PLACERISK_SIGNIN_PER_NAME``, 6); each is
        also the burst allowed at once. More are answered 429 without checking the
        password. 0 switches a throttle off.
    heavy_slots, heavy_queue
        Heavy computations (the outcome table of new data or parameters) run at most
        ``heavy_slots`` at once (``PLACERISK_HEAVY_SLOTS``, 2), and at most ``heavy_queue``
        requests wait for one, up to 30 s each (``PLACERISK_HEAVY_QUEUE``, 8); any other
        request that needs one is answered 503 with Retry-After (`api.results`).
    vendor_dir
        The folder of the npm packages (h3-js, leaflet.markercluster, pmtiles, Swagger UI)
        that ``make install`` puts in the repository's ``vendor/`` (``PLACERISK_VENDOR``;
        ``None``: that ``vendor/``). Given to `maps.assets.use_vendor_dir` at start-up.
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
    trusted_proxies: tuple[str, ...] = ()
    signin_per_address: float = DEFAULT_SIGNIN_PER_ADDRESS
    signin_per_name: float = DEFAULT_SIGNIN_PER_NAME
    heavy_slots: int = DEFAULT_HEAVY_SLOTS
    heavy_queue: int = DEFAULT_HEAVY_QUEUE
    vendor_dir: str | None = None

    @classmethod
    def from_env(cls, db: str | None = None) -> Settings:
        """Build settings from the environment, with ``db`` taking precedence."""
        pmtiles = os.environ.get("PLACERISK_PMTILES") or None
        return cls(
            db=db or env_db(),
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
            trusted_proxies=parse_proxies(os.environ.get("PLACERISK_TRUSTED_PROXIES", "")),
            signin_per_address=float(os.environ.get("PLACERISK_SIGNIN_PER_ADDRESS",
                                                    str(DEFAULT_SIGNIN_PER_ADDRESS))),
            signin_per_name=float(os.environ.get("PLACERISK_SIGNIN_PER_NAME",
                                                 str(DEFAULT_SIGNIN_PER_NAME))),
            heavy_slots=int(os.environ.get("PLACERISK_HEAVY_SLOTS", str(DEFAULT_HEAVY_SLOTS))),
            heavy_queue=int(os.environ.get("PLACERISK_HEAVY_QUEUE", str(DEFAULT_HEAVY_QUEUE))),
            vendor_dir=os.environ.get(ENV_VENDOR),
        )

    @property
    def tiles_enabled(self) -> bool:
        """False when the analysts' base map is switched off."""
        return base_map(self.tiles) is not None

    def uses_pmtiles(self) -> bool:
        """Whether any view's base map is the PMTiles file."""
        return PMTILES in (base_map(self.tiles), base_map(self.guardian_tiles))

    @property
    def proxy_headers(self) -> bool:
        """Whether the server believes proxy headers at all (only from `trusted_proxies`)."""
        return bool(self.trusted_proxies)

    @property
    def forwarded_allow_ips(self) -> str:
        """`trusted_proxies` as uvicorn's ``forwarded_allow_ips`` (never its 127.0.0.1 default)."""
        return ",".join(self.trusted_proxies)


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
