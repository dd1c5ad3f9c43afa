"""Commit & sync: the pending batch as a dry run, then committed in one transaction; "Sync now"
runs the queued actions through the live systems; the conflicts a sync found; batches with undo.
"""

from __future__ import annotations

import threading

import streamlit as st

from erpdata import BatchResult, ErpdataError, Workspace, commit, pending, undo
from erpdata.live.connections import connections
from erpdata.live.sync import (
    SyncReport,
    action_counts,
    conflicts,
    failures,
    resolve_conflict,
    retry_failed,
    sync_now,
)
from erpdata.progress import Progress
from erpdata.roles import refusal
from erpdata.steward.commit import (
    batches_in_words,
    conflicts_in_words,
    describe_actions,
    left_out_in_words,
    summary_words,
)
from erpdata.steward.states import plain
from pages.shared import ui

#: Decisions of each kind and type planned for the sample on every run of the page: the whole
#: batch (maybe a million pairs) is planned only when asked, in a worker thread.
SAMPLE_EACH = 10

ws = ui.workspace()
name, _ = ui.user()

st.title("Commit")
st.caption("Accepted decisions, picks and creates become links and queued actions in one "
           "batch. Every overwritten value is kept, and a batch can be undone exactly.")

def _notice(key: str, submitted: ui.Submitted) -> None:
    """Keep what became of a click that was queued or refused, for the page to say: a click
    is never dropped without a word."""
    if submitted.outcome == "started":
        st.session_state.pop(key, None)
    else:
        st.session_state[key] = (submitted.outcome, submitted.message)


def _show_notice(key: str) -> None:
    """The queued (blue) or refused (yellow) click of :func:`_notice`, once."""
    said = st.session_state.pop(key, None)
    if said is not None:
        (st.info if said[0] == "queued" else st.warning)(said[1])


def _start(dry_run: bool) -> None:
    """Plan (and unless ``dry_run``, write) the whole batch in a worker thread; a commit
    asked for while a dry run runs is queued after it."""

    def work(progress: Progress, cancel: threading.Event, ws: Workspace = ws) -> BatchResult:
        return commit(ws, user=name, dry_run=dry_run, progress=progress, cancel=cancel)

    _notice("commit_notice", ui.submit_job(
        "commit", "Checking the batch" if dry_run else "Committing", work, name))


def _undo(batch: int) -> None:
    """Undo ``batch`` in a worker thread (a batch of a million links takes a while)."""

    def work(_progress: Progress, _cancel: threading.Event, ws: Workspace = ws) -> str:
        done = undo(ws, batch, user=name)
        return (f"Batch {batch} undone: {ui.fmt(done['links'])} link(s) removed, "
                f"{ui.fmt(done['fields'])} value(s) restored.")

    st.session_state.pop("undo_pending", None)
    _notice("commit_notice", ui.submit_job("commit", f"Undoing batch {batch}", work, name))


def _overwrites(result: BatchResult) -> None:
    """Per side and field, how many values the batch replaces and how many empty fields it
    fills, with the fields' labels: what a default pick would overwrite, before it does."""
    table = result.overwrites
    if table.empty:
        st.caption("No field value changes on either side: links only.")
        return
    verb = "would" if result.dry_run else "did"
    st.markdown(f"**What the batch {verb} write, per field** (values replaced, empty fields "
                "filled)")
    for col, side, title in zip(st.columns(2), ("erp", "crm"), ("In the ERP", "In the CRM"),
                                strict=True):
        rows = table[table["side"] == side]
        col.caption(title)
        if rows.empty:
            col.caption("nothing")
            continue
        col.dataframe(rows.assign(kind=rows["kind"].map(ui.KIND_LABELS))[
            ["label", "kind", "overwrite", "fill"]].rename(columns={
                "label": "field", "overwrite": "values replaced",
                "fill": "empty fields filled"}),
            hide_index=True, width="stretch", key=f"overwrites_{side}")


waiting = pending(ws)
accepts = sum(k["accept"] for k in waiting.values())
creates = sum(k["create"] for k in waiting.values())
job = ui.job("commit")
running = job is not None and job.running
c1, c2, c3 = st.columns([1, 1, 2])
c1.metric("accepted links waiting", ui.fmt(accepts))
c2.metric("creates waiting", ui.fmt(creates))
c3.caption(" · ".join(f"{ui.KIND_LABELS[k]}: {ui.fmt(v['accept'])} link(s), "
                      f"{ui.fmt(v['create'])} create(s)" for k, v in waiting.items()))
if accepts + creates:
    sample = commit(ws, dry_run=True, first=SAMPLE_EACH, sample=100_000)
    # a few of each action type (links come first in a batch and would fill the sample)
    shown_sample = sample.actions.groupby(["kind", "action"], sort=False).head(4).head(20)
    st.markdown("**Sample of the actions** (from the first decisions of each kind; the "
                "dry run checks the whole batch)")
    st.dataframe({"What the batch does": describe_actions(ws, shown_sample)},
                 hide_index=True, width="stretch", key="commit_sample")
    b1, b2, _ = st.columns([1, 1, 2])
    b1.button("Dry run the whole batch", key="commit_check", disabled=running,
              on_click=_start, args=(True,), width="stretch",
              help="Counts every action and, per field, the values the batch would replace "
                   "on each side, and lists what cannot be committed; writes nothing.")
    committing = running and job is not None and job.label == "Committing"
    refused = refusal(ws, "commit", name)
    if refused:
        st.caption(refused)
    b2.button(f"Commit {ui.fmt(accepts + creates)} decision(s)", type="primary",
              key="commit_go", disabled=committing or refused is not None, on_click=_start,
              args=(False,),
              width="stretch",
              help="Writes the batch in one transaction. Run the dry run first to see, per "
                   "field, what it overwrites; clicked while the dry run runs, the commit "
                   "starts right after it.")
elif not running:
    st.info("Nothing to commit: accept suggested links on the Match or Review page first.")
_show_notice("commit_notice")

if running:
    ui.job_progress("commit")
elif job is not None and ui.job_outcome(job):
    result: BatchResult | str = job.result
    if isinstance(result, str):
        st.success(result)
    elif result.dry_run:
        st.markdown(f"**Dry run** (by {job.started_by}) of the whole batch")
        cols = st.columns(len(result.counts))
        for col, (action, n) in zip(cols, result.counts.items(), strict=True):
            col.metric(plain("action", action) + "s", ui.fmt(n))
        _overwrites(result)
    else:
        st.success(summary_words(result).replace("\n", "  \n"))
        if result.batch_id is not None:
            _overwrites(result)
    if isinstance(result, BatchResult) and len(result.left_out):
        st.warning(f"{ui.fmt(len(result.left_out))} decision(s) cannot be committed yet and "
                   "stay accepted" + (" (the first 200):" if len(result.left_out) > 200
                                      else ":"))
        st.dataframe(left_out_in_words(ws, result.left_out.head(200)), hide_index=True,
                     width="stretch", key="commit_left_out")

# --- Sync now: the queued actions to the live systems, then what they changed ------------------
st.subheader("Sync now")
linked_systems = connections(ws)
counts = action_counts(ws)
st.caption("Actions: " + " · ".join(f"{plain('status', status)}: {ui.fmt(n)}"
                                    for status, n in sorted(counts.items()))
           if counts else "No actions yet: commit a batch first.")
sync_job = ui.job("sync")
sync_running = sync_job is not None and sync_job.running


def _sync() -> None:
    """Push the queued actions and pull what changed, in a worker thread; refused, with the
    reason, while a sync runs."""
    secrets = ui.connection_secrets()

    def work(progress: Progress, cancel: threading.Event, ws: Workspace = ws) -> SyncReport:
        return sync_now(ws, user=name, secrets=secrets, progress=progress, cancel=cancel)

    _notice("sync_notice", ui.submit_job("sync", "Syncing", work, name, queue=False))


def _sync_report(report: SyncReport, by: str) -> None:
    """The sync's outcome coloured by what happened: red when any action failed (each
    reason with its count), yellow when partial (a warning, a conflict, actions skipped for
    want of a connection), green only when every action was done."""
    head = report.summary().splitlines()[0]
    lines = [f"- {o.line()}" for o in report.outcomes() if o.outcome != "done"]
    text = "  \n".join([f"{head} (by {by})", *lines]) if lines else f"{head} (by {by})"
    {"error": st.error, "warning": st.warning, "success": st.success,
     "nothing": st.info}[report.level](text)


if not linked_systems:
    st.info("No connection to sync with: add one under Connections on the Settings page. "
            "Until then the change sets go out as reports (Reports page).")
    st.page_link("pages/settings.py", label="Settings: add a connection",
                 icon=":material/settings:")
else:
    failed = failures(ws)
    if failed:
        st.error(f"{ui.fmt(sum(o.count for o in failed))} action(s) failed and are not sent "
                 "again until you mend the cause and send them again:  \n"
                 + "  \n".join(f"- {o.line()}" for o in failed[:10])
                 + (f"  \n- … and {len(failed) - 10} other reason(s)" if len(failed) > 10
                    else ""))
    s1, s2 = st.columns([1, 2])
    cannot_sync = refusal(ws, "sync_now", name)
    if cannot_sync:
        st.caption(cannot_sync)
    s1.button("Sync now", type="primary", key="sync_go",
              disabled=sync_running or cannot_sync is not None,
              on_click=_sync, help="Runs every queued action once, then pulls what the "
                                   "systems changed: " + ", ".join(c.name for c in
                                                                    linked_systems))
    if counts.get("error") and s2.button(
            f"Send failed actions again ({ui.fmt(counts['error'])})", key="sync_retry",
            disabled=sync_running, help="Queue the failed actions for the next sync, once "
                                        "what made them fail (a password, a locked record) "
                                        "is mended."):
        try:
            st.toast(f"{ui.fmt(retry_failed(ws, user=name))} failed action(s) queued again")
        except ErpdataError as exc:
            st.error(str(exc))
        else:
            st.rerun()
_show_notice("sync_notice")
if sync_running:
    ui.job_progress("sync")
elif sync_job is not None and ui.job_outcome(sync_job):
    _sync_report(sync_job.result, sync_job.started_by)

open_conflicts = conflicts(ws)
if len(open_conflicts):
    st.warning(f"{ui.fmt(len(open_conflicts))} field(s) changed in the ERP since their batch "
               "was committed: the sync did not overwrite them. Keep our value (written at "
               "the next sync) or theirs (taken into the workspace).")
    shown_conflicts = conflicts_in_words(ws, open_conflicts.head(200))
    st.dataframe(shown_conflicts, hide_index=True, width="stretch", key="commit_conflicts")
    said = {int(r.Conflict): f"{r.Conflict}: {r.Record}, {r.Field}"
            for r in shown_conflicts.itertuples(index=False)}
    k1, k2, k3 = st.columns([1, 1, 1], vertical_alignment="bottom")
    chosen = k1.selectbox("Conflict", open_conflicts["conflict_id"].tolist(),
                          key="conflict_pick",
                          format_func=lambda c: said.get(int(c), f"conflict {c}"))
    for col, choice, label in ((k2, "ours", "Keep ours"), (k3, "theirs", "Keep theirs")):
        if col.button(label, key=f"conflict_{choice}"):
            try:
                resolve_conflict(ws, int(chosen), choice, user=name)
            except ErpdataError as exc:
                st.error(str(exc))
            else:
                st.rerun()

st.subheader("Batches")
history = batches_in_words(ws)
if history.empty:
    st.caption("No batches yet.")
    st.stop()
st.dataframe(history, hide_index=True, width="stretch", key="commit_batches", column_config={
    "When": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm"),
    "Undone at": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm")})
undoable = history[history["Status"] == plain("status", "committed")]
committed = undoable["Batch"].tolist()
if committed:
    about = dict(zip(undoable["Batch"], undoable["What"], strict=True))
    c1, c2 = st.columns([2, 2], vertical_alignment="bottom")
    batch = c1.selectbox("Batch to undo", committed, key="undo_batch",
                         format_func=lambda b: f"Batch {b}: {about[b]}")
    if c2.button("Undo this batch…", key="undo_ask"):
        st.session_state["undo_pending"] = batch
    if st.session_state.get("undo_pending") == batch:
        st.warning(f"Undo batch {batch}: its links are removed, the values it overwrote come "
                   "back, its decisions are accepted again and its queued actions cancelled.")
        st.button(f"Undo batch {batch}", type="primary", key="undo_go", disabled=running,
                  on_click=_undo, args=(int(batch),))
