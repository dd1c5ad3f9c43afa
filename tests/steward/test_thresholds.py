"""The band thresholds a steward fixes: they apply from the next run, are audited, are checked
and need the admin role."""

from __future__ import annotations

import pytest

from erpdata.errors import ErpdataError
from erpdata.workspace import Workspace


def test_fixed_thresholds_apply_from_the_next_run_and_are_audited(
        companies_ws: Workspace) -> None:
    from erpdata.matching import match_workspace
    from erpdata.roles import AccessDenied, grant
    from erpdata.steward.thresholds import save_thresholds, thresholds

    run = match_workspace(companies_ws, "company")
    model = run.thresholds
    assert thresholds(companies_ws, "company") == {}
    assert save_thresholds(companies_ws, "company", review=0.9999, user="kari") == {
        "review": 0.9999}
    fixed = match_workspace(companies_ws, "company").thresholds
    assert fixed["review"] == 0.9999 and fixed["auto"] == max(model["auto"], 0.9999)
    links = companies_ws.con.execute(
        "SELECT count(*) FROM suggestions WHERE link AND probability < 0.9999").fetchone()
    assert links == (0,)
    assert companies_ws.con.execute(
        "SELECT actor, kind, before_value, after_value FROM audit WHERE action = 'thresholds'"
    ).fetchall() == [("kari", "company", "{}", '{"review": 0.9999}')]
    save_thresholds(companies_ws, "company", user="kari")  # freed: the model chooses again
    assert thresholds(companies_ws, "company") == {}
    with pytest.raises(ErpdataError, match=r"auto limit \(0.5\) must not be below the review "
                                           r"limit \(0.9\)"):
        save_thresholds(companies_ws, "company", auto=0.5, review=0.9)
    with pytest.raises(ErpdataError, match=r"not review 1\.5"):
        save_thresholds(companies_ws, "company", review=1.5)
    grant(companies_ws, "kari", "admin", user="kari")
    with pytest.raises(AccessDenied, match="changing thresholds needs the admin role"):
        save_thresholds(companies_ws, "company", auto=0.99, user="ola")
