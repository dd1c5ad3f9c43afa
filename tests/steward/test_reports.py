"""Reports: golden-file layouts (CSV, XLSX, Parquet), formula neutralisation, CSV for
spreadsheets (BOM, delimiter, decimal comma, the default by the workspace's country) and the
XLSX's progress and Cancel.

The golden files in ``tests/golden/reports/`` are the contract an import tool reads. Rewrite
them after a deliberate layout change with
``ERPDATA_UPDATE_GOLDEN=1 pytest tests/steward/test_reports.py`` and review the diff.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import load_workbook

from erpdata.cli import main
from erpdata.errors import ErpdataError
from erpdata.ingest.load import load_file
from erpdata.progress import Cancelled
from erpdata.steward.commit import commit
from erpdata.steward.decisions import decide
from erpdata.steward.reports import (
    REPORTS,
    build_reports,
    decisions_over_time,
    default_delimiter,
    export_reports,
    neutralise,
    neutralise_cell,
    probability_histogram,
    workspace_country,
)
from erpdata.steward.review import pick
from erpdata.workspace import Workspace
from tests.conftest import write_csv_file
from tests.helpers import write_text

GOLDEN = Path(__file__).parent.parent / "golden" / "reports"
TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d+)?")
BOM = b"\xef\xbb\xbf"


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
    """The comma layout (the fixture's companies have no country, so ``,`` is the default)."""
    written = export_reports(ws, "csv", tmp_path / "out")
    assert [p.name for p in written] == [f"{name}.csv" for name in REPORTS]
    for path in written:
        data = path.read_bytes()
        assert data.startswith(BOM + b"kind," if "updates" not in path.name and
                               "creates" not in path.name else BOM + b"batch_id,")
        _golden(path.name, data[len(BOM):].decode("utf-8"))


def test_xlsx_has_a_styled_sheet_per_report_with_the_csv_cells(ws: Workspace,
                                                                tmp_path: Path) -> None:
    (path,) = export_reports(ws, "xlsx", tmp_path / "report.xlsx")
    book = load_workbook(path)
    assert book.sheetnames == list(REPORTS)
    links = book["links"]
    assert links.freeze_panes == "A2"
    assert all(cell.font.bold for cell in links[1])
    assert links.column_dimensions["C"].width == len("=HYPERLINK(\"http://x\")") + 2
    rows = [[c.value for c in row] for row in links.iter_rows(min_row=2)]
    # text cells hold the text itself: no prefix, and no formula (data type "s")
    assert [r[:6] for r in rows] == [
        ["company", "1", "Berg Bygg AB", "supplier", "L1", "Berg Bygg AB"],
        ["company", "4", "=HYPERLINK(\"http://x\")", "customer", "K9",
         "=HYPERLINK(\"http://x\")"]]
    assert [links["C3"].data_type, links["C3"].quotePrefix] == ["s", True]
    creates = book["erp_creates"]
    assert creates["J1"].value == "category" and creates["J2"].value == "@SUM(A1)"
    assert [creates["J2"].data_type, creates["J2"].quotePrefix] == ["s", True]


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
    ("=1+1", "'=1+1"), ("@SUM(A1)", "'@SUM(A1)"), ("\tx", "'\tx"), ("\rx", "'\rx"),
    ("=", "'="),
    # a sign followed by anything but a number is a formula ...
    ("+SUM(A1)", "'+SUM(A1)"), ("-cmd", "'-cmd"), ("+", "'+"), ("-", "'-"), ("- 5", "'- 5"),
    ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"), ("-1+E5", "'-1+E5"),
    # ... a sign followed by a number (a phone number, an amount) is data, left as it is;
    # -2+3 too: nothing but digits and signs, arithmetic at worst, never a call
    ("+47 22 33 44 55", "+47 22 33 44 55"), ("-12.5", "-12.5"), ("-2", "-2"),
    ("-2+3", "-2+3"), ("+1 (555) 123-4567", "+1 (555) 123-4567"),
    ("-1\u00a0234,50", "-1\u00a0234,50"), ("-.5", "-.5"), ("+(47) 22", "+(47) 22"),
    ("Hansen", "Hansen"), ("a=b", "a=b"), ("", ""), (" =1", " =1"),
])
def test_formula_neutralisation(value: str, safe: str) -> None:
    frame = pd.DataFrame({"text": [value], "number": [-2]})
    out = neutralise(frame)
    assert out["text"].tolist() == [safe] and out["number"].tolist() == [-2]
    assert neutralise_cell(value) == safe and neutralise_cell(-2) == -2


#: A phone number, an amount, four formulas and two more numbers: what a report must carry.
SPREADSHEET_VALUES = ['+47 22 33 44 55', '-12.5', '=HYPERLINK("x")', '@SUM(A1)', '+SUM(A1)',
                      '-2+3', '-cmd', '-5']


@pytest.fixture
def values_ws(tmp_path: Path) -> Iterator[Workspace]:
    """CRM companies named :data:`SPREADSHEET_VALUES`, each accepted with an ERP customer
    ``Firma i`` and committed: the names are in the links report (for people) and, as the
    CRM wins the name, in the ERP change set (for the import tool)."""
    with Workspace.open(tmp_path / "v.duckdb") as w:
        crm = [["id", "name"], *([str(i), v] for i, v in enumerate(SPREADSHEET_VALUES, 1))]
        erp = [["id", "type", "name"],
               *([f"K{i}", "customer", f"Firma {i}"] for i in range(1, 9))]
        load_file(w, write_csv_file(tmp_path / "c.csv", crm), side="crm", kind="company")
        load_file(w, write_csv_file(tmp_path / "e.csv", erp), side="erp", kind="company")
        for i in range(1, 9):
            decide(w, "company", "accept", str(i), f"customer:K{i}", user="kari")
        commit(w, user="kari")
        yield w


def test_phone_numbers_and_amounts_survive_every_report_format(values_ws: Workspace,
                                                               tmp_path: Path) -> None:
    """Issue 16, item 5: the people's CSV neutralises only the formulas; the change set an
    import tool reads is byte-exact; the XLSX holds every value exactly, as text, not as a
    formula (read back by openpyxl and by calamine, the reader pandas uses)."""
    from python_calamine import CalamineWorkbook

    export_reports(values_ws, "csv", tmp_path / "csv", delimiter=";")
    links = (tmp_path / "csv" / "links.csv").read_text(encoding="utf-8-sig").splitlines()
    assert [line.split(";")[2] for line in links[1:]] == [
        '+47 22 33 44 55', '-12.5', '"\'=HYPERLINK(""x"")"', "'@SUM(A1)", "'+SUM(A1)", '-2+3',
        "'-cmd", '-5']
    assert (tmp_path / "csv" / "erp_updates.csv").read_bytes() == BOM + (
        b"batch_id;action_id;kind;crm_id;erp_actor_type;erp_id;field;before;after\n"
        b"1;9;company;1;customer;K1;name;Firma 1;+47 22 33 44 55\n"
        b"1;10;company;2;customer;K2;name;Firma 2;-12.5\n"
        b'1;11;company;3;customer;K3;name;Firma 3;"=HYPERLINK(""x"")"\n'
        b"1;12;company;4;customer;K4;name;Firma 4;@SUM(A1)\n"
        b"1;13;company;5;customer;K5;name;Firma 5;+SUM(A1)\n"
        b"1;14;company;6;customer;K6;name;Firma 6;-2+3\n"
        b"1;15;company;7;customer;K7;name;Firma 7;-cmd\n"
        b"1;16;company;8;customer;K8;name;Firma 8;-5\n")

    (path,) = export_reports(values_ws, "xlsx", tmp_path / "r.xlsx")
    book = load_workbook(path)
    for sheet, column in (("links", "C"), ("erp_updates", "I")):
        cells = [c for (c,) in book[sheet][f"{column}2:{column}9"]]
        assert [c.value for c in cells] == SPREADSHEET_VALUES, sheet
        assert {c.data_type for c in cells} == {"s"}, sheet  # text, never a formula
    calamine = CalamineWorkbook.from_path(str(path))
    for sheet, index in (("links", 2), ("erp_updates", 8)):
        rows = calamine.get_sheet_by_name(sheet).to_python()
        assert [r[index] for r in rows[1:]] == SPREADSHEET_VALUES, sheet


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
    from erpdata.steward.reports import activity

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


# --- CSV for spreadsheets ------------------------------------------------------------------------


def test_csv_for_spreadsheets_has_a_bom_the_delimiter_and_decimal_commas_with_semicolons(
        ws: Workspace, tmp_path: Path) -> None:
    for folder, delimiter in (("comma", ","), ("semicolon", ";"), ("tab", "\t"), ("bar", "|")):
        export_reports(ws, "csv", tmp_path / folder, delimiter=delimiter)
    # UTF-8 with a BOM: Excel reads ø as ø
    assert (tmp_path / "comma" / "erp_updates.csv").read_bytes() == BOM + (
        "batch_id,action_id,kind,crm_id,erp_actor_type,erp_id,field,before,after\n"
        '1,4,company,4,customer,K9,name,Nordlys Energi AS,"=HYPERLINK(""http://x"")"\n'
        "1,4,company,4,customer,K9,postalcity,Bodø,Tromsø\n").encode()
    # semicolons: decimal commas in number columns ...
    assert (tmp_path / "semicolon" / "conflicts.csv").read_bytes() == BOM + (
        b"kind;crm_id;crm_name;erp_actor_type;erp_id;erp_name;probability;rank;link\n"
        b"company;2;Hansen & Co AS;customer;K1;Hansen & Co AS;0,97;1;True\n"
        b"company;3;Hansen og Co AS;customer;K1;Hansen & Co AS;0,96;1;False\n")
    # ... while text (ids, org numbers, the values of the change sets) is written as it is
    assert (tmp_path / "semicolon" / "crm_updates.csv").read_bytes() == BOM + (
        b"batch_id;action_id;kind;crm_id;field;before;after\n"
        b'1;3;company;4;name;Fjord Fisk AS;"=HYPERLINK(""http://x"")"\n'
        b"1;3;company;4;vatno;987654321;911111111\n")
    # any other delimiter keeps decimal points
    assert (tmp_path / "tab" / "conflicts.csv").read_bytes().splitlines()[1] == (
        b"company\t2\tHansen & Co AS\tcustomer\tK1\tHansen & Co AS\t0.97\t1\tTrue")
    assert (tmp_path / "bar" / "conflicts.csv").read_bytes().splitlines()[2] == (
        b"company|3|Hansen og Co AS|customer|K1|Hansen & Co AS|0.96|1|False")


def test_a_bad_delimiter_or_one_for_another_format_says_what_to_do(tmp_path: Path) -> None:
    with Workspace.open(tmp_path / "e.duckdb") as w:
        with pytest.raises(ErpdataError, match="unknown CSV delimiter ':': use one of ';', "
                                               "','"):
            export_reports(w, "csv", tmp_path / "x", delimiter=":")
        with pytest.raises(ErpdataError, match="a delimiter applies to CSV reports only, "
                                               "not to XLSX"):
            export_reports(w, "xlsx", tmp_path / "x.xlsx", delimiter=";")
    assert not (tmp_path / "x").exists() and not (tmp_path / "x.xlsx").exists()


def _countries(tmp_path: Path, crm: list[str], erp: list[str] | None = None) -> Path:
    """A workspace whose CRM (and ERP) companies are in these countries ("" = no country)."""
    path = tmp_path / "countries.duckdb"
    with Workspace.open(path) as w:
        for side, values in (("crm", crm), ("erp", erp or [])):
            if not values:
                continue
            head = "id;name;country\n" if side == "crm" else "id;type;name;country\n"
            rows = "".join(f"{i};" + ("customer;" if side == "erp" else "")
                           + f"Firma {i};{c}\n" for i, c in enumerate(values, 1))
            load_file(w, write_text(tmp_path / f"{side}.csv", head + rows), side=side,
                      kind="company")
    return path


@pytest.mark.parametrize(("crm", "erp", "country", "delimiter"), [
    (["Norge", "NO", "GB"], None, "NO", ";"),  # a name and a code are one country
    (["GB", "GB", "Tyskland"], ["DE", "DE", "DE"], "GB", ","),  # the CRM decides
    (["Deutschland", "FR"], None, "DE", ";"),  # a tie: first in the alphabet
    (["Nederland", "België", "GB"], None, "BE", ";"),
    (["", ""], ["NL"], "NL", ";"),  # no CRM country: the ERP's
    (["US", "Sverige", "USA"], None, "US", ","),
    (["", ""], None, None, ","),  # no country at all
])
def test_the_default_delimiter_follows_the_workspaces_country(
        tmp_path: Path, crm: list[str], erp: list[str] | None, country: str | None,
        delimiter: str) -> None:
    with Workspace.open(_countries(tmp_path, crm, erp)) as w:
        assert workspace_country(w) == country
        assert default_delimiter(w) == delimiter
        (_, unmatched, *_) = export_reports(w, "csv", tmp_path / "out")
        assert unmatched.read_bytes().startswith(BOM + f"kind{delimiter}crm_id{delimiter}"
                                                 .encode())


def test_the_command_line_takes_a_delimiter(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    path = str(_countries(tmp_path, ["Norge", "Sverige"]))

    def first_line(*options: str) -> bytes:
        out = tmp_path / f"out{len(options)}{options[-1] if options else ''}"
        assert main(["report", "--format", "csv", "--out", str(out), *options,
                     "--workspace", path]) == 0
        return (out / "unmatched_erp.csv").read_bytes().splitlines()[0]

    assert first_line() == BOM + b"kind;erp_actor_type;erp_id;erp_name"
    assert first_line("--delimiter", ",") == BOM + b"kind,erp_actor_type,erp_id,erp_name"
    assert first_line("--delimiter", "tab") == BOM + b"kind\terp_actor_type\terp_id\terp_name"
    capsys.readouterr()
    assert main(["report", "--format", "xlsx", "--out", str(tmp_path / "r.xlsx"),
                 "--delimiter", ";", "--workspace", path]) == 1
    assert "error: a delimiter applies to CSV reports only" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        main(["report", "--format", "csv", "--out", str(tmp_path / "x"), "--delimiter", ":",
              "--workspace", path])
    assert exit_.value.code == 2
    assert "unknown delimiter ':'" in capsys.readouterr().err


# --- XLSX: progress and Cancel --------------------------------------------------------------------


def test_the_xlsx_reports_progress_sheet_by_sheet(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("erpdata.steward.reports.XLSX_STEP", 1)  # a report after every row
    seen: list[tuple[str, float]] = []
    with Workspace.open(_countries(tmp_path, ["NO", "SE", "DK"], ["NO", "NO"])) as ws:
        export_reports(ws, "xlsx", tmp_path / "r.xlsx",
                       progress=lambda s, f: seen.append((s, f)))
        rows = sum(len(f) for f in build_reports(ws).values())
    assert rows == 5  # three unmatched CRM companies, two unmatched ERP ones
    stages = list(dict.fromkeys(s for s, _ in seen))
    assert stages == ["reading the reports", *(f"writing the sheet {n}" for n in REPORTS),
                      "saving the workbook"]
    fractions = [f for _, f in seen]
    assert fractions == sorted(fractions) and fractions[0] == 0.0 and fractions[-1] == 0.95
    assert len(seen) == 1 + len(REPORTS) + rows + 1
    assert load_workbook(tmp_path / "r.xlsx").sheetnames == list(REPORTS)


def test_a_cancelled_xlsx_writes_no_file(tmp_path: Path) -> None:
    cancel = threading.Event()

    def progress(stage: str, _fraction: float) -> None:
        if stage == "writing the sheet conflicts":
            cancel.set()  # Cancel pressed while the fourth sheet is written: it stops
            # before the fifth

    with Workspace.open(_countries(tmp_path, ["NO", "SE"])) as ws, pytest.raises(
            Cancelled, match="the XLSX report was cancelled while writing the sheet "
                             "crm_updates; nothing of it was written"):
        export_reports(ws, "xlsx", tmp_path / "r.xlsx", progress=progress, cancel=cancel)
    assert not (tmp_path / "r.xlsx").exists()


def test_the_activity_log_reads_in_plain_words(ws: Workspace) -> None:
    """Every row a sentence with the records' names and the fields' labels: no codes such as
    ``update_erp`` or ``supplier:L1``, no JSON (the steward's console, issue 15, item 5)."""
    from erpdata.roles import grant
    from erpdata.steward.reports import activity, activity_in_words
    from erpdata.steward.thresholds import save_thresholds

    save_thresholds(ws, "company", auto=0.95, review=0.6, user="kari")
    grant(ws, "ola", "steward", user="kari")
    rows, key = activity_in_words(ws, size=100)
    assert key is None and list(rows.columns) == ["When", "Who", "What", "Batch"]
    assert rows["What"].tolist() == [
        "gave ola the role steward",
        "changed the thresholds of the companies: the model's → auto 0.950, review 0.600",
        "new ERP supplier for CRM company 5 Zzyzx Quux",
        'linked CRM company 4 =HYPERLINK("http://x") → customer K9 =HYPERLINK("http://x")',
        "linked CRM company 1 Berg Bygg AB → supplier L1 Berg Bygg AB",
        'ERP record updated: ERP customer K9 =HYPERLINK("http://x") — City: Bodø → Tromsø',
        'ERP record updated: ERP customer K9 =HYPERLINK("http://x") — Name: Nordlys Energi AS '
        '→ =HYPERLINK("http://x")',
        'CRM record updated: CRM company 4 =HYPERLINK("http://x") — Org. no / VAT no: '
        "987654321 → 911111111",
        'CRM record updated: CRM company 4 =HYPERLINK("http://x") — Name: Fjord Fisk AS → '
        '=HYPERLINK("http://x")',
        "asked for a new ERP supplier for CRM company 5 Zzyzx Quux",
        'accepted the link CRM company 4 =HYPERLINK("http://x") → customer K9 '
        '=HYPERLINK("http://x")',
        "accepted the link CRM company 1 Berg Bygg AB → supplier L1 Berg Bygg AB"]
    # the same rows, in the same order, as the codes the scripts read
    codes, _ = activity(ws, size=100)
    assert rows["When"].tolist() == codes["logged_at"].tolist()
    assert rows["Who"].tolist() == codes["actor"].tolist()
