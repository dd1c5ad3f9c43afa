"""Connect: SuperOffice's "Connect to ERP" dialog for one CRM record.

Find the CRM record by name and pick it from the list; search the ERP (the record's name
first; an empty search lists every ERP record of the kind), narrow it with advanced criteria,
and pick the hit to connect to; or, when nothing matches, create a new ERP actor from the
mapped values and the default fields. Both searches are ranked as the matcher compares names
(``erpdata.steward.search.search``), each hit with its city, org number and what it is already
linked to; no id is ever typed. Both outcomes are decisions, committed on the Commit page.
"""

from __future__ import annotations

import streamlit as st

from erpdata import ACTOR_TYPES, KINDS, ErpdataError, current_decision, decide, mappings
from erpdata.live.connections import connections
from erpdata.live.sync import fetch
from erpdata.steward.search import (
    OPERATORS,
    crm_record,
    described,
    details,
    linked_label,
    parent_of,
    search,
    search_live,
)
from pages.shared import ui

PAGE_SIZE = 25

ws = ui.workspace()
name, _ = ui.user()

st.title("Connect")
st.caption("One CRM record at a time: search the ERP, connect to a hit, or create it there.")
if "connect_done" in st.session_state:
    st.success(st.session_state.pop("connect_done"))

kind = st.segmented_control("Kind", KINDS, default="company", key="connect_kind",
                            format_func=lambda k: ui.KIND_LABELS[k]) or "company"


def _caption(row: dict[str, object], side: str) -> str:
    """What tells one hit from another, in plain words: type and number, company, city, org
    number, its link, and how well it matched."""
    what = (f"{row['actor_type']} {row['id']}" if side == "erp" else f"CRM {kind} {row['id']}")
    parts = [what, row.get("company"), row.get("city"),
             f"org no {row['org_number']}" if row.get("org_number") else None,
             linked_label(row.get("linked_to"))]
    if row.get("match"):
        parts.append(f"{row['match']} match, score {row['score']:.0f}")
    return " · ".join(str(p) for p in parts if p)


def _hit_list(hits_rows: list[dict[str, object]], side: str, label: str, key: str,
              index: int | None) -> str | None:
    """A radio of the hits (name as the label, the rest as its caption): the steward picks
    one; returns its key."""
    by_key = {str(r["key"]): r for r in hits_rows}
    return st.radio(label, list(by_key), index=index, key=key,
                    format_func=lambda k: str(by_key[k]["name"] or "(no name)"),
                    captions=[_caption(r, side) for r in hits_rows])


def _paged(prefix: str, signature: object) -> list:
    """The start offsets of the pages seen of one search; a new search starts on page 1."""
    if st.session_state.get(f"{prefix}_signature") != signature:
        st.session_state[f"{prefix}_signature"] = signature
        st.session_state[f"{prefix}_keys"] = [None]
    return st.session_state[f"{prefix}_keys"]


# --- step 1: the CRM record, found by name and picked from the list ---------------------------
chosen_key = f"connect_crm_{kind}"
crm_id = st.session_state.get(chosen_key)
record = crm_record(ws, kind, crm_id) if crm_id else None
if record is None:
    st.session_state.pop(chosen_key, None)
    find = st.text_input(f"Find the CRM {kind}", key=f"connect_find_{kind}",
                         placeholder="a name, number or org number; empty lists every record",
                         help="Ranked as matching compares names: legal forms (AS, A/S, AB) "
                              "and accents (ø, å, ö) do not matter.")
    keys = _paged("connect_crm_page", (kind, find))
    crm_hits = search(ws, find, side="crm", kind=kind, offset=keys[-1] or 0, size=PAGE_SIZE)
    if not crm_hits.total:
        st.info(f"No CRM {kind} matches {find!r}. Try fewer or other words.")
        st.stop()
    picked = _hit_list(crm_hits.rows.to_dict("records"), "crm",
                       f"CRM {kind} to connect ({crm_hits.total:,} found)",
                       f"connect_crm_pick_{kind}", None)
    ui.pager(keys, crm_hits.next_key, "connect_crm")
    if picked is None:
        st.info(f"Pick the CRM {kind} to connect.")
        st.stop()
    st.session_state[chosen_key] = picked
    st.session_state.pop(f"connect_crm_pick_{kind}", None)
    st.rerun()

crm_id = str(crm_id)
h1, h2 = st.columns([4, 1], vertical_alignment="bottom")
h1.subheader(str(record["display_name"]))
if h2.button("Choose another record", key="connect_other"):
    st.session_state.pop(chosen_key, None)
    st.rerun()
own = details(ws, "crm", kind, [crm_id])
if len(own):
    st.caption(_caption(own.iloc[0].to_dict(), "crm"))
# The record's decision as this steward first saw it: a colleague's decision taken since is
# not overruled by a click here (decide refuses it, saying who decided what).
seen_key = f"connect_seen_{kind}_{crm_id}"
if seen_key not in st.session_state:
    st.session_state[seen_key] = current_decision(ws, kind, crm_id)


def _decide(decision: str, **kwargs: object) -> None:
    """Take ``decision`` on the record as the steward saw it; on a refusal, show the record
    as it is now."""
    try:
        st.session_state[seen_key] = decide(ws, kind, decision, crm_id, user=name,
                                            seen=st.session_state[seen_key], **kwargs)
    except ErpdataError:
        st.session_state.pop(seen_key, None)
        raise


# --- search: simple text first, then criteria --------------------------------------------------
parent = parent_of(ws, kind, crm_id)
only_parent = False
if kind != "company":
    only_parent = st.toggle(f"Only under the company's ERP actor ({parent or 'not linked'})",
                            value=parent is not None, disabled=parent is None,
                            key="connect_parent")
text = st.text_input("Search the ERP", value=str(record["display_name"] or ""),
                     key=f"connect_text_{kind}_{crm_id}",
                     help="Ranked as matching compares names (legal forms and accents do not "
                          "matter); a number or org number finds its record; empty lists "
                          "every ERP record.")
criteria: list = st.session_state.setdefault(f"connect_criteria_{kind}", [])
with st.expander("Advanced search"):
    a1, a2, a3, a4 = st.columns([2, 2, 3, 1], vertical_alignment="bottom")
    fld = a1.selectbox("Field", [m.erp_field for m in mappings(ws, kind)], key="crit_field")
    op = a2.selectbox("Operator", list(OPERATORS), key="crit_op")
    value = a3.text_input("Value (between: two values separated by ';')", key="crit_value")
    if a4.button("Add", key="crit_add") and value:
        criteria.append((fld, op, [v.strip() for v in value.split(";")] if op == "between"
                         else [value]))
    for i, (f, o, v) in enumerate(list(criteria)):
        if st.button(f"✕ {f} {o} {' and '.join(v)}", key=f"crit_del_{i}"):
            criteria.pop(i)
            st.rerun()

# Where to search: the workspace's copy of the ERP, or the live ERP of a connection.
live = [c.name for c in connections(ws) if c.side == "erp"]
source = "workspace"
if live:
    s1, s2 = st.columns([2, 1])
    source = s1.radio("Search in", ["workspace", *live], horizontal=True, key="connect_source",
                      format_func=lambda s: "the workspace" if s == "workspace"
                      else f"{s} (live)")
    live_type = s2.selectbox("Actor type", ACTOR_TYPES[kind], key="connect_live_type",
                             disabled=source == "workspace")

signature = (kind, crm_id, text, tuple((f, o, tuple(v)) for f, o, v in criteria), only_parent,
             source)
keys = _paged("connect", signature)
try:
    if source == "workspace":
        hits = search(ws, text, kind=kind, criteria=criteria,
                      parent=parent if only_parent else None, offset=keys[-1] or 0,
                      size=PAGE_SIZE)
    else:  # a failed call is an error on the page, never an empty list of hits
        system = ui.live_system(source)
        hits = described(ws, kind, search_live(system, live_type, text, criteria=criteria,
                                               parent=parent if only_parent else None,
                                               offset=keys[-1] or 0, size=PAGE_SIZE))
except ErpdataError as exc:
    st.error(str(exc))
    st.stop()

if len(hits.rows):
    found = f"{hits.total:,} found" if hits.total is not None else "this page"
    rows = hits.rows.to_dict("records")
    chosen = _hit_list(rows, "erp", f"ERP record to connect to ({found}; the best first)",
                       "connect_hit", 0)
    ui.pager(keys, hits.next_key, "connect")
    hit = next((r for r in rows if r["key"] == chosen), rows[0])
    chosen = str(hit["key"])
    if hit["linked_to"]:
        st.warning(f"{hit['name']} is already linked to {hit['linked_to']}: a second link is "
                   "refused. If that CRM record is a duplicate of this one, decide on it first.")
    if st.button(f"Connect to {hit['name']}", type="primary", key="connect_go"):
        try:
            if source != "workspace":  # the hit comes into the workspace first
                actor_type, erp_key = chosen.split(":", 1)
                fetch(ws, source, ui.live_system(source), actor_type, [erp_key], user=name)
            _decide("accept", erp=chosen, note="connect dialog")
        except ErpdataError as exc:
            st.error(str(exc))
        else:
            st.session_state["connect_done"] = (
                f"{record['display_name']} (CRM {crm_id}) ↔ {hit['name']} ({hit['actor_type']} "
                f"{hit['id']}) accepted; commit it on the Commit page.")
            st.rerun()
else:
    st.info("No ERP record matches. Try fewer or other words, an empty search to list every "
            "record, or create it in the ERP below.")
    ui.pager(keys, hits.next_key, "connect")

# --- no match: create in the ERP ------------------------------------------------------------------
with st.expander("Can't find a match: create it in the ERP"):
    types = ACTOR_TYPES[kind][:2] if kind == "company" else ACTOR_TYPES[kind]
    actor = st.selectbox("As", types, key="create_actor")
    asked = {}
    for m in mappings(ws, kind):
        if m.ask_user:
            label = m.erp_field + (" (mandatory)" if m.default_mandatory or m.mandatory else "")
            asked[m.erp_field] = st.text_input(label, value=m.default_value or "",
                                               key=f"ask_{kind}_{m.erp_field}")
    if st.button("Create in ERP", key="create_go"):
        try:
            _decide("create", actor_type=actor,
                    create_values={k: v for k, v in asked.items() if v.strip()})
        except ErpdataError as exc:
            st.error(str(exc))
        else:
            st.session_state["connect_done"] = (f"{record['display_name']} (CRM {crm_id}): a "
                                                f"new {actor} will be created in the ERP when "
                                                "the batch is committed.")
            st.rerun()
