"""The Settings page under AppTest: the mapping table, saving (valid and invalid), TOML."""

from __future__ import annotations

from pathlib import Path

import pytest

from erpdata import grant, mappings
from erpdata.live.connections import Connection, add_connection, get_connection
from erpdata.steward.mappings import DEFAULTS
from erpdata.steward.thresholds import thresholds
from erpdata.workspace import Workspace
from tests.live.connectors.test_tryton import FRESH_LACKS, FRESH_SETUP
from tests.tryton_server import TrytonServer


def test_mappings_are_shown_saved_and_validated(empty_workspace: Path, open_page) -> None:
    path = empty_workspace
    at = open_page(path, "settings")
    editor = at.dataframe[0].value  # the data editor, one row per ERP field
    assert editor["erp_field"].tolist() == [m.erp_field for m in DEFAULTS["company"]]
    # each field by its label (SuperOffice's name) first, the stored key beside it
    labels = dict(zip(editor["erp_field"], editor["label"], strict=True))
    assert (labels["name"], labels["streetad1"], labels["vatno"]) == (
        "Name", "Street address 1", "Org. no / VAT no")
    at.button(key="settings_save").click().run()
    assert not at.exception
    assert at.success[0].value == "Companies: mappings saved."
    with Workspace.open(path) as ws:
        assert mappings(ws, "company") == list(DEFAULTS["company"])
        assert ws.con.execute("SELECT actor, action FROM audit").fetchall() == [
            ("tester", "mapping")]
    # an edit that SuperOffice would refuse: "name" mandatory without a direction
    at.session_state["mapping_editor_company"] = {
        "edited_rows": {0: {"direction": "none"}}, "added_rows": [], "deleted_rows": []}
    at.run()
    at.button(key="settings_save").click().run()
    assert not at.exception
    assert "company field 'name' is mandatory in the ERP but has no sync direction" in \
        at.error[0].value


def test_thresholds_and_roles(empty_workspace: Path, open_page) -> None:
    path = empty_workspace
    at = open_page(path, "settings")
    assert at.number_input(key="review_company").value is None  # the model chooses
    at.number_input(key="review_company").set_value(0.95)
    at.number_input(key="auto_company").set_value(0.9)
    at.button(key="thresholds_save").click().run()
    assert "must not be below the review limit" in at.error[0].value
    at.number_input(key="auto_company").set_value(0.99)
    at.button(key="thresholds_save").click().run()
    assert at.success[0].value == ("Companies: thresholds saved; run matching to apply them.")
    with Workspace.open(path) as ws:
        assert thresholds(ws, "company") == {"auto": 0.99, "review": 0.95}
    # roles: the first grant makes the granting user an admin too, so nobody is locked out
    at.text_input(key="role_user").input("kari@example.com").run()
    at.selectbox(key="role_role").set_value("viewer")
    at.button(key="role_grant").click().run()
    assert at.success[0].value == "kari@example.com is now a viewer."
    assert at.dataframe[-1].value[["name", "role"]].values.tolist() == [
        ["kari@example.com", "viewer"], ["tester", "admin"]]
    # a viewer cannot change settings: the engine refuses, whatever the page shows
    at = open_page(path, "settings")
    at.user = {"is_logged_in": True, "email": "kari@example.com"}
    at.run()
    at.button(key="thresholds_save").click().run()
    assert "is a viewer: changing thresholds needs the admin role" in at.error[0].value


def test_connections_are_added_and_tested(empty_workspace: Path, open_page,
                                          tmp_path: Path) -> None:
    at = open_page(empty_workspace, "settings")
    at.text_input(key="conn_name").input("exports").run()
    at.text_input(key="conn_url").input(str(tmp_path)).run()
    at.button(key="conn_save").click().run()
    assert not at.exception
    assert at.success[0].value == "Connection exports saved."
    table = at.dataframe[-1].value
    assert table[["name", "type", "side", "secret"]].values.tolist() == [
        ["exports", "files", "ERP", "not needed"]]
    at.button(key="conn_test").click().run()
    # an ERP folder without exports would turn every update of a sync into an error
    assert at.error[-1].value == (
        f"exports: does not work: the folder {tmp_path} holds no ERP export files: a sync "
        "could not read, and so could not update, any ERP record (looked for erp_company.*, "
        "erp_person.*, erp_project.*)")
    (tmp_path / "erp_company.csv").write_text("id,name\n1,Agder Rør AS\n", encoding="utf-8")
    at.button(key="conn_test").click().run()
    assert at.success[-1].value == f"exports: works: export folder {tmp_path}: erp_company.csv"
    # a connection that cannot work is refused with the reason
    at.text_input(key="conn_name").input("erp2").run()
    at.selectbox(key="conn_type").set_value("tryton").run()
    at.text_input(key="conn_url").input("not-a-url").run()
    at.button(key="conn_save").click().run()
    assert "url 'not-a-url': give the server as http(s)://host[:port]" in at.error[0].value


def test_a_fresh_tryton_is_set_up_from_settings_by_an_admin(
        empty_workspace: Path, open_page, tryton_fresh: TrytonServer,
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The button against a real Tryton database nobody has set up: it says what it created,
    the second press that nothing was missing; only an admin may press it, and only for a
    Tryton connection."""
    monkeypatch.setenv("ERPDATA_SECRET_ERP", tryton_fresh.password)
    with Workspace.open(empty_workspace) as ws:
        add_connection(ws, Connection("erp", "tryton", "erp", tryton_fresh.url,
                                      tryton_fresh.database, tryton_fresh.user))
        add_connection(ws, Connection("exports", "files", "crm", str(tmp_path)))
    at = open_page(empty_workspace, "settings")
    assert at.selectbox(key="conn_probe").value == "erp"
    assert at.dataframe[-1].value[["name", "Tryton names"]].values.tolist() == [
        ["erp", "Customer, Supplier / Employee of, Employer of"], ["exports", ""]]
    at.button(key="conn_test").click().run()
    assert at.error[-1].value == (
        "erp: does not work: Tryton 8.2, database fresh, user admin: "
        + FRESH_LACKS.format(name="erp"))
    setup = at.button(key="conn_setup")
    assert (setup.label, setup.disabled) == ("Set up Tryton for erpdata", False)
    setup.click().run()
    assert not at.exception
    assert at.success[-1].value == f"erp: created {', '.join(FRESH_SETUP)}"
    at.button(key="conn_setup").click().run()
    assert at.success[-1].value == (
        "erp: nothing to create: it already has everything erpdata needs")
    at.button(key="conn_test").click().run()
    assert at.success[-1].value == "erp: works: Tryton 8.2, database fresh, user admin"
    with Workspace.open(empty_workspace) as ws:
        assert ws.con.execute("SELECT actor, record_id, after_value FROM audit WHERE "
                              "after_value LIKE 'set up%' ORDER BY audit_id").fetchall() == [
            ("tester", "erp", f"set up: created {', '.join(FRESH_SETUP)}"),
            ("tester", "erp", "set up: nothing to create: it already has everything "
                              "erpdata needs")]
        grant(ws, "kari@example.com", "steward")
    # a files connection has nothing to set up
    at.selectbox(key="conn_probe").set_value("exports").run()
    assert at.button(key="conn_setup").disabled
    assert at.button(key="conn_setup").help == "Only a Tryton connection is set up here."
    # a steward sees why the button is off
    at = open_page(empty_workspace, "settings")
    at.user = {"is_logged_in": True, "email": "kari@example.com"}
    at.run()
    assert at.button(key="conn_setup").disabled
    assert at.button(key="conn_setup").help == (
        "user 'kari@example.com' is a steward: setting up a connected system needs the admin "
        "role (an admin grants it: erpdata role NAME ROLE)")


def test_a_tryton_connection_gets_names_of_its_own_from_the_form(
        empty_workspace: Path, open_page) -> None:
    at = open_page(empty_workspace, "settings")
    at.text_input(key="conn_name").input("erp").run()
    at.selectbox(key="conn_type").set_value("tryton").run()
    at.text_input(key="conn_url").input("http://127.0.0.1:9").run()
    at.text_input(key="conn_db").input("erp").run()
    assert at.text_input(key="conn_customer_category").placeholder == "Customer"
    at.text_input(key="conn_customer_category").input("Kunde").run()
    at.text_input(key="conn_supplier_category").input("Kunde").run()
    at.button(key="conn_save").click().run()
    assert at.error[0].value == (
        "connection 'erp': options customer_category and supplier_category name the same "
        "'Kunde': they must differ")
    at.text_input(key="conn_supplier_category").input("Leverandør").run()
    at.text_input(key="conn_employee_relation").input("Ansatt hos").run()
    at.button(key="conn_save").click().run()
    assert at.success[0].value == "Connection erp saved."
    with Workspace.open(empty_workspace) as ws:
        assert get_connection(ws, "erp").options == {
            "customer_category": "Kunde", "supplier_category": "Leverandør",
            "employee_relation": "Ansatt hos"}
    assert at.dataframe[-1].value["Tryton names"].tolist() == [
        "Kunde, Leverandør / Ansatt hos, Employer of"]
