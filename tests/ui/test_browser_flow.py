"""The steward's whole flow in a REAL browser (Chromium through Playwright): upload an export,
match, accept the auto band in bulk, review one pair and pick the ERP value of a field, commit,
download the link report. Saves a screenshot of each page to ``docs/screenshots/``."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest

from erpdata import Workspace, load_file
from erpdata.demo import LOAD_ORDER, write_exports
from tests.ui.test_browser import ROOT, browser_page, workbench  # noqa: F401 (fixtures)

pytestmark = pytest.mark.browser
SHOTS = ROOT / "docs" / "screenshots"


def _idle(page) -> None:
    """Wait until the app has finished its script run (Streamlit shows a running indicator),
    so that the next action meets the page as drawn, not an element about to be replaced."""
    page.wait_for_timeout(200)
    page.get_by_test_id("stStatusWidget").wait_for(state="hidden", timeout=60_000)


def _shot(page, name: str) -> None:
    """Screenshot the page once its tables have drawn (a data grid paints into a canvas after
    its frame appears)."""
    for grid in page.get_by_test_id("stDataFrame").all():
        grid.locator("canvas").first.wait_for()
    page.wait_for_load_state("networkidle")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=False)


def test_the_stewards_flow_in_a_browser(workbench, browser_page, tmp_path: Path) -> None:  # noqa: F811
    from playwright.sync_api import expect

    expect.set_options(timeout=30_000)  # a busy 2-core CI machine draws slowly
    path = tmp_path / "flow.duckdb"
    demo = write_exports(tmp_path / "exports", size=150, seed=9)
    with Workspace.open(path) as ws:  # everything but the ERP projects, which the browser loads
        for side, kind in LOAD_ORDER[:-1]:
            load_file(ws, demo.files[(side, kind)], side=side, kind=kind)
    page = browser_page
    url = workbench(path)
    page.goto(url)
    expect(page.get_by_role("heading", name="Overview")).to_be_visible(timeout=60_000)
    _shot(page, "overview")

    page.goto(url + "/load")
    expect(page.get_by_role("heading", name="Load")).to_be_visible()
    main = page.get_by_test_id("stMain")
    main.get_by_text("ERP", exact=True).click()
    _idle(page)
    main.get_by_text("Projects", exact=True).click()
    _idle(page)
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(
        str(demo.files[("erp", "project")]))
    load = page.get_by_role("button", name="Load into ERP projects")
    expect(load).to_be_visible()
    _shot(page, "load")
    load.click()
    projects = demo.rows[("erp", "project")]
    expect(page.get_by_text(re.compile(rf"erp_project.csv: {projects} rows → erp project: "
                                       rf"{projects} new"))).to_be_visible(timeout=60_000)

    page.goto(url + "/match")
    expect(page.get_by_role("heading", name="Match")).to_be_visible()
    page.get_by_role("button", name="Run matching").click()
    expect(page.get_by_text(re.compile(r"suggested links; thresholds"))).to_be_visible(
        timeout=120_000)
    page.get_by_test_id("stSelectbox").filter(has_text="Band").click()
    page.get_by_role("option", name="auto", exact=True).click()
    page.get_by_role("button", name="Accept the filtered links…").click()
    confirm = page.get_by_role("button", name=re.compile(r"^Accept \d+ pair\(s\)$"))
    expect(confirm).to_be_visible()
    accepted = int(re.search(r"\d+", confirm.inner_text()).group())
    _shot(page, "match")
    confirm.click()
    expect(page.get_by_text(f"Accepted {accepted} pair(s).")).to_be_visible()

    page.goto(url + "/review")
    expect(page.get_by_role("heading", name="Review")).to_be_visible()
    page.get_by_text("Pick one field on its own, or type a value").click()
    page.get_by_text("ERP value").first.click()
    page.get_by_role("button", name="Store").click()
    expect(page.get_by_text(re.compile(r": ERP value kept$"))).to_be_visible()  # stored
    expect(page.get_by_text("Why this score")).to_be_visible()
    _shot(page, "review")
    page.get_by_role("button", name=re.compile(r"^Accept")).first.click()
    expect(page.get_by_text(re.compile(r"^Accept: "))).to_be_visible()

    page.goto(url + "/commit")
    expect(page.get_by_text("Sample of the actions")).to_be_visible(timeout=60_000)
    _shot(page, "commit")
    page.get_by_role("button", name=re.compile(r"^Commit \d+ decision")).click()
    expect(page.get_by_text(re.compile(rf"Batch 1 committed: {accepted + 1} link"))).to_be_visible()

    page.goto(url + "/reports")
    expect(page.get_by_role("heading", name="Reports")).to_be_visible()
    page.get_by_role("button", name="Build the CSV report").click()
    with page.expect_download() as download:
        page.get_by_role("button", name="Download links.csv").click()
    _shot(page, "reports")
    # for spreadsheets: a BOM, and semicolons for the demo's Norwegian companies
    text = Path(download.value.path()).read_text(encoding="utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text), delimiter=";"))
    assert len(rows) == accepted + 1
    assert {r["committed_by"] for r in rows} == {"browser-tester"}
    workbench.stop()  # one process may hold the workspace file
    with Workspace.open(path) as ws:
        assert ws.con.execute("SELECT count(*), min(loaded_by) FROM erp_project e JOIN loads l "
                              "ON l.load_id = e.load_id").fetchone() == (projects,
                                                                         "browser-tester")
        assert ws.con.execute("SELECT count(*), min(linked_by) FROM links").fetchone() == (
            accepted + 1, "browser-tester")
        assert ws.con.execute("SELECT choice, picked_by FROM picks").fetchall() == [
            ("erp", "browser-tester")]
