"""The review page: places due for review, a decision form for each, and closed places.

Plain HTML forms, no script. Every form carries the session's CSRF token (the server refuses
a form posted with a session cookie without it). Every text, the place ids in the form
addresses included, goes through `maps.style.escape`: names and ids come from imports.
"""

from __future__ import annotations

import datetime as dt
from urllib.parse import quote

import pandas as pd

from layers.access.review_store import DECISIONS, MAX_REASON, NEXT_REVIEW_MONTHS
from layers.records.places import LEVELS
from maps.style import escape

CSS = """
body { font: 13px/1.4 sans-serif; margin: 16px; color: #222; }
table { border-collapse: collapse; margin: 8px 0 16px; }
th, td { border: 1px solid #ccc; padding: 3px 6px; text-align: left; vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
form.decide { display: flex; flex-wrap: wrap; gap: 4px; align-items: center; margin: 0; }
form.decide input[name=reason] { width: 18em; }
.error { color: #a50026; font-weight: bold; }
.note { color: #555; max-width: 60em; }
"""
HEAD = ("Place", "Name", "Category", "Ward", "Level", "Status", "Due", "Overdue", "Decision")


def _action(source_id: object, what: str) -> str:
    """The escaped address of a place's form route (the id percent-encoded as a path part)."""
    return escape(f"/api/places/{quote(str(source_id), safe='')}/{what}")


def _csrf(token: str) -> str:
    return f'<input type="hidden" name="csrf_token" value="{escape(token)}">'


def _levels_below(level: int) -> str:
    options = "".join(f'<option value="{n}">{n} {escape(LEVELS[n])}</option>'
                      for n in sorted(LEVELS, reverse=True) if n < level)
    return f'<option value="">(new level)</option>{options}'


def decision_form(source_id: object, level: int, *, csrf_token: str) -> str:
    """The form recording one decision on one place."""
    decisions = "".join(f'<option value="{d}">{d}</option>' for d in DECISIONS)
    return (f'<form class="decide" method="post" action="{_action(source_id, "review/form")}">'
            f"{_csrf(csrf_token)}"
            f'<select name="decision" aria-label="Decision">{decisions}</select>'
            f'<input name="reason" maxlength="{MAX_REASON}" placeholder="Reason '
            f'(required to retain)" aria-label="Reason">'
            f'<select name="new_level" aria-label="New level (lower only)">'
            f"{_levels_below(level)}</select>"
            f'<input type="date" name="next_review_due" aria-label="Next review due">'
            f'<button type="submit">Record</button></form>')


def _queue_row(r: pd.Series, csrf_token: str) -> str:
    cells = [escape(r["source_id"]), escape(r["name"]), escape(r["category"]),
             escape(r["ward_code"]), f"{escape(r['mace_level'])} {escape(r['level_name'])}",
             escape(r["status"]),
             f"{escape(r['due'])} <span class='note'>({escape(r['due_from'])})</span>",
             f"{escape(r['days_overdue'])} days",
             decision_form(r["source_id"], int(r["mace_level"]), csrf_token=csrf_token)]
    return "<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"


def _closed_row(r: pd.Series, csrf_token: str) -> str:
    erase = (f'<form method="post" action="{_action(r["source_id"], "erase")}">'
             f'{_csrf(csrf_token)}<button type="submit">Erase</button></form>')
    cells = [escape(r["source_id"]), escape(r["name"]), escape(r["category"]),
             escape(r["ward_code"]), escape(r["mace_level"]), erase]
    return "<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"


def _table(head: tuple[str, ...], rows: list[str], empty: str) -> str:
    if not rows:
        return f"<p class='note'>{escape(empty)}</p>"
    heading = "".join(f"<th>{escape(h)}</th>" for h in head)
    return f"<table><tr>{heading}</tr>{''.join(rows)}</table>"


def review_page(queue: pd.DataFrame, closed: pd.DataFrame, *, csrf_token: str,
                today: dt.date, retention_days: int, message: str = "") -> str:
    """The review page as one HTML document.

    Parameters
    ----------
    queue
        `layers.access.review_store.review_queue` rows, most overdue first.
    closed
        `layers.access.review_store.closed_places` rows: closed places that can be erased.
    csrf_token
        The session's CSRF token, put in every form.
    today
        The day the queue was drawn up for.
    retention_days
        How long an erased place is kept before it is purged (for the note).
    message
        A problem with the last form sent, shown above the queue (escaped).
    """
    note = f'<p class="error" role="alert">{escape(message)}</p>' if message else ""
    due = _table(HEAD, [_queue_row(r, csrf_token) for _, r in queue.iterrows()],
                 "No place is due for review.")
    gone = _table(("Place", "Name", "Category", "Ward", "Level", ""),
                  [_closed_row(r, csrf_token) for _, r in closed.iterrows()],
                  "No closed place awaits erasure.")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>placerisk: places due for review</title>
<style>{CSS}</style></head><body>
<p><a href="/">Map</a> &middot; OFFICIAL-SENSITIVE</p>
<h1>Places due for review on {escape(today)}</h1>{note}
<p class="note">Due: on or after the review date; without one, a year after the last
assessment (or after the place was first recorded). Retain needs a reason; lower needs a
level below the current one; the next review defaults to {NEXT_REVIEW_MONTHS} months on.
Close takes the place off the queue. Every decision is recorded and audited.</p>
{due}
<h2>Closed places</h2>
<p class="note">Erasing hides a closed place from every view at once; it is deleted for good
{escape(retention_days)} days later (<code>placerisk retention --apply</code>).</p>
{gone}
</body></html>"""
