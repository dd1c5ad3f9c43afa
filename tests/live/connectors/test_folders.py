"""The files connector: an export folder answers like an ERP (search, parent, advanced, get,
changed since), and creates and saves go to the outbox once."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import pytest

from erpdata.live.connectors.base import CrmRecord, ErpActor, Restriction
from erpdata.live.connectors.folders import FilesConnector, FilesCrmConnector
from tests.helpers import write_text


@pytest.fixture
def erp(tmp_path: Path) -> FilesConnector:
    write_text(tmp_path / "erp_company.csv",
               "id,type,name,vatno,postalcity,last_modified\n"
               "K1,customer,Hansen & Co AS,923609016,Oslo,2026-01-05 10:00:00\n"
               "K2,customer,Berg Bygg,,Stockholm,2026-03-01 08:00:00\n"
               "L1,supplier,Berg Bygg AB,5560360793,Stockholm,2026-02-01 09:00:00\n")
    write_text(tmp_path / "erp_person.csv",
               "id,firstname,lastname,email,parent_key,parent_actor_type\n"
               "E1,Kari,Berg,kari@bergbygg.se,L1,supplier\n"
               "E2,Ola,Hansen,ola@hansen.no,K1,customer\n")
    connector = FilesConnector(tmp_path)
    yield connector
    connector.close()


def _keys(answer) -> list[str]:  # type: ignore[no-untyped-def]
    return [a.erp_key for a in answer.unwrap().items]


def test_search_lists_all_for_an_empty_text_and_pages(erp: FilesConnector) -> None:
    assert erp.test_connection().ok
    assert _keys(erp.search("customer")) == ["K1", "K2"]
    first = erp.search("customer", limit=1)
    assert (_keys(first), first.unwrap().more) == (["K1"], True)
    assert _keys(erp.search("customer", "berg")) == ["K2"]
    assert _keys(erp.search("supplier", "5560360793")) == ["L1"]


def test_search_under_a_parent_and_advanced(erp: FilesConnector) -> None:
    assert _keys(erp.search_by_parent("person", "", "customer", "K1")) == ["E2"]
    assert _keys(erp.search_by_parent("person", "kari", "customer", "K1")) == []
    assert _keys(erp.search_advanced("customer", [Restriction("name", "begins", ("berg",))])
                 ) == ["K2"]
    assert _keys(erp.search_advanced("customer", [
        Restriction("postalcity", "oneof", ("Oslo", "Bergen"))])) == ["K1"]
    assert _keys(erp.search_advanced("supplier", [
        Restriction("name", "contains", ("bygg",)), Restriction("vatno", "isnot", ("x",))])
    ) == ["L1"]
    bad = erp.search_advanced("customer", [Restriction("name", "like", ("x",))])
    assert not bad.ok and bad.user_explanation.startswith("operator 'like' is not one of")
    # a field name becomes SQL text: only the schema's fields, never what a caller wrote
    sneaky = erp.search_advanced("customer", [Restriction('name" IS NOT NULL OR "id', "=",
                                                          ("x",))])
    assert (sneaky.ok, sneaky.user_explanation) == (
        False, "'name\" IS NOT NULL OR \"id' is not a field of an ERP customer")


def test_get_names_the_keys_it_did_not_find(erp: FilesConnector) -> None:
    answer = erp.get("customer", ["K2", "K9"])
    assert answer.state == "warning" and answer.user_explanation == "not in the export: K9"
    (k2,) = answer.unwrap()
    assert (k2.erp_key, k2.fields["name"], k2.fields["vatno"]) == ("K2", "Berg Bygg", None)


def test_changed_since(erp: FilesConnector) -> None:
    assert [a.erp_key for a in erp.changed_since("customer", None).unwrap()] == ["K1", "K2"]
    since = datetime(2026, 2, 1)
    assert [a.erp_key for a in erp.changed_since("customer", since).unwrap()] == ["K2"]


def test_creates_and_saves_go_to_the_outbox_once(erp: FilesConnector, tmp_path: Path) -> None:
    new = ErpActor("customer", None, {"name": "Fjord Fisk AS"})
    for _ in range(2):  # a retried create writes its rows once
        answer = erp.create([new], ["company:4"])
        assert answer.state == "ok_with_info"
    erp.save([ErpActor("customer", "K2", {"vatno": "5560360793"})])
    lines = (tmp_path / "outbox" / "erp_creates.csv").read_text(encoding="utf-8").splitlines()
    assert [line.split(",", 1)[1] for line in lines] == [
        "crm_key,actor_type,parent_actor_type,parent_erp_key,field,value",
        "company:4,customer,,,name,Fjord Fisk AS"]
    updates = (tmp_path / "outbox" / "erp_updates.csv").read_text(encoding="utf-8")
    assert updates.splitlines()[1].endswith(",customer,K2,vatno,5560360793")


def test_a_crm_export_folder(tmp_path: Path) -> None:
    write_text(tmp_path / "crm_company.csv", "id;name\n1;Berg Bygg AB\n2;Hansen AS\n")
    crm = FilesCrmConnector(tmp_path)
    assert [(r.crm_id, r.fields["name"]) for r in crm.records("company").unwrap()] == [
        ("1", "Berg Bygg AB"), ("2", "Hansen AS")]
    assert crm.connect("company", "1", "supplier", "L1", {}).ok
    assert not crm.create_erp_actor("company", "2", "customer", {}).ok
    crm.close()


#: A phone number, an amount, four formulas and two more numbers (issue 16, item 5).
SPREADSHEET_VALUES = ['+47 22 33 44 55', '-12.5', '=HYPERLINK("x")', '@SUM(A1)', '+SUM(A1)',
                      '-2+3', '-cmd', '-5']
STAMP = re.compile(rb"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2},", re.MULTILINE)


def test_the_outbox_change_sets_are_byte_exact(erp: FilesConnector, tmp_path: Path) -> None:
    """The import tool gets every value as the steward committed it: no ``'`` before a phone
    number, an amount or even a formula (no spreadsheet opens these files)."""
    erp.save([ErpActor("customer", f"K{i}", {"phone": v})
              for i, v in enumerate(SPREADSHEET_VALUES, 1)])
    crm = FilesCrmConnector(tmp_path)
    crm.save([CrmRecord("company", str(i), {"phone": v})
              for i, v in enumerate(SPREADSHEET_VALUES, 1)])
    crm.close()
    for name, header, key in (("erp_updates", b"actor_type,erp_key", b"customer,K"),
                              ("crm_updates", b"kind,crm_id", b"company,")):
        data = (tmp_path / "outbox" / f"{name}.csv").read_bytes()
        assert STAMP.sub(b"", data) == (
            b"written_at," + header + b",field,value\r\n"
            + key + b"1,phone,+47 22 33 44 55\r\n"
            + key + b"2,phone,-12.5\r\n"
            + key + b'3,phone,"=HYPERLINK(""x"")"\r\n'
            + key + b"4,phone,@SUM(A1)\r\n"
            + key + b"5,phone,+SUM(A1)\r\n"
            + key + b"6,phone,-2+3\r\n"
            + key + b"7,phone,-cmd\r\n"
            + key + b"8,phone,-5\r\n"), name
