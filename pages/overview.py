"""Overview: how far the connection of CRM records to ERP records has come in this workspace."""

from __future__ import annotations

import shlex

import pandas as pd
import streamlit as st

import workbench_ui as ui
from erpdata.ingest import recent_loads

ws = ui.workspace()
counts = ui.counts(ws)
loads = recent_loads(ws, limit=10)
rows = ui.counts_rows(counts)
missing_total = sum(r["missing_crm"] + r["missing_erp"] for r in rows)

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
    st.dataframe(
        pd.DataFrame(loads).rename(columns={
            "load_id": "Load", "side": "Side", "kind": "Kind", "source_file": "File",
            "format": "Format", "rows": "Rows", "inserted": "New", "updated": "Changed",
            "unchanged": "Unchanged", "missing": "Flagged missing", "reappeared": "Back",
            "loaded_by": "By", "finished_at": "When",
        }),
        hide_index=True,
        column_config={"File": st.column_config.TextColumn(width="large"),
                       "When": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm")},
    )

# --- what to do next ----------------------------------------------------------------------------
st.subheader("What to do next")
if not sum(r["crm"] + r["erp"] for r in rows):
    st.info("This workspace is empty. Load a CRM export and an ERP export to start.",
            icon=":material/upload_file:")
st.markdown(
    "Load the newest exports from the command line, one file per side and kind (CSV, XLSX, "
    "Parquet or JSON). Stop the workbench first: only one program at a time may write to a "
    "workspace."
)
st.code(
    f"export ERPDATA_WORKSPACE={shlex.quote(str(ws.path))}\n"
    "erpdata load --side crm --kind company companies.csv\n"
    "erpdata load --side erp --kind company --actor-type customer customers.xlsx\n"
    "erpdata status",
    language="bash",
)
