"""The Connect page under AppTest: search, connect to a hit, create in the ERP."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from erpdata.connections import Connection, add_connection
from erpdata.decisions import decide
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


def test_a_colleagues_decision_since_is_not_overruled(companies_ws: Workspace,
                                                      open_page) -> None:
    """Kari has record 1 open; Ola accepts it meanwhile (another session). Kari's Connect is
    refused, saying who decided; a second, informed click is Kari's to make."""
    at, path = _connect_page(companies_ws, open_page)
    at.text_input(key="connect_crm").set_value("1").run()
    at.text_input(key="connect_text_company_1").set_value("berg").run()
    at.selectbox(key="connect_hit").set_value("customer:K2").run()
    with Workspace.open(path) as ws:
        decide(ws, "company", "accept", "1", "supplier:L1", user="ola")
    at.button(key="connect_go").click().run()
    assert not at.exception
    assert at.error[0].value.startswith("ola decided on CRM company '1' at ")
    assert at.error[0].value.endswith("after your page showed it (accept of supplier:L1): "
                                      "your accept was not stored. Look at the record again, "
                                      "and decide again if you still disagree")
    at.button(key="connect_go").click().run()
    assert at.success[0].value.startswith("1 ↔ customer:K2 accepted")
    assert [d[:5] for d in _decisions(path)] == [("1", "supplier", "L1", "accept", "ola"),
                                                 ("1", "customer", "K2", "accept", "tester")]


def test_an_unknown_record_is_said_plainly(companies_ws: Workspace, open_page) -> None:
    at, _ = _connect_page(companies_ws, open_page)
    at.text_input(key="connect_crm").set_value("99").run()
    assert not at.exception
    assert at.error[0].value == "There is no CRM company '99' in the workspace."


def test_search_the_live_erp_and_connect_to_a_hit(companies_ws: Workspace, open_page,
                                                  tmp_path: Path) -> None:
    folder = tmp_path / "live"
    folder.mkdir()
    (folder / "erp_company.csv").write_text(
        "id,type,name,postalcity\nK77,customer,Fjord Fisk AS,Tromsø\n"
        "K78,customer,Fjordbuss AS,Bodø\n", encoding="utf-8")
    add_connection(companies_ws, Connection("erp-live", "files", "erp", str(folder)))
    at, path = _connect_page(companies_ws, open_page)
    at.text_input(key="connect_crm").set_value("4").run()  # Fjord Fisk AS: not in the ERP copy
    at.radio(key="connect_source").set_value("erp-live").run()
    assert not at.exception
    assert at.dataframe[0].value["erp"].tolist() == ["customer:K77"]
    at.text_input(key="connect_text_company_4").set_value("fjord").run()
    assert at.dataframe[0].value["erp"].tolist() == ["customer:K77", "customer:K78"]
    at.selectbox(key="connect_hit").set_value("customer:K77").run()
    at.button(key="connect_go").click().run()
    assert not at.exception
    assert at.success[0].value.startswith("4 ↔ customer:K77 accepted")
    assert _decisions(path)[-1][:4] == ("4", "customer", "K77", "accept")
    with Workspace.open(path) as ws:  # the hit came into the workspace, nothing else changed
        assert ws.con.execute("SELECT id, name FROM erp_company WHERE id LIKE 'K7%'"
                              ).fetchall() == [("K77", "Fjord Fisk AS")]
        assert ws.con.execute("SELECT count(*) FROM erp_company WHERE missing_since IS NOT "
                              "NULL").fetchone() == (0,)


def test_a_failed_live_search_is_an_error_not_an_empty_list(companies_ws: Workspace,
                                                           open_page, tmp_path: Path) -> None:
    add_connection(companies_ws, Connection("gone", "files", "erp", str(tmp_path / "gone")))
    at, _ = _connect_page(companies_ws, open_page)
    at.text_input(key="connect_crm").set_value("4").run()
    at.radio(key="connect_source").set_value("gone").run()
    assert not at.dataframe
    assert at.error[0].value == (f"the export of ERP company records cannot be read (the "
                                 f"folder {tmp_path / 'gone'} does not exist)")
