"""Leaflet served by placerisk itself: no CDN request from any page.

Council and police networks often block CDNs, and a CDN request would tell a third party
which areas analysts look at. folium's default page pulls jQuery, Bootstrap, Font Awesome and
Leaflet from CDNs; placerisk maps need Leaflet alone, which comes from the PyPI package
``django-js-lib-leaflet`` (Leaflet 1.9.4's own files, installed with placerisk). The app
serves them under `ROUTE`; standalone files carry them inline.
"""

from __future__ import annotations

import base64
import re
from importlib.resources import files
from pathlib import Path

import folium

ROUTE = "/static/vendor/leaflet"
LEAFLET_VERSION = "1.9.4"


def leaflet_dir() -> Path:
    """The folder holding ``leaflet.js``, ``leaflet.css`` and ``images/``."""
    return Path(str(files("js_lib_leaflet") / "static" / "js_lib_leaflet"))


def use_served_assets(m: folium.Map, *, route: str = ROUTE) -> folium.Map:
    """Point the page at Leaflet served by the app under ``route``; drop every CDN asset."""
    m.default_js = [("leaflet", f"{route}/leaflet.js")]
    m.default_css = [("leaflet_css", f"{route}/leaflet.css")]
    return m


def use_inline_assets(m: folium.Map) -> folium.Map:
    """Embed Leaflet in the page itself, for a standalone file that needs no server."""
    folder = leaflet_dir()
    js = (folder / "leaflet.js").read_bytes()
    css = _inline_images((folder / "leaflet.css").read_text(encoding="utf-8"), folder)
    m.default_js = [("leaflet", _data_url("text/javascript", js))]
    m.default_css = [("leaflet_css", _data_url("text/css", css.encode()))]
    return m


def _data_url(mime: str, content: bytes) -> str:
    return f"data:{mime};base64,{base64.b64encode(content).decode()}"


def _inline_images(css: str, folder: Path) -> str:
    """Replace ``url(images/x.png)`` in Leaflet's CSS with data URLs."""

    def repl(match: re.Match[str]) -> str:
        path = folder / match.group(1)
        return f"url({_data_url('image/png', path.read_bytes())})" if path.is_file() else match[0]

    return re.sub(r"url\((images/[^)]+\.png)\)", repl, css)
