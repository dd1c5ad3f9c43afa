"""The workspace file: schema versions, migrations, refusal of newer files, path resolution,
transactions, and the invariants the database itself enforces."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import duckdb
import pytest

from erpdata.errors import WorkspaceError
from erpdata.ingest.load import load_file
from erpdata.workspace import (
    DEFAULT_LOCK_TIMEOUT,
    MIGRATIONS,
    SCHEMA_VERSION,
    Workspace,
    WorkspaceBusy,
    acting,
    lock_timeout,
    migrate,
    resolve_path,
)
from tests.helpers import COMPANIES, snapshot, write_text

RECORD_TABLES = ["crm_company", "crm_person", "crm_project", "erp_company", "erp_person",
                 "erp_project"]
LATER_TABLES = ["actions", "audit", "batches", "connections", "decisions", "explanations",
                "field_mappings",
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


def test_version_9_keeps_suggestions_and_states_in_their_order_without_a_key(
        tmp_path: Path) -> None:
    """Suggestions and scoring states lose their primary key (a run replaces them whole, and
    deleting keyed rows cost most of a 1M-record run): every row, value and the stored order
    (the queue reads it unsorted) is kept."""
    path = tmp_path / "v8.duckdb"
    con = duckdb.connect(str(path))
    migrate(con, target=8)
    con.execute("INSERT INTO match_runs (kind, started_by, started_at, status) "
                "VALUES ('company', 'kari', now(), 'done')")
    for crm_id, erp_id, p in (("9", "K1", 0.9), ("1", "K2", 0.5), ("5", "K3", 0.99)):
        con.execute("INSERT INTO suggestions (kind, crm_id, erp_actor_type, erp_id, rank, "
                    "probability, band, explanation, run_id, link) "
                    "VALUES ('company', ?, 'customer', ?, 1, ?, 'review', '{}', 1, true)",
                    [crm_id, erp_id, p])
        con.execute("INSERT INTO scoring_state VALUES ('company', ?, 'scored', NULL, 1)",
                    [crm_id])
    before = [con.execute(f"SELECT * FROM {t}").fetchall()
              for t in ("suggestions", "scoring_state")]
    con.close()
    with Workspace.open(path) as ws:
        assert ws.version == SCHEMA_VERSION
        # the explanation (the tenth column) moved out with version 10
        after = [ws.con.execute(f"SELECT * FROM {t}").fetchall()
                 for t in ("suggestions", "scoring_state")]
        assert after == [[r[:9] + r[10:] for r in before[0]], before[1]]
        assert [r[1] for r in after[0]] == ["9", "1", "5"]
        assert ws.con.execute("SELECT count(*) FROM duckdb_constraints() WHERE table_name IN "
                              "('suggestions', 'scoring_state') AND constraint_type = "
                              "'PRIMARY KEY'").fetchone() == (0,)


def test_version_10_moves_the_explanations_out_and_keeps_the_suggestions_order(
        tmp_path: Path) -> None:
    """The explanations go to a table of their own (a run then writes only the new ones):
    each keeps its pair and the run that stored it, and the suggestions keep their order and
    every other value."""
    path = tmp_path / "v9.duckdb"
    con = duckdb.connect(str(path))
    migrate(con, target=9)
    con.execute("INSERT INTO match_runs (kind, started_by, started_at, status) "
                "VALUES ('company', 'kari', now(), 'done'), ('company', 'kari', now(), 'done')")
    for crm_id, erp_id, p, run, text in (("9", "K1", 0.9, 2, '{"prior": -1.5}'),
                                         ("1", "K2", 0.5, 1, None),
                                         ("5", "K3", 0.99, 2, '{"prior": -2.0}')):
        con.execute("INSERT INTO suggestions (kind, crm_id, erp_actor_type, erp_id, rank, "
                    "probability, band, explanation, run_id, link, state) "
                    "VALUES ('company', ?, 'customer', ?, 1, ?, 'review', ?, ?, true, 'skipped')",
                    [crm_id, erp_id, p, text, run])
    before = con.execute("SELECT * EXCLUDE (explanation) FROM suggestions").fetchall()
    con.close()
    with Workspace.open(path) as ws:
        assert ws.con.execute("SELECT * FROM suggestions").fetchall() == before
        assert [r[1] for r in before] == ["9", "1", "5"]
        assert ws.con.execute("SELECT * FROM explanations ORDER BY crm_id").fetchall() == [
            ("company", "5", "customer", "K3", '{"prior": -2.0}', 2),
            ("company", "9", "customer", "K1", '{"prior": -1.5}', 2)]


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


# --- the write lock: who holds it, and a writer that waits gives up with that --------------


def _hold_write(ws: Workspace, held: threading.Event, end: threading.Event,
                hold: object) -> threading.Thread:
    """A thread that enters ``hold`` (a context manager factory taking the cursor), writes
    ``meta`` key ``held``, signals ``held`` and keeps the write open until ``end``."""

    def run() -> None:
        cur = ws.cursor()
        with hold(cur):  # type: ignore[operator]
            ws.set_meta("held", "1", cur)
            held.set()
            end.wait(10)

    t = threading.Thread(target=run)
    t.start()
    assert held.wait(10)
    return t


def _busy(ws: Workspace, holder: str) -> str:
    since = ws.write_holder.since  # type: ignore[union-attr]
    return (f"the workspace is busy: {holder} since {since:%H:%M:%S} (0 s); try again when "
            "it is done")


@pytest.mark.parametrize("how", ["arguments", "acting", "entry point"])
def test_a_waiting_write_gives_up_naming_the_holder(tmp_path: Path, how: str,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Kari commits (the holder named by the transaction's arguments, by :func:`acting` as a
    job's worker does, or by the engine entry point that called, here ``commit``); Ola's
    write waits the lock timeout, then gives up with who, what and since, writing nothing."""
    monkeypatch.setenv("ERPDATA_LOCK_TIMEOUT", "0.3")

    @contextmanager
    def commit(cur: duckdb.DuckDBPyConnection, user: str | None = "kari") -> Iterator[None]:
        with ws.transaction(cur):  # in a function named like the entry point: "committing"
            yield

    hold = {"arguments": lambda cur: ws.transaction(cur, user="kari", what="committing"),
            "acting": lambda cur: _acting_transaction(ws, cur),
            "entry point": commit}[how]
    held, end = threading.Event(), threading.Event()
    with Workspace.open(tmp_path / "lock.duckdb") as ws:
        kari = _hold_write(ws, held, end, hold)
        try:
            expected = _busy(ws, "kari is committing")
            started = time.monotonic()
            with pytest.raises(WorkspaceBusy) as err, ws.transaction(user="ola") as tx:
                ws.set_meta("ola", "1", tx)
            waited = time.monotonic() - started
        finally:
            end.set()
            kari.join()
        assert str(err.value) == expected
        assert 0.3 <= waited < 2
        assert (ws.get_meta("held"), ws.get_meta("ola")) == ("1", None)
        assert ws.write_holder is None
        with ws.transaction(user="ola") as tx:  # free again: Ola's write goes through
            ws.set_meta("ola", "1", tx)
        assert ws.get_meta("ola") == "1"


def _acting_transaction(ws: Workspace, cur: duckdb.DuckDBPyConnection) -> object:
    stack = ExitStack()
    stack.enter_context(acting("kari", "committing"))
    stack.enter_context(ws.transaction(cur))
    return stack


def test_the_lock_is_reentrant_and_names_the_outer_write(tmp_path: Path) -> None:
    """A writer calling another writer in its thread does not wait for itself; the holder
    stays the outer write until it ends."""
    with Workspace.open(tmp_path / "re.duckdb") as ws:
        with ws.transaction(user="kari", what="loading files"):
            other = ws.cursor()
            with ws.transaction(other, user="kari", what="writing") as tx:
                ws.set_meta("inner", "1", tx)
            assert ws.write_holder is not None
            assert (ws.write_holder.user, ws.write_holder.what) == ("kari", "loading files")
        assert ws.write_holder is None and ws.get_meta("inner") == "1"


def test_lock_timeout_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ERPDATA_LOCK_TIMEOUT", raising=False)
    assert lock_timeout() == DEFAULT_LOCK_TIMEOUT == 30.0
    monkeypatch.setenv("ERPDATA_LOCK_TIMEOUT", "2.5")
    assert lock_timeout() == 2.5
    for bad in ("soon", "0", "-1"):
        monkeypatch.setenv("ERPDATA_LOCK_TIMEOUT", bad)
        with pytest.raises(WorkspaceError) as err:
            lock_timeout()
        assert str(err.value) == (f"$ERPDATA_LOCK_TIMEOUT is {bad!r}: give the seconds a write "
                                  "may wait for another one, a number above 0 (say 30)")


def test_a_snapshot_read_during_a_long_write_returns_at_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A read never takes the write lock: while Kari's write is open, a snapshot returns at
    once and sees the committed state, not Kari's half-done write."""
    monkeypatch.setenv("ERPDATA_LOCK_TIMEOUT", "5")
    held, end = threading.Event(), threading.Event()
    with Workspace.open(tmp_path / "read.duckdb") as ws:
        ws.set_meta("before", "1")
        kari = _hold_write(ws, held, end, lambda cur: ws.transaction(cur, user="kari"))
        try:
            started = time.monotonic()
            with ws.snapshot() as cur:
                seen = cur.execute("SELECT key FROM meta ORDER BY key").fetchall()
            took = time.monotonic() - started
        finally:
            end.set()
            kari.join()
        assert seen == [("before",)] and took < 1
        assert ws.get_meta("held") == "1"


def test_a_held_workspace_closes_when_its_last_holder_ends(tmp_path: Path) -> None:
    """A job holds the workspace (``retain``): closing it (the workbench's cache dropping it)
    waits for the job, and the last release closes it."""
    ws = Workspace.open(tmp_path / "held.duckdb")
    ws.retain()
    ws.retain()
    ws.close()
    assert ws.closed and ws.holders == 2
    with ws.transaction() as tx:  # the job goes on writing
        ws.set_meta("job", "done", tx)
    with pytest.raises(WorkspaceError, match="was closed; open it again"):
        ws.retain()  # no new holder for a closed workspace
    ws.release()
    assert ws.get_meta("job") == "done"
    ws.release()
    with pytest.raises(duckdb.ConnectionException):
        ws.con.execute("SELECT 1")

