"""Comparison levels of dates: how much of a date agrees decides its level."""

from __future__ import annotations

import numpy as np

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
