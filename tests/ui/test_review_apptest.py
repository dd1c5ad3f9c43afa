"""The Review page under AppTest: one pair at a time, picks per field, decisions at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from erpdata import build_demo, match_workspace
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


def test_review_one_pair_pick_a_field_and_decide(matched: Path, open_page) -> None:
    at = open_page(matched, "review")  # the review band by default
    first = at.caption[0].value
    crm_id = first.split()[2]
    # a conflicting, synchronised field gets a picker; choose the ERP value
    radios = [r for r in at.radio if r.key.startswith(f"pick_{crm_id}_")]
    assert radios, "a review-band pair of the demo has a conflicting field"
    field = radios[0].key.removeprefix(f"pick_{crm_id}_")
    other = "erp" if radios[0].value == "crm" else "crm"
    radios[0].set_value(other).run()
    assert not at.exception
    assert at.success[0].value == f"{field}: {'ERP' if other == 'erp' else 'CRM'} value kept"
    assert _rows(matched, "SELECT crm_id, erp_field, choice, picked_by FROM picks") == [
        (crm_id, field, other, "tester")]
    at.button(key="review_accept").click().run()
    assert not at.exception
    assert at.success[0].value.startswith(f"Accept: {crm_id} ↔ ")
    assert at.caption[0].value != first  # the next pair is shown
    assert _rows(matched, "SELECT crm_id, decision, decided_by FROM decisions") == [
        (crm_id, "accept", "tester")]
    # next and previous keep the place without deciding
    shown = at.caption[0].value
    at.button(key="review_next").click().run()
    assert at.caption[0].value != shown
    at.button(key="review_prev").click().run()
    assert at.caption[0].value == shown
    assert len(at.dataframe) >= 1 and not at.exception
    # undo last: the accepted pair is undecided again and shown again
    at.button(key="review_undo").click().run()
    assert not at.exception
    assert at.success[0].value.startswith(f"Undone: accept of {crm_id} ↔ ")
    assert at.caption[0].value == first
    assert _rows(matched, "SELECT count(*) FROM decisions WHERE superseded_by IS NULL") == [(0,)]
    assert at.button(key="review_undo").disabled


def test_nothing_to_review(empty_workspace: Path, open_page) -> None:
    at = open_page(empty_workspace, "review")
    assert "Nothing left to review" in at.info[0].value


def test_an_accept_right_after_a_pick_keeps_the_pick(matched: Path, open_page) -> None:
    """The pick and the Accept arrive in one script run (a fast steward): both are stored."""
    at = open_page(matched, "review")
    crm_id = at.caption[0].value.split()[2]
    radio = next(r for r in at.radio if r.key.startswith(f"pick_{crm_id}_"))
    field = radio.key.removeprefix(f"pick_{crm_id}_")
    other = "erp" if radio.value == "crm" else "crm"
    radio.set_value(other)
    at.button(key="review_accept").click().run()
    assert not at.exception
    assert _rows(matched, "SELECT crm_id, erp_field, choice FROM picks") == [
        (crm_id, field, other)]
    assert _rows(matched, "SELECT crm_id, decision FROM decisions") == [(crm_id, "accept")]
