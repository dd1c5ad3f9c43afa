"""Load: bring an export file of one side and kind into the workspace.

The column mapping is shown (and can be corrected) before anything is written; a load is one
transaction, and a problem is shown with its file, row and column.
"""

from __future__ import annotations

import tempfile
import threading
from pathlib import Path

import pandas as pd
import streamlit as st

import workbench_ui as ui
from erpdata import (
    ACTOR_TYPES,
    KINDS,
    SIDES,
    ErpdataError,
    LoadResult,
    Workspace,
    fields,
    load_file,
)
from erpdata.connections import connections, get_connection, open_connector
from erpdata.ingest import changes, preview
from erpdata.progress import Progress
from erpdata.sources import check_size
from erpdata.sync import pull

ws = ui.workspace()
name, _ = ui.user()

st.title("Load")
st.caption("CSV (any delimiter, UTF-8, UTF-16 or Windows-1252), XLSX, Parquet, JSON or NDJSON. "
           "A re-load updates records by id and flags the ones no longer in the export.")

job = ui.job("load")
running = job is not None and job.running
if running:
    ui.job_progress("load")
elif job is not None and ui.job_outcome(job):
    st.success(f"{job.result.summary()} (by {job.started_by})")
    with st.expander("What the last load changed"):
        st.dataframe(pd.DataFrame(changes(ws, job.result.load_id, limit=200)),
                     hide_index=True, width="stretch")

c1, c2, c3 = st.columns(3)
side = c1.segmented_control("Side", SIDES, default="crm", key="load_side",
                            format_func=str.upper) or "crm"
kind = c2.segmented_control("Kind", KINDS, default="company", key="load_kind",
                            format_func=lambda k: ui.KIND_LABELS[k]) or "company"
actor = None
if side == "erp" and kind == "company":
    actor = c3.selectbox("Actor type of rows without one", [None, *ACTOR_TYPES["company"]],
                         key="load_actor")



def _start(path: Path | None, data: bytes | None, shown: str, side: str, kind: str,
           mapping: dict[str, str], actor: str | None) -> None:
    """Load in a worker thread: a million rows take seconds, and a click elsewhere must not
    stop it halfway (it could not anyway: a load is one transaction)."""

    def work(progress: Progress, _cancel: threading.Event, ws: Workspace = ws) -> LoadResult:
        with tempfile.TemporaryDirectory() as tmp:
            source = path
            if data is not None:  # an upload: the worker's own copy of the file
                source = Path(tmp) / shown
                source.write_bytes(data)
            assert source is not None
            # propose=False: the editor showed the values' proposal; what it holds now is final
            return load_file(ws, source, side=side, kind=kind, mapping=mapping,
                             actor_type=actor, user=name, display=shown, progress=progress,
                             propose=False)

    ui.start_job("load", f"Loading {shown}", work, name)




def _pull(connection: str, side: str, kind: str) -> None:
    """Pull every record of ``kind`` from a live system, in a worker thread."""
    secret = ui.connection_secrets().get(connection)

    def work(progress: Progress, _cancel: threading.Event, ws: Workspace = ws) -> LoadResult:
        system = open_connector(get_connection(ws, connection), secret)
        try:
            done = pull(ws, connection, system, kind, user=name, full=True, progress=progress)
        finally:
            system.close()
        if done is None:
            raise ErpdataError(f"{connection} has no {side.upper()} {kind} records")
        return done

    ui.start_job("load", f"Pulling {kind} records from {connection}", work, name)


live = [c.name for c in connections(ws) if c.side == side]
if live:
    p1, p2 = st.columns([3, 1], vertical_alignment="bottom")
    source = p1.selectbox(f"Pull from a live {side.upper()} system", live, key="load_source")
    p2.button(f"Pull {ui.KIND_LABELS[kind].lower()}", key="load_pull", disabled=running,
              on_click=_pull, args=(source, side, kind), width="stretch",
              help="Reads every record of this kind from the connection, like a full export.")

upload = st.file_uploader("Export file", key="load_file")
typed_path = st.text_input("…or a path on this machine", key="load_path")
if upload is None and not typed_path.strip():
    st.stop()

with tempfile.TemporaryDirectory() as tmp:
    try:
        if upload is not None:
            path, shown = Path(tmp) / upload.name, upload.name
            check_size(upload.size, shown)  # before a byte of it is written here
            path.write_bytes(upload.getvalue())
        else:
            path, shown = Path(typed_path.strip()).expanduser(), typed_path.strip()
        pv = preview(path, side=side, kind=kind, display=shown, ws=ws)
    except ErpdataError as exc:
        st.error(str(exc))
        st.stop()
    st.markdown(f"**{shown}**: {ui.fmt(pv.total)} row(s). Column mapping (correct a field "
                "where the header was not recognised):")
    st.caption(" · ".join(pv.proposal))  # key (and parent): which column, and why
    options = ["extra", "id", *(f.name for f in fields(side, kind))]
    table = pd.DataFrame(pv.columns, columns=["header", "field", "how"])
    edited = st.data_editor(table, key=f"load_mapping_{side}_{kind}", hide_index=True,
                            disabled=["header", "how"], width="stretch", column_config={
                                "field": st.column_config.SelectboxColumn("Field",
                                                                          options=options)})
    st.dataframe(pv.rows, hide_index=True, width="stretch")
    # Rows left as proposed keep every field their column feeds (a key column that is also
    # the number shows once in the editor); edited rows say what they now feed.
    kept = {h for h, before, after in zip(table["header"], table["field"], edited["field"],
                                          strict=True) if before == after}
    mapping = {f: h for f, h in pv.mapping.items() if h in kept}
    mapping.update({r.field: r.header for r in edited.itertuples() if r.field != "extra"})
    data = upload.getvalue() if upload is not None else None
    st.button(f"Load into {side.upper()} {ui.KIND_LABELS[kind].lower()}", type="primary",
              key="load_go", disabled=running, on_click=_start,
              args=(path if data is None else None, data, shown, side, kind, mapping, actor))
