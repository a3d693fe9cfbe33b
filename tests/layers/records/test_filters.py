"""Map filters: the pure frame filters and the report query on both back ends."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from layers.records import read as records_read
from layers.records.filters import (
    FilterError,
    MapFilter,
    filter_activities,
    filter_by_authority,
    filter_places,
    lists_type,
    ward_authorities,
)
from layers.records.importer import import_file
from layers.store.engine import Store, replace_areas
from tests.api.conftest import PLACES, REPORTS, _write, make_areas

WARDS = {"W1": "A1", "W2": "A1", "W3": "A2"}
PLACES_FRAME = pd.DataFrame({
    "id": [1, 2, 3, 4],
    "name": ["Chips", "Park", "Bar", "Shop"],
    "category": ["takeaway", "park_open_space", "licensed_premises", "takeaway"],
    "exploitation_types": ["cce;cse", "cse", None, "cce"],
    "ward_code": ["W1", "W2", "W3", None],
    "assessed_on": [dt.date(2025, 1, 5), None, dt.date(2025, 3, 1), dt.date(2025, 2, 1)],
})
ACTIVITIES_FRAME = pd.DataFrame({
    "id": [10, 11, 12, 13],
    "place_id": [1, 2, None, 4],
    "ward_code": ["W1", "W2", "W3", "W1"],
    "started_at": pd.to_datetime(["2025-01-01 09:00", "2025-02-01 23:59", "2025-02-02 00:00",
                                  "2025-03-01 00:00"]),
})


def test_an_empty_filter_keeps_everything() -> None:
    f = MapFilter()
    assert not f.active and f.describe() == ""
    assert len(filter_places(PLACES_FRAME, f, WARDS)) == 4
    assert len(filter_activities(ACTIVITIES_FRAME, f, WARDS, PLACES_FRAME)) == 4


@pytest.mark.parametrize(("kwargs", "needle"), [
    ({"exploitation_type": "drugs"}, "exploitation type: unknown value 'drugs'"),
    ({"place_category": "pub"}, "place category: unknown value 'pub'"),
    ({"date_from": dt.date(2025, 2, 1), "date_to": dt.date(2025, 1, 1)}, "swap them"),
])
def test_bad_filters_say_what_is_wrong(kwargs: dict, needle: str) -> None:
    with pytest.raises(FilterError, match=needle):
        MapFilter(**kwargs)


def test_describe_and_months() -> None:
    f = MapFilter(date_from=dt.date(2025, 1, 15), exploitation_type="modern_slavery",
                  place_category="car_park", authority_code="A1")
    assert f.describe({"A1": "Hartlepool"}) == ("2025-01-15 to now; MODERN SLAVERY; car park; "
                                                "Hartlepool")
    assert f.months() == ("2025-01", None)


def test_lists_type_matches_whole_names_only() -> None:
    types = pd.Series(["cse;cce", "cse", "cce ; missing", None, "modern_slavery"])
    assert lists_type(types, "cce").tolist() == [True, False, True, False, False]
    assert lists_type(types, "slavery").tolist() == [False] * 5


def test_filter_places_by_each_field() -> None:
    def ids(**kwargs: object) -> list[int]:
        return filter_places(PLACES_FRAME, MapFilter(**kwargs), WARDS)["id"].tolist()

    assert ids(place_category="takeaway") == [1, 4]
    assert ids(exploitation_type="cce") == [1, 4]
    assert ids(exploitation_type="cse", place_category="takeaway") == [1]
    assert ids(authority_code="A1") == [1, 2]  # place 4 is outside every ward
    # assessed after the range ends: not yet a place of concern then; no date: kept
    assert ids(date_to=dt.date(2025, 2, 1)) == [1, 2, 4]


def test_filter_activities_by_range_and_place() -> None:
    def ids(**kwargs: object) -> list[int]:
        got = filter_activities(ACTIVITIES_FRAME, MapFilter(**kwargs), WARDS, PLACES_FRAME)
        return got["id"].tolist()

    # whole days at both ends: 23:59 on the last day is in
    assert ids(date_from=dt.date(2025, 1, 2), date_to=dt.date(2025, 2, 1)) == [11]
    assert ids(place_category="takeaway") == [10, 13]
    assert ids(exploitation_type="cse") == [10, 11]  # an activity at no place cannot match
    assert ids(authority_code="A2") == [12]


def test_filter_by_authority() -> None:
    cells = pd.DataFrame({"h3_cell": ["a", "b", "c"], "ward_code": ["W1", "W3", None]})
    got = filter_by_authority(cells, MapFilter(authority_code="A2"), WARDS)
    assert got["h3_cell"].tolist() == ["b"]
    assert len(filter_by_authority(cells, MapFilter(), WARDS)) == 3


def _fill(store: Store, folder: Path) -> dict[str, str]:
    replace_areas(store, make_areas(), source="test")
    reports = REPORTS + [
        {"report_id": "RP", "reported_on": "2025-06-11", "place_id": "P2", "mace_level": 3,
         "patrol_discovered": "true", "exploitation_type": "cce"},
        {"report_id": "RC", "reported_on": "2025-06-12", "place_id": "P2", "mace_level": 3,
         "exploitation_type": "cce"},
    ]
    for kind, rows in (("places", PLACES), ("reports", reports)):
        result = import_file(store, kind, _write(folder / f"{kind}.csv", rows))
        assert result.rejected == 0, result.messages
    with store.connect() as conn:
        return ward_authorities(records_read.areas(conn)[0])


def test_report_cells_counts_matching_reports(store: Store, tmp_path: Path) -> None:
    wards = _fill(store, tmp_path)
    with store.connect() as conn:
        def counts(**kwargs: object) -> list[tuple[int, int]]:
            frame = records_read.report_cells(conn, MapFilter(**kwargs), wards)
            assert list(frame.columns) == ["h3_cell", "independent", "patrol"]
            return list(zip(frame["independent"], frame["patrol"], strict=True))

        # P2 (takeaway): R1, R2, RC independent, RP patrol-discovered
        assert counts(place_category="takeaway") == [(3, 1)]
        assert counts(exploitation_type="cce") == [(1, 1)]
        assert counts(date_from=dt.date(2025, 6, 10), date_to=dt.date(2025, 6, 11),
                      place_category="takeaway") == [(1, 1)]
        # R0 and R3 (no place) share a cell, R4 (P1) has its own; R1/R2/RC/RP share P2's
        assert sorted(counts(authority_code="E06000004")) == [(1, 0), (2, 0), (3, 1)]
        assert counts(authority_code="E06000099") == []
