"""Arrow plumbing every normaliser shares: Series <-> Arrow, unique values, token maps.

Why a module of its own: every normaliser module (:mod:`erpdata.normalize`) works the same way,
with these helpers, and that is how it stays fast. Every function works on the *unique* values
of its input (or unique ``(value, country)`` pairs), with Arrow compute kernels (RE2 regular
expressions, Unicode normalisation) over whole arrays; Python only touches small things (unique
tokens, lookup tables, a few per-unique-value library calls such as python-stdnum's check
digits). Results are then spread back to the rows by index, so a column costs about as much as
its distinct values. The throughput notes per function were measured once, on the 2-core
development machine, with the columns of 1,000,000 ERP companies of the demo
(``erpdata.demo.write_exports(size=1_000_000)``; distinct values per column given with each
note). The tests never time anything.

Conventions of every public normaliser (these helpers implement them):

* Input: a pandas Series of ``str`` (``None``/NaN = missing). Country arguments take a Series
  aligned to it, or one code for all rows; values go through :func:`country_code`, so ISO-2
  codes, "UK" or "Norge" all work (:mod:`erpdata.normalize.country_codes`).
* Output: a Series (or DataFrame) with the input's index; missing or empty results are NA.
  Strings come back as pandas' ``str`` dtype (NaN for missing), flags as ``boolean`` or ``bool``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

_STR = pa.large_string()


def _to_arrow(s: pd.Series) -> pa.Array:
    """The Series as one Arrow large_string array (nulls for None/NaN, other types as str)."""
    try:
        arr = pa.array(s, type=_STR, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        arr = pa.array(s.astype("str"), type=_STR, from_pandas=True)
    return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr


def _to_series(arr: pa.Array, index: pd.Index) -> pd.Series:
    return pd.Series(pd.array(arr.cast(_STR), dtype="str"), index=index)


def _nullify_empty(a: pa.Array) -> pa.Array:
    return pc.if_else(pc.equal(a, ""), pa.scalar(None, a.type), a)


def _squash(a: pa.Array) -> pa.Array:
    """Runs of spaces collapsed, ends trimmed, empty strings made null."""
    # a plain substring search finds the few values with a run faster than the regex passes
    a = _patch(a, pc.match_substring(a, "  "),
               lambda x: pc.replace_substring_regex(x, " {2,}", " "))
    return _nullify_empty(pc.utf8_trim(a, " "))


def _np_bool(a: pa.Array) -> np.ndarray:
    """A boolean Arrow array as numpy (null → False)."""
    return pc.fill_null(a, False).to_numpy(zero_copy_only=False)


def _unique(s: pd.Series) -> tuple[pa.Array, pa.Array]:
    """The distinct values of ``s`` and, per row, the index of its value (null for missing)."""
    enc = _to_arrow(s).dictionary_encode()
    return enc.dictionary, enc.indices


def _per_unique(s: pd.Series, fn: Callable[[pa.Array], pa.Array]) -> pd.Series:
    """``fn`` applied to the distinct values of ``s``, spread back to the rows."""
    values, indices = _unique(s)
    return _to_series(fn(values).take(indices), s.index)

def _unique_pairs(s: pd.Series, countries: pa.Array) -> tuple[pa.Array, pa.Array, pa.Array]:
    """Distinct ``(value, country)`` pairs: (values, countries ("" if unknown), row indices)."""
    enc = _to_arrow(s).dictionary_encode()
    value_rows, pair_countries, indices = _pair_index(enc.indices, countries)
    return enc.dictionary.take(value_rows), pair_countries, indices


def _pair_index(value_idx: pa.Array, countries: pa.Array) -> tuple[pa.Array, pa.Array, pa.Array]:
    """Distinct ``(value, country)`` pairs of already encoded values: (index of each pair's
    value, each pair's country, per row the index of its pair (null where the value or the
    country is missing)).

    Why integers: a pair is ``value index * number of countries + country index``, so finding
    the distinct pairs hashes one int64 per row; joining each value to its country as text,
    encoding that and splitting it again cost three passes over a million strings."""
    country_enc = countries.dictionary_encode()
    width = max(len(country_enc.dictionary), 1)
    key = pc.add(pc.multiply(value_idx.cast(pa.int64()), width),
                 country_enc.indices.cast(pa.int64()))
    enc = key.dictionary_encode()
    pairs = enc.dictionary.to_numpy()
    return (pa.array(pairs // width), country_enc.dictionary.take(pa.array(pairs % width)),
            enc.indices)


def _map_tokens(a: pa.Array, mapping: Mapping[str, str]) -> pa.Array:
    """Whole space-separated tokens of ``a`` replaced by ``mapping`` ("" drops the token).

    Python only sees the distinct tokens (a few per cent of all tokens in a name column).
    """
    lists = pc.split_pattern(a, " ")
    enc = pc.list_flatten(lists).dictionary_encode()
    mapped = pa.array([mapping.get(t, t) for t in enc.dictionary.to_pylist()], _STR)
    lengths = pc.list_value_length(lists).fill_null(0).to_numpy(zero_copy_only=False)
    offsets = pa.array(np.concatenate([[0], np.cumsum(lengths)]), pa.int64())
    rebuilt = pa.LargeListArray.from_arrays(offsets, mapped.take(enc.indices),
                                            mask=lists.is_null())
    return _squash(pc.binary_join(rebuilt, pa.scalar(" ", _STR)))


def _patch(a: pa.Array, rows: pa.Array, fn: Callable[[pa.Array], pa.Array]) -> pa.Array:
    """``a`` with the values where ``rows`` is true replaced by ``fn`` of them: a costly kernel
    runs only on the values that need it (a cheap test finds them first)."""
    rows = pc.fill_null(rows, False)
    if not pc.any(rows).as_py():
        return a
    return pc.replace_with_mask(a, rows, fn(pc.filter(a, rows)).cast(a.type))


def _lookup(a: pa.Array, mapping: Mapping[str, str | None]) -> pa.Array:
    """``mapping`` applied to whole values (unmapped values unchanged); Python sees uniques only."""
    enc = a.dictionary_encode()
    keys = enc.dictionary.to_pylist()
    return pa.array([mapping.get(k, k) for k in keys], _STR).take(enc.indices)


def _regex_any(words: Iterable[str]) -> str:
    """An RE2 alternation of literal words, longest first."""
    return "|".join(re.escape(w) for w in sorted(set(words), key=lambda w: (-len(w), w)))
