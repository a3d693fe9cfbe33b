import geopandas as gpd
import pyproj
import pytest
import shapely

from geo.boundaries import COLUMNS, BoundaryError, choose_fields, read_boundaries
from geo.crs import BNG, UK_LAT, UK_LNG, WGS84

STOCKTON = ("E06000004", "Stockton-on-Tees")
HARTLEPOOL = ("E06000001", "Hartlepool")

# Every boundary file in ../shared/data/boundaries/, as its README describes it:
# (layer, wards, authority, vintage, ward code field, EPSG code of the file's CRS).
REAL_FILES = {
    "stockton_wards_2024.geojson": (None, 27, STOCKTON, "2024", "WD24CD", 4326),
    "hartlepool_wards_2024.geojson": (None, 12, HARTLEPOOL, "2024", "WD24CD", 4326),
    "stockton_wards_2013.geojson": (None, 26, STOCKTON, "2013", "WD13CD", 4326),
    "hartlepool_wards_2013.geojson": (None, 11, HARTLEPOOL, "2013", "WD13CD", 4326),
    "stockton_wards_2013_bng.gpkg": ("wards", 26, STOCKTON, "2013", "WD13CD", 27700),
}
BOUNDARY_SUFFIXES = {".geojson", ".json", ".gpkg", ".shp", ".zip"}

SQUARE = shapely.box(-1.35, 54.55, -1.30, 54.60)
BOW_TIE = shapely.Polygon(
    [(-1.30, 54.55), (-1.25, 54.60), (-1.25, 54.55), (-1.30, 54.60), (-1.30, 54.55)]
)
LINE = shapely.LineString([(-1.20, 54.50), (-1.10, 54.60)])


def ward_frame(names, geometries, *, crs=WGS84, code="WD24CD", name="WD24NM"):
    """A tiny ward frame with ONS-style columns."""
    n = len(names)
    return gpd.GeoDataFrame(
        {
            code: [f"E0500000{i + 1}" for i in range(n)],
            name: names,
            "LAD24CD": [STOCKTON[0]] * n,
            "LAD24NM": [STOCKTON[1]] * n,
        },
        geometry=geometries,
        crs=crs,
    )


def test_the_table_lists_every_real_file(boundaries_dir):
    found = {p.name for p in boundaries_dir.iterdir() if p.suffix.lower() in BOUNDARY_SUFFIXES}
    assert found == set(REAL_FILES)


@pytest.mark.parametrize("name", sorted(REAL_FILES))
def test_real_file_loads(boundaries_dir, name):
    layer, count, (authority_code, authority_name), vintage, _, _ = REAL_FILES[name]
    result = read_boundaries(boundaries_dir / name, layer=layer)
    areas = result.areas
    assert result.rejected == []
    assert result.repaired == []
    assert list(areas.columns) == COLUMNS
    assert len(areas) == count
    assert areas["code"].is_unique
    assert areas["code"].str.fullmatch(r"E05\d{6}").all()
    assert areas["name"].notna().all() and (areas["name"].str.len() > 0).all()
    assert areas["name"].is_unique
    assert (areas["authority_code"] == authority_code).all()
    assert (areas["authority_name"] == authority_name).all()
    assert (areas["vintage"] == vintage).all()
    assert areas.crs is not None and areas.crs.equals(pyproj.CRS.from_user_input(WGS84))
    assert areas.is_valid.all()
    assert set(areas.geom_type) <= {"Polygon", "MultiPolygon"}
    minx, miny, maxx, maxy = areas.total_bounds
    assert UK_LNG[0] <= minx < maxx <= UK_LNG[1]
    assert UK_LAT[0] <= miny < maxy <= UK_LAT[1]


@pytest.mark.parametrize("name", sorted(REAL_FILES))
def test_real_file_fields_and_crs(boundaries_dir, name):
    layer, _, _, vintage, code_field, epsg = REAL_FILES[name]
    raw = gpd.read_file(boundaries_dir / name, layer=layer)
    assert raw.crs.to_epsg() == epsg
    choice = choose_fields(list(raw.columns))
    assert (choice.code, choice.vintage) == (code_field, vintage)
    assert choice.authority_code == ("LAD24CD" if vintage == "2024" else None)


@pytest.mark.parametrize(("name", "code", "ward"), [
    ("stockton_wards_2024.geojson", "E05014858", "Billingham Central"),
    ("hartlepool_wards_2024.geojson", "E05013043", "Headland & Harbour"),
])
def test_2024_files_have_known_wards(boundaries_dir, name, code, ward):
    areas = read_boundaries(boundaries_dir / name).areas
    by_code = dict(zip(areas["code"], areas["name"], strict=True))
    assert by_code[code] == ward


def test_the_two_2024_hub_files_do_not_share_a_ward(boundaries_dir):
    stockton, hartlepool = (read_boundaries(boundaries_dir / f"{town}_wards_2024.geojson").areas
                            for town in ("stockton", "hartlepool"))
    assert not set(stockton["code"]) & set(hartlepool["code"])
    stockton, hartlepool = stockton.to_crs(BNG).union_all(), hartlepool.to_crs(BNG).union_all()
    assert stockton.distance(hartlepool) == 0  # neighbours,
    assert stockton.intersection(hartlepool).area < 10  # square metres: along a line only


def test_gpkg_reads_without_naming_its_only_layer(boundaries_dir):
    path = boundaries_dir / "stockton_wards_2013_bng.gpkg"
    with_layer = read_boundaries(path, layer="wards").areas
    without = read_boundaries(path).areas
    assert with_layer["code"].tolist() == without["code"].tolist()


def test_bng_geopackage_matches_the_2013_geojson(boundaries_dir):
    geojson = read_boundaries(boundaries_dir / "stockton_wards_2013.geojson").areas
    bng = read_boundaries(boundaries_dir / "stockton_wards_2013_bng.gpkg", layer="wards").areas
    assert sorted(bng["code"]) == sorted(geojson["code"])
    geojson = geojson.set_index("code").sort_index()
    bng = bng.set_index("code").loc[geojson.index]
    assert bng["name"].tolist() == geojson["name"].tolist()
    # Compare in metres. Today the two agree to ~1 mm; the bounds allow PROJ to pick OSTN15
    # or a Helmert transformation (a few metres apart), yet catch swapped axes or a wrong
    # CRS, which move wards by kilometres.
    a = geojson.to_crs(BNG).geometry.values
    b = bng.to_crs(BNG).geometry.values
    assert shapely.hausdorff_distance(a, b).max() < 10.0
    assert (shapely.area(shapely.symmetric_difference(a, b)) / shapely.area(a)).max() < 0.02


def test_missing_file(tmp_path):
    with pytest.raises(BoundaryError, match="no such file"):
        read_boundaries(tmp_path / "nowhere.geojson")


def test_unreadable_file(tmp_path):
    path = tmp_path / "wards.geojson"
    path.write_text("this is not GeoJSON")
    with pytest.raises(BoundaryError, match="cannot read as GeoJSON"):
        read_boundaries(path)


@pytest.mark.parametrize("suffix", [".shp", ".gpkg"])
def test_file_without_crs(tmp_path, suffix):
    path = tmp_path / f"wards{suffix}"
    with pytest.warns(UserWarning, match="'crs' was not provided"):
        ward_frame(["Alpha"], [SQUARE], crs=None).to_file(path)
    with pytest.raises(BoundaryError, match="declares no CRS") as info:
        read_boundaries(path)
    assert str(path) in str(info.value)


def test_unknown_field_names(tmp_path):
    path = tmp_path / "wards.geojson"
    ward_frame(["Alpha"], [SQUARE], code="ward_id", name="label").to_file(path)
    with pytest.raises(BoundaryError, match="ward code") as info:
        read_boundaries(path)
    message = str(info.value)
    assert "ward_id" in message and "--code-field" in message
    with pytest.raises(BoundaryError, match="pass --vintage"):
        read_boundaries(path, code_field="ward_id", name_field="label")
    with pytest.raises(BoundaryError, match="'WARD' given for the ward code is not in the file"):
        read_boundaries(path, code_field="WARD", name_field="label")
    areas = read_boundaries(path, code_field="ward_id", name_field="label", vintage="2024").areas
    assert areas[["code", "name", "authority_code", "vintage"]].values.tolist() == [
        ["E05000001", "Alpha", STOCKTON[0], "2024"]
    ]


def test_no_authority_column_needs_one_given(tmp_path):
    path = tmp_path / "wards.geojson"
    ward_frame(["Alpha"], [SQUARE]).drop(columns=["LAD24CD", "LAD24NM"]).to_file(path)
    with pytest.raises(BoundaryError, match="--authority"):
        read_boundaries(path)
    areas = read_boundaries(path, authority_code=HARTLEPOOL[0], authority_name=HARTLEPOOL[1])
    assert areas.areas[["authority_code", "authority_name"]].values.tolist() == [list(HARTLEPOOL)]


@pytest.mark.parametrize(
    ("true_crs", "declared", "suffix"),
    [
        (BNG, WGS84, ".geojson"),  # metres labelled as degrees
        (BNG, "EPSG:3857", ".gpkg"),  # metres labelled as Web Mercator: lands in Africa
    ],
)
def test_wrong_crs_is_caught(tmp_path, true_crs, declared, suffix):
    path = tmp_path / f"wards{suffix}"
    frame = ward_frame(["Alpha"], [SQUARE]).to_crs(true_crs)
    frame.set_crs(declared, allow_override=True).to_file(path)
    with pytest.raises(BoundaryError, match="outside the UK; is the file's declared CRS right"):
        read_boundaries(path)
    with pytest.raises(BoundaryError, match=f"after reprojection from {declared} "):
        read_boundaries(path)  # the message names the CRS the file declares


def test_degrees_labelled_as_bng_are_caught(tmp_path):
    path = tmp_path / "wards.gpkg"
    # Unchecked, they would land near the BNG false origin (49.77N, 7.56W): inside the UK box.
    ward_frame(["Alpha"], [SQUARE]).set_crs(BNG, allow_override=True).to_file(path)
    with pytest.raises(BoundaryError, match="declares EPSG:27700.*look like degrees"):
        read_boundaries(path)


def test_file_in_another_projected_crs_is_reprojected(tmp_path):
    path = tmp_path / "wards.gpkg"
    ward_frame(["Alpha"], [SQUARE]).to_crs("EPSG:32630").to_file(path)  # UTM zone 30N
    areas = read_boundaries(path).areas
    assert areas.crs.equals(pyproj.CRS.from_user_input(WGS84))
    assert shapely.hausdorff_distance(areas.geometry.iloc[0], SQUARE) < 1e-9


def test_bow_tie_is_repaired_naming_the_ward(tmp_path):
    path = tmp_path / "wards.geojson"
    ward_frame(["Alpha", "Bow Tie Ward"], [SQUARE, BOW_TIE]).to_file(path)
    result = read_boundaries(path)
    assert result.rejected == []
    assert len(result.repaired) == 1
    message = result.repaired[0]
    assert "Bow Tie Ward" in message and "E05000002" in message
    assert "feature 2" in message and "Self-intersection" in message
    assert len(result.areas) == 2
    assert result.areas.is_valid.all()
    fixed = result.areas.geometry.iloc[1]
    assert fixed.geom_type == "MultiPolygon"
    assert fixed.area == pytest.approx(2 * (0.05 * 0.025 / 2))  # both lobes are kept


def test_line_feature_is_rejected_naming_the_ward(tmp_path):
    path = tmp_path / "wards.geojson"
    ward_frame(["Alpha", "Line Ward"], [SQUARE, LINE]).to_file(path)
    result = read_boundaries(path)
    assert result.areas["name"].tolist() == ["Alpha"]
    assert result.repaired == []
    assert len(result.rejected) == 1
    message = result.rejected[0]
    assert "Line Ward" in message and "E05000002" in message
    assert "LineString" in message and "expected a Polygon or MultiPolygon" in message


def test_duplicate_code_is_rejected(tmp_path):
    path = tmp_path / "wards.geojson"
    frame = ward_frame(["Alpha", "Beta"], [SQUARE, shapely.box(-1.30, 54.55, -1.25, 54.60)])
    frame["WD24CD"] = "E05000001"
    frame.to_file(path)
    result = read_boundaries(path)
    assert result.areas["name"].tolist() == ["Alpha"]
    assert result.rejected == [
        "feature 2 (Beta, E05000001): ward code E05000001 appears twice in the file"
    ]


def test_empty_file(tmp_path):
    path = tmp_path / "wards.gpkg"
    ward_frame([], []).to_file(path)
    with pytest.raises(BoundaryError, match="no features"):
        read_boundaries(path)


def test_boundary_error_is_a_value_error():
    assert issubclass(BoundaryError, ValueError)
