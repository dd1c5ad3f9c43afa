"""Match: run the matcher, then work through its suggested links in bulk.

The queue is paged from the workspace (keyset paging in the engine), so a million suggestions
cost what a hundred do; a bulk decision first says how many pairs it will touch.
"""

from __future__ import annotations

import threading

import streamlit as st

import workbench_ui as ui
from erpdata import (
    ACTOR_TYPES,
    KINDS,
    STATES,
    Filter,
    Workspace,
    decide_bulk,
    match_workspace,
    queue_facets,
    queue_page,
)
from erpdata.progress import Progress

PAGE_SIZE = 50
ANY = "any"

ws = ui.workspace()
name, _ = ui.user()

st.title("Match")
st.caption("Suggest an ERP record for every CRM record, then accept or reject the suggested "
           "links in bulk. Single pairs are reviewed on the Review page.")

kind = st.segmented_control("Kind", KINDS, default="company", key="match_kind",
                            format_func=lambda k: ui.KIND_LABELS[k]) or "company"

# --- run: in a worker thread, with progress and Cancel; the page stays usable meanwhile --------


def _start(kind: str) -> None:
    """Start matching ``kind`` (a button callback: the page then draws the running job)."""

    def work(progress: Progress, cancel: threading.Event, ws: Workspace = ws) -> str:
        result = match_workspace(ws, kind, user=name, progress=progress, cancel=cancel)
        links = int(result.candidates["match"].sum())
        return (f"{ui.KIND_LABELS[kind]}: {ui.fmt(links)} suggested links; thresholds: "
                f"auto {result.thresholds['auto']:.3f}, review "
                f"{result.thresholds['review']:.3f}.")

    ui.start_job("match", f"Matching {ui.KIND_LABELS[kind].lower()}", work, name)
    st.session_state.pop("match_keys", None)


run = ui.job("match")
with st.container(border=True):
    left, right = st.columns([3, 1], vertical_alignment="center")
    left.markdown(f"**Run matching** for {ui.KIND_LABELS[kind].lower()}: decisions already "
                  "taken are kept; rejected pairs are never suggested again.")
    right.button("Run matching", type="primary", key="run_match", width="stretch",
                 disabled=run is not None and run.running, on_click=_start, args=(kind,))
    if run is not None and run.running:
        ui.job_progress("match")
    elif run is not None and ui.job_outcome(run):
        st.success(f"Last run (by {run.started_by}): {run.result}")

# --- filters and facets -------------------------------------------------------------------------
c1, c2, c3, c4, c5 = st.columns(5)
band = c1.selectbox("Band", [ANY, "auto", "review", "low"], key="match_band")
state = c2.selectbox("Decision", [ANY, *STATES], key="match_state")
conflict = c3.selectbox("Conflict", [ANY, "yes", "no"], key="match_conflict")
actor = c4.selectbox("Actor type", [ANY, *ACTOR_TYPES[kind]], key="match_actor")
country = c5.text_input("Country", key="match_country", placeholder="e.g. NO")
flt = Filter(kind=kind, band=None if band == ANY else band,
             actor_type=None if actor == ANY else actor, country=country.strip() or None,
             conflict=None if conflict == ANY else conflict == "yes")
chosen_state = None if state == ANY else state

facets = queue_facets(ws, flt)
if not facets["state"]:
    st.info("No suggested links for these filters yet. Run matching, or widen the filters.")
    st.stop()
st.caption(" · ".join(f"{value}: {ui.fmt(n)}" for value, n in sorted(facets["state"].items())))

# --- one page of the queue ------------------------------------------------------------------------
signature = (flt, chosen_state)
if st.session_state.get("match_signature") != signature:
    st.session_state["match_signature"] = signature
    st.session_state["match_keys"] = [None]
keys: list = st.session_state.setdefault("match_keys", [None])
page = queue_page(ws, flt, state=chosen_state, after=keys[-1], size=PAGE_SIZE)
st.dataframe(page.rows, hide_index=True, width="stretch", column_config={
    "crm_id": "CRM id", "crm_name": "CRM name", "erp": "ERP record", "erp_name": "ERP name",
    "probability": st.column_config.ProgressColumn("Probability", min_value=0.0,
                                                   max_value=1.0, format="%.3f"),
    "band": "Band", "conflict": "Conflict", "state": "Decision"})
ui.pager(keys, page.next_key, "match", f"Page {len(keys)} · {PAGE_SIZE} per page")

# --- bulk decisions: the count first, then the decision -------------------------------------------
st.subheader("Decide in bulk")
st.caption("Applies to the undecided suggested links that match the filters above "
           "(the Decision filter aside).")
b1, b2 = st.columns(2)
for col, decision in ((b1, "accept"), (b2, "reject")):
    if col.button(f"{decision.capitalize()} the filtered links…", key=f"match_{decision}"):
        st.session_state["match_pending"] = (decision, flt)
pending = st.session_state.get("match_pending")
if pending is not None and pending[1] == flt:
    decision, _ = pending
    preview = decide_bulk(ws, decision, flt, dry_run=True)
    with st.container(border=True):
        st.markdown(f"This will **{decision}** {ui.fmt(preview.count)} pair(s)"
                    + (f"; {ui.fmt(preview.left_out)} are left out because their records are "
                       "linked or accepted elsewhere." if preview.left_out else "."))
        ok, cancel = st.columns(2)
        if ok.button(f"{decision.capitalize()} {ui.fmt(preview.count)} pair(s)",
                     type="primary", key="match_confirm", disabled=preview.count == 0):
            done = decide_bulk(ws, decision, flt, user=name)
            st.session_state.pop("match_pending", None)
            st.session_state["match_done"] = (f"{decision.capitalize()}ed "
                                              f"{ui.fmt(done.count)} pair(s).")
            st.rerun()
        if cancel.button("Cancel", key="match_cancel"):
            st.session_state.pop("match_pending", None)
            st.rerun()
if "match_done" in st.session_state:
    st.success(st.session_state.pop("match_done"))
