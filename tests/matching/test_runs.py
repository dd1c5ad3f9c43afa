"""The workspace compares unmapped columns too: two exports whose headers say nothing
("c0".."c6") still match through ``erpdata load`` and ``erpdata match``, by the columns they
share by header, typed from their values as ``match-files`` types them. Canonical fields blank
on a side are left out; a kind with nothing to compare is skipped with a note; and a CRM file's
"Type" column or a CRM load given an actor type is no reason to refuse the file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from erpdata.cli import main
from erpdata.errors import ErpdataError
from erpdata.ingest.load import load_file
from erpdata.matching import match_workspace
from erpdata.matching.runs import explain, nothing_to_compare
from erpdata.matching.stored_features import table_name
from erpdata.workspace import Workspace
from tests.conftest import write_csv_file

HEADERS = ["c0", "c1", "c2", "c3", "c4", "c5", "c6"]
_FIRST = ["Nordlys", "Fjell", "Granitt", "Havblikk", "Skogly", "Elvebakk", "Solstreif",
          "Tindved", "Brattli", "Kvitstein"]
_SECOND = ["Bygg", "Data", "Transport", "Regnskap"]
_STREETS = ["Storgata", "Kirkeveien", "Havnegata", "Skolegata", "Industriveien"]
_PLACES = [("0150", "Oslo"), ("8622", "Mo i Rana"), ("7011", "Trondheim"),
           ("3050", "Nedre Eiker"), ("9008", "Tromsø")]
PAIRS = 24  #: companies in both files; CRM record K1000+i is ERP record 20000+i
ALONE = 6  #: companies in one file only, on each side


def _company(i: int) -> list[str]:
    """Name, street, postcode, city, phone and org number of company ``i``: unique names,
    phones and org numbers; streets, postcodes and cities shared by several companies."""
    postcode, city = _PLACES[i % len(_PLACES)]
    return [f"{_FIRST[i % 10]} {_SECOND[i // 10 % 4]} AS", f"{_STREETS[i % 5]} {i + 2}",
            postcode, city, f"+47 {22 + i % 7} {10 + i:02d} {30 + i % 60:02d} {i % 97:02d}",
            f"{910000000 + 7919 * i}"]


def _files(tmp: Path) -> tuple[Path, Path]:
    """A CRM and an ERP company export headed c0..c6 (the key in c0): companies 0..PAIRS-1
    in both (the ERP writes names in capitals and phones without the country code), then
    ALONE companies in each file only."""
    crm = [HEADERS] + [[f"K{1000 + i}", *_company(i)] for i in range(PAIRS)] + [
        [f"K{1000 + i}", *_company(i)] for i in range(PAIRS, PAIRS + ALONE)]
    erp = [HEADERS]
    for i in [*range(PAIRS), *range(PAIRS + ALONE, PAIRS + 2 * ALONE)]:
        name, street, postcode, city, phone, orgno = _company(i)
        erp.append([str(20000 + i), name.upper(), street, postcode, city,
                    phone.removeprefix("+47 "), orgno])
    return (write_csv_file(tmp / "crm.csv", crm), write_csv_file(tmp / "erp.csv", erp))


@pytest.fixture
def blind_ws(tmp_path: Path) -> Path:
    """A workspace holding the two c0..c6 exports, loaded as ``erpdata load`` does (the key
    proposed from the values, every data column kept in ``extra``)."""
    crm, erp = _files(tmp_path)
    path = tmp_path / "blind.duckdb"
    with Workspace.open(path) as ws:
        c = load_file(ws, crm, side="crm", kind="company")
        e = load_file(ws, erp, side="erp", kind="company", actor_type="customer")
        assert c.mapping == e.mapping == {"id": "c0"}
    return path


def test_unmapped_shared_columns_are_compared_with_value_evidence(blind_ws: Path) -> None:
    with Workspace.open(blind_ws) as ws:
        plan = explain(ws.cursor(), "company")
    compared = [(c.name, c.type) for c in plan.comparisons]
    assert compared == [("c1", "company"), ("c2", "address"), ("c3", "postcode"),
                        ("c4", "city"), ("c5", "phone"), ("c6", "number")]
    why = {i.column: i.evidence for i in plan.inference}
    assert why["c5"] == ("unmapped column 'c5' in both files: 100% of 60 values are phone "
                         "numbers (7-15 digits)")
    # every canonical field is blank on both sides: left out, each with its reason
    assert why["name"] == "canonical field name: all blank in the CRM records"
    assert [i.column for i in plan.inference if i.left_out] == [
        "name", "vatno", "phone", "email", "url", "streetad1", "postalad1", "postalzip",
        "postalcity", "country"]
    assert plan.compares_anything


def test_blind_exports_link_exactly_the_true_pairs(blind_ws: Path) -> None:
    with Workspace.open(blind_ws) as ws:
        result = match_workspace(ws, "company", user="t")
        links = set(ws.con.execute(
            "SELECT crm_id, erp_id FROM suggestions WHERE kind = 'company' AND link").fetchall())
        stored = ws.con.execute(
            f"SELECT * FROM {table_name('crm', 'company')} LIMIT 0").df().columns
        fingerprint = json.loads(ws.get_meta(table_name("crm", "company")) or "{}")
    assert links == {(f"K{1000 + i}", str(20000 + i)) for i in range(PAIRS)}
    assert int(result.candidates["match"].sum()) == PAIRS
    # the stored features hold the unmapped columns, and their fingerprint names them
    assert {"c1", "c5", "c5__key", "c6"} <= set(stored)
    assert [c[1:] for c in fingerprint["columns"]] == [
        ["c1", "company"], ["c2", "address"], ["c3", "postcode"], ["c4", "city"],
        ["c5", "phone"], ["c6", "number"]]


def test_unmapped_column_named_like_a_field_gets_its_own_frame_column(tmp_path: Path) -> None:
    """A second "Name" column (the first is the canonical name) is compared as ``extra.Name``:
    DuckDB column names ignore case, so it must not take the canonical column's place."""
    crm = write_csv_file(tmp_path / "c.csv", [["id", "name", "Name"]] + [
        [f"K{i}", _company(i)[0], f"Ref{i:03d}x"] for i in range(20)])
    erp = write_csv_file(tmp_path / "e.csv", [["id", "name", "Name"]] + [
        [str(i), _company(i)[0], f"Ref{i:03d}x"] for i in range(20)])
    with Workspace.open(tmp_path / "w.duckdb") as ws:
        load_file(ws, crm, side="crm", kind="company")
        load_file(ws, erp, side="erp", kind="company", actor_type="customer")
        plan = explain(ws.cursor(), "company")
        assert [(c.name, c.crm_col, c.type) for c in plan.comparisons] == [
            ("name", "name", "company"), ("extra.Name", "extra.Name", "text")]
        match_workspace(ws, "company", user="t")
        links = set(ws.con.execute("SELECT crm_id, erp_id FROM suggestions WHERE link"
                                   ).fetchall())
    assert links == {(f"K{i}", str(i)) for i in range(20)}


def test_cli_prints_the_unmapped_comparisons(blind_ws: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["match", "--kind", "company", "--workspace", str(blind_ws)]) == 0
    err = capsys.readouterr().err
    assert ("  c1          company   unmapped column 'c1' in both files: 100% of 60 values "
            "carry a legal form (Ltd, AS, GmbH ...)") in err
    assert "  name        -         left out: canonical field name: all blank in the CRM " \
           "records" in err
    assert f"company: {PAIRS} suggested links" in err


def _nothing_ws(tmp_path: Path) -> Path:
    """Companies whose files share no header but the key, no header names a field, and no
    column of one file holds the words of a column of the other (nothing pairs by values)."""
    crm = write_csv_file(tmp_path / "c.csv", [["id", "a1", "a2"], ["K1", "x", "y"],
                                              ["K2", "z", "w"]])
    erp = write_csv_file(tmp_path / "e.csv", [["id", "b1", "b2"], ["1", "q", "r"],
                                              ["2", "s", "t"]])
    path = tmp_path / "n.duckdb"
    with Workspace.open(path) as ws:
        load_file(ws, crm, side="crm", kind="company")
        load_file(ws, erp, side="erp", kind="company", actor_type="customer")
    return path


def test_cli_skips_a_kind_with_nothing_to_compare(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    path = _nothing_ws(tmp_path)
    assert main(["match", "--kind", "company", "--workspace", str(path)]) == 0
    err = capsys.readouterr().err
    assert f"note: company: skipped: {nothing_to_compare('company')}" in err
    assert "write a mapping file" in nothing_to_compare("company").lower()
    assert "suggested links" not in err
    with Workspace.open(path) as ws:
        assert ws.con.execute("SELECT count(*) FROM match_runs").fetchone() == (0,)


def test_match_workspace_refuses_a_kind_with_nothing_to_compare(tmp_path: Path) -> None:
    with Workspace.open(_nothing_ws(tmp_path)) as ws:
        with pytest.raises(ErpdataError) as err:
            match_workspace(ws, "company", user="t")
        assert str(err.value) == nothing_to_compare("company")
        states = ws.con.execute("SELECT state, count(*) FROM scoring_state GROUP BY state"
                                ).fetchall()
    assert states == [("failed", 2)]


def test_canonical_field_blank_on_one_side_is_left_out(tmp_path: Path) -> None:
    crm = write_csv_file(tmp_path / "c.csv", [["id", "name", "phone"],
                                              ["K1", "Berg Bygg AS", "+47 22 33 44 55"]])
    erp = write_csv_file(tmp_path / "e.csv", [["id", "name", "phone"],
                                              ["1", "Berg Bygg AS", ""]])
    with Workspace.open(tmp_path / "w.duckdb") as ws:
        load_file(ws, crm, side="crm", kind="company")
        load_file(ws, erp, side="erp", kind="company", actor_type="customer")
        plan = explain(ws.cursor(), "company")
    assert [c.name for c in plan.comparisons] == ["name"]
    assert [(i.column, i.evidence) for i in plan.inference if i.left_out][:2] == [
        ("vatno", "canonical field vatno: all blank in the CRM records"),
        ("phone", "canonical field phone: all blank in the ERP records")]


def test_crm_type_column_and_actor_type_do_not_refuse_the_file(tmp_path: Path) -> None:
    """A CRM export's "Type" column is no actor type (CRM records have none): it goes to
    ``extra`` with the usual warning. An actor type given for a CRM load is ignored, said in
    a warning."""
    crm = write_csv_file(tmp_path / "c.csv", [["id", "name", "Type"],
                                              ["K1", "Berg Bygg AS", "customer"],
                                              ["K2", "Fjord Fisk AS", "supplier"]])
    with Workspace.open(tmp_path / "w.duckdb") as ws:
        res = load_file(ws, crm, side="crm", kind="company", actor_type="customer")
        extra = ws.con.execute("SELECT id, extra::VARCHAR FROM crm_company ORDER BY id"
                               ).fetchall()
    assert res.mapping == {"id": "id", "name": "name"}
    assert res.actor_type is None
    assert res.warnings == [
        "an actor type (customer) applies to ERP records only: ignored for these CRM records",
        "1 column(s) match no field and are kept in extra: 'Type' (C)"]
    assert extra == [("K1", '{"Type":"customer"}'), ("K2", '{"Type":"supplier"}')]


def test_a_field_blank_on_one_side_meets_that_sides_own_columns(tmp_path: Path) -> None:
    """An ERP that exports a person's name whole ("Name", a column no header maps) against a
    CRM's first and last name: the CRM's two fields, blank in every ERP record, are paired by
    their values with the ERP's own column, joined, so the persons still match by name (a
    third of the ERP records have no e-mail: those link by name alone)."""
    given = ["Kari", "Ola", "Ingrid", "Lars", "Sigrid", "Nils", "Astrid", "Per", "Liv", "Jon",
             "Eva", "Tor", "Trude"]
    family = ["Nordmann", "Hansen", "Berg", "Dahl", "Lie", "Moen", "Strand", "Holm", "Lund",
              "Bakke", "Haugen", "Vik", "Aas", "Eide", "Foss", "Solberg", "Myhre"]
    people = [(given[i % 13], family[i % 17]) for i in range(90)]

    def mail(i: int, g: str, f: str) -> str:
        return f"{g}.{f}{i}@example.no".lower()

    crm = write_csv_file(tmp_path / "c.csv", [["id", "firstname", "lastname", "email"]] + [
        [f"P{i}", g, f, mail(i, g, f)] for i, (g, f) in enumerate(people)])
    erp = write_csv_file(tmp_path / "e.csv", [["id", "Name", "email"]] + [
        [str(100 + i), f"{g} {f}", mail(i, g, f) if i % 3 else ""]
        for i, (g, f) in enumerate(people)])
    with Workspace.open(tmp_path / "w.duckdb") as ws:
        load_file(ws, crm, side="crm", kind="person")
        load_file(ws, erp, side="erp", kind="person")
        plan = explain(ws.cursor(), "person")
        named = [c for c in plan.comparisons if c.name not in ("parent", "email")]
        assert [(c.crm_col, c.crm_more, c.erp_col, c.type) for c in named] == [
            ("firstname", ("lastname",), "Name", "person")]
        why = {i.column: i.evidence for i in plan.inference}
        assert why["firstname+lastname=Name"].startswith(
            "CRM field firstname + field lastname against ERP unmapped column 'Name': ")
        assert not {"firstname", "lastname"} & {i.column for i in plan.inference if i.left_out}
        match_workspace(ws, "person", user="t")
        links = set(ws.con.execute("SELECT crm_id, erp_id FROM suggestions WHERE link"
                                   ).fetchall())
    assert links == {(f"P{i}", str(100 + i)) for i in range(90)}


def test_columns_of_one_file_pair_with_the_other_files_by_values(tmp_path: Path) -> None:
    """A Norwegian CRM export ("Postnr", "Poststed") against an English ERP export ("ZIP",
    "Town"): no header maps these person columns and none is shared, yet they hold the same
    values, so they are compared (postcode and city), as match-files compares them. Columns
    that share no value are not paired by their types alone: a sales rep's initials are no
    currency code, and the date a CRM record was registered is not the date an ERP record
    was last modified."""
    places = [("0150", "Oslo"), ("5003", "Bergen"), ("7011", "Trondheim"), ("9008", "Tromsø"),
              ("4006", "Stavanger"), ("8006", "Bodø")]
    crm = write_csv_file(
        tmp_path / "c.csv", [["id", "Fornavn", "Etternavn", "Postnr", "Poststed", "Selger",
                              "Registrert"]]
        + [[f"P{i}", f"Navn{i}", "Berg", *places[i % 6], ["KN", "OL"][i % 2],
            f"{1 + i % 28:02d}.03.2019"] for i in range(24)])
    erp = write_csv_file(
        tmp_path / "e.csv", [["id", "First name", "Last name", "ZIP", "Town", "Currency",
                              "Last modified"]]
        + [[str(i), f"Navn{i}", "Berg", *places[i % 6], ["NOK", "SEK"][i % 2],
            f"2024-11-{1 + i % 28:02d}"] for i in range(24)])
    with Workspace.open(tmp_path / "w.duckdb") as ws:
        load_file(ws, crm, side="crm", kind="person")
        load_file(ws, erp, side="erp", kind="person")
        plan = explain(ws.cursor(), "person")
    compared = [(c.crm_col, c.erp_col, c.type) for c in plan.comparisons]
    assert compared == [("firstname", "firstname", "person"), ("lastname", "lastname", "person"),
                        ("parent", "parent", "code"), ("Postnr", "ZIP", "postcode"),
                        ("Poststed", "Town", "city")]
    why = {i.column: i.evidence for i in plan.inference}
    assert why["Postnr=ZIP"].startswith("Postnr (CRM) against ZIP (ERP): no shared name; ")


def test_an_unmapped_name_built_from_the_canonical_names_is_left_out(tmp_path: Path) -> None:
    """Both exports carry a "Full name" beside the first and last name their headers map:
    compared too, one name agreement would count twice; it is left out, with the reason."""
    rows = [["id", "firstname", "lastname", "Full name"]] + [
        [f"P{i}", g, f, f"{g} {f}"] for i, (g, f) in enumerate(
            (g, f) for g in ("Kari", "Ola", "Liv", "Per") for f in ("Berg", "Dahl", "Moen"))]
    crm = write_csv_file(tmp_path / "c.csv", rows)
    erp = write_csv_file(tmp_path / "e.csv", [rows[0]] + [[f"E{r[0]}", *r[1:]]
                                                            for r in rows[1:]])
    with Workspace.open(tmp_path / "w.duckdb") as ws:
        load_file(ws, crm, side="crm", kind="person")
        load_file(ws, erp, side="erp", kind="person")
        plan = explain(ws.cursor(), "person")
    assert "Full name" not in {c.name for c in plan.comparisons}
    why = {i.column: i.evidence for i in plan.inference if i.left_out}
    assert why["Full name"] == (
        "unmapped column 'Full name' in both files: it holds the words of firstname and "
        "lastname in most rows: a name built from them, compared through them (counting it "
        "too would count the same agreement twice)")
    # typing it read the canonical names: no run keeps it
    assert plan.typing is None


def test_a_run_keeps_the_typing_until_the_values_typed_change(
        blind_ws: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Typing the unmapped columns from their values is the costly part of a plan (1.5 s at
    1,000,000 records). A run keeps it; the next plan of the same columns and values takes it
    (equal, reasons included) without typing; a changed value types them again."""
    import erpdata.matching.runs as mw

    typed = []
    real = mw.explain_comparisons

    def counted(*args: object, **kwargs: object) -> object:
        typed.append(1)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(mw, "explain_comparisons", counted)
    with Workspace.open(blind_ws) as ws:
        first = explain(ws.cursor(), "company")
        assert first.typing is not None and typed == [1]
        assert explain(ws.cursor(), "company").typing is not None and typed == [1, 1]
        match_workspace(ws, "company", user="t")  # keeps it (and types once more)
        assert typed == [1, 1, 1]
        again = explain(ws.cursor(), "company")
        assert typed == [1, 1, 1] and again == first and again.inference == first.inference
        assert again.typing is None  # nothing new to keep
        # one ERP record's phone changes: what is typed changed
        ws.con.execute("""UPDATE erp_company SET extra = json_merge_patch(extra,
                          '{"c5": "22 10 30 99"}') WHERE id = '20000'""")
        assert explain(ws.cursor(), "company") == first and typed == [1, 1, 1, 1]
