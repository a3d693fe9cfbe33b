"""One rule for outcome verdicts: every view gives an activity the same words (issue 10, item 9).

No verdict and no significance claim until the after window is complete, on /outcomes,
/api/outcomes, /outcomes.csv, the ward profile, the briefing pack and ``placerisk outcomes``;
progress ("day 6 of 90") instead. Read on a fixed day, never today.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from api.app import create_app
from api.cli import main
from api.settings import Settings
from layers.action.outcomes.measures import TOO_EARLY, VERDICT_NAMES
from maps.style import escape

from .conftest import build_store, sign_in

AS_OF = "2025-07-01"  # the meeting, and the day every other view is read on
WARD = "E05000002"  # South Box: both activities below lie in it
AT = {"latitude": 54.58, "longitude": -1.31}
DONE, EARLY = "DONE-1", "A1"  # A1 (conftest) starts 2025-06-15: day 6 of 90 by the records
MORE = {
    "reports": [{"report_id": f"W{i}", "reported_on": f"2024-{11 + i // 10}-{1 + 2 * (i % 10):02d}",
                 "mace_level": 3, **AT} for i in range(14)]
    + [{"report_id": "W-after", "reported_on": "2025-03-01", "mace_level": 3, **AT}],
    "activities": [{"activity_id": DONE, "activity_type": "premises_closure",
                    "started_at": "2025-01-05T10:00", "agency": "Police", **AT}],
}
# words of a significance test or a verdict: none may be shown while the window runs
CLAIMS = re.compile(r"chance|interval|worked|displaced|no clear effect|too few|worse|"
                    r"fell by|rose by|WDQ|after window not over", re.IGNORECASE)


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleNamespace]:
    db = build_store(tmp_path_factory.mktemp("words"), more=MORE)
    with TestClient(create_app(Settings(db=str(db), tiles="none"))) as c:
        yield SimpleNamespace(client=sign_in(c), db=db)


def _row_html(page: str, activity_id: str) -> str:
    """The one table row naming ``activity_id`` in a cell of its own."""
    rows = [r for r in re.findall(r"<tr[^>]*>.*?</tr>", page, re.S)
            if f">{escape(activity_id)}<" in r]
    assert len(rows) == 1, (activity_id, rows)
    return rows[0]


def _views(app: SimpleNamespace, tmp_path: Path) -> dict[str, dict[str, dict]]:
    """Per view, per activity: the code and the verdict words it shows."""
    c = app.client
    api = {r["id"]: r for r in c.get("/api/outcomes", params={"as_of": AS_OF}).json()["data"]
           if r["level"] == "activity"}
    text = c.get("/outcomes.csv", params={"purpose": "JAG review", "as_of": AS_OF}).text
    csv_rows = {r["id"]: r for r in csv.DictReader(io.StringIO(text)) if r["level"] == "activity"}
    out = tmp_path / "o.json"
    result = CliRunner().invoke(main, ["--db", str(app.db), "outcomes", "--as-of", AS_OF,
                                       "--out", str(out)])
    assert result.exit_code == 0, result.output
    cli = {r["id"]: r for r in json.loads(out.read_text(encoding="utf-8"))["data"]
           if r["level"] == "activity"}
    return {"api": api, "csv": csv_rows, "cli": cli}


def test_every_view_gives_an_activity_the_same_words(app: SimpleNamespace, tmp_path: Path) -> None:
    views = _views(app, tmp_path)
    c = app.client
    outcomes_page = c.get("/outcomes", params={"as_of": AS_OF}).text
    ward_page = c.get(f"/wards/{WARD}", params={"as_of": AS_OF}).text
    pack = c.get("/briefing", params={"meeting": AS_OF, "since": "2025-01-01"}).text
    done, early = views["api"][DONE], views["api"][EARLY]
    assert done["complete"] and done["reports_code"] not in (TOO_EARLY, None)
    assert "chance" in done["reports_verdict"]
    assert not early["complete"] and early["reports_code"] == TOO_EARLY
    assert (early["after_day"], early["after_days"]) == (6, 90)
    assert early["reports_verdict"] == (
        "Day 6 of 90 of the after window (it ends on 2025-09-12), as far as the records "
        "reach (2025-06-20): no verdict until they cover the whole window.")
    for activity in (DONE, EARLY):
        code = views["api"][activity]["reports_code"]
        words = views["api"][activity]["reports_verdict"]
        for name in ("csv", "cli"):
            row = views[name][activity]
            assert (row["reports_code"], row["reports_verdict"]) == (code, words), name
        label = VERDICT_NAMES[code]
        row = _row_html(outcomes_page, activity)
        assert f">{escape(label)}</span>" in row and escape(words) in row
        assert escape(f"{label}: {words}") in _row_html(ward_page, activity)
        assert f"<b>{escape(label)}</b>: {escape(words)}" in _row_html(pack, activity)


def test_an_incomplete_window_shows_no_verdict_and_no_significance(app: SimpleNamespace,
                                                                   tmp_path: Path) -> None:
    views = _views(app, tmp_path)
    for name in ("api", "cli"):
        row = views[name][EARLY]
        for measure in ("reports", "harm"):
            assert row[f"{measure}_code"] == TOO_EARLY
            assert not CLAIMS.search(row[f"{measure}_verdict"])
            for field in ("Ra", "gross_effect", "net_effect", "wdq", "wdq_reading", "wdd",
                          "wdd_p", "wdd_z", "wdd_ci_low", "wdd_ci_high", "local_p",
                          "displacement_p"):
                assert row[f"{measure}_{field}"] is None, (name, measure, field)
    row = views["csv"][EARLY]
    assert row["reports_wdd_p"] == row["reports_Ra"] == row["harm_wdd"] == ""
    c = app.client
    pages = {"outcomes": c.get("/outcomes", params={"as_of": AS_OF}).text,
             "ward": c.get(f"/wards/{WARD}", params={"as_of": AS_OF}).text,
             "briefing": c.get("/briefing", params={"meeting": AS_OF}).text}
    for name, page in pages.items():
        shown = re.sub(r"<[^>]+>", " ", _row_html(page, EARLY))
        assert "Day 6 of 90" in shown, name
        assert not CLAIMS.search(shown), (name, CLAIMS.search(shown))
