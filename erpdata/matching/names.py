"""Person names word by word: nicknames, initials and sound, for the ``person`` levels.

Why a separate pass: the character scorers of :mod:`.compare` (ratio, Jaro-Winkler,
token_set) see "tom smith" vs "thomas smith" as merely "similar" and "w j" vs "william james"
as "different", yet a steward reads both as the same person written another way. Here each
name is split into words, and the words of the shorter name must each find a word of the
other that is equal, a nickname of it (the maintained, hand-curated ``nicknames`` package:
mostly English given names), an initial of it, or that sounds alike (Metaphone,
``jellyfish``).
The weakest kind of agreement any word needed names the level.

How it stays cheap: words are split in Arrow, and the per-word facts (Metaphone key, nickname
partners, first letter) are looked up once per distinct word in the batch, in Python (a few
thousand words even for millions of pairs). Pairs are then compared as integer arrays, one
(word of one, word of the other) position at a time, never pair by pair.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import jellyfish
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from nicknames import NickNamer

#: Word-level agreement, weakest first (0: no agreement).
NONE, INITIAL, SOUNDS, NICKNAME, EQUAL = 0, 1, 2, 3, 4
#: Names with more words than this are left to the character scorers: person names have two to
#: four words; longer values are free text in a name column, where word alignment is no help
#: and the position loop (``MAX_WORDS ** 2`` steps) would only cost time.
MAX_WORDS = 6
#: A Metaphone key of one consonant ("L" for li / lee / lo, "H" for ho / hu / hay) is shared by
#: most short words with that consonant and says almost nothing: sound agreement needs a key
#: of at least two letters.
MIN_SOUND_KEY = 2


@cache
def _namer() -> NickNamer:
    return NickNamer()


@dataclass(frozen=True)
class _Words:
    """Distinct values as rows of word ids, and the facts of each distinct word.

    Word id ``n_words`` is the padding of shorter rows; every per-word array has one extra slot
    for it (never a one-letter word, never a sound key, no nickname partners)."""

    ids: np.ndarray        # (values, MAX_WORDS) word ids
    count: np.ndarray      # words per value (MAX_WORDS + 1 when there are more)
    one_letter: np.ndarray  # per word: a single letter (an initial)
    first: np.ndarray      # per word: code of its first letter
    sound: np.ndarray      # per word: Metaphone key id, -1 when too short to count
    related: np.ndarray    # sorted codes ``x * (n_words + 1) + y`` of nickname word pairs
    has_related: np.ndarray  # per word: it has a nickname partner among the words


def _words(values: pa.Array) -> _Words:
    """Split each distinct value into words and describe every distinct word."""
    lists = pc.split_pattern(values, " ")
    flat = pc.list_flatten(lists)
    parent = pc.list_parent_indices(lists).to_numpy(zero_copy_only=False)
    keep = np.asarray(pc.greater(pc.utf8_length(flat), 0).to_numpy(zero_copy_only=False),
                      dtype=bool)
    flat, parent = flat.filter(pa.array(keep)), parent[keep]
    enc = pc.dictionary_encode(flat)
    word = enc.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    vocab = enc.dictionary
    n = len(vocab)
    count = np.bincount(parent, minlength=len(values)) if len(parent) else np.zeros(
        len(values), dtype=np.int64)
    start = np.concatenate([[0], np.cumsum(count)[:-1]]) if len(values) else count
    pos = np.arange(len(parent)) - start[parent]
    ids = np.full((len(values), MAX_WORDS), n, dtype=np.int64)
    fits = pos < MAX_WORDS
    ids[parent[fits], pos[fits]] = word[fits]
    count = np.where(count > MAX_WORDS, MAX_WORDS + 1, count)

    one_letter = np.append(
        np.asarray(pc.equal(pc.utf8_length(vocab), 1).to_numpy(zero_copy_only=False),
                   dtype=bool), False)
    first_enc = pc.dictionary_encode(pc.utf8_slice_codeunits(vocab, 0, 1))
    first = np.append(first_enc.indices.to_numpy(zero_copy_only=False).astype(np.int64), -1)

    # per distinct word, in Python: Metaphone and the nickname lists have no array form
    texts = vocab.to_pylist()
    keys = [jellyfish.metaphone(w) if len(w) > 1 else "" for w in texts]
    sound_codes, _ = pd.factorize(pd.Series(keys, dtype=object))
    long_key = np.array([len(k) >= MIN_SOUND_KEY for k in keys], dtype=bool)
    sound = np.append(np.where(long_key, sound_codes, -1), -1).astype(np.int64)

    namer = _namer()
    index = {w: i for i, w in enumerate(texts)}
    pairs: list[int] = []
    for i, w in enumerate(texts):
        if len(w) < 2:
            continue
        for other in namer.canonicals_of(w) | namer.nicknames_of(w):
            j = index.get(other)
            if j is not None and j != i:
                pairs += (i * (n + 1) + j, j * (n + 1) + i)
    related = np.unique(np.array(pairs, dtype=np.int64))
    has_related = np.zeros(n + 1, dtype=bool)
    has_related[related // (n + 1)] = True
    return _Words(ids, count, one_letter, first, sound, related, has_related)


def _word_kind(w: _Words, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """How well word ``x[i]`` agrees with word ``y[i]`` (:data:`NONE` ... :data:`EQUAL`).

    A one-letter word on either side can only be an initial (equal or not: "w" = "w" is two
    initials agreeing, not two names); nicknames and sound need two real words."""
    pad = len(w.first) - 1
    valid = (x != pad) & (y != pad)
    one = w.one_letter[x] | w.one_letter[y]
    out = np.zeros(len(x), dtype=np.int8)
    out[valid & one & (w.first[x] == w.first[y])] = INITIAL
    full = valid & ~one
    out[full & (w.sound[x] >= 0) & (w.sound[x] == w.sound[y])] = SOUNDS
    ask = np.flatnonzero(full & w.has_related[x] & w.has_related[y] & (x != y))
    if len(ask) and len(w.related):
        code = x[ask] * (pad + 1) + y[ask]
        at = np.minimum(np.searchsorted(w.related, code), len(w.related) - 1)
        out[ask[w.related[at] == code]] = NICKNAME
    out[full & (x == y)] = EQUAL
    return out


def _direction(best: np.ndarray, count: np.ndarray) -> np.ndarray:
    """Alignment of a name whose words (rows of ``best``, one column per pair) have ``best``
    agreement with the other name: 0 when a
    word found nothing, :data:`INITIAL` when every word only agreed as an initial, else the
    weakest agreement beyond initials (an initial next to agreeing names is no weaker)."""
    present = np.arange(MAX_WORDS)[:, None] < count
    weakest = np.where(present, best, EQUAL + 1).min(axis=0)
    beyond = np.where(present & (best > INITIAL), best, EQUAL + 1).min(axis=0)
    out = np.where(beyond <= EQUAL, beyond, INITIAL).astype(np.int8)
    out[(weakest == NONE) | (count == 0) | (count > MAX_WORDS)] = NONE
    return out


def alignment(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per pair of present person names: how the words of the shorter one (fewer words) agree
    with the other's, :data:`NONE` ... :data:`EQUAL` (see :func:`_direction`).

    "tom smith" / "thomas smith" -> NICKNAME, "w j" / "william james" -> INITIAL,
    "smyth" / "smith" -> SOUNDS, "j smith" / "john smith" -> EQUAL. With as many words on both
    sides, either side may be the one whose words all find a partner."""
    if not len(a):
        return np.zeros(0, dtype=np.int8)
    codes, uniques = pd.factorize(np.concatenate([a, b]))
    w = _words(pa.array(np.asarray(uniques, dtype=object), type=pa.large_string()))
    ia, ib = codes[:len(a)], codes[len(a):]
    na, nb = w.count[ia], w.count[ib]
    live = np.flatnonzero((na <= MAX_WORDS) & (nb <= MAX_WORDS))
    out = np.zeros(len(a), dtype=np.int8)
    if not len(live):
        return out
    ia, ib, na, nb = ia[live], ib[live], na[live], nb[live]
    # word position by pair, each row contiguous
    words_a, words_b = np.ascontiguousarray(w.ids[ia].T), np.ascontiguousarray(w.ids[ib].T)
    best_a = np.zeros((MAX_WORDS, len(live)), dtype=np.int8)
    best_b = np.zeros((MAX_WORDS, len(live)), dtype=np.int8)
    for s in range(int(na.max())):
        for t in range(int(nb.max())):
            kind = _word_kind(w, words_a[s], words_b[t])
            np.maximum(best_a[s], kind, out=best_a[s])
            np.maximum(best_b[t], kind, out=best_b[t])
    level = np.where(na <= nb, _direction(best_a, na), 0)
    out[live] = np.maximum(level, np.where(nb <= na, _direction(best_b, nb), 0))
    return out
