"""Place popups that grow with details asked of the app: level history, activities, review.

Served pages only (a standalone file has no API to ask): when a place's popup opens, the
page fetches ``/api/places/{id}`` and appends the answer as DOM text. The place ids travel
as JSON through `maps._overlay.script_json`; features carry only their index into it.
"""

from __future__ import annotations

from collections.abc import Sequence

import folium
from branca.element import MacroElement, Template

from maps._overlay import script_json


class PlaceDetails(MacroElement):
    """Append a place's level history, activities and review date to its open popup."""

    _template = Template("""
{% macro script(this, kwargs) %}
(function () {
  if (location.protocol.indexOf('http') !== 0) { return; }
  var ids = {{ this.ids }};
  function el(tag, text, parent) {
    var node = document.createElement(tag);
    if (text !== undefined) { node.textContent = text; }
    parent.appendChild(node);
    return node;
  }
  {{ this.layer }}.on('popupopen', function (e) {
    var source = e.popup._source;
    if (!source || !source.feature) { return; }
    var id = ids[source.feature.properties.n];
    var content = e.popup.getElement().querySelector('.leaflet-popup-content');
    if (content.querySelector('.placerisk-place-detail')) { return; }
    var box = el('div', undefined, content);
    box.className = 'placerisk-place-detail';
    fetch('/api/places/' + encodeURIComponent(id)).then(function (r) {
      return r.json();
    }).then(function (p) {
      el('div', 'Review due: ' + (p.review_due || 'not set'), box);
      el('div', 'Level history:', box);
      var levels = el('ul', undefined, box);
      (p.levels || []).forEach(function (c) {
        el('li', c.changed_on + ': ' + (c.from_level === null ? 'new' : c.from_level)
           + ' to ' + c.to_level + (c.reason ? ' (' + c.reason + ')' : ''), levels);
      });
      el('div', 'Latest activities:', box);
      var acts = el('ul', undefined, box);
      (p.activities || []).forEach(function (a) {
        el('li', String(a.started_at).slice(0, 10) + ' ' + a.activity_type
           + (a.outcome ? ': ' + a.outcome : ''), acts);
      });
      if (!(p.activities || []).length) { el('li', 'none recorded', acts); }
      // not popup.update(): that would rebuild the content and drop these lines
      e.popup._updateLayout(); e.popup._updatePosition();
    }).catch(function () {});
  });
})();
{% endmacro %}
""")

    def __init__(self, layer: folium.GeoJson, ids: Sequence[str]) -> None:
        super().__init__()
        self._name = "PlaceDetails"
        self.layer = layer.get_name()
        self.ids = script_json([str(i) for i in ids])
