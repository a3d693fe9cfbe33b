"""Dense places grouped into clusters (leaflet.markercluster), coloured by their worst level.

Three hundred places in one town centre make an unreadable pile of dots at the zoom a JAG
meeting opens on. `ClusterPoints` moves the circle markers of one GeoJson layer into a
``L.markerClusterGroup``: each cluster shows how many places it holds and takes the colour
of the highest MACE level among them, so a cluster hiding a level-4 place is never mistaken
for a quiet one. From `DISABLE_AT_ZOOM` (street level, where search takes the map) every
place is drawn on its own.

The markers keep their popups and tooltips (re-bound to each marker, as the GeoJson bound
them) and stay members of the GeoJson, so handlers on it, such as `maps.details`, still
hear their events. Without the vendored library (`maps.assets.markercluster_dir`) the
script does nothing and the places stay as plain markers.
"""

from __future__ import annotations

import folium
from branca.element import MacroElement, Template

from layers.records.places import LEVELS
from maps import style
from maps._overlay import script_json

DISABLE_AT_ZOOM = 16
MAX_CLUSTER_RADIUS = 40  # pixels


class ClusterPoints(MacroElement):
    """Move the markers of ``layer`` (a GeoJson in ``group``) into a marker cluster group."""

    _template = Template("""
{% macro script(this, kwargs) %}
(function () {
  if (typeof L.markerClusterGroup !== 'function') { return; }
  var group = {{ this.group }}, layer = {{ this.layer }};
  var colours = {{ this.colours }};
  var cluster = L.markerClusterGroup({
    maxClusterRadius: {{ this.radius }}, disableClusteringAtZoom: {{ this.disable_at }},
    showCoverageOnHover: false, spiderfyOnMaxZoom: false,
    iconCreateFunction: function (c) {
      var worst = 0;
      c.getAllChildMarkers().forEach(function (m) {
        var level = m.feature && m.feature.properties.level;
        if (level > worst) { worst = level; }
      });
      var n = c.getChildCount(), size = n < 10 ? 26 : (n < 100 ? 32 : 38);
      var div = document.createElement('div');
      div.className = 'placerisk-cluster-count';
      div.textContent = String(n);
      div.title = n + ' places; highest MACE level ' + worst;
      div.style.cssText = 'width:' + size + 'px;height:' + size + 'px;line-height:' + size
        + 'px;border-radius:50%;text-align:center;font:bold 12px sans-serif;color:#fff;'
        + 'border:2px solid #222;opacity:0.9;background:' + (colours[worst] || '#777');
      return L.divIcon({html: div, className: 'placerisk-cluster level-' + worst,
                        iconSize: L.point(size, size)});
    }
  });
  var popup = layer.getPopup(), tooltip = layer.getTooltip();
  layer.eachLayer(function (marker) {
    if (popup) { marker.bindPopup(popup.getContent(), popup.options); }
    if (tooltip) { marker.bindTooltip(tooltip.getContent(), tooltip.options); }
  });
  if (popup) { layer.unbindPopup(); }
  if (tooltip) { layer.unbindTooltip(); }
  group.removeLayer(layer);
  cluster.addLayer(layer);
  group.addLayer(cluster);
  window.placeriskClusters = (window.placeriskClusters || []).concat([cluster]);
})();
{% endmacro %}
""")

    def __init__(self, group: folium.FeatureGroup, layer: folium.GeoJson) -> None:
        super().__init__()
        self._name = "ClusterPoints"
        self.group = group.get_name()
        self.layer = layer.get_name()
        self.colours = script_json({str(lv): style.level_colour(lv) for lv in LEVELS})
        self.radius = MAX_CLUSTER_RADIUS
        self.disable_at = DISABLE_AT_ZOOM
