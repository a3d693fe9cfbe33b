"""Fixtures for the geo tests: the real boundary files in ../shared/data and a ward index.

``shared_data`` and `missing` come from ``tests/conftest.py``: skip with a reason when the
data is absent, fail under ``CI=true``.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest

from geo.boundaries import read_boundaries
from geo.wards import WardIndex
from tests.conftest import missing


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
