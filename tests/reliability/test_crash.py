"""Crash safety: commit, undo and sync run in a child process that is SIGKILLed at a random
moment (seeded); the workspace then reopens sound (``erpdata check``), holds the batch whole or
not at all, and finishing the work gives every effect exactly once.

``ERPDATA_CRASH_TRIALS`` sets the trials per operation (default 12 here, 50 for the full run
documented in docs/RELIABILITY.md)."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from erpdata.check import check
from erpdata.commit import commit, undo
from erpdata.connectors.files import FilesConnector, FilesCrmConnector
from erpdata.decisions import Filter, decide_bulk
from erpdata.demo import build_demo
from erpdata.matching import match_workspace
from erpdata.sync import sync
from erpdata.workspace import Workspace

TRIALS = int(os.environ.get("ERPDATA_CRASH_TRIALS", "12"))
ROOT = Path(__file__).resolve().parents[2]

CHILD = """
import sys, time
from pathlib import Path
from erpdata.workspace import Workspace
ws = Workspace.open(sys.argv[1])
op = sys.argv[2]
print("ready", flush=True)
if op == "commit":
    from erpdata.commit import commit
    commit(ws, user="crash")
elif op == "undo":
    from erpdata.commit import undo
    undo(ws, int(sys.argv[3]), user="crash")
else:
    from erpdata.connectors.files import FilesConnector, FilesCrmConnector
    from erpdata.sync import sync
    folder = Path(sys.argv[3])
    sync(ws, erp=FilesConnector(folder), crm=FilesCrmConnector(folder), chunk=10)
print("done", flush=True)
ws.close()
"""


@pytest.fixture(scope="module")
def accepted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A demo workspace, matched, with the auto band accepted (a batch of ~250 links)."""
    path = tmp_path_factory.mktemp("crash") / "base.duckdb"
    with Workspace.open(path) as ws:
        build_demo(ws, size=300, seed=3)
        match_workspace(ws, "company")
        decide_bulk(ws, "accept", Filter(kind="company", band="auto"))
    return path


def _copy(src: Path, dst: Path) -> Path:
    shutil.copy(src, dst)
    wal = src.with_name(src.name + ".wal")
    if wal.exists():
        shutil.copy(wal, dst.with_name(dst.name + ".wal"))
    return dst


def _run_and_kill(args: list[str], delay: float) -> bool:
    """Run the child; SIGKILL it ``delay`` s after it is ready. True if it finished first."""
    child = subprocess.Popen([sys.executable, "-c", CHILD, *args], cwd=ROOT,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "ready", child.stderr.read()
    time.sleep(delay)
    finished = child.poll() is not None
    if not finished:
        child.send_signal(signal.SIGKILL)
    child.wait(timeout=60)
    return finished


def _timed(op: Callable[[], object]) -> float:
    t = time.perf_counter()
    op()
    return time.perf_counter() - t


def _links(ws: Workspace) -> int:
    return int(ws.con.execute("SELECT count(*) FROM links").fetchone()[0])


def test_a_killed_commit_leaves_the_batch_whole_or_absent(accepted: Path,
                                                          tmp_path: Path) -> None:
    with Workspace.open(_copy(accepted, tmp_path / "timing.duckdb")) as ws:
        seconds = _timed(lambda: commit(ws))
        expected = _links(ws)
    rng = random.Random(7)
    outcomes = {"finished": 0, "absent": 0, "whole": 0}
    for trial in range(TRIALS):
        path = _copy(accepted, tmp_path / f"c{trial}.duckdb")
        finished = _run_and_kill([str(path), "commit"], rng.uniform(0, seconds * 1.5))
        with Workspace.open(path) as ws:
            assert check(ws) == [], trial
            links = _links(ws)
            assert links in (0, expected), (trial, links)
            outcomes["finished" if finished else "whole" if links else "absent"] += 1
            commit(ws)  # finishing the work
            assert _links(ws) == expected and check(ws) == []
            assert ws.con.execute("SELECT count(*) FROM batches").fetchone() == (1,)
        path.unlink()
    assert outcomes["absent"] + outcomes["whole"] > 0, outcomes  # some kills landed
    print(f"\ncommit: {TRIALS} trials (kill before the end: {outcomes}); links lost 0, "
          "batches half-applied 0")


def test_a_killed_undo_leaves_the_batch_committed_or_undone(accepted: Path,
                                                            tmp_path: Path) -> None:
    base = _copy(accepted, tmp_path / "committed.duckdb")
    with Workspace.open(base) as ws:
        batch = commit(ws).batch_id or 0
        expected = _links(ws)
    with Workspace.open(_copy(base, tmp_path / "timing.duckdb")) as ws:
        seconds = _timed(lambda: undo(ws, batch))
    rng = random.Random(11)
    seen = {"committed": 0, "undone": 0}
    for trial in range(TRIALS):
        path = _copy(base, tmp_path / f"u{trial}.duckdb")
        _run_and_kill([str(path), "undo", str(batch)], rng.uniform(0, seconds * 1.5))
        with Workspace.open(path) as ws:
            assert check(ws) == [], trial
            status = ws.con.execute("SELECT status FROM batches WHERE batch_id = ?",
                                    [batch]).fetchone()[0]
            assert (status, _links(ws)) in (("committed", expected), ("undone", 0)), trial
            seen[status] += 1
            if status == "committed":
                undo(ws, batch)
            assert _links(ws) == 0 and check(ws) == []
        path.unlink()
    print(f"\nundo: {TRIALS} trials, found after the kill: {seen}; half-undone 0")


def test_a_killed_sync_resumes_with_every_action_once(accepted: Path, tmp_path: Path) -> None:
    base = _copy(accepted, tmp_path / "committed.duckdb")
    with Workspace.open(base) as ws:
        commit(ws)
        (actions,) = ws.con.execute("SELECT count(*) FROM actions").fetchone() or (0,)
        export = ws.path.with_name("exports")
        export.mkdir()
    demo_erp = next(accepted.parent.glob("*.demo/erp_company.csv"), None)
    assert demo_erp is not None
    folder = tmp_path / "timing"
    folder.mkdir()
    shutil.copy(demo_erp, folder / "erp_company.csv")
    with Workspace.open(_copy(base, tmp_path / "timing.duckdb")) as ws:
        seconds = _timed(lambda: sync(ws, erp=FilesConnector(folder),
                                      crm=FilesCrmConnector(folder), chunk=10))
    rng = random.Random(13)
    resent = 0
    for trial in range(TRIALS):
        folder = tmp_path / f"s{trial}"
        folder.mkdir()
        shutil.copy(demo_erp, folder / "erp_company.csv")
        path = _copy(base, tmp_path / f"s{trial}.duckdb")
        _run_and_kill([str(path), "sync", str(folder)], rng.uniform(0, seconds * 1.5))
        with Workspace.open(path) as ws:
            assert check(ws) == [], trial
            (running,) = ws.con.execute("SELECT count(*) FROM actions WHERE status = "
                                        "'running'").fetchone() or (0,)
            resent += running
            sync(ws, erp=FilesConnector(folder), crm=FilesCrmConnector(folder), chunk=10)
            assert ws.con.execute("SELECT status, count(*) FROM actions GROUP BY ALL"
                                  ).fetchall() == [("ok", actions)], trial
            assert check(ws) == []
        links_csv = (folder / "outbox" / "links.csv").read_text(encoding="utf-8").splitlines()
        assert len(links_csv) - 1 == len({tuple(r.split(",")[1:]) for r in links_csv[1:]})
        path.unlink()
    print(f"\nsync: {TRIALS} trials of {actions} actions; {resent} interrupted action(s) sent "
          "again; every action ok once, no change written twice")
