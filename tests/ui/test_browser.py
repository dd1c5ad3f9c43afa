"""The workbench in a REAL browser: ``streamlit run`` as a subprocess, driven by Debian's Chromium
through the Python ``playwright`` package (never ``playwright install``: no browser download).

Run only these with ``pytest -m browser``. Chromium missing is a failure, not a skip: a skipped
browser test in CI would hide a UI that no longer renders.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
STARTUP_SECONDS = 90


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _log_tail(log: Path, lines: int = 40) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop the server and everything it started (its own process group)."""
    if proc.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue


def _wait_until_serving(proc: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"streamlit exited with {proc.returncode}:\n{_log_tail(log)}")
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    pytest.fail(f"streamlit did not answer on {url} within {STARTUP_SECONDS} s:\n{_log_tail(log)}")


@pytest.fixture
def workbench(tmp_path: Path) -> Iterator[Callable[..., str]]:
    """``workbench(workspace_path, **env)``: start the workbench on it; returns its URL.
    ``workbench.stop()`` stops it before the test ends."""
    started: list[subprocess.Popen[bytes]] = []

    def start(workspace: Path, **env: str) -> str:
        port = free_port()
        log = tmp_path / f"streamlit-{port}.log"
        proc_env = {**os.environ, "ERPDATA_WORKSPACE": str(workspace),
                    "ERPDATA_USER": "browser-tester", **env}
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "streamlit", "run", "workbench.py",
                 "--server.headless", "true", "--server.port", str(port),
                 "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
                 "--server.fileWatcherType", "none"],
                cwd=ROOT, env=proc_env, stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )
        started.append(proc)
        url = f"http://127.0.0.1:{port}"
        _wait_until_serving(proc, url, log)
        return url

    def stop() -> None:
        """Stop every workbench started (so that the test can open the workspace itself)."""
        while started:
            _stop(started.pop())

    start.stop = stop  # type: ignore[attr-defined]
    yield start
    stop()


@pytest.fixture
def browser_page() -> Iterator[object]:
    """A Chromium page at 1400x900 (Debian's chromium; fails, never skips, when missing)."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} not found: install Debian's chromium: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.set_default_timeout(30_000)
            yield page
        finally:
            browser.close()


def table_rows(page) -> list[list[str]]:
    """The Records table as text, header row first."""
    table = page.get_by_test_id("stTable").first.locator("table")
    table.wait_for()
    return [[c.strip() for c in row.locator("th, td").all_inner_texts()]
            for row in table.locator("tr").all()]


def test_overview_shows_the_exact_counts(workbench, browser_page, small_workspace: Path) -> None:
    from playwright.sync_api import expect

    page = browser_page
    page.goto(workbench(small_workspace))
    expect(page.get_by_role("heading", name="Overview")).to_be_visible(timeout=60_000)

    metrics = page.get_by_test_id("stMetric")
    expect(metrics).to_have_count(3)
    assert [" ".join(m.split()) for m in metrics.all_inner_texts()] == [
        "Companies linked 40.0 %", "Persons linked 25.0 %", "Projects linked 0.0 %"]

    assert table_rows(page) == [
        ["Kind", "CRM", "ERP", "Linked", "Linked share", "Missing in CRM", "Missing in ERP"],
        ["Companies", "5", "7", "2", "40.0 %", "1", "0"],
        ["Persons", "4", "3", "1", "25.0 %", "0", "0"],
        ["Projects", "2", "1", "0", "0.0 %", "0", "0"],
    ]
    expect(page.get_by_text("1 record(s) were not in the latest export")).to_be_visible()

    sidebar = page.get_by_test_id("stSidebar")
    expect(sidebar).to_contain_text(str(small_workspace.resolve()))
    expect(sidebar).to_contain_text("browser-tester")
    for text in ("Companies: 2 of 5 (40.0 %)", "Persons: 1 of 4 (25.0 %)",
                 "Projects: 0 of 2 (0.0 %)", "Records: CRM 11 · ERP 11"):
        expect(sidebar).to_contain_text(text)
    assert page.title() == "erpdata workbench"


def test_first_start_builds_the_demo_workspace(workbench, browser_page, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    from erpdata.demo import build_demo

    path = tmp_path / "fresh" / "workspace.duckdb"
    page = browser_page
    page.goto(workbench(path, ERPDATA_DEMO_SIZE="30"))
    expect(page.get_by_role("heading", name="Overview")).to_be_visible(timeout=120_000)
    assert path.exists()

    # The server holds the file; the demo is deterministic, so build the reference elsewhere.
    counts = build_demo(tmp_path / "reference.duckdb", size=30).counts
    assert counts["crm"]["company"] > 0 and counts["erp"]["company"] > 0
    kinds = ("company", "person", "project")
    rows = table_rows(page)
    assert [r[1] for r in rows[1:]] == [f"{counts['crm'][k]:,}" for k in kinds]
    assert [r[2] for r in rows[1:]] == [f"{counts['erp'][k]:,}" for k in kinds]
