"""Sync now: run the queued actions of committed batches through the live systems, exactly
once, and pull what the systems changed since the last time.

Why this shape:

- **Exactly once.** Actions are taken in chunks. A chunk is marked ``running`` (and its attempt
  counted) in one transaction before the connector is called, and its results are written in
  another after. A sync that dies in between (crash, Ctrl-C, lost network) finds the chunk
  ``running`` next time and sends it again; every connector call is idempotent by key (a create
  carries the CRM key and finds the actor made the first time; a save writes the same values;
  a connect of a linked pair is a no-op). An action that ended ok or with a warning is never
  sent again, nor one that failed for good (a refusal); one that failed in a way a retry may
  mend is sent again by the next sync, so that "Sync now" pressed again finishes the work.
- **The truth about failures.** Timeouts, lost connections, cut-off answers and 5xx answers
  are retried with exponential backoff (4 times, 0.5 to 4 s); a 4xx or a business error is not.
  Each action keeps its state, both explanations, its error code and every failed try before
  it (when, code, why) in ``actions.result``; the sync's result counts the calls sent again.
- **No silent conflict.** Before an ERP record is updated, its current values are read: a field
  whose value changed in the ERP since the batch was planned (it is no longer the ``before``
  value) is not overwritten; it goes to ``sync_conflicts`` for the steward, and the rest of the
  record is written.
- **Directions.** The actions already obey the field mappings (a commit only plans changes a
  field's direction allows); a pull loads what the system changed like a partial export.
"""

from __future__ import annotations

import json
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import duckdb
import pandas as pd

from erpdata.errors import ErpdataError
from erpdata.ingest.load import LoadResult, load_file
from erpdata.live.connections import (
    connections,
    get_connection,
    inspect_folder,
    open_connector,
)
from erpdata.live.connectors.base import (
    Answer,
    Connector,
    CrmConnector,
    CrmRecord,
    ErpActor,
)
from erpdata.progress import Progress, reporter
from erpdata.roles import guarded, require_for
from erpdata.schema import ACTOR_TYPES, KINDS, fields, table_name
from erpdata.sql import sql_ident
from erpdata.steward import states
from erpdata.steward.commit import write_changes
from erpdata.steward.mappings import mappings
from erpdata.workspace import Workspace

R = TypeVar("R")

#: The order in which action types run: new actors first (links need their keys).
ORDER = ("create_erp", "update_erp", "update_crm", "link", "unlink")


#: Action types in a steward's words (plural forms: ``"ERP update(s)"``).
ACTION_WORDS = {"create_erp": "new ERP record", "update_erp": "ERP update",
                "update_crm": "CRM update", "link": "link", "unlink": "unlink"}
#: Final statuses of an action in a steward's words; ``skipped``: not sent, no connection.
OUTCOME_WORDS = {"ok": "done", "warning": "done with a warning", "error": "error",
                 "skipped": "skipped"}


@dataclass(frozen=True)
class Outcome:
    """How many actions of one type ended one way for one reason: ``outcome`` is ``done``,
    ``done with a warning``, ``skipped`` or ``error``; ``reason`` is the system's own
    explanation in plain words (empty for plain success)."""

    outcome: str
    action: str
    reason: str
    count: int

    def line(self) -> str:
        """``error: 1,396 ERP update(s): the ERP record is not in the ERP``."""
        what = f"{self.count:,} {ACTION_WORDS.get(self.action, self.action)}(s)"
        return f"{self.outcome}: {what}" + (f": {self.reason}" if self.reason else "")


@dataclass
class SyncResult:
    """What a sync did: actions per final status, conflicts found, actions left waiting."""

    statuses: dict[str, int] = field(default_factory=dict)
    conflicts: int = 0
    waiting: dict[str, str] = field(default_factory=dict)  # action type -> why it waits
    #: calls that failed in a way worth retrying and were sent again, by error code
    retried: dict[str, int] = field(default_factory=dict)
    #: (status, action type, reason) -> actions that ended so; the reason is empty for "ok"
    reasons: dict[tuple[str, str, str], int] = field(default_factory=dict)
    #: action type -> actions not sent for want of a connection
    skipped: dict[str, int] = field(default_factory=dict)

    def outcomes(self) -> list[Outcome]:
        """Every way the actions ended, one row per outcome, action type and reason: errors
        first (the largest first), then warnings, skipped and done. What the Commit page
        colours and the CLI prints (:meth:`summary`)."""
        rows = [Outcome(OUTCOME_WORDS.get(st, st), action, reason, n)
                for (st, action, reason), n in self.reasons.items()]
        rows += [Outcome("skipped", action, why, n) for action, n in self.skipped.items()
                 for why in [self.waiting.get(action, "")]]
        rank = {w: i for i, w in enumerate(("error", "done with a warning", "skipped", "done"))}
        return sorted(rows, key=lambda o: (rank.get(o.outcome, 9), -o.count,
                                           ORDER.index(o.action) if o.action in ORDER else 9,
                                           o.reason))

    @property
    def level(self) -> str:
        """``error`` when any action failed, ``warning`` when one ended with a warning, was
        skipped or met a conflict (a partial sync), ``success`` when every action was done,
        ``nothing`` when there was nothing to do. The page's colour: never green on error."""
        if self.statuses.get("error"):
            return "error"
        if self.statuses.get("warning") or self.skipped or self.waiting or self.conflicts:
            return "warning"
        return "success" if self.statuses else "nothing"

    def headline(self) -> str:
        """Counts per outcome in plain words, on one line."""
        if not self.statuses and not self.waiting:
            return "nothing to sync: no queued actions"
        done = ", ".join(f"{n:,} {OUTCOME_WORDS.get(s, s)}" for s, n in
                         sorted(self.statuses.items(), key=lambda x: _STATUS_ORDER.get(x[0], 9))
                         ) or "no action run"
        skipped = sum(self.skipped.values())
        wait = (f"; {skipped:,} skipped: " + ", ".join(
            f"{self.skipped.get(a, 0):,} {ACTION_WORDS.get(a, a)}(s) {why}"
            for a, why in self.waiting.items())) if self.waiting else ""
        tail = f"; {self.conflicts} conflict(s) for the steward" if self.conflicts else ""
        again = ""
        if self.retried:
            codes = ", ".join(f"{c or 'failed'} {n}" for c, n in sorted(self.retried.items()))
            again = f"; {sum(self.retried.values())} failed call(s) sent again ({codes})"
        return f"synced: {done}{wait}{tail}{again}"

    def details(self) -> list[str]:
        """One line per reason that was not plain success (errors first), indented."""
        return ["  " + o.line() for o in self.outcomes()
                if o.outcome in ("error", "done with a warning")]

    def summary(self) -> str:
        return "\n".join([self.headline(), *self.details()])


_STATUS_ORDER = {"ok": 0, "warning": 1, "error": 2}


def with_retries(call: Callable[[], R], *, failed_retryably: Callable[[R], bool] | None = None,
                 retries: int = 4, backoff: float = 0.5,
                 sleep: Callable[[float], None] = time.sleep) -> R:
    """``call()`` again after 0.5, 1, 2, 4 s while it failed in a way worth retrying: an
    :class:`Answer` that is a retryable error (or what ``failed_retryably`` says)."""
    worth = failed_retryably or (lambda a: not a.ok and a.retryable)  # type: ignore[attr-defined]
    answer = call()
    for attempt in range(retries):
        if not worth(answer):
            break
        sleep(backoff * 2 ** attempt)
        answer = call()
    return answer


@guarded
def sync(ws: Workspace, *, erp: Connector | None = None, crm: CrmConnector | None = None,
         batch_id: int | None = None, user: str | None = None, chunk: int = 100,
         retries: int = 4, backoff: float = 0.5, progress: Progress | None = None,
         cancel: threading.Event | None = None,
         sleep: Callable[[float], None] = time.sleep) -> SyncResult:
    """Run the queued (and interrupted) actions of ``batch_id`` (default: every batch).

    ERP actions go to ``erp``, CRM actions (updates, links) to ``crm``; an action whose system
    has no connector waits, and the result says so. ``cancel`` stops between chunks."""
    cur = ws.cursor()
    require_for(ws, "sync", user, cur)
    report = reporter(progress, cancel, "the sync")
    where = (f"(status IN ('queued', 'running') OR ({_RESEND}))"
             + (" AND batch_id = ?" if batch_id else ""))
    todo = cur.execute(f"SELECT action_id, batch_id, kind, action, crm_id, erp_actor_type, "  # noqa: S608 - where: constants (_RESEND) and ? only
                       f"erp_id, payload, result FROM actions WHERE {where} "
                       f"ORDER BY action_id", [batch_id] if batch_id else []).df()
    result = SyncResult()
    runners: dict[str, tuple[object | None, Callable[..., list[dict[str, Any]]]]] = {
        "create_erp": (erp, lambda rows: _create(erp, crm, rows)),
        "update_erp": (erp, lambda rows: _update_erp(erp, rows)),
        "update_crm": (crm, lambda rows: _update_crm(crm, rows)),
        "link": (crm, lambda rows: _link(crm, rows)),
        "unlink": (crm, lambda rows: _unlink(crm, rows)),
    }
    total = max(len(todo), 1)
    done = 0
    for action in ORDER:
        rows = todo[todo["action"] == action]
        if rows.empty:
            continue
        connector, run = runners[action]
        if connector is None:
            side = "an ERP" if action.endswith("erp") else "a CRM"
            result.waiting[action] = f"wait for {side} connection"
            result.skipped[action] = result.skipped.get(action, 0) + len(rows)
            done += len(rows)
            continue
        for start in range(0, len(rows), chunk):
            part = rows.iloc[start:start + chunk]
            report(f"{action}: {done} of {len(todo)}", done / total)
            _mark_running(ws, part["action_id"].tolist())
            tries: list[list[dict[str, Any]]] = []

            def attempt(part: pd.DataFrame = part, run: Callable[..., list[dict[str, Any]]] = run,
                        tries: list[list[dict[str, Any]]] = tries) -> list[dict[str, Any]]:
                outs = run(part)
                at = datetime.now().isoformat(timespec="microseconds")
                for out in outs:  # when the try ended: tells one failed call from another
                    out["at"] = at
                tries.append(outs)
                return outs

            outcomes = with_retries(  # again only while every action failed retryably
                attempt,
                failed_retryably=lambda outs: all(o["state"] == "error" and o["retryable"]
                                                  for o in outs),
                retries=retries, backoff=backoff, sleep=sleep)
            for failed in tries[:-1]:  # each a call that failed and was sent again
                for code in {o.get("code", "") for o in failed}:
                    result.retried[code] = result.retried.get(code, 0) + 1
            _finish(ws, part, outcomes, result, tries[:-1])
            done += len(part)
    if progress is not None:
        progress("done", 1.0)
    return result


#: Failed actions the next sync sends again: those that failed in a way a retry may mend (a
#: timeout, a lost connection, a 5xx: the answer said ``retryable``), of a batch still
#: committed, or an undo's own compensating action. Without this a steward's "Sync now" could
#: never finish an action that met a network fault once. A refusal (a 4xx, a business error)
#: is not sent again: it would fail the same way until someone changes something.
#: An action that may still be sent at all: an undo's own, or one of a batch still committed.
_LIVE = ("(idempotency_key LIKE 'undo:%' OR batch_id IN "
         "(SELECT b.batch_id FROM batches b WHERE b.status = 'committed'))")
_RESEND = ("status = 'error' AND coalesce(TRY_CAST(result->>'retryable' AS BOOLEAN), false) "
           f"AND {_LIVE}")
#: Failed tries kept per action (the latest), so that a long outage cannot bloat a result.
_MAX_TRIES_KEPT = 20


def _mark_running(ws: Workspace, ids: list[int]) -> None:
    cur = ws.cursor()
    with ws.transaction(cur):
        cur.execute("UPDATE actions SET status = 'running', attempts = attempts + 1 "
                    "WHERE action_id IN (SELECT unnest(?::INTEGER[]))", [ids])


def _outcome(answer: Answer[Any], **extra: Any) -> dict[str, Any]:
    return {"state": answer.state, "user": answer.user_explanation,
            "tech": answer.tech_explanation, "code": answer.error_code,
            "retryable": answer.retryable, **extra}


def _brief(out: dict[str, Any]) -> dict[str, Any]:
    """A failed try as kept in an action's history: when, its code, both explanations."""
    return {"at": out.get("at"), "code": out.get("code", ""), "user": out.get("user", ""),
            "tech": str(out.get("tech", ""))[:300]}


def _earlier_failures(previous: object) -> list[dict[str, Any]]:
    """The failed tries of an action's earlier syncs (its stored result): why it was sent
    again is part of its story, even when it ends ok."""
    if not isinstance(previous, str) or not previous:
        return []
    old = json.loads(previous)
    tries = list(old.get("failed_tries", []))
    if old.get("state") == "error":
        tries.append(_brief(old))
    return tries


_STATUS = {"ok": "ok", "ok_with_info": "ok", "warning": "warning", "error": "error"}
#: Why an update ended with a warning when the ERP had changed one of its fields meanwhile.
CONFLICT_REASON = ("a field changed in the ERP since the commit was not overwritten: a "
                   "conflict for the steward")


def _finish(ws: Workspace, part: pd.DataFrame, outcomes: list[dict[str, Any]],
            result: SyncResult, failed: Sequence[list[dict[str, Any]]] = ()) -> None:
    """Write each action's outcome (with the failed tries before it: ``failed`` holds this
    sync's, one outcome list per try), its conflicts, and (for a create) the new link."""
    cur = ws.cursor()
    now = datetime.now()
    with ws.transaction(cur):
        for i, (row, out) in enumerate(zip(part.itertuples(index=False), outcomes,
                                           strict=True)):
            history = [*_earlier_failures(getattr(row, "result", None)),
                       *(_brief(tried[i]) for tried in failed)]
            if history:
                out["failed_tries"] = history[-_MAX_TRIES_KEPT:]
            status = _STATUS[out["state"]]
            conflicts = out.pop("conflicts", [])
            if conflicts and status == "ok":
                status = "warning"
            cur.execute("UPDATE actions SET status = ?, result = ?, finished_at = ? "
                        "WHERE action_id = ?",
                        [status, json.dumps(out, default=str), now, int(row.action_id)])
            for fld, base, ours, theirs in conflicts:
                cur.execute(
                    "INSERT INTO sync_conflicts (action_id, batch_id, kind, side, crm_id, "
                    "erp_actor_type, erp_id, field, base_value, ours, theirs, found_at) "
                    "VALUES (?, ?, ?, 'erp', ?, ?, ?, ?, ?, ?, ?, ?)",
                    [int(row.action_id), int(row.batch_id), row.kind, row.crm_id,
                     row.erp_actor_type, row.erp_id, fld, base, ours, theirs, now])
            result.conflicts += len(conflicts)
            if row.action == "create_erp" and status != "error" and out.get("erp_key"):
                _record_created(cur, row, out, now)
            result.statuses[status] = result.statuses.get(status, 0) + 1
            why = "" if status == "ok" else (
                CONFLICT_REASON if conflicts and out["state"] != "warning"
                else str(out.get("user") or out.get("code") or "no reason given"))
            key = (status, str(row.action), why)
            result.reasons[key] = result.reasons.get(key, 0) + 1


def _record_created(cur: duckdb.DuckDBPyConnection, row: Any, out: dict[str, Any],
                    now: datetime) -> None:
    """The ERP actor now exists: link it (once) in the workspace."""
    linked = cur.execute("SELECT count(*) FROM links WHERE kind = ? AND crm_id = ?",
                         [row.kind, row.crm_id]).fetchone()
    if linked and linked[0]:
        return
    cur.execute("INSERT INTO links (kind, crm_id, erp_actor_type, erp_id, batch_id, linked_by, "
                "linked_at, last_modified) VALUES (?, ?, ?, ?, ?, 'sync', ?, ?)",
                [row.kind, row.crm_id, out["actor_type"], out["erp_key"], int(row.batch_id),
                 now, out.get("last_modified")])
    states.refresh(cur, row.kind, [row.crm_id])


# --- the runners: one chunk of one action type each -------------------------------------------


def _payload(row: Any) -> dict[str, Any]:
    return json.loads(row.payload) if isinstance(row.payload, str) and row.payload else {}


def _crm_key(kind: str, crm_id: str) -> str:
    return f"{kind}:{crm_id}"


def _create(erp: Connector | None, crm: CrmConnector | None, rows: pd.DataFrame
            ) -> list[dict[str, Any]]:
    assert erp is not None
    actors, keys = [], []
    for row in rows.itertuples(index=False):
        p = _payload(row)
        parent = p.get("parent") or {}
        actors.append(ErpActor(p["actor_type"], None, dict(p.get("fields", {})),
                               parent_actor_type=parent.get("actor_type"),
                               parent_erp_key=parent.get("erp_id")))
        keys.append(_crm_key(row.kind, row.crm_id))
    answer = erp.create(actors, keys)
    if not answer.ok:
        return [_outcome(answer) for _ in actors]
    made = answer.unwrap() or []
    out = []
    for row, actor in zip(rows.itertuples(index=False), made, strict=True):
        extra = {"erp_key": actor.erp_key, "actor_type": actor.actor_type,
                 "last_modified": actor.last_modified}
        state = answer
        if crm is not None and actor.erp_key:
            linked = crm.connect(row.kind, row.crm_id, actor.actor_type, actor.erp_key, {})
            if not linked.ok:
                state = Answer("warning", None, "created in the ERP, but the CRM refused the "
                               "link: " + linked.user_explanation, linked.tech_explanation)
        out.append(_outcome(state, **extra))
    return out


def _update_erp(erp: Connector | None, rows: pd.DataFrame) -> list[dict[str, Any]]:
    """Save the chosen values; a field the ERP changed since the batch was planned becomes a
    conflict instead."""
    assert erp is not None
    out: dict[int, dict[str, Any]] = {}
    for actor_type, group in rows.groupby("erp_actor_type", sort=False):
        current = erp.get(str(actor_type), group["erp_id"].astype(str).tolist())
        if not current.ok:
            out.update({int(i): _outcome(current) for i in group["action_id"]})
            continue
        now = {a.erp_key: a for a in current.unwrap() or []}
        wanted: dict[int, ErpActor] = {}
        found: dict[int, list[tuple[str, Any, Any, Any]]] = {}
        for row in group.itertuples(index=False):
            theirs = now.get(str(row.erp_id))
            if theirs is None:
                out[int(row.action_id)] = _outcome(Answer.failed(  # one reason for all
                    "the ERP record is not in the ERP (or not in its export) any more",
                    f"ERP {actor_type} {row.erp_id} not found", code="not_found"))
                continue
            p, write = _payload(row), {}
            found[int(row.action_id)] = []
            for fld, ours in p.get("fields", {}).items():
                base, value = p.get("before", {}).get(fld), theirs.fields.get(fld)
                if _same(value, base) or _same(value, ours):
                    write[fld] = ours
                else:  # changed in the ERP since the batch was planned: the steward decides
                    found[int(row.action_id)].append((fld, base, ours, value))
            wanted[int(row.action_id)] = ErpActor(str(actor_type), str(row.erp_id), write)
        to_save = [a for a in wanted.values() if a.fields]
        saved = erp.save(to_save) if to_save else Answer.good([])
        out.update({i: {**_outcome(saved), "conflicts": found[i]} for i in wanted})
    return [out[int(i)] for i in rows["action_id"]]


def _same(a: object, b: object) -> bool:
    """Equal as values: blanks are missing, surrounding spaces do not count."""

    def norm(v: object) -> str | None:
        return None if v is None or (isinstance(v, str) and not v.strip()) else str(v).strip()

    return norm(a) == norm(b)


def _update_crm(crm: CrmConnector | None, rows: pd.DataFrame) -> list[dict[str, Any]]:
    assert crm is not None
    records = [CrmRecord(row.kind, str(row.crm_id), dict(_payload(row).get("fields", {})))
               for row in rows.itertuples(index=False)]
    answer = crm.save(records)
    return [_outcome(answer) for _ in records]


def _link(crm: CrmConnector | None, rows: pd.DataFrame) -> list[dict[str, Any]]:
    assert crm is not None
    return [_outcome(crm.connect(row.kind, str(row.crm_id), str(row.erp_actor_type),
                                 str(row.erp_id), {}))
            for row in rows.itertuples(index=False)]


def _unlink(crm: CrmConnector | None, rows: pd.DataFrame) -> list[dict[str, Any]]:
    assert crm is not None
    return [_outcome(crm.disconnect(row.kind, str(row.crm_id)))
            for row in rows.itertuples(index=False)]


# --- pulling what changed ------------------------------------------------------------------------


@guarded
def pull(ws: Workspace, connection: str, system: Connector | CrmConnector, kind: str, *,
         user: str | None = None, full: bool = False,
         progress: Progress | None = None, said: list[str] | None = None
         ) -> LoadResult | None:
    """Load the records of ``kind`` the system changed since this connection's last pull (all
    of them the first time, or with ``full``), like a partial export: records it does not
    return are left as they are, unless the pull is full. None when nothing changed.
    ``said``: gets what the system explained with its answers (a Tryton without the employee
    relation type returns no persons and says why), so "nothing changed" can say why."""
    def heard(answer: Answer[Any]) -> Answer[Any]:
        if said is not None and answer.ok and answer.user_explanation:
            said.append(answer.user_explanation)
        return answer

    if kind not in KINDS:
        raise ErpdataError(f"unknown kind {kind!r}: use one of {', '.join(KINDS)}")
    cur = ws.cursor()
    row = cur.execute("SELECT high_water FROM sync_marks WHERE connection = ? AND kind = ?",
                      [connection, kind]).fetchone()
    since = None if full or row is None else row[0]
    if isinstance(system, CrmConnector):
        side = "crm"
        answer = heard(with_retries(lambda: system.records(kind, since)))
        frame = pd.DataFrame([{"id": r.crm_id, **r.fields, "_changed": r.last_modified}
                              for r in answer.unwrap() or []])
    else:
        side = "erp"
        actors: list[ErpActor] = []
        supported = with_retries(system.actor_types).unwrap() or []
        for actor_type in ACTOR_TYPES[kind]:
            if actor_type in supported:
                actors += heard(with_retries(lambda t=actor_type: system.changed_since(
                    t, since))).unwrap() or []
        frame = _actor_frame(actors)
    high = frame["_changed"].max() if len(frame) else None
    if frame.empty:  # nothing changed (or nothing there): nothing to load, nothing flagged
        cur.execute("INSERT OR REPLACE INTO sync_marks VALUES (?, ?, ?, ?)",
                    [connection, kind, since, datetime.now()])
        return None
    result = _load(ws, connection, side, kind, frame, user=user, partial=since is not None,
                   progress=progress)
    cur.execute("INSERT OR REPLACE INTO sync_marks VALUES (?, ?, ?, ?)",
                [connection, kind, high if high is not None and not pd.isna(high) else since,
                 datetime.now()])
    return result


def reasons(said: Sequence[str]) -> str:
    """What :func:`pull`'s ``said`` collected, as `` (reason)`` after "no changes", each once."""
    return "".join(f" ({x})" for x in dict.fromkeys(said))


def _actor_frame(actors: Sequence[ErpActor]) -> pd.DataFrame:
    return pd.DataFrame([{"id": a.erp_key, "actor_type": a.actor_type, **a.fields,
                          "parent_key": a.parent_erp_key, "parent_actor_type": a.parent_actor_type,
                          "last_modified": a.last_modified, "_changed": a.last_modified}
                         for a in actors])


def _load(ws: Workspace, connection: str, side: str, kind: str, frame: pd.DataFrame, *,
          user: str | None, partial: bool, progress: Progress | None = None) -> LoadResult:
    """Load records a connector returned, like an export file of canonical columns."""
    wanted = ["id", *(f.name for f in fields(side, kind))]
    data = frame.reindex(columns=wanted).astype(object)
    data = data.where(data.notna(), None)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{connection}_{side}_{kind}.parquet"
        data.astype(str).where(data.notna(), None).to_parquet(path, index=False)
        return load_file(ws, path, side=side, kind=kind, user=user, progress=progress,
                         display=f"{connection} ({side} {kind})", partial=partial,
                         mapping={c: c for c in wanted})


@guarded
def fetch(ws: Workspace, connection: str, system: Connector, actor_type: str,
          erp_keys: Sequence[str], *, user: str | None = None) -> LoadResult:
    """Bring these ERP actors into the workspace now (a hit of a live search the steward
    connects to), as a partial load: nothing else changes."""
    kind = next((k for k, types in ACTOR_TYPES.items() if actor_type in types), None)
    if kind is None:
        raise ErpdataError(f"unknown actor type {actor_type!r}")
    actors = system.get(actor_type, erp_keys).unwrap() or []
    missing = sorted(set(erp_keys) - {a.erp_key for a in actors})
    if missing:
        raise ErpdataError(f"{connection} has no {actor_type} {', '.join(missing)}")
    return _load(ws, connection, "erp", kind, _actor_frame(actors), user=user, partial=True)


def action_counts(ws: Workspace) -> dict[str, int]:
    """How many actions stand in each status (queued, running, ok, warning, error, ...)."""
    return {str(k): int(n) for k, n in ws.cursor().execute(
        "SELECT status, count(*) FROM actions GROUP BY status").fetchall()}


def failures(ws: Workspace) -> list[Outcome]:
    """The actions standing failed, per action type and reason (the system's explanation),
    the most frequent first: what "Send failed actions again" would send, and why each
    failed. Counted in DuckDB, so it costs one query on every run of the Commit page."""
    rows = ws.cursor().execute(
        """SELECT action, coalesce(nullif(result->>'user', ''), result->>'code',
                                   'no reason given') AS reason, count(*) AS n
           FROM actions WHERE status = 'error' GROUP BY ALL
           ORDER BY n DESC, action, reason""").fetchall()
    return [Outcome("error", str(a), str(r), int(n)) for a, r, n in rows]


def conflicts(ws: Workspace, *, open_only: bool = True) -> pd.DataFrame:
    """The fields a sync did not overwrite because both sides had changed them."""
    where = "WHERE resolution IS NULL" if open_only else ""
    return ws.cursor().execute(f"SELECT * FROM sync_conflicts {where} ORDER BY conflict_id"  # noqa: S608 - where: one of two constants
                               ).df()



# --- Sync now: push the queued actions, then pull what changed -------------------------------


@dataclass
class SyncReport:
    """What "Sync now" did: the actions run, and the records pulled per connection and kind."""

    pushed: SyncResult
    pulled: dict[str, str] = field(default_factory=dict)  # "connection kind" -> load summary
    changed: int = 0  # records inserted or updated by the pulls

    def outcomes(self) -> list[Outcome]:
        """The pushed actions per outcome and reason (:meth:`SyncResult.outcomes`)."""
        return self.pushed.outcomes()

    @property
    def level(self) -> str:
        """``error``, ``warning`` (partial), ``success`` or ``nothing``: see
        :attr:`SyncResult.level`; records pulled count as success."""
        level = self.pushed.level
        return "success" if level == "nothing" and self.changed else level

    def summary(self) -> str:
        """The counts per outcome on one line (and what was pulled), then one line per
        reason of every error and warning: what the CLI prints and the page shows."""
        if not self.pushed.statuses and not self.pushed.waiting and not self.changed:
            return "nothing to sync: no queued actions and no changes in the live systems"
        return "\n".join([self.pushed.headline()
                          + f"; pulled {self.changed} new or changed record(s)",
                          *self.pushed.details()])


def _side_connection(ws: Workspace, side: str, name: str | None) -> str | None:

    names = [c.name for c in connections(ws) if c.side == side]
    if name is not None:
        if name not in names:
            raise ErpdataError(f"no {side.upper()} connection {name!r}; defined: "
                               f"{', '.join(names) or 'none'}")
        return name
    if len(names) > 1:
        raise ErpdataError(f"{len(names)} {side.upper()} connections ({', '.join(names)}): "
                           f"name the one to sync with (--{side} NAME)")
    return names[0] if names else None


@guarded
def sync_now(ws: Workspace, *, batch_id: int | None = None, erp_name: str | None = None,
             crm_name: str | None = None, user: str | None = None,
             secrets: dict[str, str] | None = None, pull_kinds: tuple[str, ...] = KINDS,
             progress: Progress | None = None,
             cancel: threading.Event | None = None) -> SyncReport:
    """"Sync now": run the queued actions through the workspace's connections (the ERP one
    and the CRM one), then pull what each changed since its last pull."""

    names = {"erp": _side_connection(ws, "erp", erp_name),
             "crm": _side_connection(ws, "crm", crm_name)}
    if not any(names.values()):
        raise ErpdataError("no connection to sync with: define one first "
                           "(erpdata connect add, or the Settings page)")
    for name in names.values():  # an ERP export folder without exports: nothing is sent
        conn = get_connection(ws, name) if name is not None else None
        if conn is not None and conn.type == "files":
            found = inspect_folder(conn)
            if not found.ok:
                raise ErpdataError(f"sync not started: connection {name!r}: "
                                   f"{found.user_explanation}; nothing was sent")
    opened: dict[str, Connector | CrmConnector] = {}
    try:
        for side, name in names.items():
            if name is not None:
                opened[side] = open_connector(get_connection(ws, name),
                                              (secrets or {}).get(name))
        erp = opened.get("erp")
        crm = opened.get("crm")
        report = reporter(progress, cancel, "the sync")
        pushed = sync(ws, erp=erp if isinstance(erp, Connector) else None,
                      crm=crm if isinstance(crm, CrmConnector) else None, batch_id=batch_id,
                      user=user, progress=lambda s, f: report(s, f * 0.7), cancel=cancel)
        out = SyncReport(pushed)
        loads = []
        for side, system in opened.items():
            for i, kind in enumerate(pull_kinds):
                report(f"pulling {side} {kind}", 0.7 + 0.2 * i / len(pull_kinds))
                said: list[str] = []
                loaded = pull(ws, names[side] or side, system, kind, user=user, said=said)
                out.pulled[f"{names[side]} {kind}"] = (
                    loaded.summary() if loaded
                    else "no changes" + reasons(said))
                if loaded is not None:
                    out.changed += loaded.inserted + loaded.updated
                    loads.append(loaded.load_id)
        report("carrying changes to the other side", 0.9)
        batch, found = propagate(ws, loads, user=user)
        pushed.conflicts += found
        if batch is not None:  # what one side changed goes to the other now
            carried = sync(ws, erp=erp if isinstance(erp, Connector) else None,
                           crm=crm if isinstance(crm, CrmConnector) else None,
                           batch_id=batch, user=user)
            for status, n in carried.statuses.items():
                pushed.statuses[status] = pushed.statuses.get(status, 0) + n
            for key, n in carried.reasons.items():
                pushed.reasons[key] = pushed.reasons.get(key, 0) + n
            for action, n in carried.skipped.items():
                pushed.skipped[action] = pushed.skipped.get(action, 0) + n
            pushed.waiting.update(carried.waiting)
            pushed.conflicts += carried.conflicts
    finally:
        for system in opened.values():
            system.close()
    if progress is not None:
        progress("done", 1.0)
    return out


@guarded
def propagate(ws: Workspace, loads: Sequence[int], *, user: str | None = None
              ) -> tuple[int | None, int]:
    """Carry the changes these pulls loaded to the other side of each linked record, as the
    field mappings' directions allow, as one batch (undoable like any); a mapped field that
    changed on both sides goes to the conflict queue instead. Returns (batch id or None,
    conflicts)."""

    cur = ws.cursor()
    with ws.transaction(cur):
        who = require_for(ws, "propagate", user, cur)
        changed = cur.execute(
            """SELECT rc.side, rc.kind, l.crm_id, l.erp_actor_type, l.erp_id, rc.field,
                      rc.new_value
               FROM record_changes rc JOIN links l ON l.kind = rc.kind
                AND ((rc.side = 'crm' AND l.crm_id = rc.record_id)
                     OR (rc.side = 'erp' AND l.erp_actor_type = rc.actor_type
                         AND l.erp_id = rc.record_id))
               WHERE rc.change = 'update' AND rc.load_id IN (SELECT unnest(?::INTEGER[]))""",
            [list(loads)]).df()
        changed = changed[~_stale(cur, changed)]
        changes, found = [], []
        for kind, group in changed.groupby("kind", sort=False):
            maps = [m for m in mappings(ws, str(kind), cur) if m.crm_field]
            by_side = {side: {(r.crm_id, r.erp_actor_type, r.erp_id, r.field): r.new_value
                              for r in g.itertuples(index=False)}
                       for side, g in group.groupby("side")}
            crm_new, erp_new = by_side.get("crm", {}), by_side.get("erp", {})
            pairs = {k[:3] for k in (*crm_new, *erp_new)}
            for crm_id, actor, erp_id in sorted(pairs):
                now = _current(cur, str(kind), crm_id, actor, erp_id)
                for m in maps:
                    c_key, e_key = (crm_id, actor, erp_id, m.crm_field), (crm_id, actor,
                                                                          erp_id, m.erp_field)
                    c_changed, e_changed = c_key in crm_new, e_key in erp_new
                    if c_changed and e_changed and not _same(crm_new[c_key], erp_new[e_key]):
                        if m.direction != "none":
                            found.append((kind, crm_id, actor, erp_id, m.erp_field,
                                          crm_new[c_key], erp_new[e_key]))
                    elif c_changed and m.to_erp and not _same(now["erp"].get(m.erp_field),
                                                              crm_new[c_key]):
                        changes.append((kind, "erp", f"{actor}:{erp_id}", crm_id, actor, erp_id,
                                        m.erp_field, now["erp"].get(m.erp_field),
                                        crm_new[c_key]))
                    elif e_changed and m.to_crm and not _same(now["crm"].get(m.crm_field),
                                                              erp_new[e_key]):
                        changes.append((kind, "crm", crm_id, crm_id, actor, erp_id,
                                        m.crm_field, now["crm"].get(m.crm_field),
                                        erp_new[e_key]))
        batch_id = write_changes(cur, changes, who, "sync") if changes else None
        now_ts = datetime.now()
        for kind, crm_id, actor, erp_id, fld, ours, theirs in found:
            cur.execute("INSERT INTO sync_conflicts (batch_id, kind, side, crm_id, "
                        "erp_actor_type, erp_id, field, ours, theirs, found_at) "
                        "VALUES (?, ?, 'both', ?, ?, ?, ?, ?, ?, ?)",
                        [batch_id, kind, crm_id, actor, erp_id, fld, ours, theirs, now_ts])
    return batch_id, len(found)


def _stale(cur: duckdb.DuckDBPyConnection, changed: pd.DataFrame) -> pd.Series:
    """Pulled "changes" that only show a system has not applied our last update of that field
    yet: the new value is that update's before value (an export folder still holds the old
    value until the import tool has run). They are no change of that system's own."""
    sent = cur.execute(
        """SELECT CASE action WHEN 'update_erp' THEN 'erp' ELSE 'crm' END AS side, kind,
                  crm_id, erp_actor_type, erp_id, unnest(json_keys(payload->'before')) AS field,
                  payload FROM actions
           WHERE action IN ('update_erp', 'update_crm') AND status IN ('ok', 'warning')
           ORDER BY action_id""").df()
    last = {(r.side, r.kind, r.crm_id, r.erp_actor_type, r.erp_id, r.field):
            json.loads(r.payload)["before"].get(r.field) for r in sent.itertuples()}
    return pd.Series([last.get((r.side, r.kind, r.crm_id, r.erp_actor_type, r.erp_id, r.field),
                               object()) == r.new_value for r in changed.itertuples()],
                     index=changed.index, dtype=bool)


def _current(cur: duckdb.DuckDBPyConnection, kind: str, crm_id: str, actor: str, erp_id: str
             ) -> dict[str, dict[str, Any]]:
    """Both records of a linked pair as the workspace holds them now."""
    crm = cur.execute(f"SELECT * FROM {table_name('crm', kind)} WHERE id = ?",  # noqa: S608 - table_name() checks kind
                      [crm_id]).df()
    erp = cur.execute(f"SELECT * FROM {table_name('erp', kind)} WHERE actor_type = ? "  # noqa: S608 - table_name() checks kind
                      "AND id = ?", [actor, erp_id]).df()
    return {"crm": crm.iloc[0].to_dict() if len(crm) else {},
            "erp": erp.iloc[0].to_dict() if len(erp) else {}}


@guarded
def resolve_conflict(ws: Workspace, conflict_id: int, choice: str, *,
                     user: str | None = None) -> int | None:
    """Settle a field both sides changed. ``ours`` writes our value (the batch's, or the
    CRM's) to the ERP; ``theirs`` keeps the ERP's value: for a conflict between two syncs it
    is written to the CRM, for a batch's update it is taken into the workspace. A write is a
    batch of its own, queued for the next sync and undoable. Returns that batch's id."""

    if choice not in ("ours", "theirs"):
        raise ErpdataError(f"resolve a conflict with 'ours' or 'theirs', not {choice!r}")
    cur = ws.cursor()
    with ws.transaction(cur):
        who = require_for(ws, "resolve_conflict", user, cur)
        row = cur.execute("SELECT side, kind, crm_id, erp_actor_type, erp_id, field, ours, "
                          "theirs, resolution FROM sync_conflicts WHERE conflict_id = ?",
                          [conflict_id]).fetchone()
        if row is None:
            raise ErpdataError(f"no sync conflict {conflict_id}")
        side, kind, crm_id, actor, erp_id, fld, ours, theirs, done = row
        if done is not None:
            raise ErpdataError(f"sync conflict {conflict_id} is already resolved ({done})")
        batch_id = None
        if choice == "theirs" and side == "erp":  # the workspace takes the ERP's value
            # kind and field come back from a stored row: checked against the schema, never
            # trusted as SQL (a damaged row must not set another column)
            if fld not in {f.name for f in fields("erp", kind)}:
                raise ErpdataError(f"sync conflict {conflict_id}: {fld!r} is not an ERP "
                                   f"{kind} field")
            cur.execute(f"UPDATE {table_name('erp', kind)} SET {sql_ident(fld)} = ? "  # noqa: S608 - table_name() checks kind; field checked against fields()
                        "WHERE actor_type = ? AND id = ?", [theirs, actor, erp_id])
            cur.execute("INSERT INTO audit (logged_at, actor, action, kind, side, record_id, "
                        "actor_type, field, before_value, after_value) "
                        "VALUES (?, ?, 'resolve_conflict', ?, 'erp', ?, ?, ?, ?, ?)",
                        [datetime.now(), who, kind, erp_id, actor, fld, ours, theirs])
        else:
            if choice == "ours":
                change = ("erp", f"{actor}:{erp_id}", fld, theirs, ours)
            else:  # the ERP's value goes to the CRM field it is mapped to
                crm_field = next(m.crm_field for m in mappings(ws, kind, cur)
                                 if m.erp_field == fld)
                change = ("crm", crm_id, crm_field, ours, theirs)
            target, key, field_, before, after = change
            batch_id = write_changes(cur, [(kind, target, key, crm_id, actor, erp_id, field_,
                                            before, after)], who, "resolve")
        cur.execute("UPDATE sync_conflicts SET resolution = ?, resolved_by = ?, resolved_at = ? "
                    "WHERE conflict_id = ?", [choice, who, datetime.now(), conflict_id])
    return batch_id


@guarded
def retry_failed(ws: Workspace, *, batch_id: int | None = None, user: str | None = None
                 ) -> int:
    """Queue the failed actions of committed batches again, for the next sync; returns how
    many. Why: a refusal (a wrong password, a record locked in the ERP) is not sent again by
    itself, since it would fail the same way; once the steward has mended the cause, this
    sends it. Each action keeps its last failure in its result (the next sync adds it to the
    action's failed tries), and the audit says who queued them again."""
    cur = ws.cursor()
    with ws.transaction(cur):
        who = require_for(ws, "retry_failed", user, cur)
        ids = [int(i) for (i,) in cur.execute(
            f"SELECT action_id FROM actions WHERE status = 'error' AND {_LIVE}"  # noqa: S608 - _LIVE: a constant
            + (" AND batch_id = ?" if batch_id is not None else ""),
            [batch_id] if batch_id is not None else []).fetchall()]
        if ids:
            cur.execute("UPDATE actions SET status = 'queued' WHERE action_id IN "
                        "(SELECT unnest(?::INTEGER[]))", [ids])
            cur.execute("INSERT INTO audit (logged_at, actor, action, batch_id, detail) "
                        "VALUES (?, ?, 'retry_failed', ?, ?)",
                        [datetime.now(), who, batch_id, json.dumps({"actions": ids})])
    return len(ids)
