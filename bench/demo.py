"""Benchmark: build the demo workspace (generate + write exports + load) at a given size.

Not a test. Run:  python bench/demo.py [--size 1000000] [--seed 42] [--write docs/BENCHMARKS.md]

Times :func:`erpdata.demo.build_demo` in a temporary folder: the generate-and-write stage, each
of the six loads through ``erpdata.ingest.load.load_file``, and the total; reports the process's
peak RSS (``ru_maxrss``) after writing the exports and at the end, the size of the exports,
and prints a Markdown table (``--write`` puts it between the bench:demo markers of a file).
The contract (the issue): 1,000,000 companies per side in under 2 minutes on 2 cores, with a
peak below 4 GB.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import finish, machine


def peak_mb() -> float:
    """Peak resident memory of this process so far, in MB (Linux reports KB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024



def run(size: int, seed: int, folder: Path) -> dict[str, object]:
    """Build the demo workspace in ``folder``; return timings, memory and sizes."""
    from erpdata.demo import build_demo

    start = time.perf_counter()
    peaks: dict[str, float] = {}

    def progress(label: str, fraction: float) -> None:
        print(f"{time.perf_counter() - start:8.2f} s  {fraction:5.0%}  {label}", file=sys.stderr)
        if label.startswith("loading crm company"):
            peaks["after writing"] = peak_mb()

    summary = build_demo(folder / "demo.duckdb", size=size, seed=seed, progress=progress)
    peaks["end"] = peak_mb()
    files = [*summary.exports.files.values(), summary.exports.truth]
    return {
        "seconds": summary.seconds,
        "peaks": peaks,
        "export_mb": sum(f.stat().st_size for f in files) / 1e6,
        "workspace_mb": (folder / "demo.duckdb").stat().st_size / 1e6,
        "records": {f"{side} {kind}": summary.counts[side][kind]
                    for side in ("crm", "erp") for kind in ("company", "person", "project")},
    }


def render(size: int, result: dict[str, object]) -> str:
    seconds: dict[str, float] = result["seconds"]  # type: ignore[assignment]
    peaks: dict[str, float] = result["peaks"]  # type: ignore[assignment]
    records: dict[str, int] = result["records"]  # type: ignore[assignment]
    load = sum(v for k, v in seconds.items() if k.startswith("loading"))
    lines = [
        f"{machine()} "
        f"Records: {sum(records.values()):,} "
        f"({', '.join(f'{k} {v:,}' for k, v in records.items())}).",
        "",
        "| stage | seconds |",
        "|---|---:|",
        *(f"| {stage} | {s:.1f} |" for stage, s in seconds.items()),
        "",
        "| companies per side | generate + write s | load s | total s | peak RSS MB after "
        "writing | peak RSS MB | exports MB | workspace MB |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| {size:,} | {seconds['generate + write']:.1f} | {load:.1f} | {seconds['total']:.1f} "
        f"| {peaks.get('after writing', 0):,.0f} | {peaks['end']:,.0f} "
        f"| {result['export_mb']:,.0f} | {result['workspace_mb']:,.0f} |",
    ]
    return "\n".join(lines)



def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=1_000_000, help="CRM companies (default 1M)")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--write", type=Path, help="update this Markdown file between the markers")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="erpdata-bench-demo-") as tmp:
        result = run(args.size, args.seed, Path(tmp))
    finish(render(args.size, result), [], json_path=None, write=args.write, section="demo")


if __name__ == "__main__":
    main()
