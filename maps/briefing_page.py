"""The JAG briefing pack as one printable, self-contained HTML page (and so its PDF).

The page makes no request: no script, no CDN, no tiles. The chair reads the changes first:
the title and the pack's dates, then the sections in order (hot spot changes on the first
page), and the run and its parameters last (`_reproduce`). The CSS is inline, with A4 print
rules: each section after the first starts a new page, table rows never split, tables have
fixed column widths (`WIDTHS`) with long words wrapped, and a smaller font when wide, so
that no column runs off the page; a footer is on every printed page. Each section's map is
a PNG from `maps.static` embedded as a ``data:`` URL (`section_maps`). Table rows are
numbered and the map labels the same numbers when a section has at most `MAX_LABELS` rows.

The header, the last section and the footer state the meeting and since dates, the scoring
run (as-of date, id, fingerprint, parameters) and the outcome windows, so that the pack can
be reproduced. Every imported text (place, ward and agency names, reasons, activity ids,
outcomes) goes through `maps.style.escape`; place notes are never part of a
`layers.reporting.briefing.Briefing`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

import geopandas as gpd
import pandas as pd

from layers.action.outcomes.measures import TOO_EARLY, VERDICT_NAMES
from layers.reporting.briefing import (
    FADING,
    INTENSIFYING,
    NEW_HOT_SPOT,
    NOT_MEASURED,
    SECTIONS,
    Briefing,
)
from maps import static, style
from maps.style import escape

MAX_LABELS = 40
WIDE_COLUMNS = 7  # tables with more columns print in a smaller font
CHANGE_COLOURS = {NEW_HOT_SPOT: "#ef3b2c", INTENSIFYING: "#67000d", FADING: "#74a9cf"}
VERDICT_COLOURS = {
    "worked": "#1a9641", "displaced": "#fdae61", "no_effect": "#969696",
    "too_few": "#d9d9d9", "worse": "#d7191c", TOO_EARLY: "#2b83ba", NOT_MEASURED: "#ffffff",
}
ACTION_VERDICTS = {**VERDICT_NAMES, NOT_MEASURED: "not measured"}
OTHER_COLOUR = "#666666"
TITLES = {
    "hotspots": "a. Hot spot changes",
    "level_changes": "b. Places whose level changed",
    "reviews": "c. Reviews due",
    "actions": "d. Actions taken and their measured outcomes",
    "top_places": "e. Top places per ward",
}
CSS = """
@page { size: A4; margin: 14mm 12mm 18mm;
        @bottom-left { content: "%(footer)s"; font: 7.5pt "DejaVu Sans", sans-serif;
                       color: #555; }
        @bottom-right { content: "page " counter(page) " of " counter(pages);
                        font: 7.5pt "DejaVu Sans", sans-serif; color: #555; } }
body { font: 10pt/1.35 "DejaVu Sans", Arial, sans-serif; color: #111; margin: 0; }
h1 { font-size: 17pt; margin: 0 0 4pt; }
h2 { font-size: 13pt; margin: 0 0 4pt; break-after: avoid; }
section.section + section.section, section.parameters { break-before: page; }
.facts { display: flex; flex-wrap: wrap; gap: 3pt 16pt; margin: 4pt 0; }
.note { background: #f3f3f3; border-left: 3pt solid #666; padding: 3pt 8pt; margin: 4pt 0; }
.warn { border-left-color: #d7191c; }
.map-section { break-inside: avoid; }
img.map { width: 100%%; max-height: 105mm; object-fit: contain; border: 1px solid #aaa; }
.legend { font-size: 8.5pt; margin: 2pt 0 6pt; }
.swatch { display: inline-block; width: 9pt; height: 9pt; border: 1px solid #333;
          margin: 0 3pt 0 10pt; vertical-align: middle; }
table { border-collapse: collapse; width: 100%%; margin: 2pt 0 6pt; font-size: 8.5pt;
        table-layout: fixed; }
.wide table { font-size: 7.5pt; }
thead { display: table-header-group; }
th, td { border: 1px solid #999; padding: 2pt 4pt; text-align: left; vertical-align: top;
         overflow-wrap: anywhere; }
.wide th, .wide td { padding: 1.5pt 2.5pt; }
th { background: #e8e8e8; }
td.num, th.num { text-align: right; }
td.date { white-space: nowrap; }
tr { break-inside: avoid; }
tr.overdue td { color: #a50f15; font-weight: bold; }
.muted { color: #555; }
footer { margin-top: 10pt; border-top: 1px solid #999; padding-top: 4pt; font-size: 8pt;
         color: #444; }
@media screen { body { max-width: 200mm; margin: 12px auto; padding: 0 8px; } }
"""
_CSS_SAFE = re.compile(r"[^0-9A-Za-z .,:;()/_+-]")


def _labels(frame: pd.DataFrame) -> list[str]:
    """Row numbers as map labels, or none when there are too many to read."""
    return [str(i) for i in range(1, len(frame) + 1)] if len(frame) <= MAX_LABELS else []


def _points(frame: pd.DataFrame, colours: list[str]) -> pd.DataFrame:
    """Located rows as `maps.static` points, labelled with their table row number."""
    points = pd.DataFrame({"lat": frame["lat"].to_numpy(float),
                           "lng": frame["lng"].to_numpy(float), "colour": colours})
    labels = _labels(frame)
    if labels:
        points["label"] = labels
    return points[points["lat"].notna() & points["lng"].notna()]


def _level_colours(levels: pd.Series) -> list[str]:
    return [style.level_colour(int(v)) for v in levels]


def section_maps(briefing: Briefing, areas: gpd.GeoDataFrame | None = None, *,
                 size: tuple[float, float] = (7.0, 4.6), dpi: int = 100) -> dict[str, bytes]:
    """One static map (PNG) per section of ``briefing``, keyed by `briefing.SECTIONS`.

    Hot spot changes are H3 cells coloured by change (`CHANGE_COLOURS`); level changes,
    reviews and top places are points coloured by MACE level (the new level for a change);
    actions are points coloured by verdict (`VERDICT_COLOURS`). ``areas`` (EPSG:4326) are
    drawn as ward outlines.
    """
    hot = briefing.hotspots
    cells = pd.DataFrame({"h3_cell": hot["h3_cell"].astype(str).to_numpy(),
                          "colour": [CHANGE_COLOURS[c] for c in hot["change"]]})
    if _labels(hot):
        cells["label"] = _labels(hot)
    acts = briefing.actions
    layers: dict[str, dict[str, pd.DataFrame]] = {
        "hotspots": {"cells": cells},
        "level_changes": {"points": _points(briefing.level_changes, _level_colours(
            briefing.level_changes["to_level"]))},
        "reviews": {"points": _points(briefing.reviews, _level_colours(
            briefing.reviews["mace_level"]))},
        "actions": {"points": _points(acts, [VERDICT_COLOURS.get(str(v), OTHER_COLOUR)
                                             for v in acts["verdict"]])},
        "top_places": {"points": _points(briefing.top_places, _level_colours(
            briefing.top_places["mace_level"]))},
    }
    return {name: static.render_png(areas=areas, size=size, dpi=dpi, **layers[name])
            for name in SECTIONS}


# --- HTML --------------------------------------------------------------------------------

def _table(headers: list[str], rows: list[list[str]], *, css_class: str,
           widths: tuple[int, ...], numeric: frozenset[int] = frozenset(),
           dates: frozenset[int] = frozenset(), row_classes: list[str] | None = None) -> str:
    """An HTML table of fixed column ``widths`` (percent); ``rows`` hold escaped cell text.

    A fixed layout keeps every column on the A4 page whatever its text (long words wrap
    anywhere); a table of more than `WIDE_COLUMNS` columns prints smaller (in a ``wide``
    block).
    """
    if len(widths) != len(headers) or sum(widths) != 100:
        msg = f"{css_class}: {len(widths)} column widths summing to {sum(widths)}, expected "
        raise ValueError(msg + f"{len(headers)} summing to 100")

    def cell(tag: str, i: int, text: str) -> str:
        kind = "num" if i in numeric else "date" if i in dates else ""
        return f'<{tag} class="{kind}">{text}</{tag}>' if kind else f"<{tag}>{text}</{tag}>"

    classes = row_classes or [""] * len(rows)
    cols = "".join(f'<col style="width: {w}%">' for w in widths)
    head = "".join(cell("th", i, escape(h)) for i, h in enumerate(headers))
    body = "".join((f'<tr class="{c}">' if c else "<tr>")
                   + "".join(cell("td", i, t) for i, t in enumerate(r)) + "</tr>"
                   for r, c in zip(rows, classes, strict=True))
    table = (f'<table class="{css_class}"><colgroup>{cols}</colgroup>'
             f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
    return f'<div class="wide">{table}</div>' if len(headers) > WIDE_COLUMNS else table


def _day(value: Any) -> str:
    if value is None or (not isinstance(value, dt.date) and pd.isna(value)):
        return ""
    return escape(f"{pd.Timestamp(value):%Y-%m-%d}")


def _level(level: Any, name: Any) -> str:
    return "" if pd.isna(level) else escape(f"{int(level)} {name}")


def _legend(colours: dict[str, str], names: dict[str, str] | None = None) -> str:
    items = "".join(f'<span class="swatch" style="background:{colour}"></span>'
                    f"{escape((names or {}).get(key, key))}"
                    for key, colour in colours.items())
    return f'<div class="legend">{items}</div>'


LEVEL_LEGEND = _legend({f"{k}": v for k, v in style.LEVEL_COLOURS.items()},
                       {"1": "1 No concern", "2": "2 Low", "3": "3 Some", "4": "4 High"})


def _hotspot_rows(frame: pd.DataFrame) -> list[list[str]]:
    return [[str(i), escape(r.change), escape(r.ward_name or r.ward_code), escape(r.h3_cell),
             f"{r.score:.1f}", escape(r.category), f"{r.trend_z:+.2f}"]
            for i, r in enumerate(frame.itertuples(), start=1)]


def _level_rows(frame: pd.DataFrame) -> list[list[str]]:
    return [[str(i), _day(r.changed_on), escape(r.name), escape(r.ward_name),
             _level(r.from_level, r.from_name) or "(first recorded)",
             _level(r.to_level, r.to_name), escape(r.reason)]
            for i, r in enumerate(frame.itertuples(), start=1)]


def _when(days: int) -> str:
    """Say how a review date stands against the meeting.

    Examples
    --------
    >>> _when(3), _when(0), _when(-1)
    ('overdue by 3 days', 'due on the meeting day', 'due in 1 day')
    """
    if days == 0:
        return "due on the meeting day"
    n = abs(days)
    unit = "day" if n == 1 else "days"
    return f"overdue by {n} {unit}" if days > 0 else f"due in {n} {unit}"


def _review_rows(frame: pd.DataFrame) -> list[list[str]]:
    return [[str(i), _day(r.review_due), escape(_when(int(r.overdue_days))), escape(r.name),
             escape(r.ward_name), _level(r.mace_level, r.level_name), escape(r.status)]
            for i, r in enumerate(frame.itertuples(), start=1)]


def _started(value: Any) -> str:
    return escape(f"{pd.Timestamp(value):%Y-%m-%d %H:%M}")


def _action_rows(frame: pd.DataFrame) -> list[list[str]]:
    return [[str(i), _started(r.started_at), escape(r.id),
             escape(str(r.activity_type).replace("_", " ")),
             escape(r.ward_name), escape(r.place), escape(r.agency), escape(r.outcome),
             f"<b>{escape(ACTION_VERDICTS.get(str(r.verdict), r.verdict))}</b>: "
             f"{escape(r.measured)}"]
            for i, r in enumerate(frame.itertuples(), start=1)]


def _top_rows(frame: pd.DataFrame) -> list[list[str]]:
    return [[str(i), escape(r.ward_name or r.ward_code), str(int(r.rank)), escape(r.name),
             _level(r.mace_level, r.level_name), str(int(r.reports))]
            for i, r in enumerate(frame.itertuples(), start=1)]


HEADERS = {  # column names, numeric columns, date columns
    "hotspots": (["#", "Change", "Ward", "H3 cell", "Score", "Category", "Trend z"],
                 frozenset({0, 4, 6}), frozenset({3})),
    "level_changes": (["#", "Date", "Place", "Ward", "From", "To", "Reason"], frozenset({0}),
                      frozenset({1})),
    "reviews": (["#", "Review due", "Against the meeting", "Place", "Ward", "Level",
                 "Status"], frozenset({0}), frozenset({1})),
    "actions": (["#", "Started", "Activity", "Type", "Ward", "Place", "Agency",
                 "Recorded outcome", "Measured outcome (independent reports)"],
                frozenset({0}), frozenset()),
    "top_places": (["#", "Ward", "Rank", "Place", "Level", "Reports"], frozenset({0, 2, 5}),
                   frozenset()),
}
WIDTHS = {  # percent of the page width per column, summing to 100
    "hotspots": (5, 14, 20, 21, 9, 20, 11),
    "level_changes": (5, 12, 20, 15, 12, 12, 24),
    "reviews": (5, 12, 16, 25, 17, 14, 11),
    "actions": (4, 9, 9, 10, 10, 11, 9, 11, 27),
    "top_places": (5, 25, 7, 38, 15, 10),
    "params": (40, 60),
}
ROWS: dict[str, Callable[[pd.DataFrame], list[list[str]]]] = {
    "hotspots": _hotspot_rows, "level_changes": _level_rows, "reviews": _review_rows,
    "actions": _action_rows, "top_places": _top_rows,
}
EMPTY = {
    "hotspots": "No new, intensifying or fading hot spots between the two steps compared.",
    "level_changes": "No place changed level in this period.",
    "reviews": "No review is due.",
    "actions": "No activity was recorded in this period.",
    "top_places": "No open place of concern lies in a loaded ward.",
}


def _rules(h: dict[str, Any]) -> dict[str, str]:
    """What each section holds, in words, with the pack's own dates and parameters."""
    trend_alpha = h["params"].get("trend_alpha", "")
    return {
        "hotspots": (f"Significant hot spots (Gi*) of run {h['run_id']} in the {h['step']} "
                     f"starting {_day(h['since_step'])} (holding the since date, or the run's "
                     f"first step) against the last {h['step']}, starting "
                     f"{_day(h['last_step'])}. New: not hot then, hot now. Intensifying: hot "
                     "at both, and an 'intensifying hot spot' or a significantly rising "
                     f"Mann-Kendall trend (alpha {escape(trend_alpha)}). Fading: hot then, "
                     "not now."),
        "level_changes": (f"MACE level changes dated from {_day(h['since'])} to "
                          f"{_day(h['meeting'])}, both included."),
        "reviews": (f"Places not closed whose review is due by {h['review_horizon_days']} "
                    "days after the meeting; overdue ones (before the meeting day) in bold."),
        "actions": (f"Activities started from {_day(h['since'])} to {_day(h['meeting'])}. "
                    "The measured outcome compares independent concern reports in "
                    f"{h['outcome_days']}-day windows before and after the start (alpha "
                    f"{h['outcome_alpha']:g}). No verdict until the after window is over by the "
                    "meeting and covered by the records: its progress is given instead."),
        "top_places": (f"Per ward, the {h['top_per_ward']} open places with the highest MACE "
                       "level, then the most independent reports naming them in the "
                       f"{h['report_window_days']} days to the meeting, then by name."),
    }


LEGENDS = {
    "hotspots": _legend(CHANGE_COLOURS), "level_changes": LEVEL_LEGEND,
    "reviews": LEVEL_LEGEND, "actions": _legend(VERDICT_COLOURS, ACTION_VERDICTS),
    "top_places": LEVEL_LEGEND,
}


def _section(name: str, frame: pd.DataFrame, rule: str, png: bytes | None) -> str:
    headers, numeric, dates = HEADERS[name]
    picture = ""
    if png is not None:
        alt = f"Map: {TITLES[name]}"
        picture = (f'<div class="map-section"><img class="map" alt="{escape(alt)}" '
                   f'src="{static.png_data_url(png)}">{LEGENDS[name]}</div>')
    if frame.empty:
        table = f"<p><i>{escape(EMPTY[name])}</i></p>"
    else:
        classes = (["overdue" if o else "" for o in frame["overdue"]] if name == "reviews"
                   else None)
        table = _table(headers, ROWS[name](frame), css_class=name, widths=WIDTHS[name],
                       numeric=numeric, dates=dates, row_classes=classes)
    return (f'<section class="section" id="{name}"><h2>{escape(TITLES[name])} '
            f'<span class="muted">({len(frame)})</span></h2><p class="muted">{rule}</p>'
            f"{picture}{table}</section>")


def _flat(params: dict[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """Parameters as ``(dotted name, text)``, nested tables flattened.

    Examples
    --------
    >>> _flat({"k": 1, "weights": {"levels": {"1": 0.0, "2": 1.0}, "tags": ["a", "b"]}})
    [('k', '1'), ('weights.levels', '1: 0.0, 2: 1.0'), ('weights.tags', 'a, b')]
    """
    out: list[tuple[str, str]] = []
    for key, value in sorted(params.items()):
        name = f"{prefix}{key}"
        if isinstance(value, dict) and any(isinstance(v, dict) for v in value.values()):
            out.extend(_flat(value, f"{name}."))
        elif isinstance(value, dict):
            out.append((name, ", ".join(f"{k}: {v}" for k, v in value.items())))
        elif isinstance(value, list | tuple):
            out.append((name, ", ".join(str(v) for v in value)))
        elif value is None:
            out.append((name, "default"))
        else:
            out.append((name, str(value)))
    return out


def _moment(value: Any) -> str:
    return "" if value is None else escape(f"{pd.Timestamp(value):%Y-%m-%d %H:%M:%S}")


def _reproduce(h: dict[str, Any]) -> str:
    rows = [[escape(k), escape(v)] for k, v in _flat(h["params"])]
    rows += [["outcomes.window_days", str(h["outcome_days"])],
             ["outcomes.alpha", escape(f"{h['outcome_alpha']:g}")]]
    since = "" if h["since_default"] else f" --since {_day(h['since'])}"
    return ('<section class="parameters" id="parameters"><h2>Reproducing this pack</h2>'
            "<p>Scores from run "
            f"<b>{h['run_id']}</b> as of <b>{_day(h['as_of'])}</b> ({h['n_steps']} "
            f"{escape(h['step'])}s, fingerprint <code>{escape(h['fingerprint'])}</code>, "
            f"records known by {_moment(h['known_by'])} UTC). To reproduce it: "
            f"<code>placerisk score --as-of {_day(h['as_of'])}</code> with the parameters "
            f"below, then <code>placerisk briefing --meeting {_day(h['meeting'])}{since}"
            "</code>.</p>" + _table(["Parameter", "Value"], rows, css_class="params",
                                    widths=WIDTHS["params"]) + "</section>")


def _header(b: Briefing, notice: str | None) -> str:
    h = b.header
    since_note = (f" ({h['since_days']} days before the meeting)" if h["since_default"]
                  else "")
    facts = [f"<span><b>Meeting</b> {_day(h['meeting'])}</span>",
             f"<span><b>Changes since</b> {_day(h['since'])}{escape(since_note)}</span>",
             f"<span><b>Scores as of</b> {_day(h['as_of'])} (run {h['run_id']}, "
             f"fingerprint {escape(h['fingerprint'])})</span>"]
    if h.get("covered"):
        facts.append(f"<span><b>Period</b> {escape(h['covered'])}</span>")
    notes = ""
    if notice:
        notes += f'<div class="note warn">{escape(notice)}</div>'
    if h["as_of"] < h["since"]:
        notes += ('<div class="note warn">The newest scoring run is older than the since '
                  "date: the hot spot changes do not cover this period. Run "
                  f"<code>placerisk score --as-of {_day(h['meeting'])}</code>.</div>")
    counts = "; ".join(f"{escape(TITLES[n])} ({len(b.section(n))})" for n in SECTIONS)
    return (f"<h1>JAG briefing pack: meeting {_day(h['meeting'])}</h1>"
            f'<div class="facts">{"".join(facts)}</div>{notes}'
            f'<p class="muted">In this pack: {counts}; the run and its parameters last. '
            "Places, areas, times and actions only: no child is named or scored, and no "
            "place notes are included.</p>")


def _footer_text(h: dict[str, Any]) -> str:
    """The footer line: meeting, since, run and outcome windows (plain text)."""
    return (f"placerisk JAG briefing, meeting {h['meeting']}, changes since {h['since']}; "
            f"scores as of {h['as_of']}, run {h['run_id']} (fingerprint {h['fingerprint']}, "
            f"{h['step']} steps, k {h['k']}, alpha {h['params'].get('alpha', '')}, "
            f"{h['params'].get('correction', '')}); outcomes over {h['outcome_days']}-day "
            f"windows, alpha {h['outcome_alpha']:g}")


def briefing_page_html(briefing: Briefing, *, maps: dict[str, bytes] | None = None,
                       notice: str | None = None) -> str:
    """The JAG briefing pack as one self-contained HTML page (no requests, no script).

    Parameters
    ----------
    briefing
        From `layers.reporting.briefing_inputs.load_briefing`.
    maps
        PNGs by section name (`section_maps`), embedded as ``data:`` URLs; a section
        without one has no map.
    notice
        An extra warning (e.g. that the areas are synthetic demo areas), escaped.
    """
    h, maps = briefing.header, maps or {}
    rules = _rules(h)
    sections = "".join(_section(n, briefing.section(n), rules[n], maps.get(n))
                       for n in SECTIONS)
    footer = _footer_text(h)
    css = CSS % {"footer": _CSS_SAFE.sub("?", footer)}
    title = f"JAG briefing pack, meeting {h['meeting']}"
    return ('<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f"<title>{escape(title)}</title><style>{css}</style></head><body>"
            f"{_header(briefing, notice)}{sections}{_reproduce(h)}"
            f"<footer>{escape(footer)}</footer>"
            "</body></html>")
