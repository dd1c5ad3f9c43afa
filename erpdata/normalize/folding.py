"""Folding: :func:`fold_text`, the comparison form of any free text.

Why a module of its own: folding is the first step of the company and person name, street,
city and country keys (:mod:`erpdata.normalize`), so they all fold the same way.

Decision: folding maps å/ä→a, ø/ö→o, æ→ae, ü→u, ß→ss, strips other diacritics and *also* maps
"aa"→"a": Norwegian and Danish write å as "aa" in old or ASCII spellings ("Aalesund", "Aasen",
"Aarhus"), which otherwise never meet "Ålesund". The rule is global (Dutch "Haarlem" becomes
"harlem", Finnish "Saari" "sari"), which costs a few extra collisions but never splits two
spellings of the same name, because both sides are folded the same way.
"""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from erpdata.normalize.arrays import _STR, _patch, _per_unique, _squash

#: Letters NFKD does not decompose, replaced after it and lower case (so lower case only).
_LITERAL_FOLDS = (("ß", "ss"), ("æ", "ae"), ("ø", "o"), ("đ", "d"), ("ð", "d"), ("þ", "th"),
                  ("ł", "l"), ("œ", "oe"), ("ı", "i"))


def _fold_chars(a: pa.Array, *, aa: bool = True) -> pa.Array:
    """Lower case, Nordic/German letters folded, diacritics stripped, "aa"→"a" (unless ``aa``
    is false); punctuation kept."""
    # Most values are plain ASCII, where folding is just lower case (NFKD, the literal folds
    # and the marks change no ASCII letter): the Unicode steps, a dozen passes over the text,
    # run on the other values only.
    ascii_rows = pc.fill_null(pc.string_is_ascii(a), True)
    lowered = pc.ascii_lower(a)
    if not pc.all(ascii_rows).as_py():
        other = pc.invert(ascii_rows)
        lowered = pc.replace_with_mask(lowered, other, _fold_unicode(pc.filter(a, other)))
    return _collapse_aa(lowered) if aa else lowered


def _fold_unicode(a: pa.Array) -> pa.Array:
    """:func:`_fold_chars` without "aa"→"a", for any text (ASCII need not come here)."""
    # NFKD before lower case and the literal folds: a compatibility character can decompose
    # to capitals ("℡" → "TEL") or to a letter folded here ("ǽ" → "æ" + accent)
    a = pc.utf8_lower(pc.utf8_normalize(a, form="NFKD"))
    for old, new in _LITERAL_FOLDS:
        a = pc.replace_substring(a, old, new)
    return pc.replace_substring_regex(a, r"\p{M}+", "")


def _collapse_aa(a: pa.Array) -> pa.Array:
    """Every run of "a" ("aa", and "aaa" too, so that folding twice changes nothing) → "a"."""
    return _patch(a, pc.match_substring(a, "aa"),
                  lambda x: pc.replace_substring_regex(x, "a{2,}", "a"))


def _fold(a: pa.Array) -> pa.Array:
    """:func:`fold_text` on an Arrow array."""
    a = pc.replace_substring(_fold_chars(a), "&", " and ")
    return _squash(pc.replace_substring_regex(a, r"[^\p{L}\p{N}]+", " "))


def _fold_py(text: str) -> str:
    """:func:`fold_text` of one string (for lookup tables)."""
    return _fold(pa.array([text], _STR))[0].as_py() or ""


def fold_text(s: pd.Series) -> pd.Series:
    """Folded text: the comparison form of any free text.

    Lower case; ß→ss, æ→ae, ø→o, å/ä→a, ö→o, ü→u, other diacritics stripped (NFKD); "aa"→"a"
    (old Nordic spelling of å, see the module docstring); ``&`` → "and"; every run of characters
    that is not a letter or digit → one space; trimmed. "Tromsø & Ålesund AS" →
    "tromso and alesund as". Throughput: 1.1 s per 1,000,000 names (700,000 distinct).
    """
    return _per_unique(s, _fold)
