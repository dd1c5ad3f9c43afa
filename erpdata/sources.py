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
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import json
import os
import re
import tempfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import duckdb
import pyarrow as pa

from erpdata.errors import IngestError, column_letter

STAGE = "_stage"  # a view: _row + c0..cN over RAW
RAW = "_raw"
CHUNK = 16 * 1024 * 1024
DELIMITERS = (",", ";", "\t", "|")
_DELIM_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
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
# A valid multi-byte UTF-8 sequence: in a file that is otherwise not UTF-8 it means mixed encodings.
_UTF8_MULTIBYTE = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}"
)


def _cp1252_fallback(err: UnicodeError) -> tuple[str, int]:
    """Bytes Windows-1252 leaves undefined (0x81 0x8D 0x8F 0x90 0x9D) decode as Latin-1."""
    assert isinstance(err, UnicodeDecodeError)
    return err.object[err.start:err.end].decode("latin-1"), err.end


codecs.register_error("erpdata_latin1", _cp1252_fallback)


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

    def error(
        self, message: str, row: int | None = None, column_index: int | None = None
    ) -> IngestError:
        """An :class:`IngestError` located in this file, naming the header of ``column_index``."""
        column = (
            self.headers[column_index]
            if column_index is not None and column_index < len(self.headers)
            else None
        )
        return IngestError(
            self.display, message, row=row, column=column, column_index=column_index,
            row_label=self.row_label,
        )


def read_source(
    con: duckdb.DuckDBPyConnection, path: str | os.PathLike[str], display: str | None = None
) -> Source:
    """Read ``path`` into the temp table ``_stage`` on ``con`` and describe what was read."""
    p = Path(path)
    shown = display or str(path)
    if not p.is_file():
        raise IngestError(shown, "no such file" if not p.exists() else "this is not a file")
    if p.stat().st_size == 0:
        raise IngestError(shown, "the file is empty (0 bytes): was the export finished?",
                          row=1, column_index=0)
    fmt = detect_format(p, shown)
    drop_stage(con)
    reader = {"csv": _read_csv, "xlsx": _read_xlsx, "parquet": _read_parquet,
              "json": _read_json, "ndjson": _read_json}[fmt]
    src = reader(con, p, shown, fmt)
    if fmt == "csv":  # rowid follows file order: RAW is built by one ordered CREATE TABLE AS
        con.execute(
            f"CREATE TEMP VIEW {STAGE} AS SELECT (rowid - (SELECT min(rowid) FROM {RAW}) + 2)"
            f"::INTEGER AS _row, * FROM {RAW}"
        )
    else:
        con.execute(f"CREATE TEMP VIEW {STAGE} AS SELECT * FROM {RAW}")
    if src.rows == 0:
        raise src.error("the file has a header but no data rows: an empty export would flag "
                        "every record as missing, so it is refused", row=2, column_index=0)
    return src


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
    if content in ("xls", "pdf", "zip", "binary"):
        what = {"xls": "an old Excel 97-2003 .xls workbook; save it as .xlsx or CSV",
                "pdf": "a PDF document, not a data export",
                "zip": "a zip archive, not an XLSX workbook; unzip it first",
                "binary": "binary data, not a text export (unreadable encoding)"}[content]
        raise IngestError(shown, f"this file is {what}", row=1, column_index=0)
    if expected is None:
        return content
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
        return "xls"
    if head.startswith(b"%PDF"):
        return "pdf"
    enc = _bom_or_utf16(head)
    if enc is None and b"\x00" in head:
        return "binary"
    text = head.decode(enc or "utf-8", errors="replace").lstrip("\ufeff \t\r\n")
    if text.startswith("["):
        return "json"
    if text.startswith("{"):
        first, _, rest = text.partition("\n")
        return "ndjson" if rest.lstrip().startswith("{") and _is_json(first) else "json"
    return "csv"


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def _bom_or_utf16(head: bytes) -> str | None:
    """``utf-8-sig``/``utf-16`` for a BOM, ``utf-16-le``/``-be`` for BOM-less UTF-16, else None."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    sample = head[:4096]
    if len(sample) >= 4:
        odd_nuls = sample[1::2].count(0)
        even_nuls = sample[0::2].count(0)
        half = len(sample) // 2
        if odd_nuls > 0.4 * half and even_nuls < 0.1 * half:
            return "utf-16-le"
        if even_nuls > 0.4 * half and odd_nuls < 0.1 * half:
            return "utf-16-be"
    return None


# --- CSV -------------------------------------------------------------------------------------

def _read_csv(con: duckdb.DuckDBPyConnection, path: Path, shown: str, fmt: str) -> Source:
    with path.open("rb") as f:
        head = f.read(65536)
    encoding = _bom_or_utf16(head) or _utf8_or_cp1252(path, shown)
    head_text = head.decode(encoding, errors="replace").lstrip("\ufeff")
    delimiter = sniff_delimiter(head_text)
    readable = path
    tmp: Path | None = None
    if encoding not in ("utf-8", "utf-8-sig"):
        tmp = _transcode(path, shown, encoding, delimiter)
        readable = tmp
    try:
        headers = _csv_headers(readable, delimiter, shown)
        src = Source(path, shown, fmt, headers, 0, encoding=encoding, delimiter=delimiter)
        _check_headers(src)
        _duckdb_csv(con, readable, src)
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
    if encoding in ("cp1252", "utf-16", "utf-16-le", "utf-16-be"):
        src.warnings.append(f"the file is {encoding}, not UTF-8; it was converted on reading")
    return src


def sniff_delimiter(text: str) -> str:
    """Pick `,` `;` tab or `|`: the one that splits the first records into the most consistent,
    widest rows (quotes respected). A value with a comma in a `;` file does not fool it."""
    lines = text.splitlines(keepends=True)
    if len(lines) > 1 and not text.endswith(("\n", "\r")):
        lines = lines[:-1]  # drop a record cut by the sample boundary
    sample = "".join(lines[:200])
    best, best_score = ",", (0.0, 0)
    for delim in DELIMITERS:
        try:
            widths = [len(r) for r in csv.reader(io.StringIO(sample), delimiter=delim) if r]
        except csv.Error:
            continue
        if not widths:
            continue
        mode, freq = Counter(widths).most_common(1)[0]
        score = (freq / len(widths), mode) if mode > 1 else (0.0, 1)
        if score > best_score:
            best, best_score = delim, score
    return best


def _csv_headers(path: Path, delimiter: str, shown: str, encoding: str = "utf-8") -> list[str]:
    enc = "utf-8-sig" if encoding.startswith("utf-8") else encoding
    with path.open("r", encoding=enc, errors="replace", newline="") as f:
        try:
            header = next(csv.reader(f, delimiter=delimiter), None)
        except csv.Error as exc:
            raise IngestError(shown, f"the header row cannot be read: {exc}", row=1) from exc
    if not header or all(not h.strip() for h in header):
        raise IngestError(shown, "the first row is empty; the header must be on row 1",
                          row=1, column_index=0)
    return [h.strip() for h in header]


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


def _duckdb_csv(con: duckdb.DuckDBPyConnection, path: Path, src: Source) -> None:
    cols = ", ".join(f"'c{i}': 'VARCHAR'" for i in range(len(src.headers)))
    con.execute("DROP TABLE IF EXISTS _rej_errors")
    con.execute("DROP TABLE IF EXISTS _rej_scans")
    try:
        con.execute(
            f"""CREATE TEMP TABLE {RAW} AS
              SELECT * FROM read_csv(?, delim = ?, quote = '"', escape = '"', header = true,
                auto_detect = false, columns = {{{cols}}}, strict_mode = true,
                null_padding = false, store_rejects = true, rejects_table = '_rej_errors',
                rejects_scan = '_rej_scans', max_line_size = 4000000, parallel = true)""",
            [str(path), src.delimiter],
        )
    except duckdb.Error as exc:
        raise src.error(f"the file cannot be read as {_DELIM_NAMES[src.delimiter or ',']}-"
                        f"separated text: {exc}", row=None) from exc
    reject = con.execute(
        "SELECT line_byte_position, byte_position, column_idx, error_type, error_message "
        "FROM _rej_errors ORDER BY line_byte_position LIMIT 1"
    ).fetchone()
    if reject is None:
        (n,) = con.execute(f"SELECT count(*) FROM {RAW}").fetchone() or (0,)
        src.rows = int(n)
        return
    line_pos, _byte_pos, col_idx, kind, msg = reject
    row, _ = _locate(path, int(line_pos), src.delimiter or ",")
    width = len(src.headers)
    found = _count_fields(msg)
    if kind == "MISSING COLUMNS":
        raise src.error(
            f"this row has {found} values but the header has {width} columns (a ragged row: "
            "a missing delimiter, or a line break inside an unquoted value?)",
            row=row, column_index=min(found, width - 1),
        )
    if kind == "TOO MANY COLUMNS":
        raise src.error(
            f"this row has {found} values but the header has only {width} columns (a ragged "
            "row: a delimiter inside an unquoted value?); the extra value starts in column "
            f"{column_letter(width)}", row=row, column_index=width - 1,
        )
    if kind == "UNQUOTED VALUE":
        raise src.error("a quoted value is not closed, or has text after its closing quote",
                        row=row, column_index=int(col_idx) - 1 if col_idx else 0)
    raise src.error(f"this row cannot be read ({kind.lower()}): {msg}", row=row,
                    column_index=int(col_idx) - 1 if col_idx else None)


def _count_fields(message: str) -> int:
    m = re.search(r"Found:\s*(\d+)", message or "")
    return int(m.group(1)) if m else 0


# --- encodings -------------------------------------------------------------------------------

def _utf8_or_cp1252(path: Path, shown: str) -> str:
    """``utf-8`` when every byte is valid UTF-8, else ``cp1252``, unless the file mixes the two."""
    bad = _first_invalid_utf8(path)
    if bad is None:
        return "utf-8"
    if _has_utf8_multibyte(path):
        head = path.read_bytes()[:65536].decode("utf-8", errors="replace")
        delim = sniff_delimiter(head)
        with path.open("rb") as f:
            f.seek(bad)
            byte = f.read(1)
        raise _encoding_error(
            path, shown, "utf-8", delim, bad,
            f"byte 0x{byte.hex().upper()} is not valid UTF-8, while other parts of the file are "
            "UTF-8: the file mixes encodings (unreadable encoding). Export it again as UTF-8.",
        )
    return "cp1252"


def _first_invalid_utf8(path: Path) -> int | None:
    """Byte offset of the first byte that is not valid UTF-8, or None."""
    carry = b""
    offset = 0  # file offset of data[0]
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            data = carry + chunk
            try:
                data.decode("utf-8")
            except UnicodeDecodeError as exc:
                if exc.reason == "unexpected end of data" and exc.end == len(data):
                    carry = data[exc.start:]
                    offset += exc.start
                    continue
                return offset + exc.start
            carry = b""
            offset += len(data)
    return offset if carry else None


def _has_utf8_multibyte(path: Path) -> bool:
    with path.open("rb") as f:
        tail = b""
        while chunk := f.read(CHUNK):
            if _UTF8_MULTIBYTE.search(tail + chunk):
                return True
            tail = chunk[-3:]
    return False


def _transcode(path: Path, shown: str, encoding: str, delimiter: str) -> Path:
    """Stream ``path`` into a temporary UTF-8 file; a byte that cannot decode is an error."""
    errors = "erpdata_latin1" if encoding == "cp1252" else "strict"
    decoder = codecs.getincrementaldecoder(encoding)(errors=errors)
    fd, name = tempfile.mkstemp(prefix="erpdata-", suffix=".csv")
    out = Path(name)
    consumed = 0
    try:
        with path.open("rb") as f, os.fdopen(fd, "w", encoding="utf-8", newline="") as w:
            while chunk := f.read(CHUNK):
                try:
                    w.write(decoder.decode(chunk).lstrip("\ufeff") if consumed == 0
                            else decoder.decode(chunk))
                except UnicodeDecodeError as exc:
                    bad = consumed + max(exc.start - (len(exc.object) - len(chunk)), 0)
                    raise _encoding_error(path, shown, encoding, delimiter, bad) from exc
                consumed += len(chunk)
            try:
                w.write(decoder.decode(b"", final=True))
            except UnicodeDecodeError as exc:
                raise _encoding_error(path, shown, encoding, delimiter, consumed) from exc
    except BaseException:
        out.unlink(missing_ok=True)
        raise
    return out


def _encoding_error(
    path: Path, shown: str, encoding: str, delim: str, offset: int, message: str | None = None
) -> IngestError:
    """An error at byte ``offset``, located as (row, column) with the column's header."""
    row, col = _locate(path, offset, delim, encoding=encoding)
    headers = _csv_headers(path, delim, shown, encoding) if row > 1 else []
    return IngestError(
        shown,
        message or f"the file looks like {encoding.upper()} but the bytes at offset {offset} "
        "cannot be decoded (unreadable encoding); export it again as UTF-8",
        row=row, column=headers[col] if col < len(headers) else None, column_index=col,
    )


class _Prefix(io.RawIOBase):
    """The first ``limit`` bytes of a binary file, as a stream (for locating an error)."""

    def __init__(self, f: BinaryIO, limit: int) -> None:
        self._f, self._left = f, limit

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        if self._left <= 0:
            return 0
        data = self._f.read(min(len(b), self._left))
        b[: len(data)] = data
        self._left -= len(data)
        return len(data)


def _locate(path: Path, offset: int, delimiter: str, encoding: str = "utf-8") -> tuple[int, int]:
    """(spreadsheet row, 0-based column) of byte ``offset``: records are counted, so a quoted
    value spanning lines counts as one row, as in a spreadsheet."""
    enc = "utf-8-sig" if encoding.startswith("utf-8") else encoding
    with path.open("rb") as f:
        text = io.TextIOWrapper(io.BufferedReader(_Prefix(f, offset)), encoding=enc,
                                errors="replace", newline="")
        records = 0
        last: list[str] = []
        for rec in csv.reader(_tail_marker(text), delimiter=delimiter):
            records += 1
            last = rec
    if last == ["\x00END"]:  # the offset is at the start of a record
        return records, 0
    return max(records, 1), max(len(last) - 1, 0)


def _tail_marker(text: io.TextIOBase) -> Iterator[str]:
    """Lines of ``text``; if it ends on a line break, a marker record follows for the next row."""
    last = ""
    for line in text:
        last = line
        yield line
    if not last or last.endswith(("\n", "\r")):
        yield "\x00END"


# --- XLSX ------------------------------------------------------------------------------------

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


def _read_xlsx(con: duckdb.DuckDBPyConnection, path: Path, shown: str, fmt: str) -> Source:
    from python_calamine import CalamineError, CalamineWorkbook

    try:
        wb = CalamineWorkbook.from_path(str(path))
        rows = wb.get_sheet_by_index(0).to_python(skip_empty_area=False)
    except (CalamineError, ValueError, OSError) as exc:
        raise IngestError(shown, f"the workbook cannot be read: {exc}", row=1,
                          column_index=0) from exc
    while rows and all(_cell_text(v) is None for v in rows[-1]):
        rows.pop()
    if not rows or all(_cell_text(v) is None for v in rows[0]):
        raise IngestError(shown, "the first sheet is empty or its row 1 (the header) is blank",
                          row=1, column_index=0)
    headers = [(_cell_text(v) or "").strip() for v in rows[0]]
    while headers and not headers[-1]:
        headers.pop()
    src = Source(path, shown, fmt, headers, len(rows) - 1)
    _check_headers(src)
    width = len(headers)
    columns: list[list[str | None]] = [[] for _ in range(width)]
    for r, row in enumerate(rows[1:], start=2):
        for c, value in enumerate(row):
            text = _cell_text(value)
            if c >= width:
                if text is not None:
                    raise src.error(
                        f"column {column_letter(c)} has a value but no header (a ragged row)",
                        row=r, column_index=width - 1,
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
        con.execute(f"CREATE TEMP TABLE {RAW} AS SELECT * FROM _xlsx_arrow")
    finally:
        con.unregister("_xlsx_arrow")
    return src


# --- Parquet and JSON ------------------------------------------------------------------------

def _as_text(name: str, type_: str) -> str:
    """SQL turning a typed column into the text an export would hold."""
    col = f'"{name}"'
    t = type_.upper()
    if t.startswith(("STRUCT", "MAP", "UNION", "JSON")) or t.endswith("]"):
        return f"to_json({col})::VARCHAR"
    if t == "DATE":
        return f"strftime({col}, '%Y-%m-%d')"
    if t.startswith("TIMESTAMP"):
        return f"strftime({col}, '%Y-%m-%d %H:%M:%S')"
    if t == "BLOB":
        return f"hex({col})"
    return f"{col}::VARCHAR"


def _stage_typed(con: duckdb.DuckDBPyConnection, src: Source, relation: str, params: list[Any],
                 rownum: str) -> None:
    described = con.execute(f"DESCRIBE SELECT * FROM {relation}", params).fetchall()
    names = [(r[0], r[1]) for r in described if r[0] != "file_row_number"]
    src.headers = [n for n, _ in names]
    _check_headers(src)
    cols = ", ".join(f"{_as_text(n, t)} AS c{i}" for i, (n, t) in enumerate(names))
    con.execute(
        f"CREATE TEMP TABLE {RAW} AS SELECT ({rownum})::INTEGER AS _row, {cols} "
        f"FROM {relation}", params,
    )
    (n,) = con.execute(f"SELECT count(*) FROM {RAW}").fetchone() or (0,)
    src.rows = int(n)


def _read_parquet(con: duckdb.DuckDBPyConnection, path: Path, shown: str, fmt: str) -> Source:
    src = Source(path, shown, fmt, [], 0, row_label="record")
    try:
        _stage_typed(con, src, "read_parquet(?, file_row_number = true)", [str(path)],
                     "file_row_number + 1")
    except duckdb.Error as exc:
        raise IngestError(shown, f"the Parquet file cannot be read: {exc}", row=1,
                          column_index=0, row_label="record") from exc
    return src


def _read_json(con: duckdb.DuckDBPyConnection, path: Path, shown: str, fmt: str) -> Source:
    src = Source(path, shown, fmt, [], 0, row_label="record")
    jformat = "array" if fmt == "json" else "newline_delimited"
    try:
        _stage_typed(
            con, src,
            "read_json(?, format = ?, records = true, sample_size = -1, "
            "maximum_object_size = 67108864)",
            [str(path), jformat], "row_number() OVER ()",
        )
    except duckdb.Error as exc:
        raise _json_error(path, shown, fmt, exc) from exc
    return src


def _json_error(path: Path, shown: str, fmt: str, exc: Exception) -> IngestError:
    """Find where a JSON file goes wrong, with Python's parser (error path only)."""
    if fmt == "ndjson":
        with path.open("r", encoding="utf-8-sig", errors="replace") as f:
            for n, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                try:
                    value = json.loads(line)
                except json.JSONDecodeError as jexc:
                    return IngestError(shown, f"line {n} is not valid JSON: {jexc.msg} "
                                       f"(at character {jexc.colno})", row=n,
                                       row_label="record")
                if not isinstance(value, dict):
                    return IngestError(shown, f"line {n} is a JSON {type(value).__name__}, "
                                       "not an object of field: value pairs", row=n,
                                       row_label="record")
    else:
        try:
            value = json.loads(path.read_text(encoding="utf-8-sig", errors="replace"))
        except json.JSONDecodeError as jexc:
            return IngestError(shown, f"not valid JSON at line {jexc.lineno}, character "
                               f"{jexc.colno}: {jexc.msg}", row=jexc.lineno, row_label="line")
        if not isinstance(value, list):
            return IngestError(shown, "expected a JSON array of records ([{...}, {...}])",
                               row=1, row_label="record")
        for n, item in enumerate(value, start=1):
            if not isinstance(item, dict):
                return IngestError(shown, f"record {n} is a JSON {type(item).__name__}, not an "
                                   "object of field: value pairs", row=n, row_label="record")
    return IngestError(shown, f"the JSON cannot be read: {exc}", row=1, row_label="record")
