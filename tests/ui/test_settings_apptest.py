"""The Settings page under AppTest: the mapping table, saving (valid and invalid), TOML."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from erpdata import mappings
from erpdata.settings import DEFAULTS
from erpdata.workspace import Workspace
from tests.ui.conftest import APP


def test_mappings_are_shown_saved_and_validated(tmp_path: Path, workspace_env) -> None:
    path = tmp_path / "s.duckdb"
    Workspace.open(path).close()
    workspace_env(path)
    at = AppTest.from_file(APP, default_timeout=30).run()
    at.switch_page("pages/settings.py").run()
    assert not at.exception, [e.value for e in at.exception]
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
