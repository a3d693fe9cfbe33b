"""The period the data covers, and the steps of a run that lie inside it.

A step before a source's first record is not a quiet step: nobody was recording yet. Counted
as zero it makes cells look *new* and trends look *rising* when the history simply starts
mid-window. So a run keeps only the steps that every source with records covers
(`clip_steps`):

* concern reports cover the days from the first report to the newest (up to the as-of day),
  and the step holding the first report counts;
* police.uk crime covers whole months, from the first month loaded to the newest, and a step
  counts only if it starts on or after the first day of the first month.

Place levels are a state, not a stream of events, and do not limit the window. The newest
day of each source is stated too: police.uk is published about two months late, so its last
steps may hold no crime yet, which a reader of the map should know.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from layers.hotspots.cube import Steps

MIN_STEPS = 3  # Gi* trends and categories need a few steps to compare
SOURCE_NAMES = {"reports": "concern reports", "incidents": "police.uk crime"}


class CoverageError(ValueError):
    """The records cover too short a period to score."""


@dataclass(frozen=True)
class Coverage:
    """First and last day of each event source with records, up to the as-of day."""

    sources: dict[str, tuple[dt.date, dt.date]]
    missing_months: tuple[str, ...] = ()  # police.uk months (YYYY-MM) inside, with no crime

    @property
    def start(self) -> dt.date | None:
        """The first day every source with records covers (``None``: no records)."""
        return max((first for first, _ in self.sources.values()), default=None)

    @property
    def end(self) -> dt.date | None:
        """The newest day any source covers (``None``: no records)."""
        return max((last for _, last in self.sources.values()), default=None)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: ``{"start", "end", "sources": {name: {"first", "last"}}}``."""
        out: dict[str, Any] = {
            "start": _iso(self.start), "end": _iso(self.end),
            "sources": {name: {"first": first.isoformat(), "last": last.isoformat()}
                        for name, (first, last) in self.sources.items()},
        }
        if self.missing_months:
            out["missing_months"] = list(self.missing_months)
        return out


def _iso(day: dt.date | None) -> str | None:
    return day.isoformat() if day else None


def data_coverage(reports: pd.DataFrame, incidents: pd.DataFrame) -> Coverage:
    """The coverage of the reports (``reported_on``) and incidents (``month``, YYYY-MM).

    Examples
    --------
    >>> reports = pd.DataFrame({"reported_on": [dt.date(2024, 2, 3), dt.date(2024, 5, 9)]})
    >>> incidents = pd.DataFrame({"month": ["2024-01", "2024-03"]})
    >>> c = data_coverage(reports, incidents)
    >>> c.as_dict()["sources"]["incidents"], c.start.isoformat()
    ({'first': '2024-01-01', 'last': '2024-03-31'}, '2024-02-03')
    >>> c.missing_months  # no police.uk file for February was imported
    ('2024-02',)
    """
    sources: dict[str, tuple[dt.date, dt.date]] = {}
    if len(reports):
        days = pd.to_datetime(reports["reported_on"])
        sources["reports"] = (days.min().date(), days.max().date())
    if len(incidents):
        months = pd.PeriodIndex(incidents["month"].astype(str), freq="M")
        sources["incidents"] = (months.min().start_time.date(), months.max().end_time.date())
        every = pd.period_range(months.min(), months.max(), freq="M")
        missing = tuple(str(m) for m in every.difference(months.unique()))
        return Coverage(sources, missing)
    return Coverage(sources)


def clip_steps(steps: Steps, coverage: Coverage) -> Steps:
    """The steps every source with records covers (all of them if there are no records).

    Reports are a sample of what happened, so the step holding the first report counts;
    police.uk crime is spread over whole months, so a step counts from the first day of the
    first month loaded (a week half in that month would hold half a week of crime).

    Examples
    --------
    >>> from layers.hotspots.cube import make_steps
    >>> s = make_steps(dt.date(2024, 3, 31), kind="week", count=8)
    >>> c = Coverage({"reports": (dt.date(2024, 2, 14), dt.date(2024, 3, 30))})
    >>> clip_steps(s, c).labels[:3], len(clip_steps(s, c))
    (['2024-02-12', '2024-02-19', '2024-02-26'], 7)
    >>> c = Coverage({"incidents": (dt.date(2024, 2, 1), dt.date(2024, 3, 31))})
    >>> clip_steps(s, c).labels[0]
    '2024-02-05'
    """
    keep = np.ones(len(steps), dtype=bool)
    for name, (first, _) in coverage.sources.items():
        day = np.datetime64(first, "D")
        keep &= (steps.ends > day) if name == "reports" else (steps.starts >= day)
    return Steps(steps.kind, steps.starts[keep], steps.ends[keep])


def check_steps(steps: Steps, coverage: Coverage, *, asked: int) -> None:
    """Refuse a window of fewer than `MIN_STEPS` whole steps, in the user's terms."""
    if len(steps) >= MIN_STEPS:
        return
    unit = steps.kind
    if len(steps) == asked:
        msg = f"--steps {asked}: need at least {MIN_STEPS} {unit}s to score"
        raise CoverageError(msg)
    hint = ("use --step week, or import more history" if unit == "month"
            else "import more history, or score a later --as-of")
    msg = (f"the records cover {describe(coverage)}: only {len(steps)} whole {unit}"
           f"{'s' if len(steps) != 1 else ''} of the {asked} asked for, and scoring needs at "
           f"least {MIN_STEPS}; {hint}")
    raise CoverageError(msg)


def describe(coverage: Coverage) -> str:
    """One line for maps, packs and messages.

    Examples
    --------
    >>> describe(Coverage({"incidents": (dt.date(2024, 1, 1), dt.date(2024, 3, 31))}))
    'police.uk crime 2024-01-01 to 2024-03-31'
    >>> describe(Coverage({}))
    'no concern reports and no police.uk crime'
    """
    if not coverage.sources:
        return "no concern reports and no police.uk crime"
    return "; ".join(f"{SOURCE_NAMES[name]} {first} to {last}"
                     for name, (first, last) in coverage.sources.items())


def covered_text(covered: dict[str, Any] | None, *, step: str) -> str:
    """The sentence maps and packs print about a run's period (`layers.hotspots.read.covered`).

    Examples
    --------
    >>> covered = {"first": "2024-01-01", "last": "2024-03-31", "steps_asked": 104,
    ...            "steps_scored": 13, "sources": {"incidents": {"first": "2024-01-01",
    ...                                                          "last": "2024-03-31"}}}
    >>> print(covered_text(covered, step="week"))  # doctest: +NORMALIZE_WHITESPACE
    Scored 13 weeks, 2024-01-01 to 2024-03-31 (104 asked; the data begin later).
    Data: police.uk crime 2024-01-01 to 2024-03-31.
    >>> covered_text(None, step="week")
    'Period covered by the data: not recorded for this run (re-run placerisk score).'
    """
    if not covered:
        return "Period covered by the data: not recorded for this run (re-run placerisk score)."
    n, asked = covered["steps_scored"], covered["steps_asked"]
    short = f" ({asked} asked; the data begin later)" if n < asked else ""
    sources = Coverage({name: (dt.date.fromisoformat(p["first"]), dt.date.fromisoformat(p["last"]))
                        for name, p in covered["sources"].items()})
    gaps = gap_text(covered.get("missing_months") or ())
    return (f"Scored {n} {step}{'s' if n != 1 else ''}, {covered['first']} to "
            f"{covered['last']}{short}. Data: {describe(sources)}.{gaps}")


def gap_text(months: tuple[str, ...] | list[str]) -> str:
    """The sentence about police.uk months missing inside the data ('' when none).

    Examples
    --------
    >>> gap_text(["2024-02"])
    ' No police.uk crime was imported for 2024-02: it counts as a month without crime.'
    >>> gap_text(())
    ''
    """
    if not months:
        return ""
    listed = ", ".join(months)
    return (f" No police.uk crime was imported for {listed}: "
            f"{'it counts' if len(months) == 1 else 'they count'} as "
            f"{'a month' if len(months) == 1 else 'months'} without crime.")


__all__ = ["covered_text", "gap_text", "MIN_STEPS", "Coverage", "CoverageError", "check_steps",
           "clip_steps", "data_coverage", "describe"]
