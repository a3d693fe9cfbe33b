"""Patrol plans: ``/patrol/plan`` (HTML, PDF, GPX, KML), ``/api/patrol/plan`` and the CLI."""

from __future__ import annotations

import datetime as dt
import html
import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import gpxpy
import numpy as np
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from api.app import create_app
from api.cli import main
from api.services.plans import load_plan
from api.settings import Settings
from geo import h3index
from layers.action.patrol.formats import GPX_NS, KML_NS
from layers.action.patrol.shift import NOT_IN_PLAN, plan_id
from layers.store.engine import open_store
from tests._pages import page_text, without_data_payloads
from tests.api.conftest import build_store, sign_in

NORTH, SOUTH = "E05000001", "E05000002"
DAY = "2025-07-01"
URL = re.compile(r"""(?:https?:|ftp:|file:)?//[^\s"'()<>]+""", re.IGNORECASE)
PLAN_ID = plan_id(ward_code=SOUTH, date=dt.date(2025, 7, 1), start=dt.time(18), hours=8,
                  officers=1, top=8, seed=None)
HOT = [(54.585, -1.31), (54.565, -1.315), (54.575, -1.305), (54.592, -1.318)]
OUTSIDE_PLAN = (54.552, -1.302)  # in the south ward, no report anywhere near
MORE = {
    "reports": [{"report_id": f"H{i}", "reported_on": "2025-06-05", "latitude": lat,
                 "longitude": lng, "mace_level": 3} for i, (lat, lng) in enumerate(HOT)],
    "activities": [
        {"activity_id": "PP1", "activity_type": "street_patrol",
         "started_at": "2025-07-01T18:05", "ended_at": "2025-07-01T18:17", "latitude": HOT[1][0],
         "longitude": HOT[1][1], "agency": "Police", "jag_ref": PLAN_ID},
        {"activity_id": "PP2", "activity_type": "street_patrol",
         "started_at": "2025-07-01T20:05", "latitude": HOT[1][0], "longitude": HOT[1][1],
         "agency": "Police", "jag_ref": PLAN_ID},
        {"activity_id": "PP3", "activity_type": "street_patrol",
         "started_at": "2025-07-01T21:00", "ended_at": "2025-07-01T21:10",
         "latitude": OUTSIDE_PLAN[0], "longitude": OUTSIDE_PLAN[1], "agency": "Police",
         "jag_ref": PLAN_ID},
        {"activity_id": "PP4", "activity_type": "street_patrol",
         "started_at": "2025-07-01T22:00", "ended_at": "2025-07-01T22:10",
         "latitude": HOT[0][0], "longitude": HOT[0][1], "agency": "Police",
         "jag_ref": "PP-250701-000000"},
        {"activity_id": "PP5", "activity_type": "licensing_visit",
         "started_at": "2025-07-01T10:00", "latitude": HOT[0][0], "longitude": HOT[0][1],
         "agency": "Council", "jag_ref": PLAN_ID},
    ],
}


def cell_at(lat: float, lng: float) -> str:
    cells = h3index.latlng_to_cells(np.array([lat]), np.array([lng]), resolution=9)
    return str(h3index.cells_to_str(cells)[0])


def params(ward: str = SOUTH, **more: object) -> dict:
    return {"ward": ward, "date": DAY, **more}


def get_plan(client: TestClient, **more: object) -> dict:
    response = client.get("/api/patrol/plan", params=params(**more))
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store with four more hot cells in the south ward and patrols naming `PLAN_ID`."""
    return build_store(tmp_path_factory.mktemp("plans"), more=MORE)


@pytest.fixture(scope="module")
def rich(db: Path) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(db=str(db), tiles="none"))) as c:
        yield sign_in(c)


@pytest.fixture(scope="module")
def unscored_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_store(tmp_path_factory.mktemp("plans-unscored"), score=False)


# --- JSON --------------------------------------------------------------------------------

@pytest.mark.parametrize("ward", [NORTH, SOUTH])
def test_json_plans_the_wards_scored_cells(client: TestClient, ward: str) -> None:
    body = get_plan(client, ward=ward)
    cells = client.get("/api/cells", params={"ward_code": ward, "limit": 1000}).json()["data"]
    positive = {c["h3_cell"] for c in cells if c["score"] > 0}
    assert positive and {c["h3_cell"] for c in body["cells"]} == positive
    assert body["ward_code"] == ward and body["ward_name"] in ("North Box", "South Box")
    assert body["date"] == DAY and body["start"] == f"{DAY}T18:00:00"
    assert body["end"] == "2025-07-02T02:00:00" and body["officers"] == 1
    assert body["run_id"] == cells[0]["run_id"] and body["as_of"] == "2025-06-30"
    assert body["score_includes_patrol_records"] is False
    assert body["coverage"] == pytest.approx(1.0)
    assert body["plan_id"] == plan_id(ward_code=ward, date=dt.date(2025, 7, 1),
                                      start=dt.time(18), hours=8, officers=1, top=8, seed=None)
    assert len(body["visits"]) >= 3 and all(10 <= v["dwell_minutes"] <= 15
                                            for v in body["visits"])
    assert [d["label"] for d in body["done"]][-1] == NOT_IN_PLAN
    assert all(d["done_visits"] == 0 for d in body["done"])


def test_json_follows_the_shift_parameters(rich: TestClient) -> None:
    body = get_plan(rich, start="06:30", hours=4.5, officers=3, top=3)
    assert body["start"] == f"{DAY}T06:30:00" and body["end"] == f"{DAY}T11:00:00"
    assert len(body["cells"]) == 3 and {c["officer"] for c in body["cells"]} == {1, 2, 3}
    assert all(f"{DAY}T06:30" <= v["arrive"] and v["leave"] <= f"{DAY}T11:00:00"
               for v in body["visits"])
    assert 0 < body["coverage"] < 1


def test_patrols_naming_the_plan_show_as_done(rich: TestClient) -> None:
    body = get_plan(rich)
    assert body["plan_id"] == PLAN_ID
    done = {d["h3_cell"]: d for d in body["done"]}
    visited = done[cell_at(*HOT[1])]
    assert visited["status"] == "visited" and visited["done_visits"] == 2
    assert visited["done_minutes"] == 12 and visited["done_unknown_minutes"] == 1
    assert done[cell_at(*HOT[0])]["status"] == "not visited"  # PP4 names another plan
    outside = body["done"][-1]
    assert outside["label"] == NOT_IN_PLAN and outside["done_visits"] == 1
    page = rich.get("/patrol/plan", params=params()).text
    assert "Done against planned" in page and "<td>visited</td>" in page


def test_load_plan_is_what_the_routes_use(db: Path, rich: TestClient) -> None:
    store = open_store(db)
    try:
        with store.connect() as conn:
            loaded = load_plan(conn, ward_code=SOUTH, date=dt.date(2025, 7, 1))
    finally:
        store.close()
    assert loaded.plan.plan_id == PLAN_ID and loaded.ward_name == "South Box"
    assert len(loaded.areas) == 1 and loaded.independent
    assert len(loaded.plan.cells) == len(get_plan(rich)["cells"])


# --- HTML and files ----------------------------------------------------------------------

@pytest.mark.parametrize("ward", [NORTH, SOUTH])
def test_page_is_self_contained_and_shows_the_plan(client: TestClient, ward: str) -> None:
    body = get_plan(client, ward=ward)
    response = client.get("/patrol/plan", params=params(ward=ward))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert f'<div class="plan-id">{body["plan_id"]}</div>' in page
    assert f"({ward})</h1>" in page and body["ward_name"] in page
    assert len(re.findall(r"<tr><td>\d\d:\d\d-\d\d:\d\d</td>", page)) == len(body["visits"])
    sources = re.findall(r'src="([^"]*)"', page)
    assert len(sources) == 1 and sources[0].startswith("data:image/png;base64,")
    assert URL.findall(without_data_payloads(page)) == []
    assert "<script" not in page.lower()


def test_page_carries_no_place_names_or_notes(client: TestClient, synthetic) -> None:
    page = client.get("/patrol/plan", params=params(top=20)).text
    text = page_text(page)  # the names in words, whether shown escaped or not
    for place in synthetic.PLACES:
        assert place["name"] not in page and place["name"] not in text
    assert synthetic.NOTE not in text and "42zz" not in text


def test_gpx_has_a_waypoint_per_cell(rich: TestClient) -> None:
    body = get_plan(rich, officers=2)
    response = rich.get("/patrol/plan.gpx", params=params(officers=2))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/gpx+xml")
    assert response.headers["content-disposition"] == \
        f'attachment; filename="{body["plan_id"]}.gpx"'
    gpx = gpxpy.parse(response.text)
    assert len(gpx.waypoints) == len(body["cells"]) >= 4
    assert {w.name for w in gpx.waypoints} == {c["label"] for c in body["cells"]}
    assert len(gpx.routes) == 2
    assert ET.fromstring(response.content).tag == f"{{{GPX_NS}}}gpx"


def test_kml_has_placemarks(client: TestClient) -> None:
    body = get_plan(client)
    response = client.get("/patrol/plan.kml", params=params())
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/vnd.google-earth.kml+xml")
    assert response.headers["content-disposition"].endswith(f'{body["plan_id"]}.kml"')
    placemarks = ET.fromstring(response.content).findall(f".//{{{KML_NS}}}Placemark")
    assert len(placemarks) >= len(body["cells"]) > 0


def test_pdf_is_a_pdf(client: TestClient) -> None:
    response = client.get("/patrol/plan.pdf", params=params())
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"].startswith('attachment; filename="PP-')
    assert response.content.startswith(b"%PDF") and len(response.content) > 5000


def test_openapi_lists_the_routes(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/patrol/plan", "/api/patrol/plan", "/patrol/plan.gpx", "/patrol/plan.kml",
                 "/patrol/plan.pdf"):
        assert path in paths


# --- errors ------------------------------------------------------------------------------

PATHS = ["/patrol/plan", "/api/patrol/plan", "/patrol/plan.gpx", "/patrol/plan.kml",
         "/patrol/plan.pdf"]


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("ward", ["E05999999", "<script>alert(1)", "{{ 6*7 }}zz"])
def test_unknown_ward_is_404_saying_where_codes_are(client: TestClient, path: str,
                                                    ward: str) -> None:
    response = client.get(path, params=params(ward=ward))
    assert response.status_code == 404
    text = html.unescape(response.text)
    assert "/api/areas" in text and NORTH in text
    if path == "/patrol/plan":
        assert response.headers["content-type"].startswith("text/html")
        assert "<script>alert" not in response.text and "{{" not in response.text
        assert "42zz" not in page_text(response.text)
    else:
        assert "42zz" not in response.text


@pytest.mark.parametrize("path", ["/patrol/plan", "/api/patrol/plan", "/patrol/plan.gpx"])
def test_no_run_is_404_saying_score_first(unscored_client: TestClient, path: str) -> None:
    response = unscored_client.get(path, params=params())
    assert response.status_code == 404
    assert "run `placerisk score`" in html.unescape(response.text)


@pytest.mark.parametrize("bad", [
    {"date": "2025-02-30"}, {"date": "01/07/2025"}, {"date": "20250701"}, {"date": ""},
    {"start": "24:00"}, {"start": "6pm"}, {"start": "18:00:00"}, {"start": "7:30"},
    {"hours": 0}, {"hours": 13}, {"hours": "nan"}, {"hours": "inf"}, {"hours": "eight"},
    {"officers": 0}, {"officers": 11}, {"top": 0}, {"top": 21}, {"ward": ""},
    {"ward": "E" * 17},
])
@pytest.mark.parametrize("path", PATHS)
def test_bad_parameters_are_422(client: TestClient, path: str, bad: dict) -> None:
    assert client.get(path, params={**params(), **bad}).status_code == 422


@pytest.mark.parametrize("path", PATHS)
def test_missing_ward_or_date_is_422(client: TestClient, path: str) -> None:
    assert client.get(path, params={"ward": SOUTH}).status_code == 422
    assert client.get(path, params={"date": DAY}).status_code == 422


# --- the CLI -----------------------------------------------------------------------------

def run(db: Path, *args: str):
    return CliRunner().invoke(main, ["--db", str(db), "patrol-plan", *args],
                              catch_exceptions=False)


SUMMARY = re.compile(r"patrol plan (PP-\d{6}-[0-9a-f]{6}) for ward E05000002 on 2025-07-01: "
                     r"\d+ cells?, \d+ visits?, \d+% of the ward's current harm covered; "
                     r"wrote .+ as (\w+) \(\d+\.\d kB\)")


def check_file(out: Path, fmt: str, body: dict) -> None:
    if fmt == "html":
        assert f'<div class="plan-id">{PLAN_ID}</div>' in out.read_text(encoding="utf-8")
    elif fmt == "pdf":
        assert out.read_bytes().startswith(b"%PDF")
    elif fmt == "gpx":
        assert len(gpxpy.parse(out.read_text(encoding="utf-8")).waypoints) == len(body["cells"])
    elif fmt == "kml":
        assert ET.parse(out).getroot().tag == f"{{{KML_NS}}}kml"
    else:
        assert json.loads(out.read_text(encoding="utf-8")) == body


@pytest.mark.parametrize(("name", "extra", "fmt"), [
    ("plan.html", [], "html"), ("plan.PDF", [], "pdf"), ("plan.gpx", [], "gpx"),
    ("plan.kml", [], "kml"), ("plan.json", [], "json"), ("plan.txt", ["--format", "json"],
                                                          "json"),
    ("plan.htm", [], "html"),
])
def test_cli_writes_every_format(db: Path, rich: TestClient, tmp_path: Path, name: str,
                                 extra: list[str], fmt: str) -> None:
    out = tmp_path / name
    result = run(db, "--area", SOUTH, "--date", DAY, "--out", str(out), *extra)
    assert result.exit_code == 0, result.output
    match = SUMMARY.search(result.output)
    assert match and match.groups() == (PLAN_ID, fmt), result.output
    check_file(out, fmt, get_plan(rich))


def test_cli_takes_the_shift_options(db: Path, rich: TestClient, tmp_path: Path) -> None:
    out = tmp_path / "p.json"
    result = run(db, "--area", SOUTH, "--date", DAY, "--start", "06:30", "--hours", "4.5",
                 "--officers", "3", "--top", "3", "--out", str(out))
    assert result.exit_code == 0, result.output
    written = json.loads(out.read_text(encoding="utf-8"))
    assert written == get_plan(rich, start="06:30", hours=4.5, officers=3, top=3)


@pytest.mark.parametrize(("args", "message"), [
    (["--area", SOUTH, "--date", DAY, "--out", "{tmp}/p.txt"], "--format html|pdf"),
    (["--area", SOUTH, "--date", DAY, "--out", "{tmp}/none/p.html"], "does not exist"),
    (["--area", SOUTH, "--date", DAY, "--start", "25:00", "--out", "{tmp}/p.html"], "HH:MM"),
    (["--area", SOUTH, "--date", "2025-02-30", "--out", "{tmp}/p.html"], "--date"),
    (["--area", SOUTH, "--date", DAY, "--hours", "13", "--out", "{tmp}/p.html"], "--hours"),
    (["--area", SOUTH, "--date", DAY, "--officers", "0", "--out", "{tmp}/p.html"],
     "--officers"),
    (["--area", SOUTH, "--date", DAY, "--format", "docx", "--out", "{tmp}/p.html"],
     "--format"),
    (["--date", DAY, "--out", "{tmp}/p.html"], "--area"),
])
def test_cli_bad_usage_exits_2(db: Path, tmp_path: Path, args: list[str], message: str
                               ) -> None:
    result = run(db, *(a.format(tmp=tmp_path) for a in args))
    assert result.exit_code == 2 and message in result.output, result.output
    assert not list(tmp_path.glob("p.*"))


def test_cli_domain_errors_exit_1(db: Path, unscored_db: Path, tmp_path: Path) -> None:
    out = tmp_path / "p.html"
    result = run(db, "--area", "E05999999", "--date", DAY, "--out", str(out))
    assert result.exit_code == 1 and "placerisk status" in result.output
    assert "E05999999" in result.output
    result = run(unscored_db, "--area", SOUTH, "--date", DAY, "--out", str(out))
    assert result.exit_code == 1 and "run `placerisk score`" in result.output
    assert not out.exists()


def test_cli_help_explains_koper_and_the_bias_guardrail() -> None:
    result = CliRunner().invoke(main, ["patrol-plan", "--help"])
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    assert "Koper curve" in text and "10-15 minutes" in text
    assert "independently reported concern" in text and "discovered by patrols are not counted" in text
    assert "patrol-plan" in CliRunner().invoke(main, ["--help"]).output


def test_the_command_module_imports_before_or_after_the_cli() -> None:
    code = ("import api.cli.patrol, api.cli; "
            "print(api.cli.main.commands['patrol-plan'].name)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parents[2], check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "patrol-plan"
