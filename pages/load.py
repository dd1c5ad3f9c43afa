"""Load: bring an export file of one side and kind into the workspace.

The column mapping is shown (and can be corrected) before anything is written; a load is one
transaction, and a problem is shown with its file, row and column.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd
import streamlit as st

import workbench_ui as ui
from erpdata import ACTOR_TYPES, KINDS, SIDES, ErpdataError, fields, load_file
from erpdata.ingest import changes, preview

ws = ui.workspace()
name, _ = ui.user()

st.title("Load")
st.caption("CSV (any delimiter, UTF-8, UTF-16 or Windows-1252), XLSX, Parquet, JSON or NDJSON. "
           "A re-load updates records by id and flags the ones no longer in the export.")
if "load_done" in st.session_state:
    st.success(st.session_state.pop("load_done"))

c1, c2, c3 = st.columns(3)
side = c1.segmented_control("Side", SIDES, default="crm", key="load_side",
                            format_func=str.upper) or "crm"
kind = c2.segmented_control("Kind", KINDS, default="company", key="load_kind",
                            format_func=lambda k: ui.KIND_LABELS[k]) or "company"
actor = None
if side == "erp" and kind == "company":
    actor = c3.selectbox("Actor type of rows without one", [None, *ACTOR_TYPES["company"]],
                         key="load_actor")

upload = st.file_uploader("Export file", key="load_file")
typed_path = st.text_input("…or a path on this machine", key="load_path")
if upload is None and not typed_path.strip():
    st.stop()

with tempfile.TemporaryDirectory() as tmp:
    if upload is not None:
        path, shown = Path(tmp) / upload.name, upload.name
        path.write_bytes(upload.getvalue())
    else:
        path, shown = Path(typed_path.strip()).expanduser(), typed_path.strip()
    try:
        pv = preview(path, side=side, kind=kind, display=shown)
    except ErpdataError as exc:
        st.error(str(exc))
        st.stop()
    st.markdown(f"**{shown}**: {ui.fmt(pv.total)} row(s). Column mapping (correct a field "
                "where the header was not recognised):")
    options = ["extra", "id", *(f.name for f in fields(side, kind))]
    table = pd.DataFrame(pv.columns, columns=["header", "field", "how"])
    edited = st.data_editor(table, key=f"load_mapping_{side}_{kind}", hide_index=True,
                            disabled=["header", "how"], width="stretch", column_config={
                                "field": st.column_config.SelectboxColumn("Field",
                                                                          options=options)})
    st.dataframe(pv.rows, hide_index=True, width="stretch")
    mapping = {r.field: r.header for r in edited.itertuples() if r.field != "extra"}
    if st.button(f"Load into {side.upper()} {ui.KIND_LABELS[kind].lower()}", type="primary",
                 key="load_go"):
        bar = st.progress(0.0, text="starting")
        try:
            result = load_file(ws, path, side=side, kind=kind, mapping=mapping,
                               actor_type=actor, user=name, display=shown,
                               progress=lambda stage, f: bar.progress(f, text=stage))
        except ErpdataError as exc:
            st.error(str(exc))
        else:
            st.session_state["load_done"] = result.summary()
            st.session_state["load_last"] = result.load_id
            st.rerun()

if "load_last" in st.session_state:
    st.subheader("What the last load changed")
    st.dataframe(pd.DataFrame(changes(ws, st.session_state["load_last"], limit=200)),
                 hide_index=True, width="stretch")
