"""One table from domain errors to HTTP statuses, and the handlers that answer them.

An API route answers JSON ``{"detail": message}``; a page route (`api.pages.is_page`) an
HTML page with the message and a way forward. `install` registers them all on the app.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, cast

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response

from api import auth, pages
from api.results import DEFAULT_RETRY_S, Busy
from layers import errors
from layers.access.review_store import ReviewStateError
from layers.records.edits_store import FieldErrors, VersionConflict
from layers.records.filters import FilterError
from layers.store.engine import StoreError

# Domain errors that reach a route, and the HTTP status each becomes.
ERROR_STATUS: dict[type[Exception], int] = {
    StoreError: 503, errors.NotFoundError: 404, errors.ParameterError: 422,
    FilterError: 422, ReviewStateError: 409, VersionConflict: 409,
}


def error_handler(status: int) -> Callable[[Request, Exception], Awaitable[Response]]:
    """JSON ``{"detail": message}``; an HTML page with a way forward for a page route."""
    async def handler(request: Request, exc: Exception) -> Response:
        if pages.is_page(request):
            return await run_in_threadpool(pages.error_page, request, status, str(exc))
        return JSONResponse({"detail": str(exc)}, status_code=status)
    return handler


async def busy(request: Request, exc: Exception) -> Response:
    """503 with Retry-After: too many heavy computations at once (`api.results`)."""
    retry = str(exc.retry_after if isinstance(exc, Busy) else DEFAULT_RETRY_S)
    response = await error_handler(503)(request, exc)
    response.headers["Retry-After"] = retry
    return response


async def validation_error(request: Request, exc: Exception) -> Response:
    """A 422 naming what is wrong where, never echoing the values sent; a page for a page.

    FastAPI's own answer repeats each bad ``input`` (a password sent as a number, say) and
    fails with a 500 on NaN or Infinity, which JSON cannot carry.
    """
    invalid = cast(RequestValidationError, exc)  # registered for this class only
    if pages.is_page(request):
        return await run_in_threadpool(pages.validation_page, request, invalid)
    return JSONResponse({"detail": validation_details(invalid.errors())}, status_code=422)


def validation_details(errors: Sequence[Any]) -> list[dict[str, Any]]:
    """Each error's ``loc``, ``msg`` and ``type`` only.

    Examples
    --------
    >>> validation_details([{"type": "string_type", "loc": ("body", "password"),
    ...                      "msg": "Input should be a valid string", "input": float("nan")}])
    [{'loc': ['body', 'password'], 'msg': 'Input should be a valid string', 'type': 'string_type'}]
    """
    return [{"loc": [str(part) if not isinstance(part, int) else part
                     for part in error.get("loc", ())],
             "msg": str(error.get("msg", "")), "type": str(error.get("type", ""))}
            for error in errors]


async def field_errors(request: Request, exc: Exception) -> Response:
    """A 422 naming each refused field and why (``loc``, ``msg``), never the value sent."""
    if pages.is_page(request):
        return await error_handler(422)(request, exc)
    problems = exc.problems if isinstance(exc, FieldErrors) else []
    detail = [{"loc": ["body", p.field], "msg": p.reason, "type": "value_error"}
              for p in problems]
    return JSONResponse({"detail": detail}, status_code=422)


def install(app: FastAPI) -> None:
    """Answer every error of `ERROR_STATUS`, of validation, of a full queue and of sign-in."""
    for error, status in ERROR_STATUS.items():
        app.add_exception_handler(error, error_handler(status))
    app.add_exception_handler(FieldErrors, field_errors)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(Busy, busy)
    for error, handler in auth.HANDLERS.items():
        app.add_exception_handler(error, handler)
