"""Pydantic models of the API's JSON (the only place pydantic is used).

``*Public`` models are what the API returns; lists come as ``{data, count}`` where ``count``
is the number of rows matching the filters, not the length of the page. A place's free-text
``notes`` are intelligence and have no field here, so no list endpoint can return them.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, WithJsonSchema

from layers.dates import checked_day


def _utc(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


# A moment the store keeps in UTC (SQLite hands it back without its zone): sent with "Z".
UtcDateTime = Annotated[dt.datetime, AfterValidator(_utc)]
# A wall-clock time as recorded (activities, patrol plans): no UTC offset, so the schema
# must not call it an RFC 3339 "date-time", which requires one.
LocalDateTime = Annotated[dt.datetime, WithJsonSchema({
    "type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?$",
    "description": "Local date and time as recorded, without a UTC offset."})]


# A day a user gives: refused (422) outside layers.dates' range, such as 9999-12-31.
Day = Annotated[dt.date, AfterValidator(checked_day)]


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
    version: int = Field(default=1, description="Goes up by one at every change: an edit "
                                                "names the version it was made from.")


class LevelChange(_Public):
    """One change of a place's MACE level."""

    changed_on: dt.date
    from_level: int | None = None
    to_level: int
    reason: str | None = Field(
        default=None, description="Why, in the analyst's words: analysts and admins only "
                                  "(free text, like notes); null for other roles.")
    decided_by: str | None = Field(default=None, description="Who decided (an account).")
    decision_ref: str | None = Field(default=None, description="The MACE meeting or triage "
                                                               "note it was decided in.")


class PlaceActivity(_Public):
    """A disruption activity at a place."""

    started_at: LocalDateTime
    activity_type: str
    agency: str | None = None
    outcome: str | None = Field(
        default=None, description="What came of it, in the partners' words: analysts and "
                                  "admins only (free text, like notes); null for other roles.")


class PlaceDetail(PlacePublic):
    """A place with its level history and latest activities (never its notes)."""

    levels: list[LevelChange]
    activities: list[PlaceActivity]


class PlacesPublic(_Public):
    """One page of places."""

    data: list[PlacePublic]
    count: int


class ActivityPublic(_Public):
    """A disruption activity."""

    id: int
    source_id: str
    activity_type: str
    started_at: LocalDateTime
    ended_at: LocalDateTime | None = None
    place_id: int | None = None
    postcode: str | None = None
    located_by: str
    lat: float | None = None
    lng: float | None = None
    h3_cell: str | None = None
    ward_code: str | None = None
    outside_areas: bool = False
    agency: str | None = None
    outcome: str | None = Field(
        default=None, description="What came of it, in the partners' words: analysts and "
                                  "admins only (free text, like notes); null for other roles.")
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


class SourcePeriod(_Public):
    """First and last day of one source's records."""

    first: dt.date
    last: dt.date


class CoveredPublic(_Public):
    """The period a run's data cover; the run scores only the steps inside it."""

    first: dt.date = Field(description="First day of the scored window.")
    last: dt.date = Field(description="Last day of the scored window.")
    sources: dict[str, SourcePeriod] = Field(
        description="Per source (reports, incidents): its first and last record's day.")
    steps_asked: int
    steps_scored: int = Field(description="Fewer than asked when the data begin later.")
    missing_months: list[str] = Field(
        default_factory=list,
        description="police.uk months (YYYY-MM) between the first and last loaded with no "
        "crime imported: they count as months without crime.")


class RunPublic(_Public):
    """A stored scoring run and every parameter that produced it (the weights included)."""

    id: int
    as_of: dt.date
    known_by: UtcDateTime = Field(description="Records stored after this were left out.")
    created_at: UtcDateTime
    step: str
    n_steps: int
    k: int
    fingerprint: str
    resolution: int
    params: dict[str, Any]
    n_cells: int = Field(description="Cells near data (scored one by one).")
    grid_size: int = Field(description="Cells in the study grid.")
    reused_steps: int
    duration_s: float
    covered: CoveredPublic | None = Field(
        default=None, description="The period the data cover; null for runs stored before "
                                  "placerisk recorded it.")


class RunsPublic(_Public):
    """One page of scoring runs, newest first."""

    data: list[RunPublic]
    count: int


class RunDetail(RunPublic):
    """A scoring run with the start date of each of its steps."""

    steps: list[dt.date]


class TrendPublic(_Public):
    """Mann-Kendall trend of a series: z, p, Sen's slope and its direction."""

    z: float
    p: float
    slope: float
    direction: Literal["increasing", "decreasing", "no trend"]


class SourceScores(_Public):
    """Current contributions of the independent sources."""

    reports: float
    incidents: float
    places: float


class SourceParts(SourceScores):
    """Current contributions by source, patrol-discovered records apart."""

    patrol: float


class CellStep(_Public):
    """One time step of a cell: its value, Gi* z and p, and significance after correction."""

    start: dt.date
    value: float
    z: float
    p: float
    significant: bool


class CellDetail(_Public):
    """One cell of a scoring run."""

    run_id: int
    as_of: dt.date
    covered: CoveredPublic | None = None
    h3_cell: str
    ward_code: str | None = None
    category: str
    label: str
    current: float
    parts: SourceParts
    patrol_share: float
    trend: TrendPublic
    steps: list[CellStep]


class CategoryCount(_Public):
    """Cells of one emerging hot spot category."""

    category: str
    cells: int
    support_cells: int = Field(description="Cells with data or next to it.")
    background_cells: int = Field(description="Empty cells far from data.")


class CategoriesPublic(_Public):
    """Cells per category in a run, in display order (hot spots first)."""

    run_id: int
    as_of: dt.date
    covered: CoveredPublic | None = None
    data: list[CategoryCount]
    count: int


class WardRank(_Public):
    """One ward of a run's ranking."""

    ward_code: str
    name: str | None = None
    rank: int
    current: float
    trend: TrendPublic
    patrol_share: float
    change: float | None = Field(
        default=None, description="Current score minus the score at the end of the step "
                                  "holding `since`; null without `since`.")


class WardRanking(_Public):
    """A run's wards, highest current score first."""

    run_id: int
    as_of: dt.date
    covered: CoveredPublic | None = None
    since: dt.date | None = None
    since_step: dt.date | None = None
    data: list[WardRank]
    count: int


class ConcentrationStep(_Public):
    """How concentrated the weight of one step is over the study grid."""

    start: dt.date
    total: float
    top_1pct: float
    top_5pct: float
    gini: float


class ConcentrationPublic(_Public):
    """Concentration per step of a run."""

    run_id: int
    as_of: dt.date
    covered: CoveredPublic | None = None
    data: list[ConcentrationStep]
    count: int


class RecordContribution(_Public):
    """What one record adds to a current score."""

    kind: Literal["report", "incident", "place"]
    record: str
    source: str
    date: dt.date
    weight: float
    decay: float
    contribution: float
    events: int


class ExplanationPublic(_Public):
    """A cell's or ward's current score taken apart by source and record."""

    kind: Literal["cell", "ward"]
    key: str
    run_id: int = Field(description="The run whose parameters and cut-off were used.")
    as_of: dt.date
    covered: CoveredPublic | None = None
    known_by: UtcDateTime
    half_life_days: float
    total: float = Field(description="Independent score: the sum of by_source.")
    by_source: SourceScores
    patrol: float = Field(description="Patrol-discovered records' part, not in total.")
    patrol_share: float
    include_patrol: bool
    score: float = Field(description="The score as stored: total, plus patrol if included.")
    records: int
    top: list[RecordContribution]


class Health(_Public):
    """Liveness and the store in use."""

    status: str
    database: str


class ReportDetail(_Public):
    """A concern report with its intelligence grading (analysts only)."""

    source_id: str
    reported_on: dt.date
    mace_level: int
    exploitation_type: str | None = None
    source_agency: str | None = None
    patrol_discovered: bool
    source_grade: int | None = None
    intel_grade: str | None = None
    handling_code: str | None = None
    summary: str | None = None


class PlaceNotes(_Public):
    """A place's free-text notes and its graded reports (analysts only; every read audited)."""

    source_id: str
    name: str
    notes: str | None = None
    reports: list[ReportDetail]


class GuardianCell(BaseModel):
    """A resolution-7 cell of the guardian grid: bands, or "not shown"."""

    model_config = ConfigDict(extra="forbid")

    h3_cell: str
    places_band: str
    concern_band: str | None
    shown: bool


class GuardianCellsPublic(BaseModel):
    """The guardian grid with its fixed settings."""

    model_config = ConfigDict(extra="forbid")

    resolution: int
    k: int
    bands: list[str]
    period_start: dt.date | None
    period_end: dt.date | None
    data: list[GuardianCell]
    count: int


class PatrolCell(BaseModel):
    """One cell to visit."""

    order: int
    label: str
    h3_cell: str
    lat: float
    lng: float
    score: float
    category: str
    dwell_minutes: int
    share_of_ward_score: float


class PatrolPublic(BaseModel):
    """The patrol view of a ward: cells in visiting order."""

    ward_code: str
    run_id: int
    as_of: dt.date
    score_includes_patrol_records: bool
    covered_share: float
    tour_metres: float
    data: list[PatrolCell]
    count: int


class PlanCell(BaseModel):
    """A cell of the plan, in its officer's visiting order."""

    officer: int
    order: int
    label: str
    h3_cell: str
    lat: float
    lng: float
    score: float
    category: str | None
    dwell_minutes: int
    share_of_ward_score: float


class PlanVisit(BaseModel):
    """One visit: who, which cell, when."""

    officer: int
    round: int
    order: int
    label: str
    h3_cell: str
    arrive: LocalDateTime
    leave: LocalDateTime
    dwell_minutes: int


class PlanDone(BaseModel):
    """Planned and done visits of a cell; the last row counts patrols outside the plan."""

    officer: int
    order: int
    label: str
    h3_cell: str
    planned_visits: int
    planned_minutes: int
    done_visits: int
    done_minutes: float
    done_unknown_minutes: int
    status: str


class PatrolPlanPublic(BaseModel):
    """A shift's patrol plan for one ward, with what was done against it."""

    plan_id: str
    ward_code: str
    ward_name: str
    date: dt.date
    start: LocalDateTime
    end: LocalDateTime
    officers: int
    speed_kmh: float
    coverage: float
    tour_length_m: float
    run_id: int
    as_of: dt.date
    score_includes_patrol_records: bool
    cells: list[PlanCell]
    visits: list[PlanVisit]
    done: list[PlanDone]


class TokenRequest(BaseModel):
    """A bearer token request."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(max_length=64)
    password: str = Field(max_length=200)


class TokenPublic(BaseModel):
    """A bearer token: send it as ``Authorization: Bearer ...``."""

    access_token: str
    token_type: str = "bearer"
    expires_in: int


class MePublic(BaseModel):
    """The signed-in user; ``authorities`` null means every authority."""

    name: str
    role: str
    authorities: list[str] | None
    csrf_token: str
    expires_at: str


# --- writes of places (layers.records.edits_store) -------------------------------------------

_Value = str | int | None  # text as the import reads it; numbers for levels and grades


class PlaceFields(BaseModel):
    """A place's fields as the places import names them; each is checked by its rules."""

    model_config = ConfigDict(extra="forbid")

    name: _Value = None
    category: _Value = Field(default=None, description="A place category, such as takeaway.")
    address: _Value = None
    postcode: _Value = Field(default=None, description="Locates the place when no "
                                                       "coordinates are given.")
    latitude: float | None = Field(default=None, ge=-90, le=90, allow_inf_nan=False)
    longitude: float | None = Field(default=None, ge=-180, le=180, allow_inf_nan=False)
    exploitation_types: _Value = Field(default=None, description="Semicolon-separated: "
                                                                 "cse;cce")
    source_agency: _Value = None
    assessed_on: _Value = Field(default=None, description="YYYY-MM-DD")
    review_due: _Value = Field(default=None, description="YYYY-MM-DD")
    notes: _Value = Field(default=None, description="Free text: analysts only.")


class PlaceCreate(PlaceFields):
    """A new place: name, category, a level and a location are needed."""

    place_id: _Value = Field(default=None, description="Your id; made up when not given.")
    mace_level: _Value = Field(default=None, description="MACE level 1-4.")
    level_reason: _Value = Field(default=None, description="Why this first level.")


class PlaceUpdate(PlaceFields):
    """Some fields of a place: only those given change. ``version``: the one you edited."""

    version: int = Field(ge=1, description="The place's version this edit was made from.")
    reason: str | None = Field(default=None, max_length=2000, description="Why (optional).")


class LevelDecision(BaseModel):
    """Raise or lower a place's level, with a reason, made from ``version``."""

    model_config = ConfigDict(extra="forbid")

    level: int = Field(ge=1, le=4)
    reason: str = Field(max_length=2000)
    version: int = Field(ge=1)
    decided_on: Day | None = Field(default=None, description="Default today.")
    decision_ref: str | None = Field(default=None, max_length=64, description=(
        "The MACE meeting or triage note, such as MACE 2026-12-02."))


class PlaceClose(BaseModel):
    """Close a place, with a reason, made from ``version``."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(max_length=2000)
    version: int = Field(ge=1)


class PlaceWritten(BaseModel):
    """What a write did: the place's new version and the stored values that changed."""

    source_id: str
    version: int
    changed: dict[str, Any] = Field(default_factory=dict)


class PlaceChange(BaseModel):
    """One version of a place: when, by whom, why, the values before and after."""

    version: int
    action: str
    changed_at: dt.datetime
    changed_by: str
    role: str | None = None
    reason: str | None = None
    before: dict[str, Any]
    after: dict[str, Any]


class PlaceHistory(BaseModel):
    """Every change of a place made through placerisk, oldest first (analysts only)."""

    source_id: str
    data: list[PlaceChange]
    count: int


class ReportCreate(BaseModel):
    """A concern report, its fields named as the reports import's columns."""

    model_config = ConfigDict(extra="forbid")

    report_id: _Value = Field(default=None, description="Your id; made up when not given.")
    reported_on: _Value = Field(default=None, description="YYYY-MM-DD; not in the future.")
    place_id: _Value = Field(default=None, description="The place it is about, if any.")
    latitude: float | None = Field(default=None, ge=-90, le=90, allow_inf_nan=False)
    longitude: float | None = Field(default=None, ge=-180, le=180, allow_inf_nan=False)
    postcode: _Value = None
    mace_level: _Value = Field(default=None, description="MACE level 1-4.")
    exploitation_type: _Value = None
    source_agency: _Value = None
    patrol_discovered: _Value = Field(default=None, description="Found by a patrol: kept "
                                                                "apart in the scores.")
    source_grade: _Value = Field(default=None, description="3x5x2 source evaluation 1-3.")
    intel_grade: _Value = Field(default=None, description="3x5x2 assessment A-E.")
    handling_code: _Value = Field(default=None, description="3x5x2 handling P or C.")
    summary: _Value = Field(default=None, description="Free text: analysts only.")


class ReportWritten(BaseModel):
    """The report as stored: its id, version and where it stands."""

    source_id: str
    version: int
    located_by: str
    h3_cell: str | None = None
    ward_code: str | None = None
