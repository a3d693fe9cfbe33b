"""Input and output hardening: security headers, the body limit, generic 500s, strict input.

The app here has a small body limit (`LIMIT`) so the tests send kilobytes, not megabytes.
Guard tests walk every route of the app: a new float parameter that accepts NaN, a JSON body
model that ignores unknown fields or a coordinate without a range fails them.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import Response
from fastapi.testclient import TestClient
from pydantic import BaseModel
from starlette.responses import PlainTextResponse
from starlette.routing import Mount

from api import security
from api.app import create_app
from api.policy import POLICY, STAFF, Rule
from api.settings import DEFAULT_TILES, Settings
from maps import assets

from .conftest import PASSWORD, build_store, sign_in

LIMIT = 2048
CSP_FIXED = ["default-src 'self'", "script-src 'self' 'unsafe-inline'",
             "style-src 'self' 'unsafe-inline'", "connect-src 'self'",
             "font-src 'self' data:", "object-src 'none'", "base-uri 'none'",
             "form-action 'self'", "frame-ancestors 'self'"]
SECURITY_HEADERS = {"x-content-type-options": "nosniff", "referrer-policy": "no-referrer",
                    "x-frame-options": "SAMEORIGIN",
                    "permissions-policy": "geolocation=(), camera=(), microphone=()"}


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_store(tmp_path_factory.mktemp("security"))


def _client(db: Path, role: str | None = "analyst", **settings: object) -> TestClient:
    settings = {"tiles": "none", "max_body_bytes": LIMIT, **settings}
    app = create_app(Settings(db=str(db), **settings))  # type: ignore[arg-type]
    client = TestClient(app, raise_server_exceptions=False)
    client.__enter__()
    return sign_in(client, role) if role else client


@pytest.fixture(scope="module")
def client(db: Path) -> Iterator[TestClient]:
    """Signed in as analyst, body limit `LIMIT`, no tiles."""
    c = _client(db)
    yield c
    c.__exit__(None, None, None)


@pytest.fixture(scope="module")
def anonymous(db: Path) -> Iterator[TestClient]:
    c = _client(db, role=None)
    yield c
    c.__exit__(None, None, None)


def assert_hardened(response, *, cache: str = "no-store") -> None:
    headers = response.headers
    csp = headers["content-security-policy"].split("; ")
    for directive in CSP_FIXED:
        assert directive in csp, (directive, csp)
    assert "img-src 'self' data:" in csp
    for name, value in SECURITY_HEADERS.items():
        assert headers[name] == value, name
    assert headers["cache-control"] == cache
    assert re.fullmatch(r"[0-9a-f]{16}", headers["x-correlation-id"])


# --- headers -----------------------------------------------------------------------------

@pytest.mark.parametrize(("path", "signed", "status", "kind"), [
    ("/", True, 200, "text/html"),
    ("/api/places", True, 200, "application/json"),
    ("/api/places", False, 401, "application/json"),
    ("/api/places/NO-SUCH-PLACE", True, 404, "application/json"),
    ("/no/such/route", True, 404, "application/json"),
    ("/login", False, 200, "text/html"),
])
def test_every_response_is_hardened(client, anonymous, path, signed, status, kind) -> None:
    response = (client if signed else anonymous).get(path)
    assert response.status_code == status
    assert response.headers["content-type"].startswith(kind)
    assert_hardened(response)


def test_static_assets_may_be_cached(anonymous) -> None:
    response = anonymous.get(f"{assets.ROUTE}/leaflet.js")
    assert response.status_code == 200
    assert_hardened(response, cache=security.STATIC_CACHE)
    assert anonymous.get(f"{assets.ROUTE}/nope.js").headers["cache-control"] == "no-store"


def test_each_response_gets_its_own_correlation_id(client) -> None:
    ids = {client.get("/healthz").headers["x-correlation-id"] for _ in range(5)}
    assert len(ids) == 5


def test_an_incoming_request_id_is_not_echoed(client) -> None:
    response = client.get("/healthz", headers={"X-Request-ID": "attacker",
                                               "X-Correlation-ID": "attacker"})
    assert response.headers["x-correlation-id"] != "attacker"


def test_a_route_keeps_its_own_headers(db, monkeypatch) -> None:
    monkeypatch.setitem(POLICY, ("GET", "/cached"), Rule(STAFF))
    client = _client(db, role=None)
    client.app.add_api_route(  # type: ignore[attr-defined]
        "/cached", lambda: Response("x", headers={"Cache-Control": "private, max-age=60"}))
    sign_in(client)
    try:
        response = client.get("/cached")
    finally:
        client.__exit__(None, None, None)
    assert response.status_code == 200
    assert response.headers["cache-control"] == "private, max-age=60"
    assert response.headers["x-content-type-options"] == "nosniff"


def test_the_ward_map_may_be_framed_by_the_ward_page_only(client) -> None:
    page = client.get("/wards/E05000002")
    assert '<iframe src="/wards/E05000002/map"' in page.text
    framed = client.get("/wards/E05000002/map")
    assert framed.status_code == 200
    assert "frame-ancestors 'self'" in framed.headers["content-security-policy"]
    assert framed.headers["x-frame-options"] == "SAMEORIGIN"


# --- CSP and the tile server -------------------------------------------------------------

def _img_src(csp: str) -> list[str]:
    (directive,) = [d for d in csp.split("; ") if d.startswith("img-src ")]
    return directive.split()[1:]


@pytest.mark.parametrize(("tiles", "expected"), [
    (DEFAULT_TILES, ["'self'", "data:", "https://tile.openstreetmap.org"]),
    ("https://{s}.tile.openstreetmap.org/{z}/{x}/{y}.png",
     ["'self'", "data:", "https://*.tile.openstreetmap.org"]),
    ("OpenStreetMap", ["'self'", "data:", "https://tile.openstreetmap.org"]),
    ("http://127.0.0.1:8081/tiles/{z}/{x}/{y}.png", ["'self'", "data:", "http://127.0.0.1:8081"]),
    ("/tiles/{z}/{x}/{y}.png", ["'self'", "data:"]),
    ("none", ["'self'", "data:"]),
    ("off", ["'self'", "data:"]),
])
def test_csp_allows_the_tile_server_only(tiles, expected) -> None:
    assert _img_src(security.content_security_policy(Settings(tiles=tiles))) == expected


@pytest.mark.parametrize("tiles", ["https://tiles.{s}.example.org/{z}/{x}/{y}.png",
                                   "ftp://tiles.example.org/{z}/{x}/{y}.png"])
def test_a_tile_server_the_csp_cannot_name_is_refused(tiles) -> None:
    with pytest.raises(ValueError, match="tiles"):
        security.tile_origin(tiles)


def test_served_csp_names_the_configured_tiles(db) -> None:
    tiled = _client(db, tiles=DEFAULT_TILES)
    try:
        response = tiled.get("/")
    finally:
        tiled.__exit__(None, None, None)
    assert response.status_code == 200
    assert "tile.openstreetmap.org" in response.text  # the map does ask that server
    assert "https://tile.openstreetmap.org" in _img_src(
        response.headers["content-security-policy"])


def test_served_csp_names_no_tile_server_without_tiles(client) -> None:
    csp = client.get("/").headers["content-security-policy"]
    assert _img_src(csp) == ["'self'", "data:"]
    assert "http" not in csp


# --- body limit --------------------------------------------------------------------------

def _token_body(pad: int = 0) -> bytes:
    return json.dumps({"name": "analyst", "password": PASSWORD}).encode() + b" " * pad


def _chunks(body: bytes, size: int = 256) -> Iterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start:start + size]


def assert_too_large(response) -> None:
    assert response.status_code == 413
    assert response.json() == {"detail": f"request body larger than the limit of {LIMIT} bytes"}
    assert_hardened(response)


def test_a_declared_length_over_the_limit_is_refused(anonymous) -> None:
    body = _token_body(LIMIT)
    response = anonymous.post("/api/token", content=body,
                              headers={"Content-Type": "application/json"})
    assert response.request.headers["content-length"] == str(len(body))
    assert_too_large(response)


def test_a_chunked_upload_over_the_limit_is_refused(anonymous) -> None:
    response = anonymous.post("/api/token", content=_chunks(_token_body(LIMIT)),
                              headers={"Content-Type": "application/json"})
    assert "content-length" not in response.request.headers
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert_too_large(response)


def test_a_sign_in_form_over_the_limit_is_refused(anonymous) -> None:
    response = anonymous.post("/login", content=_chunks(b"name=" + b"a" * LIMIT),
                              headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 413


@pytest.mark.parametrize("chunked", [False, True])
def test_a_body_under_the_limit_reaches_the_route(anonymous, chunked) -> None:
    body = _token_body(LIMIT - len(_token_body()))  # exactly at the limit
    assert len(body) == LIMIT
    response = anonymous.post("/api/token", content=_chunks(body) if chunked else body,
                              headers={"Content-Type": "application/json"})
    assert response.status_code == 200, response.text
    assert response.json()["token_type"] == "bearer"


def test_the_limit_stops_reading_a_stream_at_once() -> None:
    """Directly over ASGI: a 100-chunk upload is read only until it passes the limit."""
    pulled = 0

    async def receive() -> dict:
        nonlocal pulled
        pulled += 1
        return {"type": "http.request", "body": b"x" * 1024, "more_body": pulled < 100}

    async def read_all(scope, receive, send) -> None:
        while (await receive()).get("more_body"):
            pass
        await PlainTextResponse("read it all")(scope, receive, send)

    sent: list[dict] = []

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/", "headers": []}
    asyncio.run(security.BodyLimit(read_all, max_bytes=LIMIT)(scope, receive, send))
    assert sent[0]["status"] == 413
    assert pulled == LIMIT // 1024 + 1


def test_a_negative_limit_is_refused() -> None:
    with pytest.raises(ValueError, match="max_body_bytes"):
        security.BodyLimit(PlainTextResponse("x"), max_bytes=-1)


def test_the_limit_comes_from_the_environment(monkeypatch) -> None:
    assert Settings.from_env().max_body_bytes == 1024 * 1024
    monkeypatch.setenv("PLACERISK_MAX_BODY_BYTES", "4096")
    assert Settings.from_env().max_body_bytes == 4096


# --- errors ------------------------------------------------------------------------------

def test_an_unexpected_error_is_a_generic_500_with_a_correlation_id(db, monkeypatch,
                                                                   caplog) -> None:
    def boom() -> None:
        msg = "kaboom: SECRET-DETAIL"
        raise RuntimeError(msg)

    monkeypatch.setitem(POLICY, ("GET", "/boom"), Rule(STAFF))
    client = _client(db, role=None)
    client.app.add_api_route("/boom", boom)  # type: ignore[attr-defined]
    sign_in(client)
    caplog.set_level(logging.DEBUG)
    try:
        response = client.get("/boom", params={"password": "hunter2", "token": "tok-123"})
    finally:
        client.__exit__(None, None, None)
    assert response.status_code == 500
    body = response.json()
    correlation_id = body["correlation_id"]
    assert body == {"detail": security.INTERNAL_ERROR, "correlation_id": correlation_id}
    assert response.headers["x-correlation-id"] == correlation_id
    assert_hardened(response)
    for leak in ("Traceback", "RuntimeError", "kaboom", "SECRET-DETAIL", "test_security"):
        assert leak not in response.text
    (record,) = [r for r in caplog.records if r.name == "placerisk"]
    assert correlation_id in record.getMessage() and "GET /boom" in record.getMessage()
    # what the server side logged (the test client logs the URL it asked for itself)
    logged = "\n".join(caplog.handler.format(r) for r in caplog.records
                       if not r.name.startswith("httpx"))
    assert "Traceback" in logged and "kaboom: SECRET-DETAIL" in logged
    for secret in ("hunter2", "tok-123", "Bearer", PASSWORD):
        assert secret not in logged


# --- strict input ------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "-inf", "Infinity", "-Infinity"])
@pytest.mark.parametrize(("path", "name", "params"), [
    ("/api/outcomes", "alpha", {}),
    ("/api/patrol/plan", "hours", {"ward": "E05000002", "date": "2025-07-01"}),
    ("/patrol/plan.gpx", "hours", {"ward": "E05000002", "date": "2025-07-01"}),
])
def test_nan_and_infinity_are_refused(client, path, name, params, value) -> None:
    response = client.get(path, params={**params, name: value})
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["query", name]


def test_unknown_json_fields_are_refused(anonymous) -> None:
    response = anonymous.post("/api/token", json={"name": "analyst", "password": PASSWORD,
                                                  "role": "admin"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "extra_forbidden"


def _routes(items) -> Iterator:
    for route in items:
        if type(route).__name__ == "_IncludedRouter":
            yield from _routes(route.original_router.routes)
        elif not isinstance(route, Mount):
            yield route


def _params(dependant) -> Iterator[tuple[str, object]]:
    for kind in ("path", "query", "header", "cookie", "body"):
        for field in getattr(dependant, f"{kind}_params"):
            yield kind, field
    for sub in dependant.dependencies:
        yield from _params(sub)


def _constraints(field_info) -> dict[str, object]:
    found: dict[str, object] = {}
    for item in field_info.metadata:
        for name in ("ge", "gt", "le", "lt", "allow_inf_nan"):
            if getattr(item, name, None) is not None:
                found[name] = getattr(item, name)
    return found


COORDINATES = {"lat": 90, "latitude": 90, "lng": 180, "lon": 180, "longitude": 180}


def _problems(where: str, name: str, field_info) -> list[str]:
    problems = []
    bounds = _constraints(field_info)
    if "float" in str(field_info.annotation) and bounds.get("allow_inf_nan") is not False:
        problems.append(f"{where} {name}: a float that accepts NaN and Infinity")
    if name.lower() in COORDINATES:
        limit = COORDINATES[name.lower()]
        low, high = bounds.get("ge", bounds.get("gt")), bounds.get("le", bounds.get("lt"))
        if low is None or high is None or low < -limit or high > limit:
            problems.append(f"{where} {name}: a coordinate without a range in +-{limit}")
    return problems


def test_every_input_is_strict(client) -> None:
    """Floats refuse NaN and Infinity, coordinates have ranges, JSON bodies refuse extras."""
    problems: list[str] = []
    routes = [r for r in _routes(client.app.routes) if hasattr(r, "dependant")]  # type: ignore[attr-defined]
    assert len(routes) > 30
    for route in routes:
        for kind, field in _params(route.dependant):
            where = f"{sorted(route.methods)} {route.path} {kind}"
            model = field.field_info.annotation
            if kind == "body" and isinstance(model, type) and issubclass(model, BaseModel):
                if model.model_config.get("extra") != "forbid":
                    problems.append(f"{where}: {model.__name__} ignores unknown fields")
                for name, info in model.model_fields.items():
                    problems += _problems(f"{where} {model.__name__}", name, info)
            else:
                problems += _problems(where, field.name, field.field_info)
    assert problems == []


# --- bad values: 422 naming the problem, never echoing the value, never a 500 -----------------

SECRET = 4815162342  # a "password" sent as a number: the 422 must not repeat it


@pytest.mark.parametrize("body", [
    '{"name": "analyst", "password": NaN}', '{"name": "analyst", "password": Infinity}',
    '{"name": "analyst", "password": -Infinity}', f'{{"name": "analyst", "password": {SECRET}}}',
])
def test_a_bad_json_value_is_a_422_that_echoes_nothing(anonymous, caplog, body) -> None:
    """Regression: NaN gave a 500 (the 422 could not be encoded) whose log held the value."""
    response = anonymous.post("/api/token", content=body,
                              headers={"content-type": "application/json"})
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert [d["loc"] for d in detail] == [["body", "password"]]
    assert {"input", "ctx"}.isdisjoint(*(set(d) for d in detail))
    for text in (response.text, caplog.text):
        assert str(SECRET) not in text and "input" not in text


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01", "1899-06-30", "2101-01-01"])
@pytest.mark.parametrize("path", [
    "/api/patrol/plan?ward=E05000001&date={day}", "/patrol/plan?ward=E05000001&date={day}",
    "/patrol/plan.gpx?ward=E05000001&date={day}", "/api/wards/ranking?since={day}",
    "/api/explain/cell/89194655b57ffff?as_of={day}", "/api/explain/ward/E05000001?as_of={day}",
    "/api/outcomes?as_of={day}", "/outcomes?as_of={day}", "/wards/E05000001?as_of={day}",
    "/?from={day}", "/?to={day}", "/briefing?meeting={day}", "/api/audit?since={day}",
])
def test_every_date_parameter_refuses_days_out_of_range(db, path, day) -> None:
    """Regression: /api/patrol/plan?date=9999-12-31 gave a 500 (OverflowError)."""
    c = _client(db, role="admin")
    try:
        response = c.get(path.format(day=day))
    finally:
        c.__exit__(None, None, None)
    assert response.status_code == 422, (path, response.status_code, response.text[:200])
    assert "1990-01-01 to 2100-12-31" in response.text
