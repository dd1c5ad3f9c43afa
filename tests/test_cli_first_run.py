"""A new user's first commands: connecting to a live system before any workspace exists, and
matching a workspace that holds one kind only (issue 18)."""

from __future__ import annotations

from pathlib import Path

import pytest

from erpdata.cli import main
from erpdata.live.connections import connections
from erpdata.workspace import Workspace


def test_connect_add_makes_the_missing_workspace(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    ws = tmp_path / "new.duckdb"
    folder = tmp_path / "exports"
    folder.mkdir()

    assert main(["--workspace", str(ws), "connect", "add", "erp", "--type", "files",
                 "--url", str(folder)]) == 0

    err = capsys.readouterr().err
    assert f"new workspace at {ws}" in err
    with Workspace.open(ws, read_only=True) as opened:
        assert [(c.name, c.type, c.side, c.url) for c in connections(opened)] == [
            ("erp", "files", "erp", str(folder))]


def test_connect_add_of_a_bad_connection_makes_no_workspace(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ws = tmp_path / "new.duckdb"

    assert main(["--workspace", str(ws), "connect", "add", "erp", "--type", "tryton",
                 "--url", "not-a-url"]) == 1

    err = capsys.readouterr().err
    assert "connection 'erp'" in err and "--database" in err
    assert not ws.exists()


def _companies_only(tmp_path: Path, write_csv) -> Path:
    ws = tmp_path / "w.duckdb"
    rows = [["id", "name", "city"], ["1", "Acme AS", "Oslo"], ["2", "Beta AB", "Bergen"],
            ["3", "Gamma Oy", "Turku"]]
    for side in ("crm", "erp"):
        f = write_csv(f"{side}_company.csv", rows)
        typed = ["--actor-type", "customer"] if side == "erp" else []
        assert main(["--workspace", str(ws), "load", "--side", side, "--kind", "company",
                     *typed, str(f)]) == 0
    return ws


def test_match_skips_the_kinds_not_loaded_with_a_note(
        tmp_path: Path, write_csv, capsys: pytest.CaptureFixture[str]) -> None:
    ws = _companies_only(tmp_path, write_csv)
    capsys.readouterr()

    assert main(["--workspace", str(ws), "match"]) == 0

    err = capsys.readouterr().err
    assert "note: person: skipped: nothing to match (0 CRM and 0 ERP person records)" in err
    assert "note: project: skipped: nothing to match (0 CRM and 0 ERP project records)" in err
    assert "company: 3 suggested links" in err


def test_match_of_a_kind_asked_for_by_name_still_fails_without_records(
        tmp_path: Path, write_csv, capsys: pytest.CaptureFixture[str]) -> None:
    ws = _companies_only(tmp_path, write_csv)
    capsys.readouterr()

    assert main(["--workspace", str(ws), "match", "--kind", "person"]) == 1

    assert ("error: nothing to match: the workspace has 0 CRM and 0 ERP person records"
            in capsys.readouterr().err)


def test_match_with_no_kind_on_both_sides_fails(
        tmp_path: Path, write_csv, capsys: pytest.CaptureFixture[str]) -> None:
    ws = tmp_path / "w.duckdb"
    f = write_csv("crm_company.csv", [["id", "name"], ["1", "Acme AS"]])
    assert main(["--workspace", str(ws), "load", "--side", "crm", "--kind", "company",
                 str(f)]) == 0
    capsys.readouterr()

    assert main(["--workspace", str(ws), "match"]) == 1

    err = capsys.readouterr().err
    assert "note: company: skipped: nothing to match (1 CRM and 0 ERP company records)" in err
    assert "error: nothing to match: no kind has records on both sides" in err
