"""SQL text built from names (ruff S608): a name read back from the workspace or passed by a
caller reaches the SQL only when it is on its whitelist, or quoted by :mod:`erpdata.sql`.

Each test feeds a name that would change the statement if it were pasted in as it is."""

from __future__ import annotations

import pytest

from erpdata.check import check
from erpdata.steward import decisions, states
from erpdata.steward.commit import CommitError, commit, undo
from erpdata.steward.decisions import decide
from erpdata.steward.mappings import FieldMapping, save_mappings
from erpdata.steward.review import ReviewError, diff, pick
from erpdata.steward.search import parent_of
from erpdata.workspace import Workspace
from tests.helpers import snapshot

#: A field name that, pasted between double quotes, sets a second column.
_SMUGGLED = "postalcity\" = 'pwned', \"name"


def test_undo_refuses_a_field_name_from_a_damaged_audit(companies_ws: Workspace) -> None:
    ws = companies_ws
    decide(ws, "company", "accept", "4", "customer:K9")
    pick(ws, "company", "4", "customer:K9", "postalcity", "erp")
    batch = commit(ws).batch_id
    assert batch is not None
    ws.con.execute("UPDATE audit SET field = ? WHERE batch_id = ? "
                   "AND action IN ('update_crm', 'update_erp')", [_SMUGGLED, batch])
    before = snapshot(ws)
    with pytest.raises(CommitError, match="not a field of the workspace"):
        undo(ws, batch)
    assert snapshot(ws) == before
    assert ws.con.execute("SELECT count(*) FROM crm_company WHERE postalcity = 'pwned' "
                          "OR name = 'pwned'").fetchone() == (0,)


def test_review_refuses_a_stored_mapping_that_names_no_field(companies_ws: Workspace) -> None:
    ws = companies_ws
    save_mappings(ws, "company", [FieldMapping("name", "name", "both", mandatory=True)])
    assert len(diff(ws, "company", "4", "customer:K9")) == 1
    # a row save_mappings would refuse, written behind its back
    ws.con.execute("UPDATE field_mappings SET crm_field = 'name, 1 AS x' "
                   "WHERE kind = 'company' AND erp_field = 'name'")
    with pytest.raises(ReviewError, match=r"names CRM 'name, 1 AS x', which are no company"):
        diff(ws, "company", "4", "customer:K9")


@pytest.mark.parametrize("kind", ["person c; DROP TABLE links; --", "Company"])
def test_a_kind_that_names_a_table_is_checked(companies_ws: Workspace, kind: str) -> None:
    with pytest.raises(ValueError, match="unknown kind"):
        parent_of(companies_ws, kind, "1")
    with pytest.raises(ValueError, match="unknown kind"):
        states.update_sql(kind, only_listed=False)
    with pytest.raises(ValueError, match="unknown kind"):
        decisions._active_accepts(kind)  # type: ignore[arg-type]
    assert companies_ws.con.execute("SELECT count(*) FROM links").fetchone() == (0,)


def test_secret_scan_quotes_catalog_names(companies_ws: Workspace,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    ws = companies_ws
    ws.con.execute('CREATE TABLE "odd ""notes" ("the ""text" VARCHAR)')
    ws.con.execute('INSERT INTO "odd ""notes" VALUES (\'token s3cr3t-value here\')')
    monkeypatch.setenv("ERPDATA_SECRET_TEST", "s3cr3t-value")
    found = [str(v) for v in check(ws) if v.invariant == 8]
    assert found == ['invariant 8: the secret of $ERPDATA_SECRET_TEST is written in '
                     'odd "notes.the "text (1 row(s))']
