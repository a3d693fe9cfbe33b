"""Signing in and out: the sign-in page and form, API tokens, sign-out and who am I."""

from __future__ import annotations

import hmac
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.auth import (
    COOKIE,
    LOGIN_CSRF_COOKIE,
    CurrentSession,
    NotSignedIn,
    TooManyAttempts,
    client_address,
    login_response,
    refuse,
    session_token,
)
from api.policy import HOME
from api.schemas import MePublic, TokenPublic, TokenRequest
from api.security import SignInGuard
from api.settings import Settings
from layers.access import accounts_store as accounts
from layers.store import audit

_HTML: dict[str, Any] = {"text/html": {"schema": {"type": "string"}}}


_JSON_ERROR: dict[str, Any] = {"application/json": {"schema": {
    "type": "object", "required": ["detail"], "properties": {"detail": {"type": "string"}}}}}


router = APIRouter(tags=["auth"])


def _settings(request: Request) -> Settings:
    return request.app.state.settings


def local_path(target: str | None) -> str | None:
    """``target`` if it is a path of this site, else None: never another site.

    Only a relative path from the root: no scheme, no host, no ``//`` or backslash (which
    browsers read as ``//``), and no control character or space (browsers drop tabs and
    newlines from a URL, so ``/<TAB>/evil.example`` would become ``//evil.example``).

    Examples
    --------
    >>> local_path("/wards?x=1"), local_path("//evil.example"), local_path("https://evil.example")
    ('/wards?x=1', None, None)
    >>> local_path("/" + chr(9) + "/evil.example"), local_path("/" + chr(92) + "evil.example")
    (None, None)
    """
    if not target or len(target) > 200 or not target.startswith("/"):
        return None
    if target.startswith("//") or "\\" in target or any(c <= " " or c == "\x7f"
                                                          for c in target):
        return None
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else None


def _safe_next(target: str | None, role: str) -> str:
    """A local path to go to after sign-in (never another site), else the role's home."""
    return local_path(target) or HOME[role]


@router.get("/login", response_class=HTMLResponse)
def login_form(next: str = "") -> HTMLResponse:
    """The sign-in page; it goes on to ``next`` afterwards when that is a path of this site."""
    return login_response("", local_path(next) or "", 200)


def _sign_in(request: Request, name: str, password: str) -> accounts.User:
    """Sign in, or raise `TooManyAttempts` / `NotSignedIn`; every attempt is audited once.

    The guard is asked first: a locked or throttled attempt gets 429 without its password
    being checked (no argon2 work to be had by flooding). Unknown and known names, right
    password on a disabled account included, get the same answer.
    """
    name, password = name[:64], password[:200]
    store = request.app.state.store
    guard: SignInGuard = request.app.state.signin_guard
    address = client_address(request)
    wait, why = guard.admit(name, address)
    if wait:
        audit.record(store, action="login", outcome="locked", user_name=name, client=address,
                     detail=f"signin_{why.replace(': ', '_')}, retry after {wait} s")
        raise TooManyAttempts(wait)
    result = accounts.authenticate(store, name, password, client=address)
    if result.user is None:
        raise NotSignedIn("wrong user name or password")
    guard.succeeded(name, address)
    return result.user


@router.post("/login", response_class=HTMLResponse, responses={
    303: {"description": "Signed in: on to the page asked for."},
    401: {"description": "Wrong user name or password: the form again.", "content": _HTML},
    403: {"description": "The form had expired (CSRF): the form again.", "content": _HTML},
    429: {"description": "Too many failed sign-ins for now: the form again.",
          "content": _HTML}})
def login(request: Request, name: Annotated[str, Form(max_length=64)],
          password: Annotated[str, Form(max_length=200)],
          csrf_token: Annotated[str, Form(max_length=64)] = "",
          next: Annotated[str, Form(max_length=200)] = "") -> Response:
    """Sign in from the form; sets the session cookie and goes to the page asked for."""
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not expected or not hmac.compare_digest(expected, csrf_token):
        refuse(request, None, None, "the sign-in form's CSRF token is missing or stale")
        return login_response("The form had expired; please sign in again.", next, 403)
    try:
        user = _sign_in(request, name, password)
    except TooManyAttempts as exc:
        return login_response(str(exc), next, 429, {"Retry-After": str(exc.retry_after)})
    except NotSignedIn:
        return login_response("Wrong user name or password.", next, 401)
    settings = _settings(request)
    token, _ = accounts.start_session(request.app.state.store, user, kind="cookie",
                                      hours=settings.session_hours)
    response = RedirectResponse(_safe_next(next, user.role), status_code=303)
    response.set_cookie(COOKIE, token, httponly=True, samesite="strict",
                        secure=settings.production or request.url.scheme == "https",
                        max_age=int(settings.session_hours * 3600))
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


@router.post("/api/token", response_model=TokenPublic, responses={
    401: {"description": "Wrong user name or password.", "content": _JSON_ERROR},
    429: {"description": "Too many failed sign-ins for now; see Retry-After.",
          "content": _JSON_ERROR}})
def token(request: Request, body: TokenRequest) -> TokenPublic:
    """Exchange a user name and password for a bearer token."""
    user = _sign_in(request, body.name, body.password)
    hours = _settings(request).token_hours
    value, _ = accounts.start_session(request.app.state.store, user, kind="bearer",
                                      hours=hours)
    return TokenPublic(access_token=value, expires_in=int(hours * 3600))


@router.post("/logout", response_class=Response, status_code=204,
             responses={303: {"description": "A browser session ended: on to /login."}})
def logout(request: Request, session: CurrentSession) -> Response:
    """End the session (cookie or token)."""
    found = session_token(request)
    if found is not None:
        accounts.end_session(request.app.state.store, found[0])
    audit.record(request.app.state.store, action="logout", user_name=session.user.name,
                 role=session.user.role, client=client_address(request))
    if session.kind == "cookie":
        response: Response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE)
        return response
    return Response(status_code=204)


@router.get("/api/me", response_model=MePublic)
def me(session: CurrentSession) -> MePublic:
    """Who is signed in, their role, the authorities they see and their forms' CSRF token."""
    scope = session.user.authorities
    return MePublic(name=session.user.name, role=session.user.role,
                    authorities=None if scope is None else sorted(scope),
                    csrf_token=session.csrf_token, expires_at=session.expires_at.isoformat())
