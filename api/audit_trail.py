"""Audit rows of HTTP requests, written once the answer is known.

`api.auth.authorize` decides what a request's row will say (`expect`): a refusal, or the
read its rule in `api.policy.POLICY` marks. `AuditTrail`, a pure ASGI middleware, writes
the row as the response starts, after the route (or its error handler) ran: with the HTTP
status and the outcome word it maps to (`outcome_for`), and, for a bulk read, how many
records the answer held (`returned`, which the route calls). So a read of a missing place
is logged ``not_found 404``, a refused export ``invalid 422``, an unexpected failure
``error 500``.

The row is written before the first byte of the answer leaves: when it cannot be written
the caller gets a 503 instead of the data, never the data without its row.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from layers.store import audit
from layers.store.engine import Store

logger = logging.getLogger("placerisk")

_SCOPE_KEY = "placerisk.audit"
UNAVAILABLE = "the audit log cannot be written just now, so nothing is shown; try again"
_OUTCOMES = {401: "denied", 403: "denied", 404: "not_found", 409: "conflict", 400: "invalid",
             413: "invalid", 422: "invalid", 429: "locked"}


@dataclass
class Event:
    """The audit row a request will leave; `AuditTrail` adds the status and outcome.

    ``outcome`` fixes the word (a refusal is ``denied`` whatever page answers it); ``None``
    takes it from the status. ``counts`` are the records a bulk answer holds, by kind.
    """

    action: str
    user_name: str | None = None
    role: str | None = None
    object_type: str | None = None
    object_ids: list[str] = field(default_factory=list)
    client: str | None = None
    purpose: str | None = None
    detail: str | None = None
    outcome: str | None = None
    counts: dict[str, int] = field(default_factory=dict)
    matched: int | None = None


def outcome_for(status: int) -> str:
    """The audit outcome word of an HTTP status.

    Examples
    --------
    >>> [outcome_for(s) for s in (200, 303, 404, 422, 403, 500)]
    ['ok', 'ok', 'not_found', 'invalid', 'denied', 'error']
    """
    if status < 400:
        return "ok"
    if status >= 500:
        return "error"
    return _OUTCOMES.get(status, "failed")


def expect(request: Request, event: Event) -> None:
    """Have the request leave ``event`` in the audit log when it is answered."""
    request.scope[_SCOPE_KEY] = event


def expected(request: Request) -> Event | None:
    """The event the request will leave, if any."""
    return request.scope.get(_SCOPE_KEY)


def returned(request: Request, counts: Mapping[str, int], *,
             matched: int | None = None) -> None:
    """Say how many records of each kind the answer holds (``{"places": 12}``).

    Their sum is the row's ``returned``; each goes into its detail, with ``matched`` (the
    rows the filters matched, of which a page was returned) when given. A no-op for a
    request that leaves no audit row.
    """
    event = expected(request)
    if event is not None:
        event.counts = {kind: int(n) for kind, n in counts.items()}
        event.matched = matched


def query_text(request: Request) -> str:
    """The request's method, path and query string, as the audit detail shows them.

    The query is re-encoded (control characters and spaces percent-encoded) and the
    purpose left out, as it has a column of its own.
    """
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "purpose"]
    query = urlencode(params)
    return f"{request.method} {request.url.path}" + (f"?{query}" if query else "")


def _detail(event: Event) -> str | None:
    if not event.counts:
        return event.detail
    shown = ", ".join(f"{n} {kind}" for kind, n in event.counts.items())
    if event.matched is not None:
        shown += f" (of {event.matched} matched)"
    return f"{event.detail}: {shown}" if event.detail else shown


def write(store: Store, event: Event, status: int) -> None:
    """Append ``event``'s row with the status it was answered with."""
    audit.record(store, action=event.action, outcome=event.outcome or outcome_for(status),
                 user_name=event.user_name, role=event.role, object_type=event.object_type,
                 object_ids=event.object_ids, client=event.client, purpose=event.purpose,
                 detail=_detail(event), status=status,
                 returned=sum(event.counts.values()) if event.counts else None)


class AuditTrail:
    """Write each request's `Event` as its response starts; a 503 if it cannot be written.

    An exception no handler answered is written as status 500 before it goes on to the
    app's 500 handler.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one request, writing its audit row before its answer."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = {"written": False, "blocked": False}

        async def send_audited(message: Message) -> None:
            if state["blocked"]:
                return  # the answer was replaced by the 503
            if message["type"] == "http.response.start" and not state["written"]:
                state["written"] = True
                if not await self._write(scope, message["status"]):
                    state["blocked"] = True
                    await JSONResponse({"detail": UNAVAILABLE}, status_code=503)(
                        scope, receive, send)
                    return
            await send(message)

        try:
            await self.app(scope, receive, send_audited)
        except Exception:
            if not state["written"]:
                state["written"] = True
                await self._write(scope, 500)
            raise

    async def _write(self, scope: Scope, status: int) -> bool:
        """Write the scope's event, if any; False when that failed (and was logged)."""
        event = scope.get(_SCOPE_KEY)
        if event is None:
            return True
        try:
            await run_in_threadpool(write, scope["app"].state.store, event, status)
        except Exception:
            logger.exception("cannot write the audit row of %s %s", scope.get("method"),
                             scope.get("path"))
            return False
        return True
