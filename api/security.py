"""Output and input hardening: security headers, a request body limit, generic 500s.

`install` adds two pure ASGI middlewares (pure, not ``BaseHTTPMiddleware``, so streamed
responses pass through unbuffered and the body limit sees each chunk as it arrives) and a
handler for unexpected exceptions:

- `SecurityHeaders` gives every response a Content-Security-Policy, ``nosniff``, no
  referrer, no framing by other sites, no geolocation, camera or microphone, an
  ``X-Correlation-ID`` and ``Cache-Control: no-store`` (the vendored libraries under
  ``/static/`` may be cached). Headers a route sets itself are kept.
- `BodyLimit` answers 413 to a body over ``Settings.max_body_bytes``: at once when the
  ``Content-Length`` says so, and for a chunked upload as soon as the bytes received pass
  the limit, without reading the rest.
- `refuse_nul`, a dependency of every route, answers 422 to a NUL character in any path
  or query parameter, form field or JSON string, naming it: PostgreSQL can neither store
  nor compare text holding one (a query with it fails), so it never reaches the database.
- An exception no other handler takes is logged with its traceback and a random
  correlation id (logger ``placerisk``); the caller gets a generic message and the id.

It also puts a `SignInGuard` on ``app.state.signin_guard``: lock-out per user name and
client address, and token-bucket throttles per address and per name, held in the app's
memory, that `api.auth` asks before it spends any time on a password.

Framing is allowed from the app's own pages (``frame-ancestors 'self'``, ``SAMEORIGIN``)
rather than from none: the ward profile shows its map in an iframe of ``/wards/{code}/map``.
Other sites still cannot frame any page.
"""

from __future__ import annotations

import json
import logging
import math
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.settings import PMTILES, Settings, base_map
from layers.access.accounts_store import lockout_seconds

logger = logging.getLogger("placerisk")

CORRELATION_HEADER = "X-Correlation-ID"
STATIC_PREFIX = "/static/"
STATIC_CACHE = "public, max-age=86400"
NO_STORE = "no-store"
INTERNAL_ERROR = "internal error; quote this id to your administrator"
_SCOPE_KEY = "placerisk.correlation_id"


def new_correlation_id() -> str:
    """A random id to quote in a bug report: 16 hex digits, never derived from the request."""
    return secrets.token_hex(8)


# --- headers -----------------------------------------------------------------------------

def tile_origin(tiles: str) -> str | None:
    """The CSP source of a tile server, or ``None`` when the page's own origin serves them.

    ``tiles`` is a Leaflet URL template or a folium / xyzservices tileset name. Templated
    leading labels (``{s}``) become a wildcard.

    Raises
    ------
    ValueError
        When the template has a placeholder elsewhere in the host, or a scheme other than
        http(s).

    Examples
    --------
    >>> tile_origin("https://tile.openstreetmap.org/{z}/{x}/{y}.png")
    'https://tile.openstreetmap.org'
    >>> tile_origin("https://{s}.tile.openstreetmap.org/{z}/{x}/{y}.png")
    'https://*.tile.openstreetmap.org'
    >>> tile_origin("http://localhost:8080/tiles/{z}/{x}/{y}.png")
    'http://localhost:8080'
    >>> tile_origin("/tiles/{z}/{x}/{y}.png") is None
    True
    """
    url = _tileset_url(tiles.strip())
    parts = urlsplit(url)
    if not parts.netloc:  # a path on the app's own server
        return None
    if parts.scheme not in ("", "http", "https"):
        msg = f"tiles {tiles!r}: scheme {parts.scheme!r} is not http or https"
        raise ValueError(msg)
    hostport = parts.netloc.rpartition("@")[2]  # no user info
    host, colon, port = ((hostport, "", "") if hostport.startswith("[")  # IPv6 literal
                         else hostport.partition(":"))
    labels = host.split(".")
    lead = 0
    while lead < len(labels) and "{" in labels[lead]:
        lead += 1
    rest = labels[lead:]
    if not rest or any("{" in label or "}" in label for label in rest) or "{" in port:
        msg = (f"tiles {tiles!r}: only the leading labels of the host may be placeholders "
               f"(such as {{s}}.tile.example.org); cannot allow its server in the CSP")
        raise ValueError(msg)
    host = ".".join((["*"] if lead else []) + rest)
    source = host + colon + port
    return f"{parts.scheme}://{source}" if parts.scheme else source


def _tileset_url(tiles: str) -> str:
    """The URL template of a folium tileset name (as `folium.TileLayer` resolves it)."""
    if "/" in tiles:
        return tiles
    import xyzservices

    name = "OpenStreetMap Mapnik" if tiles.lower() == "openstreetmap" else tiles
    try:
        provider = xyzservices.providers.query_name(name)
    except ValueError:  # folium would take it as a relative URL: the app's own origin
        return tiles
    return str(provider.build_url(fill_subdomain=False, scale_factor="{r}"))


def content_security_policy(settings: Settings, *, tiles: str | None = None) -> str:
    """The Content-Security-Policy of every page.

    Inline scripts and styles are allowed (folium writes both); everything else comes from
    the app itself, plus the tile server's images when a base map is configured. ``tiles``
    is a page's own base map (the guardian view's), default ``settings.tiles``. The app's
    PMTiles file is read from the app itself (``connect-src 'self'``); its tiles become
    ``blob:`` images.

    Examples
    --------
    >>> csp = content_security_policy(Settings(tiles="none"))
    >>> csp.split("; ")[3]
    "img-src 'self' data:"
    >>> content_security_policy(Settings(tiles="pmtiles")).split("; ")[3]
    "img-src 'self' data: blob:"
    """
    images = ["'self'", "data:"]
    chosen = base_map(settings.tiles if tiles is None else tiles)
    if chosen == PMTILES:
        images.append("blob:")
    elif chosen is not None:
        origin = tile_origin(chosen)
        if origin:
            images.append(origin)
    directives = {
        "default-src": ["'self'"],
        "script-src": ["'self'", "'unsafe-inline'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": images,
        "connect-src": ["'self'"],
        "font-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'self'"],
    }
    return "; ".join(f"{name} {' '.join(sources)}" for name, sources in directives.items())


def security_headers(settings: Settings) -> list[tuple[str, str]]:
    """The headers every response carries (besides Cache-Control and the correlation id)."""
    return [
        ("Content-Security-Policy", content_security_policy(settings)),
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "no-referrer"),
        ("X-Frame-Options", "SAMEORIGIN"),
        ("Permissions-Policy", "geolocation=(), camera=(), microphone=()"),
    ]


def _app_path(scope: Scope) -> str:
    path: str = scope.get("path", "")
    root: str = scope.get("root_path", "")
    return path[len(root):] if root and path.startswith(root) else path


class SecurityHeaders:
    """Add `security_headers`, Cache-Control and a fresh ``X-Correlation-ID`` to responses.

    The correlation id goes into the scope too, where the 500 handler finds it.
    """

    def __init__(self, app: ASGIApp, *, headers: Sequence[tuple[str, str]]) -> None:
        self.app = app
        self.headers = list(headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one request, adding the headers to its response."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        correlation_id = new_correlation_id()
        scope[_SCOPE_KEY] = correlation_id
        static = _app_path(scope).startswith(STATIC_PREFIX)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                headers = MutableHeaders(scope=message)
                for name, value in self.headers:
                    headers.setdefault(name, value)
                cacheable = static and message["status"] in (200, 304)
                headers.setdefault("Cache-Control", STATIC_CACHE if cacheable else NO_STORE)
                headers[CORRELATION_HEADER] = correlation_id
            await send(message)

        await self.app(scope, receive, send_with_headers)


# --- body limit --------------------------------------------------------------------------

class BodyTooLarge(HTTPException):
    """The request body passed the limit (413).

    An `HTTPException`, so FastAPI passes it on from its body parsing and answers JSON.
    """

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body larger than the limit of {limit} bytes")


class BodyLimit:
    """Answer 413 to a request body over ``max_bytes``, with or without Content-Length."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        if max_bytes < 0:
            msg = f"max_body_bytes must be 0 or more, not {max_bytes}"
            raise ValueError(msg)
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one request, counting its body's bytes as the app reads them."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._reject(scope, receive, send)  # before a byte of the body is read
            return
        received = 0
        started = False

        async def receive_limited() -> Message:
            nonlocal received
            if received > self.max_bytes:  # asked again after the limit: read no further
                raise BodyTooLarge(self.max_bytes)
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        async def send_tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive_limited, send_tracked)
        except BodyTooLarge:  # raised where no exception handler took it
            if started:
                raise
            await self._reject(scope, receive, send)

    async def _reject(self, scope: Scope, receive: Receive, send: Send) -> None:
        detail = BodyTooLarge(self.max_bytes).detail
        await JSONResponse({"detail": detail}, status_code=413)(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    value = Headers(scope=scope).get("content-length")
    try:
        return int(value) if value is not None else None
    except ValueError:  # the server refuses a malformed length itself
        return None


# --- sign-in guard -----------------------------------------------------------------------

MAX_KEYS = 100_000  # names, addresses or pairs remembered; the least recent are forgotten
FORGET_S = 24 * 3600  # failed sign-ins older than this no longer count towards a lock-out
KNOWN_PER_NAME = 8  # addresses remembered per name after a successful sign-in


class TokenBuckets:
    """A token bucket per key: ``per_minute`` tokens a minute, ``per_minute`` at most.

    At most `MAX_KEYS` keys are kept; the least recently used is forgotten, and a forgotten
    bucket starts full. Not thread-safe on its own (`SignInGuard` holds a lock).

    Examples
    --------
    >>> now = [0.0]
    >>> buckets = TokenBuckets(2, clock=lambda: now[0])
    >>> [buckets.take("a") for _ in range(3)]
    [0, 0, 30]
    >>> now[0] = 30.0
    >>> buckets.take("a"), buckets.take("b")
    (0, 0)
    """

    def __init__(self, per_minute: float, *, clock: Callable[[], float] = time.monotonic,
                 max_keys: int = MAX_KEYS) -> None:
        if per_minute < 0:
            msg = f"a sign-in throttle of {per_minute} a minute: use 0 (off) or more"
            raise ValueError(msg)
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0  # tokens a second
        self.clock = clock
        self.max_keys = max_keys
        self._buckets: OrderedDict[Hashable, tuple[float, float]] = OrderedDict()

    def take(self, key: Hashable) -> int:
        """Take a token for ``key``: 0 if taken, else the seconds until one is there."""
        if not self.capacity:
            return 0
        now = self.clock()
        tokens, then = self._buckets.pop(key, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - then) * self.rate)
        wait = 0 if tokens >= 1 else max(1, math.ceil((1 - tokens) / self.rate))
        self._buckets[key] = (tokens - 1 if not wait else tokens, now)
        while len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)
        return wait

    def give_back(self, key: Hashable) -> None:
        """Return the token `take` took for ``key`` (an attempt that should not count)."""
        if key in self._buckets:
            tokens, then = self._buckets[key]
            self._buckets[key] = (min(self.capacity, tokens + 1), then)


@dataclass
class _Strikes:
    failures: int
    locked_until: float
    last: float


class SignInGuard:
    """Who may try a password now: lock-out per (name, address), throttles per each.

    - **Lock-out per name and address.** Every attempt counts as a failure until it
      succeeds; after `layers.access.accounts_store.FREE_FAILURES` in a row, that name is locked *at
      that address* for `layers.access.accounts_store.lockout_seconds`, doubling up to 15 minutes. A
      stranger's failures lock the stranger, not the owner signing in elsewhere.
    - **Throttle per address** (``per_address`` attempts a minute) against one client
      trying many names, and **per name** (``per_name`` a minute) against many addresses
      guessing one name. Only failures use them up: a successful attempt gives its tokens
      back. Addresses the name signed in from before skip the per-name throttle, so a
      distributed guess does not keep the owner out from their usual place.

    Unknown and known names are treated alike: nothing here knows which names exist.
    The state is in memory: a restart forgets it, and each server process keeps its own.
    """

    def __init__(self, *, per_address: float, per_name: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._by_address = TokenBuckets(per_address, clock=clock)
        self._by_name = TokenBuckets(per_name, clock=clock)
        self._strikes: OrderedDict[tuple[str, str], _Strikes] = OrderedDict()
        self._known: OrderedDict[str, OrderedDict[str, None]] = OrderedDict()

    @classmethod
    def from_settings(cls, settings: Settings) -> SignInGuard:
        """A guard with the throttles of ``settings``."""
        return cls(per_address=settings.signin_per_address,
                   per_name=settings.signin_per_name)

    def admit(self, name: str, address: str) -> tuple[int, str]:
        """May ``name`` try a password from ``address`` now? ``(0, "")`` if so, else a wait.

        An attempt let through counts as a failure until `succeeded` is called for it.

        Returns
        -------
        tuple of (int, str)
            The seconds to wait (0: go ahead) and why: ``"locked"``, ``"throttled:
            address"`` or ``"throttled: name"``.
        """
        with self._lock:
            now = self.clock()
            strikes = self._strikes.pop((name, address), None)
            if strikes is None or now - strikes.last > FORGET_S:
                strikes = _Strikes(0, 0.0, now)
            self._strikes[(name, address)] = strikes
            while len(self._strikes) > MAX_KEYS:
                self._strikes.popitem(last=False)
            if strikes.locked_until > now:
                return max(1, math.ceil(strikes.locked_until - now)), "locked"
            wait = self._by_address.take(address)
            if wait:
                return wait, "throttled: address"
            if address not in self._known.get(name, ()):
                wait = self._by_name.take(name)
                if wait:
                    self._by_address.give_back(address)
                    return wait, "throttled: name"
            strikes.failures += 1
            strikes.last = now
            lock = lockout_seconds(strikes.failures)
            strikes.locked_until = now + lock if lock else 0.0
            return 0, ""

    def succeeded(self, name: str, address: str) -> None:
        """The attempt `admit` let through was right: forget its failure and tokens.

        The address is remembered for the name: it skips the per-name throttle from now on.
        """
        with self._lock:
            self._strikes.pop((name, address), None)
            self._by_address.give_back(address)
            known = self._known.pop(name, OrderedDict())
            if address not in known:
                self._by_name.give_back(name)
            known.pop(address, None)
            known[address] = None
            while len(known) > KNOWN_PER_NAME:
                known.popitem(last=False)
            self._known[name] = known
            while len(self._known) > MAX_KEYS:
                self._known.popitem(last=False)


# --- input -------------------------------------------------------------------------------

NUL = "\x00"


def _nul_errors(value: Any, loc: tuple[str | int, ...]) -> Iterator[dict[str, Any]]:
    """A validation error for each string holding NUL in ``value`` (JSON: nested)."""
    if isinstance(value, str):
        if NUL in value:
            yield {"type": "string_nul", "loc": loc,
                   "msg": f"holds a NUL character (U+0000) at character {value.index(NUL) + 1}"
                          "; text cannot hold one"}
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _nul_errors(key, (*loc, "(key)"))
            yield from _nul_errors(item, (*loc, str(key)))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _nul_errors(item, (*loc, i))


async def refuse_nul(request: Request) -> None:
    """Refuse a NUL character in a path or query parameter, form field or JSON string.

    Raises `RequestValidationError` (a 422 naming each place, without the value): a NUL
    that reached PostgreSQL would fail the query with a 500. FastAPI has read the body
    already (its parsed form and bytes are cached on the request), so this reads no more.
    """
    errors = [e for name, value in request.path_params.items()
              for e in _nul_errors(str(value), ("path", name))]
    errors += [e for name, value in request.query_params.multi_items()
               for e in _nul_errors(value, ("query", name))]
    if request.method in ("POST", "PUT", "PATCH"):
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.form()
            errors += [e for name, value in form.multi_items() if isinstance(value, str)
                       for e in _nul_errors(value, ("body", name))]
        elif kind == "application/json" or kind.endswith("+json"):
            try:
                body = json.loads(await request.body())
            except ValueError:
                body = None  # FastAPI answers malformed JSON itself
            errors += list(_nul_errors(body, ("body",)))
    if errors:
        raise RequestValidationError(errors)


# --- errors ------------------------------------------------------------------------------

def internal_error_handler(headers: Sequence[tuple[str, str]]
                           ) -> Callable[[Request, Exception], Awaitable[JSONResponse]]:
    """A handler for any exception: log it with a correlation id, answer a generic 500.

    The log line names the method and path only: no query string, headers, cookies or body.
    The response is sent outside `SecurityHeaders`, so it carries ``headers`` itself.
    """

    async def internal_error(request: Request, exc: Exception) -> JSONResponse:
        correlation_id = request.scope.get(_SCOPE_KEY) or new_correlation_id()
        logger.error("internal error %s in %s %s", correlation_id, request.method,
                     _app_path(request.scope), exc_info=(type(exc), exc, exc.__traceback__))
        return JSONResponse(
            {"detail": INTERNAL_ERROR, "correlation_id": correlation_id}, status_code=500,
            headers={**dict(headers), "Cache-Control": NO_STORE,
                     CORRELATION_HEADER: correlation_id})

    return internal_error


def install(app: FastAPI, settings: Settings) -> None:
    """Add the security headers, the body limit, the 500 handler and the sign-in guard.

    Parameters
    ----------
    app
        The app; call before it serves its first request.
    settings
        The tile server (allowed in the CSP), ``max_body_bytes`` and the sign-in throttles.
    """
    app.state.signin_guard = SignInGuard.from_settings(settings)
    headers = security_headers(settings)
    app.add_exception_handler(Exception, internal_error_handler(headers))
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(SecurityHeaders, headers=headers)  # outermost: also on 413s
