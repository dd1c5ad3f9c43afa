"""Decisions: one by one and in bulk, superseding, one-to-one rules, remembered across runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from erpdata.ingest.load import load_file
from erpdata.matching import match_workspace
from erpdata.steward.decisions import (
    DecisionError,
    Filter,
    active,
    decide,
    decide_bulk,
    queue_facets,
    queue_page,
    revoke,
    withdraw,
)
from erpdata.workspace import Workspace
from tests.helpers import snapshot, write_text


@pytest.fixture
def ws(companies_ws: Workspace) -> Workspace:
    match_workspace(companies_ws, "company")
    return companies_ws


def _active(ws: Workspace) -> list[tuple[str, str | None, str | None, str]]:
    a = active(ws, "company")
    return sorted(zip(a["crm_id"], a["erp_actor_type"], a["erp_id"], a["decision"],
                      strict=True), key=str)


def test_a_decision_is_stamped_and_a_newer_one_supersedes_it(ws: Workspace) -> None:
    first = decide(ws, "company", "reject", "1", "supplier:L1", user="kari")
    second = decide(ws, "company", "accept", "1", "supplier:L1", user="ola")
    rows = ws.con.execute("SELECT decision_id, decision, decided_by, superseded_by FROM decisions "
                          "ORDER BY decision_id").fetchall()
    assert rows == [(first, "reject", "kari", second), (second, "accept", "ola", None)]


def test_accepting_another_erp_record_replaces_the_records_earlier_accept(ws: Workspace) -> None:
    decide(ws, "company", "accept", "1", "customer:K2")
    decide(ws, "company", "reject", "1", "customer:K9")
    decide(ws, "company", "accept", "1", "supplier:L1")
    assert _active(ws) == [("1", "customer", "K9", "reject"), ("1", "supplier", "L1", "accept")]


def test_one_erp_record_cannot_be_accepted_for_two_crm_records(ws: Workspace) -> None:
    decide(ws, "company", "accept", "2", "customer:K1")
    with pytest.raises(DecisionError, match="ERP company customer:K1 is already accepted to CRM "
                                            "company '2'; a probable CRM duplicate"):
        decide(ws, "company", "accept", "3", "customer:K1")


def test_a_linked_record_is_not_accepted_again(ws: Workspace) -> None:
    ws.con.execute("INSERT INTO links (kind, crm_id, erp_actor_type, erp_id, linked_by, "
                   "linked_at) VALUES ('company', '4', 'customer', 'K9', 'kari', now())")
    with pytest.raises(DecisionError, match="CRM company '4' is already linked to customer:K9; "
                                            "disconnect it first"):
        decide(ws, "company", "accept", "4", "customer:K2")
    with pytest.raises(DecisionError, match="already linked to CRM company '4'"):
        decide(ws, "company", "accept", "5", "customer:K9")


@pytest.mark.parametrize(("args", "message"), [
    (("accept", "99", "customer:K1"), "CRM company '99' is not in the workspace"),
    (("accept", "1", "customer:NOPE"), "ERP company 'customer:NOPE' is not in the workspace"),
    (("accept", "1", "K1"), "write it as actor_type:id"),
    (("accept", "1", "person:K1"), "'person:K1' is not an ERP company"),
    (("accept", "1", None), "accept needs the ERP record"),
    (("maybe", "1", "customer:K1"), "unknown decision 'maybe'"),
    (("create", "4", "customer:K1"), "give actor_type, not an ERP id"),
    (("create", "4", None), "one of customer, supplier, not None"),
])
def test_bad_decisions_say_why_and_write_nothing(ws: Workspace, args: tuple[str, str, str | None],
                                                 message: str) -> None:
    before = snapshot(ws)
    with pytest.raises(DecisionError, match=message):
        decide(ws, "company", *args)
    assert snapshot(ws) == before


def test_create_and_revoke(ws: Workspace) -> None:
    made = decide(ws, "company", "create", "4", actor_type="supplier",
                  create_values={"category": "Fisk"})
    assert _active(ws) == [("4", "supplier", None, "create")]
    assert ws.con.execute("SELECT create_values FROM decisions WHERE decision_id = ?",
                          [made]).fetchone() == ('{"category": "Fisk"}',)
    revoke(ws, made, user="kari")
    assert _active(ws) == [("4", "supplier", None, "skip")]
    with pytest.raises(DecisionError, match=f"already superseded by {made + 1}"):
        revoke(ws, made)


def test_withdraw_brings_back_what_was_there_before(ws: Workspace) -> None:
    skipped = decide(ws, "company", "skip", "1", "supplier:L1", user="kari")
    accepted = decide(ws, "company", "accept", "1", "supplier:L1", user="kari")
    assert withdraw(ws, accepted, user="ola") == [skipped]
    assert _active(ws) == [("1", "supplier", "L1", "skip")]
    assert withdraw(ws, skipped) == []
    assert _active(ws) == []  # undecided again, and back in the review queue
    assert queue_page(ws, Filter(band=None), state="undecided").rows["crm_id"].tolist() == [
        "2", "1"]
    assert ws.con.execute("SELECT actor, action, record_id, detail::VARCHAR FROM audit "
                          "ORDER BY audit_id LIMIT 1").fetchone() == (
        "ola", "withdraw", "1", f'{{"decision_id": {accepted}, "reactivated": [{skipped}]}}')
    with pytest.raises(DecisionError, match="no longer active"):
        withdraw(ws, accepted)


def test_withdraw_keeps_one_to_one(ws: Workspace) -> None:
    first = decide(ws, "company", "accept", "2", "customer:K1")
    second = decide(ws, "company", "accept", "2", "supplier:L1")  # changed mind: supersedes
    decide(ws, "company", "accept", "3", "customer:K1")  # K1 is free again, 3 takes it
    assert withdraw(ws, second) == []  # the accept of K1 for 2 would now be a second link
    assert ws.con.execute("SELECT superseded_by FROM decisions WHERE decision_id = ?",
                          [first]).fetchone() == (second,)
    assert _active(ws) == [("3", "customer", "K1", "accept")]


def test_a_committed_decision_is_undone_through_its_batch(ws: Workspace) -> None:
    made = decide(ws, "company", "accept", "1", "supplier:L1")
    ws.con.execute("UPDATE decisions SET batch_id = 7 WHERE decision_id = ?", [made])
    with pytest.raises(DecisionError, match="committed in batch 7: undo the batch instead "
                                            r"\(erpdata undo 7\)"):
        revoke(ws, made)


def test_bulk_reports_first_then_decides_only_undecided_pairs(ws: Workspace) -> None:
    links = ws.con.execute("SELECT crm_id, erp_actor_type || ':' || erp_id FROM suggestions "
                           "WHERE link ORDER BY crm_id").fetchall()
    assert links == [("1", "supplier:L1"), ("2", "customer:K1")]
    decide(ws, "company", "reject", "2", "customer:K1")
    before = snapshot(ws)
    preview = decide_bulk(ws, "accept", Filter(min_probability=0.0), dry_run=True)
    assert (preview.count, preview.left_out, preview.applied) == (1, 0, False)
    assert preview.sample[["crm_id", "erp"]].values.tolist() == [["1", "supplier:L1"]]
    assert snapshot(ws) == before
    done = decide_bulk(ws, "accept", Filter(min_probability=0.0), user="kari")
    assert (done.count, done.applied) == (1, True)
    assert _active(ws) == [("1", "supplier", "L1", "accept"), ("2", "customer", "K1", "reject")]
    assert decide_bulk(ws, "accept", Filter()).count == 0  # nothing left to decide


def test_bulk_accept_leaves_out_pairs_taken_elsewhere(ws: Workspace) -> None:
    decide(ws, "company", "accept", "3", "customer:K1")
    result = decide_bulk(ws, "accept", Filter(), dry_run=True)
    assert (result.count, result.left_out) == (1, 1)


@pytest.mark.parametrize(("f", "count"), [
    (Filter(band="low"), 0),
    (Filter(actor_type="supplier"), 1),
    (Filter(actor_type="customer", min_probability=0.0, max_probability=1.0), 1),
    (Filter(country="SE"), 0),  # no country loaded
    (Filter(conflict=True), 1),  # 2 and 3 want K1
])
def test_bulk_filters(ws: Workspace, f: Filter, count: int) -> None:
    assert decide_bulk(ws, "reject", f, dry_run=True).count == count


def test_decisions_survive_a_rematch(ws: Workspace) -> None:
    decide(ws, "company", "reject", "1", "supplier:L1")
    decide(ws, "company", "accept", "3", "customer:K1")
    match_workspace(ws, "company")
    assert _active(ws) == [("1", "supplier", "L1", "reject"), ("3", "customer", "K1", "accept")]
    assert ws.con.execute("SELECT count(*) FROM suggestions WHERE crm_id = '1' AND "
                          "erp_id = 'L1'").fetchone() == (0,)
    assert ws.con.execute("SELECT count(*) FROM suggestions WHERE crm_id = '2' AND "
                          "erp_id = 'K1' AND link").fetchone() == (0,)


def test_decisions_survive_a_reload(ws: Workspace, tmp_path: Path) -> None:
    decide(ws, "company", "reject", "1", "supplier:L1", user="kari")
    decide(ws, "company", "accept", "2", "customer:K1", user="kari")
    load_file(ws, write_text(tmp_path / "again.csv",
                             "id;name;vatno;postalcity\n1;Berg Bygg Aktiebolag;5560360793;Solna\n"
                             "2;Hansen & Co AS;923609016;Oslo\n"), side="crm", kind="company")
    assert _active(ws) == [("1", "supplier", "L1", "reject"), ("2", "customer", "K1", "accept")]
    match_workspace(ws, "company")
    assert ws.con.execute("SELECT count(*) FROM suggestions WHERE crm_id = '1' AND "
                          "erp_id = 'L1'").fetchone() == (0,)


def test_the_queue_pages_by_key_and_counts_its_facets(ws: Workspace) -> None:
    decide(ws, "company", "reject", "2", "customer:K1")
    first = queue_page(ws, Filter(), size=1)
    assert first.rows[["crm_id", "erp", "state"]].values.tolist() == [
        ["2", "customer:K1", "rejected"]]
    assert first.next_key == (first.rows["probability"].iloc[0], "2")
    second = queue_page(ws, Filter(), size=1, after=first.next_key)
    assert second.rows[["crm_id", "state"]].values.tolist() == [["1", "undecided"]]
    assert second.rows["probability"].iloc[0] <= first.rows["probability"].iloc[0]
    assert second.next_key is None
    assert queue_page(ws, Filter(), state="rejected").rows["crm_id"].tolist() == ["2"]
    facets = queue_facets(ws, Filter())
    assert facets["state"] == {"undecided": 1, "rejected": 1}
    assert facets["actor_type"] == {"supplier": 1, "customer": 1}
    with pytest.raises(DecisionError, match="unknown state 'maybe'"):
        queue_page(ws, Filter(), state="maybe")


def test_the_decision_filter_bounds_the_listing_and_the_bulk_alike(ws: Workspace) -> None:
    decide(ws, "company", "skip", "1", "supplier:L1")  # 2 -> K1 stays undecided, a conflict
    skipped = Filter(state="skipped")
    assert queue_page(ws, skipped).rows["crm_id"].tolist() == ["1"]
    offer = decide_bulk(ws, "accept", skipped, dry_run=True)
    assert (offer.count, offer.listed, offer.sample["crm_id"].tolist()) == (1, 1, ["1"])
    anything = decide_bulk(ws, "accept", Filter(), dry_run=True)
    assert (anything.count, anything.skipped, anything.conflicts, anything.left_out,
            anything.decided) == (0, 1, 1, 0, 0)
    assert queue_page(ws, Filter(state="undecided")).rows["crm_id"].tolist() == ["2"]
    assert decide_bulk(ws, "accept", Filter(state="undecided"), dry_run=True).count == 0
    assert decide_bulk(ws, "accept", Filter(state="undecided", conflict=True),
                       dry_run=True).count == 1
    assert decide_bulk(ws, "reject", Filter(), dry_run=True).count == 1  # 2: rejects take all
    assert decide_bulk(ws, "accept", Filter(state="rejected"), dry_run=True).listed == 0
    with pytest.raises(DecisionError, match="unknown state 'maybe'"):
        decide_bulk(ws, "accept", Filter(state="maybe"), dry_run=True)


def test_a_bulk_accept_of_skipped_pairs_supersedes_their_skips(ws: Workspace) -> None:
    skip = decide(ws, "company", "skip", "1", "supplier:L1")
    assert decide_bulk(ws, "accept", Filter(state="skipped"), user="kari").count == 1
    assert _active(ws) == [("1", "supplier", "L1", "accept")]
    (accepted,) = ws.con.execute("SELECT decision_id FROM decisions WHERE decision = 'accept'"
                                 ).fetchone() or (None,)
    assert ws.con.execute("SELECT superseded_by FROM decisions WHERE decision_id = ?",
                          [skip]).fetchone() == (accepted,)
    assert queue_facets(ws, Filter())["state"] == {"accepted": 1, "undecided": 1}


@pytest.mark.parametrize("f", [
    Filter(), Filter(state="undecided"), Filter(state="skipped"), Filter(state="rejected"),
    Filter(conflict=True), Filter(conflict=False, state="skipped"), Filter(band="low"),
    Filter(actor_type="customer"), Filter(min_probability=0.99),
])
def test_a_bulk_decision_counts_exactly_the_links_the_listing_shows(ws: Workspace,
                                                                   f: Filter) -> None:
    decide(ws, "company", "skip", "1", "supplier:L1")
    shown = len(queue_page(ws, f, size=100).rows)
    for decision in ("accept", "reject", "skip"):
        assert decide_bulk(ws, decision, f, dry_run=True).listed == shown, decision


def test_skipped_pairs_return_to_the_review_queue_after_the_undecided(ws: Workspace) -> None:
    queue = Filter()
    assert queue_page(ws, queue, state="undecided").rows["crm_id"].tolist() == ["2", "1"]
    decide(ws, "company", "skip", "2", "customer:K1")
    assert queue_page(ws, queue, state="undecided").rows["crm_id"].tolist() == ["1", "2"]
    first = queue_page(ws, queue, state="undecided", size=1)
    assert (first.rows["crm_id"].tolist(), first.next_key) == (
        ["1"], (first.rows["probability"].iloc[0], "1"))
    second = queue_page(ws, queue, state="undecided", size=1, after=first.next_key)
    assert (second.rows[["crm_id", "state"]].values.tolist(), second.next_key) == (
        [["2", "skipped"]], None)
    decide(ws, "company", "skip", "1", "supplier:L1")  # the longest-skipped comes first
    assert queue_page(ws, queue, state="undecided").rows["crm_id"].tolist() == ["2", "1"]
    key = (float(second.rows["probability"].iloc[0]), "2")  # as the Review page builds it
    assert queue_page(ws, queue, state="undecided", after=key).rows["crm_id"].tolist() == ["1"]
    decide(ws, "company", "skip", "2", "customer:K1")  # skipped again: to the back
    assert queue_page(ws, queue, state="undecided").rows["crm_id"].tolist() == ["1", "2"]
    assert queue_page(ws, queue, state="undecided", after=key).rows.empty
    assert queue_page(ws, Filter(state="undecided")).rows.empty  # the exact filter: no skips


def test_the_command_line_decides_skipped_pairs_with_state_skipped(
        ws: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    from erpdata.cli import main

    decide(ws, "company", "skip", "1", "supplier:L1")
    path = ws.path
    ws.close()
    args = ["--workspace", str(path), "accept", "--user", "kari"]
    assert main(args) == 0
    assert capsys.readouterr().err.startswith(
        "accepted 0 suggested company link(s); left 1 in conflicts for review (--conflict to "
        "take them); left out 1 skipped (--state skipped to take them)")
    assert main([*args, "--state", "skipped"]) == 0
    assert capsys.readouterr().err.startswith("accepted 1 suggested company link(s)")
    with Workspace.open(path) as again:
        assert _active(again) == [("1", "supplier", "L1", "accept")]


def test_the_queue_read_in_stored_order_is_the_sorted_queue(tmp_path: Path) -> None:
    """A page read without sorting (the run stored the suggestions in the queue's order) is
    the page a sort gives, on every page and filter; and suggestions stored without that order
    (no meta entry, as in a workspace from before) are sorted per page."""
    from erpdata.demo import build_demo
    from erpdata.steward.decisions import display_order_key

    with Workspace.open(tmp_path / "demo.duckdb") as ws:
        build_demo(ws, size=400, seed=4)
        match_workspace(ws, "company")
        decide_bulk(ws, "accept", Filter(band="auto", state="undecided"), user="kari")
        assert ws.get_meta(display_order_key("company")) == "1"

        def sorted_(flt: Filter) -> list[tuple[str, float]]:
            return sorted(_listed(ws, flt, 10_000), key=lambda r: (-r[1], r[0]))

        for flt in (Filter(), Filter(band="review"), Filter(state="accepted"),
                    Filter(conflict=False, actor_type="customer")):
            assert _listed(ws, flt, 7) == sorted_(flt) != []

        # stored in another order, with no word of it: sorted per page
        ws.con.execute("CREATE TEMP TABLE s AS SELECT * FROM suggestions ORDER BY crm_id DESC")
        ws.con.execute("DELETE FROM suggestions")
        ws.con.execute("INSERT INTO suggestions SELECT * FROM s ORDER BY crm_id DESC")
        ws.con.execute("DELETE FROM meta WHERE key = ?", [display_order_key("company")])
        assert _listed(ws, Filter(), 7) == sorted_(Filter())


def _listed(ws: Workspace, flt: Filter, size: int) -> list[tuple[str, float]]:
    """Every row of the queue, page by page."""
    out, key = [], None
    while True:
        page = queue_page(ws, flt, after=key, size=size)
        out += list(zip(page.rows["crm_id"], page.rows["probability"], strict=True))
        if (key := page.next_key) is None:
            return out


def test_a_run_that_changed_few_pairs_appends_them_and_the_queue_merges(
        tmp_path: Path) -> None:
    """After a re-load that changed a few records, the run deletes the rows it changed and
    appends its own; pages read the first run's rows in stored order and merge the later
    run's: every page is what a sort gives. A re-load that changed many has all rows written
    again, in order, by the run that names itself in the meta entry."""
    from erpdata.check import check
    from erpdata.demo import build_demo
    from erpdata.steward.decisions import display_order_key

    def runs(ws: Workspace) -> list[int]:
        return [r for (r,) in ws.con.execute("SELECT run_id FROM suggestions").fetchall()]

    with Workspace.open(tmp_path / "demo.duckdb") as ws:
        build_demo(ws, size=1000, seed=4)
        match_workspace(ws, "company")
        ws.con.execute("UPDATE crm_company SET name = name || ' AS', postalcity = 'Bodø' "
                       "WHERE hash(id) % 60 = 1")
        match_workspace(ws, "company")
        assert runs(ws) == sorted(runs(ws)) and set(runs(ws)) == {1, 2}
        assert ws.get_meta(display_order_key("company")) == "1" and check(ws) == []
        decide_bulk(ws, "skip", Filter(band="review"), user="kari")
        assert check(ws) == []  # unique rows, states as the decisions say
        for flt in (Filter(), Filter(state="skipped"), Filter(conflict=False,
                                                              actor_type="customer")):
            got = _listed(ws, flt, 7)
            assert got == sorted(got, key=lambda r: (-r[1], r[0]))
            assert got == _sorted_queue(ws, flt) != []
        # the later run's rows are among the pages
        later = {c for (c,) in ws.con.execute(
            "SELECT crm_id FROM suggestions WHERE run_id = 2 AND link").fetchall()}
        assert later and later <= {c for c, _ in _listed(ws, Filter(), 7)}
        ws.con.execute("UPDATE crm_company SET name = name || ' AS' WHERE hash(id) % 3 = 1")
        match_workspace(ws, "company")
        assert set(runs(ws)) == {3} and ws.get_meta(display_order_key("company")) == "3"
        assert _listed(ws, Filter(), 7) == _sorted_queue(ws, Filter())


def _sorted_queue(ws: Workspace, flt: Filter) -> list[tuple[str, float]]:
    """The queue as a sort gives it, without the stored order (the meta entry dropped for
    the read)."""
    from erpdata.steward.decisions import display_order_key

    key = display_order_key(flt.kind)
    kept = ws.get_meta(key)
    ws.con.execute("DELETE FROM meta WHERE key = ?", [key])
    try:
        return _listed(ws, flt, 1000)
    finally:
        ws.set_meta(key, str(kept))


def test_counts_of_the_queue_are_reused_only_while_the_states_stay_as_they_were(
        ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    """Facets and a dry run's counts are kept per version of the stored states: asked again
    with nothing changed they are not counted again, and after every kind of change (a
    decision, its revoke, a new match run) they are what a fresh count says."""
    from erpdata.steward import decisions as module

    computed: list[str] = []
    real = module._facets
    monkeypatch.setattr(module, "_facets", lambda cur, k, f: computed.append("f") or real(
        cur, k, f))

    def counts() -> tuple[dict, int]:
        return (queue_facets(ws, Filter())["state"],
                decide_bulk(ws, "accept", Filter(), dry_run=True, sample=0).count)

    def fresh() -> tuple[dict, int]:
        module._COUNTED.clear()
        return counts()

    first = counts()
    assert first == ({"undecided": 2}, 1) and counts() == first
    assert computed == ["f"]  # asked again: from the cache
    decision_id = decide(ws, "company", "reject", "2", "customer:K1")
    assert counts()[0] == {"undecided": 1, "rejected": 1} and counts() == fresh()
    revoke(ws, decision_id)
    assert counts() == fresh()
    decide(ws, "company", "accept", "1", "supplier:L1")
    assert counts()[0] == {"skipped": 1, "accepted": 1} and counts() == fresh()
    match_workspace(ws, "company")
    assert counts() == fresh()
    assert computed == ["f"] * 9  # each change counted once, then from the cache
    # a filter on country reads the records, which a load changes: never cached
    queue_facets(ws, Filter(country="NO"))
    queue_facets(ws, Filter(country="NO"))
    assert computed == ["f"] * 11

    # another workspace at the same path is not the first one's version
    path = ws.path
    ws.close()
    path.unlink()
    with Workspace.open(path) as other:
        assert queue_facets(other, Filter())["state"] == {}
