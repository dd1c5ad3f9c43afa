"""The workbench entry and the Overview page under Streamlit's AppTest (no browser).

Asserts the exact numbers shown for a workspace built in code, and that a first start without a
workspace file builds the demo workspace.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from streamlit.dataframe_util import convert_arrow_bytes_to_pandas_df
from streamlit.testing.v1 import AppTest

from erpdata.workspace import Workspace
from tests.conftest import SMALL_COUNTS, Load
from tests.ui.conftest import APP


def run_app(timeout: float = 30) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=timeout).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def shown_table(at: AppTest, index: int = 0) -> pd.DataFrame:
    """A table as the user sees it: the formatted display values."""
    styler = at.table[index].proto.arrow_data.styler
    return convert_arrow_bytes_to_pandas_df(styler.display_values)


def test_overview_shows_the_exact_counts(small_workspace: Path, workspace_env) -> None:
    workspace_env(small_workspace)
    at = run_app()

    assert at.title[0].value == "Overview"
    assert [(m.label, m.value) for m in at.metric] == [
        ("Companies linked", "40.0 %"), ("Persons linked", "25.0 %"), ("Projects linked", "0.0 %")]
    assert [p.text for p in at.main.get("progress")] == [
        "2 of 5 CRM companies", "1 of 4 CRM persons", "0 of 2 CRM projects"]

    raw = at.table[0].value
    assert raw.index.tolist() == ["Companies", "Persons", "Projects"]
    assert raw["CRM"].tolist() == [SMALL_COUNTS["crm"][k] for k in ("company", "person", "project")]
    assert raw["ERP"].tolist() == [SMALL_COUNTS["erp"][k] for k in ("company", "person", "project")]
    assert shown_table(at).reset_index().values.tolist() == [
        ["Companies", "5", "7", "2", "40.0 %", "1", "0"],
        ["Persons", "4", "3", "1", "25.0 %", "0", "0"],
        ["Projects", "2", "1", "0", "0.0 %", "0", "0"],
    ]
    assert shown_table(at).columns.tolist() == [
        "CRM", "ERP", "Linked", "Linked share", "Missing in CRM", "Missing in ERP"]
    assert len(at.warning) == 1
    assert at.warning[0].value.startswith("1 record(s) were not in the latest export")

    loads = at.dataframe[0].value  # newest first
    assert [(r.Load, r.Side, r.Kind, r.Rows, r.New, r.Changed) for r in loads.itertuples()] == [
        (7, "ERP", "Projects", 1, 1, 0), (6, "ERP", "Persons", 3, 3, 0),
        (5, "ERP", "Companies", 7, 7, 0), (4, "CRM", "Projects", 2, 2, 0),
        (3, "CRM", "Persons", 4, 4, 0), (2, "CRM", "Companies", 5, 0, 0),
        (1, "CRM", "Companies", 6, 6, 0)]
    assert loads["Flagged missing"].tolist() == [0, 0, 0, 0, 0, 1, 0]


def test_sidebar_shows_workspace_user_and_progress(small_workspace: Path, workspace_env) -> None:
    workspace_env(small_workspace)
    at = run_app()

    assert [c.value for c in at.sidebar.caption] == [
        str(small_workspace.resolve()), "Records: CRM 11 · ERP 11",
        "Companies: 0 suggested link(s), 0 conflict(s)  \nPersons: 0 suggested link(s), "
        "0 conflict(s)  \nProjects: 0 suggested link(s), 0 conflict(s)"]
    assert any("tester" in m.value and "(local, admin)" in m.value for m in at.sidebar.markdown)
    bars = at.sidebar.get("progress")
    assert [(b.value, b.text) for b in bars] == [
        (40, "Companies: 2 of 5 (40.0 %)"), (25, "Persons: 1 of 4 (25.0 %)"),
        (0, "Projects: 0 of 2 (0.0 %)")]


def test_no_missing_records_no_warning_and_no_missing_columns(
    workspace_factory, workspace_env
) -> None:
    path = workspace_factory([Load("crm", "company", [["id", "name"], ["1", "A"], ["2", "B"]])])
    workspace_env(path)
    at = run_app()

    assert not at.warning
    assert shown_table(at).reset_index().values.tolist() == [
        ["Companies", "2", "0", "0", "0.0 %"], ["Persons", "0", "0", "0", "0.0 %"],
        ["Projects", "0", "0", "0", "0.0 %"]]


def test_a_replaced_workspace_file_is_opened_again(workspace_factory, workspace_env) -> None:
    path = workspace_factory([Load("crm", "company", [["id", "name"], ["1", "A"]])])
    workspace_env(path)
    at = run_app()
    assert shown_table(at)["CRM"].tolist() == ["1", "0", "0"]

    other = workspace_factory([Load("crm", "company", [["id"], ["1"], ["2"], ["3"]])],
                              name="other.duckdb")
    other.replace(path)  # say a steward restores a backup while the workbench runs
    at.run()
    assert not at.exception
    assert shown_table(at)["CRM"].tolist() == ["3", "0", "0"]


def test_empty_workspace_says_what_to_do(tmp_path: Path, workspace_env) -> None:
    path = tmp_path / "empty.duckdb"
    Workspace.open(path).close()
    workspace_env(path)
    at = run_app()

    assert [m.value for m in at.metric] == ["0.0 %"] * 3
    assert "empty" in at.info[0].value
    # the page and the button, not a command line (the workbench holds the workspace open)
    assert not at.get("code")
    assert [(p.proto.page, p.proto.label) for p in at.get("page_link")] == [
        ("load", "Load")]
    assert at.markdown[0].value.startswith("**Load the exports** (companies, persons, "
                                           "projects lack a CRM or an ERP export)")
    assert "**Load into …**" in at.markdown[0].value


def test_unusable_workspace_is_an_error_message_not_a_traceback(
    tmp_path: Path, workspace_env
) -> None:
    folder = tmp_path / "a_folder.duckdb"
    folder.mkdir()
    workspace_env(folder)
    at = AppTest.from_file(APP, default_timeout=30).run()

    assert not at.exception
    assert "is a folder" in at.error[0].value


def test_workspace_written_by_another_program_is_explained(
    small_workspace: Path, workspace_env
) -> None:
    # Another process (say a CLI load) holds the file: DuckDB lets only one process write.
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, duckdb; c = duckdb.connect(sys.argv[1]); "
         "print('ready', flush=True); sys.stdin.read()", str(small_workspace)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        workspace_env(small_workspace)
        at = AppTest.from_file(APP, default_timeout=30).run()
        assert not at.exception
        assert (f"(PID {holder.pid}), a running workbench or command: only one program may "
                "write a workspace at a time") in at.error[0].value
    finally:
        holder.communicate("", timeout=30)


def test_first_start_builds_the_demo_workspace(
    tmp_path: Path, workspace_env, monkeypatch: pytest.MonkeyPatch
) -> None:
    from erpdata.demo import build_demo

    path = tmp_path / "new" / "workspace.duckdb"
    workspace_env(path)
    monkeypatch.setenv("ERPDATA_DEMO_SIZE", "40")
    at = run_app(timeout=120)

    assert path.exists()
    assert (tmp_path / "new" / "workspace.demo" / "crm_company.csv").exists()
    assert at.status[0].label == "Demo workspace ready"
    # The demo is deterministic: the same size and seed elsewhere gives the counts to expect.
    counts = build_demo(tmp_path / "reference.duckdb", size=40).counts
    assert counts["crm"]["company"] > 0 and counts["erp"]["company"] > 0
    shown = shown_table(at)
    assert shown["CRM"].tolist() == [f"{counts['crm'][k]:,}" for k in ("company", "person",
                                                                      "project")]
    assert shown["ERP"].tolist() == [f"{counts['erp'][k]:,}" for k in ("company", "person",
                                                                      "project")]
    # Built once: the next run finds the workspace and shows no build status.
    at.run()
    assert not at.exception
    assert not at.status
    assert not list(path.parent.glob(".*.building*"))


AUTH = {"redirect_uri": "http://127.0.0.1:8501/oauth2callback", "cookie_secret": "x" * 32,
        "client_id": "workbench", "client_secret": "not-a-secret",
        "server_metadata_url": "http://127.0.0.1:9/.well-known/openid-configuration"}


def test_with_auth_configured_nobody_works_without_signing_in(small_workspace: Path,
                                                               workspace_env) -> None:
    workspace_env(small_workspace)
    at = AppTest.from_file(APP, default_timeout=30)
    at.secrets["auth"] = AUTH
    at.user = {"is_logged_in": False}
    at.run()
    assert not at.exception
    assert at.button(key="sign_in").label == "Sign in"
    assert not at.metric and not at.sidebar.markdown  # no page, no sidebar


def test_a_signed_in_user_works_under_their_e_mail(small_workspace: Path, workspace_env) -> None:
    workspace_env(small_workspace)
    at = AppTest.from_file(APP, default_timeout=30)
    at.secrets["auth"] = AUTH
    at.user = {"is_logged_in": True, "email": "kari@example.com", "name": "Kari"}
    at.run()
    assert not at.exception
    assert at.title[0].value == "Overview"
    assert any("kari@example.com" in m.value and "signed in" in m.value
               for m in at.sidebar.markdown)
    assert at.sidebar.button(key="sign_out").label == "Sign out"
