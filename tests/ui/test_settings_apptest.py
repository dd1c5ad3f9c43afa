"""The Settings page under AppTest: the mapping table, saving (valid and invalid), TOML."""

from __future__ import annotations

from pathlib import Path

from erpdata import mappings
from erpdata.settings import DEFAULTS, thresholds
from erpdata.workspace import Workspace


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
