"""Loading exports nobody mapped: ERP key headers in six languages, the key and the parent
proposed from the values where the headers do not say, and a mapping file's ``[types]``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from erpdata.cli import main
from erpdata.errors import IngestError
from erpdata.ingest.columns import map_columns
from erpdata.ingest.load import field_types, load_file, preview
from erpdata.matching.runs import comparisons
from erpdata.workspace import Workspace
from tests.helpers import rows, snapshot, write_text


def customers(ws: Workspace, tmp_path: Path, n: int = 3) -> None:
    """ERP customers 10001.. loaded by their CustomerNo header."""
    body = "".join(f"{10000 + i};Firma {i} AS\n" for i in range(1, n + 1))
    load_file(ws, write_text(tmp_path / "cust.csv", "CustomerNo;Name\n" + body),
              side="erp", kind="company", actor_type="customer")


# --- headers ---------------------------------------------------------------------------------

@pytest.mark.parametrize("header", [
    "CustomerNo", "Customer No.", "Kundenr", "Kundenummer",          # English, Norwegian
    "Kundnummer", "Leverantörsnummer",                               # Swedish
    "Debitornummer", "Kreditornummer", "Leverandørnr",               # Danish, Norwegian
    "Debiteurnummer", "Crediteurnummer", "Klantnummer",              # Dutch
    "Kundennummer", "Kunden-Nr.", "Lieferantennummer",               # German
    "Vendor ID", "VendorNo", "Supplier No", "KUNNR",
])
def test_erp_number_headers_by_side_and_kind(header: str) -> None:
    """The same header is the key of an ERP company, the company of an ERP person or project,
    and the ERP number a CRM company carries."""
    assert map_columns([header], "erp", "company").as_dict() == {"id": header}
    assert map_columns([header], "erp", "person").as_dict() == {"parent_key": header}
    assert map_columns([header], "erp", "project").as_dict() == {"parent_key": header}
    assert map_columns([header], "crm", "company").as_dict() == {"number2": header}


@pytest.mark.parametrize("headers", [["id", "CustomerNo"], ["CustomerNo", "id"]])
def test_a_generic_id_column_wins_and_the_customer_number_is_kept(headers: list[str]) -> None:
    cmap = map_columns(headers, "erp", "company")
    assert cmap.as_dict() == {"id": "id", "number2": "CustomerNo"}


def test_erp_company_headed_customerno_loads_without_a_mapping(ws: Workspace,
                                                               tmp_path: Path) -> None:
    path = write_text(tmp_path / "c.csv", "CustomerNo;Name;City\n10001;Hansen AS;Oslo\n"
                      "10002;Berg AS;Bergen\n")
    result = load_file(ws, path, side="erp", kind="company", actor_type="customer")
    assert result.proposal == ["key: column 'CustomerNo' (header: customer number)"]
    assert rows(ws, "SELECT actor_type, id, name FROM erp_company ORDER BY id") == [
        ("customer", "10001", "Hansen AS"), ("customer", "10002", "Berg AS")]


def test_erp_person_with_customerno_keeps_its_company(ws: Workspace, tmp_path: Path) -> None:
    customers(ws, tmp_path)
    path = write_text(tmp_path / "p.csv", "ContactId;FirstName;LastName;CustomerNo\n"
                      "P1;Kari;Hansen;10001\nP2;Ola;Berg;10002\nP3;Per;Uten;\n")
    result = load_file(ws, path, side="erp", kind="person")
    assert result.proposal == ["key: column 'ContactId' (header: contact id)",
                               "parent: column 'CustomerNo' (header: customer number)"]
    assert rows(ws, "SELECT id, parent_actor_type, parent_key, extra FROM erp_person "
                    "ORDER BY id") == [("P1", "customer", "10001", None),
                                       ("P2", "customer", "10002", None),
                                       ("P3", None, None, None)]


@pytest.mark.parametrize(("company", "person"), [
    ("Debiteurnummer;Naam;Plaats\n", "Contactpersoon ID;Voornaam;Achternaam;Debiteurnummer\n"),
    ("Kundennummer;Firmenname;Ort\n", "Kontakt ID;Vorname;Nachname;Kunden-Nr.\n"),
    ("Kundnummer;Företagsnamn;Ort\n", "Kontakt ID;Förnamn;Efternamn;Kundnr\n"),
])
def test_dutch_german_and_swedish_exports(ws: Workspace, tmp_path: Path, company: str,
                                          person: str) -> None:
    load_file(ws, write_text(tmp_path / "c.csv", company + "D1;A;X\nD2;B;Y\n"),
              side="erp", kind="company", actor_type="customer")
    result = load_file(ws, write_text(tmp_path / "p.csv", person + "9;Anna;A;D2\n"),
                       side="erp", kind="person")
    assert result.proposal[1].startswith("parent: column '")
    assert result.proposal[1].endswith("' (header: customer number)")
    assert rows(ws, "SELECT id, firstname, parent_actor_type, parent_key FROM erp_person") == [
        ("9", "Anna", "customer", "D2")]


# --- values ----------------------------------------------------------------------------------

def test_meaningless_headers_get_key_and_parent_from_the_values(ws: Workspace,
                                                                tmp_path: Path) -> None:
    load_file(ws, write_text(tmp_path / "c.csv", "Nr;Navn\n10001;Hansen AS\n10002;Berg AS\n"
                             "10003;Dahl AS\n"), side="erp", kind="company",
              actor_type="customer")
    path = write_text(tmp_path / "p.csv", "F1;F2;F3;F4;F5\nx@a.no;A7;Ola;10001;1\n"
                      "y@a.no;A8;Kari;10002;1\nz@a.no;A9;Per;10003;1\n")
    result = load_file(ws, path, side="erp", kind="person")
    # F1 (e-mail addresses) and F3 (names) are unique but no codes; F4 is unique and code-like
    # but its values are the companies' keys, so F2 is the key; F5 holds key 1 of no company.
    assert result.proposal == [
        "key: column 'F2' (values: 3 unique, never empty)",
        "parent: column 'F4' (values: 3 of 3 are keys of the loaded ERP companies)"]
    assert rows(ws, "SELECT id, parent_key FROM erp_person ORDER BY id") == [
        ("A7", "10001"), ("A8", "10002"), ("A9", "10003")]
    assert [c for c in result.columns if c[1] != "extra"] == [
        ("F2", "id", "values: 3 unique, never empty"),
        ("F4", "parent_key", "values: 3 of 3 are keys of the loaded ERP companies")]


def test_a_number_column_is_the_key_and_keeps_its_field(ws: Workspace, tmp_path: Path) -> None:
    result = load_file(ws, write_text(tmp_path / "c.csv", "Nr;Navn\n7;A AS\n8;B AS\n"),
                       side="erp", kind="company", actor_type="customer")
    assert result.columns[0] == ("Nr", "id", "values: 2 unique, never empty; also number2")
    assert rows(ws, "SELECT id, number2 FROM erp_company ORDER BY id") == [("7", "7"),
                                                                           ("8", "8")]


def test_the_parent_needs_95_percent_and_names_each_orphan(ws: Workspace,
                                                           tmp_path: Path) -> None:
    customers(ws, tmp_path, n=19)
    body = "".join(f"P{i};{10000 + i}\n" for i in range(1, 20)) + "P20;99999\n"
    path = write_text(tmp_path / "p.csv", "Id;Firma\n" + body)
    before = snapshot(ws)
    with pytest.raises(IngestError) as info:
        load_file(ws, path, side="erp", kind="person")
    assert snapshot(ws) == before
    assert str(info.value) == (
        f"{path}, row 21, column 'Firma' (B): parent '99999' does not exist among the ERP "
        "companies of this workspace: load the companies first, or fix the id (this column "
        "was proposed as the parent because its values: 19 of 20 are keys of the loaded ERP "
        "companies; map parent_key in a mapping file to choose another)")
    # 18 of 20 (90 %) is no parent: the persons load without one, and the CLI line says why.
    body = "".join(f"P{i};{10000 + i}\n" for i in range(1, 19)) + "P19;99998\nP20;99999\n"
    result = load_file(ws, write_text(tmp_path / "p2.csv", "Id;Firma\n" + body),
                       side="erp", kind="person")
    assert result.proposal[1] == (
        "parent: none found (no header names it, and no column's values are mostly keys of the "
        "19 loaded ERP companies; the records load without their company)")


def test_the_column_with_more_company_keys_wins_over_a_flag(ws: Workspace,
                                                             tmp_path: Path) -> None:
    load_file(ws, write_text(tmp_path / "c.csv", "Nr;Navn\n1;A\n2;B\n3;C\n"), side="erp",
              kind="company", actor_type="customer")
    result = load_file(ws, write_text(tmp_path / "p.csv", "Id;Aktiv;Arbeidssted\nP1;1;1\n"
                                      "P2;1;2\nP3;1;3\n"), side="erp", kind="person")
    assert result.proposal[1] == (
        "parent: column 'Arbeidssted' (values: 3 of 3 are keys of the loaded ERP companies)")


@pytest.mark.parametrize(("header", "values", "key"), [
    # a unique timestamp column is no key, even leftmost
    ("Endret;Ref;Navn", ["2026-01-0{i}T10:00:00;R{i};Firma {i}"], "Ref"),
    # unique names (spaces, lower case, no digits) are no codes
    ("Navn;Kort;Sted", ["Firma {i};FIRMA{i}X;Oslo"], "Kort"),
    # a header that hints at a number beats a column further left
    ("Gruppe;Nr;Navn", ["G{i};{i};Firma {i}"], "Nr"),
])
def test_which_column_the_values_make_the_key(ws: Workspace, tmp_path: Path, header: str,
                                               values: list[str], key: str) -> None:
    body = "".join(values[0].format(i=i) + "\n" for i in range(1, 4))
    result = load_file(ws, write_text(tmp_path / "c.csv", header + "\n" + body), side="erp",
                       kind="company", actor_type="customer")
    assert result.proposal == [f"key: column '{key}' (values: 3 unique, never empty)"]


def test_no_code_like_column_still_asks_for_the_key(ws: Workspace, tmp_path: Path) -> None:
    path = write_text(tmp_path / "c.csv", "Navn;Kontakt;Epost\nHansen AS;Kari Hansen;k@h.no\n"
                      "Berg AS;Ola Berg;o@b.no\n")
    with pytest.raises(IngestError, match="no column holds the record id"):
        load_file(ws, path, side="erp", kind="company", actor_type="customer")


def test_a_mapping_file_is_never_overridden(ws: Workspace, tmp_path: Path) -> None:
    customers(ws, tmp_path)
    mapping = write_text(tmp_path / "m.toml", '[columns]\nid = "B"\nparent_key = "C"\n')
    path = write_text(tmp_path / "p.csv", "A;B;C\n10001;P1;\n10002;P2;10003\n")
    result = load_file(ws, path, side="erp", kind="person", mapping=mapping)
    assert result.proposal == ["key: column 'B' (mapping file)",
                               "parent: column 'C' (mapping file)"]
    assert rows(ws, "SELECT id, parent_key, extra FROM erp_person ORDER BY id") == [
        ("P1", None, '{"A":"10001"}'), ("P2", "10003", '{"A":"10002"}')]


def test_propose_false_takes_the_mapping_as_final(ws: Workspace, tmp_path: Path) -> None:
    customers(ws, tmp_path)
    path = write_text(tmp_path / "p.csv", "Id;Firma\nP1;10001\n")
    load_file(ws, path, side="erp", kind="person", propose=False)
    assert rows(ws, "SELECT id, parent_key, extra FROM erp_person") == [
        ("P1", None, '{"Firma":"10001"}')]


def test_preview_proposes_from_the_workspace(ws: Workspace, tmp_path: Path) -> None:
    customers(ws, tmp_path)
    path = write_text(tmp_path / "p.csv", "Id;Firma\nP1;10001\nP2;10003\n")
    pv = preview(path, side="erp", kind="person", ws=ws)
    assert pv.columns == [("Id", "id", "synonym"), ("Firma", "parent_key",
                          "values: 2 of 2 are keys of the loaded ERP companies")]
    assert pv.mapping == {"id": "Id", "parent_key": "Firma"}
    assert rows(ws, "SELECT count(*) FROM erp_person") == [(0,)]
    alone = preview(path, side="erp", kind="person")  # a scratch database has no companies
    assert alone.proposal[1] == (
        "parent: none found (no header names it, and the workspace has no ERP companies to "
        "compare the values with: load the companies first)")


def test_cli_prints_the_proposal(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    wsp = str(tmp_path / "cli.duckdb")
    c = write_text(tmp_path / "c.csv", "Nr;Navn\n10001;Hansen AS\n10002;Berg AS\n")
    p = write_text(tmp_path / "p.csv", "Kode;Fornavn;Kunde\nK1;Kari;10001\nK2;Ola;10002\n")
    assert main(["load", "--workspace", wsp, "--side", "erp", "--kind", "company",
                 "--actor-type", "customer", str(c)]) == 0
    assert "key: column 'Nr' (values: 2 unique, never empty)\n" in capsys.readouterr().err
    assert main(["load", "--workspace", wsp, "--side", "erp", "--kind", "person", str(p)]) == 0
    err = capsys.readouterr().err
    assert "key: column 'Kode' (values: 2 unique, never empty)\n" in err
    assert ("parent: column 'Kunde' (values: 2 of 2 are keys of the loaded ERP companies)\n"
            in err)


# --- mapping file [types] --------------------------------------------------------------------

def _companies_with_numbers(ws: Workspace, tmp_path: Path, mapping: Path | None) -> None:
    load_file(ws, write_text(tmp_path / "crm.csv", "id;name;Kundenr;Poststed\n"
                             "1;Hansen AS;K-10001;Oslo\n2;Berg AS;K-10002;Bergen\n"),
              side="crm", kind="company", mapping=mapping)
    load_file(ws, write_text(tmp_path / "erp.csv", "id;CustomerNo;name;Poststed\n"
                             "E1;K-10001;Hansen;Oslo\nE2;K-10002;Berg AS;Bergen\n"),
              side="erp", kind="company", actor_type="customer")


def test_mapping_file_types_set_the_comparison_used_by_match(
    ws: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mapping = write_text(tmp_path / "m.toml", '[types]\nKundenr = "code"\npostalcity = "text"\n')
    assert field_types(ws.cursor(), "company") == {}
    _companies_with_numbers(ws, tmp_path, mapping)
    assert field_types(ws.cursor(), "company") == {"number2": "code", "postalcity": "text"}
    compared = {c.name: c.type for c in comparisons(ws.cursor(), "company")}
    assert (compared["number2"], compared["postalcity"], compared["name"]) == (
        "code", "text", "company")
    assert "postalzip" not in compared  # blank in every record: left out, see explain()
    path = ws.path
    ws.close()
    assert main(["match", "--workspace", str(path), "--kind", "company"]) == 0
    err = capsys.readouterr().err
    assert "  number2     code     mapping file [types]\n" in err
    assert "  postalcity  text     mapping file [types]\n" in err
    with Workspace.open(path) as again:
        fingerprint = json.loads(again.get_meta("normalised_crm_company") or "{}")
    assert [["number2"], "number2", "code"] in fingerprint["columns"]


def test_types_reach_the_cli_load_output(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    mapping = write_text(tmp_path / "m.json", '{"columns": {"id": "Nr"}, '
                         '"types": {"number1": "code"}}')
    f = write_text(tmp_path / "c.csv", "Nr;Navn;Kode\n1;A;X1\n")
    assert main(["load", "--workspace", str(tmp_path / "w.duckdb"), "--side", "crm",
                 "--kind", "company", "--mapping", str(mapping), str(f)]) == 0
    assert "comparison types for matching: number1 = code\n" in capsys.readouterr().err


def test_an_unknown_type_is_a_clear_error(ws: Workspace, tmp_path: Path) -> None:
    mapping = write_text(tmp_path / "m.toml", '[columns]\nid = "id"\n[types]\nkundenr = "kode"\n')
    before = snapshot(ws)
    with pytest.raises(IngestError) as info:
        load_file(ws, write_text(tmp_path / "c.csv", "id;name\n1;A\n"), side="crm",
                  kind="company", mapping=mapping)
    assert snapshot(ws) == before
    assert str(info.value) == (
        f'{mapping}: [types] entry kundenr = "kode": unknown comparison type; use one of '
        "company, person, text, phone, email, url, orgno, postcode, city, address, country, "
        "date, number, code, category")


@pytest.mark.parametrize(("types", "message"), [
    ('Farge = "code"', "[types] entry Farge = \"code\": column 'Farge' is not mapped to a "
                       "compared field; map it under [columns] (e.g. number2 = \"Farge\") or "
                       "name the field in [types]"),
    ('Nope = "code"', '[types] entry Nope = "code": neither a field of CRM companies nor a '
                      "column of this file; fields that can take a type: name, department, "),
    ('id = "code"', '[types] entry id = "code": field \'id\' is not compared between CRM and '
                    "ERP companies"),
])
def test_a_types_entry_must_name_a_compared_field(ws: Workspace, tmp_path: Path, types: str,
                                                  message: str) -> None:
    mapping = write_text(tmp_path / "m.toml", f"[types]\n{types}\n")
    before = snapshot(ws)
    with pytest.raises(IngestError) as info:
        load_file(ws, write_text(tmp_path / "c.csv", "id;name;Farge\n1;A;blå\n"),
                  side="crm", kind="company", mapping=mapping)
    assert snapshot(ws) == before
    assert str(info.value).startswith(f"{mapping}: {message}")
