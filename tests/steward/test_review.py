"""Review: the field diff of a pair (statuses, default picks, directions), stored picks, the
picks a steward makes with one key (field groups, a whole side), competing CRM records and the
score's waterfall."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from erpdata import commit, decide, match_workspace
from erpdata.ingest.load import load_file
from erpdata.steward.explain import ExplainError, waterfall
from erpdata.steward.mappings import FieldMapping, save_mappings
from erpdata.steward.review import (
    COLUMNS,
    STATUSES,
    PickItem,
    ReviewError,
    competitors,
    diff,
    diffs,
    html,
    pick,
    pick_items,
    pick_side,
    reject_as_duplicate,
)
from erpdata.workspace import Workspace
from tests.helpers import snapshot, write_text


def _rows(frame: pd.DataFrame, *cols: str) -> dict[str, tuple[object, ...]]:
    """Non-empty rows of a diff by field: the named columns."""
    shown = frame[frame["status"] != "empty"]
    return {f: tuple(r) for f, *r in shown[["erp_field", *cols]].itertuples(index=False)}


def test_statuses_default_picks_and_what_each_side_gets(companies_ws: Workspace) -> None:
    d = diff(companies_ws, "company", "1", "customer:K2")
    assert list(d.columns) == COLUMNS and set(d["status"]) <= set(STATUSES)
    assert _rows(d, "crm_value", "erp_value", "status", "pick", "crm_after", "erp_after") == {
        # the CRM wins names by default; the legal form is a real difference
        "name": ("Berg Bygg AB", "Berg Bygg", "different", "crm", "Berg Bygg AB",
                 "Berg Bygg AB"),
        # a value missing on one side is taken over
        "vatno": ("5560360793", None, "missing_erp", "crm", "5560360793", "5560360793"),
        "postalcity": ("Stockholm", "Stockholm", "equal", "crm", "Stockholm", "Stockholm"),
    }


def test_equal_after_normalisation_is_not_a_conflict(companies_ws: Workspace) -> None:
    d = diff(companies_ws, "company", "2", "customer:K1")
    assert _rows(d, "status", "crm_after", "erp_after")["vatno"] == (
        "equal_normalised", "923609016", "NO923609016MVA")  # nothing is written


def test_the_mapping_decides_winner_and_direction(companies_ws: Workspace) -> None:
    d = diff(companies_ws, "company", "4", "customer:K9")
    # org numbers: the ERP wins by default, both ways
    assert _rows(d, "status", "pick", "crm_after", "erp_after")["vatno"] == (
        "different", "erp", "911111111", "911111111")
    save_mappings(companies_ws, "company", [FieldMapping("name", "name", "both", mandatory=True),
                                   FieldMapping("vatno", "vatno", "to_crm", winner="crm"),
                                   FieldMapping("postalcity", "postalcity", "none")])
    d = diff(companies_ws, "company", "4", "customer:K9")
    assert _rows(d, "direction", "pick", "crm_after", "erp_after") == {
        "name": ("both", "crm", "Fjord Fisk AS", "Fjord Fisk AS"),
        # to_crm with the CRM winning: neither side changes
        "vatno": ("to_crm", "crm", "987654321", "911111111"),
        # not synchronised: shown, never written
        "postalcity": ("none", "crm", "Tromsø", "Bodø"),
    }


def test_newest_wins_by_when_each_record_last_changed(companies_ws: Workspace,
                                                      tmp_path: Path) -> None:
    save_mappings(companies_ws, "company", [FieldMapping("postalcity", "postalcity", "both",
                                                winner="newest")])
    # The ERP export was loaded after the CRM one: its record is newer.
    assert _rows(diff(companies_ws, "company", "4", "customer:K9"), "pick")["postalcity"] == (
        "erp",)
    load_file(companies_ws, write_text(tmp_path / "c2.csv", "id;name;postalcity\n"
                                       "4;Fjord Fisk AS;Harstad\n"), side="crm", kind="company")
    assert _rows(diff(companies_ws, "company", "4", "customer:K9"), "pick", "value")[
        "postalcity"] == ("crm", "Harstad")


def test_phone_formats_are_equal_after_normalisation(tmp_path: Path) -> None:
    with Workspace.open(tmp_path / "p.duckdb") as ws:
        load_file(ws, write_text(tmp_path / "c.csv", "id;name;phone;country\n"
                                 "1;Hansen AS;22 33 44 55;NO\n"), side="crm", kind="company")
        load_file(ws, write_text(tmp_path / "e.csv", "id;type;name;phone;country\n"
                                 "K1;customer;Hansen AS;+47 22334455;Norge\n"),
                  side="erp", kind="company")
        rows = _rows(diff(ws, "company", "1", "customer:K1"), "status")
        assert rows == {"name": ("equal",), "phone": ("equal_normalised",),
                        "country": ("equal_normalised",)}


def test_picks_are_stored_per_pair_and_field(companies_ws: Workspace) -> None:
    pick(companies_ws, "company", "4", "customer:K9", "name", "value", "Fjord Fisk Nord AS",
         user="kari")
    pick(companies_ws, "company", "4", "customer:K9", "vatno", "crm", user="kari")
    d = diff(companies_ws, "company", "4", "customer:K9")
    assert _rows(d, "pick", "value", "crm_after", "erp_after", "picked_by") == {
        "name": ("value", "Fjord Fisk Nord AS", "Fjord Fisk Nord AS", "Fjord Fisk Nord AS",
                 "kari"),
        "vatno": ("crm", "987654321", "987654321", "987654321", "kari"),
        "postalcity": ("crm", "Tromsø", "Tromsø", "Tromsø", None),
    }
    # another pair of the same CRM record keeps its own defaults
    assert _rows(diff(companies_ws, "company", "4", "customer:K2"), "pick")["name"] == ("crm",)
    pick(companies_ws, "company", "4", "customer:K9", "name", "erp")  # a changed mind replaces
    assert _rows(diff(companies_ws, "company", "4", "customer:K9"), "value")["name"] == (
        "Nordlys Energi AS",)


@pytest.mark.parametrize(("args", "message"), [
    (("category", "crm", None), "field 'category' is not synchronised"),
    (("name", "value", None), "a typed value goes with choice 'value'"),
    (("name", "crm", "x"), "a typed value goes with choice 'value'"),
    (("name", "both", None), "pick one of crm, erp, value"),
])
def test_bad_picks_say_why(companies_ws: Workspace, args: tuple[str, str, str | None],
                           message: str) -> None:
    before = snapshot(companies_ws)
    with pytest.raises(ReviewError, match=message):
        pick(companies_ws, "company", "4", "customer:K9", *args)
    assert snapshot(companies_ws) == before


def test_a_pair_of_unknown_records_is_an_error(companies_ws: Workspace) -> None:
    with pytest.raises(ReviewError, match=r"e\.g\. CRM company '99' / ERP customer:K9"):
        diff(companies_ws, "company", "99", "customer:K9")


def test_many_pairs_at_once_keep_their_order(companies_ws: Workspace) -> None:
    pairs = pd.DataFrame({"crm_id": ["4", "1"], "erp_actor_type": ["customer", "supplier"],
                          "erp_id": ["K9", "L1"]})
    d = diffs(companies_ws, "company", pairs)
    assert d["crm_id"].drop_duplicates().tolist() == ["4", "1"]
    assert len(d) == 2 * len(d[d["crm_id"] == "1"])
    assert "background-color: #fde2e1" in html(d).to_html()


# --- one key per pick: field groups, take a side, competitors, duplicates --------------------


@pytest.fixture
def address_ws(tmp_path: Path) -> Iterator[Workspace]:
    """One CRM and one ERP company whose postal addresses differ: the street and the postcode
    differ, the CRM has no city, and the names differ by the legal form."""
    with Workspace.open(tmp_path / "a.duckdb") as ws:
        load_file(ws, write_text(tmp_path / "c.csv",
                                 "id;name;postalad1;postalzip;postalcity\n"
                                 "1;Nordisk Rør AS;Storgata 1;0150;\n"),
                  side="crm", kind="company")
        load_file(ws, write_text(tmp_path / "e.csv",
                                 "id;type;name;postalad1;postalzip;postalcity\n"
                                 "100071;customer;Nordisk Rør ASA;Postboks 5;0101;Oslo\n"),
                  side="erp", kind="company")
        yield ws


def test_a_whole_address_is_one_pick(address_ws: Workspace) -> None:
    items = pick_items(diff(address_ws, "company", "1", "customer:100071"), "company")
    assert items == [
        PickItem("Name", ("name",), "Nordisk Rør AS", "Nordisk Rør ASA", "crm"),
        # the CRM has no city, yet the whole address defaults to the CRM (never "mixed")
        PickItem("Postal address", ("postalad1", "postalzip", "postalcity"),
                 "Storgata 1, 0150", "Postboks 5, 0101, Oslo", "crm"),
    ]
    assert [i.next for i in items] == ["erp", "erp"]
    assert pick_side(address_ws, "company", "1", "customer:100071", items[1].fields, "erp",
                     user="kari") == 3
    d = diff(address_ws, "company", "1", "customer:100071")
    # the whole address comes from the ERP: never its street with the CRM's postcode
    rows = {f: tuple(None if pd.isna(v) else v for v in r)
            for f, r in _rows(d, "pick", "crm_after", "picked_by").items()}
    assert rows == {
        "name": ("crm", "Nordisk Rør AS", None),
        "postalad1": ("erp", "Postboks 5", "kari"),
        "postalzip": ("erp", "0101", "kari"),
        "postalcity": ("erp", "Oslo", "kari"),
    }
    assert pick_items(d, "company")[1].current == "erp"
    # a steward may still mix on purpose (one field on its own); the line then says so
    pick(address_ws, "company", "1", "customer:100071", "postalzip", "crm", user="kari")
    assert pick_items(diff(address_ws, "company", "1", "customer:100071"),
                      "company")[1].current == "mixed"


def _nulls(rows: dict[str, tuple[object, ...]]) -> dict[str, tuple[object, ...]]:
    return {f: tuple(None if pd.isna(v) else v for v in r) for f, r in rows.items()}


def test_the_default_takes_a_whole_address_from_one_side(address_ws: Workspace) -> None:
    """The street differs and the CRM wins it: the postcode and the city, too, default to the
    CRM, the city the ERP alone holds included; the commit writes the CRM's address whole."""
    d = diff(address_ws, "company", "1", "customer:100071")
    assert _nulls(_rows(d, "status", "pick", "crm_after", "erp_after")) == {
        "name": ("different", "crm", "Nordisk Rør AS", "Nordisk Rør AS"),
        "postalad1": ("different", "crm", "Storgata 1", "Storgata 1"),
        "postalzip": ("different", "crm", "0150", "0150"),
        # field by field, the ERP's city would be taken over: Storgata 1, 0150 Oslo is an
        # address neither side holds
        "postalcity": ("missing_crm", "crm", None, None),
    }
    decide(address_ws, "company", "accept", "1", "customer:100071", user="kari")
    commit(address_ws, user="ola")
    (payload,) = address_ws.con.execute("SELECT payload FROM actions WHERE action = "
                                        "'update_erp'").fetchone() or (None,)
    assert json.loads(payload) == {
        "fields": {"name": "Nordisk Rør AS", "postalad1": "Storgata 1", "postalzip": "0150",
                   "postalcity": None},
        "before": {"name": "Nordisk Rør ASA", "postalad1": "Postboks 5", "postalzip": "0101",
                   "postalcity": "Oslo"}}
    assert address_ws.con.execute("SELECT count(*) FROM actions WHERE action = 'update_crm'"
                                  ).fetchone() == (0,)


@pytest.mark.parametrize(("winners", "side"), [
    # the ERP export was loaded after the CRM one: its record is the newer
    ({"postalad1": "newest", "postalzip": "newest", "postalcity": "newest"}, "erp"),
    # winners that disagree: the group's first differing field (the street line) decides
    ({"postalad1": "erp", "postalzip": "crm", "postalcity": "crm"}, "erp"),
    ({"postalad1": "crm", "postalzip": "erp", "postalcity": "erp"}, "crm"),
])
def test_the_address_default_follows_the_winner_of_its_differing_fields(
        address_ws: Workspace, winners: dict[str, str], side: str) -> None:
    save_mappings(address_ws, "company", [
        FieldMapping("name", "name", "both", mandatory=True),
        *(FieldMapping(f, f, "both", winner=w) for f, w in winners.items())])  # type: ignore[arg-type]
    d = diff(address_ws, "company", "1", "customer:100071")
    assert {f: p for f, (p,) in _rows(d, "pick").items()} == {
        "name": "crm", "postalad1": side, "postalzip": side, "postalcity": side}
    assert pick_items(d, "company")[1].current == side


def test_an_address_without_a_difference_takes_over_what_one_side_lacks(tmp_path: Path) -> None:
    """No second address to mix with: the same street, the postcode only the ERP has."""
    with Workspace.open(tmp_path / "t.duckdb") as ws:
        load_file(ws, write_text(tmp_path / "c.csv", "id;name;postalad1;postalzip\n"
                                 "1;Vest AS;Postboks 5;\n"), side="crm", kind="company")
        load_file(ws, write_text(tmp_path / "e.csv", "id;type;name;postalad1;postalzip\n"
                                 "K1;customer;Vest AS;Postboks 5;0101\n"),
                  side="erp", kind="company")
        d = diff(ws, "company", "1", "customer:K1")
        assert _nulls(_rows(d, "status", "pick", "crm_after")) == {
            "name": ("equal", "crm", "Vest AS"), "postalad1": ("equal", "crm", "Postboks 5"),
            "postalzip": ("missing_crm", "erp", "0101")}
        assert pick_items(d, "company") == []


def test_take_all_erp_stores_every_pick_or_none(address_ws: Workspace) -> None:
    every = tuple(f for i in pick_items(diff(address_ws, "company", "1", "customer:100071"),
                                        "company") for f in i.fields)
    pick_side(address_ws, "company", "1", "customer:100071", every, "erp")
    d = diff(address_ws, "company", "1", "customer:100071")
    assert {i.label: i.current for i in pick_items(d, "company")} == {
        "Name": "erp", "Postal address": "erp"}
    before = snapshot(address_ws)
    with pytest.raises(ReviewError, match="field 'category' is not synchronised"):
        pick_side(address_ws, "company", "1", "customer:100071", ("name", "category"), "crm")
    with pytest.raises(ReviewError, match="take the CRM or the ERP side"):
        pick_side(address_ws, "company", "1", "customer:100071", ("name",), "value")
    with pytest.raises(ReviewError, match="no field to pick"):
        pick_side(address_ws, "company", "1", "customer:100071", (), "crm")
    assert snapshot(address_ws) == before  # all or nothing


def test_competing_crm_records_and_the_duplicate_key(companies_ws: Workspace) -> None:
    match_workspace(companies_ws, "company")
    # CRM companies 2 and 3 are one company entered twice: both want customer K1
    # (and Zzyzx Quux, with almost no data, has it as its best weak candidate)
    rivals = competitors(companies_ws, "company", "3", "customer:K1")
    assert rivals[["crm_id", "crm_name", "rank"]].to_dict("records") == [
        {"crm_id": "2", "crm_name": "Hansen & Co AS", "rank": 1},
        {"crm_id": "5", "crm_name": "Zzyzx Quux", "rank": 1}]
    assert rivals["probability"].is_monotonic_decreasing
    assert competitors(companies_ws, "company", "4", "customer:K9").empty
    made = reject_as_duplicate(companies_ws, "company", "3", "customer:K1", "2", user="kari",
                               seen=None)
    assert companies_ws.con.execute(
        "SELECT decision_id, crm_id, erp_id, decision, decided_by, note FROM decisions"
    ).fetchall() == [(made, "3", "K1", "reject", "kari",
                      "CRM duplicate of CRM company 2 Hansen & Co AS")]
    with pytest.raises(ReviewError, match="cannot be a duplicate of itself"):
        reject_as_duplicate(companies_ws, "company", "2", "customer:K1", "2")
    with pytest.raises(ReviewError, match="CRM company '77' is not in the workspace"):
        reject_as_duplicate(companies_ws, "company", "2", "customer:K1", "77")


def test_the_waterfall_adds_up_field_by_field(companies_ws: Workspace) -> None:
    companies_ws.con.execute(
        """INSERT INTO suggestions (kind, crm_id, erp_actor_type, erp_id, rank, probability,
                                    match_weight, band)
           VALUES ('company', '4', 'customer', 'K9', 1, 0.6, 0.0, 'review'),
                  ('company', '4', 'customer', 'K2', 2, 0.1, -3.0, 'low'),
                  ('company', '1', 'customer', 'K9', 3, 0.1, -3.0, 'low')""")
    companies_ws.con.execute(
        """INSERT INTO explanations (kind, crm_id, erp_actor_type, erp_id, explanation)
           VALUES ('company', '4', 'customer', 'K9', ?), ('company', '4', 'customer', 'K2', '{}'),
                  ('company', '1', 'customer', 'K9', '{}')""",
        ['{"prior": -2.0, "name": {"level": "similar", "weight": 3.0},'
         ' "postalcity": {"level": "different", "weight": -1.0},'
         ' "vatno": {"level": "missing", "weight": 0.0}}'])
    w = waterfall(companies_ws, "company", "4", "customer:K9")
    assert w.frame().to_dict("records") == [
        {"Field": "Starting point: how often two records match", "CRM": None, "ERP": None,
         "Agreement": "", "Weight": -2.0, "Probability": 0.2},
        {"Field": "Name", "CRM": "Fjord Fisk AS", "ERP": "Nordlys Energi AS",
         "Agreement": "similar", "Weight": 3.0, "Probability": 0.6667},
        {"Field": "City", "CRM": "Tromsø", "ERP": "Bodø", "Agreement": "different",
         "Weight": -1.0, "Probability": 0.5},
        {"Field": "Org. no / VAT no", "CRM": "987654321", "ERP": "911111111",
         "Agreement": "no value on one side", "Weight": 0.0, "Probability": 0.5},
    ]
    assert (w.alone, w.probability, w.other_erp, w.other_crm) == (0.5, 0.6, 1, 1)
    assert w.summary() == (
        "The fields add up to 50.0%. Weighing 1 other ERP candidate(s) of this CRM record and "
        "1 other CRM record(s) that want this ERP record (a record takes one match) raises it "
        "to 60.0%.")
    with pytest.raises(ExplainError, match="CRM company 5 and ERP customer K9 are not a "
                                           "suggested pair"):
        waterfall(companies_ws, "company", "5", "customer:K9")


def test_the_waterfall_of_a_matched_pair_ends_at_its_match_weight(
        companies_ws: Workspace) -> None:
    match_workspace(companies_ws, "company")
    (weight, p) = companies_ws.con.execute(
        "SELECT match_weight, probability FROM suggestions WHERE crm_id = '3' AND "
        "erp_id = 'K1'").fetchone()
    w = waterfall(companies_ws, "company", "3", "customer:K1")
    assert sum(s.weight for s in w.steps) == pytest.approx(weight, abs=0.01)
    assert w.steps[1].label == "Name" and (w.steps[1].crm_value, w.steps[1].erp_value) == (
        "Hansen og Co AS", "Hansen & Co AS")
    assert (w.probability, w.other_crm) == (pytest.approx(p), 2)  # CRM 2 and 5
