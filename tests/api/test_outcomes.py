"""Outcome measures over HTTP and from the CLI."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from api.app import create_app
from api.cli import main
from api.settings import Settings

from .conftest import build_store, sign_in

FORMULA = "=HYPERLINK(\"http://x\")"
SCRIPT = "<script>alert(1)</script>"
MORE = {"activities": [
    {"activity_id": SCRIPT, "activity_type": "premises_closure",
     "started_at": "2025-05-01T10:00", "latitude": 54.58, "longitude": -1.31,
     "jag_ref": FORMULA},
    {"activity_id": "A9", "activity_type": "licensing_visit",
     "started_at": "2025-05-02T10:00", "latitude": 54.58, "longitude": -1.31,
     "jag_ref": FORMULA},
]}


@pytest.fixture(scope="module")
def outcomes_client(tmp_path_factory: pytest.TempPathFactory):
    db = build_store(tmp_path_factory.mktemp("outcomes"), more=MORE)
    with TestClient(create_app(Settings(db=str(db), tiles="none"))) as c:
        yield sign_in(c)


def test_outcomes_page_escapes_and_sorts(outcomes_client: TestClient) -> None:
    r = outcomes_client.get("/outcomes", params={"sort": "start", "order": "desc"})
    assert r.status_code == 200
    page = r.text
    assert SCRIPT not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "Which kinds of action work" in page and "Weighted Displacement" in page
    # the rows are in descending start order
    starts = [line for line in page.split("<tr>") if "2025-05-0" in line]
    assert starts.index(next(s for s in starts if "2025-05-02" in s)) < \
        starts.index(next(s for s in starts if "2025-05-01" in s))


def test_outcomes_json(outcomes_client: TestClient) -> None:
    body = outcomes_client.get("/api/outcomes").json()
    assert body["days"] == 90 and body["count"] == len(body["data"]) == 5  # 4 + a campaign
    campaign = [r for r in body["data"] if r["level"] == "campaign"]
    assert [c["id"] for c in campaign] == [FORMULA]
    assert all(r["reports_code"] in body["verdicts"] for r in body["data"])
    only = outcomes_client.get("/api/outcomes", params={"type": "licensing_visit"}).json()
    assert {r["activity_type"] for r in only["data"]} == {"licensing_visit",
                                                         "licensing_visit+premises_closure"}
    json.dumps(body, allow_nan=False)  # no NaN in the JSON


def test_outcomes_csv_is_formula_safe(outcomes_client: TestClient) -> None:
    assert outcomes_client.get("/outcomes.csv").status_code == 422  # no purpose given
    r = outcomes_client.get("/outcomes.csv", params={"purpose": "JAG review"})
    assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert {row["jag_ref"] for row in rows if row["jag_ref"]} == {"'" + FORMULA}


@pytest.mark.parametrize("query", [{"sort": "nonsense"}, {"days": "3"}, {"alpha": "nan"},
                                   {"order": "sideways"}])
def test_bad_parameters_are_422(outcomes_client: TestClient, query: dict) -> None:
    assert outcomes_client.get("/api/outcomes", params=query).status_code == 422


def test_cli_outcomes_writes_each_format(tmp_path: Path) -> None:
    db = build_store(tmp_path, more=MORE)
    runner = CliRunner()
    for suffix in (".csv", ".json", ".html"):
        out = tmp_path / f"o{suffix}"
        result = runner.invoke(main, ["--db", str(db), "outcomes", "--out", str(out)])
        assert result.exit_code == 0, result.output
        assert "4 activities and 1 campaigns measured" in result.output
        assert out.stat().st_size > 200
    assert SCRIPT not in (tmp_path / "o.html").read_text(encoding="utf-8")
    bad = runner.invoke(main, ["--db", str(db), "outcomes", "--out", str(tmp_path / "o.txt")])
    assert bad.exit_code == 2 and "use a .csv, .json or .html file" in bad.output
    bad = runner.invoke(main, ["--db", str(db), "outcomes", "--crime-type", "Nope"])
    assert bad.exit_code == 2 and "not in the police.uk data loaded" in bad.output
