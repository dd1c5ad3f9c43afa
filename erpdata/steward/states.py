"""Where each suggested link stands, kept in ``suggestions.state`` by every writer.

Why stored and not computed on read: the state of a pair follows from the links, the record's
active accept or create, and the pair's active reject or skip. Computing that for a million
suggestions joins a million decisions on every page run (0.1 s and more); stored, the queue,
its facets and the sidebar's counts read one table. Every write that changes links or decisions
calls :func:`refresh` for the CRM records it touched, in its own transaction, with the very SQL
that defines the state, so the stored value cannot drift from its definition.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

import duckdb
import pandas as pd

from erpdata.schema import check_side_kind

#: Where a suggested link stands: linked (committed), accepted or create (the CRM record has
#: an active accept or create), rejected or skipped (this pair), or undecided.
STATES = ("undecided", "accepted", "create", "rejected", "skipped", "linked")


def update_sql(kind: str, only_listed: bool) -> str:
    """``UPDATE suggestions`` setting the state of ``kind``'s rows: all of them, or (with
    ``only_listed``) those of the CRM ids in the registered table ``state_ids``. ``kind`` is
    written into the SQL: checked against KINDS here (a caller may pass a stored kind)."""
    check_side_kind("crm", kind)
    listed = " AND crm_id IN (SELECT crm_id FROM state_ids)" if only_listed else ""
    active = f"FROM decisions WHERE kind = '{kind}' AND superseded_by IS NULL{listed}"
    return f"""
        UPDATE suggestions t SET state = n.state FROM (
            SELECT s.crm_id, s.erp_actor_type, s.erp_id,
                   CASE WHEN l.crm_id IS NOT NULL THEN 'linked'
                        WHEN rd.decision = 'accept' THEN 'accepted'
                        WHEN rd.decision = 'create' THEN 'create'
                        WHEN pd.decision = 'reject' THEN 'rejected'
                        WHEN pd.decision = 'skip' THEN 'skipped'
                        ELSE 'undecided' END AS state
            FROM suggestions s
            LEFT JOIN (SELECT DISTINCT crm_id FROM links WHERE kind = '{kind}'{listed}) l
                   ON l.crm_id = s.crm_id
            LEFT JOIN (SELECT crm_id, arg_max(decision, decision_id) AS decision {active}
                         AND decision IN ('accept', 'create') GROUP BY crm_id) rd
                   ON rd.crm_id = s.crm_id
            LEFT JOIN (SELECT crm_id, erp_actor_type, erp_id,
                              arg_max(decision, decision_id) AS decision {active}
                         AND decision IN ('reject', 'skip') GROUP BY ALL) pd
                   ON pd.crm_id = s.crm_id AND pd.erp_actor_type = s.erp_actor_type
                  AND pd.erp_id = s.erp_id
            WHERE s.kind = '{kind}'{listed.replace('crm_id', 's.crm_id', 1)}
        ) n
        WHERE t.kind = '{kind}' AND t.crm_id = n.crm_id AND t.erp_actor_type = n.erp_actor_type
          AND t.erp_id = n.erp_id AND t.state IS DISTINCT FROM n.state"""  # noqa: S608 - kind checked against KINDS by check_side_kind() above


#: The meta entry naming the version of the stored states: ``<token>:<n>``, ``n`` raised by
#: every :func:`refresh` (the token, drawn once, tells two workspaces at one path apart).
VERSION_KEY = "suggestion_states_version"


def version(cur: duckdb.DuckDBPyConnection) -> str:
    """The version of the suggestions and their states that ``cur`` sees ("" before any)."""
    rows = cur.execute("SELECT value FROM meta WHERE key = ?", [VERSION_KEY]).fetchall()
    return str(rows[0][0]) if rows else ""


def _bump(cur: duckdb.DuckDBPyConnection) -> None:
    cur.execute(
        """INSERT OR REPLACE INTO meta
           SELECT ?, coalesce(split_part(max(value), ':', 1), ?) || ':' || CAST(
               coalesce(max(TRY_CAST(split_part(value, ':', 2) AS BIGINT)), 0) + 1 AS VARCHAR)
           FROM meta WHERE key = ?""", [VERSION_KEY, uuid.uuid4().hex, VERSION_KEY])


def refresh(cur: duckdb.DuckDBPyConnection, kind: str, crm_ids: Iterable[str] | None = None
            ) -> None:
    """Recompute the stored state of ``kind``'s suggestions: of these CRM records, or of all.
    Call it inside the transaction that changed their links or decisions (or stored new
    suggestions): it also raises the states' :func:`version`, which cached counts of the
    queue are keyed by (:func:`erpdata.steward.decisions.queue_facets`)."""
    _bump(cur)
    if crm_ids is None:
        cur.execute(update_sql(kind, only_listed=False))
        return
    ids = pd.DataFrame({"crm_id": pd.Series(list(crm_ids), dtype=object).astype(str).unique()})
    if ids.empty:
        return
    cur.register("state_ids", ids)
    try:
        cur.execute(update_sql(kind, only_listed=True))
    finally:
        cur.unregister("state_ids")


def refresh_frame(cur: duckdb.DuckDBPyConnection, touched: pd.DataFrame) -> None:
    """:func:`refresh` for every ``(kind, crm_id)`` row of ``touched``."""
    for kind, group in touched.groupby("kind", sort=False):
        refresh(cur, str(kind), group["crm_id"])


# --- the codes above, and every other code a page shows, in a steward's words ----------------

#: Every code a page shows a steward (a suggested link's state, a decision, a queued action and
#: its status, a batch's status, an audited change, a load's change), in plain words, by what
#: the code names. Why one dict for every page: the same code must read the same everywhere,
#: and the codes themselves stay in the data, the CLI and the reports, for scripts.
WORDS: dict[str, dict[str, str]] = {
    "state": {"undecided": "not decided yet", "accepted": "accepted, waiting for the commit",
              "create": "new ERP record asked for", "rejected": "rejected",
              "skipped": "skipped", "linked": "linked"},
    "decision": {"accept": "accepted", "reject": "rejected", "skip": "skipped",
                 "create": "asked for a new ERP record"},
    "action": {"link": "link", "unlink": "unlink", "update_crm": "CRM update",
               "update_erp": "ERP update", "create_erp": "new ERP record"},
    "status": {"queued": "waiting to be sent", "running": "being sent", "ok": "done",
               "warning": "done with a warning", "error": "failed", "cancelled": "cancelled",
               "committed": "committed", "undone": "undone"},
    "audit": {"link": "linked", "unlink": "unlinked", "update_crm": "CRM record updated",
              "update_erp": "ERP record updated", "create_erp": "new ERP record",
              "undo": "batch undone", "mapping": "field mappings changed",
              "thresholds": "thresholds changed", "role": "role given",
              "connection": "connection changed", "withdraw": "decision withdrawn",
              "resolve_conflict": "conflict settled",
              "retry_failed": "failed actions queued again"},
    "change": {"insert": "new", "update": "changed", "missing": "flagged missing",
               "reappeared": "back in the export"},
    "side": {"crm": "CRM", "erp": "ERP", "both": "both"},
    "direction": {"to_crm": "ERP → CRM", "to_erp": "CRM → ERP", "both": "both ways",
                  "none": "not synchronised"},
    "winner": {"crm": "the CRM", "erp": "the ERP", "newest": "the side changed last"},
    "answer": {"ok": "works", "ok_with_info": "works", "warning": "works, with a warning",
               "error": "does not work"},
}


def plain(group: str, code: object) -> str:
    """``code`` of ``group`` (see :data:`WORDS`) in a steward's words; a code the dict does
    not know yet reads with spaces for underscores rather than not at all."""
    if code is None or (isinstance(code, float) and code != code):
        return ""
    text = str(code)
    return WORDS.get(group, {}).get(text, text.replace("_", " "))
