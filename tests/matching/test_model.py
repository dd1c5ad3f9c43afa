"""The model's per-pattern arithmetic against the per-pair formulas it replaces (issue 17).

EM, the field weights and the decontamination of ``u`` work per agreement pattern instead of
per pair; these tests pin that down to the per-pair definitions on random data, with every
option that changes a pair's weight or probability (term-frequency override, labels, one-to-one
competition, copies)."""

from __future__ import annotations

import numpy as np
import pytest

from erpdata.matching import model as fs
from erpdata.matching.compare import MISSING

N_LEVELS = [3, 2, 4, 2]
LABELS = [tuple(f"l{i}" for i in range(n)) for n in N_LEVELS]


def _gamma(rng: np.random.Generator, n: int) -> np.ndarray:
    return np.stack([rng.integers(MISSING, k, n) for k in N_LEVELS], axis=1).astype(np.int8)


def _u(rng: np.random.Generator) -> list[np.ndarray]:
    out = [rng.random(n) + 0.1 for n in N_LEVELS]
    return [x / x.sum() for x in out]


def _override(rng: np.random.Generator, n: int) -> dict[int, np.ndarray]:
    over = np.log2(rng.random(n) * 0.1 + 1e-3)
    over[rng.random(n) < 0.5] = np.nan
    return {0: over}


def _field_weights_per_pair(model: fs.Model, gamma: np.ndarray,
                            log_u_override: dict[int, np.ndarray] | None) -> np.ndarray:
    """The definition: pair by pair, field by field."""
    w = np.zeros(gamma.shape)
    for i, row in enumerate(gamma):
        for k, g in enumerate(row):
            if g == MISSING:
                continue
            over = (log_u_override or {}).get(k)
            log_u = over[i] if over is not None and not np.isnan(over[i]) else np.log2(
                model.u[k][g])
            w[i, k] = np.log2(model.m[k][g]) - log_u
    return w


def test_patterns_group_equal_rows_and_keep_their_levels() -> None:
    rng = np.random.default_rng(0)
    gamma = _gamma(rng, 500)
    patterns = fs.Patterns.of(gamma)
    assert np.array_equal(patterns.levels[patterns.code], gamma)
    assert len(np.unique(patterns.levels, axis=0)) == len(patterns.levels)
    assert patterns.count.sum() == len(gamma)
    assert np.array_equal(patterns.count, np.bincount(patterns.code))


def test_patterns_of_many_wide_fields_do_not_overflow() -> None:
    # 80 fields of 5 levels: 6^80 patterns could not be one int64 without renumbering
    rng = np.random.default_rng(1)
    base = rng.integers(MISSING, 5, (40, 80)).astype(np.int8)
    gamma = base[rng.integers(0, 40, 1000)]
    patterns = fs.Patterns.of(gamma)
    assert np.array_equal(patterns.levels[patterns.code], gamma)
    assert len(patterns.levels) == len(np.unique(gamma, axis=0))


def test_patterns_of_no_pairs() -> None:
    patterns = fs.Patterns.of(np.zeros((0, 3), dtype=np.int8))
    assert patterns.code.shape == (0,) and patterns.levels.shape == (0, 3)


@pytest.mark.parametrize("override", [False, True])
def test_field_weights_are_the_per_pair_definition(override: bool) -> None:
    rng = np.random.default_rng(2)
    gamma = _gamma(rng, 300)
    tf = _override(rng, len(gamma)) if override else None
    model = fs.Model(["a", "b", "c", "d"], LABELS, _u(rng), _u(rng), 0.1)
    assert np.array_equal(model.field_weights(gamma, tf), _field_weights_per_pair(model, gamma, tf))
    # with m = 1 a field's weight is minus its log2 u: the sum EM subtracts, fixed per fit
    only_u = fs.Model(model.fields, LABELS, [np.ones(n) for n in N_LEVELS], model.u, 0.1)
    assert np.allclose(fs.Patterns.of(gamma).sum_log_u(gamma, model.u, tf),
                       -_field_weights_per_pair(only_u, gamma, tf).sum(axis=1),
                       rtol=1e-12, atol=1e-12)


def _em_step_per_pair(model: fs.Model, gamma: np.ndarray, tf: dict[int, np.ndarray] | None,
                      pairs: tuple[np.ndarray, np.ndarray] | None, copies: fs.Copies | None,
                      labels: np.ndarray | None) -> list[np.ndarray]:
    """One M-step as defined: the per-field level sums of the pairs' match probabilities."""
    p = model.score(gamma, tf, pairs, copies)[0]
    if labels is not None:
        p = np.where(labels >= 0, labels.astype(float), p)
    out = []
    for k, n in enumerate(N_LEVELS):
        g = gamma[:, k]
        present = g != MISSING
        sums = np.bincount(g[present].astype(np.int64), weights=p[present], minlength=n)[:n]
        sums = sums + fs.M_PRIOR_PAIRS * fs._initial_m(n)
        out.append(sums / sums.sum())
    return out


@pytest.mark.parametrize("one_to_one", [False, True])
@pytest.mark.parametrize("with_labels", [False, True])
def test_fit_steps_as_the_per_pair_em(one_to_one: bool, with_labels: bool) -> None:
    rng = np.random.default_rng(3)
    n = 400
    gamma = _gamma(rng, n)
    u = _u(rng)
    tf = _override(rng, n)
    key = np.unique(rng.integers(0, 60, n) * 1000 + rng.integers(0, 70, n))[:n]
    pairs = (key // 1000, key % 1000) if one_to_one else None
    gamma = gamma[: len(key)]
    tf = {0: tf[0][: len(key)]}
    copies = None
    if one_to_one:
        assert pairs is not None
        copies = fs.Copies.of(*pairs, rng.integers(0, 40, 60).astype(np.uint64),
                              rng.integers(0, 50, 70).astype(np.uint64))
        assert copies is not None
    labels = None
    if with_labels:
        labels = np.full(len(gamma), -1, dtype=np.int8)
        labels[:30] = rng.integers(0, 2, 30)
    kwargs = {"labels": labels, "log_u_override": tf, "pairs": pairs, "copies": copies}
    step = 0
    model = fs.fit(gamma, u, ["a", "b", "c", "d"], LABELS, prior=0.05, max_iterations=0,
                   **kwargs)
    for step in range(1, 6):
        expected = _em_step_per_pair(model, gamma, tf, pairs, copies, labels)
        model = fs.fit(gamma, u, ["a", "b", "c", "d"], LABELS, prior=0.05, max_iterations=step,
                       **kwargs)
        for got, want in zip(model.m, expected, strict=True):
            assert np.allclose(got, want, rtol=1e-12, atol=1e-15)
    assert step == 5


def test_decontaminate_u_steps_as_the_per_pair_em() -> None:
    rng = np.random.default_rng(4)
    gamma = _gamma(rng, 2000)
    model = fs.Model(["a", "b", "c", "d"], LABELS, _u(rng), _u(rng), 0.1)
    u, rate = fs.decontaminate_u(model, gamma, max_iterations=1)
    # one step from rate EPS: each random pair is a match with its posterior probability
    w = _field_weights_per_pair(model, gamma, None).sum(axis=1)
    match = 1.0 / (1.0 + np.exp2(-(np.log2(fs.EPS / (1 - fs.EPS)) + w)))
    for k, n in enumerate(N_LEVELS):
        g = gamma[:, k]
        present = g != MISSING
        counts = np.bincount(g[present], weights=1.0 - match[present], minlength=n)[:n]
        counts = counts + fs.M_PRIOR_PAIRS * fs._initial_m(n)[::-1]
        assert np.allclose(u[k], counts / counts.sum(), rtol=1e-12, atol=1e-15)
    assert rate == pytest.approx(float(np.clip(match.mean(), fs.EPS, 0.5)), rel=1e-12)


def test_distinct_is_numpy_unique() -> None:
    rng = np.random.default_rng(5)
    for values in (rng.integers(0, 50, 1000), np.array([], dtype=np.int64),
                   np.array([7], dtype=np.int64)):
        got = fs._distinct(values)
        assert got.dtype == values.dtype and np.array_equal(got, np.unique(values))


@pytest.mark.parametrize("seed", range(3))
def test_copies_count_each_groups_identical_records_as_defined(seed: int) -> None:
    """Against the definition, pair by pair: a pair's ERP group; 1 / the number of CRM
    records identical to its CRM record (itself included) that are candidates of that group;
    a group's capacity: its ERP records that are candidates. Some CRM records have copies,
    some ERP records are candidates of nobody."""
    rng = np.random.default_rng(seed)
    key = np.unique(rng.integers(0, 50, 300) * 1000 + rng.integers(0, 60, 300))
    left, right = key // 1000, key % 1000
    crm_content = rng.integers(0, 35, 50).astype(np.uint64)
    erp_content = rng.integers(0, 30, 70).astype(np.uint64)
    copies = fs.Copies.of(left, right, crm_content, erp_content)
    assert copies is not None
    same_group = erp_content[right][:, None] == erp_content[right][None, :]
    for i in range(len(key)):
        group = same_group[i]
        assert (copies.erp == copies.erp[i]).tolist() == group.tolist()
        rivals = {int(x) for x in left[group] if crm_content[x] == crm_content[left[i]]}
        assert copies.crm_share[i] == 1.0 / len(rivals)
        assert copies.capacity[copies.erp[i]] == len(set(right[group].tolist()))
    assert (copies.crm_share == 1).any() and (copies.crm_share < 1).any()
    # nothing repeats: no copies
    assert fs.Copies.of(left, right, np.arange(50, dtype=np.uint64),
                        np.arange(70, dtype=np.uint64)) is None
