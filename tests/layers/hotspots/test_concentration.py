from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from layers.hotspots.concentration import concentration


def gini_reference(x: np.ndarray) -> float:
    """Mean absolute difference over twice the mean, from the definition."""
    if x.sum() == 0:
        return 0.0
    return float(np.abs(x[:, None] - x[None, :]).sum() / (2 * len(x) ** 2 * x.mean()))


def test_hand_computed():
    # grid of 100 cells; one step: a single cell holds 50 of 100, four hold 10, ten hold 1
    values = np.array([[50.0]] + [[10.0]] * 4 + [[1.0]] * 10)
    out = concentration(values, n=100).iloc[0]
    assert out["total"] == 100
    assert out["top_1pct"] == pytest.approx(0.50)  # 1 cell
    assert out["top_5pct"] == pytest.approx(0.90)  # 5 cells
    full = np.r_[values[:, 0], np.zeros(85)]
    assert out["gini"] == pytest.approx(gini_reference(full))


def test_empty_steps_are_zero_not_nan():
    out = concentration(np.zeros((3, 2)), n=10)
    assert out.to_numpy().tolist() == [[0, 0, 0, 0]] * 2


@given(arrays(float, st.tuples(st.integers(1, 12), st.integers(1, 4)),
              elements=st.floats(0, 100, allow_subnormal=False)), st.integers(0, 30))
def test_gini_matches_the_definition(values, extra_zero_cells):
    n = len(values) + extra_zero_cells
    out = concentration(values, n=n)
    for t in range(values.shape[1]):
        full = np.r_[values[:, t], np.zeros(extra_zero_cells)]
        assert out["gini"][t] == pytest.approx(gini_reference(full), abs=1e-9)
        assert 0 <= out["top_1pct"][t] <= out["top_5pct"][t] <= 1 + 1e-12


def test_more_data_cells_than_grid_is_an_error():
    with pytest.raises(ValueError, match="grid of only 1"):
        concentration(np.ones((2, 1)), n=1)
