"""Read ward boundary files (GeoJSON, GeoPackage, Shapefile) in any CRS.

ONS field names are recognised by pattern (``WD24CD``/``WD24NM``, ``WD13CD``/``WD13NM``,
``LAD24CD``/``LAD24NM``...), geometries are validated and repaired where possible, and the
result is one frame with the columns ``code, name, authority_code, authority_name, vintage,
geometry`` in EPSG:4326.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.crs import UK_LAT, UK_LNG, WGS84

COLUMNS = ["code", "name", "authority_code", "authority_name", "vintage", "geometry"]

_WARD_CODE = re.compile(r"^WD(\d\d)CD$", re.IGNORECASE)
_WARD_NAME = re.compile(r"^WD(\d\d)NM$", re.IGNORECASE)
_LAD_CODE = re.compile(r"^LAD(\d\d)CD$", re.IGNORECASE)
_LAD_NAME = re.compile(r"^LAD(\d\d)NM$", re.IGNORECASE)
_OLD_WARD_CODE = re.compile(r"^WD(\d\d)CDO$", re.IGNORECASE)

# Pre-2011 ONS local authority codes (the first four characters of the old-style ward codes
# in WDxxCDO) for the authorities around Cleveland, so older ward files that carry no LAD
# column still say which authority they belong to. Other areas pass --authority.
LEGACY_AUTHORITIES = {
    "00EB": ("E06000001", "Hartlepool"),
    "00EC": ("E06000002", "Middlesbrough"),
    "00EE": ("E06000003", "Redcar and Cleveland"),
    "00EF": ("E06000004", "Stockton-on-Tees"),
    "00EH": ("E06000005", "Darlington"),
}


class BoundaryError(ValueError):
    """A boundary file cannot be read or understood."""


@dataclass
class BoundarySet:
    """Boundaries read from one file.

    Attributes
    ----------
    areas
        One row per ward, columns `COLUMNS`, EPSG:4326.
    repaired
        Messages for geometries that were invalid and have been repaired.
    rejected
        Messages for features that could not be used, naming the ward.
    """

    areas: gpd.GeoDataFrame
    repaired: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class FieldChoice:
    """Which columns of a boundary file hold the ward code, name and authority."""

    code: str
    name: str
    authority_code: str | None = None
    authority_name: str | None = None
    legacy_code: str | None = None
    vintage: str | None = None


# The current wards of the hub's authorities, shipped in the repository (see its README).
BUNDLED_DIR = Path(__file__).resolve().parents[1] / "data" / "boundaries"


def bundled_ward_files() -> list[Path]:
    """The ward files shipped in ``data/boundaries/`` (none in an installed package)."""
    return sorted(BUNDLED_DIR.glob("*.geojson")) if BUNDLED_DIR.is_dir() else []


def read_boundaries(
    path: str | Path,
    *,
    layer: str | None = None,
    code_field: str | None = None,
    name_field: str | None = None,
    authority_code: str | None = None,
    authority_name: str | None = None,
    vintage: str | None = None,
) -> BoundarySet:
    """Read, reproject, validate and normalise a ward boundary file.

    Parameters
    ----------
    path
        A GeoJSON, GeoPackage or Shapefile.
    layer
        The layer to read from a multi-layer file (GeoPackage).
    code_field, name_field
        Override the recognised ward code and name columns.
    authority_code, authority_name
        The local authority, when the file has no ``LADxxCD`` column.
    vintage
        The boundary vintage (such as ``"2024"``), when the field names do not tell it.

    Raises
    ------
    BoundaryError
        When the file cannot be read, has no CRS, or its fields cannot be recognised.
    """
    frame = _read(Path(path), layer)
    fields = choose_fields(
        list(frame.columns), code_field=code_field, name_field=name_field, vintage=vintage
    )
    frame = _to_wgs84(frame, path)
    areas = _normalise(frame, fields, authority_code, authority_name, path)
    return _validate(areas)


def _read(path: Path, layer: str | None) -> gpd.GeoDataFrame:
    if not path.exists():
        msg = f"{path}: no such file"
        raise BoundaryError(msg)
    try:
        frame = gpd.read_file(path, layer=layer)
    except Exception as exc:  # pyogrio raises several types; all mean "cannot read"
        hint = " (pass --layer NAME for a GeoPackage with several layers)" if layer is None else ""
        msg = f"{path}: cannot read as GeoJSON, GeoPackage or Shapefile: {exc}{hint}"
        raise BoundaryError(msg) from exc
    if len(frame) == 0:
        msg = f"{path}: the file has no features"
        raise BoundaryError(msg)
    return frame


def choose_fields(
    columns: list[str],
    *,
    code_field: str | None = None,
    name_field: str | None = None,
    vintage: str | None = None,
) -> FieldChoice:
    """Recognise ONS ward and authority fields among ``columns``.

    Examples
    --------
    >>> f = choose_fields(["LAD24CD", "LAD24NM", "WD24CD", "WD24NM", "geometry"])
    >>> f.code, f.name, f.authority_code, f.vintage
    ('WD24CD', 'WD24NM', 'LAD24CD', '2024')
    """
    code = code_field or _first(columns, _WARD_CODE)
    name = name_field or _first(columns, _WARD_NAME)
    for label, value, option in (("code", code, "--code-field"), ("name", name, "--name-field")):
        if value is None:
            msg = (
                f"cannot tell which column holds the ward {label}: none of {columns} looks "
                f"like an ONS field (WD24CD, WD24NM, ...); pass {option} COLUMN"
            )
            raise BoundaryError(msg)
        if value not in columns:
            msg = f"column {value!r} given for the ward {label} is not in the file: {columns}"
            raise BoundaryError(msg)
    assert code is not None and name is not None  # checked above
    match = _WARD_CODE.match(code) or _WARD_NAME.match(name)
    found_vintage = vintage or (f"20{match.group(1)}" if match else None)
    return FieldChoice(
        code=code,
        name=name,
        authority_code=_first(columns, _LAD_CODE),
        authority_name=_first(columns, _LAD_NAME),
        legacy_code=_first(columns, _OLD_WARD_CODE),
        vintage=found_vintage,
    )


def _first(columns: list[str], pattern: re.Pattern[str]) -> str | None:
    return next((c for c in columns if pattern.match(c)), None)


def _to_wgs84(frame: gpd.GeoDataFrame, path: str | Path) -> gpd.GeoDataFrame:
    if frame.crs is None:
        msg = f"{path}: the file declares no CRS; ONS publishes EPSG:27700 and EPSG:4326 files"
        raise BoundaryError(msg)
    declared = frame.crs.to_string()
    minx, miny, maxx, maxy = frame.total_bounds
    if frame.crs.is_projected and max(abs(minx), abs(maxx)) <= 180 and max(
            abs(miny), abs(maxy)) <= 90:
        msg = (
            f"{path}: the file declares {declared} (metres) but its coordinates look like "
            f"degrees (x {minx:.3f}..{maxx:.3f}, y {miny:.3f}..{maxy:.3f}); "
            "is the declared CRS wrong?"
        )
        raise BoundaryError(msg)
    frame = frame.to_crs(WGS84)
    minx, miny, maxx, maxy = frame.total_bounds
    inside_uk = UK_LNG[0] <= minx and maxx <= UK_LNG[1] and UK_LAT[0] <= miny and maxy <= UK_LAT[1]
    if not inside_uk:
        msg = (
            f"{path}: after reprojection from {declared} the boundaries span lng "
            f"{minx:.3f}..{maxx:.3f}, lat {miny:.3f}..{maxy:.3f}, outside the UK; "
            "is the file's declared CRS right?"
        )
        raise BoundaryError(msg)
    return frame


def _normalise(
    frame: gpd.GeoDataFrame,
    fields: FieldChoice,
    authority_code: str | None,
    authority_name: str | None,
    path: str | Path,
) -> gpd.GeoDataFrame:
    if fields.vintage is None:
        msg = f"{path}: cannot tell the boundary vintage from the field names; pass --vintage"
        raise BoundaryError(msg)
    auth_code, auth_name = _authorities(frame, fields, authority_code, authority_name, path)
    areas = gpd.GeoDataFrame(
        {
            "code": frame[fields.code].astype("string").str.strip(),
            "name": frame[fields.name].astype("string").str.strip(),
            "authority_code": auth_code,
            "authority_name": auth_name,
            "vintage": fields.vintage,
        },
        geometry=frame.geometry.values,
        crs=WGS84,
    )
    return areas[COLUMNS]


def _authorities(
    frame: gpd.GeoDataFrame,
    fields: FieldChoice,
    authority_code: str | None,
    authority_name: str | None,
    path: str | Path,
) -> tuple[pd.Series, pd.Series]:
    n = len(frame)
    if authority_code:
        name = authority_name or authority_code
        return pd.Series([authority_code] * n), pd.Series([name] * n)
    if fields.authority_code:
        codes = frame[fields.authority_code].astype("string")
        names = frame[fields.authority_name] if fields.authority_name else codes
        return codes.reset_index(drop=True), names.astype("string").reset_index(drop=True)
    if fields.legacy_code:
        prefixes = frame[fields.legacy_code].astype("string").str[:4]
        known = prefixes.map(lambda p: LEGACY_AUTHORITIES.get(p, (None, None)))
        codes = known.map(lambda t: t[0])
        if codes.notna().all():
            names = known.map(lambda t: t[1])
            return codes.reset_index(drop=True), names.reset_index(drop=True)
    msg = (
        f"{path}: cannot tell which local authority these wards belong to (no LADxxCD "
        "column); pass --authority CODE --authority-name NAME, e.g. --authority E06000004 "
        "--authority-name Stockton-on-Tees"
    )
    raise BoundaryError(msg)


def _validate(areas: gpd.GeoDataFrame) -> BoundarySet:
    repaired: list[str] = []
    rejected: list[str] = []
    keep = np.ones(len(areas), dtype=bool)
    geoms = areas.geometry.values.copy()
    seen: set[str] = set()
    for i, (code, name, geom) in enumerate(zip(areas["code"], areas["name"], geoms, strict=True)):
        label = f"feature {i + 1} ({name or '?'}, {code or '?'})"
        problem, fixed, note = _check_feature(code, geom, seen)
        if problem:
            rejected.append(f"{label}: {problem}")
            keep[i] = False
            continue
        if note:
            repaired.append(f"{label}: {note}")
        geoms[i] = fixed
        seen.add(str(code))
    out = areas.set_geometry(geoms)[keep].reset_index(drop=True)
    return BoundarySet(areas=out, repaired=repaired, rejected=rejected)


def _check_feature(
    code: object, geom: Any, seen: set[str]
) -> tuple[str | None, Any, str | None]:
    """Return (problem, geometry to keep, repair note) for one feature."""
    if code is None or pd.isna(code) or not str(code):
        return "has no ward code", geom, None
    if str(code) in seen:
        return f"ward code {code} appears twice in the file", geom, None
    if geom is None or shapely.is_empty(geom):
        return "has no geometry", geom, None
    if geom.geom_type not in ("Polygon", "MultiPolygon"):
        return f"is a {geom.geom_type}, expected a Polygon or MultiPolygon", geom, None
    if shapely.is_valid(geom):
        return None, geom, None
    reason = shapely.is_valid_reason(geom)
    fixed = _polygonal_part(shapely.make_valid(geom))
    if fixed is None or fixed.area == 0:
        return f"invalid geometry that cannot be repaired ({reason})", geom, None
    return None, fixed, f"repaired invalid geometry ({reason})"


def _polygonal_part(geom: Any) -> Any:
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom
    parts = [g for g in getattr(geom, "geoms", []) if g.geom_type in ("Polygon", "MultiPolygon")]
    if not parts:
        return None
    return shapely.union_all(parts)
