"""The Load page under AppTest: preview of the column mapping, load, errors with row and column."""

from __future__ import annotations

from pathlib import Path

from erpdata.ingest.load import load_file
from erpdata.live.connections import Connection, add_connection
from erpdata.workspace import Workspace
from tests.helpers import write_text
from tests.ui.conftest import finish_jobs


def test_preview_then_load(tmp_path: Path, empty_workspace: Path, open_page) -> None:
    path = empty_workspace
    at = open_page(path, "load")
    f = write_text(tmp_path / "firma.csv", "Firma-ID;Firmanavn;Farge\n1;Hansen AS;blå\n"
                   "2;Berg AS;rød\n")
    at.text_input(key="load_path").set_value(str(f)).run()
    assert not at.exception
    mapping = at.dataframe[0].value
    assert mapping.values.tolist() == [["Firma-ID", "id", "synonym"],
                                       ["Firmanavn", "name", "synonym"],
                                       ["Farge", "extra", "kept as is"]]
    at.button(key="load_go").click().run()
    finish_jobs(at)
    assert not at.exception
    assert "firma.csv: 2 rows -> crm company: 2 new, 0 changed" in at.success[0].value
    with Workspace.open(path) as ws:
        assert ws.con.execute("SELECT id, name FROM crm_company ORDER BY id").fetchall() == [
            ("1", "Hansen AS"), ("2", "Berg AS")]


def test_a_bad_file_is_an_error_with_row_and_column(tmp_path: Path, empty_workspace: Path,
                                                    open_page) -> None:
    path = empty_workspace
    at = open_page(path, "load")
    f = write_text(tmp_path / "dup.csv", "id;name\n7;A\n7;B\n")
    at.text_input(key="load_path").set_value(str(f)).run()
    at.button(key="load_go").click().run()
    finish_jobs(at)
    assert not at.exception
    assert "dup.csv, row 3, column 'id' (A): id '7' appears twice" in at.error[0].value
    with Workspace.open(path) as ws:
        assert ws.con.execute("SELECT count(*) FROM crm_company").fetchone() == (0,)


def test_pull_from_a_live_system(tmp_path: Path, empty_workspace: Path, open_page) -> None:
    folder = tmp_path / "erp"
    folder.mkdir()
    write_text(folder / "erp_company.csv", "id,type,name\nK1,customer,Hansen AS\n"
                                           "L1,supplier,Berg AS\n")
    with Workspace.open(empty_workspace) as ws:
        add_connection(ws, Connection("exports", "files", "erp", str(folder)))
    at = open_page(empty_workspace, "load")
    at.segmented_control(key="load_side").set_value("erp").run()
    assert at.selectbox(key="load_source").value == "exports"
    at.button(key="load_pull").click().run()
    finish_jobs(at)
    assert not at.exception
    assert "exports (erp company): 2 rows -> erp company: 2 new" in at.success[0].value
    with Workspace.open(empty_workspace) as ws:
        rows = ws.con.execute("SELECT actor_type, id FROM erp_company ORDER BY id").fetchall()
    assert rows == [("customer", "K1"), ("supplier", "L1")]


def test_a_file_above_the_load_limit_is_refused_before_it_is_read(
        tmp_path: Path, empty_workspace: Path, open_page, monkeypatch) -> None:
    """ERPDATA_MAX_LOAD_MB is the limit of the page too: the file's size, the limit and how to
    raise it, and no mapping, no Load button and nothing written."""
    monkeypatch.setenv("ERPDATA_MAX_LOAD_MB", "1")
    at = open_page(empty_workspace, "load")
    f = write_text(tmp_path / "big.csv", "id;name\n1;" + "x" * 1_100_000 + "\n")
    at.text_input(key="load_path").set_value(str(f)).run()
    assert not at.exception
    assert [e.value for e in at.error] == [
        f"{f}: the file is 1.0 MB (1,100,011 bytes), more than the load limit of 1.0 MB: split "
        "the export into smaller files, or raise the limit with the environment variable "
        "ERPDATA_MAX_LOAD_MB (in megabytes, e.g. ERPDATA_MAX_LOAD_MB=2) if this machine has "
        "the memory and disk for it"]
    assert not [b for b in at.button if b.key == "load_go"]
    with Workspace.open(empty_workspace) as ws:
        assert ws.con.execute("SELECT count(*) FROM loads").fetchone() == (0,)


def test_the_upload_limit_is_the_engine_limit() -> None:
    """Streamlit's own upload limit (.streamlit/config.toml) equals the engine's default, so a
    file the browser accepts is one the engine loads, and the other way round."""
    import tomllib

    from erpdata.ingest.sources import DEFAULT_MAX_LOAD_MB

    config = tomllib.loads((Path(__file__).resolve().parents[2] / ".streamlit" / "config.toml")
                           .read_text(encoding="utf-8"))
    assert config["server"]["maxUploadSize"] == DEFAULT_MAX_LOAD_MB


def test_the_values_proposal_is_preselected(tmp_path: Path, empty_workspace: Path,
                                            open_page) -> None:
    """A person file whose headers name neither key nor company: the editor pre-selects what
    the values propose, says why, and the load takes it."""
    with Workspace.open(empty_workspace) as ws:
        load_file(ws, write_text(tmp_path / "c.csv", "Nr;Navn\n10001;Hansen AS\n10002;Berg AS\n"),
                  side="erp", kind="company", actor_type="customer")
    at = open_page(empty_workspace, "load")
    at.segmented_control(key="load_side").set_value("erp").run()
    at.segmented_control(key="load_kind").set_value("person").run()
    f = write_text(tmp_path / "p.csv", "Kode;Fornavn;Kunde\nK1;Kari;10001\nK2;Ola;10002\n")
    at.text_input(key="load_path").set_value(str(f)).run()
    assert not at.exception
    assert at.dataframe[0].value.values.tolist() == [
        ["Kode", "id", "values: 2 unique, never empty"],
        ["Fornavn", "firstname", "synonym"],
        ["Kunde", "parent_key", "values: 2 of 2 are keys of the loaded ERP companies"]]
    assert ("key: column 'Kode' (values: 2 unique, never empty) · parent: column 'Kunde' "
            "(values: 2 of 2 are keys of the loaded ERP companies)") in [c.value
                                                                          for c in at.caption]
    at.button(key="load_go").click().run()
    finish_jobs(at)
    assert not at.exception
    with Workspace.open(empty_workspace) as ws:
        assert ws.con.execute("SELECT id, firstname, parent_key FROM erp_person ORDER BY id"
                              ).fetchall() == [("K1", "Kari", "10001"), ("K2", "Ola", "10002")]


COMPANIES3 = "id;name\n1;Hansen AS\n2;Berg AS\n3;Dahl AS\n"


def test_preview_says_what_happens_to_records_the_file_lacks(tmp_path: Path,
                                                             empty_workspace: Path,
                                                             open_page) -> None:
    """A file of 20 new companies must not flag the 2,000 others without warning: the preview
    counts them and says what each choice does; "Only some records" keeps them."""
    with Workspace.open(empty_workspace) as ws:
        load_file(ws, write_text(tmp_path / "all.csv", COMPANIES3), side="crm", kind="company")
    at = open_page(empty_workspace, "load")
    f = write_text(tmp_path / "new.csv", "id;name\n3;Dahl AS\n4;Nye AS\n")
    at.text_input(key="load_path").set_value(str(f)).run()
    assert not at.exception
    assert at.radio(key="load_scope").value == "full"
    assert at.radio(key="load_cells").value == "strict"
    assert [w.value for w in at.warning] == [
        "2 record(s) in the workspace (CRM companies) are not in this file: they will be "
        "flagged missing (their links and decisions stay). If the file holds only some "
        "records, choose \"Only some records\"."]
    at.radio(key="load_scope").set_value("partial").run()
    assert not at.warning
    assert [i.value for i in at.info] == [
        "2 record(s) in the workspace (CRM companies) are not in this file: they will be kept "
        "as they are (partial load)."]
    at.button(key="load_go").click().run()
    finish_jobs(at)
    assert not at.exception
    assert ("new.csv: 2 rows -> crm company: 1 new, 0 changed, 1 unchanged, nothing flagged "
            "missing (partial load)") in at.success[0].value
    with Workspace.open(empty_workspace) as ws:
        assert ws.con.execute("SELECT id, missing_since FROM crm_company ORDER BY id"
                              ).fetchall() == [("1", None), ("2", None), ("3", None),
                                               ("4", None)]


def test_a_file_with_every_record_says_nothing_will_be_flagged(tmp_path: Path,
                                                               empty_workspace: Path,
                                                               open_page) -> None:
    with Workspace.open(empty_workspace) as ws:
        load_file(ws, write_text(tmp_path / "all.csv", COMPANIES3), side="crm", kind="company")
    at = open_page(empty_workspace, "load")
    f = write_text(tmp_path / "again.csv", COMPANIES3 + "4;Nye AS\n")
    at.text_input(key="load_path").set_value(str(f)).run()
    assert [i.value for i in at.info] == [
        "Every record in the workspace (CRM companies) is in this file: nothing will be "
        "flagged missing."]


def test_lenient_choice_loads_and_lists_the_cells_left_empty(tmp_path: Path,
                                                             empty_workspace: Path,
                                                             open_page) -> None:
    """The strict default refuses one bad date naming its cell; the lenient choice loads the
    file and lists that cell, with the field's plain name, under the outcome."""
    with Workspace.open(empty_workspace) as ws:
        load_file(ws, write_text(tmp_path / "c.csv", COMPANIES3), side="crm", kind="company")
    at = open_page(empty_workspace, "load")
    at.segmented_control(key="load_kind").set_value("person").run()
    f = write_text(tmp_path / "persons.csv", "id;Fornavn;Firma-ID;Fødselsdato\n"
                   "10;Ola;1;31.12.1980\n11;Kari;2;19450493\n")
    at.text_input(key="load_path").set_value(str(f)).run()
    at.button(key="load_go").click().run()
    finish_jobs(at)
    assert ("persons.csv, row 3, column 'Fødselsdato' (D): '19450493' is not a date"
            in at.error[0].value)
    at.radio(key="load_cells").set_value("lenient").run()
    at.button(key="load_go").click().run()
    finish_jobs(at)
    assert not at.exception
    assert not at.error
    assert "persons.csv: 2 rows -> crm person: 2 new" in at.success[0].value
    assert [w.value for w in at.warning] == [
        "1 cell(s) did not parse and were left empty (lenient load). Correct them in the "
        "export and load it again to fill them in."]
    table = next(d.value for d in at.dataframe if "Why" in d.value.columns)
    assert table.values.tolist() == [
        [str(f), 3, "Fødselsdato (D)", "Birth date", "19450493",
         "'19450493' is not a date such as 2026-03-31 or 31.03.2026"]]
    with Workspace.open(empty_workspace) as ws:
        assert ws.con.execute("SELECT id, birthdate IS NULL FROM crm_person ORDER BY id"
                              ).fetchall() == [("10", False), ("11", True)]


def test_a_steward_cannot_type_a_server_path(tmp_path: Path, empty_workspace: Path,
                                             open_page) -> None:
    """Uploads stay open to stewards; the typed path is disabled, and a path typed while the
    user was an admin (a one-person workspace) is refused by the engine once they are a
    steward, naming the user, their role and the role needed."""
    from erpdata.roles import grant

    at = open_page(empty_workspace, "load")
    f = write_text(tmp_path / "firma.csv", "id;name\n1;Hansen AS\n")
    at.text_input(key="load_path").set_value(str(f)).run()
    assert at.dataframe and not at.error  # an admin (nobody listed): the preview shows
    with Workspace.open(empty_workspace) as ws:
        grant(ws, "tester", "steward", user="boss")
    at.run()
    assert not at.exception
    assert at.text_input(key="load_path").disabled
    assert ("Typing a path on the server is for admins (you are a steward); uploading an "
            "export is open to you.") in [c.value for c in at.caption]
    assert [e.value for e in at.error] == [
        "user 'tester' is a steward: reading a file on the server needs the admin role (an "
        "admin grants it: erpdata role NAME ROLE)"]
    assert not at.dataframe
    assert not [b for b in at.button if b.key == "load_go"]


def test_an_admin_cannot_read_files_outside_or_secrets(tmp_path: Path, empty_workspace: Path,
                                                       open_page) -> None:
    """/etc/passwd is outside the allowed folders; a secrets.toml beside the workspace is
    never read: an error says why and what to do, and nothing of either file is shown."""
    from erpdata.paths import INSTEAD

    secrets = write_text(tmp_path / "secrets.toml", '[auth]\nclient_secret = "s3cret"\n')
    at = open_page(empty_workspace, "load")
    assert not at.text_input(key="load_path").disabled
    at.text_input(key="load_path").set_value("/etc/passwd").run()
    assert not at.exception
    assert [e.value for e in at.error] == [
        f"/etc/passwd: refused: it is outside the folders the workbench may read from "
        f"({tmp_path}). {INSTEAD}"]
    assert not at.dataframe
    at.text_input(key="load_path").set_value(str(secrets)).run()
    assert [e.value for e in at.error] == [
        f"{secrets}: refused: a secrets.toml holds the workbench's sign-in and connection "
        "secrets and is never read as an export. If it really is an export, upload it "
        "instead."]
    assert not at.dataframe
    assert not [b for b in at.button if b.key == "load_go"]
    with Workspace.open(empty_workspace) as ws:
        assert ws.con.execute("SELECT count(*) FROM loads").fetchone() == (0,)


def test_an_admin_adds_a_folder_in_settings_and_loads_from_it(
        tmp_path_factory, empty_workspace: Path, open_page) -> None:
    """A CSV outside the workspace folder is refused until an admin lists its folder in
    Settings; then it previews."""
    exports = tmp_path_factory.mktemp("exports")
    f = write_text(exports / "firma.csv", "id;name\n1;Hansen AS\n")
    at = open_page(empty_workspace, "load")
    at.text_input(key="load_path").set_value(str(f)).run()
    assert [e.value for e in at.error] == [
        f"{f}: refused: it is outside the folders the workbench may read from "
        f"({empty_workspace.parent}). Upload the file instead, or ask an admin to add its "
        "folder in Settings."]
    at.switch_page("pages/settings.py").run()
    assert next(d.value for d in at.dataframe if "Folder" in d.value.columns
                )["Folder"].tolist() == [
        str(empty_workspace.parent)]
    at.text_area(key="folders_text").set_value(f"{empty_workspace.parent}\n{exports}\n").run()
    at.button(key="folders_save").click().run()
    assert not at.exception
    assert at.success[0].value == (f"Server folders saved: {empty_workspace.parent}, "
                                   f"{exports}")
    at.switch_page("pages/load.py").run()
    at.text_input(key="load_path").set_value(str(f) + " ").run()
    assert not at.error
    assert at.dataframe[0].value["header"].tolist() == ["id", "name"]
    with Workspace.open(empty_workspace) as ws:
        assert ws.con.execute("SELECT actor, action, after_value FROM audit").fetchall() == [
            ("tester", "allowed_folders", f'["{empty_workspace.parent}", "{exports}"]')]


def test_adopt_the_links_a_live_crm_holds(tmp_path: Path, empty_workspace: Path,
                                          open_page) -> None:
    folder = tmp_path / "crm"
    folder.mkdir()
    write_text(folder / "crm_company.csv", "id,name\n1,Hansen AS\n2,Berg AS\n")
    write_text(folder / "crm_links.csv", "kind,crm_id,erp_actor_type,erp_key\n"
                                         "company,1,customer,K1\ncompany,9,customer,K9\n")
    with Workspace.open(empty_workspace) as ws:
        add_connection(ws, Connection("so", "files", "crm", str(folder)))
    at = open_page(empty_workspace, "load")
    at.button(key="load_pull").click().run()  # the CRM companies first
    finish_jobs(at)
    at.button(key="load_adopt").click().run()
    finish_jobs(at)
    assert not at.exception
    assert [s.value for s in at.success][1] == "Links adopted from the CRM (by tester):"
    assert [m.value for m in at.markdown if m.value.startswith("- ")][:3] == [
        "- company: the CRM lists 2 link(s): 1 adopted, 0 already in the workspace; 1 left "
        "out: the CRM record is not in the workspace (pull or load the CRM first); 1 adopted "
        "link(s) name ERP records not loaded yet (pull the ERP)",
        "- person: the CRM lists 0 link(s): 0 adopted, 0 already in the workspace",
        "- project: the CRM lists 0 link(s): 0 adopted, 0 already in the workspace"]
    with Workspace.open(empty_workspace) as ws:
        assert ws.con.execute("SELECT crm_id, erp_actor_type, erp_id FROM links").fetchall() == [
            ("1", "customer", "K1")]
