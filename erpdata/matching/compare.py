"""Comparison levels: for every candidate pair and field, how well the two values agree.

Like Splink's comparison levels, each field's agreement is a small ordered set of levels
(``exact``, ``very close``, ``close``, ``different``), plus ``missing`` when either side is
empty, which carries no evidence either way. Similarities are computed with rapidfuzz over
whole arrays of pairs at once (``process.cpdist``, all cores), never pair by pair in Python.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from rapidfuzz import distance, fuzz, process

MISSING = -1


@dataclass(frozen=True)
class Levels:
    """The levels of one type, best last: level ``i`` is ``labels[i]``."""

    labels: tuple[str, ...]


LEVELS: dict[str, Levels] = {
    "company": Levels(("different", "similar", "same words", "typo", "exact")),
    "person": Levels(("different", "similar", "same words", "typo", "exact")),
    "text": Levels(("different", "similar", "same words", "typo", "exact")),
    "city": Levels(("different", "similar", "exact")),
    "address": Levels(("different", "similar", "typo", "exact")),
    "phone": Levels(("different", "one digit off", "exact")),
    "email": Levels(("different", "same domain", "typo", "exact")),
    "url": Levels(("different", "exact")),
    "orgno": Levels(("different", "one digit off", "exact")),
    "postcode": Levels(("different", "same area", "exact")),
    "country": Levels(("different", "exact")),
    "date": Levels(("different", "same year", "typo or swapped", "exact")),
    "number": Levels(("different", "within 10%", "exact")),
    "location": Levels(("different", "within 10 km", "within 1 km", "same point")),
    "code": Levels(("different", "one typo", "exact")),
    "category": Levels(("different", "exact")),
}


def _strings(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Values as an object array of strings ('' for missing) and the mask of missing ones."""
    missing = np.asarray(pd.isna(values), dtype=bool)
    out = np.where(missing, "", values).astype(object)
    missing |= out == ""
    return out, missing


def _arrow(values: np.ndarray) -> pa.Array:
    return pa.array(values, type=pa.string(), from_pandas=True)


def _same(a: pa.Array, b: pa.Array) -> np.ndarray:
    return np.asarray(pc.fill_null(pc.equal(a, b), False).to_numpy(zero_copy_only=False))


def _slice_same(a: np.ndarray, b: np.ndarray, start: int, stop: int) -> np.ndarray:
    """Whether characters ``start:stop`` of the two values are the same (in Arrow, not Python)."""
    return _same(pc.utf8_slice_codeunits(_arrow(a), start, stop),
                 pc.utf8_slice_codeunits(_arrow(b), start, stop))


def _domain_same(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    def domain(x: np.ndarray) -> pa.Array:
        return pc.list_element(pc.split_pattern(_arrow(x), "@", max_splits=1, reverse=True), 0)

    return _same(domain(a), domain(b))


def _sim(a: np.ndarray, b: np.ndarray, scorer: Callable[..., float]) -> np.ndarray:
    return process.cpdist(a, b, scorer=scorer, workers=-1, dtype=np.float32)


def _name_levels(a: np.ndarray, b: np.ndarray, exact: np.ndarray) -> np.ndarray:
    ratio = _sim(a, b, fuzz.ratio)
    token_set = _sim(a, b, fuzz.token_set_ratio)
    jw = _sim(a, b, distance.JaroWinkler.normalized_similarity) * 100
    out = np.zeros(len(a), dtype=np.int8)
    out[(token_set >= 70) | (jw >= 88)] = 1
    out[(token_set >= 90) | (jw >= 94)] = 2
    out[ratio >= 90] = 3
    out[exact] = 4
    return out


def _edit_levels(a: np.ndarray, b: np.ndarray, exact: np.ndarray) -> np.ndarray:
    """exact / one edit (Levenshtein <= 1 or a swap) / different."""
    dist = _sim(a, b, distance.OSA.distance)
    out = np.zeros(len(a), dtype=np.int8)
    out[dist <= 1] = 1
    out[exact] = 2
    return out


def levels(type_: str, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """The level of each pair (``left[i]`` vs ``right[i]``) for a comparison of ``type_``.

    Each distinct (left value, right value) combination is compared once: countries, cities
    and postcodes repeat across millions of pairs, and even names repeat across candidates."""
    lc, lu = pd.factorize(pd.Series(left, dtype=object), use_na_sentinel=True)
    rc, ru = pd.factorize(pd.Series(right, dtype=object), use_na_sentinel=True)
    width = len(ru) + 1
    combos, inverse = np.unique((lc.astype(np.int64) + 1) * width + (rc + 1),
                                return_inverse=True)
    lu_ = np.concatenate([np.array([None], dtype=object), np.asarray(lu, dtype=object)])
    ru_ = np.concatenate([np.array([None], dtype=object), np.asarray(ru, dtype=object)])
    return _levels(type_, lu_[combos // width], ru_[combos % width])[inverse]


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


def _levels(type_: str, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    if type_ == "location":
        return _location_levels(left, right)
    if type_ == "number":
        lf = pd.to_numeric(pd.Series(left), errors="coerce").to_numpy(dtype=float)
        rf = pd.to_numeric(pd.Series(right), errors="coerce").to_numpy(dtype=float)
        missing = np.isnan(lf) | np.isnan(rf)
        rel = np.abs(lf - rf) / np.maximum(np.maximum(np.abs(lf), np.abs(rf)), 1e-9)
        out = np.where(rel <= 0.001, 2, np.where(rel <= 0.1, 1, 0)).astype(np.int8)
        out[missing] = MISSING
        return out
    a, miss_a = _strings(left)
    b, miss_b = _strings(right)
    missing = miss_a | miss_b
    exact = (a == b) & ~missing
    if type_ in ("company", "person", "text"):
        out = _name_levels(a, b, exact)
    elif type_ in ("city", "address"):
        ratio = _sim(a, b, fuzz.ratio)
        token_set = _sim(a, b, fuzz.token_set_ratio)
        out = np.zeros(len(a), dtype=np.int8)
        out[token_set >= 80] = 1
        if type_ == "address":
            out[ratio >= 90] = 2
        out[exact] = len(LEVELS[type_].labels) - 1
    elif type_ in ("phone", "orgno", "code"):
        out = _edit_levels(a, b, exact)
    elif type_ == "email":
        same_domain = _domain_same(a, b)
        ratio = _sim(a, b, fuzz.ratio)
        out = np.zeros(len(a), dtype=np.int8)
        out[same_domain] = 1
        out[ratio >= 90] = 2
        out[exact] = 3
    elif type_ == "postcode":
        out = np.zeros(len(a), dtype=np.int8)
        out[_slice_same(a, b, 0, 3)] = 1
        out[exact] = 2
    elif type_ == "date":
        out = np.zeros(len(a), dtype=np.int8)
        same_year = _slice_same(a, b, 0, 4)
        out[same_year] = 1
        a_arrow, b_arrow = _arrow(a), _arrow(b)
        swapped = same_year & _same(pc.utf8_slice_codeunits(a_arrow, 5, 7),
                                    pc.utf8_slice_codeunits(b_arrow, 8, 10)) & _same(
            pc.utf8_slice_codeunits(a_arrow, 8, 10), pc.utf8_slice_codeunits(b_arrow, 5, 7))
        dist = _sim(a, b, distance.Levenshtein.distance)
        out[swapped | (dist <= 1)] = 2
        out[exact] = 3
    else:  # url, country, category
        out = exact.astype(np.int8)
    out[missing] = MISSING
    return out
