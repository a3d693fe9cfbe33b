"""The JAG map's filters: a panel to set them and a layer of the concern reports they match.

The panel is a plain HTML form (``GET``, so a filtered map is a link an analyst can share
with a colleague); a standalone file cannot ask the app again, so there the panel only
states the filter it was made with. Every value shown is escaped: authority names come
from imported boundary files.
"""

from __future__ import annotations

from collections.abc import Mapping

import folium
import pandas as pd

from geo import h3index
from layers.records.filters import MapFilter
from layers.records.places import CATEGORIES, EXPLOITATION_TYPES
from maps import style
from maps._overlay import BOX
from maps.overlays import _collection

REPORT_LAYER = "Concern reports (filtered)"
REPORT_STYLE = {"weight": 0.5, "color": "#08306b", "fillOpacity": 0.6, "opacity": 0.8}
SCORE_CAVEAT = ("Hot spot scores come from the scoring run over all types and dates; the "
                "filters narrow places, activities, crime and the filtered reports layer.")


def _report_style(feature: dict) -> dict:
    return {**REPORT_STYLE, "fillColor": feature["properties"]["colour"]}


def report_summary(independent: int, patrol: int) -> str:
    """A cell's tooltip: independent reports, with patrol-discovered ones apart.

    Examples
    --------
    >>> report_summary(3, 1)
    '3 independent reports; 1 patrol-discovered (kept apart, see the bias guardrail)'
    """
    noun = "report" if independent == 1 else "reports"
    text = f"{int(independent)} independent {noun}"
    if patrol:
        text += f"; {int(patrol)} patrol-discovered (kept apart, see the bias guardrail)"
    return text


def report_layer(reports: pd.DataFrame, *, name: str = REPORT_LAYER,
                 show: bool = True) -> folium.FeatureGroup:
    """Concern reports matching the filter, counted per H3 cell (one GeoJson of hexagons).

    Parameters
    ----------
    reports
        Columns ``h3_cell``, ``independent``, ``patrol`` (`layers.records.read.report_cells`).
        Shaded by the independent count; patrol-discovered reports only in the tooltip.
    """
    group = folium.FeatureGroup(name=name, show=show)
    if reports.empty:
        return group
    polygons = h3index.cells_to_polygons(
        h3index.str_to_cells(reports["h3_cell"].to_numpy(dtype=object)))
    independent = reports["independent"].to_numpy(dtype=float)
    props = {
        "tip": [report_summary(int(i), int(p))
                    for i, p in zip(independent, reports["patrol"], strict=True)],
        "colour": style.count_colours(independent, style.REPORT_RAMP).tolist(),
    }
    folium.GeoJson(_collection(polygons, props), style_function=_report_style,
                   tooltip=folium.GeoJsonTooltip(["tip"], labels=False)).add_to(group)
    return group


def _options(name: str, label: str, choices: Mapping[str, str], chosen: str | None) -> str:
    rows = [f'<option value=""{"" if chosen else " selected"}>any</option>']
    for value, text in choices.items():
        mark = " selected" if value == chosen else ""
        rows.append(f'<option value="{style.escape(value)}"{mark}>{style.escape(text)}'
                    "</option>")
    return (f'<label>{label} <select name="{name}">' + "".join(rows) + "</select></label>")


def _form(f: MapFilter, authorities: Mapping[str, str]) -> str:
    def day(name: str, value: object) -> str:
        shown = f' value="{value}"' if value else ""
        return f'<input type="date" name="{name}"{shown}>'

    types = {t: t.upper().replace("_", " ") for t in EXPLOITATION_TYPES}
    categories = {c: c.replace("_", " ") for c in CATEGORIES}
    fields = [
        f"<label>From {day('from', f.date_from)}</label>",
        f"<label>To {day('to', f.date_to)}</label>",
        _options("type", "Exploitation type", types, f.exploitation_type),
        _options("category", "Place category", categories, f.place_category),
        _options("authority", "Authority", dict(authorities), f.authority_code),
    ]
    return ('<form method="get" class="placerisk-filter-form" '
            'style="display:grid; gap:4px; margin-top:4px;">' + "".join(fields)
            + '<div><button type="submit">Apply</button> <a href="?">Clear</a></div></form>')


def filter_panel_html(f: MapFilter, *, authorities: Mapping[str, str],
                      interactive: bool = True) -> str:
    """The filter box of the JAG map, escaped.

    Parameters
    ----------
    f
        The filter the map was drawn with.
    authorities
        ``{authority code: name}`` to choose from (imported text: escaped here).
    interactive
        A form that reloads the map (served pages); ``False``: the filter in words only.
    """
    described = f.describe(authorities)
    state = (f"Filtered: {style.escape(described)}" if f.active
             else "No filter: everything held")
    body = f'<div class="placerisk-filter-state">{state}</div>'
    if interactive:
        body += _form(f, authorities)
    body += f'<div style="max-width:240px; color:#555;">{style.escape(SCORE_CAVEAT)}</div>'
    opened = " open" if f.active else ""
    return (f'<details class="placerisk-filters"{opened} style="{BOX} top: 120px; left: 10px;">'
            f"<summary>Filters</summary>{body}</details>")
