"""The store on SQLite and PostgreSQL: migrations, settings, areas and ward re-assignment."""

from __future__ import annotations

import datetime as dt

import geopandas as gpd
import pytest
import shapely
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from layers.store.engine import (
    StoreError,
    current_revision,
    head_revision,
    open_store,
    read_areas,
    replace_areas,
    resolve_url,
    schema,
    upgrade_schema,
)


def areas_frame(code_prefix: str, vintage: str, authority: str = "E06000004",
                boxes: tuple = ((-1.35, 54.55, -1.325, 54.60), (-1.325, 54.55, -1.30, 54.60))
                ) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "code": [f"{code_prefix}{i}" for i in range(len(boxes))],
            "name": [f"Ward {code_prefix}{i}" for i in range(len(boxes))],
            "authority_code": authority,
            "authority_name": {"E06000004": "Stockton-on-Tees"}.get(authority, authority),
            "vintage": vintage,
        },
        geometry=[shapely.box(*b) for b in boxes],
        crs="EPSG:4326",
    )


def test_migrated_schema_matches_the_table_definitions(store):
    assert current_revision(store) == head_revision()
    inspector = sa.inspect(store.engine)
    for table in schema.metadata.sorted_tables:
        found = {c["name"] for c in inspector.get_columns(table.name)}
        assert found == {c.name for c in table.columns}, table.name


def test_upgrade_is_idempotent(store):
    assert upgrade_schema(store) == head_revision()
    assert upgrade_schema(store) == head_revision()


def test_sqlite_pragmas(sqlite_store):
    with sqlite_store.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000


def test_foreign_keys_are_enforced(store):
    with pytest.raises(sa.exc.IntegrityError), store.begin() as conn:
        conn.execute(sa.insert(schema.place_levels).values(
            place_id=999, changed_on=dt.date(2025, 1, 1), to_level=2, reason="x",
            recorded_at=sa.func.now()))


def test_settings_round_trip(store):
    store.set_setting("h3_resolution", "9")
    store.set_setting("h3_resolution", "9")
    assert store.get_setting("h3_resolution") == "9"
    assert store.get_setting("missing", "default") == "default"


@pytest.mark.parametrize(("given", "expected_driver"), [
    ("x.db", "sqlite"), ("postgresql://u@h/db", "postgresql+psycopg"),
    ("postgres://u@h/db", "postgresql+psycopg"),
])
def test_resolve_url(given, expected_driver):
    assert make_url(resolve_url(given)).drivername == expected_driver


def test_the_store_never_reads_placerisk_db(monkeypatch, tmp_path):
    # PLACERISK_DB is api.settings' to read (tests/api/test_cli.py: the CLI still honours it)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PLACERISK_DB", str(tmp_path / "env.db"))
    assert resolve_url(None) == resolve_url("") == f"sqlite:///{tmp_path / 'placerisk.db'}"


def test_unreachable_database_gives_a_clear_error():
    with pytest.raises(StoreError, match="cannot open the database"):
        open_store("postgresql://nobody@127.0.0.1:1/none")


def test_replace_areas_keeps_authorities_side_by_side(store):
    replace_areas(store, areas_frame("A", "2013"), source="a")
    replace_areas(store, areas_frame("H", "2013", authority="E06000001",
                                     boxes=((-1.25, 54.65, -1.20, 54.70),)), source="h")
    with store.connect() as conn:
        areas = read_areas(conn)
    assert sorted(areas["code"]) == ["A0", "A1", "H0"]
    assert areas.crs == "EPSG:4326"


def test_newer_vintage_replaces_older_and_older_is_refused(store):
    replace_areas(store, areas_frame("OLD", "2013"), source="old")
    result = replace_areas(store, areas_frame("NEW", "2024"), source="new")
    assert result.replaced == {"E06000004": ["2013"]}
    with store.connect() as conn:
        assert sorted(read_areas(conn)["code"]) == ["NEW0", "NEW1"]
    with pytest.raises(StoreError, match="newer than the 2013"):
        replace_areas(store, areas_frame("OLD", "2013"), source="old")
    replace_areas(store, areas_frame("OLD", "2013"), source="old", allow_older=True)
