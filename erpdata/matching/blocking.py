"""Blocking: which (CRM, ERP) pairs are worth scoring at all, in DuckDB SQL.

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
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import duckdb

from erpdata.matching.spec import KEY_TYPES, NAME_TYPES, Comparison

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


@dataclass(frozen=True)
class Rule:
    """One blocking rule: a SQL key computed the same way on both sides; pairs agree when their
    keys are equal. ``source`` instead names a ready table of (lrid, rrid, n) pairs, ``n``
    being how many records share what the pair agrees on."""

    name: str
    weight: float
    key: str = ""
    source: str = ""


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sorted_tokens(col: str) -> str:
    return f"array_to_string(list_sort(list_distinct(string_split({col}, ' '))), ' ')"


def rules(comparisons: Sequence[Comparison]) -> list[Rule]:
    """The blocking rules that the comparisons' types allow."""
    out: list[Rule] = []
    names = [c for c in comparisons if c.type in NAME_TYPES][:2]
    postcodes = [c for c in comparisons if c.type == "postcode"][:1]
    cities = [c for c in comparisons if c.type == "city"][:1]
    for i, c in enumerate(names):
        f = _q(c.name)
        out.append(Rule(f"{c.name}: exact", 4.0, f))
        out.append(Rule(f"{c.name}: rare token", 2.0, source=f"rare1_{i}"))
        out.append(Rule(f"{c.name}: two rarest tokens", 3.0, source=f"rare2_{i}"))
        prefix = f"substr(replace({f}, ' ', ''), 1, 6)"
        out.append(Rule(f"{c.name}: prefix", 1.0, prefix))
        for p in postcodes:
            key = f"{_q(p.name)} || '|' || string_split({f}, ' ')[1]"
            out.append(Rule(f"{p.name} + first token", 2.0, key))
        for city in cities:
            key = f"{_q(city.name)} || '|' || {_sorted_tokens(f)}"
            out.append(Rule(f"{city.name} + sorted tokens", 2.0, key))
    for c in comparisons:
        if c.type in KEY_TYPES:
            key = _q(c.name + "__key")
            out.append(Rule(f"{c.name}: exact", 4.0, key))
        if c.type == "email":
            dom = _q(c.name + "__dom")
            out.append(Rule(f"{c.name}: domain", 1.5, dom))
    return out


def _token_tables(con: duckdb.DuckDBPyConnection, c: Comparison, i: int, cap: int) -> None:
    """``rare1_i`` (each record's rarest token) and ``rare2_i`` (its two rarest, joined)."""
    f = _q(c.name)
    for side in ("l", "r"):
        con.execute(f"""CREATE OR REPLACE TEMP TABLE {side}tok AS
            SELECT rid, unnest(list_distinct(string_split({f}, ' '))[1:{MAX_TOKENS}]) AS tok
            FROM {side} WHERE {f} IS NOT NULL AND {f} <> ''""")
    con.execute("""CREATE OR REPLACE TEMP TABLE tokdf AS
        SELECT tok, count(*) AS df FROM (SELECT tok FROM ltok UNION ALL SELECT tok FROM rtok)
        GROUP BY tok""")
    for side in ("l", "r"):
        con.execute(f"""CREATE OR REPLACE TEMP TABLE {side}rare AS
            SELECT rid, tok, df, row_number() OVER (PARTITION BY rid ORDER BY df, tok) AS k
            FROM {side}tok JOIN tokdf USING (tok) QUALIFY k <= 2""")
    # rare1: a record's rarest token against every token of the other side, both ways.
    con.execute(f"""CREATE OR REPLACE TEMP TABLE rare1_{i} AS
        SELECT lrid, rrid, min(n) AS n FROM (
            SELECT a.rid AS lrid, b.rid AS rrid, a.df AS n FROM lrare a JOIN rtok b USING (tok)
            WHERE a.k = 1 AND a.df <= {cap}
            UNION ALL
            SELECT b.rid, a.rid, a.df FROM rrare a JOIN ltok b USING (tok)
            WHERE a.k = 1 AND a.df <= {cap})
        GROUP BY lrid, rrid""")
    for side in ("l", "r"):
        con.execute(f"""CREATE OR REPLACE TEMP TABLE {side}pair AS
            SELECT rid, min(tok) || ' ' || max(tok) AS key FROM {side}rare
            GROUP BY rid HAVING count(*) = 2""")
    con.execute(f"""CREATE OR REPLACE TEMP TABLE rare2_{i} AS
        WITH ok AS (SELECT key, count(*) AS n FROM rpair GROUP BY key HAVING count(*) <= {cap})
        SELECT a.rid AS lrid, b.rid AS rrid, ok.n FROM lpair a JOIN ok USING (key)
        JOIN rpair b USING (key)""")
    for t in ("ltok", "rtok", "tokdf", "lrare", "rrare", "lpair", "rpair"):
        con.execute(f"DROP TABLE {t}")


def block(
    con: duckdb.DuckDBPyConnection, comparisons: Sequence[Comparison], *, per_record: int,
    min_share: float = MIN_SHARE, cross_product_below: int = 2_000_000,
) -> dict[str, int]:
    """Fill ``pairs(lrid, rrid, score)`` from tables ``l`` and ``r``; return rows per rule.

    When ``|l| x |r|`` is below ``cross_product_below`` every pair is a candidate (blocking
    exists for scale, and small tables can afford to miss nothing); the rule score still ranks
    them. Otherwise each CRM record keeps its ``per_record`` best-scored candidates, and when
    those could be more than :data:`SHARE_CUT_ABOVE`, only those scoring at least ``min_share``
    of its best (0 keeps all ``per_record``: many-to-many data, where a record's second partner
    may score well below its first).
    """
    (n_l,) = con.execute("SELECT count(*) FROM l").fetchone() or (0,)
    (n_r,) = con.execute("SELECT count(*) FROM r").fetchone() or (0,)
    if n_l * per_record <= SHARE_CUT_ABOVE:
        min_share = 0.0
    cap = max(MIN_CAP, min(5000, ROW_BUDGET // max(n_l, 1)))
    selects: list[str] = []
    counts: dict[str, int] = {}
    for i, c in enumerate([x for x in comparisons if x.type in NAME_TYPES][:2]):
        _token_tables(con, c, i, cap)
    for i, rule in enumerate(rules(comparisons)):
        if rule.source:
            sql = f"SELECT lrid, rrid, {rule.weight} / n AS w FROM {rule.source}"
        else:
            # the key is computed once per record (not again for the filter)
            sql = f"""WITH lk AS (SELECT * FROM (SELECT rid, {rule.key} AS k FROM l)
                                 WHERE k NOT NULL),
                       rk AS (SELECT * FROM (SELECT rid, {rule.key} AS k FROM r)
                                 WHERE k NOT NULL),
                       ok AS (SELECT k, count(*) AS n FROM rk GROUP BY k HAVING count(*) <= {cap})
                  SELECT lk.rid AS lrid, rk.rid AS rrid, {rule.weight} / ok.n AS w
                  FROM lk JOIN ok USING (k) JOIN rk USING (k)"""
        con.execute(f"CREATE OR REPLACE TEMP TABLE rule_{i} AS {sql}")
        (n,) = con.execute(f"SELECT count(*) FROM rule_{i}").fetchone() or (0,)
        counts[rule.name] = counts.get(rule.name, 0) + int(n)
        selects.append(f"SELECT lrid, rrid, w FROM rule_{i}")
    union = (" UNION ALL ".join(selects) if selects
             else "SELECT 0 AS lrid, 0 AS rrid, 0.0 AS w LIMIT 0")
    # rounded: a float sum depends on the order DuckDB adds in, and ties must break the same
    # way (by rrid) in every run
    scored = f"SELECT lrid, rrid, round(sum(w), 9) AS score FROM ({union}) GROUP BY lrid, rrid"
    if n_l * n_r <= cross_product_below:
        con.execute(f"""CREATE OR REPLACE TEMP TABLE pairs AS
            SELECT l.rid AS lrid, r.rid AS rrid, coalesce(s.score, 0.0) AS score
            FROM l CROSS JOIN r LEFT JOIN ({scored}) s ON s.lrid = l.rid AND s.rrid = r.rid""")
    else:
        # the share cut first (a grouped max), so that only the survivors are sorted
        con.execute(f"""CREATE OR REPLACE TEMP TABLE pairs AS
            WITH s AS ({scored}), b AS (SELECT lrid, max(score) AS best FROM s GROUP BY lrid)
            SELECT lrid, rrid, score FROM s JOIN b USING (lrid) WHERE score >= {min_share} * best
            QUALIFY row_number() OVER (PARTITION BY lrid ORDER BY score DESC, rrid)
                <= {per_record}""")
    for i in range(len(selects)):
        con.execute(f"DROP TABLE rule_{i}")
    (total,) = con.execute("SELECT count(*) FROM pairs").fetchone() or (0,)
    counts["candidate pairs"] = int(total)
    return counts
