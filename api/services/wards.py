"""The ward pages: a ward's profile, its map and the measured effect of its activities."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd

from api.results import ResultCache
from api.services.shown import Shown
from api.settings import Settings
from layers import errors
from layers.action.outcomes.measures import VERDICT_NAMES
from layers.hotspots import read as hotspots_read
from layers.hotspots.read import latest_run_id, read_run, read_run_wards
from layers.records import read as records_read
from layers.store.engine import Store
from layers.store.scope import Scope
from maps.view import build_map, render_html
from maps.ward import ward_page_html


def _ward_area(conn: Any, ward_code: str, scope: Scope) -> pd.DataFrame:
    """The ward's area; `NotFoundError` if it is not loaded or out of ``scope``."""
    ward, _ = records_read.areas(conn, scope=scope, code=ward_code)
    if ward.empty:
        msg = f"no ward {ward_code!r} is loaded; see /wards for the codes"
        raise errors.NotFoundError(msg)
    return ward


def render_ward_map_html(store: Store, settings: Settings, ward_code: str, *,
                         standalone: bool = False, scope: Scope = None) -> str:
    """The map of one ward: its outline, its cells of the newest run and its places.

    ``scope``: the authorities the reader may see (`layers.store.scope`); a ward of another is
    not found.
    """
    return render_ward_map(store, settings, ward_code, standalone=standalone,
                           scope=scope).html


def render_ward_map(store: Store, settings: Settings, ward_code: str, *,
                    standalone: bool = False, scope: Scope = None) -> Shown:
    """`render_ward_map_html`, with the number of places the map shows."""
    with store.connect() as conn:
        ward = _ward_area(conn, ward_code, scope)
        cells = hotspots_read.cells(conn, ward_code=ward_code, scope=scope).rows
        places = records_read.places(conn, ward_code=ward_code, scope=scope).rows
        demo = records_read.demo_notice(conn)
    m = build_map(ward, cells, places, tiles=settings.tiles if settings.tiles_enabled else None,
                  attribution=settings.attribution, notice=demo)
    title = f"{ward['name'].iloc[0]} ({ward_code}): ward map"
    return Shown(render_html(m, standalone=standalone, title=title), {"places": len(places)})


def _profile(conn: Any, ward: pd.DataFrame, scope: Scope
             ) -> tuple[dict[str, Any], list[float], list[str]]:
    row = ward.iloc[0]
    profile: dict[str, Any] = {"code": row["code"], "name": row["name"],
                               "authority_name": row["authority_name"]}
    run_id = latest_run_id(conn)
    if run_id is None:
        return profile, [], []
    run = read_run(conn, run_id, step_table=True)
    meta, ranking = hotspots_read.ward_ranking(conn, run_id=run_id, scope=scope)
    wards = read_run_wards(conn, run_id)
    mine = ranking[ranking["ward_code"] == row["code"]]
    series = wards.loc[wards["ward_code"] == row["code"], "score_series"]
    profile |= {"wards": len(ranking), "as_of": str(meta["as_of"])}
    if not mine.empty:
        first = mine.iloc[0]
        profile |= {"rank": int(first["rank"]), "current": float(first["current"]),
                    "direction": first["direction"],
                    "patrol_share": float(first["patrol_share"])}
    labels = [str(d) for d in run["steps"]["start"]]
    return profile, (list(series.iloc[0]) if len(series) else []), labels


def measured_effects(store: Store, activities: pd.DataFrame, *,
                     as_of: dt.date | None = None, cache: ResultCache | None = None
                     ) -> list[str]:
    """Each activity's measured effect on independent reports as of ``as_of`` (default today).

    The words of the outcome table (`api.services.outcomes.outcome_tables`, from ``cache``):
    the verdict's name and sentence, or its progress while the after window runs.
    """
    from api.services.outcomes import outcome_tables  # the cached table

    if activities.empty:
        return []
    table, _, _ = outcome_tables(store, as_of=as_of, cache=cache)
    if table.empty:
        return ["not measured"] * len(activities)
    rows = table[table["level"] == "activity"].set_index("id")
    out = []
    for source_id in activities["source_id"]:
        if source_id not in rows.index:
            out.append("not measured (no location)")
            continue
        row = rows.loc[source_id]
        code = str(row["reports_code"])
        out.append(f"{VERDICT_NAMES.get(code, code)}: {row['reports_verdict']}")
    return out


def render_ward_html(store: Store, settings: Settings, ward_code: str, *,
                     standalone: bool = False, as_of: dt.date | None = None,
                     scope: Scope = None) -> str:
    """The ward profile page; ``standalone`` embeds the map instead of linking to it.

    Activities' measured effects are read as of ``as_of`` (default today). ``scope``: the
    authorities the reader may see (`layers.store.scope`): a ward of another is not found, and
    the ward's rank is among the wards in scope.
    """
    return render_ward(store, settings, ward_code, standalone=standalone, as_of=as_of,
                       scope=scope).html


def render_ward(store: Store, settings: Settings, ward_code: str, *,
                standalone: bool = False, as_of: dt.date | None = None,
                free_text: bool = True, scope: Scope = None,
                cache: ResultCache | None = None) -> Shown:
    """`render_ward_html`, with the number of places and activities the page shows.

    Without ``free_text`` (a police officer's page) activities show no outcome. The outcome
    table comes from ``cache`` (`api.services.outcomes.outcome_tables`).
    """
    with store.connect() as conn:
        ward = _ward_area(conn, ward_code, scope)
        profile, series, labels = _profile(conn, ward, scope)
        places = records_read.places(conn, ward_code=ward_code, scope=scope).rows
        cells = hotspots_read.cells(conn, ward_code=ward_code, scope=scope).rows
        activities = records_read.activities(conn, ward_code=ward_code, limit=50, scope=scope).rows
        demo = records_read.demo_notice(conn)
        period = hotspots_read.run_period(conn)
    activities = activities.assign(measured=measured_effects(store, activities, as_of=as_of,
                                                            cache=cache))
    if not free_text:
        activities = activities.drop(columns="outcome")
    embedded = render_ward_map_html(store, settings, ward_code, standalone=True,
                                    scope=scope) if standalone else None
    html = ward_page_html(profile, series=series, step_labels=labels, places=places,
                          cells=cells, activities=activities,
                          map_src=None if standalone else f"/wards/{ward_code}/map",
                          map_html=embedded, notice=demo, period=period)
    return Shown(html, {"places": len(places), "activities": len(activities)})
