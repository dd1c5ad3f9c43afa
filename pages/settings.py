"""Settings: the field mappings of each kind (SuperOffice's Mappings screen), as a table.

Saving validates like SuperOffice does when a connection is activated; an invalid mapping is
refused with every problem named, and nothing is changed.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import streamlit as st

import workbench_ui as ui
from erpdata import KINDS, ErpdataError, mappings, save_mappings
from erpdata.settings import DIRECTIONS, WINNERS, from_frame, import_toml, to_frame, to_toml

ws = ui.workspace()
name, _ = ui.user()

st.title("Settings")
st.caption("Which fields synchronise, in which direction, which side wins a conflict by "
           "default, and what a new ERP actor gets.")
if "settings_done" in st.session_state:
    st.success(st.session_state.pop("settings_done"))

kind = st.segmented_control("Kind", KINDS, default="company", key="settings_kind",
                            format_func=lambda k: ui.KIND_LABELS[k]) or "company"
edited = st.data_editor(
    to_frame(mappings(ws, kind)), key=f"mapping_editor_{kind}", hide_index=True,
    num_rows="dynamic", width="stretch", column_config={
        "erp_field": "ERP field", "crm_field": "CRM field",
        "direction": st.column_config.SelectboxColumn("Direction", options=list(DIRECTIONS)),
        "show_in_search": "In search", "show_in_erp_tab": "In ERP tab",
        "winner": st.column_config.SelectboxColumn("Default winner", options=list(WINNERS)),
        "mandatory": "ERP requires", "default_value": "Default for new actors",
        "ask_user": "Ask on create", "default_mandatory": "Must be given"})
if st.button("Save mappings", type="primary", key="settings_save"):
    try:
        save_mappings(ws, kind, from_frame(edited), user=name)
    except ErpdataError as exc:
        st.error(str(exc))
    else:
        st.session_state["settings_done"] = f"{ui.KIND_LABELS[kind]}: mappings saved."
        st.rerun()

st.subheader("Exchange as TOML")
st.download_button("Download all mappings (TOML)", to_toml(ws), file_name="mappings.toml",
                   mime="application/toml", key="settings_download")
upload = st.file_uploader("Import mappings (TOML)", type=["toml"], key="settings_upload")
if upload is not None and st.button("Import", key="settings_import"):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / upload.name
        path.write_bytes(upload.getvalue())
        try:
            counts = import_toml(ws, path, user=name)
        except ErpdataError as exc:
            st.error(str(exc))
        else:
            st.session_state["settings_done"] = "Imported: " + ", ".join(
                f"{n} {k} field(s)" for k, n in counts.items())
            st.rerun()
