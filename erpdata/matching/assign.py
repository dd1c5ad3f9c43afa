"""One link per CRM record and per ERP record, chosen globally; thresholds chosen by the model.

Why global: first-come assignment lets whichever CRM record is processed first take an ERP actor
that a later record matches better. Here the best pair overall is linked first (greedy on the
match probability, which is what "mutual best, repeated" computes, round by round in arrays),
so a company that matches a customer and a supplier gets the better one, and two CRM records
that want the same ERP actor show up as a *conflict* (a probable CRM duplicate), never as a
silent drop.

Thresholds come from the model's own probabilities, never from a truth file:
``review`` maximises the expected F1 of the links, but never below :data:`REVIEW_FLOOR`;
``auto`` is the lowest probability above which the expected precision of the links is still at
least :data:`AUTO_PRECISION`, and never below :data:`MIN_AUTO`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from erpdata.errors import ErpdataError

AUTO_PRECISION = 0.995
MIN_AUTO = 0.99
#: The lowest review threshold the model may choose (a steward may fix a lower one).
#: Mechanism: a pair raises the expected F1 of the links exactly when its probability is above
#: half the best expected F1 (``p > F1*/2``), so the F1-optimal threshold is ``F1*/2`` and
#: follows F1* down when the links left are all unlikely (a workspace whose matches are already
#: linked: F1* -> 0 put pairs with probability 0.0 into the review band). Below an expected F1 of
#: 1/2 most suggested links would be wrong or missing: there is nothing left worth a steward's
#: review, so the floor is the threshold at F1* = 1/2, i.e. 1/4. Why not 1/2 ("more likely a
#: match than not"): one-to-one scoring splits a sure match between two equally good rivals (a
#: CRM duplicate, a customer and a supplier that are one company) at just under 1/2 each, and
#: those are exactly the pairs the review band and its conflict flag exist to show.
REVIEW_FLOOR = 0.25


def one_to_one(left: np.ndarray, right: np.ndarray, p: np.ndarray,
               taken_left: np.ndarray | None = None,
               taken_right: np.ndarray | None = None, floor: float | None = None) -> np.ndarray:
    """Mask of the pairs linked by global greedy assignment on ``p`` (ties: lower index first).

    ``taken_left``/``taken_right``: boolean masks over record ids (indexable by ``left`` /
    ``right``) of records that already have a link (a committed or accepted one) and must not
    get another. ``floor``: only pairs with ``p >= floor`` are walked (the others are not
    linked): greedy takes the pairs best first, so those below a floor cannot change what
    happens above it, and a caller that links nothing below its review threshold need not
    walk the millions of unlikely pairs (2,400,000 pairs at 1,000,000 per side, 0.5 s)."""
    if floor is not None:
        above = np.flatnonzero(p >= floor)
        assigned = np.zeros(len(p), dtype=bool)
        assigned[above] = one_to_one(left[above], right[above], p[above], taken_left,
                                     taken_right)
        return assigned
    order = np.argsort(-p, kind="stable")  # ties: lower index first
    l_sorted, r_sorted = left[order], right[order]
    assigned = np.zeros(len(p), dtype=bool)
    n_l = int(left.max()) + 1 if len(left) else 0
    n_r = int(right.max()) + 1 if len(right) else 0
    used_l = np.zeros(n_l, dtype=bool) if taken_left is None else taken_left[:n_l].copy()
    used_r = np.zeros(n_r, dtype=bool) if taken_right is None else taken_right[:n_r].copy()
    live = ~(used_l[l_sorted] | used_r[r_sorted])
    # per record, the first live place in ``order``: a scatter of the minimum, not a sort
    # per round (np.unique: 1.2 s against 0.4 s for 2,400,000 pairs)
    none = len(p)
    first_l = np.full(n_l, none, dtype=np.int64)
    first_r = np.full(n_r, none, dtype=np.int64)
    while live.any():
        idx = np.flatnonzero(live)
        ls, rs = l_sorted[idx], r_sorted[idx]
        first_l[ls], first_r[rs] = none, none
        np.minimum.at(first_l, ls, idx)
        np.minimum.at(first_r, rs, idx)
        # a pair first among its CRM record's and its ERP record's live pairs is the best
        # either has left
        best = idx[(first_l[ls] == idx) & (first_r[rs] == idx)]
        assigned[order[best]] = True
        used_l[l_sorted[best]] = True
        used_r[r_sorted[best]] = True
        live[idx] = ~(used_l[ls] | used_r[rs])
    return assigned


def indistinguishable(left: np.ndarray, group: np.ndarray, capacity: np.ndarray,
                      p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(probability, group size) of each pair once a CRM record's candidates that are identical
    after normalisation (the same ``group`` of ERP records, a number per pair; ``capacity``:
    per group, how many of its records are candidates; see
    :class:`~erpdata.matching.model.Copies`) count as one candidate.

    Why: competing candidates share a record's probability, so ten identical copies of one ERP
    record would each get a tenth and none would ever be suggested. Nothing can tell the copies
    apart, so the probability that matters is that the record matches *one of them*: every copy
    gets the group's sum, and the group size says the choice among them is arbitrary.

    Only a group of more than one candidate record can hold two pairs of one CRM record: the
    pairs of the others keep their probability and size 1 without being hashed (most groups
    are one ERP record: hashing 2,400,000 (record, group) keys took 0.7 s)."""
    p, size = p.copy(), np.ones(len(p), dtype=np.int64)
    shared = np.flatnonzero(capacity[group] > 1)
    if len(shared):
        codes, _ = pd.factorize(left[shared].astype(np.int64) * (int(group.max()) + 1)
                                + group[shared].astype(np.int64))
        counts = np.bincount(codes)
        size[shared] = counts[codes]
        p[shared] = np.bincount(codes, weights=p[shared])[codes]
    return p, size


def best_f1_review(p_links: np.ndarray) -> float:
    """The lowest probability of the links that together have the best expected F1 (no floor;
    0.5 when there are no links)."""
    if len(p_links) == 0:
        return 0.5
    p = np.sort(p_links)[::-1]
    expected_tp = np.cumsum(p)
    f1 = 2 * expected_tp / (np.arange(1, len(p) + 1) + expected_tp[-1])
    return float(p[int(np.argmax(f1))])


def thresholds(p_links: np.ndarray) -> dict[str, float]:
    """``review`` (max expected F1, at least :data:`REVIEW_FLOOR`) and ``auto`` (expected
    precision >= AUTO_PRECISION) from the probabilities of the candidate links (the one-to-one
    assignment's pairs)."""
    if len(p_links) == 0:
        return {"review": 0.5, "auto": MIN_AUTO}
    review = max(best_f1_review(p_links), REVIEW_FLOOR)
    p = np.sort(p_links)[::-1]
    expected_tp = np.cumsum(p)
    k = np.arange(1, len(p) + 1)
    precision = expected_tp / k
    ok = np.flatnonzero(precision >= AUTO_PRECISION)
    auto = float(p[ok[-1]]) if len(ok) else 1.0
    auto = max(auto, review, MIN_AUTO)
    return {"review": review, "auto": auto}


def check_limits(limits: dict[str, float]) -> dict[str, float]:
    """Fixed limits as floats, refused unless each is a probability in (0, 1]: a review limit
    of 0 would put every candidate, however hopeless, into the review band."""
    out: dict[str, float] = {}
    for key, value in limits.items():
        if key not in ("auto", "review"):
            raise ErpdataError(f"unknown threshold {key!r}: use auto or review")
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = float("nan")
        if not 0.0 < number <= 1.0:  # also refuses NaN
            raise ErpdataError(f"the {key} threshold must be a probability above 0 and at most "
                               f"1, not {value!r}")
        out[key] = number
    return out


#: The bands of a pair's probability, best first.
BANDS = ("auto", "review", "low")


def band(p: np.ndarray, limits: dict[str, float], never_auto: np.ndarray | None = None
         ) -> pd.api.extensions.ExtensionArray:
    """``auto`` / ``review`` / ``low`` of each probability (``never_auto``: pairs that are
    ``review`` at best), as pandas strings over Arrow: NumPy's string arrays took 0.1 s for
    870,000 pairs, a dictionary cast 0.02 s."""
    code = np.where(p >= limits["auto"], 0, np.where(p >= limits["review"], 1, 2)).astype(
        np.int8)
    if never_auto is not None:
        code[never_auto & (code == 0)] = 1
    names = pa.DictionaryArray.from_arrays(pa.array(code), pa.array(BANDS))
    return pd.array(names.cast(pa.large_string()), dtype="str")
