"""The briefing pack printed on A4 (issue 10, item 12): no clipped column, changes first.

WeasyPrint lays the pack out (``HTML(...).render()``) and the layout boxes are walked: every
table cell, and every line of text in it, must lie within the page's content box; the first
section after the title is the hot spot changes, on page 1; the run and its parameters come
last. The demo pack is built for a fixed day, never today.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from weasyprint import HTML
from weasyprint.urls import URLFetcher

from api.services.briefing import render_briefing
from layers.hotspots.engine import ScoreParams
from layers.hotspots.runs import run_scoring
from layers.records import importer as loader
from layers.records.demo import approximate_areas, make_demo_data
from layers.reporting.briefing import SECTIONS, build_briefing
from layers.store.engine import Store, open_store, replace_areas
from maps.briefing_page import TITLES, briefing_page_html
from tests.layers.reporting.test_briefing import make_inputs

END = dt.date(2025, 6, 30)  # the demo's last day and the run's as-of date
MEETING = dt.date(2025, 7, 1)
PARAMETERS = "Reproducing this pack"
TOLERANCE = 0.5  # CSS px


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """The demo data ending on `END`, scored as of `END` (as ``make demo`` does today)."""
    folder = tmp_path_factory.mktemp("demo-pack")
    store = open_store(folder / "demo.db")
    areas = approximate_areas()
    replace_areas(store, areas, source="approximate demo areas", allow_older=True)
    data = make_demo_data(seed=42, end=END, areas=areas)
    for kind in ("places", "reports", "activities"):
        path = folder / f"{kind}.csv"
        getattr(data, kind).to_csv(path, index=False)
        assert loader.import_file(store, kind, path).rejected == 0
    run_scoring(store, ScoreParams(as_of=END), known_by=dt.datetime.now(dt.UTC))
    yield store
    store.close()


def _layout(page: str) -> Any:
    return HTML(string=page, url_fetcher=URLFetcher(allowed_protocols={"data"})).render()


def _boxes(box: Any) -> Iterator[Any]:
    yield box
    for child in getattr(box, "children", None) or ():
        yield from _boxes(child)


def _text(box: Any) -> str:
    return "".join(b.text for b in _boxes(box) if type(b).__name__ == "TextBox")


def overflows(document: Any) -> list[str]:
    """Table cells past the page's content box, and text past its cell, page by page."""
    found = []
    for number, page in enumerate(document.pages, start=1):
        root = page._page_box
        left, right = root.content_box_x(), root.content_box_x() + root.width
        for cell in (b for b in _boxes(root) if type(b).__name__ == "TableCellBox"):
            x0 = cell.border_box_x()
            x1 = x0 + cell.border_width()
            if x0 < left - TOLERANCE or x1 > right + TOLERANCE:
                found.append(f"page {number}: cell {_text(cell)[:40]!r} spans {x0:.0f}-{x1:.0f}"
                             f" of {left:.0f}-{right:.0f}")
            for line in (b for b in _boxes(cell) if type(b).__name__ == "TextBox"):
                if line.position_x + line.width > x1 + TOLERANCE:
                    found.append(f"page {number}: text {line.text[:40]!r} runs out of its cell")
    return found


def headings(document: Any) -> list[tuple[int, str, str]]:
    """(page, tag, text) of every h1 and h2, in reading order."""
    return [(number, b.element_tag, _text(b).strip())
            for number, page in enumerate(document.pages, start=1)
            for b in _boxes(page._page_box)
            if type(b).__name__ == "BlockBox" and b.element_tag in ("h1", "h2")]


def check_order(document: Any) -> None:
    found = headings(document)
    assert found[0][:2] == (1, "h1")
    titles = [text for _, tag, text in found if tag == "h2"]
    # the changes first (on the title's page), every section in order, the parameters last
    assert [t.rsplit(" (", 1)[0] for t in titles] == [*(TITLES[n] for n in SECTIONS),
                                                     PARAMETERS]
    assert found[1][0] == 1 and found[1][2].startswith(TITLES["hotspots"])
    assert found[-1][2] == PARAMETERS and found[-1][0] > found[-2][0]  # a page of its own


def test_the_demo_pack_fits_a4_with_the_changes_first(demo_store: Store, tmp_path: Path
                                                      ) -> None:
    page = render_briefing(demo_store, meeting=MEETING, since=None).decode("utf-8")
    document = _layout(page)
    assert overflows(document) == []
    check_order(document)
    actions = [t for _, _, t in headings(document) if t.startswith(TITLES["actions"])]
    assert actions != [TITLES["actions"] + " (0)"]  # the outcome column was printed
    pdf = render_briefing(demo_store, meeting=MEETING, since=None, fmt="pdf")
    assert pdf.startswith(b"%PDF") and len(document.pages) > 5


def test_long_imported_words_wrap_inside_their_column() -> None:
    """No text can push a column off the page: a 120-character word, in every column."""
    word = "X" * 120
    base = make_inputs()
    inputs = dataclasses.replace(
        base,
        activities=base.activities.assign(source_id=word, agency=word, outcome=word,
                                          activity_type="housing_provider_visit_" + word),
        places=base.places.assign(name=word),
        levels=base.levels.assign(reason=word),
        wards=base.wards.assign(name=word))
    document = _layout(briefing_page_html(build_briefing(inputs)))
    assert overflows(document) == []
    check_order(document)
