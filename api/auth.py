"""Sign-in, sessions and the check every request goes through.

Browsers sign in at ``/login`` and get a session cookie (HttpOnly, SameSite=Strict, Secure
over TLS or in production); API clients post to ``/api/token`` and send
``Authorization: Bearer TOKEN``. `authorize`, a dependency of the whole app, looks up the
route's rule in `api.policy.POLICY`: anonymous callers get 401, callers of the wrong role
403, and both are written to the audit log, as are sign-ins, sign-outs, forms refused for a
stale CSRF token and every read the rule marks (`api.audit_trail`). A form posted with a
session cookie must carry the session's CSRF token.
"""

from __future__ import annotations

import hmac
import secrets
import unicodedata
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, Response

from api import audit_trail, pages
from api.policy import Rule, rule_for
from layers.access import accounts_store as accounts
from layers.access.accounts_store import Session
from layers.errors import ParameterError
from layers.store.scope import Scope
from maps.style import escape

COOKIE = "placerisk_session"
LOGIN_CSRF_COOKIE = "placerisk_login_csrf"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


class NotSignedIn(Exception):
    """No valid session or token (401)."""


class Forbidden(Exception):
    """Signed in, but the role may not call this route (403)."""


class TooManyAttempts(Exception):
    """Too many failed sign-ins from this address or for this name, for now (429)."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many failed sign-ins; try again in {retry_after} s")
        self.retry_after = retry_after


def client_address(request: Request) -> str:
    """The caller's address: the peer's, or the one a trusted proxy forwarded.

    The server believes ``X-Forwarded-For`` only from ``Settings.trusted_proxies``
    (``PLACERISK_TRUSTED_PROXIES``, none by default; `placerisk serve` passes it to uvicorn).
    The audit log and the sign-in throttles both use this address.
    """
    return request.client.host if request.client else ""


def session_token(request: Request) -> tuple[str, str] | None:
    """The session token and where it came from (cookie or bearer), if the request has one."""
    header = request.headers.get("authorization", "")
    if header[:7].lower() == "bearer " and header[7:].strip():
        return header[7:].strip(), "bearer"
    cookie = request.cookies.get(COOKIE)
    return (cookie, "cookie") if cookie else None


def current_session(request: Request) -> Session | None:
    """The caller's live session, from a bearer token or the session cookie."""
    found = session_token(request)
    if found is None:
        return None
    return accounts.find_session(request.app.state.store, found[0], kind=found[1])


def _event(request: Request, rule: Rule | None, session: Session | None, *, action: str,
           outcome: str | None = None, detail: str | None = None) -> audit_trail.Event:
    ids = []
    if rule and rule.object_param:
        value = (request.path_params.get(rule.object_param)
                 or request.query_params.get(rule.object_param))
        ids = [str(value)[:64]] if value else []
    return audit_trail.Event(
        action=action, outcome=outcome, user_name=session.user.name if session else None,
        role=session.user.role if session else None,
        object_type=rule.object_type if rule else None, object_ids=ids,
        client=client_address(request),
        purpose=request.query_params.get("purpose") if rule and rule.purpose else None,
        detail=detail)


def refuse(request: Request, rule: Rule | None, session: Session | None, why: str) -> None:
    """Have the request audited as refused (``denied``), with its route and ``why``."""
    route = request.scope.get("route")
    what = f"{request.method} {getattr(route, 'path', request.url.path)}"
    audit_trail.expect(request, _event(request, rule, session, action="denied",
                                       outcome="denied", detail=f"{what}: {why}"))


def _check_csrf(request: Request, session: Session, form_token: str | None) -> None:
    sent = request.headers.get("x-csrf-token") or form_token or ""
    if not hmac.compare_digest(sent, session.csrf_token):
        raise Forbidden("the form's CSRF token is missing or stale; reload the page")


def check_purpose(purpose: str) -> None:
    """Refuse a purpose that is not one line of 5-200 characters (`ParameterError`).

    A line break, tab or other control or format character is refused; a no-break space is
    not (the audit row writes it as a space).

    Examples
    --------
    >>> check_purpose("JAG meeting 1 December")
    >>> try:
    ...     check_purpose("JAG" + chr(10) + "admin export ok")
    ... except ParameterError as exc:
    ...     print(exc)
    purpose: one line of text, please: character 4 is a control character (U+000A)
    """
    if not 5 <= len(purpose.strip()) <= 200:
        raise ParameterError("purpose: say why you need this export in 5-200 characters "
                             "(?purpose=...); it goes to the audit log")
    bad = next((i for i, c in enumerate(purpose)
                if not c.isprintable() and unicodedata.category(c) != "Zs"), None)
    if bad is not None:
        msg = (f"purpose: one line of text, please: character {bad + 1} is a control "
               f"character (U+{ord(purpose[bad]):04X})")
        raise ParameterError(msg)


async def authorize(request: Request) -> None:
    """Allow the request by its route's rule, or raise `NotSignedIn` / `Forbidden`.

    What the request leaves in the audit log is decided here (`api.audit_trail.expect`):
    a refusal (not signed in, wrong role, a stale CSRF token) or the read the rule marks.
    `api.audit_trail.AuditTrail` writes it with the status the request was answered with.
    The session lookup blocks on the database (and its connection pool), so it runs in the
    thread pool: on the event loop it would stall every other request, and under load hold
    up the very connection releases it waits for.
    """
    route = request.scope.get("route")
    path = getattr(route, "path", request.url.path)
    rule = rule_for(request.method, path)
    if rule is not None and rule.public:
        return
    session = await run_in_threadpool(current_session, request)
    request.state.session = session
    if session is None:
        refuse(request, rule, None, "not signed in")
        raise NotSignedIn("sign in first: /login in a browser, POST /api/token for the API")
    if rule is None or session.user.role not in rule.roles:
        refuse(request, rule, session, f"role {session.user.role}")
        raise Forbidden(f"your role ({session.user.role}) may not see this")
    if request.method not in SAFE_METHODS and session.kind == "cookie":
        form = await request.form() if "form" in request.headers.get("content-type", "") \
            else {}
        token = form.get("csrf_token")
        try:
            _check_csrf(request, session, token if isinstance(token, str) else None)
        except Forbidden:
            refuse(request, rule, session, "CSRF token missing or stale")
            raise
    if rule.audit:
        audit_trail.expect(request, _event(request, rule, session, action=rule.audit,
                                           detail=audit_trail.query_text(request)))
    if rule.purpose:
        check_purpose(request.query_params.get("purpose", ""))


def signed_in(request: Request) -> Session:
    """The session `authorize` found (for routes that need the user)."""
    session = getattr(request.state, "session", None)
    if session is None:
        raise NotSignedIn("sign in first")
    return session


def user_scope(request: Request) -> Scope:
    """The authorities the signed-in user may see (`layers.store.scope`): ``None`` for all.

    Every route that answers records, cells, wards or their aggregates passes it to the
    `layers` queries; the authority walk in the tests checks that each one does.
    """
    return signed_in(request).user.authorities


CurrentSession = Annotated[Session, Depends(signed_in)]
UserScope = Annotated[Scope, Depends(user_scope)]


def _wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


async def not_signed_in(request: Request, exc: Exception) -> Response:
    """Not signed in: a page redirects to the sign-in page, an API client gets 401 JSON.

    A page (`api.policy.Rule.page`) answers 303 to ``/login?next=...``; another route asked
    for by a browser (Accept: text/html) the sign-in form with 401.
    """
    if pages.is_page(request) and request.method in ("GET", "HEAD"):
        return pages.login_redirect(request)
    if _wants_html(request):
        return login_response("Please sign in.", pages.asked_for(request), 401)
    return JSONResponse({"detail": str(exc)}, status_code=401,
                        headers={"WWW-Authenticate": "Bearer"})


async def forbidden(request: Request, exc: Exception) -> Response:
    """403 with a short reason; a page (or a browser) gets a page linking what it may see."""
    if pages.is_page(request) or _wants_html(request):
        return pages.forbidden_page(request, str(exc))
    return JSONResponse({"detail": str(exc)}, status_code=403)


async def too_many(_request: Request, exc: Exception) -> Response:
    """429 with Retry-After, for the token route."""
    wait = exc.retry_after if isinstance(exc, TooManyAttempts) else 60
    return JSONResponse({"detail": str(exc)}, status_code=429,
                        headers={"Retry-After": str(wait)})


HANDLERS: dict[type[Exception], Any] = {NotSignedIn: not_signed_in, Forbidden: forbidden,
                                        TooManyAttempts: too_many}


def login_page(*, message: str = "", next_path: str = "", csrf: str = "") -> str:
    """The sign-in form, with ``message`` (escaped) above it."""
    note = f'<p class="error" role="alert">{escape(message)}</p>' if message else ""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>placerisk: sign in</title>
<style>body {{ font: 15px/1.5 sans-serif; max-width: 24em; margin: 4em auto; }}
label {{ display: block; margin: .6em 0; }} input {{ width: 100%; padding: .3em; }}
.error {{ color: #a50026; }}</style></head><body>
<h1>placerisk</h1><p>OFFICIAL-SENSITIVE. Sign in with the account your administrator gave
you.</p>{note}
<form method="post" action="/login" class="placerisk-login">
<input type="hidden" name="csrf_token" value="{escape(csrf)}">
<input type="hidden" name="next" value="{escape(next_path)}">
<label>User name <input name="name" autocomplete="username" required maxlength="64"></label>
<label>Password <input name="password" type="password" autocomplete="current-password"
required maxlength="200"></label>
<button type="submit">Sign in</button></form></body></html>"""


def login_response(message: str, next_path: str, status: int,
                   headers: dict[str, str] | None = None) -> HTMLResponse:
    """The sign-in page with a fresh CSRF cookie for its form (the page and the 401)."""
    csrf = secrets.token_urlsafe(24)
    response = HTMLResponse(login_page(message=message, next_path=next_path, csrf=csrf),
                            status_code=status, headers=headers)
    response.set_cookie(LOGIN_CSRF_COOKIE, csrf, httponly=True, samesite="strict",
                        path="/login")
    return response
