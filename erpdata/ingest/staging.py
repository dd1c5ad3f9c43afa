"""The staging table every reader fills, and the record of what was read.

Why this module: each format's reader (:mod:`.delimited_text`, :mod:`.spreadsheets`,
:mod:`.parquet_files`, :mod:`.json_documents`) ends in the same shape, a temp table ``_raw`` of
``c0..cN`` VARCHAR columns and a :class:`Source` naming the headers. What they share lives here
once: the record itself, the column limit checked before any row is read, blank and duplicate
headers named, and the typed formats' values written as the text an export would hold. The
readers need only this module, so :mod:`.sources` imports every reader without a cycle.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from erpdata.errors import IngestError, column_letter
from erpdata.sql import sql_ident

# SQL built here (ruff S608): the table is the constant RAW, columns c<int>; a column name from
# the file is quoted by sql_ident, and the file's path is bound as ``?``.

STAGE = "_stage"  # a view: _row + c0..cN over RAW
RAW = "_raw"
#: Most columns a file may have. Excel stops at 16,384; the widest real exports we have seen have
#: a few hundred. 100,000 columns took 78 s and 2.6 GB to load before this limit.
MAX_COLUMNS = 4096


@dataclass
class Source:
    """A file read into the staging table: what it was and how it was read."""

    path: Path
    display: str
    format: str
    headers: list[str]
    rows: int
    encoding: str | None = None
    delimiter: str | None = None
    row_label: str = "row"
    warnings: list[str] = field(default_factory=list)
    #: XLSX merged cell ranges as 0-based (first row, first column, last row, last column).
    merged: list[tuple[int, int, int, int]] = field(default_factory=list)

    def error(
        self, message: str, row: int | None = None, column_index: int | None = None
    ) -> IngestError:
        """An :class:`IngestError` located in this file, naming the header of ``column_index``."""
        column = (
            self.headers[column_index]
            if column_index is not None and column_index < len(self.headers)
            else None
        )
        if row is not None and column_index is not None:
            for rng in self.merged:  # the usual cause of an empty cell in an XLSX
                if rng[0] <= row - 1 <= rng[2] and rng[1] <= column_index <= rng[3]:
                    message += (f" (the cell is part of the merged cells {_cell_range(rng)}: "
                                "unmerge them and fill in every row)")
                    break
        return IngestError(
            self.display, message, row=row, column=column, column_index=column_index,
            row_label=self.row_label,
        )


def format_size(size: int) -> str:
    """``2.0 GB``, ``12.5 MB``, ``800 bytes``: sizes as a steward reads them (binary units)."""
    for unit, factor in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if size >= factor:
            return f"{size / factor:.1f} {unit}"
    return f"{size} bytes"


def _check_width(width: int, shown: str, row_label: str = "row") -> None:
    """Refuse more than MAX_COLUMNS columns before any row is read."""
    if width > MAX_COLUMNS:
        raise IngestError(
            shown, f"the header has {width:,} columns; at most {MAX_COLUMNS:,} are supported. "
            "A wrong delimiter, or a file that is not a table? Remove the columns you do not "
            "need, or export a narrower file", row=1, column_index=MAX_COLUMNS,
            row_label=row_label,
        )


def _check_headers(src: Source) -> None:
    """Name blank headers after their letter and make duplicates distinct, with warnings."""
    seen: Counter[str] = Counter()
    for i, h in enumerate(src.headers):
        if not h:
            src.headers[i] = h = f"column {column_letter(i)}"
            src.warnings.append(f"column {column_letter(i)} has no header; kept as '{h}'")
        seen[h] += 1
        if seen[h] > 1:
            new = f"{h} ({seen[h]})"
            src.warnings.append(
                f"header '{h}' appears more than once; column {column_letter(i)} kept as '{new}'"
            )
            src.headers[i] = new


def _cell_range(rng: tuple[int, int, int, int]) -> str:
    """``A2:A3`` for 0-based (first row, first column, last row, last column)."""
    return (f"{column_letter(rng[1])}{rng[0] + 1}:{column_letter(rng[3])}{rng[2] + 1}")


# --- typed formats (Parquet, JSON) -----------------------------------------------------------

def _as_text(name: str, type_: str, whole_doubles: bool = False) -> str:
    """SQL turning a typed column into the text an export would hold.

    ``whole_doubles`` (JSON): a DOUBLE that holds a whole number is written without ".0". The
    JSON reader makes a column DOUBLE when one record has 1.5 or 1.0, which would turn every
    id 7 of that column into "7.0"; JSON itself does not tell 7 from 7.0."""
    col = sql_ident(name)
    t = type_.upper()
    if t.startswith(("STRUCT", "MAP", "UNION", "JSON")) or t.endswith("]"):
        return f"to_json({col})::VARCHAR"
    if t == "DATE":
        return f"strftime({col}, '%Y-%m-%d')"
    if t.startswith("TIMESTAMP"):
        return f"strftime({col}, '%Y-%m-%d %H:%M:%S')"
    if t == "BLOB":
        return f"hex({col})"
    if whole_doubles and t in ("DOUBLE", "FLOAT", "REAL"):
        return (f"CASE WHEN {col} = trunc({col}) AND abs({col}) < 1e15 "
                f"THEN {col}::BIGINT::VARCHAR ELSE {col}::VARCHAR END")
    return f"{col}::VARCHAR"


def _stage_typed(con: duckdb.DuckDBPyConnection, src: Source, relation: str, params: list[Any],
                 rownum: str, whole_doubles: bool = False) -> None:
    described = con.execute(f"DESCRIBE SELECT * FROM {relation}", params).fetchall()  # noqa: S608 - relation a fixed reader call with columns via sql_text; path bound as ?
    names = [(r[0], r[1]) for r in described if r[0] != "file_row_number"]
    _check_width(len(names), src.display, src.row_label)
    src.headers = [n for n, _ in names]
    _check_headers(src)
    cols = ", ".join(f"{_as_text(n, t, whole_doubles)} AS c{i}"
                     for i, (n, t) in enumerate(names))
    con.execute(
        f"CREATE TEMP TABLE {RAW} AS SELECT ({rownum})::INTEGER AS _row, {cols} "  # noqa: S608 - names via sql_ident in _as_text(); relation fixed, path bound as ?
        f"FROM {relation}", params,
    )
    (n,) = con.execute(f"SELECT count(*) FROM {RAW}").fetchone() or (0,)  # noqa: S608 - constant table RAW
    src.rows = int(n)


def _duck_message(exc: Exception) -> str:
    """DuckDB's reason without the SQL it quotes and the (maybe temporary) file path."""
    text = str(exc).split("\n\nLINE ")[0].strip()
    text = re.sub(r"\s+(in|of) file '[^']*'|\s*file = \S+", "", text)
    text = re.sub(r"^[A-Za-z ]+ Error: ", "", text)
    return text.splitlines()[0] if text else type(exc).__name__
