"""Comparison levels: for every candidate pair and field, how well the two values agree.

Like Splink's comparison levels, each field's agreement is a small ordered set of levels
(``exact``, ``very close``, ``close``, ``different``), plus ``missing`` when either side is
empty, which carries no evidence either way. Similarities are computed with rapidfuzz over
whole arrays of pairs at once (``process.cpdist``, all cores), never pair by pair in Python.
Person names also agree word by word (nicknames, initials, sound: :mod:`.names`), which the
characters alone miss ("tom" / "thomas", "w j" / "william james").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pandas.api.extensions import ExtensionArray
from rapidfuzz import distance, fuzz, process

from erpdata.matching import names
from erpdata.matching.spec import NAME_TYPES

MISSING = -1
#: One value per record: a prepared column's array (Arrow strings, or floats for numbers).
ArrayLike = np.ndarray | ExtensionArray


@dataclass(frozen=True)
class Levels:
    """The levels of one type, best last: level ``i`` is ``labels[i]``."""

    labels: tuple[str, ...]


LEVELS: dict[str, Levels] = {
    "company": Levels(("different", "similar", "same words", "typo", "exact")),
    # person: see _person_levels for the order of the levels between "different" and "typo"
    "person": Levels(("different", "initials agree", "similar", "sounds alike", "nickname",
                      "same words", "typo", "exact")),
    "text": Levels(("different", "similar", "same words", "typo", "exact")),
    "city": Levels(("different", "similar", "exact")),
    "address": Levels(("different", "similar", "typo", "exact")),
    "phone": Levels(("different", "one digit off", "exact")),
    "email": Levels(("different", "same domain", "typo", "exact")),
    "url": Levels(("different", "exact")),
    "orgno": Levels(("different", "one digit off", "exact")),
    "postcode": Levels(("different", "same area", "exact")),
    "country": Levels(("different", "exact")),
    "date": Levels(("different", "same year", "one part differs", "typo or swapped", "exact")),
    "number": Levels(("different", "within 10%", "exact")),
    "location": Levels(("different", "within 10 km", "within 1 km", "same point")),
    "code": Levels(("different", "one typo", "exact")),
    "category": Levels(("different", "exact")),
}


def _arrow(values: ArrayLike) -> pa.Array:
    """Strings as Arrow (no copy when they already are, as the prepared columns)."""
    return pa.array(values, type=pa.large_string(), from_pandas=True)


def _chunks(values: pa.Array | pa.ChunkedArray) -> list[pa.Array]:
    return values.chunks if isinstance(values, pa.ChunkedArray) else [values]


def _np(flags: pa.Array) -> np.ndarray:
    """A boolean Arrow array as numpy (null -> False)."""
    return np.asarray(pc.fill_null(flags, False).to_numpy(zero_copy_only=False))


def _same(a: pa.Array, b: pa.Array) -> np.ndarray:
    return _np(pc.equal(a, b))


def _slice_same(a: np.ndarray, b: np.ndarray, start: int, stop: int) -> np.ndarray:
    """Whether characters ``start:stop`` of the two values are the same (in Arrow, not Python)."""
    return _same(pc.utf8_slice_codeunits(_arrow(a), start, stop),
                 pc.utf8_slice_codeunits(_arrow(b), start, stop))


def _domain_same(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    def domain(x: np.ndarray) -> pa.Array:
        return pc.list_element(pc.split_pattern(_arrow(x), "@", max_splits=1, reverse=True), 0)

    return _same(domain(a), domain(b))


def _sim(a: np.ndarray, b: np.ndarray, scorer: Callable[..., float],
         score_cutoff: float | None = None) -> np.ndarray:
    """``scorer`` of each pair, on all cores; past ``score_cutoff`` the exact value is not
    needed, which lets rapidfuzz stop early."""
    return process.cpdist(a, b, scorer=scorer, workers=-1, dtype=np.float32,
                          score_cutoff=score_cutoff)


def _name_levels(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Levels of names that differ, scorers from cheap to costly, each only where the level is
    still open: ``ratio >= 90`` is "typo" whatever the others say, and Jaro-Winkler >= 94 is
    already "same words", the most token_set could give."""
    out = np.zeros(len(a), dtype=np.int8)
    ratio = _sim(a, b, fuzz.ratio, 90)
    out[ratio >= 90] = 3
    rest = np.flatnonzero(ratio < 90)
    jw = _sim(a[rest], b[rest], distance.JaroWinkler.normalized_similarity, 0.88) * 100
    level = np.where(jw >= 94, 2, np.where(jw >= 88, 1, 0)).astype(np.int8)
    open_ = np.flatnonzero(jw < 94)
    token_set = _sim(a[rest[open_]], b[rest[open_]], fuzz.token_set_ratio, 70)
    level[open_] = np.maximum(level[open_],
                              np.where(token_set >= 90, 2, np.where(token_set >= 70, 1, 0)))
    out[rest] = level
    return out


#: Person levels (indices into ``LEVELS["person"]``) of :func:`_name_levels`' different /
#: similar / same words / typo, and of :func:`names.alignment`'s none / initial / sounds /
#: nickname / equal.
_PERSON_FROM_CHARACTERS = np.array([0, 2, 5, 6], dtype=np.int8)
_PERSON_FROM_WORDS = np.array([0, 1, 3, 4, 5], dtype=np.int8)
_PERSON_INITIALS, _PERSON_TYPO = 1, 6


def _person_levels(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Levels of person names that differ: the character scorers' level, raised when the words
    agree as nicknames, by sound, or with initials next to equal words (:func:`names.alignment`).

    The order is by how much each says about two records being one person. "Typo" (ratio >= 90:
    one or two letters off in the whole name) and "same words" (the words of one are in the
    other, initials allowed beside them) keep nearly every letter. "Nickname" comes below:
    a nickname stands for several full names (al: alan, albert, alfred, ...; bill: william,
    robert), so it narrows less than the written words. "Sounds alike" is below that: a
    Metaphone key is shared by unrelated names by design, yet it is more specific than
    "similar" (Jaro-Winkler / token_set), which it refines where both hold. "Initials agree" is
    the weakest agreement: one letter per word, shared by a large share of any population.
    When the shorter name is nothing but initials agreeing, that is the level even if the
    characters looked closer ("w" in "w j" is a subset, but only of initials)."""
    chars = _PERSON_FROM_CHARACTERS[_name_levels(a, b)]
    words = names.alignment(a, b)
    out = np.maximum(chars, _PERSON_FROM_WORDS[words])
    only_initials = (words == names.INITIAL) & (chars < _PERSON_TYPO)
    out[only_initials] = _PERSON_INITIALS
    return out


#: Location levels: the upper distance of each level above "different", best last (km). "Same
#: point" allows 10 m for rounding and re-geocoding of one address.
LOCATION_KM = (10.0, 1.0, 0.01)
EARTH_KM = 6371.0


def _location_levels(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Great-circle distance between ``"lat,lng"`` points, as levels of :data:`LOCATION_KM`."""
    def degrees(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        parts = pd.Series(values, dtype=object).str.split(",", n=1, expand=True)
        parts = parts.reindex(columns=[0, 1])
        lat = pd.to_numeric(parts[0], errors="coerce").to_numpy(dtype=float)
        return np.radians(lat), np.radians(pd.to_numeric(parts[1], errors="coerce").to_numpy(
            dtype=float))

    (lat1, lng1), (lat2, lng2) = degrees(left), degrees(right)
    h = (np.sin((lat2 - lat1) / 2) ** 2
         + np.cos(lat1) * np.cos(lat2) * np.sin((lng2 - lng1) / 2) ** 2)
    km = 2 * EARTH_KM * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))
    out = np.zeros(len(km), dtype=np.int8)
    for level, limit in enumerate(LOCATION_KM, start=1):
        out[km <= limit] = level
    out[np.isnan(km)] = MISSING
    return out


def _dictionary(type_: str, left: ArrayLike, right: ArrayLike
                ) -> tuple[np.ndarray, np.ndarray, pa.Array | np.ndarray]:
    """Both columns factorised together: (left codes, right codes, distinct values), code -1
    for a missing value (null, NaN, "")."""
    if type_ == "number":
        lf = pd.to_numeric(pd.Series(left), errors="coerce").to_numpy(dtype=float)
        rf = pd.to_numeric(pd.Series(right), errors="coerce").to_numpy(dtype=float)
        codes, uniques = pd.factorize(np.concatenate([lf, rf]), use_na_sentinel=True)
        return codes[:len(left)], codes[len(left):], np.asarray(uniques, dtype=float)
    # chunk by chunk: given two ChunkedArrays (a workspace's stored features), pyarrow turns
    # each into one array through Python objects (1 s per field for 2,000,000 values)
    chunks = [c for side in (left, right) for c in _chunks(_arrow(side))]
    enc = pa.chunked_array(chunks, type=pa.large_string()).combine_chunks().dictionary_encode()
    empty = np.append(_np(pc.equal(enc.dictionary, "")), True)
    codes = enc.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
    codes[empty[codes]] = -1
    return codes[:len(left)], codes[len(left):], enc.dictionary


def _values(values: pa.Array | np.ndarray, codes: np.ndarray) -> np.ndarray:
    """The values of ``codes`` (only those become Python strings, not the whole dictionary)."""
    if isinstance(values, np.ndarray):
        return values[codes]
    return values.take(pa.array(codes)).to_numpy(zero_copy_only=False)


def levels(type_: str, left: ArrayLike, right: ArrayLike, lrid: np.ndarray,
           rrid: np.ndarray) -> np.ndarray:
    """The level of each pair (``left[lrid[i]]`` vs ``right[rrid[i]]``) for a comparison of
    ``type_``; ``left`` and ``right`` hold one value per record.

    Why codes: the two columns are factorised together once (per record, not per pair), so a
    pair is two integers: equal codes are the top level, a missing code is :data:`MISSING`, and
    only the distinct (left value, right value) combinations that differ reach a scorer once
    each. Countries, cities and postcodes repeat across millions of pairs, and exact or missing
    values are most of the rest."""
    lcodes, rcodes, values = _dictionary(type_, left, right)
    a, b = lcodes[lrid], rcodes[rrid]
    missing = (a < 0) | (b < 0)
    differ = ~missing & (a != b)
    out = np.full(len(a), len(LEVELS[type_].labels) - 1, dtype=np.int8)
    out[missing] = MISSING
    if differ.any():
        combo, combos = pd.factorize(a[differ] * len(values) + b[differ])
        out[differ] = _levels(type_, _values(values, combos // len(values)),
                              _values(values, combos % len(values)))[combo]
    return out


def _levels(type_: str, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Levels of pairs of present values that are not equal (so never the top level, except a
    number within 0.1%)."""
    if type_ == "location":
        return _location_levels(a, b)
    out = np.zeros(len(a), dtype=np.int8)
    if type_ == "number":
        rel = np.abs(a - b) / np.maximum(np.maximum(np.abs(a), np.abs(b)), 1e-9)
        out[rel <= 0.1] = 1
        out[rel <= 0.001] = 2
    elif type_ == "person":
        out = _person_levels(a, b)
    elif type_ in NAME_TYPES:
        out = _name_levels(a, b)
    elif type_ == "address":
        # ratio >= 90 is "typo" whatever token_set says: token_set only for the others
        ratio = _sim(a, b, fuzz.ratio)
        out[ratio >= 90] = 2
        rest = np.flatnonzero(ratio < 90)
        out[rest[_sim(a[rest], b[rest], fuzz.token_set_ratio) >= 80]] = 1
    elif type_ == "city":
        out[_sim(a, b, fuzz.token_set_ratio) >= 80] = 1
    elif type_ in ("phone", "orgno", "code"):
        out[_sim(a, b, distance.OSA.distance, score_cutoff=1) <= 1] = 1
    elif type_ == "email":
        out[_domain_same(a, b)] = 1
        out[_sim(a, b, fuzz.ratio) >= 90] = 2
    elif type_ == "postcode":
        out[_slice_same(a, b, 0, 3)] = 1
    elif type_ == "date":
        # Levels by how much of the date agrees: a date keyed in wrong is most often one part
        # wrong (a day, a month, or a year with the day and month right, which alone is strong
        # evidence), and that must not weigh as little as "same year".
        same_year = _slice_same(a, b, 0, 4)
        same_month, same_day = _slice_same(a, b, 5, 7), _slice_same(a, b, 8, 10)
        out[same_year] = 1
        parts = same_year.astype(np.int8) + same_month + same_day
        out[parts >= 2] = 2
        a_arrow, b_arrow = _arrow(a), _arrow(b)
        swapped = same_year & _same(pc.utf8_slice_codeunits(a_arrow, 5, 7),
                                    pc.utf8_slice_codeunits(b_arrow, 8, 10)) & _same(
            pc.utf8_slice_codeunits(a_arrow, 8, 10), pc.utf8_slice_codeunits(b_arrow, 5, 7))
        dist = _sim(a, b, distance.Levenshtein.distance, score_cutoff=1)
        out[swapped | (dist <= 1)] = 3
    # url, country, category: equal or different, nothing in between
    return out
