"""FastAPI dependencies shared by the routes (the FastAPI template's ``deps.py``).

The store and a connection per request (`Conn`), paging (`Page`), the parameters several
routes take, and days from the query string through the one date parser
(`layers.dates.parse_day`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

import sqlalchemy as sa
from fastapi import Depends, Path, Query, Request

from api.schemas import (
    Day,
)
from api.settings import Settings
from layers.dates import parse_day
from layers.store.engine import Store

DEFAULT_LIMIT = 100


MAX_OFFSET = 2**31 - 1


def get_store(request: Request) -> Store:
    """The store opened by `create_app`."""
    return request.app.state.store


def get_conn(store: Annotated[Store, Depends(get_store)]) -> Iterator[sa.Connection]:
    """A read connection for the duration of one request."""
    with store.connect() as conn:
        yield conn


@dataclass(frozen=True)
class Paging:
    """The requested page, with ``limit`` already capped."""

    limit: int
    offset: int


def get_paging(
    request: Request,
    limit: Annotated[int, Query(ge=1, description="Rows per page (capped at the maximum).")]
    = DEFAULT_LIMIT,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Rows to skip.")] = 0,
) -> Paging:
    """Read ``limit`` and ``offset``, capping ``limit`` at ``page_size_max``."""
    settings: Settings = request.app.state.settings
    return Paging(min(limit, settings.page_size_max), offset)


# Closed when the route returns, before the answer (and its audit row, `api.audit_trail`)
# is sent: the row's write never waits for a pool connection this request still holds.
Conn = Annotated[sa.Connection, Depends(get_conn, scope="function")]


Page = Annotated[Paging, Depends(get_paging)]


WardCode = Annotated[str | None, Query(max_length=16, description="Only this ward.")]


MaceLevel = Annotated[int | None, Query(ge=1, le=4, description="Only this MACE level.")]


RunId = Annotated[int | None, Query(ge=1, le=MAX_OFFSET,
                                    description="A stored scoring run; default the newest.")]


H3Cell = Annotated[str, Path(min_length=1, max_length=16, description="An H3 cell id.")]


AsOf = Annotated[Day | None, Query(
    description="Explain the score at this date (default: the run's as-of date), with the "
                "records the run knew of.")]


Top = Annotated[int, Query(ge=1, le=100, description="How many records to list.")]


def optional_day(name: str, value: str | None) -> dt.date | None:
    """A query string's day (`layers.dates.parse_day`); ``None`` when blank, as a form sends."""
    return parse_day(value, name) if value else None
