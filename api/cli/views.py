"""``placerisk map``: a view of the app written as one standalone HTML file.

The views are rendered by `api.services`, as the app renders them; the app itself (FastAPI)
is never imported to write a file.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from api.cli._common import fail, map_settings, with_store
from layers.records.places import CATEGORIES, EXPLOITATION_TYPES
from layers.store.engine import Store

if TYPE_CHECKING:
    from api.settings import Settings
    from layers.records.filters import MapFilter

VIEWS = ("jag", "ward", "patrol", "guardian")


@click.command("map")
@click.option("--view", type=click.Choice(VIEWS), default="jag", show_default=True,
              help="jag: the analysts' map; ward: one ward's profile page; patrol: the cells "
                   "a police team should visit in a ward; guardian: the coarse, suppressed "
                   "view for community guardian volunteers.")
@click.option("--ward", "ward_code", metavar="CODE", help="Ward code, for --view ward|patrol.")
@click.option("--top", type=click.IntRange(1, 20), default=8, show_default=True,
              help="Cells to visit, for --view patrol.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="The HTML file to write.")
@click.option("--from", "date_from", type=click.DateTime(["%Y-%m-%d"]), metavar="YYYY-MM-DD",
              help="--view jag: activities, reports and crime from this day.")
@click.option("--to", "date_to", type=click.DateTime(["%Y-%m-%d"]), metavar="YYYY-MM-DD",
              help="--view jag: ... up to this day.")
@click.option("--type", "exploitation_type", type=click.Choice(EXPLOITATION_TYPES),
              help="--view jag: places and reports of this exploitation type.")
@click.option("--category", type=click.Choice(CATEGORIES),
              help="--view jag: places of this category (and their reports, activities).")
@click.option("--authority", metavar="CODE",
              help="--view jag: the wards of this authority (e.g. E06000004).")
@with_store
def map_(store: Store, view: str, ward_code: str | None, top: int, out: Path, **narrow: Any
         ) -> None:
    """Write a view as a standalone HTML file (Leaflet inside; no server, no CDN).

    The jag view takes filters; the map then opens on the concern reports they match.
    """
    from layers.records.filters import FilterError, MapFilter

    settings = map_settings()
    if view in ("ward", "patrol") and not ward_code:
        fail(f"--view {view} needs --ward CODE (see `placerisk status` for the codes)", 2)
    days = {k: v.date() if v else None for k, v in narrow.items() if k.startswith("date")}
    try:
        within = MapFilter(**days, exploitation_type=narrow["exploitation_type"],
                           place_category=narrow["category"],
                           authority_code=narrow["authority"])
    except FilterError as exc:
        fail(f"{exc}", 2)
    if within.active and view != "jag":
        fail("--from, --to, --type, --category and --authority apply to --view jag only", 2)
    html = _render_view(store, settings, view, str(ward_code), top, within)
    out.write_text(html, encoding="utf-8")
    click.echo(f"wrote {out} ({len(html.encode()) / 1e6:.1f} MB)")


def _render_view(store: Store, settings: Settings, view: str, ward_code: str, top: int,
                 within: MapFilter) -> str:
    from api.services.guardian import render_guardian_html
    from api.services.map import render_map_html
    from api.services.patrol import render_patrol_html
    from api.services.wards import render_ward_html

    if view == "ward":
        return render_ward_html(store, settings, ward_code, standalone=True)
    if view == "patrol":
        return render_patrol_html(store, settings, ward_code=ward_code, top=top,
                                  standalone=True)
    if view == "guardian":
        return render_guardian_html(store, settings, standalone=True)
    return render_map_html(store, settings, standalone=True, within=within)
