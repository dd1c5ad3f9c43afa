"""Match: run the matcher, then work through its suggested links in bulk.

The queue is paged from the workspace (keyset paging in the engine), so a million suggestions
cost what a hundred do; a bulk decision first says how many pairs it will touch, and touches
exactly the links the filters show (the engine builds one WHERE for both). The common case,
the auto band, is three clicks at most from here to a committed batch: "Accept the N auto
links", then "Accept N and commit" (or "Accept N pair(s)", then "Commit now").
"""

from __future__ import annotations

import threading
from dataclasses import replace

import streamlit as st

from erpdata import (
    ACTOR_TYPES,
    KINDS,
    STATES,
    BatchResult,
    BulkResult,
    ErpdataError,
    Filter,
    Workspace,
    commit,
    decide_bulk,
    match_workspace,
    pending,
    queue_facets,
    queue_page,
)
from erpdata.matching.runs import run_notes
from erpdata.progress import Progress
from erpdata.roles import refusal
from erpdata.steward.commit import erp_words
from erpdata.steward.states import plain
from pages.shared import ui

PAGE_SIZE = 50
ANY = "any"

ws = ui.workspace()
name, _ = ui.user()
# Whether this page's commit runs as this run begins: should it end while the run draws, the
# counts drawn above its outcome are from before it, so the run is repeated once (below).
commit_was_running = bool(getattr(st.session_state.get("match_commit"), "running", False))

st.title("Match")
st.caption("Suggest an ERP record for every CRM record, then accept or reject the suggested "
           "links in bulk. Single pairs are reviewed on the Review page.")

kind = st.segmented_control("Kind", KINDS, default="company", key="match_kind",
                            format_func=lambda k: ui.KIND_LABELS[k]) or "company"

# --- run: in a worker thread, with progress and Cancel; the page stays usable meanwhile --------


def _start(kind: str) -> None:
    """Start matching ``kind`` (a button callback: the page then draws the running job)."""

    refit = bool(st.session_state.get("match_refit"))

    def work(progress: Progress, cancel: threading.Event, ws: Workspace = ws) -> str:
        result = match_workspace(ws, kind, user=name, progress=progress, cancel=cancel,
                                 refit=refit)
        links = int(result.candidates["match"].sum())
        notes = " ".join(n[0].upper() + n[1:] + "." for n in run_notes(
            result.stats, refit="tick \u201cLearn the model anew\u201d"))
        return (f"{ui.KIND_LABELS[kind]}: {ui.fmt(links)} suggested links; thresholds: "
                f"auto {result.thresholds['auto']:.3f}, review "
                f"{result.thresholds['review']:.3f}." + (f" {notes}" if notes else ""))

    ui.start_job("match", f"Matching {ui.KIND_LABELS[kind].lower()}", work, name)
    st.session_state.pop("match_keys", None)


run = ui.job("match")
with st.container(border=True):
    left, right = st.columns([3, 1], vertical_alignment="center")
    left.markdown(f"**Run matching** for {ui.KIND_LABELS[kind].lower()}: decisions already "
                  "taken are kept; rejected pairs are never suggested again.")
    refused = refusal(ws, "match_workspace", name)
    right.button("Run matching", type="primary", key="run_match", width="stretch",
                 disabled=(run is not None and run.running) or refused is not None,
                 help=refused, on_click=_start, args=(kind,))
    left.checkbox("Learn the model anew", key="match_refit",
                  help="Learn the model and its thresholds again from all records and the "
                       "decisions taken so far. Without it, a run scores with what the last "
                       "learning run learnt and re-scores only the records that changed "
                       "(much faster after a re-load); it learns anew by itself once half "
                       "the records have changed.")
    if refused:
        st.caption(refused)
    if run is not None and run.running:
        ui.job_progress("match")
    elif run is not None and ui.job_outcome(run):
        st.success(f"Last run (by {run.started_by}): {run.result}")

# --- filters and facets -------------------------------------------------------------------------
c1, c2, c3, c4, c5 = st.columns(5)
band = c1.selectbox("Band", [ANY, "auto", "review", "low"], key="match_band")
state = c2.selectbox("Decision", [ANY, *STATES], key="match_state",
                     format_func=lambda s: s if s == ANY else plain("state", s))
conflict = c3.selectbox("Conflict", [ANY, "yes", "no"], key="match_conflict")
actor = c4.selectbox("Actor type", [ANY, *ACTOR_TYPES[kind]], key="match_actor")
country = c5.text_input("Country", key="match_country", placeholder="e.g. NO")
flt = Filter(kind=kind, band=None if band == ANY else band,
             actor_type=None if actor == ANY else actor, country=country.strip() or None,
             conflict=None if conflict == ANY else conflict == "yes",
             state=None if state == ANY else state)

facets = queue_facets(ws, replace(flt, state=None))  # every decision state, to choose from
if not facets["state"]:
    st.info("No suggested links for these filters yet. Run matching, or widen the filters.")
    st.stop()
st.caption(" · ".join(f"{plain('state', value)}: {ui.fmt(facets['state'][value])}"
                      for value in STATES if value in facets["state"]))

# --- one page of the queue ------------------------------------------------------------------------
if st.session_state.get("match_signature") != flt:
    st.session_state["match_signature"] = flt
    st.session_state["match_keys"] = [None]
keys: list = st.session_state.setdefault("match_keys", [None])
page = queue_page(ws, flt, after=keys[-1], size=PAGE_SIZE)
if page.rows.empty:
    st.info(f"No suggested links are {plain('state', state)} for these filters.")
else:
    shown = page.rows.assign(
        state=page.rows["state"].map(lambda v: plain("state", v)),
        erp=[erp_words(*str(e).split(":", 1)) if ":" in str(e) else e
             for e in page.rows["erp"]])
    st.dataframe(shown, hide_index=True, width="stretch", column_config={
        "crm_id": "CRM id", "crm_name": "CRM name", "erp": "ERP record", "erp_name": "ERP name",
        "probability": st.column_config.ProgressColumn("Probability", min_value=0.0,
                                                       max_value=1.0, format="%.3f"),
        "band": "Band", "conflict": "Conflict", "state": "Decision"})
ui.pager(keys, page.next_key, "match", f"Page {len(keys)} · {PAGE_SIZE} per page")

# --- bulk decisions: the count first, then the decision; then, for accepts, the commit -------
COMMIT_LABEL = "Committing the accepted links"


def _left_out(result: BulkResult) -> list[str]:
    """Why the shown links a bulk decision leaves alone are left alone, in words."""
    reasons = (
        (result.conflicts, "in a conflict (a probable duplicate), left for review on the "
                           "Review page; choose Conflict: yes to take them"),
        (result.left_out, "whose records are linked or accepted elsewhere"),
        (result.skipped, "skipped; choose Decision: skipped to decide them in bulk"),
        (result.decided, "already decided"))
    return [f"{ui.fmt(n)} {why}" for n, why in reasons if n]


def _ask(decision: str, f: Filter) -> None:
    """First click of a bulk decision: show the filters it applies to (the auto button sets
    Band to auto), then the counts, and wait for the confirmation."""
    st.session_state["match_band"] = f.band or ANY
    st.session_state["match_pending"] = (decision, f)
    st.session_state.pop("match_commit", None)


def _commit() -> None:
    """Commit every waiting decision as one batch, in a worker thread; while another commit
    runs, it is queued after it (or refused, if this very one runs), and the page says so."""

    target = ui.workspace()  # the workspace as of now: a callback outlives its run

    def work(progress: Progress, cancel: threading.Event, ws: Workspace = target
             ) -> BatchResult:
        return commit(ws, user=name, progress=progress, cancel=cancel)

    submitted = ui.submit_job("commit", COMMIT_LABEL, work, name)
    st.session_state["match_commit"] = submitted.job
    if submitted.outcome != "started":
        st.session_state["match_notice"] = (submitted.outcome, submitted.message)


def _decide(decision: str, f: Filter, then_commit: bool) -> None:
    """Second click: decide the filtered links in one transaction, then (``then_commit``)
    commit them with everything else that waits."""
    try:
        done = decide_bulk(ui.workspace(), decision, f, user=name)
    except ErpdataError as exc:
        st.session_state["match_error"] = str(exc)
        return
    st.session_state.pop("match_pending", None)
    st.session_state["match_done"] = f"{decision.capitalize()}ed {ui.fmt(done.count)} pair(s)."
    if then_commit and done.count:
        _commit()


def _committed(result: BatchResult) -> None:
    """The outcome of this page's commit, in counts."""
    c = result.counts
    if result.batch_id is None:
        st.warning("Nothing was committed: no accepted decision could be.")
    else:
        updates = [f"{ui.fmt(n)} {side} record(s) to update" for n, side in
                   ((c.get("update_crm", 0), "CRM"), (c.get("update_erp", 0), "ERP")) if n]
        st.success(f"Batch {result.batch_id} committed: {ui.fmt(c.get('link', 0))} link(s)"
                   + (f", {ui.fmt(c.get('create_erp', 0))} new ERP record(s)"
                      if c.get("create_erp") else "")
                   + (f"; {', '.join(updates)}" if updates else "")
                   + ". Sync or undo it on the Commit page.")
    if len(result.left_out):
        st.warning(f"{ui.fmt(len(result.left_out))} decision(s) could not be committed and "
                   "stay accepted: the Commit page lists them with the reason.")


st.subheader("Decide in bulk")
st.caption("Applies to the links the filters above show, the Decision filter included: the "
           "undecided ones, or the skipped ones when Decision is skipped. An accept leaves "
           "pairs in a conflict for review unless Conflict is yes.")
waiting = pending(ws)
waiting_n = sum(v["accept"] + v["create"] for v in waiting.values())
auto_flt = replace(flt, band="auto")
auto = decide_bulk(ws, "accept", auto_flt, dry_run=True, sample=0)
with st.container(border=True):
    a1, a2 = st.columns([2, 3], vertical_alignment="center")
    a1.button(f"Accept the {ui.fmt(auto.count)} auto links…", type="primary", key="match_auto",
              disabled=auto.count == 0, on_click=_ask, args=("accept", auto_flt),
              width="stretch", help="Shows the counts first; nothing is written until you "
                                    "confirm.")
    a2.caption(" · ".join([f"Auto band: {ui.fmt(auto.count)} to accept", *_left_out(auto),
                           f"{ui.fmt(waiting_n)} accepted decision(s) already wait to be "
                           "committed"]))
b1, b2, b3 = st.columns(3)
for col, decision in ((b1, "accept"), (b2, "reject")):
    col.button(f"{decision.capitalize()} the filtered links…", key=f"match_{decision}",
               on_click=_ask, args=(decision, flt))
b3.button(f"Commit now ({ui.fmt(waiting_n)} waiting)", key="match_commit_now",
          disabled=waiting_n == 0, on_click=_commit,
          help="Commits every accepted decision as one batch, as the Commit page does.")

pending_ask = st.session_state.get("match_pending")
if pending_ask is not None and pending_ask[1] == flt:
    decision, _ = pending_ask
    preview = decide_bulk(ws, decision, flt, dry_run=True)
    with st.container(border=True):
        st.markdown(f"This will **{decision}** {ui.fmt(preview.count)} pair(s) of the "
                    f"{ui.fmt(preview.listed)} shown.")
        for line in _left_out(preview):
            st.markdown(f"- left out: {line}")
        if decision == "accept":
            st.caption(f"{ui.fmt(waiting_n)} accepted decision(s) already wait to be committed; "
                       "a commit takes them all as one batch.")
        ok, only, cancel = st.columns(3)
        if decision == "accept":
            ok.button(f"Accept {ui.fmt(preview.count)} and commit", type="primary",
                      key="match_confirm_commit", disabled=preview.count == 0,
                      on_click=_decide, args=(decision, flt, True))
        only.button(f"{decision.capitalize()} {ui.fmt(preview.count)} pair(s)",
                    type="secondary" if decision == "accept" else "primary",
                    key="match_confirm", disabled=preview.count == 0,
                    on_click=_decide, args=(decision, flt, False))
        if cancel.button("Cancel", key="match_cancel"):
            st.session_state.pop("match_pending", None)
            st.rerun()

if "match_done" in st.session_state:
    st.success(st.session_state.pop("match_done"))
if "match_error" in st.session_state:
    st.error(st.session_state.pop("match_error"))
notice = st.session_state.pop("match_notice", None)
if notice is not None:
    (st.info if notice[0] == "queued" else st.warning)(notice[1])
mine = st.session_state.get("match_commit")
if mine is not None:
    if mine.running:
        ui.job_progress("commit")
    elif commit_was_running:
        st.rerun()  # it ended during this run: draw the counts after it, and its outcome
    elif ui.job_outcome(mine) and isinstance(mine.result, BatchResult):
        _committed(mine.result)
