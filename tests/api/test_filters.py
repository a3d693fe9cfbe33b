"""The JAG map's filters over HTTP and from the CLI."""

from __future__ import annotations

import html
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from api.cli import main
from layers.records.filters import MapFilter
from maps.filters import filter_panel_html

from .conftest import IMG, SCRIPT, build_store


def test_unfiltered_map_has_the_panel_but_no_report_layer(client: TestClient) -> None:
    page = client.get("/").text
    assert "placerisk-filters" in page and "No filter: everything held" in page
    assert "Concern reports (filtered)" not in page


def test_empty_form_fields_mean_no_filter(client: TestClient) -> None:
    page = client.get("/?from=&to=&type=&category=&authority=").text
    assert "No filter: everything held" in page


def test_category_filter_narrows_places_and_counts_reports(rich_client: TestClient) -> None:
    r = rich_client.get("/", params={"category": "takeaway"})
    assert r.status_code == 200
    page = r.text
    assert "Filtered: takeaway" in page and "Concern reports (filtered)" in page
    # P2 is the only takeaway: its two independent reports and one patrol-discovered
    assert "2 independent reports; 1 patrol-discovered" in page
    assert "Corner Shop" not in page and "Safe Youth Club" not in page
    assert page.count('"k":"place"') == 1 and SCRIPT not in page  # P2 alone, escaped
    assert '<option value="takeaway" selected>' in page


def test_date_range_narrows_reports(rich_client: TestClient) -> None:
    page = rich_client.get("/", params={"category": "takeaway", "from": "2025-06-05",
                                        "to": "2025-06-30"}).text
    assert "1 independent report; 1 patrol-discovered" in page
    assert 'name="from" value="2025-06-05"' in page


def test_unknown_authority_draws_an_empty_map(rich_client: TestClient) -> None:
    page = rich_client.get("/", params={"authority": "E06000099"}).text
    assert "authority E06000099" in page and "Corner Shop" not in page


@pytest.mark.parametrize(("query", "needle"), [
    ({"type": "drugs"}, "exploitation type: unknown value 'drugs'"),
    ({"category": "pub"}, "place category: unknown value 'pub'"),
    ({"from": "2025-13-01"}, "from: '2025-13-01' is not a day of the calendar; use YYYY-MM-DD"),
    ({"from": "2025-06-30", "to": "2025-06-01"}, "swap them"),
])
def test_bad_filter_is_422_naming_the_value(client: TestClient, query: dict,
                                            needle: str) -> None:
    r = client.get("/", params=query)  # a page: the message on an HTML page
    assert r.status_code == 422 and r.headers["content-type"].startswith("text/html")
    assert needle in html.unescape(r.text)


def test_panel_escapes_authority_names() -> None:
    html = filter_panel_html(MapFilter(authority_code="A1"),
                             authorities={"A1": SCRIPT, '"><b>': IMG})
    assert SCRIPT not in html and IMG not in html and "<b>" not in html
    assert "Filtered: &lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert '<option value="A1" selected>&lt;script&gt;' in html
    assert "<form" not in filter_panel_html(MapFilter(), authorities={}, interactive=False)


def test_cli_writes_a_filtered_jag_map(tmp_path: Path) -> None:
    db = build_store(tmp_path)
    out = tmp_path / "jag.html"
    runner = CliRunner()
    result = runner.invoke(main, ["--db", str(db), "map", "--category", "takeaway",
                                  "--from", "2025-06-01", "--out", str(out)])
    assert result.exit_code == 0, result.output
    page = out.read_text(encoding="utf-8")
    assert "Filtered: 2025-06-01 to now; takeaway" in page and "<form" not in page
    bad = runner.invoke(main, ["--db", str(db), "map", "--view", "guardian", "--category",
                               "takeaway", "--out", str(out)])
    assert bad.exit_code == 2 and "apply to --view jag only" in bad.output
