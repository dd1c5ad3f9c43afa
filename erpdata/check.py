"""``erpdata check``: verify every invariant of the architecture guide on a workspace.

Why a checker beside the constraints: the database holds what it can (unique links, actor
types, foreign keys, one idempotency key per action), but some invariants span tables and
time: a person's ERP parent, a batch applied whole, stored states that match their
definition, no secret in any cell. The crash tests reopen a killed workspace and run this; a
steward can run it any time. Each finding names the invariant, the rows and what is wrong.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

import duckdb

from erpdata.schema import ACTOR_TYPES, KINDS
from erpdata.sql import sql_ident, sql_text
from erpdata.steward.states import update_sql
from erpdata.workspace import Workspace

# SQL built here (ruff S608): tables are crm_<kind> for kind in KINDS and the fixed workspace
# tables; actor types from ACTOR_TYPES via sql_text; the catalog's table and column names (the
# secrets scan) via sql_ident; values are bound as ``?``.


@dataclass(frozen=True)
class Violation:
    """One broken invariant (numbered as in the architecture guide) and what breaks it."""

    invariant: int
    message: str

    def __str__(self) -> str:
        return f"invariant {self.invariant}: {self.message}"


def _rows(cur: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> list[tuple]:
    return cur.execute(sql, params or []).fetchall()


def _sample(rows: list[tuple], n: int = 5) -> str:
    shown = "; ".join(" ".join(str(v) for v in r) for r in rows[:n])
    return shown + (f" (and {len(rows) - n} more)" if len(rows) > n else "")


def check(ws: Workspace) -> list[Violation]:
    """Every violation found, in invariant order (empty: the workspace is sound). Read-only."""
    cur = ws.cursor()
    found: list[Violation] = []
    cur.execute("BEGIN TRANSACTION")  # one snapshot; rolled back, so nothing is ever written
    try:
        for checker in (_links, _person_parents, _batches, _overwrites, _decisions, _scoring,
                        _actions, _secrets):
            found += checker(cur)
    finally:
        cur.execute("ROLLBACK")
    return found


def _links(cur: duckdb.DuckDBPyConnection) -> list[Violation]:
    out = []
    for what, cols in (("CRM record", "kind, crm_id"), ("ERP record", "erp_actor_type, erp_id")):
        rows = _rows(cur, f"SELECT connection, {cols}, count(*) FROM links "  # noqa: S608 - cols a fixed column pair
                          f"GROUP BY connection, {cols} HAVING count(*) > 1")
        if rows:
            out.append(Violation(1, f"{len(rows)} {what}(s) with more than one link: "
                                    + _sample(rows)))
    for kind in KINDS:
        types = ", ".join(sql_text(t) for t in ACTOR_TYPES[kind])
        rows = _rows(cur, f"SELECT crm_id, erp_actor_type FROM links WHERE kind = ? "  # noqa: S608 - actor types from ACTOR_TYPES via sql_text; kind bound as ?
                          f"AND erp_actor_type NOT IN ({types})", [kind])
        if rows:
            out.append(Violation(1, f"{kind} link(s) to an actor of the wrong type: "
                                    + _sample(rows)))
        rows = _rows(cur, f"SELECT l.crm_id FROM links l LEFT JOIN crm_{kind} c "  # noqa: S608 - kind from KINDS; kind bound as ?
                          f"ON c.id = l.crm_id WHERE l.kind = ? AND c.id IS NULL", [kind])
        if rows:
            out.append(Violation(1, f"{kind} link(s) of CRM records not in the workspace: "
                                    + _sample(rows)))
    return out


def _person_parents(cur: duckdb.DuckDBPyConnection) -> list[Violation]:
    rows = _rows(cur, """
        SELECT l.crm_id, l.erp_id, e.parent_actor_type || ':' || e.parent_key,
               coalesce(cl.erp_actor_type || ':' || cl.erp_id, 'no link')
        FROM links l
        JOIN crm_person c ON c.id = l.crm_id
        JOIN erp_person e ON e.actor_type = l.erp_actor_type AND e.id = l.erp_id
        LEFT JOIN links cl ON cl.kind = 'company' AND cl.crm_id = c.company_id
             AND cl.connection = l.connection
        WHERE l.kind = 'person' AND e.parent_key IS NOT NULL
          AND (cl.crm_id IS NULL OR e.parent_actor_type <> cl.erp_actor_type
               OR e.parent_key <> cl.erp_id)""")
    if not rows:
        return []
    return [Violation(2, f"{len(rows)} person link(s) whose ERP person hangs under another actor "
                         "than its company's link (crm person, erp person, its parent, the "
                         "company's link): " + _sample(rows))]


def _batches(cur: duckdb.DuckDBPyConnection) -> list[Violation]:
    """A committed batch holds exactly what its summary says: links, actions, audit rows."""
    out = []
    for batch_id, status, summary in _rows(cur, "SELECT batch_id, status, summary FROM batches"):
        counts = json.loads(summary) if summary else {}
        links = counts.get("link", 0)
        audited = _rows(cur, "SELECT count(*) FROM audit WHERE batch_id = ? AND action = 'link'",
                        [batch_id])[0][0]
        queued = _rows(cur, "SELECT count(*) FROM actions WHERE batch_id = ? AND action = 'link'"
                            " AND idempotency_key NOT LIKE 'undo:%'", [batch_id])[0][0]
        if (audited, queued) != (links, links):
            out.append(Violation(3, f"batch {batch_id} is not whole: its summary says {links} "
                                    f"link(s), the audit holds {audited}, the actions {queued}"))
        if status == "committed":
            linked = _rows(cur, "SELECT count(*) FROM links WHERE batch_id = ? AND linked_by "
                                "<> 'sync'", [batch_id])[0][0]  # not the links of creates
            undone_later = _rows(cur, "SELECT count(*) FROM audit a JOIN batches b USING "
                                      "(batch_id) WHERE a.action = 'unlink' AND b.batch_id > ? "
                                      "AND b.status = 'committed'", [batch_id])[0][0]
            if linked > links or (linked < links and not undone_later):
                out.append(Violation(3, f"batch {batch_id} made {links} link(s) but "
                                        f"{linked} carry its id"))
        else:
            rows = _rows(cur, "SELECT count(*) FROM links WHERE batch_id = ?", [batch_id])
            if rows[0][0]:
                out.append(Violation(3, f"batch {batch_id} is undone but {rows[0][0]} link(s) "
                                        "still carry its id"))
            rows = _rows(cur, "SELECT count(*) FROM actions WHERE batch_id = ? AND status = "
                              "'queued' AND idempotency_key NOT LIKE 'undo:%'", [batch_id])
            if rows[0][0]:
                out.append(Violation(3, f"batch {batch_id} is undone but {rows[0][0]} of its "
                                        "actions are still queued"))
    rows = _rows(cur, "SELECT DISTINCT a.batch_id FROM audit a LEFT JOIN batches b "
                      "USING (batch_id) WHERE a.batch_id IS NOT NULL AND b.batch_id IS NULL")
    if rows:
        out.append(Violation(3, "audit rows of batches that do not exist: " + _sample(rows)))
    return out


def _overwrites(cur: duckdb.DuckDBPyConnection) -> list[Violation]:
    rows = _rows(cur, "SELECT audit_id, batch_id FROM audit WHERE action IN ('update_crm', "
                      "'update_erp') AND (field IS NULL OR record_id IS NULL)")
    if not rows:
        return []
    return [Violation(4, f"{len(rows)} overwrite(s) without the field or record they changed, "
                         "so undo cannot restore them: " + _sample(rows))]


def _decisions(cur: duckdb.DuckDBPyConnection) -> list[Violation]:
    out = []
    rows = _rows(cur, """SELECT kind, crm_id, count(*) FROM decisions
                         WHERE superseded_by IS NULL AND decision IN ('accept', 'create')
                         GROUP BY ALL HAVING count(*) > 1""")
    if rows:
        out.append(Violation(5, "CRM record(s) with more than one active accept or create: "
                                + _sample(rows)))
    rows = _rows(cur, """SELECT kind, erp_actor_type, erp_id, count(DISTINCT crm_id)
                         FROM decisions WHERE superseded_by IS NULL AND decision = 'accept'
                         AND batch_id IS NULL GROUP BY ALL HAVING count(DISTINCT crm_id) > 1""")
    if rows:
        out.append(Violation(5, "ERP record(s) accepted for more than one CRM record: "
                                + _sample(rows)))
    rows = _rows(cur, """SELECT s.kind, s.crm_id, s.erp_actor_type || ':' || s.erp_id
                         FROM suggestions s JOIN match_runs r USING (run_id)
                         JOIN decisions d ON d.kind = s.kind AND d.crm_id = s.crm_id
                          AND d.erp_actor_type = s.erp_actor_type AND d.erp_id = s.erp_id
                         WHERE d.decision = 'reject' AND d.superseded_by IS NULL
                           AND d.decided_at < r.started_at""")
    if rows:
        out.append(Violation(5, "rejected pair(s) suggested again by a later run: "
                                + _sample(rows)))
    stored = _rows(cur, "SELECT kind, crm_id, erp_actor_type, erp_id, state FROM suggestions "
                        "ORDER BY ALL")
    for kind in KINDS:  # inside check()'s transaction, which is rolled back
        cur.execute(update_sql(kind, only_listed=False))
    fresh = _rows(cur, "SELECT kind, crm_id, erp_actor_type, erp_id, state FROM suggestions "
                       "ORDER BY ALL")
    stale = [a for a, b in zip(stored, fresh, strict=True) if a != b]
    if stale:
        out.append(Violation(5, f"{len(stale)} suggestion(s) whose stored decision state is "
                                "not what the decisions and links say: " + _sample(stale)))
    return out


def _scoring(cur: duckdb.DuckDBPyConnection) -> list[Violation]:
    out = []
    # no key enforces these (see erpdata.workspace._v9): a run writes them unique
    rows = _rows(cur, "SELECT kind, crm_id, count(*) FROM scoring_state GROUP BY ALL "
                      "HAVING count(*) > 1")
    if rows:
        out.append(Violation(6, "CRM record(s) with more than one scoring state: "
                                + _sample(rows)))
    rows = _rows(cur, "SELECT kind, crm_id, erp_actor_type || ':' || erp_id, count(*) "
                      "FROM suggestions GROUP BY ALL HAVING count(*) > 1")
    if rows:
        out.append(Violation(6, "pair(s) suggested more than once: " + _sample(rows)))
    rows = _rows(cur, "SELECT x.kind, x.crm_id, x.erp_actor_type || ':' || x.erp_id "
                      "FROM explanations x ANTI JOIN suggestions s "
                      "USING (kind, crm_id, erp_actor_type, erp_id)")
    if rows:
        out.append(Violation(6, "explanation(s) of pairs not suggested: " + _sample(rows)))
    for kind in KINDS:
        rows = _rows(cur, f"SELECT s.crm_id FROM scoring_state s LEFT JOIN crm_{kind} c "  # noqa: S608 - kind from KINDS; kind bound as ?
                          f"ON c.id = s.crm_id WHERE s.kind = ? AND c.id IS NULL", [kind])
        if rows:
            out.append(Violation(6, f"scoring states of {kind} records not in the workspace: "
                                    + _sample(rows)))
    rows = _rows(cur, "SELECT kind, crm_id FROM scoring_state WHERE state = 'failed' "
                      "AND coalesce(trim(reason), '') = ''")
    if rows:
        out.append(Violation(6, "failed scoring without a reason: " + _sample(rows)))
    return out


def _actions(cur: duckdb.DuckDBPyConnection) -> list[Violation]:
    out = []
    rows = _rows(cur, "SELECT idempotency_key, count(*) FROM actions GROUP BY ALL "
                      "HAVING count(*) > 1")
    if rows:
        out.append(Violation(7, "actions sharing an idempotency key: " + _sample(rows)))
    rows = _rows(cur, "SELECT a.action_id FROM actions a LEFT JOIN batches b USING (batch_id) "
                      "WHERE b.batch_id IS NULL")
    if rows:
        out.append(Violation(7, "actions of batches that do not exist: " + _sample(rows)))
    rows = _rows(cur, """SELECT a.kind, a.crm_id, count(*) FROM actions a
                         WHERE a.action = 'create_erp' AND a.status IN ('ok', 'warning')
                         GROUP BY ALL HAVING count(*) > 1""")
    if rows:
        out.append(Violation(7, "CRM record(s) created in the ERP more than once: "
                                + _sample(rows)))
    return out


def _secrets(cur: duckdb.DuckDBPyConnection) -> list[Violation]:
    """No secret of this environment (``ERPDATA_SECRET_*``) in any text cell."""
    secrets = {k: v for k, v in os.environ.items()
               if k.startswith("ERPDATA_SECRET_") and len(v) >= 6}
    if not secrets:
        return []
    out = []
    tables = _rows(cur, "SELECT table_name, column_name FROM information_schema.columns "
                        "WHERE table_schema = 'main' AND data_type IN ('VARCHAR', 'JSON')")
    for table, column in tables:
        for name, value in secrets.items():
            hit = _rows(cur, f"SELECT count(*) FROM {sql_ident(table)} "  # noqa: S608 - catalog table and column names via sql_ident; secret bound as ?
                             f"WHERE contains({sql_ident(column)}::VARCHAR, ?)", [value])[0][0]
            if hit:
                out.append(Violation(8, f"the secret of ${name} is written in {table}.{column} "
                                        f"({hit} row(s))"))
    return out
