"""Connect: SuperOffice's "Connect to ERP" dialog for one CRM record.

Search the ERP (the record's name first; an empty search lists every ERP record of the kind),
narrow it with advanced criteria, and connect to a hit; or, when nothing matches, create a new
ERP actor from the mapped values and the default fields. Both are decisions, committed on the
Commit page.
"""

from __future__ import annotations

import streamlit as st

import workbench_ui as ui
from erpdata import ACTOR_TYPES, KINDS, ErpdataError, current_decision, decide, mappings
from erpdata.connections import connections
from erpdata.search import OPERATORS, crm_record, parent_of, search_erp, search_live
from erpdata.sync import fetch

PAGE_SIZE = 25

ws = ui.workspace()
name, _ = ui.user()

st.title("Connect")
st.caption("One CRM record at a time: search the ERP, connect to a hit, or create it there.")
if "connect_done" in st.session_state:
    st.success(st.session_state.pop("connect_done"))

c1, c2 = st.columns([1, 2])
kind = c1.segmented_control("Kind", KINDS, default="company", key="connect_kind",
                            format_func=lambda k: ui.KIND_LABELS[k]) or "company"
crm_id = c2.text_input("CRM record id", key="connect_crm").strip()
if not crm_id:
    st.info("Give the id of the CRM record to connect (the Review and Reports pages show them).")
    st.stop()
record = crm_record(ws, kind, crm_id)
if record is None:
    st.error(f"There is no CRM {kind} {crm_id!r} in the workspace.")
    st.stop()
st.subheader(str(record["display_name"]))
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
                     help="Every word must appear; empty lists every ERP record.")
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
if st.session_state.get("connect_signature") != signature:  # a new search starts on page 1
    st.session_state["connect_signature"] = signature
    st.session_state["connect_keys"] = [None]
keys: list = st.session_state["connect_keys"]
try:
    if source == "workspace":
        hits = search_erp(ws, kind, text, criteria=criteria,
                          parent=parent if only_parent else None, after=keys[-1],
                          size=PAGE_SIZE)
    else:  # a failed call is an error on the page, never an empty list of hits
        system = ui.live_system(source)
        hits = search_live(system, live_type, text, criteria=criteria,
                           parent=parent if only_parent else None, offset=keys[-1] or 0,
                           size=PAGE_SIZE)
except ErpdataError as exc:
    st.error(str(exc))
    st.stop()
st.dataframe(hits.rows, hide_index=True, width="stretch")
ui.pager(keys, hits.next_key, "connect")

if len(hits.rows):
    names = dict(zip(hits.rows["erp"], hits.rows["name"], strict=True))
    chosen = st.selectbox("Hit", list(names), key="connect_hit",
                          format_func=lambda e: f"{e} · {names[e]}")
    if st.button("Connect", type="primary", key="connect_go"):
        try:
            if source != "workspace":  # the hit comes into the workspace first
                actor_type, erp_key = chosen.split(":", 1)
                fetch(ws, source, ui.live_system(source), actor_type, [erp_key], user=name)
            _decide("accept", erp=chosen, note="connect dialog")
        except ErpdataError as exc:
            st.error(str(exc))
        else:
            st.session_state["connect_done"] = (f"{crm_id} ↔ {chosen} accepted; commit it on "
                                                "the Commit page.")
            st.rerun()

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
            st.session_state["connect_done"] = (f"{crm_id}: a new {actor} will be created in "
                                                "the ERP when the batch is committed.")
            st.rerun()
