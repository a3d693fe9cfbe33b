"""One page of a list query and its total (`layers.store.paging`), on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from layers.store import schema
from layers.store.engine import Store, replace_areas
from layers.store.paging import Page, page_of, records
from tests.api.conftest import make_areas
from tests.layers.store.test_engine import areas_frame

COLUMNS = ("code", "name")
A = schema.areas


@pytest.fixture
def four_areas(store: Store) -> Store:
    """Wards E05000001, E05000002 (Stockton) and H0, H1 (another authority)."""
    replace_areas(store, make_areas(), source="test")
    replace_areas(store, areas_frame("H", "2024", authority="E06000001"), source="test")
    return store


def page(store: Store, stmt: sa.Select, **kwargs: object) -> Page:
    with store.connect() as conn:
        return page_of(conn, stmt, [A.c.code.desc()], COLUMNS, **kwargs)


def test_total_counts_every_match_while_rows_hold_one_page(four_areas: Store) -> None:
    result = page(four_areas, sa.select(A.c.code, A.c.name), limit=2, offset=1)
    assert isinstance(result, Page) and result.total == 4
    assert result.rows["code"].tolist() == ["H0", "E05000002"]  # ordered by code, descending
    assert list(result.rows.columns) == list(COLUMNS)


def test_the_total_keeps_the_filter(four_areas: Store) -> None:
    stmt = sa.select(A.c.code, A.c.name).where(A.c.authority_code == "E06000004")
    result = page(four_areas, stmt, limit=1, offset=0)
    assert result.total == 2 and result.rows["code"].tolist() == ["E05000002"]


def test_no_limit_returns_every_row_from_the_offset(four_areas: Store) -> None:
    result = page(four_areas, sa.select(A.c.code, A.c.name), limit=None, offset=1)
    assert result.rows["code"].tolist() == ["H0", "E05000002", "E05000001"]
    assert result.total == 4


@pytest.mark.parametrize(("where", "offset", "total"), [
    (A.c.code == "nope", 0, 0),  # nothing matches
    (sa.true(), 10, 4),  # past the last page: the total still counts them all
])
def test_an_empty_page_keeps_its_columns(four_areas: Store, where, offset: int,
                                         total: int) -> None:
    result = page(four_areas, sa.select(A.c.code, A.c.name).where(where), limit=5,
                  offset=offset)
    assert result.rows.empty and list(result.rows.columns) == list(COLUMNS)
    assert result.total == total


def test_rows_are_python_objects(four_areas: Store) -> None:
    stmt = sa.select(A.c.code, A.c.id).where(A.c.code == "H1")
    with four_areas.connect() as conn:
        result = page_of(conn, stmt, [A.c.code], ("code", "id"), limit=None, offset=0)
    assert result.rows.dtypes.tolist() == [object, object]
    assert type(result.rows["id"].iloc[0]) is int


def test_records_are_plain_python_values() -> None:
    frame = pd.DataFrame({
        "n": np.array([1, 2], dtype=np.int64),
        "x": [np.float64(0.5), np.nan],
        "flag": np.array([True, False]),
        "text": ["a", None],
        "maybe": pd.array([3, pd.NA], dtype="Int64"),
        "day": [dt.date(2025, 6, 30), None],
    })
    rows = records(frame)
    assert rows == [
        {"n": 1, "x": 0.5, "flag": True, "text": "a", "maybe": 3, "day": dt.date(2025, 6, 30)},
        {"n": 2, "x": None, "flag": False, "text": None, "maybe": None, "day": None},
    ]
    assert [type(rows[0][k]) for k in ("n", "x", "flag", "maybe")] == [int, float, bool, int]


def test_records_of_a_missing_number_column_and_of_nothing() -> None:
    assert records(pd.DataFrame({"a": [1, None]})) == [{"a": 1.0}, {"a": None}]
    assert records(pd.DataFrame({"a": [np.nan, np.nan]})) == [{"a": None}, {"a": None}]
    assert records(pd.DataFrame(columns=["a", "b"])) == []
