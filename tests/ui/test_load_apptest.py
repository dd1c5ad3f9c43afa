"""The Load page under AppTest: preview of the column mapping, load, errors with row and column."""

from __future__ import annotations

from pathlib import Path

from erpdata.connections import Connection, add_connection
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
