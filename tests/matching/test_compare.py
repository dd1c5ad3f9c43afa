"""Comparison levels: how much of a date agrees decides its level, and values held in
chunks compare as the same values in one piece."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from erpdata.matching import compare


def test_date_levels_count_the_parts_that_agree() -> None:
    crm = np.array(["1967-09-27"], dtype=object)
    erp = np.array(["1967-09-27", "1967-09-28", "1967-27-09", "1976-09-27", "1967-11-27",
                    "1967-11-03", "1980-01-01", None], dtype=object)
    got = compare.levels("date", crm, erp, np.zeros(len(erp), dtype=np.int64),
                         np.arange(len(erp), dtype=np.int64))
    labels = ("missing", *compare.LEVELS["date"].labels)
    assert [labels[g + 1] for g in got] == [
        "exact", "typo or swapped", "typo or swapped",
        "one part differs",  # the year keyed in wrong, day and month right
        "one part differs",  # the month wrong
        "same year", "different", "missing"]


def test_levels_are_the_same_for_values_held_in_chunks() -> None:
    """A workspace's stored features come back from DuckDB in chunks: comparing them gives the
    levels that the same values in one piece give."""
    crm = ["berg bygg ab", "", None, "hansen og co as", "fjord fisk as"]
    erp = ["berg bygg ab", "hansen & co as", "fjord fisk", None, "nordlys energi as"]
    lrid = np.array([0, 0, 1, 2, 3, 4, 4], dtype=np.int64)
    rrid = np.array([0, 1, 1, 2, 1, 2, 4], dtype=np.int64)

    def chunked(values: list[str | None]) -> pd.arrays.ArrowStringArray:
        parts = [pa.array(values[:2], pa.large_string()), pa.array(values[2:], pa.large_string())]
        return pd.arrays.ArrowStringArray(pa.chunked_array(parts))

    whole = compare.levels("company", np.array(crm, dtype=object), np.array(erp, dtype=object),
                           lrid, rrid)
    assert compare.levels("company", chunked(crm), chunked(erp), lrid, rrid).tolist() == (
        whole.tolist())
    labels = ("missing", *compare.LEVELS["company"].labels)
    assert [labels[g + 1] for g in whole] == [
        "exact", "different", "missing", "missing", "same words", "same words", "different"]
