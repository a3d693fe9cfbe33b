"""Base maps: none for guardians by default, the analysts' as configured, and a local
PMTiles archive served by the app itself with HTTP range requests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pmtiles.tile import TileType

from api.app import create_app
from api.routes.tiles import TilesError
from api.services.guardian import render_guardian_html
from api.settings import DEFAULT_TILES, Settings
from layers.store.engine import open_store
from maps import assets
from tests._pmtiles import write_pmtiles
from tests.conftest import missing

from .conftest import build_store, ensure_accounts_in, sign_in

OSM = "tile.openstreetmap.org"
SELF_HOSTED = "https://tiles.council.example/{z}/{x}/{y}.png"
TILE_ENV = ("PLACERISK_TILES", "PLACERISK_GUARDIAN_TILES", "PLACERISK_PMTILES",
            "PLACERISK_TILES_ATTRIBUTION")


def img_src(response) -> list[str]:
    csp = response.headers["content-security-policy"]
    (directive,) = [d for d in csp.split("; ") if d.startswith("img-src ")]
    return directive.split()[1:]


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = build_store(tmp_path_factory.mktemp("tiles"))
    ensure_accounts_in(db)
    return db


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_pmtiles(tmp_path_factory.mktemp("pmtiles") / "base.pmtiles")


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in TILE_ENV:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.fixture
def make(db: Path) -> Iterator:
    opened: list[TestClient] = []

    def client(settings: Settings, role: str | None = "analyst") -> TestClient:
        c = TestClient(create_app(settings))
        c.__enter__()
        opened.append(c)
        return sign_in(c, role) if role else c

    yield client
    for c in opened:
        c.__exit__(None, None, None)


# --- defaults: guardians get no tile server, analysts what is configured ----------------

def test_the_guardian_view_has_no_base_map_by_default(db, clean_env, make) -> None:
    settings = Settings.from_env(str(db))
    guardian = make(settings, "guardian").get("/guardian")
    assert guardian.status_code == 200
    assert OSM not in guardian.text and "TileLayer" not in guardian.text
    assert "North Box" in guardian.text  # ward outlines give the bearings instead
    assert img_src(guardian) == ["'self'", "data:"]  # nothing else may be asked either
    analyst = make(settings).get("/")
    assert OSM in analyst.text  # the analysts' default is unchanged
    assert f"https://{OSM}" in img_src(analyst)


@pytest.mark.parametrize(("env", "tiles", "guardian_tiles"), [
    ({}, DEFAULT_TILES, "none"),
    ({"PLACERISK_TILES": SELF_HOSTED}, SELF_HOSTED, "none"),
    ({"PLACERISK_PMTILES": "/srv/base.pmtiles"}, "pmtiles", "none"),
    ({"PLACERISK_PMTILES": "/srv/base.pmtiles", "PLACERISK_TILES": SELF_HOSTED},
     SELF_HOSTED, "none"),
    ({"PLACERISK_PMTILES": "/srv/base.pmtiles", "PLACERISK_GUARDIAN_TILES": "pmtiles"},
     "pmtiles", "pmtiles"),
    ({"PLACERISK_GUARDIAN_TILES": SELF_HOSTED}, DEFAULT_TILES, SELF_HOSTED),
], ids=["default", "tile-server", "pmtiles", "tile-server-beats-pmtiles",
        "pmtiles-for-guardians", "tile-server-for-guardians"])
def test_settings_from_the_environment(clean_env, env, tiles, guardian_tiles) -> None:
    for name, value in env.items():
        clean_env.setenv(name, value)
    settings = Settings.from_env()
    assert (settings.tiles, settings.guardian_tiles) == (tiles, guardian_tiles)
    assert settings.pmtiles == env.get("PLACERISK_PMTILES")


def test_a_self_hosted_guardian_base_map_is_the_only_one_its_page_allows(db, make) -> None:
    settings = Settings(db=str(db), tiles=DEFAULT_TILES, guardian_tiles=SELF_HOSTED)
    page = make(settings, "guardian").get("/guardian")
    assert "tiles.council.example" in page.text and OSM not in page.text
    assert img_src(page) == ["'self'", "data:", "https://tiles.council.example"]


# --- the PMTiles archive, served with range requests -------------------------------------

@pytest.fixture
def pmtiles_settings(db: Path, archive: Path) -> Settings:
    if assets.pmtiles_js() is None:
        missing("the pmtiles script is not vendored: run make install (needs npm)")
    return Settings(db=str(db), tiles="pmtiles", guardian_tiles="pmtiles", pmtiles=str(archive))


@pytest.mark.parametrize("role", ["analyst", "police", "guardian", "admin"])
def test_the_archive_is_served_in_byte_ranges(make, pmtiles_settings, archive, role) -> None:
    client = make(pmtiles_settings, role)
    whole = archive.read_bytes()
    head = client.get(assets.PMTILES_FILE_ROUTE, headers={"Range": "bytes=0-126"})
    assert head.status_code == 206
    assert head.content == whole[:127] and head.content.startswith(b"PMTiles\x03")
    assert head.headers["content-range"] == f"bytes 0-126/{len(whole)}"
    assert head.headers["accept-ranges"] == "bytes"
    tail = client.get(assets.PMTILES_FILE_ROUTE, headers={"Range": f"bytes={len(whole) - 50}-"})
    assert tail.status_code == 206 and tail.content == whole[-50:]


def test_the_archive_needs_a_sign_in(make, pmtiles_settings) -> None:
    response = make(pmtiles_settings, role=None).get(assets.PMTILES_FILE_ROUTE,
                                                     headers={"Range": "bytes=0-126"})
    assert response.status_code == 401


def test_no_archive_configured_is_404(db, make) -> None:
    response = make(Settings(db=str(db), tiles="none")).get(assets.PMTILES_FILE_ROUTE)
    assert response.status_code == 404


@pytest.mark.parametrize(("path", "role"), [("/", "analyst"), ("/guardian", "guardian"),
                                            ("/patrol?ward=E05000002", "police"),
                                            ("/wards/E05000002/map", "analyst")])
def test_pages_draw_the_archive_and_allow_nothing_else(make, pmtiles_settings, path,
                                                      role) -> None:
    client = make(pmtiles_settings, role)
    page = client.get(path)
    assert page.status_code == 200
    assert f"{assets.PMTILES_ROUTE}/pmtiles.js" in page.text
    assert "leafletRasterLayer" in page.text and assets.PMTILES_FILE_ROUTE in page.text
    assert OSM not in page.text
    assert img_src(page) == ["'self'", "data:", "blob:"]  # the tiles, as blob: images
    assert client.get(f"{assets.PMTILES_ROUTE}/pmtiles.js").status_code == 200


def test_a_standalone_file_goes_without_the_archive(pmtiles_settings) -> None:
    store = open_store(pmtiles_settings.db)
    try:
        html = render_guardian_html(store, pmtiles_settings, standalone=True)
    finally:
        store.close()
    assert assets.PMTILES_FILE_ROUTE not in html and "leafletRasterLayer" not in html
    assert "North Box" in html


def test_the_app_refuses_an_archive_it_cannot_draw(db, tmp_path) -> None:
    vector = write_pmtiles(tmp_path / "vector.pmtiles", tile_type=TileType.MVT)
    csv = tmp_path / "not.pmtiles"
    csv.write_text("place_id,name\nP1,Shop\n")
    for path, match in ((vector, "vector tiles"), (csv, "not a PMTiles archive"),
                        (tmp_path / "absent.pmtiles", "cannot read it")):
        with pytest.raises(TilesError, match=match):
            create_app(Settings(db=str(db), tiles="none", guardian_tiles="pmtiles",
                                pmtiles=str(path)))
    with pytest.raises(TilesError, match="PLACERISK_PMTILES names no file"):
        create_app(Settings(db=str(db), tiles="pmtiles"))
    with pytest.raises(ValueError, match="tiles"):  # a guardian URL the CSP cannot name
        create_app(Settings(db=str(db), tiles="none",
                            guardian_tiles="https://tiles.{s}.example.org/{z}/{x}/{y}.png"))
