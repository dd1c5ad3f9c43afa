"""Concurrent stewards: two sessions deciding on the same pairs keep every decision and never
link a record twice; a second program opening a workspace in use is told who holds it; reads
never wait for a long write; a job's workspace outlives the cache dropping it; sessions sharing
one live-system connector take turns."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import suppress
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import duckdb
import pandas as pd
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from erpdata.check import check
from erpdata.demo import build_demo
from erpdata.errors import WorkspaceError
from erpdata.live.connections import ConnectorBusy, serialised
from erpdata.live.connectors.tryton import TrytonConnector
from erpdata.matching import match_workspace
from erpdata.steward.commit import commit
from erpdata.steward.decisions import (
    DecisionError,
    Filter,
    current_decision,
    decide,
    queue_page,
    withdraw,
)
from erpdata.steward.reports import build_reports
from erpdata.steward.search import search
from erpdata.workspace import Workspace
from pages.shared import ui

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


# --- reads never wait for a write; a job's workspace; a shared connector -------------------


def test_reads_return_at_once_while_a_long_write_runs(companies_ws: Workspace,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Kari's long commit holds the write lock; meanwhile Ola's report, queue page, search
    and counts return at once, and show what was committed, not Kari's half-done write."""
    monkeypatch.setenv("ERPDATA_LOCK_TIMEOUT", "5")
    ws = companies_ws
    match_workspace(ws, "company")

    def reads() -> tuple[Any, ...]:
        return (build_reports(ws), queue_page(ws, Filter(kind="company")).rows,
                search(ws, "Berg Bygg").rows, ws.counts())

    before = reads()
    held, end = threading.Event(), threading.Event()

    def kari() -> None:
        cur = ws.cursor()
        with suppress(RuntimeError), ws.transaction(cur, user="kari", what="committing"):
            cur.execute("DELETE FROM suggestions")
            cur.execute("DELETE FROM erp_company")
            held.set()
            end.wait(10)
            raise RuntimeError("rolled back")  # nothing of it is ever seen

    writer = threading.Thread(target=kari)
    writer.start()
    assert held.wait(10)
    try:
        started = time.monotonic()
        during = reads()
        took = time.monotonic() - started
    finally:
        end.set()
        writer.join()
    assert took < 1, took
    assert len(before[1]) == 2 and len(before[2]) == 2
    for seen, committed in zip(during[:3], before[:3], strict=True):
        frames = seen.values() if isinstance(seen, dict) else [seen]
        for got, want in zip(frames, committed.values() if isinstance(committed, dict)
                             else [committed], strict=True):
            pd.testing.assert_frame_equal(got, want)
    assert during[3] == before[3]


def test_a_jobs_workspace_survives_the_cache_dropping_it(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """A job works on the cached workspace; the cache is cleared meanwhile (as Streamlit does
    on a "Clear cache", or when the file is replaced): the job's reads and its write still
    work, and the workspace is closed when the job ends, not before."""
    monkeypatch.setenv("ERPDATA_WORKSPACE", str(tmp_path / "job.duckdb"))
    st.cache_resource.clear()
    go = threading.Event()
    ws = ui.workspace()

    def work(progress: Any, cancel: threading.Event) -> str:
        assert go.wait(10)
        with ws.transaction(user="kari") as tx:
            ws.set_meta("job", "wrote", tx)
        return ws.get_meta("job") or ""

    try:
        job = ui.start_job("survive", "Testing", work, "kari")
        assert ws.holders == 1
        st.cache_resource.clear()  # the cache lets go of the workspace while the job runs
        assert ws.closed
        go.set()
        assert job.done.wait(10)
        assert (job.error, job.result) == (None, "wrote")
        assert ws.holders == 0
        with pytest.raises(duckdb.ConnectionException):  # closed with the job's end
            ws.con.execute("SELECT 1")
        fresh = ui.workspace()  # the next script run opens it again, the job's write kept
        assert fresh is not ws and fresh.get_meta("job") == "wrote"
    finally:
        st.cache_resource.clear()


class _OverlapServer:
    """A Tryton-like JSON-RPC server on 127.0.0.1 that records how many requests it serves at
    once (each takes 30 ms), and answers every request with that request's own id."""

    RESULTS: ClassVar[dict[str, Any]] = {
        "common.server.version": "8.2", "common.db.list": ["erp"],
        "common.db.login": [1, "key"], "model.res.user.get_preferences": {"company": 1},
    }

    def __init__(self) -> None:
        self.now = self.most = self.served = 0
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with outer.lock:
                    outer.now += 1
                    outer.most = max(outer.most, outer.now)
                time.sleep(0.03)
                with outer.lock:
                    outer.now -= 1
                    outer.served += 1
                result = outer.RESULTS.get(body["method"], [{"id": 7, "name": "x"}])
                data = json.dumps({"id": body["id"], "result": result}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}"
        threading.Thread(target=self.http.serve_forever, daemon=True).start()


@pytest.fixture
def overlap_server() -> Iterator[_OverlapServer]:
    server = _OverlapServer()
    yield server
    server.http.shutdown()
    server.http.server_close()


def _two_sessions(connector: TrytonConnector) -> list[str]:
    """Two sessions' threads test the one shared connector three times each, at once."""
    barrier = threading.Barrier(2)
    answers: list[str] = []

    def session() -> None:
        barrier.wait()
        for _ in range(3):
            answer = connector.test_connection()
            answers.append(answer.state if answer.ok else answer.user_explanation)

    threads = [threading.Thread(target=session) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return answers


def test_two_sessions_sharing_a_connector_take_turns(overlap_server: _OverlapServer) -> None:
    """The workbench's one connector per connection, used by two sessions at once: the
    server never sees two of its requests at the same time, and every answer is its own
    (the connector's login and request counter are not interleaved)."""
    shared = serialised(TrytonConnector(overlap_server.url, "erp", "admin", "pw"), "tryton")
    assert isinstance(shared, TrytonConnector)
    assert _two_sessions(shared) == ["ok"] * 6
    # each test: version, databases, login, preferences; the first also looks up the 4 ids
    # of the categories and relation types (customer, supplier, employee, employer)
    assert (overlap_server.most, overlap_server.served) == (1, 6 * 4 + 4)


def test_a_call_on_a_busy_connector_gives_up_naming_the_call(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A call kept waiting longer than the lock timeout by another session's long call says
    which call holds the connection, and since when."""
    monkeypatch.setenv("ERPDATA_LOCK_TIMEOUT", "0.2")
    inside, end = threading.Event(), threading.Event()

    class Slow:
        def records(self, kind: str) -> str:
            inside.set()
            end.wait(10)
            return kind

        def test_connection(self) -> str:
            return "good"

    shared = serialised(Slow(), "superoffice")
    pulling = threading.Thread(target=shared.records, args=("company",))
    pulling.start()
    assert inside.wait(10)
    since = datetime.now()
    try:
        with pytest.raises(ConnectorBusy) as err:
            shared.test_connection()
    finally:
        end.set()
        pulling.join()
    assert str(err.value) in {
        f"connection 'superoffice' is busy: records runs since {t:%H:%M:%S}; try again when "
        "it is done" for t in (since, datetime.fromtimestamp(since.timestamp() - 1))}
    assert shared.test_connection() == "good"

