"""The stored decision state of each suggestion stays equal to its definition after every
kind of write (decide, bulk, withdraw, revoke, commit, undo, disconnect, a new match run)."""

from __future__ import annotations

from erpdata.matching import match_workspace
from erpdata.schema import KINDS
from erpdata.steward.commit import commit, disconnect, undo
from erpdata.steward.decisions import (
    Filter,
    decide,
    decide_bulk,
    queue_facets,
    queue_summary,
    revoke,
    withdraw,
)
from erpdata.steward.states import refresh
from erpdata.workspace import Workspace


def _stored(ws: Workspace) -> list[tuple]:
    return ws.con.execute("SELECT kind, crm_id, erp_actor_type, erp_id, state FROM suggestions "
                          "ORDER BY ALL").fetchall()


def assert_current(ws: Workspace) -> dict[str, int]:
    """The stored states equal a recomputation from scratch; returns the state counts."""
    stored = _stored(ws)
    ws.con.execute("BEGIN TRANSACTION")
    try:
        for kind in KINDS:
            refresh(ws.con, kind)
        assert _stored(ws) == stored
    finally:
        ws.con.execute("ROLLBACK")
    return queue_facets(ws, Filter(kind="company"))["state"]


def test_every_write_keeps_the_stored_states_current(companies_ws: Workspace) -> None:
    ws = companies_ws
    match_workspace(ws, "company")
    assert assert_current(ws) == {"undecided": 2}
    assert queue_summary(ws)["company"] == {"undecided": 2, "conflicts": 1}
    rejected = decide(ws, "company", "reject", "1", "supplier:L1")
    assert assert_current(ws) == {"undecided": 1, "rejected": 1}
    revoke(ws, rejected)
    assert assert_current(ws) == {"undecided": 1, "skipped": 1}
    decide_bulk(ws, "accept", Filter(kind="company", conflict=True))  # a conflict: asked for
    assert assert_current(ws) == {"accepted": 1, "skipped": 1}
    accepted = decide(ws, "company", "accept", "1", "supplier:L1")
    assert assert_current(ws) == {"accepted": 2}
    withdraw(ws, accepted)
    assert assert_current(ws) == {"accepted": 1, "skipped": 1}
    decide(ws, "company", "accept", "1", "supplier:L1")
    batch = commit(ws).batch_id
    assert assert_current(ws) == {"linked": 2}
    assert batch is not None
    undo(ws, batch)
    assert assert_current(ws) == {"accepted": 2}
    batch = commit(ws).batch_id
    gone = disconnect(ws, "company", ["1"]).batch_id
    assert assert_current(ws) == {"linked": 1, "accepted": 1}
    assert gone is not None
    undo(ws, gone)
    assert assert_current(ws) == {"linked": 2}
    match_workspace(ws, "company")  # a new run: its suggestions get their states at once
    assert_current(ws)
