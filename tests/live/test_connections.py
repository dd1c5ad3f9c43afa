"""Connections: defined and checked, secrets never stored, and the CLI's connect, load --from
and sync commands over export folders."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from erpdata.cli import main
from erpdata.ingest.load import load_file
from erpdata.live.connections import (
    Connection,
    ConnectionSetupError,
    add_connection,
    connections,
    get_connection,
    open_connector,
    secret_variable,
    setup_connection,
    setup_message,
    tryton_names,
)
from erpdata.live.connections import test_connection as ask  # not a test of this module
from erpdata.live.connectors.base import ErpActor
from erpdata.live.connectors.tryton import TrytonConnector
from erpdata.roles import AccessDenied, grant
from erpdata.steward.commit import commit
from erpdata.steward.decisions import decide
from erpdata.workspace import Workspace
from tests.helpers import rows, snapshot, write_text
from tests.live.connectors.test_tryton import FRESH_LACKS, FRESH_SETUP
from tests.tryton_server import RawTryton, TrytonServer


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


# --- Tryton: names of its own, the set-up, a Tryton without the employee relation -------------

def _tryton(server: TrytonServer) -> list[str]:
    return ["--type", "tryton", "--url", server.url, "--database", server.database,
            "--user", server.user]


def _fresh_workspace(path: Path) -> list[str]:
    Workspace.open(path).close()
    return ["--workspace", str(path)]


def test_a_tryton_connections_options_are_checked(
        companies_ws: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    ws = companies_ws
    with pytest.raises(ConnectionSetupError) as bad:
        add_connection(ws, Connection("erp", "tryton", "erp", "http://127.0.0.1:9", "erp",
                                      options={"customer_categroy": "Kunde",
                                               "customer_category": "Kunde",
                                               "supplier_category": "Kunde",
                                               "employee_relation": " "}))
    assert str(bad.value) == (
        "connection 'erp': a tryton connection has no option 'customer_categroy': its options "
        "are customer_category, supplier_category, employee_relation, employer_relation; "
        "option employee_relation: give the name Tryton uses; options customer_category and "
        "supplier_category name the same 'Kunde': they must differ")
    assert connections(ws) == []
    names = {"customer_category": "Kunde", "supplier_category": "Leverandør",
             "employee_relation": "Ansatt hos"}
    conn = Connection("erp", "tryton", "erp", "http://127.0.0.1:9", "erp", options=names)
    add_connection(ws, conn)
    assert connections(ws) == [conn]
    assert tryton_names(conn) == {**names, "employer_relation": "Employer of"}
    connector = open_connector(conn, "pw")
    assert isinstance(connector, TrytonConnector)
    assert (connector.names, connector.connection) == (tryton_names(conn), "erp")
    connector.close()
    path = str(ws.path)
    ws.close()
    base = ["connect", "add", "erp2", "--type", "tryton", "--url", "http://127.0.0.1:9",
            "--database", "erp", "--workspace", path]
    assert main([*base, "--option", "customer_category"]) == 1
    assert capsys.readouterr().err == (
        "error: --option 'customer_category': give it as KEY=VALUE, e.g. --option "
        "customer_category=Kunde\n")
    assert main([*base, "--option", "colour=red"]) == 1
    assert capsys.readouterr().err == (
        "error: connection 'erp2': a tryton connection has no option 'colour': its options "
        "are customer_category, supplier_category, employee_relation, employer_relation\n")
    assert main([*base, "--option", "employee_relation = Ansatt hos "]) == 0
    with Workspace.open(Path(path)) as again:
        assert get_connection(again, "erp2").options == {"employee_relation": "Ansatt hos"}


def test_setting_up_needs_an_admin_and_is_audited(
        companies_ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    ws = companies_ws
    add_connection(ws, Connection("exports", "files", "erp", str(tmp_path)))
    add_connection(ws, Connection("erp", "tryton", "erp", "http://127.0.0.1:9", "erp"))
    grant(ws, "ola", "steward", user="kari")
    before = snapshot(ws)
    with pytest.raises(AccessDenied) as refused:
        setup_connection(ws, "erp", "pw", user="ola")
    assert str(refused.value) == (
        "user 'ola' is a steward: setting up a connected system needs the admin role (an "
        "admin grants it: erpdata role NAME ROLE)")
    assert snapshot(ws) == before
    files = setup_connection(ws, "exports", user="kari")
    assert (files.state, files.value) == ("ok_with_info", [])
    assert setup_message(files) == "a files connection needs no set-up by erpdata"
    no_secret = setup_connection(ws, "erp", user="kari")
    assert (no_secret.state, setup_message(no_secret)) == (
        "error", "failed: connection 'erp' needs its secret: set the environment variable "
        "ERPDATA_SECRET_ERP")
    assert snapshot(ws) == before  # neither one reached a system: nothing to audit
    down = setup_connection(ws, "erp", "pw", user="kari")
    assert (down.state, down.retryable) == ("error", True)
    said = "failed: Tryton at http://127.0.0.1:9 cannot be reached; is the server running?"
    assert setup_message(down) == said
    assert rows(ws, "SELECT actor, action, record_id, after_value FROM audit "
                    "WHERE after_value LIKE 'set up%'") == [
        ("kari", "connection", "erp", f"set up: {said}")]
    path = str(ws.path)
    ws.close()
    monkeypatch.setenv("ERPDATA_USER", "kari")
    assert main(["connect", "setup", "exports", "--workspace", path]) == 0
    assert capsys.readouterr().err == (
        "exports: set up: a files connection needs no set-up by erpdata\n")
    assert main(["connect", "setup", "nope", "--workspace", path]) == 1
    assert capsys.readouterr().err == "error: no connection 'nope'; defined: erp, exports\n"
    monkeypatch.setenv("ERPDATA_USER", "ola")
    assert main(["connect", "setup", "erp", "--workspace", path]) == 1
    assert capsys.readouterr().err.startswith("error: user 'ola' is a steward: setting up")


def test_cli_setup_makes_a_fresh_tryton_ready_and_a_second_one_creates_nothing(
        tryton_fresh: TrytonServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    w = _fresh_workspace(tmp_path / "ws.duckdb")
    monkeypatch.setenv("ERPDATA_SECRET_ERP", tryton_fresh.password)
    monkeypatch.setenv("ERPDATA_USER", "kari")
    assert main(["connect", "add", "erp", *_tryton(tryton_fresh), *w]) == 0
    capsys.readouterr()
    assert main(["connect", "test", "erp", *w]) == 1
    assert capsys.readouterr().err == (
        "erp: error: Tryton 8.2, database fresh, user admin: "
        f"{FRESH_LACKS.format(name='erp')}\n")
    assert main(["connect", "setup", "erp", *w]) == 0
    created = ", ".join(FRESH_SETUP)
    assert capsys.readouterr().err == f"erp: set up: created {created}\n"
    assert main(["connect", "setup", "erp", *w]) == 0
    assert capsys.readouterr().err == (
        "erp: set up: nothing to create: it already has everything erpdata needs\n")
    assert main(["connect", "test", "erp", *w]) == 0
    assert capsys.readouterr().err == "erp: ok: Tryton 8.2, database fresh, user admin\n"
    with Workspace.open(Path(w[1])) as ws:
        assert rows(ws, "SELECT actor, record_id, after_value FROM audit WHERE after_value "
                        "LIKE 'set up%' ORDER BY audit_id") == [
            ("kari", "erp", f"set up: created {created}"),
            ("kari", "erp", "set up: nothing to create: it already has everything erpdata "
                            "needs")]


def test_cli_a_tryton_with_names_of_its_own_end_to_end(
        tryton_fresh: TrytonServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """A Norwegian Tryton: the connection names its categories and relation types; connect
    test names the ones missing, the set-up creates them, and records created through the
    connection are read back by ``load --from``."""
    w = _fresh_workspace(tmp_path / "ws.duckdb")
    monkeypatch.setenv("ERPDATA_SECRET_ERP", tryton_fresh.password)
    raw = RawTryton(tryton_fresh)
    raw.call("party.category", "create", [{"name": "Kunde"}])  # one of them is there
    options = ["--option", "customer_category=Kunde", "--option",
               "supplier_category=Leverandør", "--option", "employee_relation=Ansatt hos",
               "--option", "employer_relation=Arbeidsgiver for"]
    assert main(["connect", "add", "erp", *_tryton(tryton_fresh), *options, *w]) == 0
    capsys.readouterr()
    assert main(["connect", "test", "erp", *w]) == 1
    assert capsys.readouterr().err == (
        "erp: error: Tryton 8.2, database fresh, user admin: Tryton has no party category "
        "'Leverandør' (existing: Kunde); run `erpdata connect setup erp` (or \"Set up Tryton "
        "for erpdata\" on the Settings page) to create it, or fix --option supplier_category. "
        "Persons cannot be synced until Tryton has the relation type 'Ansatt hos' (existing: "
        "none); run the same set-up to create it, or fix --option employee_relation. Projects "
        "cannot be created until the Tryton user 'admin' has a company; run the same set-up "
        "to create one.\n")
    assert main(["connect", "setup", "erp", *w]) == 0
    assert capsys.readouterr().err.startswith(
        "erp: set up: created party category Leverandør, relation type Ansatt hos, relation "
        "type Arbeidsgiver for, country NO, ")
    assert main(["connect", "test", "erp", *w]) == 0
    capsys.readouterr()
    with Workspace.open(Path(w[1])) as ws:
        tryton = open_connector(get_connection(ws, "erp"))
    assert isinstance(tryton, TrytonConnector)
    fisk = tryton.create([ErpActor("customer", None, {"name": "Fjord Fisk AS"})], ["1"])
    [company] = fisk.unwrap()
    kari = tryton.create([ErpActor("person", None, {"firstname": "Kari",
                                                    "lastname": "Nordmann"},
                                   parent_erp_key=company.erp_key)], ["11"]).unwrap()
    tryton.close()
    [party] = raw.call("party.party", "search_read", [["id", "=", int(company.erp_key or 0)]],
                       0, None, None, ["categories.name", "relations.type.name"])
    assert [c["name"] for c in party["categories."]] == ["Kunde"]
    assert [r["type."]["name"] for r in party["relations."]] == ["Arbeidsgiver for"]
    for kind in ("company", "person"):
        assert main(["load", "--from", "erp", "--side", "erp", "--kind", kind, *w]) == 0
        assert f"1 rows -> erp {kind}: 1 new, 0 changed, 0 unchanged" in \
            capsys.readouterr().err
    with Workspace.open(Path(w[1])) as ws:
        assert rows(ws, "SELECT id, actor_type, name FROM erp_company") == [
            (company.erp_key, "customer", "Fjord Fisk AS")]
        assert rows(ws, "SELECT id, firstname, lastname, parent_key FROM erp_person") == [
            (kari[0].erp_key, "Kari", "Nordmann", company.erp_key)]


def test_cli_a_tryton_without_the_employee_relation_syncs_its_companies(
        tryton_fresh: TrytonServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Only the customer and supplier categories exist: connect test warns that persons
    wait, and a sync of a new company goes through (it pulls persons as none)."""
    raw = RawTryton(tryton_fresh)
    raw.call("party.category", "create", [{"name": "Customer"}, {"name": "Supplier"}])
    raw.call("country.country", "create", [{"code": "NO", "name": "Norway"}])  # the default
    monkeypatch.setenv("ERPDATA_SECRET_ERP", tryton_fresh.password)
    path = tmp_path / "ws.duckdb"
    with Workspace.open(path) as ws:
        load_file(ws, write_text(tmp_path / "crm.csv", "id;name;postalcity\n"
                                 "7;Havbris AS;Molde\n"), side="crm", kind="company")
        decide(ws, "company", "create", "7", actor_type="customer",
               create_values={"category": "Fisk"})
        assert commit(ws).batch_id == 1
    w = ["--workspace", str(path)]
    assert main(["connect", "add", "erp", *_tryton(tryton_fresh), *w]) == 0
    capsys.readouterr()
    assert main(["connect", "test", "erp", *w]) == 0
    assert capsys.readouterr().err == (
        "erp: warning: Tryton 8.2, database fresh, user admin; Persons cannot be synced until "
        "Tryton has the relation type 'Employee of' (existing: none); run `erpdata connect "
        "setup erp` (or \"Set up Tryton for erpdata\" on the Settings page) to create it, or "
        "fix --option employee_relation. Projects cannot be created until the Tryton user "
        "'admin' has a company; run the same set-up to create one.\n")
    assert main(["sync", *w]) == 0
    err = capsys.readouterr().err.splitlines()
    assert [line.split(" (")[0] for line in err] == [
        "synced: 1 done; pulled 1 new or changed record(s)",
        "  erp company: erp",  # then "(erp company): 1 rows -> ..." and the time it took
        "  erp person: no changes", "  erp project: no changes"]
    # the persons' "no changes" says why: Tryton cannot hold persons of this mapping yet
    assert err[2] == ("  erp person: no changes (Persons cannot be synced until Tryton has the "
                      "relation type 'Employee of' (existing: none); run `erpdata connect setup "
                      "erp` (or \"Set up Tryton for erpdata\" on the Settings page) to create "
                      "it, or fix --option employee_relation.)")
    assert "1 rows -> erp company: 1 new, 0 changed, 0 unchanged" in err[1]
    [party] = raw.call("party.party", "search_read", [["name", "=", "Havbris AS"]], 0, None,
                       None, ["categories.name", "addresses.city"])
    assert ([c["name"] for c in party["categories."]],
            [a["city"] for a in party["addresses."]]) == (["Customer"], ["Molde"])
    with Workspace.open(path) as ws:
        assert rows(ws, "SELECT crm_id, erp_actor_type, erp_id FROM links") == [
            ("7", "customer", str(party["id"]))]
        assert rows(ws, "SELECT status FROM actions") == [("ok",)]
