"""The patrol view of one ward: its target cells, radio labels and visiting order."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd
import sqlalchemy as sa
from shapely.geometry.base import BaseGeometry

from api.settings import Settings
from layers import errors
from layers.action.patrol.cells import DEFAULT_TOP, patrol_cells
from layers.hotspots import read as hotspots_read
from layers.records import read as records_read
from layers.store.engine import Store
from layers.store.scope import Scope
from maps.patrol import build_patrol_map
from maps.view import render_html

PATROL_NOTICE = ("This run counts patrol-discovered records in its scores: patrols may be "
                 "sent back where patrols already looked")


NO_RUN_HINT = "no scoring run yet: run `placerisk score` first"


SHOWN_CODES = 10


@dataclass(frozen=True)
class PatrolView:
    """Everything the patrol view of one ward shows, read from the store."""

    ward_code: str
    plan: pd.DataFrame
    geometry: BaseGeometry | None
    run_id: int
    as_of: dt.date
    includes_patrol: bool
    demo: str | None  # the demo-data notice, if any
    period: str | None  # what the run covers (layers.hotspots.read.run_period)


def _ward_geometry(conn: sa.Connection, ward_code: str, scope: Scope) -> BaseGeometry | None:
    """The ward's boundary; `NotFoundError` saying how to find codes if it is not loaded.

    A ward out of ``scope`` (`layers.store.scope`) is not loaded, as far as the reader can tell.
    """
    found, _ = records_read.areas(conn, scope=scope, code=ward_code)
    if found.empty:
        areas, _ = records_read.areas(conn, scope=scope, geometry=False)
        codes = areas["code"].astype(str).tolist()
        known = (f"; loaded wards include {', '.join(codes[:SHOWN_CODES])}" if codes
                 else "; no ward boundaries are loaded yet (`placerisk boundaries load`)")
        msg = (f"ward {ward_code!r} is not a loaded area{known}. GET /api/areas lists every "
               "ward code and GET /api/wards/ranking the scored ones")
        raise errors.NotFoundError(msg)
    return found.geometry.iloc[0]


def load_patrol(conn: sa.Connection, *, ward_code: str, top: int = DEFAULT_TOP,
                seed: int | None = None, scope: Scope = None) -> PatrolView:
    """Read the newest run's cells of a ward and plan the patrol view.

    Raises
    ------
    layers.errors.NotFoundError
        If the ward is not a loaded area (of ``scope``, the authorities the reader may see,
        `layers.store.scope`) or nothing has been scored yet.
    layers.errors.ParameterError
        If ``top`` is out of range.
    """
    geometry = _ward_geometry(conn, ward_code, scope)
    newest = hotspots_read.runs(conn, limit=1).rows
    if newest.empty:
        raise errors.NotFoundError(NO_RUN_HINT)
    run = newest.iloc[0]
    cells = hotspots_read.cells(conn, ward_code=ward_code, run_id=int(run["id"]), scope=scope).rows
    try:
        plan = patrol_cells(cells, ward_code=ward_code, top=top, seed=seed)
    except ValueError as exc:
        raise errors.ParameterError(str(exc)) from exc
    return PatrolView(
        ward_code=ward_code, plan=plan, geometry=geometry, run_id=int(run["id"]),
        as_of=run["as_of"], demo=records_read.demo_notice(conn),
        period=hotspots_read.run_period(conn, int(run["id"])),
        includes_patrol=bool(run["params"].get("weights", {}).get("include_patrol", False)))


def _notice(view: PatrolView) -> str | None:
    notices = (view.demo, PATROL_NOTICE if view.includes_patrol else None, view.period)
    return "; ".join(n for n in notices if n) or None


def render_patrol_html(store: Store, settings: Settings, *, ward_code: str,
                       top: int = DEFAULT_TOP, seed: int | None = None,
                       standalone: bool = False, scope: Scope = None) -> str:
    """Render the patrol view of a ward as a page; ``standalone`` embeds Leaflet (for a file).

    Raises
    ------
    layers.errors.NotFoundError
        If the ward is not a loaded area or nothing has been scored yet.
    layers.errors.ParameterError
        If ``top`` is out of range (1 to `layers.action.patrol.cells.MAX_TOP`).
    """
    with store.connect() as conn:
        view = load_patrol(conn, ward_code=ward_code, top=top, seed=seed, scope=scope)
    m = build_patrol_map(view.plan, view.geometry,
                         tiles=settings.tiles if settings.tiles_enabled else None,
                         attribution=settings.attribution, ward_code=view.ward_code,
                         notice=_notice(view), independent=not view.includes_patrol,
                         plan_form=not standalone)
    # the ward's code, not its (imported) name: the view holds cells and labels only
    return render_html(m, standalone=standalone, title=f"Patrol view: ward {view.ward_code}")
