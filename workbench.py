"""erpdata workbench: the Streamlit entry (``streamlit run workbench.py``).

The frame around every page: page config, the demo workspace on first start, the navigation and
the sidebar (workspace, user, progress). Pages live in ``pages/``, one per steward task; the
engine (:mod:`erpdata`) does all the work, this file and the pages only call it.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from erpdata.errors import ErpdataError
from erpdata.roles import role_of
from erpdata.steward.decisions import queue_summary
from pages.shared import ui

st.set_page_config(page_title="erpdata workbench", page_icon=":material/join:", layout="wide")

# One line per steward task, in the order of the work; the first one is the start page.
PAGES = [
    st.Page("pages/overview.py", title="Overview", icon=":material/dashboard:", default=True),
    st.Page("pages/load.py", title="Load", icon=":material/upload_file:"),
    st.Page("pages/match.py", title="Match", icon=":material/join_inner:"),
    st.Page("pages/review.py", title="Review", icon=":material/compare:"),
    st.Page("pages/connect.py", title="Connect", icon=":material/link:"),
    st.Page("pages/commit.py", title="Commit", icon=":material/task_alt:"),
    st.Page("pages/reports.py", title="Reports", icon=":material/download:"),
    st.Page("pages/settings.py", title="Settings", icon=":material/settings:"),
]


def ensure_workspace(path: Path) -> None:
    """On first start (no workspace file yet) build the demo workspace, showing its progress."""
    if path.exists():
        return
    size = ui.demo_size()
    build = ui.demo_build(path, size)
    with st.status("Building the demo workspace…", expanded=True) as status:
        st.write(f"There is no workspace at `{path}` yet, so the workbench builds a demo one: "
                 f"{ui.fmt(size)} CRM companies with their persons and projects, and an ERP "
                 "export to connect them to.")
        bar = st.progress(0.0, text="starting")
        while not build.done.wait(0.25):
            bar.progress(build.fraction, text=build.stage)
        if not ui.job_outcome(build):
            status.update(label="Building the demo workspace failed", state="error")
            st.stop()
        bar.progress(1.0, text="done")
        status.update(label="Demo workspace ready", state="complete", expanded=False)


def sign_in() -> None:
    """With ``[auth]`` configured, nobody gets past this without signing in (OIDC)."""
    if not ui.auth_configured() or st.user.get("is_logged_in"):
        return
    st.title("erpdata workbench")
    st.write("This workbench identifies its users: sign in to decide, commit or change "
             "settings. What you do is recorded under your e-mail address.")
    st.button("Sign in", type="primary", key="sign_in", on_click=st.login)
    st.stop()


def sidebar(path: Path, counts: dict) -> None:
    """Workspace, user and progress: what a steward needs to see on every page."""
    name, how = ui.user()
    rows = ui.counts_rows(counts)
    with st.sidebar:
        st.markdown("**Workspace**")
        st.caption(str(path))
        st.markdown(f"**User** &nbsp; {name} :gray[({how}, {role_of(ui.workspace(), name)})]")
        if how == "signed in":
            st.button("Sign out", key="sign_out", on_click=st.logout)
        st.markdown("**Linked**")
        for r in rows:
            st.progress(r["share"], text=f"{r['label']}: {ui.fmt(r['linked'])} of "
                        f"{ui.fmt(r['crm'])} ({ui.pct(r['share'])})")
        st.caption(f"Records: CRM {ui.fmt(sum(r['crm'] for r in rows))} · "
                   f"ERP {ui.fmt(sum(r['erp'] for r in rows))}")
        st.markdown("**To review**")
        todo = queue_summary(ui.workspace())
        st.caption("  \n".join(f"{ui.KIND_LABELS[k]}: {ui.fmt(v['undecided'])} suggested "
                               f"link(s), {ui.fmt(v['conflicts'])} conflict(s)"
                               for k, v in todo.items()))


sign_in()
path = ui.workspace_path()
ensure_workspace(path)
try:
    counts = ui.counts(ui.workspace())
except ErpdataError as exc:
    st.error(str(exc))
    st.stop()

page = st.navigation(PAGES)
sidebar(path, counts)
page.run()
