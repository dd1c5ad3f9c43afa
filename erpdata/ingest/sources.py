"""Read any export file into a DuckDB staging table of raw strings, one column per header.

Why this layer: real SuperOffice and ERP exports come as CSV with `,` `;` tab or `|`, in UTF-8
(with or without BOM), UTF-16 (Excel "Unicode text") or Windows-1252, and as XLSX, Parquet,
JSON and NDJSON. Everything after this module sees one shape: a temp table ``_stage`` with
``_row`` (the row a spreadsheet shows, or the record number) and ``c0..cN`` VARCHAR columns, and
the headers as written. Nothing here touches the workspace's own tables.

Speed: CSV, Parquet and JSON are read by DuckDB's own readers. Only files DuckDB cannot read
(Windows-1252 with bytes 0x80-0x9F, UTF-16) are transcoded to a temporary UTF-8 file first,
streaming in chunks, never whole-file in memory. XLSX is read with python-calamine, because
DuckDB's excel extension is a run-time download that locked-down machines cannot make.

This module is the entry: it checks the size, detects the format from the content, hands the
file to that format's reader (:mod:`.delimited_text`, :mod:`.spreadsheets`,
:mod:`.parquet_files`, :mod:`.json_documents`, all filling :mod:`.staging`'s table) and then
checks the staged values, whatever the format.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import duckdb

from erpdata.errors import ErpdataError, IngestError, column_letter
from erpdata.ingest.delimited_text import _bom_or_utf16, _read_csv, sniff_delimiter
from erpdata.ingest.json_documents import _read_json
from erpdata.ingest.parquet_files import _read_parquet
from erpdata.ingest.spreadsheets import _check_archive, _read_xlsx
from erpdata.ingest.staging import MAX_COLUMNS, RAW, STAGE, Source, format_size
from erpdata.sql import sql_text

__all__ = [
    "DEFAULT_MAX_LOAD_MB", "MAX_COLUMNS", "RAW", "STAGE", "Source", "check_size", "detect_format",
    "drop_stage", "format_size", "max_load_bytes", "read_source", "sniff_delimiter",
]

# SQL built here (ruff S608): tables are the constants RAW and STAGE, columns c<int>; a header
# is quoted by sql_text, a row number is bound as ``?``, and the regular expressions are this
# module's constants.

#: The load size limit when ``$ERPDATA_MAX_LOAD_MB`` is not set: a full SuperOffice or ERP
#: export of a few hundred thousand records is 100-300 MB; 1 GB leaves room and still loads
#: within a few GB of memory.
DEFAULT_MAX_LOAD_MB = 1024
_EXTENSIONS = {
    ".csv": "csv", ".txt": "csv", ".tsv": "csv", ".tab": "csv", ".psv": "csv",
    ".xlsx": "xlsx", ".xlsm": "xlsx",
    ".parquet": "parquet", ".pq": "parquet",
    ".json": "json", ".ndjson": "ndjson", ".jsonl": "ndjson",
}
_FORMAT_NAMES = {
    "csv": "CSV text", "xlsx": "an XLSX workbook", "parquet": "a Parquet file",
    "json": "JSON", "ndjson": "NDJSON (one JSON object per line)",
}


def max_load_bytes() -> int:
    """The load size limit in bytes: ``$ERPDATA_MAX_LOAD_MB`` megabytes, default 1024.

    Why a limit at all: every reader here is bounded in memory per row, but a 20 GB file still
    takes an hour and fills the disk with the workspace; a clear refusal up front is kinder.
    """
    raw = os.environ.get("ERPDATA_MAX_LOAD_MB", "").strip()
    if not raw:
        return DEFAULT_MAX_LOAD_MB * 1024 * 1024
    try:
        mb = float(raw)
    except ValueError:
        mb = -1.0
    if mb <= 0:
        raise ErpdataError(f"ERPDATA_MAX_LOAD_MB={raw!r} is not a positive number of megabytes "
                           f"(the default is {DEFAULT_MAX_LOAD_MB})")
    return int(mb * 1024 * 1024)


def check_size(size: int, shown: str, max_bytes: int | None = None) -> None:
    """Refuse a file of ``size`` bytes above the load limit, saying both and how to raise it.

    Used before anything is read (and by the Load page before an upload is even stored)."""
    limit = max_load_bytes() if max_bytes is None else max_bytes
    if size > limit:
        raise IngestError(
            shown,
            f"the file is {format_size(size)} ({size:,} bytes), more than the load limit of "
            f"{format_size(limit)}: split the export into smaller files, or raise the limit "
            "with the environment variable ERPDATA_MAX_LOAD_MB (in megabytes, e.g. "
            f"ERPDATA_MAX_LOAD_MB={max(2 * limit // (1024 * 1024), 1)}) if this machine has "
            "the memory and disk for it",
        )


def read_source(
    con: duckdb.DuckDBPyConnection, path: str | os.PathLike[str], display: str | None = None,
    max_bytes: int | None = None,
) -> Source:
    """Read ``path`` into the temp table ``_stage`` on ``con`` and describe what was read.

    ``max_bytes``: refuse a bigger file before reading it (default :func:`max_load_bytes`)."""
    p = Path(path)
    shown = display or str(path)
    if not p.is_file():
        raise IngestError(shown, "no such file" if not p.exists() else "this is not a file")
    size = p.stat().st_size
    if size == 0:
        raise IngestError(shown, "the file is empty (0 bytes): was the export finished?",
                          row=1, column_index=0)
    limit = max_load_bytes() if max_bytes is None else max_bytes
    check_size(size, shown, limit)
    fmt = detect_format(p, shown)
    drop_stage(con)
    if fmt == "xlsx":
        _check_archive(p, shown, limit)
    reader = {"csv": _read_csv, "xlsx": _read_xlsx, "parquet": _read_parquet,
              "json": _read_json, "ndjson": _read_json}[fmt]
    src = reader(con, p, shown, fmt)
    if fmt == "csv":  # rowid follows file order: RAW is built by one ordered CREATE TABLE AS
        con.execute(
            f"CREATE TEMP VIEW {STAGE} AS SELECT (rowid - (SELECT min(rowid) FROM {RAW}) + 2)"  # noqa: S608 - constant tables RAW and STAGE
            f"::INTEGER AS _row, * FROM {RAW}"
        )
    else:
        con.execute(f"CREATE TEMP VIEW {STAGE} AS SELECT * FROM {RAW}")  # noqa: S608 - constant tables RAW and STAGE
    if src.rows == 0:
        if src.row_label == "row":
            raise src.error("the file has a header but no data rows: an empty export would "
                            "flag every record as missing, so it is refused", row=2,
                            column_index=0)
        raise src.error("the file holds no records: an empty export would flag every record "
                        "as missing, so it is refused", row=1)
    _check_values(con, src)
    return src


# A value a spreadsheet would run as a formula (or a DDE command) when the data is exported and
# opened again; a phone number such as +47 22 or a negative amount is not one.
_FORMULA_SQL = r"^\s*(=|@|[+-][^0-9 .,()+-])"
#: The same, at the start of any value of a row's values joined by U+001F.
_FORMULA_IN_LINE = r"(^|\x1f)\s*(=|@|[+-][^0-9 .,()+-])"
#: Columns checked per query by :func:`_check_values`.
_CHECK_SLICE = 64


def _check_values(con: duckdb.DuckDBPyConnection, src: Source) -> None:
    """Refuse NUL characters, strip stray byte-order marks, refuse a repeated header row and
    warn about formula-like text: one scan of the staged values, whatever the format.

    Why here: these are invisible in a spreadsheet and harmful later (a NUL cuts a value short
    in other programs, a U+FEFF makes two equal names differ, a header row in the middle is a
    record with the id 'id'), so they are caught before the rows reach the workspace."""
    width = len(src.headers)
    if width == 0:
        return
    per = _value_findings(con, width)
    nul = [(row, i) for i, (row, *_rest) in enumerate(per) if row is not None]
    if nul:
        row, i = min(nul)
        raise src.error(
            "this value holds a NUL character (byte 0x00). Exports never hold one: the file is "
            "damaged (a disk that ran full or an interrupted copy pads files with NUL bytes) "
            "or is not a text export. Export it again, or remove the NUL characters",
            row=int(row), column_index=i,
        )
    boms = [(row, i, n) for i, (_, row, n, _f, _fn) in enumerate(per) if row is not None]
    if boms:
        for _row, i, _n in boms:
            con.execute(f"UPDATE {RAW} SET c{i} = replace(c{i}, chr(65279), '') "  # noqa: S608 - RAW and columns c<int>
                        f"WHERE contains(c{i}, chr(65279))")
        row, i, _ = min(boms)
        src.warnings.append(
            f"{sum(n for *_, n in boms)} value(s) held an invisible byte-order mark (U+FEFF), "
            f"first in {src.row_label} {row}, column {_describe(src, i)}; it was removed (a "
            "file joined from two exports often has one)"
        )
    if src.row_label == "row":
        same = " AND ".join(f"trim(c{i}) IS NOT DISTINCT FROM {sql_text(h)}"
                            for i, h in enumerate(src.headers))
        again = con.execute(f"SELECT min(_row) FROM {STAGE} WHERE {same}").fetchone()  # noqa: S608 - STAGE c<int>; headers quoted by sql_text
        if again is not None and again[0] is not None:
            raise src.error(
                "this row repeats the header row: two exports joined into one file? Remove the "
                "second header row (and check the rows after it belong in this file)",
                row=int(again[0]), column_index=0,
            )
    formulas = [(row, i, n) for i, (*_, row, n) in enumerate(per) if row is not None]
    if formulas:
        row, i, _ = min(formulas)
        (value,) = con.execute(
            f"SELECT c{i} FROM {STAGE} WHERE _row = ?", [row]  # noqa: S608 - STAGE c<int>; row bound as ?
        ).fetchone() or ("",)
        shown = value if len(value) <= 40 else value[:37] + "..."
        src.warnings.append(
            f"{sum(n for *_, n in formulas)} value(s) look like spreadsheet formulas, first in "
            f"{src.row_label} {row}, column {_describe(src, i)}: {shown!r}; they are kept as "
            "text and never run here, and reports neutralise them"
        )


def _value_findings(con: duckdb.DuckDBPyConnection, width: int) -> list[tuple[Any, ...]]:
    """Per staged column: first row with a NUL, first row and count of values with a U+FEFF,
    first row and count of formula-like values; empty when no value has any of them.

    Why two steps: the per-column scan costs a query of five aggregates per column (in slices:
    one query of 5 x 4,096 aggregates needs tens of GB in DuckDB, and even sliced a 4,096-column
    file took 23 s), so one pass over each row's values joined by U+001F says first whether
    there is anything to find at all, which there seldom is."""
    line = "concat_ws(chr(31), " + ", ".join(f"c{i}" for i in range(width)) + ")"
    (anything,) = con.execute(
        f"SELECT bool_or(contains({line}, chr(0)) OR contains({line}, chr(65279)) OR "  # noqa: S608 - STAGE c<int>; the regex a module constant
        f"regexp_matches({line}, '{_FORMULA_IN_LINE}')) "
        f"FROM {STAGE}").fetchone() or (False,)
    if not anything:
        return []
    per: list[tuple[Any, ...]] = []
    for start in range(0, width, _CHECK_SLICE):
        aggs = []
        for i in range(start, min(start + _CHECK_SLICE, width)):
            c = f"c{i}"
            formula = (f"left(ltrim({c}), 1) IN ('=', '@', '+', '-') "
                       f"AND regexp_matches({c}, '{_FORMULA_SQL}')")
            aggs += [f"min(_row) FILTER (WHERE contains({c}, chr(0)))",
                     f"min(_row) FILTER (WHERE contains({c}, chr(65279)))",
                     f"count(*) FILTER (WHERE contains({c}, chr(65279)))",
                     f"min(_row) FILTER (WHERE {formula})",
                     f"count(*) FILTER (WHERE {formula})"]
        found = con.execute(f"SELECT {', '.join(aggs)} FROM {STAGE}").fetchone() or ()  # noqa: S608 - STAGE c<int>; the regex a module constant
        per += [tuple(found[k: k + 5]) for k in range(0, len(found), 5)]
    return per


def _describe(src: Source, index: int) -> str:
    """``'name' (B)``: a column as a spreadsheet user sees it."""
    return f"'{src.headers[index]}' ({column_letter(index)})"


def drop_stage(con: duckdb.DuckDBPyConnection) -> None:
    """Remove the staging objects of a previous read on this connection."""
    con.execute(f"DROP VIEW IF EXISTS {STAGE}")
    for table in (RAW, "_rej_errors", "_rej_scans"):
        con.execute(f"DROP TABLE IF EXISTS {table}")


# --- format ----------------------------------------------------------------------------------

def detect_format(path: Path, shown: str) -> str:
    """The file's format from its content, checked against its extension."""
    with path.open("rb") as f:
        head = f.read(65536)
    content = _sniff_content(head)
    expected = _EXTENSIONS.get(path.suffix.lower())
    if content == "encrypted":
        raise IngestError(
            shown, "the workbook is password-protected (encrypted), so it cannot be read: open "
            "it in Excel, remove the password (File > Info > Protect Workbook > Encrypt with "
            "Password, empty it), save, and load it again", row=1, column_index=0,
        )
    if expected == "json" and content == "csv":
        scalar = _json_scalar(head, path.stat().st_size)
        if scalar is not None:
            raise IngestError(
                shown, f"the file holds a single JSON {scalar}, not an array of records "
                '([{"id": ...}, ...]) nor one record per line; export the records again',
                row=1, row_label="record",
            )
    if content in ("xls", "pdf", "zip", "binary"):
        what = {"xls": "an old Excel 97-2003 .xls workbook; save it as .xlsx or CSV",
                "pdf": "a PDF document, not a data export",
                "zip": "a zip archive, not an XLSX workbook; unzip it first",
                "binary": "binary data, not a text export (unreadable encoding)"}[content]
        raise IngestError(shown, f"this file is {what}", row=1, column_index=0)
    if expected is None:
        return content
    if expected == "ndjson" and content == "json" and head.lstrip(b"\xef\xbb\xbf \t\r\n"
                                                                  ).startswith(b"{"):
        return "ndjson"  # one record on one line is NDJSON too
    if expected == content or (expected == "json" and content == "ndjson") or (
        expected == "ndjson" and content == "json"
    ):
        return content
    if expected == "csv" and content in ("json", "ndjson"):
        return "csv"  # a one-column CSV whose first value starts with a bracket
    raise IngestError(
        shown,
        f"the extension says {_FORMAT_NAMES[expected]}, but the content is "
        f"{_FORMAT_NAMES[content]}; rename the file to match its content or export it again",
        row=1, column_index=0,
    )


def _sniff_content(head: bytes) -> str:
    if head.startswith(b"PK\x03\x04"):
        return "xlsx" if b"[Content_Types].xml" in head or b"xl/" in head else "zip"
    if head.startswith(b"PAR1"):
        return "parquet"
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        # An encrypted XLSX is an OLE container too; its streams are named in UTF-16.
        return "encrypted" if "EncryptedPackage".encode("utf-16-le") in head else "xls"
    if head.startswith(b"%PDF"):
        return "pdf"
    enc = _bom_or_utf16(head)
    if enc is None and _looks_binary(head):
        return "binary"
    text = head.decode(enc or "utf-8", errors="replace").lstrip("\ufeff \t\r\n")
    if text.startswith("["):
        return "json"
    if text.startswith("{"):
        first, _, rest = text.partition("\n")
        return "ndjson" if rest.lstrip().startswith("{") and _is_json(first) else "json"
    return "csv"


# Control bytes no text export holds (tab, line feed, form feed, carriage return and ESC aside).
_CONTROL = re.compile(rb"[\x01-\x08\x0e-\x1a\x1c-\x1f]")


def _looks_binary(head: bytes) -> bool:
    """Binary data, as opposed to a text export with a few NUL bytes in it (which is refused
    later, at the row and column of the first NUL): control bytes, or NULs in bulk."""
    nuls = head.count(0)
    return nuls > 0 and (bool(_CONTROL.search(head)) or nuls > 0.1 * len(head))


def _json_scalar(head: bytes, size: int) -> str | None:
    """``number 42`` when the whole (small) file is one JSON scalar, else None."""
    if size > len(head):
        return None
    try:
        value = json.loads(head.decode("utf-8-sig"))
    except (ValueError, RecursionError):
        return None
    if isinstance(value, (dict, list)):
        return None
    kind = {bool: "boolean", str: "string", type(None): "null"}.get(type(value), "number")
    text = json.dumps(value)
    return f"{kind} {text if len(text) <= 40 else text[:37] + '...'}"


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    except RecursionError:  # deeply nested, but JSON: the reader says where it goes wrong
        return True
    return True
