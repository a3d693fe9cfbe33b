"""A search box on the map: places and wards from the page itself, postcodes from the app.

The index travels with the page as JSON (``<`` escaped so it cannot close the script) and
results are shown as DOM text (``textContent``), so imported names cannot become markup.
When the page is served by the app, a query that looks like a postcode also asks
``/api/search``; a standalone file searches its own index only.
"""

from __future__ import annotations

import folium
import geopandas as gpd
import pandas as pd
from branca.element import MacroElement, Template

from maps._overlay import script_json

MAX_RESULTS = 8


def search_index(places: pd.DataFrame, areas: gpd.GeoDataFrame) -> list[dict]:
    """Entries ``{t: text, k: kind, c: [lat, lng]}`` (wards also ``b``: their bounds)."""
    entries: list[dict] = []
    located = places[places["lat"].notna() & places["lng"].notna()] if len(places) else places
    for row in located.itertuples():
        entries.append({"t": str(row.name), "k": "place",
                        "c": [round(float(row.lat), 6), round(float(row.lng), 6)]})
    for row in areas.itertuples():
        if row.geometry is None:
            continue
        w, s, e, n = row.geometry.bounds
        entries.append({"t": f"{row.name} ({row.code})", "k": "ward",
                        "c": [round((s + n) / 2, 6), round((w + e) / 2, 6)],
                        "b": [[round(s, 6), round(w, 6)], [round(n, 6), round(e, 6)]]})
    return entries


class SearchControl(MacroElement):
    """A Leaflet control: type a place name, ward name or code, or a postcode."""

    _template = Template("""
{% macro script(this, kwargs) %}
(function () {
  var map = {{ this._parent.get_name() }};
  var index = {{ this.index }};
  var Search = L.Control.extend({
    options: {position: 'topleft'},
    onAdd: function () {
      var box = L.DomUtil.create('div', 'leaflet-bar placerisk-search');
      box.style.background = 'white'; box.style.padding = '4px';
      var input = L.DomUtil.create('input', '', box);
      input.type = 'search'; input.placeholder = 'Search place, ward or postcode';
      input.setAttribute('aria-label', 'Search place, ward or postcode');
      input.style.width = '220px';
      var list = L.DomUtil.create('ul', 'placerisk-search-results', box);
      list.style.listStyle = 'none'; list.style.margin = '0'; list.style.padding = '0';
      L.DomEvent.disableClickPropagation(box);
      function go(item) {
        if (item.b) { map.fitBounds(item.b); } else { map.setView(item.c, 17); }
      }
      function show(items) {
        list.textContent = '';
        items.slice(0, {{ this.max_results }}).forEach(function (item) {
          var li = L.DomUtil.create('li', '', list);
          li.textContent = item.t + ' (' + item.k + ')';
          li.style.cursor = 'pointer'; li.style.padding = '2px 4px';
          L.DomEvent.on(li, 'click', function () { go(item); });
        });
      }
      L.DomEvent.on(input, 'input', function () {
        var q = input.value.trim().toLowerCase();
        if (q.length < 2) { show([]); return; }
        var found = index.filter(function (e) { return e.t.toLowerCase().indexOf(q) >= 0; });
        show(found);
        if (/^[a-z]{1,2}[0-9]/.test(q) && location.protocol.indexOf('http') === 0) {
          fetch('/api/search?q=' + encodeURIComponent(q)).then(function (r) {
            return r.ok ? r.json() : {data: []};
          }).then(function (body) {
            if (input.value.trim().toLowerCase() === q) { show(found.concat(body.data)); }
          }).catch(function () {});
        }
      });
      return box;
    }
  });
  map.addControl(new Search());
})();
{% endmacro %}
""")

    def __init__(self, entries: list[dict]) -> None:
        super().__init__()
        self._name = "SearchControl"
        self.index = script_json(entries)
        self.max_results = MAX_RESULTS


def add_search(m: folium.Map, places: pd.DataFrame, areas: gpd.GeoDataFrame) -> None:
    """Put the search box on ``m``."""
    SearchControl(search_index(places, areas)).add_to(m)
