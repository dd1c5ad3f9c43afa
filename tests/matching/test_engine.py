"""The engine's explanations, labels and candidate order: what a steward reads of each
suggested pair."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from erpdata.demo import generate
from erpdata.matching import engine, match_frames
from erpdata.matching.engine import (
    _display_order,
    _explanations,
    _held_by,
    _labels,
    _pair_codes,
)
from erpdata.matching.spec import Comparison


def test_an_explanation_is_the_prior_and_each_fields_level_and_weight() -> None:
    comps = [Comparison(n, n, n, t) for n, t in
             (("name", "company"), ("phone", "phone"), ("country", "country"))]
    gamma = np.array([[4, -1, 1], [0, 1, 0]], dtype=np.int8)
    field_w = np.array([[3.14159, 0.0, 1.0], [-2.5, 5.0, -0.25]])
    got = [json.loads(x) for x in _explanations(comps, field_w, gamma, -7.25).to_pylist()]
    assert got == [
        {"prior": -7.25, "name": {"level": "exact", "weight": 3.142},
         "phone": {"level": "missing", "weight": 0.0},
         "country": {"level": "exact", "weight": 1.0}},
        {"prior": -7.25, "name": {"level": "different", "weight": -2.5},
         "phone": {"level": "one digit off", "weight": 5.0},
         "country": {"level": "different", "weight": -0.25}}]
    assert len(_explanations(comps, np.zeros((0, 3)), np.zeros((0, 3), np.int8), 0.0)) == 0


def test_explanations_built_in_chunks_are_those_built_at_once(
        monkeypatch: pytest.MonkeyPatch) -> None:
    tables = generate(400, 5)
    crm, erp = tables[("crm", "company")], tables[("erp", "company")]
    erp = erp.assign(id=erp["actor_type"] + ":" + erp["id"])
    cols = ["id", "name", "vatno", "phone", "email", "postalzip", "postalcity", "country"]
    whole = match_frames(crm[cols], erp[cols]).candidates
    monkeypatch.setattr(engine, "EXPLAIN_CHUNK", 7)
    chunked = match_frames(crm[cols], erp[cols]).candidates
    assert len(whole) > 300 and whole["explanation"].notna().all()
    pd.testing.assert_frame_equal(chunked, whole)


def test_labels_are_the_decisions_of_exactly_the_pairs_decided() -> None:
    """1 / 0 for a pair a steward accepted / rejected, -1 for every other pair; decisions on
    records not among those matched (gone, or the other kind) are ignored."""
    left = pd.DataFrame({"rid": np.arange(3), "id": pd.array(["a", "b", "c"], dtype="str")})
    right = pd.DataFrame({"rid": np.arange(2),
                          "id": pd.array(["customer:1", "supplier:1"], dtype="str")})
    decisions = pd.DataFrame({
        "crm_id": pd.array(["a", "c", "b", "gone", "a"], dtype="str"),
        "erp_id": pd.array(["supplier:1", "customer:1", "customer:9", "customer:1",
                            "customer:1"], dtype="str"),
        "label": [1, 0, 1, 1, 0]})
    pairs_l = np.array([0, 0, 1, 2, 2])
    pairs_r = np.array([0, 1, 0, 0, 1])

    def labels(frame: pd.DataFrame) -> list[int] | None:
        (codes,) = _pair_codes(left, right, frame)
        got = _labels(pairs_l, pairs_r, len(right), codes, frame["label"].to_numpy())
        return None if got is None else got.tolist()

    assert labels(decisions) == [0, 1, -1, 0, -1]
    assert labels(decisions.iloc[:0]) is None
    assert labels(decisions.iloc[3:4]) == [-1] * 5
    # several frames looked up at once: each gets its own codes
    first, none, second = _pair_codes(left, right, decisions.iloc[:2], None, decisions.iloc[4:])
    assert (first.tolist(), none, second.tolist()) == ([1, 2 * 2 + 0], None, [0])
    assert _labels(pairs_l, pairs_r, 2, second, 1).tolist() == [1, -1, -1, -1, -1]
    # pairs given as codes (a workspace joins them in DuckDB) are taken as they are
    coded = pd.DataFrame({"code": [4, 1], "label": [0, 1]})
    (codes,) = _pair_codes(left, right, coded)
    assert _labels(pairs_l, pairs_r, 2, codes, coded["label"].to_numpy()).tolist() == [
        -1, 1, -1, 0, -1]


def test_labels_looked_up_either_way_agree() -> None:
    """Sorted distinct pairs and decisions are searched decisions-in-pairs; any other order
    pairs-in-decisions: the labels are the same."""
    rng = np.random.default_rng(5)
    key = np.unique(rng.integers(0, 40 * 30, 500))
    pairs_l, pairs_r = key // 30, key % 30
    decided = np.unique(rng.integers(0, 40 * 30, 300))
    label = rng.integers(0, 2, len(decided))
    sorted_ = _labels(pairs_l, pairs_r, 30, decided, label)
    shuffled = rng.permutation(len(key))
    other = _labels(pairs_l[shuffled], pairs_r[shuffled], 30, decided, label)
    assert sorted_ is not None and other is not None
    assert sorted_[shuffled].tolist() == other.tolist()
    assert {-1, 0, 1} <= set(sorted_.tolist())


@pytest.mark.parametrize("shuffled", [False, True])
def test_candidates_are_ranked_by_probability_then_evidence_then_erp_record(
        shuffled: bool) -> None:
    """The two-pass order equals sorting on all four keys, ties included (probabilities and
    weights drawn from few values), whether or not the pairs come in (CRM, ERP) order."""
    rng = np.random.default_rng(7)
    n = 20_000
    lrid, rrid = rng.integers(0, 500, n), rng.integers(0, 3_000, n)
    lrid, rrid = (x[np.lexsort((rrid, lrid))] for x in (lrid, rrid))
    keep = np.r_[True, (lrid[1:] != lrid[:-1]) | (rrid[1:] != rrid[:-1])]  # pairs are unique
    lrid, rrid = lrid[keep], rrid[keep]
    p = rng.choice([0.0, 0.25, 0.5000004, 0.5000001, 0.500002, 0.500001, 1.0], len(lrid))
    weight = rng.choice([-3.0, 0.0001, 0.0004, 7.5], len(lrid))
    if shuffled:
        at = rng.permutation(len(lrid))
        lrid, rrid, p, weight = lrid[at], rrid[at], p[at], weight[at]
    expected = np.lexsort((rrid, -np.round(weight, 3), -np.round(p, 6), lrid))
    assert (_display_order(lrid, rrid, p, weight) == expected).all()
    assert len(_display_order(lrid[:0], rrid[:0], p[:0], weight[:0])) == 0


def test_a_names_holders_are_counted_and_an_unseen_or_missing_name_is_not() -> None:
    """The term frequencies' lookup: each value's count, NaN where the counts never saw it
    (then it counts as held by one record) or there is none; as pandas' ``map`` gives."""
    counts = pd.Series([3, 1], index=pd.array(["hansen as", "berg bygg"], dtype="str"))
    values = pd.Series(pd.array(["berg bygg", "ukjent as", None, "hansen as", ""], dtype="str"))
    got = _held_by(values, counts)
    assert np.array_equal(got, [1.0, np.nan, np.nan, 3.0, np.nan], equal_nan=True)
    assert np.array_equal(got, values.map(counts).to_numpy(dtype=float), equal_nan=True)
    assert np.isnan(_held_by(values, pd.Series(dtype="int64"))).all()
