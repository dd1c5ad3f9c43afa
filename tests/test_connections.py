"""Connections: defined and checked, secrets never stored, and the CLI's connect, load --from
and sync commands over export folders."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from erpdata.cli import main
from erpdata.commit import commit
from erpdata.connections import (
    Connection,
    ConnectionSetupError,
    add_connection,
    connections,
    open_connector,
    secret_variable,
)
from erpdata.connections import test_connection as ask  # not a test of this module
from erpdata.decisions import decide
from erpdata.roles import AccessDenied, grant
from erpdata.workspace import Workspace


def test_a_connection_is_checked_and_its_secret_is_never_stored(
        companies_ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    ws = companies_ws
    assert secret_variable("tryton-prod") == "ERPDATA_SECRET_TRYTON_PROD"
    with pytest.raises(ConnectionSetupError) as bad:
        add_connection(ws, Connection("1st", "tryton", "crm", "ftp://x"))
    assert str(bad.value) == (
        "connection '1st': name '1st': use letters, digits, '-' and '_', starting with a "
        "letter; a tryton connection stands for the erp side, not 'crm'; url 'ftp://x': give "
        "the server as http(s)://host[:port]; a tryton connection needs --database")
    monkeypatch.setenv("ERPDATA_SECRET_TRYTON_PROD", "s3cret-Pa55word")
    conn = Connection("tryton-prod", "tryton", "erp", "http://127.0.0.1:9", "erp", "admin")
    add_connection(ws, conn, user="kari")
    assert connections(ws) == [conn]
    ws.con.execute("CHECKPOINT")
    for table in ws.tables():  # the secret is nowhere in the workspace
        rows = ws.con.execute(f"SELECT * FROM {table}").fetchall()
        assert "s3cret-Pa55word" not in repr(rows), table
    assert b"s3cret-Pa55word" not in ws.path.read_bytes()
    # a server that is not there is an error answer naming the problem, not an exception
    answer = ask(ws, "tryton-prod")
    assert not answer.ok and answer.retryable
    assert "s3cret-Pa55word" not in answer.user_explanation + answer.tech_explanation
    monkeypatch.delenv("ERPDATA_SECRET_TRYTON_PROD")
    with pytest.raises(ConnectionSetupError, match=r"set the environment variable "
                                                   r"ERPDATA_SECRET_TRYTON_PROD"):
        open_connector(conn)
    grant(ws, "kari", "admin", user="kari")
    with pytest.raises(AccessDenied, match="changing connections needs the admin role"):
        add_connection(ws, conn, user="ola")


def test_cli_connect_load_from_and_sync(companies_ws: Workspace, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    ws = companies_ws
    decide(ws, "company", "accept", "4", "customer:K9")
    commit(ws)
    path = str(ws.path)
    ws.close()
    folder = tmp_path / "erp"
    folder.mkdir()
    shutil.copy(tmp_path / "e.csv", folder / "erp_company.csv")
    w = ["--workspace", path]
    assert main(["connect", "add", "erp", "--type", "files", "--url", str(folder), *w]) == 0
    assert main(["connect", "test", "erp", *w]) == 0
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"erp: ok: export folder {folder}: erp_company.csv")
    assert main(["connect", "list", *w]) == 0
    assert capsys.readouterr().out == f"erp\tfiles\terp\t{folder}\t\t\n"
    assert main(["connect", "test", "nope", *w]) == 1
    assert "no connection 'nope'; defined: erp" in capsys.readouterr().err
    assert main(["sync", *w]) == 0
    err = capsys.readouterr().err
    assert err.splitlines()[0] == ("synced: 1 done; 2 skipped: 1 CRM update(s) wait for a "
                                   "CRM connection, 1 link(s) wait for a CRM connection; "
                                   "pulled 1 new or changed record(s)")
    assert main(["load", "--from", "erp", "--side", "erp", "--kind", "company", *w]) == 0
    assert "4 rows -> erp company: 0 new, 0 changed, 4 unchanged" in capsys.readouterr().err
    assert main(["load", "--from", "erp", "--side", "crm", "--kind", "company", *w]) == 1
    assert "connection 'erp' is the ERP side, not CRM" in capsys.readouterr().err


def test_testing_a_files_connection_says_what_the_folder_holds(
        companies_ws: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An empty folder no longer passes "Test connection": a sync through it would turn every
    ERP update into a permanent error. A CRM folder without exports still takes change sets,
    so it is a warning; each answer says what was found."""
    ws = companies_ws
    missing, empty, other, full = (tmp_path / n for n in ("gone", "empty", "other", "full"))
    for folder in (empty, other, full):
        folder.mkdir()
    (empty / "outbox").mkdir()  # change sets written earlier are no export
    (other / "notes.txt").write_text("not an export", encoding="utf-8")
    shutil.copy(tmp_path / "e.csv", full / "erp_company.csv")
    (full / "erp_person.xlsx").write_bytes(b"")
    for name, side, folder in (("gone", "erp", missing), ("empty", "erp", empty),
                               ("other", "erp", other), ("crm", "crm", empty),
                               ("full", "erp", full)):
        add_connection(ws, Connection(name, "files", side, str(folder)))
    answers = {n: ask(ws, n) for n in ("gone", "empty", "other", "crm", "full")}
    looked = "looked for {0}_company.*, {0}_person.*, {0}_project.*"
    assert {n: (a.state, a.user_explanation or a.value, a.tech_explanation)
            for n, a in answers.items()} == {
        "gone": ("error", f"the folder {missing} does not exist",
                 "files connection: url must be a folder"),
        "empty": ("error", f"the folder {empty} is empty: no export files: a sync could not "
                  "read, and so could not update, any ERP record", looked.format("erp")),
        "other": ("error", f"the folder {other} holds no ERP export files: a sync could not "
                  "read, and so could not update, any ERP record", looked.format("erp")),
        "crm": ("warning", f"the folder {empty} is empty: no export files: change sets go to "
                "its outbox, but no CRM record can be pulled from it", looked.format("crm")),
        "full": ("ok", f"export folder {full}: erp_company.csv, erp_person.xlsx", "")}
    path = str(ws.path)
    ws.close()
    assert main(["connect", "test", "empty", "--workspace", path]) == 1
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"empty: error: the folder {empty} is empty: no export files: a sync could not read, "
        f"and so could not update, any ERP record ({looked.format('erp')})")
    assert main(["connect", "test", "crm", "--workspace", path]) == 0
