"""Blocking: which (CRM, ERP) pairs are worth scoring at all, in DuckDB SQL and sparse matrices.

Why several keys: each rule misses some true pairs (a typo in the rarest token, a moved company,
a changed phone), but a true pair rarely escapes all of them. The rules are unioned into one
candidate table and each pair is scored by the rules it passed. A rule's weight is shared among
the records that hold the same key: a VAT number held by one ERP record is strong evidence, the
name "oslo havbruk" held by 40 branches is weak. Each CRM record then keeps its best ``cap``
candidates and, at scale, only those scoring at least :data:`MIN_SHARE` of its best one, so that
a record with a decisive agreement does not drag weaker ones into the (costly) comparison.
Keys shared by too many records (a switchboard number, the token "bygg") are skipped per key,
with a limit derived from a budget of joined rows, so that 1,000,000 x 1,000,000 stays bounded
while small tables are blocked generously.

Why the rules must not trust the types: they are inferred from column names and values, and on
an export never seen before they are often wrong or incomplete (a surname typed as text, a
second first-name column that is empty, everything typed as a code). So besides the typed rules
(every name column, not just the first ones; a person's columns also as one full name, so that
first and last name swapped or split differently still meet; a one-typo key for single words;
date parts with a name initial) there is one generator that reads the whole record whatever its
columns are: character 3-grams with TF-IDF weights, each CRM record's nearest ERP records by
cosine (:func:`_ngram_pairs`).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
from scipy import sparse
from sparse_dot_topn import sp_matmul_topn

from erpdata.matching.spec import KEY_TYPES, NAME_TYPES, Comparison
from erpdata.progress import Progress
from erpdata.sql import close as close_database
from erpdata.sql import connect as open_duckdb
from erpdata.sql import sql_ident

# SQL built here (ruff S608): table names are this module's own temp tables (l, r, rule_<i>,
# rare1_<i>, ...), column names are comparison names quoted by sql_ident, and the rest is
# numbers (caps, budgets, weights) computed here; no value from a record reaches the text.

#: Joined rows a key rule may produce, before the per-record cap: it sets how many records may
#: share a key (never fewer than ``MIN_CAP``). As a key's weight is shared among its holders, a
#: key held by dozens of records hardly ranks anyway: on the demo at 100,000 per side, a budget
#: of 5 million keeps the same true pairs as one of 40 million; at 1,000,000 a floor of 20
#: instead of 50 costs 0.02% of them and halves the rows to aggregate.
ROW_BUDGET = 10_000_000
MIN_CAP = 20
MAX_TOKENS = 20
#: At scale, a candidate is kept only when its score is at least this share of its CRM
#: record's best: on the demo (100,000 per side) this keeps 99.9% of the true pairs with a
#: quarter of the pairs.
MIN_SHARE = 0.2
#: ... when more candidate pairs than this could be kept. Below, comparing them all is cheap,
#: and text-like data, where the rules rank less well, needs the weaker ones (beer: pair
#: completeness 0.93 with the cut, 0.985 without).
SHARE_CUT_ABOVE = 2_000_000
#: Tokens shorter than this get no one-typo keys: a 3-letter token with a letter deleted is a
#: 2-letter key, which a large share of all tokens yield, so it is skipped by the per-key cap
#: anyway after costing a join; a typo in a short token is left to the other rules.
MIN_TYPO_LENGTH = 4
#: Below this many pairs (CRM x ERP records) every pair is a candidate (see :func:`block`).
CROSS_PRODUCT_BELOW = 2_000_000
#: DuckDB's memory for blocking (see :func:`connect`): at 1,000,000 companies per side a cap
#: of 1 GB gave the same pairs in the same time as none, and 1.6 GB less peak memory.
MEMORY = "1GB"
#: The label of the rules on a person's columns read as one name.
FULL_NAME = "full name"
#: Weight of the 3-gram generator, per unit of cosine: a whole-record resemblance counts like a
#: shared rare token (2.0) at cosine 1, less as the records differ, so that pairs only it finds
#: rank by their resemblance and never above a pair that agrees on a key.
NGRAM_WEIGHT = 2.0
#: Character classes of the 3-grams: 6 bits per byte, so a gram is an 18-bit column index (a
#: matrix of 262,144 columns, no vocabulary to build). Letters and digits keep their own
#: class; every other ASCII byte is a separator (a space: "a-b" and "a b" are the same grams);
#: the bytes of non-ASCII UTF-8 characters share 27 classes (a collision only makes two rare
#: letters one, which costs a little precision in a generator, never recall).
_GRAM_BITS = 6


def _byte_classes() -> np.ndarray:
    out = np.zeros(256, dtype=np.uint8)
    out[ord("a"):ord("z") + 1] = np.arange(1, 27)
    out[ord("A"):ord("Z") + 1] = np.arange(1, 27)
    out[ord("0"):ord("9") + 1] = np.arange(27, 37)
    out[128:] = 37 + np.arange(128, 256) % 27
    return out


#: The byte classes as a ``bytes.translate`` table: one pass over the text, no index array.
_CLASS_TABLE = bytes(_byte_classes())


@dataclass(frozen=True)
class Rule:
    """One blocking rule: a SQL key computed the same way on both sides; pairs agree when their
    keys are equal. ``source`` instead names a ready table of (lrid, rrid, s) pairs, ``s`` in
    (0, 1] being how strongly the pair agrees (1 / the number of records sharing what the pair
    agrees on, or a cosine)."""

    name: str
    weight: float
    key: str = ""
    source: str = ""


@dataclass(frozen=True)
class Statistics:
    """What blocking learnt from both sides that a record's candidates depend on besides the
    record itself and the ERP side: the per-key cap, the quota of the budgeted rules and the
    share cut (all from the number of CRM records), each name word's holders on both sides
    (which words of a record are its rarest), the one-typo word pairs and the date keys each
    budget kept (ranked by CRM x ERP holders), and each 3-gram's weight (its idf, zero for
    the grams the budget dropped).

    Why keep them: learnt again after a re-load, they move with every record added or changed
    (a word's count, a budget's cut, the idf's record total), and with them any record's
    candidates. Kept (a :class:`~erpdata.matching.engine.Fit`'s), a CRM record's candidates
    depend on itself and the ERP side alone, so a run after a CRM re-load blocks only the
    records that changed, and gets what blocking every record with them gets. A word, typo
    pair or date key they never saw is not blocked on as such (learnt anew, it is); the rules
    on whole values (exact name, prefix, codes, 3-grams) still weigh it. The rules whose
    counts come from the ERP side alone count it as it is now.

    ``words``: (source, tok, df); ``typos``: (source, ltok, rtok, n); ``dates``: (date, k,
    n); ``source`` and ``date`` number the name sources and date comparisons as
    :func:`block` does, so they are valid for the comparisons they were learnt with only."""

    cap: int
    quota: int
    min_share: float
    words: pa.Table
    typos: pa.Table
    dates: pa.Table
    #: float32 weight per gram code (length ``GRAM_CODES + 1``, the last, ``_NO_GRAM``, 0)
    grams: np.ndarray


@dataclass(frozen=True)
class Blocked:
    """What :func:`block` returns besides the ``pairs`` table: the rows each rule produced,
    the statistics it blocked with (given or learnt), and the ERP side's rows of weighted
    3-grams under them (one per ERP record, in ``rid`` order), which depend on the ERP records
    and the statistics alone: a run on the same ERP records with the same statistics may pass
    them back instead of reading all the ERP text again."""

    counts: dict[str, int]
    statistics: Statistics
    erp_grams: sparse.csr_matrix


#: The statistics' tables as :func:`block` keeps them in its connection (name, columns).
STATISTICS_TABLES = {"words": "source INTEGER, tok VARCHAR, df BIGINT",
                "typos": "source INTEGER, ltok VARCHAR, rtok VARCHAR, n BIGINT",
                "dates": "date INTEGER, k VARCHAR, n BIGINT"}


def _tokens(expr: str) -> str:
    """The distinct non-empty words of ``expr`` (a list)."""
    return f"list_distinct(list_filter(string_split({expr}, ' '), lambda t: t <> ''))"


def _sorted_tokens(expr: str) -> str:
    return f"array_to_string(list_sort({_tokens(expr)}), ' ')"


def _name_sources(comparisons: Sequence[Comparison]) -> list[tuple[str, str]]:
    """(label, SQL expression) of every name to block on: each name-typed comparison and, when
    a record's person name is spread over several columns, all of them as one full name (in
    column order; the rules on it only use its words as a set, so the order does not matter)."""
    names = [c for c in comparisons if c.type in NAME_TYPES]
    # an empty name is no name: '' would pair every two records that lack one
    out = [(c.name, f"nullif({sql_ident(c.name)}, '')") for c in names]
    persons = [c for c in names if c.type == "person"]
    if len(persons) >= 2:
        out.append((FULL_NAME, _joined(persons)))
    return out


def _joined(columns: Sequence[Comparison]) -> str:
    """The columns' values joined by a space, empty ones left out (NULL when all are)."""
    parts = ", ".join(f"nullif(CAST({sql_ident(c.name)} AS VARCHAR), '')" for c in columns)
    return f"nullif(concat_ws(' ', {parts}), '')"


def _initials_source(comparisons: Sequence[Comparison]) -> str | None:
    """The name whose word initials the date rules pair with: the person columns when there
    are any (their initials survive a swap or a changed surname), else every name column."""
    names = [c for c in comparisons if c.type in NAME_TYPES]
    persons = [c for c in names if c.type == "person"]
    chosen = persons or names
    return _joined(chosen) if chosen else None


def _typo_keys(label: str, sources: Sequence[tuple[str, str]],
               comparisons: Sequence[Comparison]) -> bool:
    """Whether the name ``label`` gets one-typo keys: not a person column when there is a full
    name, whose two rarest words are those columns' words already (the keys would be the same,
    and they are the rule that joins the most rows)."""
    if label == FULL_NAME or not any(x == FULL_NAME for x, _ in sources):
        return True
    return not any(c.name == label and c.type == "person" for c in comparisons)


@dataclass(frozen=True)
class _ErpSide:
    """How :func:`block` treats the ERP side's tables (:func:`erp_tables`): ``kept``, they are
    given (and stay); else it makes them from ``r`` and, once it no longer needs one, hands it
    to ``keep`` (if any) and drops it, so that it holds no more of them at a time than before
    they were kept."""

    kept: bool = False
    keep: Callable[[duckdb.DuckDBPyConnection, str], None] | None = None

    def done(self, con: duckdb.DuckDBPyConnection, name: str) -> None:
        if self.kept:
            return
        if self.keep is not None:
            self.keep(con, name)
        con.execute(f"DROP TABLE {name}")


def erp_tables(comparisons: Sequence[Comparison]) -> list[str]:
    """The tables :func:`block` derives from the ERP records alone, under given statistics
    (besides their 3-gram rows, :class:`Blocked`): their number and ``rid`` span
    (``erp_size``), per name source ``i`` their words (``erp_tok_i``), two rarest words
    (``erp_rare_i``) and the pair of them with its holders (``erp_pair_i``), per date ``j``
    its keys (``erp_date_j``), and per key rule ``i`` (by its place in :func:`rules`) each
    record's key with its holders (``erp_key_i``)."""
    out = ["erp_size"]
    for i, _ in enumerate(_name_sources(comparisons)):
        out += [f"erp_tok_{i}", f"erp_rare_{i}", f"erp_pair_{i}"]
    out += [f"erp_date_{j}" for j, _ in enumerate(c for c in comparisons if c.type == "date")]
    out += [f"erp_key_{i}" for i, rule in enumerate(rules(comparisons)) if not rule.source]
    return out


def rules(comparisons: Sequence[Comparison]) -> list[Rule]:
    """The blocking rules that the comparisons' types allow, and the type-agnostic 3-gram
    generator (always)."""
    out: list[Rule] = []
    postcodes = [c for c in comparisons if c.type == "postcode"][:1]
    cities = [c for c in comparisons if c.type == "city"][:1]
    sources = _name_sources(comparisons)
    for i, (label, f) in enumerate(sources):
        full = label == FULL_NAME
        out.append(Rule(f"{label}: exact", 4.0, _sorted_tokens(f) if full else f))
        out.append(Rule(f"{label}: rare token", 2.0, source=f"rare1_{i}"))
        out.append(Rule(f"{label}: two rarest tokens", 3.0, source=f"rare2_{i}"))
        if _typo_keys(label, sources, comparisons):
            out.append(Rule(f"{label}: rare token, one typo", 1.5, source=f"typo_{i}"))
        if not full:
            prefix = f"substr(replace({f}, ' ', ''), 1, 6)"
            out.append(Rule(f"{label}: prefix", 1.0, prefix))
            for p in postcodes:
                key = f"{sql_ident(p.name)} || '|' || string_split({f}, ' ')[1]"
                out.append(Rule(f"{p.name} + first token", 2.0, key))
        for city in cities:
            key = f"{sql_ident(city.name)} || '|' || {_sorted_tokens(f)}"
            out.append(Rule(f"{city.name} + sorted tokens", 2.0, key))
    for j, c in enumerate(x for x in comparisons if x.type == "date"):
        out.append(Rule(f"{c.name}: exact", 3.0, sql_ident(c.name)))
        out.append(Rule(f"{c.name}: two parts + initial", 1.5, source=f"date_{j}"))
    for c in comparisons:
        if c.type in KEY_TYPES:
            key = sql_ident(c.name + "__key")
            out.append(Rule(f"{c.name}: exact", 4.0, key))
        if c.type == "email":
            dom = sql_ident(c.name + "__dom")
            out.append(Rule(f"{c.name}: domain", 1.5, dom))
    out.append(Rule("all columns: 3-gram cosine", NGRAM_WEIGHT, source="ngram"))
    return out


def _shared_keys(con: duckdb.DuckDBPyConnection, name: str, lkeys: str, rkeys: str,
                 cap: int, budget: int, date: int, learn: bool) -> None:
    """Table ``name`` of the pairs whose records share a key of ``lkeys`` / ``rkeys`` (tables
    of distinct (rid, k), several keys per record) that the statistics of date ``date`` kept
    (``learn``: kept here, into ``stat_dates``); ``s`` is 1 / the ERP holders of the rarest
    key the pair shares.

    With several keys per record, the per-key cap alone would let the rule join that many
    times :data:`ROW_BUDGET` rows, and the costly keys are the ones held by many records on
    both sides (the one-letter deletions of a common first name), which only re-find pairs
    that agree on a common word anyway. So, as for the 3-gram generator, keys are kept from
    the fewest joined pairs (CRM holders x ERP holders) up while their total stays within
    ``budget``, and one held by more than ``cap`` ERP records is skipped as in every rule."""
    if learn:
        con.execute(f"""INSERT INTO stat_dates
            WITH lc AS (SELECT k, count(*) AS a FROM {lkeys} GROUP BY k),
                 rc AS (SELECT k, count(*) AS n FROM {rkeys} GROUP BY k HAVING count(*) <= {cap})
            SELECT {date}, k, n FROM (
                SELECT k, n, sum(a * n) OVER (ORDER BY a * n, k ROWS UNBOUNDED PRECEDING) AS c
                FROM lc JOIN rc USING (k)) WHERE c <= {budget}""")  # noqa: S608 - own temp tables (callers' constants); date/cap/budget ints
    con.execute(f"""CREATE OR REPLACE TEMP TABLE {name} AS
        WITH ok AS (SELECT k, n FROM stat_dates WHERE date = {date})
        SELECT a.rid AS lrid, b.rid AS rrid, 1.0 / min(ok.n) AS s
        FROM {lkeys} a JOIN ok USING (k) JOIN {rkeys} b USING (k) GROUP BY ALL""")  # noqa: S608 - own temp tables (callers' constants); date an int


def _token_tables(con: duckdb.DuckDBPyConnection, f: str, i: int, cap: int, *,
                  typo_budget: int = 0, learn: bool, erp: _ErpSide) -> None:
    """``rare1_i`` (each record's rarest token against all tokens of the other side),
    ``rare2_i`` (its two rarest, joined) and, with a ``typo_budget``, ``typo_i`` (see
    :func:`_typo_table`) for the name expression ``f``. How rare a word is: its holders on
    both sides, from the statistics (``learn``: counted here, into ``stat_words``); a word
    they never saw is never a record's rarest. The ERP side's tables (:func:`erp_tables`)
    are made from ``r``, unless ``erp`` has them (see :class:`_ErpSide`)."""
    con.execute(f"""CREATE OR REPLACE TEMP TABLE ltok AS
        SELECT rid, unnest({_tokens(f)}[1:{MAX_TOKENS}]) AS tok
        FROM l WHERE {f} IS NOT NULL AND {f} <> ''""")  # noqa: S608 - name expr from comparisons via sql_ident
    if not erp.kept:
        con.execute(f"""CREATE OR REPLACE TEMP TABLE erp_tok_{i} AS
            SELECT rid, unnest({_tokens(f)}[1:{MAX_TOKENS}]) AS tok
            FROM r WHERE {f} IS NOT NULL AND {f} <> ''""")  # noqa: S608 - i an int; name expr from comparisons via sql_ident
    if learn:
        con.execute(f"""INSERT INTO stat_words SELECT {i}, tok, count(*) FROM (
            SELECT tok FROM ltok UNION ALL SELECT tok FROM erp_tok_{i}) GROUP BY tok""")  # noqa: S608 - i an int
    con.execute(f"CREATE OR REPLACE TEMP TABLE tokdf AS "  # noqa: S608 - i an int
                f"SELECT tok, df FROM stat_words WHERE source = {i}")
    sides = [("ltok", "lrare")] + ([] if erp.kept else [(f"erp_tok_{i}", f"erp_rare_{i}")])
    for tokens, rare in sides:
        con.execute(f"""CREATE OR REPLACE TEMP TABLE {rare} AS
            SELECT rid, tok, df, row_number() OVER (PARTITION BY rid ORDER BY df, tok) AS k
            FROM {tokens} JOIN tokdf USING (tok) QUALIFY k <= 2""")  # noqa: S608 - own temp tables
    # rare1: a record's rarest token against every token of the other side, both ways.
    con.execute(f"""CREATE OR REPLACE TEMP TABLE rare1_{i} AS
        SELECT lrid, rrid, 1.0 / min(n) AS s FROM (
            SELECT a.rid AS lrid, b.rid AS rrid, a.df AS n FROM lrare a
            JOIN erp_tok_{i} b USING (tok) WHERE a.k = 1 AND a.df <= {cap}
            UNION ALL
            SELECT b.rid, a.rid, a.df FROM erp_rare_{i} a JOIN ltok b USING (tok)
            WHERE a.k = 1 AND a.df <= {cap})
        GROUP BY lrid, rrid""")  # noqa: S608 - own temp tables; i and cap ints
    con.execute("""CREATE OR REPLACE TEMP TABLE lpair AS
        SELECT rid, min(tok) || ' ' || max(tok) AS k FROM lrare
        GROUP BY rid HAVING count(*) = 2""")
    if not erp.kept:  # each ERP record's two rarest, with their holders (cap at most)
        con.execute(f"""CREATE OR REPLACE TEMP TABLE erp_pair_{i} AS
            WITH p AS (SELECT rid, min(tok) || ' ' || max(tok) AS k FROM erp_rare_{i}
                       GROUP BY rid HAVING count(*) = 2)
            SELECT rid, k, n FROM p JOIN (SELECT k, count(*) AS n FROM p GROUP BY k
                                          HAVING count(*) <= {cap}) USING (k)""")  # noqa: S608 - own temp tables; i and cap ints
    con.execute(f"""CREATE OR REPLACE TEMP TABLE rare2_{i} AS
        SELECT a.rid AS lrid, b.rid AS rrid, 1.0 / b.n AS s FROM lpair a
        JOIN erp_pair_{i} b USING (k)""")  # noqa: S608 - own temp tables; i an int
    if typo_budget:
        _typo_table(con, i, cap, typo_budget, learn)
    for t in ("ltok", "tokdf", "lrare", "lpair"):
        con.execute(f"DROP TABLE {t}")
    for t in (f"erp_tok_{i}", f"erp_rare_{i}", f"erp_pair_{i}"):
        erp.done(con, t)


def _typo_table(con: duckdb.DuckDBPyConnection, i: int, cap: int, budget: int,
                learn: bool) -> None:
    """``typo_i``: pairs where one of a record's two rarest tokens is one typo away from one
    of the other record's two rarest (tables ``lrare`` / ``erp_rare_i``).

    Mechanism, a deletion neighbourhood: a token and each of its one-letter deletions
    ("hansen" -> "ansen", "hnsen", ..., "hanse"). Two words one substitution, insertion,
    deletion or swap of neighbours apart share one of them ("hansen"/"hanson" both give
    "hansn"; "allen"/"alen": "alen"), so one typo in a surname no longer loses the pair, and
    unlike a prefix or a phonetic code this holds wherever the typo is and in any language.

    Done on distinct words, not records (a word's deletions once, however many records hold
    it), then word pairs back to records. Equal words are left out: rare1 already pairs
    those. A word pair joins (CRM holders x ERP holders) records; the pairs are kept from the
    fewest up while their total stays within ``budget`` (the costly ones pair two common
    words, "hansen"/"hanssen": namesakes more than typos, as a slip is one record's), and an
    ERP word held by more than ``cap`` records is skipped as in every rule. The word pairs kept
    are the statistics' (``learn``: chosen here, into ``stat_typos``)."""
    if learn:
        _learn_typos(con, i, cap, budget)
    con.execute(f"""CREATE OR REPLACE TEMP TABLE typo_{i} AS
        WITH ok AS (SELECT ltok, rtok, n FROM stat_typos WHERE source = {i})
        SELECT a.rid AS lrid, b.rid AS rrid, 1.0 / min(ok.n) AS s
        FROM lrare a JOIN ok ON a.tok = ok.ltok JOIN erp_rare_{i} b ON b.tok = ok.rtok
        GROUP BY ALL""")  # noqa: S608 - own temp tables; i an int


def _learn_typos(con: duckdb.DuckDBPyConnection, i: int, cap: int, budget: int) -> None:
    """The one-typo word pairs of name source ``i`` within ``budget`` (see
    :func:`_typo_table`), into ``stat_typos``."""
    for side, rare in (("l", "lrare"), ("r", f"erp_rare_{i}")):
        con.execute(f"""CREATE OR REPLACE TEMP TABLE {side}vocab AS
            SELECT tok, count(*) AS a FROM {rare} WHERE length(tok) >= {MIN_TYPO_LENGTH}
            GROUP BY tok""")  # noqa: S608 - side l/r and own temp tables; constant int
        con.execute(f"""CREATE OR REPLACE TEMP TABLE {side}del AS
            SELECT tok, tok AS k FROM {side}vocab
            UNION
            SELECT tok, substr(tok, 1, p - 1) || substr(tok, p + 1) FROM (
                SELECT tok, unnest(range(1, length(tok) + 1)) AS p FROM {side}vocab)""")  # noqa: S608 - side l/r and own temp tables
    con.execute(f"""INSERT INTO stat_typos
        WITH near AS (SELECT DISTINCT a.tok AS ltok, b.tok AS rtok FROM ldel a JOIN rdel b
                      USING (k) WHERE a.tok <> b.tok)
        SELECT {i}, ltok, rtok, rv.a AS n FROM near
        JOIN lvocab lv ON lv.tok = near.ltok JOIN rvocab rv ON rv.tok = near.rtok
        WHERE rv.a <= {cap}
        QUALIFY sum(lv.a * rv.a) OVER (ORDER BY lv.a * rv.a, ltok, rtok
                                       ROWS UNBOUNDED PRECEDING) <= {budget}""")  # noqa: S608 - own temp tables; i, cap, budget ints
    for t in ("lvocab", "rvocab", "ldel", "rdel"):
        con.execute(f"DROP TABLE {t}")


def _date_table(con: duckdb.DuckDBPyConnection, c: Comparison, initials: str | None, j: int,
                cap: int, budget: int, learn: bool, erp: _ErpSide) -> None:
    """``date_j``: pairs whose dates agree on two of year, month and day (or have day and
    month swapped) and whose names share a word initial.

    Why: a date keyed in wrong differs in one part, and a date alone is rare enough among
    persons, but year + month is shared by hundreds of records; the initial of any word of the
    name (a set, so a swap or a changed surname keeps the first name's) divides that by about
    the number of distinct initials, which makes the key rare enough to block on. Keys are
    kept from the fewest joined pairs up within ``budget`` (:func:`_shared_keys`), so where
    they are still too common (year + month among a million persons) only the rarest count."""
    d = sql_ident(c.name)
    init = (f"list_distinct(list_transform({_tokens(initials)}, lambda t: t[1]))"
            if initials else "['']")
    y, m, dd = (f"substr(CAST({d} AS VARCHAR), {a}, {b})" for a, b in ((1, 4), (6, 2), (9, 2)))
    parts = (f"[{y} || '-' || {m} || '-?', {y} || '-?-' || {dd}, '?-' || {m} || '-' || {dd}, "
             f"{y} || '~' || least({m}, {dd}) || greatest({m}, {dd})]")
    for side, table in (("l", "ldate"), *(() if erp.kept else (("r", f"erp_date_{j}"),))):
        con.execute(f"""CREATE OR REPLACE TEMP TABLE {table} AS
            SELECT DISTINCT rid, p || '|' || unnest(i) AS k FROM (
                SELECT rid, unnest({parts}) AS p,
                       if(coalesce(len({init}), 0) = 0, [''], {init}) AS i FROM {side}
                WHERE length(CAST({d} AS VARCHAR)) = 10)""")  # noqa: S608 - side l/r; date column via sql_ident; own temp tables
    _shared_keys(con, f"date_{j}", "ldate", f"erp_date_{j}", cap, budget, j, learn)
    con.execute("DROP TABLE ldate")
    erp.done(con, f"erp_date_{j}")


#: The number of distinct 3-gram codes; one more code, ``_NO_GRAM``, marks a byte where no gram
#: starts (it has weight 0, so it needs no mask of its own).
GRAM_CODES = 1 << 3 * _GRAM_BITS
_NO_GRAM = GRAM_CODES


#: Bytes of text turned into gram codes at a time: the codes of a whole side would take four
#: bytes per byte of text (6 GB per side at 10,000,000 records); a chunk keeps them in a few
#: tens of megabytes, reused, whatever the size.
GRAM_CHUNK = 1 << 24


@dataclass(frozen=True)
class _Text:
    """One side's joined text as Arrow holds it: its UTF-8 bytes and each value's offsets."""

    rid: np.ndarray
    data: np.ndarray  # uint8, a view of the Arrow buffer
    offsets: np.ndarray  # int64, len(rid) + 1, from 0

    @classmethod
    def of(cls, rid: np.ndarray, text: pa.ChunkedArray) -> _Text:
        arr = text.combine_chunks().cast(pa.large_binary())
        bufs = arr.buffers()
        offsets = np.frombuffer(bufs[1], dtype=np.int64)[arr.offset:arr.offset + len(arr) + 1]
        data = (np.frombuffer(bufs[2], dtype=np.uint8)[offsets[0]:offsets[-1]]
                if bufs[2] is not None else np.zeros(0, dtype=np.uint8))
        return cls(rid, data, offsets - offsets[0])

    def chunks(self) -> Iterator[tuple[int, int, np.ndarray]]:
        """``(first value, end value, gram codes of their bytes)`` over runs of whole values
        of about :data:`GRAM_CHUNK` bytes (a value longer than that is a run of its own)."""
        n, v = len(self.offsets) - 1, 0
        while v < n:
            w = int(np.searchsorted(self.offsets, self.offsets[v] + GRAM_CHUNK, side="right")) - 1
            w = min(max(w, v + 1), n)
            lo, hi = int(self.offsets[v]), int(self.offsets[w])
            yield v, w, _gram_codes(self.data[lo:hi], self.offsets[v:w + 1] - lo)
            v = w


def _gram_codes(data: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """The 3-gram code starting at every byte of ``data`` (byte classes, see
    :data:`_GRAM_BITS`), ``_NO_GRAM`` where none starts (the last two bytes of a value): all in
    numpy, nothing per record."""
    codes = np.empty(len(data), dtype=np.int32)  # every byte is written below: no fill pass
    if len(data) < 3:
        codes[:] = _NO_GRAM
        return codes
    sym = np.frombuffer(data.tobytes().translate(_CLASS_TABLE), dtype=np.uint8)
    codes[-2:] = _NO_GRAM
    head = codes[:-2]
    # in place, Horner-wise: no temporary as large as the text's bytes times four
    head[:] = sym[:-2]
    head <<= _GRAM_BITS
    np.bitwise_or(head, sym[1:-1], out=head)
    head <<= _GRAM_BITS
    np.bitwise_or(head, sym[2:], out=head)
    for back in (1, 2):  # a gram must not run into the next value
        ends = offsets[1:] - back
        codes[ends[ends >= offsets[:-1]]] = _NO_GRAM
    return codes


def _gram_counts(text: _Text) -> np.ndarray:
    """Occurrences of each gram code in one side's text (``_NO_GRAM`` left out). Each chunk's
    codes are cast to int64 first: numpy's bincount of an int32 array is ten times slower."""
    occ = np.zeros(GRAM_CODES + 1, dtype=np.int64)
    for _, _, codes in text.chunks():
        occ += np.bincount(codes.astype(np.int64), minlength=GRAM_CODES + 1)
    return occ[:GRAM_CODES]


def _gram_matrix(text: _Text, weight: np.ndarray) -> sparse.csr_matrix:
    """Rows of L2-normalised ``weight`` per distinct gram, over the grams with a weight."""
    wanted = weight > 0
    cols, per_value = [], np.zeros(len(text.offsets) - 1, dtype=np.int64)
    for v, w, codes in text.chunks():
        # the kept grams' positions (a small share of all bytes) and how many each value holds
        at = np.flatnonzero(wanted[codes])
        cols.append(codes[at])
        per_value[v:w] = np.diff(np.searchsorted(at, text.offsets[v:w + 1] - text.offsets[v]))
    indptr = np.concatenate([[0], np.cumsum(per_value)])
    col = np.concatenate(cols) if cols else np.zeros(0, dtype=np.int32)
    m = sparse.csr_matrix((np.ones(len(col), dtype=np.float32), col, indptr),
                          shape=(len(per_value), GRAM_CODES))
    m.sum_duplicates()  # counts: the term frequency
    m.data *= weight[m.indices]
    norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).ravel())
    m.data /= np.repeat(np.where(norms > 0, norms, 1), np.diff(m.indptr)).astype(np.float32)
    return m


def _ngram_pairs(con: duckdb.DuckDBPyConnection, comparisons: Sequence[Comparison], k: int,
                 budget: int, weight: np.ndarray | None = None,
                 erp_grams: sparse.csr_matrix | None = None
                 ) -> tuple[pd.DataFrame, np.ndarray, sparse.csr_matrix]:
    """Each CRM record's ``k`` nearest ERP records by the cosine of TF-IDF weighted character
    3-grams of all its compared values joined, whatever their types (``lrid, rrid, s``), each
    gram's ``weight`` (given: the statistics'; else learnt here) and the ERP side's rows of
    weighted grams (one per ERP record, in ``rid`` order; given with the ``weight`` they were
    built with, the ERP text is not read).

    Frequent grams are dropped by the same budget as a key rule: a gram held by ``a`` CRM and
    ``b`` ERP records is a key that joins ``a * b`` pairs, so grams are kept from the rarest
    such product up while their total stays within ``budget`` (a gram on one side only joins
    nothing and is dropped too). That bounds the sparse product's work at any size, and what
    it drops ("as ", " ga") is what TF-IDF would weigh near zero anyway. ``a`` and ``b`` are
    counted as occurrences (a gram twice in a record counts twice): an upper bound of the
    records, so the bound holds, and counted before any per-record work, so the common grams
    are gone before the matrices are built."""
    learn = weight is None
    if weight is None:
        weight = np.zeros(GRAM_CODES + 1, dtype=np.float32)
    text = "lower(" + _joined(comparisons) + ")" if comparisons else "''"
    sides = []
    for side in ("l", "r") if learn or erp_grams is None else ("l",):
        # in rid order: the matrices' row and column order breaks ties among equal cosines
        t = con.sql(f"SELECT rid, coalesce({text}, '') AS s FROM {side} ORDER BY rid"  # noqa: S608 - side l/r; columns via sql_ident in _joined()
                    ).to_arrow_table()
        sides.append(_Text.of(t.column("rid").to_numpy(), t.column("s")))
    if learn:
        occ_a, occ_b = (_gram_counts(x) for x in sides)
        joined = occ_a * occ_b
        order = np.argsort(joined, kind="stable")
        kept = order[(joined[order] > 0) & (np.cumsum(joined[order]) <= budget)]
        n = sum(len(x.rid) for x in sides)
        # idf; a gram in nearly every record still weighs a little (it was kept: it is rare)
        weight[kept] = np.maximum(np.log(n / (occ_a[kept] + occ_b[kept])), 1e-3)
    a = _gram_matrix(sides[0], weight)
    if erp_grams is None or learn:
        # the ERP records are numbered 0.. in order (the whole side, see block)
        erp_grams = _gram_matrix(sides[1], weight)
    if not a.nnz or not erp_grams.nnz:
        return pd.DataFrame({"lrid": np.zeros(0, np.int64), "rrid": np.zeros(0, np.int64),
                             "s": np.zeros(0)}), weight, erp_grams
    top = sp_matmul_topn(a, erp_grams.T.tocsr(), top_n=k, threshold=0.0,
                         n_threads=os.cpu_count() or 1)
    rows = np.repeat(np.arange(top.shape[0]), np.diff(top.indptr))
    return pd.DataFrame({"lrid": sides[0].rid[rows], "rrid": top.indices.astype(np.int64),
                         "s": top.data.astype(np.float64)}), weight, erp_grams


def table(con: duckdb.DuckDBPyConnection, name: str, frame: pd.DataFrame) -> None:
    """Copy ``frame`` into ``con`` as the temporary table ``name`` (``l`` or ``r``): the
    rules scan it many times."""
    con.register(f"{name}_df", frame)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM {name}_df")  # noqa: S608 - l or r
    con.unregister(f"{name}_df")


@contextlib.contextmanager
def connect(left: pd.DataFrame, right: pd.DataFrame) -> Iterator[duckdb.DuckDBPyConnection]:
    """A new in-memory DuckDB holding the two sides' features as the tables ``l`` and ``r``
    that :func:`block` reads (copied in: the rules scan them many times), closed and its
    spill folder removed on exit.

    Its memory is capped at :data:`MEMORY` and what does not fit spills to a temporary
    folder. Why: DuckDB's default cap is 80% of the machine, so it kept every rule's rows and
    the final aggregation in memory (3.3 GB on top of the engine's frames at 1,000,000 per
    side); capped, the aggregation streams through disk, in the same time on that run. Rows
    come back in no set order unless a query asks for one."""
    with tempfile.TemporaryDirectory(prefix="erpdata-blocking-") as spill:
        # no insertion order kept: what DuckDB needs to spill a large aggregation or window
        # (at 2,000,000 per side the final ranking ran out of 1 GB with it), and every read
        # that matters here says its order
        con = open_duckdb(config={"memory_limit": MEMORY, "temp_directory": spill,
                                  "preserve_insertion_order": False})
        try:
            table(con, "l", left)
            table(con, "r", right)
            yield con
        finally:
            close_database(con)


def block(
    con: duckdb.DuckDBPyConnection, comparisons: Sequence[Comparison], *, per_record: int,
    min_share: float = MIN_SHARE, cross_product_below: int = CROSS_PRODUCT_BELOW,
    progress: Progress | None = None, statistics: Statistics | None = None,
    erp_grams: sparse.csr_matrix | None = None, erp_kept: bool = False,
    keep_erp: Callable[[duckdb.DuckDBPyConnection, str], None] | None = None,
) -> Blocked:
    """Fill ``pairs(lrid, rrid, score)`` from tables ``l`` and ``r`` (``r`` the whole ERP
    side, its ``rid`` numbering it from 0); return what :class:`Blocked` says. With
    ``statistics`` (``l`` may then be some of the CRM records only: each gets the candidates
    it gets among all), and with the ``erp_grams`` returned by a run with them on these ERP
    records, the ERP text is not read again.

    When ``|l| x |r|`` is below ``cross_product_below`` every pair is a candidate (blocking
    exists for scale, and small tables can afford to miss nothing); the rule score still ranks
    them. Otherwise each CRM record keeps its ``per_record`` best-scored candidates, and when
    those could be more than :data:`SHARE_CUT_ABOVE`, only those scoring at least ``min_share``
    of its best (0 keeps all ``per_record``: many-to-many data, where a record's second partner
    may score well below its first). The 3-gram generator offers each CRM record its
    ``per_record`` nearest ERP records, so that it alone could fill the record's quota.
    ``progress`` hears of each step (a name's token keys, a date's keys, the 3-gram
    generator, each rule's join, the final ranking) with the share of the steps done.

    What blocking derives from the ERP records alone (their words, rarest words, date keys
    and rule keys, each key with its holders; :func:`erp_tables`) is made from ``r`` as
    tables of their own; ``keep_erp`` is handed each (this connection and its name) once
    blocking no longer needs it, for the caller to keep, before it is dropped.
    ``erp_kept``: the connection holds them already, made from these ERP records with these
    ``statistics`` and ``erp_grams`` (both then required), and there is no ``r`` to read: a
    run after a CRM re-load blocks its changed records without reading the ERP side.
    """
    report = progress or (lambda _label, _fraction: None)
    if erp_kept and (statistics is None or erp_grams is None):
        raise ValueError("the ERP side's tables are of given statistics and 3-gram rows")
    # fetchall, not fetchone: a result left unfinished would block the Arrow read below
    ((n_l,),) = con.execute("SELECT count(*) FROM l").fetchall()
    if not erp_kept:
        con.execute("CREATE OR REPLACE TEMP TABLE erp_size AS "
                    "SELECT count(*) AS n, coalesce(max(rid), 0) + 1 AS span FROM r")
    ((n_r, span),) = con.execute("SELECT n, span FROM erp_size").fetchall()
    erp = _ErpSide(erp_kept, keep_erp)
    learn = statistics is None
    if statistics is None:
        if n_l * per_record <= SHARE_CUT_ABOVE:
            min_share = 0.0
        cap = max(MIN_CAP, min(5000, ROW_BUDGET // max(n_l, 1)))
        # Rules with many keys per record (one-typo words, date parts) may join as many rows
        # as the candidates kept in the end: their keys are kept from the fewest joined pairs
        # up (see _shared_keys), so they add what is rare and cost no more than the quota.
        quota = max(n_l, 1) * per_record
        for name, columns in STATISTICS_TABLES.items():
            con.execute(f"CREATE OR REPLACE TEMP TABLE stat_{name} ({columns})")
    else:
        cap, quota, min_share = statistics.cap, statistics.quota, statistics.min_share
        for name in STATISTICS_TABLES:
            con.register(f"stat_{name}_arrow", getattr(statistics, name))
            con.execute(f"CREATE OR REPLACE TEMP TABLE stat_{name} AS "  # noqa: S608 - name from STATISTICS_TABLES
                        f"SELECT * FROM stat_{name}_arrow")
            con.unregister(f"stat_{name}_arrow")
    selects: list[str] = []
    counts: dict[str, int] = {}
    sources = _name_sources(comparisons)
    dates = [x for x in comparisons if x.type == "date"]
    all_rules = rules(comparisons)
    steps = len(sources) + len(dates) + len(all_rules) + 2
    done = iter(range(steps))

    def step(label: str) -> None:
        report(label, next(done) / steps)

    for i, (label, f) in enumerate(sources):
        step(f"the words of {label}")
        typo = _typo_keys(label, sources, comparisons)
        _token_tables(con, f, i, cap, typo_budget=quota if typo else 0, learn=learn, erp=erp)
    initials = _initials_source(comparisons)
    for j, c in enumerate(dates):
        step(f"the parts of {c.name}")
        _date_table(con, c, initials, j, cap, quota, learn, erp)
    step("3-grams of all columns")
    if erp_grams is not None and not (n_r == span == erp_grams.shape[0]):
        raise ValueError("the ERP records' 3-gram rows are of other records")
    near, grams, erp_grams = _ngram_pairs(con, comparisons, per_record, ROW_BUDGET,
                                          None if statistics is None else statistics.grams,
                                          erp_grams)
    if statistics is None:
        statistics = Statistics(cap, quota, min_share, *(
            con.table(f"stat_{name}").to_arrow_table() for name in STATISTICS_TABLES), grams)
    for name in STATISTICS_TABLES:
        con.execute(f"DROP TABLE stat_{name}")
    con.register("ngram_df", near)
    con.execute("CREATE OR REPLACE TEMP TABLE ngram AS SELECT * FROM ngram_df")
    con.unregister("ngram_df")
    tables: set[str] = set()
    for i, rule in enumerate(all_rules):
        step(rule.name)
        if rule.source:  # its table's rows, weighted as they are read (not copied)
            tables.add(rule.source)
            rows, w = rule.source, f"{rule.weight} * s"
        else:
            # An empty key (a blank code, a blank name) is no key: it would pair all blanks.
            # Left out of both sides, and from keys computed once per record: DuckDB inlines
            # a subquery's key into the filter above it, which computed the city + sorted
            # words key three times per record (1.6 s of 10,000 CRM records blocked against
            # 1,000,000; 0.5 s once). The ERP side's keys come with their holders (cap at
            # most), counted before the blank ones are left out.
            if not erp_kept:
                con.execute(f"""CREATE OR REPLACE TEMP TABLE erp_key_{i} AS
                    WITH rk AS MATERIALIZED (SELECT rid, {rule.key} AS k FROM r)
                    SELECT rid, k, n FROM rk JOIN (SELECT k, count(*) AS n FROM rk GROUP BY k
                                                   HAVING count(*) <= {cap}) USING (k)
                    WHERE CAST(k AS VARCHAR) <> ''""")  # noqa: S608 - rule.key built by rules() from sql_ident names; i and cap ints
            sql = f"""WITH lkeys AS MATERIALIZED (SELECT rid, {rule.key} AS k FROM l),
                       lk AS (SELECT * FROM lkeys
                              WHERE k NOT NULL AND CAST(k AS VARCHAR) <> '')
                  SELECT lk.rid AS lrid, rk.rid AS rrid, {rule.weight} / rk.n AS w
                  FROM lk JOIN erp_key_{i} rk USING (k)"""  # noqa: S608 - rule.key built by rules() from sql_ident names
            con.execute(f"CREATE OR REPLACE TEMP TABLE rule_{i} AS {sql}")
            erp.done(con, f"erp_key_{i}")
            tables.add(f"rule_{i}")
            rows, w = f"rule_{i}", "w"
        (n,) = con.execute(f"SELECT count(*) FROM {rows}").fetchone() or (0,)  # noqa: S608 - own temp table (a rule's or a source's)
        counts[rule.name] = counts.get(rule.name, 0) + int(n)
        selects.append(f"SELECT lrid * {span} + rrid AS p, {w} AS w FROM {rows}")  # noqa: S608 - own temp table; span an int, weight a float
    step("ranking each record's candidates")
    union = (" UNION ALL ".join(selects) if selects
             else "SELECT 0 AS p, 0.0 AS w LIMIT 0")
    # grouped on one integer per pair (a third faster than on two columns: this aggregation
    # of every rule's rows is the costliest step); rounded: a float sum depends on the order
    # DuckDB adds in, and ties must break the same way (by rrid) in every run
    # kept as a table, and the rules' rows dropped, before ranking: each step then holds
    # only its own operator's memory, and what a temp table holds may spill (at 2,000,000
    # per side, one query doing both ran out of the 1 GB cap now and then)
    con.execute(f"""CREATE OR REPLACE TEMP TABLE scored AS
        SELECT p // {span} AS lrid, p % {span} AS rrid, score FROM (
            SELECT p, round(sum(w), 9) AS score FROM ({union}) GROUP BY p)""")  # noqa: S608 - span an int; union of own rule_<int> selects
    for table in tables:
        con.execute(f"DROP TABLE {table}")
    if n_l * n_r <= cross_product_below:
        con.execute("""CREATE OR REPLACE TEMP TABLE pairs AS
            SELECT l.rid AS lrid, r.rid AS rrid, coalesce(s.score, 0.0) AS score
            FROM l CROSS JOIN r LEFT JOIN scored s ON s.lrid = l.rid AND s.rrid = r.rid""")
    else:
        # the share cut first (a grouped max), so that only the survivors are sorted
        con.execute("CREATE OR REPLACE TEMP TABLE best AS "
                    "SELECT lrid, max(score) AS best FROM scored GROUP BY lrid")
        con.execute(f"""CREATE OR REPLACE TEMP TABLE pairs AS
            SELECT lrid, rrid, score FROM scored JOIN best USING (lrid)
            WHERE score >= {float(min_share)} * best
            QUALIFY row_number() OVER (PARTITION BY lrid ORDER BY score DESC, rrid)
                <= {int(per_record)}""")  # noqa: S608 - own temp tables; min_share float, per_record int
        con.execute("DROP TABLE best")
    con.execute("DROP TABLE scored")
    erp.done(con, "erp_size")
    ((total,),) = con.execute("SELECT count(*) FROM pairs").fetchall()
    counts["candidate pairs"] = int(total)
    return Blocked(counts, statistics, erp_grams)
