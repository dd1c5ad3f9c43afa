"""Roles: viewer, steward, admin; checked by the engine, not just hidden in a page.

- viewer: reads everything (pages, reports);
- steward: also decides, picks, commits, undoes and disconnects;
- admin: also changes field mappings and who has which role.

A workspace without any user listed is a one-person workspace: whoever runs it is an admin
(the demo, a notebook, a script). Once a user is listed, everyone not listed is a viewer. The
first role is granted by anyone (that makes the workspace multi-user); later ones by an admin.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import duckdb
import pandas as pd

from erpdata.errors import ErpdataError
from erpdata.workspace import Workspace, current_user

Role = Literal["viewer", "steward", "admin"]
ROLES: tuple[Role, ...] = ("viewer", "steward", "admin")


class AccessDenied(ErpdataError):
    """The acting user's role does not allow the action; says which role would."""


def role_of(ws: Workspace, user: str | None = None,
            con: duckdb.DuckDBPyConnection | None = None) -> Role:
    """The role of ``user`` (default: the current user)."""
    cur = con or ws.cursor()
    name = current_user(user)
    # fetchall, not fetchone: DuckDB keeps a partly fetched result open on the connection
    roles = dict(cur.execute("SELECT name, role FROM users").fetchall())
    if not roles:
        return "admin"
    return roles.get(name, "viewer")


def require(ws: Workspace, needed: Role, what: str, user: str | None = None,
            con: duckdb.DuckDBPyConnection | None = None) -> str:
    """The acting user's name, or :class:`AccessDenied` if their role is below ``needed``."""
    name = current_user(user)
    have = role_of(ws, name, con)
    if ROLES.index(have) < ROLES.index(needed):
        raise AccessDenied(f"user {name!r} is a {have}: {what} needs the {needed} role "
                           "(an admin grants it: erpdata role NAME ROLE)")
    return name


def grant(ws: Workspace, name: str, role: str, *, user: str | None = None) -> None:
    """Give ``name`` the ``role``, audited."""
    if role not in ROLES:
        raise ErpdataError(f"unknown role {role!r}: use one of {', '.join(ROLES)}")
    cur = ws.cursor()
    with ws.transaction(cur):
        who = require(ws, "admin", "granting roles", user, cur)
        (listed,) = cur.execute("SELECT count(*) FROM users").fetchone() or (0,)
        if not listed and who != name:  # the first grant must not lock its author out
            cur.execute("INSERT INTO users VALUES (?, 'admin', ?, ?)",
                        [who, who, datetime.now()])
        before = cur.execute("SELECT role FROM users WHERE name = ?", [name]).fetchone()
        cur.execute("INSERT OR REPLACE INTO users VALUES (?, ?, ?, ?)",
                    [name, role, who, datetime.now()])
        cur.execute("INSERT INTO audit (logged_at, actor, action, record_id, before_value, "
                    "after_value) VALUES (?, ?, 'role', ?, ?, ?)",
                    [datetime.now(), who, name, before, role])


def users(ws: Workspace) -> pd.DataFrame:
    """Listed users and their roles."""
    return ws.cursor().execute("SELECT * FROM users ORDER BY name").df()
