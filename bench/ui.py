"""Benchmark: how long each workbench page takes to run (AppTest) at 1k and at 1M records.

Not a test. Run:  python bench/ui.py [--sizes 1000,1000000] [--write docs/BENCHMARKS.md]

For each size: a demo workspace of that many CRM companies, companies matched, the auto band
accepted; then every page is run under Streamlit's AppTest (no browser) three times and the
median time of a run is reported. The contract (issue 5): at 1M records per side every page
stays within 2x of its time at 1k (paging and filters in DuckDB, one page of rows to the
browser).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from report import machine, write_section

ROOT = Path(__file__).resolve().parent.parent

PAGES = ["overview", "load", "match", "review", "connect", "commit", "reports", "settings"]


def prepare(size: int, folder: Path) -> Path:
    from erpdata import Filter, build_demo, decide_bulk, match_workspace
    from erpdata.workspace import Workspace

    path = folder / f"ui_{size}.duckdb"
    with Workspace.open(path) as ws:
        build_demo(ws, size=size, export_dir=folder / f"exports_{size}")
        match_workspace(ws, "company")
        decide_bulk(ws, "accept", Filter(band="auto"))
    return path


def time_pages(path: Path, runs: int = 3) -> dict[str, float]:
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    os.environ["ERPDATA_WORKSPACE"] = str(path)
    out = {}
    for page in PAGES:
        times = []
        for _ in range(runs):
            st.cache_resource.clear()
            at = AppTest.from_file(str(ROOT / "workbench.py"), default_timeout=600).run()
            t = time.perf_counter()
            at.switch_page(f"pages/{page}.py").run()
            times.append(time.perf_counter() - t)
            if at.exception:
                raise SystemExit(f"{page}: {at.exception[0].value}")
        out[page] = statistics.median(times)
    st.cache_resource.clear()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000,1000000")
    ap.add_argument("--write", type=Path)
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    results = {}
    with tempfile.TemporaryDirectory(prefix="erpdata-ui-") as tmp:
        for size in sizes:
            path = prepare(size, Path(tmp))
            results[size] = time_pages(path)
            print(size, results[size], file=sys.stderr, flush=True)
    small, large = sizes[0], sizes[-1]
    lines = [f"{machine()} Median of 3 AppTest runs of each page (switching to it), demo "
             "companies matched and the auto band accepted.", "",
             "| page | " + " | ".join(f"{s:,} per side s" for s in sizes) + " | ratio |",
             "|---|" + "---:|" * (len(sizes) + 1)]
    for page in PAGES:
        ratio = results[large][page] / max(results[small][page], 1e-9)
        lines.append(f"| {page} | " + " | ".join(f"{results[s][page]:.2f}" for s in sizes)
                     + f" | {ratio:.1f} |")
    table = "\n".join(lines)
    print(table)
    if args.write:
        write_section(args.write, "ui", table)


if __name__ == "__main__":
    main()
