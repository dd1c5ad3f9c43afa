"""Adopting the links the CRM already holds (erpdata.live.adopt), through a CRM export folder that
lists them (``crm_links.csv``, read by the files connector: a real folder, no fake)."""

from __future__ import annotations

from pathlib import Path

import pytest

from erpdata.check import check
from erpdata.cli import main
from erpdata.live.adopt import adopt_links
from erpdata.live.connectors.base import ConnectorError
from erpdata.live.connectors.folders import FilesCrmConnector
from erpdata.workspace import Workspace
from tests.helpers import snapshot

LINKS = """kind,crm_id,erp_actor_type,erp_key
company,1,customer,K1
company,3,customer,K3
company,4,customer,K9
company,5,supplier,L1
company,2,customer,K2
company,77,customer,K4
company,6,person,P9
person,11,person,P1
person,13,person,P3
person,12,person,P2
person,14,person,P5
person,14,person,P6
"""


def _links(ws: Workspace, kind: str) -> list[tuple[str, str, str]]:
    return ws.cursor().execute("SELECT crm_id, erp_actor_type, erp_id FROM links WHERE kind = ? "
                               "ORDER BY crm_id", [kind]).fetchall()


def test_adopts_the_new_links_and_says_why_the_rest_were_left_out(
        small_workspace: Path, tmp_path: Path) -> None:
    folder = tmp_path / "crm"
    folder.mkdir()
    (folder / "crm_links.csv").write_text(LINKS, encoding="utf-8")
    crm = FilesCrmConnector(folder)
    with Workspace.open(small_workspace) as ws:
        companies = adopt_links(ws, "so", crm, "company", user="kari")
        persons = adopt_links(ws, "so", crm, "person", user="kari")

        assert (companies.listed, companies.adopted, companies.unchanged) == (7, 2, 1)
        assert companies.left_out == {"not_loaded": ["77"], "wrong_type": ["6"],
                                      "linked_otherwise": ["2"], "erp_taken": ["5"]}
        assert companies.erp_not_loaded == 1  # K9
        assert _links(ws, "company") == [("1", "customer", "K1"), ("2", "supplier", "L1"),
                                         ("3", "customer", "K3"), ("4", "customer", "K9")]
        # 13's ERP person hangs under K3, where company 3 was just adopted; 12's under K2,
        # while company 2 is linked to the supplier L1
        assert (persons.listed, persons.adopted, persons.unchanged) == (5, 1, 1)
        assert persons.left_out == {"listed_twice": ["14", "14"], "parent": ["12"]}
        assert _links(ws, "person") == [("11", "person", "P1"), ("13", "person", "P3")]
        audited = ws.cursor().execute(
            "SELECT actor, kind, record_id, actor_type, after_value, detail FROM audit "
            "WHERE action = 'link' ORDER BY audit_id").fetchall()
        assert audited == [("kari", "company", "3", "customer", "K3", '{"adopted_from": "so"}'),
                           ("kari", "company", "4", "customer", "K9", '{"adopted_from": "so"}'),
                           ("kari", "person", "13", "person", "P3", '{"adopted_from": "so"}')]
        assert check(ws) == []
        assert companies.summary() == (
            "company: the CRM lists 7 link(s): 2 adopted, 1 already in the workspace; "
            "1 left out: the CRM record is not in the workspace (pull or load the CRM first); "
            "1 left out: linked to an actor type this kind cannot have; "
            "1 left out: the workspace links the CRM record to another ERP actor; "
            "1 left out: the workspace links that ERP actor to another CRM record; "
            "1 adopted link(s) name ERP records not loaded yet (pull the ERP)")

        again = adopt_links(ws, "so", crm, "company", user="kari")
        assert (again.adopted, again.unchanged) == (0, 3)
    crm.close()


@pytest.mark.parametrize(("text", "message"), [
    (None, "has no crm_links.csv"),
    ("kind,crm_id,erp_key\ncompany,1,K1\n", "no column 'erp_actor_type'"),
    ("kind,crm_id,erp_actor_type,erp_key\ncompany,1,customer,K1\ncompany,3,,K3\n",
     "crm_links.csv, row 3, column 'erp_actor_type': empty"),
], ids=["no-file", "no-column", "empty-cell"])
def test_a_links_file_that_cannot_be_read_changes_nothing(
        small_workspace: Path, tmp_path: Path, text: str | None, message: str) -> None:
    folder = tmp_path / "crm"
    folder.mkdir()
    if text is not None:
        (folder / "crm_links.csv").write_text(text, encoding="utf-8")
    crm = FilesCrmConnector(folder)
    with Workspace.open(small_workspace) as ws:
        before = snapshot(ws)
        with pytest.raises(ConnectorError, match=message):
            adopt_links(ws, "so", crm, "company", user="kari")
        assert snapshot(ws) == before
    crm.close()


def test_connect_links_from_the_command_line(small_workspace: Path, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "crm"
    folder.mkdir()
    (folder / "crm_links.csv").write_text(LINKS, encoding="utf-8")
    ws = ["--workspace", str(small_workspace)]
    assert main([*ws, "connect", "add", "so", "--type", "files", "--side", "crm",
                 "--url", str(folder)]) == 0
    assert main([*ws, "connect", "add", "erp", "--type", "files", "--url", str(folder)]) == 0
    capsys.readouterr()

    assert main([*ws, "connect", "links", "so"]) == 0

    lines = capsys.readouterr().err.splitlines()
    assert [line.split(":")[0] for line in lines] == ["company", "person", "project"]
    assert lines[1] == ("person: the CRM lists 5 link(s): 1 adopted, 1 already in the "
                        "workspace; 2 left out: the CRM lists the record or the ERP actor more "
                        "than once; 1 left out: the ERP person hangs under another actor than "
                        "its company's link")
    assert lines[2] == "project: the CRM lists 0 link(s): 0 adopted, 0 already in the workspace"

    assert main([*ws, "connect", "links", "erp"]) == 1
    assert ("error: connection 'erp' is the ERP side: the links are held by the CRM"
            in capsys.readouterr().err)
