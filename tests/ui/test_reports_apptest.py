"""The Reports page under AppTest: the CSV delimiter (its default by the workspace's country,
and the steward's choice) and the XLSX built as a background job (progress while it runs, the
page usable meanwhile, the download when done, a failure shown as an error)."""

from __future__ import annotations

import io
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

import erpdata
import pages.shared.ui as workbench_ui
from erpdata.errors import ErpdataError
from erpdata.ingest.load import load_file
from erpdata.steward.reports import REPORTS
from erpdata.workspace import Workspace
from tests.helpers import write_text
from tests.ui.conftest import finish_jobs

BOM = b"\xef\xbb\xbf"


def _workspace(tmp_path: Path, countries: list[str]) -> Path:
    """A workspace of CRM companies in these countries (nothing matched yet)."""
    path = tmp_path / "reports.duckdb"
    rows = "".join(f"{i};Firma {i} AS;{c}\n" for i, c in enumerate(countries, 1))
    with Workspace.open(path) as ws:
        load_file(ws, write_text(tmp_path / "crm.csv", "id;name;country\n" + rows),
                  side="crm", kind="company")
    return path


@pytest.fixture
def norwegian(tmp_path: Path) -> Path:
    return _workspace(tmp_path, ["Norge", "Norge", "Sverige"])


def _downloads(at: Any) -> list[str]:
    return sorted(b.proto.label for b in at.get("download_button"))


def test_the_csv_delimiter_defaults_to_semicolon_in_norway_and_can_be_changed(
        norwegian: Path, open_page: Callable[..., Any]) -> None:
    at = open_page(norwegian, "reports")
    choice = at.selectbox(key="csv_delimiter")
    assert choice.value == ";"
    assert any(c.value == "Default: semicolon ( ; ), since most of the workspace's companies "
               "are in NO." for c in at.caption)
    at.button(key="build_csv").click().run()
    assert not at.exception
    name, data = at.session_state["report_csv"]
    assert name == "links.csv"
    assert data == BOM + b"kind;crm_id;crm_name;erp_actor_type;erp_id;erp_name;probability;" \
                         b"batch_id;committed_by;committed_at\n"
    assert _downloads(at) == ["Download links.csv"]
    # another delimiter: the file built with the old one is no longer offered
    at.selectbox(key="csv_delimiter").set_value(",").run()
    assert _downloads(at) == []
    at.button(key="build_csv").click().run()
    assert at.session_state["report_csv"][1].startswith(BOM + b"kind,crm_id,crm_name,")


def test_the_csv_delimiter_defaults_to_comma_elsewhere(tmp_path: Path,
                                                       open_page: Callable[..., Any]) -> None:
    at = open_page(_workspace(tmp_path, ["GB", "GB", "Norge"]), "reports")
    assert at.selectbox(key="csv_delimiter").value == ","
    at.button(key="build_csv").click().run()
    assert at.session_state["report_csv"][1].startswith(BOM + b"kind,crm_id,")


def test_the_xlsx_is_built_as_a_job_and_offered_when_done(
        norwegian: Path, open_page: Callable[..., Any], monkeypatch: pytest.MonkeyPatch) -> None:
    release = threading.Event()
    real = erpdata.export_reports

    def held(*args: Any, **kwargs: Any) -> list[Path]:
        kwargs["progress"]("reading the reports", 0.0)
        assert release.wait(30), "the test never released the build"
        return real(*args, **kwargs)

    monkeypatch.setattr(erpdata, "export_reports", held)
    at = open_page(norwegian, "reports")
    assert _downloads(at) == []
    at.button(key="build_xlsx").click().run()
    # the page came back while the build runs: a progress bar, the button disabled
    assert not at.exception
    (bar,) = at.get("progress")
    assert bar.proto.text == "Building the XLSX report: reading the reports"
    assert at.button(key="build_xlsx").disabled
    at.toggle(key="activity_show").set_value(True).run()  # the rest of the page still works
    assert not at.exception and at.get("progress")
    release.set()
    finish_jobs(at)
    assert not at.exception and not at.get("progress")
    assert _downloads(at) == ["Download reports.xlsx"]
    assert not at.button(key="build_xlsx").disabled
    assert any(c.value.startswith("Built at ") and c.value.endswith(" by tester.")
               for c in at.caption)
    # the bytes offered are the workbook (AppTest shows a download's label, not its data)
    file_name, data, _ = workbench_ui.job("report_xlsx").result
    assert file_name == "reports.xlsx"
    assert load_workbook(io.BytesIO(data)).sheetnames == list(REPORTS)


def test_a_failed_xlsx_build_is_shown_as_an_error(norwegian: Path,
                                                  open_page: Callable[..., Any],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    def failing(*_args: Any, **_kwargs: Any) -> list[Path]:
        raise ErpdataError("reports.xlsx: no space left on the disk")

    monkeypatch.setattr(erpdata, "export_reports", failing)
    at = open_page(norwegian, "reports")
    at.button(key="build_xlsx").click().run()
    finish_jobs(at)
    assert [e.value for e in at.error] == ["reports.xlsx: no space left on the disk"]
    assert _downloads(at) == [] and not at.success
