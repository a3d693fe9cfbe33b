"""Formula defusing and its exact undoing (layers.records.spreadsheet)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from layers.records import spreadsheet


@pytest.mark.parametrize("value", ['=HYPERLINK("http://x")', "+cmd", "-2+3", "@SUM(1)",
                                   "\tx", "\rx", "=", "-", "'=x", "''-1"])
def test_neutralise_prefixes_formula_text(value):
    out = spreadsheet.neutralise_csv(pd.DataFrame({"t": [value]}))
    assert out["t"].tolist() == ["'" + value]
    assert spreadsheet.restore_csv(out)["t"].tolist() == [value]


@pytest.mark.parametrize("value", ["plain", "a=b", " =x", "'x", "'", "", None, "54.5"])
def test_neutralise_leaves_other_text(value):
    out = spreadsheet.neutralise_csv(pd.DataFrame({"t": [value]}, dtype=object))
    assert out["t"].tolist() == [value]
    assert spreadsheet.restore_csv(out)["t"].tolist() == [value]


@given(st.lists(st.text(alphabet="'=+-@\t\rab 1", max_size=6), min_size=1, max_size=5))
def test_restore_undoes_neutralise_exactly_and_nothing_runs(values):
    frame = pd.DataFrame({"t": values}, dtype=object)
    defused = spreadsheet.neutralise_csv(frame)
    assert not defused["t"].str.startswith(spreadsheet.FORMULA_PREFIXES).any()
    assert spreadsheet.restore_csv(defused)["t"].tolist() == values


def test_neutralise_leaves_numbers_and_the_input_alone():
    frame = pd.DataFrame({"z": [-1.5, 2.0], "n": [-3, 4], "mixed": pd.Series([-2, "-2"]),
                          "s": pd.Series(["=x", "y"], dtype="string"),
                          "when": pd.to_datetime(["2025-06-30", "2025-07-01"])})
    out = spreadsheet.neutralise_csv(frame)
    assert out["z"].tolist() == [-1.5, 2.0] and out["z"].dtype == float
    assert out["n"].tolist() == [-3, 4] and out["n"].dtype == np.int64
    assert out["mixed"].tolist() == [-2, "'-2"]
    assert out["s"].tolist() == ["'=x", "y"]
    assert out["when"].equals(frame["when"])
    assert frame["s"].tolist() == ["=x", "y"]
