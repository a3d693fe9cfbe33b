import re

import h3
import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from geo import _parallel
from geo.h3index import (
    H3Error,
    cells_to_latlng,
    cells_to_parent,
    cells_to_polygons,
    cells_to_str,
    check_resolution,
    latlng_to_cells,
    polygon_to_cells,
    str_to_cells,
)

# No example database in the repository, no deadline on a shared, noisy machine.
SETTINGS = settings(database=None, deadline=None, max_examples=60)

LATS = st.floats(-90, 90, allow_nan=False)
LNGS = st.floats(-180, 180, allow_nan=False)
RESOLUTIONS = st.integers(0, 15)


def reference_cells(lat, lng, resolution):
    """h3-py, one point at a time: the reference implementation."""
    return [
        h3.latlng_to_cell(a, b, resolution) for a, b in zip(lat.tolist(), lng.tolist(), strict=True)
    ]


@SETTINGS
@given(
    points=st.integers(0, 50).flatmap(
        lambda n: st.tuples(
            arrays(np.float64, n, elements=LATS), arrays(np.float64, n, elements=LNGS)
        )
    ),
    resolution=RESOLUTIONS,
)
def test_cells_equal_h3_anywhere_at_any_resolution(points, resolution):
    lat, lng = points
    cells = latlng_to_cells(lat, lng, resolution=resolution)
    assert cells.dtype == np.uint64
    assert cells_to_str(cells).tolist() == reference_cells(lat, lng, resolution)


@pytest.mark.parametrize("workers", [2, 3])
def test_cells_equal_h3_on_the_threaded_path(monkeypatch, workers):
    # Force the thread pool whatever the machine's CPU count; 3 workers split unevenly.
    monkeypatch.setattr(_parallel, "WORKERS", workers)
    n = _parallel.PARALLEL_MIN + 50_001  # over the threshold, and not a multiple of the workers
    rng = np.random.default_rng(42)
    lat = np.r_[rng.uniform(54.45, 54.65, n // 2), rng.uniform(-90, 90, n - n // 2)]
    lng = np.r_[rng.uniform(-1.46, -1.15, n // 2), rng.uniform(-180, 180, n - n // 2)]
    cells = latlng_to_cells(lat, lng, resolution=9)
    assert len(cells) == n
    expected = np.array([h3.str_to_int(c) for c in reference_cells(lat, lng, 9)], np.uint64)
    np.testing.assert_array_equal(cells, expected)


def test_cells_of_a_known_point():
    cells = latlng_to_cells(np.array([54.5705]), np.array([-1.3183]), resolution=9)
    assert cells_to_str(cells).tolist() == ["89194655863ffff"]


def test_no_points_give_no_cells():
    cells = latlng_to_cells(np.array([]), np.array([]), resolution=9)
    assert cells.dtype == np.uint64
    assert len(cells) == 0


def test_missing_coordinates_raise():
    with pytest.raises(ValueError, match="NaN"):
        latlng_to_cells(np.array([54.5, np.nan]), np.array([-1.3, -1.3]), resolution=9)


@SETTINGS
@given(
    lat=arrays(np.float64, st.integers(0, 40), elements=LATS),
    resolution=RESOLUTIONS,
)
def test_str_round_trip(lat, resolution):
    lng = np.linspace(-180, 180, len(lat))
    cells = latlng_to_cells(lat, lng, resolution=resolution)
    text = cells_to_str(cells)
    assert text.dtype == object
    assert all(isinstance(t, str) and len(t) == 15 for t in text)
    np.testing.assert_array_equal(str_to_cells(text), cells)
    np.testing.assert_array_equal(str_to_cells(list(text)), cells)
    assert [h3.get_resolution(t) for t in text] == [resolution] * len(text)


def test_empty_str_round_trip():
    assert cells_to_str(np.array([], np.uint64)).tolist() == []
    assert str_to_cells([]).dtype == np.uint64


@pytest.mark.parametrize(
    ("cells", "item"),
    [
        (["not a cell"], "item 0: 'not a cell'"),
        (["89194655863ffff", "89194655863fff"], "item 1: '89194655863fff'"),  # 14 digits
        (["89194655863ffff", ""], "item 1: ''"),
        ([None], "item 0: None"),
    ],
)
def test_bad_cell_strings_raise_naming_the_item(cells, item):
    with pytest.raises(H3Error, match="is not an H3 cell id") as info:
        str_to_cells(cells)
    assert item in str(info.value)


@pytest.mark.parametrize("resolution", [-1, 16, 100, 9.0, "9", None])
def test_bad_resolutions_raise(resolution):
    with pytest.raises(H3Error, match="H3 resolution must be an integer 0-15"):
        check_resolution(resolution)
    with pytest.raises(H3Error, match=re.escape(repr(resolution))):
        latlng_to_cells(np.array([54.5]), np.array([-1.3]), resolution=resolution)
    with pytest.raises(H3Error):
        polygon_to_cells(shapely.box(-1.4, 54.5, -1.3, 54.6), resolution=resolution)


@pytest.mark.parametrize("resolution", [0, 9, 15, np.int64(9)])
def test_good_resolutions_pass(resolution):
    assert check_resolution(resolution) == int(resolution)


def test_h3_error_is_a_value_error():
    assert issubclass(H3Error, ValueError)


BOXES = st.tuples(
    st.floats(-1.5, -1.1), st.floats(54.4, 54.7), st.floats(0.001, 0.05), st.floats(0.001, 0.05)
).map(lambda t: shapely.box(t[0], t[1], t[0] + t[2], t[1] + t[3]))


@SETTINGS
@given(geom=BOXES, resolution=st.integers(7, 10))
def test_polygon_cover_full_within_centroid_within_overlap(geom, resolution):
    full = polygon_to_cells(geom, resolution=resolution, contain="full")
    centroid = polygon_to_cells(geom, resolution=resolution, contain="centroid")
    overlap = polygon_to_cells(geom, resolution=resolution, contain="overlap")
    assert set(full) <= set(centroid) <= set(overlap)
    assert len(overlap) > 0
    if len(full):
        assert shapely.within(cells_to_polygons(full), geom).all()
    assert shapely.intersects(cells_to_polygons(overlap), geom).all()
    assert shapely.union_all(cells_to_polygons(overlap)).covers(geom)


def test_polygon_cover_of_real_wards(stockton_2024):
    for geom in stockton_2024.geometry:
        full = polygon_to_cells(geom, resolution=9, contain="full")
        overlap = polygon_to_cells(geom, resolution=9, contain="overlap")
        assert len(full) > 0
        assert np.isin(full, overlap).all()
        assert len(np.unique(overlap)) == len(overlap)


def test_polygon_cover_rejects_unknown_mode():
    with pytest.raises(H3Error, match="contain must be one of"):
        polygon_to_cells(shapely.box(-1.4, 54.5, -1.3, 54.6), resolution=9, contain="inside")


@SETTINGS
@given(lat=st.floats(49, 61), lng=st.floats(-9, 2.5), resolution=st.integers(1, 15))
def test_cell_centre_and_parent(lat, lng, resolution):
    cell = latlng_to_cells(np.array([lat]), np.array([lng]), resolution=resolution)
    centre_lat, centre_lng = cells_to_latlng(cell)
    again = latlng_to_cells(centre_lat, centre_lng, resolution=resolution)
    np.testing.assert_array_equal(again, cell)
    (text,) = cells_to_str(cell).tolist()
    (parent,) = cells_to_parent([text], resolution=resolution - 1)
    assert text in h3.cell_to_children(parent, resolution)
