"""The Match page under AppTest: run matching, page through the queue, decide in bulk."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from erpdata import Filter, build_demo, decide, decide_bulk, match_workspace
from erpdata.workspace import Workspace
from tests.ui.conftest import finish_jobs


@pytest.fixture(scope="module")
def demo_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("match") / "demo.duckdb"
    build_demo(path, size=300, seed=11)
    return path


def _count(path: Path, sql: str) -> int:
    with Workspace.open(path) as ws:
        (n,) = ws.con.execute(sql).fetchone() or (0,)
    return int(n)


def test_run_page_and_decide_in_bulk(demo_path: Path, open_page, tmp_path: Path) -> None:
    path = tmp_path / "work.duckdb"
    path.write_bytes(demo_path.read_bytes())
    at = open_page(path, "match")
    assert at.title[0].value == "Match"
    assert "No suggested links" in at.info[0].value

    at.button(key="run_match").click().run()
    assert not at.exception
    finish_jobs(at)
    links = _count(path, "SELECT count(*) FROM suggestions WHERE kind = 'company' AND link")
    assert links > 50
    assert at.success[0].value.startswith(f"Last run (by tester): Companies: {links:,} "
                                          "suggested links")
    assert len(at.dataframe[0].value) == 50
    assert any(c.value == f"not decided yet: {links:,}" for c in at.caption)
    # the queue in words: the decision state said plainly, the ERP record as "customer 100071"
    shown = at.dataframe[0].value
    assert set(shown["state"]) == {"not decided yet"}
    assert shown["erp"].str.fullmatch(r"(customer|supplier|partner) \d+").all()

    at.button(key="match_next").click().run()
    assert not at.exception
    assert len(at.dataframe[0].value) == min(50, links - 50)
    assert any(c.value.startswith("Page 2") for c in at.caption)

    at.selectbox(key="match_band").set_value("auto").run()
    at.button(key="match_accept").click().run()
    auto = _count(path, "SELECT count(*) FROM suggestions WHERE kind = 'company' AND link "
                        "AND band = 'auto'")
    assert any(f"This will **accept** {auto:,} pair(s) of the {auto:,} shown." in m.value
               for m in at.markdown)
    assert _count(path, "SELECT count(*) FROM decisions") == 0  # the count comes first
    at.button(key="match_confirm").click().run()
    assert not at.exception
    assert at.success[-1].value == f"Accepted {auto:,} pair(s)."
    assert _count(path, "SELECT count(*) FROM decisions WHERE decision = 'accept' "
                        "AND decided_by = 'tester'") == auto


def test_empty_workspace_says_to_run_matching(empty_workspace: Path, open_page) -> None:
    at = open_page(empty_workspace, "match")
    assert "No suggested links" in at.info[0].value
    at.button(key="run_match").click().run()
    finish_jobs(at)
    assert not at.exception
    assert "nothing to match" in at.error[0].value


def test_a_running_match_can_be_cancelled(demo_path: Path, open_page, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    import erpdata.matching.runs as mw
    import pages.shared.ui as workbench_ui

    path = tmp_path / "work.duckdb"
    path.write_bytes(demo_path.read_bytes())
    release = threading.Event()
    real = mw._sources

    def slow(*args: object, **kwargs: object) -> object:  # holds the run at its first step
        release.wait(60)
        return real(*args, **kwargs)

    monkeypatch.setattr(mw, "_sources", slow)
    at = open_page(path, "match")
    at.button(key="run_match").click().run()
    job = workbench_ui.job("match")
    assert job is not None and job.running
    assert at.button(key="run_match").disabled
    assert at.button(key="cancel_match").label == "Cancel"
    at.button(key="cancel_match").click().run()
    release.set()
    finish_jobs(at)
    assert at.info[0].value == ("matching company was cancelled while normalising new and "
                                "changed records; the suggestions are as they were; the stages it "
                                "finished are kept, and the next run resumes after them")
    assert _count(path, "SELECT count(*) FROM suggestions") == 0
    assert _count(path, "SELECT count(*) FROM match_runs WHERE status = 'cancelled'") == 1


@pytest.fixture
def matched(demo_path: Path, tmp_path: Path) -> Path:
    """The demo, matched; three auto links marked as conflicts (the demo has none there)."""
    path = tmp_path / "matched.duckdb"
    path.write_bytes(demo_path.read_bytes())
    with Workspace.open(path) as ws:
        match_workspace(ws, "company")
        ws.con.execute("UPDATE suggestions SET conflict = true WHERE kind = 'company' AND link "
                       "AND band = 'auto' AND crm_id IN (SELECT crm_id FROM suggestions "
                       "WHERE kind = 'company' AND link AND band = 'auto' "
                       "ORDER BY crm_id LIMIT 3)")
    return path


def test_the_auto_band_is_committed_in_at_most_three_clicks(matched: Path, open_page) -> None:
    auto = _count(matched, "SELECT count(*) FROM suggestions WHERE kind = 'company' AND link "
                           "AND band = 'auto'") - 3
    at = open_page(matched, "match")
    clicks = 0
    assert at.button(key="match_auto").label == f"Accept the {auto:,} auto links…"
    assert any(c.value == f"Auto band: {auto:,} to accept · 3 in a conflict (a probable "
                          "duplicate), left for review on the Review page; choose Conflict: "
                          "yes to take them · 0 accepted decision(s) already wait to be "
                          "committed" for c in at.caption)
    at.button(key="match_auto").click().run()
    clicks += 1
    assert at.selectbox(key="match_band").value == "auto"  # the filter it applies to, shown
    assert any(m.value == f"This will **accept** {auto:,} pair(s) of the {auto + 3:,} shown."
               for m in at.markdown)
    assert _count(matched, "SELECT count(*) FROM decisions") == 0  # the count comes first
    at.button(key="match_confirm_commit").click().run()
    clicks += 1
    finish_jobs(at)
    assert not at.exception
    assert clicks <= 3
    assert [s.value for s in at.success] == [
        f"Batch 1 committed: {auto:,} link(s); "
        + ", ".join(f"{n:,} {side} record(s) to update" for n, side in (
            (_count(matched, "SELECT count(DISTINCT crm_id) FROM actions "
                             "WHERE action = 'update_crm'"), "CRM"),
            (_count(matched, "SELECT count(DISTINCT erp_id) FROM actions "
                             "WHERE action = 'update_erp'"), "ERP")) if n)
        + ". Sync or undo it on the Commit page."]
    assert _count(matched, "SELECT count(*) FROM links WHERE kind = 'company'") == auto
    assert _count(matched, "SELECT count(*) FROM links l JOIN suggestions s USING "
                           "(kind, crm_id, erp_actor_type, erp_id) WHERE s.conflict") == 0
    assert any(c.value.startswith("not decided yet: ") and c.value.endswith(
        f" · linked: {auto:,}") for c in at.caption)
    assert at.button(key="match_auto").label == "Accept the 0 auto links…"


def test_five_skipped_rows_shown_offer_exactly_five(matched: Path, open_page) -> None:
    with Workspace.open(matched) as ws:
        pairs = ws.con.execute("SELECT crm_id, erp_actor_type || ':' || erp_id FROM suggestions "
                               "WHERE kind = 'company' AND link AND NOT conflict "
                               "ORDER BY crm_id LIMIT 5").fetchall()
        for crm_id, erp in pairs:
            decide(ws, "company", "skip", crm_id, erp, user="kari")
    at = open_page(matched, "match")
    at.selectbox(key="match_state").set_value("skipped").run()
    assert sorted(at.dataframe[0].value["crm_id"]) == sorted(c for c, _ in pairs)
    at.button(key="match_accept").click().run()
    assert any(m.value == "This will **accept** 5 pair(s) of the 5 shown." for m in at.markdown)
    at.button(key="match_confirm").click().run()
    assert not at.exception
    assert at.success[0].value == "Accepted 5 pair(s)."
    assert _count(matched, "SELECT count(*) FROM decisions WHERE superseded_by IS NULL "
                           "AND decision = 'accept'") == 5
    assert _count(matched, "SELECT count(*) FROM decisions WHERE superseded_by IS NULL "
                           "AND decision = 'skip'") == 0
    assert at.button(key="match_commit_now").label == "Commit now (5 waiting)"
    at.button(key="match_commit_now").click().run()  # the third click: a batch of the five
    finish_jobs(at)
    assert not at.exception
    assert at.success[0].value.startswith("Batch 1 committed: 5 link(s)")
    assert _count(matched, "SELECT count(*) FROM links") == 5


def test_a_viewer_sees_why_matching_and_committing_are_not_theirs(
        demo_path: Path, open_page, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A viewer's click would start a job the engine refuses: the buttons are off, and the
    page says why, in the engine's words."""
    import shutil

    from erpdata import grant

    path = tmp_path / "viewer.duckdb"
    shutil.copy(demo_path, path)
    with Workspace.open(path) as ws:
        match_workspace(ws, "company")
        grant(ws, "kari", "admin", user="kari")
        assert decide_bulk(ws, "accept", Filter(band="auto"), user="kari").count > 0
    monkeypatch.setenv("ERPDATA_USER", "eve")
    at = open_page(path, "match")
    assert at.button(key="run_match").disabled
    said = ("user 'eve' is a viewer: running matching needs the steward role (an admin grants "
            "it: erpdata role NAME ROLE)")
    assert said in [c.value for c in at.caption]
    at.switch_page("pages/commit.py").run()
    assert at.button(key="commit_go").disabled
    assert said.replace("running matching", "committing") in [c.value for c in at.caption]
    at.switch_page("pages/load.py").run()
    assert said.replace("running matching", "loading files") in [c.value for c in at.caption]


def test_a_second_run_scores_with_the_kept_model_unless_learning_anew_is_ticked(
        demo_path: Path, open_page, tmp_path: Path) -> None:
    path = tmp_path / "work.duckdb"
    path.write_bytes(demo_path.read_bytes())
    at = open_page(path, "match")
    shown = []
    for refit in (False, False, True):
        if refit:
            at.checkbox(key="match_refit").check().run()
        at.button(key="run_match").click().run()
        finish_jobs(at)
        assert not at.exception
        shown.append(at.success[0].value)
    assert "Scored with" not in shown[0] and "Scored with" not in shown[2]
    assert ("Scored with the model and thresholds run 1 learnt (0 records new, changed or gone "
            "since run 1 learnt it); tick \u201cLearn the model anew\u201d to learn them anew"
            ) in shown[1]
    with Workspace.open(path) as ws:
        learnt = ws.con.execute("SELECT run_id, stats->>'model' FROM match_runs ORDER BY run_id"
                                ).fetchall()
    assert learnt == [(1, "fitted"), (2, "fit"), (3, "fitted")]
