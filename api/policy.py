"""Who may call which route: one table, deny by default.

Every route of the app has one `Rule` in `POLICY`, keyed by method and path template. A
route missing from the table answers 403 to everyone (and the role walk in the tests fails),
so a new route is closed until someone decides who may see it. Static assets (Leaflet, h3-js,
markercluster) are public: they are the libraries' own files.

Roles (see `layers.access.accounts_store`): admin and analyst see everything but the admin's audit
log; police see places, levels, scores, patrol plans and activities but no notes, grades, reasons or
activity outcomes (`FREE_TEXT`); guardians see the guardian view and its data only.

A rule with ``page=True`` is an HTML page for a browser: a signed-out caller is sent to
``/login?next=...`` rather than answered 401, and errors come as HTML pages with a way
forward (`api.pages`). Every other route (the API, and the files pages link to: PDF, CSV,
GPX, KML) answers errors in JSON as before.
"""

from __future__ import annotations

from dataclasses import dataclass

ALL = frozenset({"admin", "analyst", "police", "guardian"})
OPS = frozenset({"admin", "analyst", "police"})
STAFF = frozenset({"admin", "analyst"})
ADMIN = frozenset({"admin"})
PUBLIC: frozenset[str] = frozenset()  # no sign-in needed


@dataclass(frozen=True)
class Rule:
    """The roles allowed, and what to write to the audit log when one of them calls.

    ``audit`` is an action of `layers.store.audit.ACTIONS`; ``object_type`` and ``object_param``
    name the object and the path (or else query) parameter holding its id. ``purpose``:
    the call must say why (a ``purpose`` query parameter), which goes to the audit log with
    it. ``page``: a browser page (see the module docstring).
    """

    roles: frozenset[str]
    audit: str | None = None
    object_type: str | None = None
    object_param: str | None = None
    purpose: bool = False
    page: bool = False

    @property
    def public(self) -> bool:
        """No sign-in needed."""
        return not self.roles


def _rules(roles: frozenset[str], *paths: str, method: str = "GET", page: bool = False
           ) -> dict[tuple[str, str], Rule]:
    return {(method, path): Rule(roles, page=page) for path in paths}


POLICY: dict[tuple[str, str], Rule] = {
    **_rules(PUBLIC, "/favicon.ico", "/healthz"),
    **_rules(PUBLIC, "/login", page=True),
    ("POST", "/login"): Rule(PUBLIC),
    ("POST", "/api/token"): Rule(PUBLIC),
    ("POST", "/logout"): Rule(ALL),
    **_rules(ALL, "/api/me", "/api/guardian/cells", "/openapi.json"),
    **_rules(ALL, "/tiles/base.pmtiles"),  # the base map's PMTiles archive (no store data)
    **_rules(ALL, "/guardian", "/docs", page=True),
    **_rules(OPS, "/api/search",
             "/api/cells", "/api/cells.geojson", "/api/cells/{h3_cell}", "/api/areas",
             "/api/areas.geojson", "/api/runs", "/api/runs/{run_id}", "/api/categories",
             "/api/wards/ranking", "/api/concentration", "/api/explain/cell/{h3_cell}",
             "/api/explain/ward/{ward_code}", "/api/patrol", "/api/patrol/plan",
             "/patrol/plan.pdf", "/patrol/plan.gpx", "/patrol/plan.kml", "/api/outcomes"),
    **_rules(OPS, "/wards", "/patrol", "/patrol/plan", "/outcomes", page=True),
    # Bulk reads of places or activities, with their exact points or levels: audited with
    # the number of records returned and the filters (see README, "Audit trail").
    ("GET", "/api/places"): Rule(OPS, audit="read_list", object_type="places"),
    ("GET", "/api/places.geojson"): Rule(OPS, audit="read_list", object_type="places"),
    ("GET", "/api/activities"): Rule(OPS, audit="read_list", object_type="activities"),
    ("GET", "/"): Rule(OPS, audit="read_list", object_type="map", page=True),
    ("GET", "/wards/{ward_code}"): Rule(OPS, audit="read_list", object_type="ward",
                                       object_param="ward_code", page=True),
    ("GET", "/wards/{ward_code}/map"): Rule(OPS, audit="read_list", object_type="ward",
                                           object_param="ward_code", page=True),
    ("GET", "/review"): Rule(STAFF, audit="read_list", object_type="review", page=True),
    ("GET", "/api/review"): Rule(STAFF, audit="read_list", object_type="review"),
    ("GET", "/api/places/{place_id}"): Rule(OPS, audit="read_place", object_type="place",
                                            object_param="place_id"),
    ("GET", "/api/places/{place_id}/notes"): Rule(STAFF, audit="read_notes",
                                                  object_type="place",
                                                  object_param="place_id"),
    ("GET", "/api/export/{what}.{fmt}"): Rule(STAFF, audit="export", object_type="export",
                                              object_param="what", purpose=True),
    ("GET", "/outcomes.csv"): Rule(STAFF, audit="export", object_type="outcomes",
                                   purpose=True),
    # the meeting date names the pack read (and gives the next form its default)
    ("GET", "/briefing"): Rule(STAFF, audit="briefing", object_type="briefing",
                               object_param="meeting", page=True),
    ("GET", "/briefing.pdf"): Rule(STAFF, audit="briefing", object_type="briefing",
                                   object_param="meeting"),
    ("GET", "/api/audit"): Rule(ADMIN),
    # records written by named people: layers.records.edits_store writes the audit rows ("edit")
    ("POST", "/api/places"): Rule(STAFF),
    ("POST", "/api/reports"): Rule(STAFF),
    ("PATCH", "/api/places/{place_id}"): Rule(STAFF),
    **_rules(STAFF, "/api/places/{place_id}/level", "/api/places/{place_id}/close",
             method="POST"),
    ("GET", "/api/places/{place_id}/history"): Rule(STAFF, audit="read_notes",
                                                    object_type="place",
                                                    object_param="place_id"),
    # review and retention: layers.access.review_store writes its own audit rows ("review", "erase")
    **_rules(STAFF, "/api/places/{place_id}/review", "/api/places/{place_id}/review/form",
             "/api/places/{place_id}/erase", method="POST"),
}
# Analysts' free text: place notes, report summaries, level and review reasons, activity
# outcomes. These roles read it; police get the records without it (tests/api/
# test_free_text.py plants a marker in every free-text column and walks every route).
FREE_TEXT = STAFF


def reads_free_text(role: str) -> bool:
    """Whether ``role`` may read analysts' free text (see `FREE_TEXT`)."""
    return role in FREE_TEXT


HOME = {"admin": "/", "analyst": "/", "police": "/", "guardian": "/guardian"}


def rule_for(method: str, path: str) -> Rule | None:
    """The rule of a route (``HEAD`` follows ``GET``), or ``None``: no rule, denied."""
    method = "GET" if method == "HEAD" else method
    return POLICY.get((method, path))
