"""The Connect page under AppTest: search, connect to a hit, create in the ERP."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from erpdata.workspace import Workspace


def _decisions(path: Path) -> list[tuple]:
    with Workspace.open(path) as ws:
        return ws.con.execute("SELECT crm_id, erp_actor_type, erp_id, decision, decided_by, "
                              "create_values FROM decisions ORDER BY decision_id").fetchall()


def _connect_page(ws: Workspace, open_page) -> tuple[AppTest, Path]:
    """The Connect page on the companies workspace (closed here: the app opens it)."""
    ws.close()
    return open_page(ws.path, "connect"), ws.path


def test_search_connect_and_create(companies_ws: Workspace, open_page) -> None:
    at, path = _connect_page(companies_ws, open_page)
    assert "Give the id" in at.info[0].value
    at.text_input(key="connect_crm").set_value("1").run()
    assert at.subheader[0].value == "Berg Bygg AB"
    # the search starts with the record's name: every word must appear
    assert at.dataframe[0].value["erp"].tolist() == ["supplier:L1"]
    at.text_input(key="connect_text_company_1").set_value("berg").run()
    assert at.dataframe[0].value["erp"].tolist() == ["customer:K2", "supplier:L1"]
    at.selectbox(key="connect_hit").set_value("supplier:L1").run()
    at.button(key="connect_go").click().run()
    assert not at.exception
    assert at.success[0].value.startswith("1 ↔ supplier:L1 accepted")
    # record 4 has no counterpart: create it, with the asked category
    at.text_input(key="connect_crm").set_value("4").run()
    at.text_input(key="ask_company_category").set_value("Fisk").run()
    at.button(key="create_go").click().run()
    assert not at.exception
    assert _decisions(path) == [("1", "supplier", "L1", "accept", "tester", None),
                                ("4", "customer", None, "create", "tester",
                                 '{"category": "Fisk"}')]


def test_an_unknown_record_is_said_plainly(companies_ws: Workspace, open_page) -> None:
    at, _ = _connect_page(companies_ws, open_page)
    at.text_input(key="connect_crm").set_value("99").run()
    assert not at.exception
    assert at.error[0].value == "There is no CRM company '99' in the workspace."
