"""Which file on the server a page may read when a user types its path.

Why this exists: the workbench runs as one operating-system user for everyone who signs in,
so a typed path on the Load page used to let any signed-in user preview any file that user
can read, ``/etc/passwd`` as a table or the app's own ``secrets.toml`` with its
``client_secret``. Now a typed path is read only when

- the user is an admin (stewards upload their exports instead: uploads stay open to them);
- it lies, once symlinks and ``..`` are followed, inside a folder the admins listed in
  Settings (:func:`allowed_folders`, below; default: the workspace file's folder);
- no part of it below that folder is hidden (a name starting with a dot: ``.streamlit``,
  ``.ssh``, ``.env`` hold settings and secrets, never exports);
- it is not a ``secrets.toml`` (the workbench's sign-in and connection secrets);
- it is a file.

The command line (``erpdata load PATH``) does not come through here: it runs in a local
user's own shell, with that user's own rights, and reads what they name, as ``cat`` would.
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path

import duckdb

from erpdata.errors import ErpdataError
from erpdata.roles import guarded, require_for
from erpdata.workspace import Workspace

#: What a refused user can do instead, said by every refusal that a folder setting can mend.
INSTEAD = "Upload the file instead, or ask an admin to add its folder in Settings."

#: The file Streamlit reads the workbench's secrets from; never an export.
SECRETS_NAME = "secrets.toml"


class PathRefused(ErpdataError):
    """A typed server path the workbench will not read; says which path, why and what to do."""


# --- folders a page may read by path ---------------------------------------------------------

#: The ``meta`` key of the folders whose files an admin may name by path on the Load page
#: (a JSON list of absolute folders); not set: the workspace file's own folder.
ALLOWED_FOLDERS_KEY = "allowed_folders"


def allowed_folders(ws: Workspace, con: duckdb.DuckDBPyConnection | None = None
                    ) -> list[Path]:
    """The folders a typed server path must lie in (:func:`erpdata.paths.allowed_path`).

    Why a list kept in the workspace and not "anything the server can read": the workbench
    runs as one operating-system user for every signed-in person, so a typed path would let
    a page show ``/etc/passwd`` or the app's own ``secrets.toml``. Default: the folder of
    the workspace file, where the demo writes its exports. An empty list turns typed paths
    off (uploads still work)."""
    row = (con or ws.cursor()).execute("SELECT value FROM meta WHERE key = ?",
                                       [ALLOWED_FOLDERS_KEY]).fetchone()
    if row is None:
        return [ws.path.resolve().parent]
    return [Path(p) for p in json.loads(row[0])]


@guarded
def save_allowed_folders(ws: Workspace, folders: list[str | Path], *,
                         user: str | None = None) -> list[Path]:
    """Replace the allowed folders, audited; admins only (they decide what a page may read
    from the server). Each must be an existing folder given by its absolute path; it is
    stored resolved (symlinks and ``..`` followed), as :func:`~erpdata.paths.allowed_path`
    compares resolved paths. Every bad folder is named at once; nothing is written then."""
    cur = ws.cursor()
    new: list[Path] = []
    bad: list[str] = []
    for given in folders:
        text = str(given).strip()
        folder = Path(text).expanduser()
        if not text or not folder.is_absolute():
            bad.append(f"{text!r} is not an absolute path (give the whole path, such as "
                       "/srv/exports)")
        elif not folder.is_dir():
            bad.append(f"{text} is not an existing folder")
        elif (resolved := folder.resolve()) not in new:
            new.append(resolved)
    if bad:
        raise ErpdataError("allowed folders not saved: " + "; ".join(bad))
    with ws.transaction(cur):
        who = require_for(ws, "save_allowed_folders", user, cur)
        before = [str(p) for p in allowed_folders(ws, cur)]
        after = [str(p) for p in new]
        ws.set_meta(ALLOWED_FOLDERS_KEY, json.dumps(after), cur)
        cur.execute("INSERT INTO audit (logged_at, actor, action, before_value, after_value) "
                    "VALUES (?, ?, 'allowed_folders', ?, ?)",
                    [datetime.now(), who, json.dumps(before), json.dumps(after)])
    return new


# --- a typed path ------------------------------------------------------------------------------


@guarded
def allowed_path(ws: Workspace, typed: str | Path, *, user: str | None = None,
                 con: duckdb.DuckDBPyConnection | None = None) -> Path:
    """The resolved path of ``typed`` if a page may read it, else :class:`PathRefused`
    (or :class:`~erpdata.roles.AccessDenied` for a user who is not an admin).

    The role is checked first, before the path is looked at, so a steward learns nothing
    about which files exist. The path is resolved (``~``, symlinks, ``..``) before any other
    check, so ``allowed/../../etc/passwd`` and a symlink out of the folder are both outside.
    Nothing is written."""
    cur = con or ws.cursor()
    require_for(ws, "allowed_path", user, cur)
    text = str(typed).strip()
    if not text:
        raise PathRefused("no path given: type the whole path of an export file, or upload it")
    given = Path(text).expanduser()
    try:
        resolved = given.resolve()
    except (OSError, RuntimeError) as exc:  # a symlink loop, an unreadable folder
        raise PathRefused(f"{text}: cannot follow this path ({exc}). {INSTEAD}") from exc
    shown = text if str(resolved) == text else f"{text} (that is {resolved})"
    folders = allowed_folders(ws, cur)
    if not folders:
        raise PathRefused(f"{shown}: refused: no folder is allowed for typed paths, so the "
                          f"workbench reads no file on the server by its path. {INSTEAD}")
    inside = next((f for f in folders if resolved.is_relative_to(f)), None)
    if inside is None:
        raise PathRefused(
            f"{shown}: refused: it is outside the folders the workbench may read from "
            f"({', '.join(str(f) for f in folders)}). {INSTEAD}")
    hidden = next((p for p in (given.name, *_below(resolved, [inside]),
                               *_below(Path(os.path.abspath(given)), folders))
                   if p.startswith(".") and p not in (".", "..")), None)
    if hidden is not None:
        raise PathRefused(
            f"{shown}: refused: {hidden!r} is hidden (its name starts with a dot); hidden "
            "files and folders hold settings and secrets, not exports. If it really is an "
            "export, upload it instead.")
    if SECRETS_NAME in (given.name.lower(), resolved.name.lower()):
        raise PathRefused(
            f"{shown}: refused: a {SECRETS_NAME} holds the workbench's sign-in and "
            "connection secrets and is never read as an export. If it really is an export, "
            "upload it instead.")
    if not resolved.exists():
        raise PathRefused(f"{shown}: no such file: check the path, or upload the file")
    if not resolved.is_file():
        raise PathRefused(f"{shown}: refused: it is a folder or a device, not a file: give "
                          "the path of one export file")
    return resolved


def _below(path: Path, folders: list[Path]) -> list[str]:
    """The parts of ``path`` below the first of ``folders`` it lies in: a workspace kept in
    ``~/.erpdata`` is allowed, a ``.streamlit`` folder inside it is not. Checked both as
    typed (``..`` taken away by spelling) and resolved, so a symlink cannot hide either."""
    for folder in folders:
        if path.is_relative_to(folder):
            return list(path.relative_to(folder).parts)
    return []
