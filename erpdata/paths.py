"""Which file on the server a page may read when a user types its path.

Why this exists: the workbench runs as one operating-system user for everyone who signs in,
so a typed path on the Load page used to let any signed-in user preview any file that user
can read, ``/etc/passwd`` as a table or the app's own ``secrets.toml`` with its
``client_secret``. Now a typed path is read only when

- the user is an admin (stewards upload their exports instead: uploads stay open to them);
- it lies, once symlinks and ``..`` are followed, inside a folder the admins listed in
  Settings (:func:`erpdata.settings.allowed_folders`; default: the workspace file's folder);
- no part of it below that folder is hidden (a name starting with a dot: ``.streamlit``,
  ``.ssh``, ``.env`` hold settings and secrets, never exports);
- it is not a ``secrets.toml`` (the workbench's sign-in and connection secrets);
- it is a file.

The command line (``erpdata load PATH``) does not come through here: it runs in a local
user's own shell, with that user's own rights, and reads what they name, as ``cat`` would.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

from erpdata.errors import ErpdataError
from erpdata.roles import guarded, require_for
from erpdata.settings import allowed_folders
from erpdata.workspace import Workspace

#: What a refused user can do instead, said by every refusal that a folder setting can mend.
INSTEAD = "Upload the file instead, or ask an admin to add its folder in Settings."

#: The file Streamlit reads the workbench's secrets from; never an export.
SECRETS_NAME = "secrets.toml"


class PathRefused(ErpdataError):
    """A typed server path the workbench will not read; says which path, why and what to do."""


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
