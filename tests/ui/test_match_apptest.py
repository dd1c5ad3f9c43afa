"""The Match page under AppTest: run matching, page through the queue, decide in bulk."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from erpdata import build_demo
from erpdata.workspace import Workspace
from tests.ui.conftest import finish_jobs


@pytest.fixture(scope="module")
def demo_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("match") / "demo.duckdb"
    build_demo(path, size=300, seed=11)
    return path


def _count(path: Path, sql: str) -> int:
    with Workspace.open(path) as ws:
        (n,) = ws.con.execute(sql).fetchone() or (0,)
    return int(n)


def test_run_page_and_decide_in_bulk(demo_path: Path, open_page, tmp_path: Path) -> None:
    path = tmp_path / "work.duckdb"
    path.write_bytes(demo_path.read_bytes())
    at = open_page(path, "match")
    assert at.title[0].value == "Match"
    assert "No suggested links" in at.info[0].value

    at.button(key="run_match").click().run()
    assert not at.exception
    finish_jobs(at)
    links = _count(path, "SELECT count(*) FROM suggestions WHERE kind = 'company' AND link")
    assert links > 50
    assert at.success[0].value.startswith(f"Last run (by tester): Companies: {links:,} "
                                          "suggested links")
    assert len(at.dataframe[0].value) == 50
    assert any(c.value == f"undecided: {links:,}" for c in at.caption)

    at.button(key="match_next").click().run()
    assert not at.exception
    assert len(at.dataframe[0].value) == min(50, links - 50)
    assert any(c.value.startswith("Page 2") for c in at.caption)

    at.selectbox(key="match_band").set_value("auto").run()
    at.button(key="match_accept").click().run()
    auto = _count(path, "SELECT count(*) FROM suggestions WHERE kind = 'company' AND link "
                        "AND band = 'auto'")
    assert any(f"This will **accept** {auto:,} pair(s)" in m.value for m in at.markdown)
    assert _count(path, "SELECT count(*) FROM decisions") == 0  # the count comes first
    at.button(key="match_confirm").click().run()
    assert not at.exception
    assert at.success[-1].value == f"Accepted {auto:,} pair(s)."
    assert _count(path, "SELECT count(*) FROM decisions WHERE decision = 'accept' "
                        "AND decided_by = 'tester'") == auto


def test_empty_workspace_says_to_run_matching(empty_workspace: Path, open_page) -> None:
    at = open_page(empty_workspace, "match")
    assert "No suggested links" in at.info[0].value
    at.button(key="run_match").click().run()
    finish_jobs(at)
    assert not at.exception
    assert "nothing to match" in at.error[0].value


def test_a_running_match_can_be_cancelled(demo_path: Path, open_page, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    import erpdata.matching.workspace as mw
    import workbench_ui

    path = tmp_path / "work.duckdb"
    path.write_bytes(demo_path.read_bytes())
    release = threading.Event()
    real = mw._frames

    def slow(*args: object, **kwargs: object) -> object:  # holds the run at its first step
        release.wait(60)
        return real(*args, **kwargs)

    monkeypatch.setattr(mw, "_frames", slow)
    at = open_page(path, "match")
    at.button(key="run_match").click().run()
    job = workbench_ui.job("match")
    assert job is not None and job.running
    assert at.button(key="run_match").disabled
    assert at.button(key="cancel_match").label == "Cancel"
    at.button(key="cancel_match").click().run()
    release.set()
    finish_jobs(at)
    assert at.info[0].value == ("matching company was cancelled while normalising new and "
                                "changed records; nothing of it was written")
    assert _count(path, "SELECT count(*) FROM suggestions") == 0
    assert _count(path, "SELECT count(*) FROM match_runs WHERE status = 'cancelled'") == 1
