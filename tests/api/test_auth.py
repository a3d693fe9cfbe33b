"""Sign-in over HTTP: the form, cookies, CSRF, tokens, back-off, expiry, docs, the CLI."""

from __future__ import annotations

import re
import statistics
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from api.app import create_app
from api.cli import main
from api.routes.auth import _safe_next
from api.settings import Settings
from layers.access import accounts_store as accounts
from layers.store import audit
from tests._pages import page_text

from .conftest import PASSWORD, build_store, ensure_accounts_in


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_store(tmp_path_factory.mktemp("auth"), score=False)


def _client(db: Path, **settings: object) -> TestClient:
    return TestClient(create_app(Settings(db=str(db), tiles="none", **settings)))  # type: ignore[arg-type]


def _form_login(client: TestClient, name: str, password: str, next_path: str = ""):
    form = client.get("/login")
    csrf = form.cookies.get("placerisk_login_csrf") or client.cookies.get("placerisk_login_csrf")
    return client.post("/login", data={"name": name, "password": password,
                                       "csrf_token": csrf, "next": next_path},
                       follow_redirects=False)


def test_browser_sign_in_sets_a_strict_httponly_cookie(db: Path) -> None:
    with _client(db) as c:
        r = _form_login(c, "police", PASSWORD, "/wards")
        assert r.status_code == 303 and r.headers["location"] == "/wards"
        cookie = r.headers["set-cookie"]
        assert "placerisk_session=" in cookie and "HttpOnly" in cookie
        assert "SameSite=strict" in cookie and "Secure" not in cookie
        assert c.get("/api/me").json()["role"] == "police"


def test_production_cookies_are_secure_and_docs_are_off(db: Path) -> None:
    with _client(db, production=True) as c:
        r = _form_login(c, "analyst", PASSWORD)
        assert "Secure" in r.headers["set-cookie"]
        assert c.get("/docs").status_code == 404
        assert c.get("/openapi.json").status_code == 404


def test_docs_need_a_sign_in_and_load_nothing_from_a_cdn(db: Path) -> None:
    with _client(db) as c:
        r = c.get("/docs", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/login?next=%2Fdocs"
        _form_login(c, "guardian", PASSWORD)
        page = c.get("/docs").text
        assert "/static/vendor/swagger-ui/swagger-ui-bundle.js" in page
        assert "cdn" not in page_text(page).lower()
        assert c.get("/static/vendor/swagger-ui/swagger-ui-bundle.js").status_code == 200


def test_login_form_needs_its_csrf_cookie(db: Path) -> None:
    with _client(db) as c:
        r = c.post("/login", data={"name": "analyst", "password": PASSWORD,
                                   "csrf_token": "forged"}, follow_redirects=False)
        assert r.status_code == 403 and "expired" in r.text


def test_wrong_password_is_generic_and_audited(db: Path) -> None:
    with _client(db) as c:
        r = _form_login(c, "analyst", "not the password")
        assert r.status_code == 401 and "Wrong user name or password" in r.text
        r = _form_login(c, "nobody-at-all", "not the password")
        assert r.status_code == 401 and "Wrong user name or password" in r.text
        with c.app.state.store.connect() as conn:
            rows = audit.query(conn, action="login")
        failed = rows[rows["outcome"] == "failed"]
        assert {"analyst", "nobody-at-all"} <= set(failed["user_name"])
        assert "not the password" not in rows.to_string()


def test_token_back_off_answers_429(tmp_path: Path) -> None:
    db = build_store(tmp_path, score=False)
    with _client(db) as c:
        codes = [c.post("/api/token", json={"name": "police", "password": "x" * 12}).status_code
                 for _ in range(5)]
        assert codes == [401] * 5
        r = c.post("/api/token", json={"name": "police", "password": PASSWORD})
        assert r.status_code == 429 and int(r.headers["retry-after"]) > 0


def test_token_request_is_strict(db: Path) -> None:
    with _client(db) as c:
        r = c.post("/api/token", json={"name": "police", "password": PASSWORD, "role": "admin"})
        assert r.status_code == 422


def test_logout_with_a_cookie_needs_the_csrf_token(db: Path) -> None:
    with _client(db) as c:
        _form_login(c, "analyst", PASSWORD)
        assert c.post("/logout", follow_redirects=False).status_code == 403
        csrf = c.get("/api/me").json()["csrf_token"]
        r = c.post("/logout", data={"csrf_token": csrf}, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/login"
        assert c.get("/api/me").status_code == 401  # the session is over


def test_bearer_logout_and_expiry(db: Path) -> None:
    with _client(db, token_hours=-0.001) as c:
        token = c.post("/api/token", json={"name": "police", "password": PASSWORD}).json()
        r = c.get("/api/me", headers={"Authorization": f"Bearer {token['access_token']}"})
        assert r.status_code == 401  # expired at once
    with _client(db) as c:
        token = c.post("/api/token", json={"name": "police", "password": PASSWORD}).json()
        auth = {"Authorization": f"Bearer {token['access_token']}"}
        assert c.post("/logout", headers=auth).status_code == 204
        assert c.get("/api/me", headers=auth).status_code == 401


def test_anonymous_page_goes_to_sign_in_and_api_gets_json(db: Path) -> None:
    with _client(db) as c:
        page = c.get("/wards", headers={"accept": "text/html"})
        assert page.status_code == 200 and 'name="next" value="/wards"' in page.text
        file = c.get("/outcomes.csv", headers={"accept": "text/html"})  # not a page
        assert file.status_code == 401 and 'name="next" value="/outcomes.csv"' in file.text
        api = c.get("/api/places")
        assert api.status_code == 401 and api.headers["www-authenticate"] == "Bearer"
        assert api.json() == {"detail": "sign in first: /login in a browser, POST /api/token "
                                        "for the API"}


@pytest.mark.parametrize(("target", "expected"), [
    ("/wards?x=1", "/wards?x=1"), ("//evil.example/x", "/"), ("https://evil.example", "/"),
    ("/\\evil", "/"), ("", "/"), ("wards", "/"),
])
def test_after_sign_in_only_local_paths(target: str, expected: str) -> None:
    assert _safe_next(target, "analyst") == expected


def test_guardian_lands_on_the_guardian_view(db: Path) -> None:
    with _client(db) as c:
        r = _form_login(c, "guardian", PASSWORD)
        assert r.headers["location"] == "/guardian"
        refused = c.get("/", headers={"accept": "text/html"})
        assert refused.status_code == 403 and 'href="/guardian"' in refused.text


def test_users_and_audit_commands(tmp_path: Path) -> None:
    db = tmp_path / "u.db"
    ensure_accounts_in(db)
    runner = CliRunner()
    r = runner.invoke(main, ["--db", str(db), "users", "add", "pc-7", "--role", "police",
                             "--all-authorities", "--generate"])
    assert r.exit_code == 0 and "password: " in r.output
    password = r.output.split("password: ")[1].split()[0]
    r = runner.invoke(main, ["--db", str(db), "users", "add", "pc-8", "--role", "police",
                             "--authority", "E06000001"], input="short\nshort\n")
    assert r.exit_code == 1 and "too short" in r.output
    listed = runner.invoke(main, ["--db", str(db), "users", "list"]).output
    assert "pc-7" in listed and password not in listed
    assert runner.invoke(main, ["--db", str(db), "users", "disable", "pc-7"]).exit_code == 0
    with _client(db) as c:
        r = c.post("/api/token", json={"name": "pc-7", "password": password})
        assert r.status_code == 401
    log = runner.invoke(main, ["--db", str(db), "audit", "--object", "pc-7"])
    assert log.exit_code == 0 and "disabled" in log.output and "added, role police" in log.output
    assert runner.invoke(main, ["--db", str(db), "users", "disable", "ghost"]).exit_code == 1


# --- enumeration, lock-out per name and address, throttles (pen test items 1 and 11) -------

def _attempt(client: TestClient, name: str, password: str = "not the password"
             ) -> tuple[int, str, bool, float]:
    """Status, body (numbers blanked), whether Retry-After came, and seconds taken."""
    start = time.perf_counter()
    r = client.post("/api/token", json={"name": name, "password": password})
    took = time.perf_counter() - start
    return r.status_code, re.sub(r"\d+", "N", r.text), "retry-after" in r.headers, took


def _from(app: object, address: str) -> TestClient:
    return TestClient(app, client=(address, 50000))  # type: ignore[arg-type]


def test_unknown_and_known_names_get_the_same_answers(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    ensure_accounts_in(db)
    with _client(db) as c:
        seen = {"police": [], "nobody-here": []}
        for _ in range(accounts.FREE_FAILURES + 2):  # past the lock-out threshold
            for name in seen:  # interleaved, so that noise hits both alike
                seen[name].append(_attempt(c, name))
    answers = {name: [a[:3] for a in tries] for name, tries in seen.items()}
    assert answers["police"] == answers["nobody-here"]
    assert [a[0] for a in answers["police"]] == [401] * accounts.FREE_FAILURES + [429, 429]
    # the same timing class: both check a hash before the lock-out, neither after
    checked = {name: statistics.median(a[3] for a in tries[:accounts.FREE_FAILURES])
               for name, tries in seen.items()}
    assert 1 / 3 < checked["police"] / checked["nobody-here"] < 3, checked


def test_a_strangers_failures_do_not_lock_the_owner_out(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    ensure_accounts_in(db)
    app = create_app(Settings(db=str(db), tiles="none"))
    with _from(app, "203.0.113.66") as stranger:
        codes = [_attempt(stranger, "police")[0] for _ in range(accounts.FREE_FAILURES + 2)]
        assert codes[-2:] == [429, 429]
        assert _attempt(stranger, "police", PASSWORD)[0] == 429  # locked at that address
        owner = _from(app, "10.1.2.3")
        assert _attempt(owner, "police", PASSWORD)[0] == 200
        with app.state.store.connect() as conn:
            rows = audit.query(conn, action="login")
    assert len(rows) == accounts.FREE_FAILURES + 4  # one row per attempt
    ok = rows[rows["outcome"] == "ok"]
    assert list(ok["client"]) == ["10.1.2.3"]
    locked = rows[rows["outcome"] == "locked"]
    assert set(locked["client"]) == {"203.0.113.66"}
    assert all(d.startswith("signin_locked") for d in locked["detail"])


def test_the_per_name_throttle_slows_a_distributed_guess(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    ensure_accounts_in(db)
    app = create_app(Settings(db=str(db), tiles="none", signin_per_name=3))
    with _from(app, "10.1.2.3") as owner:
        assert _attempt(owner, "police", PASSWORD)[0] == 200  # the owner's usual address
        guesses = [_attempt(_from(app, f"198.51.100.{i}"), "police")[:3] for i in range(5)]
        assert [g[0] for g in guesses] == [401, 401, 401, 429, 429]
        assert guesses[3][2]  # with Retry-After
        # an unknown name is throttled alike
        spray = [_attempt(_from(app, f"192.0.2.{i}"), "nobody-here")[:3] for i in range(5)]
        assert spray == guesses
        # the owner still gets in from the address they signed in from before
        assert _attempt(owner, "police", PASSWORD)[0] == 200
        with app.state.store.connect() as conn:
            rows = audit.query(conn, action="login")
    assert len(rows) == 12
    assert (rows["detail"].fillna("").str.startswith("signin_throttled_name")).sum() == 4


def test_the_per_address_throttle_spares_successful_sign_ins(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    ensure_accounts_in(db)
    app = create_app(Settings(db=str(db), tiles="none", signin_per_address=4))
    with _from(app, "10.9.9.9") as office:
        assert [_attempt(office, role, PASSWORD)[0] for role in accounts.ROLES * 2] == [200] * 8
        codes = [_attempt(office, f"guess-{i}")[0] for i in range(6)]
        assert codes == [401] * 4 + [429] * 2
        r = office.post("/api/token", json={"name": "police", "password": PASSWORD})
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
        assert _attempt(_from(app, "10.9.9.10"), "police", PASSWORD)[0] == 200
        with app.state.store.connect() as conn:
            rows = audit.query(conn, action="login")
    assert len(rows) == 16
    throttled = rows[rows["detail"].fillna("").str.startswith("signin_throttled_address")]
    assert len(throttled) == 3 and set(throttled["outcome"]) == {"locked"}


def test_a_throttled_attempt_checks_no_password(tmp_path: Path) -> None:
    """Refused before argon2: it answers while every hashing slot is taken."""
    db = tmp_path / "a.db"
    ensure_accounts_in(db)
    app = create_app(Settings(db=str(db), tiles="none", signin_per_address=1))
    with _from(app, "10.7.7.7") as c:
        assert _attempt(c, "police")[0] == 401
        answers: list[int] = []
        for _ in range(accounts.HASH_SLOTS):
            accounts._hashing.acquire()
        try:
            thread = threading.Thread(target=lambda: answers.append(_attempt(c, "police")[0]))
            thread.start()
            thread.join(timeout=10)
            hashed = thread.is_alive()
        finally:
            for _ in range(accounts.HASH_SLOTS):
                accounts._hashing.release()
        thread.join(timeout=30)
    assert not hashed and answers == [429]
