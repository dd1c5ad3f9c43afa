"""Read CSV and other delimited text (`,` `;` tab or `|`) into the staging table.

Why this module: a text export says neither its encoding nor its delimiter, and is where files
are most often damaged. One streaming pass finds the encoding (UTF-8 with or without BOM,
UTF-16, Windows-1252; a file that mixes them is refused), NUL bytes and lone carriage returns;
the delimiter is the one that splits the first records most consistently. A file DuckDB cannot
read as it is is transcoded to a temporary UTF-8 file in chunks, never whole in memory. A ragged
row, an unclosed quote or an undecodable byte is refused at the (row, column) a spreadsheet
shows, located from its byte offset, never read shifted or garbled.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import re
import tempfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import duckdb

from erpdata.errors import IngestError, column_letter
from erpdata.ingest.staging import RAW, Source, _check_headers, _check_width, format_size

# SQL built here (ruff S608): the table is the constant RAW, columns c<int>; the file's path and
# delimiter are bound as ``?``.

CHUNK = 16 * 1024 * 1024
#: Longest header row read (the same bound as DuckDB's longest CSV line below).
MAX_HEADER_BYTES = 4_000_000
DELIMITERS = (",", ";", "\t", "|")
_DELIM_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
# A valid multi-byte UTF-8 sequence: in a file that is otherwise not UTF-8 it means mixed encodings.
_UTF8_MULTIBYTE = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}"
)


def _cp1252_fallback(err: UnicodeError) -> tuple[str, int]:
    """Bytes Windows-1252 leaves undefined (0x81 0x8D 0x8F 0x90 0x9D) decode as Latin-1."""
    assert isinstance(err, UnicodeDecodeError)
    return err.object[err.start:err.end].decode("latin-1"), err.end


codecs.register_error("erpdata_latin1", _cp1252_fallback)


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
