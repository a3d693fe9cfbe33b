"""The project's one CRS policy.

Lengths, buffers and areas are computed in British National Grid (EPSG:27700); H3 indexing,
storage of points and everything at the map/API edge uses WGS84 (EPSG:4326). Degrees are
always called ``lat`` and ``lng``, never ``x`` and ``y``.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pyproj

WGS84 = "EPSG:4326"
BNG = "EPSG:27700"

# A generous box around Great Britain and Northern Ireland. Anything outside it is almost
# certainly a swapped pair, British National Grid metres in degree columns, or a typo.
UK_LAT = (49.0, 61.0)
UK_LNG = (-9.0, 2.5)

_BNG_TO_WGS84 = pyproj.Transformer.from_crs(BNG, WGS84, always_xy=True)
_WGS84_TO_BNG = pyproj.Transformer.from_crs(WGS84, BNG, always_xy=True)


class CRSError(ValueError):
    """A frame is in a coordinate reference system the operation does not accept."""


def check_crs(crs: object, expected: str, *, what: str = "frame") -> None:
    """Raise `CRSError` unless ``crs`` equals ``expected``.

    Parameters
    ----------
    crs
        The CRS found (a ``pyproj.CRS``, a string, or ``None``).
    expected
        The CRS required, such as ``WGS84`` or ``BNG``.
    what
        Names the input in the message.

    Examples
    --------
    >>> check_crs("EPSG:4326", WGS84)
    >>> check_crs("EPSG:27700", WGS84, what="wards")
    Traceback (most recent call last):
    ...
    geo.crs.CRSError: wards: expected CRS EPSG:4326, got EPSG:27700
    """
    if crs is None:
        msg = f"{what}: has no CRS; expected {expected}. Set one with .set_crs() first"
        raise CRSError(msg)
    found = pyproj.CRS.from_user_input(crs)
    if not found.equals(pyproj.CRS.from_user_input(expected), ignore_axis_order=True):
        name = found.to_string()
        msg = f"{what}: expected CRS {expected}, got {name}"
        raise CRSError(msg)


def bng_to_latlng(
    easting: np.ndarray, northing: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Convert British National Grid metres to WGS84 ``(lat, lng)`` arrays.

    Examples
    --------
    >>> lat, lng = bng_to_latlng(np.array([448907.0]), np.array([520333.0]))
    >>> round(float(lat[0]), 3), round(float(lng[0]), 3)
    (54.576, -1.245)
    """
    lng, lat = _BNG_TO_WGS84.transform(np.asarray(easting, float), np.asarray(northing, float))
    return np.asarray(lat), np.asarray(lng)


def latlng_to_bng(lat: np.ndarray, lng: np.ndarray
                  ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Convert WGS84 ``lat``/``lng`` arrays to British National Grid ``(easting, northing)``."""
    e, n = _WGS84_TO_BNG.transform(np.asarray(lng, float), np.asarray(lat, float))
    return np.asarray(e), np.asarray(n)


def latlng_problems(lat: np.ndarray, lng: np.ndarray) -> np.ndarray:
    """Explain, per point, why a ``lat``/``lng`` pair is not a usable UK location.

    Returns an object array holding ``None`` for good points and a reason string otherwise.
    Vectorised; the reasons are meant for users and say what to do next.

    Examples
    --------
    >>> latlng_problems(np.array([54.57, -1.31, 448907.0, np.nan]),
    ...                 np.array([-1.31, 54.57, 520333.0, 1.0])).tolist()
    ... # doctest: +NORMALIZE_WHITESPACE
    [None,
     'latitude -1.31 and longitude 54.57 look swapped (lat must be in [49, 61])',
     'latitude 448907.0 is not in degrees (British National Grid metres? convert to WGS84)',
     'latitude is missing or not a number']
    """
    lat = np.asarray(lat, float)
    lng = np.asarray(lng, float)
    out = np.full(lat.shape, None, dtype=object)
    in_lat = (lat >= UK_LAT[0]) & (lat <= UK_LAT[1])
    in_lng = (lng >= UK_LNG[0]) & (lng <= UK_LNG[1])
    swapped = (lng >= UK_LAT[0]) & (lng <= UK_LAT[1]) & (lat >= UK_LNG[0]) & (lat <= UK_LNG[1])
    metres = (np.abs(lat) > 180) | (np.abs(lng) > 180)
    for i in np.flatnonzero(~(in_lat & in_lng)):
        out[i] = _latlng_reason(lat[i], lng[i], bool(swapped[i]), bool(metres[i]), bool(in_lat[i]))
    return out


def _latlng_reason(lat: float, lng: float, swapped: bool, metres: bool, lat_ok: bool) -> str:
    if np.isnan(lat):
        return "latitude is missing or not a number"
    if np.isnan(lng):
        return "longitude is missing or not a number"
    if swapped:
        return (
            f"latitude {lat} and longitude {lng} look swapped "
            f"(lat must be in [{UK_LAT[0]:g}, {UK_LAT[1]:g}])"
        )
    if metres:
        which, value = ("latitude", lat) if abs(lat) > 180 else ("longitude", lng)
        return (
            f"{which} {value} is not in degrees "
            "(British National Grid metres? convert to WGS84)"
        )
    if not lat_ok:
        return f"latitude {lat} out of range [{UK_LAT[0]:g}, {UK_LAT[1]:g}] for the UK"
    return f"longitude {lng} out of range [{UK_LNG[0]:g}, {UK_LNG[1]:g}] for the UK"
