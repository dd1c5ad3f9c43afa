"""Shared by the UI tests: the app's entry file, fresh Streamlit caches around each test (each
test starts without cached workspaces and closes the ones it opened), a page opened on a
workspace, and an empty workspace."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from erpdata.workspace import Workspace

APP = str(Path(__file__).resolve().parents[2] / "workbench.py")


@pytest.fixture(autouse=True)
def _fresh_caches(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("ERPDATA_USER", "tester")
    st.cache_resource.clear()
    yield
    st.cache_resource.clear()


@pytest.fixture
def open_page(workspace_env: Callable[[Path], None]) -> Callable[..., AppTest]:
    """``open_page(workspace, "match")``: the workbench on that workspace, switched to the page
    (``pages/match.py``), which must have run without an exception."""

    def open_(path: Path, page: str, timeout: float = 120) -> AppTest:
        workspace_env(path)
        at = AppTest.from_file(APP, default_timeout=timeout).run()
        at.switch_page(f"pages/{page}.py").run()
        assert not at.exception, [e.value for e in at.exception]
        return at

    return open_


def finish_jobs(at: AppTest, timeout: float = 120) -> AppTest:
    """Wait for the page's worker-thread jobs (matching, commits) to end, then run the page
    again, as the progress fragment does in a browser, so that it shows their outcome."""
    import pages.shared.ui as workbench_ui

    for job in list(workbench_ui._jobs().values()):
        assert job.done.wait(timeout), f"job {job.label!r} still running after {timeout} s"
    return at.run()


@pytest.fixture
def empty_workspace(tmp_path: Path) -> Path:
    """A new workspace file with nothing loaded."""
    path = tmp_path / "empty.duckdb"
    Workspace.open(path).close()
    return path
