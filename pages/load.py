"""Load: bring an export file of one side and kind into the workspace.

The column mapping is shown (and can be corrected) before anything is written; a load is one
transaction, and a problem is shown with its file, row and column. Before loading, the page
says how many workspace records the file lacks and what will happen to them; the steward
chooses a full or a partial load (flag those records missing, or keep them) and a strict or a
lenient one (refuse a file with a cell that does not parse, or leave such cells empty and list
each one after the load).
"""

from __future__ import annotations

import tempfile
import threading
from pathlib import Path

import pandas as pd
import streamlit as st

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
from erpdata.ingest.load import changes, preview
from erpdata.ingest.sources import check_size
from erpdata.live.adopt import AdoptedLinks, adopt_every_kind
from erpdata.live.connections import connections, get_connection, open_connector
from erpdata.live.sync import pull, reasons
from erpdata.paths import allowed_path
from erpdata.progress import Progress
from erpdata.roles import refusal, role_of
from erpdata.steward.commit import field_label
from erpdata.steward.states import plain
from pages.shared import ui

ws = ui.workspace()
name, _ = ui.user()

st.title("Load")
st.caption("CSV (any delimiter, UTF-8, UTF-16 or Windows-1252), XLSX, Parquet, JSON or NDJSON. "
           "A re-load updates records by id and flags the ones no longer in the export "
           "(unless the file holds only some records: a partial load).")



def _left_empty(result: LoadResult) -> None:
    """The cells a lenient load left empty, one row each, in words a steward reads: the load
    worked, but these values are not in the workspace until the export is corrected."""
    if not result.problems:
        return
    st.warning(f"{ui.fmt(len(result.problems))} cell(s) did not parse and were left empty "
               "(lenient load). Correct them in the export and load it again to fill them in.")
    st.dataframe(pd.DataFrame(
        [(p.file, p.row, f"{p.column} ({p.letter})", p.label, p.value, p.reason)
         for p in result.problems],
        columns=["File", "Row", "Column", "Field", "Value", "Why"]),
        hide_index=True, width="stretch", key="load_left_empty")


job = ui.job("load")
running = job is not None and job.running
if running:
    ui.job_progress("load")
elif job is not None and ui.job_outcome(job):
    st.success(f"{job.result.summary()} (by {job.started_by})")
    _left_empty(job.result)
    with st.expander("What the last load changed"):
        done = pd.DataFrame(changes(ws, job.result.load_id, limit=200),
                            columns=["actor_type", "record_id", "change", "field", "old_value",
                                     "new_value"])
        st.dataframe(pd.DataFrame({
            "Record": [" ".join(str(x) for x in (t, i) if x) for t, i in
                       zip(done["actor_type"].fillna(""), done["record_id"], strict=True)],
            "Change": done["change"].map(lambda c: plain("change", c)),
            "Field": [field_label(job.result.side, job.result.kind, f) if f else ""
                      for f in done["field"]],
            "Before": done["old_value"], "After": done["new_value"]}),
            hide_index=True, width="stretch", key="load_changes")

adopted = ui.job("adopt")
adopting = adopted is not None and adopted.running
if adopting:
    ui.job_progress("adopt")
elif adopted is not None and ui.job_outcome(adopted):
    st.success(f"Links adopted from the CRM (by {adopted.started_by}):")
    for done in adopted.result:
        st.markdown(f"- {done.summary()}")

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
           mapping: dict[str, str], actor: str | None, partial: bool, lenient: bool) -> None:
    """Load in a worker thread: a million rows take seconds, and a click elsewhere must not
    stop it halfway (it could not anyway: a load is one transaction)."""

    def work(progress: Progress, _cancel: threading.Event, ws: Workspace = ws) -> LoadResult:
        with tempfile.TemporaryDirectory() as tmp:
            if data is not None:  # an upload: the worker's own copy of the file
                source = Path(tmp) / shown
                source.write_bytes(data)
            else:  # checked again: the file may have been swapped since the preview
                assert path is not None
                source = allowed_path(ws, path, user=name)
            # propose=False: the editor showed the values' proposal; what it holds now is final
            return load_file(ws, source, side=side, kind=kind, mapping=mapping,
                             actor_type=actor, user=name, display=shown, progress=progress,
                             propose=False, partial=partial, lenient=lenient)

    ui.start_job("load", f"Loading {shown}", work, name)




def _adopt(connection: str) -> None:
    """Adopt the links the CRM of ``connection`` holds, every kind, in a worker thread."""
    secret = ui.connection_secrets().get(connection)

    def work(_progress: Progress, _cancel: threading.Event, ws: Workspace = ws
             ) -> list[AdoptedLinks]:
        system = open_connector(get_connection(ws, connection), secret)
        try:
            return adopt_every_kind(ws, connection, system, user=name)  # type: ignore[arg-type]
        finally:
            system.close()

    ui.start_job("adopt", f"Adopting the links {connection} holds", work, name)


def _pull(connection: str, side: str, kind: str) -> None:
    """Pull every record of ``kind`` from a live system, in a worker thread."""
    secret = ui.connection_secrets().get(connection)

    def work(progress: Progress, _cancel: threading.Event, ws: Workspace = ws) -> LoadResult:
        system = open_connector(get_connection(ws, connection), secret)
        said: list[str] = []
        try:
            done = pull(ws, connection, system, kind, user=name, full=True, progress=progress,
                        said=said)
        finally:
            system.close()
        if done is None:
            raise ErpdataError(f"{connection} has no {side.upper()} {kind} records"
                               + reasons(said))
        return done

    ui.start_job("load", f"Pulling {kind} records from {connection}", work, name)


live = [c.name for c in connections(ws) if c.side == side]
# a viewer's click would start a job the engine refuses (and open the live system with its
# secret first): the buttons are off, with the engine's words beside them
cannot_load = refusal(ws, "load_file", name)
if cannot_load:
    st.caption(cannot_load)
if live:
    p1, p2 = st.columns([3, 1], vertical_alignment="bottom")
    source = p1.selectbox(f"Pull from a live {side.upper()} system", live, key="load_source")
    p2.button(f"Pull {ui.KIND_LABELS[kind].lower()}", key="load_pull",
              disabled=running or refusal(ws, "pull", name) is not None,
              on_click=_pull, args=(source, side, kind), width="stretch",
              help="Reads every record of this kind from the connection, like a full export.")
    if side == "crm":
        st.button("Adopt its links", key="load_adopt",
                  disabled=adopting or refusal(ws, "adopt_links", name) is not None,
                  on_click=_adopt, args=(source,),
                  help="Takes in the links this CRM already holds (made in its own Connect "
                       "dialog), so they are not suggested again. Load the CRM records first; "
                       "nothing the workspace links otherwise is changed.")

upload = st.file_uploader("Export file", key="load_file")
# A typed path reads a file on the server, as the one user the workbench runs as: admins only,
# inside the folders listed in Settings (the engine refuses anything else, whatever is shown).
role = role_of(ws, name)
typed_path = st.text_input("…or a path on the server", key="load_path",
                           disabled=role != "admin",
                           help="Only files in the folders listed in Settings (default: the "
                                "workspace's folder); hidden files and secrets.toml are never "
                                "read.")
if role != "admin":
    st.caption(f"Typing a path on the server is for admins (you are a {role}); "
               + ("uploading an export is open to you." if role == "steward" else
                  "loading files needs the steward role."))
if upload is None and not typed_path.strip():
    st.stop()

with tempfile.TemporaryDirectory() as tmp:
    try:
        if upload is not None:
            path, shown = Path(tmp) / upload.name, upload.name
            check_size(upload.size, shown)  # before a byte of it is written here
            path.write_bytes(upload.getvalue())
        else:
            path, shown = allowed_path(ws, typed_path, user=name), typed_path.strip()
        pv = preview(path, side=side, kind=kind, display=shown, ws=ws, actor_type=actor)
    except ErpdataError as exc:
        st.error(str(exc))
        st.stop()
    st.markdown(f"**{shown}**: {ui.fmt(pv.total)} row(s). Column mapping (correct a field "
                "where the header was not recognised):")
    st.caption(" · ".join(pv.proposal))  # key (and parent): which column, and why
    options = ["extra", "id", *(f.name for f in fields(side, kind))]
    field_words = {"extra": "(no field: kept as extra)", "id": "Record id",
                   **{f.name: f.label for f in fields(side, kind)}}
    table = pd.DataFrame(pv.columns, columns=["header", "field", "how"])
    edited = st.data_editor(table, key=f"load_mapping_{side}_{kind}", hide_index=True,
                            disabled=["header", "how"], width="stretch", column_config={
                                "header": "Column", "how": "Why",
                                "field": st.column_config.SelectboxColumn(
                                    "Field", options=options,
                                    format_func=lambda f: field_words.get(f, f))})
    st.dataframe(pv.rows, hide_index=True, width="stretch")
    # Rows left as proposed keep every field their column feeds (a key column that is also
    # the number shows once in the editor); edited rows say what they now feed.
    kept = {h for h, before, after in zip(table["header"], table["field"], edited["field"],
                                          strict=True) if before == after}
    mapping = {f: h for f, h in pv.mapping.items() if h in kept}
    mapping.update({r.field: r.header for r in edited.itertuples() if r.field != "extra"})
    absent = pv.absent
    if any(mapping.get(f) != pv.mapping.get(f) for f in ("id", "actor_type")):
        try:  # the steward chose another key column: count against that one
            absent = preview(path, side=side, kind=kind, display=shown, ws=ws, limit=0,
                             mapping=mapping, actor_type=actor).absent
        except ErpdataError:
            absent = None  # the load says what is wrong with this mapping, row and column
    o1, o2 = st.columns(2)
    scope = o1.radio("What the file holds", ["full", "partial"], key="load_scope",
                     format_func={"full": "Every record (a full export)",
                                  "partial": "Only some records (add and update)"}.get,
                     help="A full load flags the workspace's records that the file lacks as "
                          "missing; a partial load adds and updates and flags nothing missing.")
    cells = o2.radio("Cells that do not parse (a date like 19450493)", ["strict", "lenient"],
                     key="load_cells",
                     format_func={"strict": "Refuse the file and name the cell",
                                  "lenient": "Leave them empty and list each one"}.get,
                     help="Either way an empty or repeated id, or a parent that does not "
                          "exist, refuses the file: a record without its key cannot be loaded.")
    what = f"{side.upper()} {ui.KIND_LABELS[kind].lower()}"
    if absent is not None:
        if absent == 0:
            st.info(f"Every record in the workspace ({what}) is in this file: nothing will be "
                    "flagged missing.")
        elif scope == "partial":
            st.info(f"{ui.fmt(absent)} record(s) in the workspace ({what}) are not in this "
                    "file: they will be kept as they are (partial load).")
        else:
            st.warning(f"{ui.fmt(absent)} record(s) in the workspace ({what}) are not in this "
                       "file: they will be flagged missing (their links and decisions stay). "
                       "If the file holds only some records, choose \"Only some records\".")
    data = upload.getvalue() if upload is not None else None
    st.button(f"Load into {what}", type="primary",
              key="load_go", disabled=running or cannot_load is not None, on_click=_start,
              args=(path if data is None else None, data, shown, side, kind, mapping, actor,
                    scope == "partial", cells == "lenient"))
