"""``placerisk outcomes``: the measured effect of every disruption, from the command line."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import click
import pandas as pd

from api.cli._common import with_store
from api.services.outcomes import json_records
from layers.action.outcomes import inputs as outcome_inputs
from layers.action.outcomes import table as disruptions
from layers.action.outcomes.measures import DEFAULT_DAYS
from layers.records import read as records_read
from layers.records.spreadsheet import neutralise_csv
from layers.store.engine import Store
from maps.outcomes_page import outcomes_page_html

FORMATS = {".csv": "csv", ".json": "json", ".html": "html", ".htm": "html"}


def write_table(table: pd.DataFrame, summary: pd.DataFrame, out: Path, fmt: str, *,
                days: int, alpha: float, as_of: dt.date) -> None:
    """Write the outcome table as CSV (formula-safe), JSON or an HTML page."""
    if fmt == "csv":
        neutralise_csv(table).to_csv(out, index=False, encoding="utf-8")
    elif fmt == "json":
        body = {"days": days, "alpha": alpha, "as_of": as_of.isoformat(),
                "by_type": json_records(summary), "data": json_records(table)}
        out.write_text(json.dumps(body, indent=1), encoding="utf-8")
    else:
        out.write_text(outcomes_page_html(table, summary, days=days, alpha=alpha, as_of=as_of),
                       encoding="utf-8")


def _print_summary(summary: pd.DataFrame) -> None:
    if summary.empty:
        click.echo("no activity has a complete after window yet")
        return
    click.echo(f"{'activity type':<24} {'measured':>8} {'worked':>7} {'displaced':>9} "
               f"{'no effect':>9} {'too few':>7} {'worse':>6}")
    for r in summary.itertuples(index=False):
        click.echo(f"{r.activity_type:<24} {r.measured:>8} {r.worked:>7} {r.displaced:>9} "
                   f"{r.no_effect:>9} {r.too_few:>7} {r.worse:>6}")


@click.command("outcomes")
@click.option("--days", type=click.IntRange(7, 730), default=DEFAULT_DAYS,
              show_default=True, help="Length of the before and after windows.")
@click.option("--alpha", type=click.FloatRange(0, 0.5, min_open=True, max_open=True),
              default=0.05, show_default=True,
              help="Two-sided test level (0.05 gives 95% intervals).")
@click.option("--crime-type", "crime_types", multiple=True, metavar="TYPE",
              help="Also measure police.uk crimes of this type (repeatable), e.g. "
                   "'Drugs'. police.uk gives months only: use windows of 90+ days.")
@click.option("--as-of", "as_of", type=click.DateTime(["%Y-%m-%d"]),
              metavar="YYYY-MM-DD", help="Read the outcomes on this day [default: today]: "
              "no verdict for an activity whose after window is not over by then.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              metavar="FILE", help="Write the whole table: .csv, .json or .html.")
@with_store
def outcomes(store: Store, days: int, alpha: float, crime_types: tuple[str, ...],
             as_of: dt.datetime | None, out: Path | None) -> None:
    """Measure the effect of every disruption activity and JAG campaign.

    For each located activity (and each campaign: two or more activities sharing a
    jag_ref), independent concern reports are counted in equal windows before and
    after its start at the target (its cell and the ring around it), a buffer ring
    (displacement) and matched control cells of the same ward. The table gives the
    gross and net change, the Weighted Displacement Quotient, the Weighted
    Displacement Difference with its interval, a harm-weighted variant and a verdict
    in words. No verdict is given for an activity whose after window is not over by
    the as-of date and covered by the records: its progress is shown instead ("day 12
    of 90"). The summary counts verdicts per activity type, for activities whose after
    window is over.
    """
    day = as_of.date() if as_of else dt.date.today()
    fmt = None
    if out is not None:
        fmt = FORMATS.get(out.suffix.lower())
        if fmt is None:
            raise click.UsageError(f"--out {out.name}: use a .csv, .json or .html file")
    with store.connect() as conn:
        known = set(records_read.incident_types(conn)) if crime_types else set()
        unknown = sorted(set(crime_types) - known)
        if unknown:
            raise click.UsageError(
                f"--crime-type {unknown[0]!r} is not in the police.uk data loaded; "
                f"known types: {', '.join(sorted(known)) or 'none (import police-uk)'}")
        inputs = outcome_inputs.load_outcome_inputs(conn, crime_types=crime_types)
    table = disruptions.disruption_table(inputs, days=days, alpha=alpha, as_of=day)
    summary = disruptions.by_type(table) if len(table) else pd.DataFrame()
    levels = table["level"].value_counts() if len(table) else pd.Series(dtype=int)
    click.echo(f"{levels.get('activity', 0)} activities and {levels.get('campaign', 0)} "
               f"campaigns measured over {days}-day windows; {inputs.unlocated} "
               "activities without a location could not be measured")
    _print_summary(summary)
    if out is not None and fmt is not None:
        write_table(table, summary, out, fmt, days=days, alpha=alpha, as_of=day)
        click.echo(f"wrote {out}")
