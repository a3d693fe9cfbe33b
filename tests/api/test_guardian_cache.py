"""/api/guardian/cells is made once per data fingerprint, threshold and data scope.

The grid was made again on every call (about 120 ms, 400 ms on a large store), the main
cost of the load test's JSON routes. Makings are counted by wrapping
`api.services.guardian.guardian_view`, never timed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from api.page_cache import PageCache
from api.services import guardian as guardian_service
from api.settings import Settings
from layers.records.importer import import_file
from layers.store.engine import open_store

from .conftest import _write, build_store, signed_client

AUTHORITY = "E06000004"  # the synthetic store's one authority


@pytest.fixture
def made(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The scope of every guardian view made."""
    calls: list[Any] = []
    view = guardian_service.guardian_view

    def counted(*args: Any, **kw: Any) -> Any:
        calls.append(kw.get("scope"))
        return view(*args, **kw)

    monkeypatch.setattr(guardian_service, "guardian_view", counted)
    return calls


def test_the_grid_is_made_once_until_the_data_change(tmp_path: Path, made: list) -> None:
    client = signed_client(build_store(tmp_path), role="guardian")
    try:
        first = client.get("/api/guardian/cells")
        assert first.status_code == 200 and first.json()["count"] > 0
        assert client.get("/api/guardian/cells").json() == first.json()
        assert made == [None]
        place = [{"place_id": "NEWP", "name": "New Place", "category": "takeaway",
                  "latitude": 54.571, "longitude": -1.341, "mace_level": 3}]
        store = client.app.state.store
        assert import_file(store, "places", _write(tmp_path / "p.csv", place)).inserted == 1
        assert client.get("/api/guardian/cells").status_code == 200
        assert made == [None, None]
    finally:
        client.__exit__(None, None, None)


def test_the_answer_is_the_model_it_was(tmp_path: Path) -> None:
    """Cached bytes: the same JSON as the model FastAPI serialised before."""
    db = build_store(tmp_path)
    client = signed_client(db, role="guardian")
    try:
        body = client.get("/api/guardian/cells").json()
    finally:
        client.__exit__(None, None, None)
    store = open_store(db)
    try:
        model = guardian_service.guardian_payload(store, Settings(db=str(db)))
    finally:
        store.close()
    assert body == model.model_dump(mode="json")


def test_each_data_scope_is_kept_apart(tmp_path: Path, made: list) -> None:
    db = build_store(tmp_path)
    store = open_store(db)
    cache, settings = PageCache(), Settings(db=str(db))
    try:
        everyone = guardian_service.guardian_json(store, settings, cache)
        mine = guardian_service.guardian_json(store, settings, cache,
                                             scope=frozenset([AUTHORITY]))
        other = guardian_service.guardian_json(store, settings, cache,
                                              scope=frozenset({"E06000099"}))
        again = guardian_service.guardian_json(store, settings, cache,
                                              scope=frozenset({AUTHORITY}))
    finally:
        store.close()
    assert made == [None, frozenset({AUTHORITY}), frozenset({"E06000099"})]
    assert again == mine and mine == everyone  # one authority holds everything here
    assert other != everyone and b'"count":0' in other  # no area, no place of that one
