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


def suggested(ws: Workspace, kind: str | None = None, *, runs: bool = False
              ) -> list[tuple[Any, ...]]:
    """The stored suggestions (of ``kind``) with their explanations, in a stable order: equal
    for two runs that suggest the same. ``runs``: with the runs that wrote each suggestion
    and explanation (equal only when nothing was written again)."""
    drop = "" if runs else " EXCLUDE (run_id)"
    extra = ", x.run_id" if runs else ""
    where = "" if kind is None else " WHERE s.kind = ?"
    return ws.cursor().execute(
        f"SELECT s.*{drop}, x.explanation{extra} FROM suggestions s "
        "LEFT JOIN explanations x USING (kind, crm_id, erp_actor_type, erp_id)"
        f"{where} ORDER BY ALL", [] if kind is None else [kind]).fetchall()


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
