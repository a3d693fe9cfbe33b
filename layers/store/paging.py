"""One page of a list query and its total, for ``{data, count}`` pagination."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import sqlalchemy as sa


class Page(NamedTuple):
    """One page of a list query and the number of rows matching its filters."""

    rows: pd.DataFrame
    total: int


def page_of(conn: sa.Connection, stmt: sa.Select[*tuple[Any, ...]],
            order: Sequence[sa.ColumnElement[Any]], columns: tuple[str, ...], *,
            limit: int | None, offset: int) -> Page:
    """Count ``stmt``'s rows, then fetch one ordered page of them."""
    count = conn.scalar(sa.select(sa.func.count()).select_from(stmt.subquery()))
    paged = stmt.order_by(*order).offset(offset)
    if limit is not None:
        paged = paged.limit(limit)
    rows = conn.execute(paged).all()
    frame = pd.DataFrame([tuple(r) for r in rows], columns=list(columns), dtype=object)
    return Page(frame, int(count or 0))


def records(frame: pd.DataFrame) -> list[dict[str, object]]:
    """Rows of ``frame`` as dicts of plain Python values, missing values as ``None``.

    Examples
    --------
    >>> records(pd.DataFrame({"a": [1, None], "b": [np.float64(0.5), np.nan]}))
    [{'a': 1.0, 'b': 0.5}, {'a': None, 'b': None}]
    """
    values = frame.astype(object).where(frame.notna(), None)
    return [
        {k: (v.item() if isinstance(v, np.generic) else v) for k, v in row.items()}
        for row in values.to_dict("records")
    ]
