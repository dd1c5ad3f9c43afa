"""ERP search for the Connect dialog: simple text, advanced criteria, parent, paging."""

from __future__ import annotations

from pathlib import Path

import pytest

from erpdata.ingest import load_file
from erpdata.search import SearchError, crm_record, parent_of, search_erp
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
