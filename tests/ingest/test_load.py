"""Loading real-world exports: encodings, delimiters, quoting, formats, header synonyms,
mapping files, extra columns, and re-loads that update, flag and log changes."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from erpdata.ingest.columns import fold, map_columns
from erpdata.ingest.load import changes, load_file, preview
from erpdata.workspace import Workspace
from tests.helpers import COMPANIES, rows, write_text

NORDIC = "Bjørn Ærø Åsen € “Citat” ‘q’ Škoda Œuvre"  # every byte class of Windows-1252


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "cp1252"])
def test_every_encoding_and_delimiter(ws: Workspace, tmp_path: Path, delimiter: str,
                                      encoding: str) -> None:
    d = delimiter
    name = NORDIC
    text = (f"Firma-ID{d}Firmanavn{d}Poststed\r\n"
            f'1{d}"{name}"{d}Tromsø\r\n'
            f'2{d}"Semi; comma, tab\t pipe| ""quoted"" AS"{d}"Two\r\nlines"\r\n')
    path = write_text(tmp_path / "c.csv", text, encoding)
    result = load_file(ws, path, side="crm", kind="company")
    assert result.delimiter == d
    assert result.encoding == encoding
    assert rows(ws, "SELECT id, name, postalcity FROM crm_company ORDER BY id") == [
        ("1", name, "Tromsø"),
        ("2", 'Semi; comma, tab\t pipe| "quoted" AS', "Two\r\nlines"),
    ]


def test_latin1_bytes_undefined_in_cp1252_survive(ws: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_bytes(b"id;name\n1;Caf\xe9 \x81\x8d AS\n")
    load_file(ws, path, side="crm", kind="company")
    assert rows(ws, "SELECT name FROM crm_company") == [("Café \x81\x8d AS",)]


def test_delimiter_sniffing_ignores_commas_in_values(ws: Workspace, tmp_path: Path) -> None:
    path = write_text(tmp_path / "c.csv", "id;name;revenue\n1;A, B & C AS;12,50\n2;D AS;3,75\n")
    assert load_file(ws, path, side="crm", kind="company").delimiter == ";"
    assert rows(ws, "SELECT extra FROM crm_company WHERE id = '1'") == [('{"revenue":"12,50"}',)]


def test_values_are_kept_byte_for_byte(ws: Workspace, tmp_path: Path) -> None:
    """Leading zeros, spaces and odd characters stay as exported; only ids are trimmed."""
    path = write_text(tmp_path / "c.csv",
                      'id,name,zip,phone\n" 7 ","  Spaced  AS ",0150,+47 22 33 44 55\n')
    load_file(ws, path, side="crm", kind="company")
    assert rows(ws, "SELECT id, name, postalzip, phone FROM crm_company") == [
        ("7", "  Spaced  AS ", "0150", "+47 22 33 44 55")
    ]


@pytest.mark.parametrize(
    ("side", "kind", "header", "field"),
    [
        ("crm", "company", "Firmanavn", "name"),          # Norwegian
        ("crm", "company", "Företagsnamn", "name"),       # Swedish
        ("crm", "company", "Virksomhedsnavn", "name"),    # Danish
        ("crm", "company", "Bedrijfsnaam", "name"),       # Dutch
        ("crm", "company", "Firmenname", "name"),         # German
        ("crm", "company", "Yrityksen nimi", "name"),     # Finnish
        ("crm", "company", "Postnummer", "postalzip"),
        ("crm", "company", "Postcode", "postalzip"),
        ("crm", "company", "PLZ", "postalzip"),
        ("crm", "company", "Postinumero", "postalzip"),
        ("crm", "company", "Organisasjonsnummer", "vatno"),
        ("crm", "company", "Org.nr", "vatno"),
        ("crm", "company", "KvK-nummer", "vatno"),
        ("crm", "company", "CVR-nummer", "vatno"),
        ("crm", "company", "USt-IdNr.", "vatno"),
        ("crm", "company", "Y-tunnus", "vatno"),
        ("crm", "company", "Besøksadresse", "streetad1"),
        ("crm", "company", "Straße", "streetad1"),
        ("crm", "company", "Bezoekadres", "streetad1"),
        ("crm", "company", "Postadresse", "postalad1"),
        ("crm", "company", "Poststed", "postalcity"),
        ("crm", "company", "Woonplaats", "postalcity"),
        ("crm", "company", "E-post", "email"),
        ("crm", "company", "Hjemmeside", "url"),
        ("crm", "company", "Telefon", "phone"),
        ("crm", "company", "Kundenummer", "number2"),
        ("crm", "company", "Firma-ID", "id"),
        ("crm", "company", "ContactId", "id"),
        ("crm", "person", "Fornavn", "firstname"),
        ("crm", "person", "Efternamn", "lastname"),
        ("crm", "person", "Achternaam", "lastname"),
        ("crm", "person", "Mobil", "phone_mobile"),
        ("crm", "person", "Firma-ID", "company_id"),
        ("crm", "person", "Person-ID", "id"),
        ("crm", "person", "Geburtsdatum", "birthdate"),
        ("crm", "project", "Prosjektnavn", "name"),
        ("crm", "project", "Sluttdato", "enddate"),
        ("erp", "company", "Debiteurnaam", "name"),
        ("erp", "company", "Customer ID", "id"),
        ("erp", "company", "Type", "actor_type"),
        ("erp", "company", "write_date", "last_modified"),
        ("erp", "person", "Customer key", "parent_key"),
        ("erp", "project", "Klantnummer", "parent_key"),
    ],
)
def test_header_synonyms(side: str, kind: str, header: str, field: str) -> None:
    mapping = map_columns([header], side, kind)  # type: ignore[arg-type]
    assert mapping.as_dict() == {field: header}


def test_fold() -> None:
    assert fold("Besøks-adresse") == "besoksadresse"
    assert fold("STRASSE") == fold("Straße") == "strasse"
    assert fold(" Org. nr ") == "orgnr"
    assert fold("Ærø") == "aero"


def test_xlsx_with_numbers_dates_and_text(ws: Workspace, tmp_path: Path) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    sheet = wb.active
    sheet.append(["Firma-ID", "Firmanavn", "Postnr", "Registrert"])
    sheet.append([1, "Hansen AS", "0150", dt.date(2024, 3, 31)])
    sheet.append([2, "Berg AB", 11122, dt.datetime(2024, 4, 1, 12, 30)])
    path = tmp_path / "c.xlsx"
    wb.save(path)
    result = load_file(ws, path, side="crm", kind="company")
    assert (result.format, result.rows) == ("xlsx", 2)
    sql = "SELECT id, name, postalzip, extra, source_row FROM crm_company ORDER BY id"
    assert rows(ws, sql) == [
        ("1", "Hansen AS", "0150", '{"Registrert":"2024-03-31"}', 2),
        ("2", "Berg AB", "11122", '{"Registrert":"2024-04-01 12:30:00"}', 3),
    ]


def test_parquet_with_types(ws: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "p.parquet"
    pq.write_table(pa.table({
        "id": pa.array([10, 11], pa.int64()),
        "name": ["Alpha", "Beta"],
        "enddate": pa.array([dt.date(2026, 12, 31), None], pa.date32()),
        "budget": [1.5, 2.0],
    }), path)
    result = load_file(ws, path, side="crm", kind="project")
    assert (result.format, result.rows) == ("parquet", 2)
    assert rows(ws, "SELECT id, name, enddate, extra, source_row FROM crm_project ORDER BY id") == [
        ("10", "Alpha", dt.date(2026, 12, 31), '{"budget":"1.5"}', 1),
        ("11", "Beta", None, '{"budget":"2.0"}', 2),
    ]


@pytest.mark.parametrize("fmt", ["json", "ndjson"])
def test_json_and_ndjson(ws: Workspace, tmp_path: Path, fmt: str) -> None:
    records = [
        {"id": "C1", "name": "Alpha AS", "type": "Kunde", "tags": {"a": 1}},
        {"id": "C2", "name": "Beta AB", "type": "Leverandør",
         "last_modified": "2026-01-02T10:00:00+01:00"},
    ]
    text = (json.dumps(records) if fmt == "json"
            else "\n".join(json.dumps(r) for r in records) + "\n")
    path = write_text(tmp_path / f"e.{fmt}", text)
    result = load_file(ws, path, side="erp", kind="company")
    assert result.format == fmt
    assert rows(ws, "SELECT actor_type, id, name, last_modified, extra FROM erp_company "
                    "ORDER BY id") == [
        ("customer", "C1", "Alpha AS", None, '{"tags":"{\\"a\\":1}"}'),
        ("supplier", "C2", "Beta AB", dt.datetime(2026, 1, 2, 9, 0), '{"tags":null}'),
    ]


def test_dates_and_timestamps_in_local_formats(ws: Workspace, tmp_path: Path) -> None:
    load_file(ws, write_text(tmp_path / "c.csv", COMPANIES), side="crm", kind="company")
    path = write_text(tmp_path / "p.csv", "id;firstname;company_id;birthdate\n"
                      "1;A;1;1980-12-31\n2;B;1;31.12.1980\n3;C;2;31-12-1980\n4;D;2;31/12/1980\n"
                      "5;E;3;\n")
    load_file(ws, path, side="crm", kind="person")
    assert rows(ws, "SELECT id, birthdate FROM crm_person ORDER BY id") == [
        ("1", dt.date(1980, 12, 31)), ("2", dt.date(1980, 12, 31)), ("3", dt.date(1980, 12, 31)),
        ("4", dt.date(1980, 12, 31)), ("5", None),
    ]


def test_mapping_file_wins_over_synonyms(ws: Workspace, tmp_path: Path) -> None:
    mapping = write_text(tmp_path / "map.toml",
                         '[columns]\nid = "Kundenr"\nname = "Kortnavn"\nnumber1 = "Navn"\n')
    path = write_text(tmp_path / "c.csv", "Kundenr;Navn;Kortnavn;Postnr\n1;Hansen AS;HANSEN;0150\n")
    result = load_file(ws, path, side="crm", kind="company", mapping=mapping)
    assert result.mapping == {"id": "Kundenr", "name": "Kortnavn", "number1": "Navn",
                              "postalzip": "Postnr"}
    assert result.columns == [
        ("Kundenr", "id", "mapping file"), ("Navn", "number1", "mapping file"),
        ("Kortnavn", "name", "mapping file"), ("Postnr", "postalzip", "synonym"),
    ]
    assert rows(ws, "SELECT id, name, number1 FROM crm_company") == [("1", "HANSEN", "Hansen AS")]
    stored = rows(ws, "SELECT mapping FROM loads")[0][0]
    assert json.loads(str(stored)) == result.mapping


def test_json_mapping_and_dict_mapping(ws: Workspace, tmp_path: Path) -> None:
    path = write_text(tmp_path / "c.csv", "Nr,Navn\n1,A AS\n")
    mapping = write_text(tmp_path / "map.json", json.dumps({"columns": {"id": "Nr"}}))
    assert load_file(ws, path, side="crm", kind="company", mapping=mapping).mapping == {
        "id": "Nr", "name": "Navn"}
    assert load_file(ws, path, side="crm", kind="company", mapping={"id": "Nr"}).unchanged == 1


def test_unknown_columns_are_kept_in_extra_with_a_warning(ws: Workspace, tmp_path: Path) -> None:
    path = write_text(tmp_path / "c.csv",
                      "Firma-ID;Firmanavn;Vår kontakt;;Firmanavn\n1;A AS;Kari;x;Dup AS\n")
    result = load_file(ws, path, side="crm", kind="company")
    assert result.warnings == [
        "column D has no header; kept as 'column D'",
        "header 'Firmanavn' appears more than once; column E kept as 'Firmanavn (2)'",
        "3 column(s) match no field and are kept in extra: 'Vår kontakt' (C), 'column D' (D), "
        "'Firmanavn (2)' (E)",
    ]
    assert rows(ws, "SELECT name, extra FROM crm_company") == [
        ("A AS", '{"Vår kontakt":"Kari","column D":"x","Firmanavn (2)":"Dup AS"}')
    ]


def test_records_remember_source_file_row_and_load(ws: Workspace, tmp_path: Path) -> None:
    path = write_text(tmp_path / "c.csv", COMPANIES)
    result = load_file(ws, path, side="crm", kind="company", user="kari")
    assert rows(ws, "SELECT id, source_file, source_row, first_load_id, load_id FROM crm_company "
                    "ORDER BY id") == [
        ("1", str(path), 2, result.load_id, result.load_id),
        ("2", str(path), 3, result.load_id, result.load_id),
        ("3", str(path), 4, result.load_id, result.load_id),
    ]
    assert rows(ws, "SELECT side, kind, format, encoding, delimiter, rows, inserted, loaded_by "
                    "FROM loads") == [("crm", "company", "csv", "utf-8", ";", 3, 3, "kari")]


def test_reload_updates_flags_and_logs_changes(ws: Workspace, tmp_path: Path) -> None:
    first = load_file(ws, write_text(tmp_path / "v1.csv", COMPANIES), side="crm", kind="company")
    assert (first.inserted, first.updated, first.missing) == (3, 0, 0)
    v2 = ("id;name;vatno;postalzip;postalcity;country\n"
          "1;Hansen & Co AS;923609016;0151;Oslo;NO\n"    # zip changed
          "3;De Vries B.V.;12345678;1012 AB;Amsterdam;NL\n"  # unchanged; 2 vanished
          "4;Nieuw B.V.;;;;NL\n")                           # new
    second = load_file(ws, write_text(tmp_path / "v2.csv", v2), side="crm", kind="company")
    assert (second.rows, second.inserted, second.updated, second.unchanged, second.missing,
            second.reappeared) == (3, 1, 1, 1, 1, 0)
    assert changes(ws, second.load_id) == [
        {"actor_type": None, "record_id": "4", "change": "insert", "field": None,
         "old_value": None, "new_value": None},
        {"actor_type": None, "record_id": "2", "change": "missing", "field": None,
         "old_value": None, "new_value": None},
        {"actor_type": None, "record_id": "1", "change": "update", "field": "postalzip",
         "old_value": "0150", "new_value": "0151"},
    ]
    assert rows(ws, "SELECT id, postalzip, missing_since, first_load_id, load_id FROM crm_company "
                    "ORDER BY id") == [
        ("1", "0151", None, first.load_id, second.load_id),
        ("2", "111 22", second.load_id, first.load_id, first.load_id),  # flagged, not deleted
        ("3", "1012 AB", None, first.load_id, second.load_id),
        ("4", None, None, second.load_id, second.load_id),
    ]
    assert ws.counts()["crm"]["company"] == 3
    assert ws.counts()["missing"]["crm"]["company"] == 1
    third = load_file(ws, write_text(tmp_path / "v3.csv", COMPANIES), side="crm", kind="company")
    assert (third.inserted, third.updated, third.missing, third.reappeared) == (0, 1, 1, 1)
    assert rows(ws, "SELECT id, missing_since FROM crm_company ORDER BY id") == [
        ("1", None), ("2", None), ("3", None), ("4", third.load_id)]


def test_reload_of_persons_keeps_company_references(ws: Workspace, tmp_path: Path) -> None:
    load_file(ws, write_text(tmp_path / "c.csv", COMPANIES), side="crm", kind="company")
    load_file(ws, write_text(tmp_path / "p.csv", "id;firstname;company_id\n10;Ola;1\n"),
              side="crm", kind="person")
    # Companies referenced by persons can be re-loaded (updated and flagged).
    again = load_file(ws, write_text(tmp_path / "c2.csv", "id;name\n1;Renamed AS\n"),
                      side="crm", kind="company")
    assert (again.updated, again.missing) == (1, 2)
    moved = load_file(ws, write_text(tmp_path / "p2.csv", "id;firstname;company_id\n10;Ola;3\n"),
                      side="crm", kind="person")
    assert moved.updated == 1
    assert rows(ws, "SELECT company_id FROM crm_person") == [("3",)]


def test_erp_reload_scope_is_per_actor_type(ws: Workspace, tmp_path: Path) -> None:
    """Loading the supplier export must not flag every customer as missing."""
    load_file(ws, write_text(tmp_path / "cust.csv", "id,name\n100,A AS\n101,B AS\n"),
              side="erp", kind="company", actor_type="customer")
    sup = load_file(ws, write_text(tmp_path / "sup.csv", "id,name\n100,Supplier A AS\n"),
                    side="erp", kind="company", actor_type="supplier")
    assert (sup.inserted, sup.missing) == (1, 0)
    again = load_file(ws, write_text(tmp_path / "cust2.csv", "id,name\n100,A AS\n"),
                      side="erp", kind="company", actor_type="customer")
    assert again.missing == 1
    assert rows(ws, "SELECT actor_type, id, missing_since IS NOT NULL FROM erp_company "
                    "ORDER BY ALL") == [
        ("customer", "100", False), ("customer", "101", True), ("supplier", "100", False)]


def test_erp_persons_and_projects_resolve_their_parent(ws: Workspace, tmp_path: Path) -> None:
    load_file(ws, write_text(tmp_path / "c.csv", "id,name,type\nC1,A AS,customer\n"
                             "S1,B AS,supplier\n"), side="erp", kind="company")
    load_file(ws, write_text(tmp_path / "p.csv",
                             "id,firstname,lastname,parent_key\nP1,Ola,N,C1\nP2,Kari,H,S1\n"
                             "P3,Per,Uten,\n"), side="erp", kind="person")
    load_file(ws, write_text(tmp_path / "j.csv", "id,name,customer\nJ1,Build,C1\n"),
              side="erp", kind="project")
    assert rows(ws, "SELECT id, actor_type, parent_actor_type, parent_key FROM erp_person "
                    "ORDER BY id") == [
        ("P1", "person", "customer", "C1"), ("P2", "person", "supplier", "S1"),
        ("P3", "person", None, None)]
    assert rows(ws, "SELECT id, actor_type, parent_actor_type, parent_key FROM erp_project") == [
        ("J1", "project", "customer", "C1")]


def test_actor_type_column_with_file_default(ws: Workspace, tmp_path: Path) -> None:
    path = write_text(tmp_path / "c.csv", "id,name,type\n1,A,\n2,B,Leverandør\n3,C,begge\n")
    load_file(ws, path, side="erp", kind="company", actor_type="customer")
    assert rows(ws, "SELECT id, actor_type FROM erp_company ORDER BY id") == [
        ("1", "customer"), ("2", "supplier"), ("3", "partner")]


def test_progress_is_reported_in_order(ws: Workspace, tmp_path: Path) -> None:
    seen: list[tuple[str, float]] = []
    load_file(ws, write_text(tmp_path / "c.csv", COMPANIES), side="crm", kind="company",
              progress=lambda stage, fraction: seen.append((stage, fraction)))
    assert [s for s, _ in seen] == ["reading", "mapping", "validating", "applying", "done"]
    assert [f for _, f in seen] == sorted(f for _, f in seen)


def test_transcoding_leaves_no_temp_file(ws: Workspace, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    path = write_text(tmp_path / "c.csv", "id;name\n1;Sørensen €\n", "cp1252")
    load_file(ws, path, side="crm", kind="company")
    assert list((tmp_path / "tmp").iterdir()) == []
    assert rows(ws, "SELECT name FROM crm_company") == [("Sørensen €",)]


def test_recent_loads_newest_first(ws: Workspace, tmp_path: Path) -> None:
    from erpdata.ingest.load import recent_loads

    first = load_file(ws, write_text(tmp_path / "c.csv", COMPANIES), side="crm", kind="company",
                      user="kari")
    second = load_file(ws, write_text(tmp_path / "e.csv", "id,name\n1,A\n"), side="erp",
                       kind="company", actor_type="supplier", user="ola")
    loads = recent_loads(ws)
    assert [(x["load_id"], x["side"], x["kind"], x["rows"], x["inserted"], x["loaded_by"])
            for x in loads] == [(second.load_id, "erp", "company", 1, 1, "ola"),
                                (first.load_id, "crm", "company", 3, 3, "kari")]
    assert [x["load_id"] for x in recent_loads(ws, limit=1)] == [second.load_id]


def test_preview_maps_columns_without_writing(tmp_path: Path) -> None:
    f = write_text(tmp_path / "p.csv", "Firma-ID;Firmanavn;Org.nr;Farge\n"
                   "1;Hansen AS;923609016;blå\n2;Berg AS;;rød\n")
    p = preview(f, side="crm", kind="company", display="p.csv")
    assert p.columns == [("Firma-ID", "id", "synonym"), ("Firmanavn", "name", "synonym"),
                         ("Org.nr", "vatno", "synonym"), ("Farge", "extra", "kept as is")]
    assert p.rows.columns.tolist() == ["Firma-ID", "Firmanavn", "Org.nr", "Farge"]
    assert p.rows["Firmanavn"].tolist() == ["Hansen AS", "Berg AS"] and p.total == 2


# --- partial and lenient loads ---------------------------------------------------------------

SOME = ("id;name;vatno;postalzip;postalcity;country\n"
        "1;Hansen & Co AS;923609016;0151;Oslo;NO\n"   # zip changed
        "4;Nieuw B.V.;;;;NL\n")                          # new; 2 and 3 are not in the file


def test_partial_load_adds_and_updates_and_flags_nothing(ws: Workspace, tmp_path: Path) -> None:
    first = load_file(ws, write_text(tmp_path / "all.csv", COMPANIES), side="crm", kind="company")
    some = load_file(ws, write_text(tmp_path / "some.csv", SOME), side="crm", kind="company",
                     partial=True)
    assert (some.inserted, some.updated, some.unchanged, some.missing, some.partial) == (
        1, 1, 0, 0, True)
    assert "nothing flagged missing (partial load)" in some.summary()
    assert rows(ws, "SELECT id, postalzip, missing_since, load_id FROM crm_company "
                    "ORDER BY id") == [
        ("1", "0151", None, some.load_id), ("2", "111 22", None, first.load_id),
        ("3", "1012 AB", None, first.load_id), ("4", None, None, some.load_id)]
    assert [c["change"] for c in changes(ws, some.load_id)] == ["insert", "update"]
    assert rows(ws, f"SELECT missing FROM loads WHERE load_id = {some.load_id}") == [(0,)]


def test_preview_counts_the_records_a_full_load_would_flag(ws: Workspace,
                                                           tmp_path: Path) -> None:
    load_file(ws, write_text(tmp_path / "all.csv", COMPANIES), side="crm", kind="company")
    some = write_text(tmp_path / "some.csv", SOME)
    assert preview(some, side="crm", kind="company").absent is None  # no workspace: not known
    assert preview(some, side="crm", kind="company", ws=ws).absent == 2
    full = load_file(ws, some, side="crm", kind="company")
    assert full.missing == 2
    # Records already flagged missing are not counted again.
    assert preview(some, side="crm", kind="company", ws=ws).absent == 0


def test_preview_counts_erp_companies_of_the_file_s_actor_types(ws: Workspace,
                                                                tmp_path: Path) -> None:
    """As a full load flags: a customer file says nothing about suppliers."""
    load_file(ws, write_text(tmp_path / "both.csv", "id,name,type\n100,A AS,customer\n"
                             "101,B AS,customer\n102,C AS,customer\n200,S AS,supplier\n"),
              side="erp", kind="company")
    cust = write_text(tmp_path / "cust.csv", "id,name\n100,A AS\n")
    assert preview(cust, side="erp", kind="company", ws=ws, actor_type="customer").absent == 2
    assert preview(cust, side="erp", kind="company", ws=ws, actor_type="supplier").absent == 1
    assert preview(cust, side="erp", kind="company", ws=ws).absent is None  # no type: not known
    typed = write_text(tmp_path / "typed.csv", "id,name,type\n100,A AS,Kunde\n200,S AS,prospect\n")
    assert preview(typed, side="erp", kind="company", ws=ws).absent == 2  # 101, 102


PERSONS = ("id;Fornavn;Firma-ID;Fødselsdato\n"
           "10;Ola;1;31.12.1980\n"
           "11;Kari;2;19450493\n"
           "12;Per;3;\n"
           "13;Liv;1;someday\n")


def test_lenient_load_leaves_bad_cells_empty_and_lists_each(ws: Workspace,
                                                            tmp_path: Path) -> None:
    from erpdata.ingest.load import CellProblem

    load_file(ws, write_text(tmp_path / "c.csv", COMPANIES), side="crm", kind="company")
    path = write_text(tmp_path / "persons.csv", PERSONS)
    result = load_file(ws, path, side="crm", kind="person", lenient=True)
    hint = "is not a date such as 2026-03-31 or 31.03.2026"
    assert result.problems == [
        CellProblem(str(path), 3, "Fødselsdato", "D", "birthdate", "Birth date", "19450493",
                    f"'19450493' {hint}"),
        CellProblem(str(path), 5, "Fødselsdato", "D", "birthdate", "Birth date", "someday",
                    f"'someday' {hint}"),
    ]
    assert str(result.problems[0]) == f"{path}, row 3, column 'Fødselsdato' (D): '19450493' {hint}"
    assert (result.inserted, result.lenient) == (4, True)
    assert result.summary().endswith("; 2 cell(s) that did not parse left empty")
    assert rows(ws, "SELECT id, firstname, birthdate FROM crm_person ORDER BY id") == [
        ("10", "Ola", dt.date(1980, 12, 31)), ("11", "Kari", None), ("12", "Per", None),
        ("13", "Liv", None)]
    (stored,) = rows(ws, f"SELECT warnings FROM loads WHERE load_id = {result.load_id}")[0]
    assert json.loads(stored) == [
        "lenient load: 2 cell(s) did not parse and were left empty: row 3, column "
        "'Fødselsdato' (D) '19450493'; row 5, column 'Fødselsdato' (D) 'someday'"]


def test_lenient_reload_empties_a_cell_that_no_longer_parses(ws: Workspace,
                                                             tmp_path: Path) -> None:
    """The export's value is what the workspace holds: a value gone bad is emptied (and the
    change is logged), not kept silently from an older export."""
    load_file(ws, write_text(tmp_path / "c.csv", COMPANIES), side="crm", kind="company")
    load_file(ws, write_text(tmp_path / "p1.csv", "id;Firma-ID;Fødselsdato\n10;1;31.12.1980\n"),
              side="crm", kind="person")
    p2 = write_text(tmp_path / "p2.csv", "id;Firma-ID;Fødselsdato\n10;1;31.13.1980\n")
    again = load_file(ws, p2, side="crm", kind="person", lenient=True)
    assert [(p.row, p.value) for p in again.problems] == [(2, "31.13.1980")]
    assert changes(ws, again.load_id) == [
        {"actor_type": None, "record_id": "10", "change": "update", "field": "birthdate",
         "old_value": "1980-12-31", "new_value": None}]


def test_lenient_load_of_erp_timestamps_and_several_columns(ws: Workspace,
                                                            tmp_path: Path) -> None:
    """Problems come in the order a spreadsheet reads: row, then column."""
    path = write_text(tmp_path / "proj.csv",
                      "id,name,enddate,last_modified\n"
                      "P1,A,2026-13-01,yesterday\nP2,B,2026-01-31,2026-01-02 10:00:00\n"
                      "P3,C,31.02.2026,\n")
    result = load_file(ws, path, side="erp", kind="project", lenient=True)
    assert [(p.row, p.letter, p.field, p.value) for p in result.problems] == [
        (2, "C", "enddate", "2026-13-01"), (2, "D", "last_modified", "yesterday"),
        (4, "C", "enddate", "31.02.2026")]
    assert rows(ws, "SELECT id, enddate, last_modified FROM erp_project ORDER BY id") == [
        ("P1", None, None), ("P2", dt.date(2026, 1, 31), dt.datetime(2026, 1, 2, 10)),
        ("P3", None, None)]


def test_cli_load_partial_and_lenient(ws: Workspace, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    from erpdata.cli import main

    ws.close()
    where = ["--workspace", str(tmp_path / "ws.duckdb")]
    load = ["load", "--side", "crm", "--kind"]
    assert main([*load, "company", str(write_text(tmp_path / "c.csv", COMPANIES)), *where]) == 0
    assert main([*load, "company", "--partial",
                 str(write_text(tmp_path / "some.csv", SOME)), *where]) == 0
    assert "nothing flagged missing (partial load)" in capsys.readouterr().err
    persons = "id;Firma-ID;Fødselsdato\n" + "".join(f"{i};1;2026-99-{i:02d}\n"
                                                      for i in range(1, 13))
    path = write_text(tmp_path / "p.csv", persons)
    assert main([*load, "person", str(path), *where]) == 1  # strict: refused
    assert f"error: {path}, row 2, column 'Fødselsdato' (C): '2026-99-01' is not a date" in (
        capsys.readouterr().err)
    assert main([*load, "person", "--lenient", str(path), *where]) == 0
    err = capsys.readouterr().err.splitlines()
    at = err.index("12 cell(s) did not parse and were left empty (lenient load):")
    assert err[at + 1] == (f"  {path}, row 2, column 'Fødselsdato' (C): '2026-99-01' is not a "
                           "date such as 2026-03-31 or 31.03.2026")
    assert err[at + 11] == "  ... and 2 more (--json lists them all)"
    assert main([*load, "person", "--lenient", "--json", str(path), *where]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [(p["row"], p["column"], p["value"]) for p in data["problems"]] == [
        (i + 1, "Fødselsdato", f"2026-99-{i:02d}") for i in range(1, 13)]
    assert (data["lenient"], data["partial"]) == (True, False)
    with Workspace.open(tmp_path / "ws.duckdb") as w:
        assert rows(w, "SELECT count(*), count(birthdate) FROM crm_person") == [(12, 0)]
        assert rows(w, "SELECT count(*) FROM crm_company WHERE missing_since IS NOT NULL") == [
            (0,)]
