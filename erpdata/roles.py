"""Roles: viewer, steward, admin; checked by the engine, not just hidden in a page.

- viewer: reads everything (pages, reports);
- steward: also loads files, pulls from connections, runs matching, decides, picks, commits,
  undoes, disconnects and syncs;
- admin: also changes field mappings, thresholds, connections and who has which role.

A workspace without any user listed is a one-person workspace: whoever runs it is an admin
(the demo, a notebook, a script). Once a user is listed, everyone not listed is a viewer. The
first role is granted by anyone (that makes the workspace multi-user); later ones by an admin.

**One policy table.** :data:`POLICY` says, for every engine entry point that takes a workspace
(every such function of ``erpdata.__all__``, and the other writers the pages and the CLI call),
the role it needs and what it does in words. Each is defined with :func:`guarded`, which looks
itself up there and refuses the call before anything is read or written; a function with no
entry cannot be guarded (its module fails to import), so a new entry point cannot forget its
role. Writers also re-check inside their transaction with :func:`require_for` (the role may
have been taken away in between), reading the same entry, so the words are written once.
``tests/test_role_boundaries.py`` walks the table for every role.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, TypeVar, cast

import duckdb
import pandas as pd

from erpdata.errors import ErpdataError
from erpdata.workspace import Workspace, current_user

Role = Literal["viewer", "steward", "admin"]
ROLES: tuple[Role, ...] = ("viewer", "steward", "admin")


class AccessDenied(ErpdataError):
    """The acting user's role does not allow the action; says which role would."""


@dataclass(frozen=True)
class Policy:
    """What one entry point needs: the lowest role allowed and what it does, in the words a
    refusal uses ("user 'eve' is a viewer: loading files needs the steward role")."""

    role: Role
    what: str
    #: A call with ``dry_run=True`` only reads (what a commit would do, how many pairs a bulk
    #: decision would touch): any role may look.
    dry_run_reads: bool = False


def _reads(what: str) -> Policy:
    return Policy("viewer", what)


#: Entry point name -> its policy. Readers are listed too (``viewer``: nobody is below it), so
#: that the table is the whole public API and a test can prove nothing is left out.
POLICY: dict[str, Policy] = {
    # admin: settings and who may do what
    "add_connection": Policy("admin", "changing connections"),
    "remove_connection": Policy("admin", "changing connections"),
    "setup_connection": Policy("admin", "setting up a connected system"),
    "grant": Policy("admin", "granting roles"),
    "save_mappings": Policy("admin", "changing field mappings"),
    "import_toml": Policy("admin", "changing field mappings"),
    "save_thresholds": Policy("admin", "changing thresholds"),
    "save_allowed_folders": Policy("admin", "changing the folders files may be read from"),
    "allowed_path": Policy("admin", "reading a file on the server"),
    # steward: the work on records
    "build_demo": Policy("steward", "building the demo"),
    "load_file": Policy("steward", "loading files"),
    "pull": Policy("steward", "pulling from a connection"),
    "fetch": Policy("steward", "fetching records from a connection"),
    "adopt_links": Policy("steward", "adopting the links the CRM holds"),
    "match_workspace": Policy("steward", "running matching"),
    "decide": Policy("steward", "deciding on pairs"),
    "decide_bulk": Policy("steward", "deciding on pairs", dry_run_reads=True),
    "revoke": Policy("steward", "revoking decisions"),
    "withdraw": Policy("steward", "withdrawing decisions"),
    "pick": Policy("steward", "picking values"),
    "pick_side": Policy("steward", "picking values"),
    "commit": Policy("steward", "committing", dry_run_reads=True),
    "undo": Policy("steward", "undoing a batch"),
    "disconnect": Policy("steward", "disconnecting"),
    "sync_now": Policy("steward", "syncing"),
    "sync": Policy("steward", "syncing"),
    "propagate": Policy("steward", "syncing"),
    "resolve_conflict": Policy("steward", "resolving sync conflicts"),
    "retry_failed": Policy("steward", "sending failed actions again"),
    # viewer: reading
    "batches": _reads("reading the batches"),
    "build_reports": _reads("reading the reports"),
    "changes": _reads("reading what a load changed"),
    "current_decision": _reads("reading a decision"),
    "default_delimiter": _reads("reading the report settings"),
    "diff": _reads("comparing a pair"),
    "export_reports": _reads("exporting the reports"),
    "mappings": _reads("reading field mappings"),
    "pending": _reads("reading what waits to be committed"),
    "queue_facets": _reads("reading the queue"),
    "queue_page": _reads("reading the queue"),
    "recent_loads": _reads("reading the loads"),
    "role_of": _reads("reading roles"),
    "suggestions": _reads("reading suggestions"),
}

#: Entry point name -> the function :func:`guarded` made of it (what the test walks).
GUARDED: dict[str, Callable[..., Any]] = {}

F = TypeVar("F", bound=Callable[..., Any])


def guarded(fn: F) -> F:
    """Enforce ``POLICY[fn.__name__]`` on every call of ``fn``, before its body runs.

    The first argument is the workspace (a path instead, as :func:`~erpdata.demo.build_demo`
    takes, is checked by the function once it has opened it); the acting user is its
    ``user=`` argument (else :func:`~erpdata.workspace.current_user`), read through its
    ``con=`` argument when it has one (a caller's transaction). Readers pass unchanged: every
    user is at least a viewer."""
    name = fn.__name__
    policy = POLICY.get(name)
    if policy is None:  # fail closed: an entry point without a policy does not import
        raise TypeError(f"{fn.__module__}.{name} has no entry in erpdata.roles.POLICY: "
                        "say which role it needs")
    if policy.role == "viewer":
        GUARDED[name] = fn
        return fn
    sig = inspect.signature(fn)
    first = next(iter(sig.parameters))

    @functools.wraps(fn)
    def checked(*args: Any, **kwargs: Any) -> Any:
        try:
            bound = sig.bind(*args, **kwargs)
        except TypeError:  # a wrong call: let the function say so, as it would unguarded
            return fn(*args, **kwargs)
        arguments = bound.arguments
        ws = arguments.get(first)
        if isinstance(ws, Workspace) and not (policy.dry_run_reads
                                              and arguments.get("dry_run")):
            con = arguments.get("con")
            cur = con if con is not None else ws.cursor()
            try:
                require(ws, policy.role, policy.what, arguments.get("user"), cur)
            finally:
                if con is None:
                    cur.close()
        return fn(*args, **kwargs)

    GUARDED[name] = checked
    return cast(F, checked)


def role_of(ws: Workspace, user: str | None = None,
            con: duckdb.DuckDBPyConnection | None = None) -> Role:
    """The role of ``user`` (default: the current user)."""
    cur = con or ws.cursor()
    name = current_user(user)
    # A workspace of a version before roles (no users table; only one opened without its
    # migrations, as a test of them does) has no listed user: a one-person workspace. Asked
    # by name, not by reading the table: DuckDB would otherwise scan a Python object of that
    # name from the caller's frame.
    (has_users,) = cur.execute("SELECT count(*) FROM duckdb_tables() WHERE schema_name = "
                               "'main' AND table_name = 'users'").fetchall()[0]
    if not has_users:
        return "admin"
    # fetchall, not fetchone: DuckDB keeps a partly fetched result open on the connection
    roles = dict(cur.execute("SELECT name, role FROM main.users").fetchall())
    if not roles:
        return "admin"
    return roles.get(name, "viewer")


guarded(role_of)  # a reader; listed so that the table covers the public API


def require(ws: Workspace, needed: Role, what: str, user: str | None = None,
            con: duckdb.DuckDBPyConnection | None = None) -> str:
    """The acting user's name, or :class:`AccessDenied` if their role is below ``needed``."""
    name = current_user(user)
    have = role_of(ws, name, con)
    if ROLES.index(have) < ROLES.index(needed):
        raise AccessDenied(f"user {name!r} is a {have}: {what} needs the {needed} role "
                           "(an admin grants it: erpdata role NAME ROLE)")
    return name


def require_for(ws: Workspace, entry: str, user: str | None = None,
                con: duckdb.DuckDBPyConnection | None = None) -> str:
    """:func:`require` with the role and words of ``POLICY[entry]``: the re-check a writer
    makes inside its transaction, in the same words as the guard's."""
    policy = POLICY[entry]
    return require(ws, policy.role, policy.what, user, con)


def refusal(ws: Workspace, entry: str, user: str | None = None) -> str | None:
    """Why ``user`` may not call ``entry`` (the words :func:`require_for` would raise), or None.

    Why: a page disables a button a viewer may not use and says why beside it, instead of
    starting a background job that the engine then refuses (every session would see that
    refused job's error)."""
    try:
        require_for(ws, entry, user)
    except AccessDenied as exc:
        return str(exc)
    return None


@guarded
def grant(ws: Workspace, name: str, role: str, *, user: str | None = None) -> None:
    """Give ``name`` the ``role``, audited."""
    if role not in ROLES:
        raise ErpdataError(f"unknown role {role!r}: use one of {', '.join(ROLES)}")
    cur = ws.cursor()
    with ws.transaction(cur):
        who = require_for(ws, "grant", user, cur)
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
