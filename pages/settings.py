"""Settings: the field mappings of each kind (SuperOffice's Mappings screen), as a table; the
thresholds of the bands; users and their roles; connections to live systems.

Saving validates like SuperOffice does when a connection is activated; an invalid mapping is
refused with every problem named, and nothing is changed. Only admins change settings: the
engine refuses anyone else, whatever the page shows.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pandas as pd
import streamlit as st

from erpdata import KINDS, ErpdataError, grant, mappings, save_mappings
from erpdata.live.connections import (
    NAME_LABELS,
    TYPES,
    Connection,
    add_connection,
    connections,
    setup_connection,
    setup_message,
    test_connection,
    tryton_names,
)
from erpdata.live.connectors.tryton import SETUP_BUTTON
from erpdata.paths import allowed_folders, save_allowed_folders
from erpdata.roles import ROLES, refusal, role_of, users
from erpdata.steward.mappings import (
    DIRECTIONS,
    WINNERS,
    from_frame,
    import_toml,
    to_frame,
    to_toml,
)
from erpdata.steward.review import field_labels
from erpdata.steward.states import plain
from erpdata.steward.thresholds import save_thresholds, thresholds
from pages.shared import ui

ws = ui.workspace()
name, _ = ui.user()

st.title("Settings")
st.caption("Which fields synchronise, in which direction, which side wins a conflict by "
           "default, and what a new ERP actor gets.")
if "settings_done" in st.session_state:
    st.success(st.session_state.pop("settings_done"))

kind = st.segmented_control("Kind", KINDS, default="company", key="settings_kind",
                            format_func=lambda k: ui.KIND_LABELS[k]) or "company"
# the field's label (SuperOffice's name) first, read-only: the keys are what the mappings
# store and the TOML exchanges, the label is what a steward knows the field by
labels = field_labels(kind)
shown_mappings = to_frame(mappings(ws, kind))
shown_mappings.insert(0, "label", shown_mappings["erp_field"].map(labels))
edited = st.data_editor(
    shown_mappings, key=f"mapping_editor_{kind}", hide_index=True, disabled=["label"],
    num_rows="dynamic", width="stretch", column_config={
        "label": "Field", "erp_field": "ERP field key", "crm_field": "CRM field key",
        "direction": st.column_config.SelectboxColumn(
            "Direction", options=list(DIRECTIONS), format_func=lambda d: plain("direction", d)),
        "show_in_search": "In search", "show_in_erp_tab": "In ERP tab",
        "winner": st.column_config.SelectboxColumn(
            "Default winner", options=list(WINNERS), format_func=lambda w: plain("winner", w)),
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

# --- thresholds ------------------------------------------------------------------------------
st.subheader("Thresholds")
st.caption("Suggested links with a probability at or above **auto** may be accepted in bulk; "
           "those at or above **review** are suggested links to review. Leave a limit empty "
           "to let the model choose it at every run. Changes apply from the next matching run.")
fixed = thresholds(ws, kind)
t1, t2, t3 = st.columns([1, 1, 1], vertical_alignment="bottom")
auto = t1.number_input("Auto from", min_value=0.0, max_value=1.0, step=0.001, format="%.3f",
                       value=fixed.get("auto"), key=f"auto_{kind}", placeholder="model")
review = t2.number_input("Review from", min_value=0.0, max_value=1.0, step=0.001,
                         format="%.3f", value=fixed.get("review"), key=f"review_{kind}",
                         placeholder="model")
if t3.button("Save thresholds", key="thresholds_save"):
    try:
        save_thresholds(ws, kind, auto=auto, review=review, user=name)
    except ErpdataError as exc:
        st.error(str(exc))
    else:
        st.session_state["settings_done"] = (f"{ui.KIND_LABELS[kind]}: thresholds saved; run "
                                             "matching to apply them.")
        st.rerun()

# --- folders a typed path may read ---------------------------------------------------------------
st.subheader("Server folders")
st.caption("On the Load page an admin may type the path of a file on the server instead of "
           "uploading it, but only of a file in one of these folders, and never a hidden file "
           "or a secrets.toml. Everyone else uploads their exports.")
folders = [str(f) for f in allowed_folders(ws)]
if folders:
    st.dataframe(pd.DataFrame({"Folder": folders}), hide_index=True, width="stretch",
                 key="folders_table")
else:
    st.caption("No folder is listed: nobody loads a file by its path.")
my_role = role_of(ws, name)
if my_role == "admin":
    text = st.text_area("Allowed folders, one whole path per line (empty: none)",
                        "\n".join(folders), key="folders_text")
    if st.button("Save folders", key="folders_save"):
        try:
            saved = save_allowed_folders(ws, [x for x in text.splitlines() if x.strip()],
                                         user=name)
        except ErpdataError as exc:
            st.error(str(exc))
        else:
            st.session_state["settings_done"] = (
                "Server folders saved: " + ", ".join(map(str, saved)) if saved else
                "Server folders saved: none, so nobody loads a file by its path.")
            st.rerun()
else:
    st.caption(f"Only an admin changes them (you are a {my_role}).")

# --- users and roles ---------------------------------------------------------------------------
st.subheader("Users and roles")
st.caption("Viewers read; stewards also decide, pick, commit and undo; admins also change "
           "settings and roles. While nobody is listed, everyone is an admin; once someone is, "
           "everyone not listed is a viewer.")
people = users(ws)
if people.empty:
    st.caption("Nobody is listed yet.")
else:
    st.dataframe(people, hide_index=True, width="stretch", column_config={
        "name": "User", "role": "Role", "granted_by": "Granted by", "granted_at": "Granted at"})
r1, r2, r3 = st.columns([2, 1, 1], vertical_alignment="bottom")
who = r1.text_input("User (e-mail when users sign in)", key="role_user")
role = r2.selectbox("Role", ROLES, index=1, key="role_role")
if r3.button("Grant", key="role_grant", disabled=not who.strip()):
    try:
        grant(ws, who.strip(), role, user=name)
    except ErpdataError as exc:
        st.error(str(exc))
    else:
        st.session_state["settings_done"] = f"{who.strip()} is now a {role}."
        st.rerun()

# --- connections -------------------------------------------------------------------------------
st.subheader("Connections")
st.caption("The live systems the workbench loads from and syncs to. Secrets are never stored: "
           "they come from the environment variable ERPDATA_SECRET_<NAME> or from "
           "`[erpdata.secrets]` in the app's secrets.toml.")
secrets = ui.connection_secrets()
known = connections(ws)


def _names(c: Connection) -> str:
    """A tryton connection's category and relation names, as its Tryton calls them."""
    if c.type != "tryton":
        return ""
    n = tryton_names(c)
    return (f"{n['customer_category']}, {n['supplier_category']} / "
            f"{n['employee_relation']}, {n['employer_relation']}")


if known:
    st.dataframe(pd.DataFrame([{
        "name": c.name, "type": c.type, "side": plain("side", c.side), "url": c.url,
        "database": c.database, "user": c.username, "verify TLS": c.verify_tls,
        "Tryton names": _names(c),
        "secret": "set" if c.name in secrets or os.environ.get(c.secret_variable)
        else f"missing: set {c.secret_variable}" if c.type != "files" else "not needed"}
        for c in known]), hide_index=True, width="stretch", column_config={
            "Tryton names": st.column_config.TextColumn(
                "Categories / relations (Tryton)",
                help="customer and supplier categories / employee and employer relation "
                     "types, as this Tryton names them")})
    n1, n2, n3 = st.columns([2, 1, 1], vertical_alignment="bottom")
    probe = n1.selectbox("Connection", [c.name for c in known], key="conn_probe")
    probed = next(c for c in known if c.name == probe)
    if n2.button("Test connection", key="conn_test"):
        answer = test_connection(ws, probe, secrets.get(probe))
        shown = answer.said()
        {"ok": st.success, "ok_with_info": st.success, "warning": st.warning}.get(
            answer.state, st.error)(
            f"{probe}: {plain('answer', answer.state)}: {shown}"
            + (f" ({answer.tech_explanation})" if answer.tech_explanation else ""))
    cannot_setup = (refusal(ws, "setup_connection", name) if probed.type == "tryton"
                    else "Only a Tryton connection is set up here.")
    if n3.button(SETUP_BUTTON, key="conn_setup", disabled=cannot_setup is not None,
                 help=cannot_setup or "Create in a fresh Tryton what erpdata needs and it "
                 "lacks: the customer and supplier categories, the employee relation types, "
                 "a company for the user. Creates nothing that is already there."):
        made = setup_connection(ws, probe, secrets.get(probe), user=name)
        (st.success if made.ok else st.error)(f"{probe}: {setup_message(made)}")
with st.expander("Add or change a connection", expanded=not known):
    f1, f2, f3 = st.columns(3)
    conn_name = f1.text_input("Name", key="conn_name")
    conn_type = f2.selectbox("Connector", list(TYPES), key="conn_type")
    conn_side = f3.selectbox("Side", TYPES[conn_type], key="conn_side")
    conn_url = st.text_input("URL (a folder for files)", key="conn_url")
    g1, g2, g3 = st.columns(3)
    conn_db = g1.text_input("Database (Tryton)", key="conn_db")
    conn_user = g2.text_input("User", key="conn_user")
    conn_erp_id = g3.text_input("ERP connection id (SuperOffice)", key="conn_erp_id")
    options: dict[str, str] = {}
    if conn_type == "tryton":
        st.caption("The names this Tryton gives its party categories and relation types "
                   "(empty: the English default shown).")
        for column, (option, (label, default)) in zip(
                st.columns(len(NAME_LABELS)), NAME_LABELS.items(), strict=True):
            typed = column.text_input(label, key=f"conn_{option}", placeholder=default)
            if typed.strip():
                options[option] = typed.strip()
    if conn_erp_id.strip():
        options["erp_connection_id"] = conn_erp_id.strip()
    conn_tls = st.checkbox("Verify TLS certificates", value=True, key="conn_tls")
    if st.button("Save connection", key="conn_save", disabled=not conn_name.strip()):
        try:
            add_connection(ws, Connection(
                conn_name.strip(), conn_type, conn_side, conn_url.strip(),
                conn_db.strip() or None, conn_user.strip() or None, conn_tls, options),
                user=name)
        except ErpdataError as exc:
            st.error(str(exc))
        else:
            st.session_state["settings_done"] = f"Connection {conn_name.strip()} saved."
            st.rerun()
