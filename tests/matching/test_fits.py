"""A kept fit: a run scores with the model, thresholds and name frequencies an earlier run
learnt, so that only what changed is scored and written again, and it equals a run over all
records with that fit; it is learnt anew on request and once half the records changed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from erpdata import Filter, decide_bulk
from erpdata.demo import build_demo
from erpdata.matching import match_workspace
from erpdata.matching.runs import run_notes
from erpdata.steward.decisions import display_order_key
from erpdata.workspace import Workspace
from tests.helpers import forget_checkpoint, suggested

#: Enough records per side that blocking runs its rules (not the small tables' cross product).
SIZE = 1500


@pytest.fixture(scope="module")
def matched(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A demo workspace whose companies were matched once (run 1 learnt the fit)."""
    path = tmp_path_factory.mktemp("fits") / "demo.duckdb"
    with Workspace.open(path) as ws:
        build_demo(ws, size=SIZE, seed=8)
        first = match_workspace(ws, "company")
        assert first.stats["model"] == "fitted"
    return path


def _copy(src: Path, dst: Path) -> Path:
    shutil.copy(src, dst)
    return dst


def _scratch(ws: Workspace, tmp_path: Path) -> Path:
    """A copy of the workspace as it is now (a re-load's changes written out first), for a
    run to compare with."""
    ws.con.execute("CHECKPOINT")
    return _copy(ws.path, tmp_path / "scratch.duckdb")


def test_a_rerun_with_nothing_changed_writes_no_suggestion(matched: Path, tmp_path: Path
                                                          ) -> None:
    with Workspace.open(_copy(matched, tmp_path / "w.duckdb")) as ws:
        before = suggested(ws, runs=True)
        again = match_workspace(ws, "company")
        assert (again.stats["model"], again.stats["fit_run"]) == ("fit", 1)
        assert again.stats["explanations_kept"] == len(again.candidates)
        assert any(n.startswith("scored with the model and thresholds run 1 learnt (0 records")
                   for n in run_notes(again.stats))
        # every row as run 1 wrote it, run id included: nothing was rewritten
        assert suggested(ws, runs=True) == before
        assert ws.con.execute("SELECT DISTINCT run_id FROM suggestions").fetchall() == [(1,)]
        # and every record's state as run 1 gave it
        assert ws.con.execute("SELECT DISTINCT run_id FROM scoring_state").fetchall() == [(1,)]


def test_a_reload_scored_with_the_fit_equals_a_run_over_all_records_with_it(
        matched: Path, tmp_path: Path) -> None:
    with Workspace.open(_copy(matched, tmp_path / "w.duckdb")) as ws:
        ws.con.execute("UPDATE crm_company SET name = name || ' (ny)' WHERE hash(id) % 50 = 3")
        ws.con.execute("UPDATE erp_company SET phone = '+47 22 33 44 55' "
                       "WHERE hash(id) % 50 = 5")
        scratch = _scratch(ws, tmp_path)
        result = match_workspace(ws, "company")
        assert result.stats["model"] == "fit"
        # most explanations kept from run 1, those of the changed records' pairs built anew
        kept = result.stats["explanations_kept"]
        assert 0.5 * len(result.candidates) < kept < len(result.candidates)
        # only the new ones were written; those of pairs no longer suggested are gone
        ((run,),) = ws.con.execute("SELECT max(run_id) FROM match_runs").fetchall()
        assert dict(ws.con.execute("SELECT run_id, count(*) FROM explanations GROUP BY ALL"
                                   ).fetchall()) == {1: kept, run: len(result.candidates) - kept}
        got = suggested(ws)
    with Workspace.open(scratch) as ws:  # the same records and fit; no stage, no explanation
        forget_checkpoint(ws)
        ws.con.execute("DELETE FROM suggestions")
        ws.con.execute("DELETE FROM explanations")
        full = match_workspace(ws, "company")
        assert (full.stats["model"], full.stats["explanations_kept"]) == ("fit", 0)
        assert suggested(ws) == got


def test_a_crm_reload_blocks_only_the_records_it_changed(
        matched: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With the fit's blocking statistics, a CRM record's candidates depend on itself and the
    ERP side alone: after a CRM re-load only the new and changed records are blocked, the
    stored pairs of the others are carried over, and the suggestions equal those of a run
    that blocks every record with the fit. They are blocked against the ERP side's blocking
    tables the first run kept: the ERP records are not copied into a blocking database, and
    only the features of those compared are read."""
    from erpdata.matching import blocking, stored_features

    copied, read = [], []
    real_connect, real_read = blocking.connect, stored_features.read_features

    def connect(left: object, right: object) -> object:
        copied.append(len(right))  # type: ignore[arg-type]
        return real_connect(left, right)  # type: ignore[arg-type]

    def read_features(*args: object, **kwargs: object) -> object:
        rows = kwargs.get("rows")
        read.append((args[1], kwargs.get("columns"), None if rows is None else len(rows)))
        return real_read(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(blocking, "connect", connect)
    monkeypatch.setattr("erpdata.matching.runs.read_features", read_features)
    with Workspace.open(_copy(matched, tmp_path / "w.duckdb")) as ws:
        ws.con.execute("UPDATE crm_company SET name = name || ' (ny)' WHERE hash(id) % 50 = 3")
        ws.con.execute("UPDATE crm_company SET postalcity = 'Bodø' WHERE hash(id) % 50 = 7")
        # gone from the export (as a re-load marks it)
        ws.con.execute("UPDATE crm_company SET missing_since = 1 WHERE hash(id) % 50 = 9")
        ws.con.execute("INSERT INTO crm_company BY NAME SELECT id || '-copy' AS id, "
                       "* EXCLUDE (id) FROM crm_company WHERE hash(id) % 100 = 11")
        (changed,) = ws.con.execute(
            "SELECT count(*) FROM crm_company WHERE hash(id) % 50 IN (3, 7) "
            "OR id LIKE '%-copy'").fetchone()
        (n,) = ws.con.execute("SELECT count(*) FROM crm_company WHERE missing_since IS NULL"
                              ).fetchone()
        scratch = _scratch(ws, tmp_path)
        result = match_workspace(ws, "company")
        assert result.stats["model"] == "fit"
        assert result.stats["blocked_again"] == {"records": changed, "of": n, "run": 1}
        # the ERP records' ids and the CRM records' ids and names, then the features of
        # the CRM records blocked, and of the records compared
        assert copied == []
        assert read[:4] == [("crm", ["name"], None), ("erp", [], None), ("crm", None, changed),
                            ("crm", None, changed)]
        assert len(read) == 5 and read[4][:2] == ("erp", None) and 0 < read[4][2] < SIZE / 2
        assert 0 < changed < n / 10
        # only the changed rows are written: run 1's rows stay in the queue's order, this
        # run's follow in it (see decisions._ordered_run)
        stored = ws.con.execute("SELECT run_id, probability, crm_id, rank FROM suggestions"
                                ).fetchall()
        runs = [r[0] for r in stored]
        assert runs == sorted(runs) and set(runs) == {1, 2} and runs.count(2) < len(runs) / 10
        assert ws.get_meta(display_order_key("company")) == "1"
        for run in (1, 2):
            rows = [r[1:] for r in stored if r[0] == run]
            assert rows == sorted(rows, key=lambda r: (-r[0], r[1], r[2]))
        assert (f"blocked only the {changed:,} of {n:,} CRM records new or changed since run 1 "
                "blocked them; the others kept their candidates (the ERP records had not "
                "changed)") in run_notes(result.stats)
        got = suggested(ws)
    with Workspace.open(scratch) as ws:  # the same records and fit: every record blocked
        forget_checkpoint(ws)
        full = match_workspace(ws, "company")
        assert "blocked_again" not in full.stats
        assert copied == [SIZE]  # against the ERP records
        assert full.stats["model"] == "fit"
        assert full.stats["pairs"] == result.stats["pairs"]
        assert suggested(ws) == got


def _stage(ws: Workspace) -> tuple[list[tuple], list[tuple]]:
    """The stored checkpoint's pairs with their levels, and its records, in a stable order."""
    return (ws.con.execute("SELECT * FROM match_checkpoint_company ORDER BY ALL").fetchall(),
            ws.con.execute("SELECT * FROM match_checkpoint_company_records ORDER BY ALL"
                           ).fetchall())


def test_a_reload_that_changed_values_only_writes_only_their_pairs(
        matched: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same record ids with some values changed: the stage left holds the changed
    records' pairs and digests written over the stored ones, and equals the stage a run that
    blocks and compares every record leaves; the next run starts from it."""
    from erpdata.matching.checkpoints import Checkpoint

    patched: list[int] = []
    real = Checkpoint._patch

    def spied(self: Checkpoint, data: dict, rows: object) -> None:
        patched.append(len(rows))  # type: ignore[arg-type]
        real(self, data, rows)  # type: ignore[arg-type]

    monkeypatch.setattr(Checkpoint, "_patch", spied)
    with Workspace.open(_copy(matched, tmp_path / "w.duckdb")) as ws:
        ws.con.execute("UPDATE crm_company SET name = name || ' (ny)' WHERE hash(id) % 50 = 3")
        scratch = _scratch(ws, tmp_path)
        result = match_workspace(ws, "company")
        assert patched == [result.stats["blocked_again"]["records"]] and patched[0] > 0
        left = _stage(ws)
        got = suggested(ws)
        again = match_workspace(ws, "company")
        assert again.stats["reused"] == {"stage": "compared", "run": 2}
        assert suggested(ws) == got
    with Workspace.open(scratch) as ws:
        forget_checkpoint(ws)
        match_workspace(ws, "company")
        assert patched == [patched[0]]  # every pair written
        assert _stage(ws) == left


def test_records_gone_from_a_reload_block_nothing_and_are_kept_for_the_next_run(
        matched: Path, tmp_path: Path) -> None:
    with Workspace.open(_copy(matched, tmp_path / "w.duckdb")) as ws:
        ws.con.execute("UPDATE crm_company SET missing_since = 1 WHERE hash(id) % 50 = 9")
        (gone_records,) = ws.con.execute("SELECT count(*) FROM crm_company "
                                         "WHERE missing_since IS NOT NULL").fetchone()
        assert gone_records
        result = match_workspace(ws, "company")
        assert result.stats["blocked_again"]["records"] == 0
        assert result.stats["levels_reused"]["pairs"] == result.stats["pairs"]
        (gone,) = ws.con.execute("SELECT count(*) FROM suggestions s JOIN crm_company c "
                                 "ON c.id = s.crm_id WHERE c.missing_since IS NOT NULL"
                                 ).fetchone()
        assert gone == 0
        # the states of the records present, the gone ones' dropped
        assert ws.con.execute(
            "SELECT count(*), count(*) FILTER (WHERE c.missing_since IS NULL) "
            "FROM scoring_state s LEFT JOIN crm_company c ON c.id = s.crm_id").fetchall() == [
            (SIZE - gone_records, SIZE - gone_records)]
        # the stage it left is these records' compared pairs: the next run neither blocks
        # nor compares
        again = match_workspace(ws, "company")
        assert again.stats["reused"] == {"stage": "compared", "run": 2}


def test_refit_learns_anew_what_the_first_run_learnt(matched: Path, tmp_path: Path) -> None:
    with Workspace.open(_copy(matched, tmp_path / "w.duckdb")) as ws:
        before = suggested(ws)
        again = match_workspace(ws, "company", refit=True)
        assert again.stats["model"] == "fitted"
        assert again.stats["explanations_kept"] == 0
        assert suggested(ws) == before
        # the stored rows were this run's output already: kept as run 1 wrote them, and the
        # next run with run 2's fit keeps every explanation
        assert ws.con.execute("SELECT DISTINCT run_id FROM suggestions").fetchall() == [(1,)]
        # and every record's state as run 1 gave it
        assert ws.con.execute("SELECT DISTINCT run_id FROM scoring_state").fetchall() == [(1,)]
        after = match_workspace(ws, "company")
        assert (after.stats["fit_run"], after.stats["explanations_kept"]) == (
            2, len(after.candidates))


@pytest.mark.parametrize("by_row", [True, False])
def test_half_the_records_changed_learns_anew(matched: Path, tmp_path: Path,
                                              by_row: bool) -> None:
    """Counted by row (the fit was learnt from these very record ids) or by a join on the
    ids (a fit kept before it said which ids), the changed records are the same."""
    with Workspace.open(_copy(matched, tmp_path / "w.duckdb")) as ws:
        meta = json.loads(ws.get_meta("match_fit_company") or "{}")
        assert len(meta["ids"]) == 2
        if not by_row:
            ws.set_meta("match_fit_company", json.dumps({**meta, "ids": None}))
        (n,) = ws.con.execute("SELECT count(*) FROM crm_company").fetchone()
        # one record fewer than half: scored with the fit
        ws.con.execute("UPDATE crm_company SET name = name || ' x' WHERE id IN "
                       "(SELECT id FROM crm_company ORDER BY id LIMIT ?)", [(n + 1) // 2 - 1])
        assert match_workspace(ws, "company").stats["model"] == "fit"
        # half: learnt anew
        ws.con.execute("UPDATE crm_company SET name = name || ' x' WHERE id = "
                       "(SELECT id FROM crm_company WHERE name NOT LIKE '% x' ORDER BY id LIMIT 1)")
        result = match_workspace(ws, "company")
        assert result.stats["model"] == "fitted"
        assert (f"learnt the model anew: {(n + 1) // 2:,} of the {n:,} CRM records it was learnt "
                "from are new, changed or gone since run 1 learnt the model"
                ) in run_notes(result.stats)


def test_after_decisions_a_run_from_the_stored_pairs_equals_one_that_blocks_again(
        matched: Path, tmp_path: Path) -> None:
    """Scored with the fit from stored compared pairs, a run reads only ids and names of the
    records' features; it gives what a run that blocks and compares everything gives."""
    with Workspace.open(_copy(matched, tmp_path / "w.duckdb")) as ws:
        decide_bulk(ws, "accept", Filter(kind="company", band="auto"))
        scratch = _scratch(ws, tmp_path)
        lean = match_workspace(ws, "company")
        assert lean.stats["reused"] == {"stage": "compared", "run": 1}
        got = suggested(ws)
    with Workspace.open(scratch) as ws:
        forget_checkpoint(ws)
        full = match_workspace(ws, "company")
        assert (full.stats["reused"], full.stats["model"]) == (None, "fit")
        assert suggested(ws) == got


def test_a_person_reload_blocks_only_the_records_it_changed(tmp_path: Path) -> None:
    """Persons block on the rules companies do not use (a full name from first and last
    name, one-typo words, birth date parts with an initial): with the kept statistics, a run
    after a CRM re-load still equals one that blocks every record."""
    with Workspace.open(tmp_path / "w.duckdb") as ws:
        build_demo(ws, size=SIZE, seed=8)
        match_workspace(ws, "company")
        first = match_workspace(ws, "person")
        assert first.stats["model"] == "fitted"
        ws.con.execute("UPDATE crm_person SET lastname = lastname || 'e' "
                       "WHERE hash(id) % 40 = 1")
        ws.con.execute("UPDATE crm_person SET birthdate = birthdate + 1 "
                       "WHERE hash(id) % 40 = 2 AND birthdate IS NOT NULL")
        scratch = _scratch(ws, tmp_path)
        result = match_workspace(ws, "person")
        assert result.stats["model"] == "fit"
        assert 0 < result.stats["blocked_again"]["records"] < result.stats["crm_records"] / 10
        got = suggested(ws, "person")
    with Workspace.open(scratch) as ws:
        forget_checkpoint(ws, "person")
        full = match_workspace(ws, "person")
        assert (full.stats["model"], full.stats.get("blocked_again")) == ("fit", None)
        assert suggested(ws, "person") == got


def test_the_erp_side_kept_follows_the_comparisons(matched: Path, tmp_path: Path) -> None:
    """The ERP side's blocking tables kept are those of the comparisons last blocked with:
    a run comparing fewer fields keeps its own and drops the others' (derived data that no
    run could read again)."""
    from erpdata.matching import blocking
    from erpdata.matching.runs import Plan, explain

    def kept(ws: Workspace) -> set[str]:
        return {t for (t,) in ws.con.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE starts_with(table_name, 'match_blocking_company_erp_') "
            "AND table_name <> 'match_blocking_company_erp_grams'").fetchall()}

    with Workspace.open(_copy(matched, tmp_path / "w.duckdb")) as ws:
        plan = explain(ws.cursor(), "company")
        every = {f"match_blocking_company_{t}" for t in blocking.erp_tables(plan.comparisons)}
        assert kept(ws) == every
        fewer = [c for c in plan.comparisons if c.name in ("name", "vatno")]
        match_workspace(ws, "company", plan=Plan(fewer, plan.inference[:2]))
        assert kept(ws) == {f"match_blocking_company_{t}" for t in blocking.erp_tables(fewer)}
        assert len(kept(ws)) < len(every)
