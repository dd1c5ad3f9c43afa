"""Overview: how far the connection of CRM records to ERP records has come in this workspace."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from erpdata import pending
from erpdata.ingest.load import recent_loads
from erpdata.live.connections import connections
from erpdata.live.sync import action_counts
from erpdata.steward.decisions import queue_summary
from erpdata.steward.states import plain
from pages.shared import ui

ws = ui.workspace()
counts = ui.counts(ws)
loads = recent_loads(ws, limit=10)
rows = ui.counts_rows(counts)
missing_total = sum(r["missing_crm"] + r["missing_erp"] for r in rows)


def _next_steps() -> list[tuple[str, str, str, str]]:
    """What the steward does next, each as ``(page, link label, icon, what to click there)``:
    the pages and buttons of the workbench, never a command line (a steward works in the
    browser, and the command line cannot write while the workbench holds the workspace)."""
    steps = []
    kinds_loaded = [r for r in rows if r["crm"] and r["erp"]]
    if len(kinds_loaded) < len(rows):
        lacking = ", ".join(r["label"].lower() for r in rows if not (r["crm"] and r["erp"]))
        steps.append(("pages/load.py", "Load", ":material/upload_file:",
                      f"**Load the exports** ({lacking} lack a CRM or an ERP export): choose "
                      "the side and the kind, give the file, check the column mapping, then "
                      "**Load into …**."))
    todo = queue_summary(ws)
    undecided = {r["label"]: todo[r["kind"]]["undecided"] for r in rows}
    if any(undecided.values()):
        which = ", ".join(f"{ui.fmt(n)} {k.lower()}" for k, n in undecided.items() if n)
        steps.append(("pages/match.py", "Match", ":material/join_inner:",
                      f"**Decide the suggested links** ({which} not decided yet): on the Match "
                      "page, **Accept the … auto links…** then **Accept … and commit** takes "
                      "the sure ones; the others one by one on the Review page."))
    elif kinds_loaded and any(r["linked"] < r["crm"] for r in kinds_loaded):
        steps.append(("pages/match.py", "Match", ":material/join_inner:",
                      "**Suggest links** for the records not linked yet: on the Match page, "
                      "**Run matching** (after every new load)."))
    waiting = sum(k["accept"] + k["create"] for k in pending(ws).values())
    if waiting:
        steps.append(("pages/commit.py", "Commit", ":material/task_alt:",
                      f"**Commit {ui.fmt(waiting)} accepted decision(s)**: on the Commit page, "
                      "**Dry run the whole batch** to see what it overwrites, then "
                      "**Commit …**."))
    queued = action_counts(ws).get("queued", 0)
    if queued:
        if connections(ws):
            steps.append(("pages/commit.py", "Commit", ":material/sync:",
                          f"**Send {ui.fmt(queued)} action(s) {plain('status', 'queued')}** to "
                          "the live systems: on the Commit page, **Sync now**."))
        else:
            steps.append(("pages/reports.py", "Reports", ":material/download:",
                          f"**Hand {ui.fmt(queued)} action(s) {plain('status', 'queued')} to "
                          "the import tool**: on the Reports page, **Build the XLSX report** "
                          "(the change sets are in it), or add a connection on the Settings "
                          "page to sync."))
    if kinds_loaded:
        steps.append(("pages/load.py", "Load", ":material/upload_file:",
                      "**Load newer exports** when the systems have changed: on the Load page, "
                      "choose the side and the kind, give the file, then **Load into …** (a "
                      "file of only some records: choose **Only some records**)."))
    return steps


next_steps = _next_steps()

st.title("Overview")
st.caption("How many CRM records of each kind are linked to an ERP record, and what each "
           "side holds.")

# --- linked share per kind: the headline --------------------------------------------------------
for col, r in zip(st.columns(len(rows)), rows, strict=True):
    with col, st.container(border=True):
        st.metric(f"{r['label']} linked", ui.pct(r["share"]))
        st.progress(r["share"], text=f"{ui.fmt(r['linked'])} of {ui.fmt(r['crm'])} CRM "
                    f"{r['label'].lower()}")

# --- records per side and kind ------------------------------------------------------------------
st.subheader("Records")
columns = {
    "CRM": [r["crm"] for r in rows],
    "ERP": [r["erp"] for r in rows],
    "Linked": [r["linked"] for r in rows],
    "Linked share": [r["share"] for r in rows],
}
if missing_total:
    columns["Missing in CRM"] = [r["missing_crm"] for r in rows]
    columns["Missing in ERP"] = [r["missing_erp"] for r in rows]
table = pd.DataFrame(columns, index=pd.Index([r["label"] for r in rows], name="Kind"))
counts_format = {c: "{:,}" for c in columns if c != "Linked share"}
st.table(table.style.format({**counts_format, "Linked share": ui.pct}), border="horizontal")

if missing_total:
    st.warning(
        f"{ui.fmt(missing_total)} record(s) were not in the latest export of their side and "
        "kind, and are flagged missing. They are kept, with their links and decisions, until an "
        "export has them again.",
        icon=":material/warning:",
    )

# --- recent loads -------------------------------------------------------------------------------
if loads:
    st.subheader("Recent loads")
    shown_loads = pd.DataFrame(loads)
    shown_loads["side"] = shown_loads["side"].map(lambda v: plain("side", v))
    shown_loads["kind"] = shown_loads["kind"].map(ui.KIND_LABELS)
    st.dataframe(
        shown_loads.rename(columns={
            "load_id": "Load", "side": "Side", "kind": "Kind", "source_file": "File",
            "format": "Format", "rows": "Rows", "inserted": "New", "updated": "Changed",
            "unchanged": "Unchanged", "missing": "Flagged missing", "reappeared": "Back",
            "loaded_by": "By", "finished_at": "When",
        }),
        hide_index=True,
        column_config={"File": st.column_config.TextColumn(width="large"),
                       "When": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm")},
    )

# --- what to do next: the page and the button, in the order of the work -------------------------
st.subheader("What to do next")
if not sum(r["crm"] + r["erp"] for r in rows):
    st.info("This workspace is empty. Load a CRM export and an ERP export to start.",
            icon=":material/upload_file:")
for page, label, icon, text in next_steps:
    with st.container(border=True):
        st.markdown(text)
        st.page_link(page, label=label, icon=icon)
