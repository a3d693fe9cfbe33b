import numpy as np
import pyproj
import pytest

from geo.crs import (
    BNG,
    WGS84,
    CRSError,
    bng_to_latlng,
    check_crs,
    latlng_problems,
    latlng_to_bng,
)

NAN = float("nan")


@pytest.mark.parametrize(
    ("lat", "lng"),
    [
        (54.5705, -1.3183),  # Stockton-on-Tees
        (51.5007, -0.1246),  # London
        (60.15, -1.15),  # Lerwick, Shetland
        (54.6, -5.93),  # Belfast
        (49.0, -9.0),  # the corners of the box are inclusive
        (61.0, 2.5),
    ],
)
def test_good_points_have_no_problem(lat, lng):
    assert latlng_problems(np.array([lat]), np.array([lng])).tolist() == [None]


@pytest.mark.parametrize(
    ("lat", "lng", "expected"),
    [
        (-1.3183, 54.5705, "look swapped"),
        (448907.0, 520333.0, "latitude 448907.0 is not in degrees"),
        (54.57, 520333.0, "longitude 520333.0 is not in degrees"),
        (NAN, -1.31, "latitude is missing"),
        (54.57, NAN, "longitude is missing"),
        (NAN, NAN, "latitude is missing"),
        (48.8566, 2.3522, "latitude 48.8566 out of range"),  # Paris
        (40.7128, -74.006, "latitude 40.7128 out of range"),  # New York
        (55.6761, 12.5683, "longitude 12.5683 out of range"),  # Copenhagen
        (0.0, 0.0, "latitude 0.0 out of range"),  # "Null Island": a zero default
    ],
)
def test_bad_points_are_explained(lat, lng, expected):
    (problem,) = latlng_problems(np.array([lat]), np.array([lng])).tolist()
    assert problem is not None
    assert expected in problem


def test_problems_are_per_point_and_keep_the_shape():
    lat = np.array([54.57, -1.31, 54.60, NAN])
    lng = np.array([-1.31, 54.57, -1.20, -1.3])
    problems = latlng_problems(lat, lng)
    assert problems.shape == (4,)
    assert problems.dtype == object
    assert [p is None for p in problems] == [True, False, True, False]


def test_problems_of_no_points():
    assert latlng_problems(np.array([]), np.array([])).tolist() == []


def test_check_crs_accepts_the_expected_crs_in_any_spelling():
    check_crs("EPSG:4326", WGS84)
    check_crs(pyproj.CRS.from_epsg(4326), WGS84)
    check_crs("OGC:CRS84", WGS84)  # GeoJSON's lng/lat order: same datum, axis order ignored
    check_crs(pyproj.CRS.from_epsg(27700), BNG)


@pytest.mark.parametrize(
    ("crs", "expected", "found"),
    [
        ("EPSG:27700", WGS84, "EPSG:27700"),
        ("EPSG:3857", WGS84, "EPSG:3857"),
        ("EPSG:4326", BNG, "EPSG:4326"),
        (pyproj.CRS.from_epsg(32630), BNG, "EPSG:32630"),
    ],
)
def test_check_crs_names_the_actual_crs(crs, expected, found):
    with pytest.raises(CRSError, match=found) as info:
        check_crs(crs, expected, what="wards")
    message = str(info.value)
    assert message.startswith("wards:")
    assert f"expected CRS {expected}" in message


def test_check_crs_without_a_crs():
    with pytest.raises(CRSError, match="has no CRS; expected EPSG:4326"):
        check_crs(None, WGS84, what="points")


def test_crs_error_is_a_value_error():
    assert issubclass(CRSError, ValueError)


def test_bng_to_latlng_of_a_known_point():
    # Caister water tower, the worked example of the Ordnance Survey's OSTN15 guide:
    # National Grid E 651409.903, N 313177.270 is ETRS89 (WGS84 to a metre)
    # 52°39'28.8282"N, 1°42'57.8663"E. PROJ uses OSTN15 when its grid is installed and a
    # Helmert transformation (a few metres off) when not, hence 1e-4 degrees (< 11 m).
    lat, lng = bng_to_latlng(np.array([651409.903]), np.array([313177.270]))
    expected_lat = 52 + 39 / 60 + 28.8282 / 3600
    expected_lng = 1 + 42 / 60 + 57.8663 / 3600
    np.testing.assert_allclose(lat, [expected_lat], atol=1e-4)
    np.testing.assert_allclose(lng, [expected_lng], atol=1e-4)


def test_bng_to_latlng_returns_lat_first():
    # Stockton-on-Tees: the order (lat, lng) must not come back as (lng, lat).
    lat, lng = bng_to_latlng(np.array([448907.0]), np.array([520333.0]))
    assert 54.5 < lat[0] < 54.7
    assert -1.3 < lng[0] < -1.2
    assert latlng_problems(lat, lng).tolist() == [None]


def test_bng_round_trip_is_within_a_millimetre():
    rng = np.random.default_rng(7)
    easting = rng.uniform(100_000, 600_000, 1000)
    northing = rng.uniform(50_000, 1_000_000, 1000)
    lat, lng = bng_to_latlng(easting, northing)
    back_e, back_n = latlng_to_bng(lat, lng)
    np.testing.assert_allclose(back_e, easting, atol=1e-3)
    np.testing.assert_allclose(back_n, northing, atol=1e-3)
