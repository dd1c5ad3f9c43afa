"""Build the bad-input corpus of this folder, and its manifest, deterministically.

Why a generator: binary files (XLSX, Parquet, a ZIP bomb) cannot be reviewed in a diff, but the
few lines that make each one can. Every file here is written by :data:`CASES`; ``cases.json``
(read by ``tests/reliability/test_bad_input.py``) and the table in ``README.md`` are written
from the same list, so a file, what it is and what loading it must give cannot drift apart.

    python tests/data/bad/make_corpus.py           # rewrite the files, cases.json, README.md
    python tests/data/bad/make_corpus.py --check   # exit 1 if a committed file differs

Files too big to commit (a 2 GB CSV, a 2 GB ZIP bomb, a 100,000-column header, a 5 MB header
without a line break) are made by the functions at the end, in the test's temporary folder.
XLSX files are written by hand (a few XML parts in a ZIP with fixed timestamps) rather than
with openpyxl, which stamps the time of saving into every workbook.
"""

from __future__ import annotations

import io
import json
import os
import struct
import sys
import zipfile
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

HERE = Path(__file__).resolve().parent
_STAMP = (2026, 1, 1, 0, 0, 0)

COMPANY_HEADER = "id;name;postalzip;postalcity\n"


# --- helpers that make the bytes of one file ------------------------------------------------

def text(body: str, encoding: str = "utf-8") -> bytes:
    """``body`` encoded exactly (no newline translation)."""
    return body.encode(encoding)


def _col(index: int) -> str:
    letters, n = "", index + 1
    while n:
        n, rem = divmod(n - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


Cell = str | int | float | None | tuple[str, str]  # ("f", "1+1") formula, ("fv", "1+1|2") cached


def _cell_xml(ref: str, value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, tuple):
        kind, body = value
        if kind == "f":
            return f'<c r="{ref}"><f>{escape(body)}</f></c>'
        formula, cached = body.split("|", 1)
        return f'<c r="{ref}"><f>{escape(formula)}</f><v>{escape(cached)}</v></c>'
    if isinstance(value, (int, float)):
        return f'<c r="{ref}"><v>{value}</v></c>'
    return f'<c r="{ref}" t="inlineStr"><is><t xml:space="preserve">{escape(value)}</t></is></c>'


def _sheet_xml(rows: Sequence[Sequence[Cell]], merged: Sequence[str] = ()) -> str:
    body = "".join(
        f'<row r="{r}">' + "".join(_cell_xml(f"{_col(c)}{r}", v) for c, v in enumerate(row))
        + "</row>"
        for r, row in enumerate(rows, start=1)
    )
    merges = (f'<mergeCells count="{len(merged)}">'
              + "".join(f'<mergeCell ref="{m}"/>' for m in merged) + "</mergeCells>"
              if merged else "")
    return ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
            f"<sheetData>{body}</sheetData>{merges}</worksheet>")


def _xlsx_parts(sheets: Sequence[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
    """The parts of a minimal workbook with these (name, sheet XML) sheets."""
    ns = "http://schemas.openxmlformats.org"
    overrides = "".join(
        f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        for i in range(1, len(sheets) + 1)
    )
    content_types = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        f'<Types xmlns="{ns}/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
        'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
        'officedocument.spreadsheetml.sheet.main+xml"/>' + overrides + "</Types>"
    )
    rels = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        f'<Relationships xmlns="{ns}/package/2006/relationships">'
        f'<Relationship Id="rId1" Type="{ns}/officeDocument/2006/relationships/officeDocument" '
        'Target="xl/workbook.xml"/></Relationships>'
    )
    workbook = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        f'<workbook xmlns="{ns}/spreadsheetml/2006/main" '
        f'xmlns:r="{ns}/officeDocument/2006/relationships"><sheets>'
        + "".join(f'<sheet name="{escape(name)}" sheetId="{i}" r:id="rId{i}"/>'
                  for i, (name, _) in enumerate(sheets, start=1))
        + "</sheets></workbook>"
    )
    workbook_rels = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        f'<Relationships xmlns="{ns}/package/2006/relationships">'
        + "".join(f'<Relationship Id="rId{i}" Type="{ns}/officeDocument/2006/relationships/'
                  f'worksheet" Target="worksheets/sheet{i}.xml"/>'
                  for i in range(1, len(sheets) + 1))
        + "</Relationships>"
    )
    parts = [("[Content_Types].xml", content_types.encode()), ("_rels/.rels", rels.encode()),
             ("xl/workbook.xml", workbook.encode()),
             ("xl/_rels/workbook.xml.rels", workbook_rels.encode())]
    parts += [(f"xl/worksheets/sheet{i}.xml", xml) for i, (_, xml) in enumerate(sheets, start=1)]
    return parts


def _zip(parts: Sequence[tuple[str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in parts:
            info = zipfile.ZipInfo(name, date_time=_STAMP)
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data)
    return buf.getvalue()


def xlsx(*sheets: tuple[str, Sequence[Sequence[Cell]]], merged: Sequence[str] = ()) -> bytes:
    """A workbook whose sheets hold these rows (inline strings, numbers, formulas)."""
    xml = [(name, _sheet_xml(rows, merged if i == 0 else ()).encode())
           for i, (name, rows) in enumerate(sheets)]
    return _zip(_xlsx_parts(xml))


def parquet(columns: dict[str, Any], schema: Any = None) -> bytes:
    """A Parquet file of these columns (pyarrow; no creation time is stored)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table(columns, schema=schema)
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()


def _good_parquet() -> bytes:
    return parquet({"id": ["1", "2", "3"], "name": ["Hansen AS", "Berg AB", "Vries BV"]})


def corrupt_footer() -> bytes:
    """A whole Parquet file whose footer length (the 4 bytes before the final PAR1) is wrong."""
    data = bytearray(_good_parquet())
    struct.pack_into("<I", data, len(data) - 8, 0x7FFFFFF0)
    return bytes(data)


def zip_bomb_bytes(size: int) -> bytes:
    """An XLSX whose sheet inflates to ``size`` bytes of 1 MB text cells, about 1,000 times
    its compressed size. Built from one deflate block, compressed once and repeated (a full
    flush makes blocks independent), so a 2 GB bomb takes a second, not a minute."""
    row = (b"<row><c t=\"inlineStr\"><is><t>" + b"A" * (1 << 20) + b"</t></is></c></row>")
    head = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><worksheet xmlns='
            b'"http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
            b'<row><c t="inlineStr"><is><t>id</t></is></c></row>')
    tail = b"</sheetData></worksheet>"
    count = max((size - len(head) - len(tail)) // len(row), 1)
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = comp.compress(head) + comp.flush(zlib.Z_FULL_FLUSH)
    block = comp.compress(row) + comp.flush(zlib.Z_FULL_FLUSH)
    last = comp.compress(tail) + comp.flush()
    crc = zlib.crc32(head)
    for _ in range(count):
        crc = zlib.crc32(row, crc)
    crc = zlib.crc32(tail, crc)
    sheet = (len(head) + count * len(row) + len(tail), first + block * count + last, crc)
    small = [(n, d) for n, d in _xlsx_parts([("Sheet1", b"")]) if not n.endswith("sheet1.xml")]
    return _raw_zip([*[(n, _deflate(d)) for n, d in small],
                     ("xl/worksheets/sheet1.xml", sheet)])


def _deflate(data: bytes) -> tuple[int, bytes, int]:
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    return len(data), comp.compress(data) + comp.flush(), zlib.crc32(data)


def _raw_zip(members: Sequence[tuple[str, tuple[int, bytes, int]]]) -> bytes:
    """A ZIP archive of already deflated members: (name, (size, deflated bytes, crc))."""
    out, central = bytearray(), bytearray()
    dostime, dosdate = 0, (2026 - 1980) << 9 | 1 << 5 | 1
    for name, (size, data, crc) in members:
        raw = name.encode()
        offset = len(out)
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, dostime, dosdate, crc,
                           len(data), size, len(raw), 0) + raw + data
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, dostime,
                               dosdate, crc, len(data), size, len(raw), 0, 0, 0, 0, 0,
                               offset) + raw
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), len(central),
                      len(out), 0)
    return bytes(out + central + end)


def encrypted_xlsx() -> bytes:
    """The start of an encrypted OOXML file: an OLE container naming its EncryptedPackage
    stream (what Excel writes for a workbook with a password to open)."""
    header = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504
    directory = ("Root Entry".encode("utf-16-le") + b"\x00" * 118
                 + "EncryptionInfo".encode("utf-16-le") + b"\x00" * 100
                 + "EncryptedPackage".encode("utf-16-le") + b"\x00" * 96)
    return header + directory + b"\x00" * 1024


def _deep_json(depth: int, where: str) -> bytes:
    nested = "[" * depth + "]" * depth
    if where == "array":
        return text('[{"id": "1", "name": "Hansen AS", "tags": ' + nested + "}]")
    return text('{"id": "1", "name": "Hansen AS"}\n{"id": "2", "name": "Berg AB", "tags": '
                + nested + "}\n")


# --- the cases ----------------------------------------------------------------------------

@dataclass
class Case:
    """One corpus file: its bytes, what it is, how to load it, and what that must give.

    ``expect`` is either ``{"error": fragment, "row": n, "row_label": ..., "column": header,
    "column_index": i}`` (an IngestError located exactly there) or ``{"rows": n, "warnings":
    [fragment, ...], "values": {id: {field: value}}}`` (a load with exactly these warnings)."""

    file: str
    what: str
    make: Callable[[], bytes]
    expect: dict[str, Any]
    side: str = "crm"
    kind: str = "company"
    options: dict[str, Any] = field(default_factory=dict)


def err(fragment: str, row: int | None, column: str | None = None,
        column_index: int | None = None, row_label: str = "row") -> dict[str, Any]:
    """An expected error."""
    return {"error": fragment, "row": row, "row_label": row_label, "column": column,
            "column_index": column_index}


def loads(rows: int, warnings: Sequence[str] = (),
          values: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """An expected successful load."""
    return {"rows": rows, "warnings": list(warnings), "values": values or {}}


NUL_TEXT = "this value holds a NUL character (byte 0x00)"
EXTRA = "column(s) match no field and are kept in extra"

CASES: list[Case] = [
    # --- CSV: encodings --------------------------------------------------------------------
    Case("cp1252_euro.csv", "Windows-1252 export with bytes 0x80-0x9F (€, Ÿ, curly quotes) "
         "that DuckDB's latin-1 refuses",
         lambda: text(COMPANY_HEADER + "1;Café € AS;0150;Oslo\n2;Ÿvonne “Bistro”;0151;Oslo\n",
                      "cp1252"),
         loads(2, ["the file is cp1252, not UTF-8"],
               {"1": {"name": "Café € AS"}, "2": {"name": "Ÿvonne “Bistro”"}})),
    Case("latin1_undefined_byte.csv", "Latin-1 file with 0x81, a byte Windows-1252 leaves "
         "undefined (a wrong-looking byte)",
         lambda: COMPANY_HEADER.encode() + b"1;Gr\xfcn\x81 GmbH;0150;Oslo\n",
         loads(1, ["the file is cp1252, not UTF-8"], {"1": {"name": "Grün\x81 GmbH"}})),
    Case("utf16le_no_bom.csv", "UTF-16 LE without a byte-order mark",
         lambda: text(COMPANY_HEADER + "1;Bjørn AS;0150;Tromsø\n", "utf-16-le"),
         loads(1, ["the file is utf-16-le, not UTF-8"], {"1": {"postalcity": "Tromsø"}})),
    Case("utf16be_no_bom.tsv", "UTF-16 BE without a byte-order mark, tab-separated",
         lambda: text("id\tname\n1\tÅse AS\n", "utf-16-be"),
         loads(1, ["the file is utf-16-be, not UTF-8"], {"1": {"name": "Åse AS"}})),
    Case("mixed_utf8_cp1252.csv", "UTF-8 rows followed by a Windows-1252 row",
         lambda: text(COMPANY_HEADER + "1;Bjørn AS;0150;Oslo\n") + b"2;Fj\xf8rd AS;0151;Oslo\n",
         err("byte 0xF8 is not valid UTF-8, while other parts of the file are UTF-8", 3,
             "name", 1)),
    Case("bom_then_invalid_utf8.csv", "a UTF-8 byte-order mark, then a Latin-1 byte",
         lambda: b"\xef\xbb\xbf" + text(COMPANY_HEADER) + b"1;M\xfcller AG;0150;Oslo\n",
         err("not valid UTF-8, although the file starts with a UTF-8 byte-order mark", 2,
             "name", 1)),
    Case("bom_inside_value.csv", "a byte-order mark (U+FEFF) in the middle of a value",
         lambda: text(COMPANY_HEADER + "1;Hansen AS;0150;Oslo\n2;\ufeffBerg AB;0151;Oslo\n"),
         loads(2, ["1 value(s) held an invisible byte-order mark (U+FEFF), first in row 3, "
                   "column 'name' (B); it was removed"], {"2": {"name": "Berg AB"}})),
    Case("joined_exports.csv", "two exports joined with cat: the second's BOM and header "
         "in the middle",
         lambda: text("\ufeff" + COMPANY_HEADER + "1;Hansen AS;0150;Oslo\n\ufeff"
                      + COMPANY_HEADER + "2;Berg AB;0151;Oslo\n"),
         err("this row repeats the header row: two exports joined into one file?", 3, "id", 0)),
    Case("binary_junk.csv", "binary bytes with control characters, named .csv",
         lambda: b"id;name\n1;\x00\x01\x02\x03\xff\xfe\x00junk\x00\n",
         err("this file is binary data, not a text export", 1, None, 0)),
    Case("nul_in_value.csv", "one NUL byte inside a value on row 3",
         lambda: text(COMPANY_HEADER + "1;Hansen AS;0150;Oslo\n2;Berg\x00AB;0151;Oslo\n"),
         err(NUL_TEXT, 3, "name", 1)),
    # --- CSV: structure ---------------------------------------------------------------------
    Case("empty.csv", "0 bytes", lambda: b"",
         err("the file is empty (0 bytes): was the export finished?", 1, None, 0)),
    Case("whitespace_only.csv", "spaces, tabs and line breaks only",
         lambda: text("   \n\t\n  \r\n"),
         err("the first row is empty; the header must be on row 1", 1, None, 0)),
    Case("header_only.csv", "a header and no rows",
         lambda: text(COMPANY_HEADER),
         err("the file has a header but no data rows", 2, "id", 0)),
    Case("mixed_delimiters.csv", "header with ';', a row with ','",
         lambda: text(COMPANY_HEADER + "1;Hansen AS;0150;Oslo\n2,Berg AB,0151,Oslo\n"),
         err("this row has 1 values but the header has 4 columns", 3, "name", 1)),
    Case("ragged_short.csv", "a row with a value missing",
         lambda: text(COMPANY_HEADER + "1;Hansen AS;0150;Oslo\n2;Berg AB;0151\n"),
         err("this row has 3 values but the header has 4 columns", 3, "postalcity", 3)),
    Case("ragged_long.csv", "a row with a value too many",
         lambda: text(COMPANY_HEADER + "1;Hansen AS;0150;Oslo\n2;Berg AB;0151;Oslo;Norway\n"),
         err("this row has 5 values but the header has only 4 columns", 3, "postalcity", 3)),
    Case("unbalanced_quote.csv", "a quoted value that is never closed",
         lambda: text(COMPANY_HEADER + '1;Hansen AS;0150;Oslo\n2;"Berg AB;0151;Oslo\n'
                      "3;Vries BV;0152;Oslo\n"),
         err("a quoted value is not closed, or has text after its closing quote", 3,
             "name", 1)),
    Case("embedded_newlines.csv", "quoted values spanning lines (LF and CR LF)",
         lambda: text(COMPANY_HEADER + '1;"Hansen\nAS";0150;Oslo\n2;"Berg\r\nAB";0151;Oslo\n'),
         loads(2, [], {"1": {"name": "Hansen\nAS"}, "2": {"name": "Berg\r\nAB"}})),
    Case("crlf_cr_mix.csv", "CR LF line ends with one lone CR in between",
         lambda: text(COMPANY_HEADER.replace("\n", "\r\n") + "1;Hansen AS;0150;Oslo\r"
                      "2;Berg AB;0151;Oslo\r\n"),
         loads(2, ["the file ends lines with a lone carriage return (CR"],
               {"1": {"postalcity": "Oslo"}, "2": {"name": "Berg AB"}})),
    Case("cr_only.csv", "old Mac line ends (CR only), Windows-1252",
         lambda: text(COMPANY_HEADER.replace("\n", "\r") + "1;Hansen AS;0150;Tromsø\r", "cp1252"),
         loads(1, ["the file is cp1252, not UTF-8", "lone carriage return (CR"],
               {"1": {"postalcity": "Tromsø"}})),
    Case("duplicate_headers.csv", "two columns called name",
         lambda: text("id;name;name\n1;Hansen AS;Hansen & Co\n"),
         loads(1, ["header 'name' appears more than once; column C kept as 'name (2)'",
                   f"1 {EXTRA}: 'name (2)' (C)"], {"1": {"name": "Hansen AS"}})),
    Case("empty_header_cell.csv", "a column without a header",
         lambda: text("id;;name\n1;x;Hansen AS\n"),
         loads(1, ["column B has no header; kept as 'column B'",
                   f"1 {EXTRA}: 'column B' (B)"], {"1": {"name": "Hansen AS"}})),
    Case("no_id_column.csv", "no header names an id",
         lambda: text("Firmanavn;Poststed\nHansen AS;Oslo\n"),
         err("no column holds the record id of these CRM companies", 1)),
    Case("id_all_empty.csv", "an id column with no values",
         lambda: text(COMPANY_HEADER + ";Hansen AS;0150;Oslo\n;Berg AB;0151;Oslo\n"),
         err("the id is empty; every record needs an id", 2, "id", 0)),
    Case("duplicate_ids.csv", "the same id twice",
         lambda: text(COMPANY_HEADER + "7;Hansen AS;0150;Oslo\n8;Berg AB;0151;Oslo\n"
                      "7;Vries BV;0152;Oslo\n"),
         err("id '7' appears twice (first on row 2)", 4, "id", 0)),
    Case("ids_differ_by_whitespace.csv", "ids '7' and ' 7 ' (one record typed twice)",
         lambda: text(COMPANY_HEADER + "7;Hansen AS;0150;Oslo\n 7 ;Hansen AS;0150;Oslo\n"),
         err("id '7' appears twice (first on row 2)", 3, "id", 0)),
    Case("ids_differ_by_case.csv", "ids 'A1' and 'a1'",
         lambda: text(COMPANY_HEADER + "A1;Hansen AS;0150;Oslo\na1;Hansen AS;0150;Oslo\n"),
         loads(2, ["1 id(s) differ from another only in letter case, first 'a1' on row 3 and "
                   "'A1' on row 2"], {"A1": {"name": "Hansen AS"}, "a1": {"name": "Hansen AS"}})),
    Case("formula_cells.csv", "formula and DDE injection text (=cmd|, @SUM, +cmd|), next to "
         "harmless +47 and -2",
         lambda: text("id;name;phone;department\n"
                      "1;=cmd|' /C calc'!A0;+47 22 00 00 00;-2\n"
                      "2;@SUM(1+1)*cmd|' /C calc'!A0;+47 22 00 00 01;\n"
                      "3;+cmd|' /C notepad'!A0;;\n"),
         loads(3, ["3 value(s) look like spreadsheet formulas, first in row 2, column 'name' "
                   "(B): \"=cmd|' /C calc'!A0\"; they are kept as text and never run here"],
               {"1": {"name": "=cmd|' /C calc'!A0", "phone": "+47 22 00 00 00",
                      "department": "-2"}})),
    Case("too_many_columns.csv", "4,097 columns (one over the limit)",
         lambda: text("id;" + ";".join(f"c{i}" for i in range(1, 4097)) + "\n1"
                      + ";" * 4096 + "\n"),
         err("the header has 4,097 columns; at most 4,096 are supported", 1, None, 4096)),
    Case("really_xlsx.csv", "an XLSX workbook named .csv",
         lambda: xlsx(("Sheet1", [["id", "name"], ["1", "Hansen AS"]])),
         err("the extension says CSV text, but the content is an XLSX workbook", 1, None, 0)),
    Case("person_bad_date.csv", "CRM persons with a birth date that is not a date",
         lambda: text("id;Fornavn;Etternavn;Firma-ID;Fødselsdato\n10;Ola;Nordmann;1;31.12.1980\n"
                      "11;Kari;Hansen;2;sometime in May\n"),
         err("'sometime in May' is not a date such as 2026-03-31 or 31.03.2026", 3,
             "Fødselsdato", 4), kind="person"),
    Case("person_missing_company.csv", "a CRM person whose company is not in the workspace",
         lambda: text("id;Fornavn;Etternavn;Firma-ID\n10;Ola;Nordmann;1\n11;Kari;Hansen;99\n"),
         err("company '99' does not exist among the CRM companies of this workspace", 3,
             "Firma-ID", 3), kind="person"),
    Case("erp_unknown_actor_type.csv", "ERP companies with a type that is no actor type",
         lambda: text("id,name,type\nK1,Hansen AS,Kunde\nK2,Berg AB,prospect\n"),
         err("'prospect' is not an ERP actor type: use one of customer, supplier, partner", 3,
             "type", 2), side="erp"),
    # --- XLSX -------------------------------------------------------------------------------
    Case("multiple_sheets.xlsx", "data on the first of three sheets",
         lambda: xlsx(("Kunder", [["id", "name"], ["1", "Hansen AS"]]),
                      ("Notater", [["note"], ["ignore me"]]), ("Tom", [])),
         loads(1, ["the workbook has 3 sheets; only the first, 'Kunder', was read (not "
                   "'Notater', 'Tom')"], {"1": {"name": "Hansen AS"}})),
    Case("empty_first_sheet.xlsx", "an empty first sheet, the data on the second",
         lambda: xlsx(("Forside", []), ("Data", [["id", "name"], ["1", "Hansen AS"]])),
         err("the first sheet 'Forside' is empty or its row 1 (the header) is blank; the "
             "workbook's other sheets are 'Data'", 1, None, 0)),
    Case("merged_cells.xlsx", "an id merged over two rows",
         lambda: xlsx(("Sheet1", [["id", "name"], ["1", "Hansen AS"], [None, "Hansen Bygg"]]),
                      merged=["A2:A3"]),
         err("the id is empty; every record needs an id (the cell is part of the merged cells "
             "A2:A3: unmerge them and fill in every row)", 3, "id", 0)),
    Case("formula_cells.xlsx", "formula cells (one never calculated) and =cmd| typed as text",
         lambda: xlsx(("Sheet1", [["id", "name", "number2"],
                                  ["1", "Hansen AS", ("fv", "1+1|2")],
                                  ["2", "Berg AB", ("f", "1+1")],
                                  ["3", "=cmd|' /C calc'!A0", None]])),
         loads(3, ["1 value(s) look like spreadsheet formulas, first in row 4, column 'name' "
                   "(B)"], {"1": {"number2": "2"}, "2": {"number2": None},
                            "3": {"name": "=cmd|' /C calc'!A0"}})),
    Case("ragged.xlsx", "a value in a column without a header",
         lambda: xlsx(("Sheet1", [["id", "name"], ["1", "Hansen AS", "stray"]])),
         err("column C has a value but no header (a ragged row)", 2, "name", 1)),
    Case("title_above_header.xlsx", "a report title in A1, the header on row 3",
         lambda: xlsx(("Sheet1", [["Kundeliste 2026"], [], ["id", "name"], ["1", "Hansen AS"]])),
         err("column B has a value but no header (a ragged row); row 1 holds a single cell "
             "('Kundeliste 2026'): if that is a title, delete the rows above the header", 3,
             "Kundeliste 2026", 0)),
    Case("really_csv.xlsx", "CSV text named .xlsx",
         lambda: text(COMPANY_HEADER + "1;Hansen AS;0150;Oslo\n"),
         err("the extension says an XLSX workbook, but the content is CSV text", 1, None, 0)),
    Case("truncated.xlsx", "the first 600 bytes of a workbook (an interrupted download)",
         lambda: xlsx(("Sheet1", [["id", "name"], ["1", "Hansen AS"]]))[:600],
         err("the workbook is damaged or incomplete (not a whole ZIP archive", 1, None, 0)),
    Case("zip_bomb_20mb.xlsx", "a ZIP bomb: a 20 KB workbook whose sheet inflates to 20 MB",
         lambda: zip_bomb_bytes(20 * 1024 * 1024),
         err("would expand from 20.3 KB to 19.0 MB (960 times", 1, None, 0)),
    Case("password_protected.xlsx", "an encrypted (password to open) workbook",
         encrypted_xlsx,
         err("the workbook is password-protected (encrypted)", 1, None, 0)),
    Case("old_xls.xlsx", "an Excel 97-2003 .xls renamed .xlsx",
         lambda: b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 1024,
         err("this file is an old Excel 97-2003 .xls workbook", 1, None, 0)),
    # --- Parquet ----------------------------------------------------------------------------
    Case("corrupt_footer.parquet", "a Parquet file whose footer length is corrupted",
         corrupt_footer,
         err("the Parquet file is damaged or incomplete", 1, row_label="record")),
    Case("truncated.parquet", "the first half of a Parquet file",
         lambda: _good_parquet()[: len(_good_parquet()) // 2],
         err("the Parquet file is damaged or incomplete (No magic bytes found at end)", 1,
             row_label="record")),
    Case("zero_rows.parquet", "a schema and no rows",
         lambda: parquet({"id": [], "name": []}, _string_schema("id", "name")),
         err("the file holds no records", 1, row_label="record")),
    Case("nested_columns.parquet", "struct and list columns",
         lambda: parquet({"id": ["1"], "name": ["Hansen AS"],
                          "location": [{"street": "Storgata 1", "zip": "0150"}],
                          "tags": [["vip", "nordic"]]}),
         loads(1, [f"2 {EXTRA}: 'location' (C), 'tags' (D)"],
               {"1": {"extra": {"location": '{"street":"Storgata 1","zip":"0150"}',
                                "tags": '["vip","nordic"]'}}})),
    Case("null_ids.parquet", "a null id on the second record",
         lambda: parquet({"id": ["1", None], "name": ["Hansen AS", "Berg AB"]}),
         err("the id is empty; every record needs an id", 2, "id", 0, "record")),
    Case("duplicate_ids.parquet", "integer ids, one repeated",
         lambda: parquet({"id": [7, 8, 7], "name": ["A", "B", "C"]}),
         err("id '7' appears twice (first on record 1)", 3, "id", 0, "record")),
    Case("nul_in_value.parquet", "a NUL character inside a string value",
         lambda: parquet({"id": ["1", "2"], "name": ["Hansen AS", "Berg\x00AB"]}),
         err(NUL_TEXT, 2, "name", 1, "record")),
    Case("really_json.parquet", "JSON named .parquet",
         lambda: text('[{"id": "1", "name": "Hansen AS"}]'),
         err("the extension says a Parquet file, but the content is JSON", 1, None, 0)),
    # --- JSON and NDJSON --------------------------------------------------------------------
    Case("deep_10000.json", "a value nested 10,000 lists deep",
         lambda: _deep_json(10_000, "array"),
         err("record 1 is nested more than 128 levels deep", 1, row_label="record")),
    Case("deep_line_2.jsonl", "NDJSON whose line 2 is nested 10,000 deep",
         lambda: _deep_json(10_000, "lines"),
         err("record 2 is nested more than 128 levels deep", 2, row_label="record")),
    Case("scalar.json", "a single number", lambda: text("42\n"),
         err("the file holds a single JSON number 42, not an array of records", 1,
             row_label="record")),
    Case("string.json", "a single string", lambda: text('"Hansen AS"'),
         err('the file holds a single JSON string "Hansen AS"', 1, row_label="record")),
    Case("object_not_array.json", "one object instead of an array of objects",
         lambda: text('{"id": "1", "name": "Hansen AS", "city": "Oslo"}'),
         err("expected a JSON array of records", 1, row_label="record")),
    Case("empty_array.json", "[]", lambda: text("[]\n"),
         err("the JSON array is empty, so the file holds no records", 1, row_label="record")),
    Case("array_of_lists.json", "records as lists, not objects",
         lambda: text('[{"id": "1", "name": "Hansen AS"}, ["2", "Berg AB"]]'),
         err("record 2 is a JSON list, not an object of field: value pairs", 2,
             row_label="record")),
    Case("truncated.json", "an array cut off mid-record",
         lambda: text('[{"id": "1", "name": "Hansen AS"},\n {"id": "2", "na'),
         err("Unterminated string starting at (the file ends there: was the export finished?)",
             2, row_label="line")),
    Case("bad_line.jsonl", "NDJSON with one broken line",
         lambda: text('{"id": "1", "name": "Hansen AS"}\n{"id": "2", "name": "Berg AB"\n'
                      '{"id": "3", "name": "Vries BV"}\n'),
         err("line 2 is not valid JSON: Expecting ',' delimiter", 2, row_label="record")),
    Case("int_and_float_ids.json", "ids 7 and 7.0 (one record, written twice)",
         lambda: text('[{"id": 7, "name": "Hansen AS"}, {"id": 7.0, "name": "Hansen AS"}]'),
         err("id '7' appears twice (first on record 1)", 2, "id", 0, "record")),
    Case("nul_escape.json", "a \\u0000 escape inside a value",
         lambda: text('[{"id": "1", "name": "Hansen\\u0000AS"}]'),
         err(NUL_TEXT, 1, "name", 1, "record")),
    Case("one_record.jsonl", "NDJSON of one record: null, boolean and object values",
         lambda: text('{"id": "1", "name": "Hansen AS", "phone": null, "vip": true, '
                      '"location": {"city": "Oslo"}}\n'),
         loads(1, [f"2 {EXTRA}: 'vip' (D), 'location' (E)"],
               {"1": {"phone": None, "extra": {"vip": "true",
                                              "location": '{"city":"Oslo"}'}}})),
]


def _string_schema(*names: str) -> Any:
    import pyarrow as pa

    return pa.schema([(n, pa.string()) for n in names])


# --- cases made in the test's temporary folder (too big to commit) ---------------------------

def huge_csv(path: Path, size: int, rows: int = 5000) -> int:
    """A CSV of real rows, then extended (sparse, no disk used) to ``size`` bytes: the tail
    reads as NUL bytes, as a file does after a copy that died or a disk that ran full.
    Why not ``size`` bytes of real rows: writing and reading 2 GB takes minutes and 2 GB of
    disk on every CI run; the limit refuses the file before reading a byte either way, and
    with the limit raised the reader must stop at the first NUL, in bounded memory.
    Returns the row of the first NUL (the header is row 1)."""
    with path.open("w", encoding="utf-8", newline="") as f:
        f.write(COMPANY_HEADER)
        for i in range(1, rows + 1):
            f.write(f"{i};Company {i} AS;{i % 10000:04d};Oslo\n")
    os.truncate(path, size)
    return rows + 2


def wide_csv(path: Path, columns: int) -> None:
    """A header of ``columns`` columns and one row."""
    path.write_text("id;" + ";".join(f"col{i}" for i in range(1, columns)) + "\n1"
                    + ";x" * (columns - 1) + "\n", encoding="utf-8")


def zip_bomb(path: Path, size: int) -> None:
    """A workbook whose sheet inflates to ``size`` bytes (see :func:`zip_bomb_bytes`)."""
    path.write_bytes(zip_bomb_bytes(size))


def no_line_break(path: Path, size: int) -> None:
    """``size`` bytes of ``a;b;c;...`` and no line break: a header that never ends."""
    with path.open("w", encoding="utf-8") as f:
        block = "abc;" * 262144
        for _ in range(size // len(block) + 1):
            f.write(block)


GENERATED: list[dict[str, Any]] = [
    {"name": "huge_2gb.csv", "what": "2 GB (2,147,483,648 bytes): 5,000 real rows, then a "
     "sparse tail of NUL bytes", "make": "huge_csv", "size": 2 * 1024**3,
     "expect": err("the file is 2.0 GB (2,147,483,648 bytes), more than the load limit of "
                   "1.0 GB", None)},
    {"name": "huge_2gb.csv, limit raised to 4 GB", "what": "the same file loaded with "
     "max_bytes = 4 GB", "make": "huge_csv", "size": 2 * 1024**3, "max_mb": 4096,
     "expect": err(NUL_TEXT, 5002, "id", 0)},
    {"name": "zip_bomb_2gb.xlsx", "what": "a 2 MB workbook whose sheet inflates to 2 GB",
     "make": "zip_bomb", "size": 2 * 1024**3,
     "expect": err("MB to 2.0 GB (968 times", 1, None, 0)},
    {"name": "wide_100k.csv", "what": "a header of 100,000 columns", "make": "wide_csv",
     "size": 100_000,
     "expect": err("the header has 100,000 columns; at most 4,096 are supported", 1, None,
                   4096)},
    {"name": "header_5mb_no_line_break.csv", "what": "5 MB without a line break",
     "make": "no_line_break", "size": 5 * 1024**2,
     "expect": err("the header row is longer than 3.8 MB (no line break found)", 1, None, 0)},
    {"name": "deep_10000.json (child process)", "what": "the committed 10,000-deep JSON, "
     "loaded in a child process to measure its memory", "make": "corpus",
     "file": "deep_10000.json",
     "expect": err("record 1 is nested more than 128 levels deep", 1, row_label="record")},
]


def _manifest() -> dict[str, Any]:
    files = [{"file": c.file, "format": Path(c.file).suffix.lstrip("."), "what": c.what,
              "side": c.side, "kind": c.kind, "options": c.options, "expect": c.expect}
             for c in CASES]
    return {"files": files, "generated": GENERATED}


def _readme(manifest: dict[str, Any]) -> str:
    def outcome(expect: dict[str, Any]) -> str:
        if "error" in expect:
            where = ", ".join(p for p in (
                f"{expect['row_label']} {expect['row']}" if expect["row"] is not None else "",
                f"column '{expect['column']}'" if expect["column"] else
                (f"column index {expect['column_index']}"
                 if expect["column_index"] is not None else "")) if p)
            return f"error{f' at {where}' if where else ''}: {expect['error']}"
        warns = "; ".join(expect["warnings"]) or "no warning"
        return f"loads {expect['rows']} row(s); {warns}"

    lines = [
        "# Bad-input corpus",
        "",
        "Files a demanding data steward meets, each with what loading it must give. Made by",
        "`make_corpus.py` (run it to rebuild; `--check` verifies the committed files); read by",
        "`tests/reliability/test_bad_input.py` through `cases.json`. Every load goes into a",
        "workspace that already holds data, which must be unchanged after an error.",
        "",
        "| file | what it is | load as | expected |",
        "|---|---|---|---|",
    ]
    for case in manifest["files"]:
        lines.append(f"| `{case['file']}` | {case['what']} | {case['side']} {case['kind']} | "
                     f"{outcome(case['expect'])} |".replace("\n", " "))
    lines += ["", "Made in the test's temporary folder (too big to commit):", "",
              "| case | what it is | expected |", "|---|---|---|"]
    for case in manifest["generated"]:
        lines.append(f"| {case['name']} | {case['what']} | {outcome(case['expect'])} |")
    return "\n".join(lines) + "\n"


def build(folder: Path) -> dict[str, bytes]:
    """Every file of the corpus (plus cases.json and README.md) by name."""
    out = {c.file: c.make() for c in CASES}
    manifest = _manifest()
    out["cases.json"] = (json.dumps(manifest, indent=1, ensure_ascii=False) + "\n").encode()
    out["README.md"] = _readme(manifest).encode()
    return out


def _same(name: str, new: bytes, old: bytes) -> bool:
    """Equal files; workbooks and Parquet files by content (zlib and pyarrow versions may
    compress the same content to other bytes)."""
    if new == old:
        return True
    if name.endswith(".xlsx") and new[:2] == old[:2] == b"PK":
        try:
            a, b = zipfile.ZipFile(io.BytesIO(new)), zipfile.ZipFile(io.BytesIO(old))
            return all(a.read(n) == b.read(n) for n in a.namelist()) \
                and a.namelist() == b.namelist()
        except zipfile.BadZipFile:
            return False
    if name.endswith(".parquet"):
        # by content: the bytes carry the writing pyarrow's version, and its types may differ
        # between versions (the version floors are tested too); a deliberately broken file
        # must stay unreadable
        import pyarrow.parquet as pq

        def rows(data: bytes) -> list[dict[str, Any]] | None:
            try:
                return pq.read_table(io.BytesIO(data)).to_pylist()
            except Exception:
                return None

        return rows(new) == rows(old)
    return False


def main(argv: Sequence[str]) -> int:
    files = build(HERE)
    if "--check" in argv:
        bad = [n for n, data in files.items()
               if not (HERE / n).is_file() or not _same(n, data, (HERE / n).read_bytes())]
        for name in bad:
            print(f"differs: {name}")
        return 1 if bad else 0
    for name, data in files.items():
        (HERE / name).write_bytes(data)
    print(f"wrote {len(files)} files to {HERE}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
