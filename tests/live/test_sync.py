"""Sync now with the files connector (export folders and an outbox of change sets): every
action once, retries with backoff, resume after a crash, conflicts for the steward."""

from __future__ import annotations

import csv
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

import erpdata.live.sync as sync_mod
from erpdata.check import check
from erpdata.errors import ErpdataError
from erpdata.ingest.load import load_file
from erpdata.live.connections import Connection, add_connection
from erpdata.live.connectors.base import Answer, ErpActor
from erpdata.live.connectors.folders import FilesConnector, FilesCrmConnector
from erpdata.live.sync import (
    SyncResult,
    conflicts,
    failures,
    resolve_conflict,
    retry_failed,
    sync,
    sync_now,
)
from erpdata.steward.commit import commit
from erpdata.steward.decisions import decide
from erpdata.workspace import Workspace
from tests.conftest import write_csv_file


@pytest.fixture
def batch(companies_ws: Workspace, tmp_path: Path) -> Iterator[tuple[Workspace, Path]]:
    """A committed batch (a link with updates on both sides, a plain link, a create) and an
    export folder holding the ERP companies the workspace was loaded from."""
    ws = companies_ws
    decide(ws, "company", "accept", "4", "customer:K9")
    decide(ws, "company", "accept", "1", "supplier:L1")
    decide(ws, "company", "create", "5", actor_type="customer",
           create_values={"category": "Fisk"})
    commit(ws, user="kari")
    folder = tmp_path / "erp"
    folder.mkdir()
    shutil.copy(tmp_path / "e.csv", folder / "erp_company.csv")
    yield ws, folder


def _csv(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return [row[1:] for row in list(csv.reader(f))[1:]]  # without written_at


def _statuses(ws: Workspace) -> list[tuple[str, str, str, int]]:
    return ws.con.execute("SELECT action, crm_id, status, attempts FROM actions "
                          "ORDER BY action_id").fetchall()




def test_sync_sends_every_action_once(batch: tuple[Workspace, Path]) -> None:
    ws, folder = batch
    erp, crm = FilesConnector(folder), FilesCrmConnector(folder)
    result = sync(ws, erp=erp, crm=crm)
    assert (result.statuses, result.conflicts) == ({"ok": 5}, 0)
    assert _statuses(ws) == [("link", "4", "ok", 1), ("link", "1", "ok", 1),
                             ("update_crm", "4", "ok", 1), ("update_erp", "4", "ok", 1),
                             ("create_erp", "5", "ok", 1)]
    outbox = folder / "outbox"
    assert _csv(outbox / "erp_updates.csv") == [["customer", "K9", "name", "Fjord Fisk AS"],
                                                ["customer", "K9", "postalcity", "Tromsø"]]
    assert _csv(outbox / "erp_creates.csv") == [
        ["company:5", "customer", "", "", "name", "Zzyzx Quux"],
        ["company:5", "customer", "", "", "country", "NO"],
        ["company:5", "customer", "", "", "category", "Fisk"]]
    assert _csv(outbox / "links.csv") == [["company", "4", "customer", "K9"],
                                          ["company", "1", "supplier", "L1"]]
    assert _csv(outbox / "crm_updates.csv") == [["company", "4", "vatno", "911111111"]]
    # a second sync finds nothing to do, and says so
    assert sync(ws, erp=erp, crm=crm).summary() == "nothing to sync: no queued actions"
    erp.close()
    crm.close()


#: A phone number, an amount, four formulas and two more numbers (issue 16, item 5).
SPREADSHEET_VALUES = ['+47 22 33 44 55', '-12.5', '=HYPERLINK("x")', '@SUM(A1)', '+SUM(A1)',
                      '-2+3', '-cmd', '-5']


def test_a_synced_change_set_carries_phone_numbers_and_amounts_byte_exact(
        tmp_path: Path) -> None:
    """Committed CRM names go to the ERP's import tool as they are: the outbox an import
    tool reads is never neutralised, not even a formula (no spreadsheet opens it)."""
    folder = tmp_path / "erp"
    erp_rows = [["id", "type", "name"],
                *([f"K{i}", "customer", f"Firma {i}"] for i in range(1, 9))]
    crm_rows = [["id", "name"], *([str(i), v] for i, v in enumerate(SPREADSHEET_VALUES, 1))]
    with Workspace.open(tmp_path / "v.duckdb") as ws:
        load_file(ws, write_csv_file(tmp_path / "c.csv", crm_rows), side="crm", kind="company")
        load_file(ws, write_csv_file(folder / "erp_company.csv", erp_rows), side="erp",
                  kind="company")
        for i in range(1, 9):
            decide(ws, "company", "accept", str(i), f"customer:K{i}", user="kari")
        commit(ws, user="kari")
        erp, crm = FilesConnector(folder), FilesCrmConnector(folder)
        assert sync(ws, erp=erp, crm=crm).statuses == {"ok": 16}  # 8 links, 8 updates
        erp.close()
        crm.close()
    data = (folder / "outbox" / "erp_updates.csv").read_bytes()
    assert [line.split(b",", 1)[1] for line in data.split(b"\r\n")[1:-1]] == [
        b"customer,K1,name,+47 22 33 44 55", b"customer,K2,name,-12.5",
        b'customer,K3,name,"=HYPERLINK(""x"")"', b"customer,K4,name,@SUM(A1)",
        b"customer,K5,name,+SUM(A1)", b"customer,K6,name,-2+3", b"customer,K7,name,-cmd",
        b"customer,K8,name,-5"]
    assert [row[3] for row in _csv(folder / "outbox" / "erp_updates.csv")] == \
        SPREADSHEET_VALUES


def test_an_interrupted_sync_resumes_without_doing_anything_twice(
        batch: tuple[Workspace, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    ws, folder = batch
    real = sync_mod._finish

    def crash(*args: object) -> None:  # the connector was called; the results are not written
        raise KeyboardInterrupt

    monkeypatch.setattr(sync_mod, "_finish", crash)
    with pytest.raises(KeyboardInterrupt):
        sync(ws, erp=FilesConnector(folder), crm=FilesCrmConnector(folder))
    assert [s for _, _, s, _ in _statuses(ws)] == ["queued", "queued", "queued", "queued",
                                                   "running"]
    monkeypatch.setattr(sync_mod, "_finish", real)
    result = sync(ws, erp=FilesConnector(folder), crm=FilesCrmConnector(folder))
    assert result.statuses == {"ok": 5}
    assert [(a, n) for a, _, _, n in _statuses(ws)] == [
        ("link", 1), ("link", 1), ("update_crm", 1), ("update_erp", 1), ("create_erp", 2)]
    # the create was sent twice, and written once
    assert len(_csv(folder / "outbox" / "erp_creates.csv")) == 3


def _sync_after_the_erp_changed_a_city(ws: Workspace, folder: Path) -> SyncResult:
    """The ERP export's Bodø became Narvik after the commit; then a sync."""
    export = folder / "erp_company.csv"
    export.write_text(export.read_text(encoding="utf-8").replace("Bodø", "Narvik"),
                      encoding="utf-8")
    return sync(ws, erp=FilesConnector(folder), crm=FilesCrmConnector(folder))


def test_a_field_changed_in_the_erp_since_the_commit_is_a_conflict(
        batch: tuple[Workspace, Path]) -> None:
    ws, folder = batch
    result = _sync_after_the_erp_changed_a_city(ws, folder)
    assert (result.statuses, result.conflicts) == ({"ok": 4, "warning": 1}, 1)
    found = conflicts(ws)
    assert found[["kind", "side", "crm_id", "erp_id", "field", "base_value", "ours",
                  "theirs"]].values.tolist() == [
        ["company", "erp", "4", "K9", "postalcity", "Bodø", "Tromsø", "Narvik"]]
    # the other field of the record is written; the conflicting one is not
    assert _csv(folder / "outbox" / "erp_updates.csv") == [
        ["customer", "K9", "name", "Fjord Fisk AS"]]


class FlakyFiles(FilesConnector):
    """The files connector with injected failures on save (a fault injector around the real
    connector: there is no other way to make a folder time out)."""

    def __init__(self, folder: Path, failures: list[Answer]) -> None:  # type: ignore[type-arg]
        super().__init__(folder)
        self.failures = failures
        self.calls = 0

    def save(self, actors: Sequence[ErpActor]) -> Answer[list[ErpActor]]:
        self.calls += 1
        if self.failures:
            return self.failures.pop(0)
        return super().save(actors)


def test_retryable_failures_are_retried_with_backoff(batch: tuple[Workspace, Path]) -> None:
    ws, folder = batch
    timeout = Answer.failed("the ERP did not answer in time", "ReadTimeout", retryable=True)
    erp, waits = FlakyFiles(folder, [timeout, timeout]), []
    result = sync(ws, erp=erp, crm=FilesCrmConnector(folder), sleep=waits.append)
    assert result.statuses == {"ok": 5} and erp.calls == 3 and waits == [0.5, 1.0]


def test_a_refusal_is_not_retried_and_is_kept_with_its_explanations(
        batch: tuple[Workspace, Path]) -> None:
    ws, folder = batch
    refused = Answer.failed("the ERP refused the name", "HTTP 400: name too long")
    erp, waits = FlakyFiles(folder, [refused]), []
    result = sync(ws, erp=erp, crm=FilesCrmConnector(folder), sleep=waits.append)
    assert result.statuses == {"ok": 4, "error": 1} and erp.calls == 1 and waits == []
    (row,) = ws.con.execute("SELECT status, result->>'user', result->>'tech' FROM actions "
                            "WHERE action = 'update_erp'").fetchall()
    assert row == ("error", "the ERP refused the name", "HTTP 400: name too long")


def test_a_refused_action_is_sent_again_when_the_steward_asks(
        batch: tuple[Workspace, Path]) -> None:
    """A refusal waits for the steward: the next sync leaves it; once the cause is mended,
    retry_failed queues it and the sync after sends it, keeping the refusal in its history."""
    ws, folder = batch
    refused = Answer.failed("wrong password", "HTTP 401")
    sync(ws, erp=FlakyFiles(folder, [refused]), crm=FilesCrmConnector(folder))
    again = FlakyFiles(folder, [])
    assert sync(ws, erp=again, crm=FilesCrmConnector(folder)).statuses == {}
    assert again.calls == 0
    assert retry_failed(ws, user="kari") == 1
    assert retry_failed(ws, user="kari") == 0  # already queued
    assert sync(ws, erp=again, crm=FilesCrmConnector(folder)).statuses == {"ok": 1}
    (status, attempts, tries), = ws.con.execute(
        "SELECT status, attempts, result->'failed_tries' FROM actions "
        "WHERE action = 'update_erp'").fetchall()
    assert (status, attempts) == ("ok", 2) and '"user":"wrong password"' in tries
    assert ws.con.execute("SELECT actor, action FROM audit WHERE action = 'retry_failed'"
                          ).fetchall() == [("kari", "retry_failed")]
    assert check(ws) == []


def test_without_a_crm_connection_the_crm_actions_wait(batch: tuple[Workspace, Path]) -> None:
    ws, folder = batch
    result = sync(ws, erp=FilesConnector(folder))
    assert result.summary() == ("synced: 2 done; 3 skipped: 1 CRM update(s) wait for a CRM "
                                "connection, 2 link(s) wait for a CRM connection")
    assert result.level == "warning"  # partial: never shown as a plain success
    assert [o.line() for o in result.outcomes()] == [
        "skipped: 2 link(s): wait for a CRM connection",
        "skipped: 1 CRM update(s): wait for a CRM connection",
        "done: 1 new ERP record(s)", "done: 1 ERP update(s)"]
    assert [s for _, _, s, _ in _statuses(ws)] == ["queued", "queued", "queued", "ok", "ok"]


def test_sync_now_pushes_then_pulls_and_a_second_run_says_nothing_changed(
        batch: tuple[Workspace, Path]) -> None:
    ws, folder = batch
    add_connection(ws, Connection("erp-files", "files", "erp", str(folder)), user="kari")
    add_connection(ws, Connection("crm-files", "files", "crm", str(folder)), user="kari")
    first = sync_now(ws, user="kari")
    assert first.pushed.statuses == {"ok": 5}
    # the export still holds K9 as it was (the ERP has not imported the change set yet): the
    # first pull puts the ERP's actual values back in the workspace; nothing else changed
    assert first.pulled == {"erp-files company": first.pulled["erp-files company"],
                            "erp-files person": "no changes", "erp-files project": "no changes",
                            "crm-files company": "no changes", "crm-files person": "no changes",
                            "crm-files project": "no changes"}
    second = sync_now(ws, user="kari")
    assert second.summary() == ("nothing to sync: no queued actions and no changes in the live "
                                "systems")
    assert "4 rows -> erp company: 0 new, 1 changed, 3 unchanged, 0 flagged missing" in \
        first.pulled["erp-files company"]
    assert ws.con.execute("SELECT name, postalcity FROM erp_company WHERE id = 'K9'"
                          ).fetchone() == ("Nordlys Energi AS", "Bodø")
    assert check(ws) == []
    with pytest.raises(ErpdataError, match="no ERP connection 'nope'; defined: erp-files"):
        sync_now(ws, erp_name="nope")


@pytest.mark.parametrize("choice", ["ours", "theirs"])
def test_the_steward_resolves_a_conflict(batch: tuple[Workspace, Path], choice: str) -> None:
    ws, folder = batch
    export = folder / "erp_company.csv"
    export.write_text(export.read_text(encoding="utf-8").replace("Bodø", "Narvik"),
                      encoding="utf-8")
    erp, crm = FilesConnector(folder), FilesCrmConnector(folder)
    sync(ws, erp=erp, crm=crm)
    (conflict_id,) = conflicts(ws)["conflict_id"].tolist()
    resolve_conflict(ws, int(conflict_id), choice, user="kari")
    assert conflicts(ws).empty
    with pytest.raises(ErpdataError, match="already resolved"):
        resolve_conflict(ws, int(conflict_id), choice)
    again = sync(ws, erp=erp, crm=crm)
    if choice == "ours":  # written now: the ERP's value is the new base
        assert again.statuses == {"ok": 1}
        assert _csv(folder / "outbox" / "erp_updates.csv")[-1] == [
            "customer", "K9", "postalcity", "Tromsø"]
    else:  # the ERP's value stays, and the workspace takes it
        assert again.statuses == {}
        assert ws.con.execute("SELECT postalcity FROM erp_company WHERE id = 'K9'"
                              ).fetchone() == ("Narvik",)


def test_outcomes_are_counted_per_reason_and_errors_make_the_sync_red(
        batch: tuple[Workspace, Path]) -> None:
    """Every failure keeps its reason; the result counts actions per outcome and reason, in
    plain words, and is red (``error``) when any failed: what the page colours and the CLI
    prints."""
    ws, folder = batch
    export = folder / "erp_company.csv"  # K9 is gone from the ERP: its update cannot be made
    export.write_text("\n".join(line for line in export.read_text(encoding="utf-8")
                                .splitlines() if not line.startswith("K9,")) + "\n",
                      encoding="utf-8")
    refused = Answer.failed("the ERP refused the new customer", "HTTP 400")

    class RefusingCreates(FilesConnector):
        def create(self, actors: Sequence[ErpActor], crm_keys: Sequence[str]
                   ) -> Answer[list[ErpActor]]:
            return refused  # type: ignore[return-value]

    result = sync(ws, erp=RefusingCreates(folder), crm=FilesCrmConnector(folder))
    assert result.statuses == {"ok": 3, "error": 2} and result.level == "error"
    assert [o.line() for o in result.outcomes()] == [
        "error: 1 new ERP record(s): the ERP refused the new customer",
        "error: 1 ERP update(s): the ERP record is not in the ERP (or not in its export) any "
        "more",
        "done: 2 link(s)", "done: 1 CRM update(s)"]
    assert result.summary().splitlines() == [
        "synced: 3 done, 2 error",
        "  error: 1 new ERP record(s): the ERP refused the new customer",
        "  error: 1 ERP update(s): the ERP record is not in the ERP (or not in its export) "
        "any more"]
    # the failures stand, with their reasons, until the steward sends them again
    assert [o.line() for o in failures(ws)] == [
        "error: 1 new ERP record(s): the ERP refused the new customer",
        "error: 1 ERP update(s): the ERP record is not in the ERP (or not in its export) any "
        "more"]
    assert sync(ws, erp=FilesConnector(folder)).level == "nothing"


def test_a_conflict_makes_the_sync_a_warning_with_its_reason(
        batch: tuple[Workspace, Path]) -> None:
    ws, folder = batch
    result = _sync_after_the_erp_changed_a_city(ws, folder)
    assert result.level == "warning"
    assert result.details() == ["  done with a warning: 1 ERP update(s): a field changed in "
                                "the ERP since the commit was not overwritten: a conflict for "
                                "the steward"]


def test_sync_now_refuses_an_erp_folder_without_exports(
        batch: tuple[Workspace, Path], tmp_path: Path) -> None:
    """An empty ERP folder would turn every ERP update into a permanent error ("not in the
    ERP"): the sync is refused before anything is sent, with the reason."""
    ws, _ = batch
    empty = tmp_path / "empty"
    empty.mkdir()
    add_connection(ws, Connection("erp", "files", "erp", str(empty)), user="kari")
    before = _statuses(ws)
    with pytest.raises(ErpdataError) as refused:
        sync_now(ws, user="kari")
    assert str(refused.value) == (
        f"sync not started: connection 'erp': the folder {empty} is empty: no export files: a "
        "sync could not read, and so could not update, any ERP record; nothing was sent")
    assert _statuses(ws) == before  # every action still queued, none failed
    assert failures(ws) == []
