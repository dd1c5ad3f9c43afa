"""The Commit and Reports pages under AppTest: dry run, commit, undo; reports built on click."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from erpdata import Filter, build_demo, decide_bulk, match_workspace
from erpdata.workspace import Workspace
from tests.ui.conftest import APP


@pytest.fixture
def accepted(tmp_path: Path) -> tuple[Path, int]:
    path = tmp_path / "commit.duckdb"
    with Workspace.open(path) as ws:
        build_demo(ws, size=200, seed=5)
        match_workspace(ws, "company")
        n = decide_bulk(ws, "accept", Filter(band="auto"), user="kari").count
    return path, n


def _page(path: Path, page: str, workspace_env) -> AppTest:
    workspace_env(path)
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.switch_page(f"pages/{page}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _links(path: Path) -> int:
    with Workspace.open(path) as ws:
        (n,) = ws.con.execute("SELECT count(*) FROM links").fetchone() or (0,)
    return int(n)


def test_dry_run_commit_and_undo(accepted: tuple[Path, int], workspace_env) -> None:
    path, n = accepted
    at = _page(path, "commit", workspace_env)
    assert (at.metric[0].label, at.metric[0].value) == ("link", f"{n:,}")
    assert _links(path) == 0  # the dry run wrote nothing
    at.button(key="commit_go").click().run()
    assert not at.exception
    assert at.success[0].value.startswith(f"batch 1: queued {n:,} link")
    assert _links(path) == n
    assert at.info[0].value.startswith("Nothing to commit")
    at.button(key="undo_ask").click().run()
    at.button(key="undo_go").click().run()
    assert not at.exception
    assert at.success[0].value.startswith(f"Batch 1 undone: {n:,} link(s) removed")
    assert _links(path) == 0


def test_reports_are_built_on_click(accepted: tuple[Path, int], workspace_env) -> None:
    path, _ = accepted
    at = _page(path, "reports", workspace_env)
    assert not at.get("download_button")  # nothing built until asked
    at.button(key="build_csv").click().run()
    at.button(key="build_xlsx").click().run()
    assert not at.exception
    labels = sorted(b.proto.label for b in at.get("download_button"))
    assert labels == ["Download links.csv", "Download reports.xlsx"]
    name, data = at.session_state["report_csv"]
    assert name == "links.csv" and data.decode("utf-8").startswith("kind,crm_id,crm_name,")


@pytest.mark.parametrize("page", ["commit", "reports"])
def test_pages_render_on_an_empty_workspace(tmp_path: Path, workspace_env, page: str) -> None:
    path = tmp_path / "empty.duckdb"
    Workspace.open(path).close()
    at = _page(path, page, workspace_env)
    assert at.title[0].value == page.capitalize()
