"""The engine's explanations: what a steward reads of each suggested pair."""

from __future__ import annotations

import json

import numpy as np

from erpdata.matching.engine import _explanations
from erpdata.matching.spec import Comparison


def test_an_explanation_is_the_prior_and_each_fields_level_and_weight() -> None:
    comps = [Comparison(n, n, n, t) for n, t in
             (("name", "company"), ("phone", "phone"), ("country", "country"))]
    gamma = np.array([[4, -1, 1], [0, 1, 0]], dtype=np.int8)
    field_w = np.array([[3.14159, 0.0, 1.0], [-2.5, 5.0, -0.25]])
    got = [json.loads(x) for x in _explanations(comps, field_w, gamma, -7.25)]
    assert got == [
        {"prior": -7.25, "name": {"level": "exact", "weight": 3.142},
         "phone": {"level": "missing", "weight": 0.0},
         "country": {"level": "exact", "weight": 1.0}},
        {"prior": -7.25, "name": {"level": "different", "weight": -2.5},
         "phone": {"level": "one digit off", "weight": 5.0},
         "country": {"level": "different", "weight": -0.25}}]
    assert len(_explanations(comps, np.zeros((0, 3)), np.zeros((0, 3), np.int8), 0.0)) == 0
