"""The Review page under AppTest: one pair at a time, one button (key) per decision and per pick,
whole addresses picked as one, the competing CRM record and its "duplicate" key, the waterfall."""

from __future__ import annotations

from pathlib import Path

import pytest

from erpdata import Filter, build_demo, match_workspace, queue_page
from erpdata.steward.review import competitors
from erpdata.workspace import Workspace


@pytest.fixture
def matched(tmp_path: Path) -> Path:
    path = tmp_path / "review.duckdb"
    with Workspace.open(path) as ws:
        build_demo(ws, size=200, seed=3)
        match_workspace(ws, "company")
    return path


def _rows(path: Path, sql: str) -> list[tuple]:
    with Workspace.open(path) as ws:  # a second connection to the app's database
        return ws.con.execute(sql).fetchall()


def _shown(at) -> str:
    """The CRM id of the pair on screen (the caption reads "CRM company 25 · ERP ...")."""
    return at.caption[0].value.split()[2]


def _button(at, label_start: str):
    return next(b for b in at.button if b.label.startswith(label_start))


def test_review_one_pair_pick_an_address_and_decide(matched: Path, open_page) -> None:
    at = open_page(matched, "review")  # the review band by default
    first = at.caption[0].value
    crm_id = _shown(at)
    assert at.caption[0].value.startswith(f"CRM company {crm_id} · ERP customer ")
    # the first pair's street address differs: one button (key 1) takes the whole of it
    item = at.button(key="review_item_1")
    assert item.label == "1 · Street address → ERP"
    item.click().run()
    assert not at.exception
    assert at.success[0].value == "Street address: ERP value kept (2 field(s))"
    assert _rows(matched, "SELECT crm_id, erp_field, choice, picked_by FROM picks "
                          "ORDER BY erp_field") == [(crm_id, "streetad1", "erp", "tester"),
                                                    (crm_id, "streetzip", "erp", "tester")]
    assert at.button(key="review_item_1").label == "1 · Street address → CRM"  # toggles
    at.button(key="review_all_crm").click().run()  # key M: every line from the CRM
    assert at.success[0].value == "All fields: CRM value kept (4 field(s))"
    assert set(_rows(matched, "SELECT choice FROM picks")) == {("crm",)}
    at.button(key="review_accept").click().run()
    assert not at.exception
    assert at.success[0].value.startswith(f"Accept: {crm_id} ↔ customer:")
    assert at.caption[0].value != first  # the next pair is shown
    assert _rows(matched, "SELECT crm_id, decision, decided_by FROM decisions") == [
        (crm_id, "accept", "tester")]
    # next and previous keep the place without deciding
    shown = at.caption[0].value
    at.button(key="review_next").click().run()
    assert at.caption[0].value != shown
    at.button(key="review_prev").click().run()
    assert at.caption[0].value == shown
    # undo last: the accepted pair is undecided again and shown again
    at.button(key="review_undo").click().run()
    assert not at.exception
    assert at.success[0].value.startswith(f"Undone: accept of {crm_id} ↔ ")
    assert at.caption[0].value == first
    assert _rows(matched, "SELECT count(*) FROM decisions WHERE superseded_by IS NULL") == [(0,)]
    assert at.button(key="review_undo").disabled


def test_every_decision_and_pick_has_its_key(matched: Path, open_page) -> None:
    at = open_page(matched, "review")
    keys = {b.key: b.proto.shortcut for b in at.button if b.proto.shortcut}
    assert {k: v for k, v in keys.items() if not k.startswith("review_item_")} == {
        "review_accept": "a", "review_reject": "x", "review_skip": "s", "review_next": "n",
        "review_prev": "p", "review_undo": "u", "review_duplicate": "d",
        "review_all_crm": "m", "review_all_erp": "e"}
    assert [v for k, v in keys.items() if k.startswith("review_item_")] == ["1", "2"]
    # no radio, select or text box outside the expander that holds the typed value
    assert [r.key for r in at.radio] == [f"one_choice_{_shown(at)}"]
    assert [t.key for t in at.text_input] == [f"one_value_{_shown(at)}"]


def test_a_typed_value_is_stored_and_an_empty_one_refused(matched: Path, open_page) -> None:
    at = open_page(matched, "review")
    crm_id = _shown(at)
    at.selectbox(key=f"one_field_{crm_id}").set_value("phone")
    at.radio(key=f"one_choice_{crm_id}").set_value("value")
    _button(at, "Store").click().run()
    assert at.error[0].value == "Phone: type a value first; nothing was stored"
    assert _rows(matched, "SELECT count(*) FROM picks") == [(0,)]
    at.text_input(key=f"one_value_{crm_id}").set_value("+47 22 33 44 55")
    _button(at, "Store").click().run()
    assert not at.exception and at.success[0].value == "Phone: Typed value kept"
    assert _rows(matched, "SELECT erp_field, choice, value FROM picks") == [
        ("phone", "value", "+47 22 33 44 55")]


def test_the_competing_crm_record_and_the_duplicate_key(matched: Path, open_page) -> None:
    with Workspace.open(matched) as ws:
        queue = queue_page(ws, Filter(kind="company", band="review"), state="undecided").rows
        target = next(r for r in queue.itertuples()
                      if len(competitors(ws, "company", r.crm_id, r.erp)))
        rival = competitors(ws, "company", target.crm_id, target.erp).iloc[0]
    at = open_page(matched, "review")
    assert at.button(key="review_duplicate").disabled == (_shown(at) != target.crm_id)
    while _shown(at) != target.crm_id:
        at.button(key="review_next").click().run()
    assert (f"1 other CRM record(s) want this ERP record, best: {rival.crm_name}"
            in at.caption[0].value)
    tables = [t.value for t in at.dataframe]
    assert any(list(t.columns)[:2] == ["CRM record", "Name"]
               and t["CRM record"].tolist() == [f"CRM company {rival.crm_id}"] for t in tables)
    at.button(key="review_duplicate").click().run()
    assert not at.exception
    assert at.success[0].value == (
        f"Reject: {target.crm_id} ↔ {target.erp}: CRM company {target.crm_id} "
        f"{target.crm_name} is a duplicate of CRM company {rival.crm_id} {rival.crm_name}")
    assert _rows(matched, "SELECT crm_id, decision, note FROM decisions") == [
        (target.crm_id, "reject",
         f"CRM duplicate of CRM company {rival.crm_id} {rival.crm_name}")]


def test_why_this_score_is_a_labelled_waterfall(matched: Path, open_page) -> None:
    at = open_page(matched, "review")
    steps = next(t.value for t in at.dataframe if "Agreement" in t.value.columns)
    assert list(steps.columns) == ["Field", "CRM", "ERP", "Agreement", "Weight", "Probability"]
    assert steps["Field"].iloc[0] == "Starting point: how often two records match"
    assert {"Name", "E-mail", "Postcode"} <= set(steps["Field"])
    assert not any(f in set(steps["Field"]) for f in ("postalzip", "streetad1", "vatno"))
    assert any(c.value.startswith("The fields add up to ") for c in at.caption)


def test_nothing_to_review(empty_workspace: Path, open_page) -> None:
    at = open_page(empty_workspace, "review")
    assert "Nothing left to review" in at.info[0].value
