"""Start from the links the CRM already holds: adopt them into the workspace.

Why: a tenant that has synced for years holds thousands of links made in SuperOffice's own
Connect dialog. A workspace that does not know them suggests those records again, and a steward
who accepts a suggestion for a linked record is refused only at commit (or, worse, the ERP
actor gets a second CRM record). So the links the CRM lists (:meth:`CrmConnector.links`) are
written into the workspace as links, each audited as adopted from that connection.

Adopting never overrules the workspace: a CRM record or ERP actor the workspace already links
otherwise, a record not loaded yet, an actor type the kind cannot have, a pair listed twice, or
a person whose ERP person hangs under another actor than its company's link (invariant 2 of
``erpdata check``) is left out and counted by reason, so the steward sees what was not taken
and why. All of one kind is one transaction.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

import pandas as pd

from erpdata.errors import ErpdataError
from erpdata.live.connectors.base import CrmConnector
from erpdata.live.sync import with_retries
from erpdata.roles import guarded, require_for
from erpdata.schema import ACTOR_TYPES, KINDS
from erpdata.sql import sql_text
from erpdata.steward.states import refresh
from erpdata.workspace import Workspace

#: Why a listed link was not adopted, in the steward's words.
LEFT_OUT: dict[str, str] = {
    "not_loaded": "the CRM record is not in the workspace (pull or load the CRM first)",
    "wrong_type": "linked to an actor type this kind cannot have",
    "listed_twice": "the CRM lists the record or the ERP actor more than once",
    "linked_otherwise": "the workspace links the CRM record to another ERP actor",
    "erp_taken": "the workspace links that ERP actor to another CRM record",
    "parent": "the ERP person hangs under another actor than its company's link",
}


@dataclass(frozen=True)
class AdoptedLinks:
    """What adopting one kind's links did: ``adopted`` new links, ``unchanged`` ones the
    workspace held already, and the CRM ids ``left_out`` per reason (keys of
    :data:`LEFT_OUT`). ``erp_not_loaded``: adopted links whose ERP record is not in the
    workspace yet (a pull of the ERP brings it)."""

    kind: str
    listed: int
    adopted: int
    unchanged: int
    left_out: dict[str, list[str]] = field(default_factory=dict)
    erp_not_loaded: int = 0

    def summary(self) -> str:
        """One line for the command line and the page."""
        parts = [f"{self.kind}: the CRM lists {self.listed} link(s): {self.adopted} adopted, "
                 f"{self.unchanged} already in the workspace"]
        parts += [f"{len(ids)} left out: {LEFT_OUT[why]}" for why, ids in self.left_out.items()]
        if self.erp_not_loaded:
            parts.append(f"{self.erp_not_loaded} adopted link(s) name ERP records not loaded "
                         "yet (pull the ERP)")
        return "; ".join(parts)


def _outcomes_sql(kind: str) -> str:
    """Each listed link (registered as ``held``) with its outcome: ``new``, ``unchanged`` or a
    key of :data:`LEFT_OUT`, checked in that table's order."""
    types = ", ".join(sql_text(t) for t in ACTOR_TYPES[kind])
    parent = ""
    if kind == "person":
        # as erpdata check's invariant 2: a loaded ERP person with a parent must hang under
        # the actor its CRM person's company is linked to (adopted companies included)
        parent = """
          WHEN ep.parent_key IS NOT NULL AND (cl.crm_id IS NULL
               OR ep.parent_actor_type <> cl.erp_actor_type OR ep.parent_key <> cl.erp_id)
            THEN 'parent'"""
    joins = ""
    if kind == "person":
        joins = """
        LEFT JOIN erp_person ep ON ep.actor_type = h.erp_actor_type AND ep.id = h.erp_id
        LEFT JOIN links cl ON cl.connection = 'default' AND cl.kind = 'company'
             AND cl.crm_id = c.company_id"""
    return f"""
        SELECT h.crm_id, h.erp_actor_type, h.erp_id,
          CASE
          WHEN c.id IS NULL THEN 'not_loaded'
          WHEN h.erp_actor_type NOT IN ({types}) THEN 'wrong_type'
          WHEN count(*) OVER (PARTITION BY h.crm_id) > 1
               OR count(*) OVER (PARTITION BY h.erp_actor_type, h.erp_id) > 1
            THEN 'listed_twice'
          WHEN l.crm_id IS NOT NULL AND l.erp_actor_type = h.erp_actor_type
               AND l.erp_id = h.erp_id THEN 'unchanged'
          WHEN l.crm_id IS NOT NULL THEN 'linked_otherwise'
          WHEN t.crm_id IS NOT NULL THEN 'erp_taken'{parent}
          ELSE 'new' END AS outcome,
          e.id IS NULL AS erp_not_loaded
        FROM held h
        LEFT JOIN crm_{kind} c ON c.id = h.crm_id
        LEFT JOIN erp_{kind} e ON e.actor_type = h.erp_actor_type AND e.id = h.erp_id
        LEFT JOIN links l ON l.connection = 'default' AND l.kind = '{kind}'
             AND l.crm_id = h.crm_id
        LEFT JOIN links t ON t.connection = 'default' AND t.erp_actor_type = h.erp_actor_type
             AND t.erp_id = h.erp_id{joins}
        ORDER BY h.crm_id"""  # noqa: S608 - kind checked against KINDS; types via sql_text


@guarded
def adopt_links(ws: Workspace, connection: str, system: CrmConnector, kind: str, *,
                user: str | None = None) -> AdoptedLinks:
    """Write the links of ``kind`` that ``system`` (the CRM of ``connection``) holds into the
    workspace, as links adopted from it; see the module's docstring for what is left out.
    Adopt companies before persons: a person's link is checked against its company's."""
    if kind not in KINDS:
        raise ErpdataError(f"unknown kind {kind!r}: use one of {', '.join(KINDS)}")
    held = with_retries(lambda: system.links(kind)).unwrap() or []
    frame = pd.DataFrame({"crm_id": [str(x.crm_id) for x in held],
                          "erp_actor_type": [str(x.erp_actor_type) for x in held],
                          "erp_id": [str(x.erp_key) for x in held]}, dtype=object)
    cur = ws.cursor()
    now = datetime.now()
    with ws.transaction(cur):
        who = require_for(ws, "adopt_links", user, cur)
        cur.register("held", frame)
        try:
            found = cur.execute(_outcomes_sql(kind)).df()
        finally:
            cur.unregister("held")
        new = found[found["outcome"] == "new"]
        if len(new):
            cur.register("adopted", new)
            cur.execute(
                "INSERT INTO links (kind, crm_id, erp_actor_type, erp_id, linked_by, linked_at) "
                "SELECT ?, crm_id, erp_actor_type, erp_id, ?, ? FROM adopted", [kind, who, now])
            cur.execute(
                "INSERT INTO audit (logged_at, actor, action, kind, side, record_id, actor_type, "
                "after_value, detail) SELECT ?, ?, 'link', ?, 'crm', crm_id, erp_actor_type, "
                "erp_id, ? FROM adopted",
                [now, who, kind, json.dumps({"adopted_from": connection})])
            cur.unregister("adopted")
            refresh(cur, kind, new["crm_id"].tolist())
    left_out = {why: found.loc[found["outcome"] == why, "crm_id"].tolist()
                for why in LEFT_OUT if (found["outcome"] == why).any()}
    return AdoptedLinks(kind, len(frame), len(new), int((found["outcome"] == "unchanged").sum()),
                        left_out, int(new["erp_not_loaded"].sum()))


def adopt_every_kind(ws: Workspace, connection: str, system: CrmConnector, *,
                     user: str | None = None) -> list[AdoptedLinks]:
    """:func:`adopt_links` for companies, then persons, then projects (a person's link is
    checked against its company's, so companies come first); the command line's
    ``connect links NAME`` and the Load page's "Adopt its links"."""
    return [adopt_links(ws, connection, system, kind, user=user) for kind in KINDS]
