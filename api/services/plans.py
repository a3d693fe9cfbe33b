"""Patrol plans for a shift: loaded from the store and rendered as HTML, PDF, GPX or KML."""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import pandas as pd
import sqlalchemy as sa

from api.services.patrol import load_patrol
from geo.crs import WGS84
from layers import errors
from layers.action.patrol.cells import DEFAULT_TOP
from layers.action.patrol.formats import to_gpx, to_kml
from layers.action.patrol.shift import (
    PatrolPlan,
    plan_shift,
    plan_to_dict,
    plan_vs_done,
)
from layers.dates import parse_day
from layers.hotspots import read as hotspots_read
from layers.records import read as records_read
from layers.store import paging
from layers.store.scope import Scope
from maps.plan_page import html_to_pdf, plan_map_png, plan_page_html

STREET_PATROL = "street_patrol"


DEFAULT_START = "18:00"


MEDIA_TYPES = {
    "html": "text/html; charset=utf-8", "pdf": "application/pdf",
    "gpx": "application/gpx+xml", "kml": "application/vnd.google-earth.kml+xml",
    "json": "application/json",
}


@dataclass(frozen=True)
class LoadedPlan:
    """A plan read from the store, with what the page and the JSON show beside it."""

    plan: PatrolPlan
    done: pd.DataFrame
    ward_name: str
    areas: gpd.GeoDataFrame
    independent: bool
    run_id: int
    as_of: dt.date
    demo: str | None  # the demo-data notice, if any


def parse_date(text: str) -> dt.date:
    """The shift's ``date``: `layers.dates.parse_day` naming it."""
    return parse_day(text, "date")


def parse_start(text: str) -> dt.time:
    """Read a ``HH:MM`` clock time (00:00 to 23:59); `ParameterError` if not.

    Examples
    --------
    >>> parse_start("18:30")
    datetime.time(18, 30)
    """
    if not re.fullmatch(START_PATTERN, text):
        msg = f"start: {text!r} is not a time of day; use HH:MM from 00:00 to 23:59"
        raise errors.ParameterError(msg)
    return dt.time.fromisoformat(text)


def _ward_name(conn: sa.Connection, ward_code: str) -> str:
    ward, _ = records_read.areas(conn, geometry=False, code=ward_code)
    names = ward["name"]
    return "" if names.empty or pd.isna(names.iloc[0]) else str(names.iloc[0])


def load_plan(conn: sa.Connection, *, ward_code: str, date: dt.date,
              start: dt.time = dt.time(18, 0), hours: float = 8, officers: int = 1,
              top: int = DEFAULT_TOP, scope: Scope = None) -> LoadedPlan:
    """Plan a shift from the newest scoring run and compare it with the patrols recorded.

    Raises
    ------
    layers.errors.NotFoundError
        If the ward is not a loaded area (of ``scope``, the authorities the planner may
        see, `layers.store.scope`) or nothing has been scored yet.
    layers.errors.ParameterError
        If a shift input is out of range (see `layers.action.patrol.shift.plan_shift`).
    """
    # the ward exists (for this reader) and a run too
    view = load_patrol(conn, ward_code=ward_code, top=1, scope=scope)
    cells = hotspots_read.cells(conn, ward_code=ward_code, run_id=view.run_id, scope=scope).rows
    try:
        plan = plan_shift(cells, ward_code=ward_code, date=date, start=start, hours=hours,
                          officers=officers, top=top)
    except ValueError as exc:
        raise errors.ParameterError(str(exc)) from exc
    patrols = records_read.activities(conn, ward_code=ward_code, activity_type=STREET_PATROL,
                                 scope=scope).rows
    geometry = [] if view.geometry is None else [view.geometry]
    return LoadedPlan(
        plan=plan, done=plan_vs_done(plan, patrols), ward_name=_ward_name(conn, ward_code),
        areas=gpd.GeoDataFrame(geometry=geometry, crs=WGS84),
        independent=not view.includes_patrol, run_id=view.run_id, as_of=view.as_of,
        demo=view.demo)


def plan_json(loaded: LoadedPlan) -> dict[str, Any]:
    """The plan as JSON-ready data: `plan_to_dict` plus the run and done-against-planned."""
    return {
        **plan_to_dict(loaded.plan), "ward_name": loaded.ward_name, "run_id": loaded.run_id,
        "as_of": loaded.as_of.isoformat(),
        "score_includes_patrol_records": not loaded.independent,
        "done": paging.records(loaded.done),
    }


def plan_html(loaded: LoadedPlan) -> str:
    """The printable page of the plan, its map embedded."""
    return plan_page_html(
        loaded.plan, ward_name=loaded.ward_name, done=loaded.done,
        map_png=plan_map_png(loaded.plan, areas=loaded.areas),
        independent=loaded.independent, as_of=loaded.as_of,
        notice=loaded.demo)


def render_plan(loaded: LoadedPlan, fmt: str) -> tuple[bytes, str, str]:
    """The plan as ``(content, media type, file name)`` in ``fmt`` (a `MEDIA_TYPES` key)."""
    if fmt not in MEDIA_TYPES:
        msg = f"format {fmt!r} is not one of {', '.join(MEDIA_TYPES)}"
        raise ValueError(msg)
    if fmt == "json":
        text = json.dumps(plan_json(loaded), indent=2) + "\n"
    elif fmt == "gpx":
        text = to_gpx(loaded.plan)
    elif fmt == "kml":
        text = to_kml(loaded.plan)
    else:
        text = plan_html(loaded)
    content = html_to_pdf(text) if fmt == "pdf" else text.encode("utf-8")
    return content, MEDIA_TYPES[fmt], f"{loaded.plan.plan_id}.{fmt}"


DATE_PATTERN = r"^\d{4}-\d{2}-\d{2}$"


START_PATTERN = r"^([01]\d|2[0-3]):[0-5]\d$"
