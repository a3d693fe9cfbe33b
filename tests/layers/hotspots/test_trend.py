"""layers.hotspots.trend.mann_kendall against pymannkendall.original_test, series by series."""

from __future__ import annotations

import numpy as np
import pymannkendall
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from layers.hotspots import trend
from layers.hotspots.trend import MannKendall, mann_kendall

TREND_CODES = {"increasing": 1, "decreasing": -1, "no trend": 0}
FIELDS = {"s": "s", "var_s": "var_s", "z": "z", "p": "p", "Tau": "tau", "slope": "slope",
          "intercept": "intercept"}


def assert_matches_reference(x: np.ndarray, result: MannKendall, alpha: float) -> None:
    """Every field of every series equals pymannkendall's to 1e-9."""
    for row, series in enumerate(x):
        ref = pymannkendall.original_test(series, alpha)
        for ref_name, name in FIELDS.items():
            np.testing.assert_allclose(getattr(result, name)[row], getattr(ref, ref_name),
                                       rtol=1e-9, atol=1e-9, err_msg=f"series {row}: {name}")
        assert result.trend[row] == TREND_CODES[ref.trend], f"series {row}: trend"


def series_kinds(steps: int, rng: np.random.Generator) -> np.ndarray:
    """Continuous, integer (many ties), constant, monotone and trending-with-ties series."""
    ramp = np.arange(steps, dtype=float)
    return np.vstack([
        rng.normal(size=(8, steps)),
        rng.integers(0, 4, size=(8, steps)).astype(float),
        rng.poisson(0.3, size=(4, steps)).astype(float),  # mostly zeros
        np.full((2, steps), 2.5),
        ramp, -ramp, 0.1 * ramp + rng.integers(0, 2, size=steps),
        rng.integers(0, 3, size=(4, steps)) + 0.2 * ramp,
    ])


@pytest.mark.parametrize("steps", [3, 4, 5, 6, 12, 37, 104, 110])
@pytest.mark.parametrize("alpha", [0.05, 0.1, 0.01])
def test_matches_pymannkendall(steps: int, alpha: float) -> None:
    x = series_kinds(steps, np.random.default_rng(steps))
    assert_matches_reference(x, mann_kendall(x, alpha=alpha), alpha)


@settings(max_examples=60, deadline=None)
@given(
    x=hnp.arrays(
        np.float64,
        shape=st.tuples(st.integers(1, 4), st.integers(3, 110)),
        elements=st.one_of(
            st.integers(-3, 3).map(float),  # small integers: many ties
            st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False),
        ),
    ),
    alpha=st.sampled_from([0.01, 0.05, 0.1]),
)
def test_matches_pymannkendall_hypothesis(x: np.ndarray, alpha: float) -> None:
    assert_matches_reference(x, mann_kendall(x, alpha=alpha), alpha)


def test_chunks_do_not_change_results(monkeypatch: pytest.MonkeyPatch) -> None:
    x = series_kinds(20, np.random.default_rng(7))
    whole = mann_kendall(x)
    monkeypatch.setattr(trend, "_CHUNK_BYTES", 1)  # one series per chunk
    one_by_one = mann_kendall(x)
    for name in ("s", "var_s", "z", "p", "tau", "slope", "intercept", "trend"):
        np.testing.assert_array_equal(getattr(one_by_one, name), getattr(whole, name))


def test_known_values() -> None:
    res = mann_kendall(np.array([[1.0, 2.0, 3.0, 4.0, 5.0], [4.0, 4.0, 4.0, 4.0, 4.0]]))
    assert res.s.tolist() == [10, 0]
    assert res.var_s.tolist() == [300 / 18, 0.0]  # 5 * 4 * 15 / 18; all tied: 0
    assert res.tau.tolist() == [1.0, 0.0]
    assert res.slope.tolist() == [1.0, 0.0]
    assert res.intercept.tolist() == [1.0, 4.0]
    assert res.trend.tolist() == [1, 0]
    assert res.trend.dtype == np.int8


def test_empty_input_gives_empty_arrays() -> None:
    res = mann_kendall(np.empty((0, 6)))
    assert res.s.shape == res.p.shape == res.trend.shape == (0,)


@pytest.mark.parametrize(
    ("x", "match"),
    [
        (np.zeros((4, 2)), "at least 3 time steps"),
        (np.zeros((4, 0)), "at least 3 time steps"),
        (np.zeros(10), "2-D"),
        (np.zeros((2, 3, 4)), "2-D"),
        (np.array([[1.0, 2.0, 3.0], [1.0, np.nan, 3.0]]), "series 1 .*NaN"),
        (np.array([[1.0, np.inf, 3.0]]), "series 0 .*infinite"),
    ],
)
def test_bad_input_raises(x: np.ndarray, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        mann_kendall(x)


@pytest.mark.parametrize("alpha", [0.0, 1.0, -0.1, 5.0])
def test_bad_alpha_raises(alpha: float) -> None:
    with pytest.raises(ValueError, match="alpha"):
        mann_kendall(np.zeros((1, 5)), alpha=alpha)
