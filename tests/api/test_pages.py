"""Browser users get HTML pages, never raw JSON (issue 10, item 10); APIs keep JSON.

Signed out, a page redirects to ``/login?next=...`` and the sign-in comes back to it (only to
a path of this site); a page's errors are HTML pages with a way forward: a meeting date form
for the briefing pack, a ward picker for the patrol view and plan, links to the wards and the
map for an unknown ward, links to what the role may see for a refusal. Every page has a
specific title.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.policy import POLICY
from api.settings import Settings

from .conftest import PASSWORD, SCRIPT, build_store, make_areas, sign_in
from .test_access import QUERY, SAMPLE

PAGES = sorted(path for (method, path), rule in POLICY.items()
               if method == "GET" and rule.page and not rule.public)
TITLE = re.compile(r"<title>([^<]*)</title>")


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The synthetic store, its first ward named with markup."""
    areas = make_areas()
    areas.loc[0, "name"] = SCRIPT
    return build_store(tmp_path_factory.mktemp("pages"), areas=areas)


@pytest.fixture(scope="module")
def app(db: Path):
    return create_app(Settings(db=str(db), tiles="none"))


@pytest.fixture(scope="module")
def clients(app) -> Iterator[dict[str | None, TestClient]]:
    """Anonymous, analyst, police and guardian clients (bearer tokens)."""
    out: dict[str | None, TestClient] = {}
    for role in (None, "analyst", "police", "guardian"):
        client = TestClient(app, follow_redirects=False)
        client.__enter__()
        out[role] = sign_in(client, role) if role else client
    yield out
    for client in out.values():
        client.__exit__(None, None, None)


def _url(path: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: SAMPLE[m.group(1)], path)


def _is_html(response) -> bool:
    return response.headers["content-type"].startswith("text/html")


def _form_login(client: TestClient, next_path: str) -> str:
    """Sign in through the form with ``next``; the Location the browser is sent to."""
    form = client.get("/login")
    csrf = form.cookies.get("placerisk_login_csrf") or client.cookies.get("placerisk_login_csrf")
    response = client.post("/login", data={"name": "analyst", "password": PASSWORD,
                                           "csrf_token": csrf, "next": next_path})
    assert response.status_code == 303, response.text
    return response.headers["location"]


# --- signed out ----------------------------------------------------------------------------

@pytest.mark.parametrize("path", PAGES)
def test_a_signed_out_page_redirects_to_the_sign_in_page(clients, path: str) -> None:
    r = clients[None].get(_url(path), params={**QUERY.get(path, {}), "x": "1 2"})
    assert r.status_code == 303, (path, r.status_code, r.text[:200])
    location = urlsplit(r.headers["location"])
    assert location.path == "/login" and not location.netloc
    asked = quote(_url(path)) + "?" + r.request.url.query.decode()
    assert parse_qs(location.query)["next"] == [asked]


def test_the_api_still_answers_401_json(clients) -> None:
    r = clients[None].get("/api/places", headers={"accept": "application/json"})
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert r.json() == {"detail": "sign in first: /login in a browser, POST /api/token for "
                                  "the API"}


def test_sign_in_comes_back_to_the_page_asked_for(app) -> None:
    with TestClient(app, follow_redirects=False) as c:
        asked = c.get("/wards/E05000002", params={"as_of": "2025-07-01"}).headers["location"]
        next_path = parse_qs(urlsplit(asked).query)["next"][0]
        form = c.get(asked)
        assert f'name="next" value="{html.escape(next_path)}"' in form.text
        assert _form_login(c, next_path) == "/wards/E05000002?as_of=2025-07-01"
        assert c.get("/wards/E05000002").status_code == 200  # the session cookie works


@pytest.mark.parametrize("target", [
    "//evil.example", "https://evil.example", "//evil.example/wards", "/\\evil.example",
    "\\\\evil.example", "/\t/evil.example", "/\n/evil.example", "http:evil.example",
    "javascript:alert(1)", "evil.example", " /wards", "/" + "a" * 300,
])
def test_sign_in_never_sends_the_browser_to_another_site(app, target: str) -> None:
    with TestClient(app, follow_redirects=False) as c:
        form = c.get("/login", params={"next": target}).text
        assert 'name="next" value=""' in form  # not even carried in the form
        if len(target) <= 200:  # the form takes no longer value
            assert _form_login(c, target) == "/"  # the analyst's home page


# --- errors with a way forward -------------------------------------------------------------

def test_briefing_without_a_meeting_asks_for_one(clients) -> None:
    c = clients["analyst"]
    r = c.get("/briefing")
    assert r.status_code == 422 and _is_html(r)
    assert "<title>placerisk: Choose a meeting date</title>" in r.text
    assert "meeting is needed" in r.text
    assert re.search(r'<form method="get" action="/briefing"[^>]*>.*<input type="date" '
                     r'name="meeting" value="\d{4}-\d{2}-\d{2}" required', r.text, re.S)
    # once a pack was made, its meeting is the default: the last meeting
    assert c.get("/briefing", params={"meeting": "2025-07-01"}).status_code == 200
    again = c.get("/briefing")
    assert 'name="meeting" value="2025-07-01"' in again.text
    bad = c.get("/briefing", params={"meeting": "2025-02-30"})
    assert bad.status_code == 422 and "not a day of the calendar" in bad.text
    assert 'name="meeting" value="2025-07-01"' in bad.text
    early = c.get("/briefing", params={"meeting": "2025-06-01"})  # before every run: 404
    assert early.status_code == 404 and "placerisk score --as-of 2025-06-01" in early.text
    assert 'name="meeting" value="2025-06-01"' in early.text


@pytest.mark.parametrize(("path", "query", "status"), [
    ("/patrol", {}, 422), ("/patrol", {"ward": "NOTAWARD"}, 404),
    ("/patrol/plan", {}, 422), ("/patrol/plan", {"ward": "NOTAWARD", "date": "2025-07-01"}, 404),
])
def test_patrol_without_a_ward_shows_a_ward_picker(clients, path: str, query: dict,
                                                   status: int) -> None:
    r = clients["police"].get(path, params=query)
    assert r.status_code == status and _is_html(r)
    assert "<title>placerisk: Choose a ward</title>" in r.text
    assert f'<form method="get" action="{path}"' in r.text
    # names and codes from the store, escaped; the newest run's top ward chosen
    assert f"{html.escape(SCRIPT)} (E05000001)</option>" in r.text and SCRIPT not in r.text
    assert "South Box (E05000002)</option>" in r.text
    assert re.search(r'<option value="E0500000\d" selected>', r.text)
    if path == "/patrol/plan":
        for field in ('type="date" name="date" value="', 'name="start" value="18:00"',
                      'name="hours" value="8"', 'name="officers" value="2"'):
            assert field in r.text, field
    else:
        assert 'name="date"' not in r.text


def test_the_plan_form_keeps_what_was_asked(clients) -> None:
    r = clients["police"].get("/patrol/plan", params={
        "ward": "E05000002", "date": "2025-07-01", "start": "21:30", "hours": "30"})
    assert r.status_code == 422 and _is_html(r)
    assert 'name="date" value="2025-07-01"' in r.text and 'name="start" value="21:30"' in r.text
    assert 'name="hours" value="8"' in r.text  # 30 is out of range: the default again
    assert '<option value="E05000002" selected>' in r.text


@pytest.mark.parametrize("path", ["/wards/NOTAWARD", "/wards/NOTAWARD/map"])
def test_an_unknown_ward_is_an_html_404_linking_the_wards_and_the_map(clients,
                                                                      path: str) -> None:
    r = clients["analyst"].get(path)
    assert r.status_code == 404 and _is_html(r)
    assert "<title>placerisk: Ward not found</title>" in r.text
    assert "no ward &#x27;NOTAWARD&#x27; is loaded" in r.text
    assert '<a href="/wards">' in r.text and '<a href="/">' in r.text


def test_a_page_with_a_bad_query_is_html_and_the_api_json(clients) -> None:
    page = clients["analyst"].get("/outcomes", params={"days": "3"})
    assert page.status_code == 422 and _is_html(page) and "days:" in page.text
    api = clients["analyst"].get("/api/outcomes", params={"days": "3"})
    assert api.status_code == 422 and api.json()["detail"][0]["loc"] == ["query", "days"]
    api = clients["police"].get("/api/patrol")
    assert api.status_code == 422 and api.json()["detail"][0]["type"] == "missing"
    api = clients["police"].get("/api/patrol", params={"ward": "NOTAWARD"})
    assert api.status_code == 404 and "not a loaded area" in api.json()["detail"]


@pytest.mark.parametrize(("role", "path", "may", "may_not"), [
    ("guardian", "/", ["/guardian"], ["/wards", "/briefing"]),
    ("guardian", "/wards/E05000002", ["/guardian"], ["/wards"]),
    ("police", "/briefing", ["/", "/wards", "/patrol", "/outcomes"], ["/briefing", "/review"]),
    ("police", "/review", ["/", "/patrol/plan"], ["/review"]),
])
def test_the_wrong_role_gets_an_html_403_linking_what_it_may_see(
        clients, role: str, path: str, may: list[str], may_not: list[str]) -> None:
    r = clients[role].get(path, params={"meeting": "2025-07-01"} if "brief" in path else {})
    assert r.status_code == 403 and _is_html(r)
    assert "<title>placerisk: Not allowed</title>" in r.text
    assert f"your role ({role}) may not see this" in r.text
    links = set(re.findall(r'<a href="([^"]+)"', r.text))
    assert set(may) <= links and not set(may_not) & links, links
    api = clients[role].get("/api/places/P2/notes")
    assert api.status_code == 403 and api.json() == {
        "detail": f"your role ({role}) may not see this"}


# --- titles --------------------------------------------------------------------------------

def test_every_page_has_a_specific_title(clients) -> None:
    titles = {}
    for path in [*PAGES, "/login"]:
        r = clients["analyst"].get(_url(path), params=QUERY.get(path, {}))
        assert r.status_code == 200 and _is_html(r), (path, r.status_code)
        found = TITLE.findall(r.text)
        assert len(found) == 1, (path, found)
        titles[path] = html.unescape(found[0]).strip()
    for path, title in titles.items():
        assert title and title.lower() not in ("placerisk", "placerisk api"), (path, title)
        assert len(title) >= 10, (path, title)
    assert len(set(titles.values())) == len(titles), titles  # each names its own page
    assert titles["/wards/{ward_code}"] == "South Box: ward profile"
    assert titles["/wards/{ward_code}/map"] == "South Box (E05000002): ward map"
    assert titles["/patrol"] == "Patrol view: ward E05000002"
