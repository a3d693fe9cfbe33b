"""Fuzz the app with schemathesis, in-process, against its own OpenAPI schema.

The schema is the one the app serves at ``/openapi.json`` (to signed-in users), loaded
through ASGI: no server, no socket. Every operation then gets generated requests, once per
role with that role's bearer token, and each answer must not be a server error and must use
a status code, content type, headers and body the schema documents. A successful answer is
also checked for ignored authentication: schemathesis repeats the call without the token
and with a wrong one and expects a refusal (`ignored_auth`; the schema declares the bearer
token and session cookie, see `api.docs.document_access`). Without a token, every route but
the public ones must answer 401 (a page: 303 to the sign-in page); the public ones are
fuzzed that way.

Random ids seldom name a stored place, cell, run or ward, so each GET route is also called
once per role with ids that exist (`test_known_objects_as_role`): their 200 answers are
checked against the schema too.

Bounded for CI (about a minute): Hypothesis is derandomised (a fixed seed per test), keeps
no example database and draws `MAX_EXAMPLES` valid requests per operation and role (FastAPI
answers invalid ones with 422 before our code runs). The PDF routes are not fuzzed, because
weasyprint takes about a second a page; `test_pdf_routes_conform_to_the_schema` calls each
once, and ``test_plans.py`` and ``test_briefing.py`` cover them in depth.

schemathesis's own pytest integration (``schemathesis.pytest.from_fixture``) sets
``Node._nodeid``, which pytest 9.2 no longer has, so the operations are parametrised here
and each runs its schemathesis strategy under ``hypothesis.given``.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.app import create_app
from api.policy import POLICY
from api.settings import Settings
from layers.access import accounts_store as accounts
from layers.access.accounts_store import ROLES
from layers.hotspots import read as hotspots_read
from tests._pmtiles import write_pmtiles

from .conftest import MORE, PASSWORD, POLICE_UK, build_store

MAX_EXAMPLES = 10
HEAVY = {("GET", "/patrol/plan.pdf"), ("GET", "/briefing.pdf")}  # weasyprint: ~1 s per call
NOT_IN_SCHEMA = {("GET", "/favicon.ico"), ("GET", "/docs"), ("GET", "/openapi.json")}
OPERATIONS = sorted(set(POLICY) - NOT_IN_SCHEMA)
SIGNED_IN = [op for op in OPERATIONS if not POLICY[op].public and op not in HEAVY]
CONFORMANCE = [not_a_server_error, status_code_conformance, content_type_conformance,
               response_schema_conformance, response_headers_conformance]
# Requests through the whole app are slow for Hypothesis, and schemathesis filters drawn
# values (e.g. to fit a pattern): neither is a problem here.
SETTINGS = settings(max_examples=MAX_EXAMPLES, derandomize=True, database=None,
                    deadline=None, suppress_health_check=[
                        HealthCheck.too_slow, HealthCheck.filter_too_much,
                        HealthCheck.data_too_large])


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory):
    """The app over the richer synthetic store, not started: schemathesis runs its lifespan."""
    folder = tmp_path_factory.mktemp("fuzz")
    db = build_store(folder, more=MORE, police_uk=POLICE_UK)
    archive = write_pmtiles(folder / "base.pmtiles")  # /tiles/base.pmtiles answers 200 too
    return create_app(Settings(db=str(db), tiles="none", pmtiles=str(archive)))


@pytest.fixture(scope="module")
def tokens(app) -> dict[str, str]:
    """A bearer token per role, from ``POST /api/token``."""
    client = TestClient(app)  # not entered: its exit would close the store
    out = {}
    for role in ROLES:
        response = client.post("/api/token", json={"name": role, "password": PASSWORD})
        assert response.status_code == 200, response.text
        out[role] = response.json()["access_token"]
    return out


@pytest.fixture(scope="module")
def schema(app, tokens: dict[str, str]) -> Any:
    """The app's schema, from ``/openapi.json`` (the same for every role)."""
    return schemathesis.openapi.from_asgi(
        "/openapi.json", app, headers={"Authorization": f"Bearer {tokens['analyst']}"})


@pytest.fixture(scope="module")
def known(app) -> dict[str, str | int]:
    """Parameter values that name stored objects, so that detail routes answer 200 too."""
    with app.state.store.connect() as conn:
        cell = str(hotspots_read.cells(conn).rows["h3_cell"].iloc[0])
    return {"place_id": "P2", "h3_cell": cell, "run_id": 1, "ward_code": "E05000002",
            "ward": "E05000002", "what": "wards", "fmt": "csv", "q": "TS",
            "purpose": "schema conformance test", "date": "2025-07-01",
            "meeting": "2025-07-01"}


def bearer(app, tokens: dict[str, str], role: str, method: str, path: str) -> dict[str, str]:
    """The role's Authorization header; for ``POST /logout`` a spare session's, as it ends it."""
    token = tokens[role]
    if (method, path) == ("POST", "/logout"):
        store = app.state.store
        session = accounts.find_session(store, token, kind="bearer")
        assert session is not None
        token, _ = accounts.start_session(store, session.user, kind="bearer", hours=1)
    return {"Authorization": f"Bearer {token}"}


def test_schema_lists_every_route_of_the_policy(schema) -> None:
    listed = {(m.upper(), p) for p, ops in schema.raw_schema["paths"].items() for m in ops}
    assert listed == set(OPERATIONS)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("method", "path"), SIGNED_IN)
def test_fuzz_as_role(app, schema, tokens: dict[str, str], role: str, method: str,
                      path: str) -> None:
    @SETTINGS
    @given(case=schema[path][method].as_strategy())
    def run(case) -> None:
        headers = bearer(app, tokens, role, method, path)
        case.call_and_validate(headers=headers, checks=[*CONFORMANCE, ignored_auth])

    run()


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("method", "path"),
                         [op for op in SIGNED_IN if op[0] == "GET"])
def test_known_objects_as_role(schema, tokens: dict[str, str], known: dict, role: str,
                               method: str, path: str) -> None:
    values: dict[str, dict] = {"path": {}, "query": {}}
    parameters = schema.raw_schema["paths"][path][method.lower()].get("parameters", [])
    unknown = [p["name"] for p in parameters if p.get("required") and p["name"] not in known]
    assert not unknown, f"add a value naming a stored object for {unknown} to `known`"
    for parameter in parameters:
        if parameter["name"] in known and parameter["in"] in values:
            values[parameter["in"]][parameter["name"]] = known[parameter["name"]]
    case = schema[path][method].Case(path_parameters=values["path"] or None,
                                      query=values["query"] or None)
    response = case.call_and_validate(headers={"Authorization": f"Bearer {tokens[role]}"},
                                      checks=[*CONFORMANCE, ignored_auth])
    expected = 200 if role in POLICY[method, path].roles else 403
    assert response.status_code == expected, response.text[:300]


@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_anonymous_calls(schema, method: str, path: str) -> None:
    """Without a token: 401 (a page: 303 to the sign-in page) from every route but the public
    ones, which are fuzzed here."""
    public, page = POLICY[method, path].public, POLICY[method, path].page

    @settings(SETTINGS, max_examples=MAX_EXAMPLES if public else 3)
    @given(case=schema[path][method].as_strategy())
    def run(case) -> None:
        response = case.call(allow_redirects=False)
        if not public:
            expected = 303 if page else 401
            assert response.status_code == expected, (case.formatted_path,
                                                      response.status_code)
        case.validate_response(response, checks=CONFORMANCE)

    run()


@pytest.mark.parametrize(("method", "path"), sorted(HEAVY))
def test_pdf_routes_conform_to_the_schema(schema, tokens: dict[str, str], known: dict,
                                          method: str, path: str) -> None:
    query = {"ward": known["ward"], "date": known["date"]} if "patrol" in path else \
        {"meeting": known["meeting"]}
    case = schema[path][method].Case(query=query)
    response = case.call_and_validate(headers={"Authorization": f"Bearer {tokens['analyst']}"},
                                      checks=CONFORMANCE)
    assert response.status_code == 200
    assert response.headers["content-type"] == ["application/pdf"]
