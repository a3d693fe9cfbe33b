"""The printable JAG briefing pack: `maps.briefing_page`."""

from __future__ import annotations

import dataclasses
import html
import re

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from layers.action.outcomes.measures import TOO_EARLY, VERDICTS
from layers.reporting import briefing as b
from maps.briefing_page import (
    CHANGE_COLOURS,
    TITLES,
    VERDICT_COLOURS,
    _points,
    briefing_page_html,
    section_maps,
)
from maps.printing import html_to_pdf
from tests._pages import page_text, without_data_payloads
from tests.layers.reporting.test_briefing import SINCE, make_inputs

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
TEMPLATE = "{{ 6*7 }}zz"
URL = re.compile(r"""(?:https?:|ftp:|file:)?//[^\s"'()<>]+""", re.IGNORECASE)
PNG_URL = re.compile(r'src="data:image/png;base64,[A-Za-z0-9+/=]+"')


def hostile_inputs() -> b.BriefingInputs:
    """The hand-built pack with markup in every imported text."""
    base = make_inputs()
    places = base.places.assign(name=[SCRIPT, IMG, TEMPLATE, SCRIPT, IMG, SCRIPT, IMG,
                                      TEMPLATE])
    levels = base.levels.assign(reason=SCRIPT + " reason")
    acts = base.activities.assign(source_id=[f"{IMG}{i}" for i in range(6)],
                                  agency=TEMPLATE, outcome=SCRIPT)
    outcomes = base.outcomes.assign(id=[f"{IMG}1", f"{IMG}2", f"{IMG}4", "c"],
                                    reports_verdict=SCRIPT + " verdict")
    wards = base.wards.assign(name=[SCRIPT, IMG])
    return dataclasses.replace(base, places=places, levels=levels, activities=acts,
                               outcomes=outcomes, wards=wards, since=SINCE)


@pytest.fixture(scope="module")
def pack() -> b.Briefing:
    return b.build_briefing(hostile_inputs())


@pytest.fixture(scope="module")
def areas() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"code": ["W1", "W2"], "name": ["North", "South"]},
                            geometry=[shapely.box(-1.35, 54.55, -1.32, 54.60),
                                      shapely.box(-1.32, 54.55, -1.29, 54.60)],
                            crs="EPSG:4326")


@pytest.fixture(scope="module")
def maps(pack: b.Briefing, areas: gpd.GeoDataFrame) -> dict[str, bytes]:
    return section_maps(pack, areas, size=(3, 2), dpi=50)


@pytest.fixture(scope="module")
def page(pack: b.Briefing, maps: dict[str, bytes]) -> str:
    return briefing_page_html(pack, maps=maps, notice=f"demo {SCRIPT}")


def test_imported_text_is_escaped(page: str) -> None:
    assert "<script" not in page and "<img src=x" not in page
    assert "{{" not in page and "42zz" not in page_text(page)
    assert "onerror=alert(1)&gt;" in page  # the ids, names and agencies are shown, escaped
    assert html.escape(SCRIPT) + " reason" in page
    assert html.escape(SCRIPT) + " verdict" in page
    assert "&#123;&#123; 6*7 &#125;&#125;zz" in page
    assert f"demo {html.escape(SCRIPT)}" in page


def test_the_page_makes_no_request(page: str) -> None:
    sources = re.findall(r'(?:src|href)="([^"]*)"', page)
    assert len(sources) == len(b.SECTIONS)
    assert all(s.startswith("data:image/png;base64,") for s in sources)
    text = without_data_payloads(page)  # base64 may hold "//" or "http" by chance
    assert URL.findall(text) == [] and "http" not in text.lower()
    assert "<script" not in text and "<link" not in text and "@import" not in text
    assert "url(" not in text


def test_every_section_is_present_in_order_with_its_map(page: str) -> None:
    ids = re.findall(r'<section class="section" id="(\w+)">', page)
    assert ids == list(b.SECTIONS)
    for name in b.SECTIONS:
        assert html.escape(TITLES[name]) in page
        section = page.split(f'id="{name}"')[1].split("</section>")[0]
        assert len(PNG_URL.findall(section)) == 1
        assert f'<table class="{name}">' in section


def test_maps_are_pngs_per_section(maps: dict[str, bytes]) -> None:
    assert set(maps) == set(b.SECTIONS)
    assert all(png.startswith(b"\x89PNG\r\n\x1a\n") for png in maps.values())
    assert len(set(maps.values())) == len(maps)  # each section draws its own rows


def test_header_and_footer_state_the_run_and_parameters(page: str) -> None:
    top, footer = page.split('<section class="section"')[0], page.split("<footer>")[1]
    for text in ("meeting 2025-07-01", "2025-06-03", "2025-06-30", "0123456789abcdef"):
        assert text in top, text
    # the chair reads the changes first: the run and its parameters come after every section
    last = page.split('<section class="section" id="top_places">')[1]
    assert "Reproducing this pack" not in top and "Reproducing this pack" in last
    parameters = last.split('<section class="parameters" id="parameters">')[1]
    for text in ("placerisk score --as-of 2025-06-30", "--since 2025-06-03", "trend_alpha",
                 "weights.report_levels", "outcomes.window_days"):
        assert text in parameters, text
    for text in ("meeting 2025-07-01", "since 2025-06-03", "as of 2025-06-30", "run 7",
                 "0123456789abcdef", "90-day windows"):
        assert text in footer, text
    assert '@bottom-left { content: "placerisk JAG briefing, meeting 2025-07-01' in page


def test_overdue_reviews_are_marked(page: str) -> None:
    reviews = page.split('id="reviews"')[1].split("</section>")[0]
    assert reviews.count('<tr class="overdue">') == 3
    assert "overdue by 30 days" in reviews and "due in 14 days" in reviews
    assert "due on the meeting day" in reviews


def test_map_labels_are_the_table_row_numbers(pack: b.Briefing) -> None:
    points = _points(pack.actions, ["#000000"] * len(pack.actions))
    assert points["label"].tolist() == ["1", "2", "4"]  # the third action has no location
    assert set(CHANGE_COLOURS) == set(b.CHANGES)
    assert set(VERDICT_COLOURS) >= {*VERDICTS, TOO_EARLY, b.NOT_MEASURED}


def test_an_empty_pack_still_renders_every_section() -> None:
    inputs = make_inputs(states=pd.DataFrame({"h3_cell": [], "states": []}),
                         levels=make_inputs().levels.iloc[:0], activities=make_inputs()
                         .activities.iloc[:0], places=make_inputs().places.iloc[:0])
    pack = b.build_briefing(inputs)
    assert not any(len(pack.section(n)) for n in b.SECTIONS)
    page = briefing_page_html(pack, maps=section_maps(pack, None, size=(2, 2), dpi=40))
    assert page.count("<i>No ") == len(b.SECTIONS)
    assert len(PNG_URL.findall(page)) == len(b.SECTIONS)


def test_the_page_prints_to_pdf(page: str) -> None:
    pdf = html_to_pdf(page)
    assert pdf.startswith(b"%PDF") and len(pdf) > 5000
