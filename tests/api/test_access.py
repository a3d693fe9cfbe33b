"""Deny by default: every route, every role, and what each role's answers may contain.

The role walk calls every route of the app as each role and as an anonymous caller and
checks the answer against `api.policy.POLICY`: 401 without a sign-in (for a page, a 303 to
``/login?next=<the page>``), 403 for a role the rule leaves out (an HTML page for a page),
a working answer otherwise. A route missing from the policy fails the walk.
The field scan reads every answer a police officer or a guardian gets, for notes, report
summaries, intelligence grades and (guardians) the names of places of concern. Logs written
during the walk must hold no note, password or token.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from starlette.routing import Mount

from api.app import create_app
from api.policy import POLICY, rule_for
from api.settings import Settings
from layers.access.accounts_store import ROLES

from .conftest import (
    IMG,
    MORE,
    NOTE,
    PASSWORD,
    POLICE_UK,
    SCRIPT,
    TEMPLATE,
    bearer_clients,
    build_store,
)

SUMMARY = "SECRET-SUMMARY"
REASON = "SECRET-REASON"  # a level decision's reason: free text, analysts and admins only
REASONED = [{"place_id": "PR", "name": "Synthetic flats", "category": "residential",
             "latitude": 54.585, "longitude": -1.34, "mace_level": 3,
             "level_reason": f"{REASON} seen by the youth service",
             "notes": f"{NOTE} flats"}]
GRADED = [{"report_id": f"G{i}", "reported_on": f"2025-06-0{i + 1}",
           "place_id": "PR", "mace_level": 3, "source_grade": 1, "intel_grade": "B",
           "handling_code": "C", "summary": f"{SUMMARY} {i}"} for i in range(3)]
# Names of places of concern (levels 2-4): a guardian must never see them.
CONCERN_NAMES = ["Corner Shop", "Old Garage", SCRIPT, IMG, TEMPLATE]
FORBIDDEN_KEYS = ("notes", "summary", "intel_grade", "source_grade", "handling_code")
SAMPLE = {"place_id": "PR", "run_id": "1", "ward_code": "E05000002", "what": "places",
          "fmt": "csv"}
QUERY = {"/patrol": {"ward": "E05000002"}, "/api/patrol": {"ward": "E05000002"},
         "/api/search": {"q": "TS"}}
PLAN = {"ward": "E05000002", "date": "2025-07-01"}
for _path in ("/patrol/plan", "/api/patrol/plan", "/patrol/plan.pdf", "/patrol/plan.gpx",
              "/patrol/plan.kml"):
    QUERY[_path] = PLAN
QUERY["/briefing"] = QUERY["/briefing.pdf"] = {"meeting": "2025-07-01"}
QUERY["/api/export/{what}.{fmt}"] = QUERY["/outcomes.csv"] = {"purpose": "access test"}
SKIP_POST = {("POST", "/login")}  # a form: its own tests cover it


def routes(app) -> Iterator[tuple[str, str]]:
    """(method, path template) of every route, included routers flattened; no mounts."""
    def walk(items):
        for route in items:
            if type(route).__name__ == "_IncludedRouter":
                yield from walk(route.original_router.routes)
            elif isinstance(route, Mount):
                continue
            else:
                yield route
    for route in walk(app.routes):
        for method in sorted(getattr(route, "methods", None) or ()):
            if method != "HEAD":
                yield method, route.path


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    more = {**MORE, "reports": MORE["reports"] + GRADED, "places": MORE["places"] + REASONED}
    return build_store(tmp_path_factory.mktemp("access"), more=more, police_uk=POLICE_UK)


@pytest.fixture(scope="module")
def app(db: Path):
    return create_app(Settings(db=str(db), tiles="none"))


@pytest.fixture(scope="module")
def clients(app) -> Iterator[dict[str | None, TestClient]]:
    with bearer_clients(app, (None, *ROLES)) as out:
        yield out


@pytest.fixture(scope="module")
def cell(clients) -> str:
    return clients["analyst"].get("/api/cells", params={"limit": 1}).json()["data"][0]["h3_cell"]


def url(path: str, cell: str) -> str:
    values = {**SAMPLE, "h3_cell": cell}
    return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], path)


def test_every_route_has_a_rule(app) -> None:
    missing = [f"{m} {p}" for m, p in routes(app) if rule_for(m, p) is None]
    assert missing == [], f"routes without a policy (denied to all): {missing}"
    stale = sorted(f"{m} {p}" for m, p in POLICY if (m, p) not in set(routes(app)))
    assert stale == [], f"policy rules for routes that do not exist: {stale}"


def _call(client: TestClient, method: str, path: str, cell: str):
    if method == "POST" and path == "/api/token":
        return client.post(path, json={"name": "nobody", "password": "x" * 12})
    if method == "POST" and path == "/logout" and "Authorization" in client.headers:
        # sign out a second token of the same account, not the one the walk goes on with
        role = client.get("/api/me").json()["role"]
        spare = client.post("/api/token", json={"name": role, "password": PASSWORD}).json()
        return client.post(path, headers={"Authorization": f"Bearer {spare['access_token']}"})
    return client.request(method, url(path, cell), params=QUERY.get(path, {}),
                          follow_redirects=False)


def _expected(rule, role: str | None) -> str | int:
    """"open", 401, 303 (a page, signed out: on to the sign-in page) or 403."""
    if rule.public:
        return "open"
    if role is None:
        return 303 if rule.page else 401
    return "open" if role in rule.roles else 403


def _answers_as_expected(response, rule, path: str, expected: str | int) -> bool:
    got = response.status_code
    if path == "/api/token":  # public, but a wrong password is a 401
        return got == 401
    if expected == "open":
        return got not in (401, 403) and got < 500
    if expected == 303:  # back to the page after signing in
        return got == 303 and response.headers["location"].startswith("/login?next=%2F")
    if expected == 403 and rule.page:
        return got == 403 and response.headers["content-type"].startswith("text/html")
    return got == expected


def test_role_walk(app, clients, cell, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = []
    bodies: dict[str, list[str]] = {role: [] for role in ROLES}
    for method, path in routes(app):
        if (method, path) in SKIP_POST:
            continue
        rule = rule_for(method, path)
        assert rule is not None
        for role, client in clients.items():
            response = _call(client, method, path, cell)
            expected = _expected(rule, role)
            if not _answers_as_expected(response, rule, path, expected):
                wrong.append(f"{role or 'anonymous'} {method} {path}: "
                             f"{response.status_code}, expected {expected}")
            if role and expected == "open" and response.status_code < 400:
                bodies[role].append(f"{method} {path}\n" + response.content.decode("latin-1"))
    assert wrong == []
    _scan(bodies)
    logged = caplog.text
    for secret in (NOTE, SUMMARY, PASSWORD, "Bearer "):
        assert secret not in logged


def _scan(bodies: dict[str, list[str]]) -> None:
    """No notes, summaries or grades for police and guardians; no concern names for guardians."""
    for role in ("police", "guardian"):
        for body in bodies[role]:
            where = body.split("\n", 1)[0]
            assert NOTE not in body and SUMMARY not in body, (role, where)
            assert REASON not in body, (role, where)
            if where.endswith(("/openapi.json", "/docs")):
                continue  # the schema names every field; it holds no values
            for key in FORBIDDEN_KEYS:
                assert f'"{key}"' not in body, (role, where, key)
    for body in bodies["guardian"]:
        where = body.split("\n", 1)[0]
        for name in CONCERN_NAMES:
            assert name not in body, ("guardian", where, name)
    # analysts do get the notes route: the scan would catch a leak, not a missing route
    assert any(NOTE in body for body in bodies["analyst"])
    assert any(SUMMARY in body for body in bodies["analyst"])
    assert any(REASON in body for body in bodies["analyst"])


def test_denied_and_anonymous_calls_are_audited(clients) -> None:
    from layers.store import audit

    assert clients["guardian"].get("/api/places/P2").status_code == 403
    assert clients[None].get("/api/places/P2").status_code == 401
    assert clients["police"].get("/api/places/P2").status_code == 200
    assert clients["police"].get("/api/places/P2/notes").status_code == 403
    with clients["analyst"].app.state.store.connect() as conn:
        rows = audit.query(conn, object_id="P2")
    seen = {(r.user_name, r.action, r.outcome) for r in rows.itertuples()}
    assert ("guardian", "denied", "denied") in seen
    assert (None, "denied", "denied") in seen
    assert ("police", "read_place", "ok") in seen
    assert ("police", "denied", "denied") in seen
    assert all(NOTE not in str(v) for v in rows.to_numpy().ravel())


@pytest.mark.parametrize(("role", "shown"), [("analyst", True), ("admin", True),
                                             ("police", False)])
def test_a_levels_reason_is_for_analysts_only(clients, role, shown) -> None:
    """Regression: GET /api/places/{id} gave police the analysts' free-text reasons."""
    levels = clients[role].get("/api/places/PR").json()["levels"]
    assert levels and all((REASON in (lv["reason"] or "")) is shown for lv in levels)
