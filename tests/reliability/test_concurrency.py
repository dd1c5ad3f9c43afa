"""Concurrent stewards: two sessions deciding on the same pairs keep every decision and never
link a record twice; a second program opening a workspace in use is told who holds it."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest

from erpdata.check import check
from erpdata.commit import commit
from erpdata.decisions import DecisionError, decide, withdraw
from erpdata.errors import WorkspaceError
from erpdata.matching import match_workspace
from erpdata.workspace import Workspace

ROOT = Path(__file__).resolve().parents[2]


def test_a_second_program_is_told_who_holds_the_workspace(tmp_path: Path) -> None:
    path = tmp_path / "busy.duckdb"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from erpdata.workspace import Workspace; "
         "ws = Workspace.open(sys.argv[1]); print('open', flush=True); time.sleep(60)",
         str(path)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
        with pytest.raises(WorkspaceError) as err:
            Workspace.open(path)
        message = str(err.value)
        assert message.startswith(f"workspace {path} is in use by python")
        assert message.endswith(f"(PID {holder.pid}), a running workbench or command: only one "
                                "program may write a workspace at a time. Stop it, or work on "
                                "a copy")
    finally:
        holder.kill()
        holder.wait()


def test_two_stewards_accepting_at_once_keep_one_to_one(companies_ws: Workspace) -> None:
    """Kari and Ola, in two threads of one workbench process (two sessions), accept competing
    pairs at the same moment, many times over: every decision that was taken is stored, and
    the later conflicting one is refused with a message that names the other pair."""
    ws = companies_ws
    match_workspace(ws, "company")
    errors: list[str] = []
    barrier = threading.Barrier(2)

    def steward(user: str, crm_id: str) -> None:
        barrier.wait()
        try:
            decide(ws, "company", "accept", crm_id, "customer:K1", user=user)
        except DecisionError as exc:
            errors.append(str(exc))
        except Exception as exc:  # a write-write conflict of the database: must not leak
            errors.append(f"UNEXPECTED {type(exc).__name__}: {exc}")

    for _ in range(10):
        threads = [threading.Thread(target=steward, args=("kari", "2")),
                   threading.Thread(target=steward, args=("ola", "3"))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        accepted = ws.con.execute(
            "SELECT decision_id FROM decisions WHERE decision = 'accept' AND superseded_by IS "
            "NULL AND erp_id = 'K1'").fetchall()
        assert len(accepted) == 1, accepted  # never two records on one ERP record
        withdraw(ws, accepted[0][0])  # the next round starts clean
    assert not [e for e in errors if e.startswith("UNEXPECTED")], errors
    assert len(errors) == 10 and all("is already accepted to CRM company" in e for e in errors)
    decide(ws, "company", "accept", "2", "customer:K1", user="kari")
    commit(ws)
    assert check(ws) == []


def test_nothing_is_lost_when_two_sessions_write(companies_ws: Workspace) -> None:
    """Two sessions decide on different pairs at once: both decisions are stored."""
    ws = companies_ws
    match_workspace(ws, "company")
    barrier = threading.Barrier(2)
    done: list[int] = []

    def steward(user: str, crm_id: str, erp: str) -> None:
        barrier.wait()
        done.append(decide(ws, "company", "reject", crm_id, erp, user=user))

    threads = [threading.Thread(target=steward, args=("kari", "1", "supplier:L1")),
               threading.Thread(target=steward, args=("ola", "4", "customer:K9"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(ws.con.execute("SELECT crm_id, decided_by FROM decisions").fetchall()) == [
        ("1", "kari"), ("4", "ola")]
