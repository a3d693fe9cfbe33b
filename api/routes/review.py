"""Review and retention over HTTP: the review queue, decisions and erasure (staff only).

The decision routes write through `layers.access.review_store`, which records each decision and
erasure with its own audit row; the policy rules of these routes therefore audit nothing more. A
form posted from the review page comes back to it (303); a form the store refuses shows the page
again with the reason and the refusal's status.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal, TypedDict

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from api.audit_trail import returned
from api.auth import CurrentSession, UserScope, client_address
from api.schemas import Day
from layers import errors
from layers.access import review_store as review
from layers.access.accounts_store import Session
from layers.dates import out_of_range
from layers.store import paging
from layers.store.engine import utcnow
from layers.store.scope import Scope
from maps.review_page import review_page

router = APIRouter(tags=["review"])
PlaceId = Annotated[str, Path(max_length=64, description="The place's id (source_id).")]
NO_STORE = {"Cache-Control": "no-store"}


class ReviewRequest(BaseModel):
    """A review decision on a place (see `layers.access.review_store` for what each one does)."""

    model_config = ConfigDict(extra="forbid")
    decision: Literal["retain", "lower", "close"]
    reason: str | None = Field(default=None, max_length=review.MAX_REASON,
                               description="Why; required to retain.")
    new_level: int | None = Field(default=None, ge=1, le=4,
                                  description="The lowered MACE level (lower only).")
    next_review_due: Day | None = Field(
        default=None, description="When to review again (default in 6 months; not close).")


class ReviewPublic(BaseModel):
    """A recorded review decision and the place's state after it."""

    source_id: str
    decision: str
    decided_at: dt.datetime
    decided_by: str
    reason: str | None = None
    new_level: int | None = None
    next_review_due: dt.date | None = None
    mace_level: int
    status: str
    review_due: dt.date | None = None


class QueueItem(BaseModel):
    """A place due for review."""

    source_id: str
    name: str
    category: str
    ward_code: str | None = None
    mace_level: int
    level_name: str
    status: str
    assessed_on: dt.date | None = None
    review_due: dt.date | None = None
    due: dt.date
    due_from: str
    days_overdue: int


class ReviewQueuePublic(BaseModel):
    """The review queue on a day, most overdue first."""

    today: dt.date
    data: list[QueueItem]
    count: int


class ErasedPublic(BaseModel):
    """An erased (soft-deleted) place."""

    source_id: str
    erased_at: dt.datetime


class _Who(TypedDict):
    user: str
    role: str
    client: str
    scope: Scope


def _who(request: Request, session: Session) -> _Who:
    """Who acts, for the review row and the audit log, and the authorities they may see."""
    return {"user": session.user.name, "role": session.user.role,
            "client": client_address(request), "scope": session.user.authorities}


def _page(request: Request, session: Session, *, message: str = "",
          status: int = 200) -> HTMLResponse:
    today = utcnow().date()
    with request.app.state.store.connect() as conn:
        queue = review.review_queue(conn, today=today, scope=session.user.authorities)
        closed = review.closed_places(conn, scope=session.user.authorities)
    html = review_page(queue, closed, csrf_token=session.csrf_token, today=today,
                       retention_days=request.app.state.settings.retention_days,
                       message=message)
    returned(request, {"places due": len(queue), "closed places": len(closed)})
    return HTMLResponse(html, status_code=status, headers=NO_STORE)


def _refused(request: Request, session: Session, exc: Exception) -> HTMLResponse:
    """The review page again, saying why the store refused the form."""
    status = (404 if isinstance(exc, errors.NotFoundError)
              else 409 if isinstance(exc, review.ReviewStateError) else 422)
    return _page(request, session, message=str(exc), status=status)


def _is_form(request: Request) -> bool:
    return "form" in request.headers.get("content-type", "")


@router.get("/review", response_class=HTMLResponse)
def review_html(request: Request, session: CurrentSession) -> HTMLResponse:
    """The review queue with a decision form per place, and closed places to erase."""
    return _page(request, session)


@router.get("/api/review", response_model=ReviewQueuePublic)
def review_json(request: Request, response: Response, scope: UserScope) -> ReviewQueuePublic:
    """Places due for review today, most overdue first."""
    today = utcnow().date()
    with request.app.state.store.connect() as conn:
        queue = review.review_queue(conn, today=today, scope=scope)
    response.headers.update(NO_STORE)
    data = [QueueItem.model_validate(row) for row in paging.records(queue)]
    returned(request, {"places": len(data)})
    return ReviewQueuePublic(today=today, data=data, count=len(data))


@router.post("/api/places/{place_id}/review", response_model=ReviewPublic)
def review_place(request: Request, session: CurrentSession, place_id: PlaceId,
                 body: ReviewRequest) -> ReviewPublic:
    """Record a review decision on a place (retain, lower or close) and apply it."""
    done = review.decide(request.app.state.store, place_id, decision=body.decision,
                         reason=body.reason, new_level=body.new_level,
                         next_review_due=body.next_review_due, **_who(request, session))
    return ReviewPublic.model_validate(done)


def _form_values(new_level: str, next_review_due: str) -> tuple[int | None, dt.date | None]:
    """The optional form fields, empty meaning unset; `ReviewError` for bad text."""
    try:
        level = int(new_level) if new_level.strip() else None
    except ValueError:
        msg = f"new_level: expected a MACE level from 1 to 4, got {new_level!r}"
        raise review.ReviewError(msg) from None
    try:
        due = dt.date.fromisoformat(next_review_due) if next_review_due.strip() else None
    except ValueError:
        msg = f"next_review_due: {next_review_due!r} is not a date; use YYYY-MM-DD"
        raise review.ReviewError(msg) from None
    wrong = out_of_range(due, "next_review_due") if due else None
    if wrong:
        raise review.ReviewError(wrong)
    return level, due


@router.post("/api/places/{place_id}/review/form", response_class=HTMLResponse)
def review_place_form(
    request: Request, session: CurrentSession, place_id: PlaceId,
    decision: Annotated[str, Form(max_length=8)],
    reason: Annotated[str, Form(max_length=review.MAX_REASON)] = "",
    new_level: Annotated[str, Form(max_length=2)] = "",
    next_review_due: Annotated[str, Form(max_length=10)] = "",
    csrf_token: Annotated[str, Form(max_length=64)] = "",  # checked by api.auth.authorize
) -> Response:
    """Record a review decision from the review page's form, then go back to the page."""
    try:
        level, due = _form_values(new_level, next_review_due)
        review.decide(request.app.state.store, place_id, decision=decision, reason=reason,
                      new_level=level, next_review_due=due, **_who(request, session))
    except (review.ReviewError, errors.NotFoundError) as exc:
        return _refused(request, session, exc)
    return RedirectResponse("/review", status_code=303)


@router.post("/api/places/{place_id}/erase", response_model=ErasedPublic)
def erase_place(request: Request, session: CurrentSession, place_id: PlaceId) -> Any:
    """Erase a closed place: hidden from every view at once, purged after the retention period."""
    store = request.app.state.store
    if not _is_form(request):
        return ErasedPublic(source_id=place_id,
                            erased_at=review.erase(store, place_id, **_who(request, session)))
    try:
        review.erase(store, place_id, **_who(request, session))
    except (review.ReviewError, errors.NotFoundError) as exc:
        return _refused(request, session, exc)
    return RedirectResponse("/review", status_code=303)
