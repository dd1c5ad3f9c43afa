"""Review: one suggested link at a time, field by field, with the reasons for its score.

The steward's place is a CRM record id kept in the session; every decision and pick is written
to the workspace at once, so a reload loses nothing but the place in the queue.
"""

from __future__ import annotations

import json

import pandas as pd
import streamlit as st

import workbench_ui as ui
from erpdata import (
    KINDS,
    ErpdataError,
    Filter,
    current_decision,
    decide,
    diff,
    pick,
    queue_page,
    suggestions,
    withdraw,
)

ws = ui.workspace()
name, _ = ui.user()

st.title("Review")
kind = st.segmented_control("Kind", KINDS, default="company", key="review_kind",
                            format_func=lambda k: ui.KIND_LABELS[k]) or "company"
band = st.selectbox("Band", ["review", "auto", "low", "any"], key="review_band",
                    help="Which suggested links to go through; undecided ones only.")
flt = Filter(kind=kind, band=None if band == "any" else band)

# --- the steward's place: a CRM record id, and the ones already seen (for "previous") ---------
history: list[tuple[float, str]] = st.session_state.setdefault("review_history", [])
if st.session_state.get("review_filter") != flt:
    st.session_state["review_filter"] = flt
    history.clear()
after = history[-1] if history else None
current = queue_page(ws, flt, state="undecided", after=after, size=1).rows
if current.empty and after is not None:  # the end of the queue: stay on the last one seen
    current = queue_page(ws, flt, state="undecided", size=1).rows
if current.empty:
    st.info("Nothing left to review for these filters. Run matching on the Match page, or "
            "choose another band.")
    st.stop()
row = current.iloc[0]
crm_id, erp = str(row["crm_id"]), str(row["erp"])
key = (float(row["probability"]), crm_id)
seen = current_decision(ws, kind, crm_id)  # a colleague's decision after this is not overruled

st.subheader(f"{row['crm_name']}  ↔  {row['erp_name']}")
st.caption(f"CRM {kind} {crm_id} · ERP {erp} · probability {row['probability']:.3f} · "
           f"band {row['band']}" + (" · **conflict**" if row["conflict"] else ""))


#: Decisions taken on this page, newest last, for "Undo last": (decision id, what it was).
taken: list[tuple[int, str]] = st.session_state.setdefault("review_taken", [])


def _go(decision: str | None) -> None:
    """Record ``decision`` (if any) on the shown pair, then move on."""
    try:
        if decision is not None:  # the workspace as of now (a callback outlives its run)
            made = decide(ui.workspace(), kind, decision, crm_id, erp, user=name,
                          seen=seen)
            taken.append((made, f"{decision} of {crm_id} ↔ {erp}"))
            st.session_state["review_done"] = f"{decision.capitalize()}: {crm_id} ↔ {erp}"
        else:
            history.append(key)
    except ErpdataError as exc:
        st.session_state["review_error"] = str(exc)


def _undo_last() -> None:
    """Take back the newest decision of this page: its pair is undecided again and, being
    just after the steward's place, is shown next."""
    made, what = taken.pop()
    try:
        withdraw(ui.workspace(), made, user=name)
        st.session_state["review_done"] = f"Undone: {what}"
    except ErpdataError as exc:
        st.session_state["review_error"] = str(exc)


b = st.columns(6)
b[0].button("Accept", type="primary", key="review_accept", shortcut="a",
            on_click=_go, args=("accept",), help="Shortcut: A")
b[1].button("Reject", key="review_reject", shortcut="x", on_click=_go, args=("reject",),
            help="Not a match, never suggested again. Shortcut: X")
b[2].button("Skip", key="review_skip", shortcut="s", on_click=_go, args=("skip",),
            help="Decide later. Shortcut: S")
b[3].button("Next", key="review_next", shortcut="n", on_click=_go, args=(None,),
            help="Shortcut: N")
if b[4].button("Previous", key="review_prev", shortcut="p", disabled=not history,
               help="Shortcut: P"):
    history.pop()
    st.rerun()
b[5].button("Undo last", key="review_undo", shortcut="u", disabled=not taken,
            on_click=_undo_last, help=(f"Take back the {taken[-1][1]}. " if taken else "")
            + "Shortcut: U")
if "review_done" in st.session_state:
    st.success(st.session_state.pop("review_done"))
if "review_error" in st.session_state:
    st.error(st.session_state.pop("review_error"))

# --- the field diff, with a pick per conflicting field -----------------------------------------
d = diff(ws, kind, crm_id, erp)
shown = d[d["status"] != "empty"]
st.markdown("**Fields**")
st.dataframe(shown[["erp_field", "crm_value", "erp_value", "status", "direction", "crm_after",
                    "erp_after"]], hide_index=True, width="stretch", column_config={
    "erp_field": "Field", "crm_value": "CRM", "erp_value": "ERP", "status": "Status",
    "direction": "Direction", "crm_after": "CRM after", "erp_after": "ERP after"})
choices = {"crm": "CRM value", "erp": "ERP value", "value": "Typed value"}


def _pick(field: str) -> None:
    """Store the steward's choice for ``field`` (a widget callback: it runs before anything
    else the same click asks for, so an Accept right after a pick never loses the pick)."""
    choice = st.session_state[f"pick_{crm_id}_{field}"]
    typed = st.session_state.get(f"typed_{crm_id}_{field}") or ""
    if choice == "value" and not typed.strip():
        return  # a typed value is stored once there is one
    try:
        pick(ui.workspace(), kind, crm_id, erp, field, choice,
             typed if choice == "value" else None, user=name)
        st.session_state["review_done"] = f"{field}: {choices[choice]} kept"
    except ErpdataError as exc:
        st.session_state["review_error"] = str(exc)


for r in shown[(shown["status"] == "different") & (shown["direction"] != "none")].itertuples():
    c1, c2 = st.columns([2, 3])
    choice = c1.radio(f"{r.erp_field}", list(choices), index=list(choices).index(r.pick),
                      format_func=choices.get, horizontal=True, key=f"pick_{crm_id}_{r.erp_field}",
                      on_change=_pick, args=(r.erp_field,))
    c2.text_input(f"Value for {r.erp_field}", value=r.value or "",
                  key=f"typed_{crm_id}_{r.erp_field}", disabled=choice != "value",
                  on_change=_pick, args=(r.erp_field,))

# --- why: the per-field weights, and the other candidates ----------------------------------------
cands = suggestions(ws, kind, crm_id=crm_id)
this = cands[cands["erp"] == erp]
if len(this):
    weights = json.loads(this["explanation"].iloc[0])
    bars = pd.DataFrame({"weight": [v["weight"] for f, v in weights.items() if f != "prior"]},
                        index=[f for f in weights if f != "prior"])
    st.markdown("**Why this score** (match weight per field; the prior is "
                f"{weights['prior']:+.1f})")
    st.bar_chart(bars, horizontal=True, height=220)
others = cands[cands["erp"] != erp][["erp", "erp_name", "probability", "rank"]]
if len(others):
    st.markdown("**Other candidates**")
    st.dataframe(others.head(3) if not st.toggle("Show all", key="review_more") else others,
                 hide_index=True, width="stretch")
