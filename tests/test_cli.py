"""The ``erpdata`` command line: the ``status --json`` contract, where the workspace comes from,
and errors (stderr, non-zero exit, the engine's own message naming file, row and column)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from erpdata.cli import main
from erpdata.workspace import Workspace
from tests.conftest import SMALL_COUNTS

STATUS_KEYS = ["crm", "erp", "missing", "links", "linked_share", "workspace", "schema_version"]


def status_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict:
    assert main(list(argv)) == 0
    out = capsys.readouterr().out
    return json.loads(out)


def test_status_json_shape_and_exact_counts(
    small_workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = status_json(capsys, "status", "--json", "--workspace", str(small_workspace))

    assert list(data) == STATUS_KEYS
    assert {k: data[k] for k in SMALL_COUNTS} == SMALL_COUNTS
    assert data["crm"] == {"company": 5, "person": 4, "project": 2}
    assert data["erp"] == {"company": 7, "person": 3, "project": 1}
    assert data["workspace"] == str(small_workspace)
    assert isinstance(data["schema_version"], int)


def test_status_table_on_stdout(small_workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status", "--workspace", str(small_workspace)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1].split() == ["company", "person", "project"]
    assert out[2].split() == ["crm", "5", "4", "2"]
    assert out[3].split() == ["erp", "7", "3", "1"]
    assert out[4].split() == ["linked", "2", "1", "0"]
    assert out[5] == "1 record(s) are flagged missing from their latest export"


@pytest.mark.parametrize("before", [True, False], ids=["before-command", "after-command"])
def test_workspace_option_before_and_after_the_command(
    before: bool, tmp_path: Path, write_csv, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = str(tmp_path / "w.duckdb")
    f = write_csv("companies.csv", [["id", "name"], ["1", "Acme AS"], ["2", "Beta AB"]])
    opt = ["--workspace", ws]
    load = ["load", "--side", "crm", "--kind", "company", str(f)]
    assert main(opt + load if before else load + opt) == 0
    status = ["status", "--json"]
    data = status_json(capsys, *(opt + status if before else status + opt))
    assert data["crm"] == {"company": 2, "person": 0, "project": 0}
    assert data["workspace"] == ws


def test_workspace_from_environment(
    small_workspace: Path, workspace_env, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    monkeypatch.chdir(tmp_path)  # no ./workspace.duckdb to fall back on
    workspace_env(small_workspace)
    data = status_json(capsys, "status", "--json")
    assert data["workspace"] == str(small_workspace)
    assert data["crm"] == SMALL_COUNTS["crm"]


def test_option_wins_over_environment(
    small_workspace: Path, workspace_env, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    other = tmp_path / "other.duckdb"
    Workspace.open(other).close()
    workspace_env(small_workspace)
    data = status_json(capsys, "status", "--json", "--workspace", str(other))
    assert data["workspace"] == str(other)
    assert data["crm"] == {"company": 0, "person": 0, "project": 0}


def test_default_workspace_is_in_the_current_folder(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
    write_csv,
) -> None:
    monkeypatch.delenv("ERPDATA_WORKSPACE", raising=False)
    monkeypatch.chdir(tmp_path)
    f = write_csv("c.csv", [["id", "name"], ["1", "Acme AS"]])
    assert main(["load", "--side", "crm", "--kind", "company", str(f)]) == 0
    assert (tmp_path / "workspace.duckdb").exists()
    assert status_json(capsys, "status", "--json")["crm"]["company"] == 1


def test_status_on_a_missing_workspace_fails_helpfully(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nowhere.duckdb"
    assert main(["status", "--workspace", str(missing)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"error: no workspace at {missing}")
    assert "erpdata demo" in captured.err and "--workspace" in captured.err
    assert not missing.exists()


def test_duplicate_ids_exit_1_with_file_row_and_column_on_stderr(
    tmp_path: Path, write_csv, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = tmp_path / "w.duckdb"
    f = write_csv("dupes.csv", [["id", "name"], ["1", "A"], ["2", "B"], ["1", "C"]])
    code = main(["load", "--workspace", str(ws), "--side", "crm", "--kind", "company", str(f)])
    captured = capsys.readouterr()
    assert code == 1
    assert captured.out == ""
    err = captured.err.strip()
    assert err.startswith("error: ")
    assert "dupes.csv" in err
    assert "row 4" in err
    assert "column 'id'" in err
    assert "appears twice" in err
    assert not ws.exists()  # a failed first load leaves no empty workspace behind


def test_failed_load_into_an_existing_workspace_keeps_it(
    tmp_path: Path, write_csv, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = tmp_path / "w.duckdb"
    good = write_csv("good.csv", [["id", "name"], ["1", "A"]])
    bad = write_csv("bad.csv", [["id", "name"], ["1", "A"], ["1", "B"]])
    assert main(["load", "--workspace", str(ws), "--side", "crm", "--kind", "company",
                 str(good)]) == 0
    assert main(["load", "--workspace", str(ws), "--side", "crm", "--kind", "company",
                 str(bad)]) == 1
    with Workspace.open(ws, read_only=True) as w:
        assert w.counts()["crm"]["company"] == 1


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["load", "--side", "nowhere", "--kind", "company", "f.csv"])
    assert exc.value.code == 2
    assert "invalid choice: 'nowhere'" in capsys.readouterr().err


def test_python_m_erpdata_status_json(small_workspace: Path, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "ERPDATA_WORKSPACE"}
    done = subprocess.run(
        [sys.executable, "-m", "erpdata", "status", "--json", "--workspace", str(small_workspace)],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120, check=False,
    )
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert list(data) == STATUS_KEYS
    assert {k: data[k] for k in SMALL_COUNTS} == SMALL_COUNTS


def test_python_m_erpdata_error_goes_to_stderr(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "erpdata", "status", "--workspace", str(tmp_path / "x.duckdb")],
        capture_output=True, text=True, cwd=tmp_path, timeout=120, check=False,
    )
    assert done.returncode == 1
    assert done.stdout == ""
    assert "error: no workspace at" in done.stderr


def test_demo_command_builds_and_refuses_a_workspace_with_records(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = tmp_path / "demo.duckdb"
    assert main(["demo", "--workspace", str(ws), "--size", "50", "--seed", "7"]) == 0
    assert "demo workspace" in capsys.readouterr().err
    with Workspace.open(ws, read_only=True) as w:
        assert w.counts()["crm"]["company"] == 50
        assert w.get_meta("demo_seed") == "7"
    assert (tmp_path / "demo.demo" / "truth.csv").exists()
    assert main(["demo", "--workspace", str(ws), "--size", "50"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: workspace {ws} already holds")
    assert ws.exists()  # refused, not removed


def test_the_stewards_flow_from_the_command_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ws = str(tmp_path / "flow.duckdb")

    def run(*argv: str) -> str:
        capsys.readouterr()
        assert main([*argv, "--workspace", ws]) == 0
        out = capsys.readouterr()
        return out.out + out.err

    run("demo", "--size", "300", "--seed", "5", "--export-dir", str(tmp_path / "exp"))
    run("match", "--kind", "company")
    auto = int(duckdb_scalar(ws, "SELECT count(*) FROM suggestions WHERE link AND band = 'auto' "
                                 "AND kind = 'company'"))
    assert f"would accept {auto} suggested company link(s)" in run(
        "accept", "--band", "auto", "--dry-run")
    assert duckdb_scalar(ws, "SELECT count(*) FROM decisions") == 0
    assert f"accepted {auto} suggested company link(s)" in run("accept", "--band", "auto",
                                                               "--user", "kari")
    assert f"dry run: would queue {auto} link" in run("commit", "--dry-run")
    assert f"batch 1: queued {auto} link" in run("commit")
    assert duckdb_scalar(ws, "SELECT count(*) FROM links") == auto
    assert "committed" in run("batches")
    files = run("report", "--format", "csv", "--out", str(tmp_path / "rep")).split()
    assert [Path(f).name for f in files][:2] == ["links.csv", "unmatched_crm.csv"]
    assert len((tmp_path / "rep" / "links.csv").read_text(encoding="utf-8").splitlines()) == \
        auto + 1
    assert f"batch 1 undone: {auto} link(s) removed" in run("undo", "1")
    assert duckdb_scalar(ws, "SELECT count(*) FROM links") == 0
    run("mapping", "export", str(tmp_path / "m.toml"))
    assert "21 company field(s), 10 person field(s), 5 project field(s) imported" in run(
        "mapping", "import", str(tmp_path / "m.toml"))


def test_undo_of_an_unknown_batch_says_so(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    ws = tmp_path / "u.duckdb"
    Workspace.open(ws).close()
    assert main(["undo", "9", "--workspace", str(ws)]) == 1
    assert "no batch 9 (see erpdata batches)" in capsys.readouterr().err


def duckdb_scalar(path: str, sql: str) -> int:
    with Workspace.open(Path(path)) as w:
        (value,) = w.con.execute(sql).fetchone() or (0,)
    return int(value)


def test_roles_from_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ws = tmp_path / "r.duckdb"
    Workspace.open(ws).close()
    assert main(["role", "ola", "steward", "--user", "kari", "--workspace", str(ws)]) == 0
    assert "ola is now a steward" in capsys.readouterr().err
    assert main(["commit", "--user", "per", "--workspace", str(ws)]) == 1
    assert "user 'per' is a viewer: committing needs the steward role" in \
        capsys.readouterr().err


def test_python_m_erpdata_connect_test_says_what_an_export_folder_lacks(
        tmp_path: Path) -> None:
    """``erpdata connect test`` of a files connection, as a new user runs it: an empty ERP
    folder fails (exit 1; its first sync would turn every ERP update into a permanent error),
    the same folder with an export passes; ``connect setup`` says it has nothing to do."""
    folder = tmp_path / "erp"
    folder.mkdir()
    workspace = tmp_path / "ws.duckdb"
    Workspace.open(workspace).close()
    env = {k: v for k, v in os.environ.items() if k != "ERPDATA_WORKSPACE"}

    def erpdata(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "erpdata", *argv, "--workspace",
                               str(workspace)], capture_output=True, text=True, env=env,
                              cwd=tmp_path, timeout=120, check=False)

    added = erpdata("connect", "add", "exports", "--type", "files", "--url", str(folder))
    assert added.returncode == 0, added.stderr
    empty = erpdata("connect", "test", "exports")
    assert (empty.returncode, empty.stdout, empty.stderr) == (
        1, "", f"exports: error: the folder {folder} is empty: no export files: a sync could "
        "not read, and so could not update, any ERP record (looked for erp_company.*, "
        "erp_person.*, erp_project.*)\n")
    (folder / "erp_company.csv").write_text("id,name\nK1,Agder Rør AS\n", encoding="utf-8")
    full = erpdata("connect", "test", "exports")
    assert (full.returncode, full.stderr) == (
        0, f"exports: ok: export folder {folder}: erp_company.csv\n")
    setup = erpdata("connect", "setup", "exports")
    assert (setup.returncode, setup.stderr) == (
        0, "exports: set up: a files connection needs no set-up by erpdata\n")
