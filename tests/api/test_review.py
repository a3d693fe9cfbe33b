"""Review and retention over HTTP and the CLI: roles, strict bodies, CSRF, escaping, erasure."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from fastapi.testclient import TestClient

from api.app import create_app
from api.cli import main
from api.services.guardian import guardian_view
from api.settings import Settings
from layers.access import review_store as review
from layers.access.review_store import NEXT_REVIEW_MONTHS, add_months
from layers.store import audit, schema
from layers.store.engine import open_store, utcnow

from .conftest import PASSWORD, SCRIPT, build_store, sign_in

DUE = {"category": "shop", "latitude": 54.57, "longitude": -1.33, "review_due": "2025-01-01"}
MORE = {"places": [
    {"place_id": "RV1", "name": SCRIPT, "mace_level": 4, **DUE},
    {"place_id": "RV2", "name": "Due Shop", "mace_level": 3, **DUE},
    {"place_id": "RV3", "name": "Due Kiosk", "mace_level": 3, **DUE},
    {"place_id": "RV4", "name": "Due Stall", "mace_level": 2, **DUE},
    {"place_id": "GONE", "name": "Vanishing Garage", "category": "empty_property",
     "latitude": 54.585, "longitude": -1.315, "mace_level": 4, "status": "closed"},
    {"place_id": "SHUT", "name": "Shut Arcade", "category": "shop", "latitude": 54.56,
     "longitude": -1.34, "mace_level": 3, "status": "closed"},
    {"place_id": "SHUT2", "name": "Shut Cafe", "category": "shop", "latitude": 54.56,
     "longitude": -1.34, "mace_level": 3, "status": "closed"},
    {"place_id": "RV5", "name": "Due Yard", "mace_level": 2, **DUE},
]}
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_store(tmp_path_factory.mktemp("review"), more=MORE)


@pytest.fixture
def make(db: Path) -> Iterator:
    """Clients of one app over the module's store: ``make("analyst")``, ``make(None)``."""
    app = create_app(Settings(db=str(db), tiles="none"))
    opened: list[TestClient] = []

    def client(role: str | None = "analyst") -> TestClient:
        c = TestClient(app)
        c.__enter__()
        opened.append(c)
        return sign_in(c, role) if role else c

    yield client
    for c in opened:
        c.__exit__(None, None, None)


def _form_login(client: TestClient, name: str) -> None:
    client.get("/login")
    csrf = client.cookies.get("placerisk_login_csrf")
    r = client.post("/login", data={"name": name, "password": PASSWORD, "csrf_token": csrf},
                    follow_redirects=False)
    assert r.status_code == 303


def _queue_ids(client: TestClient) -> list[str]:
    return [row["source_id"] for row in client.get("/api/review").json()["data"]]


def test_queue_is_for_staff_only(make) -> None:
    body = make("analyst").get("/api/review").json()
    assert {"RV1", "RV2"} <= {row["source_id"] for row in body["data"]}
    assert "GONE" not in {row["source_id"] for row in body["data"]}  # closed
    assert body["data"][0]["due_from"] == "review_due" and body["count"] == len(body["data"])
    assert make("admin").get("/api/review").status_code == 200
    for role, status in (("police", 403), ("guardian", 403), (None, 401)):
        client = make(role)
        assert client.get("/api/review").status_code == status
        page = client.get("/review", follow_redirects=False).status_code
        assert page == (303 if role is None else status)  # a page: on to the sign-in page
        r = client.post("/api/places/RV1/review", json={"decision": "close"})
        assert r.status_code == status
        assert client.post("/api/places/GONE/erase").status_code == status


def test_json_decision_as_analyst(make) -> None:
    client = make("analyst")
    r = client.post("/api/places/RV2/review", json={"decision": "retain",
                                                    "reason": "still reported"})
    assert r.status_code == 200, r.text
    body = r.json()
    expected = add_months(utcnow().date(), NEXT_REVIEW_MONTHS).isoformat()
    assert body["decision"] == "retain" and body["decided_by"] == "analyst"
    assert body["review_due"] == expected and body["status"] == "open"
    assert "RV2" not in _queue_ids(client)
    with client.app.state.store.connect() as conn:
        rows = audit.query(conn, object_id="RV2", action="review")
    assert rows["user_name"].tolist() == ["analyst"]  # one row: the policy adds none


@pytest.mark.parametrize("body", [
    None,
    {"decision": "keep"},
    {"decision": "retain"},  # no reason
    {"decision": "close", "reason": "x", "extra": 1},
    {"decision": "lower", "new_level": 9},
    {"decision": "lower", "new_level": 4},  # not below level 3
    {"decision": "retain", "reason": "x", "next_review_due": "2020-01-01"},
    {"decision": "retain", "reason": "x", "next_review_due": "soon"},
])
def test_bad_decisions_are_422(make, body) -> None:
    client = make("analyst")
    r = client.post("/api/places/RV3/review", json=body)
    assert r.status_code == 422, r.text
    assert "RV3" in _queue_ids(client)


def test_refusals_name_their_status(make) -> None:
    client = make("analyst")
    assert client.post("/api/places/NOPE/review", json={"decision": "close"}).status_code == 404
    r = client.post("/api/places/SHUT/review", json={"decision": "retain", "reason": "x"})
    assert r.status_code == 409 and "closed" in r.json()["detail"]
    r = client.post("/api/places/RV3/erase")
    assert r.status_code == 409 and "not closed" in r.json()["detail"]


def test_review_page_escapes_names_and_carries_the_csrf_token(make) -> None:
    client = make("analyst")
    page = client.get("/review")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    assert SCRIPT not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert set(CSRF.findall(page.text)) == {client.get("/api/me").json()["csrf_token"]}
    assert 'action="/api/places/RV1/review/form"' in page.text


def test_form_post_with_a_cookie_needs_the_csrf_token(make) -> None:
    client = make(None)
    _form_login(client, "analyst")
    form = {"decision": "lower", "new_level": "1", "reason": "disrupted",
            "next_review_due": ""}
    r = client.post("/api/places/RV4/review/form", data=form, follow_redirects=False)
    assert r.status_code == 403
    assert "RV4" in _queue_ids(client)
    token = CSRF.search(client.get("/review").text).group(1)
    r = client.post("/api/places/RV4/review/form", data={**form, "csrf_token": token},
                    follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/review"
    assert "RV4" not in _queue_ids(client)
    assert client.get("/api/places/RV4").json()["mace_level"] == 1


def test_refused_form_shows_the_page_with_the_reason(make) -> None:
    client = make(None)
    _form_login(client, "analyst")
    token = CSRF.search(client.get("/review").text).group(1)
    r = client.post("/api/places/RV3/review/form",
                    data={"decision": "retain", "reason": "", "csrf_token": token})
    assert r.status_code == 422 and "a retain decision needs a reason" in r.text
    r = client.post("/api/places/RV3/review/form",
                    data={"decision": "lower", "new_level": "x", "csrf_token": token})
    assert r.status_code == 422 and "new_level" in r.text
    r = client.post("/api/places/RV3/erase", data={"csrf_token": token})
    assert r.status_code == 409 and "not closed" in r.text
    r = client.post("/api/places/SHUT2/erase", data={"csrf_token": token},
                    follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/review"
    assert client.get("/api/places/SHUT2").status_code == 404


def test_erased_place_vanishes_from_every_read(make, db: Path) -> None:
    client = make("analyst")
    reads = {
        "list": lambda: client.get("/api/places", params={"limit": 1000}).text,
        "geojson": lambda: client.get("/api/places.geojson", params={"limit": 1000}).text,
        "export": lambda: client.get("/api/export/places.csv",
                                     params={"purpose": "erasure test"}).text,
        "map": lambda: client.get("/").text,
        "ward": lambda: client.get("/wards/E05000002").text,
    }
    for name, read in reads.items():
        assert "Vanishing Garage" in read(), name
    assert client.get("/api/places/GONE").status_code == 200
    r = client.post("/api/places/GONE/erase")
    assert r.status_code == 200 and r.json()["source_id"] == "GONE"
    for name, read in reads.items():
        assert "Vanishing Garage" not in read(), name
    assert client.get("/api/places/GONE").status_code == 404
    assert client.get("/api/places/GONE/notes").status_code == 404
    assert client.post("/api/places/GONE/erase").status_code == 404
    assert "GONE" not in client.get("/review").text


def test_guardian_data_leaves_erased_places_out(make, db: Path) -> None:
    """Erasure hides a place whatever its status: P1 is an open protective place."""
    settings = Settings(db=str(db), tiles="none")
    store = open_store(db)
    try:
        before = len(guardian_view(store, settings).protective)
        with store.begin() as conn:
            t = schema.places
            conn.execute(sa.update(t).where(t.c.source_id == "P1").values(erased_at=utcnow()))
        assert len(guardian_view(store, settings).protective) == before - 1
        guardian = make("guardian")
        assert guardian.get("/api/guardian/cells").status_code == 200
    finally:
        with store.begin() as conn:
            t = schema.places
            conn.execute(sa.update(t).where(t.c.source_id == "P1").values(erased_at=None))
        store.close()


def test_cli_review_list_and_retention(tmp_path: Path, monkeypatch) -> None:
    client_db = str(build_store(tmp_path, more=MORE, score=False))
    runner = CliRunner()
    listed = runner.invoke(main, ["review", "list", "--db", client_db, "--on", "2025-07-01"])
    assert listed.exit_code == 0, listed.output
    assert "RV5" in listed.output and "due 2025-01-01" in listed.output
    store = open_store(client_db)
    try:
        review.decide(store, "RV5", decision="close", user="ann")
        review.erase(store, "RV5", user="ann")
    finally:
        store.close()
    monkeypatch.setenv("PLACERISK_RETENTION_DAYS", "365")
    dry = runner.invoke(main, ["retention", "--db", client_db])
    assert dry.exit_code == 0 and "0 places" in dry.output and "dry run" in dry.output
    dry = runner.invoke(main, ["retention", "--db", client_db, "--days", "0"])
    assert "RV5" in dry.output and "1 places" in dry.output and "dry run" in dry.output
    done = runner.invoke(main, ["retention", "--db", client_db, "--days", "0", "--apply"])
    assert done.exit_code == 0 and "purged: 1 places" in done.output
    store = open_store(client_db)
    try:
        with store.connect() as conn:
            t = schema.places
            assert conn.scalar(sa.select(t.c.id).where(t.c.source_id == "RV5")) is None
            rows = audit.query(conn, action="purge")
        assert len(rows) == 1 and rows["user_name"].iloc[0].startswith("cli:")
        assert rows["object_ids"].iloc[0] == "RV5"
    finally:
        store.close()
    bad = runner.invoke(main, ["retention", "--db", client_db, "--days", "-1"])
    assert bad.exit_code != 0
