"""Fixtures shared by all tests. Everything is built in code, in a temporary folder.

- ``write_csv``: write a small CSV file from rows.
- ``workspace_factory``: build a closed workspace file from a list of loads.
- ``small_workspace``: a workspace with every side and kind, two links, one missing record;
  its exact counts are :data:`SMALL_COUNTS` (the UI and CLI tests assert them).

Add fixtures for one area in that area's own conftest or test module; put only what several
areas share here.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from erpdata.ingest.load import load_file
from erpdata.workspace import Workspace
from tests.tryton_server import (  # noqa: F401  (fixtures for every test folder)
    token,
    tryton,
    tryton_first_setup,
    tryton_fresh,
    tryton_fresh_home,
    tryton_raw,
    tryton_server,
)

WriteCsv = Callable[..., Path]


def write_csv_file(path: Path, rows: Sequence[Sequence[Any]], *, delimiter: str = ",",
                   encoding: str = "utf-8") -> Path:
    """Write ``rows`` (the first one is the header) as a CSV file at ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding=encoding) as f:
        csv.writer(f, delimiter=delimiter).writerows(rows)
    return path


@pytest.fixture
def write_csv(tmp_path: Path) -> WriteCsv:
    """``write_csv("crm_company.csv", [["id", "name"], ["1", "Acme AS"]])`` -> its path."""

    def write(name: str, rows: Sequence[Sequence[Any]], **kwargs: Any) -> Path:
        return write_csv_file(tmp_path / "files" / name, rows, **kwargs)

    return write


@dataclass
class Load:
    """One load of a workspace fixture: ``load_file(ws, file, side=..., kind=..., **options)``."""

    side: str
    kind: str
    rows: Sequence[Sequence[Any]]
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Link:
    """A committed link to insert directly (until the commit engine exists)."""

    kind: str
    crm_id: str
    erp_actor_type: str
    erp_id: str


def build_workspace(path: Path, loads: Sequence[Load], links: Sequence[Link] = ()) -> Path:
    """Build a workspace at ``path`` from CSV loads (files written beside it), then close it."""
    files = path.with_name(path.stem + "_files")
    with Workspace.open(path) as ws:
        for i, load in enumerate(loads, start=1):
            f = write_csv_file(files / f"{i:02d}_{load.side}_{load.kind}.csv", load.rows)
            load_file(ws, f, side=load.side, kind=load.kind, user="fixture", **load.options)
        for link in links:
            ws.con.execute(
                "INSERT INTO links (kind, crm_id, erp_actor_type, erp_id, linked_by, linked_at) "
                "VALUES (?, ?, ?, ?, 'fixture', now()::TIMESTAMP)",
                [link.kind, link.crm_id, link.erp_actor_type, link.erp_id],
            )
    return path


@pytest.fixture
def workspace_factory(tmp_path: Path) -> Callable[..., Path]:
    """``workspace_factory([Load(...), ...], links=[...], name="ws.duckdb")`` -> closed file."""

    def make(loads: Sequence[Load], links: Sequence[Link] = (), name: str = "ws.duckdb") -> Path:
        return build_workspace(tmp_path / name, loads, links)

    return make


_CRM_COMPANIES = [["id", "name", "vatno", "postalcity"],
                  ["1", "Hansen & Co AS", "923609016", "Oslo"],
                  ["2", "Berg Bygg AB", "5560360793", "Stockholm"],
                  ["3", "De Vries B.V.", "12345678", "Amsterdam"],
                  ["4", "Nordlys Energi AS", "987654321", "Tromsø"],
                  ["5", "Kaffebrenneriet Øst", "911111111", "Bergen"],
                  ["6", "Gone Gmbh", "DE123456789", "Berlin"]]

#: The small workspace: loads, then two links; company 6 is missing from the second CRM export.
SMALL_LOADS = [
    Load("crm", "company", _CRM_COMPANIES),
    Load("crm", "company", _CRM_COMPANIES[:-1]),
    Load("crm", "person", [["id", "firstname", "lastname", "company_id"],
                           ["11", "Kari", "Hansen", "1"], ["12", "Ola", "Berg", "2"],
                           ["13", "Anna", "de Vries", "3"], ["14", "Per", "Lund", "4"]]),
    Load("crm", "project", [["id", "name", "company_id"],
                            ["21", "New office", "1"], ["22", "Solar roof", "4"]]),
    Load("erp", "company", [["id", "name", "actor_type"],
                            ["K1", "Hansen & Co", "customer"], ["K2", "Berg Bygg", "customer"],
                            ["K3", "De Vries", "customer"], ["K4", "Fjord Fisk", "customer"],
                            ["L1", "Berg Bygg AB", "supplier"], ["L2", "Papir AS", "supplier"],
                            ["L3", "Lys og Lamper", "supplier"]]),
    Load("erp", "person", [["id", "firstname", "lastname", "parent_key"],
                           ["P1", "Kari", "Hansen", "K1"], ["P2", "Ola", "Berg", "K2"],
                           ["P3", "Anna", "Vries", "K3"]]),
    Load("erp", "project", [["id", "name", "parent_key"], ["PR1", "New office", "K1"]]),
]
SMALL_LINKS = [Link("company", "1", "customer", "K1"), Link("company", "2", "supplier", "L1"),
               Link("person", "11", "person", "P1")]

#: Exact counts of ``small_workspace`` (the ``erpdata status --json`` contract keys).
SMALL_COUNTS = {
    "crm": {"company": 5, "person": 4, "project": 2},
    "erp": {"company": 7, "person": 3, "project": 1},
    "missing": {"crm": {"company": 1, "person": 0, "project": 0},
                "erp": {"company": 0, "person": 0, "project": 0}},
    "links": {"company": 2, "person": 1, "project": 0},
    "linked_share": {"company": 0.4, "person": 0.25, "project": 0.0},
}


@pytest.fixture
def small_workspace(workspace_factory: Callable[..., Path]) -> Path:
    """A closed workspace file with the counts in :data:`SMALL_COUNTS`."""
    return workspace_factory(SMALL_LOADS, SMALL_LINKS, name="small.duckdb")


@pytest.fixture
def workspace_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[Path], None]]:
    """``workspace_env(path)``: point ``$ERPDATA_WORKSPACE`` at ``path`` for this test."""

    def point(path: Path) -> None:
        monkeypatch.setenv("ERPDATA_WORKSPACE", str(path))

    monkeypatch.delenv("ERPDATA_WORKSPACE", raising=False)
    yield point


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    """An empty workspace (modules that start from another one override this fixture)."""
    w = Workspace.open(tmp_path / "ws.duckdb")
    yield w
    w.close()


@pytest.fixture
def companies_ws(tmp_path: Path) -> Iterator[Workspace]:
    """Five CRM and four ERP companies, loaded and not yet matched: company 1 matches a
    customer and a supplier (the supplier better), companies 2 and 3 are one company entered
    twice (customer K1), 4 has no counterpart, 5 has almost no data."""
    w = Workspace.open(tmp_path / "m.duckdb")
    crm = tmp_path / "c.csv"
    crm.write_text("id;name;vatno;postalcity\n1;Berg Bygg AB;5560360793;Stockholm\n"
                   "2;Hansen & Co AS;923609016;Oslo\n3;Hansen og Co AS;923609016;Oslo\n"
                   "4;Fjord Fisk AS;987654321;Tromsø\n5;Zzyzx Quux;;\n", encoding="utf-8")
    erp = tmp_path / "e.csv"
    erp.write_text("id,type,name,vatno,postalcity\nK2,customer,Berg Bygg,,Stockholm\n"
                   "L1,supplier,Berg Bygg AB,SE556036079301,Stockholm\n"
                   "K1,customer,Hansen & Co AS,NO923609016MVA,Oslo\n"
                   "K9,customer,Nordlys Energi AS,911111111,Bodø\n", encoding="utf-8")
    load_file(w, crm, side="crm", kind="company")
    load_file(w, erp, side="erp", kind="company")
    yield w
    w.close()
