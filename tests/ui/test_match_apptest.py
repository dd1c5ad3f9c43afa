"""The Match page under AppTest: run matching, page through the queue, decide in bulk."""

from __future__ import annotations

from pathlib import Path

import pytest
import streamlit as st

from erpdata import build_demo
from erpdata.workspace import Workspace


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
    st.cache_resource.clear()  # let the test read the file the app wrote
    links = _count(path, "SELECT count(*) FROM suggestions WHERE kind = 'company' AND link")
    assert links > 50
    assert at.success[0].value.startswith(f"{links:,} suggested links")
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
    assert at.success[0].value == f"Accepted {auto:,} pair(s)."
    assert _count(path, "SELECT count(*) FROM decisions WHERE decision = 'accept' "
                        "AND decided_by = 'tester'") == auto


def test_empty_workspace_says_to_run_matching(empty_workspace: Path, open_page) -> None:
    at = open_page(empty_workspace, "match")
    assert "No suggested links" in at.info[0].value
    at.button(key="run_match").click().run()
    assert not at.exception
    assert "nothing to match" in at.error[0].value
