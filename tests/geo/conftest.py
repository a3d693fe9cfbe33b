"""Fixtures for the geo tests: the real boundary files in ../shared/data and a ward index.

Tests that need the real data skip with a reason when ../shared/data is absent, and fail
instead under ``CI=true``, where everything must be present.
"""

from __future__ import annotations

import os
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest

from geo.boundaries import read_boundaries
from geo.wards import WardIndex

ROOT = Path(__file__).resolve().parents[2]
SHARED_DATA = (ROOT.parent / "shared" / "data").resolve()


def missing(reason: str) -> None:
    """Skip on a developer's machine; fail under CI=true."""
    if os.environ.get("CI", "").strip().lower() == "true":
        pytest.fail(f"{reason} (CI=true: the shared data is required)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real public data folder, ../shared/data relative to the repository root."""
    if not SHARED_DATA.is_dir():
        missing(f"real public data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def boundaries_dir(shared_data: Path) -> Path:
    """The folder of real ward boundary files."""
    folder = shared_data / "boundaries"
    if not folder.is_dir():
        missing(f"boundary files not found at {folder}")
    return folder


@pytest.fixture(scope="session")
def stockton_2024(boundaries_dir: Path) -> gpd.GeoDataFrame:
    """The 27 current Stockton-on-Tees wards, read by the project's loader."""
    path = boundaries_dir / "stockton_wards_2024.geojson"
    if not path.exists():
        missing(f"{path} not found")
    return read_boundaries(path).areas


@pytest.fixture(scope="session")
def stockton_index(stockton_2024: gpd.GeoDataFrame) -> WardIndex:
    """A resolution-9 ward index over the 2024 Stockton wards."""
    return WardIndex(
        stockton_2024["code"].to_numpy(), np.asarray(stockton_2024.geometry.values), resolution=9
    )
