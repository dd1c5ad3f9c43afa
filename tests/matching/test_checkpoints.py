"""Interrupt and resume: a match run stopped by Cancel, Ctrl-C or a kill resumes after the last
stage it finished (normalising per chunk, blocking, comparing), and the resumed run's
suggestions are exactly those of a run never stopped. A changed record invalidates the
stored stages."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from erpdata.check import check
from erpdata.demo import build_demo
from erpdata.matching import match_workspace, stored_features
from erpdata.matching.runs import run_notes
from erpdata.progress import Cancelled
from erpdata.workspace import Workspace
from tests.helpers import forget_checkpoint, suggested

ROOT = Path(__file__).resolve().parents[2]
#: Enough records per side that blocking runs its rules (not the small tables' cross product).
SIZE = 1500


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[tuple]]:
    """A demo workspace never matched, and the company suggestions of one uninterrupted run
    (on a copy)."""
    folder = tmp_path_factory.mktemp("resume")
    path = folder / "demo.duckdb"
    with Workspace.open(path) as ws:
        build_demo(ws, size=SIZE, seed=8)
    whole = _copy(path, folder / "whole.duckdb")
    with Workspace.open(whole) as ws:
        match_workspace(ws, "company")
        expected = suggested(ws)
    assert len(expected) > 1000
    return path, expected


def _copy(src: Path, dst: Path) -> Path:
    shutil.copy(src, dst)
    return dst


def _checkpoint(ws: Workspace) -> dict:
    return json.loads(ws.get_meta("match_checkpoint_company") or "{}")


def _stopping_at(prefix: str, stop: threading.Event, seen: list[str]):
    """Progress that presses Cancel when a stage starting with ``prefix`` is reported: the run
    stops at its next progress point."""

    def progress(stage: str, fraction: float) -> None:
        seen.append(stage)
        if stage.startswith(prefix):
            stop.set()  # as the page's Cancel button does
    return progress


def test_a_cancelled_run_resumes_after_blocking_with_the_same_suggestions(
        demo: tuple[Path, list[tuple]], tmp_path: Path) -> None:
    path, expected = demo
    with Workspace.open(_copy(path, tmp_path / "w.duckdb")) as ws:
        stop, seen = threading.Event(), []
        with pytest.raises(Cancelled, match="the stages it finished are kept"):
            match_workspace(ws, "company", progress=_stopping_at("comparing", stop, seen),
                            cancel=stop)
        assert any(s.startswith("blocking: ") for s in seen)  # the rules, one by one
        assert _checkpoint(ws)["stage"] == "blocked" and _checkpoint(ws)["run_id"] == 1
        assert ws.con.execute("SELECT count(*) FROM suggestions").fetchone() == (0,)

        seen = []
        result = match_workspace(ws, "company", progress=lambda s, f: seen.append(s))
        assert result.stats["reused"] == {"stage": "blocked", "run": 1}
        assert "blocking: the pairs found by run 1 reused" in seen
        assert not any(s.startswith("blocking: the words") for s in seen)  # not blocked again
        assert any(s.startswith("comparing ") for s in seen)
        assert suggested(ws) == expected
        assert run_notes(result.stats)[0].startswith("the pairs run 1 blocked were reused")
        assert ws.con.execute("SELECT run_id, status, error FROM match_runs ORDER BY run_id"
                              ).fetchall() == [
            (1, "cancelled", "matching company was cancelled while comparing "
             f"{result.stats['blocking']['candidate pairs']:,} pairs: vatno (2 of 10); the "
             "suggestions are as they were; the stages it finished are kept, and the next run "
             "resumes after them"),
            (2, "done", None)]

        # Nothing changed: the next run reuses the compared levels too.
        again = match_workspace(ws, "company")
        assert again.stats["reused"] == {"stage": "compared", "run": 2}
        assert suggested(ws) == expected


def test_a_run_after_a_cancelled_one_starts_without_its_arrays(
        demo: tuple[Path, list[tuple]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A cancelled run's features are held in reference cycles (a snapshot of its frame's
    locals holds the exception, whose traceback holds the frames); the next run in the same
    process lets go of them before it reads its own, not at Python's next garbage
    collection."""
    import gc
    import weakref

    import erpdata.matching.runs as mw

    path, _ = demo
    read: list[weakref.ref] = []
    real = mw.read_features

    def tracked(*args: object, **kwargs: object) -> object:
        out = real(*args, **kwargs)  # type: ignore[arg-type]
        read.append(weakref.ref(out[0]))
        return out

    monkeypatch.setattr(mw, "read_features", tracked)
    with Workspace.open(_copy(path, tmp_path / "w.duckdb")) as ws:
        stop = threading.Event()
        gc.disable()  # no collection but the run's own
        try:
            with pytest.raises(Cancelled):
                match_workspace(ws, "company", progress=_stopping_at("comparing", stop, []),
                                cancel=stop)
            first = list(read)
            assert len(first) == 2 and any(r() is not None for r in first)  # in a cycle
            alive: list[bool] = []
            match_workspace(ws, "company", progress=lambda s, f: alive.append(
                any(r() is not None for r in first)) if not alive else None)
        finally:
            gc.enable()
    assert alive == [False]


def test_ctrl_c_is_recorded_and_the_next_run_resumes(
        demo: tuple[Path, list[tuple]], tmp_path: Path) -> None:
    path, expected = demo

    def interrupt(stage: str, fraction: float) -> None:
        if stage == "estimating the model":
            raise KeyboardInterrupt  # what Ctrl-C raises in the CLI's thread

    with Workspace.open(_copy(path, tmp_path / "w.duckdb")) as ws:
        with pytest.raises(KeyboardInterrupt):
            match_workspace(ws, "company", progress=interrupt)
        assert ws.con.execute("SELECT status, error FROM match_runs").fetchall() == [
            ("cancelled", "interrupted (Ctrl-C)")]
        assert _checkpoint(ws)["stage"] == "compared"
        result = match_workspace(ws, "company")
        assert result.stats["reused"] == {"stage": "compared", "run": 1}
        assert suggested(ws) == expected


CHILD = """
import sys
from erpdata.workspace import Workspace
from erpdata.matching import match_workspace
ws = Workspace.open(sys.argv[1])
match_workspace(ws, "company", progress=lambda stage, f: print(stage, flush=True))
print("finished", flush=True)
"""


def test_a_killed_run_resumes_and_is_marked_interrupted(
        demo: tuple[Path, list[tuple]], tmp_path: Path) -> None:
    """SIGKILL once the first field is being compared (blocking is stored by then): no
    handler runs, so the next run finds the run still marked running and says why it ended."""
    path, expected = demo
    work = _copy(path, tmp_path / "w.duckdb")
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(work)], stdout=subprocess.PIPE,
                             text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert child.stdout is not None
    lines = []
    for line in child.stdout:
        lines.append(line.strip())
        if line.startswith("comparing "):
            child.send_signal(signal.SIGKILL)
            break
    child.wait(timeout=60)
    assert child.returncode == -signal.SIGKILL, lines
    with Workspace.open(work) as ws:
        assert ws.con.execute("SELECT status FROM match_runs").fetchall() == [("running",)]
        result = match_workspace(ws, "company")
        assert result.stats["reused"] == {"stage": "blocked", "run": 1}
        assert suggested(ws) == expected
        (status, error), = ws.con.execute(
            "SELECT status, error FROM match_runs WHERE run_id = 1").fetchall()
        assert status == "failed" and error.startswith("interrupted: the process running it "
                                                       "ended before it finished")
        assert check(ws) == []


def test_normalising_resumes_per_chunk(demo: tuple[Path, list[tuple]], tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    path, expected = demo
    monkeypatch.setattr(stored_features, "CHUNK", 400)
    normalised: list[int] = []
    real = stored_features.features

    def counting(frame, *args, **kwargs):  # type: ignore[no-untyped-def]
        normalised.append(len(frame))
        return real(frame, *args, **kwargs)

    monkeypatch.setattr(stored_features, "features", counting)
    with Workspace.open(_copy(path, tmp_path / "w.duckdb")) as ws:
        stop, seen = threading.Event(), []
        with pytest.raises(Cancelled):
            match_workspace(ws, "company",
                            progress=_stopping_at("normalising CRM company records: 400 of",
                                                  stop, seen), cancel=stop)
        assert normalised == [400, 400]  # two chunks stored before the stop
        (crm,) = ws.con.execute("SELECT count(*) FROM crm_company").fetchone() or (0,)
        (erp,) = ws.con.execute("SELECT count(*) FROM erp_company").fetchone() or (0,)
        normalised.clear()
        match_workspace(ws, "company")
        assert sum(normalised) == crm - 800 + erp  # only the rest
        assert suggested(ws) == expected


def test_a_changed_record_is_never_matched_from_stored_stages(
        demo: tuple[Path, list[tuple]], tmp_path: Path) -> None:
    path, _ = demo
    with Workspace.open(_copy(path, tmp_path / "w.duckdb")) as ws:
        match_workspace(ws, "company")
        (crm_id, erp_type, erp_id), = ws.con.execute(
            "SELECT crm_id, erp_actor_type, erp_id FROM suggestions WHERE link AND band = 'auto' "
            "ORDER BY crm_id LIMIT 1").fetchall()
        # the CRM record takes another company's every compared value: its stored pairs are
        # no longer its own
        cols = ("name", "vatno", "phone", "email", "url", "streetad1", "postalad1",
                "postalzip", "postalcity", "country")
        ws.con.execute(f"""UPDATE crm_company SET {', '.join(f'{c} = o.{c}' for c in cols)}
                           FROM (SELECT * FROM crm_company WHERE id <> ? ORDER BY id LIMIT 1) o
                           WHERE crm_company.id = ?""", [crm_id, crm_id])
        result = match_workspace(ws, "company")
        assert result.stats["reused"] is None
        assert (crm_id, erp_type, erp_id) not in ws.con.execute(
            "SELECT crm_id, erp_actor_type, erp_id FROM suggestions WHERE link").fetchall()


def test_after_a_reload_only_the_pairs_of_changed_records_are_compared_again(
        demo: tuple[Path, list[tuple]], tmp_path: Path) -> None:
    """A re-load changes a few records: blocking runs again, but a pair whose two records are
    unchanged keeps its stored levels, and the suggestions are those of a run from scratch."""
    path, _ = demo
    with Workspace.open(_copy(path, tmp_path / "w.duckdb")) as ws:
        match_workspace(ws, "company")
        # 2% of the CRM names and of the ERP phones changed, one ERP record gone, one new
        ws.con.execute("UPDATE crm_company SET name = name || ' (ny)' WHERE hash(id) % 50 = 3")
        ws.con.execute("UPDATE erp_company SET phone = '+47 22 33 44 55' "
                       "WHERE hash(id) % 50 = 5")
        ws.con.execute("UPDATE erp_company SET missing_since = (SELECT max(load_id) FROM loads) "
                       "WHERE id = (SELECT min(id) FROM erp_company)")
        ws.con.execute("INSERT INTO crm_company BY NAME SELECT * REPLACE ('new-1' AS id) "
                       "FROM crm_company WHERE id = (SELECT max(id) FROM crm_company)")
        ws.con.execute("CHECKPOINT")
        scratch = _copy(ws.path, tmp_path / "scratch.duckdb")
        result = match_workspace(ws, "company")
        reused = result.stats["levels_reused"]
        assert result.stats["reused"] is None  # the records changed: blocked again
        assert reused["run"] == 1 and 0.8 * reused["of"] < reused["pairs"] < reused["of"]
        assert reused["of"] == result.stats["pairs"] + _rejected(ws)
        assert any(n.endswith("kept the levels run 1 compared: neither record changed since")
                   for n in run_notes(result.stats))
        got = suggested(ws)
    with Workspace.open(scratch) as ws:  # the same records, nothing stored to reuse
        forget_checkpoint(ws)
        fresh = match_workspace(ws, "company")
        assert fresh.stats["levels_reused"] is None
        assert suggested(ws) == got


def _rejected(ws: Workspace) -> int:
    (n,) = ws.con.execute("SELECT count(*) FROM decisions WHERE decision = 'reject'"
                          ).fetchone() or (0,)
    return int(n)


def test_pairs_carried_in_place_are_those_the_records_join_finds(
        demo: tuple[Path, list[tuple]], tmp_path: Path) -> None:
    """With the stored pairs of these very record ids, the unchanged CRM records' pairs and
    levels are read as stored (no join of the records' ids): exactly what joining the
    records finds, and the changed records are the rows to block again."""
    import numpy as np

    from erpdata.matching.checkpoints import Checkpoint, statistics_run
    from erpdata.matching.runs import PER_RECORD, _sources, explain
    from erpdata.matching.stored_features import update_features

    with Workspace.open(_copy(demo[0], tmp_path / "w.duckdb")) as ws:
        match_workspace(ws, "company")
        ws.con.execute("UPDATE crm_company SET name = name || ' (ny)' WHERE hash(id) % 40 = 3")
        (changed,) = ws.con.execute("SELECT list(id ORDER BY id) FROM crm_company "
                                    "WHERE hash(id) % 40 = 3").fetchone() or ([],)
        con = ws.cursor()
        compared = explain(con, "company").comparisons
        crm, erp = (update_features(ws, con, side, "company", sql, compared)[0]
                    for side, sql in zip(("crm", "erp"), _sources("company", compared),
                                         strict=True))
        checkpoint = Checkpoint(ws, con, "company", compared, crm, erp, PER_RECORD, 2)
        run = statistics_run(ws, "company", compared)
        in_place = checkpoint.carried(run)
        meta = json.loads(ws.get_meta("match_checkpoint_company") or "{}")
        ws.set_meta("match_checkpoint_company", json.dumps({**meta, "ids": ["other"] * 2}))
        joined = checkpoint.carried(run)

        def rows(c: object) -> list[tuple]:
            assert c is not None and c.levels is not None  # type: ignore[attr-defined]
            return sorted(zip(c.lrid.tolist(), c.rrid.tolist(),  # type: ignore[attr-defined]
                              map(tuple, c.levels.tolist()), strict=True))  # type: ignore[attr-defined]

        assert rows(in_place) == rows(joined) != []
        ids = np.array(crm.ids.to_pylist())
        assert ids[in_place.rows].tolist() == ids[joined.rows].tolist() == changed  # type: ignore[union-attr]
