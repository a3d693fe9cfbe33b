"""Places recorded and changed over the API: checks, versions, conflicts, history, who may."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from layers.access import accounts_store as accounts
from layers.store.engine import open_store

from .conftest import NOTE, PASSWORD, bearer_clients, build_store

NEW = {"name": "Chicken Hut", "category": "takeaway", "latitude": 54.57, "longitude": -1.32,
       "mace_level": 3, "level_reason": "two reports in a week", "notes": f"{NOTE} late"}


@pytest.fixture
def app(tmp_path: Path):
    db = build_store(tmp_path, score=False)
    store = open_store(db)
    try:  # an analyst of another authority only (Hartlepool), for BOLA
        accounts.add_user(store, "hart", "analyst", PASSWORD, authorities=["E06000001"])
    finally:
        store.close()
    return create_app(Settings(db=str(db), tiles="none"))


@pytest.fixture
def clients(app) -> Iterator[dict[str | None, TestClient]]:
    with bearer_clients(app, (None, "analyst", "police", "guardian", "admin", "hart")) as out:
        yield out


def test_an_analyst_records_edits_and_reads_the_history(clients) -> None:
    ana = clients["analyst"]
    made = ana.post("/api/places", json={**NEW, "place_id": "PNEW"})
    assert made.status_code == 201, made.text
    assert made.json() == {"source_id": "PNEW", "version": 1, "changed": {}}
    place = ana.get("/api/places/PNEW").json()
    assert (place["version"], place["mace_level"], place["levels"][0]["decided_by"]) == (
        1, 3, "analyst")
    edit = ana.patch("/api/places/PNEW", json={"version": 1, "address": "1 High St",
                                               "reason": "address from licensing"})
    assert edit.status_code == 200, edit.text
    assert edit.json()["version"] == 2
    assert edit.json()["changed"] == {"address": {"before": None, "after": "1 High St"}}
    level = ana.post("/api/places/PNEW/level", json={
        "level": 4, "reason": "county lines", "version": 2, "decided_on": "2025-06-02",
        "decision_ref": "MACE 2025-06-02"})
    assert level.status_code == 200 and level.json()["version"] == 3
    history = ana.get("/api/places/PNEW/history").json()
    assert [(h["version"], h["action"], h["changed_by"]) for h in history["data"]] == [
        (1, "create", "analyst"), (2, "update", "analyst"), (3, "level", "analyst")]
    assert history["data"][1]["reason"] == "address from licensing"
    detail = ana.get("/api/places/PNEW").json()
    decided = [lv for lv in detail["levels"] if lv["to_level"] == 4]
    assert detail["mace_level"] == 4 and decided[0]["decision_ref"] == "MACE 2025-06-02"


def test_the_second_edit_of_one_version_is_a_409_and_loses_nothing(clients) -> None:
    ana = clients["analyst"]
    ana.post("/api/places", json={**NEW, "place_id": "PNEW"})
    first = ana.patch("/api/places/PNEW", json={"version": 1, "name": "First"})
    second = clients["admin"].patch("/api/places/PNEW", json={"version": 1, "name": "Second"})
    assert first.status_code == 200 and second.status_code == 409
    assert "reload it" in second.json()["detail"]
    place = ana.get("/api/places/PNEW").json()
    assert (place["name"], place["version"]) == ("First", 2)


def test_refused_fields_are_named_without_echoing_the_value(clients) -> None:
    ana = clients["analyst"]
    bad = ana.post("/api/places", json={**NEW, "category": "castle", "mace_level": 9})
    assert bad.status_code == 422
    fields = {tuple(d["loc"]) for d in bad.json()["detail"]}
    assert fields == {("body", "category"), ("body", "mace_level")}
    assert "castle" not in bad.text
    unknown = ana.patch("/api/places/P2", json={"version": 1, "colour": "red"})
    assert unknown.status_code == 422
    level = ana.patch("/api/places/P2", json={"version": 1, "mace_level": 1})
    assert level.status_code == 422  # a level changes by a decision, with a reason


def test_only_analysts_and_admins_write_and_read_history(clients) -> None:
    for role in ("police", "guardian"):
        client = clients[role]
        assert client.post("/api/places", json=NEW).status_code == 403
        assert client.patch("/api/places/P2", json={"version": 1, "name": "x"}).status_code == 403
        assert client.post("/api/places/P2/level", json={
            "level": 1, "reason": "x", "version": 1}).status_code == 403
        assert client.get("/api/places/P2/history").status_code == 403
    assert clients[None].post("/api/places", json=NEW).status_code == 401
    assert clients["police"].get("/api/places/P2").json()["name"] != "x"


def test_another_authoritys_place_is_not_found_and_unchanged(clients) -> None:
    hart = clients["hart"]
    assert hart.patch("/api/places/P2", json={"version": 1, "name": "x"}).status_code == 404
    assert hart.post("/api/places/P2/close", json={"reason": "x", "version": 1}
                     ).status_code == 404
    assert hart.get("/api/places/P2/history").status_code == 404
    assert hart.post("/api/places", json=NEW).status_code == 422  # a Stockton location
    assert clients["analyst"].get("/api/places/P2").json()["version"] == 1


def test_a_cookie_session_needs_the_csrf_token_to_write(app) -> None:
    with TestClient(app) as client:
        client.get("/login")
        login_csrf = client.cookies.get("placerisk_login_csrf")
        r = client.post("/login", data={"name": "analyst", "password": PASSWORD,
                                        "csrf_token": login_csrf}, follow_redirects=False)
        assert r.status_code == 303
        refused = client.post("/api/places", json=NEW)
        assert refused.status_code == 403
        token = client.get("/api/me").json()["csrf_token"]
        made = client.post("/api/places", json=NEW, headers={"X-CSRF-Token": token})
        assert made.status_code == 201, made.text


def test_an_analyst_records_a_report_at_a_place_and_police_may_not(clients) -> None:
    body = {"reported_on": "2025-06-01", "place_id": "P2", "mace_level": 4,
            "exploitation_type": "cce", "summary": f"{NOTE} seen"}
    made = clients["analyst"].post("/api/reports", json=body)
    assert made.status_code == 201, made.text
    assert made.json()["located_by"] == "place" and made.json()["version"] == 1
    assert clients["police"].post("/api/reports", json=body).status_code == 403
    assert clients["hart"].post("/api/reports", json=body).status_code == 422  # unseen place
    bad = clients["analyst"].post("/api/reports", json={**body, "mace_level": "x"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "mace_level"]
