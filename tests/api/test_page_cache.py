"""Rendered pages are reused until the data changes, and an erased place goes at once."""

from __future__ import annotations

from pathlib import Path

from api.page_cache import PageCache
from layers.records.importer import import_file
from layers.store.engine import open_store

from .conftest import _write, build_store, signed_client


def test_page_is_reused_until_any_table_changes(tmp_path: Path) -> None:
    db = build_store(tmp_path)
    store = open_store(db)
    cache = PageCache(size=2)
    calls: list[int] = []

    def render() -> str:
        calls.append(1)
        return f"page {len(calls)}"

    try:
        assert cache.page(store, "jag", None, render) == "page 1"
        assert cache.page(store, "jag", None, render) == "page 1"  # reused
        assert cache.page(store, "jag", "other filter", render) == "page 2"
        rows = [{"report_id": "NEW", "reported_on": "2025-06-29", "mace_level": 2,
                 "latitude": 54.57, "longitude": -1.34}]
        import_file(store, "reports", _write(tmp_path / "r.csv", rows))
        assert cache.page(store, "jag", None, render) == "page 3"  # the data changed
    finally:
        store.close()


def test_served_map_drops_an_erased_place_at_once(tmp_path: Path) -> None:
    db = build_store(tmp_path)
    client = signed_client(db)
    try:
        assert "Corner Shop" in client.get("/").text
        store = client.app.state.store
        from layers.access import review_store as review

        review.decide(store, "P4", decision="close", reason="gone", user="analyst",
                      role="analyst", client="test")
        review.erase(store, "P4", user="analyst", role="analyst", client="test")
        assert "Corner Shop" not in client.get("/").text
    finally:
        client.__exit__(None, None, None)
