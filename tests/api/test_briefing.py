"""The JAG briefing pack: ``/briefing``, ``/briefing.pdf`` and ``placerisk briefing``."""

from __future__ import annotations

import datetime as dt
import functools
import html
import re
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from fastapi.testclient import TestClient

from api.cli import main
from layers.records import demo
from layers.reporting.briefing import SECTIONS
from layers.store import schema
from tests._pages import page_text
from tests.api.conftest import IMG, NOTE, SCRIPT, build_store

MEETING = "2025-07-01"  # the day after the synthetic run's as-of date, 2025-06-30
PNG_URL = re.compile(r'src="data:image/png;base64,[A-Za-z0-9+/=]+"')
PATHS = ["/briefing", "/briefing.pdf"]
MORE = {
    "places": [{"place_id": "P7", "name": f"{SCRIPT} Arcade", "category": "shop",
                "latitude": 54.585, "longitude": -1.31, "mace_level": 4,
                "assessed_on": "2025-06-20", "review_due": "2025-06-25",
                "level_reason": f"{IMG} seen with older youths"}],
    "activities": [{"activity_id": f"{IMG}A3", "activity_type": "premises_closure",
                    "started_at": "2025-06-28T09:00", "place_id": "P7",
                    "agency": "{{ 6*7 }}zz", "outcome": SCRIPT}],
}


def section(page: str, name: str) -> str:
    return page.split(f'<section class="section" id="{name}">')[1].split("</section>")[0]


def check_page(page: str) -> None:
    """Every section in order with its map; nothing imported unescaped; no notes."""
    assert re.findall(r'<section class="section" id="(\w+)">', page) == list(SECTIONS)
    assert len(PNG_URL.findall(page)) == len(SECTIONS)
    assert "<script" not in page and "<img src=x" not in page
    assert "42zz" not in page_text(page) and NOTE not in page_text(page)


# --- routes ------------------------------------------------------------------------------

def test_page_for_a_meeting_after_the_run(client: TestClient, synthetic) -> None:
    response = client.get("/briefing", params={"meeting": MEETING})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    check_page(page)
    assert "JAG briefing pack: meeting 2025-07-01" in page
    assert "2025-06-03 (28 days before the meeting)" in page
    assert f"as of <b>{synthetic.AS_OF}</b>" in page and "placerisk score --as-of 2025-06-30" in page
    actions = section(page, "actions")
    assert "A1" in actions and "A2" in actions  # started 2025-06-15 and 2025-06-20
    assert ("<b>too early to measure</b>: Day 6 of 90 of the after window (it ends on "
            "2025-09-12), as far as the records reach (2025-06-20)") in actions
    assert "Safe Youth Club" in section(page, "top_places")


def test_since_narrows_the_period(client: TestClient) -> None:
    page = client.get("/briefing", params={"meeting": MEETING, "since": "2025-06-16"}).text
    actions = section(page, "actions")
    assert "A2" in actions and "A1" not in actions
    assert "--since 2025-06-16" in page


def test_imported_text_is_escaped_and_notes_left_out(rich_client: TestClient) -> None:
    response = rich_client.get("/briefing", params={"meeting": MEETING})
    assert response.status_code == 200
    check_page(response.text)
    assert html.escape(SCRIPT) in section(response.text, "top_places")  # the ward's name


def test_pdf_is_an_attachment(client: TestClient) -> None:
    response = client.get("/briefing.pdf", params={"meeting": MEETING})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"] == (
        'attachment; filename="placerisk-briefing-2025-07-01.pdf"')
    assert response.content.startswith(b"%PDF") and len(response.content) > 5000


def test_openapi_lists_the_routes(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert "/briefing" in paths and "/briefing.pdf" in paths


@pytest.mark.parametrize("path", PATHS)
def test_no_run_as_of_the_meeting_is_404(client: TestClient, path: str) -> None:
    response = client.get(path, params={"meeting": "2025-06-29"})
    assert response.status_code == 404
    assert "run `placerisk score --as-of 2025-06-29`" in html.unescape(response.text)


@pytest.mark.parametrize("path", PATHS)
def test_no_run_at_all_is_404(unscored_client: TestClient, path: str) -> None:
    assert unscored_client.get(path, params={"meeting": MEETING}).status_code == 404


@pytest.mark.parametrize("path", PATHS)
def test_since_after_the_meeting_is_422(client: TestClient, path: str) -> None:
    response = client.get(path, params={"meeting": MEETING, "since": "2025-07-02"})
    assert response.status_code == 422
    assert "since: 2025-07-02 is after the meeting date 2025-07-01" in response.text


@pytest.mark.parametrize("bad", [
    {"meeting": "2025-02-30"}, {"meeting": "01/07/2025"}, {"meeting": "20250701"},
    {"meeting": ""}, {"meeting": "2025-07-01T00:00"}, {"since": "2025-02-30"},
    {"since": "yesterday"}, {"since": ""}, {}, {"meeting": "0001-01-01"},
    {"meeting": "9999-12-31"}, {"since": "1800-01-01"},
])
@pytest.mark.parametrize("path", PATHS)
def test_bad_dates_are_422(client: TestClient, path: str, bad: dict) -> None:
    params = {"meeting": MEETING, **bad} if bad else {}
    response = client.get(path, params=params)
    assert response.status_code == 422, response.text
    if "2025-02-30" in bad.values():
        assert "not a day of the calendar" in response.text


# --- the CLI -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The synthetic store with a place whose level changed and review is overdue."""
    return build_store(tmp_path_factory.mktemp("briefing"), more=MORE)


def run(db: Path, *args: str):
    return CliRunner().invoke(main, ["--db", str(db), "briefing", *args],
                              catch_exceptions=False)


@pytest.mark.parametrize(("name", "fmt"), [("pack.html", "html"), ("pack.PDF", "pdf"),
                                           ("pack.htm", "html")])
def test_cli_writes_html_and_pdf(db: Path, tmp_path: Path, name: str, fmt: str) -> None:
    out = tmp_path / name
    result = run(db, "--meeting", MEETING, "--out", str(out))
    assert result.exit_code == 0, result.output
    assert f"meeting of 2025-07-01: wrote {out} as {fmt}" in result.output
    if fmt == "pdf":
        assert out.read_bytes().startswith(b"%PDF")
        return
    page = out.read_text(encoding="utf-8")
    check_page(page)
    levels, reviews = section(page, "level_changes"), section(page, "reviews")
    assert html.escape(f"{IMG} seen with older youths") in levels
    assert '<tr class="overdue">' in reviews and "overdue by 6 days" in reviews
    assert "&#123;&#123; 6*7 &#125;&#125;zz" in section(page, "actions")


@pytest.mark.parametrize(("args", "message"), [
    (["--meeting", MEETING, "--out", "{tmp}/p.txt"], "use a .html or .pdf file"),
    (["--meeting", MEETING, "--out", "{tmp}/none/p.html"], "does not exist"),
    (["--meeting", MEETING, "--since", "2025-07-02", "--out", "{tmp}/p.html"], "--since"),
    (["--meeting", "2025-02-30", "--out", "{tmp}/p.html"], "--meeting"),
    (["--out", "{tmp}/p.html"], "--meeting"),
    (["--meeting", "9999-12-31", "--out", "{tmp}/p.html"], "--meeting"),
    (["--meeting", MEETING, "--since", "1800-01-01", "--out", "{tmp}/p.html"], "--since"),
])
def test_cli_bad_usage_exits_2(db: Path, tmp_path: Path, args: list[str], message: str
                               ) -> None:
    result = run(db, *(a.format(tmp=tmp_path) for a in args))
    assert result.exit_code == 2 and message in result.output, result.output
    assert not list(tmp_path.glob("p.*"))


def test_cli_without_a_run_exits_1_saying_what_to_run(db: Path, tmp_path: Path) -> None:
    out = tmp_path / "p.html"
    result = run(db, "--meeting", "2025-06-01", "--out", str(out))
    assert result.exit_code == 1
    assert "run `placerisk score --as-of 2025-06-01`" in result.output
    assert not out.exists()


def test_cli_help_explains_the_pack() -> None:
    result = CliRunner().invoke(main, ["briefing", "--help"])
    text = " ".join(result.output.split())
    assert result.exit_code == 0
    for words in ("new, intensifying and fading hot spots", "MACE level changed",
                  "reviews due", "measured outcome", "top 3 places per ward",
                  "28 days before the meeting", "reproduced", "no place notes"):
        assert words in text, words
    assert "briefing" in CliRunner().invoke(main, ["--help"]).output


# --- the synthetic demo ------------------------------------------------------------------

# The demo's data end on the day it is made: run it on a fixed day as well as on the real one,
# so that a failure is reproducible and the real day still gets its say.
DEMO_DAYS = [pytest.param(dt.date(2025, 7, 1), id="fixed-2025-07-01"),
             pytest.param(None, id="today")]


@pytest.mark.parametrize("day", DEMO_DAYS)
def test_demo_pack_outcomes_and_plans(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                      day: dt.date | None) -> None:
    """Demo data and a run: the pack, an outcome row per disruption, a plan per format."""
    day = day or dt.date.today()
    monkeypatch.setattr(demo, "make_demo_data", functools.partial(demo.make_demo_data, end=day))
    iso = day.isoformat()
    # the records are stored now: count them all, whatever the day the demo ends on
    known_by = (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M")
    db = str(tmp_path / "demo.db")
    for args in (["demo-data"], ["score", "--as-of", iso, "--known-by", known_by]):
        result = CliRunner().invoke(main, ["--db", db, *args], catch_exceptions=False)
        assert result.exit_code == 0, result.output
    for name in ("pack.html", "pack.pdf"):
        result = run(Path(db), "--meeting", iso, "--out", str(tmp_path / name))
        assert result.exit_code == 0, result.output
    page = (tmp_path / "pack.html").read_text(encoding="utf-8")
    check_page(page)
    for name in SECTIONS:
        assert f'<table class="{name}">' in section(page, name), name
    assert "Synthetic demo data" in page
    assert (tmp_path / "pack.pdf").read_bytes().startswith(b"%PDF")
    # every demo disruption has an outcome row, and a patrol plan of a demo ward exports
    outcomes_json = tmp_path / "outcomes.json"
    result = CliRunner().invoke(main, ["--db", db, "outcomes", "--out", str(outcomes_json)])
    assert result.exit_code == 0, result.output
    import json

    from layers.hotspots import read as hotspots_read
    from layers.records import read as records_read
    from layers.store.engine import open_store

    rows = json.loads(outcomes_json.read_text(encoding="utf-8"))["data"]
    store = open_store(db)
    try:
        with store.connect() as conn:
            activities = records_read.activities(conn).rows
            last = conn.execute(sa.select(sa.func.max(schema.reports.c.reported_on))).scalar()
            ward = hotspots_read.ward_ranking(conn)[1].iloc[0]["ward_code"]
    finally:
        store.close()
    assert day - dt.timedelta(days=30) < last <= day  # the demo ended on the day asked for
    measured = {r["id"] for r in rows if r["level"] == "activity"}
    assert measured == set(activities.loc[activities["h3_cell"].notna(), "source_id"])
    assert {r["reports_code"] for r in rows} <= {"worked", "displaced", "no_effect",
                                                 "too_few", "worse", "too_early"}
    for suffix in (".gpx", ".kml", ".pdf"):
        out = tmp_path / f"plan{suffix}"
        result = CliRunner().invoke(main, ["--db", db, "patrol-plan", "--area", ward,
                                           "--date", iso, "--out", str(out)])
        assert result.exit_code == 0, result.output
        assert out.stat().st_size > 500
