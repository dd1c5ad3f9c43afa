"""Typed server paths (erpdata.paths): admins only, inside the allowed folders, no hidden file,
no secrets.toml, files only; and the allowed-folders setting (erpdata.paths too). Every refusal
is exact and writes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from erpdata.errors import ErpdataError
from erpdata.paths import (
    INSTEAD,
    PathRefused,
    allowed_folders,
    allowed_path,
    save_allowed_folders,
)
from erpdata.roles import AccessDenied, grant
from erpdata.workspace import Workspace
from tests.helpers import rows, snapshot, write_text


@pytest.fixture
def folder(ws: Workspace) -> Path:
    """The workspace's folder (the default allowed one), with one export in it."""
    here = ws.path.resolve().parent
    write_text(here / "firma.csv", "id;name\n1;Hansen AS\n")
    return here


def refused(ws: Workspace, typed: str | Path, user: str | None = None,
            error: type[ErpdataError] = PathRefused) -> str:
    """The refusal of ``typed``, after checking that it wrote nothing."""
    before = snapshot(ws)
    with pytest.raises(error) as caught:
        allowed_path(ws, typed, user=user)
    assert snapshot(ws) == before
    return str(caught.value)


def test_a_file_in_the_workspace_folder_is_allowed(ws: Workspace, folder: Path) -> None:
    before = snapshot(ws)
    assert allowed_path(ws, str(folder / "firma.csv")) == folder / "firma.csv"
    assert allowed_path(ws, f"  {folder}/sub/../firma.csv ") == folder / "firma.csv"
    assert snapshot(ws) == before


def test_only_admins_type_paths(ws: Workspace, folder: Path) -> None:
    grant(ws, "sam", "steward", user="boss")
    assert refused(ws, folder / "firma.csv", "sam", AccessDenied) == (
        "user 'sam' is a steward: reading a file on the server needs the admin role (an admin "
        "grants it: erpdata role NAME ROLE)")
    assert refused(ws, "/etc/passwd", "eve", AccessDenied) == (
        "user 'eve' is a viewer: reading a file on the server needs the admin role (an admin "
        "grants it: erpdata role NAME ROLE)")
    assert allowed_path(ws, folder / "firma.csv", user="boss") == folder / "firma.csv"


def test_outside_the_allowed_folders(ws: Workspace, folder: Path) -> None:
    assert refused(ws, "/etc/passwd") == (
        f"/etc/passwd: refused: it is outside the folders the workbench may read from "
        f"({folder}). {INSTEAD}")
    up = f"{folder}/../../../../../../etc/passwd"
    assert refused(ws, up) == (
        f"{up} (that is /etc/passwd): refused: it is outside the folders the workbench may "
        f"read from ({folder}). {INSTEAD}")


def test_a_symlink_out_of_the_folder_is_outside(ws: Workspace, folder: Path,
                                                 tmp_path_factory: pytest.TempPathFactory
                                                 ) -> None:
    elsewhere = write_text(tmp_path_factory.mktemp("elsewhere") / "x.csv", "id\n1\n")
    (folder / "link.csv").symlink_to(elsewhere)
    assert refused(ws, folder / "link.csv") == (
        f"{folder}/link.csv (that is {elsewhere}): refused: it is outside the folders the "
        f"workbench may read from ({folder}). {INSTEAD}")


def test_hidden_files_and_folders(ws: Workspace, folder: Path) -> None:
    write_text(folder / ".env", "TOKEN=x\n")
    (folder / ".streamlit").mkdir()
    write_text(folder / ".streamlit" / "data.csv", "id\n1\n")
    hidden = ("refused: {name!r} is hidden (its name starts with a dot); hidden files and "
              "folders hold settings and secrets, not exports. If it really is an export, "
              "upload it instead.")
    assert refused(ws, folder / ".env") == f"{folder}/.env: " + hidden.format(name=".env")
    assert refused(ws, folder / ".streamlit" / "data.csv") == (
        f"{folder}/.streamlit/data.csv: " + hidden.format(name=".streamlit"))
    # a harmless name that points into a hidden folder is refused by where it points
    (folder / "plain.csv").symlink_to(folder / ".streamlit" / "data.csv")
    assert refused(ws, folder / "plain.csv") == (
        f"{folder}/plain.csv (that is {folder}/.streamlit/data.csv): "
        + hidden.format(name=".streamlit"))


def test_a_workspace_in_a_hidden_folder_still_reads_its_own_files(tmp_path: Path) -> None:
    with Workspace.open(tmp_path / ".erpdata" / "ws.duckdb") as w:
        f = write_text(tmp_path / ".erpdata" / "firma.csv", "id\n1\n")
        assert allowed_path(w, f) == f


def test_secrets_toml_is_never_read(ws: Workspace, folder: Path) -> None:
    write_text(folder / "secrets.toml", '[auth]\nclient_secret = "s3cret"\n')
    why = ("refused: a secrets.toml holds the workbench's sign-in and connection secrets and "
           "is never read as an export. If it really is an export, upload it instead.")
    assert refused(ws, folder / "secrets.toml") == f"{folder}/secrets.toml: {why}"
    (folder / "export.csv").symlink_to(folder / "secrets.toml")
    assert refused(ws, folder / "export.csv") == (
        f"{folder}/export.csv (that is {folder}/secrets.toml): {why}")


def test_folders_and_missing_files(ws: Workspace, folder: Path) -> None:
    (folder / "sub").mkdir()
    assert refused(ws, folder / "sub") == (
        f"{folder}/sub: refused: it is a folder or a device, not a file: give the path of one "
        "export file")
    assert refused(ws, folder / "nope.csv") == (
        f"{folder}/nope.csv: no such file: check the path, or upload the file")
    assert refused(ws, "  ") == (
        "no path given: type the whole path of an export file, or upload it")


def test_allowed_folders_default_and_saved(ws: Workspace, folder: Path,
                                           tmp_path_factory: pytest.TempPathFactory) -> None:
    assert allowed_folders(ws) == [folder]
    other = tmp_path_factory.mktemp("exports")
    f = write_text(other / "e.csv", "id\n1\n")
    assert save_allowed_folders(ws, [str(other), f"{other}/../{other.name}"], user="boss") == [
        other]
    assert allowed_folders(ws) == [other]
    assert allowed_path(ws, f) == f
    assert refused(ws, folder / "firma.csv") == (
        f"{folder}/firma.csv: refused: it is outside the folders the workbench may read from "
        f"({other}). {INSTEAD}")
    assert rows(ws, "SELECT actor, action, before_value, after_value FROM audit") == [
        ("boss", "allowed_folders", json.dumps([str(folder)]), json.dumps([str(other)]))]
    save_allowed_folders(ws, [], user="boss")
    assert refused(ws, f) == (
        f"{f}: refused: no folder is allowed for typed paths, so the workbench reads no file "
        f"on the server by its path. {INSTEAD}")


def test_saving_allowed_folders_is_for_admins_and_checks_each(ws: Workspace,
                                                              folder: Path) -> None:
    grant(ws, "sam", "steward", user="boss")
    before = snapshot(ws)
    with pytest.raises(AccessDenied) as caught:
        save_allowed_folders(ws, ["/"], user="sam")
    assert str(caught.value) == (
        "user 'sam' is a steward: changing the folders files may be read from needs the admin "
        "role (an admin grants it: erpdata role NAME ROLE)")
    with pytest.raises(ErpdataError) as caught:
        save_allowed_folders(ws, ["relative/dir", str(folder / "firma.csv"), str(folder)],
                             user="boss")
    assert str(caught.value) == (
        "allowed folders not saved: 'relative/dir' is not an absolute path (give the whole "
        f"path, such as /srv/exports); {folder}/firma.csv is not an existing folder")
    assert snapshot(ws) == before
    assert allowed_folders(ws) == [folder]
