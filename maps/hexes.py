"""H3 cells drawn in the browser with h3-js: send cell ids and values, not polygons.

Fifty thousand hexagons as a GeoJSON layer make tens of megabytes of HTML; their ids, a
rounded score and a few small indexes make about a megabyte, and h3-js draws the hexagons on
a canvas. One payload feeds both cell layers (by score and by hot spot category). Tooltips
are built as DOM text (``textContent``), and the payload's ``<`` is escaped, so no imported
text (ward codes come from boundary files) can become markup or close the script.

Needs the vendored h3-js (`maps.assets.h3js_file`); `maps.view.build_map` falls back to
GeoJSON layers when it is missing.
"""

from __future__ import annotations

import json
from typing import Any

import folium
import numpy as np
import pandas as pd
from branca.element import MacroElement, Template

from maps import style
from maps._overlay import script_json
from maps.overlays import CATEGORY_LAYER, CELL_STYLE, NO_LABEL


class HexCells(MacroElement):
    """Fill two feature groups with hexagons drawn by h3-js from one compact payload."""

    _template = Template("""
{% macro script(this, kwargs) %}
(function () {
  var d = {{ this.payload }};
  var groups = [{{ this.score_group }}, {{ this.category_group }}];
  var style = {{ this.style }};
  var renderer = L.canvas({padding: 0.5});
  var served = location.protocol.indexOf('http') === 0;
  var map = {{ this._parent.get_name() }};
  function el(tag, text, parent) {
    var node = document.createElement(tag);
    if (text !== undefined) { node.textContent = text; }
    if (parent) { parent.appendChild(node); }
    return node;
  }
  function chart(values, parent) {
    var ns = 'http://www.w3.org/2000/svg', w = 240, h = 50;
    var svg = document.createElementNS(ns, 'svg');
    svg.setAttribute('width', w); svg.setAttribute('height', h);
    svg.setAttribute('class', 'placerisk-trend');
    var max = Math.max.apply(null, values.concat([1e-9]));
    var pts = values.map(function (v, k) {
      return (4 + k * (w - 8) / Math.max(values.length - 1, 1)).toFixed(1) + ','
        + (h - 4 - v / max * (h - 8)).toFixed(1);
    }).join(' ');
    var line = document.createElementNS(ns, 'polyline');
    line.setAttribute('points', pts); line.setAttribute('fill', 'none');
    line.setAttribute('stroke', '#bd0026'); line.setAttribute('stroke-width', '1.5');
    svg.appendChild(line); parent.appendChild(svg);
  }
  function explainCell(cell) {
    // Served pages only: ask the app for the cell's series, explanation and activities.
    return function (e) {
      var box = el('div'); box.className = 'placerisk-cell-popup';
      el('b', 'H3 cell ' + cell, box);
      var popup = L.popup({maxWidth: 320}).setLatLng(e.latlng).setContent(box).openOn(map);
      var get = function (url) { return fetch(url).then(function (r) { return r.json(); }); };
      Promise.all([get('/api/cells/' + cell), get('/api/explain/cell/' + cell + '?top=5'),
                   get('/api/activities?limit=3&h3_cell=' + cell)]).then(function (all) {
        var c = all[0], x = all[1], acts = all[2];
        el('div', 'Score ' + Number(c.current).toFixed(1) + ' | ' + c.category
           + ' | pattern ' + (c.label || 'none'), box);
        chart(c.steps.map(function (s) { return s.value; }), box);
        el('div', 'Top contributors (patrol share ' + Math.round(100 * x.patrol_share)
           + '%):', box);
        var list = el('ul', undefined, box);
        x.top.forEach(function (r) {
          el('li', r.kind + ' ' + r.record + ': ' + r.contribution.toFixed(2), list);
        });
        el('div', 'Recent activities:', box);
        var alist = el('ul', undefined, box);
        (acts.data || []).forEach(function (a) {
          el('li', String(a.started_at).slice(0, 10) + ' ' + a.activity_type
             + (a.outcome ? ': ' + a.outcome : ''), alist);
        });
        if (!(acts.data || []).length) { el('li', 'none recorded here', alist); }
        popup.update();
      }).catch(function () { el('div', 'details need the app (placerisk serve)', box); });
    };
  }
  for (var i = 0; i < d.cells.length; i++) {
    var ring = h3.cellToBoundary(d.cells[i]);
    var text = 'H3 cell ' + d.cells[i] + ' | score ' + d.score[i] + ' | '
      + d.categories[d.category[i]] + ' | pattern ' + d.labels[d.label[i]]
      + ' | ward ' + d.wards[d.ward[i]];
    for (var g = 0; g < 2; g++) {
      var colour = d.palettes[g][d.colour[g][i]];
      if (colour === null) continue;
      var tip = document.createElement('div');
      tip.textContent = text;
      var shape = L.polygon(ring, Object.assign({renderer: renderer, color: colour,
                                                 fillColor: colour}, style));
      shape.bindTooltip(tip).addTo(groups[g]);
      if (served) { shape.on('click', explainCell(d.cells[i])); }
    }
  }
  if (!d.states || !d.states.length) return;
  // The time slider: significant hot (red) and cold (blue) cells at the chosen step.
  var steps = {{ this.steps_group }};
  var shapes = d.states.map(function (s) {
    return L.polygon(h3.cellToBoundary(s[0]), {renderer: renderer, weight: 0.5})
      .addTo(steps);
  });
  function paint(t) {
    shapes.forEach(function (shape, k) {
      var s = d.states[k][1].charAt(t);
      var colour = s === 'h' ? '#d7301f' : (s === 'c' ? '#2166ac' : '#000000');
      var on = s === 'h' || s === 'c';
      shape.setStyle({color: colour, fillColor: colour, fillOpacity: on ? 0.6 : 0,
                      opacity: on ? 0.9 : 0});
    });
  }
  var Slider = L.Control.extend({
    options: {position: 'bottomleft'},
    onAdd: function () {
      var box = L.DomUtil.create('div', 'leaflet-bar placerisk-slider');
      box.style.background = 'white'; box.style.padding = '4px 8px';
      var label = L.DomUtil.create('div', 'placerisk-slider-label', box);
      var input = L.DomUtil.create('input', '', box);
      input.type = 'range'; input.min = 0; input.max = d.steps.length - 1;
      input.value = d.steps.length - 1; input.style.width = '260px';
      input.setAttribute('aria-label', 'Step shown by the hot and cold spot layer');
      L.DomEvent.disableClickPropagation(box);
      function show() {
        var t = parseInt(input.value, 10);
        label.textContent = 'Hot (red) and cold (blue) spots, step of ' + d.steps[t];
        paint(t);
      }
      L.DomEvent.on(input, 'input', function () {
        if (!map.hasLayer(steps)) { map.addLayer(steps); }
        show();
      });
      show();
      return box;
    }
  });
  map.addControl(new Slider());
})();
{% endmacro %}
""")

    def __init__(self, cells: pd.DataFrame, score_group: folium.FeatureGroup,
                 category_group: folium.FeatureGroup, steps_group: folium.FeatureGroup, *,
                 vmax: float | None = None, states: pd.DataFrame | None = None,
                 step_labels: list[str] | None = None) -> None:
        super().__init__()
        self._name = "HexCells"
        self.score_group = score_group.get_name()
        self.category_group = category_group.get_name()
        self.steps_group = steps_group.get_name()
        self.style = json.dumps({k: v for k, v in CELL_STYLE.items()})
        self.payload = payload_json(cells, vmax=vmax, states=states, step_labels=step_labels)


def _indexed(values: pd.Series | list[Any]) -> tuple[list[Any], list[int]]:
    codes, uniques = pd.factorize(pd.Series(list(values), dtype=object), use_na_sentinel=False)
    return [None if pd.isna(u) else u for u in uniques], codes.tolist()


def payload_json(cells: pd.DataFrame, *, vmax: float | None = None,
                 states: pd.DataFrame | None = None, step_labels: list[str] | None = None
                 ) -> str:
    """The cells as compact JSON: ids, rounded scores and indexes into small tables.

    With ``states`` (`layers.hotspots.read.cell_states`: ``h3_cell``, ``states``) and the step
    labels, it also carries each ever-significant cell's hot/cold state per step for the
    time slider: one character per step.
    """
    scores = cells["score"].to_numpy(dtype=float)
    score_palette, score_colour = _indexed(style.score_colours(scores, vmax=vmax).tolist())
    category_palette, category_colour = _indexed(
        [style.category_colour(c) for c in cells["category"]])
    categories, category = _indexed(cells["category"].astype(str))
    labels_in = cells["label"] if "label" in cells else pd.Series([""] * len(cells))
    labels, label = _indexed([v if isinstance(v, str) and v else NO_LABEL for v in labels_in])
    wards, ward = _indexed(cells["ward_code"].fillna("-").astype(str))
    payload = {
        "cells": cells["h3_cell"].astype(str).tolist(),
        "score": np.round(scores, 1).tolist(),
        "categories": categories, "category": category, "labels": labels, "label": label,
        "wards": wards, "ward": ward,
        "palettes": [score_palette, category_palette],
        "colour": [score_colour, category_colour],
    }
    if states is not None and len(states) and step_labels:
        payload["states"] = [[c, s] for c, s in zip(states["h3_cell"], states["states"],
                                                    strict=True)]
        payload["steps"] = list(step_labels)
    return script_json(payload)


STEPS_LAYER = "Hot and cold spots by step"


def hex_layers(cells: pd.DataFrame, *, vmax: float | None = None,
               states: pd.DataFrame | None = None, step_labels: list[str] | None = None,
               show_scores: bool = True) -> tuple[list[folium.FeatureGroup], HexCells | None]:
    """The cell groups (for the layer control) and the element that fills them.

    The groups: scores, categories and, with ``states``, the time slider's layer. Add them to
    the map first, then the element, so its script runs after them. ``show_scores``: whether
    the scores are on when the map opens.
    """
    groups = [folium.FeatureGroup(name="Cell scores", show=show_scores),
              folium.FeatureGroup(name=CATEGORY_LAYER, show=False),
              folium.FeatureGroup(name=STEPS_LAYER, show=False)]
    if states is None or not len(states):
        groups = groups[:2]
    filler = (HexCells(cells, groups[0], groups[1], groups[-1], vmax=vmax, states=states,
                       step_labels=step_labels) if len(cells) else None)
    return groups, filler
