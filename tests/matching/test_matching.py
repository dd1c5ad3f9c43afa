"""Matching: blocking completeness, one-to-one rules (customer vs supplier, conflicts), decisions
feeding back, the three scoring states, and the ``match-files`` output contract."""

from __future__ import annotations

import csv
import json
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from erpdata import demo
from erpdata.cli import main
from erpdata.ingest.load import load_file
from erpdata.matching import COMPARISONS, Comparison, match_frames, match_workspace, parse_compare
from erpdata.matching.assign import indistinguishable, one_to_one, thresholds
from erpdata.matching.on_files import OUTPUT_COLUMNS
from erpdata.matching.runs import scoring_states
from erpdata.matching.spec import KEY_TYPES
from erpdata.progress import Cancelled
from erpdata.workspace import Workspace
from tests.helpers import suggested, write_text
from tests.matching.test_blocking import blocked


@pytest.fixture(scope="module")
def demo_companies() -> tuple[pd.DataFrame, pd.DataFrame, set[tuple[str, str]]]:
    frames = demo.generate(size=600, seed=3)
    cols = [c.name for c in COMPARISONS["company"]]
    crm = frames[("crm", "company")][["id", *cols]]
    erp = frames[("erp", "company")].copy()
    erp["id"] = erp["actor_type"] + ":" + erp["id"]
    truth = frames[("truth", "all")]
    truth = truth[truth["kind"] == "company"]
    pairs = set(zip(truth["crm_id"], truth["erp_actor_type"] + ":" + truth["erp_id"],
                    strict=True))
    return crm, erp[["id", *cols]], pairs


def test_blocking_keeps_the_true_pairs(demo_companies) -> None:
    """The rules themselves: ``cross_product_below=0``, as at 600 x 600 every pair would
    otherwise be a candidate and no rule could be missed. Without the keys (org number,
    phone, e-mail, web) the name and address rules must still find nearly every pair, and
    with the 3-gram generator every one; so dropping a name rule, the typo keys or the
    generator fails this test."""
    crm, erp, truth = demo_companies
    comps = COMPARISONS["company"]

    def completeness(pairs: set[tuple[str, str]]) -> float:
        return len(pairs & truth) / len(truth)

    assert completeness(blocked(crm, erp, comps)) == 1.0
    no_keys = [c for c in comps if c.type not in KEY_TYPES]
    assert completeness(blocked(crm, erp, no_keys)) == 1.0
    assert completeness(blocked(crm, erp, no_keys, ngram=False)) >= 0.995


def test_demo_companies_are_matched_well(demo_companies) -> None:
    crm, erp, truth = demo_companies
    result = match_frames(crm, erp, COMPARISONS["company"])
    c = result.candidates
    links = set(zip(c.loc[c["match"] == 1, "crm_id"], c.loc[c["match"] == 1, "erp_id"],
                    strict=True))
    precision = len(links & truth) / len(links)
    recall = len(links & truth) / len(truth)
    assert precision >= 0.97 and recall >= 0.9, (precision, recall)
    assert list(c.columns) == ["crm_id", "erp_id", "probability", "match_weight", "rank",
                               "band", "match", "conflict", "explanation"]
    assert c.groupby("crm_id")["rank"].max().max() <= 5
    assert set(c["band"]) <= {"auto", "review", "low"}
    first = json.loads(c["explanation"].iloc[0])
    assert set(first) == {"prior", *(x.name for x in COMPARISONS["company"])}
    assert set(first["name"]) == {"level", "weight"}


def _customer_supplier_frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    crm = pd.DataFrame({
        "id": ["1", "2", "3", "4"],
        "name": ["Berg Bygg AB", "Hansen & Co AS", "Hansen og Co AS", "Fjord Fisk AS"],
        "vatno": ["5560360793", "923609016", "923609016", "987654321"],
        "postalcity": ["Stockholm", "Oslo", "Oslo", "Tromsø"],
    })
    erp = pd.DataFrame({
        "id": ["customer:K2", "supplier:L1", "customer:K1", "customer:K9"],
        "name": ["Berg Bygg", "Berg Bygg AB", "Hansen & Co AS", "Nordlys Energi AS"],
        "vatno": ["", "SE556036079301", "NO923609016MVA", "911111111"],
        "postalcity": ["Stockholm", "Stockholm", "Oslo", "Bodø"],
    })
    return crm, erp


COMPANY = [Comparison("name", "name", "name", "company"),
           Comparison("vatno", "vatno", "vatno", "orgno"),
           Comparison("postalcity", "postalcity", "postalcity", "city")]


def test_one_actor_per_company_and_duplicates_are_conflicts() -> None:
    crm, erp = _customer_supplier_frames()
    c = match_frames(crm, erp, COMPANY).candidates
    links = c[c["match"] == 1].sort_values("crm_id")
    # Company 1 matches both a customer and a supplier: ONE link, to the better (same org no).
    assert links.loc[links["crm_id"] == "1", "erp_id"].tolist() == ["supplier:L1"]
    # Companies 2 and 3 are one company entered twice: one link, both flagged as a conflict.
    hansen = c[c["erp_id"] == "customer:K1"]
    assert hansen["match"].sum() == 1
    assert set(hansen.loc[hansen["conflict"], "crm_id"]) == {"2", "3"}
    assert links["crm_id"].is_unique and links["erp_id"].is_unique


def test_identical_records_do_not_starve_each_other() -> None:
    crm, erp = _customer_supplier_frames()
    # Three identical CRM rows and two identical ERP rows of one company (a double import).
    crm = pd.concat([crm, pd.DataFrame({"id": ["5", "6", "7"], "name": ["Kvernhus Mølle AS"] * 3,
                                        "vatno": ["914778271"] * 3,
                                        "postalcity": ["Bergen"] * 3})], ignore_index=True)
    erp = pd.concat([erp, pd.DataFrame({"id": ["customer:K5", "customer:K6"],
                                        "name": ["Kvernhus Mølle AS"] * 2,
                                        "vatno": ["914778271"] * 2,
                                        "postalcity": ["Bergen"] * 2})], ignore_index=True)
    c = match_frames(crm, erp, COMPANY).candidates
    mill = c[c["crm_id"].isin(["5", "6", "7"])]
    # Each copy is shown both ERP copies as one sure candidate, not a third of a half each...
    assert len(mill) == 6 and mill["probability"].nunique() == 1
    assert mill["probability"].iloc[0] > 0.98
    # ...never auto-accepted (which copy is arbitrary) and flagged for the steward...
    assert set(mill["band"]) == {"review"} and mill["conflict"].all()
    # ...and two of the three CRM copies get one ERP copy each.
    links = mill[mill["match"] == 1]
    assert sorted(links["crm_id"]) == ["5", "6"]
    assert sorted(links["erp_id"]) == ["customer:K5", "customer:K6"]
    # Records without copies are unaffected.
    assert c.loc[(c["crm_id"] == "1") & (c["match"] == 1), "erp_id"].tolist() == ["supplier:L1"]


def test_one_to_one_is_global_not_first_come() -> None:
    left = np.array([0, 0, 1])
    right = np.array([0, 1, 0])
    p = np.array([0.8, 0.7, 0.9])  # record 0 comes first, but record 1 wants ERP 0 more
    assert one_to_one(left, right, p).tolist() == [False, True, True]


@pytest.mark.parametrize("seed", range(5))
def test_one_to_one_is_the_greedy_walk_down_the_probabilities(seed: int) -> None:
    """Rounds of "first among its two records' live pairs" give what walking the pairs best
    first (ties: lower index first) and taking each whose two records are free gives, with
    ties and taken records."""
    rng = np.random.default_rng(seed)
    n = 400
    left, right = rng.integers(0, 60, n), rng.integers(0, 50, n)
    p = rng.integers(0, 12, n) / 11  # many ties
    taken_left, taken_right = rng.random(60) < 0.1, rng.random(50) < 0.1
    expected = np.zeros(n, dtype=bool)
    used_l, used_r = taken_left.copy(), taken_right.copy()
    for i in sorted(range(n), key=lambda i: (-p[i], i)):
        if not used_l[left[i]] and not used_r[right[i]]:
            expected[i] = used_l[left[i]] = used_r[right[i]] = True
    got = one_to_one(left, right, p, taken_left, taken_right)
    assert got.tolist() == expected.tolist()
    # walking only the pairs at or above a floor links exactly those of them
    floored = one_to_one(left, right, p, taken_left, taken_right, floor=6 / 11)
    assert floored.tolist() == (expected & (p >= 6 / 11)).tolist()


@pytest.mark.parametrize("seed", range(3))
def test_indistinguishable_sums_each_records_identical_candidates(seed: int) -> None:
    """Against the definition, pair by pair: every pair gets the summed probability and the
    count of its CRM record's pairs in the same group (groups of one pair included)."""
    rng = np.random.default_rng(seed)
    key = np.unique(rng.integers(0, 30 * 40, 300))  # unique pairs
    left, erp = key // 40, key % 40
    of = rng.integers(0, 15, 40)  # 40 ERP records in 15 groups of copies
    group = of[erp]
    capacity = np.array([len(set(erp[group == g].tolist())) for g in range(15)])
    p = rng.random(len(key))
    got_p, got_size = indistinguishable(left, group, capacity, p)
    for i in range(len(key)):
        same = (left == left[i]) & (group == group[i])
        assert got_size[i] == same.sum()
        assert got_p[i] == pytest.approx(p[same].sum(), abs=1e-12)
    assert (got_size == 1).any() and (got_size > 1).any()
    # a group of two pairs, both of one record; one of one pair
    two = indistinguishable(np.array([0, 0, 1]), np.array([1, 1, 2]), np.array([0, 2, 1]),
                            np.array([0.25, 0.5, 0.4]))
    assert [two[0].tolist(), two[1].tolist()] == [[0.75, 0.75, 0.4], [2, 2, 1]]


def test_thresholds_come_from_the_model() -> None:
    limits = thresholds(np.array([0.999, 0.998, 0.99, 0.9, 0.6, 0.2, 0.05]))
    assert 0.5 <= limits["review"] <= 0.9
    assert limits["auto"] >= 0.99
    assert thresholds(np.array([])) == {"review": 0.5, "auto": 0.99}


def test_parse_compare() -> None:
    assert parse_compare("title=name:text") == Comparison("title", "title", "name", "text")
    assert parse_compare("zip=postcode").type == ""
    with pytest.raises(ValueError, match="CRM_COL=ERP_COL"):
        parse_compare("title")
    with pytest.raises(ValueError, match="unknown comparison type"):
        parse_compare("a=b:fuzzy")


# --- workspace -------------------------------------------------------------------------------

@pytest.fixture
def ws(companies_ws: Workspace) -> Workspace:
    return companies_ws


def _suggested_links(ws: Workspace) -> list[tuple[str, str, str]]:
    return ws.con.execute("SELECT crm_id, erp_actor_type, erp_id FROM suggestions "
                          "WHERE kind = 'company' AND link ORDER BY crm_id").fetchall()


def test_match_workspace_stores_suggestions_and_states(ws: Workspace) -> None:
    assert scoring_states(ws, "company") == {"not_scored": 5, "no_candidate": 0, "scored": 0,
                                             "failed": 0}
    match_workspace(ws, "company", user="kari")
    links = _suggested_links(ws)
    assert ("1", "supplier", "L1") in links
    states = scoring_states(ws, "company")
    assert states["not_scored"] == 0 and states["failed"] == 0
    assert states["scored"] + states["no_candidate"] == 5
    assert ws.con.execute("SELECT status, started_by FROM match_runs").fetchall() == [
        ("done", "kari")]


def test_normalised_features_are_stored_and_only_changes_recomputed(
        ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from erpdata.matching import stored_features

    seen: list[list[str]] = []
    real = stored_features.features

    def counting(frame: pd.DataFrame, *args: object, **kwargs: object) -> pd.DataFrame:
        seen.append(sorted(frame["id"]))
        return real(frame, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(stored_features, "features", counting)
    match_workspace(ws, "company")
    assert seen == [["1", "2", "3", "4", "5"],
                    ["customer:K1", "customer:K2", "customer:K9", "supplier:L1"]]
    stored = ws.con.execute("SELECT id, name, vatno, vatno__key FROM normalised_crm_company "
                            "ORDER BY id").fetchall()
    assert stored[0] == ("1", "berg bygg", "5560360793", "5560360793")
    before = suggested(ws)
    seen.clear()
    match_workspace(ws, "company")  # nothing changed: nothing normalised again, same result
    assert seen == []
    assert suggested(ws) == before
    # A re-load that changes company 4 and drops company 5: only company 4 is normalised again.
    load_file(ws, write_text(tmp_path / "c2.csv",
                             "id;name;vatno;postalcity\n1;Berg Bygg AB;5560360793;Stockholm\n"
                             "2;Hansen & Co AS;923609016;Oslo\n3;Hansen og Co AS;923609016;Oslo\n"
                             "4;Nordlys Energi AS;911111111;Bodø\n"),
              side="crm", kind="company")
    seen.clear()
    match_workspace(ws, "company")
    assert seen == [["4"]]
    assert ws.con.execute("SELECT id, name FROM normalised_crm_company ORDER BY id"
                          ).fetchall()[-1] == ("4", "nordlys energi")
    assert ("4", "customer", "K9") in _suggested_links(ws)


def test_rejected_pairs_are_never_suggested_again(ws: Workspace) -> None:
    match_workspace(ws, "company")
    ws.con.execute("INSERT INTO decisions (kind, crm_id, erp_actor_type, erp_id, decision, "
                   "decided_by, decided_at) VALUES ('company', '1', 'supplier', 'L1', 'reject', "
                   "'kari', now())")
    match_workspace(ws, "company")
    assert ws.con.execute("SELECT count(*) FROM suggestions WHERE crm_id = '1' AND "
                          "erp_actor_type = 'supplier' AND erp_id = 'L1'").fetchone() == (0,)


def test_accepted_pairs_are_never_given_away(ws: Workspace) -> None:
    ws.con.execute("INSERT INTO decisions (kind, crm_id, erp_actor_type, erp_id, decision, "
                   "decided_by, decided_at) VALUES ('company', '3', 'customer', 'K1', 'accept', "
                   "'kari', now())")
    match_workspace(ws, "company")
    # K1 is taken by the accepted pair (3, K1): company 2 must not be linked to it.
    assert ("2", "customer", "K1") not in _suggested_links(ws)


def test_a_failed_run_says_why_and_keeps_the_previous_suggestions(
        ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    match_workspace(ws, "company")
    before = suggested(ws, runs=True)
    import erpdata.matching.runs as mw

    def broken(*args: object, **kwargs: object) -> None:
        raise MemoryError("out of memory")

    monkeypatch.setattr(mw, "match_frames", broken)
    ws.con.execute("DELETE FROM scoring_state")
    with pytest.raises(MemoryError):
        match_workspace(ws, "company")
    assert suggested(ws, runs=True) == before
    assert scoring_states(ws, "company")["failed"] == 5
    assert ws.con.execute("SELECT DISTINCT reason FROM scoring_state").fetchall() == [
        ("MemoryError: out of memory",)]
    assert ws.con.execute("SELECT status, error FROM match_runs ORDER BY run_id DESC LIMIT 1"
                          ).fetchall() == [("failed", "MemoryError: out of memory")]


@pytest.mark.parametrize("stop_at", ["blocking", "done"])  # "done": just before storing
def test_a_cancelled_run_keeps_the_previous_suggestions(ws: Workspace, stop_at: str) -> None:
    match_workspace(ws, "company")
    before = {t: ws.con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall()
              for t in ("suggestions", "scoring_state")}
    stop, stages = threading.Event(), []

    def progress(stage: str, fraction: float) -> None:
        stages.append(stage)
        if stage.startswith(stop_at):  # this run reuses the first one's blocked pairs
            stop.set()  # as the Cancel button does, from another thread

    with pytest.raises(Cancelled, match="matching company was cancelled while"):
        match_workspace(ws, "company", progress=progress, cancel=stop)
    assert stages[-1].startswith(stop_at)
    assert {t: ws.con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall()
            for t in before} == before
    assert ws.con.execute("SELECT status FROM match_runs ORDER BY run_id").fetchall() == [
        ("done",), ("cancelled",)]


def test_no_candidate_is_an_honest_state(tmp_path: Path) -> None:
    crm = pd.DataFrame({"id": ["1", "2"], "name": ["Hansen Bygg AS", "Qwerty Zxcv"]})
    erp = pd.DataFrame({"id": ["a", "b"], "name": ["Hansen Bygg", "Berg Fisk"]})
    result = match_frames(crm, erp, [Comparison("name", "name", "name", "company")])
    assert "2" in result.no_candidate


# --- match-files ------------------------------------------------------------------------------

def test_match_files_output_contract(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    crm, erp = _customer_supplier_frames()
    crm.to_csv(tmp_path / "crm.csv", index=False)
    erp.to_csv(tmp_path / "erp.csv", index=False)
    out = tmp_path / "out.csv"
    assert main(["match-files", str(tmp_path / "crm.csv"), str(tmp_path / "erp.csv"),
                 "--out", str(out), "--compare", "name=name:company",
                 "--compare", "vatno=vatno:orgno"]) == 0
    with out.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == OUTPUT_COLUMNS
    assert {r["band"] for r in rows} <= {"auto", "review", "low"}
    linked = [r for r in rows if r["match"] == "1"]
    assert len({r["crm_id"] for r in linked}) == len(linked)
    assert len({r["erp_id"] for r in linked}) == len(linked)
    assert ("1", "supplier:L1") in {(r["crm_id"], r["erp_id"]) for r in linked}
    assert "compared name=name:company, vatno=vatno:orgno" in capsys.readouterr().err


def test_match_files_many_to_many_and_shared_columns(tmp_path: Path) -> None:
    write_text(tmp_path / "a.csv", "id,name,city\n1,Hansen Bygg,Oslo\n2,Hansen Bygg,Oslo\n")
    write_text(tmp_path / "b.csv", "id,name,city\nx,Hansen Bygg,Oslo\ny,Berg Fisk,Bodø\n")
    out = tmp_path / "out.csv"
    assert main(["match-files", str(tmp_path / "a.csv"), str(tmp_path / "b.csv"), "--out",
                 str(out), "--many-to-many"]) == 0
    rows = pd.read_csv(out, dtype=str)
    assert set(zip(rows.loc[rows["match"] == "1", "crm_id"],
                   rows.loc[rows["match"] == "1", "erp_id"], strict=True)) == {("1", "x"),
                                                                                 ("2", "x")}


def test_match_files_errors_name_the_problem(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    write_text(tmp_path / "a.csv", "id,name\n1,A\n1,B\n")
    write_text(tmp_path / "b.csv", "id,name\nx,A\n")
    assert main(["match-files", str(tmp_path / "a.csv"), str(tmp_path / "b.csv"), "--out",
                 str(tmp_path / "o.csv")]) == 1
    assert "row 3, column 'id' (A): id '1' appears twice" in capsys.readouterr().err
    write_text(tmp_path / "a.csv", "id,name\n1,A\n")
    assert main(["match-files", str(tmp_path / "a.csv"), str(tmp_path / "b.csv"), "--out",
                 str(tmp_path / "o.csv"), "--compare", "nme=name"]) == 1
    assert "the CRM table has no column 'nme'" in capsys.readouterr().err
    assert not (tmp_path / "o.csv").exists()


def test_decisions_are_labels_for_the_model(demo_companies) -> None:
    crm, erp, truth = demo_companies
    plain = match_frames(crm, erp, COMPARISONS["company"])
    # A steward accepts every true pair of the first 100 CRM records and rejects their
    # wrong candidates: the model is fitted with those labels.
    first = set(crm["id"].iloc[:100])
    cand = plain.candidates[plain.candidates["crm_id"].isin(first)]
    labels = cand.assign(label=[int((a, b) in truth) for a, b in
                                zip(cand["crm_id"], cand["erp_id"], strict=True)])
    taught = match_frames(crm, erp, COMPARISONS["company"],
                          decisions=labels[["crm_id", "erp_id", "label"]])
    got = taught.candidates.merge(labels[["crm_id", "erp_id", "label"]], on=["crm_id", "erp_id"])
    assert (got.loc[got["label"] == 1, "probability"] == 1.0).all()
    assert (got.loc[got["label"] == 0, "probability"] == 0.0).all()
    assert not np.allclose(np.concatenate(taught.model.m), np.concatenate(plain.model.m))


def test_decontaminate_u_removes_the_matches_from_the_random_pairs() -> None:
    from erpdata.matching import model as fs

    # Three independent two-level fields; 5 % of the random pairs are matches (m = 0.9 agree),
    # the rest agree with u = 0.01. Expected counts of all 8 level combinations, 200,000 pairs.
    rate, m1, u1 = 0.05, 0.9, 0.01
    rows, counts = [], []
    for combo in np.ndindex(2, 2, 2):
        agree = np.array(combo)
        p_match = np.prod(np.where(agree == 1, m1, 1 - m1))
        p_non = np.prod(np.where(agree == 1, u1, 1 - u1))
        rows.append(agree)
        counts.append(round(200_000 * (rate * p_match + (1 - rate) * p_non)))
    gamma = np.repeat(np.array(rows, dtype=np.int8), counts, axis=0)
    labels = [("different", "exact")] * 3
    naive = fs.estimate_u(gamma, [2, 2, 2])
    assert naive[0][1] == pytest.approx(rate * m1 + (1 - rate) * u1, abs=1e-3)
    model = fs.Model(["a", "b", "c"], labels, [np.array([1 - m1, m1])] * 3, naive, 0.1)
    clean, found = fs.decontaminate_u(model, gamma)
    assert found == pytest.approx(rate, abs=2e-3)
    for k in range(3):
        assert clean[k][1] == pytest.approx(u1, abs=1e-3)


def test_fit_starts_from_the_given_m() -> None:
    from erpdata.matching import model as fs

    gamma = np.array([[1], [1], [0], [0]], dtype=np.int8)
    start = [np.array([0.3, 0.7])]
    u = [np.array([0.9, 0.1])]
    kept = fs.fit(gamma, u, ["a"], [("different", "exact")], prior=0.2, start=start,
                  max_iterations=0)
    assert np.array_equal(kept.m[0], start[0]) and kept.prior == 0.2
    # one EM step from there: m is the p-weighted level share plus the pseudo-pairs
    stepped = fs.fit(gamma, u, ["a"], [("different", "exact")], prior=0.2, start=start,
                     max_iterations=1)
    p = kept.score(gamma)[0]
    sums = np.array([p[2:].sum(), p[:2].sum()]) + fs.M_PRIOR_PAIRS * fs._initial_m(2)
    assert np.allclose(stepped.m[0], sums / sums.sum())
    assert stepped.prior == pytest.approx(p.mean())


def test_latitude_and_longitude_are_compared_as_one_location() -> None:
    from erpdata.matching import compare
    from erpdata.matching.prepare import features
    from erpdata.matching.spec import infer_comparisons

    crm = pd.DataFrame({"id": ["1", "2", "3", "4"], "Name": ["Akzo", "Philips", "Océ", "Shell"],
                        "Lat": ["52.35", "0.0", "", "51.45"],
                        "Lng": ["4.9166667", "0.0", "", "5.466667"]})
    erp = crm.assign(id=["a", "b", "c", "d"])
    comps = infer_comparisons(crm, erp)
    assert comps == [Comparison("Name", "Name", "Name", "text"),
                     Comparison("Lat+Lng", "Lat", "Lat", "location", "Lng", "Lng")]
    assert comps[1].columns("erp") == ["Lat", "Lng"]
    # 0,0 is "no geocode", not a place where every unlocated record agrees
    points = features(crm, comps, "crm")["Lat+Lng"]
    assert points.isna().tolist() == [False, True, True, False]
    assert points[[0, 3]].tolist() == ["52.35,4.91667", "51.45,5.46667"]
    # same point / within 1 km (0.005 degrees of latitude: 556 m) / within 10 km / different
    left = np.array(["52.35,4.91667"] * 4 + [None], dtype=object)
    right = np.array(["52.35,4.91667", "52.355,4.91667", "52.4,4.91667", "51.45,5.46667",
                      "52.35,4.91667"], dtype=object)
    pairs = np.arange(len(left))
    assert compare.levels("location", left, right, pairs, pairs).tolist() == [3, 2, 1, 0, -1]
    # a column called "long" that holds text is no longitude
    text = crm.assign(lat=crm["Lat"], long=[f"a long name {n}" for n in "abcd"]).drop(
        columns=["Lat", "Lng"])
    assert [c.type for c in infer_comparisons(text, text)] == ["text", "number", "text"]


def test_parse_compare_location() -> None:
    assert parse_compare("lat+lng=latitude+longitude") == Comparison(
        "lat+lng", "lat", "latitude", "location", "lng", "longitude")
    with pytest.raises(ValueError, match="a latitude and a longitude"):
        Comparison("lat", "lat", "lat", "location")


def test_score_mixture_finds_the_two_groups_of_weights() -> None:
    from erpdata.matching import model as fs

    # 900 non-matches around -20, 100 matches around 0; the model's split (-5) is off
    weight = np.concatenate([np.linspace(-23, -17, 900), np.linspace(-3, 3, 100)])
    mixed = fs.score_mixture(weight, split=-5.0)
    assert mixed is not None
    p = mixed.probability
    assert mixed.share == pytest.approx(0.1, abs=1e-3)
    assert mixed.separation > 5
    assert (p[:900] < 1e-6).all() and (p[900:] > 0.999).all()
    assert (np.diff(p) >= 0).all()  # rises with the weight: the model's order is kept
    assert (p[weight <= -20] == 0).all() and (p[weight >= 0] == 1).all()
    assert fs.score_mixture(weight, split=10.0) is None
    # non-matches with a long tail of weights make no two groups
    rng = np.random.default_rng(0)
    tail = np.concatenate([rng.normal(-25, 2.5, 17_000), -25 + rng.exponential(6, 600)])
    spread = fs.score_mixture(tail, split=-5.0)
    assert spread is not None and spread.separation < 3


def test_many_to_many_explains_a_location() -> None:
    crm = pd.DataFrame({"id": ["1", "2"], "name": ["Akzo Nobel", "Philips"],
                        "latitude": ["52.35", "51.45"], "longitude": ["4.9166667", "5.466667"]})
    erp = pd.DataFrame({"id": ["a", "b"], "name": ["Akzo Nobel", "Philips"],
                        "latitude": ["52.35", "0"], "longitude": ["4.9166667", "0"]})
    result = match_frames(crm, erp, many_to_many=True)
    assert [c.type for c in result.comparisons] == ["text", "location"]
    c = result.candidates.set_index(["crm_id", "erp_id"])
    point = "latitude+longitude"
    assert json.loads(c.loc[("1", "a"), "explanation"])[point]["level"] == "same point"
    assert json.loads(c.loc[("2", "b"), "explanation"])[point]["level"] == "missing"


def test_weight_groups_replace_a_collapsed_prior(monkeypatch: pytest.MonkeyPatch) -> None:
    from erpdata.matching import engine

    crm, erp = _customer_supplier_frames()
    sound = match_frames(crm, erp, COMPANY, many_to_many=True)
    assert sound.stats["calibration"] == "model"
    # Pretend every prior has collapsed: the weight groups then give the probabilities...
    monkeypatch.setattr(engine, "COLLAPSED_PRIOR", 0.0)
    monkeypatch.setattr(engine, "GROUP_SEPARATION", 0.0)
    grouped = match_frames(crm, erp, COMPANY, many_to_many=True)
    assert grouped.stats["calibration"] == "weight groups"
    both = sound.candidates.merge(grouped.candidates, on=["crm_id", "erp_id"])
    assert len(both) >= 4
    # ...never lower than the model's, above the ceiling only where the model itself was sure,
    assert (both["probability_y"] >= both["probability_x"] - 1e-9).all()
    high = both["probability_y"] > engine.MIXTURE_CEILING
    assert (both.loc[high, "probability_y"] == both.loc[high, "probability_x"]).all()
    # ...and the weights and explanations stay the model's.
    assert (both["match_weight_x"] == both["match_weight_y"]).all()
    assert (both["explanation_x"] == both["explanation_y"]).all()
