"""Read an XLSX workbook (its first sheet) into the staging table.

Why this module: a workbook is a ZIP archive, and an archive's parts can inflate a thousand
times (a ZIP bomb, or a sheet of millions of empty formatted cells) while the reader holds a
whole sheet in memory; so the archive's directory is checked against the load limit before any
part is inflated. The reader is python-calamine, because DuckDB's excel extension is a run-time
download that locked-down machines cannot make. Cells become the text a CSV export of them would
hold, and what a workbook hides (merged cells, other sheets, a value without a header) is named
where a steward sees it.
"""

from __future__ import annotations

import datetime as dt
import struct
import zipfile
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from erpdata.errors import IngestError, column_letter
from erpdata.ingest.staging import (
    RAW,
    Source,
    _cell_range,
    _check_headers,
    _check_width,
    format_size,
)

# SQL built here (ruff S608): the constant tables RAW and _xlsx_arrow only.

#: An XLSX member that inflates more than this many times its compressed size is a ZIP bomb;
#: real sheets compress 5-30 times.
XLSX_MAX_RATIO = 100
#: Bytes of XML an XLSX may expand to, as a fraction of the load limit: the reader holds the
#: whole sheet in memory, about 4 bytes of memory per byte of XML.
XLSX_EXPANSION_SHARE = 4


def _cell_text(value: Any) -> str | None:
    """A spreadsheet cell as the text a CSV export of it would hold."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    return str(value)


#: A part of an XLSX smaller than this is never a bomb worth refusing, whatever its ratio.
_XLSX_SMALL_PART = 10 * 1024 * 1024


def _check_archive(path: Path, shown: str, limit: int) -> None:
    """Refuse a damaged XLSX, and a ZIP bomb, from the sizes its directory declares, before
    any part is inflated. (The XLSX reader stops at a part's declared size, so a part cannot
    lie its way past this check.)"""
    try:
        with zipfile.ZipFile(path) as archive:
            parts = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, struct.error) as exc:
        raise IngestError(
            shown, f"the workbook is damaged or incomplete (not a whole ZIP archive: {exc}): "
            "was the download or copy finished? Open it in Excel and save it again",
            row=1, column_index=0,
        ) from exc
    for part in parts:
        ratio = part.file_size / max(part.compress_size, 1)
        if part.file_size > _XLSX_SMALL_PART and ratio > XLSX_MAX_RATIO:
            raise IngestError(
                shown, f"the workbook's part {part.filename} would expand from "
                f"{format_size(part.compress_size)} to {format_size(part.file_size)} "
                f"({ratio:,.0f} times; real sheets compress 5 to 30 times): a ZIP bomb, or a "
                "sheet of millions of empty formatted cells. It is refused before it is "
                "expanded: delete the empty rows and columns and save again, or save the "
                "sheet as CSV", row=1, column_index=0,
            )
    total = sum(part.file_size for part in parts)
    allowed = limit // XLSX_EXPANSION_SHARE
    if total > allowed:
        raise IngestError(
            shown, f"the workbook expands to {format_size(total)} of XML, more than "
            f"{format_size(allowed)} (a quarter of the load limit: the XLSX reader holds a "
            "whole sheet in memory). Save the sheet as CSV, which loads in bounded memory, "
            "or raise the limit with ERPDATA_MAX_LOAD_MB", row=1, column_index=0,
        )


def _read_xlsx(con: duckdb.DuckDBPyConnection, path: Path, shown: str, fmt: str) -> Source:
    from python_calamine import CalamineError, CalamineWorkbook

    try:
        wb = CalamineWorkbook.from_path(str(path))
        names = list(wb.sheet_names)
        sheet = wb.get_sheet_by_index(0)
        rows = sheet.to_python(skip_empty_area=False)
        merged = list(getattr(sheet, "merged_cell_ranges", None) or [])
    except (CalamineError, ValueError, OSError, IndexError) as exc:
        raise IngestError(shown, f"the workbook is damaged or not a real XLSX ({exc}): open "
                          "it in Excel and save it again", row=1, column_index=0) from exc
    while rows and all(_cell_text(v) is None for v in rows[-1]):
        rows.pop()
    if not rows or all(_cell_text(v) is None for v in rows[0]):
        others = ", ".join(repr(n) for n in names[1:])
        where = (f"; the workbook's other sheets are {others}: move the data to the first "
                 "sheet, or save the sheet you want as a workbook of its own") if others else ""
        raise IngestError(shown, f"the first sheet{f' {names[0]!r}' if names else ''} is empty "
                          f"or its row 1 (the header) is blank{where}", row=1, column_index=0)
    headers = [(_cell_text(v) or "").strip() for v in rows[0]]
    while headers and not headers[-1]:
        headers.pop()
    _check_width(len(headers), shown)
    src = Source(path, shown, fmt, headers, len(rows) - 1)
    src.merged = [(int(a[0]), int(a[1]), int(b[0]), int(b[1])) for a, b in merged]
    if len(names) > 1:
        src.warnings.append(
            f"the workbook has {len(names)} sheets; only the first, {names[0]!r}, was read "
            f"(not {', '.join(repr(n) for n in names[1:])})"
        )
    if src.merged:
        first = src.merged[0]
        src.warnings.append(
            f"{len(src.merged)} range(s) of merged cells, first {_cell_range(first)}: only the "
            "first cell of a merged range holds its value, the others load as empty"
        )
    _check_headers(src)
    width = len(headers)
    columns: list[list[str | None]] = [[] for _ in range(width)]
    for r, row in enumerate(rows[1:], start=2):
        for c, value in enumerate(row):
            text = _cell_text(value)
            if c >= width:
                if text is not None:
                    title = (f"; row 1 holds a single cell ({headers[0]!r}): if that is a "
                             "title, delete the rows above the header so that the header is "
                             "on row 1") if width == 1 else ""
                    raise src.error(
                        f"column {column_letter(c)} has a value but no header (a ragged "
                        f"row){title}", row=r, column_index=width - 1,
                    )
                continue
            columns[c].append(text)
        for c in range(len(row), width):
            columns[c].append(None)
    table = pa.table(
        {"_row": pa.array(range(2, len(rows) + 1), pa.int32()),
         **{f"c{i}": pa.array(col, pa.string()) for i, col in enumerate(columns)}}
    )
    con.register("_xlsx_arrow", table)
    try:
        con.execute(f"CREATE TEMP TABLE {RAW} AS SELECT * FROM _xlsx_arrow")  # noqa: S608 - constant tables RAW and _xlsx_arrow
    finally:
        con.unregister("_xlsx_arrow")
    return src
