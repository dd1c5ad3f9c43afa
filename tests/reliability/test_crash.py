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
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from erpdata.check import check
from erpdata.demo import build_demo
from erpdata.ingest.load import load_file
from erpdata.live.connectors.base import ErpActor
from erpdata.live.connectors.folders import FilesConnector, FilesCrmConnector
from erpdata.live.connectors.tryton import CRM_PREFIX, TrytonConnector
from erpdata.live.sync import sync
from erpdata.matching import match_workspace
from erpdata.steward.commit import commit, undo
from erpdata.steward.decisions import Filter, decide, decide_bulk
from erpdata.workspace import Workspace
from tests.tryton_server import RawTryton, TrytonServer

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
    from erpdata.steward.commit import commit
    commit(ws, user="crash")
elif op == "undo":
    from erpdata.steward.commit import undo
    undo(ws, int(sys.argv[3]), user="crash")
else:
    from erpdata.live.connectors.folders import FilesConnector, FilesCrmConnector
    from erpdata.live.sync import sync
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


def _run_and_kill(args: list[str], delay: float, *, code: str = CHILD,
                  env: dict[str, str] | None = None) -> bool:
    """Run the child; SIGKILL it ``delay`` s after it is ready. True if it finished first."""
    child = subprocess.Popen([sys.executable, "-c", code, *args], cwd=ROOT, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "ready", child.stderr.read()
    try:
        child.wait(timeout=delay)
    except subprocess.TimeoutExpired:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=60)
        return False
    assert child.returncode == 0, child.stderr.read() if child.stderr else ""
    return True


def _child_seconds(args: list[str], *, code: str, env: dict[str, str]) -> float:
    """How long the child takes from "ready" to its end when nobody kills it."""
    child = subprocess.Popen([sys.executable, "-c", code, *args], cwd=ROOT, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "ready", child.stderr.read()
    start = time.perf_counter()
    out, err = child.communicate(timeout=300)
    assert child.returncode == 0 and out.strip() == "done", err
    return time.perf_counter() - start


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
    seen = {"finished": 0, "committed": 0, "undone": 0}
    for trial in range(TRIALS):
        path = _copy(base, tmp_path / f"u{trial}.duckdb")
        finished = _run_and_kill([str(path), "undo", str(batch)], rng.uniform(0, seconds * 1.5))
        with Workspace.open(path) as ws:
            assert check(ws) == [], trial
            status = ws.con.execute("SELECT status FROM batches WHERE batch_id = ?",
                                    [batch]).fetchone()[0]
            assert (status, _links(ws)) in (("committed", expected), ("undone", 0)), trial
            seen["finished" if finished else status] += 1
            if status == "committed":
                undo(ws, batch)
            assert _links(ws) == 0 and check(ws) == []
        path.unlink()
    assert seen["committed"] + seen["undone"] > 0, seen  # some kills landed before the end
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


# --- sync against the REAL Tryton server ------------------------------------------------------

#: The child of the Tryton family: the password comes through the environment, never argv.
TRYTON_CHILD = """
import os, sys
from pathlib import Path
from erpdata.live.connectors.folders import FilesCrmConnector
from erpdata.live.connectors.tryton import TrytonConnector
from erpdata.live.sync import sync
from erpdata.workspace import Workspace
path, folder, url, database, user, chunk = sys.argv[1:7]
ws = Workspace.open(path)
erp = TrytonConnector(url, database, user, os.environ["ERPDATA_SECRET_TRYTON"], timeout=30.0)
print("ready", flush=True)
sync(ws, erp=erp, crm=FilesCrmConnector(Path(folder)), chunk=int(chunk))
print("done", flush=True)
"""
#: Per trial: parties the sync creates, parties it updates (seeded in Tryton first), and the
#: chunk size: 12 create_erp + 10 update_erp + 10 link actions in 9 chunks.
CREATES, UPDATES, CHUNK = 12, 10, 4


@dataclass(frozen=True)
class TrytonTrial:
    """One trial's own data: what the sync must make in Tryton, exactly once."""

    token: str
    path: Path
    folder: Path
    creates: dict[str, str]  # CRM id -> the name of the party the sync creates
    updates: dict[str, str]  # Tryton party id -> the city the sync writes


def _tryton_trial(tryton: TrytonConnector, where: Path, token: str) -> TrytonTrial:
    """A committed workspace of this trial's own data: Tryton gets ``UPDATES`` parties of the
    token (as an ERP user made them, in Oslo); the CRM holds them moved to other cities, and
    ``CREATES`` companies Tryton lacks, decided "create"."""
    names = [f"{token} Gammel {i} AS" for i in range(UPDATES)]
    seeded = tryton.create([ErpActor("customer", None, {"name": n, "postalcity": "Oslo"})
                            for n in names], [f"seed-{token}-{i}" for i in range(UPDATES)])
    keys = [a.erp_key or "" for a in seeded.unwrap() or []]
    assert len(keys) == UPDATES and all(keys), seeded
    erp = where / "erp.csv"
    erp.write_text("id;actor_type;name;postalcity\n" + "".join(
        f"{k};customer;{n};Oslo\n" for k, n in zip(keys, names, strict=True)), encoding="utf-8")
    creates = {f"{token}-n{i}": f"{token} Ny {i} AS" for i in range(CREATES)}
    moved = {f"{token}-u{i}": (k, n, f"By{i}") for i, (k, n) in enumerate(zip(keys, names,
                                                                              strict=True))}
    crm = where / "crm.csv"
    crm.write_text("id;name;postalcity\n"
                   + "".join(f"{c};{n};Molde\n" for c, n in creates.items())
                   + "".join(f"{c};{n};{city}\n" for c, (_, n, city) in moved.items()),
                   encoding="utf-8")
    path = where / "ws.duckdb"
    with Workspace.open(path) as ws:
        load_file(ws, crm, side="crm", kind="company")
        load_file(ws, erp, side="erp", kind="company")
        for crm_id in creates:
            decide(ws, "company", "create", crm_id, actor_type="customer",
                   create_values={"category": "Fisk"})  # mandatory in the default mapping
        for crm_id, (key, _, _) in moved.items():
            decide(ws, "company", "accept", crm_id, f"customer:{key}")
        done = commit(ws)
        assert done.counts == {"link": UPDATES, "update_crm": 0, "update_erp": UPDATES,
                               "create_erp": CREATES, "unlink": 0}, done.counts
    folder = where / "crm"
    folder.mkdir()
    return TrytonTrial(token, path, folder, creates,
                       {key: city for key, _, city in moved.values()})


def _tryton_effects(raw: RawTryton, trial: TrytonTrial) -> tuple[dict[str, int], dict[str, int],
                                                                   dict[str, list[str | None]]]:
    """Counted in Tryton itself (plain JSON-RPC, not the connector): parties per CRM code of a
    create, parties per name of the token, and the cities of each updated party's addresses."""
    codes = raw.call("party.identifier", "search_read",
                     [["code", "like", f"{CRM_PREFIX}company-company:{trial.token}-%"]], 0, None,
                     None, ["code", "party"])
    per_code = Counter(str(r["code"]) for r in codes)
    parties = raw.call("party.party", "search_read", [["name", "like", f"{trial.token} %"]],
                       0, None, None, ["name"])
    per_name = Counter(str(r["name"]) for r in parties)
    addresses = raw.call("party.address", "search_read",
                         [["party", "in", [int(k) for k in trial.updates]]], 0, None, None,
                         ["party", "city"])
    cities: dict[str, list[str | None]] = {k: [] for k in trial.updates}
    for a in addresses:
        cities[str(a["party"])].append(a["city"])
    return dict(per_code), dict(per_name), cities


def _where_it_landed(ws: Workspace, raw: RawTryton, trial: TrytonTrial, finished: bool) -> str:
    """Where the kill fell, from the workspace's action states and Tryton's own records."""
    states = dict(ws.con.execute("SELECT status, count(*) FROM actions GROUP BY ALL").fetchall())
    if finished:
        return "finished before the kill"
    if set(states) == {"queued"}:
        return "before any action"
    if set(states) == {"ok"}:
        return "after the last chunk, before the exit"
    running = ws.con.execute("SELECT action, crm_id, erp_id FROM actions WHERE status = "
                             "'running'").fetchall()
    if not running:
        return "between two chunks"
    per_code, _, cities = _tryton_effects(raw, trial)
    done_in_tryton = sum(
        (per_code.get(f"{CRM_PREFIX}company-company:{crm_id}", 0) > 0) if action == "create_erp"
        else (cities[erp_id] == [trial.updates[erp_id]]) if action == "update_erp"
        else False  # a link goes to the CRM export folder
        for action, crm_id, erp_id in running)
    if done_in_tryton == len(running) and running[0][0] != "link":
        return "after Tryton did the chunk, before the workspace recorded it"
    if done_in_tryton:
        return "mid-chunk, Tryton had done part of it"
    return "mid-chunk, before Tryton did it"


def test_a_killed_sync_to_tryton_makes_every_effect_once(
        tryton_server: TrytonServer, tryton: TrytonConnector, tryton_raw: RawTryton,
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The child syncs against the real Tryton server and is SIGKILLed at a seeded random
    moment; the parent reopens the workspace (sound, the batch whole), resumes the sync, and
    counts in Tryton: each created party once, each update's city written, no action left."""
    monkeypatch.setenv("ERPDATA_SECRET_TRYTON", tryton_server.password)  # check() looks for it
    run = uuid.uuid4().hex[:6]
    args = [tryton_server.url, tryton_server.database, tryton_server.user, str(CHUNK)]
    seconds = 1e9
    for warm in range(2):  # the first sync of a session is slower (cold caches in Tryton)
        timing = _tryton_trial(tryton, _mkdir(tmp_path / f"timing{warm}"), f"x{run}t{warm}")
        seconds = min(seconds, _child_seconds([str(timing.path), str(timing.folder), *args],
                                              code=TRYTON_CHILD, env=dict(os.environ)))
    rng = random.Random(17)
    landed: Counter[str] = Counter()
    resent = 0
    for trial in range(TRIALS):
        t = _tryton_trial(tryton, _mkdir(tmp_path / f"y{trial}"), f"x{run}k{trial}")
        assert tryton_server.password not in " ".join(args)  # never on a command line
        delay = rng.uniform(0, seconds * 1.2)
        finished = _run_and_kill([str(t.path), str(t.folder), *args], delay,
                                 code=TRYTON_CHILD, env=dict(os.environ))
        with Workspace.open(t.path) as ws:
            assert check(ws) == [], trial
            # the batch is whole: still committed, its links all there, and a create is
            # recorded done exactly when its party's link is written
            assert ws.con.execute("SELECT status FROM batches").fetchall() == [("committed",)]
            assert ws.con.execute("SELECT count(*) FROM links WHERE linked_by <> 'sync'"
                                  ).fetchone() == (UPDATES,)
            recorded = ws.con.execute("SELECT count(*) FROM actions WHERE action = "
                                      "'create_erp' AND status = 'ok'").fetchone()
            assert ws.con.execute("SELECT count(*) FROM links WHERE linked_by = 'sync'"
                                  ).fetchone() == recorded, trial
            where = _where_it_landed(ws, tryton_raw, t, finished)
            landed[where] += 1
            running = {int(i) for (i,) in ws.con.execute(
                "SELECT action_id FROM actions WHERE status = 'running'").fetchall()}
            resent += len(running)
            attempts = dict(ws.con.execute("SELECT action_id, attempts FROM actions").fetchall())
            sync(ws, erp=tryton, crm=FilesCrmConnector(t.folder), chunk=CHUNK)
            assert ws.con.execute("SELECT status, count(*) FROM actions GROUP BY ALL"
                                  ).fetchall() == [("ok", CREATES + UPDATES * 2)], (trial, where)
            # an action interrupted while running was sent once more; no other one was
            assert dict(ws.con.execute("SELECT action_id, attempts FROM actions").fetchall()) \
                == {i: (n + 1 if n == 0 or i in running else n) for i, n in attempts.items()}
            assert check(ws) == [], trial
            links = dict(ws.con.execute("SELECT crm_id, erp_id FROM links").fetchall())
        per_code, per_name, cities = _tryton_effects(tryton_raw, t)
        # each party the sync creates is in Tryton exactly once, linked to its CRM record
        assert per_code == {f"{CRM_PREFIX}company-company:{c}": 1 for c in t.creates}, trial
        assert per_name == {n: 1 for n in [*t.creates.values(),
                                           *(f"{t.token} Gammel {i} AS"
                                             for i in range(UPDATES))]}, trial
        made = tryton_raw.call("party.identifier", "search_read",
                               [["code", "in", list(per_code)]], 0, None, None,
                               ["code", "party"])
        assert {r["code"].split(":", 1)[1]: str(r["party"]) for r in made} == {
            c: links[c] for c in t.creates}, trial
        # each update wrote the wanted city, on the party's one address (none added)
        assert cities == {k: [city] for k, city in t.updates.items()}, (trial, where)
        outbox = (t.folder / "outbox" / "links.csv").read_text(encoding="utf-8").splitlines()
        assert sorted(r.split(",", 1)[1] for r in outbox[1:]) == sorted(  # after the time
            f"company,{c},customer,{e}" for c, e in links.items()), trial
        t.path.unlink()
    print(f"\nsync to Tryton: {TRIALS} trials of {CREATES + 2 * UPDATES} actions (sync "
          f"{seconds:.2f} s); kill landed: {dict(sorted(landed.items()))}; {resent} "
          "interrupted action(s) sent again; duplicates 0, lost 0")


def _mkdir(path: Path) -> Path:
    path.mkdir()
    return path
