"""A tiny synthetic store (two box wards, five places, reports, activities), a richer variant
and app clients."""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import geopandas as gpd
import pytest
import shapely
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from layers.access import accounts_store as accounts
from layers.hotspots.engine import ScoreParams
from layers.hotspots.runs import run_scoring
from layers.records.importer import import_file, import_police_uk
from layers.store.engine import Store, open_store, replace_areas

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
PASSWORD = "correct horse battery staple"  # every test account's (synthetic) password

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
    # The hub's first record, before the 104-week window: the data cover the whole window
    # (layers.hotspots.coverage). Level 1 weighs nothing, so it changes no score.
    {"report_id": "R0", "reported_on": "2023-07-03", "latitude": 54.56, "longitude": -1.33,
     "mace_level": 1},
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


def ensure_accounts(store: Store) -> None:
    """One account per role, named after it, with `PASSWORD` (skipped when present)."""
    existing = {row["name"] for row in accounts.list_users(store)}
    for role in accounts.ROLES:
        if role not in existing:
            accounts.add_user(store, role, role, PASSWORD)


def ensure_accounts_in(db: Path | str) -> None:
    """`ensure_accounts` on the store at ``db``."""
    store = open_store(db)
    try:
        ensure_accounts(store)
    finally:
        store.close()


def sign_in(client: TestClient, role: str = "analyst") -> TestClient:
    """Give ``client`` a bearer token of the ``role`` account; returns it."""
    response = client.post("/api/token", json={"name": role, "password": PASSWORD})
    assert response.status_code == 200, response.text
    client.headers["Authorization"] = f"Bearer {response.json()['access_token']}"
    return client


def signed_client(db: Path | str, *, role: str = "analyst", **settings: object) -> TestClient:
    """A started client of a new app over ``db``, signed in as ``role`` (close it after)."""
    store = open_store(db)
    try:
        ensure_accounts(store)
    finally:
        store.close()
    settings.setdefault("tiles", "none")
    client = TestClient(create_app(Settings(db=str(db), **settings)))  # type: ignore[arg-type]
    client.__enter__()
    return sign_in(client, role)


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


def build_store(folder: Path, *, vintage: str = "2024", areas: gpd.GeoDataFrame | None = None,
                more: dict[str, list[dict]] | None = None, police_uk: list[dict] | None = None,
                score: bool = True) -> Path:
    """Create, fill and (unless ``score`` is false) score a store in ``folder``.

    ``more`` adds rows per kind to the synthetic ones; ``police_uk`` rows are imported as a
    police.uk street-level file.
    """
    db = folder / "t.db"
    store = open_store(db)
    more = more or {}
    try:
        ensure_accounts(store)
        replace_areas(store, make_areas(vintage) if areas is None else areas, source="test")
        for kind, rows in (("places", PLACES), ("reports", REPORTS),
                           ("activities", ACTIVITIES)):
            path = _write(folder / f"{kind}.csv", rows + more.get(kind, []))
            result = import_file(store, kind, path)
            assert result.rejected == 0, result.messages
        if police_uk:
            result = import_police_uk(store, _write(folder / "street.csv", police_uk))
            assert result.rejected == 0, result.messages
        if score:
            # the records are stored today: count everything known now, events up to AS_OF
            run_scoring(store, ScoreParams(as_of=AS_OF), known_by=dt.datetime.now(dt.UTC))
    finally:
        store.close()
    return db


# A richer store: a ward named with markup, patrol-only reports in a cell of their own, a
# place with a level in force and police.uk crime (one type patrol-generated).
PATROL_AT = (54.595, -1.345)
MORE = {
    "reports": [
        {"report_id": f"PR{i}", "reported_on": day, "latitude": PATROL_AT[0],
         "longitude": PATROL_AT[1], "mace_level": level, "patrol_discovered": "true"}
        for i, (day, level) in enumerate([("2025-06-25", 4), ("2025-05-02", 3),
                                          ("2025-01-09", 2)])
    ] + [{"report_id": "R5", "reported_on": "2025-06-12", "place_id": "P2", "mace_level": 4,
          "patrol_discovered": "true"}],
    "places": [{"place_id": "P6", "name": "Old Garage", "category": "empty_property",
                "latitude": 54.555, "longitude": -1.31, "mace_level": 4,
                "assessed_on": "2025-01-15"}],
}
POLICE_UK = [
    {"Crime ID": f"c{i}", "Month": month, "Reported by": "Cleveland Police",
     "Falls within": "Cleveland Police", "Longitude": -1.31, "Latitude": 54.58,
     "Location": "On or near High Street", "LSOA code": "E01012345",
     "LSOA name": "Stockton-on-Tees 001A", "Crime type": crime,
     "Last outcome category": "", "Context": ""}
    for i, (month, crime) in enumerate([("2025-05", "Violence and sexual offences"),
                                        ("2025-06", "Drugs"), ("2025-03", "Robbery"),
                                        # before the window: police.uk then covers all 104 weeks
                                        ("2023-06", "Bicycle theft")])
]


@pytest.fixture(scope="session")
def synthetic() -> SimpleNamespace:
    """The synthetic data's constants, for assertions."""
    return SimpleNamespace(
        AS_OF=AS_OF, LAT=LAT, LNG=LNG, BOXES=BOXES, SCRIPT=SCRIPT, IMG=IMG, TEMPLATE=TEMPLATE,
        NOTE=NOTE, PLACES=PLACES, REPORTS=REPORTS, ACTIVITIES=ACTIVITIES, PATROL_AT=PATROL_AT,
    )


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """A client of the app over the synthetic store (ordinary ward vintage, no tiles)."""
    db = build_store(tmp_path_factory.mktemp("store"))
    with TestClient(create_app(Settings(db=str(db), tiles="none"))) as c:
        yield sign_in(c)


@pytest.fixture
def make_client(tmp_path: Path) -> Iterator[Callable[..., TestClient]]:
    """Build clients over fresh stores: ``make_client(vintage="demo", page_size_max=2)``."""
    opened: list[TestClient] = []

    def make(*, vintage: str = "2024", **settings: object) -> TestClient:
        folder = tmp_path / f"store{len(opened)}"
        folder.mkdir()
        db = build_store(folder, vintage=vintage)
        c = TestClient(create_app(Settings(db=str(db), **settings)))  # type: ignore[arg-type]
        c.__enter__()
        opened.append(c)
        return sign_in(c)

    yield make
    for c in opened:
        c.__exit__(None, None, None)


@pytest.fixture(scope="module")
def rich_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """A client over the richer store: a ward named `SCRIPT`, patrol records, crime, a place."""
    areas = make_areas()
    areas.loc[0, "name"] = SCRIPT
    db = build_store(tmp_path_factory.mktemp("rich"), areas=areas, more=MORE,
                     police_uk=POLICE_UK)
    with TestClient(create_app(Settings(db=str(db), tiles="none"))) as c:
        yield sign_in(c)


@pytest.fixture(scope="module")
def unscored_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """A client over the synthetic store before any scoring run."""
    db = build_store(tmp_path_factory.mktemp("unscored"), score=False)
    with TestClient(create_app(Settings(db=str(db), tiles="none"))) as c:
        yield sign_in(c)


@contextmanager
def bearer_clients(app, names: Iterable[str | None]) -> Iterator[dict[str | None, TestClient]]:
    """One client of ``app`` per account name (signed in with a bearer token; None: anonymous)."""
    out: dict[str | None, TestClient] = {}
    try:
        for name in dict.fromkeys(names):
            client = TestClient(app)
            client.__enter__()
            out[name] = client
            if name:
                token = client.post("/api/token", json={"name": name, "password": PASSWORD})
                assert token.status_code == 200, token.text
                client.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
        yield out
    finally:
        for client in out.values():
            client.__exit__(None, None, None)
