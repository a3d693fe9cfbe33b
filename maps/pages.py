"""Small pages of the served app: an error page with a way forward, and the forms it holds.

One helper, `error_page_html`, writes every error a browser sees (not found, bad request,
not allowed, service unavailable): a heading, the message in words, a form to try again
where the page needs a choice (`briefing_form_html`, `ward_form_html`) and links to pages
the reader may open. Plain HTML, no script; every text is escaped (ward
names come from imports, messages may quote the request).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

import pandas as pd

from maps.style import escape

CSS = """
body { font: 15px/1.5 system-ui, sans-serif; max-width: 42em; margin: 3em auto; padding: 0 1em;
       color: #222; }
h1 { font-size: 1.5em; } .message { background: #f6f6f6; border-left: 4px solid #a50026;
padding: .4em .8em; }
form { display: grid; gap: .5em; max-width: 24em; margin: 1em 0; }
label { display: grid; gap: .1em; } input, select, button { font: inherit; padding: .25em; }
button { justify-self: start; padding: .3em 1em; }
nav ul { padding-left: 1.2em; }
"""
DEFAULT_START = "18:00"
DEFAULT_HOURS = 8
DEFAULT_OFFICERS = 2
STATUS_HEADINGS = {400: "Bad request", 403: "Not allowed", 404: "Not found",
                   409: "Conflict", 422: "Please check the request", 503: "Not available"}


def page_html(title: str, body: str) -> str:
    """A plain page: ``title`` (escaped) in the tab, ``body`` (already HTML) below."""
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{escape(title)}</title><style>{CSS}</style></head><body>{body}"
            "</body></html>")


def error_page_html(status: int, message: str, *, heading: str | None = None,
                    form: str = "", links: Sequence[tuple[str, str]] = ()) -> str:
    """The page for an error: what went wrong, a form to try again and where to go instead.

    Parameters
    ----------
    status
        The HTTP status, for the default heading (`STATUS_HEADINGS`).
    message
        What went wrong and what to do next (escaped).
    heading
        The page's heading and title; by default the status's.
    form
        A form to try again (already HTML: `briefing_form_html` and the like).
    links
        ``(href, label)`` pairs of pages to go to instead; hrefs must be the app's own paths.

    Examples
    --------
    >>> page = error_page_html(404, "no ward 'X' is loaded", links=[("/wards", "All wards")])
    >>> "<title>placerisk: Not found</title>" in page, '<a href="/wards">All wards</a>' in page
    (True, True)
    """
    heading = heading or STATUS_HEADINGS.get(status, "Something went wrong")
    items = "".join(f'<li><a href="{escape(href)}">{escape(label)}</a></li>'
                    for href, label in links)
    nav = f"<nav><h2>Go to</h2><ul>{items}</ul></nav>" if items else ""
    body = (f"<h1>{escape(heading)}</h1><p class=\"message\" role=\"alert\">{escape(message)}"
            f"</p>{'<h2>Try again</h2>' + form if form else ''}{nav}")
    return page_html(f"placerisk: {heading}", body)


def _field(label: str, name: str, kind: str, value: object, **attrs: object) -> str:
    extra = "".join(f' {k.replace("_", "-")}="{escape(v)}"' for k, v in attrs.items())
    return (f'<label>{escape(label)} <input type="{kind}" name="{name}" '
            f'value="{escape(value)}"{extra}></label>')


def briefing_form_html(*, action: str, meeting: dt.date, since: dt.date | None = None) -> str:
    """Choose a meeting (and optionally a since date) for the JAG briefing pack.

    Examples
    --------
    >>> 'value="2025-07-01"' in briefing_form_html(action="/briefing",
    ...                                            meeting=dt.date(2025, 7, 1))
    True
    """
    return (f'<form method="get" action="{escape(action)}" class="placerisk-briefing-form">'
            + _field("Meeting date", "meeting", "date", meeting.isoformat(), required="")
            + _field("Changes since (empty: 28 days before the meeting)", "since", "date",
                     since.isoformat() if since else "")
            + "<button type=\"submit\">Make the pack</button></form>")


def ward_form_html(*, action: str, wards: pd.DataFrame, selected: str | None = None,
                   plan: Mapping[str, object] | None = None) -> str:
    """Choose a ward (names and codes from the store) for the patrol view or a patrol plan.

    Parameters
    ----------
    action
        The page the form asks for (``/patrol``, ``/patrol/plan``...).
    wards
        ``code`` and ``name`` of every loaded ward, in the order to list them.
    selected
        The ward chosen at first.
    plan
        For a patrol plan, the shift's ``date``, ``start``, ``hours`` and ``officers``
        shown at first; None for the patrol view (a ward only).
    """
    if wards.empty:
        return ("<p>No ward boundaries are loaded yet: load them with "
                "<code>placerisk boundaries load</code>.</p>")
    options = "".join(
        f'<option value="{escape(r.code)}"{" selected" if r.code == selected else ""}>'
        f"{escape(r.name)} ({escape(r.code)})</option>" for r in wards.itertuples())
    fields = f'<label>Ward <select name="ward" required>{options}</select></label>'
    if plan is not None:
        fields += (_field("Date", "date", "date", plan["date"], required="")
                   + _field("Start", "start", "time", plan["start"])
                   + _field("Hours", "hours", "number", plan["hours"], min=1, max=12,
                            step="any")
                   + _field("Officers", "officers", "number", plan["officers"], min=1,
                            max=10))
    button = "Make the plan" if plan is not None else "Show the patrol view"
    return (f'<form method="get" action="{escape(action)}" class="placerisk-ward-form">'
            f'{fields}<button type="submit">{button}</button></form>')
