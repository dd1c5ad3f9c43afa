"""The Commit and Reports pages under AppTest: dry run, commit, undo; reports built on click."""

from __future__ import annotations

import importlib
import re
import threading
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from erpdata import Filter, build_demo, decide_bulk, grant, match_workspace
from erpdata.live.connections import Connection, add_connection
from erpdata.live.connectors.base import Answer
from erpdata.live.connectors.folders import FilesCrmConnector
from erpdata.live.sync import action_counts, sync
from erpdata.progress import Progress
from erpdata.steward.commit import commit
from erpdata.workspace import Workspace
from tests.ui.conftest import finish_jobs

commit_mod = importlib.import_module("erpdata.steward.commit")  # the module, not the function


@pytest.fixture
def accepted(tmp_path: Path) -> tuple[Path, int]:
    path = tmp_path / "commit.duckdb"
    with Workspace.open(path) as ws:
        build_demo(ws, size=200, seed=5)
        match_workspace(ws, "company")
        n = decide_bulk(ws, "accept", Filter(band="auto"), user="kari").count
    return path, n


def _links(path: Path) -> int:
    with Workspace.open(path) as ws:
        (n,) = ws.con.execute("SELECT count(*) FROM links").fetchone() or (0,)
    return int(n)


def test_dry_run_commit_and_undo(accepted: tuple[Path, int], open_page) -> None:
    path, n = accepted
    at = open_page(path, "commit")
    assert (at.metric[0].label, at.metric[0].value) == ("accepted links waiting", f"{n:,}")
    sample = at.dataframe[0].value["What the batch does"]  # a few of each action type
    assert {w.split(" ")[0] for w in sample} == {"link", "update"}
    assert all(w.startswith(("link CRM company ", "update CRM company ",
                             "update ERP customer ", "update ERP supplier ",
                             "update ERP partner ")) for w in sample)
    assert any(w.startswith("update ERP customer ") for w in sample)
    at.button(key="commit_check").click().run()
    finish_jobs(at)
    assert not at.exception
    assert (at.metric[2].label, at.metric[2].value) == ("links", f"{n:,}")
    assert _links(path) == 0  # the dry run wrote nothing
    at.button(key="commit_go").click().run()
    finish_jobs(at)
    assert not at.exception
    assert at.success[0].value.startswith(f"Batch 1 committed: {n:,} links, ")
    assert _links(path) == n
    assert at.metric[0].value == "0"
    at.button(key="undo_ask").click().run()
    at.button(key="undo_go").click().run()
    finish_jobs(at)
    assert not at.exception
    assert at.success[0].value.startswith(f"Batch 1 undone: {n:,} link(s) removed")
    assert _links(path) == 0


def test_a_viewer_cannot_commit(accepted: tuple[Path, int], open_page) -> None:
    path, _ = accepted
    with Workspace.open(path) as ws:
        grant(ws, "kari", "admin", user="kari")
        grant(ws, "tester", "viewer", user="kari")
    at = open_page(path, "commit")
    said = "user 'tester' is a viewer: committing needs the steward role"
    assert at.button(key="commit_go").disabled  # the page says why instead of starting a job
    assert any(said in c.value for c in at.caption)
    assert _links(path) == 0  # and the engine refuses a commit anyway: test_role_boundaries.py


def test_reports_are_built_on_click(accepted: tuple[Path, int], open_page) -> None:
    path, _ = accepted
    at = open_page(path, "reports")
    assert not at.get("download_button")  # nothing built until asked
    at.button(key="build_csv").click().run()
    at.button(key="build_xlsx").click().run()
    finish_jobs(at)  # the XLSX is built as a job
    assert not at.exception
    labels = sorted(b.proto.label for b in at.get("download_button"))
    assert labels == ["Download links.csv", "Download reports.xlsx"]
    name, data = at.session_state["report_csv"]
    # the demo's companies are Norwegian: a BOM and semicolons, as Excel there reads them
    assert name == "links.csv" and data.startswith(b"\xef\xbb\xbfkind;crm_id;crm_name;")


@pytest.mark.parametrize("page", ["commit", "reports"])
def test_pages_render_on_an_empty_workspace(empty_workspace: Path, open_page, page: str) -> None:
    at = open_page(empty_workspace, page)
    assert at.title[0].value == page.capitalize()


def test_the_activity_log_shows_who_did_what(accepted: tuple[Path, int], open_page) -> None:
    path, n = accepted
    at = open_page(path, "reports")
    at.toggle(key="activity_show").set_value(True).run()
    assert not at.exception
    log = at.dataframe[0].value
    assert len(log) == min(n, 50) and set(log["Who"]) == {"kari"}
    assert log["What"].str.match(r"accepted the link CRM company \d+ \S.* → "
                                 r"(customer|supplier|partner) \d+ \S").all()
    at.text_input(key="activity_user").input("ola").run()
    assert at.dataframe[0].value.empty


def test_sync_now_with_an_export_folder(accepted: tuple[Path, int], open_page,
                                        tmp_path: Path) -> None:
    path, n = accepted
    at = open_page(path, "commit")
    assert "No connection to sync with" in at.info[0].value
    at.button(key="commit_go").click().run()
    finish_jobs(at)
    with Workspace.open(path) as ws:
        add_connection(ws, Connection("exports", "files", "crm", str(tmp_path / "out")))
        queued = dict(ws.con.execute("SELECT action, count(*) FROM actions GROUP BY ALL"
                                     ).fetchall())
    assert queued["link"] == n
    (tmp_path / "out").mkdir()
    at = open_page(path, "commit")
    at.button(key="sync_go").click().run()
    finish_jobs(at)
    assert not at.exception
    # a CRM export folder takes the links and CRM updates; the ERP updates wait for an ERP:
    # a partial sync, yellow, never green
    assert not [x for x in at.success if x.value.startswith("synced")] and not at.error
    assert at.warning[-1].value == (
        f"synced: {n + queued['update_crm']:,} done; {queued['update_erp']:,} skipped: "
        f"{queued['update_erp']:,} ERP update(s) wait for an ERP connection; pulled 0 new or "
        "changed record(s) (by tester)  \n"
        f"- skipped: {queued['update_erp']:,} ERP update(s): wait for an ERP connection")
    assert len((tmp_path / "out" / "outbox" / "links.csv").read_text().splitlines()) == n + 1


class _RefusingCrm(FilesCrmConnector):
    """A CRM export folder that refuses every link (as a CRM with a wrong password would)."""

    def connect(self, kind: str, crm_id: str, erp_actor_type: str, erp_key: str,
                *args: object, **kwargs: object) -> Answer[bool]:
        return Answer.failed("the CRM refused the login", "HTTP 401")


def test_failed_actions_are_sent_again_on_request(accepted: tuple[Path, int], open_page,
                                                  tmp_path: Path) -> None:
    path, n = accepted
    out = tmp_path / "out"
    out.mkdir()
    with Workspace.open(path) as ws:
        commit(ws, user="kari")
        add_connection(ws, Connection("exports", "files", "crm", str(out)))
        sync(ws, crm=_RefusingCrm(out), user="kari")
        counts = action_counts(ws)
    at = open_page(path, "commit")
    assert counts["error"] == n  # every link; the CRM updates went to the folder
    assert at.button(key="sync_retry").label == f"Send failed actions again ({n})"
    at.button(key="sync_retry").click().run()
    assert not at.exception
    with Workspace.open(path) as ws:
        assert dict(ws.con.execute("SELECT status, count(*) FROM actions WHERE action = 'link' "
                                   "GROUP BY 1").fetchall()) == {"queued": n}
    at.button(key="sync_go").click().run()
    finish_jobs(at)
    with Workspace.open(path) as ws:
        assert dict(ws.con.execute("SELECT status, count(*) FROM actions WHERE action = 'link' "
                                   "GROUP BY 1").fetchall()) == {"ok": n}
    assert len((out / "outbox" / "links.csv").read_text().splitlines()) == n + 1
    assert not any(b.key == "sync_retry" for b in at.button)


def _settle(timeout: float = 60) -> None:
    """Wait until no job runs, queued ones included (a queued job starts as the one before it
    ends, so one pass over the jobs is not enough)."""
    import pages.shared.ui as workbench_ui

    end = time.monotonic() + timeout
    while any(j.running for j in list(workbench_ui._jobs().values())):
        assert time.monotonic() < end, "jobs still running"
        time.sleep(0.02)


def test_a_commit_clicked_while_the_dry_run_runs_is_queued_and_makes_the_batch(
        accepted: tuple[Path, int], open_page, monkeypatch: pytest.MonkeyPatch) -> None:
    """The click that used to be dropped (it got the running dry run back): it is queued,
    the page says so, a second click is refused with the reason, and the batch is made."""
    import pages.shared.ui as workbench_ui

    path, n = accepted
    gate, real = threading.Event(), commit_mod.plan

    def held(*args: object, first: int | None = None, **kwargs: object) -> object:
        if first is None:  # the whole batch (the dry run) waits for the test to let it go
            assert gate.wait(60)
        return real(*args, first=first, **kwargs)

    monkeypatch.setattr(commit_mod, "plan", held)
    at = open_page(path, "commit")
    at.button(key="commit_check").click().run()
    running = workbench_ui.job("commit")
    assert running is not None and running.running and running.label == "Checking the batch"
    at.button(key="commit_go").click().run()
    assert not at.exception
    assert "Committing is queued: it starts when checking the batch ends." in [
        i.value for i in at.info]
    at.button(key="commit_go").click().run()  # clicked again: refused, and said so
    assert [w.value for w in at.warning] == [
        "Committing is already queued (queued by tester): it starts when checking the batch "
        "ends."]
    assert _links(path) == 0 and running.running  # nothing written yet
    gate.set()
    _settle()
    at.run()
    assert not at.exception
    assert running.result.dry_run and workbench_ui.job("commit").label == "Committing"
    assert at.success[0].value.startswith(f"Batch 1 committed: {n:,} links, ")
    assert _links(path) == n
    with Workspace.open(path) as ws:
        assert ws.con.execute("SELECT count(*) FROM batches").fetchone() == (1,)


def test_the_dry_run_shows_per_field_what_the_batch_overwrites(
        accepted: tuple[Path, int], open_page) -> None:
    path, _ = accepted
    with Workspace.open(path) as ws:
        expected = commit(ws, dry_run=True).overwrites
    at = open_page(path, "commit")
    at.button(key="commit_check").click().run()
    finish_jobs(at)
    assert not at.exception
    for side, table in (("erp", 1), ("crm", 2)):  # after the sample of the actions
        shown = at.dataframe[table].value
        rows = expected[expected["side"] == side]
        assert list(shown.columns) == ["field", "kind", "values replaced",
                                       "empty fields filled"]
        assert shown.values.tolist() == [[label, "Companies", o, f] for label, o, f in zip(
            rows["label"], rows["overwrite"], rows["fill"], strict=True)]
    assert int(expected["overwrite"].sum()) > 0  # the demo's default picks replace values


def test_a_sync_with_failures_is_red_with_each_reason_and_its_count(
        accepted: tuple[Path, int], open_page, tmp_path: Path) -> None:
    """The issue's case: every ERP update fails. The page shows it red, with the reason and
    how many, never a green box; an ERP folder without exports is refused up front."""
    path, _ = accepted
    erp = tmp_path / "erp"
    erp.mkdir()
    with Workspace.open(path) as ws:
        commit(ws, user="kari")
        updates = dict(ws.con.execute("SELECT action, count(*) FROM actions GROUP BY ALL"
                                      ).fetchall())["update_erp"]
        add_connection(ws, Connection("erp", "files", "erp", str(erp)))
    at = open_page(path, "commit")
    at.button(key="sync_go").click().run()
    finish_jobs(at)
    assert not [x for x in at.success if x.value.startswith("synced")]
    assert at.error[-1].value == (
        f"sync not started: connection 'erp': the folder {erp} is empty: no export files: a "
        "sync could not read, and so could not update, any ERP record; nothing was sent")
    # an export that holds none of the linked customers: every ERP update fails
    (erp / "erp_company.csv").write_text("id,type,name\nX1,customer,Someone Else AS\n",
                                         encoding="utf-8")
    at.button(key="sync_go").click().run()
    finish_jobs(at)
    assert not at.exception and not [x for x in at.success if x.value.startswith("synced")]
    reason = "the ERP record is not in the ERP (or not in its export) any more"
    report = at.error[-1].value.split("  \n")
    assert report[0].startswith(f"synced: {updates:,} error;")
    assert f"- error: {updates:,} ERP update(s): {reason}" in report
    # the failures stand, red, above the button that sends them again
    assert at.error[0].value.split("  \n")[1] == f"- error: {updates:,} ERP update(s): {reason}"


def test_work_asked_for_while_a_job_runs_is_queued_or_refused_never_dropped() -> None:
    from pages.shared import ui

    gate, ran = threading.Event(), []

    def slow(progress: Progress, _c: object) -> str:
        assert gate.wait(30)
        progress("checking", 0.5)  # where the engine stops once Cancel was pressed
        ran.append("check")
        return "checked"

    def fast(_p: object, _c: object) -> str:
        ran.append("commit")
        return "committed"

    first = ui.submit_job("t", "Checking", slow, "kari")
    assert (first.outcome, first.message) == ("started", "Checking started.")
    said = [(x.outcome, x.message) for x in (
        ui.submit_job("t", "Checking", slow, "ola"),
        ui.submit_job("t", "Committing", fast, "ola"),
        ui.submit_job("t", "Committing", fast, "kari"),
        ui.submit_job("t", "Syncing", fast, "kari", queue=False))]
    assert said == [
        ("refused", "Checking is already running (started by kari): this click was not "
                    "needed."),
        ("queued", "Committing is queued: it starts when checking ends."),
        ("refused", "Committing is already queued (queued by ola): it starts when checking "
                    "ends."),
        ("refused", "Syncing was not started: checking is running (started by kari). Try "
                    "again when it has ended.")]
    gate.set()
    _settle()
    assert ran == ["check", "commit"]
    last = ui.job("t")
    assert last is not None and (last.label, last.result, last.started_by) == (
        "Committing", "committed", "ola")
    # a cancelled job takes its queue with it, and the page is told
    gate.clear()
    ui.submit_job("t", "Checking", slow, "kari").job.cancel.set()
    queued = ui.submit_job("t", "Committing", fast, "kari").job
    gate.set()
    _settle()
    assert ui.job("t") is queued and str(queued.error) == (
        "committing was not started: checking before it was cancelled")


# --- words a steward uses: no raw keys, codes or JSON on the pages (issue 15, item 5) ----------

#: What a steward must never have to decode: field keys, status and action codes, JSON, and
#: ERP records as ``type:id``.
RAW = re.compile(r"\b(streetad1|streetad2|postalad1|postalzip|postalcity|streetzip|streetcity|"
                 r"vatno|number2|firstname|lastname|actor_type|erp_actor_type|crm_id|erp_id|"
                 r"missing_crm|missing_erp|equal_normalised|update_erp|update_crm|create_erp|"
                 r"last_modified|undecided)\b|[{}]|\b(customer|supplier|partner|person|"
                 r"project):\w")


def shown_text(at: AppTest) -> list[str]:
    """Every text the page shows: headings, messages, metrics, tables (column names and
    cells), the options of its selects and the labels of its buttons."""
    out: list[str] = []
    for kind in ("title", "subheader", "markdown", "caption", "info", "warning", "error",
                 "success"):
        out += [str(e.value) for e in getattr(at, kind)]
    out += [f"{m.label} {m.value}" for m in at.metric]
    for frame in [d.value for d in at.dataframe] + [t.value for t in at.table]:
        out += [str(c) for c in frame.columns]
        out += [str(v) for v in frame.astype(str).to_numpy().ravel()]
    out += [str(o) for s in at.selectbox for o in s.options]
    out += [b.label for b in at.button]
    return out


@pytest.fixture
def worked(tmp_path: Path) -> Path:
    """A demo-like day: companies accepted and committed by kari (links, updates on both
    sides), persons accepted by ola and waiting for the commit."""
    path = tmp_path / "worked.duckdb"
    with Workspace.open(path) as ws:
        build_demo(ws, size=200, seed=5)
        match_workspace(ws, "company")
        decide_bulk(ws, "accept", Filter(band="auto"), user="kari")
        commit(ws, user="kari")
        match_workspace(ws, "person")
        decide_bulk(ws, "accept", Filter(kind="person", band="auto"), user="ola")
    return path


def test_the_commit_page_shows_no_raw_keys_codes_or_json(worked: Path, open_page) -> None:
    at = open_page(worked, "commit")
    sample = at.dataframe[0].value["What the batch does"].tolist()
    assert any(w.startswith("link CRM person ") and " → ERP person " in w for w in sample)
    assert any(w.startswith("update ERP person ") and " — " in w for w in sample)
    at.button(key="commit_check").click().run()
    finish_jobs(at)
    assert not at.exception
    raw = [t for t in shown_text(at) if RAW.search(t)]
    assert raw == []
    batches = next(d.value for d in at.dataframe if "Waiting to be sent" in d.value.columns)
    assert batches["What"].str.match(r"commit: [\d,]+ links, [\d,]+ CRM updates, [\d,]+ ERP "
                                     r"updates").all()
    assert [m.label for m in at.metric][2:] == ["links", "CRM updates", "ERP updates",
                                                "new ERP records", "unlinks"]


def test_the_activity_log_shows_no_raw_keys_codes_or_json(worked: Path, open_page) -> None:
    at = open_page(worked, "reports")
    at.toggle(key="activity_show").set_value(True).run()
    at.text_input(key="activity_user").input("kari").run()  # the commit's rows come first
    assert not at.exception
    log = at.dataframe[0].value
    assert log["What"].str.startswith(("CRM record updated: CRM company ",
                                       "ERP record updated: ERP customer ",
                                       "ERP record updated: ERP supplier ",
                                       "ERP record updated: ERP partner ",
                                       "linked CRM company ")).all()
    assert [t for t in shown_text(at) if RAW.search(t)] == []


def test_the_overview_says_which_page_and_button_not_a_command_line(worked: Path,
                                                                    open_page) -> None:
    at = open_page(worked, "overview")
    assert not at.get("code")  # no command line to copy
    links = [(p.proto.page, p.proto.label) for p in at.get("page_link")]
    assert [label for _, label in links] == ["Match", "Commit", "Reports", "Load"]
    steps = [m.value for m in at.markdown]
    assert any("**Accept the … auto links…**" in s for s in steps)
    assert any(s.startswith("**Commit ") and "**Dry run the whole batch**" in s
               for s in steps)
    assert [t for t in shown_text(at) if RAW.search(t)] == []
