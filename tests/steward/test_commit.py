"""Commit, undo and disconnect: atomic batches, exact undo, invariants 1, 2 and 4."""

from __future__ import annotations

import importlib
import json
import threading
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from erpdata.cli import main
from erpdata.ingest.load import load_file
from erpdata.progress import Cancelled
from erpdata.steward.commit import (
    OVERWRITE_COLS,
    CommitError,
    batches,
    commit,
    disconnect,
    overwrite_counts,
    overwrite_lines,
    pending,
    plan,
    undo,
)
from erpdata.steward.decisions import DecisionError, decide
from erpdata.steward.review import pick
from erpdata.workspace import Workspace
from tests.helpers import snapshot, write_text

# ``erpdata.commit`` is the public function: the module is fetched by name.
commit_mod = importlib.import_module("erpdata.steward.commit")
#: What undo must restore exactly (the log tables batches, actions and audit only grow).
STATE = ("links", "decisions", "picks", "crm_company", "erp_company", "crm_person", "erp_person")


def _state(ws: Workspace) -> dict[str, Any]:
    snap = snapshot(ws)
    return {t: snap[t] for t in STATE}


@pytest.fixture
def ws(companies_ws: Workspace, tmp_path: Path) -> Workspace:
    load_file(companies_ws, write_text(tmp_path / "p.csv",
                                       "id;firstname;lastname;email;company_id\n"
                                       "P1;Kari;Berg;kari@bergbygg.se;1\n"
                                       "P2;Ola;Hansen;ola@hansen.no;2\n"), side="crm",
              kind="person")
    load_file(companies_ws, write_text(tmp_path / "ep.csv",
                                       "id;firstname;lastname;email;parent_key;"
                                       "parent_actor_type\n"
                                       "E1;Kari;Berg;kari.berg@bergbygg.se;L1;supplier\n"
                                       "E2;Ola;Hansen;ola@hansen.no;K2;customer\n"),
              side="erp", kind="person")
    return companies_ws


def test_commit_writes_links_values_actions_and_audit_in_one_batch(ws: Workspace) -> None:
    decide(ws, "company", "accept", "1", "customer:K2", user="kari")
    decide(ws, "company", "accept", "4", "customer:K9", user="kari")
    pick(ws, "company", "4", "customer:K9", "name", "value", "Fjord Fisk Nord AS")
    preview = commit(ws, dry_run=True)
    assert preview.counts == {"link": 2, "update_crm": 1, "update_erp": 2, "create_erp": 0,
                              "unlink": 0}
    assert preview.summary().splitlines()[0] == (
        "dry run: would queue 2 link, 1 update_crm, 2 update_erp")
    done = commit(ws, user="ola")
    assert done.counts == preview.counts and done.batch_id == 1
    assert ws.con.execute("SELECT kind, crm_id, erp_actor_type, erp_id, batch_id, linked_by "
                          "FROM links ORDER BY crm_id").fetchall() == [
        ("company", "1", "customer", "K2", 1, "ola"), ("company", "4", "customer", "K9", 1, "ola")]
    # the workspace now holds the chosen values on both sides
    assert ws.con.execute("SELECT name, vatno FROM crm_company WHERE id = '4'").fetchone() == (
        "Fjord Fisk Nord AS", "911111111")
    assert ws.con.execute("SELECT name, vatno, postalcity FROM erp_company WHERE id = 'K9'"
                          ).fetchone() == ("Fjord Fisk Nord AS", "911111111", "Tromsø")
    assert ws.con.execute("SELECT name FROM erp_company WHERE id = 'K2'").fetchone() == (
        "Berg Bygg AB",)
    update = ws.con.execute("SELECT payload FROM actions WHERE action = 'update_erp' AND "
                            "crm_id = '4'").fetchone()
    assert json.loads(update[0]) == {
        "fields": {"name": "Fjord Fisk Nord AS", "postalcity": "Tromsø"},
        "before": {"name": "Nordlys Energi AS", "postalcity": "Bodø"}}
    audit = ws.con.execute("SELECT actor, action, side, record_id, field, before_value, "
                           "after_value FROM audit WHERE field = 'vatno' ORDER BY ALL").fetchall()
    assert audit == [("ola", "update_crm", "crm", "4", "vatno", "987654321", "911111111"),
                     ("ola", "update_erp", "erp", "K2", "vatno", None, "5560360793")]
    assert ws.con.execute("SELECT count(*) FROM decisions WHERE batch_id = 1").fetchone() == (2,)
    nothing = commit(ws)  # nothing left to commit: no empty batch
    assert (nothing.batch_id, nothing.summary()) == (None, "nothing to commit")
    assert len(batches(ws)) == 1


def test_the_dry_run_counts_per_field_what_the_batch_overwrites_on_each_side(
        ws: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    """A default pick (the CRM wins) replaces ERP values: the steward sees how many, per field
    and side, with the fields' labels, before committing; the commit writes exactly that."""
    decide(ws, "company", "accept", "1", "customer:K2", user="kari")
    decide(ws, "company", "accept", "4", "customer:K9", user="kari")
    pick(ws, "company", "4", "customer:K9", "name", "value", "Fjord Fisk Nord AS")
    preview = commit(ws, dry_run=True)
    assert preview.overwrites.values.tolist() == [
        ["erp", "company", "name", "Name", 2, 0],
        ["erp", "company", "postalcity", "City", 1, 0],
        ["erp", "company", "vatno", "Org. no / VAT no", 0, 1],
        ["crm", "company", "name", "Name", 1, 0],
        ["crm", "company", "vatno", "Org. no / VAT no", 1, 0]]
    assert preview.summary().splitlines()[1:] == [
        "would overwrite in the ERP: companies — Name: 2, City: 1",
        "would overwrite in the CRM: companies — Name: 1, Org. no / VAT no: 1",
        "would fill empty fields in the ERP: companies — Org. no / VAT no: 1"]
    # the same batch from the command line, before anything is written
    ws.close()
    assert main(["commit", "--dry-run", "--workspace", str(ws.path)]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err[1:4] == preview.summary().splitlines()[1:]
    with Workspace.open(ws.path) as again:
        done = commit(again, user="ola")
        assert done.overwrites.equals(preview.overwrites)
        assert done.summary().splitlines()[1] == (
            "overwrote in the ERP: companies — Name: 2, City: 1")
        # what the audit kept agrees, field by field
        audit = again.con.execute(
            "SELECT side, field, count(*) FILTER (WHERE before_value IS NOT NULL), "
            "count(*) FILTER (WHERE before_value IS NULL) FROM audit WHERE field IS NOT NULL "
            "GROUP BY ALL ORDER BY ALL").fetchall()
    assert audit == sorted((s, f, o, n) for s, _, f, _, o, n in preview.overwrites.values)


def test_overwrite_counts_of_no_changes_and_of_persons() -> None:
    none = overwrite_counts(commit_mod._frame(commit_mod._CHANGE_COLS))
    assert list(none.columns) == OVERWRITE_COLS and none.empty
    assert overwrite_lines(none) == []
    changes = commit_mod.pd.DataFrame(
        [["person", "erp", "customer:K1", "P1", "customer", "E1", "email", "a@x.no", "b@x.no"],
         ["person", "erp", "customer:K1", "P2", "customer", "E2", "email", " ", "c@x.no"],
         ["company", "erp", "customer:K1", "1", "customer", "K1", "streetad1", "Gate 1",
          "Vei 2"],
         ["person", "crm", "P3", "P3", "customer", "E3", "phone_mobile", "22", "+47 22"]],
        columns=commit_mod._CHANGE_COLS)
    counts = overwrite_counts(changes)
    assert counts.values.tolist() == [
        ["erp", "company", "streetad1", "Street address 1", 1, 0],
        ["erp", "person", "email", "E-mail", 1, 1],  # a blank value is filled, not replaced
        ["crm", "person", "phone_mobile", "Mobile phone", 1, 0]]
    assert overwrite_lines(counts) == [
        "would overwrite in the ERP: companies — Street address 1: 1; persons — E-mail: 1",
        "would overwrite in the CRM: persons — Mobile phone: 1",
        "would fill empty fields in the ERP: persons — E-mail: 1"]


def test_dry_run_writes_nothing(ws: Workspace) -> None:
    decide(ws, "company", "accept", "1", "supplier:L1")
    decide(ws, "company", "create", "4", actor_type="customer",
           create_values={"category": "Fisk"})
    before = snapshot(ws)
    result = commit(ws, dry_run=True)
    assert result.counts["create_erp"] == 1 and result.batch_id is None
    assert snapshot(ws) == before


def test_a_failure_in_the_middle_leaves_nothing_behind(ws: Workspace,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    decide(ws, "company", "accept", "4", "customer:K9")
    before = snapshot(ws)

    def broken(*args: object) -> None:
        raise OSError("disk full")

    # links and values are written by then; the actions and audit are not
    monkeypatch.setattr(commit_mod, "_actions", broken)
    with pytest.raises(OSError, match="disk full"):
        commit(ws)
    assert snapshot(ws) == before


def test_undo_restores_exactly_the_state_before(ws: Workspace) -> None:
    decide(ws, "company", "accept", "4", "customer:K9")
    decide(ws, "company", "accept", "1", "supplier:L1")
    pick(ws, "company", "4", "customer:K9", "postalcity", "erp")
    before = _state(ws)
    batch = commit(ws).batch_id
    assert batch is not None and _state(ws) != before
    ws.con.execute("UPDATE actions SET status = 'ok' WHERE batch_id = ? AND action = 'link' "
                   "AND crm_id = '1'", [batch])  # this one already ran in the live systems
    assert undo(ws, batch, user="kari") == {"fields": 3, "links": 2, "relinked": 0,
                                            "compensating": 1}
    assert _state(ws) == before
    assert ws.con.execute("SELECT action, status FROM actions WHERE status <> 'cancelled' "
                          "ORDER BY action_id").fetchall() == [("link", "ok"),
                                                               ("unlink", "queued")]
    status = batches(ws)[["batch_id", "status", "undone_by"]].values.tolist()
    assert status == [[batch, "undone", "kari"]]
    with pytest.raises(CommitError, match="already undone"):
        undo(ws, batch)


def test_an_older_batch_is_undone_only_after_later_ones_on_its_records(ws: Workspace) -> None:
    decide(ws, "company", "accept", "4", "customer:K9")
    first = commit(ws).batch_id
    second = disconnect(ws, "company", ["4"]).batch_id
    with pytest.raises(CommitError, match=f"batch\\(es\\) {second} changed records of batch "
                                          f"{first} later: undo those first"):
        undo(ws, first)  # type: ignore[arg-type]
    undo(ws, second)  # type: ignore[arg-type]
    undo(ws, first)  # type: ignore[arg-type]
    assert ws.con.execute("SELECT count(*) FROM links").fetchone() == (0,)


def test_disconnect_removes_the_link_only_and_is_undone_like_a_batch(ws: Workspace) -> None:
    decide(ws, "company", "accept", "4", "customer:K9")
    commit(ws)
    values = snapshot(ws)["crm_company"], snapshot(ws)["erp_company"]
    links = snapshot(ws)["links"]
    result = disconnect(ws, "company", ["4"], user="kari")
    assert result.counts["unlink"] == 1
    assert snapshot(ws)["links"] == []
    assert (snapshot(ws)["crm_company"], snapshot(ws)["erp_company"]) == values
    undo(ws, result.batch_id)  # type: ignore[arg-type]
    assert snapshot(ws)["links"] == links
    with pytest.raises(CommitError, match="CRM company '2' has no link to disconnect"):
        disconnect(ws, "company", ["2"])


def test_a_person_links_only_under_its_companys_actor(ws: Workspace) -> None:
    decide(ws, "company", "accept", "1", "supplier:L1")
    decide(ws, "person", "accept", "P1", "person:E1")  # parent supplier L1: right
    decide(ws, "person", "accept", "P2", "person:E2")  # company 2 is not linked
    p = plan(ws)
    assert p.links[["kind", "crm_id"]].values.tolist() == [["company", "1"], ["person", "P1"]]
    assert p.left_out[["crm_id", "reason"]].values.tolist() == [
        ["P2", "the person's company is not linked to an ERP actor"]]
    commit(ws)
    decide(ws, "company", "accept", "2", "customer:K1")
    assert plan(ws).left_out["reason"].tolist() == [
        "the ERP person belongs to customer:K2, not to the company's actor customer:K1"]


def test_pending_counts_and_a_sampled_dry_run(ws: Workspace) -> None:
    decide(ws, "company", "accept", "1", "supplier:L1")
    decide(ws, "company", "accept", "4", "customer:K9")
    decide(ws, "person", "accept", "P1", "person:E1")
    decide(ws, "company", "create", "5", actor_type="customer",
           create_values={"category": "Fisk"})
    assert pending(ws) == {"company": {"accept": 2, "create": 1},
                           "person": {"accept": 1, "create": 0},
                           "project": {"accept": 0, "create": 0}}
    sample = commit(ws, dry_run=True, first=1)
    # the first accept and the first create of each kind; P1's company is pending, so P1 is
    # planned under it rather than left out for want of a company link
    assert sample.actions[["action", "crm_id"]].values.tolist() == [
        ["link", "1"], ["link", "P1"], ["update_erp", "P1"], ["create_erp", "5"]]
    assert sample.left_out.empty
    with pytest.raises(CommitError, match="whole pending batch"):
        commit(ws, first=1)
    commit(ws)
    assert pending(ws)["company"] == {"accept": 0, "create": 0}


def test_a_cancelled_commit_writes_nothing(ws: Workspace) -> None:
    decide(ws, "company", "accept", "1", "supplier:L1")
    before = snapshot(ws)
    stop, stages = threading.Event(), []

    def progress(stage: str, fraction: float) -> None:
        stages.append(stage)
        if stage == "planning the project links":
            stop.set()  # taken at the next point: "writing the batch", inside the transaction

    with pytest.raises(Cancelled, match="the commit was cancelled"):
        commit(ws, progress=progress, cancel=stop)
    assert snapshot(ws) == before
    assert stages == ["planning the company links", "planning the person links",
                      "planning the project links"]
    assert commit(ws).counts["link"] == 1


def test_create_payload_defaults_and_mandatory_fields(ws: Workspace) -> None:
    decide(ws, "company", "create", "4", actor_type="customer",
           create_values={"category": "Fisk"})
    decide(ws, "company", "create", "5", actor_type="supplier")  # category is mandatory
    decide(ws, "person", "create", "P2", actor_type="person")  # company 2 not linked
    p = plan(ws)
    assert p.creates["payload"].tolist() == [{"actor_type": "customer", "fields": {
        "name": "Fjord Fisk AS", "vatno": "987654321", "postalcity": "Tromsø", "country": "NO",
        "category": "Fisk"}}]
    assert p.left_out[["crm_id", "reason"]].values.tolist() == [
        ["5", "mandatory field(s) without a value: category"],
        ["P2", "the person's company is not linked to an ERP actor: link or create it first"]]


# --- property: commit then undo is the identity ------------------------------------------------

PAIRS = [("1", "supplier:L1"), ("1", "customer:K2"), ("2", "customer:K1"), ("3", "customer:K1"),
         ("4", "customer:K9"), ("5", "customer:K2")]
FIELDS = ["name", "vatno", "postalcity", "phone"]


#: One step of the property: a decision on a pair, then the picks made on it.
STEPS = st.lists(st.tuples(
    st.sampled_from(PAIRS), st.sampled_from(["accept", "reject", "skip"]),
    st.lists(st.tuples(st.sampled_from(FIELDS), st.sampled_from(["crm", "erp", "value"]),
                       st.text(min_size=1, max_size=8)),
             max_size=3, unique_by=lambda p: p[0])), max_size=6)


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=STEPS)
def test_commit_then_undo_is_the_identity(companies_ws: Workspace,
                                          steps: list[tuple[Any, ...]]) -> None:
    # Everything is drawn before anything runs: what the workspace refuses (a one-to-one
    # DecisionError) can never change what hypothesis draws next, so a seed replays exactly.
    ws = companies_ws
    for (crm_id, erp), decision, picks in steps:
        try:
            decide(ws, "company", decision, crm_id, erp)
        except DecisionError:  # one-to-one refusals are part of the game
            continue
        for fld, choice, value in picks:
            pick(ws, "company", crm_id, erp, fld, choice, value if choice == "value" else None)
    before = _state(ws)
    batch = commit(ws).batch_id
    if batch is not None:  # else nothing was accepted: nothing to commit
        undo(ws, batch)
    assert _state(ws) == before
    # leave the shared workspace as the next example expects it
    ws.con.execute("DELETE FROM decisions; DELETE FROM picks")


# --- what a batch does, in a steward's words -----------------------------------------------


def test_an_action_reads_as_a_sentence_with_names_and_field_labels() -> None:
    from erpdata.steward.commit import action_sentence

    names = {"crm_name": "Nordisk Rør AS", "erp_name": "Nordisk Rør ASA"}
    assert action_sentence("link", "company", "12", "customer", "100071", '{"last_modified": '
                           'null}', **names) == (
        "link CRM company 12 Nordisk Rør AS → customer 100071 Nordisk Rør ASA")
    assert action_sentence("update_erp", "company", "12", "customer", "100071", {
        "fields": {"phone": "+47 22 33 44 55", "streetad1": "Storgata 1"},
        "before": {"phone": "22 33 44 55", "streetad1": None}}, **names) == (
        "update ERP customer 100071 Nordisk Rør ASA — Phone: 22 33 44 55 → +47 22 33 44 55; "
        "Street address 1: (empty) → Storgata 1")
    assert action_sentence("update_crm", "company", "12", "customer", "100071", json.dumps({
        "fields": {"postalzip": "0150"}, "before": {"postalzip": "150"}}), **names) == (
        "update CRM company 12 Nordisk Rør AS — Postcode: 150 → 0150")
    assert action_sentence("create_erp", "company", "12", "customer", None, {
        "actor_type": "customer", "fields": {"name": "Nordisk Rør AS", "vatno": None,
                                             "phone": "22 33 44 55"}},
        crm_name="Nordisk Rør AS") == (
        "create ERP customer for CRM company 12 Nordisk Rør AS — Name: Nordisk Rør AS; "
        "Phone: 22 33 44 55")
    assert action_sentence("link", "person", "P1", "person", "E1", {}, crm_name="Kari Berg",
                           erp_name="Kari Berg") == (
        "link CRM person P1 Kari Berg → ERP person E1 Kari Berg")
    assert action_sentence("unlink", "company", "12", "customer", "100071",
                           {"compensates": "link"}, **names) == (
        "unlink CRM company 12 Nordisk Rør AS from customer 100071 Nordisk Rør ASA "
        "(undoing an earlier link)")


def test_a_batch_sample_summary_and_history_read_in_plain_words(ws: Workspace) -> None:
    """The Commit page's sample, outcome and batch list: names looked up, no codes, no JSON
    (the CLI's summary keeps its codes: a contract for scripts)."""
    from erpdata.steward.commit import (
        batch_words,
        batches_in_words,
        describe_actions,
        summary_words,
    )

    decide(ws, "company", "accept", "1", "customer:K2", user="kari")
    decide(ws, "company", "accept", "4", "customer:K9", user="kari")
    pick(ws, "company", "4", "customer:K9", "name", "value", "Fjord Fisk Nord AS")
    preview = commit(ws, dry_run=True)
    assert describe_actions(ws, preview.actions) == [
        "link CRM company 1 Berg Bygg AB → customer K2 Berg Bygg",
        "link CRM company 4 Fjord Fisk AS → customer K9 Nordlys Energi AS",
        "update CRM company 4 Fjord Fisk AS — Name: Fjord Fisk AS → Fjord Fisk Nord AS; "
        "Org. no / VAT no: 987654321 → 911111111",
        "update ERP customer K2 Berg Bygg — Name: Berg Bygg → Berg Bygg AB; "
        "Org. no / VAT no: (empty) → 5560360793",
        "update ERP customer K9 Nordlys Energi AS — Name: Nordlys Energi AS → Fjord Fisk Nord "
        "AS; City: Bodø → Tromsø"]
    assert summary_words(preview).splitlines()[0] == (
        "Dry run: the batch would make 2 links, 1 CRM update, 2 ERP updates.")
    done = commit(ws, user="ola")
    assert summary_words(done).splitlines() == [
        "Batch 1 committed: 2 links, 1 CRM update, 2 ERP updates.",
        *overwrite_lines(done.overwrites, done=True)]
    shown = batches_in_words(ws)
    assert shown[["Batch", "By", "Status", "What", "Waiting to be sent"]].values.tolist() == [
        [1, "ola", "committed", "commit: 2 links, 1 CRM update, 2 ERP updates", 5]]
    assert batch_words({"what": "sync", "update_crm": 3}) == (
        "changes a sync brought in: 3 CRM updates")


def test_left_out_decisions_and_sync_conflicts_read_with_names_and_labels(ws: Workspace
                                                                          ) -> None:
    import pandas as pd

    from erpdata.steward.commit import conflicts_in_words, left_out_in_words

    left = pd.DataFrame({"kind": ["company", "company"], "crm_id": ["1", "5"],
                         "erp": ["customer:K2", "new supplier"],
                         "reason": ["the ERP record is already linked",
                                    "the ERP requires Name"]})
    assert left_out_in_words(ws, left).values.tolist() == [
        ["CRM company 1 Berg Bygg AB", "customer K2 Berg Bygg",
         "the ERP record is already linked"],
        ["CRM company 5 Zzyzx Quux", "a new ERP supplier", "the ERP requires Name"]]
    found = pd.DataFrame({"conflict_id": [7], "kind": ["company"], "crm_id": ["4"],
                          "erp_actor_type": ["customer"], "erp_id": ["K9"],
                          "field": ["postalcity"], "base_value": ["Bodø"],
                          "ours": ["Tromsø"], "theirs": ["Narvik"]})
    assert conflicts_in_words(ws, found).values.tolist() == [
        [7, "ERP customer K9 Nordlys Energi AS", "City", "Bodø", "Tromsø", "Narvik"]]
