"""The engine's output helpers, checked against what they replace."""

from __future__ import annotations

import json

import numpy as np

from erpdata.matching.engine import _explanation_json, _explanations
from erpdata.matching.spec import Comparison


def _comps() -> list[Comparison]:
    return [Comparison(n, n, n, t) for n, t in
            (("name", "company"), ("phone", "phone"), ("country", "country"))]


def test_explanations_built_once_per_distinct_row_are_those_of_every_row() -> None:
    """Explanations are built per distinct (levels, weights as shown) and spread back: the
    result must be, row for row, what building each row's JSON gives."""
    rng = np.random.default_rng(7)
    n = 5_000
    gamma = rng.integers(-1, 2, (n, 3)).astype(np.int8)
    weights = np.array([[-2.0, 1.5, 4.0], [-1.0, 0.5, 3.0], [0.2, 0.1, 0.3], [9, 9, 9]])
    field_w = weights[gamma + 1, np.arange(3)]
    # a name's weight also depends on its frequency: many distinct values on one level
    field_w[:, 0] += np.where(gamma[:, 0] == 1, rng.integers(0, 40, n) / 7, 0.0)
    field_w[:3, 1] += 1e-5  # below the shown precision: the same explanation
    got = _explanations(_comps(), field_w, gamma, -7.25)
    each = _explanation_json(_comps(), np.round(field_w, 3), gamma, -7.25).to_pylist()
    assert list(got) == each
    first = json.loads(got[0])
    assert first["prior"] == -7.25
    assert set(first) == {"prior", "name", "phone", "country"}


def test_no_rows_no_explanations() -> None:
    assert len(_explanations(_comps(), np.zeros((0, 3)), np.zeros((0, 3), np.int8), 0.0)) == 0
