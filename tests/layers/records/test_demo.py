import datetime

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from layers.records.demo import (
    ACTIVITY_COLUMNS,
    CLUSTER_PATTERNS,
    DEMO_NOTICE,
    HOT_SPOTS,
    PLACE_COLUMNS,
    REPORT_COLUMNS,
    WINDOW_DAYS,
    DemoData,
    approximate_areas,
    make_demo_data,
)

END = datetime.date(2025, 6, 30)
CATEGORIES = {
    "takeaway", "licensed_premises", "park_open_space", "shop", "empty_property",
    "transport_hub", "residential", "car_park", "school_vicinity", "youth_leisure_venue",
    "other",
}
TYPES = {"cse", "cce", "missing", "trafficking", "modern_slavery", "radicalisation"}
ACTIVITY_TYPES = {
    "licensing_visit", "premises_closure", "empty_property_secured", "street_patrol",
    "housing_provider_visit", "other",
}


@pytest.fixture(scope="module")
def demo() -> DemoData:
    return make_demo_data(seed=42, end=END)


def located(data: DemoData) -> tuple[np.ndarray, np.ndarray]:
    """Report coordinates, taken from the place where latitude/longitude are blank."""
    places = data.places.set_index("place_id")
    r = data.reports
    lat = r["latitude"].fillna(r["place_id"].map(places["latitude"]))
    lng = r["longitude"].fillna(r["place_id"].map(places["longitude"]))
    return lat.to_numpy(dtype=float), lng.to_numpy(dtype=float)


def days_before_end(iso: pd.Series) -> np.ndarray:
    return (pd.Timestamp(END) - pd.to_datetime(iso.str[:10])).dt.days.to_numpy()


def near(lat: np.ndarray, lng: np.ndarray, lat0: float, lng0: float, metres: float) -> np.ndarray:
    dy = (lat - lat0) * 111_320
    dx = (lng - lng0) * 111_320 * np.cos(np.radians(lat0))
    return np.hypot(dx, dy) <= metres


def test_counts_meet_minimums(demo):
    assert len(demo.places) >= 300
    assert len(demo.reports) >= 5000
    assert len(demo.activities) >= 1000
    assert set(demo.activities["activity_type"]) == ACTIVITY_TYPES


def test_columns_exactly_as_the_import_csvs(demo):
    assert tuple(demo.places.columns) == PLACE_COLUMNS == (
        "place_id", "name", "category", "address", "postcode", "latitude", "longitude",
        "mace_level", "exploitation_types", "source_agency", "assessed_on", "review_due", "notes")
    assert tuple(demo.reports.columns) == REPORT_COLUMNS == (
        "report_id", "reported_on", "place_id", "latitude", "longitude", "postcode", "mace_level",
        "exploitation_type", "source_agency", "patrol_discovered", "source_grade", "intel_grade",
        "handling_code", "summary")
    assert tuple(demo.activities.columns) == ACTIVITY_COLUMNS == (
        "activity_id", "activity_type", "started_at", "ended_at", "place_id", "latitude",
        "longitude", "postcode", "agency", "outcome", "jag_ref")


def test_same_seed_and_end_give_identical_frames():
    a, b = make_demo_data(seed=7, end=END), make_demo_data(seed=7, end=END)
    for name in ("places", "reports", "activities", "areas"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name))
    other = make_demo_data(seed=8, end=END)
    assert not other.reports.equals(a.reports)


def test_vocabularies_and_value_formats(demo):
    p, r, a = demo.places, demo.reports, demo.activities
    assert set(p["category"]) <= CATEGORIES
    types = p["exploitation_types"].str.split(";").explode()
    assert set(types[types != ""]) <= TYPES
    assert set(r["exploitation_type"]) <= TYPES
    assert set(p["mace_level"]) | set(r["mace_level"]) <= {1, 2, 3, 4}
    assert set(r["patrol_discovered"]) == {"true", "false"}
    assert set(r["source_grade"].dropna()) <= {1, 2, 3}
    assert set(r["intel_grade"]) <= set("ABCDE") | {""}
    assert set(r["handling_code"]) <= {"P", "C", ""}
    assert 0.35 < (r["intel_grade"] == "").mean() < 0.65
    assert r["report_id"].is_unique and p["place_id"].is_unique and a["activity_id"].is_unique
    assert p["assessed_on"].str.fullmatch(r"\d{4}-\d{2}-\d{2}").all()
    assert r["reported_on"].str.fullmatch(r"\d{4}-\d{2}-\d{2}").all()
    assert a["started_at"].str.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}").all()
    assert a["ended_at"].str.fullmatch(r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2})?").all()
    assert a["jag_ref"].str.fullmatch(r"(JAG-\d{4}-\d{3})?").all()


def test_every_report_and_activity_has_a_location(demo):
    for frame in (demo.reports, demo.activities):
        has_coords = frame["latitude"].notna() & frame["longitude"].notna()
        assert (has_coords | (frame["place_id"] != "")).all()
        assert set(frame["place_id"]) - {""} <= set(demo.places["place_id"])
    assert 0.6 < (demo.reports["place_id"] != "").mean() < 0.8


def test_level_mix(demo):
    counts = demo.places["mace_level"].value_counts()
    assert counts.idxmax() == 2
    assert counts[4] < counts[3] < counts[2]
    assert counts[1] >= 0.1 * len(demo.places)
    protective = demo.places[demo.places["mace_level"] == 1]
    assert protective["category"].isin(["youth_leisure_venue", "other"]).mean() > 0.7


def test_every_date_within_two_years_before_end(demo):
    for iso in (demo.places["assessed_on"], demo.reports["reported_on"],
                demo.activities["started_at"],
                demo.activities["ended_at"][demo.activities["ended_at"] != ""]):
        days = days_before_end(iso)
        assert days.min() >= 0 and days.max() < WINDOW_DAYS
    places = demo.places
    assert (places["review_due"] >= places["assessed_on"]).all()
    ended = demo.activities[demo.activities["ended_at"] != ""]
    assert (ended["ended_at"] > ended["started_at"]).all()


def test_end_defaults_to_today():
    data = make_demo_data(seed=1)
    last = pd.to_datetime(data.reports["reported_on"]).max().date()
    assert datetime.date.today() - datetime.timedelta(days=30) < last <= datetime.date.today()


@pytest.mark.parametrize("seed", [42, 3])
def test_emerging_and_fading_hot_spots(seed):
    data = make_demo_data(seed=seed, end=END)
    lat, lng = located(data)
    days = days_before_end(data.reports["reported_on"])
    assert set(CLUSTER_PATTERNS.values()) == {"emerging", "persisting", "fading"}
    for spot in HOT_SPOTS:
        here = near(lat, lng, spot.lat, spot.lng, 600)
        first_year = (here & (days >= WINDOW_DAYS - 365)).sum() / 365
        last_quarter = (here & (days < 90)).sum() / 90
        if spot.pattern == "emerging":
            assert last_quarter > 2 * first_year, spot.name
        elif spot.pattern == "fading":
            assert first_year > 2 * last_quarter, spot.name


@pytest.mark.parametrize("seed", [42, 3])
def test_some_closure_is_followed_by_fewer_reports_nearby(seed):
    data = make_demo_data(seed=seed, end=END)
    lat, lng = located(data)
    days = days_before_end(data.reports["reported_on"])
    places = data.places.set_index("place_id")
    acts = data.activities
    acts = acts[acts["activity_type"].isin(["premises_closure", "empty_property_secured"])]
    drops = 0
    for act in acts.itertuples():
        when = days_before_end(pd.Series([act.started_at]))[0]
        if not 90 <= when < WINDOW_DAYS - 90:
            continue
        place = places.loc[act.place_id]
        assert place["mace_level"] >= 2
        here = near(lat, lng, place["latitude"], place["longitude"], 300)
        before = (here & (days > when) & (days <= when + 90)).sum()
        after = (here & (days <= when) & (days > when - 90)).sum()
        drops += place["mace_level"] >= 3 and before >= 10 and after < 0.5 * before
    assert drops >= 3


def test_patrol_discovered_share_and_where(demo):
    r = demo.reports
    patrol = r["patrol_discovered"] == "true"
    assert 0.1 < patrol.mean() < 0.2
    assert (r.loc[patrol, "source_agency"] == "Cleveland Police").all()
    lat, lng = located(demo)
    acts = demo.activities
    walks = acts[acts["activity_type"] == "street_patrol"]
    places = demo.places.set_index("place_id")
    w_lat = walks["latitude"].fillna(walks["place_id"].map(places["latitude"])).to_numpy()
    w_lng = walks["longitude"].fillna(walks["place_id"].map(places["longitude"])).to_numpy()
    near_patrol = np.zeros(len(r), dtype=bool)
    for a, b in zip(w_lat, w_lng, strict=True):
        near_patrol |= near(lat, lng, a, b, 400)
    assert near_patrol[patrol.to_numpy()].mean() > 0.95


def test_no_names_of_people(demo):
    p = demo.places
    assert p["name"].str.contains("Synthetic|Demo").all()
    assert p["address"].str.contains("Demo ").all()
    assert p["notes"].str.startswith("Synthetic note: ").all()
    assert demo.reports["summary"].str.startswith("Synthetic report: ").all()
    assert "SYNTHETIC" in DEMO_NOTICE


def test_approximate_areas():
    areas = approximate_areas()
    assert list(areas.columns) == [
        "code", "name", "authority_code", "authority_name", "vintage", "geometry"]
    assert len(areas) == 17
    assert areas.crs.to_epsg() == 4326
    assert (areas.geom_type == "Polygon").all() and areas.is_valid.all()
    assert areas["code"].str.fullmatch(r"DEMO\d{4}").all() and areas["code"].is_unique
    assert areas["name"].str.endswith("(approximate demo area)").all()
    assert areas["authority_code"].value_counts().to_dict() == {"E06000004": 12,
                                                                "E06000001": 5}
    assert (areas["vintage"] == "demo").all()
    for spot, geom in zip(HOT_SPOTS, areas.geometry, strict=False):
        assert geom.contains(shapely.Point(spot.lng, spot.lat))
    # the cells tile the boroughs' box without overlapping
    bng = areas.to_crs(27700)
    assert bng.union_all().area == pytest.approx(bng.area.sum())


def inside_share(data: DemoData, union: shapely.Geometry) -> float:
    lat, lng = located(data)
    acts = data.activities.dropna(subset=["latitude"])
    lats = np.concatenate([data.places["latitude"], lat, acts["latitude"]])
    lngs = np.concatenate([data.places["longitude"], lng, acts["longitude"]])
    return float(shapely.contains_xy(union, lngs, lats).mean())


def test_points_inside_the_areas(demo):
    assert inside_share(demo, demo.areas.union_all()) >= 0.98


def test_points_inside_real_wards(shared_data):
    path = shared_data / "boundaries" / "stockton_wards_2024.geojson"
    wards = gpd.read_file(path).rename(columns={"WD24CD": "code", "WD24NM": "name"})
    data = make_demo_data(seed=42, end=END, areas=wards[["code", "name", "geometry"]])
    assert inside_share(data, wards.union_all()) >= 0.98
    assert len(data.reports) >= 5000


def test_the_real_wards_of_both_boroughs_hold_the_demo(shared_data):
    """Both 2024 ward files: every hot spot is used and the points fall inside the wards."""
    frames = [gpd.read_file(shared_data / "boundaries" / f"{name}_wards_2024.geojson")
              for name in ("stockton", "hartlepool")]
    wards = pd.concat(frames, ignore_index=True).rename(
        columns={"WD24CD": "code", "WD24NM": "name"})
    data = make_demo_data(seed=42, end=END, areas=wards[["code", "name", "geometry"]])
    assert inside_share(data, wards.union_all()) >= 0.98
    lat, lng = data.places["latitude"], data.places["longitude"]
    for _, borough in wards.groupby("LAD24CD"):
        share = shapely.contains_xy(borough.union_all(), lng, lat).mean()
        assert share > 0.2, borough["LAD24NM"].iloc[0]
    assert len(data.places) == 36 * len(HOT_SPOTS) + 144


def test_one_borough_gets_its_own_part_of_the_demo(shared_data):
    path = shared_data / "boundaries" / "hartlepool_wards_2024.geojson"
    wards = gpd.read_file(path).rename(columns={"WD24CD": "code", "WD24NM": "name"})
    data = make_demo_data(seed=42, end=END, areas=wards[["code", "name", "geometry"]])
    assert len(data.places) == 36 * 2 + 144  # Hartlepool's two town centres
    assert inside_share(data, wards.union_all()) >= 0.98


def test_areas_without_crs_are_refused():
    areas = approximate_areas().set_crs(None, allow_override=True)
    with pytest.raises(ValueError, match="CRS"):
        make_demo_data(end=END, areas=areas)
