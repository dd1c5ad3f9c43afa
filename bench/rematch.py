"""Benchmark: what a match run costs when it is run again: unchanged, after stewards' decisions,
after a re-load that changed 1% of the CRM names, and after an interruption.

Not a test. Run:  python bench/rematch.py [--size 1000000] [--write docs/BENCHMARKS.md]

Why: stewards re-run matching after every batch of decisions and re-load their exports every
week; what matters is the time of those runs next to the first one. Each scenario runs on the
demo companies (seed 42) in a workspace file, through ``match_workspace`` as the CLI and the
Match page run it:

- first: a run on a workspace never matched (every record normalised, blocked, compared);
- unchanged: the same run again;
- after decisions: the auto band accepted, then a run (the model and links change; the
  records do not);
- re-load 1%: 1% of the CRM company names changed (a suffix, as ``bench/ingest.py`` changes
  them), then a run;
- interrupted + resumed: on a fresh copy, a run stopped once it starts comparing (Cancel), then
  the run that resumes it.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from report import finish, machine, peak_mb


def _timed(ws: Any, **kwargs: Any) -> tuple[float, dict[str, Any]]:
    from erpdata.matching import match_workspace

    t = time.perf_counter()
    result = match_workspace(ws, "company", **kwargs)
    return time.perf_counter() - t, result.stats


def run(size: int, folder: Path) -> dict[str, Any]:
    from erpdata import Filter, build_demo, decide_bulk
    from erpdata.progress import Cancelled
    from erpdata.workspace import Workspace

    base = folder / "base.duckdb"
    with Workspace.open(base) as ws:
        build_demo(ws, size=size, seed=42)
    shutil.copy(base, folder / "fresh.duckdb")
    out: dict[str, Any] = {}
    with Workspace.open(base) as ws:
        out["first"], stats = _timed(ws)
        out["pairs"] = stats["pairs"]
        out["unchanged"], _ = _timed(ws)
        decide_bulk(ws, "accept", Filter(kind="company", band="auto"))
        out["after decisions"], _ = _timed(ws)
        ws.con.execute("UPDATE crm_company SET name = name || ' (ny)' "
                       "WHERE hash(id) % 100 = 7")
        out["re-load 1%"], stats = _timed(ws)
        out["levels reused"] = stats["levels_reused"]
        out["explanations kept"] = stats["explanations_kept"]
        out["blocked again"] = stats.get("blocked_again")
        out["refit"], _ = _timed(ws, refit=True)
    with Workspace.open(folder / "fresh.duckdb") as ws:
        stop = threading.Event()

        def press_cancel(stage: str, _fraction: float) -> None:
            if stage.startswith("comparing "):
                stop.set()

        t = time.perf_counter()
        try:
            _timed(ws, progress=press_cancel, cancel=stop)
        except Cancelled:
            out["until interrupted"] = time.perf_counter() - t
        out["resumed"], stats = _timed(ws)
        out["resumed from"] = stats["reused"]
    out["peak_mb"] = peak_mb()
    return out


def render(size: int, r: dict[str, Any]) -> str:
    first = r["first"]
    rows = [("first run", first), ("unchanged", r["unchanged"]),
            ("after decisions (auto band accepted)", r["after decisions"]),
            ("re-load: 1% of CRM names changed", r["re-load 1%"]),
            ("... then learnt anew (`--refit`)", r["refit"]),
            ("interrupted once comparing began", r["until interrupted"]),
            ("... resumed", r["resumed"])]
    lines = [f"{machine()} Demo companies, {size:,} per side (seed 42), "
             f"{r['pairs']:,} candidate pairs; `match_workspace` on a workspace file; peak RSS "
             f"{r['peak_mb'] / 1024:.1f} GB.", "",
             "| run | s | % of the first run |", "|---|---:|---:|"]
    lines += [f"| {name} | {s:.1f} | {100 * s / first:.0f} |" for name, s in rows]
    kept, again = r.get("levels reused"), r.get("blocked again")
    if kept:
        blocked = (f"It blocked {again['records']:,} of the {again['of']:,} CRM records (the "
                   "new and changed ones) and carried the others' candidates over. "
                   if again else "It blocked every record. ")
        lines += ["", blocked + f"{kept['pairs']:,} of {kept['of']:,} candidate pairs "
                  "kept their stored levels (neither record changed); the rest were compared. "
                  "It scored with the model the first run learnt, and kept "
                  f"{r['explanations kept']:,} stored explanations."]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=1_000_000)
    ap.add_argument("--write", type=Path, help="update this Markdown file between the markers")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="erpdata-rematch-") as tmp:
        result = run(args.size, Path(tmp))
    print(result, file=sys.stderr)
    finish(render(args.size, result), [], json_path=None, write=args.write, section="rematch")


if __name__ == "__main__":
    main()
