"""The placerisk command line, end to end on real public data where it matters."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from api.cli import main
from tests.api.conftest import build_store
from tests.conftest import missing

PLACES_HEADER = ("place_id,name,category,address,postcode,latitude,longitude,mace_level,"
                 "exploitation_types,source_agency,assessed_on,review_due,notes")


def run(db: Path, *args: str):
    return CliRunner().invoke(main, ["--db", str(db), *args], catch_exceptions=False)


def test_help_explains_every_command():
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    for command in ("boundaries", "postcodes", "import", "status", "score", "demo-data",
                    "serve", "map", "db"):
        assert command in result.output
    imports = CliRunner().invoke(main, ["import", "--help"])
    assert "patrol_discovered" in imports.output and "Exit status" in imports.output


def test_db_option_on_the_subcommand_and_env(tmp_path, monkeypatch):
    db = tmp_path / "sub.db"
    result = CliRunner().invoke(main, ["db", "upgrade", "--db", str(db)])
    assert result.exit_code == 0 and db.exists()
    monkeypatch.setenv("PLACERISK_DB", str(tmp_path / "env.db"))
    assert CliRunner().invoke(main, ["db", "upgrade"]).exit_code == 0
    assert (tmp_path / "env.db").exists()


def test_import_exit_codes(tmp_path):
    db = tmp_path / "x.db"
    good = tmp_path / "good.csv"
    good.write_text(PLACES_HEADER + "\nP1,Synthetic shop,shop,,,54.57,-1.31,2,,,,,\n")
    mixed = tmp_path / "mixed.csv"
    mixed.write_text(PLACES_HEADER + "\nP2,Synthetic shop,shop,,,54.57,-1.31,2,,,,,\n"
                     "P3,Synthetic shop,shop,,,54.57,-1.31,9,,,,,\n")
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("a,b\n1,2\n")
    assert run(db, "import", "places", str(good)).exit_code == 0
    result = run(db, "import", "places", str(mixed))
    assert result.exit_code == 2
    assert "row 3: mace_level '9'" in result.output
    assert "rejected 1" in result.output and "mixed.rejects.csv" in result.output
    result = run(db, "import", "places", str(wrong))
    assert result.exit_code == 1 and "missing column(s) place_id" in result.output
    assert run(db, "import", "places", str(tmp_path / "absent.csv")).exit_code == 1


def test_real_boundaries_postcodes_and_police_uk(tmp_path, shared_data):
    db = tmp_path / "real.db"
    bounds = shared_data / "boundaries"
    assert run(db, "boundaries", "load", str(bounds / "stockton_wards_2013.geojson")).exit_code == 0
    crimes = sorted((shared_data / "police_uk").glob("*.csv"))
    result = run(db, "import", "police-uk", *map(str, crimes))
    assert result.exit_code == 0, result.output
    s13 = json.loads(run(db, "status", "--json").output)
    assert {w["code"][:6] for w in s13["by_ward"]} == {"E05001"}

    result = run(db, "boundaries", "load", str(bounds / "stockton_wards_2024.geojson"))
    assert result.exit_code == 0 and "replaced: 2013" in result.output
    run(db, "boundaries", "load", str(bounds / "hartlepool_wards_2013.geojson"))
    assert run(db, "postcodes", "load",
               str(shared_data / "postcodes" / "codepoint_open_ts.csv")).exit_code == 0
    again = run(db, "import", "police-uk", *map(str, crimes))
    assert "inserted 0" in again.output

    status = json.loads(run(db, "status", "--json").output)
    total = status["totals"]["incidents"]
    assert total == 6561 + 6641 + 7690
    stockton = [w for w in status["by_ward"] if w["authority"] == "Stockton-on-Tees"]
    assert len(stockton) == 27 and all(w["code"].startswith("E050148") for w in stockton)
    in_wards = sum(w["incidents"] for w in status["by_ward"])
    assert in_wards + status["outside_every_boundary"]["incidents"] == total
    town = next(w for w in stockton if w["name"] == "Stockton Town Centre")
    assert town["incidents"] > 500
    assert status["postcodes"] == 17823
    text = run(db, "status").output
    assert "Stockton Town Centre" in text and "outside every boundary" in text
    trail = run(db, "audit", "--action", "import").output
    assert "boundaries:stockton_wards_2024.geojson" in trail and "27 wards" in trail
    assert "postcodes:codepoint_open_ts.csv" in trail


def test_bng_geopackage_loads_like_the_geojson(tmp_path, shared_data):
    db = tmp_path / "bng.db"
    result = run(db, "boundaries", "load",
                 str(shared_data / "boundaries" / "stockton_wards_2013_bng.gpkg"))
    assert result.exit_code == 0, result.output
    status = json.loads(run(db, "status", "--json").output)
    assert status["boundaries"][0]["wards"] == 26


def test_score_prints_a_summary_and_stores_the_run(tmp_path):
    db = tmp_path / "s.db"
    places = tmp_path / "p.csv"
    places.write_text(PLACES_HEADER + "\nP1,Synthetic shop,shop,,,54.57,-1.31,4,,,2025-01-01,,\n")
    assert run(db, "import", "places", str(places)).exit_code == 0
    result = run(db, "score", "--as-of", "2025-06-29", "--known-by", "2099-01-01",
                 "--half-life", "30", "--k", "2")
    assert result.exit_code == 0, result.output
    assert "run 1: 104 weeks to 2025-06-29" in result.output
    assert "Gini" in result.output
    early = run(db, "score", "--as-of", "2025-06-29")  # the place was stored today
    assert early.exit_code == 1
    assert "nothing to score as of 2025-06-29" in early.output
    assert "1 records dated up to then were stored later" in early.output


@pytest.mark.parametrize("args", [["score", "--as-of", "yesterday"],
                                  ["score", "--k", "0"], ["score", "--step", "day"]])
def test_bad_options_are_usage_errors(tmp_path, args):
    result = run(tmp_path / "x.db", *args)
    assert result.exit_code == 2 and "Invalid value" in result.output


def test_demo_without_real_boundaries_uses_the_approximate_areas(tmp_path):
    db = tmp_path / "a.db"
    result = run(db, "demo-data", "--no-real-boundaries", "--no-accounts")
    assert result.exit_code == 0, result.output
    status = run(db, "status", "--json")
    authorities = {a["authority_code"]: a for a in json.loads(status.output)["boundaries"]}
    assert {a["vintage"] for a in authorities.values()} == {"demo"}
    assert set(authorities) == {"E06000004", "E06000001"}


def test_map_views_as_standalone_files(tmp_path):
    db = tmp_path / "m.db"
    assert run(db, "demo-data", "--seed", "3").exit_code == 0
    assert run(db, "score").exit_code == 0
    jag = tmp_path / "jag.html"
    assert run(db, "map", "--out", str(jag)).exit_code == 0
    assert "leaflet" in jag.read_text().lower()
    ward = tmp_path / "ward.html"
    # the demo runs on the real 2024 wards of data/boundaries/
    result = run(db, "map", "--view", "ward", "--ward", "E05014882", "--out", str(ward))
    assert result.exit_code == 0, result.output
    assert "Stockton Town Centre" in ward.read_text()
    assert run(db, "map", "--view", "ward", "--out", str(ward)).exit_code == 2
    missing = run(db, "map", "--view", "ward", "--ward", "NOPE", "--out", str(ward))
    assert missing.exit_code == 1 and "no ward 'NOPE'" in missing.output
    patrol = tmp_path / "patrol.html"
    result = run(db, "map", "--view", "patrol", "--ward", "E05013049", "--out", str(patrol))
    assert result.exit_code == 0, result.output
    assert "placerisk-patrol-table" in patrol.read_text()
    guardian = tmp_path / "guardian.html"
    result = run(db, "map", "--view", "guardian", "--out", str(guardian))
    assert result.exit_code == 0, result.output
    assert "DEMO-P" not in guardian.read_text()  # no place id, name or level


# --- which database: an explicit --db always beats PLACERISK_DB ------------------------

DB_CHOICES = {
    # name: (options before the command, options after it, the database expected)
    "env-only": ([], [], "env.db"),
    "group-option-and-env": (["--db", "group.db"], [], "group.db"),
    "command-option-and-env": ([], ["--db", "command.db"], "command.db"),
    "both-options-agree": (["--db", "both.db"], ["--db", "both.db"], "both.db"),
}


@pytest.mark.parametrize("command", [["status", "--json"], ["db", "upgrade"]],
                         ids=["status", "db-upgrade"])
@pytest.mark.parametrize("choice", DB_CHOICES.values(), ids=DB_CHOICES.keys())
def test_an_explicit_db_beats_the_environment(tmp_path, monkeypatch, command, choice):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PLACERISK_DB", "env.db")
    before, after, expected = choice
    result = CliRunner().invoke(main, [*before, *command, *after], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert str(tmp_path / expected) in result.output
    assert sorted(p.name for p in tmp_path.glob("*.db")) == [expected]


@pytest.mark.parametrize("command", [["status", "--json"], ["db", "upgrade"]],
                         ids=["status", "db-upgrade"])
def test_two_different_db_options_are_refused(tmp_path, monkeypatch, command):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PLACERISK_DB", "env.db")
    result = CliRunner().invoke(main, ["--db", "group.db", *command, "--db", "command.db"])
    assert result.exit_code == 2
    assert "group.db" in result.output and "command.db" in result.output
    assert list(tmp_path.glob("*.db")) == []  # nothing opened, nothing created


@pytest.mark.parametrize("choice", DB_CHOICES.values(), ids=DB_CHOICES.keys())
def test_serve_opens_the_database_the_options_say(tmp_path, choice):
    import os
    import socket
    import subprocess
    import sys

    before, after, expected = choice
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    exe = Path(sys.executable).with_name("placerisk")
    env = {**os.environ, "PLACERISK_DB": "env.db"}
    with subprocess.Popen([str(exe), *before, "serve", "--port", str(port), *after],
                          cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True) as proc:
        try:
            assert proc.stdout is not None
            first = proc.stdout.readline()  # printed once the store is open
            assert "serving on" in first, first + proc.stdout.read()
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    assert sorted(p.name for p in tmp_path.glob("*.db")) == [expected]


def test_placerisk_vendor_names_the_folder_the_maps_take_h3js_from(tmp_path, monkeypatch):
    from maps import assets

    monkeypatch.setattr(assets, "VENDOR_DIR", assets.VENDOR_DIR)  # put back afterwards
    if assets.h3js_file() is None:
        missing("vendor/h3-js is not installed (make install)")
    db = build_store(tmp_path)
    page = tmp_path / "jag.html"
    assert run(db, "map", "--out", str(page)).exit_code == 0
    assert "h3.cellToBoundary" in page.read_text()  # hexagons drawn by the vendored h3-js
    elsewhere = tmp_path / "vendor-elsewhere"
    elsewhere.mkdir()
    monkeypatch.setenv("PLACERISK_VENDOR", str(elsewhere))
    assert run(db, "map", "--out", str(page)).exit_code == 0
    assert "h3.cellToBoundary" not in page.read_text()  # none there: GeoJSON hexagons
    assert assets.VENDOR_DIR == elsewhere
    monkeypatch.delenv("PLACERISK_VENDOR")
    assert run(db, "map", "--out", str(page)).exit_code == 0
    assert assets.VENDOR_DIR == assets.DEFAULT_VENDOR_DIR
