"""Search for the Connect dialog: the literal ERP search (simple text, advanced criteria,
parent, paging) and the ranked one the page and ``erpdata search`` show."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from erpdata.cli import main
from erpdata.ingest.load import load_file
from erpdata.steward.search import (
    SearchError,
    crm_record,
    linked_label,
    parent_of,
    search,
    search_erp,
)
from erpdata.workspace import Workspace
from tests.helpers import write_text


def _erp(hits) -> list[str]:
    return hits.rows["erp"].tolist()


def test_empty_search_lists_everything_paged(companies_ws: Workspace) -> None:
    first = search_erp(companies_ws, "company", size=3)
    assert _erp(first) == ["customer:K1", "customer:K2", "customer:K9"]
    second = search_erp(companies_ws, "company", size=3, after=first.next_key)
    assert _erp(second) == ["supplier:L1"] and second.next_key is None


@pytest.mark.parametrize(("text", "criteria", "expected"), [
    ("berg", (), ["customer:K2", "supplier:L1"]),
    ("BERG ab", (), ["supplier:L1"]),
    ("911111111", (), ["customer:K9"]),  # the org number is a search field by default
    ("", [("postalcity", "=", ["oslo"])], ["customer:K1"]),
    ("", [("name", "begins", ["berg"]), ("vatno", "notcontains", ["SE"])], ["customer:K2"]),
    ("", [("name", "between", ["h", "o"])], ["customer:K1", "customer:K9"]),
    ("", [("postalcity", "isnot", ["stockholm"])], ["customer:K1", "customer:K9"]),
])
def test_simple_and_advanced_search(companies_ws: Workspace, text: str, criteria: list,
                                    expected: list[str]) -> None:
    assert _erp(search_erp(companies_ws, "company", text, criteria=criteria)) == expected


@pytest.mark.parametrize(("criteria", "message"), [
    ([("colour", "=", ["x"])], "'colour' is not an ERP company field"),
    ([("name", "like", ["x"])], "unknown operator 'like'"),
    ([("name", "between", ["a"])], "between takes 2 value"),
])
def test_bad_criteria_say_why(companies_ws: Workspace, criteria: list, message: str) -> None:
    with pytest.raises(SearchError, match=message):
        search_erp(companies_ws, "company", criteria=criteria)


def test_persons_under_the_companys_actor(companies_ws: Workspace, tmp_path: Path) -> None:
    ws = companies_ws
    load_file(ws, write_text(tmp_path / "p.csv", "id;firstname;lastname;company_id\n"
                             "P1;Kari;Berg;1\n"), side="crm", kind="person")
    load_file(ws, write_text(tmp_path / "ep.csv", "id;firstname;lastname;parent_key;"
                             "parent_actor_type\nE1;Kari;Berg;L1;supplier\n"
                             "E2;Kari;Berg;K2;customer\n"), side="erp", kind="person")
    assert parent_of(ws, "person", "P1") is None
    ws.con.execute("INSERT INTO links (kind, crm_id, erp_actor_type, erp_id, linked_by, "
                   "linked_at) VALUES ('company', '1', 'supplier', 'L1', 'kari', now())")
    parent = parent_of(ws, "person", "P1")
    assert parent == "supplier:L1"
    assert _erp(search_erp(ws, "person", "kari", parent=parent)) == ["person:E1"]
    assert _erp(search_erp(ws, "person", "kari")) == ["person:E1", "person:E2"]


def test_crm_record(companies_ws: Workspace) -> None:
    record = crm_record(companies_ws, "company", "4")
    assert record is not None and record["display_name"] == "Fjord Fisk AS"
    assert crm_record(companies_ws, "company", "99") is None


# --- the ranked (fuzzy) search: the Connect page and `erpdata search` --------------------------

_ERP_AGDER = ("id,type,name,vatno,postalcity,country\n"
              "A1,customer,Agder Rør AS,NO912345678MVA,Kristiansand,NO\n"
              "A2,customer,Agder Rør og Varme AS,,Arendal,NO\n"
              "A3,supplier,Rør Agder AS,,Grimstad,NO\n"
              "A4,customer,Agdr Rør AS,,Mandal,NO\n"
              "B1,customer,Bergen Bygg AS,,Bergen,NO\n"
              "B2,supplier,Østfold Bil AS,,Moss,NO\n")
_CRM_AGDER = ("id;name;vatno;postalcity;country\n1;Agder Rør A/S;912345678;Kristiansand;NO\n"
              "2;Bergen Bygg;;Bergen;NO\n")


@pytest.fixture
def agder_ws(tmp_path: Path):
    """Six ERP companies around "Agder Rør AS" (a prefix, the words reversed, a typo, two
    others), two CRM companies; CRM 1 is linked to customer A1."""
    w = Workspace.open(tmp_path / "agder.duckdb")
    load_file(w, write_text(tmp_path / "e.csv", _ERP_AGDER), side="erp", kind="company")
    load_file(w, write_text(tmp_path / "c.csv", _CRM_AGDER), side="crm", kind="company")
    w.con.execute("INSERT INTO links (kind, crm_id, erp_actor_type, erp_id, linked_by, "
                  "linked_at) VALUES ('company', '1', 'customer', 'A1', 'kari', now())")
    yield w
    w.close()


def _keys(hits) -> list[str]:
    return hits.rows["key"].tolist()


@pytest.mark.parametrize("text", ["Agder Rør A/S", "Agder Ror", "AGDER RØR AKSJESELSKAP",
                                  "agder  rør as"])
def test_legal_form_and_diacritics_do_not_hide_the_record(agder_ws: Workspace,
                                                          text: str) -> None:
    hits = search(agder_ws, text)
    assert hits.rows.iloc[0][["key", "name", "match", "score"]].tolist() == [
        "customer:A1", "Agder Rør AS", "exact", 100.0]


def test_ranked_exact_prefix_every_word_then_similar(agder_ws: Workspace) -> None:
    hits = search(agder_ws, "Agder Ror")
    assert _keys(hits) == ["customer:A1", "customer:A2", "supplier:A3", "customer:A4"]
    assert hits.rows["match"].tolist() == ["exact", "prefix", "every word", "similar"]
    assert hits.rows["rank"].tolist() == [1, 2, 3, 4]
    assert hits.total == 4 and hits.next_key is None  # Bergen Bygg, Østfold Bil: left out


def test_hits_carry_city_org_number_type_and_link(agder_ws: Workspace) -> None:
    rows = search(agder_ws, "agder ror").rows.set_index("key")
    assert rows.loc["customer:A1", ["actor_type", "id", "city", "org_number", "linked_to"]
                    ].tolist() == ["customer", "A1", "Kristiansand", "NO912345678MVA",
                                   "Agder Rør A/S (CRM 1)"]
    assert rows.loc["customer:A2", "linked_to"] is None
    assert [linked_label(v) for v in rows["linked_to"]] == [
        "already linked to Agder Rør A/S (CRM 1)", "not linked", "not linked", "not linked"]
    crm = search(agder_ws, "agder ror", side="crm").rows
    assert crm[["key", "actor_type", "city", "linked_to"]].values.tolist() == [
        ["1", None, "Kristiansand", "Agder Rør AS (customer A1)"]]


def test_an_accept_waiting_for_its_commit_shows_as_a_claim(agder_ws: Workspace) -> None:
    """Connecting a record a colleague accepted elsewhere would be refused at commit: the hit
    says so before."""
    agder_ws.con.execute(
        "INSERT INTO decisions (kind, crm_id, erp_actor_type, erp_id, decision, decided_by, "
        "decided_at) VALUES ('company', '2', 'customer', 'B1', 'accept', 'ola', now())")
    hits = search(agder_ws, "bergen bygg").rows
    assert hits.loc[hits["key"] == "customer:B1", "linked_to"].tolist() == [
        "Bergen Bygg (CRM 2, accepted, not yet committed)"]
    crm = search(agder_ws, "bergen bygg", side="crm").rows
    assert crm["linked_to"].tolist() == ["Bergen Bygg AS (customer B1, accepted, not yet "
                                         "committed)"]


def test_an_id_or_org_number_finds_its_record(agder_ws: Workspace) -> None:
    assert _keys(search(agder_ws, "a4"))[0] == "customer:A4"
    assert _keys(search(agder_ws, "912 345 678")) == ["customer:A1"]


def test_empty_search_lists_every_record_by_name_paged(agder_ws: Workspace) -> None:
    first = search(agder_ws, "", size=4)
    assert first.rows["name"].tolist() == ["Agder Rør AS", "Agder Rør og Varme AS",
                                           "Agdr Rør AS", "Bergen Bygg AS"]
    assert first.total == 6 and first.next_key == 4
    assert first.rows["score"].tolist() == [None] * 4
    second = search(agder_ws, "", offset=first.next_key, size=4)
    assert second.rows["name"].tolist() == ["Østfold Bil AS", "Rør Agder AS"]  # ø folds to o
    assert second.rows["rank"].tolist() == [5, 6] and second.next_key is None


def test_criteria_narrow_the_ranked_candidates(agder_ws: Workspace) -> None:
    hits = search(agder_ws, "agder ror", criteria=[("postalcity", "isnot", ["kristiansand"])])
    assert _keys(hits) == ["customer:A2", "supplier:A3", "customer:A4"]
    with pytest.raises(SearchError, match="'colour' is not an ERP company field"):
        search(agder_ws, "x", criteria=[("colour", "=", ["x"])])
    with pytest.raises(SearchError, match="a page needs a size of at least 1"):
        search(agder_ws, "x", size=0)


def test_a_changed_name_is_found_at_once(agder_ws: Workspace) -> None:
    """The normalised names are cached; a change of the records (a commit, a sync) is seen."""
    assert _keys(search(agder_ws, "Bergen Bygg")) == ["customer:B1"]
    agder_ws.con.execute("UPDATE erp_company SET name = 'Vestland Bygg AS' WHERE id = 'B1'")
    assert _keys(search(agder_ws, "Bergen Bygg")) == []
    assert _keys(search(agder_ws, "Vestland Bygg")) == ["customer:B1"]


def test_persons_show_their_company_and_its_city(agder_ws: Workspace, tmp_path: Path) -> None:
    load_file(agder_ws, write_text(tmp_path / "ep.csv", "id;firstname;lastname;parent_key;"
                                   "parent_actor_type\nE1;Kåre;Ås;A1;customer\n"
                                   "E2;Kari;Berg;B1;customer\n"), side="erp", kind="person")
    rows = search(agder_ws, "Ås, Kare", kind="person").rows
    assert rows[["key", "name", "match", "company", "city", "org_number"]].values.tolist() == [
        ["person:E1", "Kåre Ås", "exact", "Agder Rør AS", "Kristiansand", "NO912345678MVA"]]


def test_cli_search_table_and_json(agder_ws: Workspace,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    path = str(agder_ws.path)
    agder_ws.close()
    assert main(["search", "--workspace", path, "Agder", "Ror"]) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert lines[0].split() == ["rank", "score", "match", "type", "id", "name", "city", "org",
                                "number", "linked", "to"]
    assert lines[1].split() == ["1", "100.0", "exact", "customer", "A1", "Agder", "Rør", "AS",
                                "Kristiansand", "NO912345678MVA", "already", "linked", "to",
                                "Agder", "Rør", "A/S", "(CRM", "1)"]
    assert [line.split()[3:5] for line in lines[1:]] == [
        ["customer", "A1"], ["customer", "A2"], ["word", "supplier"], ["customer", "A4"]]
    assert lines[2].split()[-2:] == ["not", "linked"]
    assert err.strip() == "4 hit(s); showing 1-4"
    assert main(["search", "--workspace", path, "--side", "crm", "--json", "--size", "1",
                 "Agder Rør A/S"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out) == [{"rank": 1, "score": 100.0, "match": "exact",
                                "actor_type": None, "id": "1", "name": "Agder Rør A/S",
                                "company": None, "city": "Kristiansand",
                                "org_number": "912345678",
                                "linked_to": "Agder Rør AS (customer A1)"}]
    assert err.strip() == "1 hit(s); showing 1-1"
    assert main(["search", "--workspace", path, "--size", "2"]) == 0  # no text: everything
    out, err = capsys.readouterr()
    assert len(out.splitlines()) == 3 and err.strip() == "6 hit(s); showing 1-2; --page 2 for more"


@pytest.mark.parametrize(("text", "expected"), [("Berg Bygg AB", ["supplier:L1", "customer:K2"]),
                                                ("Berg Bygg", ["customer:K2", "supplier:L1"])])
def test_among_equal_names_the_name_as_written_wins(companies_ws: Workspace, text: str,
                                                    expected: list[str]) -> None:
    """Both are "berg bygg" without their legal forms; the one written like the query first."""
    hits = search(companies_ws, text)
    assert _keys(hits) == expected and hits.rows["match"].tolist() == ["exact", "exact"]
