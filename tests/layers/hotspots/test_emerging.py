"""layers.hotspots.emerging: one hand-built Gi* series per category, boundaries, simple labels."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from layers.hotspots import emerging as em
from layers.hotspots.trend import mann_kendall

CRITICAL = 1.96  # sig = |z| > 1.96 in the hand-built cases: read "2.x" as sig hot


def classify_one(z: list[float], **kwargs: float) -> str:
    za = np.array([z])
    return str(em.classify(za, np.abs(za) > CRITICAL, **kwargs)[0])


# Twelve steps each. Cold twins are the same series negated, which also flips the trend.
HOT_CASES = {
    # only the final step is sig hot
    em.NEW_HOT: [0.1, -0.3, 0.5, 0.2, -0.1, 0.4, 0.0, 0.3, -0.2, 0.1, 0.6, 2.5],
    # a run of three at the end, never sig hot before
    em.CONSECUTIVE_HOT: [0.1, 0.3, -0.2, 0.4, 0.0, 0.2, 0.1, -0.3, 0.5, 2.1, 2.4, 2.2],
    # 11 of 12 sig hot (92%) incl. the final step, steadily rising
    em.INTENSIFYING_HOT: [1.0, 2.0, 2.1, 2.3, 2.4, 2.6, 2.8, 2.9, 3.1, 3.3, 3.4, 3.6],
    # all 12 sig hot, wobbling without a trend
    em.PERSISTENT_HOT: [2.5, 3.1, 2.2, 2.9, 2.4, 3.0, 2.3, 2.8, 2.6, 2.7, 2.45, 2.75],
    # all 12 sig hot, steadily falling
    em.DIMINISHING_HOT: [3.6, 3.4, 3.3, 3.1, 2.9, 2.8, 2.6, 2.4, 2.3, 2.1, 2.05, 2.0],
    # on and off hot (4 of 12), final hot, never sig cold
    em.SPORADIC_HOT: [2.3, 0.2, 0.5, 2.4, 0.1, -0.3, 2.2, 0.4, 0.0, 0.3, 0.1, 2.6],
    # final hot, sig cold at steps 0 and 4, sig hot before the final step too
    em.OSCILLATING_HOT: [-2.4, 0.1, 2.2, 0.3, -2.1, 0.2, 0.5, 2.3, 0.1, 0.0, 0.4, 2.5],
    # 11 of 12 sig hot, the final step not significant
    em.HISTORICAL_HOT: [2.4, 2.6, 2.5, 2.8, 2.7, 2.6, 2.9, 2.5, 2.7, 2.4, 2.6, 1.0],
}
COLD_TWIN = {
    em.NEW_HOT: em.NEW_COLD, em.CONSECUTIVE_HOT: em.CONSECUTIVE_COLD,
    em.INTENSIFYING_HOT: em.INTENSIFYING_COLD, em.PERSISTENT_HOT: em.PERSISTENT_COLD,
    em.DIMINISHING_HOT: em.DIMINISHING_COLD, em.SPORADIC_HOT: em.SPORADIC_COLD,
    em.OSCILLATING_HOT: em.OSCILLATING_COLD, em.HISTORICAL_HOT: em.HISTORICAL_COLD,
}
NO_PATTERN_CASES = {
    "never significant": [0.1, -0.3, 0.5, 0.2, -0.1, 0.4, 0.0, 0.3, -0.2, 0.1, 0.6, 1.5],
    "hot early, < 90%, final not sig": [2.5, 2.2, 0.1, 0.3, 0.0, 0.2, 0.1, 0.4, 0.2, 0.1, 0.3, 0.0],
    "hot and cold early, final not sig": [2.5, -2.2, 0.1, 0.3, 0.0, 0.2, 0.1, 0.4, 0.2, 0.1, 0.3, 0.0],
}


@pytest.mark.parametrize(("expected", "z"), HOT_CASES.items(), ids=list(HOT_CASES))
def test_hot_category(expected: str, z: list[float]) -> None:
    assert classify_one(z) == expected


@pytest.mark.parametrize(("hot", "z"), HOT_CASES.items(), ids=[COLD_TWIN[k] for k in HOT_CASES])
def test_cold_twin(hot: str, z: list[float]) -> None:
    assert classify_one([-v for v in z]) == COLD_TWIN[hot]


@pytest.mark.parametrize("z", NO_PATTERN_CASES.values(), ids=list(NO_PATTERN_CASES))
def test_no_pattern(z: list[float]) -> None:
    assert classify_one(z) == em.NO_PATTERN


def test_trend_cases_have_the_intended_trend() -> None:
    z = np.array([HOT_CASES[em.INTENSIFYING_HOT], HOT_CASES[em.PERSISTENT_HOT],
                  HOT_CASES[em.DIMINISHING_HOT]])
    assert mann_kendall(z).trend.tolist() == [1, 0, -1]


def test_all_cases_at_once_match_one_by_one() -> None:
    rows = list(HOT_CASES.values()) + [[-v for v in z] for z in HOT_CASES.values()]
    rows += list(NO_PATTERN_CASES.values())
    z = np.array(rows)
    got = em.classify(z, np.abs(z) > CRITICAL)
    assert got.dtype == object
    assert got.tolist() == [classify_one(row) for row in rows]
    assert set(got) == set(em.CATEGORIES)  # every category reached


# Boundaries -----------------------------------------------------------------------------


def test_exactly_90_percent_with_final_is_mostly_hot() -> None:
    # T=10, 9 sig hot incl. final: 90% exactly counts; no trend -> persistent
    assert classify_one([0.5, 2.5, 3.0, 2.2, 2.9, 2.4, 3.1, 2.3, 2.8, 2.6]) == em.PERSISTENT_HOT


def test_exactly_90_percent_without_final_is_historical() -> None:
    # T=20, 18 sig hot (90%), final step not significant
    z = [2.5, 3.0, 2.2, 2.9, 2.4, 3.1, 2.3, 2.8, 2.6, 2.7] * 2
    z[0], z[-1] = 0.4, 1.2
    assert classify_one(z) == em.HISTORICAL_HOT


def test_just_under_90_percent_is_sporadic() -> None:
    # T=10, 8 sig hot (80%) incl. final, a gap in the middle, never cold
    assert classify_one([2.5, 3.0, 2.2, 0.1, 2.9, 2.4, 0.3, 2.3, 2.8, 2.6]) == em.SPORADIC_HOT


def test_run_of_exactly_two_is_consecutive() -> None:
    assert classify_one([0.1] * 10 + [2.1, 2.4]) == em.CONSECUTIVE_HOT


def test_final_step_only_is_new() -> None:
    assert classify_one([0.1] * 11 + [2.4]) == em.NEW_HOT


def test_run_after_an_earlier_hot_step_is_sporadic() -> None:
    # hot at step 2, then a run of three at the end: hot before the run, so not consecutive
    assert classify_one([0.1, 0.2, 2.3] + [0.1] * 6 + [2.1, 2.4, 2.2]) == em.SPORADIC_HOT


def test_long_final_run_reaching_90_percent_is_not_consecutive() -> None:
    # a run of 11 at the end of 12 steps is >= 90% hot: the trend categories take it
    z = [0.5, 2.5, 3.1, 2.2, 2.9, 2.4, 3.0, 2.3, 2.8, 2.6, 2.7, 2.45]
    assert classify_one(z) == em.PERSISTENT_HOT


def test_share_is_configurable() -> None:
    # 10 of 12 sig hot (83%): sporadic at the default 90%, persistent at 80%
    z = [2.5, 3.1, 0.2, 2.9, 2.4, 3.0, 2.3, 0.1, 2.6, 2.7, 2.45, 2.75]
    assert classify_one(z) == em.SPORADIC_HOT
    assert classify_one(z, share=0.8) == em.PERSISTENT_HOT


# Precedence -----------------------------------------------------------------------------


def test_oscillating_beats_new() -> None:
    # sig cold at step 1, then only the final step sig hot
    assert classify_one([0.1, -2.5] + [0.1] * 9 + [2.4]) == em.OSCILLATING_HOT


def test_oscillating_beats_consecutive() -> None:
    assert classify_one([0.1, -2.5] + [0.1] * 7 + [2.1, 2.4, 2.2]) == em.OSCILLATING_HOT


def test_final_cold_beats_historical_hot() -> None:
    # 11 of 12 sig hot, then sig cold: >= 90% hot but the final step is cold
    z = [2.5, 3.1, 2.2, 2.9, 2.4, 3.0, 2.3, 2.8, 2.6, 2.7, 2.45, -2.5]
    assert classify_one(z) == em.OSCILLATING_COLD


def test_trend_alpha_is_passed_on() -> None:
    z = HOT_CASES[em.INTENSIFYING_HOT]
    p = mann_kendall(np.array([z])).p[0]
    assert classify_one(z, trend_alpha=p / 2) == em.PERSISTENT_HOT


@settings(max_examples=50, deadline=None)
@given(z=hnp.arrays(np.float64, st.tuples(st.integers(1, 30), st.integers(3, 16)),
                    elements=st.floats(-4, 4, allow_nan=False)))
def test_final_step_decides_the_side(z: np.ndarray) -> None:
    sig = np.abs(z) > CRITICAL
    got = em.classify(z, sig)
    assert set(got) <= set(em.CATEGORIES)
    for category, zt, st_ in zip(got, z[:, -1], sig[:, -1], strict=True):
        if st_ and zt > 0:
            assert category.endswith("hot spot") and category != em.HISTORICAL_HOT
        elif st_ and zt < 0:
            assert category.endswith("cold spot") and category != em.HISTORICAL_COLD
        else:
            assert category in (em.HISTORICAL_HOT, em.HISTORICAL_COLD, em.NO_PATTERN)


@pytest.mark.parametrize(
    ("z", "sig", "kwargs", "match"),
    [
        (np.zeros((2, 12)), np.zeros((2, 11), bool), {}, "same shape"),
        (np.zeros((2, 12)), np.zeros((2, 12)), {}, "booleans"),
        (np.zeros((2, 12)), np.zeros((2, 12), bool), {"share": 0.5}, "share"),
        (np.zeros((2, 12)), np.zeros((2, 12), bool), {"share": 1.1}, "share"),
        (np.zeros((2, 2)), np.zeros((2, 2), bool), {}, "at least 3 time steps"),
        (np.full((1, 4), np.nan), np.zeros((1, 4), bool), {}, "NaN"),
    ],
)
def test_classify_bad_input(z: np.ndarray, sig: np.ndarray, kwargs: dict[str, float],
                            match: str) -> None:
    with pytest.raises(ValueError, match=match):
        em.classify(z, sig, **kwargs)


# Simple labels (sfhotspot style) ---------------------------------------------------------


def bits(pattern: str) -> np.ndarray:
    return np.array([c == "H" for c in pattern])


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("HHHHH.HHHH.H", em.PERSISTENT),  # 10 of 12 (83%)
        ("HHHHHHHH..", em.PERSISTENT),  # exactly 80%
        ("....H...H.H.", em.EMERGING),  # 1 of 8 earlier (12.5%), 2 of the last 4
        ("...H.......H", em.INTERMITTENT),  # 1 of the last 4 is under half: not emerging
        (".H...HH.....", em.FORMER),  # hot before, none of the last 4
        ("H...........", em.FORMER),  # once, long ago, counts as former
        ("H.H.H...H...", em.INTERMITTENT),  # 37.5% earlier and 1 of the last 4
        ("H....HH..", em.INTERMITTENT),  # 1 of 5 earlier is exactly 20%: not rare
        ("............", em.NEVER_HOT),
        (".HHHH", em.PERSISTENT),  # 80% beats emerging (none earlier, all recent)
    ],
)
def test_simple_labels(pattern: str, expected: str) -> None:
    assert em.simple_labels(bits(pattern)[np.newaxis], recent=4)[0] == expected


def test_simple_labels_vectorised() -> None:
    rows = np.array([bits("HHHHHHHHHHHH"), bits("..........HH"), bits("HH.........."),
                     bits("H.........H."), bits("............")])
    got = em.simple_labels(rows)
    assert got.dtype == object
    assert got.tolist() == [em.PERSISTENT, em.EMERGING, em.FORMER, em.INTERMITTENT,
                            em.NEVER_HOT]
    assert set(got) == set(em.SIMPLE_LABELS)


def test_simple_label_thresholds_are_keywords() -> None:
    row = bits("HHHHHHH.....")[np.newaxis]  # 7 of 12 (58%), none in the last 4
    assert em.simple_labels(row)[0] == em.FORMER
    assert em.simple_labels(row, persistent_share=0.5)[0] == em.PERSISTENT
    row = bits(".......H.HH.")[np.newaxis]  # 1 of 8 earlier, 2 of the last 4
    assert em.simple_labels(row, rare_share=0.1)[0] == em.INTERMITTENT
    assert em.simple_labels(row, recent_share=0.75)[0] == em.INTERMITTENT
    assert em.simple_labels(row, recent=3)[0] == em.EMERGING  # 1 of 9 earlier, 2 of 3


@pytest.mark.parametrize(
    ("sig_hot", "recent", "match"),
    [
        (np.zeros((2, 12), bool), 0, "recent"),
        (np.zeros((2, 12), bool), 12, "recent"),
        (np.zeros((2, 12), int), 4, "boolean"),
        (np.zeros(12, bool), 4, "2-D"),
    ],
)
def test_simple_labels_bad_input(sig_hot: np.ndarray, recent: int, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        em.simple_labels(sig_hot, recent=recent)
