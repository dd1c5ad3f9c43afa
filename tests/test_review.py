"""Review: the field diff of a pair (statuses, default picks, directions) and stored picks."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from erpdata.ingest import load_file
from erpdata.review import COLUMNS, STATUSES, ReviewError, diff, diffs, html, pick
from erpdata.settings import FieldMapping, save_mappings
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
