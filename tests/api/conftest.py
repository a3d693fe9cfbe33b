"""A tiny synthetic store (two box wards, five places, reports, activities) and app clients."""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace

import geopandas as gpd
import pytest
import shapely
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from layers.hotspots import ScoreParams
from layers.loader import import_file
from layers.runs import run_scoring
from layers.store import open_store, replace_areas

AS_OF = dt.date(2025, 6, 30)
LAT = (54.55, 54.60)
LNG = (-1.35, -1.30)
BOXES = {
    "E05000001": ("North Box", (-1.35, 54.55, -1.325, 54.60)),
    "E05000002": ("South Box", (-1.325, 54.55, -1.30, 54.60)),
}
SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
TEMPLATE = "{{ 6*7 }}zz"
NOTE = "SECRET-NOTE"

PLACES = [
    {"place_id": "P1", "name": "Safe Youth Club", "category": "youth_club", "latitude": 54.57,
     "longitude": -1.34, "mace_level": 1, "notes": f"{NOTE} protective"},
    {"place_id": "P2", "name": SCRIPT, "category": "takeaway", "address": IMG,
     "latitude": 54.58, "longitude": -1.31, "mace_level": 4, "notes": f"{NOTE} 2"},
    {"place_id": "P3", "name": IMG, "category": "park", "latitude": 54.56, "longitude": -1.33,
     "mace_level": 3},
    {"place_id": "P4", "name": "Corner Shop", "category": "shop", "latitude": 54.59,
     "longitude": -1.305, "mace_level": 2},
    {"place_id": "P5", "name": TEMPLATE, "category": "other", "latitude": 54.575,
     "longitude": -1.32, "mace_level": 2},
]
REPORTS = [
    {"report_id": "R1", "reported_on": "2025-06-01", "place_id": "P2", "mace_level": 4},
    {"report_id": "R2", "reported_on": "2025-06-10", "place_id": "P2", "mace_level": 3},
    {"report_id": "R3", "reported_on": "2025-05-20", "latitude": 54.56, "longitude": -1.33,
     "mace_level": 2},
    {"report_id": "R4", "reported_on": "2025-06-20", "place_id": "P1", "mace_level": 1},
]
ACTIVITIES = [
    {"activity_id": "A1", "activity_type": "licensing_visit", "started_at": "2025-06-15T10:00",
     "place_id": "P2", "agency": "Council licensing", "outcome": "advice given"},
    {"activity_id": "A2", "activity_type": "street_patrol", "started_at": "2025-06-20T21:00",
     "ended_at": "2025-06-20T21:15", "latitude": 54.56, "longitude": -1.33,
     "agency": "Police"},
]


def make_areas(vintage: str = "2024") -> gpd.GeoDataFrame:
    """Two adjacent box wards of one authority, in EPSG:4326."""
    return gpd.GeoDataFrame(
        {"code": list(BOXES), "name": [name for name, _ in BOXES.values()],
         "authority_code": "E06000004", "authority_name": "Stockton-on-Tees",
         "vintage": vintage},
        geometry=[shapely.box(*bounds) for _, bounds in BOXES.values()], crs="EPSG:4326")


def _write(path: Path, rows: list[dict]) -> Path:
    columns = list(dict.fromkeys(k for row in rows for k in row))
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, columns)
        writer.writeheader()
        writer.writerows(rows)
    return path


def build_store(folder: Path, *, vintage: str = "2024") -> Path:
    """Create, fill and score a store in ``folder``; return its path."""
    db = folder / "t.db"
    store = open_store(db)
    try:
        replace_areas(store, make_areas(vintage), source="test")
        for kind, rows in (("places", PLACES), ("reports", REPORTS),
                           ("activities", ACTIVITIES)):
            result = import_file(store, kind, _write(folder / f"{kind}.csv", rows))
            assert result.rejected == 0, result.messages
        # the records are stored today: count everything known now, events up to AS_OF
        run_scoring(store, ScoreParams(as_of=AS_OF), known_by=dt.datetime.now(dt.UTC))
    finally:
        store.close()
    return db


@pytest.fixture(scope="session")
def synthetic() -> SimpleNamespace:
    """The synthetic data's constants, for assertions."""
    return SimpleNamespace(
        AS_OF=AS_OF, LAT=LAT, LNG=LNG, BOXES=BOXES, SCRIPT=SCRIPT, IMG=IMG, TEMPLATE=TEMPLATE,
        NOTE=NOTE, PLACES=PLACES, REPORTS=REPORTS, ACTIVITIES=ACTIVITIES,
    )


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """A client of the app over the synthetic store (ordinary ward vintage, no tiles)."""
    db = build_store(tmp_path_factory.mktemp("store"))
    with TestClient(create_app(Settings(db=str(db), tiles="none"))) as c:
        yield c


@pytest.fixture
def make_client(tmp_path: Path) -> Iterator[Callable[..., TestClient]]:
    """Build clients over fresh stores: ``make_client(vintage="demo", page_size_max=2)``."""
    opened: list[TestClient] = []

    def make(*, vintage: str = "2024", **settings: object) -> TestClient:
        folder = tmp_path / f"store{len(opened)}"
        folder.mkdir()
        db = build_store(folder, vintage=vintage)
        c = TestClient(create_app(Settings(db=str(db), **settings)))
        c.__enter__()
        opened.append(c)
        return c

    yield make
    for c in opened:
        c.__exit__(None, None, None)
