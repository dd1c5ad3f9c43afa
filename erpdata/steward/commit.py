"""Commit: turn accepted decisions and picks into links and queued actions, as one batch, in ONE
transaction with its audit rows; undo a batch exactly; disconnect a link.

Why a batch is built as a *plan* first: the dry run and the real commit must be the same batch.
:func:`plan` computes everything (links, field changes per side, new ERP actors, what is left
out and why) in DataFrames without writing; :func:`commit` writes that plan, or, as a dry run,
only reports it. Every overwrite keeps the value it replaced in ``audit`` (invariant 4), which
is what :func:`undo` restores from.

Actions are *queued*, not run: ``update_crm`` / ``update_erp`` (the chosen values of the fields
whose direction allows it), ``create_erp`` (a new ERP actor from the mapped fields and the
defaults), ``link`` and ``unlink``. The sync step executes them; each carries an idempotency key.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from erpdata.errors import ErpdataError
from erpdata.progress import Progress, reporter
from erpdata.roles import guarded, require_for
from erpdata.schema import KINDS, Kind, check_side_kind, display_name_sql, fields
from erpdata.sql import scratch, sql_ident
from erpdata.steward import states
from erpdata.steward.decisions import split_erp_key
from erpdata.steward.mappings import mappings
from erpdata.steward.review import diffs
from erpdata.workspace import Workspace

# SQL built here (ruff S608): tables are <side>_<kind> (kinds taken from KINDS, a caller's
# checked by check_side_kind()) and the fixed tables (decisions, links, audit, batches); a
# written column is a schema field (fields()) quoted by sql_ident; values are bound as ``?``.


class CommitError(ErpdataError):
    """A commit, undo or disconnect that cannot be done as asked; says why."""


@dataclass
class Plan:
    """One batch before it is written. ``left_out``: accepted or create decisions that cannot
    be committed (``crm_id, erp, reason``); they stay accepted for the steward to fix."""

    links: pd.DataFrame
    changes: pd.DataFrame
    creates: pd.DataFrame
    left_out: pd.DataFrame
    unlinks: pd.DataFrame = field(default_factory=lambda: _frame(_LINK_COLS))

    def counts(self) -> dict[str, int]:
        """Actions per type, as the batch will queue them."""
        per_pair = self.changes.drop_duplicates(["kind", "side", "record_key"])
        return {
            "link": len(self.links),
            "update_crm": int((per_pair["side"] == "crm").sum()),
            "update_erp": int((per_pair["side"] == "erp").sum()),
            "create_erp": len(self.creates),
            "unlink": len(self.unlinks),
        }

    def overwrites(self, con: duckdb.DuckDBPyConnection | None = None) -> pd.DataFrame:
        """Per side, kind and field: how many values the batch replaces, and how many empty
        fields it fills (see :func:`overwrite_counts`)."""
        return overwrite_counts(self.changes, con)


_LINK_COLS = ["kind", "crm_id", "erp_actor_type", "erp_id", "decision_id", "last_modified"]
_CHANGE_COLS = ["kind", "side", "record_key", "crm_id", "erp_actor_type", "erp_id", "field",
                "before", "after"]
_CREATE_COLS = ["kind", "crm_id", "erp_actor_type", "decision_id", "payload"]
_LEFT_COLS = ["kind", "crm_id", "erp", "reason"]


def _frame(cols: list[str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in cols})


def _pending_sql(first: int | None) -> str:
    """The active, uncommitted decisions of one kind and decision type (parameters: kind,
    decision), the first ``first`` of them by id when sampling."""
    limit = f"LIMIT {int(first)}" if first is not None else ""
    return f"""SELECT * FROM decisions WHERE kind = ? AND decision = ? AND superseded_by IS NULL
               AND batch_id IS NULL ORDER BY decision_id {limit}"""  # noqa: S608 - fixed SQL; first forced to int; kind bound as ?


def _accepted(cur: duckdb.DuckDBPyConnection, kind: Kind, first: int | None) -> pd.DataFrame:
    """Active, uncommitted accepts of ``kind`` with what the invariants need to check them."""
    parent = ("NULL AS parent_actor_type, NULL AS parent_key, NULL AS company_id"
              if kind == "company" else
              "e.parent_actor_type, e.parent_key, c.company_id")
    return cur.execute(f"""
        WITH d AS ({_pending_sql(first)})
        SELECT d.decision_id, d.crm_id, d.erp_actor_type, d.erp_id, e.last_modified, {parent},
               EXISTS (SELECT 1 FROM links l WHERE l.kind = d.kind AND l.crm_id = d.crm_id)
                   AS crm_linked,
               EXISTS (SELECT 1 FROM links l WHERE l.erp_actor_type = d.erp_actor_type
                       AND l.erp_id = d.erp_id) AS erp_linked,
               c.id IS NULL OR c.missing_since IS NOT NULL AS crm_gone,
               e.id IS NULL OR e.missing_since IS NOT NULL AS erp_gone
        FROM d
        LEFT JOIN crm_{kind} c ON c.id = d.crm_id
        LEFT JOIN erp_{kind} e ON e.actor_type = d.erp_actor_type AND e.id = d.erp_id
        ORDER BY d.decision_id""", [kind, "accept"]).df()  # noqa: S608 - kind from KINDS (plan() checks it); parent a fixed column list; values bound as ?


def _company_links(cur: duckdb.DuckDBPyConnection, planned: pd.DataFrame,
                   company_ids: pd.Series, sampling: bool) -> pd.Series:
    """CRM company id -> ``actor_type:id`` of its ERP actor, for ``company_ids``: committed
    links and the company links of the plan being built; when ``sampling``, also the pending
    company accepts the sample did not reach."""
    cur.register("wanted_companies", pd.DataFrame({"crm_id": company_ids.dropna().unique()}))
    pending = ("UNION ALL SELECT crm_id, erp_actor_type || ':' || erp_id FROM decisions "
               "JOIN wanted_companies USING (crm_id) WHERE kind = 'company' AND decision = "
               "'accept' AND superseded_by IS NULL AND batch_id IS NULL") if sampling else ""
    try:
        rows = cur.execute("SELECT crm_id, erp_actor_type || ':' || erp_id FROM links "  # noqa: S608 - pending a fixed clause; the ids a registered table
                           "JOIN wanted_companies USING (crm_id) WHERE kind = 'company' "
                           + pending).fetchall()
    finally:
        cur.unregister("wanted_companies")
    out = dict(rows)
    company = planned[planned["kind"] == "company"]
    out.update(zip(company["crm_id"], company["erp_actor_type"] + ":" + company["erp_id"],
                   strict=True))
    return pd.Series(out, dtype=object)


def _link_plan(ws: Workspace, cur: duckdb.DuckDBPyConnection, kind: Kind,
               planned: pd.DataFrame, first: int | None
               ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(links, field changes, left out) for the accepted pairs of ``kind``."""
    acc = _accepted(cur, kind, first)
    erp_key = acc["erp_actor_type"] + ":" + acc["erp_id"]
    reason = pd.Series(None, index=acc.index, dtype=object)
    reason[acc["erp_gone"]] = "the ERP record is not in the last ERP export"
    reason[acc["crm_gone"]] = "the CRM record is not in the last CRM export"
    reason[acc["erp_linked"]] = "the ERP record is already linked"
    reason[acc["crm_linked"]] = "the CRM record is already linked"
    if kind == "person":  # invariant 2: the ERP person hangs under the company's actor
        parents = _company_links(cur, planned, acc["company_id"], first is not None)
        wanted = acc["company_id"].map(parents)
        actual = acc["parent_actor_type"] + ":" + acc["parent_key"]
        bad = reason.isna() & (wanted.isna() | (wanted != actual))
        reason[bad & wanted.isna()] = "the person's company is not linked to an ERP actor"
        reason[bad & wanted.notna()] = ("the ERP person belongs to " + actual[bad].fillna("no "
                                        "actor") + ", not to the company's actor "
                                        + wanted[bad].fillna(""))
    ok = reason.isna()
    left = pd.DataFrame({"kind": kind, "crm_id": acc.loc[~ok, "crm_id"],
                         "erp": erp_key[~ok], "reason": reason[~ok]})
    links = acc.loc[ok, ["crm_id", "erp_actor_type", "erp_id", "decision_id",
                         "last_modified"]].assign(kind=kind)[_LINK_COLS]
    if links.empty:
        return links.reset_index(drop=True), _frame(_CHANGE_COLS), left
    d = diffs(ws, kind, links, cur)
    crm_ch = d[d["crm_after"].astype(object).ne(d["crm_value"].astype(object))
               & ~(d["crm_after"].isna() & d["crm_value"].isna())]
    erp_ch = d[d["erp_after"].astype(object).ne(d["erp_value"].astype(object))
               & ~(d["erp_after"].isna() & d["erp_value"].isna())]
    changes = pd.concat([
        pd.DataFrame({"kind": kind, "side": "crm", "record_key": crm_ch["crm_id"],
                      "crm_id": crm_ch["crm_id"], "erp_actor_type": crm_ch["erp_actor_type"],
                      "erp_id": crm_ch["erp_id"], "field": crm_ch["crm_field"],
                      "before": crm_ch["crm_value"], "after": crm_ch["crm_after"]}),
        pd.DataFrame({"kind": kind, "side": "erp",
                      "record_key": erp_ch["erp_actor_type"] + ":" + erp_ch["erp_id"],
                      "crm_id": erp_ch["crm_id"], "erp_actor_type": erp_ch["erp_actor_type"],
                      "erp_id": erp_ch["erp_id"], "field": erp_ch["erp_field"],
                      "before": erp_ch["erp_value"], "after": erp_ch["erp_after"]}),
    ], ignore_index=True)
    return links.reset_index(drop=True), changes[_CHANGE_COLS], left


def _create_plan(ws: Workspace, cur: duckdb.DuckDBPyConnection, kind: Kind,
                 planned: pd.DataFrame, first: int | None
                 ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(creates, left out) for the active create decisions of ``kind``: the payload is the
    CRM record's values of the fields that sync to the ERP, then the mapping's defaults and
    the values the steward was asked for; every mandatory field must end up with a value."""
    rows = cur.execute(f"""
        WITH d AS ({_pending_sql(first)})
        SELECT d.decision_id, d.crm_id, d.erp_actor_type, d.create_values, c.*,
               EXISTS (SELECT 1 FROM links l WHERE l.kind = d.kind AND l.crm_id = d.crm_id)
                   AS crm_linked
        FROM d JOIN crm_{kind} c ON c.id = d.crm_id ORDER BY d.decision_id""",  # noqa: S608 - kind from KINDS (plan() checks it); values bound as ?
                       [kind, "create"]).df()
    maps = mappings(ws, kind, cur)
    parents = (_company_links(cur, planned, rows["company_id"], first is not None)
               if kind != "company" else pd.Series(dtype=object))
    creates, left = [], []
    for row in rows.to_dict("records"):  # one per create decision, a steward's handful
        asked = json.loads(row["create_values"]) if isinstance(row["create_values"], str) else {}
        values: dict[str, str] = {}
        for m in maps:
            value = row.get(m.crm_field) if m.to_erp and m.crm_field else None
            value = value if isinstance(value, str) and value.strip() else None
            value = asked.get(m.erp_field) or value or m.default_value
            if value is not None:
                values[m.erp_field] = value
        missing = [m.erp_field for m in maps
                   if (m.mandatory or m.default_mandatory) and m.erp_field not in values]
        problem = None
        if row["crm_linked"]:
            problem = "the CRM record is already linked"
        elif missing:
            problem = f"mandatory field(s) without a value: {', '.join(missing)}"
        payload: dict[str, Any] = {"actor_type": row["erp_actor_type"], "fields": values}
        if kind != "company" and problem is None:
            parent = parents.get(row["company_id"])
            if parent is None:
                problem = ("the person's" if kind == "person" else "the project's") + \
                    " company is not linked to an ERP actor: link or create it first"
            else:
                payload["parent"] = dict(zip(("actor_type", "erp_id"), split_erp_key(parent),
                                             strict=True))
        if problem:
            left.append({"kind": kind, "crm_id": row["crm_id"],
                         "erp": f"new {row['erp_actor_type']}", "reason": problem})
        else:
            creates.append({"kind": kind, "crm_id": row["crm_id"],
                            "erp_actor_type": row["erp_actor_type"],
                            "decision_id": row["decision_id"], "payload": payload})
    return (pd.DataFrame(creates, columns=_CREATE_COLS),
            pd.DataFrame(left, columns=_LEFT_COLS))


def plan(ws: Workspace, kinds: tuple[str, ...] = KINDS,
         con: duckdb.DuckDBPyConnection | None = None, *, first: int | None = None,
         progress: Progress | None = None) -> Plan:
    """The batch that committing now would write (nothing is written).

    ``first``: plan only the first ``first`` pending decisions of each kind and type, a sample
    that costs the same with a million pending decisions as with ten (see :func:`pending`)."""
    for k in kinds:
        check_side_kind("crm", k)
    cur = con or ws.cursor()
    report = progress or (lambda _s, _f: None)
    links, changes, creates, left = [], [], [], []
    planned = _frame(_LINK_COLS)
    todo = [k for k in KINDS if k in kinds]  # companies first: the others need their actor
    for i, kind in enumerate(todo):
        k: Kind = kind  # type: ignore[assignment]
        report(f"planning the {k} links", i / len(todo))
        kind_links, kind_changes, kind_left = _link_plan(ws, cur, k, planned, first)
        planned = pd.concat([planned, kind_links], ignore_index=True)
        kind_creates, create_left = _create_plan(ws, cur, k, planned, first)
        links.append(kind_links)
        changes.append(kind_changes)
        creates.append(kind_creates)
        left += [kind_left, create_left]
    return Plan(_concat(links, _LINK_COLS), _concat(changes, _CHANGE_COLS),
                _concat(creates, _CREATE_COLS), _concat(left, _LEFT_COLS))


#: Columns of :func:`overwrite_counts`.
OVERWRITE_COLS = ["side", "kind", "field", "label", "overwrite", "fill"]
_SIDE_WORDS = {"erp": "ERP", "crm": "CRM"}
_KIND_WORDS = {"company": "companies", "person": "persons", "project": "projects"}


def field_label(side: str, kind: str, name: str) -> str:
    """The steward's word for a field (``Street address 1``, not ``streetad1``): the label of
    the mapped field in the schema, the key itself only for a field the schema does not
    know."""
    for f in fields(side, kind):  # type: ignore[arg-type]
        if f.name == name:
            return f.label
    return name


def overwrite_counts(changes: pd.DataFrame,
                     con: duckdb.DuckDBPyConnection | None = None) -> pd.DataFrame:
    """What a batch's field changes do to each side, per field: ``overwrite`` counts values
    replaced (the record held a value), ``fill`` counts empty fields given one.

    Why before committing: a default pick (the CRM wins) silently replaces ERP values such as
    an invoice e-mail; a steward must see "ERP: E-mail 14" before the batch is written, not
    find it in the audit afterwards. Counted in DuckDB (one GROUP BY over the plan's
    changes), so a batch of a million changes costs one query. Rows: ERP side first, kinds in
    their order, the most touched fields first; ``label`` is the field's label."""
    if changes.empty:
        return pd.DataFrame({c: pd.Series(dtype=object if c in OVERWRITE_COLS[:4] else "int64")
                             for c in OVERWRITE_COLS})
    cur = con if con is not None else scratch()
    cur.register("plan_overwrites", changes[["side", "kind", "field", "before"]]
                 .astype({"before": object}))
    try:
        out = cur.execute(
            """WITH counted AS (
                   SELECT side, kind, field,
                          count(*) FILTER (WHERE nullif(trim(CAST(before AS VARCHAR)), '')
                                           IS NOT NULL) AS overwrite,
                          count(*) FILTER (WHERE nullif(trim(CAST(before AS VARCHAR)), '')
                                           IS NULL) AS fill
                   FROM plan_overwrites GROUP BY side, kind, field)
               SELECT * FROM counted
               ORDER BY side DESC, list_position(?::VARCHAR[], kind), overwrite DESC,
                        fill DESC, field""",
            [list(KINDS)]).df()
    finally:
        cur.unregister("plan_overwrites")
        if con is None:
            cur.close()
    out["label"] = [field_label(s, k, f) for s, k, f in  # one per field, not per row
                    zip(out["side"], out["kind"], out["field"], strict=True)]
    return out[OVERWRITE_COLS].astype({"overwrite": "int64", "fill": "int64"})


def overwrite_lines(counts: pd.DataFrame, *, done: bool = False) -> list[str]:
    """The counts of :func:`overwrite_counts` in plain words, one line per side and what
    happens, e.g. ``would overwrite in the ERP: companies — E-mail: 14, Phone: 3``."""
    lines = []
    for column, verb in (("overwrite", "overwrite"), ("fill", "fill empty fields")):
        for side in ("erp", "crm"):
            rows = counts[(counts["side"] == side) & (counts[column] > 0)]
            if rows.empty:
                continue
            groups = [f"{_KIND_WORDS.get(str(k), k)} — " + ", ".join(
                f"{label}: {n:,}" for label, n in zip(g["label"], g[column], strict=True))
                for k, g in rows.sort_values(column, ascending=False, kind="stable")
                .groupby("kind", sort=False)]
            head = (("overwrote" if verb == "overwrite" else "filled empty fields")
                    if done else f"would {verb}")
            lines.append(f"{head} in the {_SIDE_WORDS[side]}: " + "; ".join(groups))
    return lines


def _concat(frames: list[pd.DataFrame], cols: list[str]) -> pd.DataFrame:
    frames = [f for f in frames if len(f)]
    return pd.concat(frames, ignore_index=True)[cols] if frames else _frame(cols)


# --- writing a batch ---------------------------------------------------------------------------


@dataclass
class BatchResult:
    """A committed batch (or, as a dry run, the batch that would be committed)."""

    batch_id: int | None
    counts: dict[str, int]
    actions: pd.DataFrame
    left_out: pd.DataFrame
    dry_run: bool
    #: per side, kind and field: values replaced and empty fields filled
    #: (:func:`overwrite_counts`), for the whole batch
    overwrites: pd.DataFrame = field(default_factory=lambda: overwrite_counts(
        _frame(_CHANGE_COLS)))

    def summary(self) -> str:
        """One line of counts per action type, then what the batch overwrites (or would) on
        each side, per field: what the CLI prints and the Commit page shows."""
        if not self.dry_run and self.batch_id is None:
            return "nothing to commit" + (f"; {len(self.left_out)} decision(s) left out"
                                          if len(self.left_out) else "")
        head = "dry run: would queue" if self.dry_run else f"batch {self.batch_id}: queued"
        parts = ", ".join(f"{n} {a}" for a, n in self.counts.items() if n) or "nothing"
        tail = f"; {len(self.left_out)} decision(s) left out" if len(self.left_out) else ""
        return "\n".join([f"{head} {parts}{tail}",
                          *overwrite_lines(self.overwrites, done=not self.dry_run)])


_ACTION_COLS = ["batch_id", "kind", "action", "crm_id", "erp_actor_type", "erp_id", "payload",
                "idempotency_key", "status", "created_at"]


def _actions(cur: duckdb.DuckDBPyConnection, p: Plan, batch_id: int, now: datetime
             ) -> pd.DataFrame:
    """One queued action per link, per side with field changes (its fields' new and old
    values, in field order), per create and per unlink; built in DuckDB, not row by row."""
    parts = []
    if len(p.links):
        lm = p.links["last_modified"]
        parts.append(p.links.assign(action="link", payload=[
            json.dumps({"last_modified": None if pd.isna(x) else str(x)}) for x in lm]))
    if len(p.changes):
        cur.register("plan_changes", p.changes.astype({"before": object, "after": object})
                     .assign(_pos=np.arange(len(p.changes))))
        parts.append(cur.execute(
            """SELECT kind, 'update_' || side AS action, crm_id, erp_actor_type, erp_id,
                      json_object('fields', to_json(map_from_entries(
                                      list(struct_pack(k := field, v := after) ORDER BY field))),
                                  'before', to_json(map_from_entries(
                                      list(struct_pack(k := field, v := before) ORDER BY field)))
                                  )::VARCHAR AS payload
               FROM plan_changes GROUP BY ALL ORDER BY min(_pos)""").df())
        cur.unregister("plan_changes")
    if len(p.creates):
        parts.append(p.creates.assign(action="create_erp", erp_id=None, payload=[
            json.dumps(x, ensure_ascii=False) for x in p.creates["payload"]]))
    if len(p.unlinks):
        parts.append(p.unlinks.assign(action="unlink", payload="{}"))
    if not parts:
        return pd.DataFrame(columns=_ACTION_COLS)
    out = pd.concat([x[["kind", "action", "crm_id", "erp_actor_type", "erp_id", "payload"]]
                     for x in parts], ignore_index=True)
    out["idempotency_key"] = (f"{batch_id}:" + out["action"] + ":" + out["kind"] + ":"
                              + out["crm_id"].astype(str) + ":"
                              + out["erp_actor_type"].fillna("") + ":"
                              + out["erp_id"].fillna(""))
    return out.assign(batch_id=batch_id, status="queued", created_at=now)[_ACTION_COLS]


def _write_values(cur: duckdb.DuckDBPyConnection, changes: pd.DataFrame, column: str) -> None:
    """Set each changed field of each record to ``changes[column]`` in the workspace.

    The side, kind and field name the UPDATE's table and column: an undo reads them back from
    the audit, so each is checked against the schema here before it reaches the SQL."""
    for (kind, side, fld), g in changes.groupby(["kind", "side", "field"], sort=False):
        check_side_kind(side, kind)
        if fld not in {f.name for f in fields(side, kind)}:
            raise CommitError(f"cannot write {side.upper()} {kind} field {fld!r}: not a field "
                              "of the workspace (the audit of this batch is damaged)")
        cur.register("new_values", pd.DataFrame({
            "record_key": g["record_key"].astype(str), "value": g[column].astype(object)}))
        if side == "crm":
            match = "t.id = v.record_key"
        else:
            match = "t.actor_type || ':' || t.id = v.record_key"
        cur.execute(f"UPDATE {side}_{kind} t SET {sql_ident(fld)} = v.value FROM new_values v "  # noqa: S608 - side/kind by check_side_kind(), field from fields() via sql_ident
                    f"WHERE {match}")
        cur.unregister("new_values")


def _audit(cur: duckdb.DuckDBPyConnection, rows: pd.DataFrame) -> None:
    cur.register("new_audit", rows)
    cur.execute("INSERT INTO audit BY NAME SELECT * FROM new_audit")
    cur.unregister("new_audit")


def _audit_rows(p: Plan, batch_id: int, user: str, now: datetime, prefix: str = ""
                ) -> pd.DataFrame:
    """Audit of a plan: every field overwrite with its before value, every link and create."""
    ch = p.changes
    parts = [pd.DataFrame({
        "logged_at": now, "actor": user, "action": prefix + "update_" + ch["side"],
        "batch_id": batch_id, "kind": ch["kind"], "side": ch["side"],
        "record_id": np.where(ch["side"] == "crm", ch["crm_id"], ch["erp_id"]),
        "actor_type": np.where(ch["side"] == "crm", None, ch["erp_actor_type"]),
        "field": ch["field"], "before_value": ch["before"], "after_value": ch["after"]})]
    for frame, action in ((p.links, "link"), (p.unlinks, "unlink")):
        parts.append(pd.DataFrame({
            "logged_at": now, "actor": user, "action": prefix + action, "batch_id": batch_id,
            "kind": frame["kind"], "side": "both", "record_id": frame["crm_id"],
            "actor_type": frame["erp_actor_type"],
            "field": None, "before_value": None,
            "after_value": frame["erp_actor_type"] + ":" + frame["erp_id"]}))
    parts.append(pd.DataFrame({
        "logged_at": now, "actor": user, "action": prefix + "create_erp", "batch_id": batch_id,
        "kind": p.creates["kind"], "side": "erp", "record_id": p.creates["crm_id"],
        "actor_type": p.creates["erp_actor_type"], "field": None, "before_value": None,
        "after_value": [json.dumps(x, ensure_ascii=False) for x in p.creates["payload"]]}))
    return pd.concat([x for x in parts if len(x)] or parts[:1], ignore_index=True)


@guarded
def pending(ws: Workspace) -> dict[str, dict[str, int]]:
    """How many decisions wait to be committed, per kind: ``{"company": {"accept": n,
    "create": m}, ...}``. One count in SQL, so a page can show it on every run; the exact
    actions (and what is left out) come from :func:`commit` with ``dry_run=True``."""
    out = {k: {"accept": 0, "create": 0} for k in KINDS}
    for kind, decision, n in ws.cursor().execute(
            "SELECT kind, decision, count(*) FROM decisions WHERE superseded_by IS NULL "
            "AND batch_id IS NULL AND decision IN ('accept', 'create') GROUP BY ALL"
    ).fetchall():
        out[kind][decision] = int(n)
    return out


@guarded
def commit(ws: Workspace, kinds: tuple[str, ...] = KINDS, *, user: str | None = None,
           dry_run: bool = False, sample: int = 20, first: int | None = None,
           progress: Progress | None = None, cancel: threading.Event | None = None
           ) -> BatchResult:
    """Commit every accepted decision and create of ``kinds`` as one batch, in one transaction.

    ``dry_run``: the same batch, reported (counts per action type, a sample of the actions)
    and not written (a viewer may look); with ``first``, only the first ``first`` pending
    decisions of each kind are planned: a quick look at a large batch. ``cancel`` stops the
    work while it plans; once writing has begun it runs to the end (one transaction)."""
    cur = ws.cursor()
    report = reporter(progress, cancel, "the commit")
    if dry_run:
        p = plan(ws, kinds, cur, first=first, progress=report)
        report("done", 1.0)
        actions = _actions(cur, p, 0, datetime.now())
        return BatchResult(None, p.counts(), actions.head(sample), p.left_out, True,
                           p.overwrites(cur))
    if first is not None:
        raise CommitError("a commit takes the whole pending batch; 'first' is for dry runs")
    with ws.transaction(cur):
        who = require_for(ws, "commit", user, cur)
        p = plan(ws, kinds, cur, progress=lambda s, f: report(s, f * 0.7))
        report("writing the batch", 0.7)
        if not any(p.counts().values()):  # nothing to commit: no empty batch
            return BatchResult(None, p.counts(), _actions(cur, p, 0, datetime.now()),
                               p.left_out, False)
        batch_id, actions = _write(cur, p, who, "commit")
        decided = pd.concat([p.links["decision_id"], p.creates["decision_id"]]).astype("int64")
        cur.register("committed", pd.DataFrame({"decision_id": decided}))
        cur.execute("UPDATE decisions SET batch_id = ? WHERE decision_id IN "
                    "(SELECT decision_id FROM committed)", [batch_id])
        cur.unregister("committed")
        overwrites = p.overwrites(cur)
    if progress is not None:
        progress("done", 1.0)
    return BatchResult(batch_id, p.counts(), actions.head(sample), p.left_out, False,
                       overwrites)


def _write(cur: duckdb.DuckDBPyConnection, p: Plan, user: str, what: str
           ) -> tuple[int, pd.DataFrame]:
    """Write a plan as a new batch: links, workspace values, actions, audit."""
    now = datetime.now()
    (batch_id,) = cur.execute(
        "INSERT INTO batches (created_by, created_at, status, summary) "
        "VALUES (?, ?, 'committed', ?) RETURNING batch_id",
        [user, now, json.dumps({"what": what, **p.counts()})]).fetchone() or (0,)
    if len(p.unlinks):
        cur.register("gone_links", p.unlinks)
        cur.execute("DELETE FROM links l USING gone_links g WHERE l.kind = g.kind "
                    "AND l.crm_id = g.crm_id")
        cur.unregister("gone_links")
    if len(p.links):
        cur.register("new_links", p.links.assign(batch_id=batch_id, linked_by=user,
                                                 linked_at=now))
        cur.execute("INSERT INTO links (kind, crm_id, erp_actor_type, erp_id, batch_id, "
                    "linked_by, linked_at, last_modified) SELECT kind, crm_id, erp_actor_type, "
                    "erp_id, batch_id, linked_by, linked_at, last_modified FROM new_links")
        cur.unregister("new_links")
    _write_values(cur, p.changes, "after")
    states.refresh_frame(cur, pd.concat([x[["kind", "crm_id"]] for x in
                                         (p.links, p.unlinks, p.creates)]))
    actions = _actions(cur, p, batch_id, now)
    if len(actions):
        cur.register("new_actions", actions)
        cur.execute("INSERT INTO actions BY NAME SELECT * FROM new_actions")
        cur.unregister("new_actions")
    _audit(cur, _audit_rows(p, batch_id, user, now))
    return int(batch_id), actions


def write_changes(cur: duckdb.DuckDBPyConnection, changes: list[tuple[Any, ...]], user: str,
                  what: str) -> int:
    """Write field changes that are not a commit's (a sync carrying one side's change to the
    other, a steward settling a conflict) as a batch like any: workspace values, queued
    actions, audit, undo. ``changes``: rows of ``kind, side, record_key, crm_id,
    erp_actor_type, erp_id, field, before, after``. Call it inside a transaction."""
    plan = Plan(_frame(_LINK_COLS), pd.DataFrame(changes, columns=_CHANGE_COLS),
                _frame(_CREATE_COLS), _frame(_LEFT_COLS))
    batch_id, _ = _write(cur, plan, user, what)
    return batch_id


# --- undo and disconnect -------------------------------------------------------------------


@guarded
def undo(ws: Workspace, batch_id: int, *, user: str | None = None) -> dict[str, int]:
    """Restore exactly the state before batch ``batch_id``, in one transaction.

    Its links are removed (and the links it removed come back), the field values it overwrote
    in the workspace get their before values, its decisions are accepted-but-uncommitted again,
    its queued actions are cancelled, and actions that already ran get compensating actions
    (the before values back, an unlink for a link). Refused when a later batch changed the same
    records: undo that one first."""
    cur = ws.cursor()
    with ws.transaction(cur):
        who = require_for(ws, "undo", user, cur)
        row = cur.execute("SELECT status FROM batches WHERE batch_id = ?", [batch_id]).fetchone()
        if row is None:
            raise CommitError(f"no batch {batch_id} (see erpdata batches)")
        if row[0] != "committed":
            raise CommitError(f"batch {batch_id} is already undone")
        _check_not_overtaken(cur, batch_id)
        now = datetime.now()
        ran = cur.execute(
            "SELECT action, kind, crm_id, erp_actor_type, erp_id, payload FROM actions "
            "WHERE batch_id = ? AND status IN ('ok', 'warning', 'running')", [batch_id]).df()
        cur.execute("UPDATE actions SET status = 'cancelled', finished_at = ? "
                    "WHERE batch_id = ? AND status = 'queued'", [now, batch_id])
        changes = cur.execute(
            """SELECT kind, side, CASE WHEN side = 'crm' THEN record_id
                                     ELSE actor_type || ':' || record_id END AS record_key,
                      field, before_value AS before FROM audit
               WHERE batch_id = ? AND action IN ('update_crm', 'update_erp')""",
            [batch_id]).df()
        _write_values(cur, changes, "before")
        links = cur.execute("SELECT kind, side, record_id, actor_type, after_value, action "
                            "FROM audit WHERE batch_id = ? AND action IN ('link', 'unlink')",
                            [batch_id]).df()
        made = links[links["action"] == "link"]
        # every link the batch made: its accepted pairs, and the actors its creates made in
        # the ERP (linked by the sync; their compensating unlink is queued below)
        created = cur.execute("SELECT kind, crm_id FROM links WHERE batch_id = ? AND "
                              "linked_by = 'sync'", [batch_id]).df()
        cur.execute("DELETE FROM links WHERE batch_id = ?", [batch_id])
        restored = _restore_unlinked(cur, batch_id)
        states.refresh_frame(cur, pd.concat([links.rename(columns={"record_id": "crm_id"})[
            ["kind", "crm_id"]], created]))
        cur.execute("UPDATE decisions SET batch_id = NULL WHERE batch_id = ?", [batch_id])
        compensating = _compensate(cur, batch_id, ran, now)
        cur.execute("UPDATE batches SET status = 'undone', undone_by = ?, undone_at = ? "
                    "WHERE batch_id = ?", [who, now, batch_id])
        cur.execute("INSERT INTO audit (logged_at, actor, action, batch_id, detail) "
                    "VALUES (?, ?, 'undo', ?, ?)",
                    [now, who, batch_id, json.dumps({"fields": len(changes),
                                                     "links": len(made),
                                                     "relinked": restored,
                                                     "compensating": compensating})])
    return {"fields": len(changes), "links": len(made), "relinked": restored,
            "compensating": compensating}


def _check_not_overtaken(cur: duckdb.DuckDBPyConnection, batch_id: int) -> None:
    """A later committed batch that touched a record of this one must be undone first."""
    key = ("CASE WHEN {t}.side = 'erp' THEN 'erp:' || {t}.actor_type || ':' || {t}.record_id "
           "ELSE 'crm:' || {t}.record_id END")
    later = cur.execute(
        f"""SELECT DISTINCT b.batch_id FROM audit a JOIN audit x
              ON x.kind = a.kind AND {key.format(t='x')} = {key.format(t='a')}
             AND x.batch_id > a.batch_id
            JOIN batches b ON b.batch_id = x.batch_id AND b.status = 'committed'
            WHERE a.batch_id = ? AND a.record_id IS NOT NULL ORDER BY 1""",  # noqa: S608 - key a fixed CASE; batch_id bound as ?
        [batch_id]).fetchall()
    if later:
        ids = ", ".join(str(b) for (b,) in later)
        raise CommitError(f"batch(es) {ids} changed records of batch {batch_id} later: "
                          "undo those first")


def _restore_unlinked(cur: duckdb.DuckDBPyConnection, batch_id: int) -> int:
    """Links this batch removed (a disconnect) come back as they were."""
    rows = cur.execute(
        "SELECT detail FROM audit WHERE batch_id = ? AND action = 'unlink'", [batch_id]
    ).fetchall()
    for (detail,) in rows:
        link = json.loads(detail)
        cur.execute("INSERT INTO links (connection, kind, crm_id, erp_actor_type, erp_id, "
                    "batch_id, linked_by, linked_at, last_modified) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [link["connection"], link["kind"], link["crm_id"], link["erp_actor_type"],
                     link["erp_id"], link["batch_id"], link["linked_by"], link["linked_at"],
                     link["last_modified"]])
    return len(rows)


def _compensate(cur: duckdb.DuckDBPyConnection, batch_id: int, ran: pd.DataFrame,
                now: datetime) -> int:
    """Queue the reverse of every action of the batch that already ran in a live system."""
    reverse = {"update_crm": "update_crm", "update_erp": "update_erp", "link": "unlink",
               "unlink": "link", "create_erp": "unlink"}
    n = 0
    for r in ran.itertuples(index=False):
        payload = json.loads(r.payload) if r.payload else {}
        if r.action.startswith("update_"):
            payload = {"fields": payload.get("before", {}), "before": payload.get("fields", {})}
        cur.execute(
            "INSERT INTO actions (batch_id, kind, action, crm_id, erp_actor_type, erp_id, "
            "payload, idempotency_key, status, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, "
            "'queued', ?)",
            [batch_id, r.kind, reverse[r.action], r.crm_id, r.erp_actor_type, r.erp_id,
             json.dumps({**payload, "compensates": r.action}),
             f"undo:{batch_id}:{r.action}:{r.kind}:{r.crm_id}:{r.erp_actor_type}:{r.erp_id}",
             now])
        n += 1
    return n


@guarded
def disconnect(ws: Workspace, kind: str, crm_ids: list[str], *, user: str | None = None
               ) -> BatchResult:
    """Remove the links of these CRM records, as one batch: nothing is deleted in either
    system, the removal is audited (with the link as it was) and undone like any batch."""
    check_side_kind("crm", kind)
    cur = ws.cursor()
    with ws.transaction(cur):
        who = require_for(ws, "disconnect", user, cur)
        cur.register("wanted", pd.DataFrame({"crm_id": [str(x) for x in crm_ids]}))
        links = cur.execute("SELECT l.* FROM links l JOIN wanted w USING (crm_id) "
                            "WHERE l.kind = ?", [kind]).df()
        cur.unregister("wanted")
        unknown = sorted(set(map(str, crm_ids)) - set(links["crm_id"]))
        if unknown:
            raise CommitError(f"CRM {kind} {', '.join(map(repr, unknown))} has no link to "
                              "disconnect")
        unlinks = links.assign(decision_id=None)[_LINK_COLS]
        p = Plan(_frame(_LINK_COLS), _frame(_CHANGE_COLS), _frame(_CREATE_COLS),
                 _frame(_LEFT_COLS), unlinks)
        batch_id, actions = _write(cur, p, who, "disconnect")
        # the unlink audit rows carry the whole link, so that undo can put it back
        cur.register("gone", pd.DataFrame({
            "crm_id": links["crm_id"],
            "detail": [json.dumps(x, default=str) for x in links.to_dict("records")]}))
        cur.execute("UPDATE audit a SET detail = g.detail FROM gone g WHERE a.batch_id = ? "
                    "AND a.action = 'unlink' AND a.record_id = g.crm_id", [batch_id])
        cur.unregister("gone")
    return BatchResult(batch_id, p.counts(), actions, p.left_out, False)


@guarded
def batches(ws: Workspace) -> pd.DataFrame:
    """Every batch, newest first, with its counts and how many of its actions are queued."""
    return ws.cursor().execute(
        """SELECT b.batch_id, b.created_by, b.created_at, b.status, b.undone_by, b.undone_at,
                  b.summary, count(a.action_id) FILTER (WHERE a.status = 'queued') AS queued
           FROM batches b LEFT JOIN actions a USING (batch_id)
           GROUP BY ALL ORDER BY b.batch_id DESC""").df()


# --- what a batch does, in a steward's words -------------------------------------------------

#: ERP actor types that name themselves (a "customer" is plainly an ERP record); the others
#: (``person``, ``project``) are said with "ERP" before them, beside the CRM record they match.
_SELF_NAMED = ("customer", "supplier", "partner")
#: Field values shown of a new ERP record before "and N more".
_CREATE_FIELDS = 6
#: What made a batch, in words (``batches.summary->>'what'``).
BATCH_WHAT = {"commit": "commit", "sync": "changes a sync brought in",
              "resolve": "a conflict settled", "disconnect": "links removed"}


def _shown(value: Any) -> str:
    """A value as a steward reads it: ``(empty)`` for nothing, the text otherwise."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "(empty)"
    text = str(value).strip()
    return text or "(empty)"


def crm_words(kind: str, crm_id: Any, name: Any = None) -> str:
    """``CRM company 12 Nordisk Rør AS``: the record, its id and its name."""
    return " ".join(x for x in ("CRM", str(kind), str(crm_id), _named(name)) if x)


def erp_words(actor_type: Any, erp_id: Any, name: Any = None, *, side: bool = False) -> str:
    """``customer 100071 Nordisk Rør ASA`` (``ERP person 500177 Ingeborg Lien``); ``side``:
    always say "ERP" (``ERP customer 100071 …``), as an update does."""
    what = str(actor_type or "record")
    if side or what not in _SELF_NAMED:
        what = f"ERP {what}"
    return " ".join(x for x in (what, "" if erp_id is None else str(erp_id), _named(name)) if x)


def _named(name: Any) -> str:
    return "" if name is None or (isinstance(name, float) and np.isnan(name)) else str(name)


def _field_changes(side: str, kind: str, payload: dict[str, Any]) -> str:
    """``Phone: 22 33 44 55 → +47 22 33 44 55; E-mail: (empty) → post@x.no``, in field order."""
    after, before = payload.get("fields") or {}, payload.get("before") or {}
    return "; ".join(f"{field_label(side, kind, f)}: {_shown(before.get(f))} → {_shown(v)}"
                     for f, v in after.items())


def action_sentence(action: str, kind: str, crm_id: Any, erp_actor_type: Any, erp_id: Any,
                    payload: dict[str, Any] | str | None = None, *, crm_name: Any = None,
                    erp_name: Any = None) -> str:
    """One queued action as a sentence a steward reads, with field labels and names, e.g.
    ``link CRM company 12 Nordisk Rør AS → customer 100071 Nordisk Rør ASA`` or ``update ERP
    customer 100071 Nordisk Rør ASA — Phone: 22 33 44 55 → +47 22 33 44 55``.

    Why: the action's payload is JSON for the sync and for scripts; a steward checking a
    batch before committing it must read what it does, not decode it."""
    data = json.loads(payload) if isinstance(payload, str) and payload else (payload or {})
    crm = crm_words(kind, crm_id, crm_name)
    erp = erp_words(erp_actor_type, erp_id, erp_name)
    if action == "link":
        text = f"link {crm} → {erp}"
    elif action == "unlink":
        text = f"unlink {crm} from {erp}"
    elif action == "update_erp":
        text = (f"update {erp_words(erp_actor_type, erp_id, erp_name, side=True)} — "
                + _field_changes("erp", kind, data))
    elif action == "update_crm":
        text = f"update {crm} — " + _field_changes("crm", kind, data)
    elif action == "create_erp":
        values = [(f, v) for f, v in (data.get("fields") or {}).items() if _shown(v) != "(empty)"]
        shown = "; ".join(f"{field_label('erp', kind, f)}: {_shown(v)}"
                          for f, v in values[:_CREATE_FIELDS])
        more = (f"; and {len(values) - _CREATE_FIELDS} more field(s)"
                if len(values) > _CREATE_FIELDS else "")
        parent = data.get("parent") or {}
        under = (f", under {erp_words(parent.get('actor_type'), parent.get('erp_id'))}"
                 if parent else "")
        text = (f"create {erp_words(data.get('actor_type') or erp_actor_type, None, side=True)}"
                f" for {crm}{under}" + (f" — {shown}{more}" if shown else ""))
    else:
        text = f"{states.plain('action', action)} {crm} {erp}".strip()
    if data.get("compensates"):
        text += f" (undoing an earlier {states.plain('action', data['compensates'])})"
    return text


def record_names(cur: duckdb.DuckDBPyConnection, kind: str, crm_ids: Any = (),
                 erp_keys: Any = ()) -> tuple[dict[str, str], dict[tuple[str, str], str]]:
    """Display names of the CRM records ``crm_ids`` and the ERP records ``erp_keys``
    (``(actor_type, id)``) of ``kind``, looked up by the ids (the keys' indexes answer it:
    a page's fifty names, not a scan of a million records)."""
    check_side_kind("crm", kind)
    k: Kind = kind  # type: ignore[assignment]
    crm = sorted({str(i) for i in crm_ids if i is not None and not pd.isna(i)})
    erp = sorted({(str(a), str(i)) for a, i in erp_keys
                  if a is not None and i is not None and not pd.isna(i)})
    crm_names: dict[str, str] = {}
    erp_names: dict[tuple[str, str], str] = {}
    if crm:
        crm_names = {str(i): n for i, n in cur.execute(
            f"SELECT id, {display_name_sql(k, 't')} FROM crm_{k} t "  # noqa: S608 - kind checked by check_side_kind(); ids bound as ?
            f"WHERE id IN ({', '.join('?' * len(crm))})", crm).fetchall()}
    if erp:
        ids = sorted({i for _, i in erp})
        erp_names = {(str(a), str(i)): n for a, i, n in cur.execute(
            f"SELECT actor_type, id, {display_name_sql(k, 't')} FROM erp_{k} t "  # noqa: S608 - kind checked by check_side_kind(); ids bound as ?
            f"WHERE id IN ({', '.join('?' * len(ids))})", ids).fetchall()}
    return crm_names, erp_names


def describe_actions(ws: Workspace, actions: pd.DataFrame,
                     con: duckdb.DuckDBPyConnection | None = None) -> list[str]:
    """:func:`action_sentence` for each row of ``actions`` (``kind, action, crm_id,
    erp_actor_type, erp_id, payload``, as :class:`BatchResult` holds them), with both records'
    names looked up once per kind."""
    cur = con or ws.cursor()
    names = {str(kind): record_names(cur, str(kind), g["crm_id"],
                                     zip(g["erp_actor_type"], g["erp_id"], strict=True))
             for kind, g in actions.groupby("kind", sort=False)}
    out = []
    for r in actions.itertuples(index=False):
        crm, erp = names[str(r.kind)]
        out.append(action_sentence(
            str(r.action), str(r.kind), r.crm_id, r.erp_actor_type, r.erp_id, r.payload,
            crm_name=crm.get(str(r.crm_id)),
            erp_name=erp.get((str(r.erp_actor_type), str(r.erp_id)))))
    return out


def _counted(n: int, word: str) -> str:
    """``1 link``, ``2 links``, ``3 new ERP records``."""
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def counts_words(counts: dict[str, Any]) -> str:
    """Action counts in words: ``1,569 links, 1,252 CRM updates, 1,375 ERP updates`` (the
    action types with none left out; ``nothing`` when all are)."""
    return ", ".join(_counted(int(n), states.plain("action", a)) for a, n in counts.items()
                     if a in states.WORDS["action"] and n) or "nothing"


def batch_words(summary: str | dict[str, Any] | None) -> str:
    """A batch's stored summary (JSON) as a line: ``commit: 1,569 links, 1,252 CRM updates``."""
    data = json.loads(summary) if isinstance(summary, str) and summary else (summary or {})
    what = str(data.get("what", ""))
    return f"{BATCH_WHAT.get(what, what.replace('_', ' ')) or 'batch'}: {counts_words(data)}"


def summary_words(result: BatchResult) -> str:
    """:meth:`BatchResult.summary` in a steward's words (the CLI keeps the codes): ``Batch 3
    committed: 13 links, 2 ERP updates``, then what it overwrote per field, one line each."""
    left = (f"; {len(result.left_out):,} decision(s) cannot be committed yet"
            if len(result.left_out) else "")
    if not result.dry_run and result.batch_id is None:
        return "Nothing was committed" + left + "."
    head = ("Dry run: the batch would make" if result.dry_run
            else f"Batch {result.batch_id} committed:")
    return "\n".join([f"{head} {counts_words(result.counts)}{left}.",
                      *overwrite_lines(result.overwrites, done=not result.dry_run)])


def batches_in_words(ws: Workspace) -> pd.DataFrame:
    """:func:`batches` as a steward reads it: ``Batch, By, When, Status, What, Waiting to be
    sent, Undone by, Undone at`` with the summary as a line and the status in words."""
    b = batches(ws)
    return pd.DataFrame({
        "Batch": b["batch_id"], "By": b["created_by"], "When": b["created_at"],
        "Status": [states.plain("status", s) for s in b["status"]],
        "What": [batch_words(s) for s in b["summary"]],
        "Waiting to be sent": b["queued"], "Undone by": b["undone_by"],
        "Undone at": b["undone_at"]})


def left_out_in_words(ws: Workspace, left_out: pd.DataFrame) -> pd.DataFrame:
    """Decisions a batch leaves out (``kind, crm_id, erp, reason``) with names: ``CRM record,
    ERP record, Why``."""
    rows: list[tuple[str, str, str]] = []
    cur = ws.cursor()
    for kind, g in left_out.groupby("kind", sort=False):
        keys = [tuple(str(e).split(":", 1)) if ":" in str(e) else (None, None)
                for e in g["erp"]]
        crm, erp = record_names(cur, str(kind), g["crm_id"], keys)
        for r, key in zip(g.itertuples(index=False), keys, strict=True):
            target = (erp_words(key[0], key[1], erp.get(key)) if key[0] is not None  # type: ignore[arg-type]
                      else str(r.erp).replace("new ", "a new ERP ", 1))
            rows.append((crm_words(str(kind), r.crm_id, crm.get(str(r.crm_id))), target,
                         str(r.reason)))
    return pd.DataFrame(rows, columns=["CRM record", "ERP record", "Why"])


def conflicts_in_words(ws: Workspace, frame: pd.DataFrame) -> pd.DataFrame:
    """Sync conflicts (rows of ``sync_conflicts``) as a steward reads them: ``Conflict,
    Record, Field, Before, Ours, Theirs`` with the ERP record's name and the field's label."""
    cur = ws.cursor()
    records: list[str] = []
    labels: list[str] = []
    for r in frame.itertuples(index=False):
        _, erp = record_names(cur, str(r.kind), (), [(r.erp_actor_type, r.erp_id)])
        records.append(erp_words(r.erp_actor_type, r.erp_id,
                                 erp.get((str(r.erp_actor_type), str(r.erp_id))), side=True))
        labels.append(field_label("erp", str(r.kind), str(r.field)))
    return pd.DataFrame({"Conflict": frame["conflict_id"], "Record": records, "Field": labels,
                         "Before": frame["base_value"], "Ours": frame["ours"],
                         "Theirs": frame["theirs"]})
