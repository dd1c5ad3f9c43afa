"""Benchmark: commit and undo of a batch of 100,000 links.

Not a test. Run:  python bench/commit.py [--links 100000] [--write docs/BENCHMARKS.md]

Builds a demo workspace large enough, records one accept decision per true company pair of the
demo truth (directly in the decisions table: the setup is not what is measured) plus a typed
pick on every hundredth pair, then times, each in this process: the dry run
(:func:`erpdata.steward.commit.commit` with ``dry_run=True``), the commit (one transaction: links,
workspace values, queued actions, audit) and the undo. The contract (issue 4): commit and undo
at 100k links well under a minute.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from report import machine, peak_mb, write_section

from erpdata.demo import build_demo
from erpdata.steward.commit import commit, undo
from erpdata.workspace import Workspace

#: Share of demo CRM companies that have a true ERP partner (matched entities, dups excluded).
MATCHED_SHARE = 0.8


def setup(ws: Workspace, links: int, folder: Path) -> int:
    """A demo workspace with ``links`` accepted true pairs; returns how many it got."""
    size = math.ceil(links / MATCHED_SHARE)
    summary = build_demo(ws, size=size, export_dir=folder / "exports")
    truth = pd.read_csv(summary.exports.truth, dtype=str)
    truth = truth[truth["kind"] == "company"]
    truth = truth.drop_duplicates("crm_id").drop_duplicates(["erp_actor_type", "erp_id"])
    truth = truth.head(links)
    now = datetime.now()
    decisions = pd.DataFrame({"kind": "company", "crm_id": truth["crm_id"],
                              "erp_actor_type": truth["erp_actor_type"],
                              "erp_id": truth["erp_id"], "decision": "accept",
                              "decided_by": "bench", "decided_at": now})
    picks = truth.iloc[::100]
    picks = pd.DataFrame({"kind": "company", "crm_id": picks["crm_id"],
                          "erp_actor_type": picks["erp_actor_type"], "erp_id": picks["erp_id"],
                          "erp_field": "name", "choice": "value", "value": "Picked AS",
                          "picked_by": "bench", "picked_at": now})
    with ws.transaction():
        ws.con.register("d", decisions)
        ws.con.execute("INSERT INTO decisions BY NAME SELECT * FROM d")
        ws.con.register("p", picks)
        ws.con.execute("INSERT INTO picks BY NAME SELECT * FROM p")
    return len(decisions)


def run(links: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="erpdata-commit-") as tmp:
        folder = Path(tmp)
        with Workspace.open(folder / "bench.duckdb") as ws:
            n = setup(ws, links, folder)
            out: dict[str, object] = {"links": n, "setup_peak_mb": round(peak_mb())}
            t = time.perf_counter()
            dry = commit(ws, dry_run=True)
            out["dry_run_s"] = time.perf_counter() - t
            t = time.perf_counter()
            done = commit(ws, user="bench")
            out["commit_s"] = time.perf_counter() - t
            out["counts"] = done.counts
            assert done.counts == dry.counts, (done.counts, dry.counts)
            t = time.perf_counter()
            restored = undo(ws, done.batch_id, user="bench")  # type: ignore[arg-type]
            out["undo_s"] = time.perf_counter() - t
            out["restored"] = restored
            out["peak_mb"] = round(peak_mb())
    return out


def render(r: dict[str, object]) -> str:
    counts = r["counts"]
    assert isinstance(counts, dict)
    restored = r["restored"]
    assert isinstance(restored, dict)
    return "\n".join([
        f"{machine()} Demo companies, seed 42; one accepted true pair per CRM record, a typed "
        "pick on every hundredth.",
        "",
        "| links | link actions | update_crm | update_erp | dry run s | commit s | undo s "
        "| values restored | peak MB |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| {r['links']:,} | {counts['link']:,} | {counts['update_crm']:,} | "
        f"{counts['update_erp']:,} | {r['dry_run_s']:.1f} | {r['commit_s']:.1f} | "
        f"{r['undo_s']:.1f} | {restored['fields']:,} | {r['peak_mb']:,} |",
    ])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--links", type=int, default=100_000)
    ap.add_argument("--write", type=Path, help="update this Markdown file between the markers")
    args = ap.parse_args()
    table = render(run(args.links))
    print(table)
    if args.write:
        write_section(args.write, "commit", table)


if __name__ == "__main__":
    main()
