"""The JAG map page, rendered once per data change, filter and reader."""

from __future__ import annotations

import pandas as pd

from api.services import shown
from api.settings import Settings
from layers import errors
from layers.hotspots import read as hotspots_read
from layers.records import filters
from layers.records import read as records_read
from layers.records.filters import MapFilter
from layers.store.engine import Store
from layers.store.scope import Scope
from maps.filters import filter_panel_html
from maps.view import build_map, render_html


def render_map_html(store: Store, settings: Settings, *, standalone: bool = False,
                    client: bool | None = None, within: MapFilter | None = None,
                    scope: Scope = None) -> str:
    """Render the JAG map (wards by rank, cell scores, places, activities, police.uk crime).

    ``standalone`` embeds Leaflet; ``client`` chooses how cells are drawn (see
    `maps.view.build_map`); ``within`` narrows the map (see `layers.records.filters`) and adds the
    layer of the concern reports it matches; ``scope`` keeps the authorities a reader may
    see (`layers.store.scope`).
    """
    return render_map(store, settings, standalone=standalone, client=client,
                      within=within, scope=scope).html


def render_map(store: Store, settings: Settings, *, standalone: bool = False,
               client: bool | None = None, within: MapFilter | None = None,
               free_text: bool = True, scope: Scope = None) -> shown.Shown:
    """`render_map_html`, with the number of places and activities the map shows.

    Without ``free_text`` (a police officer's map) activities show no outcome.
    """
    within = within or MapFilter()
    with store.connect() as conn:
        areas, _ = records_read.areas(conn, scope=scope)
        wards = filters.ward_authorities(areas)
        authorities = dict(zip(areas["authority_code"], areas["authority_name"], strict=True))
        cells = hotspots_read.cells(conn, scope=scope).rows
        places = records_read.places(conn, scope=scope).rows
        activities = records_read.activities(conn, scope=scope).rows
        incidents = records_read.incident_cells(conn, within=within, wards=wards, scope=scope)
        reports = (records_read.report_cells(conn, within, wards, scope=scope) if within.active
                   else None)
        step_labels, states = hotspots_read.cell_states(conn, scope=scope)
        try:
            ranking: pd.DataFrame | None = hotspots_read.ward_ranking(conn, scope=scope)[1]
        except errors.NotFoundError:  # no scoring run yet: ward outlines only
            ranking = None
        demo = records_read.demo_notice(conn)
        period = hotspots_read.run_period(conn)
    if not free_text:
        activities = activities.assign(outcome=None)
    if within.active:
        activities = filters.filter_activities(activities, within, wards, places)
        places = filters.filter_places(places, within, wards)
        cells = filters.filter_by_authority(cells, within, wards)
        areas = filters.filter_by_authority(areas, within, wards, column="code")
        if ranking is not None:
            ranking = filters.filter_by_authority(ranking, within, wards)
    panel = filter_panel_html(within, authorities=dict(sorted(authorities.items())),
                              interactive=not standalone)
    m = build_map(areas, cells, places, ranking=ranking, activities=activities,
                  incidents=incidents, states=states, step_labels=step_labels,
                  tiles=settings.tiles if settings.tiles_enabled else None,
                  attribution=settings.attribution, reports=reports, filter_panel=panel,
                  notice=demo, client=client, period=period)
    return shown.Shown(render_html(m, standalone=standalone, title="placerisk: JAG map"),
                             {"places": len(places), "activities": len(activities)})
