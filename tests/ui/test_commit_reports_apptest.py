"""The Commit and Reports pages under AppTest: dry run, commit, undo; reports built on click."""

from __future__ import annotations

from pathlib import Path

import pytest

from erpdata import Filter, build_demo, decide_bulk, grant, match_workspace
from erpdata.commit import commit
from erpdata.connections import Connection, add_connection
from erpdata.connectors.base import Answer
from erpdata.connectors.files import FilesCrmConnector
from erpdata.sync import action_counts, sync
from erpdata.workspace import Workspace
from tests.ui.conftest import finish_jobs


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
    assert set(at.dataframe[0].value["action"]) == {"link", "update_crm", "update_erp"}
    at.button(key="commit_check").click().run()
    finish_jobs(at)
    assert not at.exception
    assert (at.metric[2].label, at.metric[2].value) == ("link", f"{n:,}")
    assert _links(path) == 0  # the dry run wrote nothing
    at.button(key="commit_go").click().run()
    finish_jobs(at)
    assert not at.exception
    assert at.success[0].value.startswith(f"batch 1: queued {n:,} link")
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
    at.button(key="commit_go").click().run()
    finish_jobs(at)
    assert "user 'tester' is a viewer: committing needs the steward role" in at.error[0].value
    assert _links(path) == 0


def test_reports_are_built_on_click(accepted: tuple[Path, int], open_page) -> None:
    path, _ = accepted
    at = open_page(path, "reports")
    assert not at.get("download_button")  # nothing built until asked
    at.button(key="build_csv").click().run()
    at.button(key="build_xlsx").click().run()
    assert not at.exception
    labels = sorted(b.proto.label for b in at.get("download_button"))
    assert labels == ["Download links.csv", "Download reports.xlsx"]
    name, data = at.session_state["report_csv"]
    assert name == "links.csv" and data.decode("utf-8").startswith("kind,crm_id,crm_name,")


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
    assert len(log) == min(n, 50) and set(log["actor"]) == {"kari"}
    assert set(log["action"]) == {"accept"}
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
    # a CRM export folder takes the links and CRM updates; the ERP updates wait for an ERP
    assert at.success[-1].value == (
        f"synced: {n + queued['update_crm']} ok; {queued['update_erp']} update_erp action(s) "
        "wait for an ERP connection; pulled 0 new or changed record(s) (by tester)")
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
