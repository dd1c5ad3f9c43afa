"""``erpdata check``: a sound workspace passes; each invariant, broken behind the engine's back,
is named with the rows that break it (and the CLI exits 1)."""

from __future__ import annotations

from pathlib import Path

import pytest

from erpdata.check import check
from erpdata.cli import main
from erpdata.ingest.load import load_file
from erpdata.matching import match_workspace
from erpdata.steward.commit import commit, disconnect, undo
from erpdata.steward.decisions import decide
from erpdata.workspace import Workspace
from tests.helpers import write_text


@pytest.fixture
def ws(companies_ws: Workspace, tmp_path: Path) -> Workspace:
    """Companies and persons after a day's work: matched, committed, a batch undone, a link
    disconnected, a person linked under its company's actor."""
    w = companies_ws
    load_file(w, write_text(tmp_path / "p.csv", "id;firstname;lastname;company_id\n"
                            "P1;Kari;Berg;1\nP2;Ola;Hansen;2\n"), side="crm", kind="person")
    load_file(w, write_text(tmp_path / "ep.csv", "id,firstname,lastname,parent_key,"
                            "parent_actor_type\nE1,Kari,Berg,L1,supplier\n"
                            "E2,Ola,Hansen,K1,customer\n"), side="erp", kind="person")
    match_workspace(w, "company")
    decide(w, "company", "accept", "4", "customer:K9")
    undo(w, commit(w).batch_id or 0)
    decide(w, "company", "accept", "1", "supplier:L1")
    decide(w, "person", "accept", "P1", "person:E1")
    decide(w, "company", "reject", "2", "customer:K1")
    commit(w)
    disconnect(w, "company", ["4"])
    return w


def test_a_sound_workspace_passes(ws: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    assert check(ws) == []
    path = str(ws.path)
    ws.close()
    assert main(["check", "--workspace", path]) == 0
    assert capsys.readouterr().err == "ok: every invariant holds\n"


def _broken(ws: Workspace, sql: str) -> list[str]:
    ws.con.execute(sql)
    return [str(v) for v in check(ws)]


def test_a_person_under_another_actor(ws: Workspace) -> None:
    assert _broken(ws, "UPDATE erp_person SET parent_actor_type = 'customer', "
                       "parent_key = 'K2' WHERE id = 'E1'") == [
        "invariant 2: 1 person link(s) whose ERP person hangs under another actor than its "
        "company's link (crm person, erp person, its parent, the company's link): "
        "P1 E1 customer:K2 supplier:L1"]


def test_a_half_applied_batch(ws: Workspace) -> None:
    (batch,) = ws.con.execute("SELECT max(batch_id) FROM batches WHERE status = 'committed' "
                              "AND summary->>'what' = 'commit'").fetchone() or (0,)
    assert _broken(ws, f"DELETE FROM audit WHERE batch_id = {batch} AND action = 'link'") == [
        f"invariant 3: batch {batch} is not whole: its summary says 3 link(s), the audit holds "
        "0, the actions 3"]


def test_an_overwrite_without_its_field(ws: Workspace) -> None:
    found = _broken(ws, "UPDATE audit SET field = NULL WHERE action = 'update_erp'")
    assert len(found) == 1 and found[0].startswith("invariant 4: ")


def test_stale_states_and_a_rejected_pair_suggested_again(ws: Workspace) -> None:
    assert _broken(ws, "UPDATE suggestions SET state = 'linked' WHERE crm_id = '2'") == [
        "invariant 5: 1 suggestion(s) whose stored decision state is not what the decisions "
        "and links say: company 2 customer K1 linked"]
    ws.con.execute("UPDATE suggestions SET state = 'rejected' WHERE crm_id = '2'")
    ws.con.execute("UPDATE decisions SET decided_at = TIMESTAMP '2000-01-01' "
                   "WHERE decision = 'reject'")
    assert [str(v) for v in check(ws)] == [
        "invariant 5: rejected pair(s) suggested again by a later run: company 2 customer:K1"]


def test_a_pair_suggested_twice_and_a_record_scored_twice(ws: Workspace) -> None:
    """No key enforces these since schema version 9 (a run replaces its rows whole): the
    checker does."""
    ws.con.execute("INSERT INTO suggestions SELECT * FROM suggestions WHERE crm_id = '3' "
                   "AND rank = 1")
    ws.con.execute("INSERT INTO scoring_state SELECT * FROM scoring_state WHERE crm_id = '3' "
                   "AND kind = 'company'")
    pair = ws.con.execute("SELECT erp_actor_type || ':' || erp_id FROM suggestions "
                          "WHERE crm_id = '3' AND rank = 1 LIMIT 1").fetchone()
    assert [str(v) for v in check(ws)] == [
        "invariant 6: CRM record(s) with more than one scoring state: company 3 2",
        f"invariant 6: pair(s) suggested more than once: company 3 {pair[0] if pair else ''} 2"]


def test_an_explanation_left_behind_by_its_pair(ws: Workspace) -> None:
    """A run deletes the explanations of pairs it no longer suggests (schema version 10)."""
    pair = ws.con.execute("SELECT erp_actor_type || ':' || erp_id FROM suggestions "
                          "WHERE crm_id = '3' AND rank = 1").fetchone()
    assert check(ws) == []
    ws.con.execute("DELETE FROM suggestions WHERE crm_id = '3' AND rank = 1")
    ws.con.execute("UPDATE suggestions SET rank = rank - 1 WHERE crm_id = '3'")
    assert [str(v) for v in check(ws)] == [
        f"invariant 6: explanation(s) of pairs not suggested: company 3 {pair[0] if pair else ''}"]


def test_a_create_done_twice(ws: Workspace) -> None:
    (batch,) = ws.con.execute("SELECT max(batch_id) FROM batches").fetchone() or (0,)
    for n in (1, 2):
        ws.con.execute("INSERT INTO actions (batch_id, kind, action, crm_id, erp_actor_type, "
                       "idempotency_key, status, created_at) VALUES (?, 'company', "
                       "'create_erp', '5', 'customer', ?, 'ok', now())", [batch, f"x{n}"])
    assert [str(v) for v in check(ws)] == [
        "invariant 7: CRM record(s) created in the ERP more than once: company 5 2"]


def test_a_planted_secret_is_found(ws: Workspace, monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("ERPDATA_SECRET_TRYTON", "pl4nted-Secret")
    ws.con.execute("UPDATE crm_company SET name = 'x pl4nted-Secret x' WHERE id = '5'")
    assert [str(v) for v in check(ws)] == [
        "invariant 8: the secret of $ERPDATA_SECRET_TRYTON is written in crm_company.name "
        "(1 row(s))"]
    path = str(ws.path)
    ws.close()
    assert main(["check", "--workspace", path]) == 1
    err = capsys.readouterr().err
    assert err.endswith("1 violation(s)\n") and "pl4nted-Secret" not in err
