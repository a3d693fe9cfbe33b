"""Gi* on H3: equal to esda's G_Local, to the DOMAIN formula by hand, and BH/Holm over the grid."""

from __future__ import annotations

import math

import esda
import numpy as np
import pytest
import scipy.sparse as sp
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from libpysal.weights import W

from geo.h3index import (
    cells_to_str,
    grid_disk,
    grid_disks,
    latlng_to_cells,
    polygon_to_cells,
    str_to_cells,
)
from layers.hotspots.getis import (
    GiStar,
    background_significant,
    expand,
    gi_star,
    neighbour_counts,
    p_threshold,
    significant,
)

CENTRE = "89194655863ffff"  # Stockton-on-Tees


# ---------------------------------------------------------------- helpers and fixtures


@pytest.fixture(scope="module")
def stockton_grid() -> np.ndarray:
    """317 resolution-9 cells over a box in Stockton (lat 54.55-54.60, lng -1.35..-1.28)."""
    box = shapely.box(-1.35, 54.55, -1.28, 54.60)  # (lng, lat) order for shapely
    return polygon_to_cells(box, resolution=9, contain="overlap")


def sparse_values(grid: np.ndarray, *, steps: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A fifth of the grid has data: mostly zeros, a few counts, one hot cluster."""
    rng = np.random.default_rng(seed)
    cells = np.sort(rng.choice(grid, size=len(grid) // 5, replace=False))
    values = rng.poisson(0.4, size=(len(cells), steps)).astype(float)
    values[: len(cells) // 10] += rng.poisson(6.0, size=(len(cells) // 10, steps))
    values[:, values.sum(axis=0) == 0] = 1.0  # esda needs a positive mean at every step
    return cells, values


def dense(grid: np.ndarray, cells: np.ndarray, values: np.ndarray) -> np.ndarray:
    full = np.zeros((len(grid), values.shape[1]))
    full[np.searchsorted(grid, cells)] = values
    return full


def esda_weights(grid: np.ndarray, k: int) -> W:
    """Binary libpysal weights over grid_disk(cell, k) within the grid, the cell itself included."""
    origin, neighbour = grid_disks(grid, k=k)
    position = np.searchsorted(grid, neighbour).clip(max=len(grid) - 1)
    inside = grid[position] == neighbour
    neighbours: dict[int, list[int]] = {i: [] for i in range(len(grid))}
    for i, j in zip(origin[inside].tolist(), position[inside].tolist(), strict=True):
        neighbours[i].append(j)
    return W(neighbours, id_order=list(range(len(grid))), silence_warnings=True)


def esda_z(y: np.ndarray, w: W) -> np.ndarray:
    return esda.G_Local(y, w, transform="B", star=True, permutations=0).Zs


def reference_z(grid: np.ndarray, full: np.ndarray, k: int) -> np.ndarray:
    """The DOMAIN formula cell by cell and step by step, through h3's own grid_disk."""
    n = len(grid)
    names = cells_to_str(grid).tolist()
    index = {c: i for i, c in enumerate(names)}
    z = np.zeros_like(full)
    for t in range(full.shape[1]):
        x = full[:, t]
        xbar, s = x.mean(), x.std()
        for i, cell in enumerate(names):
            hood = [index[c] for c in grid_disk(cell, k) if c in index]
            w_i = len(hood)
            denominator = s * math.sqrt((n * w_i - w_i**2) / (n - 1)) if n > 1 else 0.0
            if denominator > 0 and not np.all(x == x[0]):
                z[i, t] = (x[hood].sum() - xbar * w_i) / denominator
    return z


def grid_rows(result: GiStar, grid: np.ndarray, support: np.ndarray,
              background: np.ndarray) -> np.ndarray:
    """Spread per-support and per-W-group rows over the whole grid."""
    w_all = neighbour_counts(grid, k=result.k)
    in_support = np.isin(grid, result.cells)
    out = np.empty((len(grid), support.shape[1]), dtype=support.dtype)
    out[in_support] = support
    out[~in_support] = background[np.searchsorted(result.background_w, w_all[~in_support])]
    return out


def bh_reference(p: np.ndarray, alpha: float, *, strict: bool = True) -> np.ndarray:
    """Benjamini-Hochberg, loop by loop: reject p_(1..k), k the largest i with p_(i) < i alpha / n.

    ``strict=True`` is esda.fdr's comparison (the one placerisk follows); BH 1995 and
    statsmodels use ``<=``, which differs only when a p-value equals its cut exactly.
    """
    n = len(p)
    order = np.argsort(p)
    k = 0
    for i in range(n, 0, -1):
        cut = i * alpha / n
        if p[order[i - 1]] < cut or (not strict and p[order[i - 1]] == cut):
            k = i
            break
    reject = np.zeros(n, dtype=bool)
    reject[order[:k]] = True
    return reject


def holm_reference(p: np.ndarray, alpha: float) -> np.ndarray:
    """Holm 1979 step-down (p_(i) <= alpha / (n - i + 1)), loop by loop."""
    n = len(p)
    order = np.argsort(p)
    reject = np.zeros(n, dtype=bool)
    for i, j in enumerate(order):
        if p[j] > alpha / (n - i):
            break
        reject[j] = True
    return reject


# ---------------------------------------------------------------- against esda


@pytest.mark.parametrize("k", [1, 2])
def test_matches_esda_on_the_whole_grid(stockton_grid: np.ndarray, k: int) -> None:
    grid = stockton_grid
    cells, values = sparse_values(grid, steps=6, seed=k)
    result = gi_star(grid, cells, values, k=k)
    w = esda_weights(grid, k)
    np.testing.assert_array_equal(w.sparse.diagonal(), 1.0)  # Gi*: the cell is its neighbour
    np.testing.assert_array_equal(np.asarray(w.sparse.sum(axis=1)).ravel(),
                                  neighbour_counts(grid, k=k))
    z, p = expand(result, grid)
    full = dense(grid, cells, values)
    for t in range(values.shape[1]):
        reference = esda_z(full[:, t], w)
        np.testing.assert_allclose(z[:, t], reference, rtol=1e-9, atol=1e-9)
        one_sided = esda.G_Local(full[:, t], w, transform="B", star=True, permutations=0).p_norm
        np.testing.assert_allclose(p[:, t], 2 * one_sided, rtol=1e-9, atol=1e-12)
    assert len(result.cells) < len(grid)  # background cells really were compacted
    assert result.background_count.sum() + len(result.cells) == len(grid)


def test_one_step_matches_esda(stockton_grid: np.ndarray) -> None:
    cells, values = sparse_values(stockton_grid, steps=1, seed=7)
    z, _ = expand(gi_star(stockton_grid, cells, values), stockton_grid)
    reference = esda_z(dense(stockton_grid, cells, values)[:, 0], esda_weights(stockton_grid, 1))
    np.testing.assert_allclose(z[:, 0], reference, rtol=1e-9, atol=1e-9)


def test_support_is_data_cells_and_their_grid_neighbours(stockton_grid: np.ndarray) -> None:
    grid = stockton_grid
    cells, values = sparse_values(grid, steps=3, seed=3)
    result = gi_star(grid, cells, values, k=2)
    _, neighbour = grid_disks(cells, k=2)
    np.testing.assert_array_equal(result.cells, np.intersect1d(neighbour, grid))
    assert set(result.cells.tolist()) >= set(cells.tolist())
    assert result.z.shape == result.p.shape == (len(result.cells), 3)
    assert result.background_z.shape == (len(result.background_w), 3)
    assert np.all(result.background_z < 0)  # zero lag in a grid with a positive mean


def test_sparse_values_equal_dense(stockton_grid: np.ndarray) -> None:
    cells, values = sparse_values(stockton_grid, steps=4, seed=11)
    a = gi_star(stockton_grid, cells, values)
    b = gi_star(stockton_grid, cells, sp.csr_array(values))
    np.testing.assert_array_equal(a.z, b.z)
    np.testing.assert_array_equal(a.background_z, b.background_z)


# ---------------------------------------------------------------- by hand


def test_seven_cell_grid_by_hand() -> None:
    """grid_disk(c, 1): centre plus ring; one hot ring cell with value 6, n = 7, k = 1."""
    centre = str_to_cells([CENTRE])[0]
    grid = np.sort(grid_disks(np.array([centre]), k=1)[1])
    ring = grid[grid != centre]
    hot = ring[0]
    result = gi_star(grid, np.array([hot]), np.array([[6.0]]))
    z, p = expand(result, grid)
    z = dict(zip(grid.tolist(), z[:, 0].tolist(), strict=True))

    n, x_hot = 7, 6.0
    xbar = x_hot / n
    s = math.sqrt(x_hot**2 / n - xbar**2)  # population sd of (6, 0, 0, 0, 0, 0, 0)

    def formula(lag: float, w_i: int) -> float:
        return (lag - xbar * w_i) / (s * math.sqrt((n * w_i - w_i**2) / (n - 1)))

    hot_hood = {c for c in str_to_cells(grid_disk(cells_to_str(np.array([hot]))[0], 1)).tolist()
                if c in set(grid.tolist())}
    assert len(hot_hood) == 4  # itself, the centre and two ring cells: W = 4 for ring cells
    for cell in ring.tolist():
        lag = x_hot if cell in hot_hood else 0.0
        assert z[cell] == pytest.approx(formula(lag, 4), rel=1e-12)
    assert z[hot] == pytest.approx(math.sqrt(3) / 2, rel=1e-12)  # (18/7) / (6√6/7 · √2)
    assert z[int(centre)] == 0.0  # W = n: the formula is 0/0, documented as z = 0
    assert p[grid == centre, 0] == 1.0


@settings(max_examples=25, deadline=None)
@given(k=st.integers(0, 2), seed=st.integers(0, 2**32 - 1), share=st.floats(0.0, 1.0))
def test_matches_the_formula_cell_by_cell(k: int, seed: int, share: float) -> None:
    rng = np.random.default_rng(seed)
    centre = str_to_cells([CENTRE])
    disk = np.sort(grid_disks(centre, k=3)[1])
    grid = np.sort(rng.choice(disk, size=int(rng.integers(2, len(disk) + 1)), replace=False))
    cells = np.sort(rng.choice(grid, size=int(share * len(grid)), replace=False))
    values = rng.choice([0.0, 0.0, 1.0, 2.5, 7.0], size=(len(cells), 3))
    z, _ = expand(gi_star(grid, cells, values, k=k), grid)
    np.testing.assert_allclose(z, reference_z(grid, dense(grid, cells, values), k),
                               rtol=1e-9, atol=1e-9)


def test_k0_is_the_plain_z_score(stockton_grid: np.ndarray) -> None:
    cells, values = sparse_values(stockton_grid, steps=2, seed=5)
    z, _ = expand(gi_star(stockton_grid, cells, values, k=0), stockton_grid)
    full = dense(stockton_grid, cells, values)
    np.testing.assert_allclose(z, (full - full.mean(axis=0)) / full.std(axis=0), rtol=1e-9)


# ---------------------------------------------------------------- multiple testing


@pytest.fixture(scope="module")
def stockton_result(stockton_grid: np.ndarray) -> GiStar:
    cells, values = sparse_values(stockton_grid, steps=8, seed=1)
    return gi_star(stockton_grid, cells, values, k=1)


@pytest.mark.parametrize("alpha", [0.001, 0.01, 0.05, 0.2])
def test_bh_threshold_equals_esda_fdr_on_expanded_p(stockton_result: GiStar,
                                                    stockton_grid: np.ndarray,
                                                    alpha: float) -> None:
    _, p = expand(stockton_result, stockton_grid)
    threshold = p_threshold(stockton_result, alpha=alpha, method="fdr_bh")
    expected = [esda.fdr(p[:, t], alpha) for t in range(p.shape[1])]
    np.testing.assert_allclose(threshold, expected, rtol=1e-15)


@pytest.mark.parametrize("method", ["fdr_bh", "holm", "none"])
@pytest.mark.parametrize("alpha", [0.01, 0.05, 0.2])
def test_significance_equals_expanded_reference(stockton_result: GiStar,
                                                stockton_grid: np.ndarray,
                                                method: str, alpha: float) -> None:
    result, grid = stockton_result, stockton_grid
    _, p = expand(result, grid)
    reference = {"fdr_bh": bh_reference, "holm": holm_reference,
                 "none": lambda q, a: q < a}[method]
    expected = np.column_stack([reference(p[:, t], alpha) for t in range(p.shape[1])])
    support = significant(result, alpha=alpha, method=method)
    background = background_significant(result, alpha=alpha, method=method)
    assert support.shape == result.z.shape and background.shape == result.background_z.shape
    np.testing.assert_array_equal(grid_rows(result, grid, support, background), expected)
    if method == "fdr_bh":  # no p-value sits exactly on a cut here, so BH 1995 (<=) agrees
        bh_1995 = [bh_reference(p[:, t], alpha, strict=False) for t in range(p.shape[1])]
        np.testing.assert_array_equal(np.column_stack(bh_1995), expected)
        assert expected.any() and not expected.all()  # the comparison is not vacuous


@settings(max_examples=200, deadline=None)
@given(
    rows=st.lists(st.tuples(st.sampled_from([1e-6, 1e-4, 0.001, 0.004, 0.01, 0.02, 0.3, 1.0]),
                            st.integers(1, 40)), min_size=1, max_size=12),
    alpha=st.sampled_from([0.01, 0.05, 0.1]),
    n_support=st.integers(0, 12),
)
def test_grouped_multiple_testing_equals_expanded(rows: list[tuple[float, int]], alpha: float,
                                                  n_support: int) -> None:
    """Ties and multiplicities: a W group of c cells counts c times in the family."""
    n_support = min(n_support, len(rows))
    p = np.array([r[0] for r in rows])[:, None]
    count = np.array([1] * n_support + [r[1] for r in rows[n_support:]])
    result = GiStar(cells=np.arange(n_support, dtype=np.uint64), z=np.zeros((n_support, 1)),
                    p=p[:n_support], n=int(count.sum()),
                    background_w=np.arange(len(rows) - n_support),
                    background_count=count[n_support:], background_z=np.zeros_like(p[n_support:]),
                    background_p=p[n_support:])
    expanded = np.repeat(p[:, 0], count)
    assert p_threshold(result, alpha=alpha)[0] == esda.fdr(expanded, alpha)
    for method, reference in [("fdr_bh", bh_reference), ("holm", holm_reference)]:
        grouped = np.concatenate([significant(result, alpha=alpha, method=method)[:, 0],
                                  background_significant(result, alpha=alpha, method=method)[:, 0]])
        np.testing.assert_array_equal(np.repeat(grouped, count), reference(expanded, alpha))


def test_bh_is_strict_like_esda() -> None:
    """A p-value exactly on its BH cut is not rejected (esda.fdr); BH 1995's <= would reject."""
    p = np.array([[0.01], [0.5]])
    result = GiStar(cells=np.arange(2, dtype=np.uint64), z=np.zeros((2, 1)), p=p, n=2,
                    background_w=np.array([], dtype=np.int64),
                    background_count=np.array([], dtype=np.int64),
                    background_z=np.zeros((0, 1)), background_p=np.zeros((0, 1)))
    assert p_threshold(result, alpha=0.02)[0] == esda.fdr(p[:, 0], 0.02) == 0.01
    assert not significant(result, alpha=0.02).any()
    assert bh_reference(p[:, 0], 0.02, strict=False).tolist() == [True, False]


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"method": "bonferroni"}, "method must be one of"),
    ({"alpha": 0.0}, "alpha must be between 0 and 1"),
    ({"alpha": 1.5}, "alpha must be between 0 and 1"),
])
def test_bad_multiple_testing_options(stockton_result: GiStar, kwargs: dict,
                                      match: str) -> None:
    with pytest.raises(ValueError, match=match):
        p_threshold(stockton_result, **kwargs)


# ---------------------------------------------------------------- edge cases


def test_no_data_cells(stockton_grid: np.ndarray) -> None:
    result = gi_star(stockton_grid, np.array([], dtype=np.uint64), np.zeros((0, 4)))
    assert result.cells.shape == (0,) and result.z.shape == (0, 4)
    assert result.background_count.sum() == len(stockton_grid)
    np.testing.assert_array_equal(result.background_z, 0.0)
    np.testing.assert_array_equal(result.background_p, 1.0)
    assert not background_significant(result).any()
    assert significant(result).shape == (0, 4)


@pytest.mark.parametrize("constant", [0.0, 0.1, 3.0])
def test_constant_step_gives_zero(stockton_grid: np.ndarray, constant: float) -> None:
    """s == 0 (every grid cell equal, here in step 1): z = 0, p = 1 everywhere at that step."""
    grid = stockton_grid
    values = np.column_stack([np.arange(len(grid)) % 3, np.full(len(grid), constant)])
    result = gi_star(grid, grid, values)
    np.testing.assert_array_equal(result.z[:, 1], 0.0)
    np.testing.assert_array_equal(result.p[:, 1], 1.0)
    assert np.abs(result.z[:, 0]).max() > 0
    assert not significant(result)[:, 1].any()


def test_data_cells_all_zero_is_constant(stockton_grid: np.ndarray) -> None:
    result = gi_star(stockton_grid, stockton_grid[:10], np.zeros((10, 2)))
    np.testing.assert_array_equal(result.z, 0.0)
    np.testing.assert_array_equal(result.background_z, 0.0)


def test_cells_outside_the_grid_are_named(stockton_grid: np.ndarray) -> None:
    outside = latlng_to_cells(np.array([51.49]), np.array([-0.26]), resolution=9)  # Chiswick
    cells = np.concatenate([stockton_grid[:3], outside])
    named = cells_to_str(outside)[0]
    with pytest.raises(ValueError, match=f"1 data cells are not in the grid, e.g. {named}"):
        gi_star(stockton_grid, cells, np.ones((4, 2)))


@pytest.mark.parametrize(("change", "match"), [
    ("unsorted grid", "grid must be sorted and unique"),
    ("empty grid", "grid must be a non-empty"),
    ("repeated cell", "data cells must be unique"),
    ("one-dimensional values", r"values must have shape \(len\(cells\), T\) = \(3, T\)"),
    ("too few rows", r"values must have shape"),
    ("nan value", "values row 1 .*, step 0: nan is not finite"),
])
def test_bad_inputs(stockton_grid: np.ndarray, change: str, match: str) -> None:
    grid, cells, values = stockton_grid, stockton_grid[:3].copy(), np.ones((3, 2))
    if change == "unsorted grid":
        grid = grid[::-1]
    elif change == "empty grid":
        grid = grid[:0]
    elif change == "repeated cell":
        cells[2] = cells[0]
    elif change == "one-dimensional values":
        values = values[:, 0]
    elif change == "too few rows":
        values = values[:2]
    else:
        values[1, 0] = np.nan
    with pytest.raises(ValueError, match=match):
        gi_star(grid, cells, values)


@pytest.mark.parametrize("k", [-1, 1.5, True])
def test_bad_k(stockton_grid: np.ndarray, k: object) -> None:
    with pytest.raises(ValueError, match="k must be a non-negative integer"):
        gi_star(stockton_grid, stockton_grid[:3], np.ones((3, 2)), k=k)  # type: ignore[arg-type]


def test_expand_rejects_another_grid(stockton_result: GiStar, stockton_grid: np.ndarray) -> None:
    with pytest.raises(ValueError, match="computed on 317 grid cells"):
        expand(stockton_result, stockton_grid[:-1])


def test_neighbour_counts_at_the_edge() -> None:
    centre = str_to_cells([CENTRE])
    grid = np.sort(grid_disks(centre, k=2)[1])
    counts = dict(zip(grid.tolist(), neighbour_counts(grid, k=1).tolist(), strict=True))
    assert counts[int(centre[0])] == 7
    assert sorted(counts.values()) == [4] * 6 + [5] * 6 + [7] * 7
    assert neighbour_counts(grid, k=2)[grid == centre[0]].tolist() == [19]


def test_neighbour_counts_in_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    grid = np.sort(grid_disks(str_to_cells([CENTRE]), k=6)[1])
    whole = neighbour_counts(grid, k=2)
    monkeypatch.setattr("layers.hotspots.getis._CHUNK_PAIRS", 50)  # 2 cells per grid_disks call
    np.testing.assert_array_equal(neighbour_counts(grid, k=2), whole)
