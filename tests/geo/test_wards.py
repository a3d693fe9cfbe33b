import geopandas as gpd
import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from geo.boundaries import read_boundaries
from geo.crs import WGS84
from geo.h3index import latlng_to_cells
from geo.wards import WardIndex

SETTINGS = settings(database=None, deadline=None, max_examples=150)


def random_points(bounds, n, *, seed, margin=0.02):
    """Uniform ``(lat, lng)`` in ``bounds`` grown by ``margin`` degrees: some fall outside."""
    minx, miny, maxx, maxy = bounds
    rng = np.random.default_rng(seed)
    lat = rng.uniform(miny - margin, maxy + margin, n)
    lng = rng.uniform(minx - margin, maxx + margin, n)
    return lat, lng


def sjoin_codes(wards, lat, lng):
    """The reference: GeoPandas' spatial join, NaN turned into None for points outside."""
    points = gpd.GeoDataFrame(geometry=gpd.points_from_xy(lng, lat), crs=WGS84)
    joined = gpd.sjoin(points, wards[["code", "geometry"]], how="left", predicate="within")
    assert joined.index.is_unique, "a point fell in two wards"
    codes = joined.sort_index()["code"].astype(object)
    return codes.where(codes.notna(), None).to_numpy()


def shapely_codes(wards, lat, lng):
    """The reference point by point: the one ward whose polygon contains it, else None."""
    geoms = np.asarray(wards.geometry.values)
    inside = np.stack([shapely.contains_xy(g, lng, lat) for g in geoms], axis=1)
    assert (inside.sum(axis=1) <= 1).all(), "a point is inside two wards"
    codes = wards["code"].to_numpy(dtype=object)
    return np.where(inside.any(axis=1), codes[inside.argmax(axis=1)], None)


def build(wards, resolution=9):
    return WardIndex(
        wards["code"].to_numpy(), np.asarray(wards.geometry.values), resolution=resolution
    )


def test_equals_sjoin_on_real_wards(stockton_2024, stockton_index):
    lat, lng = random_points(stockton_2024.total_bounds, 50_000, seed=1)
    got = stockton_index.assign(lat, lng)
    expected = sjoin_codes(stockton_2024, lat, lng)
    assert len(got) == len(lat)
    assert got.dtype == object
    assert got.tolist() == expected.tolist()
    outside = sum(code is None for code in got)
    assert 0.3 * len(lat) < outside < 0.7 * len(lat)  # the test covers both cases well
    assert set(got) - {None} == set(stockton_2024["code"])


@pytest.mark.parametrize("name", ["stockton_wards_2013.geojson", "hartlepool_wards_2013.geojson"])
@pytest.mark.parametrize("resolution", [7, 10])
def test_equals_sjoin_on_other_files_and_resolutions(boundaries_dir, name, resolution):
    wards = read_boundaries(boundaries_dir / name).areas
    lat, lng = random_points(wards.total_bounds, 10_000, seed=resolution)
    got = build(wards, resolution).assign(lat, lng)
    assert got.tolist() == sjoin_codes(wards, lat, lng).tolist()


def test_precomputed_cells_give_the_same_answer(stockton_2024, stockton_index):
    lat, lng = random_points(stockton_2024.total_bounds, 5_000, seed=2)
    cells = latlng_to_cells(lat, lng, resolution=9)
    np.testing.assert_array_equal(
        stockton_index.assign(lat, lng, cells=cells), stockton_index.assign(lat, lng)
    )


UNIT = st.floats(0, 1)


@SETTINGS
@given(
    fractions=st.lists(st.tuples(UNIT, UNIT), max_size=200),
    vertex_picks=st.lists(st.integers(0, 2**31), max_size=50),
)
def test_every_point_in_at_most_one_ward_and_agrees_with_shapely(
    stockton_2024, stockton_index, fractions, vertex_picks
):
    # Points anywhere in the wards' box grown by 0.02 degrees, and exactly on ward vertices.
    minx, miny, maxx, maxy = stockton_2024.total_bounds + np.array([-0.02, -0.02, 0.02, 0.02])
    box = np.array(fractions, dtype=float).reshape(-1, 2)
    vertices = shapely.get_coordinates(stockton_2024.geometry.values)
    on_vertex = vertices[np.array(vertex_picks, dtype=np.int64) % len(vertices)]
    lat = np.r_[miny + box[:, 0] * (maxy - miny), on_vertex[:, 1]]
    lng = np.r_[minx + box[:, 1] * (maxx - minx), on_vertex[:, 0]]
    got = stockton_index.assign(lat, lng)
    assert len(got) == len(lat)
    assert got.tolist() == shapely_codes(stockton_2024, lat, lng).tolist()


def test_points_on_ward_lines_agree_with_shapely(stockton_2024, stockton_index):
    xy = shapely.get_coordinates(stockton_2024.geometry.values)
    middle = (xy[:-1] + xy[1:]) / 2  # midpoints of ward edges, within 1e-16 of the line
    lat, lng = middle[:, 1], middle[:, 0]
    got = stockton_index.assign(lat, lng)
    assert got.tolist() == shapely_codes(stockton_2024, lat, lng).tolist()


def test_points_outside_are_kept_as_none(stockton_index):
    lat = np.array([54.5705, 51.5007, -1.3183, 54.60, 0.0, 54.5705])
    lng = np.array([-1.3183, -0.1246, 54.5705, -1.60, 0.0, -1.3183])
    got = stockton_index.assign(lat, lng)
    assert len(got) == len(lat)
    assert got[0] is not None and got[0] == got[-1]  # Stockton town centre, twice
    assert got[1:5].tolist() == [None, None, None, None]  # London, swapped, west, Null Island


def test_no_points(stockton_index):
    got = stockton_index.assign(np.array([]), np.array([]))
    assert got.dtype == object
    assert got.tolist() == []
    empty = np.array([], dtype=np.uint64)
    assert stockton_index.assign(np.array([]), np.array([]), cells=empty).tolist() == []


def test_synthetic_squares_and_a_hole():
    outer = shapely.box(-1.40, 54.50, -1.30, 54.60)
    hole = shapely.box(-1.37, 54.53, -1.33, 54.57)
    wards = gpd.GeoDataFrame(
        {"code": ["W1", "W2", "W3"]},
        geometry=[
            outer.difference(hole),
            hole,
            shapely.MultiPolygon(
                [shapely.box(-1.30, 54.50, -1.25, 54.55), shapely.box(-1.20, 54.50, -1.15, 54.55)]
            ),
        ],
        crs=WGS84,
    )
    index = build(wards)
    lat = np.array([54.51, 54.55, 54.52, 54.52, 54.52, 54.65])
    lng = np.array([-1.39, -1.35, -1.27, -1.17, -1.22, -1.35])
    assert index.assign(lat, lng).tolist() == ["W1", "W2", "W3", "W3", None, None]
    more_lat, more_lng = random_points(wards.total_bounds, 5_000, seed=3)
    assert (
        index.assign(more_lat, more_lng).tolist() == sjoin_codes(wards, more_lat, more_lng).tolist()
    )


def test_codes_and_geometries_must_match():
    with pytest.raises(ValueError, match="2 codes for 1 geometries"):
        WardIndex(np.array(["W1", "W2"]), np.array([shapely.box(0, 50, 1, 51)]))
