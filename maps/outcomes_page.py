"""The outcome table as a page: which kinds of disruption work, and each one's measured effect.

Plain HTML, no script: the column headings are links that sort the table on the server, so
the page prints and works where scripts are blocked. Every text is escaped (activity ids,
JAG references and types come from imports).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from urllib.parse import urlencode

import pandas as pd

from layers.action.outcomes.measures import TOO_EARLY, VERDICT_NAMES, VERDICTS
from maps.style import escape

SORTABLE = {
    "activity_type": "Type", "level": "Level", "id": "Activity or campaign",
    "start": "Start", "reports_Rb": "Before", "reports_Ra": "After",
    "reports_gross_effect": "Change at target", "reports_wdq": "WDQ", "reports_wdd": "WDD",
    "reports_code": "Verdict", "harm_code": "Harm-weighted",
}
VERDICT_COLOURS = {"worked": "#1a9850", "displaced": "#d73027", "no_effect": "#777777",
                   "too_few": "#999999", "worse": "#a50026", TOO_EARLY: "#2b83ba"}
CSS = """
body { font: 13px/1.4 sans-serif; margin: 16px; color: #222; }
table { border-collapse: collapse; margin: 8px 0 16px; }
th, td { border: 1px solid #ccc; padding: 3px 6px; text-align: left; vertical-align: top; }
th a { color: inherit; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.verdict { color: #fff; padding: 1px 5px; border-radius: 3px; white-space: nowrap; }
.note { color: #555; max-width: 60em; }
@media print { a { text-decoration: none; color: inherit; } }
"""


def _num(value: object, fmt: str = ".0f") -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    return format(float(value), fmt)  # type: ignore[arg-type]


def _pct(value: object) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    return f"{float(value) * 100:+.0f}%"  # type: ignore[arg-type]


def _badge(code: object) -> str:
    colour = VERDICT_COLOURS.get(str(code), "#777777")
    return (f'<span class="verdict" style="background:{colour}">'
            f"{escape(VERDICT_NAMES.get(str(code), str(code).replace('_', ' ')))}</span>")


def _summary(by_type: pd.DataFrame) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in
                   ("Type", "Measured", *(VERDICT_NAMES[v] for v in VERDICTS), "Worked"))
    rows = []
    for r in by_type.itertuples(index=False):
        cells = [escape(str(r.activity_type).replace("_", " ")),
                 *(f'<span class="num">{int(getattr(r, c))}</span>'
                   for c in ("measured", *VERDICTS)),
                 f"{float(r.share_worked) * 100:.0f}%"]
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"


def _heading(column: str, label: str, sort: str, descending: bool,
             query: Mapping[str, str]) -> str:
    flip = column == sort and not descending
    link = "?" + urlencode({**query, "sort": column, "order": "desc" if flip else "asc"})
    mark = (" &#9660;" if descending else " &#9650;") if column == sort else ""
    return f'<th><a href="{escape(link)}">{escape(label)}</a>{mark}</th>'


def _row(r: pd.Series) -> str:
    interval = _num(r["reports_wdd"])
    if interval != "-":
        interval += (f" ({_num(r['reports_wdd_ci_low'])} to "
                     f"{_num(r['reports_wdd_ci_high'])})")
    cells = [
        escape(str(r["activity_type"]).replace("_", " ")), escape(r["level"]),
        escape(r["id"]), escape(str(r["start"])[:10]),
        f'<span class="num">{_num(r["reports_Rb"])}</span>',
        f'<span class="num">{_num(r["reports_Ra"])}</span>',
        _pct(r["reports_gross_effect"]), _num(r["reports_wdq"], ".2f"), interval,
        _badge(r["reports_code"]),
        _badge(r["harm_code"]), escape(r["reports_verdict"]),
    ]
    return "<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"


def outcomes_page_html(table: pd.DataFrame, by_type: pd.DataFrame, *, days: int,
                       alpha: float, as_of: dt.date, sort: str = "activity_type",
                       descending: bool = False, query: Mapping[str, str] | None = None,
                       notice: str | None = None) -> str:
    """The whole page: the summary by type, then every activity and campaign.

    Parameters
    ----------
    table, by_type
        `layers.action.outcomes.table.disruption_table` and `layers.action.outcomes.table.by_type`.
    days, alpha, as_of
        The window length, test level and as-of date the table was computed with (stated on
        the page).
    sort, descending
        The column (a key of `SORTABLE`) the rows are in, and its direction.
    query
        The other query parameters, kept in the sort links.
    """
    query = {k: v for k, v in (query or {}).items() if k not in ("sort", "order")}
    head = "".join(_heading(c, label, sort, descending, query) for c, label in SORTABLE.items())
    head += "<th>Verdict in words</th>"
    rows = "".join(_row(r) for _, r in table.iterrows()) if len(table) else ""
    banner = f'<p class="note"><b>{escape(notice)}</b></p>' if notice else ""
    level = f"{(1 - alpha) * 100:g}%"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>placerisk: disruption outcomes</title>
<style>{CSS}</style></head><body>
<h1>Disruption outcomes</h1>{banner}
<p class="note">Independent concern reports in the {days} days before and after each activity
(patrol-discovered reports are left out), at the target (the activity's cell and the ring
around it), in the buffer next to it (for displacement) and in control cells of the same ward
with similar earlier levels. WDQ: Weighted Displacement Quotient (Bowers and Johnson 2003);
WDD: Weighted Displacement Difference with its {level} interval (Wheeler and Ratcliffe 2018).
Negative WDD means fewer reports. A campaign is two or more activities sharing a JAG
reference. Read on {escape(as_of.isoformat())}: an activity whose after window is not over
by then, or not yet covered by the records, has no verdict; its progress is shown instead
("day 12 of {days}").</p>
<h2>Which kinds of action work</h2>
<p class="note">Single activities whose after window is over.</p>
{_summary(by_type)}
<h2>Every activity and campaign ({len(table)})</h2>
<table><tr>{head}</tr>{rows}</table>
</body></html>"""
