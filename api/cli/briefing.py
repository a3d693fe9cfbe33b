"""The ``placerisk briefing`` command: the JAG briefing pack for a meeting, as HTML or PDF."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from api.cli._common import with_store
from layers.reporting.briefing import default_since
from layers.store.engine import Store

FORMATS = {".html": "html", ".htm": "html", ".pdf": "pdf"}


def _format(out: Path) -> str:
    """The format named by the extension of ``out``; a usage error (exit 2) if none."""
    fmt = FORMATS.get(out.suffix.lower())
    if fmt is None:
        msg = (f"--out {out}: cannot tell the format from the extension {out.suffix!r}; "
               "use a .html or .pdf file")
        raise click.UsageError(msg)
    return fmt


def _write_briefing(store: Store, *, meeting: dt.date, since: dt.date | None,
                    out: Path) -> None:
    """Build the pack, write ``out`` and print a one-line summary."""
    from api.services.briefing import render_briefing  # weasyprint, matplotlib: when needed

    fmt = _format(out)
    if not out.parent.is_dir():
        msg = f"--out {out}: the folder {out.parent} does not exist"
        raise click.UsageError(msg)
    try:
        default_since(meeting, since)
    except ValueError as exc:
        name, _, msg = str(exc).partition(": ")
        raise click.BadParameter(msg, param_hint=f"'--{name}'") from None
    content = render_briefing(store, meeting=meeting, since=since, fmt=fmt)
    out.write_bytes(content)
    click.echo(f"JAG briefing pack for the meeting of {meeting.isoformat()}: "
               f"wrote {out} as {fmt} ({len(content) / 1000:.1f} kB)")


@click.command("briefing")
@click.option("--meeting", required=True, type=click.DateTime(["%Y-%m-%d"]),
              metavar="YYYY-MM-DD", help="The meeting date: the pack uses the newest "
                                         "scoring run as of this day or earlier.")
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), metavar="YYYY-MM-DD",
              help="Report changes from this day [default: 28 days before the meeting].")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              metavar="FILE", help="The file to write: .html or .pdf (from the extension).")
@with_store
def briefing(store: Store, meeting: dt.datetime, since: dt.datetime | None,
             out: Path) -> None:
    """Write the JAG briefing pack for a meeting: a print-ready page or PDF.

    The pack holds what changed since the last meeting: new, intensifying and fading
    hot spots (the newest scoring run as of the meeting, its last step against the step
    holding the since date); places whose MACE level changed; reviews due within 14
    days of the meeting, overdue ones marked; actions taken since, each with its
    measured outcome (independent reports before and after, or "too early to measure"
    while its after window runs); and the top 3 places per ward by level, then reports
    in the last 90 days. Each section has a static map. The pack states the scoring
    run's as-of date, fingerprint and parameters so that it can be reproduced; it holds
    no place notes.

    Exit status: 0 written, 1 no scoring run as of the meeting (run `placerisk score
    --as-of MEETING`), 2 bad usage.
    """
    _write_briefing(store, meeting=meeting.date(),
                    since=since.date() if since else None, out=out)
