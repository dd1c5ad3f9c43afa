"""Roles are checked in the engine: a viewer cannot decide, commit or change mappings."""

from __future__ import annotations

import pytest

from erpdata.errors import ErpdataError
from erpdata.ingest.load import load_file
from erpdata.matching import match_workspace
from erpdata.roles import AccessDenied, grant, role_of, users
from erpdata.steward.commit import commit, undo
from erpdata.steward.decisions import Filter, decide, decide_bulk
from erpdata.steward.mappings import DEFAULTS, save_mappings
from erpdata.steward.review import pick
from erpdata.workspace import Workspace
from tests.helpers import snapshot


@pytest.fixture
def ws(companies_ws: Workspace) -> Workspace:
    match_workspace(companies_ws, "company")
    return companies_ws


def test_a_workspace_without_users_is_a_one_person_one(ws: Workspace) -> None:
    assert role_of(ws, "anyone") == "admin"
    decide(ws, "company", "accept", "1", "supplier:L1", user="anyone")


def test_the_first_grant_keeps_its_author_and_lists_everyone_else_as_viewer(
        ws: Workspace) -> None:
    grant(ws, "ola", "steward", user="kari")
    assert users(ws)[["name", "role"]].values.tolist() == [["kari", "admin"],
                                                          ["ola", "steward"]]
    assert (role_of(ws, "kari"), role_of(ws, "ola"), role_of(ws, "per")) == (
        "admin", "steward", "viewer")
    with pytest.raises(AccessDenied, match="user 'ola' is a steward: granting roles needs "
                                           "the admin role"):
        grant(ws, "per", "admin", user="ola")
    with pytest.raises(ErpdataError, match="unknown role 'boss'"):
        grant(ws, "per", "boss", user="kari")


@pytest.mark.parametrize(("action", "needed"), [
    (lambda ws: decide(ws, "company", "accept", "1", "supplier:L1", user="per"), "steward"),
    (lambda ws: decide_bulk(ws, "accept", Filter(), user="per"), "steward"),
    (lambda ws: pick(ws, "company", "1", "supplier:L1", "name", "crm", user="per"), "steward"),
    (lambda ws: commit(ws, user="per"), "steward"),
    (lambda ws: undo(ws, 1, user="per"), "steward"),
    (lambda ws: save_mappings(ws, "company", list(DEFAULTS["company"]), user="ola"), "admin"),
])
def test_roles_are_enforced_by_the_engine(ws: Workspace, action, needed: str) -> None:
    grant(ws, "ola", "steward", user="kari")
    before = snapshot(ws)
    with pytest.raises(AccessDenied, match=f"needs the {needed} role"):
        action(ws)
    assert snapshot(ws) == before


def test_a_viewer_can_neither_load_nor_match(ws: Workspace, tmp_path) -> None:
    """The issue's case: eve, a viewer, loaded a file and ran matching; both are refused
    now, with who she is, her role and the role needed, and nothing is written."""
    grant(ws, "ola", "steward", user="kari")
    f = tmp_path / "more.csv"
    f.write_text("id;name\n9;Eve Test AS\n", encoding="utf-8")
    before = snapshot(ws)
    with pytest.raises(AccessDenied, match=r"^user 'eve' is a viewer: loading files needs "
                                            r"the steward role"):
        load_file(ws, f, side="crm", kind="company", partial=True, user="eve")
    with pytest.raises(AccessDenied, match=r"^user 'eve' is a viewer: running matching needs "
                                            r"the steward role"):
        match_workspace(ws, "company", user="eve")
    assert snapshot(ws) == before
    assert load_file(ws, f, side="crm", kind="company", partial=True, user="ola").inserted == 1


def test_a_viewer_may_look_at_the_pending_batch(ws: Workspace) -> None:
    decide(ws, "company", "accept", "1", "supplier:L1", user="kari")
    grant(ws, "ola", "steward", user="kari")
    assert commit(ws, dry_run=True, user="per").counts["link"] == 1
    assert commit(ws, user="ola").batch_id == 1
