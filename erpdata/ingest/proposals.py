"""Propose the record key and the parent column from a file's values, when its headers do not say.

Why: an export from an ERP nobody has mapped yet often heads its key "Nr" or "Kode" (or
something meaningless), and its persons name their company in a column headed "Kunde" or
"Firma". Refusing such a file, or loading persons without their company, loses what the values
show plainly. So, only for what the headers left open:

- **Key** (any side and kind, when no column's header names the id): the columns a key can be
  in are those kept in ``extra`` (no header matched) and those mapped by header to a number
  field (``number``, ``number1``, ``number2``: an ERP's "Nr" is usually its key). A column
  qualifies when its trimmed values are *unique* and *never empty* (what the load requires of
  a key anyway) and *look like codes*: every value at most 30 characters with no whitespace
  and no ``@`` (names and free text have spaces, e-mail addresses an ``@``), at least half the
  values hold a digit or every value is upper case (numbers like 10001 or match codes like
  HANSENAS; a column of unique first names does not qualify), and not every value reads as a
  date (a unique timestamp column is not a key). Of several qualifying columns the rule
  prefers, in this order: a column whose values are *not* mostly keys of the ERP companies
  (on ERP persons and projects that is the parent, not the key), a header that hints at a
  number (ends in id/no/nr/number/nummer/code/kode/key), then the leftmost column (exports
  put their key first). A key column mapped by header to a number field keeps feeding that
  field too (a project's number is both its key and a compared value).
- **Parent** (ERP persons and projects, when no column's header names ``parent_key`` and the
  workspace holds ERP companies): of the columns kept in ``extra`` (a column whose header
  names another field is decided by its header), one qualifies when at least
  :data:`PARENT_SHARE` of its non-empty values are keys of the loaded ERP companies. Of
  several, the one with the most distinct such keys wins (a yes/no column holding 1 must not
  beat the real company column), then the leftmost. Values that are not keys still fail the
  load with their row and column, as for a parent named by header: a proposal never hides a
  broken reference.

Everything is SQL over the staging table (one scan for the shape of every key candidate,
then one per candidate in order of preference until one is unique; one join per parent
candidate), and at most :data:`MAX_CANDIDATES` columns are examined, leftmost first,
so a 4,000-column file costs no more than a 50-column one. The proposal only fills fields the
caller's mapping and the headers left empty: it never overrides a mapping file.
"""

from __future__ import annotations

import duckdb

from erpdata.ingest.columns import PARENT_FIELD, ColumnMapping, fold
from erpdata.ingest.sources import STAGE
from erpdata.schema import Kind, Side

# SQL built here (ruff S608): only the staging view STAGE, its columns c<int> (positions),
# the ERP companies table and this module's constants; no value of the file is in the text.

#: Share of a column's non-empty values that must be keys of the ERP companies for it to be
#: proposed as the parent: a few orphans (a company deleted in the ERP) do not hide a column
#: that is plainly the parent, and the load then names each orphan's row.
PARENT_SHARE = 0.95
#: Longest value that still looks like a code.
CODE_MAX = 30
#: Columns examined at most, leftmost first.
MAX_CANDIDATES = 50
#: Fields a header may have mapped a key column to (the ERP's own number is usually its key).
NUMBER_FIELDS = ("number", "number1", "number2")
#: Folded header endings that hint at a key: "Nr", "KundeID", "Code", "Nummer".
KEY_HINTS = ("id", "no", "nr", "num", "number", "nummer", "code", "kode", "kod", "key", "numero")
#: Characters no code holds (as SQL literals): whitespace inside the value, and ``@``.
_NOT_IN_CODES = ("' '", "chr(9)", "chr(10)", "chr(13)", "chr(160)", "'@'")


def propose(con: duckdb.DuckDBPyConnection, cmap: ColumnMapping, side: Side, kind: Kind) -> None:
    """Fill the key and (ERP persons and projects) the parent of ``cmap`` from the staged values
    when the headers did not map them; record why in ``cmap.reasons`` (also why nothing was
    found). Reads :data:`~erpdata.ingest.sources.STAGE` and, for the parent, ``erp_company`` if the
    connection has a workspace."""
    parent = PARENT_FIELD[side] if kind != "company" else None
    need_key = "id" not in cmap.fields
    need_parent = side == "erp" and parent is not None and parent not in cmap.fields
    if not need_key and not need_parent:
        return
    number_cols = [cmap.fields[f] for f in NUMBER_FIELDS
                   if f in cmap.fields and f not in cmap.explicit]
    candidates = sorted({*cmap.extra, *number_cols})[:MAX_CANDIDATES]
    companies = _company_count(con) if side == "erp" and kind != "company" else 0
    hits = _parent_stats(con, candidates, companies)
    if need_key:
        _propose_key(con, cmap, candidates, hits)
    if need_parent and parent is not None:
        if not companies:
            cmap.reasons[parent] = ("no header names it, and the workspace has no ERP companies "
                                    "to compare the values with: load the companies first")
            return
        taken = set(cmap.fields.values())
        _propose_parent(cmap, parent, [p for p in candidates if p in cmap.extra
                                       and p not in taken], hits, companies)


def _company_count(con: duckdb.DuckDBPyConnection) -> int:
    """How many ERP company keys the workspace holds (0 in a scratch database)."""
    (exists,) = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'erp_company' "
        "AND table_schema = 'main'").fetchone() or (0,)
    if not exists:
        return 0
    (n,) = con.execute("SELECT count(DISTINCT id) FROM erp_company").fetchone() or (0,)
    return int(n)


def _parent_stats(con: duckdb.DuckDBPyConnection, candidates: list[int], companies: int
                  ) -> dict[int, tuple[int, int, int]]:
    """Column position -> (non-empty values, values that are ERP company keys, distinct such
    keys); empty when there are no companies to compare with."""
    if not companies or not candidates:
        return {}
    parts = [
        f"""SELECT {p} AS pos, count(s.v) AS filled, count(k.id) AS hits,
                   count(DISTINCT k.id) AS keys
            FROM (SELECT nullif(trim(c{p}), '') AS v FROM {STAGE}) s
            LEFT JOIN (SELECT DISTINCT id FROM erp_company) k ON k.id = s.v"""  # noqa: S608 - STAGE columns c<int> only
        for p in candidates
    ]
    rows = con.execute(" UNION ALL ".join(parts)).fetchall()
    return {int(p): (int(f), int(h), int(k)) for p, f, h, k in rows}


def _parent_like(stats: tuple[int, int, int] | None) -> bool:
    return stats is not None and stats[0] > 0 and stats[1] >= PARENT_SHARE * stats[0]


def _propose_key(con: duckdb.DuckDBPyConnection, cmap: ColumnMapping, candidates: list[int],
                 hits: dict[int, tuple[int, int, int]]) -> None:
    """Map ``id`` to the best unique, never-empty, code-like column (rules: module docstring).

    Two steps, so a wide file costs one cheap scan: the shape tests (empty, length, spaces,
    ``@``, digits, capitals) for every candidate at once, then uniqueness and the date test
    one column at a time in the order of preference, stopping at the first that holds."""
    if not candidates:
        cmap.reasons["id"] = "no header names it, and no unnamed column could be one"
        return
    aggs = []
    for p in candidates:
        v = f"trim(c{p})"
        aggs.append(
            f"count(*) FILTER (nullif({v}, '') IS NULL OR length({v}) > {CODE_MAX} OR "
            + " OR ".join(f"contains({v}, {ch})" for ch in _NOT_IN_CODES) + "), "
            f"count(*) FILTER (regexp_matches({v}, '[0-9]')), "
            f"count(*) FILTER ({v} = upper({v}))"
        )
    row = con.execute(f"SELECT count(*), {', '.join(aggs)} FROM {STAGE}").fetchone()  # noqa: S608 - STAGE c<int> and module constants
    assert row is not None
    n, stats = int(row[0]), row[1:]
    shaped = []
    for i, p in enumerate(candidates):
        bad, digits, upper = stats[i * 3:(i + 1) * 3]
        if n and bad == 0 and (2 * digits >= n or upper == n):
            hinted = fold(cmap.headers[p]).endswith(KEY_HINTS)
            shaped.append((_parent_like(hits.get(p)), not hinted, p))
    for *_, pos in sorted(shaped):
        v = f"trim(c{pos})"
        (distinct,) = con.execute(f"SELECT count(DISTINCT {v}) FROM {STAGE}").fetchone() or (0,)  # noqa: S608 - STAGE column c<int> only
        not_date = con.execute(  # one row that is no date is enough: LIMIT 1 stops the scan
            f"SELECT 1 FROM {STAGE} WHERE TRY_CAST({v} AS DATE) IS NULL "  # noqa: S608 - STAGE column c<int> only
            f"AND TRY_CAST({v} AS TIMESTAMP) IS NULL LIMIT 1").fetchone()
        if distinct == n and not_date is not None:
            keep = any(cmap.fields.get(f) == pos for f in NUMBER_FIELDS)
            cmap.assign("id", pos, f"values: {n:,} unique, never empty", proposed=True,
                        keep=keep)
            return
    cmap.reasons["id"] = ("no header names it, and no column's values are unique, never "
                          "empty and code-like")


def _propose_parent(cmap: ColumnMapping, parent: str, candidates: list[int],
                    hits: dict[int, tuple[int, int, int]], companies: int) -> None:
    """Map the parent to the column whose values are (mostly) ERP company keys."""
    qualifying = [(-hits[p][2], p) for p in candidates if _parent_like(hits.get(p))]
    if not qualifying:
        cmap.reasons[parent] = (
            f"no header names it, and no column's values are mostly keys of the {companies:,} "
            "loaded ERP companies; the records load without their company")
        return
    pos = min(qualifying)[1]
    filled, found, _ = hits[pos]
    cmap.assign(parent, pos, f"values: {found:,} of {filled:,} are keys of the loaded ERP "
                "companies", proposed=True)
