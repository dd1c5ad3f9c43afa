"""Security: identifiers that are SQL, in every place a user can name a column or field, are
data or a clear refusal, never SQL (all SQL is parameterised or built from allow-listed
identifiers)."""

from __future__ import annotations

from pathlib import Path

import pytest

from erpdata.errors import ErpdataError
from erpdata.ingest import load_file
from erpdata.search import search_erp
from erpdata.settings import FieldMapping, save_mappings
from erpdata.workspace import Workspace
from tests.helpers import snapshot, write_text

EVIL = ['x"; DROP TABLE links; --', "'); DROP TABLE decisions; --", 'name" = 1 OR "1']


def test_sql_in_headers_is_kept_as_data(tmp_path: Path) -> None:
    with Workspace.open(tmp_path / "w.duckdb") as ws:
        header = ";".join(['id', 'name', *('"' + e.replace('"', '""') + '"' for e in EVIL)])
        result = load_file(ws, write_text(tmp_path / "c.csv", header + "\n1;A;a;b;c\n"),
                           side="crm", kind="company")
        assert [c[0] for c in result.columns if c[1] == "extra"] == EVIL
        assert {"links", "decisions"} <= set(ws.tables())
        assert ws.con.execute("SELECT id, name, extra->>'$.\"x\\\"; DROP TABLE links; --\"' "
                              "FROM crm_company").fetchall() == [("1", "A", "a")]


@pytest.mark.parametrize("evil", EVIL)
def test_sql_as_a_field_name_is_refused_and_changes_nothing(companies_ws: Workspace,
                                                            evil: str) -> None:
    ws = companies_ws
    before = snapshot(ws)
    with pytest.raises(ErpdataError):
        search_erp(ws, "company", "", criteria=[(evil, "=", ["x"])])
    with pytest.raises(ErpdataError):
        save_mappings(ws, "company", [FieldMapping(evil, evil, "both")])
    with pytest.raises(ErpdataError):
        load_file(ws, write_text(Path(ws.path).with_name("m.csv"), "id;name\n9;B\n"),
                  side="crm", kind="company", mapping={evil: "name"})
    assert snapshot(ws) == before
