"""Search the ERP records of one kind, as SuperOffice's Connect dialog does.

A simple search matches text against the fields the mapping marks "show in search" (every word
must appear, case-insensitive); an empty text lists every ERP record of the kind. An advanced
search takes criteria ``(field, operator, values)`` with the operators of SuperOffice's
``SearchRestrictionInfo`` for strings (``=``, ``begins``, ``contains``, ``ends``,
``notbegins``, ``notcontains``, ``notends``, ``isnot``, ``between``). Persons can be limited to
one parent actor (``SearchActorByParent``). Results are paged by key, so the millionth page
costs what the first does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from erpdata.connectors.base import Connector, Restriction
from erpdata.errors import ErpdataError
from erpdata.schema import Kind, check_side_kind, display_name_sql, field_names
from erpdata.settings import mappings
from erpdata.workspace import Workspace

#: Operator -> SQL over a lower-cased column ``{c}`` and lower-cased values ``?``.
OPERATORS: dict[str, str] = {
    "=": "{c} = ?", "isnot": "{c} IS DISTINCT FROM ?", "begins": "starts_with({c}, ?)",
    "contains": "contains({c}, ?)", "ends": "ends_with({c}, ?)",
    "notbegins": "NOT coalesce(starts_with({c}, ?), false)",
    "notcontains": "NOT coalesce(contains({c}, ?), false)",
    "notends": "NOT coalesce(ends_with({c}, ?), false)", "between": "{c} BETWEEN ? AND ?",
}


class SearchError(ErpdataError):
    """A search that cannot be run as asked; says why."""


@dataclass
class Hits:
    """One page of search results and the key of the next page (None: the last page)."""

    rows: pd.DataFrame
    next_key: tuple[str, str] | int | None  # a key in the workspace, an offset in a live ERP


def search_erp(ws: Workspace, kind: str, text: str = "", *,
               criteria: Sequence[tuple[str, str, Sequence[str]]] = (),
               parent: str | None = None, after: tuple[str, str] | None = None,
               size: int = 50) -> Hits:
    """ERP records of ``kind`` matching ``text`` and every criterion, by (actor type, id).

    ``parent``: ``actor_type:id`` of the actor persons or projects must hang under."""
    check_side_kind("erp", kind)
    k: Kind = kind  # type: ignore[assignment]
    known = set(field_names("erp", k))
    searchable = [m.erp_field for m in mappings(ws, k) if m.show_in_search] or ["name"]
    shown = [f for f in searchable if f in known]
    where, params = ["e.missing_since IS NULL"], []
    haystack = " || ' ' || ".join(f"coalesce(lower(e.{f}), '')" for f in shown) or "''"
    for word in text.lower().split():
        where.append(f"contains({haystack} || ' ' || lower(e.id), ?)")
        params.append(word)
    for fld, op, values in criteria:
        if fld not in known:
            raise SearchError(f"{fld!r} is not an ERP {kind} field")
        if op not in OPERATORS:
            raise SearchError(f"unknown operator {op!r}: use one of {', '.join(OPERATORS)}")
        wanted = 2 if op == "between" else 1
        if len(values) != wanted:
            raise SearchError(f"{op} takes {wanted} value(s), not {len(values)}")
        where.append(OPERATORS[op].format(c=f"lower(e.{fld})"))
        params += [str(v).lower() for v in values]
    if parent is not None:
        if kind == "company":
            raise SearchError("only persons and projects hang under a parent actor")
        p_type, _, p_id = parent.partition(":")
        where.append("e.parent_actor_type = ? AND e.parent_key = ?")
        params += [p_type, p_id]
    if after is not None:
        where.append("(e.actor_type, e.id) > (?, ?)")
        params += list(after)
    columns = ", ".join(f"e.{f}" for f in shown if f != "name")
    sql = f"""SELECT e.actor_type || ':' || e.id AS erp, {display_name_sql(k, 'e')} AS name
                     {', ' + columns if columns else ''}, e.actor_type, e.id
              FROM erp_{kind} e WHERE {' AND '.join(where)}
              ORDER BY e.actor_type, e.id LIMIT {int(size) + 1}"""
    rows = ws.cursor().execute(sql, params).df()
    more = len(rows) > size
    rows = rows.head(size)
    key = (str(rows["actor_type"].iloc[-1]), str(rows["id"].iloc[-1])) if more else None
    return Hits(rows.drop(columns=["actor_type", "id"]), key)


def parent_of(ws: Workspace, kind: str, crm_id: str) -> str | None:
    """The ERP actor (``actor_type:id``) a person's or project's CRM company is linked to."""
    if kind == "company":
        return None
    row = ws.cursor().execute(
        f"""SELECT l.erp_actor_type || ':' || l.erp_id FROM crm_{kind} c
            JOIN links l ON l.kind = 'company' AND l.crm_id = c.company_id
            WHERE c.id = ?""", [crm_id]).fetchone()
    return row[0] if row else None



def crm_record(ws: Workspace, kind: str, crm_id: str) -> dict[str, object] | None:
    """One present CRM record as a dict (with ``display_name``), or None."""
    check_side_kind("crm", kind)
    k: Kind = kind  # type: ignore[assignment]
    rows = ws.cursor().execute(
        f"SELECT *, {display_name_sql(k, 'c')} AS display_name FROM crm_{kind} c "
        "WHERE id = ? AND missing_since IS NULL", [crm_id]).df()
    return None if rows.empty else rows.iloc[0].to_dict()


def search_live(system: Connector, actor_type: str, text: str = "", *,
                criteria: Sequence[tuple[str, str, Sequence[str]]] = (),
                parent: str | None = None, offset: int = 0, size: int = 50) -> Hits:
    """The same search, asked of the live ERP (the Connect dialog against the system itself):
    ``next_key`` is the offset of the next page. A failed call raises
    :class:`~erpdata.connectors.base.ConnectorError` with the system's explanations; it never
    comes back as an empty page."""
    if criteria:
        restrictions = [Restriction(f, op, tuple(str(v) for v in values))
                        for f, op, values in criteria]
        if text.strip():
            restrictions.append(Restriction("name", "contains", (text.strip(),)))
        if parent is not None:
            p_type, _, p_id = parent.partition(":")
            restrictions += [Restriction("parent_actor_type", "=", (p_type,)),
                             Restriction("parent_erp_key", "=", (p_id,))]
        answer = system.search_advanced(actor_type, restrictions, offset=offset, limit=size)
    elif parent is not None:
        p_type, _, p_id = parent.partition(":")
        answer = system.search_by_parent(actor_type, text, p_type, p_id, offset=offset,
                                         limit=size)
    else:
        answer = system.search(actor_type, text, offset=offset, limit=size)
    page = answer.unwrap()
    rows = pd.DataFrame([{"erp": f"{a.actor_type}:{a.erp_key}",
                          "name": " ".join(v for v in (a.fields.get("name"),
                                                       a.fields.get("firstname"),
                                                       a.fields.get("lastname")) if v),
                          **{k: v for k, v in a.fields.items() if v is not None}}
                         for a in page.items])
    if rows.empty:
        rows = pd.DataFrame(columns=["erp", "name"])
    return Hits(rows, offset + size if page.more else None)
