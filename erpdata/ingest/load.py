"""Load an export file into the workspace: map, validate, then apply as ONE transaction.

Why this shape: a steward re-loads the same exports many times during a clean-up. So a load
updates records by id and records what changed field by field (``record_changes``), flags
records that vanished from the export instead of deleting them (their links and decisions
stay meaningful), and keeps every unmapped source column in ``extra``, so nothing in the file
is lost. Any problem (missing id column, duplicate ids, a wrong date, a person whose company
does not exist, ...) raises ONE :class:`~erpdata.errors.IngestError` naming the file, the row
and the column, and the transaction is rolled back: the workspace is exactly as before.

All set work runs in DuckDB SQL over the staging table, never in Python loops over rows.

Where the headers do not name the key (or an ERP person's company), the values propose it
(:mod:`erpdata.ingest.proposals`); the proposal and its reason come back in ``LoadResult.proposal``.
A mapping file's ``[types]`` (how ``erpdata match`` compares a field) is stored in the
workspace by the same transaction, as meta ``field_types.<kind>`` (:func:`field_types`).

Two choices loosen a load, both off by default. ``partial``: the file holds only some records
(20 new companies, what a live system changed), so records it lacks are not flagged missing.
``lenient``: one date like ``19450493`` among 5,000 persons should not refuse the whole export,
so a cell that does not parse for its typed field is left empty and listed as a
:class:`CellProblem` (file, row, column, value) instead; keys and parents still refuse, because
a record without its key cannot be loaded. :func:`preview` counts the workspace records the
file lacks, so the steward sees what a full load would flag before choosing.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import duckdb
import pandas as pd

from erpdata.errors import ErpdataError, IngestError, column_letter
from erpdata.ingest.columns import (
    ColumnMapping,
    MappingFile,
    describe_columns,
    fold,
    header_position,
    map_columns,
    read_mapping,
)
from erpdata.ingest.proposals import propose as propose_columns
from erpdata.ingest.sources import STAGE, Source, drop_stage, read_source
from erpdata.progress import Progress
from erpdata.roles import guarded, require_for
from erpdata.schema import (
    ACTOR_TYPE_SYNONYMS,
    ACTOR_TYPES,
    PLURAL,
    Kind,
    Side,
    check_side_kind,
    fields,
    table_name,
)
from erpdata.sql import scratch, sql_text
from erpdata.workspace import Workspace, current_user

# SQL built here (ruff S608): tables and columns come only from the schema (table_name() after
# check_side_kind(), fields()), the staging view STAGE and its columns c<int>; every value from
# the file (a cell, a header, an actor type) is quoted by sql_text or bound as ``?``.

_DATE_FORMATS = ["%d.%m.%Y", "%d-%m-%Y", "%d/%m/%Y", "%Y/%m/%d", "%Y%m%d", "%d.%m.%y"]
_TIMESTAMP_FORMATS = [
    "%d.%m.%Y %H:%M:%S", "%d.%m.%Y %H:%M", "%d-%m-%Y %H:%M:%S", "%d-%m-%Y %H:%M",
    "%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%Y/%m/%d %H:%M:%S", *_DATE_FORMATS,
]
_TYPE_HINT = {"date": "a date such as 2026-03-31 or 31.03.2026",
              "timestamp": "a date and time such as 2026-03-31 14:05:00"}
#: Said after a key or parent error in a lenient load: why that cell still refuses the file.
_KEY_STILL_REFUSES = (" (a lenient load leaves cells that do not parse empty, but not a key or a "
                      "parent: a record without its key cannot be loaded)")


@dataclass(frozen=True)
class CellProblem:
    """One cell a lenient load left empty because it did not parse for its field.

    ``row`` is the row a spreadsheet shows (the record number for JSON and Parquet, see
    ``row_label``); ``column`` the header as written, ``letter`` its spreadsheet letter,
    ``field`` the canonical field and ``label`` its plain name ("Birth date")."""

    file: str
    row: int
    column: str
    letter: str
    field: str
    label: str
    value: str
    reason: str
    row_label: str = "row"

    def __str__(self) -> str:
        return (f"{self.file}, {self.row_label} {self.row}, column '{self.column}' "
                f"({self.letter}): {self.reason}")


@dataclass
class LoadResult:
    """What a load did: how it read the file, how it mapped it, and what changed."""

    load_id: int
    file: str
    side: str
    kind: str
    format: str
    encoding: str | None
    delimiter: str | None
    mapping: dict[str, str]
    columns: list[tuple[str, str, str]]
    actor_type: str | None
    rows: int
    inserted: int
    updated: int
    unchanged: int
    missing: int
    reappeared: int
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0
    #: How the key and (persons, projects) the parent were chosen, one line each:
    #: ``key: column 'CustomerNo' (header: customer number)``.
    proposal: list[str] = field(default_factory=list)
    #: Comparison types the mapping file's ``[types]`` set (field -> type), stored for matching.
    types: dict[str, str] = field(default_factory=dict)
    #: The file held only some records: nothing it lacks was flagged missing.
    partial: bool = False
    #: Cells that did not parse were left empty (listed in ``problems``) instead of refusing.
    lenient: bool = False
    #: Every cell a lenient load left empty, in row then column order.
    problems: list[CellProblem] = field(default_factory=list)

    def summary(self) -> str:
        """One line for logs and the CLI."""
        gone = ("nothing flagged missing (partial load)" if self.partial
                else f"{self.missing} flagged missing")
        line = (
            f"{self.file}: {self.rows} rows -> {self.side} {self.kind}: {self.inserted} new, "
            f"{self.updated} changed, {self.unchanged} unchanged, {gone}, "
            f"{self.reappeared} back again ({self.seconds:.1f} s)"
        )
        if self.problems:
            line += f"; {len(self.problems)} cell(s) that did not parse left empty"
        return line


def _convert_sql(col: str, field_type: str) -> str:
    """SQL converting text column ``col`` to the field's type; NULL where it does not parse."""
    v = f"trim({col})"
    if field_type == "date":
        return (f"coalesce(TRY_CAST({v} AS DATE), "
                f"TRY_CAST(try_strptime({v}, {_DATE_FORMATS!r}) AS DATE), "
                f"TRY_CAST(TRY_CAST({v} AS TIMESTAMP) AS DATE))")
    if field_type == "timestamp":
        return (f"CASE WHEN regexp_matches({v}, '(Z|[+-][0-9]{{2}}(:?[0-9]{{2}})?)$') "
                f"THEN TRY_CAST({v} AS TIMESTAMPTZ) AT TIME ZONE 'UTC' "
                f"ELSE coalesce(TRY_CAST({v} AS TIMESTAMP), "
                f"try_strptime({v}, {_TIMESTAMP_FORMATS!r})) END")
    return f"nullif({col}, '')"


@guarded
def load_file(
    ws: Workspace,
    path: str | os.PathLike[str],
    *,
    side: str,
    kind: str,
    mapping: Mapping[str, str] | str | os.PathLike[str] | None = None,
    actor_type: str | None = None,
    user: str | None = None,
    progress: Progress | None = None,
    display: str | None = None,
    partial: bool = False,
    max_bytes: int | None = None,
    propose: bool = True,
    lenient: bool = False,
) -> LoadResult:
    """Load one export file of ``side`` (crm/erp) and ``kind`` (company/person/project).

    ``mapping``: canonical field -> source header, or the path of a TOML/JSON mapping file;
    headers it does not name are mapped by synonyms. ``actor_type`` (ERP companies): the type of
    every row whose file has no type column (or an empty cell). ``display``: the file name to
    show in messages (e.g. an upload's original name). ``partial``: the file holds only some
    records (those a live system changed since the last pull), so records it lacks are not
    flagged missing. ``max_bytes``: refuse a bigger file before reading it (default
    ``$ERPDATA_MAX_LOAD_MB`` megabytes, 1024 if unset). ``propose``: where no header names the
    key (or an ERP person's or project's company), let the values propose the column
    (:mod:`erpdata.ingest.proposals`); pass False when ``mapping`` is already a steward's final word
    (the Load page, whose editor showed the proposal). ``lenient``: a cell that does not parse
    for its typed field (a date, a timestamp) is left empty and listed in
    ``LoadResult.problems`` instead of refusing the file; an empty or duplicate key, an unknown
    actor type or a parent that does not exist still refuses it. Returns a :class:`LoadResult`;
    raises :class:`IngestError` and leaves the workspace untouched on any problem.
    """
    check_side_kind(side, kind)
    s: Side = side  # type: ignore[assignment]
    k: Kind = kind  # type: ignore[assignment]
    report = progress or (lambda _stage, _fraction: None)
    t0 = time.perf_counter()
    started = datetime.now()
    explicit, mapping_file = _explicit_mapping(mapping)
    constant_type = _constant_actor_type(s, k, actor_type)
    con = ws.cursor()
    types: dict[str, str] = {}
    try:
        with ws.transaction(con):
            require_for(ws, "load_file", user, con)
            report("reading", 0.0)
            src = read_source(con, path, display, max_bytes=max_bytes)
            report("mapping", 0.35)
            cmap = map_columns(src.headers, s, k, explicit=explicit.columns, file=src.display,
                               mapping_file=mapping_file)
            if propose:
                propose_columns(con, cmap, s, k)
            types = _resolve_types(explicit.types, cmap, s, k, mapping_file or src.display)
            if s == "crm" and actor_type:
                src.warnings.append(
                    f"an actor type ({actor_type}) applies to ERP records only: ignored for "
                    "these CRM records")
            if cmap.extra:
                src.warnings.append(
                    f"{len(cmap.extra)} column(s) match no field and are kept in extra: "
                    + describe_columns(cmap.extra, src.headers)
                )
            report("validating", 0.45)
            problems = _build_canonical(con, src, cmap, s, k, constant_type, lenient)
            report("applying", 0.7)
            # The cells left empty are stored with the load's warnings, so the loads table
            # keeps saying what a lenient load dropped; the result lists each in ``problems``.
            stored = [_problems_warning(problems)] if problems else []
            result = _apply(con, src, cmap, s, k, constant_type, user, started, partial,
                            stored)
            if types:
                _store_types(ws, con, k, types)
            report("done", 1.0)
    finally:
        drop_stage(con)
        for tmp in ("_new", "_cmp", "_parent_types"):
            con.execute(f"DROP TABLE IF EXISTS {tmp}")
        con.close()
    result.seconds = time.perf_counter() - t0
    result.proposal = cmap.key_lines(s, k)
    result.types = types
    result.partial, result.lenient, result.problems = partial, lenient, problems
    return result


def _problems_warning(problems: list[CellProblem], shown: int = 5) -> str:
    """The warning stored with a lenient load: how many cells were left empty, the first few."""
    first = "; ".join(f"{p.row_label} {p.row}, column '{p.column}' ({p.letter}) "
                      f"'{p.value}'" for p in problems[:shown])
    more = f"; and {len(problems) - shown} more" if len(problems) > shown else ""
    return (f"lenient load: {len(problems)} cell(s) did not parse and were left empty: "
            f"{first}{more}")


def _explicit_mapping(
    mapping: Mapping[str, str] | str | os.PathLike[str] | None,
) -> tuple[MappingFile, str | None]:
    if mapping is None:
        return MappingFile({}), None
    if isinstance(mapping, Mapping):
        return MappingFile(dict(mapping)), None
    return read_mapping(mapping), str(mapping)


#: Fields whose comparison a mapping file's ``[types]`` may set: the data fields both sides
#: have (the key and the parent columns are structure, not compared values).
_STRUCTURAL = {"company_id", "parent_key", "parent_actor_type", "actor_type", "last_modified"}


def typable_fields(kind: Kind) -> list[str]:
    """Fields of ``kind`` that both sides hold, in schema order: what ``[types]`` may name."""
    erp = {f.name for f in fields("erp", kind)}
    return [f.name for f in fields("crm", kind) if f.name in erp and f.name not in _STRUCTURAL]


def _resolve_types(
    raw: Mapping[str, str], cmap: ColumnMapping, side: Side, kind: Kind, where: str,
) -> dict[str, str]:
    """The mapping file's ``[types]`` as canonical field -> type. An entry names a field, or a
    source header of this file that is mapped to one ("Kundenr" -> ``number2``). The types
    themselves were checked when the file was read (:func:`erpdata.ingest.columns.read_mapping`)."""
    out: dict[str, str] = {}
    allowed = typable_fields(kind)
    known = {"id", *(f.name for f in fields(side, kind))}
    for entry, type_ in raw.items():
        name = entry if entry in known else None
        if name is None:
            pos = header_position(cmap.headers, entry)
            if pos is None:
                raise IngestError(
                    where, f"[types] entry {entry} = \"{type_}\": neither a field of "
                    f"{side.upper()} {PLURAL[kind]} nor a column of this file; fields that can "
                    f"take a type: {', '.join(allowed)}")
            at = [n for n, p in cmap.fields.items() if p == pos and n != "id"]
            if not at:
                raise IngestError(
                    where, f"[types] entry {entry} = \"{type_}\": column '{cmap.headers[pos]}' "
                    "is not mapped to a compared field; map it under [columns] (e.g. "
                    f"number2 = \"{cmap.headers[pos]}\") or name the field in [types]")
            name = at[0]
        if name not in allowed:
            raise IngestError(
                where, f"[types] entry {entry} = \"{type_}\": field '{name}' is not compared "
                f"between CRM and ERP {PLURAL[kind]}; fields that can take a type: "
                f"{', '.join(allowed)}")
        out[name] = type_
    return out


def _types_key(kind: str) -> str:
    return f"field_types.{kind}"


def _store_types(ws: Workspace, con: duckdb.DuckDBPyConnection, kind: Kind,
                 types: Mapping[str, str]) -> None:
    """Merge ``types`` into the kind's stored types (a later file's entry for a field wins):
    CRM and ERP files of one kind share them, because one comparison reads both sides."""
    stored = field_types(con, kind)
    stored.update(types)
    ws.set_meta(_types_key(kind), json.dumps(stored, sort_keys=True), con)


def field_types(con: duckdb.DuckDBPyConnection, kind: str) -> dict[str, str]:
    """The comparison types that mapping files fixed for ``kind`` (field -> type; ``{}``: none).
    Read by :func:`erpdata.matching.runs.comparisons`."""
    row = con.execute("SELECT value FROM meta WHERE key = ?", [_types_key(kind)]).fetchone()
    return dict(json.loads(row[0])) if row else {}


def _constant_actor_type(side: Side, kind: Kind, actor_type: str | None) -> str | None:
    """The actor type every row of the file takes when it has no type column (ERP only).

    CRM records have no actor type: a type given for a CRM file is ignored with a warning
    (:func:`load_file`), and a CRM column headed like one ("Type", "Kind") is no field there, so
    it is kept in ``extra`` like any unmapped column. Why not refuse: a script loading both
    sides of an export with the same options, or a CRM export that carries its own "Type"
    column, holds nothing wrong to fix."""
    if side == "crm":
        return None
    if kind != "company":
        return ACTOR_TYPES[kind][0]
    if actor_type is None:
        return None
    resolved = _actor_type_of(actor_type, ACTOR_TYPES["company"])
    if resolved is None:
        raise ErpdataError(
            f"unknown actor type {actor_type!r}: use customer, supplier or partner"
        )
    return resolved


def _actor_type_of(value: str, allowed: tuple[str, ...]) -> str | None:
    key = fold(value)
    for actor, words in ACTOR_TYPE_SYNONYMS.items():
        if actor in allowed and key in {fold(w) for w in words}:
            return actor
    return None


# --- staging -> canonical --------------------------------------------------------------------

def _build_canonical(
    con: duckdb.DuckDBPyConnection, src: Source, cmap: ColumnMapping, side: Side, kind: Kind,
    constant_type: str | None, lenient: bool = False,
) -> list[CellProblem]:
    """Validate the staged rows and build ``_new``: the rows in the target table's shape.

    Returns the cells a ``lenient`` load leaves empty (always none in a strict load, which
    raises for the first one instead)."""
    id_pos = cmap.fields.get("id")
    if id_pos is None:
        raise src.error(
            f"no column holds the record id of these {side.upper()} {PLURAL[kind]}; the headers "
            f"are {', '.join(repr(h) for h in src.headers)}. Name the id column 'id' or map it "
            "in a mapping file ([columns] id = \"Your header\").", row=1,
        )
    id_sql = f"nullif(trim(c{id_pos}), '')"
    key_note = _KEY_STILL_REFUSES if lenient else ""
    _first_bad(con, src, id_pos, f"{id_sql} IS NULL",
               "the id is empty; every record needs an id" + key_note)
    exprs: dict[str, str] = {"id": id_sql}
    problems: list[CellProblem] = []
    if side == "erp":
        exprs["actor_type"] = _actor_type_sql(con, src, cmap, kind, constant_type, key_note)
    for f in fields(side, kind):
        if f.name in exprs:
            continue
        pos = cmap.fields.get(f.name)
        if pos is None:
            exprs[f.name] = "NULL"
            continue
        conv = _convert_sql(f"c{pos}", f.type)
        if f.type != "text":
            bad = f"nullif(trim(c{pos}), '') IS NOT NULL AND ({conv}) IS NULL"
            hint = f"'{{value}}' is not {_TYPE_HINT[f.type]}"
            if lenient:  # the conversion is NULL where it does not parse: the cell stays empty
                problems += _bad_cells(con, src, pos, f.name, f.label, bad, hint)
            else:
                _first_bad(con, src, pos, bad, hint)
        if f.name in ("company_id", "parent_key"):
            conv = f"nullif(trim(c{pos}), '')"
        exprs[f.name] = conv
    if side == "erp" and kind != "company":
        exprs["parent_actor_type"] = _parent_type_sql(con, src, cmap, key_note)
    extra = (
        "json_object(" + ", ".join(f"{sql_text(src.headers[p])}, c{p}" for p in cmap.extra) + ")"
        if cmap.extra else "NULL"
    )
    cols = ", ".join(f"{expr} AS {name}" for name, expr in exprs.items())
    con.execute(f"CREATE TEMP TABLE _new AS SELECT {cols}, {extra}::JSON AS extra, "  # noqa: S608 - columns from fields() and STAGE c<int>; headers via sql_text
                f"_row AS source_row FROM {STAGE}")
    _check_duplicates(con, src, cmap, side, key_note)
    _check_parents(con, src, cmap, side, kind, key_note)
    problems.sort(key=lambda p: (p.row, len(p.letter), p.letter))  # as a sheet reads
    return problems


def _bad_cells(
    con: duckdb.DuckDBPyConnection, src: Source, pos: int, name: str, label: str, where: str,
    message: str,
) -> list[CellProblem]:
    """Every staged cell of column ``pos`` matching ``where``, as problems (a lenient load)."""
    found = con.execute(f"SELECT _row, c{pos} FROM {STAGE} WHERE {where} ORDER BY _row").fetchall()  # noqa: S608 - STAGE c<int>; where built by callers from c<int> and sql_text
    return [CellProblem(src.display, int(row), src.headers[pos], column_letter(pos), name, label,
                        str(value), message.format(value=value), src.row_label)
            for row, value in found]


def _first_bad(
    con: duckdb.DuckDBPyConnection, src: Source, pos: int, where: str, message: str
) -> None:
    """Raise for the first staged row (by row number) matching ``where``."""
    row = con.execute(
        f"SELECT _row, c{pos} FROM {STAGE} WHERE {where} ORDER BY _row LIMIT 1"  # noqa: S608 - STAGE c<int>; where built by callers from c<int> and sql_text
    ).fetchone()
    if row is not None:
        raise src.error(message.format(value=row[1]), row=int(row[0]), column_index=pos)


def _value_map_sql(
    con: duckdb.DuckDBPyConnection, src: Source, pos: int, allowed: tuple[str, ...],
    what: str, note: str = "",
) -> str:
    """SQL CASE translating the column's distinct values to actor types; unknown ones raise."""
    values = [v for (v,) in con.execute(
        f"SELECT DISTINCT trim(c{pos}) FROM {STAGE} WHERE nullif(trim(c{pos}), '') IS NOT NULL"  # noqa: S608 - STAGE column c<int> only
    ).fetchall()]
    cases = []
    for value in values:
        actor = _actor_type_of(value, allowed)
        if actor is None:
            _first_bad(con, src, pos, f"trim(c{pos}) = {sql_text(value)}",
                       f"'{{value}}' is not {what}: use one of {', '.join(allowed)}{note}")
        cases.append(f"WHEN {sql_text(value)} THEN {sql_text(actor or '')}")
    if not cases:
        return "NULL"
    return f"CASE trim(c{pos}) {' '.join(cases)} END"


def _actor_type_sql(
    con: duckdb.DuckDBPyConnection, src: Source, cmap: ColumnMapping, kind: Kind,
    constant_type: str | None, note: str = "",
) -> str:
    """The actor type of each row, part of an ERP record's key: an unknown or empty one
    refuses the file, in a lenient load too (``note`` says why)."""
    pos = cmap.fields.get("actor_type")
    if kind != "company":
        return sql_text(ACTOR_TYPES[kind][0])
    if pos is None:
        if constant_type is None:
            raise src.error(
                "these ERP companies have no actor type: map a column to actor_type "
                "(customer / supplier / partner) or give the type of the whole file "
                "(--actor-type customer)", row=1,
            )
        return sql_text(constant_type)
    case = _value_map_sql(con, src, pos, ACTOR_TYPES["company"], "an ERP actor type", note)
    if constant_type is None:
        _first_bad(con, src, pos, f"nullif(trim(c{pos}), '') IS NULL",
                   "the actor type is empty: fill it in (customer / supplier / partner) or give "
                   "the type of the whole file (--actor-type)" + note)
        return case
    return f"coalesce({case}, {sql_text(constant_type)})"


def _parent_type_sql(con: duckdb.DuckDBPyConnection, src: Source, cmap: ColumnMapping,
                     note: str = "") -> str:
    """The parent's actor type: from its column, else looked up by key among ERP companies."""
    pos = cmap.fields.get("parent_actor_type")
    if pos is not None:
        return _value_map_sql(con, src, pos, ACTOR_TYPES["company"], "a parent actor type",
                              note)
    key = cmap.fields.get("parent_key")
    if key is None:
        return "NULL"
    ambiguous = con.execute(
        f"""SELECT s._row, s.c{key} FROM {STAGE} s
            JOIN (SELECT id FROM erp_company GROUP BY id HAVING count(*) > 1) d
              ON d.id = nullif(trim(s.c{key}), '')
            ORDER BY s._row LIMIT 1"""  # noqa: S608 - STAGE column c<int> only
    ).fetchone()
    if ambiguous is not None:
        raise src.error(
            f"parent key '{ambiguous[1]}' is used by more than one ERP actor type (customer and "
            f"supplier); add a parent actor type column to say which{note}",
            row=int(ambiguous[0]), column_index=key,
        )
    # The key is unique across actor types here (checked above): a map from key to type is
    # one hash join, not a lookup per row.
    con.execute("CREATE OR REPLACE TEMP TABLE _parent_types AS "
                "SELECT id, min(actor_type) AS actor_type FROM erp_company GROUP BY id")
    return (f"(SELECT p.actor_type FROM _parent_types p "  # noqa: S608 - STAGE column c<int> only
            f"WHERE p.id = nullif(trim({STAGE}.c{key}), ''))")


def _check_duplicates(
    con: duckdb.DuckDBPyConnection, src: Source, cmap: ColumnMapping, side: Side,
    note: str = "",
) -> None:
    keys = "actor_type, id" if side == "erp" else "id"
    dup = con.execute(
        f"""SELECT id, {'actor_type' if side == 'erp' else 'NULL'}, rows[1], rows[2] FROM (
              SELECT {keys}, list(source_row ORDER BY source_row) AS rows FROM _new
              GROUP BY {keys} HAVING count(*) > 1)
            ORDER BY rows[2] LIMIT 1"""  # noqa: S608 - fixed column names chosen by side
    ).fetchone()
    if dup is not None:
        rid, actor, first, second = dup
        what = f"{actor} id" if actor else "id"
        raise src.error(
            f"{what} '{rid}' appears twice (first on {src.row_label} {first}); ids must be unique "
            f"within a file{note}", row=int(second), column_index=cmap.fields["id"],
        )
    # Ids that differ only in letter case are two records here (ERP keys are case-sensitive),
    # but in a CRM export they are usually one record typed twice: say so, do not refuse.
    (groups, pair) = con.execute(
        f"""SELECT count(*), min_by([ids[1], ids[2], rows[1]::VARCHAR, rows[2]::VARCHAR],
                                  rows[2]) FROM (
              SELECT list(id ORDER BY source_row) AS ids, list(source_row ORDER BY source_row)
                AS rows FROM _new GROUP BY {'actor_type, ' if side == 'erp' else ''}lower(id)
              HAVING count(*) > 1)"""  # noqa: S608 - fixed column names chosen by side
    ).fetchone() or (0, None)
    if groups:
        a, b, row_a, row_b = pair
        src.warnings.append(
            f"{groups} id(s) differ from another only in letter case, first '{b}' on "
            f"{src.row_label} {row_b} and '{a}' on {src.row_label} {row_a}; they were loaded "
            "as different records"
        )


def _check_parents(
    con: duckdb.DuckDBPyConnection, src: Source, cmap: ColumnMapping, side: Side, kind: Kind,
    note: str = "",
) -> None:
    if kind == "company":
        return
    if side == "crm":
        col, join = "company_id", "p.id = n.company_id"
        parent, label = "crm_company", "CRM companies"
    else:
        col, join = "parent_key", "p.id = n.parent_key AND p.actor_type = n.parent_actor_type"
        parent, label = "erp_company", "ERP companies"
    pos = cmap.fields.get(col)
    if pos is None:
        return
    bad = con.execute(
        f"""SELECT n.source_row, n.{col} FROM _new n
            WHERE n.{col} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM {parent} p WHERE {join})
            ORDER BY n.source_row LIMIT 1"""  # noqa: S608 - col, parent and join from the fixed crm/erp pairs above
    ).fetchone()
    if bad is not None:
        why = ""
        if col in cmap.proposed:  # say the column was the values' choice, and how to overrule
            why = (f" (this column was proposed as the parent because its {cmap.reasons[col]}; "
                   f"map {col} in a mapping file to choose another)")
        raise src.error(
            f"{'company' if side == 'crm' else 'parent'} '{bad[1]}' does not exist among the "
            f"{label} of this workspace: load the companies first, or fix the id{why}{note}",
            row=int(bad[0]), column_index=pos,
        )


# --- apply -----------------------------------------------------------------------------------

def _apply(
    con: duckdb.DuckDBPyConnection, src: Source, cmap: ColumnMapping, side: Side, kind: Kind,
    constant_type: str | None, user: str | None, started: datetime, partial: bool = False,
    notes: list[str] | None = None,
) -> LoadResult:
    """Insert new records, update changed ones, flag vanished ones (unless ``partial``), and
    log every change. ``notes``: stored with the load's warnings (not in the result's)."""
    target = table_name(side, kind)
    data_cols = [f.name for f in fields(side, kind) if f.name != "actor_type"] + ["extra"]
    key = ["actor_type", "id"] if side == "erp" else ["id"]
    on = " AND ".join(f"o.{k} = n.{k}" for k in key)
    differs = " OR ".join(
        f"o.{c}::VARCHAR IS DISTINCT FROM n.{c}::VARCHAR" if c == "extra"
        else f"o.{c} IS DISTINCT FROM n.{c}" for c in data_cols
    )
    con.execute(
        f"""CREATE TEMP TABLE _cmp AS SELECT {', '.join('n.' + k for k in key)},
              o.id IS NULL AS is_new,
              o.id IS NOT NULL AND ({differs}) AS is_changed,
              o.missing_since IS NOT NULL AS was_missing
            FROM _new n LEFT JOIN {target} o ON {on}"""  # noqa: S608 - target from table_name(), columns from fields()
    )
    scope = "TRUE"
    if partial:
        scope = "FALSE"
    elif side == "erp" and kind == "company":
        scope = "actor_type IN (SELECT DISTINCT actor_type FROM _new)"
    vanished = (f"{scope} AND missing_since IS NULL AND ({', '.join(key)}) NOT IN "  # noqa: S608 - fixed scope and key columns
                f"(SELECT ({', '.join(key)}) FROM _new)")
    inserted, updated, reappeared = con.execute(
        "SELECT count(*) FILTER (is_new), count(*) FILTER (is_changed), "
        "count(*) FILTER (was_missing) FROM _cmp"
    ).fetchone() or (0, 0, 0)
    (missing,) = con.execute(f"SELECT count(*) FROM {target} WHERE {vanished}").fetchone() or (0,)  # noqa: S608 - target from table_name(), vanished from fixed columns
    rows = src.rows
    mapping = cmap.as_dict()
    (load_id,) = con.execute(
        """INSERT INTO loads (side, kind, source_file, format, encoding, delimiter, mapping,
             actor_type, rows, inserted, updated, unchanged, missing, reappeared, warnings,
             loaded_by, started_at, finished_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, now()::TIMESTAMP)
           RETURNING load_id""",
        [side, kind, src.display, src.format, src.encoding, src.delimiter, json.dumps(mapping),
         constant_type, rows, inserted, updated, rows - inserted - updated, missing, reappeared,
         json.dumps([*src.warnings, *(notes or [])]), current_user(user), started],
    ).fetchone() or (0,)
    _log_changes(con, load_id, side, kind, target, key, data_cols, on, vanished)
    sets = ", ".join(f"{c} = n.{c}" for c in data_cols)
    con.execute(
        f"""UPDATE {target} o SET {sets}, source_file = ?, source_row = n.source_row,
              load_id = ?, missing_since = NULL
            FROM _new n WHERE {on}""",  # noqa: S608 - target from table_name(), columns from fields(); values bound as ?
        [src.display, load_id],
    )
    con.execute(f"UPDATE {target} SET missing_since = ? WHERE {vanished}", [load_id])  # noqa: S608 - target from table_name(); load_id bound as ?
    all_cols = key + data_cols
    con.execute(
        f"""INSERT INTO {target} ({', '.join(all_cols)}, source_file, source_row, first_load_id,
              load_id)
            SELECT {', '.join('n.' + c for c in all_cols)}, ?, n.source_row, ?, ?
            FROM _new n JOIN _cmp c USING ({', '.join(key)}) WHERE c.is_new""",  # noqa: S608 - target from table_name(), columns from fields(); values bound as ?
        [src.display, load_id, load_id],
    )
    return LoadResult(
        load_id=int(load_id), file=src.display, side=side, kind=kind, format=src.format,
        encoding=src.encoding, delimiter=src.delimiter, mapping=mapping,
        columns=cmap.describe(), actor_type=constant_type, rows=rows, inserted=int(inserted),
        updated=int(updated), unchanged=rows - int(inserted) - int(updated),
        missing=int(missing), reappeared=int(reappeared), warnings=list(src.warnings),
    )


def _log_changes(
    con: duckdb.DuckDBPyConnection, load_id: int, side: Side, kind: Kind, target: str,
    key: list[str], data_cols: list[str], on: str, vanished: str,
) -> None:
    """Write ``record_changes``: inserts, per-field updates, records gone and back again."""
    actor = "n.actor_type" if side == "erp" else "NULL"
    head = f"SELECT {load_id}, '{side}', '{kind}', {actor}, n.id"
    con.execute(f"INSERT INTO record_changes {head}, 'insert', NULL, NULL, NULL "
                "FROM _cmp n WHERE n.is_new")
    con.execute(f"INSERT INTO record_changes {head}, 'reappeared', NULL, NULL, NULL "
                "FROM _cmp n WHERE n.was_missing")
    per_field = " UNION ALL ".join(
        f"{head}, 'update', '{c}', o.{c}::VARCHAR, n.{c}::VARCHAR FROM _new n "
        f"JOIN {target} o ON {on} SEMI JOIN _cmp c ON c.is_changed AND "
        + " AND ".join(f"c.{k} = n.{k}" for k in key)
        + f" WHERE o.{c}::VARCHAR IS DISTINCT FROM n.{c}::VARCHAR"
        for c in data_cols
    )
    con.execute(f"INSERT INTO record_changes {per_field}")
    actor_o = "actor_type" if side == "erp" else "NULL"
    con.execute(
        f"INSERT INTO record_changes SELECT {load_id}, '{side}', '{kind}', {actor_o}, id, "  # noqa: S608 - side/kind checked by check_side_kind(); load_id an int from RETURNING
        f"'missing', NULL, NULL, NULL FROM {target} WHERE {vanished}"
    )


@guarded
def changes(ws: Workspace, load_id: int, limit: int = 200) -> list[dict[str, Any]]:
    """The logged changes of one load (first ``limit``), for showing what a re-load did."""
    cur = ws.cursor()
    try:
        rows = cur.execute(
            "SELECT actor_type, record_id, change, field, old_value, new_value "
            "FROM record_changes WHERE load_id = ? ORDER BY change, record_id, field LIMIT ?",
            [load_id, limit],
        ).fetchall()
    finally:
        cur.close()
    keys = ("actor_type", "record_id", "change", "field", "old_value", "new_value")
    return [dict(zip(keys, r, strict=True)) for r in rows]


@guarded
def recent_loads(ws: Workspace, limit: int = 10) -> list[dict[str, Any]]:
    """The latest ``limit`` loads, newest first: what was loaded, by whom, and what changed."""
    cur = ws.cursor()
    try:
        cols = ("load_id", "side", "kind", "source_file", "format", "rows", "inserted",
                "updated", "unchanged", "missing", "reappeared", "loaded_by", "finished_at")
        rows = cur.execute(
            f"SELECT {', '.join(cols)} FROM loads ORDER BY load_id DESC LIMIT ?", [limit]  # noqa: S608 - fixed column names from the cols tuple; limit bound as ?
        ).fetchall()
    finally:
        cur.close()
    return [dict(zip(cols, r, strict=True)) for r in rows]


@dataclass
class Preview:
    """What loading a file would map, before anything is written: the column mapping as
    (header, field or 'extra', how) rows, and the first rows of the file."""

    columns: list[tuple[str, str, str]]
    rows: pd.DataFrame
    total: int
    #: Field -> header of every mapped field (a key column that also feeds its number field
    #: shows once in ``columns`` but is here twice).
    mapping: dict[str, str] = field(default_factory=dict)
    #: How the key and the parent were chosen (see :attr:`LoadResult.proposal`).
    proposal: list[str] = field(default_factory=list)
    #: Records of this side and kind in the workspace (not yet flagged missing) that the file
    #: lacks: a full load flags them missing, a partial load keeps them as they are. ``None``:
    #: not known (no workspace given, no key column, ERP companies without an actor type).
    absent: int | None = None


def preview(path: str | os.PathLike[str], *, side: str, kind: str,
            mapping: Mapping[str, str] | str | os.PathLike[str] | None = None,
            display: str | None = None, limit: int = 10,
            max_bytes: int | None = None, ws: Workspace | None = None,
            actor_type: str | None = None) -> Preview:
    """Read ``path`` and say how its columns would be mapped, the values' proposal included
    (raises the same :class:`IngestError` a load would for an unreadable file, a file above
    the size limit ``max_bytes`` or a bad mapping). Without ``ws`` it reads in a scratch
    database and cannot propose a parent; with it, it reads into temporary tables of a
    workspace cursor (dropped again: nothing is written) so the parent can be proposed from
    the loaded ERP companies, and :attr:`Preview.absent` counts the workspace's records the
    file lacks (``actor_type``: the type of ERP companies in a file without a type column, as
    :func:`load_file` takes it), so the steward sees what a full load would flag missing."""
    check_side_kind(side, kind)
    s: Side = side  # type: ignore[assignment]
    k: Kind = kind  # type: ignore[assignment]
    explicit, mapping_file = _explicit_mapping(mapping)
    constant_type = _constant_actor_type(s, k, actor_type)
    absent: int | None = None
    con = scratch() if ws is None else ws.cursor()
    try:
        src = read_source(con, path, display, max_bytes=max_bytes)
        cmap = map_columns(src.headers, s, k, explicit=explicit.columns,
                           file=src.display, mapping_file=mapping_file)
        propose_columns(con, cmap, s, k)
        _resolve_types(explicit.types, cmap, s, k, mapping_file or src.display)
        rows = con.execute(f"SELECT * EXCLUDE (_row) FROM {STAGE} LIMIT {int(limit)}").df()  # noqa: S608 - STAGE view, limit forced to int
        if ws is not None:
            absent = _absent_count(con, cmap, s, k, constant_type)
    finally:
        drop_stage(con)
        con.close()
    rows.columns = list(src.headers)[:len(rows.columns)]
    return Preview(cmap.describe(), rows, src.rows, cmap.as_dict(), cmap.key_lines(s, k),
                   absent)


def _absent_count(con: duckdb.DuckDBPyConnection, cmap: ColumnMapping, side: Side, kind: Kind,
                  constant_type: str | None) -> int | None:
    """How many present records of the target table the staged file lacks, in the scope a
    full load flags (:func:`_apply`: for ERP companies, the actor types the file holds). Never
    raises for bad values: an unknown actor type just matches nothing here (the load itself
    refuses it, naming the row), so the steward can still correct the mapping."""
    id_pos = cmap.fields.get("id")
    if id_pos is None:
        return None
    target = table_name(side, kind)
    id_sql = f"nullif(trim(c{id_pos}), '')"
    if side == "erp" and kind == "company":
        pos = cmap.fields.get("actor_type")
        if pos is None and constant_type is None:
            return None
        type_sql = sql_text(constant_type) if constant_type else "NULL"
        if pos is not None:
            values = [v for (v,) in con.execute(
                f"SELECT DISTINCT trim(c{pos}) FROM {STAGE} "  # noqa: S608 - STAGE column c<int> only
                f"WHERE nullif(trim(c{pos}), '') IS NOT NULL").fetchall()]
            cases = " ".join(f"WHEN {sql_text(v)} THEN {sql_text(a)}" for v in values
                             if (a := _actor_type_of(v, ACTOR_TYPES["company"])) is not None)
            if cases:
                type_sql = f"coalesce(CASE trim(c{pos}) {cases} END, {type_sql})"
        file_rows = f"SELECT DISTINCT {id_sql} AS id, {type_sql} AS actor_type FROM {STAGE}"  # noqa: S608 - STAGE c<int>; file values via sql_text
        scope = "o.actor_type IN (SELECT actor_type FROM f)"
        match = "f.id = o.id AND f.actor_type = o.actor_type"
    else:
        file_rows = f"SELECT DISTINCT {id_sql} AS id FROM {STAGE}"  # noqa: S608 - STAGE column c<int> only
        scope, match = "TRUE", "f.id = o.id"
    (count,) = con.execute(
        f"""WITH f AS ({file_rows})
            SELECT count(*) FROM {target} o
            WHERE o.missing_since IS NULL AND {scope}
              AND NOT EXISTS (SELECT 1 FROM f WHERE {match})"""  # noqa: S608 - target from table_name(); file_rows from STAGE c<int> and sql_text
    ).fetchone() or (0,)
    return int(count)
