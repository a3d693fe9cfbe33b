"""Explain one cell's or ward's current score: its parts by source and its top records.

The parts are computed exactly as the engine (`layers.hotspots.engine`) computes the current score:
every event is spread over the time steps (`layers.hotspots.cube.spread`), summed per source and
step, and the step values are multiplied by the decay factors (`layers.hotspots.cube.decay_factors`,
same half-life). So the parts of the independent sources (reports, incidents, places) add up to the
``current`` score a run stores for that cell or ward.

Bias guardrail (DOMAIN.md): records discovered by patrols are shown apart (``patrol``) and
are not in ``total``; ``patrol_share`` says how much of all weight came from them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from layers.hotspots.cube import PATROL, SOURCES, Steps, decay_factors, spread
from layers.hotspots.weights import Weights


@dataclass(frozen=True)
class Contribution:
    """What one record adds to the current score.

    Attributes
    ----------
    kind
        ``"report"``, ``"incident"`` or ``"place"``: the event's ``kind``.
    record
        The record's id within its kind (a report's or place's ``source_id``, an incident's
        key).
    source
        One of `layers.hotspots.cube.SOURCES` or `layers.hotspots.cube.PATROL`.
    date
        The start of its latest event (a place adds one event at the end of every step).
    weight
        The weight it added inside the time steps (summed over its events).
    decay
        ``contribution / weight``: the share of that weight still counting at the as-of date
        (the decay factors of its steps, weighted by its days in each).
    contribution
        Its part of the current score.
    events
        How many events it made (steps for a place, one for a report or an incident).
    """

    kind: str
    record: str
    source: str
    date: dt.date
    weight: float
    decay: float
    contribution: float
    events: int


@dataclass(frozen=True)
class Explanation:
    """The current score of one cell or ward taken apart.

    Attributes
    ----------
    as_of
        The date the score is for.
    half_life_days
        The decay half-life used.
    total
        The independent score: the sum of ``by_source`` (patrol records left out).
    by_source
        Current contribution of each independent source, keys `layers.hotspots.cube.SOURCES`.
    patrol
        Current contribution of patrol-discovered records (not in ``total``).
    patrol_share
        ``patrol / (total + patrol)``, 0 when both are 0.
    include_patrol
        Whether the weights put patrol records into the score (off by default).
    score
        The score the engine stores: ``total``, plus ``patrol`` if ``include_patrol``.
    records
        Number of records with a non-zero contribution.
    top
        The records contributing most, highest first.
    """

    as_of: dt.date
    half_life_days: float
    total: float
    by_source: dict[str, float]
    patrol: float
    patrol_share: float
    include_patrol: bool
    score: float
    records: int
    top: list[Contribution]

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready copy (dates as ISO strings)."""
        out = asdict(self)
        out["as_of"] = self.as_of.isoformat()
        for row in out["top"]:
            row["date"] = row["date"].isoformat()
        return out


def explain(events: pd.DataFrame, steps: Steps, *, as_of: dt.date, weights: Weights,
            top: int = 10) -> Explanation:
    """Take the current score of one cell or ward apart by source and by record.

    Parameters
    ----------
    events
        The events of one key (cell or ward), columns ``key, start, days, weight, source,
        record`` as made by `layers.hotspots.engine.events_for`.
    steps
        The run's time steps (the last one holds ``as_of``).
    as_of
        The date the score is for.
    weights
        The run's weights: the half-life and whether patrol records count.
    top
        How many records to list, highest contribution first.

    Returns
    -------
    Explanation
        Whose ``total`` equals the engine's current score of that key (``score`` when the
        weights include patrol records).

    Raises
    ------
    ValueError
        If the events hold more than one key or ``top`` is negative.

    Examples
    --------
    >>> from layers.hotspots.cube import make_steps
    >>> steps = make_steps(dt.date(2025, 3, 9), kind="week", count=3)
    >>> events = pd.DataFrame({"key": [1, 1], "start": pd.to_datetime(["2025-03-05"] * 2),
    ...                        "days": [1, 1], "weight": [4.0, 2.0],
    ...                        "source": ["reports", "patrol"], "kind": ["report"] * 2,
    ...                        "record": ["R1", "R2"]})
    >>> e = explain(events, steps, as_of=dt.date(2025, 3, 9), weights=Weights(half_life_days=7))
    >>> round(e.total, 3), round(e.patrol, 3), round(e.patrol_share, 3)
    (2.972, 1.486, 0.333)
    """
    _check(events, top)
    factors = decay_factors(steps, as_of=as_of, half_life_days=weights.half_life_days)
    if len(events):
        row, col, share = spread(events, steps)
    else:
        row, col, share = (np.array([], np.int64),) * 2 + (np.array([], float),)
    source = events["source"].to_numpy(object)[row]
    per_step = {name: np.bincount(col[source == name], weights=share[source == name],
                                  minlength=len(steps)) for name in (*SOURCES, PATROL)}
    by_source = {name: float(per_step[name] @ factors) for name in SOURCES}
    total = float(sum((per_step[name] for name in SOURCES), np.zeros(len(steps))) @ factors)
    patrol = float(per_step[PATROL] @ factors)
    rows = _by_record(events, row, share, share * factors[col])
    return Explanation(
        as_of=as_of, half_life_days=float(weights.half_life_days), total=total,
        by_source=by_source, patrol=patrol,
        patrol_share=patrol / (total + patrol) if total + patrol > 0 else 0.0,
        include_patrol=weights.include_patrol,
        score=total + patrol if weights.include_patrol else total,
        records=len(rows), top=[_contribution(r) for r in rows.head(top).itertuples()],
    )


def _check(events: pd.DataFrame, top: int) -> None:
    keys = events["key"].nunique() if len(events) else 0
    if keys > 1:
        msg = f"events: expected the events of one cell or ward, got {keys} keys"
        raise ValueError(msg)
    if top < 0:
        msg = f"top: expected a number of records >= 0, got {top}"
        raise ValueError(msg)


def _by_record(events: pd.DataFrame, row: np.ndarray, share: np.ndarray, now: np.ndarray
               ) -> pd.DataFrame:
    """Per record (kind, id and source): weight in the steps, contribution, latest date."""
    n = len(events)
    if n == 0:
        return pd.DataFrame(columns=["kind", "record", "source", "date", "weight",
                                     "contribution", "events"])
    source = events["source"].astype(str).to_numpy()
    frame = pd.DataFrame({
        "kind": events["kind"].astype(str).to_numpy(),
        "record": events["record"].astype(str).to_numpy(),
        "source": source,
        "start": pd.to_datetime(events["start"]).to_numpy(),
        "weight": np.bincount(row, weights=share, minlength=n),
        "contribution": np.bincount(row, weights=now, minlength=n),
    })
    grouped = frame.groupby(["kind", "record", "source"], as_index=False, sort=False).agg(
        date=("start", "max"), weight=("weight", "sum"), contribution=("contribution", "sum"),
        events=("start", "size"))
    grouped = grouped[grouped["contribution"] > 0]
    return grouped.sort_values(["contribution", "kind", "record"],
                               ascending=[False, True, True], kind="stable", ignore_index=True)


def _contribution(row: Any) -> Contribution:
    return Contribution(kind=row.kind, record=row.record, source=row.source,
                        date=pd.Timestamp(row.date).date(), weight=float(row.weight),
                        decay=float(row.contribution / row.weight),
                        contribution=float(row.contribution), events=int(row.events))


def weights_from_dict(data: dict[str, Any]) -> Weights:
    """Rebuild the `Weights` a run stored with `Weights.as_dict` (its ``params_json``).

    Examples
    --------
    >>> w = Weights(half_life_days=30.0, include_patrol=True)
    >>> weights_from_dict(w.as_dict()) == w
    True
    """
    return Weights(
        report_levels={int(k): float(v) for k, v in data["report_levels"].items()},
        place_levels={int(k): float(v) for k, v in data["place_levels"].items()},
        crime_types={str(k): float(v) for k, v in data["crime_types"].items()},
        other_crime_type=float(data["other_crime_type"]),
        patrol_generated=tuple(str(t) for t in data["patrol_generated"]),
        include_patrol=bool(data["include_patrol"]),
        half_life_days=float(data["half_life_days"]),
    )
