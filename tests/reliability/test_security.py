"""Security: identifiers that are SQL, in every place a user can name a column or field, are
data or a clear refusal, never SQL (all SQL is parameterised or built from allow-listed
identifiers)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from erpdata.errors import ErpdataError
from erpdata.ingest.load import load_file
from erpdata.steward.mappings import FieldMapping, save_mappings
from erpdata.steward.search import search_erp
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


@pytest.mark.parametrize("fmt", ["parquet", "json", "ndjson", "xlsx"])
def test_sql_in_column_names_of_typed_files_is_kept_as_data(tmp_path: Path, fmt: str) -> None:
    """Parquet, JSON and XLSX name their columns themselves (no CSV quoting): a name that is
    SQL is still only a name. Before this test, a double quote in a Parquet or JSON column
    name broke the load, and a crafted one could have been run as SQL."""
    frame = pd.DataFrame({"id": ["1"], "name": ["A"], **{e: [v] for e, v in zip(
        EVIL, "abc", strict=True)}})
    path = tmp_path / f"c.{fmt}"
    if fmt == "parquet":
        frame.to_parquet(path, index=False)
    elif fmt == "xlsx":
        frame.to_excel(path, index=False)
    else:
        frame.to_json(path, orient="records", lines=fmt == "ndjson", force_ascii=False)
    with Workspace.open(tmp_path / "w.duckdb") as ws:
        result = load_file(ws, path, side="crm", kind="company")
        assert [c[0] for c in result.columns if c[1] == "extra"] == EVIL
        assert {"links", "decisions"} <= set(ws.tables())
        assert ws.con.execute("SELECT id, name, extra FROM crm_company").fetchall() == [
            ("1", "A", json.dumps(dict(zip(EVIL, "abc", strict=True)), ensure_ascii=False,
                                  separators=(",", ":")))]


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
