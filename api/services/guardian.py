"""The guardian view: what community guardian coordinators may see, made once per data change."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd
import sqlalchemy as sa

from api.page_cache import PageCache
from api.schemas import GuardianCell, GuardianCellsPublic
from api.settings import Settings, base_map
from layers.access import disclosure
from layers.hotspots import read as hotspots_read
from layers.hotspots.cube import make_steps
from layers.hotspots.inputs import study_grid
from layers.records import read as records_read
from layers.store import paging
from layers.store.engine import Store
from layers.store.scope import Scope
from maps.guardian import build_guardian_map
from maps.view import render_html

PLACE_FIELDS = ["id", "h3_cell", "mace_level", "status", "category", "lat", "lng"]


@dataclass(frozen=True)
class GuardianView:
    """Everything a guardian sees, already disclosure-controlled."""

    cells: pd.DataFrame
    protective: pd.DataFrame
    k: int
    period: tuple[dt.date, dt.date] | None


def guardian_k(settings: Settings) -> int:
    """The suppression threshold: ``settings.guardian_k`` if set, else 5; refuses k < 3."""
    return disclosure.check_k(getattr(settings, "guardian_k", disclosure.DEFAULT_K))


def _period_values(conn: sa.Connection, scope: Scope = None
                   ) -> tuple[pd.DataFrame | None, tuple[dt.date, dt.date] | None]:
    """The newest run's cell values (in ``scope``) summed over its newest complete period."""
    run_id = hotspots_read.latest_run_id(conn)
    if run_id is None:
        return None, None
    run = hotspots_read.read_run(conn, run_id, step_table=True)
    steps = make_steps(run["as_of"], kind=run["step"], count=run["n_steps"])
    period = disclosure.fixed_period(steps, as_of=run["as_of"])
    if period is None:
        return None, None
    cells = hotspots_read.read_run_cells(conn, run_id, series=True, scope=scope)
    series = np.array(cells["values_series"].tolist(), dtype=float).reshape(len(cells),
                                                                           len(steps))
    values = disclosure.period_values(cells["h3_cell"].to_numpy(dtype=object), series, period)
    first = steps.starts[period][0].astype(dt.date)
    last = (steps.ends[period][-1] - 1).astype(dt.date)
    return values, (first, last)


def guardian_view(store: Store, settings: Settings, *, scope: Scope = None) -> GuardianView:
    """Read the store and apply `layers.access.disclosure`: the only way guardian data is made.

    ``scope``: the authorities the guardian may see (`layers.store.scope`): their places, the
    grid over their wards and the scores of their cells only.
    """
    k = guardian_k(settings)
    with store.connect() as conn:
        places = records_read.places(conn, scope=scope).rows[PLACE_FIELDS]
        grid = study_grid(conn, resolution=disclosure.GUARDIAN_RESOLUTION, authorities=scope)
        values, period = _period_values(conn, scope)
    cells = disclosure.guardian_cells(places, values, k=k, grid=grid if len(grid) else None)
    return GuardianView(cells, disclosure.protective_places(places), k, period)


def render_guardian_html(store: Store, settings: Settings, *, standalone: bool = False,
                         scope: Scope = None) -> str:
    """The guardian map page (``placerisk map --view guardian``); ``standalone`` embeds Leaflet."""
    view = guardian_view(store, settings, scope=scope)
    with store.connect() as conn:
        # public boundaries: the bearings without a base map
        areas, _ = records_read.areas(conn, scope=scope)
    period = None if view.period is None else f"{view.period[0]} to {view.period[1]}"
    m = build_guardian_map(view.cells, view.protective, tiles=base_map(settings.guardian_tiles),
                           attribution=settings.attribution, k=view.k, period=period,
                           areas=areas)
    return render_html(m, standalone=standalone, title="placerisk: guardian view")


def guardian_payload(store: Store, settings: Settings, *,
                     scope: Scope = None) -> GuardianCellsPublic:
    """The guardian grid (of ``scope``, `layers.store.scope`) as the JSON model."""
    view = guardian_view(store, settings, scope=scope)
    data = [GuardianCell.model_validate(row) for row in paging.records(view.cells)]
    start, end = view.period if view.period is not None else (None, None)
    return GuardianCellsPublic(resolution=disclosure.GUARDIAN_RESOLUTION, k=view.k,
                               bands=disclosure.band_labels(view.k), period_start=start,
                               period_end=end, data=data, count=len(data))


def guardian_json(store: Store, settings: Settings, cache: PageCache, *,
                  scope: Scope = None) -> bytes:
    """`guardian_payload` as JSON bytes, made once per data fingerprint, k and scope.

    The grid took about 120 ms (400 ms on a store of 476,000 reports) and was made again
    on every request; it is now kept in ``cache`` (`api.page_cache`), whose fingerprint
    covers the places, areas and scoring runs it is made from, under the threshold k and
    the caller's data scope (`layers.store.scope`; ``None``: every authority), so that two
    callers with different scopes never share an answer.
    """
    key = (guardian_k(settings), None if scope is None else tuple(sorted(scope)))
    return cache.page(store, "guardian.json", key, lambda: guardian_payload(
        store, settings, scope=scope).model_dump_json().encode("utf-8"))
