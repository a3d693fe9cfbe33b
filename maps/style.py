"""Colours of the map: MACE levels, the cell score ramp and hot spot categories.

Level 1 (no concern, often a protective place) is green; 2 yellow; 3 orange; 4 red. Scores
use a five-step yellow-orange-red ramp (ColorBrewer YlOrRd) in equal steps from 0 to the
highest score shown, so the darkest cells are the hottest of the current map.

Emerging hot spot categories: hot spots in reds and oranges, darkest for the ones most
pressing now (intensifying, persistent, consecutive, new), paler for the ones on and off or
waning (diminishing, sporadic, oscillating, historical); cold spots mirror them in blues
(ColorBrewer Reds/Oranges and Blues). "No pattern" cells are not drawn.
"""

from __future__ import annotations

import html

import numpy as np

from layers.hotspots import emerging

LEVEL_COLOURS = {
    1: "#1a9641",  # no concern: protective or neutral place
    2: "#f4d03f",  # low concern
    3: "#fd8d3c",  # some concern
    4: "#d7191c",  # high concern
}
SCORE_RAMP = ("#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026")
ZERO_SCORE_COLOUR = "#bdbdbd"  # reports in the cell, none of them weighted


RANK_RAMP = ("#dadaeb", "#b4b4d6", "#8c8cc0", "#6464a6", "#3f3f8f")  # lowest to top rank
ACTIVITY_COLOURS = {
    "licensing_visit": "#1b9e77",
    "premises_closure": "#d95f02",
    "empty_property_secured": "#7570b3",
    "street_patrol": "#e7298a",
    "housing_provider_visit": "#66a61e",
    "other": "#666666",
}
REPORT_RAMP = ("#deebf7", "#9ecae1", "#6baed6", "#3182bd", "#08519c")  # filtered reports
INCIDENT_RAMP = ("#e6e3ea", "#c9c1d3", "#a89bbb", "#8574a0", "#5f4d7e")


def level_colour(level: int) -> str:
    """Return the colour of a MACE level (1-4).

    Examples
    --------
    >>> level_colour(4)
    '#d7191c'
    """
    if isinstance(level, bool) or not isinstance(level, int | np.integer) \
            or int(level) not in LEVEL_COLOURS:
        msg = f"MACE level must be 1, 2, 3 or 4, got {level!r}"
        raise ValueError(msg)
    return LEVEL_COLOURS[int(level)]


def score_breaks(vmax: float, *, steps: int = len(SCORE_RAMP)) -> np.ndarray:
    """Upper bounds of the equal score steps from 0 to ``vmax``.

    Examples
    --------
    >>> score_breaks(10.0).tolist()
    [2.0, 4.0, 6.0, 8.0, 10.0]
    """
    top = float(vmax) if vmax and vmax > 0 else 1.0
    return np.linspace(top / steps, top, steps)


def score_colours(scores: np.ndarray, *, vmax: float | None = None) -> np.ndarray:
    """Colour each score on `SCORE_RAMP`, vectorised; zero scores get `ZERO_SCORE_COLOUR`.

    Parameters
    ----------
    scores
        Cell scores (non-negative).
    vmax
        The score given the darkest colour; defaults to the highest of ``scores``.

    Examples
    --------
    >>> score_colours(np.array([0.0, 1.0, 10.0])).tolist()
    ['#bdbdbd', '#ffffb2', '#bd0026']
    """
    scores = np.asarray(scores, dtype=float)
    if vmax is None:
        vmax = float(np.nanmax(scores)) if len(scores) else 1.0
    breaks = score_breaks(vmax)
    step = np.searchsorted(breaks, scores, side="left").clip(0, len(SCORE_RAMP) - 1)
    colours = np.asarray(SCORE_RAMP, dtype=object)[step]
    colours[~(scores > 0)] = ZERO_SCORE_COLOUR
    return colours


CATEGORY_COLOURS = {
    emerging.INTENSIFYING_HOT: "#67000d",
    emerging.PERSISTENT_HOT: "#a50f15",
    emerging.CONSECUTIVE_HOT: "#cb181d",
    emerging.NEW_HOT: "#ef3b2c",
    emerging.DIMINISHING_HOT: "#f16913",
    emerging.SPORADIC_HOT: "#fd8d3c",
    emerging.OSCILLATING_HOT: "#fdae6b",
    emerging.HISTORICAL_HOT: "#fdd0a2",
    emerging.INTENSIFYING_COLD: "#08306b",
    emerging.PERSISTENT_COLD: "#08519c",
    emerging.CONSECUTIVE_COLD: "#2171b5",
    emerging.NEW_COLD: "#4292c6",
    emerging.DIMINISHING_COLD: "#6baed6",
    emerging.SPORADIC_COLD: "#9ecae1",
    emerging.OSCILLATING_COLD: "#c6dbef",
    emerging.HISTORICAL_COLD: "#deebf7",
}


def category_colour(category: str) -> str | None:
    """Return the colour of an emerging hot spot category; ``None`` for "no pattern".

    Examples
    --------
    >>> category_colour("persistent hot spot"), category_colour("no pattern")
    ('#a50f15', None)
    """
    if category == emerging.NO_PATTERN:
        return None
    if category not in CATEGORY_COLOURS:
        msg = (f"unknown hot spot category {category!r}; expected one of "
               f"{', '.join(CATEGORY_COLOURS)} or 'no pattern'")
        raise ValueError(msg)
    return CATEGORY_COLOURS[category]


_NOT_TEMPLATE = str.maketrans({"{": "&#123;", "}": "&#125;", "`": "&#96;"})


def escape(value: object) -> str:
    """Escape imported text for the map; missing values become ``""``.

    Besides ``html.escape``, braces and backticks become character references: folium
    renders every element's output through Jinja a second time, so text holding ``{{ }}``
    would otherwise be evaluated as a template on the server.

    Examples
    --------
    >>> escape("<b>Fish & Chips</b>")
    '&lt;b&gt;Fish &amp; Chips&lt;/b&gt;'
    >>> escape("{{ 6*7 }}")
    '&#123;&#123; 6*7 &#125;&#125;'
    >>> escape(None)
    ''
    """
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    return html.escape(str(value), quote=True).translate(_NOT_TEMPLATE)


def rank_colours(ranks: np.ndarray, *, of: int) -> np.ndarray:
    """Colour ward ranks (1 = highest score) on `RANK_RAMP`, darkest for the top ranks.

    Examples
    --------
    >>> rank_colours(np.array([1, 3, 5]), of=5).tolist()
    ['#3f3f8f', '#8c8cc0', '#dadaeb']
    """
    ranks = np.asarray(ranks, dtype=float)
    steps = len(RANK_RAMP)
    # share of wards ranked at or below this one: 1 for the top rank
    share = (max(of, 1) - ranks + 1) / max(of, 1)
    step = np.ceil(share * steps).astype(int).clip(1, steps) - 1
    return np.asarray(RANK_RAMP, dtype=object)[step]


def activity_colour(activity_type: str) -> str:
    """Return the colour of an activity type; types not in `ACTIVITY_COLOURS` are "other".

    Examples
    --------
    >>> activity_colour("street_patrol"), activity_colour("unheard_of")
    ('#e7298a', '#666666')
    """
    return ACTIVITY_COLOURS.get(activity_type, ACTIVITY_COLOURS["other"])


def count_colours(counts: np.ndarray, ramp: tuple[str, ...], *,
                  vmax: float | None = None) -> np.ndarray:
    """Colour counts on ``ramp`` in equal steps from 0 to ``vmax`` (default the largest)."""
    counts = np.asarray(counts, dtype=float)
    if vmax is None:
        vmax = float(np.nanmax(counts)) if counts.size else 1.0
    breaks = score_breaks(vmax, steps=len(ramp))
    step = np.searchsorted(breaks, counts, side="left").clip(0, len(ramp) - 1)
    return np.asarray(ramp, dtype=object)[step]


def incident_colours(counts: np.ndarray, *, vmax: float | None = None) -> np.ndarray:
    """Colour crime counts on `INCIDENT_RAMP` in equal steps from 0 to ``vmax``.

    Examples
    --------
    >>> incident_colours(np.array([1, 5, 10])).tolist()
    ['#e6e3ea', '#a89bbb', '#5f4d7e']
    """
    return count_colours(counts, INCIDENT_RAMP, vmax=vmax)
