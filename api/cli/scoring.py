"""``placerisk score``: hot spots over time, stored as a scoring run with its parameters."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from typing import cast

import click

from api.cli._common import with_store
from layers.store.engine import Store


@click.command()
@click.option("--as-of", type=click.DateTime(["%Y-%m-%d"]),
              help="Score as the data stood at the end of this day: later events and records "
                   "stored later are left out [default: today, or the newest record's day "
                   "when the window to today holds no record].")
@click.option("--step", type=click.Choice(["week", "month"]), default="week", show_default=True,
              help="Time step of the space-time cube.")
@click.option("--steps", "n_steps", type=click.IntRange(3, 520),
              help="Number of steps ending at the as-of date [default: 104 weeks, 24 months].")
@click.option("--k", type=click.IntRange(1, 5), default=1, show_default=True,
              help="Gi* neighbourhood: H3 cells within K steps, the cell itself included.")
@click.option("--alpha", type=click.FloatRange(0, 1, min_open=True, max_open=True),
              default=0.05, show_default=True, help="Significance level.")
@click.option("--correction", type=click.Choice(["fdr_bh", "holm", "none"]), default="fdr_bh",
              show_default=True, help="Multiple-testing correction per step.")
@click.option("--weights", "weights_file", type=click.Path(dir_okay=False, path_type=Path),
              help="TOML file overriding the default weight table (layers/hotspots/weights.py).")
@click.option("--half-life", type=click.FloatRange(1, 3650), metavar="DAYS",
              help="Half-life of the current score [default: 90, or the weights file's].")
@click.option("--known-by", type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M"]),
              help="Count records stored up to this time [default: the end of the as-of "
                   "day, which reproduces a past run exactly]. Give a later time to include "
                   "records that arrived late, such as history imported today.")
@click.option("--full", is_flag=True, help="Recompute every step instead of reusing unchanged "
                                           "steps of the last run with the same parameters.")
@with_store
def score(store: Store, as_of: dt.datetime | None, step: str, n_steps: int | None, k: int,
          alpha: float, correction: str, weights_file: Path | None,
          half_life: float | None, known_by: dt.datetime | None, full: bool) -> None:
    """Score hot spots over time: Gi* per cell and step, trends and emerging categories.

    Reports, place levels and police.uk crime are weighted (default table in
    layers/hotspots/weights.py), summed per H3 cell and week, and tested with Getis-Ord Gi* against
    the whole study area. Records discovered by patrols are left out of the score so that
    patrolling cannot make its own hot spot. The run is stored with its parameters.
    """
    from layers.hotspots.emerging import CATEGORIES
    from layers.hotspots.engine import ScoreParams
    from layers.hotspots.getis import Method
    from layers.hotspots.runs import default_as_of, run_scoring, run_warnings
    from layers.hotspots.weights import load_weights
    from layers.store.engine import utcnow

    weights = load_weights(weights_file)
    if half_life:
        weights = dataclasses.replace(weights, half_life_days=half_life)
    cutoff = known_by.replace(tzinfo=dt.UTC) if known_by else None
    day = as_of.date() if as_of else None
    if day is not None and day > dt.date.today():
        msg = (f"{day} is after today ({dt.date.today()}): the weeks to come hold no records "
               "yet and would score as quiet weeks; give today or an earlier day")
        raise click.BadParameter(msg, param_hint="'--as-of'")
    if day is None:
        day, why = default_as_of(store, today=dt.date.today(), step=step, n_steps=n_steps)
        if why:
            click.secho(f"note: {why}", fg="yellow", err=True)
            cutoff = cutoff or utcnow()  # not a past meeting's cut-off: count what is known
    params = ScoreParams(as_of=day, step=step, n_steps=n_steps, k=k, alpha=alpha,
                         correction=cast(Method, correction), weights=weights)
    run = run_scoring(store, params, known_by=cutoff, incremental=not full)
    for warning in run_warnings(run):
        click.secho(f"warning: {warning}", fg="yellow", err=True)
    h = run.hotspots
    click.echo(f"run {run.run_id}: {len(h.steps)} {step}s to {params.as_of}, "
               f"{len(h.cells)} cells near data in a study grid of {h.grid_size}, "
               f"{run.duration_s:.2f} s ({h.reused_steps} unchanged steps reused)")
    counts = {c: int((h.category == c).sum()) for c in CATEGORIES}
    click.echo("categories: " + ", ".join(f"{c} {n}" for c, n in counts.items() if n))
    last = h.concentration.iloc[-1]
    click.echo(f"last step: {last['top_1pct']:.0%} of harm in the top 1% of cells, "
               f"{last['top_5pct']:.0%} in the top 5%, Gini {last['gini']:.2f}")
    if len(h.wards):
        top = h.wards.head(5)
        click.echo("highest wards now: " + ", ".join(
            f"{w.ward_code} ({w.current:.0f})" for w in top.itertuples()))
