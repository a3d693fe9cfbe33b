"""The printable patrol plan: one self-contained HTML page (and its PDF) for a shift.

The page makes no request at all: no script, no CDN, no tiles; its CSS is inline with A4
print rules, and its map is a PNG from `maps.static` embedded as a ``data:`` URL. It shows
the ward (name and code), the shift, the officers, the plan id in large type (officers quote
it as the ``jag_ref`` of their ``street_patrol`` records), the share of the ward's current
harm the plan covers, the bias note, the map, each officer's visits and, when given, what
was done against what was planned (`layers.action.patrol.shift.plan_vs_done`).

Cells, radio labels, scores, categories and times only: no place names, notes or grades.
Every text goes through `maps.style.escape`.
"""

from __future__ import annotations

import datetime as dt

import geopandas as gpd
import pandas as pd

from layers.action.patrol.cells import DWELL_MINUTES
from layers.action.patrol.shift import NOT_IN_PLAN, REVISIT_MINUTES, PatrolPlan
from maps import static, style
from maps.printing import html_to_pdf as html_to_pdf  # re-exported: moved there
from maps.style import escape

BIAS_NOTE = ("Scores from independently reported concern; patrol-discovered records are not "
             "counted, so patrolling a cell does not by itself send the next patrol back.")
PATROL_COUNTED_NOTE = ("This scoring run counts patrol-discovered records: patrols may be sent "
                       "back where patrols already looked.")
KOPER_NOTE = (f"Short visits of {DWELL_MINUTES[0]}-{DWELL_MINUTES[1]} minutes at unpredictable "
              f"times, each cell revisited every {REVISIT_MINUTES[0] / 60:g}-"
              f"{REVISIT_MINUTES[1] / 60:g} hours (the Koper curve), deter more than long "
              "stays or drive-bys.")
CSS = """
@page { size: A4; margin: 14mm 12mm; }
body { font: 10.5pt/1.35 "DejaVu Sans", Arial, sans-serif; color: #111; margin: 0; }
h1 { font-size: 16pt; margin: 0 0 4pt; }
h2 { font-size: 12pt; margin: 12pt 0 4pt; break-after: avoid; }
.facts { display: flex; flex-wrap: wrap; gap: 4pt 18pt; margin: 4pt 0; }
.plan-id { font: bold 22pt/1.2 "DejaVu Sans Mono", monospace; border: 2pt solid #111;
           padding: 4pt 10pt; display: inline-block; margin: 6pt 0; letter-spacing: 1pt; }
.note { background: #f3f3f3; border-left: 3pt solid #666; padding: 3pt 8pt; margin: 4pt 0; }
.warn { border-left-color: #d7191c; }
img.map { width: 100%; max-height: 120mm; object-fit: contain; border: 1px solid #aaa; }
table { border-collapse: collapse; width: 100%; margin: 2pt 0 6pt; font-size: 9.5pt; }
th, td { border: 1px solid #999; padding: 2pt 5pt; text-align: left; }
th { background: #e8e8e8; }
td.num, th.num { text-align: right; }
tr { break-inside: avoid; }
.muted { color: #555; }
@media print { .map-section { break-inside: avoid; } }
@media screen { body { max-width: 190mm; margin: 12px auto; padding: 0 8px; } }
"""


def _hhmm(moment: pd.Timestamp | dt.datetime) -> str:
    return f"{moment:%H:%M}"


def _shift(plan: PatrolPlan) -> str:
    """The shift as ``18:00-02:00 (next day)``."""
    later = (plan.end.date() - plan.start.date()).days
    tail = "" if later == 0 else " (next day)" if later == 1 else f" (+{later} days)"
    return f"{_hhmm(plan.start)}-{_hhmm(plan.end)}{tail}"


def _table(headers: list[str], rows: list[list[str]], *, css_class: str,
           numeric: frozenset[int] = frozenset()) -> str:
    """An HTML table; ``rows`` hold already escaped cell text."""
    def cell(tag: str, i: int, text: str) -> str:
        return f'<{tag} class="num">{text}</{tag}>' if i in numeric else f"<{tag}>{text}</{tag}>"

    head = "".join(cell("th", i, escape(h)) for i, h in enumerate(headers))
    body = "".join("<tr>" + "".join(cell("td", i, t) for i, t in enumerate(r)) + "</tr>"
                   for r in rows)
    return (f'<table class="{css_class}"><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table>")


def _header(plan: PatrolPlan, ward_name: str, as_of: dt.date | None) -> str:
    n = len(plan.cells)
    facts = [
        f"<span><b>Date</b> {escape(plan.date.isoformat())}</span>",
        f"<span><b>Shift</b> {escape(_shift(plan))}</span>",
        f"<span><b>Officers</b> {plan.officers}</span>",
        f"<span><b>Cells</b> {n}, <b>visits</b> {len(plan.visits)}</span>",
        f"<span><b>One round</b> {plan.tour_length_m / 1000:.1f} km</span>",
    ]
    if as_of is not None:
        facts.append(f"<span><b>Scores as of</b> {escape(as_of.isoformat())}</span>")
    return (f"<h1>Patrol plan: {escape(ward_name)} ({escape(plan.ward_code)})</h1>"
            f'<div class="facts">{"".join(facts)}</div>'
            '<div>Quote this plan id as the <b>jag_ref</b> of your street_patrol records:</div>'
            f'<div class="plan-id">{escape(plan.plan_id)}</div>'
            f"<p><b>Coverage:</b> the plan's {n} cell{'s hold' if n != 1 else ' holds'} "
            f"<b>{100 * plan.coverage:.0f}%</b> of the ward's current harm (summed score).</p>")


def _notes(independent: bool, notice: str | None) -> str:
    bias = (f'<div class="note">{escape(BIAS_NOTE)}</div>' if independent
            else f'<div class="note warn">{escape(PATROL_COUNTED_NOTE)}</div>')
    extra = f'<div class="note warn">{escape(notice)}</div>' if notice else ""
    return f'{bias}<div class="note">{escape(KOPER_NOTE)}</div>{extra}'


def _map(map_png: bytes | None) -> str:
    if map_png is None:
        return ""
    alt = "Map of the plan's cells, shaded by score, with their radio labels"
    return (f'<div class="map-section"><h2>Map</h2><img class="map" alt="{escape(alt)}" '
            f'src="{static.png_data_url(map_png)}"></div>')


def _visit_rows(visits: pd.DataFrame) -> list[list[str]]:
    return [[f"{_hhmm(v.arrive)}-{_hhmm(v.leave)}", str(int(v.round)), escape(v.label),
             f"{int(v.dwell_minutes)} min", escape(v.h3_cell)]
            for v in visits.itertuples()]


def _officers(plan: PatrolPlan) -> str:
    """One table of visits per officer, in time order."""
    if plan.cells.empty:
        return "<p>No cell of this ward scores above 0: nothing to patrol.</p>"
    parts = []
    for officer in range(1, plan.officers + 1):
        visits = plan.visits[plan.visits["officer"] == officer].sort_values("arrive")
        parts.append(f"<h2>Officer {officer}</h2>")
        if visits.empty:
            parts.append('<p class="muted">No visits: fewer cells than officers, or the '
                         "shift is too short.</p>")
            continue
        parts.append(_table(["Time", "Round", "Call sign", "Dwell", "H3 cell"],
                            _visit_rows(visits), css_class="visits"))
    return "".join(parts)


def _done(done: pd.DataFrame | None) -> str:
    if done is None:
        return ""
    rows = [[escape(d.officer if d.label != NOT_IN_PLAN else ""), escape(d.label),
             escape(d.h3_cell), str(int(d.planned_visits)), f"{int(d.planned_minutes)} min",
             str(int(d.done_visits)), f"{float(d.done_minutes):g} min",
             str(int(d.done_unknown_minutes)), escape(d.status)]
            for d in done.itertuples()]
    table = _table(["Officer", "Call sign", "H3 cell", "Planned visits", "Planned time",
                    "Done visits", "Done time", "Done, end unknown", "Status"], rows,
                   css_class="done", numeric=frozenset({3, 4, 5, 6, 7}))
    return ("<h2>Done against planned</h2><p class='muted'>street_patrol records whose "
            "jag_ref is this plan's id, whenever recorded.</p>" + table)


def plan_page_html(plan: PatrolPlan, *, ward_name: str, done: pd.DataFrame | None = None,
                   map_png: bytes | None = None, independent: bool = True,
                   as_of: dt.date | None = None, notice: str | None = None) -> str:
    """The printable patrol plan as one self-contained HTML page (no requests, no script).

    Parameters
    ----------
    plan
        From `layers.action.patrol.shift.plan_shift`.
    ward_name
        Shown, escaped, beside the ward code in the title.
    done
        A `layers.action.patrol.shift.plan_vs_done` frame, shown as a "done against planned" table.
    map_png
        A PNG (e.g. `plan_map_png`) embedded as a ``data:`` URL.
    independent
        Whether the scores leave out patrol-discovered records (the default scoring);
        the bias note says which.
    as_of
        The scoring run's as-of date, if known.
    notice
        An extra warning (e.g. that the areas are synthetic demo areas), escaped.
    """
    title = f"Patrol plan {plan.plan_id}, {ward_name} ({plan.ward_code}), {plan.date}"
    body = (_header(plan, ward_name, as_of) + _notes(independent, notice) + _map(map_png)
            + _officers(plan) + _done(done))
    return ('<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f"<title>{escape(title)}</title><style>{CSS}</style></head>"
            f"<body>{body}</body></html>")


def plan_map_png(plan: PatrolPlan, *, areas: gpd.GeoDataFrame | None = None,
                 size: tuple[float, float] = (7.0, 5.6), dpi: int = 110) -> bytes:
    """The plan's map: ward outline, cells shaded by score with ``order label`` on each."""
    cells = plan.cells.sort_values("order")
    frame = pd.DataFrame({
        "h3_cell": cells["h3_cell"].to_numpy(),
        "colour": style.score_colours(cells["score"].to_numpy(float)),
        "label": [f"{int(o)} {label}" for o, label in zip(cells["order"], cells["label"],
                                                           strict=True)],
    })
    return static.render_png(areas=areas, cells=frame, size=size, dpi=dpi)
