"""The data fingerprint: moves with every change placerisk makes, reads no table whole."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from api import page_cache
from layers.access import review_store as review
from layers.action.outcomes import inputs as outcome_inputs
from layers.hotspots.engine import ScoreParams
from layers.hotspots.runs import run_scoring
from layers.records.importer import import_file, import_police_uk
from layers.store import audit
from layers.store.engine import Store, open_store, replace_areas
from tests.api.conftest import (
    ACTIVITIES,
    AS_OF,
    PLACES,
    POLICE_UK,
    REPORTS,
    _write,
    make_areas,
)

FINGERPRINTS: dict[str, Callable[[sa.Connection], str]] = {
    "maps": page_cache.fingerprint, "outcomes": outcome_inputs.fingerprint}


def _fill(store: Store, folder: Path) -> None:
    replace_areas(store, make_areas(), source="test")
    for kind, rows in (("places", PLACES), ("reports", REPORTS), ("activities", ACTIVITIES)):
        assert import_file(store, kind, _write(folder / f"{kind}.csv", rows)).rejected == 0


def _prints(store: Store) -> dict[str, str]:
    with store.connect() as conn:
        return {name: f(conn) for name, f in FINGERPRINTS.items()}


def _reimport_level(store: Store, folder: Path) -> None:
    """R1 again with another level: no row added, none deleted, one updated in place."""
    rows = [{**REPORTS[1], "mace_level": 2}]
    result = import_file(store, "reports", _write(folder / "again.csv", rows))
    assert (result.inserted, result.updated) == (0, 1)


def _review(store: Store, _folder: Path) -> None:
    review.decide(store, "P4", decision="retain", reason="still a concern", user="analyst")


def _erase(store: Store, _folder: Path) -> None:
    review.decide(store, "P4", decision="close", reason="gone", user="analyst")
    review.erase(store, "P4", user="analyst")


def _purge(store: Store, _folder: Path) -> None:
    """A place erased before the fingerprint was read, deleted for good."""
    assert len(review.purge(store, older_than_days=0, apply=True, user="admin").places) == 1


def _police_uk(store: Store, folder: Path) -> None:
    import_police_uk(store, _write(folder / "street.csv", POLICE_UK))


def _score(store: Store, _folder: Path) -> None:
    run_scoring(store, ScoreParams(as_of=AS_OF), known_by=dt.datetime.now(dt.UTC))


def _boundaries(store: Store, _folder: Path) -> None:
    replace_areas(store, make_areas("2025"), source="test again")


def _nothing(_store: Store, _folder: Path) -> None:
    pass


# (done before the fingerprints are read, the change, the fingerprints it must move)
CHANGES = [
    (_nothing, _reimport_level, {"maps", "outcomes"}),
    (_nothing, _review, {"maps"}),
    (_nothing, _erase, {"maps"}),
    (_erase, _purge, {"maps"}),
    (_nothing, _police_uk, {"maps", "outcomes"}),
    (_nothing, _score, {"maps"}),
    (_nothing, _boundaries, {"maps", "outcomes"}),
]


@pytest.mark.parametrize(("prepare", "change", "moves"), CHANGES,
                         ids=[c.__name__ for _, c, _ in CHANGES])
def test_each_change_moves_the_fingerprints_of_what_it_touches(
        store: Store, tmp_path: Path, prepare: Callable[[Store, Path], None],
        change: Callable[[Store, Path], None], moves: set[str]) -> None:
    _fill(store, tmp_path)
    prepare(store, tmp_path)
    before = _prints(store)
    change(store, tmp_path)
    after = _prints(store)
    assert {name for name in FINGERPRINTS if after[name] != before[name]} >= moves


def test_reads_and_their_audit_rows_move_nothing(store: Store, tmp_path: Path) -> None:
    _fill(store, tmp_path)
    before = _prints(store)
    audit.record(store, action="read_list", user_name="analyst", object_type="places")
    audit.record(store, action="login", user_name="analyst")
    assert _prints(store) == before


def test_no_table_is_read_whole(tmp_path: Path) -> None:
    """Every statement is an index look-up or an index-only count, never a table scan.

    The fingerprints read the newest ``updated_at`` of every table before, which no index
    holds: a scan of the 476,000 reports (90 ms) on every request for a map or outcomes.
    """
    store = open_store(tmp_path / "t.db")
    try:
        _fill(store, tmp_path)
        statements: list[tuple[str, object]] = []

        def seen(_conn: object, _cursor: object, statement: str, parameters: object,
                 _context: object, _many: bool) -> None:
            statements.append((statement, parameters))

        with store.connect() as conn:
            sa.event.listen(conn, "before_cursor_execute", seen)
            for fingerprint in FINGERPRINTS.values():
                fingerprint(conn)
            sa.event.remove(conn, "before_cursor_execute", seen)
            plans = [row[-1] for statement, parameters in statements
                     for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement,
                                                     parameters)]  # type: ignore[arg-type]
    finally:
        store.close()
    big = ("reports", "activities", "incidents", "audit_log")
    scans = [p for p in plans if re.match(rf"SCAN ({'|'.join(big)})\b", p)
             and "COVERING INDEX" not in p]
    assert plans and not scans, scans
