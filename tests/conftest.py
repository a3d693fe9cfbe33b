"""Fixtures shared by the whole suite: stores on SQLite and PostgreSQL, the shared data."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from layers.store.engine import Store, open_store

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
PG_ADMIN_URL = os.environ.get("PLACERISK_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def missing(reason: str) -> None:
    """Skip on a developer's machine; fail under CI, where everything must be present."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true: required)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real public data folder, ../shared/data from the project root."""
    if not SHARED_DATA.is_dir():
        missing(f"real public data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    """A fresh, migrated SQLite store in a temporary folder."""
    store = open_store(tmp_path / "placerisk.db")
    yield store
    store.close()


@pytest.fixture
def postgresql_store() -> Iterator[Store]:
    """A fresh, migrated store in its own schema of the local PostgreSQL ``test`` database."""
    admin_url = PG_ADMIN_URL.replace("postgresql://", "postgresql+psycopg://", 1)
    schema = f"t_{uuid.uuid4().hex[:12]}"
    try:
        admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    except sa.exc.OperationalError as exc:
        missing(f"PostgreSQL not reachable at {PG_ADMIN_URL}: {exc.orig}")
    store = open_store(f"{PG_ADMIN_URL}?options=-csearch_path%3D{schema}")
    try:
        yield store
    finally:
        store.close()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest) -> Store:
    """The store tests run on both back ends."""
    return request.getfixturevalue(f"{request.param}_store")
