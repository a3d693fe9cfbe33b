"""The base map under every view: a tile server, the app's own PMTiles file, or none.

A tile server learns which areas are looked at, and when: every tile is a request for one
small square of the map. With no base map the views draw their layers over a plain
background; with ``"pmtiles"`` the browser reads raster tiles out of a PMTiles archive that
the app serves itself (`maps.assets.PMTILES_FILE_ROUTE`), so no other host sees a request.
"""

from __future__ import annotations

import folium
from jinja2 import Template

from maps import assets

PMTILES = "pmtiles"
BASE_MAP = "Base map"
MAX_ZOOM = 18  # folium's own default for a tile layer


class PMTilesLayer(folium.map.Layer):
    """A Leaflet raster layer reading its tiles from a PMTiles archive (pmtiles' own plugin).

    The archive's zoom range is read from its header in the browser: past its deepest zoom
    the tiles are magnified rather than missing.
    """

    _template = Template("""
        {% macro script(this, kwargs) %}
            var {{ this.get_name() }} = (function () {
                var source = new pmtiles.PMTiles({{ this.url|tojson }});
                var layer = pmtiles.leafletRasterLayer(source, {{ this.options|tojson }});
                source.getHeader().then(function (header) {
                    layer.options.minNativeZoom = header.minZoom;
                    layer.options.maxNativeZoom = header.maxZoom;
                    layer.redraw();
                });
                return layer;
            })();
            {{ this.get_name() }}.addTo({{ this._parent.get_name() }});
        {% endmacro %}
    """)

    def __init__(self, url: str, *, attribution: str | None = None, name: str = BASE_MAP,
                 max_zoom: int = MAX_ZOOM) -> None:
        super().__init__(name=name, overlay=False, control=True, show=True)
        self._name = "PMTilesLayer"
        self.url = url
        self.options = {"attribution": attribution or "", "maxZoom": max_zoom}


def add_base_map(m: folium.Map, tiles: str | None, *, attribution: str | None = None,
                 max_zoom: int | None = None) -> None:
    """Put the base map ``tiles`` asks for under ``m``'s layers.

    Parameters
    ----------
    m
        The map, before any other layer is added.
    tiles
        A tile URL template (or folium tileset name), ``"pmtiles"`` for the app's PMTiles
        file, or ``None`` for no base map.
    attribution
        Attribution HTML for the tiles (configuration, not imported text: not escaped).
    max_zoom
        The deepest zoom the map allows, when it sets one.
    """
    if not tiles:
        return
    zoom = MAX_ZOOM if max_zoom is None else max_zoom
    if tiles.strip().lower() == PMTILES:
        layer = PMTilesLayer(assets.PMTILES_FILE_ROUTE, attribution=attribution, max_zoom=zoom)
        layer.add_to(m)
        m.pmtiles_layer = layer  # type: ignore[attr-defined]  # maps.assets adds the script
        return
    folium.TileLayer(tiles, attr=attribution, name=BASE_MAP, max_zoom=zoom).add_to(m)


def plain_background(m: folium.Map, colour: str = "#f2f1ec") -> None:
    """A light, plain background for a map without a base map (Leaflet's own is grey)."""
    css = f"#{m.get_name()} {{ background: {colour}; }}"
    m.get_root().header.add_child(  # type: ignore[attr-defined]  # a branca Figure
        folium.Element(f"<style>{css}</style>"))
