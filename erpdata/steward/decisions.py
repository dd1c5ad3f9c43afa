"""Stewards' decisions: accept, reject ("not a match", remembered for good), skip, and create
new in the ERP; one at a time or in bulk by filter.

Why decisions are rows of their own (invariant 5): suggestions are recomputed by every match
run, decisions never are. A decision is stamped with who and when, and a newer decision on the
same pair *supersedes* the older one (which stays, for the record) instead of overwriting it.
A match run reads the active decisions: rejected pairs are never suggested again and accepted
records are never handed to someone else.

Rules that keep links one-to-one (invariant 1): a CRM record has at most one active accept or
create, and an ERP record at most one active accept; records that are already linked cannot be
accepted again. A single decision that would break this is refused with the reason; a bulk
decision leaves those pairs out and says how many.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Final, Literal, TypeVar

import duckdb
import pandas as pd

from erpdata.errors import ErpdataError
from erpdata.roles import guarded, require_for
from erpdata.schema import ACTOR_TYPES, KINDS, Kind, check_side_kind, display_name_sql
from erpdata.steward import states
from erpdata.steward.states import STATES
from erpdata.workspace import Workspace

T = TypeVar("T")

# SQL built here (ruff S608): tables are crm_<kind> / erp_<kind> and the fixed tables
# (decisions, links, suggestions), kind checked against KINDS by _kind(); names come from
# display_name_sql(); every value from a caller or a record is bound as ``?``; LIMITs are ints.

Decision = Literal["accept", "reject", "skip", "create"]
DECISIONS: tuple[Decision, ...] = ("accept", "reject", "skip", "create")


class DecisionError(ErpdataError):
    """A decision that cannot be taken as asked; the message says why and what to do."""


def split_erp_key(erp: str) -> tuple[str, str]:
    """``"customer:K1"`` -> ``("customer", "K1")``: how suggestions name an ERP record."""
    actor, sep, erp_id = erp.partition(":")
    if not sep or not actor or not erp_id:
        raise DecisionError(f"ERP record {erp!r}: write it as actor_type:id, e.g. customer:K1")
    return actor, erp_id


def _kind(kind: str) -> Kind:
    check_side_kind("crm", kind)
    return kind  # type: ignore[return-value]


def _active_accepts(kind: Kind) -> str:
    """Pairs that are taken: committed links and active accepts not yet committed. ``kind``
    is checked against KINDS here, as it is written into the SQL (a caller may pass the kind
    of a stored decision)."""
    _kind(kind)
    return f"""
        SELECT crm_id, erp_actor_type, erp_id, 'linked' AS how FROM links WHERE kind = '{kind}'
        UNION ALL
        SELECT crm_id, erp_actor_type, erp_id, 'accepted' FROM decisions
        WHERE kind = '{kind}' AND superseded_by IS NULL AND decision = 'accept'
          AND batch_id IS NULL"""  # noqa: S608 - kind checked against KINDS by _kind()


#: ``decide(seen=UNCHECKED)``: take the decision whatever was decided on the record before.
UNCHECKED: Final = "unchecked"


@guarded
def decide(ws: Workspace, kind: str, decision: str, crm_id: str, erp: str | None = None, *,
           user: str | None = None, note: str | None = None,
           create_values: dict[str, str] | None = None, actor_type: str | None = None,
           seen: int | Literal["unchecked"] | None = UNCHECKED,
           con: duckdb.DuckDBPyConnection | None = None) -> int:
    """Record one decision and return its id.

    ``erp``: the ERP record as ``actor_type:id`` (accept, reject, skip). ``create``: the CRM
    record gets a new ERP actor of ``actor_type`` (customer or supplier for a company), with
    ``create_values`` for the fields the mapping asks the steward for.

    ``seen``: what :func:`current_decision` said when the steward was shown the record (None:
    no decision). Why: two stewards may have the same pair on screen; without it the later
    click would silently supersede the colleague's decision. With it, if someone decided on
    the record since, the later decision is refused with who decided what and when."""
    k = _kind(kind)
    if decision not in DECISIONS:
        raise DecisionError(f"unknown decision {decision!r}: use one of {', '.join(DECISIONS)}")
    cur = con or ws.cursor()
    with ws.transaction(cur):
        who = require_for(ws, "decide", user, cur)
        if seen != UNCHECKED:
            _check_unchanged(cur, k, crm_id, seen, decision)
        return _decide(cur, k, decision, crm_id, erp, who, note, create_values,
                       actor_type)


@guarded
def current_decision(ws: Workspace, kind: str, crm_id: str) -> int | None:
    """The newest active decision on a CRM record (None: none): what a page passes back to
    :func:`decide` as ``seen``."""
    return _latest(ws.cursor(), _kind(kind), crm_id)


def _latest(cur: duckdb.DuckDBPyConnection, kind: Kind, crm_id: str) -> int | None:
    (latest,) = cur.execute("SELECT max(decision_id) FROM decisions WHERE kind = ? AND "
                            "crm_id = ? AND superseded_by IS NULL",
                            [kind, crm_id]).fetchone() or (None,)
    return None if latest is None else int(latest)


def _check_unchanged(cur: duckdb.DuckDBPyConnection, kind: Kind, crm_id: str,
                     seen: int | None, decision: str) -> None:
    now = _latest(cur, kind, crm_id)
    if now == seen:
        return
    if now is None:
        raise DecisionError(f"the decision on CRM {kind} {crm_id!r} was taken back after your "
                            f"page showed it: your {decision} was not stored. Look at the "
                            "record again, and decide again")
    by, at, what, a_type, erp_id = cur.execute(
        "SELECT decided_by, decided_at, decision, erp_actor_type, erp_id FROM decisions "
        "WHERE decision_id = ?", [now]).fetchone() or (None,) * 5
    pair = f" of {a_type}:{erp_id}" if erp_id else (f" as a new {a_type}" if a_type else "")
    raise DecisionError(f"{by} decided on CRM {kind} {crm_id!r} at {at:%H:%M:%S}, after your "
                        f"page showed it ({what}{pair}): your {decision} was not stored. "
                        "Look at the record again, and decide again if you still disagree")


def _decide(cur: duckdb.DuckDBPyConnection, kind: Kind, decision: str, crm_id: str,
            erp: str | None, user: str, note: str | None,
            create_values: dict[str, str] | None, actor_type: str | None) -> int:
    _require(cur, f"crm_{kind}", "id = ?", [crm_id], f"CRM {kind} {crm_id!r}")
    if decision == "skip" and erp is None:  # a skip of the record: takes back a create
        a_type, erp_id = actor_type, None
    elif decision == "create":
        if erp is not None:
            raise DecisionError("create makes a new ERP record: give actor_type, not an ERP id")
        types = ACTOR_TYPES[kind][:2] if kind == "company" else ACTOR_TYPES[kind]
        if actor_type not in types:
            raise DecisionError(f"create a new {kind} in the ERP as one of {', '.join(types)}, "
                                f"not {actor_type!r}")
        a_type, erp_id = actor_type, None
    else:
        if erp is None:
            raise DecisionError(f"{decision} needs the ERP record (actor_type:id)")
        a_type, erp_id = split_erp_key(erp)
        if a_type not in ACTOR_TYPES[kind]:
            raise DecisionError(f"{erp!r} is not an ERP {kind} (actor types: "
                                f"{', '.join(ACTOR_TYPES[kind])})")
        _require(cur, f"erp_{kind}", "actor_type = ? AND id = ?", [a_type, erp_id],
                 f"ERP {kind} {erp!r}")
    if decision in ("accept", "create"):
        _check_free(cur, kind, crm_id, a_type if decision == "accept" else None, erp_id)
    (new_id,) = cur.execute(
        """INSERT INTO decisions (kind, crm_id, erp_actor_type, erp_id, decision, decided_by,
                                  decided_at, note, create_values)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING decision_id""",
        [kind, crm_id, a_type, erp_id, decision, user, datetime.now(), note,
         json.dumps(create_values) if create_values else None]).fetchone() or (0,)
    # The same pair's earlier decision, and the record's earlier accept or create (a changed
    # mind) are superseded; they stay in the table, stamped, for the record.
    cur.execute(
        """UPDATE decisions SET superseded_by = ?
           WHERE kind = ? AND crm_id = ? AND superseded_by IS NULL AND batch_id IS NULL
             AND decision_id <> ?
             AND ((erp_actor_type IS NOT DISTINCT FROM ? AND erp_id IS NOT DISTINCT FROM ?)
                  OR (? IN ('accept', 'create') AND decision IN ('accept', 'create'))
                  OR (? IS NULL AND decision = 'create'))""",
        [new_id, kind, crm_id, new_id, a_type, erp_id, decision, erp_id])
    states.refresh(cur, kind, [crm_id])
    return int(new_id)


def _require(cur: duckdb.DuckDBPyConnection, table: str, where: str, params: list[Any],
             what: str) -> None:
    (n,) = cur.execute(f"SELECT count(*) FROM {table} WHERE {where} AND missing_since IS NULL",  # noqa: S608 - table crm_/erp_<kind> after _kind(), where fixed; values bound as ?
                       params).fetchone() or (0,)
    if not n:
        raise DecisionError(f"{what} is not in the workspace (or is missing from the last load)")


def _check_free(cur: duckdb.DuckDBPyConnection, kind: Kind, crm_id: str,
                actor_type: str | None, erp_id: str | None) -> None:
    """Refuse an accept or create that would give a record a second link."""
    taken = cur.execute(
        f"""SELECT crm_id, erp_actor_type, erp_id, how FROM ({_active_accepts(kind)})
            WHERE (crm_id = ? AND how = 'linked')
               OR (erp_actor_type = ? AND erp_id = ? AND crm_id <> ?)""",  # noqa: S608 - kind checked against KINDS by _kind(); values bound as ?
        [crm_id, actor_type, erp_id, crm_id]).fetchall()
    for other_crm, other_type, other_erp, how in taken:
        if other_crm == crm_id:
            raise DecisionError(f"CRM {kind} {crm_id!r} is already linked to "
                                f"{other_type}:{other_erp}; disconnect it first")
        raise DecisionError(f"ERP {kind} {other_type}:{other_erp} is already {how} to CRM {kind} "
                            f"{other_crm!r}; a probable CRM duplicate: decide on that pair first")


@guarded
def revoke(ws: Workspace, decision_id: int, *, user: str | None = None) -> int:
    """Take back an uncommitted decision: a ``skip`` of the same pair (of the record, for a
    create) supersedes it; the old decision stays, stamped. A committed one is taken back by
    undoing its batch."""
    cur = ws.cursor()
    row = cur.execute("SELECT kind, crm_id, erp_actor_type, erp_id, batch_id, superseded_by, "
                      "decision FROM decisions WHERE decision_id = ?", [decision_id]).fetchone()
    if row is None:
        raise DecisionError(f"no decision {decision_id}")
    kind, crm_id, a_type, erp_id, batch_id, superseded_by, decision = row
    if batch_id is not None:
        raise DecisionError(f"decision {decision_id} was committed in batch {batch_id}: "
                            f"undo the batch instead (erpdata undo {batch_id})")
    if superseded_by is not None:
        raise DecisionError(f"decision {decision_id} is already superseded by {superseded_by}")
    with ws.transaction(cur):
        who = require_for(ws, "revoke", user, cur)
        return _decide(cur, kind, "skip", crm_id, None if decision == "create" else
                       f"{a_type}:{erp_id}", who,
                       f"revokes decision {decision_id}", None, a_type)


@guarded
def withdraw(ws: Workspace, decision_id: int, *, user: str | None = None) -> list[int]:
    """Undo an uncommitted decision as if it had not been taken: "undo last" in the Review
    page. Unlike :func:`revoke` (a new skip), the pair is undecided again and the decisions it
    superseded are active again, unless one would now break one-to-one (an accept whose ERP
    record was accepted for another record since). The withdrawn decision stays in the table,
    superseded by itself, and the audit says who withdrew it. Returns the reactivated ids."""
    cur = ws.cursor()
    with ws.transaction(cur):
        who = require_for(ws, "withdraw", user, cur)
        row = cur.execute("SELECT kind, crm_id, batch_id, superseded_by FROM decisions "
                          "WHERE decision_id = ?", [decision_id]).fetchone()
        if row is None:
            raise DecisionError(f"no decision {decision_id}")
        kind, crm_id, batch_id, superseded_by = row
        if batch_id is not None:
            raise DecisionError(f"decision {decision_id} was committed in batch {batch_id}: "
                                f"undo the batch instead (erpdata undo {batch_id})")
        if superseded_by is not None:
            raise DecisionError(f"decision {decision_id} is no longer active (superseded by "
                                f"{superseded_by}): only the current decision can be undone")
        cur.execute("UPDATE decisions SET superseded_by = decision_id WHERE decision_id = ?",
                    [decision_id])
        earlier = cur.execute(
            "SELECT decision_id, decision, erp_actor_type, erp_id FROM decisions "
            "WHERE superseded_by = ? AND decision_id <> ? ORDER BY decision_id",
            [decision_id, decision_id]).fetchall()
        back = []
        for old_id, decision, a_type, erp_id in earlier:
            if decision in ("accept", "create"):
                try:
                    _check_free(cur, kind, crm_id, a_type if decision == "accept" else None,
                                erp_id)
                except DecisionError:
                    continue  # stays superseded: its ERP record went to another record since
            cur.execute("UPDATE decisions SET superseded_by = NULL WHERE decision_id = ?",
                        [old_id])
            back.append(int(old_id))
        states.refresh(cur, kind, [crm_id])
        cur.execute("INSERT INTO audit (logged_at, actor, action, kind, side, record_id, detail)"
                    " VALUES (?, ?, 'withdraw', ?, 'both', ?, ?)",
                    [datetime.now(), who, kind, crm_id,
                     json.dumps({"decision_id": decision_id, "reactivated": back})])
    return back


# --- bulk ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filter:
    """Which suggested links a listing shows and a bulk decision touches (every given
    condition must hold). ``state`` is the Decision filter (one of :data:`STATES`): the
    listing and the bulk decision read the same WHERE (:func:`_queue`), so they cannot
    disagree about which pairs "the filtered links" are."""

    kind: str = "company"
    band: str | None = None
    min_probability: float | None = None
    max_probability: float | None = None
    country: str | None = None
    actor_type: str | None = None
    conflict: bool | None = None
    state: str | None = None


@dataclass
class BulkResult:
    """What a bulk decision did (or, as a dry run, would do): ``count`` pairs decided, and the
    pairs the filter shows that it left alone, by why. ``left_out``: their ERP record is
    linked or accepted elsewhere (accept). ``conflicts``: in a conflict, left for review
    (accept, unless the filter asks for conflicts). ``skipped``: skipped pairs, decided in
    bulk only when the Decision filter is "skipped". ``decided``: already decided."""

    decision: str
    count: int
    left_out: int
    sample: pd.DataFrame
    applied: bool
    conflicts: int = 0
    skipped: int = 0
    decided: int = 0

    @property
    def listed(self) -> int:
        """How many pairs the filter shows: the decided ones and every one left out."""
        return self.count + self.left_out + self.conflicts + self.skipped + self.decided


def _queue(kind: Kind, f: Filter, run: tuple[str, int] | None = None
           ) -> tuple[str, list[Any]]:
    """SQL for the suggested links (one per CRM record) that match ``f``, with the decision
    state of each (stored: :mod:`erpdata.steward.states`); no names (see :func:`_named`), so that
    counting and ordering a million of them reads one table. The one WHERE of the listing,
    its facets and every bulk decision (``run``: a condition on the run that stored the rows,
    and that run, for a page read partly in stored order)."""
    if f.state is not None and f.state not in STATES:
        raise DecisionError(f"unknown state {f.state!r}: use one of {', '.join(STATES)}")
    conditions = [("s.band = ?", f.band), ("s.probability >= ?", f.min_probability),
                  ("s.probability <= ?", f.max_probability),
                  ("s.erp_actor_type = ?", f.actor_type), ("s.conflict = ?", f.conflict),
                  ("s.state = ?", f.state), *([run] if run else [])]
    where, params = ["s.kind = ?", "s.link"], [kind]
    for condition, value in conditions:
        if value is not None:
            where.append(condition)
            params.append(value)
    if f.country is not None:  # the company's country, for persons and projects too
        company = ("SELECT id FROM crm_company WHERE upper(country) = upper(?)"
                   if kind == "company" else
                   f"SELECT c.id FROM crm_{kind} c JOIN crm_company pc ON pc.id = c.company_id "  # noqa: S608 - kind checked against KINDS by _kind(); country bound as ?
                   "WHERE upper(pc.country) = upper(?)")
        where.append(f"s.crm_id IN ({company})")
        params.append(f.country)
    sql = f"""
        SELECT s.crm_id, s.probability, s.band, s.conflict, s.erp_actor_type, s.erp_id, s.state
        FROM suggestions s WHERE {' AND '.join(where)}"""  # noqa: S608 - fixed conditions; values bound as ?
    return sql, params


def _named(kind: Kind, sql: str) -> str:
    """``sql`` (rows of :func:`_queue`) with the CRM and ERP display names beside each row, by
    a join: for bulk selections, which read every row anyway (a page uses :func:`_with_names`)."""
    return f"""
        SELECT q.crm_id, {display_name_sql(kind, 'c')} AS crm_name,
               q.erp_actor_type || ':' || q.erp_id AS erp,
               {display_name_sql(kind, 'e')} AS erp_name, q.* EXCLUDE (crm_id)
        FROM ({sql}) q
        JOIN crm_{kind} c ON c.id = q.crm_id
        JOIN erp_{kind} e ON e.actor_type = q.erp_actor_type AND e.id = q.erp_id"""  # noqa: S608 - kind checked against KINDS by _kind(); names from display_name_sql()


def _with_names(cur: duckdb.DuckDBPyConnection, kind: Kind, rows: pd.DataFrame
                ) -> pd.DataFrame:
    """A page of queue rows with both records' display names, in the queue's columns. Looked
    up by a list of ids, which the primary keys' indexes answer, not by a join that would scan
    a million records for fifty names."""

    def names(side: str, key: str, ids: pd.Series) -> pd.DataFrame:
        wanted = ids.unique().tolist()
        actor = ", t.actor_type" if side == "erp" else ""
        return cur.execute(
            f"SELECT t.id AS {key}{actor}, {display_name_sql(kind, 't')} AS {side}_name "  # noqa: S608 - side crm/erp, kind checked against KINDS by _kind(); ids bound as ?
            f"FROM {side}_{kind} t WHERE t.id IN ({', '.join('?' * len(wanted)) or 'NULL'})",
            wanted).df()

    crm = names("crm", "crm_id", rows["crm_id"])
    erp = names("erp", "erp_id", rows["erp_id"]).rename(columns={"actor_type":
                                                                 "erp_actor_type"})
    out = rows.merge(crm, on="crm_id", how="left").merge(
        erp, on=["erp_actor_type", "erp_id"], how="left")
    out["erp"] = out["erp_actor_type"] + ":" + out["erp_id"]
    front = ["crm_id", "crm_name", "erp", "erp_name"]
    return out[front + [c for c in rows.columns if c not in front and c not in
                        ("erp_actor_type", "erp_id")]]


def _selection(kind: Kind, f: Filter, decision: str) -> tuple[str, list[Any]]:
    """A ``WITH sel AS (...)`` clause: the suggested links the listing shows for ``f``
    (:func:`_queue`, the very same WHERE), each with ``why`` a bulk ``decision`` leaves it
    alone (NULL: it decides it). Which pairs are open: the undecided ones, or, when the
    Decision filter is "skipped", the skipped ones (a skip defers; it is decided in bulk only
    when the steward asks for the skipped pairs). An accept also leaves out pairs whose ERP
    record is linked or accepted elsewhere (one-to-one) and, unless the filter asks for
    conflicts, the pairs in a conflict: a probable duplicate is never accepted unseen."""
    sql, params = _queue(kind, f)
    open_state = "skipped" if f.state == "skipped" and decision != "skip" else "undecided"
    closed = "CASE WHEN q.state = 'skipped' THEN 'skipped' ELSE 'decided' END"
    if decision != "accept":
        return (f"WITH sel AS (SELECT q.*, CASE WHEN q.state <> '{open_state}' THEN {closed} "  # noqa: S608 - sql from _queue(), values bound as ?
                f"END AS why FROM ({sql}) q)", params)
    conflict = "" if f.conflict is True else "WHEN o.conflict THEN 'conflict' "
    # Open and closed pairs apart, and the taken ERP records looked up for the open pairs only
    # (a semi join built on them, probed by the taken pairs): after a bulk accept a million
    # pairs are decided and a handful open, and a count of the closed ones reads their state
    # alone. Matching every listed pair against every accept cost 0.18 s a count at 1,000,000.
    return f"""WITH o AS (SELECT * FROM ({sql}) WHERE state = '{open_state}'),
        sel AS (SELECT q.*, {closed} AS why FROM ({sql}) q WHERE q.state <> '{open_state}'
                UNION ALL
                SELECT o.*, CASE WHEN t.erp_id IS NOT NULL THEN 'taken' {conflict}END FROM o
                LEFT JOIN (SELECT DISTINCT a.erp_actor_type, a.erp_id
                           FROM ({_active_accepts(kind)}) a SEMI JOIN o
                           USING (erp_actor_type, erp_id)) t USING (erp_actor_type, erp_id))""", (  # noqa: S608 - fixed CASE arms; kind checked by _kind(); sql from _queue(), values bound as ?
        params + params)


def display_order_key(kind: str) -> str:
    """The meta entry saying that the kind's suggestions are stored in the order the queue
    lists them (its value: the run whose rows are; later runs' rows follow them, see
    :func:`_ordered_run`)."""
    return f"suggestions_in_display_order_{kind}"


def _ordered_run(ws: Workspace, cur: duckdb.DuckDBPyConnection, kind: Kind) -> int | None:
    """The run whose suggestions are stored in the order the queue lists them, if a page may
    read them so, without sorting.

    Why: a match run that stores all of a kind's suggestions stores them sorted as the queue
    lists them (probability descending, then CRM id), and DuckDB returns a scan's rows in the
    order they were inserted unless told otherwise (``preserve_insertion_order``, on by
    default; a scan with a LIMIT then stops once the page is full). Deciding only updates a
    row's state in place, and a later run that changed few pairs deletes those rows and
    appends its own (see :func:`erpdata.matching.runs._write_suggestions`), so that
    run's rows stay in order around the gaps. At 1,000,000 links nearly all of them tied at
    probability 1.0, sorting for a page of 50 read the whole table (17-30 ms); in stored order
    it reads the first rows (3 ms). Suggestions stored before they were sorted have no meta
    entry and are sorted per page as before."""
    (setting,) = cur.execute("SELECT current_setting('preserve_insertion_order')"
                             ).fetchone() or (False,)
    run = ws.get_meta(display_order_key(kind))
    return int(run) if setting and run is not None else None


@dataclass
class Page:
    """One page of the suggestion queue, and the key to ask for the next one (None: last)."""

    rows: pd.DataFrame
    next_key: tuple[float, str] | None


@guarded
def queue_page(ws: Workspace, f: Filter, *, state: str | None = None,
               after: tuple[float, str] | None = None, size: int = 50) -> Page:
    """The suggested links matching ``f`` (and ``state``), best first, ``size`` at a time.

    Keyset paging on (probability, CRM id): page 1,000 costs what page 1 costs, and a decision
    taken between two pages shifts nothing.

    ``state="undecided"`` is the review queue, where a skip defers and does not decide: the
    undecided pairs best first, then the skipped ones, the longest-skipped first (skipping one
    again sends it to the back, so a steward who skips through the queue meets each in turn).
    ``f.state`` (the Match page's Decision filter) is exact: "undecided" there leaves the
    skipped pairs out, as its count says."""
    k = _kind(f.kind)
    if state is not None and state not in STATES:
        raise DecisionError(f"unknown state {state!r}: use one of {', '.join(STATES)}")
    cur = ws.cursor()
    if state == "undecided":
        rows = _to_decide(cur, k, f, after, size)
    else:
        flt = f if state is None else replace(f, state=state)
        where, extra = "true", []
        if after is not None:
            where = "(probability < ? OR (probability = ? AND crm_id > ?))"
            extra = [after[0], after[0], after[1]]
        limit = f"ORDER BY probability DESC, crm_id LIMIT {int(size) + 1}"
        run = _ordered_run(ws, cur, k)
        if run is None:
            sql, params = _queue(k, flt)
            rows = cur.execute(f"SELECT * FROM ({sql}) WHERE {where} {limit}",  # noqa: S608 - sql from _queue(); values bound as ?; size an int
                               params + extra).df()
        else:  # the ordered run's first rows, and the best of later runs' rows, merged
            ordered, p_ordered = _queue(k, flt, ("s.run_id = ?", run))
            later, p_later = _queue(k, flt, ("s.run_id IS DISTINCT FROM ?", run))
            rows = cur.execute(
                f"""SELECT * FROM (
                        (SELECT * FROM ({ordered}) WHERE {where} LIMIT {int(size) + 1})
                        UNION ALL
                        (SELECT * FROM ({later}) WHERE {where} {limit})) {limit}""",  # noqa: S608 - sql from _queue(); values bound as ?; size an int
                p_ordered + extra + p_later + extra).df()
    rows = _with_names(cur, k, rows)
    more = len(rows) > size
    rows = rows.head(size)
    last = rows.iloc[-1] if len(rows) else None
    key = (float(last["probability"]), str(last["crm_id"])) if more and last is not None else None
    return Page(rows, key)


def _to_decide(cur: duckdb.DuckDBPyConnection, kind: Kind, f: Filter,
               after: tuple[float, str] | None, size: int) -> pd.DataFrame:
    """Up to ``size + 1`` rows of the review queue after ``after``: undecided pairs by
    probability, then skipped pairs by when they were skipped. The key stays (probability, CRM
    id), which the Review page builds from the row it shows; which part of the queue it points
    into is read from the record: a skipped pair's key continues among the skipped."""
    sql, params = _queue(kind, f)
    skipped_after = None if after is None else _active_skip(cur, kind, after[1])
    parts = []
    if skipped_after is None:
        where, extra = "state = 'undecided'", []
        if after is not None:
            where += " AND (probability < ? OR (probability = ? AND crm_id > ?))"
            extra = [after[0], after[0], after[1]]
        parts.append(cur.execute(f"SELECT * FROM ({sql}) WHERE {where} ORDER BY "  # noqa: S608 - sql from _queue(); values bound as ?; size an int
                                 f"probability DESC, crm_id LIMIT {int(size) + 1}",
                                 params + extra).df())
    need = int(size) + 1 - sum(len(p) for p in parts)
    if need > 0:
        extra = [kind] + ([] if skipped_after is None else [skipped_after])
        parts.append(cur.execute(
            f"""SELECT q.* FROM ({sql}) q
                JOIN (SELECT crm_id, erp_actor_type, erp_id, max(decision_id) AS skip_id
                      FROM decisions WHERE kind = ? AND superseded_by IS NULL
                        AND decision = 'skip' AND erp_id IS NOT NULL GROUP BY ALL) d
                  ON d.crm_id = q.crm_id AND d.erp_actor_type = q.erp_actor_type
                 AND d.erp_id = q.erp_id
                WHERE q.state = 'skipped'{'' if skipped_after is None else ' AND d.skip_id > ?'}
                ORDER BY d.skip_id LIMIT {need}""", params + extra).df())  # noqa: S608 - sql from _queue(); values bound as ?; need an int
    parts = [p for p in parts if len(p)] or parts[:1]
    return pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]


def _active_skip(cur: duckdb.DuckDBPyConnection, kind: Kind, crm_id: str) -> int | None:
    """The active skip of the CRM record's suggested link, if that pair is skipped."""
    (skip_id,) = cur.execute(
        """SELECT max(d.decision_id) FROM suggestions s
           JOIN decisions d ON d.kind = s.kind AND d.crm_id = s.crm_id
            AND d.erp_actor_type = s.erp_actor_type AND d.erp_id = s.erp_id
           WHERE s.kind = ? AND s.crm_id = ? AND s.link AND s.state = 'skipped'
             AND d.superseded_by IS NULL AND d.decision = 'skip'""",
        [kind, crm_id]).fetchone() or (None,)
    return None if skip_id is None else int(skip_id)


#: Counts of the queue computed before, by (workspace file, what was counted, the version of
#: the stored states they were computed at); see :func:`_counted`.
_COUNTED: dict[tuple[Any, ...], Any] = {}
_COUNTED_MAX = 256


def _counted(ws: Workspace, cur: duckdb.DuckDBPyConnection, f: Filter, what: tuple[Any, ...],
             compute: Callable[[], T]) -> T:
    """``compute()`` of the links ``f`` selects (it reads through ``cur``, a snapshot), or what
    it gave before for ``f`` and ``what`` at the same version of the stored states.

    Why: the Match page counts the queue per facet and the auto band on every rerun, and at
    1,000,000 links that is 6 and 30 ms of scans for counts that change only when the states
    do. Every writer of suggestions, decisions or links calls :func:`erpdata.steward.states.refresh`
    in its transaction, which raises the version (:data:`erpdata.steward.states.VERSION_KEY`), so a
    count is never reused after a change. A filter on country is never cached: countries
    change with a load of records, not with the states."""
    if f.country is not None:
        return compute()
    key = (str(ws.path), f, *what, states.version(cur))
    if key not in _COUNTED:
        if len(_COUNTED) >= _COUNTED_MAX:
            _COUNTED.clear()
        _COUNTED[key] = compute()
    return copy.deepcopy(_COUNTED[key])


@guarded
def queue_facets(ws: Workspace, f: Filter) -> dict[str, dict[str, int]]:
    """How many suggested links matching ``f`` there are per state, band, actor type and
    conflict flag: the counts beside each filter (cached per version of the stored states,
    :func:`_counted`)."""
    k = _kind(f.kind)
    with ws.snapshot() as cur:
        return _counted(ws, cur, f, ("facets",), lambda: _facets(cur, k, f))


def _facets(cur: duckdb.DuckDBPyConnection, k: Kind, f: Filter) -> dict[str, dict[str, int]]:
    sql, params = _queue(k, f)
    facets = ("state", "band", "erp_actor_type", "conflict")
    rows = cur.execute(
        f"""SELECT {', '.join(facets)}, count(*) FROM ({sql})
            GROUP BY GROUPING SETS ({', '.join(f'({x})' for x in facets)})""",  # noqa: S608 - fixed facet columns; sql from _queue(), values bound as ?
        params).fetchall()
    out: dict[str, dict[str, int]] = {"state": {}, "band": {}, "actor_type": {}, "conflict": {}}
    for *values, n in rows:  # one set per row: the other facets are NULL
        i = next(i for i, v in enumerate(values) if v is not None)
        name = "actor_type" if facets[i] == "erp_actor_type" else facets[i]
        value = str(values[i]).lower() if facets[i] == "conflict" else values[i]
        out[name][value] = int(n)
    return out


def queue_summary(ws: Workspace) -> dict[str, dict[str, int]]:
    """Per kind, the suggested links still to decide and how many of them are conflicts: the
    steward's progress beside the linked share (one scan of the stored states)."""
    out = {k: {"undecided": 0, "conflicts": 0} for k in KINDS}
    for kind, undecided, conflicts in ws.cursor().execute(
            "SELECT kind, count(*), count(*) FILTER (WHERE conflict) FROM suggestions "
            "WHERE link AND state = 'undecided' GROUP BY kind").fetchall():
        out[kind] = {"undecided": int(undecided), "conflicts": int(conflicts)}
    return out


#: The sample of a bulk decision asked for none (``sample=0``).
_NO_SAMPLE = pd.DataFrame({c: pd.Series(dtype=t) for c, t in (
    ("crm_id", "str"), ("erp", "str"), ("probability", "float64"), ("band", "str"),
    ("conflict", "bool"), ("crm_name", "str"))})


@guarded
def decide_bulk(ws: Workspace, decision: str, f: Filter, *, user: str | None = None,
                dry_run: bool = False, sample: int = 10) -> BulkResult:
    """Accept, reject or skip the suggested links the listing shows for ``f`` that are still
    open (undecided; skipped ones when ``f.state`` is "skipped"), in one transaction.

    What it leaves alone is counted by why (:class:`BulkResult`): already decided, skipped,
    ERP record taken elsewhere, in a conflict (:func:`_selection`). ``dry_run``: say how many
    pairs it would touch, with a sample, and write nothing."""
    k = _kind(f.kind)
    if decision not in ("accept", "reject", "skip"):
        raise DecisionError(f"bulk decisions are accept, reject or skip, not {decision!r}")
    with_sel, params = _selection(k, f, decision)
    # a dry run only reads: a snapshot, so counting the filtered links never waits for (or
    # holds up) another session's commit; a decision counts and writes in one transaction
    with ws.snapshot() if dry_run else ws.transaction(ws.cursor()) as cur:
        def tally() -> dict[str | None, int]:
            return dict(cur.execute(f"{with_sel} SELECT why, count(*) FROM sel GROUP BY why",  # noqa: S608 - with_sel from _selection(); values bound as ?
                                    params).fetchall())

        # a dry run's counts are cached per version of the states (_counted); a decision counts
        # inside its own transaction, afresh
        why = _counted(ws, cur, f, ("why", decision), tally) if dry_run else tally()
        named = _named(k, "SELECT * EXCLUDE (why) FROM sel WHERE why IS NULL")
        # the sample only when asked for: its name lookup joins every record (a count, like
        # the Match page's "Accept the N auto links", needs none)
        shown = _NO_SAMPLE.copy() if sample <= 0 else cur.execute(
            f"{with_sel} SELECT crm_id, erp, probability, band, conflict, crm_name "  # noqa: S608 - with_sel from _selection(), named from _named(); sample an int
            f"FROM ({named}) ORDER BY probability DESC, crm_id LIMIT {int(sample)}",
            params).df()
        count = int(why.get(None, 0))
        if not dry_run and count:
            who = require_for(ws, "decide_bulk", user, cur)
            todo = cur.execute(f"{with_sel} SELECT crm_id, erp_actor_type, erp_id, state "  # noqa: S608 - with_sel from _selection(); values bound as ?
                               "FROM sel WHERE why IS NULL", params).df()
            _insert_many(cur, k, decision, todo, who)
    return BulkResult(decision, count, int(why.get("taken", 0)), shown, not dry_run,
                      conflicts=int(why.get("conflict", 0)),
                      skipped=int(why.get("skipped", 0)), decided=int(why.get("decided", 0)))


def _insert_many(cur: duckdb.DuckDBPyConnection, kind: Kind, decision: str,
                 todo: pd.DataFrame, user: str) -> None:
    """Insert one decision per pair of ``todo``; a skipped pair's skip is superseded by it, as
    :func:`decide` would (the skip stays, stamped)."""
    rows = pd.DataFrame({"kind": kind, "crm_id": todo["crm_id"],
                         "erp_actor_type": todo["erp_actor_type"], "erp_id": todo["erp_id"],
                         "decision": decision, "decided_by": user,
                         "decided_at": datetime.now(), "note": "bulk"})
    cur.register("bulk_decisions", rows)
    try:
        new = cur.execute("INSERT INTO decisions BY NAME SELECT * FROM bulk_decisions "
                          "RETURNING decision_id, crm_id, erp_actor_type, erp_id").df()
    finally:
        cur.unregister("bulk_decisions")
    deferred = new[new["crm_id"].isin(todo.loc[todo["state"] == "skipped", "crm_id"])]
    if len(deferred):
        cur.register("bulk_new", deferred)
        try:
            cur.execute("""UPDATE decisions d SET superseded_by = n.decision_id FROM bulk_new n
                           WHERE d.kind = ? AND d.crm_id = n.crm_id
                             AND d.erp_actor_type = n.erp_actor_type AND d.erp_id = n.erp_id
                             AND d.superseded_by IS NULL AND d.batch_id IS NULL
                             AND d.decision_id < n.decision_id""", [kind])
        finally:
            cur.unregister("bulk_new")
    states.refresh(cur, kind, todo["crm_id"])


def active(ws: Workspace, kind: str) -> pd.DataFrame:
    """The active (not superseded) decisions of ``kind``, newest first."""
    k = _kind(kind)
    return ws.cursor().execute(
        """SELECT decision_id, crm_id, erp_actor_type, erp_id, decision, decided_by, decided_at,
                  note, batch_id FROM decisions WHERE kind = ? AND superseded_by IS NULL
           ORDER BY decision_id DESC""", [k]).df()
