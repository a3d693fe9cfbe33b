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
from maps.layers import CATEGORY_LAYER, CELL_STYLE, NO_LABEL


class HexCells(MacroElement):
    """Fill two feature groups with hexagons drawn by h3-js from one compact payload."""

    _template = Template("""
{% macro script(this, kwargs) %}
(function () {
  var d = {{ this.payload }};
  var groups = [{{ this.score_group }}, {{ this.category_group }}];
  var style = {{ this.style }};
  var renderer = L.canvas({padding: 0.5});
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
      L.polygon(ring, Object.assign({renderer: renderer, color: colour, fillColor: colour},
                                    style)).bindTooltip(tip).addTo(groups[g]);
    }
  }
})();
{% endmacro %}
""")

    def __init__(self, cells: pd.DataFrame, score_group: folium.FeatureGroup,
                 category_group: folium.FeatureGroup, *, vmax: float | None = None) -> None:
        super().__init__()
        self._name = "HexCells"
        self.score_group = score_group.get_name()
        self.category_group = category_group.get_name()
        self.style = json.dumps({k: v for k, v in CELL_STYLE.items()})
        self.payload = payload_json(cells, vmax=vmax)


def _indexed(values: pd.Series | list[Any]) -> tuple[list[Any], list[int]]:
    codes, uniques = pd.factorize(pd.Series(list(values), dtype=object), use_na_sentinel=False)
    return [None if pd.isna(u) else u for u in uniques], codes.tolist()


def payload_json(cells: pd.DataFrame, *, vmax: float | None = None) -> str:
    """The cells as compact JSON: ids, rounded scores and indexes into small tables."""
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
    return script_json(payload)


def hex_layers(cells: pd.DataFrame, *, vmax: float | None = None
               ) -> tuple[folium.FeatureGroup, folium.FeatureGroup, HexCells | None]:
    """The score and category groups (for the layer control) and the element that fills them.

    Add the two groups to the map first, then the element, so its script runs after them.
    """
    scores = folium.FeatureGroup(name="Cell scores")
    categories = folium.FeatureGroup(name=CATEGORY_LAYER, show=False)
    filler = HexCells(cells, scores, categories, vmax=vmax) if len(cells) else None
    return scores, categories, filler
