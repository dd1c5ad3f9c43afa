"""Thresholds and models that stay sane on small or match-poor data: after most companies are
linked, a second run must not put pairs with probability 0.0 into the review band (the review
floor), and when the records left have nothing to learn from, the last good model is kept and
the run says so."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from erpdata import demo
from erpdata.cli import main
from erpdata.errors import ErpdataError
from erpdata.ingest.load import load_file
from erpdata.matching import COMPARISONS, match_frames, match_workspace
from erpdata.matching import model as fs
from erpdata.matching.assign import REVIEW_FLOOR, best_f1_review, thresholds
from erpdata.steward.commit import commit
from erpdata.steward.decisions import decide
from erpdata.workspace import Workspace

LINKED = 25


@pytest.fixture(scope="module")
def forty() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """40 CRM and 40 ERP companies: 25 pairs that match, 15 CRM companies without a
    counterpart, and 15 ERP companies of other firms (another demo seed)."""
    frames = demo.generate(size=100, seed=1)
    others = demo.generate(size=30, seed=101)[("erp", "company")].head(15).copy()
    others["id"] = "X" + others["id"]
    every = frames[("truth", "all")]
    every = every[every["kind"] == "company"]
    truth = every.drop_duplicates("crm_id").drop_duplicates(
        ["erp_actor_type", "erp_id"]).head(LINKED)
    crm = frames[("crm", "company")]
    erp = frames[("erp", "company")]
    crm = pd.concat([crm[crm["id"].isin(truth["crm_id"])],
                     crm[~crm["id"].isin(every["crm_id"])].head(15)])
    key = erp["actor_type"] + ":" + erp["id"]
    erp = pd.concat([erp[key.isin(truth["erp_actor_type"] + ":" + truth["erp_id"])], others])
    assert (len(crm), len(erp)) == (40, 40)
    return crm, erp, truth


def _workspace(tmp_path: Path, crm: pd.DataFrame, erp: pd.DataFrame) -> Workspace:
    ws = Workspace.open(tmp_path / "w.duckdb")
    crm.to_csv(tmp_path / "crm.csv", index=False)
    erp.to_csv(tmp_path / "erp.csv", index=False)
    load_file(ws, tmp_path / "crm.csv", side="crm", kind="company")
    load_file(ws, tmp_path / "erp.csv", side="erp", kind="company")
    return ws


def _link(ws: Workspace, truth: pd.DataFrame) -> pd.DataFrame:
    """A steward accepts the 25 pairs that match and commits them."""
    links = pd.DataFrame({"crm_id": truth["crm_id"],
                          "erp": truth["erp_actor_type"] + ":" + truth["erp_id"]})
    for crm_id, erp in links.itertuples(index=False):
        decide(ws, "company", "accept", crm_id, erp, user="kari")
    assert commit(ws, ("company",), user="kari").counts["link"] == LINKED
    return links


def _review_band(ws: Workspace) -> list[float]:
    return [p for (p,) in ws.con.execute(
        "SELECT probability FROM suggestions WHERE kind = 'company' AND band = 'review'"
    ).fetchall()]


def test_second_run_after_linking_keeps_pairs_of_probability_zero_out_of_review(
        tmp_path: Path, forty: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]) -> None:
    crm, erp, truth = forty
    ws = _workspace(tmp_path, crm, erp)
    first = match_workspace(ws, "company")
    assert int(first.candidates["match"].sum()) >= LINKED - 2
    assert first.stats["model"] == "fitted" and first.stats["degenerate"] is None
    _link(ws, truth)

    second = match_workspace(ws, "company")
    # What the issue saw: the links left are all hopeless, so the best expected F1 is ~0 and
    # so was the review threshold the model chose...
    assert second.stats["review_best_f1"] < 0.01
    # ...now floored: nothing the model gives less than REVIEW_FLOOR is in the review band.
    assert second.thresholds["review"] == REVIEW_FLOOR
    assert second.stats["review_floor"] == REVIEW_FLOOR
    assert _review_band(ws) == []
    cand = second.candidates
    assert int(cand["match"].sum()) == 0
    assert set(cand["band"]) == {"auto"} and (cand["probability"] == 1.0).all()  # the linked
    stored = json.loads(ws.con.execute("SELECT stats FROM match_runs WHERE run_id = 2"
                                       ).fetchone()[0])
    assert stored["review_floor"] == REVIEW_FLOOR
    ws.close()


def test_last_good_model_is_kept_when_the_records_left_have_nothing_to_learn(
        tmp_path: Path, forty: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame],
        capsys: pytest.CaptureFixture[str]) -> None:
    crm, erp, truth = forty
    ws = _workspace(tmp_path, crm, erp)
    first = match_workspace(ws, "company")
    (run_id, model_json) = ws.con.execute(
        "SELECT run_id, model FROM match_models WHERE kind = 'company'").fetchone()
    assert run_id == 1
    good = fs.Model.from_json(json.loads(model_json))
    assert good.fields == first.model.fields
    assert all(np.allclose(a, b) for a, b in zip(good.m, first.model.m, strict=True))
    linked = _link(ws, truth)

    # The next exports hold only what is not linked yet (the linked records drop out): 15 CRM
    # companies without a counterpart against 15 ERP companies of other firms.
    rest_crm = crm[~crm["id"].isin(linked["crm_id"])]
    rest_erp = erp[~(erp["actor_type"] + ":" + erp["id"]).isin(linked["erp"])]
    assert (len(rest_crm), len(rest_erp)) == (15, 15)
    rest_crm.to_csv(tmp_path / "crm2.csv", index=False)
    rest_erp.to_csv(tmp_path / "erp2.csv", index=False)
    load_file(ws, tmp_path / "crm2.csv", side="crm", kind="company")
    load_file(ws, tmp_path / "erp2.csv", side="erp", kind="company")

    second = match_workspace(ws, "company")
    assert second.stats["model"] == "kept"
    assert second.stats["model_from_run"] == 1
    assert "expected matches" in second.stats["degenerate"]
    assert all(np.allclose(a, b) for a, b in zip(second.model.m, good.m, strict=True))
    assert all(np.allclose(a, b) for a, b in zip(second.model.u, good.u, strict=True))
    # the share of records with a match is estimated again: there are none left
    assert second.model.share_matched is not None and second.model.share_matched < 0.05
    assert _review_band(ws) == []
    # the kept model stays the stored one (a degenerate run never replaces it)
    assert ws.con.execute("SELECT run_id FROM match_models").fetchall() == [(1,)]
    stats = json.loads(ws.con.execute("SELECT stats FROM match_runs WHERE run_id = 2"
                                      ).fetchone()[0])
    assert (stats["model"], stats["model_from_run"]) == ("kept", 1)
    ws.close()
    # `erpdata match` says so, and that the review threshold was floored
    capsys.readouterr()
    # without --refit it scores with the model run 2 kept, and says so
    assert main(["match", "--kind", "company", "--workspace", str(tmp_path / "w.duckdb")]) == 0
    err = capsys.readouterr().err
    assert ("note: company: scored with the model and thresholds run 2 learnt (0 records new, "
            "changed or gone since run 2 learnt it)") in err
    assert main(["match", "--kind", "company", "--refit",
                 "--workspace", str(tmp_path / "w.duckdb")]) == 0
    err = capsys.readouterr().err
    assert "note: company: the records left had nothing to learn from (" in err
    assert "kept the weights of the last good model (run 1)" in err
    assert f"was raised to its floor {REVIEW_FLOOR:g}" in err


def test_fresh_workspace_with_nothing_stored_behaves_as_before(
        tmp_path: Path, forty: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]) -> None:
    crm, erp, _ = forty
    # Only the 15 companies without a counterpart: degenerate, and nothing to fall back on.
    rest_crm = crm.tail(15)
    rest_erp = erp[erp["id"].str.startswith("X")]
    ws = _workspace(tmp_path, rest_crm, rest_erp)
    result = match_workspace(ws, "company")
    assert result.stats["model"] == "fitted"
    assert result.stats["degenerate"] is not None
    assert "model_from_run" not in result.stats
    assert ws.con.execute("SELECT count(*) FROM match_models").fetchone() == (0,)
    # the same as the engine alone, which never has a model to keep
    cols = ["id", *(c.name for c in COMPARISONS["company"])]
    erp_frame = rest_erp.assign(id=rest_erp["actor_type"] + ":" + rest_erp["id"])
    alone = match_frames(rest_crm[cols], erp_frame[cols], COMPARISONS["company"])
    assert all(np.allclose(a, b) for a, b in zip(result.model.m, alone.model.m, strict=True))
    assert result.thresholds == alone.thresholds
    ws.close()


def test_review_floor_and_fixed_limits() -> None:
    # Hopeless links: the best expected F1 would take every one of them.
    assert best_f1_review(np.array([0.0, 0.0, 0.0])) == 0.0
    assert thresholds(np.array([0.0, 0.0, 0.0]))["review"] == REVIEW_FLOOR
    # Two equally good rivals share a sure match just under 1/2 each: still reviewed.
    assert thresholds(np.array([0.999, 0.99, 0.48, 0.48]))["review"] == 0.48
    crm = pd.DataFrame({"id": ["1", "2"], "name": ["Acme AS", "Fjord Fisk AS"]})
    erp = pd.DataFrame({"id": ["a", "b"], "name": ["Acme AS", "Nordlys AS"]})
    # A steward's fixed limit wins over the floor...
    fixed = match_frames(crm, erp, limits={"review": 0.1})
    assert fixed.thresholds["review"] == 0.1 and fixed.stats["review_floor"] is None
    # ...but must be a probability above 0.
    for bad in ({"review": 0.0}, {"auto": 1.5}, {"review": float("nan")}, {"low": 0.5}):
        with pytest.raises(ErpdataError, match="threshold"):
            match_frames(crm, erp, limits=bad)


def test_degenerate_says_why() -> None:
    labels = [("different", "exact")]
    m, u = [np.array([0.1, 0.9])], [np.array([0.9, 0.1])]
    sound = fs.Model(["name"], labels, m, u, 0.01, share_matched=0.5)
    assert fs.degenerate(sound, np.full(10, 0.9), labels) is None
    assert "expected matches" in (fs.degenerate(sound, np.full(10, 0.1), labels) or "")
    collapsed = fs.Model(["name"], labels, m, u, 0.01, share_matched=0.01)
    assert "collapsed" in (fs.degenerate(collapsed, np.full(10, 0.9), labels) or "")
    unsettled = fs.Model(["name"], labels, m, u, 0.01, share_matched=0.5, iterations=60,
                         history=[0.3, 0.01], converged=False)
    assert "did not settle" in (fs.degenerate(unsettled, np.full(10, 0.9), labels) or "")
    # out of iterations but creeping (steps far below UNSETTLED): nearly there, sound
    creeping = fs.Model(["name"], labels, m, u, 0.01, share_matched=0.5, iterations=60,
                        history=[0.3, 2e-5], converged=False)
    assert fs.degenerate(creeping, np.full(10, 0.9), labels) is None
    inverted = fs.Model(["name"], labels, u, m, 0.01, share_matched=0.5)
    assert "no field" in (fs.degenerate(inverted, np.full(10, 0.9), labels) or "")
    again = fs.Model.from_json(json.loads(json.dumps(sound.to_json())))
    assert again.level_labels == labels and again.share_matched == 0.5
