"""The Fellegi-Sunter model: a match weight per field and level, learnt without labels.

Why this model: it explains itself. Every pair's score is a prior plus one weight per field
(``log2(m/u)``: how much more often this level of agreement occurs among true matches than among
random pairs), so the review screen can show a waterfall and a steward can see *why*.

- ``u`` (agreement among non-matches) comes from comparing random pairs, which are almost all
  non-matches, as Splink does.
- ``m`` (agreement among matches) and the prior are estimated by expectation maximisation over
  the blocked candidate pairs; stewards' decisions, when there are any, are clamped as labels
  (an accepted pair is a match with certainty, a rejected one is not).
- Term frequencies adjust the ``exact`` level of names: two records both called "Hansen AS" are
  weaker evidence than two called "Kvernhusvik Fjordbruk AS".
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from erpdata.matching.compare import MISSING

SMOOTHING = 1.0
EPS = 1e-6
#: Pseudo-pairs pulling m towards "matches agree well": decisive on a handful of pairs (where
#: EM alone can flip the classes), negligible on thousands.
M_PRIOR_PAIRS = 5.0


@dataclass
class Model:
    """Per-field ``m`` and ``u`` probabilities by level, and the prior among candidate pairs."""

    fields: list[str]
    level_labels: list[tuple[str, ...]]
    m: list[np.ndarray]
    u: list[np.ndarray]
    prior: float
    #: One-to-one data: the share of CRM records that have a match at all (else None).
    share_matched: float | None = None
    iterations: int = 0
    history: list[float] = field(default_factory=list)
    #: Whether EM stopped because it settled (not because it ran out of iterations).
    converged: bool = True

    def to_json(self) -> dict[str, Any]:
        """What a workspace keeps of a good model: enough to score with it again
        (see :func:`Model.from_json`)."""
        return {"fields": list(self.fields),
                "level_labels": [list(x) for x in self.level_labels],
                "m": [x.tolist() for x in self.m], "u": [x.tolist() for x in self.u],
                "prior": self.prior, "share_matched": self.share_matched}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Model:
        return cls([str(f) for f in data["fields"]],
                   [tuple(str(x) for x in labels) for labels in data["level_labels"]],
                   [np.asarray(x, dtype=float) for x in data["m"]],
                   [np.asarray(x, dtype=float) for x in data["u"]],
                   float(data["prior"]),
                   None if data.get("share_matched") is None else float(data["share_matched"]))

    def field_weights(self, gamma: np.ndarray, log_u_override: dict[int, np.ndarray] | None = None
                      ) -> np.ndarray:
        """``log2(m/u)`` of each pair (rows) and field (columns); 0 where a value is missing.

        ``log_u_override[k]``: per-pair log2 u for field ``k`` (NaN where not overridden), used
        for term-frequency adjustment.

        Built per agreement pattern (:class:`Patterns`) and gathered back row by row: the
        same numbers as filling each pair's row field by field, at a fraction of the work."""
        patterns = Patterns.of(gamma)
        per_pattern = np.zeros(patterns.levels.shape, dtype=np.float64)
        for k in range(gamma.shape[1]):
            g = patterns.levels[:, k]
            present = g != MISSING
            table = np.log2(self.m[k]) - np.log2(self.u[k])
            per_pattern[present, k] = table[g[present]]
        w = per_pattern[patterns.code]
        for k in range(gamma.shape[1]):
            if log_u_override and k in log_u_override:
                over = log_u_override[k]
                g = gamma[:, k]
                use = (g != MISSING) & ~np.isnan(over)
                w[use, k] = np.log2(self.m[k][g[use]]) - over[use]
        return w

    @property
    def prior_weight(self) -> float:
        return float(np.log2(self.prior / (1 - self.prior)))

    def score(self, gamma: np.ndarray, log_u_override: dict[int, np.ndarray] | None = None,
              pairs: tuple[np.ndarray, np.ndarray] | None = None,
              copies: Copies | None = None
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(match probability, match weight, per-field weights) of each pair.

        With ``pairs`` (one-to-one data) the candidates of a CRM record compete: see
        :func:`competing` (and ``copies`` there). Without, each pair is judged on its own
        (many-to-many)."""
        w = self.field_weights(gamma, log_u_override)
        log_lr = w.sum(axis=1)
        return self.probability(log_lr, pairs, copies), self.prior_weight + log_lr, w

    def log_lr(self, gamma: np.ndarray, log_u_override: dict[int, np.ndarray] | None = None
               ) -> np.ndarray:
        """Each pair's summed field weights (the ``total`` of :meth:`score` less the prior
        weight), per agreement pattern: what :meth:`score` gives without the per-field array
        that only the explanations of the pairs shown need."""
        patterns = Patterns.of(gamma)
        return (patterns.log_sum(self.m)[patterns.code]
                - patterns.sum_log_u(gamma, self.u, log_u_override))

    def probability(self, log_lr: np.ndarray, pairs: tuple[np.ndarray, np.ndarray] | None = None,
                    copies: Copies | None = None) -> np.ndarray:
        """Match probability of each pair from its summed field weights ``log_lr`` (see
        :meth:`score`); apart so that :func:`fit` can score from per-pattern sums without
        building the per-field array every iteration."""
        if pairs is not None and self.share_matched is not None:
            return competing(log_lr, *pairs, self.share_matched, self.prior, copies)
        return 1.0 / (1.0 + np.exp2(-np.clip(self.prior_weight + log_lr, -60, 60)))


@dataclass(frozen=True)
class Copies:
    """Records identical after normalisation (duplicates within one system), for one-to-one
    competition: such records cannot be told apart, so they must not starve each other.

    Fourteen identical CRM rows that all match four identical ERP rows are one CRM record
    wanting one of four ERP records: the ERP side's "at most one match per record" must not
    divide their probability by fourteen. Which copies get linked is then arbitrary, and the
    engine shows them as conflicts.
    """

    #: Per pair: the group of identical ERP records its ERP record belongs to.
    erp: np.ndarray
    #: Per pair: 1 / the number of identical CRM records that are candidates of that group.
    crm_share: np.ndarray
    #: Per ERP group: how many of its records are candidates (how many matches it may take).
    capacity: np.ndarray

    @classmethod
    def of(cls, left: np.ndarray, right: np.ndarray, crm_content: np.ndarray,
           erp_content: np.ndarray) -> Copies | None:
        """From the pairs and a content hash per CRM / ERP record; None if nothing repeats."""
        crm_group = pd.factorize(crm_content)[0]
        erp_group = pd.factorize(erp_content)[0]
        if crm_group.max(initial=-1) + 1 == len(crm_content) and (
                erp_group.max(initial=-1) + 1 == len(erp_content)):
            return None
        g = erp_group[right].astype(np.int64)
        n_g = int(g.max(initial=-1)) + 1
        # how many identical CRM records are candidates of the pair's ERP group: one, unless
        # the pair's CRM record has copies, so only those pairs are counted (most records
        # have none; sorting all 2,400,000 pair keys took 0.3 s)
        n_crm = np.ones(len(left), dtype=np.int64)
        copied = np.flatnonzero(np.bincount(crm_group)[crm_group[left]] > 1)
        if len(copied):
            lc, gc = left[copied].astype(np.int64), g[copied]
            # pairs are unique, so (CRM record, ERP group) repeats once per copy in the
            # group: the distinct CRM records of (CRM group, ERP group) are its distinct
            # (record, group) keys
            record_group = _distinct(lc * n_g + gc)
            hg = crm_group[record_group // n_g].astype(np.int64) * n_g + record_group % n_g
            keys, counts = np.unique(hg, return_counts=True)
            n_crm[copied] = counts[np.searchsorted(keys, crm_group[lc].astype(np.int64) * n_g
                                                   + gc)]
        # an ERP record belongs to one group: a group's capacity is its distinct candidates
        candidate = np.zeros(len(erp_content), dtype=bool)
        candidate[right] = True
        capacity = np.bincount(erp_group[candidate], minlength=n_g).astype(float)
        return cls(g, 1.0 / n_crm, capacity)


def _distinct(values: np.ndarray) -> np.ndarray:
    """``np.unique(values)`` (sorted distinct values) by sorting: NumPy 2.4's hash-based
    ``np.unique``, taken when no index or count is asked for, is ~100 times slower than a sort
    on a million pair keys (2.5 s against 0.03 s)."""
    s = np.sort(values)
    if len(s):
        s = s[np.concatenate(([True], s[1:] != s[:-1]))]
    return s


def competing(log_lr: np.ndarray, left: np.ndarray, right: np.ndarray, share: float,
              pair_prior: float, copies: Copies | None = None) -> np.ndarray:
    """Match probabilities when a CRM record has at most one ERP record.

    For CRM record ``i`` the hypotheses are "no match" (prior ``1 - share``) and "matches
    candidate ``j``" (prior ``pair_prior`` each, likelihood ratio ``LR_ij``), so
    ``p_ij = pair_prior LR_ij / ((1 - share) + pair_prior sum_k LR_ik)``. Two equally good
    candidates get half each (a review, not an auto-accept), and a record whose best candidate
    is only "similar name, nothing else agrees" stays unmatched. Then no ERP record may gather
    more than one match in total; with ``copies`` (see :class:`Copies`), identical records
    count once on the CRM side and ``c`` identical ERP records may gather ``c`` matches.
    """
    a = np.log2(pair_prior) + log_lr
    n = int(left.max()) + 1 if len(left) else 0
    top = np.full(n, np.log2(max(1.0 - share, EPS)))
    np.maximum.at(top, left, a)
    denom = np.exp2(np.log2(max(1.0 - share, EPS)) - top) + np.bincount(
        left, weights=np.exp2(a - top[left]), minlength=n)
    p = np.exp2(a - top[left]) / denom[left]
    if copies is None:
        total = np.bincount(right, weights=p)
        return p / np.maximum(total[right], 1.0)
    load = np.bincount(copies.erp, weights=p * copies.crm_share) / np.maximum(copies.capacity, 1)
    return p / np.maximum(load[copies.erp], 1.0)


@dataclass(frozen=True)
class Patterns:
    """The distinct agreement patterns (rows of ``gamma``, :data:`MISSING` included) of the
    pairs, and which one each pair has.

    Why: ``m`` and ``u`` enter a pair's weight only through its levels, so the summed ``log2 m``
    of a pair is its pattern's, and the M-step's per-level sums of match probability are sums
    over patterns of the probability each pattern gathers. Millions of candidate pairs show a
    few thousand patterns, so EM works per pattern and only gathers back per pair.
    """

    #: Per pair: the row of its pattern in ``levels``.
    code: np.ndarray
    #: Per pattern: its level of each field (``MISSING`` where the pair lacks a value).
    levels: np.ndarray
    #: Per pattern: how many pairs show it.
    count: np.ndarray

    @classmethod
    def of(cls, gamma: np.ndarray) -> Patterns:
        """The patterns of ``gamma``: each row read as one mixed-radix integer, then factorised
        (hashing, not sorting: pattern order is irrelevant and 10M pairs sort slowly)."""
        key = np.zeros(len(gamma), dtype=np.int64)
        bound = 1
        for k in range(gamma.shape[1]):
            digit = gamma[:, k].astype(np.int64) - MISSING  # MISSING -> 0, level l -> l + 1
            radix = int(digit.max(initial=0)) + 1
            if bound * radix >= 2**62:  # many wide fields: renumber the patterns so far first
                key = pd.factorize(key)[0].astype(np.int64)
                bound = int(key.max(initial=0)) + 1
            key = key * radix + digit
            bound *= radix
        code, distinct = pd.factorize(key)
        # any pair of a pattern shows its levels: the pairs of one code have equal rows
        row = np.empty(len(distinct), dtype=np.int64)
        row[code] = np.arange(len(code))
        return cls(code, gamma[row], np.bincount(code, minlength=len(distinct)))

    def log_sum(self, tables: Sequence[np.ndarray], skip: Collection[int] = ()) -> np.ndarray:
        """Per pattern: the sum over its fields of ``log2 table[k]`` of its level (0 where
        missing), fields in ``skip`` left out."""
        total = np.zeros(len(self.levels))
        for k, table in enumerate(tables):
            if k in skip:
                continue
            g = self.levels[:, k]
            present = g != MISSING
            total[present] += np.log2(table)[g[present]]
        return total

    def sum_log_u(self, gamma: np.ndarray, u: Sequence[np.ndarray],
                  log_u_override: dict[int, np.ndarray] | None = None) -> np.ndarray:
        """Per pair (``gamma``, these patterns' pairs): the sum over its fields of ``log2 u``
        of its level (0 where missing), or of ``log_u_override[k]`` where that is not NaN; what
        :meth:`Model.field_weights` subtracts. ``u`` stays fixed during :func:`fit`, so this is
        computed once per fit: per pattern, plus the overridden fields per pair."""
        over = {k: v for k, v in (log_u_override or {}).items() if k < gamma.shape[1]}
        total = self.log_sum(u, skip=over)[self.code]
        for k in sorted(over):
            g = gamma[:, k]
            present = g != MISSING
            term = np.zeros(len(gamma))
            term[present] = np.log2(u[k])[g[present]]
            use = present & ~np.isnan(over[k])
            term[use] = over[k][use]
            total += term
        return total

    def mass(self, weight: np.ndarray) -> np.ndarray:
        """Per pattern: the sum of its pairs' ``weight``."""
        return np.bincount(self.code, weights=weight, minlength=len(self.levels))

    def level_sums(self, mass: np.ndarray, n_levels: Sequence[int]) -> list[np.ndarray]:
        """Per field: the sum of the patterns' ``mass`` at each of its ``n_levels`` levels
        (patterns missing the field left out): the M-step's sums, from patterns not pairs."""
        out = []
        for k, n in enumerate(n_levels):
            g = self.levels[:, k]
            present = g != MISSING
            out.append(np.bincount(g[present].astype(np.int64), weights=mass[present],
                                   minlength=n)[:n])
        return out


def estimate_u(gamma_random: np.ndarray, n_levels: Sequence[int]) -> list[np.ndarray]:
    """``u`` per field from random pairs: the share of each level among those with a value
    (plus a few pseudo-pairs saying "non-matches rarely agree", for tiny tables)."""
    out = []
    for k, n in enumerate(n_levels):
        g = gamma_random[:, k]
        counts = np.bincount(g[g != MISSING].astype(np.int64), minlength=n)[:n].astype(float)
        counts = counts + M_PRIOR_PAIRS * _initial_m(n)[::-1]
        out.append(counts / counts.sum())
    return out


def _initial_m(n: int) -> np.ndarray:
    """Before EM: matches mostly agree well (weights rise with the level)."""
    m = (np.arange(n, dtype=float) + 1.0) ** 3
    return m / m.sum()


def fit(
    gamma: np.ndarray, u: list[np.ndarray], fields: list[str],
    level_labels: list[tuple[str, ...]], *, prior: float, labels: np.ndarray | None = None,
    log_u_override: dict[int, np.ndarray] | None = None, max_iterations: int = 60,
    tolerance: float = 1e-5, pairs: tuple[np.ndarray, np.ndarray] | None = None,
    copies: Copies | None = None, start: Sequence[np.ndarray] | None = None,
    fix_m: bool = False,
) -> Model:
    """Estimate ``m`` and the prior by EM over the candidate pairs (``u`` stays fixed).

    ``labels``: per pair 1 (accepted), 0 (rejected) or -1 (no decision); decided pairs keep
    their label as their match probability in every iteration. ``pairs``: the (CRM, ERP) record
    of each pair, for one-to-one data: the E-step then lets a record's candidates compete
    (:func:`competing`) and EM also learns the share of CRM records that have a match.
    ``start``: ``m`` to begin from instead of "matches mostly agree well" (EM only finds the
    nearest fixed point, so a refit from a fitted model stays in that model's class).
    ``fix_m``: keep ``start`` as ``m`` and estimate only the prior (and the share of CRM records
    that match): what data with too few matches to learn ``m`` from can still say."""
    n_levels = [len(x) for x in level_labels]
    initial = [np.asarray(x, dtype=float) for x in start] if start is not None else [
        _initial_m(n) for n in n_levels]
    model = Model(fields, level_labels, initial, u, float(np.clip(prior, 1e-6, 0.5)))
    n_left = n_right = 1
    if pairs is not None and len(pairs[0]):
        n_left, n_right = int(pairs[0].max()) + 1, int(pairs[1].max()) + 1
        model.share_matched = 0.5
        model.prior = 0.5 / n_right
    decided = labels is not None and (labels >= 0).any()
    # What does not change between iterations is worked out once: the patterns of agreement
    # (a few thousand among millions of pairs) and each pair's summed log2 u.
    patterns = Patterns.of(gamma)
    log_u = patterns.sum_log_u(gamma, u, log_u_override)
    for it in range(max_iterations):
        p = model.probability(patterns.log_sum(model.m)[patterns.code] - log_u, pairs, copies)
        if decided:
            assert labels is not None
            p = np.where(labels >= 0, labels.astype(float), p)
        level_sums = patterns.level_sums(patterns.mass(p), n_levels)
        new_m = [sums + M_PRIOR_PAIRS * _initial_m(n)
                 for sums, n in zip(level_sums, n_levels, strict=True)]
        new_m = [sums / sums.sum() for sums in new_m]
        if model.share_matched is not None:
            share = float(np.clip(p.sum() / n_left, 0.01, 0.99))
            new_prior = share / n_right
            change_share = abs(share - model.share_matched)
            model.share_matched = share
        else:
            # no pair at all (nothing was blocked): the prior stays as it was
            new_prior = float(np.clip(p.mean(), EPS, 0.5)) if len(p) else model.prior
            change_share = 0.0
        if fix_m:
            new_m = model.m
        change = max(float(np.max(np.abs(a - b))) for a, b in zip(new_m, model.m, strict=True))
        change = max(change, abs(new_prior - model.prior), change_share)
        model.m, model.prior = new_m, new_prior
        model.iterations = it + 1
        model.history.append(change)
        model.converged = change < tolerance
        if model.converged:
            break
    return model


#: Above 0 and below 1 by this much, the share of CRM records with a match has collapsed: EM's
#: clip bounds (0.01, 0.99) in :func:`fit` are where it ends when one class swallowed the other.
SHARE_MARGIN = 0.011
#: EM that ran out of iterations has not settled when its last step still moved a parameter (an
#: ``m``, the share, the prior) by more than this: the bands are cut at probabilities written to
#: three decimals (0.99, 0.995), and a parameter moving a thousandth per step is still on its
#: way. Slower creep is convergence that :func:`fit`'s tolerance (1e-5) did not wait for; EM
#: steps shrink geometrically near a fixed point, so the parameters are then nearly there.
UNSETTLED = 1e-3


def degenerate(model: Model, p: np.ndarray, level_labels: Sequence[Sequence[str]]
               ) -> str | None:
    """Why a fitted model has learnt nothing worth scoring with, or None when it is sound.

    ``p``: each candidate pair's match probability under the model (labels clamped), i.e. the
    expected matches EM learnt ``m`` from. A fit is degenerate when

    - the expected matches are fewer than :data:`M_PRIOR_PAIRS`: the M-step adds that many
      pseudo-pairs per field, so ``m`` is then more our starting assumption than the data (a
      workspace whose matches are already linked and gone, a handful of records);
    - the share of CRM records with a match ended at a clip bound of :func:`fit` (or the prior
      at ``EPS``): EM emptied the match class or made everything a match;
    - EM ran out of iterations still taking large steps (:data:`UNSETTLED`): ``m`` is
      wherever it stopped;
    - the top level of no field is evidence for a match (``m <= u`` everywhere): the "match"
      class agrees less than random pairs do, so it is not the matches.
    """
    expected = float(np.sum(p))
    if expected < M_PRIOR_PAIRS:
        return (f"{expected:.1f} expected matches among {len(p)} candidate pairs, fewer than "
                f"the {M_PRIOR_PAIRS:g} pseudo-pairs of the model's starting assumption")
    if model.share_matched is not None and not (
            SHARE_MARGIN < model.share_matched < 1 - SHARE_MARGIN):
        return f"the share of CRM records with a match collapsed to {model.share_matched:.3f}"
    if model.share_matched is None and model.prior <= EPS * 1.01:
        return f"the prior collapsed to {model.prior:.2g}"
    if not model.converged and model.history and model.history[-1] > UNSETTLED:
        return (f"EM did not settle in {model.iterations} iterations (its last step still "
                f"moved a parameter by {model.history[-1]:.1g})")
    top = [len(labels) - 1 for labels in level_labels]
    if all(m[t] <= u[t] for m, u, t in zip(model.m, model.u, top, strict=True)):
        return "the top level of no field is evidence for a match"
    return None



def decontaminate_u(model: Model, gamma_random: np.ndarray, max_iterations: int = 200,
                    tolerance: float = 1e-7) -> tuple[list[np.ndarray], float]:
    """``u`` from the random pairs without the matches among them, and the share of random
    pairs that match.

    :func:`estimate_u` takes every random pair as a non-match, which is harmless when a record
    has one partner among thousands, but many-to-many data can have a match rate of several per
    cent (a company filed under 676 records makes 10 % of all pairs matches): the matches then
    inflate ``u`` of the top levels and shrink exactly the weights that should link them. Here
    ``m`` stays fixed and EM over the random pairs estimates the global match rate and ``u``
    from the pairs weighted by their probability of being a non-match."""
    n_levels = [len(x) for x in model.level_labels]
    u = [x.copy() for x in model.u]
    rate = EPS
    # the weights and the non-match mass are the same for all random pairs of one pattern
    patterns = Patterns.of(gamma_random)
    for _ in range(max_iterations):
        w = patterns.log_sum(model.m) - patterns.log_sum(u)
        match = 1.0 / (1.0 + np.exp2(-np.clip(np.log2(rate / (1 - rate)) + w, -60, 60)))
        sums = patterns.level_sums(patterns.count * (1.0 - match), n_levels)
        new_u = []
        for counts, n in zip(sums, n_levels, strict=True):
            counts = counts + M_PRIOR_PAIRS * _initial_m(n)[::-1]
            new_u.append(counts / counts.sum())
        mean = float(patterns.count @ match) / len(gamma_random) if len(gamma_random) else np.nan
        new_rate = float(np.clip(mean, EPS, 0.5))
        change = max(max(float(np.max(np.abs(a - b))) for a, b in zip(new_u, u, strict=True)),
                     abs(new_rate - rate))
        u, rate = new_u, new_rate
        if change < tolerance:
            break
    return u, rate


def refit_prior(model: Model, gamma: np.ndarray,
                log_u_override: dict[int, np.ndarray] | None = None,
                max_iterations: int = 100, tolerance: float = 1e-7) -> Model:
    """For many-to-many data: keep the weights learnt with competing candidates (where near
    misses cannot pose as matches) and re-estimate only the prior, by EM, with each pair judged
    on its own, since a record may now have many matches."""
    w = model.log_lr(gamma, log_u_override)
    prior = model.prior
    for _ in range(max_iterations):
        logit = np.log2(prior / (1 - prior)) + w
        new = float(np.clip((1.0 / (1.0 + np.exp2(-np.clip(logit, -60, 60)))).mean(), EPS, 0.5))
        if abs(new - prior) < tolerance:
            prior = new
            break
        prior = new
    return Model(model.fields, model.level_labels, model.m, model.u, prior, None,
                 model.iterations, model.history)


@dataclass(frozen=True)
class Mixture:
    """Two groups of match weights (see :func:`score_mixture`)."""

    #: Per pair: the probability of the high group, rising with the weight.
    probability: np.ndarray
    #: The share of pairs in the high group.
    share: float
    #: Ashman's D: the distance of the two means in pooled standard deviations (above 2 the
    #: groups are cleanly apart; a low one means the weights make no two groups).
    separation: float


def score_mixture(weight: np.ndarray, split: float, max_iterations: int = 200,
                  tolerance: float = 1e-6) -> Mixture | None:
    """Match probabilities from the shape of the match weights alone: a mixture of two normal
    distributions (non-matches low, matches high) fitted by EM over the pairs' weights, starting
    from the two groups either side of ``split``. None when a group is (or becomes) empty.

    Why: Fellegi-Sunter EM can settle on a class tighter than the matches ("matches agree on
    every field"), and then its prior collapses while its weights still rank the pairs well; the
    weights of the candidate pairs then still fall into two groups whose sizes say how many
    matches there are. The probability is made to rise with the weight (none below the low
    group's mean, certain above the high group's mean, never lower than at a smaller weight), so
    the order of the pairs is the model's."""
    # EM over the distinct weights (pairs share a handful of level combinations), each counted
    value, inverse, count = np.unique(weight, return_inverse=True, return_counts=True)
    high = value >= split
    if high.all() or not high.any():
        return None
    n = count.sum()
    share = float(count[high].sum() / n)

    def spread(w: np.ndarray) -> tuple[float, float]:
        mean = float(np.average(value, weights=w))
        return mean, float(np.sqrt(np.average((value - mean) ** 2, weights=w)))

    (m0, s0), (m1, s1) = spread(count * ~high), spread(count * high)
    mean, sd = np.array([m0, m1]), np.array([s0, s1]) + 1.0
    r = high.astype(float)
    for _ in range(max_iterations):
        z = (value[:, None] - mean) / sd
        dens = np.exp(-0.5 * z**2) / sd * np.array([1.0 - share, share])
        r = dens[:, 1] / np.maximum(dens.sum(axis=1), 1e-300)
        new_share = float((count * r).sum() / n)
        if not EPS < new_share < 1 - EPS:
            return None
        (m0, s0), (m1, s1) = spread(count * (1.0 - r)), spread(count * r)
        mean, sd = np.array([m0, m1]), np.array([s0, s1]) + 0.25
        done = abs(new_share - share) < tolerance
        share = new_share
        if done:
            break
    r = np.where(value <= mean[0], 0.0, np.where(value >= mean[1], 1.0, r))
    r = np.maximum.accumulate(r)  # value is sorted
    separation = float((mean[1] - mean[0]) / np.sqrt((sd[0] ** 2 + sd[1] ** 2) / 2))
    out = r[inverse]
    return Mixture(out, share, separation)
