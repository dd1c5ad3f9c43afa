"""Review: one suggested link at a time, worked from the keyboard: one key per decision and per
pick, the pair's title and the outcome of the last action always in view.

Keys: A accept, X reject, S skip, N next, P previous, U undo last, D "this CRM record is the
duplicate", M take all CRM (C and R are Streamlit's own keys), E take all ERP, 1-9 one pick (a
whole address is one pick). Why only buttons in the main flow: Streamlit's shortcuts ignore
keys while a text box, radio or select has the focus, so after any action a small script hands
the focus back to the page (and, on a new pair, scrolls to the top). A typed value sits in an
expander, out of the way.

The steward's place is a CRM record id kept in the session; every decision and pick is written
to the workspace at once, so a reload loses nothing but the place in the queue.
"""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from erpdata import (
    KINDS,
    ErpdataError,
    Filter,
    current_decision,
    decide,
    diff,
    pick,
    queue_page,
    suggestions,
    withdraw,
)
from erpdata.steward.explain import waterfall
from erpdata.steward.review import (
    DIRECTION_WORDS,
    PICK_WORDS,
    STATUS_WORDS,
    competitors,
    field_labels,
    pick_items,
    pick_side,
    reject_as_duplicate,
)
from pages.shared import ui

ws = ui.workspace()
name, _ = ui.user()
SIDE = {"crm": "CRM", "erp": "ERP"}


def _refocus(scroll: bool = False) -> None:
    """Ask the next run to hand the focus back to the page (and scroll to the top): a widget
    callback calls it, so every action, the kind and band choices included, ends with the
    keys working again."""
    st.session_state["review_nonce"] = st.session_state.get("review_nonce", 0) + 1
    st.session_state["review_scroll"] = st.session_state.get("review_scroll", False) or scroll


def _focus_script() -> None:
    """Blur whatever has the focus (a select, a radio, a text box, a clicked button) and, after
    a move to another pair, scroll to the top. Runs once per action: the nonce changes the
    element, which is what makes Streamlit run its script again. ``erpdataReviewAction`` says
    which action the page has settled (the browser test waits for it)."""
    nonce = st.session_state.get("review_nonce", 0)
    scroll = "true" if st.session_state.pop("review_scroll", False) else "false"
    st.html(f"""<script>/* review action {nonce} */
(() => {{
  window.erpdataReviewAction = {nonce};
  const a = document.activeElement;
  if (a && a !== document.body && typeof a.blur === "function") a.blur();
  if ({scroll}) {{
    for (const el of [document.querySelector('[data-testid="stMain"]'),
                      document.scrollingElement]) if (el) el.scrollTop = 0;
    window.scrollTo(0, 0);
  }}
}})();
</script>""", unsafe_allow_javascript=True)


bg = "#0e1117" if st.context.theme.type == "dark" else "#ffffff"
# Sticky on the head's wrapper: a sticky element stays within its parent, and Streamlit wraps
# each container in one of exactly its size.
st.html(f"""<style>
[data-testid="stLayoutWrapper"]:has(> .st-key-review_head) {{
  position: sticky; top: 3.75rem; z-index: 990; background: {bg};
  padding-bottom: .5rem; border-bottom: 1px solid rgba(128,128,128,.3);
  box-shadow: 0 -3.75rem 0 0 {bg}; }}
</style>""")

st.title("Review")
top = st.columns([2, 1])
with top[0]:
    kind = st.segmented_control("Kind", KINDS, default="company", key="review_kind",
                                format_func=lambda k: ui.KIND_LABELS[k], on_change=_refocus,
                                args=(True,)) or "company"
band = top[1].selectbox("Band", ["review", "auto", "low", "any"], key="review_band",
                        on_change=_refocus, args=(True,),
                        help="Which suggested links to go through; undecided ones only.")
flt = Filter(kind=kind, band=None if band == "any" else band)

# --- the steward's place: a CRM record id, and the ones already seen (for "previous") ---------
history: list[tuple[float, str]] = st.session_state.setdefault("review_history", [])
if st.session_state.get("review_filter") != flt:
    st.session_state["review_filter"] = flt
    history.clear()
after = history[-1] if history else None
current = queue_page(ws, flt, state="undecided", after=after, size=1).rows
if current.empty and after is not None:  # the end of the queue: stay on the last one seen
    current = queue_page(ws, flt, state="undecided", size=1).rows
if current.empty:
    for k in ("review_done", "review_error"):
        if k in st.session_state:
            (st.success if k == "review_done" else st.error)(st.session_state.pop(k))
    st.info("Nothing left to review for these filters. Run matching on the Match page, or "
            "choose another band.")
    _focus_script()
    st.stop()
row = current.iloc[0]
crm_id, erp = str(row["crm_id"]), str(row["erp"])
erp_type, _, erp_no = erp.partition(":")
key = (float(row["probability"]), crm_id)
seen = current_decision(ws, kind, crm_id)  # a colleague's decision after this is not overruled
rivals = competitors(ws, kind, crm_id, erp)
d = diff(ws, kind, crm_id, erp)
items = pick_items(d, kind)

#: Decisions taken on this page, newest last, for "Undo last": (decision id, what it was).
taken: list[tuple[int, str]] = st.session_state.setdefault("review_taken", [])
pair_words = f"{row['crm_name']} ↔ {row['erp_name']}"


def _go(decision: str | None) -> None:
    """Record ``decision`` (if any) on the shown pair, then move on."""
    _refocus(scroll=True)
    try:
        if decision is not None:  # the workspace as of now (a callback outlives its run)
            made = decide(ui.workspace(), kind, decision, crm_id, erp, user=name,
                          seen=seen)
            taken.append((made, f"{decision} of {crm_id} ↔ {erp}"))
            st.session_state["review_done"] = (f"{decision.capitalize()}: {crm_id} ↔ {erp} "
                                               f"({pair_words})")
        else:
            history.append(key)
    except ErpdataError as exc:
        st.session_state["review_error"] = str(exc)


def _previous() -> None:
    """Back to the pair seen before this one."""
    _refocus(scroll=True)
    if history:
        history.pop()


def _duplicate() -> None:
    """This CRM record duplicates the best competing one: reject the pair, saying so."""
    _refocus(scroll=True)
    try:
        other = rivals.iloc[0]
        made = reject_as_duplicate(ui.workspace(), kind, crm_id, erp, str(other["crm_id"]),
                                   user=name, seen=seen)
        taken.append((made, f"reject of {crm_id} ↔ {erp}"))
        st.session_state["review_done"] = (
            f"Reject: {crm_id} ↔ {erp}: CRM {kind} {crm_id} {row['crm_name']} is a duplicate "
            f"of CRM {kind} {other['crm_id']} {other['crm_name']}")
    except ErpdataError as exc:
        st.session_state["review_error"] = str(exc)


def _undo_last() -> None:
    """Take back the newest decision of this page: its pair is undecided again and, being
    just after the steward's place, is shown next."""
    _refocus(scroll=True)
    made, what = taken.pop()
    try:
        withdraw(ui.workspace(), made, user=name)
        st.session_state["review_done"] = f"Undone: {what}"
    except ErpdataError as exc:
        st.session_state["review_error"] = str(exc)


def _take(fields: tuple[str, ...], side: str, what: str) -> None:
    """Store ``side`` for ``fields`` of the shown pair, all or none."""
    _refocus()
    try:
        n = pick_side(ui.workspace(), kind, crm_id, erp, fields, side, user=name)
        st.session_state["review_done"] = f"{what}: {SIDE[side]} value kept ({n} field(s))"
    except ErpdataError as exc:
        st.session_state["review_error"] = str(exc)


# --- the head: title, outcome and every decision, always in view ----------------------------
with st.container(key="review_head"):
    st.subheader(pair_words)
    st.caption(f"CRM {kind} {crm_id} · ERP {erp_type} {erp_no} · probability "
               f"{row['probability']:.1%} · band {row['band']}"
               + (" · **conflict**" if row["conflict"] else "")
               + (f" · {len(rivals)} other CRM record(s) want this ERP record, best: "
                  f"{rivals.iloc[0]['crm_name']} ({rivals.iloc[0]['probability']:.1%})"
                  if len(rivals) else ""))
    b = st.columns(7)
    b[0].button("Accept", type="primary", key="review_accept", shortcut="a",
                on_click=_go, args=("accept",), help="Shortcut: A")
    b[1].button("Reject", key="review_reject", shortcut="x", on_click=_go, args=("reject",),
                help="Not a match, never suggested again. Shortcut: X")
    b[2].button("Skip", key="review_skip", shortcut="s", on_click=_go, args=("skip",),
                help="Decide later. Shortcut: S")
    b[3].button("Next", key="review_next", shortcut="n", on_click=_go, args=(None,),
                help="Shortcut: N")
    b[4].button("Previous", key="review_prev", shortcut="p", disabled=not history,
                on_click=_previous, help="Shortcut: P")
    b[5].button("Undo last", key="review_undo", shortcut="u", disabled=not taken,
                on_click=_undo_last, help=(f"Take back the {taken[-1][1]}. " if taken else "")
                + "Shortcut: U")
    b[6].button("Duplicate", key="review_duplicate", shortcut="d", disabled=rivals.empty,
                on_click=_duplicate,
                help=("This CRM record is a duplicate of "
                      f"{rivals.iloc[0]['crm_name']} (CRM {kind} {rivals.iloc[0]['crm_id']}), "
                      "which keeps its claim on the ERP record: reject this pair. "
                      if len(rivals) else "No other CRM record wants this ERP record. ")
                + "Shortcut: D")
    if "review_done" in st.session_state:
        st.success(st.session_state.pop("review_done"))
    if "review_error" in st.session_state:
        st.error(st.session_state.pop("review_error"))

# --- picks: one key each; a whole address is one pick -----------------------------------------
if items:
    st.markdown("**Picks** · keys: M all CRM · E all ERP · 1–9 one line (the other side)")
    every = tuple(f for item in items for f in item.fields)
    t = st.columns(4)
    t[0].button("Take all CRM", key="review_all_crm", shortcut="m", on_click=_take,
                args=(every, "crm", "All fields"),
                help="Shortcut: M (C is Streamlit's own key, clear cache)")
    t[1].button("Take all ERP", key="review_all_erp", shortcut="e", on_click=_take,
                args=(every, "erp", "All fields"), help="Shortcut: E")
    for i, item in enumerate(items, start=1):
        c = st.columns([3, 4, 4, 1.4])
        c[0].button(f"{i} · {item.label} → {SIDE[item.next]}" if i <= 9 else
                    f"{item.label} → {SIDE[item.next]}", key=f"review_item_{i}",
                    shortcut=str(i) if i <= 9 else None, on_click=_take,
                    args=(item.fields, item.next, item.label), width="stretch",
                    help=(f"Take the {SIDE[item.next]} value of "
                          + ", ".join(field_labels(kind).get(f, f) for f in item.fields) + "."
                          + (f" Shortcut: {i}" if i <= 9 else "")))
        c[1].text(f"CRM: {item.crm_text}")
        c[2].text(f"ERP: {item.erp_text}")
        c[3].text(f"now: {PICK_WORDS[item.current]}")
else:
    st.caption("No differing synchronised field: nothing to pick.")

# --- all fields, and a typed value out of the way ----------------------------------------------
labels = field_labels(kind)
shown = d[d["status"] != "empty"]
with st.expander("All fields", expanded=True):
    st.dataframe(pd.DataFrame({
        "Field": shown["erp_field"].map(lambda f: labels.get(f, f)),
        "CRM": shown["crm_value"], "ERP": shown["erp_value"],
        "Status": shown["status"].map(STATUS_WORDS),
        "Direction": shown["direction"].map(DIRECTION_WORDS),
        "CRM after": shown["crm_after"], "ERP after": shown["erp_after"]}),
        hide_index=True, width="stretch")

synced = d[d["direction"] != "none"]["erp_field"].tolist()
choices = {"crm": "CRM value", "erp": "ERP value", "value": "Typed value"}


def _store_one() -> None:
    """Store the pick of one field from the form (a typed value needs text: an empty one is
    refused with a message, never dropped silently)."""
    _refocus()
    field = st.session_state[f"one_field_{crm_id}"]
    choice = st.session_state[f"one_choice_{crm_id}"]
    typed = (st.session_state.get(f"one_value_{crm_id}") or "").strip()
    if choice == "value" and not typed:
        st.session_state["review_error"] = (f"{labels.get(field, field)}: type a value first; "
                                            "nothing was stored")
        return
    try:
        pick(ui.workspace(), kind, crm_id, erp, field, choice,
             typed if choice == "value" else None, user=name)
        st.session_state["review_done"] = f"{labels.get(field, field)}: {choices[choice]} kept"
    except ErpdataError as exc:
        st.session_state["review_error"] = str(exc)


if synced:
    with st.expander("Pick one field on its own, or type a value"), \
            st.form(key=f"one_form_{crm_id}", border=False):
        f = st.columns([2, 2, 3])
        f[0].selectbox("Field", synced, key=f"one_field_{crm_id}",
                       format_func=lambda x: labels.get(x, x))
        f[1].radio("Keep", list(choices), format_func=choices.get, key=f"one_choice_{crm_id}")
        f[2].text_input("Typed value", key=f"one_value_{crm_id}")
        st.form_submit_button("Store", on_click=_store_one)

# --- why: the waterfall, and who competes on each side -----------------------------------------
try:
    w = waterfall(ws, kind, crm_id, erp)
except ErpdataError as exc:
    st.warning(str(exc))
else:
    st.markdown("**Why this score**")
    steps = w.frame()
    end = steps["Weight"].cumsum()
    bars = steps.assign(order=range(len(steps)), start=end - steps["Weight"], end=end,
                        label=[f"{p:.0%}" for p in steps["Probability"]],
                        sign=["starting point"] + ["for" if x >= 0 else "against"
                                                   for x in steps["Weight"][1:]])
    chart = alt.Chart(bars).encode(y=alt.Y("Field:N", sort=alt.SortField("order"), title=None,
                                           axis=alt.Axis(labelLimit=260)))
    st.altair_chart(
        chart.mark_bar().encode(
            x=alt.X("start:Q", title="evidence (each bar: what the field adds)"), x2="end:Q",
            color=alt.Color("sign:N", title=None, scale=alt.Scale(
                domain=["starting point", "for", "against"],
                range=["#9e9e9e", "#2e7d32", "#c62828"])),
            tooltip=["Field", "CRM", "ERP", "Agreement", "Weight",
                     alt.Tooltip("Probability:Q", format=".1%")])
        + chart.mark_text(align="left", dx=4).encode(
            x=alt.X("max_end:Q"), text="label:N").transform_calculate(
            max_end="max(datum.start, datum.end)"),
        height=24 * len(steps) + 40, width="stretch")
    st.dataframe(steps, hide_index=True, width="stretch", column_config={
        "Weight": st.column_config.NumberColumn(format="%+.2f"),
        "Probability": st.column_config.NumberColumn("Probability so far", format="percent")})
    st.caption(w.summary())

cands = suggestions(ws, kind, crm_id=crm_id)
others = cands[cands["erp"] != erp]
left, right = st.columns(2)
with left:
    st.markdown("**Other ERP candidates** of this CRM record")
    if len(others):
        st.dataframe(pd.DataFrame({
            "ERP record": others["erp"].str.replace(":", " ", n=1),
            "Name": others["erp_name"], "Probability": others["probability"],
            "Rank": others["rank"]}).head(5), hide_index=True, width="stretch",
            column_config={"Probability": st.column_config.NumberColumn(format="percent")})
    else:
        st.caption("None.")
with right:
    st.markdown("**Other CRM records** that want this ERP record (key D: this one is the "
                "duplicate)")
    if len(rivals):
        st.dataframe(pd.DataFrame({
            "CRM record": f"CRM {kind} " + rivals["crm_id"],
            "Name": rivals["crm_name"], "Probability": rivals["probability"],
            "Its best candidate": rivals["rank"].eq(1).map({True: "yes", False: "no"}),
            "Decision": rivals["state"]}).head(5), hide_index=True, width="stretch",
            column_config={"Probability": st.column_config.NumberColumn(format="percent")})
    else:
        st.caption("None.")

_focus_script()
