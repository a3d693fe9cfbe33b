"""Pydantic models of the API's JSON (the only place pydantic is used).

``*Public`` models are what the API returns; lists come as ``{data, count}`` where ``count``
is the number of rows matching the filters, not the length of the page. A place's free-text
``notes`` are intelligence and have no field here, so no list endpoint can return them.
"""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field


class _Public(BaseModel):
    model_config = ConfigDict(extra="ignore")


class PlacePublic(_Public):
    """A place of concern, without its notes."""

    id: int
    source_id: str
    name: str
    category: str
    address: str | None = None
    postcode: str | None = None
    lat: float | None = None
    lng: float | None = None
    h3_cell: str | None = None
    ward_code: str | None = None
    outside_areas: bool = False
    mace_level: int = Field(ge=1, le=4)
    level_name: str
    exploitation_types: str | None = None
    source_agency: str | None = None
    assessed_on: dt.date | None = None
    review_due: dt.date | None = None
    status: str


class PlacesPublic(_Public):
    """One page of places."""

    data: list[PlacePublic]
    count: int


class ActivityPublic(_Public):
    """A disruption activity."""

    id: int
    source_id: str
    activity_type: str
    started_at: dt.datetime
    ended_at: dt.datetime | None = None
    place_id: int | None = None
    postcode: str | None = None
    located_by: str
    lat: float | None = None
    lng: float | None = None
    h3_cell: str | None = None
    ward_code: str | None = None
    outside_areas: bool = False
    agency: str | None = None
    outcome: str | None = None
    jag_ref: str | None = None


class ActivitiesPublic(_Public):
    """One page of activities."""

    data: list[ActivityPublic]
    count: int


class AreaPublic(_Public):
    """A loaded area (ward); its boundary is served by ``/api/areas.geojson``."""

    code: str
    name: str
    authority_code: str
    authority_name: str
    vintage: str


class AreasPublic(_Public):
    """One page of areas."""

    data: list[AreaPublic]
    count: int


class CellPublic(_Public):
    """One H3 cell of a scoring run: current score, hot spot category and trend."""

    h3_cell: str
    score: float
    category: str
    label: str
    z_last: float
    trend_z: float
    ward_code: str | None = None
    as_of: dt.date
    run_id: int


class CellsPublic(_Public):
    """One page of cell scores."""

    data: list[CellPublic]
    count: int


class Health(_Public):
    """Liveness and the store in use."""

    status: str
    database: str
