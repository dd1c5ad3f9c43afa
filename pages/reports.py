"""Reports: the link report and change sets as downloads (built on click), and a few charts."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd
import streamlit as st

import workbench_ui as ui
from erpdata import KINDS, export_reports
from erpdata.reports import activity, decisions_over_time, probability_histogram

PAGE_SIZE = 50

ws = ui.workspace()
counts = ui.counts(ws)

st.title("Reports")
st.caption("Links, unmatched records, conflicts and the change sets an import tool needs. "
           "Files are built when you ask for them.")

c1, c2 = st.columns(2)
for col, fmt, mime in ((c1, "xlsx", "application/vnd.openxmlformats-officedocument."
                        "spreadsheetml.sheet"), (c2, "csv", "text/csv")):
    if col.button(f"Build the {fmt.upper()} report", key=f"build_{fmt}"):
        with tempfile.TemporaryDirectory() as tmp:
            target = Path(tmp) / ("reports.xlsx" if fmt == "xlsx" else "reports")
            files = export_reports(ws, fmt, target)
            # CSV: the link report (the other reports are on the command line and in the XLSX)
            chosen = files[0]
            st.session_state[f"report_{fmt}"] = (chosen.name, chosen.read_bytes())
    if f"report_{fmt}" in st.session_state:
        file_name, data = st.session_state[f"report_{fmt}"]
        col.download_button(f"Download {file_name}", data, file_name=file_name, mime=mime,
                            key=f"download_{fmt}")

st.subheader("Linked share per kind")
rows = ui.counts_rows(counts)
st.bar_chart(pd.DataFrame({"linked share": [r["share"] for r in rows]},
                          index=[r["label"] for r in rows]), horizontal=True, height=180)

kind = st.segmented_control("Kind", KINDS, default="company", key="reports_kind",
                            format_func=lambda k: ui.KIND_LABELS[k]) or "company"
hist = probability_histogram(ws, kind)
st.subheader("Suggested links by probability")
if hist.empty:
    st.caption("No suggestions yet.")
else:
    st.bar_chart(hist, x="bin_start", y="links", color="band", height=240)
over_time = decisions_over_time(ws)
st.subheader("Decisions over time")
if over_time.empty:
    st.caption("No decisions yet.")
else:
    st.bar_chart(over_time, x="day", y="decisions", color="decision", height=240)

st.subheader("Who did what")
if st.toggle("Show the activity log", key="activity_show",
             help="Every decision and every audited change, newest first."):
    who = st.text_input("Only this user", key="activity_user").strip() or None
    keys: list = st.session_state.setdefault("activity_keys", [None])
    if st.session_state.get("activity_for") != who:
        st.session_state["activity_for"] = who
        keys[:] = [None]
    rows, next_key = activity(ws, actor=who, after=keys[-1], size=PAGE_SIZE)
    st.dataframe(rows, hide_index=True, width="stretch", column_config={
        "logged_at": st.column_config.DatetimeColumn("When", format="YYYY-MM-DD HH:mm:ss"),
        "actor": "Who", "action": "What", "kind": "Kind", "record": "Record",
        "detail": "Detail", "batch_id": "Batch"})
    ui.pager(keys, next_key, "activity", f"Page {len(keys)} · {PAGE_SIZE} per page")
