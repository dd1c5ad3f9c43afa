"""Concurrent stewards: two sessions deciding on the same pairs keep every decision and never
link a record twice; a second program opening a workspace in use is told who holds it."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from erpdata.check import check
from erpdata.commit import commit
from erpdata.decisions import DecisionError, current_decision, decide, withdraw
from erpdata.demo import build_demo
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


def test_a_decision_on_a_record_decided_since_is_refused(companies_ws: Workspace) -> None:
    """``seen``: a steward's click on a record a colleague decided on since the page was drawn
    is refused with who did what, and the colleague's decision stands."""
    ws = companies_ws
    match_workspace(ws, "company")
    shown = current_decision(ws, "company", "1")
    assert shown is None
    kari = decide(ws, "company", "accept", "1", "supplier:L1", user="kari", seen=shown)
    with pytest.raises(DecisionError) as err:
        decide(ws, "company", "reject", "1", "supplier:L1", user="ola", seen=shown)
    at = ws.con.execute("SELECT decided_at FROM decisions WHERE decision_id = ?",
                        [kari]).fetchone()[0]
    assert str(err.value) == (
        f"kari decided on CRM company '1' at {at:%H:%M:%S}, after your page showed it (accept "
        "of supplier:L1): your reject was not stored. Look at the record again, and decide "
        "again if you still disagree")
    assert current_decision(ws, "company", "1") == kari
    withdraw(ws, kari, user="kari")  # taken back: Ola's page, drawn before, is out of date too
    with pytest.raises(DecisionError, match="was taken back after your page showed it"):
        decide(ws, "company", "reject", "1", "supplier:L1", user="ola", seen=kari)
    ola = decide(ws, "company", "reject", "1", "supplier:L1", user="ola", seen=None)
    assert ws.con.execute("SELECT decision_id, decided_by, decision, superseded_by FROM "
                          "decisions ORDER BY 1").fetchall() == [
        (kari, "kari", "accept", kari), (ola, "ola", "reject", None)]


def test_two_review_sessions_on_the_same_pair(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Two stewards' browser sessions (AppTest, one workbench process as in production) show
    the same first pair of the Review queue. Kari accepts, then Ola, whose page still shows the
    pair, rejects it: Ola is told Kari decided it, Kari's accept stands, nothing is linked
    twice, and both go on with the next pair. Then both accept the next pair at once."""
    path = tmp_path / "two.duckdb"
    with Workspace.open(path) as ws:
        build_demo(ws, size=120, seed=5)
        match_workspace(ws, "company")
    monkeypatch.setenv("ERPDATA_WORKSPACE", str(path))
    st.cache_resource.clear()

    def run(at: AppTest, user: str) -> AppTest:
        monkeypatch.setenv("ERPDATA_USER", user)
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        return at

    def session(user: str) -> AppTest:
        at = run(AppTest.from_file(str(ROOT / "workbench.py"), default_timeout=120), user)
        at.switch_page("pages/review.py")
        return run(at, user)

    try:
        kari, ola = session("kari"), session("ola")
        first = kari.caption[0].value
        assert ola.caption[0].value == first
        crm_id, erp = first.split()[2], ":".join(first.split()[5:7])  # "ERP customer 100066"
        kari.button(key="review_accept").click()
        run(kari, "kari")
        ola.button(key="review_reject").click()
        run(ola, "ola")
        assert [e.value for e in ola.error] == [_message(path, crm_id, "reject")]
        assert ola.caption[0].value != first and kari.caption[0].value != first
        # the next pair, on both screens, accepted by both
        second = kari.caption[0].value
        run(ola, "ola")
        assert ola.caption[0].value == second
        kari.button(key="review_accept").click()
        ola.button(key="review_accept").click()
        run(kari, "kari")
        run(ola, "ola")
        assert len(ola.error) == 1 and "after your page showed it (accept of" in ola.error[0].value
    finally:
        st.cache_resource.clear()
    with Workspace.open(path) as ws:
        assert ws.con.execute(
            "SELECT crm_id, erp_actor_type || ':' || erp_id, decision, decided_by FROM decisions"
            " WHERE superseded_by IS NULL ORDER BY decision_id").fetchall() == [
            (crm_id, erp, "accept", "kari"), (second.split()[2], ":".join(second.split()[5:7]),
                                              "accept", "kari")]
        commit(ws, user="kari")
        assert check(ws) == []


def _message(path: Path, crm_id: str, decision: str) -> str:
    """The message Ola must get for a ``decision`` on ``crm_id`` after Kari's accept."""
    with Workspace.open(path) as ws:
        by, at, a_type, erp_id = ws.con.execute(
            "SELECT decided_by, decided_at, erp_actor_type, erp_id FROM decisions "
            "WHERE crm_id = ? AND superseded_by IS NULL", [crm_id]).fetchone()
    return (f"{by} decided on CRM company {crm_id!r} at {at:%H:%M:%S}, after your page showed "
            f"it (accept of {a_type}:{erp_id}): your {decision} was not stored. Look at the "
            "record again, and decide again if you still disagree")
