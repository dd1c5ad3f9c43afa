"""Connections to live systems: which connector, where, as whom. Never the secret.

Why secrets stay out: a workspace file is copied, mailed and backed up; a password in it would
travel too. A connection names its secret instead: the environment variable
``ERPDATA_SECRET_<NAME>`` (the name upper-cased, anything but letters and digits as ``_``), or
a value the caller passes in (the workbench reads Streamlit secrets). TLS certificates are
verified unless a connection says otherwise.
"""

from __future__ import annotations

import functools
import inspect
import json
import os
import re
import threading
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import duckdb

from erpdata.errors import ErpdataError
from erpdata.live.connectors.base import Answer, Connector, CrmConnector
from erpdata.live.connectors.tryton import NAME_OPTIONS
from erpdata.roles import guarded, require_for
from erpdata.workspace import Workspace, lock_timeout

#: Connector types and the sides they can stand for.
TYPES: dict[str, tuple[str, ...]] = {"files": ("erp", "crm"), "tryton": ("erp",),
                                     "superoffice": ("crm",)}
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")
#: A tryton connection's name options (``--option KEY=...``) as a form labels them, with
#: their defaults.
NAME_LABELS: dict[str, tuple[str, str]] = {
    option: (label, NAME_OPTIONS[option]) for option, label in (
        ("customer_category", "Customer category"),
        ("supplier_category", "Supplier category"),
        ("employee_relation", "Employee relation type"),
        ("employer_relation", "Employer relation type (its reverse)"))}


class ConnectionSetupError(ErpdataError):
    """A connection that cannot be defined or opened as asked; says why."""


@dataclass(frozen=True)
class Connection:
    """One live system: ``url`` is the server (tryton, superoffice) or the folder (files)."""

    name: str
    type: str
    side: str
    url: str
    database: str | None = None
    username: str | None = None
    verify_tls: bool = True
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def secret_variable(self) -> str:
        """The environment variable that holds this connection's secret."""
        return secret_variable(self.name)


def secret_variable(name: str) -> str:
    """``ERPDATA_SECRET_<NAME>``: the name upper-cased, other characters as ``_``."""
    return "ERPDATA_SECRET_" + re.sub(r"[^A-Z0-9]", "_", name.upper())


def check(conn: Connection) -> None:
    """Refuse a connection that cannot work, naming every problem."""
    problems = []
    if not _NAME.match(conn.name):
        problems.append(f"name {conn.name!r}: use letters, digits, '-' and '_', starting "
                        "with a letter")
    if conn.type not in TYPES:
        problems.append(f"type {conn.type!r}: use one of {', '.join(TYPES)}")
    elif conn.side not in TYPES[conn.type]:
        problems.append(f"a {conn.type} connection stands for the "
                        f"{' or '.join(TYPES[conn.type])} side, not {conn.side!r}")
    if conn.type in ("tryton", "superoffice") and not re.match(r"^https?://", conn.url):
        problems.append(f"url {conn.url!r}: give the server as http(s)://host[:port]")
    if conn.type == "tryton" and not conn.database:
        problems.append("a tryton connection needs --database")
    if conn.type == "tryton":
        problems += _tryton_option_problems(conn.options)
    if conn.type == "superoffice" and not conn.options.get("erp_connection_id"):
        problems.append("a superoffice connection needs the ERP connection id of the CRM's "
                        "ERP-sync settings (option erp_connection_id)")
    if conn.type == "superoffice":
        problems += _superoffice_option_problems(conn.options)
    if problems:
        raise ConnectionSetupError(f"connection {conn.name!r}: " + "; ".join(problems))


def tryton_names(conn: Connection) -> dict[str, str]:
    """The names a tryton connection's categories and relation types have in its Tryton:
    its options, else the defaults (option -> name, in the order of ``NAME_OPTIONS``)."""
    return {k: str(conn.options.get(k) or default).strip()
            for k, default in NAME_OPTIONS.items()}


def _tryton_option_problems(options: dict[str, Any]) -> list[str]:
    """What is wrong with a tryton connection's options: only the names of its categories
    and relation types are options (:data:`~erpdata.live.connectors.tryton.NAME_OPTIONS`). Why
    refuse an unknown key: a misspelt ``customer_categroy=Kunde`` would be dropped silently,
    and the connector would look for "Customer" instead."""
    problems = []
    unknown = sorted(set(options) - set(NAME_OPTIONS))
    if unknown:
        problems.append(f"a tryton connection has no option {', '.join(map(repr, unknown))}: "
                        f"its options are {', '.join(NAME_OPTIONS)}")
    names = {k: str(options.get(k, default)).strip() for k, default in NAME_OPTIONS.items()}
    empty = [k for k in NAME_OPTIONS if k in options and not names[k]]
    if empty:
        problems.append(f"option {', '.join(empty)}: give the name Tryton uses")
    for a, b in (("customer_category", "supplier_category"),
                 ("employee_relation", "employer_relation")):
        if names[a] and names[a] == names[b]:
            problems.append(f"options {a} and {b} name the same {names[a]!r}: "
                            "they must differ")
    return problems


@guarded
def add_connection(ws: Workspace, conn: Connection, *, user: str | None = None) -> None:
    """Define (or redefine) a connection, audited; admins only, like other settings."""
    check(conn)
    cur = ws.cursor()
    with ws.transaction(cur):
        who = require_for(ws, "add_connection", user, cur)
        cur.execute("INSERT OR REPLACE INTO connections VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [conn.name, conn.type, conn.side, conn.url, conn.database, conn.username,
                     conn.verify_tls, json.dumps(conn.options), who, datetime.now()])
        cur.execute("INSERT INTO audit (logged_at, actor, action, record_id, after_value) "
                    "VALUES (?, ?, 'connection', ?, ?)",
                    [datetime.now(), who, conn.name,
                     f"{conn.type} {conn.side} {conn.url} {conn.database or ''}".strip()])


@guarded
def remove_connection(ws: Workspace, name: str, *, user: str | None = None) -> None:
    """Forget a connection (its links and history stay), audited."""
    cur = ws.cursor()
    with ws.transaction(cur):
        who = require_for(ws, "remove_connection", user, cur)
        get_connection(ws, name, cur)
        cur.execute("DELETE FROM connections WHERE name = ?", [name])
        cur.execute("INSERT INTO audit (logged_at, actor, action, record_id, before_value) "
                    "VALUES (?, ?, 'connection', ?, 'removed')", [datetime.now(), who, name])


def connections(ws: Workspace, con: duckdb.DuckDBPyConnection | None = None
                ) -> list[Connection]:
    """Every defined connection, by name."""
    rows = (con or ws.cursor()).execute(
        "SELECT name, type, side, url, database, username, verify_tls, options "
        "FROM connections ORDER BY name").fetchall()
    return [Connection(*r[:7], options=json.loads(r[7]) if r[7] else {}) for r in rows]


def get_connection(ws: Workspace, name: str, con: duckdb.DuckDBPyConnection | None = None
                   ) -> Connection:
    """The connection called ``name``, or an error listing the ones there are."""
    known = connections(ws, con)
    for conn in known:
        if conn.name == name:
            return conn
    names = ", ".join(c.name for c in known) or "none yet (erpdata connect add)"
    raise ConnectionSetupError(f"no connection {name!r}; defined: {names}")


def open_connector(conn: Connection, secret: str | None = None) -> Connector | CrmConnector:
    """A connector for ``conn``; the secret comes from ``secret`` or the environment."""
    secret = secret if secret is not None else os.environ.get(conn.secret_variable)
    if conn.type == "files":
        from erpdata.live.connectors.folders import FilesConnector, FilesCrmConnector

        folder = Path(conn.url).expanduser()
        return FilesConnector(folder) if conn.side == "erp" else FilesCrmConnector(folder)
    check(conn)  # a connection stored before its options were checked
    if secret is None:
        raise ConnectionSetupError(f"connection {conn.name!r} needs its secret: set the "
                               f"environment variable {conn.secret_variable}")
    if conn.type == "tryton":
        from erpdata.live.connectors.tryton import TrytonConnector

        names = {k: str(v).strip() for k, v in conn.options.items()}
        return TrytonConnector(conn.url, conn.database or "", conn.username or "admin", secret,
                               verify=conn.verify_tls, connection=conn.name, **names)
    from erpdata.live.connectors.superoffice import SuperOfficeConnector

    return SuperOfficeConnector(conn.url, **_superoffice_arguments(conn, secret))


def _superoffice_option_problems(options: dict[str, Any]) -> list[str]:
    """What is wrong with a superoffice connection's options (the keys of
    :data:`~erpdata.live.connectors.superoffice.OPTIONS`). Why refuse an unknown key: a misspelt
    ``client_idd=...`` would be dropped silently, and the token would never be renewed."""
    from erpdata.live.connectors.superoffice import OPTIONS

    problems = []
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        problems.append(f"a superoffice connection has no option "
                        f"{', '.join(map(repr, unknown))}: its options are {', '.join(OPTIONS)}")
    conn_id = str(options.get("erp_connection_id", "")).strip()
    if conn_id and not conn_id.isdigit():
        problems.append(f"option erp_connection_id {conn_id!r}: give the number SuperOffice "
                        "shows for the ERP connection")
    if str(options.get("auth", "token")).strip() not in ("token", "ticket"):
        problems.append("option auth: token (an access token) or ticket (a system-user ticket)")
    token_url = str(options.get("token_url", "")).strip()
    if token_url and not re.match(r"^(https://|http://(127\.0\.0\.1|localhost)[:/])",
                                  token_url):
        problems.append(f"option token_url {token_url!r}: the token endpoint must be https "
                        "(the client secret and refresh token go there)")
    if "trusted_domains" in options and not str(options["trusted_domains"]).strip(" ,"):
        problems.append("option trusted_domains: name at least one domain")
    return problems


def _superoffice_arguments(conn: Connection, secret: str) -> dict[str, Any]:
    """The :class:`~erpdata.live.connectors.superoffice.SuperOfficeConnector` arguments of
    ``conn``. Secrets come from the environment, next to the main one
    (``ERPDATA_SECRET_<NAME>``: the access token, or the ticket with ``auth=ticket``):
    ``..._APP`` the app token (the client secret) a ticket needs; ``..._REFRESH`` a refresh
    token, which with option ``client_id`` and ``..._CLIENT_SECRET`` (else ``..._APP``) makes
    the connector renew an expired access token itself (OIDC refresh grant)."""
    from erpdata.live.connectors.superoffice import OidcRefresh, token_url_for

    options = {k: str(v).strip() for k, v in conn.options.items()}
    var = conn.secret_variable

    def env(suffix: str) -> str | None:
        return os.environ.get(var + suffix) or None

    args: dict[str, Any] = {"erp_connection_id": int(options["erp_connection_id"]),
                            "verify": conn.verify_tls}
    if options.get("auth") == "ticket":
        if not env("_APP"):
            raise ConnectionSetupError(f"connection {conn.name!r} uses a ticket, which needs "
                                       f"the app token too: set {var}_APP")
        args.update(ticket=secret, app_token=env("_APP"))
    else:
        args["token"] = secret
        refresh = env("_REFRESH")
        if refresh:
            client_secret = env("_CLIENT_SECRET") or env("_APP")
            missing = ([] if options.get("client_id") else ["option client_id"]) + (
                [] if client_secret else [f"{var}_CLIENT_SECRET"])
            if missing:
                raise ConnectionSetupError(
                    f"connection {conn.name!r} has a refresh token ({var}_REFRESH) but not "
                    f"{' and '.join(missing)}, which renewing the access token needs")
            try:
                args["renew"] = OidcRefresh(
                    options.get("token_url") or token_url_for(conn.url), options["client_id"],
                    str(client_secret), refresh, redirect_uri=options.get("redirect_uri"),
                    verify=conn.verify_tls)
            except ValueError as exc:
                raise ConnectionSetupError(f"connection {conn.name!r}: {exc}") from None
    for key in ("language", "timezone"):
        if key in options:
            args[key] = options[key]
    if options.get("trusted_domains"):
        args["trusted_domains"] = tuple(d.strip() for d in options["trusted_domains"].split(",")
                                        if d.strip())
    return args


def inspect_folder(conn: Connection) -> Answer[str]:
    """What a files connection's folder holds, said plainly: the export files of its side
    that a sync reads, or why there are none.

    Why more than "the folder exists": an empty folder used to pass "Test connection", and
    the next sync turned every ERP update into a permanent error ("not in the ERP"), since an
    ERP update first reads the record's current values from the export. So a folder without
    any ERP export fails (a sync through it is refused, see :func:`~erpdata.live.sync.sync_now`);
    a CRM folder without exports is a warning: change sets still go to its ``outbox/``, but
    nothing can be pulled from it."""
    folder = Path(conn.url).expanduser()
    if not folder.is_dir():
        return Answer.failed(f"the folder {folder} does not exist",
                             "files connection: url must be a folder")
    found = sorted(p.name for kind in ("company", "person", "project")
                   for p in folder.glob(f"{conn.side}_{kind}.*") if p.is_file())
    if found:
        return Answer.good(f"export folder {folder}: {', '.join(found)}")
    side = conn.side.upper()
    empty = not any(p.name != "outbox" for p in folder.iterdir())
    what = (f"the folder {folder} is empty: no export files" if empty else
            f"the folder {folder} holds no {side} export files")
    looked = ", ".join(f"{conn.side}_{k}.*" for k in ("company", "person", "project"))
    if conn.side == "erp":
        return Answer.failed(f"{what}: a sync could not read, and so could not update, any "
                             "ERP record", f"looked for {looked}", code="no_exports")
    said = f"{what}: change sets go to its outbox, but no CRM record can be pulled from it"
    return Answer.warn(said, said, f"looked for {looked}", code="no_exports")


def test_connection(ws: Workspace, name: str, secret: str | None = None) -> Answer[str]:
    """Open the connection and ask the system whether it answers ("Test connection"); for
    an export folder, also what it holds (:func:`inspect_folder`)."""
    conn = get_connection(ws, name)
    if conn.type == "files":
        return inspect_folder(conn)
    try:
        connector = open_connector(conn, secret)
    except ErpdataError as exc:
        return Answer.failed(str(exc))
    try:
        return connector.test_connection()
    finally:
        connector.close()


@guarded
def setup_connection(ws: Workspace, name: str, secret: str | None = None, *,
                     user: str | None = None) -> Answer[list[str]]:
    """Create in the live system what erpdata's mapping needs and a fresh one lacks
    (``erpdata connect setup NAME``, the Settings page's "Set up Tryton for erpdata"): for
    Tryton, :meth:`~erpdata.live.connectors.tryton.TrytonConnector.ensure_setup` with the
    connection's own category and relation names. Idempotent; the value lists what was
    created, in words (empty: nothing was missing).

    Why an engine function and admins only: it writes to the ERP's configuration, like a
    change of the connection itself, so it takes the same role and is audited (who, when,
    what was created). Other connection types need no set-up and say so. The role is checked
    before the system is called, and again when the audit row is written."""
    conn = get_connection(ws, name)
    require_for(ws, "setup_connection", user)
    if conn.type != "tryton":
        return Answer("ok_with_info", [], f"a {conn.type} connection needs no set-up by "
                      "erpdata", error_code="not_needed")
    try:
        connector = open_connector(conn, secret)
    except ErpdataError as exc:
        return Answer.failed(str(exc), code="setup")
    try:
        answer = connector.ensure_setup()  # type: ignore[union-attr]
    finally:
        connector.close()
    cur = ws.cursor()
    with ws.transaction(cur):
        who = require_for(ws, "setup_connection", user, cur)
        cur.execute("INSERT INTO audit (logged_at, actor, action, record_id, after_value) "
                    "VALUES (?, ?, 'connection', ?, ?)",
                    [datetime.now(), who, conn.name, "set up: " + setup_message(answer)])
    return answer


def setup_message(answer: Answer[list[str]]) -> str:
    """What a set-up did, in a steward's words (the CLI and the Settings page say the
    same): what was created, that nothing was missing, or why it failed."""
    if not answer.ok:
        return f"failed: {answer.user_explanation}"
    if answer.error_code == "not_needed":
        return answer.user_explanation
    made = answer.value or []
    said = (f"created {', '.join(made)}" if made else
            "nothing to create: it already has everything erpdata needs")
    return said + (f" (note: {answer.user_explanation})" if answer.user_explanation else "")


class ConnectorBusy(ErpdataError):
    """A call waited :func:`~erpdata.workspace.lock_timeout` seconds for another call on the
    same shared connector and gave up; says which call holds it and since when."""


C = TypeVar("C")


def serialised(connector: C, name: str = "") -> C:
    """The same connector, its public methods taking turns under one lock of its own.

    Why: the workbench keeps one connector per connection for the whole process (a login
    costs an argon2 check on Tryton, and failed ones are rate-limited), and every session and
    background job calls it from its own thread; the Tryton connector keeps its login and a
    request counter on one ``requests.Session``, so two calls at once would interleave.
    Why a lock and not one connector per session: a session has no end that Streamlit tells
    us about, so per-session connectors would never be closed, each would log in again, and a
    sync job still shares its session's connector from another thread. The methods are
    wrapped on the instance, so its type (``isinstance``) is unchanged; the lock is
    re-entrant, so a method calling another does not wait for itself. A call kept waiting
    longer than the workspace's lock timeout raises :class:`ConnectorBusy` naming the call
    that holds it."""
    if getattr(connector, "_calls_lock", None) is not None:
        return connector
    lock = threading.RLock()
    holding: list[tuple[str, datetime]] = []  # the holding call (only its thread writes it)
    shown = f"connection {name!r}" if name else "the connection"

    def wrap(method_name: str, bound: Any) -> Any:
        @functools.wraps(bound)
        def call(*args: Any, **kwargs: Any) -> Any:
            if not lock.acquire(timeout=lock_timeout()):
                first = holding[:1]  # a copy: the holder may end meanwhile
                busy = first[0] if first else None
                why = (f"{busy[0]} runs since {busy[1]:%H:%M:%S}" if busy
                       else "another call is running")
                raise ConnectorBusy(f"{shown} is busy: {why}; try again when it is done")
            try:
                holding.append((method_name, datetime.now()))
                return bound(*args, **kwargs)
            finally:
                holding.pop()
                lock.release()
        return call

    for attr in dir(type(connector)):
        if attr.startswith("_"):
            continue
        static = inspect.getattr_static(connector, attr)
        if inspect.isfunction(static) or isinstance(static, staticmethod | classmethod):
            setattr(connector, attr, wrap(attr, getattr(connector, attr)))
    connector._calls_lock = lock  # type: ignore[attr-defined]
    return connector
