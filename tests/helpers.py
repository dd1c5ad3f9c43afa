"""Helpers shared by tests: snapshots of a whole workspace, and files written in code."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from erpdata.workspace import Workspace


def snapshot(ws: Workspace) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every workspace table, in a stable order: equal snapshots = equal data."""
    con = ws.cursor()
    return {t: con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall() for t in ws.tables()}


def rows(ws: Workspace, sql: str) -> list[tuple[object, ...]]:
    """The rows ``sql`` returns in ``ws``."""
    return ws.cursor().execute(sql).fetchall()


def forget_checkpoint(ws: Workspace, kind: str = "company") -> None:
    """Drop the kind's match checkpoint (pairs, records, meta entry; a kept fit and its
    blocking statistics stay), so that the next run blocks and compares every record."""
    for table in (f"match_checkpoint_{kind}", f"match_checkpoint_{kind}_records"):
        ws.con.execute(f"DROP TABLE {table}")
    ws.con.execute("DELETE FROM meta WHERE key = ?", [f"match_checkpoint_{kind}"])


def write_text(path: Path, text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` exactly (no newline translation) in ``encoding``."""
    path.write_bytes(text.encode(encoding))
    return path


COMPANIES = (
    "id;name;vatno;postalzip;postalcity;country\n"
    "1;Hansen & Co AS;923609016;0150;Oslo;NO\n"
    "2;Berg Bygg AB;5560360793;111 22;Stockholm;SE\n"
    "3;De Vries B.V.;12345678;1012 AB;Amsterdam;NL\n"
)
