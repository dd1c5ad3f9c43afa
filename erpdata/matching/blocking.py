"""Blocking: which (CRM, ERP) pairs are worth scoring at all, in DuckDB SQL.

Why several keys: each rule misses some true pairs (a typo in the rarest token, a moved company,
a changed phone), but a true pair rarely escapes all of them. The rules are unioned into one
candidate table, each pair scored by the rules it passed, and each CRM record keeps its best
``cap`` candidates. Keys shared by too many records (a switchboard number, the token "bygg") are
skipped per key, with a limit derived from a budget of joined rows, so that 1,000,000 x 1,000,000
stays bounded while small tables are blocked generously.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import duckdb

from erpdata.matching.spec import KEY_TYPES, NAME_TYPES, Comparison

#: Joined rows the key rules may produce in all, before the per-record cap.
ROW_BUDGET = 40_000_000
MAX_TOKENS = 20


@dataclass(frozen=True)
class Rule:
    """One blocking rule: a SQL key computed the same way on both sides; pairs agree when their
    keys are equal. ``source`` instead names a ready table of (lrid, rrid) pairs."""

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
        SELECT a.rid AS lrid, b.rid AS rrid FROM lrare a JOIN rtok b USING (tok)
        WHERE a.k = 1 AND a.df <= {cap}
        UNION
        SELECT b.rid, a.rid FROM rrare a JOIN ltok b USING (tok)
        WHERE a.k = 1 AND a.df <= {cap}""")
    for side in ("l", "r"):
        con.execute(f"""CREATE OR REPLACE TEMP TABLE {side}pair AS
            SELECT rid, string_agg(tok, ' ' ORDER BY tok) AS key FROM {side}rare
            GROUP BY rid HAVING count(*) = 2""")
    con.execute(f"""CREATE OR REPLACE TEMP TABLE rare2_{i} AS
        SELECT a.rid AS lrid, b.rid AS rrid FROM lpair a JOIN rpair b USING (key)
        WHERE a.key IN (SELECT key FROM rpair GROUP BY key HAVING count(*) <= {cap})""")
    for t in ("ltok", "rtok", "tokdf", "lrare", "rrare", "lpair", "rpair"):
        con.execute(f"DROP TABLE {t}")


def block(
    con: duckdb.DuckDBPyConnection, comparisons: Sequence[Comparison], *, per_record: int,
    cross_product_below: int = 2_000_000,
) -> dict[str, int]:
    """Fill ``pairs(lrid, rrid, score)`` from tables ``l`` and ``r``; return rows per rule.

    When ``|l| x |r|`` is below ``cross_product_below`` every pair is a candidate (blocking
    exists for scale, and small tables can afford to miss nothing); the rule score still ranks
    them. Otherwise each CRM record keeps its ``per_record`` best-scored candidates.
    """
    (n_l,) = con.execute("SELECT count(*) FROM l").fetchone() or (0,)
    (n_r,) = con.execute("SELECT count(*) FROM r").fetchone() or (0,)
    cap = max(50, min(5000, ROW_BUDGET // max(n_l, 1)))
    selects: list[str] = []
    counts: dict[str, int] = {}
    for i, c in enumerate([x for x in comparisons if x.type in NAME_TYPES][:2]):
        _token_tables(con, c, i, cap)
    for i, rule in enumerate(rules(comparisons)):
        if rule.source:
            sql = f"SELECT lrid, rrid FROM {rule.source}"
        else:
            sql = f"""WITH lk AS (SELECT rid, {rule.key} AS k FROM l),
                       rk AS (SELECT rid, {rule.key} AS k FROM r WHERE {rule.key} IS NOT NULL),
                       ok AS (SELECT k FROM rk GROUP BY k HAVING count(*) <= {cap})
                  SELECT lk.rid AS lrid, rk.rid AS rrid FROM lk JOIN rk USING (k)
                  WHERE lk.k IS NOT NULL AND lk.k IN (SELECT k FROM ok)"""
        con.execute(f"CREATE OR REPLACE TEMP TABLE rule_{i} AS {sql}")
        (n,) = con.execute(f"SELECT count(*) FROM rule_{i}").fetchone() or (0,)
        counts[rule.name] = counts.get(rule.name, 0) + int(n)
        selects.append(f"SELECT lrid, rrid, {rule.weight} AS w FROM rule_{i}")
    union = (" UNION ALL ".join(selects) if selects
             else "SELECT 0 AS lrid, 0 AS rrid, 0.0 AS w LIMIT 0")
    scored = f"SELECT lrid, rrid, sum(w) AS score FROM ({union}) GROUP BY lrid, rrid"
    if n_l * n_r <= cross_product_below:
        con.execute(f"""CREATE OR REPLACE TEMP TABLE pairs AS
            SELECT l.rid AS lrid, r.rid AS rrid, coalesce(s.score, 0.0) AS score
            FROM l CROSS JOIN r LEFT JOIN ({scored}) s ON s.lrid = l.rid AND s.rrid = r.rid""")
    else:
        con.execute(f"""CREATE OR REPLACE TEMP TABLE pairs AS
            SELECT lrid, rrid, score FROM ({scored})
            QUALIFY row_number() OVER (PARTITION BY lrid ORDER BY score DESC, rrid)
                <= {per_record}""")
    for i in range(len(selects)):
        con.execute(f"DROP TABLE rule_{i}")
    (total,) = con.execute("SELECT count(*) FROM pairs").fetchone() or (0,)
    counts["candidate pairs"] = int(total)
    return counts
