"""The Settings page under AppTest: the mapping table, saving (valid and invalid), TOML."""

from __future__ import annotations

from pathlib import Path

from erpdata import mappings
from erpdata.settings import DEFAULTS
from erpdata.workspace import Workspace


def test_mappings_are_shown_saved_and_validated(empty_workspace: Path, open_page) -> None:
    path = empty_workspace
    at = open_page(path, "settings")
    editor = at.dataframe[0].value  # the data editor, one row per ERP field
    assert editor["erp_field"].tolist() == [m.erp_field for m in DEFAULTS["company"]]
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
