"""``match_frames``: the whole matching job on two tables, from raw columns to suggestions.

normalise (:mod:`.prepare`) -> block (:mod:`.blocking`, DuckDB SQL) -> compare
(:mod:`.compare`, rapidfuzz over arrays) -> model (:mod:`.model`, EM) -> assign
(:mod:`.assign`, one-to-one and thresholds) -> the top candidates of every CRM record with
probability, rank, band, link flag and a per-field explanation.

The engine never sees a truth file; the workspace front end (:mod:`.workspace`) and
``match-files`` both call this one function.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from erpdata.matching import assign, blocking, compare
from erpdata.matching import model as fs
from erpdata.matching.prepare import features
from erpdata.matching.spec import NAME_TYPES, Comparison, infer_comparisons

TOP = 5
#: A candidate below this probability is not shown: "no candidate" is an honest answer.
MIN_PROBABILITY = 0.001
RANDOM_PAIRS = 150_000
Progress = Callable[[str, float], None]


@dataclass
class MatchResult:
    """What a match run produced; ``candidates`` is the contract (see :func:`match_frames`)."""

    candidates: pd.DataFrame
    thresholds: dict[str, float]
    comparisons: list[Comparison]
    model: fs.Model
    blocked_pairs: pd.DataFrame
    no_candidate: list[str]
    stats: dict[str, Any] = field(default_factory=dict)


def _gamma(comparisons: Sequence[Comparison], left: pd.DataFrame, right: pd.DataFrame,
           lrid: np.ndarray, rrid: np.ndarray) -> np.ndarray:
    """Levels of every pair (rows) for every comparison (columns)."""
    out = np.empty((len(lrid), len(comparisons)), dtype=np.int8)
    for k, c in enumerate(comparisons):
        out[:, k] = compare.levels(c.type, left[c.name].array, right[c.name].array, lrid, rrid)
    return out


def _among(ids: pd.Series, values: Sequence[str] | pd.Series) -> np.ndarray:
    """Whether each id is one of ``values``, in Arrow (the ids are Arrow strings, and pandas'
    ``isin`` on those goes value by value in Python)."""
    found = pc.is_in(pa.array(ids.array), value_set=pa.array(values, pa.large_string()))
    return np.asarray(found.to_numpy(zero_copy_only=False), dtype=bool)


def _random_pairs(n_l: int, n_r: int) -> tuple[np.ndarray, np.ndarray]:
    """Pairs for estimating ``u``: all of them for small tables, else a seeded sample."""
    if n_l * n_r <= RANDOM_PAIRS:
        grid = np.indices((n_l, n_r)).reshape(2, -1)
        return grid[0].astype(np.int64), grid[1].astype(np.int64)
    rng = np.random.default_rng(0)
    return rng.integers(0, n_l, RANDOM_PAIRS), rng.integers(0, n_r, RANDOM_PAIRS)


def _tf_override(comparisons: Sequence[Comparison], left: pd.DataFrame, right: pd.DataFrame,
                 lrid: np.ndarray, rrid: np.ndarray, gamma: np.ndarray, u: list[np.ndarray]
                 ) -> dict[int, np.ndarray]:
    """Term-frequency ``log2 u`` for exact name agreement: a common name is weaker evidence."""
    out: dict[int, np.ndarray] = {}
    n = len(left) + len(right)
    for k, c in enumerate(comparisons):
        if c.type not in NAME_TYPES:
            continue
        exact_level = len(compare.LEVELS[c.type].labels) - 1
        values = pd.concat([left[c.name], right[c.name]], ignore_index=True)
        freq = values.value_counts() / n
        tf = left[c.name].map(freq).to_numpy(dtype=float)[lrid]
        over = np.full(len(lrid), np.nan)
        exact = gamma[:, k] == exact_level
        # never claim more than 50x the average exact-agreement evidence for a unique name
        floor = u[k][exact_level] / 50
        over[exact] = np.log2(np.maximum(tf[exact], floor))
        out[k] = over
    return out


def _labels(pairs_l: np.ndarray, pairs_r: np.ndarray, left: pd.DataFrame, right: pd.DataFrame,
            decisions: pd.DataFrame | None) -> np.ndarray | None:
    """Per pair 1 / 0 / -1 from stewards' decisions (``crm_id, erp_id, label``)."""
    if decisions is None or decisions.empty:
        return None
    lpos = pd.Series(left["rid"].to_numpy(), index=left["id"])
    rpos = pd.Series(right["rid"].to_numpy(), index=right["id"])
    d = decisions[decisions["crm_id"].isin(lpos.index) & decisions["erp_id"].isin(rpos.index)]
    key = pd.Series(d["label"].to_numpy(dtype=np.int8),
                    index=pd.MultiIndex.from_arrays([lpos[d["crm_id"]].to_numpy(),
                                                     rpos[d["erp_id"]].to_numpy()]))
    idx = pd.MultiIndex.from_arrays([pairs_l, pairs_r])
    return key.reindex(idx).fillna(-1).to_numpy(dtype=np.int8)


def match_frames(
    crm: pd.DataFrame,
    erp: pd.DataFrame,
    comparisons: Sequence[Comparison] | None = None,
    *,
    id_col: str = "id",
    many_to_many: bool = False,
    decisions: pd.DataFrame | None = None,
    exclude: pd.DataFrame | None = None,
    taken: tuple[Sequence[str], Sequence[str]] = ((), ()),
    per_record: int | None = None,
    progress: Progress | None = None,
) -> MatchResult:
    """Match every CRM row to its best ERP rows.

    Returns :class:`MatchResult` whose ``candidates`` has one row per (CRM record, candidate),
    the best :data:`TOP` per CRM record: ``crm_id, erp_id, probability, match_weight, rank,
    band, match, conflict, explanation``. ``match`` is 1 for exactly the pairs linked at the
    default thresholds (one-to-one unless ``many_to_many``). ``decisions``: stewards' labels
    (``crm_id, erp_id, label`` with 1 = accepted, 0 = rejected) used by the model; ``exclude``:
    pairs never to suggest (``crm_id, erp_id``: rejected ones); ``taken``: CRM and ERP ids that
    already have a link and must not get another. ``per_record``: candidates kept per CRM
    record by blocking (default 10, or 50 with ``many_to_many``).
    """
    report = progress or (lambda _s, _f: None)
    times: dict[str, float] = {}
    t = time.perf_counter()
    comps = infer_comparisons(crm, erp, id_col, comparisons or ())
    report("normalising", 0.0)
    left = features(crm, comps, "crm", id_col)
    right = features(erp, comps, "erp", id_col)
    times["normalise"] = time.perf_counter() - t

    t = time.perf_counter()
    report("blocking", 0.3)
    con = duckdb.connect()
    try:
        con.register("l_df", left)
        con.register("r_df", right)
        con.execute("CREATE TABLE l AS SELECT * FROM l_df")
        con.execute("CREATE TABLE r AS SELECT * FROM r_df")
        cap = per_record or (50 if many_to_many else 10)
        rule_counts = blocking.block(con, comps, per_record=cap,
                                     min_share=0.0 if many_to_many else blocking.MIN_SHARE)
        lrid, rrid = (np.asarray(a) for a in con.execute(
            "SELECT lrid, rrid FROM pairs ORDER BY lrid, rrid").fetchnumpy().values())
    finally:
        con.close()
    lrid, rrid = lrid.astype(np.int64), rrid.astype(np.int64)
    if exclude is not None and not exclude.empty and len(lrid):
        bad = _labels(lrid, rrid, left, right, exclude.assign(label=1))
        keep = bad != 1 if bad is not None else np.ones(len(lrid), dtype=bool)
        lrid, rrid = lrid[keep], rrid[keep]
    times["block"] = time.perf_counter() - t

    t = time.perf_counter()
    report("comparing", 0.5)
    gamma = _gamma(comps, left, right, lrid, rrid)
    rl, rr = _random_pairs(len(left), len(right))
    gamma_random = _gamma(comps, left, right, rl, rr)
    times["compare"] = time.perf_counter() - t

    t = time.perf_counter()
    report("estimating the model", 0.75)
    level_labels = [compare.LEVELS[c.type].labels for c in comps]
    u = fs.estimate_u(gamma_random, [len(x) for x in level_labels])
    tf = _tf_override(comps, left, right, lrid, rrid, gamma, u)
    labels = _labels(lrid, rrid, left, right, decisions)
    prior = min(len(left), len(right)) / max(len(lrid), 1)
    model = fs.fit(gamma, u, [c.name for c in comps], level_labels, prior=prior,
                   labels=labels, log_u_override=tf,
                   pairs=(lrid, rrid))
    if many_to_many:
        model = fs.refit_prior(model, gamma, tf)
    p, weight, field_w = model.score(gamma, tf, None if many_to_many else (lrid, rrid))
    if labels is not None:
        p = np.where(labels == 1, 1.0, np.where(labels == 0, 0.0, p))
    times["model"] = time.perf_counter() - t

    t = time.perf_counter()
    report("assigning", 0.9)
    crm_taken = _among(left["id"], list(taken[0]))
    erp_taken = _among(right["id"], list(taken[1]))
    if many_to_many:
        linked = np.ones(len(p), dtype=bool)
    else:
        linked = assign.one_to_one(lrid, rrid, p, crm_taken, erp_taken)
    limits = assign.thresholds(p[linked])
    candidates = _candidates(left, right, comps, lrid, rrid, p, weight, field_w, gamma,
                             linked, limits, model.prior_weight, many_to_many)
    times["assign"] = time.perf_counter() - t
    no_candidate = left["id"][~_among(left["id"], candidates["crm_id"])].tolist()
    blocked = pd.DataFrame({"crm_id": left["id"].array.take(lrid),
                            "erp_id": right["id"].array.take(rrid)})
    stats = {"pairs": len(lrid), "blocking": rule_counts, "seconds": times,
             "em_iterations": model.iterations, "prior": model.prior,
             "crm_records": len(left), "erp_records": len(right)}
    report("done", 1.0)
    return MatchResult(candidates, limits, comps, model, blocked, no_candidate, stats)


def _candidates(left: pd.DataFrame, right: pd.DataFrame, comps: Sequence[Comparison],
                lrid: np.ndarray, rrid: np.ndarray, p: np.ndarray, weight: np.ndarray,
                field_w: np.ndarray, gamma: np.ndarray, linked: np.ndarray,
                limits: dict[str, float], prior_weight: float, many_to_many: bool
                ) -> pd.DataFrame:
    """The best :data:`TOP` candidates per CRM record, with band, link flag, conflict and
    explanation (built in DuckDB, not row by row)."""
    order = np.lexsort((rrid, -p, lrid))
    lrid, rrid, p, weight = lrid[order], rrid[order], p[order], weight[order]
    field_w, gamma, linked = field_w[order], gamma[order], linked[order]
    rank = pd.Series(lrid).groupby(lrid).cumcount().to_numpy() + 1
    match = linked & (p >= limits["review"])
    conflict = np.zeros(len(p), dtype=bool)
    if not many_to_many and len(p):
        # A CRM record whose best candidate would be a link, but that ERP record is linked to
        # another CRM record: both are a conflict (a probable CRM duplicate) for the steward.
        top = (rank == 1) & ~match & (p >= limits["review"])
        winners = np.flatnonzero(match)
        won_by = pd.Series(winners, index=rrid[winners])
        lost = np.flatnonzero(top & np.isin(rrid, rrid[winners]))
        conflict[lost] = True
        conflict[won_by.loc[rrid[lost]].to_numpy()] = True
    keep = ((rank <= TOP) & (p >= MIN_PROBABILITY)) | match
    frame = pd.DataFrame({
        "crm_id": left["id"].array.take(lrid[keep]),
        "erp_id": right["id"].array.take(rrid[keep]),
        "probability": np.round(p[keep], 6),
        "match_weight": np.round(weight[keep], 3),
        "rank": rank[keep],
        "band": assign.band(p[keep], limits),
        "match": match[keep].astype(np.int8),
        "conflict": conflict[keep],
    })
    frame["explanation"] = _explanations(comps, field_w[keep], gamma[keep], prior_weight)
    return frame.reset_index(drop=True)


def _explanations(comps: Sequence[Comparison], field_w: np.ndarray, gamma: np.ndarray,
                  prior_weight: float) -> pd.api.extensions.ExtensionArray | np.ndarray:
    """JSON per pair: the prior and, per field, its agreement level and weight (the waterfall).

    Built in DuckDB from the level numbers (labels looked up in SQL) and returned as Arrow
    strings: millions of Python label and JSON strings would cost more than the JSON itself."""
    data: dict[str, np.ndarray] = {}
    parts = [f"'prior': {round(prior_weight, 3)}"]
    for k, c in enumerate(comps):
        labels = ", ".join(f"'{x}'" for x in ("missing", *compare.LEVELS[c.type].labels))
        data[f"l{k}"] = gamma[:, k].astype(np.int32) + 2  # missing (-1) is the first label
        data[f"w{k}"] = np.round(field_w[:, k], 3)
        name = c.name.replace("'", "''")
        parts.append(f"'{name}': {{'level': [{labels}][l{k}], 'weight': w{k}}}")
    if not len(field_w):
        return np.array([], dtype=object)
    con = duckdb.connect()
    try:
        con.register("w", pd.DataFrame(data))
        out = con.sql(f"SELECT to_json({{{', '.join(parts)}}})::VARCHAR FROM w").to_arrow_table()
    finally:
        con.close()
    return pd.array(out.column(0).combine_chunks(), dtype="str")
