"""Benchmark: one workspace's first match run as the data grows to 10,000,000 companies per side:
time, peak memory and the disk it takes, DuckDB spilling to temporary folders.

Not a test. Run:  python bench/scale.py [--sizes 1000000,2000000,10000000] [--folder DIR]
                  [--write docs/BENCHMARKS.md]

Why: a steward's machine has a fixed memory (2 cores and 24 GB here), and an export does not
shrink to fit it. What must hold is that the run completes and that its memory grows far slower
than the data, what does not fit going to disk instead. For each size the demo workspace (seed
42) is built in a child process (kept in ``--folder`` and reused by the next call: building
10M per side takes about 15 minutes), then ``match_workspace`` matches its companies in a child
of its own, as ``erpdata match`` does. Reported per size: the run's wall time and its stages,
the child's peak RSS (``VmHWM``), the workspace file before and after, and the most disk its
spill folders held at once (sampled every half second: the workspace's ``.tmp`` folder and the
blocking connection's, which the child's ``TMPDIR`` puts under ``--folder``).

Demo exports above 1 GB are loaded with ``ERPDATA_MAX_LOAD_MB`` raised for the build, as the
load limit's own message says to.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from report import finish, machine, peak_mb, run_json_child

DEFAULT_SIZES = (1_000_000, 2_000_000, 10_000_000)
#: The stages of a first run, by the progress label each begins with.
STAGES = (("normalising", "normalise"), ("blocking", "block"), ("comparing", "compare"),
          ("estimating", "model"), ("assigning", "assign"), ("storing", "store"))


def _size_mb(path: Path) -> float:
    """Bytes under ``path`` (a file or a folder), in MB; 0 when it is not there."""
    if path.is_file():
        return path.stat().st_size / 1e6
    total = 0
    for root, _dirs, files in os.walk(path):
        for f in files:
            with contextlib.suppress(FileNotFoundError):  # a spill file removed meanwhile
                total += (Path(root) / f).stat().st_size
    return total / 1e6


def build_child(workspace: Path, size: int) -> dict[str, Any]:
    from erpdata import build_demo
    from erpdata.workspace import Workspace

    t = time.perf_counter()
    with Workspace.open(workspace) as ws:
        # Setup, not the measured run: at 10,000,000 per side, loading the demo's exports under
        # the workspace's 2 GB DuckDB cap (erpdata.workspace.MEMORY) runs out of memory in the
        # insert of the new rows (found 2026-12-06; docs/BENCHMARKS.md, "Matching at
        # 10,000,000"). The build gets DuckDB's own default (80% of the machine) instead.
        ws.con.execute("RESET memory_limit")
        build_demo(ws, size=size, seed=42)
    return {"seconds": time.perf_counter() - t, "peak_mb": round(peak_mb())}


def match_child(workspace: Path, spill: Path) -> dict[str, Any]:
    from erpdata.matching import match_workspace
    from erpdata.workspace import Workspace

    watched = [spill, workspace.with_name(workspace.name + ".tmp")]
    most = [0.0]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.5):
            most[0] = max(most[0], sum(_size_mb(p) for p in watched))

    stages: dict[str, float] = {}
    at = [time.perf_counter(), ""]

    def progress(label: str, _fraction: float) -> None:
        stage = next((name for prefix, name in STAGES if label.startswith(prefix)), at[1])
        if stage != at[1]:
            now = time.perf_counter()
            if at[1]:
                stages[at[1]] = stages.get(at[1], 0.0) + now - at[0]
            at[:] = [now, stage]
            print(f"{stage} ({label})", file=sys.stderr, flush=True)

    before = _size_mb(workspace)
    threading.Thread(target=sample, daemon=True).start()
    t = time.perf_counter()
    with Workspace.open(workspace) as ws:
        result = match_workspace(ws, "company", progress=progress)
        ((suggested,),) = ws.con.execute(
            "SELECT count(*) FROM suggestions WHERE kind = 'company'").fetchall()
    seconds = time.perf_counter() - t
    stages[at[1]] = stages.get(at[1], 0.0) + time.perf_counter() - at[0]
    done.set()
    return {"seconds": seconds, "stages": stages, "peak_mb": round(peak_mb()),
            "workspace_mb_before": round(before), "workspace_mb": round(_size_mb(workspace)),
            "spill_mb": round(most[0]), "pairs": result.stats["pairs"],
            "suggestions": suggested}


def measure(size: int, folder: Path) -> dict[str, Any]:
    """Build the demo at ``size`` (unless ``folder`` holds it), then time its first match run
    on a copy (so the built workspace can be matched again by a later call)."""
    built = folder / f"demo_{size}.duckdb"
    row: dict[str, Any] = {"size": size}
    if not (folder / f"demo_{size}.built").exists():
        built.unlink(missing_ok=True)
        row["build"] = run_json_child([sys.executable, __file__, "--child", "build",
                                       "--workspace", str(built), "--size", str(size)],
                                      {"ERPDATA_MAX_LOAD_MB": "16384"})
        (folder / f"demo_{size}.built").write_text(json.dumps(row["build"]), encoding="utf-8")
    else:
        row["build"] = json.loads((folder / f"demo_{size}.built").read_text(encoding="utf-8"))
    run = folder / f"run_{size}.duckdb"
    shutil.copy(built, run)
    spill = folder / f"spill_{size}"
    spill.mkdir(exist_ok=True)
    try:
        row["match"] = run_json_child([sys.executable, __file__, "--child", "match",
                                       "--workspace", str(run), "--spill", str(spill)],
                                      {"TMPDIR": str(spill)})
    finally:
        run.unlink(missing_ok=True)
        shutil.rmtree(spill, ignore_errors=True)
    print(f"{size:,}: {row['match']}", file=sys.stderr, flush=True)
    return row


def render(rows: list[dict[str, Any]]) -> str:
    lines = [
        f"{machine()} Demo companies (seed 42), a workspace's first `match_workspace` run "
        "(every record normalised, blocked, compared), each in a process of its own; blocking "
        "capped at 1 GB, spilling to disk.",
        "",
        "| companies per side | s | normalise | block | compare | model | assign | store "
        "| peak RSS MB | spill MB at most | workspace MB (before → after) | candidate pairs "
        "| suggestions |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|",
    ]
    for r in rows:
        m = r["match"]
        stages = [f"{m['stages'].get(name, 0.0):.0f}" for _prefix, name in STAGES]
        lines.append(
            f"| {r['size']:,} | {m['seconds']:.0f} | " + " | ".join(stages)
            + f" | {m['peak_mb']:,} | {m['spill_mb']:,} | {m['workspace_mb_before']:,} → "
              f"{m['workspace_mb']:,} | {m['pairs']:,} | {m['suggestions']:,} |")
    builds = ", ".join(f"{r['size']:,}: {r['build']['seconds']:.0f} s, peak "
                       f"{r['build']['peak_mb']:,} MB" for r in rows)
    lines += ["", f"Building each demo workspace (not part of the run): {builds}."]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default=",".join(map(str, DEFAULT_SIZES)))
    ap.add_argument("--folder", type=Path, default=Path("/var/tmp/erpdata-scale"),
                    help="where the demo workspaces are built and kept, and the runs spill")
    ap.add_argument("--write", type=Path, help="update this Markdown file between the markers")
    ap.add_argument("--child", choices=("build", "match"), help=argparse.SUPPRESS)
    ap.add_argument("--workspace", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--size", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--spill", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child == "build":
        print(json.dumps(build_child(args.workspace, args.size)))
        return
    if args.child == "match":
        print(json.dumps(match_child(args.workspace, args.spill)))
        return
    args.folder.mkdir(parents=True, exist_ok=True)
    rows = [measure(int(s), args.folder) for s in args.sizes.split(",")]
    finish(render(rows), rows, json_path=None, write=args.write, section="scale")


if __name__ == "__main__":
    main()
