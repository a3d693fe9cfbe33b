"""Static map images: `maps.static.render_png`, `figure_for` and `png_data_url`."""

from __future__ import annotations

import base64
import struct

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from geo import h3index
from geo.crs import CRSError
from maps.static import EMPTY, figure_for, nice_length, png_data_url, render_png

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SOUTH = shapely.box(-1.325, 54.55, -1.30, 54.60)


def png_size(png: bytes) -> tuple[int, int]:
    """Width and height from the PNG's IHDR chunk."""
    assert png[:8] == PNG_MAGIC and png[12:16] == b"IHDR"
    width, height = struct.unpack(">II", png[16:24])
    return width, height


def areas(*geoms: object, crs: str = "EPSG:4326") -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"code": [f"W{i}" for i in range(len(geoms))]},
                            geometry=list(geoms), crs=crs)


def ring_cells() -> pd.DataFrame:
    centre = h3index.latlng_to_cells(np.array([54.575]), np.array([-1.312]), resolution=9)
    ids = h3index.grid_disk(str(h3index.cells_to_str(centre)[0]), 1)
    return pd.DataFrame({"h3_cell": ids, "colour": ["#bd0026"] + ["#fecc5c"] * (len(ids) - 1),
                         "label": [f"Bravo {i + 1}" for i in range(len(ids))]})


POINTS = pd.DataFrame({"lat": [54.57, 54.58], "lng": [-1.31, -1.305],
                       "colour": ["#1a9641", "#d7191c"], "label": ["Point A", None]})


def texts(fig) -> list[str]:
    return [t.get_text() for t in fig.findobj(lambda a: hasattr(a, "get_text"))]


def test_png_has_the_magic_bytes_and_size() -> None:
    png = render_png(areas=areas(SOUTH), cells=ring_cells(), points=POINTS, title="South",
                     size=(6, 5), dpi=110)
    assert png_size(png) == (660, 550)
    assert png_size(render_png(size=(3, 2), dpi=50)) == (150, 100)


def test_same_input_gives_the_same_bytes() -> None:
    def draw() -> bytes:
        return render_png(areas=areas(SOUTH), cells=ring_cells(), points=POINTS, title="T")

    first = draw()
    assert draw() == first
    assert render_png(cells=ring_cells()) != first
    assert b"Software" not in first and b"tIME" not in first


@pytest.mark.parametrize("kwargs", [
    {}, {"areas": areas()}, {"cells": ring_cells().iloc[:0]}, {"points": POINTS.iloc[:0]},
    {"areas": areas(shapely.Polygon())},
])
def test_empty_inputs_still_give_an_image(kwargs: dict) -> None:
    png = render_png(**kwargs, size=(2, 2), dpi=40)
    assert png_size(png) == (80, 80)
    assert EMPTY in texts(figure_for(**kwargs))


def test_labels_title_scale_bar_and_north_arrow_are_drawn() -> None:
    cells = ring_cells()
    fig = figure_for(areas=areas(SOUTH), cells=cells, points=POINTS, title="Ward <b>")
    drawn = texts(fig)
    for label in cells["label"]:
        assert drawn.count(label) == 1
    assert "Point A" in drawn and "Ward <b>" in drawn and "N" in drawn
    assert any(t.endswith(" m") or t.endswith(" km") for t in drawn)
    assert EMPTY not in drawn
    ax = fig.axes[0]
    assert len(ax.collections) >= 3  # outlines, hexagons, points


def test_the_map_is_projected_not_squashed() -> None:
    """A 0.025 x 0.05 degree box is about 1.6 x 5.6 km: drawn in metres, taller than wide."""
    ax = figure_for(areas=areas(SOUTH)).axes[0]
    outline = ax.collections[0].get_segments()[0]
    width, height = np.ptp(outline[:, 0]), np.ptp(outline[:, 1])
    assert 1500 < width < 1800 and 5400 < height < 5700
    assert ax.get_aspect() == 1.0


def test_dollar_signs_are_text_not_tex() -> None:
    cells = ring_cells().assign(label="$x^2$ & {{ 6*7 }}")
    render_png(cells=cells, title="$$")  # mathtext would fail on "$$"
    assert "$x^2$ & {{ 6*7 }}" in texts(figure_for(cells=cells))


def test_multipolygons_and_holes_are_outlined() -> None:
    holed = shapely.box(-1.35, 54.55, -1.30, 54.60).difference(
        shapely.box(-1.33, 54.56, -1.32, 54.57))
    multi = shapely.MultiPolygon([shapely.box(-1.35, 54.55, -1.34, 54.56),
                                  shapely.box(-1.32, 54.58, -1.31, 54.59)])
    ax = figure_for(areas=areas(holed, multi)).axes[0]
    assert len(ax.collections[0].get_segments()) == 4


def test_areas_must_be_wgs84() -> None:
    with pytest.raises(CRSError, match="EPSG:27700"):
        render_png(areas=areas(SOUTH).to_crs("EPSG:27700"))


@pytest.mark.parametrize(("kwargs", "missing"), [
    ({"cells": pd.DataFrame({"h3_cell": ["89194655813ffff"]})}, "colour"),
    ({"points": pd.DataFrame({"lat": [54.5], "colour": ["#000"]})}, "lng"),
])
def test_missing_columns_are_named(kwargs: dict, missing: str) -> None:
    with pytest.raises(ValueError, match=f"missing column.*{missing}"):
        render_png(**kwargs)


@pytest.mark.parametrize(("span", "length"), [(0, 50), (800, 200), (2000, 500), (4000, 1000),
                                              (12_000, 2500), (1e7, 50_000)])
def test_scale_bar_is_a_round_quarter(span: float, length: int) -> None:
    assert nice_length(span) == length


def test_data_url_round_trips() -> None:
    png = render_png(size=(1, 1), dpi=20)
    url = png_data_url(png)
    assert url.startswith("data:image/png;base64,")
    assert base64.b64decode(url.split(",", 1)[1]) == png
