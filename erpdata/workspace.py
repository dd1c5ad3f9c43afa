"""One DuckDB file = one workspace: schema, forward migrations, transactions and counts.

Why one file: a steward can copy, back up or mail a workspace, and every write that matters is a
single DuckDB transaction, so a crash never leaves half a load or half a commit behind.

The schema is versioned in ``schema_version``. Opening an older file applies the missing
migrations in one transaction; opening a file written by a newer erpdata is refused, because
an old program silently writing into a newer layout is how data gets lost.

Invariants of ``docs/ARCHITECTURE.md`` that DuckDB can hold are constraints here: one active link
per CRM record and per ERP actor (UNIQUE on ``links``), valid sides/kinds/actor types (CHECK),
person and project parents that exist (FOREIGN KEY), records that name the load they came from.
"""

from __future__ import annotations

import getpass
import os
import re
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb

from erpdata.errors import WorkspaceError
from erpdata.schema import ACTOR_TYPES, KINDS, SIDES, Kind, Side, fields, table_name
from erpdata.sql import close as close_database
from erpdata.sql import connect

DEFAULT_WORKSPACE = "workspace.duckdb"
WORKSPACE_ENV = "ERPDATA_WORKSPACE"
USER_ENV = "ERPDATA_USER"
LOCK_TIMEOUT_ENV = "ERPDATA_LOCK_TIMEOUT"
#: Seconds a write waits for another write of this process before it gives up and says who
#: holds the workspace. Why 30: an ordinary write (a decision, a pick, a setting) holds the
#: lock for milliseconds and a commit of a few thousand pairs for seconds, so a wait this long
#: means a long job (a match run storing, a big load) that the steward should be told about,
#: not a page that hangs with no word; and it is shorter than a steward waits before clicking
#: again. ``$ERPDATA_LOCK_TIMEOUT`` changes it (seconds; scripts that queue behind a nightly
#: load may want minutes).
DEFAULT_LOCK_TIMEOUT = 30.0


def resolve_path(cli_value: str | os.PathLike[str] | None = None) -> Path:
    """Workspace path: ``--workspace``, else ``$ERPDATA_WORKSPACE``, else ``./workspace.duckdb``."""
    value = cli_value or os.environ.get(WORKSPACE_ENV) or DEFAULT_WORKSPACE
    return Path(value).expanduser()


def lock_timeout() -> float:
    """How long a write waits for the write lock: ``$ERPDATA_LOCK_TIMEOUT`` seconds, else
    :data:`DEFAULT_LOCK_TIMEOUT`; a value that is not a positive number is refused by name."""
    value = os.environ.get(LOCK_TIMEOUT_ENV, "").strip()
    if not value:
        return DEFAULT_LOCK_TIMEOUT
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not seconds > 0:
        raise WorkspaceError(f"${LOCK_TIMEOUT_ENV} is {value!r}: give the seconds a write may "
                             "wait for another one, a number above 0 (say 30)")
    return seconds


def current_user(explicit: str | None = None) -> str:
    """Who is acting: an explicit name, else ``$ERPDATA_USER``, else the login name."""
    if explicit:
        return explicit
    env = os.environ.get(USER_ENV)
    if env:
        return env
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers)
        return "unknown"


def _sql_in(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{v}'" for v in values)


def _sql_type(field_type: str) -> str:
    return {"text": "VARCHAR", "date": "DATE", "timestamp": "TIMESTAMP"}[field_type]


def _record_table_ddl(side: Side, kind: Kind) -> str:
    """DDL of one record table, derived from :mod:`erpdata.schema`."""
    cols = ["id VARCHAR NOT NULL CHECK (id <> '')"]
    constraints: list[str] = []
    for f in fields(side, kind):
        col = f"{f.name} {_sql_type(f.type)}"
        if f.name == "actor_type":
            col += f" NOT NULL CHECK (actor_type IN ({_sql_in(ACTOR_TYPES[kind])}))"
        cols.append(col)
    if side == "erp" and kind != "company":
        cols.insert(1, f"actor_type VARCHAR NOT NULL DEFAULT '{ACTOR_TYPES[kind][0]}' "
                       f"CHECK (actor_type = '{ACTOR_TYPES[kind][0]}')")
    cols += [
        "extra JSON",
        "source_file VARCHAR NOT NULL",
        "source_row INTEGER",
        # Load ids are plain integers, not foreign keys: DuckDB turns an update of a foreign-key
        # column into delete + insert, which a referenced company row (persons) cannot survive.
        "first_load_id INTEGER NOT NULL",
        "load_id INTEGER NOT NULL",
        "missing_since INTEGER",
    ]
    if side == "crm":
        constraints.append("PRIMARY KEY (id)")
        if kind != "company":
            constraints.append("FOREIGN KEY (company_id) REFERENCES crm_company (id)")
    else:
        constraints.append("PRIMARY KEY (actor_type, id)")
        if kind != "company":
            constraints.append(
                "FOREIGN KEY (parent_actor_type, parent_key) "
                "REFERENCES erp_company (actor_type, id)"
            )
    return f"CREATE TABLE {table_name(side, kind)} (\n  " + ",\n  ".join(cols + constraints) + "\n)"


_KIND_CHECK = f"CHECK (kind IN ({_sql_in(KINDS)}))"
_ALL_ACTOR_TYPES = tuple(a for kind in KINDS for a in ACTOR_TYPES[kind])
_ACTOR_CHECK = f"CHECK (erp_actor_type IN ({_sql_in(_ALL_ACTOR_TYPES)}))"


def _v1() -> list[str]:
    """Loads and the six record tables (both sides, three kinds), with change history."""
    stmts = [
        "CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR)",
        "CREATE SEQUENCE load_seq START 1",
        f"""CREATE TABLE loads (
            load_id INTEGER PRIMARY KEY DEFAULT nextval('load_seq'),
            side VARCHAR NOT NULL CHECK (side IN ({_sql_in(SIDES)})),
            kind VARCHAR NOT NULL {_KIND_CHECK},
            source_file VARCHAR NOT NULL,
            format VARCHAR NOT NULL,
            encoding VARCHAR,
            delimiter VARCHAR,
            mapping JSON NOT NULL,
            actor_type VARCHAR,
            rows INTEGER NOT NULL,
            inserted INTEGER NOT NULL,
            updated INTEGER NOT NULL,
            unchanged INTEGER NOT NULL,
            missing INTEGER NOT NULL,
            reappeared INTEGER NOT NULL,
            warnings JSON NOT NULL,
            loaded_by VARCHAR NOT NULL,
            started_at TIMESTAMP NOT NULL,
            finished_at TIMESTAMP NOT NULL
        )""",
    ]
    # Companies first: persons and projects reference them.
    for kind in KINDS:
        for side in SIDES:
            stmts.append(_record_table_ddl(side, kind))
    stmts.append(f"""CREATE TABLE record_changes (
        load_id INTEGER NOT NULL REFERENCES loads (load_id),
        side VARCHAR NOT NULL CHECK (side IN ({_sql_in(SIDES)})),
        kind VARCHAR NOT NULL {_KIND_CHECK},
        actor_type VARCHAR,
        record_id VARCHAR NOT NULL,
        change VARCHAR NOT NULL CHECK (change IN ('insert', 'update', 'missing', 'reappeared')),
        field VARCHAR,
        old_value VARCHAR,
        new_value VARCHAR
    )""")
    return stmts


def _v2() -> list[str]:
    """Stewardship tables that matching, review, commit and sync fill (steps 2 to 5)."""
    return [
        "CREATE SEQUENCE run_seq START 1",
        f"""CREATE TABLE match_runs (
            run_id INTEGER PRIMARY KEY DEFAULT nextval('run_seq'),
            kind VARCHAR NOT NULL {_KIND_CHECK},
            started_by VARCHAR NOT NULL,
            started_at TIMESTAMP NOT NULL,
            finished_at TIMESTAMP,
            status VARCHAR NOT NULL CHECK (status IN ('running', 'done', 'failed', 'cancelled')),
            params JSON,
            error VARCHAR
        )""",
        # Invariant 6: three honest outcomes per CRM record (plus 'scored').
        f"""CREATE TABLE scoring_state (
            kind VARCHAR NOT NULL {_KIND_CHECK},
            crm_id VARCHAR NOT NULL,
            state VARCHAR NOT NULL
                CHECK (state IN ('not_scored', 'no_candidate', 'scored', 'failed')),
            reason VARCHAR,
            run_id INTEGER REFERENCES match_runs (run_id),
            CHECK (state <> 'failed' OR reason IS NOT NULL),
            PRIMARY KEY (kind, crm_id)
        )""",
        f"""CREATE TABLE suggestions (
            kind VARCHAR NOT NULL {_KIND_CHECK},
            crm_id VARCHAR NOT NULL,
            erp_actor_type VARCHAR NOT NULL {_ACTOR_CHECK},
            erp_id VARCHAR NOT NULL,
            rank INTEGER NOT NULL CHECK (rank >= 1),
            probability DOUBLE NOT NULL CHECK (probability BETWEEN 0 AND 1),
            match_weight DOUBLE,
            band VARCHAR NOT NULL CHECK (band IN ('auto', 'review', 'low')),
            conflict BOOLEAN NOT NULL DEFAULT false,
            explanation JSON,
            run_id INTEGER REFERENCES match_runs (run_id),
            PRIMARY KEY (kind, crm_id, erp_actor_type, erp_id)
        )""",
        "CREATE SEQUENCE decision_seq START 1",
        # Invariant 5: decisions are rows of their own, never derived from suggestions.
        f"""CREATE TABLE decisions (
            decision_id INTEGER PRIMARY KEY DEFAULT nextval('decision_seq'),
            kind VARCHAR NOT NULL {_KIND_CHECK},
            crm_id VARCHAR NOT NULL,
            erp_actor_type VARCHAR {_ACTOR_CHECK},
            erp_id VARCHAR,
            decision VARCHAR NOT NULL CHECK (decision IN ('accept', 'reject', 'skip', 'create')),
            decided_by VARCHAR NOT NULL,
            decided_at TIMESTAMP NOT NULL,
            note VARCHAR,
            superseded_by INTEGER,
            CHECK (decision = 'create' OR (erp_actor_type IS NOT NULL AND erp_id IS NOT NULL))
        )""",
        "CREATE SEQUENCE batch_seq START 1",
        """CREATE TABLE batches (
            batch_id INTEGER PRIMARY KEY DEFAULT nextval('batch_seq'),
            created_by VARCHAR NOT NULL,
            created_at TIMESTAMP NOT NULL,
            status VARCHAR NOT NULL CHECK (status IN ('committed', 'undone')),
            undone_by VARCHAR,
            undone_at TIMESTAMP,
            summary JSON
        )""",
        # Invariant 1: one active link per CRM record and per ERP actor, per connection.
        f"""CREATE TABLE links (
            connection VARCHAR NOT NULL DEFAULT 'default',
            kind VARCHAR NOT NULL {_KIND_CHECK},
            crm_id VARCHAR NOT NULL,
            erp_actor_type VARCHAR NOT NULL {_ACTOR_CHECK},
            erp_id VARCHAR NOT NULL,
            batch_id INTEGER REFERENCES batches (batch_id),
            linked_by VARCHAR NOT NULL,
            linked_at TIMESTAMP NOT NULL,
            last_modified VARCHAR,
            UNIQUE (connection, kind, crm_id),
            UNIQUE (connection, erp_actor_type, erp_id)
        )""",
        "CREATE SEQUENCE action_seq START 1",
        f"""CREATE TABLE actions (
            action_id INTEGER PRIMARY KEY DEFAULT nextval('action_seq'),
            batch_id INTEGER NOT NULL REFERENCES batches (batch_id),
            kind VARCHAR NOT NULL {_KIND_CHECK},
            action VARCHAR NOT NULL
                CHECK (action IN ('update_crm', 'update_erp', 'create_erp', 'link', 'unlink')),
            crm_id VARCHAR,
            erp_actor_type VARCHAR,
            erp_id VARCHAR,
            payload JSON,
            idempotency_key VARCHAR NOT NULL UNIQUE,
            status VARCHAR NOT NULL DEFAULT 'queued'
                CHECK (status IN ('queued', 'running', 'ok', 'warning', 'error', 'cancelled')),
            attempts INTEGER NOT NULL DEFAULT 0,
            result JSON,
            created_at TIMESTAMP NOT NULL,
            finished_at TIMESTAMP
        )""",
        "CREATE SEQUENCE audit_seq START 1",
        # Invariant 4: every overwrite keeps the value it replaced.
        """CREATE TABLE audit (
            audit_id BIGINT PRIMARY KEY DEFAULT nextval('audit_seq'),
            logged_at TIMESTAMP NOT NULL,
            actor VARCHAR NOT NULL,
            action VARCHAR NOT NULL,
            batch_id INTEGER,
            kind VARCHAR,
            side VARCHAR,
            record_id VARCHAR,
            actor_type VARCHAR,
            field VARCHAR,
            before_value VARCHAR,
            after_value VARCHAR,
            detail JSON
        )""",
    ]


def _v3() -> list[str]:
    """Matching stores which suggestions are links at the default thresholds, and its model."""
    return [
        "ALTER TABLE suggestions ADD COLUMN link BOOLEAN NOT NULL DEFAULT false",
        "ALTER TABLE match_runs ADD COLUMN thresholds JSON",
        "ALTER TABLE match_runs ADD COLUMN stats JSON",
    ]


def _v4() -> list[str]:
    """Stewardship (step 3): field mappings, per-field picks, and which batch committed a
    decision (so that undo can hand it back)."""
    return [
        f"""CREATE TABLE field_mappings (
            kind VARCHAR NOT NULL {_KIND_CHECK},
            erp_field VARCHAR NOT NULL,
            crm_field VARCHAR,
            direction VARCHAR NOT NULL DEFAULT 'none'
                CHECK (direction IN ('to_crm', 'to_erp', 'both', 'none')),
            show_in_search BOOLEAN NOT NULL DEFAULT false,
            show_in_erp_tab BOOLEAN NOT NULL DEFAULT false,
            winner VARCHAR NOT NULL DEFAULT 'crm' CHECK (winner IN ('crm', 'erp', 'newest')),
            mandatory BOOLEAN NOT NULL DEFAULT false,
            default_value VARCHAR,
            ask_user BOOLEAN NOT NULL DEFAULT false,
            default_mandatory BOOLEAN NOT NULL DEFAULT false,
            rank INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (kind, erp_field),
            CHECK (direction = 'none' OR crm_field IS NOT NULL),
            CHECK (direction = 'none' OR NOT show_in_erp_tab),
            CHECK (NOT mandatory OR direction <> 'none')
        )""",
        f"""CREATE TABLE picks (
            kind VARCHAR NOT NULL {_KIND_CHECK},
            crm_id VARCHAR NOT NULL,
            erp_actor_type VARCHAR NOT NULL {_ACTOR_CHECK},
            erp_id VARCHAR NOT NULL,
            erp_field VARCHAR NOT NULL,
            choice VARCHAR NOT NULL CHECK (choice IN ('crm', 'erp', 'value')),
            value VARCHAR,
            picked_by VARCHAR NOT NULL,
            picked_at TIMESTAMP NOT NULL,
            PRIMARY KEY (kind, crm_id, erp_actor_type, erp_id, erp_field)
        )""",
        # decisions gain the batch that committed them and the values asked on create, and a
        # skip may name no ERP record (it takes back a create); DuckDB cannot alter a CHECK.
        f"""CREATE TABLE decisions_v4 (
            decision_id INTEGER PRIMARY KEY DEFAULT nextval('decision_seq'),
            kind VARCHAR NOT NULL {_KIND_CHECK},
            crm_id VARCHAR NOT NULL,
            erp_actor_type VARCHAR {_ACTOR_CHECK},
            erp_id VARCHAR,
            decision VARCHAR NOT NULL CHECK (decision IN ('accept', 'reject', 'skip', 'create')),
            decided_by VARCHAR NOT NULL,
            decided_at TIMESTAMP NOT NULL,
            note VARCHAR,
            superseded_by INTEGER,
            batch_id INTEGER,
            create_values JSON,
            CHECK (decision IN ('create', 'skip')
                   OR (erp_actor_type IS NOT NULL AND erp_id IS NOT NULL))
        )""",
        "INSERT INTO decisions_v4 BY NAME SELECT * FROM decisions",
        "DROP TABLE decisions",
        "ALTER TABLE decisions_v4 RENAME TO decisions",
    ]


def _v5() -> list[str]:
    """Who may do what (roles checked by the engine, see :mod:`erpdata.roles`)."""
    return [
        """CREATE TABLE users (
            name VARCHAR PRIMARY KEY,
            role VARCHAR NOT NULL CHECK (role IN ('viewer', 'steward', 'admin')),
            granted_by VARCHAR NOT NULL,
            granted_at TIMESTAMP NOT NULL
        )""",
    ]


def _v6() -> list[str]:
    """Each suggestion's decision state, stored (see :mod:`erpdata.steward.states`) and filled
    in; and an index on the ERP records' id alone, so that a page of fifty rows looks up its ERP
    names by id without scanning every ERP record (the primary key starts with the actor type)."""
    from erpdata.steward.states import update_sql  # a module above this one: imported when needed

    return ["ALTER TABLE suggestions ADD COLUMN state VARCHAR NOT NULL DEFAULT 'undecided'",
            *(update_sql(kind, only_listed=False) for kind in KINDS),
            *(f"CREATE INDEX erp_{kind}_id ON erp_{kind} (id)" for kind in KINDS)]


def _v7() -> list[str]:
    """Live systems (step 5): connections (never their secrets), each connection's high-water
    mark per kind, and the conflicts a sync found instead of resolving them silently."""
    return [
        """CREATE TABLE connections (
            name VARCHAR PRIMARY KEY,
            type VARCHAR NOT NULL CHECK (type IN ('files', 'tryton', 'superoffice')),
            side VARCHAR NOT NULL CHECK (side IN ('crm', 'erp')),
            url VARCHAR NOT NULL,
            database VARCHAR,
            username VARCHAR,
            verify_tls BOOLEAN NOT NULL DEFAULT true,
            options JSON,
            created_by VARCHAR NOT NULL,
            created_at TIMESTAMP NOT NULL
        )""",
        f"""CREATE TABLE sync_marks (
            connection VARCHAR NOT NULL,
            kind VARCHAR NOT NULL {_KIND_CHECK},
            high_water TIMESTAMP,
            pulled_at TIMESTAMP NOT NULL,
            PRIMARY KEY (connection, kind)
        )""",
        "CREATE SEQUENCE conflict_seq START 1",
        # side 'erp': a batch's update met a value the ERP changed since the commit (ours: the
        # batch's value); 'both': a linked field changed on both sides between two syncs
        # (ours: the CRM's value). theirs: the ERP's value.
        f"""CREATE TABLE sync_conflicts (
            conflict_id INTEGER PRIMARY KEY DEFAULT nextval('conflict_seq'),
            action_id INTEGER,
            batch_id INTEGER,
            kind VARCHAR NOT NULL {_KIND_CHECK},
            side VARCHAR NOT NULL CHECK (side IN ('erp', 'both')),
            crm_id VARCHAR,
            erp_actor_type VARCHAR,
            erp_id VARCHAR,
            field VARCHAR NOT NULL,
            base_value VARCHAR,
            ours VARCHAR,
            theirs VARCHAR,
            found_at TIMESTAMP NOT NULL,
            resolution VARCHAR CHECK (resolution IN ('ours', 'theirs')),
            resolved_by VARCHAR,
            resolved_at TIMESTAMP
        )""",
    ]


def _v8() -> list[str]:
    """The last good matching model of each kind (its ``m``, ``u`` and prior as JSON, and the
    run that fitted it), so that a run whose data has nothing left to learn from (the matches
    linked and gone, a small export) scores with it instead of a degenerate fit."""
    return [
        f"""CREATE TABLE match_models (
            kind VARCHAR PRIMARY KEY {_KIND_CHECK},
            run_id INTEGER NOT NULL,
            fitted_at TIMESTAMP NOT NULL,
            model JSON NOT NULL
        )""",
    ]


def _v9() -> list[str]:
    """Suggestions and scoring states without a primary key, as they were otherwise.

    Why: a match run replaces a kind's rows whole, and DuckDB takes each deleted row's key out
    of the index one by one when the transaction commits: with 870,000 suggestions and
    1,000,000 scoring states that was 87 s of a 1M-record run's 92 s of storing, against 0.4 s
    without the key. Their rows are unique by construction (one writer, a match run, writes a
    kind's candidate pairs and its present records), and ``erpdata check`` verifies it."""
    return [
        f"""CREATE TABLE suggestions_v9 (
            kind VARCHAR NOT NULL {_KIND_CHECK},
            crm_id VARCHAR NOT NULL,
            erp_actor_type VARCHAR NOT NULL {_ACTOR_CHECK},
            erp_id VARCHAR NOT NULL,
            rank INTEGER NOT NULL CHECK (rank >= 1),
            probability DOUBLE NOT NULL CHECK (probability BETWEEN 0 AND 1),
            match_weight DOUBLE,
            band VARCHAR NOT NULL CHECK (band IN ('auto', 'review', 'low')),
            conflict BOOLEAN NOT NULL DEFAULT false,
            explanation JSON,
            run_id INTEGER REFERENCES match_runs (run_id),
            link BOOLEAN NOT NULL DEFAULT false,
            state VARCHAR NOT NULL DEFAULT 'undecided'
        )""",
        # in the stored order: the queue reads it without sorting when it is the display order
        "INSERT INTO suggestions_v9 BY NAME SELECT * FROM suggestions ORDER BY rowid",
        "DROP TABLE suggestions",
        "ALTER TABLE suggestions_v9 RENAME TO suggestions",
        f"""CREATE TABLE scoring_state_v9 (
            kind VARCHAR NOT NULL {_KIND_CHECK},
            crm_id VARCHAR NOT NULL,
            state VARCHAR NOT NULL
                CHECK (state IN ('not_scored', 'no_candidate', 'scored', 'failed')),
            reason VARCHAR,
            run_id INTEGER REFERENCES match_runs (run_id),
            CHECK (state <> 'failed' OR reason IS NOT NULL)
        )""",
        "INSERT INTO scoring_state_v9 BY NAME SELECT * FROM scoring_state ORDER BY rowid",
        "DROP TABLE scoring_state",
        "ALTER TABLE scoring_state_v9 RENAME TO scoring_state",
    ]


def _v10() -> list[str]:
    """Each suggested pair's explanation in a table of its own, written only when it changes.

    Why: the explanations are most of a suggestion's bytes (390 MB of JSON for 870,000 pairs
    at 1,000,000 records), and a run rewrites the suggestions whole, in the order the queue
    lists them, as soon as one row moved. An explanation follows from the pair's levels and
    the model alone, so after a re-load nearly all of them are the same: kept apart, a run
    writes the new ones and deletes those of pairs no longer suggested (storing a 1% re-load
    took 4.8 s, 3.8 of them moving the unchanged explanations)."""
    return [
        f"""CREATE TABLE explanations (
            kind VARCHAR NOT NULL {_KIND_CHECK},
            crm_id VARCHAR NOT NULL,
            erp_actor_type VARCHAR NOT NULL {_ACTOR_CHECK},
            erp_id VARCHAR NOT NULL,
            explanation JSON NOT NULL,
            run_id INTEGER REFERENCES match_runs (run_id)
        )""",
        "INSERT INTO explanations SELECT kind, crm_id, erp_actor_type, erp_id, explanation, "
        "run_id FROM suggestions WHERE explanation IS NOT NULL ORDER BY kind, crm_id",
        f"""CREATE TABLE suggestions_v10 (
            kind VARCHAR NOT NULL {_KIND_CHECK},
            crm_id VARCHAR NOT NULL,
            erp_actor_type VARCHAR NOT NULL {_ACTOR_CHECK},
            erp_id VARCHAR NOT NULL,
            rank INTEGER NOT NULL CHECK (rank >= 1),
            probability DOUBLE NOT NULL CHECK (probability BETWEEN 0 AND 1),
            match_weight DOUBLE,
            band VARCHAR NOT NULL CHECK (band IN ('auto', 'review', 'low')),
            conflict BOOLEAN NOT NULL DEFAULT false,
            run_id INTEGER REFERENCES match_runs (run_id),
            link BOOLEAN NOT NULL DEFAULT false,
            state VARCHAR NOT NULL DEFAULT 'undecided'
        )""",
        # copied, in the stored order (see _v9): DuckDB refuses to drop a column that comes
        # before one with an index (run_id's foreign key)
        "INSERT INTO suggestions_v10 BY NAME SELECT * EXCLUDE (explanation) FROM suggestions "
        "ORDER BY rowid",
        "DROP TABLE suggestions",
        "ALTER TABLE suggestions_v10 RENAME TO suggestions",
    ]


@dataclass(frozen=True)
class Migration:
    """One forward step of the workspace schema."""

    version: int
    description: str
    statements: Callable[[], list[str]]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "records of both sides and three kinds, loads, change history", _v1),
    Migration(2, "matching, decisions, links, batches, actions and audit", _v2),
    Migration(3, "suggested links and match run thresholds", _v3),
    Migration(4, "field mappings, per-field picks, committed decisions", _v4),
    Migration(5, "users and their roles", _v5),
    Migration(6, "the decision state of each suggestion, stored; ERP ids indexed", _v6),
    Migration(7, "connections, sync high-water marks and sync conflicts", _v7),
    Migration(8, "the last good matching model of each kind", _v8),
    Migration(9, "suggestions and scoring states without a primary key (a run replaces them)",
              _v9),
    Migration(10, "explanations of suggested pairs in a table of their own", _v10),
)
SCHEMA_VERSION = MIGRATIONS[-1].version


def schema_version(con: duckdb.DuckDBPyConnection) -> int:
    """The version a connection's database is at; 0 for an empty database."""
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables "
        "WHERE table_name = 'schema_version' AND table_schema = 'main'"
    ).fetchone()
    if not exists or not exists[0]:
        return 0
    row = con.execute("SELECT max(version) FROM schema_version").fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def migrate(con: duckdb.DuckDBPyConnection, target: int = SCHEMA_VERSION) -> list[int]:
    """Apply the missing migrations up to ``target`` in ONE transaction; return those applied."""
    current = schema_version(con)
    todo = [m for m in MIGRATIONS if current < m.version <= target]
    if not todo:
        return []
    con.execute("BEGIN TRANSACTION")
    try:
        if current == 0:
            con.execute(
                "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, "
                "description VARCHAR NOT NULL, applied_at TIMESTAMP NOT NULL)"
            )
        for m in todo:
            for stmt in m.statements():
                con.execute(stmt)
            con.execute(
                "INSERT INTO schema_version VALUES (?, ?, now()::TIMESTAMP)",
                [m.version, m.description],
            )
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return [m.version for m in todo]


class WorkspaceBusy(WorkspaceError):
    """A write waited :func:`lock_timeout` seconds for another write of this process and gave
    up; the message names who holds the workspace, doing what, since when."""


@dataclass(frozen=True)
class Holder:
    """Who holds a workspace's write lock: the user, what they are doing, since when."""

    user: str
    what: str
    since: datetime

    def describe(self, now: datetime | None = None) -> str:
        """``kari is committing since 14:05:03 (2 min)``: what a kept-waiting writer reads."""
        seconds = max(0, int(((now or datetime.now()) - self.since).total_seconds()))
        took = f"{seconds} s" if seconds < 60 else f"{seconds // 60} min"
        return f"{self.user} is {self.what} since {self.since:%H:%M:%S} ({took})"


def busy_message(holder: Holder | None, waited: float) -> str:
    """The error of a write that gave up waiting, in the steward's words."""
    who = holder.describe() if holder else f"another write held it for over {waited:g} s"
    return f"the workspace is busy: {who}; try again when it is done"


_acting = threading.local()


@contextmanager
def acting(user: str | None, what: str) -> Iterator[None]:
    """Name the user and the work behind this thread's writes (a job's worker: "kari",
    "committing"), so that a writer kept waiting is told who holds the workspace."""
    previous = getattr(_acting, "value", None)
    _acting.value = (user, what)
    try:
        yield
    finally:
        _acting.value = previous


def _entry_point_acting(depth: int = 20) -> tuple[str | None, str | None]:
    """The user and the work of the engine entry point up the calling stack (say ``commit``
    called with ``user="kari"``: ``("kari", "committing")``), in the words of
    :data:`erpdata.roles.POLICY`.

    Why the stack: the thirty-odd writers live in their own modules and every one of them is
    an entry point with a ``user`` argument and a policy entry; reading them here names the
    holder of the lock without threading two more arguments through every writer."""
    from erpdata.roles import POLICY  # a module above this one: imported when needed

    frame = sys._getframe(2)
    for _ in range(depth):
        if frame is None:
            break
        policy = POLICY.get(frame.f_code.co_name)
        if policy is not None and policy.role != "viewer":
            user = frame.f_locals.get("user")
            return (user if isinstance(user, str) and user else None), policy.what
        frame = frame.f_back
    return None, None


class WriteLock:
    """A workspace's write lock: re-entrant within a thread (a writer may call another), it
    records who holds it, and a writer that waits gives up after :func:`lock_timeout` seconds
    with :class:`WorkspaceBusy` naming the holder, instead of hanging with no word."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._holder: Holder | None = None
        self._depth = 0  # only the holding thread changes it

    @property
    def holder(self) -> Holder | None:
        """Who holds the lock now; None when it is free."""
        return self._holder

    def acquire(self, user: str, what: str, timeout: float) -> None:
        """Take the lock, or raise :class:`WorkspaceBusy` after ``timeout`` seconds."""
        if not self._lock.acquire(timeout=timeout):
            raise WorkspaceBusy(busy_message(self._holder, timeout))
        self._depth += 1
        if self._depth == 1:
            self._holder = Holder(user, what, datetime.now())

    def release(self) -> None:
        self._depth -= 1
        if self._depth == 0:
            self._holder = None
        self._lock.release()


#: The most memory a workspace's DuckDB takes: a query needing more spills to the workspace's
#: ``.tmp`` folder. Why: DuckDB's default is 80% of the machine, and it keeps every page it
#: read or wrote cached up to that; a match run at 10,000,000 per side read and wrote
#: gigabytes of records, features and pairs, and the cache grew beside the run's own arrays
#: until the machine ran out. What a run holds is its own arrays; the cache gets a fixed share.
MEMORY = "2GB"


class Workspace:
    """An open workspace. Use :meth:`open`; close it (or use ``with``) when done.

    Why a class and not a bare connection: it owns the one writable DuckDB connection of the
    process, hands out cursors for threads (Streamlit runs each script run in its own thread),
    and is where transactions, the write lock, the read snapshot and the schema check live.

    A job in a worker thread may hold the workspace (:meth:`retain`) so that closing it (the
    workbench's cache dropping it) waits for the job instead of pulling the connection from
    under it; :meth:`close` then closes when the last holder releases it.
    """

    def __init__(self, path: Path, con: duckdb.DuckDBPyConnection) -> None:
        self.path = path
        self.con = con
        # Writes of one process take turns (the workbench's sessions are threads of one
        # process, and DuckDB lets only one process write): a decision checks one-to-one and
        # then writes, and two sessions doing that at once under snapshot isolation would
        # both see the ERP record free. Reads never wait for it (:meth:`snapshot`).
        self._write_lock = WriteLock()
        self._users = 0
        self._close_asked = False
        self._users_lock = threading.Lock()

    @classmethod
    def open(
        cls, path: str | os.PathLike[str] | None = None, *, read_only: bool = False
    ) -> Workspace:
        """Open the workspace at ``path`` (see :func:`resolve_path`), creating or migrating it."""
        p = resolve_path(path)
        if read_only and not p.exists():
            raise WorkspaceError(f"workspace {p} does not exist")
        if p.exists() and p.is_dir():
            raise WorkspaceError(f"workspace {p} is a folder; give the path of a .duckdb file")
        if p.exists() and p.stat().st_size > 0 and not _is_duckdb_file(p):
            raise WorkspaceError(f"{p} is not a DuckDB workspace file; choose another path")
        if not read_only:
            p.parent.mkdir(parents=True, exist_ok=True)
        try:
            con = connect(str(p), read_only=read_only, config={"memory_limit": MEMORY})
        except duckdb.Error as exc:
            holder = re.search(r"lock is held in (\S+) \(PID (\d+)\)", str(exc))
            if holder:
                program, pid = Path(holder.group(1)).name, holder.group(2)
                raise WorkspaceError(
                    f"workspace {p} is in use by {program} (PID {pid}), a running workbench "
                    "or command: only one program may write a workspace at a time. Stop it, "
                    "or work on a copy") from exc
            hint = (" Is another program (a running workbench or CLI) using it? Only one process "
                    "may write a workspace at a time." if "lock" in str(exc).lower() else "")
            raise WorkspaceError(f"cannot open workspace {p}: {exc}.{hint}") from exc
        try:
            version = schema_version(con)
            if version > SCHEMA_VERSION:
                raise WorkspaceError(
                    f"workspace {p} has schema version {version}, but this erpdata knows "
                    f"versions up to {SCHEMA_VERSION}: it was written by a newer erpdata. "
                    "Upgrade erpdata (pip install -U erpdata) to open it; it was not changed."
                )
            if version < SCHEMA_VERSION:
                if read_only:
                    raise WorkspaceError(
                        f"workspace {p} has schema version {version} and needs migrating to "
                        f"{SCHEMA_VERSION}; open it once without read-only"
                    )
                if version == 0 and _user_tables(con):
                    raise WorkspaceError(
                        f"{p} is a DuckDB file but not an erpdata workspace (it has tables and "
                        "no schema_version); choose another path"
                    )
                migrate(con)
        except BaseException:
            close_database(con)
            raise
        return cls(p, con)

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection (idempotent); while jobs hold the workspace (:meth:`retain`),
        when the last of them releases it."""
        with self._users_lock:
            self._close_asked = True
            if self._users:
                return
        close_database(self.con)

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called (the connection may stay open for the jobs
        still holding it, but no new one may take it)."""
        return self._close_asked

    @property
    def holders(self) -> int:
        """How many jobs hold the workspace open (:meth:`retain`)."""
        return self._users

    def retain(self) -> Workspace:
        """Hold the workspace open for a job: :meth:`close` waits for the matching
        :meth:`release`. A closed workspace cannot be taken (its connection may be gone)."""
        with self._users_lock:
            if self._close_asked:
                raise WorkspaceError(f"workspace {self.path} was closed; open it again")
            self._users += 1
        return self

    def release(self) -> None:
        """End one :meth:`retain`; the last one closes the workspace if it was closed."""
        with self._users_lock:
            self._users = max(0, self._users - 1)
            close = self._close_asked and not self._users
        if close:
            close_database(self.con)

    @property
    def write_holder(self) -> Holder | None:
        """Who is writing now (user, what, since); None when nobody is."""
        return self._write_lock.holder

    @property
    def version(self) -> int:
        return schema_version(self.con)

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A cursor for the calling thread (a DuckDB connection is not thread-safe)."""
        return self.con.cursor()

    @contextmanager
    def transaction(
        self, con: duckdb.DuckDBPyConnection | None = None, *, user: str | None = None,
        what: str | None = None,
    ) -> Iterator[duckdb.DuckDBPyConnection]:
        """``with ws.transaction() as tx:`` everything inside commits together or not at all,
        and no other transaction of this workspace object runs meanwhile.

        For writes only: a read takes :meth:`snapshot`, which never waits. A write that waits
        longer than :func:`lock_timeout` raises :class:`WorkspaceBusy` naming the holder:
        ``user`` and ``what`` (else those of :func:`acting`, else of the engine entry point
        that called, else the current user "writing") are what the next waiter is told."""
        tx = con or self.con
        timeout = lock_timeout()
        if user is None or what is None:
            held = getattr(_acting, "value", None) or (None, None)
            if held == (None, None):
                held = _entry_point_acting()
            user, what = user or held[0], what or held[1]
        self._write_lock.acquire(current_user(user), what or "writing", timeout)
        try:
            tx.execute("BEGIN TRANSACTION")
            try:
                yield tx
            except BaseException:
                tx.execute("ROLLBACK")
                raise
            tx.execute("COMMIT")
        finally:
            self._write_lock.release()

    @contextmanager
    def snapshot(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """``with ws.snapshot() as cur:`` a cursor of its own in a read transaction: every query
        inside sees the same committed state (reports that agree with each other), and it never
        takes the write lock, so a report read while a long commit runs returns at once.

        Why this is safe: DuckDB's cursors of one connection share the database under MVCC; a
        reader sees what was committed when its transaction began, never a half-done write.
        The transaction is rolled back at the end: nothing inside may write."""
        cur = self.cursor()
        try:
            cur.execute("BEGIN TRANSACTION")
            try:
                yield cur
            finally:
                cur.execute("ROLLBACK")
        finally:
            cur.close()

    def counts(self, con: duckdb.DuckDBPyConnection | None = None) -> dict[str, Any]:
        """Record counts per side and kind (present records only), missing ones, and links.

        Shape: ``{"crm": {"company": n, ...}, "erp": {...}, "missing": {"crm": {...}, "erp": {...}},
        "links": {"company": n, ...}, "linked_share": {"company": 0.42, ...}}``. The first two keys
        are a scripting contract (``erpdata status --json``).
        """
        c = con or self.cursor()
        parts = []
        for side in SIDES:
            for kind in KINDS:
                parts.append(
                    f"SELECT '{side}' AS side, '{kind}' AS kind, "  # noqa: S608 - SIDES, KINDS
                    "count(*) FILTER (WHERE missing_since IS NULL), "
                    "count(*) FILTER (WHERE missing_since IS NOT NULL) "
                    f"FROM {table_name(side, kind)}"
                )
        rows = c.execute(" UNION ALL ".join(parts)).fetchall()
        out: dict[str, Any] = {side: {} for side in SIDES}
        out["missing"] = {side: {} for side in SIDES}
        for side, kind, present, missing in rows:
            out[side][kind] = int(present)
            out["missing"][side][kind] = int(missing)
        links = dict(c.execute("SELECT kind, count(*) FROM links GROUP BY kind").fetchall())
        out["links"] = {kind: int(links.get(kind, 0)) for kind in KINDS}
        out["linked_share"] = {
            kind: round(out["links"][kind] / out["crm"][kind], 4) if out["crm"][kind] else 0.0
            for kind in KINDS
        }
        return out

    def tables(self) -> list[str]:
        """Names of the workspace's tables, sorted."""
        return sorted(t for (t,) in self.cursor().execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' "
            "AND table_type = 'BASE TABLE'"
        ).fetchall())

    def set_meta(self, key: str, value: str, con: duckdb.DuckDBPyConnection | None = None) -> None:
        """Store one workspace-level setting (e.g. what built the demo)."""
        (con or self.con).execute(
            "INSERT OR REPLACE INTO meta VALUES (?, ?)", [key, value]
        )

    def get_meta(self, key: str, default: str | None = None) -> str | None:
        row = self.cursor().execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
        return row[0] if row else default


def _is_duckdb_file(path: Path) -> bool:
    """DuckDB files carry the magic bytes ``DUCK`` at offset 8."""
    with path.open("rb") as f:
        return f.read(12)[8:12] == b"DUCK"


def _user_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [t for (t,) in con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'"
    ).fetchall()]
