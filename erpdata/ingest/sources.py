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
import struct
import tempfile
import zipfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import duckdb
import pyarrow as pa

from erpdata.errors import ErpdataError, IngestError, column_letter
from erpdata.sql import sql_ident, sql_text

# SQL built here (ruff S608): tables are the constants RAW and STAGE, columns c<int>; a header
# or a column name from the file is quoted by sql_ident or sql_text, the file's path and
# delimiter are bound as ``?``, and the regular expressions are this module's constants.

STAGE = "_stage"  # a view: _row + c0..cN over RAW
RAW = "_raw"
CHUNK = 16 * 1024 * 1024
#: The load size limit when ``$ERPDATA_MAX_LOAD_MB`` is not set: a full SuperOffice or ERP
#: export of a few hundred thousand records is 100-300 MB; 1 GB leaves room and still loads
#: within a few GB of memory.
DEFAULT_MAX_LOAD_MB = 1024
#: Most columns a file may have. Excel stops at 16,384; the widest real exports we have seen have
#: a few hundred. 100,000 columns took 78 s and 2.6 GB to load before this limit.
MAX_COLUMNS = 4096
#: Longest header row read (the same bound as DuckDB's longest CSV line below).
MAX_HEADER_BYTES = 4_000_000
#: An XLSX member that inflates more than this many times its compressed size is a ZIP bomb;
#: real sheets compress 5-30 times.
XLSX_MAX_RATIO = 100
#: Bytes of XML an XLSX may expand to, as a fraction of the load limit: the reader holds the
#: whole sheet in memory, about 4 bytes of memory per byte of XML.
XLSX_EXPANSION_SHARE = 4
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


def format_size(size: int) -> str:
    """``2.0 GB``, ``12.5 MB``, ``800 bytes``: sizes as a steward reads them (binary units)."""
    for unit, factor in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if size >= factor:
            return f"{size / factor:.1f} {unit}"
    return f"{size} bytes"


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
    """Read CSV text: one streaming pass finds the encoding, NUL bytes and lone carriage
    returns; a file DuckDB cannot read as it is is transcoded to a temporary UTF-8 file."""
    with path.open("rb") as f:
        head = f.read(65536)
    encoding = _bom_or_utf16(head)
    scan: _Scan | None = None
    if encoding is None:
        scan = _scan_bytes(path)
        encoding = _utf8_or_cp1252(path, shown, scan)
    elif encoding == "utf-8-sig":
        scan = _scan_bytes(path)
    head_text = head.decode(encoding, errors="replace").lstrip("\ufeff")
    delimiter = sniff_delimiter(head_text)
    if encoding == "utf-8-sig" and scan is not None and scan.bad_utf8 is not None:
        raise _encoding_error(
            path, shown, "utf-8", delimiter, scan.bad_utf8,
            "this byte is not valid UTF-8, although the file starts with a UTF-8 byte-order "
            "mark: the file mixes encodings (unreadable encoding). Export it again as UTF-8.",
        )
    readable = path
    temps: list[Path] = []
    notes: list[str] = []
    try:
        if encoding not in ("utf-8", "utf-8-sig"):
            readable = _transcode(path, shown, encoding, delimiter)
            temps.append(readable)
            notes.append(f"the file is {encoding}, not UTF-8; it was converted on reading")
            scan = _scan_bytes(readable)
        assert scan is not None
        if scan.nul is not None:
            raise _nul_error(readable, shown, delimiter, scan.nul)
        if scan.lone_cr:  # old Mac line ends, or CR LF and CR mixed: DuckDB reads neither
            readable = _transcode(readable, shown, "utf-8-sig", delimiter, newlines=True)
            temps.append(readable)
            notes.append("the file ends lines with a lone carriage return (CR, as old Mac "
                         "exports do), or mixes CR, LF and CR LF; each was read as a line break")
        headers = _csv_headers(readable, delimiter, shown)
        src = Source(path, shown, fmt, headers, 0, encoding=encoding, delimiter=delimiter)
        _check_headers(src)
        _duckdb_csv(con, readable, src)
    finally:
        for tmp in temps:
            tmp.unlink(missing_ok=True)
    src.warnings[:0] = notes
    return src


@dataclass
class _Scan:
    """What one pass over a text file's bytes found (offsets are byte offsets, or None)."""

    bad_utf8: int | None = None
    nul: int | None = None
    lone_cr: bool = False


_LONE_CR = re.compile(rb"\r[^\n]")  # a CR at the very end of a chunk is decided by the next


def _scan_bytes(path: Path) -> _Scan:
    """The first byte that is not valid UTF-8, the first NUL byte, and whether any carriage
    return stands without a line feed: one streaming pass, CHUNK bytes at a time."""
    scan = _Scan()
    carry = b""  # an incomplete UTF-8 sequence at the end of the previous chunk
    offset = 0  # file offset of data[0]
    last = b""  # the previous chunk's last byte (a CR there may pair with an LF here)
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            if scan.nul is None and (i := chunk.find(b"\x00")) >= 0:
                scan.nul = offset + len(carry) + i
            if not scan.lone_cr:
                scan.lone_cr = bool(_LONE_CR.search((last if last == b"\r" else b"") + chunk))
            last = chunk[-1:]
            if scan.bad_utf8 is None:
                data = carry + chunk
                try:
                    data.decode("utf-8")
                    carry = b""
                    offset += len(data)
                except UnicodeDecodeError as exc:
                    if exc.reason == "unexpected end of data" and exc.end == len(data):
                        carry = data[exc.start:]
                        offset += exc.start
                    else:
                        scan.bad_utf8 = offset + exc.start
                        offset += len(data)
                        carry = b""
            else:
                offset += len(chunk)
    if carry and scan.bad_utf8 is None:
        scan.bad_utf8 = offset
    if last == b"\r":
        scan.lone_cr = True
    return scan


def _nul_error(path: Path, shown: str, delimiter: str, offset: int) -> IngestError:
    """The NUL byte at ``offset`` of the UTF-8 file ``path``, located as (row, column)."""
    return _encoding_error(
        path, shown, "utf-8", delimiter, offset,
        "this value holds a NUL character (byte 0x00). Exports never hold one: the file is "
        "damaged (a disk that ran full or an interrupted copy pads files with NUL bytes) or is "
        "not a text export. Export it again, or remove the NUL characters",
    )


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
            widths = [len(r) for r in csv.reader(io.StringIO(sample, newline=""),
                                                 delimiter=delim) if r]
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
    """The header row, read from at most MAX_HEADER_BYTES (a file without line breaks must
    not be read whole into memory), with at most MAX_COLUMNS columns."""
    enc = "utf-8-sig" if encoding.startswith("utf-8") else encoding
    with path.open("r", encoding=enc, errors="replace", newline="") as f:
        text = f.read(MAX_HEADER_BYTES)
        more = bool(f.read(1))
    stream = io.StringIO(text, newline="")
    try:
        header = next(csv.reader(stream, delimiter=delimiter), None)
    except csv.Error as exc:
        raise IngestError(shown, f"the header row cannot be read: {exc}", row=1) from exc
    if more and stream.tell() >= len(text):
        raise IngestError(
            shown, f"the header row is longer than {format_size(MAX_HEADER_BYTES)} (no line "
            "break found): this is not a table export, or its lines end in a way not "
            "recognised", row=1, column_index=0,
        )
    if not header or all(not h.strip() for h in header):
        raise IngestError(shown, "the first row is empty; the header must be on row 1",
                          row=1, column_index=0)
    _check_width(len(header), shown)
    return [h.strip() for h in header]


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
                rejects_scan = '_rej_scans', max_line_size = 4000000, parallel = true)""",  # noqa: S608 - RAW; columns c<int>; path and delimiter bound as ?
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
        (n,) = con.execute(f"SELECT count(*) FROM {RAW}").fetchone() or (0,)  # noqa: S608 - constant table RAW
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

def _utf8_or_cp1252(path: Path, shown: str, scan: _Scan) -> str:
    """``utf-8`` when every byte is valid UTF-8, else ``cp1252``, unless the file mixes the two."""
    bad = scan.bad_utf8
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


def _has_utf8_multibyte(path: Path) -> bool:
    with path.open("rb") as f:
        tail = b""
        while chunk := f.read(CHUNK):
            if _UTF8_MULTIBYTE.search(tail + chunk):
                return True
            tail = chunk[-3:]
    return False


def _transcode(path: Path, shown: str, encoding: str, delimiter: str,
               newlines: bool = False) -> Path:
    """Stream ``path`` into a temporary UTF-8 file; a byte that cannot decode is an error.

    ``newlines``: also turn every CR LF and lone CR into LF (values that span lines included),
    so that DuckDB, which expects one kind of line end, reads the records."""
    errors = "erpdata_latin1" if encoding == "cp1252" else "strict"
    decoder: Any = codecs.getincrementaldecoder(encoding)(errors=errors)
    if newlines:
        decoder = io.IncrementalNewlineDecoder(decoder, translate=True)
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

def _cell_range(rng: tuple[int, int, int, int]) -> str:
    """``A2:A3`` for 0-based (first row, first column, last row, last column)."""
    return (f"{column_letter(rng[1])}{rng[0] + 1}:{column_letter(rng[3])}{rng[2] + 1}")


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


# --- Parquet and JSON ------------------------------------------------------------------------

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


_DAMAGED = re.compile(r"magic bytes|footer|metadata|corrupt|truncat|out of range|too small",
                      re.IGNORECASE)


def _read_parquet(con: duckdb.DuckDBPyConnection, path: Path, shown: str, fmt: str) -> Source:
    src = Source(path, shown, fmt, [], 0, row_label="record")
    try:
        _stage_typed(con, src, "read_parquet(?, file_row_number = true)", [str(path)],
                     "file_row_number + 1")
    except duckdb.Error as exc:
        reason = _duck_message(exc)
        if _DAMAGED.search(reason):
            message = (f"the Parquet file is damaged or incomplete ({reason}): was the copy or "
                       "download finished? Export it again")
        else:
            message = f"the Parquet file cannot be read: {reason}"
        raise IngestError(shown, message, row=1, row_label="record") from exc
    return src


#: Types DuckDB's JSON reader gives strings that look like them.
_JSON_STRING_TYPES = ("UUID", "DATE", "TIME", "TIMESTAMP", "INTERVAL")


def _read_json(con: duckdb.DuckDBPyConnection, path: Path, shown: str, fmt: str) -> Source:
    src = Source(path, shown, fmt, [], 0, row_label="record")
    jformat = "array" if fmt == "json" else "newline_delimited"
    relation = ("read_json(?, format = ?, records = true, sample_size = -1, "
                "maximum_object_size = 67108864{})")
    params = [str(path), jformat]
    try:
        detected = con.execute(f"DESCRIBE SELECT * FROM {relation.format('')}",  # noqa: S608 - relation a fixed read_json call; path bound as ?
                               params).fetchall()
        if any(str(t).upper().startswith(_JSON_STRING_TYPES) for _, t, *_ in detected):
            # DuckDB reads a string that looks like a UUID, a date or a time as one, and
            # would give it back in its own spelling (lower case, "2026-03-31 10:00:00"): a
            # JSON string is text, kept as the file holds it
            columns = ", ".join(
                f"{sql_text(n)}: "
                + sql_text("VARCHAR" if str(t).upper().startswith(_JSON_STRING_TYPES) else t)
                for n, t, *_ in detected)
            relation = relation.format(f", columns = {{{columns}}}")
        else:
            relation = relation.format("")
        _stage_typed(con, src, relation, params, "row_number() OVER ()", whole_doubles=True)
    except duckdb.Error as exc:
        raise _json_error(path, shown, fmt, exc) from exc
    return src


#: DuckDB's JSON reader refuses deeper nesting; so does this module's error path.
JSON_MAX_DEPTH = 128
#: The error path reads at most this much of a JSON file with Python's parser.
JSON_DIAGNOSE_BYTES = 64 * 1024 * 1024
_JSON_TOKEN = re.compile(r'"(?:[^"\\\n]|\\.)*"|[\[\]{},\n]')


def _too_deep(text: str, ndjson: bool) -> int | None:
    """The record (array item, or NDJSON line) where nesting first passes JSON_MAX_DEPTH.

    Why not ``json.loads``: Python's parser recurses, and 10,000 nested brackets end in a
    RecursionError; this scan counts brackets outside strings in a loop, in bounded memory."""
    depth, record = 0, 1
    for m in _JSON_TOKEN.finditer(text):
        token = m.group()
        if token in "[{":
            depth += 1
            if depth > JSON_MAX_DEPTH:
                return record
        elif token in "]}":
            depth -= 1
        elif (token == "," and depth == 1 and not ndjson) or (token == "\n" and ndjson):
            record += 1
    return None


def _json_error(path: Path, shown: str, fmt: str, exc: Exception) -> IngestError:
    """Find where a JSON file goes wrong, with Python's parser (error path only; it reads at
    most JSON_DIAGNOSE_BYTES, so a huge file cannot exhaust the memory here)."""
    with path.open("r", encoding="utf-8-sig", errors="replace") as f:
        text = f.read(JSON_DIAGNOSE_BYTES)
        whole = not f.read(1)
    deep = _too_deep(text, fmt == "ndjson")
    if deep is not None:
        return IngestError(
            shown, f"record {deep} is nested more than {JSON_MAX_DEPTH} levels deep (lists or "
            "objects inside each other): a record must be an object of field: value pairs "
            "whose values are at most a few levels deep. Export flat records",
            row=deep, row_label="record")
    try:
        found = _json_problem(text, whole, shown, fmt)
    except RecursionError:
        found = None
    return found or IngestError(shown, f"the JSON cannot be read: {_duck_message(exc)}", row=1,
                                row_label="record")


def _json_problem(text: str, whole: bool, shown: str, fmt: str) -> IngestError | None:
    """The first problem Python's parser finds in ``text`` (the file, or its first part)."""
    if fmt == "ndjson":
        lines = text.splitlines()
        if not whole:
            lines = lines[:-1]  # cut at the diagnosis limit
        records = 0
        for n, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            records += 1
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
        if whole and records == 0:
            return IngestError(shown, "the file holds no records: an empty export would flag "
                               "every record as missing, so it is refused", row=1,
                               row_label="record")
        return None
    if not whole:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as jexc:
        ended = " (the file ends there: was the export finished?)" \
            if jexc.pos >= len(text.rstrip()) - 1 or "Unterminated" in jexc.msg else ""
        return IngestError(shown, f"not valid JSON at line {jexc.lineno}, character "
                           f"{jexc.colno}: {jexc.msg}{ended}", row=jexc.lineno,
                           row_label="line")
    if not isinstance(value, list):
        return IngestError(shown, "expected a JSON array of records ([{...}, {...}])",
                           row=1, row_label="record")
    if not value:
        return IngestError(shown, "the JSON array is empty, so the file holds no records: an "
                           "empty export would flag every record as missing, so it is refused",
                           row=1, row_label="record")
    for n, item in enumerate(value, start=1):
        if not isinstance(item, dict):
            return IngestError(shown, f"record {n} is a JSON {type(item).__name__}, not an "
                               "object of field: value pairs", row=n, row_label="record")
    return None
