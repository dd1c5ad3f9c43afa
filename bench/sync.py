"""Benchmark: Sync now against a real Tryton server, in batches against one call per action.

Not a test. Run:  python bench/sync.py [--actions 500] [--write docs/BENCHMARKS.md]

Starts its own trytond (scripts/tryton.sh, SQLite, 127.0.0.1) and, for each mode, resets it to
a pristine database, then times two syncs through the Tryton connector:

- creates: N CRM companies decided "create as customer", committed, synced (each create finds
  nothing under its CRM key, then makes the party);
- updates: the N parties loaded back from Tryton, a CRM export of the same companies with a new
  city matched against them, accepted and committed, synced (each update reads the party's
  current values for the conflict check, then writes).

"batched" sends 100 actions per connector call; "one call per action" sends one.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from report import machine, write_section

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "tryton.sh"
MODES = (("batched (100 per call)", 100), ("one call per action", 1))
CITIES = ("Oslo", "Bergen", "Trondheim", "Stavanger", "Tromsø", "Bodø", "Molde", "Hamar")


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """A trytond of our own, reset to its pristine database between modes."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.env = {**os.environ, "TRYTON_PORT": str(_port()), "TRYTON_DB": "erp",
                    "TRYTON_ADMIN_PASSWORD": "bench-only", "PYTHON": sys.executable}
        self._sh("init")
        self.url = ""

    def _sh(self, cmd: str) -> str:
        done = subprocess.run(["bash", str(SCRIPT), cmd, str(self.folder)], env=self.env,
                              capture_output=True, text=True, check=True,
                              stdin=subprocess.DEVNULL)
        return done.stdout.strip()

    def fresh(self) -> str:
        if self.url:
            self._sh("stop")
        for journal in ("erp.sqlite-wal", "erp.sqlite-shm"):  # else SQLite replays the changes
            (self.folder / journal).unlink(missing_ok=True)
        shutil.copy(self.folder / "pristine.sqlite", self.folder / "erp.sqlite")
        self.url = self._sh("start").splitlines()[-1]
        return self.url

    def stop(self) -> None:
        if self.url:
            self._sh("stop")


def _crm_file(path: Path, n: int, shift: int) -> Path:
    """N companies with valid-looking org numbers; ``shift`` moves every city."""
    from stdnum.no import orgnr

    numbers = (str(x) for x in range(910_000_000, 999_999_999) if orgnr.is_valid(str(x)))
    lines = ["id;name;vatno;postalcity"]
    for i, vat in zip(range(n), numbers, strict=False):
        lines.append(f"{i};Bench Company {i:05d} AS;{vat};{CITIES[(i + shift) % len(CITIES)]}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def run_mode(server: Server, folder: Path, n: int, chunk: int) -> dict[str, float]:
    from erpdata import Filter, commit, decide, decide_bulk, load_file, match_workspace
    from erpdata.live.connectors.tryton import TrytonConnector
    from erpdata.live.sync import pull, sync
    from erpdata.workspace import Workspace

    url = server.fresh()
    erp = TrytonConnector(url, "erp", "admin", "bench-only")
    erp.ensure_setup().unwrap()
    out = {}
    with Workspace.open(folder / f"creates_{chunk}.duckdb") as ws:
        load_file(ws, _crm_file(folder / "crm.csv", n, 0), side="crm", kind="company")
        for i in range(n):
            decide(ws, "company", "create", str(i), actor_type="customer",
                   create_values={"category": "Bench"})
        commit(ws)
        t = time.perf_counter()
        done = sync(ws, erp=erp, chunk=chunk)
        out["creates_s"] = time.perf_counter() - t
        assert done.statuses == {"ok": n}, done.statuses
    with Workspace.open(folder / f"updates_{chunk}.duckdb") as ws:
        pull(ws, "tryton", erp, "company")
        load_file(ws, _crm_file(folder / "crm_moved.csv", n, 1), side="crm", kind="company")
        match_workspace(ws, "company")
        for band in ("auto", "review"):
            decide_bulk(ws, "accept", Filter(kind="company", band=band))
        commit(ws)
        (updates,) = ws.con.execute("SELECT count(*) FROM actions WHERE action = 'update_erp'"
                                    ).fetchone() or (0,)
        t = time.perf_counter()
        done = sync(ws, erp=erp, chunk=chunk)
        out["updates_s"] = time.perf_counter() - t
        out["updates"] = updates
        assert done.statuses.get("ok") == updates, done.statuses
    erp.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--actions", type=int, default=500, help="creates (and updates) per mode")
    ap.add_argument("--write", type=Path)
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="erpdata-sync-") as tmp:
        server = Server(Path(tmp) / "tryton")
        try:
            for label, chunk in MODES:
                folder = Path(tmp) / f"mode_{chunk}"
                folder.mkdir()
                r = run_mode(server, folder, args.actions, chunk)
                print(label, r, file=sys.stderr, flush=True)
                rows.append((label, r))
        finally:
            server.stop()
    n = args.actions
    lines = [f"{machine()} trytond 8.2 on SQLite, 127.0.0.1, one session.", "",
             "| mode | creates | s | creates/s | updates | s | updates/s |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for label, r in rows:
        lines.append(f"| {label} | {n:,} | {r['creates_s']:.1f} | {n / r['creates_s']:.0f} "
                     f"| {int(r['updates']):,} | {r['updates_s']:.1f} | "
                     f"{r['updates'] / r['updates_s']:.0f} |")
    table = "\n".join(lines)
    print(table)
    if args.write:
        write_section(args.write, "sync", table)


if __name__ == "__main__":
    main()
