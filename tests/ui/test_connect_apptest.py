"""The Connect page under AppTest: find the CRM record and pick it from a list, search the
ERP (ranked), pick a hit and connect, or create in the ERP."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from erpdata.live.connections import Connection, add_connection
from erpdata.steward.decisions import decide
from erpdata.workspace import Workspace


def _decisions(path: Path) -> list[tuple]:
    with Workspace.open(path) as ws:
        return ws.con.execute("SELECT crm_id, erp_actor_type, erp_id, decision, decided_by, "
                              "create_values FROM decisions ORDER BY decision_id").fetchall()


def _radio_keys(at: AppTest) -> list[str]:
    return [r.key for r in at.radio]


def _connect_page(ws: Workspace, open_page) -> tuple[AppTest, Path]:
    """The Connect page on the companies workspace (closed here: the app opens it)."""
    ws.close()
    return open_page(ws.path, "connect"), ws.path


def _pick_crm(at: AppTest, find: str, crm_id: str) -> AppTest:
    """Find the CRM company by name and pick it from the list (no id is typed)."""
    at.text_input(key="connect_find_company").set_value(find).run()
    return at.radio(key="connect_crm_pick_company").set_value(crm_id).run()


def _options(at: AppTest, key: str) -> list[str]:
    return list(at.radio(key=key).options)


def test_search_pick_connect_and_create(companies_ws: Workspace, open_page) -> None:
    at, path = _connect_page(companies_ws, open_page)
    # an empty search lists every CRM company, by name; nothing is picked yet
    assert _options(at, "connect_crm_pick_company") == [
        "Berg Bygg AB", "Fjord Fisk AS", "Hansen & Co AS", "Hansen og Co AS", "Zzyzx Quux"]
    assert at.info[0].value == "Pick the CRM company to connect."
    # fuzzy: the legal form and a missing letter do not hide the record
    at.text_input(key="connect_find_company").set_value("Berg Byg A/S").run()
    assert _options(at, "connect_crm_pick_company") == ["Berg Bygg AB"]
    assert at.radio(key="connect_crm_pick_company").value is None
    at.radio(key="connect_crm_pick_company").set_value("1").run()
    assert not at.exception
    assert at.subheader[0].value == "Berg Bygg AB"
    assert at.caption[1].value == "CRM company 1 · Stockholm · org no 5560360793 · not linked"
    # the ERP search starts with the record's name; the best hit first, and picked
    hit = at.radio(key="connect_hit")
    assert list(hit.options) == ["Berg Bygg AB", "Berg Bygg"]
    assert list(hit.proto.captions) == [
        "supplier L1 · Stockholm · org no SE556036079301 · not linked · exact match, score 100",
        "customer K2 · Stockholm · not linked · exact match, score 100"]
    assert hit.value == "supplier:L1"
    assert at.button(key="connect_go").label == "Connect to Berg Bygg AB"
    at.radio(key="connect_hit").set_value("customer:K2").run()
    assert at.button(key="connect_go").label == "Connect to Berg Bygg"
    at.button(key="connect_go").click().run()
    assert not at.exception
    assert at.success[0].value == ("Berg Bygg AB (CRM 1) ↔ Berg Bygg (customer K2) accepted; "
                                   "commit it on the Commit page.")
    # record 4 has no counterpart: choose it instead, and create it, with the asked category
    at.button(key="connect_other").click().run()
    _pick_crm(at, "fjord fisk", "4")
    assert at.subheader[0].value == "Fjord Fisk AS"
    assert "connect_hit" not in _radio_keys(at)  # nothing like it in the ERP
    assert at.info[0].value.startswith("No ERP record matches.")
    at.text_input(key="ask_company_category").set_value("Fisk").run()
    at.button(key="create_go").click().run()
    assert not at.exception
    assert at.success[0].value == ("Fjord Fisk AS (CRM 4): a new customer will be created in "
                                   "the ERP when the batch is committed.")
    assert _decisions(path) == [("1", "customer", "K2", "accept", "tester", None),
                                ("4", "customer", None, "create", "tester",
                                 '{"category": "Fisk"}')]


def test_hits_show_city_and_what_they_are_linked_to(companies_ws: Workspace,
                                                    open_page) -> None:
    """Customer K1 is linked to CRM 2 already: its hit says so, and connecting CRM 3 (the
    duplicate) to it is refused with the reason, never reported as done."""
    companies_ws.con.execute("INSERT INTO links (kind, crm_id, erp_actor_type, erp_id, "
                             "linked_by, linked_at) VALUES ('company', '2', 'customer', 'K1', "
                             "'kari', now())")
    at, path = _connect_page(companies_ws, open_page)
    _pick_crm(at, "Hansen og Co", "3")
    radio = at.radio(key="connect_hit")
    assert list(radio.options) == ["Hansen & Co AS"]
    assert list(radio.proto.captions) == [
        "customer K1 · Oslo · org no NO923609016MVA · already linked to Hansen & Co AS (CRM 2) "
        "· exact match, score 100"]
    assert at.warning[0].value.startswith("Hansen & Co AS is already linked to Hansen & Co AS "
                                          "(CRM 2): a second link is refused.")
    at.button(key="connect_go").click().run()
    assert not at.exception and not at.success
    assert "already linked to CRM company '2'" in at.error[0].value
    assert _decisions(path) == []


def test_a_colleagues_decision_since_is_not_overruled(companies_ws: Workspace,
                                                      open_page) -> None:
    """Kari has record 1 open; Ola accepts it meanwhile (another session). Kari's Connect is
    refused, saying who decided; a second, informed click is Kari's to make."""
    at, path = _connect_page(companies_ws, open_page)
    _pick_crm(at, "berg bygg", "1")
    at.radio(key="connect_hit").set_value("customer:K2").run()
    with Workspace.open(path) as ws:
        decide(ws, "company", "accept", "1", "supplier:L1", user="ola")
    at.button(key="connect_go").click().run()
    assert not at.exception
    assert at.error[0].value.startswith("ola decided on CRM company '1' at ")
    assert at.error[0].value.endswith("after your page showed it (accept of supplier:L1): "
                                      "your accept was not stored. Look at the record again, "
                                      "and decide again if you still disagree")
    at.button(key="connect_go").click().run()
    assert at.success[0].value.startswith("Berg Bygg AB (CRM 1) ↔ Berg Bygg (customer K2) "
                                          "accepted")
    assert [d[:5] for d in _decisions(path)] == [("1", "supplier", "L1", "accept", "ola"),
                                                 ("1", "customer", "K2", "accept", "tester")]


def test_nothing_found_is_said_plainly(companies_ws: Workspace, open_page) -> None:
    at, _ = _connect_page(companies_ws, open_page)
    at.text_input(key="connect_find_company").set_value("Qwerty Plonk").run()
    assert not at.exception and not at.radio
    assert at.info[0].value == "No CRM company matches 'Qwerty Plonk'. Try fewer or other words."


def test_search_the_live_erp_and_connect_to_a_hit(companies_ws: Workspace, open_page,
                                                  tmp_path: Path) -> None:
    folder = tmp_path / "live"
    folder.mkdir()
    (folder / "erp_company.csv").write_text(
        "id,type,name,postalcity\nK77,customer,Fjord Fisk AS,Tromsø\n"
        "K78,customer,Fjordbuss AS,Bodø\n", encoding="utf-8")
    add_connection(companies_ws, Connection("erp-live", "files", "erp", str(folder)))
    at, path = _connect_page(companies_ws, open_page)
    _pick_crm(at, "Fjord Fisk", "4")  # Fjord Fisk AS: not in the ERP copy
    at.radio(key="connect_source").set_value("erp-live").run()
    assert not at.exception
    assert list(at.radio(key="connect_hit").options) == ["Fjord Fisk AS"]
    at.text_input(key="connect_text_company_4").set_value("fjord").run()
    assert list(at.radio(key="connect_hit").options) == ["Fjord Fisk AS", "Fjordbuss AS"]
    at.radio(key="connect_hit").set_value("customer:K77").run()
    at.button(key="connect_go").click().run()
    assert not at.exception
    assert at.success[0].value.startswith("Fjord Fisk AS (CRM 4) ↔ Fjord Fisk AS (customer K77) "
                                          "accepted")
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
    _pick_crm(at, "Fjord Fisk", "4")
    at.radio(key="connect_source").set_value("gone").run()
    assert "connect_hit" not in _radio_keys(at)
    assert at.error[0].value == (f"the export of ERP company records cannot be read (the "
                                 f"folder {tmp_path / 'gone'} does not exist)")
