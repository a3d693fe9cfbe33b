"""Did a place-based activity work? Before and after counts at the target, buffer and control.

DOMAIN.md ("Measuring outcomes of a place-based intervention") names the areas and the tests.
Counts are taken over two windows of equal length, ``b`` before and ``a`` after the start, in
four areas: R the response (target) area, B its buffer (where displaced activity would show
first), C a control area and CB the buffer's own control. From the eight `Counts`:

* gross effect ``(Ra - Rb) / Rb`` and net effect ``(Ra / Rb) / (Ca / Cb) - 1``;
* Weighted Displacement Quotient (Bowers and Johnson 2003),
  ``WDQ = (Ba/Ca - Bb/Cb) / (Ra/Ca - Rb/Cb)``, read only when the denominator is negative
  (the target improved relative to the control): ``WDQ > 0`` diffusion of benefits,
  ``0 >= WDQ >= -1`` some displacement but a net gain, ``WDQ < -1`` displacement outweighs the
  effect (`wdq_reading`);
* Weighted Displacement Difference (Wheeler and Ratcliffe 2018),
  ``WDD = (Ra - Rb) - (Ca - Cb) + (Ba - Bb) - (CBa - CBb)``, variance under a Poisson
  assumption the sum of the eight counts, with a normal z, two-sided p-value and confidence
  interval. Its two halves are tested too: the *local* difference ``(Ra - Rb) - (Ca - Cb)``
  (did the target fall beyond chance?) and the *displacement* difference
  ``(Ba - Bb) - (CBa - CBb)`` (did the buffer rise beyond chance?). Negative is good.

Harm-weighted outcomes use the same formulas over sums of per-record weights (MACE level or
crime harm weights, `weighted_counts`); under a compound Poisson assumption the variance of a
weighted sum is the sum of the squared weights, passed to the tests as ``variance``. With
every weight 1 both are the plain counts, so there is one code path.

Areas (`choose_areas`)
----------------------
* **target R**: the activity's cell(s) and their ring 1 (grid disk of radius 1);
* **buffer B**: ring 2 of the activity's cell(s), outside the target;
* **control C**: cells of the activity's ward(s) at least 4 steps from every activity cell
  (when a small ward, such as a town centre, has none that far: of the other wards of its
  authority, when the candidates name one in ``authority_code``, else of the whole study
  area; so an activity's figures never rest on another authority's records),
  so neither they nor their neighbours touch the target or buffer; of those, the
  ``n_control`` whose before-window count is closest to the target's mean count per cell,
  ties to the lower cell id. ``n_control`` defaults to the number of target cells, so the
  control's before total is close to the target's: WDD subtracts raw differences, which
  assumes areas of comparable size;
* **buffer control CB**: chosen by the same rule from the candidates left after C, matched to
  the buffer's mean count per cell, as many cells as the buffer. CB is a control for the
  buffer as C is for the target; it need not surround C.

Matching on the before window has a known weakness: when the target is hotter than any
candidate truly is, the closest candidates are those with a lucky before window, whose counts
then fall back (regression to the mean) and make the target look worse relative to them.
`outcome_table` therefore matches on the window before the before window whenever the data
reach back that far; callers of `choose_areas` can pass such a ``before`` too, or give areas.

An analyst's own areas are accepted through `given_areas`; overlapping areas raise
`AreaError` naming the cell.

Windows (`count_windows`)
-------------------------
Before is ``[start - days, start)``, after is ``[start, start + days)``, in whole days: the
activity's own start day counts as *after*. Records outside both windows are ignored.

Verdicts (`assess`)
-------------------
In this order: ``too_few`` when the target had fewer than ``min_before`` (5) records before;
``displaced`` when the target fell beyond chance (local difference) but the buffer rose
beyond chance, or WDQ < -1, or WDD is not negative; ``worked`` when the target fell beyond
chance otherwise; ``worse`` when the target, or target and buffer together (WDD), rose beyond
chance; ``no_effect`` otherwise. "Beyond chance" is a two-sided test at ``alpha``.

No verdict before the after window is over (`after_window`)
-----------------------------------------------------------
A verdict, and any figure read from the after window (its counts, the effects, WDQ, WDD and
their tests: `AFTER_FIELDS`), is given only once the whole after window has passed by the
as-of date *and* the records reach its last day. Until then the verdict is `TOO_EARLY` and
its words give the progress instead ("day 12 of 90"). Every view (the outcome table, the
ward profile, the briefing pack, CSV and JSON) reads the verdict through this one rule,
applied to the table by `layers.action.outcomes.table.judged`. `VERDICT_NAMES` are the short names
every view shows.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from statistics import NormalDist
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt
import pandas as pd

from geo import h3index
from layers.action.outcomes import _fast as _outcome_fast

MIN_BEFORE = 5
DEFAULT_DAYS = 90
DEFAULT_ALPHA = 0.05
# The windows and test levels the app offers (`api.routes.outcomes`): the table is computed
# once per change of the data for each pair asked for, so the choice is kept small.
DAY_CHOICES = (30, 60, 90, 180, 365)
ALPHA_CHOICES = (0.01, 0.05, 0.1)
TARGET_RING = 1
BUFFER_RING = 2
EXCLUSION_RING = 4  # control cells are at least this many steps from every activity cell
VERDICTS = ("worked", "displaced", "no_effect", "too_few", "worse")
WDQ_READINGS = {
    "undefined": "WDQ is undefined (no control counts, or no change relative to the control)",
    "no_success": "the target did not improve relative to the control, so WDQ does not apply",
    "diffusion": "diffusion of benefits: the surrounding streets improved too",
    "none": "no displacement and no diffusion of benefits",
    "net_gain": "some displacement, but less than the gain at the target",
    "displacement": "displacement outweighs the gain at the target",
}
COUNT_FIELDS = ("Rb", "Ra", "Bb", "Ba", "Cb", "Ca", "CBb", "CBa")
# Coefficients over COUNT_FIELDS of the three differences.
_WDD = np.array([-1, 1, -1, 1, 1, -1, 1, -1], dtype=np.float64)
_LOCAL = np.array([-1, 1, 0, 0, 1, -1, 0, 0], dtype=np.float64)
_DISPLACEMENT = np.array([0, 0, -1, 1, 0, 0, 1, -1], dtype=np.float64)
AREA_NAMES = ("target", "buffer", "control", "buffer_control")
ACTIVITY_COLUMNS = ("id", "activity_type", "h3_cell", "started_at", "jag_ref")


class AreaError(ValueError):
    """Target, buffer and control areas overlap or cannot be chosen."""


@dataclass(frozen=True)
class Counts:
    """Records (or weighted sums) per area and window.

    R target, B buffer, C control, CB buffer's control; ``b`` before, ``a`` after. Every value
    must be finite and non-negative.

    Examples
    --------
    >>> Counts(Rb=10, Ra=5, Bb=8, Ba=8, Cb=20, Ca=20, CBb=9, CBa=9).to_array().tolist()[:2]
    [10.0, 5.0]
    """

    Rb: float
    Ra: float
    Bb: float
    Ba: float
    Cb: float
    Ca: float
    CBb: float
    CBa: float

    def __post_init__(self) -> None:
        values = self.to_array()
        bad = ~np.isfinite(values) | (values < 0)
        if bad.any():
            name = COUNT_FIELDS[int(np.flatnonzero(bad)[0])]
            msg = f"count {name} must be a finite number >= 0, got {getattr(self, name)!r}"
            raise ValueError(msg)

    def to_array(self) -> np.ndarray:
        """The eight values in the order of `COUNT_FIELDS`."""
        return np.array([getattr(self, name) for name in COUNT_FIELDS], dtype=np.float64)


@dataclass(frozen=True)
class Difference:
    """A difference of counts with its normal-approximation test.

    Attributes
    ----------
    estimate
        The difference (negative: fewer records, good).
    se
        Standard error, the square root of the summed variance terms.
    z, p
        ``estimate / se`` and its two-sided p-value; NaN when ``se == 0``.
    ci_low, ci_high
        Two-sided ``1 - alpha`` confidence interval.
    alpha
        Significance level of the test.
    """

    estimate: float
    se: float
    z: float
    p: float
    ci_low: float
    ci_high: float
    alpha: float

    @property
    def fell(self) -> bool:
        """Whether the difference is negative beyond chance at ``alpha``."""
        return self.estimate < 0 and self.p < self.alpha

    @property
    def rose(self) -> bool:
        """Whether the difference is positive beyond chance at ``alpha``."""
        return self.estimate > 0 and self.p < self.alpha


def _check_alpha(alpha: float) -> float:
    if not 0 < alpha < 1:
        msg = f"alpha must be in (0, 1), got {alpha!r}"
        raise ValueError(msg)
    return float(alpha)


def _difference(coef: np.ndarray, counts: Counts, variance: Counts | None,
                alpha: float) -> Difference:
    """The difference ``coef @ counts`` with variance ``coef**2 @ variance``."""
    alpha = _check_alpha(alpha)
    estimate = float(coef @ counts.to_array())
    var = float(coef**2 @ (counts if variance is None else variance).to_array())
    se = math.sqrt(var)
    half = NormalDist().inv_cdf(1 - alpha / 2) * se
    if se == 0:
        z = p = math.nan
    else:
        z = estimate / se
        p = math.erfc(abs(z) / math.sqrt(2.0))  # 2 (1 - Phi(|z|)), keeping small p's digits
    return Difference(estimate, se, z, p, estimate - half, estimate + half, alpha)


def wdd(counts: Counts, *, variance: Counts | None = None, alpha: float = 0.05) -> Difference:
    """Weighted Displacement Difference test (Wheeler and Ratcliffe 2018).

    Parameters
    ----------
    counts
        Records per area and window, or weighted sums (`weighted_counts`).
    variance
        Variance of each of the eight values; by default the counts themselves (Poisson). For
        weighted sums pass the sums of squared weights (compound Poisson).
    alpha
        Significance level; the confidence interval is ``1 - alpha``.

    Examples
    --------
    The worked example of Wheeler and Ratcliffe (2018):

    >>> c = Counts(Rb=207, Ra=110, Bb=178, Ba=157, Cb=308, Ca=318, CBb=150, CBa=140)
    >>> r = wdd(c)
    >>> r.estimate, round(r.se ** 2, 9), round(r.z, 2), round(r.ci_low), round(r.ci_high)
    (-118.0, 1568.0, -2.98, -196, -40)
    """
    return _difference(_WDD, counts, variance, alpha)


def local_difference(counts: Counts, *, variance: Counts | None = None,
                     alpha: float = 0.05) -> Difference:
    """The target-only difference in differences ``(Ra - Rb) - (Ca - Cb)``; see `wdd`.

    Examples
    --------
    >>> c = Counts(Rb=207, Ra=110, Bb=178, Ba=157, Cb=308, Ca=318, CBb=150, CBa=140)
    >>> r = local_difference(c)
    >>> r.estimate, round(r.se ** 2, 9)
    (-107.0, 943.0)
    """
    return _difference(_LOCAL, counts, variance, alpha)


def displacement_difference(counts: Counts, *, variance: Counts | None = None,
                            alpha: float = 0.05) -> Difference:
    """The buffer-only difference in differences ``(Ba - Bb) - (CBa - CBb)``; see `wdd`."""
    return _difference(_DISPLACEMENT, counts, variance, alpha)


def _wdq_parts(c: Counts) -> tuple[float, float]:
    """Numerator and denominator of the WDQ; NaN when a control count is 0."""
    if c.Ca == 0 or c.Cb == 0:
        return math.nan, math.nan
    return c.Ba / c.Ca - c.Bb / c.Cb, c.Ra / c.Ca - c.Rb / c.Cb


def wdq(counts: Counts) -> float:
    """Weighted Displacement Quotient (Bowers and Johnson 2003); NaN when undefined.

    Undefined when a control count is 0 or the target changed exactly as the control did
    (zero denominator). Read it with `wdq_reading`.

    Examples
    --------
    >>> round(wdq(Counts(Rb=100, Ra=60, Bb=50, Ba=55, Cb=200, Ca=190, CBb=80, CBa=78)), 4)
    -0.2143
    >>> wdq(Counts(Rb=1, Ra=1, Bb=1, Ba=1, Cb=0, Ca=1, CBb=1, CBa=1))
    nan
    """
    num, den = _wdq_parts(counts)
    if math.isnan(den) or math.isclose(counts.Ra / counts.Ca, counts.Rb / counts.Cb):
        return math.nan
    return num / den + 0.0  # + 0.0 turns -0.0 into 0.0


def wdq_reading(counts: Counts) -> str:
    """What the WDQ says, as a key of `WDQ_READINGS`.

    Examples
    --------
    >>> wdq_reading(Counts(Rb=100, Ra=60, Bb=50, Ba=55, Cb=200, Ca=190, CBb=80, CBa=78))
    'net_gain'
    >>> WDQ_READINGS[_]
    'some displacement, but less than the gain at the target'
    """
    q = wdq(counts)
    if math.isnan(q):
        return "undefined"
    num, den = _wdq_parts(counts)
    if den > 0:
        return "no_success"
    if math.isclose(counts.Ba / counts.Ca, counts.Bb / counts.Cb):
        return "none"
    if q > 0:
        return "diffusion"
    return "net_gain" if q >= -1 else "displacement"


def gross_effect(counts: Counts) -> float:
    """Relative change at the target, ``(Ra - Rb) / Rb``; NaN when ``Rb == 0``.

    Examples
    --------
    >>> gross_effect(Counts(Rb=100, Ra=60, Bb=0, Ba=0, Cb=0, Ca=0, CBb=0, CBa=0))
    -0.4
    """
    return math.nan if counts.Rb == 0 else (counts.Ra - counts.Rb) / counts.Rb


def net_effect(counts: Counts) -> float:
    """Target change relative to control change, ``(Ra / Rb) / (Ca / Cb) - 1``, or NaN.

    Examples
    --------
    >>> net_effect(Counts(Rb=100, Ra=60, Bb=0, Ba=0, Cb=200, Ca=240, CBb=0, CBa=0))
    -0.5
    """
    c = counts
    if c.Rb == 0 or c.Ca == 0 or c.Cb == 0:
        return math.nan
    return (c.Ra * c.Cb) / (c.Rb * c.Ca) - 1


# --- areas ---------------------------------------------------------------------------------

def _canonical(cells: Sequence[str] | np.ndarray) -> list[str]:
    """Validated lower-case hex ids; raises `geo.h3index.H3Error` naming a bad one."""
    ids: list[str] = h3index.cells_to_str(h3index.str_to_cells(list(cells))).tolist()
    return ids


def _disk(cells: list[str], k: int) -> set[str]:
    """The cells within ``k`` steps of any of ``cells``."""
    _, neighbour = h3index.grid_disks(h3index.str_to_cells(cells), k=k)
    return set(h3index.cells_to_str(np.unique(neighbour)).tolist())


@dataclass(frozen=True)
class Areas:
    """Disjoint sets of cells, stored sorted, as canonical hex ids.

    Raises
    ------
    AreaError
        If the target is empty or a cell is in two areas.
    """

    target: tuple[str, ...]
    buffer: tuple[str, ...]
    control: tuple[str, ...]
    buffer_control: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        seen: dict[str, str] = {}
        for name in AREA_NAMES:
            cells = tuple(sorted(set(_canonical(getattr(self, name)))))
            object.__setattr__(self, name, cells)
            for cell in cells:
                if cell in seen:
                    msg = f"cell {cell} is in both {seen[cell]} and {name}; areas must not overlap"
                    raise AreaError(msg)
                seen[cell] = name
        if not self.target:
            raise AreaError("the target area has no cells")


def given_areas(target: Sequence[str], buffer: Sequence[str], control: Sequence[str],
                buffer_control: Sequence[str] = ()) -> Areas:
    """An analyst's own areas, checked to be valid H3 cells and disjoint.

    Raises
    ------
    AreaError
        If a cell is in two areas (the message names it) or the target is empty.

    Examples
    --------
    >>> given_areas(["89194655863ffff"], [], ["89194655863FFFF"])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    layers.action.outcomes.measures.AreaError: cell 89194655863ffff is in both target and ...
    """
    return Areas(tuple(target), tuple(buffer), tuple(control), tuple(buffer_control))


def _wards(centre: list[str], target: set[str], candidates: pd.DataFrame) -> set[str]:
    """Wards of the activity cells, else of any target cell; `AreaError` if none."""
    for cells in (centre, target):
        wards = set(candidates.loc[candidates["h3_cell"].isin(list(cells)), "ward_code"]
                    .dropna().tolist())
        if wards:
            return wards
    msg = f"none of the target cells {sorted(target)} is among the candidate cells"
    raise AreaError(msg)


def _same_authority(cells: pd.DataFrame, wards: set[str]) -> pd.Series:
    """Whether each candidate is in an authority of ``wards`` (all, naming no authority)."""
    if "authority_code" not in cells.columns:
        return pd.Series(True, index=cells.index)
    mine = set(cells.loc[cells["ward_code"].isin(list(wards)), "authority_code"].dropna())
    return cells["authority_code"].isin(list(mine))


def _closest(pool: pd.DataFrame, level: float, n: int) -> list[str]:
    """The ``n`` cells of ``pool`` (sorted by id) whose ``before`` is closest to ``level``.

    A stable sort on the distance keeps equal distances in id order: ties to the lower id.
    """
    distance = np.abs(pool["before"].to_numpy(dtype=np.float64) - level)
    order = np.argsort(distance, kind="stable")[:n]
    cells: list[str] = pool["h3_cell"].to_numpy()[order].tolist()
    return cells


def choose_areas(target_cells: Sequence[str], candidate_cells: pd.DataFrame, *,
                 before: pd.Series | None = None, n_control: int | None = None,
                 checked: bool = False) -> Areas:
    """Target, buffer, control and buffer control by the rule in the module docstring.

    Parameters
    ----------
    target_cells
        The activity's cell(s), hex ids.
    candidate_cells
        Columns ``h3_cell`` and ``ward_code``: the cells controls may come from; with
        ``authority_code``, a small ward's controls stay in its authority.
    before
        Before-window count (or weighted sum) per cell, indexed by hex id; cells not in it
        count 0. Without it every candidate ties and the lowest ids are taken.
    n_control
        Number of control cells; by default as many as the target has.
    checked
        The candidate ids are already canonical lower-case hex ids (`outcome_table` checks
        them once rather than once per activity).

    Raises
    ------
    AreaError
        If no target cell has a ward among the candidates, or no candidate is left for the
        control.
    """
    missing = {"h3_cell", "ward_code"} - set(candidate_cells.columns)
    if missing:
        msg = f"candidate_cells lacks columns {sorted(missing)}"
        raise ValueError(msg)
    centre = _canonical(target_cells)
    if not centre:
        raise AreaError("no target cells given")
    target = _disk(centre, TARGET_RING)
    buffer = _disk(centre, BUFFER_RING) - target
    cells = (candidate_cells if checked
             else candidate_cells.assign(h3_cell=_canonical(candidate_cells["h3_cell"])))
    wards = _wards(centre, target, cells)
    near = _disk(centre, EXCLUSION_RING - 1)
    far = ~cells["h3_cell"].isin(list(near))
    pool = cells.loc[cells["ward_code"].isin(list(wards)) & far, ["h3_cell"]]
    if pool.empty:  # a small ward (a town centre): match in its authority instead
        pool = cells.loc[far & cells["ward_code"].notna() & _same_authority(cells, wards),
                         ["h3_cell"]]
    pool = pool.drop_duplicates().sort_values("h3_cell")
    counts = pd.Series(dtype=np.float64) if before is None else before.astype(np.float64)
    pool = pool.assign(before=counts.reindex(pool["h3_cell"]).fillna(0.0).to_numpy())
    if pool.empty:
        msg = f"no candidate cell is {EXCLUSION_RING}+ steps away from ward(s) {sorted(wards)}"
        raise AreaError(msg)
    mean = counts.reindex(sorted(target)).fillna(0.0).mean()
    control = _closest(pool, mean, len(target) if n_control is None else n_control)
    rest = pool.loc[~pool["h3_cell"].isin(control)]
    buffer_mean = counts.reindex(sorted(buffer)).fillna(0.0).mean()
    buffer_control = _closest(rest, buffer_mean, len(buffer))
    return Areas(tuple(target), tuple(buffer), tuple(control), tuple(buffer_control))


# --- counting ------------------------------------------------------------------------------

def _to_days(values: pd.Series) -> npt.NDArray[np.datetime64]:
    """Dates, datetimes or strings as ``datetime64[D]`` (local wall-clock day if tz-aware)."""
    days: npt.NDArray[np.datetime64]
    if values.dtype.kind == "M":  # already naive datetime64: no parsing
        days = values.to_numpy().astype("datetime64[D]")
        return days
    stamps = pd.to_datetime(values)
    if isinstance(stamps.dtype, pd.DatetimeTZDtype):
        stamps = stamps.dt.tz_localize(None)
    days = stamps.to_numpy().astype("datetime64[D]")
    return days


def _windows(days_col: pd.Series, start: date, days: int) -> tuple[np.ndarray, np.ndarray]:
    """Masks of the before ``[start - days, start)`` and after ``[start, start + days)``."""
    if isinstance(days, bool) or not isinstance(days, int | np.integer) or days < 1:
        msg = f"days must be a positive whole number, got {days!r}"
        raise ValueError(msg)
    day = _to_days(days_col)
    first = _to_days(pd.Series([start]))[0]
    span = np.timedelta64(int(days), "D")
    return (day >= first - span) & (day < first), (day >= first) & (day < first + span)


def _area_codes(cells: pd.Series, areas: Areas) -> np.ndarray:
    """0-3 for the area of each cell in `AREA_NAMES` order, -1 for cells in none."""
    groups = [getattr(areas, name) for name in AREA_NAMES]
    index = pd.Index([cell for group in groups for cell in group])
    code = np.repeat(np.arange(len(groups)), [len(group) for group in groups])
    pos = index.get_indexer(np.asarray(cells, dtype=object))
    return np.where(pos >= 0, code[pos], -1)


def _window_sums(events: pd.DataFrame, areas: Areas, start: date, days: int,
                 values: list[np.ndarray]) -> list[Counts]:
    """`Counts` of each array in ``values`` summed per area and window."""
    missing = {"h3_cell", "day"} - set(events.columns)
    if missing:
        msg = f"events lacks columns {sorted(missing)}"
        raise ValueError(msg)
    is_before, is_after = _windows(events["day"], start, days)
    area = _area_codes(events["h3_cell"], areas)
    keep = (area >= 0) & (is_before | is_after)
    slot = area[keep] * 2 + is_after[keep]
    sums = [np.bincount(slot, weights=v[keep], minlength=8) for v in values]
    return [Counts(*(float(x) for x in s)) for s in sums]


def count_windows(events: pd.DataFrame, areas: Areas, *, start: date, days: int) -> Counts:
    """Count records per area in the before and after windows.

    Parameters
    ----------
    events
        One row per record, columns ``h3_cell`` (hex id as stored, lower case) and ``day``
        (date, datetime or datetime64).
    areas
        From `choose_areas` or `given_areas`.
    start
        First day of the activity; it counts as *after*.
    days
        Length of each window: before ``[start - days, start)``, after
        ``[start, start + days)``.

    Examples
    --------
    >>> areas = given_areas(["89194655863ffff"], [], [])
    >>> ev = pd.DataFrame({"h3_cell": ["89194655863ffff"] * 3,
    ...                    "day": pd.to_datetime(["2024-01-01", "2024-01-10", "2024-01-20"])})
    >>> c = count_windows(ev, areas, start=date(2024, 1, 10), days=10)
    >>> c.Rb, c.Ra
    (1.0, 1.0)
    """
    (counts,) = _window_sums(events, areas, start, days, [np.ones(len(events))])
    return counts


def weighted_counts(events: pd.DataFrame, areas: Areas, *, start: date,
                    days: int) -> tuple[Counts, Counts]:
    """Sums of ``weight`` and of ``weight**2`` per area and window; see `count_windows`.

    The first is the harm-weighted count; the second its variance under a compound Poisson
    assumption, for the ``variance`` of `wdd` and `assess`. With every weight 1 both equal
    `count_windows`.

    Raises
    ------
    ValueError
        If a weight is negative or not finite (the message gives its row).
    """
    if "weight" not in events.columns:
        raise ValueError("events lacks column 'weight'")
    weight = events["weight"].to_numpy(dtype=np.float64)
    bad = ~np.isfinite(weight) | (weight < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        msg = f"row {events.index[i]}: weight {weight[i]} must be a finite number >= 0"
        raise ValueError(msg)
    sums, squares = _window_sums(events, areas, start, days, [weight, weight**2])
    return sums, squares


# --- verdict -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Assessment:
    """Every figure of one before/after comparison, a verdict code and its plain words."""

    counts: Counts
    gross: float
    net: float
    wdq: float
    wdq_reading: str
    wdd: Difference
    local: Difference
    displacement: Difference
    code: str
    text: str

    def to_row(self) -> dict[str, object]:
        """A flat dict for a table: the counts, effects, tests, code and verdict."""
        row: dict[str, object] = dict(zip(COUNT_FIELDS, self.counts.to_array().tolist(),
                                          strict=True))
        row.update(gross_effect=self.gross, net_effect=self.net, wdq=self.wdq,
                   wdq_reading=self.wdq_reading)
        for name in ("wdd", "local", "displacement"):
            d: Difference = getattr(self, name)
            row.update({name: d.estimate, f"{name}_se": d.se, f"{name}_z": d.z,
                        f"{name}_p": d.p, f"{name}_ci_low": d.ci_low,
                        f"{name}_ci_high": d.ci_high})
        row.update(code=self.code, verdict=self.text)
        return row


def _verdict_code(c: Counts, reading: str, total: Difference, local: Difference,
                  displacement: Difference, min_before: float) -> str:
    if c.Rb < min_before:
        return "too_few"
    if local.fell:
        moved = displacement.rose or reading == "displacement" or total.estimate >= 0
        return "displaced" if moved else "worked"
    if local.rose or total.rose:
        return "worse"
    return "no_effect"


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:.1f}"


def _change(before: float, after: float) -> str:
    """"fell by 40% (100 before, 60 after)" and the like."""
    counts = f"({_num(before)} before, {_num(after)} after)"
    if before == 0:
        return f"went from 0 to {_num(after)}"
    pct = round(100 * (after - before) / before)
    if pct == 0:
        return f"hardly changed {counts}"
    return f"{'fell' if pct < 0 else 'rose'} by {abs(pct)}% {counts}"


def _interval(d: Difference, noun: str, level: str, where: str = "at the target") -> str:
    """"-42 reports at the target net of the control cells, 95% interval -65 to -19"."""
    estimate = "0" if round(d.estimate) == 0 else f"{d.estimate:+.0f}"
    return (f"{estimate} {noun} {where} net of the control cells, {level} interval "
            f"{d.ci_low:.0f} to {d.ci_high:.0f}")


def _text(code: str, a: Assessment, noun: str, min_before: float) -> str:
    c, level = a.counts, f"{(1 - a.local.alpha) * 100:g}%"
    target = f"{noun.capitalize()} {_change(c.Rb, c.Ra)} at the target"
    both = "across the target and surrounding streets"
    if code == "too_few":
        return (f"Too few {noun} to tell: {_num(c.Rb)} at the target in the window before "
                f"(at least {_num(min_before)} needed).")
    if code == "worked":
        return (f"{target}, with no sign of displacement to the surrounding streets; the change "
                f"is larger than chance would explain at {level} "
                f"({_interval(a.local, noun, level)}).")
    if code == "displaced":
        reading = ("" if a.wdq_reading == "undefined"
                   else f"; WDQ {a.wdq:.2f}, {WDQ_READINGS[a.wdq_reading]}")
        return (f"{target}, larger than chance would explain at {level}, but {noun} "
                f"{_change(c.Bb, c.Ba)} in the surrounding streets{reading}. The problem may "
                f"have moved rather than gone ({_interval(a.wdd, noun, level, both)}).")
    if code == "worse":
        d, where = (a.local, "at the target") if a.local.rose else (a.wdd, both)
        return (f"{target}; the rise {where} is larger than chance would explain at {level} "
                f"({_interval(d, noun, level, where)}).")
    return (f"{target}; that is within what chance would explain at {level} "
            f"({_interval(a.local, noun, level)}), so no sign of an effect.")


def assess(counts: Counts, *, variance: Counts | None = None, alpha: float = 0.05,
           min_before: float = MIN_BEFORE, noun: str = "reports") -> Assessment:
    """All figures, a verdict code (one of `VERDICTS`) and a plain-English verdict.

    Parameters
    ----------
    counts, variance, alpha
        As for `wdd`.
    min_before
        Fewer records than this at the target before gives ``"too_few"``.
    noun
        What is counted, for the text ("reports", "harm-weighted reports").

    Examples
    --------
    >>> a = assess(Counts(Rb=100, Ra=60, Bb=50, Ba=50, Cb=100, Ca=100, CBb=50, CBa=50))
    >>> a.code
    'worked'
    >>> a.text.split(";")[0]
    'Reports fell by 40% (100 before, 60 after) at the target, with no sign of displacement \
to the surrounding streets'
    """
    total = wdd(counts, variance=variance, alpha=alpha)
    local = local_difference(counts, variance=variance, alpha=alpha)
    displacement = displacement_difference(counts, variance=variance, alpha=alpha)
    reading = wdq_reading(counts)
    code = _verdict_code(counts, reading, total, local, displacement, min_before)
    a = Assessment(counts, gross_effect(counts), net_effect(counts), wdq(counts), reading,
                   total, local, displacement, code, "")
    return replace(a, text=_text(code, a, noun, min_before))


def verdict(counts: Counts, *, variance: Counts | None = None, alpha: float = 0.05,
            min_before: float = MIN_BEFORE, noun: str = "reports") -> str:
    """The plain-English verdict of `assess`."""
    return assess(counts, variance=variance, alpha=alpha, min_before=min_before,
                  noun=noun).text


# --- the after window: no verdict before it is over ---------------------------------------

TOO_EARLY = "too_early"  # the verdict code while the after window runs, beside `VERDICTS`
VERDICT_NAMES = {"worked": "worked", "displaced": "displaced", "no_effect": "no clear effect",
                 "too_few": "too few reports", "worse": "worse",
                 TOO_EARLY: "too early to measure"}
# The figures read from the after window (the keys of `Assessment.to_row`): withheld, with the
# verdict, until the window is complete. The before counts stand.
AFTER_FIELDS = ("Ra", "Ba", "Ca", "CBa", "gross_effect", "net_effect", "wdq", "wdq_reading",
                *(f"{name}{part}" for name in ("wdd", "local", "displacement")
                  for part in ("", "_se", "_z", "_p", "_ci_low", "_ci_high")),
                "code", "verdict")


@dataclass(frozen=True)
class AfterWindow:
    """How much of an activity's after window has been seen by a date (`after_window`).

    Attributes
    ----------
    start
        The activity's first day, the after window's first day.
    days
        The window's length.
    as_of
        The day the outcome is read on.
    data_end
        The last day any record falls on (None: no records).
    """

    start: date
    days: int
    as_of: date
    data_end: date | None

    @property
    def last_day(self) -> date:
        """The window's last day."""
        return self.start + timedelta(days=self.days - 1)

    @property
    def seen(self) -> int:
        """Days of the window passed by the as-of date and reached by the records (0 to days)."""
        if self.data_end is None:
            return 0
        seen = (min(self.as_of, self.data_end) - self.start).days + 1
        return max(0, min(self.days, seen))

    @property
    def complete(self) -> bool:
        """Whether the whole window has been seen: only then is there a verdict."""
        return self.seen >= self.days

    @property
    def progress(self) -> str:
        """"day 12 of 90"."""
        return f"day {self.seen} of {self.days}"

    @property
    def text(self) -> str:
        """The words shown in place of a verdict while the window runs.

        Examples
        --------
        >>> after_window(date(2025, 6, 15), days=90, as_of=date(2025, 6, 26),
        ...              data_end=date(2025, 6, 30)).text
        'Day 12 of 90 of the after window (it ends on 2025-09-12): no verdict until it is over.'
        >>> after_window(date(2025, 6, 15), days=90, as_of=date(2025, 7, 1),
        ...              data_end=date(2025, 6, 20)).text  # doctest: +NORMALIZE_WHITESPACE
        'Day 6 of 90 of the after window (it ends on 2025-09-12), as far as the records reach
        (2025-06-20): no verdict until they cover the whole window.'
        """
        last = self.last_day.isoformat()
        if self.complete:
            return f"The {self.days}-day after window ended on {last}."
        if self.as_of < self.start:
            return (f"The after window starts on {self.start.isoformat()}: no verdict until "
                    "it is over.")
        where = f"Day {self.seen} of {self.days} of the after window (it ends on {last})"
        if self.data_end is None:
            return f"{where}, with no records loaded yet: no verdict until they cover it."
        if self.data_end < min(self.as_of, self.last_day):
            return (f"{where}, as far as the records reach ({self.data_end.isoformat()}): "
                    "no verdict until they cover the whole window.")
        return f"{where}: no verdict until it is over."


def after_window(start: date, *, days: int, as_of: date, data_end: date | None) -> AfterWindow:
    """How far the after window ``[start, start + days)`` has run by ``as_of`` in the records.

    The one rule for every view: a verdict only when `AfterWindow.complete`, that is when
    the window's last day is on or before both ``as_of`` and ``data_end``.

    Parameters
    ----------
    start
        The activity's first day.
    days
        The window length (`DEFAULT_DAYS`).
    as_of
        The day the outcome is read on: today, or a briefing pack's meeting date.
    data_end
        The last day any record falls on; None when there is none.

    Examples
    --------
    >>> w = after_window(date(2025, 6, 15), days=90, as_of=date(2025, 7, 1),
    ...                  data_end=date(2025, 6, 20))
    >>> w.progress, w.complete
    ('day 6 of 90', False)
    >>> after_window(date(2025, 1, 1), days=90, as_of=date(2025, 4, 1),
    ...              data_end=date(2025, 6, 20)).complete
    True
    """
    if isinstance(days, bool) or not isinstance(days, int | np.integer) or days < 1:
        msg = f"days must be a positive whole number, got {days!r}"
        raise ValueError(msg)
    return AfterWindow(start, int(days), as_of, data_end)


# --- one row per activity and campaign ----------------------------------------------------

def _plans(activities: pd.DataFrame) -> pd.DataFrame:
    """One row per activity and per campaign (jag_ref): level, id, type, cells, start."""
    missing = set(ACTIVITY_COLUMNS) - set(activities.columns)
    if missing:
        msg = f"activities lacks columns {sorted(missing)}"
        raise ValueError(msg)
    no_cell = activities["h3_cell"].isna()
    if no_cell.any():
        msg = f"activity {activities.loc[no_cell, 'id'].iloc[0]!r} has no h3_cell"
        raise ValueError(msg)
    acts = activities.assign(start=_to_days(activities["started_at"]))
    single = pd.DataFrame({
        "level": "activity", "id": acts["id"].astype(str), "jag_ref": acts["jag_ref"],
        "activity_type": acts["activity_type"], "cells": [[c] for c in acts["h3_cell"]],
        "start": acts["start"]})
    shared = acts.dropna(subset=["jag_ref"])
    shared = shared[shared.groupby("jag_ref")["id"].transform("size") > 1]
    grouped = shared.groupby("jag_ref", sort=True)
    campaigns = pd.DataFrame({
        "level": "campaign",
        "activity_type": grouped["activity_type"].agg(lambda t: "+".join(sorted(set(t)))),
        "cells": grouped["h3_cell"].agg(lambda c: sorted(set(c))),
        "start": grouped["start"].min()}).reset_index()
    campaigns["id"] = campaigns["jag_ref"].astype(str)
    return pd.concat([single, campaigns], ignore_index=True)


def _before_by_cell(events: pd.DataFrame, start: date, days: int,
                    weighted: bool) -> tuple[pd.Series, str]:
    """Per-cell level to match controls on, and which window it comes from.

    The window before the before window (``[start - 2 days, start - days)``) when it holds
    any record: matching on a history that the before count does not share keeps a lucky
    before window from picking the controls (regression to the mean, module docstring).
    Without such history, the before window itself.
    """
    values = events["weight"] if weighted else pd.Series(1.0, index=events.index)
    is_prior, _ = _windows(events["day"], start - timedelta(days=days), days)
    window = "prior window"
    if not is_prior.any():
        is_prior, _ = _windows(events["day"], start, days)
        window = "before window"
    return values[is_prior].groupby(events.loc[is_prior, "h3_cell"]).sum(), window


class _Options(NamedTuple):
    days: int
    n_control: int | None
    alpha: float
    min_before: float
    weighted: bool
    noun: str


def _row(plan: Any, start: date, opt: _Options, areas: tuple[int, int], matched_on: str,
         counts: Counts, variance: Counts | None) -> dict[str, object]:
    """The table row of one plan: who, when, area sizes (target, control), then `assess`."""
    a = assess(counts, variance=variance, alpha=opt.alpha, min_before=opt.min_before,
               noun=opt.noun)
    return {"level": plan.level, "id": plan.id, "activity_type": plan.activity_type,
            "jag_ref": plan.jag_ref, "start": start,
            "after_ends": start + timedelta(days=opt.days),
            "target_cells": areas[0], "control_cells": areas[1], "matched_on": matched_on,
            **a.to_row()}


def _reference_row(plan: Any, events: pd.DataFrame, cells: pd.DataFrame,
                   opt: _Options) -> dict[str, object]:
    """One plan's row the readable way: `choose_areas`, `count_windows` and `assess`."""
    start = pd.Timestamp(plan.start).date()
    before, matched_on = _before_by_cell(events, start, opt.days, opt.weighted)
    areas = choose_areas(plan.cells, cells, before=before, n_control=opt.n_control,
                         checked=True)
    if opt.weighted:
        counts, variance = weighted_counts(events, areas, start=start, days=opt.days)
    else:
        counts, variance = count_windows(events, areas, start=start, days=opt.days), None
    return _row(plan, start, opt, (len(areas.target), len(areas.control)), matched_on,
                counts, variance)


def _fast_row(plan: Any, fast: _outcome_fast.Prepared,
              opt: _Options) -> dict[str, object] | None:
    """`_reference_row` on integer arrays; None where that would raise (it is run instead)."""
    if pd.isna(plan.start):
        return None
    start = pd.Timestamp(plan.start).date()
    first = int(np.datetime64(start, "D").astype(np.int64))
    found = fast.plan(plan.cells, first, n_control=opt.n_control)
    if found is None:
        return None
    counts = [Counts(*(float(x) for x in s)) for s in found.sums]
    return _row(plan, start, opt, (found.target_cells, found.control_cells),
                "prior window" if found.prior else "before window",
                counts[0], counts[1] if opt.weighted else None)


def outcome_table(activities: pd.DataFrame, events: pd.DataFrame, cells: pd.DataFrame, *,
                  days: int = DEFAULT_DAYS, n_control: int | None = None,
                  alpha: float = 0.05, min_before: float = MIN_BEFORE,
                  weighted: bool = False) -> pd.DataFrame:
    """One row per activity and per campaign, with every figure and the verdict.

    A campaign is two or more activities sharing a ``jag_ref``: its target is the union of
    their cells and its start the earliest start. Controls are matched on the window before
    the before window when it holds records (``matched_on``), else on the before window. Rows
    are sorted by ``activity_type`` (campaigns of several types get them joined with "+"),
    then level (activity before campaign) and id. ``after_ends`` is the first day after the
    after window: rows where it lies beyond the data have an incomplete after window.

    Parameters
    ----------
    activities
        Columns ``id``, ``activity_type``, ``h3_cell``, ``started_at``, ``jag_ref``.
    events
        Columns ``h3_cell``, ``day`` and, if ``weighted``, ``weight``.
    cells
        Candidate cells for controls: ``h3_cell``, ``ward_code``.
    days, n_control, alpha, min_before
        As for `count_windows`, `choose_areas` and `assess`.
    weighted
        Sum ``weight`` (harm-weighted, compound Poisson variance) instead of counting.
    """
    plans = _plans(activities)
    opt = _Options(days, n_control, alpha, min_before, weighted,
                   "harm-weighted reports" if weighted else "reports")
    # parse and check once, not once per activity
    events = events.assign(day=_to_days(events["day"]))
    cells = cells.assign(h3_cell=_canonical(cells["h3_cell"]))
    fast = None
    if len(plans):  # None: an input is off, and the reference raises at the first plan
        fast = _outcome_fast.prepare(
            [c for group in plans["cells"] for c in group], events, cells, days=days,
            weighted=weighted, rings=(TARGET_RING, BUFFER_RING, EXCLUSION_RING - 1))
    rows = []
    for plan in plans.itertuples(index=False):
        row = None if fast is None else _fast_row(plan, fast, opt)
        rows.append(_reference_row(plan, events, cells, opt) if row is None else row)
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    return table.sort_values(["activity_type", "level", "id"], kind="stable",
                             ignore_index=True)
