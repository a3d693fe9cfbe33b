"""Benchmark the size and speed of the maps, against a plain folium GeoJson layer.

What is measured
----------------
* ``map_demo_html``: the JAG map of the synthetic demo data (``placerisk demo-data`` then
  ``placerisk score``), served by the app: its HTML size and the warm time to serve ``/``
  (best of 5 after one warm-up request). Budget: at most 1.5 MB and 300 ms.
* ``map_50k_cells_html``: a map of 50,000 H3 cells at resolution 9 around Stockton-on-Tees.
  Ours sends cell ids and values and draws the hexagons in the browser with h3-js; the
  baseline is the same cells as a plain ``folium.GeoJson`` layer of polygons (what
  ``GeoDataFrame.explore`` and most folium code do). Budget: at most 3 MB.

Sizes are the rendered HTML in bytes (the served page loads Leaflet and h3-js from the app,
as a browser does; they are not counted). Times use ``time.perf_counter`` in this process.
"""

from __future__ import annotations

import datetime as dt
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import folium  # noqa: E402

from geo import h3index  # noqa: E402
from maps import assets  # noqa: E402
from maps.view import build_map, render_html  # noqa: E402

MB = 1_000_000


def _demo_client(folder: Path) -> Any:
    from click.testing import CliRunner
    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.cli import main
    from api.settings import Settings
    from layers.access import accounts_store as accounts
    from layers.store.engine import open_store

    db = folder / "demo.db"
    for args in (["demo-data", "--no-accounts"], ["score"]):
        result = CliRunner().invoke(main, ["--db", str(db), *args])
        assert result.exit_code == 0, result.output
    password = accounts.new_password()
    store = open_store(db)
    accounts.add_user(store, "bench", "analyst", password)
    store.close()
    client = TestClient(create_app(Settings(db=str(db))))
    token = client.post("/api/token", json={"name": "bench", "password": password}).json()
    client.headers["Authorization"] = f"Bearer {token['access_token']}"
    return client


def bench_demo_map() -> dict[str, Any]:
    """Size and warm serving time of the demo JAG map; baseline: its GeoJSON-hexagon twin."""
    from api.services.map import render_map_html
    from api.settings import Settings

    with tempfile.TemporaryDirectory() as tmp:
        client = _demo_client(Path(tmp))
        with client:
            client.get("/")
            times = []
            for _ in range(5):
                started = time.perf_counter()
                page = client.get("/").content
                times.append(time.perf_counter() - started)
            cells = client.get("/api/cells", params={"limit": 1}).json()["count"]
            store = client.app.state.store
            started = time.perf_counter()
            base = render_map_html(store, Settings(), client=False).encode()
            base_s = time.perf_counter() - started
    return {"name": "map_demo_html", "n": cells, "ours_s": min(times), "baseline_s": base_s,
            "ratio": base_s / min(times), "identical": None,
            "html_mb": round(len(page) / MB, 3), "baseline_html_mb": round(len(base) / MB, 3),
            "budget_mb": 1.5, "budget_s": 0.3, "h3js": assets.h3js_file() is not None,
            "notes": "ours: GET / served warm (best of 5); baseline: the same map rendered "
                     "with GeoJSON hexagons (no h3-js)"}


def _cells(n: int) -> pd.DataFrame:
    import shapely

    box = shapely.box(-2.2, 54.1, -0.6, 55.1)  # a wide box around Teesside
    cells = h3index.polygon_to_cells(box, resolution=9, contain="centroid")[:n]
    scores = np.random.default_rng(11).gamma(1.5, 3.0, len(cells))
    return pd.DataFrame({"h3_cell": h3index.cells_to_str(cells), "score": scores,
                         "category": "no pattern", "label": "", "ward_code": "E05014882"})


def _baseline_geojson(cells: pd.DataFrame, *, m: folium.Map | None = None) -> str:
    """The same cells as one plain folium GeoJson layer of polygons.

    With ``m`` given, Leaflet is inlined (no CDN) so the page opens offline in a browser.
    """
    import geopandas as gpd

    polygons = h3index.cells_to_polygons(h3index.str_to_cells(cells["h3_cell"].to_numpy()))
    frame = gpd.GeoDataFrame(cells[["h3_cell", "score"]], geometry=polygons, crs="EPSG:4326")
    inline = m is not None
    m = m or folium.Map(location=[54.6, -1.3], zoom_start=11, tiles=None)
    if inline:
        assets.use_inline_assets(m)
    folium.GeoJson(frame, style_function=lambda f: {"fillColor": "#bd0026", "weight": 0.5},
                   tooltip=folium.GeoJsonTooltip(["h3_cell", "score"])).add_to(m)
    return m.get_root().render()


def bench_50k_cells(n: int = 50_000) -> dict[str, Any]:
    """HTML size of a 50,000-cell map, ours (h3-js) against a folium GeoJson layer."""
    import geopandas as gpd

    cells = _cells(n)
    empty_areas = gpd.GeoDataFrame({"code": [], "name": [], "authority_name": []},
                                   geometry=[], crs="EPSG:4326")
    places = pd.DataFrame(columns=["name", "category", "address", "mace_level", "lat", "lng"])
    started = time.perf_counter()
    ours = render_html(build_map(empty_areas, cells, places, tiles=None, client=True))
    ours_s = time.perf_counter() - started
    started = time.perf_counter()
    base = _baseline_geojson(cells)
    base_s = time.perf_counter() - started
    return {"name": "map_50k_cells_html", "n": len(cells), "ours_s": ours_s,
            "baseline_s": base_s, "ratio": base_s / ours_s, "identical": None,
            "html_mb": round(len(ours.encode()) / MB, 3),
            "baseline_html_mb": round(len(base.encode()) / MB, 3), "budget_mb": 3.0}


DRAWN = """() => new Promise(resolve => {
  // Polygons on the map (SVG paths for GeoJSON, canvas shapes for h3-js), then one frame.
  const name = Object.keys(window).find(
    k => k.startsWith('map_') && window[k] && window[k].eachLayer);
  const count = () => {
    let n = 0;
    window[name].eachLayer(l => { if (l instanceof L.Polygon) n++; });
    return n;
  };
  const wait = () => {
    const n = count();
    if (n > 0) { requestAnimationFrame(() => resolve(n)); } else { setTimeout(wait, 10); }
  };
  wait();
})"""


def _draw_seconds(browser: Any, html: str, folder: Path, name: str) -> tuple[float, int]:
    """Seconds from opening ``html`` as a file to its hexagons painted, and how many."""
    path = folder / f"{name}.html"
    path.write_text(html, encoding="utf-8")
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    started = time.perf_counter()
    page.goto(path.as_uri(), wait_until="load", timeout=300_000)
    drawn = page.evaluate(DRAWN)
    seconds = time.perf_counter() - started
    page.close()
    return seconds, int(drawn)


def bench_draw_50k(n: int = 50_000) -> dict[str, Any] | None:
    """Browser time to open and draw a 50,000-cell map: h3-js against a folium GeoJson layer.

    Both pages are standalone files with Leaflet inline (no network), opened in headless
    Chromium; the clock stops at the first frame after the hexagons are in the page.
    """
    chromium = Path("/usr/bin/chromium")
    if not chromium.exists() or assets.h3js_file() is None:
        print("bench: Chromium or h3-js missing; browser drawing time not measured")
        return None
    import geopandas as gpd
    from playwright.sync_api import sync_playwright

    cells = _cells(n)
    empty_areas = gpd.GeoDataFrame({"code": [], "name": [], "authority_name": []},
                                   geometry=[], crs="EPSG:4326")
    places = pd.DataFrame(columns=["name", "category", "address", "mace_level", "lat", "lng"])
    ours = render_html(build_map(empty_areas, cells, places, tiles=None, client=True),
                       standalone=True)
    base_map = folium.Map(location=[54.6, -1.3], zoom_start=11, tiles=None)
    base = _baseline_geojson(cells, m=base_map)
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium), args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        ours_s, ours_n = _draw_seconds(browser, ours, Path(tmp), "ours")
        base_s, base_n = _draw_seconds(browser, base, Path(tmp), "base")
        browser.close()
    return {"name": "map_50k_cells_draw", "n": len(cells), "ours_s": ours_s,
            "baseline_s": base_s, "ratio": base_s / ours_s, "identical": None,
            "notes": f"headless Chromium, open file to first frame with hexagons; paths "
                     f"drawn: ours {ours_n}, baseline {base_n}"}


def bench_maps() -> list[dict[str, Any]]:
    """The map entries: demo map size and time, 50k-cell size, 50k-cell drawing time."""
    rows = [bench_demo_map(), bench_50k_cells()]
    drawn = bench_draw_50k()
    return rows + ([drawn] if drawn else [])


if __name__ == "__main__":
    for row in bench_maps():
        print(row, dt.datetime.now().isoformat())
