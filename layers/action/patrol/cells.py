"""Patrol view: the cells of a ward worth a short visit, in an order that keeps travel short.

Hot spot policing works best with short, unpredictable visits of about 10-15 minutes,
repeated every couple of hours (the Koper curve), rather than long stays or drive-bys. This
module picks the highest-scoring cells of one ward, orders them by a nearest-neighbour tour
and suggests a dwell time for each visit. Cells get labels easy to say on a radio ("Bravo 7"),
derived from the cell id alone, so the same cell keeps its label from one view to the next.

The view shows cells, labels, scores and categories only: no place names, notes or grades.
Shift timing, GPX/KML export and plan-against-done belong to a later patrol *plan*.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from geo import h3index
from geo.crs import latlng_to_bng

# ICAO/NATO spelling: "Alfa" and "Juliett" are spelt so that every speaker says them alike.
NATO = ("Alfa", "Bravo", "Charlie", "Delta", "Echo", "Foxtrot", "Golf", "Hotel", "India",
        "Juliett", "Kilo", "Lima", "Mike", "November", "Oscar", "Papa", "Quebec", "Romeo",
        "Sierra", "Tango", "Uniform", "Victor", "Whiskey", "X-ray", "Yankee", "Zulu")
LABEL_NUMBERS = 9  # a label is a word and a number 1-9
DWELL_MINUTES = (10, 15)  # Koper curve: short visits
DEFAULT_TOP = 8
MAX_TOP = 20  # fewer than len(NATO), so every cell in a view gets a word of its own
INPUT_COLUMNS = ("h3_cell", "score", "category", "ward_code")
PLAN_COLUMNS = ("order", "label", "h3_cell", "lat", "lng", "score", "category",
                "dwell_minutes", "share_of_ward_score")


def _digest(text: str) -> int:
    """A stable 64-bit hash of ``text`` (Python's ``hash`` changes between processes)."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


def _label_index(h3_cell: str) -> int:
    """The cell's own position among the ``len(NATO) * LABEL_NUMBERS`` labels."""
    return _digest(h3_cell.lower()) % (len(NATO) * LABEL_NUMBERS)


def _label(index: int) -> str:
    index %= len(NATO) * LABEL_NUMBERS
    return f"{NATO[index % len(NATO)]} {index // len(NATO) + 1}"


def radio_label(h3_cell: str) -> str:
    """A label for a cell that is easy to say on a radio: a NATO word and a number 1-9.

    The label depends on the cell id alone (not on its score, ward or the day). Two cells
    can share one; `patrol_cells` makes the labels of a view unique.

    Raises
    ------
    geo.h3index.H3Error
        If ``h3_cell`` is not an H3 cell id.

    Examples
    --------
    >>> radio_label("89194655863ffff") == radio_label("89194655863FFFF")
    True
    >>> word, number = radio_label("89194655863ffff").split()
    >>> word in NATO and 1 <= int(number) <= 9
    True
    """
    h3index.str_to_cells([h3_cell])  # raises H3Error naming a bad id
    return _label(_label_index(h3_cell))


def unique_labels(cells: list[str]) -> list[str]:
    """Radio labels for ``cells``, with no word used twice.

    A cell keeps its own `radio_label` unless an earlier cell in ``cells`` already took that
    word; then it takes the next label (next word, same number) whose word is free. At most
    ``len(NATO)`` cells.

    Examples
    --------
    >>> labels = unique_labels(["89194655863ffff", "89194655867ffff"])
    >>> len({label.split()[0] for label in labels})
    2
    """
    if len(cells) > len(NATO):
        msg = f"at most {len(NATO)} cells can get distinct radio words, got {len(cells)}"
        raise ValueError(msg)
    taken: set[str] = set()
    out = []
    for cell in cells:
        index = _label_index(cell)
        while NATO[index % len(NATO)] in taken:
            index += 1
        label = _label(index)
        taken.add(label.split()[0])
        out.append(label)
    return out


def dwell_minutes(cells: list[str], *, seed: int | None = None) -> np.ndarray:
    """Suggested minutes at each cell: a whole number from 10 to 15, fixed per cell and seed.

    Vary ``seed`` (for example the date of the shift) to make visits less predictable.

    Examples
    --------
    >>> d = dwell_minutes(["89194655863ffff"], seed=1)
    >>> bool(10 <= d[0] <= 15), d.tolist() == dwell_minutes(["89194655863ffff"], seed=1).tolist()
    (True, True)
    """
    low, high = DWELL_MINUTES
    return np.array([low + _digest(f"{c.lower()}|{seed}") % (high - low + 1) for c in cells],
                    dtype=np.int64)


def nearest_neighbour_tour(easting: np.ndarray, northing: np.ndarray) -> np.ndarray:
    """Visit order starting at point 0, always going on to the nearest unvisited point.

    Parameters
    ----------
    easting, northing
        Projected metres (British National Grid). Ties go to the earlier point.

    Returns
    -------
    numpy.ndarray
        Positions of the points in visiting order.

    Examples
    --------
    >>> nearest_neighbour_tour(np.array([0.0, 300.0, 100.0]), np.zeros(3)).tolist()
    [0, 2, 1]
    """
    xy = np.column_stack([np.asarray(easting, float), np.asarray(northing, float)])
    n = len(xy)
    if n == 0:
        return np.array([], dtype=np.int64)
    distance = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
    visited = np.zeros(n, dtype=bool)
    order = [0]
    visited[0] = True
    for _ in range(n - 1):
        row = np.where(visited, np.inf, distance[order[-1]])
        nxt = int(np.argmin(row))  # argmin returns the first of equal distances
        order.append(nxt)
        visited[nxt] = True
    return np.asarray(order, dtype=np.int64)


def tour_length_m(plan: pd.DataFrame) -> float:
    """Straight-line length in metres of the visiting order of a `patrol_cells` frame."""
    if len(plan) < 2:
        return 0.0
    ordered = plan.sort_values("order")
    e, n = latlng_to_bng(ordered["lat"].to_numpy(float), ordered["lng"].to_numpy(float))
    return float(np.hypot(np.diff(e), np.diff(n)).sum())


def _check(cells: pd.DataFrame, top: int) -> None:
    missing = [c for c in INPUT_COLUMNS if c not in cells.columns]
    if missing:
        msg = f"cells: missing column(s) {', '.join(missing)}; expected {', '.join(INPUT_COLUMNS)}"
        raise ValueError(msg)
    if isinstance(top, bool) or not isinstance(top, int | np.integer) \
            or not 1 <= int(top) <= MAX_TOP:
        msg = f"top must be an integer from 1 to {MAX_TOP}, got {top!r}"
        raise ValueError(msg)


def _ward_targets(cells: pd.DataFrame, ward_code: str) -> tuple[pd.DataFrame, float]:
    """The ward's cells with a positive score, highest first; and the ward's total score."""
    ward = cells.loc[cells["ward_code"] == ward_code, list(INPUT_COLUMNS)].copy()
    ward["h3_cell"] = h3index.cells_to_str(h3index.str_to_cells(ward["h3_cell"].to_numpy()))
    repeated = ward["h3_cell"].duplicated()
    if repeated.any():
        msg = f"cells: cell {ward['h3_cell'][repeated].iloc[0]} appears more than once"
        raise ValueError(msg)
    ward["score"] = pd.to_numeric(ward["score"], errors="coerce").astype(float)
    ward = ward[ward["score"] > 0]  # zero (and missing) scores are not patrol targets
    ward = ward.sort_values(["score", "h3_cell"], ascending=[False, True], ignore_index=True)
    return ward, float(ward["score"].sum())


def patrol_cells(cells: pd.DataFrame, *, ward_code: str, top: int = DEFAULT_TOP,
                 seed: int | None = None) -> pd.DataFrame:
    """The ward's top cells by current independent score, in a short visiting order.

    The score is the run's current score from independently reported concern: records
    discovered by patrols (police-found offences, stop and search) are already left out of
    it, so patrolling a cell does not by itself pull the next patrol back to it (the bias
    guardrail in DOMAIN.md). Only a run whose weights opt in to patrol records counts them;
    a view of such a run must say so.

    Parameters
    ----------
    cells
        One run's cells: ``h3_cell``, ``score``, ``category``, ``ward_code``.
    ward_code
        The ward to patrol. Cells of any other ward are never included.
    top
        How many cells to visit, 1 to `MAX_TOP`. Fewer come back if fewer cells of the ward
        score above 0; cells scoring 0 are not patrol targets.
    seed
        Varies the suggested dwell times (10-15 minutes) deterministically; labels and order
        do not depend on it.

    Returns
    -------
    pandas.DataFrame
        Columns `PLAN_COLUMNS`, one row per cell in visiting order: ``order`` from 1; a
        ``label`` unique in the view (see `unique_labels`); the cell centre ``lat``/``lng``;
        ``dwell_minutes``; ``share_of_ward_score``, the cell's share of the summed score of
        all the ward's cells. The tour starts at the highest-scoring cell and always goes on
        to the nearest cell not yet visited (distances in British National Grid metres).

    Raises
    ------
    ValueError
        If a column is missing, ``top`` is out of range or a cell id is repeated
        (`geo.h3index.H3Error` if one is not an H3 cell id).
    """
    _check(cells, top)
    ward, total = _ward_targets(cells, ward_code)
    chosen = ward.head(int(top))
    lat, lng = h3index.cells_to_latlng(h3index.str_to_cells(chosen["h3_cell"].to_numpy()))
    chosen = chosen.assign(lat=lat, lng=lng)
    easting, northing = latlng_to_bng(lat, lng)
    plan = chosen.iloc[nearest_neighbour_tour(easting, northing)].reset_index(drop=True)
    ids = plan["h3_cell"].tolist()
    plan["order"] = np.arange(1, len(plan) + 1, dtype=np.int64)
    plan["label"] = unique_labels(ids)
    plan["dwell_minutes"] = dwell_minutes(ids, seed=seed)
    plan["share_of_ward_score"] = plan["score"] / total if total > 0 else 0.0
    return plan[list(PLAN_COLUMNS)]
