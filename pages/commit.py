"""Commit: the pending batch as a dry run, then committed in one transaction; batches with undo.

"Sync now" joins this page with the connectors (step 5); until then the queued actions wait
in the workspace and the change sets go out as reports.
"""

from __future__ import annotations

import streamlit as st

import workbench_ui as ui
from erpdata import ErpdataError, batches, commit, undo

ws = ui.workspace()
name, _ = ui.user()

st.title("Commit")
st.caption("Accepted decisions, picks and creates become links and queued actions in one "
           "batch. Every overwritten value is kept, and a batch can be undone exactly.")

if "commit_done" in st.session_state:
    st.success(st.session_state.pop("commit_done"))

plan = commit(ws, dry_run=True, sample=20)
cols = st.columns(len(plan.counts))
for col, (action, n) in zip(cols, plan.counts.items(), strict=True):
    col.metric(action.replace("_", " "), ui.fmt(n))
if any(plan.counts.values()):
    st.markdown("**Sample of the actions**")
    st.dataframe(plan.actions[["action", "kind", "crm_id", "erp_actor_type", "erp_id",
                               "payload"]], hide_index=True, width="stretch")
    if st.button(f"Commit {ui.fmt(sum(plan.counts.values()))} action(s)", type="primary",
                 key="commit_go"):
        try:
            done = commit(ws, user=name)
        except ErpdataError as exc:
            st.error(str(exc))
        else:
            st.session_state["commit_done"] = done.summary()
            st.rerun()
else:
    st.info("Nothing to commit: accept suggested links on the Match or Review page first.")
if len(plan.left_out):
    st.warning(f"{ui.fmt(len(plan.left_out))} decision(s) cannot be committed yet and stay "
               "accepted:")
    st.dataframe(plan.left_out, hide_index=True, width="stretch")

st.subheader("Batches")
history = batches(ws)
if history.empty:
    st.caption("No batches yet.")
    st.stop()
st.dataframe(history, hide_index=True, width="stretch")
committed = history.loc[history["status"] == "committed", "batch_id"].tolist()
if committed:
    c1, c2 = st.columns([1, 3], vertical_alignment="bottom")
    batch = c1.selectbox("Batch to undo", committed, key="undo_batch")
    if c2.button("Undo this batch…", key="undo_ask"):
        st.session_state["undo_pending"] = batch
    if st.session_state.get("undo_pending") == batch:
        st.warning(f"Undo batch {batch}: its links are removed, the values it overwrote come "
                   "back, its decisions are accepted again and its queued actions cancelled.")
        if st.button(f"Undo batch {batch}", type="primary", key="undo_go"):
            try:
                result = undo(ws, int(batch), user=name)
            except ErpdataError as exc:
                st.error(str(exc))
            else:
                st.session_state.pop("undo_pending", None)
                st.session_state["commit_done"] = (
                    f"Batch {batch} undone: {ui.fmt(result['links'])} link(s) removed, "
                    f"{ui.fmt(result['fields'])} value(s) restored.")
                st.rerun()
