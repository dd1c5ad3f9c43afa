"""Reports: the link report and change sets as downloads, and a few charts.

The CSV (the link report alone) is built on click: it is quick. The XLSX (every report, a
sheet each) is built as a background job (the same jobs as matching and commits) with a
progress bar and Cancel, so the page never blocks; its download is offered when it is done.
"""

from __future__ import annotations

import tempfile
import threading
from datetime import datetime
from pathlib import Path

import pandas as pd
import streamlit as st

from erpdata import KINDS, ErpdataError, Workspace, default_delimiter, export_reports
from erpdata.progress import Progress
from erpdata.steward.reports import (
    DELIMITERS,
    activity_in_words,
    decisions_over_time,
    probability_histogram,
    workspace_country,
)
from pages.shared import ui

PAGE_SIZE = 50
XLSX_JOB = "report_xlsx"
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DELIMITER_LABELS = {";": "Semicolon ( ; )", ",": "Comma ( , )", "\t": "Tab", "|": "Bar ( | )"}

ws = ui.workspace()
name, _ = ui.user()
counts = ui.counts(ws)

st.title("Reports")
st.caption("Links, unmatched records, conflicts and the change sets an import tool needs. "
           "Files are built when you ask for them.")


def _build_xlsx() -> None:
    """Build every report as one workbook in a worker thread (a button callback)."""

    def work(progress: Progress, cancel: threading.Event, ws: Workspace = ws
             ) -> tuple[str, bytes, str]:
        with tempfile.TemporaryDirectory() as tmp:
            (path,) = export_reports(ws, "xlsx", Path(tmp) / "reports.xlsx",
                                     progress=progress, cancel=cancel)
            return path.name, path.read_bytes(), datetime.now().strftime("%H:%M:%S")

    ui.start_job(XLSX_JOB, "Building the XLSX report", work, name)


def _forget_csv() -> None:
    """A CSV built with another delimiter is not offered any more."""
    st.session_state.pop("report_csv", None)


c1, c2 = st.columns(2)
with c1:
    st.markdown("**XLSX**: every report, a sheet each")
    xlsx_job = ui.job(XLSX_JOB)
    xlsx_running = xlsx_job is not None and xlsx_job.running
    st.button("Build the XLSX report", key="build_xlsx", disabled=xlsx_running,
              on_click=_build_xlsx, help="Built in the background: the page stays usable.")
    if xlsx_running:
        ui.job_progress(XLSX_JOB)
    elif xlsx_job is not None and ui.job_outcome(xlsx_job):
        file_name, data, built_at = xlsx_job.result
        st.download_button(f"Download {file_name}", data, file_name=file_name, mime=XLSX_MIME,
                           key="download_xlsx", type="primary")
        st.caption(f"Built at {built_at} by {xlsx_job.started_by}.")

with c2:
    st.markdown("**CSV**: the link report (UTF-8, opens in Excel with ø and å intact)")
    default = default_delimiter(ws)
    country = workspace_country(ws)
    delimiter = st.selectbox(
        "Delimiter", DELIMITERS, index=DELIMITERS.index(default), key="csv_delimiter",
        format_func=DELIMITER_LABELS.__getitem__, on_change=_forget_csv,
        help="Excel splits a CSV at the list separator of its language: a semicolon in the "
             "Nordic countries, the Netherlands, Germany, Austria, Switzerland and Belgium, "
             "a comma elsewhere. With a semicolon, decimals are written with a comma.")
    st.caption(f"Default: {DELIMITER_LABELS[default].lower()}, since "
               + (f"most of the workspace's companies are in {country}." if country else
                  "the workspace's companies have no country."))
    if st.button("Build the CSV report", key="build_csv"):
        try:
            with tempfile.TemporaryDirectory() as tmp:
                files = export_reports(ws, "csv", Path(tmp) / "reports", delimiter=delimiter)
                # the link report (the other reports are on the command line and in the XLSX)
                chosen = files[0]
                st.session_state["report_csv"] = (chosen.name, chosen.read_bytes())
        except ErpdataError as exc:
            st.error(str(exc))
    if "report_csv" in st.session_state:
        file_name, data = st.session_state["report_csv"]
        st.download_button(f"Download {file_name}", data, file_name=file_name, mime="text/csv",
                           key="download_csv")

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
    log, next_key = activity_in_words(ws, actor=who, after=keys[-1], size=PAGE_SIZE)
    st.dataframe(log, hide_index=True, width="stretch", key="activity_log", column_config={
        "When": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm:ss"),
        "What": st.column_config.TextColumn(width="large")})
    ui.pager(keys, next_key, "activity", f"Page {len(keys)} · {PAGE_SIZE} per page")
