"""Need-to-know by authority (issue 11, item 6): the role walk, extended to authorities.

A store on the real 2024 wards of both authorities (``data/boundaries/``) holds places,
reports, activities, police.uk crime and postcodes in each, and is scored. Accounts that
may see Hartlepool only (police, guardian, analyst) call every route of the app:

1. no answer holds anything of Stockton-on-Tees: the id, name or cell of a Stockton place,
   report or activity, a Stockton ward or authority code, a Stockton-only campaign or
   postcode;
2. asking for a Stockton place, ward or cell by its id is a 404, as for one that does not
   exist, and a filter naming one (``?ward_code=``, ``?authority=``) finds nothing of it;
3. aggregates follow: every Stockton record, the scores of Stockton cells and wards and the
   run's whole-grid figures are then changed, and every restricted answer must stay
   exactly as it was.

Routes come from the app and their query parameters from its OpenAPI schema, so a new
route or parameter is walked without anyone adding it here. Unrestricted accounts get the
same walk as a check that the Stockton data would be seen if a route forgot the filter.
"""

from __future__ import annotations

import csv
import datetime as dt
import itertools
import re
from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from api.app import create_app
from api.policy import rule_for
from api.settings import Settings
from geo import h3index
from geo.boundaries import bundled_ward_files, read_boundaries
from layers.access import accounts_store as accounts
from layers.hotspots.engine import ScoreParams
from layers.hotspots.runs import pack, run_scoring, unpack
from layers.records.importer import import_file, import_police_uk, import_postcodes
from layers.reporting import export_files as export_io
from layers.reporting import exports
from layers.store import schema
from layers.store.engine import Store, open_store, replace_areas

from .._pages import without_data_payloads
from .conftest import PASSWORD, bearer_clients, ensure_accounts
from .test_access import QUERY, routes

AS_OF = dt.date(2025, 6, 30)
HPL, STK = "E06000001", "E06000004"  # Hartlepool, Stockton-on-Tees
HPL_AT = (54.68794, -1.22322)  # Victoria ward, Hartlepool: 6.6 km from Stockton
STK_AT = (54.56543, -1.29352)  # Stockton Town Centre: 6.8 km from Hartlepool
HPL_NAMES = ["Harbour Chippy", "Church Street Vape", "Lynn Street Garage", "Victoria Arcade",
             "Station Lane Flats"]
STK_NAMES = ["Quayside Kebab Zq", "Dovecot Street Lounge Zq", "Wellington Yard Zq",
             "Bishopton Lane Shop Zq", "Riverside Car Park Zq"]
RESTRICTED = {"police-hpl": "police", "guardian-hpl": "guardian", "analyst-hpl": "analyst"}
# POST routes: sign-in and sign-out hold no store data; the review routes change a place
# and are walked by `test_a_stockton_place_is_not_found_by_id` instead.
POSTS = {("POST", "/login"), ("POST", "/api/token"), ("POST", "/logout"),
         ("POST", "/api/places/{place_id}/review"), ("POST", "/api/places/{place_id}/review/form"),
         ("POST", "/api/places/{place_id}/erase"),
         # writes of places: tests/api/test_place_writes.py asks for another authority's
         # place by id (404, unchanged) and refuses a location outside the writer's
         ("POST", "/api/places"), ("PATCH", "/api/places/{place_id}"), ("POST", "/api/reports"),
         ("POST", "/api/places/{place_id}/level"), ("POST", "/api/places/{place_id}/close")}
SCHEMA_ROUTES = ("/openapi.json", "/docs")  # field names and examples, no store values
NO_ARCHIVE = "/tiles/base.pmtiles"  # 404: this app serves no PMTiles base map
# parameters naming one object of an authority: asked for with a Stockton value too
NAMING = {"place_id": "place", "ward_code": "ward", "ward": "ward", "h3_cell": "cell",
          "authority": "authority", "authority_code": "authority"}
VARIANTS = {"what": exports.EXPORTS, "fmt": tuple(export_io.FORMATS), "run_id": ("1",)}
OUTCOME_DAY = {"as_of": "2025-07-01"}  # never today: answers must not follow the calendar


# --- the store ---------------------------------------------------------------------------

def _write(path: Path, rows: list[dict], *, header: bool = True) -> Path:
    columns = list(dict.fromkeys(k for row in rows for k in row))
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, columns)
        if header:
            writer.writeheader()
        writer.writerows(rows)
    return path


def _places(prefix: str, at: tuple[float, float], names: list[str]) -> list[dict]:
    """Five places of concern close together (one guardian cell), one closed, one protective."""
    lat, lng = at
    rows = [{"place_id": f"{prefix}-P{i}", "name": name, "category": category,
             "latitude": round(lat + 0.0004 * i, 6), "longitude": round(lng - 0.0005 * i, 6),
             "mace_level": level, "review_due": "2025-01-15", "assessed_on": "2024-01-15",
             "level_reason": f"{prefix} reason {i}", "notes": f"{prefix} note {i}"}
            for i, (name, category, level) in enumerate(zip(
                names, ["takeaway", "licensed_premises", "empty_property", "shop", "car_park"],
                [4, 3, 3, 2, 2], strict=True), start=1)]
    rows.append({"place_id": f"{prefix}-P6", "name": f"{names[0]} Closed", "category": "shop",
                 "latitude": lat - 0.002, "longitude": lng, "mace_level": 2,
                 "status": "closed"})
    rows.append({"place_id": f"{prefix}-P7", "name": f"{names[1]} Youth Hub",
                 "category": "youth_leisure_venue", "latitude": lat + 0.003,
                 "longitude": lng + 0.002, "mace_level": 1})
    return rows


def _reports(prefix: str, at: tuple[float, float]) -> list[dict]:
    rows = [{"report_id": f"{prefix}-R0", "reported_on": "2023-07-03", "latitude": at[0],
             "longitude": at[1], "mace_level": 1}]
    days = ["2025-01-12", "2025-02-20", "2025-04-10", "2025-05-15", "2025-06-20"]
    for i, day in enumerate(days, start=1):
        rows += [{"report_id": f"{prefix}-R{i}{p}", "reported_on": day,
                  "place_id": f"{prefix}-P{p}", "mace_level": 4 - (i + p) % 3,
                  "summary": f"{prefix} summary {i}{p}", "source_grade": 2, "intel_grade": "B",
                  "handling_code": "P", "patrol_discovered": "true" if i == 5 else "false"}
                 for p in (1, 2, 3)]
    return rows


def _activities(prefix: str, at: tuple[float, float]) -> list[dict]:
    return [
        {"activity_id": f"{prefix}-A1", "activity_type": "licensing_visit",
         "started_at": "2025-03-03T10:00", "place_id": f"{prefix}-P1", "agency": "Licensing",
         "outcome": f"{prefix} advice", "jag_ref": f"JAG-{prefix}-1"},
        {"activity_id": f"{prefix}-A2", "activity_type": "premises_closure",
         "started_at": "2025-02-01T09:00", "place_id": f"{prefix}-P2", "agency": "Police",
         "jag_ref": f"JAG-{prefix}-1"},
        {"activity_id": f"{prefix}-A3", "activity_type": "street_patrol",
         "started_at": "2025-06-20T21:00", "ended_at": "2025-06-20T21:15",
         "latitude": at[0] + 0.001, "longitude": at[1], "agency": "Police"},
        # one activity of each authority in one campaign: the campaign reaches into Stockton
        {"activity_id": f"{prefix}-A4", "activity_type": "housing_provider_visit",
         "started_at": "2025-01-20T11:00", "place_id": f"{prefix}-P3", "jag_ref": "JAG-MIX-7"},
    ]


def _crimes(prefix: str, at: tuple[float, float]) -> list[dict]:
    return [{"Crime ID": f"{prefix.lower()}-c{i}", "Month": month,
             "Reported by": "Cleveland Police", "Falls within": "Cleveland Police",
             "Longitude": at[1], "Latitude": at[0], "Location": "On or near Somewhere",
             "LSOA code": "", "LSOA name": "", "Crime type": crime,
             "Last outcome category": "", "Context": ""}
            for i, (month, crime) in enumerate([("2023-06", "Bicycle theft"),
                                                ("2025-03", "Robbery"), ("2025-05", "Drugs"),
                                                ("2025-06", "Violence and sexual offences")])]


POSTCODES = [  # Code-Point Open rows (no header): Hartlepool's, then Stockton's
    {"postcode": "TS24 7AA", "quality": 10, "easting": 451100, "northing": 533150,
     "country": "E92000001", "r": "", "ha": "", "county": "", "district": HPL,
     "ward": "E05013049"},
    {"postcode": "TS18 1AA", "quality": 10, "easting": 444700, "northing": 518900,
     "country": "E92000001", "r": "", "ha": "", "county": "", "district": STK,
     "ward": "E05014882"},
]


def real_wards() -> gpd.GeoDataFrame:
    """The shipped 2024 wards of Hartlepool and Stockton-on-Tees."""
    frames = [read_boundaries(path).areas for path in bundled_ward_files()]
    areas = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=frames[0].crs)
    assert set(areas["authority_code"]) == {HPL, STK}
    return areas


def build(folder: Path) -> Path:
    db = folder / "authorities.db"
    store = open_store(db)
    try:
        ensure_accounts(store)
        for name, role in RESTRICTED.items():
            accounts.add_user(store, name, role, PASSWORD, authorities=[HPL])
        replace_areas(store, real_wards(), source="data/boundaries")
        records = {"places": _places("HPL", HPL_AT, HPL_NAMES) + _places("STK", STK_AT, STK_NAMES),
                   "reports": _reports("HPL", HPL_AT) + _reports("STK", STK_AT),
                   "activities": _activities("HPL", HPL_AT) + _activities("STK", STK_AT)}
        for kind, rows in records.items():
            result = import_file(store, kind, _write(folder / f"{kind}.csv", rows))
            assert result.rejected == 0, result.messages
        crimes = _crimes("HPL", HPL_AT) + _crimes("STK", STK_AT)
        assert import_police_uk(store, _write(folder / "street.csv", crimes)).rejected == 0
        codes = _write(folder / "codepoint.csv", POSTCODES, header=False)
        assert import_postcodes(store, codes).rejected == 0
        run_scoring(store, ScoreParams(as_of=AS_OF), known_by=dt.datetime.now(dt.UTC))
    finally:
        store.close()
    return db


# --- what must never reach a Hartlepool-only account ---------------------------------------

def stockton_tokens(store: Store) -> dict[str, set[str]]:
    """Everything of Stockton a restricted answer must not hold, by kind."""
    s_wards = sa.select(schema.areas.c.code).where(schema.areas.c.authority_code == STK)
    tokens: dict[str, set[str]] = {"ward": set(), "id": set(), "name": set(), "cell": set()}
    cells: list[str] = []
    with store.connect() as conn:
        tokens["ward"] = set(conn.scalars(s_wards))
        for table in (schema.places, schema.reports, schema.activities, schema.incidents):
            inside = table.c.ward_code.in_(s_wards)
            cells += [c for c in conn.scalars(sa.select(table.c.h3_cell).where(inside)) if c]
            if table is not schema.incidents:
                tokens["id"] |= set(conn.scalars(sa.select(table.c.source_id).where(inside)))
        p = schema.places
        tokens["name"] = set(conn.scalars(sa.select(p.c.name).where(p.c.ward_code.in_(s_wards))))
    assert tokens["id"] >= {"STK-P1", "STK-R11", "STK-A1"} and len(tokens["ward"]) == 27
    keys = h3index.str_to_cells(np.array(sorted(set(cells)), dtype=object))
    tokens["cell"] = set(cells) | {str(c) for c in h3index.cells_to_str(
        h3index.cells_to_parents(keys, resolution=7))}  # the guardian view's cells too
    tokens["other"] = {STK, "Stockton-on-Tees", "JAG-STK-1", "TS18 1AA"}
    return tokens


def leaks(body: str, tokens: dict[str, set[str]], *, asked: str = "") -> list[str]:
    """The tokens in ``body`` (the value the caller asked for, echoed back, apart)."""
    text = without_data_payloads(body)
    if asked:
        text = text.replace(asked, "")
    return sorted(t for kind in tokens.values() for t in kind if t in text)


# --- the walk ------------------------------------------------------------------------------

def query_params(app, method: str, path: str) -> dict[str, bool]:
    """The query parameters of a route (dependencies' included): name -> required."""
    operation = app.openapi()["paths"].get(path, {}).get(method.lower(), {})
    return {p["name"]: bool(p.get("required")) for p in operation.get("parameters", [])
            if p["in"] == "query"}


def calls(app, method: str, path: str, inside: dict[str, str], outside: dict[str, str]
          ) -> Iterator[tuple[str, dict[str, str], str, bool]]:
    """Every call to make of a route: (url, query, Stockton value asked for, by id or not).

    First the route with Hartlepool's values (every export and format); then once per
    parameter naming a place, ward, cell or authority, with Stockton's. "By id": a path
    parameter or a required query parameter, which must then answer 404.
    """
    names = re.findall(r"\{(\w+)\}", path)
    params = query_params(app, method, path)
    base = {**QUERY.get(path, {}), **{k: v for k, v in OUTCOME_DAY.items() if k in params}}
    base = {k: inside.get(NAMING.get(k, ""), v) for k, v in base.items()}

    def fill(url: str, values: dict[str, str]) -> str:
        for name in re.findall(r"\{(\w+)\}", url):
            url = url.replace(f"{{{name}}}", values.get(name) or VARIANTS.get(
                name, (inside.get(NAMING.get(name, ""), ""),))[0])
        return url

    for values in itertools.product(*(VARIANTS.get(n, ("",)) for n in names)):
        yield fill(path, {n: v for n, v in zip(names, values, strict=True) if v}), base, "", False
    for name in [*names, *params]:
        kind = NAMING.get(name)
        if kind is None:
            continue
        query = dict(base)
        if name not in names:
            query[name] = outside[kind]
        yield (fill(path, {name: outside[kind]} if name in names else {}), query,
               outside[kind], name in names or params.get(name, False))


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(tmp_path_factory.mktemp("authority"))


@pytest.fixture(scope="module")
def app(db: Path):
    with pytest.MonkeyPatch.context() as patch:
        # the PDFs' content is checked as the HTML they are printed from (PDF text is
        # compressed and subset, so a scan of its bytes would find nothing either way)
        patch.setattr("api.services.briefing.html_to_pdf", lambda html: html.encode())
        patch.setattr("api.services.plans.html_to_pdf", lambda html: html.encode())
        yield create_app(Settings(db=str(db), tiles="none"))


@pytest.fixture(scope="module")
def clients(app) -> Iterator[dict[str, TestClient]]:
    with bearer_clients(app, (*RESTRICTED, "analyst", "police", "guardian")) as out:
        yield out


@pytest.fixture(scope="module")
def samples(app) -> tuple[dict[str, str], dict[str, str]]:
    """A Hartlepool and a Stockton place, ward and scored cell, by kind."""
    store = app.state.store
    a, c, p = schema.areas, schema.run_cells, schema.places
    picked = []
    for code, place in ((HPL, "HPL-P1"), (STK, "STK-P1")):
        with store.connect() as conn:
            ward = conn.scalar(sa.select(p.c.ward_code).where(p.c.source_id == place))
            cell = conn.scalar(sa.select(c.c.h3_cell).where(c.c.ward_code == ward)
                               .order_by(c.c.current.desc()).limit(1))
            assert conn.scalar(sa.select(a.c.authority_code).where(a.c.code == ward)) == code
        picked.append({"place": place, "ward": ward, "cell": cell, "authority": code})
    return picked[0], picked[1]


Answers = dict[tuple[str, str, str], tuple[int, str, str, bool]]


def walk(app, clients, samples, names) -> Answers:
    """Every GET route as each of ``names``: {(name, url, query): (status, body, asked, id)}."""
    inside, outside = samples
    answers = {}
    for method, path in routes(app):
        if method != "GET":
            assert (method, path) in POSTS, f"{method} {path}: walk it here or in the 404 test"
            continue
        rule = rule_for(method, path)
        assert rule is not None
        for url, query, asked, by_id in calls(app, method, path, inside, outside):
            for name in names:
                role = RESTRICTED.get(name, name)
                if rule.roles and role not in rule.roles:
                    continue
                r = clients[name].get(url, params=query, follow_redirects=False)
                key = (name, url, "&".join(f"{k}={v}" for k, v in sorted(query.items())))
                answers[key] = (r.status_code, r.content.decode("latin-1"), asked, by_id)
    return answers


@pytest.fixture(scope="module")
def first_walk(app, clients, samples):
    return walk(app, clients, samples, [*RESTRICTED, "analyst", "guardian"])


def test_restricted_accounts_see_nothing_of_stockton(app, first_walk) -> None:
    tokens = stockton_tokens(app.state.store)
    found, errors = [], []
    for (name, url, query), (status, body, asked, _) in first_walk.items():
        if name not in RESTRICTED or url in SCHEMA_ROUTES:
            continue
        if status >= 500 or (status >= 400 and not asked and url != NO_ARCHIVE):
            errors.append(f"{name} {url}?{query}: {status}")
        hits = leaks(body, tokens, asked=asked)
        if hits:
            found.append(f"{name} {url}?{query}: {hits[:5]}")
    assert errors == []
    assert found == []


def test_the_walk_would_see_stockton_if_a_route_forgot(app, first_walk) -> None:
    """The unrestricted analyst and guardian do get every kind of token, somewhere."""
    tokens = stockton_tokens(app.state.store)
    for name in ("analyst", "guardian"):
        seen = " ".join(without_data_payloads(body) for (who, _, _), (_, body, asked, _)
                        in first_walk.items() if who == name and not asked)
        for kind in (("cell",) if name == "guardian" else tokens):
            assert any(t in seen for t in tokens[kind]), (name, kind)
    restricted = " ".join(body for (who, _, _), (_, body, _, _) in first_walk.items()
                          if who == "police-hpl")
    assert all(name in restricted for name in HPL_NAMES)  # Hartlepool's own, in full


def test_a_stockton_place_ward_or_cell_is_not_found(first_walk) -> None:
    """Naming a Stockton object in the path, or in a required parameter, answers 404."""
    wrong, asked_by_id = [], 0
    for (name, url, query), (status, _, _, by_id) in first_walk.items():
        if not by_id:
            continue
        asked_by_id += 1
        if name in RESTRICTED and status != 404:
            wrong.append(f"{name} {url}?{query}: {status}")
        if name == "analyst" and status == 404:
            wrong.append(f"analyst {url}?{query}: 404, so the walk asks for nothing real")
    assert wrong == []
    assert asked_by_id > 20


def test_a_restriction_applies_at_the_next_request(app, clients) -> None:
    assert clients["police-hpl"].get("/api/me").json()["authorities"] == [HPL]
    assert clients["analyst"].get("/api/me").json()["authorities"] is None
    store = app.state.store
    accounts.add_user(store, "pc-later", "police", PASSWORD)  # all authorities, at first
    client = clients["police"]
    token = client.post("/api/token", json={"name": "pc-later", "password": PASSWORD})
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    assert client.get("/api/places/STK-P1", headers=headers).status_code == 200
    accounts.set_authorities(store, "pc-later", [HPL], actor="admin-test")
    assert client.get("/api/places/STK-P1", headers=headers).status_code == 404
    assert client.get("/api/places/HPL-P1", headers=headers).status_code == 200


# --- aggregates: Stockton changes, restricted answers do not -----------------------------

FOLIUM_ID = re.compile(r"_[0-9a-f]{32}(?![0-9a-f])")  # folium names elements with uuids


def perturb_stockton(store: Store, folder: Path) -> None:
    """Change every Stockton record and score, and the run's figures over the whole grid.

    What stays is when records were kept: their dates and whether a patrol found them, so
    the day the independent records reach (after which no outcome is judged) and a run's
    covered period, which are the hub's and shared, stay too. Cells outside every ward
    change: they belong to no authority.
    """
    a = schema.areas
    s_wards = sa.select(a.c.code).where(a.c.authority_code == STK)
    now = dt.datetime.now(dt.UTC)
    p, r, ac, i = schema.places, schema.reports, schema.activities, schema.incidents
    c, w, st, b = schema.run_cells, schema.run_wards, schema.run_steps, schema.run_background
    with store.begin() as conn:
        conn.execute(sa.update(p).where(p.c.ward_code.in_(s_wards)).values(
            mace_level=4, name=p.c.name + " changed", status="open", updated_at=now))
        conn.execute(sa.update(r).where(r.c.ward_code.in_(s_wards)).values(
            mace_level=4, updated_at=now))
        conn.execute(sa.update(ac).where(ac.c.ward_code.in_(s_wards)).values(
            agency="Changed", outcome="changed", updated_at=now))
        conn.execute(sa.update(i).where(i.c.ward_code.in_(s_wards)).values(
            crime_type="Robbery", updated_at=now))
        place = conn.scalar(sa.select(p.c.id).where(p.c.source_id == "STK-P2"))
        conn.execute(sa.insert(schema.place_levels).values(
            place_id=place, changed_on=dt.date(2025, 6, 1), from_level=3, to_level=4,
            reason="changed", recorded_at=now))
        stockton = sa.or_(c.c.ward_code.in_(s_wards), c.c.ward_code.is_(None))
        for cell, run, values in conn.execute(sa.select(c.c.h3_cell, c.c.run_id,
                                                        c.c.values_series).where(stockton)):
            conn.execute(sa.update(c).where(c.c.h3_cell == cell, c.c.run_id == run).values(
                current=c.c.current * 3 + 1, values_series=pack(unpack(values) * 3 + 1),
                category="new hot spot", z_last=c.c.z_last + 5))
        conn.execute(sa.update(w).where(w.c.ward_code.in_(s_wards)).values(
            current=w.c.current * 3 + 1))
        order = conn.execute(sa.select(w.c.run_id, w.c.ward_code, w.c.ward_code.in_(s_wards))
                             .order_by(w.c.rank)).all()
        ranked = sorted(order, key=lambda row: not row[2])  # Stockton's wards first
        for rank, (run, ward, _) in enumerate(ranked, start=1):
            conn.execute(sa.update(w).where(w.c.run_id == run, w.c.ward_code == ward)
                         .values(rank=rank))
        conn.execute(sa.update(st).values(total=st.c.total * 2 + 1, top_1pct=0.99,
                                          top_5pct=0.999, gini=0.5))
        conn.execute(sa.update(b).values(cells=b.c.cells + 7))
    lat, lng = STK_AT
    more = {"places": [{"place_id": f"STK-P9{n}", "name": f"Perturbed Arcade {n} Zq",
                        "category": "shop", "latitude": lat + 0.0003 * n,
                        "longitude": lng - 0.0004 * n, "mace_level": 4,
                        "review_due": "2025-01-01"} for n in range(5)],  # 12 in its cell
            "reports": [{"report_id": f"STK-R9{n}", "reported_on": "2025-05-01",
                         "place_id": "STK-P90", "mace_level": 4} for n in range(3)]}
    for kind, rows in more.items():
        assert import_file(store, kind, _write(folder / f"more-{kind}.csv", rows)).rejected == 0


def _normal(body: str) -> str:
    return FOLIUM_ID.sub("_ID", body)


def test_restricted_answers_do_not_follow_stockton(app, clients, samples, first_walk,
                                                   tmp_path) -> None:
    """Every restricted answer is unchanged once everything of Stockton's has changed."""
    day = dt.date.today()
    perturb_stockton(app.state.store, tmp_path)
    second = walk(app, clients, samples, [*RESTRICTED, "analyst", "guardian"])
    if dt.date.today() != day:  # midnight passed between the walks: the queue moved on
        pytest.skip("the date changed during the walk; run it again")
    public = {path for method, path in routes(app) if method == "GET"
              and rule_for(method, path).public}  # the sign-in form's fresh CSRF token
    changed = {key for key, (status, body, _, _) in second.items()
               if ".gpkg" not in key[1]  # a GeoPackage records when it was written
               and key[1] not in public
               and (status, _normal(body)) != (first_walk[key][0], _normal(first_walk[key][1]))}
    assert sorted(k for k in changed if k[0] in RESTRICTED) == []
    for path in ("/api/concentration", "/api/categories", "/api/wards/ranking", "/api/places",
                 "/api/outcomes", "/", "/briefing"):
        assert any(k[0] == "analyst" and k[1] == path for k in changed), path
    assert any(k[0] == "guardian" and k[1] == "/api/guardian/cells" for k in changed)
