"""``match_frames``: the whole matching job on two tables, from raw columns to suggestions.

normalise (:mod:`.prepare`) -> block (:mod:`.blocking`, DuckDB SQL) -> compare
(:mod:`.compare`, rapidfuzz over arrays) -> model (:mod:`.model`, EM) -> assign
(:mod:`.assign`, one-to-one and thresholds) -> the top candidates of every CRM record with
probability, rank, band, link flag and a per-field explanation.

The engine never sees a truth file; the workspace front end (:mod:`.runs`) and
``match-files`` both call this one function.
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from scipy import sparse

from erpdata.matching import assign, blocking, compare
from erpdata.matching import model as fs
from erpdata.matching.checkpoints import UNKNOWN, Carried, Stage
from erpdata.matching.prepare import features
from erpdata.matching.spec import NAME_TYPES, Comparison, explain_comparisons
from erpdata.progress import Progress
from erpdata.sql import read_numpy, row_hashes, scratch, sql_text

if TYPE_CHECKING:
    import duckdb

    from erpdata.matching.checkpoints import Checkpoint

TOP = 5
#: A candidate below this probability is not shown: "no candidate" is an honest answer.
MIN_PROBABILITY = 0.001
RANDOM_PAIRS = 150_000
#: Many-to-many: how far EM with pairs judged alone may raise the prior over the competing
#: fit's before it counts as having found another latent class (see :func:`_many_to_many_model`).
#: Widening ``m`` to a cluster's variety raised it 1.2-1.4x on the person and citation sets;
#: runaway fits raised it 1.9-7x.
MAX_PRIOR_GROWTH = 1.5
#: Many-to-many: when the two groups of match weights (:func:`fs.score_mixture`) hold this many
#: times more matches than the model's prior says, and are clearly apart
#: (:data:`GROUP_SEPARATION`), the prior has collapsed and the groups give the probabilities.
#: Collapsed fits were 19x (patents) and 5700x (affiliations) off, with groups 4.6 and 8.3
#: apart; sound ones 0.9-2.1x (persons, citations, childcare sites, products). Where one-to-one
#: sets run many-to-many looked collapsed (restaurants, products), the "groups" were 1.4 and
#: 2.3 apart: no two groups, just a long tail of weights.
COLLAPSED_PRIOR = 4.0
GROUP_SEPARATION = 3.0
#: The most a probability from the weight groups claims: their tails are a guess (on the
#: affiliations, every link would otherwise have been "certain" at 62 % precision), so such
#: pairs are reviewed; only pairs the model itself is sure of stay auto-accepted.
MIXTURE_CEILING = 0.95


@dataclass(frozen=True)
class Fit:
    """What a run learnt from all the records and its stewards' decisions, that a later run
    may score with instead of learning again (one-to-one only): the model, the thresholds it
    chose, and how often each name value occurred (the term frequencies).

    Why keep it: those are statistics of the whole population. Learnt again after a re-load
    that changed 1% of the records, they move a little, and every pair's probability with
    them, so every suggestion would be new. Kept, a pair's score depends on its own two
    records alone and a run need only score the pairs of records that changed: a run with a
    fit gives exactly what a run over all records with that fit gives. ``run_id``: the run
    that learnt it."""

    model: fs.Model
    chosen: dict[str, float]
    best_f1: float | None
    #: comparison name -> value -> records holding it (both sides), and the records counted
    frequencies: dict[str, pd.Series]
    total: int
    run_id: int = 0
    #: the run that learnt the blocking statistics (:class:`~.blocking.Statistics`, kept in
    #: the checkpoint) that blocking runs with: a record's candidates, like its scores, then
    #: depend on itself and the other side alone
    statistics_run: int = 0


@dataclass
class MatchResult:
    """What a match run produced; ``candidates`` is the contract (see :func:`match_frames`).
    ``fit``: what the run scored with (learnt by it, or the one it was given)."""

    candidates: pd.DataFrame
    thresholds: dict[str, float]
    comparisons: list[Comparison]
    model: fs.Model
    #: every candidate pair blocking found, as (CRM ids, ERP ids, their row numbers)
    blocked: tuple[pd.Series, pd.Series, np.ndarray, np.ndarray]
    no_candidate: list[str]
    stats: dict[str, Any] = field(default_factory=dict)
    fit: Fit | None = None

    @functools.cached_property
    def blocked_pairs(self) -> pd.DataFrame:
        """Every candidate pair blocking found (``crm_id, erp_id``): built when asked for (the
        benchmarks' pair completeness), as it is two million ids at 1,000,000 records."""
        crm_ids, erp_ids, lrid, rrid = self.blocked
        return pd.DataFrame({"crm_id": crm_ids.array.take(lrid),
                             "erp_id": erp_ids.array.take(rrid)})


def _block(left: pd.DataFrame, right: pd.DataFrame, comps: Sequence[Comparison],
           per_record: int, many_to_many: bool, statistics: blocking.Statistics | None,
           carried: Carried | None, erp_grams: sparse.csr_matrix | None, progress: Progress,
           erp_side: Callable[[], contextlib.AbstractContextManager[duckdb.DuckDBPyConnection]]
           | None = None,
           keep_erp: Callable[[], contextlib.AbstractContextManager[
               Callable[[duckdb.DuckDBPyConnection, str], None]]] | None = None,
           crm_rows: Callable[[np.ndarray | None], pd.DataFrame] | None = None,
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, dict[str, int],
                      blocking.Blocked | None]:
    """The candidate pairs (sorted by ``lrid, rrid``), the levels known of them (the carried
    pairs' stored ones, :data:`UNKNOWN` for the others; None: not at hand), the rows per rule,
    and what blocking returned (None: it did not run). Blocked with ``statistics`` when given
    (and the ERP side's ``erp_grams`` under them, when at hand), else learning them. With
    ``carried`` (:meth:`~erpdata.matching.checkpoints.Checkpoint.carried`), only its CRM rows
    are blocked, with the given statistics, and the carried pairs of the others join them:
    with the statistics kept, a record's candidates are what blocking every record would give
    it. ``erp_side``: a connection holding the ERP side's blocking tables kept (see
    :func:`~erpdata.matching.blocking.block`), for the carried records to be blocked against
    instead of the ERP records; ``keep_erp``: what keeps those tables, made blocking against
    the ERP records (:meth:`~erpdata.matching.checkpoints.Checkpoint.keeping_erp_side`).
    ``crm_rows``: ``left`` holds only ids and names, and this reads the carried records to
    block (see :func:`match_frames`)."""
    rows = None if carried is None else carried.rows
    lrid = rrid = np.zeros(0, dtype=np.int64)
    counts: dict[str, int] = {}
    done = None
    if rows is None or len(rows):
        crm = left if rows is None else crm_rows(rows) if crm_rows is not None else left.iloc[
            rows]
        kept = erp_side is not None and rows is not None
        keeping = keep_erp() if keep_erp is not None and not kept else contextlib.nullcontext()
        with keeping as keep, erp_side() if kept else blocking.connect(  # type: ignore[misc]
                crm, right) as con:
            if kept:
                blocking.table(con, "l", crm)
            done = blocking.block(
                con, comps, per_record=per_record,
                min_share=0.0 if many_to_many else blocking.MIN_SHARE, progress=progress,
                statistics=statistics, erp_grams=erp_grams, erp_kept=kept, keep_erp=keep,
                # the CRM records' cross product with the ERP side was ruled out by the caller
                cross_product_below=blocking.CROSS_PRODUCT_BELOW if rows is None else 0)
            counts = done.counts
            lrid, rrid = (np.asarray(a, dtype=np.int64) for a in read_numpy(
                con, "SELECT lrid, rrid FROM pairs ORDER BY lrid, rrid").values())
    known = None
    if carried is not None:
        if carried.levels is not None:  # the pairs blocked again are all to compare
            unknown = np.full((len(lrid), carried.levels.shape[1]), UNKNOWN, dtype=np.int8)
            known = np.concatenate([carried.levels, unknown])
        lrid, rrid = np.concatenate([carried.lrid, lrid]), np.concatenate([carried.rrid, rrid])
        # the pairs are distinct (the carried and the blocked are of other CRM records):
        # one key per pair sorts them (0.14 s for 2,400,000 pairs; lexsort 0.66 s)
        order = np.argsort(lrid * (int(rrid.max(initial=0)) + 1) + rrid)
        lrid, rrid = lrid[order], rrid[order]
        known = None if known is None else known[order]
        counts = {**{f"{rule} (records blocked again)": n for rule, n in counts.items()
                     if rule != "candidate pairs"}, "candidate pairs": len(lrid)}
    return lrid, rrid, known, counts, done


def _whole(left: pd.DataFrame, right: pd.DataFrame,
           lazy: dict[str, Callable[[np.ndarray | None], pd.DataFrame]]
           ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Both sides with every feature, the ``lazy`` ones read whole (and so no longer lazy)."""
    if "crm" in lazy:
        left = lazy.pop("crm")(None)
    if "erp" in lazy:
        right = lazy.pop("erp")(None)
    return left, right


def _gamma(comparisons: Sequence[Comparison], left: pd.DataFrame, right: pd.DataFrame,
           lrid: np.ndarray, rrid: np.ndarray, progress: Progress | None = None,
           known: np.ndarray | None = None,
           lazy: dict[str, Callable[[np.ndarray | None], pd.DataFrame]] | None = None
           ) -> np.ndarray:
    """Levels of every pair (rows) for every comparison (columns); ``progress`` hears of each
    comparison (field by field, not in chunks of pairs: each field's values are factorised
    once for all pairs). ``known``: levels already at hand (a checkpoint's, see
    :meth:`~erpdata.matching.checkpoints.Checkpoint.known_levels`); only the rows marked
    ``UNKNOWN`` there are compared. ``lazy``: per side whose frame holds only ids, what
    reads the features of the rows compared (see :func:`match_frames`)."""
    out = np.empty((len(lrid), len(comparisons)), dtype=np.int8)
    todo = np.arange(len(lrid))
    if known is not None:
        out[:] = known
        todo = np.flatnonzero(known[:, 0] == UNKNOWN) if known.shape[1] else todo[:0]
    lrid, rrid = lrid[todo], rrid[todo]
    names = [c.name for c in comparisons]
    # few records involved (a re-load's changed ones): factorise their values, not everyone's
    lsub, lrid = _involved(left, names, lrid, (lazy or {}).get("crm"))
    rsub, rrid = _involved(right, names, rrid, (lazy or {}).get("erp"))
    for k, c in enumerate(comparisons):
        if progress is not None:
            progress(f"comparing {len(lrid):,} pairs: {c.name} ({k + 1} of {len(comparisons)})",
                     k / len(comparisons))
        out[todo, k] = compare.levels(c.type, lsub[c.name].array, rsub[c.name].array, lrid,
                                      rrid)
    return out


def _involved(side: pd.DataFrame, columns: list[str], rid: np.ndarray,
              rows: Callable[[np.ndarray | None], pd.DataFrame] | None = None
              ) -> tuple[pd.DataFrame, np.ndarray]:
    """``side``'s ``columns`` and ``rid`` unchanged, or, when the pairs involve fewer than
    half of the records, those records only with ``rid`` renumbered into them (a level
    depends on the two values alone, so comparing fewer records' values gives the same
    levels). ``rows``: ``side`` lacks the features, and this reads the records involved."""
    used = np.unique(rid)
    if rows is not None:
        return rows(used)[columns], np.searchsorted(used, rid)
    if 2 * len(used) >= len(side):
        return side[columns], rid
    return side[columns].take(used), np.searchsorted(used, rid)


def _content(frame: pd.DataFrame, comparisons: Sequence[Comparison]) -> np.ndarray:
    """A hash of each record's normalised compared values (in row order): equal for records
    that are identical after normalisation (duplicates)."""
    return row_hashes(frame, [c.name for c in comparisons])


def _among(ids: pd.Series, values: Sequence[str] | pd.Series) -> np.ndarray:
    """Whether each id is one of ``values``, in Arrow (the ids are Arrow strings, and pandas'
    ``isin`` on those goes value by value in Python; a Series of values is taken as Arrow holds
    it, not as a million Python strings)."""
    value_set = (pa.array(values.array) if isinstance(values, pd.Series)
                 else pa.array(values, pa.large_string()))
    found = pc.is_in(pa.array(ids.array).cast(pa.large_string()),
                     value_set=value_set.cast(pa.large_string()))
    return np.asarray(found.to_numpy(zero_copy_only=False), dtype=bool)


def _random_pairs(n_l: int, n_r: int) -> tuple[np.ndarray, np.ndarray]:
    """Pairs for estimating ``u``: all of them for small tables, else a seeded sample."""
    if n_l * n_r <= RANDOM_PAIRS:
        grid = np.indices((n_l, n_r)).reshape(2, -1)
        return grid[0].astype(np.int64), grid[1].astype(np.int64)
    rng = np.random.default_rng(0)
    return rng.integers(0, n_l, RANDOM_PAIRS), rng.integers(0, n_r, RANDOM_PAIRS)


#: The term-frequency ``log2 u`` of a run's pairs for a given ``u`` (see :func:`_tf_override`).
TermFrequencies = Callable[[list[np.ndarray]], dict[int, np.ndarray]]


def _frequencies(comparisons: Sequence[Comparison], left: pd.DataFrame, right: pd.DataFrame
                 ) -> dict[str, pd.Series]:
    """How many records of both sides hold each value of each name comparison."""
    return {c.name: pd.concat([left[c.name], right[c.name]], ignore_index=True).value_counts()
            for c in comparisons if c.type in NAME_TYPES}


def _tf_override(comparisons: Sequence[Comparison], left: pd.DataFrame,
                 frequencies: dict[str, pd.Series], total: int, lrid: np.ndarray,
                 gamma: np.ndarray, u: list[np.ndarray]) -> dict[int, np.ndarray]:
    """Term-frequency ``log2 u`` for exact name agreement: a common name is weaker evidence.
    ``frequencies`` of ``total`` records (:func:`_frequencies`; a kept :class:`Fit`'s): a
    value they never saw counts as held by one record."""
    out: dict[int, np.ndarray] = {}
    for k, c in enumerate(comparisons):
        if c.type not in NAME_TYPES:
            continue
        exact_level = len(compare.LEVELS[c.type].labels) - 1
        counts = _held_by(left[c.name], frequencies[c.name])
        tf = np.where(np.isnan(counts), 1.0, counts)[lrid] / max(total, 1)
        over = np.full(len(lrid), np.nan)
        exact = gamma[:, k] == exact_level
        # never claim more than 50x the average exact-agreement evidence for a unique name
        floor = u[k][exact_level] / 50
        over[exact] = np.log2(np.maximum(tf[exact], floor))
        out[k] = over
    return out


def _held_by(values: pd.Series, counts: pd.Series) -> np.ndarray:
    """How many records hold each value (``counts``: value -> records), NaN for a value it
    does not count (or none), by a hash lookup in Arrow: pandas' ``map`` of a million names
    took 0.6 s, this 0.1 s."""
    if counts.empty:
        return np.full(len(values), np.nan)
    pos = _index_in(values.array, counts.index.array)
    return np.where(pos >= 0, counts.to_numpy(dtype=float)[np.maximum(pos, 0)], np.nan)


def _many_to_many_model(model: fs.Model, tf_for: TermFrequencies, lrid: np.ndarray,
                        rrid: np.ndarray, gamma: np.ndarray, gamma_random: np.ndarray,
                        labels: np.ndarray | None) -> tuple[fs.Model, dict[int, np.ndarray]]:
    """The model for many-to-many data, from the one fitted with competing candidates.

    The competing fit learns the weights of each record's *best* partner, where near misses
    cannot pose as matches; but in a cluster most partners are not the best one (another site,
    a typo, another spelling), so those weights are too strict and the matches among the
    random pairs inflate ``u``. So: clean ``u`` of the matches (:func:`fs.decontaminate_u`),
    fit again with competing candidates, then let EM widen ``m`` and the prior with each pair
    judged on its own. Widening can only add partners, so the prior must rise; but that step
    can also run off into another latent class (all sites of one organisation, all records at
    one place): the expected number of links then jumps. In either failure the plain refit of
    the prior is kept instead (:data:`MAX_PRIOR_GROWTH`).
    """
    tf = tf_for(model.u)
    strict = fs.refit_prior(model, gamma, tf)
    clean_u, _ = fs.decontaminate_u(model, gamma_random)
    clean_tf = tf_for(clean_u)
    names, level_labels = model.fields, model.level_labels
    best = fs.fit(gamma, clean_u, names, level_labels, prior=model.prior, labels=labels,
                  log_u_override=clean_tf, pairs=(lrid, rrid))
    best = fs.refit_prior(best, gamma, clean_tf)
    wide = fs.fit(gamma, clean_u, names, level_labels, prior=best.prior, labels=labels,
                  log_u_override=clean_tf, start=best.m)
    if strict.prior < wide.prior <= MAX_PRIOR_GROWTH * strict.prior:
        return wide, clean_tf
    return strict, tf


def _keep_or_fit(model: fs.Model, fallback: fs.Model | None, tf_for: TermFrequencies,
                 lrid: np.ndarray, rrid: np.ndarray, gamma: np.ndarray,
                 labels: np.ndarray | None, copies: fs.Copies | None,
                 tf: dict[int, np.ndarray], many_to_many: bool
                 ) -> tuple[fs.Model, dict[int, np.ndarray], dict[str, Any]]:
    """This run's fit, or the last good model's weights when the fit is degenerate; and what
    happened, for the run's stats (``model``: fitted / kept; ``degenerate``: why, or None).

    Why keep only ``m`` and ``u``: they need matches to learn from, and a workspace whose
    matches are linked and gone, or a small export, has too few; the weights of the last good
    fit describe how these fields agree among matches as well as ever. The share of CRM records
    that have a match is a property of the records scored *now* (after 25 of 40 were linked it
    is no longer the first run's), and one number can still be estimated from a few pairs, so
    EM estimates it again with ``m`` held. ``u`` is kept with ``m`` because the weights are
    ``log2(m/u)``: a ``u`` from a much smaller table (a few hundred random pairs) would change
    weights that neither fit checked. Many-to-many data refits from the competing fit in
    stages of its own and never gets a fallback (a workspace matches one-to-one)."""
    p = model.probability(model.log_lr(gamma, tf), (lrid, rrid), copies)
    if labels is not None:
        p = np.where(labels >= 0, labels.astype(float), p)
    level_labels = [tuple(x) for x in model.level_labels]
    reason = fs.degenerate(model, p, level_labels)
    note: dict[str, Any] = {"model": "fitted", "degenerate": reason}
    if reason is None or fallback is None or many_to_many or not len(lrid):
        return model, tf, note
    if (list(fallback.fields) != list(model.fields)
            or [tuple(x) for x in fallback.level_labels] != level_labels):
        note["fallback"] = "the last good model compared other fields or levels: not used"
        return model, tf, note
    kept_tf = tf_for(fallback.u)
    kept = fs.fit(gamma, fallback.u, model.fields, level_labels, prior=fallback.prior,
                  labels=labels, log_u_override=kept_tf, pairs=(lrid, rrid), copies=copies,
                  start=fallback.m, fix_m=True)
    note["model"] = "kept"
    return kept, kept_tf, note


def _pair_codes(left: pd.DataFrame, right: pd.DataFrame, *frames: pd.DataFrame | None
                ) -> list[np.ndarray | None]:
    """Each frame's pairs (``crm_id, erp_id``) as one integer per pair, ``lrid * len(right) +
    rrid`` (-1 where a record is not among the sides; None for a frame None or empty); a
    frame with a ``code`` column holds them already.

    The ids of all frames are looked up in one pass per side (a hash lookup in Arrow): hashing
    a side's ids costs as much as looking up 300,000 of them, and a run looks up its
    decisions, the rejected pairs and the kept explanations (800,000 pairs each at
    1,000,000 records after a bulk accept)."""
    coded = [f is not None and "code" in f.columns for f in frames]
    given = [f for f, c in zip(frames, coded, strict=True) if f is not None and not f.empty
             and not c]
    if not given:
        return [f["code"].to_numpy(dtype=np.int64) if c and not f.empty else None  # type: ignore[union-attr]
                for f, c in zip(frames, coded, strict=True)]
    lpos = _positions(pd.concat([f["crm_id"] for f in given], ignore_index=True), left)
    rpos = _positions(pd.concat([f["erp_id"] for f in given], ignore_index=True), right)
    codes = np.where((lpos >= 0) & (rpos >= 0), lpos * max(len(right), 1) + rpos, -1)
    parts = iter(np.split(codes, np.cumsum([len(f) for f in given])[:-1]))
    return [None if f is None or f.empty else f["code"].to_numpy(dtype=np.int64) if c
            else next(parts) for f, c in zip(frames, coded, strict=True)]


def _labels(pairs_l: np.ndarray, pairs_r: np.ndarray, span: int, codes: np.ndarray | None,
            label: np.ndarray | int) -> np.ndarray | None:
    """Per pair 1 / 0 / -1 from stewards' decisions: ``codes`` (:func:`_pair_codes`, ``span``
    the ERP side's size) of pairs with ``label`` (1 = accepted, 0 = rejected; an int: all
    alike). Each pair is one integer looked up among the decided ones (pandas' label lookups
    and MultiIndex reindex took 3 s with 800,000 decisions at 1,000,000 records)."""
    if codes is None:
        return None
    among = codes >= 0
    labels = np.broadcast_to(np.asarray(label, dtype=np.int8), codes.shape)[among]
    decided = codes[among]
    if (decided[1:] < decided[:-1]).any():  # a workspace gives them sorted
        order = np.argsort(decided, kind="stable")
        decided, labels = decided[order], labels[order]
    wanted = np.asarray(pairs_l, dtype=np.int64) * span + np.asarray(pairs_r, dtype=np.int64)
    if not len(decided):
        return np.full(len(wanted), -1, dtype=np.int8)
    if (wanted[1:] > wanted[:-1]).all() and (decided[1:] > decided[:-1]).all():
        # both sorted and distinct (a run's pairs, a workspace's decisions): each decided
        # pair is looked up among the pairs, the shorter search (800,000 in 2,400,000)
        out = np.full(len(wanted), -1, dtype=np.int8)
        at = np.minimum(np.searchsorted(wanted, decided), len(wanted) - 1)
        hit = wanted[at] == decided
        out[at[hit]] = labels[hit]
        return out
    at = np.minimum(np.searchsorted(decided, wanted), len(decided) - 1)
    return np.where(decided[at] == wanted, labels[at], -1).astype(np.int8)


def _index_in(values: pd.api.extensions.ExtensionArray | np.ndarray,
              among: pd.api.extensions.ExtensionArray | np.ndarray) -> np.ndarray:
    """Each string's position in ``among`` (-1: not there, or missing), by a hash lookup in
    Arrow (pandas' lookups on Arrow strings go value by value in Python)."""
    at = pc.index_in(pa.array(values, pa.large_string()),
                     value_set=pa.array(among, pa.large_string()))
    return np.asarray(at.fill_null(-1).to_numpy(zero_copy_only=False), dtype=np.int64)


def _positions(ids: pd.Series, side: pd.DataFrame) -> np.ndarray:
    """Each id's ``rid`` among ``side``'s records, -1 for an id not among them."""
    pos = _index_in(ids.array, side["id"].array)
    rid = side["rid"].to_numpy(dtype=np.int64)
    return np.where(pos >= 0, rid[np.maximum(pos, 0)], -1)


def match_frames(
    crm: pd.DataFrame,
    erp: pd.DataFrame,
    comparisons: Sequence[Comparison] | None = None,
    *,
    id_col: str = "id",
    many_to_many: bool = False,
    decisions: pd.DataFrame | None = None,
    exclude: pd.DataFrame | None = None,
    taken: tuple[Sequence[str] | pd.Series | np.ndarray,
                 Sequence[str] | pd.Series | np.ndarray] = ((), ()),
    per_record: int | None = None,
    progress: Progress | None = None,
    prepared: tuple[pd.DataFrame, pd.DataFrame] | list[pd.DataFrame] | None = None,
    limits: dict[str, float] | None = None,
    fallback: fs.Model | None = None,
    checkpoint: Checkpoint | None = None,
    fit: Fit | None = None,
    run_id: int = 0,
    explained: pd.DataFrame | np.ndarray | None = None,
    contents: tuple[np.ndarray, np.ndarray] | None = None,
    lazy: dict[str, Callable[[np.ndarray | None], pd.DataFrame]] | None = None,
) -> MatchResult:
    """Match every CRM row to its best ERP rows.

    Returns :class:`MatchResult` whose ``candidates`` has one row per (CRM record, candidate),
    the best :data:`TOP` per CRM record: ``crm_id, erp_id, probability, match_weight, rank,
    band, match, conflict, explanation``. ``match`` is 1 for exactly the pairs linked at the
    default thresholds (one-to-one unless ``many_to_many``). ``decisions``: stewards' labels
    (``crm_id, erp_id, label`` with 1 = accepted, 0 = rejected) used by the model; ``exclude``:
    pairs never to suggest (``crm_id, erp_id``: rejected ones); either may give its pairs as
    one ``code`` column instead (as ``explained`` below: a workspace joins them in DuckDB,
    and looking up 800,000 decided pairs' ids here took 0.6 s); ``taken``: CRM and ERP ids
    that already have a link and must not get another (or, per side, a boolean mask over its
    rows). ``per_record``: candidates kept per CRM
    record by blocking (default 10, or 50 with ``many_to_many``). ``prepared``: both sides'
    :func:`~erpdata.matching.prepare.features` when already at hand (a workspace stores them);
    given as a list, they are handed over (the list is emptied), so that they are let go
    once scored, before the candidates and explanations are built.
    ``limits``: the ``auto`` and/or ``review`` thresholds a steward fixed (each in (0, 1]); the
    others are the model's choice (``stats["review_floor"]``: the model's review threshold was
    raised to :data:`~erpdata.matching.assign.REVIEW_FLOOR`). ``fallback``: the last good model
    of these comparisons (a workspace keeps it); one-to-one, when this run's fit is degenerate
    (:func:`~erpdata.matching.model.degenerate`, ``stats["degenerate"]``) its ``m`` and ``u``
    are kept and only the share of records with a match is estimated again
    (``stats["model"] == "kept"``). ``checkpoint``: where the blocked and the compared pairs
    are kept (:mod:`.checkpoints`); a stage it already holds for these records is reused
    (``stats["reused"]``: which stage, and the run that left it), and after blocking, the
    levels it holds of pairs whose two records did not change
    (``stats["levels_reused"]``: how many pairs, of how many, from which run).
    Many-to-many: when the model's prior has collapsed, the probabilities come from the two
    groups of match weights instead (:func:`~erpdata.matching.model.score_mixture`,
    ``stats["calibration"]``); the weights and explanations stay the model's.
    ``fit``: score with what an earlier run learnt (:class:`Fit`, one-to-one only) instead of
    learning again (``stats["model"] == "fit"``); ``result.fit`` is what this run scored with,
    learnt by run ``run_id`` when no fit was given. ``explained``: with a ``fit``, pairs
    (``crm_id, erp_id``, or as codes ``crm row * len(erp) + ERP row``) whose explanation
    under that fit the caller keeps (a workspace's stored suggestions); such a candidate
    whose levels come from the checkpoint gets no explanation here (None), as it would be
    the same. ``contents``: a hash per CRM and per ERP
    record (row order) of its normalised compared values, when at hand (a workspace's stored
    features); records with equal hashes are copies. With a ``fit`` and a checkpoint holding
    the compared pairs of these records, ``prepared`` may hold only ``rid``, ``id`` and, on
    the CRM side, the name comparisons' columns: nothing else is read. ``lazy``: the sides
    of ``prepared`` ("crm", "erp") that hold only ``rid``, ``id`` and, on the CRM side, the
    name comparisons' columns, each with what gives the features of the rows asked for
    (None: all of them), read only as far as the run needs them: with a ``fit``, blocking
    the carried CRM records against the ERP side's kept blocking tables
    (:meth:`~erpdata.matching.checkpoints.Checkpoint.erp_side`), those blocked and compared;
    else all.
    """
    if fit is not None and many_to_many:
        raise ValueError("a kept fit scores one-to-one data only")
    report = progress or (lambda _s, _f: None)
    times: dict[str, float] = {}
    stats_extra: dict[str, Any] = {}
    t = time.perf_counter()
    comps, inference = explain_comparisons(crm, erp, id_col, comparisons or ())
    report("normalising", 0.0)
    if isinstance(prepared, list):  # handed over: this run holds the only reference
        left, right = prepared
        prepared.clear()
    else:
        left, right = prepared or (features(crm, comps, "crm", id_col),
                                   features(erp, comps, "erp", id_col))
    times["normalise"] = time.perf_counter() - t

    t = time.perf_counter()
    if many_to_many:
        contents = None
    elif contents is None:
        contents = (_content(left, comps), _content(right, comps))
    stage = checkpoint.load() if checkpoint is not None else None
    if stage is not None and not (stage.statistics_run == fit.statistics_run if fit is not None
                                  else checkpoint.learnt_here(stage)):  # type: ignore[union-attr]
        stage = None  # found with other blocking statistics than this run blocks with
    reused = None if stage is None else {"stage": stage.name, "run": stage.run_id}
    levels_reused, unsaved = None, None
    reblocked = None  # the CRM rows blocked again, all other pairs stored ones with levels
    if stage is None:
        report("blocking", 0.3)
        # with a fit, blocking runs with its kept statistics (and, where they hold, the ERP
        # side's kept 3-gram rows and the unchanged CRM records' stored pairs)
        statistics = carried = erp_grams = None
        if fit is not None and checkpoint is not None:
            statistics = checkpoint.statistics(fit.statistics_run)
            if statistics is not None:
                erp_grams = checkpoint.erp_grams(fit.statistics_run)
                if len(left) * len(right) > blocking.CROSS_PRODUCT_BELOW:
                    carried = checkpoint.carried(fit.statistics_run)
            if carried is not None:
                reblocked = carried.rows if carried.levels is not None else None
                stats_extra["blocked_again"] = {"records": len(carried.rows), "of": len(left),
                                                "run": checkpoint.stored_run()}
        statistics_run = run_id if statistics is None else fit.statistics_run  # type: ignore[union-attr]
        # the ERP side's blocking tables: blocked against where they are kept, or kept
        erp_side = keep_erp = None
        if checkpoint is not None and not many_to_many:
            if not checkpoint.holds_erp_side(statistics_run, comps):
                keep_erp = functools.partial(checkpoint.keeping_erp_side, comps, statistics_run)
            elif carried is not None and erp_grams is not None:
                erp_side = checkpoint.erp_side
        if erp_side is None and lazy:  # blocking reads every record
            left, right = _whole(left, right, lazy)
        lrid, rrid, known, rule_counts, done = _block(
            left, right, comps, per_record or (50 if many_to_many else 10), many_to_many,
            statistics, carried, erp_grams,
            lambda label, f: report(f"blocking: {label}", 0.3 + 0.2 * f), erp_side, keep_erp,
            (lazy or {}).get("crm"))
        if checkpoint is not None and done is not None and erp_grams is None:
            checkpoint.save_erp_grams(done.erp_grams, statistics_run)
        # the levels stored of pairs whose records did not change, kept with the pairs (so a
        # run stopped while comparing resumes with them)
        if known is None and checkpoint is not None:
            known = checkpoint.known_levels(lrid, rrid)
        if known is not None and len(known):
            levels_reused = {"pairs": int((known[:, 0] != UNKNOWN).sum()), "of": len(known),
                             "run": checkpoint.stored_run()}  # type: ignore[union-attr]
        stage = Stage(lrid, rrid, known, rule_counts, statistics_run=statistics_run)
        # the statistics this run learnt
        unsaved = done.statistics if statistics is None and done is not None else None
        # the blocked stage is kept for a run stopped while comparing; not when little is
        # left to compare (a re-load's changed records), as comparing a pair costs about ten
        # times writing it (at 1,000,000 per side, 14 s against 1.2 s for 2.4M pairs); kept
        # when nothing is (it is the compared stage then)
        todo = len(lrid) if known is None else int((known[:, 0] == UNKNOWN).sum())
        if checkpoint is not None and (todo == 0 or len(lrid) < 10 * todo):
            checkpoint.save(stage, unsaved)
            unsaved = None
    else:
        report(f"blocking: the pairs found by run {stage.run_id} reused", 0.5)
    times["block"] = time.perf_counter() - t

    t = time.perf_counter()
    # the pairs compared in this run (their explanations are new, see ``explained``)
    fresh = (np.ones(len(stage.lrid), dtype=bool) if stage.gamma is None
             else (stage.gamma == UNKNOWN).any(axis=1) if stage.name == "blocked"
             else np.zeros(len(stage.lrid), dtype=bool))
    if stage.name == "blocked":
        stage = replace(stage, gamma=_gamma(comps, left, right, stage.lrid, stage.rrid,
                                            lambda label, f: report(label, 0.5 + 0.25 * f),
                                            stage.gamma, lazy))
        if checkpoint is not None:
            checkpoint.save(stage, unsaved, reblocked)
    else:
        run = levels_reused["run"] if levels_reused else stage.run_id
        report(f"comparing: the levels compared by run {run} reused", 0.75)
    lrid, rrid, gamma, rule_counts = stage.lrid, stage.rrid, stage.gamma, stage.rule_counts
    given_fit = fit is not None
    span = max(len(right), 1)
    given_codes = isinstance(explained, np.ndarray)
    decided, rejected, explained_codes = _pair_codes(
        left, right, decisions, exclude,
        explained if given_fit and not given_codes else None)  # type: ignore[arg-type]
    if given_fit and given_codes:
        explained_codes = explained  # type: ignore[assignment]
    # rejected pairs are left out after comparing: the stored stages hold every blocked pair,
    # whatever stewards decide between two runs
    bad = _labels(lrid, rrid, span, rejected, 1)
    if bad is not None:
        keep = bad != 1
        lrid, rrid, gamma, fresh = lrid[keep], rrid[keep], gamma[keep], fresh[keep]
    times["compare"] = time.perf_counter() - t

    t = time.perf_counter()
    labels = (None if decisions is None or decided is None
              else _labels(lrid, rrid, span, decided, decisions["label"].to_numpy()))
    copies = None if contents is None else fs.Copies.of(lrid, rrid, *contents)
    if fit is not None:
        report(f"scoring with the model learnt by run {fit.run_id}", 0.75)
        model, frequencies, total = fit.model, fit.frequencies, fit.total
        tf = _tf_override(comps, left, frequencies, total, lrid, gamma, model.u)
        model_note: dict[str, Any] = {"model": "fit", "fit_run": fit.run_id,
                                      "degenerate": None}
    else:
        report("estimating the model", 0.75)
        if lazy:  # learning reads the records' values
            left, right = _whole(left, right, lazy)
        frequencies, total = _frequencies(comps, left, right), len(left) + len(right)

        def tf_for(u: list[np.ndarray]) -> dict[int, np.ndarray]:
            return _tf_override(comps, left, frequencies, total, lrid, gamma, u)

        # on the sampled records' values only (_involved): all of them took 5 s at 1M
        gamma_random = _gamma(comps, left, right, *_random_pairs(len(left), len(right)))
        level_labels = [compare.LEVELS[c.type].labels for c in comps]
        u = fs.estimate_u(gamma_random, [len(x) for x in level_labels])
        tf = tf_for(u)
        prior = min(len(left), len(right)) / max(len(lrid), 1)
        model = fs.fit(gamma, u, [c.name for c in comps], level_labels, prior=prior,
                       labels=labels, log_u_override=tf, pairs=(lrid, rrid), copies=copies)
        model, tf, model_note = _keep_or_fit(model, fallback, tf_for, lrid, rrid, gamma,
                                             labels, copies, tf, many_to_many)
        if many_to_many:
            model, tf = _many_to_many_model(model, tf_for, lrid, rrid, gamma, gamma_random,
                                            labels)
    log_lr = model.log_lr(gamma, tf)
    p = model.probability(log_lr, None if many_to_many else (lrid, rrid), copies)
    weight = model.prior_weight + log_lr
    calibration = "model"
    if many_to_many and len(p):
        review = min(max(assign.best_f1_review(p), fs.EPS), 1 - fs.EPS)
        mixed = fs.score_mixture(weight, float(np.log2(review / (1 - review))))
        if (mixed is not None and mixed.share > COLLAPSED_PRIOR * model.prior
                and mixed.separation >= GROUP_SEPARATION):
            p = np.maximum(p, np.minimum(mixed.probability, MIXTURE_CEILING))
            calibration = "weight groups"
    ambiguous = np.zeros(len(p), dtype=bool)
    if copies is not None:
        p, size = assign.indistinguishable(lrid, copies.erp, copies.capacity, p)
        p, ambiguous = np.minimum(p, 1.0), size > 1
    if labels is not None:
        p = np.where(labels == 1, 1.0, np.where(labels == 0, 0.0, p))
    times["model"] = time.perf_counter() - t
    # what is left needs the records' ids only: the features go (at 10,000,000 per side, 6.6
    # GB the explanations then had to share the machine with)
    left, right = left[["id"]], right[["id"]]

    t = time.perf_counter()
    report("assigning", 0.9)
    crm_taken, erp_taken = (t if isinstance(t, np.ndarray) and t.dtype == bool
                            else _among(side["id"], t)
                            for side, t in ((left, taken[0]), (right, taken[1])))
    fixed = assign.check_limits(limits or {})
    if many_to_many:
        linked = np.ones(len(p), dtype=bool)
    else:
        # with a fit, its thresholds are known: a pair below the review one is never a link
        # (see _limits), so the pairs under it are not walked
        floor = None if fit is None else _limits(fit, fixed)["review"]
        linked = assign.one_to_one(lrid, rrid, p, crm_taken, erp_taken, floor)
    if fit is None:
        fit = Fit(model, assign.thresholds(p[linked]),
                  assign.best_f1_review(p[linked]) if linked.any() else None,
                  frequencies, total, run_id, stage.statistics_run)
    best_f1 = fit.best_f1
    floored = "review" not in fixed and best_f1 is not None and best_f1 < assign.REVIEW_FLOOR
    limits = _limits(fit, fixed)
    # an explanation follows from the pair's levels and the model: one the caller keeps from
    # a run with this fit, of a pair not compared again since, is the same
    kept = np.zeros(len(lrid), dtype=bool)
    if explained_codes is not None:
        kept = ~fresh & (_labels(lrid, rrid, span, explained_codes, 1) == 1)
    candidates, suggested = _candidates(left, right, comps, lrid, rrid, p, weight, model, tf,
                                        gamma, linked, ambiguous, limits, many_to_many, kept)
    times["assign"] = time.perf_counter() - t
    no_candidate = left["id"][~suggested].tolist()
    blocked = (left["id"], right["id"], lrid, rrid)
    stats = {"pairs": len(lrid), "blocking": rule_counts, "seconds": times, "reused": reused,
             "levels_reused": levels_reused, "explanations_kept": int(kept.sum()),
             "em_iterations": model.iterations, "prior": model.prior,
             "calibration": calibration, **model_note,
             "review_best_f1": best_f1,
             "review_floor": assign.REVIEW_FLOOR if floored else None,
             "crm_records": len(left), "erp_records": len(right),
             "inference": inference, **stats_extra}
    report("done", 1.0)
    return MatchResult(candidates, limits, comps, model, blocked, no_candidate, stats,
                       None if many_to_many else fit)


def _limits(fit: Fit, fixed: dict[str, float]) -> dict[str, float]:
    """The thresholds a run applies: the ``fixed`` ones (a steward's), else the fit's."""
    limits = {**fit.chosen, **fixed}
    limits["auto"] = max(limits["auto"], limits["review"])  # a fixed review above the model's auto
    return limits


def _candidates(left: pd.DataFrame, right: pd.DataFrame, comps: Sequence[Comparison],
                lrid: np.ndarray, rrid: np.ndarray, p: np.ndarray, weight: np.ndarray,
                model: fs.Model, tf: dict[int, np.ndarray], gamma: np.ndarray,
                linked: np.ndarray, ambiguous: np.ndarray, limits: dict[str, float],
                many_to_many: bool, kept: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
    """The best :data:`TOP` candidates per CRM record, with band, link flag, conflict and
    explanation (built in DuckDB, not row by row; None for the ``kept`` pairs, whose
    explanation the caller has), and whether each CRM record (row) has one.

    ``ambiguous``: pairs whose ERP record has identical copies among the CRM record's
    candidates. Which copy gets the link is arbitrary, so they are a conflict (a probable ERP
    duplicate) and never auto-accepted."""
    # equal probability: more evidence first; both compared as shown (rounded), so that pairs
    # tied but for the last bits of a float sum rank by the ERP record, whatever order the
    # sum was taken in
    # Only the pairs that may be kept, or be ranked before one kept, are put in order: those
    # shown with at least the lower of MIN_PROBABILITY and the review threshold (a link, a
    # conflict). Every other pair ranks after all of them in its record (the probability as
    # shown, rounded alike, comes first in the order), and most pairs are such (1,500,000 of
    # 2,400,000 at 1,000,000 per side).
    shown = np.flatnonzero(np.round(p, 6) >= np.round(min(MIN_PROBABILITY, limits["review"]), 6))
    order = shown[_display_order(lrid[shown], rrid[shown], p[shown], weight[shown])]
    lrid, rrid, p, weight = lrid[order], rrid[order], p[order], weight[order]
    linked, ambiguous = linked[order], ambiguous[order]
    # lrid is sorted now: a pair's rank is its place after the first pair of its CRM record
    starts = np.flatnonzero(np.r_[True, lrid[1:] != lrid[:-1]]) if len(lrid) else lrid
    rank = np.arange(1, len(lrid) + 1) - np.repeat(starts, np.diff(np.r_[starts, len(lrid)]))
    match = linked & (p >= limits["review"])
    conflict = ambiguous & (p >= limits["review"])
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
        "band": assign.band(p[keep], limits, ambiguous[keep]),
        "match": match[keep].astype(np.int8),
        "conflict": conflict[keep],
    })
    # the per-field weights (a row per pair, ``tf`` the model's term-frequency override) only
    # for the rows kept
    chosen = order[keep]
    new = ~kept[chosen]
    chosen = chosen[new]
    built = _explained(comps, model, gamma, tf, chosen)
    if new.all():
        frame["explanation"] = built
    else:  # the new ones in their rows, None in the others (by an Arrow take)
        at = np.full(len(frame), -1, dtype=np.int64)
        at[np.flatnonzero(new)] = np.arange(len(chosen))
        frame["explanation"] = pd.array(pc.take(pa.array(built, pa.large_string()),
                                                pa.array(at, mask=at < 0)), dtype="str")
    suggested = np.zeros(len(left), dtype=bool)
    suggested[lrid[keep]] = True
    return frame.reset_index(drop=True), suggested


def _display_order(lrid: np.ndarray, rrid: np.ndarray, p: np.ndarray, weight: np.ndarray
                   ) -> np.ndarray:
    """The pairs in the order ranks are given: by CRM record, probability (as shown, to 6
    places) and evidence (weight to 3 places) descending, then ERP record.

    Two passes of a stable sort, on the CRM record and probability as one integer and then
    the weight, over pairs first put in (CRM record, ERP record) order (as blocking and the
    checkpoint give them: then no pass at all), instead of four (1.3 s against 0.5 s for
    2,400,000 pairs)."""
    if not len(lrid):
        return np.zeros(0, dtype=np.int64)
    pair = lrid.astype(np.int64) * (int(rrid.max()) + 1) + rrid
    base = (np.arange(len(pair)) if (pair[1:] >= pair[:-1]).all()
            else np.argsort(pair, kind="stable"))
    # the probability in millionths, best first: a record and its probability in one key
    p6 = 1_000_000 - np.rint(np.round(p[base], 6) * 1e6).astype(np.int64)
    key = lrid[base].astype(np.int64) * 1_000_001 + p6
    return base[np.lexsort((-np.round(weight[base], 3), key))]


#: Pairs explained per DuckDB query: the per-field levels and weights of one chunk are held
#: at a time (10 fields: 200 bytes a pair), not of all the suggestions (at 10,000,000 per
#: side, 9M pairs: 1.8 GB).
EXPLAIN_CHUNK = 1_000_000


def _explained(comps: Sequence[Comparison], model: fs.Model, gamma: np.ndarray,
               tf: dict[int, np.ndarray], chosen: np.ndarray
               ) -> pd.api.extensions.ExtensionArray | np.ndarray:
    """The :func:`_explanations` of the pairs ``chosen`` (rows of ``gamma``), built
    :data:`EXPLAIN_CHUNK` pairs at a time and kept in those chunks: joining them into one
    array would hold the JSON twice (4 GB each at 10,000,000 per side)."""
    if not len(chosen):
        return np.array([], dtype=object)
    chunks = []
    for start in range(0, len(chosen), EXPLAIN_CHUNK):
        rows = chosen[start:start + EXPLAIN_CHUNK]
        field_w = model.field_weights(gamma[rows], {k: v[rows] for k, v in tf.items()})
        chunks += _explanations(comps, field_w, gamma[rows], model.prior_weight).chunks
    return pd.array(pa.chunked_array(chunks), dtype="str")


def _explanations(comps: Sequence[Comparison], field_w: np.ndarray, gamma: np.ndarray,
                  prior_weight: float) -> pa.ChunkedArray:
    """JSON per pair: the prior and, per field, its agreement level and weight (the waterfall).

    Built in DuckDB from the level numbers (labels looked up in SQL) and returned as Arrow
    strings: millions of Python label and JSON strings would cost more than the JSON itself."""
    data: dict[str, np.ndarray] = {}
    parts = [f"'prior': {round(prior_weight, 3)}"]
    for k, c in enumerate(comps):
        labels = ", ".join(sql_text(x) for x in ("missing", *compare.LEVELS[c.type].labels))
        data[f"l{k}"] = gamma[:, k].astype(np.int32) + 2  # missing (-1) is the first label
        data[f"w{k}"] = np.round(field_w[:, k], 3)
        parts.append(f"{sql_text(c.name)}: {{'level': [{labels}][l{k}], 'weight': w{k}}}")
    con = scratch()
    try:
        con.register("w", pd.DataFrame(data))
        out = con.sql(f"SELECT to_json({{{', '.join(parts)}}})::VARCHAR FROM w").to_arrow_table()  # noqa: S608 - names via sql_text, labels from compare.LEVELS via sql_text; numbers
    finally:
        con.close()
    return out.column(0)
