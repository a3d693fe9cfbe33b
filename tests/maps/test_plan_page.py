"""The printable patrol plan: `maps.plan_page.plan_page_html`, `plan_map_png`, `html_to_pdf`."""

from __future__ import annotations

import datetime as dt
import re

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from geo import h3index
from layers.action.patrol.shift import NOT_IN_PLAN, PatrolPlan, plan_shift, plan_vs_done
from maps.plan_page import (
    BIAS_NOTE,
    KOPER_NOTE,
    PATROL_COUNTED_NOTE,
    html_to_pdf,
    plan_map_png,
    plan_page_html,
)
from maps.style import escape
from tests._pages import page_text, without_data_payloads

WARD = "E05000002"
SCRIPT = "<script>alert(1)</script>"
TEMPLATE = "{{ 6*7 }}zz"
URL = re.compile(r"""(?:https?:|ftp:|file:)?//[^\s"'()<>]+""", re.IGNORECASE)
DAY = dt.date(2025, 7, 1)


def ward_cells() -> pd.DataFrame:
    centre = h3index.latlng_to_cells(np.array([54.575]), np.array([-1.312]), resolution=9)
    ids = h3index.grid_disk(str(h3index.cells_to_str(centre)[0]), 1)
    return pd.DataFrame({"h3_cell": ids, "score": np.arange(len(ids), 0, -1, dtype=float),
                         "category": "persistent hot spot", "ward_code": WARD})


def make_plan(**kwargs: object) -> PatrolPlan:
    params: dict = {"ward_code": WARD, "date": DAY, "hours": 8, "officers": 2, "top": 5}
    return plan_shift(ward_cells(), **{**params, **kwargs})


def rows(page: str, css_class: str) -> list[str]:
    tables = re.findall(rf'<table class="{css_class}">.*?</table>', page, flags=re.S)
    return [r for t in tables for r in re.findall(r"<tbody>(.*?)</tbody>", t, flags=re.S)
            for r in re.findall(r"<tr>(.*?)</tr>", r, flags=re.S)]


@pytest.fixture(scope="module")
def plan() -> PatrolPlan:
    return make_plan()


def test_page_shows_ward_shift_officers_plan_id_and_coverage(plan: PatrolPlan) -> None:
    page = plan_page_html(plan, ward_name="South Box", as_of=dt.date(2025, 6, 30))
    assert page.startswith("<!DOCTYPE html>")
    assert f"South Box ({WARD})" in page and DAY.isoformat() in page
    assert "18:00-02:00 (next day)" in page
    assert f'<div class="plan-id">{plan.plan_id}</div>' in page and "jag_ref" in page
    assert f"<b>{100 * plan.coverage:.0f}%</b> of the ward's current harm" in page
    assert "<b>Officers</b> 2" in page and "2025-06-30" in page
    assert escape(BIAS_NOTE) in page and escape(KOPER_NOTE) in page
    assert "@page { size: A4" in page


def test_one_table_row_per_visit(plan: PatrolPlan) -> None:
    page = plan_page_html(plan, ward_name="South Box")
    visits = rows(page, "visits")
    assert len(visits) == len(plan.visits) > len(plan.cells)
    assert page.count('<table class="visits">') == plan.visits["officer"].nunique() == 2
    first = plan.visits[plan.visits["officer"] == 1].sort_values("arrive").iloc[0]
    assert visits[0] == (f"<td>{first.arrive:%H:%M}-{first.leave:%H:%M}</td><td>1</td>"
                         f"<td>{first.label}</td><td>{first.dwell_minutes} min</td>"
                         f"<td>{first.h3_cell}</td>")


def test_done_against_planned_has_a_row_per_cell_and_one_outside(plan: PatrolPlan) -> None:
    cell = plan.cells.iloc[0]
    activities = pd.DataFrame({
        "h3_cell": [cell["h3_cell"], "89194655813ffff", cell["h3_cell"]],
        "started_at": ["2025-07-01 18:05", "2025-07-01 19:00", "2025-07-01 20:00"],
        "ended_at": ["2025-07-01 18:17", None, "2025-07-01 20:10"],
        "jag_ref": [plan.plan_id, plan.plan_id, "PP-other"],
    })
    done = plan_vs_done(plan, activities)
    page = plan_page_html(plan, ward_name="W", done=done)
    table = rows(page, "done")
    assert len(table) == len(done) == len(plan.cells) + 1
    assert "Done against planned" in page
    assert f"<td>{cell['label']}</td>" in table[0] and "<td>visited</td>" in table[0]
    assert '<td class="num">12 min</td>' in table[0]
    assert f"<td>{NOT_IN_PLAN}</td>" in table[-1] and '<td class="num">1</td>' in table[-1]
    assert "Done against planned" not in plan_page_html(plan, ward_name="W")


@pytest.mark.parametrize("name", [SCRIPT, TEMPLATE, '"><img src=x onerror=alert(1)>'])
def test_every_text_is_escaped(plan: PatrolPlan, name: str) -> None:
    page = plan_page_html(plan, ward_name=name, notice=name)
    assert name not in page and escape(name) in page
    assert "<script" not in page.lower() and "<img src=x" not in page
    assert "42zz" not in page_text(page)


def test_page_makes_no_external_request(plan: PatrolPlan) -> None:
    png = plan_map_png(plan, areas=gpd.GeoDataFrame(
        geometry=[shapely.box(-1.325, 54.55, -1.30, 54.60)], crs="EPSG:4326"))
    page = plan_page_html(plan, ward_name="South Box", map_png=png)
    sources = re.findall(r'src="([^"]*)"', page)
    assert len(sources) == 1 and sources[0].startswith("data:image/png;base64,")
    text = without_data_payloads(page)  # base64 may hold "//" or "http" by chance
    assert URL.findall(text) == []
    assert "http" not in text.lower() and "<script" not in text.lower()
    assert "<link" not in page and "@import" not in page and "url(" not in page


def test_no_map_no_image(plan: PatrolPlan) -> None:
    assert "<img" not in plan_page_html(plan, ward_name="W")


def test_bias_note_follows_the_run(plan: PatrolPlan) -> None:
    page = plan_page_html(plan, ward_name="W", independent=False)
    assert escape(PATROL_COUNTED_NOTE) in page and escape(BIAS_NOTE) not in page


def test_a_ward_with_nothing_to_patrol() -> None:
    empty = plan_shift(ward_cells().assign(score=0.0), ward_code=WARD, date=DAY)
    page = plan_page_html(empty, ward_name="W", done=plan_vs_done(empty, pd.DataFrame(
        columns=["h3_cell", "started_at", "ended_at", "jag_ref"])))
    assert "nothing to patrol" in page and rows(page, "visits") == []
    assert len(rows(page, "done")) == 1  # the "not in plan" row
    assert plan_map_png(empty)[:4] == b"\x89PNG"


def test_officers_without_cells_are_listed() -> None:
    few = make_plan(officers=4, top=2)
    page = plan_page_html(few, ward_name="W")
    assert "<h2>Officer 4</h2>" in page and page.count("No visits:") == 2


def test_map_png_labels_cells_with_order_and_call_sign(plan: PatrolPlan) -> None:
    png = plan_map_png(plan, size=(3, 3), dpi=40)
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and png == plan_map_png(plan, size=(3, 3), dpi=40)


def test_pdf_prints_without_fetching_anything(plan: PatrolPlan) -> None:
    page = plan_page_html(plan, ward_name="South Box", map_png=plan_map_png(plan))
    pdf = html_to_pdf(page)
    assert pdf.startswith(b"%PDF") and len(pdf) > 5000
    # a page that did name an external image still prints, without the image
    remote = page.replace("</body>", '<img src="http://127.0.0.1:9/x.png"></body>')
    assert html_to_pdf(remote).startswith(b"%PDF")
