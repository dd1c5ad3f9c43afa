"""The workspace file: schema versions, migrations, refusal of newer files, path resolution,
transactions, and the invariants the database itself enforces."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from erpdata.errors import WorkspaceError
from erpdata.ingest import load_file
from erpdata.workspace import MIGRATIONS, SCHEMA_VERSION, Workspace, migrate, resolve_path
from tests.helpers import COMPANIES, snapshot, write_text

RECORD_TABLES = ["crm_company", "crm_person", "crm_project", "erp_company", "erp_person",
                 "erp_project"]
LATER_TABLES = ["actions", "audit", "batches", "connections", "decisions", "field_mappings",
                "links", "match_models", "match_runs", "picks", "scoring_state", "suggestions",
                "sync_conflicts", "sync_marks", "users"]


def test_new_workspace_has_every_table(tmp_path: Path) -> None:
    with Workspace.open(tmp_path / "new.duckdb") as ws:
        assert ws.version == SCHEMA_VERSION == MIGRATIONS[-1].version
        assert ws.tables() == sorted(
            [*RECORD_TABLES, *LATER_TABLES, "loads", "meta", "record_changes", "schema_version"]
        )
        versions = ws.con.execute("SELECT version, description FROM schema_version "
                                  "ORDER BY version").fetchall()
        assert versions == [(m.version, m.description) for m in MIGRATIONS]


def test_older_workspace_is_migrated_and_keeps_its_data(tmp_path: Path) -> None:
    path = tmp_path / "v1.duckdb"
    con = duckdb.connect(str(path))
    assert migrate(con, target=1) == [1]
    con.close()
    # A version-1 workspace with data in it, as an earlier erpdata would have left it.
    v1 = Workspace(path, duckdb.connect(str(path)))
    load_file(v1, write_text(tmp_path / "c.csv", COMPANIES), side="crm", kind="company")
    before = snapshot(v1)
    assert "links" not in before
    v1.close()

    with Workspace.open(path) as ws:
        assert ws.version == SCHEMA_VERSION
        after = snapshot(ws)
        assert {t: after[t] for t in before if t != "schema_version"} == {
            t: rows for t, rows in before.items() if t != "schema_version"}
        assert set(LATER_TABLES) <= set(after)
        assert [r[0] for r in after["schema_version"]] == [m.version for m in MIGRATIONS]


def test_migration_is_one_transaction(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "v1.duckdb"
    con = duckdb.connect(str(path))
    migrate(con, target=1)
    con.close()
    broken = MIGRATIONS[1].__class__(2, "broken", lambda: ["CREATE TABLE x (a INTEGER)",
                                                            "THIS IS NOT SQL"])
    monkeypatch.setattr("erpdata.workspace.MIGRATIONS", (MIGRATIONS[0], broken))
    with pytest.raises(duckdb.ParserException):
        Workspace.open(path)
    con = duckdb.connect(str(path))
    assert con.execute("SELECT max(version) FROM schema_version").fetchone() == (1,)
    assert con.execute("SELECT count(*) FROM information_schema.tables "
                       "WHERE table_name = 'x'").fetchone() == (0,)
    con.close()


def test_newer_workspace_is_refused_and_untouched(tmp_path: Path) -> None:
    path = tmp_path / "future.duckdb"
    with Workspace.open(path) as ws:
        ws.con.execute("INSERT INTO schema_version VALUES (99, 'from the future', now())")
    size = path.stat().st_size
    with pytest.raises(WorkspaceError) as info:
        Workspace.open(path)
    assert str(info.value) == (
        f"workspace {path} has schema version 99, but this erpdata knows versions up to "
        f"{SCHEMA_VERSION}: it was written by a newer erpdata. Upgrade erpdata "
        "(pip install -U erpdata) to open it; it was not changed."
    )
    con = duckdb.connect(str(path), read_only=True)
    assert con.execute("SELECT max(version) FROM schema_version").fetchone() == (99,)
    con.close()
    assert path.stat().st_size == size


def test_foreign_duckdb_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE sales (id INTEGER)")
    con.close()
    with pytest.raises(WorkspaceError, match="is a DuckDB file but not an erpdata workspace"):
        Workspace.open(path)


def test_not_a_duckdb_file(tmp_path: Path) -> None:
    path = write_text(tmp_path / "notes.duckdb", "just text")
    with pytest.raises(WorkspaceError, match="is not a DuckDB workspace file"):
        Workspace.open(path)


def test_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(WorkspaceError, match="is a folder"):
        Workspace.open(tmp_path)


def test_workspace_path_resolution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ERPDATA_WORKSPACE", raising=False)
    assert resolve_path() == Path("workspace.duckdb")
    monkeypatch.setenv("ERPDATA_WORKSPACE", str(tmp_path / "env.duckdb"))
    assert resolve_path() == tmp_path / "env.duckdb"
    assert resolve_path(tmp_path / "cli.duckdb") == tmp_path / "cli.duckdb"


def test_transaction_commits_or_rolls_back(tmp_path: Path) -> None:
    with Workspace.open(tmp_path / "t.duckdb") as ws:
        with ws.transaction() as tx:
            ws.set_meta("a", "1", tx)
        with pytest.raises(RuntimeError), ws.transaction() as tx:
            ws.set_meta("b", "2", tx)
            raise RuntimeError("boom")
        assert ws.get_meta("a") == "1"
        assert ws.get_meta("b") is None


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    w = Workspace.open(tmp_path / "inv.duckdb")
    load_file(w, write_text(tmp_path / "c.csv", COMPANIES), side="crm", kind="company")
    load_file(w, write_text(tmp_path / "e.csv", "id,name\n100,A\n101,B\n"), side="erp",
              kind="company", actor_type="customer")
    yield w
    w.close()


def _link(ws: Workspace, crm_id: str, actor_type: str, erp_id: str) -> None:
    ws.con.execute("INSERT INTO links (kind, crm_id, erp_actor_type, erp_id, linked_by, "
                   "linked_at) VALUES ('company', ?, ?, ?, 'test', now())",
                   [crm_id, actor_type, erp_id])


def test_invariant_one_link_per_crm_record(ws: Workspace) -> None:
    _link(ws, "1", "customer", "100")
    with pytest.raises(duckdb.ConstraintException):
        _link(ws, "1", "supplier", "200")  # a company links to a customer OR a supplier


def test_invariant_one_link_per_erp_actor(ws: Workspace) -> None:
    _link(ws, "1", "customer", "100")
    with pytest.raises(duckdb.ConstraintException):
        _link(ws, "2", "customer", "100")
    _link(ws, "2", "supplier", "100")  # another actor type is another ERP actor
    assert ws.counts()["links"]["company"] == 2
    assert ws.counts()["linked_share"]["company"] == round(2 / 3, 4)


def test_invariant_checks_on_kinds_and_actor_types(ws: Workspace) -> None:
    with pytest.raises(duckdb.ConstraintException):
        _link(ws, "3", "employee", "100")
    with pytest.raises(duckdb.ConstraintException):
        ws.con.execute("INSERT INTO erp_company (id, actor_type, source_file, first_load_id, "
                       "load_id) VALUES ('x', 'prospect', 'f', 1, 1)")
    with pytest.raises(duckdb.ConstraintException):
        ws.con.execute("INSERT INTO crm_company (id, source_file, first_load_id, load_id) "
                       "VALUES ('', 'f', 1, 1)")


def test_invariant_person_parent_must_exist(ws: Workspace) -> None:
    with pytest.raises(duckdb.ConstraintException):
        ws.con.execute("INSERT INTO crm_person (id, company_id, source_file, first_load_id, "
                       "load_id) VALUES ('p', 'nope', 'f', 1, 1)")
    with pytest.raises(duckdb.ConstraintException):
        ws.con.execute("INSERT INTO erp_person (id, parent_actor_type, parent_key, source_file, "
                       "first_load_id, load_id) VALUES ('p', 'supplier', '100', 'f', 1, 1)")


def test_invariant_failed_scoring_needs_a_reason(ws: Workspace) -> None:
    with pytest.raises(duckdb.ConstraintException):
        ws.con.execute("INSERT INTO scoring_state VALUES ('company', '1', 'failed', NULL, NULL)")
    ws.con.execute("INSERT INTO scoring_state VALUES ('company', '1', 'failed', 'timeout', NULL)")


def test_counts_shape(ws: Workspace) -> None:
    counts = ws.counts()
    assert counts["crm"] == {"company": 3, "person": 0, "project": 0}
    assert counts["erp"] == {"company": 2, "person": 0, "project": 0}
    assert counts["links"] == {"company": 0, "person": 0, "project": 0}
