"""The audit trail over HTTP and the CLI: real outcomes, CSRF refusals, bulk reads, --verify."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from fastapi.testclient import TestClient

from api.app import create_app
from api.cli import main
from api.settings import Settings
from layers.store import audit, schema
from layers.store.engine import open_store

from .conftest import PASSWORD, build_store, sign_in


def _cli(db: Path, *args: str):
    return CliRunner().invoke(main, ["--db", str(db), *args], catch_exceptions=False)


def test_audit_verify_exits_0_when_intact_and_1_at_the_first_break(tmp_path: Path) -> None:
    db = tmp_path / "v.db"
    store = open_store(db)
    for i in range(4):
        audit.record(store, action="read_place", user_name="pc-1", object_ids=[f"P{i}"])
    intact = _cli(db, "audit", "--verify")
    assert intact.exit_code == 0, intact.output
    assert "intact: 4 rows" in intact.output
    with store.connect() as conn:
        head = audit.verify(conn)
    assert f"head row 4 {head.head_hash}" in intact.output
    anchored = _cli(db, "audit", "--verify", "--anchor", f"4:{head.head_hash}")
    assert anchored.exit_code == 0
    with store.begin() as conn:
        conn.exec_driver_sql("DROP TRIGGER audit_log_no_update")
        conn.exec_driver_sql("UPDATE audit_log SET object_ids = 'P9' WHERE id = 2")
    store.close()
    broken = _cli(db, "audit", "--verify")
    assert broken.exit_code == 1
    assert "BROKEN: row 2: its content no longer matches its hash" in broken.output


def test_audit_verify_refuses_filters_and_bad_anchors(tmp_path: Path) -> None:
    db = tmp_path / "f.db"
    open_store(db).close()
    assert _cli(db, "audit", "--verify", "--user", "x").exit_code == 2
    assert _cli(db, "audit", "--anchor", f"1:{'0' * 64}").exit_code == 2
    bad = _cli(db, "audit", "--verify", "--anchor", "1:abc")
    assert bad.exit_code == 2 and "64 hex digits" in bad.output


def test_the_audit_listing_is_one_line_per_row(tmp_path: Path) -> None:
    db = tmp_path / "l.db"
    store = open_store(db)
    audit.record(store, action="login", outcome="failed", user_name="x\nforged line",
                 status=401)
    store.close()
    listed = _cli(db, "audit").stdout.splitlines()
    assert len(listed) == 1 and "x\\nforged line" in listed[0] and " failed 401 " in listed[0]


# --- over HTTP: the real outcome, CSRF refusals, one-line purposes ----------------------

@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_store(tmp_path_factory.mktemp("trail"))


@pytest.fixture(scope="module")
def app(db: Path):
    return create_app(Settings(db=str(db), tiles="none"))


@pytest.fixture
def client(app) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


def signed(client: TestClient, role: str) -> TestClient:
    return sign_in(client, role)


def rows_of(client: TestClient, call: Callable[[], Any]) -> tuple[list[dict], Any]:
    """The audit rows ``call`` left, oldest first, and its answer."""
    store = client.app.state.store  # type: ignore[attr-defined]
    with store.connect() as conn:
        before = conn.scalar(sa.select(sa.func.coalesce(sa.func.max(schema.audit_log.c.id), 0)))
    answer = call()
    with store.connect() as conn:
        found = conn.execute(sa.select(schema.audit_log).where(schema.audit_log.c.id > before)
                             .order_by(schema.audit_log.c.id)).mappings().all()
    return [dict(r) for r in found], answer


def only(rows: list[dict], action: str) -> dict:
    (row,) = [r for r in rows if r["action"] == action]
    return row


@pytest.mark.parametrize(("role", "url", "params", "action", "status", "outcome"), [
    ("police", "/api/places/P2", {}, "read_place", 200, "ok"),
    ("police", "/api/places/NO-SUCH-PLACE", {}, "read_place", 404, "not_found"),
    ("analyst", "/api/places/NO-SUCH-PLACE/notes", {}, "read_notes", 404, "not_found"),
    ("analyst", "/api/export/nothing.csv", {"purpose": "JAG 1 December"}, "export", 404,
     "not_found"),
    ("analyst", "/api/export/cells.csv", {"purpose": "JAG 1 December", "run_id": "999"},
     "export", 404, "not_found"),
    ("analyst", "/api/export/places.csv", {"purpose": "JAG 1 December", "run_id": "1"},
     "export", 422, "invalid"),
    ("analyst", "/api/export/places.csv", {"purpose": "no"}, "export", 422, "invalid"),
    ("analyst", "/briefing", {"meeting": "not-a-date"}, "briefing", 422, "invalid"),
    ("analyst", "/briefing.pdf", {"meeting": "2025-02-30"}, "briefing", 422, "invalid"),
    ("analyst", "/briefing.pdf", {"meeting": "1999-01-01"}, "briefing", 404, "not_found"),
])
def test_audit_rows_hold_the_real_outcome(client: TestClient, role: str, url: str,
                                          params: dict, action: str, status: int,
                                          outcome: str) -> None:
    signed(client, role)
    rows, answer = rows_of(client, lambda: client.get(url, params=params))
    assert answer.status_code == status, answer.text
    row = only(rows, action)
    assert (row["outcome"], row["status"], row["user_name"]) == (outcome, status, role)


def test_an_unexpected_failure_is_audited_as_an_error(tmp_path: Path) -> None:
    db = build_store(tmp_path, score=False)
    store = open_store(db)
    with store.begin() as conn:  # a broken store: the place detail cannot be read
        conn.exec_driver_sql("DROP TABLE place_levels")
    store.close()
    app = create_app(Settings(db=str(db), tiles="none"))
    with TestClient(app, raise_server_exceptions=False) as c:
        signed(c, "police")
        rows, answer = rows_of(c, lambda: c.get("/api/places/P2"))
    assert answer.status_code == 500
    row = only(rows, "read_place")
    assert (row["outcome"], row["status"]) == ("error", 500)


def test_no_answer_leaves_without_its_audit_row(tmp_path: Path) -> None:
    """When the row cannot be written the caller gets a 503, not the place."""
    db = build_store(tmp_path, score=False)
    app = create_app(Settings(db=str(db), tiles="none"))
    with TestClient(app) as c:
        signed(c, "police")
        store = app.state.store
        with store.begin() as conn:  # the chain head gone: nothing can be audited
            conn.exec_driver_sql("DELETE FROM audit_head")
        r = c.get("/api/places/P2")
        assert r.status_code == 503 and "audit log" in r.json()["detail"]
        assert "P2" not in r.text and "lat" not in r.text
        assert r.headers["X-Content-Type-Options"] == "nosniff"  # still the app's headers


def test_csrf_refusals_are_audited(client: TestClient) -> None:
    client.get("/login")
    rows, _ = rows_of(client, lambda: client.post(
        "/login", data={"name": "analyst", "password": PASSWORD, "csrf_token": "stale"}))
    row = only(rows, "denied")
    assert row["status"] == 403 and "CSRF" in row["detail"] and row["outcome"] == "denied"
    csrf = client.get("/login").cookies.get("placerisk_login_csrf")
    signed_in = client.post("/login", data={"name": "analyst", "password": PASSWORD,
                                            "csrf_token": csrf}, follow_redirects=False)
    assert signed_in.status_code == 303
    rows, answer = rows_of(client, lambda: client.post(
        "/api/places/P2/review", data={"decision": "retain", "reason": "still active"}))
    assert answer.status_code == 403
    row = only(rows, "denied")
    assert (row["user_name"], row["status"], row["outcome"]) == ("analyst", 403, "denied")
    assert row["detail"] == "POST /api/places/{place_id}/review: CSRF token missing or stale"


@pytest.mark.parametrize("purpose", ["JAG 1 Dec\r\nanalyst export ok", "JAG 1 Dec\nx",
                                     "JAG\t1 December", "JAG 1 Dec\x00", "JAG 1 Dec\u2028x"])
def test_purposes_are_one_line(client: TestClient, purpose: str) -> None:
    signed(client, "analyst")
    rows, answer = rows_of(client, lambda: client.get("/api/export/places.csv",
                                                      params={"purpose": purpose}))
    assert answer.status_code == 422
    assert "one line" in answer.json()["detail"]
    assert "control character" in answer.json()["detail"]
    row = only(rows, "export")
    assert row["outcome"] == "invalid" and row["purpose"].isprintable()
    refused = client.get("/outcomes.csv", params={"purpose": purpose})
    assert refused.status_code == 422 and "one line" in refused.json()["detail"]


def test_a_purpose_with_a_no_break_space_is_one_line(client: TestClient) -> None:
    signed(client, "analyst")
    rows, answer = rows_of(client, lambda: client.get("/api/export/places.csv",
                                                      params={"purpose": "JAG\u00a01 Dec"}))
    assert answer.status_code == 200
    assert only(rows, "export")["purpose"] == "JAG 1 Dec"


# --- bulk reads: one row each, with the count and the filters ---------------------------

SOUTH = "E05000002"  # P2, P4, P5 and activity A1 (at P2) lie in it
BULK = [  # url, params, object type, records returned (by kind), matched
    ("/api/places", {"limit": "1000"}, "places", {"places": 5}, 5),
    ("/api/places", {"ward_code": SOUTH, "limit": "2", "offset": "1"}, "places",
     {"places": 2}, 3),
    ("/api/places.geojson", {"mace_level": "2"}, "places", {"places": 2}, 2),
    ("/api/activities", {}, "activities", {"activities": 2}, 2),
    ("/api/activities", {"ward_code": SOUTH}, "activities", {"activities": 1}, 1),
    ("/", {}, "map", {"places": 5, "activities": 2}, None),
    ("/", {"category": "takeaway"}, "map", {"places": 1, "activities": 1}, None),
    (f"/wards/{SOUTH}", {}, "ward", {"places": 3, "activities": 1}, None),
    (f"/wards/{SOUTH}/map", {}, "ward", {"places": 3}, None),
]


def _check_bulk_row(row: dict, role: str, object_type: str, counts: dict[str, int],
                    matched: int | None, url: str, params: dict) -> None:
    assert (row["user_name"], row["role"], row["outcome"], row["status"]) == (
        role, role, "ok", 200)
    assert row["object_type"] == object_type
    assert row["returned"] == sum(counts.values())
    for kind, n in counts.items():
        assert f"{n} {kind}" in row["detail"]
    if matched is not None:
        assert f"(of {matched} matched)" in row["detail"]
    assert row["detail"].startswith(f"GET {url}")
    for key, value in params.items():
        assert f"{key}={value}" in row["detail"]


@pytest.mark.parametrize("role", ["police", "analyst"])
@pytest.mark.parametrize(("url", "params", "object_type", "counts", "matched"), BULK)
def test_every_bulk_read_leaves_one_row_with_its_count(
        client: TestClient, role: str, url: str, params: dict, object_type: str,
        counts: dict[str, int], matched: int | None) -> None:
    signed(client, role)
    for _ in range(2):  # the second page comes from the page cache: audited all the same
        rows, answer = rows_of(client, lambda: client.get(url, params=params))
        assert answer.status_code == 200, answer.text
        if url.startswith("/api/"):
            body = answer.json()
            shown = body["numberReturned"] if "numberReturned" in body else len(body["data"])
            assert shown == sum(counts.values())  # the row counts what the answer held
        assert len(rows) == 1
        _check_bulk_row(rows[0], role, object_type, counts, matched, url, params)


@pytest.mark.parametrize("role", ["analyst", "admin"])
@pytest.mark.parametrize("url", ["/review", "/api/review", "/api/export/places.csv"])
def test_review_queue_and_exports_are_counted(client: TestClient, role: str, url: str) -> None:
    signed(client, role)
    params = {"purpose": "JAG 1 December"} if "export" in url else {}
    rows, answer = rows_of(client, lambda: client.get(url, params=params))
    assert answer.status_code == 200
    (row,) = rows
    assert row["user_name"] == role and row["status"] == 200
    if url == "/api/review":
        assert row["returned"] == answer.json()["count"]
    elif url == "/review":
        assert row["returned"] is not None and "places due" in row["detail"]
    else:
        assert row["returned"] == 5 and row["purpose"] == "JAG 1 December"


def test_a_bulk_read_refused_is_a_denial_not_a_read(client: TestClient) -> None:
    signed(client, "guardian")
    rows, _ = rows_of(client, lambda: client.get("/api/places", params={"limit": "1000"}))
    (row,) = rows
    assert (row["action"], row["outcome"], row["status"], row["returned"]) == (
        "denied", "denied", 403, None)


def test_every_route_answering_place_or_activity_records_is_audited(app) -> None:
    """A new route whose answer holds places, activities or the review queue must have an
    audited rule: the route list is walked, not a list kept by hand."""
    from api.policy import rule_for

    def walk(items):  # included routers flattened, as in test_access
        for item in items:
            if type(item).__name__ == "_IncludedRouter":
                yield from walk(item.original_router.routes)
            else:
                yield item

    records = {"PlacePublic", "PlaceDetail", "ActivityPublic", "PlaceActivity", "QueueItem"}
    missing, checked = [], []
    for route in walk(app.routes):
        model = getattr(route, "response_model", None)
        if model is None or not hasattr(model, "model_json_schema"):
            continue
        schema_ = model.model_json_schema()
        named = {model.__name__, *schema_.get("$defs", {})}
        for method in getattr(route, "methods", ()):
            rule = rule_for(method, route.path)
            if named & records:
                checked.append(f"{method} {route.path}")
                if rule is None or not rule.audit:
                    missing.append(f"{method} {route.path}")
    assert missing == []
    assert {"GET /api/places", "GET /api/activities", "GET /api/review"} <= set(checked)
