"""An unknown postcode says whether postcodes are loaded at all, and how many are."""

from __future__ import annotations

from pathlib import Path

from layers.records.importer import import_file, import_postcodes

HEADER = "place_id,name,category,postcode,mace_level"
ROWS = ["P1,Synthetic shop,shop,TS1 1AA,2", "P2,Synthetic cafe,takeaway,ts99 9zz,2"]


def places_file(tmp_path: Path) -> Path:
    path = tmp_path / "places.csv"
    path.write_text("\n".join([HEADER, *ROWS]) + "\n", encoding="utf-8")
    return path


def test_unknown_postcode_with_none_loaded_says_load_them_first(store, tmp_path):
    result = import_file(store, "places", places_file(tmp_path))
    assert result.rejected == 2
    assert result.messages[1] == (
        "row 3: postcode 'ts99 9zz': unknown postcode; load Code-Point Open first "
        "(placerisk postcodes load FILE) or give latitude and longitude")


def test_unknown_postcode_with_real_postcodes_loaded_says_how_many(store, tmp_path,
                                                                    shared_data):
    loaded = import_postcodes(store, shared_data / "postcodes" / "codepoint_open_ts.csv")
    assert loaded.inserted == 17_823 and loaded.rejected == 0
    result = import_file(store, "places", places_file(tmp_path))
    assert (result.inserted, result.rejected) == (1, 1)
    assert result.messages == [
        "row 3: postcode 'ts99 9zz': not in the 17,823 loaded postcodes (Code-Point Open); "
        "check it or give latitude and longitude"]
