"""Bad input: each case gives ONE clear error naming the file, the row and the column, and the
workspace is exactly as it was before (compared table by table, row by row)."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from erpdata.errors import IngestError
from erpdata.ingest.load import load_file
from erpdata.workspace import Workspace
from tests.helpers import COMPANIES, snapshot, write_text


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    """A workspace that already holds three CRM companies, so 'unchanged' means something."""
    w = Workspace.open(tmp_path / "ws.duckdb")
    load_file(w, write_text(tmp_path / "base.csv", COMPANIES), side="crm", kind="company")
    yield w
    w.close()


def fails(ws: Workspace, path: Path, side: str = "crm", kind: str = "company",
          **kwargs: object) -> IngestError:
    """Load ``path``, expect an IngestError, and check the workspace did not change at all."""
    before = snapshot(ws)
    with pytest.raises(IngestError) as info:
        load_file(ws, path, side=side, kind=kind, **kwargs)  # type: ignore[arg-type]
    assert snapshot(ws) == before
    assert str(path) in str(info.value)
    return info.value


def test_missing_id_column(ws: Workspace, tmp_path: Path) -> None:
    path = write_text(tmp_path / "noid.csv", "Firmanavn;Poststed\nHansen AS;Oslo\n")
    err = fails(ws, path)
    assert (err.row, err.column) == (1, None)
    assert str(err) == (
        f"{path}, row 1: no column holds the record id of these CRM companies; the headers are "
        "'Firmanavn', 'Poststed'. Name the id column 'id' or map it in a mapping file "
        "([columns] id = \"Your header\")."
    )


def test_duplicate_ids(ws: Workspace, tmp_path: Path) -> None:
    path = write_text(tmp_path / "dup.csv", "Firma-ID;Firmanavn\n7;A AS\n8;B AS\n7;C AS\n")
    err = fails(ws, path)
    assert (err.row, err.column, err.column_index) == (4, "Firma-ID", 0)
    assert str(err) == (
        f"{path}, row 4, column 'Firma-ID' (A): id '7' appears twice (first on row 2); "
        "ids must be unique within a file"
    )


def test_empty_id(ws: Workspace, tmp_path: Path) -> None:
    path = write_text(tmp_path / "emptyid.csv", "Navn,id\nA AS,1\nB AS, \n")
    err = fails(ws, path)
    assert (err.row, err.column, err.column_index) == (3, "id", 1)
    assert "the id is empty" in str(err)


def test_empty_file(ws: Workspace, tmp_path: Path) -> None:
    path = write_text(tmp_path / "empty.csv", "")
    err = fails(ws, path)
    assert (err.row, err.column_index) == (1, 0)
    assert str(err) == (
        f"{path}, row 1, column A: the file is empty (0 bytes): was the export finished?"
    )


def test_header_only(ws: Workspace, tmp_path: Path) -> None:
    path = write_text(tmp_path / "header.csv", "id;name\n")
    err = fails(ws, path)
    assert (err.row, err.column) == (2, "id")
    assert "has a header but no data rows" in str(err)


def test_mixed_encoding_is_unreadable(ws: Workspace, tmp_path: Path) -> None:
    # UTF-8 "Bjørn" on row 2, then a Windows-1252 "ø" (0xF8) on row 3, column B.
    data = "id;name\n1;Bjørn AS\n".encode() + b"2;Fj\xf8rd AS\n"
    path = tmp_path / "mixed.csv"
    path.write_bytes(data)
    err = fails(ws, path)
    assert (err.row, err.column, err.column_index) == (3, "name", 1)
    assert "byte 0xF8 is not valid UTF-8" in str(err)
    assert "mixes encodings" in str(err)


def test_binary_file_is_unreadable(ws: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "binary.csv"
    path.write_bytes(b"id;name\n1;\x00\x01\x02\x03\xff\xfe\x00garbage\x00\n")
    err = fails(ws, path)
    assert (err.row, err.column_index) == (1, 0)
    assert "binary data, not a text export (unreadable encoding)" in str(err)


def test_broken_utf16_is_unreadable(ws: Workspace, tmp_path: Path) -> None:
    good = "id\tname\r\n1\tA AS\r\n2\tB".encode("utf-16-le")
    lone_surrogate = b"\x00\xd8"  # a high surrogate with no low surrogate after it
    path = tmp_path / "broken16.txt"
    path.write_bytes(b"\xff\xfe" + good + lone_surrogate + " AS\r\n".encode("utf-16-le"))
    err = fails(ws, path)
    assert (err.row, err.column, err.column_index) == (3, "name", 1)
    assert "cannot be decoded (unreadable encoding)" in str(err)


@pytest.mark.parametrize(
    ("line", "row", "column", "index", "text"),
    [
        ("2;B AS\n", 3, "city", 2, "has 2 values but the header has 3 columns"),
        ("2;B AS;Oslo;extra\n", 3, "city", 2, "has 4 values but the header has only 3 columns"),
    ],
)
def test_ragged_rows(ws: Workspace, tmp_path: Path, line: str, row: int, column: str,
                     index: int, text: str) -> None:
    path = write_text(tmp_path / "ragged.csv", "id;name;city\n1;A AS;Bergen\n" + line
                      + "3;C AS;Oslo\n")
    err = fails(ws, path)
    assert (err.row, err.column, err.column_index) == (row, column, index)
    assert text in str(err)


def test_ragged_row_after_multiline_value_counts_records(ws: Workspace, tmp_path: Path) -> None:
    path = write_text(tmp_path / "ml.csv",
                      'id;name;city\n1;"Two\nlines AS";Bergen\n2;"Three\nline\nname";Oslo\n3;C\n')
    err = fails(ws, path)
    assert (err.row, err.column) == (4, "city")  # the spreadsheet row, not the text line (7)


def test_unclosed_quote(ws: Workspace, tmp_path: Path) -> None:
    path = write_text(tmp_path / "quote.csv", 'id;name;city\n1;A AS;Oslo\n2;"B AS;Oslo\n')
    err = fails(ws, path)
    assert err.row == 3
    assert "quoted value is not closed" in str(err)


def test_wrong_type_for_date_field(ws: Workspace, tmp_path: Path) -> None:
    path = write_text(tmp_path / "persons.csv",
                      "id;Fornavn;Etternavn;Firma-ID;Fødselsdato\n"
                      "10;Ola;Nordmann;1;31.12.1980\n11;Kari;Hansen;2;31.02.1981\n")
    err = fails(ws, path, kind="person")
    assert (err.row, err.column, err.column_index) == (3, "Fødselsdato", 4)
    assert str(err).endswith("'31.02.1981' is not a date such as 2026-03-31 or 31.03.2026")


def test_wrong_type_for_timestamp_field(ws: Workspace, tmp_path: Path) -> None:
    path = write_text(tmp_path / "erp.csv",
                      "id,name,type,last_modified\nC1,A AS,customer,2026-01-02 10:00:00\n"
                      "C2,B AS,customer,yesterday\n")
    err = fails(ws, path, side="erp")
    assert (err.row, err.column, err.column_index) == (3, "last_modified", 3)
    assert "'yesterday' is not a date and time" in str(err)


def test_unknown_actor_type(ws: Workspace, tmp_path: Path) -> None:
    path = write_text(tmp_path / "erp.csv", "id,name,type\nC1,A AS,Kunde\nC2,B AS,prospect\n")
    err = fails(ws, path, side="erp")
    assert (err.row, err.column, err.column_index) == (3, "type", 2)
    assert "'prospect' is not an ERP actor type: use one of customer, supplier, partner" in str(err)


def test_erp_companies_need_an_actor_type(ws: Workspace, tmp_path: Path) -> None:
    path = write_text(tmp_path / "erp.csv", "id,name\nC1,A AS\n")
    err = fails(ws, path, side="erp")
    assert err.row == 1
    assert "--actor-type customer" in str(err)


@pytest.mark.parametrize(
    ("name", "content", "says"),
    [
        ("companies.xlsx", b"id;name\n1;A AS\n",
         "the extension says an XLSX workbook, but the content is CSV text"),
        ("companies.parquet", b'[{"id": "1"}]',
         "the extension says a Parquet file, but the content is JSON"),
        ("companies.json", b"id,name\n1,A AS\n",
         "the extension says JSON, but the content is CSV text"),
        ("companies.csv", b"PAR1\x15\x04\x15\x00\x00PAR1",
         "the extension says CSV text, but the content is a Parquet file"),
        ("companies.csv", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64,
         "old Excel 97-2003 .xls"),
    ],
)
def test_file_is_not_what_its_extension_says(ws: Workspace, tmp_path: Path, name: str,
                                             content: bytes, says: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    err = fails(ws, path)
    assert (err.row, err.column_index) == (1, 0)
    assert says in str(err)


def test_xlsx_named_csv(ws: Workspace, tmp_path: Path) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    wb.active.append(["id", "name"])
    wb.active.append(["1", "A AS"])
    xlsx = tmp_path / "real.xlsx"
    wb.save(xlsx)
    path = tmp_path / "companies.csv"
    path.write_bytes(xlsx.read_bytes())
    err = fails(ws, path)
    assert "the extension says CSV text, but the content is an XLSX workbook" in str(err)


def test_person_whose_company_does_not_exist(ws: Workspace, tmp_path: Path) -> None:
    path = write_text(tmp_path / "persons.csv",
                      "Person-ID;Fornavn;Etternavn;Firma-ID\n10;Ola;Nordmann;1\n11;Kari;Hansen;99\n")
    err = fails(ws, path, kind="person")
    assert (err.row, err.column, err.column_index) == (3, "Firma-ID", 3)
    assert "company '99' does not exist among the CRM companies of this workspace" in str(err)


def test_erp_person_whose_parent_does_not_exist(ws: Workspace, tmp_path: Path) -> None:
    load_file(ws, write_text(tmp_path / "cust.csv", "id,name\nC1,A AS\n"), side="erp",
              kind="company", actor_type="customer")
    path = write_text(tmp_path / "erp_persons.csv",
                      "id,firstname,lastname,parent_key\nP1,Ola,N,C1\nP2,Kari,H,C9\n")
    err = fails(ws, path, side="erp", kind="person")
    assert (err.row, err.column, err.column_index) == (3, "parent_key", 3)
    assert "parent 'C9' does not exist among the ERP companies" in str(err)


def test_ambiguous_erp_parent_key(ws: Workspace, tmp_path: Path) -> None:
    load_file(ws, write_text(tmp_path / "both.csv", "id,name,type\n100,A AS,customer\n"
                             "100,A AS,supplier\n"), side="erp", kind="company")
    path = write_text(tmp_path / "erp_persons.csv", "id,firstname,parent_key\nP1,Ola,100\n")
    err = fails(ws, path, side="erp", kind="person")
    assert (err.row, err.column) == (2, "parent_key")
    assert "add a parent actor type column" in str(err)


def test_json_syntax_error(ws: Workspace, tmp_path: Path) -> None:
    path = write_text(tmp_path / "c.ndjson", '{"id": "1", "name": "A"}\n{"id": "2", "name": }\n')
    err = fails(ws, path)
    assert (err.row, err.row_label) == (2, "record")
    assert "line 2 is not valid JSON" in str(err)


def test_json_array_of_non_objects(ws: Workspace, tmp_path: Path) -> None:
    path = write_text(tmp_path / "c.json", json.dumps([{"id": "1"}, ["2", "B"]]))
    err = fails(ws, path)
    assert err.row == 2
    assert "record 2 is a JSON list" in str(err)


def test_parquet_without_id(ws: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "c.parquet"
    pq.write_table(pa.table({"Navn": ["A AS"]}), path)
    err = fails(ws, path)
    assert err.row == 1
    assert "no column holds the record id" in str(err)


def test_mapping_names_a_missing_header(ws: Workspace, tmp_path: Path) -> None:
    mapping = write_text(tmp_path / "map.toml", '[columns]\nid = "Kundenr"\n')
    path = write_text(tmp_path / "c.csv", "Nr;Navn\n1;A AS\n")
    err = fails(ws, path, mapping=mapping)
    assert (err.row, err.column) == (1, "Kundenr")
    assert "the file has no such column; its headers are: 'Nr', 'Navn'" in str(err)


def test_mapping_names_an_unknown_field(ws: Workspace, tmp_path: Path) -> None:
    mapping = write_text(tmp_path / "map.toml", '[columns]\nid = "Nr"\nnmae = "Navn"\n')
    path = write_text(tmp_path / "c.csv", "Nr;Navn\n1;A AS\n")
    before = snapshot(ws)
    with pytest.raises(IngestError) as info:
        load_file(ws, path, side="crm", kind="company", mapping=mapping)
    assert snapshot(ws) == before
    assert str(info.value).startswith(f"{mapping}: the mapping names unknown field 'nmae'")


def test_failure_during_apply_rolls_back(ws: Workspace, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """A crash after records were written (inside the transaction) leaves nothing behind."""
    import erpdata.ingest.load as ingest

    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(ingest, "_log_changes", boom)
    path = write_text(tmp_path / "c.csv", "id;name\n1;Changed AS\n9;New AS\n")
    before = snapshot(ws)
    with pytest.raises(RuntimeError, match="disk full"):
        load_file(ws, path, side="crm", kind="company")
    assert snapshot(ws) == before


KEY_STILL_REFUSES = ("(a lenient load leaves cells that do not parse empty, but not a key or a "
                     "parent: a record without its key cannot be loaded)")


def test_lenient_load_still_refuses_an_empty_id(ws: Workspace, tmp_path: Path) -> None:
    path = write_text(tmp_path / "emptyid.csv", "Navn,id\nA AS,1\nB AS, \n")
    err = fails(ws, path, lenient=True)
    assert (err.row, err.column, err.column_index) == (3, "id", 1)
    assert str(err) == (f"{path}, row 3, column 'id' (B): the id is empty; every record needs "
                        f"an id {KEY_STILL_REFUSES}")


def test_lenient_load_still_refuses_a_duplicate_id(ws: Workspace, tmp_path: Path) -> None:
    path = write_text(tmp_path / "dup.csv", "Firma-ID;Firmanavn\n7;A AS\n7;C AS\n")
    err = fails(ws, path, lenient=True)
    assert str(err).endswith(f"ids must be unique within a file {KEY_STILL_REFUSES}")


def test_lenient_load_still_refuses_a_missing_parent(ws: Workspace, tmp_path: Path) -> None:
    """Even with a bad date elsewhere in the file: the parent refuses, nothing is written."""
    path = write_text(tmp_path / "persons.csv", "id;Firma-ID;Fødselsdato\n10;1;19450493\n"
                      "11;99;01.01.1990\n")
    err = fails(ws, path, kind="person", lenient=True)
    assert (err.row, err.column) == (3, "Firma-ID")
    assert str(err).endswith("load the companies first, or fix the id " + KEY_STILL_REFUSES)


def test_lenient_load_still_refuses_an_unknown_actor_type(ws: Workspace, tmp_path: Path) -> None:
    path = write_text(tmp_path / "erp.csv", "id,name,type\nC1,A AS,Kunde\nC2,B AS,prospect\n")
    err = fails(ws, path, side="erp", lenient=True)
    assert (err.row, err.column) == (3, "type")
    assert str(err).endswith(f"use one of customer, supplier, partner {KEY_STILL_REFUSES}")


def test_strict_load_is_the_default_and_refuses_one_bad_date(ws: Workspace,
                                                             tmp_path: Path) -> None:
    """5,000 persons and one date 19450493: the default load refuses the file, naming the
    cell, and says nothing about keys."""
    body = "".join(f"{i};1;{'19450493' if i == 4321 else '12.03.1945'}\n" for i in range(5000))
    path = write_text(tmp_path / "persons.csv", "id;Firma-ID;Fødselsdato\n" + body)
    err = fails(ws, path, kind="person")
    assert str(err) == (f"{path}, row 4323, column 'Fødselsdato' (C): '19450493' is not a date "
                        "such as 2026-03-31 or 31.03.2026")
    result = load_file(ws, path, side="crm", kind="person", lenient=True)
    assert (result.inserted, [(p.row, p.value) for p in result.problems]) == (
        5000, [(4323, "19450493")])
