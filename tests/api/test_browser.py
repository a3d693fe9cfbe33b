"""The served views in a real browser: headless Chromium driven by Playwright.

Checks what only a browser can: the map renders with its layers and legend, no JavaScript
error, no dialog opens for the injection names (popups and tooltips opened one by one), and
no request leaves for any host but the app (tiles are off). A screenshot of every view is
saved under ``out/screenshots/`` (override with ``PLACERISK_ARTIFACTS``).

Needs Debian's ``chromium`` (``.ci/run`` installs it); skipped with a reason elsewhere,
required under ``CI=true``.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
import uvicorn

from api.app import create_app
from api.settings import Settings
from maps import assets
from tests._pmtiles import write_pmtiles
from tests.conftest import ROOT, missing

from .conftest import PASSWORD, build_store

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic",
        "--no-first-run", "--disable-component-update", "--disable-sync"]
BACKTICK = "Cafe `whoami` corner"
TEMPLATE_LITERAL = "${document.title='x'}"
BACKSLASH = "Back\\slash \\u0022 place\\"
INJECTIONS = ["<script>alert(1)</script>", "<img src=x onerror=alert(1)>", BACKTICK,
              TEMPLATE_LITERAL, BACKSLASH]
MORE = {"places": [
    {"place_id": f"X{i}", "name": name, "category": "shop", "address": name,
     "latitude": 54.552 + 0.004 * i, "longitude": -1.345 + 0.008 * i, "mace_level": 3}
    for i, name in enumerate([BACKTICK, TEMPLATE_LITERAL, BACKSLASH])]}
VIEWS = {"jag": "/", "ward": "/wards/E05000002/map", "patrol": "/patrol?ward=E05000002",
         "guardian": "/guardian"}
# The injection names each view must show as text (the ward view shows its own places only;
# the patrol and guardian views show no place names at all).
SHOWN = {"jag": INJECTIONS, "ward": ["<script>alert(1)</script>", "{{ 6*7 }}zz"],
         "patrol": [], "guardian": []}
# An element each view must show: its legend or its table of cells.
EXPECTED = {"jag": ".placerisk-legend", "ward": ".placerisk-legend",
            "patrol": ".placerisk-patrol-table", "guardian": ".placerisk-legend"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(settings: Settings) -> Iterator[str]:
    """The app with ``settings``, served by uvicorn in a thread: its base URL."""
    if not Path(CHROMIUM).exists():
        missing(f"headless Chromium not found at {CHROMIUM} (Debian package chromium)")
    port = _free_port()
    app = create_app(settings)
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app over a synthetic store with injection names, no tiles."""
    db = build_store(tmp_path_factory.mktemp("browser"), more=MORE)
    with serving(Settings(db=str(db), tiles="none")) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


OPEN_EVERYTHING = """() => {
  // Open every popup and tooltip, feature by feature, as a click or hover would.
  const name = Object.keys(window).find(k => k.startsWith('map_') && window[k] && window[k].eachLayer);
  const map = window[name];
  const texts = [];
  const read = (item) => { const el = item && item.getElement(); if (el) texts.push(el.textContent); };
  map.eachLayer(group => {
    const popup = group.getPopup && group.getPopup();
    const tooltip = group.getTooltip && group.getTooltip();
    if (!(popup || tooltip) || !group.eachLayer) return;
    group.eachLayer(sub => {
      const latlng = sub.getLatLng ? sub.getLatLng() : sub.getBounds().getCenter();
      if (popup) { group.fire('click', {layer: sub, latlng: latlng}); read(group.getPopup()); group.closePopup(); }
      if (tooltip) { group.fire('mouseover', {layer: sub, latlng: latlng}); read(group.getTooltip()); group.closeTooltip(); }
    });
  });
  // Clustered places carry their own popup and tooltip: build each one's content in the page.
  (window.placeriskClusters || []).forEach(cluster => cluster.getLayers().forEach(marker => {
    [marker.getPopup(), marker.getTooltip()].forEach(item => {
      if (!item) return;
      const content = item.getContent();
      const el = typeof content === 'function' ? content(marker) : content;
      texts.push(typeof el === 'string' ? el : el.textContent);
    });
  }));
  return texts;
}"""


CLICK_TOP_CELL = """() => {
  const name = Object.keys(window).find(k => k.startsWith('map_') && window[k] && window[k].eachLayer);
  let done = false;
  window[name].eachLayer(l => {
    if (!done && l instanceof L.Polygon && !l.feature && l.listens('click')) {
      l.fire('click', {latlng: l.getBounds().getCenter()});
      done = true;
    }
  });
  return done;
}"""
CLICK_FIRST_PLACE = """() => {
  // The place may sit in a cluster: zoom until it is drawn on its own, then click it.
  const cluster = (window.placeriskClusters || [])[0];
  if (!cluster) return false;
  const marker = cluster.getLayers().find(m => m.feature && 'level' in m.feature.properties);
  if (!marker) return false;
  cluster.zoomToShowLayer(marker, () => marker.fire('click', {latlng: marker.getLatLng()}));
  return true;
}"""
CENTRE = """() => {
  const name = Object.keys(window).find(k => k.startsWith('map_') && window[k] && window[k].eachLayer);
  const c = window[name].getCenter(); return [c.lat.toFixed(5), c.lng.toFixed(5), window[name].getZoom()];
}"""
COUNT_POLYGONS = """() => {
  const name = Object.keys(window).find(k => k.startsWith('map_') && window[k] && window[k].eachLayer);
  let hexes = 0, places = 0;
  window[name].eachLayer(l => {
    if (l instanceof L.Polygon && !(l.feature)) hexes++;
    if (l instanceof L.CircleMarker) places++;
  });
  let clusters = 0;
  (window.placeriskClusters || []).forEach(c => { clusters++; places += c.getLayers().length; });
  return {hexes: hexes, places: places, clusters: clusters};
}"""


def signed_page(browser, server: str, role: str = "analyst"):
    """A page of a fresh browser context, signed in as ``role`` through the sign-in form."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.goto(server + "/login?next=/api/me")
    page.fill(".placerisk-login input[name=name]", role)
    page.fill(".placerisk-login input[name=password]", PASSWORD)
    with page.expect_navigation():
        page.click(".placerisk-login button[type=submit]")
    assert f'"role":"{role}"' in page.content()
    return page


ROLE = {"jag": "analyst", "ward": "analyst", "patrol": "police", "guardian": "guardian"}


@pytest.mark.parametrize("view", sorted(VIEWS))
def test_view_renders_safely_in_chromium(server: str, browser, view: str) -> None:
    page = signed_page(browser, server, ROLE[view])
    errors: list[str] = []
    dialogs: list[str] = []
    foreign: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    app_host = urlparse(server).netloc
    page.on("request", lambda r: foreign.append(r.url)
            if urlparse(r.url).scheme in ("http", "https") and urlparse(r.url).netloc != app_host
            else None)
    page.goto(server + VIEWS[view], wait_until="networkidle")
    page.wait_for_selector(".leaflet-container")
    assert page.locator(EXPECTED[view]).count() >= 1, EXPECTED[view]
    if view in ("jag", "ward"):
        assert page.locator(".leaflet-control-layers").count() == 1
        overlays = page.locator(".leaflet-control-layers-overlays label").all_inner_texts()
        assert any("Places" in t for t in overlays) and any("Cell" in t for t in overlays)
        drawn = page.evaluate(COUNT_POLYGONS)
        assert drawn["hexes"] > 0 and drawn["places"] > 0
    if view == "jag":  # dense places are grouped, each cluster coloured by its worst level
        assert drawn["clusters"] == 1
        assert page.locator(".placerisk-cluster").count() >= 1
    else:
        assert page.locator("path.leaflet-interactive").count() > 0  # hexes drawn
    if view == "jag":  # search finds a ward and takes the map there
        before = page.evaluate(CENTRE)
        page.fill(".placerisk-search input", "south")
        result = page.locator(".placerisk-search-results li").first
        assert "South Box" in result.inner_text()
        result.click()
        page.wait_for_timeout(400)
        assert page.evaluate(CENTRE) != before
    if view == "jag":  # the time slider moves and repaints the hot and cold spots
        label = page.locator(".placerisk-slider-label")
        last = label.inner_text()
        page.eval_on_selector(".placerisk-slider input",
                              "el => { el.value = 0; el.dispatchEvent(new Event('input')); }")
        assert label.inner_text() != last and "step of" in label.inner_text()
        assert page.locator(".leaflet-control-layers-overlays input:checked").count() >= 3
    if view == "jag":  # a cell's popup explains it: score, trend chart, contributors
        page.evaluate(CLICK_TOP_CELL)
        popup = page.locator(".placerisk-cell-popup")
        popup.locator("svg.placerisk-trend").wait_for(timeout=5000)
        text = popup.inner_text()
        assert "Top contributors" in text and "Recent activities" in text and "Score" in text
        page.evaluate("() => window[Object.keys(window).find(k => k.startsWith('map_') "
                      "&& window[k] && window[k].eachLayer)].closePopup()")
        # a place's popup grows its level history and activities, asked of the app
        assert page.evaluate(CLICK_FIRST_PLACE)
        detail = page.locator(".placerisk-place-detail")
        detail.get_by_text("Level history").wait_for(timeout=5000)
        assert "Review due" in detail.inner_text()
        page.evaluate("() => window[Object.keys(window).find(k => k.startsWith('map_') "
                      "&& window[k] && window[k].eachLayer)].closePopup()")
    texts = page.evaluate(OPEN_EVERYTHING)
    shown = "\n".join(texts)
    for name in SHOWN[view]:
        assert name in shown, f"{name!r} not shown as text in any popup or tooltip"
    assert page.title() != "x"
    out = Path(os.environ.get("PLACERISK_ARTIFACTS", ROOT / "out" / "screenshots"))
    out.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(out / f"{view}.png"))
    page.close()
    assert errors == []
    assert dialogs == []
    assert foreign == []


def test_jag_filters_reload_the_map_on_the_matching_reports(server: str, browser) -> None:
    page = signed_page(browser, server)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(server + "/", wait_until="networkidle")
    page.click(".placerisk-filters summary")
    page.select_option(".placerisk-filter-form select[name=category]", "takeaway")
    page.fill(".placerisk-filter-form input[name=from]", "2025-01-01")
    with page.expect_navigation(wait_until="networkidle"):
        page.click(".placerisk-filter-form button[type=submit]")
    assert "category=takeaway" in page.url and "from=2025-01-01" in page.url
    assert "Filtered: 2025-01-01 to now; takeaway" in page.inner_text(".placerisk-filter-state")
    overlays = page.locator(".leaflet-control-layers-overlays label").all_inner_texts()
    assert any("Concern reports (filtered)" in t for t in overlays)
    assert page.locator("path.leaflet-interactive").count() > 0
    page.click(".placerisk-filter-form a")  # Clear
    page.wait_for_load_state("networkidle")
    assert "No filter" in (page.text_content(".placerisk-filter-state") or "")
    page.close()
    assert errors == []


def test_signing_in_and_out_in_the_browser(server: str, browser) -> None:
    context = browser.new_context()
    page = context.new_page()
    page.goto(server + "/wards")  # not signed in: the sign-in page, then back to /wards
    assert page.locator(".placerisk-login").count() == 1
    page.fill(".placerisk-login input[name=name]", "analyst")
    page.fill(".placerisk-login input[name=password]", "not the password")
    with page.expect_navigation():
        page.click(".placerisk-login button[type=submit]")
    assert "Wrong user name or password" in page.content()
    page.fill(".placerisk-login input[name=name]", "analyst")
    page.fill(".placerisk-login input[name=password]", PASSWORD)
    with page.expect_navigation():
        page.click(".placerisk-login button[type=submit]")
    assert page.url.endswith("/wards") and "South Box" in page.content()
    cookie = next(c for c in context.cookies() if c["name"] == "placerisk_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    # a guardian signing in lands on the guardian view, and the JAG map is refused
    other = signed_page(browser, server, "guardian")
    other.goto(server + "/")
    assert "Not allowed" in other.content()
    context.close()


def test_signed_out_visit_to_the_map_signs_in_and_comes_back(server: str, browser) -> None:
    context = browser.new_context()
    page = context.new_page()
    page.goto(server + "/")  # signed out: on to the sign-in page, which knows where from
    assert urlparse(page.url).path == "/login"
    assert parse_qs(urlparse(page.url).query)["next"] == ["/"]
    assert page.title() == "placerisk: sign in"
    page.fill(".placerisk-login input[name=name]", "analyst")
    page.fill(".placerisk-login input[name=password]", PASSWORD)
    with page.expect_navigation():
        page.click(".placerisk-login button[type=submit]")
    page.wait_for_selector(".leaflet-container")
    assert urlparse(page.url).path == "/" and page.title() == "placerisk: JAG map"
    context.close()


def test_patrol_without_a_ward_offers_a_ward_picker(server: str, browser) -> None:
    page = signed_page(browser, server, "police")
    page.goto(server + "/patrol")
    assert page.title() == "placerisk: Choose a ward"
    page.select_option(".placerisk-ward-form select[name=ward]", "E05000001")
    with page.expect_navigation():
        page.click(".placerisk-ward-form button[type=submit]")
    assert page.url.endswith("/patrol?ward=E05000001")
    page.wait_for_selector(".placerisk-patrol-table")
    assert page.title() == "Patrol view: ward E05000001"
    page.close()


def test_api_docs_render_from_the_app_alone(server: str, browser) -> None:
    page = signed_page(browser, server, "police")
    errors: list[str] = []
    foreign: list[str] = []
    app_host = urlparse(server).netloc
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: foreign.append(r.url)
            if urlparse(r.url).scheme in ("http", "https") and urlparse(r.url).netloc != app_host
            else None)
    page.goto(server + "/docs", wait_until="networkidle")
    page.locator(".swagger-ui .opblock").first.wait_for(timeout=10_000)
    assert page.locator(".swagger-ui .opblock").count() > 20  # every operation listed
    assert "valid version field" not in page.content()
    page.close()
    assert errors == [] and foreign == []


# --- a base map from the app's own PMTiles archive ---------------------------------------

@pytest.fixture(scope="module")
def pmtiles_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app drawing every view over a tiny PMTiles archive it serves itself."""
    if assets.pmtiles_js() is None:
        missing("the pmtiles script is not vendored: run make install (needs npm)")
    folder = tmp_path_factory.mktemp("pmtiles")
    db = build_store(folder)
    archive = write_pmtiles(folder / "base.pmtiles")
    settings = Settings(db=str(db), tiles="pmtiles", guardian_tiles="pmtiles",
                        pmtiles=str(archive))
    with serving(settings) as url:
        yield url


@pytest.mark.parametrize("view", ["jag", "guardian"])
def test_a_pmtiles_base_map_asks_the_app_only(pmtiles_server: str, browser, view: str
                                              ) -> None:
    page = signed_page(browser, pmtiles_server, ROLE[view])
    errors: list[str] = []
    hosts: set[str] = set()
    ranges: list[int] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("request", lambda r: hosts.add(urlparse(r.url).netloc)
            if urlparse(r.url).scheme in ("http", "https") else None)
    page.on("response", lambda r: ranges.append(r.status)
            if urlparse(r.url).path == assets.PMTILES_FILE_ROUTE else None)
    page.goto(pmtiles_server + VIEWS[view], wait_until="networkidle")
    tile = page.locator("img.leaflet-tile[src^='blob:']").first
    tile.wait_for(state="attached", timeout=10_000)  # tiles drawn from the archive
    page.wait_for_load_state("networkidle")
    page.close()
    assert hosts == {urlparse(pmtiles_server).netloc}
    assert ranges and set(ranges) == {206}  # read in byte ranges, never whole
    assert errors == []
