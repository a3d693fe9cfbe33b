"""Text sent over the web is refused, never cut or passed on: a NUL in any parameter or
field, an over-long or control-character review reason, are 422s naming the field, on
SQLite and PostgreSQL (issue 11, item 16). PostgreSQL fails any query holding a NUL, so
before this a NUL in a path, query or body was a 500 there.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from layers.records.importer import import_file
from layers.store import schema
from layers.store.engine import Store

from .conftest import PASSWORD, _write, ensure_accounts, sign_in
from .test_access import QUERY, SAMPLE, routes

NUL = "\x00"
REASON_LIMIT = schema.max_chars(schema.place_reviews.c.reason)


@pytest.fixture
def app(store: Store, tmp_path):
    """An app over a store of both back ends: accounts and one place due for review."""
    ensure_accounts(store)
    place = {"place_id": "RV", "name": "Due Shop", "category": "shop", "latitude": 54.57,
             "longitude": -1.33, "mace_level": 3, "review_due": "2025-01-01"}
    assert import_file(store, "places", _write(tmp_path / "p.csv", [place])).rejected == 0
    return create_app(Settings(db=store.url, tiles="none"))


@pytest.fixture
def admin(app) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as client:
        yield sign_in(client, "admin")


def _flat(items) -> Iterator:
    for route in items:
        if type(route).__name__ == "_IncludedRouter":
            yield from _flat(route.original_router.routes)
        elif hasattr(route, "dependant"):
            yield route


def _query_params(app, method: str, path: str) -> list[str]:
    """The names of a route's query parameters, its dependencies' included."""
    route = next(r for r in _flat(app.routes) if r.path == path and method in r.methods)
    found, stack = [], [route.dependant]
    while stack:
        dependant = stack.pop()
        found += [p.alias for p in dependant.query_params]
        stack += dependant.dependencies
    return sorted(set(found))


def _request(client: TestClient, method: str, path: str, params: dict[str, str]):
    values = {**SAMPLE, "h3_cell": "89194655b57ffff"}
    return client.request(method, re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], path),
                          params=params, follow_redirects=False)


def test_a_nul_in_any_path_or_query_parameter_is_a_422_naming_it(app, admin) -> None:
    """Regression: on PostgreSQL /api/places/P%001, ?ward_code=E%00 and others gave 500."""
    wrong = []
    for method, path in routes(app):
        if path in ("/logout", "/api/token", "/login") and method == "POST":
            continue  # their bodies are tried below
        for name in re.findall(r"\{(\w+)\}", path):
            response = _request(admin, method, path.replace("{" + name + "}", "x%00"),
                                QUERY.get(path, {}))
            if response.status_code != 422 or name not in response.text:
                wrong.append(f"{method} {path} path {name}: {response.status_code}")
        for name in _query_params(app, method, path):
            response = _request(admin, method, path, {**QUERY.get(path, {}), name: "ab" + NUL})
            if response.status_code != 422 or name not in response.text:
                wrong.append(f"{method} {path} query {name}: {response.status_code}")
    assert wrong == []


def test_the_nul_422_names_the_place_and_the_position(admin) -> None:
    response = admin.get("/api/places", params={"ward_code": "E05" + NUL})
    assert response.status_code == 422
    assert response.json()["detail"] == [{
        "loc": ["query", "ward_code"], "type": "string_nul",
        "msg": "holds a NUL character (U+0000) at character 4; text cannot hold one"}]


@pytest.mark.parametrize(("field", "body"), [
    ("name", {"name": "ana" + NUL + "lyst", "password": PASSWORD}),
    ("password", {"name": "analyst", "password": PASSWORD + NUL}),
])
def test_a_nul_in_a_sign_in_is_a_422_naming_the_field(app, field, body) -> None:
    """Regression: a NUL in the user name gave a 500 on PostgreSQL (the account lookup)."""
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.post("/api/token", json=body)
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"] == ["body", field]
        client.get("/login")
        form = {**body, "csrf_token": client.cookies.get("placerisk_login_csrf")}
        response = client.post("/login", data=form, follow_redirects=False)
        assert response.status_code == 422 and field in response.text


@pytest.mark.parametrize(("reason", "says"), [
    ("x" * (REASON_LIMIT + 1), f"at most {REASON_LIMIT}"),
    ("still" + NUL + "a concern", "NUL"),
    ("bell \x07 rung", "control character U+0007 at character 6"),
])
def test_a_bad_review_reason_is_a_422_naming_the_field(admin, reason, says) -> None:
    """Regression: a control character in a reason was stored, a NUL a 500 on PostgreSQL."""
    response = admin.post("/api/places/RV/review", json={"decision": "retain", "reason": reason})
    assert response.status_code == 422
    assert "reason" in response.text and says in response.text
    response = admin.post("/api/places/RV/review/form",
                          data={"decision": "retain", "reason": reason})
    assert response.status_code == 422
    assert "reason" in response.text
    assert admin.get("/api/review").json()["count"] == 1  # still due: nothing was decided


def test_a_reason_at_the_limit_with_line_breaks_is_kept_whole(admin) -> None:
    reason = "first line\r\nsecond\tline " + "y" * (REASON_LIMIT - 24)
    assert len(reason) == REASON_LIMIT
    response = admin.post("/api/places/RV/review", json={"decision": "retain", "reason": reason})
    assert response.status_code == 200, response.text
    assert response.json()["reason"] == reason
