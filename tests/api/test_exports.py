"""Downloads at /api/export/{what}.{fmt} and the ``placerisk export`` command."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import geopandas as gpd
import pyogrio
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from starlette.routing import NoMatchFound

from api.app import create_app
from api.routes.exports import router
from api.settings import Settings
from layers.reporting import export_files as export_io
from layers.reporting import exports
from tests.api.conftest import AS_OF, NOTE, build_store, ensure_accounts_in, sign_in

FORMULA = '=HYPERLINK("http://x")'
MORE = {"places": [{"place_id": "F1", "name": FORMULA, "category": "other",
                    "latitude": 54.553, "longitude": -1.345, "mace_level": 2,
                    "notes": "QUOKKA-notes-stay-home"}]}
MEDIA = {"geojson": "application/geo+json", "csv": "text/csv",
         "gpkg": "application/geopackage+sqlite3"}
ROWS = {"places": 6, "reports": 5, "activities": 2, "wards": 2}
MATRIX = [(what, fmt) for what in exports.EXPORTS for fmt in export_io.FORMATS]


def export_client(db: Path) -> TestClient:
    app = create_app(Settings(db=str(db), tiles="none"))
    try:
        app.url_path_for("export_file", what="places", fmt="csv")
    except NoMatchFound:  # until api.app includes the router itself
        app.include_router(router)
    ensure_accounts_in(db)
    client = sign_in(TestClient(app))
    client.params = {"purpose": "test suite export"}  # exports must say why
    return client


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_store(tmp_path_factory.mktemp("exports"), more=MORE)


@pytest.fixture(scope="module")
def api(db: Path) -> Iterator[TestClient]:
    with export_client(db) as c:
        yield c


@pytest.fixture(scope="module")
def unscored(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_store(tmp_path_factory.mktemp("unscored"), score=False)


def read(content: bytes, fmt: str, tmp_path: Path) -> gpd.GeoDataFrame:
    path = tmp_path / f"download.{fmt}"
    path.write_bytes(content)
    if fmt == "csv":
        return pyogrio.read_dataframe(path, GEOM_POSSIBLE_NAMES="geometry_wkt",
                                      KEEP_GEOM_COLUMNS="NO")
    return gpd.read_file(path)


# --- the route ---------------------------------------------------------------------------

@pytest.mark.parametrize(("what", "fmt"), MATRIX)
def test_every_export_downloads_as_an_attachment(api, tmp_path, what, fmt):
    response = api.get(f"/api/export/{what}.{fmt}")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].split(";")[0] == MEDIA[fmt]
    day = AS_OF.isoformat() if what in ("cells", "wards") else r"\d{4}-\d{2}-\d{2}"
    assert re.fullmatch(rf'attachment; filename="placerisk-{what}-{day}\.{fmt}"',
                        response.headers["content-disposition"])
    assert response.headers["cache-control"] == "no-store"
    back = read(response.content, fmt, tmp_path)
    cells = api.get("/api/cells", params={"limit": 1000}).json()["count"]
    assert len(back) == {**ROWS, "cells": cells}[what] > 0
    assert NOTE.encode() not in response.content
    assert b"QUOKKA" not in response.content


def test_downloads_match_the_formats(api):
    geojson = api.get("/api/export/places.geojson").json()
    assert geojson["type"] == "FeatureCollection" and "crs" not in geojson
    lng, lat = geojson["features"][0]["geometry"]["coordinates"]
    assert (lat, lng) == (54.57, -1.34)
    assert api.get("/api/export/cells.gpkg").content.startswith(b"SQLite format 3\x00")
    text = api.get("/api/export/places.csv").content
    assert text.startswith(b"\xef\xbb\xbf")
    assert b'"\'=HYPERLINK(""http://x"")"' in text  # quoted, doubled quotes, defused


def test_openapi_documents_the_route(api):
    operation = api.get("/openapi.json").json()["paths"]["/api/export/{what}.{fmt}"]["get"]
    assert set(operation["responses"]["200"]["content"]) == set(MEDIA.values())
    assert {p["name"] for p in operation["parameters"]} == {"what", "fmt", "run_id", "purpose"}


def test_a_run_can_be_chosen(api):
    assert api.get("/api/export/wards.geojson", params={"run_id": 1}).status_code == 200
    missing = api.get("/api/export/wards.geojson", params={"run_id": 99})
    assert missing.status_code == 404 and "run 99 not found" in missing.json()["detail"]
    wrong = api.get("/api/export/places.csv", params={"run_id": 1})
    assert wrong.status_code == 422 and "cells and wards" in wrong.json()["detail"]


@pytest.mark.parametrize("path", ["/api/export/reports.xlsx", "/api/export/places.xlsx",
                                  "/api/export/places.shp", "/api/export/places",
                                  "/api/export/places.geojson.csv", "/api/export/.csv",
                                  "/api/export/notes.gpkg", "/api/export/PLACES.csv"])
def test_unknown_exports_and_formats_are_404(api, path):
    response = api.get(path)
    assert response.status_code == 404


@pytest.mark.parametrize(("what", "fmt"), [("cells", "geojson"), ("wards", "gpkg"),
                                           ("cells", "csv")])
def test_no_run_yet_is_404_with_a_hint(unscored, what, fmt):
    with export_client(unscored) as c:
        response = c.get(f"/api/export/{what}.{fmt}")
        assert response.status_code == 404
        assert "placerisk score" in response.json()["detail"]
        assert c.get("/api/export/places.gpkg").status_code == 200


def test_bad_run_ids_are_422(api):
    for value in ("0", "-1", "x", str(2**40)):
        assert api.get("/api/export/cells.csv", params={"run_id": value}).status_code == 422


# --- the command -------------------------------------------------------------------------

@pytest.fixture
def cli() -> click.Group:
    from api.cli import main

    export = main.commands["export"]

    @click.group()
    def group() -> None:
        """A group holding only the export command."""

    group.add_command(export)
    return group


def invoke(cli: click.Group, db: Path, *args: str):
    return CliRunner().invoke(cli, ["export", *args, "--db", str(db)], catch_exceptions=False)


@pytest.mark.parametrize(("what", "args", "fmt"), [
    ("places", ["--format", "gpkg"], "gpkg"), ("cells", [], "csv"),
    ("wards", ["--format", "geojson", "--run-id", "1"], "geojson"),
    ("activities", ["--format", "csv"], "txt"),
])
def test_export_command_writes_files(cli, db, tmp_path, what, args, fmt):
    out = tmp_path / f"{what}.{fmt}"
    result = invoke(cli, db, what, *args, "--out", str(out))
    assert result.exit_code == 0, result.output
    assert out.exists()
    assert re.search(rf"{what}( of run 1)?: \d+ rows written to .*{out.name} as \w+ "
                     r"\(\d+(\.\d)? (B|kB|MB)\)", result.output)
    if what == "places":
        assert pyogrio.list_layers(out)[0][0] == "places"
        assert len(gpd.read_file(out)) == ROWS["places"]


def test_export_command_errors_are_friendly(cli, db, unscored, tmp_path):
    result = invoke(cli, unscored, "cells", "--out", str(tmp_path / "c.gpkg"))
    assert result.exit_code == 1 and "run `placerisk score` first" in result.output
    assert not (tmp_path / "c.gpkg").exists()
    result = invoke(cli, db, "places", "--out", str(tmp_path / "p.xlsx"))
    assert result.exit_code == 1 and "--format geojson|csv|gpkg" in result.output
    result = invoke(cli, db, "places", "--run-id", "1", "--out", str(tmp_path / "p.csv"))
    assert result.exit_code == 1 and "cells and wards" in result.output
    result = invoke(cli, db, "places", "--out", str(tmp_path / "none" / "p.csv"))
    assert result.exit_code == 1 and "does not exist" in result.output
    result = invoke(cli, db, "notes", "--out", str(tmp_path / "r.csv"))
    assert result.exit_code == 2 and "Invalid value" in result.output


def test_the_command_module_imports_before_or_after_the_cli():
    code = ("import api.cli.exports, api.cli; "
            "print(api.cli.main.commands['export'].name)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parents[2], check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "export"


def test_an_export_must_say_why_and_is_audited(api):
    from layers.store import audit

    bare = api.get("/api/export/places.csv", params={"purpose": ""})
    assert bare.status_code == 422 and "purpose" in bare.json()["detail"]
    assert api.get("/api/export/places.csv", params={"purpose": "JAG 12 March"}).status_code \
        == 200
    with api.app.state.store.connect() as conn:
        rows = audit.query(conn, action="export")
    assert "JAG 12 March" in set(rows["purpose"])
    row = rows[rows["purpose"] == "JAG 12 March"].iloc[0]
    assert (row["user_name"], row["role"], row["object_ids"]) == ("analyst", "analyst", "places")


def test_the_reports_export_is_for_analysts_only_and_audited(db):
    from layers.store import audit

    with export_client(db) as c:
        response = c.get("/api/export/reports.csv", params={"purpose": "JAG grades review"})
        assert response.status_code == 200
        header = response.content.decode("utf-8-sig").splitlines()[0]
        for column in ("report_id", "summary", "source_grade", "intel_grade", "handling_code"):
            assert f'"{column}"' in header
        with c.app.state.store.connect() as conn:
            rows = audit.query(conn, action="export")
        row = rows[rows["purpose"] == "JAG grades review"].iloc[0]
        assert (row["role"], row["object_ids"]) == ("analyst", "reports")
        sign_in(c, "police")
        refused = c.get("/api/export/reports.csv", params={"purpose": "JAG grades review"})
        assert refused.status_code == 403
