"""Reports: golden-file layouts (CSV, XLSX, Parquet) and formula neutralisation.

The golden files in ``tests/golden/reports/`` are the contract an import tool reads. Rewrite
them after a deliberate layout change with ``ERPDATA_UPDATE_GOLDEN=1 pytest tests/test_reports.py``
and review the diff.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import load_workbook

from erpdata.commit import commit
from erpdata.decisions import decide
from erpdata.errors import ErpdataError
from erpdata.ingest import load_file
from erpdata.reports import (
    REPORTS,
    build_reports,
    decisions_over_time,
    export_reports,
    neutralise,
    probability_histogram,
)
from erpdata.review import pick
from erpdata.workspace import Workspace
from tests.helpers import write_text

GOLDEN = Path(__file__).parent / "golden" / "reports"
TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d+)?")


@pytest.fixture
def ws(companies_ws: Workspace, tmp_path: Path) -> Workspace:
    """A workspace after a steward's day: two links (one with a typed name that looks like a
    formula), a conflict between two CRM duplicates, a create waiting in the queue."""
    w = companies_ws
    load_file(w, write_text(tmp_path / "p.csv", "id;firstname;lastname;company_id\n"
                            "P1;Kari;Berg;1\n"), side="crm", kind="person")
    w.con.execute("""INSERT INTO suggestions (kind, crm_id, erp_actor_type, erp_id, rank,
                         probability, band, conflict, link) VALUES
                     ('company', '2', 'customer', 'K1', 1, 0.97, 'review', true, true),
                     ('company', '3', 'customer', 'K1', 1, 0.96, 'review', true, false),
                     ('company', '1', 'supplier', 'L1', 1, 0.999, 'auto', false, true)""")
    decide(w, "company", "accept", "1", "supplier:L1", user="kari")
    decide(w, "company", "accept", "4", "customer:K9", user="kari")
    pick(w, "company", "4", "customer:K9", "name", "value", '=HYPERLINK("http://x")')
    decide(w, "company", "create", "5", actor_type="supplier",
           create_values={"category": "@SUM(A1)"}, user="kari")
    commit(w, user="kari")
    return w


def _golden(name: str, text: str) -> None:
    text = TIMESTAMP.sub("<time>", text)
    path = GOLDEN / name
    if os.environ.get("ERPDATA_UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8"), f"{name} differs from its golden file"


def test_csv_reports_match_their_golden_files(ws: Workspace, tmp_path: Path) -> None:
    written = export_reports(ws, "csv", tmp_path / "out")
    assert [p.name for p in written] == [f"{name}.csv" for name in REPORTS]
    for path in written:
        _golden(path.name, path.read_text(encoding="utf-8"))


def test_xlsx_has_a_styled_sheet_per_report_with_the_csv_cells(ws: Workspace,
                                                                tmp_path: Path) -> None:
    (path,) = export_reports(ws, "xlsx", tmp_path / "report.xlsx")
    book = load_workbook(path)
    assert book.sheetnames == list(REPORTS)
    links = book["links"]
    assert links.freeze_panes == "A2"
    assert all(cell.font.bold for cell in links[1])
    assert links.column_dimensions["C"].width == len("'=HYPERLINK(\"http://x\")") + 2
    rows = [[c.value for c in row] for row in links.iter_rows(min_row=2)]
    assert [r[:6] for r in rows] == [
        ["company", "1", "Berg Bygg AB", "supplier", "L1", "Berg Bygg AB"],
        ["company", "4", "'=HYPERLINK(\"http://x\")", "customer", "K9",
         "'=HYPERLINK(\"http://x\")"]]
    creates = [[c.value for c in row] for row in book["erp_creates"].iter_rows()]
    assert creates[0][-1] == "category" and creates[1][-1] == "'@SUM(A1)"


def test_parquet_keeps_values_as_they_are(ws: Workspace, tmp_path: Path) -> None:
    export_reports(ws, "parquet", tmp_path / "pq")
    links = pd.read_parquet(tmp_path / "pq" / "links.parquet")
    assert links["crm_name"].tolist() == ["Berg Bygg AB", '=HYPERLINK("http://x")']
    assert links["probability"].tolist()[0] == 0.999


def test_reports_as_dataframes(ws: Workspace) -> None:
    r = build_reports(ws)
    unmatched = r["unmatched_crm"][["crm_id", "best_candidate", "decision"]]
    assert unmatched.astype(object).where(unmatched.notna(), None).values.tolist() == [
        ["2", "customer:K1", None], ["3", "customer:K1", None], ["5", None, "create"],
        ["P1", None, None]]
    assert r["unmatched_erp"]["erp_id"].tolist() == ["K1", "K2"]
    assert r["conflicts"]["crm_id"].tolist() == ["2", "3"]
    assert r["erp_updates"][["erp_id", "field", "before", "after"]].values.tolist() == [
        ["K9", "name", "Nordlys Energi AS", '=HYPERLINK("http://x")'],
        ["K9", "postalcity", "Bodø", "Tromsø"]]


@pytest.mark.parametrize(("value", "safe"), [
    ("=1+1", "'=1+1"), ("+47 22 33 44 55", "'+47 22 33 44 55"), ("-2", "'-2"),
    ("@SUM(A1)", "'@SUM(A1)"), ("\tx", "'\tx"), ("\rx", "'\rx"), ("Hansen", "Hansen"),
    ("a=b", "a=b"), ("", ""),
])
def test_formula_neutralisation(value: str, safe: str) -> None:
    frame = pd.DataFrame({"text": [value], "number": [-2]})
    out = neutralise(frame)
    assert out["text"].tolist() == [safe] and out["number"].tolist() == [-2]


def test_bad_format_or_path_says_what_to_do(ws: Workspace, tmp_path: Path) -> None:
    with pytest.raises(ErpdataError, match="unknown report format 'pdf'"):
        export_reports(ws, "pdf", tmp_path / "x")
    with pytest.raises(ErpdataError, match=r"give a path ending in \.xlsx"):
        export_reports(ws, "xlsx", tmp_path / "x.csv")


def test_chart_data_is_counted_in_the_workspace(ws: Workspace) -> None:
    hist = probability_histogram(ws, "company", bins=10)
    assert hist.values.tolist() == [[0.9, "auto", 1], [0.9, "review", 1]]
    days = decisions_over_time(ws)
    assert days[["decision", "decisions"]].values.tolist() == [["accept", 2], ["create", 1]]


def test_the_activity_log_pages_through_who_did_what(ws: Workspace) -> None:
    from erpdata.reports import activity

    everything, last = activity(ws, size=1000)
    assert last is None
    decisions = ws.con.execute("SELECT count(*) FROM decisions").fetchone()[0]
    audited = ws.con.execute("SELECT count(*) FROM audit").fetchone()[0]
    assert len(everything) == decisions + audited
    assert everything["logged_at"].is_monotonic_decreasing
    assert set(everything["actor"]) == {"kari"}
    assert {"accept", "create", "link", "update_erp", "create_erp"} <= set(everything["action"])
    # page by page: the same rows, in the same order, each once
    seen, key = [], None
    while True:
        rows, key = activity(ws, after=key, size=3)
        seen.append(rows)
        if key is None:
            break
    pd.testing.assert_frame_equal(pd.concat(seen, ignore_index=True), everything)
    assert activity(ws, actor="ola")[0].empty
