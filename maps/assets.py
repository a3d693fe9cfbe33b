"""Leaflet served by placerisk itself: no CDN request from any page.

Council and police networks often block CDNs, and a CDN request would tell a third party
which areas analysts look at. folium's default page pulls jQuery, Bootstrap, Font Awesome and
Leaflet from CDNs; placerisk maps need Leaflet, which comes from the PyPI package
``django-js-lib-leaflet`` (Leaflet 1.9.4's own files, installed with placerisk), and two
optional npm packages that ``make install`` puts in ``vendor/``: h3-js (hexagons drawn in
the browser) and leaflet.markercluster (dense places grouped). The app serves them under
`ROUTE`, `H3JS_ROUTE` and `CLUSTER_ROUTE`; standalone files carry them inline.

A base map from a local PMTiles file needs a third npm package, pmtiles (its Leaflet raster
layer reads the tiles out of the archive with HTTP range requests to the app, at
`PMTILES_FILE_ROUTE`); the app serves the script at `PMTILES_ROUTE`. A standalone file
cannot reach the app's archive: it goes without that base map.
"""

from __future__ import annotations

import base64
import re
from importlib.resources import files
from pathlib import Path

import folium

ROUTE = "/static/vendor/leaflet"
H3JS_ROUTE = "/static/vendor/h3-js"
CLUSTER_ROUTE = "/static/vendor/markercluster"
PMTILES_ROUTE = "/static/vendor/pmtiles"
PMTILES_FILE_ROUTE = "/tiles/base.pmtiles"  # behind sign-in, unlike the scripts
LEAFLET_VERSION = "1.9.4"
# h3-js comes from the npm registry through `make install` (see the Makefile's vendor step);
# other installs name their own folder with PLACERISK_VENDOR, which api reads
# (`api.settings.Settings.vendor_dir`) and hands to `use_vendor_dir` at start-up.
DEFAULT_VENDOR_DIR = Path(__file__).resolve().parents[1] / "vendor"
VENDOR_DIR = DEFAULT_VENDOR_DIR  # where the functions below look; set by `use_vendor_dir`


def use_vendor_dir(folder: str | Path | None) -> None:
    """Look for the vendored npm packages in ``folder`` from now on.

    The folder's one configuration call: api makes it when it starts (``placerisk serve``,
    ``placerisk map``), with `api.settings.Settings.vendor_dir`. ``None`` is
    `DEFAULT_VENDOR_DIR`, the repository's ``vendor/``.
    """
    global VENDOR_DIR
    VENDOR_DIR = DEFAULT_VENDOR_DIR if folder is None else Path(folder)


def h3js_file() -> Path | None:
    """The vendored h3-js bundle, or ``None`` when it has not been installed."""
    path = VENDOR_DIR / "h3-js" / "h3-js.umd.js"
    return path if path.is_file() else None


def markercluster_dir() -> Path | None:
    """The vendored leaflet.markercluster folder, or ``None`` when it has not been installed."""
    folder = VENDOR_DIR / "leaflet.markercluster"
    return folder if (folder / "leaflet.markercluster.js").is_file() else None


def pmtiles_js() -> Path | None:
    """The vendored pmtiles script, or ``None`` when it has not been installed."""
    path = VENDOR_DIR / "pmtiles" / "pmtiles.js"
    return path if path.is_file() else None


def leaflet_dir() -> Path:
    """The folder holding ``leaflet.js``, ``leaflet.css`` and ``images/``."""
    return Path(str(files("js_lib_leaflet") / "static" / "js_lib_leaflet"))


def _needs_h3js(m: folium.Map) -> bool:
    return bool(getattr(m, "needs_h3js", False))


def _needs_cluster(m: folium.Map) -> bool:
    return bool(getattr(m, "needs_cluster", False)) and markercluster_dir() is not None


def _pmtiles_layer(m: folium.Map) -> folium.map.Layer | None:
    return getattr(m, "pmtiles_layer", None)


def use_served_assets(m: folium.Map, *, route: str = ROUTE) -> folium.Map:
    """Point the page at Leaflet (and h3-js, markercluster) served by the app; no CDN."""
    m.default_js = [("leaflet", f"{route}/leaflet.js")]
    m.default_css = [("leaflet_css", f"{route}/leaflet.css")]
    if _needs_h3js(m):
        m.default_js.append(("h3js", f"{H3JS_ROUTE}/h3-js.umd.js"))
    if _needs_cluster(m):
        m.default_js.append(("markercluster", f"{CLUSTER_ROUTE}/leaflet.markercluster.js"))
        m.default_css.append(("markercluster_css", f"{CLUSTER_ROUTE}/MarkerCluster.css"))
    if _pmtiles_layer(m) is not None:
        m.default_js.append(("pmtiles", f"{PMTILES_ROUTE}/pmtiles.js"))
    return m


def use_inline_assets(m: folium.Map) -> folium.Map:
    """Embed Leaflet in the page itself, for a standalone file that needs no server.

    A base map from the app's PMTiles file is left out: the file has no app to read it from.
    """
    layer = _pmtiles_layer(m)
    if layer is not None:
        m._children.pop(layer.get_name(), None)
        m.pmtiles_layer = None  # type: ignore[attr-defined]
    folder = leaflet_dir()
    js = (folder / "leaflet.js").read_bytes()
    css = _inline_images((folder / "leaflet.css").read_text(encoding="utf-8"), folder)
    m.default_js = [("leaflet", _data_url("text/javascript", js))]
    h3js = h3js_file()
    if _needs_h3js(m) and h3js is not None:
        m.default_js.append(("h3js", _data_url("text/javascript", h3js.read_bytes())))
    m.default_css = [("leaflet_css", _data_url("text/css", css.encode()))]
    cluster = markercluster_dir()
    if _needs_cluster(m) and cluster is not None:
        m.default_js.append(("markercluster", _data_url(
            "text/javascript", (cluster / "leaflet.markercluster.js").read_bytes())))
        m.default_css.append(("markercluster_css", _data_url(
            "text/css", (cluster / "MarkerCluster.css").read_bytes())))
    return m


def _data_url(mime: str, content: bytes) -> str:
    return f"data:{mime};base64,{base64.b64encode(content).decode()}"


def _inline_images(css: str, folder: Path) -> str:
    """Replace ``url(images/x.png)`` in Leaflet's CSS with data URLs."""

    def repl(match: re.Match[str]) -> str:
        path = folder / match.group(1)
        return f"url({_data_url('image/png', path.read_bytes())})" if path.is_file() else match[0]

    return re.sub(r"url\((images/[^)]+\.png)\)", repl, css)
