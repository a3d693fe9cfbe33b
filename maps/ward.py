"""The ward profile page: a ward's map, trend, top places, hot cells and activities.

A plain HTML page (no template engine, every imported text escaped) with the ward's folium
map in an iframe: ``map_src`` for the served page, or ``map_html`` (the standalone map)
embedded through ``srcdoc`` for a file that needs no server.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

import pandas as pd

from layers.hotspots.emerging import CATEGORIES, NO_PATTERN
from layers.records.places import LEVELS
from maps.charts import sparkline_svg
from maps.style import escape

_STYLE = (
    "body{font:14px/1.4 system-ui,sans-serif;margin:0 auto;max-width:1100px;padding:12px}"
    "table{border-collapse:collapse;margin:6px 0 18px}td,th{border:1px solid #ccc;"
    "padding:3px 8px;text-align:left}th{background:#f3f3f3}iframe{width:100%;height:460px;"
    "border:1px solid #999}.figures span{display:inline-block;margin-right:18px}"
    ".notice{background:#fff3cd;padding:6px 10px;border:1px solid #e0c36a}"
)


def _table(headers: Sequence[str], rows: list[list[Any]], empty: str) -> str:
    if not rows:
        return f"<p>{escape(empty)}</p>"
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{escape(v)}</td>" for v in row) + "</tr>"
                   for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _places(places: pd.DataFrame, top: int) -> list[list[Any]]:
    if places.empty:
        return []
    ordered = places.sort_values(["mace_level", "name"], ascending=[False, True]).head(top)
    return [[r.name, r.category, f"{int(r.mace_level)} {LEVELS[int(r.mace_level)]}",
             r.review_due or ""] for r in ordered.itertuples()]


def _cells(cells: pd.DataFrame) -> list[list[Any]]:
    hot = cells[cells["category"] != NO_PATTERN] if len(cells) else cells
    if hot.empty:
        return []
    order = {c: i for i, c in enumerate(CATEGORIES)}
    ranked = hot.assign(o=hot["category"].map(order)).sort_values(["o", "score"],
                                                                  ascending=[True, False])
    return [[r.h3_cell, r.category, r.label or "", f"{float(r.score):.1f}"]
            for r in ranked.itertuples()]


def _activities(activities: pd.DataFrame, top: int) -> list[list[Any]]:
    if activities.empty:
        return []
    measured = activities["measured"] if "measured" in activities else \
        pd.Series("", index=activities.index)
    outcome = "outcome" in activities  # not on a police officer's page: analysts' free text
    return [[str(r.started_at)[:16], getattr(r, "source_id", "") or "", r.activity_type,
             r.agency or "", *([r.outcome or ""] if outcome else []), r.jag_ref or "", m or ""]
            for r, m in zip(activities.head(top).itertuples(), measured.head(top),
                            strict=True)]


def ward_page_html(ward: dict[str, Any], *, series: Sequence[float], step_labels: Sequence[str],
                   places: pd.DataFrame, cells: pd.DataFrame, activities: pd.DataFrame,
                   map_src: str | None = None, map_html: str | None = None,
                   notice: str | None = None, top: int = 15, period: str | None = None
                   ) -> str:
    """The whole profile page as HTML.

    Parameters
    ----------
    ward
        ``code``, ``name``, ``authority_name``, ``rank``, ``wards`` (how many ranked),
        ``current``, ``direction``, ``patrol_share``, ``as_of``.
    series
        The ward's decayed score at the end of every step, for the trend chart.
    step_labels
        The steps' start dates.
    places, cells, activities
        The ward's places (``name``, ``category``, ``mace_level``, ``review_due``), cells of
        the run (``h3_cell``, ``category``, ``label``, ``score``) and activities, newest
        first (``started_at``, ``source_id`` (the analyst's activity id), ``activity_type``,
        ``agency``, ``outcome``, ``jag_ref`` and optionally ``measured``, the verdict of
        `layers.action.outcomes.table`).
    map_src, map_html
        The ward map's URL, or its standalone HTML to embed.
    notice, period
        A banner (demo data), and what the scoring run covers (`layers.hotspots.read.run_period`).
    """
    name = escape(ward["name"])
    frame = (f'<iframe src="{escape(map_src)}" title="Map of {name}"></iframe>' if map_src
             else f'<iframe srcdoc="{html.escape(map_html or "", quote=True)}" '
                  f'title="Map of {name}"></iframe>')
    rank = (f"{ward['rank']} of {ward['wards']}" if ward.get("rank") is not None
            else "not ranked")
    figures = "".join(f"<span><b>{escape(k)}</b> {escape(v)}</span>" for k, v in (
        ("Rank", rank), ("Current score", f"{float(ward.get('current') or 0):.1f}"),
        ("Trend", ward.get("direction") or "-"),
        ("Patrol-discovered share", f"{float(ward.get('patrol_share') or 0):.0%}"),
        ("As of", ward.get("as_of") or "-")))
    chart = sparkline_svg(series, labels=step_labels, title="Ward score over time")
    banner = f'<p class="notice">{escape(notice)}</p>' if notice else ""
    covered = f'<p class="period">{escape(period)}</p>' if period else ""
    return (
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{name}: ward profile</title><style>{_STYLE}</style></head><body>"
        f"{banner}<h1>{name}</h1><p>{escape(ward.get('authority_name') or '')} "
        f"({escape(ward['code'])})</p><p class=\"figures\">{figures}</p>{covered}{frame}"
        f"<h2>Trend</h2>{chart}"
        "<h2>Places of concern</h2>" + _table(
            ["Place", "Category", "MACE level", "Review due"], _places(places, top),
            "No places recorded in this ward.")
        + "<h2>Hot and cold cells</h2>" + _table(
            ["H3 cell", "Category", "Label", "Score"], _cells(cells),
            "No cell with a hot or cold spot pattern.")
        + "<h2>Recent activities and outcomes</h2>" + _table(
            ["Started", "Activity", "Type", "Agency",
             *(["Outcome"] if "outcome" in activities else []), "JAG ref", "Measured effect"],
            _activities(activities, top),
            "No disruption activity recorded in this ward.")
        + "</body></html>"
    )
